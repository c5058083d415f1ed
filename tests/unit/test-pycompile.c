/* Tests for assembler/python/pycompile.c and the helper's sandbox (core/sandbox.c
 * lade_sandbox_spawn): cache paths as importlib names them; the host's python3.11 as the
 * helper: PEP 552 unchecked-hash headers, the same source gives the same bytes whatever was
 * compiled before and in whatever order (two helpers, two orders: marshal's FLAG_REF follows
 * reference counts), a source that does not compile is an answer, not a failure; the
 * interpreter lookup skips scripts (pyenv shims); a confined child can neither create a file
 * nor exec a program. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "lade/pycompile.h"
#include "lade/sandbox.h"
#include "lade/util.h"
#include "tap.h"

static const char *const sources[] = {
        "\"\"\"doc\"\"\"\nimport os\nclass A:\n    x = 1\n    def f(self, a, b=2):\n"
        "        return a in {'x', 'y', 'z'} or os.path.join(a, 'x')\n",
        "def g(*args, **kw):\n    s = 'shared string'\n    t = ('shared string', 1, 2.5)\n"
        "    return [s, t, kw.get('x'), frozenset({1, 2, 3})]\n",
        "from __future__ import annotations\nimport sys\n\ndef h(x: int) -> str:\n"
        "    '''docstring'''\n    assert x, 'message'\n    return f'{x!r:>10}' + sys.platform\n"
        "async def k():\n    async with x as y:\n        yield y\n",
        "# -*- coding: latin-1 -*-\ns = '\xe9t\xe9'\nself = s\nx = None\n",
};
#define N_SOURCES (sizeof(sources) / sizeof(sources[0]))

static void compile_all(struct lade_pyc_compiler *c, const size_t *order, struct lade_buf *out)
{
	for (size_t k = 0; k < N_SOURCES; k++) {
		size_t i = order[k];
		_cleanup_free_ char *path =
		        xasprintf("/opt/venv/lib/python3.11/site-packages/m%zu.py", i);
		_cleanup_error_ struct lade_error *err = NULL;
		char *failure = NULL;
		int rc = lade_pyc_compile(c, path, sources[i], strlen(sources[i]), 0, &out[i],
		                          &failure, &err);
		ok(rc == 0, "source %zu compiles%s%s", i, err ? ": " : "", err ? err->msg : "");
		free(failure);
	}
}

struct stream {
	const char *src[3];
	int status[3];
	struct lade_buf out[3];
	size_t answers;
};

static int stream_source(void *ctx, size_t i, const char **path, struct lade_buf *src,
                         struct lade_error **err)
{
	(void)err;
	struct stream *s = ctx;
	*path = "/m.py";
	lade_buf_adds(src, s->src[i]);
	return 0;
}

static int stream_answer(void *ctx, size_t i, int status, const char *data, size_t len,
                         struct lade_error **err)
{
	(void)err;
	struct stream *s = ctx;
	s->status[i] = status;
	lade_buf_add(&s->out[i], data, len);
	s->answers++;
	return 0;
}

static void test_many(struct lade_pyc_compiler *c)
{
	struct stream s = {.src = {sources[0], "def f(:\n", sources[1]}};
	for (int i = 0; i < 3; i++)
		lade_buf_init(&s.out[i]);
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_pyc_compile_many(c, 3, 0, stream_source, stream_answer, &s, &err) == 0 &&
	           s.answers == 3,
	   "three sources in one stream, three answers");
	ok(s.status[0] == 0 && s.status[1] == 1 && s.status[2] == 0, "in order: pyc, failure, pyc");
	_cleanup_buf_ struct lade_buf one = LADE_BUF_INIT;
	char *failure = NULL;
	ok(lade_pyc_compile(c, "/m.py", sources[1], strlen(sources[1]), 0, &one, &failure, &err) ==
	                   0 &&
	           one.len == s.out[2].len && memcmp(one.data, s.out[2].data, one.len) == 0,
	   "a streamed pyc is the one compiled alone");
	for (int i = 0; i < 3; i++)
		lade_buf_release(&s.out[i]);
}

static void test_paths(void)
{
	_cleanup_free_ char *a = lade_pyc_path("opt/venv/lib/x/mod.py", "cpython-311", 0);
	is_str(a, "opt/venv/lib/x/__pycache__/mod.cpython-311.pyc", "cache path, level 0");
	_cleanup_free_ char *b = lade_pyc_path("pkg/__init__.py", "cpython-312", 2);
	is_str(b, "pkg/__pycache__/__init__.cpython-312.opt-2.pyc", "cache path, level 2");
	_cleanup_free_ char *c = lade_pyc_path("a.b.py", "cpython-311", 1);
	is_str(c, "__pycache__/a.b.cpython-311.opt-1.pyc", "cache path without a directory");
}

static void test_compile(const char *python)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_pyc_compiler_freep) struct lade_pyc_compiler *c1 = NULL, *c2 = NULL;
	ok(lade_pyc_compiler_start(python, "3.11", &c1, &err) == 0, "helper starts%s%s",
	   err ? ": " : "", err ? err->msg : "");
	if (c1 == NULL)
		return;
	is_str(lade_pyc_compiler_cache_tag(c1), "cpython-311", "cache tag");
	is_str(lade_pyc_compiler_pyversion(c1), "3.11", "X.Y");
	ok(strncmp(lade_pyc_compiler_version(c1), "3.11.", 5) == 0, "sys.version: %s",
	   lade_pyc_compiler_version(c1));
	ok(lade_pyc_compiler_start(python, "3.12", &c2, &err) < 0 && err &&
	           strstr(err->msg, "is Python 3.11, not 3.12"),
	   "another X.Y is refused: %s", err ? err->msg : "");
	lade_error_free(err);
	err = NULL;
	ok(lade_pyc_compiler_start(python, "3.11", &c2, &err) == 0, "second helper starts");

	struct lade_buf first[N_SOURCES], second[N_SOURCES], again[N_SOURCES];
	for (size_t i = 0; i < N_SOURCES; i++) {
		lade_buf_init(&first[i]);
		lade_buf_init(&second[i]);
		lade_buf_init(&again[i]);
	}
	const size_t fwd[] = {0, 1, 2, 3}, rev[] = {3, 2, 1, 0};
	compile_all(c1, fwd, first);
	compile_all(c2, rev, second);
	compile_all(c1, rev, again); /* same process, after everything else */
	for (size_t i = 0; i < N_SOURCES; i++) {
		ok(first[i].len > 16 && first[i].len == second[i].len &&
		           memcmp(first[i].data, second[i].data, first[i].len) == 0,
		   "source %zu: same bytes from two helpers in two orders", i);
		ok(first[i].len == again[i].len &&
		           memcmp(first[i].data, again[i].data, first[i].len) == 0,
		   "source %zu: same bytes compiled again in the same helper", i);
		ok(first[i].len > 16 && memcmp(first[i].data + 4, "\1\0\0\0", 4) == 0,
		   "source %zu: PEP 552 flags 1 (unchecked hash)", i);
		_cleanup_error_ struct lade_error *e2 = NULL;
		ok(lade_pyc_canonicalize(again[i].data, again[i].len, "3.11", &e2) == 0 &&
		           memcmp(first[i].data, again[i].data, first[i].len) == 0,
		   "source %zu: canonical form is a fixed point", i);
	}
	for (size_t i = 0; i < N_SOURCES; i++) {
		lade_buf_release(&first[i]);
		lade_buf_release(&second[i]);
		lade_buf_release(&again[i]);
	}

	/* levels: -OO drops docstrings and asserts */
	_cleanup_buf_ struct lade_buf o0 = LADE_BUF_INIT, o2 = LADE_BUF_INIT;
	char *failure = NULL;
	ok(lade_pyc_compile(c1, "/m.py", sources[2], strlen(sources[2]), 0, &o0, &failure, &err) ==
	                   0 &&
	           lade_pyc_compile(c1, "/m.py", sources[2], strlen(sources[2]), 2, &o2, &failure,
	                            &err) == 0 &&
	           o2.len < o0.len,
	   "optimize 2 drops the docstring and the assert (%zu < %zu bytes)", o2.len, o0.len);
	ok(memmem(o0.data, o0.len, "/m.py", 5) != NULL, "co_filename is the image path");

	/* a file pip would skip */
	_cleanup_buf_ struct lade_buf bad = LADE_BUF_INIT;
	static const char broken[] = "def f(:\n    pass\n";
	int rc = lade_pyc_compile(c1, "/bad.py", broken, strlen(broken), 0, &bad, &failure, &err);
	ok(rc == 1 && failure && strstr(failure, "SyntaxError"), "a syntax error is an answer: %s",
	   failure ? failure : "(none)");
	free(failure);
	failure = NULL;
	static const char nul[] = "x = 1\0\n";
	rc = lade_pyc_compile(c1, "/nul.py", nul, sizeof(nul) - 1, 0, &bad, &failure, &err);
	ok(rc == 1 && failure, "a NUL byte is an answer too: %s", failure ? failure : "(none)");
	free(failure);
	failure = NULL;
	rc = lade_pyc_compile(c1, "/ok.py", "x = 1\n", 6, 0, &bad, &failure, &err);
	ok(rc == 0, "the helper goes on after failures");

	test_many(c1);

	/* garbage is refused by the canonicaliser, naming what is wrong */
	unsigned char junk[20] = {0};
	junk[16] = '(';
	ok(lade_pyc_canonicalize(junk, sizeof(junk), "3.11", &err) < 0 && err &&
	           strstr(err->msg, "truncated"),
	   "truncated marshal data: %s", err ? err->msg : "");
}

