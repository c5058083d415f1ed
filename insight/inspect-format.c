/* lade — the human-readable renderings of lade inspect and lade diff reports. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lade/inspect.h"
#include "lade/util.h"

/* --- human output ------------------------------------------------------------------- */

struct table {
	char **cells; /* rows x cols */
	size_t cols, rows, alloc;
	unsigned right; /* bit i: column i right-aligned */
};

static void table_row(struct table *t, ...)
{
	va_list ap;
	va_start(ap, t);
	lade_grow(&t->cells, sizeof(*t->cells), (t->rows + 1) * t->cols, &t->alloc);
	for (size_t c = 0; c < t->cols; c++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->rows * t->cols + c] = xstrdup(s ? s : "");
	}
	va_end(ap);
	t->rows++;
}

static void table_flush(struct table *t, const char *indent, struct lade_buf *out)
{
	size_t *w = xcalloc(t->cols, sizeof(*w));
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->cols; c++) {
			size_t l = strlen(t->cells[r * t->cols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->rows; r++) {
		lade_buf_adds(out, indent);
		for (size_t c = 0; c < t->cols; c++) {
			const char *cell = t->cells[r * t->cols + c];
			bool last = c + 1 == t->cols;
			if (t->right & (1u << c))
				lade_buf_addf(out, "%*s", (int)w[c], cell);
			else
				lade_buf_addf(out, "%-*s", last ? 0 : (int)w[c], cell);
			if (!last)
				lade_buf_adds(out, "  ");
			free(t->cells[r * t->cols + c]);
		}
		lade_buf_addch(out, '\n');
	}
	free(w);
	free(t->cells);
	t->cells = NULL;
	t->rows = t->alloc = 0;
}

static const char *hsize(const json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v))
		return "-";
	return lade_human_size((uint64_t)json_integer_value(v), buf, len);
}

static char *short_digest(const char *d)
{
	if (d == NULL)
		return xstrdup("-");
	return xstrndup(d, strncmp(d, "sha256:", 7) == 0 ? 7 + 12 : 12);
}

static char *one_line(const char *s)
{
	if (s == NULL)
		return xstrdup("");
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (strlen(r) > 80)
		strcpy(r + 77, "...");
	return r;
}

static void add_json_line(struct lade_buf *out, const char *label, const json_t *v)
{
	if (v == NULL)
		return;
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	_cleanup_free_ char *l = one_line(s);
	free(s);
	lade_buf_addf(out, "  %-11s %s\n", label, l);
}

