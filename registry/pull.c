/* lade — pull into the content store: manifests and indexes by digest or tag, blobs fetched in
 * parallel and verified before they are committed, an index resolved to one platform, and the
 * image named in the store's index.json by its canonical reference. */
#include <stdio.h>
#include <string.h>

#include "lade/image.h"
#include "lade/store.h"
#include "registry-private.h"

struct pull {
	const struct lade_registry_ref *ref;
	const struct lade_registry_options *o;
	struct lade_store *store;
	struct client *c; /* created at the first network access */
	const char *name; /* canonical reference, for messages */
};

static int pull_client(struct pull *p, const char *what, struct lade_error **err)
{
	if (p->c)
		return 0;
	if (p->o->offline)
		return lade_error_set(err, 0, "image %s: %s is not in the store %s (offline)",
		                      p->name, what, lade_store_dir(p->store));
	_cleanup_free_ char *scope = xasprintf("repository:%s:pull", p->ref->repository);
	if (reg_client_new(p->ref, p->o, &p->c, err) < 0 ||
	    reg_client_connect(p->c, scope, err) < 0)
		return -1;
	return 0;
}

/* A manifest or index by digest (or tag: then digest_out tells which), from the store when
 * there, else from the registry; verified as the OCI reader verifies JSON blobs (size when
 * known, else REG_SIZE_ANY; digest; no key twice) before it is stored. *doc: parsed (new). */
static int pull_manifest(struct pull *p, const char *reference, uint64_t size, struct lade_buf *out,
                         json_t **doc, char digest_out[LADE_DIGEST_STRLEN], char **media_type_out,
                         struct lade_error **err)
{
	bool by_digest = lade_digest_valid(reference);
	if (by_digest && lade_store_has(p->store, reference)) {
		if (reg_blob_json(lade_store_dir(p->store), reference, size, out, doc, err) < 0)
			return lade_error_prefix(err, "image %s: manifest in the store", p->name);
		memcpy(digest_out, reference, LADE_DIGEST_STRLEN);
		return 0;
	}
	_cleanup_free_ char *what = xasprintf("manifest %s", reference);
	if (pull_client(p, what, err) < 0)
		return -1;
	struct client *c = p->c;
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repo, reference);
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull");
	struct request q = {.method = "GET", .url = url, .accept = ACCEPT_MANIFESTS, .fd = -1};
	_cleanup_(reg_response_release) struct response r = {.body_max = LADE_OCI_JSON_MAX};
	if (reg_request(c, &q, &r, scope, err) < 0)
		return lade_error_prefix(err, "repository %s, manifest %s", c->repo, reference);
	if (r.status != 200) {
		_cleanup_free_ char *m = reg_message(&r);
		return lade_error_set(err, 0, "registry %s, repository %s, manifest %s: %s",
		                      c->registry, c->repo, reference, m);
	}
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(r.body.data, r.body.len, got);
	const char *want = by_digest ? reference : r.docker_digest;
	if (want && strcmp(got, want) != 0)
		return lade_error_set(err, 0,
		                      "registry %s, repository %s, manifest %s: the registry sent "
		                      "content with digest %s, expected %s",
		                      c->registry, c->repo, reference, got, want);
	if (lade_oci_blob_json_mem(r.body.data, r.body.len, got,
	                           size == REG_SIZE_ANY ? r.body.len : size, doc, err) < 0)
		return lade_error_prefix(err, "registry %s, repository %s, manifest %s",
		                         c->registry, c->repo, reference);
	char stored[LADE_DIGEST_STRLEN];
	if (lade_store_put(p->store, r.body.data, r.body.len, stored, err) < 0)
		return -1;
	memcpy(digest_out, got, LADE_DIGEST_STRLEN);
	lade_buf_add(out, r.body.data, r.body.len);
	if (media_type_out && r.content_type && !*media_type_out) {
		size_t n = strcspn(r.content_type, "; ");
		*media_type_out = xstrndup(r.content_type, n);
	}
	return 0;
}

/* Refuses more bytes than the descriptor announced (a hostile registry cannot fill the disk). */
struct limit_stream {
	struct lade_stream stream;
	struct lade_stream *next;
	uint64_t limit, bytes;
};

static int limit_write(struct lade_stream *st, const void *buf, size_t len, struct lade_error **err)
{
	struct limit_stream *ls = (struct limit_stream *)st;
	ls->bytes += len;
	if (ls->bytes > ls->limit)
		return lade_error_set(err, 0, "more than the %ju bytes the manifest says",
		                      (uintmax_t)ls->limit);
	return lade_stream_write(ls->next, buf, len, err);
}

