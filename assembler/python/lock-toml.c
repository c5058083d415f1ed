/* The TOML locks: PEP 751 pylock.toml and uv.lock, read with core/toml.c and mapped onto the
 * structure of lock.h, so that selection and install do not know which format they came
 * from. Every problem is reported with the file, line and column of the value at fault and the
 * package it belongs to. */
#include <string.h>

#include "lade/lock.h"
#include "lade/pep440.h"
#include "lade/pep508.h"
#include "lade/toml.h"
#include "lade/util.h"

#define TOML_LOCK_MAX_SIZE (64u << 20)

struct tl {
	struct lade_lock *lock;
	size_t alloc, palloc;
	struct lade_problems pr;
};

static void problem(struct tl *t, const struct lade_toml *at, const char *pkg, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void problem(struct tl *t, const struct lade_toml *at, const char *pkg, const char *fmt, ...)
{
	if (!lade_problems_next(&t->pr))
		return;
	lade_buf_addf(&t->pr.buf, "%s:%d:%d: ", t->lock->path, at->line, at->column);
	if (pkg)
		lade_buf_addf(&t->pr.buf, "package %s: ", pkg);
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&t->pr.buf, fmt, ap);
	va_end(ap);
}

/* tbl[key] when it is a string without NUL; NULL when absent (a problem if `required`) or of
 * another type (always a problem). */
static const char *get_str(struct tl *t, const struct lade_toml *tbl, const char *key,
                           bool required, const char *pkg)
{
	const struct lade_toml *v = lade_toml_get(tbl, key);
	if (!v) {
		if (required)
			problem(t, tbl, pkg, "'%s' is missing", key);
		return NULL;
	}
	if (v->type != LADE_TOML_STRING || strlen(v->str) != v->len) {
		problem(t, v, pkg, "'%s' must be a string%s", key,
		        v->type == LADE_TOML_STRING ? " without NUL" : "");
		return NULL;
	}
	return v->str;
}

/* tbl[key] when it is of `type`; NULL when absent or (a problem) of another type. */
static const struct lade_toml *get_typed(struct tl *t, const struct lade_toml *tbl, const char *key,
                                         enum lade_toml_type type, const char *pkg)
{
	const struct lade_toml *v = lade_toml_get(tbl, key);
	if (v && v->type != type) {
		problem(t, v, pkg, "'%s' must be a%s %s, not a %s", key,
		        type == LADE_TOML_ARRAY || type == LADE_TOML_INTEGER ? "n" : "",
		        lade_toml_type_name(type), lade_toml_type_name(v->type));
		return NULL;
	}
	return v;
}

static bool is_hex64(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");
	return n == 64 && s[n] == '\0';
}

