/* lade — the recipe's sections (base, python, files, layers, config, output) validated from
 * the node tree into struct lade_recipe, and the defaults filled in afterwards. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/oci.h"
#include "recipe-node.h"

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
bool recipe_valid_tag(const char *s)
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
		return recipe_node_error(c, n,
		                         "%s '%s' must look like os/arch[/variant] (linux/amd64)",
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
	return recipe_node_error(c, n, "%s '%s' must be glibc-X.Y or musl-X.Y", name, n->text);
}

static int check_abs(const struct ctx *c, const struct node *n, const char *name)
{
	return recipe_check_image_path(c, n, name);
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

static const char *const top_keys[] = {"name",        "tag",      "base",    "platforms", "libc",
                                       "python",      "files",    "layers",  "config",    "output",
                                       "annotations", "variants", "context", "cache",     NULL};

static int do_base(const struct ctx *c, const struct node *key, const struct node *n,
                   struct lade_recipe *r)
{
	static const char *const keys[] = {"oci", "docker-archive", "image", "scratch", NULL};
	if (recipe_want_kind(c, n, "base", NODE_MAP) < 0 ||
	    recipe_check_keys(c, n, "in base", keys) < 0)
		return -1;
	const struct node *chosen = NULL, *chosen_key = NULL;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct node *k = n->pairs[i].key, *v = n->pairs[i].value;
		if (strcmp(k->text, "scratch") == 0) {
			bool on;
			if (recipe_get_bool(c, v, "base.scratch", &on) < 0)
				return -1;
			if (!on)
				continue;
		}
		if (chosen)
			return recipe_node_error(
			        c, k,
			        "base: exactly one of oci, docker-archive, image, scratch "
			        "is required (both '%s' and '%s' are given)",
			        chosen_key->text, k->text);
		chosen = v;
		chosen_key = k;
	}
	if (chosen == NULL)
		return recipe_node_error(
		        c, key,
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
	if (recipe_get_nonempty(c, chosen, name, &value) < 0)
		return -1;
	if (strcmp(kind, "oci") == 0) {
		r->base.kind = LADE_BASE_OCI;
		char *colon = strrchr(value, ':');
		if (colon && strchr(colon + 1, '/') == NULL) {
			if (colon == value || colon[1] == '\0')
				return recipe_node_error(
				        c, chosen, "base.oci '%s' must be DIR or DIR:TAG", value);
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

/* python.compile / compiler / optimize: bytecode as pip compiles it (default on). */
static int do_python_compile(const struct ctx *c, const struct node *n,
                             struct lade_recipe_python *py)
{
	const struct node *v;
	py->compile = true;
	if ((v = recipe_map_get(n, "compile")) &&
	    recipe_get_bool(c, v, "python.compile", &py->compile) < 0)
		return -1;
	if ((v = recipe_map_get(n, "compiler"))) {
		if (recipe_get_string(c, v, "python.compiler", &py->compiler) < 0)
			return -1;
		if (py->compiler[0] == '\0')
			return recipe_node_error(c, v, "python.compiler must not be empty");
		py->compiler_line = v->line;
		py->compiler_column = v->column;
	}
	if ((v = recipe_map_get(n, "optimize"))) {
		if (recipe_want_kind(c, v, "python.optimize", NODE_SCALAR) < 0)
			return -1;
		if (strcmp(v->text, "0") != 0 && strcmp(v->text, "1") != 0 &&
		    strcmp(v->text, "2") != 0)
			return recipe_node_error(c, v, "python.optimize '%s' must be 0, 1 or 2",
			                         v->text);
		py->optimize = v->text[0] - '0';
	}
	return 0;
}

static int do_python(const struct ctx *c, const struct node *key, const struct node *n,
                     struct lade_recipe *r)
{
	static const char *const keys[] = {"interpreter", "version",    "venv",    "site-packages",
	                                   "lock",        "wheelhouse", "exclude", "compile",
	                                   "compiler",    "optimize",   NULL};
	struct lade_recipe_python *py = &r->python;
	const struct node *v;
	if (recipe_want_kind(c, n, "python", NODE_MAP) < 0 ||
	    recipe_check_keys(c, n, "in python", keys) < 0)
		return -1;
	py->present = true;
	py->line = key->line;
	py->column = key->column;

