#!/bin/bash
# lade push / lade pull against the Debian docker-registry (CNCF distribution 2.8) on 127.0.0.1:
# digests as skopeo sees them, a second push uploads nothing, mount-from, pull + verify,
# --offline, htpasswd Basic auth from --creds and each auth file format, TLS with a
# self-signed certificate (--cert-dir, --tls-verify=false), and htpasswd Basic auth over that TLS
# with credentials from each auth file format.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
source "$LADE_SRCDIR/tests/registry-lib.sh"
need_cmd skopeo openssl
command -v htpasswd >/dev/null 2>&1 || skip_all "htpasswd not installed (apt-get install apache2-utils)"
ensure_base

R=$T/hello
hello_recipe "$R"
run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "lade build hello exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
local_digest=$(printed_digest "$OUT")

start_registry plain
P=$PORT_plain
REG=127.0.0.1:$P

# --- push ---------------------------------------------------------------------------------
run_lade push "$T/out:1.0" "$REG/hello:1.0"
is "$RC" 0 "push to $REG/hello:1.0 exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$OUT" "$local_digest" "push prints the local digest"
like "$ERR" "3 blobs uploaded" "config and two layers uploaded"
is "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/hello:1.0")" \
	"$local_digest" "skopeo inspect: the registry's digest is the local one"
skopeo inspect --tls-verify=false --raw "docker://$REG/hello:1.0" >"$T/raw.json"
is "$(sha256_file "$T/raw.json")" "${local_digest#sha256:}" "skopeo inspect --raw: same manifest bytes"
check "skopeo copy docker:// to oci:" skopeo copy --quiet --src-tls-verify=false --preserve-digests \
	"docker://$REG/hello:1.0" "oci:$T/copy:1.0"
is "$(skopeo inspect --format '{{.Digest}}' "oci:$T/copy:1.0")" "$local_digest" \
	"the copy back to oci: has the same digest"
is "$(skopeo_layer_digests "oci:$T/copy:1.0")" "$(skopeo_layer_digests "oci:$T/out:1.0")" \
	"the copy has the same layer digests"

mark=$(($(wc -l <"$T/reg-plain/log") + 1))
run_lade push "$T/out:1.0" "$REG/hello:1.0"
is "$RC" 0 "second push exits 0"
like "$ERR" "0 blobs uploaded .* 3 already present" "second push: every blob already present"
is "$(uploads_since plain "$mark")" 0 "second push: no upload request in the registry log"

mark=$(($(wc -l <"$T/reg-plain/log") + 1))
run_lade push --mount-from hello "$T/out" "localhost:$P/other/app:2"
is "$RC" 0 "push with --mount-from to another repo (via localhost) exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$ERR" "3 mounted" "all three blobs mounted"
is "$(tail -n +"$mark" "$T/reg-plain/log" | grep -cE '"PUT /v2/other/app/blobs/uploads')" 0 \
	"mount-from: no blob bytes uploaded"
is "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/other/app:2")" \
	"$local_digest" "the mounted image has the same digest"

run_lade push "$T/out:1.0" "$REG/bydigest@$local_digest"
is "$RC" 0 "push by digest exits 0"
skopeo inspect --tls-verify=false --raw "docker://$REG/bydigest@$local_digest" >"$T/raw2.json"
is "$(sha256_file "$T/raw2.json")" "${local_digest#sha256:}" "the image is there by digest"
run_lade push "$T/out:1.0" "$REG/bydigest@sha256:$(printf '%064d' 0)"
is "$RC" 1 "push to a different digest fails"
like "$ERR" "has digest $local_digest, not the sha256:0+ named by" "the digest mismatch is named"
run_lade push "$T/out:nosuchtag" "$REG/x:1"
is "$RC" 1 "push of a missing tag fails"
like "$ERR" "image $T/out:nosuchtag: no manifest tagged 'nosuchtag' in $T/out/index.json \\(tags found: 1.0\\)" \
	"the missing tag is named, with the tags there"

