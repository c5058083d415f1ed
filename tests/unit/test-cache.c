/* Unit tests for the layer cache (assembler/cache.c) and layer splitting (lade_layer_split). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/cache.h"
#include "lade/layer.h"
#include "lade/statcache.h"
#include "lade/store.h"
#include "lade/tree.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

static char *tmp;

static char *tpath(const char *rel)
{
	return lade_path_join(tmp, rel);
}

static void write_text(const char *rel, const char *text)
{
	_cleanup_free_ char *p = tpath(rel);
	_cleanup_error_ struct lade_error *err = NULL;
	/* A new inode, as an editor that saves by rename would give. */
	unlink(p);
	if (lade_write_file_atomic(p, text, strlen(text), &err) < 0)
		printf("# cannot write %s: %s\n", p, err->msg);
}

static void add(struct lade_layer *l, struct lade_entry *e)
{
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_layer_add(l, e, &err) < 0)
		printf("# cannot add: %s\n", err->msg);
}

static struct lade_entry *host_file(const char *path, const char *rel)
{
	struct lade_entry *e = lade_entry_new(path, LADE_ENTRY_FILE, rel);
	e->mode = 0644;
	e->src_path = tpath(rel);
	struct stat st;
	e->size = stat(e->src_path, &st) == 0 ? (uint64_t)st.st_size : 0;
	return e;
}

static struct lade_entry *mem_file(const char *path, const char *text, bool with_sha)
{
	struct lade_entry *e = lade_entry_new(path, LADE_ENTRY_FILE, path);
	e->mode = 0644;
	lade_buf_adds(&e->data, text);
	e->size = e->data.len;
	if (with_sha) {
		char d[LADE_DIGEST_STRLEN];
		lade_sha256_buf(text, strlen(text), d);
		for (size_t i = 0; i < 32; i++)
			sscanf(lade_digest_hex(d) + 2 * i, "%2hhx", &e->sha256[i]);
		e->has_sha256 = true;
	}
	return e;
}

/* The app layer: two host files and a generated one. */
static struct lade_layer *app_layer(void)
{
	struct lade_layer *l = lade_layer_new("files /app");
	add(l, host_file("app/a.txt", "src/a.txt"));
	add(l, host_file("app/b.txt", "src/b.txt"));
	add(l, mem_file("app/gen.txt", "generated\n", false));
	return l;
}

/* A wheel-like layer: RECORD hashes known. */
static struct lade_layer *wheel_layer(const char *content)
{
	struct lade_layer *l = lade_layer_new("numpy");
	add(l, mem_file("opt/venv/lib/numpy/__init__.py", content, true));
	add(l, mem_file("opt/venv/lib/numpy/core.py", "core\n", true));
	return l;
}

static const struct lade_layer_options gzip_opts = {
        .compression = LADE_COMPRESS_GZIP, .level = -1, .jobs = 1, .mtime = 0, .base = NULL};

static int write_cached(struct lade_cache *c, struct lade_layer *l,
                        const struct lade_layer_options *o, struct lade_store *s,
                        struct lade_layer_result *res, bool *reused)
{
	_cleanup_error_ struct lade_error *err = NULL;
	int rc = lade_layer_write_cached(c, l, o, s, res, reused, &err);
	if (rc < 0)
		printf("# write_cached: %s\n", err->msg);
	return rc;
}

static char *key_of(struct lade_cache *c, struct lade_layer *l, const struct lade_layer_options *o)
{
	char k[65];
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_cache_key(c, l, o, k, &err) < 0) {
		printf("# key: %s\n", err->msg);
		return xstrdup("(error)");
	}
	return xstrdup(k);
}

/* Files in a blob dir and the newest mtime: what a rewrite would change. */
static size_t count_blobs(const char *store_rel, int64_t *newest_ns)
{
	_cleanup_free_ char *d = tpath(store_rel);
	_cleanup_free_ char *bd = lade_path_join(d, "blobs/sha256");
	DIR *dir = opendir(bd);
	size_t n = 0;
	*newest_ns = 0;
	if (dir == NULL)
		return 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		struct stat st;
		if (fstatat(dirfd(dir), de->d_name, &st, 0) == 0) {
			int64_t ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
			if (ns > *newest_ns)
				*newest_ns = ns;
		}
	}
	closedir(dir);
	return n;
}

static struct lade_store *open_store(const char *rel)
{
	_cleanup_free_ char *p = tpath(rel);
	struct lade_store *s = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_store_open(p, 0, &s, &err) < 0)
		printf("# store: %s\n", err->msg);
	return s;
}

