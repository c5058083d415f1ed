/* lade — the layer cache (see include/lade/cache.h for the layout and the key). */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lade/cache.h"
#include "lade/hashmap.h"

#define CACHE_FORMAT   "lade-layer-cache 1"
#define LOCK_TIMEOUT_S 600
#define STAT_FILE      "stat-cache.json"
#define RACY_NS        (2ll * 1000000000ll)
#define ENTRY_MAX      (64u << 10)
#define STAT_MAX       (256u << 20)
/* Past this many recorded files, only those seen by this run are kept. */
#define STAT_KEEP 200000

struct lade_cache {
	char *dir;
	struct lade_store *store;
	json_t *stat; /* identity string -> "sha256:…" */
	json_t *seen; /* the part of stat this run used */
	bool stat_dirty;
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

const char *lade_cache_warning(const struct lade_cache *c)
{
	return c ? c->warning : NULL;
}

void lade_cache_free(struct lade_cache *c)
{
	if (c == NULL)
		return;
	lade_store_free(c->store);
	json_decref(c->stat);
	json_decref(c->seen);
	free(c->warning);
	free(c->dir);
	free(c);
}

void lade_cache_freep(struct lade_cache **c)
{
	lade_cache_free(*c);
	*c = NULL;
}

/* A stat cache that cannot be read is only a slower build: start empty. */
static json_t *load_stat_cache(const char *dir)
{
	_cleanup_free_ char *path = lade_path_join(dir, STAT_FILE);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *ignored = NULL;
	json_t *j = NULL;
	if (lade_read_file(path, STAT_MAX, &b, &ignored) == 0)
		j = json_loadb(b.data, b.len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	return j;
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
	c->stat = load_stat_cache(c->dir);
	c->seen = json_object();
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

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

static int host_file_hash(struct lade_cache *c, const char *path, char out[LADE_DIGEST_STRLEN],
                          struct lade_error **err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return lade_error_set(err, errno, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode))
		return lade_error_set(err, 0, "%s is not a regular file", path);
	_cleanup_free_ char *id =
	        xasprintf("%ju:%ju:%jd:%" PRId64 ":%" PRId64 ":%s", (uintmax_t)st.st_dev,
	                  (uintmax_t)st.st_ino, (intmax_t)st.st_size, ts_ns(&st.st_mtim),
	                  ts_ns(&st.st_ctim), path);
	const char *known = json_string_value(json_object_get(c->stat, id));
	if (known && lade_digest_valid(known)) {
		snprintf(out, LADE_DIGEST_STRLEN, "%s", known);
		json_object_set_new(c->seen, id, json_string(known));
		return 0;
	}
	uint64_t size;
	if (lade_sha256_file(path, out, &size, err) < 0)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* Racily clean: a write in the same timestamp tick would keep this identity. */
	if (size == (uint64_t)st.st_size && ts_ns(&now) - ts_ns(&st.st_mtim) >= RACY_NS &&
	    ts_ns(&now) - ts_ns(&st.st_ctim) >= RACY_NS) {
		json_object_set_new(c->stat, id, json_string(out));
		json_object_set_new(c->seen, id, json_string(out));
		c->stat_dirty = true;
	}
	return 0;
}

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
			if (host_file_hash(k->c, e->src_path, content, err) < 0)
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
	_cleanup_free_ char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	return lade_write_file_atomic(path, text, strlen(text), err);
}

static void save_stat_cache(struct lade_cache *c)
{
	if (!c->stat_dirty)
		return;
	if (json_object_size(c->stat) > STAT_KEEP) {
		json_decref(c->stat);
		c->stat = json_deep_copy(c->seen);
	}
	_cleanup_free_ char *path = lade_path_join(c->dir, STAT_FILE);
	_cleanup_free_ char *text = json_dumps(c->stat, JSON_SORT_KEYS | JSON_COMPACT);
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_write_file_atomic(path, text, strlen(text), &e) < 0)
		set_warning(c, "layer cache %s: %s", c->dir, e->msg);
	else
		c->stat_dirty = false;
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

int lade_layer_write_cached(struct lade_cache *c, struct lade_layer *l,
                            const struct lade_layer_options *o, struct lade_store *store,
                            struct lade_layer_result *res, bool *reused, struct lade_error **err)
{
	*reused = false;
	if (c == NULL)
		return lade_layer_write(l, o, store, res, err);
	free(c->warning);
	c->warning = NULL;

	char key[65];
	if (compute_key(c, l, o, key, err) < 0)
		return -1;
	save_stat_cache(c);
	_cleanup_free_ char *name = xasprintf("layers/%s.json", key);
	_cleanup_free_ char *entry_path = lade_path_join(c->dir, name);

	struct lade_layer_result hit;
	_cleanup_free_ char *why = NULL;
	int found = read_entry(entry_path, o, &hit, &why);
	if (found > 0) {
		if (lade_store_has(store, hit.digest)) {
			*res = hit;
			*reused = true;
			return 0;
		}
		_cleanup_free_ char *blob = lade_store_blob_path(c->store, hit.digest);
		_cleanup_error_ struct lade_error *ie = NULL;
		if (lade_store_import_file(store, blob, hit.digest, hit.size, &ie) == 0) {
			*res = hit;
			*reused = true;
			return 0;
		}
		why = xstrdup(ie->msg);
		drop_entry(c, entry_path, hit.digest);
	} else if (found < 0) {
		drop_entry(c, entry_path, NULL);
	}
	if (why)
		set_warning(c, "layer cache %s: dropped entry %s of layer %s: %s", c->dir, key,
		            lade_layer_comment(l), why);

	if (lade_layer_write(l, o, store, res, err) < 0)
		return -1;

	_cleanup_free_ char *out_blob = lade_store_blob_path(store, res->digest);
	_cleanup_error_ struct lade_error *ce = NULL;
	if (lade_store_import_file(c->store, out_blob, res->digest, res->size, &ce) < 0 ||
	    write_entry(entry_path, res, &ce) < 0)
		set_warning(c, "layer cache %s: cannot record layer %s: %s", c->dir,
		            lade_layer_comment(l), ce->msg);
	return 0;
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
	return lade_read_file(path, MEMO_MAX, out, &e) == 0 ? 1 : 0;
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
