/* lade — the layer cache (see include/lade/cache.h for the layout and the key). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lade/cache.h"
#include "lade/gc.h"
#include "lade/hashmap.h"
#include "lade/statcache.h"

#define CACHE_FORMAT   "lade-layer-cache 1"
#define LOCK_TIMEOUT_S 600
#define STAT_FILE      "stat-cache.json"
#define ENTRY_MAX      (64u << 10)

struct lade_cache {
	char *dir;
	struct lade_store *store;
	struct lade_stat_cache *stat; /* host files and wheels: identity -> sha256 */
	char *warning;
};

const char *lade_cache_dir(const struct lade_cache *c)
{
	return c->dir;
}

struct lade_store *lade_cache_store(struct lade_cache *c)
{
	return c->store;
}

struct lade_stat_cache *lade_cache_stat_cache(struct lade_cache *c)
{
	return c ? c->stat : NULL;
}

const char *lade_cache_warning(const struct lade_cache *c)
{
	return c ? c->warning : NULL;
}

void lade_cache_free(struct lade_cache *c)
{
	if (c == NULL)
		return;
	/* wheels hashed after the last layer was written (a build whose layers all came from
	 * the cache) are recorded too; a failure only costs the next build time */
	_cleanup_error_ struct lade_error *ignored = NULL;
	lade_stat_cache_save(c->stat, &ignored);
	lade_stat_cache_free(c->stat);
	lade_store_free(c->store);
	free(c->warning);
	free(c->dir);
	free(c);
}

void lade_cache_freep(struct lade_cache **c)
{
	lade_cache_free(*c);
	*c = NULL;
}

/* A staging layout exists only while its build holds the lock we now hold: any left is a dead
 * build's. A failure to remove it costs disk space only. */
static void remove_dead_staging(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, LADE_CACHE_STAGING_PREFIX,
		            strlen(LADE_CACHE_STAGING_PREFIX)) != 0 ||
		    (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		_cleanup_free_ char *path = lade_path_join(dir, e->d_name);
		_cleanup_error_ struct lade_error *ignored = NULL;
		(void)lade_remove_tree(path, &ignored);
	}
	closedir(d);
}

int lade_cache_open(const char *dir, struct lade_cache **out, struct lade_error **err)
{
	_cleanup_free_ char *d = dir ? xstrdup(dir) : lade_store_default_dir(err);
	if (d == NULL)
		return -1;
	_cleanup_(lade_cache_freep) struct lade_cache *c = xzalloc(sizeof(*c));
	c->dir = steal_pointer(&d);
	if (lade_mkdir_p(c->dir, err) < 0 ||
	    lade_store_open(c->dir, LOCK_TIMEOUT_S, &c->store, err) < 0)
		return lade_error_prefix(err, "layer cache %s", c->dir);
	_cleanup_free_ char *layers = lade_path_join(c->dir, "layers");
	if (lade_mkdir_p(layers, err) < 0)
		return lade_error_prefix(err, "layer cache %s", c->dir);
	_cleanup_free_ char *stat_path = lade_path_join(c->dir, STAT_FILE);
	c->stat = lade_stat_cache_load(stat_path);
	remove_dead_staging(c->dir);
	*out = steal_pointer(&c);
	return 0;
}

