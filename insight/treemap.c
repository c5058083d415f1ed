/* lade — inspect --html: an image's bytes as a tree for a treemap — layer → distribution or
 * directory → file, every node's value the bytes of the regular files under it that the
 * merged file system holds (a file counts in the layer that wrote it last). Small siblings
 * are folded into one "(N more)" node so that a 50,000-file image stays a page. */
#include <stdlib.h>
#include <string.h>

#include "imagefs.h"
#include "lade/util.h"

#define TREEMAP_MAX_CHILDREN 40
#define TREEMAP_MIN_SHARE    2000 /* children under 1/2000 of the image are folded */

/* While building: {"n": name, "k": kind, "v": bytes, "m": {name: node}}. */
static json_t *child(json_t *parent, const char *name, const char *kind)
{
	json_t *m = json_object_get(parent, "m");
	if (m == NULL) {
		m = json_object();
		json_object_set_new(parent, "m", m);
	}
	json_t *c = json_object_get(m, name);
	if (c == NULL) {
		c = json_pack("{s:s, s:s, s:I}", "n", name, "k", kind, "v", (json_int_t)0);
		json_object_set_new(m, name, c);
	}
	return c;
}

static void add_bytes(json_t *node, uint64_t size)
{
	json_object_set_new(
	        node, "v",
	        json_integer(json_integer_value(json_object_get(node, "v")) + (json_int_t)size));
}

/* Insert rel (a '/'-separated path) under node, adding size on the way down. */
static void insert_path(json_t *node, const char *rel, uint64_t size)
{
	_cleanup_free_ char *copy = xstrdup(rel);
	char *save = NULL;
	add_bytes(node, size);
	for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		bool last = save == NULL || *save == '\0';
		node = child(node, part, last ? "f" : "d");
		add_bytes(node, size);
	}
}

static int cmp_value(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "v"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "v"));
	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "n")),
	              json_string_value(json_object_get(*(json_t *const *)b, "n")));
}

/* The map of children becomes a sorted array "c"; a directory with one directory child
 * takes it in ("usr/lib/python3.11"); small children are folded. */
static void finish(json_t *node, json_int_t min)
{
	/* Layers are never folded: the map shows every one, however thin. */
	bool is_root = strcmp(json_string_value(json_object_get(node, "k")), "r") == 0;
	json_t *m;
	while ((m = json_object_get(node, "m")) && json_object_size(m) == 1 &&
	       strcmp(json_string_value(json_object_get(node, "k")), "d") == 0) {
		void *it = json_object_iter(m);
		json_t *only = json_object_iter_value(it);
		if (strcmp(json_string_value(json_object_get(only, "k")), "d") != 0)
			break;
		_cleanup_free_ char *name =
		        xasprintf("%s/%s", json_string_value(json_object_get(node, "n")),
		                  json_string_value(json_object_get(only, "n")));
		json_incref(only);
		json_object_set_new(node, "n", json_string(name));
		json_t *grand = json_object_get(only, "m");
		if (grand)
			json_object_set(node, "m", grand);
		else
			json_object_del(node, "m");
		json_decref(only);
	}
	m = json_object_get(node, "m");
	if (m == NULL)
		return;
	size_t n = json_object_size(m), k = 0;
	_cleanup_free_ json_t **v = xcalloc(n + 1, sizeof(*v));
	const char *key;
	json_t *c;
	json_object_foreach(m, key, c) v[k++] = c;
	qsort(v, n, sizeof(*v), cmp_value);
	json_t *arr = json_array();
	json_int_t rest = 0;
	size_t folded = 0;
	for (size_t i = 0; i < n; i++) {
		json_int_t val = json_integer_value(json_object_get(v[i], "v"));
		if (!is_root && (i >= TREEMAP_MAX_CHILDREN || (val < min && i > 0))) {
			rest += val;
			folded++;
			continue;
		}
		finish(v[i], min);
		json_array_append(arr, v[i]);
	}
	if (folded) {
		_cleanup_free_ char *name = xasprintf("(%zu more)", folded);
		json_array_append_new(arr,
		                      json_pack("{s:s, s:s, s:I}", "n", name, "k", "o", "v", rest));
	}
	json_object_set_new(node, "c", arr);
	json_object_del(node, "m");
}

json_t *imagefs_treemap(const struct imagefs *f, const char **paths, size_t n, const json_t *layers)
{
	size_t n_layers = json_array_size(layers);
	struct imagefs_sizes z;
	imagefs_sizes_init(&z, f, paths, n, n_layers);
	json_t *root = json_pack("{s:s, s:s, s:I}", "n", "/", "k", "r", "v", (json_int_t)0);
	_cleanup_free_ json_t **lnode = xcalloc(n_layers + 1, sizeof(*lnode));
	for (size_t i = 0; i < n_layers; i++) {
		const json_t *l = json_array_get(layers, i);
		const char *what = json_string_value(json_object_get(l, "comment"));
		if (what == NULL)
			what = json_string_value(json_object_get(l, "created_by"));
		_cleanup_free_ char *name = xasprintf("layer %zu %s", i + 1, what ? what : "");
		lnode[i] = child(root, name, "l");
		json_object_set_new(lnode[i], "i", json_integer((json_int_t)i));
	}
	for (size_t i = 0; i < n; i++) {
		const struct lade_tree_node *nd = lade_tree_lookup(f->tree, paths[i]);
		const struct imagefs_entry *fe = lade_hashmap_get(f->seen, paths[i]);
		if (nd == NULL || nd->type != LADE_ENTRY_FILE || fe == NULL ||
		    fe->layer >= n_layers || nd->size == 0)
			continue;
		json_t *at = lnode[fe->layer];
		const char *rel = paths[i];
		uintptr_t owner = (uintptr_t)lade_hashmap_get(z.owner, paths[i]);
		if (owner) {
			const struct imagefs_pkg *p = &z.pkgs[owner - 1];
			_cleanup_free_ char *name = xasprintf("%s %s", p->name, p->version);
			add_bytes(at, nd->size);
			add_bytes(root, nd->size);
			at = child(at, name, "p");
			size_t ll = strlen(p->location);
			if (strncmp(rel, p->location, ll) == 0 && rel[ll] == '/')
				rel += ll + 1;
			insert_path(at, rel, nd->size);
			continue;
		}
		add_bytes(root, nd->size);
		insert_path(at, rel, nd->size);
	}
	json_int_t min = json_integer_value(json_object_get(root, "v")) / TREEMAP_MIN_SHARE;
	finish(root, min);
	imagefs_sizes_release(&z);
	return root;
}
