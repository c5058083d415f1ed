/* lade — layer compression: gzip (a series of gzip members with bare 10-byte headers: wheel
 * members' own deflate data spliced in unchanged, everything else deflated by zlib in chunks),
 * zstd (libzstd) or none. Output depends only on the input bytes, the splice points, the
 * algorithm, the level and the library versions: never on thread count or machine.
 * And the way back for layers read from images (base layers, lade verify): a pull
 * decompressor over the same three. */
#ifndef LADE_COMPRESS_H
#define LADE_COMPRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lade/error.h"
#include "lade/stream.h"

enum lade_compression {
	LADE_COMPRESS_NONE = 0,
	LADE_COMPRESS_GZIP,
	LADE_COMPRESS_ZSTD,
};

/* "none"/"gzip"/"zstd" -> enum; -1 for anything else (no error text: the caller names the
 * input). */
int lade_compression_parse(const char *name, enum lade_compression *out);
const char *lade_compression_name(enum lade_compression c);
/* OCI layer media type: application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]. */
const char *lade_compression_media_type(enum lade_compression c);
/* The reverse, for layers read from an image: the three OCI layer media types and Docker's
 * "application/vnd.docker.image.rootfs.diff.tar.gzip" (gzip). media_type may be NULL.
 * Returns 0, or -1 for anything else (foreign and non-distributable layers included; no
 * error text: the caller names the layer). */
int lade_compression_from_media_type(const char *media_type, enum lade_compression *out);
/* Detect from the first bytes of a blob (gzip/zstd magic, else none). */
enum lade_compression lade_compression_sniff(const void *head, size_t len);
/* The compressor and its version for the layer annotation (dev.lade.compressor) and the
 * layer cache key, e.g. "splice+zlib 1.2.13 level 6 chunk 1MiB splice 1KiB". */
const char *lade_compression_describe(enum lade_compression c, int level);

struct lade_compressor; /* opaque; also a lade_stream */

/* Deflate data shorter than this is not spliced but recompressed with its neighbours (part of
 * the layer format). 1 KiB since format 4 (4 KiB in 3): on the ml-cpu corpus zlib then deflates
 * ~5 MB of small members and tar headers instead of ~30 MB, ~20% of a build's CPU, for +0.6%
 * of blob bytes. */
#define LADE_SPLICE_MIN_RAW ((uint64_t)1 << 10)

/* level: -1 for the default of the algorithm (gzip: zlib level 6, 1-9; zstd: 3, 1-19).
 * jobs: worker threads (>= 1); never changes the output. `out` receives compressed bytes. */
int lade_compressor_new(enum lade_compression c, int level, int jobs, struct lade_stream *out,
                        struct lade_compressor **ret, struct lade_error **err);
struct lade_stream *lade_compressor_stream(struct lade_compressor *c);
/* Flush the end of the stream (trailer) into `out`. */
int lade_compressor_finish(struct lade_compressor *c, struct lade_error **err);
void lade_compressor_free(struct lade_compressor *c);
void lade_compressor_freep(struct lade_compressor **c);

/* Splicing (gzip only). A piece of the input whose deflate stream exists already (a wheel
 * member: raw_size bytes of deflate data for `size` bytes of content) becomes a gzip member
 * of its own whose body is that data, unchanged:
 *   lade_compressor_splice_begin(c, crc, size, &raw)   (crc, size: the stream's, e.g. zip's)
 *   write the content to the compressor's stream as usual, and the deflate bytes to `raw`
 *   lade_compressor_splice_end(c)
 * The content is not compressed, only checked: splice_end fails (and the compressor with it)
 * unless it had exactly `size` bytes with CRC-32 `crc`. The caller guarantees that the raw
 * bytes are exactly one deflate stream that inflates to the content (by inflating them).
 * can_splice says whether a member is worth it (deflate data at least LADE_SPLICE_MIN_RAW,
 * gzip, not inside another splice); splice_begin fails where it says no. */
