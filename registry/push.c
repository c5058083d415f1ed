/* lade — push of a local layout: each blob checked with HEAD and uploaded when missing (one
 * PUT, or resumable PATCH chunks), mounted when possible; then the manifests, children first and
 * the tag last; referrers by digest, with the referrers tag where the registry lacks the API. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "registry-private.h"

struct push {
	struct client *c;
	const char *dir;
	struct lade_push_stats *stats;
	char *mount_scope;
	uint64_t chunk; /* blobs larger than this go in PATCH chunks of this size */
};

static char *blob_context(struct push *p, const char *digest)
{
	return xasprintf("registry %s, repository %s, blob %s", p->c->registry, p->c->repo, digest);
}

static char *absolute_location(struct client *c, const char *loc)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return xstrdup(loc);
	return xasprintf("%s%s%s", c->base, loc[0] == '/' ? "" : "/", loc);
}

/* Where an upload stands after a failed PATCH: 0 with *held (bytes the registry holds) and
 * *loc updated, 1 when the registry no longer knows the upload (start it again), -1 on error. */
static int upload_status(struct push *p, const char *ctx, char **loc, uint64_t *held,
                         struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull,push");
	struct request q = {.method = "GET", .url = *loc, .fd = -1};
	_cleanup_(reg_response_release) struct response r = {.body_max = REG_BODY_MAX};
	_cleanup_error_ struct lade_error *e = NULL;
	if (reg_request(c, &q, &r, scope, &e) < 0)
		return lade_error_set(err, e->sys_errno, "%s: asking where the upload stands: %s",
		                      ctx, e->msg);
	if (r.status != 204 && r.status != 200)
		return 1; /* 404 BLOB_UPLOAD_UNKNOWN, 400 BLOB_UPLOAD_INVALID: gone */
	*held = 0;
	if (r.range) {
		/* "0-N": the registry holds bytes 0..N; "0-0" is sent for an empty upload too, so
		 * it counts as nothing held (sending byte 0 again is what every client does) */
		const char *v = strncmp(r.range, "bytes=", 6) == 0 ? r.range + 6 : r.range;
		uint64_t a, b;
		int n = 0;
		if (sscanf(v, "%" SCNu64 "-%" SCNu64 "%n", &a, &b, &n) != 2 || a != 0 || v[n])
			return lade_error_set(err, 0,
			                      "%s: the registry sent an invalid upload Range: %s",
			                      ctx, r.range);
		*held = b ? b + 1 : 0;
	}
	if (r.location) {
		char *n = absolute_location(c, r.location);
		free(*loc);
		*loc = n;
	}
	return 0;
}

/* Send the blob in PATCH chunks of p->chunk bytes with Content-Range. After a failed chunk the
 * registry is asked where the upload stands (GET on the upload URL) and the upload goes on from
 * there; consecutive failures without progress are bounded by LADE_REGISTRY_TRIES. 1 when the
 * registry lost the upload (the caller starts a new one). */
static int upload_chunks(struct push *p, const char *ctx, char **loc, int fd, uint64_t size,
                         struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull,push");
	uint64_t off = 0;
	unsigned failures = 0;
	while (off < size) {
		uint64_t n = size - off < p->chunk ? size - off : p->chunk;
		_cleanup_free_ char *range =
		        xasprintf("Content-Range: %" PRIu64 "-%" PRIu64, off, off + n - 1);
		struct request q = {.method = "PATCH",
		                    .url = *loc,
		                    .content_type = "application/octet-stream",
		                    .header = range,
		                    .fd = fd,
		                    .fd_offset = off,
		                    .fd_size = n,
		                    .once = true};
		_cleanup_(reg_response_release) struct response r = {.body_max = REG_BODY_MAX};
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = reg_request(c, &q, &r, scope, &e);
		if (rc == 0 && r.status == 202 && r.location) {
			char *nl = absolute_location(c, r.location);
			free(*loc);
			*loc = nl;
			off += n;
			failures = 0;
			continue;
		}
		long st = rc < 0 ? 0 : r.status;
		if (rc == 0 && !lade_registry_should_retry(st, 1)) {
			if (st == 404 || st == 400 || st == 416)
				return 1;
			_cleanup_free_ char *m = reg_message(&r);
			return lade_error_set(err, 0,
			                      "%s: uploading bytes %" PRIu64 "-%" PRIu64 ": %s",
			                      ctx, off, off + n - 1, m);
		}
		if (++failures >= LADE_REGISTRY_TRIES) {
			_cleanup_free_ char *m = rc < 0 ? xstrdup(e->msg) : reg_message(&r);
			return lade_error_set(err, 0,
			                      "%s: uploading bytes %" PRIu64 "-%" PRIu64
			                      ": %s (after %u tries)",
			                      ctx, off, off + n - 1, m, failures);
		}
		reg_sleep_ms(lade_registry_retry_delay_ms(failures));
		uint64_t held = 0;
		int s = upload_status(p, ctx, loc, &held, err);
		if (s != 0)
			return s;
		if (held > size)
			return lade_error_set(err, 0,
			                      "%s: the registry holds %" PRIu64
			                      " bytes of a %" PRIu64 "-byte blob",
			                      ctx, held, size);
		if (held > off)
			failures = 0; /* the chunk got through after all */
		off = held;
		p->stats->chunks_resumed++;
	}
	return 0;
}

