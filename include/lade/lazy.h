/* lade — lazy-pull layer formats. eStargz (containerd's stargz-snapshotter, docs/estargz.md of
 * that project): a gzip layer that is still an ordinary tar+gzip blob for every reader, where
 * each regular file's content starts a gzip member of its own (large contents in chunks), so
 * that a snapshotter can fetch and inflate one file by HTTP range requests. The last tar entry,
 * stargz.index.json, is the table of contents (TOC) giving each file's and chunk's offset in
 * the blob and sha256; a 51-byte gzip member after it (empty, its FEXTRA field carrying the TOC
 * offset) ends the blob. A landmark entry splits what a runtime should prefetch at start-up
 * (the entries before it) from the rest.
 *
 * This module holds the format's constants, the TOC builder the layer writer uses
 * (manifest/layer.c) and the TOC and footer readers `lade verify` uses. */
#ifndef LADE_LAZY_H
#define LADE_LAZY_H

#include <stdbool.h>
#include <stdint.h>

#include "lade/digest.h"
#include "lade/error.h"
#include "lade/util.h"

struct lade_entry;

enum lade_lazy {
	LADE_LAZY_NONE = 0,
	LADE_LAZY_ESTARGZ,
	/* containers/storage's zstd:chunked as Debian 12's containers/storage 1.43 and podman
	 * 4.3.1 read it: a zstd layer whose every regular file's content is a frame of its own,
	 * the TOC ("manifest", zstd-compressed) and a 40-byte footer in skippable frames after the
	 * tar's frames, the annotations io.containers.zstd-chunked.manifest-{checksum,position}.
	 * (No tar-split: newer containers/storage versions want one and name the annotations
	 * io.github.containers.zstd-chunked.*; they pull such a layer in full.) */
	LADE_LAZY_ZSTD_CHUNKED,
};

/* "none"/"estargz"/"zstd-chunked" -> enum; -1 for anything else (no error text: the caller names
 * the input). */
int lade_lazy_parse(const char *name, enum lade_lazy *out);
const char *lade_lazy_name(enum lade_lazy l);

#define LADE_ESTARGZ_TOC_NAME             "stargz.index.json"
#define LADE_ESTARGZ_PREFETCH_LANDMARK    ".prefetch.landmark"
#define LADE_ESTARGZ_NO_PREFETCH_LANDMARK ".no.prefetch.landmark"
#define LADE_ESTARGZ_LANDMARK_BYTE        0x0f
#define LADE_ESTARGZ_FOOTER_SIZE          51
/* Content that lade compresses itself is cut into chunks of this size (the reference writer's
 * default); a wheel member whose deflate data is spliced stays one chunk whatever its size
 * (see docs/architecture.md, "Lazy pulling"). */
#define LADE_ESTARGZ_CHUNK_SIZE ((uint64_t)4 << 20)
/* Layer descriptor annotations. */
#define LADE_ESTARGZ_ANNOTATION_TOC_DIGEST        "containerd.io/snapshot/stargz/toc.digest"
#define LADE_ESTARGZ_ANNOTATION_UNCOMPRESSED_SIZE "io.containers.estargz.uncompressed-size"

/* The footer for a TOC member starting at toc_offset: exactly the bytes the reference writes
 * (a gzip member with FEXTRA subfield "SG" = "%016xSTARGZ", a final empty stored block). */
void lade_estargz_footer(uint64_t toc_offset, unsigned char out[LADE_ESTARGZ_FOOTER_SIZE]);
/* The reverse: 0 with *toc_offset, or -1 ("not an eStargz footer: …"). */
int lade_estargz_parse_footer(const unsigned char in[LADE_ESTARGZ_FOOTER_SIZE],
                              uint64_t *toc_offset, struct lade_error **err);

/* Check an eStargz blob (the file at path) as a lazy reader would use it: the footer, the TOC
 * member at its offset (a tar entry stargz.index.json) and the TOC's sha256 against
 * toc_digest (the layer's annotation), then every chunk of every regular file — offsets
 * increasing and before the TOC, chunks covering the file — inflated from its own offset and
 * checked against its chunkDigest, and each file against its digest. 0 with *n_chunks, or -1
 * with "eStargz: …" naming what is wrong (the file, the chunk and its offsets). */
int lade_estargz_check(const char *path, const char *toc_digest, size_t *n_chunks,
                       struct lade_error **err);

#define LADE_ZSTD_CHUNKED_ANNOTATION_CHECKSUM "io.containers.zstd-chunked.manifest-checksum"
#define LADE_ZSTD_CHUNKED_ANNOTATION_POSITION "io.containers.zstd-chunked.manifest-position"
#define LADE_ZSTD_CHUNKED_FOOTER_SIZE         40

/* What follows the tar's zstd frames in a zstd:chunked blob whose frames end at `offset`: the
 * TOC JSON compressed with libzstd at `level` in a skippable frame, then the footer (manifest
 * offset, compressed and uncompressed length, type 1, "GnUlInUx", little-endian) in another.
 * Appends to out; checksum: the sha256 of the compressed TOC; position:
 * "offset:length:uncompressed length:1" (the two annotations). */
int lade_zstd_chunked_tail(const char *toc_json, int level, uint64_t offset, struct lade_buf *out,
                           char checksum[LADE_DIGEST_STRLEN], char position[96],
                           struct lade_error **err);

/* Check a zstd:chunked blob: the footer against `position` (the manifest-position
 * annotation), the compressed manifest against `checksum`, then every regular file's frames
 * [offset, endOffset) decoded alone and checked against its size and digest. 0 with *n_files,
 * or -1 with "zstd:chunked: …" naming what is wrong. */
int lade_zstd_chunked_check(const char *path, const char *checksum, const char *position,
                            size_t *n_files, struct lade_error **err);

/* ---- the TOC, written ---- */

struct lade_toc; /* opaque */

/* mtime: the build epoch. eStargz leaves out "modtime" at the Unix epoch (as its reference
 * writer does), zstd:chunked always writes it. */
struct lade_toc *lade_toc_new(enum lade_lazy kind, int64_t mtime);
void lade_toc_free(struct lade_toc *t);
void lade_toc_freep(struct lade_toc **t);
/* An entry as the tar holds it (directories named with their trailing '/'). A regular file
 * with content is followed by its chunks, in order, then its digest. */
void lade_toc_add(struct lade_toc *t, const struct lade_entry *e);
/* A chunk of the last added file: its gzip member starts at `offset` in the blob, it holds
 * content bytes [chunk_offset, chunk_offset + size). `sized`: write chunkSize (the reference
 * writes it for every chunk but a file's last, shorter one). */
void lade_toc_chunk(struct lade_toc *t, uint64_t offset, uint64_t chunk_offset, uint64_t size,
                    bool sized, const char chunk_digest[LADE_DIGEST_STRLEN]);
void lade_toc_file_digest(struct lade_toc *t, const char digest[LADE_DIGEST_STRLEN]);
/* zstd:chunked: the last added file's content is the frames in [offset, end) of the blob. */
void lade_toc_range(struct lade_toc *t, uint64_t offset, uint64_t end);
/* The TOC JSON (JSON_SORT_KEYS | JSON_COMPACT; readers parse it, its sha256 is the
 * toc.digest annotation). Owned by the caller. */
char *lade_toc_dump(const struct lade_toc *t);

#endif
