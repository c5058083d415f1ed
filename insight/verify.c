/* lade — `lade verify`: check an OCI image layout and list its problems (include/lade/verify.h).
 *
 * JSON documents and descriptors are read by oci.c's rules (the same as lade build and lade
 * inspect: a key twice is a problem), layers by the one layer reader (layerread.c): one read of
 * the blob gives its digest, the diff_id and every tar header. Decompression follows the media
 * type, never sniffed: a gzip media type on a zstd blob is reported, and so are bytes after the
 * last gzip member. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/compress.h"
#include "lade/image.h"
#include "lade/digest.h"
#include "lade/hashmap.h"
#include "lade/layerread.h"
#include "lade/lazy.h"
#include "lade/oci.h"
#include "lade/tree.h"
#include "lade/verify.h"

#define CHUNK (1u << 20)

/* What is known about one blob, shared by every descriptor that names it. */
struct blob_info {
	bool present;  /* a regular file */
	bool unusable; /* there but no regular file (reported once) */
	uint64_t size;
	bool hashed; /* digest_ok is known */
	bool digest_ok;
	bool visited;      /* manifest/index content already checked */
	bool layer_done;   /* layer content already checked */
	bool have_diff_id; /* the whole stream decompressed */
	char diff_id[LADE_DIGEST_STRLEN];
	uint64_t tar_size; /* with have_diff_id */
	bool estargz_done; /* its eStargz TOC already checked */
};

struct verifier {
	int dfd;
	const char *dir;
	size_t max;
	bool check_layers;
	const char *ref;
	struct lade_buf *out;
	size_t n;
	struct lade_hashmap *blobs; /* digest -> struct blob_info */
};

struct desc {
	const char *media_type; /* NULL when missing (already reported) */
	const char *digest;     /* valid */
	uint64_t size;
	bool size_ok;
};

static void problem(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct verifier *v, const char *fmt, ...)
{
	v->n++;
	if (v->n > v->max)
		return;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(v->out, fmt, ap);
	va_end(ap);
	lade_buf_addch(v->out, '\n');
}

static char *blob_path(const char *digest)
{
	return xasprintf("blobs/sha256/%s", lade_digest_hex(digest));
}

/* Read a regular file of the layout (relative to dfd) of at most max bytes; -1 with *err
 * set (sys_errno ENOENT when missing, EFBIG when larger). */
static int read_at(int dfd, const char *name, size_t max, struct lade_buf *out,
                   struct lade_error **err)
{
	_cleanup_fd_ int fd = -1;
	if (lade_open_regular_at(dfd, name, name, 0, &fd, err) < 0)
		return -1;
	for (;;) {
		lade_buf_grow(out, 65536);
		ssize_t r = lade_read_retry(fd, out->data + out->len, out->alloc - out->len - 1);
		if (r < 0)
			return lade_error_set(err, errno, "cannot read %s", name);
		if (r == 0)
			break;
		out->len += (size_t)r;
		out->data[out->len] = '\0';
		if (out->len > max)
			return lade_error_set(err, EFBIG, "%s is larger than %zu bytes", name, max);
	}
	return 0;
}

/* The one JSON rule of every image reader (duplicate keys refused, 16 MiB). */
static json_t *parse_json(struct verifier *v, const char *name, const struct lade_buf *b)
{
	_cleanup_error_ struct lade_error *e = NULL;
	json_t *j;
	if (lade_oci_json_parse(b->data, b->len, name, &j, &e) < 0) {
		problem(v, "%s", e->msg);
		return NULL;
	}
	return j;
}

/* --- descriptors and blobs ------------------------------------------------------------ */

static bool parse_descriptor(struct verifier *v, const char *where, const json_t *j, struct desc *d)
{
	*d = (struct desc){0};
	struct lade_oci_descriptor od;
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_oci_descriptor_parse(j, where, &od, &e) < 0) {
		problem(v, "%s", e->msg);
		return false;
	}
	d->media_type = od.media_type;
	d->digest = od.digest;
	d->size = od.size;
	d->size_ok = true;
	return true;
}

