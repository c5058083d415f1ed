/* lade — a lazy-pull blob checked against its TOC. eStargz as a lazy reader would use it (see
 * lade_estargz_check in include/lade/lazy.h): the footer, the TOC member and its digest, then
 * each chunk inflated from its own offset, up to the next chunk's, and hashed; zstd:chunked (see
 * lade_zstd_chunked_check): the footer, the manifest against its checksum, each file's frames
 * decoded from its range and hashed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <zstd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lade/compress.h"
#include "lade/layer.h"
#include "lade/lazy.h"
#include "lade/util.h"

#define READ_PIECE ((size_t)64 << 10)
/* A TOC is a few hundred bytes per file: a bound well above any real layer's. */
#define TOC_MAX ((uint64_t)512 << 20)

/* The blob's bytes [pos, end), for the decompressor. */
struct range_source {
	struct lade_source source; /* first member */
	int fd;
	uint64_t pos, end;
	unsigned char buf[READ_PIECE];
};

static ssize_t range_read(struct lade_source *s, const void **buf, struct lade_error **err)
{
	struct range_source *r = (struct range_source *)s;
	if (r->pos >= r->end)
		return 0;
	size_t want = r->end - r->pos < READ_PIECE ? (size_t)(r->end - r->pos) : READ_PIECE;
	ssize_t n = pread(r->fd, r->buf, want, (off_t)r->pos);
	if (n < 0)
		return lade_error_set(err, errno, "cannot read the blob");
	if (n == 0)
		return lade_error_set(err, 0, "the blob is shorter than its TOC says");
	r->pos += (uint64_t)n;
	*buf = r->buf;
	return n;
}

/* Decompress the blob's bytes [start, end) (gzip members or zstd frames) and hand the first
 * `want` bytes (UINT64_MAX: all of them) to sha and sha2 (either may be NULL) and to `out` (may
 * be NULL); *got (may be NULL): how many. Fewer than a finite `want` is an error. */
static int decode_range(int fd, enum lade_compression comp, uint64_t start, uint64_t end,
                        uint64_t want, struct lade_sha256 *sha, struct lade_sha256 *sha2,
                        struct lade_buf *out, uint64_t *got_out, struct lade_error **err)
{
	_cleanup_free_ struct range_source *src = xzalloc(sizeof(*src));
	src->source.read = range_read;
	src->fd = fd;
	src->pos = start;
	src->end = end;
	_cleanup_(lade_decompressor_freep) struct lade_decompressor *d = NULL;
	if (lade_decompressor_new(comp, 0, &src->source, &d, err) < 0)
		return -1;
	uint64_t got = 0;
	while (got < want) {
		const void *buf;
		ssize_t n = lade_decompressor_next(d, &buf, err);
		if (n < 0)
			return -1;
		if (n == 0 && want == UINT64_MAX)
			break;
		if (n == 0)
			return lade_error_set(err, 0,
			                      "%" PRIu64 " bytes where %" PRIu64 " are expected",
			                      got, want);
		size_t take = (uint64_t)n < want - got ? (size_t)n : (size_t)(want - got);
		if (sha)
			lade_sha256_update(sha, buf, take);
		if (sha2)
			lade_sha256_update(sha2, buf, take);
		if (out)
			lade_buf_add(out, buf, take);
		got += take;
	}
	if (got_out)
		*got_out = got;
	return 0;
}

static int inflate_range(int fd, uint64_t start, uint64_t end, uint64_t want,
                         struct lade_sha256 *sha, struct lade_sha256 *sha2, struct lade_buf *out,
                         struct lade_error **err)
{
	return decode_range(fd, LADE_COMPRESS_GZIP, start, end, want, sha, sha2, out, NULL, err);
}

static uint64_t octal(const char *p, size_t len)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len && p[i] >= '0' && p[i] <= '7'; i++)
		v = v << 3 | (uint64_t)(p[i] - '0');
	return v;
}

