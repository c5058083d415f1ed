/* Unit tests: lade_glob_match, .dockerignore (lade_ignore_*) and the directory source
 * (lade_files_add) into a real layer. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lade/files.h"
#include "lade/layer.h"
#include "lade/tree.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

/* ---- glob ---- */

static const struct {
	const char *pattern, *path;
	bool match;
} glob_cases[] = {
        {"*.py", "a.py", true},
        {"*.py", "d/a.py", false},
        {"a/*.py", "a/b.py", true},
        {"a*", "a/b", false},
        {"*a", "ba/a", false},
        {"a?c", "abc", true},
        {"a?c", "a/c", false},
        {"a*b*c", "aXbYc", true},
        {"a*b*c", "aXbYd", false},
        {"**/x", "x", true},
        {"**/x", "a/b/x", true},
        {"**/x", "a/b/xy", false},
        {"a/**", "a", false},
        {"a/**", "a/b", true},
        {"a/**", "a/b/c", true},
        {"a/**", "ab/c", false},
        {"a/**/b", "a/b", true},
        {"a/**/b", "a/x/y/b", true},
        {"a/**/b", "a/x/y/c", false},
        {"**", "anything/at/all", true},
        {"**.py", "a/b.py", false},
        {"**.py", "b.py", true},
        {"a/b", "a/b/c", false},
        {"[abc]x", "bx", true},
        {"[abc]x", "dx", false},
        {"[a-z]1", "q1", true},
        {"[a-z]1", "Q1", false},
        {"[!a-z]1", "Q1", true},
        {"[^a-z]1", "q1", false},
        {"[\\]]", "]", true},
        {"\\*", "*", true},
        {"\\*", "a", false},
        {"a\\?b", "a?b", true},
        {"a\\?b", "axb", false},
        {"?", "\xc3\xa9", true},
        {"??", "\xc3\xa9", false},
        {"[\xc3\xa0-\xc3\xbf]", "\xc3\xa9", true},
        {"/app/*.py", "app/x.py", true},
        {"./a/./b", "a/b", true},
        {"[", "[", false},
        {"[]", "]", false},
        {"[a-]", "a", false},
        {"a\\", "a", false},
};

static void test_glob(void)
{
	for (size_t i = 0; i < LADE_ARRAY_SIZE(glob_cases); i++)
		ok(lade_glob_match(glob_cases[i].pattern, glob_cases[i].path) ==
		           glob_cases[i].match,
		   "glob '%s' %s '%s'", glob_cases[i].pattern,
		   glob_cases[i].match ? "matches" : "does not match", glob_cases[i].path);

	ok(lade_glob_valid("[a-z]*.py") && lade_glob_valid("\\[x") && lade_glob_valid("a/**"),
	   "well-formed patterns are valid");
	ok(!lade_glob_valid("[") && !lade_glob_valid("[]") && !lade_glob_valid("a\\") &&
	           !lade_glob_valid("x/[a-]"),
	   "malformed patterns are invalid");

	/* Hostile patterns: exponential backtracking would never finish. */
	struct lade_buf s = LADE_BUF_INIT, deep = LADE_BUF_INIT, pat = LADE_BUF_INIT;
	for (int i = 0; i < 4000; i++)
		lade_buf_addch(&s, 'a');
	for (int i = 0; i < 1500; i++)
		lade_buf_adds(&deep, i ? "/a" : "a");
	for (int i = 0; i < 40; i++)
		lade_buf_adds(&pat, "**/a*/");
	lade_buf_adds(&pat, "b");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool m1 = lade_glob_match("a*a*a*a*a*a*a*a*b", s.data);
	bool m2 = lade_glob_match("a*a*a*a*a*a*a*a*a", s.data);
	bool m3 = lade_glob_match(pat.data, deep.data);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(!m1 && m2 && !m3, "pathological patterns give the right answers");
	ok(secs < 2.0, "pathological patterns finish fast (%.3f s)", secs);
	lade_buf_release(&s);
	lade_buf_release(&deep);
	lade_buf_release(&pat);
}

/* ---- .dockerignore ---- */

