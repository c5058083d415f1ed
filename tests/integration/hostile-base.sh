#!/bin/bash
# Hostile base images (tests/fixtures/make-hostile-base.py: one OCI layout per case, correct
# digests, one gzip layer from hand-made tar headers). Refused: '../' and absolute entries, a
# file written through a symlink whose target climbs above the root (relative, or absolute:
# absolute targets resolve from the image root, as containerd does), a hard link to a path not
# yet written or to a directory, a path twice in a layer, a decompression bomb (1 GiB of zeros,
# ratio guard), a wrong diff_id, data after the tar's end-of-archive (a second tar in the same
# gzip member or in another one) and trailing garbage after the gzip stream: exit 1, the
# exact error naming the base, the layer and the entry, and the output layout's index.json,
# blobs and verification unchanged (the only file a refusal may add is the refused layer's own
# verified blob, never named by index.json). Kept verbatim, as real tools do (lade never
# extracts a base): device nodes and fifos, setuid/setgid files, a file written through an
# absolute symlink (inside the root), zero padding after the tar and after the gzip stream.
# `lade verify` of each hostile layout agrees with the build.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 tar cmp sha256sum
export LC_ALL=C

H=$T/hostile
python3 "$LADE_SRCDIR/tests/fixtures/make-hostile-base.py" "$H" >"$T/layers" 2>"$T/make.err" ||
	bail_out "make-hostile-base.py failed: $(cat "$T/make.err")"
layer_of() { # CASE — the digest of the case's layer
	sed -n "s/^$1 //p" "$T/layers"
}

# The recipe: a small app on the case's base, into a layout that already holds an image.
mkdir -p "$T/r/app"
printf 'print("hello")\n' >"$T/r/app/main.py"
recipe() { # BASE-YAML
	cat >"$T/r/recipe.yaml" <<YAML
name: hostile
tag: "new"
base: $1
files:
  - {src: app/, dst: /app}
YAML
}
O=$T/out
recipe "{scratch: true}"
run_lade build "$T/r/recipe.yaml" -o "$O" --tag old -q
is "$RC" 0 "the previous image builds" || diag "$ERR"
cp "$O/index.json" "$T/index.before"
blob_sums() { (cd "$O/blobs/sha256" && sha256sum -- * | sort); }
blob_sums >"$T/blobs.before"

# refused CASE ERROR-AFTER-LAYER — lade build on the case's base exits 1 with
# "lade: error: base oci:H/CASE:hostile: layer DIGEST<ERROR-AFTER-LAYER>", and the layout is
# as it was.
refused() {
	local case=$1 want=$2 digest
	digest=$(layer_of "$case")
	recipe "{oci: \"$H/$case:hostile\"}"
	run_lade build "$T/r/recipe.yaml" -o "$O" -q
	is "$RC" 1 "$case: exit 1"
	is "$ERR" "lade: error: base oci:$H/$case:hostile: layer $digest$want" "$case: the error"
	check "$case: index.json unchanged" cmp "$O/index.json" "$T/index.before"
	# Every blob that was there is there, byte for byte; nothing else but the refused layer.
	local extra
	extra=$(blob_sums | grep -vxF -f "$T/blobs.before")
	is "$(comm -23 "$T/blobs.before" <(blob_sums))" "" "$case: the previous blobs are intact"
	if [ -n "$extra" ]; then
		is "$extra" "${digest#sha256:}  ${digest#sha256:}" "$case: only the refused layer's own blob was added"
		rm -f "$(oci_blob "$O" "$digest")"
	fi
	is "$(find "$O" -name '.tmp-*')" "" "$case: no temp file left"
	check "$case: the layout verifies" "$LADE" verify "$O"
}

refused dotdot " entry '../evil': path escapes the root"
refused absolute " entry '/etc/evil': absolute path"
refused symlink " entry 'link/evil': written through the symlink 'link', whose target escapes the root"
refused abs-dotdot " entry 'link/evil': written through the symlink 'link', whose target escapes the root"
refused hardlink-dir " entry 'dirlink': hard link to the directory 'etc'"
refused hardlink " entry 'early': hard link to 'late', which is not earlier in the layer"
refused duplicate " entry 'etc/dup': duplicate path in the layer"
bomb_size=$(stat -c %s "$(oci_blob "$H/bomb" "$(layer_of bomb)")")
refused bomb ": more than 1000 times its compressed size ($bomb_size bytes) uncompressed: refused as a decompression bomb"
# the first tar of these ends at byte 2560: two headers, one data block, two zero blocks
after_end=": data after the tar's end-of-archive at byte 2560 of the uncompressed stream (only zero padding may follow it, not a second archive or other data)"
refused tar-after "$after_end"
refused member-after "$after_end"
refused gzip-garbage ": trailing garbage after gzip stream"
refused diffid ": diff_id mismatch (expected sha256:$(printf '0%.0s' $(seq 64)), got sha256:$(
	gzip -dc "$(oci_blob "$H/diffid" "$(layer_of diffid)")" | sha256sum | cut -d' ' -f1))"

# kept CASE TAR-LISTING-REGEX — the build succeeds, the base layer is in the manifest verbatim
# (same digest) and still holds what the regex describes.
kept() {
	local case=$1 regex=$2 digest manifest
	digest=$(layer_of "$case")
	recipe "{oci: \"$H/$case:hostile\"}"
	run_lade build "$T/r/recipe.yaml" -o "$O" --tag "$case" -q
	is "$RC" 0 "$case: the build succeeds" || diag "$ERR"
	manifest=$(printed_digest "$OUT")
	like "$(oci_manifest "$O" "$manifest" 2>&1)" "\"digest\":\"$digest\"" \
		"$case: the base layer is reused verbatim"
	like "$(tar -tvzf "$(oci_blob "$O" "$digest")" 2>&1 | tr -s ' ' | tr '\n' '|')" "$regex" \
		"$case: the layer keeps its entries"
	check "$case: the layout verifies" "$LADE" verify "$O"
}
kept device 'crw-rw-rw- 0/0 1,3 [^|]* dev/null\|prw------- 0/0 0 [^|]* dev/fifo'
kept setuid '-rwsr-xr-x 0/0 [0-9]+ [^|]* usr/bin/su\|-rwxr-sr-x 0/0 [0-9]+ [^|]* usr/bin/wall'
kept abs-symlink 'lrwxrwxrwx 0/0 0 [^|]* link -> /etc\|-rw-r--r-- 0/0 [0-9]+ [^|]* link/inside'
kept zero-padding '-rw-r--r-- 0/0 [0-9]+ [^|]* etc/os-release'

# lade verify of the hostile layouts themselves: the same rules.
verify_problem() { # CASE REGEX
	run_lade verify "$H/$1"
	is "$RC" 1 "verify $1: exit 1"
	like "$OUT$ERR" "$2" "verify $1: the problem is named"
}
verify_problem symlink "entry 'link/evil' is written through the symlink 'link', whose target escapes the root"
verify_problem abs-dotdot "entry 'link/evil' is written through the symlink 'link', whose target escapes the root"
verify_problem hardlink-dir "hard link 'dirlink' points to the directory 'etc'"
verify_problem tar-after "data after the tar's end-of-archive at byte 2560"
verify_problem member-after "data after the tar's end-of-archive at byte 2560"
verify_problem gzip-garbage "trailing garbage after gzip stream"
for case in abs-symlink zero-padding device setuid; do
	check "verify $case: no problem" "$LADE" verify "$H/$case"
done

# The previous image is still there and named.
like "$(cat "$O/index.json")" '"org.opencontainers.image.ref.name":"old"' "the previous image is still tagged"

done_testing
