#!/bin/bash
# The command line's documentation: `lade help`, every command's --help, the lade(1) man page
# generated from the same tables, the bash completion, --version, and the build's progress
# output on a terminal and off it.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"

COMMANDS="build inspect diff verify push pull"
MAN=$LADE_BUILDDIR/lade.1
COMPLETION=$LADE_SRCDIR/completion/lade.bash

# The long options a help text lists, one per line, sorted.
help_options() {
	grep -oE -- '(^|[ ,])--[a-z][a-z-]*' | sed 's/^[ ,]*//' | sort -u
}

run_lade help
is "$RC" 0 "lade help exits 0"
for c in $COMMANDS help version; do
	like "$OUT" "(^|$'\n')  $c( |$)" "lade help lists $c"
done
run_lade --help
is "$RC" 0 "lade --help exits 0"
run_lade
is "$RC" 2 "lade without a command exits 2"
like "$ERR" '^usage: lade' "lade without a command prints the usage on stderr"

for c in $COMMANDS; do
	run_lade help "$c"
	is "$RC" 0 "lade help $c exits 0"
	like "$OUT" "^usage: lade $c " "lade help $c starts with its usage line"
	like "$OUT" '--help' "lade help $c names its options"
	HELP=$OUT
	run_lade "$c" --help
	is "$RC" 0 "lade $c --help exits 0"
	is "$OUT" "$HELP" "lade $c --help is lade help $c"
	run_lade "$c" -h
	is "$OUT" "$HELP" "lade $c -h is lade help $c"
	printf '%s\n' "$HELP" | help_options >"$T/$c.opts"
done
like "$(cat "$T/build.opts")" '--compression' "build --help names --compression"
like "$(cat "$T/build.opts")" '--format' "build --help names --format"
like "$(cat "$T/inspect.opts")" '--top' "inspect --help names --top"
like "$(cat "$T/verify.opts")" '--max-problems' "verify --help names --max-problems"

# Every option a command's parser accepts is documented: an option missing from the help
# table would make getopt fail with "unrecognized option"; one only in the table would too.
for c in $COMMANDS; do
	while read -r opt; do
		[ "$opt" = --help ] && continue
		# Four operands are too many for every command: nothing runs.
		run_lade "$c" "$opt" w x y z
		case $ERR in
		*"unrecognized option"*) not_ok "lade $c accepts $opt (from its help)" ;;
		*) ok "lade $c accepts $opt (from its help)" ;;
		esac
	done <"$T/$c.opts"
done

