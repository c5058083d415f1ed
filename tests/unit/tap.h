/* lade — a minimal TAP producer for unit tests (meson's protocol: 'tap'). Every check prints
 * "ok N - name" or "not ok N - name" with the failing expression; the exit status is non-zero
 * when any check failed. */
#ifndef LADE_TAP_H
#define LADE_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                                              \
	do {                                                                                       \
		int ok_c_ = !!(cond);                                                              \
		tap_n++;                                                                           \
		if (!ok_c_)                                                                        \
			tap_failed++;                                                              \
		printf("%sok %d - ", ok_c_ ? "" : "not ", tap_n);                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		if (!ok_c_)                                                                        \
			printf("#   failed: %s at %s:%d\n", #cond, __FILE__, __LINE__);            \
	} while (0)

#define is_str(got, want, ...)                                                                     \
	do {                                                                                       \
		const char *is_g_ = (got), *is_w_ = (want);                                        \
		int is_c_ = (is_g_ == NULL && is_w_ == NULL) ||                                    \
		            (is_g_ && is_w_ && strcmp(is_g_, is_w_) == 0);                         \
		ok(is_c_, __VA_ARGS__);                                                            \
		if (!is_c_)                                                                        \
			printf("#   got:  '%s'\n#   want: '%s'\n", is_g_ ? is_g_ : "(null)",       \
			       is_w_ ? is_w_ : "(null)");                                          \
	} while (0)

/* A check that cannot run here, with the reason (TAP "# SKIP"). */
#define skip(...)                                                                                  \
	do {                                                                                       \
		tap_n++;                                                                           \
		printf("ok %d # SKIP ", tap_n);                                                    \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
