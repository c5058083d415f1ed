/* lade — `lade diff` (see include/lade/inspect.h). */
#include <stdlib.h>
#include <string.h>

#include "imagefs.h"
#include "lade/inspect.h"
#include "lade/util.h"

/* --- diff --------------------------------------------------------------------------- */

static const char *type_word(enum lade_entry_type t)
{
	switch (t) {
	case LADE_ENTRY_DIR:
		return "dir";
	case LADE_ENTRY_FILE:
		return "file";
	case LADE_ENTRY_SYMLINK:
		return "symlink";
	case LADE_ENTRY_HARDLINK:
		return "hardlink";
	default:
		return "other";
	}
}

static json_t *entry_json(const struct imagefs *f, const char *path)
{
	const struct lade_tree_node *nd = lade_tree_lookup(f->tree, path);
	const struct imagefs_entry *fe = lade_hashmap_get(f->seen, path);
	json_t *e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "path", path, "type",
	                      type_word(nd->type), "mode", (json_int_t)nd->mode, "uid",
	                      (json_int_t)nd->uid, "gid", (json_int_t)nd->gid, "size",
	                      (json_int_t)nd->size);
	if (nd->type == LADE_ENTRY_FILE && fe && fe->sha256[0])
		imagefs_set_str(e, "sha256", fe->sha256);
	imagefs_set_str(e, "link", nd->link);
	return e;
}

static json_t *side_json(const struct lade_images *s)
{
	json_t *j =
	        json_pack("{s:s, s:s}", "image", s->name, "config", s->imgs[0].config_blob.digest);
	imagefs_set_str(j, "digest", s->imgs[0].digest);
	imagefs_set_str(j, "ref", s->imgs[0].ref);
	return j;
}

static bool diff_id_in(const json_t *ids, const char *id)
{
	size_t i;
	const json_t *v;
	json_array_foreach(ids, i, v) if (json_string_value(v) &&
	                                  strcmp(json_string_value(v), id) == 0) return true;
	return false;
}

static bool same_blob(const struct lade_image_blob *x, const struct lade_image_blob *y)
{
	return x && y && strcmp(x->digest, y->digest) == 0 &&
	       (x->media_type == NULL) == (y->media_type == NULL) &&
	       (x->media_type == NULL || strcmp(x->media_type, y->media_type) == 0);
}

static void blob_json(json_t *l, const char *key, const struct lade_image_blob *b)
{
	if (b == NULL)
		return;
	json_t *o = json_pack("{s:s, s:I}", "digest", b->digest, "size", (json_int_t)b->size);
	imagefs_set_str(o, "media_type", b->media_type);
	json_object_set_new(l, key, o);
}

static json_t *only_in(const json_t *x, const json_t *y)
{
	json_t *arr = json_array();
	size_t i;
	const json_t *v;
	json_array_foreach(x, i, v)
	{
		const char *id = json_string_value(v);
		if (id && !diff_id_in(y, id) && !diff_id_in(arr, id))
			json_array_append_new(arr, json_string(id));
	}
	return arr;
}

static bool entries_equal(const struct imagefs *fa, const struct imagefs *fb, const char *path)
{
	const struct lade_tree_node *a = lade_tree_lookup(fa->tree, path);
	const struct lade_tree_node *b = lade_tree_lookup(fb->tree, path);
	const struct imagefs_entry *ea = lade_hashmap_get(fa->seen, path);
	const struct imagefs_entry *eb = lade_hashmap_get(fb->seen, path);
	if (a->type != b->type || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    a->size != b->size)
		return false;
	if ((a->link == NULL) != (b->link == NULL) || (a->link && strcmp(a->link, b->link) != 0))
		return false;
	return a->type != LADE_ENTRY_FILE || strcmp(ea->sha256, eb->sha256) == 0;
}

static int diff_files(const struct lade_images *sa, const struct lade_images *sb, json_t **out,
                      struct lade_error **err)
{
	struct imagefs fa, fb;
	imagefs_init(&fa);
	imagefs_init(&fb);
	fa.hash = fb.hash = true;
	_cleanup_free_ struct imagefs_layer *ra = xcalloc(sa->imgs[0].n_layers + 1, sizeof(*ra));
	_cleanup_free_ struct imagefs_layer *rb = xcalloc(sb->imgs[0].n_layers + 1, sizeof(*rb));
	if (imagefs_stream(sa, &sa->imgs[0], &fa, NULL, ra, err) < 0 ||
	    imagefs_stream(sb, &sb->imgs[0], &fb, NULL, rb, err) < 0) {
		imagefs_release(&fa);
		imagefs_release(&fb);
		return -1;
	}
	size_t na, nb, i = 0, k = 0;
	_cleanup_free_ const char **pa = imagefs_paths(&fa, &na);
	_cleanup_free_ const char **pb = imagefs_paths(&fb, &nb);
	json_t *added = json_array(), *removed = json_array(), *modified = json_array();
	while (i < na || k < nb) {
		int c = i == na ? 1 : k == nb ? -1 : lade_path_compare(pa[i], pb[k]);
		if (c < 0) {
			json_array_append_new(removed, entry_json(&fa, pa[i++]));
		} else if (c > 0) {
			json_array_append_new(added, entry_json(&fb, pb[k++]));
		} else {
			if (!entries_equal(&fa, &fb, pa[i]))
				json_array_append_new(modified,
				                      json_pack("{s:s, s:o, s:o}", "path", pa[i],
				                                "a", entry_json(&fa, pa[i]), "b",
				                                entry_json(&fb, pb[k])));
			i++;
			k++;
		}
	}
	*out = json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed, "modified",
	                 modified);
	imagefs_release(&fa);
	imagefs_release(&fb);
	return 0;
}

