/* lade — the bytecode helper and canonical pyc data (see include/lade/pycompile.h).
 *
 * The helper is `pythonX.Y -s -S -B -W ignore -c SCRIPT` with an environment of PYTHONHASHSEED=0
 * and nothing else. Its pipe protocol, all integers little-endian:
 *   helper → lade once:  u8 0, u32 n, "X.Y\ncache_tag\nsys.version"
 *   lade → helper:       u32 optimize, u32 path length, u64 source length, path, source
 *   helper → lade:       u8 status (0: pyc, 1: did not compile: the message), u32 n, bytes
 * The script only touches builtin and frozen modules (sys, marshal, _imp, importlib's frozen
 * bootstrap): no file is read after start-up and nothing it compiles is executed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lade/pycompile.h"
#include "lade/sandbox.h"

#define PYC_MAX   (1u << 30) /* an answer larger than this is a broken helper */
#define HELLO_MAX 4096

/* pip compiles with py_compile: compile(source bytes, path, "exec", dont_inherit=True) and
 * importlib's _code_to_hash_pyc layout; flags 1 = hash-based, not checked (PEP 552). */
static const char helper_script[] =
        "import sys, marshal, _imp\n"
        "import _frozen_importlib_external as e\n"
        "r = sys.stdin.buffer\n"
        "w = sys.stdout.buffer\n"
        "def send(st, b):\n"
        "    w.write(bytes([st]) + len(b).to_bytes(4, 'little') + b)\n"
        "    w.flush()\n"
        "def rd(n):\n"
        "    b = r.read(n)\n"
        "    if len(b) != n:\n"
        "        raise SystemExit(3)\n"
        "    return b\n"
        "send(0, ('%d.%d\\n%s\\n%s' % (sys.version_info[0], sys.version_info[1],\n"
        "         sys.implementation.cache_tag, sys.version)).encode())\n"
        "while True:\n"
        "    h = r.read(16)\n"
        "    if not h:\n"
        "        break\n"
        "    if len(h) != 16:\n"
        "        raise SystemExit(3)\n"
        "    opt = int.from_bytes(h[0:4], 'little')\n"
        "    path = rd(int.from_bytes(h[4:8], 'little')).decode('utf-8', 'surrogateescape')\n"
        "    src = rd(int.from_bytes(h[8:16], 'little'))\n"
        "    try:\n"
        "        code = compile(src, path, 'exec', dont_inherit=True, optimize=opt)\n"
        "        out = (e.MAGIC_NUMBER + (1).to_bytes(4, 'little') +\n"
        "               _imp.source_hash(e._RAW_MAGIC_NUMBER, src) + marshal.dumps(code))\n"
        "        del code\n"
        "        send(0, out)\n"
        "    except Exception as x:\n"
        "        send(1, ('%s: %s' % (type(x).__name__, x)).encode('utf-8', 'replace'))\n";

struct lade_pyc_compiler {
	char *path;
	char *pyversion, *cache_tag, *version;
	pid_t pid;
	int to, from;
	bool broken;
};

/* ---------------------------------------------------------------- finding it */

static bool is_script(const char *path)
{
	char head[2] = {0, 0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, head, 2);
	close(fd);
	return n == 2 && head[0] == '#' && head[1] == '!';
}

static bool executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *lade_pyc_compiler_find(const char *compiler, const char *version, struct lade_error **err)
{
	_cleanup_free_ char *name = compiler ? xstrdup(compiler) : xasprintf("python%s", version);
	if (strchr(name, '/')) {
		_cleanup_free_ char *abs = realpath(name, NULL);
		if (abs == NULL || !executable_file(abs)) {
			lade_error_set(err, abs ? EACCES : errno, "%s is not an executable file",
			               name);
			return NULL;
		}
		if (is_script(abs)) {
			lade_error_set(err, 0, "%s is a script (#!), not an interpreter", name);
			return NULL;
		}
		return steal_pointer(&abs);
	}
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	_cleanup_buf_ struct lade_buf skipped = LADE_BUF_INIT;
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		if (d[0] != '/')
			continue;
		_cleanup_free_ char *cand = xasprintf("%s/%s", d, name);
		if (!executable_file(cand))
			continue;
		if (is_script(cand)) {
			lade_buf_addf(&skipped, "%s%s", skipped.len ? ", " : "", cand);
			continue;
		}
		char *abs = realpath(cand, NULL);
		return abs ? abs : steal_pointer(&cand);
	}
	lade_error_set(err, 0, "no %s on PATH%s%s%s", name,
	               skipped.len ? " (skipped scripts: " : "", skipped.len ? skipped.data : "",
	               skipped.len ? ")" : "");
	return NULL;
}