static char *lower(const char *s)
{
	char *r = xstrdup(s);
	for (char *c = r; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	return r;
}

static const char *basename_of(const char *s)
{
	const char *b = strrchr(s, '/');
	return b ? b + 1 : s;
}

static struct lade_lock_req *new_req(struct tl *t, bool project)
{
	struct lade_lock *l = t->lock;
	struct lade_lock_req *r;
	if (project) {
		lade_grow(&l->projects, sizeof(*l->projects), l->n_projects + 1, &t->palloc);
		r = &l->projects[l->n_projects++];
	} else {
		lade_grow(&l->reqs, sizeof(*l->reqs), l->n_reqs + 1, &t->alloc);
		r = &l->reqs[l->n_reqs++];
	}
	memset(r, 0, sizeof(*r));
	r->extras = xcalloc(1, sizeof(char *));
	r->sha256 = xcalloc(1, sizeof(char *));
	r->filenames = xcalloc(1, sizeof(char *));
	return r;
}

/* name and version of a package table into r; false when unusable. */
static bool package_head(struct tl *t, const struct lade_toml *pkg, struct lade_lock_req *r,
                         bool need_version)
{
	const char *name = get_str(t, pkg, "name", true, NULL);
	if (!name)
		return false;
	if (!lade_name_valid(name)) {
		problem(t, lade_toml_get(pkg, "name"), NULL, "invalid package name '%s'", name);
		return false;
	}
	r->name_text = xstrdup(name);
	r->name = lade_name_normalize(name);
	r->line = pkg->line;
	r->where = xasprintf("%s:%d:%d", t->lock->path, pkg->line, pkg->column);
	const char *version = get_str(t, pkg, "version", need_version, name);
	if (version) {
		r->version = lade_version_normalize(version);
		if (!r->version) {
			problem(t, lade_toml_get(pkg, "version"), name, "invalid version '%s'",
			        version);
			return false;
		}
	}
	return r->version || !need_version;
}

static void add_wheel(struct lade_lock_req *r, const char *filename, const char *hex)
{
	_cleanup_free_ char *h = lower(hex);
	lade_strv_push(&r->sha256, h);
	lade_strv_push(&r->filenames, filename);
}

static void top_requires_python(struct tl *t, const struct lade_toml *root)
{
	const char *rp = get_str(t, root, "requires-python", false, NULL);
	if (!rp)
		return;
	_cleanup_(lade_specifier_freep) struct lade_specifier *s = NULL;
	_cleanup_error_ struct lade_error *e = NULL;
	const struct lade_toml *v = lade_toml_get(root, "requires-python");
	if (lade_specifier_parse(rp, &s, &e) < 0) {
		problem(t, v, NULL, "requires-python: %s", e->msg);
		return;
	}
	t->lock->requires_python = xstrdup(rp);
	t->lock->requires_python_where = xasprintf("%s:%d:%d", t->lock->path, v->line, v->column);
}

static int start(const char *path, const char *data, size_t len, enum lade_lock_format format,
                 struct lade_lock **lock, struct lade_toml **root, struct lade_error **err)
{
	if (lade_toml_parse(path, data, len, root, err) < 0)
		return -1;
	*lock = xzalloc(sizeof(**lock));
	(*lock)->path = xstrdup(path);
	(*lock)->ignored = xcalloc(1, sizeof(char *));
	(*lock)->format = format;
	return 0;
}

static int finish(struct tl *t, struct lade_lock **lock, struct lade_lock **out,
                  struct lade_error **err)
{
	if (lade_problems_finish(&t->pr, err) < 0)
		return -1;
	*out = steal_pointer(lock);
	return 0;
}

/* The file name of a wheel entry: its `name_key` ("name" in PEP 751, "filename" in uv.lock),
 * else the last part of its url or path. NULL (a problem) when it has none. */
static const char *wheel_file(struct tl *t, const struct lade_toml *w, const char *name_key,
                              const char *pkg)
{
	if (w->type != LADE_TOML_TABLE) {
		problem(t, w, pkg, "a wheel must be a table");
		return NULL;
	}
	const char *name = get_str(t, w, name_key, false, pkg);
	const char *url = get_str(t, w, "url", false, pkg);
	const char *path = get_str(t, w, "path", false, pkg);
	const char *file = name ? name : url ? basename_of(url) : path ? basename_of(path) : NULL;
	if (!file)
		problem(t, w, pkg, "a wheel needs a %s, url or path", name_key);
	return file;
}

/* ---- PEP 751 ---- */

static void pylock_wheel(struct tl *t, const struct lade_toml *w, struct lade_lock_req *r)
{
	const char *pkg = r->name_text;
	const char *file = wheel_file(t, w, "name", pkg);
	if (!file)
		return;
	const struct lade_toml *hashes = get_typed(t, w, "hashes", LADE_TOML_TABLE, pkg);
	const char *sha = hashes ? get_str(t, hashes, "sha256", false, pkg) : NULL;
	if (!sha) {
		problem(t, hashes ? hashes : w, pkg, "wheel %s has no sha256 hash", file);
		return;
	}
	if (!is_hex64(sha)) {
		problem(t, lade_toml_get(hashes, "sha256"), pkg, "wheel %s: invalid sha256 '%s'",
		        file, sha);
		return;
	}
	add_wheel(r, file, sha);
}

static void pylock_package(struct tl *t, const struct lade_toml *pkg)
{
	if (pkg->type != LADE_TOML_TABLE) {
		problem(t, pkg, NULL, "each of 'packages' must be a table");
		return;
	}
	static const char *const builds[] = {"vcs", "directory", "archive"};
	struct lade_lock_req *r = new_req(t, false);
	if (!package_head(t, pkg, r, false))
		return;
	for (size_t i = 0; i < LADE_ARRAY_SIZE(builds); i++) {
		const struct lade_toml *b = lade_toml_get(pkg, builds[i]);
		if (b) {
			problem(t, b, r->name_text,
			        "lade never builds: %s is locked as a %s source, not as wheels",
			        r->name_text, builds[i]);
			return;
		}
	}
	if (!r->version) {
		problem(t, pkg, r->name_text, "'version' is missing");
		return;
	}
	const char *marker = get_str(t, pkg, "marker", false, r->name_text);
	if (marker)
		r->marker = xstrdup(marker);
	const char *rp = get_str(t, pkg, "requires-python", false, r->name_text);
	_cleanup_(lade_specifier_freep) struct lade_specifier *spec = NULL;
	if (rp && lade_specifier_parse(rp, &spec, NULL) < 0)
		problem(t, lade_toml_get(pkg, "requires-python"), r->name_text,
		        "invalid requires-python '%s'", rp);
	else if (rp)
		r->requires_python = xstrdup(rp);
	const struct lade_toml *wheels = get_typed(t, pkg, "wheels", LADE_TOML_ARRAY, r->name_text);
	for (size_t i = 0; wheels && i < wheels->n; i++)
		pylock_wheel(t, wheels->items[i], r);
	if (!r->sha256[0] && !wheels) {
		if (lade_toml_get(pkg, "sdist"))
			r->sdist_only = true;
		else
			problem(t, pkg, r->name_text, "no wheels locked");
	}
}

int lade_lock_parse_pylock(const char *path, const char *data, size_t len, struct lade_lock **out,
                           struct lade_error **err)
{
	_cleanup_(lade_lock_freep) struct lade_lock *lock = NULL;
	_cleanup_(lade_toml_freep) struct lade_toml *root = NULL;
	if (start(path, data, len, LADE_LOCK_PYLOCK, &lock, &root, err) < 0)
		return -1;
	struct tl t = {.lock = lock, .pr = LADE_PROBLEMS_INIT};
	const char *lv = get_str(&t, root, "lock-version", true, NULL);
	if (lv && strncmp(lv, "1.", 2) != 0 && strcmp(lv, "1") != 0)
		problem(&t, lade_toml_get(root, "lock-version"), NULL,
		        "lock-version %s is not supported (only 1.x)", lv);
	top_requires_python(&t, root);
	const struct lade_toml *envs = get_typed(&t, root, "environments", LADE_TOML_ARRAY, NULL);
	if (envs)
		lock->environments_where = xasprintf("%s:%d:%d", path, envs->line, envs->column);
	for (size_t i = 0; envs && i < envs->n; i++) {
		const struct lade_toml *e = envs->items[i];
		if (e->type != LADE_TOML_STRING || strlen(e->str) != e->len)
			problem(&t, e, NULL, "environments must be marker strings");
		else
			lade_strv_push(&lock->environments, e->str);
	}
	const struct lade_toml *pkgs = get_typed(&t, root, "packages", LADE_TOML_ARRAY, NULL);
	if (!lade_toml_get(root, "packages"))
		problem(&t, root, NULL, "'packages' is missing (not a PEP 751 lock?)");
	for (size_t i = 0; pkgs && i < pkgs->n; i++)
		pylock_package(&t, pkgs->items[i]);
	return finish(&t, &lock, out, err);
}

/* ---- uv.lock ---- */

static void uv_wheel(struct tl *t, const struct lade_toml *w, struct lade_lock_req *r)
{
	const char *pkg = r->name_text;
	const char *file = wheel_file(t, w, "filename", pkg);
	if (!file)
		return;
	const char *hash = get_str(t, w, "hash", false, pkg);
	if (!hash) {
		problem(t, w, pkg,
		        "wheel %s has no hash (uv writes none for a plain find-links directory: "
		        "lock from an index or a find-links page with #sha256= links)",
		        file);
		return;
	}
	if (strncmp(hash, "sha256:", 7) != 0 || !is_hex64(hash + 7)) {
		problem(t, lade_toml_get(w, "hash"), pkg, "wheel %s: hash '%s' is not sha256:HEX",
		        file, hash);
		return;
	}
	add_wheel(r, file, hash + 7);
}

static void uv_dep(struct tl *t, const struct lade_toml *d, const char *extra,
                   struct lade_lock_req *r)
{
	const char *pkg = r->name_text;
	if (d->type != LADE_TOML_TABLE) {
		problem(t, d, pkg, "a dependency must be a table");
		return;
	}
	const char *name = get_str(t, d, "name", true, pkg);
	const char *version = get_str(t, d, "version", false, pkg);
	const char *marker = get_str(t, d, "marker", false, pkg);
	const struct lade_toml *ex = get_typed(t, d, "extra", LADE_TOML_ARRAY, pkg);
	if (!name)
		return;
	lade_grow(&r->deps, sizeof(*r->deps), r->n_deps + 1, &(size_t){r->n_deps});
	struct lade_lock_dep *dep = &r->deps[r->n_deps++];
	*dep = (struct lade_lock_dep){
	        .name = lade_name_normalize(name),
	        .version = version ? lade_version_normalize(version) : NULL,
	        .marker = marker ? xstrdup(marker) : NULL,
	        .extras = xcalloc(1, sizeof(char *)),
	        .extra = extra ? lade_name_normalize(extra) : NULL,
	        .line = d->line,
	        .column = d->column,
	};
	for (size_t i = 0; ex && i < ex->n; i++) {
		if (ex->items[i]->type != LADE_TOML_STRING) {
			problem(t, ex->items[i], pkg, "extras must be strings");
			continue;
		}
		_cleanup_free_ char *e = lade_name_normalize(ex->items[i]->str);
		lade_strv_push(&dep->extras, e);
	}
}

static void uv_deps(struct tl *t, const struct lade_toml *pkg, struct lade_lock_req *r)
{
	const struct lade_toml *deps =
	        get_typed(t, pkg, "dependencies", LADE_TOML_ARRAY, r->name_text);
	for (size_t i = 0; deps && i < deps->n; i++)
		uv_dep(t, deps->items[i], NULL, r);
	const struct lade_toml *opt =
	        get_typed(t, pkg, "optional-dependencies", LADE_TOML_TABLE, r->name_text);
	for (size_t i = 0; opt && i < opt->n; i++) {
		const struct lade_toml *list = opt->items[i];
		if (list->type != LADE_TOML_ARRAY) {
			problem(t, list, r->name_text, "optional-dependencies.%s must be an array",
			        opt->keys[i]);
			continue;
		}
		for (size_t j = 0; j < list->n; j++)
			uv_dep(t, list->items[j], opt->keys[i], r);
	}
}

static void uv_package(struct tl *t, const struct lade_toml *pkg)
{
	if (pkg->type != LADE_TOML_TABLE) {
		problem(t, pkg, NULL, "each of 'package' must be a table");
		return;
	}
	const struct lade_toml *source = get_typed(t, pkg, "source", LADE_TOML_TABLE, NULL);
	bool project = lade_toml_get(source, "virtual") || lade_toml_get(source, "editable");
	struct lade_lock_req *r = new_req(t, project);
	if (!package_head(t, pkg, r, !project))
		return;
	uv_deps(t, pkg, r);
	if (project)
		return;
	/* a fork of the resolution: this version is for these environments only */
	const struct lade_toml *rm =
	        get_typed(t, pkg, "resolution-markers", LADE_TOML_ARRAY, r->name_text);
	if (rm && rm->n) {
		struct lade_buf m = LADE_BUF_INIT;
		for (size_t i = 0; i < rm->n; i++)
			if (rm->items[i]->type == LADE_TOML_STRING)
				lade_buf_addf(&m, "%s(%s)", m.len ? " or " : "", rm->items[i]->str);
		r->marker = lade_buf_detach(&m, NULL);
	}
	const struct lade_toml *wheels = get_typed(t, pkg, "wheels", LADE_TOML_ARRAY, r->name_text);
	for (size_t i = 0; wheels && i < wheels->n; i++)
		uv_wheel(t, wheels->items[i], r);
	if (!wheels || !wheels->n) {
		static const char *const builds[] = {"git", "directory", "path", "url"};
		for (size_t i = 0; i < LADE_ARRAY_SIZE(builds); i++) {
			const struct lade_toml *b = lade_toml_get(source, builds[i]);
			if (b && !lade_toml_get(pkg, "sdist")) {
				problem(t, b, r->name_text,
				        "lade never builds: %s comes from a %s source without "
				        "wheels",
				        r->name_text, builds[i]);
				return;
			}
		}
		if (lade_toml_get(pkg, "sdist"))
			r->sdist_only = true;
		else
			problem(t, pkg, r->name_text, "no wheels locked");
	}
}

/* Every dependency names a package of the lock. */
static void uv_check_edges(struct tl *t, const struct lade_lock_req *from, size_t n)
{
	const struct lade_lock *l = t->lock;
	for (size_t i = 0; i < n; i++) {
		const struct lade_lock_req *r = &from[i];
		for (size_t j = 0; j < r->n_deps; j++) {
			const struct lade_lock_dep *d = &r->deps[j];
			bool found = false;
			for (size_t k = 0; k < l->n_reqs && !found; k++)
				found = strcmp(l->reqs[k].name, d->name) == 0 &&
				        (!d->version || !l->reqs[k].version ||
				         strcmp(l->reqs[k].version, d->version) == 0);
			for (size_t k = 0; k < l->n_projects && !found; k++)
				found = strcmp(l->projects[k].name, d->name) == 0;
			if (!found && lade_problems_next(&t->pr))
				lade_buf_addf(
				        &t->pr.buf,
				        "%s:%d:%d: package %s: depends on %s%s%s, which the lock "
				        "does not have",
				        l->path, d->line, d->column, r->name_text, d->name,
				        d->version ? " " : "", d->version ? d->version : "");
		}
	}
}

int lade_lock_parse_uv(const char *path, const char *data, size_t len, struct lade_lock **out,
                       struct lade_error **err)
{
	_cleanup_(lade_lock_freep) struct lade_lock *lock = NULL;
	_cleanup_(lade_toml_freep) struct lade_toml *root = NULL;
	if (start(path, data, len, LADE_LOCK_UV, &lock, &root, err) < 0)
		return -1;
	struct tl t = {.lock = lock, .pr = LADE_PROBLEMS_INIT};
	const struct lade_toml *v = get_typed(&t, root, "version", LADE_TOML_INTEGER, NULL);
	if (!lade_toml_get(root, "version"))
		problem(&t, root, NULL, "'version' is missing (not a uv.lock?)");
	else if (v && v->integer != 1)
		problem(&t, v, NULL, "uv.lock version %lld is not supported (only 1)",
		        (long long)v->integer);
	top_requires_python(&t, root);
	const struct lade_toml *pkgs = get_typed(&t, root, "package", LADE_TOML_ARRAY, NULL);
	for (size_t i = 0; pkgs && i < pkgs->n; i++)
		uv_package(&t, pkgs->items[i]);
	if (!t.pr.n) {
		uv_check_edges(&t, lock->reqs, lock->n_reqs);
		uv_check_edges(&t, lock->projects, lock->n_projects);
	}
	return finish(&t, &lock, out, err);
}
