#!/bin/bash
# Multi-platform: `platforms: [linux/amd64, linux/arm64]` on a two-platform base gives one image
# index per ref with a manifest per platform (right platform objects), each with the wheels of
# its own architecture — selected per platform, nothing emulated — and skopeo reads and copies
# the whole index. A single-platform base asked for another platform is refused.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 skopeo
ensure_base
export LC_ALL=C

MB=$T/multibase
python3 "$LADE_SRCDIR/tests/fixtures/make-multiarch-base.py" "$BASE_OCI" "$BASE_TAG" "$MB" ||
	bail_out "cannot make the two-platform base"

R=$T/recipe
W=$R/wheels
mkdir -p "$W"
# purex: pure; native: one wheel per architecture with different content.
python3 - "$W" <<'PY' || bail_out "cannot make the fixture wheels"
import os, sys
from wheelkit import mw
out, tag = sys.argv[1], os.environ["TEST_CPTAG"]
mw.simple(out, "purex", "1.0", {"purex/__init__.py": b"NAME = 'purex'\n"})
for arch in ("x86_64", "aarch64"):
    mw.simple(out, "native", "1.0", {"native/__init__.py": b"",
                                     "native/ARCH": arch.encode() + b"\n"},
              tag=f"{tag}-{tag}-manylinux_2_17_{arch}", purelib=False)
PY
{
	printf 'purex==1.0 --hash=sha256:%s\n' "$(sha256_file "$W"/purex-1.0-py3-none-any.whl)"
	printf 'native==1.0'
	for f in "$W"/native-*.whl; do printf ' --hash=sha256:%s' "$(sha256_file "$f")"; done
	printf '\n'
} >"$R/requirements.lock"
cat >"$R/recipe.yaml" <<YAML
name: multi
tag: "1.0"
base: {oci: "$MB:multi"}
platforms: [linux/amd64, linux/arm64]
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: requirements.lock
  wheelhouse: [wheels/]
YAML

run_lade build "$R/recipe.yaml" -o "$T/out" --json
is "$RC" 0 "lade build of two platforms exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }

python3 - "$T/out" "$OUT" >"$T/check.txt" 2>&1 <<'PY'
import io, json, sys, tarfile
from oci import Layout
out, summary = Layout(sys.argv[1]), json.loads(sys.argv[2])
top = out.descriptor("1.0")
print("top-media", top["mediaType"])
print("summary-ref-digest", summary["refs"][0]["digest"] == top["digest"])
for m in out.json_blob(top["digest"])["manifests"]:
    p = m["platform"]
    cfg = out.config(m["digest"])
    arch_files = []
    for l in out.layers(m["digest"]):
        with tarfile.open(fileobj=io.BytesIO(out.blob(l)), mode="r:*") as t:
            for e in t:
                if e.name.endswith("native/ARCH"):
                    arch_files.append(t.extractfile(e).read().decode().strip())
    print("platform %s/%s config %s/%s native %s" % (p["os"], p["architecture"], cfg["os"],
          cfg["architecture"], ",".join(arch_files)))
PY
diag "$(cat "$T/check.txt")"
check "index.json names an image index for the ref" grep -qx "top-media application/vnd.oci.image.index.v1+json" "$T/check.txt"
check "--json reports the index digest as the ref" grep -qx "summary-ref-digest True" "$T/check.txt"
check "the amd64 manifest has the x86_64 wheel" grep -qx "platform linux/amd64 config linux/amd64 native x86_64" "$T/check.txt"
check "the arm64 manifest has the aarch64 wheel" grep -qx "platform linux/arm64 config linux/arm64 native aarch64" "$T/check.txt"

check "skopeo inspect --raw reads the index" skopeo inspect --raw "oci:$T/out:1.0"
check "skopeo copy --all copies both platforms" skopeo copy --quiet --all "oci:$T/out:1.0" "oci:$T/copy:1.0"
is "$(find "$T/copy/blobs" -type f | wc -l)" "$(find "$T/out/blobs" -type f | wc -l)" "the copy holds every blob"
check "lade verify passes on the multi-platform layout" "$LADE" verify "$T/out"

# A single-platform base for two platforms would give a mislabelled image: refused.
sed -i "s|^base:.*|base: {oci: \"$BASE_REF\"}|" "$R/recipe.yaml"
run_lade build "$R/recipe.yaml" -o "$T/out2"
is "$RC" 1 "a single-platform base for two platforms is refused"
like "$ERR" "base .* is linux/amd64, not linux/arm64" "the error names both platforms"
check "no index.json was written" test ! -e "$T/out2/index.json"
done_testing
