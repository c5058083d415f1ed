/* lade — reading base images: OCI image layouts, docker-archives and scratch (see
 * include/lade/base.h). Everything read from a base is hostile until verified: digests are
 * validated before they become paths, every blob is checked against its descriptor, member
 * and entry names that climb out are refused. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>

#include "lade/base.h"
#include "lade/compress.h"
#include "lade/digest.h"
#include "lade/hashmap.h"
#include "lade/image.h"
#include "lade/util.h"

/* Manifests, indexes and configs are small; a larger "JSON" blob is not one. */
#define JSON_MAX     (16u << 20)
#define INDEX_DEPTH  4
#define LINK_DEPTH   16
#define READ_BUFSIZE (1u << 20)
/* Decompression bomb guard for base layers (read once, for diff_id and the tree walk). Real
 * layers stay far below: 64 GiB uncompressed per layer, and over 100 MiB no more than 1000
 * times the compressed size (gzip cannot exceed ~1032:1; zstd of zeros can reach 10^5:1). */
#define LAYER_MAX_BYTES (64ull << 30)
#define LAYER_RATIO_MIN (100ull << 20)
#define LAYER_RATIO_MAX 1000ull

void lade_base_image_free(struct lade_base_image *b)
{
	if (b == NULL)
		return;
	free(b->name);
	free(b->manifest_digest);
	json_decref(b->config);
	for (size_t i = 0; i < b->n_layers; i++) {
		free(b->layers[i].desc.media_type);
		free(b->layers[i].desc.digest);
		free(b->layers[i].diff_id);
	}
	free(b->layers);
	free(b);
}

void lade_base_image_freep(struct lade_base_image **b)
{
	lade_base_image_free(*b);
	*b = NULL;
}

/* ---- platforms ---- */

struct platform {
	char *os, *arch, *variant;
};

static void platform_release(struct platform *p)
{
	free(p->os);
	free(p->arch);
	free(p->variant);
}

static int platform_parse(const char *s, struct platform *p, struct lade_error **err)
{
	const char *s1 = strchr(s, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (s1 == NULL || s1 == s || s1[1] == '\0' || s1[1] == '/' ||
	    (s2 && (s2[1] == '\0' || strchr(s2 + 1, '/'))))
		return lade_error_set(err, 0,
		                      "platform '%s': expected OS/ARCHITECTURE or "
		                      "OS/ARCHITECTURE/VARIANT",
		                      s);
	p->os = xstrndup(s, (size_t)(s1 - s));
	p->arch = s2 ? xstrndup(s1 + 1, (size_t)(s2 - s1 - 1)) : xstrdup(s1 + 1);
	p->variant = s2 ? xstrdup(s2 + 1) : NULL;
	return 0;
}

/* The variant an architecture means when none is written (as containerd normalises). */
static const char *default_variant(const char *arch)
{
	if (strcmp(arch, "arm64") == 0)
		return "v8";
	if (strcmp(arch, "arm") == 0)
		return "v7";
	return NULL;
}

static bool platform_match(const struct platform *want, const json_t *p)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *v = json_string_value(json_object_get(p, "variant"));
	if (os == NULL || arch == NULL || strcmp(os, want->os) != 0 ||
	    strcmp(arch, want->arch) != 0)
		return false;
	if (v && v[0] == '\0')
		v = NULL;
	const char *dv = default_variant(arch);
	if (want->variant == NULL)
		return dv == NULL || v == NULL || strcmp(v, dv) == 0;
	const char *have = v ? v : dv;
	return have && strcmp(have, want->variant) == 0;
}

static void platform_describe(struct lade_buf *b, const json_t *p)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *v = json_string_value(json_object_get(p, "variant"));
	lade_buf_addf(b, "%s/%s", os ? os : "?", arch ? arch : "?");
	if (v && v[0])
		lade_buf_addf(b, "/%s", v);
}

/* ---- OCI image layout ---- */

struct oci_ctx {
	const char *name; /* "oci:DIR:TAG", for messages */
	const char *dir;
	struct lade_store *store;
	const struct platform *platform;
};

/* Borrowed from the JSON document it was parsed from. */
struct desc {
	const char *media_type; /* may be NULL */
	const char *digest;     /* valid sha256 digest */
	uint64_t size;
};

static int parse_desc(const struct oci_ctx *c, const json_t *j, const char *what, struct desc *d,
                      struct lade_error **err)
{
	if (!json_is_object(j))
		return lade_error_set(err, 0, "base %s: %s is not a descriptor", c->name, what);
	const json_t *mt = json_object_get(j, "mediaType");
	const json_t *dg = json_object_get(j, "digest");
	const json_t *sz = json_object_get(j, "size");
	if (mt && !json_is_string(mt))
		return lade_error_set(err, 0, "base %s: %s: mediaType is not a string", c->name,
		                      what);
	/* Validated before it is ever used in a path: "sha256:../../etc" must not escape. */
	if (!lade_digest_valid(json_string_value(dg)))
		return lade_error_set(
		        err, 0, "base %s: %s: invalid digest '%s' (expected sha256:<64 hex>)",
		        c->name, what, json_is_string(dg) ? json_string_value(dg) : "(none)");
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return lade_error_set(err, 0, "base %s: %s %s: invalid size", c->name, what,
		                      json_string_value(dg));
	d->media_type = json_string_value(mt);
	d->digest = json_string_value(dg);
	d->size = (uint64_t)json_integer_value(sz);
	return 0;
}

static char *oci_blob_path(const struct oci_ctx *c, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", c->dir, lade_digest_hex(digest));
}

static int parse_json(const char *data, size_t len, const char *base_name, const char *what,
                      json_t **out, struct lade_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(data, len, 0, &jerr);
	if (j == NULL)
		return lade_error_set(err, 0, "base %s: %s: invalid JSON: line %d: %s", base_name,
		                      what, jerr.line, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return lade_error_set(err, 0, "base %s: %s: not a JSON object", base_name, what);
	}
	*out = j;
	return 0;
}

