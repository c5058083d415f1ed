/* lade — recipe v1 (see include/lade/recipe.h and docs/recipe.md).
 *
 * Three steps: libyaml events become a small node tree that keeps every line:column
 * (recipe-yaml.c); the chosen variant is merged over the top level (here); the merged tree is
 * validated into struct lade_recipe (recipe-sections.c). */
#include <string.h>

#include "recipe-node.h"

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

	if (recipe_want_kind(c, vars, "variants", NODE_MAP) < 0)
		return -1;
	for (size_t i = 0; i < vars->n_pairs; i++) {
		const struct node *k = vars->pairs[i].key, *o = vars->pairs[i].value;
		if (!recipe_valid_tag(k->text))
			return recipe_node_error(
			        c, k,
			        "variant name '%s' must be letters, digits, '.', '_' and "
			        "'-' (not starting with '.' or '-')",
			        k->text);
		_cleanup_free_ char *name = xasprintf("variants.%s", k->text);
		_cleanup_free_ char *where = xasprintf("in %s", name);
		if (recipe_want_kind(c, o, name, NODE_MAP) < 0)
			return -1;
		const struct pair *nested = recipe_map_find(o, "variants");
		if (nested)
			return recipe_node_error(c, nested->key,
			                         "variants cannot be nested (in variant '%s')",
			                         k->text);
		if (recipe_check_keys(c, o, where, overlay_keys) < 0)
			return -1;
		const struct pair *d = recipe_map_find(o, "default");
		if (d) {
			_cleanup_free_ char *dname = xasprintf("%s.default", name);
			bool on;
			if (recipe_get_bool(c, d->value, dname, &on) < 0)
				return -1;
			if (on && default_key)
				return recipe_node_error(
				        c, d->key, "variants '%s' and '%s' are both marked default",
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

/* ---- public ---- */

void lade_recipe_free(struct lade_recipe *r)
{
	if (r == NULL)
		return;
	free(r->path);
	free(r->dir);
	free(r->context);
	free(r->name);
	free(r->tag);
	free(r->variant);
	free(r->cache_to);
	lade_strv_free(r->cache_from);
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
	free(r->python.compiler);
	for (size_t i = 0; i < r->n_files; i++) {
		free(r->files[i].src);
		free(r->files[i].src_real);
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
	recipe_kvs_free(r->config.env, r->config.n_env);
	lade_strv_free(r->config.entrypoint);
	lade_strv_free(r->config.cmd);
	lade_strv_free(r->config.expose);
	lade_strv_free(r->config.volumes);
	recipe_kvs_free(r->config.labels, r->config.n_labels);
	recipe_kvs_free(r->annotations, r->n_annotations);
	free(r->output.dir);
	free(r->output.format);
	free(r->output.compression);
	free(r->output.sbom);
	free(r->output.lazy);
	lade_strv_free(r->output.prefetch);
	free(r->output.max_size_text);
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
	_cleanup_(recipe_node_freep) struct node *root = NULL;
	if (recipe_load_tree(&c, path, &root) < 0)
		return -1;

	_cleanup_(lade_recipe_freep) struct lade_recipe *r = xzalloc(sizeof(*r));
	r->path = lade_path_absolute(NULL, path);
	r->dir = lade_path_parent_dir(r->path);

	_cleanup_(recipe_node_freep) struct node *vars = recipe_map_take(root, "variants");
	if (vars && check_variants(&c, vars, &r->variant_names, &r->default_variant) < 0)
		return -1;
	if (variant) {
		struct pair *vp = vars ? recipe_map_find(vars, variant) : NULL;
		if (vp == NULL) {
			if (r->variant_names == NULL)
				return recipe_mark_error(
				        &c, 0, 0, "unknown variant '%s' (the recipe declares none)",
				        variant);
			_cleanup_buf_ struct lade_buf list = LADE_BUF_INIT;
			for (char **s = r->variant_names; *s; s++)
				lade_buf_addf(&list, "%s%s", s == r->variant_names ? "" : ", ", *s);
			return recipe_mark_error(&c, 0, 0, "unknown variant '%s' (declared: %s)",
			                         variant, list.data);
		}
		recipe_node_free(recipe_map_take(vp->value, "default"));
		recipe_merge_maps(root, vp->value);
		r->variant = xstrdup(variant);
	}

	if (recipe_validate(&c, root, r) < 0)
		return -1;
	recipe_fill_defaults(r);
	*out = steal_pointer(&r);
	return 0;
}

int lade_recipe_variants(const char *path, char ***names, char **default_name,
                         struct lade_error **err)
{
	struct ctx c = {.file = path, .err = err};
	_cleanup_(recipe_node_freep) struct node *root = NULL;
	*names = NULL;
	*default_name = NULL;
	if (recipe_load_tree(&c, path, &root) < 0)
		return -1;
	const struct node *vars = recipe_map_get(root, "variants");
	if (vars == NULL)
		return 0;
	return check_variants(&c, vars, names, default_name);
}