static void blob_mismatch(struct verifier *v, const char *digest, const char *got)
{
	problem(v, "blob %s: digest mismatch (expected %s, got %s)", digest, digest, got);
}

/* Hash a whole blob that is neither JSON nor a layer we decompress. */
static void hash_blob(struct verifier *v, const char *digest, struct blob_info *info)
{
	info->hashed = true;
	_cleanup_free_ char *path = blob_path(digest);
	_cleanup_fd_ int fd = -1;
	_cleanup_error_ struct lade_error *oerr = NULL;
	if (lade_open_regular_at(v->dfd, path, path, 0, &fd, &oerr) < 0) {
		problem(v, "blob %s: %s", digest, oerr->msg);
		return;
	}
	_cleanup_free_ char *buf = xmalloc(CHUNK);
	_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = lade_sha256_new();
	for (;;) {
		ssize_t r = lade_read_retry(fd, buf, CHUNK);
		if (r < 0) {
			problem(v, "blob %s: cannot read: %s", digest, strerror(errno));
			return;
		}
		if (r == 0)
			break;
		lade_sha256_update(sha, buf, (size_t)r);
	}
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_final(sha, NULL, got);
	info->digest_ok = strcmp(got, digest) == 0;
	if (!info->digest_ok)
		blob_mismatch(v, digest, got);
}

/* The blob a descriptor names: present, a regular file, the size the descriptor says. With
 * `hash`, also its sha256 (each blob is hashed once). Returns NULL when there is no blob. */
static struct blob_info *check_blob(struct verifier *v, const char *where, const struct desc *d,
                                    bool hash)
{
	struct blob_info *info = lade_hashmap_get(v->blobs, d->digest);
	if (info == NULL) {
		info = xzalloc(sizeof(*info));
		lade_hashmap_put(v->blobs, d->digest, info);
		_cleanup_free_ char *path = blob_path(d->digest);
		struct stat st;
		int r = fstatat(v->dfd, path, &st, 0);
		if (r == 0 && S_ISREG(st.st_mode)) {
			info->present = true;
			info->size = (uint64_t)st.st_size;
		} else if (r == 0) {
			/* there but unusable: say what it is (a FIFO, a directory), not "missing"
			 */
			info->unusable = true;
			problem(v, "%s: blob %s: %s is %s, not a regular file", where, d->digest,
			        path, lade_file_kind(st.st_mode));
		}
	}
	if (info->unusable)
		return NULL;
	if (!info->present) {
		problem(v, "%s: blob %s is missing", where, d->digest);
		return NULL;
	}
	if (d->size_ok && d->size != info->size)
		problem(v, "%s.size %llu but blob is %llu bytes", where,
		        (unsigned long long)d->size, (unsigned long long)info->size);
	if (hash && !info->hashed)
		hash_blob(v, d->digest, info);
	return info;
}

/* Read, hash and parse a JSON blob (manifest, index, config). NULL when it is unusable; the
 * reason has been reported (once per blob). */
static json_t *load_json_blob(struct verifier *v, const char *where, const struct desc *d,
                              struct blob_info *info)
{
	if (info->hashed && !info->digest_ok)
		return NULL;
	if (info->size > LADE_OCI_JSON_MAX) {
		problem(v, "%s: blob %s is too large for a JSON document (%llu bytes)", where,
		        d->digest, (unsigned long long)info->size);
		return NULL;
	}
	_cleanup_free_ char *path = blob_path(d->digest);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *rerr = NULL;
	if (read_at(v->dfd, path, LADE_OCI_JSON_MAX, &b, &rerr) < 0) {
		problem(v, "blob %s: %s", d->digest, rerr->msg);
		info->hashed = true;
		return NULL;
	}
	if (!info->hashed) {
		char got[LADE_DIGEST_STRLEN];
		lade_sha256_buf(b.data, b.len, got);
		info->hashed = true;
		info->digest_ok = strcmp(got, d->digest) == 0;
		if (!info->digest_ok) {
			blob_mismatch(v, d->digest, got);
			return NULL;
		}
	}
	/* Named as every reader of images names it ("blob D: invalid JSON ..."). */
	_cleanup_free_ char *blob_name = xasprintf("blob %s", d->digest);
	return parse_json(v, blob_name, &b);
}

