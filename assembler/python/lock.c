/* The hashed lock. Line handling follows pip's req_file.py (join_lines, ignore_comments,
 * break_args_options) so that files written by pip-compile and uv read the same way here. */
#include <stdint.h>
#include <string.h>

#include "lade/hashmap.h"
#include "lade/lock.h"
#include "lade/pep508.h"
#include "lade/util.h"

#define LOCK_MAX_SIZE (64u << 20)

struct lock_parser {
	struct lade_lock *lock;
	size_t alloc;
	struct lade_problems problems;
	struct lade_hashmap *byname; /* name -> index + 1 of its latest requirement */
	size_t *prev;                /* per requirement: index + 1 of the previous one, or 0 */
	size_t prev_alloc;
};

#define MAX_SAME_NAME 64

static void problem(struct lock_parser *lp, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void problem(struct lock_parser *lp, int line, const char *fmt, ...)
{
	if (!lade_problems_next(&lp->problems))
		return;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_addf(&lp->problems.buf, "%s:%d: ", lp->lock->path, line);
	lade_buf_vaddf(&lp->problems.buf, fmt, ap);
	va_end(ap);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* pip's COMMENT_RE.match: '#' at the start, possibly after whitespace. */
static bool is_comment_line(const char *s)
{
	while (is_space(*s))
		s++;
	return *s == '#';
}

/* COMMENT_RE.sub("", line): cut at the first '#' that starts the line or follows whitespace. */
static void strip_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if (*p == '#' && (p == s || is_space(p[-1]))) {
			*p = '\0';
			break;
		}
	}
}

static char *strip(char *s)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

void lade_lock_req_release(struct lade_lock_req *r)
{
	free(r->name);
	free(r->name_text);
	free(r->version);
	lade_strv_free(r->extras);
	lade_strv_free(r->sha256);
	free(r->marker);
	free(r->where);
	lade_strv_free(r->filenames);
	free(r->requires_python);
	for (size_t i = 0; i < r->n_deps; i++) {
		free(r->deps[i].name);
		free(r->deps[i].version);
		free(r->deps[i].marker);
		lade_strv_free(r->deps[i].extras);
		free(r->deps[i].extra);
	}
	free(r->deps);
}

void lade_lock_free(struct lade_lock *lock)
{
	if (!lock)
		return;
	for (size_t i = 0; i < lock->n_reqs; i++)
		lade_lock_req_release(&lock->reqs[i]);
	free(lock->reqs);
	for (size_t i = 0; i < lock->n_projects; i++)
		lade_lock_req_release(&lock->projects[i]);
	free(lock->projects);
	free(lock->requires_python);
	free(lock->requires_python_where);
	lade_strv_free(lock->environments);
	free(lock->environments_where);
	lade_strv_free(lock->ignored);
	free(lock->path);
	free(lock);
}

void lade_lock_freep(struct lade_lock **lock)
{
	lade_lock_free(*lock);
	*lock = NULL;
}

static bool is_hex64(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return n == 64;
}

