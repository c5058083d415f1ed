#!/bin/bash
# The seccomp sandbox in the real binary: a normal build passes with the sandbox on, and (in
# builds configured with -Dtest_hooks=true, as .ci/run's sanitizer build is) the test hooks
# that try execve and socket right after the filter is loaded are refused and reported.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
ensure_base
export LC_ALL=C

R=$T/recipe
hello_recipe "$R"
run_lade build "$R/recipe.yaml" -o "$T/a" -q
is "$RC" 0 "a build with the sandbox on succeeds"
d1=$(printed_digest "$OUT")
run_lade build --no-sandbox "$R/recipe.yaml" -o "$T/b" -q
is "$RC" 0 "a build with --no-sandbox succeeds"
is "$(printed_digest "$OUT")" "$d1" "the sandbox does not change the image"

run_lade build --explain-sandbox
is "$RC" 0 "--explain-sandbox exits 0"
if grep -qE '^ +openat$' <<<"$OUT"; then ok "the policy allows openat"; else not_ok "the policy allows openat"; fi
if grep -qE '(^|[^a-z_])execve([^a-z_]|$)' <<<"$(sed -n '/^allowed/,/^[a-z]/p' <<<"$OUT")"; then
	not_ok "the policy does not allow execve"
else
	ok "the policy does not allow execve"
fi

if ! grep -q '^test hooks: on' <<<"$("$LADE" version)"; then
	diag "this lade was built without -Dtest_hooks=true: the execve/socket hooks are not compiled in"
	done_testing
fi
for call in execve socket; do
	LADE_TEST_HOOK=$call run_lade build "$R/recipe.yaml" -o "$T/h-$call"
	is "$RC" 1 "test hook $call: lade exits 1"
	like "$ERR" "test hook: $call.*Operation not permitted \\(the sandbox refused the system call $call" \
		"test hook $call: refused with EPERM and the syscall is named"
	check "test hook $call: no index.json" test ! -e "$T/h-$call/index.json"
done
done_testing