	if ((v = recipe_map_get(n, "interpreter")) &&
	    recipe_get_image_path(c, v, "python.interpreter", &py->interpreter) < 0)
		return -1;
	if ((v = recipe_map_get(n, "version"))) {
		if (recipe_get_string(c, v, "python.version", &py->version) < 0)
			return -1;
		if (strncmp(py->version, "3.", 2) != 0 || !is_digits(py->version + 2))
			return recipe_node_error(
			        c, v, "python.version '%s' must look like 3.X (\"3.11\")",
			        py->version);
	}

	const struct node *venv = recipe_map_get(n, "venv"),
	                  *sp = recipe_map_get(n, "site-packages");
	if (venv && sp) {
		const struct pair *pv = recipe_map_find(n, "venv"),
		                  *ps = recipe_map_find(n, "site-packages");
		const struct node *later = pv > ps ? pv->key : ps->key;
		return recipe_node_error(c, later,
		                         "python: venv and site-packages are mutually exclusive");
	}
	if (sp) {
		if (recipe_want_kind(c, sp, "python.site-packages", NODE_SCALAR) < 0)
			return -1;
		if (strcmp(sp->text, "system") != 0)
			return recipe_node_error(
			        c, sp, "python.site-packages '%s' must be 'system'", sp->text);
		py->site_packages_system = true;
	} else if (venv) {
		if (recipe_check_image_path(c, venv, "python.venv") < 0)
			return -1;
		_cleanup_free_ char *norm = lade_path_normalize(venv->text, NULL);
		if (norm[0] == '\0')
			return recipe_node_error(c, venv, "python.venv must not be '/'");
		py->venv = xasprintf("/%s", norm);
	} else {
		py->venv = xstrdup("/opt/venv");
	}

	if ((v = recipe_map_get(n, "lock")) == NULL)
		return recipe_node_error(c, key, "python.lock is required");
	if (recipe_get_host_path(c, r, v, "python.lock", false, true, &py->lock) < 0)
		return -1;

	if ((v = recipe_map_get(n, "wheelhouse"))) {
		if (recipe_want_kind(c, v, "python.wheelhouse", NODE_SEQ) < 0)
			return -1;
		if (v->n_items == 0)
			return recipe_node_error(c, v, "'python.wheelhouse' must not be empty");
		py->wheelhouse = xcalloc(v->n_items + 1, sizeof(char *));
		for (size_t i = 0; i < v->n_items; i++) {
			_cleanup_free_ char *iname = xasprintf("python.wheelhouse[%zu]", i);
			if (recipe_get_host_path(c, r, v->items[i], iname, true, false,
			                         &py->wheelhouse[i]) < 0)
				return -1;
		}
	} else {
		lade_strv_push(&py->wheelhouse, r->dir);
	}
	if ((v = recipe_map_get(n, "exclude")) &&
	    recipe_get_strv(c, v, "python.exclude", NULL, &py->exclude) < 0)
		return -1;
	return do_python_compile(c, n, py);
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
	if (recipe_want_kind(c, n, name, NODE_MAP) < 0 || recipe_check_keys(c, n, where, keys) < 0)
		return -1;
	f->line = n->line;
	f->column = n->column;
	f->dockerignore = true;

	_cleanup_free_ char *src_name = xasprintf("%s.src", name);
	if ((v = recipe_map_get(n, "src")) == NULL)
		return recipe_node_error(c, n, "%s is required", src_name);
	if (recipe_get_host_path(c, r, v, src_name, false, false, &f->src) < 0)
		return -1;
	f->src_text = xstrdup(v->text);
	/* Where src really is, every symlink on the way resolved as the host resolves it: that
	 * is what would be copied, so that is what must be inside the build context. */
	f->src_real = realpath(f->src, NULL);
	if (f->src_real == NULL)
		return recipe_node_error(c, v, "%s '%s' cannot be resolved: %s", src_name, v->text,
		                         strerror(errno));
	size_t cl = strlen(r->context);
	f->outside_context = strcmp(r->context, "/") != 0 &&
	                     (strncmp(f->src_real, r->context, cl) != 0 ||
	                      (f->src_real[cl] != '\0' && f->src_real[cl] != '/'));

