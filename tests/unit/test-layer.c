/* Unit tests: layer entries, duplicate rules and the deterministic tar writer, read back with
 * libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>

#include "lade/layer.h"
#include "lade/store.h"
#include "lade/tree.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

/* ---- fixtures ---- */

struct mem_stream {
	struct lade_stream stream;
	struct lade_buf buf;
};

static int mem_write(struct lade_stream *s, const void *buf, size_t len, struct lade_error **err)
{
	(void)err;
	lade_buf_add(&((struct mem_stream *)s)->buf, buf, len);
	return 0;
}

static void mem_init(struct mem_stream *m)
{
	m->stream.write = mem_write;
	lade_buf_init(&m->buf);
}

static char *tmpdir;

static char *write_tmp(const char *name, const char *content)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	write_file(path, content, strlen(content));
	return path;
}

/* An emit() that writes the entry's data buffer `ops_index` times over (2 = twice as much). */
static int emit_bytes(void *ctx, const struct lade_entry *e, struct lade_stream *out,
                      struct lade_error **err)
{
	const char *text = ctx;
	size_t len = strlen(text);
	for (uint64_t i = 0; i < e->ops_index; i++)
		if (lade_stream_write(out, text, len, err) < 0)
			return -1;
	return 0;
}

static const struct lade_source_ops bytes_ops = {.emit = emit_bytes};

static struct lade_entry *dir_entry(const char *path, uint32_t mode, uint32_t uid, uint32_t gid)
{
	struct lade_entry *e = lade_entry_new(path, LADE_ENTRY_DIR, "test dir");
	e->mode = mode;
	e->uid = uid;
	e->gid = gid;
	return e;
}

static struct lade_entry *mem_file(const char *path, const char *content, const char *origin)
{
	struct lade_entry *e = lade_entry_new(path, LADE_ENTRY_FILE, origin);
	e->mode = 0644;
	lade_buf_adds(&e->data, content);
	e->size = e->data.len;
	return e;
}

static struct lade_entry *link_entry(const char *path, enum lade_entry_type type,
                                     const char *target)
{
	struct lade_entry *e = lade_entry_new(path, type, "test link");
	e->mode = 0777;
	e->link = xstrdup(target);
	return e;
}

static int add(struct lade_layer *l, struct lade_entry *e)
{
	_cleanup_error_ struct lade_error *err = NULL;
	int r = lade_layer_add(l, e, &err);
	if (r < 0)
		printf("# add: %s\n", err->msg);
	return r;
}

/* ---- reading back ---- */

struct rec {
	char *path;
	int type;
	int perm;
	int64_t uid, gid;
	bool has_uname, has_gname;
	int64_t mtime;
	long mtime_nsec;
	bool has_atime, has_ctime;
	int64_t size;
	char *symlink, *hardlink;
	struct lade_buf content;
};

struct tarlist {
	struct rec *recs;
	size_t n;
};

static void tarlist_release(struct tarlist *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->recs[i].path);
		free(t->recs[i].symlink);
		free(t->recs[i].hardlink);
		lade_buf_release(&t->recs[i].content);
	}
	free(t->recs);
	t->recs = NULL;
	t->n = 0;
}

static int read_tar_locked(const struct lade_buf *tar, struct tarlist *out)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar->data, tar->len) != ARCHIVE_OK) {
		archive_read_free(a);
		return -1;
	}
	struct archive_entry *ae;
	int r;
	size_t alloc = 0;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		lade_grow(&out->recs, sizeof(*out->recs), out->n + 1, &alloc);
		struct rec *x = &out->recs[out->n++];
		memset(x, 0, sizeof(*x));
		x->path = xstrdup(archive_entry_pathname_utf8(ae));
		x->type = (int)archive_entry_filetype(ae);
		x->perm = (int)archive_entry_perm(ae);
		x->uid = archive_entry_uid(ae);
		x->gid = archive_entry_gid(ae);
		x->has_uname = archive_entry_uname(ae) && *archive_entry_uname(ae);
		x->has_gname = archive_entry_gname(ae) && *archive_entry_gname(ae);
		x->mtime = archive_entry_mtime(ae);
		x->mtime_nsec = archive_entry_mtime_nsec(ae);
		x->has_atime = archive_entry_atime_is_set(ae);
		x->has_ctime = archive_entry_ctime_is_set(ae);
		x->size = archive_entry_size(ae);
		if (archive_entry_symlink(ae))
			x->symlink = xstrdup(archive_entry_symlink(ae));
		if (archive_entry_hardlink(ae))
			x->hardlink = xstrdup(archive_entry_hardlink(ae));
		lade_buf_init(&x->content);
		char buf[4096];
		la_ssize_t n;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
			lade_buf_add(&x->content, buf, (size_t)n);
	}
	archive_read_free(a);
	return r == ARCHIVE_EOF ? 0 : -1;
}

