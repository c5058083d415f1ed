#!/bin/bash
# The three lock formats of python.lock, written by the real tools over one small real set
# (fastapi, uvicorn, pydantic and their dependencies: pure-Python wheels and pydantic-core's
# manylinux wheel, from the machine's wheel store or PyPI via `pip download`):
#   requirements.txt  `uv pip compile --generate-hashes`
#   pylock.toml       `pip lock` (PEP 751, pip >= 25.1)
#   uv.lock           `uv lock` of a tiny pyproject (a virtual project)
#   pylock.uv.toml    `uv export --format pylock.toml` of that uv.lock (and its requirements
#                     export, with markers)
# Each builds with lade to the same layer diff_ids. Then the failures a user meets: a wrong
# hash names the package, broken TOML names file:line:col, an sdist-only package is refused.
#
# The tools: $LADE_TOOLS_VENV/bin/{uv,pip} (.ci/tools-venv; default $LADE_SRCDIR/.venv) when
# there, else a venv under the build dir with uv and pip >= 25.1 from PyPI. Wheels are cached
# under the build dir.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 skopeo sha256sum
ensure_base
export LC_ALL=C.UTF-8

CACHE=$LADE_BUILDDIR/lock-formats
mkdir -p "$CACHE"
if [ -x "$LADE_TOOLS_VENV/bin/uv" ] && [ -x "$LADE_TOOLS_VENV/bin/pip" ] &&
	"$LADE_TOOLS_VENV/bin/pip" lock --help >/dev/null 2>&1; then
	TOOLS=$LADE_TOOLS_VENV/bin
else
	TOOLS=$CACHE/venv/bin
	if ! [ -x "$TOOLS/uv" ] || ! "$TOOLS/pip" lock --help >/dev/null 2>&1; then
		rm -rf "$CACHE/venv"
		python3 -m venv "$CACHE/venv" >"$T/venv.log" 2>&1 &&
			"$TOOLS/pip" install -q uv 'pip>=25.1' >>"$T/venv.log" 2>&1 ||
			bail_out "cannot make the tools venv: $(tail -5 "$T/venv.log")"
	fi
fi
diag "tools: $("$TOOLS/uv" --version), $("$TOOLS/pip" --version | cut -d' ' -f1-2)"

# The wheels: pinned by the download itself, for the test CPython on manylinux x86_64 (the base).
W=$CACHE/wheels
if ! compgen -G "$W/pydantic_core-*-$TEST_CPTAG-*manylinux*.whl" >/dev/null; then
	mkdir -p "$W"
	"$TOOLS/pip" download -q -d "$W" --only-binary=:all: --python-version "$TEST_PYVER" \
		--implementation cp --platform manylinux2014_x86_64 fastapi uvicorn pydantic \
		>"$T/download.log" 2>&1 || bail_out "pip download failed: $(grep -v WARNING "$T/download.log" | tail -5)"
fi
# a find-links page with #sha256= links: uv records hashes from it, as from an index (it
# writes none for a bare directory)
python3 - "$W" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
with open(os.path.join(d, "links.html"), "w") as f:
    for n in sorted(os.listdir(d)):
        if n.endswith(".whl"):
            h = hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest()
            f.write('<a href="%s#sha256=%s">%s</a>\n' % (n, h, n))
PY
diag "wheels: $(cd "$W" && ls *.whl | tr '\n' ' ')"

L=$T/locks
mkdir -p "$L/proj"
printf 'fastapi\nuvicorn\npydantic\n' >"$L/req.in"
# No pip configuration: only the wheels above. (uv's UV_NO_CONFIG would also drop the
# project's [tool.uv]; its indexes are switched off on the command line instead.)
tool() { env -u PIP_FIND_LINKS -u PIP_CONSTRAINT -u UV_INDEX_URL -u UV_EXTRA_INDEX_URL \
	-u UV_FIND_LINKS PIP_CONFIG_FILE=/dev/null UV_CACHE_DIR="$CACHE/uv-cache" "$@"; }

tool "$TOOLS/uv" pip compile -q --generate-hashes --no-index --find-links "$W" \
	--python-version "$TEST_PYVER" --python-platform x86_64-manylinux_2_28 "$L/req.in" \
	-o "$L/requirements.txt" >"$T/compile.log" 2>&1
is "$?" 0 "uv pip compile --generate-hashes writes requirements.txt" || diag "$(cat "$T/compile.log")"

