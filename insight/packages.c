/* lade — inspect --by-package: the bytes each installed Python distribution holds, from the
 * RECORD files of the merged file system (see imagefs.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imagefs.h"
#include "lade/pyformat.h"
#include "lade/util.h"

struct pkg {
	char *name, *version, *location;
	uint64_t bytes, files;
};

static int cmp_pkg(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->location, y->location);
}

static void parse_record(const struct imagefs *f, const char *record_path,
                         const struct lade_buf *rec, struct pkg *p)
{
	_cleanup_free_ char *distinfo = lade_path_dirname(record_path);
	_cleanup_free_ char *site = lade_path_dirname(distinfo);
	const char *dname = strrchr(distinfo, '/');
	dname = dname ? dname + 1 : distinfo;
	size_t dlen = strlen(dname) - strlen(".dist-info");
	const char *dash = memchr(dname, '-', dlen);
	p->name = dash ? xstrndup(dname, (size_t)(dash - dname)) : xstrndup(dname, dlen);
	p->version = dash ? xstrndup(dash + 1, dlen - (size_t)(dash - dname) - 1) : xstrdup("");
	p->location = xstrdup(site);
	const char *s = rec->data, *end = rec->data + rec->len;
	for (;;) {
		_cleanup_strv_ char **row = NULL; /* path, hash, size */
		if (lade_csv_row(&s, end, &row) <= 0)
			break;
		size_t nf = lade_strv_len(row);
		if (!(nf == 1 && row[0][0] == '\0')) {
			const char *rel = row[0], *size_text = nf > 2 ? row[2] : "";
			uint64_t size = 0;
			bool have = false;
			if (*size_text) {
				char *e;
				errno = 0;
				unsigned long long v = strtoull(size_text, &e, 10);
				if (errno == 0 && *e == '\0') {
					size = v;
					have = true;
				}
			}
			if (!have) {
				_cleanup_free_ char *joined = lade_path_join(site, rel);
				_cleanup_error_ struct lade_error *nerr = NULL;
				_cleanup_free_ char *path = lade_path_normalize(joined, &nerr);
				const struct lade_tree_node *nd =
				        path ? lade_tree_lookup(f->tree, path) : NULL;
				if (nd && nd->type == LADE_ENTRY_FILE)
					size = nd->size;
			}
			p->bytes += size;
			p->files++;
		}
	}
}

json_t *imagefs_packages(const struct imagefs *f, const char **paths, size_t n)
{
	struct pkg *pk = xcalloc(n + 1, sizeof(*pk));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct imagefs_entry *fe = lade_hashmap_get(f->seen, paths[i]);
		if (fe && fe->has_record)
			parse_record(f, paths[i], &fe->record, &pk[k++]);
	}
	qsort(pk, k, sizeof(*pk), cmp_pkg);
	json_t *arr = json_array();
	for (size_t i = 0; i < k; i++) {
		json_array_append_new(
		        arr, json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", pk[i].name, "version",
		                       pk[i].version, "location", pk[i].location, "bytes",
		                       (json_int_t)pk[i].bytes, "files", (json_int_t)pk[i].files));
		free(pk[i].name);
		free(pk[i].version);
		free(pk[i].location);
	}
	free(pk);
	return arr;
}
