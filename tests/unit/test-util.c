/* Unit tests: buffer, paths, sizes, globs, opening beneath a directory fd (digests:
 * test-digest.c). */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "lade/util.h"
#include "tap.h"

static void test_buf(void)
{
	struct lade_buf b = LADE_BUF_INIT;
	ok(b.data != NULL && b.data[0] == '\0', "empty buffer has a valid empty string");
	lade_buf_adds(&b, "abc");
	lade_buf_addf(&b, "-%d-%s", 42, "x");
	lade_buf_addch(&b, '!');
	is_str(b.data, "abc-42-x!", "add/addf/addch append");
	ok(b.len == 9, "length counts bytes");
	for (int i = 0; i < 10000; i++)
		lade_buf_addch(&b, 'z');
	ok(b.len == 10009 && b.data[b.len] == '\0', "growth keeps NUL termination");
	size_t n;
	char *s = lade_buf_detach(&b, &n);
	ok(n == 10009 && b.len == 0 && b.data[0] == '\0', "detach leaves an empty buffer");
	free(s);
	s = lade_buf_detach(&b, NULL);
	is_str(s, "", "detach of an empty buffer gives an owned empty string");
	free(s);
}

static void norm_case(const char *in, const char *want)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *got = lade_path_normalize(in, &err);
	is_str(got, want, "normalize '%s'", in);
}

static void test_paths(void)
{
	norm_case("/opt//venv/./bin/", "opt/venv/bin");
	norm_case("/", "");
	norm_case("a/b/../c", "a/c");
	norm_case("./x", "x");
	struct lade_error *err = NULL;
	char *r = lade_path_normalize("/a/../../etc/passwd", &err);
	ok(r == NULL && err != NULL && strstr(err->msg, "climbs above the root"),
	   "normalize refuses to climb above the root");
	lade_error_free(err);

	_cleanup_free_ char *j1 = lade_path_join("a/", "/b");
	is_str(j1, "a/b", "join strips duplicate slashes");
	_cleanup_free_ char *j2 = lade_path_join("", "b");
	is_str(j2, "b", "join with empty head");
	_cleanup_free_ char *d = lade_path_dirname("a/b/c");
	is_str(d, "a/b", "dirname");
	_cleanup_free_ char *a = lade_path_absolute("/x/y", "../z/./w");
	is_str(a, "/x/z/w", "absolute resolves lexically against the base");
	ok(lade_path_compare("a", "a/b") < 0, "parent sorts before child");
	ok(lade_path_compare("a/b", "a.b") < 0, "subtree of a sorts before sibling a.b");
	ok(lade_path_compare("a/z", "a-b") < 0, "'/' sorts before '-'");
	ok(lade_path_compare("b", "a/b") > 0 && lade_path_compare("x", "x") == 0,
	   "bytewise otherwise");
	_cleanup_free_ char *p = lade_path_parent_dir("/x/y/file.yaml");
	is_str(p, "/x/y", "parent dir of a host path");
}

static void test_sizes(void)
{
	uint64_t v = 0;
	ok(lade_parse_size("64MiB", &v) == 0 && v == 64ull << 20, "64MiB");
	ok(lade_parse_size("4GiB", &v) == 0 && v == 4ull << 30, "4GiB");
	ok(lade_parse_size("100", &v) == 0 && v == 100, "plain bytes");
	ok(lade_parse_size("12XB", &v) < 0, "unknown unit refused");
	ok(lade_parse_size("-1", &v) < 0, "negative refused");
	ok(lade_parse_size("500MB", &v) == 0 && v == 500000000ull, "500MB is decimal");
	ok(lade_parse_size("2GB", &v) == 0 && v == 2000000000ull, "2GB is decimal");
	ok(lade_parse_size("1.5GiB", &v) == 0 && v == 3ull << 29, "1.5GiB");
	ok(lade_parse_size("1.5GB", &v) == 0 && v == 1500000000ull, "1.5GB");
	ok(lade_parse_size("0.25K", &v) == 0 && v == 256, "0.25K");
	ok(lade_parse_size("1.5", &v) < 0, "a fraction of a byte refused");
	ok(lade_parse_size("1.GiB", &v) < 0 && lade_parse_size("1.1234567GiB", &v) < 0,
	   "empty or over-long fraction refused");
	ok(lade_parse_size("20000000TB", &v) < 0, "overflow refused");
	uint32_t u;
	ok(lade_parse_u32("0644", 8, &u) == 0 && u == 0644, "octal mode");
	ok(lade_parse_u32("4294967296", 10, &u) < 0, "u32 overflow refused");
	char buf[32];
	is_str(lade_human_size(1536, buf, sizeof(buf)), "1.5 KiB", "human size");
}

/* lade_openat_beneath over DIR (a/b/file, a/link -> b, a/abs -> DIR/a/b): the number of the
 * cases below that do not behave. */