tool "$TOOLS/pip" lock -q --no-index --find-links "$W" --only-binary :all: -r "$L/req.in" \
	-o "$L/pylock.toml" >"$T/piplock.log" 2>&1
is "$?" 0 "pip lock writes pylock.toml" || diag "$(grep -v WARNING "$T/piplock.log")"

cat >"$L/proj/pyproject.toml" <<TOML
[project]
name = "demo"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["fastapi", "uvicorn", "pydantic"]

[tool.uv]
package = false
no-index = true
find-links = ["file://$W/links.html"]
environments = ["sys_platform == 'linux'"]
TOML
(cd "$L/proj" && tool "$TOOLS/uv" lock -q --no-index) \
	>"$T/uvlock.log" 2>&1
is "$?" 0 "uv lock writes uv.lock" || diag "$(cat "$T/uvlock.log")"
like "$(grep '^source = ' "$L/proj/uv.lock" | sort -u | tr '\n' ' ')" \
	"^source = \\{ registry = \"$W/links.html\" \\} source = \\{ virtual = \"\\.\" \\} \$" \
	"uv.lock's packages come from the wheels' page only"
# uv's own exports of that uv.lock: PEP 751 (pylock.NAME.toml, recognised by its name) and
# requirements
(cd "$L/proj" && tool "$TOOLS/uv" export -q --format pylock.toml -o "$L/pylock.uv.toml" &&
	tool "$TOOLS/uv" export -q --format requirements-txt -o "$L/uv-export.txt") \
	>"$T/uvexport.log" 2>&1
is "$?" 0 "uv export writes pylock.uv.toml and a requirements file" || diag "$(cat "$T/uvexport.log")"

# the three tools locked the same packages (uv.lock: besides the virtual project)
sets=$(python3 - "$L" <<'PY'
import re, sys, tomllib
L = sys.argv[1]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
req = {norm(m[1]) + " " + m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", open(L + "/requirements.txt").read(), re.M)}
py = {norm(p["name"]) + " " + p["version"] for p in tomllib.load(open(L + "/pylock.toml", "rb"))["packages"]}
uv = {norm(p["name"]) + " " + p["version"] for p in tomllib.load(open(L + "/proj/uv.lock", "rb"))["package"]
      if "virtual" not in p.get("source", {})}
print(len(req), "same" if req == py == uv else "differ: %s | %s | %s" % (sorted(req), sorted(py), sorted(uv)))
PY
)
like "$sets" '^[0-9]+ same$' "requirements.txt, pylock.toml and uv.lock lock the same packages ($sets)"

# recipe DIR LOCK: a recipe installing LOCK from the wheels
recipe() {
	mkdir -p "$1"
	cat >"$1/recipe.yaml" <<YAML
name: lock-formats
tag: t
base: {oci: "$BASE_REF"}
python: {interpreter: $TEST_PY, version: "$TEST_PYVER", venv: /opt/venv, lock: $2, wheelhouse: [$W]}
YAML
}
diff_ids() {
	skopeo inspect --config "oci:$1:t" |
		python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["rootfs"]["diff_ids"]))'
}

