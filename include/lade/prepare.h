/* lade — the Python part of an image before any layer is written: the lock read, the wheels
 * selected for the target (PEP 425 tags of the base's interpreter and libc), opened, checked
 * for a complete dependency closure, and the install scheme (a venv, or the base's own
 * site-packages with distributions it already holds dropped, as pip does). */
#ifndef LADE_PREPARE_H
#define LADE_PREPARE_H

#include <stdbool.h>
#include <stddef.h>
#include "lade/base.h"
#include "lade/error.h"
#include "lade/install.h"
#include "lade/lock.h"
#include "lade/select.h"
#include "lade/statcache.h"
#include "lade/store.h"
#include "lade/tags.h"
#include "lade/tree.h"
#include "lade/wheel.h"

/* What the recipe asks for (borrowed; the python layer takes no recipe struct). */
struct lade_py_spec {
	const char *recipe_path; /* for messages: "PATH:LINE:COLUMN: python …" */
	int line, column;        /* where python: is */
	const char *interpreter; /* absolute path inside the base */
	const char *version;     /* "3.11" */
	const char *venv;        /* absolute image path; ignored with site_packages_system */
	bool site_packages_system;
	const char *lock;        /* absolute host path */
	char *const *wheelhouse; /* NULL-terminated absolute host dirs */
	char *const *exclude;    /* NULL-terminated globs, may be NULL */
	const char *libc;        /* the recipe's libc:, else NULL */
	/* Known wheel hashes (the layer cache's stat cache), may be NULL: every wheel is hashed. */
	struct lade_stat_cache *hashes;
	/* Per-wheel size limits (the builder's policy); NULL: lade_wheel_limits_default. */
	const struct lade_wheel_limits *wheel_limits;
	/* Notes for the user (lock lines ignored, distributions the base has), may be NULL. */
	void (*note)(void *ctx, const char *text);
	void *note_ctx;
};

/* The prepared plan. Big distributions get a layer each, the rest share one layer with the
 * venv skeleton (that is build.c's business); the wheels stay open until the layers are
 * written. Release with lade_py_plan_release (also after a failed lade_py_prepare). */
struct lade_py_plan {
	struct lade_lock *lock;
	struct lade_selected *sel;
	size_t n_sel;
	struct lade_wheel **wheels; /* n_sel */
	struct lade_install_scheme scheme;
	bool has_scheme;
	char **env; /* "KEY=value" for the config (venv only), NULL-terminated or NULL */
};

/* The wheel tag target of the image: the interpreter checked to exist in the base, the libc
 * from the spec, else base_libc (cached base facts), else detected from the base's layers. */
int lade_py_target(const struct lade_py_spec *spec, const char *platform,
                   const struct lade_base_image *base, struct lade_store *store,
                   const struct lade_tree *tree, const char *base_libc, struct lade_target *t,
                   struct lade_error **err);
/* The plan for target T (from lade_py_target). */
int lade_py_prepare(const struct lade_py_spec *spec, const struct lade_target *t,
                    const struct lade_base_image *base, const struct lade_tree *tree,
                    struct lade_py_plan *p, struct lade_error **err);
void lade_py_plan_release(struct lade_py_plan *p);

/* The bytes a wheel installs (sum of its members' uncompressed sizes). */
uint64_t lade_wheel_installed_size(const struct lade_wheel *w);

#endif
