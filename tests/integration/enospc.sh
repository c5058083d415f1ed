#!/bin/bash
# ENOSPC mid-build: the output layout on a small tmpfs (8 MiB) and a build that needs more
# (16 MB of incompressible app data on a scratch base): exit 1 with one clear line naming
# "No space left on device", no index.json (or the old one unchanged), no temp file left, and
# the layout still verifies. A later build that fits succeeds in the same layout.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 mount umount cmp
need_root "mount -t tmpfs"
export LC_ALL=C

SMALL=$T/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=8m,mode=0755 lade-enospc "$SMALL" 2>"$T/mount.err" ||
	skip_all "cannot mount a tmpfs here: $(cat "$T/mount.err")"
at_exit "umount -l '$SMALL'"

# big: the hello app with 16 MB of random data; the hello recipe itself is small.
hello_recipe "$T/big" "{scratch: true}"
head -c 16000000 /dev/urandom >"$T/big/app/data.bin"
hello_recipe "$T/small-recipe" "{scratch: true}"

# no_temps DIR — no .tmp-* file anywhere in DIR.
no_temps() {
	[ -z "$(find "$1" -name '.tmp-*')" ]
}

# 1. An empty layout: nothing is referenced.
L=$SMALL/fresh
run_lade build "$T/big/recipe.yaml" -o "$L" --compression none -q
diag "$ERR"
is "$RC" 1 "a build that does not fit: exit 1"
like "$ERR" "No space left on device" "the error says No space left on device"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "the error is one line"
like "$ERR" "^lade: error: .*$L" "the error names the output layout"
check "no index.json" test ! -e "$L/index.json"
check "no temp file left" no_temps "$L"
rm -rf "$L"

# 2. A layout with an image: the old index stays, byte for byte, and still verifies.
L=$SMALL/old
run_lade build "$T/small-recipe/recipe.yaml" -o "$L" -q
is "$RC" 0 "a small image fits" || diag "$ERR"
cp "$L/index.json" "$T/old-index.json"
run_lade build "$T/big/recipe.yaml" -o "$L" --tag big --compression none -q
is "$RC" 1 "a build that does not fit into a layout with an image: exit 1"
like "$ERR" "No space left on device" "the error says No space left on device"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "the error is one line"
check "index.json is unchanged" cmp "$L/index.json" "$T/old-index.json"
check "no temp file left" no_temps "$L"
check "the layout verifies" "$LADE" verify "$L"

# 3. The space is usable again: a build that fits succeeds in the same layout.
run_lade build "$T/small-recipe/recipe.yaml" -o "$L" --tag again -q
is "$RC" 0 "a build that fits after the failure succeeds" || diag "$ERR"
check "the layout verifies after it" "$LADE" verify "$L"

# 4. Full before index.json: fill the tmpfs, leave room for the blobs only; whatever fails,
# the old index must survive intact.
run_lade build "$T/small-recipe/recipe.yaml" -o "$L" --tag filled -q
cp "$L/index.json" "$T/old-index.json"
head -c 16000000 /dev/zero >"$SMALL/filler" 2>/dev/null
printf 'print("changed")\n' >"$T/small-recipe/app/changed.py"
run_lade build "$T/small-recipe/recipe.yaml" -o "$L" --tag full -q
is "$RC" 1 "a build into a full file system: exit 1"
like "$ERR" "No space left on device" "the error says No space left on device"
check "index.json is unchanged" cmp "$L/index.json" "$T/old-index.json"
check "no temp file left" no_temps "$L"
rm -f "$SMALL/filler"
check "the layout verifies" "$LADE" verify "$L"

done_testing
