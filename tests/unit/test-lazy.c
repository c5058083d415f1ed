/* Unit tests for manifest/lazy.c and lazy-check.c (eStargz) and the compressor's member cuts:
 * the footer against zlib's reading of it, the TOC's JSON shape, cut offsets, the TOC member
 * as one member, and lade_layer_write with lazy: tar order around the landmark, chunks, the
 * check of the blob against its TOC, reserved names. */
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "lade/compress.h"
#include "lade/layer.h"
#include "lade/lazy.h"
#include "lade/store.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

/* Inflate a series of gzip members with zlib; -1 when one is broken. members: how many. */
static int gunzip_all(const unsigned char *p, size_t len, struct lade_buf *out, size_t *members)
{
	*members = 0;
	while (len > 0) {
		z_stream z = {0};
		if (inflateInit2(&z, 31) != Z_OK)
			return -1;
		z.next_in = (unsigned char *)p;
		z.avail_in = (uInt)len;
		unsigned char buf[65536];
		int r;
		do {
			z.next_out = buf;
			z.avail_out = sizeof(buf);
			r = inflate(&z, Z_NO_FLUSH);
			lade_buf_add(out, buf, sizeof(buf) - z.avail_out);
		} while (r == Z_OK);
		size_t used = len - z.avail_in;
		inflateEnd(&z);
		if (r != Z_STREAM_END)
			return -1;
		p += used;
		len -= used;
		(*members)++;
	}
	return 0;
}

static void test_footer(void)
{
	unsigned char f[LADE_ESTARGZ_FOOTER_SIZE];
	lade_estargz_footer(0x1234abcd, f);
	z_stream z = {0};
	unsigned char extra[64] = {0}, out[16];
	gz_header h = {0};
	h.extra = extra;
	h.extra_max = sizeof(extra);
	inflateInit2(&z, 31);
	inflateGetHeader(&z, &h);
	z.next_in = f;
	z.avail_in = sizeof(f);
	z.next_out = out;
	z.avail_out = sizeof(out);
	int r = inflate(&z, Z_FINISH);
	ok(r == Z_STREAM_END && z.avail_in == 0 && z.total_out == 0,
	   "the footer is one empty gzip member of exactly 51 bytes (zlib)");
	ok(h.extra_len == 26 && memcmp(extra, "SG\x16\x00", 4) == 0 &&
	           memcmp(extra + 4, "000000001234abcdSTARGZ", 22) == 0,
	   "its FEXTRA subfield SG holds %%016x of the TOC offset and STARGZ");
	inflateEnd(&z);

	uint64_t off = 0;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_estargz_parse_footer(f, &off, &err) == 0 && off == 0x1234abcd,
	   "parse_footer gives the offset back");
	f[20] = 'x';
	ok(lade_estargz_parse_footer(f, &off, &err) < 0 && strstr(err->msg, "footer"),
	   "a damaged footer is refused (%s)", err ? err->msg : "accepted");
}

static struct lade_entry *entry(const char *path, enum lade_entry_type type, uint64_t size)
{
	struct lade_entry *e = lade_entry_new(path, type, "test");
	e->mode = type == LADE_ENTRY_DIR ? 0755 : 0644;
	e->size = size;
	return e;
}

