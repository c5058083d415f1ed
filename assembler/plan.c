/* lade — the layer planner (see include/lade/plan.h for the rules). */
#include <inttypes.h>
#include <string.h>

#include "lade/plan.h"
#include "lade/util.h"

#define DEFAULT_MAX_LAYERS      60u
#define HARD_MAX_LAYERS         127u
#define DEFAULT_MAX_LAYER_SIZE  (4ull << 30)
#define DEFAULT_SPLIT_THRESHOLD (64ull << 20)
#define REST_NAME               "python packages"

/* Rarely changing and large: they go lowest so that an upgrade of a small, often bumped
 * distribution above them does not invalidate them in a runtime's layer cache. */
static const char *const stable_dists[] = {
        "torch", "nvidia-*", "triton",  "tensorflow*", "jax*",         "onnxruntime*",
        "scipy", "numpy",    "pyarrow", "pandas",      "scikit-learn", "opencv*",
};

struct work {
	struct lade_buf name;
	size_t *units;
	size_t n, alloc;
	uint64_t size;
	size_t key; /* representative unit for the order of distribution layers */
};

struct work_list {
	struct work *w;
	size_t n, alloc;
};

static void work_list_release(struct work_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		lade_buf_release(&l->w[i].name);
		free(l->w[i].units);
	}
	free(l->w);
	l->w = NULL;
	l->n = l->alloc = 0;
}

static struct work *work_push(struct work_list *l, const char *name)
{
	lade_grow(&l->w, sizeof(*l->w), l->n + 1, &l->alloc);
	struct work *w = &l->w[l->n++];
	memset(w, 0, sizeof(*w));
	lade_buf_init(&w->name);
	lade_buf_adds(&w->name, name);
	return w;
}

static void work_add(struct work *w, const struct lade_plan_unit *units, size_t u)
{
	lade_grow(&w->units, sizeof(*w->units), w->n + 1, &w->alloc);
	w->units[w->n++] = u;
	w->size += units[u].size;
}

static size_t stable_rank(const char *name)
{
	for (size_t i = 0; i < LADE_ARRAY_SIZE(stable_dists); i++)
		if (lade_glob_match(stable_dists[i], name))
			return i;
	return LADE_ARRAY_SIZE(stable_dists);
}

/* The order of distributions: most stable first, then largest, then by name. */
static int dist_order(const struct lade_plan_unit *a, const struct lade_plan_unit *b)
{
	size_t ra = stable_rank(a->name), rb = stable_rank(b->name);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* qsort_r (glibc, musl >= 1.2.3): the planner keeps no global state. */
static int by_name(const void *a, const void *b, void *ctx)
{
	const struct lade_plan_unit *units = ctx;
	const struct lade_plan_unit *x = &units[*(const size_t *)a];
	const struct lade_plan_unit *y = &units[*(const size_t *)b];
	int c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return 0;
}

static int by_dist_order(const void *a, const void *b, void *ctx)
{
	const struct lade_plan_unit *units = ctx;
	const struct work *x = a, *y = b;
	return dist_order(&units[x->key], &units[y->key]);
}

static ssize_t group_of_dist(const struct lade_recipe_layers *cfg, const char *name)
{
	for (size_t g = 0; cfg && g < cfg->n_groups; g++)
		for (char **p = cfg->groups[g].packages; p && *p; p++)
			if (lade_glob_match(*p, name))
				return (ssize_t)g;
	return -1;
}

static ssize_t group_of_files(const struct lade_recipe_layers *cfg, const char *dst)
{
	_cleanup_error_ struct lade_error *ignored = NULL;
	_cleanup_free_ char *rel = lade_path_normalize(dst ? dst : "", &ignored);
	if (rel == NULL)
		return -1;
	for (size_t g = 0; cfg && g < cfg->n_groups; g++)
		for (char **p = cfg->groups[g].files; p && *p; p++)
			if (lade_glob_match(*p, rel))
				return (ssize_t)g;
	return -1;
}

static int check_groups(const struct lade_recipe_layers *cfg, struct lade_error **err)
{
	for (size_t g = 0; cfg && g < cfg->n_groups; g++) {
		const struct lade_recipe_group *gr = &cfg->groups[g];
		char **lists[] = {gr->packages, gr->files};
		for (size_t k = 0; k < LADE_ARRAY_SIZE(lists); k++)
			for (char **p = lists[k]; p && *p; p++)
				if (!lade_glob_valid(*p))
					return lade_error_set(
					        err, 0, "layers: group %s: invalid pattern '%s'",
					        gr->name ? gr->name : "(unnamed)", *p);
	}
	return 0;
}

static uint64_t parts_of(uint64_t size, uint64_t max)
{
	return size <= max ? 1 : (size + max - 1) / max;
}

static uint64_t list_parts(const struct work *w, size_t n, uint64_t max)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += parts_of(w[i].size, max);
	return t;
}

