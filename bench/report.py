#!/usr/bin/env python3
"""Turn the measurements bench/run wrote into its markdown report (stdout).

Usage: report.py --set SET --runs N --dir RESULTS_DIR
Reads runs.tsv (row, run, wall s, user s, sys s, peak RSS KiB, output bytes), compressors.tsv,
big.tsv, notes.txt and machine.txt from RESULTS_DIR. Medians over the runs of each row.
"""

import argparse
import os
import statistics
import sys

ORDER = [
    "lade gzip",
    "lade gzip -j 1",
    "lade gzip -j 2",
    "lade zstd",
    "peer: pip + buildah (gzip)",
    "peer: pip install (compiles .pyc)",
    "peer: pip install --no-compile",
    "floor gzip",
    "floor splice",
    "floor zstd",
    "lade rebuild (app change)",
]
WHAT = {
    "lade gzip": "lade build, gzip (wheel members spliced, the rest zlib -6), fresh layout",
    "lade gzip -j 1": "the same with -j 1 (one compression thread)",
    "lade gzip -j 2": "the same with -j 2",
    "lade zstd": "lade build, zstd level 3, fresh layout",
    "peer: pip + buildah (gzip)": "venv + pip install + buildah pull/from/copy/commit (sum of phases)",
    "peer: pip install (compiles .pyc)": "its pip-install phase alone",
    "peer: pip install --no-compile": "venv + pip install --no-compile (output: tree size, uncompressed)",
    "floor gzip": "inflate every wheel + sha256 + igzip -2 on all cores (layer format 1's compressor)",
    "floor splice": "ISA-L inflate of every member + sha256 per member and of the stream + 2 sha256 of the wheels (no deflate)",
    "floor zstd": "inflate every wheel + sha256 + zstd -3 on all cores",
    "lade rebuild (app change)": "one app file changed, build into the same layout",
}


def rows(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    out.append(line.split("\t"))
    return out


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=2):
    return "—" if v is None else "%.*f" % (digits, v)


def ratio(a, b, digits=2):
    return "—" if a is None or b is None or b == 0 else "%.*f" % (digits, a / b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", required=True)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    d = a.dir

    stats = {}
    for r in rows(os.path.join(d, "runs.tsv")):
        name, _, wall, user, sys_, rss, outb = (r + [""] * 7)[:7]
        s = stats.setdefault(name, {"wall": [], "cpu": [], "rss": [], "out": []})
        s["wall"].append(num(wall))
        u, y = num(user), num(sys_)
        s["cpu"].append(None if u is None or y is None else u + y)
        s["rss"].append(None if num(rss) is None else num(rss) / 1024)
        s["out"].append(None if num(outb) is None else num(outb) / 1e6)
    m = {k: {f: med(v) for f, v in s.items()} for k, s in stats.items()}
    n = {k: len(s["wall"]) for k, s in stats.items()}

    p = print
    p("## lade benchmark: set `%s`\n" % a.set)
    if os.path.exists(os.path.join(d, "machine.txt")):
        with open(os.path.join(d, "machine.txt")) as f:
            for line in f:
                p("- " + line.rstrip())
    p("")
    p("| row | what it measures | runs | wall s (median) | CPU s (user+sys) | peak RSS MiB | output MB |")
    p("|---|---|---|---|---|---|---|")
    for k in ORDER + sorted(set(m) - set(ORDER)):
        if k in m:
            x = m[k]
            p("| %s | %s | %d | %s | %s | %s | %s |" % (k, WHAT.get(k, ""), n[k], fmt(x["wall"]), fmt(x["cpu"]),
                                                      fmt(x["rss"], 1), fmt(x["out"], 1)))
    p("")

    def g(k, f):
        return m.get(k, {}).get(f)

    p("| ratio | wall | CPU | output size |")
    p("|---|---|---|---|")
    pairs = [
        ("peer / lade gzip (speed-up)", "peer: pip + buildah (gzip)", "lade gzip"),
        ("pip --no-compile alone / lade gzip", "peer: pip install --no-compile", "lade gzip"),
        ("lade gzip / floor gzip", "lade gzip", "floor gzip"),
        ("lade gzip / floor splice", "lade gzip", "floor splice"),
        ("lade zstd / floor zstd", "lade zstd", "floor zstd"),
        ("lade zstd / lade gzip", "lade zstd", "lade gzip"),
    ]
    base_mb = 0.0
    if os.path.exists(os.path.join(d, "base-bytes")):
        with open(os.path.join(d, "base-bytes")) as f:
            base_mb = float(f.read().strip() or 0) / 1e6
    for label, x, y in pairs:
        if x in m and y in m:
            xo, yo = g(x, "out"), g(y, "out")
            if y.startswith("floor") and xo is not None:
                xo -= base_mb  # the floor compresses the installed bytes only
            size = ratio(xo, yo) if not x.startswith("peer: pip install") else "—"
            p("| %s | %s | %s | %s |" % (label, ratio(g(x, "wall"), g(y, "wall")), ratio(g(x, "cpu"), g(y, "cpu")), size))
    p("")
    p("Output MB counts every blob of the layout (base image included, %.1f MB) for lade and the" % base_mb)
    p("peer; for the floor, the compressed stream of the installed bytes only (no base, no tar")
    p("headers), so the lade/floor size ratio leaves the base out. CPU s is user+sys of the command")
    p("and all its children (all cores): on a loaded machine it is steadier than wall time.")
    p("")

    comp = rows(os.path.join(d, "compressors.tsv"))
    if comp:
        tarsz = num(comp[0][1])
        p("### Compressors alone, one thread unless stated, over one %.1f MB layer tar\n" % (tarsz / 1e6))
        p("| compressor | wall s | CPU s | input MB per CPU s | output MB | out/in |")
        p("|---|---|---|---|---|---|")
        for name, insz, wall, cpu, outsz in comp:
            w, i, o = num(wall), num(insz), num(outsz)
            p("| %s | %s | %s | %s | %.1f | %.3f |" % (name, fmt(w), fmt(num(cpu)), fmt(i / 1e6 / num(cpu) if num(cpu) else None, 0),
                                                      o / 1e6, o / i))
        p("")
    big = rows(os.path.join(d, "big.tsv"))
    if big:
        p("### Peak RSS for one ~2 GB layer (generated wheel of 2 GiB shared objects)\n")
        p("| compression | wall s | CPU s | peak RSS MiB | layer (tar -> blob) |")
        p("|---|---|---|---|---|")
        for c, wall, cpu, rss, layer in big:
            p("| %s | %s | %s | %.1f | %s |" % (c, wall, cpu, num(rss) / 1024, layer))
        p("")
    notes = os.path.join(d, "notes.txt")
    if os.path.exists(notes) and os.path.getsize(notes):
        p("Notes:\n")
        with open(notes) as f:
            for line in f:
                p("- " + line.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
