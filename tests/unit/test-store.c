/* Unit tests for core/store.c: layout creation, blob writing, dedup, import with
 * verification, stale temp clean-up, the layout lock and ENOSPC handling. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lade/digest.h"
#include "lade/store.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

static char *tmp_root;

static bool file_equals(const char *path, const void *data, size_t len)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	struct lade_error *err = NULL;
	if (lade_read_file(path, len + 1, &b, &err) < 0) {
		lade_error_free(err);
		return false;
	}
	return b.len == len && memcmp(b.data, data, len) == 0;
}

/* Entries of a directory whose names start with prefix ("" counts all but . and ..). */
static int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static unsigned char *make_data(size_t len, uint32_t seed)
{
	unsigned char *d = xmalloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (unsigned char)x;
	}
	return d;
}

static void test_open_put(void)
{
	_cleanup_free_ char *dir = xasprintf("%s/out/layout", tmp_root);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", dir);
	_cleanup_free_ char *layout = xasprintf("%s/oci-layout", dir);
	struct lade_error *err = NULL;
	struct lade_store *s = NULL;

	mode_t old_umask = umask(077); /* blobs must be 0644 whatever the umask */
	ok(lade_store_open(dir, 0, &s, &err) == 0, "open creates a new layout%s%s", err ? ": " : "",
	   err ? err->msg : "");
	if (s == NULL) {
		umask(old_umask);
		return;
	}
	is_str(lade_store_dir(s), dir, "lade_store_dir");
	struct stat st;
	ok(stat(blobs, &st) == 0 && S_ISDIR(st.st_mode), "blobs/sha256 created");
	ok(file_equals(layout, "{\"imageLayoutVersion\":\"1.0.0\"}", 30), "oci-layout content");

	char digest[LADE_DIGEST_STRLEN], want[LADE_DIGEST_STRLEN];
	lade_sha256_buf("hello\n", 6, want);
	ok(lade_store_put(s, "hello\n", 6, digest, &err) == 0, "put");
	is_str(digest, want, "put returns the sha256 of the content");
	ok(lade_store_has(s, digest), "has after put");
	_cleanup_free_ char *path = lade_store_blob_path(s, digest);
	_cleanup_free_ char *want_path = xasprintf("%s/%s", blobs, lade_digest_hex(want));
	is_str(path, want_path, "blob path is blobs/sha256/<hex>");
	ok(file_equals(path, "hello\n", 6), "blob content");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644, "blob mode 0644 under umask 077");
	umask(old_umask);

	char other[LADE_DIGEST_STRLEN];
	lade_sha256_buf("absent", 6, other);
	ok(!lade_store_has(s, other), "has is false for an absent blob");
	ok(!lade_store_has(s, "sha256:../../oci-layout"), "has is false for a malformed digest");
	_cleanup_free_ char *bad = lade_store_blob_path(s, "sha256:../../etc/passwd");
	ok(strstr(bad, "..") == NULL && strncmp(bad, blobs, strlen(blobs)) == 0,
	   "malformed digest stays inside blobs/sha256: %s", bad);

	/* a writer: pieces crossing the 1 MiB write buffer */
	size_t len = 2 * 1024 * 1024 + 333;
	_cleanup_free_ unsigned char *data = make_data(len, 1);
	struct lade_blob_writer *w = NULL;
	ok(lade_store_blob_begin(s, &w, &err) == 0, "blob begin");
	ok(count_entries(blobs, ".tmp-") == 1, "writer has a temp file");
	int r = 0;
	for (size_t off = 0; off < len && r == 0;) {
		size_t n = len - off < 70001 ? len - off : 70001;
		if (off == 70001)
			n = 1024 * 1024 + 5; /* one write larger than the buffer */
		r = lade_stream_write(lade_blob_writer_stream(w), data + off, n, &err);
		off += n;
	}
	ok(r == 0, "blob writes");
	uint64_t size = 0;
	ok(lade_blob_writer_commit(w, digest, &size, &err) == 0, "commit");
	lade_sha256_buf(data, len, want);
	is_str(digest, want, "commit digest is the sha256 of the content");
	ok(size == len, "commit size");
	free(path);
	path = lade_store_blob_path(s, digest);
	ok(file_equals(path, data, len), "committed blob content");
	ok(count_entries(blobs, ".tmp-") == 0, "no temp file after commit");

	/* same content again: one blob, temp dropped */
	int before = count_entries(blobs, "");
	ok(lade_store_blob_begin(s, &w, &err) == 0 &&
	           lade_stream_write(lade_blob_writer_stream(w), data, len, &err) == 0 &&
	           lade_blob_writer_commit(w, digest, NULL, &err) == 0,
	   "second commit of the same content");
	is_str(digest, want, "same digest");
	ok(count_entries(blobs, "") == before, "still one blob for that content");

	/* abort: the temp file goes away */
	ok(lade_store_blob_begin(s, &w, &err) == 0, "begin for abort");
	lade_stream_write(lade_blob_writer_stream(w), "x", 1, &err);
	lade_blob_writer_free(w);
	ok(count_entries(blobs, ".tmp-") == 0, "free without commit removes the temp file");
	lade_store_free(s);

	/* reopen: a wrong oci-layout is repaired, stale temp files are removed */
	write_file(layout, "{}", 2); /* damage oci-layout */
	_cleanup_free_ char *stale = xasprintf("%s/.tmp-lade-0123456789abcdef", blobs);
	write_file(stale, "partial", 7); /* plant a stale temp file */
	/* temps of another program (or of lade before .tmp-lade-) are not provably lade's */
	_cleanup_free_ char *foreign = xasprintf("%s/.tmp-stale1", blobs);
	write_file(foreign, "partial", 7); /* plant a .tmp- file lade did not name */
	/* the temp of an index.json write killed before its rename */
	_cleanup_free_ char *stale_index = xasprintf("%s/.tmp-lade-AbC123", dir);
	write_file(stale_index, "{\"partial", 9); /* plant a stale index temp file */
	_cleanup_free_ char *not_ours = xasprintf("%s/.tmp-not-ours", dir);
	write_file(not_ours, "x", 1); /* plant a file lade did not name */
	ok(lade_store_open(dir, 0, &s, &err) == 0, "reopen");
	ok(file_equals(layout, "{\"imageLayoutVersion\":\"1.0.0\"}", 30), "oci-layout rewritten");
	ok(access(stale, F_OK) < 0 && errno == ENOENT, "stale temp file removed at open");
	ok(access(stale_index, F_OK) < 0 && errno == ENOENT,
	   "stale index temp file removed at open");
	ok(access(not_ours, F_OK) == 0, "other files in the layout directory are kept");
	ok(access(foreign, F_OK) == 0, "a .tmp- file not named by lade is kept in blobs/sha256");
	ok(lade_store_has(s, want), "blobs survive reopen");
	lade_store_free(s);
	lade_error_free(err);
}

