/* lade — `lade inspect` (see include/lade/inspect.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imagefs.h"
#include "lade/inspect.h"
#include "lade/util.h"

/* --- inspect ------------------------------------------------------------------------ */

static int cmp_top(const void *a, const void *b)
{
	const struct lade_tree_node *x = *(const struct lade_tree_node *const *)a;
	const struct lade_tree_node *y = *(const struct lade_tree_node *const *)b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return lade_path_compare(x->path, y->path);
}

static json_t *top_files(const struct imagefs *f, const char **paths, size_t n, size_t top)
{
	_cleanup_free_ const struct lade_tree_node **nodes = xcalloc(n + 1, sizeof(*nodes));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct lade_tree_node *nd = lade_tree_lookup(f->tree, paths[i]);
		if (nd && nd->type == LADE_ENTRY_FILE)
			nodes[k++] = nd;
	}
	qsort(nodes, k, sizeof(*nodes), cmp_top);
	json_t *arr = json_array();
	for (size_t i = 0; i < k && i < top; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I}", "path", nodes[i]->path, "size",
		                                     (json_int_t)nodes[i]->size));
	return arr;
}

/* One CSV field of a RECORD line (Python's csv module: "..." with "" for a quote). */
/* History entries that made a layer, in layer order (empty_layer ones skipped). */
static const json_t *history_for(const json_t *config, size_t layer)
{
	const json_t *h;
	size_t i, k = 0;
	json_array_foreach(json_object_get(config, "history"), i, h)
	{
		if (json_is_true(json_object_get(h, "empty_layer")))
			continue;
		if (k++ == layer)
			return h;
	}
	return NULL;
}

static int inspect_img(const struct lade_images *s, const struct lade_image *im,
                       const struct lade_inspect_options *o, struct lade_hashmap *seen,
                       json_t **out, struct lade_error **err)
{
	_cleanup_(json_decrefp) json_t *j = json_object();
	imagefs_set_str(j, "ref", im->ref);
	imagefs_set_str(j, "digest", im->digest);
	if (im->digest)
		imagefs_set_size(j, "manifest_size", im->manifest_size);
	imagefs_set_str(j, "platform", im->platform);
	json_object_set_new(j, "config",
	                    json_pack("{s:s, s:I}", "digest", im->config_blob.digest, "size",
	                              (json_int_t)im->config_blob.size));
	imagefs_set_str(j, "created", json_string_value(json_object_get(im->config, "created")));
	const json_t *cc = json_object_get(im->config, "config");
	if (json_is_array(json_object_get(cc, "Entrypoint")))
		json_object_set(j, "entrypoint", json_object_get(cc, "Entrypoint"));
	if (json_is_array(json_object_get(cc, "Cmd")))
		json_object_set(j, "cmd", json_object_get(cc, "Cmd"));

	_cleanup_free_ struct imagefs_layer *res = xcalloc(im->n_layers + 1, sizeof(*res));
	struct imagefs f;
	imagefs_init(&f);
	f.records = o->by_package || o->treemap;
	bool need_fs = o->top || o->by_package || o->treemap;
	int r = o->layers ? imagefs_stream(s, im, need_fs ? &f : NULL, seen, res, err) : 0;
	if (r < 0) {
		imagefs_release(&f);
		return -1;
	}
	const json_t *diff_ids = json_object_get(json_object_get(im->config, "rootfs"), "diff_ids");
	json_t *layers = json_array();
	uint64_t lsize = 0, usize = 0;
	for (size_t i = 0; i < im->n_layers; i++) {
		const struct lade_image_blob *b = &im->layers[i];
		json_t *l = json_object();
		imagefs_set_str(l, "digest", b->digest);
		imagefs_set_str(l, "media_type", b->media_type);
		imagefs_set_size(l, "size", b->size);
		imagefs_set_str(l, "diff_id", json_string_value(json_array_get(diff_ids, i)));
		if (o->layers) {
			imagefs_set_size(l, "uncompressed_size", res[i].tar_size);
			imagefs_set_size(l, "entries", res[i].entries);
			usize += res[i].tar_size;
		}
		const json_t *h = history_for(im->config, i);
		imagefs_set_str(l, "created_by",
		                json_string_value(json_object_get(h, "created_by")));
		imagefs_set_str(l, "comment", json_string_value(json_object_get(h, "comment")));
		lsize += b->size;
		json_array_append_new(layers, l);
	}
	json_object_set_new(j, "layers", layers);
	imagefs_set_size(j, "layers_size", lsize);
	imagefs_set_size(j, "size",
	                 lsize + im->config_blob.size + (im->digest ? im->manifest_size : 0));
	if (o->layers)
		imagefs_set_size(j, "uncompressed_size", usize);
	if (o->layers && need_fs) {
		size_t n;
		_cleanup_free_ const char **paths = imagefs_paths(&f, &n);
		if (o->top)
			json_object_set_new(j, "top", top_files(&f, paths, n, o->top));
		if (o->by_package)
			json_object_set_new(j, "packages", imagefs_packages(&f, paths, n));
		if (o->treemap)
			json_object_set_new(j, "treemap", imagefs_treemap(&f, paths, n, layers));
	}
	imagefs_release(&f);
	*out = steal_pointer(&j);
	return 0;
}

