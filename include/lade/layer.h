/* lade — layers: a set of entries from any source (directory walk, zip members, generated
 * bytes) written as one deterministic tar stream, compressed and digested in the same pass
 * into the blob store.
 *
 * Determinism rules live here and only here: entries sorted bytewise by path with parents
 * before children (a parent "a" sorts before "a/b" because the sort compares path components),
 * implicit parent directories added (metadata from the base tree when the base has that
 * directory, else 0755 0:0), mtime = the build epoch, no atime/ctime, empty uname/gname,
 * numeric uid/gid as given, permission bits as given (sources normalise them), pax
 * (restricted) headers only where ustar cannot hold a value. */
#ifndef LADE_LAYER_H
#define LADE_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include "lade/compress.h"
#include "lade/digest.h"
#include "lade/error.h"
#include "lade/lazy.h"
#include "lade/stream.h"
#include "lade/store.h"
#include "lade/tree.h"
#include "lade/util.h"

/* Bumped whenever the bytes lade writes for the same inputs and options change (tar
 * framing, ordering, implicit parents, compression, what a wheel installs as): part of every
 * layer cache key. 3: gzip layers are members (wheel members' deflate data spliced, the rest
 * zlib) and console scripts use pip's current template. 4: members with at least 1 KiB of
 * deflate data are spliced (4 KiB in 3). */
#define LADE_LAYER_FORMAT_VERSION 4

struct lade_entry;

/* Limits every entry meets (checked by lade_layer_add for all sources): whole path and link
 * target length, and one component's length. Paths and targets must also be valid UTF-8
 * without control characters, and a relative symlink must not climb above the image root. */
#define LADE_MAX_PATH 4095
#define LADE_MAX_NAME 255

/* A source of file content that is not a host file or memory: a zip member, for example.
 * emit() must write exactly e->size bytes to `out` (fewer or more is an error the layer writer
 * reports). It is called once per entry, in layer order. */
struct lade_source_ops {
	int (*emit)(void *ctx, const struct lade_entry *e, struct lade_stream *out,
	            struct lade_error **err);
	/* Optional, both or neither: content that is one deflate stream already (a deflated zip
	 * member), which a gzip layer splices in unchanged (lade_compressor_splice_begin).
	 * deflated() says whether e's content is such a stream, with its size and the CRC-32
	 * of the content; emit_spliced() is emit() that also writes exactly that deflate stream
	 * to `raw`. */
	bool (*deflated)(void *ctx, const struct lade_entry *e, uint32_t *crc, uint64_t *raw_size);
	int (*emit_spliced)(void *ctx, const struct lade_entry *e, struct lade_stream *out,
	                    struct lade_stream *raw, struct lade_error **err);
};

struct lade_entry {
	char *path; /* owned; normalised relative path, e.g. "opt/venv/bin/python" */
	enum lade_entry_type type;
	uint32_t mode; /* permission bits (07777) */
	uint32_t uid, gid;
	uint64_t size; /* LADE_ENTRY_FILE: content size */
	char *link;    /* owned; SYMLINK: target as stored; HARDLINK: normalised target path */
	/* Content of a FILE, exactly one of: */
	char *src_path;       /* owned: a host file, read at write time */
	struct lade_buf data; /* bytes in memory (used when src_path and ops are NULL) */
	const struct lade_source_ops *ops; /* pushed by a source */
	void *ops_ctx;                     /* not owned */
	uint64_t ops_index;                /* for the source's own use (e.g. zip member index) */
	/* Known sha256 of the content (e.g. from a wheel's RECORD): lets two sources that install
	 * the same path with identical bytes collapse into one entry without reading either. */
	bool has_sha256;
	unsigned char sha256[32];
	char *origin; /* owned; for messages: "wheel numpy-1.26.whl member numpy/__init__.py" */
};

/* A zeroed entry with data initialised; path, origin copied. Aborts on allocation failure. */
struct lade_entry *lade_entry_new(const char *path, enum lade_entry_type type, const char *origin);
void lade_entry_free(struct lade_entry *e);
void lade_entry_freep(struct lade_entry **e);

struct lade_layer; /* opaque */

/* comment: what the layer holds, for the image history ("app files /app", "wheel numpy 1.26"). */
struct lade_layer *lade_layer_new(const char *comment);
void lade_layer_free(struct lade_layer *l);
void lade_layer_freep(struct lade_layer **l);
const char *lade_layer_comment(const struct lade_layer *l);
size_t lade_layer_count(const struct lade_layer *l);

