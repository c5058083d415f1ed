/* lade — the root file system index of a base image (see include/lade/tree.h).
 *
 * Nodes live in one hash map keyed by their normalised path; the root "" is kept outside the
 * map so that lade_tree_count() counts layer entries only. Every node remembers the layer
 * generation that last wrote it: an opaque whiteout only hides what lower layers put in its
 * directory, never what the current layer already added. */
#include <stdlib.h>
#include <string.h>

#include "lade/hashmap.h"
#include "lade/tree.h"
#include "lade/util.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define MAX_SYMLINKS    40

struct node {
	struct lade_tree_node pub; /* first: lookups hand out &pub */
	char *path;
	char *link;
	unsigned gen; /* layer generation that last created or changed this node */
};

struct lade_tree {
	struct lade_hashmap *nodes; /* path -> struct node */
	struct node root;
	unsigned gen;
};

static void node_free(void *p)
{
	struct node *n = p;
	if (n == NULL)
		return;
	free(n->path);
	free(n->link);
	free(n);
}

struct lade_tree *lade_tree_new(void)
{
	struct lade_tree *t = xzalloc(sizeof(*t));
	t->nodes = lade_hashmap_new();
	t->root.path = xstrdup("");
	t->root.pub.path = t->root.path;
	t->root.pub.type = LADE_ENTRY_DIR;
	t->root.pub.mode = 0755;
	return t;
}

void lade_tree_free(struct lade_tree *t)
{
	if (t == NULL)
		return;
	lade_hashmap_free(t->nodes, node_free);
	free(t->root.path);
	free(t);
}

void lade_tree_freep(struct lade_tree **t)
{
	lade_tree_free(*t);
	*t = NULL;
}

void lade_tree_layer_begin(struct lade_tree *t)
{
	t->gen++;
}

static struct node *get_node(const struct lade_tree *t, const char *path)
{
	if (path[0] == '\0')
		return (struct node *)&t->root;
	return lade_hashmap_get(t->nodes, path);
}

const struct lade_tree_node *lade_tree_lookup(const struct lade_tree *t, const char *path)
{
	struct node *n = get_node(t, path);
	return n ? &n->pub : NULL;
}

