/* lade — what the two halves of the wheel reader share: zip.c reads the ZIP central directory
 * (every safety rule about names, sizes, offsets and overlaps), wheel.c streams members and
 * parses the .dist-info. Private to assembler/python/. */
#ifndef LADE_WHEEL_PRIVATE_H
#define LADE_WHEEL_PRIVATE_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "lade/wheel.h"

#define CHUNK         (64 * 1024)
#define META_MAX      (64u << 20) /* WHEEL, METADATA, RECORD, entry_points.txt */
#define CD_MAX        (1ULL << 30)
#define EOCD_SIZE     22
#define EOCD_MAX_BACK (EOCD_SIZE + 65535)
#define SIG_LOCAL     0x04034b50u
#define SIG_CENTRAL   0x02014b50u
#define SIG_EOCD      0x06054b50u
#define SIG_Z64_LOC   0x07064b50u
#define SIG_Z64_EOCD  0x06064b50u

struct name_index {
	const char *name;
	size_t idx;
};

struct lade_wheel {
	char *path;
	char *filename;
	int fd;
	uint64_t file_size;
	struct lade_wheel_limits limits;
	struct lade_wheel_member *members;
	size_t n_members;
	struct name_index *sorted; /* by name, for lookup and duplicate detection */

	char *fn_name, *fn_version; /* from the file name */
	char *dist_info, *data_dir;
	bool root_is_purelib;
	char *name, *version, *version_norm;
	char **requires_dist, **classifiers;
	char *requires_python, *license, *license_expr;
	struct lade_wheel_entry_point *eps;
	size_t n_eps;
};

static inline uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}

/* pread exactly len bytes; a short file is reported as EIO-like with errno 0. */
static inline int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = 0;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static inline int cmp_name_index(const void *a, const void *b)
{
	return strcmp(((const struct name_index *)a)->name, ((const struct name_index *)b)->name);
}

/* Read the central directory of w->fd into w->members and w->sorted, checking every entry,
 * its local header, the per-wheel totals and that members do not share bytes. */
int wheel_parse_central(struct lade_wheel *w, struct lade_error **err);

#endif
