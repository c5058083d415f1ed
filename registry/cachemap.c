/* lade — the registry as a layer cache: mappings (cache key → layer descriptor) as small OCI
 * artifacts tagged by key, looked up with one GET, blobs proven present by HEAD or a
 * cross-repository mount, never downloaded to be reused (see include/lade/registry.h). */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "lade/image.h"
#include "registry-private.h"

/* A mapping is a few hundred bytes; its manifest too. */
#define MAPPING_MAX (64u << 10)

struct lade_cache_repo {
	struct lade_registry_ref *ref;
	struct lade_registry_options o; /* a copy: mount_from is set per request */
	struct client *c;               /* connected at the first request */
	char *name;                     /* registry/repository */
};

void lade_cache_mapping_release(struct lade_cache_mapping *m)
{
	free(m->media_type);
	free(m->compressor);
	memset(m, 0, sizeof(*m));
}

void lade_cache_repo_free(struct lade_cache_repo *r)
{
	if (r == NULL)
		return;
	reg_client_free(r->c);
	lade_registry_ref_free(r->ref);
	free(r->name);
	free(r);
}

void lade_cache_repo_freep(struct lade_cache_repo **r)
{
	lade_cache_repo_free(*r);
	*r = NULL;
}

const char *lade_cache_repo_name(const struct lade_cache_repo *r)
{
	return r->name;
}

bool lade_cache_repo_same_registry(const struct lade_cache_repo *a, const struct lade_cache_repo *b)
{
	return strcmp(a->ref->registry, b->ref->registry) == 0;
}

static int repo_open(const char *s, bool tag_ok, const struct lade_registry_options *o,
                     struct lade_cache_repo **out, struct lade_error **err)
{
	/* a ':' after the last '/' or an '@' names a tag or a digest ("host:5000/repo" does not) */
	const char *slash = strrchr(s, '/');
	if (!tag_ok && (strchr(s, '@') || strchr(slash ? slash : s, ':')))
		return lade_error_set(err, 0, "%s names a tag or digest: give the repository only",
		                      s);
	_cleanup_(lade_cache_repo_freep) struct lade_cache_repo *r = xzalloc(sizeof(*r));
	if (lade_registry_ref_parse(s, &r->ref, err) < 0)
		return -1;
	r->o = *o;
	r->o.mount_from = NULL;
	r->name = xasprintf("%s/%s", r->ref->registry, r->ref->repository);
	*out = steal_pointer(&r);
	return 0;
}

int lade_cache_repo_open(const char *repo, const struct lade_registry_options *o,
                         struct lade_cache_repo **out, struct lade_error **err)
{
	return repo_open(repo, false, o, out, err);
}

int lade_cache_repo_open_ref(const char *ref, const struct lade_registry_options *o,
                             struct lade_cache_repo **out, struct lade_error **err)
{
	return repo_open(ref, true, o, out, err);
}

static int repo_client(struct lade_cache_repo *r, struct lade_error **err)
{
	if (r->c)
		return 0;
	if (r->o.offline)
		return lade_error_set(err, 0, "repository %s: offline", r->name);
	_cleanup_free_ char *scope = reg_scope(r->ref->repository, "pull,push");
	_cleanup_(reg_client_freep) struct client *c = NULL;
	if (reg_client_new(r->ref, &r->o, &c, err) < 0 || reg_client_connect(c, scope, err) < 0)
		return -1;
	r->c = steal_pointer(&c);
	return 0;
}

/* GET a small document (a manifest by tag, or a blob by digest) into out. The HTTP status, or
 * -1 when the registry did not answer. */
static long get_small(struct lade_cache_repo *r, const char *kind, const char *reference,
                      const char *accept, size_t max, struct lade_buf *out, struct lade_error **err)
{
	struct client *c = r->c;
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/%s/%s", c->base, c->repo, kind, reference);
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull");
	struct request q = {.method = "GET", .url = url, .accept = accept, .fd = -1};
	_cleanup_(reg_response_release) struct response resp = {.body_max = max};
	if (reg_request(c, &q, &resp, scope, err) < 0)
		return lade_error_prefix(err, "repository %s, %s %s", r->name, kind, reference);
	if (resp.status == 200)
		lade_buf_add(out, resp.body.data, resp.body.len);
	return resp.status;
}

