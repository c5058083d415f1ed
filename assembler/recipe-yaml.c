/* lade — recipe YAML: libyaml events → a node tree that keeps every line:column (and refuses
 * what a recipe never needs: aliases, several documents, deep nesting), the variant overlay
 * merge, key checks with suggestions and the typed getters the sections use. Scalars stay
 * text: `tag: 1.0` is "1.0" and `mode: 0444` is "0444", never a float or an int that YAML 1.1
 * would have reinterpreted. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "recipe-node.h"

#define RECIPE_MAX_SIZE  (1u << 20)
#define RECIPE_MAX_DEPTH 32

void recipe_node_free(struct node *n)
{
	if (n == NULL)
		return;
	free(n->text);
	for (size_t i = 0; i < n->n_items; i++)
		recipe_node_free(n->items[i]);
	free(n->items);
	for (size_t i = 0; i < n->n_pairs; i++) {
		recipe_node_free(n->pairs[i].key);
		recipe_node_free(n->pairs[i].value);
	}
	free(n->pairs);
	free(n);
}

void recipe_node_freep(struct node **n)
{
	recipe_node_free(*n);
	*n = NULL;
}

bool recipe_node_is_null(const struct node *n)
{
	if (n->kind != NODE_SCALAR || n->quoted)
		return false;
	return n->text[0] == '\0' || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

const char *recipe_node_kind_name(const struct node *n)
{
	if (recipe_node_is_null(n))
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

struct pair *recipe_map_find(const struct node *m, const char *key)
{
	for (size_t i = 0; i < m->n_pairs; i++)
		if (strcmp(m->pairs[i].key->text, key) == 0)
			return &m->pairs[i];
	return NULL;
}

const struct node *recipe_map_get(const struct node *m, const char *key)
{
	const struct pair *p = recipe_map_find(m, key);
	return p ? p->value : NULL;
}

/* Take key out of the mapping; the caller owns the returned value (NULL when absent). */
struct node *recipe_map_take(struct node *m, const char *key)
{
	struct pair *p = recipe_map_find(m, key);
	if (p == NULL)
		return NULL;
	struct node *v = p->value;
	recipe_node_free(p->key);
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

int recipe_mark_error(const struct ctx *c, int line, int column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmark_error(c, line, column, fmt, ap);
	va_end(ap);
	return -1;
}

int recipe_node_error(const struct ctx *c, const struct node *n, const char *fmt, ...)
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
		return recipe_mark_error(c, 0, 0, "malformed YAML: %s at byte %zu", problem,
		                         p->problem_offset);
	if (p->error == YAML_MEMORY_ERROR)
		return recipe_mark_error(c, 0, 0, "malformed YAML: out of memory");
	return recipe_mark_error(c, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
	                         "malformed YAML: %s", problem);
}

/* Anchors and aliases would let a small file expand into a huge tree ("billion laughs") and
 * make line:column ambiguous; a recipe never needs them. Only the standard tags are let
 * through, and they change nothing: every scalar is kept as text. */
static int check_node_props(const struct ctx *c, int line, int column, const yaml_char_t *anchor,
                            const yaml_char_t *tag)
{
	if (anchor)
		return recipe_mark_error(c, line, column,
		                         "anchors and aliases are not allowed (&%s)",
		                         (const char *)anchor);
	if (tag && strcmp((const char *)tag, "!") != 0 &&
	    strncmp((const char *)tag, "tag:yaml.org,2002:", 18) != 0)
		return recipe_mark_error(c, line, column, "unsupported YAML tag '%s'",
		                         (const char *)tag);
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
		_cleanup_(recipe_node_freep) struct node *key = NULL;
		if (parse_node(c, p, &kev, depth + 1, &key) < 0)
			return -1;
		if (key->kind != NODE_SCALAR)
			return recipe_node_error(c, key, "mapping keys must be strings, not %s",
			                         recipe_node_kind_name(key));
		if (recipe_node_is_null(key))
			return recipe_node_error(c, key, "empty mapping key");

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
		return recipe_node_error(c, later, "duplicate key '%s' (first at line %d)",
		                         later->text, first->line);
	}
	return 0;
}