# A layer blob cut short in the layout is refused before any byte is sent.
cp -a "$T/out" "$T/short"
layer=$(python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json")); m=json.load(open(d+"/blobs/sha256/"+i["manifests"][0]["digest"][7:])); print(m["layers"][-1]["digest"], m["layers"][-1]["size"])' "$T/short")
set -- $layer
rm "$T/short/blobs/sha256/${1#sha256:}"
head -c 100 "$T/out/blobs/sha256/${1#sha256:}" >"$T/short/blobs/sha256/${1#sha256:}"
run_lade push "$T/short:1.0" "$REG/short:1"
is "$RC" 1 "push of a layout with a truncated layer fails"
like "$ERR" "repository short, blob $1: .* has 100 bytes, the manifest says $2" \
	"the truncated blob is named with both sizes"
check "no tag for the failed push" bash -c "! skopeo inspect --tls-verify=false --raw docker://$REG/short:1 >/dev/null 2>&1"

# A referrer (an SBOM-like artifact whose subject is the image) in the layout goes along.
cp -a "$T/out" "$T/withref"
python3 - "$T/withref" "$local_digest" <<'PY' >"$T/referrer-digest"
import hashlib, json, os, sys
d, subject = sys.argv[1], sys.argv[2]
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open(os.path.join(d, "blobs/sha256", h), "wb").write(b)
    return {"digest": "sha256:" + h, "size": len(b)}
sm = open(os.path.join(d, "blobs/sha256", subject[7:]), "rb").read()
empty = put(b"{}")
doc = put(b'{"spdxVersion":"SPDX-2.3"}')
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "artifactType": "application/spdx+json",
     "config": dict(mediaType="application/vnd.oci.empty.v1+json", **empty),
     "layers": [dict(mediaType="application/spdx+json", **doc)],
     "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject,
                 "size": len(sm)}}
md = put(json.dumps(m, sort_keys=True, separators=(",", ":")).encode())
idx = json.load(open(os.path.join(d, "index.json")))
idx["manifests"].append(dict(mediaType="application/vnd.oci.image.manifest.v1+json",
                             artifactType="application/spdx+json", **md))
json.dump(idx, open(os.path.join(d, "index.json"), "w"))
print(md["digest"])
PY
ref_digest=$(cat "$T/referrer-digest")
run_lade push -j 1 "$T/withref" "$REG/withref:1"
is "$RC" 0 "push of a layout with a referrer, no tag given, -j 1"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$OUT" "$local_digest" "the image, not the referrer, is what IMAGE names"
like "$ERR" "2 manifests" "the image manifest and the referrer"
skopeo inspect --tls-verify=false --raw "docker://$REG/withref@$ref_digest" >"$T/raw-ref.json"
is "sha256:$(sha256_file "$T/raw-ref.json")" "$ref_digest" "the referrer is in the registry by digest"

# --- pull ---------------------------------------------------------------------------------
run_lade pull "$REG/hello:1.0" -o "$T/pulled"
is "$RC" 0 "pull exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$OUT" "$local_digest" "pull prints the digest"
check "lade verify on the pulled layout" "$LADE" verify "$T/pulled"
is "$(skopeo inspect --format '{{.Digest}}' "oci:$T/pulled:$REG/hello:1.0")" "$local_digest" \
	"the pulled layout names the image by its full reference"
run_lade pull "$REG/hello@$local_digest" -o "$T/pulled"
is "$RC" 0 "pull by digest into the same layout exits 0"
is "$(find "$T/pulled/blobs/sha256" -type f | wc -l)" 4 "blobs are stored once"


check "skopeo pushes the base in Docker v2s2 format" skopeo copy --quiet --format v2s2 \
	--dest-tls-verify=false "oci:$BASE_REF" "docker://$REG/base:$TEST_PYVER"
run_lade pull "$REG/base:$TEST_PYVER" -o "$T/pulled"
is "$RC" 0 "pull of a Docker-format image pushed by skopeo"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$(cat "$T/pulled/index.json")" "vnd.docker.distribution.manifest.v2" "its media type is kept"
check "lade verify with both images pulled" "$LADE" verify "$T/pulled"
run_lade push "$T/pulled:$REG/base:$TEST_PYVER" "$REG/base-again:1"
is "$RC" 0 "push DIR:TAG where TAG is a full reference with a port"
is "$OUT" "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/base:$TEST_PYVER")" \
	"pushed back with the same digest"