static int read_tar(const struct lade_buf *tar, struct tarlist *out)
{
	/* The reader needs a UTF-8 locale to hand out UTF-8 names, like the writer. */
	locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	locale_t old = uselocale(utf8);
	int r = read_tar_locked(tar, out);
	uselocale(old);
	freelocale(utf8);
	return r;
}

static const struct rec *find_rec(const struct tarlist *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->recs[i].path, path) == 0)
			return &t->recs[i];
	return NULL;
}

static int write_to(struct lade_layer *l, const struct lade_layer_options *opts,
                    struct lade_buf *out, struct lade_error **err)
{
	struct mem_stream m;
	mem_init(&m);
	int r = lade_layer_write_tar(l, opts, &m.stream, err);
	*out = m.buf;
	return r;
}

/* ---- tests ---- */

static struct lade_layer *sample_layer(bool reversed, const char *host_file)
{
	struct lade_layer *l = lade_layer_new("sample");
	struct lade_entry *es[9];
	size_t n = 0;
	es[n++] = mem_file("opt/venv/lib/x.py", "print('x')\n", "wheel x.whl member x.py");
	es[n] = link_entry("opt/venv/bin/python", LADE_ENTRY_SYMLINK, "/usr/bin/python3");
	es[n++]->mode = 0777;
	es[n] = lade_entry_new("app/main.py", LADE_ENTRY_FILE, "app file main.py");
	es[n]->mode = 0755;
	es[n]->uid = 1000;
	es[n]->gid = 1001;
	es[n]->src_path = xstrdup(host_file);
	es[n++]->size = 12;
	es[n] = lade_entry_new("app/data.bin", LADE_ENTRY_FILE, "zip z.whl member data.bin");
	es[n]->mode = 0600;
	es[n]->ops = &bytes_ops;
	es[n]->ops_ctx = (void *)"abc";
	es[n]->ops_index = 3;
	es[n++]->size = 9;
	es[n++] = link_entry("app/zlink", LADE_ENTRY_HARDLINK, "app/main.py");
	es[n++] = dir_entry("tmp/cache", 0700, 7, 8);
	es[n++] = mem_file("a-b/x", "1", "test");
	es[n++] = mem_file("a/b", "2", "test");
	es[n++] = dir_entry("app", 0750, 0, 0);
	for (size_t i = 0; i < n; i++)
		add(l, es[reversed ? n - 1 - i : i]);
	return l;
}

