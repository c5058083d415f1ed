#!/bin/bash
# Two lades on one layout: the second waits on DIR/.lade.lock (or fails at once with
# --lock-timeout 0, naming the lock file), both final states are valid and never interleaved:
# after two concurrent builds with different tags `lade verify` passes and index.json names
# both tags with the digests each recipe gives alone.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 cmp
ensure_base
export LC_ALL=C
ROUNDS=${CONCURRENCY_ROUNDS:-5}

hello_recipe "$T/a"
hello_recipe "$T/b"
printf 'print("b")\n' >"$T/b/app/b.py"
head -c 3000000 /dev/urandom >"$T/a/app/big.bin" # so the builds overlap
head -c 3000000 /dev/urandom >"$T/b/app/big.bin"

run_lade build "$T/a/recipe.yaml" -o "$T/alone-a" --tag a -q
is "$RC" 0 "recipe a builds alone" || diag "$ERR"
DA=$(printed_digest "$OUT")
run_lade build "$T/b/recipe.yaml" -o "$T/alone-b" --tag b -q
is "$RC" 0 "recipe b builds alone" || diag "$ERR"
DB=$(printed_digest "$OUT")

# Concurrent builds with different tags.
bad=0
for round in $(seq 1 "$ROUNDS"); do
	L=$T/layout$round
	"$LADE" build "$T/a/recipe.yaml" -o "$L" --tag a -q >"$T/a.out" 2>"$T/a.err" &
	pa=$!
	"$LADE" build "$T/b/recipe.yaml" -o "$L" --tag b -q >"$T/b.out" 2>"$T/b.err" &
	pb=$!
	wait "$pa"
	ra=$?
	wait "$pb"
	rb=$?
	got=$(oci_refs "$L" 2>&1)
	if [ "$ra" -ne 0 ] || [ "$rb" -ne 0 ] || [ "$got" != "a $DA"$'\n'"b $DB" ] ||
		! "$LADE" verify "$L" >"$T/verify.out" 2>&1; then
		bad=$((bad + 1))
		diag "round $round: a: rc $ra $(cat "$T/a.err"); b: rc $rb $(cat "$T/b.err")"
		diag "index: $got (alone: a $DA, b $DB)"
		diag "verify: $(cat "$T/verify.out")"
	fi
	rm -rf "$L"
done
is "$bad" 0 "$ROUNDS rounds of two concurrent builds: both succeed, index.json names both, the layout verifies"

# hold_lock SECONDS — another process holds $L/.lade.lock (flock) for SECONDS; $holder is its
# pid (one process, so killing it releases the lock). Returns once the lock is held.
hold_lock() {
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[1] + ".held", "w").close()
time.sleep(float(sys.argv[2]))' "$L/.lade.lock" "$1" &
	holder=$!
	at_exit "kill $holder"
	for _ in $(seq 1 100); do
		[ -e "$L/.lade.lock.held" ] && break
		sleep 0.05
	done
	rm -f "$L/.lade.lock.held"
}

# A held lock: --lock-timeout 0 fails at once naming the lock file; the layout is unchanged.
L=$T/held
run_lade build "$T/a/recipe.yaml" -o "$L" --tag a -q
is "$RC" 0 "a first build makes the layout"
cp "$L/index.json" "$T/held-index.json"
ls -R "$L" >"$T/held-files"
hold_lock 30
start=$(date +%s%N)
run_lade build "$T/b/recipe.yaml" -o "$L" --tag b -q --lock-timeout 0
end=$(date +%s%N)
is "$RC" 1 "--lock-timeout 0 on a held lock: exit 1"
is "$ERR" "lade: error: output layout $L is in use by another lade (lock $L/.lade.lock)" \
	"the error names the layout and the lock file"
check "it did not wait" test $(((end - start) / 1000000)) -lt 2000
check "index.json is unchanged" cmp "$L/index.json" "$T/held-index.json"
is "$(ls -R "$L")" "$(cat "$T/held-files")" "no file was added to the layout"

# --lock-timeout 1 waits about a second, then fails the same way.
start=$(date +%s%N)
run_lade build "$T/b/recipe.yaml" -o "$L" --tag b -q --lock-timeout 1
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
is "$RC" 1 "--lock-timeout 1 on a held lock: exit 1"
like "$ERR" "is in use by another lade \\(lock $L/.lade.lock\\)" "the error names the lock file"
check "it waited about a second ($ms ms)" test "$ms" -ge 900 -a "$ms" -lt 5000

# The default waits: released after 2 s, the build then completes.
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
hold_lock 2
start=$(date +%s%N)
run_lade build "$T/b/recipe.yaml" -o "$L" --tag b -q
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
is "$RC" 0 "the default lock timeout waits for the holder" || diag "$ERR"
check "it waited for the holder ($ms ms)" test "$ms" -ge 1000
is "$(oci_refs "$L")" "a $DA"$'\n'"b $DB" "index.json names both tags"
check "the layout verifies" "$LADE" verify "$L"

done_testing