static bool blob_ok(struct lade_store *s, const char *digest)
{
	_cleanup_free_ char *p = lade_store_blob_path(s, digest);
	char got[LADE_DIGEST_STRLEN];
	uint64_t size;
	_cleanup_error_ struct lade_error *err = NULL;
	return lade_sha256_file(p, got, &size, &err) == 0 && strcmp(got, digest) == 0;
}

static void test_cache(void)
{
	_cleanup_free_ char *cdir = tpath("cache");
	_cleanup_free_ char *src = tpath("src");
	_cleanup_error_ struct lade_error *err = NULL;
	lade_mkdir_p(src, &err);
	write_text("src/a.txt", "alpha\n");
	write_text("src/b.txt", "bravo\n");

	struct lade_cache *c = NULL;
	ok(lade_cache_open(cdir, &c, &err) == 0, "cache opens");
	if (c == NULL)
		return;
	_cleanup_free_ char *layers_dir = tpath("cache/layers");
	struct stat st;
	ok(stat(layers_dir, &st) == 0 && S_ISDIR(st.st_mode), "cache has a layers directory");
	is_str(lade_cache_dir(c), cdir, "cache dir as given");

	struct lade_store *s1 = open_store("out1");
	struct lade_layer *app = app_layer();
	struct lade_layer *whl = wheel_layer("numpy 1\n");
	struct lade_layer_result r_app, r_whl, r;
	bool reused = true;

	ok(write_cached(c, app, &gzip_opts, s1, &r_app, &reused) == 0 && !reused,
	   "first write of the app layer is a miss");
	ok(write_cached(c, whl, &gzip_opts, s1, &r_whl, &reused) == 0 && !reused,
	   "first write of the wheel layer is a miss");
	ok(lade_cache_warning(c) == NULL, "no warning on a clean miss");
	_cleanup_free_ char *key_app = key_of(c, app, &gzip_opts);
	_cleanup_free_ char *ename = xasprintf("cache/layers/%s.json", key_app);
	_cleanup_free_ char *epath = tpath(ename);
	ok(stat(epath, &st) == 0, "entry written under the key");
	_cleanup_free_ char *cblob_rel =
	        xasprintf("cache/blobs/sha256/%s", lade_digest_hex(r_app.digest));
	_cleanup_free_ char *cblob = tpath(cblob_rel);
	ok(stat(cblob, &st) == 0, "blob recorded in the cache");

	int64_t t_before, t_after;
	size_t n_before = count_blobs("out1", &t_before);
	ok(write_cached(c, app, &gzip_opts, s1, &r, &reused) == 0 && reused,
	   "unchanged app layer is a hit");
	ok(strcmp(r.digest, r_app.digest) == 0 && strcmp(r.diff_id, r_app.diff_id) == 0 &&
	           r.size == r_app.size && r.tar_size == r_app.tar_size &&
	           r.entries == r_app.entries && r.content_size == r_app.content_size &&
	           strcmp(r.media_type, r_app.media_type) == 0,
	   "a hit gives the same result as the write");
	size_t n_after = count_blobs("out1", &t_after);
	ok(n_before == n_after && t_before == t_after, "a hit writes no blob (%zu blobs)", n_after);

	/* A fresh output store: imported from the cache. */
	struct lade_store *s2 = open_store("out2");
	ok(write_cached(c, whl, &gzip_opts, s2, &r, &reused) == 0 && reused &&
	           strcmp(r.digest, r_whl.digest) == 0,
	   "hit into a new output store");
	ok(lade_store_has(s2, r_whl.digest) && blob_ok(s2, r_whl.digest),
	   "blob imported from the cache, digest verified");

	/* Touch one app file: its content changes, so only the app layer misses. */
	write_text("src/a.txt", "ALPHA\n");
	lade_layer_free(app);
	app = app_layer();
	_cleanup_free_ char *key_app2 = key_of(c, app, &gzip_opts);
	ok(strcmp(key_app, key_app2) != 0, "changed file content changes the key");
	ok(write_cached(c, app, &gzip_opts, s1, &r, &reused) == 0 && !reused &&
	           strcmp(r.digest, r_app.digest) != 0,
	   "changed app layer is rebuilt");
	ok(write_cached(c, whl, &gzip_opts, s1, &r, &reused) == 0 && reused,
	   "the wheel layer is still a hit");

	/* Same content, different mtime: content based. */
	_cleanup_free_ char *ap = tpath("src/a.txt");
	struct timespec old[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
	utimensat(AT_FDCWD, ap, old, 0);
	_cleanup_free_ char *key_app3 = key_of(c, app, &gzip_opts);
	is_str(key_app3, key_app2, "mtime of a host file is not part of the key");
	ok(write_cached(c, app, &gzip_opts, s1, &r, &reused) == 0 && reused,
	   "same content with another mtime is a hit");

	/* Wheel-style: a different RECORD hash is a miss. */
	struct lade_layer *whl2 = wheel_layer("numpy 2\n");
	ok(write_cached(c, whl2, &gzip_opts, s1, &r, &reused) == 0 && !reused &&
	           strcmp(r.digest, r_whl.digest) != 0,
	   "changed wheel content is a miss");
	lade_layer_free(whl2);
	/* Same bytes but the sha256 field alone changed: still a different key. */
	whl2 = wheel_layer("numpy 1\n");
	_cleanup_free_ char *kw1 = key_of(c, whl2, &gzip_opts);
	lade_layer_free(whl2);
	whl2 = lade_layer_new("numpy");
	struct lade_entry *we = mem_file("opt/venv/lib/numpy/__init__.py", "numpy 1\n", true);
	we->sha256[0] ^= 1;
	add(whl2, we);
	add(whl2, mem_file("opt/venv/lib/numpy/core.py", "core\n", true));
	_cleanup_free_ char *kw2 = key_of(c, whl2, &gzip_opts);
	ok(strcmp(kw1, kw2) != 0, "a has_sha256 change alone changes the key");
	lade_layer_free(whl2);

	/* Every option and metadata byte counts. */
	struct lade_layer_options o = gzip_opts;
	o.mtime = 1;
	_cleanup_free_ char *k_mtime = key_of(c, app, &o);
	o = gzip_opts;
	o.compression = LADE_COMPRESS_ZSTD;
	_cleanup_free_ char *k_zstd = key_of(c, app, &o);
	o = gzip_opts;
	o.level = 6;
	_cleanup_free_ char *k_level = key_of(c, app, &o);
	o = gzip_opts;
	o.jobs = 4;
	_cleanup_free_ char *k_jobs = key_of(c, app, &o);
	ok(strcmp(k_mtime, key_app2) && strcmp(k_zstd, key_app2) && strcmp(k_level, key_app2),
	   "mtime, compression and level change the key");
	is_str(k_jobs, key_app2, "the thread count (no effect on the bytes) does not");
	o = gzip_opts;
	o.key_extra = "python compiler 3.11.2 (main)";
	_cleanup_free_ char *k_extra = key_of(c, app, &o);
	o.key_extra = "python compiler 3.11.9 (main)";
	_cleanup_free_ char *k_extra2 = key_of(c, app, &o);
	ok(strcmp(k_extra, key_app2) && strcmp(k_extra, k_extra2),
	   "the bytecode compiler's version changes the key");

	struct lade_tree *base = lade_tree_new();
	lade_tree_layer_begin(base);
	lade_tree_apply(base, "app", LADE_ENTRY_DIR, 0700, 0, 0, 0, NULL, &err);
	o = gzip_opts;
	o.base = base;
	_cleanup_free_ char *k_base = key_of(c, app, &o);
	ok(strcmp(k_base, key_app2) != 0, "implicit parent metadata from the base changes the key");
	lade_tree_free(base);

	const char *variants[] = {"mode", "uid", "gid", "path", "link", "data"};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(variants); i++) {
		_cleanup_(lade_layer_freep) struct lade_layer *a = lade_layer_new("x");
		_cleanup_(lade_layer_freep) struct lade_layer *b = lade_layer_new("x");
		add(a, mem_file("x/f", "data", false));
		struct lade_entry *e = lade_entry_new("x/l", LADE_ENTRY_SYMLINK, NULL);
		e->link = xstrdup("f");
		e->mode = 0777;
		add(a, e);
		struct lade_entry *f =
		        mem_file(i == 3 ? "x/g" : "x/f", i == 5 ? "datb" : "data", false);
		f->mode = i == 0 ? 0755 : 0644;
		f->uid = i == 1;
		f->gid = i == 2;
		add(b, f);
		e = lade_entry_new("x/l", LADE_ENTRY_SYMLINK, NULL);
		e->link = xstrdup(i == 4 ? "g" : "f");
		e->mode = 0777;
		add(b, e);
		_cleanup_free_ char *ka = key_of(c, a, &gzip_opts);
		_cleanup_free_ char *kb = key_of(c, b, &gzip_opts);
		ok(strcmp(ka, kb) != 0, "entry %s changes the key", variants[i]);
	}

	/* Corrupted cached blob: detected, never used, rebuilt, entry replaced. */
	_cleanup_free_ char *wblob_rel =
	        xasprintf("cache/blobs/sha256/%s", lade_digest_hex(r_whl.digest));
	/* Same size, other bytes: only the digest check can tell. */
	_cleanup_free_ char *garbage = xmalloc(r_whl.size + 1);
	memset(garbage, 'x', r_whl.size);
	garbage[r_whl.size] = '\0';
	write_text(wblob_rel, garbage);
	struct lade_store *s3 = open_store("out3");
	ok(write_cached(c, whl, &gzip_opts, s3, &r, &reused) == 0 && !reused,
	   "a corrupted cached blob is not used");
	ok(lade_cache_warning(c) && strstr(lade_cache_warning(c), "dropped entry") &&
	           strstr(lade_cache_warning(c), "layer numpy"),
	   "the corruption is reported: %s", lade_cache_warning(c));
	ok(strcmp(r.digest, r_whl.digest) == 0 && blob_ok(s3, r.digest),
	   "the rebuilt layer is the right one");
	_cleanup_free_ char *wblob = tpath(wblob_rel);
	char got[LADE_DIGEST_STRLEN];
	uint64_t gsize;
	ok(lade_sha256_file(wblob, got, &gsize, &err) == 0 && strcmp(got, r_whl.digest) == 0,
	   "the cache holds a good blob again");
	struct lade_store *s4 = open_store("out4");
	ok(write_cached(c, whl, &gzip_opts, s4, &r, &reused) == 0 && reused &&
	           lade_cache_warning(c) == NULL,
	   "and the replaced entry hits");

	/* A broken entry file. */
	_cleanup_free_ char *ename2 = xasprintf("cache/layers/%s.json", key_app2);
	write_text(ename2, "{\"digest\":42}");
	ok(write_cached(c, app, &gzip_opts, s4, &r, &reused) == 0 && !reused,
	   "a broken entry is not used");
	ok(lade_cache_warning(c) && strstr(lade_cache_warning(c), "not a valid cache entry"),
	   "broken entry reported: %s", lade_cache_warning(c));
	ok(write_cached(c, app, &gzip_opts, s4, &r, &reused) == 0 && reused, "and rewritten");

	/* No cache: a plain write. */
	ok(write_cached(NULL, app, &gzip_opts, s4, &r, &reused) == 0 && !reused,
	   "NULL cache writes without reuse");

	/* The stat cache is consulted: a recorded identity is believed without reading. */
	lade_cache_free(c);
	c = NULL;
	_cleanup_free_ char *bp = tpath("src/b.txt");
	stat(bp, &st);
	_cleanup_free_ char *id =
	        xasprintf("%ju:%ju:%jd:%lld:%lld:%s", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
	                  (intmax_t)st.st_size,
	                  (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
	                  (long long)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec, bp);
	json_t *j = json_object();
	json_object_set_new(j, id,
	                    json_string("sha256:0000000000000000000000000000000000000000"
	                                "000000000000000000000000"));
	_cleanup_free_ char *sc = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	write_text("cache/stat-cache.json", sc);
	ok(lade_cache_open(cdir, &c, &err) == 0, "cache reopens");
	_cleanup_free_ char *k_stat = key_of(c, app, &gzip_opts);
	ok(strcmp(k_stat, key_app2) != 0, "a recorded stat identity supplies the content hash");
	lade_cache_free(c);

	/* The default directory. */
	_cleanup_free_ char *xdg = tpath("xdg");
	setenv("XDG_CACHE_HOME", xdg, 1);
	c = NULL;
	ok(lade_cache_open(NULL, &c, &err) == 0, "default cache opens");
	_cleanup_free_ char *want = tpath("xdg/lade");
	is_str(c ? lade_cache_dir(c) : NULL, want, "default is $XDG_CACHE_HOME/lade");
	lade_cache_free(c);
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "relative", 1);
	c = NULL;
	lade_error_free(err);
	err = NULL;
	ok(lade_cache_open(NULL, &c, &err) < 0 && err &&
	           strstr(err->msg, "no content store directory") == err->msg,
	   "no usable home: clear error");

	lade_layer_free(app);
	lade_layer_free(whl);
	lade_store_free(s1);
	lade_store_free(s2);
	lade_store_free(s3);
	lade_store_free(s4);
}

