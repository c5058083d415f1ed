/* lade — wheel selection: for each lock requirement whose marker holds for the target, the best
 * wheel of the wheelhouses (tag rank, then wheelhouse order, then file name), verified against
 * the locked sha256 hashes. */
#ifndef LADE_SELECT_H
#define LADE_SELECT_H

#include <stddef.h>
#include "lade/error.h"
#include "lade/lock.h"
#include "lade/statcache.h"
#include "lade/tags.h"

struct lade_selected {
	char *path; /* wheelhouse/filename */
	char *filename;
	char *name;    /* normalised */
	char *version; /* as in the file name */
	char sha256_hex[65];
	const struct lade_lock_req *req; /* borrowed from the lock */
};

/* Select and verify wheels. wheelhouses is NULL-terminated, searched in order. A wheel's sha256
 * comes from the stat cache sc when its identity is unchanged (sc NULL: every chosen wheel is
 * read and hashed). On success
 * *out (n items, in lock order, requirements skipped by their marker left out) is owned by the
 * caller: lade_selected_free(). Every failing requirement is reported (at most 20, one per
 * line): "requirements.lock:7: F.whl has sha256:HEX which is not among the locked hashes",
 * "…: no wheel named torch in wheelhouse DIR1, DIR2", "…: no compatible wheel for torch==2.3.0:"
 * followed by one indented line per candidate and why it was rejected. */
int lade_select_wheels(const struct lade_lock *lock, char *const *wheelhouses,
                       const struct lade_target *t, struct lade_stat_cache *sc,
                       struct lade_selected **out, size_t *n, struct lade_error **err);
void lade_selected_free(struct lade_selected *s, size_t n);

#endif