	_cleanup_free_ char *dst_name = xasprintf("%s.dst", name);
	if ((v = recipe_map_get(n, "dst")) == NULL)
		return recipe_node_error(c, n, "%s is required", dst_name);
	if (recipe_get_image_path(c, v, dst_name, &f->dst) < 0)
		return -1;

	if ((v = recipe_map_get(n, "mode"))) {
		_cleanup_free_ char *mname = xasprintf("%s.mode", name);
		if (recipe_want_kind(c, v, mname, NODE_SCALAR) < 0)
			return -1;
		if (!is_digits(v->text) || lade_parse_u32(v->text, 8, &f->mode) < 0 ||
		    f->mode > 07777)
			return recipe_node_error(c, v,
			                         "%s '%s' must be an octal mode from 0000 to 7777",
			                         mname, v->text);
		f->has_mode = true;
	}
	if ((v = recipe_map_get(n, "owner"))) {
		_cleanup_free_ char *oname = xasprintf("%s.owner", name);
		if (recipe_want_kind(c, v, oname, NODE_SCALAR) < 0)
			return -1;
		if (parse_owner(v->text, &f->uid, &f->gid) < 0)
			return recipe_node_error(c, v,
			                         "%s '%s' must be numeric \"UID:GID\" or \"UID\"",
			                         oname, v->text);
		f->has_owner = true;
	}
	if ((v = recipe_map_get(n, "exclude"))) {
		_cleanup_free_ char *ename = xasprintf("%s.exclude", name);
		if (recipe_get_strv(c, v, ename, NULL, &f->exclude) < 0)
			return -1;
	}
	if ((v = recipe_map_get(n, "dockerignore"))) {
		_cleanup_free_ char *dname = xasprintf("%s.dockerignore", name);
		if (recipe_get_bool(c, v, dname, &f->dockerignore) < 0)
			return -1;
	}
	return 0;
}

static int do_files(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	if (recipe_want_kind(c, n, "files", NODE_SEQ) < 0)
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
	if (recipe_want_kind(c, n, name, NODE_SCALAR) < 0)
		return -1;
	if (lade_parse_size(n->text, out) < 0)
		return recipe_node_error(
		        c, n, "%s '%s' is not a size (like 64MiB, 500MB or 1.5GiB)", name, n->text);
	if (*out == 0)
		return recipe_node_error(c, n, "%s must be greater than 0", name);
	return 0;
}

static int do_cache(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	static const char *const keys[] = {"max-size", "to", "from", NULL};
	const struct node *v;
	if (recipe_want_kind(c, n, "cache", NODE_MAP) < 0 ||
	    recipe_check_keys(c, n, "in cache", keys) < 0)
		return -1;
	if ((v = recipe_map_get(n, "max-size")) &&
	    get_size(c, v, "cache.max-size", &r->cache_max_size) < 0)
		return -1;
	if ((v = recipe_map_get(n, "to")) &&
	    recipe_get_nonempty(c, v, "cache.to", &r->cache_to) < 0)
		return -1;
	/* one repository or a list of them, looked up in order */
	if ((v = recipe_map_get(n, "from")) && v->kind == NODE_SCALAR) {
		_cleanup_free_ char *one = NULL;
		if (recipe_get_nonempty(c, v, "cache.from", &one) < 0)
			return -1;
		lade_strv_free(r->cache_from);
		r->cache_from = NULL;
		lade_strv_push(&r->cache_from, one);
	} else if (v && recipe_get_strv(c, v, "cache.from", NULL, &r->cache_from) < 0) {
		return -1;
	}
	return 0;
}