static void test_find(const char *python)
{
	_cleanup_free_ char *dir = make_tmpdir("pycompile");
	_cleanup_free_ char *shim = xasprintf("%s/python3.11", dir);
	write_file(shim, "#!/bin/sh\nexec python3.11 \"$@\"\n", 31);
	chmod(shim, 0755);
	_cleanup_free_ char *bin = lade_path_dirname(python);
	_cleanup_free_ char *path = xasprintf("%s:/%s", dir, bin);
	_cleanup_free_ char *old = getenv("PATH") ? xstrdup(getenv("PATH")) : NULL;
	setenv("PATH", path, 1);
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *found = lade_pyc_compiler_find(NULL, "3.11", &err);
	_cleanup_free_ char *real = realpath(python, NULL);
	is_str(found, real, "a script (a pyenv shim) on PATH is skipped");
	lade_error_free(err);
	err = NULL;
	_cleanup_free_ char *named = lade_pyc_compiler_find(shim, "3.11", &err);
	ok(named == NULL && err && strstr(err->msg, "is a script"), "a named script is refused: %s",
	   err ? err->msg : "");
	lade_error_free(err);
	err = NULL;
	_cleanup_free_ char *none = lade_pyc_compiler_find(NULL, "3.99", &err);
	ok(none == NULL && err && strstr(err->msg, "no python3.99 on PATH"), "missing: %s",
	   err ? err->msg : "");
	if (old)
		setenv("PATH", old, 1);
	rm_rf(dir);
}