struct blob_use {
	uint64_t size;
	size_t users;
	size_t last_user; /* image index + 1 that counted it last */
};

static void count_use(struct lade_hashmap *m, const char *digest, uint64_t size, size_t user)
{
	if (digest == NULL)
		return;
	struct blob_use *u = lade_hashmap_get(m, digest);
	if (u == NULL) {
		u = xzalloc(sizeof(*u));
		u->size = size;
		lade_hashmap_put(m, digest, u);
	}
	if (u->last_user != user + 1) {
		u->users++;
		u->last_user = user + 1;
	}
}

static uint64_t img_bytes(const struct lade_hashmap *m, const struct lade_image *im, bool shared)
{
	uint64_t sum = 0;
	struct lade_hashmap *once = lade_hashmap_new();
	for (size_t i = 0; i < im->n_layers + 2; i++) {
		const char *d = i == 0   ? im->digest
		                : i == 1 ? im->config_blob.digest
		                         : im->layers[i - 2].digest;
		if (d == NULL || lade_hashmap_get(once, d))
			continue;
		lade_hashmap_put(once, d, (void *)1);
		const struct blob_use *u = lade_hashmap_get(m, d);
		if (u && (u->users > 1) == shared)
			sum += u->size;
	}
	lade_hashmap_free(once, NULL);
	return sum;
}

int lade_inspect(const char *image, const struct lade_inspect_options *o, json_t **out,
                 struct lade_error **err)
{
	struct lade_inspect_options dflt = {.layers = true};
	if (o == NULL)
		o = &dflt;
	if (!o->layers && (o->top || o->by_package || o->treemap))
		return lade_error_set(err, 0, "%s: the largest files and packages need the layers",
		                      image);
	_cleanup_(lade_images_freep) struct lade_images *s = NULL;
	if (lade_images_open(image, &s, err) < 0)
		return -1;
	struct lade_hashmap *uses = lade_hashmap_new();
	for (size_t i = 0; i < s->n_imgs; i++) {
		const struct lade_image *im = &s->imgs[i];
		count_use(uses, im->digest, im->manifest_size, i);
		count_use(uses, im->config_blob.digest, im->config_blob.size, i);
		for (size_t k = 0; k < im->n_layers; k++)
			count_use(uses, im->layers[k].digest, im->layers[k].size, i);
	}
	_cleanup_(json_decrefp) json_t *imgs = json_array();
	struct lade_hashmap *seen = lade_hashmap_new();
	int r = 0;
	for (size_t i = 0; i < s->n_imgs && r == 0; i++) {
		json_t *j;
		r = inspect_img(s, &s->imgs[i], o, seen, &j, err);
		if (r == 0) {
			imagefs_set_size(j, "unique_bytes", img_bytes(uses, &s->imgs[i], false));
			imagefs_set_size(j, "shared_bytes", img_bytes(uses, &s->imgs[i], true));
			json_array_append_new(imgs, j);
		}
	}
	uint64_t total = 0, shared = 0;
	size_t pos = 0;
	const char *key;
	void *val;
	while (lade_hashmap_next(uses, &pos, &key, &val)) {
		const struct blob_use *u = val;
		total += u->size;
		if (u->users > 1)
			shared += u->size;
	}
	lade_hashmap_free(uses, free);
	lade_hashmap_free(seen, free);
	if (r < 0)
		return -1;
	*out = json_pack("{s:s, s:O, s:I, s:I}", "image", image, "images", imgs, "total_bytes",
	                 (json_int_t)total, "shared_bytes", (json_int_t)shared);
	return 0;
}