/* HEAD a blob: its HTTP status, and *length the Content-Length (-1 when not given). */
static long head_blob(struct lade_cache_repo *r, const char *digest, int64_t *length,
                      struct lade_error **err)
{
	struct client *c = r->c;
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->repo, digest);
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull");
	struct request q = {.method = "HEAD", .url = url, .fd = -1};
	_cleanup_(reg_response_release) struct response resp = {.body_max = REG_BODY_MAX};
	if (reg_request(c, &q, &resp, scope, err) < 0)
		return lade_error_prefix(err, "repository %s, blob %s", r->name, digest);
	curl_off_t cl = -1;
	curl_easy_getinfo(c->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	*length = (int64_t)cl;
	return resp.status;
}

static bool mapping_has_key(const json_t *j, const char *key)
{
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(j, "keys"), i, k)
	{
		if (json_is_string(k) && strcmp(json_string_value(k), key) == 0)
			return true;
	}
	return false;
}

/* The mapping document of manifest m (tag `tag`), checked against the layer descriptor it
 * names. 0, or -1 with *why. */
static int read_mapping(struct lade_cache_repo *r, const char *key, const char *tag,
                        const json_t *m, struct lade_cache_mapping *out, char **why,
                        struct lade_error **err)
{
	_cleanup_free_ char *what = xasprintf("mapping %s in %s", tag, r->name);
	_cleanup_error_ struct lade_error *e = NULL;
	struct lade_oci_descriptor cfg, layer;
	json_t *layers = json_object_get(m, "layers");
	const char *at = reg_json_str(m, "artifactType");
	if (lade_oci_descriptor_parse(json_object_get(m, "config"), what, &cfg, &e) < 0 ||
	    !json_is_array(layers) || json_array_size(layers) != 1 ||
	    lade_oci_descriptor_parse(json_array_get(layers, 0), what, &layer, &e) < 0) {
		*why = xasprintf("%s: not a lade cache mapping%s%s", what, e ? ": " : "",
		                 e ? e->msg : "");
		return -1;
	}
	if (strcmp(cfg.media_type, LADE_CACHE_CONFIG_TYPE) != 0 ||
	    (at && strcmp(at, LADE_CACHE_ARTIFACT_TYPE) != 0) || cfg.size > MAPPING_MAX) {
		*why = xasprintf("%s: not a lade cache mapping (config %s)", what, cfg.media_type);
		return -1;
	}
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	long st = get_small(r, "blobs", cfg.digest, NULL, MAPPING_MAX, &b, err);
	if (st < 0)
		return -2;
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(b.data, b.len, got);
	if (st != 200 || strcmp(got, cfg.digest) != 0 || b.len != cfg.size) {
		*why = xasprintf("%s: its document %s is missing or damaged (HTTP %ld)", what,
		                 cfg.digest, st);
		return -1;
	}
	json_auto_t *j = NULL;
	if (lade_oci_json_parse(b.data, b.len, what, &j, &e) < 0) {
		*why = xstrdup(e->msg);
		return -1;
	}
	const char *digest = reg_json_str(j, "digest"), *diff_id = reg_json_str(j, "diff_id");
	const char *mt = reg_json_str(j, "media_type");
	json_t *size = json_object_get(j, "size");
	if (!mapping_has_key(j, key) || !digest || !lade_digest_valid(digest) || !diff_id ||
	    !lade_digest_valid(diff_id) || !mt || !json_is_integer(size) ||
	    json_integer_value(size) < 0) {
		*why = xasprintf("%s: not a mapping of key %s", what, key);
		return -1;
	}
	/* the descriptor is what the registry keeps; the mapping must say the same */
	if (strcmp(digest, layer.digest) != 0 || (uint64_t)json_integer_value(size) != layer.size ||
	    strcmp(mt, layer.media_type) != 0) {
		*why = xasprintf("%s: the mapping (%s, %" PRId64 " bytes, %s) and its layer "
		                 "descriptor (%s, %" PRIu64 " bytes, %s) differ",
		                 what, digest, (int64_t)json_integer_value(size), mt, layer.digest,
		                 layer.size, layer.media_type);
		return -1;
	}
	snprintf(out->digest, sizeof(out->digest), "%s", digest);
	snprintf(out->diff_id, sizeof(out->diff_id), "%s", diff_id);
	out->size = (uint64_t)json_integer_value(size);
	out->media_type = xstrdup(mt);
	const char *comp = reg_json_str(json_object_get(j, "annotations"), "dev.lade.compressor");
	out->compressor = comp ? xstrdup(comp) : NULL;
	out->layer_format = (int)json_integer_value(json_object_get(j, "layer_format"));
	const json_t *lazy = json_object_get(j, "lazy");
	if (lazy) {
		const char *toc = reg_json_str(lazy, "toc_digest");
		const char *pos = reg_json_str(lazy, "toc_position");
		const json_t *pb = json_object_get(lazy, "prefetch_bytes");
		const json_t *ts = json_object_get(lazy, "tar_size");
		if (!toc || !lade_digest_valid(toc) || !pos ||
		    strlen(pos) >= sizeof(out->toc_position) || !json_is_integer(pb) ||
		    json_integer_value(pb) < 0 || !json_is_integer(ts) ||
		    json_integer_value(ts) <= 0) {
			*why = xasprintf("%s: its lazy-pull TOC fields are malformed", what);
			lade_cache_mapping_release(out);
			return -1;
		}
		snprintf(out->toc_digest, sizeof(out->toc_digest), "%s", toc);
		snprintf(out->toc_position, sizeof(out->toc_position), "%s", pos);
		out->prefetch_bytes = (uint64_t)json_integer_value(pb);
		out->tar_size = (uint64_t)json_integer_value(ts);
	}
	return 0;
}