static void test_import(void)
{
	_cleanup_free_ char *dir = xasprintf("%s/imp", tmp_root);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", dir);
	_cleanup_free_ char *src = xasprintf("%s/src-blob", tmp_root);
	_cleanup_free_ char *src2 = xasprintf("%s/src-hostile", tmp_root);
	struct lade_error *err = NULL;
	_cleanup_(lade_store_freep) struct lade_store *s = NULL;
	if (lade_store_open(dir, 0, &s, &err) < 0) {
		ok(0, "open for import: %s", err->msg);
		lade_error_free(err);
		return;
	}

	size_t len = 300000;
	_cleanup_free_ unsigned char *data = make_data(len, 2);
	char digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(data, len, digest);
	write_file(src, data, len);

	/* wrong digest: refused, nothing left behind */
	char wrong[LADE_DIGEST_STRLEN];
	lade_sha256_buf("something else", 14, wrong);
	ok(lade_store_import_file(s, src, wrong, len, &err) == -1,
	   "import with wrong digest fails");
	_cleanup_free_ char *msg =
	        xasprintf("blob %s: digest mismatch: expected %s, got %s", src, wrong, digest);
	is_str(err ? err->msg : NULL, msg, "digest mismatch message");
	lade_error_freep(&err);
	ok(!lade_store_has(s, wrong) && !lade_store_has(s, digest), "no blob after a mismatch");
	ok(count_entries(blobs, "") == 0, "no temp file after a mismatch");

	ok(lade_store_import_file(s, src, digest, len + 1, &err) == -1, "import with wrong size");
	free(msg);
	msg = xasprintf("blob %s: size mismatch: expected %zu, got %zu", src, len + 1, len);
	is_str(err ? err->msg : NULL, msg, "size mismatch message");
	lade_error_freep(&err);

	ok(lade_store_import_file(s, src, "sha256:abc", UINT64_MAX, &err) == -1,
	   "import with a malformed digest");
	free(msg);
	msg = xasprintf("blob %s: invalid digest 'sha256:abc'", src);
	is_str(err ? err->msg : NULL, msg, "malformed digest message");
	lade_error_freep(&err);

	_cleanup_free_ char *missing = xasprintf("%s/no-such-blob", tmp_root);
	ok(lade_store_import_file(s, missing, digest, len, &err) == -1, "import of a missing file");
	free(msg);
	msg = xasprintf("blob: cannot open %s: %s", missing, strerror(ENOENT));
	is_str(err ? err->msg : NULL, msg, "missing file message");
	lade_error_freep(&err);

	ok(lade_store_import_file(s, tmp_root, digest, UINT64_MAX, &err) == -1,
	   "import of a directory");
	free(msg);
	msg = xasprintf("blob: %s is a directory, not a regular file", tmp_root);
	is_str(err ? err->msg : NULL, msg, "directory message");
	lade_error_freep(&err);

	/* good import: a copy of its own (reflink or copy), never the source's inode */
	ok(lade_store_import_file(s, src, digest, len, &err) == 0, "import good blob%s%s",
	   err ? ": " : "", err ? err->msg : "");
	ok(lade_store_has(s, digest), "imported blob present");
	_cleanup_free_ char *path = lade_store_blob_path(s, digest);
	ok(file_equals(path, data, len), "imported content");
	ok(count_entries(blobs, ".tmp-") == 0, "no temp file after import");
	struct stat si, sb;
	ok(stat(src, &si) == 0 && stat(path, &sb) == 0 && si.st_ino != sb.st_ino &&
	           sb.st_nlink == 1 && (sb.st_mode & 07777) == 0644,
	   "the blob has its own inode (not a hard link of the source), mode 0644");
	/* someone edits "their" output blob in place: the source stays intact */
	{
		int fd = open(path, O_WRONLY);
		unsigned char flipped = data[7] ^ 0xff;
		ok(fd >= 0 && pwrite(fd, &flipped, 1, 7) == 1 && close(fd) == 0,
		   "flip a byte of the imported blob in place");
		ok(file_equals(src, data, len), "the source is unchanged by the edit");
		unlink(path);
		ok(lade_store_import_file(s, src, digest, len, &err) == 0 &&
		           file_equals(path, data, len),
		   "re-import after the edit");
		lade_error_freep(&err);
	}
	/* --link-blobs: the caller vouches for an immutable source, so a hard link is fine */
	{
		_cleanup_free_ char *ldir = xasprintf("%s/imp-link", tmp_root);
		_cleanup_(lade_store_freep) struct lade_store *ls = NULL;
		ok(lade_store_open(ldir, 0, &ls, &err) == 0, "open a store for linked imports");
		lade_error_freep(&err);
		if (ls) {
			lade_store_set_link_blobs(ls, true);
			_cleanup_free_ char *lp = lade_store_blob_path(ls, digest);
			struct stat sl;
			ok(lade_store_import_file(ls, src, digest, len, &err) == 0 &&
			           stat(lp, &sl) == 0 && sl.st_ino == si.st_ino,
			   "with link_blobs: the blob is a hard link of the source");
			lade_error_freep(&err);
		}
	}

	/* the store already has the digest: a hostile source must still be verified */
	data[100] ^= 1;
	write_file(src2, data, len);
	ok(lade_store_import_file(s, src2, digest, len, &err) == -1,
	   "existing blob does not excuse a bad source");
	ok(err && strstr(err->msg, ": digest mismatch: expected ") != NULL, "hostile message: %s",
	   err ? err->msg : "");
	lade_error_freep(&err);
	data[100] ^= 1;
	ok(file_equals(path, data, len), "existing blob untouched");
	ok(lade_store_import_file(s, src, digest, UINT64_MAX, &err) == 0,
	   "re-import of a good source with size unchecked");

	/* copy path: source on another file system when one is at hand */
	struct stat a, b;
	const char *shm = "/dev/shm";
	if (stat(shm, &a) == 0 && stat(tmp_root, &b) == 0 && a.st_dev != b.st_dev &&
	    access(shm, W_OK) == 0) {
		_cleanup_free_ char *xsrc = xasprintf("%s/lade-test-store-%d", shm, (int)getpid());
		unsigned char extra[5000];
		memcpy(extra, data, sizeof(extra));
		extra[0] ^= 0x55;
		char xd[LADE_DIGEST_STRLEN];
		lade_sha256_buf(extra, sizeof(extra), xd);
		write_file(xsrc, extra, sizeof(extra));
		ok(lade_store_import_file(s, xsrc, wrong, UINT64_MAX, &err) == -1 &&
		           count_entries(blobs, ".tmp-") == 0,
		   "copy import with wrong digest leaves no temp file");
		lade_error_freep(&err);
		ok(lade_store_import_file(s, xsrc, xd, sizeof(extra), &err) == 0 &&
		           lade_store_has(s, xd),
		   "copy import across file systems");
		_cleanup_free_ char *xp = lade_store_blob_path(s, xd);
		struct stat xs;
		ok(stat(xp, &xs) == 0 && (xs.st_mode & 07777) == 0644 &&
		           file_equals(xp, extra, sizeof(extra)),
		   "copied blob content and mode");
		lade_error_freep(&err);
		unlink(xsrc);
	} else {
		ok(1, "# SKIP no second file system for the copy path");
		ok(1, "# SKIP no second file system for the copy path");
		ok(1, "# SKIP no second file system for the copy path");
	}
}

