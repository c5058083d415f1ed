/* lade — the one layer reader (see include/lade/layerread.h). One read of the blob: its bytes
 * are hashed and pulled through the decompressor; the stream it yields is hashed (diff_id),
 * counted (bomb guard) and handed to a libarchive tar reader. Failures are reported in the
 * order that explains the others, so the stream is read to its end and the blob to EOF even
 * when the tar ends (or the walk fails) earlier. After the tar's end-of-archive blocks only
 * zero padding may follow, to the end of the stream: a second archive there (`tar -i` and
 * `tarfile(ignore_zeros=True)` would extract it) or any other data is refused. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "lade/layerread.h"
#include "lade/util.h"

#define READ_BUFSIZE (1u << 20)

bool lade_tar_name_unsafe(const char *name)
{
	if (name[0] == '/')
		return true;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		while (*p == '/')
			p++;
	}
	return false;
}

enum lade_entry_type lade_tar_entry_type(struct archive_entry *e, const char **link)
{
	*link = archive_entry_hardlink(e);
	if (*link)
		return LADE_ENTRY_HARDLINK;
	switch (archive_entry_filetype(e)) {
	case AE_IFDIR:
		return LADE_ENTRY_DIR;
	case AE_IFREG:
		return LADE_ENTRY_FILE;
	case AE_IFLNK:
		*link = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
		return LADE_ENTRY_SYMLINK;
	default:
		return LADE_ENTRY_OTHER;
	}
}

struct pass {
	struct lade_source source; /* the blob, read and hashed; first member */
	const struct lade_layer_read *r;
	bool compressed;
	int fd;
	unsigned char *in;
	bool in_eof, in_failed;
	int in_errno;
	uint64_t in_bytes;
	struct lade_sha256 *blob_sha;
	struct lade_sha256 *tar_sha; /* NULL when not compressed: the blob is its own diff */
	struct lade_decompressor *dec;
	bool dec_eof;
	uint64_t total;                /* decompressed bytes so far */
	uint64_t data_end;             /* offset after the last non-zero byte of the stream */
	struct lade_error *stream_err; /* first open, read, decompression or bomb failure */
};

static void pass_release(struct pass *p)
{
	lade_decompressor_free(p->dec);
	if (p->fd >= 0)
		close(p->fd);
	free(p->in);
	lade_sha256_free(p->blob_sha);
	lade_sha256_free(p->tar_sha);
	lade_error_free(p->stream_err);
}

/* "<name>: " or "" */
static int prefix(struct lade_error **err, const struct lade_layer_read *r)
{
	if (r->name)
		lade_error_prefix(err, "%s", r->name);
	return -1;
}

static ssize_t blob_fill(struct pass *p)
{
	ssize_t n = lade_read_retry(p->fd, p->in, READ_BUFSIZE);
	if (n < 0) {
		p->in_failed = true;
		p->in_errno = errno;
		return -1;
	}
	lade_sha256_update(p->blob_sha, p->in, (size_t)n);
	p->in_bytes += (uint64_t)n;
	p->in_eof = n == 0;
	return n;
}

static ssize_t blob_read(struct lade_source *s, const void **buf, struct lade_error **err)
{
	struct pass *p = (struct pass *)s;
	*buf = p->in;
	if (p->in_eof)
		return 0;
	ssize_t n = blob_fill(p);
	if (n < 0)
		return lade_error_set(err, p->in_errno, "cannot read %s", p->r->path);
	return n;
}

static void pass_open(struct pass *p)
{
	p->source.read = blob_read;
	if (lade_open_regular(p->r->path, 0, &p->fd, &p->stream_err) < 0) {
		p->fd = -1;
		prefix(&p->stream_err, p->r);
		return;
	}
	if (lade_decompressor_new(p->r->compression, p->r->decompress_flags, &p->source, &p->dec,
	                          &p->stream_err) < 0)
		prefix(&p->stream_err, p->r);
}

/* Whether the bomb guard refuses p->total bytes (fills p->stream_err then). */
static bool too_big(struct pass *p)
{
	if (p->total > LADE_LAYER_MAX_BYTES)
		lade_error_set(&p->stream_err, 0,
		               "more than %llu GiB uncompressed: refused as a decompression bomb",
		               LADE_LAYER_MAX_BYTES >> 30);
	else if (p->total > LADE_LAYER_RATIO_MIN && p->total / LADE_LAYER_RATIO_MAX > p->r->size)
		lade_error_set(&p->stream_err, 0,
		               "more than %llu times its compressed size (%" PRIu64
		               " bytes) uncompressed: refused as a decompression bomb",
		               LADE_LAYER_RATIO_MAX, p->r->size);
	else
		return false;
	prefix(&p->stream_err, p->r);
	return true;
}

/* Next block of the decompressed stream: > 0 bytes at *buf, 0 at its end, -1 with
 * p->stream_err set. Hashes and counts as it goes. */
static ssize_t pass_next(struct pass *p, const void **buf)
{
	if (p->stream_err)
		return -1;
	if (p->dec_eof)
		return 0;
	ssize_t n = lade_decompressor_next(p->dec, buf, &p->stream_err);
	if (n < 0) {
		prefix(&p->stream_err, p->r);
		return -1;
	}
	if (n == 0) {
		p->dec_eof = true;
		return 0;
	}
	/* from the end of the block: normally one step, a linear scan over zero padding */
	for (size_t i = (size_t)n; i > 0; i--) {
		if (((const unsigned char *)*buf)[i - 1] != 0) {
			p->data_end = p->total + i;
			break;
		}
	}
	p->total += (uint64_t)n;
	if (p->compressed) {
		if (too_big(p))
			return -1;
		lade_sha256_update(p->tar_sha, *buf, (size_t)n);
	}
	return n;
}

