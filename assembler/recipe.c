/* lade — recipe v1 (see include/lade/recipe.h and docs/recipe.md).
 *
 * Three steps: libyaml events become a small node tree that keeps every line:column (and
 * refuses what a recipe never needs: aliases, several documents, deep nesting); the chosen
 * variant is merged over the top level; the merged tree is validated into struct lade_recipe.
 * Scalars stay text: `tag: 1.0` is "1.0" and `mode: 0444` is "0444", never a float or an int
 * that YAML 1.1 would have reinterpreted. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "lade/recipe.h"
#include "lade/util.h"

#define RECIPE_MAX_SIZE  (1u << 20)
#define RECIPE_MAX_DEPTH 32

/* ---- the node tree ---- */

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP };

struct node;

struct pair {
	struct node *key; /* always a scalar */
	struct node *value;
};

struct node {
	enum node_kind kind;
	int line, column;    /* 1-based */
	bool quoted;         /* scalar written in any non-plain style */
	char *text;          /* NODE_SCALAR */
	struct node **items; /* NODE_SEQ */
	size_t n_items, alloc_items;
	struct pair *pairs; /* NODE_MAP, in file order */
	size_t n_pairs, alloc_pairs;
};

static void node_free(struct node *n)
{
	if (n == NULL)
		return;
	free(n->text);
	for (size_t i = 0; i < n->n_items; i++)
		node_free(n->items[i]);
	free(n->items);
	for (size_t i = 0; i < n->n_pairs; i++) {
		node_free(n->pairs[i].key);
		node_free(n->pairs[i].value);
	}
	free(n->pairs);
	free(n);
}

static void node_freep(struct node **n)
{
	node_free(*n);
	*n = NULL;
}

static bool node_is_null(const struct node *n)
{
	if (n->kind != NODE_SCALAR || n->quoted)
		return false;
	return n->text[0] == '\0' || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static const char *node_kind_name(const struct node *n)
{
	if (node_is_null(n))
		return "null";
	switch (n->kind) {
	case NODE_SCALAR:
		return "a string";
	case NODE_SEQ:
		return "a list";
	case NODE_MAP:
		return "a mapping";
	}
	return "?";
}

static struct pair *map_find(const struct node *m, const char *key)
{
	for (size_t i = 0; i < m->n_pairs; i++)
		if (strcmp(m->pairs[i].key->text, key) == 0)
			return &m->pairs[i];
	return NULL;
}

static const struct node *map_get(const struct node *m, const char *key)
{
	const struct pair *p = map_find(m, key);
	return p ? p->value : NULL;
}

/* Take key out of the mapping; the caller owns the returned value (NULL when absent). */
static struct node *map_take(struct node *m, const char *key)
{
	struct pair *p = map_find(m, key);
	if (p == NULL)
		return NULL;
	struct node *v = p->value;
	node_free(p->key);
	size_t i = (size_t)(p - m->pairs);
	memmove(p, p + 1, (m->n_pairs - i - 1) * sizeof(*p));
	m->n_pairs--;
	return v;
}

static int pair_ptr_cmp(const void *a, const void *b)
{
	const struct pair *const *x = a, *const *y = b;
	return strcmp((*x)->key->text, (*y)->key->text);
}

/* Pointers to the pairs of m sorted by key: duplicate detection and overlay look-ups in
 * O(n log n) even for hostile mappings with many keys. */
static struct pair **map_sorted(const struct node *m)
{
	struct pair **v = xcalloc(m->n_pairs + 1, sizeof(*v));
	for (size_t i = 0; i < m->n_pairs; i++)
		v[i] = &m->pairs[i];
	qsort(v, m->n_pairs, sizeof(*v), pair_ptr_cmp);
	return v;
}

/* ---- errors ---- */

struct ctx {
	const char *file; /* as given to lade_recipe_load, for messages */
	struct lade_error **err;
};

static int __attribute__((format(printf, 4, 0)))
vmark_error(const struct ctx *c, int line, int column, const char *fmt, va_list ap)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (line > 0)
		lade_buf_addf(&b, "%s:%d:%d: ", c->file, line, column);
	else
		lade_buf_addf(&b, "%s: ", c->file);
	lade_buf_vaddf(&b, fmt, ap);
	return lade_error_set(c->err, 0, "%s", b.data);
}

static int __attribute__((format(printf, 4, 5)))
mark_error(const struct ctx *c, int line, int column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmark_error(c, line, column, fmt, ap);
	va_end(ap);
	return -1;
}

