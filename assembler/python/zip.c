/* lade — the ZIP container of a wheel, read from its central directory (see wheel-private.h).
 *
 * The ZIP container is parsed here rather than through libarchive because every safety rule
 * (names, sizes, offsets, duplicates, overlaps) is about the central directory, which is the
 * only index pip and Python's zipfile trust; local headers must agree with it, and members
 * must not share bytes (the non-recursive "zip bomb"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/util.h"
#include "wheel-private.h"

/* ---------------------------------------------------------------- central directory */

/* Print a member name for messages: bytes up to the first NUL. */
static int check_name(const struct lade_wheel *w, const char *raw, size_t len,
                      struct lade_error **err)
{
	_cleanup_free_ char *shown = xstrndup(raw, len);
	if (memchr(raw, '\0', len))
		return lade_error_set(err, 0, "wheel %s member %s: name contains a NUL byte",
		                      w->filename, shown);
	if (len == 0)
		return lade_error_set(err, 0, "wheel %s: member with an empty name", w->filename);
	if (memchr(raw, '\\', len))
		return lade_error_set(err, 0, "wheel %s member %s: name contains a backslash",
		                      w->filename, shown);
	if (raw[0] == '/')
		return lade_error_set(err, 0, "wheel %s member %s: absolute path", w->filename,
		                      shown);
	size_t end = len;
	if (raw[end - 1] == '/')
		end--; /* directory entry */
	size_t start = 0;
	for (size_t i = 0; i <= end; i++) {
		if (i < end && raw[i] != '/')
			continue;
		size_t clen = i - start;
		if (clen == 0)
			return lade_error_set(err, 0,
			                      "wheel %s member %s: path has an empty component",
			                      w->filename, shown);
		if (clen == 2 && raw[start] == '.' && raw[start + 1] == '.')
			return lade_error_set(err, 0,
			                      "wheel %s member %s: path has a '..' component",
			                      w->filename, shown);
		if (clen == 1 && raw[start] == '.')
			return lade_error_set(err, 0,
			                      "wheel %s member %s: path has a '.' component",
			                      w->filename, shown);
		start = i + 1;
	}
	return 0;
}

/* ZIP64 extended information extra field: replaces the 0xffffffff header values, in order. */
static int apply_zip64_extra(const struct lade_wheel *w, const char *name, const unsigned char *x,
                             size_t xlen, bool need_u, bool need_c, bool need_o, uint64_t *usize,
                             uint64_t *csize, uint64_t *off, struct lade_error **err)
{
	size_t need = 8 * ((size_t)need_u + (size_t)need_c + (size_t)need_o);
	if (need == 0)
		return 0;
	while (xlen >= 4) {
		uint16_t id = le16(x), sz = le16(x + 2);
		if ((size_t)sz + 4 > xlen)
			break;
		if (id == 0x0001 && sz >= need) {
			const unsigned char *p = x + 4;
			if (need_u) {
				*usize = le64(p);
				p += 8;
			}
			if (need_c) {
				*csize = le64(p);
				p += 8;
			}
			if (need_o)
				*off = le64(p);
			return 0;
		}
		x += 4 + sz;
		xlen -= 4 + (size_t)sz;
	}
	return lade_error_set(err, 0, "wheel %s member %s: missing or short zip64 extra field",
	                      w->filename, name);
}

