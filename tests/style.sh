#!/bin/bash
# Every C file and header is as clang-format (the checked-in .clang-format) writes it: a change
# that was not formatted fails here, naming the files (fix: clang-format -i FILE).
cd "${LADE_SRCDIR:-$(dirname "$0")/..}" || exit 1
command -v clang-format >/dev/null 2>&1 || { echo "1..0 # SKIP clang-format not installed"; exit 77; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else
	mapfile -t files < <(find core manifest registry insight assembler cli include tests bench tools -name '*.[ch]' | sort)
fi
echo "1..1"
bad=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -eq 0 ]; then
	echo "ok 1 - ${#files[@]} C files formatted as .clang-format says ($(clang-format --version | head -1))"
else
	echo "not ok 1 - not formatted (clang-format -i them): ${bad[*]}"
	exit 1
fi