static void set_warning(struct lade_cache *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void set_warning(struct lade_cache *c, const char *fmt, ...)
{
	struct lade_buf b = LADE_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	free(c->warning);
	c->warning = lade_buf_detach(&b, NULL);
}

/* ---- the key ---- */

static int emitted_hash(const struct lade_entry *e, char out[LADE_DIGEST_STRLEN],
                        struct lade_error **err)
{
	struct lade_hash_stream hs;
	lade_hash_stream_init(&hs, NULL);
	if (e->ops->emit(e->ops_ctx, e, &hs.stream, err) < 0) {
		lade_hash_stream_release(&hs);
		return -1;
	}
	if (hs.bytes != e->size) {
		lade_hash_stream_release(&hs);
		return lade_error_set(err, 0, "%s gives %" PRIu64 " bytes, %" PRIu64 " expected",
		                      e->origin ? e->origin : e->path, hs.bytes, e->size);
	}
	lade_hash_stream_final(&hs, out);
	return 0;
}

struct key_ctx {
	struct lade_cache *c;
	struct lade_sha256 *sha;
};

/* Length-prefixed fields: no path or link text can forge another entry's fields. */
static void key_field(struct lade_sha256 *sha, const char *s)
{
	char len[32];
	int n = snprintf(len, sizeof(len), "%zu:", strlen(s));
	lade_sha256_update(sha, len, (size_t)n);
	lade_sha256_update(sha, s, strlen(s));
}

static int key_entry(void *ctx, const struct lade_entry *e, struct lade_error **err)
{
	struct key_ctx *k = ctx;
	char content[LADE_DIGEST_STRLEN] = "-";
	if (e->type == LADE_ENTRY_FILE) {
		if (e->has_sha256) {
			char hex[LADE_DIGEST_HEX_LEN + 1];
			for (size_t i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", e->sha256[i]);
			snprintf(content, sizeof(content), "sha256:%s", hex);
		} else if (e->src_path) {
			if (lade_stat_cache_sha256(k->c->stat, e->src_path, false, content, err) <
			    0)
				return -1;
		} else if (e->ops) {
			if (emitted_hash(e, content, err) < 0)
				return -1;
		} else {
			lade_sha256_buf(e->data.data, e->data.len, content);
		}
	}
	_cleanup_free_ char *meta = xasprintf("%d %o %" PRIu32 " %" PRIu32 " %" PRIu64,
	                                      (int)e->type, e->mode, e->uid, e->gid, e->size);
	key_field(k->sha, "entry");
	key_field(k->sha, e->path);
	key_field(k->sha, meta);
	key_field(k->sha, e->link ? e->link : "");
	key_field(k->sha, content);
	return 0;
}

static int compute_key(struct lade_cache *c, struct lade_layer *l,
                       const struct lade_layer_options *o, char out[65], struct lade_error **err)
{
	_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = lade_sha256_new();
	_cleanup_free_ char *head = xasprintf(
	        "%s\nlayer-format %d\n%s\n%s\nlevel %d\nmtime %" PRId64 "\n", CACHE_FORMAT,
	        LADE_LAYER_FORMAT_VERSION, lade_compression_name(o->compression),
	        lade_compression_describe(o->compression, o->level), o->level, o->mtime);
	key_field(sha, head);
	if (o->key_extra) /* absent otherwise: keys of layers without it stay what they were */
		key_field(sha, o->key_extra);
	if (o->lazy != LADE_LAZY_NONE) { /* likewise */
		key_field(sha, lade_lazy_name(o->lazy));
		for (char *const *g = o->prefetch; g && *g; g++)
			key_field(sha, *g);
		key_field(sha, "end of prefetch");
	}
	struct key_ctx k = {.c = c, .sha = sha};
	if (lade_layer_walk(l, o, key_entry, &k, err) < 0)
		return lade_error_prefix(err, "layer %s", lade_layer_comment(l));
	char digest[LADE_DIGEST_STRLEN];
	lade_sha256_final(sha, NULL, digest);
	snprintf(out, 65, "%s", lade_digest_hex(digest));
	return 0;
}

int lade_cache_key(struct lade_cache *c, struct lade_layer *l, const struct lade_layer_options *o,
                   char out[65], struct lade_error **err)
{
	return compute_key(c, l, o, out, err);
}

/* ---- entries ---- */

static bool get_u64(json_t *j, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(j, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static bool get_digest(json_t *j, const char *key, char out[LADE_DIGEST_STRLEN])
{
	const char *s = json_string_value(json_object_get(j, key));
	if (s == NULL || !lade_digest_valid(s))
		return false;
	snprintf(out, LADE_DIGEST_STRLEN, "%s", s);
	return true;
}

/* 1: a usable entry in *res; 0: none; -1: a broken one (described in *why). */
static int read_entry(const char *path, const struct lade_layer_options *o,
                      struct lade_layer_result *res, char **why)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *e = NULL;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (lade_read_file(path, ENTRY_MAX, &b, &e) < 0) {
		*why = xstrdup(e->msg);
		return -1;
	}
	json_error_t jerr;
	json_t *j = json_loadb(b.data, b.len, 0, &jerr);
	struct lade_layer_result r = {0};
	uint64_t entries = 0;
	const char *mt = json_string_value(json_object_get(j, "media_type"));
	const char *want = lade_compression_media_type(o->compression);
	bool good = json_is_object(j) && get_digest(j, "digest", r.digest) &&
	            get_digest(j, "diff_id", r.diff_id) && get_u64(j, "size", &r.size) &&
	            get_u64(j, "tar_size", &r.tar_size) &&
	            get_u64(j, "content_size", &r.content_size) &&
	            get_u64(j, "entries", &entries) && mt && strcmp(mt, want) == 0;
	if (good && o->lazy != LADE_LAZY_NONE)
		good = get_digest(j, "toc_digest", r.toc_digest) &&
		       get_u64(j, "prefetch_bytes", &r.prefetch_bytes);
	const char *pos = json_string_value(json_object_get(j, "toc_position"));
	if (good && o->lazy == LADE_LAZY_ZSTD_CHUNKED)
		good = pos && strlen(pos) < sizeof(r.toc_position);
	if (good && pos && o->lazy == LADE_LAZY_ZSTD_CHUNKED)
		snprintf(r.toc_position, sizeof(r.toc_position), "%s", pos);
	json_decref(j);
	if (!good) {
		*why = xasprintf("%s: not a valid cache entry", path);
		return -1;
	}
	r.entries = (size_t)entries;
	r.media_type = want;
	*res = r;
	return 1;
}

static int write_entry(const char *path, const struct lade_layer_result *r, struct lade_error **err)
{
	json_t *j = json_object();
	json_object_set_new(j, "digest", json_string(r->digest));
	json_object_set_new(j, "diff_id", json_string(r->diff_id));
	json_object_set_new(j, "size", json_integer((json_int_t)r->size));
	json_object_set_new(j, "tar_size", json_integer((json_int_t)r->tar_size));
	json_object_set_new(j, "content_size", json_integer((json_int_t)r->content_size));
	json_object_set_new(j, "entries", json_integer((json_int_t)r->entries));
	json_object_set_new(j, "media_type", json_string(r->media_type));
	if (r->toc_digest[0]) {
		json_object_set_new(j, "toc_digest", json_string(r->toc_digest));
		json_object_set_new(j, "prefetch_bytes",
		                    json_integer((json_int_t)r->prefetch_bytes));
		if (r->toc_position[0])
			json_object_set_new(j, "toc_position", json_string(r->toc_position));
	}
	_cleanup_free_ char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	return lade_write_file_atomic(path, text, strlen(text), err);
}

static void save_stat_cache(struct lade_cache *c)
{
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_stat_cache_save(c->stat, &e) < 0)
		set_warning(c, "layer cache %s: %s", c->dir, e->msg);
}

/* Remove an entry and its cached blob so that a broken one is never seen again. */
static void drop_entry(struct lade_cache *c, const char *entry_path, const char *digest)
{
	unlink(entry_path);
	if (digest && lade_digest_valid(digest)) {
		_cleanup_free_ char *blob = lade_store_blob_path(c->store, digest);
		unlink(blob);
	}
}

int lade_cache_lookup(struct lade_cache *c, const char *key, const struct lade_layer_options *o,
                      struct lade_store *store, const char *what, struct lade_layer_result *res)
{
	free(c->warning);
	c->warning = NULL;
	_cleanup_free_ char *name = xasprintf("layers/%s.json", key);
	_cleanup_free_ char *entry_path = lade_path_join(c->dir, name);
	struct lade_layer_result hit;
	_cleanup_free_ char *why = NULL;
	int found = read_entry(entry_path, o, &hit, &why);
	if (found > 0) {
		/* "used" for lade gc --cache: the entry file's mtime (atime is often noatime) */
		(void)utimensat(AT_FDCWD, entry_path, NULL, 0);
		if (lade_store_has(store, hit.digest)) {
			*res = hit;
			return 1;
		}
		_cleanup_free_ char *blob = lade_store_blob_path(c->store, hit.digest);
		_cleanup_error_ struct lade_error *ie = NULL;
		if (lade_store_import_file(store, blob, hit.digest, hit.size, &ie) == 0) {
			*res = hit;
			return 1;
		}
		why = xstrdup(ie->msg);
		drop_entry(c, entry_path, hit.digest);
	} else if (found < 0) {
		drop_entry(c, entry_path, NULL);
	}
	if (why)
		set_warning(c, "layer cache %s: dropped entry %s of layer %s: %s", c->dir, key,
		            what, why);
	return 0;
}

void lade_cache_record(struct lade_cache *c, const char *key, struct lade_store *store,
                       const struct lade_layer_result *res, const char *what)
{
	_cleanup_free_ char *name = xasprintf("layers/%s.json", key);
	_cleanup_free_ char *entry_path = lade_path_join(c->dir, name);
	_cleanup_free_ char *out_blob = lade_store_blob_path(store, res->digest);
	_cleanup_error_ struct lade_error *ce = NULL;
	if ((store != c->store &&
	     lade_store_import_file(c->store, out_blob, res->digest, res->size, &ce) < 0) ||
	    write_entry(entry_path, res, &ce) < 0)
		set_warning(c, "layer cache %s: cannot record layer %s: %s", c->dir, what, ce->msg);
}

int lade_layer_write_cached_key(struct lade_cache *c, const char *key_in, struct lade_layer *l,
                                const struct lade_layer_options *o, struct lade_store *store,
                                struct lade_layer_result *res, bool *reused,
                                struct lade_error **err)
{
	*reused = false;
	if (c == NULL)
		return lade_layer_write(l, o, store, res, err);
	char key[65];
	if (key_in)
		snprintf(key, sizeof(key), "%s", key_in);
	else if (compute_key(c, l, o, key, err) < 0)
		return -1;
	save_stat_cache(c);
	if (lade_cache_lookup(c, key, o, store, lade_layer_comment(l), res) == 1) {
		*reused = true;
		return 0;
	}
	_cleanup_free_ char *warning = c->warning ? xstrdup(c->warning) : NULL;
	if (lade_layer_write(l, o, store, res, err) < 0)
		return -1;
	lade_cache_record(c, key, store, res, lade_layer_comment(l));
	if (warning && c->warning == NULL)
		c->warning = steal_pointer(&warning);
	return 0;
}

int lade_layer_write_cached(struct lade_cache *c, struct lade_layer *l,
                            const struct lade_layer_options *o, struct lade_store *store,
                            struct lade_layer_result *res, bool *reused, struct lade_error **err)
{
	return lade_layer_write_cached_key(c, NULL, l, o, store, res, reused, err);
}

/* ---- trimming (lade gc --cache) ---- */

struct trim_entry {
	char *path;                      /* layers/KEY.json or bases/DIGEST.json */
	char digest[LADE_DIGEST_STRLEN]; /* its layer blob; "" for bases/ and broken entries */
	int64_t used_ns;                 /* mtime: set when written and on every hit */
	uint64_t size;                   /* of the entry file */
	bool drop;
};

struct trim {
	struct trim_entry *e;
	size_t n, alloc;
};

static void trim_release(struct trim *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].path);
	free(t->e);
}