/* Read a JSON blob named by a descriptor, verified against its size and digest. */
static int read_json_blob(const struct oci_ctx *c, const struct desc *d, const char *what,
                          json_t **out, struct lade_error **err)
{
	if (d->size > JSON_MAX)
		return lade_error_set(err, 0,
		                      "base %s: %s blob %s is too large (%" PRIu64 " bytes)",
		                      c->name, what, d->digest, d->size);
	_cleanup_free_ char *path = oci_blob_path(c, d->digest);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, JSON_MAX, &b, err) < 0)
		return lade_error_prefix(err, "base %s: %s blob %s", c->name, what, d->digest);
	if (b.len != d->size)
		return lade_error_set(
		        err, 0, "base %s: blob %s size mismatch (expected %" PRIu64 ", got %zu)",
		        c->name, d->digest, d->size, b.len);
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(b.data, b.len, got);
	if (strcmp(got, d->digest) != 0)
		return lade_error_set(err, 0,
		                      "base %s: blob %s digest mismatch (expected %s, got %s)",
		                      c->name, d->digest, d->digest, got);
	_cleanup_free_ char *desc = xasprintf("%s %s", what, d->digest);
	return parse_json(b.data, b.len, c->name, desc, out, err);
}

static bool is_index_type(const char *mt)
{
	return strcmp(mt, LADE_MT_OCI_INDEX) == 0 || strcmp(mt, LADE_MT_DOCKER_LIST) == 0;
}

static bool is_manifest_type(const char *mt)
{
	return strcmp(mt, LADE_MT_OCI_MANIFEST) == 0 || strcmp(mt, LADE_MT_DOCKER_MANIFEST) == 0;
}

/* The media type of a blob: its descriptor's, else its own mediaType member, else guessed
 * from its shape (both fields are optional in older layouts). */
static const char *doc_media_type(const struct desc *d, const json_t *doc)
{
	if (d->media_type)
		return d->media_type;
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));
	if (mt)
		return mt;
	return json_object_get(doc, "manifests") ? LADE_MT_OCI_INDEX : LADE_MT_OCI_MANIFEST;
}

/* Follow d (an index or a manifest) to the manifest for the platform. */
static int resolve_manifest(const struct oci_ctx *c, const struct desc *d, int depth,
                            json_t **manifest, char **manifest_digest, struct lade_error **err)
{
	_cleanup_(json_decrefp) json_t *doc = NULL;
	if (read_json_blob(c, d, "manifest", &doc, err) < 0)
		return -1;
	const char *mt = doc_media_type(d, doc);
	const char *inner = json_string_value(json_object_get(doc, "mediaType"));
	if (inner && strcmp(inner, mt) != 0)
		return lade_error_set(err, 0,
		                      "base %s: blob %s has media type '%s' but its descriptor "
		                      "says '%s'",
		                      c->name, d->digest, inner, mt);
	if (is_manifest_type(mt)) {
		json_t *sv = json_object_get(doc, "schemaVersion");
		if (!json_is_integer(sv) || json_integer_value(sv) != 2)
			return lade_error_set(err, 0,
			                      "base %s: manifest %s: schemaVersion is not 2",
			                      c->name, d->digest);
		*manifest = steal_pointer(&doc);
		*manifest_digest = xstrdup(d->digest);
		return 0;
	}
	if (!is_index_type(mt))
		return lade_error_set(err, 0, "base %s: blob %s: unsupported media type '%s'",
		                      c->name, d->digest, mt);
	if (depth >= INDEX_DEPTH)
		return lade_error_set(err, 0, "base %s: image indexes nested more than %d deep",
		                      c->name, INDEX_DEPTH);

	json_t *ms = json_object_get(doc, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0, "base %s: index %s: manifests is not a list", c->name,
		                      d->digest);
	_cleanup_buf_ struct lade_buf avail = LADE_BUF_INIT;
	size_t i;
	json_t *m;
	json_array_foreach(ms, i, m)
	{
		const json_t *p = json_object_get(m, "platform");
		if (!json_is_object(p))
			continue;
		if (platform_match(c->platform, p)) {
			struct desc sub;
			_cleanup_free_ char *what =
			        xasprintf("index %s manifests[%zu]", d->digest, i);
			if (parse_desc(c, m, what, &sub, err) < 0)
				return -1;
			return resolve_manifest(c, &sub, depth + 1, manifest, manifest_digest, err);
		}
		if (avail.len)
			lade_buf_adds(&avail, ", ");
		platform_describe(&avail, p);
	}
	return lade_error_set(
	        err, 0, "base %s: no manifest for platform %s/%s%s%s (available: %s)", c->name,
	        c->platform->os, c->platform->arch, c->platform->variant ? "/" : "",
	        c->platform->variant ? c->platform->variant : "", avail.len ? avail.data : "none");
}

/* The manifest descriptor in DIR/index.json for the tag (or the only one). */
static int select_from_layout(const struct oci_ctx *c, const json_t *index, const char *tag,
                              struct desc *out, struct lade_error **err)
{
	json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0, "base %s: %s/index.json: manifests is not a list",
		                      c->name, c->dir);
	_cleanup_buf_ struct lade_buf tags = LADE_BUF_INIT;
	size_t i, found = SIZE_MAX;
	json_t *m;
	json_array_foreach(ms, i, m)
	{
		const char *ref = json_string_value(
		        json_object_get(json_object_get(m, "annotations"), LADE_REF_NAME));
		if (ref) {
			if (tags.len)
				lade_buf_adds(&tags, ", ");
			lade_buf_adds(&tags, ref);
		}
		if (tag && ref && strcmp(ref, tag) == 0 && found == SIZE_MAX)
			found = i;
	}
	if (tag == NULL) {
		if (json_array_size(ms) != 1)
			return lade_error_set(
			        err, 0,
			        "base %s: %s/index.json lists %zu manifests, name one "
			        "as DIR:TAG (tags found: %s)",
			        c->name, c->dir, json_array_size(ms),
			        tags.len ? tags.data : "none");
		found = 0;
	} else if (found == SIZE_MAX) {
		return lade_error_set(err, 0,
		                      "base %s: no manifest tagged '%s' in %s/index.json (tags "
		                      "found: %s)",
		                      c->name, tag, c->dir, tags.len ? tags.data : "none");
	}
	_cleanup_free_ char *what = xasprintf("index.json manifests[%zu]", found);
	return parse_desc(c, json_array_get(ms, found), what, out, err);
}

