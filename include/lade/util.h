/* lade — small shared helpers: cleanup attributes, allocation, the growable buffer, paths,
 * file-system helpers. Written once here and used everywhere (see docs/architecture.md). */
#ifndef LADE_UTIL_H
#define LADE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "lade/error.h"

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(lade_freep)
#define _cleanup_fd_     _cleanup_(lade_closep)
#define _cleanup_fclose_ _cleanup_(lade_fclosep)
#define _cleanup_error_  _cleanup_(lade_error_freep)
#define _cleanup_strv_   _cleanup_(lade_strv_freep)

#define LADE_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand ownership over: returns *pp and sets *pp to NULL so the cleanup attribute of the
 * giving variable does nothing. */
static inline void *lade_steal_pointer(void *pp)
{
	void **p = (void **)pp;
	void *r = *p;
	*p = NULL;
	return r;
}
#define steal_pointer(pp) ((__typeof__(*(pp)))lade_steal_pointer(pp))

/* Same for file descriptors: returns *fd and sets it to -1. */
static inline int lade_steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

void lade_freep(void *p);  /* free(*(void **)p) */
void lade_closep(int *fd); /* close(*fd) if >= 0, errno preserved */
void lade_fclosep(FILE **f);
struct archive;
/* archive_read_free(*a) unless NULL: the cleanup of every libarchive reader. */
void lade_archive_read_freep(struct archive **a);
/* archive_read_open of the regular file path (lade_open_regular: never a FIFO or a device),
 * reading `block` bytes at a time; the archive owns the fd. -1 with *err naming path. */
int lade_archive_read_open_regular(struct archive *a, const char *path, size_t block,
                                   struct lade_error **err);

/* A state lade cannot go on from and no input causes (out of memory, a broken crypto library):
 * "lade: WHAT" on stderr, then abort(). The only output of the library, which otherwise
 * reports through errors, notes and events. */
void lade_die(const char *what) __attribute__((__noreturn__));

/* Allocation failure is not an input error: like git's xmalloc these abort with a message. */
void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Grow *array (of elem_size items, *alloc allocated) so that it holds at least `need` items. */
void lade_grow(void *array_p, size_t elem_size, size_t need, size_t *alloc);

/* NULL-terminated string vectors. */
void lade_strv_free(char **v);
void lade_strv_freep(char ***v);
size_t lade_strv_len(char *const *v);
char **lade_strv_copy(char *const *v);
/* Append a copy of s to the NULL-terminated *v (which may be NULL). */
void lade_strv_push(char ***v, const char *s);

/* The one growable buffer (like git's strbuf). data is never NULL after init and is always
 * NUL-terminated (the NUL is not counted in len), so text and binary use the same type. */
struct lade_buf {
	char *data;
	size_t len;
	size_t alloc;
};
/* clang-format 14 and 19 lay out a braced macro differently: */
/* clang-format off */
#define LADE_BUF_INIT {lade_buf_empty_, 0, 0}
/* clang-format on */
extern char lade_buf_empty_[];

