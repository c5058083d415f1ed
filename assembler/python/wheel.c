/* lade — wheels: member streaming and .dist-info parsing (see include/lade/wheel.h); the ZIP
 * central directory is read by zip.c.
 *
 * The ZIP container is parsed here rather than through libarchive because every safety rule
 * (names, sizes, offsets, duplicates) is about the central directory, which is the only index
 * pip and Python's zipfile trust; the local headers are only used to find where data starts,
 * and their sizes are never believed. Member data is inflated with ISA-L (raw deflate) straight
 * from pread() windows of the wheel fd; the same deflate bytes can be handed out as they are
 * read, for layers that splice them into gzip members. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

#include "lade/digest.h"
#include "lade/pep440.h"
#include "lade/pyformat.h"
#include "lade/wheel.h"
#include "wheel-private.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void lade_wheel_hash_b64(const unsigned char sha256[32], char out[44])
{
	size_t o = 0;
	for (size_t i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)sha256[i] << 16;
		size_t n = 32 - i >= 3 ? 3 : 32 - i;
		if (n > 1)
			v |= (uint32_t)sha256[i + 1] << 8;
		if (n > 2)
			v |= sha256[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (n > 1)
			out[o++] = b64url[(v >> 6) & 63];
		if (n > 2)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p ? (int)(p - b64url) : -1;
}

/* Decode urlsafe base64 of exactly 32 bytes; padding is tolerated. */
static bool b64_decode_sha256(const char *s, unsigned char out[32])
{
	size_t len = strlen(s);
	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len != 43)
		return false;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < 32)
				out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return o == 32 && acc == 0;
}

static bool name_eq(const char *a, const char *b)
{
	_cleanup_free_ char *ca = lade_name_normalize(a);
	_cleanup_free_ char *cb = lade_name_normalize(b);
	return strcmp(ca, cb) == 0;
}

static bool version_eq(const char *a, const char *b)
{
	_cleanup_(lade_version_freep) struct lade_version *va = NULL;
	_cleanup_(lade_version_freep) struct lade_version *vb = NULL;
	if (lade_version_parse(a, &va, NULL) == 0 && lade_version_parse(b, &vb, NULL) == 0)
		return lade_version_cmp(va, vb) == 0;
	return strcasecmp(a, b) == 0;
}

/* ---------------------------------------------------------------- lifetime, accessors */

void lade_wheel_free(struct lade_wheel *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; i < w->n_members; i++)
		free((char *)w->members[i].name);
	free(w->members);
	free(w->sorted);
	for (size_t i = 0; i < w->n_eps; i++) {
		free((char *)w->eps[i].name);
		free((char *)w->eps[i].module);
		free((char *)w->eps[i].attr);
	}
	free(w->eps);
	free(w->path);
	free(w->filename);
	free(w->fn_name);
	free(w->fn_version);
	free(w->dist_info);
	free(w->data_dir);
	free(w->name);
	free(w->version);
	free(w->version_norm);
	lade_strv_free(w->requires_dist);
	lade_strv_free(w->classifiers);
	free(w->requires_python);
	free(w->license);
	free(w->license_expr);
	free(w);
}

void lade_wheel_freep(struct lade_wheel **w)
{
	lade_wheel_free(*w);
	*w = NULL;
}

static char *const empty_strv[] = {NULL};

