#!/bin/bash
# lade inspect and lade diff on a real image: the fixture wheels installed into a venv on the
# Python base. `--by package` must equal the RECORD sums python3 computes on the rootfs
# `umoci unpack` makes (a row's size column, or the file's size when the column is empty), and
# `--top` the largest regular files `find` sees there; the layer sizes add up to the blobs.
# diff: two builds of one recipe are identical (exit 0); a changed app file is exactly that
# file (exit 1); a layout and its oci-archive (skopeo) are identical; the same recipe built with
# zstd or gzip --level 1 has the same content in other blobs, listed as recompressed (exit 1);
# errors exit 2.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 umoci skopeo find sort
export LC_ALL=C
umask 022

ensure_base

R=$T/recipe
fixture_lock "$R"
mkdir -p "$R/app"
printf 'print("hello")\n' >"$R/app/main.py"
head -c 300000 /dev/zero | tr '\0' 'x' >"$R/app/big.txt"
cat >"$R/recipe.yaml" <<YAML
name: inspect
tag: t
base: {oci: "$BASE_REF"}
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: requirements.lock
  wheelhouse: [wheels/]
files:
  - {src: app/, dst: /app}
config:
  entrypoint: ["/opt/venv/bin/python", "/app/main.py"]
YAML

run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "build the wheels recipe"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }

run_lade inspect "$T/out:t" --json --top 15 --by package
is "$RC" 0 "lade inspect --json --top 15 --by package"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
printf '%s\n' "$OUT" >"$T/inspect.json"

if [ "$(id -u)" -eq 0 ]; then
	umoci unpack --image "$T/out:t" "$T/bundle" >/dev/null 2>"$T/umoci.err"
else
	umoci unpack --rootless --image "$T/out:t" "$T/bundle" >/dev/null 2>"$T/umoci.err"
fi
[ -d "$T/bundle/rootfs" ] || bail_out "umoci unpack failed: $(cat "$T/umoci.err")"
ROOT=$T/bundle/rootfs

# The sizes add up: each layer is its blob, size = layers + config + manifest.
check "layer, config and manifest sizes add up to the blobs" python3 - "$T/inspect.json" "$T/out" <<'PY'
import json, os, sys
from oci import Layout
j = json.load(open(sys.argv[1]))
(im,) = j["images"]
blob = lambda d: os.path.getsize(Layout(sys.argv[2]).blob_path(d))
for l in im["layers"]:
    assert l["size"] == blob(l["digest"]), l
assert im["config"]["size"] == blob(im["config"]["digest"])
assert im["manifest_size"] == blob(im["digest"])
assert im["layers_size"] == sum(l["size"] for l in im["layers"])
assert im["size"] == im["layers_size"] + im["config"]["size"] + im["manifest_size"]
assert im["uncompressed_size"] == sum(l["uncompressed_size"] for l in im["layers"])
PY

check "--by package equals the RECORD sums of the unpacked rootfs" python3 - "$T/inspect.json" "$ROOT" <<'PY'
import csv, json, os, sys
j = json.load(open(sys.argv[1]))
root = sys.argv[2]
got = {(p["location"], p["name"], p["version"]): (p["bytes"], p["files"])
       for p in j["images"][0]["packages"]}
want = {}
for dirpath, dirs, files in os.walk(root):
    if dirpath.endswith(".dist-info") and "RECORD" in files:
        rec = os.path.join(dirpath, "RECORD")
        if not os.path.isfile(rec) or os.path.islink(rec):
            continue
        site = os.path.dirname(dirpath)
        name, _, version = os.path.basename(dirpath)[: -len(".dist-info")].partition("-")
        total = n = 0
        with open(rec, newline="") as f:
            for row in csv.reader(f):
                if not row:
                    continue
                n += 1
                if len(row) > 2 and row[2]:
                    total += int(row[2])
                else:
                    p = os.path.normpath(os.path.join(site, row[0]))
                    if p.startswith(root) and os.path.isfile(p) and not os.path.islink(p):
                        total += os.path.getsize(p)
        want[(os.path.relpath(site, root), name, version)] = (total, n)
assert any(k[1] == "platpkg" for k in want), want
if got != want:
    print("lade:   ", sorted(got.items()))
    print("python: ", sorted(want.items()))
    sys.exit(1)
PY

# --top: the sizes of the 15 largest regular files as find sees them, each file as listed.
want_top=$(find "$ROOT" -type f -printf '%s\n' | sort -rn | head -n 15 | tr '\n' ' ')
got_top=$(json_get '.images[0].top[].size' "$T/inspect.json" | tr '\n' ' ')
is "$got_top" "$want_top" "--top 15 sizes are the 15 largest files find sees"
check "every --top file has that size in the rootfs" python3 - "$T/inspect.json" "$ROOT" <<'PY'
import json, os, sys
for t in json.load(open(sys.argv[1]))["images"][0]["top"]:
    p = os.path.join(sys.argv[2], t["path"])
    assert os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) == t["size"], t