declare -A IDS
for lock in "$L/requirements.txt" "$L/pylock.toml" "$L/proj/uv.lock" "$L/pylock.uv.toml" \
	"$L/uv-export.txt"; do
	name=${lock##*/}
	recipe "$T/b-$name" "$lock"
	# no layer cache: each lock installs its wheels itself
	run_lade build "$T/b-$name/recipe.yaml" -o "$T/b-$name/out" -q --no-cache
	is "$RC" 0 "lade builds from $name" || { diag "$ERR"; continue; }
	IDS[$name]=$(diff_ids "$T/b-$name/out")
done
like "${IDS[requirements.txt]}" 'sha256:' "the requirements build has layers"
is "${IDS[pylock.toml]}" "${IDS[requirements.txt]}" "pylock.toml gives the diff_ids of requirements.txt"
is "${IDS[uv.lock]}" "${IDS[requirements.txt]}" "uv.lock gives the diff_ids of requirements.txt"
is "${IDS[pylock.uv.toml]}" "${IDS[requirements.txt]}" \
	"uv export's pylock.uv.toml gives the diff_ids of requirements.txt"
is "${IDS[uv-export.txt]}" "${IDS[requirements.txt]}" \
	"uv export's requirements gives the diff_ids of requirements.txt"

# A wrong hash names the package (and the file at fault, with its place in the lock).
bad() { # NAME SED-SCRIPT: a copy of a lock with one change
	mkdir -p "$T/bad"
	sed "$2" "$1" >"$T/bad/${3:-${1##*/}}"
	printf '%s' "$T/bad/${3:-${1##*/}}"
}
expect_fail() { # DESC LOCK PATTERN...
	local desc=$1 lock=$2
	shift 2
	recipe "$T/f" "$lock"
	run_lade build "$T/f/recipe.yaml" -o "$T/f/out" -q
	check "$desc: lade refuses" [ "$RC" -ne 0 ]
	for p in "$@"; do
		like "$ERR" "$p" "$desc: the error says /$p/"
	done
}
h=$(python3 -c 'import sys,tomllib; d=tomllib.load(open(sys.argv[1],"rb")); print([p for p in d["packages"] if p["name"]=="pydantic-core"][0]["wheels"][0]["hashes"]["sha256"])' "$L/pylock.toml")
zero=0000000000000000000000000000000000000000000000000000000000000000
expect_fail "pylock.toml with a wrong hash" "$(bad "$L/pylock.toml" "s/$h/$zero/")" \
	'pylock\.toml:[0-9]+:[0-9]+: package pydantic-core: pydantic_core-.*\.whl has sha256:[0-9a-f]{64} which is not its locked hash'
expect_fail "uv.lock with a wrong hash" "$(bad "$L/proj/uv.lock" "s/$h/$zero/")" \
	'uv\.lock:[0-9]+:[0-9]+: package pydantic-core: pydantic_core-.*\.whl has sha256:'
expect_fail "requirements.txt with a wrong hash" "$(bad "$L/requirements.txt" "s/$h/$zero/")" \
	'requirements\.txt:[0-9]+: pydantic_core-.*\.whl has sha256:.* not among the locked hashes'

# Broken TOML: file:line:col of the fault. Line 1 of pylock.toml loses its closing quote; a
# table of uv.lock is defined twice.
expect_fail "pylock.toml with an unterminated string" "$(bad "$L/pylock.toml" '1s/"$//')" \
	'pylock\.toml:1:20: newline in a single-line string'
n=$(grep -n '^\[package.metadata\]' "$L/proj/uv.lock" | cut -d: -f1)
expect_fail "uv.lock with a table defined twice" "$(bad "$L/proj/uv.lock" "${n}p")" \
	"uv\\.lock:$((n + 1)):1: table \\[package.metadata\\] defined twice \\(first at $n:1\\)"

# An sdist-only package: lade never builds.
python3 - "$L/pylock.toml" "$T/bad/sdist/pylock.toml" <<'PY'
import os, re, sys
src = open(sys.argv[1]).read()
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
# h11 keeps its name and version, its wheel becomes an sdist
src = re.sub(r'(name = "h11"\nversion = "[^"]*"\n\n)\[\[packages\.wheels\]\]\n(.*?)'
             r'\[packages\.wheels\.hashes\]', r'\1[packages.sdist]\n\2[packages.sdist.hashes]',
             src, flags=re.S)
open(sys.argv[2], "w").write(src)
PY
grep -q '^\[packages.sdist\]' "$T/bad/sdist/pylock.toml" || bail_out "cannot make the sdist-only lock"
expect_fail "pylock.toml with an sdist-only package" "$T/bad/sdist/pylock.toml" \
	'pylock\.toml:[0-9]+:[0-9]+: lade never builds: h11 has no wheel'
python3 - "$L/proj/uv.lock" "$T/bad/sdist/uv.lock" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
# h11's wheels line becomes an sdist
src = re.sub(r'(name = "h11"\n(?:[^\[]*?\n)?)wheels = \[\n    \{ (path|url) = "[^"]*", (hash = "[^"]*") \},\n(?:    \{.*\n)*\]\n',
             r'\1sdist = { \2 = "h11-0.tar.gz", \3 }\n', src)
open(sys.argv[2], "w").write(src)
PY
grep -q '^sdist = { .*h11-0.tar.gz' "$T/bad/sdist/uv.lock" || { grep -n -A5 'name = "h11"' "$L/proj/uv.lock" >&2; bail_out "cannot make the sdist-only uv.lock"; }
expect_fail "uv.lock with an sdist-only package" "$T/bad/sdist/uv.lock" \
	'uv\.lock:[0-9]+:[0-9]+: lade never builds: h11 has no wheel \(only an sdist\)'

done_testing