void lade_buf_init(struct lade_buf *b);
void lade_buf_grow(struct lade_buf *b, size_t extra);
void lade_buf_add(struct lade_buf *b, const void *data, size_t len);
void lade_buf_adds(struct lade_buf *b, const char *s);
void lade_buf_addch(struct lade_buf *b, char c);
void lade_buf_addf(struct lade_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lade_buf_vaddf(struct lade_buf *b, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
void lade_buf_reset(struct lade_buf *b);                /* len = 0, keeps memory */
void lade_buf_release(struct lade_buf *b);              /* frees, back to LADE_BUF_INIT */
char *lade_buf_detach(struct lade_buf *b, size_t *len); /* caller owns result (never NULL) */
void lade_buf_releasep(struct lade_buf *b);             /* cleanup helper */
#define _cleanup_buf_ _cleanup_(lade_buf_releasep)

/* Input problems collected and reported together as one error, one line each, like pip's
 * "ERROR: ..." lists: the first LADE_PROBLEMS_MAX lines are kept and the rest only counted
 * ("\n… and N more"). Start from LADE_PROBLEMS_INIT. */
#define LADE_PROBLEMS_MAX 20
struct lade_problems {
	struct lade_buf buf;
	size_t n; /* problems counted, kept or not */
};
/* clang-format 14 and 19 lay out a braced macro differently: */
/* clang-format off */
#define LADE_PROBLEMS_INIT {LADE_BUF_INIT, 0}
/* clang-format on */
/* Count one more problem. Returns true when it is one of the kept ones: then buf ends with
 * the '\n' that separates it from the previous line (none before the first) and the caller
 * appends its text to pr->buf. */
bool lade_problems_next(struct lade_problems *pr);
/* lade_problems_next() and, when kept, the formatted text. */
void lade_problems_add(struct lade_problems *pr, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* No problems: 0. Else -1 with *err set to all kept lines plus the "and N more" line. Either
 * way pr is released (back to LADE_PROBLEMS_INIT). */
int lade_problems_finish(struct lade_problems *pr, struct lade_error **err);

/* What a file of this st_mode is, for errors: "a FIFO", "a directory", "a symlink", ... */
const char *lade_file_kind(mode_t mode);
/* Open an input file for reading (flags may add O_NOFOLLOW, O_DIRECTORY is wrong here) so that
 * nothing can hang lade: O_NONBLOCK for the open itself (a FIFO waits for a writer otherwise),
 * then fstat, and anything but a regular file is refused naming it and what it is
 * ("SHOWN is a FIFO, not a regular file"). path is relative to dfd (AT_FDCWD for none); shown
 * is the name errors give (NULL: path). *out is the fd, owned by the caller. Every input lade
 * reads (recipe, lock, wheels, base layouts and archives, app files) is opened this way. */
int lade_open_regular_at(int dfd, const char *path, const char *shown, int flags, int *out,
                         struct lade_error **err);
int lade_open_regular(const char *path, int flags, int *out, struct lade_error **err);

/* Read a whole regular file (at most max bytes; larger is an error naming the file), opened
 * with lade_open_regular(). */
int lade_read_file(const char *path, size_t max, struct lade_buf *out, struct lade_error **err);

/* Paths inside an image are kept "relative normalised": no leading '/', no "." or empty
 * components, no trailing '/', "" for the root. lade_path_normalize() turns an image path such
 * as "/opt//venv/./bin/" into "opt/venv/bin"; ".." components are resolved lexically and an
 * attempt to climb above the root is an error. Returns a new string or NULL with *err set. */
char *lade_path_normalize(const char *path, struct lade_error **err);
/* Is path already in the relative normalised form above? True for "" (the root); false for
 * a leading or trailing '/', "//", "." and ".." components. Callers that need a non-empty
 * path check that themselves. */
bool lade_path_is_normalised(const char *path);
/* Join two path pieces with one '/', either may be empty. Returns a new string. */
char *lade_path_join(const char *a, const char *b);
/* Directory part of a normalised image path ("a/b/c" -> "a/b", "a" -> ""). New string. */
char *lade_path_dirname(const char *path);
/* Host path helpers: absolute path of `path` relative to directory `base` (no symlink
 * resolution, lexical clean-up only). New string. */
char *lade_path_absolute(const char *base, const char *path);
/* Directory containing the host file `path` (absolute). New string. */
char *lade_path_parent_dir(const char *path);

/* The canonical order of paths in a layer: component by component, bytewise ('/' sorts before
 * every other byte), so a directory's whole subtree follows it directly, as with
 * `tar --sort=name`. strcmp-like result. */
int lade_path_compare(const char *a, const char *b);

/* read() retried on EINTR: its result (bytes read, 0 at the end, -1 with errno set). */
ssize_t lade_read_retry(int fd, void *buf, size_t len);
/* Write all of data to fd, retrying on EINTR and short writes; a write() that makes no
 * progress fails with ENOSPC. 0, or -1 with errno set (no message: the caller names the file). */
int lade_write_all(int fd, const void *data, size_t len);

/* rm -rf: remove path and everything below it (symlinks are removed, never followed).
 * A missing path is fine. Errors name the entry that could not be removed. */
int lade_remove_tree(const char *path, struct lade_error **err);

/* Is s well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF)? */
bool lade_utf8_valid(const char *s);

/* mkdir -p (mode 0755); existing directories are fine. */
int lade_mkdir_p(const char *path, struct lade_error **err);
/* Write data to path atomically: temp file in the same directory, fsync, rename, fsync dir. */
int lade_write_file_atomic(const char *path, const void *data, size_t len, struct lade_error **err);
/* fsync the directory that contains path (or path itself if it is a directory). */
int lade_fsync_dir(const char *dir, struct lade_error **err);
/* openat() of the relative path `rel` below the directory dfd without following any symlink
 * and without leaving dfd: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel
 * has it, else one O_NOFOLLOW openat per component. "..", "." and absolute paths fail with
 * EXDEV, a symlink with ELOOP. Returns the fd or -1 with errno set (no error message). */
int lade_openat_beneath(int dfd, const char *rel, int flags, mode_t mode);

/* Parse "1234" / "0644" style numbers with bounds; return 0 or -1 (no error message). */
int lade_parse_u32(const char *s, int base, uint32_t *out);
/* Parse sizes like "64MiB", "4GiB", "100", "2G", "1.5GiB" (K M G T KiB … TiB: powers of 1024)
 * and "500MB" (KB MB GB TB: powers of 1000). */
int lade_parse_size(const char *s, uint64_t *out);
/* Format a size in human units ("1.5 MiB") into buf. */
const char *lade_human_size(uint64_t n, char *buf, size_t buflen);

/* The build epoch: SOURCE_DATE_EPOCH if set and valid, else 0. Used for every timestamp. */
int lade_source_date_epoch(int64_t *out, struct lade_error **err);

/* Match a glob against a normalised relative path: '*' and '?' do not cross '/', "**" matches
 * any number of components (including none), character classes [a-z] / [!a-z], backslash
 * escapes. Used for recipe `exclude:`, .dockerignore and layer group patterns.
 * Details (Go's filepath.Match plus Docker's "**"): "**" is special only as a whole component
 * ("**.py" is "*.py"); a trailing "**" needs at least one component (after "a" it matches
 * "a/b" and deeper, not "a"), "**" alone matches everything; empty and "." pattern components
 * are ignored, so a leading '/' is harmless; '?' and classes match one UTF-8 character; a
 * class is [abc], [a-z], [!x] or [^x] and cannot contain '/'. A malformed pattern (unclosed
 * or empty class, trailing '\') matches nothing. Time is O(len(pattern) x len(path)). */
bool lade_glob_match(const char *pattern, const char *path);
/* Is the pattern well-formed for lade_glob_match()? (For errors at parse time.) */
bool lade_glob_valid(const char *pattern);

#endif
