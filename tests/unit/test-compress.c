/* Unit tests for core/compress.c: round trips through zlib / libzstd, the fixed gzip
 * header and trailer, output independent of jobs and of write boundaries, error messages;
 * the decompressor against zlib/libzstd-made streams (members, frames, header fields, damage). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "lade/compress.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

#define MiB ((size_t)1 << 20)

struct mem_sink {
	struct lade_stream stream;
	struct lade_buf buf;
	int fail_after; /* fail the n-th write (0: never) */
	int writes;
};

static int mem_write(struct lade_stream *s, const void *data, size_t len, struct lade_error **err)
{
	struct mem_sink *m = (struct mem_sink *)s;
	if (m->fail_after && ++m->writes >= m->fail_after)
		return lade_error_set(err, 0, "sink refused");
	lade_buf_add(&m->buf, data, len);
	return 0;
}

static void sink_init(struct mem_sink *m)
{
	m->stream.write = mem_write;
	lade_buf_init(&m->buf);
	m->fail_after = 0;
	m->writes = 0;
}

/* Half random bytes, half repetitive text, in alternating runs: exercises both literal and
 * match paths of the compressors. */
static unsigned char *make_data(size_t len, uint64_t seed)
{
	unsigned char *d = xmalloc(len ? len : 1);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	static const char text[] = "site-packages/lade/__init__.py 0644 root root\n";
	for (size_t i = 0; i < len; i++) {
		if ((i / 4096) % 2 == 0) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			d[i] = (unsigned char)x;
		} else {
			d[i] = (unsigned char)text[i % (sizeof(text) - 1)];
		}
	}
	return d;
}

/* Compress `data` writing it in pieces of `piece` bytes (0: one write). */
static int compress_buf(enum lade_compression kind, int level, int jobs, const unsigned char *data,
                        size_t len, size_t piece, struct lade_buf *out, struct lade_error **err)
{
	struct mem_sink m;
	sink_init(&m);
	_cleanup_(lade_compressor_freep) struct lade_compressor *c = NULL;
	if (lade_compressor_new(kind, level, jobs, &m.stream, &c, err) < 0)
		return -1;
	size_t off = 0;
	while (off < len) {
		size_t n = piece && piece < len - off ? piece : len - off;
		if (lade_stream_write(lade_compressor_stream(c), data + off, n, err) < 0) {
			lade_buf_release(&m.buf);
			return -1;
		}
		off += n;
	}
	if (lade_compressor_finish(c, err) < 0) {
		lade_buf_release(&m.buf);
		return -1;
	}
	*out = m.buf;
	return 0;
}

/* Walk a gzip stream member by member with zlib: every member must have lade's bare 10-byte
 * header, inflate as raw deflate and end with the CRC-32 and ISIZE of its own content. The
 * contents go to *content; the member count is returned, -1 on any defect. */
static int gzip_members(const struct lade_buf *gz, struct lade_buf *content)
{
	static const unsigned char hdr[10] = {0x1f, 0x8b, 0x08, 0x00, 0x00,
	                                      0x00, 0x00, 0x00, 0x00, 0xff};
	const unsigned char *p = (const unsigned char *)gz->data, *end = p + gz->len;
	unsigned char out[65536];
	int members = 0;
	while (p < end) {
		if (end - p < 18 || memcmp(p, hdr, sizeof(hdr)) != 0)
			return -1;
		p += sizeof(hdr);
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
			return -1;
		z.next_in = (unsigned char *)p;
		z.avail_in = (uInt)(end - p);
		uLong crc = crc32(0, Z_NULL, 0);
		int r;
		do {
			z.next_out = out;
			z.avail_out = sizeof(out);
			r = inflate(&z, Z_NO_FLUSH);
			size_t n = sizeof(out) - z.avail_out;
			crc = crc32(crc, out, (uInt)n);
			lade_buf_add(content, out, n);
		} while (r == Z_OK);
		uLong total = z.total_out;
		p = z.next_in;
		inflateEnd(&z);
		if (r != Z_STREAM_END || end - p < 8)
			return -1;
		uint32_t tcrc = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		                (uint32_t)p[3] << 24;
		uint32_t tsize = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
		                 (uint32_t)p[7] << 24;
		if (tcrc != (uint32_t)crc || tsize != (uint32_t)total)
			return -1;
		p += 8;
		members++;
	}
	return members;
}

/* True when the gzip stream's members inflate, in order, to exactly want. */
static bool gunzip_equals(const struct lade_buf *gz, const unsigned char *want, size_t want_len)
{
	_cleanup_buf_ struct lade_buf content = LADE_BUF_INIT;
	return gzip_members(gz, &content) > 0 && content.len == want_len &&
	       (want_len == 0 || memcmp(content.data, want, want_len) == 0);
}

static bool unzstd_equals(const struct lade_buf *zs, const unsigned char *want, size_t want_len)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	unsigned char *out = xmalloc(want_len + 65536);
	ZSTD_inBuffer in = {zs->data, zs->len, 0};
	ZSTD_outBuffer o = {out, want_len + 65536, 0};
	size_t r;
	do {
		r = ZSTD_decompressStream(d, &o, &in);
	} while (!ZSTD_isError(r) && r != 0 && in.pos < in.size);
	bool good = !ZSTD_isError(r) && r == 0 && in.pos == in.size && o.pos == want_len &&
	            (want_len == 0 || memcmp(out, want, want_len) == 0);
	ZSTD_freeDCtx(d);
	free(out);
	return good;
}

