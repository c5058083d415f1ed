#!/usr/bin/env python3
"""Generate a synthetic wheelhouse of a given shape, with a hashed lock.

Usage: gen-wheelhouse.py --shape small|ml-cpu|cuda|big2g --out DIR

Used by bench/run when $CORPUS_DIR/wheelhouse/<set> does not exist. The shapes mimic the real
corpus sets: many small text .py files (compress ~4x) spread over several wheels, plus a few
large shared objects of incompressible-ish data (random blocks mixed with repeated runs, ~1.6x
with gzip), which is what dominates ML wheels. big2g is one wheel of 2 GiB of such data, for
the bounded-memory measurement (it becomes one layer of ~2 GB).

Output: DIR/*.whl, DIR/requirements-SHAPE.txt ("name==version --hash=sha256:HEX" lines) and
DIR/manifest-SHAPE.json (installed sizes), the same names as make-wheelhouse.py, plus a copy of
Debian's pip wheel (not in the lock) so that baseline-pip-buildah.sh runs on it too.
Deterministic: seeded PRNG, fixed timestamps, sorted members; reruns with a complete DIR
(stamp file) do nothing. Standard library only.
"""

import argparse
import base64
import glob
import hashlib
import json
import os
import random
import shutil
import sys
import zipfile

# shape: (wheels, py files, mean py size, [large .so sizes in MiB])
SHAPES = {
    "small": (6, 600, 6000, [8]),
    "ml-cpu": (20, 7500, 22000, [40, 60, 90]),
    "cuda": (24, 8000, 22000, [120, 250, 300, 400, 550]),
    "big2g": (1, 20, 4000, [256] * 8),
}
WORDS = ("self return import def class if else for in while None True False lambda yield "
         "tensor array shape dtype device value index result module config axis batch "
         "numpy torch float int len range append raise ValueError TypeError kwargs args").split()
DATE = (1980, 1, 1, 0, 0, 0)


def py_text(rng, size):
    out, n = [], 0
    while n < size:
        indent = "    " * rng.randrange(0, 3)
        line = indent + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 12))) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()


def blob(rng, size):
    """Incompressible-ish: 1.5 KiB random, then 2.5 KiB of a repeated short run, per 4 KiB."""
    parts, n = [], 0
    while n < size:
        parts.append(rng.randbytes(1536))
        parts.append(bytes([rng.randrange(256)]) * 512 + rng.randbytes(16) * 128)
        n += 4096
    return b"".join(parts)[:size]


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def add(zf, records, path, data, level, mode=0o644):
    info = zipfile.ZipInfo(path, DATE)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data, compresslevel=level)
    records.append("%s,%s,%d" % (path, record_hash(data), len(data)))


def make_wheel(out, idx, name, py_files, py_mean, sos, rng):
    ver = "1.%d.0" % idx
    whl = os.path.join(out, "%s-%s-py3-none-any.whl" % (name, ver))
    tmp = whl + ".tmp"
    di = "%s-%s.dist-info" % (name, ver)
    records = []
    with zipfile.ZipFile(tmp, "w") as zf:
        add(zf, records, name + "/__init__.py", b"__version__ = '%s'\n" % ver.encode(), 6)
        for i in range(py_files):
            sub = "sub%02d/" % (i // 200) if py_files > 200 else ""
            size = max(200, int(rng.expovariate(1.0 / py_mean)))
            add(zf, records, "%s/%smod%05d.py" % (name, sub, i), py_text(rng, size), 6)
        for j, mib in enumerate(sos):
            # level 1: generation time matters more than wheel size here
            add(zf, records, "%s/lib/lib%s_%d.so" % (name, name, j), blob(rng, mib << 20), 1, 0o755)
        meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: bench filler\n\n" % (name, ver)
        add(zf, records, di + "/METADATA", meta.encode(), 6)
        wheel = "Wheel-Version: 1.0\nGenerator: lade-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        add(zf, records, di + "/WHEEL", wheel.encode(), 6)
        records.append(di + "/RECORD,,")
        info = zipfile.ZipInfo(di + "/RECORD", DATE)
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, ("\n".join(records) + "\n").encode())
    os.replace(tmp, whl)
    h = hashlib.sha256()
    with open(whl, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    installed = sum(int(r.rsplit(",", 1)[1] or 0) for r in records)
    return "%s==%s --hash=sha256:%s" % (name, ver, h.hexdigest()), {"name": name, "installed": installed}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    stamp = os.path.join(a.out, ".complete")
    if os.path.exists(stamp):
        return 0
    os.makedirs(a.out, exist_ok=True)
    nwheels, npy, mean, sos = SHAPES[a.shape]
    rng = random.Random("lade-bench-" + a.shape)
    lines, manifest = [], []
    for i in range(nwheels):
        # the large objects go to the last wheels, like torch / nvidia-* in the real sets
        mine = sos if nwheels == 1 else ([sos[i - (nwheels - len(sos))]] if i >= nwheels - len(sos) else [])
        name = "benchpkg%02d" % i
        line, facts = make_wheel(a.out, i, name, npy // nwheels, mean, mine, rng)
        lines.append(line)
        manifest.append(facts)
        print("gen-wheelhouse: %s" % name, file=sys.stderr)
    with open(os.path.join(a.out, "requirements-%s.txt" % a.shape), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(a.out, "manifest-%s.json" % a.shape), "w") as f:
        json.dump({"wheels": manifest}, f, indent=1, sort_keys=True)
    for pip in sorted(glob.glob("/usr/share/python-wheels/pip-*.whl"))[-1:]:
        shutil.copyfile(pip, os.path.join(a.out, os.path.basename(pip)))
    open(stamp, "w").close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