static void test_write(const char *host_file, struct lade_tree *base)
{
	_cleanup_(lade_layer_freep) struct lade_layer *l = sample_layer(false, host_file);
	ok(lade_layer_count(l) == 9, "nine entries added");
	const struct lade_entry *e = lade_layer_lookup(l, "a/b");
	ok(e && e->type == LADE_ENTRY_FILE, "lookup finds an added entry");
	ok(lade_layer_lookup(l, "a") == NULL, "lookup does not invent parents");
	is_str(lade_layer_comment(l), "sample", "comment kept");

	struct lade_layer_options opts = {.mtime = 1700000000, .base = base};
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	ok(write_to(l, &opts, &tar, &err) == 0, "write_tar succeeds");
	if (err)
		printf("# %s\n", err->msg);
	ok(tar.len % 512 == 0 && tar.len % 10240 != 0, "tar is whole records, no 10 KiB padding");
	printf("# tar is %zu bytes\n", tar.len);
	static const char zero[1024];
	ok(tar.len >= 1024 && memcmp(tar.data + tar.len - 1024, zero, 1024) == 0,
	   "tar ends with the two zero records");

	_cleanup_(tarlist_release) struct tarlist t = {0};
	ok(read_tar(&tar, &t) == 0, "libarchive reads the tar back");

	struct lade_buf order = LADE_BUF_INIT;
	for (size_t i = 0; i < t.n; i++)
		lade_buf_addf(&order, "%s%s", i ? " " : "", t.recs[i].path);
	is_str(order.data,
	       "a/ a/b a-b/ a-b/x app/ app/data.bin app/main.py app/zlink opt/ opt/venv/ "
	       "opt/venv/bin/ opt/venv/bin/python opt/venv/lib/ opt/venv/lib/x.py tmp/ "
	       "tmp/cache/",
	       "component-wise order, parents first, implicit parents added");
	lade_buf_release(&order);

	bool meta_ok = true;
	for (size_t i = 0; i < t.n; i++) {
		const struct rec *x = &t.recs[i];
		if (x->has_uname || x->has_gname || x->mtime != 1700000000 || x->mtime_nsec != 0 ||
		    x->has_atime || x->has_ctime)
			meta_ok = false;
	}
	ok(meta_ok, "every entry: empty uname/gname, build mtime, no atime/ctime");

	const struct rec *x = find_rec(&t, "tmp/");
	ok(x && x->type == AE_IFDIR && x->perm == 01777 && x->uid == 0,
	   "implicit tmp keeps the base's 01777");
	x = find_rec(&t, "opt/");
	ok(x && x->perm == 0750 && x->uid == 3 && x->gid == 4,
	   "implicit opt keeps the base's mode and owner");
	x = find_rec(&t, "opt/venv/");
	ok(x && x->type == AE_IFDIR && x->perm == 0755 && x->uid == 0 && x->gid == 0,
	   "implicit opt/venv (not in the base) is 0755 0:0");
	x = find_rec(&t, "tmp/cache/");
	ok(x && x->perm == 0700 && x->uid == 7 && x->gid == 8, "explicit dir mode and owner");
	x = find_rec(&t, "app/");
	ok(x && x->perm == 0750, "explicit app dir not replaced by an implicit one");
	x = find_rec(&t, "app/main.py");
	ok(x && x->type == AE_IFREG && x->perm == 0755 && x->uid == 1000 && x->gid == 1001 &&
	           x->size == 12 && strcmp(x->content.data, "hello world\n") == 0,
	   "host file: mode, owner, size and content");
	x = find_rec(&t, "app/data.bin");
	ok(x && x->perm == 0600 && x->size == 9 && strcmp(x->content.data, "abcabcabc") == 0,
	   "emitted content");
	x = find_rec(&t, "opt/venv/lib/x.py");
	ok(x && strcmp(x->content.data, "print('x')\n") == 0, "memory content");
	x = find_rec(&t, "opt/venv/bin/python");
	ok(x && x->type == AE_IFLNK && x->symlink && strcmp(x->symlink, "/usr/bin/python3") == 0 &&
	           x->perm == 0777,
	   "symlink and its target");
	x = find_rec(&t, "app/zlink");
	ok(x && x->hardlink && strcmp(x->hardlink, "app/main.py") == 0 && x->size == 0,
	   "hard link to a file written earlier");

	/* Same entries added in the opposite order: same bytes. */
	_cleanup_(lade_layer_freep) struct lade_layer *r = sample_layer(true, host_file);
	_cleanup_buf_ struct lade_buf tar2 = LADE_BUF_INIT;
	ok(write_to(r, &opts, &tar2, &err) == 0 && tar2.len == tar.len &&
	           memcmp(tar.data, tar2.data, tar.len) == 0,
	   "insertion order does not change the bytes");
	/* Writing does not consume the layer. */
	_cleanup_buf_ struct lade_buf tar3 = LADE_BUF_INIT;
	ok(write_to(l, &opts, &tar3, &err) == 0 && tar3.len == tar.len &&
	           memcmp(tar.data, tar3.data, tar.len) == 0,
	   "a layer can be written twice with the same result");
}