run_lade pull --offline "$REG/hello@$local_digest" -o "$T/empty"
is "$RC" 1 "offline pull with an empty store fails"
like "$ERR" "is not in the store $T/empty \\(offline\\)" "offline: the store is named"

# --- multi-platform index ----------------------------------------------------------------------
MB=$T/multibase
python3 "$LADE_SRCDIR/tests/fixtures/make-multiarch-base.py" "$BASE_OCI" "$BASE_TAG" "$MB" ||
	bail_out "cannot make the two-platform base"
index_digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$MB/index.json")
run_lade push "$MB" "$REG/multi:1"
is "$RC" 0 "push of a two-platform index exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$OUT" "$index_digest" "push prints the index digest"
like "$ERR" "3 manifests" "two child manifests and the index"
skopeo inspect --tls-verify=false --raw "docker://$REG/multi:1" >"$T/raw3.json"
is "sha256:$(sha256_file "$T/raw3.json")" "$index_digest" "skopeo inspect --raw: the index bytes"
check "skopeo copy --all from the registry" skopeo copy --quiet --all --preserve-digests \
	--src-tls-verify=false "docker://$REG/multi:1" "oci:$T/multicopy:1"
is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T/multicopy/index.json")" \
	"$index_digest" "skopeo copy --all: same index digest"
run_lade pull --platform linux/arm64 "$REG/multi:1" -o "$T/arm"
is "$RC" 0 "pull --platform linux/arm64 exits 0"
like "$(cat "$T/arm/index.json")" '"architecture":"arm64"' "the arm64 manifest is named, with its platform"
check "lade verify on the arm64 pull" "$LADE" verify "$T/arm"
run_lade pull --platform linux/s390x "$REG/multi:1" -o "$T/s390x"
is "$RC" 1 "pull of a platform the index lacks fails"
like "$ERR" "index $index_digest: no manifest for platform linux/s390x \\(available: linux/amd64, linux/arm64/v8\\)" \
	"the platform is named, with those the index has"

# --- linux/arm64 and linux/arm64/v8 are one platform (containerd's rule; lade build's too) --
# The two-platform index once with the arm64 variant written (v8, above) and once without it,
# as many real indexes have it: pull selects the arm64 manifest for either spelling from either.
arm64_in_index() { # the arm64 manifest's digest in the index the registry serves for $1
	skopeo inspect --tls-verify=false --raw "docker://$1" | python3 -c 'import json, sys
print(next(m["digest"] for m in json.load(sys.stdin)["manifests"]
           if m["platform"]["architecture"] == "arm64"))'
}
named_digest() { # the digest index.json in layout $1 names (its only entry)
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' \
		"$1/index.json"
}
python3 "$LADE_SRCDIR/tests/fixtures/make-multiarch-base.py" "$BASE_OCI" "$BASE_TAG" "$T/mb-nov" none ||
	bail_out "cannot make the two-platform base without an arm64 variant"