/* Add an entry; the layer takes ownership of e in every case (freed on error).
 * Same path added twice: two directories keep the first unless their metadata differ (error);
 * two files with known, equal sha256, size and mode collapse into the first; anything else is
 * an error naming both origins ("... conflicts with ..."). The entry's path must already be
 * normalised and non-empty. */
int lade_layer_add(struct lade_layer *l, struct lade_entry *e, struct lade_error **err);
/* Find an added entry by path (NULL if none). */
const struct lade_entry *lade_layer_lookup(const struct lade_layer *l, const char *path);

struct lade_layer_options {
	enum lade_compression compression;
	int level;                    /* -1: default */
	int jobs;                     /* compression threads, >= 1 */
	int64_t mtime;                /* build epoch */
	const struct lade_tree *base; /* may be NULL: metadata for implicit parents */
	/* What made generated content, e.g. the bytecode compiler's version: read by the layer
	 * cache's key only (the bytes themselves are keyed anyway). NULL: nothing. */
	const char *key_extra;
	/* LADE_LAZY_ESTARGZ (gzip only): the layer in the eStargz format (lade/lazy.h): the
	 * entries matching a `prefetch` glob (NULL-terminated; NULL: none), their parent
	 * directories and hard link targets first, then the landmark, then the rest, each part in
	 * canonical order; every regular file's content starts a gzip member; the TOC and the
	 * footer last. */
	enum lade_lazy lazy;
	char *const *prefetch;
};

struct lade_layer_result {
	char digest[LADE_DIGEST_STRLEN];  /* of the compressed blob */
	char diff_id[LADE_DIGEST_STRLEN]; /* of the uncompressed tar */
	uint64_t size;                    /* compressed blob bytes */
	uint64_t tar_size;                /* uncompressed tar bytes */
	uint64_t content_size;            /* sum of regular file sizes */
	size_t entries;                   /* tar entries written, implicit parents included */
	const char *media_type;           /* static string */
	/* lazy layers only (else "" and 0) */
	char toc_digest[LADE_DIGEST_STRLEN]; /* sha256 of the TOC JSON (zstd:chunked: of the
	                                      * compressed TOC, the manifest-checksum) */
	char toc_position[96];   /* zstd:chunked: the manifest-position annotation; else "" */
	uint64_t prefetch_bytes; /* blob bytes before the landmark's member (0: none) */
};

/* Write the layer: sort, add implicit parents, frame as tar (libarchive), compress, digest tar
 * and blob in one pass, commit the blob to the store. Errors name the entry (origin) whose
 * content failed. The layer's entries can be written again (the function does not consume). */
int lade_layer_write(struct lade_layer *l, const struct lade_layer_options *opts,
                     struct lade_store *store, struct lade_layer_result *res,
                     struct lade_error **err);

/* Write only the uncompressed tar stream to `out` (used by tests and by the cache). */
int lade_layer_write_tar(struct lade_layer *l, const struct lade_layer_options *opts,
                         struct lade_stream *out, struct lade_error **err);

/* Call fn for every entry the tar stream of l would hold, in that order: the layer's entries
 * and the implicit parent directories, with the metadata lade_layer_write gives them (from
 * opts->base when it has that directory). Used by the layer cache to key a layer without
 * writing it. Stops at the first fn failure (its error is passed up); errors of an invalid
 * layer are those of lade_layer_write, unprefixed. */
int lade_layer_walk(struct lade_layer *l, const struct lade_layer_options *opts,
                    int (*fn)(void *ctx, const struct lade_entry *e, struct lade_error **err),
                    void *ctx, struct lade_error **err);

/* Split a layer too big for one blob: move the entries of l, in canonical order, into
 * consecutive new layers whose regular file contents sum to at most max_bytes each (a single
 * file larger than max_bytes starts a part of its own). A hard link goes into the part of its
 * target. A directory the layer holds explicitly is copied into every later part that has
 * something below it, so its mode and owner are not reset by that part's implicit parents.
 * Comments are "<comment> (part i/n)" (the comment unchanged when n is 1). The result only
 * depends on the entries, never on the order they were added in.
 * On success l is left empty and *parts (n_parts layers, at least one) belongs to the caller
 * (lade_layer_parts_free); on error l is unchanged. Errors: max_bytes 0, a hard link whose
 * target is not a file of the layer (both named). */
int lade_layer_split(struct lade_layer *l, uint64_t max_bytes, struct lade_layer ***parts,
                     size_t *n_parts, struct lade_error **err);
void lade_layer_parts_free(struct lade_layer **parts, size_t n_parts);

#endif
