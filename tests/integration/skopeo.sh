#!/bin/bash
# lade's OCI output as skopeo sees it: recipes/hello on the Python base, digest, layers,
# merged config, copies to oci: and docker-archive:, and a zstd build.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd skopeo python3
ensure_base

R=$T/hello
hello_recipe "$R"
run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "lade build hello exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
digest=$(printed_digest "$OUT")
like "$OUT" "^sha256:[0-9a-f]{64} $T/out:1\\.0\$" "stdout is '<digest> <layout>:<tag>'"

check "skopeo inspect oci:out:1.0" skopeo inspect "oci:$T/out:1.0"
is "$(skopeo inspect --format '{{.Digest}}' "oci:$T/out:1.0")" "$digest" \
	"skopeo's manifest digest equals the one lade printed"
base_layers=$(skopeo_layers "oci:$BASE_REF")
is "$(skopeo_layers "oci:$T/out:1.0")" "$((base_layers + 1))" "layers = base layers + 1 (app files)"

# Base layers are reused as they are: the same digests, first, in order.
skopeo_layer_digests "oci:$BASE_REF" >"$T/base-layers"
skopeo_layer_digests "oci:$T/out:1.0" | sed -n "1,${base_layers}p" >"$T/out-layers"
like "$(cat "$T/base-layers")" '^sha256:[0-9a-f]{64}' "the base has layers"
check "the base layers come first, unchanged" cmp "$T/base-layers" "$T/out-layers"

skopeo inspect --config "oci:$T/out:1.0" >"$T/config.json"
cfg() { json_get "$1" "$T/config.json"; }
is "$(cfg .config.Env)" \
	'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "PYTHONUNBUFFERED=1"]' \
	"Env: the base's PATH and LANG, then PYTHONUNBUFFERED"
is "$(cfg .config.Entrypoint)" '["/usr/bin/python3", "/app/hello.py"]' "Entrypoint"
is "$(cfg .config.Cmd)" '["--port", "8080"]' "Cmd replaces the base's python3"
is "$(cfg .config.User)" '10001:10001' "User"
is "$(cfg .config.WorkingDir)" '/app' "WorkingDir"
is "$(cfg .config.ExposedPorts)" '{"8080/tcp": {}}' "ExposedPorts"
is "$(cfg .os)/$(cfg .architecture)" 'linux/amd64' "platform linux/amd64"
is "$(cfg '.rootfs.diff_ids|length')" "$((base_layers + 1))" "one diff_id per layer"

# The layer blobs really are what the manifest says (skopeo verifies digests on copy).
check "skopeo copy oci: -> oci:" skopeo copy --quiet "oci:$T/out:1.0" "oci:$T/copy:1.0"
is "$(skopeo inspect --format '{{.Digest}}' "oci:$T/copy:1.0")" "$digest" \
	"the copy keeps the manifest digest"
check "skopeo copy oci: -> docker-archive:" \
	skopeo copy --quiet "oci:$T/out:1.0" "docker-archive:$T/hello.tar:hello:1.0"
is "$(skopeo_layers "docker-archive:$T/hello.tar")" "$((base_layers + 1))" \
	"the docker-archive has every layer"

# The app layer holds the app, owned by 10001, without what .dockerignore drops.
# (A __pycache__ is put into the source first: .dockerignore must drop it.)
mkdir -p "$R/app/__pycache__"
printf 'junk' >"$R/app/__pycache__/hello.$TEST_PYC_TAG.pyc"
run_lade build "$R/recipe.yaml" -o "$T/out2" -q
is "$RC" 0 "build with a __pycache__ in the source exits 0"
app_layer=$(skopeo_layer_digests "oci:$T/out2:1.0" | tail -n1)
tar --numeric-owner -tvzf "$(oci_blob "$T/out2" "$app_layer")" >"$T/app-layer.txt" 2>&1
like "$(cat "$T/app-layer.txt")" ' 10001/10001 .* app/hello\.py$' "app/hello.py owned by 10001:10001 in the gzip layer"
if ! grep -q 'app/hello\.py$' "$T/app-layer.txt" ||
	grep -Eq '__pycache__|\.pyc$|\.dockerignore$' "$T/app-layer.txt"; then
	not_ok ".dockerignore'd files are not in the layer"
	diag "$(cat "$T/app-layer.txt")"
else
	ok ".dockerignore'd files are not in the layer"
fi
rm -rf "$R/app/__pycache__"

# --json: the summary agrees with the manifest and config on disk, layer by layer.
run_lade build "$R/recipe.yaml" -o "$T/out" --json -q
is "$RC" 0 "--json build exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
printf '%s' "$OUT" >"$T/summary.json"
is "$(python3 - "$T/summary.json" "$T/out" <<'PY' 2>&1
import json, sys
from oci import Layout
s = json.load(open(sys.argv[1]))
layout = sys.argv[2]
(im,) = s["images"]
m = Layout(layout).manifest(im["digest"])
c = Layout(layout).json_blob(im["config"])
assert im["ref"] == "1.0", im["ref"]
assert im["layout"] == layout, im["layout"]
assert m["config"]["digest"] == im["config"], "config digest"
assert len(im["layers"]) == len(m["layers"]) == len(c["rootfs"]["diff_ids"]), "layer count"
for l, ml, d in zip(im["layers"], m["layers"], c["rootfs"]["diff_ids"]):
    assert l["digest"] == ml["digest"], ("digest", l, ml)
    assert l["size"] == ml["size"], ("size", l, ml)
    assert l["media_type"] == ml["mediaType"], ("media_type", l["media_type"], ml["mediaType"])
    assert l["diff_id"] == d, ("diff_id", l, d)
    assert isinstance(l["comment"], str) and l["comment"], ("comment", l)
print("consistent")
PY
)" "consistent" "--json: ref, layout, config and every layer's digest, size, media_type, diff_id match the files"

# zstd: media type, magic, and skopeo can copy it (decompressing to check the digests).
run_lade build "$R/recipe.yaml" -o "$T/zstd" --compression zstd -q
is "$RC" 0 "zstd build exits 0"
zdigest=$(printed_digest "$OUT")
like "$(oci_manifest "$T/zstd" "$zdigest" 2>&1)" 'application/vnd\.oci\.image\.layer\.v1\.tar\+zstd' \
	"the zstd manifest uses the tar+zstd media type"
zlayer=$(oci_layers "$T/zstd" "$zdigest" | tail -1)
is "$(head -c4 "$(oci_blob "$T/zstd" "$zlayer")" 2>/dev/null | od -An -tx1 | tr -d ' ')" "28b52ffd" \
	"the app layer blob starts with the zstd magic"
check "skopeo copy of the zstd image" skopeo copy --quiet "oci:$T/zstd:1.0" "oci:$T/zcopy:1.0"
check "skopeo recompresses the zstd layers to gzip (decodes every zstd blob)" \
	skopeo copy --quiet --dest-compress-format gzip "oci:$T/zstd:1.0" "oci:$T/regz:1.0"
like "$(skopeo inspect --raw "oci:$T/regz:1.0" 2>&1)" '"application/vnd\.oci\.image\.layer\.v1\.tar\+gzip","digest":"sha256:[0-9a-f]{64}","size":[0-9]+\}\]' \
	"the recompressed image's last layer is gzip"
# Same files, same tar: the diff_ids do not depend on the compression.
skopeo inspect --config "oci:$T/zstd:1.0" >"$T/zconfig.json"
is "$(json_get .rootfs "$T/zconfig.json")" "$(cfg .rootfs)" \
	"zstd and gzip builds have the same diff_ids"

done_testing
