/* lade — content-addressed blob store in an OCI image layout (see include/lade/store.h).
 *
 * Every blob is written to blobs/sha256/.tmp-lade-<random>, hashed on the way, fsynced and only
 * then renamed to its digest, and the directory is fsynced: a name in blobs/sha256 always means
 * complete content with that digest, even after a crash.
 *
 * The layout may already exist and hold anything, so everything in it is opened relative to
 * directory fds without following symlinks (lade_openat_beneath): a symlinked blobs/,
 * blobs/sha256/ or .lade.lock is refused instead of writing (or deleting) outside the layout.
 * Only the layout directory itself, which the user names, is looked up by path. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lade/digest.h"
#include "lade/store.h"
#include "lade/util.h"

#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"
/* Every temp file lade creates in a layout is TMP_PREFIX + TMP_RANDOM hex digits. */
#define TMP_PREFIX    ".tmp-lade-"
#define TMP_RANDOM    16
#define TMP_NAME_SIZE (sizeof(TMP_PREFIX) + TMP_RANDOM)
/* Large enough that the tar/compress pipeline's small writes become few syscalls. */
#define WRITE_BUF_SIZE (1u << 20)
#define LOCK_POLL_NS   100000000L

struct lade_store {
	char *dir;
	char *blob_dir; /* DIR/blobs/sha256, for messages and for readers of blob paths */
	int dir_fd;
	int blob_fd;
	int lock_fd;
	bool link_blobs; /* import by hard link (lade_store_set_link_blobs) */
};

struct lade_blob_writer {
	struct lade_stream sink;    /* buffered file writer behind the hash stream */
	struct lade_hash_stream hs; /* what callers write into */
	struct lade_store *store;
	char tmp_name[TMP_NAME_SIZE]; /* in blob_fd; "" when there is none */
	int fd;
	bool failed;
	unsigned char *buf;
	size_t len;
};

/* ---- opening things inside the layout -------------------------------------------------- */

/* Why `name` (shown as LAYOUT/shown) could not be opened as `what`: a symlink or another type
 * of file is refused by name, anything else is the errno of the failed open. */
static int refuse_entry(int dfd, const char *layout, const char *shown, const char *what, int e,
                        struct lade_error **err)
{
	struct stat st;
	const char *name = strrchr(shown, '/') ? strrchr(shown, '/') + 1 : shown;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return lade_error_set(err, 0,
			                      "output layout %s: %s/%s is a symlink (lade does not "
			                      "follow symlinks inside a layout)",
			                      layout, layout, shown);
		bool want_dir = strcmp(what, "directory") == 0;
		if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
			return lade_error_set(err, 0, "output layout %s: %s/%s is not a %s", layout,
			                      layout, shown, what);
	}
	return lade_error_set(err, e, "output layout %s: cannot open %s/%s", layout, layout, shown);
}