static bool schema_version_2(const json_t *j)
{
	const json_t *sv = json_object_get(j, "schemaVersion");
	return json_is_integer(sv) && json_integer_value(sv) == 2;
}

/* A document's own mediaType member is optional; when present it must be one of `allowed`
 * (NULL-terminated) and agree with the descriptor that led here. */
static void check_doc_media_type(struct verifier *v, const char *name, const json_t *j,
                                 const char *desc_mt, const char *const *allowed, const char *what)
{
	const json_t *mt = json_object_get(j, "mediaType");
	if (mt == NULL)
		return;
	if (!json_is_string(mt)) {
		problem(v, "%s: mediaType is not a string", name);
		return;
	}
	const char *s = json_string_value(mt);
	bool known = false;
	for (size_t i = 0; allowed[i]; i++)
		known = known || strcmp(s, allowed[i]) == 0;
	_cleanup_free_ char *q = lade_oci_quote(s);
	if (!known)
		problem(v, "%s: mediaType '%s' is not %s", name, q, what);
	else if (desc_mt && strcmp(desc_mt, s) != 0) {
		_cleanup_free_ char *qd = lade_oci_quote(desc_mt);
		problem(v, "%s: mediaType '%s' but its descriptor says '%s'", name, q, qd);
	}
}

/* --- layers -------------------------------------------------------------------------- */

/* Problems found inside one layer, committed only when the blob's digest matches (a corrupt
 * blob is one problem, not a cascade). */
struct layer_check {
	char *name; /* "layer N (sha256:...)" */
	char **lines;
	size_t n_lines, n;
	size_t max;
	struct lade_hashmap *paths; /* normalised path -> PATH_FILE or PATH_DIR */
	struct lade_tree *tree;     /* the layer's entries, for writes through symlinks */
};
#define PATH_FILE ((void *)1)
#define PATH_DIR  ((void *)2)

static void lprob(struct layer_check *lc, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void lprob(struct layer_check *lc, const char *fmt, ...)
{
	lc->n++;
	if (lc->n_lines >= lc->max)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	_cleanup_free_ char *line = xasprintf("%s: %s", lc->name, msg);
	lade_strv_push(&lc->lines, line);
	lc->n_lines++;
}

/* Normalise a tar path for comparisons: drop empty and "." components (so "./a/", "a" and
 * "a//" are one path). *dotdot is set when a ".." component appears, *escapes when the path
 * climbs above the root lexically. */
static char *tar_path_normalize(const char *p, bool *dotdot, bool *escapes)
{
	struct lade_buf b = LADE_BUF_INIT;
	long depth = 0;
	*dotdot = *escapes = false;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			*dotdot = true;
			if (--depth < 0)
				*escapes = true;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (b.len)
				lade_buf_addch(&b, '/');
			lade_buf_add(&b, p, len);
		}
		p = *end ? end + 1 : end;
	}
	return lade_buf_detach(&b, NULL);
}

/* The rule of base layers (manifest/base.c), within the layer: symlink targets resolve inside
 * the image root (absolute ones from the root, as containerd does), and an entry written
 * through a symlink whose target climbs above the root with ".." is a problem. */
static void check_symlinks(struct layer_check *lc, struct archive_entry *e, const char *norm,
                           const char *q)
{
	if (norm[0] == '\0')
		return;
	_cleanup_free_ char *dir = lade_path_dirname(norm);
	_cleanup_free_ char *resolved = NULL, *via = NULL;
	_cleanup_error_ struct lade_error *loop = NULL;
	lade_tree_resolve_escape(lc->tree, dir, true, &resolved, &via, &loop);
	if (via) {
		_cleanup_free_ char *qv = lade_oci_quote(via);
		lprob(lc,
		      "entry '%s' is written through the symlink '%s', whose target escapes "
		      "the root",
		      q, qv);
		return;
	}
	const char *link = NULL;
	enum lade_entry_type type = lade_tar_entry_type(e, &link);
	if (type == LADE_ENTRY_HARDLINK)
		return; /* checked above; no new name to resolve through */
	_cleanup_error_ struct lade_error *aerr = NULL;
	lade_tree_apply(lc->tree, norm, type, 0644, 0, 0, 0, link, &aerr);
}