run_lade push "$T/mb-nov" "$REG/multi:novariant"
is "$RC" 0 "push of the index whose arm64 entry has no variant exits 0"
for tag in 1 novariant; do
	want=$(arm64_in_index "$REG/multi:$tag")
	for plat in linux/arm64 linux/arm64/v8; do
		run_lade pull --platform "$plat" "$REG/multi:$tag" -o "$T/arm-$tag-${plat//\//-}"
		is "$RC" 0 "multi:$tag, --platform $plat: pull exits 0"
		[ "$RC" -eq 0 ] || diag "$ERR"
		is "$(named_digest "$T/arm-$tag-${plat//\//-}")" "$want" \
			"multi:$tag, --platform $plat: the arm64 manifest is named"
	done
done
run_lade pull --platform linux/arm64/v7 "$REG/multi:novariant" -o "$T/arm-v7"
is "$RC" 1 "linux/arm64/v7 is not the arm64 entry without a variant (that one is v8)"
like "$ERR" "no manifest for platform linux/arm64/v7" "the platform asked for is named"

# --- a manifest with a key twice: refused by pull as by build, inspect and verify -------------
# "layers":[] before the real "layers": a reader that keeps the first key sees no layers, one
# that keeps the last (jansson, Go: the registry accepts it) sees them all.
sed 's/^{"/{"layers":[],"/' "$T/raw.json" >"$T/dupkey.json"
check "the registry takes the manifest with a key twice" curl -sf -X PUT \
	-H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
	--data-binary @"$T/dupkey.json" "http://$REG/v2/hello/manifests/dupkey"
run_lade pull "$REG/hello:dupkey" -o "$T/dupkey"
is "$RC" 1 "pull of a manifest with a key twice fails"
like "$ERR" "manifest dupkey: blob sha256:$(sha256_file "$T/dupkey.json"): invalid JSON \\(line 1\\): duplicate object key" \
	"the duplicate key and the manifest are named"
ok_not_named() { ! grep -q "hello:dupkey" "$1/index.json" 2>/dev/null; }
check "nothing is named for it in the store" ok_not_named "$T/dupkey"

# --- indexes nested more than 4 deep: refused by pull as for a base image ----------------------
mt=application/vnd.oci.image.manifest.v1+json d=$local_digest size=$(stat -c %s "$T/raw.json")
for n in 1 2 3 4 5; do
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"%s","size":%s}]}' \
		"$mt" "$d" "$size" >"$T/deep$n.json"
	mt=application/vnd.oci.image.index.v1+json
	d=sha256:$(sha256_file "$T/deep$n.json") size=$(stat -c %s "$T/deep$n.json")
	curl -sf -X PUT -H "Content-Type: $mt" --data-binary @"$T/deep$n.json" \
		"http://$REG/v2/hello/manifests/deep$n" || bail_out "the registry refuses index deep$n"
done
run_lade pull "$REG/hello:deep4" -o "$T/deep"
is "$RC" 0 "pull of 4 nested indexes exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
run_lade pull "$REG/hello:deep5" -o "$T/deep"
is "$RC" 1 "pull of 5 nested indexes fails"
like "$ERR" "image $REG/hello:deep5: image indexes nested more than 4 deep" "the nesting is named"

stop_registry plain
run_lade pull --offline "$REG/hello@$local_digest" -o "$T/pulled"
is "$RC" 0 "offline pull from a filled store works with the registry stopped"
run_lade pull "$REG/hello@$local_digest" -o "$T/pulled"
is "$RC" 0 "a pinned image in the store needs no network"
run_lade pull "$REG/hello:1.0" -o "$T/nothing"
is "$RC" 1 "pull from a stopped registry fails"
like "$ERR" "registry $REG: cannot connect" "the unreachable registry is named"

# --- Bearer tokens, retries, a lying registry: a small front written here -----------------------
start_registry back
start_front bearer "$PORT_back" bearer
BREG=$FRONT
run_lade push "$T/out:1.0" "$BREG/tok:1"
is "$RC" 1 "Bearer: anonymous push is refused"
like "$ERR" "registry $BREG: the token service http://$BREG/token refused anonymous access" \
	"Bearer: the refusal names the token service"
run_lade push --creds bob:wrong "$T/out:1.0" "$BREG/tok:1"
is "$RC" 1 "Bearer: wrong password fails"
like "$ERR" "refused the credentials of user bob \\(HTTP 401 UNAUTHORIZED: bad password\\)" \
	"Bearer: wrong password is named"
run_lade push --creds bob:t0ken-pw "$T/out:1.0" "$BREG/tok:1"
is "$RC" 0 "Bearer: push with a token for the credentials"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$(grep -a '^TOKEN bob' "$T/front-bearer.log")" "fake-registry.*repository:tok:pull,push" \
	"Bearer: token asked for with service and the push scope"
run_lade pull "$BREG/tok:1" -o "$T/p-bearer"
is "$RC" 0 "Bearer: anonymous token for a pull"
like "$(grep -a '^TOKEN anonymous' "$T/front-bearer.log")" "repository:tok:pull\$" \
	"Bearer: anonymous token with the pull scope"