static void set_sha(struct lade_entry *e, char c)
{
	e->has_sha256 = true;
	memset(e->sha256, c, sizeof(e->sha256));
}

static void expect_add_error(struct lade_layer *l, struct lade_entry *e, const char *want,
                             const char *what)
{
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_layer_add(l, e, &err) < 0, "%s fails", what);
	is_str(err ? err->msg : NULL, want, "%s: message", what);
}

static void test_duplicates(void)
{
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("dups");
	struct lade_entry *a = mem_file("opt/venv/x.py", "same", "wheel a.whl member x.py");
	set_sha(a, 1);
	add(l, a);
	struct lade_entry *b = mem_file("opt/venv/x.py", "same", "wheel b.whl member x.py");
	set_sha(b, 1);
	ok(add(l, b) == 0 && lade_layer_count(l) == 1, "identical sha256 collapses into one entry");
	is_str(lade_layer_lookup(l, "opt/venv/x.py")->origin, "wheel a.whl member x.py",
	       "the first entry is kept");

	b = mem_file("opt/venv/x.py", "diff", "wheel b.whl member x.py");
	set_sha(b, 2);
	expect_add_error(
	        l, b,
	        "path opt/venv/x.py from wheel b.whl member x.py conflicts with wheel a.whl member "
	        "x.py",
	        "different content");
	b = mem_file("opt/venv/x.py", "same", "wheel c.whl member x.py");
	expect_add_error(
	        l, b,
	        "path opt/venv/x.py from wheel c.whl member x.py conflicts with wheel a.whl member "
	        "x.py",
	        "unknown sha256");
	b = mem_file("opt/venv/x.py", "same", "wheel d.whl member x.py");
	set_sha(b, 1);
	b->mode = 0755;
	expect_add_error(
	        l, b,
	        "path opt/venv/x.py from wheel d.whl member x.py conflicts with wheel a.whl member "
	        "x.py",
	        "same content, other mode");

	add(l, dir_entry("opt/venv", 0755, 0, 0));
	ok(add(l, dir_entry("opt/venv", 0755, 0, 0)) == 0 && lade_layer_count(l) == 2,
	   "same directory twice is kept once");
	expect_add_error(l, dir_entry("opt/venv", 0700, 0, 0),
	                 "path opt/venv from test dir conflicts with test dir: directory 0700 "
	                 "0:0 is already 0755 0:0",
	                 "directory with other metadata");
	expect_add_error(l, mem_file("opt/venv", "x", "app file venv"),
	                 "path opt/venv from app file venv conflicts with test dir: a file and a "
	                 "directory",
	                 "file over directory");
	expect_add_error(l, mem_file("/opt/y", "x", "app file y"),
	                 "invalid path '/opt/y' from app file y: not a normalised path",
	                 "non-normalised path");
	ok(lade_layer_count(l) == 2, "failed adds leave the layer unchanged");
}

static void expect_write_error(struct lade_layer *l, const struct lade_layer_options *opts,
                               const char *want, const char *what)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	ok(write_to(l, opts, &tar, &err) < 0, "%s fails", what);
	is_str(err ? err->msg : NULL, want, "%s: message", what);
}

