#!/bin/bash
# make-wheels.sh [DIR] — write the demo's wheelhouse (default: wheels/ next to this script) with
# tests/fixtures/make-wheels.py, and DIR/demo.lock: the part of the fixtures' requirements.lock
# that installs on a glibc CPython 3.11 x86_64 base with no dependency missing (muslpkg is for
# musl, purepkg needs requests, which is not a fixture).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/wheels}
python3 "$here/../../tests/fixtures/make-wheels.py" "$out"
awk '/^#/ { print; next }
     /^[^ ]/ { keep = ($0 ~ /^(datapkg|localpkg|platpkg|nvidia-cublas-cu12|nvidia-cudnn-cu12)==/) }
     keep' "$out/requirements.lock" >"$out/demo.lock"
echo "wheels and $out/demo.lock:"
grep '==' "$out/demo.lock"
