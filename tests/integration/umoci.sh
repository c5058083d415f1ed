#!/bin/bash
# A scratch image unpacked by umoci must hold exactly the tree the recipe describes: nested
# dirs, normalised modes, an executable, symlinks, a hard link, a UTF-8 name, an owner on one
# item, mode 0444 on another, .dockerignore with a '!' exception, an exclude glob. The
# expected tree is computed from the inputs by a small model of the documented rules, then
# compared with `find -printf` and sha256 of every file. gzip and uncompressed layers.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd umoci python3 sha256sum
need_root "umoci unpack keeps owners only as root"
export LC_ALL=C

IN=$T/in
umask 077 # the inputs' own modes must not leak: lade normalises them
mkdir -p "$IN/tree/a/b/c" "$IN/tree/bin" "$IN/tree/cache" "$IN/conf/sub" "$IN/owned"
printf 'deep\n' >"$IN/tree/a/b/c/deep.txt"
printf 'nested tmp, not matched by the root-anchored *.tmp\n' >"$IN/tree/a/nested.tmp"
printf 'log\n' >"$IN/tree/a/b/y.log"
printf 'root log\n' >"$IN/tree/x.log"
printf '#!/bin/sh\necho run\n' >"$IN/tree/bin/run.sh"
chmod 0700 "$IN/tree/bin/run.sh"
printf 'private\n' >"$IN/tree/bin/data"
chmod 0600 "$IN/tree/bin/data"
printf 'same inode\n' >"$IN/tree/hard1"
ln "$IN/tree/hard1" "$IN/tree/hard2"
ln -s a/b/c/deep.txt "$IN/tree/link"
ln -s /etc/app/settings.conf "$IN/tree/abs-link"
printf 'unicode name\n' >"$IN/tree/ünïcødé-名前.txt"
printf 'cached\n' >"$IN/tree/cache/big.bin"
printf 'drop me\n' >"$IN/tree/drop.tmp"
printf 'keep me\n' >"$IN/tree/keep.tmp"
: >"$IN/tree/empty"
head -c 100000 /dev/urandom >"$IN/tree/random.bin"
cat >"$IN/tree/.dockerignore" <<'IGN'
# comment line
.dockerignore
cache
*.tmp
!keep.tmp
IGN
printf '[app]\nx = 1\n' >"$IN/conf/settings.conf"
printf '#!/bin/sh\n' >"$IN/conf/sub/hook"
chmod 0755 "$IN/conf/sub/hook"
printf 'mine\n' >"$IN/owned/owned.txt"
umask 022

cat >"$IN/recipe.yaml" <<'YAML'
name: tree
tag: t1
base: {scratch: true}
files:
  - src: tree/
    dst: /srv/data
    exclude: ["**/*.log"]
  - {src: conf/, dst: /etc/app, mode: "0444"}
  - {src: owned/owned.txt, dst: /home/user/owned.txt, owner: "1000:1000"}
YAML

# The model: what each recipe item must put in the image, from the files on disk.
cat >"$T/model.py" <<'PY'
import hashlib, os, stat, sys

IN = sys.argv[1]
out = {}

def parents(path):
    parts = path.split("/")
    for i in range(1, len(parts)):
        p = "/".join(parts[:i])
        out.setdefault(p, (p, "d", 0o755, "0:0", ""))

def add(path, st, host, owner, mode):
    parents(path)
    if stat.S_ISDIR(st.st_mode):
        out[path] = (path, "d", 0o755, owner, "")
    elif stat.S_ISLNK(st.st_mode):
        out[path] = (path, "l", 0o777, owner, os.readlink(host))
    else:
        m = mode if mode is not None else (0o755 if st.st_mode & stat.S_IXUSR else 0o644)
        h = hashlib.sha256(open(host, "rb").read()).hexdigest()
        out[path] = (path, "f", m, owner, "%d %s" % (st.st_size, h))

def item(src, dst, owner="0:0", mode=None, excluded=lambda rel: False):
    src = os.path.join(IN, src)
    dst = dst.strip("/")
    if not os.path.isdir(src):
        add(dst, os.lstat(src), src, owner, mode)
        return
    add(dst, os.lstat(src), src, owner, mode)
    for top, dirs, files in os.walk(src):
        reltop = os.path.relpath(top, src)
        for name in sorted(dirs + files):
            rel = name if reltop == "." else reltop + "/" + name
            if excluded(rel):
                if name in dirs:
                    dirs.remove(name)
                continue
            host = os.path.join(top, name)
            add(dst + "/" + rel, os.lstat(host), host, owner, mode)

def tree_excluded(rel):
    base = rel.rsplit("/", 1)[-1]
    if base.endswith(".log"):                      # exclude: ["**/*.log"]
        return True
    if rel in (".dockerignore", "cache"):          # .dockerignore: .dockerignore, cache
        return True
    if "/" not in rel and rel.endswith(".tmp") and rel != "keep.tmp":  # *.tmp, !keep.tmp
        return True
    return False