static void test_lock(void)
{
	_cleanup_free_ char *dir = xasprintf("%s/locked", tmp_root);
	struct lade_error *err = NULL;
	struct lade_store *first = NULL, *second = NULL;
	ok(lade_store_open(dir, 0, &first, &err) == 0, "first open takes the lock");
	ok(lade_store_open(dir, 0, &second, &err) == -1 && second == NULL,
	   "second open with timeout 0 fails");
	_cleanup_free_ char *msg = xasprintf(
	        "output layout %s is in use by another lade (lock %s/.lade.lock)", dir, dir);
	is_str(err ? err->msg : NULL, msg, "lock message");
	lade_error_freep(&err);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(lade_store_open(dir, 1, &second, &err) == -1, "second open with timeout 1 fails");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(waited >= 0.9 && waited < 5, "it waited about the timeout (%.2fs)", waited);
	lade_error_freep(&err);

	lade_store_free(first);
	ok(lade_store_open(dir, 0, &second, &err) == 0, "open succeeds once the first is freed");
	lade_store_free(second);
	lade_error_free(err);
}

/* A directory `target` outside the layout holding a file and a ".tmp-x" file; true when both
 * are still there with their content and nothing else was added. */
static bool plant_target(const char *target)
{
	_cleanup_free_ char *a = xasprintf("%s/keep", target);
	_cleanup_free_ char *b = xasprintf("%s/.tmp-x", target);
	if (mkdir(target, 0755) != 0)
		return false;
	write_file(a, "keep", 4);
	write_file(b, "tmp", 3);
	return true;
}

