/* lade — the registry as the fleet's layer cache (see remote-cache.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "remote-cache.h"
#include "lade/compress.h"
#include "lade/digest.h"
#include "lade/lazy.h"
#include "lade/util.h"

#define INPUT_KEY_FORMAT "lade input key 1"
#define INDEX_TAG_PREFIX "lade-cache-index-"

struct remembered {
	bool published; /* found in the --cache-to repository: listed in the index only */
	char *variant;  /* NULL: no variants */
	char *keys[3];  /* content key and/or input key, NULL-terminated */
	struct lade_cache_mapping m;
	char *comment;
};

struct remote_hit {
	char digest[LADE_DIGEST_STRLEN];
	char *repo; /* where it was found */
	char manifest[LADE_DIGEST_STRLEN];
	uint64_t manifest_size;
};

struct lade_remote_cache {
	struct lade_remote_cache_options o;
	struct lade_cache_repo **from; /* n_from */
	bool *from_down;               /* did not answer once: not asked again in this build */
	size_t n_from;
	struct lade_cache_repo *to;     /* or NULL */
	struct lade_cache_repo *target; /* the push target, or NULL */
	struct remembered *layers;
	size_t n_layers, a_layers;
	struct remote_hit *hits;
	size_t n_hits, a_hits;
	char **base_keys, **base_texts; /* base indexes for --cache-to */
};

