#!/bin/bash
# eStargz layers (output.lazy: estargz), end to end, against the reference implementation;
# then zstd:chunked layers of the same recipe against Debian's containers/storage reader.
# A recipe with a spliced 6 MiB module (one chunk), a stored 9 MiB file (recompressed, three
# 4 MiB chunks), small members, app files with a 5 MiB file, links and an empty file, and an
# output.prefetch glob, built with output.lazy: estargz, must:
#  - be opened by containerd's reference reader (Debian's stargz-snapshotter estargz package,
#    a Go program built here offline): estargz.Open, VerifyTOC against the toc.digest
#    annotation, every chunk of every file read through the TOC's offsets and checked by its
#    chunk verifier, every file against its digest;
#  - read with Python's gzip + tarfile to its diff_id, the TOC the last tar entry, the footer
#    byte for byte the specification's, the uncompressed-size annotation the tar's size, the
#    spliced module's deflate data its own member, the prefetched files (dist-info, __init__,
#    the -m module, the recipe's glob) before the landmark, the others after it, and --json's
#    prefetch_bytes the landmark's offset;
#  - come out with one digest from builds at -j 1 and -j 2; --lazy none gives the plain image;
#  - be accepted by lade verify, and refused when a chunk or the TOC is tampered with (the rest
#    of the image re-digested to match);
#  - be taken by skopeo (docker-archive and back), umoci (the exact files) and buildah run.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 skopeo umoci buildah go
need_root "umoci unpack and buildah run with vfs storage"
ESTARGZ_SRC=/usr/share/gocode/src/github.com/containerd/stargz-snapshotter/estargz
[ -f "$ESTARGZ_SRC/estargz.go" ] ||
	skip_all "no $ESTARGZ_SRC (apt-get install golang-github-containerd-stargz-snapshotter-dev)"
ensure_base
export LC_ALL=C

# The reference reader, built from Debian's Go sources only (GOPATH mode, no network).
VERIFY=$LADE_BUILDDIR/estargz-verify
if ! (cd "$LADE_SRCDIR/tests/tools/estargz-verify" &&
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$LADE_BUILDDIR/go-cache GOFLAGS= \
		GOPROXY=off go build -o "$VERIFY" .) >"$T/go.log" 2>&1; then
	bail_out "cannot build tests/tools/estargz-verify: $(cat "$T/go.log")"
fi

R=$T/recipe
W=$R/wheels
mkdir -p "$W" "$R/app/pkg" "$R/app/data"
python3 - "$W" "$R/app" <<'PY' || bail_out "cannot make the fixtures"
import os, random, sys, zipfile
from wheelkit import mw
rnd = random.Random(17)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz_") for _ in range(rnd.randint(2, 12)))
         for _ in range(3000)]
def text(n):
    out = bytearray()
    while len(out) < n:
        out += b"# " + b" ".join(rnd.choice(words) for _ in range(12)) + b"\n"
    return bytes(out[:n - 1]) + b"\n"
w, app = sys.argv[1], sys.argv[2]
mw.simple(w, "lzbig", "1.0", {"lzbig/__init__.py": b"X = 1\n",
                              "lzbig/core.py": text(6 << 20),
                              "lzbig/blob.bin": rnd.randbytes(1 << 20),
                              "lzbig/other.py": text(300 << 10)})
mw.simple(w, "lzsmall", "1.0", {f"lzsmall/m{i:03d}.py": text(rnd.randint(500, 3000)) for i in range(200)})
mw.write_wheel(f"{w}/lzstored-1.0-py3-none-any.whl",
               {"lzstored/__init__.py": b"",
                "lzstored/data.bin": text(9 << 20),
                "lzstored-1.0.dist-info/METADATA": mw.metadata("lzstored", "1.0", ""),
                "lzstored-1.0.dist-info/WHEEL": mw.wheel_file(True, "py3-none-any")},
               "lzstored-1.0.dist-info", method=zipfile.ZIP_STORED)
