#!/bin/bash
# The registry as the fleet's layer cache (--cache-to, --cache-from, --push-only), with two
# "runners" (separate layer caches, separate outputs) against a local docker-registry:
# runner A builds, pushes and publishes its layer mappings; runner B, with an empty cache and
# one app file changed, builds with --cache-from --push-only and the registry's access log shows
# it never GETs a cached layer blob; B's image shares every unchanged layer with A's, is the
# image a plain local build makes, pulls with skopeo and runs under buildah. Faults: a stale
# mapping whose blob was deleted, a mapping of another media type or size, --offline, and the
# registry dying between the blob HEADs and the manifest PUT (a clear error, no tag).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
source "$LADE_SRCDIR/tests/registry-lib.sh"
need_cmd skopeo
ensure_base
export LC_ALL=C LADE_NO_CACHE=1 XDG_CACHE_HOME=$T/xdg
# blobs can be deleted (the stale-mapping fault)
export REGISTRY_STORAGE_DELETE_ENABLED=true

start_registry r
REG=127.0.0.1:$PORT_r
LOG=$T/reg-r/log

R=$T/recipe
hello_recipe "$R"
# two wheels (bigpkg over the split threshold: a layer of its own) and their hashed lock
python3 - "$R" <<'PY' || bail_out "cannot make the fixture wheels"
import glob, hashlib, os, sys
from wheelkit import mw
wheels = os.path.join(sys.argv[1], "wheels")
os.makedirs(wheels)
mw.simple(wheels, "alpha", "1.0", {"alpha/__init__.py": b"A = 1\n", "alpha/util.py": b"def f():\n    return 2\n"})
mw.simple(wheels, "bigpkg", "1.0", {"bigpkg/__init__.py": b"X = 3\n", "bigpkg/data.bin": os.urandom(3 << 20)})
with open(os.path.join(sys.argv[1], "requirements.lock"), "w") as lock:
    for w in sorted(glob.glob(os.path.join(wheels, "*.whl"))):
        digest = hashlib.sha256(open(w, "rb").read()).hexdigest()
        lock.write("%s==1.0 --hash=sha256:%s\n" % (os.path.basename(w).split("-")[0], digest))
PY
printf '%s\n' "python: {interpreter: $TEST_PY, version: \"$TEST_PYVER\", venv: /opt/venv," \
	'  lock: requirements.lock, wheelhouse: [wheels/]}' 'layers: {split-threshold: 1MiB}' >>"$R/recipe.yaml"

layers_of() { skopeo inspect --tls-verify=false "docker://$1" | json_get '.Layers[]'; }
gets_since() { tail -n +"$1" "$LOG" | grep -oE '"GET /v2/[^ ]*/blobs/sha256:[0-9a-f]{64}' | sed 's|.*/blobs/||' || true; }
pyjson() { python3 -c "import json, sys; d = json.load(sys.stdin); $1"; }
mapping_of() { # the mapping manifest of the layer named $1 in the recipe's index
	curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/cache/manifests/lade-cache-index-hello" |
		pyjson "print([m['digest'] for m in d['manifests'] if m['annotations']['dev.lade.cache.layer'] == '$1'][0])"
}
tags_of() { curl -s "http://$REG/v2/$1/tags/list" | json_get '.tags[]' 2>/dev/null | sort; }

# --- runner A: a cold build, pushed, its mappings published ----------------------------------
run_lade build "$R/recipe.yaml" --cache "$T/cache-a" -o "$T/out-a" --push "$REG/app:a" \
	--cache-to "$REG/cache" --json -q
