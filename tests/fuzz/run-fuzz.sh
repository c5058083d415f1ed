#!/bin/bash
# run-fuzz.sh HARNESS SEED_DIR ARTIFACT_DIR — run one libFuzzer harness for a bounded time
# (LADE_FUZZ_SECONDS, default 30) over a scratch copy of its corpus: new inputs go to a temp
# dir (first corpus dir), the checked-in seeds (second) are only read. A crash, leak or
# timeout leaves its input in ARTIFACT_DIR and fails the test.
set -euo pipefail
harness=$1 seeds=$2 artifacts=$3
seconds=${LADE_FUZZ_SECONDS:-30}
# The base and tar harnesses write a layout and a store per input and lade fsyncs blobs: on
# tmpfs that costs nothing (8x more inputs per second than on disk).
if [ -z "${LADE_FUZZ_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	LADE_FUZZ_TMPDIR=/dev/shm
fi
export TMPDIR=${LADE_FUZZ_TMPDIR:-${TMPDIR:-/tmp}}
work=$(mktemp -d "$TMPDIR/lade-fuzz-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
name=$(basename "$harness")
exec_args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 -max_len=65536
	-print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$work" "$seeds")
"$harness" "${exec_args[@]}"
