#!/bin/bash
# Crash safety: `kill -9` at any point of `lade build` leaves the output layout as it was or
# complete. A layout holds a previous image (tag 1.0, other content) and a second tag (keep);
# a build of a recipe with a few MB of files and the fixture wheels (tag 1.0 again) is started
# CRASH_RUNS times (default 50) on a fresh copy of that layout and SIGKILLed after a random
# delay between 0 and 1.5x the time of a clean build. After each kill `lade verify` must pass
# and index.json must be byte-identical to the old one or to the one a complete build writes
# (which names the digest of a clean build into an empty layout). Temp files left by a killed
# run must be gone after the next complete build into that layout.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 sha256sum cmp
ensure_base
export LC_ALL=C
RUNS=${CRASH_RUNS:-50}

# Inputs: the fixture wheels and a lock of the ones without dependencies outside the set.
W=$T/wheels
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"
python3 - "$W" >"$T/wheels.lock" <<'PY' || bail_out "cannot write the lock"
import glob, hashlib, os, sys
for pat in ("datapkg-*.whl", "abipkg-*.whl", "nvidia_cublas*.whl", "nvidia_cudnn*.whl"):
    for w in sorted(glob.glob(os.path.join(sys.argv[1], pat))):
        name, version = os.path.basename(w).split("-")[:2]
        h = hashlib.sha256(open(w, "rb").read()).hexdigest()
        print(f"{name.replace('_', '-')}=={version} \\\n    --hash=sha256:{h}")
PY

# make_recipe DIR SEED TAG — a recipe whose app/ holds 6 MB of pseudo-random data from SEED.
make_recipe() {
	local dir=$1 seed=$2 tag=$3
	mkdir -p "$dir/app/data"
	python3 - "$dir/app/data" "$seed" <<'PY' || bail_out "cannot make the app data"
import os, random, sys
rng = random.Random(int(sys.argv[2]))
for i in range(6):
    with open(os.path.join(sys.argv[1], f"blob{i}.bin"), "wb") as f:
        f.write(rng.randbytes(1 << 20))
PY
	printf 'print("app %s")\n' "$seed" >"$dir/app/main.py"
	cat >"$dir/recipe.yaml" <<YAML
name: crash
tag: "$tag"
base: {oci: "$BASE_REF"}
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: $T/wheels.lock
  wheelhouse: [$W]
files:
  - {src: app/, dst: /app}
config:
  entrypoint: ["/opt/venv/bin/python", "/app/main.py"]
YAML
}
make_recipe "$T/old" 1 1.0
make_recipe "$T/new" 2 1.0

# The previous state: the old image as 1.0 and as keep.
PRISTINE=$T/pristine
run_lade build "$T/old/recipe.yaml" -o "$PRISTINE" -q
is "$RC" 0 "the old image builds" || diag "$ERR"
run_lade build "$T/old/recipe.yaml" -o "$PRISTINE" --tag keep -q
is "$RC" 0 "the old image is tagged keep too"
cp "$PRISTINE/index.json" "$T/old-index.json"

# The expectation: a clean build into an empty layout (digest and time), and the index a
# complete build into the old layout writes.
start=$(date +%s%N)
run_lade build "$T/new/recipe.yaml" -o "$T/clean" -q
end=$(date +%s%N)
is "$RC" 0 "the new image builds into an empty layout" || diag "$ERR"
NEW_DIGEST=$(printed_digest "$OUT")
like "$NEW_DIGEST" '^sha256:[0-9a-f]{64}$' "the build prints the new digest"
BUILD_MS=$(((end - start) / 1000000))
[ "$BUILD_MS" -ge 1 ] || BUILD_MS=1
diag "clean build: ${BUILD_MS} ms"

cp -a "$PRISTINE" "$T/complete"
run_lade build "$T/new/recipe.yaml" -o "$T/complete" -q
is "$RC" 0 "the new image builds into the old layout"
cp "$T/complete/index.json" "$T/new-index.json"
refs=$(oci_refs "$T/complete")
old_digest=$(json_get '.manifests[0].digest' "$T/old-index.json")
is "$refs" "1.0 $NEW_DIGEST"$'\n'"keep $old_digest" \
	"the complete index names the new image as 1.0 and keeps the old one as keep"

# The kills.
n_old=0 n_new=0 n_bad=0 n_temps=0 n_cleaned=0 n_verify_bad=0
L=$T/layout
for run in $(seq 1 "$RUNS"); do
	rm -rf "$L"
	cp -a "$PRISTINE" "$L"
	delay_ms=$((RANDOM % (BUILD_MS * 3 / 2 + 1)))
	"$LADE" build "$T/new/recipe.yaml" -o "$L" -q >/dev/null 2>"$T/kill.err" &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?

	run_lade verify "$L"
	if [ "$RC" -ne 0 ]; then
		n_verify_bad=$((n_verify_bad + 1))
		diag "run $run (killed after ${delay_ms} ms, rc $rc): lade verify failed: $ERR"
	fi
	if cmp -s "$L/index.json" "$T/old-index.json"; then
		n_old=$((n_old + 1))
	elif cmp -s "$L/index.json" "$T/new-index.json"; then
		n_new=$((n_new + 1))
	else
		n_bad=$((n_bad + 1))
		diag "run $run (killed after ${delay_ms} ms): index.json is neither the old nor the new one"
		diag "$(cat "$L/index.json" 2>&1)"
	fi

	temps=$(find "$L" -name '.tmp-*' | wc -l)
	if [ "$temps" -gt 0 ]; then
		n_temps=$((n_temps + 1))
		run_lade build "$T/new/recipe.yaml" -o "$L" -q
		left=$(find "$L" -name '.tmp-*')
		if [ "$RC" -eq 0 ] && [ -z "$left" ] && cmp -s "$L/index.json" "$T/new-index.json"; then
			n_cleaned=$((n_cleaned + 1))
		else
			diag "run $run: the next build (rc $RC) left: ${left:-nothing} $ERR"
		fi
	fi
done
diag "$RUNS kills: $n_old left the old index, $n_new the new one; $n_temps left temp files"
is "$n_verify_bad" 0 "lade verify passes after every kill"
is "$n_bad" 0 "index.json is always the old or the new one"
is "$n_cleaned" "$n_temps" "the next build removes the temp files of a killed one and completes"

# The kills must have hit the build itself, not only before or after it.
[ "$RUNS" -ge 20 ] && check "some kills left the old index" test "$n_old" -gt 0
[ "$RUNS" -ge 20 ] && check "some kills came after index.json" test "$n_new" -gt 0

# Temp files of every kind (a blob, index.json) in a layout are removed by the next build.
rm -rf "$L"
cp -a "$PRISTINE" "$L"
printf 'partial' >"$L/blobs/sha256/.tmp-lade-0123456789abcdef"
printf '{"partial' >"$L/.tmp-lade-XyZ123"
# ... but only lade's own temp names: a file lade cannot know it made is kept
printf 'mine' >"$L/blobs/sha256/.tmp-x"
run_lade build "$T/new/recipe.yaml" -o "$L" -q
is "$RC" 0 "a build into a layout with stale temp files succeeds"
is "$(find "$L" -name '.tmp-*')" "$L/blobs/sha256/.tmp-x" "the stale blob and index temp files are removed, .tmp-x is kept"
rm -f "$L/blobs/sha256/.tmp-x"
check "the layout verifies" "$LADE" verify "$L"

done_testing