start_front flaky "$PORT_back" flaky
run_lade push "$T/out:1.0" "$FRONT/flaky:1"
is "$RC" 0 "every request answered 503 once: push succeeds by retrying"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$(grep -ac '" 503 ' "$T/front-flaky.log")" "^[1-9][0-9]*$" "the front did answer 503"
is "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$PORT_back/flaky:1")" \
	"$local_digest" "the retried push is complete"
run_lade pull "$FRONT/flaky:1" -o "$T/p-flaky"
is "$RC" 0 "pull succeeds by retrying"
check "lade verify after the retried pull" "$LADE" verify "$T/p-flaky"

start_front reset "$PORT_back" reset
run_lade push "$T/out:1.0" "$FRONT/reset:1"
is "$RC" 0 "connections reset during the blob PUTs: push succeeds by retrying"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$(grep -ac '^RESET' "$T/front-reset.log")" "^[1-9][0-9]*$" "the front did reset connections"

start_front broken "$PORT_back" broken
run_lade push "$T/out:1.0" "$FRONT/broken:1"
is "$RC" 1 "a registry failing every blob upload: push fails"
like "$ERR" "repository broken, blob sha256:[0-9a-f]{64}: uploading: HTTP 500 UNKNOWN: disk on fire" \
	"the failing blob is named with the registry's message"
like "$(grep -ac '"PUT /v2/broken/blobs/uploads/[^ ]* HTTP/1.1" 500' "$T/front-broken.log")" "^([4-9]|[1-9][0-9]+)$" \
	"the upload was retried (bounded)"
check "no tag left after the failed push" bash -c "! skopeo inspect --tls-verify=false --raw docker://127.0.0.1:$PORT_back/broken:1 >/dev/null 2>&1"

start_front corrupt "$PORT_back" corrupt
run_lade pull "$FRONT/flaky:1" -o "$T/p-corrupt"
is "$RC" 1 "a registry sending wrong bytes: pull fails"
like "$ERR" "repository flaky, blob sha256:[0-9a-f]{64}: the registry sent content with digest sha256:" \
	"the wrong digest is named with the blob"
is "$(find "$T/p-corrupt/blobs/sha256" -type f | wc -l)" 1 "only the verified manifest is in the store"
stop_registry back

# --- htpasswd Basic auth ---------------------------------------------------------------------
htpasswd -Bbn alice 's3cret!' >"$T/htpasswd"
start_registry auth "auth:
  htpasswd:
    realm: lade-test
    path: $T/htpasswd"
AREG=127.0.0.1:$PORT_auth
run_lade push "$T/out:1.0" "$AREG/hello:1.0"
is "$RC" 1 "push without credentials fails"
like "$ERR" "registry $AREG: authentication required for repository hello" \
	"missing credentials: clear error"
run_lade push --creds alice:wrong "$T/out:1.0" "$AREG/hello:1.0"
is "$RC" 1 "push with a wrong password fails"
like "$ERR" "registry $AREG: authentication failed for user alice \\(wrong user name or password" \
	"wrong password: clear error"
run_lade push --creds 'alice:s3cret!' "$T/out:1.0" "$AREG/hello:1.0"
is "$RC" 0 "push with --creds exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
auth=$(printf '%s' 'alice:s3cret!' | base64)
printf '{"auths": {"%s": {"auth": "%s"}}}' "$AREG" "$auth" >"$T/auth.json"
REGISTRY_AUTH_FILE=$T/auth.json run_lade pull "$AREG/hello:1.0" -o "$T/p-authfile"
is "$RC" 0 "pull with REGISTRY_AUTH_FILE"
mkdir -p "$T/xdg/containers" "$T/home/.docker"
cp "$T/auth.json" "$T/xdg/containers/auth.json"
XDG_RUNTIME_DIR=$T/xdg HOME=$T/nohome run_lade push "$T/out:1.0" "$AREG/xdg:1"
is "$RC" 0 "push with \$XDG_RUNTIME_DIR/containers/auth.json"
printf '{"auths": {"https://%s": {"auth": "%s"}}}' "$AREG" "$auth" >"$T/home/.docker/config.json"
XDG_RUNTIME_DIR=$T/nothing HOME=$T/home run_lade push "$T/out:1.0" "$AREG/docker:1"
is "$RC" 0 "push with ~/.docker/config.json (https:// key)"
[ "$RC" -eq 0 ] || diag "$ERR"
stop_registry auth