int lade_cache_repo_lookup(struct lade_cache_repo *r, const char *key, const char *want_media_type,
                           struct lade_cache_mapping *m, char **why, struct lade_error **err)
{
	*why = NULL;
	memset(m, 0, sizeof(*m));
	if (repo_client(r, err) < 0)
		return -1;
	_cleanup_free_ char *tag = xasprintf(LADE_CACHE_TAG_PREFIX "%s", key);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	long st = get_small(r, "manifests", tag, "Accept: " LADE_MT_OCI_MANIFEST, MAPPING_MAX, &b,
	                    err);
	if (st < 0)
		return -1;
	if (st == 404)
		return 0;
	if (st != 200) {
		*why = xasprintf("mapping %s in %s: HTTP %ld", tag, r->name, st);
		return 0;
	}
	_cleanup_free_ char *what = xasprintf("mapping %s in %s", tag, r->name);
	_cleanup_error_ struct lade_error *e = NULL;
	json_auto_t *doc = NULL;
	if (lade_oci_json_parse(b.data, b.len, what, &doc, &e) < 0) {
		*why = xstrdup(e->msg);
		return 0;
	}
	struct lade_cache_mapping got = {0};
	int rc = read_mapping(r, key, tag, doc, &got, why, err);
	lade_sha256_buf(b.data, b.len, got.manifest_digest);
	got.manifest_size = b.len;
	if (rc == -2)
		return -1;
	if (rc < 0)
		return 0;
	if (strcmp(got.media_type, want_media_type) != 0) {
		*why = xasprintf("%s: media type %s, this build makes %s", what, got.media_type,
		                 want_media_type);
		lade_cache_mapping_release(&got);
		return 0;
	}
	int64_t len = -1;
	st = head_blob(r, got.digest, &len, err);
	if (st < 0) {
		lade_cache_mapping_release(&got);
		return -1;
	}
	if (st != 200 || (len >= 0 && (uint64_t)len != got.size)) {
		*why = st != 200 ? xasprintf("%s: blob %s is missing (HTTP %ld)", what, got.digest,
		                             st)
		                 : xasprintf("%s: blob %s has %" PRId64
		                             " bytes, the mapping says %" PRIu64,
		                             what, got.digest, len, got.size);
		lade_cache_mapping_release(&got);
		return 0;
	}
	*m = got;
	return 1;
}

/* POST a mount of digest from `from` into r: 1 mounted, 0 refused (the registry opened an
 * upload instead, or said no). */