static bool target_untouched(const char *target)
{
	_cleanup_free_ char *a = xasprintf("%s/keep", target);
	_cleanup_free_ char *b = xasprintf("%s/.tmp-x", target);
	return file_equals(a, "keep", 4) && file_equals(b, "tmp", 3) &&
	       count_entries(target, "") == 2;
}

/* LAYOUT/rel (rel "blobs" or "blobs/sha256") is a symlink to a directory outside holding a
 * .tmp-x file: the open is refused naming rel, and the directory is left as it was. */
static void symlinked_dir(const char *layout, const char *rel)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", tmp_root, layout);
	_cleanup_free_ char *target = xasprintf("%s/%s-target", tmp_root, layout);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs", dir);
	_cleanup_free_ char *link = xasprintf("%s/%s", dir, rel);
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_store *s = NULL;
	ok(mkdir(dir, 0755) == 0 && (strchr(rel, '/') == NULL || mkdir(blobs, 0755) == 0) &&
	           plant_target(target) && symlink(target, link) == 0,
	   "%s is a symlink to a directory with a .tmp-x file", rel);
	ok(lade_store_open(dir, 0, &s, &err) < 0, "symlinked %s refused", rel);
	_cleanup_free_ char *want = xasprintf("output layout %s: %s/%s is a symlink (lade does not "
	                                      "follow symlinks inside a layout)",
	                                      dir, dir, rel);
	is_str(err ? err->msg : NULL, want, "the message names %s", rel);
	ok(target_untouched(target), "the target directory of %s is untouched", rel);
	lade_store_free(s);
}

