/* lade — a stat cache for file hashes, as git's index: a file whose (path, device, inode, size,
 * mtime ns, ctime ns) are all unchanged is taken to have the sha256 recorded for them without
 * being read again. Any change of identity (a touch, a rewrite, a file replaced by rename, which
 * gives a new inode and ctime) means the file is hashed again.
 *
 * The trade-off is git's: a change that keeps all of those (a same-size rewrite within the file
 * system's timestamp granularity, or a deliberate reset of the times, which cannot reset ctime)
 * goes unnoticed. As in git, "racily clean" files — modified or changed within 2 seconds of
 * being hashed — are never recorded, so they are hashed again next time.
 *
 * The cache is one JSON file {"identity": "sha256:…"} read at load and replaced atomically by
 * lade_stat_cache_save(). It holds no lock: its owner (the layer cache) does. */
#ifndef LADE_STATCACHE_H
#define LADE_STATCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lade/digest.h"
#include "lade/error.h"

struct lade_stat_cache; /* opaque */

/* Load the cache file at `path` (need not exist; an unreadable or malformed file is an empty
 * cache: it only costs time). Never fails. Free with lade_stat_cache_free(). */
struct lade_stat_cache *lade_stat_cache_load(const char *path);
void lade_stat_cache_free(struct lade_stat_cache *sc);
void lade_stat_cache_freep(struct lade_stat_cache **sc);

/* The sha256 of the regular file `path` (follow: through a symlink; else a symlink is refused
 * as not a regular file), from the cache when its identity is recorded, else read and
 * recorded. sc NULL: always read. Errors name the path. */
int lade_stat_cache_sha256(struct lade_stat_cache *sc, const char *path, bool follow,
                           char out[LADE_DIGEST_STRLEN], struct lade_error **err);

/* Files hashed (read) and found in the cache since load, for reports and tests. */
void lade_stat_cache_counts(const struct lade_stat_cache *sc, size_t *hashed, size_t *hits);

/* Write the cache back when it changed (temp + rename). When it holds more than a bound of
 * entries only those used since load are kept. */
int lade_stat_cache_save(struct lade_stat_cache *sc, struct lade_error **err);

#endif