/* Split on runs of whitespace (in place). */
static char **split_ws(char *s)
{
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;
	for (char *p = s; *p;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		char *start = p;
		while (*p && !is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = start;
		v[n] = NULL;
	}
	return v;
}

static bool opt_is(const char *tok, const char *name)
{
	size_t n = strlen(name);
	return strncmp(tok, name, n) == 0 && (tok[n] == '\0' || tok[n] == '=');
}

static void global_option(struct lock_parser *lp, int line, char *text)
{
	static const char *const ignored[] = {
	        "--index-url",    "--extra-index-url", "--no-index",      "--find-links",
	        "--no-binary",    "--only-binary",     "--prefer-binary", "--pre",
	        "--trusted-host", "--require-hashes",  "--use-feature",
	};
	_cleanup_free_ char *copy = xstrdup(text);
	_cleanup_free_ char **tok = split_ws(copy);
	const char *t = tok[0];
	if (opt_is(t, "--editable") || strncmp(t, "-e", 2) == 0) {
		problem(lp, line,
		        "'%s' is an editable requirement, which cannot be installed from wheels "
		        "(uv export: use --no-emit-project / --no-editable)",
		        text);
		return;
	}
	if (opt_is(t, "--requirement") || opt_is(t, "--constraint") || strncmp(t, "-r", 2) == 0 ||
	    strncmp(t, "-c", 2) == 0) {
		problem(lp, line, "'%s' includes another file: give one complete lock", text);
		return;
	}
	if (opt_is(t, "--hash")) {
		problem(lp, line, "--hash without a requirement");
		return;
	}
	const char *name = t;
	if (strcmp(t, "-i") == 0 || strncmp(t, "-i", 2) == 0)
		name = "--index-url";
	else if (strncmp(t, "-f", 2) == 0)
		name = "--find-links";
	for (size_t i = 0; i < LADE_ARRAY_SIZE(ignored); i++) {
		if (opt_is(name, ignored[i])) {
			_cleanup_free_ char *note = xasprintf(
			        "%s:%d: option %s ignored (lade installs only from wheelhouses)",
			        lp->lock->path, line, ignored[i]);
			lade_strv_push(&lp->lock->ignored, note);
			return;
		}
	}
	problem(lp, line, "unsupported option '%s'", t);
}

static bool looks_like_url_or_path(const char *s)
{
	size_t n = strlen(s);
	return strstr(s, "://") || strncmp(s, "file:", 5) == 0 || s[0] == '.' || s[0] == '/' ||
	       s[0] == '~' || (n > 4 && strcmp(s + n - 4, ".whl") == 0) ||
	       (n > 4 && strcmp(s + n - 4, ".zip") == 0) ||
	       (n > 7 && strcmp(s + n - 7, ".tar.gz") == 0);
}

static void requirement_line(struct lock_parser *lp, int line, char *text)
{
	/* break_args_options: the requirement runs up to the first token that starts with '-' */
	char *opts = NULL;
	for (char *p = text; (p = strchr(p, ' ')) != NULL; p++) {
		if (p[1] == '-') {
			*p = '\0';
			opts = p + 1;
			break;
		}
	}
	char *req_text = strip(text);
	_cleanup_strv_ char **hashes = xcalloc(1, sizeof(char *));
	bool bad = false, other_strong = false;
	if (opts) {
		_cleanup_free_ char **tok = split_ws(opts);
		for (size_t i = 0; tok[i]; i++) {
			const char *value = NULL;
			if (strncmp(tok[i], "--hash=", 7) == 0) {
				value = tok[i] + 7;
			} else if (strcmp(tok[i], "--hash") == 0) {
				value = tok[i + 1];
				if (value)
					i++;
			} else {
				problem(lp, line,
				        "option '%s' is not supported on a requirement line (only "
				        "--hash)",
				        tok[i]);
				bad = true;
				continue;
			}
			const char *colon = value ? strchr(value, ':') : NULL;
			if (!colon) {
				problem(lp, line, "--hash needs algorithm:digest, got '%s'",
				        value ? value : "");
				bad = true;
			} else if (((size_t)(colon - value) == 6 &&
			            strncmp(value, "sha384", 6) == 0) ||
			           ((size_t)(colon - value) == 6 &&
			            strncmp(value, "sha512", 6) == 0)) {
				/* pip accepts a file when any of its hashes matches: with a sha256
				 * beside them these are ignored, lade checks the sha256 */
				other_strong = true;
			} else if ((size_t)(colon - value) != 6 ||
			           strncmp(value, "sha256", 6) != 0) {
				problem(lp, line,
				        "hash algorithm '%.*s' is not allowed (pip allows sha256, "
				        "sha384 and sha512; lade checks sha256)",
				        (int)(colon - value), value);
				bad = true;
			} else if (!is_hex64(colon + 1)) {
				problem(lp, line, "invalid sha256 digest '%s'", colon + 1);
				bad = true;
			} else {
				_cleanup_free_ char *hex = xstrdup(colon + 1);
				for (char *c = hex; *c; c++)
					if (*c >= 'A' && *c <= 'F')
						*c = (char)(*c - 'A' + 'a');
				bool dup = false;
				for (char **h = hashes; *h && !dup; h++)
					dup = strcmp(*h, hex) == 0;
				if (!dup)
					lade_strv_push(&hashes, hex);
			}
		}
	}

	_cleanup_(lade_requirement_freep) struct lade_requirement *r = NULL;
	_cleanup_error_ struct lade_error *rerr = NULL;
	if (looks_like_url_or_path(req_text) ||
	    (lade_requirement_parse(req_text, &r, &rerr) == 0 && r->url)) {
		problem(lp, line,
		        "'%s' is a URL or path requirement (air-gapped: only name==version)",
		        req_text);
		return;
	}
	if (!r) {
		problem(lp, line, "%s", rerr->msg);
		return;
	}
	const char *pin = lade_specifier_pinned(r->spec);
	if (!pin) {
		problem(lp, line, "'%s' is not pinned (need name==version)", req_text);
		return;
	}
	if (!hashes[0]) {
		if (!bad && other_strong)
			problem(lp, line,
			        "'%s' has no sha256 --hash (lade checks sha256 only; sha384 and "
			        "sha512 are accepted beside one)",
			        req_text);
		else if (!bad)
			problem(lp, line, "'%s' has no --hash", req_text);
		return;
	}
	if (bad)
		return;
	size_t last = (size_t)(uintptr_t)lade_hashmap_get(lp->byname, r->name), same = 0;
	for (size_t k = last; k; k = lp->prev[k - 1]) {
		const struct lade_lock_req *o = &lp->lock->reqs[k - 1];
		if (!o->marker || !r->marker || strcmp(o->marker, r->marker) == 0) {
			problem(lp, line,
			        "%s is also required on line %d (duplicates need markers that "
			        "exclude each other)",
			        r->name_text, o->line);
			return;
		}
		if (++same >= MAX_SAME_NAME) {
			problem(lp, line, "%s is required more than %d times", r->name_text,
			        MAX_SAME_NAME);
			return;
		}
	}

	lade_grow(&lp->prev, sizeof(size_t), lp->lock->n_reqs + 1, &lp->prev_alloc);
	lp->prev[lp->lock->n_reqs] = last;
	lade_hashmap_put(lp->byname, r->name, (void *)(uintptr_t)(lp->lock->n_reqs + 1));
	lade_grow(&lp->lock->reqs, sizeof(struct lade_lock_req), lp->lock->n_reqs + 1, &lp->alloc);
	struct lade_lock_req *out = &lp->lock->reqs[lp->lock->n_reqs++];
	memset(out, 0, sizeof(*out));
	out->name = steal_pointer(&r->name);
	out->name_text = steal_pointer(&r->name_text);
	out->version = lade_version_normalize(pin);
	out->extras = steal_pointer(&r->extras);
	out->sha256 = steal_pointer(&hashes);
	out->marker = steal_pointer(&r->marker);
	out->line = line;
	out->where = xasprintf("%s:%d", lp->lock->path, line);
}

static void logical_line(struct lock_parser *lp, int line, char *text)
{
	strip_comment(text);
	char *s = strip(text);
	if (!*s)
		return;
	if (*s == '-')
		global_option(lp, line, s);
	else
		requirement_line(lp, line, s);
}

int lade_lock_parse(const char *path, const char *data, size_t len, struct lade_lock **out,
                    struct lade_error **err)
{
	_cleanup_(lade_lock_freep) struct lade_lock *lock = xzalloc(sizeof(*lock));
	struct lock_parser lp = {.lock = lock, .problems = LADE_PROBLEMS_INIT};
	struct lade_buf joined = LADE_BUF_INIT;
	int primary = 0;

	lock->path = xstrdup(path);
	lock->ignored = xcalloc(1, sizeof(char *));
	const char *nul = memchr(data, '\0', len);
	if (nul) {
		int nul_line = 1;
		for (const char *q = data; q < nul; q++)
			nul_line += *q == '\n';
		return lade_error_set(err, 0, "%s:%d: contains a NUL byte", path, nul_line);
	}
	lp.byname = lade_hashmap_new();

	const char *p = data, *end = data + len;
	for (int lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		_cleanup_free_ char *raw = xstrndup(p, (size_t)(e - p));
		size_t rl = strlen(raw);
		if (rl && raw[rl - 1] == '\r')
			raw[--rl] = '\0';
		p = nl ? nl + 1 : end;

		bool comment = is_comment_line(raw);
		if (comment || rl == 0 || raw[rl - 1] != '\\') {
			if (joined.len) {
				/* a comment ends a continuation, and is removed later */
				if (comment)
					lade_buf_addch(&joined, ' ');
				lade_buf_adds(&joined, raw);
				logical_line(&lp, primary, joined.data);
				lade_buf_reset(&joined);
			} else {
				logical_line(&lp, lineno, raw);
			}
		} else {
			/* line.strip("\\") */
			char *a = raw;
			while (*a == '\\')
				a++;
			while (rl && raw[rl - 1] == '\\')
				raw[--rl] = '\0';
			if (!joined.len)
				primary = lineno;
			lade_buf_adds(&joined, a);
			if (!joined.len)
				lade_buf_addch(&joined, ' '); /* keep the continuation open */
		}
	}
	if (joined.len)
		logical_line(&lp, primary, joined.data);
	lade_buf_release(&joined);
	lade_hashmap_free(lp.byname, NULL);
	free(lp.prev);

	if (lade_problems_finish(&lp.problems, err) < 0)
		return -1;
	*out = steal_pointer(&lock);
	return 0;
}

/* The line starts with `word` (after blanks). */
static bool has_line_starting(const char *data, size_t len, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = data, *end = data + len; p < end;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) >= wl && memcmp(p, word, wl) == 0)
			return true;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	return false;
}