static void test_write_errors(struct lade_tree *base)
{
	struct lade_layer_options opts = {.mtime = 0, .base = base};
	{
		_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("short");
		struct lade_entry *e = lade_entry_new("f", LADE_ENTRY_FILE, "zip z.whl member f");
		e->ops = &bytes_ops;
		e->ops_ctx = (void *)"abc";
		e->ops_index = 1;
		e->size = 6;
		add(l, e);
		expect_write_error(l, &opts, "zip z.whl member f gives 3 bytes, 6 expected",
		                   "emit writing too few bytes");
	}
	{
		_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("long");
		struct lade_entry *e = lade_entry_new("f", LADE_ENTRY_FILE, "zip z.whl member f");
		e->ops = &bytes_ops;
		e->ops_ctx = (void *)"abc";
		e->ops_index = 3;
		e->size = 6;
		add(l, e);
		expect_write_error(l, &opts,
		                   "zip z.whl member f gives more than the 6 bytes expected",
		                   "emit writing too many bytes");
	}
	{
		_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("hardlink");
		add(l, link_entry("a/link", LADE_ENTRY_HARDLINK, "a/missing"));
		expect_write_error(l, &opts,
		                   "hard link a/link from test link points to a/missing, which is "
		                   "not a file written before it in this layer",
		                   "hard link to a missing path");
	}
	{
		_cleanup_(lade_layer_freep) struct lade_layer *l =
		        lade_layer_new("symlinked parent");
		add(l, mem_file("lib/python3.11/x.py", "x", "test"));
		expect_write_error(l, &opts,
		                   "cannot add lib/python3.11/x.py: its parent lib is a symlink in "
		                   "the base image",
		                   "parent is a symlink in the base");
	}
	{
		_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("file parent");
		add(l, mem_file("a", "x", "first"));
		add(l, mem_file("a/b", "y", "second"));
		expect_write_error(l, &opts,
		                   "cannot add a/b from second: its parent a is a file from first",
		                   "parent is a file in the layer");
	}
	{
		_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("changed");
		_cleanup_free_ char *p = write_tmp("grown.txt", "0123456789");
		struct lade_entry *e = lade_entry_new("g", LADE_ENTRY_FILE, "app file g");
		e->src_path = xstrdup(p);
		e->size = 4; /* as listed before the file grew */
		add(l, e);
		_cleanup_free_ char *want = xasprintf("%s changed while lade was reading it", p);
		expect_write_error(l, &opts, want, "host file changed size");
	}
	{
		_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("missing");
		_cleanup_free_ char *p = xasprintf("%s/nope", tmpdir);
		struct lade_entry *e = lade_entry_new("g", LADE_ENTRY_FILE, "app file g");
		e->src_path = xstrdup(p);
		add(l, e);
		_cleanup_free_ char *want = xasprintf("cannot open %s: %s", p, strerror(ENOENT));
		expect_write_error(l, &opts, want, "missing host file");
	}
}

static int utf8_child_write(int fd)
{
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("utf8");
	lade_layer_add(l, mem_file("app/caf\xc3\xa9.txt", "caf\xc3\xa9\n", "test"), NULL);
	lade_layer_add(l,
	               link_entry("app/\xc3\xa9t\xc3\xa9", LADE_ENTRY_SYMLINK, "caf\xc3\xa9.txt"),
	               NULL);
	struct lade_layer_options opts = {.mtime = 1};
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	if (write_to(l, &opts, &tar, NULL) < 0)
		return 1;
	for (size_t off = 0; off < tar.len;) {
		ssize_t n = write(fd, tar.data + off, tar.len - off);
		if (n <= 0)
			return 1;
		off += (size_t)n;
	}
	return 0;
}

/* Write a layer with UTF-8 names in a child with the given locale environment, made the
 * process locale when use_env is set (as a caller that calls setlocale would); returns the
 * tar bytes through a pipe. */
static void utf8_tar_in_child(const char *lang, bool use_env, struct lade_buf *out)
{
	int fds[2];
	if (pipe(fds) < 0)
		return;
	fflush(stdout); /* or the child's copy of the buffer may reach the TAP stream too */
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		setenv("LANG", lang, 1);
		setenv("LC_ALL", lang, 1);
		if (use_env)
			setlocale(LC_ALL, "");
		_exit(utf8_child_write(fds[1]));
	}
	close(fds[1]);
	char buf[4096];
	ssize_t n;
	while ((n = read(fds[0], buf, sizeof(buf))) > 0)
		lade_buf_add(out, buf, (size_t)n);
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		lade_buf_reset(out);
}