static int beneath_failures(const char *dir)
{
	int failures = 0;
	_cleanup_fd_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = lade_openat_beneath(dfd, "a/b/file", O_RDONLY | O_CLOEXEC, 0);
	failures += fd < 0;
	if (fd >= 0)
		close(fd);
	const struct {
		const char *rel;
		int want;
	} refused[] = {{"a/link/file", ELOOP},
	               {"a/abs/file", ELOOP},
	               {"a/link", ELOOP},
	               {"/etc/passwd", EXDEV},
	               {"../x", EXDEV}};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(refused); i++) {
		errno = 0;
		fd = lade_openat_beneath(dfd, refused[i].rel, O_RDONLY | O_CLOEXEC, 0);
		if (fd >= 0)
			close(fd);
		if (fd >= 0 || errno != refused[i].want) {
			printf("# %s: fd %d errno %d, want %d\n", refused[i].rel, fd, errno,
			       refused[i].want);
			failures++;
		}
	}
	/* O_CREAT through a dangling symlink creates nothing */
	_cleanup_free_ char *dangling = xasprintf("%s/a/dangling", dir);
	_cleanup_free_ char *target = xasprintf("%s/a/created", dir);
	if (symlink(target, dangling) < 0)
		failures++;
	fd = lade_openat_beneath(dfd, "a/dangling", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	failures += fd >= 0 || access(target, F_OK) == 0;
	unlink(dangling);
	return failures;
}

static void test_openat_beneath(void)
{
	const char *t = getenv("TMPDIR");
	_cleanup_free_ char *dir = xasprintf("%s/lade-util-XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	_cleanup_free_ char *setup = xasprintf(
	        "cd '%s' && mkdir -p a/b && echo x >a/b/file && ln -s b a/link && ln -s '%s/a/b' "
	        "a/abs",
	        dir, dir);
	ok(system(setup) == 0, "tree with symlinks");
	ok(beneath_failures(dir) == 0, "openat2 path: symlinks, '..' and absolute paths refused");

	/* the fallback, as on a kernel without openat2: a child where openat2 fails ENOSYS */
	fflush(stdout); /* the child must not print what is buffered again */
	pid_t pid = fork();
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		int r = ctx == NULL ? -1
		                    : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		                                       seccomp_syscall_resolve_name("openat2"), 0);
		if (r == 0)
			r = seccomp_load(ctx);
		seccomp_release(ctx);
		if (r < 0)
			_exit(100); /* no seccomp here (valgrind does not implement it) */
		int failures = beneath_failures(dir);
		fflush(stdout);
		_exit(failures > 0);
	}
	int status = 0;
	bool waited = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status);
	if (waited && WEXITSTATUS(status) == 100)
		skip("O_NOFOLLOW fallback: seccomp cannot be loaded here (under valgrind?)");
	else
		ok(waited && WEXITSTATUS(status) == 0,
		   "O_NOFOLLOW fallback: the same refusals (child status %d)", status);
	_cleanup_free_ char *rm = xasprintf("rm -rf '%s'", dir);
	if (system(rm) != 0)
		printf("# cannot remove %s\n", dir);
}

/* lade_open_regular: a FIFO (no writer: a blocking open would hang here), a directory and,
 * with O_NOFOLLOW, a symlink are refused at once, naming the file and what it is. */
static void test_open_regular(void)
{
	_cleanup_free_ char *dir = make_tmpdir("open-regular");
	_cleanup_free_ char *setup = xasprintf(
	        "cd '%s' && mkfifo fifo && echo x >file && ln -s file link && mkdir d", dir);
	ok(system(setup) == 0, "a FIFO, a file, a symlink, a directory");
	static const struct {
		const char *name;
		int flags;
		const char *what; /* NULL: opens */
	} cases[] = {
	        {"fifo", 0, "a FIFO"},
	        {"d", 0, "a directory"},
	        {"link", O_NOFOLLOW, "a symlink"},
	        {"link", 0, NULL},
	        {"file", O_NOFOLLOW, NULL},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, cases[i].name);
		_cleanup_error_ struct lade_error *err = NULL;
		int fd = -1;
		int r = lade_open_regular(path, cases[i].flags, &fd, &err);
		if (cases[i].what == NULL) {
			char c = 0;
			ok(r == 0 && read(fd, &c, 1) == 1 && c == 'x', "%s (flags %#x) opens",
			   cases[i].name, cases[i].flags);
		} else {
			_cleanup_free_ char *want =
			        xasprintf("%s is %s, not a regular file", path, cases[i].what);
			ok(r == -1 && fd == -1, "%s (flags %#x) is refused", cases[i].name,
			   cases[i].flags);
			is_str(err ? err->msg : NULL, want, "%s: the message says what it is",
			       cases[i].name);
		}
		if (fd >= 0)
			close(fd);
	}
	rm_rf(dir);
}

int main(void)
{
	test_buf();
	test_paths();
	test_sizes();
	test_openat_beneath();
	test_open_regular();
	return tap_done();
}
