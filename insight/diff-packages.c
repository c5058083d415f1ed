/* lade — `lade diff --by package` (see include/lade/inspect.h): the size story of two images
 * as a pull request comment needs it — per Python distribution its version and installed bytes
 * in A and in B, and every other byte per layer (one line a layer), sorted by |delta|. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imagefs.h"
#include "lade/inspect.h"
#include "lade/pyformat.h"
#include "lade/util.h"

/* One image: its merged file system and who holds its bytes. */
struct side {
	struct lade_images *s;
	struct imagefs f;
	struct imagefs_sizes z;
	const char **paths;
};

static void side_release(struct side *x)
{
	imagefs_sizes_release(&x->z);
	free(x->paths);
	imagefs_release(&x->f);
	lade_images_free(x->s);
}

static int side_load(const char *image, struct side *x, struct lade_error **err)
{
	memset(x, 0, sizeof(*x));
	imagefs_init(&x->f);
	x->f.records = true;
	if (imagefs_open_one(image, &x->s, err) < 0)
		return -1;
	const struct lade_image *im = &x->s->imgs[0];
	_cleanup_free_ struct imagefs_layer *res = xcalloc(im->n_layers + 1, sizeof(*res));
	if (imagefs_stream(x->s, im, &x->f, NULL, res, err) < 0)
		return -1;
	size_t n;
	x->paths = imagefs_paths(&x->f, &n);
	imagefs_sizes_init(&x->z, &x->f, x->paths, n, im->n_layers);
	return 0;
}

/* What the history says made a layer ("" when it says nothing). */
static const char *layer_text(const struct lade_image *im, size_t layer)
{
	const json_t *h;
	size_t i, k = 0;
	json_array_foreach(json_object_get(im->config, "history"), i, h)
	{
		if (json_is_true(json_object_get(h, "empty_layer")) || k++ != layer)
			continue;
		const char *t = json_string_value(json_object_get(h, "comment"));
		if (t == NULL)
			t = json_string_value(json_object_get(h, "created_by"));
		return t ? t : "";
	}
	return "";
}

static char *pkg_key(const struct imagefs_pkg *p)
{
	_cleanup_free_ char *norm = lade_name_normalize(p->name);
	return xasprintf("%s\n%s", norm, p->location);
}

/* Rows keyed by distribution (name, location) or layer label, each with its A and B side. */
static json_t *row_get(json_t *rows, const char *key, const char *kind, const char *name)
{
	json_t *r = json_object_get(rows, key);
	if (r == NULL) {
		r = json_pack("{s:s, s:s, s:I, s:I}", "kind", kind, "name", name, "a_bytes",
		              (json_int_t)0, "b_bytes", (json_int_t)0);
		json_object_set_new(rows, key, r);
	}
	return r;
}

static void add_side(json_t *rows, const struct side *x, char which)
{
	char bytes_key[] = "?_bytes", version_key[] = "?_version", loc_key[] = "?_location";
	bytes_key[0] = version_key[0] = loc_key[0] = which;
	for (size_t i = 0; i < x->z.n_pkgs; i++) {
		const struct imagefs_pkg *p = &x->z.pkgs[i];
		_cleanup_free_ char *key = pkg_key(p);
		json_t *r = row_get(rows, key, "package", p->name);
		json_object_set_new(r, bytes_key, json_integer((json_int_t)p->bytes));
		json_object_set_new(r, version_key, json_string(p->version));
		json_object_set_new(r, "location", json_string(p->location));
	}
	const struct lade_image *im = &x->s->imgs[0];
	struct lade_hashmap *times = lade_hashmap_new(); /* text -> occurrences so far */
	for (size_t i = 0; i < x->z.n_layers; i++) {
		if (x->z.layer_other[i] == 0)
			continue;
		/* Layers match by what made them, not by position: a distribution more or
		 * less moves the layers after it. */
		const char *text = layer_text(im, i);
		uintptr_t nth = (uintptr_t)lade_hashmap_get(times, text) + 1;
		lade_hashmap_put(times, text, (void *)nth);
		_cleanup_free_ char *key = xasprintf("layer\n%s\n%zu", text, (size_t)nth);
		_cleanup_free_ char *name =
		        nth > 1 ? xasprintf("%s (%zu)", text, (size_t)nth) : xstrdup(text);
		json_t *r = row_get(rows, key, "layer", name);
		json_object_set_new(r, bytes_key, json_integer((json_int_t)x->z.layer_other[i]));
		json_object_set_new(r, which == 'a' ? "a_layer" : "b_layer",
		                    json_integer((json_int_t)i + 1));
	}
	lade_hashmap_free(times, NULL);
}

