/* lade — an image's layers streamed into its merged file system, for inspect and diff
 * (see imagefs.h). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <stdlib.h>

#include "imagefs.h"
#include "lade/compress.h"
#include "lade/layerread.h"
#include "lade/util.h"

#define CHUNK (256 * 1024)

static void fentry_free(void *p)
{
	struct imagefs_entry *f = p;
	lade_buf_release(&f->record);
	free(f);
}

void imagefs_release(struct imagefs *f)
{
	lade_tree_free(f->tree);
	lade_hashmap_free(f->seen, fentry_free);
}

bool imagefs_is_record(const char *p)
{
	size_t n = strlen(p), k = strlen(DIST_INFO_RECORD);
	return n > k && strcmp(p + n - k, DIST_INFO_RECORD) == 0 && p[n - k - 1] != '/';
}

struct walk {
	struct imagefs *f;
	const char *where;
	unsigned char *buf;
	uint32_t layer;
};

static int fs_entry(void *ctx, struct archive *a, struct archive_entry *e, struct lade_error **err)
{
	struct walk *w = ctx;
	struct imagefs *f = w->f;
	const char *where = w->where;
	unsigned char *buf = w->buf;
	const char *name = archive_entry_pathname(e);
	if (name == NULL)
		return lade_error_set(err, 0, "%s: entry without a name", where);
	if (name[0] == '/')
		return lade_error_set(err, 0, "%s: entry '%s' is an absolute path", where, name);
	_cleanup_error_ struct lade_error *nerr = NULL;
	_cleanup_free_ char *path =
	        lade_tar_name_unsafe(name) ? NULL : lade_path_normalize(name, &nerr);
	if (path == NULL)
		return lade_error_set(err, 0, "%s: entry '%s' escapes the root", where, name);
	if (*path == '\0')
		return 0;
	const char *link = NULL;
	enum lade_entry_type type = lade_tar_entry_type(e, &link);
	_cleanup_free_ char *hl = NULL;
	if (type == LADE_ENTRY_HARDLINK) {
		hl = lade_path_normalize(link, &nerr);
		if (hl == NULL)
			return lade_error_set(err, 0, "%s: hard link '%s' escapes the root", where,
			                      name);
		link = hl;
	}
	uint64_t size = type == LADE_ENTRY_FILE ? (uint64_t)archive_entry_size(e) : 0;
	if (lade_tree_apply(f->tree, path, type, archive_entry_perm(e) & 07777,
	                    (uint32_t)archive_entry_uid(e), (uint32_t)archive_entry_gid(e), size,
	                    link, err) < 0)
		return lade_error_prefix(err, "%s", where);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, ".wh.", 4) == 0)
		return 0;
	struct imagefs_entry *fe = lade_hashmap_get(f->seen, path);
	if (fe == NULL) {
		fe = xzalloc(sizeof(*fe));
		lade_buf_init(&fe->record);
		lade_hashmap_put(f->seen, path, fe);
	}
	fe->sha256[0] = '\0';
	fe->has_record = false;
	fe->layer = w->layer;
	lade_buf_reset(&fe->record);
	if (type != LADE_ENTRY_FILE)
		return 0;
	bool record = f->records && imagefs_is_record(path) && size <= MAX_RECORD;
	if (!f->hash && !record)
		return 0;
	_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = f->hash ? lade_sha256_new() : NULL;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, CHUNK);
		if (n == 0)
			break;
		if (n < 0)
			return lade_error_set(err, 0, "%s: entry '%s': %s", where, name,
			                      archive_error_string(a));
		if (sha)
			lade_sha256_update(sha, buf, (size_t)n);
		if (record)
			lade_buf_add(&fe->record, buf, (size_t)n);
	}
	if (sha)
		lade_sha256_final(sha, NULL, fe->sha256);
	fe->has_record = record;
	return 0;
}

/* One pass over a layer blob (the one layer reader): its digest and size, the tar stream's
 * size and sha256 (diff_id) and, with f, every entry applied to the merged file system. */
