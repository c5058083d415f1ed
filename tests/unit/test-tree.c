/* Unit tests: the hash map and the root file system index (whiteouts, resolution). */
#include <stdlib.h>
#include <string.h>

#include "lade/hashmap.h"
#include "lade/tree.h"
#include "lade/util.h"
#include "tap.h"

static void test_hashmap(void)
{
	struct lade_hashmap *m = lade_hashmap_new();
	static int vals[2000];
	char key[32];

	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		vals[i] = i;
		lade_hashmap_put(m, key, &vals[i]);
	}
	ok(lade_hashmap_size(m) == 2000, "2000 keys inserted");
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		int *v = lade_hashmap_get(m, key);
		if (v == NULL || *v != i)
			bad++;
	}
	ok(bad == 0, "every key found after growth");
	ok(lade_hashmap_get(m, "k2000") == NULL, "missing key gives NULL");

	int other = -1;
	ok(lade_hashmap_put(m, "k7", &other) == &vals[7], "replace returns the previous value");
	ok(lade_hashmap_get(m, "k7") == &other && lade_hashmap_size(m) == 2000,
	   "replace keeps the size");

	/* Remove the odd keys while iterating, then check the survivors. */
	size_t pos = 0, seen = 0;
	const char *k;
	void *v;
	while (lade_hashmap_next(m, &pos, &k, &v)) {
		seen++;
		if (atoi(k + 1) % 2)
			lade_hashmap_remove(m, k);
	}
	ok(seen == 2000, "iteration visits every key once while removing");
	ok(lade_hashmap_size(m) == 1000, "half the keys removed");
	bad = 0;
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if ((lade_hashmap_get(m, key) != NULL) != (i % 2 == 0))
			bad++;
	}
	ok(bad == 0, "even keys stay, odd keys are gone");
	ok(lade_hashmap_remove(m, "k1") == NULL, "removing a missing key gives NULL");
	/* Tombstones must not break lookups or re-insertion. */
	for (int round = 0; round < 5; round++)
		for (int i = 1; i < 2000; i += 2) {
			snprintf(key, sizeof(key), "k%d", i);
			lade_hashmap_put(m, key, &vals[i]);
			lade_hashmap_remove(m, key);
		}
	ok(lade_hashmap_size(m) == 1000 && lade_hashmap_get(m, "k1998") == &vals[1998],
	   "insert/remove churn keeps the map consistent");
	lade_hashmap_free(m, NULL);

	struct lade_hashmap *owned = lade_hashmap_new();
	lade_hashmap_put(owned, "a", xstrdup("x"));
	lade_hashmap_put(owned, "", xstrdup("root"));
	is_str(lade_hashmap_get(owned, ""), "root", "the empty string is a valid key");
	lade_hashmap_free(owned, free); /* values freed: checked by the sanitizer run */
}

static int apply(struct lade_tree *t, const char *path, enum lade_entry_type type, uint32_t mode,
                 const char *link)
{
	_cleanup_error_ struct lade_error *err = NULL;
	int r = lade_tree_apply(t, path, type, mode, 0, 0, 0, link, &err);
	if (r < 0)
		printf("# apply %s: %s\n", path, err->msg);
	return r;
}

static bool exists(const struct lade_tree *t, const char *path)
{
	return lade_tree_lookup(t, path) != NULL;
}