/* The OCI media type a base layer is written out with; NULL (and *err) when refused. */
static const char *layer_media_type(const struct oci_ctx *c, const json_t *j, const struct desc *d,
                                    struct lade_error **err)
{
	const char *mt = d->media_type ? d->media_type : "(none)";
	if (strncmp(mt, LADE_MT_OCI_NONDIST, strlen(LADE_MT_OCI_NONDIST)) == 0 ||
	    strcmp(mt, LADE_MT_DOCKER_FOREIGN) == 0 || json_object_get(j, "urls")) {
		lade_error_set(err, 0,
		               "base %s: layer %s is a foreign (non-distributable) layer (%s): not "
		               "supported",
		               c->name, d->digest, mt);
		return NULL;
	}
	enum lade_compression comp;
	if (lade_compression_from_media_type(mt, &comp) == 0)
		return lade_compression_media_type(comp);
	lade_error_set(err, 0, "base %s: layer %s: unsupported media type '%s'", c->name, d->digest,
	               mt);
	return NULL;
}

/* The rootfs.diff_ids of b's config, checked against the layer count; then room in b->layers
 * for that many layers, which add_layer() fills in order. */
static int layers_init(struct lade_base_image *b, const char *base_name, size_t n_layers,
                       const json_t **out, struct lade_error **err)
{
	const json_t *ids = json_object_get(json_object_get(b->config, "rootfs"), "diff_ids");
	if (n_layers == 0 && (ids == NULL || json_is_null(ids)))
		ids = NULL;
	else if (!json_is_array(ids))
		return lade_error_set(err, 0, "base %s: config: rootfs.diff_ids is not a list",
		                      base_name);
	size_t n = ids ? json_array_size(ids) : 0;
	if (n != n_layers)
		return lade_error_set(err, 0,
		                      "base %s: config has %zu rootfs.diff_ids for %zu layers",
		                      base_name, n, n_layers);
	for (size_t i = 0; i < n; i++)
		if (!lade_digest_valid(json_string_value(json_array_get(ids, i))))
			return lade_error_set(err, 0,
			                      "base %s: config: rootfs.diff_ids[%zu] is not a "
			                      "sha256 digest",
			                      base_name, i);
	*out = ids;
	b->layers = n_layers ? xcalloc(n_layers, sizeof(*b->layers)) : NULL;
	return 0;
}

static void add_layer(struct lade_base_image *b, const char *media_type, const char *digest,
                      uint64_t size, const char *diff_id)
{
	struct lade_base_layer *l = &b->layers[b->n_layers++];
	l->desc.media_type = xstrdup(media_type);
	l->desc.digest = xstrdup(digest);
	l->desc.size = size;
	l->diff_id = xstrdup(diff_id);
}

static int load_oci(const struct lade_recipe_base *spec, const struct platform *platform,
                    struct lade_store *store, struct lade_base_image *b, struct lade_error **err)
{
	struct oci_ctx c = {
	        .name = b->name, .dir = spec->ref, .store = store, .platform = platform};

	_cleanup_free_ char *layout_path = lade_path_join(spec->ref, "oci-layout");
	_cleanup_buf_ struct lade_buf lb = LADE_BUF_INIT;
	if (lade_read_file(layout_path, 1 << 16, &lb, err) < 0)
		return lade_error_prefix(err, "base %s: not an OCI image layout", c.name);
	_cleanup_(json_decrefp) json_t *layout = NULL;
	if (parse_json(lb.data, lb.len, c.name, layout_path, &layout, err) < 0)
		return -1;
	const char *version = json_string_value(json_object_get(layout, "imageLayoutVersion"));
	if (version == NULL || strcmp(version, "1.0.0") != 0)
		return lade_error_set(err, 0, "base %s: %s: unsupported imageLayoutVersion '%s'",
		                      c.name, layout_path, version ? version : "(none)");

	_cleanup_free_ char *index_path = lade_path_join(spec->ref, "index.json");
	_cleanup_buf_ struct lade_buf ib = LADE_BUF_INIT;
	if (lade_read_file(index_path, JSON_MAX, &ib, err) < 0)
		return lade_error_prefix(err, "base %s", c.name);
	_cleanup_(json_decrefp) json_t *index = NULL;
	if (parse_json(ib.data, ib.len, c.name, index_path, &index, err) < 0)
		return -1;

	struct desc top;
	if (select_from_layout(&c, index, spec->tag, &top, err) < 0)
		return -1;
	_cleanup_(json_decrefp) json_t *manifest = NULL;
	if (resolve_manifest(&c, &top, 0, &manifest, &b->manifest_digest, err) < 0)
		return -1;

	_cleanup_free_ char *mwhat = xasprintf("manifest %s config", b->manifest_digest);
	struct desc cd;
	if (parse_desc(&c, json_object_get(manifest, "config"), mwhat, &cd, err) < 0)
		return -1;
	if (cd.media_type == NULL || (strcmp(cd.media_type, LADE_MT_OCI_CONFIG) != 0 &&
	                              strcmp(cd.media_type, LADE_MT_DOCKER_CONFIG) != 0))
		return lade_error_set(err, 0,
		                      "base %s: manifest %s: config media type '%s' is not an "
		                      "image config",
		                      c.name, b->manifest_digest,
		                      cd.media_type ? cd.media_type : "(none)");

	json_t *layers = json_object_get(manifest, "layers");
	if (!json_is_array(layers))
		return lade_error_set(err, 0, "base %s: manifest %s: layers is not a list", c.name,
		                      b->manifest_digest);
	size_t n = json_array_size(layers);
	struct desc *lds = n ? xcalloc(n, sizeof(*lds)) : NULL;
	_cleanup_free_ struct desc *lds_free = lds;
	const char **mts = n ? xcalloc(n, sizeof(*mts)) : NULL;
	_cleanup_free_ const char **mts_free = mts;
	for (size_t i = 0; i < n; i++) {
		json_t *lj = json_array_get(layers, i);
		_cleanup_free_ char *what =
		        xasprintf("manifest %s layers[%zu]", b->manifest_digest, i);
		if (parse_desc(&c, lj, what, &lds[i], err) < 0)
			return -1;
		mts[i] = layer_media_type(&c, lj, &lds[i], err);
		if (mts[i] == NULL)
			return -1;
	}

	if (read_json_blob(&c, &cd, "config", &b->config, err) < 0)
		return -1;
	const json_t *ids;
	if (layers_init(b, c.name, n, &ids, err) < 0)
		return -1;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = oci_blob_path(&c, lds[i].digest);
		if (lade_store_import_file(store, path, lds[i].digest, lds[i].size, err) < 0)
			return lade_error_prefix(err, "base %s: layer %s", c.name, lds[i].digest);
		add_layer(b, mts[i], lds[i].digest, lds[i].size,
		          json_string_value(json_array_get(ids, i)));
	}
	return 0;
}

