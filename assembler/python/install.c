/* lade — installing a wheel into layer entries the way pip does (see include/lade/install.h).
 *
 * References for the pip behaviour reproduced here: pip/_internal/operations/install/wheel.py
 * (_install_wheel, fix_script, get_csv_rows_for_installed, is_entrypoint_wrapper,
 * get_console_script_specs) and the vendored distlib/scripts.py (ScriptMaker: template and
 * shebang rules). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/digest.h"
#include "lade/install.h"
#include "lade/pep440.h"
#include "lade/pep508.h"
#include "lade/venv.h"

#define SCRIPT_MAX  (16u << 20) /* #!python scripts are rewritten in memory */
#define SHEBANG_MAX 127         /* Linux BINPRM_BUF_SIZE - 1, distlib's limit */

/* ---------------------------------------------------------------- scheme */

void lade_install_scheme_release(struct lade_install_scheme *s)
{
	free(s->purelib);
	free(s->platlib);
	free(s->scripts);
	free(s->headers);
	free(s->data);
	free(s->interpreter);
	free(s->py_version);
	lade_strv_free(s->exclude);
	memset(s, 0, sizeof(*s));
}

int lade_install_scheme_venv(const char *venv, const char *py_version,
                             struct lade_install_scheme *s, struct lade_error **err)
{
	memset(s, 0, sizeof(*s));
	_cleanup_free_ char *root = lade_venv_root(venv, py_version, err);
	if (root == NULL)
		return -1;
	s->purelib = xasprintf("%s/lib/python%s/site-packages", root, py_version);
	s->platlib = xstrdup(s->purelib);
	s->scripts = xasprintf("%s/bin", root);
	s->headers = xasprintf("%s/include/site/python%s", root, py_version);
	s->data = xstrdup(root);
	s->interpreter = xasprintf("/%s/bin/python", root);
	s->py_version = xstrdup(py_version);
	return 0;
}

