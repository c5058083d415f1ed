#!/bin/bash
# lade needs no privileges: built by user 65534 (no groups), the image is byte-identical to
# the root build and its tar headers carry the recipe's owners, not the builder's.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd setpriv python3 tar
need_root "setpriv to user 65534"
ensure_base
as_nobody test -r "$BASE_OCI/index.json" ||
	skip_all "user 65534 cannot read the base at $BASE_OCI (a parent directory is not world-readable)"
as_nobody test -x "$LADE" || skip_all "user 65534 cannot run $LADE"

R=$T/hello
hello_recipe "$R"
chmod -R a+rX "$R"
mkdir -p "$T/out-nobody"
chown 65534:65534 "$T/out-nobody"

run_lade build "$R/recipe.yaml" -o "$T/out-root" -q
is "$RC" 0 "root build exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
droot=$(printed_digest "$OUT")

run_lade_as_nobody build "$R/recipe.yaml" -o "$T/out-nobody" -q
is "$RC" 0 "build as 65534:65534 exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
dnobody=$(printed_digest "$OUT")
like "$dnobody" '^sha256:[0-9a-f]{64}$' "the unprivileged build prints a digest"
is "$dnobody" "$droot" "the unprivileged build has the root build's digest"
check "index.json is byte-identical" cmp "$T/out-root/index.json" "$T/out-nobody/index.json"
check "every blob is byte-identical" diff -r "$T/out-root/blobs" "$T/out-nobody/blobs"
is "$(find "$T/out-nobody" ! -uid 65534 | wc -l)" 0 "everything in the output belongs to the builder (65534)"

# The app layer: every entry owned by 10001 (the recipe's owner), none by 65534 or root.
app=$(oci_layers "$T/out-nobody" "$dnobody" | tail -1)
tar --numeric-owner -tvzf "$(oci_blob "$T/out-nobody" "$app")" >"$T/app.list" 2>&1
like "$(cat "$T/app.list")" 'app/hello\.py' "the app layer holds app/hello.py"
is "$(awk '{print $2}' "$T/app.list" | sort -u)" "10001/10001" \
	"every entry of the app layer is 10001/10001 (tar --numeric-owner -tvzf)"

# Without an owner in the recipe, entries are 0:0 even when 65534 builds.
S=$T/scratch
mkdir -p "$S/files/sub"
printf 'hi\n' >"$S/files/sub/hi.txt"
cat >"$S/recipe.yaml" <<'YAML'
name: s
tag: s
base: {scratch: true}
files: [{src: files/, dst: /opt/files}]
YAML
chmod -R a+rX "$S"
mkdir -p "$T/out-s"
chown 65534:65534 "$T/out-s"
run_lade_as_nobody build "$S/recipe.yaml" -o "$T/out-s" --compression none -q
is "$RC" 0 "scratch build as 65534 exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
ds=$(printed_digest "$OUT")
layer=$(oci_blob "$T/out-s" "$(oci_layers "$T/out-s" "$ds" | head -1)")
tar --numeric-owner -tvf "$layer" >"$T/s.list" 2>&1
like "$(cat "$T/s.list")" 'opt/files/sub/hi\.txt' "the layer holds opt/files/sub/hi.txt"
is "$(awk '{print $2}' "$T/s.list" | sort -u)" "0/0" "without owner: every entry is 0/0, not the builder's 65534"
is "$(tar -tvf "$layer" 2>/dev/null | awk '{print $2}' | sort -u)" "0/0" \
	"no user or group names in the headers (tar shows numeric ids)"

done_testing