static int stream_layer(const struct lade_image_blob *b, const char *where, uint32_t layer,
                        struct imagefs *f, struct imagefs_layer *res, struct lade_error **err)
{
	enum lade_compression comp;
	if (lade_compression_from_media_type(b->media_type, &comp) < 0)
		return lade_error_set(err, 0, "%s: unsupported layer media type '%s'", where,
		                      b->media_type ? b->media_type : "(none)");
	_cleanup_free_ unsigned char *databuf = f ? xmalloc(CHUNK) : NULL;
	struct walk w = {f, where, databuf, layer};
	struct lade_layer_read r = {
	        .path = b->path,
	        .name = where,
	        .digest = b->digest,
	        .size = b->size,
	        .compression = comp,
	        .decompress_flags = LADE_DECOMPRESS_ZERO_PADDING,
	        .entry = f ? fs_entry : NULL,
	        .ctx = &w,
	};
	struct lade_layer_stats st;
	if (f)
		lade_tree_layer_begin(f->tree);
	if (lade_layer_read(&r, &st, err) < 0)
		return -1;
	if (st.blob_size != b->size)
		return lade_error_set(err, 0, "%s: size %" PRIu64 " but blob is %" PRIu64 " bytes",
		                      where, b->size, st.blob_size);
	memcpy(res->diff_id, st.diff_id, sizeof(res->diff_id));
	res->tar_size = st.tar_size;
	res->entries = st.entries;
	return 0;
}

/* Stream every layer of im (into f when not NULL). Without f, a layer already streamed for
 * another image of the layout is taken from `seen` (digest -> struct imagefs_layer, may be
 * NULL): variants share most of their bytes. */
int imagefs_stream(const struct lade_images *s, const struct lade_image *im, struct imagefs *f,
                   struct lade_hashmap *seen, struct imagefs_layer *results,
                   struct lade_error **err)
{
	const json_t *diff_ids = json_object_get(json_object_get(im->config, "rootfs"), "diff_ids");
	if (json_array_size(diff_ids) != im->n_layers)
		return lade_error_set(err, 0, "%s: config %s has %zu diff_ids for %zu layers",
		                      s->name, im->config_blob.digest, json_array_size(diff_ids),
		                      im->n_layers);
	for (size_t i = 0; i < im->n_layers; i++) {
		_cleanup_free_ char *where =
		        xasprintf("%s: layer %zu (%s)", s->name, i + 1, im->layers[i].digest);
		const struct imagefs_layer *done =
		        f == NULL && seen ? lade_hashmap_get(seen, im->layers[i].digest) : NULL;
		if (done) {
			results[i] = *done;
		} else {
			if (stream_layer(&im->layers[i], where, (uint32_t)i, f, &results[i], err) <
			    0)
				return -1;
			if (seen) {
				struct imagefs_layer *copy = xmalloc(sizeof(*copy));
				*copy = results[i];
				free(lade_hashmap_put(seen, im->layers[i].digest, copy));
			}
		}
		const char *want = json_string_value(json_array_get(diff_ids, i));
		if (want == NULL || strcmp(want, results[i].diff_id) != 0)
			return lade_error_set(err, 0,
			                      "%s: diff_id mismatch: config says %s, tar is %s",
			                      where, want ? want : "(none)", results[i].diff_id);
	}
	return 0;
}

void imagefs_init(struct imagefs *f)
{
	memset(f, 0, sizeof(*f));
	f->tree = lade_tree_new();
	f->seen = lade_hashmap_new();
}

static int cmp_path(const void *a, const void *b)
{
	return lade_path_compare(*(char *const *)a, *(char *const *)b);
}

/* The paths of the merged file system, sorted; borrowed from f->seen. */
const char **imagefs_paths(const struct imagefs *f, size_t *n)
{
	size_t pos = 0, k = 0;
	const char *key;
	void *val;
	const char **v = xcalloc(lade_hashmap_size(f->seen) + 1, sizeof(*v));
	while (lade_hashmap_next(f->seen, &pos, &key, &val))
		if (lade_tree_lookup(f->tree, key))
			v[k++] = key;
	qsort(v, k, sizeof(*v), cmp_path);
	*n = k;
	return v;
}

int imagefs_open_one(const char *image, struct lade_images **out, struct lade_error **err)
{
	if (lade_images_open(image, out, err) < 0)
		return -1;
	if ((*out)->n_imgs != 1) {
		_cleanup_buf_ struct lade_buf refs = LADE_BUF_INIT;
		for (size_t i = 0; i < (*out)->n_imgs; i++)
			lade_buf_addf(&refs, "%s%s", i ? ", " : "",
			              (*out)->imgs[i].ref ? (*out)->imgs[i].ref : "(untagged)");
		lade_error_set(err, 0, "%s holds %zu images (%s): name one as IMAGE:TAG", image,
		               (*out)->n_imgs, refs.data);
		lade_images_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