static void test_names(void)
{
	enum lade_compression c = LADE_COMPRESS_NONE;
	ok(lade_compression_parse("gzip", &c) == 0 && c == LADE_COMPRESS_GZIP, "parse gzip");
	ok(lade_compression_parse("zstd", &c) == 0 && c == LADE_COMPRESS_ZSTD, "parse zstd");
	ok(lade_compression_parse("none", &c) == 0 && c == LADE_COMPRESS_NONE, "parse none");
	ok(lade_compression_parse("xz", &c) == -1 && lade_compression_parse("GZIP", &c) == -1,
	   "parse rejects unknown names");
	is_str(lade_compression_name(LADE_COMPRESS_ZSTD), "zstd", "name zstd");
	is_str(lade_compression_media_type(LADE_COMPRESS_GZIP),
	       "application/vnd.oci.image.layer.v1.tar+gzip", "media type gzip");
	is_str(lade_compression_media_type(LADE_COMPRESS_ZSTD),
	       "application/vnd.oci.image.layer.v1.tar+zstd", "media type zstd");
	is_str(lade_compression_media_type(LADE_COMPRESS_NONE),
	       "application/vnd.oci.image.layer.v1.tar", "media type none");

	const unsigned char gz[] = {0x1f, 0x8b, 0x08}, zs[] = {0x28, 0xb5, 0x2f, 0xfd, 0},
	                    tar[] = "usr/\0\0\0";
	ok(lade_compression_sniff(gz, sizeof(gz)) == LADE_COMPRESS_GZIP, "sniff gzip");
	ok(lade_compression_sniff(zs, sizeof(zs)) == LADE_COMPRESS_ZSTD, "sniff zstd");
	ok(lade_compression_sniff(tar, sizeof(tar)) == LADE_COMPRESS_NONE, "sniff tar");
	ok(lade_compression_sniff(gz, 1) == LADE_COMPRESS_NONE, "sniff short input");

	char want[64];
	snprintf(want, sizeof(want), "zstd %s level 3", ZSTD_versionString());
	is_str(lade_compression_describe(LADE_COMPRESS_ZSTD, -1), want, "describe zstd default");
	const char *g = lade_compression_describe(LADE_COMPRESS_GZIP, -1);
	snprintf(want, sizeof(want), "splice+zlib %s level 6 chunk 1MiB splice 1KiB",
	         zlibVersion());
	is_str(g, want, "describe gzip default");
	ok(strstr(lade_compression_describe(LADE_COMPRESS_GZIP, 9), "level 9") != NULL,
	   "describe gzip level 9");
}

static void test_errors(void)
{
	struct mem_sink m;
	sink_init(&m);
	struct lade_compressor *c = NULL;
	struct lade_error *err = NULL;

	ok(lade_compressor_new(LADE_COMPRESS_GZIP, 10, 1, &m.stream, &c, &err) == -1 && c == NULL,
	   "gzip level 10 refused");
	is_str(err ? err->msg : NULL, "gzip level 10 not supported (1-9)", "gzip level msg");
	lade_error_freep(&err);
	ok(lade_compressor_new(LADE_COMPRESS_GZIP, 0, 1, &m.stream, &c, &err) == -1 && c == NULL,
	   "gzip level 0 refused");
	lade_error_freep(&err);

	ok(lade_compressor_new(LADE_COMPRESS_ZSTD, 20, 1, &m.stream, &c, &err) == -1,
	   "zstd level 20 refused");
	is_str(err ? err->msg : NULL, "zstd level 20 not supported (1-19)", "zstd level msg");
	lade_error_freep(&err);

	/* A failing downstream sink surfaces its own message, and the compressor stays failed. */
	for (int jobs = 1; jobs <= 4; jobs += 3) {
		_cleanup_free_ unsigned char *d = make_data(3 * MiB, 7);
		sink_init(&m);
		m.fail_after = 2;
		ok(lade_compressor_new(LADE_COMPRESS_GZIP, 1, jobs, &m.stream, &c, &err) == 0,
		   "gzip compressor jobs %d", jobs);
		int r = lade_stream_write(lade_compressor_stream(c), d, 3 * MiB, &err);
		if (r == 0)
			r = lade_compressor_finish(c, &err);
		ok(r == -1, "downstream failure reported (jobs %d)", jobs);
		is_str(err ? err->msg : NULL, "sink refused", "downstream message (jobs %d)", jobs);
		lade_error_freep(&err);
		ok(lade_stream_write(lade_compressor_stream(c), d, 10, &err) == -1,
		   "write after fail");
		is_str(err ? err->msg : NULL, "gzip compressor: an earlier write failed",
		       "write after failure message");
		lade_error_freep(&err);
		lade_compressor_freep(&c);
		lade_buf_release(&m.buf);
	}

	sink_init(&m);
	ok(lade_compressor_new(LADE_COMPRESS_ZSTD, -1, 2, &m.stream, &c, &err) == 0 &&
	           lade_compressor_finish(c, &err) == 0,
	   "zstd finish on empty input");
	ok(lade_stream_write(lade_compressor_stream(c), "x", 1, &err) == -1,
	   "write after finish refused");
	is_str(err ? err->msg : NULL, "zstd compressor: write after finish",
	       "write after finish msg");
	lade_error_freep(&err);
	lade_compressor_freep(&c);
	lade_buf_release(&m.buf);
}

static void test_round_trips(void)
{
	static const size_t sizes[] = {0, 1, MiB - 1, MiB, MiB + 1, 5 * MiB + MiB / 2};
	static const struct {
		enum lade_compression kind;
		int level;
		const char *name;
	} algos[] = {
	        {LADE_COMPRESS_GZIP, 1, "gzip-1"}, {LADE_COMPRESS_GZIP, 6, "gzip-6"},
	        {LADE_COMPRESS_GZIP, 9, "gzip-9"}, {LADE_COMPRESS_ZSTD, -1, "zstd"},
	        {LADE_COMPRESS_NONE, -1, "none"},
	};
	for (size_t s = 0; s < LADE_ARRAY_SIZE(sizes); s++) {
		_cleanup_free_ unsigned char *d = make_data(sizes[s], s + 1);
		for (size_t a = 0; a < LADE_ARRAY_SIZE(algos); a++) {
			struct lade_error *err = NULL;
			_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
			int r = compress_buf(algos[a].kind, algos[a].level, 2, d, sizes[s], 0, &out,
			                     &err);
			bool good;
			if (r < 0)
				good = false;
			else if (algos[a].kind == LADE_COMPRESS_GZIP)
				good = gunzip_equals(&out, d, sizes[s]);
			else if (algos[a].kind == LADE_COMPRESS_ZSTD)
				good = unzstd_equals(&out, d, sizes[s]);
			else
				good = out.len == sizes[s] &&
				       (sizes[s] == 0 || memcmp(out.data, d, sizes[s]) == 0);
			ok(good, "%s round trip of %zu bytes%s%s", algos[a].name, sizes[s],
			   err ? ": " : "", err ? err->msg : "");
			lade_error_free(err);
		}
	}
}