static void test_apply(void)
{
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	lade_tree_layer_begin(t);
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_tree_apply(t, "usr/bin/python3", LADE_ENTRY_FILE, 0100755, 0, 0, 42, NULL, &err) ==
	           0,
	   "apply a file whose parents are missing");
	const struct lade_tree_node *n = lade_tree_lookup(t, "usr/bin/python3");
	ok(n && n->type == LADE_ENTRY_FILE && n->mode == 0755 && n->size == 42,
	   "file node has type, permission bits and size");
	n = lade_tree_lookup(t, "usr/bin");
	ok(n && n->type == LADE_ENTRY_DIR && n->mode == 0755 && n->uid == 0,
	   "implicit parent is a 0755 0:0 directory");
	ok(lade_tree_count(t) == 3, "count is usr, usr/bin, usr/bin/python3");
	n = lade_tree_lookup(t, "");
	ok(n && n->type == LADE_ENTRY_DIR, "the root is a directory");

	ok(lade_tree_apply(t, "tmp", LADE_ENTRY_DIR, 01777, 0, 0, 0, NULL, &err) == 0 &&
	           lade_tree_apply(t, "tmp", LADE_ENTRY_DIR, 01777, 0, 5, 0, NULL, &err) == 0,
	   "directory over directory");
	n = lade_tree_lookup(t, "tmp");
	ok(n && n->mode == 01777 && n->gid == 5, "directory metadata updated");

	apply(t, "x", LADE_ENTRY_FILE, 0644, NULL);
	ok(lade_tree_apply(t, "x/y", LADE_ENTRY_FILE, 0644, 0, 0, 0, NULL, &err) < 0,
	   "entry below a file fails");
	is_str(err ? err->msg : NULL, "cannot apply x/y: its parent x is a file",
	       "error names the entry and its parent");
	lade_error_freep(&err);
	ok(lade_tree_apply(t, "/abs//p", LADE_ENTRY_FILE, 0644, 0, 0, 0, NULL, &err) < 0,
	   "non-normalised path refused");
	is_str(err ? err->msg : NULL, "cannot apply '/abs//p': path is not normalised",
	       "error names the path");
	lade_error_freep(&err);

	/* Hard links keep their target. */
	apply(t, "usr/bin/python", LADE_ENTRY_HARDLINK, 0755, "usr/bin/python3");
	n = lade_tree_lookup(t, "usr/bin/python");
	ok(n && n->type == LADE_ENTRY_HARDLINK && n->link &&
	           strcmp(n->link, "usr/bin/python3") == 0,
	   "hard link stores its target");
}

static void test_whiteouts(void)
{
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	lade_tree_layer_begin(t);
	apply(t, "b", LADE_ENTRY_DIR, 0755, NULL);
	apply(t, "b/c", LADE_ENTRY_FILE, 0644, NULL);
	apply(t, "b/d/e", LADE_ENTRY_FILE, 0644, NULL);
	apply(t, "bc", LADE_ENTRY_FILE, 0644, NULL);
	apply(t, "d/x", LADE_ENTRY_FILE, 0644, NULL);
	apply(t, "d/y/z", LADE_ENTRY_FILE, 0644, NULL);
	apply(t, "f/g/h", LADE_ENTRY_FILE, 0644, NULL);

	lade_tree_layer_begin(t);
	ok(apply(t, ".wh.b", LADE_ENTRY_FILE, 0, NULL) == 0, "apply whiteout .wh.b");
	ok(!exists(t, "b") && !exists(t, "b/c") && !exists(t, "b/d") && !exists(t, "b/d/e"),
	   "whiteout removes the directory and its whole subtree");
	ok(exists(t, "bc"), "whiteout of b keeps its sibling bc");
	ok(!exists(t, ".wh.b"), "the whiteout itself is not a file");

	apply(t, "d/new", LADE_ENTRY_FILE, 0644, NULL);
	ok(apply(t, "d/.wh..wh..opq", LADE_ENTRY_FILE, 0, NULL) == 0, "apply opaque whiteout");
	ok(exists(t, "d") && exists(t, "d/new"),
	   "opaque keeps the directory and this layer's entry");
	ok(!exists(t, "d/x") && !exists(t, "d/y") && !exists(t, "d/y/z"),
	   "opaque hides what lower layers put there");

	ok(apply(t, "f/g", LADE_ENTRY_FILE, 0644, NULL) == 0, "file replaces a directory");
	const struct lade_tree_node *n = lade_tree_lookup(t, "f/g");
	ok(n && n->type == LADE_ENTRY_FILE && !exists(t, "f/g/h"),
	   "the directory's subtree is gone");
	ok(lade_tree_count(t) == 5, "left: bc, d, d/new, f, f/g");

	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_tree_apply(t, "q/.wh.", LADE_ENTRY_FILE, 0, 0, 0, 0, NULL, &err) < 0,
	   "whiteout without a name fails");
	is_str(err ? err->msg : NULL, "cannot apply q/.wh.: whiteout without a name",
	       "error names the whiteout");
}