static void rnote(const struct lade_remote_cache *rc, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void rnote(const struct lade_remote_cache *rc, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = rc->o.note ? vasprintf(&text, fmt, ap) : -1;
	va_end(ap);
	if (n >= 0)
		rc->o.note(rc->o.note_ctx, text);
}

void lade_remote_cache_free(struct lade_remote_cache *rc)
{
	if (rc == NULL)
		return;
	for (size_t i = 0; i < rc->n_from; i++)
		lade_cache_repo_free(rc->from[i]);
	free(rc->from);
	free(rc->from_down);
	lade_cache_repo_free(rc->to);
	lade_cache_repo_free(rc->target);
	for (size_t i = 0; i < rc->n_layers; i++) {
		struct remembered *l = &rc->layers[i];
		free(l->variant);
		free(l->keys[0]);
		free(l->keys[1]);
		lade_cache_mapping_release(&l->m);
		free(l->comment);
	}
	free(rc->layers);
	for (size_t i = 0; i < rc->n_hits; i++)
		free(rc->hits[i].repo);
	free(rc->hits);
	lade_strv_free(rc->base_keys);
	lade_strv_free(rc->base_texts);
	free(rc);
}

void lade_remote_cache_freep(struct lade_remote_cache **rc)
{
	lade_remote_cache_free(*rc);
	*rc = NULL;
}

bool lade_remote_cache_looks_up(const struct lade_remote_cache *rc)
{
	return rc && rc->n_from > 0;
}

int lade_remote_cache_new(const struct lade_remote_cache_options *o, struct lade_remote_cache **out,
                          struct lade_error **err)
{
	_cleanup_(lade_remote_cache_freep) struct lade_remote_cache *rc = xzalloc(sizeof(*rc));
	rc->o = *o;
	size_t n = 0;
	for (char *const *f = o->from; f && *f; f++)
		n++;
	rc->from = xcalloc(n ? n : 1, sizeof(*rc->from));
	rc->from_down = xcalloc(n ? n : 1, sizeof(*rc->from_down));
	for (char *const *f = o->from; f && *f; f++) {
		if (lade_cache_repo_open(*f, o->ro, &rc->from[rc->n_from], err) < 0)
			return lade_error_prefix(err, "--cache-from");
		rc->n_from++;
	}
	if (o->to && lade_cache_repo_open(o->to, o->ro, &rc->to, err) < 0)
		return lade_error_prefix(err, "--cache-to");
	if (o->push && lade_cache_repo_open_ref(o->push, o->ro, &rc->target, err) < 0)
		return lade_error_prefix(err, "--push");
	*out = steal_pointer(&rc);
	return 0;
}

static void key_part(struct lade_sha256 *sha, const char *s)
{
	char len[32];
	int n = snprintf(len, sizeof(len), "%zu:", strlen(s));
	lade_sha256_update(sha, len, (size_t)n);
	lade_sha256_update(sha, s, strlen(s));
}

/* The binary's own digest: an input key is only ever shared between identical lade builds,
 * since the installer's output is a function of its code as much as of its inputs. */
static int self_digest(char out[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	static char cached[LADE_DIGEST_STRLEN];
	if (cached[0] == '\0') {
		_cleanup_free_ char *self = realpath("/proc/self/exe", NULL);
		uint64_t size;
		if (self == NULL)
			return lade_error_set(err, errno, "cannot hash the lade binary");
		if (lade_sha256_file(self, cached, &size, err) < 0) {
			cached[0] = '\0';
			return lade_error_prefix(err, "cannot hash the lade binary");
		}
	}
	memcpy(out, cached, LADE_DIGEST_STRLEN);
	return 0;
}

int lade_remote_input_key(const struct lade_layer_options *lo, const char *platform,
                          const char *base_digest, char *const *parts, char out[65],
                          struct lade_error **err)
{
	char self[LADE_DIGEST_STRLEN];
	if (self_digest(self, err) < 0)
		return -1;
	_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = lade_sha256_new();
	_cleanup_free_ char *head =
	        xasprintf("%s\n%s\nlayer-format %d\n%s\n%s\nlevel %d\nmtime %" PRId64 "\n%s\n%s\n",
	                  INPUT_KEY_FORMAT, self, LADE_LAYER_FORMAT_VERSION,
	                  lade_compression_name(lo->compression),
	                  lade_compression_describe(lo->compression, lo->level), lo->level,
	                  lo->mtime, platform, base_digest ? base_digest : "no base");
	key_part(sha, head);
	key_part(sha, lo->key_extra ? lo->key_extra : "no bytecode");
	if (lo->lazy != LADE_LAZY_NONE) { /* the layer's bytes follow its lazy format */
		key_part(sha, lade_lazy_name(lo->lazy));
		for (char *const *g = lo->prefetch; g && *g; g++)
			key_part(sha, *g);
		key_part(sha, "end of prefetch");
	}
	for (char *const *p = parts; p && *p; p++)
		key_part(sha, *p);
	char d[LADE_DIGEST_STRLEN];
	lade_sha256_final(sha, NULL, d);
	snprintf(out, 65, "%s", lade_digest_hex(d));
	return 0;
}

static void remember_hit(struct lade_remote_cache *rc, const struct lade_cache_mapping *m,
                         const char *repo)
{
	lade_grow(&rc->hits, sizeof(*rc->hits), rc->n_hits + 1, &rc->a_hits);
	struct remote_hit *h = &rc->hits[rc->n_hits++];
	memcpy(h->digest, m->digest, sizeof(h->digest));
	h->repo = xstrdup(repo);
	memcpy(h->manifest, m->manifest_digest, sizeof(h->manifest));
	h->manifest_size = m->manifest_size;
}

/* The blob of a mapping found in `from`: present in the push target (push_only), or fetched
 * into store. 1 when usable. */
static int place_blob(struct lade_remote_cache *rc, struct lade_cache_repo *from,
                      const struct lade_cache_mapping *m, struct lade_store *store)
{
	_cleanup_error_ struct lade_error *e = NULL;
	if (rc->o.push_only) {
		bool mounted = false;
		int rc2 = lade_cache_repo_ensure_blob(rc->target, from, m->digest, m->size,
		                                      &mounted, &e);
		if (rc2 < 0)
			rnote(rc, "cache: %s", e->msg);
		else if (rc2 == 0)
			rnote(rc,
			      "cache: blob %s is not in %s and cannot be mounted from %s "
			      "(another registry?): building the layer",
			      m->digest, lade_cache_repo_name(rc->target),
			      lade_cache_repo_name(from));
		return rc2 == 1;
	}
	if (lade_cache_repo_fetch_blob(from, store, m->digest, m->size, &e) < 0) {
		rnote(rc, "cache: %s: building the layer", e->msg);
		return 0;
	}
	return 1;
}

int lade_remote_cache_lookup(struct lade_remote_cache *rc, const char *key,
                             const struct lade_layer_options *lo, struct lade_store *store,
                             struct lade_layer_result *res)
{
	const char *want = lade_compression_media_type(lo->compression);
	for (size_t i = 0; i < rc->n_from; i++) {
		struct lade_cache_repo *from = rc->from[i];
		if (rc->from_down[i])
			continue;
		struct lade_cache_mapping m;
		_cleanup_free_ char *why = NULL;
		_cleanup_error_ struct lade_error *e = NULL;
		int found = lade_cache_repo_lookup(from, key, want, &m, &why, &e);
		if (found < 0) {
			rnote(rc, "cache: --cache-from %s not used: %s", lade_cache_repo_name(from),
			      e->msg);
			rc->from_down[i] = true;
			continue;
		}
		if (found == 0) {
			if (why)
				rnote(rc, "cache: %s: the layer is built", why);
			continue;
		}
		/* a lazy layer's descriptor needs its TOC digest (and zstd:chunked its position) */
		if (lo->lazy != LADE_LAZY_NONE &&
		    (!m.toc_digest[0] ||
		     (lo->lazy == LADE_LAZY_ZSTD_CHUNKED) != !!m.toc_position[0])) {
			rnote(rc,
			      "cache: the mapping of %s in %s has no %s TOC: the layer is built",
			      m.digest, lade_cache_repo_name(from), lade_lazy_name(lo->lazy));
			lade_cache_mapping_release(&m);
			continue;
		}
		int placed = place_blob(rc, from, &m, store);
		if (placed) {
			memset(res, 0, sizeof(*res));
			memcpy(res->digest, m.digest, sizeof(res->digest));
			memcpy(res->diff_id, m.diff_id, sizeof(res->diff_id));
			res->size = m.size;
			res->media_type = want;
			memcpy(res->toc_digest, m.toc_digest, sizeof(res->toc_digest));
			res->prefetch_bytes = m.prefetch_bytes;
			res->tar_size = m.tar_size;
			memcpy(res->toc_position, m.toc_position, sizeof(res->toc_position));
			remember_hit(rc, &m, lade_cache_repo_name(from));
		}
		lade_cache_mapping_release(&m);
		if (placed)
			return 1;
	}
	return 0;
}

int lade_remote_cache_get_base_index(struct lade_remote_cache *rc, const char *key, size_t max,
                                     struct lade_buf *out)
{
	for (size_t i = 0; i < rc->n_from; i++) {
		if (rc->from_down[i])
			continue;
		_cleanup_free_ char *why = NULL;
		_cleanup_error_ struct lade_error *e = NULL;
		int found = lade_cache_repo_get_doc(rc->from[i], key, LADE_BASE_INDEX_TYPE, max,
		                                    out, &why, &e);
		if (found < 0) {
			rnote(rc, "cache: --cache-from %s not used: %s",
			      lade_cache_repo_name(rc->from[i]), e->msg);
			rc->from_down[i] = true;
		} else if (why) {
			rnote(rc, "cache: %s: the base index is read from the base", why);
		}
		if (found > 0)
			return 1;
	}
	return 0;
}

void lade_remote_cache_remember_base_index(struct lade_remote_cache *rc, const char *key,
                                           const char *text)
{
	if (rc->to == NULL)
		return;
	lade_strv_push(&rc->base_keys, key);
	lade_strv_push(&rc->base_texts, text);
}

void lade_remote_cache_remember(struct lade_remote_cache *rc, const char *variant, const char *key,
                                const char *input_key, const struct lade_layer_result *res,
                                const char *compressor, const char *comment)
{
	if (rc->to == NULL)
		return;
	/* found in the repository it would be published to: it is there already */
	const struct remote_hit *there = NULL;
	for (size_t i = 0; i < rc->n_hits && !there; i++)
		if (strcmp(rc->hits[i].digest, res->digest) == 0 &&
		    strcmp(rc->hits[i].repo, lade_cache_repo_name(rc->to)) == 0)
			there = &rc->hits[i];
	for (size_t i = 0; i < rc->n_layers; i++)
		if (strcmp(rc->layers[i].m.digest, res->digest) == 0 &&
		    strcmp(rc->layers[i].keys[0], key && *key ? key : input_key) == 0)
			return; /* the same layer in another variant or platform */
	lade_grow(&rc->layers, sizeof(*rc->layers), rc->n_layers + 1, &rc->a_layers);
	struct remembered *l = &rc->layers[rc->n_layers++];
	memset(l, 0, sizeof(*l));
	l->variant = variant ? xstrdup(variant) : NULL;
	size_t k = 0;
	if (key && *key)
		l->keys[k++] = xstrdup(key);
	if (input_key && *input_key)
		l->keys[k++] = xstrdup(input_key);
	memcpy(l->m.digest, res->digest, sizeof(l->m.digest));
	memcpy(l->m.diff_id, res->diff_id, sizeof(l->m.diff_id));
	l->m.size = res->size;
	l->m.media_type = xstrdup(res->media_type);
	l->m.compressor = compressor ? xstrdup(compressor) : NULL;
	l->m.layer_format = LADE_LAYER_FORMAT_VERSION;
	memcpy(l->m.toc_digest, res->toc_digest, sizeof(l->m.toc_digest));
	l->m.prefetch_bytes = res->prefetch_bytes;
	l->m.tar_size = res->toc_digest[0] ? res->tar_size : 0;
	memcpy(l->m.toc_position, res->toc_position, sizeof(l->m.toc_position));
	l->comment = xstrdup(comment ? comment : "");
	if (there) {
		l->published = true;
		memcpy(l->m.manifest_digest, there->manifest, sizeof(l->m.manifest_digest));
		l->m.manifest_size = there->manifest_size;
	}
}

/* "lade-cache-index-NAME[-VARIANT]" within the tag grammar ([A-Za-z0-9_][A-Za-z0-9._-]*, at
 * most 128 characters). */
static char *index_tag(const char *name, const char *variant)
{
	_cleanup_free_ char *raw = variant ? xasprintf(INDEX_TAG_PREFIX "%s-%s", name, variant)
	                                   : xasprintf(INDEX_TAG_PREFIX "%s", name);
	size_t n = strlen(raw) > 128 ? 128 : strlen(raw);
	char *t = xstrndup(raw, n);
	for (char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			*p = '-';
	return t;
}

static int publish_index(struct lade_remote_cache *rc, const char *recipe_name, const char *variant,
                         char **digests, const uint64_t *sizes, char **names, size_t n,
                         struct lade_error **err)
{
	_cleanup_free_ char *tag = index_tag(recipe_name, variant);
	if (lade_cache_repo_put_index(rc->to, tag, digests, sizes, names, n, err) < 0)
		return -1;
	rnote(rc, "cache: published %zu layer mapping%s to %s:%s", n, n == 1 ? "" : "s",
	      lade_cache_repo_name(rc->to), tag);
	return 0;
}

int lade_remote_cache_publish(struct lade_remote_cache *rc, const char *blob_dir,
                              const char *recipe_name, struct lade_error **err)
{
	if (rc->to == NULL)
		return 0;
	for (size_t i = 0; rc->base_keys && rc->base_keys[i]; i++)
		if (lade_cache_repo_put_doc(rc->to, rc->base_keys[i], LADE_BASE_INDEX_TYPE,
		                            rc->base_texts[i], strlen(rc->base_texts[i]), err) < 0)
			return lade_error_prefix(err, "--cache-to %s: base index",
			                         lade_cache_repo_name(rc->to));
	if (rc->n_layers == 0)
		return 0;
	_cleanup_strv_ char **digests = NULL, **names = NULL;
	_cleanup_free_ uint64_t *sizes = xcalloc(rc->n_layers, sizeof(*sizes));
	for (size_t i = 0; i < rc->n_layers; i++) {
		struct remembered *l = &rc->layers[i];
		char d[LADE_DIGEST_STRLEN];
		memcpy(d, l->m.manifest_digest, sizeof(d));
		sizes[i] = l->m.manifest_size;
		if (!l->published && lade_cache_repo_publish(rc->to, &l->m, l->keys, blob_dir,
		                                             rc->target, d, &sizes[i], err) < 0)
			return lade_error_prefix(err, "--cache-to %s: layer %s",
			                         lade_cache_repo_name(rc->to), l->comment);
		lade_strv_push(&digests, d);
		lade_strv_push(&names, l->comment);
	}
	/* one index per variant, listing its layers in build order */
	for (size_t i = 0; i < rc->n_layers; i++) {
		const char *v = rc->layers[i].variant;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = (v == NULL) == (rc->layers[j].variant == NULL) &&
			       (v == NULL || strcmp(v, rc->layers[j].variant) == 0);
		if (seen)
			continue;
		_cleanup_strv_ char **vd = NULL, **vn = NULL;
		_cleanup_free_ uint64_t *vs = xcalloc(rc->n_layers, sizeof(*vs));
		size_t n = 0;
		for (size_t j = i; j < rc->n_layers; j++) {
			const char *w = rc->layers[j].variant;
			if ((v == NULL) != (w == NULL) || (v && strcmp(v, w) != 0))
				continue;
			lade_strv_push(&vd, digests[j]);
			lade_strv_push(&vn, names[j]);
			vs[n++] = sizes[j];
		}
		if (publish_index(rc, recipe_name, v, vd, vs, vn, n, err) < 0)
			return lade_error_prefix(err, "--cache-to %s",
			                         lade_cache_repo_name(rc->to));
	}
	return 0;
}
