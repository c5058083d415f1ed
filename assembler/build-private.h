/* lade — what build.c shares with the files that help it (build-remote.c). Internal to
 * assembler/. */
#ifndef LADE_ASSEMBLER_BUILD_PRIVATE_H
#define LADE_ASSEMBLER_BUILD_PRIVATE_H

#include "remote-cache.h"
#include "lade/build.h"
#include "lade/cache.h"
#include "lade/compress.h"
#include "lade/lazy.h"
#include "lade/prepare.h"
#include "lade/plan.h"
#include "lade/recipe.h"
#include "lade/sbom.h"
#include "lade/store.h"

struct build_ctx {
	const struct lade_build_options *o;
	struct lade_store *store;
	enum lade_compression compression;
	int64_t epoch;
	struct lade_cache *cache; /* NULL: --no-cache */
	uint64_t cache_max;       /* trim the cache to this after the build; 0: no */
	struct lade_build_compilers *compilers;
	char *key_extra; /* the image's bytecode compiler ("python compiler …"), for cache keys */
	enum lade_lazy lazy; /* the image's lazy-pull format (per variant) */
	char **prefetch;     /* its prefetch globs */
	/* --sbom: the app files of the image being built (reset per image) */
	struct lade_sbom_file *sbom_files;
	char **sbom_strs;
	size_t n_sbom_files, sbom_files_alloc;
	char *sbom_json;         /* the last image's document, for --sbom-out */
	const char *shown;       /* the output as `lade inspect` names it (archive: TYPE:FILE) */
	struct lade_error *over; /* a budget exceeded: the layout is written, the build fails */
	/* --cache-from / --cache-to (NULL: neither, or --offline), and what the image being
	 * built is, for the input keys and the published index */
	struct lade_remote_cache *remote;
	struct lade_registry_options ro; /* what the remote cache's requests use */
	const struct lade_recipe *first; /* the first recipe load (cache.from, cache.to, name) */
	const char *variant, *platform, *base_digest;
	size_t n_base_layers;
};

void build_emit(const struct build_ctx *c, const struct lade_build_event *ev);
/* Whether o asks for variant (no --variant: every one). */
bool build_wanted(const struct lade_build_options *o, const char *variant);
/* build-compilers.c: the started helper for py's compiler and version, or NULL. Borrowed. */
struct lade_pyc_compiler *build_compiler_for(const struct lade_build_compilers *s,
                                             const struct lade_recipe_python *py);
void build_note(const struct build_ctx *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* build-remote.c: the registry cache in the build (remote-cache.h) */
int build_remote_open(struct build_ctx *c, const struct lade_recipe *first,
                      struct lade_error **err);
/* The input key of a planned layer into out, "" when it has none (files items, a split layer,
 * no registry cache). */
int build_input_key(struct build_ctx *c, const struct lade_recipe *r, const struct lade_py_plan *p,
                    size_t has_skel, const struct lade_planned_layer *pl,
                    const struct lade_layer_options *lo, char out[65], struct lade_error **err);
/* The layer of input key ikey from the local cache (1), else a --cache-from repository (2),
 * with *res (nothing installed); 0: not found. */
int build_take_by_input_key(struct build_ctx *c, const char *ikey,
                            const struct lade_layer_options *lo, const char *comment,
                            struct lade_layer_result *res);
/* Write a layer: the local cache, then --cache-from (by content key: *registry), else built;
 * recorded
 * under ikey too ("" or NULL: none) and remembered for --cache-to. */
int build_layer_write(struct build_ctx *c, struct lade_layer *layer,
                      const struct lade_layer_options *lo, const char *ikey,
                      struct lade_layer_result *res, bool *reused, bool *registry,
                      struct lade_error **err);
/* --cache-to, after the push: blobs from blob_dir when the registry lacks them. */
int build_remote_publish(struct build_ctx *c, const char *blob_dir, const char *name,
                         struct lade_error **err);
/* --push-only: a staging layout DIR/push-XXXXXX in the cache directory (*staging, new), made
 * while the cache's lock is held; removed by build_staging_removep. */
int build_push_only_staging(const struct lade_build_options *o, struct lade_cache *cache,
                            char **staging, struct lade_error **err);
void build_staging_removep(char **staging);

#endif
