#!/usr/bin/env python3
"""The folders are the layers of the system (docs/architecture.md, "Folders are layers"): a
module may include only headers of its own layer or of the layers below it. This test reads
every production .c and .h file and fails naming each include that points upwards, and each
public header that the table below does not place in a layer (so a new header must be placed).
TAP output."""
import os
import re
import sys

LAYERS = ["core", "manifest", "registry", "insight", "python", "build", "cli"]

# Each public header, by the layer of the module it declares.
HEADERS = {
    "core": "util error hashmap stream digest compress store statcache sandbox pyformat toml",
    "manifest": "oci layerread tree layer lazy base libc images image config layout archive gc",
    "registry": "registry",
    "insight": "inspect verify sbom",
    "python": "lock pep440 pep508 tags select wheel pycompile install venv prepare",
    "build": "recipe files plan cache build",
}
HEADER_LAYER = {h: layer for layer, names in HEADERS.items() for h in names.split()}

FOLDER_LAYER = {"core": "core", "manifest": "manifest", "registry": "registry",
                "insight": "insight", "assembler": "build", "cli": "cli"}


def layer_of_source(path):
    parts = path.split("/")
    if parts[0] == "include":
        return HEADER_LAYER.get(os.path.basename(path)[:-2])
    if parts[0] == "assembler" and len(parts) > 2 and parts[1] == "python":
        return "python"
    return FOLDER_LAYER.get(parts[0])


def main():
    root = os.environ.get("LADE_SRCDIR") or os.path.join(os.path.dirname(__file__), "..")
    os.chdir(root)
    files = []
    for top in ["include/lade"] + list(FOLDER_LAYER):
        for dirpath, _, names in os.walk(top):
            files += [os.path.join(dirpath, n) for n in names if n.endswith((".c", ".h"))]
    problems = []
    for h in sorted(os.listdir("include/lade")):
        if h.endswith(".h") and h[:-2] not in HEADER_LAYER:
            problems.append("include/lade/%s is in no layer (add it to tests/layering.py)" % h)
    for f in sorted(files):
        own = layer_of_source(f)
        if own is None:
            continue
        with open(f, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                m = re.match(r'\s*#\s*include\s+"lade/(\w+)\.h"', line)
                if not m or m.group(1) not in HEADER_LAYER:
                    continue
                dep = HEADER_LAYER[m.group(1)]
                if LAYERS.index(dep) > LAYERS.index(own):
                    problems.append("%s:%d (%s) includes lade/%s.h (%s, a layer above)"
                                    % (f, n, own, m.group(1), dep))
    print("1..1")
    if problems:
        print("not ok 1 - includes that point upwards or unplaced headers:")
        for p in problems:
            print("# " + p)
        return 1
    print("ok 1 - %d files: every include is of the same layer or one below" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