static void test_gzip_format(void)
{
	size_t len = 2 * MiB + 12345;
	_cleanup_free_ unsigned char *d = make_data(len, 42);
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	struct lade_error *err = NULL;
	ok(compress_buf(LADE_COMPRESS_GZIP, -1, 1, d, len, 0, &out, &err) == 0,
	   "gzip default level");
	static const unsigned char hdr[10] = {0x1f, 0x8b, 0x08, 0x00, 0x00,
	                                      0x00, 0x00, 0x00, 0x00, 0xff};
	_cleanup_buf_ struct lade_buf content = LADE_BUF_INIT;
	int members = gzip_members(&out, &content);
	ok(members == 3,
	   "2 MiB + 12345 bytes are 3 members of 1 MiB chunks, each with its own "
	   "bare header, CRC-32 and ISIZE (got %d)",
	   members);
	ok(content.len == len && memcmp(content.data, d, len) == 0, "members hold the input");
	ok(out.len < len * 3 / 4, "compressible half is compressed (%zu -> %zu)", len, out.len);

	_cleanup_buf_ struct lade_buf empty = LADE_BUF_INIT;
	ok(compress_buf(LADE_COMPRESS_GZIP, 1, 1, d, 0, 0, &empty, &err) == 0 && empty.len >= 18 &&
	           memcmp(empty.data, hdr, 10) == 0 &&
	           memcmp(empty.data + empty.len - 8, "\0\0\0\0\0\0\0\0", 8) == 0,
	   "empty input gives header, empty deflate and zero trailer");

	/* the zstd frame: checksum on, no content size (it is a stream) */
	_cleanup_buf_ struct lade_buf z = LADE_BUF_INIT;
	ok(compress_buf(LADE_COMPRESS_ZSTD, 3, 1, d, len, 0, &z, &err) == 0, "zstd compress");
	/* frame header descriptor (RFC 8878 3.1.1.1.1): bit 2 is the content checksum flag */
	ok(z.len > 5 && ((unsigned char)z.data[4] & 0x04) != 0 &&
	           ZSTD_getFrameContentSize(z.data, z.len) == ZSTD_CONTENTSIZE_UNKNOWN,
	   "zstd frame has a checksum and no content size");
	lade_error_free(err);
}

static void test_gzip_tool(void)
{
	if (access("/bin/gzip", X_OK) != 0) {
		ok(1, "# SKIP /bin/gzip not available");
		return;
	}
	size_t len = 3 * MiB + 7;
	_cleanup_free_ unsigned char *d = make_data(len, 9);
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	struct lade_error *err = NULL;
	ok(compress_buf(LADE_COMPRESS_GZIP, 3, 4, d, len, 0, &out, &err) == 0, "gzip for gzip -t");
	_cleanup_free_ char *dir = make_tmpdir("test-compress");
	_cleanup_free_ char *path = xasprintf("%s/layer.gz", dir);
	write_file(path, out.data, out.len);
	_cleanup_free_ char *cmd = xasprintf("/bin/gzip -t '%s'", path);
	ok(system(cmd) == 0, "gzip -t accepts the output");
	rm_rf(dir);
	lade_error_free(err);
}

static void test_determinism(void)
{
	size_t len = 5 * MiB + MiB / 2 + 3;
	_cleanup_free_ unsigned char *d = make_data(len, 1234);
	static const struct {
		enum lade_compression kind;
		int level;
		const char *name;
	} algos[] = {
	        {LADE_COMPRESS_GZIP, 1, "gzip-1"},
	        {LADE_COMPRESS_GZIP, 6, "gzip-6"},
	        {LADE_COMPRESS_GZIP, 9, "gzip-9"},
	        {LADE_COMPRESS_ZSTD, 3, "zstd-3"},
	};
	for (size_t a = 0; a < LADE_ARRAY_SIZE(algos); a++) {
		struct lade_error *err = NULL;
		_cleanup_buf_ struct lade_buf o1 = LADE_BUF_INIT;
		_cleanup_buf_ struct lade_buf o2 = LADE_BUF_INIT;
		_cleanup_buf_ struct lade_buf o8 = LADE_BUF_INIT;
		_cleanup_buf_ struct lade_buf odd = LADE_BUF_INIT;
		int r = compress_buf(algos[a].kind, algos[a].level, 1, d, len, 0, &o1, &err);
		r |= compress_buf(algos[a].kind, algos[a].level, 2, d, len, 0, &o2, &err);
		r |= compress_buf(algos[a].kind, algos[a].level, 8, d, len, 0, &o8, &err);
		/* odd write sizes, crossing chunk boundaries at random places */
		r |= compress_buf(algos[a].kind, algos[a].level, 3, d, len, 100003, &odd, &err);
		ok(r == 0, "%s compress with jobs 1/2/8", algos[a].name);
		ok(o1.len == o2.len && memcmp(o1.data, o2.data, o1.len) == 0,
		   "%s: jobs 1 and 2 give identical bytes", algos[a].name);
		ok(o1.len == o8.len && memcmp(o1.data, o8.data, o1.len) == 0,
		   "%s: jobs 1 and 8 give identical bytes", algos[a].name);
		ok(o1.len == odd.len && memcmp(o1.data, odd.data, o1.len) == 0,
		   "%s: write boundaries do not change the bytes", algos[a].name);
		lade_error_free(err);
	}
	/* the level reaches zlib */
	_cleanup_buf_ struct lade_buf a = LADE_BUF_INIT;
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	struct lade_error *err = NULL;
	ok(compress_buf(LADE_COMPRESS_GZIP, 1, 1, d, len, 0, &a, &err) == 0 &&
	           compress_buf(LADE_COMPRESS_GZIP, 9, 1, d, len, 0, &b, &err) == 0 &&
	           (a.len != b.len || memcmp(a.data, b.data, a.len) != 0),
	   "levels 1 and 9 give different streams");
	lade_error_free(err);
}