static int pull_blob(struct pull *p, const char *digest, uint64_t size, struct lade_error **err)
{
	if (lade_store_has(p->store, digest))
		return 0;
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	if (pull_client(p, what, err) < 0)
		return -1;
	struct client *c = p->c;
	_cleanup_free_ char *ctx =
	        xasprintf("registry %s, repository %s, blob %s", c->registry, c->repo, digest);
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->repo, digest);
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull");
	for (unsigned attempt = 1;; attempt++) {
		_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *w = NULL;
		if (lade_store_blob_begin(p->store, &w, err) < 0)
			return -1;
		struct request q = {.method = "GET", .url = url, .fd = -1};
		_cleanup_(reg_response_release) struct response r = {.body_max = REG_BODY_MAX};
		struct lade_hash_stream hs;
		lade_hash_stream_init(&hs, lade_blob_writer_stream(w));
		struct limit_stream ls = {{limit_write}, &hs.stream, size, 0};
		r.sink = &ls.stream;
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = reg_request(c, &q, &r, scope, &e);
		char got[LADE_DIGEST_STRLEN];
		lade_hash_stream_final(&hs, got);
		if (rc < 0) {
			/* a download cut in the middle starts again from zero (bounded) */
			if (r.received && attempt < LADE_REGISTRY_TRIES && ls.bytes <= size) {
				reg_sleep_ms(lade_registry_retry_delay_ms(attempt));
				continue;
			}
			lade_error_set(err, e->sys_errno, "%s: %s", ctx, e->msg);
			return -1;
		}
		if (r.status != 200) {
			_cleanup_free_ char *m = reg_message(&r);
			return lade_error_set(err, 0, "%s: %s", ctx, m);
		}
		/* checked before the commit, so nothing unexpected lands in the store */
		if (strcmp(got, digest) != 0)
			return lade_error_set(
			        err, 0, "%s: the registry sent content with digest %s", ctx, got);
		if (ls.bytes != size)
			return lade_error_set(err, 0,
			                      "%s: %ju bytes received, the manifest says %ju", ctx,
			                      (uintmax_t)ls.bytes, (uintmax_t)size);
		char stored[LADE_DIGEST_STRLEN];
		uint64_t stored_size;
		if (lade_blob_writer_commit(steal_pointer(&w), stored, &stored_size, err) < 0)
			return lade_error_prefix(err, "%s", ctx);
		return 0;
	}
}

/* The blobs of one manifest the store lacks (each once), fetched together. */
struct blob_want {
	char digest[LADE_DIGEST_STRLEN];
	uint64_t size;
};
struct blob_list {
	struct blob_want *items;
	size_t n, alloc;
};

static void blob_list_release(struct blob_list *l)
{
	free(l->items);
}

static void blob_list_add_missing(struct blob_list *l, struct lade_store *store, const char *digest,
                                  uint64_t size)
{
	if (lade_store_has(store, digest))
		return;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].digest, digest) == 0)
			return;
	lade_grow(&l->items, sizeof(*l->items), l->n + 1, &l->alloc);
	snprintf(l->items[l->n].digest, LADE_DIGEST_STRLEN, "%s", digest);
	l->items[l->n++].size = size;
}

struct pull_job {
	struct pull *p;
	const struct blob_list *want;
};

static int pull_one(void *ctx, struct client *c, size_t i, struct lade_error **err)
{
	struct pull_job *j = ctx;
	struct pull p = *j->p;
	p.c = c;
	return pull_blob(&p, j->want->items[i].digest, j->want->items[i].size, err);
}

/* The media type of a document reached through d: the descriptor's, which the document's
 * own mediaType must equal (lade_oci_doc_media_type). At the top, with no descriptor: the
 * document's own, else what the registry served (an OCI type only), else what its fields
 * say. Borrowed from d, m or served_mt. */
static int manifest_media_type(const struct lade_oci_descriptor *d, const json_t *m,
                               const char *digest, const char *served_mt, const char **out,
                               struct lade_error **err)
{
	const char *mt = NULL;
	if (d) {
		if (lade_oci_doc_media_type(d, m, &mt, err) < 0)
			return -1;
	} else {
		const json_t *own = json_object_get(m, "mediaType");
		if (own && !json_is_string(own))
			return lade_error_set(err, 0, "blob %s: mediaType is not a string", digest);
		mt = json_string_value(own);
		if (!mt && served_mt &&
		    (strcmp(served_mt, LADE_MT_OCI_INDEX) == 0 ||
		     strcmp(served_mt, LADE_MT_OCI_MANIFEST) == 0))
			mt = served_mt;
		if (!mt)
			mt = json_object_get(m, "manifests") ? LADE_MT_OCI_INDEX
			                                     : LADE_MT_OCI_MANIFEST;
	}
	*out = mt;
	return 0;
}