static void test_toc(void)
{
	static const char d1[LADE_DIGEST_STRLEN] =
	        "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	static const char d2[LADE_DIGEST_STRLEN] =
	        "sha256:2222222222222222222222222222222222222222222222222222222222222222";
	_cleanup_(lade_toc_freep) struct lade_toc *t = lade_toc_new(LADE_LAZY_ESTARGZ, 1700000000);
	_cleanup_(lade_entry_freep) struct lade_entry *dir = entry("a", LADE_ENTRY_DIR, 0);
	_cleanup_(lade_entry_freep) struct lade_entry *big =
	        entry("a/big", LADE_ENTRY_FILE, 5 << 20);
	_cleanup_(lade_entry_freep) struct lade_entry *lnk = entry("a/l", LADE_ENTRY_SYMLINK, 0);
	lnk->link = xstrdup("big");
	lnk->uid = 7;
	lade_toc_add(t, dir);
	lade_toc_add(t, big);
	lade_toc_chunk(t, 100, 0, 4 << 20, true, d1);
	lade_toc_chunk(t, 900, 4 << 20, 1 << 20, false, d2);
	lade_toc_file_digest(t, d2);
	lade_toc_add(t, lnk);
	_cleanup_free_ char *s = lade_toc_dump(t);
	json_t *j = json_loads(s, 0, NULL);
	json_t *e = json_object_get(j, "entries");
	ok(json_integer_value(json_object_get(j, "version")) == 1 && json_array_size(e) == 4,
	   "version 1, four entries (dir, file, its second chunk, symlink)");
	json_t *e0 = json_array_get(e, 0), *e1 = json_array_get(e, 1), *e2 = json_array_get(e, 2),
	       *e3 = json_array_get(e, 3);
	is_str(json_string_value(json_object_get(e0, "name")), "a/",
	       "a directory's name ends in /");
	is_str(json_string_value(json_object_get(e0, "modtime")), "2023-11-14T22:13:20Z",
	       "modtime is RFC 3339 UTC");
	ok(json_integer_value(json_object_get(e1, "offset")) == 100 &&
	           json_integer_value(json_object_get(e1, "chunkSize")) == 4 << 20 &&
	           json_object_get(e1, "chunkOffset") == NULL &&
	           json_integer_value(json_object_get(e1, "size")) == 5 << 20,
	   "the file's entry holds its first chunk (chunkOffset 0 left out)");
	is_str(json_string_value(json_object_get(e1, "digest")), d2, "the file's digest");
	ok(strcmp(json_string_value(json_object_get(e2, "type")), "chunk") == 0 &&
	           strcmp(json_string_value(json_object_get(e2, "name")), "a/big") == 0 &&
	           json_integer_value(json_object_get(e2, "chunkOffset")) == 4 << 20 &&
	           json_object_get(e2, "chunkSize") == NULL,
	   "the last, shorter chunk: named, no chunkSize (as the reference writes it)");
	ok(strcmp(json_string_value(json_object_get(e3, "linkName")), "big") == 0 &&
	           json_integer_value(json_object_get(e3, "uid")) == 7 &&
	           json_object_get(e3, "gid") == NULL && json_object_get(e3, "size") == NULL,
	   "symlink: linkName, uid; zero gid and size left out");
	json_decref(j);

	_cleanup_(lade_toc_freep) struct lade_toc *t0 = lade_toc_new(LADE_LAZY_ESTARGZ, 0);
	lade_toc_add(t0, dir);
	_cleanup_free_ char *s0 = lade_toc_dump(t0);
	ok(strstr(s0, "modtime") == NULL, "mtime 0: no modtime, as the reference omits the epoch");
}

static void test_cut(void)
{
	struct buf_sink m;
	buf_sink_init(&m);
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_compressor_freep) struct lade_compressor *c = NULL;
	ok(lade_compressor_new(LADE_COMPRESS_GZIP, -1, 2, &m.stream, &c, &err) == 0,
	   "gzip compressor, 2 jobs");
	struct lade_stream *in = lade_compressor_stream(c);
	_cleanup_free_ unsigned char *data = xmalloc(3 << 20);
	for (size_t i = 0; i < 3u << 20; i++)
		data[i] = (unsigned char)("lazy pulling "[i % 13] ^ (i >> 16));
	uint64_t a = 1, b = 2, toc = 0;
	lade_stream_write(in, data, 100, &err);
	ok(lade_compressor_cut(c, &a, &err) == 0 && a == m.buf.len && a > 0,
	   "cut: everything before is out, the offset is its length");
	ok(lade_compressor_cut(c, &b, &err) == 0 && b == a, "two cuts in a row: one offset");
	lade_stream_write(in, data, 2 << 20, &err);
	ok(lade_compressor_last_member(c, &toc, &err) == 0 && toc == m.buf.len,
	   "last_member cuts first");
	lade_stream_write(in, data, 3 << 20, &err);
	ok(lade_compressor_cut(c, &b, &err) < 0, "no cut inside the last member");
	lade_error_free(err);
	err = NULL;
	ok(lade_compressor_finish(c, &err) == 0, "finish");
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	size_t members = 0;
	ok(gunzip_all((unsigned char *)m.buf.data + toc, m.buf.len - toc, &out, &members) == 0 &&
	           members == 1 && out.len == 3u << 20 && memcmp(out.data, data, out.len) == 0,
	   "the last 3 MiB are one member (the 1 MiB chunking does not apply)");
	lade_buf_release(&out);
	lade_buf_init(&out);
	ok(gunzip_all((unsigned char *)m.buf.data, m.buf.len, &out, &members) == 0 &&
	           out.len == 100 + (2u << 20) + (3u << 20),
	   "the whole output inflates to the input");
	lade_buf_release(&m.buf);
}