static int do_layers(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	static const char *const keys[] = {"max-layers", "max-layer-size", "split-threshold",
	                                   "groups", NULL};
	static const char *const gkeys[] = {"name", "packages", "files", NULL};
	struct lade_recipe_layers *l = &r->layers;
	const struct node *v;
	if (recipe_want_kind(c, n, "layers", NODE_MAP) < 0 ||
	    recipe_check_keys(c, n, "in layers", keys) < 0)
		return -1;
	if ((v = recipe_map_get(n, "max-layers"))) {
		if (recipe_want_kind(c, v, "layers.max-layers", NODE_SCALAR) < 0)
			return -1;
		if (!is_digits(v->text) || lade_parse_u32(v->text, 10, &l->max_layers) < 0 ||
		    l->max_layers < 1 || l->max_layers > 125)
			return recipe_node_error(
			        c, v, "layers.max-layers '%s' must be from 1 to 125", v->text);
	}
	if ((v = recipe_map_get(n, "max-layer-size")) &&
	    get_size(c, v, "layers.max-layer-size", &l->max_layer_size) < 0)
		return -1;
	if ((v = recipe_map_get(n, "split-threshold")) &&
	    get_size(c, v, "layers.split-threshold", &l->split_threshold) < 0)
		return -1;
	if ((v = recipe_map_get(n, "groups")) == NULL)
		return 0;
	if (recipe_want_kind(c, v, "layers.groups", NODE_SEQ) < 0)
		return -1;
	l->groups = xcalloc(v->n_items + 1, sizeof(*l->groups));
	for (size_t i = 0; i < v->n_items; i++) {
		const struct node *g = v->items[i], *x;
		struct lade_recipe_group *grp = &l->groups[i];
		l->n_groups = i + 1;
		_cleanup_free_ char *name = xasprintf("layers.groups[%zu]", i);
		_cleanup_free_ char *where = xasprintf("in %s", name);
		if (recipe_want_kind(c, g, name, NODE_MAP) < 0 ||
		    recipe_check_keys(c, g, where, gkeys) < 0)
			return -1;
		_cleanup_free_ char *nname = xasprintf("%s.name", name);
		if ((x = recipe_map_get(g, "name")) == NULL)
			return recipe_node_error(c, g, "%s is required", nname);
		if (recipe_get_nonempty(c, x, nname, &grp->name) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->groups[j].name, grp->name) == 0)
				return recipe_node_error(c, x, "%s '%s' is used twice", nname,
				                         grp->name);
		_cleanup_free_ char *pname = xasprintf("%s.packages", name);
		if ((x = recipe_map_get(g, "packages")) &&
		    recipe_get_strv(c, x, pname, NULL, &grp->packages) < 0)
			return -1;
		_cleanup_free_ char *fname = xasprintf("%s.files", name);
		if ((x = recipe_map_get(g, "files")) &&
		    recipe_get_strv(c, x, fname, check_abs, &grp->files) < 0)
			return -1;
		if (grp->packages == NULL && grp->files == NULL)
			return recipe_node_error(c, g, "%s needs packages or files", name);
	}
	return 0;
}

static int get_command(const struct ctx *c, const struct node *n, const char *name, char ***out)
{
	if (n->kind == NODE_SCALAR && !recipe_node_is_null(n)) {
		/* Docker's shell form. */
		lade_strv_free(*out);
		*out = NULL;
		lade_strv_push(out, "/bin/sh");
		lade_strv_push(out, "-c");
		lade_strv_push(out, n->text);
		return 0;
	}
	if (n->kind != NODE_SEQ)
		return recipe_node_error(c, n, "'%s' must be a list or a string, not %s", name,
		                         recipe_node_kind_name(n));
	return recipe_get_strv(c, n, name, NULL, out);
}

static int check_label_keys(const struct ctx *c, const struct node *n, const char *name)
{
	for (size_t i = 0; i < n->n_pairs; i++)
		if (n->pairs[i].key->text[0] == '\0')
			return recipe_node_error(c, n->pairs[i].key, "%s keys must not be empty",
			                         name);
	return 0;
}