# --- TLS with a self-signed certificate -------------------------------------------------------
mkdir -p "$T/certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$T/certs/key.pem" -out "$T/certs/ca.crt" >/dev/null 2>&1
start_registry tls "  tls:
    certificate: $T/certs/ca.crt
    key: $T/certs/key.pem"
TREG=127.0.0.1:$PORT_tls
run_lade push "$T/out:1.0" "$TREG/hello:1.0"
is "$RC" 1 "https with an unknown CA fails"
like "$ERR" "registry $TREG: cannot connect: .*(certificate|SSL)" "the certificate problem is named"
run_lade push --cert-dir "$T/certs" "$T/out:1.0" "$TREG/hello:1.0"
is "$RC" 0 "push over https with --cert-dir"
[ "$RC" -eq 0 ] || diag "$ERR"
run_lade pull --tls-verify=false "$TREG/hello:1.0" -o "$T/p-tls"
is "$RC" 0 "pull with --tls-verify=false"
is "$OUT" "$local_digest" "same digest over https"
stop_registry tls

# --- htpasswd Basic auth over TLS: credentials from each auth file format ----------------------
start_registry tlsauth "  tls:
    certificate: $T/certs/ca.crt
    key: $T/certs/key.pem
auth:
  htpasswd:
    realm: lade-test
    path: $T/htpasswd"
SREG=127.0.0.1:$PORT_tlsauth
run_lade push --cert-dir "$T/certs" "$T/out:1.0" "$SREG/hello:1.0"
is "$RC" 1 "https + htpasswd: push without credentials fails"
like "$ERR" "registry $SREG: authentication required for repository hello" \
	"https + htpasswd: missing credentials named"
run_lade push --cert-dir "$T/certs" --creds alice:wrong "$T/out:1.0" "$SREG/hello:1.0"
is "$RC" 1 "https + htpasswd: a wrong password fails"
like "$ERR" "registry $SREG: authentication failed for user alice" "https + htpasswd: wrong password named"
sauth=$(printf '%s' 'alice:s3cret!' | base64)
printf '{"auths": {"%s": {"auth": "%s"}}}' "$SREG" "$sauth" >"$T/tls-auth.json"
REGISTRY_AUTH_FILE=$T/tls-auth.json run_lade push --cert-dir "$T/certs" "$T/out:1.0" "$SREG/authfile:1"
is "$RC" 0 "https + htpasswd: push with REGISTRY_AUTH_FILE"
[ "$RC" -eq 0 ] || diag "$ERR"
mkdir -p "$T/xdg-tls/containers" "$T/home-tls/.docker"
cp "$T/tls-auth.json" "$T/xdg-tls/containers/auth.json"
XDG_RUNTIME_DIR=$T/xdg-tls HOME=$T/nohome run_lade push --cert-dir "$T/certs" "$T/out:1.0" "$SREG/xdg:1"
is "$RC" 0 "https + htpasswd: push with \$XDG_RUNTIME_DIR/containers/auth.json"
printf '{"auths": {"https://%s": {"auth": "%s"}}}' "$SREG" "$sauth" >"$T/home-tls/.docker/config.json"
XDG_RUNTIME_DIR=$T/nothing HOME=$T/home-tls run_lade push --cert-dir "$T/certs" "$T/out:1.0" "$SREG/docker:1"
is "$RC" 0 "https + htpasswd: push with ~/.docker/config.json"
is "$(skopeo inspect --cert-dir "$T/certs" --creds 'alice:s3cret!' --format '{{.Digest}}' "docker://$SREG/docker:1")" \
	"$local_digest" "https + htpasswd: skopeo sees the local digest"

done_testing