void lade_inspect_format(const json_t *report, struct lade_buf *out)
{
	const json_t *imgs = json_object_get(report, "images");
	size_t i;
	const json_t *im;
	char b1[32], b2[32];
	json_array_foreach(imgs, i, im)
	{
		const char *ref = json_string_value(json_object_get(im, "ref"));
		lade_buf_addf(out, "%simage %s%s%s\n", i ? "\n" : "",
		              json_string_value(json_object_get(report, "image")),
		              ref ? " ref " : "", ref ? ref : "");
		const char *d = json_string_value(json_object_get(im, "digest"));
		if (d)
			lade_buf_addf(out, "  %-11s %s\n", "digest", d);
		const char *p = json_string_value(json_object_get(im, "platform"));
		if (p)
			lade_buf_addf(out, "  %-11s %s\n", "platform", p);
		const char *c = json_string_value(json_object_get(im, "created"));
		if (c)
			lade_buf_addf(out, "  %-11s %s\n", "created", c);
		add_json_line(out, "entrypoint", json_object_get(im, "entrypoint"));
		add_json_line(out, "cmd", json_object_get(im, "cmd"));
		const json_t *layers = json_object_get(im, "layers");
		lade_buf_addf(out, "  %-11s %s", "size",
		              hsize(json_object_get(im, "size"), b1, sizeof(b1)));
		if (json_object_get(im, "uncompressed_size"))
			lade_buf_addf(
			        out, ", %s uncompressed",
			        hsize(json_object_get(im, "uncompressed_size"), b2, sizeof(b2)));
		lade_buf_addf(out, " (%zu layer%s)\n", json_array_size(layers),
		              json_array_size(layers) == 1 ? "" : "s");
		struct table t = {.cols = 6, .right = 0x7};
		table_row(&t, "#", "SIZE", "UNCOMPRESSED", "DIGEST", "DIFF_ID", "CREATED BY");
		size_t k;
		const json_t *l;
		json_array_foreach(layers, k, l)
		{
			char n[24];
			snprintf(n, sizeof(n), "%zu", k + 1);
			_cleanup_free_ char *sd =
			        short_digest(json_string_value(json_object_get(l, "digest")));
			_cleanup_free_ char *si =
			        short_digest(json_string_value(json_object_get(l, "diff_id")));
			const char *cb = json_string_value(json_object_get(l, "created_by"));
			const char *cm = json_string_value(json_object_get(l, "comment"));
			_cleanup_free_ char *text = xasprintf("%s%s%s", cb ? cb : "",
			                                      cb && cm ? " | " : "", cm ? cm : "");
			_cleanup_free_ char *tl = one_line(text);
			table_row(&t, n, hsize(json_object_get(l, "size"), b1, sizeof(b1)),
			          hsize(json_object_get(l, "uncompressed_size"), b2, sizeof(b2)),
			          sd, si, tl);
		}
		table_flush(&t, "  ", out);
		const json_t *top = json_object_get(im, "top");
		if (top) {
			lade_buf_addf(out, "  largest files:\n");
			struct table tt = {.cols = 2, .right = 0x1};
			json_array_foreach(top, k, l)
			{
				_cleanup_free_ char *path = xasprintf(
				        "/%s", json_string_value(json_object_get(l, "path")));
				table_row(&tt, hsize(json_object_get(l, "size"), b1, sizeof(b1)),
				          path);
			}
			table_flush(&tt, "    ", out);
		}
		const json_t *pk = json_object_get(im, "packages");
		if (pk && json_array_size(pk) == 0)
			lade_buf_adds(out, "  python packages: none (no *.dist-info/RECORD)\n");
		if (pk && json_array_size(pk) > 0) {
			lade_buf_addf(out, "  python packages (%zu):\n", json_array_size(pk));
			struct table tp = {.cols = 5, .right = 0x0c};
			table_row(&tp, "NAME", "VERSION", "SIZE", "FILES", "LOCATION");
			json_array_foreach(pk, k, l)
			{
				char nf[24];
				snprintf(nf, sizeof(nf), "%" JSON_INTEGER_FORMAT,
				         json_integer_value(json_object_get(l, "files")));
				_cleanup_free_ char *loc = xasprintf(
				        "/%s", json_string_value(json_object_get(l, "location")));
				table_row(&tp, json_string_value(json_object_get(l, "name")),
				          json_string_value(json_object_get(l, "version")),
				          hsize(json_object_get(l, "bytes"), b1, sizeof(b1)), nf,
				          loc);
			}
			table_flush(&tp, "    ", out);
		}
	}
	if (json_array_size(imgs) > 1) {
		lade_buf_addf(out, "\nblobs: %s in total, %s shared by more than one image\n",
		              hsize(json_object_get(report, "total_bytes"), b1, sizeof(b1)),
		              hsize(json_object_get(report, "shared_bytes"), b2, sizeof(b2)));
		struct table t = {.cols = 3, .right = 0x6};
		table_row(&t, "REF", "UNIQUE", "SHARED");
		json_array_foreach(imgs, i, im)
		{
			const char *ref = json_string_value(json_object_get(im, "ref"));
			table_row(&t, ref ? ref : "(untagged)",
			          hsize(json_object_get(im, "unique_bytes"), b1, sizeof(b1)),
			          hsize(json_object_get(im, "shared_bytes"), b2, sizeof(b2)));
		}
		table_flush(&t, "  ", out);
	}
}

static void entry_line(struct lade_buf *out, char sign, const json_t *e)
{
	char b[32];
	const char *sha = json_string_value(json_object_get(e, "sha256"));
	const char *link = json_string_value(json_object_get(e, "link"));
	lade_buf_addf(out, "%c /%s  %s %04o %s", sign,
	              json_string_value(json_object_get(e, "path")),
	              json_string_value(json_object_get(e, "type")),
	              (unsigned)json_integer_value(json_object_get(e, "mode")),
	              hsize(json_object_get(e, "size"), b, sizeof(b)));
	if (sha)
		lade_buf_addf(out, " %s", sha);
	if (link)
		lade_buf_addf(out, " -> %s", link);
	lade_buf_addch(out, '\n');
}