/* ---------------------------------------------------------------- the helper */

static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -2 : -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int helper_failed(struct lade_pyc_compiler *c, int rc, const char *what,
                         struct lade_error **err)
{
	c->broken = true;
	if (rc == -2)
		return lade_error_set(err, 0, "python compiler %s: exited while %s", c->path, what);
	return lade_error_set(err, errno, "python compiler %s: %s", c->path, what);
}

/* One answer: status and bytes. */
static int read_answer(struct lade_pyc_compiler *c, uint8_t *status, struct lade_buf *out,
                       size_t max, struct lade_error **err)
{
	uint8_t h[5];
	int rc = read_full(c->from, h, sizeof(h));
	if (rc < 0)
		return helper_failed(c, rc, "reading its answer", err);
	uint32_t n =
	        (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 | (uint32_t)h[4] << 24;
	if (h[0] > 1 || n > max) {
		c->broken = true;
		return lade_error_set(err, 0, "python compiler %s: malformed answer", c->path);
	}
	lade_buf_reset(out);
	lade_buf_grow(out, n + 1);
	if (n && (rc = read_full(c->from, out->data, n)) < 0)
		return helper_failed(c, rc, "reading its answer", err);
	out->len = n;
	out->data[n] = '\0';
	*status = h[0];
	return 0;
}

int lade_pyc_compiler_start(const char *path, const char *version, struct lade_pyc_compiler **out,
                            struct lade_error **err)
{
	char *argv[] = {(char *)path,          "-s", "-S", "-B", "-W", "ignore", "-c",
	                (char *)helper_script, NULL};
	char *envp[] = {"PYTHONHASHSEED=0", "LC_ALL=C.UTF-8", NULL};
	_cleanup_(lade_pyc_compiler_freep) struct lade_pyc_compiler *c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->to = c->from = -1;
	c->pid = -1;
	if (lade_sandbox_spawn(c->path, argv, envp, &c->pid, &c->to, &c->from, err) < 0)
		return lade_error_prefix(err, "python compiler");
	_cleanup_buf_ struct lade_buf hello = LADE_BUF_INIT;
	uint8_t st;
	if (read_answer(c, &st, &hello, HELLO_MAX, err) < 0)
		return -1;
	char *nl1 = strchr(hello.data, '\n');
	char *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (st != 0 || nl2 == NULL)
		return lade_error_set(err, 0, "python compiler %s: malformed greeting", path);
	c->pyversion = xstrndup(hello.data, (size_t)(nl1 - hello.data));
	c->cache_tag = xstrndup(nl1 + 1, (size_t)(nl2 - nl1 - 1));
	c->version = xstrdup(nl2 + 1);
	if (strcmp(c->pyversion, version) != 0)
		return lade_error_set(err, 0, "python compiler %s is Python %s, not %s", path,
		                      c->pyversion, version);
	*out = steal_pointer(&c);
	return 0;
}

void lade_pyc_compiler_free(struct lade_pyc_compiler *c)
{
	if (c == NULL)
		return;
	if (c->to >= 0)
		close(c->to); /* end of input: the helper exits */
	if (c->from >= 0)
		close(c->from);
	if (c->pid > 0) {
		if (c->broken)
			kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(c->path);
	free(c->pyversion);
	free(c->cache_tag);
	free(c->version);
	free(c);
}

void lade_pyc_compiler_freep(struct lade_pyc_compiler **c)
{
	lade_pyc_compiler_free(*c);
}

const char *lade_pyc_compiler_path(const struct lade_pyc_compiler *c)
{
	return c->path;
}

const char *lade_pyc_compiler_pyversion(const struct lade_pyc_compiler *c)
{
	return c->pyversion;
}

const char *lade_pyc_compiler_version(const struct lade_pyc_compiler *c)
{
	return c->version;
}

const char *lade_pyc_compiler_cache_tag(const struct lade_pyc_compiler *c)
{
	return c->cache_tag;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int send_request(struct lade_pyc_compiler *c, const char *path, const void *src, size_t n,
                        int optimize);

int lade_pyc_compile(struct lade_pyc_compiler *c, const char *image_path, const void *src, size_t n,
                     int optimize, struct lade_buf *pyc, char **failure, struct lade_error **err)
{
	if (c->broken)
		return lade_error_set(err, 0, "python compiler %s: no longer running", c->path);
	if (send_request(c, image_path, src, n, optimize) < 0)
		return helper_failed(c, errno == EPIPE ? -2 : -1, "sending a source", err);
	uint8_t st;
	if (read_answer(c, &st, pyc, PYC_MAX, err) < 0)
		return lade_error_prefix(err, "%s", image_path);
	if (st == 1) {
		*failure = lade_buf_detach(pyc, NULL);
		return 1;
	}
	if (lade_pyc_canonicalize(pyc->data, pyc->len, c->pyversion, err) < 0)
		return lade_error_prefix(err, "%s", image_path);
	return 0;
}

/* The writer thread's side of lade_pyc_compile_many. */
struct many {
	struct lade_pyc_compiler *c;
	size_t n;
	int optimize;
	int (*source)(void *ctx, size_t i, const char **path, struct lade_buf *src,
	              struct lade_error **err);
	void *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t sent;  /* requests written */
	bool stopped; /* the writer ended early (err says why) */
	struct lade_error *err;
};

static int send_request(struct lade_pyc_compiler *c, const char *path, const void *src, size_t n,
                        int optimize)
{
	size_t plen = strlen(path);
	uint8_t h[16];
	put_le(h, (uint64_t)optimize, 4);
	put_le(h + 4, plen, 4);
	put_le(h + 8, n, 8);
	if (lade_write_all(c->to, h, sizeof(h)) < 0 || lade_write_all(c->to, path, plen) < 0 ||
	    lade_write_all(c->to, src, n) < 0)
		return -1;
	return 0;
}

static void *writer(void *arg)
{
	struct many *m = arg;
	_cleanup_buf_ struct lade_buf src = LADE_BUF_INIT;
	struct lade_error *err = NULL;
	for (size_t i = 0; i < m->n; i++) {
		const char *path = NULL;
		lade_buf_reset(&src);
		if (m->source(m->ctx, i, &path, &src, &err) < 0)
			break;
		if (send_request(m->c, path, src.data, src.len, m->optimize) < 0) {
			lade_error_set(&err, errno, "python compiler %s: sending %s", m->c->path,
			               path);
			break;
		}
		pthread_mutex_lock(&m->mu);
		m->sent = i + 1;
		pthread_cond_signal(&m->cv);
		pthread_mutex_unlock(&m->mu);
	}
	pthread_mutex_lock(&m->mu);
	m->err = err;
	m->stopped = m->sent < m->n;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int lade_pyc_compile_many(struct lade_pyc_compiler *c, size_t n, int optimize,
                          int (*source)(void *ctx, size_t i, const char **path,
                                        struct lade_buf *src, struct lade_error **err),
                          int (*answer)(void *ctx, size_t i, int status, const char *data,
                                        size_t len, struct lade_error **err),
                          void *ctx, struct lade_error **err)
{
	if (c->broken)
		return lade_error_set(err, 0, "python compiler %s: no longer running", c->path);
	if (n == 0)
		return 0;
	struct many m = {.c = c, .n = n, .optimize = optimize, .source = source, .ctx = ctx};
	pthread_mutex_init(&m.mu, NULL);
	pthread_cond_init(&m.cv, NULL);
	pthread_t t;
	int rc = pthread_create(&t, NULL, writer, &m);
	if (rc != 0) {
		pthread_mutex_destroy(&m.mu);
		pthread_cond_destroy(&m.cv);
		return lade_error_set(err, rc, "python compiler %s: cannot start a thread",
		                      c->path);
	}
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	struct lade_error *mine = NULL;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&m.mu);
		while (m.sent <= i && !m.stopped)
			pthread_cond_wait(&m.cv, &m.mu);
		bool have = m.sent > i;
		pthread_mutex_unlock(&m.mu);
		if (!have)
			break;
		uint8_t st;
		if (read_answer(c, &st, &out, PYC_MAX, &mine) < 0)
			break;
		if (st == 0 && lade_pyc_canonicalize(out.data, out.len, c->pyversion, &mine) < 0)
			break;
		if (answer(ctx, i, st, out.data, out.len, &mine) < 0)
			break;
	}
	if (mine) {
		/* the writer may be blocked on a full pipe: the helper is of no use any more */
		c->broken = true;
		kill(c->pid, SIGKILL);
	}
	pthread_join(t, NULL);
	pthread_mutex_destroy(&m.mu);
	pthread_cond_destroy(&m.cv);
	if (m.err && mine == NULL) {
		c->broken = true; /* requests may be half-written */
		mine = steal_pointer(&m.err);
	}
	lade_error_free(m.err);
	if (mine) {
		if (err && *err == NULL)
			*err = mine;
		else
			lade_error_free(mine);
		return -1;
	}
	return 0;
}

char *lade_pyc_path(const char *py_path, const char *cache_tag, int optimize)
{
	const char *slash = strrchr(py_path, '/');
	size_t dir = slash ? (size_t)(slash - py_path + 1) : 0;
	const char *base = py_path + dir;
	size_t stem = strlen(base);
	if (stem > 3 && strcmp(base + stem - 3, ".py") == 0)
		stem -= 3;
	char opt[16] = "";
	if (optimize > 0)
		snprintf(opt, sizeof(opt), ".opt-%d", optimize);
	return xasprintf("%.*s__pycache__/%.*s.%s%s.pyc", (int)dir, py_path, (int)stem, base,
	                 cache_tag, opt);
}

/* ---------------------------------------------------------------- canonical marshal data */

#define FLAG_REF  0x80
#define MAX_DEPTH 2100 /* marshal's own limit is 2000 */

struct walk {
	uint8_t *d;
	size_t n, pos;
	int minor;
	size_t *flags; /* offsets of type bytes with FLAG_REF, in reference-index order */
	size_t n_flags, a_flags;
	size_t *refs; /* offsets of TYPE_REF indexes */
	size_t n_refs, a_refs;
	uint32_t *uses; /* per flag */
	size_t a_uses;
};

static int need(struct walk *w, size_t k, struct lade_error **err)
{
	if (w->n - w->pos < k)
		return lade_error_set(err, 0, "pyc marshal data truncated at offset %zu", w->pos);
	return 0;
}

static uint32_t u32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int skip(struct walk *w, size_t k, struct lade_error **err)
{
	if (need(w, k, err) < 0)
		return -1;
	w->pos += k;
	return 0;
}

static int skip_sized(struct walk *w, int width, struct lade_error **err)
{
	if (need(w, (size_t)width, err) < 0)
		return -1;
	size_t k = width == 1 ? w->d[w->pos] : u32_at(w->d + w->pos);
	w->pos += (size_t)width;
	return skip(w, k, err);
}

static int object(struct walk *w, int depth, uint8_t *type, struct lade_error **err);

static int objects(struct walk *w, size_t k, int depth, struct lade_error **err)
{
	uint8_t t = 0;
	for (size_t i = 0; i < k; i++)
		if (object(w, depth, &t, err) < 0)
			return -1;
	return 0;
}

static int code_object(struct walk *w, int depth, struct lade_error **err)
{
	/* 3.8-3.10: argcount, posonlyargcount, kwonlyargcount, nlocals, stacksize, flags, then
	 * code consts names varnames freevars cellvars filename name, firstlineno, lnotab;
	 * 3.11+: five ints (no nlocals), code consts names localsplusnames localspluskinds
	 * filename name qualname, firstlineno, linetable exceptiontable. */
	bool new = w->minor >= 11;
	if (skip(w, new ? 20 : 24, err) < 0 || objects(w, 8, depth, err) < 0 ||
	    skip(w, 4, err) < 0 || objects(w, new ? 2 : 1, depth, err) < 0)
		return -1;
	return 0;
}

static int object(struct walk *w, int depth, uint8_t *type, struct lade_error **err)
{
	if (depth > MAX_DEPTH)
		return lade_error_set(err, 0, "pyc marshal data nested too deep");
	if (need(w, 1, err) < 0)
		return -1;
	size_t at = w->pos++;
	uint8_t t = w->d[at] & (uint8_t)~FLAG_REF;
	*type = t;
	if (w->d[at] & FLAG_REF) {
		lade_grow(&w->flags, sizeof(*w->flags), w->n_flags + 1, &w->a_flags);
		lade_grow(&w->uses, sizeof(*w->uses), w->n_flags + 1, &w->a_uses);
		w->uses[w->n_flags] = 0;
		w->flags[w->n_flags++] = at;
	}
	switch (t) {
	case '0':
	case 'N':
	case 'F':
	case 'T':
	case 'S':
	case '.':
		return 0;
	case 'i':
		return skip(w, 4, err);
	case 'I':
	case 'g':
		return skip(w, 8, err);
	case 'y':
		return skip(w, 16, err);
	case 'l': {
		if (need(w, 4, err) < 0)
			return -1;
		int32_t k = (int32_t)u32_at(w->d + w->pos);
		w->pos += 4;
		uint64_t digits = k < 0 ? -(int64_t)k : k;
		return skip(w, (size_t)digits * 2, err);
	}
	case 'f':
		return skip_sized(w, 1, err);
	case 'x':
		return skip_sized(w, 1, err) < 0 ? -1 : skip_sized(w, 1, err);
	case 's':
	case 't':
	case 'u':
	case 'a':
	case 'A':
		return skip_sized(w, 4, err);
	case 'z':
	case 'Z':
		return skip_sized(w, 1, err);
	case ')': {
		if (need(w, 1, err) < 0)
			return -1;
		size_t k = w->d[w->pos++];
		return objects(w, k, depth + 1, err);
	}
	case '(':
	case '[':
	case '<':
	case '>': {
		if (need(w, 4, err) < 0)
			return -1;
		size_t k = u32_at(w->d + w->pos);
		w->pos += 4;
		return objects(w, k, depth + 1, err);
	}
	case '{':
		for (;;) {
			uint8_t kt = 0;
			if (object(w, depth + 1, &kt, err) < 0)
				return -1;
			if (kt == '0')
				return 0;
			if (object(w, depth + 1, &kt, err) < 0)
				return -1;
		}
	case ':': /* slice (3.14) */
		return objects(w, 3, depth + 1, err);
	case 'c':
		return code_object(w, depth + 1, err);
	case 'r': {
		if (need(w, 4, err) < 0)
			return -1;
		uint32_t idx = u32_at(w->d + w->pos);
		if (idx >= w->n_flags)
			return lade_error_set(err, 0,
			                      "pyc marshal reference %u at offset %zu is "
			                      "not yet defined",
			                      idx, w->pos);
		w->uses[idx]++;
		lade_grow(&w->refs, sizeof(*w->refs), w->n_refs + 1, &w->a_refs);
		w->refs[w->n_refs++] = w->pos;
		w->pos += 4;
		return 0;
	}
	default:
		return lade_error_set(err, 0, "pyc marshal type 0x%02x at offset %zu is unknown", t,
		                      at);
	}
}

int lade_pyc_canonicalize(void *pyc, size_t n, const char *version, struct lade_error **err)
{
	int minor = version && strncmp(version, "3.", 2) == 0 ? atoi(version + 2) : 0;
	if (minor < 8)
		return lade_error_set(err, 0, "python %s: pyc files are made for 3.8 and later",
		                      version ? version : "?");
	if (n < 16)
		return lade_error_set(err, 0, "pyc shorter than its 16-byte header");
	struct walk w = {.d = pyc, .n = n, .pos = 16, .minor = minor};
	uint8_t t = 0;
	int rc = object(&w, 0, &t, err);
	if (rc == 0 && w.pos != n)
		rc = lade_error_set(err, 0, "pyc has %zu bytes after its marshal data", n - w.pos);
	if (rc == 0) {
		_cleanup_free_ uint32_t *renum = xcalloc(w.n_flags ? w.n_flags : 1, sizeof(*renum));
		uint32_t next = 0;
		for (size_t i = 0; i < w.n_flags; i++) {
			if (w.uses[i] == 0)
				w.d[w.flags[i]] &= (uint8_t)~FLAG_REF;
			else
				renum[i] = next++;
		}
		for (size_t i = 0; i < w.n_refs; i++)
			put_le(w.d + w.refs[i], renum[u32_at(w.d + w.refs[i])], 4);
	}
	free(w.flags);
	free(w.refs);
	free(w.uses);
	return rc;
}
