/* lade — the registry as the fleet's layer cache, for the build (--cache-from, --cache-to,
 * cache.from, cache.to). Internal to assembler/.
 *
 * A layer is looked up by two keys. The content key is the layer cache's (lade/cache.h: every
 * input byte, so the layer's entries must exist to compute it). The input key is for layers of
 * wheels and the venv skeleton only, and needs none of their bytes: the lade binary (its
 * sha256), the layer format, compression, level and compressor, the mtime, the bytecode
 * compiler, the platform and the base manifest digest (the base's directories give implicit
 * parents their metadata), the install scheme (paths, owner, excludes, optimisation level) and
 * each wheel's file name and locked sha256 (the lock pins its bytes; the wheel is still
 * selected and hashed against the lock before anything is looked up). A hit by the input key
 * installs nothing and compiles nothing: that is what makes a cold runner cheap.
 *
 * Look-up order: the local layer cache (by either key), then each --cache-from repository.
 * A hit there is used without downloading the blob when the image is pushed with --push-only:
 * the blob is proven present in the push target by HEAD, or mounted from the cache repository
 * (same registry only). Otherwise the blob is fetched into the output (verified). A mapping
 * whose blob is missing, of another size or media type is a note, and the layer is built. */
#ifndef LADE_ASSEMBLER_REMOTE_CACHE_H
#define LADE_ASSEMBLER_REMOTE_CACHE_H

#include <stdbool.h>
#include "lade/error.h"
#include "lade/layer.h"
#include "lade/registry.h"
#include "lade/store.h"

struct lade_remote_cache_options {
	char *const *from; /* NULL-terminated repositories, or NULL */
	const char *to;    /* or NULL */
	const char *push;  /* the --push REF, or NULL */
	bool push_only;    /* layers found need not be local: HEAD / mount in the push target */
	const struct lade_registry_options *ro; /* borrowed for the cache's life */
	void (*note)(void *ctx, const char *text);
	void *note_ctx;
};

struct lade_remote_cache;
/* Errors: a repository that is no valid reference or names a tag. */
int lade_remote_cache_new(const struct lade_remote_cache_options *o, struct lade_remote_cache **out,
                          struct lade_error **err);
void lade_remote_cache_free(struct lade_remote_cache *rc);
void lade_remote_cache_freep(struct lade_remote_cache **rc);
bool lade_remote_cache_looks_up(const struct lade_remote_cache *rc);

/* The input key (see above) over `parts` (NULL-terminated: the scheme and each unit, as the
 * build describes them), as 64 hex digits. -1 when lade cannot hash its own binary (then no
 * input keys are used; *err says why). */
int lade_remote_input_key(const struct lade_layer_options *lo, const char *platform,
                          const char *base_digest, char *const *parts, char out[65],
                          struct lade_error **err);

/* Look key up in the --cache-from repositories, in order. 1: *res holds the layer (media type
 * checked against lo's compression), its blob present in the push target (push_only) or
 * fetched into store; 0: not found (notes say why a mapping was not used). Never fails: a
 * registry that does not answer is a note. */
int lade_remote_cache_lookup(struct lade_remote_cache *rc, const char *key,
                             const struct lade_layer_options *lo, struct lade_store *store,
                             struct lade_layer_result *res);

/* Remember a layer of this build for --cache-to (keys: its content key and/or input key, "" for
 * none; found_remote: the layer came from a --cache-from repository). */
void lade_remote_cache_remember(struct lade_remote_cache *rc, const char *variant, const char *key,
                                const char *input_key, const struct lade_layer_result *res,
                                const char *compressor, const char *comment);

/* The base image's file index (build.c's base_facts: the tree of every base layer and its
 * libc) under key, 64 hex digits of the same key as the local bases/ entry: a cold runner then
 * decompresses no base layer. */
#define LADE_BASE_INDEX_TYPE "application/vnd.lade.base-index.v1+json"
/* From the --cache-from repositories, in order: 1 with the bytes appended to out, 0 (notes say
 * why a document was not used). */
int lade_remote_cache_get_base_index(struct lade_remote_cache *rc, const char *key, size_t max,
                                     struct lade_buf *out);
/* Publish text under key with --cache-to (copied). */
void lade_remote_cache_remember_base_index(struct lade_remote_cache *rc, const char *key,
                                           const char *text);

/* --cache-to: publish every remembered layer (blob present, mounted from the push target or
 * uploaded from blob_dir; then its mapping), then one index per variant tagged
 * "lade-cache-index-NAME[-VARIANT]". Done after the image is pushed. */
int lade_remote_cache_publish(struct lade_remote_cache *rc, const char *blob_dir,
                              const char *recipe_name, struct lade_error **err);

#endif