static bool py_version_ok(const char *v)
{
	if (v == NULL || strncmp(v, "3.", 2) != 0 || v[2] == '\0')
		return false;
	for (const char *p = v + 2; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* The node at path in the base, following its symlinks (NULL when it does not exist). */
static const struct lade_tree_node *base_lookup(const struct lade_tree *base, const char *path,
                                                char **resolved, struct lade_error **err)
{
	_cleanup_free_ char *r = NULL;
	if (lade_tree_resolve(base, path, true, &r, err) < 0) {
		lade_error_prefix(err, "/%s", path);
		return NULL;
	}
	const struct lade_tree_node *n = lade_tree_lookup(base, r);
	if (resolved)
		*resolved = steal_pointer(&r);
	return n;
}

int lade_install_scheme_system(const char *interpreter, const char *py_version,
                               const struct lade_tree *base, struct lade_install_scheme *s,
                               struct lade_error **err)
{
	memset(s, 0, sizeof(*s));
	if (!py_version_ok(py_version))
		return lade_error_set(err, 0, "python version '%s' is not of the form 3.Y",
		                      py_version ? py_version : "");
	if (interpreter == NULL || interpreter[0] != '/')
		return lade_error_set(err, 0, "python interpreter '%s' is not an absolute path",
		                      interpreter ? interpreter : "");
	_cleanup_free_ char *interp = lade_path_normalize(interpreter, err);
	if (interp == NULL)
		return lade_error_prefix(err, "python interpreter %s", interpreter);
	_cleanup_free_ char *bin = lade_path_dirname(interp);
	const char *slash = strrchr(bin, '/');
	if (strcmp(slash ? slash + 1 : bin, "bin") != 0)
		return lade_error_set(err, 0,
		                      "python interpreter %s is not in a PREFIX/bin directory: "
		                      "cannot tell its site directory (use venv:)",
		                      interpreter);
	_cleanup_free_ char *prefix = lade_path_dirname(bin);
	_cleanup_free_ char *libdir = xasprintf("lib/python%s", py_version);
	_cleanup_free_ char *stdlib = lade_path_join(prefix, libdir);

	/* PEP 668: pip refuses to install into an interpreter marked so, and so does lade */
	_cleanup_free_ char *marker = lade_path_join(stdlib, "EXTERNALLY-MANAGED");
	_cleanup_error_ struct lade_error *e = NULL;
	const struct lade_tree_node *n = base_lookup(base, marker, NULL, &e);
	if (e)
		return lade_error_set(err, 0, "python interpreter %s: %s", interpreter, e->msg);
	if (n)
		return lade_error_set(err, 0,
		                      "the base marks %s as externally managed (/%s, PEP 668): use "
		                      "venv:, or a base without that file",
		                      interpreter, marker);

	_cleanup_free_ char *site = lade_path_join(stdlib, "site-packages");
	n = base_lookup(base, site, NULL, &e);
	if (e)
		return lade_error_set(err, 0, "python interpreter %s: %s", interpreter, e->msg);
	if (n && n->type == LADE_ENTRY_DIR) {
		/* posix_prefix, the scheme of a python.org build */
		s->purelib = steal_pointer(&site);
		s->platlib = xstrdup(s->purelib);
		s->scripts = steal_pointer(&bin);
		s->data = xstrdup(prefix);
		_cleanup_free_ char *include = xasprintf("include/python%s", py_version);
		s->headers = lade_path_join(prefix, include);
	} else {
		static const char debian[] = "usr/lib/python3/dist-packages";
		n = strcmp(prefix, "usr") == 0 ? base_lookup(base, debian, NULL, &e) : NULL;
		if (e)
			return lade_error_set(err, 0, "python interpreter %s: %s", interpreter,
			                      e->msg);
		if (n == NULL || n->type != LADE_ENTRY_DIR)
			return lade_error_set(
			        err, 0,
			        "python interpreter %s has no site directory in the base: neither "
			        "/%s (a python.org build) nor /%s (Debian's python3 in /usr/bin) "
			        "is "
			        "a directory (use venv:)",
			        interpreter, site, debian);
		/* Debian's posix_local: what its pip installs into when run as root; the
		 * headers follow sysconfig's "include" of that scheme, which stays in /usr */
		s->purelib = xasprintf("usr/local/lib/python%s/dist-packages", py_version);
		s->platlib = xstrdup(s->purelib);
		s->scripts = xstrdup("usr/local/bin");
		s->data = xstrdup("usr/local");
		s->headers = xasprintf("usr/include/python%s", py_version);
	}
	s->interpreter = xasprintf("/%s", interp);
	s->py_version = xstrdup(py_version);
	return 0;
}

/* The version part of a dist-info directory name when its name part is `name` (normalised)
 * and the rest a PEP 440 version, else NULL. Names may contain '-' in old dist-infos, so
 * every split is tried. */
static char *dist_info_version(const char *dir, const char *name)
{
	size_t n = strlen(dir), suffix = strlen(".dist-info");
	if (n <= suffix || strcmp(dir + n - suffix, ".dist-info") != 0)
		return NULL;
	for (const char *dash = strchr(dir, '-'); dash; dash = strchr(dash + 1, '-')) {
		if ((size_t)(dash - dir) + 1 >= n - suffix)
			break;
		_cleanup_free_ char *part = xstrndup(dir, (size_t)(dash - dir));
		_cleanup_free_ char *norm = lade_name_normalize(part);
		if (strcmp(norm, name) != 0)
			continue;
		char *v = xstrndup(dash + 1, n - suffix - (size_t)(dash + 1 - dir));
		if (lade_version_valid(v))
			return v;
		free(v);
	}
	return NULL;
}

/* pip's "name==V" check of an installed distribution: PEP 440 equality ("1.0" is "1.0.0"). */
static bool same_version(const char *a, const char *b)
{
	_cleanup_(lade_version_freep) struct lade_version *va = NULL;
	_cleanup_(lade_version_freep) struct lade_version *vb = NULL;
	if (lade_version_parse(a, &va, NULL) < 0 || lade_version_parse(b, &vb, NULL) < 0)
		return strcmp(a, b) == 0;
	return lade_version_cmp(va, vb) == 0;
}

int lade_install_base_dist(const struct lade_tree *base, const char *site_dir, const char *name,
                           const char *version, char **dist_info, struct lade_error **err)
{
	*dist_info = NULL;
	_cleanup_error_ struct lade_error *e = NULL;
	_cleanup_free_ char *dir = NULL;
	if (base_lookup(base, site_dir, &dir, &e) == NULL)
		return 0; /* no site directory yet: nothing installed there */
	_cleanup_free_ char *want = lade_name_normalize(name);
	_cleanup_strv_ char **children = lade_tree_children(base, dir);
	for (char **c = children; c && *c; c++) {
		_cleanup_free_ char *v = dist_info_version(*c, want);
		if (v == NULL)
			continue;
		_cleanup_free_ char *real = lade_path_join(dir, *c);
		const struct lade_tree_node *n = lade_tree_lookup(base, real);
		if (n == NULL || n->type != LADE_ENTRY_DIR)
			continue;
		_cleanup_free_ char *path = lade_path_join(site_dir, *c);
		if (!same_version(v, version))
			return lade_error_set(
			        err, 0,
			        "%s %s is locked, the base has %s %s (/%s): lade does "
			        "not uninstall from a base image: lock %s, or use "
			        "venv:",
			        name, version, name, v, path, v);
		*dist_info = steal_pointer(&path);
		return 1;
	}
	return 0;
}

void lade_install_info_release(struct lade_install_info *info)
{
	free(info->name);
	free(info->version);
	lade_strv_free(info->requires_dist);
	lade_strv_free(info->notes);
	free(info->license);
	free(info->dist_info);
	memset(info, 0, sizeof(*info));
}

/* ---------------------------------------------------------------- scripts */

char *lade_install_script_text(const char *interpreter, const char *module, const char *attr)
{
	struct lade_buf b = LADE_BUF_INIT;
	bool space = strchr(interpreter, ' ') != NULL;
	_cleanup_free_ char *exe = space && interpreter[0] != '"' ? xasprintf("\"%s\"", interpreter)
	                                                          : xstrdup(interpreter);
	/* distlib: '#!' + executable + '\n' must fit in 127 bytes and contain no space */
	if (!space && strlen(exe) + 3 <= SHEBANG_MAX)
		lade_buf_addf(&b, "#!%s\n", exe);
	else
		lade_buf_addf(&b, "#!/bin/sh\n'''exec' %s \"$0\" \"$@\"\n' '''\n", exe);
	size_t head = strcspn(attr, ".");
	/* The current pip's PipScriptMaker template (no `import re`, so scripts start faster), not
	 * distlib's own: the current pip is the reference (tests/integration/wheels-real.sh). */
	lade_buf_addf(&b,
	              "import sys\n"
	              "from %s import %.*s\n"
	              "if __name__ == '__main__':\n"
	              "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n"
	              "    sys.exit(%s())\n",
	              module, (int)head, attr, attr);
	return lade_buf_detach(&b, NULL);
}

/* pip drops scripts shipped in .data/scripts that are wrappers for one of the wheel's own
 * entry points: it writes fresh ones. */
static bool is_entrypoint_wrapper(const struct lade_wheel *w, const char *base)
{
	size_t n = strlen(base);
	_cleanup_free_ char *lower = xstrdup(base);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (n > 4 && strcmp(lower + n - 4, ".exe") == 0)
		n -= 4;
	else if (n > 10 && strcmp(lower + n - 10, "-script.py") == 0)
		n -= 10;
	else if (n > 4 && strcmp(lower + n - 4, ".pya") == 0)
		n -= 4;
	for (size_t i = 0; i < lade_wheel_entry_point_count(w); i++) {
		const char *ep = lade_wheel_entry_point(w, i)->name;
		if (strlen(ep) == n && strncmp(ep, base, n) == 0)
			return true;
	}
	return false;
}

/* "pip", "pipN", "pipN.M" (pip's `pip(\d+(\.\d+)?)?$`) or "easy_install", "easy_install-N.M"
 * (`easy_install(-\d+\.\d+)?$`) after the given stem. */
static bool versioned_script(const char *name, const char *stem)
{
	size_t n = strlen(stem);
	if (strncmp(name, stem, n) != 0)
		return false;
	const char *p = name + n;
	bool pip = strcmp(stem, "pip") == 0;
	if (*p == '\0')
		return true;
	if (!pip && *p++ != '-')
		return false;
	for (int part = 0; part < 2; part++) {
		const char *start = p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == start)
			return false;
		if (*p == '\0')
			return pip || part == 1;
		if (part == 1 || *p++ != '.')
			return false;
	}
	return false;
}

static bool has_console_script(const struct lade_wheel *w, const char *name)
{
	for (size_t i = 0; i < lade_wheel_entry_point_count(w); i++) {
		const struct lade_wheel_entry_point *ep = lade_wheel_entry_point(w, i);
		if (!ep->gui && strcmp(ep->name, name) == 0)
			return true;
	}
	return false;
}

/* The script names pip writes for entry point ep into names[] (up to 3, freed by the caller),
 * their count. pip's get_console_script_specs: pip and setuptools carry versioned wrappers for
 * the Python their wheel was built with (pip3.11, easy_install-3.11); pip drops those and, for
 * the interpreter it installs for (no ENSUREPIP_OPTIONS), writes pip, pipX, pipX.Y with the
 * "pip" entry point and easy_install, easy_install-X.Y with "easy_install". */
static size_t script_names(const struct lade_wheel *w, const char *py_version,
                           const struct lade_wheel_entry_point *ep, char *names[3])
{
	if (ep->gui || py_version == NULL) {
		names[0] = xstrdup(ep->name);
		return 1;
	}
	if (strcmp(ep->name, "pip") == 0) {
		names[0] = xstrdup("pip");
		names[1] = xasprintf("pip%.*s", (int)strcspn(py_version, "."), py_version);
		names[2] = xasprintf("pip%s", py_version);
		return 3;
	}
	if (strcmp(ep->name, "easy_install") == 0) {
		names[0] = xstrdup("easy_install");
		names[1] = xasprintf("easy_install-%s", py_version);
		return 2;
	}
	if ((versioned_script(ep->name, "pip") && has_console_script(w, "pip")) ||
	    (versioned_script(ep->name, "easy_install") && has_console_script(w, "easy_install")))
		return 0;
	names[0] = xstrdup(ep->name);
	return 1;
}

/* A stream that keeps the first 8 bytes of a member and then stops the decoder. */
struct peek_stream {
	struct lade_stream stream;
	char buf[8];
	size_t n;
};

static int peek_write(struct lade_stream *s, const void *buf, size_t len, struct lade_error **err)
{
	struct peek_stream *ps = (struct peek_stream *)s;
	size_t take = sizeof(ps->buf) - ps->n < len ? sizeof(ps->buf) - ps->n : len;
	memcpy(ps->buf + ps->n, buf, take);
	ps->n += take;
	if (ps->n == sizeof(ps->buf))
		return lade_error_set(err, 0, "peek complete");
	return 0;
}

static int starts_with_python(struct lade_wheel *w, size_t i, bool *yes, struct lade_error **err)
{
	struct peek_stream ps = {.stream = {peek_write}, .n = 0};
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_wheel_emit_member(w, i, &ps.stream, &e) < 0 && ps.n < sizeof(ps.buf)) {
		if (err && *err == NULL)
			*err = steal_pointer(&e);
		return -1;
	}
	*yes = ps.n >= 8 && memcmp(ps.buf, "#!python", 8) == 0;
	return 0;
}