/* One upload session: POST (or a mount), then the bytes (one PUT, or PATCH chunks then a PUT
 * naming the digest). 1 when the registry lost the session and a new one may succeed. */
static int upload_session(struct push *p, const char *ctx, const char *digest, int fd,
                          uint64_t size, struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *push_scope = reg_scope(c->repo, "pull,push");
	_cleanup_(reg_response_release) struct response r = {.body_max = REG_BODY_MAX};
	const char *mount = c->o->mount_from;
	_cleanup_free_ char *post_url = NULL;
	if (mount) {
		char *e = curl_easy_escape(c->curl, mount, 0);
		post_url = xasprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", c->base, c->repo,
		                     digest, e);
		curl_free(e);
	} else {
		post_url = xasprintf("%s/v2/%s/blobs/uploads/", c->base, c->repo);
	}
	struct request post = {.method = "POST", .url = post_url, .fd = -1};
	if (reg_request(c, &post, &r, mount ? p->mount_scope : push_scope, err) < 0)
		return lade_error_prefix(err, "%s: starting the upload", ctx);
	if (mount && r.status == 201) {
		p->stats->blobs_mounted++;
		return 0;
	}
	if (r.status != 202 || !r.location) {
		_cleanup_free_ char *m = reg_message(&r);
		return lade_error_set(err, 0, "%s: starting the upload: %s", ctx, m);
	}
	_cleanup_free_ char *loc = absolute_location(c, r.location);
	/* Small blobs go in one PUT (one round trip); large ones in chunks, so a failure costs a
	 * chunk and not the whole blob. */
	bool chunked = size > p->chunk;
	if (chunked) {
		int rc = upload_chunks(p, ctx, &loc, fd, size, err);
		if (rc != 0)
			return rc;
	}
	_cleanup_free_ char *put_url =
	        xasprintf("%s%cdigest=sha256%%3A%s", loc, strchr(loc, '?') ? '&' : '?',
	                  lade_digest_hex(digest));
	struct request put = {.method = "PUT",
	                      .url = put_url,
	                      .content_type = "application/octet-stream",
	                      .fd = chunked ? -1 : fd,
	                      .fd_size = chunked ? 0 : size,
	                      .data = "",
	                      .data_len = 0};
	if (reg_request(c, &put, &r, push_scope, err) < 0)
		return lade_error_prefix(err, "%s: uploading", ctx);
	/* a retried PUT can find the session already consumed or spoilt by a half-sent body */
	if (r.status == 404 || (r.status == 400 && !chunked)) {
		_cleanup_free_ char *m = reg_message(&r);
		if (strstr(m, "BLOB_UPLOAD_UNKNOWN") || strstr(m, "BLOB_UPLOAD_INVALID"))
			return 1;
	}
	if (r.status != 201) {
		_cleanup_free_ char *m = reg_message(&r);
		return lade_error_set(err, 0, "%s: uploading: %s", ctx, m);
	}
	if (r.docker_digest && strcmp(r.docker_digest, digest) != 0)
		return lade_error_set(err, 0, "%s: the registry stored it as %s", ctx,
		                      r.docker_digest);
	p->stats->blobs_uploaded++;
	p->stats->bytes_uploaded += size;
	return 0;
}

