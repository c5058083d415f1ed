/* lade — the build's side of the registry cache (remote-cache.h): which layers have an input
 * key, the look-up order (local cache, then --cache-from), what --cache-to publishes. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "build-private.h"
#include "lade/util.h"
#include "lade/wheel.h"

/* Push a new string (taken). */
static void push_take(char ***v, char *s)
{
	lade_strv_push(v, s);
	free(s);
}

static void build_note_text(void *ctx, const char *text)
{
	build_note(ctx, "%s", text);
}

int build_remote_open(struct build_ctx *c, const struct lade_recipe *first, struct lade_error **err)
{
	const struct lade_build_options *o = c->o;
	char *const *from = o->cache_from ? o->cache_from : first->cache_from;
	const char *to = o->cache_to ? o->cache_to : first->cache_to;
	if ((from == NULL || *from == NULL) && to == NULL)
		return 0;
	if (o->offline) {
		build_note(c, "cache: --offline: the registry cache (--cache-from, --cache-to) "
		              "is not used");
		return 0;
	}
	if (c->cache == NULL)
		return lade_error_set(err, 0,
		                      "--cache-from and --cache-to need the layer cache (drop "
		                      "--no-cache or LADE_NO_CACHE, or give --cache DIR)");
	struct lade_remote_cache_options ro = {.from = from,
	                                       .to = to,
	                                       .push = o->push,
	                                       .push_only = o->push_only,
	                                       .ro = &c->ro,
	                                       .note = build_note_text,
	                                       .note_ctx = c};
	return lade_remote_cache_new(&ro, &c->remote, err);
}

/* A scheme path that may be absent, as key text. */
static const char *or_none(const char *s)
{
	return s ? s : "(none)";
}

/* The parts of an input key: the install scheme, then each unit of the layer. A layer with
 * anything else (files items) has none: its content key is cheap to compute. */
static bool input_key_parts(const struct lade_recipe *r, const struct lade_py_plan *p,
                            size_t has_skel, const struct lade_planned_layer *pl, char ***parts)
{
	const struct lade_install_scheme *s = &p->scheme;
	if (!p->has_scheme || pl->split || pl->n_units == 0)
		return false;
	push_take(parts, xasprintf("scheme %s|%s|%s|%s|%s|%s|%" PRIu32 "|%" PRIu32 "|%d|%s|%s",
	                           or_none(s->purelib), or_none(s->platlib), or_none(s->scripts),
	                           or_none(s->headers), or_none(s->data), or_none(s->interpreter),
	                           s->uid, s->gid, s->optimize, or_none(r->python.interpreter),
	                           or_none(r->python.version)));
	for (char **g = s->exclude; g && *g; g++)
		push_take(parts, xasprintf("exclude %s", *g));
	for (size_t k = 0; k < pl->n_units; k++) {
		size_t u = pl->units[k];
		if (u < p->n_sel)
			push_take(parts, xasprintf("dist %s %s", p->sel[u].filename,
			                           p->sel[u].sha256_hex));
		else if (u < p->n_sel + has_skel)
			push_take(parts, xasprintf("venv %s", or_none(r->python.venv)));
		else
			return false;
	}
	return true;
}

int build_input_key(struct build_ctx *c, const struct lade_recipe *r, const struct lade_py_plan *p,
                    size_t has_skel, const struct lade_planned_layer *pl,
                    const struct lade_layer_options *lo, char out[65], struct lade_error **err)
{
	out[0] = '\0';
	if (c->remote == NULL || (c->n_base_layers && c->base_digest == NULL))
		return 0;
	_cleanup_strv_ char **parts = NULL;
	if (!input_key_parts(r, p, has_skel, pl, &parts))
		return 0;
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_remote_input_key(lo, c->platform, c->base_digest, parts, out, &e) < 0) {
		build_note(c, "cache: no input keys: %s", e->msg);
		out[0] = '\0';
	}
	(void)err;
	return 0;
}

static void cache_note(struct build_ctx *c)
{
	if (c->cache && lade_cache_warning(c->cache))
		build_note(c, "cache: %s", lade_cache_warning(c->cache));
}

