/* lade — layers: entries from every source written as one deterministic tar stream (see
 * include/lade/layer.h).
 *
 * Framing choices, fixed here so that the same entries always give the same bytes:
 *  - libarchive "pax restricted": plain ustar headers, a pax extended header only for what
 *    ustar cannot hold (long or non-ASCII names, big sizes or ids);
 *  - 512-byte records, no blocking (bytes_per_block = 0): the stream ends right after the
 *    two zero records of the end-of-archive marker, as Go's archive/tar (docker, buildah)
 *    writes layers, and every byte reaches the output as soon as libarchive writes it,
 *    which splicing needs (an entry's content starts right after its header has left);
 *  - directories as libarchive writes them (a trailing '/' on the name), no uname/gname,
 *    mtime = the build epoch with no sub-second part, no atime/ctime;
 *  - names are UTF-8 and libarchive converts them through the thread's locale, so every
 *    libarchive call that builds or writes a header runs under uselocale(C.UTF-8): the bytes
 *    do not depend on LANG, nor on a setlocale() anywhere in the process (in the plain "C"
 *    locale libarchive 3.6 cannot take UTF-8 names at all). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/hashmap.h"
#include "lade/layer.h"

#define READ_CHUNK      (1u << 20)
#define IMPLICIT_ORIGIN "implicit parent directory"

struct lade_layer {
	char *comment;
	struct lade_hashmap *by_path; /* path -> struct lade_entry (borrowed from entries) */
	struct lade_entry **entries;  /* in the order added */
	size_t n_entries, alloc_entries;
};

struct lade_entry *lade_entry_new(const char *path, enum lade_entry_type type, const char *origin)
{
	struct lade_entry *e = xzalloc(sizeof(*e));
	e->path = xstrdup(path);
	e->type = type;
	lade_buf_init(&e->data);
	e->origin = origin ? xstrdup(origin) : NULL;
	return e;
}

void lade_entry_free(struct lade_entry *e)
{
	if (e == NULL)
		return;
	free(e->path);
	free(e->link);
	free(e->src_path);
	lade_buf_release(&e->data);
	free(e->origin);
	free(e);
}

void lade_entry_freep(struct lade_entry **e)
{
	lade_entry_free(*e);
	*e = NULL;
}

static const char *origin_of(const struct lade_entry *e)
{
	return e->origin ? e->origin : e->path;
}

struct lade_layer *lade_layer_new(const char *comment)
{
	struct lade_layer *l = xzalloc(sizeof(*l));
	l->comment = xstrdup(comment ? comment : "");
	l->by_path = lade_hashmap_new();
	return l;
}

void lade_layer_free(struct lade_layer *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_entries; i++)
		lade_entry_free(l->entries[i]);
	free(l->entries);
	lade_hashmap_free(l->by_path, NULL);
	free(l->comment);
	free(l);
}

void lade_layer_freep(struct lade_layer **l)
{
	lade_layer_free(*l);
	*l = NULL;
}

const char *lade_layer_comment(const struct lade_layer *l)
{
	return l->comment;
}

size_t lade_layer_count(const struct lade_layer *l)
{
	return l->n_entries;
}

const struct lade_entry *lade_layer_lookup(const struct lade_layer *l, const char *path)
{
	return lade_hashmap_get(l->by_path, path);
}

/* The path rules every source's entries meet, checked here once for all of them: what a tar
 * reader or a container runtime could misread is refused, whoever produced it. */
/* A printable, one-line copy of a hostile name for messages. */
static char *escaped(const char *name)
{
	struct lade_buf b = LADE_BUF_INIT;
	bool utf8 = lade_utf8_valid(name);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8) || *p == '\\')
			lade_buf_addf(&b, "\\x%02x", *p);
		else
			lade_buf_addch(&b, (char)*p);
	}
	return lade_buf_detach(&b, NULL);
}

static int check_name(const struct lade_entry *e, const char *what, const char *name,
                      struct lade_error **err)
{
	_cleanup_free_ char *path_text = escaped(e->path);
	if (strlen(name) > LADE_MAX_PATH)
		return lade_error_set(err, 0, "%s of %s from %s is longer than %d bytes", what,
		                      path_text, origin_of(e), LADE_MAX_PATH);
	if (!lade_utf8_valid(name))
		return lade_error_set(err, 0, "%s of %s from %s is not valid UTF-8", what,
		                      path_text, origin_of(e));
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return lade_error_set(err, 0,
			                      "%s of %s from %s has a control character (0x%02x)",
			                      what, path_text, origin_of(e), *p);
	size_t comp = 0;
	for (const char *p = name;; p++) {
		if (*p == '/' || *p == '\0') {
			if (comp > LADE_MAX_NAME)
				return lade_error_set(
				        err, 0,
				        "%s of %s from %s has a component longer than %d "
				        "bytes",
				        what, path_text, origin_of(e), LADE_MAX_NAME);
			comp = 0;
			if (*p == '\0')
				break;
		} else {
			comp++;
		}
	}
	return 0;
}

/* A relative symlink target resolved from the link's directory must stay inside the image
 * root: "../../../etc/passwd" from "app/x" escapes, and a naive extractor (or a tool
 * following it on the host) would leave the image. Absolute targets are resolved inside the
 * container's root by the kernel, so they cannot escape. */
static bool symlink_escapes(const char *path, const char *target)
{
	if (target[0] == '/')
		return false;
	long depth = 0;
	for (const char *p = path; *p; p++)
		depth += *p == '/';
	const char *t = target;
	while (*t) {
		const char *end = strchr(t, '/');
		size_t n = end ? (size_t)(end - t) : strlen(t);
		if (n == 2 && t[0] == '.' && t[1] == '.') {
			if (--depth < 0)
				return true;
		} else if (n > 0 && !(n == 1 && t[0] == '.')) {
			depth++;
		}
		t += n;
		while (*t == '/')
			t++;
	}
	return false;
}