static void test_locale(void)
{
	_cleanup_buf_ struct lade_buf c = LADE_BUF_INIT;
	_cleanup_buf_ struct lade_buf u = LADE_BUF_INIT;
	_cleanup_buf_ struct lade_buf su = LADE_BUF_INIT;
	_cleanup_buf_ struct lade_buf sp = LADE_BUF_INIT;
	utf8_tar_in_child("C", false, &c);
	utf8_tar_in_child("C.UTF-8", false, &u);
	utf8_tar_in_child("C.UTF-8", true, &su);
	utf8_tar_in_child("POSIX", true, &sp);
	ok(c.len > 0 && c.len == u.len && memcmp(c.data, u.data, c.len) == 0,
	   "same bytes with LANG=C and LANG=C.UTF-8");
	ok(c.len > 0 && c.len == su.len && memcmp(c.data, su.data, c.len) == 0,
	   "same bytes after setlocale(LC_ALL, \"C.UTF-8\")");
	ok(c.len > 0 && c.len == sp.len && memcmp(c.data, sp.data, c.len) == 0,
	   "same bytes after setlocale(LC_ALL, \"POSIX\")");

	_cleanup_(tarlist_release) struct tarlist t = {0};
	ok(read_tar(&c, &t) == 0 && find_rec(&t, "app/caf\xc3\xa9.txt") != NULL,
	   "UTF-8 file name round-trips");
	const struct rec *x = find_rec(&t, "app/\xc3\xa9t\xc3\xa9");
	ok(x && x->symlink && strcmp(x->symlink, "caf\xc3\xa9.txt") == 0,
	   "UTF-8 symlink name and target round-trip");
}

static void test_long_names(void)
{
	/* Names longer than ustar's 100 (+155 prefix) bytes need a pax header. */
	struct lade_buf name = LADE_BUF_INIT;
	for (int i = 0; i < 40; i++)
		lade_buf_addf(&name, "%scomponent%02d", i ? "/" : "", i);
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("long");
	add(l, mem_file(name.data, "x", "test"));
	struct lade_layer_options opts = {.mtime = 0};
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	_cleanup_(tarlist_release) struct tarlist t = {0};
	ok(write_to(l, &opts, &tar, &err) == 0 && read_tar(&tar, &t) == 0 && t.n == 40 &&
	           strcmp(t.recs[39].path, name.data) == 0,
	   "a %zu-byte name and its 39 implicit parents round-trip", name.len);
	lade_buf_release(&name);
}

static void test_layer_write(void)
{
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/store", tmpdir);
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	ok(lade_store_open(dir, 0, &store, &err) == 0, "open a store");
	if (store == NULL) {
		printf("# %s\n", err ? err->msg : "no store");
		return;
	}
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("write");
	add(l, mem_file("app/a.txt", "hello\n", "test"));
	add(l, mem_file("app/b.txt", "world!\n", "test"));
	struct lade_layer_options opts = {
	        .compression = LADE_COMPRESS_NONE, .level = -1, .jobs = 1, .mtime = 5};
	struct lade_layer_result res;
	ok(lade_layer_write(l, &opts, store, &res, &err) == 0, "lade_layer_write (none)");
	if (err)
		printf("# %s\n", err->msg);

	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	ok(write_to(l, &opts, &tar, &err) == 0, "write_tar for comparison");
	char want[LADE_DIGEST_STRLEN];
	lade_sha256_buf(tar.data, tar.len, want);
	is_str(res.diff_id, want, "diff_id is the sha256 of the tar");
	is_str(res.digest, want, "uncompressed: digest == diff_id");
	ok(res.tar_size == tar.len && res.size == tar.len, "sizes match the tar");
	ok(res.entries == 3 && res.content_size == 13, "3 entries (app implied), 13 content bytes");
	is_str(res.media_type, "application/vnd.oci.image.layer.v1.tar", "media type");
	_cleanup_free_ char *blob = lade_store_blob_path(store, res.digest);
	_cleanup_buf_ struct lade_buf stored = LADE_BUF_INIT;
	ok(lade_read_file(blob, 1 << 20, &stored, &err) == 0 && stored.len == tar.len &&
	           memcmp(stored.data, tar.data, tar.len) == 0,
	   "blob in the store holds the tar");

	opts.compression = LADE_COMPRESS_GZIP;
	struct lade_layer_result gz;
	ok(lade_layer_write(l, &opts, store, &gz, &err) == 0 && strcmp(gz.diff_id, want) == 0 &&
	           strcmp(gz.digest, want) != 0 && lade_store_has(store, gz.digest),
	   "gzip: same diff_id, other digest, blob stored");
	is_str(gz.media_type, "application/vnd.oci.image.layer.v1.tar+gzip", "gzip media type");
}

