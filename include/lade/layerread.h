/* lade — the one layer reader: a layer blob read once, its bytes hashed (the blob digest),
 * pulled through core/compress.c's decompressor, the decompressed stream hashed (the diff_id),
 * counted against the decompression bomb guard, and walked as a tar by libarchive, each header
 * handed to a callback. Base images (base.c, libc.c), lade inspect and lade verify all read
 * layers through it, so they agree on what a layer is. */
#ifndef LADE_LAYERREAD_H
#define LADE_LAYERREAD_H

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stdint.h>

#include "lade/compress.h"
#include "lade/digest.h"
#include "lade/error.h"
#include "lade/tree.h"

/* The bomb guard: a layer that decompresses to more than 64 GiB, or above 100 MiB to more
 * than 1000 times its compressed size, is refused (gzip cannot exceed ~1032:1; zstd of zeros
 * can reach 10^5:1; real layers stay far below both). */
#define LADE_LAYER_MAX_BYTES (64ull << 30)
#define LADE_LAYER_RATIO_MIN (100ull << 20)
#define LADE_LAYER_RATIO_MAX 1000ull

/* One tar header. The callback may read the entry's data with archive_read_data(a, ...).
 * Returns 0 to go on, 1 to stop reading (the rest of the blob is then not read and nothing is
 * checked: stats->complete is false), -1 with *err to fail the walk (the stream is still read
 * to its end so that a digest or diff_id failure, which explains it, is reported first). */
typedef int (*lade_layer_entry_fn)(void *ctx, struct archive *a, struct archive_entry *e,
                                   struct lade_error **err);

struct lade_layer_read {
	const char *path;   /* the blob file */
	const char *name;   /* prefix of every error ("base X: layer sha256:…"), or NULL */
	const char *digest; /* the blob's digest: checked when the blob was read to its end;
	                       NULL: not checked (the caller compares stats->blob_digest) */
	uint64_t size;      /* the compressed size, for the ratio of the bomb guard */
	enum lade_compression compression; /* by media type; NONE: the blob is its own diff */
	unsigned decompress_flags;         /* LADE_DECOMPRESS_* (DETECT: sniff the bytes) */
	const char *diff_id;       /* checked against the stream's sha256 (the blob's for NONE);
	                              NULL: not checked */
	lade_layer_entry_fn entry; /* NULL: headers only counted */
	void *ctx;
};

struct lade_layer_stats {
	bool complete;                        /* the blob was read to its end */
	char blob_digest[LADE_DIGEST_STRLEN]; /* "" unless complete */
	uint64_t blob_size;                   /* bytes of the blob read */
	char diff_id[LADE_DIGEST_STRLEN];     /* "" unless the stream ended properly */
	uint64_t tar_size;                    /* decompressed bytes */
	uint64_t entries;                     /* tar headers walked */
	bool stream_failed;                   /* open, read, decompression or bomb failure */
};

/* Read one layer. 0, or -1 with *err: the first failure in the order that explains the
 * others — the blob's digest ("<name>: digest mismatch (expected D, got G)"), opening,
 * reading or decompressing it and the bomb guard ("<name>: more than 64 GiB uncompressed:
 * refused as a decompression bomb"), the diff_id ("<name>: diff_id mismatch (expected D, got
 * G)"), then the tar itself ("<name>: broken tar: <libarchive's text>") or the callback's
 * error. stats may be NULL. */
int lade_layer_read(const struct lade_layer_read *r, struct lade_layer_stats *stats,
                    struct lade_error **err);

/* Is a tar entry (or archive member) name absolute, or has it a ".." component? Such names
 * are refused by every reader of images. */
bool lade_tar_name_unsafe(const char *name);
/* The tree type of a tar header and, in *link, the name it links to: a hard link's target as
 * written, a symlink's target ("" when it has none), NULL for every other type. */
enum lade_entry_type lade_tar_entry_type(struct archive_entry *e, const char **link);

#endif