static int mount_blob(struct lade_cache_repo *r, const struct lade_cache_repo *from,
                      const char *digest, struct lade_error **err)
{
	struct client *c = r->c;
	char *e = curl_easy_escape(c->curl, from->ref->repository, 0);
	_cleanup_free_ char *url =
	        xasprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", c->base, c->repo, digest, e);
	curl_free(e);
	_cleanup_free_ char *scope = xasprintf("repository:%s:pull,push repository:%s:pull",
	                                       c->repo, from->ref->repository);
	struct request q = {.method = "POST", .url = url, .fd = -1};
	_cleanup_(reg_response_release) struct response resp = {.body_max = REG_BODY_MAX};
	if (reg_request(c, &q, &resp, scope, err) < 0)
		return lade_error_prefix(err, "repository %s, mounting blob %s from %s", r->name,
		                         digest, from->name);
	/* an upload session opened instead (202) is left to expire: nothing was sent */
	return resp.status == 201 ? 1 : 0;
}

int lade_cache_repo_ensure_blob(struct lade_cache_repo *target, const struct lade_cache_repo *from,
                                const char *digest, uint64_t size, bool *mounted,
                                struct lade_error **err)
{
	*mounted = false;
	if (repo_client(target, err) < 0)
		return -1;
	int64_t len = -1;
	long st = head_blob(target, digest, &len, err);
	if (st < 0)
		return -1;
	if (st == 200)
		return len < 0 || (uint64_t)len == size ? 1 : 0;
	if (from == NULL || !lade_cache_repo_same_registry(target, from))
		return 0; /* never across registries */
	if (strcmp(from->ref->repository, target->ref->repository) == 0)
		return 0;
	int rc = mount_blob(target, from, digest, err);
	*mounted = rc == 1;
	return rc;
}

int lade_cache_repo_fetch_blob(struct lade_cache_repo *r, struct lade_store *store,
                               const char *digest, uint64_t size, struct lade_error **err)
{
	if (lade_store_has(store, digest))
		return 0;
	if (repo_client(r, err) < 0)
		return -1;
	return reg_pull_blob(r->c, store, digest, size, err);
}