static int64_t row_delta(const json_t *r)
{
	return (int64_t)json_integer_value(json_object_get(r, "b_bytes")) -
	       (int64_t)json_integer_value(json_object_get(r, "a_bytes"));
}

static int cmp_rows(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int64_t da = llabs(row_delta(a)), db = llabs(row_delta(b));
	if (da != db)
		return da > db ? -1 : 1;
	return strcmp(json_string_value(json_object_get(a, "name")),
	              json_string_value(json_object_get(b, "name")));
}

static const char *row_status(const json_t *r)
{
	bool in_a = json_object_get(r, "a_version") || json_object_get(r, "a_layer");
	bool in_b = json_object_get(r, "b_version") || json_object_get(r, "b_layer");
	if (!in_a)
		return "added";
	if (!in_b)
		return "removed";
	const char *va = json_string_value(json_object_get(r, "a_version"));
	const char *vb = json_string_value(json_object_get(r, "b_version"));
	bool same_version = va == NULL || vb == NULL || strcmp(va, vb) == 0;
	return row_delta(r) == 0 && same_version ? "unchanged" : "changed";
}

static json_t *side_summary(const struct side *x)
{
	json_t *j = json_pack("{s:s}", "image", x->s->name);
	const struct lade_image *im = &x->s->imgs[0];
	if (im->digest)
		json_object_set_new(j, "digest", json_string(im->digest));
	if (im->ref)
		json_object_set_new(j, "ref", json_string(im->ref));
	uint64_t total = 0;
	for (size_t i = 0; i < x->z.n_pkgs; i++)
		total += x->z.pkgs[i].bytes;
	for (size_t i = 0; i < x->z.n_layers; i++)
		total += x->z.layer_other[i];
	json_object_set_new(j, "bytes", json_integer((json_int_t)total));
	return j;
}

int lade_diff_packages(const char *image_a, const char *image_b, json_t **out, bool *different,
                       struct lade_error **err)
{
	struct side a, b;
	int ra = side_load(image_a, &a, err);
	int rb = ra < 0 ? -1 : side_load(image_b, &b, err);
	if (ra < 0 || rb < 0) {
		side_release(&a);
		if (ra == 0)
			side_release(&b);
		return -1;
	}
	_cleanup_(json_decrefp) json_t *rows = json_object();
	add_side(rows, &a, 'a');
	add_side(rows, &b, 'b');
	size_t n = json_object_size(rows), k = 0;
	_cleanup_free_ json_t **v = xcalloc(n + 1, sizeof(*v));
	const char *key;
	json_t *r;
	json_object_foreach(rows, key, r) v[k++] = r;
	qsort(v, n, sizeof(*v), cmp_rows);
	json_t *arr = json_array();
	*different = false;
	for (size_t i = 0; i < n; i++) {
		const char *st = row_status(v[i]);
		json_object_set_new(v[i], "status", json_string(st));
		json_object_set_new(v[i], "delta", json_integer((json_int_t)row_delta(v[i])));
		*different = *different || strcmp(st, "unchanged") != 0;
		json_array_append(arr, v[i]);
	}
	json_t *ja = side_summary(&a), *jb = side_summary(&b);
	json_int_t delta = json_integer_value(json_object_get(jb, "bytes")) -
	                   json_integer_value(json_object_get(ja, "bytes"));
	*out = json_pack("{s:o, s:o, s:o, s:I}", "a", ja, "b", jb, "rows", arr, "delta", delta);
	side_release(&a);
	side_release(&b);
	return 0;
}