/* The files of dir that are cache entries: layers/ and bases/ hold KEY.json, pyc/ the bytecode
 * memos (no suffix); only layer entries name a blob. */
enum entry_kind { ENTRY_LAYER, ENTRY_BASE, ENTRY_MEMO };

static int list_entries(struct trim *t, const char *dir, enum entry_kind kind,
                        struct lade_error **err)
{
	bool layers = kind == ENTRY_LAYER;
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : lade_error_set(err, errno, "cannot open %s", dir);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;
		bool named = kind == ENTRY_MEMO
		                     ? de->d_name[0] != '.'
		                     : len >= 6 && strcmp(de->d_name + len - 5, ".json") == 0;
		if (!named || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		lade_grow(&t->e, sizeof(*t->e), t->n + 1, &t->alloc);
		struct trim_entry *e = &t->e[t->n++];
		*e = (struct trim_entry){.path = lade_path_join(dir, de->d_name),
		                         .used_ns = (int64_t)st.st_mtim.tv_sec * 1000000000ll +
		                                    st.st_mtim.tv_nsec,
		                         .size = (uint64_t)st.st_size};
		if (!layers)
			continue;
		_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
		_cleanup_error_ struct lade_error *ignored = NULL;
		json_t *j = NULL;
		if (lade_read_file(e->path, ENTRY_MAX, &b, &ignored) == 0)
			j = json_loadb(b.data, b.len, 0, NULL);
		/* a broken entry is never used: it goes first */
		if (!get_digest(j, "digest", e->digest))
			e->drop = true;
		json_decref(j);
	}
	closedir(d);
	return 0;
}

