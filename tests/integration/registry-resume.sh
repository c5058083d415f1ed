#!/bin/bash
# Pushing large blobs through failures, against the Debian docker-registry (distribution 2.8):
# chunked uploads (PATCH + Content-Range), a chunk lost on the way (the upload goes on from where
# the registry stands, not from byte 0), the registry killed with SIGKILL in the middle of a push
# and restarted (the push completes) or not restarted (a clear error and no tag), the referrers
# tag fallback for an SBOM pushed to a registry without the referrers API, a registry naming a
# wrong digest, and parallel pulls.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
source "$LADE_SRCDIR/tests/registry-lib.sh"
need_cmd skopeo
ensure_base

# An image with one 12 MiB incompressible layer: twelve 1 MiB chunks.
R=$T/big
hello_recipe "$R"
head -c $((12 << 20)) /dev/urandom >"$R/app/blob.bin"
run_lade build "$R/recipe.yaml" -o "$T/out" -q --sbom spdx
is "$RC" 0 "lade build of an image with a 12 MiB layer and an SBOM"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
local_digest=$(printed_digest "$OUT")
# chunks: the PATCH requests a --chunk-size 1M push of the image makes (blobs over 1 MiB only)
read -r big_digest big_size chunks < <(python3 - "$T/out" "$local_digest" <<'PY'
import json, sys
d, m = sys.argv[1], sys.argv[2]
man = json.load(open(f"{d}/blobs/sha256/{m[7:]}"))
blobs = man["layers"] + [man["config"]]
big = max(blobs, key=lambda l: l["size"])
print(big["digest"], big["size"], sum(-(-b["size"] // (1 << 20)) for b in blobs if b["size"] > 1 << 20))
PY
)
[ "$big_size" -ge $((12 << 20)) ] || bail_out "the big layer has only $big_size bytes"

start_registry back
REG=127.0.0.1:$PORT_back
# PATCH requests the registry answered for repository $1 since log line $2.
patches_since() {
	tail -n +"$2" "$T/reg-back/log" | grep -cE "\"PATCH /v2/$1/blobs/uploads/[^ ]* HTTP/1.1\" 202" || true
}

# --- chunked upload ---------------------------------------------------------------------------
mark=$(($(wc -l <"$T/reg-back/log") + 1))
run_lade push --chunk-size 1M "$T/out:1.0" "$REG/chunked:1"
is "$RC" 0 "push with --chunk-size 1M exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$OUT" "$local_digest" "the pushed digest is the local one"
is "$(patches_since chunked "$mark")" "$chunks" "blobs over 1 MiB went in $chunks PATCH chunks"
is "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/chunked:1")" \
	"$local_digest" "skopeo sees the image under the local digest"
run_lade push --json "$T/out:1.0" "$REG/chunked:1"
is "$RC" 0 "push --json exits 0"
is "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["digest"], d["blobs_uploaded"], d["bytes_uploaded"], d["blobs_present"] > 0, d["referrers_tagged"])' "$OUT")" \
	"$local_digest 0 0 True True" "push --json: the digest, nothing uploaded the second time, the referrers tag"
run_lade push --chunk-size 1 "$T/out:1.0" "$REG/chunked:1"
is "$RC" 2 "--chunk-size below 4K is a usage error"

# --- a chunk lost on the way: resume where the registry stands -----------------------------------
start_front drop "$PORT_back" drop-patch
mark=$(($(wc -l <"$T/reg-back/log") + 1))
run_lade push --chunk-size 1M -j 1 "$T/out:1.0" "$FRONT/dropped:1"
is "$RC" 0 "the third PATCH of an upload dropped (and curl's own retry of it): push still succeeds"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$(grep -c '^DROP' "$T/front-drop.log")" '^[1-9]' "the front did drop a PATCH"
like "$ERR" "after failures: [1-9][0-9]* uploads resumed where the registry stood, 0 started again" \
	"lade reports the resumed upload"
like "$(tail -n +"$mark" "$T/reg-back/log" | grep -cE '"GET /v2/dropped/blobs/uploads/[^ ]* HTTP/1.1" 204')" '^[1-9]' \
	"lade asked the registry where the upload stood (GET on the upload URL: 204 with Range)"
is "$(patches_since dropped "$mark")" "$chunks" \
	"every byte reached the registry once: $chunks chunks, not a restart from byte 0"
is "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/dropped:1")" \
	"$local_digest" "the resumed push is complete (skopeo sees the local digest)"
check "skopeo copy of the resumed push (every blob digest checked)" skopeo copy --quiet \
	--src-tls-verify=false "docker://$REG/dropped:1" "oci:$T/copy-dropped:1"

# --- the registry killed in the middle of a push ------------------------------------------------
# push_in_background ARGS… then finish_push: lade runs while the test kills the registry.
push_in_background() {
	rm -f "$T/front-hold.held" "$T/front-hold.release"
	"$LADE" push "$@" >"$T/bg.out" 2>"$T/bg.err" &
	BG=$!
}
finish_push() {
	wait "$BG"
	RC=$?
	OUT=$(cat "$T/bg.out")
	ERR=$(cat "$T/bg.err")
	_sanitizer_check push
}
wait_held() {
	for _ in $(seq 1 600); do
		[ -e "$T/front-hold.held" ] && return 0
		sleep 0.05
	done
	return 1
}

start_front hold "$PORT_back" hold-patch
push_in_background --chunk-size 1M -j 1 "$T/out:1.0" "$FRONT/killed:1"
wait_held || bail_out "the push never reached its third chunk"
stop_registry back KILL
touch "$T/front-hold.release" # the held chunk now meets a dead registry
sleep 0.3
restart_registry back
finish_push
is "$RC" 0 "registry killed with SIGKILL mid-push and restarted: the push completes"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$(grep -c 'UPSTREAM-DOWN' "$T/front-hold.log")" '^[1-9]' "the registry was down while lade pushed"
like "$ERR" "after failures: " "lade reports how it recovered"
is "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/killed:1")" \
	"$local_digest" "after the restart the registry has the whole image"

