/* lade — the stat cache for file hashes (see include/lade/statcache.h). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lade/statcache.h"
#include "lade/util.h"

#define RACY_NS  (2ll * 1000000000ll)
#define STAT_MAX (256u << 20)
/* Past this many recorded files, only those seen by this run are kept. */
#define STAT_KEEP 200000

struct lade_stat_cache {
	char *path;
	json_t *stat; /* identity string -> "sha256:…" */
	json_t *seen; /* the part of stat this run used */
	bool dirty;
	size_t hashed, hits;
};

struct lade_stat_cache *lade_stat_cache_load(const char *path)
{
	struct lade_stat_cache *sc = xzalloc(sizeof(*sc));
	sc->path = xstrdup(path);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *ignored = NULL;
	if (lade_read_file(path, STAT_MAX, &b, &ignored) == 0)
		sc->stat = json_loadb(b.data, b.len, 0, NULL);
	if (!json_is_object(sc->stat)) {
		json_decref(sc->stat);
		sc->stat = json_object();
	}
	sc->seen = json_object();
	return sc;
}

void lade_stat_cache_free(struct lade_stat_cache *sc)
{
	if (sc == NULL)
		return;
	json_decref(sc->stat);
	json_decref(sc->seen);
	free(sc->path);
	free(sc);
}

void lade_stat_cache_freep(struct lade_stat_cache **sc)
{
	lade_stat_cache_free(*sc);
	*sc = NULL;
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

int lade_stat_cache_sha256(struct lade_stat_cache *sc, const char *path, bool follow,
                           char out[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	struct stat st;
	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
		return lade_error_set(err, errno, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode))
		return lade_error_set(err, 0, "%s is not a regular file", path);
	if (sc == NULL)
		return lade_sha256_file(path, out, NULL, err);
	_cleanup_free_ char *id =
	        xasprintf("%ju:%ju:%jd:%" PRId64 ":%" PRId64 ":%s", (uintmax_t)st.st_dev,
	                  (uintmax_t)st.st_ino, (intmax_t)st.st_size, ts_ns(&st.st_mtim),
	                  ts_ns(&st.st_ctim), path);
	const char *known = json_string_value(json_object_get(sc->stat, id));
	if (known && lade_digest_valid(known)) {
		snprintf(out, LADE_DIGEST_STRLEN, "%s", known);
		json_object_set_new(sc->seen, id, json_string(known));
		sc->hits++;
		return 0;
	}
	uint64_t size;
	if (lade_sha256_file(path, out, &size, err) < 0)
		return -1;
	sc->hashed++;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* Racily clean: a write in the same timestamp tick would keep this identity. */
	if (size == (uint64_t)st.st_size && ts_ns(&now) - ts_ns(&st.st_mtim) >= RACY_NS &&
	    ts_ns(&now) - ts_ns(&st.st_ctim) >= RACY_NS) {
		json_object_set_new(sc->stat, id, json_string(out));
		json_object_set_new(sc->seen, id, json_string(out));
		sc->dirty = true;
	}
	return 0;
}

void lade_stat_cache_counts(const struct lade_stat_cache *sc, size_t *hashed, size_t *hits)
{
	*hashed = sc ? sc->hashed : 0;
	*hits = sc ? sc->hits : 0;
}

int lade_stat_cache_save(struct lade_stat_cache *sc, struct lade_error **err)
{
	if (sc == NULL || !sc->dirty)
		return 0;
	if (json_object_size(sc->stat) > STAT_KEEP) {
		json_decref(sc->stat);
		sc->stat = json_deep_copy(sc->seen);
	}
	_cleanup_free_ char *text = json_dumps(sc->stat, JSON_SORT_KEYS | JSON_COMPACT);
	if (lade_write_file_atomic(sc->path, text, strlen(text), err) < 0)
		return -1;
	sc->dirty = false;
	return 0;
}