static int push_blob(struct push *p, const char *digest, uint64_t size, struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *ctx = blob_context(p, digest);
	_cleanup_free_ char *push_scope = reg_scope(c->repo, "pull,push");
	_cleanup_(reg_response_release) struct response r = {.body_max = REG_BODY_MAX};

	_cleanup_free_ char *head_url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->repo, digest);
	struct request head = {.method = "HEAD", .url = head_url, .fd = -1};
	if (reg_request(c, &head, &r, push_scope, err) < 0)
		return lade_error_prefix(err, "%s", ctx);
	if (r.status == 200) {
		p->stats->blobs_present++;
		return 0;
	}

	_cleanup_free_ char *path =
	        xasprintf("%s/blobs/sha256/%s", p->dir, lade_digest_hex(digest));
	_cleanup_fd_ int fd = -1;
	if (lade_open_regular(path, 0, &fd, err) < 0)
		return lade_error_prefix(err, "%s", ctx);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lade_error_set(err, errno, "%s: cannot stat %s", ctx, path);
	if ((uint64_t)st.st_size != size)
		return lade_error_set(err, 0, "%s: %s has %jd bytes, the manifest says %ju", ctx,
		                      path, (intmax_t)st.st_size, (uintmax_t)size);
	for (unsigned session = 1;; session++) {
		int rc = upload_session(p, ctx, digest, fd, size, err);
		if (rc <= 0)
			return rc;
		if (session >= LADE_REGISTRY_TRIES)
			return lade_error_set(
			        err, 0, "%s: the registry lost the upload %u times; giving up", ctx,
			        session);
		p->stats->uploads_restarted++;
		reg_sleep_ms(lade_registry_retry_delay_ms(session));
	}
}

int reg_put_manifest(struct client *c, const char *reference, const struct lade_buf *bytes,
                     const char *media_type, const char *digest, bool *indexed_subject,
                     struct lade_error **err)
{
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repo, reference);
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull,push");
	struct request q = {.method = "PUT",
	                    .url = url,
	                    .content_type = media_type,
	                    .data = bytes->data,
	                    .data_len = bytes->len,
	                    .fd = -1};
	struct response r = {.body_max = REG_BODY_MAX};
	int rc = reg_request(c, &q, &r, scope, err);
	if (rc == 0 && r.status != 201) {
		_cleanup_free_ char *m = reg_message(&r);
		rc = lade_error_set(err, 0, "%s", m);
	} else if (rc == 0 && r.docker_digest && strcmp(r.docker_digest, digest) != 0) {
		rc = lade_error_set(err, 0, "the registry stored it as %s", r.docker_digest);
	}
	if (indexed_subject)
		*indexed_subject = r.oci_subject != NULL;
	reg_response_release(&r);
	if (rc < 0)
		return lade_error_prefix(err, "registry %s, repository %s, manifest %s (%s)",
		                         c->registry, c->repo, digest, reference);
	return 0;
}

struct blob_item {
	char *digest;
	uint64_t size;
};

struct manifest_item {
	char *digest;
	char *media_type;
	struct lade_buf bytes; /* sent as they are */
	json_t *doc;           /* parsed from bytes */
};

/* What a push sends: blobs (once each) and manifests in the order they must be PUT. */
struct push_plan {
	struct blob_item *blobs;
	size_t n_blobs, a_blobs;
	struct manifest_item *manifests;
	size_t n_manifests, a_manifests;
};

static void push_plan_release(struct push_plan *pl)
{
	for (size_t i = 0; i < pl->n_blobs; i++)
		free(pl->blobs[i].digest);
	for (size_t i = 0; i < pl->n_manifests; i++) {
		free(pl->manifests[i].digest);
		free(pl->manifests[i].media_type);
		lade_buf_release(&pl->manifests[i].bytes);
		json_decref(pl->manifests[i].doc);
	}
	free(pl->blobs);
	free(pl->manifests);
}