static const char *signed_size(int64_t d, char *buf, size_t len)
{
	buf[0] = d > 0 ? '+' : '-';
	lade_human_size((uint64_t)llabs(d), buf + (d != 0), len - 1);
	return buf;
}

static const char *row_size(const json_t *r, char which, char *buf, size_t len)
{
	const char *present = which == 'a' ? "a_version" : "b_version";
	const char *layer = which == 'a' ? "a_layer" : "b_layer";
	if (!json_object_get(r, present) && !json_object_get(r, layer))
		return "-";
	const char *key = which == 'a' ? "a_bytes" : "b_bytes";
	return lade_human_size((uint64_t)json_integer_value(json_object_get(r, key)), buf, len);
}

static char *row_version(const json_t *r)
{
	const char *va = json_string_value(json_object_get(r, "a_version"));
	const char *vb = json_string_value(json_object_get(r, "b_version"));
	if (strcmp(json_string_value(json_object_get(r, "kind")), "layer") == 0)
		return xstrdup("(layer)");
	if (va && vb && strcmp(va, vb) != 0)
		return xasprintf("%s → %s", va, vb);
	return xstrdup(va ? va : vb ? vb : "");
}

void lade_diff_packages_format(const json_t *report, struct lade_buf *out)
{
	const json_t *a = json_object_get(report, "a"), *b = json_object_get(report, "b");
	char b1[32], b2[32], b3[32];
	lade_buf_addf(out, "a: %s %s\nb: %s %s\n", json_string_value(json_object_get(a, "image")),
	              json_string_value(json_object_get(a, "digest")) ?: "",
	              json_string_value(json_object_get(b, "image")),
	              json_string_value(json_object_get(b, "digest")) ?: "");
	const json_t *rows = json_object_get(report, "rows"), *r;
	size_t i, wn = 4, wv = 7, unchanged = 0;
	json_array_foreach(rows, i, r)
	{
		_cleanup_free_ char *v = row_version(r);
		size_t ln = strlen(json_string_value(json_object_get(r, "name")));
		wn = ln > wn ? ln : wn;
		wv = strlen(v) > wv ? strlen(v) : wv;
	}
	lade_buf_addf(out, "  %-*s  %-*s  %10s  %10s  %11s\n", (int)wn, "NAME", (int)wv, "VERSION",
	              "A", "B", "DELTA");
	json_array_foreach(rows, i, r)
	{
		const char *st = json_string_value(json_object_get(r, "status"));
		if (strcmp(st, "unchanged") == 0) {
			unchanged++;
			continue;
		}
		char sign = strcmp(st, "added") == 0 ? '+' : strcmp(st, "removed") == 0 ? '-' : '~';
		_cleanup_free_ char *v = row_version(r);
		/* "→" is one column but three bytes */
		int pad = (int)wv + (strstr(v, "→") ? 2 : 0);
		lade_buf_addf(out, "%c %-*s  %-*s  %10s  %10s  %11s\n", sign, (int)wn,
		              json_string_value(json_object_get(r, "name")), pad, v,
		              row_size(r, 'a', b1, sizeof(b1)), row_size(r, 'b', b2, sizeof(b2)),
		              signed_size(json_integer_value(json_object_get(r, "delta")), b3,
		                          sizeof(b3)));
	}
	if (unchanged)
		lade_buf_addf(out, "  %zu unchanged\n", unchanged);
	lade_buf_addf(
	        out, "total: %s → %s (%s)\n",
	        lade_human_size((uint64_t)json_integer_value(json_object_get(a, "bytes")), b1,
	                        sizeof(b1)),
	        lade_human_size((uint64_t)json_integer_value(json_object_get(b, "bytes")), b2,
	                        sizeof(b2)),
	        signed_size(json_integer_value(json_object_get(report, "delta")), b3, sizeof(b3)));
}