start_front hold "$PORT_back" hold-patch
push_in_background --chunk-size 1M -j 1 "$T/out:1.0" "$FRONT/dead:1"
wait_held || bail_out "the second push never reached its third chunk"
stop_registry back KILL
touch "$T/front-hold.release"
finish_push
is "$RC" 1 "registry killed mid-push and not restarted: the push fails"
like "$ERR" "repository dead, blob sha256:[0-9a-f]{64}: (starting the upload|uploading|asking where the upload stands).*(HTTP 502|after [0-9]+ tries)" \
	"the error names the blob and what failed"
restart_registry back
check "no tag for the failed push" \
	bash -c "! skopeo inspect --tls-verify=false --raw docker://$REG/dead:1 >/dev/null 2>&1"

# --- a registry that says it stored something else ---------------------------------------------
start_front lie "$PORT_back" lie
run_lade push "$T/out:1.0" "$FRONT/lied:1"
is "$RC" 1 "a registry answering a wrong Docker-Content-Digest: push fails"
like "$ERR" "repository lied, blob sha256:[0-9a-f]{64}: the registry stored it as sha256:0{64}" \
	"the error names the blob and the digest the registry claimed"
check "no tag for the refused push" \
	bash -c "! skopeo inspect --tls-verify=false --raw docker://$REG/lied:1 >/dev/null 2>&1"

# --- referrers: the tag fallback of distribution spec 1.1 ---------------------------------------
sbom_digest=$(python3 - "$T/out" "$local_digest" <<'PY'
import json, sys
d, subject = sys.argv[1], sys.argv[2]
for m in json.load(open(f"{d}/index.json"))["manifests"]:
    doc = json.load(open(f"{d}/blobs/sha256/{m['digest'][7:]}"))
    if doc.get("subject", {}).get("digest") == subject:
        print(m["digest"])
PY
)
like "$sbom_digest" '^sha256:[0-9a-f]{64}$' "the layout holds the SBOM artifact for the image"
run_lade push "$T/out:1.0" "$REG/withsbom:1"
is "$RC" 0 "push of an image with an SBOM referrer"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$ERR" "no referrers API: referrers listed under the sha256-<digest> tag" \
	"lade says it used the referrers tag"
rtag=sha256-${local_digest#sha256:}
skopeo inspect --tls-verify=false --raw "docker://$REG/withsbom:$rtag" >"$T/referrers.json"
is "$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); print(i["mediaType"], [(m["digest"], m.get("artifactType")) for m in i["manifests"]])' "$T/referrers.json")" \
	"application/vnd.oci.image.index.v1+json [('$sbom_digest', 'application/spdx+json')]" \
	"the $rtag index lists the SBOM with its artifactType"
run_lade push "$T/out:1.0" "$REG/withsbom:1"
skopeo inspect --tls-verify=false --raw "docker://$REG/withsbom:$rtag" >"$T/referrers2.json"
is "$(sha256_file "$T/referrers2.json")" "$(sha256_file "$T/referrers.json")" \
	"a second push leaves the referrers index as it was (no duplicate entry)"

# --- parallel pulls ---------------------------------------------------------------------------------
run_lade pull --json -j 4 "$REG/chunked:1" -o "$T/pull-j4"
is "$RC" 0 "pull -j 4 exits 0"
is "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["digest"], d["layout"], d["ref"])' "$OUT")" \
	"$local_digest $T/pull-j4 $REG/chunked:1" "pull --json: digest, layout and ref"
run_lade pull -j 1 "$REG/chunked:1" -o "$T/pull-j1"
is "$RC" 0 "pull -j 1 exits 0"
is "$(cd "$T/pull-j4" && find blobs -type f | sort | xargs sha256sum)" \
	"$(cd "$T/pull-j1" && find blobs -type f | sort | xargs sha256sum)" "the same blobs either way"
check "lade verify on the parallel pull" "$LADE" verify "$T/pull-j4"
done_testing
