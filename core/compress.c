/* lade — layer compression (see include/lade/compress.h).
 *
 * gzip: a series of gzip members (RFC 1952 §2.2), each with a bare 10-byte header (no name,
 * no extra field, mtime 0, OS 255) and its own CRC-32 and ISIZE trailer. Two kinds:
 *  - spliced: the content of one tar entry whose deflate data already exists (a wheel's zip
 *    member). The caller brackets the entry's content with splice_begin/splice_end and hands
 *    the raw deflate bytes over through a second stream; they are copied unchanged. The
 *    content itself still flows through the compressor's input (it is what the tar and the
 *    diff_id hold) and is only checked: its CRC-32 and length must be the ones the member's
 *    trailer will carry, else the layer fails.
 *  - compressed: every other byte (tar headers and padding, small or stored members, files),
 *    cut into chunks of at most GZIP_CHUNK_SIZE (1 MiB) that end early where a spliced member
 *    starts. Each chunk is one member, deflated by zlib (level 6 by default) with a fresh
 *    state, so `jobs` threads compress chunks in parallel and the bytes are those of one
 *    thread. zlib's output is a pure function of its input, its version and its parameters;
 *    ISA-L's deflate (the compressor before layer format 2) was not, on some machines.
 * The chunk size, the splice threshold and the zlib parameters are constants of the layer
 * format: changing one changes layer digests (bump LADE_LAYER_FORMAT_VERSION).
 *
 * zstd: libzstd in multithreaded mode with a fixed job size. libzstd's multithreaded output
 * does not depend on the number of workers, but it differs from single-threaded mode, so we
 * always use at least one worker.
 *
 * Decompression pulls: the consumers (base layers, lade verify) feed libarchive's tar reader,
 * which pulls blocks, so each block is produced on demand from the next piece of the blob.
 * gzip members are parsed here and inflated by ISA-L (2-3 times faster than zlib), which also
 * checks each member's CRC-32 and ISIZE.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>
#include <zstd.h>
#if defined(__has_include)
#if __has_include(<isa-l.h>)
#include <isa-l.h>
#endif
#endif

#include "lade/compress.h"
#include "lade/util.h"

#define GZIP_CHUNK_SIZE ((size_t)1 << 20)
/* Pieces up to this size before a spliced member are deflated by the calling thread. */
#define GZIP_INLINE_MAX ((size_t)64 << 10)
/* zlib's own default: members of wheels are mostly deflated at 6 too, so a layer of wheels is
 * deflated alike throughout; 1-9 as zlib. */
#define GZIP_DEFAULT_LEVEL 6
#define GZIP_MIN_LEVEL     1
#define GZIP_MAX_LEVEL     9
#define ZSTD_DEFAULT_LEVEL 3
#define ZSTD_MIN_LEVEL     1
#define ZSTD_MAX_LEVEL     19
/* Fixed so that the frame layout never depends on the machine (libzstd would otherwise derive
 * it from the window size only, but pinning it documents the format). */
#define ZSTD_JOB_SIZE ((size_t)8 << 20)
/* Memory grows with jobs (about 2 MiB per job): bound what a command line can ask for. */
#define MAX_JOBS 64

static const unsigned char gzip_header[10] = {0x1f, 0x8b, 0x08, 0x00, 0x00,
                                              0x00, 0x00, 0x00, 0x00, 0xff};

/* ---- names ---------------------------------------------------------------------------- */

int lade_compression_parse(const char *name, enum lade_compression *out)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "none") == 0)
		*out = LADE_COMPRESS_NONE;
	else if (strcmp(name, "gzip") == 0)
		*out = LADE_COMPRESS_GZIP;
	else if (strcmp(name, "zstd") == 0)
		*out = LADE_COMPRESS_ZSTD;
	else
		return -1;
	return 0;
}

const char *lade_compression_name(enum lade_compression c)
{
	switch (c) {
	case LADE_COMPRESS_GZIP:
		return "gzip";
	case LADE_COMPRESS_ZSTD:
		return "zstd";
	case LADE_COMPRESS_NONE:
		break;
	}
	return "none";
}

const char *lade_compression_media_type(enum lade_compression c)
{
	switch (c) {
	case LADE_COMPRESS_GZIP:
		return "application/vnd.oci.image.layer.v1.tar+gzip";
	case LADE_COMPRESS_ZSTD:
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	case LADE_COMPRESS_NONE:
		break;
	}
	return "application/vnd.oci.image.layer.v1.tar";
}