/* ---- the stat cache (wheel and host file hashes) ---- */

static char *identity(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return xstrdup("");
	return xasprintf("%ju:%ju:%jd:%lld:%lld:%s", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
	                 (intmax_t)st.st_size,
	                 (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
	                 (long long)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec, path);
}

/* A stat cache file that says `path` (as it is now) has the digest `fake`. */
static void plant(const char *cache_rel, const char *path, const char *fake)
{
	_cleanup_free_ char *id = identity(path);
	json_t *j = json_object();
	json_object_set_new(j, id, json_string(fake));
	_cleanup_free_ char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	write_text(cache_rel, text);
}

/* What a stat cache loaded from cache_rel says path's sha256 is; *read: whether it read the
 * file to say so. */
static char *hash_via(const char *cache_rel, const char *path, bool *read)
{
	_cleanup_free_ char *cp = tpath(cache_rel);
	_cleanup_(lade_stat_cache_freep) struct lade_stat_cache *sc = lade_stat_cache_load(cp);
	_cleanup_error_ struct lade_error *err = NULL;
	char d[LADE_DIGEST_STRLEN];
	if (lade_stat_cache_sha256(sc, path, true, d, &err) < 0)
		return xstrdup(err->msg);
	size_t hashed, hits;
	lade_stat_cache_counts(sc, &hashed, &hits);
	*read = hashed == 1 && hits == 0;
	if (lade_stat_cache_save(sc, &err) < 0)
		printf("# cannot save: %s\n", err->msg);
	return xstrdup(d);
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
	if (utimensat(AT_FDCWD, path, ts, 0) < 0)
		printf("# cannot set times of %s\n", path);
}

static void test_stat_cache(void)
{
	const char *fake =
	        "sha256:00000000000000000000000000000000000000000000000000000000000000ff";
	_cleanup_free_ char *dir = tpath("wh");
	mkdir(dir, 0755);
	_cleanup_free_ char *whl = tpath("wh/a-1-py3-none-any.whl");
	write_text("wh/a-1-py3-none-any.whl", "wheel bytes v1");
	set_mtime(whl, 1000000000, 5);
	char real1[LADE_DIGEST_STRLEN], real2[LADE_DIGEST_STRLEN];
	lade_sha256_buf("wheel bytes v1", 14, real1);
	lade_sha256_buf("wheel bytes v2", 14, real2);
	bool read = false;

	/* unchanged identity: believed without reading (the planted digest is not the content) */
	plant("sc1.json", whl, fake);
	_cleanup_free_ char *h1 = hash_via("sc1.json", whl, &read);
	is_str(h1, fake, "an unchanged wheel is not read: the recorded hash is used");
	ok(!read, "and the file was not read");

	/* touched (mtime and ctime change): hashed again */
	set_mtime(whl, 1000000001, 5);
	_cleanup_free_ char *h2 = hash_via("sc1.json", whl, &read);
	is_str(h2, real1, "a touched wheel is hashed again");
	ok(read, "and read");

	/* a same-size rewrite in place with the mtime put back (same second, same ns): only
	 * ctime tells, and it is enough */
	plant("sc2.json", whl, fake);
	struct stat before, after;
	stat(whl, &before);
	{
		int fd = open(whl, O_WRONLY);
		ok(fd >= 0 && pwrite(fd, "wheel bytes v2", 14, 0) == 14 && close(fd) == 0,
		   "rewrite the wheel in place, same size");
	}
	set_mtime(whl, before.st_mtim.tv_sec, before.st_mtim.tv_nsec);
	stat(whl, &after);
	ok(after.st_size == before.st_size && after.st_ino == before.st_ino &&
	           after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
	           after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
	   "size, inode and mtime are as recorded");
	_cleanup_free_ char *h3 = hash_via("sc2.json", whl, &read);
	is_str(h3, real2, "a same-size rewrite within the same mtime is hashed again (ctime)");

	/* replaced by rename (a new inode, as pip download or an editor gives) */
	plant("sc3.json", whl, fake);
	_cleanup_free_ char *other = tpath("wh/.new");
	{
		_cleanup_error_ struct lade_error *err = NULL;
		ok(lade_write_file_atomic(other, "wheel bytes v1", 14, &err) == 0,
		   "write a new file");
	}
	set_mtime(other, after.st_mtim.tv_sec, after.st_mtim.tv_nsec);
	ok(rename(other, whl) == 0, "rename it over the wheel");
	_cleanup_free_ char *h4 = hash_via("sc3.json", whl, &read);
	is_str(h4, real1, "a wheel replaced by rename is hashed again");

	/* a freshly written file is racily clean: hashed but not recorded; an old enough one is
	 * recorded and then believed */
	_cleanup_free_ char *h5 = hash_via("sc4.json", whl, &read);
	_cleanup_free_ char *sc4 = tpath("sc4.json");
	ok(access(sc4, F_OK) < 0, "a just-changed file is not recorded (racily clean)");
	struct timespec nap = {2, 100000000};
	nanosleep(&nap, NULL);
	_cleanup_free_ char *h6 = hash_via("sc4.json", whl, &read);
	ok(read && strcmp(h6, real1) == 0 && access(sc4, F_OK) == 0,
	   "a file unchanged for 2 s is hashed and recorded");
	_cleanup_free_ char *h7 = hash_via("sc4.json", whl, &read);
	ok(!read && strcmp(h7, real1) == 0, "and the next run does not read it");

	/* no stat cache: always read */
	char d[LADE_DIGEST_STRLEN];
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_stat_cache_sha256(NULL, whl, true, d, &err) == 0 && strcmp(d, real1) == 0,
	   "without a stat cache the file is hashed");
	ok(lade_stat_cache_sha256(NULL, dir, true, d, &err) < 0 && err &&
	           strstr(err->msg, "is not a regular file"),
	   "a directory is refused by name");
}