static bool plan_has_manifest(const struct push_plan *pl, const char *digest)
{
	for (size_t i = 0; i < pl->n_manifests; i++)
		if (strcmp(pl->manifests[i].digest, digest) == 0)
			return true;
	return false;
}

static void plan_add_blob(struct push_plan *pl, const char *digest, uint64_t size)
{
	for (size_t i = 0; i < pl->n_blobs; i++)
		if (strcmp(pl->blobs[i].digest, digest) == 0)
			return;
	lade_grow(&pl->blobs, sizeof(*pl->blobs), pl->n_blobs + 1, &pl->a_blobs);
	pl->blobs[pl->n_blobs++] = (struct blob_item){xstrdup(digest), size};
}

/* Walk a manifest or index (depth: the indexes above it): its blobs, its children (before
 * it), then itself. Read with the OCI reader's rules: size and digest checked, no key twice,
 * the document's own mediaType (when it has one) is its descriptor's, indexes nested at most
 * LADE_OCI_INDEX_DEPTH deep. */
static int plan_manifest(struct push_plan *pl, const char *dir, const struct lade_oci_descriptor *d,
                         int depth, struct lade_error **err)
{
	if (plan_has_manifest(pl, d->digest))
		return 0;
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	json_auto_t *m = NULL;
	const char *mt = NULL;
	if (reg_blob_json(dir, d->digest, d->size, &b, &m, err) < 0 ||
	    lade_oci_doc_media_type(d, m, &mt, err) < 0)
		return -1;
	_cleanup_free_ struct lade_oci_descriptor *named = NULL;
	size_t n;
	if (reg_doc_descriptors(m, mt, d->digest, &named, &n, err) < 0)
		return -1;
	bool index = lade_oci_is_index_type(mt);
	if (index && depth >= LADE_OCI_INDEX_DEPTH) /* as for a base image */
		return lade_error_set(err, 0, "image indexes nested more than %d deep",
		                      LADE_OCI_INDEX_DEPTH);
	for (size_t i = 0; i < n; i++) {
		if (!index)
			plan_add_blob(pl, named[i].digest, named[i].size);
		else if (plan_manifest(pl, dir, &named[i], depth + 1, err) < 0)
			return -1; /* children before the index */
	}
	lade_grow(&pl->manifests, sizeof(*pl->manifests), pl->n_manifests + 1, &pl->a_manifests);
	pl->manifests[pl->n_manifests++] =
	        (struct manifest_item){xstrdup(d->digest), xstrdup(mt), b, steal_pointer(&m)};
	b = (struct lade_buf)LADE_BUF_INIT; /* moved into the plan */
	return 0;
}

/* Referrers (an SBOM artifact whose subject is one of the pushed manifests) in the layout's
 * index.json go along, before the tag. */
static int plan_referrers(struct push_plan *pl, const char *dir, struct lade_error **err)
{
	_cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
	json_auto_t *idx = NULL;
	if (lade_oci_json_file(ip, NULL, &idx, err) < 0)
		return -1;
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(idx, "manifests"), i, j)
	{
		_cleanup_free_ char *what = xasprintf("%s manifests[%zu]", ip, i);
		struct lade_oci_descriptor d;
		if (lade_oci_descriptor_parse(j, what, &d, err) < 0)
			return -1;
		if (plan_has_manifest(pl, d.digest))
			continue;
		_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
		json_auto_t *m = NULL;
		_cleanup_error_ struct lade_error *ignored = NULL;
		if (reg_blob_json(dir, d.digest, d.size, &b, &m, &ignored) < 0)
			continue; /* not ours to judge: only referrers matter here */
		const char *subject = reg_json_str(json_object_get(m, "subject"), "digest");
		if (subject && plan_has_manifest(pl, subject) &&
		    plan_manifest(pl, dir, &d, 0, err) < 0)
			return -1;
	}
	return 0;
}

struct push_job {
	struct push *p;
	const struct push_plan *plan;
	pthread_mutex_t lock;
};