int lade_compression_from_media_type(const char *media_type, enum lade_compression *out)
{
	static const enum lade_compression all[] = {LADE_COMPRESS_NONE, LADE_COMPRESS_GZIP,
	                                            LADE_COMPRESS_ZSTD};
	if (media_type == NULL)
		return -1;
	for (size_t i = 0; i < LADE_ARRAY_SIZE(all); i++) {
		if (strcmp(media_type, lade_compression_media_type(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	if (strcmp(media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip") == 0) {
		*out = LADE_COMPRESS_GZIP;
		return 0;
	}
	return -1;
}

enum lade_compression lade_compression_sniff(const void *head, size_t len)
{
	const unsigned char *p = head;
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return LADE_COMPRESS_GZIP;
	if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return LADE_COMPRESS_ZSTD;
	return LADE_COMPRESS_NONE;
}

/* describe() hands out const strings: build them all once. */
static char gzip_desc[GZIP_MAX_LEVEL + 1][128];
static char gzip_desc_base[64];
static char zstd_desc[ZSTD_MAX_LEVEL + 1][80];
static char zstd_desc_base[48];
static pthread_once_t desc_once = PTHREAD_ONCE_INIT;

static void build_descriptions(void)
{
	snprintf(gzip_desc_base, sizeof(gzip_desc_base), "splice+zlib %s", zlibVersion());
	for (int l = 0; l <= GZIP_MAX_LEVEL; l++)
		snprintf(gzip_desc[l], sizeof(gzip_desc[l]),
		         "%s level %d chunk %zuMiB splice %zuKiB", gzip_desc_base, l,
		         GZIP_CHUNK_SIZE >> 20, (size_t)LADE_SPLICE_MIN_RAW >> 10);
	snprintf(zstd_desc_base, sizeof(zstd_desc_base), "zstd %s", ZSTD_versionString());
	for (int l = 0; l <= ZSTD_MAX_LEVEL; l++)
		snprintf(zstd_desc[l], sizeof(zstd_desc[l]), "%s level %d", zstd_desc_base, l);
}

const char *lade_compression_describe(enum lade_compression c, int level)
{
	pthread_once(&desc_once, build_descriptions);
	switch (c) {
	case LADE_COMPRESS_GZIP:
		if (level < 0)
			level = GZIP_DEFAULT_LEVEL;
		return level >= GZIP_MIN_LEVEL && level <= GZIP_MAX_LEVEL ? gzip_desc[level]
		                                                          : gzip_desc_base;
	case LADE_COMPRESS_ZSTD:
		if (level < 0)
			level = ZSTD_DEFAULT_LEVEL;
		return level >= ZSTD_MIN_LEVEL && level <= ZSTD_MAX_LEVEL ? zstd_desc[level]
		                                                          : zstd_desc_base;
	case LADE_COMPRESS_NONE:
		break;
	}
	return "none";
}

/* ---- gzip members --------------------------------------------------------------------- */

/* One zlib deflate state; one per worker thread, reset for every chunk. */
struct gz_state {
	z_stream z;
	bool ready;
};

struct gz_chunk {
	unsigned char *in;
	size_t in_len;
	unsigned char *out; /* one whole gzip member: header, deflate data, trailer */
	size_t out_len, out_alloc;
	int rc; /* zlib result, Z_STREAM_END on success */
	bool done;
};

static struct gz_state *gz_state_new(int level)
{
	struct gz_state *st = xzalloc(sizeof(*st));
	/* Raw deflate (the gzip framing is ours), 32 KiB window, zlib's default memLevel and
	 * strategy: every parameter that shapes the output is fixed here. */
	if (deflateInit2(&st->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK)
		st->ready = true;
	return st;
}

static void gz_state_free(struct gz_state *st)
{
	if (st == NULL)
		return;
	if (st->ready)
		deflateEnd(&st->z);
	free(st);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Compress one chunk into a complete gzip member. The bytes depend only on the chunk, zlib's
 * version and the level, never on which worker or state did it. */
static void gz_compress_chunk(struct gz_state *st, struct gz_chunk *ch)
{
	ch->out_len = 0;
	if (!st->ready) {
		ch->rc = Z_MEM_ERROR;
		return;
	}
	z_stream *z = &st->z;
	deflateReset(z);
	size_t want = sizeof(gzip_header) + deflateBound(z, (uLong)ch->in_len) + 8;
	if (ch->out_alloc < want) {
		free(ch->out);
		ch->out = xmalloc(want);
		ch->out_alloc = want;
	}
	memcpy(ch->out, gzip_header, sizeof(gzip_header));
	z->next_in = ch->in;
	z->avail_in = (uInt)ch->in_len;
	z->next_out = ch->out + sizeof(gzip_header);
	z->avail_out = (uInt)(want - sizeof(gzip_header) - 8);
	ch->rc = deflate(z, Z_FINISH);
	if (ch->rc != Z_STREAM_END)
		return;
	size_t n = sizeof(gzip_header) + (size_t)z->total_out;
	put_le32(ch->out + n, crc32_gzip_refl(0, ch->in, ch->in_len));
	put_le32(ch->out + n + 4, (uint32_t)(ch->in_len & 0xffffffffu));
	ch->out_len = n + 8;
}

/* ---- compressor ----------------------------------------------------------------------- */

struct splice_raw {
	struct lade_stream stream; /* first member */
	struct lade_compressor *c;
};

struct lade_compressor {
	struct lade_stream stream; /* first member */
	enum lade_compression kind;
	struct lade_stream *out;
	int level;
	int jobs;
	bool failed;
	bool finished;
	/* compressed bytes written to `out` (gzip): offsets for lade_compressor_cut */
	uint64_t out_bytes;
	bool one_member; /* lade_compressor_last_member: the rest goes into `held` */
	/* zstd cuts: input since the last frame ended, frames ended by a cut */
	uint64_t zstd_pending, zstd_frames;
	struct lade_buf held;

	/* gzip */
	unsigned char *cur; /* chunk being filled */
	size_t cur_len;
	uint64_t members;              /* gzip members written or in flight */
	struct gz_state *inline_state; /* jobs == 1 */
	struct gz_chunk inline_chunk;

	/* splicing: between splice_begin and splice_end the input is the content of a member
	 * whose deflate data arrives through `raw`; the input is only checked against it */
	bool splicing;
	uint32_t splice_want_crc, splice_crc;
	uint64_t splice_want_size, splice_size, splice_raw_size;
	struct splice_raw raw;

	/* gzip worker pool (jobs > 1): slots form a ring indexed by chunk sequence % jobs */
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cond_work, cond_done;
	struct gz_chunk *slots;
	uint64_t nsubmitted, nstarted, nwritten;
	bool shutdown;

	/* zstd */
	ZSTD_CCtx *zc;
	unsigned char *zout;
	size_t zout_size;
};

static void *gz_worker(void *arg)
{
	struct lade_compressor *c = arg;
	struct gz_state *st = gz_state_new(c->level);

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->shutdown && c->nstarted == c->nsubmitted)
			pthread_cond_wait(&c->cond_work, &c->mu);
		if (c->shutdown)
			break;
		struct gz_chunk *ch = &c->slots[c->nstarted % (uint64_t)c->jobs];
		c->nstarted++;
		pthread_mutex_unlock(&c->mu);
		gz_compress_chunk(st, ch);
		pthread_mutex_lock(&c->mu);
		ch->done = true;
		pthread_cond_broadcast(&c->cond_done);
	}
	pthread_mutex_unlock(&c->mu);
	gz_state_free(st);
	return NULL;
}

static int fail(struct lade_compressor *c)
{
	c->failed = true;
	return -1;
}

/* Every gzip byte leaves through here, so out_bytes is the offset of the next member. */
static int gz_out(struct lade_compressor *c, const void *buf, size_t len, struct lade_error **err)
{
	if (lade_stream_write(c->out, buf, len, err) < 0)
		return fail(c);
	c->out_bytes += len;
	return 0;
}

static int gz_emit(struct lade_compressor *c, struct gz_chunk *ch, struct lade_error **err)
{
	if (ch->rc != Z_STREAM_END) {
		lade_error_set(err, 0, "gzip compression failed (zlib error %d)", ch->rc);
		return fail(c);
	}
	return gz_out(c, ch->out, ch->out_len, err);
}

/* Wait for the oldest chunk in flight and write it out. */
static int gz_drain_one(struct lade_compressor *c, struct lade_error **err)
{
	struct gz_chunk *ch = &c->slots[c->nwritten % (uint64_t)c->jobs];
	pthread_mutex_lock(&c->mu);
	while (!ch->done)
		pthread_cond_wait(&c->cond_done, &c->mu);
	pthread_mutex_unlock(&c->mu);
	c->nwritten++;
	return gz_emit(c, ch, err);
}

static int gz_drain_all(struct lade_compressor *c, struct lade_error **err)
{
	while (c->jobs > 1 && c->nwritten < c->nsubmitted)
		if (gz_drain_one(c, err) < 0)
			return -1;
	return 0;
}

/* Compress `cur` on the calling thread and write it out (nothing may be in flight). */
static int gz_compress_inline(struct lade_compressor *c, struct lade_error **err)
{
	struct gz_chunk *ch = &c->inline_chunk;
	if (c->inline_state == NULL)
		c->inline_state = gz_state_new(c->level);
	c->members++;
	ch->in = c->cur;
	ch->in_len = c->cur_len;
	gz_compress_chunk(c->inline_state, ch);
	c->cur_len = 0;
	return gz_emit(c, ch, err);
}

/* Hand the filled chunk `cur` over for compression as a member of its own; output leaves
 * strictly in chunk order. */
static int gz_submit(struct lade_compressor *c, struct lade_error **err)
{
	struct gz_chunk *ch;
	if (c->jobs == 1)
		return gz_compress_inline(c, err);
	c->members++;

	if (c->nsubmitted - c->nwritten == (uint64_t)c->jobs && gz_drain_one(c, err) < 0)
		return -1;
	ch = &c->slots[c->nsubmitted % (uint64_t)c->jobs];
	/* Swap buffers so the next chunk fills the memory of the one just written. */
	unsigned char *spare = ch->in;
	ch->in = c->cur;
	ch->in_len = c->cur_len;
	ch->done = false;
	c->cur = spare ? spare : xmalloc(GZIP_CHUNK_SIZE);
	c->cur_len = 0;

	pthread_mutex_lock(&c->mu);
	c->nsubmitted++;
	pthread_cond_signal(&c->cond_work);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static int gz_write(struct lade_compressor *c, const unsigned char *p, size_t len,
                    struct lade_error **err)
{
	if (c->splicing) {
		if (len > c->splice_want_size - c->splice_size) {
			lade_error_set(err, 0,
			               "gzip splice: content longer than the %" PRIu64
			               " bytes of the deflate stream",
			               c->splice_want_size);
			return fail(c);
		}
		c->splice_crc = crc32_gzip_refl(c->splice_crc, p, len);
		c->splice_size += len;
		return 0;
	}
	if (c->one_member) {
		lade_buf_add(&c->held, p, len);
		return 0;
	}
	while (len > 0) {
		if (c->cur_len == GZIP_CHUNK_SIZE && gz_submit(c, err) < 0)
			return -1;
		size_t n = GZIP_CHUNK_SIZE - c->cur_len;
		if (n > len)
			n = len;
		memcpy(c->cur + c->cur_len, p, n);
		c->cur_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int gz_finish(struct lade_compressor *c, struct lade_error **err)
{
	if (c->splicing) {
		lade_error_set(err, 0, "gzip compressor: finished inside a spliced member");
		return fail(c);
	}
	if (c->one_member) {
		struct gz_chunk *ch = &c->inline_chunk;
		if (c->inline_state == NULL)
			c->inline_state = gz_state_new(c->level);
		c->members++;
		ch->in = (unsigned char *)c->held.data;
		ch->in_len = c->held.len;
		gz_compress_chunk(c->inline_state, ch);
		ch->in = NULL;
		return gz_emit(c, ch, err);
	}
	/* An empty input still gives one (empty) member: a gzip file has at least one. */
	if ((c->cur_len > 0 || c->members == 0) && gz_submit(c, err) < 0)
		return -1;
	return gz_drain_all(c, err);
}

bool lade_compressor_can_splice(const struct lade_compressor *c, uint64_t raw_size, uint64_t size)
{
	/* Below the threshold the member's bytes are recompressed with their neighbours: a
	 * member of its own costs ~18 bytes of framing plus the context the tar headers around
	 * it lose, which outweighs a small member's own deflate data. */
	return c->kind == LADE_COMPRESS_GZIP && !c->failed && !c->finished && !c->splicing &&
	       !c->one_member && raw_size >= LADE_SPLICE_MIN_RAW && size > 0;
}

static int splice_raw_write(struct lade_stream *s, const void *buf, size_t len,
                            struct lade_error **err)
{
	struct lade_compressor *c = ((struct splice_raw *)s)->c;
	if (c->failed)
		return lade_error_set(err, 0, "gzip compressor: an earlier write failed");
	if (!c->splicing)
		return lade_error_set(err, 0, "gzip splice: deflate data outside a member");
	if (gz_out(c, buf, len, err) < 0)
		return -1;
	c->splice_raw_size += len;
	return 0;
}

/* End the member being filled and write out everything before it. A short piece (typically a
 * tar header before a spliced member) is deflated on this thread once the chunks in flight
 * are out: handing it to a worker and waiting for it cost more than deflating it (ml-cpu,
 * -j 2: ~4,000 such hand-offs). Which thread deflates never changes the bytes. */
static int gz_cut(struct lade_compressor *c, struct lade_error **err)
{
	if (gz_drain_all(c, err) < 0)
		return -1;
	if (c->cur_len > 0 &&
	    (c->cur_len <= GZIP_INLINE_MAX ? gz_compress_inline(c, err) : gz_submit(c, err)) < 0)
		return -1;
	return gz_drain_all(c, err);
}

static int zstd_run(struct lade_compressor *c, const void *data, size_t len, ZSTD_EndDirective op,
                    struct lade_error **err);

int lade_compressor_cut(struct lade_compressor *c, uint64_t *offset, struct lade_error **err)
{
	if (c->kind == LADE_COMPRESS_ZSTD && !c->failed && !c->finished) {
		/* End the frame (never an empty one); the next write starts another. */
		if (c->zstd_pending > 0 && zstd_run(c, NULL, 0, ZSTD_e_end, err) < 0)
			return -1;
		c->zstd_frames += c->zstd_pending > 0;
		c->zstd_pending = 0;
		*offset = c->out_bytes;
		return 0;
	}
	if (c->kind != LADE_COMPRESS_GZIP || c->splicing || c->finished || c->one_member)
		return lade_error_set(err, 0, "gzip compressor: cannot end a member here");
	if (c->failed)
		return lade_error_set(err, 0, "gzip compressor: an earlier write failed");
	if (gz_cut(c, err) < 0)
		return -1;
	*offset = c->out_bytes;
	return 0;
}

int lade_compressor_last_member(struct lade_compressor *c, uint64_t *offset,
                                struct lade_error **err)
{
	if (lade_compressor_cut(c, offset, err) < 0)
		return -1;
	c->one_member = true;
	return 0;
}

int lade_compressor_splice_begin(struct lade_compressor *c, uint32_t crc, uint64_t size,
                                 struct lade_stream **raw, struct lade_error **err)
{
	if (!lade_compressor_can_splice(c, LADE_SPLICE_MIN_RAW, size))
		return lade_error_set(err, 0, "gzip compressor: cannot splice a member here");
	if (gz_cut(c, err) < 0)
		return -1;
	if (gz_out(c, gzip_header, sizeof(gzip_header), err) < 0)
		return -1;
	c->members++;
	c->splicing = true;
	c->splice_want_crc = crc;
	c->splice_want_size = size;
	c->splice_crc = 0;
	c->splice_size = 0;
	c->splice_raw_size = 0;
	c->raw.stream.write = splice_raw_write;
	c->raw.c = c;
	*raw = &c->raw.stream;
	return 0;
}

int lade_compressor_splice_end(struct lade_compressor *c, struct lade_error **err)
{
	if (c->failed)
		return lade_error_set(err, 0, "gzip compressor: an earlier write failed");
	if (!c->splicing)
		return lade_error_set(err, 0, "gzip splice: no member begun");
	c->splicing = false;
	/* The member's trailer must describe what went into the tar (and so into the
	 * diff_id): a stream whose deflate data, CRC-32 or size disagree is never written. */
	if (c->splice_size != c->splice_want_size) {
		lade_error_set(err, 0,
		               "gzip splice: content has %" PRIu64
		               " bytes, the deflate stream %" PRIu64,
		               c->splice_size, c->splice_want_size);
		return fail(c);
	}
	if (c->splice_crc != c->splice_want_crc) {
		lade_error_set(err, 0,
		               "gzip splice: content crc-32 %08" PRIx32
		               " differs from the deflate stream's %08" PRIx32,
		               c->splice_crc, c->splice_want_crc);
		return fail(c);
	}
	if (c->splice_raw_size == 0) {
		lade_error_set(err, 0, "gzip splice: no deflate data");
		return fail(c);
	}
	unsigned char trailer[8];
	put_le32(trailer, c->splice_crc);
	put_le32(trailer + 4, (uint32_t)(c->splice_size & 0xffffffffu));
	return gz_out(c, trailer, sizeof(trailer), err);
}

static int zstd_run(struct lade_compressor *c, const void *data, size_t len, ZSTD_EndDirective op,
                    struct lade_error **err)
{
	ZSTD_inBuffer in = {data, len, 0};
	for (;;) {
		ZSTD_outBuffer o = {c->zout, c->zout_size, 0};
		size_t r = ZSTD_compressStream2(c->zc, &o, &in, op);
		if (ZSTD_isError(r)) {
			lade_error_set(err, 0, "zstd compression failed: %s", ZSTD_getErrorName(r));
			return fail(c);
		}
		if (o.pos > 0 && lade_stream_write(c->out, c->zout, o.pos, err) < 0)
			return fail(c);
		c->out_bytes += o.pos;
		if (op == ZSTD_e_end ? r == 0 : in.pos == in.size)
			return 0;
	}
}

static int compressor_write(struct lade_stream *s, const void *buf, size_t len,
                            struct lade_error **err)
{
	struct lade_compressor *c = (struct lade_compressor *)s;
	if (c->failed)
		return lade_error_set(err, 0, "%s compressor: an earlier write failed",
		                      lade_compression_name(c->kind));
	if (c->finished)
		return lade_error_set(err, 0, "%s compressor: write after finish",
		                      lade_compression_name(c->kind));
	if (len == 0)
		return 0;
	switch (c->kind) {
	case LADE_COMPRESS_GZIP:
		return gz_write(c, buf, len, err);
	case LADE_COMPRESS_ZSTD:
		c->zstd_pending += len;
		return zstd_run(c, buf, len, ZSTD_e_continue, err);
	case LADE_COMPRESS_NONE:
		break;
	}
	if (lade_stream_write(c->out, buf, len, err) < 0)
		return fail(c);
	return 0;
}

static int zstd_setup(struct lade_compressor *c, struct lade_error **err)
{
	c->zc = ZSTD_createCCtx();
	if (c->zc == NULL)
		return lade_error_set(err, ENOMEM, "cannot create a zstd context");
	struct {
		ZSTD_cParameter p;
		int v;
		const char *what;
	} params[] = {
	        {ZSTD_c_compressionLevel, c->level, "level"},
	        {ZSTD_c_checksumFlag, 1, "checksum"},
	        {ZSTD_c_contentSizeFlag, 0, "content size flag"},
	        {ZSTD_c_nbWorkers, c->jobs, "worker count (libzstd built without threads?)"},
	        {ZSTD_c_jobSize, (int)ZSTD_JOB_SIZE, "job size"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(params); i++) {
		size_t r = ZSTD_CCtx_setParameter(c->zc, params[i].p, params[i].v);
		if (ZSTD_isError(r))
			return lade_error_set(err, 0, "cannot set zstd %s %d: %s", params[i].what,
			                      params[i].v, ZSTD_getErrorName(r));
	}
	c->zout_size = ZSTD_CStreamOutSize();
	c->zout = xmalloc(c->zout_size);
	return 0;
}

static int gz_setup(struct lade_compressor *c, struct lade_error **err)
{
	c->cur = xmalloc(GZIP_CHUNK_SIZE);
	if (c->jobs == 1) {
		c->inline_state = gz_state_new(c->level);
		return 0;
	}
	c->slots = xcalloc((size_t)c->jobs, sizeof(*c->slots));
	c->threads = xcalloc((size_t)c->jobs, sizeof(*c->threads));
	for (int i = 0; i < c->jobs; i++) {
		int r = pthread_create(&c->threads[i], NULL, gz_worker, c);
		if (r != 0)
			return lade_error_set(err, r, "cannot start gzip compression thread");
		c->nthreads++;
	}
	return 0;
}

int lade_compressor_new(enum lade_compression kind, int level, int jobs, struct lade_stream *out,
                        struct lade_compressor **ret, struct lade_error **err)
{
	switch (kind) {
	case LADE_COMPRESS_GZIP:
		if (level < 0)
			level = GZIP_DEFAULT_LEVEL;
		if (level < GZIP_MIN_LEVEL || level > GZIP_MAX_LEVEL)
			return lade_error_set(err, 0, "gzip level %d not supported (%d-%d)", level,
			                      GZIP_MIN_LEVEL, GZIP_MAX_LEVEL);
		break;
	case LADE_COMPRESS_ZSTD:
		if (level < 0)
			level = ZSTD_DEFAULT_LEVEL;
		if (level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL)
			return lade_error_set(err, 0, "zstd level %d not supported (%d-%d)", level,
			                      ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL);
		break;
	case LADE_COMPRESS_NONE:
		level = 0;
		break;
	default:
		return lade_error_set(err, 0, "unknown compression %d", (int)kind);
	}
	if (jobs < 1)
		jobs = 1;
	if (jobs > MAX_JOBS)
		jobs = MAX_JOBS;

	_cleanup_(lade_compressor_freep) struct lade_compressor *c = xzalloc(sizeof(*c));
	c->stream.write = compressor_write;
	lade_buf_init(&c->held);
	c->kind = kind;
	c->out = out;
	c->level = level;
	c->jobs = jobs;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cond_work, NULL);
	pthread_cond_init(&c->cond_done, NULL);

	if (kind == LADE_COMPRESS_GZIP && gz_setup(c, err) < 0)
		return -1;
	if (kind == LADE_COMPRESS_ZSTD && zstd_setup(c, err) < 0)
		return -1;
	*ret = steal_pointer(&c);
	return 0;
}

struct lade_stream *lade_compressor_stream(struct lade_compressor *c)
{
	return &c->stream;
}

int lade_compressor_finish(struct lade_compressor *c, struct lade_error **err)
{
	if (c->failed)
		return lade_error_set(err, 0, "%s compressor: an earlier write failed",
		                      lade_compression_name(c->kind));
	if (c->finished)
		return lade_error_set(err, 0, "%s compressor: finished twice",
		                      lade_compression_name(c->kind));
	c->finished = true;
	switch (c->kind) {
	case LADE_COMPRESS_GZIP:
		return gz_finish(c, err);
	case LADE_COMPRESS_ZSTD:
		/* After a cut with nothing since, the stream is complete: no empty frame. */
		if (c->zstd_frames > 0 && c->zstd_pending == 0)
			return 0;
		return zstd_run(c, NULL, 0, ZSTD_e_end, err);
	case LADE_COMPRESS_NONE:
		break;
	}
	return 0;
}

void lade_compressor_free(struct lade_compressor *c)
{
	if (c == NULL)
		return;
	if (c->nthreads > 0) {
		pthread_mutex_lock(&c->mu);
		c->shutdown = true;
		pthread_cond_broadcast(&c->cond_work);
		pthread_mutex_unlock(&c->mu);
		for (int i = 0; i < c->nthreads; i++)
			pthread_join(c->threads[i], NULL);
	}
	if (c->slots) {
		for (int i = 0; i < c->jobs; i++) {
			free(c->slots[i].in);
			free(c->slots[i].out);
		}
	}
	free(c->slots);
	free(c->threads);
	free(c->inline_chunk.out);
	lade_buf_release(&c->held);
	gz_state_free(c->inline_state);
	free(c->cur);
	ZSTD_freeCCtx(c->zc);
	free(c->zout);
	pthread_cond_destroy(&c->cond_work);
	pthread_cond_destroy(&c->cond_done);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void lade_compressor_freep(struct lade_compressor **c)
{
	lade_compressor_free(*c);
	*c = NULL;
}

/* ---- decompressor ---------------------------------------------------------------------- */

/* Large enough that per-call costs (ISA-L keeps 32 KiB of history after every call, the
 * consumer hashes and parses block by block) stay small, small enough to stay in cache. */
#define DEC_OUT_SIZE ((size_t)256 << 10)

#define GZ_FHCRC     0x02
#define GZ_FEXTRA    0x04
#define GZ_FNAME     0x08
#define GZ_FCOMMENT  0x10
#define GZ_FRESERVED 0xe0

enum gz_phase { GZ_HEADER, GZ_BODY, GZ_END };
enum gz_step { GZ_H_FIXED, GZ_H_XLEN, GZ_H_EXTRA, GZ_H_NAME, GZ_H_COMMENT, GZ_H_HCRC, GZ_H_DONE };

struct lade_decompressor {
	enum lade_compression kind;
	unsigned flags;
	struct lade_source *src;
	bool ready; /* kind known and its state set up */
	bool failed;

	/* Unread input: the current segment, then (only while the sniffed head is replayed)
	 * the rest of the source's buffer it was taken from. */
	const unsigned char *in;
	size_t in_len;
	const unsigned char *after;
	size_t after_len;
	bool src_eof;
	unsigned char head[4];

	unsigned char *out;

	/* gzip: our own header parser (ISA-L's cannot resume every optional field across
	 * input buffers), ISA-L for the deflate data and the trailer check */
	struct inflate_state *st;
	enum gz_phase phase;
	uint64_t members; /* complete members so far */
	enum gz_step step;
	unsigned char fixed[10];
	size_t hdr_pos; /* bytes of the current step */
	unsigned hdr_flags;
	size_t xlen;
	uint32_t hdr_crc;
	unsigned char hcrc[2];

	/* zstd */
	ZSTD_DCtx *zd;
	size_t zret;
	bool zstarted;
};

static int dec_fail(struct lade_decompressor *d)
{
	d->failed = true;
	return -1;
}

/* Make d->in non-empty unless the input has ended (then d->in_len stays 0). */
static int dec_fill(struct lade_decompressor *d, struct lade_error **err)
{
	while (d->in_len == 0 && !d->src_eof) {
		if (d->after) {
			d->in = d->after;
			d->in_len = d->after_len;
			d->after = NULL;
			continue;
		}
		const void *buf;
		ssize_t n = d->src->read(d->src, &buf, err);
		if (n < 0)
			return dec_fail(d);
		if (n == 0) {
			d->src_eof = true;
			break;
		}
		d->in = buf;
		d->in_len = (size_t)n;
	}
	return 0;
}

/* DETECT: sniff the first 4 bytes, gathering them from several reads when the source hands
 * out tiny buffers; what was gathered is replayed before the rest. */
static int dec_detect(struct lade_decompressor *d, struct lade_error **err)
{
	size_t head_len = 0;
	while (head_len < sizeof(d->head)) {
		if (dec_fill(d, err) < 0)
			return -1;
		if (d->in_len == 0)
			break;
		if (head_len == 0 && d->in_len >= sizeof(d->head))
			break;
		size_t n = sizeof(d->head) - head_len;
		if (n > d->in_len)
			n = d->in_len;
		memcpy(d->head + head_len, d->in, n);
		head_len += n;
		d->in += n;
		d->in_len -= n;
	}
	if (head_len == 0) {
		d->kind = lade_compression_sniff(d->in, d->in_len);
		return 0;
	}
	d->kind = lade_compression_sniff(d->head, head_len);
	if (d->in_len > 0) {
		d->after = d->in;
		d->after_len = d->in_len;
	}
	d->in = d->head;
	d->in_len = head_len;
	return 0;
}

static int dec_setup(struct lade_decompressor *d, struct lade_error **err)
{
	if ((d->flags & LADE_DECOMPRESS_DETECT) && dec_detect(d, err) < 0)
		return -1;
	switch (d->kind) {
	case LADE_COMPRESS_GZIP:
		d->st = xzalloc(sizeof(*d->st));
		isal_inflate_init(d->st);
		d->st->crc_flag = ISAL_GZIP_NO_HDR_VER;
		d->out = xmalloc(DEC_OUT_SIZE);
		break;
	case LADE_COMPRESS_ZSTD:
		d->zd = ZSTD_createDCtx();
		if (d->zd == NULL) {
			lade_error_set(err, ENOMEM, "cannot create a zstd decompression context");
			return dec_fail(d);
		}
		d->out = xmalloc(DEC_OUT_SIZE);
		break;
	case LADE_COMPRESS_NONE:
		break;
	}
	d->ready = true;
	return 0;
}

/* The header step after `s`, by the member's flags. */
static enum gz_step gz_step_after(unsigned flags, enum gz_step s)
{
	switch (s) {
	case GZ_H_FIXED:
		if (flags & GZ_FEXTRA)
			return GZ_H_XLEN;
		/* fall through */
	case GZ_H_XLEN:
	case GZ_H_EXTRA:
		if (flags & GZ_FNAME)
			return GZ_H_NAME;
		/* fall through */
	case GZ_H_NAME:
		if (flags & GZ_FCOMMENT)
			return GZ_H_COMMENT;
		/* fall through */
	case GZ_H_COMMENT:
		if (flags & GZ_FHCRC)
			return GZ_H_HCRC;
		/* fall through */
	case GZ_H_HCRC:
	case GZ_H_DONE:
		break;
	}
	return GZ_H_DONE;
}

/* What ends a member header that is not one: an error. */
static int gz_not_a_member(struct lade_decompressor *d, const char *what, struct lade_error **err)
{
	if (what == NULL)
		lade_error_set(err, 0,
		               d->members > 0 ? "trailing garbage after gzip stream"
		                              : "not a gzip stream");
	else
		lade_error_set(err, 0, "gzip: %s", what);
	return dec_fail(d);
}

/* One header byte; 1: header complete, 2: continue, 0 or -1 from gz_not_a_member. */
static int gz_header_byte(struct lade_decompressor *d, unsigned char c, struct lade_error **err)
{
	bool hashed = d->step != GZ_H_HCRC;
	if (hashed && (d->hdr_flags & GZ_FHCRC))
		d->hdr_crc = crc32_gzip_refl(d->hdr_crc, &c, 1);
	switch (d->step) {
	case GZ_H_FIXED:
		d->fixed[d->hdr_pos++] = c;
		if ((d->hdr_pos == 1 && c != 0x1f) || (d->hdr_pos == 2 && c != 0x8b))
			return gz_not_a_member(d, NULL, err);
		if (d->hdr_pos == 3 && c != 8) {
			_cleanup_free_ char *m = xasprintf("unknown compression method %u", c);
			return gz_not_a_member(d, m, err);
		}
		if (d->hdr_pos == 4) {
			if (c & GZ_FRESERVED)
				return gz_not_a_member(d, "reserved header flags set", err);
			d->hdr_flags = c;
			if (c & GZ_FHCRC)
				d->hdr_crc = crc32_gzip_refl(0, d->fixed, 4);
		}
		if (d->hdr_pos < sizeof(d->fixed))
			return 2;
		break;
	case GZ_H_XLEN:
		d->xlen |= (size_t)c << (8 * d->hdr_pos++);
		if (d->hdr_pos < 2)
			return 2;
		if (d->xlen > 0) {
			d->step = GZ_H_EXTRA;
			d->hdr_pos = 0;
			return 2;
		}
		break;
	case GZ_H_EXTRA:
		if (++d->hdr_pos < d->xlen)
			return 2;
		break;
	case GZ_H_NAME:
	case GZ_H_COMMENT:
		if (c != 0)
			return 2;
		break;
	case GZ_H_HCRC:
		d->hcrc[d->hdr_pos++] = c;
		if (d->hdr_pos < 2)
			return 2;
		if ((unsigned)(d->hcrc[0] | d->hcrc[1] << 8) != (d->hdr_crc & 0xffffu)) {
			lade_error_set(err, 0, "gzip: header crc mismatch");
			return dec_fail(d);
		}
		break;
	case GZ_H_DONE:
		return 1;
	}
	d->step = gz_step_after(d->hdr_flags, d->step);
	d->hdr_pos = 0;
	return d->step == GZ_H_DONE ? 1 : 2;
}

/* ZERO_PADDING: the rest of the input must be zero bytes; 0 at its end, -1 otherwise. */
static int gz_zero_padding(struct lade_decompressor *d, struct lade_error **err)
{
	for (;;) {
		if (dec_fill(d, err) < 0)
			return -1;
		if (d->in_len == 0)
			return 0;
		for (size_t i = 0; i < d->in_len; i++) {
			if (d->in[i] != 0) {
				lade_error_set(err, 0, "trailing garbage after gzip stream");
				return dec_fail(d);
			}
		}
		d->in += d->in_len;
		d->in_len = 0;
	}
}

/* Read a member header; 1 when one was read, 0 when the stream ended before another member
 * (with ZERO_PADDING also at zero padding to the end), -1 on errors. */
static int gz_read_header(struct lade_decompressor *d, struct lade_error **err)
{
	if (d->step == GZ_H_DONE) {
		d->step = GZ_H_FIXED;
		d->hdr_pos = 0;
		d->hdr_flags = 0;
		d->xlen = 0;
		d->hdr_crc = 0;
	}
	for (;;) {
		if (dec_fill(d, err) < 0)
			return -1;
		if (d->in_len == 0) {
			bool none_yet = d->step == GZ_H_FIXED && d->hdr_pos == 0;
			if (none_yet && d->members > 0)
				return 0;
			lade_error_set(err, 0,
			               none_yet ? "empty gzip stream" : "truncated gzip stream");
			return dec_fail(d);
		}
		if (d->members > 0 && d->step == GZ_H_FIXED && d->hdr_pos == 0 && d->in[0] == 0 &&
		    (d->flags & LADE_DECOMPRESS_ZERO_PADDING))
			return gz_zero_padding(d, err);
		while (d->in_len > 0) {
			unsigned char c = *d->in++;
			d->in_len--;
			int r = gz_header_byte(d, c, err);
			if (r != 2)
				return r;
		}
	}
}

static const char *isal_inflate_error(int r)
{
	switch (r) {
	case ISAL_INVALID_BLOCK:
		return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "invalid deflate code";
	case ISAL_INVALID_LOOKBACK:
		return "invalid distance too far back";
	case ISAL_INCORRECT_CHECKSUM:
		return "crc or length mismatch in member trailer";
	default:
		return NULL;
	}
}

static ssize_t gz_next(struct lade_decompressor *d, const void **buf, struct lade_error **err)
{
	for (;;) {
		if (d->phase == GZ_END)
			return 0;
		if (d->phase == GZ_HEADER) {
			int r = gz_read_header(d, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				d->phase = GZ_END;
				return 0;
			}
			isal_inflate_reset(d->st);
			d->st->crc_flag = ISAL_GZIP_NO_HDR_VER;
			d->phase = GZ_BODY;
		}
		if (dec_fill(d, err) < 0)
			return -1;
		struct inflate_state *st = d->st;
		st->next_in = (uint8_t *)d->in;
		st->avail_in = (uint32_t)(d->in_len > UINT32_MAX ? UINT32_MAX : d->in_len);
		st->next_out = d->out;
		st->avail_out = (uint32_t)DEC_OUT_SIZE;
		uint32_t avail_before = st->avail_in;
		int r = isal_inflate(st);
		size_t used = avail_before - st->avail_in;
		size_t n = DEC_OUT_SIZE - st->avail_out;
		if (used > 0) {
			d->in += used;
			d->in_len -= used;
		}
		if (r < 0) {
			const char *what = isal_inflate_error(r);
			if (what)
				lade_error_set(err, 0, "gzip: %s", what);
			else
				lade_error_set(err, 0, "gzip: isa-l inflate error %d", r);
			return dec_fail(d);
		}
		if (st->block_state == ISAL_BLOCK_FINISH) {
			d->members++;
			d->phase = GZ_HEADER;
		}
		if (n > 0) {
			*buf = d->out;
			return (ssize_t)n;
		}
		if (d->phase == GZ_BODY && used == 0) {
			if (d->in_len == 0 && d->src_eof) {
				lade_error_set(err, 0, "truncated gzip stream");
				return dec_fail(d);
			}
			if (d->in_len > 0) {
				/* Never seen: ISA-L takes all input it is given into its own
				 * buffers. Fail rather than loop. */
				lade_error_set(err, 0, "gzip: isa-l inflate made no progress");
				return dec_fail(d);
			}
		}
	}
}

static ssize_t zstd_next(struct lade_decompressor *d, const void **buf, struct lade_error **err)
{
	for (;;) {
		if (dec_fill(d, err) < 0)
			return -1;
		if (d->in_len == 0) {
			if (!d->zstarted) {
				lade_error_set(err, 0, "empty zstd stream");
				return dec_fail(d);
			}
			if (d->zret == 0)
				return 0;
		}
		d->zstarted = true;
		ZSTD_inBuffer ib = {d->in, d->in_len, 0};
		ZSTD_outBuffer ob = {d->out, DEC_OUT_SIZE, 0};
		size_t r = ZSTD_decompressStream(d->zd, &ob, &ib);
		if (ib.pos > 0) {
			d->in += ib.pos;
			d->in_len -= ib.pos;
		}
		if (ZSTD_isError(r)) {
			lade_error_set(err, 0, "zstd: %s", ZSTD_getErrorName(r));
			return dec_fail(d);
		}
		d->zret = r;
		if (ob.pos > 0) {
			*buf = d->out;
			return (ssize_t)ob.pos;
		}
		if (d->in_len == 0 && d->src_eof && r != 0) {
			lade_error_set(err, 0, "truncated zstd stream");
			return dec_fail(d);
		}
	}
}

int lade_decompressor_new(enum lade_compression c, unsigned flags, struct lade_source *in,
                          struct lade_decompressor **ret, struct lade_error **err)
{
	switch (c) {
	case LADE_COMPRESS_NONE:
	case LADE_COMPRESS_GZIP:
	case LADE_COMPRESS_ZSTD:
		break;
	default:
		return lade_error_set(err, 0, "unknown compression %d", (int)c);
	}
	struct lade_decompressor *d = xzalloc(sizeof(*d));
	d->kind = c;
	d->flags = flags;
	d->src = in;
	d->phase = GZ_HEADER;
	d->step = GZ_H_DONE;
	*ret = d;
	return 0;
}

ssize_t lade_decompressor_next(struct lade_decompressor *d, const void **buf,
                               struct lade_error **err)
{
	if (d->failed)
		return lade_error_set(err, 0, "%s decompressor: an earlier read failed",
		                      lade_compression_name(d->kind));
	if (!d->ready && dec_setup(d, err) < 0)
		return -1;
	switch (d->kind) {
	case LADE_COMPRESS_GZIP:
		return gz_next(d, buf, err);
	case LADE_COMPRESS_ZSTD:
		return zstd_next(d, buf, err);
	case LADE_COMPRESS_NONE:
		break;
	}
	if (dec_fill(d, err) < 0)
		return -1;
	ssize_t n = (ssize_t)d->in_len;
	*buf = d->in;
	d->in_len = 0; /* d->in stays: it may be NULL, and only in_len counts */
	return n;
}

enum lade_compression lade_decompressor_kind(const struct lade_decompressor *d)
{
	return d->kind;
}

void lade_decompressor_free(struct lade_decompressor *d)
{
	if (d == NULL)
		return;
	free(d->st);
	ZSTD_freeDCtx(d->zd);
	free(d->out);
	free(d);
}

void lade_decompressor_freep(struct lade_decompressor **d)
{
	lade_decompressor_free(*d);
	*d = NULL;
}
