/* lade — reading a wheel (binary distribution format, PEP 427 / PEP 491) without extracting it:
 * the ZIP central directory is parsed here, member bytes are inflated on demand (ISA-L raw
 * inflate, CRC-32 and the RECORD sha256 checked while streaming), and the metadata files of
 * the .dist-info directory (WHEEL, METADATA, RECORD, entry_points.txt) are parsed at open.
 *
 * A wheel that lade_wheel_open() accepts is safe to install: every member has a relative path
 * without "..", empty components, backslashes or NUL; no member is a symlink, encrypted,
 * compressed with anything but stored/deflate, duplicated, larger than 16 GiB or a likely
 * decompression bomb; no two members share bytes, every local header agrees with the central
 * directory, directory entries carry no data, and the members' total size is within the
 * per-wheel limits; every member is listed in RECORD with a sha256 hash (RECORD itself and
 * its signatures excepted) and every RECORD line names a member. Content hashes are only
 * verified when the bytes are read (lade_wheel_read_member / lade_wheel_emit_member). */
#ifndef LADE_WHEEL_H
#define LADE_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lade/error.h"
#include "lade/stream.h"
#include "lade/util.h"

/* Limits (refused at open). */
#define LADE_WHEEL_MAX_MEMBERS     1000000
#define LADE_WHEEL_MAX_MEMBER_SIZE (16ULL << 30)  /* uncompressed bytes per member */
#define LADE_WHEEL_BOMB_MIN_SIZE   (100ULL << 20) /* ratio check applies above this */
#define LADE_WHEEL_BOMB_MAX_RATIO  1000

/* Per-wheel limits on the sum of the members' declared uncompressed sizes, refused at open with
 * the member that crosses them. Members must also not share bytes (local header and data
 * ranges are disjoint), so a wheel cannot inflate one deflate block many times over. */
#define LADE_WHEEL_MAX_TOTAL_SIZE  (32ULL << 30)  /* all members */
#define LADE_WHEEL_MAX_TOTAL_RATIO 100            /* total / wheel file size ... */
#define LADE_WHEEL_TOTAL_RATIO_MIN (100ULL << 20) /* ... once the total is above this */

struct lade_wheel_limits {
	uint64_t max_total; /* 0: no limit */
	uint64_t max_ratio; /* 0: no limit */
	uint64_t ratio_min; /* the ratio applies to totals above this */
};

/* The defaults above. */
void lade_wheel_limits_default(struct lade_wheel_limits *l);

struct lade_wheel_member {
	const char *name; /* as in the zip, directories end with '/'; owned by the wheel */
	bool is_dir;
	uint16_t method;     /* 0 stored, 8 deflate */
	uint16_t flags;      /* general purpose bit flags */
	uint32_t crc32;      /* from the central directory */
	uint64_t csize;      /* compressed size, from the central directory */
	uint64_t usize;      /* uncompressed size, from the central directory */
	uint64_t offset;     /* of the local file header */
	uint64_t data_start; /* of the member data (after the local header) */
	uint32_t unix_mode;  /* external attributes >> 16 when made on Unix, else 0 */
	bool has_sha256;     /* RECORD gave a sha256 (false only for RECORD and its signatures) */
	unsigned char sha256[32];
};

/* A console_scripts / gui_scripts entry of entry_points.txt: "name = module:attr [extras]". */
struct lade_wheel_entry_point {
	const char *name;   /* script name */
	const char *module; /* "pkg.cli" */
	const char *attr;   /* "main" or "a.b" (never NULL: entries without ":attr" are refused) */
	bool gui;           /* from [gui_scripts] */
};

struct lade_wheel; /* opaque */

/* Open and validate a wheel file. The file descriptor stays open until lade_wheel_free().
 * The file name must be a wheel name ("NAME-VER(-BUILD)?-PY-ABI-PLAT.whl"). Errors name the
 * wheel (by base name) and, where it applies, the member, e.g.
 * "wheel evil-1.0-py3-none-any.whl member ../x: path has a '..' component". */