static void test_ignore(void)
{
	_cleanup_(lade_ignore_freep) struct lade_ignore *ig = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	const char *text = "\xef\xbb\xbf# a comment\n"
	                   "\n"
	                   "   \n"
	                   "*.log\n"
	                   "!keep.log\n"
	                   "build\n"
	                   "!build/keep\n"
	                   "/dist/\n"
	                   "docs/./tmp/../cache\n"
	                   "  spaced  \r\n"
	                   " #notcomment\n"
	                   "twice\n"
	                   "!twice\n"
	                   "twice";
	ok(lade_ignore_parse(text, ".dockerignore", &ig, &err) == 0 && ig != NULL,
	   "dockerignore parses");
	if (ig == NULL)
		return;
	ok(lade_ignore_match(ig, "x.log"), "*.log excludes x.log");
	ok(!lade_ignore_match(ig, "sub/x.log"), "*.log only matches at the top");
	ok(!lade_ignore_match(ig, "keep.log"), "!keep.log re-includes");
	ok(lade_ignore_match(ig, "build") && lade_ignore_match(ig, "build/x/y"),
	   "a pattern excludes a directory and everything below it");
	ok(!lade_ignore_match(ig, "build/keep") && !lade_ignore_match(ig, "build/keep/z"),
	   "an exception re-includes a path below an excluded directory");
	ok(lade_ignore_match(ig, "dist/a.js"), "leading and trailing '/' are dropped");
	ok(lade_ignore_match(ig, "docs/cache/f") && !lade_ignore_match(ig, "docs/tmp/f"),
	   "patterns are cleaned");
	ok(lade_ignore_match(ig, "spaced"), "lines are trimmed");
	ok(lade_ignore_match(ig, "#notcomment") && !lade_ignore_match(ig, "# a comment"),
	   "only '#' in column 1 starts a comment");
	ok(lade_ignore_match(ig, "twice"), "the last matching pattern wins");
	ok(!lade_ignore_match(ig, "src/main.c"), "unmatched paths are kept");

	ok(lade_ignore_may_reinclude(ig, "build"), "exception below build: may re-include");
	ok(!lade_ignore_may_reinclude(ig, "build/other"), "no exception below build/other");
	ok(!lade_ignore_may_reinclude(ig, "dist"), "no exception below dist");

	_cleanup_(lade_ignore_freep) struct lade_ignore *ig2 = lade_ignore_new();
	lade_ignore_add(ig2, "*");
	ok(!lade_ignore_may_reinclude(ig2, "a"), "no exceptions: never re-include");
	lade_ignore_add(ig2, "!*/x");
	ok(lade_ignore_may_reinclude(ig2, "a") && !lade_ignore_may_reinclude(ig2, "a/b"),
	   "a wildcard exception reaches exactly one level down");
	lade_ignore_add(ig2, " ! **/*.md\t");
	ok(lade_ignore_may_reinclude(ig2, "a/b/c"), "a ** exception may reach anything");
	ok(!lade_ignore_match(ig2, "a/b/c/README.md") && lade_ignore_match(ig2, "a/b/c/x.c"),
	   "** exception re-includes deep files only");

	struct {
		const char *text, *msg;
	} bad[] = {
	        {"ok\n[x\n", "ctx/.dockerignore:2: malformed pattern '[x'"},
	        {"# c\n  !  \n", "ctx/.dockerignore:2: '!' without a pattern"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++) {
		_cleanup_(lade_ignore_freep) struct lade_ignore *b = NULL;
		_cleanup_error_ struct lade_error *e = NULL;
		ok(lade_ignore_parse(bad[i].text, "ctx/.dockerignore", &b, &e) < 0 && b == NULL,
		   "bad dockerignore %zu is refused", i);
		is_str(e ? e->msg : NULL, bad[i].msg, "bad dockerignore %zu message", i);
	}
}

/* ---- lade_files_add ---- */

static char *tmp;

static void put(const char *dir, const char *name, const char *content, mode_t mode)
{
	_cleanup_free_ char *p = lade_path_join(dir, name);
	_cleanup_fd_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		printf("# cannot write %s\n", p);
}

static void mkd(const char *dir, const char *name, mode_t mode)
{
	_cleanup_free_ char *p = lade_path_join(dir, name);
	if (mkdir(p, mode) < 0)
		printf("# cannot mkdir %s\n", p);
}

static void sym(const char *dir, const char *name, const char *target)
{
	_cleanup_free_ char *p = lade_path_join(dir, name);
	if (symlink(target, p) < 0)
		printf("# cannot symlink %s\n", p);
}

static void hard(const char *dir, const char *from, const char *to)
{
	_cleanup_free_ char *a = lade_path_join(dir, from), *b = lade_path_join(dir, to);
	if (link(a, b) < 0)
		printf("# cannot link %s\n", b);
}

/* The context used by most tests, created under the given umask: files are created 0666 /
 * 0777 so the umask decides their host modes (0600/0700 under 077, 0664/0775 under 002). */
static char *make_ctx(const char *name, mode_t mask)
{
	mode_t old = umask(mask);
	char *d = lade_path_join(tmp, name);
	mkd(tmp, name, 0777);
	put(d, "app.py", "print(1)\n", 0666);
	put(d, "run.sh", "#!/bin/sh\n", 0777);
	mkd(d, "data", 0777);
	put(d, "data/x.txt", "x", 0666);
	sym(d, "link", "app.py");
	mkd(d, "build", 0777);
	put(d, "build/out.o", "o", 0666);
	put(d, "build/keep.txt", "k", 0666);
	put(d, ".dockerignore", "build\n!build/keep.txt\n*.log\n", 0666);
	put(d, "debug.log", "log", 0666);
	mkd(d, "h", 0777);
	put(d, "h/b", "same", 0666);
	hard(d, "h/b", "h/a");
	umask(old);
	return d;
}

static struct lade_recipe_files item_for(char *src, const char *src_text, const char *dst)
{
	return (struct lade_recipe_files){
	        .src = src,
	        .src_real = src,
	        .src_text = (char *)src_text,
	        .dst = (char *)dst,
	        .dockerignore = true,
	        .line = 7,
	        .column = 3,
	};
}

#define E(l, p) lade_layer_lookup(l, p)

static void test_files_dir(void)
{
	_cleanup_free_ char *c1 = make_ctx("ctx", 077);
	_cleanup_free_ char *c2 = make_ctx("ctx2", 002);
	_cleanup_(lade_layer_freep) struct lade_layer *l1 = lade_layer_new("t");
	_cleanup_(lade_layer_freep) struct lade_layer *l2 = lade_layer_new("t");
	_cleanup_error_ struct lade_error *err = NULL;

	struct lade_recipe_files it1 = item_for(c1, "ctx", "/app");
	struct lade_recipe_files it2 = item_for(c2, "ctx2", "/app/");
	ok(lade_files_add(&it1, NULL, l1, &err) == 0, "directory source added (umask 077)");
	if (err)
		printf("# %s\n", err->msg);
	ok(lade_files_add(&it2, NULL, l2, &err) == 0, "directory source added (umask 002)");

	const struct lade_entry *e = E(l1, "app");
	ok(e && e->type == LADE_ENTRY_DIR && e->mode == 0755 && e->uid == 0,
	   "dst directory entry 0755 0:0");
	e = E(l1, "app/app.py");
	ok(e && e->type == LADE_ENTRY_FILE && e->mode == 0644 && e->size == 9,
	   "0600 file becomes 0644");
	if (e) {
		_cleanup_free_ char *want = lade_path_join(c1, "app.py");
		is_str(e->src_path, want, "file content comes from the host path");
		is_str(e->origin, "files (line 7) ctx/app.py", "origin names the item and file");
	}
	e = E(l1, "app/run.sh");
	ok(e && e->mode == 0755, "0700 file becomes 0755");
	e = E(l1, "app/data");
	ok(e && e->type == LADE_ENTRY_DIR && e->mode == 0755, "0700 directory becomes 0755");
	e = E(l1, "app/link");
	ok(e && e->type == LADE_ENTRY_SYMLINK && e->mode == 0777 && e->link &&
	           strcmp(e->link, "app.py") == 0,
	   "symlink kept with its target");
	ok(E(l1, "app/build/out.o") == NULL && E(l1, "app/debug.log") == NULL,
	   ".dockerignore excludes");
	ok(E(l1, "app/build/keep.txt") != NULL && E(l1, "app/build") == NULL,
	   "exception re-includes below an excluded directory without its entry");
	ok(E(l1, "app/.dockerignore") != NULL, ".dockerignore itself is copied");
	const struct lade_entry *ha = E(l1, "app/h/a"), *hb = E(l1, "app/h/b");
	ok(ha && ha->type == LADE_ENTRY_FILE && hb && hb->type == LADE_ENTRY_HARDLINK && hb->link &&
	           strcmp(hb->link, "app/h/a") == 0,
	   "hard links: first in sorted order is the file, the other links to it");

	/* Umask independence: both trees give the same entries. */
	ok(lade_layer_count(l1) == 11 && lade_layer_count(l2) == lade_layer_count(l1),
	   "entry counts (%zu, %zu)", lade_layer_count(l1), lade_layer_count(l2));
	const char *paths[] = {
	        "app",      "app/app.py",         "app/run.sh",        "app/data", "app/data/x.txt",
	        "app/link", "app/build/keep.txt", "app/.dockerignore", "app/h",    "app/h/a",
	        "app/h/b"};
	bool same = true;
	for (size_t i = 0; i < LADE_ARRAY_SIZE(paths); i++) {
		const struct lade_entry *a = E(l1, paths[i]), *b = E(l2, paths[i]);
		if (!a || !b || a->type != b->type || a->mode != b->mode || a->size != b->size ||
		    (a->link == NULL) != (b->link == NULL) ||
		    (a->link && strcmp(a->link, b->link) != 0)) {
			printf("# differs: %s\n", paths[i]);
			same = false;
		}
	}
	ok(same, "modes do not depend on the umask");

	/* exclude:, dockerignore: false, owner and mode. */
	char *exclude[] = {"data", "*.sh", NULL};
	_cleanup_(lade_layer_freep) struct lade_layer *l3 = lade_layer_new("t");
	struct lade_recipe_files it3 = item_for(c1, "ctx", "/srv");
	it3.exclude = exclude;
	it3.dockerignore = false;
	it3.has_owner = true;
	it3.uid = 1000;
	it3.gid = 1001;
	it3.has_mode = true;
	it3.mode = 0600;
	ok(lade_files_add(&it3, NULL, l3, &err) == 0, "item with exclude/owner/mode added");
	ok(E(l3, "srv/data") == NULL && E(l3, "srv/data/x.txt") == NULL &&
	           E(l3, "srv/run.sh") == NULL && E(l3, "srv/app.py") != NULL,
	   "exclude globs drop a directory and matching files");
	ok(E(l3, "srv/debug.log") != NULL && E(l3, "srv/build/out.o") != NULL,
	   "dockerignore: false ignores .dockerignore");
	e = E(l3, "srv/app.py");
	ok(e && e->mode == 0600 && e->uid == 1000 && e->gid == 1001, "recipe mode and owner");
	e = E(l3, "srv/build");
	ok(e && e->mode == 0755 && e->uid == 1000 && e->gid == 1001,
	   "directories keep 0755 and get the owner");
	e = E(l3, "srv/link");
	ok(e && e->mode == 0777 && e->uid == 1000, "symlinks stay 0777 with the owner");
}

static void test_files_single(void)
{
	_cleanup_free_ char *c = lade_path_join(tmp, "ctx");
	_cleanup_free_ char *f = lade_path_join(c, "run.sh");
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("t");

	struct lade_recipe_files a = item_for(f, "ctx/run.sh", "/usr/local/bin/");
	struct lade_recipe_files b = item_for(f, "ctx/run.sh", "/usr/bin/tool");
	ok(lade_files_add(&a, NULL, l, &err) == 0 && lade_files_add(&b, NULL, l, &err) == 0,
	   "file sources added");
	const struct lade_entry *e = E(l, "usr/local/bin/run.sh");
	ok(e && e->type == LADE_ENTRY_FILE && e->mode == 0755 && e->src_path &&
	           strcmp(e->src_path, f) == 0,
	   "dst ending in '/' gets the source's basename");
	ok(E(l, "usr/bin/tool") != NULL && E(l, "usr/bin/tool/run.sh") == NULL,
	   "dst without '/' is the file path");
	ok(E(l, "usr/local/bin") == NULL, "no entry for the parent of a file");

	/* A symlink given as the source is followed, and keeps its own name. */
	sym(tmp, "alink", "ctx/app.py");
	sym(tmp, "dlink", "ctx");
	_cleanup_free_ char *al = lade_path_join(tmp, "alink");
	_cleanup_free_ char *dl = lade_path_join(tmp, "dlink");
	struct lade_recipe_files s1 = item_for(al, "alink", "/x/");
	struct lade_recipe_files s2 = item_for(dl, "dlink", "/d");
	ok(lade_files_add(&s1, NULL, l, &err) == 0 && lade_files_add(&s2, NULL, l, &err) == 0,
	   "symlink sources added");
	e = E(l, "x/alink");
	ok(e && e->type == LADE_ENTRY_FILE && e->size == 9, "symlink to a file copies the file");
	ok(E(l, "d/app.py") != NULL && E(l, "d/data/x.txt") != NULL,
	   "symlink to a directory copies its contents");
}

static void test_files_base(void)
{
	_cleanup_free_ char *c = lade_path_join(tmp, "ctx");
	_cleanup_free_ char *f = lade_path_join(c, "app.py");
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("t");

	lade_tree_layer_begin(t);
	int r = lade_tree_apply(t, "usr", LADE_ENTRY_DIR, 0755, 0, 0, 0, NULL, &err);
	r |= lade_tree_apply(t, "usr/lib", LADE_ENTRY_DIR, 0755, 0, 0, 0, NULL, &err);
	r |= lade_tree_apply(t, "lib", LADE_ENTRY_SYMLINK, 0777, 0, 0, 0, "usr/lib", &err);
	r |= lade_tree_apply(t, "opt", LADE_ENTRY_DIR, 0755, 0, 0, 0, NULL, &err);
	ok(r == 0, "base tree built");

	struct lade_recipe_files a = item_for(c, "ctx", "/lib/x");
	struct lade_recipe_files b = item_for(f, "ctx/app.py", "/lib/");
	struct lade_recipe_files d = item_for(f, "ctx/app.py", "/opt");
	a.exclude = (char *[]){"h", "build", NULL};
	ok(lade_files_add(&a, t, l, &err) == 0, "directory into /lib/x on a merged-/usr base");
	if (err)
		printf("# %s\n", err->msg);
	ok(E(l, "usr/lib/x") != NULL && E(l, "usr/lib/x/app.py") != NULL && E(l, "lib/x") == NULL &&
	           E(l, "lib") == NULL,
	   "the destination's parent is resolved through the base symlink");
	ok(lade_files_add(&b, t, l, &err) == 0 && E(l, "usr/lib/app.py") != NULL,
	   "file into /lib/ lands in usr/lib");
	ok(lade_files_add(&d, t, l, &err) == 0 && E(l, "opt/app.py") != NULL,
	   "file onto a directory of the base goes into it");

	_cleanup_(lade_layer_freep) struct lade_layer *l2 = lade_layer_new("t");
	struct lade_recipe_files g = item_for(c, "ctx", "/lib");
	g.exclude = (char *[]){"h", "build", NULL};
	ok(lade_files_add(&g, t, l2, &err) == 0 && E(l2, "usr/lib/app.py") != NULL &&
	           E(l2, "usr/lib") == NULL && E(l2, "lib") == NULL,
	   "a symlinked destination directory is followed and keeps the base's metadata");
}

static void test_files_order(void)
{
	/* The same tree created in two different orders (so readdir differs, at least on
	 * hashed or creation-ordered directories) gives the same entries. */
	_cleanup_free_ char *o1 = lade_path_join(tmp, "ord1");
	_cleanup_free_ char *o2 = lade_path_join(tmp, "ord2");
	mkd(tmp, "ord1", 0755);
	mkd(tmp, "ord2", 0755);
	char name[32];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		put(o1, name, name, 0644);
		snprintf(name, sizeof(name), "f%02d", 39 - i);
		put(o2, name, name, 0644);
	}
	put(o1, "z", "hl", 0644);
	hard(o1, "z", "m");
	hard(o1, "z", "a");
	put(o2, "a", "hl", 0644);
	hard(o2, "a", "z");
	hard(o2, "a", "m");

	_cleanup_(lade_layer_freep) struct lade_layer *l1 = lade_layer_new("t");
	_cleanup_(lade_layer_freep) struct lade_layer *l2 = lade_layer_new("t");
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_recipe_files a = item_for(o1, "ord1", "/o");
	struct lade_recipe_files b = item_for(o2, "ord2", "/o");
	ok(lade_files_add(&a, NULL, l1, &err) == 0 && lade_files_add(&b, NULL, l2, &err) == 0,
	   "both orders added");
	bool same = lade_layer_count(l1) == 44 && lade_layer_count(l2) == 44;
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "o/f%02d", i);
		const struct lade_entry *x = E(l1, name), *y = E(l2, name);
		same = same && x && y && x->size == y->size && x->type == y->type;
	}
	ok(same, "same entries whatever the creation order");
	const struct lade_entry *x = E(l1, "o/a"), *y = E(l2, "o/a");
	const struct lade_entry *xm = E(l1, "o/m"), *ym = E(l2, "o/z");
	ok(x && y && x->type == LADE_ENTRY_FILE && y->type == LADE_ENTRY_FILE && xm &&
	           xm->type == LADE_ENTRY_HARDLINK && ym && ym->type == LADE_ENTRY_HARDLINK &&
	           strcmp(xm->link, "o/a") == 0 && strcmp(ym->link, "o/a") == 0,
	   "the hard link file is the first name in sorted order, not the first created");
}