int lade_diff(const char *image_a, const char *image_b, json_t **out, bool *different,
              struct lade_error **err)
{
	_cleanup_(lade_images_freep) struct lade_images *sa = NULL;
	_cleanup_(lade_images_freep) struct lade_images *sb = NULL;
	if (imagefs_open_one(image_a, &sa, err) < 0 || imagefs_open_one(image_b, &sb, err) < 0)
		return -1;
	const struct lade_image *a = &sa->imgs[0], *b = &sb->imgs[0];
	const json_t *ida = json_object_get(json_object_get(a->config, "rootfs"), "diff_ids");
	const json_t *idb = json_object_get(json_object_get(b->config, "rootfs"), "diff_ids");
	size_t na = json_array_size(ida), nb = json_array_size(idb);
	json_t *layers = json_array();
	bool layers_equal = true, blobs_equal = true;
	for (size_t i = 0; i < na || i < nb; i++) {
		const char *x = json_string_value(json_array_get(ida, i));
		const char *y = json_string_value(json_array_get(idb, i));
		const struct lade_image_blob *ba = i < a->n_layers ? &a->layers[i] : NULL;
		const struct lade_image_blob *bb = i < b->n_layers ? &b->layers[i] : NULL;
		const char *status = i >= na                         ? "added"
		                     : i >= nb                       ? "removed"
		                     : (x && y && strcmp(x, y) == 0) ? "equal"
		                                                     : "changed";
		if (strcmp(status, "equal") != 0)
			layers_equal = false;
		else if (!same_blob(ba, bb)) {
			/* The same tar, stored differently: compressed by another compressor or
			 * level, or with another media type. */
			status = "recompressed";
			blobs_equal = false;
		}
		json_t *l = json_pack("{s:I, s:s}", "index", (json_int_t)(i + 1), "status", status);
		imagefs_set_str(l, "a", x);
		imagefs_set_str(l, "b", y);
		blob_json(l, "blob_a", ba);
		blob_json(l, "blob_b", bb);
		json_array_append_new(layers, l);
	}
	_cleanup_(json_decrefp) json_t *j = json_object();
	json_object_set_new(j, "a", side_json(sa));
	json_object_set_new(j, "b", side_json(sb));
	json_object_set_new(j, "layers", layers);
	json_object_set_new(j, "layers_only_in_a", only_in(ida, idb));
	json_object_set_new(j, "layers_only_in_b", only_in(idb, ida));
	bool config_equal = strcmp(a->config_blob.digest, b->config_blob.digest) == 0;
	json_object_set_new(j, "config_equal", json_boolean(config_equal));
	bool files_equal = true;
	if (!layers_equal) {
		json_t *files;
		if (diff_files(sa, sb, &files, err) < 0)
			return -1;
		files_equal = json_array_size(json_object_get(files, "added")) == 0 &&
		              json_array_size(json_object_get(files, "removed")) == 0 &&
		              json_array_size(json_object_get(files, "modified")) == 0;
		json_object_set_new(j, "files", files);
	} else {
		json_object_set_new(
		        j, "files",
		        json_pack("{s:[], s:[], s:[]}", "added", "removed", "modified"));
	}
	/* A docker-archive read through manifest.json has no manifest digest. */
	bool manifest_equal =
	        a->digest == NULL || b->digest == NULL || strcmp(a->digest, b->digest) == 0;
	bool content_equal = layers_equal && files_equal && config_equal;
	bool identical = content_equal && blobs_equal && manifest_equal;
	json_object_set_new(j, "manifest_equal", json_boolean(manifest_equal));
	json_object_set_new(j, "blobs_equal", json_boolean(blobs_equal));
	json_object_set_new(j, "content_equal", json_boolean(content_equal));
	json_object_set_new(j, "identical", json_boolean(identical));
	*different = !identical;
	*out = steal_pointer(&j);
	return 0;
}