/* ---- decompressor ---- */

/* A source over memory handing out at most `piece` bytes per read (0: all at once), failing
 * once `fail_at` bytes were read (0: never). */
struct mem_source {
	struct lade_source source;
	const unsigned char *data;
	size_t len, pos, piece, fail_at;
	int reads_after_end;
};

static ssize_t mem_read(struct lade_source *s, const void **buf, struct lade_error **err)
{
	struct mem_source *m = (struct mem_source *)s;
	if (m->fail_at && m->pos >= m->fail_at)
		return lade_error_set(err, 0, "source broke");
	if (m->pos == m->len) {
		m->reads_after_end++;
		return 0;
	}
	size_t n = m->len - m->pos;
	if (m->piece && n > m->piece)
		n = m->piece;
	*buf = m->data + m->pos;
	m->pos += n;
	return (ssize_t)n;
}

static void source_init(struct mem_source *m, const void *data, size_t len, size_t piece)
{
	memset(m, 0, sizeof(*m));
	m->source.read = mem_read;
	m->data = data;
	m->len = len;
	m->piece = piece;
}

/* Decompress everything from m; -1 with *err on failure. */
static int drain(enum lade_compression kind, unsigned flags, struct mem_source *m,
                 struct lade_buf *out, struct lade_error **err)
{
	_cleanup_(lade_decompressor_freep) struct lade_decompressor *d = NULL;
	if (lade_decompressor_new(kind, flags, &m->source, &d, err) < 0)
		return -1;
	for (;;) {
		const void *buf;
		ssize_t n = lade_decompressor_next(d, &buf, err);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		lade_buf_add(out, buf, (size_t)n);
	}
	/* The end is sticky. */
	const void *buf;
	return lade_decompressor_next(d, &buf, err) == 0 ? 0 : -1;
}

static int decompress_mem(enum lade_compression kind, unsigned flags, const void *data, size_t len,
                          size_t piece, struct lade_buf *out, struct lade_error **err)
{
	struct mem_source m;
	source_init(&m, data, len, piece);
	return drain(kind, flags, &m, out, err);
}

static bool buf_is(const struct lade_buf *b, const unsigned char *want, size_t len)
{
	return b->len == len && (len == 0 || memcmp(b->data, want, len) == 0);
}

/* A gzip member made by zlib, with optional header fields (all of them with `fields`). */
static void zlib_gzip(const unsigned char *data, size_t len, int level, bool fields,
                      struct lade_buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	gz_header h;
	memset(&h, 0, sizeof(h));
	static unsigned char extra[] = "LA\004\0lade";
	if (fields) {
		h.name = (unsigned char *)"layer.tar";
		h.comment = (unsigned char *)"a comment";
		h.extra = extra;
		h.extra_len = sizeof(extra) - 1;
		h.hcrc = 1;
		h.time = 1234567;
		deflateSetHeader(&z, &h);
	}
	size_t bound = deflateBound(&z, (uLong)len) + 1024;
	size_t start = out->len;
	lade_buf_grow(out, bound);
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	z.next_out = (unsigned char *)out->data + start;
	z.avail_out = (uInt)bound;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	out->len = start + z.total_out;
	deflateEnd(&z);
}

static void zstd_frame(const unsigned char *data, size_t len, struct lade_buf *out)
{
	size_t bound = ZSTD_compressBound(len);
	lade_buf_grow(out, bound);
	size_t n = ZSTD_compress(out->data + out->len, bound, data, len, 3);
	if (ZSTD_isError(n))
		abort();
	out->len += n;
}