/* ---- trimming: least recently used first ---- */

static void age_entry(const char *cdir, const char *key, time_t sec)
{
	_cleanup_free_ char *p = xasprintf("%s/layers/%s.json", cdir, key);
	struct timespec ts[2] = {{sec, 0}, {sec, 0}};
	if (utimensat(AT_FDCWD, p, ts, 0) < 0)
		printf("# cannot age %s\n", p);
}

static bool has_entry(const char *cdir, const char *key)
{
	_cleanup_free_ char *p = xasprintf("%s/layers/%s.json", cdir, key);
	return access(p, F_OK) == 0;
}

static void test_trim(void)
{
	_cleanup_free_ char *cdir = tpath("trim-cache");
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_cache *c = NULL;
	if (lade_cache_open(cdir, &c, &err) < 0) {
		ok(0, "open: %s", err->msg);
		return;
	}
	struct lade_store *s = open_store("trim-out");
	/* three layers of distinct, incompressible-ish content, oldest first */
	char keys[3][65];
	struct lade_layer_result res[3];
	for (int i = 0; i < 3; i++) {
		_cleanup_free_ char *text = xmalloc(200001);
		for (int k = 0; k < 200000; k++)
			text[k] = (char)('a' + (k * 7919 + i * 104729 + (k >> 5) * 31) % 26);
		text[200000] = '\0';
		struct lade_layer *l = wheel_layer(text);
		bool reused;
		ok(write_cached(c, l, &gzip_opts, s, &res[i], &reused) == 0, "layer %d cached", i);
		char *k = key_of(c, l, &gzip_opts);
		snprintf(keys[i], sizeof(keys[i]), "%s", k);
		free(k);
		age_entry(cdir, keys[i], 1000000000 + i * 1000);
		lade_layer_free(l);
	}
	/* layer 0 is hit now: it becomes the most recently used */
	{
		_cleanup_free_ char *text = xmalloc(200001);
		for (int k = 0; k < 200000; k++)
			text[k] = (char)('a' + (k * 7919 + (k >> 5) * 31) % 26);
		text[200000] = '\0';
		struct lade_layer *l = wheel_layer(text);
		struct lade_layer_result r;
		bool reused = false;
		ok(write_cached(c, l, &gzip_opts, s, &r, &reused) == 0 && reused, "layer 0 hits");
		lade_layer_free(l);
	}
	struct stat st;
	_cleanup_free_ char *e0 = xasprintf("%s/layers/%s.json", cdir, keys[0]);
	ok(stat(e0, &st) == 0 && st.st_mtim.tv_sec > 1000000000 + 10000,
	   "a hit refreshes the mtime");

	/* room for about one layer: the least recently used (1, then 2) go */
	/* room for one layer blob and its entry file (a few hundred bytes), not for two */
	uint64_t one = res[0].size + 1000;
	struct lade_cache_gc_options o = {.max_size = one, .older_than_s = -1, .dry_run = true};
	struct lade_cache_gc_report r;
	ok(lade_cache_gc(c, &o, &r, &err) == 0 && r.entries == 2 && r.blobs.blobs == 2,
	   "dry run: 2 entries and their 2 blobs would go (%zu, %zu)", r.entries, r.blobs.blobs);
	lade_cache_gc_report_release(&r);
	ok(has_entry(cdir, keys[1]) && lade_store_has(lade_cache_store(c), res[1].digest),
	   "the dry run removed nothing");
	o.dry_run = false;
	ok(lade_cache_gc(c, &o, &r, &err) == 0 && r.entries == 2 && r.entries_kept == 1,
	   "trim to one layer");
	ok(r.blobs.kept_bytes <= one && r.blobs.kept_bytes >= res[0].size,
	   "what is left fits (%ju bytes)", (uintmax_t)r.blobs.kept_bytes);
	lade_cache_gc_report_release(&r);
	ok(has_entry(cdir, keys[0]) && !has_entry(cdir, keys[1]) && !has_entry(cdir, keys[2]),
	   "the recently used entry stays, the least recently used go");
	ok(lade_store_has(lade_cache_store(c), res[0].digest) &&
	           !lade_store_has(lade_cache_store(c), res[1].digest) &&
	           !lade_store_has(lade_cache_store(c), res[2].digest),
	   "and so do their blobs");
	ok(lade_store_has(s, res[1].digest), "the output store is untouched");

	/* --older-than: layer 0 was used just now */
	o = (struct lade_cache_gc_options){.max_size = UINT64_MAX, .older_than_s = 3600};
	ok(lade_cache_gc(c, &o, &r, &err) == 0 && r.entries == 0, "nothing is an hour old");
	lade_cache_gc_report_release(&r);
	age_entry(cdir, keys[0], 1000000000);
	ok(lade_cache_gc(c, &o, &r, &err) == 0 && r.entries == 1 && r.blobs.blobs == 1 &&
	           r.blobs.kept_blobs == 0,
	   "an entry unused for long goes with its blob");
	lade_cache_gc_report_release(&r);

	/* bytecode memos are entries too: a hit refreshes them, an old one goes */
	char mkey[65];
	memset(mkey, 'a', 64);
	mkey[64] = '\0';
	lade_cache_memo_put(c, mkey, "pyc", 3);
	_cleanup_buf_ struct lade_buf mb = LADE_BUF_INIT;
	_cleanup_free_ char *memo = xasprintf("%s/pyc/%s", cdir, mkey);
	struct timespec old_ts[2] = {{1000000000, 0}, {1000000000, 0}};
	ok(utimensat(AT_FDCWD, memo, old_ts, 0) == 0 && lade_cache_memo_get(c, mkey, &mb) == 1 &&
	           stat(memo, &st) == 0 && st.st_mtim.tv_sec > 1000000000 + 10000,
	   "a bytecode memo hit refreshes its mtime");
	ok(lade_cache_gc(c, &o, &r, &err) == 0 && r.entries == 0 && access(memo, F_OK) == 0,
	   "a recently used memo stays");
	lade_cache_gc_report_release(&r);
	ok(utimensat(AT_FDCWD, memo, old_ts, 0) == 0 && lade_cache_gc(c, &o, &r, &err) == 0 &&
	           r.entries == 1 && access(memo, F_OK) != 0,
	   "a memo unused for long goes");
	lade_cache_gc_report_release(&r);
	lade_store_free(s);
	lade_cache_free(c);
}

