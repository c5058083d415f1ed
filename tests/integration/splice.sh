#!/bin/bash
# gzip layers with spliced wheel members, end to end. A venv layer of several wheels — big
# deflated members (spliced), a stored wheel and hundreds of small members (recompressed, over
# several 1 MiB chunks) — must:
#  - carry the deflate bytes of the largest member of the largest wheel unchanged (a 64 KiB
#    slice of them appears in a layer blob), as a gzip member with a bare 10-byte header;
#  - inflate with Python's gzip to exactly its diff_id, and read with tarfile to the wheels'
#    own bytes;
#  - come out with one manifest digest from SPLICE_BUILDS builds, one after the other (-j 1
#    and -j 2 alternating) and two at a time;
#  - be taken by lade verify, skopeo (to docker-archive and back), umoci (the exact files),
#    podman load and buildah from + run.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 skopeo umoci buildah cmp
need_root "umoci unpack and buildah run with vfs storage"
ensure_base
export LC_ALL=C
BUILDS=${SPLICE_BUILDS:-10}

R=$T/recipe
W=$R/wheels
mkdir -p "$W" "$R/app"
printf 'print("app")\n' >"$R/app/main.py"
python3 - "$W" <<'PY' || bail_out "cannot make the fixture wheels"
import random, sys, zipfile
from wheelkit import mw
rnd = random.Random(20)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz_") for _ in range(rnd.randint(2, 12)))
         for _ in range(3000)]
def text(n):  # Python comments, compressible but not trivially
    out = bytearray()
    while len(out) < n:
        out += b"# " + b" ".join(rnd.choice(words) for _ in range(12)) + b"\n"
    return bytes(out[:n - 1]) + b"\n"
def noise(n):
    return rnd.randbytes(n)
w = sys.argv[1]
# the largest wheel: a 3 MiB module, a 1 MiB incompressible blob, a 200 KiB one
mw.simple(w, "splbig", "1.0", {"splbig/__init__.py": b"X = 1\n",
                               "splbig/core.py": text(3 << 20),
                               "splbig/blob.bin": noise(1 << 20),
                               "splbig/mid.py": text(200 << 10)})
# hundreds of small members (each deflates below the splice threshold): several chunks
mw.simple(w, "splsmall", "1.0",
          {f"splsmall/m{i:03d}.py": text(rnd.randint(3000, 6000)) for i in range(600)})
# a stored wheel: its members are compressed by lade
mw.write_wheel(f"{w}/splstored-1.0-py3-none-any.whl",
               {"splstored/__init__.py": text(100 << 10),
                "splstored-1.0.dist-info/METADATA": mw.metadata("splstored", "1.0", ""),
                "splstored-1.0.dist-info/WHEEL": mw.wheel_file(True, "py3-none-any")},
               "splstored-1.0.dist-info", method=zipfile.ZIP_STORED)