static void check_entry(struct layer_check *lc, struct archive_entry *e)
{
	const char *path = archive_entry_pathname(e);
	if (path == NULL) {
		lprob(lc, "entry without a readable path");
		return;
	}
	_cleanup_free_ char *q = lade_oci_quote(path);
	bool dotdot, escapes;
	_cleanup_free_ char *norm = tar_path_normalize(path, &dotdot, &escapes);
	if (path[0] == '/')
		lprob(lc, "entry '%s' is an absolute path", q);
	else if (escapes)
		lprob(lc, "entry '%s' escapes the root", q);
	else if (dotdot)
		lprob(lc, "entry '%s' has a '..' component", q);

	const char *base = strrchr(norm, '/');
	base = base ? base + 1 : norm;
	if (strcmp(base, ".wh.") == 0)
		lprob(lc, "whiteout '%s' has an empty name", q);

	const char *target = archive_entry_hardlink(e);
	if (target) {
		bool tdotdot, tescapes;
		_cleanup_free_ char *tnorm = tar_path_normalize(target, &tdotdot, &tescapes);
		void *kind = lade_hashmap_get(lc->paths, tnorm);
		_cleanup_free_ char *qt = lade_oci_quote(target);
		if (kind == NULL)
			lprob(lc,
			      "hard link '%s' points to '%s', which is not earlier in the layer", q,
			      qt);
		else if (kind == PATH_DIR)
			lprob(lc, "hard link '%s' points to the directory '%s'", q, qt);
	}

	bool is_dir = !target && archive_entry_filetype(e) == AE_IFDIR;
	if (lade_hashmap_put(lc->paths, norm, is_dir ? PATH_DIR : PATH_FILE) != NULL)
		lprob(lc, "duplicate path '%s'", q);
	if (path[0] != '/' && !dotdot)
		check_symlinks(lc, e, norm, q);
}

static int check_entry_cb(void *ctx, struct archive *a, struct archive_entry *e,
                          struct lade_error **err)
{
	(void)a;
	(void)err;
	check_entry(ctx, e);
	return 0;
}

/* One pass over a layer blob (the one layer reader): blob digest, diff_id and the tar rules.
 * By media type, not sniffed: a zstd blob labelled gzip is a problem, and so is anything but
 * zero padding after the last gzip member or after the tar's end-of-archive. */
static void scan_layer(struct verifier *v, size_t number, const struct desc *d,
                       struct blob_info *info, enum lade_compression comp)
{
	info->layer_done = true;
	if (info->hashed && !info->digest_ok)
		return;
	struct layer_check lc = {
	        .name = xasprintf("layer %zu (%s)", number, d->digest),
	        .max = v->max,
	        .paths = lade_hashmap_new(),
	        .tree = lade_tree_new(),
	};
	_cleanup_free_ char *path = lade_oci_blob_path(v->dir, d->digest);
	struct lade_layer_read r = {
	        .path = path,
	        .size = d->size,
	        .compression = comp,
	        .decompress_flags = LADE_DECOMPRESS_ZERO_PADDING, /* as for base layers (base.c) */
	        .entry = check_entry_cb,
	        .ctx = &lc,
	};
	struct lade_layer_stats st;
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_layer_read(&r, &st, &e) < 0)
		lprob(&lc, "%s", e->msg);

	if (!info->hashed && st.complete) {
		info->hashed = true;
		info->digest_ok = strcmp(st.blob_digest, d->digest) == 0;
		if (!info->digest_ok)
			blob_mismatch(v, d->digest, st.blob_digest);
	}
	if (info->digest_ok || !st.complete) {
		for (size_t i = 0; i < lc.n_lines; i++) {
			v->n++;
			if (v->n <= v->max) {
				lade_buf_adds(v->out, lc.lines[i]);
				lade_buf_addch(v->out, '\n');
			}
		}
		v->n += lc.n - lc.n_lines;
	}
	if (info->digest_ok && st.diff_id[0]) {
		memcpy(info->diff_id, st.diff_id, sizeof(info->diff_id));
		info->have_diff_id = true;
		info->tar_size = st.tar_size;
	}
	free(lc.name);
	lade_strv_free(lc.lines);
	lade_hashmap_free(lc.paths, NULL);
	lade_tree_free(lc.tree);
}