PY
du_big=$(du -b "$ROOT/app/big.txt" | cut -f1)
like "$(json_get '.images[0].top[]' "$T/inspect.json" | grep -F '"path": "app/big.txt"')" \
	"\"size\": $du_big[,}]" "app/big.txt is listed with the size du gives"

run_lade inspect "$T/out:t" --top 3 --by package
is "$RC" 0 "human output"
like "$OUT" "largest files:" "human output lists the largest files"
like "$OUT" "platpkg +2\.0" "human output lists platpkg 2.0"

# The base as docker-archive (read through manifest.json or index.json).
run_lade inspect "docker-archive:$BASE_ARCHIVE" --json
is "$RC" 0 "inspect docker-archive:BASE"
[ "$RC" -eq 0 ] || diag "$ERR"
n=$(json_get '.images[0].layers|length' <<<"$OUT")
is "$n" "$(skopeo_layers "docker-archive:$BASE_ARCHIVE")" "docker-archive: as many layers as skopeo sees"

# diff
run_lade build "$R/recipe.yaml" -o "$T/out2" -q
run_lade diff "$T/out:t" "$T/out2:t"
is "$RC" 0 "two builds of one recipe: diff exits 0"
like "$OUT" "identical" "and says identical"

skopeo copy -q "oci:$T/out:t" "oci-archive:$T/out.tar:t" || bail_out "skopeo copy to oci-archive failed"
run_lade diff "$T/out:t" "oci-archive:$T/out.tar:t"
is "$RC" 0 "a layout and its oci-archive are identical"

# The same recipe compressed otherwise (zstd; gzip --level 1): the same config, diff_ids and
# files in other blobs and another manifest. Not identical: exit 1, and each layer lade wrote
# is listed as recompressed with both blobs (those of the two manifests), the base's as equal.
for how in "--compression zstd" "--level 1"; do
	rm -rf "$T/outc"
	# shellcheck disable=SC2086
	run_lade build "$R/recipe.yaml" -o "$T/outc" -q $how
	run_lade diff "$T/out:t" "$T/outc:t"
	is "$RC" 1 "$how build of the same recipe: diff exits 1"
	like "$OUT" "same content \(config, diff_ids, files\), stored differently" "and says the content is the same"
	if [[ "$OUT" == *identical* ]]; then not_ok "and does not say identical"; else ok "and does not say identical"; fi
	run_lade diff --json "$T/out:t" "$T/outc:t"
	is "$RC" 1 "$how: diff --json exits 1"
	printf '%s\n' "$OUT" >"$T/diffc.json"
	is "$(for e in .identical .content_equal .blobs_equal .manifest_equal .config_equal '.files.modified|length'; do
		json_get "$e" "$T/diffc.json"
	done | tr '\n' ' ')" "false true false false true 0 " "$how: JSON says same content, other blobs and manifest"
	python3 - "$T/diffc.json" <(oci_layers "$T/out" t) <(oci_layers "$T/outc" t) <(oci_layers "$BASE_OCI" "$BASE_TAG") <<'PY' >"$T/diffc.err" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
la, lb, base = (open(p).read().split() for p in sys.argv[2:5])
assert len(d["layers"]) == len(la) == len(lb), (len(d["layers"]), len(la), len(lb))
for i, l in enumerate(d["layers"]):
    assert l["a"] == l["b"], l
    assert l["blob_a"]["digest"] == la[i] and l["blob_b"]["digest"] == lb[i], l
    want = "equal" if la[i] in base else "recompressed"
    assert l["status"] == want, (l, want)
assert sum(l["status"] == "recompressed" for l in d["layers"]) == len(la) - len(base)
PY
	is "$?" 0 "$how: the layers lade wrote are recompressed, with both manifests' blobs; the base's equal"
	[ -s "$T/diffc.err" ] && diag "$(cat "$T/diffc.err")"
done

printf 'print("changed")\n' >"$R/app/main.py"
run_lade build "$R/recipe.yaml" -o "$T/out3" -q
run_lade diff --json "$T/out:t" "$T/out3:t"
is "$RC" 1 "a changed app file: diff exits 1"
is "$(for e in '.files.added|length' '.files.removed|length' '.files.modified[].path'; do
	json_get "$e" <<<"$OUT"
done | tr '\n' ' ')" "0 0 app/main.py " "exactly the changed file is modified"

run_lade diff "$T/out:t" "$T/missing"
is "$RC" 2 "diff with a missing image exits 2"
like "$ERR" "cannot open $T/missing" "and names it"

done_testing
