/* lade — the fixtures unit tests share, linked into every unit test binary (tests/meson.build):
 * a private temp dir, files in it, blobs of an OCI layout, tar layers. A fixture that cannot be
 * made is a broken test, not a failed check: these print TAP "Bail out!" and exit 1. */
#ifndef LADE_TEST_FIXTURE_H
#define LADE_TEST_FIXTURE_H

#include <archive.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>

#include "lade/digest.h"
#include "lade/stream.h"
#include "lade/util.h"

noreturn void bail_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A new empty directory $TMPDIR/lade-NAME.XXXXXX (mode 0700); the caller frees the path and
 * removes the tree with rm_rf. */
char *make_tmpdir(const char *name);

/* Remove path and everything below it, never following symlinks; a missing path is fine. */
void rm_rf(const char *path);

/* Write len bytes to path (mode 0644 whatever the umask), making its parent directories. */
void write_file(const char *path, const void *data, size_t len);

/* Store data as a blob of the OCI layout dir (blobs/sha256/<hex>); its digest goes to digest. */
void put_blob(const char *dir, const void *data, size_t len, char digest[LADE_DIGEST_STRLEN]);

/* One tar entry. type: 'f' file (data, len bytes; len 0: strlen(data), data NULL: empty),
 * 'd' directory, 'l' symlink to data, 'h' hard link to data. Owner 1000:100, mtime 0, modes
 * 0644 / 0755 / 0777. */
struct tar_ent {
	const char *path;
	char type;
	const char *data;
	size_t len;
};

/* The archive_write_open() callback that appends to the struct lade_buf passed as its data. */
la_ssize_t archive_buf_write(struct archive *a, void *buf, const void *data, size_t len);

/* A pax tar of the first n ents, or of those before an entry whose path is NULL (a list may
 * end with {NULL} and pass SIZE_MAX), gzip-compressed when gzip, appended to out. */
void make_tar(const struct tar_ent *ents, size_t n, bool gzip, struct lade_buf *out);

/* A stream that appends everything written to buf (release it with lade_buf_release). */
struct buf_sink {
	struct lade_stream stream;
	struct lade_buf buf;
};
void buf_sink_init(struct buf_sink *m);

#endif
