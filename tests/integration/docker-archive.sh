#!/bin/bash
# A docker-archive base (what `docker save` writes): recipes/hello on it builds, skopeo reads
# the result, and the image has the base's layers (same diff_ids) plus one.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd skopeo python3
ensure_base

R=$T/hello
hello_recipe "$R" "{docker-archive: \"$BASE_ARCHIVE\"}"
run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "lade build on a docker-archive base exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
digest=$(printed_digest "$OUT")

check "skopeo inspect oci:out:1.0" skopeo inspect "oci:$T/out:1.0"
is "$(skopeo inspect --format '{{.Digest}}' "oci:$T/out:1.0" 2>/dev/null)" "$digest" \
	"skopeo's digest equals the one lade printed"
base_layers=$(skopeo_layers "docker-archive:$BASE_ARCHIVE")
is "$(skopeo_layers "oci:$T/out:1.0")" "$((base_layers + 1))" "layers = base layers ($base_layers) + 1"

skopeo_diff_ids "docker-archive:$BASE_ARCHIVE" >"$T/base.ids"
skopeo_diff_ids "oci:$T/out:1.0" | sed -n "1,${base_layers}p" >"$T/out.ids"
check "the base's diff_ids come first, unchanged" cmp "$T/base.ids" "$T/out.ids"
is "$(skopeo inspect --config "oci:$T/out:1.0" | json_get '.config.Env[]')" \
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"$'\n'"LANG=C.UTF-8"$'\n'"PYTHONUNBUFFERED=1" \
	"the base config from the archive is merged"
check "skopeo copy verifies every blob" skopeo copy --quiet "oci:$T/out:1.0" "oci:$T/copy:1.0"

# The same image, file for file, as on the OCI base: the same diff_ids.
R2=$T/hello-oci
hello_recipe "$R2"
run_lade build "$R2/recipe.yaml" -o "$T/out-oci" -q
is "$RC" 0 "the same recipe on the OCI base builds"
diff_ids "oci:$T/out:1.0" >"$T/a.ids"
diff_ids "oci:$T/out-oci:1.0" >"$T/b.ids" 2>/dev/null
check "docker-archive and OCI bases give the same diff_ids" cmp "$T/a.ids" "$T/b.ids"

done_testing