static enum lade_lock_format detect_format(const char *path, const char *data, size_t len)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t bl = strlen(base);
	if (strcmp(base, "uv.lock") == 0)
		return LADE_LOCK_UV;
	/* PEP 751: pylock.toml or pylock.NAME.toml */
	if (strcmp(base, "pylock.toml") == 0 ||
	    (bl > 12 && strncmp(base, "pylock.", 7) == 0 && strcmp(base + bl - 5, ".toml") == 0))
		return LADE_LOCK_PYLOCK;
	/* no requirement line starts with "[" or "lock-version" */
	if (has_line_starting(data, len, "lock-version") ||
	    has_line_starting(data, len, "[[packages]]"))
		return LADE_LOCK_PYLOCK;
	if (has_line_starting(data, len, "[[package]]"))
		return LADE_LOCK_UV;
	return LADE_LOCK_REQUIREMENTS;
}

int lade_lock_parse_any(const char *path, const char *data, size_t len, struct lade_lock **out,
                        struct lade_error **err)
{
	switch (detect_format(path, data, len)) {
	case LADE_LOCK_PYLOCK:
		return lade_lock_parse_pylock(path, data, len, out, err);
	case LADE_LOCK_UV:
		return lade_lock_parse_uv(path, data, len, out, err);
	case LADE_LOCK_REQUIREMENTS:
		break;
	}
	return lade_lock_parse(path, data, len, out, err);
}

int lade_lock_parse_file(const char *path, struct lade_lock **out, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, LOCK_MAX_SIZE, &b, err) < 0)
		return -1;
	return lade_lock_parse_any(path, b.data, b.len, out, err);
}