/* ---------------------------------------------------------------- planned files */

struct planned {
	char *path; /* image path */
	char *root; /* scheme directory it was installed under (explicit dirs below it) */
	char *origin;
	uint32_t mode;
	ssize_t member;       /* verbatim member index, or -1 for generated content */
	struct lade_buf data; /* generated content */
	bool record_self;     /* the RECORD file, and .pyc files: listed as ",," */
	bool record_only;     /* not installed, only listed (see plan_member) */
};

struct plan {
	struct planned *v;
	size_t n, alloc;
	char **notes; /* for lade_install_info.notes */
};

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].path);
		free(p->v[i].root);
		free(p->v[i].origin);
		lade_buf_release(&p->v[i].data);
	}
	free(p->v);
	lade_strv_free(p->notes);
	memset(p, 0, sizeof(*p));
}

static struct planned *plan_add(struct plan *p, const char *root, char *path, char *origin)
{
	lade_grow(&p->v, sizeof(*p->v), p->n + 1, &p->alloc);
	struct planned *f = &p->v[p->n++];
	memset(f, 0, sizeof(*f));
	f->path = path;
	f->root = xstrdup(root);
	f->origin = origin;
	f->member = -1;
	lade_buf_init(&f->data);
	return f;
}

static bool under(const char *path, const char *dir, const char **rel)
{
	size_t n = strlen(dir);
	if (strncmp(path, dir, n) != 0 || path[n] != '/')
		return false;
	if (rel)
		*rel = path + n + 1;
	return true;
}