const char *lade_wheel_path(const struct lade_wheel *w)
{
	return w->path;
}
const char *lade_wheel_filename(const struct lade_wheel *w)
{
	return w->filename;
}
const char *lade_wheel_name(const struct lade_wheel *w)
{
	return w->name;
}
const char *lade_wheel_version(const struct lade_wheel *w)
{
	return w->version;
}
const char *lade_wheel_version_normalized(const struct lade_wheel *w)
{
	return w->version_norm;
}
const char *lade_wheel_dist_info(const struct lade_wheel *w)
{
	return w->dist_info;
}
const char *lade_wheel_data_dir(const struct lade_wheel *w)
{
	return w->data_dir;
}
bool lade_wheel_root_is_purelib(const struct lade_wheel *w)
{
	return w->root_is_purelib;
}
char *const *lade_wheel_requires_dist(const struct lade_wheel *w)
{
	return w->requires_dist ? w->requires_dist : empty_strv;
}
char *const *lade_wheel_classifiers(const struct lade_wheel *w)
{
	return w->classifiers ? w->classifiers : empty_strv;
}
const char *lade_wheel_requires_python(const struct lade_wheel *w)
{
	return w->requires_python;
}
const char *lade_wheel_license_field(const struct lade_wheel *w)
{
	return w->license;
}
const char *lade_wheel_license_expression(const struct lade_wheel *w)
{
	return w->license_expr;
}
const char *lade_wheel_license(const struct lade_wheel *w)
{
	return w->license_expr ? w->license_expr : w->license;
}
size_t lade_wheel_entry_point_count(const struct lade_wheel *w)
{
	return w->n_eps;
}
const struct lade_wheel_entry_point *lade_wheel_entry_point(const struct lade_wheel *w, size_t i)
{
	return i < w->n_eps ? &w->eps[i] : NULL;
}
size_t lade_wheel_member_count(const struct lade_wheel *w)
{
	return w->n_members;
}
const struct lade_wheel_member *lade_wheel_member(const struct lade_wheel *w, size_t i)
{
	return i < w->n_members ? &w->members[i] : NULL;
}

ssize_t lade_wheel_find_member(const struct lade_wheel *w, const char *name)
{
	size_t lo = 0, hi = w->n_members;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(w->sorted[mid].name, name);
		if (c == 0)
			return (ssize_t)w->sorted[mid].idx;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---------------------------------------------------------------- member data */

typedef int (*sink_fn)(void *ctx, const void *buf, size_t len, struct lade_error **err);

static int member_error(const struct lade_wheel *w, const struct lade_wheel_member *m,
                        struct lade_error **err, const char *what)
{
	return lade_error_set(err, 0, "wheel %s member %s: %s", w->filename, m->name, what);
}

/* Inflate a deflate member with ISA-L (2-3 times zlib's speed; it computes the CRC-32 of what
 * it writes as it goes). When `raw` is given, the deflate bytes are written to it as they are
 * read, and the stream must end exactly at the member's end: raw then receives one complete
 * deflate stream, the one whose output went to sink. */
static int member_inflate(struct lade_wheel *w, const struct lade_wheel_member *m, sink_fn sink,
                          void *ctx, struct lade_stream *raw, struct lade_sha256 *sha,
                          uint32_t *crc, uint64_t *total, struct lade_error **err)
{
	_cleanup_free_ unsigned char *in = xmalloc(CHUNK);
	_cleanup_free_ unsigned char *outb = xmalloc(CHUNK);
	_cleanup_free_ struct inflate_state *st = xmalloc(sizeof(*st));
	uint64_t in_left = m->csize, in_off = m->data_start;

	isal_inflate_init(st);
	st->crc_flag = ISAL_GZIP_NO_HDR; /* raw deflate; CRC-32 of the output in st->crc */
	while (st->block_state != ISAL_BLOCK_FINISH) {
		if (st->avail_in == 0 && in_left > 0) {
			size_t n = in_left < CHUNK ? (size_t)in_left : CHUNK;
			if (pread_full(w->fd, in, n, in_off) < 0)
				return lade_error_set(err, errno, "wheel %s member %s: read error",
				                      w->filename, m->name);
			if (raw && lade_stream_write(raw, in, n, err) < 0)
				return -1;
			st->next_in = in;
			st->avail_in = (uint32_t)n;
			in_left -= n;
			in_off += n;
		}
		uint32_t avail_before = st->avail_in;
		st->next_out = outb;
		st->avail_out = CHUNK;
		int r = isal_inflate(st);
		if (r < 0)
			return lade_error_set(
			        err, 0, "wheel %s member %s: corrupt deflate data (isa-l error %d)",
			        w->filename, m->name, r);
		size_t have = CHUNK - st->avail_out;
		if (have > 0) {
			if (*total + have > m->usize)
				return lade_error_set(
				        err, 0,
				        "wheel %s member %s: data exceeds the declared "
				        "size %llu",
				        w->filename, m->name, (unsigned long long)m->usize);
			lade_sha256_update(sha, outb, have);
			if (sink(ctx, outb, have, err) < 0)
				return -1;
			*total += have;
			continue; /* output may still be pending, input consumed or not */
		}
		if (st->block_state == ISAL_BLOCK_FINISH)
			break;
		if (st->avail_in == 0 && in_left == 0)
			return member_error(w, m, err, "truncated deflate data");
		if (st->avail_in == avail_before && st->avail_in > 0)
			return member_error(w, m, err, "corrupt deflate data (no progress)");
	}
	/* Bytes after the deflate stream: harmless when inflating, but they would end up inside
	 * a spliced gzip member. ISA-L keeps up to 8 bytes it read ahead in its bit buffer
	 * (read_in_length bits; under 8 of them are the last byte's padding). */
	uint64_t after = st->avail_in + in_left + st->read_in_length / 8;
	if (raw && after > 0)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: %llu bytes after the end of the deflate "
		                      "data",
		                      w->filename, m->name, (unsigned long long)after);
	*crc = st->crc;
	return 0;
}