static int find_eocd(struct lade_wheel *w, uint64_t *cd_off, uint64_t *cd_size, uint64_t *n_entries,
                     uint64_t *cd_end_limit, struct lade_error **err)
{
	size_t back = w->file_size < EOCD_MAX_BACK ? (size_t)w->file_size : EOCD_MAX_BACK;
	_cleanup_free_ unsigned char *tail = xmalloc(back > 0 ? back : 1);
	uint64_t base = w->file_size - back;
	if (back < EOCD_SIZE || pread_full(w->fd, tail, back, base) < 0)
		return lade_error_set(
		        err, 0, "wheel %s: not a zip file (no end of central directory record)",
		        w->filename);
	ssize_t pos = -1;
	for (ssize_t i = (ssize_t)back - EOCD_SIZE; i >= 0; i--) {
		if (le32(tail + i) == SIG_EOCD &&
		    (size_t)i + EOCD_SIZE + le16(tail + i + 20) <= back) {
			pos = i;
			break;
		}
	}
	if (pos < 0)
		return lade_error_set(
		        err, 0, "wheel %s: not a zip file (no end of central directory record)",
		        w->filename);
	const unsigned char *e = tail + pos;
	uint64_t eocd_at = base + (uint64_t)pos;
	uint16_t disk = le16(e + 4), cd_disk = le16(e + 6);
	uint16_t n_disk = le16(e + 8), n_total = le16(e + 10);
	*n_entries = n_total;
	*cd_size = le32(e + 12);
	*cd_off = le32(e + 16);
	*cd_end_limit = eocd_at;

	bool z64 = false;
	unsigned char loc[20];
	if (eocd_at >= 20 && pread_full(w->fd, loc, 20, eocd_at - 20) == 0 &&
	    le32(loc) == SIG_Z64_LOC)
		z64 = true;
	if (z64) {
		uint64_t rec_at = le64(loc + 8);
		unsigned char rec[56];
		if (le32(loc + 4) != 0 || le32(loc + 16) > 1)
			return lade_error_set(err, 0,
			                      "wheel %s: multi-disk zip files are not supported",
			                      w->filename);
		if (rec_at + 56 > eocd_at - 20 || pread_full(w->fd, rec, 56, rec_at) < 0 ||
		    le32(rec) != SIG_Z64_EOCD)
			return lade_error_set(err, 0,
			                      "wheel %s: corrupt zip64 end of central directory",
			                      w->filename);
		if (le32(rec + 16) != 0 || le32(rec + 20) != 0 || le64(rec + 24) != le64(rec + 32))
			return lade_error_set(err, 0,
			                      "wheel %s: multi-disk zip files are not supported",
			                      w->filename);
		*n_entries = le64(rec + 32);
		*cd_size = le64(rec + 40);
		*cd_off = le64(rec + 48);
		*cd_end_limit = rec_at;
	} else if (disk != 0 || cd_disk != 0 || n_disk != n_total) {
		return lade_error_set(err, 0, "wheel %s: multi-disk zip files are not supported",
		                      w->filename);
	}
	if (*cd_off > *cd_end_limit || *cd_size > *cd_end_limit - *cd_off)
		return lade_error_set(
		        err, 0, "wheel %s: central directory lies outside the file (truncated?)",
		        w->filename);
	if (*n_entries > LADE_WHEEL_MAX_MEMBERS)
		return lade_error_set(err, 0, "wheel %s: too many members (%llu, limit %d)",
		                      w->filename, (unsigned long long)*n_entries,
		                      LADE_WHEEL_MAX_MEMBERS);
	if (*cd_size > CD_MAX || *cd_size < *n_entries * 46)
		return lade_error_set(err, 0, "wheel %s: corrupt central directory size",
		                      w->filename);
	return 0;
}

/* The local header's own copy of the sizes: ZIP64 puts both in its extra field. */
static int local_sizes(struct lade_wheel *w, const struct lade_wheel_member *m,
                       const unsigned char h[30], uint64_t *csize, uint64_t *usize,
                       struct lade_error **err)
{
	*csize = le32(h + 18);
	*usize = le32(h + 22);
	if (*csize != 0xffffffffu && *usize != 0xffffffffu)
		return 0;
	uint16_t nlen = le16(h + 26), xlen = le16(h + 28);
	_cleanup_free_ unsigned char *x = xmalloc((size_t)xlen + 1);
	if (pread_full(w->fd, x, xlen, m->offset + 30 + nlen) < 0)
		return lade_error_set(err, 0, "wheel %s member %s: bad local header", w->filename,
		                      m->name);
	uint64_t off = 0;
	return apply_zip64_extra(w, m->name, x, xlen, true, true, false, usize, csize, &off, err);
}

/* The local header must tell the same story as the central directory: its name, method,
 * encryption bit and (without a data descriptor) CRC and sizes. Tools that read local headers
 * (streaming unzip) would otherwise see other contents than pip does. */
