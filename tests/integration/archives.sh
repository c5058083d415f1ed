#!/bin/bash
# `lade build --format oci-archive|docker-archive -o FILE` on recipes/hello: the tars are
# deterministic, skopeo copies them (the manifest digest survives oci-archive), the copies pass
# `lade verify`, and `podman load` takes the docker-archive with its tag.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd skopeo python3 tar
ensure_base

R=$T/hello
hello_recipe "$R"

run_lade build "$R/recipe.yaml" --format oci-archive -o "$T/hello-oci.tar" -q
is "$RC" 0 "lade build --format oci-archive exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"

run_lade build "$R/recipe.yaml" -o "$T/layout" -q
is "$RC" 0 "the plain layout build exits 0"
[ "$RC" -eq 0 ] || bail_out "lade build failed: $ERR"
digest=$(skopeo inspect --format '{{.Digest}}' "oci:$T/layout:1.0")

# The tar itself: sorted names, 0:0, modes 0644/0755, mtime = SOURCE_DATE_EPOCH (0).
listing() {
	tar --numeric-owner --full-time -tvf "$1" | awk '{print $1, $2, $3, $4, $5}'
}
names=$(tar -tf "$T/hello-oci.tar")
is "$names" "$(printf '%s\n' "$names" | LC_ALL=C sort)" "oci-archive entries are sorted"
like "$(printf '%s\n' "$names" | head -2 | tr '\n' ' ')" '^blobs/ blobs/sha256/ $' \
	"oci-archive starts with the blob directories"
bad=$(listing "$T/hello-oci.tar" |
	grep -Ev '^(-rw-r--r-- 0/0 [0-9]+|drwxr-xr-x 0/0 0) 1970-01-01 00:00:00$' || true)
is "$bad" "" "oci-archive headers: 0/0, 0644 files, 0755 dirs, mtime 0"

rm -rf "$T/c1"
check "skopeo copy oci-archive:FILE:1.0 oci:DIR:1.0" \
	skopeo copy --quiet "oci-archive:$T/hello-oci.tar:1.0" "oci:$T/c1:1.0"
is "$(skopeo inspect --format '{{.Digest}}' "oci:$T/c1:1.0" 2>/dev/null)" "$digest" \
	"the oci-archive keeps the manifest digest of the layout build"
run_lade verify "$T/c1"
is "$RC" 0 "lade verify passes on skopeo's copy of the oci-archive"
[ "$RC" -eq 0 ] || diag "$OUT$ERR"

run_lade build "$R/recipe.yaml" --format oci-archive -o "$T/hello-oci2.tar" -q
check "a second oci-archive build is byte-identical" cmp "$T/hello-oci.tar" "$T/hello-oci2.tar"

# docker-archive.
run_lade build "$R/recipe.yaml" --format docker-archive -o "$T/hello-docker.tar" -q
is "$RC" 0 "lade build --format docker-archive exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
config_hex=$(skopeo inspect --raw "oci:$T/layout:1.0" | json_get .config.digest)
config_hex=${config_hex#sha256:}
manifest_json=$(tar -xOf "$T/hello-docker.tar" manifest.json 2>/dev/null)
is "$(for e in '|length' '[0].Config' '[0].RepoTags' '[0].Layers|length'; do
	printf '%s' "$manifest_json" | json_get "$e"
done | tr '\n' ' ')" \
	"1 blobs/sha256/$config_hex [\"hello:1.0\"] $(skopeo_layers "oci:$T/layout:1.0") " \
	"manifest.json: one image, its config, RepoTags hello:1.0, every layer"
is "$(tar -xOf "$T/hello-docker.tar" repositories 2>/dev/null)" \
	"{\"hello\":{\"1.0\":\"$config_hex\"}}" "repositories names the config"
tar -xOf "$T/hello-docker.tar" index.json >"$T/docker-index.json" 2>/dev/null
is "$(json_get '.manifests[0].annotations."io.containerd.image.name"' "$T/docker-index.json") \
$(json_get '.manifests[0].annotations."org.opencontainers.image.ref.name"' "$T/docker-index.json")" \
	"docker.io/library/hello:1.0 1.0" "index.json carries the containerd name and the tag"

rm -rf "$T/c2"
check "skopeo copy docker-archive:FILE oci:DIR:1.0" \
	skopeo copy --quiet "docker-archive:$T/hello-docker.tar" "oci:$T/c2:1.0"
run_lade verify "$T/c2"
is "$RC" 0 "lade verify passes on skopeo's copy of the docker-archive"
[ "$RC" -eq 0 ] || diag "$OUT$ERR"
is "$(skopeo_diff_ids "oci:$T/c2:1.0")" "$(skopeo_diff_ids "oci:$T/layout:1.0")" \
	"the docker-archive copy has the layout build's diff_ids"
check "skopeo reads the oci part of the docker-archive too" \
	skopeo inspect "oci-archive:$T/hello-docker.tar:1.0"

run_lade build "$R/recipe.yaml" --format docker-archive -o "$T/hello-docker2.tar" -q
check "a second docker-archive build is byte-identical" \
	cmp "$T/hello-docker.tar" "$T/hello-docker2.tar"

# podman load, into a private store so the host's images are untouched.
podman_skip=""
if ! command -v podman >/dev/null 2>&1; then
	podman_skip="podman is not installed (apt-get install podman)"
else
	P=(podman --root "$T/podman/root" --runroot "$T/podman/run" --storage-driver vfs)
	at_exit "rm -rf '$T/podman'"
	if ! out=$("${P[@]}" info 2>&1); then
		podman_skip="podman cannot run here: $(printf '%s' "$out" | tail -1)"
	fi
fi
if [ -n "$podman_skip" ]; then
	ok "podman load -i docker-archive # SKIP $podman_skip"
	ok "podman tags the image # SKIP $podman_skip"
else
	check "podman load -i docker-archive" "${P[@]}" load -q -i "$T/hello-docker.tar"
	# stdout only: podman 5 warns on stderr where the host still runs cgroups v1
	id=$("${P[@]}" image inspect --format '{{.Id}}' docker.io/library/hello:1.0 2>"$T/podman.err")
	is "$id" "$config_hex" "podman tags the image hello:1.0 with the config as its id"
	[ "$id" = "$config_hex" ] || diag "podman image inspect: $(cat "$T/podman.err")"
fi

done_testing