static char *join(char **v)
{
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			lade_buf_addch(&b, ' ');
		lade_buf_adds(&b, v[i]);
	}
	return lade_buf_detach(&b, NULL);
}

/* The names of a tar stream, in order (ustar names, no pax: short test names). */
static char **tar_names(const struct lade_buf *tar)
{
	char **names = NULL;
	for (size_t pos = 0; pos + 512 <= tar->len;) {
		const char *h = tar->data + pos;
		if (h[0] == '\0')
			break;
		char name[101] = {0};
		memcpy(name, h, 100);
		lade_strv_push(&names, name);
		char sz[13] = {0};
		memcpy(sz, h + 124, 12);
		uint64_t size = strtoull(sz, NULL, 8);
		pos += 512 + (size + 511) / 512 * 512;
	}
	return names;
}

static int write_lazy(struct lade_store *store, char *const *prefetch,
                      struct lade_layer_result *res, struct lade_buf *tar, size_t *members,
                      struct lade_error **err)
{
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("lazy");
	struct lade_entry *x = entry("app/x.py", LADE_ENTRY_FILE, 0);
	lade_buf_adds(&x->data, "print('x')\n");
	x->size = x->data.len;
	struct lade_entry *init = entry("app/__init__.py", LADE_ENTRY_FILE, 0);
	struct lade_entry *big = entry("lib/big.bin", LADE_ENTRY_FILE, 0);
	for (size_t i = 0; i < (5u << 20) / 8; i++)
		lade_buf_addf(&big->data, "%07zx\n", i);
	big->size = big->data.len;
	if (lade_layer_add(l, x, err) < 0 || lade_layer_add(l, init, err) < 0 ||
	    lade_layer_add(l, big, err) < 0)
		return -1;
	struct lade_layer_options o = {.compression = LADE_COMPRESS_GZIP,
	                               .level = -1,
	                               .jobs = 2,
	                               .lazy = LADE_LAZY_ESTARGZ,
	                               .prefetch = prefetch};
	if (lade_layer_write(l, &o, store, res, err) < 0)
		return -1;
	_cleanup_free_ char *path = lade_store_blob_path(store, res->digest);
	_cleanup_buf_ struct lade_buf blob = LADE_BUF_INIT;
	if (lade_read_file(path, 64 << 20, &blob, err) < 0)
		return -1;
	if (gunzip_all((unsigned char *)blob.data, blob.len, tar, members) < 0)
		return lade_error_set(err, 0, "zlib cannot read the blob");
	size_t chunks = 0;
	if (lade_estargz_check(path, res->toc_digest, &chunks, err) < 0)
		return -1;
	return (int)chunks;
}

static void test_layer(const char *tmp)
{
	_cleanup_free_ char *dir = xasprintf("%s/store", tmp);
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	if (lade_store_open(dir, 0, &store, &err) < 0)
		bail_out("store: %s", err->msg);

	char *prefetch[] = {"**/__init__.py", NULL};
	struct lade_layer_result res;
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	size_t members = 0;
	int chunks = write_lazy(store, prefetch, &res, &tar, &members, &err);
	ok(chunks == 4,
	   "written and checked against its TOC: 4 chunks (x.py, landmark, big.bin "
	   "in 2; the empty __init__.py has none) (%s)",
	   err ? err->msg : "ok");
	_cleanup_strv_ char **names = tar_names(&tar);
	_cleanup_free_ char *joined = join(names);
	is_str(joined,
	       "app/ app/__init__.py .prefetch.landmark app/x.py lib/ lib/big.bin "
	       "stargz.index.json",
	       "prefetched entry and its parent, the landmark, the rest, the TOC last");
	ok(res.prefetch_bytes > 0 && res.toc_digest[0] && members >= 7,
	   "prefetch_bytes %" PRIu64 ", toc digest, %zu members", res.prefetch_bytes, members);

	lade_buf_release(&tar);
	lade_buf_init(&tar);
	struct lade_layer_result again;
	chunks = write_lazy(store, NULL, &again, &tar, &members, &err);
	lade_strv_free(names);
	names = tar_names(&tar);
	free(joined);
	joined = join(names);
	is_str(joined,
	       ".no.prefetch.landmark app/ app/__init__.py app/x.py lib/ lib/big.bin "
	       "stargz.index.json",
	       "nothing prefetched: the no-prefetch landmark first");
	ok(chunks == 4 && again.prefetch_bytes == 0 && strcmp(again.digest, res.digest) != 0,
	   "no prefetch bytes; another blob");

	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("reserved");
	struct lade_entry *bad = entry("stargz.index.json", LADE_ENTRY_FILE, 0);
	lade_layer_add(l, bad, &err);
	struct lade_layer_options o = {.compression = LADE_COMPRESS_GZIP,
	                               .level = -1,
	                               .jobs = 1,
	                               .lazy = LADE_LAZY_ESTARGZ};
	ok(lade_layer_write(l, &o, store, &again, &err) < 0 &&
	           strstr(err->msg, "stargz.index.json from test: the name is reserved"),
	   "a layer entry named stargz.index.json is refused (%s)", err ? err->msg : "accepted");
	lade_error_free(err);
	err = NULL;
	o.compression = LADE_COMPRESS_ZSTD;
	ok(lade_layer_write(l, &o, store, &again, &err) < 0 &&
	           strstr(err->msg, "eStargz layers need gzip compression"),
	   "eStargz with zstd is refused (%s)", err ? err->msg : "accepted");
}

