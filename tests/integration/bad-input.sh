#!/bin/bash
# Bad input fails cleanly: exit status 1, one line "lade: error: ..." on stderr naming the
# file:line:column or the blob, and no index.json written (or the previous one untouched).
# Usage errors exit 2.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3
ensure_base

# expect_error NAME REGEX OUTDIR -- ARGS...   (set AS_NOBODY=1 to run as 65534)
expect_error() {
	local name=$1 re=$2 outdir=$3
	shift 4
	if [ "${AS_NOBODY:-0}" = 1 ]; then
		run_lade_as_nobody "$@"
	else
		run_lade "$@"
	fi
	diag "$name: stderr: $ERR"
	is "$RC" 1 "$name: exit status 1"
	is "$(printf '%s\n' "$ERR" | wc -l)" 1 "$name: one line on stderr"
	like "$ERR" '^lade: error: ' "$name: the line starts with 'lade: error: '"
	like "$ERR" "$re" "$name: the message names what is wrong ($re)"
	if [ -n "$outdir" ]; then
		if [ -e "$outdir/index.json" ]; then
			not_ok "$name: no index.json in the output"
		else
			ok "$name: no index.json in the output"
		fi
	fi
}

recipe() { # DIR, recipe text on stdin
	mkdir -p "$1/app"
	printf 'print("hi")\n' >"$1/app/main.py"
	cat >"$1/recipe.yaml"
}