static void expect_error(struct lade_recipe_files *it, const char *want, const char *name)
{
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("t");
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_files_add(it, NULL, l, &err) < 0, "%s is refused", name);
	is_str(err ? err->msg : NULL, want, "%s message", name);
}

static void test_files_errors(void)
{
	_cleanup_free_ char *bad = lade_path_join(tmp, "bad");
	mkd(tmp, "bad", 0755);
	put(bad, "ok.txt", "", 0644);
	_cleanup_free_ char *fifo = lade_path_join(bad, "pipe");
	if (mkfifo(fifo, 0644) < 0)
		printf("# mkfifo failed: %s\n", strerror(errno));
	struct lade_recipe_files it = item_for(bad, "bad", "/b");
	expect_error(&it,
	             "files entry at line 7: bad/pipe is a FIFO: only files, directories and "
	             "symlinks can be copied",
	             "fifo");

	it.exclude = (char *[]){"pipe", NULL};
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("t");
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_files_add(&it, NULL, l, &err) == 0 && E(l, "b/ok.txt") != NULL,
	   "an excluded fifo is not an error");

	it.exclude = (char *[]){"ok", "x[", NULL};
	expect_error(&it, "files entry at line 7: exclude pattern 'x[' is malformed",
	             "malformed exclude");
	it.exclude = NULL;

	_cleanup_free_ char *ctx3 = lade_path_join(tmp, "ctx3");
	mkd(tmp, "ctx3", 0755);
	put(ctx3, ".dockerignore", "ok\n[\n", 0644);
	struct lade_recipe_files di = item_for(ctx3, "ctx3", "/c");
	expect_error(&di, "files entry at line 7: ctx3/.dockerignore:2: malformed pattern '['",
	             "malformed .dockerignore");

	_cleanup_free_ char *missing = lade_path_join(tmp, "nope");
	struct lade_recipe_files m = item_for(missing, "nope", "/n");
	expect_error(&m, "files entry at line 7: cannot access nope: No such file or directory",
	             "missing source");

	struct lade_recipe_files up = item_for(bad, "bad", "/../x");
	up.exclude = (char *[]){"pipe", NULL};
	expect_error(&up,
	             "files entry at line 7: destination /../x: path '/../x' climbs above the root",
	             "destination above the root");

	struct lade_buf longdst = LADE_BUF_INIT;
	lade_buf_addch(&longdst, '/');
	/* Components of 200 bytes: the whole path, not one component, is too long. */
	for (int i = 0; i < 4090; i++)
		lade_buf_addch(&longdst, i % 201 == 200 ? '/' : 'd');
	struct lade_recipe_files lg = item_for(bad, "bad", longdst.data);
	lg.exclude = (char *[]){"pipe", NULL};
	_cleanup_(lade_layer_freep) struct lade_layer *l4 = lade_layer_new("t");
	_cleanup_error_ struct lade_error *e4 = NULL;
	ok(lade_files_add(&lg, NULL, l4, &e4) < 0 && e4 &&
	           strstr(e4->msg, "files entry at line 7: bad/ok.txt: image path /ddd") &&
	           strstr(e4->msg, "is longer than 4095 bytes"),
	   "an image path longer than 4095 bytes is refused (%s)", e4 ? e4->msg : "no error");
	lade_buf_release(&longdst);
}

int main(void)
{
	test_glob();
	test_ignore();

	tmp = make_tmpdir("test-files");
	test_files_dir();
	test_files_single();
	test_files_base();
	test_files_order();
	test_files_errors();
	rm_rf(tmp);
	free(tmp);
	return tap_done();
}