size_t lade_tree_count(const struct lade_tree *t)
{
	return lade_hashmap_size(t->nodes);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **lade_tree_children(const struct lade_tree *t, const char *dir)
{
	size_t dlen = strlen(dir), pos = 0;
	const char *key;
	void *value;
	char **names = NULL;
	while (lade_hashmap_next(t->nodes, &pos, &key, &value)) {
		const char *name = key;
		if (dlen > 0) {
			if (strncmp(key, dir, dlen) != 0 || key[dlen] != '/')
				continue;
			name = key + dlen + 1;
		}
		if (strchr(name, '/') == NULL)
			lade_strv_push(&names, name);
	}
	/* readdir order is the hash map's: sort so callers never see it */
	if (names)
		qsort(names, lade_strv_len(names), sizeof(*names), cmp_name);
	return names;
}

/* Remove everything strictly below dir ("" is the root) whose generation is below max_gen. */
static void remove_below(struct lade_tree *t, const char *dir, unsigned max_gen)
{
	size_t dlen = strlen(dir);
	size_t pos = 0;
	const char *key;
	void *value;
	while (lade_hashmap_next(t->nodes, &pos, &key, &value)) {
		struct node *n = value;
		if (dlen > 0 && (strncmp(key, dir, dlen) != 0 || key[dlen] != '/'))
			continue;
		if (n->gen >= max_gen)
			continue;
		node_free(lade_hashmap_remove(t->nodes, key));
	}
}

static void remove_subtree(struct lade_tree *t, const char *path)
{
	remove_below(t, path, (unsigned)-1);
	node_free(lade_hashmap_remove(t->nodes, path));
}

static void node_set(struct lade_tree *t, struct node *n, enum lade_entry_type type, uint32_t mode,
                     uint32_t uid, uint32_t gid, uint64_t size, const char *link)
{
	free(n->link);
	n->link = link ? xstrdup(link) : NULL;
	n->pub.link = n->link;
	n->pub.type = type;
	n->pub.mode = mode & 07777;
	n->pub.uid = uid;
	n->pub.gid = gid;
	n->pub.size = size;
	n->gen = t->gen;
}

static struct node *node_add(struct lade_tree *t, const char *path)
{
	struct node *n = xzalloc(sizeof(*n));
	n->path = xstrdup(path);
	n->pub.path = n->path;
	lade_hashmap_put(t->nodes, path, n);
	return n;
}

const char *lade_entry_type_name(enum lade_entry_type type)
{
	switch (type) {
	case LADE_ENTRY_DIR:
		return "a directory";
	case LADE_ENTRY_FILE:
		return "a file";
	case LADE_ENTRY_SYMLINK:
		return "a symlink";
	case LADE_ENTRY_HARDLINK:
		return "a hard link";
	default:
		return "a special file";
	}
}

/* Make sure the directory `dir` (normalised, symlinks already resolved) exists, creating the
 * missing directories with 0755 0:0 as tar extractors do for layers that omit parents. */
static int ensure_dirs(struct lade_tree *t, const char *dir, const char *path,
                       struct lade_error **err)
{
	if (dir[0] == '\0')
		return 0;
	_cleanup_free_ char *prefix = xstrdup(dir);
	for (char *p = prefix;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		struct node *n = get_node(t, prefix);
		if (n == NULL)
			node_set(t, node_add(t, prefix), LADE_ENTRY_DIR, 0755, 0, 0, 0, NULL);
		else if (n->pub.type != LADE_ENTRY_DIR)
			return lade_error_set(err, 0, "cannot apply %s: its parent %s is %s", path,
			                      prefix, lade_entry_type_name(n->pub.type));
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

int lade_tree_apply(struct lade_tree *t, const char *path, enum lade_entry_type type, uint32_t mode,
                    uint32_t uid, uint32_t gid, uint64_t size, const char *link,
                    struct lade_error **err)
{
	if (!lade_path_is_normalised(path))
		return lade_error_set(err, 0, "cannot apply '%s': path is not normalised", path);
	if ((type == LADE_ENTRY_SYMLINK || type == LADE_ENTRY_HARDLINK) && link == NULL)
		return lade_error_set(err, 0, "cannot apply %s: link without a target", path);

	if (path[0] == '\0') {
		if (type != LADE_ENTRY_DIR)
			return lade_error_set(err, 0, "cannot apply the root directory as %s",
			                      lade_entry_type_name(type));
		node_set(t, &t->root, type, mode, uid, gid, 0, NULL);
		return 0;
	}

	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	_cleanup_free_ char *dir = lade_path_dirname(path);

	/* Extractors (containerd, docker) follow symlinks in the parent directories of an
	 * entry, within the root: do the same so the index matches the unpacked file system. */
	_cleanup_free_ char *real_dir = NULL;
	if (lade_tree_resolve(t, dir, true, &real_dir, err) < 0)
		return lade_error_prefix(err, "cannot apply %s", path);
	if (ensure_dirs(t, real_dir, path, err) < 0)
		return -1;

	if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0) {
		const char *name = base + strlen(WHITEOUT_PREFIX);
		if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
			remove_below(t, real_dir, t->gen);
			return 0;
		}
		/* Other ".wh..wh." names are aufs bookkeeping (hard link stashes): not files. */
		if (strncmp(name, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
			return 0;
		if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			return lade_error_set(err, 0, "cannot apply %s: whiteout without a name",
			                      path);
		_cleanup_free_ char *victim = lade_path_join(real_dir, name);
		remove_subtree(t, victim);
		return 0;
	}

	_cleanup_free_ char *real_path = lade_path_join(real_dir, base);
	struct node *n = get_node(t, real_path);
	if (n == NULL) {
		n = node_add(t, real_path);
	} else if (n->pub.type == LADE_ENTRY_DIR && type != LADE_ENTRY_DIR) {
		remove_below(t, real_path, (unsigned)-1);
	}
	node_set(t, n, type, mode, uid, gid, type == LADE_ENTRY_FILE ? size : 0, link);
	return 0;
}

/* Append one path component to a normalised path held in b. */
static void push_component(struct lade_buf *b, const char *comp, size_t n)
{
	if (b->len)
		lade_buf_addch(b, '/');
	lade_buf_add(b, comp, n);
}

static void pop_component(struct lade_buf *b)
{
	char *slash = memrchr(b->data, '/', b->len);
	b->len = slash ? (size_t)(slash - b->data) : 0;
	if (b->alloc)
		b->data[b->len] = '\0';
}

int lade_tree_resolve(const struct lade_tree *t, const char *path, bool follow_last, char **out,
                      struct lade_error **err)
{
	return lade_tree_resolve_escape(t, path, follow_last, out, NULL, err);
}

int lade_tree_resolve_escape(const struct lade_tree *t, const char *path, bool follow_last,
                             char **out, char **escape, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf resolved = LADE_BUF_INIT;
	_cleanup_free_ char *rest = xstrdup(path); /* what is left to walk */
	_cleanup_free_ char *via = NULL;           /* the link whose target is being walked */
	const char *p = rest;
	int links = 0;
	if (escape)
		*escape = NULL;

	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		/* A trailing slash or "." after a component asks for a directory: the kernel
		 * follows the link then, so only a bare final name is "last". */
		bool last = *end == '\0';

		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (resolved.len == 0 && escape && *escape == NULL)
				*escape = xstrdup(via ? via : path);
			pop_component(&resolved);
			p = end;
			continue;
		}

		size_t before = resolved.len;
		push_component(&resolved, p, n);
		const struct node *node = get_node(t, resolved.data);
		if (node == NULL || node->pub.type != LADE_ENTRY_SYMLINK ||
		    (last && !follow_last) || node->link == NULL || node->link[0] == '\0') {
			p = end;
			continue;
		}

		if (++links > MAX_SYMLINKS)
			return lade_error_set(
			        err, 0, "too many levels of symbolic links resolving %s", path);
		if (escape) {
			free(via);
			via = xstrdup(resolved.data);
		}
		/* Undo the link's own name: its target is relative to its directory. */
		resolved.len = before;
		resolved.data[before] = '\0';
		if (node->link[0] == '/')
			lade_buf_reset(&resolved);
		char *next = *end ? xasprintf("%s/%s", node->link, end + 1) : xstrdup(node->link);
		free(rest);
		rest = next;
		p = rest;
	}
	*out = lade_buf_detach(&resolved, NULL);
	return 0;
}

static int node_cmp(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	return lade_path_compare(x->path, y->path);
}

json_t *lade_tree_to_json(const struct lade_tree *t)
{
	size_t n = lade_hashmap_size(t->nodes), i = 0, pos = 0;
	_cleanup_free_ struct node **all = xcalloc(n ? n : 1, sizeof(*all));
	const char *key;
	void *value;
	while (lade_hashmap_next(t->nodes, &pos, &key, &value) && i < n)
		all[i++] = value;
	qsort(all, i, sizeof(*all), node_cmp);
	json_t *arr = json_array();
	for (size_t k = 0; k < i; k++) {
		const struct node *nd = all[k];
		json_array_append_new(arr,
		                      json_pack("[s, i, I, I, I, I, s?]", nd->path,
		                                (int)nd->pub.type, (json_int_t)nd->pub.mode,
		                                (json_int_t)nd->pub.uid, (json_int_t)nd->pub.gid,
		                                (json_int_t)nd->pub.size, nd->link));
	}
	return arr;
}

int lade_tree_from_json(struct lade_tree *t, const json_t *j, struct lade_error **err)
{
	if (!json_is_array(j))
		return lade_error_set(err, 0, "tree index: not a list");
	lade_tree_layer_begin(t);
	size_t i;
	json_t *e;
	json_array_foreach(j, i, e)
	{
		const char *path = NULL, *link = NULL;
		int type = 0;
		json_int_t mode = 0, uid = 0, gid = 0, size = 0;
		json_t *jlink = NULL;
		json_error_t jerr;
		/* jansson's unpack has no optional string: take the link as a value. */
		if (json_unpack_ex((json_t *)e, &jerr, JSON_STRICT, "[s, i, I, I, I, I, o]", &path,
		                   &type, &mode, &uid, &gid, &size, &jlink) < 0 ||
		    !(json_is_null(jlink) || json_is_string(jlink)) || type < LADE_ENTRY_DIR ||
		    type > LADE_ENTRY_OTHER || mode < 0 || mode > 07777 || uid < 0 ||
		    uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX || size < 0)
			return lade_error_set(err, 0, "tree index: entry %zu is malformed", i);
		link = json_string_value(jlink);
		if (lade_tree_apply(t, path, (enum lade_entry_type)type, (uint32_t)mode,
		                    (uint32_t)uid, (uint32_t)gid, (uint64_t)size, link, err) < 0)
			return lade_error_prefix(err, "tree index: entry %zu", i);
	}
	return 0;
}