# 1. Malformed YAML: an unclosed flow sequence.
recipe "$T/malformed" <<YAML
name: bad
base: {oci: "$BASE_REF"}
files: [{src: app/, dst: /app}
config: {user: "1"}
YAML
expect_error "malformed yaml" 'recipe\.yaml:[0-9]+:[0-9]+: ' "$T/malformed/out" -- \
	build "$T/malformed/recipe.yaml" -o "$T/malformed/out" -q

# 2. An unknown key (a typo) at line 2, column 1.
recipe "$T/unknown" <<YAML
name: bad
nmae: typo
base: {oci: "$BASE_REF"}
YAML
expect_error "unknown key" 'recipe\.yaml:2:1: .*nmae' "$T/unknown/out" -- \
	build "$T/unknown/recipe.yaml" -o "$T/unknown/out" -q

# 3. A files item whose src does not exist (line 5).
recipe "$T/missing" <<YAML
name: bad
base: {oci: "$BASE_REF"}
files:
  - {src: app/, dst: /app}
  - {src: no-such-dir/, dst: /data}
YAML
expect_error "missing src" 'recipe\.yaml:5:[0-9]+: .*no-such-dir' "$T/missing/out" -- \
	build "$T/missing/recipe.yaml" -o "$T/missing/out" -q

# 4. The base's layer blob does not match its digest. First a good build into the same
# layout: the failed build must leave its index.json exactly as it was.
mkdir -p "$T/corrupt"
cp -r "$BASE_OCI" "$T/corrupt/base"
recipe "$T/corrupt" <<YAML
name: bad
tag: t
base: {oci: "base:$BASE_TAG"}
files: [{src: app/, dst: /app}]
YAML
run_lade build "$T/corrupt/recipe.yaml" -o "$T/corrupt/out" -q
is "$RC" 0 "corrupt base: the build before the corruption succeeds"
[ "$RC" -eq 0 ] || diag "$ERR"
cp "$T/corrupt/out/index.json" "$T/index.before" 2>/dev/null
layer=$(oci_layers "$T/corrupt/base" "$BASE_TAG" | head -1)
python3 - "$(oci_blob "$T/corrupt/base" "$layer")" <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(os.path.getsize(sys.argv[1]) // 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0xFF]))
PY
printf 'print("changed")\n' >"$T/corrupt/app/main.py"
expect_error "corrupt base blob" "$layer" "" -- \
	build "$T/corrupt/recipe.yaml" -o "$T/corrupt/out" -q
check "corrupt base blob: the previous index.json is unchanged" \
	cmp "$T/index.before" "$T/corrupt/out/index.json"

# 5. The output directory is not writable (0555; as 65534 since root ignores modes).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
	as_nobody test -r "$BASE_OCI/index.json" && as_nobody test -x "$LADE"; then
	recipe "$T/ro" <<YAML
name: bad
base: {oci: "$BASE_REF"}
files: [{src: app/, dst: /app}]
YAML
	chmod -R a+rX "$T/ro"
	mkdir -p "$T/ro/out"
	chmod 0555 "$T/ro/out"
	AS_NOBODY=1 expect_error "unwritable output" "$T/ro/out" "$T/ro/out" -- \
		build "$T/ro/recipe.yaml" -o "$T/ro/out" -q
	is "$(find "$T/ro/out" -mindepth 1 | wc -l)" 0 "unwritable output: nothing was created in it"
else
	ok "# SKIP unwritable output: needs root, setpriv and a base readable by 65534"
fi

# 6. The base layout has no such tag.
recipe "$T/notag" <<YAML
name: bad
base: {oci: "$BASE_OCI:no-such-tag"}
YAML
expect_error "base tag not found" 'no-such-tag' "$T/notag/out" -- \
	build "$T/notag/recipe.yaml" -o "$T/notag/out" -q

# 7. The recipe file does not exist.
expect_error "no recipe file" "$T/nothing/recipe\\.yaml" "$T/nothing/out" -- \
	build "$T/nothing/recipe.yaml" -o "$T/nothing/out" -q

# 7b. Symlinks inside an existing output layout are refused by name, never followed: nothing
# is created outside it, and the directory they point at (with a .tmp-x file) is untouched.
recipe "$T/links" <<YAML
name: bad
base: {oci: "$BASE_REF"}
files: [{src: app/, dst: /app}]
YAML
mkdir -p "$T/links/lock-out" "$T/links/victim" "$T/links/blobs-out" "$T/links/sha-out/blobs"
printf 'keep' >"$T/links/victim/keep"
printf 'tmp' >"$T/links/victim/.tmp-x"
ln -s "$T/links/created-by-lade" "$T/links/lock-out/.lade.lock"
expect_error "symlinked .lade.lock" "lock-out/\.lade\.lock is a symlink" "$T/links/lock-out" -- \
	build "$T/links/recipe.yaml" -o "$T/links/lock-out" -q
check "symlinked .lade.lock: its target was not created" test ! -e "$T/links/created-by-lade"
ln -s "$T/links/victim" "$T/links/blobs-out/blobs"
expect_error "symlinked blobs/" "blobs-out/blobs is a symlink" "$T/links/blobs-out" -- \
	build "$T/links/recipe.yaml" -o "$T/links/blobs-out" -q
ln -s "$T/links/victim" "$T/links/sha-out/blobs/sha256"
expect_error "symlinked blobs/sha256/" "sha-out/blobs/sha256 is a symlink" "$T/links/sha-out" -- \
	build "$T/links/recipe.yaml" -o "$T/links/sha-out" -q
is "$(cd "$T/links/victim" && ls -A | tr '\n' ' ')" ".tmp-x keep " \
	"the symlinks' target directory keeps exactly its files"
is "$(cat "$T/links/victim/.tmp-x")" "tmp" "its .tmp-x file is untouched"

# 8. Usage errors exit 2 with a message on stderr and nothing on stdout.
usage_error() {
	local name=$1
	shift
	run_lade "$@"
	is "$RC" 2 "usage: $name: exit status 2"
	like "$ERR" '^lade: ' "usage: $name: a message on stderr"
	is "$OUT" "" "usage: $name: nothing on stdout"
}
usage_error "build without a recipe" build
usage_error "an unknown option" build --no-such-option "$T/malformed/recipe.yaml"
usage_error "two recipes" build "$T/malformed/recipe.yaml" "$T/unknown/recipe.yaml"
usage_error "an unknown command" frobnicate
usage_error "bad --jobs" build -j 0 "$T/malformed/recipe.yaml"
run_lade --version
is "$RC" 0 "--version exits 0"
like "$OUT" '^lade [0-9]+\.[0-9]+\.[0-9]+' "--version prints the version"

done_testing
