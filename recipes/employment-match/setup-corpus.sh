#!/bin/sh
# setup-corpus.sh — point recipes/employment-match/corpus at the benchmark corpus, the place the
# recipe takes its base image, wheels and locks from:
#   ${CORPUS_DIR:-/var/tmp/corpus}/base/oci                      tag bookworm-python3.11
#   ${CORPUS_DIR:-/var/tmp/corpus}/wheelhouse/{ml-cpu,small,cuda}  wheels + requirements-<set>.txt
# Made by /work/shared/corpus/make-base.sh and make-wheelhouse.py --set {ml-cpu,small,cuda}.
# Only the sets of the variants you build need to exist. The link is not committed (.gitignore).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus=${CORPUS_DIR:-/var/tmp/corpus}
[ -d "$corpus" ] || { echo "setup-corpus.sh: no corpus at $corpus (set CORPUS_DIR)" >&2; exit 1; }
corpus=$(cd "$corpus" && pwd)
if [ -e "$here/corpus" ] && [ ! -L "$here/corpus" ]; then
	echo "setup-corpus.sh: $here/corpus exists and is not a symlink; not touching it" >&2
	exit 1
fi
ln -sfn "$corpus" "$here/corpus"
echo "corpus -> $corpus"
for what in base/oci wheelhouse/ml-cpu/requirements-ml-cpu.txt \
	wheelhouse/small/requirements-small.txt wheelhouse/cuda/requirements-cuda.txt; do
	if [ -e "$corpus/$what" ]; then echo "  ok       $what"; else echo "  missing  $what"; fi
done
