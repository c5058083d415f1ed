/* Unit tests for wheel selection: temp wheelhouses of small files named like wheels (their
 * content is their name, so every file has its own sha256), a lock written with those
 * hashes, and the choice / refusal for a cp311 glibc 2.36 x86_64 target. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/digest.h"
#include "lade/lock.h"
#include "lade/select.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

static char *root, *wh1, *wh2, *wh3;
static struct lade_target target;

static void put(const char *dir, const char *name)
{
	_cleanup_free_ char *path = lade_path_join(dir, name);
	if (lade_write_file_atomic(path, name, strlen(name), NULL) < 0)
		abort();
}

/* "sha256:<hex of a file whose content is name>" as a lock --hash option */
static void hash_opt(struct lade_buf *b, const char *name)
{
	char d[LADE_DIGEST_STRLEN];
	lade_sha256_buf(name, strlen(name), d);
	lade_buf_addf(b, " \\\n    --hash=sha256:%s", lade_digest_hex(d));
}

static struct lade_lock *lock_of(const char *text)
{
	struct lade_lock *l = NULL;
	struct lade_error *err = NULL;
	if (lade_lock_parse("requirements.lock", text, strlen(text), &l, &err) < 0) {
		printf("# lock: %s\n", err->msg);
		lade_error_free(err);
	}
	return l;
}

static int run(const char *lock_text, char *const *dirs, struct lade_selected **sel, size_t *n,
               char **msg)
{
	_cleanup_(lade_lock_freep) struct lade_lock *l = lock_of(lock_text);
	struct lade_error *err = NULL;
	*sel = NULL;
	*n = 0;
	*msg = NULL;
	if (!l)
		return -2;
	int r = lade_select_wheels(l, dirs, &target, NULL, sel, n, &err);
	if (err)
		*msg = xstrdup(err->msg);
	lade_error_free(err);
	if (r == 0) /* the req pointers die with the lock */
		for (size_t i = 0; i < *n; i++)
			(*sel)[i].req = NULL;
	return r;
}