static int read_local_header(struct lade_wheel *w, struct lade_wheel_member *m, uint64_t cd_off,
                             struct lade_error **err)
{
	unsigned char h[30];
	if (m->offset >= w->file_size || w->file_size - m->offset < 30)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: local header lies outside the file",
		                      w->filename, m->name);
	if (m->offset + 30 > cd_off)
		return lade_error_set(
		        err, 0, "wheel %s member %s: local header overlaps the central directory",
		        w->filename, m->name);
	if (pread_full(w->fd, h, 30, m->offset) < 0 || le32(h) != SIG_LOCAL)
		return lade_error_set(err, 0, "wheel %s member %s: bad local header", w->filename,
		                      m->name);
	uint16_t lflags = le16(h + 6), lmethod = le16(h + 8);
	uint16_t nlen = le16(h + 26), xlen = le16(h + 28);
	size_t name_len = strlen(m->name);
	m->data_start = m->offset + 30 + nlen + xlen;
	if (m->data_start > cd_off || m->csize > cd_off - m->data_start)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: data overlaps the central directory",
		                      w->filename, m->name);
	/* A local name that differs from the central one is how zip confusion attacks show
	 * different contents to different tools. */
	_cleanup_free_ char *lname = xmalloc((size_t)nlen + 1);
	if (nlen != name_len || pread_full(w->fd, lname, nlen, m->offset + 30) < 0 ||
	    memcmp(lname, m->name, nlen) != 0)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: local header name differs from the "
		                      "central directory",
		                      w->filename, m->name);
	if (lmethod != m->method || ((lflags ^ m->flags) & 0x41) != 0)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: local header method or flags differ "
		                      "from the central directory",
		                      w->filename, m->name);
	if (lflags & 0x08)
		return 0; /* sizes and CRC follow the data (data descriptor) */
	uint64_t lcsize = 0, lusize = 0;
	if (local_sizes(w, m, h, &lcsize, &lusize, err) < 0)
		return -1;
	if (le32(h + 14) != m->crc32 || lcsize != m->csize || lusize != m->usize)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: local header crc-32 or sizes differ "
		                      "from the central directory",
		                      w->filename, m->name);
	return 0;
}

struct member_range {
	uint64_t start, end; /* local header .. end of data */
	size_t idx;
};

static int cmp_range(const void *a, const void *b)
{
	const struct member_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/* Members must not share bytes: the non-recursive zip bomb points many central entries at
 * overlapping local headers and one deflate block, so a small file inflates many times over.
 * Data descriptors (bit 3) lie in the gaps and are not counted. */
static int check_disjoint(const struct lade_wheel *w, struct lade_error **err)
{
	_cleanup_free_ struct member_range *r =
	        xcalloc(w->n_members ? w->n_members : 1, sizeof(*r));
	for (size_t i = 0; i < w->n_members; i++)
		r[i] = (struct member_range){w->members[i].offset,
		                             w->members[i].data_start + w->members[i].csize, i};
	qsort(r, w->n_members, sizeof(*r), cmp_range);
	for (size_t i = 1; i < w->n_members; i++) {
		if (r[i - 1].end <= r[i].start)
			continue;
		return lade_error_set(err, 0,
		                      "wheel %s member %s: local header or data overlaps member "
		                      "%s (members must not share bytes)",
		                      w->filename, w->members[r[i].idx].name,
		                      w->members[r[i - 1].idx].name);
	}
	return 0;
}

void lade_wheel_limits_default(struct lade_wheel_limits *l)
{
	l->max_total = LADE_WHEEL_MAX_TOTAL_SIZE;
	l->max_ratio = LADE_WHEEL_MAX_TOTAL_RATIO;
	l->ratio_min = LADE_WHEEL_TOTAL_RATIO_MIN;
}

/* The per-wheel totals, checked as each member adds its declared size: the error names the
 * member that crosses the limit. */
static int check_total(const struct lade_wheel *w, const struct lade_wheel_member *m,
                       uint64_t total, struct lade_error **err)
{
	const struct lade_wheel_limits *l = &w->limits;
	if (l->max_total && total > l->max_total)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: the members add up to %llu bytes "
		                      "uncompressed, over the per-wheel limit of %llu "
		                      "(LADE_WHEEL_MAX_BYTES)",
		                      w->filename, m->name, (unsigned long long)total,
		                      (unsigned long long)l->max_total);
	uint64_t size = w->file_size ? w->file_size : 1;
	if (l->max_ratio && total > l->ratio_min && total / size >= l->max_ratio &&
	    total > l->max_ratio * size)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: the members add up to %llu bytes "
		                      "uncompressed, over %llu times the wheel's %llu bytes "
		                      "(decompression bomb; LADE_WHEEL_MAX_RATIO)",
		                      w->filename, m->name, (unsigned long long)total,
		                      (unsigned long long)l->max_ratio,
		                      (unsigned long long)w->file_size);
	return 0;
}