is "$RC" 0 "runner A builds, pushes and publishes"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
A_LAYERS=$(layers_of "$REG/app:a")
own=$(json_get '.images[0].layers[]' <<<"$OUT" | grep -c '"from_base": false')
like "$own" '^[3-9]$' "A's image has its own layers (wheels, venv, app): $own"
ntags=$(tags_of cache | grep -c '^lade-cache-[0-9a-f]\{64\}$' || true)
like "$ntags" '^[1-9][0-9]*$' "the cache repository has per-key mapping tags ($ntags)"
check "the cache repository has the recipe's index tag" grep -qx 'lade-cache-index-hello' <(tags_of cache)
idx=$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/cache/manifests/lade-cache-index-hello")
is "$(json_get '.artifactType' <<<"$idx")" "application/vnd.lade.cache.v1" "the index is a lade cache artifact"
is "$(json_get '.manifests | length' <<<"$idx")" "$own" "it lists one mapping per layer A made"
first=$(json_get '.manifests[0].digest' <<<"$idx")
m=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/cache/manifests/$first")
is "$(json_get '.config.mediaType' <<<"$m")" "application/vnd.lade.cache.config.v1+json" \
	"a mapping's config is the mapping document"
check "a mapping's one layer is one of A's layers" grep -qxF "$(json_get '.layers[0].digest' <<<"$m")" <<<"$A_LAYERS"

# --- runner B: empty cache, one app file changed, --cache-from --push-only ------------------
echo "# changed on runner B" >>"$R/app/hello.py"
mark=$(($(wc -l <"$LOG") + 1))
run_lade build "$R/recipe.yaml" --cache "$T/cache-b" --cache-from "$REG/cache" --push-only \
	--push "$REG/app:b" --cache-to "$REG/cache" --json -q
is "$RC" 0 "runner B builds with --cache-from --push-only"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
B_LAYERS=$(layers_of "$REG/app:b")
is "$(head -n -1 <<<"$B_LAYERS")" "$(head -n -1 <<<"$A_LAYERS")" "B shares every layer but the app layer with A"
check "B's app layer differs from A's" test "$(tail -1 <<<"$B_LAYERS")" != "$(tail -1 <<<"$A_LAYERS")"
got=$(gets_since "$mark")
cached_gets=$(grep -cxFf <(head -n -1 <<<"$A_LAYERS" | sed 's/^sha256://;s/^/sha256:/') <<<"$got" || true)
is "$cached_gets" 0 "the access log shows no GET of a cached layer blob by runner B"
base_index=sha256:$(sha256_file "$(ls "$T"/cache-a/bases/*.json | head -1)")
check "B read the base's file index from the registry (A published it), not from the base's layers" \
	grep -qxF "$base_index" <<<"$got"
is "$(pyjson 'print(sum(1 for l in d["images"][0]["layers"] if not l["from_base"] and not l["reused"]))' <<<"$OUT")" 1 \
	"B built exactly one layer (the app layer)"
is "$(json_get '.layout' <<<"$OUT")" "$REG/app:b" "the report names the pushed reference, no layout"
check "no staging layout is left in B's cache" test -z "$(find "$T/cache-b" -maxdepth 1 -name 'push-*')"
b_digest=$(json_get '.refs[0].digest' <<<"$OUT")
is "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/app:b")" "$b_digest" \
	"the registry has B's image under the digest lade printed"
# The same recipe built locally from scratch gives the same image: the mappings were right.
run_lade build "$R/recipe.yaml" -o "$T/out-plain" -q
is "$(printed_digest "$OUT")" "$b_digest" "a plain local build of B's inputs has B's digest"
check "skopeo pulls B's image (every blob verified)" skopeo copy --quiet --src-tls-verify=false \
	"docker://$REG/app:b" "oci:$T/pulled:b"
check "lade verify accepts the pulled image" "$LADE" verify "$T/pulled"
if command -v buildah >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
	BUILDAH=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)
	at_exit "${BUILDAH[*]} rm --all >/dev/null 2>&1; ${BUILDAH[*]} rmi --all --force >/dev/null 2>&1"
	ctr=$("${BUILDAH[@]}" from --quiet "oci:$T/pulled:b")
	is "$("${BUILDAH[@]}" run "$ctr" -- /opt/venv/bin/python -c 'import alpha, bigpkg, hello; print(alpha.A + bigpkg.X)' 2>&1)" "4" \
		"B's image runs under buildah (the cached wheels and the new app import)"