/* A small blob from memory: HEAD, else POST then one PUT. */
static int put_small_blob(struct lade_cache_repo *r, const char *data, size_t len,
                          const char *digest, struct lade_error **err)
{
	int64_t have = -1;
	long st = head_blob(r, digest, &have, err);
	if (st < 0)
		return -1;
	if (st == 200)
		return 0;
	struct client *c = r->c;
	_cleanup_free_ char *ctx = xasprintf("repository %s, blob %s", r->name, digest);
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull,push");
	_cleanup_free_ char *post_url = xasprintf("%s/v2/%s/blobs/uploads/", c->base, c->repo);
	struct request post = {.method = "POST", .url = post_url, .fd = -1};
	_cleanup_(reg_response_release) struct response resp = {.body_max = REG_BODY_MAX};
	if (reg_request(c, &post, &resp, scope, err) < 0)
		return lade_error_prefix(err, "%s", ctx);
	if (resp.status != 202 || !resp.location) {
		_cleanup_free_ char *m = reg_message(&resp);
		return lade_error_set(err, 0, "%s: starting the upload: %s", ctx, m);
	}
	const char *loc = resp.location;
	_cleanup_free_ char *put_url =
	        strncmp(loc, "http", 4) == 0
	                ? xasprintf("%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', digest)
	                : xasprintf("%s%s%cdigest=%s", c->base, loc, strchr(loc, '?') ? '&' : '?',
	                            digest);
	struct request put = {.method = "PUT",
	                      .url = put_url,
	                      .content_type = "application/octet-stream",
	                      .data = data,
	                      .data_len = len,
	                      .fd = -1};
	if (reg_request(c, &put, &resp, scope, err) < 0)
		return lade_error_prefix(err, "%s", ctx);
	if (resp.status != 201) {
		_cleanup_free_ char *m = reg_message(&resp);
		return lade_error_set(err, 0, "%s: uploading: %s", ctx, m);
	}
	return 0;
}

static int put_manifest_tag(struct lade_cache_repo *r, const char *tag, const char *media_type,
                            const char *text, struct lade_error **err)
{
	struct lade_buf bytes = {.data = (char *)text, .len = strlen(text)}; /* borrowed */
	char digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(text, bytes.len, digest);
	return reg_put_manifest(r->c, tag, &bytes, media_type, digest, NULL, err);
}

static int publish_layer_blob(struct lade_cache_repo *r, const struct lade_cache_mapping *m,
                              const char *blob_dir, const struct lade_cache_repo *mount_from,
                              struct lade_error **err)
{
	bool mounted;
	int rc = lade_cache_repo_ensure_blob(r, mount_from, m->digest, m->size, &mounted, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	_cleanup_free_ char *path =
	        blob_dir ? xasprintf("%s/blobs/sha256/%s", blob_dir, lade_digest_hex(m->digest))
	                 : NULL;
	if (path == NULL || access(path, F_OK) < 0)
		return lade_error_set(err, 0,
		                      "repository %s: blob %s is neither there nor available here",
		                      r->name, m->digest);
	return reg_push_blob(r->c, blob_dir, m->digest, m->size, NULL, err);
}

int lade_cache_repo_publish(struct lade_cache_repo *r, const struct lade_cache_mapping *m,
                            char *const *keys, const char *blob_dir,
                            const struct lade_cache_repo *mount_from,
                            char manifest_digest[LADE_DIGEST_STRLEN], uint64_t *manifest_size,
                            struct lade_error **err)
{
	if (repo_client(r, err) < 0 || publish_layer_blob(r, m, blob_dir, mount_from, err) < 0)
		return -1;
	json_auto_t *keyv = json_array();
	for (char *const *k = keys; *k; k++)
		json_array_append_new(keyv, json_string(*k));
	json_auto_t *doc =
	        json_pack("{s:s, s:s, s:O, s:i, s:s, s:I, s:o}", "digest", m->digest, "diff_id",
	                  m->diff_id, "keys", keyv, "layer_format", m->layer_format, "media_type",
	                  m->media_type, "size", (json_int_t)m->size, "annotations", json_object());
	if (m->compressor)
		json_object_set_new(json_object_get(doc, "annotations"), "dev.lade.compressor",
		                    json_string(m->compressor));
	if (m->toc_digest[0])
		json_object_set_new(doc, "lazy",
		                    json_pack("{s:s, s:I, s:s, s:I}", "toc_digest", m->toc_digest,
		                              "prefetch_bytes", (json_int_t)m->prefetch_bytes,
		                              "toc_position", m->toc_position, "tar_size",
		                              (json_int_t)m->tar_size));
	_cleanup_free_ char *cfg = lade_json_dump(doc);
	char cfg_digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(cfg, strlen(cfg), cfg_digest);
	if (put_small_blob(r, cfg, strlen(cfg), cfg_digest, err) < 0)
		return -1;
	json_auto_t *man = json_pack(
	        "{s:i, s:s, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}], s:{s:s}}", "schemaVersion",
	        2, "mediaType", LADE_MT_OCI_MANIFEST, "artifactType", LADE_CACHE_ARTIFACT_TYPE,
	        "config", "mediaType", LADE_CACHE_CONFIG_TYPE, "digest", cfg_digest, "size",
	        (json_int_t)strlen(cfg), "layers", "mediaType", m->media_type, "digest", m->digest,
	        "size", (json_int_t)m->size, "annotations", "dev.lade.cache.key", keys[0]);
	_cleanup_free_ char *text = lade_json_dump(man);
	for (char *const *k = keys; *k; k++) {
		_cleanup_free_ char *tag = xasprintf(LADE_CACHE_TAG_PREFIX "%s", *k);
		if (put_manifest_tag(r, tag, LADE_MT_OCI_MANIFEST, text, err) < 0)
			return -1;
	}
	if (manifest_digest)
		lade_sha256_buf(text, strlen(text), manifest_digest);
	if (manifest_size)
		*manifest_size = strlen(text);
	return 0;
}

int lade_cache_repo_put_index(struct lade_cache_repo *r, const char *tag, char *const *digests,
                              const uint64_t *sizes, char *const *names, size_t n,
                              struct lade_error **err)
{
	if (repo_client(r, err) < 0)
		return -1;
	json_auto_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:s, s:{s:s}}", "mediaType",
		                                      LADE_MT_OCI_MANIFEST, "digest", digests[i],
		                                      "size", (json_int_t)sizes[i], "artifactType",
		                                      LADE_CACHE_ARTIFACT_TYPE, "annotations",
		                                      "dev.lade.cache.layer", names[i]));
	json_auto_t *idx = json_pack("{s:i, s:s, s:s, s:O}", "schemaVersion", 2, "mediaType",
	                             LADE_MT_OCI_INDEX, "artifactType", LADE_CACHE_ARTIFACT_TYPE,
	                             "manifests", list);
	_cleanup_free_ char *text = lade_json_dump(idx);
	return put_manifest_tag(r, tag, LADE_MT_OCI_INDEX, text, err);
}