static void test_choose(void)
{
	struct lade_buf b = LADE_BUF_INIT;
	lade_buf_adds(&b, "numpy==1.26.4");
	hash_opt(&b, "numpy-1.26.4-cp311-cp311-linux_x86_64.whl");
	hash_opt(&b, "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
	lade_buf_adds(&b, "\n    # via app\ncolorama==0.4.6 ; sys_platform == 'win32'");
	hash_opt(&b, "colorama-0.4.6-py2.py3-none-any.whl");
	lade_buf_adds(&b, "\nsix==1.16.0");
	hash_opt(&b, "six-1.16.0-py2.py3-none-any.whl");
	lade_buf_adds(&b, "\ntorch==2.3.0+cpu");
	hash_opt(&b, "torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl");
	lade_buf_adds(&b, "\nPkg_A==1.0");
	hash_opt(&b, "pkg_a-1.0-py3-none-any.whl");
	lade_buf_adds(&b, "\ntie==1.0");
	hash_opt(&b, "tie-1.0-1-py3-none-any.whl");
	hash_opt(&b, "tie-1.0-2-py3-none-any.whl");
	lade_buf_adds(&b, "\n");

	char *const dirs[] = {wh1, wh2, wh3, NULL};
	struct lade_selected *sel;
	size_t n;
	char *msg;
	int r = run(b.data, dirs, &sel, &n, &msg);
	ok(r == 0, "selection succeeds%s%s", msg ? ": " : "", msg ? msg : "");
	ok(n == 5, "5 wheels (colorama skipped by its marker)");
	if (r == 0 && n == 5) {
		is_str(sel[0].filename,
		       "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		       "best tag chosen");
		is_str(sel[0].name, "numpy", "name");
		is_str(sel[0].version, "1.26.4", "version");
		char d[LADE_DIGEST_STRLEN];
		lade_sha256_buf(sel[0].filename, strlen(sel[0].filename), d);
		is_str(sel[0].sha256_hex, lade_digest_hex(d), "sha256 of the chosen file");
		_cleanup_free_ char *p1 = lade_path_join(wh1, "six-1.16.0-py2.py3-none-any.whl");
		is_str(sel[1].path, p1, "first wheelhouse wins a tie");
		is_str(sel[2].filename, "torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl",
		       "local version pinned exactly");
		is_str(sel[3].filename, "pkg_a-1.0-py3-none-any.whl",
		       "exact version preferred to a local variant with a better tag");
		is_str(sel[4].filename, "tie-1.0-1-py3-none-any.whl",
		       "file name order breaks a tie (whatever the creation order)");
	}
	lade_selected_free(sel, n);
	free(msg);
	/* like pip, "==2.3.0" admits a local build when no plain 2.3.0 wheel fits */
	lade_buf_reset(&b);
	lade_buf_adds(&b, "torch==2.3.0");
	hash_opt(&b, "torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl");
	char *const only3[] = {wh3, NULL};
	ok(run(b.data, only3, &sel, &n, &msg) == 0 && n == 1 &&
	           strcmp(sel[0].version, "2.3.0+cpu") == 0,
	   "==2.3.0 selects 2.3.0+cpu");
	lade_selected_free(sel, n);
	free(msg);
	lade_buf_release(&b);
}

static void test_errors(void)
{
	char *const dirs[] = {wh1, wh2, NULL};
	struct lade_selected *sel;
	size_t n;
	char *msg;
	char d[LADE_DIGEST_STRLEN];
	const char *six = "six-1.16.0-py2.py3-none-any.whl";

	/* the locked hash is the one of the second wheelhouse's copy */
	struct lade_buf b = LADE_BUF_INIT;
	lade_buf_adds(&b, "\n\nsix==1.16.0 --hash=sha256:");
	lade_buf_adds(&b, "0000000000000000000000000000000000000000000000000000000000000000\n");
	ok(run(b.data, dirs, &sel, &n, &msg) == -1, "hash mismatch refused");
	lade_sha256_buf(six, strlen(six), d);
	_cleanup_free_ char *want = xasprintf(
	        "requirements.lock:3: %s has %s which is not among the locked hashes", six, d);
	is_str(msg, want, "hash mismatch message");
	free(msg);
	lade_buf_reset(&b);

	lade_buf_adds(&b, "torch==2.3.0 --hash=sha256:"
	                  "1111111111111111111111111111111111111111111111111111111111111111\n"
	                  "requests==2.31.0 --hash=sha256:"
	                  "2222222222222222222222222222222222222222222222222222222222222222\n");
	ok(run(b.data, dirs, &sel, &n, &msg) == -1, "missing wheels refused");
	_cleanup_free_ char *want2 = xasprintf(
	        "requirements.lock:1: no compatible wheel for torch==2.3.0:\n"
	        "  %s/torch-2.2.0-cp311-cp311-manylinux_2_17_x86_64.whl: version 2.2.0 != 2.3.0\n"
	        "  %s/torch-2.3.0-cp311-cp311-manylinux_2_37_x86_64.whl: tag "
	        "cp311-cp311-manylinux_2_37_x86_64 not supported by cp311 linux x86_64 glibc 2.36\n"
	        "  %s/torch-2.3.0-cp312-cp312-manylinux_2_17_x86_64.whl: tag "
	        "cp312-cp312-manylinux_2_17_x86_64 not supported by cp311 linux x86_64 glibc 2.36\n"
	        "requirements.lock:2: no wheel named requests in wheelhouse %s, %s",
	        wh1, wh2, wh2, wh1, wh2);
	is_str(msg, want2, "every candidate listed with its reason, every problem reported");
	free(msg);
	lade_buf_reset(&b);

	/* markers that differ in text but both hold for the target */
	lade_buf_adds(&b, "six==1.16.0 ; python_version >= '3.8'");
	hash_opt(&b, six);
	lade_buf_adds(&b, "\nsix==1.15.0 ; python_version >= '3.10'");
	hash_opt(&b, six);
	lade_buf_adds(&b, "\n");
	ok(run(b.data, dirs, &sel, &n, &msg) == -1, "overlapping markers refused");
	is_str(msg,
	       "requirements.lock:3: six is also required on line 1 for cp311 linux x86_64 glibc "
	       "2.36 (markers overlap)",
	       "overlap message");
	free(msg);
	lade_buf_reset(&b);

	/* a marker that cannot be evaluated */
	lade_buf_adds(&b, "six==1.16.0 ; os_name ~= 'posix'");
	hash_opt(&b, six);
	lade_buf_adds(&b, "\n");
	ok(run(b.data, dirs, &sel, &n, &msg) == -1, "bad marker refused");
	is_str(msg,
	       "requirements.lock:1: invalid marker 'os_name ~= 'posix'': undefined comparison "
	       "'posix' ~= 'posix'",
	       "bad marker message");
	free(msg);
	lade_buf_reset(&b);

	_cleanup_free_ char *nodir = lade_path_join(root, "missing");
	char *const bad_dirs[] = {wh1, nodir, NULL};
	lade_buf_adds(&b, "six==1.16.0");
	hash_opt(&b, six);
	ok(run(b.data, bad_dirs, &sel, &n, &msg) == -1, "missing wheelhouse refused");
	_cleanup_free_ char *want3 =
	        xasprintf("cannot open wheelhouse %s: No such file or directory", nodir);
	is_str(msg, want3, "missing wheelhouse message");
	free(msg);

	/* no wheelhouse at all, but nothing needed for this target: fine */
	lade_buf_reset(&b);
	lade_buf_adds(&b, "pywin32==306 ; sys_platform == 'win32'");
	hash_opt(&b, "x");
	ok(run(b.data, NULL, &sel, &n, &msg) == 0 && n == 0, "nothing to select");
	lade_selected_free(sel, n);
	free(msg);
	lade_buf_release(&b);
}

static void like_msg_(const char *got, const char *want, int line);
#define like_msg(got, want) like_msg_(got, want, __LINE__)

static const char *hex_of(const char *name)
{
	static char hex[8][65];
	static int i;
	char d[LADE_DIGEST_STRLEN];
	lade_sha256_buf(name, strlen(name), d);
	i = (i + 1) % 8;
	snprintf(hex[i], sizeof(hex[i]), "%s", lade_digest_hex(d));
	return hex[i];
}

/* Select from a TOML lock named `path`; returns the chosen file names joined by spaces or the
 * error message (caller frees). */
static char *select_toml(const char *path, const char *text)
{
	char *const dirs[] = {wh1, wh2, wh3, NULL};
	_cleanup_(lade_lock_freep) struct lade_lock *l = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_selected *sel = NULL;
	size_t n = 0;
	if (lade_lock_parse_any(path, text, strlen(text), &l, &err) < 0 ||
	    lade_select_wheels(l, dirs, &target, NULL, &sel, &n, &err) < 0)
		return xstrdup(err->msg);
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		lade_buf_addf(&b, "%s%s", i ? " " : "", sel[i].filename);
	lade_selected_free(sel, n);
	return lade_buf_detach(&b, NULL);
}

static void test_uv_lock(void)
{
	const char *six = "six-1.16.0-py2.py3-none-any.whl";
	const char *np = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
	const char *np_musl = "numpy-1.26.4-cp311-cp311-musllinux_1_1_x86_64.whl";
	const char *tz = "tie-1.0-1-py3-none-any.whl";
	_cleanup_free_ char *lock = xasprintf(
	        "version = 1\nrequires-python = \">=3.10\"\n\n"
	        "[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n"
	        "dependencies = [\n  { name = \"numpy\", extra = [\"x\"] },\n"
	        "  { name = \"winonly\", marker = \"sys_platform == 'win32'\" },\n]\n\n"
	        "[[package]]\nname = \"numpy\"\nversion = \"1.26.4\"\n"
	        "source = { registry = \"https://pypi.org/simple\" }\n"
	        "wheels = [\n  { url = \"https://x/%s\", hash = \"sha256:%s\" },\n"
	        "  { url = \"https://x/%s\", hash = \"sha256:%s\" },\n]\n"
	        "[package.optional-dependencies]\nx = [{ name = \"six\" }]\n\n"
	        "[[package]]\nname = \"six\"\nversion = \"1.16.0\"\n"
	        "source = { registry = \"https://pypi.org/simple\" }\n"
	        "wheels = [{ url = \"https://x/%s\", hash = \"sha256:%s\" }]\n\n"
	        "[[package]]\nname = \"winonly\"\nversion = \"1.0\"\n"
	        "source = { registry = \"https://pypi.org/simple\" }\n"
	        "sdist = { url = \"https://x/winonly-1.0.tar.gz\", hash = \"sha256:%s\" }\n\n"
	        "[[package]]\nname = \"tie\"\nversion = \"1.0\"\n"
	        "source = { registry = \"https://pypi.org/simple\" }\n"
	        "wheels = [{ url = \"https://x/%s\", hash = \"sha256:%s\" }]\n",
	        np, hex_of(np), np_musl, hex_of(np_musl), six, hex_of(six), hex_of("sdist"), tz,
	        hex_of(tz));
	_cleanup_free_ char *got = select_toml("uv.lock", lock);
	is_str(got,
	       "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl "
	       "six-1.16.0-py2.py3-none-any.whl",
	       "uv.lock: numpy and six through the extra; winonly (sdist, win32) and tie "
	       "(unreachable) left out");

	_cleanup_free_ char *by_content = select_toml("deps/any.lock", lock);
	is_str(by_content, got, "uv.lock recognised by its [[package]] lines");

	/* the same lock for Windows needs winonly, which has only an sdist */
	struct lade_target saved = target;
	lade_target_init(&target, "linux/amd64", "3.9", "glibc-2.36", NULL);
	_cleanup_free_ char *old = select_toml("uv.lock", lock);
	like_msg(old, "uv.lock:2:1: requires-python '>=3.10' excludes the target's Python 3.9.0");
	target = saved;
	_cleanup_free_ char *win = xstrdup(lock);
	char *m = strstr(win, "sys_platform == 'win32'");
	memcpy(m, "sys_platform != 'win32'", 23);
	_cleanup_free_ char *got2 = select_toml("uv.lock", win);
	is_str(got2, "uv.lock:30:1: lade never builds: winonly has no wheel (only an sdist)",
	       "uv.lock: a needed sdist-only package is refused");

	/* a wrong hash names the package and the entry */
	_cleanup_free_ char *badh = xstrdup(lock);
	m = strstr(badh, hex_of(six));
	memset(m, '0', 64);
	_cleanup_free_ char *got3 = select_toml("uv.lock", badh);
	ok(got3 &&
	           strstr(got3, "uv.lock:24:1: package six: six-1.16.0-py2.py3-none-any.whl has "
	                        "sha256:") &&
	           strstr(got3, "which is not its locked hash"),
	   "uv.lock: a wrong hash names the package");
	if (got3)
		printf("# %s\n", got3);

	/* a dependency the lock lacks */
	_cleanup_free_ char *miss =
	        select_toml("uv.lock", "version = 1\n[[package]]\nname = \"a\"\n"
	                               "source = { editable = \".\" }\n"
	                               "dependencies = [{ name = \"nope\" }]\n");
	is_str(miss, "uv.lock:5:17: package a: depends on nope, which the lock does not have",
	       "uv.lock: a dangling dependency");
}

static void test_pylock(void)
{
	const char *six = "six-1.16.0-py2.py3-none-any.whl";
	const char *np = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
	const char *np_old = "numpy-1.26.4-cp311-cp311-linux_x86_64.whl";
	_cleanup_free_ char *lock = xasprintf(
	        "lock-version = \"1.0\"\nrequires-python = \">=3.11\"\ncreated-by = \"test\"\n\n"
	        "[[packages]]\nname = \"NumPy\"\nversion = \"1.26.4\"\n"
	        "wheels = [\n  { name = \"%s\", hashes = { sha256 = \"%s\" } },\n"
	        "  { url = \"https://x/numpy-1.26.4-cp311-cp311-win_amd64.whl\", "
	        "hashes = { sha256 = \"%s\" } },\n]\n\n"
	        "[[packages]]\nname = \"six\"\nversion = \"1.16.0\"\n"
	        "marker = \"python_version >= '3.8'\"\n"
	        "[[packages.wheels]]\npath = \"wheels/%s\"\nhashes = { sha256 = \"%s\" }\n\n"
	        "[[packages]]\nname = \"colorama\"\nversion = \"0.4.6\"\n"
	        "marker = \"sys_platform == 'win32'\"\nsdist = { name = \"c.tar.gz\" }\n",
	        np_old, hex_of(np_old), hex_of("win"), six, hex_of(six));
	_cleanup_free_ char *got = select_toml("pylock.toml", lock);
	is_str(got, "numpy-1.26.4-cp311-cp311-linux_x86_64.whl six-1.16.0-py2.py3-none-any.whl",
	       "pylock.toml: only the locked files are candidates (not the better-tagged one), "
	       "colorama left out by its marker");
	(void)np;

	/* detected by content whatever the name */
	_cleanup_free_ char *got2 = select_toml("locks/any-name.txt", lock);
	is_str(got2, got, "pylock.toml recognised by its lock-version line");

	_cleanup_free_ char *win =
	        xasprintf("environments = [\"sys_platform == 'win32'\"]\n%s", lock);
	_cleanup_free_ char *got_win = select_toml("pylock.toml", win);
	is_str(got_win,
	       "pylock.toml:1:1: none of the lock's environments holds for cp311 linux x86_64 "
	       "glibc "
	       "2.36",
	       "pylock.toml: environments are checked for the target");

	/* each file has its own hash: the hash of another locked file does not do */
	_cleanup_free_ char *swapped = xstrdup(lock);
	char *m = strstr(swapped, hex_of(np_old));
	memcpy(m, hex_of("win"), 64);
	_cleanup_free_ char *got3 = select_toml("pylock.toml", swapped);
	ok(got3 && strstr(got3, "pylock.toml:5:1: package NumPy: "
	                        "numpy-1.26.4-cp311-cp311-linux_x86_64.whl has sha256:"),
	   "pylock.toml: a file checked against its own hash");

	/* errors name file:line:col and the package */
	_cleanup_free_ char *e1 = select_toml(
	        "pylock.toml",
	        "lock-version = \"1.0\"\n[[packages]]\nname = \"x\"\nversion = \"1\"\n"
	        "wheels = [{ name = \"x-1-py3-none-any.whl\", hashes = { md5 = \"0\" } }]\n");
	is_str(e1, "pylock.toml:5:44: package x: wheel x-1-py3-none-any.whl has no sha256 hash",
	       "pylock.toml: a wheel without sha256");
	_cleanup_free_ char *e2 =
	        select_toml("pylock.toml", "lock-version = \"1.0\"\n[[packages]]\nname = \"x\"\n"
	                                   "directory = { path = \".\" }\n");
	is_str(e2,
	       "pylock.toml:4:1: package x: lade never builds: x is locked as a directory source, "
	       "not as wheels",
	       "pylock.toml: a directory package");
	_cleanup_free_ char *e3 =
	        select_toml("pylock.toml", "lock-version = \"1.0\"\n[[packages]\n");
	is_str(e3, "pylock.toml:2:11: expected ']]' to end the table header",
	       "pylock.toml: broken TOML names line and column");
	_cleanup_free_ char *e4 =
	        select_toml("pylock.toml", "lock-version = \"2.0\"\npackages = []\n");
	is_str(e4, "pylock.toml:1:1: lock-version 2.0 is not supported (only 1.x)",
	       "pylock.toml: an unknown major lock version");
	_cleanup_free_ char *e5 = select_toml(
	        "pylock.toml",
	        "lock-version = \"1.0\"\n[[packages]]\nname = \"six\"\n"
	        "version = \"1.16.0\"\nrequires-python = \">=3.12\"\n"
	        "wheels = [{ name = \"x-1-py3-none-any.whl\", hashes = { sha256 = "
	        "\"0000000000000000000000000000000000000000000000000000000000000000\" } }]\n");
	is_str(e5,
	       "pylock.toml:2:1: package six: requires-python '>=3.12' excludes cp311 linux x86_64 "
	       "glibc 2.36",
	       "pylock.toml: a package's requires-python");
}

static void like_msg_(const char *got, const char *want, int line)
{
	ok(got && strcmp(got, want) == 0, "%s (line %d)", want, line);
	if (!got || strcmp(got, want) != 0)
		printf("#   got:  '%s'\n#   want: '%s'\n", got ? got : "(null)", want);
}

int main(void)
{
	root = make_tmpdir("test-select");
	wh1 = lade_path_join(root, "wh1");
	wh2 = lade_path_join(root, "wh2");
	wh3 = lade_path_join(root, "wh3");
	lade_mkdir_p(wh1, NULL);
	lade_mkdir_p(wh2, NULL);
	lade_mkdir_p(wh3, NULL);
	lade_target_init(&target, "linux/amd64", "3.11", "glibc-2.36", NULL);

	put(wh1, "numpy-1.26.4-cp311-cp311-linux_x86_64.whl");
	put(wh1, "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
	put(wh1, "numpy-1.26.4-cp311-cp311-musllinux_1_1_x86_64.whl");
	put(wh1, "numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl");
	put(wh1, "numpy-1.25.0-cp311-cp311-manylinux_2_17_x86_64.whl");
	put(wh1, "six-1.16.0-py2.py3-none-any.whl");
	put(wh1, "torch-2.2.0-cp311-cp311-manylinux_2_17_x86_64.whl");
	put(wh1, "not-a-wheel.whl");
	put(wh1, "README.txt");
	put(wh2, "six-1.16.0-py2.py3-none-any.whl");
	/* a different content in the second copy */
	_cleanup_free_ char *six2 = lade_path_join(wh2, "six-1.16.0-py2.py3-none-any.whl");
	lade_write_file_atomic(six2, "other", 5, NULL);
	put(wh2, "torch-2.3.0-cp312-cp312-manylinux_2_17_x86_64.whl");
	put(wh2, "torch-2.3.0-cp311-cp311-manylinux_2_37_x86_64.whl");
	put(wh3, "torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl");
	_cleanup_free_ char *subdir = lade_path_join(wh2, "dir-1.0-py3-none-any.whl");
	lade_mkdir_p(subdir, NULL);
	put(wh3, "pkg_a-1.0+local-cp311-cp311-manylinux_2_17_x86_64.whl");
	put(wh3, "pkg_a-1.0-py3-none-any.whl");
	put(wh3, "tie-1.0-2-py3-none-any.whl");
	put(wh3, "tie-1.0-1-py3-none-any.whl");

	test_choose();
	test_errors();
	test_uv_lock();
	test_pylock();

	rm_rf(root);
	free(root);
	free(wh1);
	free(wh2);
	free(wh3);
	return tap_done();
}