static int parse_node(const struct ctx *c, yaml_parser_t *p, yaml_event_t *ev, int depth,
                      struct node **out)
{
	int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
	_cleanup_(recipe_node_freep) struct node *n = xzalloc(sizeof(*n));
	n->line = line;
	n->column = column;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return recipe_mark_error(c, line, column,
		                         "anchors and aliases are not allowed (*%s)",
		                         (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT: {
		if (check_node_props(c, line, column, ev->data.scalar.anchor, ev->data.scalar.tag) <
		    0)
			return -1;
		const char *v = (const char *)ev->data.scalar.value;
		size_t len = ev->data.scalar.length;
		if (strnlen(v, len) != len)
			return recipe_mark_error(c, line, column,
			                         "a string contains a NUL character");
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
			return recipe_mark_error(c, line, column, "nesting deeper than %d levels",
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
			return recipe_mark_error(c, line, column, "nesting deeper than %d levels",
			                         RECIPE_MAX_DEPTH);
		n->kind = NODE_MAP;
		if (parse_map(c, p, depth, n) < 0)
			return -1;
		break;
	default:
		return recipe_mark_error(c, line, column, "malformed YAML: unexpected event");
	}
	*out = steal_pointer(&n);
	return 0;
}

static int parse_yaml(const struct ctx *c, const char *data, size_t len, struct node **out)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return recipe_mark_error(c, 0, 0, "cannot initialise the YAML parser");
	_cleanup_(parser_deletep) yaml_parser_t *p = &parser;
	yaml_parser_set_input_string(p, (const unsigned char *)data, len);

	_cleanup_(event_deletep) yaml_event_t stream;
	if (next_event(c, p, &stream) < 0)
		return -1;
	_cleanup_(event_deletep) yaml_event_t doc;
	if (next_event(c, p, &doc) < 0)
		return -1;
	if (doc.type != YAML_DOCUMENT_START_EVENT)
		return recipe_mark_error(c, 0, 0, "the recipe is empty");
	_cleanup_(event_deletep) yaml_event_t first;
	if (next_event(c, p, &first) < 0)
		return -1;
	_cleanup_(recipe_node_freep) struct node *root = NULL;
	if (parse_node(c, p, &first, 1, &root) < 0)
		return -1;
	_cleanup_(event_deletep) yaml_event_t end;
	if (next_event(c, p, &end) < 0)
		return -1;
	_cleanup_(event_deletep) yaml_event_t after;
	if (next_event(c, p, &after) < 0)
		return -1;
	if (after.type != YAML_STREAM_END_EVENT)
		return recipe_mark_error(c, (int)after.start_mark.line + 1,
		                         (int)after.start_mark.column + 1,
		                         "only one YAML document is allowed in a recipe");
	if (root->kind != NODE_MAP)
		return recipe_node_error(c, root, "the recipe must be a mapping, not %s",
		                         recipe_node_kind_name(root));
	*out = steal_pointer(&root);
	return 0;
}

int recipe_load_tree(const struct ctx *c, const char *path, struct node **out)
{
	_cleanup_buf_ struct lade_buf data = LADE_BUF_INIT;
	struct stat st;
	if (stat(path, &st) < 0)
		return lade_error_set(c->err, errno, "cannot read recipe %s", path);
	if (S_ISREG(st.st_mode) && st.st_size > (off_t)RECIPE_MAX_SIZE)
		return recipe_mark_error(c, 0, 0, "the recipe is larger than 1 MiB");
	_cleanup_error_ struct lade_error *rerr = NULL;
	if (lade_read_file(path, RECIPE_MAX_SIZE, &data, &rerr) < 0) {
		if (data.len > 0) /* read up to the limit: a special file that kept going */
			return recipe_mark_error(c, 0, 0, "the recipe is larger than 1 MiB");
		return lade_error_set(c->err, 0, "cannot read recipe: %s", rerr->msg);
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
int recipe_check_keys(const struct ctx *c, const struct node *m, const char *where,
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
			return recipe_node_error(c, k, "unknown key '%s' %s (did you mean '%s'?)",
			                         k->text, where, best);
		return recipe_node_error(c, k, "unknown key '%s' %s", k->text, where);
	}
	return 0;
}

/* ---- typed getters: `name` is the dotted path used in messages ("config.user") ---- */

int recipe_want_kind(const struct ctx *c, const struct node *n, const char *name,
                     enum node_kind kind)
{
	static const char *const names[] = {"a string", "a list", "a mapping"};
	if (n->kind == kind && !(kind == NODE_SCALAR && recipe_node_is_null(n)))
		return 0;
	return recipe_node_error(c, n, "'%s' must be %s, not %s", name, names[kind],
	                         recipe_node_kind_name(n));
}

int recipe_get_string(const struct ctx *c, const struct node *n, const char *name, char **out)
{
	if (recipe_want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	free(*out);
	*out = xstrdup(n->text);
	return 0;
}

int recipe_get_nonempty(const struct ctx *c, const struct node *n, const char *name, char **out)
{
	if (recipe_want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	if (n->text[0] == '\0')
		return recipe_node_error(c, n, "'%s' must not be empty", name);
	return recipe_get_string(c, n, name, out);
}

/* An absolute image path, checked not to climb above "/" so later stages can normalise it. */
int recipe_check_image_path(const struct ctx *c, const struct node *n, const char *name)
{
	if (recipe_want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	if (n->text[0] != '/')
		return recipe_node_error(c, n, "%s '%s' must be an absolute path", name, n->text);
	_cleanup_error_ struct lade_error *e = NULL;
	_cleanup_free_ char *norm = lade_path_normalize(n->text, &e);
	if (norm == NULL)
		return recipe_node_error(c, n, "%s '%s' climbs above the root", name, n->text);
	return 0;
}

int recipe_get_image_path(const struct ctx *c, const struct node *n, const char *name, char **out)
{
	if (recipe_check_image_path(c, n, name) < 0)
		return -1;
	return recipe_get_string(c, n, name, out);
}

int recipe_get_bool(const struct ctx *c, const struct node *n, const char *name, bool *out)
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
	if (n->kind == NODE_SCALAR && !recipe_node_is_null(n))
		return recipe_node_error(c, n, "'%s' must be true or false, not '%s'", name,
		                         n->text);
	return recipe_node_error(c, n, "'%s' must be true or false, not %s", name,
	                         recipe_node_kind_name(n));
}

/* A list of strings; every element checked by `check` when given. */
int recipe_get_strv(const struct ctx *c, const struct node *n, const char *name,
                    int (*check)(const struct ctx *, const struct node *, const char *),
                    char ***out)
{
	if (recipe_want_kind(c, n, name, NODE_SEQ) < 0)
		return -1;
	_cleanup_strv_ char **v = xcalloc(n->n_items + 1, sizeof(char *));
	for (size_t i = 0; i < n->n_items; i++) {
		_cleanup_free_ char *iname = xasprintf("%s[%zu]", name, i);
		if (recipe_want_kind(c, n->items[i], iname, NODE_SCALAR) < 0)
			return -1;
		if (check && check(c, n->items[i], iname) < 0)
			return -1;
		v[i] = xstrdup(n->items[i]->text);
	}
	lade_strv_free(*out);
	*out = steal_pointer(&v);
	return 0;
}

void recipe_kvs_free(struct lade_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* A mapping of string → scalar, values kept as text in file order. */
int recipe_get_kvs(const struct ctx *c, const struct node *n, const char *name, bool env_names,
                   struct lade_kv **out, size_t *n_out)
{
	if (recipe_want_kind(c, n, name, NODE_MAP) < 0)
		return -1;
	struct lade_kv *kv = xcalloc(n->n_pairs + 1, sizeof(*kv));
	size_t k = 0;
	for (; k < n->n_pairs; k++) {
		const struct node *key = n->pairs[k].key, *val = n->pairs[k].value;
		_cleanup_free_ char *vname = xasprintf("%s.%s", name, key->text);
		if (env_names && strchr(key->text, '=')) {
			recipe_node_error(c, key, "%s name '%s' must not contain '='", name,
			                  key->text);
			break;
		}
		if (recipe_want_kind(c, val, vname, NODE_SCALAR) < 0)
			break;
		kv[k].key = xstrdup(key->text);
		kv[k].value = xstrdup(val->text);
	}
	if (k < n->n_pairs) {
		recipe_kvs_free(kv, k);
		return -1;
	}
	recipe_kvs_free(*out, *n_out);
	*out = kv;
	*n_out = k;
	return 0;
}

int recipe_get_enum(const struct ctx *c, const struct node *n, const char *name,
                    const char *const *allowed, char **out)
{
	if (recipe_want_kind(c, n, name, NODE_SCALAR) < 0)
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
	return recipe_node_error(c, n, "%s '%s' must be one of %s", name, n->text, list.data);
}

/* A host path relative to the recipe directory that must exist (as a directory when
 * want_dir, as a non-directory when want_file). */
int recipe_get_host_path(const struct ctx *c, const struct lade_recipe *r, const struct node *n,
                         const char *name, bool want_dir, bool want_file, char **out)
{
	if (recipe_want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	if (n->text[0] == '\0')
		return recipe_node_error(c, n, "'%s' must not be empty", name);
	_cleanup_free_ char *abs = lade_path_absolute(r->dir, n->text);
	struct stat st;
	if (stat(abs, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return recipe_node_error(c, n, "%s '%s' does not exist", name, n->text);
		return recipe_node_error(c, n, "%s '%s' cannot be accessed: %s", name, n->text,
		                         strerror(errno));
	}
	if (want_dir && !S_ISDIR(st.st_mode))
		return recipe_node_error(c, n, "%s '%s' is not a directory", name, n->text);
	if (want_file && S_ISDIR(st.st_mode))
		return recipe_node_error(c, n, "%s '%s' is a directory, not a file", name, n->text);
	free(*out);
	*out = steal_pointer(&abs);
	return 0;
}

/* Merge overlay `over` into `base` (both mappings), consuming over's children: maps merge key
 * by key, everything else replaces; a null value removes the key (so a variant can switch
 * `base: {oci: null, scratch: true}`). */
void recipe_merge_maps(struct node *base, struct node *over)
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
		if (bp && recipe_node_is_null(op->value)) {
			removed[bp - base->pairs] = true;
		} else if (bp && bp->value->kind == NODE_MAP && op->value->kind == NODE_MAP) {
			recipe_merge_maps(bp->value, op->value);
		} else if (bp) {
			recipe_node_free(bp->value);
			bp->value = steal_pointer(&op->value);
		} else if (!recipe_node_is_null(op->value)) {
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
			recipe_node_free(base->pairs[i].key);
			recipe_node_free(base->pairs[i].value);
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
