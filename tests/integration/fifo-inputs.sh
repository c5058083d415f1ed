#!/bin/bash
# Nothing an input names can hang lade: every input is opened O_NONBLOCK and fstat'ed as a
# regular file before it is read. A FIFO as the recipe, the lock, a wheel, a base layout's
# oci-layout, index.json, config or layer blob, an app file (as src and inside a copied
# directory) or a docker-archive: lade exits promptly (under `timeout`: a hang is exit 124)
# with one error line naming the file and saying what it is.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 mkfifo timeout
ensure_base

# expect_fifo NAME REGEX -- ARGS... — lade ARGS under a 60 s timeout fails (exit 1, not the
# 124 of a hang) with one line matching REGEX.
expect_fifo() {
	local name=$1 re=$2
	shift 3
	local e=$T/.err
	timeout 60 "$LADE" "$@" >/dev/null 2>"$e"
	local rc=$?
	ERR=$(cat "$e")
	diag "$name: stderr: $ERR"
	is "$rc" 1 "$name: exits 1 at once (124 would be a hang)"
	is "$(printf '%s\n' "$ERR" | wc -l)" 1 "$name: one line on stderr"
	like "$ERR" "$re" "$name: the message names the file ($re)"
}

# expect_verify NAME REGEX -- ARGS... — lade verify reports problems, one per line: exit 1 at once
# and one line matching REGEX.
expect_verify() {
	local name=$1 re=$2
	shift 3
	local o=$T/.out
	timeout 60 "$LADE" "$@" >"$o" 2>&1
	local rc=$?
	OUT=$(cat "$o")
	diag "$name: output: $OUT"
	is "$rc" 1 "$name: exits 1 at once (124 would be a hang)"
	like "$OUT" "$re" "$name: a problem names the file ($re)"
}

# A recipe dir with app/main.py and BASE as its base.
recipe() { # DIR BASE-YAML [EXTRA-YAML]
	mkdir -p "$1/app"
	printf 'print("hi")\n' >"$1/app/main.py"
	printf 'name: fifo\ntag: t\nbase: %s\nfiles: [{src: app/, dst: /app}]\n%s' "$2" "${3:-}" \
		>"$1/recipe.yaml"
}

# 1. The recipe itself.
mkdir -p "$T/r"
mkfifo "$T/r/recipe.yaml"
expect_fifo "recipe" 'recipe\.yaml is a FIFO, not a regular file' -- build "$T/r/recipe.yaml" -q

# 2. The lock.
W=$T/wheels
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"
PY="python: {interpreter: $TEST_PY, version: \"$TEST_PYVER\", venv: /opt/venv, lock: requirements.lock, wheelhouse: [wheels/]}"
recipe "$T/lock" "{oci: \"$BASE_REF\"}" "$PY"
mkdir -p "$T/lock/wheels"
cp "$W/datapkg-0.3-py3-none-any.whl" "$T/lock/wheels/"
mkfifo "$T/lock/requirements.lock"
expect_fifo "lock" 'requirements\.lock is a FIFO, not a regular file' -- \
	build "$T/lock/recipe.yaml" -o "$T/lock/out" -q

# 3. A wheel: a FIFO named like the locked wheel is no wheel (the lock's hash cannot match).
recipe "$T/wheel" "{oci: \"$BASE_REF\"}" "$PY"
mkdir -p "$T/wheel/wheels"
wheelkit lock "$T/wheel/requirements.lock" "$W/datapkg-0.3-py3-none-any.whl" ||
	bail_out "cannot write the lock"
mkfifo "$T/wheel/wheels/datapkg-0.3-py3-none-any.whl"
expect_fifo "wheel" 'datapkg' -- build "$T/wheel/recipe.yaml" -o "$T/wheel/out" -q

# 4. The base layout's files, one at a time in a copy of the base.
blob_of() { # LAYOUT WHAT(config|layer) — path of the base image's config / first layer
	python3 - "$1" "$2" "$BASE_TAG" <<'PY'
import json, sys
d, what, tag = sys.argv[1:4]
idx = json.load(open(f"{d}/index.json"))
m = next(m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
man = json.load(open(f"{d}/blobs/sha256/{m['digest'].split(':')[1]}"))
desc = man["config"] if what == "config" else man["layers"][0]
print(f"{d}/blobs/sha256/{desc['digest'].split(':')[1]}")
PY
}
for what in oci-layout index.json config layer; do
	d=$T/base-$what
	mkdir -p "$d"
	cp -r "$BASE_OCI" "$d/base"
	case $what in
	config | layer) f=$(blob_of "$d/base" "$what") ;;
	*) f=$d/base/$what ;;
	esac
	rm -f "$f"
	mkfifo "$f"
	recipe "$d" "{oci: \"base:$BASE_TAG\"}"
	expect_fifo "base $what" "$(basename "$f") is a FIFO, not a regular file" -- \
		build "$d/recipe.yaml" -o "$d/out" -q
	if [ "$what" = index.json ] || [ "$what" = config ]; then
		expect_verify "verify with a FIFO $what" "$(basename "$f") is a FIFO, not a regular file" -- \
			verify "$d/base"
		expect_fifo "inspect with a FIFO $what" "$(basename "$f") is a FIFO, not a regular file" -- \
			inspect "$d/base:$BASE_TAG"
	fi
done

# 5. App files: a FIFO as src, a FIFO inside a copied directory.
recipe "$T/app-src" "{oci: \"$BASE_REF\"}"
mkfifo "$T/app-src/pipe"
printf 'files: [{src: pipe, dst: /pipe}]\n' >>"$T/app-src/recipe.yaml"
sed -i '/^files: \[{src: app/d' "$T/app-src/recipe.yaml"
expect_fifo "app file src" 'pipe.* a FIFO' -- build "$T/app-src/recipe.yaml" -o "$T/app-src/out" -q
recipe "$T/app-dir" "{oci: \"$BASE_REF\"}"
mkfifo "$T/app-dir/app/pipe"
expect_fifo "FIFO in a copied directory" 'app/pipe.* a FIFO' -- \
	build "$T/app-dir/recipe.yaml" -o "$T/app-dir/out" -q

# 6. A docker-archive base, and as an IMAGE of inspect.
mkfifo "$T/base.tar"
recipe "$T/darchive" "{docker-archive: \"$T/base.tar\"}"
expect_fifo "docker-archive base" 'base\.tar is a FIFO, not a regular file' -- \
	build "$T/darchive/recipe.yaml" -o "$T/darchive/out" -q
expect_fifo "docker-archive image of inspect" 'base\.tar is a FIFO, not a regular file' -- \
	inspect "docker-archive:$T/base.tar"

done_testing