/* ---- docker-archive ---- */

struct member_link {
	char *name;
	char *target; /* normalised, or NULL when it points outside the archive */
};

struct darchive {
	const char *name; /* "docker-archive:PATH:TAG", for messages */
	const char *path;
	struct member_link *links;
	size_t n_links, links_alloc;
};

static void darchive_release(struct darchive *d)
{
	for (size_t i = 0; i < d->n_links; i++) {
		free(d->links[i].name);
		free(d->links[i].target);
	}
	free(d->links);
}

static int darchive_open(const struct darchive *d, struct archive **out, struct lade_error **err)
{
	_cleanup_(lade_archive_read_freep) struct archive *a = archive_read_new();
	if (a == NULL)
		return lade_error_set(err, ENOMEM, "base %s", d->name);
	/* `docker save | gzip` output is common enough to accept. */
	archive_read_support_filter_none(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, d->path, READ_BUFSIZE) != ARCHIVE_OK)
		return lade_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0,
		                      "base %s: cannot open %s: %s", d->name, d->path,
		                      archive_error_string(a));
	*out = steal_pointer(&a);
	return 0;
}

/* Next header; 1 at the end, 0 with an entry, -1 on error. */
static int darchive_next(const struct darchive *d, struct archive *a, struct archive_entry **e,
                         struct lade_error **err)
{
	int r = archive_read_next_header(a, e);
	if (r == ARCHIVE_EOF)
		return 1;
	if (r < ARCHIVE_WARN)
		return lade_error_set(err, 0, "base %s: cannot read %s: %s", d->name, d->path,
		                      archive_error_string(a));
	return 0;
}

/* Archive member names compare normalised ("./x//y" is "x/y"); NULL when unusable. */
static char *member_name(const char *raw)
{
	if (raw == NULL || raw[0] == '/')
		return NULL;
	return lade_path_normalize(raw, NULL);
}

static bool name_escapes(const char *raw)
{
	if (raw[0] == '/' || raw[0] == '\0')
		return true;
	for (const char *p = raw; *p;) {
		const char *end = strchrnul(p, '/');
		if (end - p == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

static int read_member(const struct darchive *d, struct archive *a, const char *what,
                       struct lade_buf *out, struct lade_error **err)
{
	char buf[65536];
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
		if (n < 0)
			return lade_error_set(err, 0, "base %s: cannot read %s: %s", d->name, what,
			                      archive_error_string(a));
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > JSON_MAX)
			return lade_error_set(err, 0, "base %s: %s is larger than %u bytes",
			                      d->name, what, JSON_MAX);
		lade_buf_add(out, buf, (size_t)n);
	}
}

/* First pass: manifest.json, and the links (classic `docker save` links identical layers). */
static int darchive_scan(struct darchive *d, struct lade_buf *manifest, struct lade_error **err)
{
	_cleanup_(lade_archive_read_freep) struct archive *a = NULL;
	if (darchive_open(d, &a, err) < 0)
		return -1;
	bool found = false;
	for (;;) {
		struct archive_entry *e;
		int r = darchive_next(d, a, &e, err);
		if (r < 0)
			return -1;
		if (r > 0)
			break;
		_cleanup_free_ char *name = member_name(archive_entry_pathname(e));
		if (name == NULL)
			continue;
		const char *hl = archive_entry_hardlink(e);
		if (hl || archive_entry_filetype(e) == AE_IFLNK) {
			char *target = NULL;
			if (hl) {
				target = member_name(hl);
			} else if (archive_entry_symlink(e) && archive_entry_symlink(e)[0] != '/') {
				_cleanup_free_ char *dir = lade_path_dirname(name);
				_cleanup_free_ char *joined =
				        lade_path_join(dir, archive_entry_symlink(e));
				target = lade_path_normalize(joined, NULL);
			}
			lade_grow(&d->links, sizeof(*d->links), d->n_links + 1, &d->links_alloc);
			d->links[d->n_links++] = (struct member_link){steal_pointer(&name), target};
			continue;
		}
		if (strcmp(name, "manifest.json") == 0 && archive_entry_filetype(e) == AE_IFREG &&
		    !found) {
			if (read_member(d, a, "manifest.json", manifest, err) < 0)
				return -1;
			found = true;
		}
	}
	if (!found)
		return lade_error_set(err, 0,
		                      "base %s: no manifest.json in %s (not a docker-archive)",
		                      d->name, d->path);
	return 0;
}

/* A member named by manifest.json: checked, normalised and followed through links. */
static int darchive_member(const struct darchive *d, const json_t *j, const char *what, char **out,
                           struct lade_error **err)
{
	const char *raw = json_string_value(j);
	if (raw == NULL)
		return lade_error_set(err, 0, "base %s: manifest.json: %s is not a string", d->name,
		                      what);
	if (name_escapes(raw))
		return lade_error_set(err, 0,
		                      "base %s: manifest.json: %s '%s': path escapes the archive",
		                      d->name, what, raw);
	_cleanup_free_ char *name = lade_path_normalize(raw, NULL);
	for (int depth = 0;; depth++) {
		const struct member_link *l = NULL;
		for (size_t i = 0; i < d->n_links && l == NULL; i++)
			if (strcmp(d->links[i].name, name) == 0)
				l = &d->links[i];
		if (l == NULL)
			break;
		if (l->target == NULL || depth >= LINK_DEPTH)
			return lade_error_set(err, 0,
			                      "base %s: %s '%s' is a link that leads outside the "
			                      "archive",
			                      d->name, what, raw);
		free(name);
		name = xstrdup(l->target);
	}
	*out = steal_pointer(&name);
	return 0;
}

/* "busybox", "library/busybox:latest" and "docker.io/library/busybox:latest" are the same
 * image: Docker writes short names, skopeo fully qualified ones. */
static char *normalize_repo_tag(const char *s)
{
	size_t skip = 0;
	if (strncmp(s, "docker.io/", 10) == 0)
		skip = 10;
	if (strncmp(s + skip, "library/", 8) == 0) {
		bool nested = false;
		for (const char *p = s + skip + 8; *p && !nested; p++)
			nested = *p == '/';
		if (!nested)
			skip += 8;
	}
	const char *name = s + skip;
	size_t last = strlen(name);
	while (last > 0 && name[last - 1] != '/')
		last--;
	if (strchr(name + last, ':') == NULL && strchr(name, '@') == NULL)
		return xasprintf("%s:latest", name);
	return xstrdup(name);
}

static bool repo_tags_match(const json_t *tags, const char *tag)
{
	_cleanup_free_ char *want = normalize_repo_tag(tag);
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *s = json_string_value(t);
		if (s == NULL)
			continue;
		_cleanup_free_ char *have = normalize_repo_tag(s);
		if (strcmp(have, want) == 0)
			return true;
	}
	return false;
}

