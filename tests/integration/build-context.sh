#!/bin/bash
# files[].src must resolve inside the build context (the recipe's directory, or its context:
# key), symlinks resolved as the host resolves them, as Docker confines COPY to its context:
# `src: ../../x`, a src that is a symlink to an outside directory, and a src reached through such
# a symlink are refused with the item's file:line:col and nothing is written, unless
# --allow-outside-context is given. Symlinks inside a copied directory are copied as symlinks
# (never followed, as COPY does), so an inside link to an outside directory brings nothing in.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 tar gzip
ensure_base

# Outside every context below: a directory with a secret, and a file.
mkdir -p "$T/outside/secret-dir"
printf 'RUNNER-SECRET-%s\n' "$$" >"$T/outside/secret-dir/token"
printf 'RUNNER-SECRET-%s\n' "$$" >"$T/outside/x"
SECRET="RUNNER-SECRET-$$"

recipe() { # DIR FILES-YAML [EXTRA-YAML] — the recipe, the files item on line 4
	mkdir -p "$1/app"
	printf 'print("hi")\n' >"$1/app/main.py"
	printf 'name: ctx\ntag: t\nbase: {oci: "%s"}\nfiles: [%s]\n%s' "$BASE_REF" "$2" \
		"${3:-}" >"$1/recipe.yaml"
}

# refused NAME DIR SRC-TEXT — lade build exits 1 naming recipe.yaml:4:col, the src as written,
# and the context; no index.json is written.
refused() {
	local name=$1 dir=$2 src=$3 ctx
	ctx=$(realpath "${4:-$dir}")
	run_lade build "$dir/recipe.yaml" -o "$dir/out" -q
	diag "$name: $ERR"
	is "$RC" 1 "$name: exit 1"
	like "$ERR" "^lade: error: $dir/recipe\\.yaml:4:[0-9]+: files\\[0\\]\\.src '$src' resolves to [^ ]+, outside the build context $ctx \\(--allow-outside-context allows it\\)\$" \
		"$name: the error names the item's file:line:col, the src and the context"
	check "$name: no index.json written" test ! -e "$dir/out/index.json"
}

# holds LAYOUT REGEX — some layer of the layout lists an entry matching REGEX (tar -tv).
listing() {
	local l
	for l in $(oci_layers "$1"); do
		tar -tvzf "$(oci_blob "$1" "$l")" 2>/dev/null
	done
}
secret_in() { # LAYOUT — does any layer hold the secret's bytes?
	local l
	for l in $(oci_layers "$1"); do
		gzip -dc "$(oci_blob "$1" "$l")" 2>/dev/null | grep -c "$SECRET" >/dev/null && return 0
	done
	return 1
}

# 1. src: ../../x (two levels up from the recipe dir $T/a/b).
mkdir -p "$T/a/b"
recipe "$T/a/b" "{src: ../../outside/x, dst: /x}"
refused "src: ../../outside/x" "$T/a/b" '\.\./\.\./outside/x'

# 2. src is a symlink to an outside directory.
recipe "$T/link" "{src: data/, dst: /data}"
ln -s "$T/outside/secret-dir" "$T/link/data"
refused "src a symlink to an outside directory" "$T/link" 'data/'

# 3. src reached through such a symlink.
recipe "$T/via" "{src: data/token, dst: /token}"
ln -s "$T/outside/secret-dir" "$T/via/data"
refused "src through a symlink to an outside directory" "$T/via" 'data/token'

# 4. --allow-outside-context: the same recipe builds and the content is copied.
run_lade build "$T/link/recipe.yaml" -o "$T/link/out" -q --allow-outside-context
is "$RC" 0 "--allow-outside-context: the build succeeds" || diag "$ERR"
check "--allow-outside-context: the outside content is in the image" secret_in "$T/link/out"

# 5. A symlink inside a copied directory that points outside is copied as a symlink: the build
# succeeds, the image has the link, and none of the outside bytes.
recipe "$T/inner" "{src: app/, dst: /app}"
ln -s "$T/outside/secret-dir" "$T/inner/app/escape"
run_lade build "$T/inner/recipe.yaml" -o "$T/inner/out" -q
is "$RC" 0 "inner symlink to outside: the build succeeds" || diag "$ERR"
like "$(listing "$T/inner/out")" "app/escape -> $T/outside/secret-dir" "the link is copied as a link"
if secret_in "$T/inner/out"; then
	not_ok "the link's target is not read"
else
	ok "the link's target is not read"
fi

# 6. A symlink src that stays inside the context is followed, as COPY does.
recipe "$T/inside" "{src: current/, dst: /app}"
ln -s app "$T/inside/current"
run_lade build "$T/inside/recipe.yaml" -o "$T/inside/out" -q
is "$RC" 0 "a src symlink inside the context builds" || diag "$ERR"
like "$(listing "$T/inside/out")" " app/main\\.py" "its target's files are copied"

# 7. context: .. widens the context to the parent: ../x inside it builds without the flag;
# a src outside that context is still refused, naming it.
mkdir -p "$T/repo/deploy" "$T/repo/src"
printf 'print("repo")\n' >"$T/repo/src/main.py"
recipe "$T/repo/deploy" "{src: ../src/, dst: /app}" $'context: ..\n'
run_lade build "$T/repo/deploy/recipe.yaml" -o "$T/repo/out" -q
is "$RC" 0 "context: .. lets ../src/ in" || diag "$ERR"
recipe "$T/repo/deploy" "{src: ../../outside/x, dst: /x}" $'context: ..\n'
refused "outside context: .." "$T/repo/deploy" '\.\./\.\./outside/x' "$T/repo"

done_testing