item("tree", "/srv/data", excluded=tree_excluded)
item("conf", "/etc/app", mode=0o444)
item("owned/owned.txt", "/home/user/owned.txt", owner="1000:1000")

listing, sums = [], []
for path in sorted(out, key=lambda p: p.encode()):
    p, t, m, o, extra = out[path]
    if t == "f":
        size, h = extra.split()
        listing.append("%s %s %o %s %s" % (p, t, m, o, size))
        sums.append("%s  %s" % (h, p))
    elif t == "l":
        listing.append("%s %s %o %s %s" % (p, t, m, o, extra))
    else:
        listing.append("%s %s %o %s" % (p, t, m, o))
open(sys.argv[2], "w").write("\n".join(listing) + "\n")
open(sys.argv[3], "w").write("\n".join(sums) + "\n")
PY
python3 "$T/model.py" "$IN" "$T/expected.list" "$T/expected.sums" || bail_out "the model failed"

actual_tree() {
	local rootfs=$1
	(cd "$rootfs" && find . -mindepth 1 \
		\( -type d -printf '%P %y %m %U:%G\n' \) -o \
		\( -type l -printf '%P %y %m %U:%G %l\n' \) -o \
		-printf '%P %y %m %U:%G %s\n' | sort)
}
actual_sums() {
	(cd "$1" && find . -type f -printf '%P\0' | sort -z | xargs -0 -r sha256sum)
}

declare -A DIGEST
for comp in gzip none; do
	run_lade build "$IN/recipe.yaml" -o "$T/out-$comp" --compression "$comp" -q
	is "$RC" 0 "[$comp] lade build exits 0"
	[ "$RC" -eq 0 ] || { diag "$ERR"; continue; }
	digest=$(printed_digest "$OUT")
	DIGEST[$comp]=$digest
	mt=$(oci_manifest "$T/out-$comp" "$digest" | json_get '.layers[].mediaType' | sort -u | tr '\n' ' ')
	if [ "$comp" = gzip ]; then want=application/vnd.oci.image.layer.v1.tar+gzip; else want=application/vnd.oci.image.layer.v1.tar; fi
	is "$mt" "$want " "[$comp] every layer has the media type $want"

	B=$T/bundle-$comp
	if ! out=$(umoci unpack --image "$T/out-$comp:t1" "$B" 2>&1); then
		not_ok "[$comp] umoci unpack"
		diag "$out"
		continue
	fi
	ok "[$comp] umoci unpack"
	actual_tree "$B/rootfs" >"$T/actual-$comp.list"
	if diff -u "$T/expected.list" "$T/actual-$comp.list" >"$T/diff" 2>&1; then
		ok "[$comp] the unpacked tree is exactly the expected one (paths, types, modes, owners, sizes, links)"
	else
		not_ok "[$comp] the unpacked tree is exactly the expected one (paths, types, modes, owners, sizes, links)"
		diag "$(cat "$T/diff")"
	fi
	actual_sums "$B/rootfs" >"$T/actual-$comp.sums"
	if diff -u "$T/expected.sums" "$T/actual-$comp.sums" >"$T/diff" 2>&1; then
		ok "[$comp] every file has the expected content"
	else
		not_ok "[$comp] every file has the expected content"
		diag "$(cat "$T/diff")"
	fi
	is "$(stat -c %i "$B/rootfs/srv/data/hard1")" "$(stat -c %i "$B/rootfs/srv/data/hard2")" \
		"[$comp] hard1 and hard2 are one inode (a hard link in the layer)"
done

# The same tar whatever the compression.
if [ -f "$T/out-gzip/index.json" ] && [ -f "$T/out-none/index.json" ]; then
	if command -v skopeo >/dev/null; then
		is "$(skopeo_diff_ids "oci:$T/out-gzip:t1")" "$(skopeo_diff_ids "oci:$T/out-none:t1")" \
			"gzip and none builds have the same diff_id"
	fi
	# With --compression none each blob is the tar itself: its digest is its diff_id.
	paste -d' ' <(oci_layers "$T/out-none" "${DIGEST[none]}") \
		<(oci_diff_ids "$T/out-none" "${DIGEST[none]}") >"$T/none-layers"
	bad=0
	: >"$T/none-tars"
	while read -r digest diffid; do
		sum=sha256:$(sha256_file "$(oci_blob "$T/out-none" "$digest")")
		[ "$sum" = "$digest" ] && [ "$sum" = "$diffid" ] || { bad=1; diag "layer $digest: sha256 $sum, diff_id $diffid"; }
		tar --numeric-owner -tvf "$(oci_blob "$T/out-none" "$digest")" >>"$T/none-tars"
	done <"$T/none-layers"
	like "$(wc -l <"$T/none-layers")" '^[1-9]' "[none] the image has layers"
	is "$bad" 0 "[none] every layer blob's sha256 is both its digest and its diff_id"
	like "$(cat "$T/none-tars")" 'srv/data/hard2 link to srv/data/hard1' \
		"the tar stores hard2 as a hard link to hard1 (first in sorted order)"
fi

done_testing