static int darchive_select(const struct darchive *d, const json_t *list, const char *tag,
                           const json_t **out, struct lade_error **err)
{
	if (!json_is_array(list))
		return lade_error_set(err, 0, "base %s: manifest.json is not a list", d->name);
	_cleanup_buf_ struct lade_buf tags = LADE_BUF_INIT;
	size_t i;
	json_t *m;
	json_array_foreach(list, i, m)
	{
		if (!json_is_object(m))
			return lade_error_set(
			        err, 0, "base %s: manifest.json[%zu] is not an object", d->name, i);
		const json_t *rt = json_object_get(m, "RepoTags");
		if (tag && json_is_array(rt) && repo_tags_match(rt, tag)) {
			*out = m;
			return 0;
		}
		size_t k;
		json_t *t;
		json_array_foreach(rt, k, t)
		{
			if (!json_is_string(t))
				continue;
			if (tags.len)
				lade_buf_adds(&tags, ", ");
			lade_buf_adds(&tags, json_string_value(t));
		}
	}
	if (tag)
		return lade_error_set(err, 0,
		                      "base %s: no image tagged '%s' in manifest.json (tags found: "
		                      "%s)",
		                      d->name, tag, tags.len ? tags.data : "none");
	if (json_array_size(list) != 1)
		return lade_error_set(err, 0,
		                      "base %s: manifest.json lists %zu images, name one as "
		                      "PATH:REPO:TAG (tags found: %s)",
		                      d->name, json_array_size(list),
		                      tags.len ? tags.data : "none");
	*out = json_array_get(list, 0);
	return 0;
}

struct darchive_blob {
	char *member; /* normalised member name */
	bool done;
	char digest[LADE_DIGEST_STRLEN];
	uint64_t size;
	enum lade_compression compression;
};

/* Stream the current member into the store as it is (a layer blob keeps its bytes). */
static int darchive_import(const struct darchive *d, struct archive *a, struct lade_store *store,
                           struct darchive_blob *blob, struct lade_error **err)
{
	_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *w = NULL;
	if (lade_store_blob_begin(store, &w, err) < 0)
		return lade_error_prefix(err, "base %s", d->name);
	struct lade_stream *s = lade_blob_writer_stream(w);
	_cleanup_free_ char *buf = xmalloc(READ_BUFSIZE);
	unsigned char head[16];
	size_t hlen = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, READ_BUFSIZE);
		if (n < 0)
			return lade_error_set(err, 0, "base %s: cannot read %s: %s", d->name,
			                      blob->member, archive_error_string(a));
		if (n == 0)
			break;
		if (hlen < sizeof(head)) {
			size_t k =
			        (size_t)n < sizeof(head) - hlen ? (size_t)n : sizeof(head) - hlen;
			memcpy(head + hlen, buf, k);
			hlen += k;
		}
		if (lade_stream_write(s, buf, (size_t)n, err) < 0)
			return lade_error_prefix(err, "base %s: %s", d->name, blob->member);
	}
	blob->compression = lade_compression_sniff(head, hlen);
	if (lade_blob_writer_commit(steal_pointer(&w), blob->digest, &blob->size, err) < 0)
		return lade_error_prefix(err, "base %s: %s", d->name, blob->member);
	blob->done = true;
	return 0;
}

/* Docker 25+ names blobs by digest ("blobs/sha256/<hex>"), classic archives name the config
 * "<hex>.json": when the name carries a digest, the content must have it. */
static const char *digest_in_name(const char *member, char buf[LADE_DIGEST_STRLEN])
{
	const char *base = strrchr(member, '/');
	base = base ? base + 1 : member;
	size_t n = strlen(base);
	if (n == LADE_DIGEST_HEX_LEN + 5 && strcmp(base + LADE_DIGEST_HEX_LEN, ".json") == 0)
		n = LADE_DIGEST_HEX_LEN;
	else if (n != LADE_DIGEST_HEX_LEN || strncmp(member, "blobs/sha256/", 13) != 0)
		return NULL;
	snprintf(buf, LADE_DIGEST_STRLEN, "sha256:%.*s", LADE_DIGEST_HEX_LEN, base);
	return lade_digest_valid(buf) ? buf : NULL;
}

struct darchive_blobs {
	struct darchive_blob *v; /* v[0] is the config, v[1 + i] layer i */
	size_t n;
};

static void darchive_blobs_release(struct darchive_blobs *bs)
{
	for (size_t i = 0; i < bs->n; i++)
		free(bs->v[i].member);
	free(bs->v);
}

/* Second pass: the config into memory, the layers into the store. */
static int darchive_read_blobs(const struct darchive *d, struct lade_store *store,
                               struct darchive_blobs *bs, struct lade_buf *config,
                               struct lade_error **err)
{
	_cleanup_(lade_archive_read_freep) struct archive *a = NULL;
	if (darchive_open(d, &a, err) < 0)
		return -1;
	for (;;) {
		struct archive_entry *e;
		int r = darchive_next(d, a, &e, err);
		if (r < 0)
			return -1;
		if (r > 0)
			break;
		if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
			continue;
		_cleanup_free_ char *name = member_name(archive_entry_pathname(e));
		if (name == NULL)
			continue;
		if (!bs->v[0].done && strcmp(name, bs->v[0].member) == 0) {
			if (read_member(d, a, name, config, err) < 0)
				return -1;
			lade_sha256_buf(config->data, config->len, bs->v[0].digest);
			bs->v[0].size = config->len;
			bs->v[0].done = true;
			continue;
		}
		struct darchive_blob *first = NULL;
		for (size_t i = 1; i < bs->n; i++) {
			struct darchive_blob *bl = &bs->v[i];
			if (bl->done || strcmp(name, bl->member) != 0)
				continue;
			if (first == NULL) {
				if (darchive_import(d, a, store, bl, err) < 0)
					return -1;
				first = bl;
			} else {
				/* The same member listed twice (identical layers). */
				memcpy(bl->digest, first->digest, sizeof(bl->digest));
				bl->size = first->size;
				bl->compression = first->compression;
				bl->done = true;
			}
		}
	}
	for (size_t i = 0; i < bs->n; i++)
		if (!bs->v[i].done)
			return lade_error_set(err, 0,
			                      "base %s: %s names '%s' but the archive has no such "
			                      "file",
			                      d->name, "manifest.json", bs->v[i].member);
	return 0;
}

