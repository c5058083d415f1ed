/* lade — size budgets (see budget.h). The facts come from `lade inspect` over the written
 * layout (insight/), so the message shows what `lade inspect --by package` would: the bytes a
 * node pulls, the bytes it unpacks, and per distribution the installed bytes from RECORD. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "lade/inspect.h"
#include "lade/util.h"

#define BUDGET_TOP 5

static uint64_t image_pull_size(const struct lade_build_image *im)
{
	uint64_t n = im->config_size;
	for (size_t i = 0; i < im->n_layers; i++)
		n += im->layers[i].size;
	return n;
}

static const json_t *find_image(const json_t *report, const char *digest)
{
	size_t i;
	const json_t *im;
	json_array_foreach(json_object_get(report, "images"), i, im)
	{
		const char *d = json_string_value(json_object_get(im, "digest"));
		if (d && strcmp(d, digest) == 0)
			return im;
	}
	return NULL;
}

static uint64_t jsize(const json_t *o, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(o, key));
}

static int cmp_layer_size(const void *a, const void *b)
{
	uint64_t x = jsize(*(const json_t *const *)a, "size");
	uint64_t y = jsize(*(const json_t *const *)b, "size");
	return x == y ? 0 : x > y ? -1 : 1;
}

/* The biggest layers (compressed, unpacked, what made them) of the inspected image. */
static void add_layers(const json_t *im, struct lade_buf *msg)
{
	const json_t *layers = json_object_get(im, "layers");
	size_t n = json_array_size(layers);
	_cleanup_free_ const json_t **v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		json_t *l = json_array_get(layers, i);
		json_object_set_new(l, "index", json_integer((json_int_t)i + 1));
		v[i] = l;
	}
	qsort(v, n, sizeof(*v), cmp_layer_size);
	lade_buf_adds(msg, "\n  biggest layers (compressed, unpacked):");
	for (size_t i = 0; i < n && i < BUDGET_TOP; i++) {
		char b1[32], b2[32];
		const char *what = json_string_value(json_object_get(v[i], "comment"));
		if (what == NULL)
			what = json_string_value(json_object_get(v[i], "created_by"));
		lade_buf_addf(msg, "\n    %10s %10s  layer %" JSON_INTEGER_FORMAT " %s",
		              lade_human_size(jsize(v[i], "size"), b1, sizeof(b1)),
		              lade_human_size(jsize(v[i], "uncompressed_size"), b2, sizeof(b2)),
		              json_integer_value(json_object_get(v[i], "index")), what ? what : "");
	}
}

/* The biggest Python distributions by installed bytes (inspect sorts them). */
static void add_packages(const json_t *im, struct lade_buf *msg)
{
	const json_t *pk = json_object_get(im, "packages");
	if (json_array_size(pk) == 0) {
		lade_buf_adds(msg, "\n  no Python distributions (no *.dist-info/RECORD)");
		return;
	}
	lade_buf_adds(msg, "\n  biggest Python distributions (installed bytes, from RECORD):");
	size_t i;
	const json_t *p;
	json_array_foreach(pk, i, p)
	{
		if (i == BUDGET_TOP)
			break;
		char b[32];
		lade_buf_addf(msg, "\n    %10s  %s %s",
		              lade_human_size(jsize(p, "bytes"), b, sizeof(b)),
		              json_string_value(json_object_get(p, "name")),
		              json_string_value(json_object_get(p, "version")));
	}
}

static int over_message(const struct lade_build_image *im, uint64_t size, const char *layout,
                        const char *shown, struct lade_buf *msg, struct lade_error **err)
{
	char b1[32], b2[32], b3[32];
	lade_buf_addf(msg,
	              "%simage %s (%s) is %s compressed (%" PRIu64 " bytes: config + layers, "
	              "base included), over %s (%" PRIu64 " bytes) by %s",
	              msg->len ? "\n" : "", im->ref, im->platform,
	              lade_human_size(size, b1, sizeof(b1)), size, im->max_size_where, im->max_size,
	              lade_human_size(size - im->max_size, b2, sizeof(b2)));
	if (layout == NULL) { /* --push-only: the layers found in the registry are not here */
		lade_buf_adds(msg, "; nothing is pushed (--push-only: no layout is written)");
		return 0;
	}
	_cleanup_free_ char *name = xasprintf("%s:%s", layout, im->ref);
	struct lade_inspect_options o = {.layers = true, .by_package = true};
	_cleanup_(json_decrefp) json_t *report = NULL;
	if (lade_inspect(name, &o, &report, err) < 0)
		return lade_error_prefix(err, "reading back the image over budget");
	const json_t *ij = find_image(report, im->digest);
	if (ij == NULL)
		return lade_error_set(err, 0, "%s: image %s not found", name, im->digest);
	lade_buf_addf(msg, "; unpacked %s",
	              lade_human_size(jsize(ij, "uncompressed_size"), b3, sizeof(b3)));
	add_layers(ij, msg);
	add_packages(ij, msg);
	lade_buf_addf(msg, "\n  the image is written: lade inspect %s:%s --by package", shown,
	              im->ref);
	return 0;
}

int lade_budget_check(const struct lade_build_report *rep, const char *layout, const char *shown,
                      struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf msg = LADE_BUF_INIT;
	for (size_t i = 0; i < rep->n_images; i++) {
		const struct lade_build_image *im = &rep->images[i];
		uint64_t size = image_pull_size(im);
		if (im->max_size == 0 || size <= im->max_size)
			continue;
		if (over_message(im, size, layout, shown, &msg, err) < 0)
			return -1;
	}
	if (msg.len == 0)
		return 0;
	return lade_error_set(err, 0, "%s", msg.data);
}
