/* lade — the Python plan of one image (see include/lade/prepare.h). */
#include <stdarg.h>
#include <string.h>

#include "lade/libc.h"
#include "lade/pep508.h"
#include "lade/prepare.h"
#include "lade/tags.h"
#include "lade/util.h"
#include "lade/venv.h"

static void note(const struct lade_py_spec *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void note(const struct lade_py_spec *s, const char *fmt, ...)
{
	if (s->note == NULL)
		return;
	struct lade_buf b = LADE_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	s->note(s->note_ctx, b.data);
	lade_buf_release(&b);
}

void lade_py_plan_release(struct lade_py_plan *p)
{
	for (size_t i = 0; i < p->n_sel; i++)
		if (p->wheels)
			lade_wheel_free(p->wheels[i]);
	free(p->wheels);
	if (p->sel)
		lade_selected_free(p->sel, p->n_sel);
	lade_lock_free(p->lock);
	if (p->has_scheme)
		lade_install_scheme_release(&p->scheme);
	lade_strv_free(p->env);
}

uint64_t lade_wheel_installed_size(const struct lade_wheel *w)
{
	uint64_t n = 0;
	for (size_t i = 0; i < lade_wheel_member_count(w); i++)
		n += lade_wheel_member(w, i)->usize;
	return n;
}

static const char *config_env_value(const json_t *config, const char *key)
{
	json_t *env = json_object_get(json_object_get(config, "config"), "Env");
	size_t i, klen = strlen(key);
	json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
			return s + klen + 1;
	}
	return NULL;
}

/* site-packages: system — the wheels go where `pip install` run as root by the base's own
 * interpreter puts them. No skeleton, no environment: the base's PATH already finds the
 * interpreter and its scripts directory. Distributions the base has already are kept when
 * they are the locked version (pip: "Requirement already satisfied") and dropped from the
 * selection; another version is an error, since lade never removes what the base holds. */
static int prepare_system(const struct lade_py_spec *s, const struct lade_tree *tree,
                          struct lade_py_plan *p, struct lade_error **err)
{
	if (lade_install_scheme_system(s->interpreter, s->version, tree, &p->scheme, err) < 0)
		return lade_error_prefix(err, "%s:%d:%d: python: site-packages: system",
		                         s->recipe_path, s->line, s->column);
	p->has_scheme = true;
	p->scheme.exclude = lade_strv_copy(s->exclude);
	note(s, "python site directory /%s (scripts in /%s)", p->scheme.purelib, p->scheme.scripts);
	for (size_t i = 0; i < p->n_sel;) {
		struct lade_selected *sel = &p->sel[i];
		const char *version = lade_wheel_version_normalized(p->wheels[i]);
		_cleanup_free_ char *dist_info = NULL;
		int found = lade_install_base_dist(tree, p->scheme.purelib,
		                                   lade_wheel_name(p->wheels[i]), version,
		                                   &dist_info, err);
		if (found < 0)
			return lade_error_prefix(err, "%s:%d", s->lock, sel->req->line);
		if (found == 0) {
			i++;
			continue;
		}
		note(s, "%s %s is in the base already (/%s): kept, as pip does",
		     lade_wheel_name(p->wheels[i]), version, dist_info);
		/* out of the selection, keeping p consistent for release at every step */
		lade_wheel_free(p->wheels[i]);
		free(sel->path);
		free(sel->filename);
		free(sel->name);
		free(sel->version);
		memmove(&p->sel[i], &p->sel[i + 1], (p->n_sel - i - 1) * sizeof(*p->sel));
		memmove(&p->wheels[i], &p->wheels[i + 1], (p->n_sel - i - 1) * sizeof(*p->wheels));
		p->n_sel--;
	}
	return 0;
}