static int by_use(const void *a, const void *b)
{
	const struct trim_entry *x = a, *y = b;
	if (x->used_ns != y->used_ns)
		return x->used_ns < y->used_ns ? -1 : 1;
	return strcmp(x->path, y->path);
}

struct blob_sizes {
	struct lade_hashmap *size; /* digest -> uint64_t* */
	uint64_t *vals;
	size_t n, alloc;
};

static int note_size(void *ctx, const char *digest, uint64_t size, struct lade_error **err)
{
	(void)err;
	struct blob_sizes *b = ctx;
	uint64_t *v = xmalloc(sizeof(*v));
	*v = size;
	free(lade_hashmap_put(b->size, digest, v));
	return 0;
}

/* Which entries to drop: broken ones, those unused for longer than older_than, then the
 * least recently used until the cache (blobs the kept entries and the store's tagged images
 * reach, plus the entry files) fits max_size. */
static void choose(struct trim *t, struct lade_hashmap *size, char *const *unpinned,
                   const struct lade_cache_gc_options *o)
{
	struct lade_hashmap *refs = lade_hashmap_new(); /* digest -> count of kept entries */
	struct lade_hashmap *loose = lade_hashmap_new();
	for (char *const *u = unpinned; u && *u; u++)
		lade_hashmap_put(loose, *u, (void *)1);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t cut = o->older_than_s >= 0 ? (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec -
	                                             o->older_than_s * 1000000000ll
	                                   : INT64_MIN;
	uint64_t total = 0;
	size_t pos = 0;
	const char *k;
	void *v;
	/* blobs the store's own index keeps (pulled images) always count */
	while (lade_hashmap_next(size, &pos, &k, &v))
		if (!lade_hashmap_get(loose, k))
			total += *(uint64_t *)v;
	for (size_t i = 0; i < t->n; i++) {
		struct trim_entry *e = &t->e[i];
		if (e->used_ns < cut)
			e->drop = true;
		if (e->drop)
			continue;
		total += e->size;
		if (!e->digest[0] || !lade_hashmap_get(loose, e->digest))
			continue;
		uintptr_t n = (uintptr_t)lade_hashmap_get(refs, e->digest);
		lade_hashmap_put(refs, e->digest, (void *)(n + 1));
		uint64_t *sz = lade_hashmap_get(size, e->digest);
		if (n == 0 && sz)
			total += *sz;
	}
	for (size_t i = 0; o->max_size != UINT64_MAX && total > o->max_size && i < t->n; i++) {
		struct trim_entry *e = &t->e[i];
		if (e->drop)
			continue;
		e->drop = true;
		total -= e->size;
		if (!e->digest[0] || !lade_hashmap_get(loose, e->digest))
			continue;
		uintptr_t n = (uintptr_t)lade_hashmap_get(refs, e->digest);
		lade_hashmap_put(refs, e->digest, (void *)(n - 1));
		uint64_t *sz = lade_hashmap_get(size, e->digest);
		if (n == 1 && sz)
			total -= *sz;
	}
	lade_hashmap_free(refs, NULL);
	lade_hashmap_free(loose, NULL);
}

int lade_cache_gc(struct lade_cache *c, const struct lade_cache_gc_options *o,
                  struct lade_cache_gc_report *r, struct lade_error **err)
{
	*r = (struct lade_cache_gc_report){0};
	_cleanup_(trim_release) struct trim t = {0};
	_cleanup_free_ char *layers = lade_path_join(c->dir, "layers");
	_cleanup_free_ char *bases = lade_path_join(c->dir, "bases");
	_cleanup_free_ char *memos = lade_path_join(c->dir, "pyc");
	if (list_entries(&t, layers, ENTRY_LAYER, err) < 0 ||
	    list_entries(&t, bases, ENTRY_BASE, err) < 0 ||
	    list_entries(&t, memos, ENTRY_MEMO, err) < 0)
		return lade_error_prefix(err, "layer cache %s", c->dir);
	if (t.n)
		qsort(t.e, t.n, sizeof(*t.e), by_use);

	/* what the store's index.json (images pulled into it) does not keep */
	struct lade_gc_options probe = {.dry_run = true, .index_optional = true};
	struct lade_gc_report unpinned = {0};
	if (lade_gc_layout(c->store, &probe, &unpinned, err) < 0)
		return lade_error_prefix(err, "layer cache %s", c->dir);
	struct blob_sizes sizes = {.size = lade_hashmap_new()};
	int rc = lade_store_each_blob(c->store, note_size, &sizes, err);
	if (rc == 0)
		choose(&t, sizes.size, unpinned.removed, o);
	lade_hashmap_free(sizes.size, free);
	lade_gc_report_release(&unpinned);
	if (rc < 0)
		return lade_error_prefix(err, "layer cache %s", c->dir);

	/* Entries first: a blob whose entry is gone is unreferenced, never the reverse. */
	_cleanup_(lade_strv_freep) char **keep = NULL;
	for (size_t i = 0; i < t.n; i++) {
		struct trim_entry *e = &t.e[i];
		if (!e->drop) {
			if (e->digest[0])
				lade_strv_push(&keep, e->digest);
			r->entries_kept++;
			continue;
		}
		r->entries++;
		r->entry_bytes += e->size;
		if (!o->dry_run && unlink(e->path) < 0 && errno != ENOENT)
			return lade_error_set(err, errno, "cannot remove %s", e->path);
	}
	struct lade_gc_options go = {.keep = keep, .dry_run = o->dry_run, .index_optional = true};
	if (lade_gc_layout(c->store, &go, &r->blobs, err) < 0)
		return lade_error_prefix(err, "layer cache %s", c->dir);
	return 0;
}

void lade_cache_gc_report_release(struct lade_cache_gc_report *r)
{
	lade_gc_report_release(&r->blobs);
}

#define MEMO_MAX (1u << 30)

static bool is_key(const char *k)
{
	size_t n = 0;
	for (; k[n]; n++)
		if (!strchr("0123456789abcdef", k[n]))
			return false;
	return n == 64;
}

static char *memo_path(struct lade_cache *c, const char *key)
{
	_cleanup_free_ char *name = xasprintf("pyc/%s", key);
	return lade_path_join(c->dir, name);
}

int lade_cache_memo_get(void *cache, const char *key, struct lade_buf *out)
{
	struct lade_cache *c = cache;
	if (c == NULL || !is_key(key))
		return 0;
	_cleanup_free_ char *path = memo_path(c, key);
	_cleanup_error_ struct lade_error *e = NULL;
	lade_buf_reset(out);
	if (lade_read_file(path, MEMO_MAX, out, &e) < 0)
		return 0;
	/* used: lade gc --cache trims least recently used first, memos with the entries */
	(void)utimensat(AT_FDCWD, path, NULL, 0);
	return 1;
}

void lade_cache_memo_put(void *cache, const char *key, const void *data, size_t len)
{
	struct lade_cache *c = cache;
	if (c == NULL || !is_key(key))
		return;
	_cleanup_free_ char *dir = lade_path_join(c->dir, "pyc");
	_cleanup_free_ char *path = memo_path(c, key);
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_mkdir_p(dir, &e) < 0 || lade_write_file_atomic(path, data, len, &e) < 0)
		set_warning(c, "layer cache %s: bytecode memo: %s", c->dir, e->msg);
}
