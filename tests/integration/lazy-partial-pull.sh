#!/bin/bash
# zstd:chunked layers pulled partially by podman (Debian's podman and containers/storage with
# enable_partial_images, overlay storage) from a local docker-registry: a first pull fetches
# the layer through its TOC, and a second image whose app layer differs in one small file
# fetches only that file's bytes (the rest is deduplicated against the first, file by file).
# Needs root, podman and an overlay mount (skips with a message otherwise).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
source "$LADE_SRCDIR/tests/registry-lib.sh"
need_cmd podman python3
need_root "podman with overlay storage"
# lade writes the zstd:chunked format of containers/storage 1.43 (podman 4.3, Debian 12); podman
# 5 (Debian 13, containers/storage 1.57) wants the later one and pulls these layers in full.
pv=$(podman version --format '{{.Client.Version}}' 2>/dev/null || true)
case $pv in
4.*) ;;
*) skip_all "podman $pv reads a later zstd:chunked format than the containers/storage 1.43 one lade writes (podman 4.x)" ;;
esac
ensure_base
export LC_ALL=C LADE_NO_CACHE=1 XDG_CACHE_HOME=$T/xdg

o=$T/overlay-probe
mkdir -p "$o"/{lower,upper,work,merged}
mount -t overlay overlay -o "lowerdir=$o/lower,upperdir=$o/upper,workdir=$o/work" "$o/merged" 2>/dev/null ||
	skip_all "no overlay mounts here: containers/storage pulls partially only into overlay storage"
umount "$o/merged"

start_registry r
REG=127.0.0.1:$PORT_r

R=$T/recipe
hello_recipe "$R"
# 300 kB of text beside the app: the file the second pull must not fetch again
python3 -c 'import random, sys; random.seed(7); open(sys.argv[1], "w").write("".join(random.choice("abcdefghij \n") for _ in range(300000)))' "$R/app/data.txt"

cat >"$T/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$T/podman/run"
graphroot = "$T/podman/graph"
[storage.options]
pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos = ""}
CONF
export CONTAINERS_STORAGE_CONF=$T/storage.conf
at_exit "podman rmi --all --force >/dev/null 2>&1"

# pull TAG — podman pull with debug logs; prints the "Missing N bytes out of M" line of the
# layer it fetched partially.
pull() {
	podman --log-level=debug pull --tls-verify=false "$REG/app:$1" >"$T/pull-$1.log" 2>&1 ||
		{ diag "$(tail -n 5 "$T/pull-$1.log")"; return 1; }
	sed -n 's/.*msg="\(Missing [0-9]* bytes out of [0-9]* ([^)]*)\)".*/\1/p' "$T/pull-$1.log"
}

for v in 1 2; do
	echo "# version $v" >>"$R/app/hello.py"
	run_lade build "$R/recipe.yaml" --compression zstd --lazy zstd-chunked -o "$T/out$v" \
		--push "$REG/app:v$v" --tls-verify=false -q
	is "$RC" 0 "lade builds and pushes a zstd:chunked image (version $v)"
done

got=$(pull v1) || not_ok "podman pulls version 1"
like "$got" '^Missing [0-9]+ bytes out of [0-9]+ \(100\.00 %\)$' \
	"version 1: the zstd:chunked layer is retrieved partially, by its TOC (all of it: nothing local yet)"
check "podman did not fall back to a full download" grep -q 'Retrieved partial blob' "$T/pull-v1.log"
got=$(pull v2) || not_ok "podman pulls version 2"
read -r missing total < <(sed -n 's/^Missing \([0-9]*\) bytes out of \([0-9]*\).*/\1 \2/p' <<<"$got")
diag "version 2: $got"
check "version 2: only the changed file is fetched ($missing of $total bytes)" \
	test -n "$missing" -a "${missing:-0}" -gt 0 -a "${missing:-0}" -lt 10000 -a "${total:-0}" -gt 300000
# What podman stored is the image lade built: the layer's diff_id as containers/storage computed it.
is "$(podman image inspect --format '{{index .RootFS.Layers 1}}' "$REG/app:v2")" \
	"$(oci_diff_ids "$T/out2" | sed -n 2p)" "podman's layer has lade's diff_id"
done_testing