/* ---- splitting ---- */

static struct lade_entry *sized(const char *path, size_t n)
{
	struct lade_entry *e = lade_entry_new(path, LADE_ENTRY_FILE, path);
	e->mode = 0644;
	for (size_t i = 0; i < n; i++)
		lade_buf_addch(&e->data, (char)('a' + i % 26));
	e->size = n;
	return e;
}

static void split_entries(struct lade_layer *l, bool reversed)
{
	struct lade_entry *es[7];
	es[0] = lade_entry_new("d", LADE_ENTRY_DIR, "dir d");
	es[0]->mode = 0700;
	es[0]->uid = 7;
	es[1] = sized("d/a", 40);
	es[2] = sized("d/b", 40);
	es[3] = sized("d/c", 50);
	es[4] = sized("e/big", 200);
	es[5] = sized("e/z", 10);
	es[6] = lade_entry_new("zz/link", LADE_ENTRY_HARDLINK, "link");
	es[6]->link = xstrdup("d/a");
	for (size_t i = 0; i < 7; i++)
		add(l, es[reversed ? 6 - i : i]);
}

static char *describe_parts(struct lade_layer **parts, size_t n)
{
	struct lade_buf b = LADE_BUF_INIT;
	const char *paths[] = {"d", "d/a", "d/b", "d/c", "e/big", "e/z", "zz/link"};
	for (size_t k = 0; k < n; k++) {
		lade_buf_addf(&b, "%s%s:", k ? "|" : "", lade_layer_comment(parts[k]));
		for (size_t i = 0; i < LADE_ARRAY_SIZE(paths); i++)
			if (lade_layer_lookup(parts[k], paths[i]))
				lade_buf_addf(&b, " %s", paths[i]);
	}
	return lade_buf_detach(&b, NULL);
}