static int check_entry(const struct lade_entry *e, struct lade_error **err)
{
	if (e->path == NULL || e->path[0] == '\0' || !lade_path_is_normalised(e->path))
		return lade_error_set(err, 0, "invalid path '%s' from %s: not a normalised path",
		                      e->path ? e->path : "", origin_of(e));
	if (check_name(e, "path", e->path, err) < 0)
		return -1;
	switch (e->type) {
	case LADE_ENTRY_DIR:
		return 0;
	case LADE_ENTRY_FILE:
		if (e->src_path && e->ops)
			return lade_error_set(err, 0, "path %s from %s has two content sources",
			                      e->path, origin_of(e));
		if (e->ops && e->ops->emit == NULL)
			return lade_error_set(err, 0, "path %s from %s has no emit function",
			                      e->path, origin_of(e));
		return 0;
	case LADE_ENTRY_SYMLINK:
	case LADE_ENTRY_HARDLINK:
		if (e->link == NULL || e->link[0] == '\0')
			return lade_error_set(err, 0, "path %s from %s: link without a target",
			                      e->path, origin_of(e));
		if (e->type == LADE_ENTRY_HARDLINK && !lade_path_is_normalised(e->link))
			return lade_error_set(err, 0,
			                      "path %s from %s: hard link target '%s' is not a "
			                      "normalised path",
			                      e->path, origin_of(e), e->link);
		if (check_name(e, "link target", e->link, err) < 0)
			return -1;
		if (e->type == LADE_ENTRY_SYMLINK && symlink_escapes(e->path, e->link))
			return lade_error_set(
			        err, 0,
			        "symlink %s from %s points to '%s', outside the image "
			        "root",
			        e->path, origin_of(e), e->link);
		return 0;
	default:
		return lade_error_set(err, 0, "path %s from %s: lade does not write special files",
		                      e->path, origin_of(e));
	}
}

int lade_layer_add(struct lade_layer *l, struct lade_entry *e, struct lade_error **err)
{
	_cleanup_(lade_entry_freep) struct lade_entry *entry = e;

	if (check_entry(entry, err) < 0)
		return -1;

	const struct lade_entry *old = lade_hashmap_get(l->by_path, entry->path);
	if (old != NULL) {
		if (old->type == LADE_ENTRY_DIR && entry->type == LADE_ENTRY_DIR) {
			if (old->mode == entry->mode && old->uid == entry->uid &&
			    old->gid == entry->gid)
				return 0;
			return lade_error_set(
			        err, 0,
			        "path %s from %s conflicts with %s: directory %04o %" PRIu32
			        ":%" PRIu32 " is already %04o %" PRIu32 ":%" PRIu32,
			        entry->path, origin_of(entry), origin_of(old), entry->mode,
			        entry->uid, entry->gid, old->mode, old->uid, old->gid);
		}
		if (old->type == LADE_ENTRY_FILE && entry->type == LADE_ENTRY_FILE) {
			if (old->has_sha256 && entry->has_sha256 && old->size == entry->size &&
			    old->mode == entry->mode &&
			    memcmp(old->sha256, entry->sha256, sizeof(old->sha256)) == 0)
				return 0;
			return lade_error_set(err, 0, "path %s from %s conflicts with %s",
			                      entry->path, origin_of(entry), origin_of(old));
		}
		if (old->type != entry->type)
			return lade_error_set(
			        err, 0, "path %s from %s conflicts with %s: %s and %s", entry->path,
			        origin_of(entry), origin_of(old), lade_entry_type_name(entry->type),
			        lade_entry_type_name(old->type));
		return lade_error_set(err, 0, "path %s from %s conflicts with %s", entry->path,
		                      origin_of(entry), origin_of(old));
	}

	lade_grow(&l->entries, sizeof(*l->entries), l->n_entries + 1, &l->alloc_entries);
	lade_hashmap_put(l->by_path, entry->path, entry);
	l->entries[l->n_entries++] = steal_pointer(&entry);
	return 0;
}

/* ---- writing ---- */

/* The sorted view of a layer: its entries plus the implicit parents (owned here). */
struct plan {
	const struct lade_entry **list;
	size_t n, alloc;
	struct lade_hashmap *implicit; /* path -> owned struct lade_entry */
};

static void implicit_free(void *p)
{
	lade_entry_free(p);
}

static void plan_release(struct plan *p)
{
	free(p->list);
	lade_hashmap_free(p->implicit, implicit_free);
}

static void plan_push(struct plan *p, const struct lade_entry *e)
{
	lade_grow(&p->list, sizeof(*p->list), p->n + 1, &p->alloc);
	p->list[p->n++] = e;
}

static int compare_entries(const void *a, const void *b)
{
	const struct lade_entry *x = *(const struct lade_entry *const *)a;
	const struct lade_entry *y = *(const struct lade_entry *const *)b;
	return lade_path_compare(x->path, y->path);
}

/* Walk up from e's parent until an entry that exists (in the layer, or already implied)
 * and imply every directory on the way. */
