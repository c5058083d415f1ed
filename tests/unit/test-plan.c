/* Unit tests for the layer planner (assembler/plan.c). */
#include <stdlib.h>
#include <string.h>

#include "lade/plan.h"
#include "lade/util.h"
#include "tap.h"

#define MiB (1024ull * 1024)

static struct lade_plan *plan(const struct lade_plan_unit *u, size_t n,
                              const struct lade_recipe_layers *cfg, size_t base)
{
	struct lade_plan *p = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_plan_layers(u, n, cfg, base, &p, &err) < 0) {
		printf("# plan failed: %s\n", err->msg);
		return NULL;
	}
	return p;
}

/* "name[unit,unit]|name[...]" with units by name, sorted inside a layer: a plan described
 * independently of the input order. */
static char *describe(const struct lade_plan *p, const struct lade_plan_unit *u)
{
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; p && i < p->n_layers; i++) {
		const struct lade_planned_layer *l = &p->layers[i];
		const char **names = xcalloc(l->n_units + 1, sizeof(*names));
		for (size_t k = 0; k < l->n_units; k++)
			names[k] = u[l->units[k]].name;
		for (size_t a = 1; a < l->n_units; a++)
			for (size_t k = a; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
				const char *t = names[k];
				names[k] = names[k - 1];
				names[k - 1] = t;
			}
		lade_buf_addf(&b, "%s%s[", i ? "|" : "", l->name);
		for (size_t k = 0; k < l->n_units; k++)
			lade_buf_addf(&b, "%s%s", k ? "," : "", names[k]);
		lade_buf_addf(&b, "]%s", l->split ? "!" : "");
		free(names);
	}
	return lade_buf_detach(&b, NULL);
}

static char *plan_error(const struct lade_plan_unit *u, size_t n,
                        const struct lade_recipe_layers *cfg, size_t base)
{
	struct lade_plan *p = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_plan_layers(u, n, cfg, base, &p, &err) == 0) {
		lade_plan_free(p);
		return xstrdup("(no error)");
	}
	ok(p == NULL, "no plan on error");
	return xstrdup(err->msg);
}

static const struct lade_plan_unit basic[] = {
        {"numpy", LADE_UNIT_DIST, 30 * MiB, NULL},
        {"files:/models", LADE_UNIT_FILES, 100 * MiB, "/models"},
        {"torch", LADE_UNIT_DIST, 800 * MiB, NULL},
        {"requests", LADE_UNIT_DIST, 1 * MiB, NULL},
        {"venv", LADE_UNIT_SKELETON, 10000, NULL},
        {"nvidia-cublas-cu12", LADE_UNIT_DIST, 400 * MiB, NULL},
        {"pillow", LADE_UNIT_DIST, 70 * MiB, NULL},
        {"aaa-big", LADE_UNIT_DIST, 900 * MiB, NULL},
        {"files:/app", LADE_UNIT_FILES, 1 * MiB, "/app"},
};
#define N_BASIC LADE_ARRAY_SIZE(basic)

static void test_defaults(void)
{
	_cleanup_(lade_plan_freep) struct lade_plan *p = plan(basic, N_BASIC, NULL, 3);
	ok(p != NULL, "default plan");
	if (p == NULL)
		return;
	_cleanup_free_ char *d = describe(p, basic);
	is_str(d,
	       "torch[torch]|nvidia-cublas-cu12[nvidia-cublas-cu12]|aaa-big[aaa-big]|"
	       "pillow[pillow]|python packages[numpy,requests,venv]|files /models[files:/models]|"
	       "files /app[files:/app]",
	       "stable list first, then by size, rest with the skeleton, files in recipe order");
	ok(p->layers[4].size == 31 * MiB + 10000, "rest layer size is the sum of its units");
	ok(p->layers[0].n_units == 1 && p->layers[0].units[0] == 2, "torch layer holds unit 2");
	ok(p->max_layer_size == 4096 * MiB, "default max layer size 4 GiB");
	ok(!p->layers[0].split && lade_plan_layer_parts(p, &p->layers[0]) == 1,
	   "800 MiB is not split by default");
}

