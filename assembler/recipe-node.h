/* lade — the recipe reader's own header (assembler/recipe*.c only): the node tree the YAML is
 * read into, with line:column on every node, and the helpers the sections are written with.
 * Every function that fails sets c->err to "FILE:LINE:COLUMN: what is wrong" and returns -1. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lade/recipe.h"
#include "lade/util.h"

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

struct ctx {
	const char *file; /* as given to lade_recipe_load, for messages */
	struct lade_error **err;
};

/* The tree (recipe-yaml.c). */
int recipe_load_tree(const struct ctx *c, const char *path, struct node **out);
void recipe_node_free(struct node *n);
void recipe_node_freep(struct node **n);
bool recipe_node_is_null(const struct node *n);
const char *recipe_node_kind_name(const struct node *n);
struct pair *recipe_map_find(const struct node *m, const char *key);
const struct node *recipe_map_get(const struct node *m, const char *key);
struct node *recipe_map_take(struct node *m, const char *key); /* removed from m, owned */
/* Merge overlay `over` into `base` (both mappings), consuming over's children: maps merge key
 * by key, everything else replaces; a null value removes the key. */
void recipe_merge_maps(struct node *base, struct node *over);

/* Errors at a place: line 0 means the file as a whole. Both return -1. */
int recipe_mark_error(const struct ctx *c, int line, int column, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
int recipe_node_error(const struct ctx *c, const struct node *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Unknown keys of mapping m ("did you mean"); `where` is "at top level", "in config" … */
int recipe_check_keys(const struct ctx *c, const struct node *m, const char *where,
                      const char *const *known);

/* Typed getters: `name` is the dotted path used in messages ("config.user"). */
int recipe_want_kind(const struct ctx *c, const struct node *n, const char *name,
                     enum node_kind kind);
int recipe_get_string(const struct ctx *c, const struct node *n, const char *name, char **out);
int recipe_get_nonempty(const struct ctx *c, const struct node *n, const char *name, char **out);
int recipe_check_image_path(const struct ctx *c, const struct node *n, const char *name);
int recipe_get_image_path(const struct ctx *c, const struct node *n, const char *name, char **out);
int recipe_get_bool(const struct ctx *c, const struct node *n, const char *name, bool *out);
int recipe_get_strv(const struct ctx *c, const struct node *n, const char *name,
                    int (*check)(const struct ctx *, const struct node *, const char *),
                    char ***out);
void recipe_kvs_free(struct lade_kv *kv, size_t n);
int recipe_get_kvs(const struct ctx *c, const struct node *n, const char *name, bool env_names,
                   struct lade_kv **out, size_t *n_out);
int recipe_get_enum(const struct ctx *c, const struct node *n, const char *name,
                    const char *const *allowed, char **out);
/* A host path relative to the recipe directory that must exist (as a directory when
 * want_dir, as a non-directory when want_file). */
int recipe_get_host_path(const struct ctx *c, const struct lade_recipe *r, const struct node *n,
                         const char *name, bool want_dir, bool want_file, char **out);

/* The sections (recipe-sections.c). */
bool recipe_valid_tag(const char *s);
int recipe_validate(const struct ctx *c, const struct node *root, struct lade_recipe *r);
void recipe_fill_defaults(struct lade_recipe *r);