/* /bin/sh -c SCRIPT in the helper sandbox: its exit status and output. */
static int confined_sh(const char *script, struct lade_buf *out)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	pid_t pid;
	int to, from;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_sandbox_spawn("/bin/sh", argv, envp, &pid, &to, &from, &err) < 0) {
		printf("# %s\n", err->msg);
		return -1;
	}
	close(to);
	char buf[4096];
	ssize_t n;
	while ((n = read(from, buf, sizeof(buf))) > 0)
		lade_buf_add(out, buf, (size_t)n);
	close(from);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_sandbox(void)
{
	_cleanup_free_ char *dir = make_tmpdir("pycompile-sandbox");
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	ok(confined_sh("echo hello", &out) == 0 && out.len == 6 &&
	           memcmp(out.data, "hello\n", 6) == 0,
	   "a confined shell runs and answers on its pipe");
	_cleanup_free_ char *w = xasprintf("echo x > %s/f || echo refused", dir);
	lade_buf_reset(&out);
	confined_sh(w, &out);
	_cleanup_free_ char *f = xasprintf("%s/f", dir);
	ok(access(f, F_OK) < 0 && strstr(out.data ? out.data : "", "refused"),
	   "it cannot create a file");
	lade_buf_reset(&out);
	ok(confined_sh("exec /bin/true", &out) != 0, "it cannot exec another program");
	lade_buf_reset(&out);
	_cleanup_free_ char *m = xasprintf("mkdir %s/d 2>/dev/null || echo refused", dir);
	confined_sh(m, &out);
	ok(strstr(out.data ? out.data : "", "refused"), "nor start one (mkdir is a program)");
	rm_rf(dir);
}

int main(void)
{
	test_paths();
	test_sandbox();
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *python = lade_pyc_compiler_find(NULL, "3.11", &err);
	if (python == NULL) {
		printf("ok %d - # SKIP no python3.11: %s\n", ++tap_n, err->msg);
		return tap_done();
	}
	test_find(python);
	test_compile(python);
	return tap_done();
}