static int check_named_digest(const struct darchive *d, const struct darchive_blob *bl,
                              struct lade_error **err)
{
	char want[LADE_DIGEST_STRLEN];
	if (digest_in_name(bl->member, want) && strcmp(want, bl->digest) != 0)
		return lade_error_set(err, 0, "base %s: %s digest mismatch (expected %s, got %s)",
		                      d->name, bl->member, want, bl->digest);
	return 0;
}

static int load_docker_archive(const struct lade_recipe_base *spec, struct lade_store *store,
                               struct lade_base_image *b, struct lade_error **err)
{
	_cleanup_(darchive_release) struct darchive d = {.name = b->name, .path = spec->ref};
	_cleanup_buf_ struct lade_buf mb = LADE_BUF_INIT;
	if (darchive_scan(&d, &mb, err) < 0)
		return -1;
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *list = json_loadb(mb.data, mb.len, 0, &jerr);
	if (list == NULL)
		return lade_error_set(err, 0, "base %s: manifest.json: invalid JSON: line %d: %s",
		                      d.name, jerr.line, jerr.text);
	const json_t *m = NULL;
	if (darchive_select(&d, list, spec->tag, &m, err) < 0)
		return -1;
	const json_t *jlayers = json_object_get(m, "Layers");
	if (!json_is_array(jlayers))
		return lade_error_set(err, 0, "base %s: manifest.json: Layers is not a list",
		                      d.name);

