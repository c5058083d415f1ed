#!/bin/bash
# Variants: one recipe with three variants (a: an ML-like wheel + datapkg, default; b: datapkg
# only, the "lightweight" one; c: the ML-like wheel, datapkg and two nvidia-style wheels) gives
# one OCI layout with refs T-a, T-b, T-c and T (= T-a). The base layers, the ML-like wheel's own
# layer and the app layer are the same blobs in every manifest that has them; b has none of the
# ML-like wheel's bytes (layer digests, file lists, the raw bytes); `--variant` builds a subset
# with the same digests; `lade verify` passes. Fixture wheels only: no corpus needed.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3
ensure_base
export LC_ALL=C

R=$T/recipe
W=$R/wheels
mkdir -p "$R/app"
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"

# mlpkg: the ML-like wheel, 384 KiB of incompressible bytes (a sha256 counter stream) that start
# with a marker no other input contains; then one lock per variant.
python3 - "$W" "$R" <<'PY' || bail_out "cannot make the mlpkg wheel and the locks"
import glob, hashlib, os, sys
from wheelkit import mw
w, r = sys.argv[1], sys.argv[2]
blob = b"LADE-ML-MARKER-" + b"".join(hashlib.sha256(b"mlpkg %d" % i).digest() for i in range(384 * 1024 // 32))
mw.simple(w, "mlpkg", "2.1.0", {
    "mlpkg/__init__.py": b"from mlpkg._weights import SIZE\n",
    "mlpkg/_weights.py": b"SIZE = 393231\n",
    "mlpkg/lib/libmlpkg.so": (blob, 0o755),
}, tag="py3-none-manylinux1_x86_64", purelib=False)
def line(pat):
    (path,) = glob.glob(os.path.join(w, pat))
    name, version = os.path.basename(path).split("-")[:2]
    return "%s==%s --hash=sha256:%s\n" % (name.replace("_", "-"), version,
                                          hashlib.sha256(open(path, "rb").read()).hexdigest())
locks = {"a": ["mlpkg-*", "datapkg-*"], "b": ["datapkg-*"],
         "c": ["mlpkg-*", "datapkg-*", "nvidia_cublas_cu12-*", "nvidia_cudnn_cu12-*"]}
for v, pats in locks.items():
    with open(os.path.join(r, "lock-%s.txt" % v), "w") as f:
        f.writelines(sorted(line(p) for p in pats))
PY
printf 'print("app")\n' >"$R/app/main.py"
cat >"$R/recipe.yaml" <<YAML
name: variants
tag: "2.0"
base: {oci: "$BASE_REF"}
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  lock: lock-a.txt
  wheelhouse: [wheels/]
files:
  - {src: app/, dst: /app}
layers: {split-threshold: 64KiB}
config:
  env: {APP: variants}
variants:
  a:
    default: true
    config: {env: {VARIANT: a}}
  b:
    python: {lock: lock-b.txt}
    config: {env: {VARIANT: b}}
  c:
    python: {lock: lock-c.txt}
    config: {env: {VARIANT: c}}
YAML

run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "lade build of the three variants exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
check "lade verify passes on the layout with three variants" "$LADE" verify "$T/out"

# facts LAYOUT — one line per fact about the layout (python3 reads index, manifests, configs and
# the layer tars).
facts() {
	python3 - "$1" "$BASE_OCI" "$BASE_TAG" <<'PY'
import gzip, io, os, sys, tarfile
from oci import REF_NAME, Layout
out, base = Layout(sys.argv[1]), Layout(sys.argv[2])
refs = {m["annotations"][REF_NAME]: m["digest"] for m in out.index()["manifests"]}
print("refs", " ".join(sorted(refs)))
man = {r: out.manifest(r) for r in refs}
layers = {r: [l["digest"] for l in m["layers"]] for r, m in man.items()}
def tar_names(d):
    data = out.blob(d)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data, tarfile.open(fileobj=io.BytesIO(data)).getnames()
ml_layers = set()
names = {}
raw = {}
for r in sorted(refs):
    for d in layers[r]:
        if d not in names:
            raw[d], names[d] = tar_names(d)
        if any("/mlpkg/" in n or "/mlpkg-" in n for n in names[d]):
            ml_layers.add(d)
bl = base.layers(sys.argv[3])
for r in sorted(refs):
    env = out.config(r)["config"]["Env"]
    own = [d for d in layers[r] if d not in bl]
    print("manifest", r, refs[r])
    print("env", r, " ".join(e for e in env if e.startswith(("VARIANT=", "APP="))))
    print("base-prefix", r, layers[r][:len(bl)] == bl)
    print("app-layer", r, layers[r][-1])
    print("ml-layers", r, " ".join(sorted(d for d in own if d in ml_layers)) or "none")
    print("ml-files", r, sum(1 for d in own for n in names[d] if "mlpkg" in n))
    print("marker", r, any(b"LADE-ML-MARKER-" in raw[d] for d in own))
    print("nvidia-files", r, sum(1 for d in own for n in names[d] if "/nvidia/" in n))
    print("layers", r, len(layers[r]))
used = {d for ls in layers.values() for d in ls} | {m["config"]["digest"] for m in man.values()} | set(refs.values())
stored = {"sha256:" + f for f in os.listdir(out.blobs) if not f.startswith(".")}
print("blobs", "stored-once" if stored == used else "differ: %d stored, %d used" % (len(stored), len(used)))
PY
}
F=$(facts "$T/out" 2>&1)
fact() { printf '%s\n' "$F" | awk -v k="$1" -v r="$2" '$1 == k && $2 == r { $1 = ""; $2 = ""; sub(/^  /, ""); print }'; }
diag "$F"

is "$(printf '%s\n' "$F" | awk '$1 == "refs" { $1 = ""; sub(/^ /, ""); print }')" "2.0 2.0-a 2.0-b 2.0-c" \
	"one layout with refs 2.0-a, 2.0-b, 2.0-c and 2.0 for the default"
is "$(fact manifest 2.0)" "$(fact manifest 2.0-a)" "2.0 is the same manifest as 2.0-a (the default)"
for v in a b c; do
	is "$(fact env "2.0-$v")" "APP=variants VARIANT=$v" "2.0-$v: the config has the top-level env and the variant's own"
	is "$(fact base-prefix "2.0-$v")" "True" "2.0-$v: starts with the base's layers, the same blobs"
done
app=$(fact app-layer 2.0-a)
is "$(fact app-layer 2.0-b) $(fact app-layer 2.0-c)" "$app $app" "the app layer is one blob shared by a, b and c"
ml=$(fact ml-layers 2.0-a)
like "$ml" '^sha256:[0-9a-f]{64}$' "a: the ML-like wheel is in one layer of its own (over split-threshold)"
is "$(fact ml-layers 2.0-c)" "$ml" "c: the ML-like wheel's layer is the same blob as in a"
is "$(fact ml-layers 2.0-b)" "none" "b: no layer of b holds the ML-like wheel (by digest)"
is "$(fact ml-files 2.0-b)" "0" "b: no mlpkg path in any of b's layer file lists"
is "$(fact marker 2.0-b)" "False" "b: none of the ML-like wheel's bytes in b's layers"
is "$(fact marker 2.0-a)" "True" "a: the ML-like wheel's bytes are in a's layers (the check above can fail)"
like "$(fact ml-files 2.0-a)" '^[1-9][0-9]*$' "a: mlpkg files are in a's layer file lists"
like "$(fact nvidia-files 2.0-c)" '^[1-9][0-9]*$' "c: the nvidia-style wheels are installed in c"
is "$(fact nvidia-files 2.0-a)" "0" "a: no nvidia-style files in a"
is "$(printf '%s\n' "$F" | awk '$1 == "blobs" { print $2 }')" "stored-once" \
	"every blob of the layout is used, each shared blob is stored once"

# A subset: the same manifests, only their refs.
run_lade build "$R/recipe.yaml" -o "$T/sub-b" --variant b -q
is "$RC" 0 "--variant b exits 0"
G=$(facts "$T/sub-b" 2>&1)
is "$(printf '%s\n' "$G" | awk '$1 == "refs" { $1 = ""; sub(/^ /, ""); print }')" "2.0-b" "--variant b: only the ref 2.0-b"
is "$(printf '%s\n' "$G" | awk '$1 == "manifest" && $2 == "2.0-b" { print $3 }')" "$(fact manifest 2.0-b)" \
	"--variant b: the same manifest digest as in the full build"
is "$(printf '%s\n' "$G" | awk '$1 == "marker" { print $3 }')" "False" "--variant b: no ML-like bytes"
is "$(printf '%s\n' "$G" | awk '$1 == "blobs" { print $2 }')" "stored-once" "--variant b: no blob of the other variants in the layout"
run_lade build "$R/recipe.yaml" -o "$T/sub-ac" --variant c --variant a -q
is "$RC" 0 "--variant c --variant a exits 0"
G=$(facts "$T/sub-ac" 2>&1)
is "$(printf '%s\n' "$G" | awk '$1 == "refs" { $1 = ""; sub(/^ /, ""); print }')" "2.0 2.0-a 2.0-c" \
	"--variant c --variant a: refs 2.0-a, 2.0-c and 2.0 (a is the default)"
is "$(printf '%s\n' "$G" | awk '$1 == "manifest" && $2 == "2.0-c" { print $3 }')" "$(fact manifest 2.0-c)" \
	"--variant c: the same manifest digest as in the full build"
check "lade verify passes on the subset layout" "$LADE" verify "$T/sub-ac"

run_lade build "$R/recipe.yaml" -o "$T/bad" --variant zz -q
is "$RC" 1 "an unknown --variant fails"
like "$ERR" "no variant 'zz' in the recipe" "the error names the unknown variant"

done_testing