/* Symlinks, FIFOs and wrong types inside an existing layout are refused by name; nothing is
 * created, written or deleted where they point. */
static void test_hostile_layout(void)
{
	struct lade_error *err = NULL;
	struct lade_store *s = NULL;

	/* .lade.lock -> a file outside: refused, the target is not created */
	_cleanup_free_ char *l1 = xasprintf("%s/h-lock", tmp_root);
	_cleanup_free_ char *lock = xasprintf("%s/.lade.lock", l1);
	_cleanup_free_ char *victim = xasprintf("%s/h-lock-victim", tmp_root);
	ok(mkdir(l1, 0755) == 0 && symlink(victim, lock) == 0, "lock file is a dangling symlink");
	ok(lade_store_open(l1, 0, &s, &err) < 0, "symlinked lock file refused");
	_cleanup_free_ char *want = xasprintf("output layout %s: %s/.lade.lock is a symlink (lade "
	                                      "does not follow symlinks inside a layout)",
	                                      l1, l1);
	is_str(err ? err->msg : NULL, want, "the message names the lock file");
	ok(access(victim, F_OK) < 0 && errno == ENOENT, "the symlink's target was not created");
	lade_error_freep(&err);

	/* a FIFO as the lock file: refused at once, no hang */
	_cleanup_free_ char *l2 = xasprintf("%s/h-fifo", tmp_root);
	_cleanup_free_ char *fifo = xasprintf("%s/.lade.lock", l2);
	ok(mkdir(l2, 0755) == 0 && mkfifo(fifo, 0644) == 0, "lock file is a FIFO");
	ok(lade_store_open(l2, 0, &s, &err) < 0, "FIFO lock file refused");
	_cleanup_free_ char *want2 =
	        xasprintf("output layout %s: %s/.lade.lock is not a regular file", l2, l2);
	is_str(err ? err->msg : NULL, want2, "the message says what is wrong");
	lade_error_freep(&err);

	symlinked_dir("h-blobs", "blobs");
	symlinked_dir("h-sha", "blobs/sha256");

	/* blobs/sha256 a regular file */
	_cleanup_free_ char *l5 = xasprintf("%s/h-file", tmp_root);
	_cleanup_free_ char *b5 = xasprintf("%s/blobs", l5);
	_cleanup_free_ char *sha5 = xasprintf("%s/blobs/sha256", l5);
	ok(mkdir(l5, 0755) == 0 && mkdir(b5, 0755) == 0, "layout with blobs/");
	write_file(sha5, "x", 1); /* blobs/sha256 a regular file */
	ok(lade_store_open(l5, 0, &s, &err) < 0, "blobs/sha256 as a file refused");
	_cleanup_free_ char *want5 =
	        xasprintf("output layout %s: %s/blobs/sha256 is not a directory", l5, l5);
	is_str(err ? err->msg : NULL, want5, "the message names blobs/sha256");
	lade_error_freep(&err);

	/* index.json and a blob as symlinks: the index is refused, the blob does not count */
	_cleanup_free_ char *l6 = xasprintf("%s/h-index", tmp_root);
	ok(lade_store_open(l6, 0, &s, &err) == 0, "a fresh layout opens");
	if (s) {
		char digest[LADE_DIGEST_STRLEN];
		lade_sha256_buf("blob", 4, digest);
		_cleanup_free_ char *blob = lade_store_blob_path(s, digest);
		_cleanup_free_ char *index = xasprintf("%s/index.json", l6);
		ok(symlink(victim, blob) == 0 && symlink(victim, index) == 0,
		   "plant symlinks for a blob and index.json");
		ok(!lade_store_has(s, digest), "a symlink in blobs/sha256 is not a blob");
		_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
		ok(lade_store_read_file(s, "index.json", 1024, &b, &err) < 0 && err &&
		           strstr(err->msg, "/index.json is a symlink") != NULL,
		   "index.json through a symlink refused");
		lade_error_freep(&err);
		char got[LADE_DIGEST_STRLEN];
		ok(lade_store_put(s, "blob", 4, got, &err) == 0 && file_equals(blob, "blob", 4),
		   "storing the blob replaces the symlink, not its target");
		ok(access(victim, F_OK) < 0 && errno == ENOENT,
		   "the symlinks' target was not created");
		lade_store_free(s);
		s = NULL;
	}
	lade_error_free(err);
}

