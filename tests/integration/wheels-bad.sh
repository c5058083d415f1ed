#!/bin/bash
# Hostile wheels and broken locks fail the build cleanly: exit status 1, one line
# "lade: error: ..." on stderr naming the wheel file and the offending member (or the lock line),
# and the output layout keeps its previous index.json byte for byte (a fresh layout gets none).
# One lock per hostile fixture of tests/fixtures/make-wheels.py, then the lock rules: a hash that
# does not match, an unpinned line, no compatible wheel (the candidate and why), a dependency
# missing from the lock.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 cmp
ensure_base
export LC_ALL=C

W=$T/wheels
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"


# case_dir NAME WHEEL... — a recipe dir with those wheels in wheels/ and a lock of them.
case_dir() {
	local d=$T/case/$1 w
	shift
	mkdir -p "$d/wheels"
	for w in "$@"; do
		cp "$w" "$d/wheels/"
	done
	wheelkit lock "$d/requirements.lock" "$@" || bail_out "cannot write the lock of $d"
	cat >"$d/recipe.yaml" <<YAML
name: wheels-bad
tag: t
base: {oci: "$BASE_REF"}
python: {interpreter: $TEST_PY, version: "$TEST_PYVER", venv: /opt/venv, lock: requirements.lock, wheelhouse: [wheels/]}
YAML
	printf '%s' "$d"
}

# A good build first: every failing build below goes into the same layout and must leave its
# index.json exactly as it was.
LAYOUT=$T/layout
good=$(case_dir good "$W/datapkg-0.3-py3-none-any.whl")
run_lade build "$good/recipe.yaml" -o "$LAYOUT" -q
is "$RC" 0 "a good wheel builds into the shared layout"
[ "$RC" -eq 0 ] || { diag "$ERR"; bail_out "the good build fails: nothing to compare with"; }
cp "$LAYOUT/index.json" "$T/index.before"

# expect_fail NAME REGEX... -- RECIPE — lade build RECIPE into the shared layout fails with one
# error line matching every REGEX; the layout's index.json is unchanged and no temp blob is left.
# MULTILINE=1 allows more lines after the first (the select report: one line per candidate).
expect_fail() {
	local name=$1 re
	local -a res=()
	shift
	while [ "$1" != -- ]; do
		res+=("$1")
		shift
	done
	local recipe=$2
	run_lade build "$recipe" -o "$LAYOUT" -q
	is "$RC" 1 "$name: exit status 1"
	if [ "${MULTILINE:-0}" = 1 ]; then
		like "$ERR" '^lade: error: ' "$name: stderr starts with 'lade: error: '"
	else
		is "$(printf '%s\n' "$ERR" | wc -l)" 1 "$name: one line on stderr"
		like "$ERR" '^lade: error: ' "$name: the line starts with 'lade: error: '"
	fi
	[ -n "${SHOW_ERR:-}" ] && diag "$ERR"
	for re in "${res[@]}"; do
		like "$ERR" "$re" "$name: the message names $re"
	done
	check "$name: the layout's index.json is unchanged" cmp "$T/index.before" "$LAYOUT/index.json"
	local tmp
	tmp=$(find "$LAYOUT" -name '.tmp*' -print 2>/dev/null | head -5)
	is "$tmp" "" "$name: no temporary blob is left in the layout"
}

re_escape() { printf '%s' "$1" | sed -e 's/[][\.*^$+?(){}|/]/\\&/g'; }

# Each hostile rule: the wheel and a regex for the member (or item) the message must name.
declare -A MEMBER=(
	[traversal]='\.\./evil\.py'
	[absolute]='/etc/evil\.py'
	[backslash]='hostile\\evil\.py'
	[emptycomp]='hostile//evil\.py'
	[symlink]='hostile/link'
	[datakey]="'foo'|\\.data/foo"
	[badhash]='hostile/mod\.py.*sha256|sha256.*hostile/mod\.py'
	[unlisted]='hostile/mod\.py.*RECORD'
	[recordextra]='hostile/ghost\.py'
	[nohash]='hostile/mod\.py'
	[duplicate]='duplicate.*hostile/mod\.py|hostile/mod\.py.*duplicate'
	[wheelversion]='Wheel-Version'
	[entrypoint]="(entry|script).*bad|bad.*(entry|script|attr|module)"
	[method]='hostile/__init__\.py|hostile/mod\.py'
	[bomb]='hostile/zeros\.bin'
	[encrypted]='hostile/mod\.py.*encrypted'
	[localheader]='hostile/mod\.py'
	[nul]='hostile/nul'
	[truncated]='.'
	[overlap]='hostile/bomb-01\.bin.*overlaps member hostile/bomb-00\.bin'
	[localsize]='hostile/mod\.py.*local header'
	[localmethod]='hostile/mod\.py.*local header'
	[dirdata]='hostile/sub/.*directory entry carries data'
)
mapfile -t rules < <(printf '%s\n' "${!MEMBER[@]}" | sort)
for rule in "${rules[@]}"; do
	whl=$W/hostile_$rule-1.0-py3-none-any.whl
	if [ ! -f "$whl" ]; then
		not_ok "hostile $rule: make-wheels.py wrote $(basename "$whl")"
		continue
	fi
	d=$(case_dir "hostile-$rule" "$whl")
	expect_fail "hostile $rule" "wheel $(re_escape "$(basename "$whl")")" "${MEMBER[$rule]}" -- "$d/recipe.yaml"