/* The rules one central directory entry must meet on its own (the per-member guards). */
static int check_entry(const struct lade_wheel *w, const struct lade_wheel_member *m,
                       struct lade_error **err)
{
	if (m->flags & 0x41) /* traditional or strong encryption */
		return lade_error_set(err, 0, "wheel %s member %s is encrypted", w->filename,
		                      m->name);
	if (S_ISLNK(m->unix_mode))
		return lade_error_set(err, 0,
		                      "wheel %s member %s is a symlink: wheels cannot contain "
		                      "symlinks",
		                      w->filename, m->name);
	if (m->method != 0 && m->method != 8)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: unsupported compression method %u",
		                      w->filename, m->name, m->method);
	if (m->usize > LADE_WHEEL_MAX_MEMBER_SIZE)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: uncompressed size %llu exceeds the "
		                      "16 GiB limit",
		                      w->filename, m->name, (unsigned long long)m->usize);
	if (m->usize > LADE_WHEEL_BOMB_MIN_SIZE &&
	    m->usize / (m->csize ? m->csize : 1) > LADE_WHEEL_BOMB_MAX_RATIO)
		return lade_error_set(err, 0,
		                      "wheel %s member %s: compression ratio over %d:1 for "
		                      "%llu bytes (decompression bomb)",
		                      w->filename, m->name, LADE_WHEEL_BOMB_MAX_RATIO,
		                      (unsigned long long)m->usize);
	/* An empty deflate stream takes 2 bytes; anything more is hidden data. */
	if (m->is_dir && (m->usize != 0 || m->csize > (m->method == 8 ? 2u : 0u)))
		return lade_error_set(err, 0, "wheel %s member %s: directory entry carries data",
		                      w->filename, m->name);
	return 0;
}

int wheel_parse_central(struct lade_wheel *w, struct lade_error **err)
{
	uint64_t cd_off = 0, cd_size = 0, n = 0, limit = 0, total = 0;
	if (find_eocd(w, &cd_off, &cd_size, &n, &limit, err) < 0)
		return -1;
	_cleanup_free_ unsigned char *cd = xmalloc(cd_size > 0 ? (size_t)cd_size : 1);
	if (pread_full(w->fd, cd, (size_t)cd_size, cd_off) < 0)
		return lade_error_set(err, errno, "wheel %s: cannot read the central directory",
		                      w->filename);
	w->members = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*w->members));
	const unsigned char *p = cd, *end = cd + cd_size;
	for (uint64_t i = 0; i < n; i++) {
		if (end - p < 46 || le32(p) != SIG_CENTRAL)
			return lade_error_set(err, 0,
			                      "wheel %s: corrupt central directory entry %llu",
			                      w->filename, (unsigned long long)i);
		uint16_t made_by = le16(p + 4), flags = le16(p + 8), method = le16(p + 10);
		uint16_t nlen = le16(p + 28), xlen = le16(p + 30), clen = le16(p + 32);
		uint32_t ext = le32(p + 38);
		if ((size_t)(end - p) < 46u + nlen + xlen + clen)
			return lade_error_set(err, 0,
			                      "wheel %s: corrupt central directory entry %llu",
			                      w->filename, (unsigned long long)i);
		if (check_name(w, (const char *)p + 46, nlen, err) < 0)
			return -1;
		struct lade_wheel_member *m = &w->members[w->n_members++];
		m->name = xstrndup((const char *)p + 46, nlen);
		m->is_dir = m->name[nlen - 1] == '/';
		m->flags = flags;
		m->method = method;
		m->crc32 = le32(p + 16);
		m->csize = le32(p + 20);
		m->usize = le32(p + 24);
		m->offset = le32(p + 42);
		if (apply_zip64_extra(w, m->name, p + 46 + nlen, xlen, m->usize == 0xffffffffu,
		                      m->csize == 0xffffffffu, m->offset == 0xffffffffu, &m->usize,
		                      &m->csize, &m->offset, err) < 0)
			return -1;
		if ((made_by >> 8) == 3)
			m->unix_mode = ext >> 16;
		p += 46 + nlen + xlen + clen;

		if (check_entry(w, m, err) < 0)
			return -1;
		total += m->usize;
		if (check_total(w, m, total, err) < 0 || read_local_header(w, m, cd_off, err) < 0)
			return -1;
	}
	if (check_disjoint(w, err) < 0)
		return -1;
	w->sorted = xcalloc(w->n_members ? w->n_members : 1, sizeof(*w->sorted));
	for (size_t i = 0; i < w->n_members; i++)
		w->sorted[i] = (struct name_index){w->members[i].name, i};
	qsort(w->sorted, w->n_members, sizeof(*w->sorted), cmp_name_index);
	for (size_t i = 1; i < w->n_members; i++) {
		const char *a = w->sorted[i - 1].name;
		const char *b = w->sorted[i].name;
		if (strcmp(a, b) == 0)
			return lade_error_set(err, 0, "wheel %s: duplicate member %s", w->filename,
			                      a);
	}
	return 0;
}
