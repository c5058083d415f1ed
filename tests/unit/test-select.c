/* Unit tests for wheel selection: temp wheelhouses of small files named like wheels (their
 * content is their name, so every file has its own sha256), a lock written with those
 * hashes, and the choice / refusal for a cp311 glibc 2.36 x86_64 target. */
#include <errno.h>
#include <ftw.h>
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
	int r = lade_select_wheels(l, dirs, &target, sel, n, &err);
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

	rm_rf(root);
	free(root);
	free(wh1);
	free(wh2);
	free(wh3);
	return tap_done();
}