static int member_stream(struct lade_wheel *w, size_t i, sink_fn sink, void *ctx,
                         struct lade_stream *raw, struct lade_error **err)
{
	const struct lade_wheel_member *m = &w->members[i];
	_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = lade_sha256_new();
	uint32_t crc = 0;
	uint64_t total = 0;

	if (m->method == 0) {
		if (raw)
			return member_error(w, m, err, "a stored member has no deflate data");
		if (m->csize != m->usize)
			return member_error(w, m, err,
			                    "stored member with different compressed size");
		_cleanup_free_ unsigned char *in = xmalloc(CHUNK);
		uint64_t in_left = m->csize, in_off = m->data_start;
		while (in_left > 0) {
			size_t n = in_left < CHUNK ? (size_t)in_left : CHUNK;
			if (pread_full(w->fd, in, n, in_off) < 0)
				return lade_error_set(err, errno, "wheel %s member %s: read error",
				                      w->filename, m->name);
			crc = crc32_gzip_refl(crc, in, n);
			lade_sha256_update(sha, in, n);
			if (sink(ctx, in, n, err) < 0)
				return -1;
			in_left -= n;
			in_off += n;
			total += n;
		}
	} else if (member_inflate(w, m, sink, ctx, raw, sha, &crc, &total, err) < 0) {
		return -1;
	}
	if (total != m->usize)
		return lade_error_set(
		        err, 0, "wheel %s member %s: data has %llu bytes, the zip declares %llu",
		        w->filename, m->name, (unsigned long long)total,
		        (unsigned long long)m->usize);
	if (crc != m->crc32)
		return member_error(w, m, err, "crc-32 mismatch");
	unsigned char got[32];
	lade_sha256_final(sha, got, NULL);
	lade_sha256_freep(&sha);
	if (m->has_sha256 && memcmp(got, m->sha256, 32) != 0) {
		char want_s[44], got_s[44];
		lade_wheel_hash_b64(m->sha256, want_s);
		lade_wheel_hash_b64(got, got_s);
		return lade_error_set(
		        err, 0,
		        "wheel %s member %s: sha256 mismatch with RECORD (expected %s, "
		        "got %s)",
		        w->filename, m->name, want_s, got_s);
	}
	return 0;
}

static int stream_sink(void *ctx, const void *buf, size_t len, struct lade_error **err)
{
	return lade_stream_write(ctx, buf, len, err);
}

int lade_wheel_emit_member(struct lade_wheel *w, size_t i, struct lade_stream *out,
                           struct lade_error **err)
{
	if (i >= w->n_members || w->members[i].is_dir)
		return lade_error_set(err, 0, "wheel %s: no member #%zu to read", w->filename, i);
	return member_stream(w, i, stream_sink, out, NULL, err);
}

int lade_wheel_emit_member_spliced(struct lade_wheel *w, size_t i, struct lade_stream *out,
                                   struct lade_stream *raw, struct lade_error **err)
{
	if (i >= w->n_members || w->members[i].is_dir)
		return lade_error_set(err, 0, "wheel %s: no member #%zu to read", w->filename, i);
	return member_stream(w, i, stream_sink, out, raw, err);
}

static int buf_sink(void *ctx, const void *buf, size_t len, struct lade_error **err)
{
	(void)err;
	lade_buf_add(ctx, buf, len);
	return 0;
}

int lade_wheel_read_member(struct lade_wheel *w, size_t i, size_t max, struct lade_buf *out,
                           struct lade_error **err)
{
	if (i >= w->n_members || w->members[i].is_dir)
		return lade_error_set(err, 0, "wheel %s: no member #%zu to read", w->filename, i);
	const struct lade_wheel_member *m = &w->members[i];
	if (m->usize > max)
		return lade_error_set(err, 0, "wheel %s member %s: %llu bytes, more than %zu",
		                      w->filename, m->name, (unsigned long long)m->usize, max);
	lade_buf_grow(out, (size_t)m->usize);
	return member_stream(w, i, buf_sink, out, NULL, err);
}

