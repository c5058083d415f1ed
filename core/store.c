/* lade — content-addressed blob store in an OCI image layout (see include/lade/store.h).
 *
 * Every blob is written to blobs/sha256/.tmp-<random>, hashed on the way, fsynced and only then
 * renamed to its digest, and the directory is fsynced: a name in blobs/sha256 always means
 * complete content with that digest, even after a crash. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lade/digest.h"
#include "lade/store.h"
#include "lade/util.h"

#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define TMP_PREFIX         ".tmp-"
/* Large enough that the tar/compress pipeline's small writes become few syscalls. */
#define WRITE_BUF_SIZE (1u << 20)
#define LOCK_POLL_NS   100000000L

struct lade_store {
	char *dir;
	char *blob_dir; /* DIR/blobs/sha256 */
	int lock_fd;
};

struct lade_blob_writer {
	struct lade_stream sink;    /* buffered file writer behind the hash stream */
	struct lade_hash_stream hs; /* what callers write into */
	struct lade_store *store;
	char *tmp_path;
	int fd;
	bool failed;
	unsigned char *buf;
	size_t len;
};

/* ---- store ---------------------------------------------------------------------------- */

static int take_lock(struct lade_store *s, int timeout_s, struct lade_error **err)
{
	_cleanup_free_ char *lock_path = lade_path_join(s->dir, ".lade.lock");
	_cleanup_fd_ int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return lade_error_set(err, errno, "cannot open lock file %s", lock_path);

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
	_cleanup_free_ char *path = lade_path_join(s->dir, "oci-layout");
	_cleanup_buf_ struct lade_buf cur = LADE_BUF_INIT;
	struct lade_error *rerr = NULL;

	/* Unreadable or too large counts as "different": rewriting it is the repair. */
	if (lade_read_file(path, 4096, &cur, &rerr) == 0 && cur.len == strlen(OCI_LAYOUT_CONTENT) &&
	    memcmp(cur.data, OCI_LAYOUT_CONTENT, cur.len) == 0)
		return 0;
	lade_error_free(rerr);
	return lade_write_file_atomic(path, OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT), err);
}

/* Temp files of an interrupted run: nobody else can be writing them since we hold the lock.
 * Blob temps live in blobs/sha256; index.json and oci-layout are written through
 * lade_write_file_atomic(), whose temps (".tmp-lade-*") live in the layout directory. */
static int remove_stale_temps(const char *dir, const char *prefix, struct lade_error **err)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return lade_error_set(err, errno, "cannot open directory %s", dir);
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			rc = lade_error_set(err, errno, "cannot remove stale temporary file %s/%s",
			                    dir, de->d_name);
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
	s->lock_fd = -1;
	s->dir = xstrdup(dir);
	s->blob_dir = lade_path_join(dir, "blobs/sha256");

	if (lade_mkdir_p(dir, err) < 0)
		return lade_error_prefix(err, "cannot create output layout %s", dir);
	if (take_lock(s, lock_timeout_s, err) < 0)
		return -1;
	if (lade_mkdir_p(s->blob_dir, err) < 0)
		return lade_error_prefix(err, "output layout %s", dir);
	if (ensure_oci_layout(s, err) < 0)
		return lade_error_prefix(err, "output layout %s", dir);
	if (remove_stale_temps(s->blob_dir, TMP_PREFIX, err) < 0 ||
	    remove_stale_temps(s->dir, TMP_PREFIX "lade-", err) < 0)
		return lade_error_prefix(err, "output layout %s", dir);
	*out = steal_pointer(&s);
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
	_cleanup_free_ char *path = lade_store_blob_path(s, digest);
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- blob writer ---------------------------------------------------------------------- */