static int pull_tree(struct pull *p, const char *reference, const struct lade_oci_descriptor *d,
                     const struct lade_oci_platform *want, int depth, json_t **named,
                     struct lade_error **err);

/* An index: every child (want NULL), or the child for the platform (lade_oci_platform_match:
 * linux/arm64 is linux/arm64/v8), whose descriptor, with the index's platform object, goes to
 * *named. 1 when every child was pulled (*named not set). */
static int pull_index(struct pull *p, const json_t *m, const char *mt, const char *digest,
                      const struct lade_oci_platform *want, int depth, json_t **named,
                      struct lade_error **err)
{
	_cleanup_free_ struct lade_oci_descriptor *children = NULL;
	size_t n;
	if (reg_doc_descriptors(m, mt, digest, &children, &n, err) < 0)
		return lade_error_prefix(err, "image %s", p->name);
	if (!want) {
		for (size_t i = 0; i < n; i++) {
			json_auto_t *ignored = NULL;
			if (pull_tree(p, children[i].digest, &children[i], NULL, depth + 1,
			              &ignored, err) < 0)
				return -1;
		}
		return 1;
	}
	_cleanup_free_ char *what = xasprintf("index %s", digest);
	struct lade_oci_descriptor chosen;
	if (lade_oci_index_select_platform(m, what, want, &chosen, err) < 0)
		return lade_error_prefix(err, "image %s, index %s", p->name, digest);
	json_auto_t *child = NULL;
	if (pull_tree(p, chosen.digest, &chosen, NULL, depth + 1, &child, err) < 0)
		return -1;
	json_object_set(child, "platform", (json_t *)chosen.platform);
	*named = steal_pointer(&child);
	return 0;
}

/* An image manifest: its config and layers the store lacks, fetched in parallel. */
static int pull_blobs(struct pull *p, const json_t *m, const char *mt, const char *digest,
                      struct lade_error **err)
{
	_cleanup_free_ struct lade_oci_descriptor *blobs = NULL;
	size_t n;
	if (reg_doc_descriptors(m, mt, digest, &blobs, &n, err) < 0)
		return lade_error_prefix(err, "image %s", p->name);
	_cleanup_(blob_list_release) struct blob_list want = {0};
	for (size_t i = 0; i < n; i++)
		blob_list_add_missing(&want, p->store, blobs[i].digest, blobs[i].size);
	if (!want.n)
		return 0;
	_cleanup_free_ char *first = xasprintf("blob %s", want.items[0].digest);
	if (pull_client(p, first, err) < 0)
		return -1;
	struct pull_job job = {.p = p, .want = &want};
	return reg_run_pool(p->c, want.n, p->o->jobs, pull_one, &job, err);
}

/* Fetch what a manifest/index names (d: its descriptor, NULL at the top; depth: the indexes
 * above it, at most LADE_OCI_INDEX_DEPTH as for a base image). Fills *named with the
 * descriptor to name in index.json (for an index resolved to a platform: the child's). */
static int pull_tree(struct pull *p, const char *reference, const struct lade_oci_descriptor *d,
                     const struct lade_oci_platform *want, int depth, json_t **named,
                     struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	json_auto_t *m = NULL;
	char digest[LADE_DIGEST_STRLEN];
	_cleanup_free_ char *served_mt = NULL;
	if (pull_manifest(p, reference, d ? d->size : REG_SIZE_ANY, &b, &m, digest, &served_mt,
	                  err) < 0)
		return -1;
	const char *mt = NULL;
	if (manifest_media_type(d, m, digest, served_mt, &mt, err) < 0)
		return lade_error_prefix(err, "image %s", p->name);
	if (lade_oci_is_index_type(mt)) {
		if (depth >= LADE_OCI_INDEX_DEPTH)
			return lade_error_set(err, 0,
			                      "image %s: image indexes nested more than %d deep",
			                      p->name, LADE_OCI_INDEX_DEPTH);
		int rc = pull_index(p, m, mt, digest, want, depth, named, err);
		if (rc <= 0)
			return rc;
	} else if (pull_blobs(p, m, mt, digest, err) < 0) {
		return -1;
	}
	*named = json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size",
	                   (json_int_t)b.len);
	return 0;
}