static bool excluded(const struct lade_install_scheme *s, const char *path)
{
	if (s->exclude == NULL)
		return false;
	const char *rel = NULL;
	if (!under(path, s->purelib, &rel))
		under(path, s->platlib, &rel);
	for (char **g = s->exclude; *g; g++) {
		if (lade_glob_match(*g, path) || (rel && lade_glob_match(*g, rel)))
			return true;
	}
	return false;
}

/* Path of `path` relative to directory `from` (both normalised image paths), like
 * os.path.relpath: "../../../bin/foo". */
static char *relpath(const char *from, const char *path)
{
	size_t common = 0, i = 0;
	/* longest common prefix ending at a component boundary */
	for (;; i++) {
		bool fe = from[i] == '\0' || from[i] == '/';
		bool pe = path[i] == '\0' || path[i] == '/';
		if (fe && pe)
			common = i;
		if (from[i] == '\0' || path[i] == '\0' || from[i] != path[i])
			break;
	}
	struct lade_buf b = LADE_BUF_INIT;
	const char *rest = from + common;
	while (*rest == '/')
		rest++;
	if (*rest) {
		lade_buf_adds(&b, "..");
		for (const char *p = rest; *p; p++)
			if (*p == '/')
				lade_buf_adds(&b, "/..");
	}
	const char *tail = path + common;
	while (*tail == '/')
		tail++;
	if (*tail) {
		if (b.len)
			lade_buf_addch(&b, '/');
		lade_buf_adds(&b, tail);
	}
	return lade_buf_detach(&b, NULL);
}

/* Python csv QUOTE_MINIMAL (excel dialect). */
static void csv_field(struct lade_buf *b, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		lade_buf_adds(b, s);
		return;
	}
	lade_buf_addch(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			lade_buf_addch(b, '"');
		lade_buf_addch(b, *s);
	}
	lade_buf_addch(b, '"');
}

struct record_row {
	char *path, *hash, *size;
};

static int cmp_row(const void *a, const void *b)
{
	const struct record_row *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	if (c == 0)
		c = strcmp(x->hash, y->hash);
	if (c == 0)
		c = strcmp(x->size, y->size);
	return c;
}

static void hash_field(const unsigned char sha[32], char out[52])
{
	char b64[44];
	lade_wheel_hash_b64(sha, b64);
	snprintf(out, 52, "sha256=%s", b64);
}

static char *record_text(const struct plan *p, const char *lib_dir, struct lade_wheel *w)
{
	_cleanup_free_ struct record_row *rows = xcalloc(p->n ? p->n : 1, sizeof(*rows));
	for (size_t i = 0; i < p->n; i++) {
		const struct planned *f = &p->v[i];
		rows[i].path = relpath(lib_dir, f->path);
		if (f->record_self) {
			rows[i].hash = xstrdup("");
			rows[i].size = xstrdup("");
		} else if (f->member >= 0) {
			const struct lade_wheel_member *m = lade_wheel_member(w, (size_t)f->member);
			char h[52] = "";
			if (m->has_sha256)
				hash_field(m->sha256, h);
			rows[i].hash = xstrdup(h);
			rows[i].size = m->has_sha256
			                       ? xasprintf("%llu", (unsigned long long)m->usize)
			                       : xstrdup("");
		} else {
			unsigned char sha[32];
			char h[52];
			struct lade_sha256 *ctx = lade_sha256_new();
			lade_sha256_update(ctx, f->data.data, f->data.len);
			lade_sha256_final(ctx, sha, NULL);
			lade_sha256_free(ctx);
			hash_field(sha, h);
			rows[i].hash = xstrdup(h);
			rows[i].size = xasprintf("%zu", f->data.len);
		}
	}
	qsort(rows, p->n, sizeof(*rows), cmp_row);
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; i < p->n; i++) {
		csv_field(&b, rows[i].path);
		lade_buf_addch(&b, ',');
		csv_field(&b, rows[i].hash);
		lade_buf_addch(&b, ',');
		csv_field(&b, rows[i].size);
		lade_buf_adds(&b, "\r\n"); /* csv.writer's default line terminator, as pip writes */
		free(rows[i].path);
		free(rows[i].hash);
		free(rows[i].size);
	}
	return lade_buf_detach(&b, NULL);
}