/* The TOC member: a ustar header named stargz.index.json, then the JSON. */
static int read_toc(int fd, uint64_t toc_offset, uint64_t end, struct lade_buf *json,
                    struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf head = LADE_BUF_INIT;
	if (inflate_range(fd, toc_offset, end, 512, NULL, NULL, &head, err) < 0)
		return lade_error_prefix(err, "TOC member at %" PRIu64, toc_offset);
	const char *h = head.data;
	if (strncmp(h, LADE_ESTARGZ_TOC_NAME, 100) != 0 || (h[156] != '0' && h[156] != '\0'))
		return lade_error_set(err, 0,
		                      "the member at the footer's offset %" PRIu64
		                      " does not start with the " LADE_ESTARGZ_TOC_NAME " entry",
		                      toc_offset);
	uint64_t size = octal(h + 124, 12);
	if (size == 0 || size > TOC_MAX)
		return lade_error_set(err, 0, "TOC of %" PRIu64 " bytes", size);
	_cleanup_buf_ struct lade_buf all = LADE_BUF_INIT;
	if (inflate_range(fd, toc_offset, end, 512 + size, NULL, NULL, &all, err) < 0)
		return lade_error_prefix(err, "TOC member at %" PRIu64, toc_offset);
	lade_buf_add(json, all.data + 512, (size_t)size);
	return 0;
}

struct chunk {
	const char *name;
	uint64_t offset, chunk_offset, size;
	const char *digest;      /* chunkDigest */
	const char *file_digest; /* the file's digest, on its first chunk; else NULL */
	uint64_t file_size;
};

static bool get_u64(const json_t *o, const char *key, uint64_t *v)
{
	const json_t *j = json_object_get(o, key);
	if (j == NULL) {
		*v = 0;
		return true;
	}
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return false;
	*v = (uint64_t)json_integer_value(j);
	return true;
}

/* The TOC's chunks in order, their sizes completed as the reference reader does. */
static int toc_chunks(const json_t *toc, struct chunk **out, size_t *n_out, struct lade_error **err)
{
	const json_t *entries = json_object_get(toc, "entries");
	if (!json_is_integer(json_object_get(toc, "version")) ||
	    json_integer_value(json_object_get(toc, "version")) != 1 || !json_is_array(entries))
		return lade_error_set(err, 0, "the TOC is not a version 1 eStargz TOC");
	size_t n = 0, alloc = 0;
	struct chunk *cs = NULL;
	const struct chunk *file = NULL;
	uint64_t file_size = 0;
	size_t i;
	const json_t *e;
	json_array_foreach(entries, i, e)
	{
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *name = json_string_value(json_object_get(e, "name"));
		struct chunk c = {.name = name};
		uint64_t size = 0;
		if (type == NULL || name == NULL || !get_u64(e, "offset", &c.offset) ||
		    !get_u64(e, "chunkOffset", &c.chunk_offset) ||
		    !get_u64(e, "chunkSize", &c.size) || !get_u64(e, "size", &size)) {
			free(cs);
			return lade_error_set(err, 0, "TOC entry %zu is malformed", i);
		}
		if (strcmp(type, "reg") == 0) {
			file_size = size;
			if (size == 0)
				continue;
			c.file_digest = json_string_value(json_object_get(e, "digest"));
		} else if (strcmp(type, "chunk") != 0) {
			continue;
		}
		if (file == NULL && strcmp(type, "chunk") == 0) {
			free(cs);
			return lade_error_set(err, 0, "TOC entry %zu: a chunk of no file", i);
		}
		c.file_size = file_size;
		if (c.size == 0)
			c.size = file_size - c.chunk_offset;
		c.digest = json_string_value(json_object_get(e, "chunkDigest"));
		lade_grow(&cs, sizeof(*cs), n + 1, &alloc);
		cs[n++] = c;
		file = &cs[n - 1];
	}
	*out = cs;
	*n_out = n;
	return 0;
}

/* Every chunk: offsets increasing and before the TOC, chunks of a file contiguous from 0 to its
 * size, each one's bytes (inflated from its offset) matching chunkDigest, and the file's
 * concatenated chunks its digest. */