/* Offline and unpinned: the store's index.json may name the reference already. */
static char *store_lookup(struct lade_store *s, const char *name)
{
	_cleanup_free_ char *ip = xasprintf("%s/index.json", lade_store_dir(s));
	json_auto_t *idx = NULL;
	_cleanup_error_ struct lade_error *ignored = NULL;
	if (lade_oci_json_file(ip, NULL, &idx, &ignored) < 0)
		return NULL; /* not named there: the network is asked, and refused offline */
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(idx, "manifests"), i, d)
	{
		const char *rn = reg_json_str(json_object_get(d, "annotations"), LADE_REF_NAME);
		const char *dg = reg_json_str(d, "digest");
		if (rn && dg && strcmp(rn, name) == 0 && lade_digest_valid(dg))
			return xstrdup(dg);
	}
	return NULL;
}

/* Parse ref_s and refuse an unpinned one unless allowed (*name: its canonical form), and parse
 * platform (NULL: *want stays empty). Nothing is touched before these are checked. */
static int pull_args(const char *ref_s, const char *platform, bool allow_unpinned,
                     struct lade_registry_ref **ref, char **name, struct lade_oci_platform *want,
                     struct lade_error **err)
{
	*want = (struct lade_oci_platform){0};
	if (lade_registry_ref_parse(ref_s, ref, err) < 0)
		return -1;
	*name = lade_registry_ref_canonical(*ref);
	if (!(*ref)->digest && !allow_unpinned)
		return lade_error_set(
		        err, 0,
		        "image %s is not pinned: add @sha256:… (or allow unpinned base "
		        "images)",
		        *name);
	if (platform && lade_oci_platform_parse(platform, want, err) < 0)
		return lade_error_prefix(err, "image %s", *name);
	return 0;
}

int lade_registry_pull_ex(const char *ref_s, const char *platform, const char *layout_dir,
                          bool allow_unpinned, const struct lade_registry_options *o,
                          char manifest_digest[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	/* checked before the store is created, so a refused reference leaves nothing behind */
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *ref = NULL;
	_cleanup_free_ char *name = NULL;
	_cleanup_(lade_oci_platform_release) struct lade_oci_platform want = {0};
	if (pull_args(ref_s, platform, allow_unpinned, &ref, &name, &want, err) < 0)
		return -1;
	_cleanup_free_ char *dir = layout_dir ? xstrdup(layout_dir) : lade_store_default_dir(err);
	if (!dir || lade_mkdir_p(dir, err) < 0)
		return -1;
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	if (lade_store_open(dir, 600, &store, err) < 0)
		return -1;
	return lade_registry_pull_into(ref_s, platform, store, allow_unpinned, o, manifest_digest,
	                               err);
}

int lade_registry_pull_into(const char *ref_s, const char *platform, struct lade_store *store,
                            bool allow_unpinned, const struct lade_registry_options *o,
                            char manifest_digest[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	static const struct lade_registry_options defaults = LADE_REGISTRY_OPTIONS_INIT;
	if (!o)
		o = &defaults;
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *ref = NULL;
	_cleanup_free_ char *name = NULL;
	_cleanup_(lade_oci_platform_release) struct lade_oci_platform want = {0};
	if (pull_args(ref_s, platform, allow_unpinned, &ref, &name, &want, err) < 0)
		return -1;
	struct pull p = {.ref = ref, .o = o, .store = store, .name = name};
	_cleanup_free_ char *known = NULL;
	const char *reference = ref->digest;
	if (!reference && o->offline)
		reference = known = store_lookup(store, name);
	if (!reference)
		reference = ref->tag;
	json_auto_t *named = NULL;
	int rc = pull_tree(&p, reference, NULL, platform ? &want : NULL, 0, &named, err);
	reg_client_free(p.c);
	if (rc < 0)
		return -1;
	struct lade_index_entry e = {
	        .media_type = reg_json_str(named, "mediaType"),
	        .digest = reg_json_str(named, "digest"),
	        .size = (uint64_t)json_integer_value(json_object_get(named, "size")),
	        .ref_name = name,
	        .platform = json_object_get(named, "platform"),
	};
	if (lade_layout_update_index(store, &e, 1, err) < 0)
		return -1;
	if (manifest_digest)
		snprintf(manifest_digest, LADE_DIGEST_STRLEN, "%s", e.digest);
	return 0;
}

int lade_registry_pull(const char *ref, const char *platform, const char *layout_dir,
                       bool allow_unpinned, struct lade_error **err)
{
	return lade_registry_pull_ex(ref, platform, layout_dir, allow_unpinned, NULL, NULL, err);
}

int reg_pull_blob(struct client *c, struct lade_store *store, const char *digest, uint64_t size,
                  struct lade_error **err)
{
	struct pull p = {.o = c->o, .store = store, .c = c, .name = c->repo};
	return pull_blob(&p, digest, size, err);
}