static void writer_fail(struct lade_blob_writer *w)
{
	w->failed = true;
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->tmp_path) {
		unlink(w->tmp_path);
		free(w->tmp_path);
		w->tmp_path = NULL;
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
	w->tmp_path = lade_path_join(s->blob_dir, TMP_PREFIX "XXXXXX");
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		int e = errno;
		free(w->tmp_path);
		w->tmp_path = NULL;
		return lade_error_set(err, e, "cannot create a blob in %s", s->blob_dir);
	}
	/* mkostemp creates 0600; blobs are world-readable whatever the umask says. */
	if (fchmod(w->fd, 0644) < 0)
		return lade_error_set(err, errno, "cannot set the mode of %s", w->tmp_path);
	w->buf = xmalloc(WRITE_BUF_SIZE);
	*out = steal_pointer(&w);
	return 0;
}

struct lade_stream *lade_blob_writer_stream(struct lade_blob_writer *w)
{
	return &w->hs.stream;
}

/* Move the finished temp file to its digest name (or drop it when that blob exists). */
static int install_temp(struct lade_store *s, char **tmp_path, int fd, const char *digest,
                        struct lade_error **err)
{
	_cleanup_free_ char *final = lade_store_blob_path(s, digest);
	struct stat st;
	if (stat(final, &st) == 0 && S_ISREG(st.st_mode)) {
		unlink(*tmp_path);
		free(steal_pointer(tmp_path));
		return 0;
	}
	if (fd >= 0 && fsync(fd) < 0)
		return lade_error_set(err, errno, "cannot write blob to %s", s->dir);
	if (rename(*tmp_path, final) < 0)
		return lade_error_set(err, errno, "cannot rename %s to %s", *tmp_path, final);
	free(steal_pointer(tmp_path));
	return lade_fsync_dir(s->blob_dir, err);
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
	if (install_temp(w->store, &w->tmp_path, w->fd, got, err) < 0) {
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

/* Hard-link the opened file under a fresh temp name. Linking through /proc/self/fd links
 * exactly the inode we opened (a plain link() of a symlink would link the symlink). Returns
 * the temp path, or NULL when linking is not possible (other file system, no /proc, ...). */
static char *link_temp(struct lade_store *s, int fd)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned char rnd[8];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return NULL;
		char name[sizeof(TMP_PREFIX) + 2 * sizeof(rnd)];
		int o = snprintf(name, sizeof(name), TMP_PREFIX);
		for (size_t i = 0; i < sizeof(rnd); i++)
			o += snprintf(name + o, sizeof(name) - (size_t)o, "%02x", rnd[i]);
		char *tmp = lade_path_join(s->blob_dir, name);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)
			return tmp;
		int e = errno;
		free(tmp);
		if (e != EEXIST)
			return NULL;
	}
	return NULL;
}

int lade_store_import_file(struct lade_store *s, const char *src_path, const char *digest,
                           uint64_t size, struct lade_error **err)
{
	if (!lade_digest_valid(digest))
		return lade_error_set(err, 0, "blob %s: invalid digest '%s'", src_path, digest);

	_cleanup_fd_ int fd = open(src_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return lade_error_set(err, errno, "cannot open blob %s", src_path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lade_error_set(err, errno, "cannot stat blob %s", src_path);
	if (!S_ISREG(st.st_mode))
		return lade_error_set(err, 0, "blob %s: not a regular file", src_path);
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

	_cleanup_free_ char *tmp = link_temp(s, fd);
	if (tmp != NULL) {
		/* The link shares the inode with fd: hashing fd verifies what will be installed. */
		if (hash_fd(fd, src_path, got, &got_size, NULL, err) < 0 ||
		    check_hash(src_path, digest, size, got, got_size, err) < 0 ||
		    install_temp(s, &tmp, fd, digest, err) < 0) {
			if (tmp)
				unlink(tmp);
			return -1;
		}
		return 0;
	}

	_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *w = NULL;
	if (lade_store_blob_begin(s, &w, err) < 0)
		return lade_error_prefix(err, "cannot import blob %s", src_path);
	if (hash_fd(fd, src_path, NULL, &got_size, lade_blob_writer_stream(w), err) < 0)
		return -1;
	return writer_finish(w, src_path, digest, size, NULL, NULL, err);
}