/* ---------------------------------------------------------------- file name, dist-info */

static int split_filename(const char *fn, char **name, char **version)
{
	size_t len = strlen(fn);
	if (len < 5 || strcmp(fn + len - 4, ".whl") != 0)
		return -1;
	_cleanup_free_ char *stem = xstrndup(fn, len - 4);
	char *parts[7];
	size_t n = 0;
	for (char *s = stem, *tok; (tok = strsep(&s, "-")) != NULL;) {
		if (n == 7 || *tok == '\0')
			return -1;
		parts[n++] = tok;
	}
	if (n != 5 && n != 6)
		return -1;
	*name = xstrdup(parts[0]);
	*version = xstrdup(parts[1]);
	return 0;
}

static int parse_filename(struct lade_wheel *w, struct lade_error **err)
{
	if (split_filename(w->filename, &w->fn_name, &w->fn_version) < 0)
		return lade_error_set(
		        err, 0,
		        "wheel %s: not a wheel file name (NAME-VERSION-PYTHON-ABI-PLATFORM.whl)",
		        w->filename);
	return 0;
}

static int find_dist_info(struct lade_wheel *w, struct lade_error **err)
{
	char *found = NULL;
	for (size_t i = 0; i < w->n_members; i++) {
		const char *name = w->members[i].name;
		const char *slash = strchr(name, '/');
		size_t n = slash ? (size_t)(slash - name) : 0;
		if (n < 10 || strncmp(name + n - 10, ".dist-info", 10) != 0)
			continue;
		if (found && (strlen(found) != n || strncmp(found, name, n) != 0)) {
			_cleanup_free_ char *other = xstrndup(name, n);
			const char *a = strcmp(found, other) < 0 ? found : other;
			const char *b = a == found ? other : found;
			lade_error_set(err, 0,
			               "wheel %s: more than one .dist-info directory (%s, %s)",
			               w->filename, a, b);
			free(found);
			return -1;
		}
		if (!found)
			found = xstrndup(name, n);
	}
	if (!found)
		return lade_error_set(err, 0, "wheel %s: no .dist-info directory", w->filename);
	w->dist_info = found;
	_cleanup_free_ char *stem = xstrndup(found, strlen(found) - 10);
	char *dash = strrchr(stem, '-');
	if (dash == NULL)
		return lade_error_set(err, 0, "wheel %s: .dist-info directory %s has no version",
		                      w->filename, found);
	*dash = '\0';
	if (!name_eq(stem, w->fn_name) || !version_eq(dash + 1, w->fn_version))
		return lade_error_set(
		        err, 0, "wheel %s: .dist-info directory %s does not match the file name",
		        w->filename, found);
	*dash = '-';
	w->data_dir = xasprintf("%s.data", stem);
	return 0;
}

static int read_meta(struct lade_wheel *w, const char *file, bool required, struct lade_buf *out,
                     struct lade_error **err)
{
	_cleanup_free_ char *name = xasprintf("%s/%s", w->dist_info, file);
	ssize_t i = lade_wheel_find_member(w, name);
	if (i < 0) {
		if (!required)
			return 0;
		return lade_error_set(err, 0, "wheel %s: no %s", w->filename, name);
	}
	if (lade_wheel_read_member(w, (size_t)i, META_MAX, out, err) < 0)
		return -1;
	if (memchr(out->data, '\0', out->len))
		return lade_error_set(err, 0, "wheel %s member %s: contains a NUL byte",
		                      w->filename, name);
	return 1;
}

/* Next line of buf (without "\n" / "\r\n"), NUL-terminated in place. */
static char *next_line(char **pos)
{
	char *s = *pos;
	if (s == NULL || *s == '\0')
		return NULL;
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		*pos = nl + 1;
	} else {
		*pos = s + strlen(s);
	}
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '\r')
		s[n - 1] = '\0';
	return s;
}