/* A layer whose descriptor carries eStargz's toc.digest: its TOC against its content (every
 * chunk where the TOC says it is), and the uncompressed-size annotation against the tar; or
 * zstd:chunked's manifest checksum: its manifest against its content likewise. */
static void check_estargz(struct verifier *v, size_t number, const struct desc *d, const json_t *jd,
                          struct blob_info *info)
{
	const json_t *ann = json_object_get(jd, "annotations");
	const char *toc =
	        json_string_value(json_object_get(ann, LADE_ESTARGZ_ANNOTATION_TOC_DIGEST));
	const char *usize =
	        json_string_value(json_object_get(ann, LADE_ESTARGZ_ANNOTATION_UNCOMPRESSED_SIZE));
	const char *zsum =
	        json_string_value(json_object_get(ann, LADE_ZSTD_CHUNKED_ANNOTATION_CHECKSUM));
	if ((toc == NULL && zsum == NULL) || info->estargz_done || !info->digest_ok)
		return;
	if (toc == NULL) {
		info->estargz_done = true;
		_cleanup_free_ char *zpath = lade_oci_blob_path(v->dir, d->digest);
		_cleanup_error_ struct lade_error *ze = NULL;
		const char *pos = json_string_value(
		        json_object_get(ann, LADE_ZSTD_CHUNKED_ANNOTATION_POSITION));
		if (lade_zstd_chunked_check(zpath, zsum, pos, NULL, &ze) < 0)
			problem(v, "layer %zu (%s): %s", number, d->digest, ze->msg);
		return;
	}
	info->estargz_done = true;
	if (!lade_digest_valid(toc)) {
		_cleanup_free_ char *q = lade_oci_quote(toc);
		problem(v, "layer %zu (%s): annotation %s '%s' is not a digest", number, d->digest,
		        LADE_ESTARGZ_ANNOTATION_TOC_DIGEST, q);
		return;
	}
	_cleanup_free_ char *path = lade_oci_blob_path(v->dir, d->digest);
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_estargz_check(path, toc, NULL, &e) < 0)
		problem(v, "layer %zu (%s): %s", number, d->digest, e->msg);
	_cleanup_free_ char *want =
	        info->have_diff_id ? xasprintf("%" PRIu64, info->tar_size) : NULL;
	if (usize && want && strcmp(usize, want) != 0) {
		_cleanup_free_ char *q = lade_oci_quote(usize);
		problem(v, "layer %zu (%s): annotation %s is '%s', the tar has %s bytes", number,
		        d->digest, LADE_ESTARGZ_ANNOTATION_UNCOMPRESSED_SIZE, q, want);
	}
}

/* --- manifests, configs, indexes ------------------------------------------------------ */

static size_t count_history_layers(const json_t *history)
{
	size_t n = 0, i;
	const json_t *h;
	json_array_foreach(history, i, h)
	{
		if (!json_is_true(json_object_get(h, "empty_layer")))
			n++;
	}
	return n;
}

/* Check a config against the manifest that names it; returns its diff_ids array (borrowed
 * from cfg) or NULL. */
