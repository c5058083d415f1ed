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
#include "lade/layerread.h"
#include "lade/oci.h"
#include "lade/util.h"

#define LINK_DEPTH   16
#define READ_BUFSIZE (1u << 20)

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

/* ---- OCI image layout ---- */

/* The OCI media type a base layer is written out with; NULL (and *err) when refused. */
static const char *layer_media_type(const char *name, const struct lade_oci_descriptor *d,
                                    struct lade_error **err)
{
	const char *mt = d->media_type;
	_cleanup_free_ char *q = lade_oci_quote(mt);
	if (strncmp(mt, LADE_MT_OCI_NONDIST, strlen(LADE_MT_OCI_NONDIST)) == 0 ||
	    strcmp(mt, LADE_MT_DOCKER_FOREIGN) == 0 || d->urls) {
		lade_error_set(err, 0,
		               "base %s: layer %s is a foreign (non-distributable) layer (%s): not "
		               "supported",
		               name, d->digest, q);
		return NULL;
	}
	enum lade_compression comp;
	if (lade_compression_from_media_type(mt, &comp) == 0)
		return lade_compression_media_type(comp);
	lade_error_set(err, 0, "base %s: layer %s: unsupported media type '%s'", name, d->digest,
	               q);
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

static int load_oci(const struct lade_base_spec *spec, const struct lade_oci_platform *platform,
                    struct lade_store *store, struct lade_base_image *b, struct lade_error **err)
{
	const char *name = b->name, *dir = spec->ref;
	_cleanup_(lade_oci_resolved_release) struct lade_oci_resolved res = {0};
	if (lade_oci_layout_resolve(dir, spec->tag, platform, &res, err) < 0)
		return lade_error_prefix(err, "base %s", name);
	b->manifest_digest = xstrdup(res.digest);
	json_t *manifest = res.manifest;

	_cleanup_free_ char *mwhat = xasprintf("manifest %s config", b->manifest_digest);
	struct lade_oci_descriptor cd;
	if (lade_oci_descriptor_parse(json_object_get(manifest, "config"), mwhat, &cd, err) < 0)
		return lade_error_prefix(err, "base %s", name);
	if (!lade_oci_is_config_type(cd.media_type)) {
		_cleanup_free_ char *q = lade_oci_quote(cd.media_type);
		return lade_error_set(err, 0,
		                      "base %s: manifest %s: config media type '%s' is not an "
		                      "image config",
		                      name, b->manifest_digest, q);
	}

	json_t *layers = json_object_get(manifest, "layers");
	if (!json_is_array(layers))
		return lade_error_set(err, 0, "base %s: manifest %s: layers is not a list", name,
		                      b->manifest_digest);
	size_t n = json_array_size(layers);
	_cleanup_free_ struct lade_oci_descriptor *lds = n ? xcalloc(n, sizeof(*lds)) : NULL;
	_cleanup_free_ const char **mts = n ? xcalloc(n, sizeof(*mts)) : NULL;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *what =
		        xasprintf("manifest %s layers[%zu]", b->manifest_digest, i);
		if (lade_oci_descriptor_parse(json_array_get(layers, i), what, &lds[i], err) < 0)
			return lade_error_prefix(err, "base %s", name);
		mts[i] = layer_media_type(name, &lds[i], err);
		if (mts[i] == NULL)
			return -1;
	}

