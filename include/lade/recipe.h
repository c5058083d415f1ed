/* lade — recipe v1: YAML (libyaml) parsed into a node tree with line:column marks, variant
 * overlays applied (maps merge key by key, lists replace), then validated into struct
 * lade_recipe. Every error is "FILE:LINE:COLUMN: what is wrong" — unknown keys, wrong types,
 * bad values, missing files. docs/recipe.md documents every key. */
#ifndef LADE_RECIPE_H
#define LADE_RECIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lade/base.h"
#include "lade/error.h"
#include "lade/image.h"

/* kind from base.h: LADE_BASE_OCI's ref is an absolute layout dir, LADE_BASE_DOCKER_ARCHIVE's an
 * absolute tar path. */
struct lade_recipe_base {
	enum lade_base_kind kind;
	char *ref;
	char *tag;
	int line, column; /* where the base was given, for later errors */
};

struct lade_recipe_files {
	char *src;      /* absolute host path (resolved against the recipe directory), lexical:
	                 * its last component names a copied file, as COPY does */
	char *src_real; /* src with every symlink resolved (realpath): what is read */
	bool outside_context; /* src_real is not inside the recipe's build context */
	char *src_text;       /* as written, for messages */
	char *dst;            /* absolute image path as written, e.g. "/app" */
	char **exclude;       /* NULL-terminated globs, may be NULL */
	bool has_owner;
	uint32_t uid, gid;
	bool has_mode;
	uint32_t mode;
	bool dockerignore; /* honour SRC/.dockerignore (default true) */
	int line, column;
};

struct lade_recipe_python {
	bool present;
	char *interpreter; /* absolute path inside the base */
	char *version;     /* "3.11" */
	char *venv;        /* absolute image path, NULL when site_packages_system */
	bool site_packages_system;
	char *lock;        /* absolute host path */
	char **wheelhouse; /* NULL-terminated absolute host dirs, in search order */
	char **exclude;    /* NULL-terminated globs over installed paths */
	bool compile;      /* python.compile: .pyc files as pip writes them (default true) */
	char *compiler;    /* python.compiler: host interpreter (path, or name on PATH), or NULL */
	int compiler_line, compiler_column;
	int optimize; /* python.optimize: 0 (default), 1, 2 */
	int line, column;
};

struct lade_recipe_group {
	char *name;
	char **packages; /* NULL-terminated globs over normalised distribution names, or NULL */
	char **files;    /* NULL-terminated image paths, or NULL */
};

struct lade_recipe_layers {
	uint32_t max_layers;      /* default 60 */
	uint64_t max_layer_size;  /* default 4 GiB */
	uint64_t split_threshold; /* default 64 MiB */
	struct lade_recipe_group *groups;
	size_t n_groups;
};

struct lade_recipe_output {
	char *dir;           /* absolute host path; NULL when not given */
	char *format;        /* "oci" (default) | "oci-archive" | "docker-archive" */
	char *compression;   /* "gzip" (default) | "zstd" | "none" */
	char *sbom;          /* "none" (default) | "spdx" | "cyclonedx" */
	char *lazy;          /* "none" (default) | "estargz": lazy-pull layer format */
	char **prefetch;     /* globs of image paths to put before the eStargz landmark, on top
	                      * of lade's defaults (NULL-terminated; NULL: none) */
	uint64_t max_size;   /* budget for config + layers (compressed), 0: none */
	char *max_size_text; /* max-size as written ("500MB"), for messages; NULL: none */
};

struct lade_recipe {
	char *path;    /* absolute recipe file path */
	char *dir;     /* its directory */
	char *context; /* the build context (`context:`, default dir), every symlink resolved:
	                * files[].src must resolve inside it (lade build --allow-outside-context) */
	char *name;
	char *tag;     /* default "latest" */
	char *variant; /* the variant applied, or NULL */
	struct lade_recipe_base base;
	char **platforms; /* NULL-terminated, default {"linux/amd64"} */
	char *libc;       /* "glibc-2.36" / "musl-1.2" or NULL (read from base) */
	struct lade_recipe_python python;
	struct lade_recipe_files *files;
	size_t n_files;
	struct lade_recipe_layers layers;
	struct lade_config_spec config;
	struct lade_kv *annotations;
	size_t n_annotations;
	struct lade_recipe_output output;
	uint64_t cache_max_size; /* cache.max-size: trim the layer cache after a build; 0: no */
	char *cache_to;          /* cache.to: registry repository to publish layer mappings to */
	char **cache_from;       /* cache.from: repositories to look layers up in, or NULL */
	/* variants declared in the file (names in file order), and which one is the default. */
	char **variant_names;  /* NULL-terminated or NULL */
	char *default_variant; /* NULL if none marked */
};

/* Parse and validate the recipe at `path`. With `variant` NULL and the recipe declaring no
 * variants, the top level is the recipe; with `variant` set, that overlay is applied first
 * (unknown variant: error listing the declared ones). Relative paths are resolved against the
 * recipe's directory; `files[].src` must exist (whether it resolves inside the build context is
 * recorded in outside_context, the build decides). Limits against hostile input: file size
 * (1 MiB), nesting depth (32), aliases are refused. *out is owned by the caller. */
int lade_recipe_load(const char *path, const char *variant, struct lade_recipe **out,
                     struct lade_error **err);
void lade_recipe_free(struct lade_recipe *r);
void lade_recipe_freep(struct lade_recipe **r);

/* Only list the variants of the recipe at `path` (NULL-terminated, file order; NULL when
 * none) and the default one (NULL when none is marked). */
int lade_recipe_variants(const char *path, char ***names, char **default_name,
                         struct lade_error **err);

#endif
