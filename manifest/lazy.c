/* lade — lazy-pull layer formats: eStargz constants, TOC and footer (see include/lade/lazy.h). */
#include <inttypes.h>
#include <jansson.h>
#include <zstd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lade/layer.h"
#include "lade/lazy.h"
#include "lade/util.h"

int lade_lazy_parse(const char *name, enum lade_lazy *out)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "none") == 0)
		*out = LADE_LAZY_NONE;
	else if (strcmp(name, "estargz") == 0)
		*out = LADE_LAZY_ESTARGZ;
	else if (strcmp(name, "zstd-chunked") == 0)
		*out = LADE_LAZY_ZSTD_CHUNKED;
	else
		return -1;
	return 0;
}

const char *lade_lazy_name(enum lade_lazy l)
{
	return l == LADE_LAZY_ESTARGZ        ? "estargz"
	       : l == LADE_LAZY_ZSTD_CHUNKED ? "zstd-chunked"
	                                     : "none";
}

/* ---- footer ---- */

/* 10-byte gzip header with FEXTRA (mtime 0, XFL 0, OS 255), XLEN 26, subfield "SG" of 22
 * bytes; after the subfield text, a final stored block of length 0 and the trailer of an empty
 * member (CRC-32 0, ISIZE 0): what Go's gzip writer at NoCompression gives, 51 bytes. */
static const unsigned char footer_head[16] = {0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00,
                                              0x00, 0xff, 0x1a, 0x00, 'S',  'G',  0x16, 0x00};
static const unsigned char footer_tail[13] = {0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};

void lade_estargz_footer(uint64_t toc_offset, unsigned char out[LADE_ESTARGZ_FOOTER_SIZE])
{
	char sub[23];
	snprintf(sub, sizeof(sub), "%016" PRIx64 "STARGZ", toc_offset);
	memcpy(out, footer_head, sizeof(footer_head));
	memcpy(out + sizeof(footer_head), sub, 22);
	memcpy(out + sizeof(footer_head) + 22, footer_tail, sizeof(footer_tail));
}

int lade_estargz_parse_footer(const unsigned char in[LADE_ESTARGZ_FOOTER_SIZE],
                              uint64_t *toc_offset, struct lade_error **err)
{
	if (memcmp(in, footer_head, sizeof(footer_head)) != 0 ||
	    memcmp(in + sizeof(footer_head) + 16, "STARGZ", 6) != 0 ||
	    memcmp(in + sizeof(footer_head) + 22, footer_tail, sizeof(footer_tail)) != 0)
		return lade_error_set(err, 0, "not an eStargz footer");
	uint64_t v = 0;
	for (size_t i = 0; i < 16; i++) {
		unsigned char ch = in[sizeof(footer_head) + i];
		int d = ch >= '0' && ch <= '9'   ? ch - '0'
		        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
		                                 : -1;
		if (d < 0)
			return lade_error_set(err, 0, "not an eStargz footer: bad TOC offset");
		v = v << 4 | (uint64_t)d;
	}
	*toc_offset = v;
	return 0;
}

/* ---- TOC ---- */

struct lade_toc {
	json_t *entries;
	json_t *file; /* the last regular file added (borrowed from entries) */
	char modtime[32];
};