static int do_config(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	static const char *const keys[] = {"user",   "workdir", "env",    "entrypoint",  "cmd",
	                                   "expose", "volumes", "labels", "stop-signal", NULL};
	struct lade_config_spec *cf = &r->config;
	const struct node *v;
	if (recipe_want_kind(c, n, "config", NODE_MAP) < 0 ||
	    recipe_check_keys(c, n, "in config", keys) < 0)
		return -1;
	if ((v = recipe_map_get(n, "user")) &&
	    recipe_get_nonempty(c, v, "config.user", &cf->user) < 0)
		return -1;
	if ((v = recipe_map_get(n, "workdir")) &&
	    recipe_get_image_path(c, v, "config.workdir", &cf->workdir) < 0)
		return -1;
	if ((v = recipe_map_get(n, "env"))) {
		if (recipe_get_kvs(c, v, "config.env", true, &cf->env, &cf->n_env) < 0 ||
		    check_label_keys(c, v, "config.env") < 0)
			return -1;
	}
	if ((v = recipe_map_get(n, "entrypoint"))) {
		if (get_command(c, v, "config.entrypoint", &cf->entrypoint) < 0)
			return -1;
		cf->has_entrypoint = true;
	}
	if ((v = recipe_map_get(n, "cmd"))) {
		if (get_command(c, v, "config.cmd", &cf->cmd) < 0)
			return -1;
		cf->has_cmd = true;
	}
	if ((v = recipe_map_get(n, "expose"))) {
		if (recipe_want_kind(c, v, "config.expose", NODE_SEQ) < 0)
			return -1;
		cf->expose = xcalloc(v->n_items + 1, sizeof(char *));
		for (size_t i = 0; i < v->n_items; i++) {
			_cleanup_free_ char *iname = xasprintf("config.expose[%zu]", i);
			if (recipe_want_kind(c, v->items[i], iname, NODE_SCALAR) < 0)
				return -1;
			cf->expose[i] = parse_port(v->items[i]->text);
			if (cf->expose[i] == NULL)
				return recipe_node_error(
				        c, v->items[i],
				        "%s '%s' must be PORT[/tcp|udp|sctp] with a port "
				        "from 1 to 65535",
				        iname, v->items[i]->text);
		}
	}
	if ((v = recipe_map_get(n, "volumes")) &&
	    recipe_get_strv(c, v, "config.volumes", check_abs, &cf->volumes) < 0)
		return -1;
	if ((v = recipe_map_get(n, "labels"))) {
		if (recipe_get_kvs(c, v, "config.labels", false, &cf->labels, &cf->n_labels) < 0 ||
		    check_label_keys(c, v, "config.labels") < 0)
			return -1;
	}
	if ((v = recipe_map_get(n, "stop-signal"))) {
		if (recipe_get_string(c, v, "config.stop-signal", &cf->stop_signal) < 0)
			return -1;
		if (!valid_signal(cf->stop_signal))
			return recipe_node_error(
			        c, v,
			        "config.stop-signal '%s' must be a signal name like "
			        "SIGTERM or a number from 1 to 64",
			        cf->stop_signal);
	}
	return 0;
}

static int check_glob(const struct ctx *c, const struct node *n, const char *name)
{
	if (!lade_glob_valid(n->text))
		return recipe_node_error(c, n, "%s: '%s' is not a valid glob", name, n->text);
	return 0;
}

static int do_output(const struct ctx *c, const struct node *n, struct lade_recipe *r)
{
	static const char *const keys[] = {"dir",      "format", "compression", "sbom",
	                                   "max-size", "lazy",   "prefetch",    NULL};
	static const char *const lazies[] = {"estargz", "zstd-chunked", "none", NULL};
	static const char *const formats[] = {"oci", "oci-archive", "docker-archive", NULL};
	static const char *const comps[] = {"gzip", "zstd", "none", NULL};
	static const char *const sboms[] = {"spdx", "cyclonedx", "none", NULL};
	struct lade_recipe_output *o = &r->output;
	const struct node *v;
	if (recipe_want_kind(c, n, "output", NODE_MAP) < 0 ||
	    recipe_check_keys(c, n, "in output", keys) < 0)
		return -1;
	if ((v = recipe_map_get(n, "dir"))) {
		_cleanup_free_ char *dir = NULL;
		if (recipe_get_nonempty(c, v, "output.dir", &dir) < 0)
			return -1;
		o->dir = lade_path_absolute(r->dir, dir);
	}
	if ((v = recipe_map_get(n, "format")) &&
	    recipe_get_enum(c, v, "output.format", formats, &o->format) < 0)
		return -1;
	if ((v = recipe_map_get(n, "compression")) &&
	    recipe_get_enum(c, v, "output.compression", comps, &o->compression) < 0)
		return -1;
	if ((v = recipe_map_get(n, "sbom")) &&
	    recipe_get_enum(c, v, "output.sbom", sboms, &o->sbom) < 0)
		return -1;
	if ((v = recipe_map_get(n, "lazy")) &&
	    recipe_get_enum(c, v, "output.lazy", lazies, &o->lazy) < 0)
		return -1;
	if ((v = recipe_map_get(n, "prefetch")) &&
	    recipe_get_strv(c, v, "output.prefetch", check_glob, &o->prefetch) < 0)
		return -1;
	if ((v = recipe_map_get(n, "max-size"))) {
		if (get_size(c, v, "output.max-size", &o->max_size) < 0)
			return -1;
		o->max_size_text = xstrdup(v->text);
	}
	return 0;
}