static const json_t *check_config(struct verifier *v, const char *name, const json_t *cfg,
                                  const char *manifest_name, size_t n_layers)
{
	static const char *const required[] = {"architecture", "os"};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(required); i++) {
		const json_t *s = json_object_get(cfg, required[i]);
		if (!json_is_string(s) || json_string_length(s) == 0)
			problem(v, "%s: %s is missing or not a string", name, required[i]);
	}

	const json_t *history = json_object_get(cfg, "history");
	if (history && !json_is_array(history)) {
		problem(v, "%s: history is not an array", name);
	} else if (history) {
		size_t nh = count_history_layers(history);
		if (nh != n_layers)
			problem(v, "%s: history has %zu non-empty layers but %s has %zu layers",
			        name, nh, manifest_name, n_layers);
	}

	const json_t *rootfs = json_object_get(cfg, "rootfs");
	if (!json_is_object(rootfs)) {
		problem(v, "%s: rootfs is missing or not an object", name);
		return NULL;
	}
	const json_t *type = json_object_get(rootfs, "type");
	if (!json_is_string(type) || strcmp(json_string_value(type), "layers") != 0)
		problem(v, "%s: rootfs.type is not 'layers'", name);
	const json_t *diff_ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(diff_ids)) {
		problem(v, "%s: rootfs.diff_ids is missing or not an array", name);
		return NULL;
	}
	if (json_array_size(diff_ids) != n_layers)
		problem(v, "%s: %zu diff_ids but %s has %zu layers", name,
		        json_array_size(diff_ids), manifest_name, n_layers);
	size_t i;
	const json_t *id;
	json_array_foreach(diff_ids, i, id)
	{
		if (!json_is_string(id) || !lade_digest_valid(json_string_value(id))) {
			_cleanup_free_ char *q = lade_oci_quote(
			        json_is_string(id) ? json_string_value(id) : "(not a string)");
			problem(v, "%s: rootfs.diff_ids[%zu] '%s' is not a valid sha256 digest",
			        name, i, q);
		}
	}
	return diff_ids;
}

static void check_manifest(struct verifier *v, const char *where, const struct desc *md,
                           struct blob_info *minfo)
{
	_cleanup_free_ char *name = xasprintf("manifest %s", md->digest);
	_cleanup_(json_decrefp) json_t *m = load_json_blob(v, where, md, minfo);
	if (m == NULL)
		return;
	if (!schema_version_2(m))
		problem(v, "%s: schemaVersion is not 2", name);
	static const char *const manifest_types[] = {LADE_MT_OCI_MANIFEST, LADE_MT_DOCKER_MANIFEST,
	                                             NULL};
	check_doc_media_type(v, name, m, md->media_type, manifest_types, "an image manifest");

	/* The config. */
	_cleanup_(json_decrefp) json_t *cfg = NULL;
	_cleanup_free_ char *cfg_name = NULL;
	_cleanup_free_ char *cfg_where = xasprintf("%s: config", name);
	struct desc cd;
	const json_t *jc = json_object_get(m, "config");
	/* An artifact (OCI 1.1: a manifest with a subject whose config is not an image config,
	 * such as the SBOMs lade attaches): its blobs are checked, not as image parts. */
	bool artifact = false;
	if (jc == NULL) {
		problem(v, "%s: config is missing", name);
	} else if (parse_descriptor(v, cfg_where, jc, &cd)) {
		bool image_config = !cd.media_type ||
		                    strcmp(cd.media_type, LADE_MT_OCI_CONFIG) == 0 ||
		                    strcmp(cd.media_type, LADE_MT_DOCKER_CONFIG) == 0;
		artifact = !image_config && json_is_object(json_object_get(m, "subject"));
		if (!image_config && !artifact) {
			_cleanup_free_ char *q = lade_oci_quote(cd.media_type);
			problem(v, "%s.mediaType '%s' is not an image config media type", cfg_where,
			        q);
		}
		struct blob_info *ci = check_blob(v, cfg_where, &cd, artifact);
		cfg_name = xasprintf("config %s", cd.digest);
		if (ci && !artifact)
			cfg = load_json_blob(v, cfg_where, &cd, ci);
	}