static void expect_refused(struct lade_entry *e, const char *want, const char *desc)
{
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("rules");
	_cleanup_error_ struct lade_error *err = NULL;
	int r = lade_layer_add(l, e, &err);
	ok(r < 0 && err && strstr(err->msg, want), "%s (%s)", desc, err ? err->msg : "accepted");
}

static void test_path_rules(void)
{
	expect_refused(lade_entry_new("bad\xff\xfename", LADE_ENTRY_FILE, "t1"),
	               "is not valid UTF-8", "a path that is not UTF-8 is refused");
	expect_refused(lade_entry_new("a/new\nline", LADE_ENTRY_FILE, "t2"),
	               "has a control character (0x0a)", "a control character is refused");
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	expect_refused(lade_entry_new(longname, LADE_ENTRY_FILE, "t3"),
	               "has a component longer than 255 bytes", "a 299-byte component is refused");

	struct lade_entry *esc = lade_entry_new("app/link", LADE_ENTRY_SYMLINK, "t4");
	esc->link = xstrdup("../../etc/passwd");
	expect_refused(esc, "outside the image root",
	               "a symlink climbing above the root is refused");

	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("ok");
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_entry *abs = lade_entry_new("app/abs", LADE_ENTRY_SYMLINK, "t5");
	abs->link = xstrdup("/etc/passwd");
	struct lade_entry *up = lade_entry_new("app/sub/up", LADE_ENTRY_SYMLINK, "t6");
	up->link = xstrdup("../../etc/hosts");
	struct lade_entry *utf = lade_entry_new("app/caf\xc3\xa9.txt", LADE_ENTRY_FILE, "t7");
	ok(lade_layer_add(l, abs, &err) == 0 && lade_layer_add(l, up, &err) == 0 &&
	           lade_layer_add(l, utf, &err) == 0,
	   "absolute targets, '..' that stays inside, and UTF-8 names are accepted");
}

/* A source whose content exists as one raw deflate stream too, as a wheel member does. */
struct deflated_src {
	struct lade_buf content, raw;
	uint32_t crc; /* what deflated() reports */
};

static bool src_deflated(void *ctx, const struct lade_entry *e, uint32_t *crc, uint64_t *raw_size)
{
	(void)e;
	struct deflated_src *d = ctx;
	*crc = d->crc;
	*raw_size = d->raw.len;
	return true;
}

static int src_emit(void *ctx, const struct lade_entry *e, struct lade_stream *out,
                    struct lade_error **err)
{
	(void)e;
	struct deflated_src *d = ctx;
	return lade_stream_write(out, d->content.data, d->content.len, err);
}

static int src_emit_spliced(void *ctx, const struct lade_entry *e, struct lade_stream *out,
                            struct lade_stream *raw, struct lade_error **err)
{
	struct deflated_src *d = ctx;
	if (lade_stream_write(raw, d->raw.data, d->raw.len, err) < 0)
		return -1;
	return src_emit(ctx, e, out, err);
}

static const struct lade_source_ops deflated_ops = {
        .emit = src_emit, .deflated = src_deflated, .emit_spliced = src_emit_spliced};

static struct lade_layer *splice_layer(struct deflated_src *d)
{
	struct lade_layer *l = lade_layer_new("splice");
	add(l, mem_file("site/a.py", "A = 1\n", "test"));
	struct lade_entry *e = lade_entry_new("site/m.py", LADE_ENTRY_FILE, "member site/m.py");
	e->mode = 0644;
	e->size = d->content.len;
	e->ops = &deflated_ops;
	e->ops_ctx = d;
	add(l, e);
	add(l, mem_file("site/z.py", "Z = 1\n", "test"));
	return l;
}