int recipe_validate(const struct ctx *c, const struct node *root, struct lade_recipe *r)
{
	const struct node *v;
	const struct pair *p;
	for (size_t i = 0; i < root->n_pairs; i++)
		if (strcmp(root->pairs[i].key->text, "default") == 0)
			return recipe_node_error(c, root->pairs[i].key,
			                         "'default' is only valid inside a variant");
	if (recipe_check_keys(c, root, "at top level", top_keys) < 0)
		return -1;

	if ((v = recipe_map_get(root, "name")) == NULL)
		return recipe_node_error(c, root, "name is required");
	if (recipe_get_string(c, v, "name", &r->name) < 0)
		return -1;
	if (!valid_name(r->name))
		return recipe_node_error(
		        c, v,
		        "name '%s' must be lowercase letters, digits, '.', '_' and '-', "
		        "starting with a letter or digit",
		        r->name);

	if ((v = recipe_map_get(root, "tag"))) {
		if (recipe_get_string(c, v, "tag", &r->tag) < 0)
			return -1;
		if (!recipe_valid_tag(r->tag))
			return recipe_node_error(
			        c, v,
			        "tag '%s' must be letters, digits, '.', '_' and '-' "
			        "(at most 128, not starting with '.' or '-')",
			        r->tag);
	}

	if ((p = recipe_map_find(root, "base")) == NULL)
		return recipe_node_error(
		        c, root,
		        "base: exactly one of oci, docker-archive, image, scratch is "
		        "required");
	if (do_base(c, p->key, p->value, r) < 0)
		return -1;

	if ((v = recipe_map_get(root, "platforms"))) {
		if (recipe_get_strv(c, v, "platforms", check_platform, &r->platforms) < 0)
			return -1;
		if (r->platforms[0] == NULL)
			return recipe_node_error(c, v, "'platforms' must not be empty");
		for (size_t i = 1; r->platforms[i]; i++)
			for (size_t j = 0; j < i; j++)
				if (strcmp(r->platforms[i], r->platforms[j]) == 0)
					return recipe_node_error(
					        c, v->items[i],
					        "platforms[%zu] '%s' is listed twice", i,
					        r->platforms[i]);
	}
	if ((v = recipe_map_get(root, "libc"))) {
		if (recipe_want_kind(c, v, "libc", NODE_SCALAR) < 0 || check_libc(c, v, "libc") < 0)
			return -1;
		r->libc = xstrdup(v->text);
	}
	if ((p = recipe_map_find(root, "python")) && do_python(c, p->key, p->value, r) < 0)
		return -1;
	_cleanup_free_ char *context = NULL;
	if ((v = recipe_map_get(root, "context")) &&
	    recipe_get_host_path(c, r, v, "context", true, false, &context) < 0)
		return -1;
	r->context = realpath(context ? context : r->dir, NULL);
	if (r->context == NULL)
		return recipe_node_error(c, v ? v : root,
		                         "the build context %s cannot be resolved: %s",
		                         context ? context : r->dir, strerror(errno));
	if ((v = recipe_map_get(root, "files")) && do_files(c, v, r) < 0)
		return -1;
	if ((v = recipe_map_get(root, "layers")) && do_layers(c, v, r) < 0)
		return -1;
	if ((v = recipe_map_get(root, "cache")) && do_cache(c, v, r) < 0)
		return -1;
	if ((v = recipe_map_get(root, "config")) && do_config(c, v, r) < 0)
		return -1;
	if ((v = recipe_map_get(root, "annotations"))) {
		if (recipe_get_kvs(c, v, "annotations", false, &r->annotations, &r->n_annotations) <
		            0 ||
		    check_label_keys(c, v, "annotations") < 0)
			return -1;
	}
	if ((v = recipe_map_get(root, "output")) && do_output(c, v, r) < 0)
		return -1;
	return 0;
}

void recipe_fill_defaults(struct lade_recipe *r)
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