static void resolve_case(const struct lade_tree *t, const char *path, bool follow, const char *want)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	if (lade_tree_resolve(t, path, follow, &got, &err) < 0)
		printf("# resolve %s: %s\n", path, err->msg);
	is_str(got, want, "resolve %s (follow_last %d)", path, follow);
}

static void test_resolve(void)
{
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	lade_tree_layer_begin(t);
	apply(t, "usr/lib/python3.11/os.py", LADE_ENTRY_FILE, 0644, NULL);
	apply(t, "lib", LADE_ENTRY_SYMLINK, 0777, "/usr/lib");
	apply(t, "usr/lib64", LADE_ENTRY_SYMLINK, 0777, "lib");
	apply(t, "usr/bin/python3", LADE_ENTRY_SYMLINK, 0777, "../lib/../bin/python3.11");
	apply(t, "usr/bin/up", LADE_ENTRY_SYMLINK, 0777, "../../../..");
	apply(t, "loop1", LADE_ENTRY_SYMLINK, 0777, "loop2");
	apply(t, "loop2", LADE_ENTRY_SYMLINK, 0777, "/loop1/x");

	resolve_case(t, "lib/python3.11/os.py", true, "usr/lib/python3.11/os.py");
	resolve_case(t, "/usr/lib64/python3.11", true, "usr/lib/python3.11");
	resolve_case(t, "usr/bin/python3", true, "usr/bin/python3.11");
	resolve_case(t, "usr/bin/python3", false, "usr/bin/python3");
	resolve_case(t, "lib", false, "lib");
	resolve_case(t, "lib/", false, "usr/lib");
	resolve_case(t, "../../etc/passwd", true, "etc/passwd");
	resolve_case(t, "usr/bin/up/etc", true, "etc");
	resolve_case(t, "lib/missing/../x", true, "usr/lib/x");
	resolve_case(t, "", true, "");

	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	ok(lade_tree_resolve(t, "loop1", true, &got, &err) < 0, "symlink loop fails");
	is_str(err ? err->msg : NULL, "too many levels of symbolic links resolving loop1",
	       "loop error names the path");
	lade_error_freep(&err);
	ok(lade_tree_resolve(t, "loop1", false, &got, &err) == 0 && strcmp(got, "loop1") == 0,
	   "not following the last component avoids the loop");

	/* Entries below a symlinked directory land where an extractor puts them. */
	ok(apply(t, "lib/libz.so.1", LADE_ENTRY_FILE, 0644, NULL) == 0 &&
	           exists(t, "usr/lib/libz.so.1") && !exists(t, "lib/libz.so.1"),
	   "apply follows symlinks in parent directories");
}

static void test_json_roundtrip(void)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	lade_tree_layer_begin(t);
	lade_tree_apply(t, "usr", LADE_ENTRY_DIR, 0755, 0, 0, 0, NULL, &err);
	lade_tree_apply(t, "usr/bin", LADE_ENTRY_DIR, 0755, 0, 0, 0, NULL, &err);
	lade_tree_apply(t, "bin", LADE_ENTRY_SYMLINK, 0777, 0, 0, 0, "usr/bin", &err);
	lade_tree_apply(t, "usr/bin/python3.11", LADE_ENTRY_FILE, 0755, 0, 0, 123, NULL, &err);
	lade_tree_apply(t, "tmp", LADE_ENTRY_DIR, 01777, 0, 0, 0, NULL, &err);
	lade_tree_apply(t, "etc/shadow", LADE_ENTRY_FILE, 0640, 0, 42, 7, NULL, &err);
	ok(err == NULL, "tree built");
	json_t *j = lade_tree_to_json(t);
	_cleanup_(lade_tree_freep) struct lade_tree *u = lade_tree_new();
	ok(lade_tree_from_json(u, j, &err) == 0, "tree loads back from its JSON");
	ok(lade_tree_count(u) == lade_tree_count(t), "same number of paths (%zu)",
	   lade_tree_count(u));
	const struct lade_tree_node *n = lade_tree_lookup(u, "bin");
	ok(n && n->type == LADE_ENTRY_SYMLINK && n->link && strcmp(n->link, "usr/bin") == 0,
	   "symlink and its target survive");
	n = lade_tree_lookup(u, "tmp");
	ok(n && n->type == LADE_ENTRY_DIR && n->mode == 01777, "sticky directory mode survives");
	n = lade_tree_lookup(u, "etc/shadow");
	ok(n && n->gid == 42 && n->mode == 0640 && n->size == 7, "owner, mode and size survive");
	json_t *j2 = lade_tree_to_json(u);
	ok(json_equal(j, j2), "serialising the loaded tree gives the same JSON (sorted)");
	json_decref(j2);
	json_decref(j);

	_cleanup_(lade_tree_freep) struct lade_tree *v = lade_tree_new();
	json_t *bad = json_pack("[[s, i, I, I, I, I, n]]", "x", 99, (json_int_t)0644, (json_int_t)0,
	                        (json_int_t)0, (json_int_t)0);
	ok(lade_tree_from_json(v, bad, &err) < 0 && err && strstr(err->msg, "entry 0 is malformed"),
	   "a malformed entry is refused with its index");
	json_decref(bad);
}