static int __attribute__((format(printf, 3, 4)))
node_error(const struct ctx *c, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmark_error(c, n ? n->line : 0, n ? n->column : 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- YAML → node tree ---- */

static void parser_deletep(yaml_parser_t **p)
{
	if (*p)
		yaml_parser_delete(*p);
}

static void event_deletep(yaml_event_t *e)
{
	yaml_event_delete(e);
}

static int next_event(const struct ctx *c, yaml_parser_t *p, yaml_event_t *ev)
{
	if (yaml_parser_parse(p, ev))
		return 0;
	memset(ev, 0, sizeof(*ev));
	const char *problem = p->problem ? p->problem : "cannot parse";
	if (p->error == YAML_READER_ERROR)
		return mark_error(c, 0, 0, "malformed YAML: %s at byte %zu", problem,
		                  p->problem_offset);
	if (p->error == YAML_MEMORY_ERROR)
		return mark_error(c, 0, 0, "malformed YAML: out of memory");
	return mark_error(c, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
	                  "malformed YAML: %s", problem);
}

/* Anchors and aliases would let a small file expand into a huge tree ("billion laughs") and
 * make line:column ambiguous; a recipe never needs them. Only the standard tags are let
 * through, and they change nothing: every scalar is kept as text. */
static int check_node_props(const struct ctx *c, int line, int column, const yaml_char_t *anchor,
                            const yaml_char_t *tag)
{
	if (anchor)
		return mark_error(c, line, column, "anchors and aliases are not allowed (&%s)",
		                  (const char *)anchor);
	if (tag && strcmp((const char *)tag, "!") != 0 &&
	    strncmp((const char *)tag, "tag:yaml.org,2002:", 18) != 0)
		return mark_error(c, line, column, "unsupported YAML tag '%s'", (const char *)tag);
	return 0;
}

static int parse_node(const struct ctx *c, yaml_parser_t *p, yaml_event_t *ev, int depth,
                      struct node **out);

static int parse_seq(const struct ctx *c, yaml_parser_t *p, int depth, struct node *n)
{
	for (;;) {
		_cleanup_(event_deletep) yaml_event_t ev;
		if (next_event(c, p, &ev) < 0)
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		struct node *item = NULL;
		if (parse_node(c, p, &ev, depth + 1, &item) < 0)
			return -1;
		lade_grow(&n->items, sizeof(*n->items), n->n_items + 1, &n->alloc_items);
		n->items[n->n_items++] = item;
	}
}

static int parse_map(const struct ctx *c, yaml_parser_t *p, int depth, struct node *n)
{
	for (;;) {
		_cleanup_(event_deletep) yaml_event_t kev;
		if (next_event(c, p, &kev) < 0)
			return -1;
		if (kev.type == YAML_MAPPING_END_EVENT)
			break;
		_cleanup_(node_freep) struct node *key = NULL;
		if (parse_node(c, p, &kev, depth + 1, &key) < 0)
			return -1;
		if (key->kind != NODE_SCALAR)
			return node_error(c, key, "mapping keys must be strings, not %s",
			                  node_kind_name(key));
		if (node_is_null(key))
			return node_error(c, key, "empty mapping key");

		_cleanup_(event_deletep) yaml_event_t vev;
		if (next_event(c, p, &vev) < 0)
			return -1;
		struct node *value = NULL;
		if (parse_node(c, p, &vev, depth + 1, &value) < 0)
			return -1;
		lade_grow(&n->pairs, sizeof(*n->pairs), n->n_pairs + 1, &n->alloc_pairs);
		n->pairs[n->n_pairs].key = steal_pointer(&key);
		n->pairs[n->n_pairs].value = value;
		n->n_pairs++;
	}

	_cleanup_free_ struct pair **sorted = map_sorted(n);
	for (size_t i = 1; i < n->n_pairs; i++) {
		if (strcmp(sorted[i - 1]->key->text, sorted[i]->key->text) != 0)
			continue;
		/* Report the later of the two, the one a reader would delete. */
		const struct node *a = sorted[i - 1]->key, *b = sorted[i]->key;
		const struct node *later = sorted[i] > sorted[i - 1] ? b : a;
		const struct node *first = later == b ? a : b;
		return node_error(c, later, "duplicate key '%s' (first at line %d)", later->text,
		                  first->line);
	}
	return 0;
}

static int parse_node(const struct ctx *c, yaml_parser_t *p, yaml_event_t *ev, int depth,
                      struct node **out)
{
	int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
	_cleanup_(node_freep) struct node *n = xzalloc(sizeof(*n));
	n->line = line;
	n->column = column;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return mark_error(c, line, column, "anchors and aliases are not allowed (*%s)",
		                  (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT: {
		if (check_node_props(c, line, column, ev->data.scalar.anchor, ev->data.scalar.tag) <
		    0)
			return -1;
		const char *v = (const char *)ev->data.scalar.value;
		size_t len = ev->data.scalar.length;
		if (strnlen(v, len) != len)
			return mark_error(c, line, column, "a string contains a NUL character");
		n->kind = NODE_SCALAR;
		n->text = xstrndup(v, len);
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		break;
	}
	case YAML_SEQUENCE_START_EVENT:
		if (check_node_props(c, line, column, ev->data.sequence_start.anchor,
		                     ev->data.sequence_start.tag) < 0)
			return -1;
		if (depth > RECIPE_MAX_DEPTH)
			return mark_error(c, line, column, "nesting deeper than %d levels",
			                  RECIPE_MAX_DEPTH);
		n->kind = NODE_SEQ;
		if (parse_seq(c, p, depth, n) < 0)
			return -1;
		break;
	case YAML_MAPPING_START_EVENT:
		if (check_node_props(c, line, column, ev->data.mapping_start.anchor,
		                     ev->data.mapping_start.tag) < 0)
			return -1;
		if (depth > RECIPE_MAX_DEPTH)
			return mark_error(c, line, column, "nesting deeper than %d levels",
			                  RECIPE_MAX_DEPTH);
		n->kind = NODE_MAP;
		if (parse_map(c, p, depth, n) < 0)
			return -1;
		break;
	default:
		return mark_error(c, line, column, "malformed YAML: unexpected event");
	}
	*out = steal_pointer(&n);
	return 0;
}

static int parse_yaml(const struct ctx *c, const char *data, size_t len, struct node **out)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return mark_error(c, 0, 0, "cannot initialise the YAML parser");
	_cleanup_(parser_deletep) yaml_parser_t *p = &parser;
	yaml_parser_set_input_string(p, (const unsigned char *)data, len);

	_cleanup_(event_deletep) yaml_event_t stream;
	if (next_event(c, p, &stream) < 0)
		return -1;
	_cleanup_(event_deletep) yaml_event_t doc;
	if (next_event(c, p, &doc) < 0)
		return -1;
	if (doc.type != YAML_DOCUMENT_START_EVENT)
		return mark_error(c, 0, 0, "the recipe is empty");
	_cleanup_(event_deletep) yaml_event_t first;
	if (next_event(c, p, &first) < 0)
		return -1;
	_cleanup_(node_freep) struct node *root = NULL;
	if (parse_node(c, p, &first, 1, &root) < 0)
		return -1;
	_cleanup_(event_deletep) yaml_event_t end;
	if (next_event(c, p, &end) < 0)
		return -1;
	_cleanup_(event_deletep) yaml_event_t after;
	if (next_event(c, p, &after) < 0)
		return -1;
	if (after.type != YAML_STREAM_END_EVENT)
		return mark_error(c, (int)after.start_mark.line + 1,
		                  (int)after.start_mark.column + 1,
		                  "only one YAML document is allowed in a recipe");
	if (root->kind != NODE_MAP)
		return node_error(c, root, "the recipe must be a mapping, not %s",
		                  node_kind_name(root));
	*out = steal_pointer(&root);
	return 0;
}

static int load_tree(const struct ctx *c, const char *path, struct node **out)
{
	_cleanup_buf_ struct lade_buf data = LADE_BUF_INIT;
	struct stat st;
	if (stat(path, &st) < 0)
		return lade_error_set(c->err, errno, "cannot read recipe %s", path);
	if (S_ISREG(st.st_mode) && st.st_size > (off_t)RECIPE_MAX_SIZE)
		return mark_error(c, 0, 0, "the recipe is larger than 1 MiB");
	_cleanup_error_ struct lade_error *rerr = NULL;
	if (lade_read_file(path, RECIPE_MAX_SIZE, &data, &rerr) < 0) {
		if (data.len > 0) /* read up to the limit: a special file that kept going */
			return mark_error(c, 0, 0, "the recipe is larger than 1 MiB");
		return lade_error_set(c->err, rerr->sys_errno, "cannot read recipe %s", path);
	}
	return parse_yaml(c, data.data, data.len, out);
}

/* ---- key checks with suggestions ---- */

/* Optimal string alignment distance (Levenshtein plus transpositions), for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[34][34];
	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* `where` is "at top level", "in config", "in files[2]" … */
static int check_keys(const struct ctx *c, const struct node *m, const char *where,
                      const char *const *known)
{
	for (size_t i = 0; i < m->n_pairs; i++) {
		const struct node *k = m->pairs[i].key;
		const char *best = NULL;
		size_t best_d = SIZE_MAX;
		bool found = false;
		for (const char *const *kn = known; *kn; kn++) {
			if (strcmp(*kn, k->text) == 0) {
				found = true;
				break;
			}
			size_t dist = edit_distance(k->text, *kn);
			if (dist < best_d) {
				best_d = dist;
				best = *kn;
			}
		}
		if (found)
			continue;
		if (best && best_d <= 2 && best_d < strlen(k->text))
			return node_error(c, k, "unknown key '%s' %s (did you mean '%s'?)", k->text,
			                  where, best);
		return node_error(c, k, "unknown key '%s' %s", k->text, where);
	}
	return 0;
}

/* ---- typed getters: `name` is the dotted path used in messages ("config.user") ---- */

static int want_kind(const struct ctx *c, const struct node *n, const char *name,
                     enum node_kind kind)
{
	static const char *const names[] = {"a string", "a list", "a mapping"};
	if (n->kind == kind && !(kind == NODE_SCALAR && node_is_null(n)))
		return 0;
	return node_error(c, n, "'%s' must be %s, not %s", name, names[kind], node_kind_name(n));
}

static int get_string(const struct ctx *c, const struct node *n, const char *name, char **out)
{
	if (want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	free(*out);
	*out = xstrdup(n->text);
	return 0;
}

static int get_nonempty(const struct ctx *c, const struct node *n, const char *name, char **out)
{
	if (want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	if (n->text[0] == '\0')
		return node_error(c, n, "'%s' must not be empty", name);
	return get_string(c, n, name, out);
}

/* An absolute image path, checked not to climb above "/" so later stages can normalise it. */
static int check_image_path(const struct ctx *c, const struct node *n, const char *name)
{
	if (want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	if (n->text[0] != '/')
		return node_error(c, n, "%s '%s' must be an absolute path", name, n->text);
	_cleanup_error_ struct lade_error *e = NULL;
	_cleanup_free_ char *norm = lade_path_normalize(n->text, &e);
	if (norm == NULL)
		return node_error(c, n, "%s '%s' climbs above the root", name, n->text);
	return 0;
}

static int get_image_path(const struct ctx *c, const struct node *n, const char *name, char **out)
{
	if (check_image_path(c, n, name) < 0)
		return -1;
	return get_string(c, n, name, out);
}

static int get_bool(const struct ctx *c, const struct node *n, const char *name, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE"};
	static const char *const no[] = {"false", "False", "FALSE"};
	if (n->kind == NODE_SCALAR && !n->quoted) {
		for (size_t i = 0; i < LADE_ARRAY_SIZE(yes); i++) {
			if (strcmp(n->text, yes[i]) == 0) {
				*out = true;
				return 0;
			}
			if (strcmp(n->text, no[i]) == 0) {
				*out = false;
				return 0;
			}
		}
	}
	if (n->kind == NODE_SCALAR && !node_is_null(n))
		return node_error(c, n, "'%s' must be true or false, not '%s'", name, n->text);
	return node_error(c, n, "'%s' must be true or false, not %s", name, node_kind_name(n));
}

/* A list of strings; every element checked by `check` when given. */
static int get_strv(const struct ctx *c, const struct node *n, const char *name,
                    int (*check)(const struct ctx *, const struct node *, const char *),
                    char ***out)
{
	if (want_kind(c, n, name, NODE_SEQ) < 0)
		return -1;
	_cleanup_strv_ char **v = xcalloc(n->n_items + 1, sizeof(char *));
	for (size_t i = 0; i < n->n_items; i++) {
		_cleanup_free_ char *iname = xasprintf("%s[%zu]", name, i);
		if (want_kind(c, n->items[i], iname, NODE_SCALAR) < 0)
			return -1;
		if (check && check(c, n->items[i], iname) < 0)
			return -1;
		v[i] = xstrdup(n->items[i]->text);
	}
	lade_strv_free(*out);
	*out = steal_pointer(&v);
	return 0;
}

static void kvs_free(struct lade_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* A mapping of string → scalar, values kept as text in file order. */
static int get_kvs(const struct ctx *c, const struct node *n, const char *name, bool env_names,
                   struct lade_kv **out, size_t *n_out)
{
	if (want_kind(c, n, name, NODE_MAP) < 0)
		return -1;
	struct lade_kv *kv = xcalloc(n->n_pairs + 1, sizeof(*kv));
	size_t k = 0;
	for (; k < n->n_pairs; k++) {
		const struct node *key = n->pairs[k].key, *val = n->pairs[k].value;
		_cleanup_free_ char *vname = xasprintf("%s.%s", name, key->text);
		if (env_names && strchr(key->text, '=')) {
			node_error(c, key, "%s name '%s' must not contain '='", name, key->text);
			break;
		}
		if (want_kind(c, val, vname, NODE_SCALAR) < 0)
			break;
		kv[k].key = xstrdup(key->text);
		kv[k].value = xstrdup(val->text);
	}
	if (k < n->n_pairs) {
		kvs_free(kv, k);
		return -1;
	}
	kvs_free(*out, *n_out);
	*out = kv;
	*n_out = k;
	return 0;
}

static int get_enum(const struct ctx *c, const struct node *n, const char *name,
                    const char *const *allowed, char **out)
{
	if (want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	for (const char *const *a = allowed; *a; a++) {
		if (strcmp(*a, n->text) == 0) {
			free(*out);
			*out = xstrdup(n->text);
			return 0;
		}
	}
	_cleanup_buf_ struct lade_buf list = LADE_BUF_INIT;
	for (const char *const *a = allowed; *a; a++)
		lade_buf_addf(&list, "%s%s", a == allowed ? "" : ", ", *a);
	return node_error(c, n, "%s '%s' must be one of %s", name, n->text, list.data);
}

/* A host path relative to the recipe directory that must exist (as a directory when
 * want_dir, as a non-directory when want_file). */
static int get_host_path(const struct ctx *c, const struct lade_recipe *r, const struct node *n,
                         const char *name, bool want_dir, bool want_file, char **out)
{
	if (want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	if (n->text[0] == '\0')
		return node_error(c, n, "'%s' must not be empty", name);
	_cleanup_free_ char *abs = lade_path_absolute(r->dir, n->text);
	struct stat st;
	if (stat(abs, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return node_error(c, n, "%s '%s' does not exist", name, n->text);
		return node_error(c, n, "%s '%s' cannot be accessed: %s", name, n->text,
		                  strerror(errno));
	}
	if (want_dir && !S_ISDIR(st.st_mode))
		return node_error(c, n, "%s '%s' is not a directory", name, n->text);
	if (want_file && S_ISDIR(st.st_mode))
		return node_error(c, n, "%s '%s' is a directory, not a file", name, n->text);
	free(*out);
	*out = steal_pointer(&abs);
	return 0;
}

/* ---- value syntaxes ---- */

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool is_alnum(char ch)
{
	return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

static bool is_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* OCI/Docker tag grammar (lade_oci_tag_valid); also used for variant names because references
 * are "<tag>-<variant>". */
static bool valid_tag(const char *s)
{
	return lade_oci_tag_valid(s);
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255 || !is_lower_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(is_lower_alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static int check_platform(const struct ctx *c, const struct node *n, const char *name)
{
	int parts = 1;
	bool ok = n->text[0] != '\0';
	for (const char *s = n->text; *s && ok; s++) {
		if (*s == '/') {
			parts++;
			ok = s[1] != '\0' && s[1] != '/' && s != n->text;
		} else {
			ok = is_alnum(*s) || *s == '_' || *s == '.' || *s == '-';
		}
	}
	if (!ok || parts < 2 || parts > 3)
		return node_error(c, n, "%s '%s' must look like os/arch[/variant] (linux/amd64)",
		                  name, n->text);
	return 0;
}

static int check_libc(const struct ctx *c, const struct node *n, const char *name)
{
	const char *v = NULL;
	if (strncmp(n->text, "glibc-", 6) == 0)
		v = n->text + 6;
	else if (strncmp(n->text, "musl-", 5) == 0)
		v = n->text + 5;
	const char *dot = v ? strchr(v, '.') : NULL;
	if (dot) {
		_cleanup_free_ char *major = xstrndup(v, (size_t)(dot - v));
		if (is_digits(major) && is_digits(dot + 1))
			return 0;
	}
	return node_error(c, n, "%s '%s' must be glibc-X.Y or musl-X.Y", name, n->text);
}

static int check_abs(const struct ctx *c, const struct node *n, const char *name)
{
	return check_image_path(c, n, name);
}

/* "8080/tcp", "8080" (→ "8080/tcp"), "53/udp"; returns the normalised text or NULL. */
static char *parse_port(const char *s)
{
	const char *slash = strchr(s, '/');
	_cleanup_free_ char *port = slash ? xstrndup(s, (size_t)(slash - s)) : xstrdup(s);
	const char *proto = slash ? slash + 1 : "tcp";
	uint32_t v;
	if (!is_digits(port) || lade_parse_u32(port, 10, &v) < 0 || v < 1 || v > 65535)
		return NULL;
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 && strcmp(proto, "sctp") != 0)
		return NULL;
	return xasprintf("%u/%s", (unsigned)v, proto);
}

static bool valid_signal(const char *s)
{
	uint32_t v;
	if (is_digits(s))
		return lade_parse_u32(s, 10, &v) == 0 && v >= 1 && v <= 64;
	if (strncmp(s, "SIG", 3) != 0 || s[3] == '\0')
		return false;
	for (s += 3; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '+' ||
		      *s == '-'))
			return false;
	return true;
}

/* ---- sections ---- */

static const char *const top_keys[] = {"name",        "tag",      "base",   "platforms", "libc",
                                       "python",      "files",    "layers", "config",    "output",
                                       "annotations", "variants", NULL};

static int do_base(const struct ctx *c, const struct node *key, const struct node *n,
                   struct lade_recipe *r)
{
	static const char *const keys[] = {"oci", "docker-archive", "image", "scratch", NULL};
	if (want_kind(c, n, "base", NODE_MAP) < 0 || check_keys(c, n, "in base", keys) < 0)
		return -1;
	const struct node *chosen = NULL, *chosen_key = NULL;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct node *k = n->pairs[i].key, *v = n->pairs[i].value;
		if (strcmp(k->text, "scratch") == 0) {
			bool on;
			if (get_bool(c, v, "base.scratch", &on) < 0)
				return -1;
			if (!on)
				continue;
		}
		if (chosen)
			return node_error(
			        c, k,
			        "base: exactly one of oci, docker-archive, image, scratch "
			        "is required (both '%s' and '%s' are given)",
			        chosen_key->text, k->text);
		chosen = v;
		chosen_key = k;
	}
	if (chosen == NULL)
		return node_error(c, key,
		                  "base: exactly one of oci, docker-archive, image, scratch is "
		                  "required");

	r->base.line = chosen->line;
	r->base.column = chosen->column;
	const char *kind = chosen_key->text;
	if (strcmp(kind, "scratch") == 0) {
		r->base.kind = LADE_BASE_SCRATCH;
		return 0;
	}
	_cleanup_free_ char *name = xasprintf("base.%s", kind);
	_cleanup_free_ char *value = NULL;
	if (get_nonempty(c, chosen, name, &value) < 0)
		return -1;
	if (strcmp(kind, "oci") == 0) {
		r->base.kind = LADE_BASE_OCI;
		char *colon = strrchr(value, ':');
		if (colon && strchr(colon + 1, '/') == NULL) {
			if (colon == value || colon[1] == '\0')
				return node_error(c, chosen, "base.oci '%s' must be DIR or DIR:TAG",
				                  value);
			r->base.tag = xstrdup(colon + 1);
			*colon = '\0';
		}
		r->base.ref = lade_path_absolute(r->dir, value);
	} else if (strcmp(kind, "docker-archive") == 0) {
		r->base.kind = LADE_BASE_DOCKER_ARCHIVE;
		_cleanup_free_ char *whole = lade_path_absolute(r->dir, value);
		struct stat st;
		if (stat(whole, &st) < 0) {
			/* "FILE:repo:tag": the first split whose left side exists wins. */
			for (char *s = strchr(value, ':'); s; s = strchr(s + 1, ':')) {
				_cleanup_free_ char *file = xstrndup(value, (size_t)(s - value));
				_cleanup_free_ char *abs = lade_path_absolute(r->dir, file);
				if (s[1] != '\0' && file[0] != '\0' && stat(abs, &st) == 0 &&
				    !S_ISDIR(st.st_mode)) {
					r->base.ref = steal_pointer(&abs);
					r->base.tag = xstrdup(s + 1);
					break;
				}
			}
		}
		if (r->base.ref == NULL)
			r->base.ref = steal_pointer(&whole);
	} else {
		r->base.kind = LADE_BASE_IMAGE;
		r->base.ref = steal_pointer(&value);
	}
	return 0;
}

static int do_python(const struct ctx *c, const struct node *key, const struct node *n,
                     struct lade_recipe *r)
{
	static const char *const keys[] = {"interpreter", "version",    "venv",    "site-packages",
	                                   "lock",        "wheelhouse", "exclude", NULL};
	struct lade_recipe_python *py = &r->python;
	const struct node *v;
	if (want_kind(c, n, "python", NODE_MAP) < 0 || check_keys(c, n, "in python", keys) < 0)
		return -1;
	py->present = true;
	py->line = key->line;
	py->column = key->column;

	if ((v = map_get(n, "interpreter")) &&
	    get_image_path(c, v, "python.interpreter", &py->interpreter) < 0)
		return -1;
	if ((v = map_get(n, "version"))) {
		if (get_string(c, v, "python.version", &py->version) < 0)
			return -1;
		if (strncmp(py->version, "3.", 2) != 0 || !is_digits(py->version + 2))
			return node_error(c, v, "python.version '%s' must look like 3.X (\"3.11\")",
			                  py->version);
	}

	const struct node *venv = map_get(n, "venv"), *sp = map_get(n, "site-packages");
	if (venv && sp) {
		const struct pair *pv = map_find(n, "venv"), *ps = map_find(n, "site-packages");
		const struct node *later = pv > ps ? pv->key : ps->key;
		return node_error(c, later,
		                  "python: venv and site-packages are mutually exclusive");
	}
	if (sp) {
		if (want_kind(c, sp, "python.site-packages", NODE_SCALAR) < 0)
			return -1;
		if (strcmp(sp->text, "system") != 0)
			return node_error(c, sp, "python.site-packages '%s' must be 'system'",
			                  sp->text);
		py->site_packages_system = true;
	} else if (venv) {
		if (check_image_path(c, venv, "python.venv") < 0)
			return -1;
		_cleanup_free_ char *norm = lade_path_normalize(venv->text, NULL);
		if (norm[0] == '\0')
			return node_error(c, venv, "python.venv must not be '/'");
		py->venv = xasprintf("/%s", norm);
	} else {
		py->venv = xstrdup("/opt/venv");
	}

	if ((v = map_get(n, "lock")) == NULL)
		return node_error(c, key, "python.lock is required");
	if (get_host_path(c, r, v, "python.lock", false, true, &py->lock) < 0)
		return -1;

	if ((v = map_get(n, "wheelhouse"))) {
		if (want_kind(c, v, "python.wheelhouse", NODE_SEQ) < 0)
			return -1;
		if (v->n_items == 0)
			return node_error(c, v, "'python.wheelhouse' must not be empty");
		py->wheelhouse = xcalloc(v->n_items + 1, sizeof(char *));
		for (size_t i = 0; i < v->n_items; i++) {
			_cleanup_free_ char *iname = xasprintf("python.wheelhouse[%zu]", i);
			if (get_host_path(c, r, v->items[i], iname, true, false,
			                  &py->wheelhouse[i]) < 0)
				return -1;
		}
	} else {
		lade_strv_push(&py->wheelhouse, r->dir);
	}
	if ((v = map_get(n, "exclude")) && get_strv(c, v, "python.exclude", NULL, &py->exclude) < 0)
		return -1;
	return 0;
}

static int parse_owner(const char *s, uint32_t *uid, uint32_t *gid)
{
	const char *colon = strchr(s, ':');
	_cleanup_free_ char *u = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
	const char *g = colon ? colon + 1 : u;
	if (!is_digits(u) || !is_digits(g))
		return -1;
	if (lade_parse_u32(u, 10, uid) < 0 || lade_parse_u32(g, 10, gid) < 0)
		return -1;
	return 0;
}

static int do_file_item(const struct ctx *c, const struct node *n, size_t idx,
                        struct lade_recipe *r, struct lade_recipe_files *f)
{
	static const char *const keys[] = {"src",     "dst",          "mode", "owner",
	                                   "exclude", "dockerignore", NULL};
	_cleanup_free_ char *name = xasprintf("files[%zu]", idx);
	_cleanup_free_ char *where = xasprintf("in %s", name);
	const struct node *v;
	if (want_kind(c, n, name, NODE_MAP) < 0 || check_keys(c, n, where, keys) < 0)
		return -1;
	f->line = n->line;
	f->column = n->column;
	f->dockerignore = true;

	_cleanup_free_ char *src_name = xasprintf("%s.src", name);
	if ((v = map_get(n, "src")) == NULL)
		return node_error(c, n, "%s is required", src_name);
	if (get_host_path(c, r, v, src_name, false, false, &f->src) < 0)
		return -1;
	f->src_text = xstrdup(v->text);

	_cleanup_free_ char *dst_name = xasprintf("%s.dst", name);
	if ((v = map_get(n, "dst")) == NULL)
		return node_error(c, n, "%s is required", dst_name);
	if (get_image_path(c, v, dst_name, &f->dst) < 0)
		return -1;

	if ((v = map_get(n, "mode"))) {
		_cleanup_free_ char *mname = xasprintf("%s.mode", name);
		if (want_kind(c, v, mname, NODE_SCALAR) < 0)
			return -1;
		if (!is_digits(v->text) || lade_parse_u32(v->text, 8, &f->mode) < 0 ||
		    f->mode > 07777)
			return node_error(c, v, "%s '%s' must be an octal mode from 0000 to 7777",
			                  mname, v->text);
		f->has_mode = true;
	}
	if ((v = map_get(n, "owner"))) {
		_cleanup_free_ char *oname = xasprintf("%s.owner", name);
		if (want_kind(c, v, oname, NODE_SCALAR) < 0)
			return -1;
		if (parse_owner(v->text, &f->uid, &f->gid) < 0)
			return node_error(c, v, "%s '%s' must be numeric \"UID:GID\" or \"UID\"",
			                  oname, v->text);
		f->has_owner = true;
	}
	if ((v = map_get(n, "exclude"))) {
		_cleanup_free_ char *ename = xasprintf("%s.exclude", name);
		if (get_strv(c, v, ename, NULL, &f->exclude) < 0)
			return -1;
	}
	if ((v = map_get(n, "dockerignore"))) {
		_cleanup_free_ char *dname = xasprintf("%s.dockerignore", name);
		if (get_bool(c, v, dname, &f->dockerignore) < 0)
			return -1;
	}
	return 0;
}

static int do_files(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	if (want_kind(c, n, "files", NODE_SEQ) < 0)
		return -1;
	r->files = xcalloc(n->n_items + 1, sizeof(*r->files));
	for (size_t i = 0; i < n->n_items; i++) {
		r->n_files = i + 1; /* so lade_recipe_free sees the partly filled item */
		if (do_file_item(c, n->items[i], i, r, &r->files[i]) < 0)
			return -1;
	}
	r->n_files = n->n_items;
	return 0;
}

static int get_size(const struct ctx *c, const struct node *n, const char *name, uint64_t *out)
{
	if (want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	if (lade_parse_size(n->text, out) < 0)
		return node_error(c, n, "%s '%s' is not a size (like 64MiB or 4GiB)", name,
		                  n->text);
	if (*out == 0)
		return node_error(c, n, "%s must be greater than 0", name);
	return 0;
}

static int do_layers(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	static const char *const keys[] = {"max-layers", "max-layer-size", "split-threshold",
	                                   "groups", NULL};
	static const char *const gkeys[] = {"name", "packages", "files", NULL};
	struct lade_recipe_layers *l = &r->layers;
	const struct node *v;
	if (want_kind(c, n, "layers", NODE_MAP) < 0 || check_keys(c, n, "in layers", keys) < 0)
		return -1;
	if ((v = map_get(n, "max-layers"))) {
		if (want_kind(c, v, "layers.max-layers", NODE_SCALAR) < 0)
			return -1;
		if (!is_digits(v->text) || lade_parse_u32(v->text, 10, &l->max_layers) < 0 ||
		    l->max_layers < 1 || l->max_layers > 125)
			return node_error(c, v, "layers.max-layers '%s' must be from 1 to 125",
			                  v->text);
	}
	if ((v = map_get(n, "max-layer-size")) &&
	    get_size(c, v, "layers.max-layer-size", &l->max_layer_size) < 0)
		return -1;
	if ((v = map_get(n, "split-threshold")) &&
	    get_size(c, v, "layers.split-threshold", &l->split_threshold) < 0)
		return -1;
	if ((v = map_get(n, "groups")) == NULL)
		return 0;
	if (want_kind(c, v, "layers.groups", NODE_SEQ) < 0)
		return -1;
	l->groups = xcalloc(v->n_items + 1, sizeof(*l->groups));
	for (size_t i = 0; i < v->n_items; i++) {
		const struct node *g = v->items[i], *x;
		struct lade_recipe_group *grp = &l->groups[i];
		l->n_groups = i + 1;
		_cleanup_free_ char *name = xasprintf("layers.groups[%zu]", i);
		_cleanup_free_ char *where = xasprintf("in %s", name);
		if (want_kind(c, g, name, NODE_MAP) < 0 || check_keys(c, g, where, gkeys) < 0)
			return -1;
		_cleanup_free_ char *nname = xasprintf("%s.name", name);
		if ((x = map_get(g, "name")) == NULL)
			return node_error(c, g, "%s is required", nname);
		if (get_nonempty(c, x, nname, &grp->name) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->groups[j].name, grp->name) == 0)
				return node_error(c, x, "%s '%s' is used twice", nname, grp->name);
		_cleanup_free_ char *pname = xasprintf("%s.packages", name);
		if ((x = map_get(g, "packages")) && get_strv(c, x, pname, NULL, &grp->packages) < 0)
			return -1;
		_cleanup_free_ char *fname = xasprintf("%s.files", name);
		if ((x = map_get(g, "files")) && get_strv(c, x, fname, check_abs, &grp->files) < 0)
			return -1;
		if (grp->packages == NULL && grp->files == NULL)
			return node_error(c, g, "%s needs packages or files", name);
	}
	return 0;
}

static int get_command(const struct ctx *c, const struct node *n, const char *name, char ***out)
{
	if (n->kind == NODE_SCALAR && !node_is_null(n)) {
		/* Docker's shell form. */
		lade_strv_free(*out);
		*out = NULL;
		lade_strv_push(out, "/bin/sh");
		lade_strv_push(out, "-c");
		lade_strv_push(out, n->text);
		return 0;
	}
	if (n->kind != NODE_SEQ)
		return node_error(c, n, "'%s' must be a list or a string, not %s", name,
		                  node_kind_name(n));
	return get_strv(c, n, name, NULL, out);
}

static int check_label_keys(const struct ctx *c, const struct node *n, const char *name)
{
	for (size_t i = 0; i < n->n_pairs; i++)
		if (n->pairs[i].key->text[0] == '\0')
			return node_error(c, n->pairs[i].key, "%s keys must not be empty", name);
	return 0;
}

static int do_config(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	static const char *const keys[] = {"user",   "workdir", "env",    "entrypoint",  "cmd",
	                                   "expose", "volumes", "labels", "stop-signal", NULL};
	struct lade_config_spec *cf = &r->config;
	const struct node *v;
	if (want_kind(c, n, "config", NODE_MAP) < 0 || check_keys(c, n, "in config", keys) < 0)
		return -1;
	if ((v = map_get(n, "user")) && get_nonempty(c, v, "config.user", &cf->user) < 0)
		return -1;
	if ((v = map_get(n, "workdir")) && get_image_path(c, v, "config.workdir", &cf->workdir) < 0)
		return -1;
	if ((v = map_get(n, "env"))) {
		if (get_kvs(c, v, "config.env", true, &cf->env, &cf->n_env) < 0 ||
		    check_label_keys(c, v, "config.env") < 0)
			return -1;
	}
	if ((v = map_get(n, "entrypoint"))) {
		if (get_command(c, v, "config.entrypoint", &cf->entrypoint) < 0)
			return -1;
		cf->has_entrypoint = true;
	}
	if ((v = map_get(n, "cmd"))) {
		if (get_command(c, v, "config.cmd", &cf->cmd) < 0)
			return -1;
		cf->has_cmd = true;
	}
	if ((v = map_get(n, "expose"))) {
		if (want_kind(c, v, "config.expose", NODE_SEQ) < 0)
			return -1;
		cf->expose = xcalloc(v->n_items + 1, sizeof(char *));
		for (size_t i = 0; i < v->n_items; i++) {
			_cleanup_free_ char *iname = xasprintf("config.expose[%zu]", i);
			if (want_kind(c, v->items[i], iname, NODE_SCALAR) < 0)
				return -1;
			cf->expose[i] = parse_port(v->items[i]->text);
			if (cf->expose[i] == NULL)
				return node_error(c, v->items[i],
				                  "%s '%s' must be PORT[/tcp|udp|sctp] with a port "
				                  "from 1 to 65535",
				                  iname, v->items[i]->text);
		}
	}
	if ((v = map_get(n, "volumes")) &&
	    get_strv(c, v, "config.volumes", check_abs, &cf->volumes) < 0)
		return -1;
	if ((v = map_get(n, "labels"))) {
		if (get_kvs(c, v, "config.labels", false, &cf->labels, &cf->n_labels) < 0 ||
		    check_label_keys(c, v, "config.labels") < 0)
			return -1;
	}
	if ((v = map_get(n, "stop-signal"))) {
		if (get_string(c, v, "config.stop-signal", &cf->stop_signal) < 0)
			return -1;
		if (!valid_signal(cf->stop_signal))
			return node_error(c, v,
			                  "config.stop-signal '%s' must be a signal name like "
			                  "SIGTERM or a number from 1 to 64",
			                  cf->stop_signal);
	}
	return 0;
}

static int do_output(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	static const char *const keys[] = {"dir", "format", "compression", "sbom", NULL};
	static const char *const formats[] = {"oci", "oci-archive", "docker-archive", NULL};
	static const char *const comps[] = {"gzip", "zstd", "none", NULL};
	static const char *const sboms[] = {"spdx", "cyclonedx", "none", NULL};
	struct lade_recipe_output *o = &r->output;
	const struct node *v;
	if (want_kind(c, n, "output", NODE_MAP) < 0 || check_keys(c, n, "in output", keys) < 0)
		return -1;
	if ((v = map_get(n, "dir"))) {
		_cleanup_free_ char *dir = NULL;
		if (get_nonempty(c, v, "output.dir", &dir) < 0)
			return -1;
		o->dir = lade_path_absolute(r->dir, dir);
	}
	if ((v = map_get(n, "format")) && get_enum(c, v, "output.format", formats, &o->format) < 0)
		return -1;
	if ((v = map_get(n, "compression")) &&
	    get_enum(c, v, "output.compression", comps, &o->compression) < 0)
		return -1;
	if ((v = map_get(n, "sbom")) && get_enum(c, v, "output.sbom", sboms, &o->sbom) < 0)
		return -1;
	return 0;
}

static int validate(const struct ctx *c, const struct node *root, struct lade_recipe *r)
{
	const struct node *v;
	const struct pair *p;
	for (size_t i = 0; i < root->n_pairs; i++)
		if (strcmp(root->pairs[i].key->text, "default") == 0)
			return node_error(c, root->pairs[i].key,
			                  "'default' is only valid inside a variant");
	if (check_keys(c, root, "at top level", top_keys) < 0)
		return -1;

	if ((v = map_get(root, "name")) == NULL)
		return node_error(c, root, "name is required");
	if (get_string(c, v, "name", &r->name) < 0)
		return -1;
	if (!valid_name(r->name))
		return node_error(c, v,
		                  "name '%s' must be lowercase letters, digits, '.', '_' and '-', "
		                  "starting with a letter or digit",
		                  r->name);

	if ((v = map_get(root, "tag"))) {
		if (get_string(c, v, "tag", &r->tag) < 0)
			return -1;
		if (!valid_tag(r->tag))
			return node_error(c, v,
			                  "tag '%s' must be letters, digits, '.', '_' and '-' "
			                  "(at most 128, not starting with '.' or '-')",
			                  r->tag);
	}

	if ((p = map_find(root, "base")) == NULL)
		return node_error(c, root,
		                  "base: exactly one of oci, docker-archive, image, scratch is "
		                  "required");
	if (do_base(c, p->key, p->value, r) < 0)
		return -1;

	if ((v = map_get(root, "platforms"))) {
		if (get_strv(c, v, "platforms", check_platform, &r->platforms) < 0)
			return -1;
		if (r->platforms[0] == NULL)
			return node_error(c, v, "'platforms' must not be empty");
		for (size_t i = 1; r->platforms[i]; i++)
			for (size_t j = 0; j < i; j++)
				if (strcmp(r->platforms[i], r->platforms[j]) == 0)
					return node_error(c, v->items[i],
					                  "platforms[%zu] '%s' is listed twice", i,
					                  r->platforms[i]);
	}
	if ((v = map_get(root, "libc"))) {
		if (want_kind(c, v, "libc", NODE_SCALAR) < 0 || check_libc(c, v, "libc") < 0)
			return -1;
		r->libc = xstrdup(v->text);
	}
	if ((p = map_find(root, "python")) && do_python(c, p->key, p->value, r) < 0)
		return -1;
	if ((v = map_get(root, "files")) && do_files(c, v, r) < 0)
		return -1;
	if ((v = map_get(root, "layers")) && do_layers(c, v, r) < 0)
		return -1;
	if ((v = map_get(root, "config")) && do_config(c, v, r) < 0)
		return -1;
	if ((v = map_get(root, "annotations"))) {
		if (get_kvs(c, v, "annotations", false, &r->annotations, &r->n_annotations) < 0 ||
		    check_label_keys(c, v, "annotations") < 0)
			return -1;
	}
	if ((v = map_get(root, "output")) && do_output(c, v, r) < 0)
		return -1;
	return 0;
}

static void fill_defaults(struct lade_recipe *r)
{
	if (r->tag == NULL)
		r->tag = xstrdup("latest");
	if (r->platforms == NULL)
		lade_strv_push(&r->platforms, "linux/amd64");
	if (r->layers.max_layers == 0)
		r->layers.max_layers = 60;
	if (r->layers.max_layer_size == 0)
		r->layers.max_layer_size = UINT64_C(4) << 30;
	if (r->layers.split_threshold == 0)
		r->layers.split_threshold = UINT64_C(64) << 20;
	if (r->output.format == NULL)
		r->output.format = xstrdup("oci");
	if (r->output.compression == NULL)
		r->output.compression = xstrdup("gzip");
	if (r->output.sbom == NULL)
		r->output.sbom = xstrdup("none");
}

/* ---- variants ---- */

/* Check the `variants:` mapping: names, overlay shape, at most one default. Every overlay's
 * keys are checked even when another variant is built, so a typo never waits for its turn. */
static int check_variants(const struct ctx *c, const struct node *vars, char ***names,
                          char **default_name)
{
	static const char *const overlay_keys[] = {
	        "name",   "tag",    "base",        "platforms", "libc",    "python", "files",
	        "layers", "config", "annotations", "output",    "default", NULL};
	const struct node *default_key = NULL;
	_cleanup_strv_ char **v = NULL;
	_cleanup_free_ char *def = NULL;

	if (want_kind(c, vars, "variants", NODE_MAP) < 0)
		return -1;
	for (size_t i = 0; i < vars->n_pairs; i++) {
		const struct node *k = vars->pairs[i].key, *o = vars->pairs[i].value;
		if (!valid_tag(k->text))
			return node_error(c, k,
			                  "variant name '%s' must be letters, digits, '.', '_' and "
			                  "'-' (not starting with '.' or '-')",
			                  k->text);
		_cleanup_free_ char *name = xasprintf("variants.%s", k->text);
		_cleanup_free_ char *where = xasprintf("in %s", name);
		if (want_kind(c, o, name, NODE_MAP) < 0)
			return -1;
		const struct pair *nested = map_find(o, "variants");
		if (nested)
			return node_error(c, nested->key,
			                  "variants cannot be nested (in variant '%s')", k->text);
		if (check_keys(c, o, where, overlay_keys) < 0)
			return -1;
		const struct pair *d = map_find(o, "default");
		if (d) {
			_cleanup_free_ char *dname = xasprintf("%s.default", name);
			bool on;
			if (get_bool(c, d->value, dname, &on) < 0)
				return -1;
			if (on && default_key)
				return node_error(c, d->key,
				                  "variants '%s' and '%s' are both marked default",
				                  def, k->text);
			if (on) {
				default_key = d->key;
				def = xstrdup(k->text);
			}
		}
		lade_strv_push(&v, k->text);
	}
	*names = steal_pointer(&v);
	*default_name = steal_pointer(&def);
	return 0;
}

/* Merge overlay `over` into `base` (both mappings), consuming over's children: maps merge key
 * by key, everything else replaces; a null value removes the key (so a variant can switch
 * `base: {oci: null, scratch: true}`). */
static void merge_maps(struct node *base, struct node *over)
{
	_cleanup_free_ struct pair **sorted = map_sorted(base);
	size_t n_base = base->n_pairs;
	_cleanup_free_ struct pair *added = NULL;
	size_t n_added = 0, alloc_added = 0;
	_cleanup_free_ bool *removed = xcalloc(n_base + 1, sizeof(bool));

	for (size_t i = 0; i < over->n_pairs; i++) {
		struct pair *op = &over->pairs[i];
		struct pair key_pair = {.key = op->key, .value = NULL};
		struct pair *needle = &key_pair;
		struct pair **hit = bsearch(&needle, sorted, n_base, sizeof(*sorted), pair_ptr_cmp);
		struct pair *bp = hit ? *hit : NULL;
		if (bp && node_is_null(op->value)) {
			removed[bp - base->pairs] = true;
		} else if (bp && bp->value->kind == NODE_MAP && op->value->kind == NODE_MAP) {
			merge_maps(bp->value, op->value);
		} else if (bp) {
			node_free(bp->value);
			bp->value = steal_pointer(&op->value);
		} else if (!node_is_null(op->value)) {
			lade_grow(&added, sizeof(*added), n_added + 1, &alloc_added);
			added[n_added].key = steal_pointer(&op->key);
			added[n_added].value = steal_pointer(&op->value);
			n_added++;
		}
	}
	/* Removals and appends only now: `sorted` points into base->pairs. */
	size_t w = 0;
	for (size_t i = 0; i < n_base; i++) {
		if (removed[i]) {
			node_free(base->pairs[i].key);
			node_free(base->pairs[i].value);
			continue;
		}
		base->pairs[w++] = base->pairs[i];
	}
	base->n_pairs = w;
	for (size_t i = 0; i < n_added; i++) {
		lade_grow(&base->pairs, sizeof(*base->pairs), base->n_pairs + 1,
		          &base->alloc_pairs);
		base->pairs[base->n_pairs++] = added[i];
	}
}

/* ---- public ---- */

void lade_recipe_free(struct lade_recipe *r)
{
	if (r == NULL)
		return;
	free(r->path);
	free(r->dir);
	free(r->name);
	free(r->tag);
	free(r->variant);
	free(r->base.ref);
	free(r->base.tag);
	lade_strv_free(r->platforms);
	free(r->libc);
	free(r->python.interpreter);
	free(r->python.version);
	free(r->python.venv);
	free(r->python.lock);
	lade_strv_free(r->python.wheelhouse);
	lade_strv_free(r->python.exclude);
	for (size_t i = 0; i < r->n_files; i++) {
		free(r->files[i].src);
		free(r->files[i].src_text);
		free(r->files[i].dst);
		lade_strv_free(r->files[i].exclude);
	}
	free(r->files);
	for (size_t i = 0; i < r->layers.n_groups; i++) {
		free(r->layers.groups[i].name);
		lade_strv_free(r->layers.groups[i].packages);
		lade_strv_free(r->layers.groups[i].files);
	}
	free(r->layers.groups);
	free(r->config.user);
	free(r->config.workdir);
	free(r->config.stop_signal);
	kvs_free(r->config.env, r->config.n_env);
	lade_strv_free(r->config.entrypoint);
	lade_strv_free(r->config.cmd);
	lade_strv_free(r->config.expose);
	lade_strv_free(r->config.volumes);
	kvs_free(r->config.labels, r->config.n_labels);
	kvs_free(r->annotations, r->n_annotations);
	free(r->output.dir);
	free(r->output.format);
	free(r->output.compression);
	free(r->output.sbom);
	lade_strv_free(r->variant_names);
	free(r->default_variant);
	free(r);
}

void lade_recipe_freep(struct lade_recipe **r)
{
	lade_recipe_free(*r);
	*r = NULL;
}

int lade_recipe_load(const char *path, const char *variant, struct lade_recipe **out,
                     struct lade_error **err)
{
	struct ctx c = {.file = path, .err = err};
	_cleanup_(node_freep) struct node *root = NULL;
	if (load_tree(&c, path, &root) < 0)
		return -1;

	_cleanup_(lade_recipe_freep) struct lade_recipe *r = xzalloc(sizeof(*r));
	r->path = lade_path_absolute(NULL, path);
	r->dir = lade_path_parent_dir(r->path);

	_cleanup_(node_freep) struct node *vars = map_take(root, "variants");
	if (vars && check_variants(&c, vars, &r->variant_names, &r->default_variant) < 0)
		return -1;
	if (variant) {
		struct pair *vp = vars ? map_find(vars, variant) : NULL;
		if (vp == NULL) {
			if (r->variant_names == NULL)
				return mark_error(&c, 0, 0,
				                  "unknown variant '%s' (the recipe declares none)",
				                  variant);
			_cleanup_buf_ struct lade_buf list = LADE_BUF_INIT;
			for (char **s = r->variant_names; *s; s++)
				lade_buf_addf(&list, "%s%s", s == r->variant_names ? "" : ", ", *s);
			return mark_error(&c, 0, 0, "unknown variant '%s' (declared: %s)", variant,
			                  list.data);
		}
		node_free(map_take(vp->value, "default"));
		merge_maps(root, vp->value);
		r->variant = xstrdup(variant);
	}

	if (validate(&c, root, r) < 0)
		return -1;
	fill_defaults(r);
	*out = steal_pointer(&r);
	return 0;
}

int lade_recipe_variants(const char *path, char ***names, char **default_name,
                         struct lade_error **err)
{
	struct ctx c = {.file = path, .err = err};
	_cleanup_(node_freep) struct node *root = NULL;
	*names = NULL;
	*default_name = NULL;
	if (load_tree(&c, path, &root) < 0)
		return -1;
	const struct node *vars = map_get(root, "variants");
	if (vars == NULL)
		return 0;
	return check_variants(&c, vars, names, default_name);
}
