/* lade — garbage collection of an OCI layout (see include/lade/gc.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lade/gc.h"
#include "lade/hashmap.h"
#include "lade/image.h"
#include "lade/oci.h"
#include "lade/util.h"

static const char live_mark[] = "live";

struct referrer {
	char digest[LADE_DIGEST_STRLEN];
	char subject[LADE_DIGEST_STRLEN];
	char *media_type;
	uint64_t size;
};

struct gc {
	struct lade_store *s;
	const char *dir;
	struct lade_hashmap *live; /* digest -> live_mark */
	struct referrer *refs;
	size_t n_refs, refs_alloc;
	char **dead; /* blobs to remove */
	uint64_t dead_bytes;
	size_t kept;
	uint64_t kept_bytes;
};

void lade_gc_report_release(struct lade_gc_report *r)
{
	lade_strv_free(r->removed);
	*r = (struct lade_gc_report){0};
}

static bool is_live(const struct gc *g, const char *digest)
{
	return lade_hashmap_get(g->live, digest) != NULL;
}

static void mark(struct gc *g, const char *digest)
{
	lade_hashmap_put(g->live, digest, (void *)live_mark);
}

/* d and all it reaches are live. */
static int walk(struct gc *g, const struct lade_oci_descriptor *d, int depth,
                struct lade_error **err)
{
	if (is_live(g, d->digest))
		return 0;
	mark(g, d->digest);
	bool index = lade_oci_is_index_type(d->media_type);
	if (!index && !lade_oci_is_manifest_type(d->media_type))
		return 0;
	if (depth > LADE_OCI_INDEX_DEPTH)
		return lade_error_set(err, 0, "blob %s: image indexes nested more than %d deep",
		                      d->digest, LADE_OCI_INDEX_DEPTH);
	json_auto_t *doc = NULL;
	if (lade_oci_blob_json(g->dir, d, &doc, err) < 0)
		return -1;
	const char *list = index ? "manifests" : "layers";
	json_t *arr = json_object_get(doc, list);
	if (arr && !json_is_array(arr))
		return lade_error_set(err, 0, "blob %s: %s is not an array", d->digest, list);
	if (!index) {
		json_t *cj = json_object_get(doc, "config");
		struct lade_oci_descriptor cd;
		_cleanup_free_ char *what = xasprintf("blob %s config", d->digest);
		if (cj && lade_oci_descriptor_parse(cj, what, &cd, err) < 0)
			return -1;
		if (cj)
			mark(g, cd.digest);
	}
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		struct lade_oci_descriptor cd;
		_cleanup_free_ char *what = xasprintf("blob %s %s[%zu]", d->digest, list, i);
		if (lade_oci_descriptor_parse(e, what, &cd, err) < 0)
			return -1;
		if (!index)
			mark(g, cd.digest);
		else if (walk(g, &cd, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

/* When doc (the blob d) is a referrer, record it and return true. */
static bool note_referrer(struct gc *g, const struct lade_oci_descriptor *d, const json_t *doc)
{
	json_t *sj = json_object_get(doc, "subject");
	struct lade_oci_descriptor sd;
	_cleanup_error_ struct lade_error *ignored = NULL;
	if (sj == NULL || lade_oci_descriptor_parse(sj, "subject", &sd, &ignored) < 0)
		return false;
	lade_grow(&g->refs, sizeof(*g->refs), g->n_refs + 1, &g->refs_alloc);
	struct referrer *r = &g->refs[g->n_refs++];
	snprintf(r->digest, sizeof(r->digest), "%s", d->digest);
	snprintf(r->subject, sizeof(r->subject), "%s", sd.digest);
	r->media_type = xstrdup(d->media_type);
	r->size = d->size;
	return true;
}

/* The index's entries: tags and untagged non-referrers are roots, referrers wait for their
 * subject. */
static int walk_index(struct gc *g, json_t *manifests, struct lade_error **err)
{
	size_t i;
	json_t *e;
	json_array_foreach(manifests, i, e)
	{
		struct lade_oci_descriptor d;
		_cleanup_free_ char *what = xasprintf("%s/index.json manifests[%zu]", g->dir, i);
		if (lade_oci_descriptor_parse(e, what, &d, err) < 0)
			return -1;
		if (!lade_oci_descriptor_ref_name(&d) && lade_oci_is_manifest_type(d.media_type)) {
			json_auto_t *doc = NULL;
			if (lade_oci_blob_json(g->dir, &d, &doc, err) < 0)
				return -1;
			if (note_referrer(g, &d, doc))
				continue;
		}
		if (walk(g, &d, 0, err) < 0)
			return -1;
	}
	return 0;
}

/* A blob nothing named yet that may be a referrer: small, starts with '{', a manifest with a
 * subject. Anything that fails to load is simply not one. */
static int scan_blob(void *ctx, const char *digest, uint64_t size, struct lade_error **err)
{
	(void)err;
	struct gc *g = ctx;
	if (is_live(g, digest) || size > LADE_OCI_JSON_MAX || size < 2)
		return 0;
	_cleanup_free_ char *path = lade_store_blob_path(g->s, digest);
	_cleanup_fd_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	char first = 0;
	if (fd < 0 || read(fd, &first, 1) != 1 || first != '{')
		return 0;
	struct lade_oci_descriptor d = {
	        .media_type = LADE_MT_OCI_MANIFEST, .digest = digest, .size = size};
	json_auto_t *doc = NULL;
	_cleanup_error_ struct lade_error *ignored = NULL;
	if (lade_oci_blob_json(g->dir, &d, &doc, &ignored) < 0)
		return 0;
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));
	if (mt && !lade_oci_is_manifest_type(mt))
		return 0;
	if (!json_is_array(json_object_get(doc, "layers")))
		return 0;
	note_referrer(g, &d, doc);
	return 0;
}

/* Referrers of live subjects become live (and so may their own referrers). */
static int settle_referrers(struct gc *g, struct lade_error **err)
{
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < g->n_refs; i++) {
			struct referrer *r = &g->refs[i];
			if (is_live(g, r->digest) || !is_live(g, r->subject))
				continue;
			struct lade_oci_descriptor d = {
			        .media_type = r->media_type, .digest = r->digest, .size = r->size};
			if (walk(g, &d, 0, err) < 0)
				return -1;
			more = true;
		}
	}
	return 0;
}