/* Create (when missing) and open the directory `name` below dfd, never through a symlink. */
static int open_subdir(int dfd, const char *layout, const char *shown, int *out,
                       struct lade_error **err)
{
	const char *name = strrchr(shown, '/') ? strrchr(shown, '/') + 1 : shown;
	if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
		return lade_error_set(err, errno, "output layout %s: cannot create %s/%s", layout,
		                      layout, shown);
	int fd = lade_openat_beneath(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return refuse_entry(dfd, layout, shown, "directory", errno, err);
	*out = fd;
	return 0;
}

/* Open a regular file of the layout (flags may add O_CREAT): never a symlink, never a FIFO or
 * device (O_NONBLOCK, then fstat). */
static int open_regular(const struct lade_store *s, int dfd, const char *shown, int flags, int *out,
                        struct lade_error **err)
{
	const char *name = strrchr(shown, '/') ? strrchr(shown, '/') + 1 : shown;
	_cleanup_fd_ int fd =
	        lade_openat_beneath(dfd, name, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);
	if (fd < 0) {
		if (errno == ENOENT)
			return lade_error_set(err, ENOENT, "cannot open %s/%s", s->dir, shown);
		return refuse_entry(dfd, s->dir, shown, "regular file", errno, err);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lade_error_set(err, errno, "cannot stat %s/%s", s->dir, shown);
	if (!S_ISREG(st.st_mode))
		return refuse_entry(dfd, s->dir, shown, "regular file", 0, err);
	*out = lade_steal_fd(&fd);
	return 0;
}

/* A fresh name TMP_PREFIX<TMP_RANDOM hex digits>. */
static int temp_name(char name[TMP_NAME_SIZE])
{
	unsigned char rnd[TMP_RANDOM / 2];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	int o = snprintf(name, TMP_NAME_SIZE, TMP_PREFIX);
	for (size_t i = 0; i < sizeof(rnd); i++)
		o += snprintf(name + o, TMP_NAME_SIZE - (size_t)o, "%02x", rnd[i]);
	return 0;
}

/* A new temp file in dfd, created exclusively (never through a name that exists, symlink or
 * not). */
static int create_temp(int dfd, char name[TMP_NAME_SIZE])
{
	for (int attempt = 0; attempt < 16; attempt++) {
		if (temp_name(name) < 0)
			return -1;
		int fd =
		        openat(dfd, name,
		               O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

/* ---- store ---------------------------------------------------------------------------- */

static int take_lock(struct lade_store *s, int timeout_s, struct lade_error **err)
{
	_cleanup_free_ char *lock_path = lade_path_join(s->dir, ".lade.lock");
	_cleanup_fd_ int fd = -1;
	if (open_regular(s, s->dir_fd, ".lade.lock", O_RDWR | O_CREAT, &fd, err) < 0)
		return -1;

	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return lade_error_set(err, errno, "cannot lock %s", lock_path);

		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t elapsed_ns = (int64_t)(now.tv_sec - start.tv_sec) * 1000000000LL +
		                     (now.tv_nsec - start.tv_nsec);
		if (timeout_s <= 0 || elapsed_ns >= (int64_t)timeout_s * 1000000000LL)
			return lade_error_set(
			        err, 0, "output layout %s is in use by another lade (lock %s)",
			        s->dir, lock_path);
		struct timespec nap = {0, LOCK_POLL_NS};
		nanosleep(&nap, NULL);
	}
	s->lock_fd = lade_steal_fd(&fd);
	return 0;
}

static int ensure_oci_layout(struct lade_store *s, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf cur = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *rerr = NULL;

	/* Unreadable or too large counts as "different": rewriting it is the repair. */
	if (lade_store_read_file(s, "oci-layout", 4096, &cur, &rerr) == 0 &&
	    cur.len == strlen(OCI_LAYOUT_CONTENT) &&
	    memcmp(cur.data, OCI_LAYOUT_CONTENT, cur.len) == 0)
		return 0;
	return lade_store_write_file(s, "oci-layout", OCI_LAYOUT_CONTENT,
	                             strlen(OCI_LAYOUT_CONTENT), err);
}

/* Which temp files may be deleted: only names lade itself gives its temps (TMP_PREFIX and
 * TMP_RANDOM hex digits, or the 6 characters of mkostemp that earlier index.json writes used),
 * only regular files, and only while we hold the layout lock. Under the lock no other lade
 * writes into this layout, so such a file is the temp of a lade killed before its rename; a
 * file named otherwise (".tmp-x", or the ".tmp-XXXXXX" blob temps of lade before 0.x) may be
 * someone else's and is left alone: lade cannot prove it made it. */
static bool stale_temp_name(const char *name)
{
	size_t n = strlen(TMP_PREFIX);
	if (strncmp(name, TMP_PREFIX, n) != 0)
		return false;
	size_t len = strlen(name + n);
	if (len != TMP_RANDOM && len != 6)
		return false;
	for (const char *p = name + n; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

static int remove_stale_temps(int dfd, const char *shown, struct lade_error **err)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lade_error_set(err, e, "cannot open directory %s", shown);
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (!stale_temp_name(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			rc = lade_error_set(err, errno, "cannot remove stale temporary file %s/%s",
			                    shown, de->d_name);
			break;
		}
	}
	closedir(d);
	return rc;
}

int lade_store_open(const char *dir, int lock_timeout_s, struct lade_store **out,
                    struct lade_error **err)
{
	_cleanup_(lade_store_freep) struct lade_store *s = xzalloc(sizeof(*s));
	s->dir_fd = s->blob_fd = s->lock_fd = -1;
	s->dir = xstrdup(dir);
	s->blob_dir = lade_path_join(dir, "blobs/sha256");

	if (lade_mkdir_p(dir, err) < 0)
		return lade_error_prefix(err, "cannot create output layout %s", dir);
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0)
		return lade_error_set(err, errno, "cannot open output layout %s", dir);
	if (take_lock(s, lock_timeout_s, err) < 0)
		return -1;
	_cleanup_fd_ int blobs_fd = -1;
	if (open_subdir(s->dir_fd, dir, "blobs", &blobs_fd, err) < 0 ||
	    open_subdir(blobs_fd, dir, "blobs/sha256", &s->blob_fd, err) < 0)
		return -1;
	if (ensure_oci_layout(s, err) < 0)
		return lade_error_prefix(err, "output layout %s", dir);
	if (remove_stale_temps(s->blob_fd, s->blob_dir, err) < 0 ||
	    remove_stale_temps(s->dir_fd, s->dir, err) < 0)
		return lade_error_prefix(err, "output layout %s", dir);
	*out = steal_pointer(&s);
	return 0;
}

int lade_store_read_file(struct lade_store *s, const char *name, size_t max, struct lade_buf *out,
                         struct lade_error **err)
{
	_cleanup_fd_ int fd = -1;
	if (open_regular(s, s->dir_fd, name, O_RDONLY, &fd, err) < 0)
		return -1;
	char tmp[65536];
	for (;;) {
		ssize_t n = lade_read_retry(fd, tmp, sizeof(tmp));
		if (n < 0)
			return lade_error_set(err, errno, "cannot read %s/%s", s->dir, name);
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > max)
			return lade_error_set(err, 0, "%s/%s is larger than %zu bytes", s->dir,
			                      name, max);
		lade_buf_add(out, tmp, (size_t)n);
	}
}

int lade_store_write_file(struct lade_store *s, const char *name, const void *data, size_t len,
                          struct lade_error **err)
{
	char tmp[TMP_NAME_SIZE];
	_cleanup_fd_ int fd = create_temp(s->dir_fd, tmp);
	if (fd < 0)
		return lade_error_set(err, errno, "cannot create a temporary file in %s", s->dir);
	if (lade_write_all(fd, data, len) < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0 ||
	    renameat(s->dir_fd, tmp, s->dir_fd, name) < 0) {
		int e = errno;
		unlinkat(s->dir_fd, tmp, 0);
		return lade_error_set(err, e, "cannot write %s/%s", s->dir, name);
	}
	if (fsync(s->dir_fd) < 0 && errno != EINVAL)
		return lade_error_set(err, errno, "cannot sync directory %s", s->dir);
	return 0;
}

char *lade_store_default_dir(struct lade_error **err)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	if (xdg && xdg[0] == '/')
		return lade_path_join(xdg, "lade");
	const char *home = getenv("HOME");
	if (home && home[0] == '/')
		return lade_path_join(home, ".cache/lade");
	lade_error_set(err, 0,
	               "no content store directory: XDG_CACHE_HOME and HOME are unset or relative "
	               "(give a directory, or disable the cache)");
	return NULL;
}

void lade_store_free(struct lade_store *s)
{
	if (s == NULL)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	if (s->blob_fd >= 0)
		close(s->blob_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->dir);
	free(s->blob_dir);
	free(s);
}

void lade_store_freep(struct lade_store **s)
{
	lade_store_free(*s);
	*s = NULL;
}

const char *lade_store_dir(const struct lade_store *s)
{
	return s->dir;
}

char *lade_store_blob_path(const struct lade_store *s, const char *digest)
{
	if (lade_digest_valid(digest))
		return lade_path_join(s->blob_dir, lade_digest_hex(digest));
	/* Never let a malformed digest ("sha256:../../x") name a path outside the store. */
	_cleanup_free_ char *safe = xstrdup(digest);
	for (char *p = safe; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')))
			*p = '_';
	return lade_path_join(s->blob_dir, safe);
}

bool lade_store_has(const struct lade_store *s, const char *digest)
{
	if (!lade_digest_valid(digest))
		return false;
	/* a symlink in blobs/sha256 is not a blob: writing the blob replaces it */
	struct stat st;
	return fstatat(s->blob_fd, lade_digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

static bool blob_name(const char *name)
{
	if (strlen(name) != LADE_DIGEST_HEX_LEN)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int lade_store_each_blob(struct lade_store *s,
                         int (*fn)(void *ctx, const char *digest, uint64_t size,
                                   struct lade_error **err),
                         void *ctx, struct lade_error **err)
{
	int fd = openat(s->blob_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lade_error_set(err, e, "cannot open directory %s", s->blob_dir);
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		if (!blob_name(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		char digest[LADE_DIGEST_STRLEN];
		snprintf(digest, sizeof(digest), "sha256:%s", de->d_name);
		rc = fn(ctx, digest, (uint64_t)st.st_size, err);
	}
	closedir(d);
	return rc;
}

int lade_store_remove_blob(struct lade_store *s, const char *digest, struct lade_error **err)
{
	if (!lade_digest_valid(digest))
		return lade_error_set(err, 0, "invalid digest '%s'", digest);
	if (unlinkat(s->blob_fd, lade_digest_hex(digest), 0) < 0 && errno != ENOENT)
		return lade_error_set(err, errno, "cannot remove %s/%s", s->blob_dir,
		                      lade_digest_hex(digest));
	return 0;
}

int lade_store_sync(struct lade_store *s, struct lade_error **err)
{
	if (fsync(s->blob_fd) < 0 && errno != EINVAL)
		return lade_error_set(err, errno, "cannot sync directory %s", s->blob_dir);
	return 0;
}

/* ---- blob writer ---------------------------------------------------------------------- */

static void writer_fail(struct lade_blob_writer *w)
{
	w->failed = true;
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->tmp_name[0]) {
		unlinkat(w->store->blob_fd, w->tmp_name, 0);
		w->tmp_name[0] = '\0';
	}
}

static int writer_flush(struct lade_blob_writer *w, struct lade_error **err)
{
	if (w->len == 0)
		return 0;
	if (lade_write_all(w->fd, w->buf, w->len) < 0) {
		int e = errno;
		writer_fail(w);
		return lade_error_set(err, e, "cannot write blob to %s", w->store->dir);
	}
	w->len = 0;
	return 0;
}

static int sink_write(struct lade_stream *stream, const void *data, size_t len,
                      struct lade_error **err)
{
	struct lade_blob_writer *w =
	        (struct lade_blob_writer *)((char *)stream -
	                                    offsetof(struct lade_blob_writer, sink));
	if (w->failed)
		return lade_error_set(err, 0, "cannot write blob to %s: an earlier write failed",
		                      w->store->dir);
	if (w->len + len > WRITE_BUF_SIZE && writer_flush(w, err) < 0)
		return -1;
	if (len >= WRITE_BUF_SIZE) {
		if (lade_write_all(w->fd, data, len) < 0) {
			int e = errno;
			writer_fail(w);
			return lade_error_set(err, e, "cannot write blob to %s", w->store->dir);
		}
		return 0;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

static struct lade_blob_writer *writer_alloc(struct lade_store *s)
{
	struct lade_blob_writer *w = xzalloc(sizeof(*w));
	w->store = s;
	w->fd = -1;
	w->sink.write = sink_write;
	lade_hash_stream_init(&w->hs, &w->sink);
	return w;
}

int lade_store_blob_begin(struct lade_store *s, struct lade_blob_writer **out,
                          struct lade_error **err)
{
	_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *w = writer_alloc(s);
	w->fd = create_temp(s->blob_fd, w->tmp_name);
	if (w->fd < 0) {
		w->tmp_name[0] = '\0';
		return lade_error_set(err, errno, "cannot create a blob in %s", s->blob_dir);
	}
	/* created 0644 but under the umask: blobs are world-readable whatever it says */
	if (fchmod(w->fd, 0644) < 0)
		return lade_error_set(err, errno, "cannot set the mode of %s/%s", s->blob_dir,
		                      w->tmp_name);
	w->buf = xmalloc(WRITE_BUF_SIZE);
	*out = steal_pointer(&w);
	return 0;
}

struct lade_stream *lade_blob_writer_stream(struct lade_blob_writer *w)
{
	return &w->hs.stream;
}

/* Move the finished temp file `tmp` of blob_fd to its digest name (or drop it when that blob
 * exists); tmp becomes "" once it is gone or renamed. */
static int install_temp(struct lade_store *s, char tmp[TMP_NAME_SIZE], int fd, const char *digest,
                        struct lade_error **err)
{
	if (lade_store_has(s, digest)) {
		unlinkat(s->blob_fd, tmp, 0);
		tmp[0] = '\0';
		return 0;
	}
	if (fd >= 0 && fsync(fd) < 0)
		return lade_error_set(err, errno, "cannot write blob to %s", s->dir);
	if (renameat(s->blob_fd, tmp, s->blob_fd, lade_digest_hex(digest)) < 0)
		return lade_error_set(err, errno, "cannot rename %s/%s to %s", s->blob_dir, tmp,
		                      lade_digest_hex(digest));
	tmp[0] = '\0';
	if (fsync(s->blob_fd) < 0 && errno != EINVAL)
		return lade_error_set(err, errno, "cannot sync directory %s", s->blob_dir);
	return 0;
}

/* Finish a writer: flush, hash, compare with the expectation (when given), install. */
static int writer_finish(struct lade_blob_writer *w, const char *src, const char *want_digest,
                         uint64_t want_size, char digest[LADE_DIGEST_STRLEN], uint64_t *size,
                         struct lade_error **err)
{
	char got[LADE_DIGEST_STRLEN];
	if (w->failed)
		return lade_error_set(err, 0, "cannot write blob to %s: an earlier write failed",
		                      w->store->dir);
	if (writer_flush(w, err) < 0)
		return -1;
	uint64_t bytes = w->hs.bytes;
	lade_hash_stream_final(&w->hs, got);
	if (want_size != UINT64_MAX && bytes != want_size)
		return lade_error_set(err, 0,
		                      "blob %s: size mismatch: expected %" PRIu64 ", got %" PRIu64,
		                      src, want_size, bytes);
	if (want_digest && strcmp(got, want_digest) != 0)
		return lade_error_set(err, 0, "blob %s: digest mismatch: expected %s, got %s", src,
		                      want_digest, got);
	if (install_temp(w->store, w->tmp_name, w->fd, got, err) < 0) {
		writer_fail(w);
		return -1;
	}
	if (close(w->fd) < 0) {
		w->fd = -1;
		return lade_error_set(err, errno, "cannot write blob to %s", w->store->dir);
	}
	w->fd = -1;
	if (digest)
		memcpy(digest, got, LADE_DIGEST_STRLEN);
	if (size)
		*size = bytes;
	return 0;
}

int lade_blob_writer_commit(struct lade_blob_writer *w, char digest[LADE_DIGEST_STRLEN],
                            uint64_t *size, struct lade_error **err)
{
	_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *owned = w;
	return writer_finish(w, NULL, NULL, UINT64_MAX, digest, size, err);
}

void lade_blob_writer_free(struct lade_blob_writer *w)
{
	if (w == NULL)
		return;
	writer_fail(w);
	lade_hash_stream_release(&w->hs);
	free(w->buf);
	free(w);
}

void lade_blob_writer_freep(struct lade_blob_writer **w)
{
	lade_blob_writer_free(*w);
	*w = NULL;
}

int lade_store_put(struct lade_store *s, const void *data, size_t len,
                   char digest[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *w = NULL;
	if (lade_store_blob_begin(s, &w, err) < 0)
		return -1;
	if (lade_stream_write(lade_blob_writer_stream(w), data, len, err) < 0)
		return -1;
	return lade_blob_writer_commit(steal_pointer(&w), digest, NULL, err);
}

/* ---- import --------------------------------------------------------------------------- */

static int hash_fd(int fd, const char *src, char out[LADE_DIGEST_STRLEN], uint64_t *size,
                   struct lade_stream *copy_to, struct lade_error **err)
{
	_cleanup_(lade_sha256_freep) struct lade_sha256 *h = lade_sha256_new();
	_cleanup_free_ unsigned char *buf = xmalloc(WRITE_BUF_SIZE);
	uint64_t total = 0;
	for (;;) {
		ssize_t n = lade_read_retry(fd, buf, WRITE_BUF_SIZE);
		if (n < 0)
			return lade_error_set(err, errno, "cannot read blob %s", src);
		if (n == 0)
			break;
		if (copy_to && lade_stream_write(copy_to, buf, (size_t)n, err) < 0)
			return -1;
		if (out)
			lade_sha256_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (out)
		lade_sha256_final(h, NULL, out);
	*size = total;
	return 0;
}

static int check_hash(const char *src, const char *want_digest, uint64_t want_size, const char *got,
                      uint64_t got_size, struct lade_error **err)
{
	if (want_size != UINT64_MAX && got_size != want_size)
		return lade_error_set(err, 0,
		                      "blob %s: size mismatch: expected %" PRIu64 ", got %" PRIu64,
		                      src, want_size, got_size);
	if (strcmp(got, want_digest) != 0)
		return lade_error_set(err, 0, "blob %s: digest mismatch: expected %s, got %s", src,
		                      want_digest, got);
	return 0;
}

/* Hard-link the opened file under a fresh temp name of blob_fd (filled into tmp). Linking
 * through /proc/self/fd links exactly the inode we opened (a plain link() of a symlink would
 * link the symlink). Returns false when linking is not possible (other file system, no
 * /proc, ...). */
static bool link_temp(struct lade_store *s, int fd, char tmp[TMP_NAME_SIZE])
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int attempt = 0; attempt < 16; attempt++) {
		if (temp_name(tmp) < 0)
			break;
		if (linkat(AT_FDCWD, proc, s->blob_fd, tmp, AT_SYMLINK_FOLLOW) == 0)
			return true;
		if (errno != EEXIST)
			break;
	}
	tmp[0] = '\0';
	return false;
}

/* Copy all of src into the empty dst without reading it into user space: copy_file_range
 * (which shares extents itself on btrfs and XFS with reflink=1, and copies in the kernel
 * elsewhere). Returns false, with dst still empty, when the kernel cannot (EXDEV before 5.3,
 * EINVAL/ENOSYS/EPERM under some file systems and sandboxes): the caller copies by hand. */
static bool kernel_copy(int src, int dst, uint64_t size)
{
	uint64_t done = 0;
	while (done < size) {
		loff_t in = (loff_t)done, out = (loff_t)done;
		ssize_t n = copy_file_range(src, &in, dst, &out, size - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)!ftruncate(dst, 0);
			return false;
		}
		done += (uint64_t)n;
	}
	return true;
}

/* A private copy of the opened file under a fresh temp name of blob_fd: a reflink (FICLONE,
 * new inode sharing extents copy-on-write) where the file system can, else a kernel copy.
 * Returns the temp's fd (tmp filled) with the whole content in it, or -1 with tmp "" when
 * neither works and the caller must copy through user space. */
static int clone_temp(struct lade_store *s, int fd, uint64_t size, char tmp[TMP_NAME_SIZE])
{
	_cleanup_fd_ int out = create_temp(s->blob_fd, tmp);
	if (out < 0) {
		tmp[0] = '\0';
		return -1;
	}
	if (fchmod(out, 0644) == 0 && (ioctl(out, FICLONE, fd) == 0 || kernel_copy(fd, out, size)))
		return lade_steal_fd(&out);
	unlinkat(s->blob_fd, tmp, 0);
	tmp[0] = '\0';
	return -1;
}

void lade_store_set_link_blobs(struct lade_store *s, bool link)
{
	s->link_blobs = link;
}

/* Hash the temp file tmp through fd (the temp itself or its inode), check it against the
 * expectation and install it; on failure the temp is gone. */
static int install_checked(struct lade_store *s, int fd, char tmp[TMP_NAME_SIZE], const char *src,
                           const char *digest, uint64_t size, struct lade_error **err)
{
	char got[LADE_DIGEST_STRLEN];
	uint64_t got_size = 0;
	if (lseek(fd, 0, SEEK_SET) < 0 || hash_fd(fd, src, got, &got_size, NULL, err) < 0 ||
	    check_hash(src, digest, size, got, got_size, err) < 0 ||
	    install_temp(s, tmp, fd, digest, err) < 0) {
		int e = errno;
		if (tmp[0])
			unlinkat(s->blob_fd, tmp, 0);
		return lade_error_set(err, e, "cannot import blob %s", src);
	}
	return 0;
}

int lade_store_import_file(struct lade_store *s, const char *src_path, const char *digest,
                           uint64_t size, struct lade_error **err)
{
	if (!lade_digest_valid(digest))
		return lade_error_set(err, 0, "blob %s: invalid digest '%s'", src_path, digest);

	_cleanup_fd_ int fd = -1;
	if (lade_open_regular(src_path, 0, &fd, err) < 0)
		return lade_error_prefix(err, "blob");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lade_error_set(err, errno, "cannot stat blob %s", src_path);
	if (size != UINT64_MAX && (uint64_t)st.st_size != size)
		return lade_error_set(err, 0,
		                      "blob %s: size mismatch: expected %" PRIu64 ", got %" PRIu64,
		                      src_path, size, (uint64_t)st.st_size);

	char got[LADE_DIGEST_STRLEN];
	uint64_t got_size = 0;

	/* A hostile base must not pass because the store already had that name. */
	if (lade_store_has(s, digest)) {
		if (hash_fd(fd, src_path, got, &got_size, NULL, err) < 0)
			return -1;
		return check_hash(src_path, digest, size, got, got_size, err);
	}

	char tmp[TMP_NAME_SIZE];
	/* The link shares the inode with fd: hashing fd verifies what will be installed. */
	if (s->link_blobs && link_temp(s, fd, tmp))
		return install_checked(s, fd, tmp, src_path, digest, size, err);
	/* Our own inode, so that nobody editing the output edits the source (a base is usually
	 * someone else's file). What is installed is hashed, not the source: a source changed
	 * while it is copied cannot slip a wrong blob in. */
	_cleanup_fd_ int copy = clone_temp(s, fd, (uint64_t)st.st_size, tmp);
	if (copy >= 0)
		return install_checked(s, copy, tmp, src_path, digest, size, err);

	_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *w = NULL;
	if (lade_store_blob_begin(s, &w, err) < 0)
		return lade_error_prefix(err, "cannot import blob %s", src_path);
	if (hash_fd(fd, src_path, NULL, &got_size, lade_blob_writer_stream(w), err) < 0)
		return -1;
	return writer_finish(w, src_path, digest, size, NULL, NULL, err);
}