static void test_threshold(void)
{
	struct lade_recipe_layers cfg = {.split_threshold = 30 * MiB};
	_cleanup_(lade_plan_freep) struct lade_plan *p = plan(basic, N_BASIC, &cfg, 0);
	_cleanup_free_ char *d = describe(p, basic);
	is_str(d,
	       "torch[torch]|nvidia-cublas-cu12[nvidia-cublas-cu12]|numpy[numpy]|aaa-big[aaa-big]|"
	       "pillow[pillow]|python packages[requests,venv]|files /models[files:/models]|"
	       "files /app[files:/app]",
	       "a dist of exactly the threshold gets its own layer, stable list before size");

	struct lade_recipe_layers high = {.split_threshold = 1000 * MiB};
	_cleanup_(lade_plan_freep) struct lade_plan *q = plan(basic, N_BASIC, &high, 0);
	_cleanup_free_ char *e = describe(q, basic);
	is_str(e,
	       "python packages[aaa-big,numpy,nvidia-cublas-cu12,pillow,requests,torch,venv]|"
	       "files /models[files:/models]|files /app[files:/app]",
	       "everything under the threshold shares one layer");
}

static void test_groups(void)
{
	char *cuda_pk[] = {"nvidia-*", NULL};
	char *torch_pk[] = {"torch", "triton", "requests", NULL};
	char *bad_pk[] = {"nvidia-cublas-cu12", NULL}; /* a later group never wins */
	struct lade_recipe_group groups[] = {
	        {.name = "cuda", .packages = cuda_pk},
	        {.name = "torch-stack", .packages = torch_pk},
	        {.name = "late", .packages = bad_pk},
	};
	struct lade_recipe_layers cfg = {.groups = groups, .n_groups = 3};
	_cleanup_(lade_plan_freep) struct lade_plan *p = plan(basic, N_BASIC, &cfg, 0);
	_cleanup_free_ char *d = describe(p, basic);
	is_str(d,
	       "torch-stack[requests,torch]|cuda[nvidia-cublas-cu12]|aaa-big[aaa-big]|"
	       "pillow[pillow]|python packages[numpy,venv]|files /models[files:/models]|"
	       "files /app[files:/app]",
	       "pinned groups take small members too and sit by their largest member");
	ok(p && p->layers[0].size == 801 * MiB, "group size sums its members");

	char *files_g[] = {"/models", "/data/**", NULL};
	struct lade_recipe_group fg[] = {{.name = "assets", .files = files_g}};
	struct lade_recipe_layers fcfg = {.groups = fg, .n_groups = 1};
	const struct lade_plan_unit fu[] = {
	        {"files:/data/x", LADE_UNIT_FILES, 5, "/data/x"},
	        {"files:/etc/conf", LADE_UNIT_FILES, 6, "/etc/conf"},
	        {"files:/models", LADE_UNIT_FILES, 7, "/models/"},
	        {"files:/app", LADE_UNIT_FILES, 8, "/app"},
	};
	_cleanup_(lade_plan_freep) struct lade_plan *q = plan(fu, 4, &fcfg, 0);
	_cleanup_free_ char *e = describe(q, fu);
	is_str(e,
	       "files /etc/conf[files:/etc/conf]|assets[files:/data/x,files:/models]|"
	       "files /app[files:/app]",
	       "a files group sits at its last member");
	ok(q && q->layers[1].units[0] == 0 && q->layers[1].units[1] == 2,
	   "files group members in recipe order");

	struct lade_recipe_group lastg[] = {{.name = "tail", .files = (char *[]){"/app", NULL}}};
	struct lade_recipe_layers lcfg = {.groups = lastg, .n_groups = 1};
	_cleanup_(lade_plan_freep) struct lade_plan *r = plan(fu, 4, &lcfg, 0);
	ok(r && r->n_layers == 4 && strcmp(r->layers[3].name, "tail") == 0,
	   "app code pinned in a group stays last");

	char *badpat[] = {"[abc", NULL};
	struct lade_recipe_group bg[] = {{.name = "broken", .packages = badpat}};
	struct lade_recipe_layers bcfg = {.groups = bg, .n_groups = 1};
	_cleanup_free_ char *msg = plan_error(basic, N_BASIC, &bcfg, 0);
	is_str(msg, "layers: group broken: invalid pattern '[abc'", "invalid group glob refused");
}