static int push_one(void *ctx, struct client *c, size_t i, struct lade_error **err)
{
	struct push_job *j = ctx;
	struct lade_push_stats st = {0};
	struct push p = *j->p;
	p.c = c;
	p.stats = &st;
	int rc = push_blob(&p, j->plan->blobs[i].digest, j->plan->blobs[i].size, err);
	pthread_mutex_lock(&j->lock);
	struct lade_push_stats *t = j->p->stats;
	t->blobs_uploaded += st.blobs_uploaded;
	t->blobs_present += st.blobs_present;
	t->blobs_mounted += st.blobs_mounted;
	t->bytes_uploaded += st.bytes_uploaded;
	t->chunks_resumed += st.chunks_resumed;
	t->uploads_restarted += st.uploads_restarted;
	pthread_mutex_unlock(&j->lock);
	return rc;
}

static int push_blobs(struct push *p, const struct push_plan *pl, unsigned jobs,
                      struct lade_error **err)
{
	struct push_job j = {.p = p, .plan = pl};
	pthread_mutex_init(&j.lock, NULL);
	int rc = reg_run_pool(p->c, pl->n_blobs, jobs, push_one, &j, err);
	pthread_mutex_destroy(&j.lock);
	return rc;
}

/* A registry without the referrers API (no OCI-Subject header in the answer to the PUT, as
 * distribution 2.8) is given the fallback of the distribution spec 1.1: an image index tagged
 * "sha256-<subject hex>" listing the subject's referrers, fetched, extended and put back, so
 * `oras discover` and other clients find the SBOM. A manifest without a subject is left alone. */
static int tag_referrer(struct push *p, const struct manifest_item *mi, struct lade_error **err)
{
	const json_t *m = mi->doc;
	const json_t *sj = json_object_get(m, "subject");
	if (!sj)
		return 0;
	struct lade_oci_descriptor subject;
	_cleanup_free_ char *swhat = xasprintf("manifest %s subject", mi->digest);
	if (lade_oci_descriptor_parse(sj, swhat, &subject, err) < 0)
		return -1;
	struct client *c = p->c;
	_cleanup_free_ char *tag = xasprintf("sha256-%s", lade_digest_hex(subject.digest));
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repo, tag);
	_cleanup_free_ char *scope = reg_scope(c->repo, "pull,push");
	_cleanup_free_ char *ctx = xasprintf("registry %s, repository %s, referrers tag %s",
	                                     c->registry, c->repo, tag);
	struct request q = {
	        .method = "GET", .url = url, .accept = "Accept: " LADE_MT_OCI_INDEX, .fd = -1};
	_cleanup_(reg_response_release) struct response r = {.body_max = LADE_OCI_JSON_MAX};
	if (reg_request(c, &q, &r, scope, err) < 0)
		return lade_error_prefix(err, "%s", ctx);
	json_auto_t *idx = NULL;
	if (r.status == 200) {
		if (lade_oci_json_parse(r.body.data, r.body.len, ctx, &idx, err) < 0)
			return -1;
		if (!json_is_array(json_object_get(idx, "manifests")))
			return lade_error_set(err, 0, "%s: not an image index", ctx);
	} else if (r.status == 404) {
		idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
		                LADE_MT_OCI_INDEX, "manifests");
	} else {
		_cleanup_free_ char *msg = reg_message(&r);
		return lade_error_set(err, 0, "%s: %s", ctx, msg);
	}
	json_t *list = json_object_get(idx, "manifests");
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d)
	{
		if (strcmp(reg_json_str(d, "digest") ? reg_json_str(d, "digest") : "",
		           mi->digest) == 0) {
			p->stats->referrers_tagged = true;
			return 0; /* listed already: a second push changes nothing */
		}
	}
	json_t *desc = json_pack("{s:s, s:s, s:I}", "mediaType", mi->media_type, "digest",
	                         mi->digest, "size", (json_int_t)mi->bytes.len);
	const char *at = reg_json_str(m, "artifactType");
	if (!at)
		at = reg_json_str(json_object_get(m, "config"), "mediaType");
	if (at)
		json_object_set_new(desc, "artifactType", json_string(at));
	json_t *ann = json_object_get(m, "annotations");
	if (json_is_object(ann))
		json_object_set(desc, "annotations", ann);
	json_array_append_new(list, desc);
	char *dumped = json_dumps(idx, JSON_SORT_KEYS | JSON_COMPACT);
	struct lade_buf bytes = LADE_BUF_INIT;
	lade_buf_add(&bytes, dumped, strlen(dumped));
	free(dumped);
	char digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(bytes.data, bytes.len, digest);
	int rc = reg_put_manifest(p->c, tag, &bytes, LADE_MT_OCI_INDEX, digest, NULL, err);
	lade_buf_release(&bytes);
	if (rc == 0)
		p->stats->referrers_tagged = true;
	return rc;
}