static void test_split(void)
{
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_layer *l = lade_layer_new("big");
	split_entries(l, false);
	struct lade_layer **parts = NULL;
	size_t n = 0;
	ok(lade_layer_split(l, 100, &parts, &n, &err) == 0 && n == 4, "split in 4 parts");
	_cleanup_free_ char *d = describe_parts(parts, n);
	is_str(d,
	       "big (part 1/4): d d/a d/b zz/link|big (part 2/4): d d/c|big (part 3/4): e/big|"
	       "big (part 4/4): e/z",
	       "parts in canonical order, sizes <= 100 except a lone big file, link with target");
	ok(lade_layer_count(l) == 0, "the entries moved out of the layer");
	const struct lade_entry *dcopy = n > 1 ? lade_layer_lookup(parts[1], "d") : NULL;
	ok(dcopy && dcopy->mode == 0700 && dcopy->uid == 7,
	   "an explicit directory keeps its metadata in a later part");

	struct lade_store *s = open_store("split-out");
	bool all = true;
	for (size_t k = 0; k < n; k++) {
		struct lade_layer_result r;
		lade_error_free(err);
		err = NULL;
		if (lade_layer_write(parts[k], &gzip_opts, s, &r, &err) < 0) {
			printf("# part %zu: %s\n", k, err->msg);
			all = false;
		} else if (r.content_size > 100 && k != 2) {
			all = false;
		}
	}
	ok(all, "every part writes (hard link beside its target), contents <= 100 bytes");
	lade_store_free(s);

	struct lade_layer *l2 = lade_layer_new("big");
	split_entries(l2, true);
	struct lade_layer **parts2 = NULL;
	size_t n2 = 0;
	ok(lade_layer_split(l2, 100, &parts2, &n2, &err) == 0, "reversed input splits");
	_cleanup_free_ char *d2 = describe_parts(parts2, n2);
	is_str(d2, d, "the split does not depend on the order entries were added in");
	lade_layer_parts_free(parts, n);
	lade_layer_parts_free(parts2, n2);
	lade_layer_free(l2);

	struct lade_layer **one = NULL;
	size_t n1 = 0;
	lade_layer_free(l);
	l = lade_layer_new("small");
	add(l, sized("x", 5));
	ok(lade_layer_split(l, 100, &one, &n1, &err) == 0 && n1 == 1 &&
	           strcmp(lade_layer_comment(one[0]), "small") == 0,
	   "one part keeps the comment");
	lade_layer_parts_free(one, n1);
	lade_layer_free(l);

	l = lade_layer_new("bad");
	struct lade_entry *hl = lade_entry_new("b", LADE_ENTRY_HARDLINK, "wheel x member b");
	hl->link = xstrdup("a");
	add(l, hl);
	add(l, sized("c", 1));
	lade_error_free(err);
	err = NULL;
	ok(lade_layer_split(l, 100, &parts, &n, &err) < 0 && err, "dangling hard link refused");
	is_str(err ? err->msg : NULL,
	       "layer bad: cannot split: hard link b from wheel x member b points to a, which is "
	       "not a file of this layer",
	       "error names the link and its target");
	ok(lade_layer_count(l) == 2, "the layer is unchanged on error");
	lade_error_free(err);
	err = NULL;
	ok(lade_layer_split(l, 0, &parts, &n, &err) < 0 && err &&
	           strcmp(err->msg, "layer bad: cannot split into parts of 0 bytes") == 0,
	   "max 0 refused");
	lade_layer_free(l);
}

int main(void)
{
	tmp = make_tmpdir("test-cache");
	test_cache();
	test_stat_cache();
	test_trim();
	test_split();
	rm_rf(tmp);
	free(tmp);
	return tap_done();
}