static void test_split_flag(void)
{
	struct lade_recipe_layers cfg = {.max_layer_size = 300 * MiB};
	_cleanup_(lade_plan_freep) struct lade_plan *p = plan(basic, N_BASIC, &cfg, 0);
	ok(p && p->layers[0].split && lade_plan_layer_parts(p, &p->layers[0]) == 3,
	   "800 MiB over a 300 MiB limit: split in 3");
	ok(p && p->layers[1].split && lade_plan_layer_parts(p, &p->layers[1]) == 2,
	   "400 MiB split in 2");
	ok(p && !p->layers[3].split, "70 MiB not split");

	/* Parts count against max-layers: 3 + 1 + files does not fit in 4. */
	const struct lade_plan_unit u[] = {
	        {"torch", LADE_UNIT_DIST, 300 * MiB, NULL},
	        {"files:/app", LADE_UNIT_FILES, 1, "/app"},
	};
	struct lade_recipe_layers tight = {.max_layer_size = 100 * MiB, .max_layers = 3};
	_cleanup_free_ char *msg = plan_error(u, 2, &tight, 0);
	is_str(msg,
	       "too many layers: the base image has 0, max-layers allows 3 in total, and the "
	       "planned layers need 4 even merged",
	       "split parts count against max-layers");
}

static void test_merging(void)
{
	struct lade_plan_unit u[10];
	char names[10][16];
	for (size_t i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "pkg-%c", (char)('a' + i));
		u[i] = (struct lade_plan_unit){names[i], LADE_UNIT_DIST, (i + 1) * 100 * MiB, NULL};
	}
	struct lade_recipe_layers cfg = {.max_layers = 6};
	_cleanup_(lade_plan_freep) struct lade_plan *p = plan(u, 10, &cfg, 2);
	ok(p && p->n_layers == 4, "10 layers merged down to 6 - 2 base");
	_cleanup_free_ char *d = describe(p, u);
	is_str(d,
	       "pkg-j[pkg-j]|pkg-i + pkg-h[pkg-h,pkg-i]|pkg-g + pkg-f[pkg-f,pkg-g]|"
	       "pkg-e + pkg-d + pkg-c + pkg-b + pkg-a[pkg-a,pkg-b,pkg-c,pkg-d,pkg-e]",
	       "the smallest adjacent layers merge first, the largest stay alone");
	uint64_t total = 0;
	for (size_t i = 0; p && i < p->n_layers; i++)
		total += p->layers[i].size;
	ok(total == 5500 * MiB, "merging keeps every byte");

	/* Files layers merge only when the dists are down to one. */
	const struct lade_plan_unit f[] = {
	        {"x", LADE_UNIT_DIST, 100 * MiB, NULL}, {"y", LADE_UNIT_DIST, 200 * MiB, NULL},
	        {"files:/a", LADE_UNIT_FILES, 1, "/a"}, {"files:/b", LADE_UNIT_FILES, 2, "/b"},
	        {"files:/c", LADE_UNIT_FILES, 3, "/c"},
	};
	struct lade_recipe_layers c3 = {.max_layers = 3};
	_cleanup_(lade_plan_freep) struct lade_plan *q = plan(f, 5, &c3, 0);
	_cleanup_free_ char *e = describe(q, f);
	is_str(e, "y + x[x,y]|files /a + files /b[files:/a,files:/b]|files /c[files:/c]",
	       "dists merged first, then the smallest files pair");

	/* One layer per kind must fit. */
	_cleanup_free_ char *msg =
	        plan_error(f, 5, &(struct lade_recipe_layers){.max_layers = 60}, 59);
	is_str(msg,
	       "too many layers: the base image has 59, max-layers allows 60 in total, and the "
	       "planned layers need 2 even merged",
	       "error when dists and files cannot both fit");
	_cleanup_free_ char *msg2 = plan_error(f, 5, NULL, 60);
	ok(strstr(msg2, "the base image has 60, max-layers allows 60") != NULL,
	   "default max-layers is 60");
	_cleanup_(lade_plan_freep) struct lade_plan *r = plan(f, 5, NULL, 58);
	ok(r && r->n_layers == 2, "58 base layers leave room for exactly two");
}