	size_t n = json_array_size(jlayers);
	_cleanup_(darchive_blobs_release) struct darchive_blobs bs = {
	        .v = xcalloc(n + 1, sizeof(struct darchive_blob)), .n = n + 1};
	if (darchive_member(&d, json_object_get(m, "Config"), "Config", &bs.v[0].member, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *what = xasprintf("Layers[%zu]", i);
		if (darchive_member(&d, json_array_get(jlayers, i), what, &bs.v[1 + i].member,
		                    err) < 0)
			return -1;
	}

	_cleanup_buf_ struct lade_buf cb = LADE_BUF_INIT;
	if (darchive_read_blobs(&d, store, &bs, &cb, err) < 0)
		return -1;
	if (check_named_digest(&d, &bs.v[0], err) < 0)
		return -1;
	_cleanup_free_ char *cwhat = xasprintf("config %s", bs.v[0].member);
	if (parse_json(cb.data, cb.len, d.name, cwhat, &b->config, err) < 0)
		return -1;
	const json_t *ids;
	if (layers_init(b, d.name, n, &ids, err) < 0)
		return -1;

	for (size_t i = 0; i < n; i++) {
		const struct darchive_blob *bl = &bs.v[1 + i];
		const char *diff_id = json_string_value(json_array_get(ids, i));
		if (check_named_digest(&d, bl, err) < 0)
			return -1;
		/* An uncompressed layer is its own diff: check it now; compressed ones are
		 * checked against the diff_id when the tree is read. */
		if (bl->compression == LADE_COMPRESS_NONE && strcmp(bl->digest, diff_id) != 0)
			return lade_error_set(
			        err, 0, "base %s: layer %s (%s) does not match its diff_id %s",
			        d.name, bl->member, bl->digest, diff_id);
		add_layer(b, lade_compression_media_type(bl->compression), bl->digest, bl->size,
		          diff_id);
	}
	return 0;
}

/* ---- entry point ---- */

int lade_base_load(const struct lade_recipe_base *spec, const char *platform,
                   struct lade_store *store, struct lade_base_image **out, struct lade_error **err)
{
	_cleanup_(lade_base_image_freep) struct lade_base_image *b = xzalloc(sizeof(*b));
	switch (spec->kind) {
	case LADE_BASE_SCRATCH:
		b->name = xstrdup("scratch");
		break;
	case LADE_BASE_OCI: {
		b->name = spec->tag ? xasprintf("oci:%s:%s", spec->ref, spec->tag)
		                    : xasprintf("oci:%s", spec->ref);
		struct platform p = {0};
		if (platform_parse(platform ? platform : "linux/amd64", &p, err) < 0)
			return lade_error_prefix(err, "base %s", b->name);
		int r = load_oci(spec, &p, store, b, err);
		platform_release(&p);
		if (r < 0)
			return -1;
		break;
	}
	case LADE_BASE_DOCKER_ARCHIVE:
		b->name = spec->tag ? xasprintf("docker-archive:%s:%s", spec->ref, spec->tag)
		                    : xasprintf("docker-archive:%s", spec->ref);
		if (load_docker_archive(spec, store, b, err) < 0)
			return -1;
		break;
	case LADE_BASE_IMAGE:
		return lade_error_set(err, 0,
		                      "base %s: registry bases are not supported by this lade "
		                      "version; copy it first with skopeo copy docker://%s "
		                      "oci:DIR:TAG",
		                      spec->ref, spec->ref);
	default:
		return lade_error_set(err, 0, "base: unknown kind %d", (int)spec->kind);
	}
	*out = steal_pointer(&b);
	return 0;
}

/* ---- the base's file system ---- */

static enum lade_compression layer_compression(const char *media_type)
{
	size_t n = strlen(media_type);
	if (n >= 5 && strcmp(media_type + n - 5, "+gzip") == 0)
		return LADE_COMPRESS_GZIP;
	if (n >= 5 && strcmp(media_type + n - 5, "+zstd") == 0)
		return LADE_COMPRESS_ZSTD;
	return LADE_COMPRESS_NONE;
}

/* Whether `total` uncompressed bytes of layer l break the bomb guard (fills err then). */
static bool layer_too_big(const char *base_name, const struct lade_base_layer *l, uint64_t total,
                          struct lade_error **err)
{
	if (total > LAYER_MAX_BYTES) {
		lade_error_set(err, 0,
		               "base %s: layer %s: more than %llu GiB uncompressed: refused as a "
		               "decompression bomb",
		               base_name, l->desc.digest, LAYER_MAX_BYTES >> 30);
		return true;
	}
	if (total > LAYER_RATIO_MIN && total / LAYER_RATIO_MAX > l->desc.size) {
		lade_error_set(err, 0,
		               "base %s: layer %s: more than %llu times its compressed size "
		               "(%" PRIu64 " bytes) uncompressed: refused as a decompression bomb",
		               base_name, l->desc.digest, LAYER_RATIO_MAX, l->desc.size);
		return true;
	}
	return false;
}

/* One read of a layer blob. The file's bytes are hashed (the blob digest) and pulled through a
 * decompressor (gzip and zstd detected from the bytes, as libarchive's filters did; bytes after
 * the last gzip member ignored, as libarchive did); the stream it yields is hashed (diff_id),
 * counted (bomb guard) and handed to a libarchive tar reader that walks the headers. */
struct layer_pass {
	struct lade_source source; /* the blob, read and hashed */
	const char *base_name;
	const struct lade_base_layer *l;
	const char *path;
	bool compressed; /* by media type: the diff_id and the bomb guard apply */
	int fd;
	unsigned char *in;
	bool in_eof, in_failed;
	int in_errno;
	struct lade_sha256 *blob_sha;
	struct lade_sha256 *tar_sha; /* NULL when not compressed: the blob is its own diff */
	struct lade_decompressor *dec;
	bool dec_eof;
	uint64_t total;                /* decompressed bytes so far */
	struct lade_error *stream_err; /* first open, read, decompression or bomb failure */
};

static void layer_pass_release(struct layer_pass *p)
{
	lade_decompressor_free(p->dec);
	if (p->fd >= 0)
		close(p->fd);
	free(p->in);
	lade_sha256_free(p->blob_sha);
	lade_sha256_free(p->tar_sha);
	lade_error_free(p->stream_err);
}

static ssize_t blob_fill(struct layer_pass *p)
{
	ssize_t n = lade_read_retry(p->fd, p->in, READ_BUFSIZE);
	if (n < 0) {
		p->in_failed = true;
		p->in_errno = errno;
		return -1;
	}
	lade_sha256_update(p->blob_sha, p->in, (size_t)n);
	p->in_eof = n == 0;
	return n;
}

static ssize_t blob_read(struct lade_source *s, const void **buf, struct lade_error **err)
{
	struct layer_pass *p = (struct layer_pass *)s;
	*buf = p->in;
	if (p->in_eof)
		return 0;
	ssize_t n = blob_fill(p);
	if (n < 0)
		return lade_error_set(err, p->in_errno, "cannot read %s", p->path);
	return n;
}

/* Open the blob and its decompressor (failures go to p->stream_err). */
static void layer_pass_open(struct layer_pass *p)
{
	const char *digest = p->l->desc.digest;
	p->source.read = blob_read;
	p->fd = open(p->path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0) {
		/* libarchive's wording, from when it opened the blob */
		lade_error_set(&p->stream_err, 0,
		               "base %s: layer %s: cannot open %s: Failed to open '%s'",
		               p->base_name, digest, p->path, p->path);
		return;
	}
	if (lade_decompressor_new(LADE_COMPRESS_NONE,
	                          LADE_DECOMPRESS_DETECT | LADE_DECOMPRESS_IGNORE_TRAILING,
	                          &p->source, &p->dec, &p->stream_err) < 0)
		lade_error_prefix(&p->stream_err, "base %s: layer %s", p->base_name, digest);
}

/* Next block of the decompressed stream: > 0 bytes at *buf, 0 at its end, -1 with
 * p->stream_err set. Hashes and counts as it goes. */
static ssize_t layer_pass_next(struct layer_pass *p, const void **buf)
{
	if (p->stream_err)
		return -1;
	if (p->dec_eof)
		return 0;
	ssize_t n = lade_decompressor_next(p->dec, buf, &p->stream_err);
	if (n < 0) {
		lade_error_prefix(&p->stream_err, "base %s: layer %s", p->base_name,
		                  p->l->desc.digest);
		return -1;
	}
	if (n == 0) {
		p->dec_eof = true;
		return 0;
	}
	if (p->compressed) {
		p->total += (uint64_t)n;
		if (layer_too_big(p->base_name, p->l, p->total, &p->stream_err))
			return -1;
		lade_sha256_update(p->tar_sha, *buf, (size_t)n);
	}
	return n;
}

static la_ssize_t tar_read_cb(struct archive *a, void *data, const void **buf)
{
	struct layer_pass *p = data;
	ssize_t n = layer_pass_next(p, buf);
	if (n < 0) {
		archive_set_error(a, EIO, "%s", p->stream_err->msg);
		return -1;
	}
	return n;
}

/* A tar entry name as a tree path; NULL with *err for absolute names or "..". */
static char *entry_path(const char *base_name, const char *digest, const char *raw,
                        struct lade_error **err)
{
	if (raw[0] == '/') {
		lade_error_set(err, 0, "base %s: layer %s entry '%s': absolute path", base_name,
		               digest, raw);
		return NULL;
	}
	for (const char *p = raw; *p;) {
		const char *end = strchrnul(p, '/');
		if (end - p == 2 && p[0] == '.' && p[1] == '.') {
			lade_error_set(err, 0,
			               "base %s: layer %s entry '%s': path escapes the root",
			               base_name, digest, raw);
			return NULL;
		}
		p = *end ? end + 1 : end;
	}
	return lade_path_normalize(raw, err);
}

/* The symlink through which an entry in directory `dir` would be written, when that link's
 * target climbs above the root (new string), else NULL. A loop is not reported here:
 * lade_tree_apply reports it. */
static char *escaping_link(const struct lade_tree *t, const char *dir)
{
	_cleanup_free_ char *resolved = NULL;
	_cleanup_error_ struct lade_error *loop = NULL;
	char *via = NULL;
	lade_tree_resolve_escape(t, dir, true, &resolved, &via, &loop);
	return via;
}

static void hashmap_freep(struct lade_hashmap **m)
{
	lade_hashmap_free(*m, NULL);
}

/* The tar headers of the stream `pass` decompresses, into tree. */
static int walk_layer(struct layer_pass *pass, struct lade_tree *tree, struct lade_error **err)
{
	const char *base_name = pass->base_name;
	const char *digest = pass->l->desc.digest;
	_cleanup_(lade_archive_read_freep) struct archive *a = archive_read_new();
	if (a == NULL)
		return lade_error_set(err, ENOMEM, "base %s: layer %s", base_name, digest);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, pass, NULL, tar_read_cb, NULL) != ARCHIVE_OK)
		return lade_error_set(err, 0, "base %s: layer %s: cannot open %s: %s", base_name,
		                      digest, pass->path, archive_error_string(a));
	_cleanup_(hashmap_freep) struct lade_hashmap *seen = lade_hashmap_new();
	lade_tree_layer_begin(tree);
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return lade_error_set(err, 0, "base %s: layer %s: %s", base_name, digest,
			                      archive_error_string(a));
		const char *raw = archive_entry_pathname(e);
		if (raw == NULL)
			return lade_error_set(err, 0, "base %s: layer %s: entry without a name",
			                      base_name, digest);
		_cleanup_free_ char *p = entry_path(base_name, digest, raw, err);
		if (p == NULL)
			return -1;
		if (p[0] == '\0')
			continue; /* "./": the root itself */
		enum lade_entry_type type;
		_cleanup_free_ char *link = NULL;
		const char *hl = archive_entry_hardlink(e);
		if (hl) {
			type = LADE_ENTRY_HARDLINK;
			link = entry_path(base_name, digest, hl, err);
			if (link == NULL)
				return -1;
		} else {
			switch (archive_entry_filetype(e)) {
			case AE_IFDIR:
				type = LADE_ENTRY_DIR;
				break;
			case AE_IFREG:
				type = LADE_ENTRY_FILE;
				break;
			case AE_IFLNK:
				type = LADE_ENTRY_SYMLINK;
				link = xstrdup(archive_entry_symlink(e) ? archive_entry_symlink(e)
				                                        : "");
				break;
			default:
				type = LADE_ENTRY_OTHER;
				break;
			}
		}
		_cleanup_free_ char *dir = lade_path_dirname(p);
		_cleanup_free_ char *via = escaping_link(tree, dir);
		if (via)
			return lade_error_set(err, 0,
			                      "base %s: layer %s entry '%s': written through the "
			                      "symlink '%s', whose target escapes the root",
			                      base_name, digest, raw, via);
		/* Same rules as lade verify (and the tar writers of docker and containerd): a
		 * path once per layer, hard links only to what the layer wrote before. */
		if (type == LADE_ENTRY_HARDLINK && lade_hashmap_get(seen, link) == NULL)
			return lade_error_set(err, 0,
			                      "base %s: layer %s entry '%s': hard link to '%s', "
			                      "which is not earlier in the layer",
			                      base_name, digest, raw, hl);
		if (lade_hashmap_put(seen, p, (void *)1) != NULL)
			return lade_error_set(err, 0,
			                      "base %s: layer %s entry '%s': duplicate path in the "
			                      "layer",
			                      base_name, digest, raw);
		la_int64_t size = archive_entry_size(e);
		if (lade_tree_apply(tree, p, type, (uint32_t)archive_entry_perm(e) & 07777,
		                    (uint32_t)archive_entry_uid(e), (uint32_t)archive_entry_gid(e),
		                    size > 0 ? (uint64_t)size : 0, link, err) < 0)
			return lade_error_prefix(err, "base %s: layer %s", base_name, digest);
	}
	return 0;
}