static la_ssize_t tar_read_cb(struct archive *a, void *data, const void **buf)
{
	struct pass *p = data;
	ssize_t n = pass_next(p, buf);
	if (n < 0) {
		archive_set_error(a, EIO, "%s", p->stream_err->msg);
		return -1;
	}
	return n;
}

/* libarchive's text, lowercased at the start like every lade message. */
static int tar_error(struct archive *a, const struct lade_layer_read *r, struct lade_error **err)
{
	const char *msg = archive_error_string(a);
	_cleanup_free_ char *m = xstrdup(msg ? msg : "unknown error");
	if (m[0] >= 'A' && m[0] <= 'Z' && !(m[1] >= 'A' && m[1] <= 'Z'))
		m[0] = (char)(m[0] - 'A' + 'a');
	lade_error_set(err, 0, "broken tar: %s", m);
	return prefix(err, r);
}

/* The tar headers of the stream; 1 when the callback stopped the walk. *tar_end: the offset
 * after the end-of-archive blocks (what libarchive consumed of the stream). */
static int walk(struct pass *p, uint64_t *entries, uint64_t *tar_end, struct lade_error **err)
{
	_cleanup_(lade_archive_read_freep) struct archive *a = archive_read_new();
	if (a == NULL)
		return lade_error_set(err, ENOMEM, "%s", p->r->name ? p->r->name : "layer");
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	if (archive_read_open(a, p, NULL, tar_read_cb, NULL) != ARCHIVE_OK)
		return tar_error(a, p->r, err);
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF) {
			la_int64_t pos = archive_filter_bytes(a, 0);
			*tar_end = pos > 0 ? (uint64_t)pos : 0;
			return 0;
		}
		/* ARCHIVE_WARN: a name libarchive cannot convert to the C locale (Debian's
		 * ca-certificates has UTF-8 link names); the header is still usable. */
		if (r < ARCHIVE_WARN)
			return tar_error(a, p->r, err);
		(*entries)++;
		if (p->r->entry) {
			int rc = p->r->entry(p->r->ctx, a, e, err);
			if (rc != 0)
				return rc;
		}
		if (archive_read_data_skip(a) < ARCHIVE_WARN)
			return tar_error(a, p->r, err);
	}
}

static int pass_error(struct lade_error **err, struct lade_error **e)
{
	if (err && *err == NULL)
		*err = steal_pointer(e);
	return -1;
}

static int mismatch(const struct lade_layer_read *r, const char *what, const char *want,
                    const char *got, struct lade_error **err)
{
	lade_error_set(err, 0, "%s mismatch (expected %s, got %s)", what, want, got);
	return prefix(err, r);
}

int lade_layer_read(const struct lade_layer_read *r, struct lade_layer_stats *stats,
                    struct lade_error **err)
{
	struct lade_layer_stats dummy;
	struct lade_layer_stats *st = stats ? stats : &dummy;
	*st = (struct lade_layer_stats){0};
	bool compressed = r->compression != LADE_COMPRESS_NONE;
	/* An uncompressed blob is its own diff (and its digest is checked below). */
	if (!compressed && r->diff_id && r->digest && strcmp(r->digest, r->diff_id) != 0)
		return mismatch(r, "diff_id", r->diff_id, r->digest, err);
	_cleanup_(pass_release) struct pass p = {
	        .r = r,
	        .compressed = compressed,
	        .fd = -1,
	        .in = xmalloc(READ_BUFSIZE),
	        .blob_sha = lade_sha256_new(),
	        .tar_sha = compressed ? lade_sha256_new() : NULL,
	};
	_cleanup_error_ struct lade_error *walk_err = NULL;
	pass_open(&p);
	if (p.stream_err == NULL) {
		uint64_t tar_end = UINT64_MAX;
		if (walk(&p, &st->entries, &tar_end, &walk_err) == 1) {
			st->tar_size = p.total;
			st->blob_size = p.in_bytes;
			return 0;
		}
		const void *buf;
		while (pass_next(&p, &buf) > 0)
			;
		if (walk_err == NULL && tar_end != UINT64_MAX && p.data_end > tar_end) {
			lade_error_set(&walk_err, 0,
			               "data after the tar's end-of-archive at byte %" PRIu64
			               " of the uncompressed stream (only zero padding may follow "
			               "it, not a second archive or other data)",
			               tar_end);
			prefix(&walk_err, r);
		}
	}
	while (p.fd >= 0 && !p.in_eof && !p.in_failed)
		blob_fill(&p);
	st->blob_size = p.in_bytes;
	st->tar_size = p.total;
	st->stream_failed = p.stream_err != NULL || p.in_failed;
	if (p.in_eof) {
		st->complete = true;
		lade_sha256_final(p.blob_sha, NULL, st->blob_digest);
		if (r->digest && strcmp(st->blob_digest, r->digest) != 0)
			return mismatch(r, "digest", r->digest, st->blob_digest, err);
	}
	if (p.stream_err)
		return pass_error(err, &p.stream_err);
	if (p.in_failed) {
		lade_error_set(err, p.in_errno, "cannot read %s", r->path);
		return prefix(err, r);
	}
	if (compressed) {
		lade_sha256_final(p.tar_sha, NULL, st->diff_id);
	} else {
		memcpy(st->diff_id, st->blob_digest, sizeof(st->diff_id));
	}
	if (r->diff_id && strcmp(st->diff_id, r->diff_id) != 0)
		return mismatch(r, "diff_id", r->diff_id, st->diff_id, err);
	if (walk_err)
		return pass_error(err, &walk_err);
	return 0;
}