/* Merge the adjacent pair in [from, to) with the smallest combined size whose merge lowers the
 * layer count (first such pair on ties). Returns false when no pair helps. */
static bool merge_smallest(struct work_list *l, size_t from, size_t to, uint64_t max)
{
	size_t best = SIZE_MAX;
	uint64_t best_size = 0;
	for (size_t i = from; i + 1 < to; i++) {
		const struct work *a = &l->w[i], *b = &l->w[i + 1];
		uint64_t sum = a->size + b->size;
		if (parts_of(sum, max) >= parts_of(a->size, max) + parts_of(b->size, max))
			continue;
		if (best == SIZE_MAX || sum < best_size) {
			best = i;
			best_size = sum;
		}
	}
	if (best == SIZE_MAX)
		return false;

	struct work *a = &l->w[best], *b = &l->w[best + 1];
	lade_buf_addf(&a->name, " + %s", b->name.data);
	lade_grow(&a->units, sizeof(*a->units), a->n + b->n, &a->alloc);
	memcpy(a->units + a->n, b->units, b->n * sizeof(*b->units));
	a->n += b->n;
	a->size += b->size;
	lade_buf_release(&b->name);
	free(b->units);
	memmove(b, b + 1, (l->n - best - 2) * sizeof(*b));
	l->n--;
	return true;
}

void lade_plan_free(struct lade_plan *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_layers; i++) {
		free(p->layers[i].name);
		free(p->layers[i].units);
	}
	free(p->layers);
	free(p);
}

void lade_plan_freep(struct lade_plan **p)
{
	lade_plan_free(*p);
	*p = NULL;
}

size_t lade_plan_layer_parts(const struct lade_plan *p, const struct lade_planned_layer *l)
{
	return (size_t)parts_of(l->size, p->max_layer_size);
}

/* Distribution layers (groups, big ones, then the shared rest) appended to l. */
static void plan_dists(const struct lade_plan_unit *units, size_t n_units,
                       const struct lade_recipe_layers *cfg, uint64_t threshold,
                       struct work_list *l)
{
	_cleanup_free_ size_t *dists = xcalloc(n_units ? n_units : 1, sizeof(*dists));
	size_t n_dists = 0;
	for (size_t i = 0; i < n_units; i++)
		if (units[i].kind == LADE_UNIT_DIST)
			dists[n_dists++] = i;
	if (n_dists > 1)
		qsort_r(dists, n_dists, sizeof(*dists), by_name, (void *)units);

	size_t n_groups = cfg ? cfg->n_groups : 0;
	_cleanup_free_ ssize_t *group_layer = xcalloc(n_groups ? n_groups : 1, sizeof(ssize_t));
	for (size_t g = 0; g < n_groups; g++)
		group_layer[g] = -1;

	struct work rest = {0};
	lade_buf_init(&rest.name);
	lade_buf_adds(&rest.name, REST_NAME);
	for (size_t i = 0; i < n_units; i++)
		if (units[i].kind == LADE_UNIT_SKELETON)
			work_add(&rest, units, i);

	for (size_t k = 0; k < n_dists; k++) {
		size_t u = dists[k];
		ssize_t g = group_of_dist(cfg, units[u].name);
		if (g >= 0) {
			if (group_layer[g] < 0) {
				const char *gname = cfg->groups[g].name;
				group_layer[g] = (ssize_t)l->n;
				work_push(l, gname ? gname : units[u].name)->key = u;
			}
			struct work *w = &l->w[group_layer[g]];
			/* Placed by its largest member (by name on ties: dists are in name
			 * order here). */
			if (units[u].size > units[w->key].size)
				w->key = u;
			work_add(w, units, u);
		} else if (units[u].size >= threshold) {
			struct work *w = work_push(l, units[u].name);
			w->key = u;
			work_add(w, units, u);
		} else {
			work_add(&rest, units, u);
		}
	}
	if (l->n > 1)
		qsort_r(l->w, l->n, sizeof(*l->w), by_dist_order, (void *)units);