/* ---------------------------------------------------------------- layer entries */

static int member_emit(void *ctx, const struct lade_entry *e, struct lade_stream *out,
                       struct lade_error **err)
{
	return lade_wheel_emit_member(ctx, (size_t)e->ops_index, out, err);
}

static bool member_deflated(void *ctx, const struct lade_entry *e, uint32_t *crc,
                            uint64_t *raw_size)
{
	const struct lade_wheel_member *m = lade_wheel_member(ctx, (size_t)e->ops_index);
	if (m->method != 8)
		return false;
	*crc = m->crc32;
	*raw_size = m->csize;
	return true;
}

static int member_emit_spliced(void *ctx, const struct lade_entry *e, struct lade_stream *out,
                               struct lade_stream *raw, struct lade_error **err)
{
	return lade_wheel_emit_member_spliced(ctx, (size_t)e->ops_index, out, raw, err);
}

static const struct lade_source_ops wheel_member_ops = {
        .emit = member_emit,
        .deflated = member_deflated,
        .emit_spliced = member_emit_spliced,
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dirs(const struct plan *p, const struct lade_install_scheme *s,
                    struct lade_layer *layer, const char *origin, struct lade_error **err)
{
	/* every parent of every file (torch: tens of thousands): counted, not lade_strv_push,
	 * which walks the vector on each push */
	_cleanup_strv_ char **dirs = NULL;
	size_t n = 0, alloc = 0;
	for (size_t i = 0; i < p->n; i++) {
		const char *rel;
		if (p->v[i].record_only || !under(p->v[i].path, p->v[i].root, &rel))
			continue;
		for (const char *sl = strchr(rel, '/'); sl; sl = strchr(sl + 1, '/')) {
			lade_grow(&dirs, sizeof(*dirs), n + 2, &alloc);
			dirs[n++] = xstrndup(p->v[i].path, (size_t)(sl - p->v[i].path));
			dirs[n] = NULL;
		}
	}
	if (n == 0)
		return 0;
	qsort(dirs, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(dirs[i], dirs[i - 1]) == 0)
			continue;
		struct lade_entry *e = lade_entry_new(dirs[i], LADE_ENTRY_DIR, origin);
		e->mode = 0755;
		e->uid = s->uid;
		e->gid = s->gid;
		if (lade_layer_add(layer, e, err) < 0)
			return -1;
	}
	return 0;
}

