/* lade — content-addressed blob store laid out as an OCI image layout:
 *   DIR/oci-layout, DIR/blobs/sha256/<hex>, DIR/index.json (written by manifest/layout.c).
 * Blobs are written to DIR/blobs/sha256/.tmp-lade-<random>, fsynced, then renamed to their
 * digest, so a blob name always means complete, verified content. Stale temp files of an
 * interrupted run (lade's own names only) are removed by lade_store_open(). Nothing inside DIR
 * is reached through a symlink: a symlinked blobs/, blobs/sha256/ or .lade.lock is refused. */
#ifndef LADE_STORE_H
#define LADE_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "lade/digest.h"
#include "lade/error.h"
#include "lade/stream.h"
#include "lade/util.h"

struct lade_store;       /* opaque */
struct lade_blob_writer; /* opaque */

/* Open (creating when needed) the layout directory `dir`: creates blobs/sha256 and writes the
 * oci-layout file, removes stale temp files, and takes an exclusive lock (flock on
 * DIR/.lade.lock) held until lade_store_free(); a second lade on the same layout waits at
 * most `lock_timeout_s` seconds then fails with a clear error (0: fail at once).
 * Errors name the directory (and the entry of it that is a symlink or of the wrong type). */
int lade_store_open(const char *dir, int lock_timeout_s, struct lade_store **out,
                    struct lade_error **err);
/* lade's own content store, shared by the layer cache and pulled images (one set of blobs, one
 * lock): $XDG_CACHE_HOME/lade, else ~/.cache/lade (only absolute values count). New string.
 * Errors when neither is usable. */
char *lade_store_default_dir(struct lade_error **err);
void lade_store_free(struct lade_store *s);
void lade_store_freep(struct lade_store **s);
const char *lade_store_dir(const struct lade_store *s);

/* A regular file NAME directly in the layout directory (index.json), read without following
 * a symlink and without blocking on a FIFO: at most max bytes appended to out. A missing file
 * fails with sys_errno ENOENT. */
int lade_store_read_file(struct lade_store *s, const char *name, size_t max, struct lade_buf *out,
                         struct lade_error **err);
/* Replace NAME in the layout directory atomically (temp, fsync, rename, fsync directory). */
int lade_store_write_file(struct lade_store *s, const char *name, const void *data, size_t len,
                          struct lade_error **err);

/* Path of a blob (may not exist). New string. */
char *lade_store_blob_path(const struct lade_store *s, const char *digest);
bool lade_store_has(const struct lade_store *s, const char *digest);

/* Call fn for each blob of the store: every regular file of blobs/sha256 named by 64 lowercase
 * hex digits (temp files and foreign names are not blobs), with its digest and size. Stops at
 * the first fn that returns -1. */
int lade_store_each_blob(struct lade_store *s,
                         int (*fn)(void *ctx, const char *digest, uint64_t size,
                                   struct lade_error **err),
                         void *ctx, struct lade_error **err);
/* Remove a blob (one unlink: atomic; already gone is fine). Only under the store's lock and
 * only for blobs nothing the layout names reaches. */
int lade_store_remove_blob(struct lade_store *s, const char *digest, struct lade_error **err);
/* fsync blobs/sha256, so that removals are durable. */
int lade_store_sync(struct lade_store *s, struct lade_error **err);

/* Start a new blob. Bytes go through lade_blob_writer_stream(); the digest and size are
 * computed on the way. */
int lade_store_blob_begin(struct lade_store *s, struct lade_blob_writer **out,
                          struct lade_error **err);
struct lade_stream *lade_blob_writer_stream(struct lade_blob_writer *w);
/* fsync + rename to blobs/sha256/<hex>; fills digest and size. If a blob with that digest is
 * already there the temp file is dropped. The writer is freed in all cases. */
int lade_blob_writer_commit(struct lade_blob_writer *w, char digest[LADE_DIGEST_STRLEN],
                            uint64_t *size, struct lade_error **err);
/* Abort (unlink the temp file) and free. NULL is fine. */
void lade_blob_writer_free(struct lade_blob_writer *w);
void lade_blob_writer_freep(struct lade_blob_writer **w);

/* Store a blob from memory (JSON documents). */
int lade_store_put(struct lade_store *s, const void *data, size_t len,
                   char digest[LADE_DIGEST_STRLEN], struct lade_error **err);

/* Import an existing file as a blob that must have `digest` and `size` (size UINT64_MAX: not
 * checked). The blob gets its own inode, so editing it in place never edits the source: a
 * reflink (FICLONE) where the file system can, else copy_file_range, else read/write. With
 * lade_store_set_link_blobs() it is hard-linked when possible instead (for stores known to be
 * immutable). The content is hashed either way and a mismatch is an error naming `src_path`,
 * leaving nothing in the store. */
/* Let lade_store_import_file() hard-link sources into this store (default: never). */
void lade_store_set_link_blobs(struct lade_store *s, bool link);
int lade_store_import_file(struct lade_store *s, const char *src_path, const char *digest,
                           uint64_t size, struct lade_error **err);

#endif