else
	ok "# SKIP buildah run needs root and buildah"
fi

# B again: the app layer comes from its local cache (no mapping is looked up for it), the
# others from the registry again (their blobs were never local); nothing is built.
mark=$(($(wc -l <"$LOG") + 1))
run_lade build "$R/recipe.yaml" --cache "$T/cache-b" --cache-from "$REG/cache" --push-only \
	--push "$REG/app:b2" --json -q
is "$RC" 0 "runner B builds again"
is "$(pyjson 'print(sum(1 for l in d["images"][0]["layers"] if not l["reused"] and not l["from_base"]))' <<<"$OUT")" 0 \
	"nothing is built"
is "$(tail -n +"$mark" "$LOG" | grep -c 'GET /v2/cache/manifests/lade-cache-[0-9a-f]' || true)" \
	"$(($(wc -l <<<"$A_LAYERS") - $(skopeo_layers "oci:$BASE_REF") - 1))" \
	"the local cache answers first: mappings are looked up for the cached wheel layers only"
is "$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/cache/manifests/lade-cache-index-hello" | json_get '.manifests | length')" \
	"$own" "the recipe's index lists every layer of the last image"

# --- eStargz layers: the mapping carries the TOC annotations a lazy layer's descriptor needs ---
run_lade build "$R/recipe.yaml" --lazy estargz --cache "$T/cache-la" -o "$T/out-la" \
	--push "$REG/app:la" --cache-to "$REG/cache" --json -q
is "$RC" 0 "runner A builds eStargz layers and publishes them"
la_digest=$(json_get '.refs[0].digest' <<<"$OUT")
run_lade build "$R/recipe.yaml" --lazy estargz --cache "$T/cache-lb" --cache-from "$REG/cache" \
	--push-only --push "$REG/app:lb" --json -q
is "$RC $(json_get '.refs[0].digest' <<<"$OUT")" "0 $la_digest" \
	"runner B takes them from the registry: the same image, annotations included"
is "$(pyjson 'print(sum(1 for l in d["images"][0]["layers"] if not l["reused"] and not l["from_base"]))' <<<"$OUT")" 0 \
	"nothing built"
man=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/app/manifests/lb")
is "$(pyjson 'print(all("containerd.io/snapshot/stargz/toc.digest" in l.get("annotations", {}) for l in d["layers"][-3:]))' <<<"$man")" True \
	"B's own layers carry the eStargz TOC digest"
run_lade build "$R/recipe.yaml" --cache "$T/cache-lc" --cache-from "$REG/cache" --push-only \
	--push "$REG/app:lc" --json -q
is "$RC $(json_get '.refs[0].digest' <<<"$OUT")" "0 $b_digest" \
	"a build without --lazy never takes the eStargz layers (its keys differ)"

# Over a size budget: nothing is pushed, and the message needs no layout to read back.
run_lade build "$R/recipe.yaml" --cache "$T/cache-b" --cache-from "$REG/cache" --push-only \
	--push "$REG/app:over" --max-size 1KB -q
is "$RC" 1 "--push-only over --max-size fails"
like "$ERR" "over --max-size 1KB .*nothing is pushed \(--push-only" "naming the budget, without a layout"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/app/manifests/over")" 404 \
	"and the tag is not pushed"

# --- --offline: the registry cache is not used ---------------------------------------------
run_lade build "$R/recipe.yaml" --cache "$T/cache-off" --cache-from "$REG/cache" --offline -o "$T/out-off"
is "$RC" 0 "--offline builds without the registry cache"
like "$ERR" "offline: the registry cache .* is not used" "and says the registry cache is not used"
is "$(printed_digest "$OUT")" "$b_digest" "to the same image"

