/* lade — the layer cache: a layer whose every input byte is unchanged is not written again.
 *
 * Layout of the cache directory (an OCI-layout-shaped lade_store, so it gets the same lock and
 * atomic, verified blobs):
 *   DIR/blobs/sha256/<hex>        compressed layer blobs (hard links of the output's when possible)
 *   DIR/layers/<key hex>.json     {"content_size","diff_id","digest","entries","media_type",
 *                                  "size","tar_size"} of the layer written for that key
 *   DIR/stat-cache.json           host file identity -> content sha256 (see below)
 *
 * The key is the sha256 of a canonical serialisation of: the cache format version, lade's
 * layer format version (LADE_LAYER_FORMAT_VERSION), the compression, its level and compressor
 * description (library version included), the mtime, the options' key_extra when set (the
 * bytecode compiler's version string), for lazy layers the format and the prefetch globs
 * (entries then also hold "toc_digest" and "prefetch_bytes"), then every tar entry in canonical
 * order (implicit parents with the metadata the base gives them included): path, type, mode, uid,
 * gid, size, link target and the content's sha256. The content hash is the entry's known
 * sha256 (wheel RECORD), the sha256 of in-memory data, of what a source emits, or of a host
 * file's content.
 *
 * Host files and wheels are hashed through a stat cache (lade/statcache.h), as git's index
 * does: a file whose (path, device, inode, size, mtime ns, ctime ns) are unchanged is taken to
 * have the recorded content without being read. */
#ifndef LADE_CACHE_H
#define LADE_CACHE_H

#include <stdbool.h>
#include "lade/error.h"
#include "lade/gc.h"
#include "lade/layer.h"
#include "lade/statcache.h"
#include "lade/store.h"

struct lade_cache; /* opaque */

/* `lade build --push-only` assembles its images in DIR/push-XXXXXX, made while it holds the
 * cache's lock and removed before it lets go of it. */
#define LADE_CACHE_STAGING_PREFIX "push-"

/* Open (creating) the cache at `dir`; NULL means $XDG_CACHE_HOME/lade, else ~/.cache/lade.
 * Takes the cache's lock (waits up to 10 minutes for another lade using it) until
 * lade_cache_free(); then removes the staging layouts (LADE_CACHE_STAGING_PREFIX) of builds
 * that died. Errors name the directory. */
int lade_cache_open(const char *dir, struct lade_cache **out, struct lade_error **err);
void lade_cache_free(struct lade_cache *c);
void lade_cache_freep(struct lade_cache **c);
const char *lade_cache_dir(const struct lade_cache *c);
/* The cache's store (an OCI layout, locked by the cache): pulled base images go there too, so a
 * layer lade built and pushed is never fetched back. Borrowed; valid until lade_cache_free(). */
struct lade_store *lade_cache_store(struct lade_cache *c);
/* The cache's stat cache (host file and wheel hashes), written back as layers are written and
 * at lade_cache_free(). c NULL: NULL. Borrowed. */
struct lade_stat_cache *lade_cache_stat_cache(struct lade_cache *c);

/* lade_layer_write() through the cache (c NULL: exactly lade_layer_write, *reused false).
 * Hit: the blob is taken from the output store when it has it, else imported from the cache
 * (digest verified); *reused is true and nothing is compressed. A cache entry that fails any
 * check (unreadable JSON, missing or corrupted blob) is dropped and never used: the layer is
 * written normally and lade_cache_warning() says what was dropped. Miss: the layer is written
 * into `store`, then its blob and entry are added to the cache; a failure to add them only sets
 * the warning. Errors are those of lade_layer_write and of reading the layer's inputs to key
 * them. */
int lade_layer_write_cached(struct lade_cache *c, struct lade_layer *l,
                            const struct lade_layer_options *o, struct lade_store *store,
                            struct lade_layer_result *res, bool *reused, struct lade_error **err);

/* lade_layer_write_cached() with the key already computed (key_in: 64 hex digits from
 * lade_cache_key(); NULL: computed here). */
int lade_layer_write_cached_key(struct lade_cache *c, const char *key_in, struct lade_layer *l,
                                const struct lade_layer_options *o, struct lade_store *store,
                                struct lade_layer_result *res, bool *reused,
                                struct lade_error **err);

/* The entry of key (64 hex digits), its blob put into store (already there, or imported and
 * verified). 1: *res holds it; 0: none, or a broken one that is dropped (the warning says
 * so; `what` names the layer in it). */
int lade_cache_lookup(struct lade_cache *c, const char *key, const struct lade_layer_options *o,
                      struct lade_store *store, const char *what, struct lade_layer_result *res);
/* Record res, whose blob is in store, under key (the blob imported into the cache). A failure
 * only sets the warning. */
void lade_cache_record(struct lade_cache *c, const char *key, struct lade_store *store,
                       const struct lade_layer_result *res, const char *what);

/* What the last lade_layer_write_cached() on c dropped or failed to record, for the build
 * report ("layer cache: dropped entry …: …"), or NULL. Owned by the cache, valid until the
 * next call. */
const char *lade_cache_warning(const struct lade_cache *c);

/* The key lade_layer_write_cached() would use for l, as 64 hex digits (out: 65 bytes), for
 * reports and tests. */
int lade_cache_key(struct lade_cache *c, struct lade_layer *l, const struct lade_layer_options *o,
                   char out[65], struct lade_error **err);

/* ---- trimming: lade gc --cache, cache.max-size, LADE_CACHE_MAX ---- */

struct lade_cache_gc_options {
	uint64_t max_size;    /* UINT64_MAX: no bound */
	int64_t older_than_s; /* drop entries unused for longer; < 0: no age limit */
	bool dry_run;
};

struct lade_cache_gc_report {
	size_t entries;       /* layer (and base index) entries removed */
	uint64_t entry_bytes; /* their files */
	size_t entries_kept;
	struct lade_gc_report blobs; /* blobs removed and kept (lade/gc.h) */
};
void lade_cache_gc_report_release(struct lade_cache_gc_report *r);

/* Trim the cache c (whose lock the caller holds by having it open, so no build is writing
 * or using an entry meanwhile): broken entries, entries not used (written or hit) for
 * older_than_s, then the least recently used ones until what is left — the kept entries'
 * files and blobs, and the blobs of images pulled into the store, which are kept — is at most
 * max_size bytes; then every blob neither a kept entry nor the store's index.json reaches
 * (lade_gc_layout). An entry file goes before its blob, so an interrupted trim leaves no entry
 * naming a missing blob. */
int lade_cache_gc(struct lade_cache *c, const struct lade_cache_gc_options *o,
                  struct lade_cache_gc_report *r, struct lade_error **err);

/* The bytecode memo (struct lade_install_scheme's memo_get / memo_put, ctx the cache): a
 * wheel's compiled bytecode under DIR/pyc/<key>, so that a rebuild whose venv layers come from
 * the cache does not compile them again. get: 1 with the bytes, 0 when absent or unreadable;
 * put: written atomically, a failure only sets the warning. Callers check what they read. */
int lade_cache_memo_get(void *cache, const char *key, struct lade_buf *out);
void lade_cache_memo_put(void *cache, const char *key, const void *data, size_t len);

#endif