	if (rest.n == 0) {
		lade_buf_release(&rest.name);
		free(rest.units);
		return;
	}
	lade_grow(&l->w, sizeof(*l->w), l->n + 1, &l->alloc);
	l->w[l->n++] = rest;
}

/* FILES layers in input order; a pinned group sits at its last member. */
static void plan_files(const struct lade_plan_unit *units, size_t n_units,
                       const struct lade_recipe_layers *cfg, struct work_list *l)
{
	size_t n_groups = cfg ? cfg->n_groups : 0;
	_cleanup_free_ ssize_t *group = xcalloc(n_units ? n_units : 1, sizeof(*group));
	_cleanup_free_ size_t *last = xcalloc(n_groups ? n_groups : 1, sizeof(*last));
	for (size_t i = 0; i < n_units; i++) {
		group[i] = -1;
		if (units[i].kind != LADE_UNIT_FILES)
			continue;
		group[i] = group_of_files(cfg, units[i].files_dst);
		if (group[i] >= 0)
			last[group[i]] = i;
	}
	for (size_t i = 0; i < n_units; i++) {
		if (units[i].kind != LADE_UNIT_FILES)
			continue;
		ssize_t g = group[i];
		if (g < 0) {
			_cleanup_free_ char *name =
			        xasprintf("files %s",
			                  units[i].files_dst ? units[i].files_dst : units[i].name);
			work_add(work_push(l, name), units, i);
			continue;
		}
		if (last[g] != i)
			continue;
		const char *gname = cfg->groups[g].name;
		struct work *w = work_push(l, gname ? gname : units[i].name);
		for (size_t j = 0; j <= i; j++)
			if (units[j].kind == LADE_UNIT_FILES && group[j] == g)
				work_add(w, units, j);
	}
}

int lade_plan_layers(const struct lade_plan_unit *units, size_t n_units,
                     const struct lade_recipe_layers *cfg, size_t n_base_layers,
                     struct lade_plan **out, struct lade_error **err)
{
	if (check_groups(cfg, err) < 0)
		return -1;
	uint64_t max_size =
	        cfg && cfg->max_layer_size ? cfg->max_layer_size : DEFAULT_MAX_LAYER_SIZE;
	uint64_t threshold =
	        cfg && cfg->split_threshold ? cfg->split_threshold : DEFAULT_SPLIT_THRESHOLD;
	uint64_t limit = cfg && cfg->max_layers ? cfg->max_layers : DEFAULT_MAX_LAYERS;
	if (limit > HARD_MAX_LAYERS)
		limit = HARD_MAX_LAYERS;

	_cleanup_(work_list_release) struct work_list dl = {0};
	_cleanup_(work_list_release) struct work_list fl = {0};
	plan_dists(units, n_units, cfg, threshold, &dl);
	plan_files(units, n_units, cfg, &fl);

	for (;;) {
		uint64_t total = n_base_layers + list_parts(dl.w, dl.n, max_size) +
		                 list_parts(fl.w, fl.n, max_size);
		if (total <= limit)
			break;
		if (merge_smallest(&dl, 0, dl.n, max_size) ||
		    merge_smallest(&fl, 0, fl.n, max_size))
			continue;
		return lade_error_set(
		        err, 0,
		        "too many layers: the base image has %zu, max-layers allows %" PRIu64
		        " in total, and the planned layers need %" PRIu64 " even merged",
		        n_base_layers, limit, total - n_base_layers);
	}

	struct lade_plan *p = xzalloc(sizeof(*p));
	p->max_layer_size = max_size;
	p->n_layers = dl.n + fl.n;
	p->layers = xcalloc(p->n_layers ? p->n_layers : 1, sizeof(*p->layers));
	struct work_list *lists[] = {&dl, &fl};
	size_t k = 0;
	for (size_t li = 0; li < LADE_ARRAY_SIZE(lists); li++)
		for (size_t i = 0; i < lists[li]->n; i++) {
			struct work *w = &lists[li]->w[i];
			struct lade_planned_layer *pl = &p->layers[k++];
			pl->name = lade_buf_detach(&w->name, NULL);
			pl->units = steal_pointer(&w->units);
			pl->n_units = w->n;
			pl->size = w->size;
			pl->split = w->size > max_size;
		}
	*out = p;
	return 0;
}