static int add_files(struct plan *p, const struct lade_install_scheme *s, struct lade_wheel *w,
                     struct lade_layer *layer, size_t *files, uint64_t *bytes,
                     struct lade_error **err)
{
	for (size_t i = 0; i < p->n; i++) {
		struct planned *f = &p->v[i];
		if (f->record_only)
			continue;
		struct lade_entry *e = lade_entry_new(f->path, LADE_ENTRY_FILE, f->origin);
		e->mode = f->mode;
		e->uid = s->uid;
		e->gid = s->gid;
		if (f->member >= 0) {
			const struct lade_wheel_member *m = lade_wheel_member(w, (size_t)f->member);
			e->size = m->usize;
			e->ops = &wheel_member_ops;
			e->ops_ctx = w;
			e->ops_index = (uint64_t)f->member;
			e->has_sha256 = m->has_sha256;
			memcpy(e->sha256, m->sha256, 32);
		} else {
			struct lade_sha256 *ctx = lade_sha256_new();
			lade_sha256_update(ctx, f->data.data, f->data.len);
			lade_sha256_final(ctx, e->sha256, NULL);
			lade_sha256_free(ctx);
			e->has_sha256 = true;
			e->size = f->data.len;
			lade_buf_release(&e->data);
			e->data = f->data;
			lade_buf_init(&f->data);
		}
		*files += 1;
		*bytes += e->size;
		if (lade_layer_add(layer, e, err) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- install */

static const char *scheme_dir(const struct lade_install_scheme *s, const char *key)
{
	if (strcmp(key, "purelib") == 0)
		return s->purelib;
	if (strcmp(key, "platlib") == 0)
		return s->platlib;
	if (strcmp(key, "scripts") == 0)
		return s->scripts;
	if (strcmp(key, "headers") == 0)
		return s->headers;
	if (strcmp(key, "data") == 0)
		return s->data;
	return NULL;
}

static int plan_member(struct lade_wheel *w, const struct lade_install_scheme *s,
                       const char *lib_dir, size_t i, struct plan *p, struct lade_error **err)
{
	const struct lade_wheel_member *m = lade_wheel_member(w, i);
	const char *fn = lade_wheel_filename(w);
	const char *data_dir = lade_wheel_data_dir(w);
	const char *rel;
	_cleanup_free_ char *root = NULL;
	_cleanup_free_ char *dest = NULL;
	bool script = false;

	if (under(m->name, data_dir, &rel)) {
		const char *slash = strchr(rel, '/');
		if (slash == NULL)
			return lade_error_set(
			        err, 0,
			        "wheel %s: unexpected file %s: .data contents must be "
			        "<scheme key>/<path>",
			        fn, m->name);
		_cleanup_free_ char *key = xstrndup(rel, (size_t)(slash - rel));
		const char *dir = scheme_dir(s, key);
		if (dir == NULL)
			return lade_error_set(err, 0, "wheel %s: unknown .data directory '%s'", fn,
			                      key);
		if (strcmp(key, "headers") == 0)
			root = xasprintf("%s/%s", dir, lade_wheel_name(w));
		else
			root = xstrdup(dir);
		dest = lade_path_join(root, slash + 1);
		script = strcmp(key, "scripts") == 0;
		if (script && strchr(slash + 1, '/') == NULL &&
		    is_entrypoint_wrapper(w, slash + 1)) {
			/* pip skips the file but keeps the wheel's RECORD row for it, under the
			 * member name (get_csv_rows_for_installed): reproduce that row */
			struct planned *f = plan_add(p, lib_dir, lade_path_join(lib_dir, m->name),
			                             xasprintf("wheel %s member %s", fn, m->name));
			f->member = (ssize_t)i;
			f->record_only = true;
			return 0;
		}
	} else {
		root = xstrdup(lib_dir);
		dest = lade_path_join(lib_dir, m->name);
	}
	if (excluded(s, dest))
		return 0;

	bool rewrite = false;
	if (script && starts_with_python(w, i, &rewrite, err) < 0)
		return -1;
	char *origin = xasprintf("wheel %s member %s", fn, m->name);
	struct planned *f = plan_add(p, root, steal_pointer(&dest), origin);
	if (rewrite) {
		/* pip's fix_script: the whole first line becomes "#!" + interpreter (arguments
		 * after #!python are dropped); the mode follows the zip like any other file */
		_cleanup_buf_ struct lade_buf content = LADE_BUF_INIT;
		if (m->usize > SCRIPT_MAX)
			return lade_error_set(
			        err, 0, "wheel %s member %s: #!python script larger than 16 MiB",
			        fn, m->name);
		if (lade_wheel_read_member(w, i, SCRIPT_MAX, &content, err) < 0)
			return -1;
		const char *nl = memchr(content.data, '\n', content.len);
		size_t rest = nl ? (size_t)(nl + 1 - content.data) : content.len;
		lade_buf_addf(&f->data, "#!%s\n", s->interpreter);
		lade_buf_add(&f->data, content.data + rest, content.len - rest);
	} else {
		f->member = (ssize_t)i;
	}
	/* pip: 0755 when the zip mode is a regular file with any exec bit, else 0644; setuid,
	 * setgid and sticky bits never reach the image, and the user is told. */
	f->mode = S_ISREG(m->unix_mode) && (m->unix_mode & 0111) ? 0755 : 0644;
	if (m->unix_mode & (S_ISUID | S_ISGID)) {
		_cleanup_free_ char *note = xasprintf(
		        "wheel %s member %s: setuid/setgid bits dropped (mode %04o installed as "
		        "%04o)",
		        fn, m->name, (unsigned)(m->unix_mode & 07777), (unsigned)f->mode);
		lade_strv_push(&p->notes, note);
	}
	return 0;
}

#define PY_SOURCE_MAX (256u << 20)

/* The files pip's compile step compiles: after the wheel's files (not the entry-point wrappers
 * written later), every installed path ending in ".py", in any scheme directory, unless the
 * pyc path is excluded. */
static bool to_compile(const struct lade_install_scheme *s, const struct planned *f,
                       char **pyc_path)
{
	size_t len = strlen(f->path);
	if (f->record_only || len < 3 || strcmp(f->path + len - 3, ".py") != 0)
		return false;
	*pyc_path = lade_pyc_path(f->path, lade_pyc_compiler_cache_tag(s->compiler), s->optimize);
	if (!excluded(s, *pyc_path))
		return true;
	free(steal_pointer(pyc_path));
	return false;
}

static void content_sha(struct lade_wheel *w, const struct planned *f, unsigned char sha[32])
{
	if (f->member >= 0) {
		memcpy(sha, lade_wheel_member(w, (size_t)f->member)->sha256, 32);
		return;
	}
	struct lade_sha256 *ctx = lade_sha256_new();
	lade_sha256_update(ctx, f->data.data, f->data.len);
	lade_sha256_final(ctx, sha, NULL);
	lade_sha256_free(ctx);
}

/* The memo key: compiler version, level, and each file's image path and content hash. */
static void memo_key(struct lade_wheel *w, const struct lade_install_scheme *s,
                     const struct plan *p, size_t n, char key[65])
{
	struct lade_sha256 *ctx = lade_sha256_new();
	_cleanup_free_ char *head = xasprintf("lade pyc memo 1\n%s\n%d\n",
	                                      lade_pyc_compiler_version(s->compiler), s->optimize);
	lade_sha256_update(ctx, head, strlen(head) + 1);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *pyc_path = NULL;
		if (!to_compile(s, &p->v[i], &pyc_path))
			continue;
		unsigned char sha[32];
		content_sha(w, &p->v[i], sha);
		lade_sha256_update(ctx, p->v[i].path, strlen(p->v[i].path) + 1);
		lade_sha256_update(ctx, sha, sizeof(sha));
	}
	unsigned char d[32];
	lade_sha256_final(ctx, d, NULL);
	lade_sha256_free(ctx);
	for (size_t i = 0; i < 32; i++)
		snprintf(key + 2 * i, 3, "%02x", d[i]);
}

/* Memo bytes: per compiled file "u8 status, u32 length, bytes" in plan order (status 1: the
 * failure text), after a sha256 of the rest (a damaged memo is not used). */
static void memo_add(struct lade_buf *m, uint8_t status, const void *data, size_t len)
{
	uint8_t h[5] = {status, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
	                (uint8_t)(len >> 24)};
	lade_buf_add(m, h, sizeof(h));
	lade_buf_add(m, data, len);
}

static bool memo_next(const struct lade_buf *m, size_t *pos, uint8_t *status, const char **data,
                      size_t *len)
{
	if (m->len - *pos < 5)
		return false;
	const uint8_t *h = (const uint8_t *)m->data + *pos;
	*status = h[0];
	*len = (size_t)h[1] | (size_t)h[2] << 8 | (size_t)h[3] << 16 | (size_t)h[4] << 24;
	if (*status > 1 || m->len - *pos - 5 < *len)
		return false;
	*data = m->data + *pos + 5;
	*pos += 5 + *len;
	return true;
}

static bool memo_valid(const struct lade_buf *m)
{
	if (m->len < 32)
		return false;
	unsigned char sha[32];
	struct lade_sha256 *ctx = lade_sha256_new();
	lade_sha256_update(ctx, m->data + 32, m->len - 32);
	lade_sha256_final(ctx, sha, NULL);
	lade_sha256_free(ctx);
	return memcmp(sha, m->data, 32) == 0;
}

/* One file's answer: its pyc planned, or the note pip's skipping deserves. */
static void compiled(struct plan *p, size_t i, char *pyc_path, const char *fn, uint8_t status,
                     const char *data, size_t len)
{
	if (status == 1) {
		_cleanup_free_ char *note =
		        xasprintf("wheel %s: /%s not compiled (%.*s), as pip skips it", fn,
		                  p->v[i].path, (int)len, data);
		lade_strv_push(&p->notes, note);
		free(pyc_path);
		return;
	}
	struct planned *f =
	        plan_add(p, p->v[i].root, pyc_path, xasprintf("%s (bytecode)", p->v[i].origin));
	f->mode = 0644;
	f->record_self = true;
	lade_buf_add(&f->data, data, len);
}

/* One file to compile, described before the writer thread starts (the plan grows meanwhile). */
struct job {
	size_t plan;
	char *pyc_path, *image_path;
	ssize_t member;   /* wheel member, or -1: data */
	const char *data; /* generated content (a rewritten script) */
	size_t len;
};

struct compile_ctx {
	struct lade_wheel *w;
	struct plan *p;
	struct job *jobs;
	size_t n;
	struct lade_buf *memo; /* len 0: no memo */
	const char *fn;
};

/* From the writer thread: only the wheel and the job are touched. */
static int job_source(void *ctx, size_t i, const char **path, struct lade_buf *src,
                      struct lade_error **err)
{
	struct compile_ctx *cc = ctx;
	const struct job *j = &cc->jobs[i];
	*path = j->image_path;
	if (j->member < 0) {
		lade_buf_add(src, j->data, j->len);
		return 0;
	}
	return lade_wheel_read_member(cc->w, (size_t)j->member, PY_SOURCE_MAX, src, err);
}

static int job_answer(void *ctx, size_t i, int status, const char *data, size_t len,
                      struct lade_error **err)
{
	(void)err;
	struct compile_ctx *cc = ctx;
	struct job *j = &cc->jobs[i];
	if (cc->memo->len)
		memo_add(cc->memo, (uint8_t)status, data, len);
	compiled(cc->p, j->plan, steal_pointer(&j->pyc_path), cc->fn, (uint8_t)status, data, len);
	return 0;
}

static int compile_planned(struct lade_wheel *w, const struct lade_install_scheme *s,
                           struct plan *p, struct lade_error **err)
{
	const char *fn = lade_wheel_filename(w);
	size_t n = p->n;
	char key[65];
	_cleanup_buf_ struct lade_buf memo = LADE_BUF_INIT;
	if (s->memo_get && s->memo_put) {
		memo_key(w, s, p, n, key);
		if (s->memo_get(s->memo_ctx, key, &memo) == 1 && memo_valid(&memo)) {
			/* check it answers every file before using any of it */
			/* initialised: gcc 14 cannot see that the second pass
			 * reads only the entries the first pass counted */
			size_t pos = 32, k = 0, want = 0, len = 0;
			uint8_t st = 0;
			const char *data = NULL;
			for (size_t i = 0; i < n; i++) {
				_cleanup_free_ char *pyc_path = NULL;
				want += to_compile(s, &p->v[i], &pyc_path);
			}
			while (memo_next(&memo, &pos, &st, &data, &len))
				k++;
			if (k == want && pos == memo.len) {
				pos = 32;
				for (size_t i = 0; i < n; i++) {
					char *pyc_path = NULL;
					if (!to_compile(s, &p->v[i], &pyc_path))
						continue;
					memo_next(&memo, &pos, &st, &data, &len);
					compiled(p, i, pyc_path, fn, st, data, len);
				}
				return 0;
			}
		}
		lade_buf_reset(&memo);
		lade_buf_grow(&memo, 32);
		memo.len = 32;
	}
	struct job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	struct compile_ctx cc = {.w = w, .p = p, .jobs = jobs, .memo = &memo, .fn = fn};
	for (size_t i = 0; i < n; i++) {
		char *pyc_path = NULL;
		if (!to_compile(s, &p->v[i], &pyc_path))
			continue;
		struct job *j = &jobs[cc.n++];
		j->plan = i;
		j->pyc_path = pyc_path;
		j->image_path = xasprintf("/%s", p->v[i].path);
		j->member = p->v[i].member;
		j->data = p->v[i].data.data;
		j->len = p->v[i].data.len;
	}
	int rc = lade_pyc_compile_many(s->compiler, cc.n, s->optimize, job_source, job_answer, &cc,
	                               err);
	for (size_t i = 0; i < cc.n; i++) {
		free(jobs[i].pyc_path);
		free(jobs[i].image_path);
	}
	free(jobs);
	if (rc < 0)
		return lade_error_prefix(err, "wheel %s", fn);
	if (memo.len) {
		struct lade_sha256 *ctx = lade_sha256_new();
		lade_sha256_update(ctx, memo.data + 32, memo.len - 32);
		lade_sha256_final(ctx, (unsigned char *)memo.data, NULL);
		lade_sha256_free(ctx);
		s->memo_put(s->memo_ctx, key, memo.data, memo.len);
	}
	return 0;
}

/* The wrapper script `name` of entry point ep, unless the excludes drop it. */
static void plan_script(struct plan *p, const struct lade_install_scheme *scheme, const char *fn,
                        const char *name, const struct lade_wheel_entry_point *ep)
{
	char *dest = lade_path_join(scheme->scripts, name);
	if (excluded(scheme, dest)) {
		free(dest);
		return;
	}
	struct planned *f =
	        plan_add(p, scheme->scripts, dest, xasprintf("wheel %s entry point %s", fn, name));
	char *text = lade_install_script_text(scheme->interpreter, ep->module, ep->attr);
	lade_buf_adds(&f->data, text);
	free(text);
	f->mode = 0755;
}

int lade_wheel_install(struct lade_wheel *w, const struct lade_install_scheme *scheme,
                       bool requested, struct lade_layer *layer, struct lade_install_info *info,
                       struct lade_error **err)
{
	const char *fn = lade_wheel_filename(w);
	const char *lib_dir = lade_wheel_root_is_purelib(w) ? scheme->purelib : scheme->platlib;
	_cleanup_free_ char *record_name = xasprintf("%s/RECORD", lade_wheel_dist_info(w));
	_cleanup_free_ char *dist_info = lade_path_join(lib_dir, lade_wheel_dist_info(w));
	_cleanup_(plan_release) struct plan p = {NULL, 0, 0, NULL};

	for (size_t i = 0; i < lade_wheel_member_count(w); i++) {
		const struct lade_wheel_member *m = lade_wheel_member(w, i);
		if (m->is_dir || strcmp(m->name, record_name) == 0)
			continue;
		if (plan_member(w, scheme, lib_dir, i, &p, err) < 0)
			return -1;
	}
	if (scheme->compiler && compile_planned(w, scheme, &p, err) < 0)
		return -1;
	for (size_t i = 0; i < lade_wheel_entry_point_count(w); i++) {
		const struct lade_wheel_entry_point *ep = lade_wheel_entry_point(w, i);
		char *names[3];
		size_t n = script_names(w, scheme->py_version, ep, names);
		for (size_t k = 0; k < n; k++)
			plan_script(&p, scheme, fn, names[k], ep);
		for (size_t k = 0; k < n; k++)
			free(names[k]);
	}
	struct planned *f = plan_add(&p, lib_dir, lade_path_join(dist_info, "INSTALLER"),
	                             xasprintf("wheel %s (INSTALLER)", fn));
	lade_buf_adds(&f->data, "lade\n");
	f->mode = 0644;
	if (requested) {
		f = plan_add(&p, lib_dir, lade_path_join(dist_info, "REQUESTED"),
		             xasprintf("wheel %s (REQUESTED)", fn));
		f->mode = 0644;
	}
	f = plan_add(&p, lib_dir, lade_path_join(dist_info, "RECORD"),
	             xasprintf("wheel %s (RECORD)", fn));
	f->mode = 0644;
	f->record_self = true;
	char *record = record_text(&p, lib_dir, w);
	lade_buf_adds(&f->data, record);
	free(record);

	size_t files = 0;
	uint64_t bytes = 0;
	if (add_dirs(&p, scheme, layer, fn, err) < 0 ||
	    add_files(&p, scheme, w, layer, &files, &bytes, err) < 0)
		return -1;
	if (info) {
		memset(info, 0, sizeof(*info));
		info->name = xstrdup(lade_wheel_name(w));
		info->version = xstrdup(lade_wheel_version_normalized(w));
		info->requires_dist = lade_strv_copy(lade_wheel_requires_dist(w));
		info->license = lade_wheel_license(w) ? xstrdup(lade_wheel_license(w)) : NULL;
		info->dist_info = steal_pointer(&dist_info);
		info->files = files;
		info->bytes = bytes;
		info->notes = steal_pointer(&p.notes);
	}
	return 0;
}