static void test_enospc(void)
{
	_cleanup_free_ char *mnt = xasprintf("%s/small", tmp_root);
	mkdir(mnt, 0755);
	if (mount("lade-test", mnt, "tmpfs", 0, "size=64k") < 0) {
		printf("# mount tmpfs: %s\n", strerror(errno));
		ok(1, "# SKIP cannot mount a small tmpfs");
		ok(1, "# SKIP cannot mount a small tmpfs");
		ok(1, "# SKIP cannot mount a small tmpfs");
		rmdir(mnt);
		return;
	}
	_cleanup_free_ char *dir = xasprintf("%s/layout", mnt);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", dir);
	struct lade_error *err = NULL;
	struct lade_store *s = NULL;
	if (lade_store_open(dir, 0, &s, &err) == 0) {
		size_t len = 200 * 1024;
		_cleanup_free_ unsigned char *data = make_data(len, 3);
		struct lade_blob_writer *w = NULL;
		int r = lade_store_blob_begin(s, &w, &err);
		if (r == 0)
			r = lade_stream_write(lade_blob_writer_stream(w), data, len, &err);
		if (r == 0)
			r = lade_blob_writer_commit(w, NULL, NULL, &err);
		else
			lade_blob_writer_free(w);
		ok(r == -1, "200 KiB blob on a 64 KiB file system fails");
		_cleanup_free_ char *msg =
		        xasprintf("cannot write blob to %s: %s", dir, strerror(ENOSPC));
		is_str(err ? err->msg : NULL, msg, "ENOSPC message");
		ok(count_entries(blobs, ".tmp-") == 0, "no temp file left after ENOSPC");
		lade_store_free(s);
	} else {
		ok(0, "open on small tmpfs: %s", err->msg);
	}
	lade_error_free(err);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

int main(void)
{
	tmp_root = make_tmpdir("store");
	test_open_put();
	test_import();
	test_lock();
	test_hostile_layout();
	test_enospc();
	rm_rf(tmp_root);
	free(tmp_root);
	return tap_done();
}
