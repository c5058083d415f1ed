/* lade — error reporting: one struct, filled once, wrapped with context on the way up.
 *
 * Every fallible function returns 0 on success and -1 on failure, and fills *err (when err is
 * not NULL and *err is NULL) with a lowercase message without a full stop that names the input
 * that failed ("cannot open wheel foo.whl: no such file"). Only main() prints and exits.
 */
#ifndef LADE_ERROR_H
#define LADE_ERROR_H

#include <stdarg.h>

struct lade_error {
	int sys_errno; /* errno at the failure, or 0 */
	char *msg;     /* owned */
};

/* Fill *err with a formatted message; if sys_errno != 0, ": strerror(sys_errno)" is appended.
 * If *err is already set it is kept (the first, innermost failure wins).
 * Always returns -1 so callers can `return lade_error_set(...)`. */
int lade_error_set(struct lade_error **err, int sys_errno, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Prepend context: *err's message becomes "<formatted>: <old message>".
 * Does nothing when err or *err is NULL. Always returns -1. */
int lade_error_prefix(struct lade_error **err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

void lade_error_free(struct lade_error *e);
void lade_error_freep(struct lade_error **e);

#endif