static void test_layer_splice(void)
{
	struct deflated_src d;
	lade_buf_init(&d.content);
	lade_buf_init(&d.raw);
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 60000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		char c = (char)('a' + x % 20);
		lade_buf_add(&d.content, &c, 1);
	}
	z_stream z;
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	lade_buf_grow(&d.raw, deflateBound(&z, d.content.len));
	z.next_in = (unsigned char *)d.content.data;
	z.avail_in = (uInt)d.content.len;
	z.next_out = (unsigned char *)d.raw.data;
	z.avail_out = (uInt)deflateBound(&z, d.content.len);
	deflate(&z, Z_FINISH);
	d.raw.len = z.total_out;
	deflateEnd(&z);
	d.crc = (uint32_t)crc32(0, (const unsigned char *)d.content.data, (uInt)d.content.len);

	char dir[300];
	snprintf(dir, sizeof(dir), "%s/splice-store", tmpdir);
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	if (lade_store_open(dir, 0, &store, &err) < 0) {
		ok(0, "open a store: %s", err->msg);
		return;
	}
	_cleanup_(lade_layer_freep) struct lade_layer *l = splice_layer(&d);
	struct lade_layer_options opts = {
	        .compression = LADE_COMPRESS_GZIP, .level = -1, .jobs = 2, .mtime = 5};
	struct lade_layer_result res;
	ok(lade_layer_write(l, &opts, store, &res, &err) == 0,
	   "gzip layer with a spliced entry%s%s", err ? ": " : "", err ? err->msg : "");
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	char want[LADE_DIGEST_STRLEN];
	ok(write_to(l, &opts, &tar, &err) == 0, "its tar");
	lade_sha256_buf(tar.data, tar.len, want);
	is_str(res.diff_id, want, "the diff_id is the tar's: the content went through the tar");
	_cleanup_free_ char *blob = lade_store_blob_path(store, res.digest);
	_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT;
	ok(lade_read_file(blob, 1 << 20, &gz, &err) == 0 &&
	           memmem(gz.data, gz.len, d.raw.data, d.raw.len) != NULL && gz.len < tar.len,
	   "the blob holds the deflate stream unchanged (%zu bytes)", d.raw.len);

	/* A source whose deflate data does not have the CRC it claims: the layer fails. */
	d.crc ^= 1;
	_cleanup_(lade_layer_freep) struct lade_layer *bad = splice_layer(&d);
	lade_error_freep(&err);
	ok(lade_layer_write(bad, &opts, store, &res, &err) == -1, "a CRC mismatch fails the layer");
	ok(err && strstr(err->msg, "member site/m.py") &&
	           strstr(err->msg, "gzip splice: content crc-32"),
	   "naming the entry: %s", err ? err->msg : "(none)");

	/* Without gzip the source's plain emit() is used. */
	lade_error_freep(&err);
	opts.compression = LADE_COMPRESS_ZSTD;
	ok(lade_layer_write(bad, &opts, store, &res, &err) == 0, "zstd never splices");
	lade_buf_release(&d.content);
	lade_buf_release(&d.raw);
}

int main(void)
{
	test_path_rules();
	tmpdir = make_tmpdir("test-layer");
	umask(022);

	struct lade_tree *base = lade_tree_new();
	lade_tree_layer_begin(base);
	lade_tree_apply(base, "tmp", LADE_ENTRY_DIR, 01777, 0, 0, 0, NULL, NULL);
	lade_tree_apply(base, "opt", LADE_ENTRY_DIR, 0750, 3, 4, 0, NULL, NULL);
	lade_tree_apply(base, "usr/lib", LADE_ENTRY_DIR, 0755, 0, 0, 0, NULL, NULL);
	lade_tree_apply(base, "lib", LADE_ENTRY_SYMLINK, 0777, 0, 0, 0, "usr/lib", NULL);

	_cleanup_free_ char *host = write_tmp("main.py", "hello world\n");
	test_write(host, base);
	test_duplicates();
	test_write_errors(base);
	test_locale();
	test_long_names();
	test_layer_write();
	test_layer_splice();

	lade_tree_free(base);
	rm_rf(tmpdir);
	free(tmpdir);
	return tap_done();
}