# --- --cache-from into a local layout: the cached blobs are fetched (verified), not built -----
run_lade build "$R/recipe.yaml" --cache "$T/cache-g" --cache-from "$REG/cache" -o "$T/out-g" --json -q
is "$RC" 0 "--cache-from without --push-only builds a layout"
is "$(json_get '.refs[0].digest' <<<"$OUT")" "$b_digest" "the same image"
is "$(pyjson 'print(sum(1 for l in d["images"][0]["layers"] if not l["reused"] and not l["from_base"]))' <<<"$OUT")" 0 \
	"nothing is built: every layer came from the registry cache"
check "lade verify accepts the layout (the fetched blobs are complete)" "$LADE" verify "$T/out-g"
mark=$(($(wc -l <"$LOG") + 1))
run_lade build "$R/recipe.yaml" --cache "$T/cache-g" --cache-from "$REG/cache" -o "$T/out-g2" --json -q
is "$(json_get '.refs[0].digest' <<<"$OUT") $(tail -n +"$mark" "$LOG" | grep -c 'GET /v2/cache/' || true)" "$b_digest 0" \
	"the fetched layers are in the local cache now: the next build asks the registry nothing"

# The recipe's cache.from / cache.to do the same (and open the sandbox to the network); its
# output.format does not apply to --push-only, which writes nothing here.
cp -a "$R" "$T/recipe-h"
printf 'cache: {from: ["%s/cache"], to: "%s/cache"}\noutput: {format: oci-archive}\n' "$REG" "$REG" >>"$T/recipe-h/recipe.yaml"
run_lade build "$T/recipe-h/recipe.yaml" --cache "$T/cache-h" --push-only --push "$REG/app:h" --json -q
is "$RC" 0 "cache.from and cache.to in the recipe"
is "$(json_get '.refs[0].digest' <<<"$OUT") $(pyjson 'print(sum(1 for l in d["images"][0]["layers"] if not l["reused"] and not l["from_base"]))' <<<"$OUT")" \
	"$b_digest 0" "give the same image, nothing built"
run_lade build "$T/recipe-h/recipe.yaml" --cache "$T/cache-h" --push-only --push "$REG/app:h" --format docker-archive
is "$RC" 1 "--push-only refuses --format docker-archive"
like "$ERR" "writes no archive" "saying why"

# --- a stale mapping: its blob was deleted from the cache repository -----------------------
big=$(mapping_of bigpkg)
big_blob=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/cache/manifests/$big" | json_get '.layers[0].digest')
like "$big_blob" '^sha256:' "the bigpkg layer has a mapping"
is "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://$REG/v2/cache/blobs/$big_blob")" 202 \
	"its blob is deleted from the cache repository"
run_lade build "$R/recipe.yaml" --cache "$T/cache-c" --cache-from "$REG/cache" --push-only --push "$REG/app:c"
is "$RC" 0 "a runner meeting the stale mapping still builds"
like "$ERR" "blob $big_blob is missing.*the layer is built" "a note names the missing blob"
is "$(printed_digest "$OUT")" "$b_digest" "and the rebuilt layer gives the correct image"