	/* The layers: descriptors and blobs first, contents once the config is known. */
	const json_t *jl = json_object_get(m, "layers");
	if (!json_is_array(jl)) {
		problem(v, "%s: layers is missing or not an array", name);
		return;
	}
	size_t n_layers = json_array_size(jl);
	_cleanup_free_ struct desc *lds = xcalloc(n_layers ? n_layers : 1, sizeof(*lds));
	_cleanup_free_ struct blob_info **infos = xcalloc(n_layers ? n_layers : 1, sizeof(*infos));
	_cleanup_free_ enum lade_compression *comps =
	        xcalloc(n_layers ? n_layers : 1, sizeof(*comps));
	_cleanup_free_ bool *known = xcalloc(n_layers ? n_layers : 1, sizeof(*known));
	for (size_t i = 0; i < n_layers; i++) {
		_cleanup_free_ char *lw = xasprintf("%s: layers[%zu]", name, i);
		if (!parse_descriptor(v, lw, json_array_get(jl, i), &lds[i]))
			continue;
		known[i] = !artifact &&
		           lade_compression_from_media_type(lds[i].media_type, &comps[i]) == 0;
		if (!known[i] && !artifact && lds[i].media_type) {
			_cleanup_free_ char *q = lade_oci_quote(lds[i].media_type);
			problem(v, "%s.mediaType '%s' is not a layer media type", lw, q);
		}
		bool scan = v->check_layers && known[i];
		infos[i] = check_blob(v, lw, &lds[i], !scan);
	}

	const json_t *diff_ids = NULL;
	if (cfg)
		diff_ids = check_config(v, cfg_name, cfg, name, n_layers);
	if (!v->check_layers)
		return;
	for (size_t i = 0; i < n_layers; i++) {
		struct blob_info *info = infos[i];
		if (info == NULL || !known[i])
			continue;
		if (!info->layer_done)
			scan_layer(v, i + 1, &lds[i], info, comps[i]);
		const char *want = json_string_value(json_array_get(diff_ids, i));
		if (info->have_diff_id && lade_digest_valid(want) &&
		    strcmp(want, info->diff_id) != 0)
			problem(v, "layer %zu (%s): diff_id mismatch: config says %s, tar is %s",
			        i + 1, lds[i].digest, want, info->diff_id);
		if (comps[i] != LADE_COMPRESS_NONE)
			check_estargz(v, i + 1, &lds[i], json_array_get(jl, i), info);
	}
}

static void check_index(struct verifier *v, const char *name, const json_t *j, const char *desc_mt,
                        int depth);

/* Follow one descriptor of an index. */
static void check_entry_descriptor(struct verifier *v, const char *where, const json_t *jd,
                                   int depth)
{
	struct desc d;
	if (!parse_descriptor(v, where, jd, &d))
		return;
	const char *mt = d.media_type ? d.media_type : "";
	bool is_manifest =
	        strcmp(mt, LADE_MT_OCI_MANIFEST) == 0 || strcmp(mt, LADE_MT_DOCKER_MANIFEST) == 0;
	bool is_index = strcmp(mt, LADE_MT_OCI_INDEX) == 0 || strcmp(mt, LADE_MT_DOCKER_LIST) == 0;
	/* Unknown media types (artifacts) are content we cannot judge: only the blob counts. */
	struct blob_info *info = check_blob(v, where, &d, !is_manifest && !is_index);
	if (info == NULL || (!is_manifest && !is_index) || info->visited)
		return;
	info->visited = true;
	if (is_manifest) {
		check_manifest(v, where, &d, info);
		return;
	}
	if (depth >= LADE_OCI_INDEX_DEPTH) {
		problem(v, "%s: indexes nested more than %d deep", where, LADE_OCI_INDEX_DEPTH);
		return;
	}
	_cleanup_free_ char *name = xasprintf("index %s", d.digest);
	_cleanup_(json_decrefp) json_t *sub = load_json_blob(v, where, &d, info);
	if (sub)
		check_index(v, name, sub, d.media_type, depth + 1);
}