static void test_cap(void)
{
	struct lade_plan_unit u[150];
	char names[150][16];
	for (size_t i = 0; i < 150; i++) {
		snprintf(names[i], sizeof(names[i]), "d%03zu", i);
		u[i] = (struct lade_plan_unit){names[i], LADE_UNIT_DIST, 100 * MiB + i, NULL};
	}
	struct lade_recipe_layers cfg = {.max_layers = 200};
	_cleanup_(lade_plan_freep) struct lade_plan *p = plan(u, 150, &cfg, 0);
	ok(p && p->n_layers == 127, "never more than 127 layers (asked for 200)");
	_cleanup_(lade_plan_freep) struct lade_plan *q = plan(u, 150, &cfg, 7);
	ok(q && q->n_layers == 120, "127 includes the base layers");
	_cleanup_(lade_plan_freep) struct lade_plan *r = plan(u, 150, NULL, 0);
	ok(r && r->n_layers == 60, "default 60");
}

static void test_determinism(void)
{
	_cleanup_(lade_plan_freep) struct lade_plan *p = plan(basic, N_BASIC, NULL, 0);
	_cleanup_free_ char *want = describe(p, basic);
	struct lade_plan_unit u[N_BASIC];
	unsigned seed = 12345;
	bool all_same = true;
	for (int round = 0; round < 20; round++) {
		memcpy(u, basic, sizeof(u));
		/* Shuffle the distributions and the skeleton only: files order is meaningful. */
		for (size_t i = N_BASIC - 1; i > 0; i--) {
			seed = seed * 1103515245u + 12345u;
			size_t j = (seed >> 16) % (i + 1);
			if (u[i].kind == LADE_UNIT_FILES || u[j].kind == LADE_UNIT_FILES)
				continue;
			struct lade_plan_unit t = u[i];
			u[i] = u[j];
			u[j] = t;
		}
		_cleanup_(lade_plan_freep) struct lade_plan *q = plan(u, N_BASIC, NULL, 0);
		_cleanup_free_ char *got = describe(q, u);
		if (strcmp(got, want) != 0) {
			printf("# round %d: %s\n", round, got);
			all_same = false;
		}
	}
	ok(all_same, "shuffled input order gives the same plan");

	/* Same torch in two variants: the same single-unit layer. */
	const struct lade_plan_unit v1[] = {
	        {"torch", LADE_UNIT_DIST, 800 * MiB, NULL},
	        {"numpy", LADE_UNIT_DIST, 30 * MiB, NULL},
	};
	const struct lade_plan_unit v2[] = {
	        {"flask", LADE_UNIT_DIST, 3 * MiB, NULL},
	        {"zzz-huge", LADE_UNIT_DIST, 2000 * MiB, NULL},
	        {"torch", LADE_UNIT_DIST, 800 * MiB, NULL},
	};
	_cleanup_(lade_plan_freep) struct lade_plan *a = plan(v1, 2, NULL, 0);
	_cleanup_(lade_plan_freep) struct lade_plan *b = plan(v2, 3, NULL, 0);
	ok(a && b && strcmp(a->layers[0].name, "torch") == 0 &&
	           strcmp(b->layers[0].name, "torch") == 0 && a->layers[0].n_units == 1 &&
	           b->layers[0].n_units == 1,
	   "an identical distribution gets the same own layer in two variants");

	_cleanup_(lade_plan_freep) struct lade_plan *e = plan(NULL, 0, NULL, 5);
	ok(e && e->n_layers == 0, "no units, no layers");
}

int main(void)
{
	test_defaults();
	test_threshold();
	test_groups();
	test_split_flag();
	test_merging();
	test_cap();
	test_determinism();
	return tap_done();
}