/* The interpreter must be there: a venv pointing at nothing fails only at run time. */
static int check_interpreter(const struct lade_py_spec *s, const struct lade_base_image *base,
                             const struct lade_tree *tree, struct lade_error **err)
{
	if (s->interpreter == NULL || s->version == NULL)
		return lade_error_set(err, 0,
		                      "%s:%d:%d: python: interpreter and version are required to "
		                      "install wheels",
		                      s->recipe_path, s->line, s->column);
	_cleanup_free_ char *interp = NULL;
	_cleanup_free_ char *interp_rel = lade_path_normalize(s->interpreter, err);
	if (interp_rel == NULL || lade_tree_resolve(tree, interp_rel, true, &interp, err) < 0)
		return lade_error_prefix(err, "%s:%d:%d: python.interpreter", s->recipe_path,
		                         s->line, s->column);
	const struct lade_tree_node *node = lade_tree_lookup(tree, interp);
	if (node == NULL || (node->type != LADE_ENTRY_FILE && node->type != LADE_ENTRY_HARDLINK))
		return lade_error_set(err, 0,
		                      "%s:%d:%d: python.interpreter %s does not exist in the base "
		                      "image %s",
		                      s->recipe_path, s->line, s->column, s->interpreter,
		                      base->name);
	return 0;
}

/* Lock → selected wheels, opened, with a complete dependency closure for the target. */
static int select_wheels(const struct lade_py_spec *s, const struct lade_target *t,
                         struct lade_py_plan *p, struct lade_error **err)
{
	if (lade_lock_parse_file(s->lock, &p->lock, err) < 0)
		return -1;
	for (char **n = p->lock->ignored; n && *n; n++)
		note(s, "%s", *n);
	if (lade_select_wheels(p->lock, s->wheelhouse, t, s->hashes, &p->sel, &p->n_sel, err) < 0)
		return -1;
	struct lade_wheel_limits limits;
	if (s->wheel_limits)
		limits = *s->wheel_limits;
	else
		lade_wheel_limits_default(&limits);
	p->wheels = xcalloc(p->n_sel ? p->n_sel : 1, sizeof(*p->wheels));
	_cleanup_free_ struct lade_dist *dists = xcalloc(p->n_sel ? p->n_sel : 1, sizeof(*dists));
	for (size_t i = 0; i < p->n_sel; i++) {
		if (lade_wheel_open_limited(p->sel[i].path, &limits, &p->wheels[i], err) < 0)
			return -1;
		dists[i] = (struct lade_dist){
		        .name = lade_wheel_name(p->wheels[i]),
		        .version = lade_wheel_version_normalized(p->wheels[i]),
		        .requires_dist = lade_wheel_requires_dist(p->wheels[i]),
		        .extras_requested = p->sel[i].req->extras,
		};
	}
	if (lade_deps_check(dists, p->n_sel, t, err) < 0)
		return lade_error_prefix(err, "%s: the lock is not complete", s->lock);
	return 0;
}

int lade_py_target(const struct lade_py_spec *s, const char *platform,
                   const struct lade_base_image *base, struct lade_store *store,
                   const struct lade_tree *tree, const char *base_libc, struct lade_target *t,
                   struct lade_error **err)
{
	if (check_interpreter(s, base, tree, err) < 0)
		return -1;
	_cleanup_free_ char *libc = s->libc     ? xstrdup(s->libc)
	                            : base_libc ? xstrdup(base_libc)
	                                        : NULL;
	if (libc == NULL && lade_base_detect_libc(base, store, tree, platform, &libc, err) < 0)
		return lade_error_prefix(err, "%s: cannot tell the base image's libc (set libc:)",
		                         s->recipe_path);
	if (lade_target_init(t, platform, s->version, libc, err) < 0)
		return lade_error_prefix(err, "%s:%d:%d: python", s->recipe_path, s->line,
		                         s->column);
	return 0;
}

int lade_py_prepare(const struct lade_py_spec *s, const struct lade_target *t,
                    const struct lade_base_image *base, const struct lade_tree *tree,
                    struct lade_py_plan *p, struct lade_error **err)
{
	if (select_wheels(s, t, p, err) < 0)
		return -1;
	if (s->site_packages_system)
		return prepare_system(s, tree, p, err);
	if (lade_install_scheme_venv(s->venv, s->version, &p->scheme, err) < 0)
		return -1;
	p->has_scheme = true;
	free(p->scheme.interpreter);
	p->scheme.interpreter = lade_path_join(s->venv, "bin/python");
	p->scheme.exclude = lade_strv_copy(s->exclude);
	p->env = lade_venv_env(s->venv, config_env_value(base->config, "PATH"));
	return 0;
}