void lade_diff_format(const json_t *report, struct lade_buf *out)
{
	const json_t *a = json_object_get(report, "a"), *b = json_object_get(report, "b");
	lade_buf_addf(out, "a: %s %s\nb: %s %s\n", json_string_value(json_object_get(a, "image")),
	              json_string_value(json_object_get(a, "digest")) ?: "",
	              json_string_value(json_object_get(b, "image")),
	              json_string_value(json_object_get(b, "digest")) ?: "");
	if (json_is_true(json_object_get(report, "identical"))) {
		lade_buf_adds(out, "identical\n");
		return;
	}
	if (json_is_true(json_object_get(report, "content_equal")))
		lade_buf_adds(out, "same content (config, diff_ids, files), stored differently:\n");
	size_t i;
	const json_t *l;
	json_array_foreach(json_object_get(report, "layers"), i, l)
	{
		if (strcmp(json_string_value(json_object_get(l, "status")), "recompressed") != 0)
			continue;
		const json_t *x = json_object_get(l, "blob_a"), *y = json_object_get(l, "blob_b");
		char sx[32], sy[32];
		lade_buf_addf(out,
		              "layer %" JSON_INTEGER_FORMAT
		              " recompressed (diff_id %s):\n  a: %s %s %s\n  b: %s %s %s\n",
		              json_integer_value(json_object_get(l, "index")),
		              json_string_value(json_object_get(l, "a")),
		              json_string_value(json_object_get(x, "digest")),
		              json_string_value(json_object_get(x, "media_type")) ?: "",
		              hsize(json_object_get(x, "size"), sx, sizeof(sx)),
		              json_string_value(json_object_get(y, "digest")),
		              json_string_value(json_object_get(y, "media_type")) ?: "",
		              hsize(json_object_get(y, "size"), sy, sizeof(sy)));
	}
	if (!json_is_true(json_object_get(report, "manifest_equal")) &&
	    json_is_true(json_object_get(report, "blobs_equal")) &&
	    json_is_true(json_object_get(report, "content_equal")))
		lade_buf_adds(out, "manifests differ (annotations or media types), with the same "
		                   "config and layer blobs\n");
	if (json_is_true(json_object_get(report, "content_equal")))
		return;
	if (!json_is_true(json_object_get(report, "config_equal")))
		lade_buf_addf(out, "config differs: %s vs %s\n",
		              json_string_value(json_object_get(a, "config")),
		              json_string_value(json_object_get(b, "config")));
	struct table t = {.cols = 4, .right = 0x1};
	table_row(&t, "#", "LAYER", "A", "B");
	json_array_foreach(json_object_get(report, "layers"), i, l)
	{
		char n[24];
		snprintf(n, sizeof(n), "%" JSON_INTEGER_FORMAT,
		         json_integer_value(json_object_get(l, "index")));
		_cleanup_free_ char *x = short_digest(json_string_value(json_object_get(l, "a")));
		_cleanup_free_ char *y = short_digest(json_string_value(json_object_get(l, "b")));
		table_row(&t, n, json_string_value(json_object_get(l, "status")), x, y);
	}
	table_flush(&t, "", out);
	const json_t *files = json_object_get(report, "files");
	const json_t *e;
	json_array_foreach(json_object_get(files, "removed"), i, e) entry_line(out, '-', e);
	json_array_foreach(json_object_get(files, "added"), i, e) entry_line(out, '+', e);
	json_array_foreach(json_object_get(files, "modified"), i, e)
	{
		entry_line(out, '<', json_object_get(e, "a"));
		entry_line(out, '>', json_object_get(e, "b"));
	}
	lade_buf_addf(out, "%zu added, %zu removed, %zu modified\n",
	              json_array_size(json_object_get(files, "added")),
	              json_array_size(json_object_get(files, "removed")),
	              json_array_size(json_object_get(files, "modified")));
}