static void test_decompress_gzip(void)
{
	static const size_t sizes[] = {0, 1, 1000, 100003, 3 * MiB + 17};
	for (size_t s = 0; s < LADE_ARRAY_SIZE(sizes); s++) {
		_cleanup_free_ unsigned char *d = make_data(sizes[s], 77 + s);
		_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT;
		zlib_gzip(d, sizes[s], 6, false, &gz);
		/* Byte-sized reads only where they stay fast. */
		size_t pieces[] = {0, 4093, sizes[s] <= 100003 ? 1 : 65536};
		for (size_t p = 0; p < LADE_ARRAY_SIZE(pieces); p++) {
			_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
			_cleanup_error_ struct lade_error *err = NULL;
			int r = decompress_mem(LADE_COMPRESS_GZIP, 0, gz.data, gz.len, pieces[p],
			                       &out, &err);
			ok(r == 0 && buf_is(&out, d, sizes[s]),
			   "zlib gzip of %zu bytes, read %zu at a time, inflates%s%s", sizes[s],
			   pieces[p], err ? ": " : "", err ? err->msg : "");
		}
	}

	/* Members of many lengths back to back: each member's end (padding bits, trailer split
	 * across reads) lands everywhere, and every trailer is checked. */
	_cleanup_free_ unsigned char *d = make_data(300000, 5);
	_cleanup_buf_ struct lade_buf multi = LADE_BUF_INIT;
	size_t total = 0;
	for (size_t i = 0; total + i * 1013 <= 300000 && i < 40; i++) {
		zlib_gzip(d + total, i * 1013, i % 10, false, &multi);
		total += i * 1013;
	}
	zlib_gzip(d + total, 0, 6, false, &multi); /* an empty member too */
	for (size_t piece = 0; piece <= 7; piece += 7) {
		_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
		_cleanup_error_ struct lade_error *err = NULL;
		int r = decompress_mem(LADE_COMPRESS_GZIP, 0, multi.data, multi.len, piece, &out,
		                       &err);
		ok(r == 0 && buf_is(&out, d, total),
		   "41 concatenated members inflate as one stream (reads of %zu)%s%s", piece,
		   err ? ": " : "", err ? err->msg : "");
	}

	/* All optional header fields, header crc included, read a byte at a time. */
	_cleanup_buf_ struct lade_buf fields = LADE_BUF_INIT;
	zlib_gzip(d, 5000, 6, true, &fields);
	zlib_gzip(d + 5000, 5000, 6, true, &fields);
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(decompress_mem(LADE_COMPRESS_GZIP, 0, fields.data, fields.len, 1, &out, &err) == 0 &&
	           buf_is(&out, d, 10000),
	   "members with extra, name, comment and header crc%s%s", err ? ": " : "",
	   err ? err->msg : "");

	/* lade's own parallel gzip: one member per 1 MiB chunk. */
	size_t len = 4 * MiB + 333;
	_cleanup_free_ unsigned char *big = make_data(len, 99);
	_cleanup_buf_ struct lade_buf lgz = LADE_BUF_INIT;
	lade_error_freep(&err);
	ok(compress_buf(LADE_COMPRESS_GZIP, 1, 3, big, len, 0, &lgz, &err) == 0,
	   "lade_compressor gzip output");
	lade_buf_release(&out);
	ok(decompress_mem(LADE_COMPRESS_GZIP, 0, lgz.data, lgz.len, 1 << 20, &out, &err) == 0 &&
	           buf_is(&out, big, len),
	   "lade_compressor gzip output inflates%s%s", err ? ": " : "", err ? err->msg : "");
}

static void test_decompress_zstd(void)
{
	_cleanup_free_ unsigned char *d = make_data(2 * MiB + 99, 11);
	_cleanup_buf_ struct lade_buf zs = LADE_BUF_INIT;
	zstd_frame(d, 1000, &zs);
	zstd_frame(d + 1000, 0, &zs);
	zstd_frame(d + 1000, 2 * MiB + 99 - 1000, &zs);
	for (size_t piece = 0; piece <= 4096; piece += 4096) {
		_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
		_cleanup_error_ struct lade_error *err = NULL;
		int r = decompress_mem(LADE_COMPRESS_ZSTD, 0, zs.data, zs.len, piece, &out, &err);
		ok(r == 0 && buf_is(&out, d, 2 * MiB + 99),
		   "three zstd frames inflate as one stream (reads of %zu)%s%s", piece,
		   err ? ": " : "", err ? err->msg : "");
	}
	_cleanup_buf_ struct lade_buf lz = LADE_BUF_INIT;
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(compress_buf(LADE_COMPRESS_ZSTD, 3, 2, d, 2 * MiB + 99, 0, &lz, &err) == 0 &&
	           decompress_mem(LADE_COMPRESS_ZSTD, 0, lz.data, lz.len, 0, &out, &err) == 0 &&
	           buf_is(&out, d, 2 * MiB + 99),
	   "lade_compressor zstd output decompresses%s%s", err ? ": " : "", err ? err->msg : "");
}

/* Decompression of data..len must fail with exactly `want`. */
static void expect_fail(enum lade_compression kind, unsigned flags, const void *data, size_t len,
                        size_t piece, const char *want, const char *what)
{
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(decompress_mem(kind, flags, data, len, piece, &out, &err) == -1, "%s refused", what);
	is_str(err ? err->msg : NULL, want, "%s: message", what);
}