int build_take_by_input_key(struct build_ctx *c, const char *ikey,
                            const struct lade_layer_options *lo, const char *comment,
                            struct lade_layer_result *res)
{
	int hit = lade_cache_lookup(c->cache, ikey, lo, c->store, comment, res);
	cache_note(c);
	if (hit != 1 && lade_remote_cache_looks_up(c->remote) &&
	    lade_remote_cache_lookup(c->remote, ikey, lo, c->store, res) == 1) {
		hit = 2;
		/* fetched (not --push-only): the next build finds it locally */
		if (lade_store_has(c->store, res->digest))
			lade_cache_record(c->cache, ikey, c->store, res, comment);
	}
	if (hit > 0)
		lade_remote_cache_remember(c->remote, c->variant, "", ikey, res,
		                           lade_compression_describe(lo->compression, lo->level),
		                           comment);
	return hit > 0 ? hit : 0;
}

int build_layer_write(struct build_ctx *c, struct lade_layer *layer,
                      const struct lade_layer_options *lo, const char *ikey,
                      struct lade_layer_result *res, bool *reused, bool *registry,
                      struct lade_error **err)
{
	*registry = false;
	if (c->remote == NULL)
		return lade_layer_write_cached(c->cache, layer, lo, c->store, res, reused, err);
	const char *comment = lade_layer_comment(layer);
	char key[65];
	if (lade_cache_key(c->cache, layer, lo, key, err) < 0)
		return -1;
	*reused = false;
	bool remote_hit = false;
	if (lade_cache_lookup(c->cache, key, lo, c->store, comment, res) == 1) {
		*reused = true;
	} else if (lade_remote_cache_looks_up(c->remote) &&
	           lade_remote_cache_lookup(c->remote, key, lo, c->store, res) == 1) {
		*reused = remote_hit = true;
	} else if (lade_layer_write_cached_key(c->cache, key, layer, lo, c->store, res, reused,
	                                       err) < 0) {
		return -1;
	}
	/* the input key becomes a local entry too, so the next build skips the install; a layer
	 * fetched from the registry gets its content key's entry */
	bool local = lade_store_has(c->store, res->digest);
	if (ikey && *ikey && local)
		lade_cache_record(c->cache, ikey, c->store, res, comment);
	if (remote_hit && local)
		lade_cache_record(c->cache, key, c->store, res, comment);
	*registry = remote_hit;
	lade_remote_cache_remember(c->remote, c->variant, key, ikey, res,
	                           lade_compression_describe(lo->compression, lo->level), comment);
	return 0;
}

int build_remote_publish(struct build_ctx *c, const char *blob_dir, const char *name,
                         struct lade_error **err)
{
	if (c->remote == NULL)
		return 0;
	return lade_remote_cache_publish(c->remote, blob_dir, name, err);
}

/* --push-only: the images are assembled in a private layout in the cache directory (where the
 * layer cache's blobs are, so they are linked rather than copied), pushed, and removed. It is
 * made while the cache's lock is held, so lade_cache_open() can remove the staging layouts of
 * builds that died. Layers found in a --cache-from repository never enter it. */
int build_push_only_staging(const struct lade_build_options *o, struct lade_cache *cache,
                            char **staging, struct lade_error **err)
{
	const char *opt = o->cache_dir ? o->cache_dir : getenv("LADE_CACHE_DIR");
	_cleanup_free_ char *dir = cache         ? xstrdup(lade_cache_dir(cache))
	                           : opt && *opt ? xstrdup(opt)
	                                         : lade_store_default_dir(err);
	if (dir == NULL || lade_mkdir_p(dir, err) < 0)
		return -1;
	*staging = lade_path_join(dir, LADE_CACHE_STAGING_PREFIX "XXXXXX");
	if (mkdtemp(*staging) == NULL)
		return lade_error_set(err, errno, "cannot create a staging layout in %s", dir);
	return 0;
}

void build_staging_removep(char **staging)
{
	_cleanup_error_ struct lade_error *ignored = NULL;
	if (*staging)
		(void)lade_remove_tree(*staging, &ignored);
	free(*staging);
}
