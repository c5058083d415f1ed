/* lade — the layer planner: which units (distributions, the venv skeleton, recipe files items)
 * go into which layer, in which order. Pure logic: no I/O, no allocation failure paths.
 *
 * Rules, in order:
 *  - distributions first, most stable first: a fixed list of well-known, rarely changing and
 *    large distributions (torch, nvidia-*, triton, tensorflow*, jax*, …, scipy, numpy, …), then
 *    by installed size (largest first), ties by name;
 *  - a `layers.groups` entry with `packages` globs takes every matching distribution (the first
 *    group that matches wins) into one layer named after the group, placed by its largest
 *    member;
 *  - every other distribution of at least split_threshold installed bytes gets a layer of its
 *    own, named after the distribution: that layer depends on that distribution only, so an
 *    identical distribution in two variants (or two builds) gives a byte-identical layer;
 *  - the remaining distributions share one "python packages" layer with the SKELETON units;
 *  - then the FILES units in recipe (input) order, one layer each ("files /app") unless a group
 *    with `files` patterns pins several together; a pinned group sits where its last member
 *    is, so the last files item (app code) stays the last layer;
 *  - a layer larger than max_layer_size is flagged `split`: the caller splits its entries with
 *    lade_layer_split() and it counts as ceil(size / max_layer_size) layers;
 *  - the base layers plus the planned ones must fit in max_layers (default 60, never more than
 *    127): the adjacent pair of distribution layers with the smallest combined size is merged
 *    ("a + b") until it fits, then adjacent files layers; when no merge can help it is an error.
 *    Merging is the one rule that makes a layer depend on its neighbours.
 * Distribution units are sorted by name before planning, so the plan does not depend on the
 * input order; FILES units keep their input order (the recipe's). */
#ifndef LADE_PLAN_H
#define LADE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lade/error.h"
#include "lade/recipe.h"

enum lade_plan_unit_kind {
	LADE_UNIT_DIST = 1, /* one installed distribution */
	LADE_UNIT_SKELETON, /* the venv skeleton and generated files */
	LADE_UNIT_FILES,    /* one recipe `files:` item */
};

struct lade_plan_unit {
	const char *name; /* normalised distribution name, or e.g. "files:/app" (not owned) */
	enum lade_plan_unit_kind kind;
	uint64_t size;         /* installed bytes */
	const char *files_dst; /* LADE_UNIT_FILES: the image destination ("/app"), else NULL */
};

struct lade_planned_layer {
	char *name;    /* owned: for the history ("torch", "python packages", "files /app") */
	size_t *units; /* owned: indexes into the input units array */
	size_t n_units;
	uint64_t size; /* sum of the units' sizes */
	bool split;    /* size > max_layer_size: the caller splits it (lade_layer_split) */
};

struct lade_plan {
	struct lade_planned_layer *layers; /* in image order, after the base layers */
	size_t n_layers;
	uint64_t max_layer_size; /* the effective limit (defaults applied), for the splits */
};

/* Plan the layers of `units` (n_units, any order) under `cfg` (NULL: every default; zero
 * fields take their defaults) on top of a base image of `n_base_layers` layers.
 * *out is owned by the caller (lade_plan_free). Errors: a group pattern that is not a valid
 * glob (names the group), or the layers cannot fit in max_layers even after every possible
 * merge (names the counts). */
int lade_plan_layers(const struct lade_plan_unit *units, size_t n_units,
                     const struct lade_recipe_layers *cfg, size_t n_base_layers,
                     struct lade_plan **out, struct lade_error **err);
void lade_plan_free(struct lade_plan *p);
void lade_plan_freep(struct lade_plan **p);

/* How many layers a planned layer becomes (1, or ceil(size / max_layer_size) when split). */
size_t lade_plan_layer_parts(const struct lade_plan *p, const struct lade_planned_layer *l);

#endif