static char *strip(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* RFC 822 style header block: calls fn for each (key, value) with folded lines joined by
 * "\n"; stops at the first empty line (the body). */
static void parse_headers(char *text, void (*fn)(void *ctx, const char *key, const char *value),
                          void *ctx)
{
	char *pos = text, *line;
	_cleanup_free_ char *key = NULL;
	_cleanup_buf_ struct lade_buf val = LADE_BUF_INIT;
	while ((line = next_line(&pos)) != NULL) {
		if (*line == '\0')
			break;
		if ((*line == ' ' || *line == '\t') && key) {
			lade_buf_addch(&val, '\n');
			lade_buf_adds(&val, strip(line));
			continue;
		}
		if (key)
			fn(ctx, key, val.data);
		free(key);
		key = NULL;
		lade_buf_reset(&val);
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		key = xstrdup(strip(line));
		lade_buf_adds(&val, strip(colon + 1));
	}
	if (key)
		fn(ctx, key, val.data);
}

struct wheel_fields {
	char *version;
	char *purelib;
};

static void wheel_field(void *ctx, const char *key, const char *value)
{
	struct wheel_fields *f = ctx;
	char **slot = strcasecmp(key, "Wheel-Version") == 0     ? &f->version
	              : strcasecmp(key, "Root-Is-Purelib") == 0 ? &f->purelib
	                                                        : NULL;
	if (slot && *slot == NULL)
		*slot = xstrdup(value);
}

static int parse_wheel_file(struct lade_wheel *w, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (read_meta(w, "WHEEL", true, &b, err) < 0)
		return -1;
	struct wheel_fields f = {NULL, NULL};
	parse_headers(b.data, wheel_field, &f);
	_cleanup_free_ char *version = f.version;
	_cleanup_free_ char *purelib = f.purelib;
	if (version == NULL)
		return lade_error_set(err, 0, "wheel %s: %s/WHEEL has no Wheel-Version",
		                      w->filename, w->dist_info);
	char *endp;
	errno = 0;
	unsigned long major = strtoul(version, &endp, 10);
	if (endp == version || (*endp != '.' && *endp != '\0') || major != 1)
		return lade_error_set(
		        err, 0, "wheel %s: unsupported Wheel-Version %s (only 1.x is supported)",
		        w->filename, version);
	w->root_is_purelib = purelib && strcasecmp(purelib, "true") == 0;
	return 0;
}

static void metadata_field(void *ctx, const char *key, const char *value)
{
	struct lade_wheel *w = ctx;
	char **slot = NULL;
	if (strcasecmp(key, "Name") == 0)
		slot = &w->name;
	else if (strcasecmp(key, "Version") == 0)
		slot = &w->version;
	else if (strcasecmp(key, "License") == 0)
		slot = &w->license;
	else if (strcasecmp(key, "License-Expression") == 0)
		slot = &w->license_expr;
	else if (strcasecmp(key, "Requires-Python") == 0)
		slot = &w->requires_python;
	else if (strcasecmp(key, "Requires-Dist") == 0)
		lade_strv_push(&w->requires_dist, value);
	else if (strcasecmp(key, "Classifier") == 0)
		lade_strv_push(&w->classifiers, value);
	if (slot && *slot == NULL)
		*slot = xstrdup(value);
}

static int parse_metadata(struct lade_wheel *w, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (read_meta(w, "METADATA", true, &b, err) < 0)
		return -1;
	parse_headers(b.data, metadata_field, w);
	if (w->name == NULL || *w->name == '\0')
		return lade_error_set(err, 0, "wheel %s: %s/METADATA has no Name", w->filename,
		                      w->dist_info);
	if (w->version == NULL || *w->version == '\0')
		return lade_error_set(err, 0, "wheel %s: %s/METADATA has no Version", w->filename,
		                      w->dist_info);
	if (!name_eq(w->name, w->fn_name))
		return lade_error_set(err, 0,
		                      "wheel %s: METADATA Name '%s' does not match the file name",
		                      w->filename, w->name);
	if (!version_eq(w->version, w->fn_version))
		return lade_error_set(
		        err, 0, "wheel %s: METADATA Version '%s' does not match the file name",
		        w->filename, w->version);
	w->version_norm = lade_version_normalize(w->version);
	if (w->version_norm == NULL)
		w->version_norm = xstrdup(w->version);
	return 0;
}

/* ---------------------------------------------------------------- RECORD */

static bool is_record_file(const struct lade_wheel *w, const char *name)
{
	size_t n = strlen(w->dist_info);
	if (strncmp(name, w->dist_info, n) != 0 || name[n] != '/')
		return false;
	name += n + 1;
	return strcmp(name, "RECORD") == 0 || strcmp(name, "RECORD.jws") == 0 ||
	       strcmp(name, "RECORD.p7s") == 0;
}

static int parse_record(struct lade_wheel *w, struct lade_error **err)
{
	_cleanup_free_ char *record = xasprintf("%s/RECORD", w->dist_info);
	ssize_t ri = lade_wheel_find_member(w, record);
	if (ri < 0)
		return lade_error_set(err, 0, "wheel %s: no %s", w->filename, record);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_wheel_read_member(w, (size_t)ri, META_MAX, &b, err) < 0)
		return -1;
	_cleanup_free_ bool *listed = xcalloc(w->n_members ? w->n_members : 1, sizeof(bool));
	const char *pos = b.data, *end = b.data + b.len;
	for (size_t line = 1;; line++) {
		_cleanup_strv_ char **f = NULL;
		int r = lade_csv_row(&pos, end, &f);
		if (r == 0)
			break;
		if (r < 0)
			return lade_error_set(err, 0, "wheel %s: %s line %zu: unterminated quote",
			                      w->filename, record, line);
		size_t nf = lade_strv_len(f);
		if (nf == 1 && f[0][0] == '\0')
			continue; /* blank line */
		if (nf != 3)
			return lade_error_set(err, 0,
			                      "wheel %s: %s line %zu: expected 3 fields, got %zu",
			                      w->filename, record, line, nf);
		ssize_t i = lade_wheel_find_member(w, f[0]);
		if (i < 0)
			return lade_error_set(err, 0,
			                      "wheel %s: RECORD lists %s which is not in the wheel",
			                      w->filename, f[0]);
		struct lade_wheel_member *m = &w->members[i];
		if (f[1][0] == '\0') {
			if (!is_record_file(w, m->name))
				return lade_error_set(
				        err, 0, "wheel %s member %s: RECORD has no sha256 hash",
				        w->filename, m->name);
		} else {
			unsigned char h[32];
			if (strncmp(f[1], "sha256=", 7) != 0)
				return lade_error_set(
				        err, 0, "wheel %s member %s: RECORD hash %s is not sha256",
				        w->filename, m->name, f[1]);
			if (!b64_decode_sha256(f[1] + 7, h))
				return lade_error_set(
				        err, 0, "wheel %s: %s line %zu: malformed sha256 for %s",
				        w->filename, record, line, m->name);
			if (listed[i] && (!m->has_sha256 || memcmp(h, m->sha256, 32) != 0))
				return lade_error_set(
				        err, 0,
				        "wheel %s: RECORD lists %s twice with different "
				        "hashes",
				        w->filename, m->name);
			if ((size_t)i == (size_t)ri)
				return lade_error_set(err, 0,
				                      "wheel %s: RECORD lists a hash for itself",
				                      w->filename);
			memcpy(m->sha256, h, 32);
			m->has_sha256 = true;
		}
		if (f[2][0] != '\0') {
			char *endp;
			errno = 0;
			unsigned long long sz = strtoull(f[2], &endp, 10);
			if (errno || *endp != '\0' || !isdigit((unsigned char)f[2][0]) ||
			    sz != m->usize)
				return lade_error_set(
				        err, 0,
				        "wheel %s member %s: RECORD size %s does not match "
				        "the zip (%llu)",
				        w->filename, m->name, f[2], (unsigned long long)m->usize);
		}
		listed[i] = true;
	}
	for (size_t i = 0; i < w->n_members; i++) {
		const struct lade_wheel_member *m = &w->members[i];
		if (m->is_dir || is_record_file(w, m->name))
			continue;
		if (!listed[i])
			return lade_error_set(err, 0, "wheel %s member %s is not listed in RECORD",
			                      w->filename, m->name);
	}
	return 0;
}

