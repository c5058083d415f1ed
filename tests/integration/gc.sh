#!/bin/bash
# Storage hygiene end to end:
# - outputs never alias inputs: no output blob shares an inode with a base-layout blob or a
#   cache blob (unless --link-blobs), and flipping a byte of an output blob leaves the base
#   and the cache intact;
# - lade gc DIR after a replaced tag removes exactly the unreachable blobs (the old image and
#   its SBOM), keeps every blob a tag reaches and the SBOMs of live images, lade verify passes;
# - lade gc --cache --max-size / --older-than trim least recently used first, LADE_CACHE_MAX
#   applies it after a build, a gc racing a build never breaks it;
# - gc killed with SIGKILL at random points leaves a layout that verifies;
# - the wheel stat cache: an unchanged wheel is not re-read, a same-size rewrite is caught.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 stat find
ensure_base
export LC_ALL=C
unset LADE_NO_CACHE LADE_CACHE_MAX
export LADE_CACHE_DIR=$T/cache
RUNS=${GC_CRASH_RUNS:-25}

# A private copy of the base: if an output aliased it, flipping a byte must not hurt others.
cp -a "$BASE_OCI" "$T/base"
R=$T/recipe
hello_recipe "$R" "{oci: \"$T/base:$BASE_TAG\"}"
W=$R/wheels
mkdir -p "$W"
python3 - "$W" <<'PY' || bail_out "cannot make the fixture wheels"
import os, sys
from wheelkit import mw
mw.simple(sys.argv[1], "alpha", "1.0", {"alpha/__init__.py": b"A = 1\n"})
mw.simple(sys.argv[1], "bigpkg", "1.0", {"bigpkg/__init__.py": b"", "bigpkg/data.bin": os.urandom(3 << 20)})
PY
: >"$R/requirements.lock"
for f in "$W"/*.whl; do
	n=$(basename "$f" | cut -d- -f1)
	printf '%s==1.0 --hash=sha256:%s\n' "$n" "$(sha256_file "$f")" >>"$R/requirements.lock"
done
cat >>"$R/recipe.yaml" <<YAML
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: requirements.lock
  wheelhouse: [wheels/]
layers: {split-threshold: 1MiB}
YAML

inodes() { find "$1" -type f -printf '%i\n' | sort -u; }
shared() { comm -12 <(inodes "$1") <(inodes "$2") | wc -l; }
blobs_of() { find "$1/blobs/sha256" -type f ! -name '.tmp-*' | wc -l; }

# ---- outputs never alias inputs ----
run_lade build --explain-sandbox
like "$OUT" "ioctl +\\(if request is FICLONE\\)" "the sandbox allows reflinks (ioctl FICLONE)"
like "$OUT" "copy_file_range" "and copy_file_range"
run_lade build "$R/recipe.yaml" -o "$T/out" -q --sbom spdx
is "$RC" 0 "build with the cache" || diag "$ERR"
run_lade build "$R/recipe.yaml" -o "$T/out2" -q --sbom spdx
is "$RC" 0 "a second layout from the cache" || diag "$ERR"
base_layer=$(oci_layers "$T/base" "$BASE_TAG" | head -1)
check "the output has the base's first layer" test -f "$T/out/blobs/sha256/${base_layer#sha256:}"
is "$(shared "$T/out/blobs" "$T/base/blobs")" 0 "no output blob shares an inode with a base blob"
is "$(shared "$T/out/blobs" "$T/cache/blobs")" 0 "no output blob shares an inode with a cache blob"
is "$(shared "$T/out2/blobs" "$T/cache/blobs")" 0 "nor does a layout built from cache hits"
# flip a byte of the output's copy of the base layer and of a cached layer, in place
own=$(oci_layers "$T/out" 1.0 | tail -1)
python3 - "$T/out/blobs/sha256/${base_layer#sha256:}" "$T/out2/blobs/sha256/${own#sha256:}" <<'PY'
import sys
for p in sys.argv[1:]:
    with open(p, "r+b") as f:
        f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 0xff]))
PY
check "the base still verifies after the output was edited" "$LADE" verify "$T/base"
is "$(sha256_file "$T/cache/blobs/sha256/${own#sha256:}")" "${own#sha256:}" "the cache blob is intact"
run_lade build "$R/recipe.yaml" -o "$T/out3" -q
is "$RC" 0 "a later build from the same base and cache still works" || diag "$ERR"
run_lade build "$R/recipe.yaml" -o "$T/linked" -q --link-blobs
is "$RC" 0 "--link-blobs builds" || diag "$ERR"
check "--link-blobs: output blobs are hard links of the base's" test "$(shared "$T/linked/blobs" "$T/base/blobs")" -gt 0
check "--link-blobs: and of the cache's" test "$(shared "$T/linked/blobs" "$T/cache/blobs")" -gt 0
check "the edited layout is refused by verify (the test did edit it)" bash -c "! '$LADE' verify '$T/out' >/dev/null 2>&1"
rm -rf "$T/out" "$T/out2" "$T/out3" "$T/linked"

# ---- lade gc DIR after a replaced tag ----
L=$T/layout
run_lade build "$R/recipe.yaml" -o "$L" -q --sbom spdx
v1=$(oci_manifest_digest "$L" 1.0)
v1_app=$(oci_layers "$L" 1.0 | tail -1)
echo "# v2" >>"$R/app/hello.py"
run_lade build "$R/recipe.yaml" -o "$L" -q --sbom spdx --tag keep
echo "# v3" >>"$R/app/hello.py"
run_lade build "$R/recipe.yaml" -o "$L" -q --sbom spdx
is "$RC" 0 "three builds into one layout (1.0 replaced, keep)" || diag "$ERR"
before=$(blobs_of "$L")
refs_before=$(oci_refs "$L" | grep -v '^- ')
run_lade gc "$L" --dry-run --json
is "$RC" 0 "gc --dry-run" || diag "$ERR"
dry=$OUT
is "$(blobs_of "$L")" "$before" "--dry-run removes nothing"
is "$(json_get '.dry_run' <<<"$dry")" "true" "--json says dry_run"
n_dry=$(json_get '.blobs' <<<"$dry")
check "the dry run finds garbage" test "$n_dry" -ge 3
run_lade gc "$L" --json
is "$RC" 0 "gc" || diag "$ERR"
is "$(json_get '.blobs' <<<"$OUT")" "$n_dry" "gc removes what the dry run listed"
check "gc reports bytes freed" test "$(json_get '.bytes' <<<"$OUT")" -gt 0
is "$(json_get '.index_entries_dropped' <<<"$OUT")" 1 "the old image's SBOM entry left index.json"
is "$(blobs_of "$L")" "$((before - n_dry))" "that many blobs are gone"
check "the old manifest is gone" test ! -e "$L/blobs/sha256/${v1#sha256:}"
check "the old app layer is gone" test ! -e "$L/blobs/sha256/${v1_app#sha256:}"
is "$(oci_refs "$L" | grep -v '^- ')" "$refs_before" "the tags are unchanged"
check "lade verify passes after gc" "$LADE" verify "$L"
for ref in 1.0 keep; do
	missing=0
	for d in $(oci_manifest_digest "$L" $ref) $(oci_layers "$L" $ref); do
		[ -f "$L/blobs/sha256/${d#sha256:}" ] || missing=$((missing + 1))
	done
	is "$missing" 0 "every blob of $ref is still there"
done
is "$(python3 -c 'import json,sys; print(sum(1 for m in json.load(open(sys.argv[1]))["manifests"] if "annotations" not in m))' "$L/index.json")" 2 \
	"the SBOMs of the two live images are kept"
check "skopeo reads the collected layout" skopeo inspect "oci:$L:keep"
run_lade gc "$L" --json
is "$(json_get '.blobs' <<<"$OUT")" 0 "a second gc finds nothing"
run_lade gc "$T/no-such-layout"
is "$RC" 1 "gc of a missing layout fails"
check "and creates nothing" test ! -e "$T/no-such-layout"

# ---- gc killed at random points ----
G=$T/garbage
rm -rf "$G"
for i in 1 2 3 4 5 6; do
	python3 -c "import os,sys; open(sys.argv[1],'wb').write(os.urandom(1<<20))" "$R/app/data$i.bin"
	run_lade build "$R/recipe.yaml" -o "$G" -q --sbom spdx --no-cache
done
# and 3000 loose blobs, so that a kill can land in the middle of the removals
python3 - "$G/blobs/sha256" <<'PY'
import hashlib, os, sys
for i in range(3000):
    b = os.urandom(64)
    open(os.path.join(sys.argv[1], hashlib.sha256(b).hexdigest()), "wb").write(b)
PY
cp -a "$G" "$T/timing"
start=$(date +%s%N)
"$LADE" gc "$T/timing" -q
GC_MS=$((($(date +%s%N) - start) / 1000000))
[ "$GC_MS" -ge 2 ] || GC_MS=2
diag "gc: ${GC_MS} ms"
n_bad=0 n_partial=0
for run in $(seq 1 "$RUNS"); do
	rm -rf "$T/k"
	cp -a "$G" "$T/k"
	delay_ms=$((RANDOM % (GC_MS + GC_MS / 4)))
	"$LADE" gc "$T/k" -q >/dev/null 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	n=$(blobs_of "$T/k")
	[ "$n" -lt "$(blobs_of "$G")" ] && [ "$n" -gt "$(blobs_of "$T/timing")" ] && n_partial=$((n_partial + 1))
	if ! "$LADE" verify "$T/k" >"$T/v.out" 2>&1; then
		n_bad=$((n_bad + 1))
		diag "run $run (killed after $delay_ms ms): $(cat "$T/v.out")"
	fi
done
diag "$RUNS kills, $n_partial in the middle of the removals"
[ "$RUNS" -ge 20 ] && check "some kills landed in the middle of the removals" test "$n_partial" -gt 0
is "$n_bad" 0 "lade verify passes after every killed gc"
run_lade gc "$T/k" -q
check "and the next gc completes it" test "$(blobs_of "$T/k")" -eq "$(blobs_of "$T/timing")"

# ---- the layer cache ----
cache_bytes() { find "$T/cache/blobs" "$T/cache/layers" "$T/cache/bases" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
check "the cache holds more than 1.5 MB" test "$(cache_bytes)" -gt 1572864
run_lade gc --cache --dry-run --max-size 1MB --json
is "$RC" 0 "gc --cache --dry-run" || diag "$ERR"
c0=$(cache_bytes)
check "the dry run names entries" test "$(json_get '.entries' <<<"$OUT")" -gt 0
is "$(cache_bytes)" "$c0" "and removes nothing"

# --older-than: entries are "used" when written or hit; make all old, then hit the current ones
find "$T/cache/layers" -name '*.json' -exec touch -d '3 days ago' {} +
run_lade build "$R/recipe.yaml" -o "$T/hit" --json -q
own_reused=$(json_get '.images[0].layers[]' <<<"$OUT" | grep -F '"from_base": false' | grep -c '"reused": true')
own_total=$(json_get '.images[0].layers[]' <<<"$OUT" | grep -cF '"from_base": false')
check "the rebuild hits the cache" test "$own_reused" -gt 0
recent=$(find "$T/cache/layers" -name '*.json' -mmin -5 | wc -l)
is "$recent" "$own_total" "each hit refreshed its entry (mtime), each miss wrote one"
run_lade gc --cache --older-than 2d --json
is "$RC" 0 "gc --cache --older-than 2d" || diag "$ERR"
check "it removed the old entries" test "$(json_get '.entries' <<<"$OUT")" -gt 0
is "$(find "$T/cache/layers" -name '*.json' | wc -l)" "$recent" "only the entries used since are left"
run_lade build "$R/recipe.yaml" -o "$T/hit2" --json -q
is "$(json_get '.images[0].layers[]' <<<"$OUT" | grep -F '"from_base": false' | grep -c '"reused": true')" \
	"$own_total" "and they all hit"

run_lade gc --cache --max-size 1MB --json
is "$RC" 0 "gc --cache --max-size 1MB" || diag "$ERR"
check "the cache is at most 1.5 MB ($(cache_bytes) bytes)" test "$(cache_bytes)" -le 1572864
run_lade build "$R/recipe.yaml" -o "$T/after-trim" -q
is "$RC" 0 "a build after the trim works" || diag "$ERR"
check "and its layout verifies" "$LADE" verify "$T/after-trim"

LADE_CACHE_MAX=1MB run_lade build "$R/recipe.yaml" -o "$T/capped" -q --no-sandbox
echo "# v4" >>"$R/app/hello.py"
LADE_CACHE_MAX=1MB run_lade build "$R/recipe.yaml" -o "$T/capped" -q
is "$RC" 0 "a build with LADE_CACHE_MAX" || diag "$ERR"
check "LADE_CACHE_MAX=1MB leaves at most 1.5 MB ($(cache_bytes) bytes)" test "$(cache_bytes)" -le 1572864
LADE_CACHE_MAX=lots run_lade build "$R/recipe.yaml" -o "$T/capped" -q
like "$ERR" "LADE_CACHE_MAX 'lots' is not a size" "a bad LADE_CACHE_MAX is named"

# two processes: a gc racing builds never removes what a build uses
n_fail=0
for i in 1 2 3 4 5; do
	echo "# race $i" >>"$R/app/hello.py"
	"$LADE" build "$R/recipe.yaml" -o "$T/race$i" -q >"$T/race.out" 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 10))"
	"$LADE" gc --cache --max-size 0 -q 2>>"$T/race.out" || n_fail=$((n_fail + 1))
	wait "$pid" || { n_fail=$((n_fail + 1)); diag "$(cat "$T/race.out")"; }
	"$LADE" verify "$T/race$i" >/dev/null 2>&1 || { n_fail=$((n_fail + 1)); diag "race $i: verify failed"; }
done
is "$n_fail" 0 "5 builds racing gc --cache --max-size 0: all complete and verify"
# and gc waits for the lock a build holds
(
	flock -x 9
	sleep 2
) 9>"$T/cache/.lade.lock" &
sleep 0.3
start=$(date +%s%N)
run_lade gc --cache --max-size 0 -q
waited=$((($(date +%s%N) - start) / 1000000))
wait
is "$RC" 0 "gc --cache while another process holds the cache" || diag "$ERR"
check "it waited for the lock (${waited} ms)" test "$waited" -ge 1000

# ---- the wheel stat cache ----
rm -rf "$T/cache"
touch -d '1 hour ago' "$W"/*.whl
sleep 2.1 # the wheels' ctime must be 2 s old to be recorded (racily clean otherwise)
run_lade build "$R/recipe.yaml" -o "$T/sc" -q
is "$RC" 0 "a build records the wheel hashes" || diag "$ERR"
check "the stat cache names the wheels" grep -q "bigpkg-1.0-py3-none-any.whl" "$T/cache/stat-cache.json"
big=$(ls "$W"/bigpkg-*.whl)
# the same size, other bytes, the mtime put back: only ctime changed
python3 - "$big" <<'PY'
import os, sys
p = sys.argv[1]; st = os.stat(p)
with open(p, "r+b") as f:
    f.seek(st.st_size // 2); b = f.read(1); f.seek(st.st_size // 2); f.write(bytes([b[0] ^ 1]))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
run_lade build "$R/recipe.yaml" -o "$T/sc" -q
is "$RC" 1 "a same-size rewrite of a wheel (mtime kept) is hashed again and refused"
like "$ERR" "bigpkg-1.0-py3-none-any.whl has sha256:[0-9a-f]+ which is not among the locked hashes" "the error names the wheel"
done_testing