static int check_chunks(int fd, uint64_t toc_offset, const struct chunk *cs, size_t n,
                        size_t *n_checked, struct lade_error **err)
{
	_cleanup_(lade_sha256_freep) struct lade_sha256 *file_sha = NULL;
	const struct chunk *first = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct chunk *c = &cs[i];
		uint64_t next = i + 1 < n ? cs[i + 1].offset : toc_offset;
		if (c->file_digest != NULL || c->chunk_offset == 0) {
			first = c;
			lade_sha256_freep(&file_sha);
			file_sha = lade_sha256_new();
		}
		if (c->offset == 0 || c->offset >= next)
			return lade_error_set(err, 0,
			                      "%s: chunk at %" PRIu64 " has blob offset %" PRIu64
			                      ", not before the next one's (%" PRIu64 ")",
			                      c->name, c->chunk_offset, c->offset, next);
		if (c->digest == NULL || !lade_digest_valid(c->digest))
			return lade_error_set(err, 0, "%s: chunk at %" PRIu64 " has no chunkDigest",
			                      c->name, c->chunk_offset);
		bool last = c->chunk_offset + c->size == c->file_size;
		if (c->chunk_offset + c->size > c->file_size ||
		    (!last && (i + 1 >= n || cs[i + 1].chunk_offset != c->chunk_offset + c->size)))
			return lade_error_set(
			        err, 0, "%s: chunks do not cover the file's %" PRIu64 " bytes",
			        c->name, c->file_size);
		_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = lade_sha256_new();
		if (inflate_range(fd, c->offset, next, c->size, sha, file_sha, NULL, err) < 0)
			return lade_error_prefix(
			        err, "%s: chunk at %" PRIu64 " (blob offset %" PRIu64 ")", c->name,
			        c->chunk_offset, c->offset);
		char d[LADE_DIGEST_STRLEN];
		lade_sha256_final(sha, NULL, d);
		if (strcmp(d, c->digest) != 0)
			return lade_error_set(err, 0,
			                      "%s: chunk at %" PRIu64 " (blob offset %" PRIu64
			                      ") is %s, the TOC says %s",
			                      c->name, c->chunk_offset, c->offset, d, c->digest);
		if (last && first && first->file_digest) {
			lade_sha256_final(file_sha, NULL, d);
			lade_sha256_freep(&file_sha);
			if (strcmp(d, first->file_digest) != 0)
				return lade_error_set(err, 0, "%s is %s, the TOC says %s", c->name,
				                      d, first->file_digest);
		}
		(*n_checked)++;
	}
	return 0;
}

/* Open the blob and read its last n bytes (the footer): *fd, *size; -1 naming `what`. */
static int open_footer(const char *path, const char *what, unsigned char *footer, size_t n, int *fd,
                       uint64_t *size, struct lade_error **err)
{
	if (lade_open_regular(path, 0, fd, err) < 0)
		return -1;
	struct stat st;
	if (fstat(*fd, &st) < 0)
		return lade_error_set(err, errno, "cannot stat %s", path);
	*size = (uint64_t)st.st_size;
	if (*size < n || pread(*fd, footer, n, (off_t)(*size - n)) != (ssize_t)n)
		return lade_error_set(err, 0, "%s: no footer", what);
	return 0;
}

int lade_estargz_check(const char *path, const char *toc_digest, size_t *n_chunks,
                       struct lade_error **err)
{
	_cleanup_fd_ int fd = -1;
	uint64_t size;
	unsigned char footer[LADE_ESTARGZ_FOOTER_SIZE];
	if (open_footer(path, "eStargz", footer, sizeof(footer), &fd, &size, err) < 0)
		return -1;
	uint64_t toc_offset;
	if (lade_estargz_parse_footer(footer, &toc_offset, err) < 0)
		return lade_error_prefix(err, "eStargz");
	uint64_t end = size - sizeof(footer);
	if (toc_offset >= end)
		return lade_error_set(err, 0, "eStargz: TOC offset %" PRIu64 " is past the blob",
		                      toc_offset);
	_cleanup_buf_ struct lade_buf json = LADE_BUF_INIT;
	if (read_toc(fd, toc_offset, end, &json, err) < 0)
		return lade_error_prefix(err, "eStargz");
	char d[LADE_DIGEST_STRLEN];
	lade_sha256_buf(json.data, json.len, d);
	if (strcmp(d, toc_digest) != 0)
		return lade_error_set(err, 0,
		                      "eStargz: the TOC is %s, the toc.digest annotation says %s",
		                      d, toc_digest);
	json_error_t jerr;
	json_t *toc = json_loadb(json.data, json.len, JSON_REJECT_DUPLICATES, &jerr);
	if (toc == NULL)
		return lade_error_set(err, 0, "eStargz: the TOC is no JSON: %s", jerr.text);
	_cleanup_free_ struct chunk *cs = NULL;
	size_t n = 0;
	int rc = toc_chunks(toc, &cs, &n, err);
	if (rc == 0) {
		size_t checked = 0;
		rc = check_chunks(fd, toc_offset, cs, n, &checked, err);
		if (n_chunks)
			*n_chunks = checked;
	}
	json_decref(toc);
	return rc < 0 ? lade_error_prefix(err, "eStargz") : 0;
}

/* ---- zstd:chunked ---- */