/* ---------------------------------------------------------------- entry_points.txt */

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || (unsigned char)c >= 0x80;
}

static bool dotted_ident(const char *s)
{
	if (*s == '\0' || *s == '.')
		return false;
	for (const char *p = s; *p; p++)
		if (!ident_char(*p) || (*p == '.' && (p[1] == '.' || p[1] == '\0')))
			return false;
	return !isdigit((unsigned char)*s);
}

static bool script_name_ok(const char *s)
{
	if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int parse_entry_points(struct lade_wheel *w, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	int r = read_meta(w, "entry_points.txt", false, &b, err);
	if (r <= 0)
		return r;
	size_t alloc = 0;
	int section = 0; /* 0 other, 1 console, 2 gui */
	char *pos = b.data, *line;
	for (int pass = 1; pass <= 2; pass++) {
		/* console scripts first, then gui scripts, each in file order */
		_cleanup_free_ char *copy = xstrdup(b.data);
		pos = copy;
		section = 0;
		while ((line = next_line(&pos)) != NULL) {
			char *s = strip(line);
			if (*s == '\0' || *s == '#' || *s == ';')
				continue;
			if (*s == '[') {
				char *close = strchr(s, ']');
				if (close)
					*close = '\0';
				s = strip(s + 1);
				section = strcmp(s, "console_scripts") == 0 ? 1
				          : strcmp(s, "gui_scripts") == 0   ? 2
				                                            : 0;
				continue;
			}
			if (section != pass)
				continue;
			const char *sect = pass == 1 ? "console_scripts" : "gui_scripts";
			char *eq = strchr(s, '=');
			if (eq == NULL)
				return lade_error_set(
				        err, 0,
				        "wheel %s: entry_points.txt [%s]: line '%s' has "
				        "no '='",
				        w->filename, sect, s);
			*eq = '\0';
			char *name = strip(s), *value = strip(eq + 1);
			char *extras = strchr(value, '[');
			if (extras) {
				if (strchr(extras, ']') == NULL)
					return lade_error_set(err, 0,
					                      "wheel %s: entry point '%s' in [%s] "
					                      "has unterminated extras",
					                      w->filename, name, sect);
				*extras = '\0';
				value = strip(value);
			}
			if (!script_name_ok(name))
				return lade_error_set(err, 0, "wheel %s: invalid %s name '%s'",
				                      w->filename, sect, name);
			char *colon = strchr(value, ':');
			if (colon == NULL)
				return lade_error_set(
				        err, 0,
				        "wheel %s: entry point '%s = %s' in [%s] has no "
				        "callable (module:attr)",
				        w->filename, name, value, sect);
			*colon = '\0';
			char *mod = strip(value), *attr = strip(colon + 1);
			if (!dotted_ident(mod) || !dotted_ident(attr))
				return lade_error_set(err, 0,
				                      "wheel %s: entry point '%s' in [%s]: invalid "
				                      "reference '%s:%s'",
				                      w->filename, name, sect, mod, attr);
			lade_grow(&w->eps, sizeof(*w->eps), w->n_eps + 1, &alloc);
			struct lade_wheel_entry_point *ep = &w->eps[w->n_eps++];
			ep->name = xstrdup(name);
			ep->module = xstrdup(mod);
			ep->attr = xstrdup(attr);
			ep->gui = pass == 2;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- open */

int lade_wheel_open(const char *path, struct lade_wheel **out, struct lade_error **err)
{
	return lade_wheel_open_limited(path, NULL, out, err);
}

int lade_wheel_open_limited(const char *path, const struct lade_wheel_limits *limits,
                            struct lade_wheel **out, struct lade_error **err)
{
	_cleanup_(lade_wheel_freep) struct lade_wheel *w = xzalloc(sizeof(*w));
	if (limits)
		w->limits = *limits;
	else
		lade_wheel_limits_default(&w->limits);
	const char *slash = strrchr(path, '/');
	w->fd = -1;
	w->path = xstrdup(path);
	w->filename = xstrdup(slash ? slash + 1 : path);
	if (parse_filename(w, err) < 0)
		return -1;
	if (lade_open_regular(path, 0, &w->fd, err) < 0)
		return lade_error_prefix(err, "wheel");
	struct stat st;
	if (fstat(w->fd, &st) < 0)
		return lade_error_set(err, errno, "cannot stat wheel %s", path);
	w->file_size = (uint64_t)st.st_size;
	if (wheel_parse_central(w, err) < 0 || find_dist_info(w, err) < 0 ||
	    parse_record(w, err) < 0 || parse_wheel_file(w, err) < 0 ||
	    parse_metadata(w, err) < 0 || parse_entry_points(w, err) < 0)
		return -1;
	*out = steal_pointer(&w);
	return 0;
}