	if (lade_oci_blob_json(dir, &cd, &b->config, err) < 0)
		return lade_error_prefix(err, "base %s: config", name);
	const json_t *ids;
	if (layers_init(b, name, n, &ids, err) < 0)
		return -1;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = lade_oci_blob_path(dir, lds[i].digest);
		if (lade_store_import_file(store, path, lds[i].digest, lds[i].size, err) < 0)
			return lade_error_prefix(err, "base %s: layer %s", name, lds[i].digest);
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
	if (lade_archive_read_open_regular(a, d->path, READ_BUFSIZE, err) < 0)
		return lade_error_prefix(err, "base %s", d->name);
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
		if (out->len + (size_t)n > LADE_OCI_JSON_MAX)
			return lade_error_set(err, 0, "base %s: %s is larger than %u bytes",
			                      d->name, what, LADE_OCI_JSON_MAX);
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
	if (raw[0] == '\0' || lade_tar_name_unsafe(raw))
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

static bool repo_tags_match(const json_t *tags, const char *tag)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *s = json_string_value(t);
		if (s && lade_oci_repo_tag_matches(s, tag))
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

static int load_docker_archive(const struct lade_base_spec *spec, struct lade_store *store,
                               struct lade_base_image *b, struct lade_error **err)
{
	_cleanup_(darchive_release) struct darchive d = {.name = b->name, .path = spec->ref};
	_cleanup_buf_ struct lade_buf mb = LADE_BUF_INIT;
	if (darchive_scan(&d, &mb, err) < 0)
		return -1;
	_cleanup_(json_decrefp) json_t *list = NULL;
	if (lade_oci_json_parse_value(mb.data, mb.len, "manifest.json", &list, err) < 0)
		return lade_error_prefix(err, "base %s", d.name);
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
	if (lade_oci_json_parse(cb.data, cb.len, cwhat, &b->config, err) < 0)
		return lade_error_prefix(err, "base %s", d.name);
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

int lade_base_load(const struct lade_base_spec *spec, const char *platform,
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
		struct lade_oci_platform p;
		if (lade_oci_platform_parse(platform ? platform : "linux/amd64", &p, err) < 0)
			return lade_error_prefix(err, "base %s", b->name);
		int r = load_oci(spec, &p, store, b, err);
		lade_oci_platform_release(&p);
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

/* A tar entry name as a tree path; NULL with *err for absolute names or "..". */
static char *entry_path(const char *base_name, const char *digest, const char *raw,
                        struct lade_error **err)
{
	if (raw[0] == '/') {
		lade_error_set(err, 0, "base %s: layer %s entry '%s': absolute path", base_name,
		               digest, raw);
		return NULL;
	}
	if (lade_tar_name_unsafe(raw)) {
		lade_error_set(err, 0, "base %s: layer %s entry '%s': path escapes the root",
		               base_name, digest, raw);
		return NULL;
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

struct walk {
	const char *base_name, *digest;
	struct lade_tree *tree;
	struct lade_hashmap *seen;   /* paths this layer wrote */
	struct lade_base_keep *keep; /* may be NULL */
};

static void buf_free(void *p)
{
	lade_buf_release(p);
	free(p);
}

void lade_base_keep_release(struct lade_base_keep *keep)
{
	if (keep == NULL || keep->files == NULL)
		return;
	lade_hashmap_free(keep->files, buf_free);
	keep->files = NULL;
}

/* Keep (or drop) the content of the entry at p when its name is keep's. */
static int keep_entry(struct walk *w, struct archive *a, struct archive_entry *e, const char *p,
                      enum lade_entry_type type, struct lade_error **err)
{
	const char *slash = strrchr(p, '/');
	if (w->keep == NULL || strcmp(slash ? slash + 1 : p, w->keep->name) != 0)
		return 0;
	if (w->keep->files == NULL)
		w->keep->files = lade_hashmap_new();
	struct lade_buf *old = lade_hashmap_remove(w->keep->files, p);
	if (old)
		buf_free(old);
	la_int64_t size = archive_entry_size(e);
	if (type != LADE_ENTRY_FILE || size < 0 || (uint64_t)size > w->keep->max)
		return 0;
	struct lade_buf *b = xmalloc(sizeof(*b));
	lade_buf_init(b);
	char chunk[65536];
	la_ssize_t n;
	while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
		lade_buf_add(b, chunk, (size_t)n);
	if (n < 0) {
		buf_free(b);
		return lade_error_set(err, 0, "base %s: layer %s: cannot read /%s: %s",
		                      w->base_name, w->digest, p, archive_error_string(a));
	}
	lade_hashmap_put(w->keep->files, p, b);
	return 0;
}

/* One tar header of a base layer, into the tree. */
static int walk_entry(void *ctx, struct archive *a, struct archive_entry *e,
                      struct lade_error **err)
{
	struct walk *w = ctx;
	const char *base_name = w->base_name, *digest = w->digest;
	const char *raw = archive_entry_pathname(e);
	if (raw == NULL)
		return lade_error_set(err, 0, "base %s: layer %s: entry without a name", base_name,
		                      digest);
	_cleanup_free_ char *p = entry_path(base_name, digest, raw, err);
	if (p == NULL)
		return -1;
	if (p[0] == '\0')
		return 0; /* "./": the root itself */
	const char *hl = NULL;
	enum lade_entry_type type = lade_tar_entry_type(e, &hl);
	_cleanup_free_ char *link = NULL;
	if (type == LADE_ENTRY_HARDLINK) {
		link = entry_path(base_name, digest, hl, err);
		if (link == NULL)
			return -1;
	} else if (hl) {
		link = xstrdup(hl);
	}
	_cleanup_free_ char *dir = lade_path_dirname(p);
	_cleanup_free_ char *via = escaping_link(w->tree, dir);
	if (via)
		return lade_error_set(err, 0,
		                      "base %s: layer %s entry '%s': written through the symlink "
		                      "'%s', whose target escapes the root",
		                      base_name, digest, raw, via);
	/* Same rules as lade verify (and the tar writers of docker and containerd): a path once
	 * per layer, hard links only to what the layer wrote before. */
	if (type == LADE_ENTRY_HARDLINK && lade_hashmap_get(w->seen, link) == NULL)
		return lade_error_set(err, 0,
		                      "base %s: layer %s entry '%s': hard link to '%s', which is "
		                      "not earlier in the layer",
		                      base_name, digest, raw, hl);
	/* link(2) refuses directories: an extractor fails or, worse, does something else */
	const struct lade_tree_node *target =
	        type == LADE_ENTRY_HARDLINK ? lade_tree_lookup(w->tree, link) : NULL;
	if (target && target->type == LADE_ENTRY_DIR)
		return lade_error_set(err, 0,
		                      "base %s: layer %s entry '%s': hard link to the directory "
		                      "'%s'",
		                      base_name, digest, raw, hl);
	if (lade_hashmap_put(w->seen, p, (void *)1) != NULL)
		return lade_error_set(err, 0,
		                      "base %s: layer %s entry '%s': duplicate path in the layer",
		                      base_name, digest, raw);
	la_int64_t size = archive_entry_size(e);
	if (lade_tree_apply(w->tree, p, type, (uint32_t)archive_entry_perm(e) & 07777,
	                    (uint32_t)archive_entry_uid(e), (uint32_t)archive_entry_gid(e),
	                    size > 0 ? (uint64_t)size : 0, link, err) < 0)
		return lade_error_prefix(err, "base %s: layer %s", base_name, digest);
	return keep_entry(w, a, e, p, type, err);
}

/* How a base layer is read: verified against its digest and diff_id in the same read; the
 * compression detected from the bytes and bytes after the last gzip member ignored, as
 * libarchive's filters did when base layers were read through them. */
void lade_base_layer_read_init(const struct lade_base_layer *l, const char *path, const char *name,
                               struct lade_layer_read *r)
{
	enum lade_compression comp = LADE_COMPRESS_NONE;
	if (lade_compression_from_media_type(l->desc.media_type, &comp) < 0)
		comp = LADE_COMPRESS_NONE;
	*r = (struct lade_layer_read){
	        .path = path,
	        .name = name,
	        .digest = l->desc.digest,
	        .size = l->desc.size,
	        .compression = comp,
	        .decompress_flags = LADE_DECOMPRESS_DETECT | LADE_DECOMPRESS_ZERO_PADDING,
	        .diff_id = l->diff_id,
	};
}

int lade_base_read_tree(const struct lade_base_image *b, struct lade_store *store,
                        struct lade_tree *tree, struct lade_error **err)
{
	return lade_base_read_tree_keep(b, store, tree, NULL, err);
}

int lade_base_read_tree_keep(const struct lade_base_image *b, struct lade_store *store,
                             struct lade_tree *tree, struct lade_base_keep *keep,
                             struct lade_error **err)
{
	for (size_t i = 0; i < b->n_layers; i++) {
		const struct lade_base_layer *l = &b->layers[i];
		_cleanup_free_ char *path = lade_store_blob_path(store, l->desc.digest);
		_cleanup_free_ char *name = xasprintf("base %s: layer %s", b->name, l->desc.digest);
		_cleanup_(hashmap_freep) struct lade_hashmap *seen = lade_hashmap_new();
		struct walk w = {b->name, l->desc.digest, tree, seen, keep};
		struct lade_layer_read r;
		lade_base_layer_read_init(l, path, name, &r);
		r.entry = walk_entry;
		r.ctx = &w;
		lade_tree_layer_begin(tree);
		if (lade_layer_read(&r, NULL, err) < 0)
			return -1;
	}
	return 0;
}
