/* lade — layer compression: gzip (ISA-L igzip, a single gzip member with no name, mtime 0,
 * OS byte 255 "unknown" fixed), zstd (libzstd) or none. Output depends only on the input
 * bytes, the algorithm, the level and the lade release: never on thread count or machine. */
#ifndef LADE_COMPRESS_H
#define LADE_COMPRESS_H

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
/* The compressor and its version for the layer annotation, e.g. "isa-l 2.30.0 level 1". */
const char *lade_compression_describe(enum lade_compression c, int level);

struct lade_compressor; /* opaque; also a lade_stream */

/* level: -1 for the default of the algorithm (gzip: ISA-L level 1; zstd: 3).
 * jobs: worker threads (>= 1); never changes the output. `out` receives compressed bytes. */
int lade_compressor_new(enum lade_compression c, int level, int jobs, struct lade_stream *out,
                        struct lade_compressor **ret, struct lade_error **err);
struct lade_stream *lade_compressor_stream(struct lade_compressor *c);
/* Flush the end of the stream (trailer) into `out`. */
int lade_compressor_finish(struct lade_compressor *c, struct lade_error **err);
void lade_compressor_free(struct lade_compressor *c);
void lade_compressor_freep(struct lade_compressor **c);

#endif