int lade_registry_push(const char *image, const char *ref_s, const struct lade_registry_options *o,
                       char digest[LADE_DIGEST_STRLEN], struct lade_push_stats *stats,
                       struct lade_error **err)
{
	static const struct lade_registry_options defaults = LADE_REGISTRY_OPTIONS_INIT;
	struct lade_push_stats dummy;
	if (!o)
		o = &defaults;
	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *ref = NULL;
	if (lade_registry_ref_parse(ref_s, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *dir = NULL;
	json_auto_t *index = NULL;
	struct lade_oci_descriptor td;
	if (reg_layout_resolve(image, &dir, &index, &td, err) < 0)
		return -1;
	const char *d = td.digest;
	if (ref->digest && strcmp(ref->digest, d) != 0)
		return lade_error_set(err, 0, "image %s has digest %s, not the %s named by %s",
		                      image, d, ref->digest, ref_s);
	_cleanup_(push_plan_release) struct push_plan plan = {0};
	if (plan_manifest(&plan, dir, &td, 0, err) < 0 || plan_referrers(&plan, dir, err) < 0)
		return lade_error_prefix(err, "image %s", image);

	_cleanup_(reg_client_freep) struct client *c = NULL;
	_cleanup_free_ char *push_scope = xasprintf("repository:%s:pull,push", ref->repository);
	if (reg_client_new(ref, o, &c, err) < 0 || reg_client_connect(c, push_scope, err) < 0)
		return -1;
	struct push p = {.c = c,
	                 .dir = dir,
	                 .stats = stats,
	                 .chunk = o->chunk_size ? o->chunk_size : LADE_REGISTRY_CHUNK_DEFAULT};
	_cleanup_free_ char *mount_scope = NULL;
	if (o->mount_from)
		mount_scope = p.mount_scope = xasprintf(
		        "repository:%s:pull,push repository:%s:pull", c->repo, o->mount_from);
	if (push_blobs(&p, &plan, o->jobs, err) < 0)
		return -1;
	/* Children first, the image itself last and by its tag: a tag never names a partial
	 * image. Referrers need their subject, so they follow it (all by digest). */
	const struct manifest_item *top_item = NULL;
	for (size_t i = 0; i < plan.n_manifests; i++) {
		const struct manifest_item *mi = &plan.manifests[i];
		if (strcmp(mi->digest, d) == 0) {
			top_item = mi;
			/* by digest too only when referrers follow and need their subject */
			if (!ref->tag || i + 1 == plan.n_manifests)
				continue;
		}
		bool indexed = false;
		if (reg_put_manifest(p.c, mi->digest, &mi->bytes, mi->media_type, mi->digest,
		                     &indexed, err) < 0)
			return -1;
		if (!indexed && tag_referrer(&p, mi, err) < 0)
			return -1;
	}
	if (reg_put_manifest(p.c, ref->tag ? ref->tag : d, &top_item->bytes, top_item->media_type,
	                     d, NULL, err) < 0)
		return -1;
	stats->manifests = plan.n_manifests;
	memcpy(digest, d, LADE_DIGEST_STRLEN);
	return 0;
}

int reg_push_blob(struct client *c, const char *dir, const char *digest, uint64_t size,
                  struct lade_push_stats *stats, struct lade_error **err)
{
	struct lade_push_stats dummy = {0};
	struct push p = {.c = c,
	                 .dir = dir,
	                 .stats = stats ? stats : &dummy,
	                 .chunk =
	                         c->o->chunk_size ? c->o->chunk_size : LADE_REGISTRY_CHUNK_DEFAULT};
	_cleanup_free_ char *mount_scope = NULL;
	if (c->o->mount_from)
		mount_scope = p.mount_scope = xasprintf(
		        "repository:%s:pull,push repository:%s:pull", c->repo, c->o->mount_from);
	return push_blob(&p, digest, size, err);
}