open(f"{app}/main.py", "w").write("print('app')\n")
open(f"{app}/pkg/__init__.py", "w").write("")
open(f"{app}/data/keep.txt", "w").write("prefetched by the recipe's glob\n")
open(f"{app}/big.txt", "wb").write(text(5 << 20))
open(f"{app}/empty", "w").close()
os.link(f"{app}/big.txt", f"{app}/big-link.txt")
os.symlink("pkg/__init__.py", f"{app}/init-link")
PY
wheelkit lock "$R/requirements.lock" "$W"/*.whl || bail_out "cannot write the lock"
cat >"$R/recipe.yaml" <<YAML
name: lazy
tag: "1"
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
  entrypoint: ["/opt/venv/bin/python", "-m", "lzbig.core"]
output:
  lazy: estargz
  prefetch: ["app/data/*.txt"]
YAML

digest_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["images"][0]["digest"])' "$1"; }
run_lade build "$R/recipe.yaml" -o "$T/out" -j 2 --json -q --no-cache
is "$RC" 0 "build the eStargz image" || { diag "$ERR"; done_testing; }
printf '%s\n' "$OUT" >"$T/first.json"
DIGEST=$(digest_of "$T/first.json")

# The lazy layers (blob, toc digest, prefetch bytes) from the manifest and --json.
python3 - "$T/out" "$T/first.json" >"$T/lazy-layers" <<'PY' || bail_out "cannot list the layers"
import json, sys
out, rep = sys.argv[1], json.load(open(sys.argv[2]))
blob = lambda d: open(f"{out}/blobs/sha256/{d.split(':')[1]}", "rb").read()
idx = json.load(open(f"{out}/index.json"))
man = json.loads(blob(idx["manifests"][0]["digest"]))
rl = {l["digest"]: l for l in rep["images"][0]["layers"]}
for l in man["layers"]:
    a = l.get("annotations", {})
    if "containerd.io/snapshot/stargz/toc.digest" in a:
        print(f"{out}/blobs/sha256/{l['digest'][7:]}", a["containerd.io/snapshot/stargz/toc.digest"],
              rl[l["digest"]]["prefetch_bytes"], rl[l["digest"]]["toc_digest"])
PY
is "$(wc -l <"$T/lazy-layers")" 2 "two eStargz layers (the venv and /app); the base's stay as they are"

# The reference reader.
args=() prefetch_want=""
while read -r blob toc pf _; do
	args+=("$blob" "$toc")
	prefetch_want+="prefetch=$pf "
done <"$T/lazy-layers"
if vout=$("$VERIFY" "${args[@]}" 2>&1); then
	ok "estargz.Open + VerifyTOC + every chunk verifier (reference reader)"
else
	not_ok "estargz.Open + VerifyTOC + every chunk verifier (reference reader)"
fi
diag "$vout"
is "$(grep -o 'prefetch=[0-9a-z]*' <<<"$vout" | tr '\n' ' ')" "$prefetch_want" \
	"--json prefetch_bytes is the landmark's offset in the reference reader's TOC"
is "$(cut -d' ' -f2 "$T/lazy-layers")" "$(cut -d' ' -f4 "$T/lazy-layers")" \
	"--json toc_digest is the manifest's toc.digest annotation"

check "gzip + tarfile: diff_ids, TOC last, footer, annotations, chunks, splice, prefetch order" \
	python3 - "$T/out" "$W" <<'PY'
import gzip, hashlib, io, json, os, struct, sys, tarfile, zipfile, zlib
out, wh = sys.argv[1], sys.argv[2]
blob = lambda d: open(f"{out}/blobs/sha256/{d.split(':')[1]}", "rb").read()
idx = json.load(open(f"{out}/index.json"))
man = json.loads(blob(idx["manifests"][0]["digest"]))
cfg = json.loads(blob(man["config"]["digest"]))
site = f"opt/venv/lib/python{os.environ['TEST_PYVER']}/site-packages/"
# the zip's deflate data of lzbig/core.py (6 MiB: spliced, one chunk)
w = os.path.join(wh, "lzbig-1.0-py3-none-any.whl")
with zipfile.ZipFile(w) as z:
    zi = z.getinfo("lzbig/core.py")
with open(w, "rb") as f:
    f.seek(zi.header_offset)
    h = f.read(30)
    f.seek(zi.header_offset + 30 + struct.unpack("<H", h[26:28])[0] + struct.unpack("<H", h[28:30])[0])
    raw = f.read(zi.compress_size)
seen = set()
for layer, diff_id in zip(man["layers"], cfg["rootfs"]["diff_ids"]):
    a = layer.get("annotations", {})
    data = blob(layer["digest"])
    tar = gzip.decompress(data)
    assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id
    if "containerd.io/snapshot/stargz/toc.digest" not in a:
        assert "dev.lade.compressor" not in a, "a lade layer without eStargz"
        continue
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert a["io.containers.estargz.uncompressed-size"] == str(len(tar))
    toc_off = int(data[-51 + 16:-51 + 32], 16)
    sub = b"%016xSTARGZ" % toc_off
    assert data[-51:] == (bytes([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 26, 0]) + b"SG" +
                          bytes([22, 0]) + sub + bytes([1, 0, 0, 0xff, 0xff]) + bytes(8)), "footer"
    d = zlib.decompressobj(31)  # the TOC is one member
    toc_tar = d.decompress(data[toc_off:])
    assert d.eof and len(d.unused_data) == 51, "the TOC member, then the footer"
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        names = t.getnames()
        dirs = {m.name for m in t.getmembers() if m.isdir()}
        toc_bytes = t.extractfile("stargz.index.json").read()
    assert names[-1] == "stargz.index.json" and toc_tar.startswith(tar[-len(toc_tar):][:512])
    assert "sha256:" + hashlib.sha256(toc_bytes).hexdigest() == a["containerd.io/snapshot/stargz/toc.digest"]
    toc = json.loads(toc_bytes)
    assert toc["version"] == 1
    ents = {}
    for e in toc["entries"]:
        ents.setdefault(e["name"], []).append(e)
    lm = names.index(".prefetch.landmark")
    before, after = set(names[:lm]), set(names[lm + 1:])
    for n in names:
        if n.startswith(site):
            seen.add("venv")
            rel = n[len(site):]
            want = (".dist-info/" in rel or rel.endswith("__init__.py") or
                    rel.endswith(".pth") or rel in ("lzbig/core.py",) or
                    "/__pycache__/__init__." in rel or "__pycache__/core." in rel and rel.startswith("lzbig/"))
            if want:
                assert n in before, f"{n} before the landmark"
            elif n not in dirs:
                assert n in after, f"{n} after the landmark"
        if n.startswith("app/"):
            seen.add("app")
            pref = n in ("app/data/keep.txt", "app/pkg/__init__.py")
            if n not in dirs:
                assert (n in before) == pref, f"{n}: before the landmark: {pref}"
    if site + "lzstored/data.bin" in ents:
        ch = ents[site + "lzstored/data.bin"]
        assert [e["type"] for e in ch] == ["reg", "chunk", "chunk"], ch
        assert [e.get("chunkOffset", 0) for e in ch] == [0, 4 << 20, 8 << 20]
        assert [e.get("chunkSize") for e in ch] == [4 << 20, 4 << 20, None]
        core = ents[site + "lzbig/core.py"]
        assert len(core) == 1 and "chunkSize" not in core[0], "the spliced module is one chunk"
        off = core[0]["offset"]
        assert data[off:off + 10] == bytes.fromhex("1f8b08000000000000ff") and \
            data[off + 10:off + 10 + len(raw)] == raw, "its member is the zip's deflate data"
        # every chunk starts a member that inflates to the chunk's bytes
        for e in toc["entries"]:
            if e["type"] in ("reg", "chunk") and e.get("offset"):
                d = zlib.decompressobj(31)
                head = d.decompress(data[e["offset"]:e["offset"] + 4096], 64)
                assert head, e["name"]
    if "app/big.txt" in ents:  # one name is the file (two chunks), the other a hard link
        types = sorted([x["type"] for x in ents[n]] for n in ("app/big.txt", "app/big-link.txt"))
        assert types == [["hardlink"], ["reg", "chunk"]], types
        assert ents["app/init-link"][0] == {"linkName": "pkg/__init__.py", "mode": 511,
                                            "name": "app/init-link", "type": "symlink"}, ents["app/init-link"]
assert seen == {"venv", "app"}, seen
PY

check "lade verify takes the eStargz image" "$LADE" verify "$T/out"

# One digest at -j 1 and -j 2, the second from the layer cache the first filled (its entries
# keep the TOC digest and prefetch bytes for the annotations and --json).
for j in 1 2; do
	"$LADE" build "$R/recipe.yaml" -o "$T/again-$j" -j $j --json -q --cache "$T/cache" \
		>"$T/again-$j.json" 2>"$T/again.err" || diag "build -j $j: $(cat "$T/again.err")"
done
is "$(digest_of "$T/again-1.json") $(digest_of "$T/again-2.json")" "$DIGEST $DIGEST" \
	"builds at -j 1 and -j 2 (from the cache) give the first build's digest"
is "$(python3 -c 'import json,sys; print(all(l["reused"] and l["toc_digest"] for l in json.load(open(sys.argv[1]))["images"][0]["layers"] if not l["from_base"]))' "$T/again-2.json")" \
	True "the second build took its eStargz layers from the cache, TOC digests included"

# --lazy none: the plain image, as without the output.lazy key (the same cache: the key has the
# format, so no eStargz layer is taken for a plain one).
sed -e '/^  lazy: estargz$/d' -e '/^  prefetch:/d' -e '/^output:$/d' "$R/recipe.yaml" >"$R/plain.yaml"
run_lade build "$R/plain.yaml" -o "$T/plain" -q --no-cache
PLAIN=$(printed_digest "$OUT")
run_lade build "$R/recipe.yaml" -o "$T/none" -q --cache "$T/cache" --lazy none
is "$(printed_digest "$OUT")" "$PLAIN" "--lazy none gives the image of a recipe without output.lazy"
run_lade build "$R/recipe.yaml" -o "$T/zstd" -q --compression zstd
is "$RC" 1 "eStargz with zstd compression is refused"
like "$ERR" "eStargz layers are gzip layers, not zstd" "... saying why"

# Tampering: the image re-digested around a layer whose TOC and content disagree.
for mode in content toc annotation; do
	rm -rf "$T/bad-$mode"
	cp -a "$T/out" "$T/bad-$mode"
	python3 "$LADE_SRCDIR/tests/fixtures/estargz-tamper.py" "$T/bad-$mode" \
		"opt/venv/lib/python$TEST_PYVER/site-packages/lzstored/data.bin" "$mode" >/dev/null ||
		bail_out "estargz-tamper.py $mode failed"
	run_lade verify "$T/bad-$mode"
	is "$RC" 1 "lade verify refuses a layer whose $mode was tampered with"
	case $mode in
	content | toc) like "$ERR$OUT" "lzstored/data.bin: chunk at 4194304 \\(blob offset [0-9]+\\) is sha256:[0-9a-f]{64}, the TOC says sha256:" "... naming the chunk" ;;
	annotation) like "$ERR$OUT" "eStargz: the TOC is sha256:[0-9a-f]{64}, the toc.digest annotation says" "... naming the TOC" ;;
	esac
done
bad=$(python3 - "$T/bad-content" <<'PY'
import json, sys
out = sys.argv[1]
blob = lambda d: open(f"{out}/blobs/sha256/{d.split(':')[1]}", "rb").read()
man = json.loads(blob(json.load(open(f"{out}/index.json"))["manifests"][0]["digest"]))
for l in man["layers"]:
    t = l.get("annotations", {}).get("containerd.io/snapshot/stargz/toc.digest")
    if t:
        print(f"{out}/blobs/sha256/{l['digest'][7:]} {t}")
PY
)
# shellcheck disable=SC2086 # blob/digest pairs
if "$VERIFY" $bad >"$T/ref-bad.out" 2>&1; then
	not_ok "the reference reader refuses the tampered chunk too"
else
	like "$(cat "$T/ref-bad.out")" "data.bin: chunk at 4194304 .*does not match its chunkDigest" \
		"the reference reader refuses the tampered chunk too"
fi

# skopeo: to docker-archive and back, the same diff_ids.
check "skopeo copy oci: -> docker-archive:" \
	skopeo copy --quiet "oci:$T/out:1" "docker-archive:$T/lazy.tar:lazy:1"
check "skopeo copy docker-archive: -> oci:" skopeo copy --quiet "docker-archive:$T/lazy.tar" "oci:$T/back:1"
is "$(skopeo_diff_ids "oci:$T/back:1" | tr '\n' ' ')" "$(skopeo_diff_ids "oci:$T/out:1" | tr '\n' ' ')" \
	"the round trip keeps every diff_id"

# umoci: the exact files, the landmark, no TOC surprise.
if out=$(umoci unpack --image "$T/out:1" "$T/bundle" 2>&1); then
	ok "umoci unpack"
	check "umoci's tree: the wheels' and app's bytes, the landmark, the TOC" python3 - "$T/bundle/rootfs" "$W" "$R/app" <<'PY'
import os, sys, zipfile
root, wh, app = sys.argv[1:4]
site = os.path.join(root, f"opt/venv/lib/python{os.environ['TEST_PYVER']}/site-packages")
for f in sorted(os.listdir(wh)):
    with zipfile.ZipFile(os.path.join(wh, f)) as z:
        for i in z.infolist():
            if not i.filename.endswith("/RECORD"):
                assert open(os.path.join(site, i.filename), "rb").read() == z.read(i), i.filename
for rel in ("big.txt", "main.py", "data/keep.txt", "empty"):
    assert open(os.path.join(root, "app", rel), "rb").read() == open(os.path.join(app, rel), "rb").read(), rel
assert open(os.path.join(root, ".prefetch.landmark"), "rb").read() == b"\x0f"
assert os.path.isfile(os.path.join(root, "stargz.index.json"))
PY
else
	not_ok "umoci unpack"
	diag "$out"
fi

# buildah from + run: the image runs.
buildah_from lade-lazy "oci:$T/out:1"
if [ -n "$CTR" ]; then
	is "$("${BUILDAH[@]}" run "$CTR" -- /opt/venv/bin/python -c \
		'import lzbig, lzstored, os; print("ok", lzbig.X, os.path.getsize(os.path.join(os.path.dirname(lzstored.__file__), "data.bin")))' 2>&1)" \
		"ok 1 $((9 << 20))" "buildah run imports from the eStargz layers"
fi

# ---- zstd:chunked (--compression zstd --lazy zstd-chunked) on the same recipe ----
run_lade build "$R/recipe.yaml" -o "$T/zc" -j 2 --json -q --no-cache --compression zstd --lazy zstd-chunked
is "$RC" 0 "build the zstd:chunked image" || { diag "$ERR"; done_testing; }
ZC=$(digest_of <(printf '%s\n' "$OUT"))
python3 - "$T/zc" >"$T/zc.list" <<'PY' || bail_out "cannot list the zstd:chunked layers"
import json, sys
out = sys.argv[1]
blob = lambda d: open(f"{out}/blobs/sha256/{d.split(':')[1]}", "rb").read()
man = json.loads(blob(json.load(open(f"{out}/index.json"))["manifests"][0]["digest"]))
for l in man["layers"]:
    a = l.get("annotations", {})
    if "io.containers.zstd-chunked.manifest-checksum" in a:
        print(f"{out}/blobs/sha256/{l['digest'][7:]}", a["io.containers.zstd-chunked.manifest-checksum"],
              a["io.containers.zstd-chunked.manifest-position"])
PY
is "$(wc -l <"$T/zc.list")" 2 "two zstd:chunked layers"
check "zstd -d: diff_ids; footer and manifest skippable frames where the annotations say" \
	python3 - "$T/zc" <<'PY'
import hashlib, json, struct, subprocess, sys
out = sys.argv[1]
blob = lambda d: open(f"{out}/blobs/sha256/{d.split(':')[1]}", "rb").read()
man = json.loads(blob(json.load(open(f"{out}/index.json"))["manifests"][0]["digest"]))
cfg = json.loads(blob(man["config"]["digest"]))
for l, diff_id in zip(man["layers"], cfg["rootfs"]["diff_ids"]):
    data = blob(l["digest"])
    tar = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id
    a = l.get("annotations", {})
    if "io.containers.zstd-chunked.manifest-position" not in a:
        continue
    assert l["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    off, ln, uln, typ = map(int, a["io.containers.zstd-chunked.manifest-position"].split(":"))
    foot = data[-48:]
    assert foot[:4] == bytes([0x50, 0x2a, 0x4d, 0x18]) and struct.unpack("<I", foot[4:8])[0] == 40
    assert struct.unpack("<QQQQ", foot[8:40]) == (off, ln, uln, 1) and foot[40:] == b"GnUlInUx"
    assert data[off - 8:off - 4] == bytes([0x50, 0x2a, 0x4d, 0x18]) and off + ln == len(data) - 48
    assert "sha256:" + hashlib.sha256(data[off:off + ln]).hexdigest() == a["io.containers.zstd-chunked.manifest-checksum"]
PY
check "lade verify takes the zstd:chunked image" "$LADE" verify "$T/zc"
cp -a "$T/zc" "$T/zc-bad"
python3 "$LADE_SRCDIR/tests/fixtures/estargz-tamper.py" "$T/zc-bad" app/main.py zstd-toc >/dev/null ||
	bail_out "estargz-tamper.py zstd-toc failed"
run_lade verify "$T/zc-bad"
is "$RC" 1 "lade verify refuses a zstd:chunked manifest that lies about a file"
like "$ERR$OUT" "zstd:chunked: app/main.py: frames at \\[[0-9]+, [0-9]+\\) hold [0-9]+ bytes sha256:[0-9a-f]{64}, the TOC says [0-9]+ bytes" "... naming the file"
run_lade build "$R/recipe.yaml" -o "$T/zc1" -j 1 -q --no-cache --compression zstd --lazy zstd-chunked
is "$(printed_digest "$OUT")" "$ZC" "zstd:chunked at -j 1 gives the -j 2 digest"

# The reader of Debian's containers/storage 1.43, from a copy of its pkg/chunked with
# tests/tools/zstd-chunked-verify/zz_lade_test.go added (GOPATH mode, offline).
CS=/usr/share/gocode/src/github.com/containers/storage
# lade writes the zstd:chunked format of containers/storage 1.43 (Debian 12); later releases
# (Debian 13: 1.57) read another one (io.github.* annotations, a tar-split) and their reader's
# internals differ, so this reader test is for 1.43 only.
CS_VERSION=$(dpkg-query -W -f='${Version}' golang-github-containers-storage-dev 2>/dev/null || true)
if [ -n "$CS_VERSION" ] && [ "${CS_VERSION#1.43.}" = "$CS_VERSION" ]; then
	ok "containers/storage reader # SKIP containers/storage $CS_VERSION reads a later zstd:chunked format than the 1.43 one lade writes"
elif [ -f "$CS/pkg/chunked/compression.go" ] && [ -d /usr/share/gocode/src/github.com/ulikunitz/xz ]; then
	G=$LADE_BUILDDIR/go-storage/src/github.com/containers/storage
	rm -rf "$LADE_BUILDDIR/go-storage"
	mkdir -p "$G/pkg"
	for f in "$CS"/*; do [ "${f##*/}" = pkg ] || ln -s "$f" "$G/${f##*/}"; done
	for f in "$CS"/pkg/*; do [ "${f##*/}" = chunked ] || ln -s "$f" "$G/pkg/${f##*/}"; done
	cp -r "$CS/pkg/chunked" "$G/pkg/chunked"
	rm -f "$G/pkg/chunked"/*_test.go "$G/pkg/chunked"/*/*_test.go
	cp "$LADE_SRCDIR/tests/tools/zstd-chunked-verify/zz_lade_test.go" "$G/pkg/chunked/"
	if (cd "$G/pkg/chunked" && GO111MODULE=off GOPATH=$LADE_BUILDDIR/go-storage:/usr/share/gocode \
		GOCACHE=$LADE_BUILDDIR/go-cache GOFLAGS= GOPROXY=off go test -c -o "$LADE_BUILDDIR/chunked.test" .) \
		>"$T/go-storage.log" 2>&1; then
		if zout=$(LADE_ZSTD_CHUNKED_LIST=$T/zc.list "$LADE_BUILDDIR/chunked.test" -test.run TestLadeZstdChunked -test.v 2>&1); then
			ok "containers/storage 1.43 reads the manifest (footer and annotations) and every file's frames"
		else
			not_ok "containers/storage 1.43 reads the manifest (footer and annotations) and every file's frames"
		fi
		diag "$zout"
	else
		not_ok "build containers/storage's pkg/chunked with the lade reader test"
		diag "$(tail -20 "$T/go-storage.log")"
	fi
else
	ok "containers/storage reader # SKIP no golang-github-containers-storage-dev (and golang-github-ulikunitz-xz-dev)"
fi

buildah_from lade-zc "oci:$T/zc:1"
if [ -n "$CTR" ]; then
	is "$("${BUILDAH[@]}" run "$CTR" -- /opt/venv/bin/python -c 'import lzbig; print("ok", lzbig.X)' 2>&1)" \
		"ok 1" "buildah run imports from the zstd:chunked layers"
fi

done_testing
