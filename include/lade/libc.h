/* lade — which C library a base image has, for wheel platform tags (manylinux_2_X needs the
 * glibc version, musllinux_1_X the musl one). Read from the image itself, never guessed from
 * its name: glibc's libc.so.6 carries its symbol versions ("GLIBC_2.36") and musl's dynamic
 * loader is ld-musl-<arch>.so.1. */
#ifndef LADE_LIBC_H
#define LADE_LIBC_H

#include "lade/base.h"
#include "lade/error.h"
#include "lade/store.h"
#include "lade/tree.h"
#include "lade/util.h"

/* Detect the libc of base for platform ("linux/amd64"): *out becomes "glibc-2.36" or
 * "musl-1.2" (musl has no version in its files: 1.2 is assumed, the only line still
 * maintained). Errors: no libc found (a scratch or static base), unreadable layers. */
int lade_base_detect_libc(const struct lade_base_image *base, struct lade_store *store,
                          const struct lade_tree *tree, const char *platform, char **out,
                          struct lade_error **err);

/* The same, reading libc.so.6 from kept (LADE_BASE_KEEP_LIBC, filled by
 * lade_base_read_tree_keep with that tree) instead of reading the base layers again. */
/* clang-format 14 and 19 lay out a braced macro differently: */
/* clang-format off */
#define LADE_BASE_KEEP_LIBC {"libc.so.6", 64u << 20, NULL}
/* clang-format on */
int lade_base_detect_libc_kept(const struct lade_base_image *base, struct lade_store *store,
                               const struct lade_tree *tree, const struct lade_base_keep *kept,
                               const char *platform, char **out, struct lade_error **err);

/* Read the content of the file `path` (normalised, symlinks already resolved) from the
 * topmost base layer that has it, at most max bytes. *found is false when no layer has it. */
int lade_base_read_path(const struct lade_base_image *base, struct lade_store *store,
                        const char *path, size_t max, struct lade_buf *out, bool *found,
                        struct lade_error **err);

#endif