# --- a mapping of another media type, and one of another size --------------------------------
alpha=$(mapping_of "python packages")
forge() { # forge MANIFEST-DIGEST FIELD VALUE: the mapping re-published under its own tags, one field changed
	python3 - "$REG" "$1" "$2" "$3" <<-'PY'
		import hashlib, json, sys, urllib.request
		reg, digest, field, value = sys.argv[1:]
		def req(method, url, data=None, headers={}):
		    full = url if url.startswith("http") else "http://%s%s" % (reg, url)
		    r = urllib.request.Request(full, data=data, method=method, headers=headers)
		    with urllib.request.urlopen(r) as f:
		        return f.read(), f.headers
		mt = "application/vnd.oci.image.manifest.v1+json"
		m = json.loads(req("GET", "/v2/cache/manifests/" + digest, headers={"Accept": mt})[0])
		cfg = json.loads(req("GET", "/v2/cache/blobs/" + m["config"]["digest"])[0])
		cfg[field] = int(value) if field == "size" else value
		m["layers"][0]["size" if field == "size" else "mediaType"] = cfg[field]
		body = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
		d = "sha256:" + hashlib.sha256(body).hexdigest()
		_, h = req("POST", "/v2/cache/blobs/uploads/")
		loc = h["Location"]
		req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, data=body,
		    headers={"Content-Type": "application/octet-stream"})
		m["config"]["digest"], m["config"]["size"] = d, len(body)
		for k in cfg["keys"]:
		    req("PUT", "/v2/cache/manifests/lade-cache-" + k, data=json.dumps(m).encode(), headers={"Content-Type": mt})
	PY
}
forge "$alpha" media_type application/vnd.oci.image.layer.v1.tar+zstd || diag "forging the media type failed"
run_lade build "$R/recipe.yaml" --cache "$T/cache-d" --cache-from "$REG/cache" --push-only --push "$REG/app:d"
is "$RC" 0 "a runner meeting a mapping of another media type builds"
like "$ERR" "media type application/vnd.oci.image.layer.v1.tar\+zstd, this build makes application/vnd.oci.image.layer.v1.tar\+gzip" \
	"a note says the media type differs"
is "$(printed_digest "$OUT")" "$b_digest" "and the image is correct"
if forge "$alpha" size 7 2>"$T/forge.err"; then
	run_lade build "$R/recipe.yaml" --cache "$T/cache-e" --cache-from "$REG/cache" --push-only --push "$REG/app:e"
	is "$RC" 0 "a runner meeting a mapping of the wrong size builds"
	like "$ERR" "has [0-9]+ bytes, the mapping says 7" "a note says the size differs"
	is "$(printed_digest "$OUT")" "$b_digest" "and the image is correct"
else
	ok "# SKIP the registry refuses a manifest with a wrong layer size: $(tail -1 "$T/forge.err")"
fi

# --- the registry dies between the blob HEADs and the manifest PUT --------------------------
start_front hold "$PORT_r" hold-manifest
echo "# changed again" >>"$R/app/hello.py"
rm -f "$T/front-hold.held" "$T/front-hold.release"
"$LADE" build "$R/recipe.yaml" --cache "$T/cache-f" --cache-from "$FRONT/cache" --push-only \
	--push "$FRONT/app:dead" -q >"$T/bg.out" 2>"$T/bg.err" &
BG=$!
for _ in $(seq 1 600); do [ -e "$T/front-hold.held" ] && break; sleep 0.05; done
check "the build reached its manifest PUT" test -e "$T/front-hold.held"
stop_registry r KILL
touch "$T/front-hold.release"
wait "$BG"
RC=$?
is "$RC" 1 "the build fails when the registry dies before the manifest"
diag "lade said: $(cat "$T/bg.err")"
ERR=$(cat "$T/bg.err")
_sanitizer_check build --push-only "(registry killed)"
like "$(cat "$T/bg.err")" "repository app, manifest sha256:[0-9a-f]{64}|manifest .*: HTTP 502" \
	"the error names the manifest it could not put"
restart_registry r
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/app/manifests/dead")" 404 \
	"no tag names a partial image"
check "no staging layout is left behind" test -z "$(find "$T/cache-f" -maxdepth 1 -name 'push-*')"
# a build killed outright leaves its staging layout; the next build on that cache removes it
mkdir -p "$T/cache-f/push-dead01/blobs/sha256"
head -c 1000 /dev/urandom >"$T/cache-f/push-dead01/blobs/sha256/x"
run_lade build "$R/recipe.yaml" --cache "$T/cache-f" -o "$T/out-f" -q
is "$RC" 0 "a build on that cache"
check "removes the dead build's staging layout" test ! -e "$T/cache-f/push-dead01"
done_testing