done
# make-wheels.py may grow rules: each of them must be covered here.
for whl in "$W"/hostile_*.whl; do
	rule=${whl##*/hostile_}
	rule=${rule%%-*}
	[ -n "${MEMBER[$rule]:-}" ] || not_ok "hostile $rule: a new fixture this test does not check yet"
done

# A hostile wheel into a fresh layout: no index.json at all.
d=$T/case/hostile-traversal
run_lade build "$d/recipe.yaml" -o "$T/fresh" -q
is "$RC" 1 "hostile traversal, fresh layout: exit status 1"
if [ -e "$T/fresh/index.json" ]; then not_ok "hostile traversal, fresh layout: no index.json"; else ok "hostile traversal, fresh layout: no index.json"; fi
d=$T/case/hostile-badhash # fails late: while the layer is written
run_lade build "$d/recipe.yaml" -o "$T/fresh2" -q
is "$RC" 1 "hostile badhash, fresh layout: exit status 1"
if [ -e "$T/fresh2/index.json" ]; then not_ok "hostile badhash, fresh layout: no index.json"; else ok "hostile badhash, fresh layout: no index.json"; fi

# The per-wheel total comes from the environment (the recipe cannot raise it): datapkg's
# members add up to more than 100 bytes.
d=$(case_dir total "$W/datapkg-0.3-py3-none-any.whl")
LADE_WHEEL_MAX_BYTES=100 expect_fail "LADE_WHEEL_MAX_BYTES=100" 'wheel datapkg-0\.3-py3-none-any\.whl member ' \
	'over the per-wheel limit of 100 \(LADE_WHEEL_MAX_BYTES\)' -- "$d/recipe.yaml"
LADE_WHEEL_MAX_BYTES=lots expect_fail "LADE_WHEEL_MAX_BYTES=lots" 'LADE_WHEEL_MAX_BYTES=lots: not a size' \
	-- "$d/recipe.yaml"
LADE_WHEEL_MAX_BYTES=1MiB LADE_WHEEL_MAX_RATIO=0 run_lade build "$d/recipe.yaml" -o "$T/total-out" -q
is "$RC" 0 "datapkg builds under LADE_WHEEL_MAX_BYTES=1MiB"

# The lock: a hash that is not the wheel's (one hex digit changed).
d=$(case_dir lockhash "$W/datapkg-0.3-py3-none-any.whl")
python3 - "$d/requirements.lock" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
m = re.search(r"sha256:([0-9a-f])", s)
s = s[:m.start(1)] + ("0" if m.group(1) != "0" else "1") + s[m.end(1):]
open(p, "w").write(s)
PY
expect_fail "lock hash mismatch" 'requirements\.lock:1: ' 'datapkg-0\.3-py3-none-any\.whl' \
	'sha256:[0-9a-f]{64}' 'not among the locked hashes|locked' -- "$d/recipe.yaml"

# The lock: a requirement that is not pinned to one version.
d=$(case_dir unpinned "$W/datapkg-0.3-py3-none-any.whl")
sed -i 's/^datapkg==0\.3/datapkg>=0.3/' "$d/requirements.lock"
grep -q '^datapkg>=0.3' "$d/requirements.lock" || bail_out "cannot unpin $d/requirements.lock"
expect_fail "unpinned lock line" 'requirements\.lock:1: ' 'datapkg>=0\.3' 'pinned' -- "$d/recipe.yaml"

# No compatible wheel: the only candidate is for CPython 3.12 (the test Python is 3.11 or 3.13;
# and a musllinux one for a glibc base): the message lists each candidate and why it does not fit.
mkdir -p "$T/cp312"
python3 - "$T/cp312" <<'PY' || bail_out "cannot make the cp312 wheel"
import sys, wheelkit
wheelkit.mw.simple(sys.argv[1], "newpkg", "1.0", {"newpkg/__init__.py": b"NEW = 1\n"},
                   tag="cp312-cp312-manylinux_2_17_x86_64", purelib=False)
PY
d=$(case_dir cp312 "$T/cp312/newpkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
MULTILINE=1 expect_fail "no compatible wheel (cp312)" 'requirements\.lock:1: ' \
	'no compatible wheel for newpkg==1\.0' \
	'newpkg-1\.0-cp312-cp312-manylinux_2_17_x86_64\.whl.*(cp312|python|interpreter|tag)' -- "$d/recipe.yaml"
d=$(case_dir musl "$W/muslpkg-1.0-$TEST_CPTAG-$TEST_CPTAG-musllinux_1_1_x86_64.whl")
MULTILINE=1 expect_fail "no compatible wheel (musllinux on glibc)" 'requirements\.lock:1: ' \
	'no compatible wheel for muslpkg==1\.0' \
	"muslpkg-1\\.0-$TEST_CPTAG-$TEST_CPTAG-musllinux_1_1_x86_64\\.whl.*(musl|platform|libc|tag)" -- "$d/recipe.yaml"

# A dependency missing from the lock: purepkg requires requests>=2.0.
d=$(case_dir missingdep "$W/purepkg-1.0-py3-none-any.whl")
MULTILINE=1 expect_fail "missing dependency" 'requirements\.lock' 'purepkg' 'requests' -- "$d/recipe.yaml"
# ... and with the dependency locked the same lock builds (the check is not a false alarm).
mkdir -p "$T/requests"
python3 - "$T/requests" <<'PY' || bail_out "cannot make the requests stub wheel"
import sys, wheelkit
wheelkit.mw.simple(sys.argv[1], "requests", "2.31.0",
                   {"requests/__init__.py": b"__version__ = '2.31.0'\n"})
PY
d=$(case_dir withdep "$W/purepkg-1.0-py3-none-any.whl" "$T/requests/requests-2.31.0-py3-none-any.whl")
run_lade build "$d/recipe.yaml" -o "$T/withdep-out" -q
is "$RC" 0 "purepkg with requests in the lock builds"
[ "$RC" -eq 0 ] || diag "$ERR"

done_testing