static int zstd_range_digest(int fd, uint64_t start, uint64_t end, uint64_t *size,
                             char out[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = lade_sha256_new();
	if (decode_range(fd, LADE_COMPRESS_ZSTD, start, end, UINT64_MAX, sha, NULL, NULL, size,
	                 err) < 0)
		return -1;
	lade_sha256_final(sha, NULL, out);
	return 0;
}

int lade_zstd_chunked_check(const char *path, const char *checksum, const char *position,
                            size_t *n_files, struct lade_error **err)
{
	_cleanup_fd_ int fd = -1;
	uint64_t size;
	unsigned char footer[8 + LADE_ZSTD_CHUNKED_FOOTER_SIZE];
	if (open_footer(path, "zstd:chunked", footer, sizeof(footer), &fd, &size, err) < 0)
		return -1;
	uint64_t off, len, ulen, type;
	if (position == NULL ||
	    sscanf(position, "%" SCNu64 ":%" SCNu64 ":%" SCNu64 ":%" SCNu64, &off, &len, &ulen,
	           &type) != 4 ||
	    type != 1)
		return lade_error_set(err, 0, "zstd:chunked: bad manifest position '%s'",
		                      position ? position : "");
	uint64_t f[4] = {0};
	for (size_t i = 0; i < 4; i++)
		for (size_t k = 0; k < 8; k++)
			f[i] |= (uint64_t)footer[8 + 8 * i + k] << (8 * k);
	if (memcmp(footer, "\x50\x2a\x4d\x18\x28\x00\x00\x00", 8) != 0 ||
	    memcmp(footer + 40, "GnUlInUx", 8) != 0 || f[0] != off || f[1] != len || f[2] != ulen ||
	    f[3] != 1)
		return lade_error_set(
		        err, 0,
		        "zstd:chunked: the footer does not match the manifest position "
		        "'%s'",
		        position);
	if (len == 0 || len > TOC_MAX || ulen > TOC_MAX || off + len > size - sizeof(footer))
		return lade_error_set(err, 0,
		                      "zstd:chunked: manifest of %" PRIu64 " bytes at %" PRIu64,
		                      len, off);
	_cleanup_free_ unsigned char *z = xmalloc(len);
	if (pread(fd, z, len, (off_t)off) != (ssize_t)len)
		return lade_error_set(err, errno, "zstd:chunked: cannot read the manifest");
	char d[LADE_DIGEST_STRLEN];
	lade_sha256_buf(z, len, d);
	if (checksum == NULL || strcmp(d, checksum) != 0)
		return lade_error_set(
		        err, 0, "zstd:chunked: the manifest is %s, the checksum annotation says %s",
		        d, checksum ? checksum : "nothing");
	_cleanup_free_ char *json = xmalloc(ulen + 1);
	size_t n = ZSTD_decompress(json, ulen, z, len);
	if (ZSTD_isError(n) || n != ulen)
		return lade_error_set(
		        err, 0, "zstd:chunked: the manifest does not decode to %" PRIu64 " bytes",
		        ulen);
	json_error_t jerr;
	json_t *toc = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
	const json_t *entries = json_object_get(toc, "entries");
	if (!json_is_array(entries)) {
		json_decref(toc);
		return lade_error_set(err, 0, "zstd:chunked: the manifest is no TOC");
	}
	size_t i, files = 0;
	const json_t *e;
	int rc = 0;
	json_array_foreach(entries, i, e)
	{
		const char *type_s = json_string_value(json_object_get(e, "type"));
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *digest = json_string_value(json_object_get(e, "digest"));
		uint64_t fsize, start, stop;
		if (type_s == NULL || strcmp(type_s, "reg") != 0 || !get_u64(e, "size", &fsize) ||
		    fsize == 0)
			continue;
		if (!get_u64(e, "offset", &start) || !get_u64(e, "endOffset", &stop) ||
		    start == 0 || stop <= start || stop > off || digest == NULL) {
			rc = lade_error_set(err, 0, "zstd:chunked: %s: no valid range or digest",
			                    name ? name : "?");
			break;
		}
		uint64_t got;
		if (zstd_range_digest(fd, start, stop, &got, d, err) < 0) {
			rc = lade_error_prefix(
			        err, "zstd:chunked: %s: frames at [%" PRIu64 ", %" PRIu64 ")", name,
			        start, stop);
			break;
		}
		if (got != fsize || strcmp(d, digest) != 0) {
			rc = lade_error_set(err, 0,
			                    "zstd:chunked: %s: frames at [%" PRIu64 ", %" PRIu64
			                    ") hold %" PRIu64 " bytes %s, the TOC says %" PRIu64
			                    " bytes %s",
			                    name, start, stop, got, d, fsize, digest);
			break;
		}
		files++;
	}
	json_decref(toc);
	if (n_files)
		*n_files = files;
	return rc;
}