int lade_wheel_open(const char *path, struct lade_wheel **out, struct lade_error **err);
/* The same with other per-wheel limits (NULL: the defaults). */
int lade_wheel_open_limited(const char *path, const struct lade_wheel_limits *limits,
                            struct lade_wheel **out, struct lade_error **err);
void lade_wheel_free(struct lade_wheel *w);
void lade_wheel_freep(struct lade_wheel **w);

const char *lade_wheel_path(const struct lade_wheel *w);     /* as given to open */
const char *lade_wheel_filename(const struct lade_wheel *w); /* base name, for messages */
/* Name and Version as written in METADATA (the name agrees with the file name and the
 * .dist-info directory after PEP 503 normalisation). */
const char *lade_wheel_name(const struct lade_wheel *w);
const char *lade_wheel_version(const struct lade_wheel *w);
/* The version as packaging.version.Version prints it ("1.0-1" -> "1.0.post1"), or the
 * METADATA string when it is not PEP 440. */
const char *lade_wheel_version_normalized(const struct lade_wheel *w);
/* "NAME-VER.dist-info" and "NAME-VER.data" exactly as the wheel spells them (no slash). */
const char *lade_wheel_dist_info(const struct lade_wheel *w);
const char *lade_wheel_data_dir(const struct lade_wheel *w);
/* WHEEL's Root-Is-Purelib (missing counts as false, as pip does). */
bool lade_wheel_root_is_purelib(const struct lade_wheel *w);
/* METADATA fields. Vectors are NULL-terminated, never NULL (maybe empty); strings may be
 * NULL when the field is absent. All owned by the wheel. */
char *const *lade_wheel_requires_dist(const struct lade_wheel *w);
char *const *lade_wheel_classifiers(const struct lade_wheel *w);
const char *lade_wheel_requires_python(const struct lade_wheel *w);
const char *lade_wheel_license_field(const struct lade_wheel *w);      /* License */
const char *lade_wheel_license_expression(const struct lade_wheel *w); /* License-Expression */
/* The license to report: License-Expression, else License, else NULL. */
const char *lade_wheel_license(const struct lade_wheel *w);

/* Entry points in file order: console scripts first, then gui scripts. */
size_t lade_wheel_entry_point_count(const struct lade_wheel *w);
const struct lade_wheel_entry_point *lade_wheel_entry_point(const struct lade_wheel *w, size_t i);

/* Members in central directory order. */
size_t lade_wheel_member_count(const struct lade_wheel *w);
const struct lade_wheel_member *lade_wheel_member(const struct lade_wheel *w, size_t i);
/* Index of the member with exactly this name, or -1. */
ssize_t lade_wheel_find_member(const struct lade_wheel *w, const char *name);

/* Decompress member i and write its bytes to `out` in chunks, checking that the data has
 * exactly the central directory size, its CRC-32 and (when the member has one) the RECORD
 * sha256: "wheel X member Y: sha256 mismatch with RECORD (expected A, got B)" with A and B in
 * RECORD's urlsafe base64. Bytes already written before a failure are not taken back. */
int lade_wheel_emit_member(struct lade_wheel *w, size_t i, struct lade_stream *out,
                           struct lade_error **err);
/* Same, for a deflate member (method 8), and its deflate data is also written to `raw`, as read
 * and before the bytes it inflates to: exactly one deflate stream (data after its end is an
 * error here, "N bytes after the end of the deflate data"). For layers that splice the data
 * into a gzip member (lade_compressor_splice_begin). */
int lade_wheel_emit_member_spliced(struct lade_wheel *w, size_t i, struct lade_stream *out,
                                   struct lade_stream *raw, struct lade_error **err);
/* Same, into memory: appends to `out`; members larger than max are an error. */
int lade_wheel_read_member(struct lade_wheel *w, size_t i, size_t max, struct lade_buf *out,
                           struct lade_error **err);

/* RECORD's hash encoding: urlsafe base64 without padding of a raw sha256 (43 chars + NUL). */
void lade_wheel_hash_b64(const unsigned char sha256[32], char out[44]);

#endif