static int add_parents(const struct lade_layer *l, const struct lade_layer_options *opts,
                       const struct lade_entry *e, struct plan *p, struct lade_error **err)
{
	_cleanup_free_ char *dir = lade_path_dirname(e->path);
	while (dir[0] != '\0') {
		const struct lade_entry *have = lade_hashmap_get(l->by_path, dir);
		if (have != NULL) {
			if (have->type != LADE_ENTRY_DIR)
				return lade_error_set(err, 0,
				                      "cannot add %s from %s: its parent %s is %s "
				                      "from %s",
				                      e->path, origin_of(e), dir,
				                      lade_entry_type_name(have->type),
				                      origin_of(have));
			return 0;
		}
		if (lade_hashmap_get(p->implicit, dir) != NULL)
			return 0;

		struct lade_entry *imp = lade_entry_new(dir, LADE_ENTRY_DIR, IMPLICIT_ORIGIN);
		imp->mode = 0755;
		const struct lade_tree_node *node =
		        opts->base ? lade_tree_lookup(opts->base, dir) : NULL;
		if (node != NULL && node->type != LADE_ENTRY_DIR) {
			lade_entry_free(imp);
			return lade_error_set(
			        err, 0, "cannot add %s: its parent %s is %s in the base image",
			        e->path, dir, lade_entry_type_name(node->type));
		}
		if (node != NULL) {
			imp->mode = node->mode & 07777;
			imp->uid = node->uid;
			imp->gid = node->gid;
		}
		lade_hashmap_put(p->implicit, dir, imp);
		plan_push(p, imp);

		char *up = lade_path_dirname(dir);
		free(dir);
		dir = up;
	}
	return 0;
}

static int plan_build(const struct lade_layer *l, const struct lade_layer_options *opts,
                      struct plan *p, struct lade_error **err)
{
	p->implicit = lade_hashmap_new();
	for (size_t i = 0; i < l->n_entries; i++) {
		plan_push(p, l->entries[i]);
		if (add_parents(l, opts, l->entries[i], p, err) < 0)
			return -1;
	}
	/* Paths are unique (layer map + implied only where the layer has none), so the order
	 * is total and does not depend on the order entries were added in. */
	qsort(p->list, p->n, sizeof(*p->list), compare_entries);

	for (size_t i = 0; i < p->n; i++) {
		const struct lade_entry *e = p->list[i];
		if (e->type != LADE_ENTRY_HARDLINK)
			continue;
		const struct lade_entry *target = lade_hashmap_get(l->by_path, e->link);
		if (target == NULL || target->type != LADE_ENTRY_FILE ||
		    lade_path_compare(target->path, e->path) >= 0)
			return lade_error_set(err, 0,
			                      "hard link %s from %s points to %s, which is not a "
			                      "file written before it in this layer",
			                      e->path, origin_of(e), e->link);
	}
	return 0;
}

struct tar_sink {
	struct lade_stream *out;
	struct lade_compressor *comp; /* where `out` leads, for splicing; may be NULL */
	struct lade_error *err; /* the output stream's failure, reported instead of libarchive's */
	bool dead;              /* after a failure: swallow what libarchive still flushes */
	uint64_t bytes;

	/* eStargz (toc != NULL): the content of the file being written is cut into chunks of
	 * at most chunk_limit bytes, each starting a gzip member, hashed for the TOC */
	struct lade_toc *toc;
	bool zstd_chunked; /* else eStargz */
	const struct lade_entry *landmark;
	uint64_t landmark_offset;
	bool chunking;
	uint64_t chunk_limit, chunk_start, chunk_len, chunk_member;
	struct lade_sha256 *chunk_sha, *file_sha; /* file_sha: only for files of several chunks */
	const unsigned char *known_sha; /* a one-chunk file's known sha256 (RECORD): not hashed */
};

static la_ssize_t sink_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct tar_sink *s = ud;
	if (s->dead)
		return (la_ssize_t)len;
	if (lade_stream_write(s->out, buf, len, &s->err) < 0) {
		s->dead = true;
		archive_set_error(a, EIO, "cannot write the tar stream");
		return -1;
	}
	s->bytes += len;
	return (la_ssize_t)len;
}

static void sink_release(struct tar_sink *s)
{
	lade_error_free(s->err);
	s->err = NULL;
	lade_sha256_freep(&s->chunk_sha);
	lade_sha256_freep(&s->file_sha);
}

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
	*a = NULL;
}

static void archive_entry_freep(struct archive_entry **ae)
{
	if (*ae)
		archive_entry_free(*ae);
	*ae = NULL;
}

/* Report a libarchive failure; the output stream's own error wins when it caused it. */
static int archive_fail(struct archive *a, struct tar_sink *s, struct lade_error **err,
                        const char *what)
{
	s->dead = true;
	if (s->err != NULL) {
		if (err != NULL && *err == NULL)
			*err = steal_pointer(&s->err);
		return lade_error_prefix(err, "%s", what);
	}
	int e = archive_errno(a);
	return lade_error_set(err, 0, "%s: %s%s%s", what,
	                      archive_error_string(a) ? archive_error_string(a)
	                                              : "libarchive error",
	                      e > 0 ? ": " : "", e > 0 ? strerror(e) : "");
}

/* ---- eStargz chunks ---- */

/* The content of e starts here: a new gzip member (whole: one chunk whatever its size, for
 * spliced deflate data, which cannot be cut). */
static int lazy_file_begin(struct tar_sink *s, const struct lade_entry *e, bool whole,
                           struct lade_error **err)
{
	if (s->toc == NULL || e->size == 0)
		return 0;
	if (lade_compressor_cut(s->comp, &s->chunk_member, err) < 0)
		return lade_error_prefix(err, "%s", origin_of(e));
	if (e == s->landmark)
		s->landmark_offset = s->chunk_member;
	s->chunking = true;
	/* zstd:chunked: a file is one frame (the reader fetches [offset, endOffset)) */
	s->chunk_limit = whole || s->zstd_chunked ? e->size : LADE_ESTARGZ_CHUNK_SIZE;
	s->chunk_start = 0;
	s->chunk_len = 0;
	/* A wheel member's content is checked against its RECORD sha256 as it streams (a
	 * mismatch fails the layer), so that is its digest: no second hash of most bytes. */
	s->known_sha = e->has_sha256 && s->chunk_limit >= e->size ? e->sha256 : NULL;
	s->chunk_sha = s->known_sha ? NULL : lade_sha256_new();
	if (s->chunk_limit < e->size)
		s->file_sha = lade_sha256_new();
	return 0;
}