static void test_decompress_errors(void)
{
	_cleanup_free_ unsigned char *d = make_data(200000, 3);
	_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT;
	zlib_gzip(d, 200000, 6, false, &gz);

	expect_fail(LADE_COMPRESS_GZIP, 0, "", 0, 0, "empty gzip stream", "empty gzip input");
	expect_fail(LADE_COMPRESS_ZSTD, 0, "", 0, 0, "empty zstd stream", "empty zstd input");
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(decompress_mem(LADE_COMPRESS_NONE, 0, "", 0, 0, &out, &err) == 0 && out.len == 0,
	   "empty input without compression is an empty stream");

	/* Cut in the header, in the deflate data, in the trailer. */
	static const size_t cuts[] = {1, 5, 9, 100, 50000};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(cuts); i++) {
		char what[64];
		snprintf(what, sizeof(what), "gzip cut after %zu bytes", cuts[i]);
		expect_fail(LADE_COMPRESS_GZIP, 0, gz.data, cuts[i], 0, "truncated gzip stream",
		            what);
	}
	for (size_t cut = 1; cut <= 8; cut += 7) {
		char what[64];
		snprintf(what, sizeof(what), "gzip without %zu trailer bytes", cut);
		expect_fail(LADE_COMPRESS_GZIP, 0, gz.data, gz.len - cut, 4096,
		            "truncated gzip stream", what);
	}
	_cleanup_buf_ struct lade_buf zs = LADE_BUF_INIT;
	zstd_frame(d, 200000, &zs);
	expect_fail(LADE_COMPRESS_ZSTD, 0, zs.data, zs.len - 3, 0, "truncated zstd stream",
	            "zstd cut short");
	expect_fail(LADE_COMPRESS_ZSTD, 0, zs.data, 3, 0, "truncated zstd stream",
	            "zstd cut in the magic");

	/* The trailer: crc and size. */
	_cleanup_buf_ struct lade_buf bad = LADE_BUF_INIT;
	lade_buf_add(&bad, gz.data, gz.len);
	bad.data[bad.len - 8] ^= 1;
	expect_fail(LADE_COMPRESS_GZIP, 0, bad.data, bad.len, 0,
	            "gzip: crc or length mismatch in member trailer", "wrong crc");
	bad.data[bad.len - 8] ^= 1;
	bad.data[bad.len - 1] ^= 0x40;
	expect_fail(LADE_COMPRESS_GZIP, 0, bad.data, bad.len, 0,
	            "gzip: crc or length mismatch in member trailer", "wrong isize");
	bad.data[bad.len - 1] ^= 0x40;

	/* The header. */
	expect_fail(LADE_COMPRESS_GZIP, 0, "hello world", 11, 0, "not a gzip stream", "not gzip");
	static const unsigned char method9[] = {0x1f, 0x8b, 9, 0, 0, 0, 0, 0, 0, 3, 3, 0};
	expect_fail(LADE_COMPRESS_GZIP, 0, method9, sizeof(method9), 0,
	            "gzip: unknown compression method 9", "method 9");
	static const unsigned char flags[] = {0x1f, 0x8b, 8, 0x20, 0, 0, 0, 0, 0, 3, 3, 0};
	expect_fail(LADE_COMPRESS_GZIP, 0, flags, sizeof(flags), 0,
	            "gzip: reserved header flags set", "reserved flag");
	_cleanup_buf_ struct lade_buf hc = LADE_BUF_INIT;
	zlib_gzip(d, 100, 6, true, &hc);
	/* the header crc follows the comment's terminating NUL */
	char *c = memmem(hc.data, hc.len, "a comment", 10);
	if (c)
		c[10] ^= 1;
	expect_fail(LADE_COMPRESS_GZIP, 0, hc.data, hc.len, 0, "gzip: header crc mismatch",
	            "wrong header crc");

	/* The deflate data: a final block of the reserved type 3. */
	static const unsigned char btype3[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0};
	expect_fail(LADE_COMPRESS_GZIP, 0, btype3, sizeof(btype3), 0, "gzip: invalid deflate block",
	            "reserved block type");
	lade_buf_reset(&bad);
	lade_buf_add(&bad, gz.data, gz.len);
	for (size_t i = 2000; i < 2100; i++)
		bad.data[i] = (char)0xff;
	{
		_cleanup_buf_ struct lade_buf o = LADE_BUF_INIT;
		lade_error_freep(&err);
		ok(decompress_mem(LADE_COMPRESS_GZIP, 0, bad.data, bad.len, 0, &o, &err) == -1 &&
		           err && strncmp(err->msg, "gzip: ", 6) == 0,
		   "corrupt deflate data refused: %s", err ? err->msg : "");
	}

	/* After a member: another one, garbage, or a header that is no gzip header. */
	lade_buf_reset(&bad);
	lade_buf_add(&bad, gz.data, gz.len);
	lade_buf_adds(&bad, "junk");
	expect_fail(LADE_COMPRESS_GZIP, 0, bad.data, bad.len, 0,
	            "trailing garbage after gzip stream", "garbage after the member");
	expect_fail(LADE_COMPRESS_GZIP, LADE_DECOMPRESS_ZERO_PADDING, bad.data, bad.len, 0,
	            "trailing garbage after gzip stream", "ZERO_PADDING: garbage after the member");
	lade_buf_reset(&bad);
	lade_buf_add(&bad, gz.data, gz.len);
	lade_buf_add(&bad, method9, sizeof(method9));
	expect_fail(LADE_COMPRESS_GZIP, 0, bad.data, bad.len, 0,
	            "gzip: unknown compression method 9", "second member of method 9");
	expect_fail(LADE_COMPRESS_GZIP, LADE_DECOMPRESS_ZERO_PADDING, bad.data, bad.len, 0,
	            "gzip: unknown compression method 9",
	            "ZERO_PADDING: a second header of method 9 is no padding");
	lade_buf_reset(&bad);
	lade_buf_add(&bad, gz.data, gz.len);
	lade_buf_add(&bad, gz.data, 6);
	expect_fail(LADE_COMPRESS_GZIP, 0, bad.data, bad.len, 0, "truncated gzip stream",
	            "second member cut in its header");
	expect_fail(LADE_COMPRESS_GZIP, LADE_DECOMPRESS_ZERO_PADDING, bad.data, bad.len, 0,
	            "truncated gzip stream", "ZERO_PADDING: a second member cut in its header");
	/* Zero padding to the end is read (and checked) to its end. */
	_cleanup_free_ unsigned char *tail = xzalloc(100000);
	lade_buf_reset(&bad);
	lade_buf_add(&bad, gz.data, gz.len);
	lade_buf_add(&bad, tail, 100000);
	struct mem_source m;
	source_init(&m, bad.data, bad.len, 4096);
	lade_buf_release(&out);
	ok(drain(LADE_COMPRESS_GZIP, LADE_DECOMPRESS_ZERO_PADDING, &m, &out, &err) == 0 &&
	           buf_is(&out, d, 200000) && m.pos == bad.len,
	   "ZERO_PADDING: zero padding ends the stream, read to its end (read %zu of %zu)", m.pos,
	   bad.len);
	expect_fail(LADE_COMPRESS_GZIP, 0, bad.data, bad.len, 4096,
	            "trailing garbage after gzip stream", "zero padding without ZERO_PADDING");
	lade_buf_addch(&bad, 'x');
	expect_fail(LADE_COMPRESS_GZIP, LADE_DECOMPRESS_ZERO_PADDING, bad.data, bad.len, 4096,
	            "trailing garbage after gzip stream", "ZERO_PADDING: zeros, then a byte");
	lade_buf_reset(&bad);
	lade_buf_add(&bad, zs.data, zs.len);
	lade_buf_adds(&bad, "junk");
	expect_fail(LADE_COMPRESS_ZSTD, LADE_DECOMPRESS_ZERO_PADDING, bad.data, bad.len, 0,
	            "zstd: Unknown frame descriptor", "garbage after a zstd frame");
	expect_fail(LADE_COMPRESS_ZSTD, 0, gz.data, gz.len, 0, "zstd: Unknown frame descriptor",
	            "gzip labelled zstd");
	expect_fail(LADE_COMPRESS_GZIP, 0, zs.data, zs.len, 0, "not a gzip stream",
	            "zstd labelled gzip");

	/* The source's own errors pass through; the decompressor stays failed. */
	source_init(&m, gz.data, gz.len, 1000);
	m.fail_at = 5000;
	_cleanup_(lade_decompressor_freep) struct lade_decompressor *dec = NULL;
	lade_error_freep(&err);
	ok(lade_decompressor_new(LADE_COMPRESS_GZIP, 0, &m.source, &dec, &err) == 0,
	   "decompressor over a failing source");
	const void *buf;
	ssize_t n;
	while ((n = lade_decompressor_next(dec, &buf, &err)) > 0)
		;
	ok(n == -1, "source failure reported");
	is_str(err ? err->msg : NULL, "source broke", "source failure message");
	lade_error_freep(&err);
	ok(lade_decompressor_next(dec, &buf, &err) == -1, "next after failure refused");
	is_str(err ? err->msg : NULL, "gzip decompressor: an earlier read failed",
	       "next after failure message");
	lade_error_freep(&err);
	struct lade_decompressor *none = NULL;
	ok(lade_decompressor_new((enum lade_compression)7, 0, &m.source, &none, &err) == -1 &&
	           none == NULL,
	   "unknown compression refused");
	is_str(err ? err->msg : NULL, "unknown compression 7", "unknown compression message");
}

