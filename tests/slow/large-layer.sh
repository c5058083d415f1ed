#!/bin/bash
# Slow suite (not in the default run: `meson test -C build --suite slow`): layers larger than
# 4 GiB. A 4.5 GiB file fits ustar's 11 octal size digits; an 8.25 GiB one does not and must get
# a pax 'size' record (never GNU base-256, which not every reader takes). Both files are sparse
# on disk and read as zeros. Checked for gzip and zstd: sizes in the headers, the blob digest,
# and the diff_id as the sha256 of the decompressed tar.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 zstd gzip sha256sum truncate
export LC_ALL=C

avail=$(df --output=avail -B1 "$T" | tail -1)
[ "$avail" -gt $((4 << 30)) ] || skip_all "needs 4 GiB free in $T (has $avail bytes)"

R=$T/recipe
mkdir -p "$R/data"
truncate -s 4608M "$R/data/big.bin"   # 4.5 GiB of zeros, sparse
truncate -s 8448M "$R/data/huge.bin"  # 8.25 GiB
echo small >"$R/data/small.txt"
cat >"$R/recipe.yaml" <<'YAML'
name: large
tag: "1"
base: {scratch: true}
files:
  - {src: data/, dst: /data}
YAML

for comp in gzip zstd; do
	run_lade build "$R/recipe.yaml" -o "$T/out-$comp" --compression "$comp" --json -q
	is "$RC" 0 "$comp: a 4.5 GiB layer builds"
	[ "$RC" -eq 0 ] || { diag "$ERR"; continue; }
	read -r digest diff_id <<<"$(python3 -c '
import json, sys
l = json.loads(sys.argv[1])["images"][0]["layers"][-1]
print(l["digest"], l["diff_id"])' "$OUT")"
	blob=$T/out-$comp/blobs/sha256/${digest#sha256:}
	is "sha256:$(sha256_file "$blob")" "$digest" "$comp: the blob has its digest"
	case $comp in
	gzip) dec=(gzip -dc) ;;
	zstd) dec=(zstd -dcq) ;;
	esac
	is "sha256:$("${dec[@]}" "$blob" | sha256sum | cut -d' ' -f1)" "$diff_id" \
		"$comp: the decompressed tar has the diff_id"
	# The member headers: a pax 'size' record for the big file, and the right sizes.
	listing=$("${dec[@]}" "$blob" | python3 -c '
import sys, tarfile
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
    for m in t:
        print(m.name, m.size, "pax-size" if "size" in m.pax_headers else "-")')
	diag "$listing"
	like "$listing" "data/big.bin 4831838208 -" "$comp: big.bin: 4.5 GiB in the ustar size field"
	like "$listing" "data/huge.bin 8858370048 pax-size" "$comp: huge.bin: 8.25 GiB in a pax size record"
	like "$listing" "data/small.txt 6 -" "$comp: small.txt is a plain ustar entry"
	check "$comp: lade verify passes" "$LADE" verify "$T/out-$comp"
	rm -rf "$T/out-$comp"
done
done_testing