static void lazy_chunk_end(struct tar_sink *s)
{
	char d[LADE_DIGEST_STRLEN];
	if (s->known_sha) {
		memcpy(d, "sha256:", 7);
		for (size_t i = 0; i < 32; i++)
			snprintf(d + 7 + 2 * i, 3, "%02x", s->known_sha[i]);
	} else {
		lade_sha256_final(s->chunk_sha, NULL, d);
		lade_sha256_freep(&s->chunk_sha);
	}
	if (!s->zstd_chunked)
		lade_toc_chunk(s->toc, s->chunk_member, s->chunk_start, s->chunk_len,
		               s->chunk_len == LADE_ESTARGZ_CHUNK_SIZE, d);
	if (s->file_sha == NULL) /* one chunk: the file's digest is the chunk's */
		lade_toc_file_digest(s->toc, d);
}

/* After the whole content (put_data checked the count). zstd:chunked: the file's frame ends
 * with it (the tar padding and the next header start the next frame, as the reference
 * writes). */
static int lazy_file_end(struct tar_sink *s, const struct lade_entry *e, struct lade_error **err)
{
	if (!s->chunking)
		return 0;
	lazy_chunk_end(s);
	if (s->zstd_chunked) {
		uint64_t end;
		if (lade_compressor_cut(s->comp, &end, err) < 0)
			return lade_error_prefix(err, "%s", origin_of(e));
		lade_toc_range(s->toc, s->chunk_member, end);
	}
	if (s->file_sha != NULL) {
		char d[LADE_DIGEST_STRLEN];
		lade_sha256_final(s->file_sha, NULL, d);
		lade_sha256_freep(&s->file_sha);
		lade_toc_file_digest(s->toc, d);
	}
	s->chunking = false;
	return 0;
}

