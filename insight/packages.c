/* lade — bytes per installed Python distribution, from the RECORD files of the merged file
 * system (inspect --by package, diff --by package, inspect --html; see imagefs.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imagefs.h"
#include "lade/pyformat.h"
#include "lade/util.h"

static int cmp_pkg(const void *a, const void *b)
{
	const struct imagefs_pkg *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->location, y->location);
}

/* Walk the rows of one RECORD: count its bytes into p and, with owner, claim its paths for
 * distribution `idx` (the first RECORD to list a path owns it). */
static void parse_record(const struct imagefs *f, const char *record_path,
                         const struct lade_buf *rec, struct imagefs_pkg *p,
                         struct lade_hashmap *owner, size_t idx)
{
	_cleanup_free_ char *distinfo = lade_path_dirname(record_path);
	_cleanup_free_ char *site = lade_path_dirname(distinfo);
	if (p->name == NULL) {
		const char *dname = strrchr(distinfo, '/');
		dname = dname ? dname + 1 : distinfo;
		size_t dlen = strlen(dname) - strlen(".dist-info");
		const char *dash = memchr(dname, '-', dlen);
		p->name = dash ? xstrndup(dname, (size_t)(dash - dname)) : xstrndup(dname, dlen);
		p->version =
		        dash ? xstrndup(dash + 1, dlen - (size_t)(dash - dname) - 1) : xstrdup("");
		p->location = xstrdup(site);
		p->record = record_path;
	}
	const char *s = rec->data, *end = rec->data + rec->len;
	for (;;) {
		_cleanup_strv_ char **row = NULL; /* path, hash, size */
		if (lade_csv_row(&s, end, &row) <= 0)
			break;
		size_t nf = lade_strv_len(row);
		if (nf == 1 && row[0][0] == '\0')
			continue;
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
		_cleanup_free_ char *path = NULL;
		if (!have || owner) {
			_cleanup_free_ char *joined = lade_path_join(site, rel);
			_cleanup_error_ struct lade_error *nerr = NULL;
			path = lade_path_normalize(joined, &nerr);
		}
		if (!have) {
			const struct lade_tree_node *nd =
			        path ? lade_tree_lookup(f->tree, path) : NULL;
			if (nd && nd->type == LADE_ENTRY_FILE)
				size = nd->size;
		}
		if (owner && path && lade_hashmap_get(owner, path) == NULL)
			lade_hashmap_put(owner, path, (void *)(uintptr_t)(idx + 1));
		if (!owner) {
			p->bytes += size;
			p->files++;
		}
	}
}

void imagefs_sizes_init(struct imagefs_sizes *z, const struct imagefs *f, const char **paths,
                        size_t n, size_t n_layers)
{
	memset(z, 0, sizeof(*z));
	z->pkgs = xcalloc(n + 1, sizeof(*z->pkgs));
	for (size_t i = 0; i < n; i++) {
		const struct imagefs_entry *fe = lade_hashmap_get(f->seen, paths[i]);
		if (fe && fe->has_record)
			parse_record(f, paths[i], &fe->record, &z->pkgs[z->n_pkgs++], NULL, 0);
	}
	qsort(z->pkgs, z->n_pkgs, sizeof(*z->pkgs), cmp_pkg);
	z->owner = lade_hashmap_new();
	for (size_t i = 0; i < z->n_pkgs; i++) {
		const struct imagefs_entry *fe = lade_hashmap_get(f->seen, z->pkgs[i].record);
		parse_record(f, z->pkgs[i].record, &fe->record, &z->pkgs[i], z->owner, i);
	}
	z->n_layers = n_layers;
	z->layer_other = xcalloc(n_layers + 1, sizeof(*z->layer_other));
	for (size_t i = 0; i < n; i++) {
		const struct lade_tree_node *nd = lade_tree_lookup(f->tree, paths[i]);
		const struct imagefs_entry *fe = lade_hashmap_get(f->seen, paths[i]);
		if (nd && nd->type == LADE_ENTRY_FILE && fe && fe->layer < n_layers &&
		    lade_hashmap_get(z->owner, paths[i]) == NULL)
			z->layer_other[fe->layer] += nd->size;
	}
}

void imagefs_sizes_release(struct imagefs_sizes *z)
{
	for (size_t i = 0; i < z->n_pkgs; i++) {
		free(z->pkgs[i].name);
		free(z->pkgs[i].version);
		free(z->pkgs[i].location);
	}
	free(z->pkgs);
	lade_hashmap_free(z->owner, NULL);
	free(z->layer_other);
	memset(z, 0, sizeof(*z));
}

json_t *imagefs_packages(const struct imagefs *f, const char **paths, size_t n)
{
	struct imagefs_sizes z;
	imagefs_sizes_init(&z, f, paths, n, 0);
	json_t *arr = json_array();
	for (size_t i = 0; i < z.n_pkgs; i++) {
		const struct imagefs_pkg *p = &z.pkgs[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", p->name,
		                                     "version", p->version, "location", p->location,
		                                     "bytes", (json_int_t)p->bytes, "files",
		                                     (json_int_t)p->files));
	}
	imagefs_sizes_release(&z);
	return arr;
}
