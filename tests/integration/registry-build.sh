#!/bin/bash
# Registries in `lade build`: a base image pulled from a registry by digest (pinned, verified,
# kept in lade's content store, the layer cache's), the same build --offline with the registry stopped, --offline with
# an empty store failing clearly, an unpinned base refused unless allowed, and --push of the
# result whose digest skopeo sees unchanged.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
source "$LADE_SRCDIR/tests/registry-lib.sh"
need_cmd skopeo
ensure_base
export LC_ALL=C XDG_CACHE_HOME=$T/xdg

start_registry r
REG=127.0.0.1:$PORT_r

check "skopeo pushes the test base to the registry" \
	skopeo copy --quiet --dest-tls-verify=false "oci:$BASE_REF" "docker://$REG/base:$TEST_PYVER"
base_digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/base:$TEST_PYVER")
like "$base_digest" '^sha256:[0-9a-f]{64}$' "the registry names the base by digest"

R=$T/recipe
hello_recipe "$R" "{image: \"$REG/base:$TEST_PYVER@$base_digest\"}"
run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "a build on a pinned registry base exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
d1=$(printed_digest "$OUT")
hello_recipe "$T/local"
run_lade build "$T/local/recipe.yaml" -o "$T/out-local" -q
is "$(skopeo inspect --format '{{.Layers}}' "oci:$T/out:1.0")" \
	"$(skopeo inspect --format '{{.Layers}}' "oci:$T/out-local:1.0")" \
	"the same layers as the build on the local copy of the base"
check "lade verify passes" "$LADE" verify "$T/out"
# One content store: the pulled base sits in the layer cache's store (~/.cache/lade here
# $XDG_CACHE_HOME/lade), named by its full reference, with no second store beside it.
like "$(cat "$T/xdg/lade/index.json" 2>/dev/null)" "\"org.opencontainers.image.ref.name\":\"$REG/base:$TEST_PYVER@$base_digest\"" \
	"the base is named in lade's content store"
check "no separate image store" test ! -e "$T/xdg/lade/images"
LADE_NO_CACHE= run_lade build "$R/recipe.yaml" -o "$T/out-cached" -q
is "$RC" 0 "with the layer cache on (it holds the store's lock), the pull goes through it"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$(printed_digest "$OUT")" "$d1" "the same digest with the cache on"
like "$(ls "$T/xdg/lade/layers" 2>/dev/null | head -1)" '^[0-9a-f]{64}\.json$' \
	"the layer cache entries are in the same directory"
if command -v buildah >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
	BUILDAH=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)
	at_exit "${BUILDAH[*]} rm --all >/dev/null 2>&1; ${BUILDAH[*]} rmi --all --force >/dev/null 2>&1"
	ctr=$("${BUILDAH[@]}" from --quiet "oci:$T/out:1.0")
	is "$("${BUILDAH[@]}" run "$ctr" -- /usr/bin/python3 -c 'import hello' 2>&1; echo "rc=$?")" "rc=0" \
		"the image built on the pulled base runs under buildah (python imports the app)"
else
	ok "# SKIP buildah run needs root and buildah"
fi

# Offline: the registry is gone, the store has everything.
stop_registry r
run_lade build "$R/recipe.yaml" -o "$T/out2" --offline -q
is "$RC" 0 "--offline with the base in the store builds with the registry stopped"
is "$(printed_digest "$OUT")" "$d1" "and gives the same digest"
XDG_CACHE_HOME=$T/empty run_lade build "$R/recipe.yaml" -o "$T/out3" --offline -q
is "$RC" 1 "--offline with an empty store fails"
like "$ERR" "offline" "the error says the image is not in the store (offline)"
check "no index.json after the offline failure" test ! -e "$T/out3/index.json"

# Unpinned: refused unless allowed.
hello_recipe "$T/unpinned" "{image: \"$REG/base:$TEST_PYVER\"}"
run_lade build "$T/unpinned/recipe.yaml" -o "$T/out4" --offline -q
is "$RC" 1 "an unpinned registry base is refused"
like "$ERR" "not pinned" "the error says it is not pinned"

# --push: the registry again, on the same storage.
restart_registry r
run_lade build "$R/recipe.yaml" -o "$T/out5" --push "$REG/hello:1.0" -q
is "$RC" 0 "build --push exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/hello:1.0")" "$d1" \
	"the registry has the image under the local digest"
done_testing
