#!/bin/bash
# size-table.sh — build the employment-match variants with lade and print the README's size
# table (markdown) measured from the OCI layout lade wrote.
#
#   recipes/employment-match/size-table.sh [--no-build] [-o LAYOUT] [VARIANT...]
#
# Without VARIANT: every variant whose real wheel set setup-corpus.sh made
# (corpus/real/<variant>). LADE (default: build/lade of this checkout) is the binary;
# the layout defaults to the recipe's out/. --no-build only reads an existing layout.
# Per variant: the compressed bytes a pull transfers (the sum of its layer blob sizes, base
# included), the unpacked bytes (the layer tars' sizes) and the layer count; then the bytes the
# variants share (layer blobs referenced by more than one manifest) and what the one layout
# stores against the sum of separate images.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LADE=${LADE:-$root/build/lade}
out=$here/out
build=1
variants=()
while [ $# -gt 0 ]; do
	case $1 in
	--no-build) build=0 ;;
	-o) out=$2; shift ;;
	-h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "size-table.sh: unknown option $1" >&2; exit 2 ;;
	*) variants+=("$1") ;;
	esac
	shift
done
if [ ${#variants[@]} -eq 0 ]; then
	for v in production lightweight full; do
		if [ -f "$here/corpus/real/$v/.complete" ]; then
			variants+=("$v")
		else
			echo "size-table.sh: skipping $v: no real set (run setup-corpus.sh $v)" >&2
		fi
	done
fi
if [ "$build" = 1 ]; then
	[ ${#variants[@]} -gt 0 ] || { echo "size-table.sh: nothing to build" >&2; exit 1; }
	vargs=()
	for v in "${variants[@]}"; do vargs+=(--variant "$v"); done
	start=$(date +%s)
	"$LADE" build "$here/recipe.yaml" -o "$out" "${vargs[@]}" -q >/dev/null
	echo "built ${variants[*]} in $(($(date +%s) - start)) s with $("$LADE" version 2>/dev/null | head -n1)" >&2
fi

python3 - "$out" "${variants[@]}" <<'PY'
import gzip, json, os, sys, zlib
out, wanted = sys.argv[1], sys.argv[2:]
TEXT = {
    "production": ("Full ML on CPU (torch 2.13.0+cpu, sentence-transformers, the model)", "Production deployment"),
    "lightweight": ("Basic API (FastAPI), keyword matching, no ML wheels", "Development/testing"),
    "full": ("Full ML + GPU (torch 2.14.1 CUDA 13, nvidia-* wheels)", "GPU development"),
}
def blob(d):
    return os.path.join(out, "blobs/sha256", d.split(":")[1])
def unpacked(d, mt, _cache={}):
    if d not in _cache:
        n = 0
        with open(blob(d), "rb") as f:
            if mt.endswith("+gzip"):
                z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                while chunk := f.read(1 << 20):
                    while chunk:
                        n += len(z.decompress(chunk))
                        chunk = z.unused_data
                        if chunk:  # the next gzip member
                            z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif mt.endswith("+zstd"):
                n = -1  # not measured without the zstandard module
            else:
                n = os.path.getsize(blob(d))
        _cache[d] = n
    return _cache[d]
def human(n):
    if n < 0:
        return "?"
    if n < 1000 * 1000:
        return "%.0f kB" % (n / 1000.0)
    if n < 1000 ** 3:
        return "%.1f MB" % (n / 1000.0 ** 2)
    return "%.2f GB" % (n / 1000.0 ** 3)
idx = json.load(open(os.path.join(out, "index.json")))
refs = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in idx["manifests"]}
man = {}
for ref, d in sorted(refs.items()):
    m = json.load(open(blob(d)))
    if "-" in ref:
        name = ref.split("-", 1)[1]
        if not wanted or name in wanted:
            man[name] = m
if not man:
    sys.exit("size-table.sh: no variant images in %s" % out)
order = [v for v in ("full", "production", "lightweight") if v in man] + sorted(v for v in man if v not in TEXT)
use = {}
for v in order:
    for l in man[v]["layers"]:
        use.setdefault(l["digest"], [l, set()])[1].add(v)
# The base image: the leading layers every variant has.
base = []
for i, l in enumerate(man[order[0]]["layers"]):
    if all(len(man[v]["layers"]) > i and man[v]["layers"][i]["digest"] == l["digest"] for v in order):
        base.append(l["digest"])
    else:
        break
print("| Build type | Size (pulled, compressed) | Unpacked | Layers | Features | Use case |")
print("| --- | ---: | ---: | ---: | --- | --- |")
total_sep = 0
for v in order:
    ls = man[v]["layers"]
    c = sum(l["size"] for l in ls)
    u = sum(unpacked(l["digest"], l["mediaType"]) for l in ls)
    total_sep += c
    feat, case = TEXT.get(v, ("-", "-"))
    print("| %s | %s | %s | %d | %s | %s |" % (v, human(c), human(u), len(ls), feat, case))
shared = {d: x for d, x in use.items() if len(x[1]) > 1}
stored = sum(x[0]["size"] for x in use.values())
print()
print("- base image layers (in every variant): %s compressed, %s unpacked"
      % (human(sum(use[d][0]["size"] for d in base)), human(sum(unpacked(d, use[d][0]["mediaType"]) for d in base))))
for d, (l, vs) in sorted(shared.items(), key=lambda x: (-x[1][0]["size"], x[0])):
    if d not in base:
        print("- shared by %s: %s %s" % (", ".join(v for v in order if v in vs), d[:19], human(l["size"])))
print("- bytes shared between variants: %s in %d layer blobs; the one layout stores %s for the %d images, "
      "separate images would be %s" % (human(sum(x[0]["size"] for x in shared.values())), len(shared),
                                      human(stored), len(order), human(total_sep)))
PY