# And the other way round: every long option a parser knows (the struct option tables in the
# sources) is in the help of the commands that source file implements.
parser_options() {
	grep -oE '\{"[a-z][a-z-]*", *(no|required|optional)_argument' "$@" |
		sed -E 's/^.*\{"([^"]*)".*/--\1/' | sort -u
}
for pair in "cmd-build.c:build" "cmd-verify.c:verify" "cmd-inspect.c:inspect" "cmd-diff.c:diff" \
	"cmd-push.c:push" "cmd-pull.c:pull" "registry-options.h:push pull"; do
	src=$LADE_SRCDIR/cli/${pair%%:*}
	documented=$(for c in ${pair#*:}; do cat "$T/$c.opts"; done | sort -u)
	missing=$(comm -23 <(parser_options "$src") <(printf '%s\n' "$documented") | tr '\n' ' ')
	is "$missing" "" "every option parsed in ${pair%%:*} is in the help of ${pair#*:}"
done

# One option grammar for every command: -j is 1-1024 everywhere, a BOOL takes the same
# spellings everywhere (the operands are wrong on purpose: nothing runs).
for c in build push pull; do
	run_lade "$c" -j 0 w x y z
	is "$RC" 2 "lade $c -j 0 is a usage error"
	like "$ERR" "^lade: --jobs '0' is not a number 1-1024" "lade $c -j 0 names the range"
	run_lade "$c" -j 1025 w x y z
	like "$ERR" "^lade: --jobs '1025' is not a number 1-1024" "lade $c -j 1025 names the range"
	run_lade "$c" -j 1024 w x y z
	like "${ERR%%$'\n'*}" "^lade: $c (takes|needs) " "lade $c accepts -j 1024 (the operands are refused)"
	for v in true 1 yes false 0 no; do
		run_lade "$c" --tls-verify="$v" w x y z
		like "${ERR%%$'\n'*}" "^lade: $c (takes|needs) " "lade $c accepts --tls-verify=$v"
	done
	run_lade "$c" --tls-verify w x y z
	like "${ERR%%$'\n'*}" "^lade: $c (takes|needs) " "lade $c accepts --tls-verify alone (true)"
	run_lade "$c" --tls-verify=maybe w x y z
	is "$RC" 2 "lade $c --tls-verify=maybe is a usage error"
	like "$ERR" "^lade: --tls-verify takes true or false" "lade $c names what --tls-verify takes"
done

# One sandbox policy: where seccomp filters cannot be loaded every command refuses to run
# unless given --no-sandbox. valgrind is such a place (it does not implement seccomp(2)); it
# cannot run a binary built with AddressSanitizer.
if ldd "$LADE" 2>/dev/null | grep libasan >/dev/null; then
	ok "# SKIP lade is built with AddressSanitizer, which valgrind cannot run"
elif command -v valgrind >/dev/null 2>&1; then
	printf 'name: t\nbase: {scratch: true}\n' >"$T/scratch.yaml"
	for args in "build $T/scratch.yaml -o $T/nosb" "verify $T/nope" "inspect $T/nope" \
		"diff $T/nope $T/nope2" "push $T/nope localhost:1/x" "pull localhost:1/x -o $T/nope"; do
		c=${args%% *}
		# shellcheck disable=SC2086 # the words of $args are the operands
		valgrind -q "$LADE" $args >/dev/null 2>"$T/vg.err"
		rc=$?
		[ "$c" = diff ] && want=2 || want=1
		is "$rc" "$want" "without seccomp, lade $c fails ($want)"
		check "without seccomp, lade $c says why and names --no-sandbox" \
			grep -q "^lade: error: this kernel has no seccomp filter support; run with --no-sandbox" "$T/vg.err"
	done
	valgrind -q "$LADE" inspect --no-sandbox "$T/nope" >/dev/null 2>"$T/vg.err"
	check "with --no-sandbox, lade inspect goes on (to the missing image)" \
		grep -q "^lade: error: image '$T/nope'" "$T/vg.err"
else
	ok "# SKIP valgrind is not installed: no kernel without seccomp to try"
fi

run_lade help nope
is "$RC" 2 "lade help nope exits 2"
like "$ERR" "^lade: unknown command 'nope'" "lade help nope names the command"
is "$OUT" "" "lade help nope prints nothing on stdout"
run_lade help build verify
is "$RC" 2 "lade help with two commands exits 2"

run_lade --version
is "$RC" 0 "lade --version exits 0"
like "$OUT" '^lade [0-9]+\.[0-9]+\.[0-9]+' "lade --version prints the version"
VERSION=${OUT%%$'\n'*}
run_lade version
is "${OUT%%$'\n'*}" "$VERSION" "lade version is lade --version"

# The man page.
if [ -f "$MAN" ]; then
	ok "the man page is built: $MAN"
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS ENVIRONMENT "EXIT STATUS" FILES EXAMPLES "SEE ALSO"; do
		check "the man page has a $s section" grep -qx "\.SH \"\?$s\"\?" "$MAN"
	done
	check "the man page documents SOURCE_DATE_EPOCH" grep -q SOURCE_DATE_EPOCH "$MAN"
	# Each command's options from --help are in the page (same source, but prove it).
	sed 's/\\-/-/g; s/\\f[BIR]//g' "$MAN" >"$T/man.txt"
	for c in $COMMANDS; do
		check "the man page has a section for lade $c" grep -q "^\.SS \"lade $c" "$T/man.txt"
		missing=$(while read -r opt; do
			grep -qe "$opt" "$T/man.txt" || printf '%s ' "$opt"
		done <"$T/$c.opts")
		is "$missing" "" "the man page names every option of lade $c"
	done
	if command -v man >/dev/null 2>&1; then
		# No pager, and man-db's own seccomp sandbox off: under load it cut the output short.
		out=$(MANWIDTH=80 MAN_DISABLE_SECCOMP=1 man -P cat -l "$MAN" 2>"$T/man.err")
		like "$out" 'lade - assemble OCI images' "man -l renders the NAME section"
		like "$out" 'EXIT STATUS' "man -l renders EXIT STATUS"
		if command -v groff >/dev/null 2>&1; then
			is "$(groff -man -ww -z "$MAN" 2>&1)" "" "groff finds no problem in the page"
		fi
	else
		ok "# SKIP man is not installed"
	fi
else
	not_ok "the man page is built: $MAN"
fi

# The bash completion: load it in a clean bash and call the function as bash would.
complete_words() {
	bash --norc --noprofile -c '
		source "$1" || exit 3
		complete -p lade >/dev/null || exit 4
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_lade lade "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' _ "$COMPLETION" "$@"
}
check "the completion script loads and registers lade" \
	bash --norc --noprofile -c 'source "$1" && complete -p lade | grep -q "_lade"' _ "$COMPLETION"
is "$(complete_words lade b)" "build" "lade b<TAB> completes build"
is "$(complete_words lade build --comp)" "--compression" "lade build --comp<TAB> completes --compression"
is "$(complete_words lade build --compression '' | sort | tr '\n' ' ')" "gzip none zstd " \
	"lade build --compression <TAB> offers gzip, none and zstd"
is "$(complete_words lade build --format docker | tr '\n' ' ')" "docker-archive " \
	"lade build --format docker<TAB> completes docker-archive"
is "$(complete_words lade inspect --by '' | tr '\n' ' ')" "package " "lade inspect --by <TAB> offers package"
is "$(complete_words lade p | sort | tr '\n' ' ')" "pull push " "lade p<TAB> offers pull and push"
is "$(complete_words lade pull --tls-verify = '' | sort | tr '\n' ' ')" "false true " \
	"lade pull --tls-verify=<TAB> offers true and false"
is "$(complete_words lade build --tls-verify = '' | sort | tr '\n' ' ')" "false true " \
	"lade build --tls-verify=<TAB> offers true and false"
is "$(complete_words lade help ve | tr '\n' ' ')" "verify version " "lade help ve<TAB> offers verify and version"
mkdir -p "$T/comp/sub"
: >"$T/comp/app.yaml"
: >"$T/comp/notes.txt"
got=$(cd "$T/comp" && complete_words lade build '' | sort | tr '\n' ' ')
is "$got" "app.yaml sub " "lade build <TAB> offers recipes and directories"
got=$(cd "$T/comp" && complete_words lade build x.yaml -o '' | sort | tr '\n' ' ')
is "$got" "app.yaml notes.txt sub " "lade build -o <TAB> offers files and directories"
for c in $COMMANDS; do
	got=$(complete_words lade "$c" -- | sort -u)
	is "$got" "$(cat "$T/$c.opts")" "the completion offers exactly the options of lade help $c"
done

# Progress: per layer lines with sizes and a rate on a terminal, only notes when stderr is
# not a terminal (the default in this test), none with -q.
if ! BASE_LOG=$(PYVER=$TEST_PYVER bash "$LADE_SRCDIR/tests/fixtures/make-base.sh" "$LADE_BUILDDIR/test-base" 2>&1); then
	diag "base image: $BASE_LOG"
	ok "# SKIP progress: no base image here (${BASE_LOG##*$'\n'})"
	done_testing
fi
ensure_base
R=$T/hello
hello_recipe "$R"
run_lade build "$R/recipe.yaml" -o "$T/out1" --no-sandbox
is "$RC" 0 "build without a terminal exits 0"
is "$ERR" "" "build without a terminal prints nothing on stderr"
run_lade build "$R/recipe.yaml" -o "$T/out2" --no-sandbox --progress
like "$ERR" "lade: layer 1/[0-9]+ .*[0-9.]+ [KMG]?i?B -> .* in [0-9.]+s" \
	"--progress prints a line per layer with its sizes and time"
like "$ERR" 'lade: 1 image in [0-9.]+s' "--progress ends with a summary line"
run_lade build "$R/recipe.yaml" -o "$T/out3" --no-sandbox --progress -q
is "$ERR" "" "-q wins over --progress"
if command -v script >/dev/null 2>&1 && script -qec true /dev/null >/dev/null 2>&1 </dev/null; then
	# script(1) gives lade a terminal on stdin/stdout/stderr; its output is the terminal's.
	script -qec "\"$LADE\" build \"$R/recipe.yaml\" -o \"$T/out4\" --no-sandbox" /dev/null \
		>"$T/tty.out" 2>&1 </dev/null
	tty=$(tr -d '\r' <"$T/tty.out")
	like "$tty" "lade: layer 1/[0-9]+ .* in [0-9.]+s" "on a terminal build prints a line per layer"
	like "$tty" "sha256:[0-9a-f]{12}…" "on a terminal the layer digest is shortened"
	like "$tty" "sha256:[0-9a-f]{64} $T/out4:" "the digest lines on stdout stay whole"
else
	# a chroot without devpts has no pseudo-terminal to give
	ok "# SKIP script(1) is not installed or cannot open a pseudo-terminal: no terminal test"
	run_lade build "$R/recipe.yaml" -o "$T/out4" --no-sandbox -q
fi

# verify --json: machine-readable, and the exit status still says whether problems were found.
run_lade verify --json "$T/out4"
is "$RC" 0 "verify --json on a good layout exits 0"
is "$(for e in .ok .count .problems; do json_get "$e" <<<"$OUT"; done | tr '\n' ' ')" \
	"true 0 [] " "verify --json reports ok, no problems"
cp -a "$T/out4" "$T/out4-bad"
blob=$(find "$T/out4-bad/blobs/sha256" -type f | sort | head -1)
printf 'X' | dd of="$blob" bs=1 seek=10 conv=notrunc status=none
run_lade verify --json "$T/out4-bad"
is "$RC" 1 "verify --json on a tampered layout exits 1"
like "$(for e in .ok .count '.problems[0]'; do json_get "$e" <<<"$OUT"; done | tr '\n' ' ')" \
	"^false 1 blob sha256:[0-9a-f]{64}: digest mismatch" "verify --json names the tampered blob"
done_testing