static void test_decompress_detect(void)
{
	_cleanup_free_ unsigned char *d = make_data(70000, 8);
	_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT, zs = LADE_BUF_INIT;
	zlib_gzip(d, 70000, 1, false, &gz);
	zstd_frame(d, 70000, &zs);
	static const unsigned char plain[] = "usr/bin/python3";
	struct {
		const void *data;
		size_t len;
		enum lade_compression want;
		const unsigned char *content;
		size_t content_len;
	} cases[] = {
	        {gz.data, gz.len, LADE_COMPRESS_GZIP, d, 70000},
	        {zs.data, zs.len, LADE_COMPRESS_ZSTD, d, 70000},
	        {plain, sizeof(plain), LADE_COMPRESS_NONE, plain, sizeof(plain)},
	        {plain, 2, LADE_COMPRESS_NONE, plain, 2},
	        {"", 0, LADE_COMPRESS_NONE, plain, 0},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(cases); i++) {
		for (size_t piece = 0; piece <= 3; piece += 1) {
			if (piece == 2)
				continue;
			struct mem_source m;
			source_init(&m, cases[i].data, cases[i].len, piece);
			_cleanup_(lade_decompressor_freep) struct lade_decompressor *dec = NULL;
			_cleanup_error_ struct lade_error *err = NULL;
			_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
			/* The argument is ignored with DETECT. */
			bool good =
			        lade_decompressor_new(LADE_COMPRESS_ZSTD, LADE_DECOMPRESS_DETECT,
			                              &m.source, &dec, &err) == 0;
			const void *buf;
			ssize_t n;
			while (good && (n = lade_decompressor_next(dec, &buf, &err)) != 0) {
				if (n < 0)
					good = false;
				else
					lade_buf_add(&out, buf, (size_t)n);
			}
			ok(good && lade_decompressor_kind(dec) == cases[i].want &&
			           buf_is(&out, cases[i].content, cases[i].content_len),
			   "DETECT case %zu (reads of %zu): %s%s%s", i, piece,
			   lade_compression_name(cases[i].want), err ? ": " : "",
			   err ? err->msg : "");
		}
	}
}

/* ---- splicing ---- */

/* Raw deflate (no header) of data by zlib at `level`, as a zip member holds it. */
static void raw_deflate(const unsigned char *data, size_t len, int level, struct lade_buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	size_t bound = deflateBound(&z, (uLong)len);
	lade_buf_grow(out, bound);
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	z.next_out = (unsigned char *)out->data + out->len;
	z.avail_out = (uInt)bound;
	deflate(&z, Z_FINISH);
	out->len += z.total_out;
	deflateEnd(&z);
}

struct splice_case {
	size_t prefix, member, suffix; /* bytes before, of, after the spliced member */
	uint32_t crc_xor;              /* damage to the CRC given to splice_begin */
	size_t short_by;               /* content bytes left out */
};

/* prefix, a spliced member (content d+prefix, deflated by zlib -9), suffix; jobs workers,
 * the content written in pieces of 4099 bytes. */
static int splice_buf(const unsigned char *d, const struct splice_case *sc, int jobs,
                      const struct lade_buf *raw, struct lade_buf *out, struct lade_error **err)
{
	struct mem_sink m;
	sink_init(&m);
	_cleanup_(lade_compressor_freep) struct lade_compressor *c = NULL;
	if (lade_compressor_new(LADE_COMPRESS_GZIP, -1, jobs, &m.stream, &c, err) < 0)
		return -1;
	struct lade_stream *in = lade_compressor_stream(c), *rs = NULL;
	const unsigned char *content = d + sc->prefix;
	uint32_t crc = (uint32_t)crc32(0, content, (uInt)sc->member) ^ sc->crc_xor;
	int r = lade_stream_write(in, d, sc->prefix, err);
	if (r == 0)
		r = lade_compressor_splice_begin(c, crc, sc->member, &rs, err);
	for (size_t off = 0; r == 0 && off < raw->len; off += 1000)
		r = lade_stream_write(rs, raw->data + off,
		                      raw->len - off < 1000 ? raw->len - off : 1000, err);
	for (size_t off = 0; r == 0 && off < sc->member - sc->short_by; off += 4099) {
		size_t n = sc->member - sc->short_by - off;
		r = lade_stream_write(in, content + off, n < 4099 ? n : 4099, err);
	}
	if (r == 0)
		r = lade_compressor_splice_end(c, err);
	if (r == 0)
		r = lade_stream_write(in, content + sc->member, sc->suffix, err);
	if (r == 0)
		r = lade_compressor_finish(c, err);
	if (r < 0) {
		lade_buf_release(&m.buf);
		return -1;
	}
	*out = m.buf;
	return 0;
}