/* zstd cuts: each piece between two cuts is a frame of its own that decodes alone; the tail:
 * the manifest and the footer in skippable frames, where the position says. */
static void test_zstd_chunked(void)
{
	struct buf_sink m;
	buf_sink_init(&m);
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_compressor_freep) struct lade_compressor *c = NULL;
	ok(lade_compressor_new(LADE_COMPRESS_ZSTD, -1, 2, &m.stream, &c, &err) == 0,
	   "zstd, 2 jobs");
	struct lade_stream *in = lade_compressor_stream(c);
	uint64_t a = 0, b = 0, e = 0;
	lade_stream_write(in, "header ", 7, &err);
	ok(lade_compressor_cut(c, &a, &err) == 0 && a == m.buf.len, "cut ends a frame");
	lade_stream_write(in, "the file's content", 18, &err);
	ok(lade_compressor_cut(c, &b, &err) == 0 && lade_compressor_cut(c, &e, &err) == 0 && b == e,
	   "two cuts in a row: no empty frame");
	char out[64];
	size_t n = ZSTD_decompress(out, sizeof(out), m.buf.data + a, b - a);
	ok(!ZSTD_isError(n) && n == 18 && memcmp(out, "the file's content", 18) == 0,
	   "the frame between the cuts decodes alone to the file's content");
	ok(lade_compressor_finish(c, &err) == 0 && m.buf.len == b,
	   "finish right after a cut writes no empty last frame");

	struct lade_buf tail = LADE_BUF_INIT;
	char sum[LADE_DIGEST_STRLEN], pos[96];
	const char *toc = "{\"entries\":[],\"version\":1}";
	ok(lade_zstd_chunked_tail(toc, 3, 1000, &tail, sum, pos, &err) == 0, "tail");
	const unsigned char *t = (const unsigned char *)tail.data;
	size_t zlen = tail.len - 8 - 48;
	_cleanup_free_ char *want = xasprintf("1008:%zu:%zu:1", zlen, strlen(toc));
	is_str(pos, want,
	       "position: manifest offset (after the 8-byte frame header), lengths, type 1");
	ok(memcmp(t, "\x50\x2a\x4d\x18", 4) == 0 && t[4] == (zlen & 0xff) &&
	           memcmp(t + 8 + zlen, "\x50\x2a\x4d\x18\x28\x00\x00\x00", 8) == 0,
	   "manifest and footer (40 bytes) are skippable frames");
	ok(memcmp(t + tail.len - 8, "GnUlInUx", 8) == 0 && t[tail.len - 40] == 0xf0 &&
	           t[tail.len - 39] == 0x03,
	   "footer: offset 1008 little-endian first, the GnUlInUx magic last");
	n = ZSTD_decompress(out, sizeof(out), t + 8, zlen);
	ok(!ZSTD_isError(n) && n == strlen(toc) && memcmp(out, toc, n) == 0,
	   "the manifest decodes to the TOC");
	lade_buf_release(&tail);
	lade_buf_release(&m.buf);
}

int main(void)
{
	_cleanup_free_ char *tmp = make_tmpdir("lazy");
	test_footer();
	test_toc();
	test_cut();
	test_layer(tmp);
	test_zstd_chunked();
	rm_rf(tmp);
	return tap_done();
}