static void test_resolve_escape(void)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	lade_tree_layer_begin(t);
	lade_tree_apply(t, "a", LADE_ENTRY_DIR, 0755, 0, 0, 0, NULL, &err);
	lade_tree_apply(t, "a/out", LADE_ENTRY_SYMLINK, 0777, 0, 0, 0, "../../etc", &err);
	lade_tree_apply(t, "a/in", LADE_ENTRY_SYMLINK, 0777, 0, 0, 0, "../etc", &err);
	char *out = NULL, *esc = NULL;
	ok(lade_tree_resolve_escape(t, "a/out/x", true, &out, &esc, &err) == 0 && out &&
	           strcmp(out, "etc/x") == 0 && esc && strcmp(esc, "a/out") == 0,
	   "a link climbing above the root is clamped and named (%s via %s)", out ? out : "-",
	   esc ? esc : "-");
	free(out);
	free(esc);
	out = esc = NULL;
	ok(lade_tree_resolve_escape(t, "a/in/x", true, &out, &esc, &err) == 0 && out &&
	           strcmp(out, "etc/x") == 0 && esc == NULL,
	   "a link staying inside is not named");
	free(out);
	ok(err == NULL, "no error");
}

static void test_children(void)
{
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	lade_tree_layer_begin(t);
	/* inserted out of order: the result must be sorted whatever the hash order */
	const char *paths[] = {"usr/lib/z", "usr/lib/a.dist-info/RECORD", "usr/lib/m",
	                       "usr/libx",  "usr/lib/a.dist-info",        "etc"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++)
		apply(t, paths[i],
		      strchr(paths[i], '.') && !strstr(paths[i], "RECORD") ? LADE_ENTRY_DIR
		                                                           : LADE_ENTRY_FILE,
		      0755, NULL);
	_cleanup_strv_ char **c = lade_tree_children(t, "usr/lib");
	ok(lade_strv_len(c) == 3 && strcmp(c[0], "a.dist-info") == 0 && strcmp(c[1], "m") == 0 &&
	           strcmp(c[2], "z") == 0,
	   "children of usr/lib: direct ones only, sorted, not usr/libx");
	_cleanup_strv_ char **r = lade_tree_children(t, "");
	ok(lade_strv_len(r) == 2 && strcmp(r[0], "etc") == 0 && strcmp(r[1], "usr") == 0,
	   "children of the root (implicit parents included)");
	ok(lade_tree_children(t, "usr/lib/m") == NULL, "a file has no children");
	ok(lade_tree_children(t, "nope") == NULL, "a missing directory has no children");
	/* whiteouts remove children */
	lade_tree_layer_begin(t);
	apply(t, "usr/lib/.wh.m", LADE_ENTRY_FILE, 0644, NULL);
	_cleanup_strv_ char **w = lade_tree_children(t, "usr/lib");
	ok(lade_strv_len(w) == 2 && strcmp(w[1], "z") == 0, "a whited-out child is gone");
}

int main(void)
{
	test_children();
	test_resolve_escape();
	test_json_roundtrip();
	test_hashmap();
	test_apply();
	test_whiteouts();
	test_resolve();
	return tap_done();
}