bool lade_compressor_can_splice(const struct lade_compressor *c, uint64_t raw_size, uint64_t size);
int lade_compressor_splice_begin(struct lade_compressor *c, uint32_t crc, uint64_t size,
                                 struct lade_stream **raw, struct lade_error **err);
int lade_compressor_splice_end(struct lade_compressor *c, struct lade_error **err);

/* Members or frames on demand (lazy-pull formats: eStargz, zstd:chunked): end the gzip member
 * or zstd frame being filled, write out everything compressed so far, and give the offset in
 * the output where the next one will start. Bytes written after it start a new member or frame
 * (none is ever empty: two cuts in a row give the same offset; a zstd stream that ends right
 * after a cut gets no empty last frame). gzip and zstd only; fails inside a splice or after
 * finish. */
int lade_compressor_cut(struct lade_compressor *c, uint64_t *offset, struct lade_error **err);

/* lade_compressor_cut, then everything up to lade_compressor_finish is one gzip member
 * whatever its size (eStargz's TOC, which readers inflate as a single member), deflated on
 * the calling thread. */
int lade_compressor_last_member(struct lade_compressor *c, uint64_t *offset,
                                struct lade_error **err);

/* ---- decompression ---- */

/* Where a decompressor reads compressed bytes from. Implementations embed it as their first
 * member. read: > 0 bytes at *buf (owned by the source, valid until its next call), 0 at the
 * end of the input, -1 with *err set (the decompressor passes that error on unchanged). */
struct lade_source {
	ssize_t (*read)(struct lade_source *s, const void **buf, struct lade_error **err);
};

enum {
	/* Take the compression from the first bytes (lade_compression_sniff) rather than from
	 * the argument: what libarchive's filters did for base layers. */
	LADE_DECOMPRESS_DETECT = 1 << 0,
	/* gzip: zero bytes after a member, to the end of the input, end the stream (GNU gzip
	 * accepts such padding too); they are read and checked. Anything else after a member
	 * that is no member header is "trailing garbage after gzip stream", with or without
	 * this flag. zstd never allows trailing bytes. */
	LADE_DECOMPRESS_ZERO_PADDING = 1 << 1,
};

struct lade_decompressor; /* opaque */

/* A pull decompressor over `in` (borrowed; must outlive it): gzip (ISA-L igzip; multi-member,
 * CRC-32 and ISIZE of every member checked), zstd (libzstd; multi-frame, skippable frames) or
 * none (the source's buffers handed through). flags: LADE_DECOMPRESS_*. Nothing is read until
 * the first lade_decompressor_next(). */
int lade_decompressor_new(enum lade_compression c, unsigned flags, struct lade_source *in,
                          struct lade_decompressor **ret, struct lade_error **err);
/* Next block of decompressed bytes: > 0 bytes at *buf (owned by d or the source, valid until
 * the next call), 0 once the stream ended properly (every member/frame complete and checked,
 * trailing bytes handled as the flags say), -1 with *err set. Errors, not prefixed (the caller
 * names the blob): "empty gzip stream", "truncated gzip stream", "not a gzip stream",
 * "trailing garbage after gzip stream", "gzip: <what is wrong>" (header, deflate data,
 * "crc or length mismatch in member trailer"), and the zstd ones: "empty zstd stream",
 * "truncated zstd stream", "zstd: <libzstd's error name>"; source errors as the source set
 * them. After -1 every later call fails too. */
ssize_t lade_decompressor_next(struct lade_decompressor *d, const void **buf,
                               struct lade_error **err);
/* The compression in use (after the first lade_decompressor_next() with DETECT). */
enum lade_compression lade_decompressor_kind(const struct lade_decompressor *d);
void lade_decompressor_free(struct lade_decompressor *d);
void lade_decompressor_freep(struct lade_decompressor **d);

#endif