static int put_bytes(struct archive *a, struct tar_sink *s, const struct lade_entry *e,
                     const char *p, size_t len, struct lade_error **err)
{
	while (len > 0) {
		la_ssize_t n = archive_write_data(a, p, len);
		if (n <= 0) {
			_cleanup_free_ char *what = xasprintf("cannot write %s", origin_of(e));
			return archive_fail(a, s, err, what);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int put_data(struct archive *a, struct tar_sink *s, const struct lade_entry *e,
                    const void *buf, size_t len, struct lade_error **err)
{
	const char *p = buf;
	if (!s->chunking)
		return put_bytes(a, s, e, p, len, err);
	while (len > 0) {
		if (s->chunk_len == s->chunk_limit) {
			/* More content after a full chunk: the next one starts a member. The
			 * content written so far has reached the compressor (no tar blocking). */
			lazy_chunk_end(s);
			s->chunk_start += s->chunk_len;
			s->chunk_len = 0;
			s->chunk_sha = lade_sha256_new();
			if (lade_compressor_cut(s->comp, &s->chunk_member, err) < 0)
				return lade_error_prefix(err, "%s", origin_of(e));
		}
		size_t n = (size_t)(s->chunk_limit - s->chunk_len);
		if (n > len)
			n = len;
		if (s->chunk_sha)
			lade_sha256_update(s->chunk_sha, p, n);
		if (s->file_sha)
			lade_sha256_update(s->file_sha, p, n);
		if (put_bytes(a, s, e, p, n, err) < 0)
			return -1;
		s->chunk_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int file_changed(const char *path, struct lade_error **err)
{
	return lade_error_set(err, 0, "%s changed while lade was reading it", path);
}

static int put_host_file(struct archive *a, struct tar_sink *s, const struct lade_entry *e,
                         char *buf, struct lade_error **err)
{
	_cleanup_fd_ int fd = -1;
	if (lade_open_regular(e->src_path, O_NOFOLLOW, &fd, err) < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lade_error_set(err, errno, "cannot stat %s", e->src_path);
	if ((uint64_t)st.st_size != e->size)
		return file_changed(e->src_path, err);

	uint64_t left = e->size;
	while (left > 0) {
		size_t want = left < READ_CHUNK ? (size_t)left : READ_CHUNK;
		ssize_t n = lade_read_retry(fd, buf, want);
		if (n < 0)
			return lade_error_set(err, errno, "cannot read %s", e->src_path);
		if (n == 0)
			return file_changed(e->src_path, err);
		if (put_data(a, s, e, buf, (size_t)n, err) < 0)
			return -1;
		left -= (uint64_t)n;
	}
	/* Growth after the fstat: a byte past the expected end. */
	ssize_t n = lade_read_retry(fd, buf, 1);
	if (n < 0)
		return lade_error_set(err, errno, "cannot read %s", e->src_path);
	if (n > 0)
		return file_changed(e->src_path, err);
	return 0;
}

/* What a source's emit() writes into: checks the count against the header's size. */
struct emit_stream {
	struct lade_stream stream; /* first member */
	struct archive *a;
	struct tar_sink *sink;
	const struct lade_entry *e;
	uint64_t written;
};

static int emit_write(struct lade_stream *st, const void *buf, size_t len, struct lade_error **err)
{
	struct emit_stream *es = (struct emit_stream *)st;
	if (len > es->e->size - es->written)
		return lade_error_set(err, 0, "%s gives more than the %" PRIu64 " bytes expected",
		                      origin_of(es->e), es->e->size);
	if (put_data(es->a, es->sink, es->e, buf, len, err) < 0)
		return -1;
	es->written += len;
	return 0;
}

/* Whether e's deflate data goes into the gzip layer as it is: its bytes still pass through the
 * tar writer (for the diff_id) and the compressor checks them against the member's CRC-32 and
 * size. This relies on the tar writer handing every byte on at once (no blocking), so that
 * the compressor has seen the entry's header when the content starts. */
static bool splice_wanted(const struct tar_sink *s, const struct lade_entry *e, uint32_t *crc)
{
	uint64_t raw_size;
	return s->comp && e->ops->deflated && e->ops->emit_spliced &&
	       e->ops->deflated(e->ops_ctx, e, crc, &raw_size) &&
	       lade_compressor_can_splice(s->comp, raw_size, e->size);
}

static int put_emitted(struct archive *a, struct tar_sink *s, const struct lade_entry *e,
                       struct lade_error **err)
{
	struct emit_stream es = {.stream.write = emit_write, .a = a, .sink = s, .e = e};
	uint32_t crc;
	struct lade_stream *raw = NULL;
	bool splice = splice_wanted(s, e, &crc);
	if (lazy_file_begin(s, e, splice, err) < 0)
		return -1;
	if (splice && lade_compressor_splice_begin(s->comp, crc, e->size, &raw, err) < 0)
		return lade_error_prefix(err, "%s", origin_of(e));
	int r = raw ? e->ops->emit_spliced(e->ops_ctx, e, &es.stream, raw, err)
	            : e->ops->emit(e->ops_ctx, e, &es.stream, err);
	if (r == 0 && raw && lade_compressor_splice_end(s->comp, err) < 0)
		return lade_error_prefix(err, "%s", origin_of(e));
	if (r < 0) {
		/* Name the entry unless the message already does. */
		if (err && *err && strstr((*err)->msg, origin_of(e)) == NULL)
			lade_error_prefix(err, "%s", origin_of(e));
		return -1;
	}
	if (es.written != e->size)
		return lade_error_set(err, 0, "%s gives %" PRIu64 " bytes, %" PRIu64 " expected",
		                      origin_of(e), es.written, e->size);
	return 0;
}

static void locale_restorep(locale_t *old)
{
	if (*old != (locale_t)0)
		uselocale(*old);
	*old = (locale_t)0;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static int put_header(struct archive *a, struct tar_sink *s, const struct lade_entry *e,
                      int64_t mtime, locale_t utf8, struct lade_error **err)
{
	if (e->type == LADE_ENTRY_FILE && e->src_path == NULL && e->ops == NULL &&
	    e->data.len != e->size)
		return lade_error_set(err, 0, "%s has %zu bytes of content, %" PRIu64 " expected",
		                      origin_of(e), e->data.len, e->size);
	/* libarchive 3.6 crashes on UTF-8 names in the "C" locale: refuse instead. */
	if (utf8 == (locale_t)0 && (!is_ascii(e->path) || (e->link && !is_ascii(e->link))))
		return lade_error_set(err, 0,
		                      "cannot add %s from %s: non-ASCII names need the C.UTF-8 "
		                      "locale, which this system lacks",
		                      e->path, origin_of(e));

	_cleanup_(locale_restorep) locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
	_cleanup_(archive_entry_freep) struct archive_entry *ae = archive_entry_new();
	if (ae == NULL)
		return lade_error_set(err, ENOMEM, "cannot add %s", e->path);

	archive_entry_update_pathname_utf8(ae, e->path);
	archive_entry_set_perm(ae, e->mode & 07777);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, mtime, 0);
	switch (e->type) {
	case LADE_ENTRY_DIR:
		archive_entry_set_filetype(ae, AE_IFDIR);
		archive_entry_set_size(ae, 0);
		break;
	case LADE_ENTRY_FILE:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, (la_int64_t)e->size);
		break;
	case LADE_ENTRY_SYMLINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_update_symlink_utf8(ae, e->link);
		archive_entry_set_size(ae, 0);
		break;
	case LADE_ENTRY_HARDLINK:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_update_hardlink_utf8(ae, e->link);
		archive_entry_set_size(ae, 0);
		break;
	default:
		return lade_error_set(err, 0, "path %s from %s: lade does not write special files",
		                      e->path, origin_of(e));
	}

	if (archive_write_header(a, ae) != ARCHIVE_OK) {
		_cleanup_free_ char *what =
		        xasprintf("cannot add %s from %s", e->path, origin_of(e));
		return archive_fail(a, s, err, what);
	}
	return 0;
}

static int put_entry(struct archive *a, struct tar_sink *s, const struct lade_entry *e,
                     int64_t mtime, locale_t utf8, char *buf, struct lade_error **err)
{
	if (put_header(a, s, e, mtime, utf8, err) < 0)
		return -1;
	if (s->toc)
		lade_toc_add(s->toc, e);
	if (e->type != LADE_ENTRY_FILE)
		return 0;
	int r;
	/* Even an empty host file is opened: it must still be there, and still empty. */
	if (e->src_path)
		r = lazy_file_begin(s, e, false, err) < 0 ? -1 : put_host_file(a, s, e, buf, err);
	else if (e->size == 0)
		r = 0;
	else if (e->ops)
		r = put_emitted(a, s, e, err); /* decides on splicing, then lazy_file_begin */
	else
		r = lazy_file_begin(s, e, false, err) < 0
		            ? -1
		            : put_data(a, s, e, e->data.data, e->data.len, err);
	if (r == 0)
		r = lazy_file_end(s, e, err);
	return r;
}

static void locale_freep(locale_t *loc)
{
	if (*loc != (locale_t)0)
		freelocale(*loc);
	*loc = (locale_t)0;
}

/* What write_tar reports back. */
struct tar_result {
	size_t entries;
	uint64_t content;
	/* eStargz */
	uint64_t toc_offset, prefetch_bytes;
	char toc_digest[LADE_DIGEST_STRLEN];
	char *toc_json; /* zstd:chunked: the TOC, for the blob's tail (owned) */
};

/* Mark entry i of the plan to go before the landmark, with its parent directories and the
 * target of a hard link (which must be written before it). */
static void lazy_mark(const struct plan *p, const struct lade_hashmap *index, bool *marked,
                      size_t i)
{
	if (marked[i])
		return;
	marked[i] = true;
	const struct lade_entry *e = p->list[i];
	_cleanup_free_ char *dir = lade_path_dirname(e->path);
	uintptr_t at = dir[0] ? (uintptr_t)lade_hashmap_get(index, dir) : 0;
	if (at > 0)
		lazy_mark(p, index, marked, (size_t)(at - 1));
	at = e->type == LADE_ENTRY_HARDLINK ? (uintptr_t)lade_hashmap_get(index, e->link) : 0;
	if (at > 0)
		lazy_mark(p, index, marked, (size_t)(at - 1));
}

/* The eStargz order of the plan (see lade_layer_options.lazy): parents stay before children,
 * since a marked entry's parents are marked and an unmarked one's come earlier either way.
 * Sets the landmark's name: ".no.prefetch.landmark", first, when nothing matched. */
static void lazy_order(struct plan *p, char *const *prefetch, struct lade_entry *landmark)
{
	_cleanup_free_ bool *marked = xcalloc(p->n + 1, sizeof(*marked));
	struct lade_hashmap *index = lade_hashmap_new();
	for (size_t i = 0; i < p->n; i++)
		lade_hashmap_put(index, p->list[i]->path, (void *)(uintptr_t)(i + 1));
	for (size_t i = 0; i < p->n; i++)
		for (char *const *g = prefetch; g && *g; g++)
			if (p->list[i]->type != LADE_ENTRY_DIR &&
			    lade_glob_match(*g, p->list[i]->path)) {
				lazy_mark(p, index, marked, i);
				break;
			}
	lade_hashmap_free(index, NULL);

	const struct lade_entry **order = xcalloc(p->n + 1, sizeof(*order));
	size_t k = 0;
	for (size_t i = 0; i < p->n; i++)
		if (marked[i])
			order[k++] = p->list[i];
	if (k == 0) {
		free(landmark->path);
		landmark->path = xstrdup(LADE_ESTARGZ_NO_PREFETCH_LANDMARK);
	}
	order[k++] = landmark;
	for (size_t i = 0; i < p->n; i++)
		if (!marked[i])
			order[k++] = p->list[i];
	free(p->list);
	p->list = order;
	p->n = k;
	p->alloc = k;
}

/* The eStargz names lade writes itself may not come from a source. */
static int lazy_reserved(const struct lade_layer *l, struct lade_error **err)
{
	static const char *const names[] = {LADE_ESTARGZ_TOC_NAME, LADE_ESTARGZ_PREFETCH_LANDMARK,
	                                    LADE_ESTARGZ_NO_PREFETCH_LANDMARK};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(names); i++) {
		const struct lade_entry *e = lade_hashmap_get(l->by_path, names[i]);
		if (e != NULL)
			return lade_error_set(err, 0,
			                      "%s from %s: the name is reserved in eStargz layers",
			                      e->path, origin_of(e));
	}
	return 0;
}

/* The TOC as the last tar entry, in a gzip member of its own (with the end-of-archive
 * records after it); the footer follows the compressor's output (lade_layer_write). */
static int lazy_put_toc(struct archive *a, struct tar_sink *s,
                        const struct lade_layer_options *opts, locale_t utf8, char *buf,
                        struct tar_result *res, struct lade_error **err)
{
	/* The last entry's padding first (libarchive writes it with the next header): the TOC
	 * member must start with the TOC's own tar header. */
	if (archive_write_finish_entry(a) != ARCHIVE_OK)
		return archive_fail(a, s, err, "cannot write the tar stream");
	if (lade_compressor_last_member(s->comp, &res->toc_offset, err) < 0)
		return -1;
	_cleanup_(lade_entry_freep) struct lade_entry *toc =
	        lade_entry_new(LADE_ESTARGZ_TOC_NAME, LADE_ENTRY_FILE, "eStargz TOC");
	toc->mode = 0644;
	_cleanup_free_ char *json = lade_toc_dump(s->toc);
	lade_buf_add(&toc->data, json, strlen(json));
	toc->size = toc->data.len;
	lade_sha256_buf(toc->data.data, toc->data.len, res->toc_digest);
	_cleanup_(lade_toc_freep) struct lade_toc *done = steal_pointer(&s->toc);
	return put_entry(a, s, toc, opts->mtime, utf8, buf, err);
}

static int write_tar(struct lade_layer *l, const struct lade_layer_options *opts,
                     struct lade_stream *out, struct lade_compressor *comp, struct tar_result *res,
                     struct lade_error **err)
{
	_cleanup_(plan_release) struct plan plan = {0};
	if (plan_build(l, opts, &plan, err) < 0)
		return -1;
	bool lazy = opts->lazy != LADE_LAZY_NONE;
	bool estargz = opts->lazy == LADE_LAZY_ESTARGZ;
	if (estargz && (comp == NULL || opts->compression != LADE_COMPRESS_GZIP))
		return lade_error_set(err, 0, "eStargz layers need gzip compression");
	if (lazy && !estargz && (comp == NULL || opts->compression != LADE_COMPRESS_ZSTD))
		return lade_error_set(err, 0, "zstd:chunked layers need zstd compression");
	if (estargz && lazy_reserved(l, err) < 0)
		return -1;
	_cleanup_(lade_entry_freep) struct lade_entry *landmark = NULL;
	if (estargz) {
		landmark = lade_entry_new(LADE_ESTARGZ_PREFETCH_LANDMARK, LADE_ENTRY_FILE,
		                          "eStargz landmark");
		landmark->mode = 0644;
		lade_buf_add(&landmark->data, (const char[]){LADE_ESTARGZ_LANDMARK_BYTE}, 1);
		landmark->size = 1;
		lazy_order(&plan, opts->prefetch, landmark);
	}

	_cleanup_(locale_freep) locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	_cleanup_(locale_restorep) locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;

	/* Declared before the archive so it outlives archive_write_free()'s final flush. */
	_cleanup_(sink_release) struct tar_sink sink = {.out = out, .comp = comp};
	_cleanup_(lade_toc_freep) struct lade_toc *toc =
	        lazy ? lade_toc_new(opts->lazy, opts->mtime) : NULL;
	sink.toc = toc;
	sink.zstd_chunked = lazy && !estargz;
	sink.landmark = landmark;
	_cleanup_(archive_write_freep) struct archive *a = archive_write_new();
	if (a == NULL)
		return lade_error_set(err, ENOMEM, "cannot create a tar writer");
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK)
		return archive_fail(a, &sink, err, "cannot set up the tar writer");
	if (archive_write_open2(a, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
		return archive_fail(a, &sink, err, "cannot start the tar stream");

	/* Sources run in the caller's locale; headers switch to utf8 on their own. */
	locale_restorep(&old);

	_cleanup_free_ char *buf = xmalloc(READ_CHUNK);
	uint64_t content = 0;
	for (size_t i = 0; i < plan.n; i++) {
		const struct lade_entry *e = plan.list[i];
		if (put_entry(a, &sink, e, opts->mtime, utf8, buf, err) < 0) {
			sink.dead = true;
			return -1;
		}
		if (e->type == LADE_ENTRY_FILE)
			content += e->size;
	}
	struct tar_result r = {.entries = plan.n, .content = content};
	if (lazy && !estargz)
		r.toc_json = lade_toc_dump(toc);
	if (estargz) {
		sink.toc = steal_pointer(&toc);
		if (lazy_put_toc(a, &sink, opts, utf8, buf, &r, err) < 0) {
			sink.dead = true;
			return -1;
		}
		r.entries++;
		if (strcmp(landmark->path, LADE_ESTARGZ_PREFETCH_LANDMARK) == 0)
			r.prefetch_bytes = sink.landmark_offset;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		free(r.toc_json);
		return archive_fail(a, &sink, err, "cannot finish the tar stream");
	}
	if (res)
		*res = r;
	else
		free(r.toc_json);
	return 0;
}

int lade_layer_write_tar(struct lade_layer *l, const struct lade_layer_options *opts,
                         struct lade_stream *out, struct lade_error **err)
{
	return write_tar(l, opts, out, NULL, NULL, err);
}

static void hash_stream_releasep(struct lade_hash_stream *hs)
{
	if (hs->sha)
		lade_hash_stream_release(hs);
}

int lade_layer_write(struct lade_layer *l, const struct lade_layer_options *opts,
                     struct lade_store *store, struct lade_layer_result *res,
                     struct lade_error **err)
{
	_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *blob = NULL;
	if (lade_store_blob_begin(store, &blob, err) < 0)
		return lade_error_prefix(err, "layer %s", l->comment);

	/* tar -> sha256 (diff_id) -> compressor -> blob writer, which hashes the blob itself:
	 * the digest comes from the store's commit, so the compressed bytes are hashed once. */
	_cleanup_(lade_compressor_freep) struct lade_compressor *comp = NULL;
	struct lade_stream *next = lade_blob_writer_stream(blob);
	if (opts->compression != LADE_COMPRESS_NONE) {
		if (lade_compressor_new(opts->compression, opts->level,
		                        opts->jobs > 0 ? opts->jobs : 1, next, &comp, err) < 0)
			return lade_error_prefix(err, "layer %s", l->comment);
		next = lade_compressor_stream(comp);
	}
	_cleanup_(hash_stream_releasep) struct lade_hash_stream tar_hash = {0};
	lade_hash_stream_init(&tar_hash, next);

	struct tar_result tr = {0};
	if (write_tar(l, opts, &tar_hash.stream, comp, &tr, err) < 0)
		return lade_error_prefix(err, "layer %s", l->comment);
	_cleanup_free_ char *toc_json = tr.toc_json;
	char toc_position[96] = "";
	uint64_t end = 0; /* zstd:chunked: where the tar's frames end (the last one cut here) */
	if ((toc_json && lade_compressor_cut(comp, &end, err) < 0) ||
	    (comp && lade_compressor_finish(comp, err) < 0))
		return lade_error_prefix(err, "layer %s", l->comment);
	if (toc_json) {
		/* Skippable frames after the tar's frames: the diff_id does not see them. */
		_cleanup_buf_ struct lade_buf tail = LADE_BUF_INIT;
		if (lade_zstd_chunked_tail(toc_json, opts->level, end, &tail, tr.toc_digest,
		                           toc_position, err) < 0 ||
		    lade_stream_write(lade_blob_writer_stream(blob), tail.data, tail.len, err) < 0)
			return lade_error_prefix(err, "layer %s", l->comment);
	} else if (opts->lazy != LADE_LAZY_NONE) {
		/* Outside the tar (an empty member): the diff_id does not see it. */
		unsigned char footer[LADE_ESTARGZ_FOOTER_SIZE];
		lade_estargz_footer(tr.toc_offset, footer);
		if (lade_stream_write(lade_blob_writer_stream(blob), footer, sizeof(footer), err) <
		    0)
			return lade_error_prefix(err, "layer %s", l->comment);
	}

	struct lade_layer_result r = {0};
	r.tar_size = tar_hash.bytes;
	lade_hash_stream_final(&tar_hash, r.diff_id);
	if (lade_blob_writer_commit(steal_pointer(&blob), r.digest, &r.size, err) < 0)
		return lade_error_prefix(err, "layer %s", l->comment);
	r.content_size = tr.content;
	r.entries = tr.entries;
	r.prefetch_bytes = tr.prefetch_bytes;
	memcpy(r.toc_digest, tr.toc_digest, sizeof(r.toc_digest));
	memcpy(r.toc_position, toc_position, sizeof(r.toc_position));
	r.media_type = lade_compression_media_type(opts->compression);
	*res = r;
	return 0;
}

int lade_layer_walk(struct lade_layer *l, const struct lade_layer_options *opts,
                    int (*fn)(void *ctx, const struct lade_entry *e, struct lade_error **err),
                    void *ctx, struct lade_error **err)
{
	_cleanup_(plan_release) struct plan plan = {0};
	if (plan_build(l, opts, &plan, err) < 0)
		return -1;
	for (size_t i = 0; i < plan.n; i++)
		if (fn(ctx, plan.list[i], err) < 0)
			return -1;
	return 0;
}

/* ---- splitting ---- */

static void layer_push(struct lade_layer *l, struct lade_entry *e)
{
	lade_grow(&l->entries, sizeof(*l->entries), l->n_entries + 1, &l->alloc_entries);
	lade_hashmap_put(l->by_path, e->path, e);
	l->entries[l->n_entries++] = e;
}

void lade_layer_parts_free(struct lade_layer **parts, size_t n_parts)
{
	if (parts == NULL)
		return;
	for (size_t i = 0; i < n_parts; i++)
		lade_layer_free(parts[i]);
	free(parts);
}

/* Copy the explicit directories above e that `part` lacks into it. */
static void copy_explicit_parents(const struct lade_layer *l, struct lade_layer *part,
                                  const struct lade_entry *e)
{
	_cleanup_free_ char *dir = lade_path_dirname(e->path);
	while (dir[0] != '\0' && lade_hashmap_get(part->by_path, dir) == NULL) {
		const struct lade_entry *orig = lade_hashmap_get(l->by_path, dir);
		if (orig != NULL && orig->type == LADE_ENTRY_DIR) {
			struct lade_entry *copy = lade_entry_new(dir, LADE_ENTRY_DIR, orig->origin);
			copy->mode = orig->mode;
			copy->uid = orig->uid;
			copy->gid = orig->gid;
			layer_push(part, copy);
		}
		char *up = lade_path_dirname(dir);
		free(dir);
		dir = up;
	}
}

int lade_layer_split(struct lade_layer *l, uint64_t max_bytes, struct lade_layer ***parts,
                     size_t *n_parts, struct lade_error **err)
{
	if (max_bytes == 0)
		return lade_error_set(err, 0, "layer %s: cannot split into parts of 0 bytes",
		                      l->comment);
	size_t n = l->n_entries;
	_cleanup_free_ struct lade_entry **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	if (n > 0)
		memcpy(sorted, l->entries, n * sizeof(*sorted));
	if (n > 1)
		qsort(sorted, n, sizeof(*sorted), compare_entries);

	_cleanup_free_ size_t *part_of = xcalloc(n ? n : 1, sizeof(*part_of));
	size_t cur = 0;
	uint64_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const struct lade_entry *e = sorted[i];
		if (e->type == LADE_ENTRY_HARDLINK)
			continue;
		if (e->type == LADE_ENTRY_FILE) {
			if (used > 0 &&
			    e->size > max_bytes - (used < max_bytes ? used : max_bytes)) {
				cur++;
				used = 0;
			}
			used += e->size;
		}
		part_of[i] = cur;
	}
	/* Hard links follow their target: the index of each path, then a lookup. */
	struct lade_hashmap *index = lade_hashmap_new();
	for (size_t i = 0; i < n; i++)
		lade_hashmap_put(index, sorted[i]->path, &part_of[i]);
	for (size_t i = 0; i < n; i++) {
		const struct lade_entry *e = sorted[i];
		if (e->type != LADE_ENTRY_HARDLINK)
			continue;
		const struct lade_entry *target = lade_hashmap_get(l->by_path, e->link);
		if (target == NULL || target->type != LADE_ENTRY_FILE) {
			lade_hashmap_free(index, NULL);
			return lade_error_set(
			        err, 0,
			        "layer %s: cannot split: hard link %s from %s points to "
			        "%s, which is not a file of this layer",
			        l->comment, e->path, origin_of(e), e->link);
		}
		part_of[i] = *(size_t *)lade_hashmap_get(index, target->path);
	}
	lade_hashmap_free(index, NULL);

	size_t np = cur + 1;
	struct lade_layer **out = xcalloc(np, sizeof(*out));
	for (size_t k = 0; k < np; k++) {
		_cleanup_free_ char *comment =
		        np == 1 ? xstrdup(l->comment)
		                : xasprintf("%s (part %zu/%zu)", l->comment, k + 1, np);
		out[k] = lade_layer_new(comment);
	}
	for (size_t i = 0; i < n; i++)
		layer_push(out[part_of[i]], sorted[i]);
	for (size_t i = 0; i < n; i++)
		copy_explicit_parents(l, out[part_of[i]], sorted[i]);

	/* The entries now belong to the parts. */
	l->n_entries = 0;
	lade_hashmap_free(l->by_path, NULL);
	l->by_path = lade_hashmap_new();
	*parts = out;
	*n_parts = np;
	return 0;
}
