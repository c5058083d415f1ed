/* lade — the install target and its wheel tags (PEP 425, PEP 600 manylinux, PEP 656
 * musllinux), wheel file names (PEP 427). The tag list is exactly what
 * packaging.tags.sys_tags() yields for CPython on that platform, best first. */
#ifndef LADE_TAGS_H
#define LADE_TAGS_H

#include <stddef.h>
#include "lade/error.h"

enum lade_libc {
	LADE_LIBC_GLIBC,
	LADE_LIBC_MUSL,
};

struct lade_target {
	int py_major, py_minor;  /* 3, 11 */
	char python_version[16]; /* "3.11" */
	char python_full[32];    /* "3.11.0" unless a micro version was given */
	char impl[8];            /* "cp" */
	char os[16];             /* "linux" */
	char arch[16]; /* platform_machine: x86_64, aarch64, armv7l, ppc64le, s390x, i686 */
	enum lade_libc libc;
	int libc_major, libc_minor; /* 2, 36 */
};

/* Fill t from an OCI platform ("linux/amd64", "linux/arm64", "linux/arm64/v8", "linux/arm/v7",
 * "linux/ppc64le", "linux/s390x", "linux/386"), a Python version ("3.11" or "3.11.4") and a libc
 * ("glibc-2.36", "musl-1.2"). Errors name the offending argument: "unsupported platform
 * 'windows/amd64'", "invalid python version '3'", "invalid libc 'glibc'". */
int lade_target_init(struct lade_target *t, const char *platform, const char *python_version,
                     const char *libc, struct lade_error **err);
/* "cp311 linux x86_64 glibc 2.36" into buf (always NUL-terminated); returns buf. */
const char *lade_target_describe(const struct lade_target *t, char *buf, size_t len);

struct lade_tags; /* opaque ordered list of "interp-abi-plat" tags */

/* The ordered, duplicate-free tag list for t (never NULL). */
struct lade_tags *lade_tags_generate(const struct lade_target *t);
void lade_tags_free(struct lade_tags *tags);
void lade_tags_freep(struct lade_tags **tags);
size_t lade_tags_count(const struct lade_tags *tags);
/* Tag i (0 = best), owned by tags; NULL when out of range. */
const char *lade_tags_get(const struct lade_tags *tags, size_t i);
/* Rank of a tag or of a compressed tag set ("py2.py3-none-any",
 * "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"): the best (lowest) index over its
 * expansion, or -1 when no member is supported. */
long lade_tags_rank(const struct lade_tags *tags, const char *tag);

/* A parsed wheel file name: name-version(-build)?-pyver-abi-plat.whl */
struct lade_wheel_name {
	char *name;      /* PEP 503 normalised */
	char *name_text; /* as in the file name */
	char *version;   /* as in the file name */
	char *build;     /* build tag or NULL */
	char *tag;       /* "pyver-abi-plat", possibly compressed */
};

/* Parse a wheel file name (no directory part). Errors: "invalid wheel file name 'F': reason".
 * On success the caller releases out with lade_wheel_name_release(). */
int lade_wheel_name_parse(const char *filename, struct lade_wheel_name *out,
                          struct lade_error **err);
void lade_wheel_name_release(struct lade_wheel_name *wn);

#endif