static int collect_dead(void *ctx, const char *digest, uint64_t size, struct lade_error **err)
{
	(void)err;
	struct gc *g = ctx;
	if (is_live(g, digest)) {
		g->kept++;
		g->kept_bytes += size;
		return 0;
	}
	lade_strv_push(&g->dead, digest);
	g->dead_bytes += size;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* index.json without the entries that are not live (referrers of gone subjects). */
static int rewrite_index(struct gc *g, json_t *index, json_t *manifests, bool dry_run,
                         size_t *dropped, struct lade_error **err)
{
	json_t *kept = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(manifests, i, e)
	{
		const char *d = json_string_value(json_object_get(e, "digest"));
		if (d && is_live(g, d))
			json_array_append(kept, e);
	}
	*dropped = json_array_size(manifests) - json_array_size(kept);
	if (*dropped == 0 || dry_run) {
		json_decref(kept);
		return 0;
	}
	json_object_set_new(index, "manifests", kept);
	_cleanup_free_ char *text = lade_json_dump(index);
	if (lade_store_write_file(g->s, "index.json", text, strlen(text), err) < 0)
		return lade_error_prefix(err, "cannot write the layout index");
	return 0;
}

static void gc_release(struct gc *g)
{
	lade_hashmap_free(g->live, NULL);
	for (size_t i = 0; i < g->n_refs; i++)
		free(g->refs[i].media_type);
	free(g->refs);
	lade_strv_free(g->dead);
}

int lade_gc_layout(struct lade_store *s, const struct lade_gc_options *o, struct lade_gc_report *r,
                   struct lade_error **err)
{
	*r = (struct lade_gc_report){0};
	_cleanup_(gc_release) struct gc g = {
	        .s = s, .dir = lade_store_dir(s), .live = lade_hashmap_new()};
	_cleanup_buf_ struct lade_buf text = LADE_BUF_INIT;
	json_auto_t *index = NULL;
	_cleanup_error_ struct lade_error *rerr = NULL;
	if (lade_store_read_file(s, "index.json", LADE_OCI_JSON_MAX, &text, &rerr) < 0) {
		if (!(o->index_optional && rerr->sys_errno == ENOENT))
			return lade_error_set(err, 0, "%s", rerr->msg);
	} else {
		_cleanup_free_ char *what = lade_path_join(g.dir, "index.json");
		if (lade_oci_json_parse(text.data, text.len, what, &index, err) < 0)
			return -1;
	}
	json_t *manifests = index ? json_object_get(index, "manifests") : NULL;
	if (index && !json_is_array(manifests))
		return lade_error_set(err, 0, "%s/index.json: manifests is not an array", g.dir);

	for (char *const *k = o->keep; k && *k; k++)
		mark(&g, *k);
	if (manifests && walk_index(&g, manifests, err) < 0)
		return lade_error_prefix(err, "gc %s: nothing removed", g.dir);
	if (lade_store_each_blob(s, scan_blob, &g, err) < 0 || settle_referrers(&g, err) < 0)
		return lade_error_prefix(err, "gc %s: nothing removed", g.dir);

	/* index.json first: once it no longer names a referrer, its blobs may go */
	if (manifests &&
	    rewrite_index(&g, index, manifests, o->dry_run, &r->index_dropped, err) < 0)
		return -1;
	if (lade_store_each_blob(s, collect_dead, &g, err) < 0)
		return -1;
	size_t n = lade_strv_len(g.dead);
	if (n)
		qsort(g.dead, n, sizeof(*g.dead), cmp_str);
	for (size_t i = 0; !o->dry_run && i < n; i++)
		if (lade_store_remove_blob(s, g.dead[i], err) < 0)
			return -1;
	if (!o->dry_run && n && lade_store_sync(s, err) < 0)
		return -1;
	r->blobs = n;
	r->bytes = g.dead_bytes;
	r->kept_blobs = g.kept;
	r->kept_bytes = g.kept_bytes;
	r->removed = steal_pointer(&g.dead);
	return 0;
}
