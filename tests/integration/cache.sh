#!/bin/bash
# The layer cache end to end: a second build of unchanged inputs writes no new blob; changing
# one app file rebuilds exactly the app layer; changing a wheel rebuilds only the layer that
# holds it; a corrupted cache blob is detected, dropped and rebuilt — never used.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3
ensure_base
export LC_ALL=C
unset LADE_NO_CACHE
export LADE_CACHE_DIR=$T/cache

R=$T/recipe
hello_recipe "$R"
W=$R/wheels
mkdir -p "$W"
python3 - "$W" <<'PY' || bail_out "cannot make the fixture wheels"
import os, sys
from wheelkit import mw
mw.simple(sys.argv[1], "alpha", "1.0", {"alpha/__init__.py": b"A = 1\n"})
mw.simple(sys.argv[1], "bigpkg", "1.0", {"bigpkg/__init__.py": b"", "bigpkg/data.bin": os.urandom(3 << 20)})
PY
write_lock() {
	: >"$R/requirements.lock"
	for f in "$W"/*.whl; do
		n=$(basename "$f" | cut -d- -f1)
		printf '%s==1.0 --hash=sha256:%s\n' "$n" "$(sha256_file "$f")" >>"$R/requirements.lock"
	done
}
write_lock
cat >>"$R/recipe.yaml" <<YAML
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: requirements.lock
  wheelhouse: [wheels/]
layers: {split-threshold: 1MiB}
YAML

layers() { # the layer digests of the image lade printed last
	json_get '.images[0].layers[].digest' <<<"$1"
}
own_layers() { # the layers that are not the base's, one JSON object a line
	json_get '.images[0].layers[]' <<<"$1" | grep -F '"from_base": false'
}
blob_state() { find "$T/out/blobs" -type f -printf '%P %i %T@\n' | sort; }

run_lade build "$R/recipe.yaml" -o "$T/out" --json -q
is "$RC" 0 "first build"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
first=$OUT
L1=$(layers "$first")
before=$(blob_state)

run_lade build "$R/recipe.yaml" -o "$T/out" --json -q
is "$RC" 0 "second build of unchanged inputs"
is "$(json_get '.refs[0].digest' <<<"$OUT")" "$(json_get '.refs[0].digest' <<<"$first")" "same manifest digest"
is "$(blob_state)" "$before" "no blob was written again (same inodes and mtimes)"
is "$(own_layers "$OUT" | grep -vc '"reused": true') $(own_layers "$OUT" | wc -l)" \
	"0 $(own_layers "$first" | wc -l)" "every layer is reported as reused"

# A fresh layout from the cache: every layer comes from the cache, bytes identical.
run_lade build "$R/recipe.yaml" -o "$T/out-fresh" --json -q
is "$(layers "$OUT")" "$L1" "a fresh layout gets the same layers from the cache"
check "lade verify passes on it" "$LADE" verify "$T/out-fresh"

# One app file changes: exactly one layer (the app layer, last) changes.
echo "# changed" >>"$R/app/hello.py"
run_lade build "$R/recipe.yaml" -o "$T/out" --json -q
L2=$(layers "$OUT")
is "$(diff <(echo "$L1") <(echo "$L2") | grep -c '^>')" 1 "an app change gives exactly one new layer"
if [ "$(head -n -1 <<<"$L1")" = "$(head -n -1 <<<"$L2")" ]; then ok "every layer but the app layer is unchanged"; else not_ok "every layer but the app layer is unchanged"; fi

# A wheel changes: the layer that holds it changes, the others do not.
python3 - "$W" <<'PY'
import os, sys
from wheelkit import mw
mw.simple(sys.argv[1], "alpha", "1.0", {"alpha/__init__.py": b"A = 2\n"})
PY
write_lock
run_lade build "$R/recipe.yaml" -o "$T/out" --json -q
L3=$(layers "$OUT")
is "$(diff <(echo "$L2") <(echo "$L3") | grep -c '^>')" 1 "a changed small wheel gives exactly one new layer"
big_layer=$(comm -12 <(sort <<<"$L2") <(sort <<<"$L3") | wc -l)
is "$big_layer" "$(($(wc -l <<<"$L3") - 1))" "the big wheel's own layer and the rest are reused"

# Corrupt every cached blob: the next build into a fresh layout must detect it and rebuild.
find "$T/cache" -path '*/blobs/sha256/*' -type f -size +1k | while read -r f; do
	printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
done
run_lade build "$R/recipe.yaml" -o "$T/out-after" --json
is "$RC" 0 "a build with a corrupted cache still succeeds"
is "$(layers "$OUT")" "$L3" "and gives the same layers (rebuilt, not the corrupted bytes)"
check "lade verify passes after the corrupted cache" "$LADE" verify "$T/out-after"
done_testing