struct lade_toc *lade_toc_new(enum lade_lazy kind, int64_t mtime)
{
	struct lade_toc *t = xzalloc(sizeof(*t));
	t->entries = json_array();
	if (mtime != 0 || kind == LADE_LAZY_ZSTD_CHUNKED) {
		time_t s = (time_t)mtime;
		struct tm tm;
		if (gmtime_r(&s, &tm) != NULL)
			strftime(t->modtime, sizeof(t->modtime), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	return t;
}

void lade_toc_free(struct lade_toc *t)
{
	if (t == NULL)
		return;
	json_decref(t->entries);
	free(t);
}

void lade_toc_freep(struct lade_toc **t)
{
	lade_toc_free(*t);
	*t = NULL;
}

/* Go's omitempty: zero numbers and empty strings are left out, as the reference writes them. */
static void set_int(json_t *o, const char *key, uint64_t v)
{
	if (v != 0)
		json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v != NULL && *v != '\0')
		json_object_set_new(o, key, json_string(v));
}

void lade_toc_add(struct lade_toc *t, const struct lade_entry *e)
{
	json_t *o = json_object();
	const char *type = "reg";
	_cleanup_free_ char *name = NULL;
	switch (e->type) {
	case LADE_ENTRY_DIR:
		type = "dir";
		name = xasprintf("%s/", e->path);
		break;
	case LADE_ENTRY_SYMLINK:
		type = "symlink";
		break;
	case LADE_ENTRY_HARDLINK:
		type = "hardlink";
		break;
	default:
		break;
	}
	set_str(o, "name", name ? name : e->path);
	set_str(o, "type", type);
	if (e->type == LADE_ENTRY_FILE)
		set_int(o, "size", e->size);
	set_str(o, "modtime", t->modtime);
	set_str(o, "linkName",
	        e->type == LADE_ENTRY_SYMLINK || e->type == LADE_ENTRY_HARDLINK ? e->link : NULL);
	set_int(o, "mode", e->mode & 07777);
	set_int(o, "uid", e->uid);
	set_int(o, "gid", e->gid);
	json_array_append_new(t->entries, o);
	t->file = e->type == LADE_ENTRY_FILE ? o : NULL;
}

void lade_toc_chunk(struct lade_toc *t, uint64_t offset, uint64_t chunk_offset, uint64_t size,
                    bool sized, const char chunk_digest[LADE_DIGEST_STRLEN])
{
	json_t *o = t->file;
	if (chunk_offset > 0) {
		/* A later chunk: an entry of its own naming the file. */
		o = json_object();
		set_str(o, "name", json_string_value(json_object_get(t->file, "name")));
		set_str(o, "type", "chunk");
		json_array_append_new(t->entries, o);
	}
	set_int(o, "offset", offset);
	set_int(o, "chunkOffset", chunk_offset);
	if (sized)
		set_int(o, "chunkSize", size);
	set_str(o, "chunkDigest", chunk_digest);
}

void lade_toc_file_digest(struct lade_toc *t, const char digest[LADE_DIGEST_STRLEN])
{
	set_str(t->file, "digest", digest);
}

void lade_toc_range(struct lade_toc *t, uint64_t offset, uint64_t end)
{
	set_int(t->file, "offset", offset);
	set_int(t->file, "endOffset", end);
}

char *lade_toc_dump(const struct lade_toc *t)
{
	json_t *root = json_pack("{s:i,s:O}", "version", 1, "entries", t->entries);
	char *s = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(root);
	if (s == NULL)
		abort();
	return s;
}

/* ---- zstd:chunked ---- */

static const unsigned char skippable_magic[4] = {0x50, 0x2a, 0x4d, 0x18};
static const unsigned char zstd_chunked_magic[8] = {0x47, 0x6e, 0x55, 0x6c,
                                                    0x49, 0x6e, 0x55, 0x78}; /* GnUlInUx */

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void add_skippable(struct lade_buf *out, const void *data, size_t len)
{
	unsigned char head[8];
	memcpy(head, skippable_magic, 4);
	put_le(head + 4, len, 4);
	lade_buf_add(out, head, sizeof(head));
	lade_buf_add(out, data, len);
}

int lade_zstd_chunked_tail(const char *toc_json, int level, uint64_t offset, struct lade_buf *out,
                           char checksum[LADE_DIGEST_STRLEN], char position[96],
                           struct lade_error **err)
{
	size_t len = strlen(toc_json);
	size_t bound = ZSTD_compressBound(len);
	_cleanup_free_ unsigned char *z = xmalloc(bound);
	/* One-shot and single-threaded: a pure function of the JSON, the level and libzstd. */
	size_t zlen = ZSTD_compress(z, bound, toc_json, len, level < 1 ? 3 : level);
	if (ZSTD_isError(zlen))
		return lade_error_set(err, 0, "zstd:chunked manifest: %s", ZSTD_getErrorName(zlen));
	uint64_t manifest_offset = offset + 8; /* after the skippable frame's header */
	add_skippable(out, z, zlen);
	unsigned char footer[LADE_ZSTD_CHUNKED_FOOTER_SIZE];
	put_le(footer, manifest_offset, 8);
	put_le(footer + 8, zlen, 8);
	put_le(footer + 16, len, 8);
	put_le(footer + 24, 1, 8); /* the CRFS (eStargz-like) TOC type */
	memcpy(footer + 32, zstd_chunked_magic, 8);
	add_skippable(out, footer, sizeof(footer));
	lade_sha256_buf(z, zlen, checksum);
	snprintf(position, 96, "%" PRIu64 ":%zu:%zu:1", manifest_offset, zlen, len);
	return 0;
}