static void test_splice(void)
{
	const struct splice_case good = {.prefix = 3 * MiB / 2, .member = 700000, .suffix = 5000};
	size_t total = good.prefix + good.member + good.suffix;
	_cleanup_free_ unsigned char *d = make_data(total, 77);
	_cleanup_buf_ struct lade_buf raw = LADE_BUF_INIT;
	raw_deflate(d + good.prefix, good.member, 9, &raw);

	_cleanup_buf_ struct lade_buf o1 = LADE_BUF_INIT;
	_cleanup_buf_ struct lade_buf o3 = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(splice_buf(d, &good, 1, &raw, &o1, &err) == 0 &&
	           splice_buf(d, &good, 3, &raw, &o3, &err) == 0,
	   "splice a member between compressed chunks%s%s", err ? ": " : "", err ? err->msg : "");
	ok(o1.len == o3.len && memcmp(o1.data, o3.data, o1.len) == 0,
	   "jobs 1 and 3 give the same spliced stream");
	_cleanup_buf_ struct lade_buf content = LADE_BUF_INIT;
	int members = gzip_members(&o1, &content);
	/* 1 MiB + 0.5 MiB of prefix, the spliced member, the suffix */
	ok(members == 4, "prefix chunks, spliced member and suffix are 4 members (got %d)",
	   members);
	ok(content.len == total && memcmp(content.data, d, total) == 0,
	   "the members inflate to the whole input");
	ok(memmem(o1.data, o1.len, raw.data, raw.len) != NULL,
	   "the member's deflate bytes appear unchanged in the output");
	_cleanup_buf_ struct lade_buf back = LADE_BUF_INIT;
	ok(decompress_mem(LADE_COMPRESS_GZIP, 0, o1.data, o1.len, 65536, &back, &err) == 0 &&
	           buf_is(&back, d, total),
	   "lade's decompressor reads the spliced stream%s%s", err ? ": " : "",
	   err ? err->msg : "");

	/* The spliced member's trailer is checked on the way back: damage its ISIZE. */
	const char *at = memmem(o1.data, o1.len, raw.data, raw.len);
	size_t isize_off = (size_t)(at - o1.data) + raw.len + 4;
	o1.data[isize_off] ^= 1;
	lade_error_freep(&err);
	lade_buf_release(&back);
	ok(decompress_mem(LADE_COMPRESS_GZIP, 0, o1.data, o1.len, 0, &back, &err) == -1,
	   "a wrong ISIZE in a later member is refused");
	is_str(err ? err->msg : NULL, "gzip: crc or length mismatch in member trailer",
	       "ISIZE message");
	o1.data[isize_off] ^= 1;
	o1.data[isize_off - 4] ^= 1;
	lade_error_freep(&err);
	lade_buf_release(&back);
	ok(decompress_mem(LADE_COMPRESS_GZIP, 0, o1.data, o1.len, 0, &back, &err) == -1,
	   "a wrong CRC-32 in a later member is refused");

	/* The content must be what the trailer says. */
	struct splice_case bad_crc = good;
	bad_crc.crc_xor = 0x10;
	_cleanup_buf_ struct lade_buf x = LADE_BUF_INIT;
	lade_error_freep(&err);
	ok(splice_buf(d, &bad_crc, 2, &raw, &x, &err) == -1, "splice with a wrong CRC-32 fails");
	ok(err && strstr(err->msg, "gzip splice: content crc-32 ") == err->msg,
	   "wrong CRC message: %s", err ? err->msg : "(none)");
	struct splice_case short_content = good;
	short_content.short_by = 1;
	lade_error_freep(&err);
	ok(splice_buf(d, &short_content, 1, &raw, &x, &err) == -1,
	   "splice with content one byte short fails");
	is_str(err ? err->msg : NULL,
	       "gzip splice: content has 699999 bytes, the deflate stream 700000",
	       "short content message");

	/* Where splicing does not apply. */
	struct mem_sink m;
	sink_init(&m);
	_cleanup_(lade_compressor_freep) struct lade_compressor *gz = NULL;
	_cleanup_(lade_compressor_freep) struct lade_compressor *zs = NULL;
	lade_error_freep(&err);
	ok(lade_compressor_new(LADE_COMPRESS_GZIP, -1, 1, &m.stream, &gz, &err) == 0 &&
	           lade_compressor_new(LADE_COMPRESS_ZSTD, -1, 1, &m.stream, &zs, &err) == 0,
	   "compressors");
	ok(lade_compressor_can_splice(gz, LADE_SPLICE_MIN_RAW, 100000), "gzip splices 1 KiB");
	ok(!lade_compressor_can_splice(gz, LADE_SPLICE_MIN_RAW - 1, 100000),
	   "smaller deflate data is recompressed");
	ok(!lade_compressor_can_splice(zs, 1 << 20, 4 << 20), "zstd never splices");
	struct lade_stream *rs = NULL;
	ok(lade_compressor_splice_begin(zs, 0, 1, &rs, &err) == -1, "zstd splice_begin refused");
	lade_error_freep(&err);
	ok(lade_compressor_splice_end(gz, &err) == -1, "splice_end without begin refused");
	lade_buf_release(&m.buf);
}

int main(void)
{
	test_names();
	test_errors();
	test_round_trips();
	test_gzip_format();
	test_gzip_tool();
	test_determinism();
	test_decompress_gzip();
	test_decompress_zstd();
	test_decompress_errors();
	test_decompress_detect();
	test_splice();
	return tap_done();
}
