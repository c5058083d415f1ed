#!/bin/bash
# One reader per format: every command that reads an image reads its JSON the same way. A base
# layout whose manifest carries an extra empty "layers" key BEFORE the real one (tools that keep
# the first key see an image with no layers, jansson keeps the last: a parser differential) is
# refused by lade build, lade inspect and lade verify, each naming the manifest blob and the
# duplicate key with the same words. The same input with the key once is accepted by all three
# (so the refusal is about the key, not about the rewritten layout).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3
ensure_base

# dup_layers SRC DST DUPLICATE — copy the layout SRC (tag $BASE_TAG) to DST with its manifest
# rewritten by hand: with DUPLICATE=1 an empty "layers" key is inserted before the real one.
# The manifest blob and the index.json descriptor are updated, so every digest is right.
# Prints the new manifest digest.
dup_layers() {
	python3 - "$@" "$BASE_TAG" <<'PY'
import hashlib, json, os, shutil, sys
src, dst, dup, tag = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
shutil.copytree(src, dst)
with open(os.path.join(dst, "index.json")) as f:
    index = json.load(f)
desc = next(m for m in index["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
with open(os.path.join(dst, "blobs", desc["digest"].replace(":", "/")), "rb") as f:
    manifest = json.load(f)
parts = ['"schemaVersion":2']
if "mediaType" in manifest:
    parts.append('"mediaType":' + json.dumps(manifest["mediaType"]))
parts.append('"config":' + json.dumps(manifest["config"], sort_keys=True))
if dup:
    parts.append('"layers":[]')
parts.append('"layers":' + json.dumps(manifest["layers"], sort_keys=True))
data = ("{" + ",".join(parts) + "}").encode()
digest = "sha256:" + hashlib.sha256(data).hexdigest()
with open(os.path.join(dst, "blobs", "sha256", digest[7:]), "wb") as f:
    f.write(data)
desc["digest"], desc["size"] = digest, len(data)
index["manifests"] = [desc]
with open(os.path.join(dst, "index.json"), "w") as f:
    json.dump(index, f)
print(digest)
PY
}

DUP=$(dup_layers "$BASE_OCI" "$T/dup" 1) || bail_out "cannot write the duplicate-key layout"
ONCE=$(dup_layers "$BASE_OCI" "$T/once" 0) || bail_out "cannot write the control layout"
WANT="blob $DUP: invalid JSON (line 1): duplicate object key near '\"layers\"'"

hello_recipe "$T/r" "{oci: \"$T/dup:$BASE_TAG\"}"
run_lade build "$T/r/recipe.yaml" -o "$T/out" -q
is "$RC" 1 "build: exit 1 on the duplicate key"
is "$ERR" "lade: error: base oci:$T/dup:$BASE_TAG: $WANT" "build: names the base, the blob and the duplicate key"
check "build: no output written" test ! -e "$T/out/index.json"

run_lade inspect "$T/dup:$BASE_TAG"
is "$RC" 1 "inspect: exit 1 on the duplicate key"
is "$ERR" "lade: error: $T/dup:$BASE_TAG: $WANT" "inspect: names the image, the blob and the duplicate key"

run_lade verify "$T/dup"
is "$RC" 1 "verify: exit 1 on the duplicate key"
is "$(grep -F -- "$DUP" <<<"$OUT$ERR")" "$WANT" "verify: names the blob and the duplicate key"

# The control: the same rewrite with the key once is an image all three accept.
hello_recipe "$T/r2" "{oci: \"$T/once:$BASE_TAG\"}"
run_lade build "$T/r2/recipe.yaml" -o "$T/out2" -q
is "$RC" 0 "build: the key once is accepted" || diag "$ERR"
run_lade inspect "$T/once:$BASE_TAG"
is "$RC" 0 "inspect: the key once is accepted" || diag "$ERR"
like "$OUT" "$ONCE" "inspect: shows the rewritten manifest"
run_lade verify "$T/once"
is "$RC" 0 "verify: the key once is accepted" || diag "$OUT$ERR"

done_testing