static void check_index(struct verifier *v, const char *name, const json_t *j, const char *desc_mt,
                        int depth)
{
	if (!schema_version_2(j))
		problem(v, "%s: schemaVersion is not 2", name);
	static const char *const index_types[] = {LADE_MT_OCI_INDEX, LADE_MT_DOCKER_LIST, NULL};
	check_doc_media_type(v, name, j, desc_mt, index_types, "an image index");
	const json_t *manifests = json_object_get(j, "manifests");
	if (!json_is_array(manifests)) {
		problem(v, "%s: manifests is missing or not an array", name);
		return;
	}
	bool top = depth == 0;
	size_t matched = 0, i;
	const json_t *jd;
	json_array_foreach(manifests, i, jd)
	{
		if (top && v->ref) {
			const json_t *ann = json_object_get(jd, "annotations");
			const char *ref = json_string_value(json_object_get(ann, LADE_REF_NAME));
			if (ref == NULL || strcmp(ref, v->ref) != 0)
				continue;
		}
		matched++;
		_cleanup_free_ char *where = xasprintf("%s: manifests[%zu]", name, i);
		check_entry_descriptor(v, where, jd, depth);
	}
	if (top && v->ref && matched == 0) {
		_cleanup_free_ char *q = lade_oci_quote(v->ref);
		problem(v, "%s: no manifest with ref name '%s'", name, q);
	}
}

/* Read a top-level file of the layout as a JSON object; NULL when unusable (reported). */
static json_t *load_layout_file(struct verifier *v, const char *name)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *rerr = NULL;
	if (read_at(v->dfd, name, LADE_OCI_JSON_MAX, &b, &rerr) < 0) {
		if (rerr->sys_errno == ENOENT)
			problem(v, "%s: missing", name);
		else if (rerr->sys_errno == EFBIG)
			problem(v, "%s: larger than %u bytes", name, LADE_OCI_JSON_MAX);
		else
			problem(v, "%s", rerr->msg);
		return NULL;
	}
	return parse_json(v, name, &b);
}

static void check_oci_layout(struct verifier *v)
{
	_cleanup_(json_decrefp) json_t *j = load_layout_file(v, "oci-layout");
	if (j == NULL)
		return;
	const json_t *ver = json_object_get(j, "imageLayoutVersion");
	if (!json_is_string(ver)) {
		problem(v, "oci-layout: imageLayoutVersion is missing or not a string");
	} else if (strcmp(json_string_value(ver), "1.0.0") != 0) {
		_cleanup_free_ char *q = lade_oci_quote(json_string_value(ver));
		problem(v, "oci-layout: unsupported imageLayoutVersion '%s'", q);
	}
}

void lade_verify_options_init(struct lade_verify_options *o)
{
	*o = (struct lade_verify_options)LADE_VERIFY_OPTIONS_INIT;
}

static void free_blob_info(void *p)
{
	free(p);
}

int lade_verify_layout(const char *dir, const struct lade_verify_options *o,
                       struct lade_buf *problems, size_t *n_problems, struct lade_error **err)
{
	struct lade_verify_options defaults = LADE_VERIFY_OPTIONS_INIT;
	if (o == NULL)
		o = &defaults;
	_cleanup_fd_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return lade_error_set(err, errno, "cannot open layout %s", dir);

	struct verifier v = {
	        .dfd = dfd,
	        .dir = dir,
	        .max = o->max_problems ? o->max_problems : LADE_VERIFY_MAX_PROBLEMS,
	        .check_layers = o->check_layers,
	        .ref = o->ref,
	        .out = problems,
	        .blobs = lade_hashmap_new(),
	};
	check_oci_layout(&v);
	_cleanup_(json_decrefp) json_t *index = load_layout_file(&v, "index.json");
	if (index)
		check_index(&v, "index.json", index, NULL, 0);
	lade_hashmap_free(v.blobs, free_blob_info);
	if (n_problems)
		*n_problems = v.n;
	return 0;
}
