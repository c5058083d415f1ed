#!/bin/bash
# The same inputs give the same bytes: two copies of a recipe (and its base, named by a
# relative path) in different directories, made with different umask, TZ, locale, file
# mtimes and creation order, built with -j 1 and -j 2, give identical index.json and blobs.
# SOURCE_DATE_EPOCH changes the digest and is the mtime of every tar entry.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 tar
ensure_base

# make_inputs DIR ORDER(forward|reverse) UMASK MTIME — the recipe, app/ and data/ trees.
make_inputs() {
	local dir=$1 order=$2 mask=$3 mtime=$4 i names
	(
		umask "$mask"
		mkdir -p "$dir/app/pkg/sub" "$dir/data"
		names=$(seq -w 1 24)
		[ "$order" = reverse ] && names=$(seq -w 24 -1 1)
		for i in $names; do
			printf 'module %s\n' "$i" >"$dir/app/pkg/mod$i.py"
			printf 'data %s %s\n' "$i" "$(printf '%0*d' "$((10#$i * 40))" 0)" >"$dir/data/d$i.txt"
		done
		if [ "$order" = reverse ]; then
			printf 'x\n' >"$dir/app/pkg/sub/z.txt"
			printf 'a\n' >"$dir/app/pkg/sub/a.txt"
		else
			printf 'a\n' >"$dir/app/pkg/sub/a.txt"
			printf 'x\n' >"$dir/app/pkg/sub/z.txt"
		fi
		cp "$LADE_SRCDIR/recipes/hello/app/hello.py" "$dir/app/hello.py"
		printf '#!/bin/sh\nexec python3 /app/hello.py "$@"\n' >"$dir/app/run.sh"
		chmod u+x "$dir/app/run.sh"
		ln -sf hello.py "$dir/app/main.py"
		ln -f "$dir/data/d01.txt" "$dir/data/hard.txt"
		# Each copy has its own base next to the recipe, named relatively: where the
		# checkout lives must not show in the image.
		cp -r "$BASE_OCI" "$dir/base"
		cat >"$dir/recipe.yaml" <<YAML
name: det
tag: "1"
base: {oci: "base:$BASE_TAG"}
files:
  - {src: app/, dst: /app, owner: "10001:10001"}
  - {src: data/, dst: /data, mode: "0444"}
config:
  env: {PYTHONUNBUFFERED: "1", APP_MODE: "test"}
  entrypoint: ["/usr/bin/python3", "/app/hello.py"]
  labels: {a.b: "1", z.y: "2", m: "3"}
YAML
		find "$dir" -exec touch -h -d "$mtime" {} +
	)
}

A=$T/a
B=$T/some/other/place/b
make_inputs "$A" forward 022 "2001-02-03 04:05:06"
make_inputs "$B" reverse 077 "2020-12-31 23:59:59"
check "the two input trees differ in their metadata" \
	bash -c "[ \"\$(stat -c %a '$A/app/pkg/mod01.py')\" != \"\$(stat -c %a '$B/app/pkg/mod01.py')\" ]"

run_lade_env() { # ENV... -- ARGS: run lade with an environment
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local o e
	o=$(mktemp "$T/.out.XXXXXX"); e=$(mktemp "$T/.err.XXXXXX")
	env -u SOURCE_DATE_EPOCH "${envs[@]}" "$LADE" "$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o"); ERR=$(cat "$e")
}

run_lade_env TZ=UTC LANG=C LC_ALL=C -- build "$A/recipe.yaml" -o "$A/out" -j 1 -q
is "$RC" 0 "build A (umask 022, UTC, C locale, -j 1)"
[ "$RC" -eq 0 ] || diag "$ERR"
dA=$(printed_digest "$OUT")
(
	umask 077
	cd "$B" || exit 1
	run_lade_env TZ=Asia/Tokyo LANG=C.UTF-8 LC_ALL=C.UTF-8 -- build recipe.yaml -o out -j 2 -q
	printf '%s\n' "$OUT" >"$T/b.out"
	printf '%s\n' "$ERR" >"$T/b.err"
	exit "$RC"
)
rcB=$?
is "$rcB" 0 "build B (umask 077, Asia/Tokyo, C.UTF-8, -j 2, relative paths)"
[ "$rcB" -eq 0 ] || diag "$(cat "$T/b.err")"
dB=$(printed_digest "$(cat "$T/b.out")")

is "$dB" "$dA" "the same manifest digest"
if [ "$dA" != "$dB" ] && [ -n "$dA" ] && [ -n "$dB" ]; then
	diag "manifest A: $(oci_manifest "$A/out" "$dA" 2>&1)"
	diag "manifest B: $(oci_manifest "$B/out" "$dB" 2>&1)"
fi
check "index.json is byte-identical" cmp "$A/out/index.json" "$B/out/index.json"
check "oci-layout is byte-identical" cmp "$A/out/oci-layout" "$B/out/oci-layout"
check "the same set of blobs, each byte-identical" diff -r "$A/out/blobs" "$B/out/blobs"
nblobs=$(find "$A/out/blobs" -type f | wc -l)
is "$(find "$B/out/blobs" -type f | wc -l)" "$nblobs" "the same number of blobs ($nblobs)"

# Every blob is named by its own sha256 (nothing half written or misnamed).
bad=0
for f in "$A"/out/blobs/sha256/*; do
	[ "$(sha256_file "$f")" = "$(basename "$f")" ] || { bad=1; diag "blob $f does not match its name"; }
done
is "$bad" 0 "every blob's name is its sha256"

# Rebuilding into the same layout changes nothing.
cp "$A/out/index.json" "$T/index.before"
run_lade_env -- build "$A/recipe.yaml" -o "$A/out" -q
is "$RC" 0 "rebuild into the same layout"
check "a rebuild leaves index.json byte-identical" cmp "$T/index.before" "$A/out/index.json"

# Layers lade wrote (after the base's).
lade_layers() { # LAYOUT MANIFEST-DIGEST NBASE
	oci_layers "$1" "$2" | tail -n +$(($3 + 1))
}
nbase=$(oci_layers "$BASE_OCI" "$BASE_TAG" | wc -l)

# Without SOURCE_DATE_EPOCH every entry has mtime 0.
times=$(lade_layers "$A/out" "$dA" "$nbase" | while read -r blob; do
	TZ=UTC tar --numeric-owner --full-time -tvzf "$(oci_blob "$A/out" "$blob")" | awk '{print $4, $5}'
done | sort -u)
is "$times" "1970-01-01 00:00:00" "without SOURCE_DATE_EPOCH every tar entry has mtime 0"

# SOURCE_DATE_EPOCH: another digest, and it is the mtime of every entry and the created time.
run_lade_env SOURCE_DATE_EPOCH=1700000000 -- build "$A/recipe.yaml" -o "$T/sde" -q
is "$RC" 0 "build with SOURCE_DATE_EPOCH=1700000000"
dS=$(printed_digest "$OUT")
like "$dS" '^sha256:[0-9a-f]{64}$' "it prints a digest"
if [ "$dS" != "$dA" ]; then ok "SOURCE_DATE_EPOCH changes the manifest digest"; else not_ok "SOURCE_DATE_EPOCH changes the manifest digest"; fi
times=$(lade_layers "$T/sde" "$dS" "$nbase" | while read -r blob; do
	TZ=UTC tar --numeric-owner --full-time -tvzf "$(oci_blob "$T/sde" "$blob")" | awk '{print $4, $5}'
done | sort -u)
is "$times" "2023-11-14 22:13:20" "every tar entry's mtime is SOURCE_DATE_EPOCH"
if command -v skopeo >/dev/null; then
	is "$(skopeo inspect --format '{{.Created}}' "oci:$T/sde:1" | cut -c1-19)" "2023-11-14 22:13:20" \
		"the config's created time is SOURCE_DATE_EPOCH"
fi
run_lade_env SOURCE_DATE_EPOCH=1700000000 -- build "$B/recipe.yaml" -o "$T/sde2" -j 2 -q
is "$(printed_digest "$OUT")" "$dS" "the same SOURCE_DATE_EPOCH gives the same digest from the other copy"

done_testing