PY
wheelkit lock "$R/requirements.lock" "$W"/*.whl || bail_out "cannot write the lock"
sed -e "s|^base:.*|base: {oci: \"$BASE_REF\"}|" >"$R/recipe.yaml" <<YAML
name: splice
tag: "1"
base: BASE
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: requirements.lock
  wheelhouse: [wheels/]
files:
  - {src: app/, dst: /app}
config:
  entrypoint: ["/opt/venv/bin/python", "-c", "import splbig, splsmall, splstored; print('ok', splbig.X)"]
YAML

digest_of() { # the manifest digest in lade's --json output file
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["images"][0]["digest"])' "$1"
}
run_lade build "$R/recipe.yaml" -o "$T/out" -j 2 --json -q
is "$RC" 0 "build the spliced image" || { diag "$ERR"; done_testing; }
printf '%s\n' "$OUT" >"$T/first.json"
DIGEST=$(digest_of "$T/first.json")
like "$DIGEST" '^sha256:[0-9a-f]{64}$' "the build prints its manifest digest"

# The layers: every gzip layer inflates with Python's gzip to its diff_id and reads with
# tarfile; the members' framing; the deflate slice; the installed bytes.
check "layers: gzip members, diff_ids, tarfile contents, deflate slice" python3 - "$T/out" "$W" <<'PY'
import gzip, hashlib, io, json, os, struct, sys, tarfile, zipfile, zlib
out, wh = sys.argv[1], sys.argv[2]
blob = lambda d: open(f"{out}/blobs/sha256/{d.split(':')[1]}", "rb").read()
idx = json.load(open(f"{out}/index.json"))
man = json.loads(blob(idx["manifests"][0]["digest"]))
cfg = json.loads(blob(man["config"]["digest"]))
layers = list(zip(man["layers"], cfg["rootfs"]["diff_ids"]))

def members(data):
    """(header offset, body bytes, content) of every gzip member, checked like a strict reader."""
    pos, res = 0, []
    while pos < len(data):
        assert data[pos:pos + 10] == bytes.fromhex("1f8b08000000000000ff"), f"bare header at {pos}"
        d = zlib.decompressobj(-15)
        content = d.decompress(data[pos + 10:])
        assert d.eof, f"member at {pos} ends"
        end = len(data) - len(d.unused_data)
        crc, isize = struct.unpack("<II", data[end:end + 8])
        assert crc == zlib.crc32(content) and isize == len(content) & 0xffffffff, f"trailer at {end}"
        res.append((pos, data[pos + 10:end], content))
        pos = end + 8
    return res

# the largest deflated member of the largest wheel, as the zip stores it
big = max((os.path.join(wh, f) for f in os.listdir(wh) if f.endswith(".whl")), key=os.path.getsize)
with zipfile.ZipFile(big) as z:
    zi = max((i for i in z.infolist() if i.compress_type == zipfile.ZIP_DEFLATED),
             key=lambda i: i.compress_size)
    want_files = {f"opt/venv/lib/python{os.environ['TEST_PYVER']}/site-packages/{i.filename}": z.read(i.filename)
                  for i in z.infolist() if not i.filename.endswith("/RECORD")}
with open(big, "rb") as f:
    f.seek(zi.header_offset)
    h = f.read(30)
    f.seek(zi.header_offset + 30 + struct.unpack("<H", h[26:28])[0] + struct.unpack("<H", h[28:30])[0])
    raw = f.read(zi.compress_size)
piece = raw[len(raw) // 2:len(raw) // 2 + 65536]
assert len(piece) == 65536, f"{zi.filename} has {len(raw)} deflate bytes"

found, n_members, venv_members = False, 0, 0
for layer, diff_id in layers:
    if not layer["mediaType"].endswith("+gzip"):
        continue
    data = blob(layer["digest"])
    tar = gzip.decompress(data)
    assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id, f"{layer['digest']} inflates to its diff_id"
    if "dev.lade.compressor" not in layer.get("annotations", {}):
        continue  # the base's layers are not lade's
    ms = members(data)
    assert b"".join(m[2] for m in ms) == tar
    names = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz").getnames()
    if piece in data:
        found = True
        # the member whose body is exactly the zip's deflate data
        assert any(m[1] == raw for m in ms), "the spliced member's body is the zip's deflate data"
        venv_members = len(ms)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
            for path, content in want_files.items():
                if path in names:
                    assert t.extractfile(path).read() == content, path
        assert all(p in names for p in want_files), "splbig's files are in this layer"
assert found, f"a 64 KiB slice of {zi.filename}'s deflate data is in no layer blob"
# 3 spliced members of splbig at least, and more than 2 chunks of the rest
assert venv_members >= 6, f"the venv layer has {venv_members} gzip members"
print(f"{zi.filename}: {len(raw)} deflate bytes, venv layer of {venv_members} members")
PY

check "lade verify checks every member" "$LADE" verify "$T/out"

# One digest: sequential builds, -j 1 and -j 2 alternating, then two at a time.
digests=$T/digests
: >"$digests"
for i in $(seq 1 "$BUILDS"); do
	"$LADE" build "$R/recipe.yaml" -o "$T/seq" -j $((1 + i % 2)) --json -q >"$T/seq.json" 2>"$T/seq.err" ||
		diag "sequential build $i: $(cat "$T/seq.err")"
	digest_of "$T/seq.json" >>"$digests" 2>/dev/null
	rm -rf "$T/seq"
done
for i in $(seq 1 $((BUILDS / 2))); do
	for k in a b; do
		"$LADE" build "$R/recipe.yaml" -o "$T/par-$k" -j 2 --json -q >"$T/par-$k.json" 2>"$T/par-$k.err" &
	done
	wait
	for k in a b; do
		digest_of "$T/par-$k.json" >>"$digests" 2>/dev/null ||
			diag "parallel build $i$k: $(cat "$T/par-$k.err")"
		rm -rf "$T/par-$k"
	done
done
is "$(wc -l <"$digests")" $((BUILDS + BUILDS / 2 * 2)) "$BUILDS sequential and $((BUILDS / 2 * 2)) parallel builds succeed"
is "$(sort -u "$digests")" "$DIGEST" "all of them give the first build's manifest digest"

# skopeo: to docker-archive and back, the same layer contents.
check "skopeo copy oci: -> docker-archive:" \
	skopeo copy --quiet "oci:$T/out:1" "docker-archive:$T/splice.tar:splice:1"
check "skopeo copy docker-archive: -> oci:" \
	skopeo copy --quiet "docker-archive:$T/splice.tar" "oci:$T/back:1"
diff_ids() {
	skopeo inspect --config "oci:$1" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["rootfs"]["diff_ids"]))'
}
is "$(diff_ids "$T/back:1")" "$(diff_ids "$T/out:1")" "the round trip keeps every diff_id"

# umoci: the unpacked venv holds exactly the wheels' bytes.
if out=$(umoci unpack --image "$T/out:1" "$T/bundle" 2>&1); then
	ok "umoci unpack"
	check "umoci's tree holds the wheels' files byte for byte" python3 - "$T/bundle/rootfs" "$W" <<'PY'
import os, sys, zipfile
root, wh = sys.argv[1], sys.argv[2]
site = os.path.join(root, f"opt/venv/lib/python{os.environ['TEST_PYVER']}/site-packages")
n = 0
for f in sorted(os.listdir(wh)):
    with zipfile.ZipFile(os.path.join(wh, f)) as z:
        for i in z.infolist():
            if i.filename.endswith("/RECORD"):
                continue
            with open(os.path.join(site, i.filename), "rb") as g:
                assert g.read() == z.read(i), i.filename
            n += 1
print(n, "files")
PY
else
	not_ok "umoci unpack"
	diag "$out"
fi

# podman load of the docker-archive lade writes.
run_lade build "$R/recipe.yaml" --format docker-archive -o "$T/lade-docker.tar" -q
is "$RC" 0 "docker-archive build" || diag "$ERR"
if command -v podman >/dev/null 2>&1 &&
	P=(podman --root "$T/podman/root" --runroot "$T/podman/run" --storage-driver vfs) &&
	"${P[@]}" info >/dev/null 2>&1; then
	at_exit "rm -rf '$T/podman'"
	check "podman load -i docker-archive" "${P[@]}" load -q -i "$T/lade-docker.tar"
else
	ok "podman load -i docker-archive # SKIP podman cannot run here"
fi

# buildah from + run: the spliced modules import.
buildah_from lade-splice "oci:$T/out:1"
if [ -n "$CTR" ]; then
	is "$("${BUILDAH[@]}" run "$CTR" -- /opt/venv/bin/python -c \
		'import splbig, splsmall, splstored; print("ok", splbig.X, len(open(splbig.__file__.replace("__init__", "core")).read()))' 2>&1)" \
		"ok 1 $((3 << 20))" "buildah run imports the spliced modules"
fi

done_testing