static int diff_id_mismatch(const char *base_name, const struct lade_base_layer *l, const char *got,
                            struct lade_error **err)
{
	return lade_error_set(err, 0, "base %s: layer %s diff_id mismatch (expected %s, got %s)",
	                      base_name, l->desc.digest, l->diff_id, got);
}

static int pass_error(struct lade_error **err, struct lade_error **e)
{
	if (err && *err == NULL)
		*err = steal_pointer(e);
	return -1;
}

/* Verify and walk one layer in one read of its blob. The failures are reported in the order
 * the earlier separate passes found them: the blob itself, reading and decompressing it (bomb
 * guard included), its diff_id, then what the walk refused. So the stream is read to its end
 * and the blob to EOF even when the tar ends (or the walk stops) earlier. */
static int read_layer(const char *base_name, const struct lade_base_layer *l, const char *path,
                      struct lade_tree *tree, struct lade_error **err)
{
	bool compressed = layer_compression(l->desc.media_type) != LADE_COMPRESS_NONE;
	/* An uncompressed blob is its own diff (and its digest is checked again below). */
	if (!compressed && strcmp(l->desc.digest, l->diff_id) != 0)
		return diff_id_mismatch(base_name, l, l->desc.digest, err);
	_cleanup_(layer_pass_release) struct layer_pass p = {
	        .base_name = base_name,
	        .l = l,
	        .path = path,
	        .compressed = compressed,
	        .fd = -1,
	        .in = xmalloc(READ_BUFSIZE),
	        .blob_sha = lade_sha256_new(),
	        .tar_sha = compressed ? lade_sha256_new() : NULL,
	};
	_cleanup_error_ struct lade_error *walk_err = NULL;
	layer_pass_open(&p);
	if (p.stream_err == NULL) {
		walk_layer(&p, tree, &walk_err);
		const void *buf;
		while (compressed && layer_pass_next(&p, &buf) > 0)
			;
	}
	while (p.fd >= 0 && !p.in_eof && !p.in_failed)
		blob_fill(&p);
	if (p.in_eof) {
		/* The store's copy was verified on import; it may have changed since. */
		char got[LADE_DIGEST_STRLEN];
		lade_sha256_final(p.blob_sha, NULL, got);
		if (strcmp(got, l->desc.digest) != 0)
			return lade_error_set(err, 0,
			                      "base %s: layer %s digest mismatch (expected %s, got "
			                      "%s)",
			                      base_name, l->desc.digest, l->desc.digest, got);
	}
	if (p.stream_err)
		return pass_error(err, &p.stream_err);
	if (p.in_failed)
		return lade_error_set(err, p.in_errno, "base %s: layer %s: cannot read %s",
		                      base_name, l->desc.digest, path);
	if (compressed) {
		char got[LADE_DIGEST_STRLEN];
		lade_sha256_final(p.tar_sha, NULL, got);
		if (strcmp(got, l->diff_id) != 0)
			return diff_id_mismatch(base_name, l, got, err);
	}
	if (walk_err)
		return pass_error(err, &walk_err);
	return 0;
}

int lade_base_read_tree(const struct lade_base_image *b, struct lade_store *store,
                        struct lade_tree *tree, struct lade_error **err)
{
	for (size_t i = 0; i < b->n_layers; i++) {
		const struct lade_base_layer *l = &b->layers[i];
		_cleanup_free_ char *path = lade_store_blob_path(store, l->desc.digest);
		if (read_layer(b->name, l, path, tree, err) < 0)
			return -1;
	}
	return 0;
}