/* ---- documents: one blob of a given media type under a key ---- */

#define EMPTY_JSON   "{}"
#define MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

int lade_cache_repo_put_doc(struct lade_cache_repo *r, const char *key, const char *media_type,
                            const void *data, size_t len, struct lade_error **err)
{
	char digest[LADE_DIGEST_STRLEN], empty[LADE_DIGEST_STRLEN];
	lade_sha256_buf(data, len, digest);
	lade_sha256_buf(EMPTY_JSON, strlen(EMPTY_JSON), empty);
	if (repo_client(r, err) < 0 || put_small_blob(r, data, len, digest, err) < 0 ||
	    put_small_blob(r, EMPTY_JSON, strlen(EMPTY_JSON), empty, err) < 0)
		return -1;
	json_auto_t *man = json_pack(
	        "{s:i, s:s, s:s, s:{s:s, s:s, s:i}, s:[{s:s, s:s, s:I}], s:{s:s}}", "schemaVersion",
	        2, "mediaType", LADE_MT_OCI_MANIFEST, "artifactType", LADE_CACHE_ARTIFACT_TYPE,
	        "config", "mediaType", MT_OCI_EMPTY, "digest", empty, "size",
	        (int)strlen(EMPTY_JSON), "layers", "mediaType", media_type, "digest", digest,
	        "size", (json_int_t)len, "annotations", "dev.lade.cache.key", key);
	_cleanup_free_ char *text = lade_json_dump(man);
	_cleanup_free_ char *tag = xasprintf(LADE_CACHE_TAG_PREFIX "%s", key);
	return put_manifest_tag(r, tag, LADE_MT_OCI_MANIFEST, text, err);
}

int lade_cache_repo_get_doc(struct lade_cache_repo *r, const char *key, const char *media_type,
                            size_t max, struct lade_buf *out, char **why, struct lade_error **err)
{
	*why = NULL;
	if (repo_client(r, err) < 0)
		return -1;
	_cleanup_free_ char *tag = xasprintf(LADE_CACHE_TAG_PREFIX "%s", key);
	_cleanup_free_ char *what = xasprintf("document %s in %s", tag, r->name);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	long st = get_small(r, "manifests", tag, "Accept: " LADE_MT_OCI_MANIFEST, MAPPING_MAX, &b,
	                    err);
	if (st < 0)
		return -1;
	if (st != 200) {
		if (st != 404)
			*why = xasprintf("%s: HTTP %ld", what, st);
		return 0;
	}
	_cleanup_error_ struct lade_error *e = NULL;
	json_auto_t *m = NULL;
	struct lade_oci_descriptor d;
	json_t *layers = NULL;
	if (lade_oci_json_parse(b.data, b.len, what, &m, &e) < 0 ||
	    !json_is_array(layers = json_object_get(m, "layers")) || json_array_size(layers) != 1 ||
	    lade_oci_descriptor_parse(json_array_get(layers, 0), what, &d, &e) < 0 ||
	    strcmp(d.media_type, media_type) != 0 || d.size > max) {
		*why = xasprintf("%s: not a %s of at most %zu bytes%s%s", what, media_type, max,
		                 e ? ": " : "", e ? e->msg : "");
		return 0;
	}
	_cleanup_buf_ struct lade_buf doc = LADE_BUF_INIT;
	st = get_small(r, "blobs", d.digest, NULL, max, &doc, err);
	if (st < 0)
		return -1;
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(doc.data, doc.len, got);
	if (st != 200 || strcmp(got, d.digest) != 0 || doc.len != d.size) {
		*why = xasprintf("%s: blob %s is missing or damaged (HTTP %ld)", what, d.digest,
		                 st);
		return 0;
	}
	lade_buf_add(out, doc.data, doc.len);
	return 1;
}
