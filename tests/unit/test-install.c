/* Unit tests: installing fixture wheels (tests/fixtures/make-wheels.py) into layer entries the
 * way pip does, the generated scripts and RECORD, excludes, collapse of identical files, the
 * streamed layer bytes, and the venv skeleton. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "lade/digest.h"
#include "lade/install.h"
#include "lade/layer.h"
#include "lade/tree.h"
#include "lade/util.h"
#include "lade/venv.h"
#include "lade/wheel.h"
#include "fixture.h"
#include "tap.h"

#define SITE "opt/venv/lib/python3.11/site-packages"

static char *tmpdir;

static int make_fixtures(void)
{
	const char *src = getenv("LADE_TEST_SRCDIR");
	if (src == NULL)
		return -1;
	tmpdir = make_tmpdir("test-install");
	_cleanup_free_ char *cmd = xasprintf(
	        "/usr/bin/python3 '%s/tests/fixtures/make-wheels.py' '%s/w'", src, tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct lade_wheel *open_wheel(const char *fn)
{
	_cleanup_free_ char *path = xasprintf("%s/w/%s", tmpdir, fn);
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_wheel *w = NULL;
	if (lade_wheel_open(path, &w, &err) < 0)
		printf("# open %s: %s\n", fn, err->msg);
	return w;
}

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

/* Content of a file entry in a tar, binary safe: false when absent. */
static bool tar_file_buf(const struct lade_buf *tar, const char *path, struct lade_buf *out)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	bool found = false;
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar->data, tar->len) != ARCHIVE_OK) {
		archive_read_free(a);
		return false;
	}
	while (!found && archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		if (strcmp(archive_entry_pathname(ae), path) != 0)
			continue;
		char buf[4096];
		la_ssize_t n;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
			lade_buf_add(out, buf, (size_t)n);
		found = true;
	}
	archive_read_free(a);
	return found;
}

/* Content of a file entry in a tar as a string (NULL when absent). */
static char *tar_file(const struct lade_buf *tar, const char *path)
{
	struct lade_buf b = LADE_BUF_INIT;
	if (!tar_file_buf(tar, path, &b)) {
		lade_buf_release(&b);
		return NULL;
	}
	return lade_buf_detach(&b, NULL);
}

static const char *entry_data(const struct lade_layer *l, const char *path)
{
	const struct lade_entry *e = lade_layer_lookup(l, path);
	return e && e->ops == NULL ? e->data.data : NULL;
}

static char *sha_field(const char *data, size_t len)
{
	unsigned char raw[32];
	char b64[44];
	struct lade_sha256 *h = lade_sha256_new();
	lade_sha256_update(h, data, len);
	lade_sha256_final(h, raw, NULL);
	lade_sha256_free(h);
	lade_wheel_hash_b64(raw, b64);
	return xasprintf("sha256=%s,%zu", b64, len);
}

static void test_scheme(void)
{
	struct lade_install_scheme s;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_install_scheme_venv("/opt/venv/", "3.11", &s, &err) == 0, "venv scheme");
	is_str(s.purelib, SITE, "purelib");
	is_str(s.platlib, SITE, "platlib equals purelib in a venv");
	is_str(s.scripts, "opt/venv/bin", "scripts");
	is_str(s.headers, "opt/venv/include/site/python3.11", "headers");
	is_str(s.data, "opt/venv", "data");
	is_str(s.interpreter, "/opt/venv/bin/python", "interpreter");
	lade_install_scheme_release(&s);
	ok(lade_install_scheme_venv("/opt/venv", "3", &s, &err) < 0, "bad version refused");
	is_str(err ? err->msg : NULL, "python version '3' is not of the form X.Y",
	       "bad version message");
	lade_error_freep(&err);
	ok(lade_install_scheme_venv("/", "3.11", &s, &err) < 0, "root venv refused");
	is_str(err ? err->msg : NULL, "venv path '/' is the image root", "root venv message");
}

static enum lade_entry_type type_of(const char *spec)
{
	return spec[0] == 'd'   ? LADE_ENTRY_DIR
	       : spec[0] == 'l' ? LADE_ENTRY_SYMLINK
	                        : LADE_ENTRY_FILE;
}

/* A base tree from "d PATH", "f PATH" and "l PATH TARGET" specs (one layer). */
static struct lade_tree *base_tree(const char *const *specs)
{
	struct lade_tree *t = lade_tree_new();
	lade_tree_layer_begin(t);
	for (; *specs; specs++) {
		_cleanup_strv_ char **f = NULL;
		_cleanup_free_ char *copy = xstrdup(*specs);
		char *save = NULL;
		for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			lade_strv_push(&f, tok);
		lade_strv_push(&f, ""); /* f[2]: no link target */
		if (type_of(f[0]) != LADE_ENTRY_SYMLINK) {
			free(f[2]);
			f[2] = NULL;
		}
		enum lade_entry_type type = type_of(f[0]);
		_cleanup_error_ struct lade_error *err = NULL;
		if (lade_tree_apply(t, f[1], type, 0755, 0, 0, 0, f[2], &err) < 0)
			printf("# base_tree %s: %s\n", *specs, err->msg);
	}
	return t;
}

/* The scheme for interp over a base made of specs, or the error message ("ERR: ..."). */
static char *system_scheme(const char *interp, const char *version, const char *const *specs,
                           struct lade_install_scheme *s)
{
	_cleanup_(lade_tree_freep) struct lade_tree *t = base_tree(specs);
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_install_scheme_system(interp, version, t, s, &err) < 0)
		return xasprintf("ERR: %s", err->msg);
	return xasprintf("%s|%s|%s|%s|%s|%s|%u:%u|%s", s->purelib, s->platlib, s->scripts, s->data,
	                 s->headers, s->interpreter, s->uid, s->gid, s->exclude ? "exclude" : "-");
}

static void test_scheme_system(void)
{
	struct lade_install_scheme s;
	const char *const pyorg[] = {"f usr/local/bin/python3.11",
	                             "d usr/local/lib/python3.11/site-packages",
	                             "d usr/lib/python3/dist-packages", NULL};
	_cleanup_free_ char *a = system_scheme("/usr/local/bin/python3.11", "3.11", pyorg, &s);
	is_str(a,
	       "usr/local/lib/python3.11/site-packages|usr/local/lib/python3.11/site-packages|"
	       "usr/local/bin|usr/local|usr/local/include/python3.11|/usr/local/bin/"
	       "python3.11|0:0|-",
	       "python.org build: posix_prefix under the interpreter's grandparent");
	lade_install_scheme_release(&s);

	/* the lookups go through the base's symlinks; the scheme keeps the paths as given */
	const char *const linked[] = {"f opt/py/bin/python3", "l opt/py/lib lib64",
	                              "d opt/py/lib64/python3.12/site-packages", NULL};
	_cleanup_free_ char *b = system_scheme("/opt/py/bin//python3", "3.12", linked, &s);
	is_str(b,
	       "opt/py/lib/python3.12/site-packages|opt/py/lib/python3.12/site-packages|"
	       "opt/py/bin|opt/py|opt/py/include/python3.12|/opt/py/bin/python3|0:0|-",
	       "site-packages found through a symlinked lib, interpreter path normalised");
	lade_install_scheme_release(&s);

	const char *const debian[] = {"f usr/bin/python3.11", "d usr/lib/python3/dist-packages",
	                              "f usr/lib/python3.11/os.py", NULL};
	_cleanup_free_ char *c = system_scheme("/usr/bin/python3.11", "3.11", debian, &s);
	is_str(c,
	       "usr/local/lib/python3.11/dist-packages|usr/local/lib/python3.11/dist-packages|"
	       "usr/local/bin|usr/local|usr/include/python3.11|/usr/bin/python3.11|0:0|-",
	       "Debian's python3: posix_local, as Debian's pip installs as root");
	lade_install_scheme_release(&s);

	const char *const both[] = {"f usr/bin/python3.11", "d usr/lib/python3/dist-packages",
	                            "d usr/lib/python3.11/site-packages", NULL};
	_cleanup_free_ char *d = system_scheme("/usr/bin/python3.11", "3.11", both, &s);
	ok(d && strncmp(d, "usr/lib/python3.11/site-packages|", 33) == 0,
	   "PREFIX/lib/pythonX.Y/site-packages wins over Debian's layout (%s)", d);
	lade_install_scheme_release(&s);

	const char *const managed[] = {"f usr/bin/python3.11", "d usr/lib/python3/dist-packages",
	                               "f usr/lib/python3.11/EXTERNALLY-MANAGED", NULL};
	_cleanup_free_ char *e = system_scheme("/usr/bin/python3.11", "3.11", managed, &s);
	is_str(e,
	       "ERR: the base marks /usr/bin/python3.11 as externally managed "
	       "(/usr/lib/python3.11/EXTERNALLY-MANAGED, PEP 668): use venv:, or a base without "
	       "that file",
	       "PEP 668 marker refused");

	const char *const none[] = {"f usr/bin/python3.11", "d usr/lib/python3.11", NULL};
	_cleanup_free_ char *f = system_scheme("/usr/bin/python3.11", "3.11", none, &s);
	is_str(f,
	       "ERR: python interpreter /usr/bin/python3.11 has no site directory in the base: "
	       "neither /usr/lib/python3.11/site-packages (a python.org build) nor "
	       "/usr/lib/python3/dist-packages (Debian's python3 in /usr/bin) is a directory (use "
	       "venv:)",
	       "no site directory: both paths named");

	/* Debian's dist-packages only counts for /usr: a /usr/local python does not use it */
	_cleanup_free_ char *g = system_scheme("/usr/local/bin/python3.11", "3.11", debian, &s);
	ok(g && strstr(g,
	               "ERR: python interpreter /usr/local/bin/python3.11 has no site "
	               "directory in the base: neither /usr/local/lib/python3.11/site-packages") ==
	                   g,
	   "dist-packages of /usr not used for another prefix");

	/* a site-packages that is a file is no site directory */
	const char *const file[] = {"f usr/local/bin/python3",
	                            "f usr/local/lib/python3.11/site-packages", NULL};
	_cleanup_free_ char *h = system_scheme("/usr/local/bin/python3", "3.11", file, &s);
	ok(h && strncmp(h, "ERR: ", 5) == 0, "site-packages as a file refused");

	_cleanup_free_ char *i = system_scheme("/usr/lib/python3.11/python", "3.11", debian, &s);
	is_str(i,
	       "ERR: python interpreter /usr/lib/python3.11/python is not in a PREFIX/bin "
	       "directory: cannot tell its site directory (use venv:)",
	       "interpreter outside a bin directory refused");
	_cleanup_free_ char *j = system_scheme("usr/bin/python3.11", "3.11", debian, &s);
	is_str(j, "ERR: python interpreter 'usr/bin/python3.11' is not an absolute path",
	       "relative interpreter refused");
	_cleanup_free_ char *k = system_scheme("/usr/bin/python3.11", "3.x", debian, &s);
	is_str(k, "ERR: python version '3.x' is not of the form 3.Y", "bad version refused");
	_cleanup_free_ char *l = system_scheme("/usr/../../python3.11", "3.11", debian, &s);
	is_str(l,
	       "ERR: python interpreter /usr/../../python3.11: path '/usr/../../python3.11' climbs "
	       "above the root",
	       "interpreter climbing above the root refused");
}

static char *base_dist(const char *const *specs, const char *site, const char *name,
                       const char *version)
{
	_cleanup_(lade_tree_freep) struct lade_tree *t = base_tree(specs);
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *di = NULL;
	int r = lade_install_base_dist(t, site, name, version, &di, &err);
	if (r < 0)
		return xasprintf("ERR: %s", err->msg);
	return xasprintf("%d %s", r, di ? di : "-");
}

static void test_base_dist(void)
{
#define DP "usr/local/lib/python3.11/dist-packages"
	const char *const specs[] = {"d " DP "/Foo_Bar-1.0.dist-info",
	                             "f " DP "/Foo_Bar-1.0.dist-info/METADATA",
	                             "d " DP "/foo_bar",
	                             "f " DP "/zope-1.0.dist-info",
	                             "d " DP "/old-style-name-2.0.dist-info",
	                             "d " DP "/foo-1.0.egg-info",
	                             NULL};
	_cleanup_free_ char *a = base_dist(specs, DP, "foo.bar", "1.0");
	is_str(a, "1 " DP "/Foo_Bar-1.0.dist-info", "same version found, PEP 503 name compare");
	_cleanup_free_ char *b = base_dist(specs, DP, "Foo-Bar", "1.0.0");
	is_str(b, "1 " DP "/Foo_Bar-1.0.dist-info", "1.0.0 is 1.0 (PEP 440 equality)");
	_cleanup_free_ char *c = base_dist(specs, DP, "foo-bar", "1.1");
	is_str(c,
	       "ERR: foo-bar 1.1 is locked, the base has foo-bar 1.0 (/" DP
	       "/Foo_Bar-1.0.dist-info)"
	       ": lade does not uninstall from a base image: lock 1.0, or use venv:",
	       "another version refused, naming both and the dist-info");
	_cleanup_free_ char *d = base_dist(specs, DP, "old-style-name", "2.0");
	is_str(d, "1 " DP "/old-style-name-2.0.dist-info", "a name with dashes");
	_cleanup_free_ char *e = base_dist(specs, DP, "old", "2.0");
	is_str(e, "0 -", "a name prefix is not the name");
	_cleanup_free_ char *e2 = base_dist(specs, DP, "old-style", "name-2.0");
	is_str(e2, "0 -", "a split leaving no valid version is not a match");
	_cleanup_free_ char *f = base_dist(specs, DP, "zope", "2.0");
	is_str(f, "0 -", "a dist-info that is not a directory is ignored");
	_cleanup_free_ char *g = base_dist(specs, DP, "foo", "1.0");
	is_str(g, "0 -", "egg-info is not looked at");
	_cleanup_free_ char *h =
	        base_dist(specs, "usr/lib/python3.11/site-packages", "foo-bar", "1.0");
	is_str(h, "0 -", "no site directory: nothing installed");
	const char *const linked[] = {"l usr/local/lib/python3.11 /opt/site",
	                              "d opt/site/dist-packages/foo_bar-3.dist-info", NULL};
	_cleanup_free_ char *i = base_dist(linked, DP, "foo-bar", "3");
	is_str(i, "1 " DP "/foo_bar-3.dist-info", "site directory looked up through symlinks");
#undef DP
}

static void test_script_text(void)
{
	_cleanup_free_ char *t = lade_install_script_text("/opt/venv/bin/python", "pkg.cli", "a.b");
	is_str(t,
	       "#!/opt/venv/bin/python\nimport sys\n"
	       "from pkg.cli import a\nif __name__ == '__main__':\n"
	       "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n"
	       "    sys.exit(a.b())\n",
	       "pip's wrapper, dotted attr imports its head");
	char longp[140];
	memset(longp, 'x', sizeof(longp));
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	_cleanup_free_ char *lt = lade_install_script_text(longp, "m", "f");
	_cleanup_free_ char *want = xasprintf("#!/bin/sh\n'''exec' %s \"$0\" \"$@\"\n' '''\n"
	                                      "import sys\n",
	                                      longp);
	ok(lt && strncmp(lt, want, strlen(want)) == 0, "long interpreter uses the sh trampoline");
	/* boundary: "#!" + 124 bytes + "\n" = 127 fits */
	longp[124] = '\0';
	_cleanup_free_ char *edge = lade_install_script_text(longp, "m", "f");
	ok(edge && strncmp(edge, "#!/xxx", 6) == 0, "127-byte shebang stays simple");
	longp[124] = 'x';
	longp[125] = '\0';
	_cleanup_free_ char *over = lade_install_script_text(longp, "m", "f");
	ok(over && strncmp(over, "#!/bin/sh\n", 10) == 0, "128-byte shebang uses the trampoline");
}

static void test_pure(void)
{
	_cleanup_(lade_wheel_freep) struct lade_wheel *w =
	        open_wheel("purepkg-1.0-py3-none-any.whl");
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("wheel purepkg");
	struct lade_install_scheme s;
	struct lade_install_info info;
	_cleanup_error_ struct lade_error *err = NULL;
	if (!w || lade_install_scheme_venv("/opt/venv", "3.11", &s, &err) < 0) {
		ok(0, "setup pure");
		return;
	}
	s.uid = 1000;
	s.gid = 1000;
	ok(lade_wheel_install(w, &s, true, l, &info, &err) == 0, "install purepkg");
	if (err)
		printf("# %s\n", err->msg);

	const struct lade_entry *e = lade_layer_lookup(l, SITE "/purepkg/cli.py");
	ok(e && e->type == LADE_ENTRY_FILE && e->mode == 0644 && e->has_sha256 && e->ops &&
	           e->uid == 1000 && e->gid == 1000,
	   "verbatim member: streamed, 0644, RECORD hash, owner");
	e = lade_layer_lookup(l, SITE "/purepkg/tool.sh");
	ok(e && e->mode == 0755 && e->size == strlen("#!/bin/sh\necho tool\n"),
	   "exec bit in zip gives 0755, size from the central directory");
	e = lade_layer_lookup(l, SITE "/purepkg");
	ok(e && e->type == LADE_ENTRY_DIR && e->mode == 0755 && e->uid == 1000,
	   "package directory entry owned by the scheme owner");
	ok(lade_layer_lookup(l, SITE "/purepkg-1.0.dist-info/RECORD") &&
	           lade_layer_lookup(l, SITE "/purepkg-1.0.dist-info/RECORD")->ops == NULL,
	   "wheel RECORD replaced by a generated one");
	is_str(entry_data(l, SITE "/purepkg-1.0.dist-info/INSTALLER"), "lade\n", "INSTALLER");
	is_str(entry_data(l, SITE "/purepkg-1.0.dist-info/REQUESTED"), "", "REQUESTED empty");

	const char *script = entry_data(l, "opt/venv/bin/purepkg-run");
	is_str(script,
	       "#!/opt/venv/bin/python\nimport sys\n"
	       "from purepkg.cli import app\nif __name__ == '__main__':\n"
	       "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n"
	       "    sys.exit(app.run())\n",
	       "console script wrapper text");
	e = lade_layer_lookup(l, "opt/venv/bin/purepkg-gui");
	ok(e && e->mode == 0755 && strstr(e->data.data, "from purepkg.gui import main\n"),
	   "gui script wrapper 0755");

	/* RECORD: sorted rows, CRLF, csv quoting, relative paths, hashes of generated files */
	const char *record = entry_data(l, SITE "/purepkg-1.0.dist-info/RECORD");
	ok(record && strstr(record, "../../../bin/purepkg,sha256=") != NULL,
	   "scripts listed relative to site-packages");
	ok(record && strstr(record, "\"purepkg/odd,name.txt\",sha256=") != NULL,
	   "comma in a path is quoted like Python csv");
	ok(record && strstr(record, "purepkg-1.0.dist-info/RECORD,,\r\n") != NULL,
	   "RECORD lists itself without hash");
	_cleanup_free_ char *inst = sha_field("lade\n", 5);
	_cleanup_free_ char *inst_row = xasprintf("purepkg-1.0.dist-info/INSTALLER,%s\r\n", inst);
	ok(record && strstr(record, inst_row) != NULL, "INSTALLER hash computed");
	const char *wrapper = entry_data(l, "opt/venv/bin/purepkg");
	_cleanup_free_ char *wsha = wrapper ? sha_field(wrapper, strlen(wrapper)) : NULL;
	_cleanup_free_ char *wrow = xasprintf("../../../bin/purepkg,%s\r\n", wsha ? wsha : "");
	ok(record && strstr(record, wrow) != NULL, "wrapper hash in RECORD matches its bytes");

	/* rows sorted, one per installed file */
	size_t rows = 0;
	bool sorted = true;
	_cleanup_free_ char *prev = NULL;
	for (const char *p = record ? record : ""; *p;) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		char *row = xstrndup(p, (size_t)(eol - p));
		if (prev && strcmp(prev, row) > 0 && prev[0] != '"' && row[0] != '"')
			sorted = false;
		free(prev);
		prev = row;
		rows++;
		p = eol + 2;
	}
	ok(sorted, "RECORD rows sorted");
	ok(rows == info.files, "one RECORD row per installed file (%zu)", rows);
	is_str(info.name, "purepkg", "info name");
	is_str(info.version, "1.0", "info version");
	is_str(info.license, "MIT", "info license");
	ok(lade_strv_len(info.requires_dist) == 2, "info requires_dist");
	is_str(info.dist_info, SITE "/purepkg-1.0.dist-info", "info dist-info path");
	/* 6 modules + METADATA, WHEEL, entry_points.txt + 3 wrappers + INSTALLER, REQUESTED,
	 * RECORD */
	ok(info.files == 15, "installed file count (%zu)", info.files);

	/* the layer streams member bytes out of the zip */
	struct mem_stream ms = {{mem_write}, LADE_BUF_INIT};
	struct lade_layer_options opts = {.compression = LADE_COMPRESS_NONE,
	                                  .level = -1,
	                                  .jobs = 1,
	                                  .mtime = 0,
	                                  .base = NULL};
	ok(lade_layer_write_tar(l, &opts, &ms.stream, &err) == 0, "layer written");
	if (err)
		printf("# %s\n", err->msg);
	_cleanup_free_ char *cli = tar_file(&ms.buf, SITE "/purepkg/cli.py");
	is_str(cli, "def main():\n    return 0\n\nclass app:\n    def run():\n        return 0\n",
	       "member bytes streamed from the zip");
	_cleanup_free_ char *rec = tar_file(&ms.buf, SITE "/purepkg-1.0.dist-info/RECORD");
	is_str(rec, record, "generated RECORD written");
	lade_buf_release(&ms.buf);
	lade_install_info_release(&info);

	/* not requested, with excludes (site-packages relative and image path) */
	_cleanup_(lade_layer_freep) struct lade_layer *l2 = lade_layer_new("wheel purepkg");
	lade_strv_push(&s.exclude, "purepkg/tests/**");
	lade_strv_push(&s.exclude, "opt/venv/bin/purepkg-gui");
	ok(lade_wheel_install(w, &s, false, l2, &info, &err) == 0, "install with excludes");
	ok(lade_layer_lookup(l2, SITE "/purepkg-1.0.dist-info/REQUESTED") == NULL,
	   "no REQUESTED when not requested");
	ok(lade_layer_lookup(l2, SITE "/purepkg/tests/test_x.py") == NULL &&
	           lade_layer_lookup(l2, SITE "/purepkg/tests") == NULL,
	   "site-packages relative exclude drops the file and its directory");
	ok(lade_layer_lookup(l2, "opt/venv/bin/purepkg-gui") == NULL, "image path exclude");
	const char *rec2 = entry_data(l2, SITE "/purepkg-1.0.dist-info/RECORD");
	ok(rec2 && strstr(rec2, "test_x.py") == NULL && strstr(rec2, "purepkg-gui") == NULL,
	   "excluded files not listed in RECORD");
	ok(info.files == 12, "excluded files not counted (%zu)", info.files);
	lade_install_info_release(&info);
	lade_install_scheme_release(&s);
}

static void test_data(void)
{
	_cleanup_(lade_wheel_freep) struct lade_wheel *w =
	        open_wheel("datapkg-0.3-py3-none-any.whl");
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("wheel datapkg");
	struct lade_install_scheme s;
	_cleanup_error_ struct lade_error *err = NULL;
	if (!w || lade_install_scheme_venv("/opt/venv", "3.11", &s, &err) < 0) {
		ok(0, "setup data");
		return;
	}
	ok(lade_wheel_install(w, &s, true, l, NULL, &err) == 0, "install datapkg");
	if (err)
		printf("# %s\n", err->msg);
	const struct lade_entry *e = lade_layer_lookup(l, "opt/venv/bin/datatool");
	ok(e && e->mode == 0644 && e->ops == NULL,
	   "#!python script rewritten in memory, mode from the zip (0644 like pip)");
	is_str(e ? e->data.data : NULL, "#!/opt/venv/bin/python\nimport datapkg\nprint('ok')\n",
	       "#!python line replaced like pip's fix_script");
	ok(e && e->size == e->data.len, "rewritten size");
	e = lade_layer_lookup(l, "opt/venv/bin/plain.sh");
	ok(e && e->mode == 0644 && e->ops != NULL, "other script verbatim, keeps 0644");
	e = lade_layer_lookup(l, "opt/venv/bin/datapkg");
	ok(e && e->ops == NULL && strstr(e->data.data, "from datapkg import main") != NULL,
	   "shipped wrapper for an entry point replaced by a generated one");
	ok(lade_layer_lookup(l, "opt/venv/include/site/python3.11/datapkg/datapkg.h") != NULL,
	   "headers under include/site/pythonX.Y/<name>");
	ok(lade_layer_lookup(l, "opt/venv/share/datapkg/readme.txt") != NULL,
	   "data under the venv root");
	ok(lade_layer_lookup(l, "opt/venv/share") &&
	           lade_layer_lookup(l, "opt/venv/share")->type == LADE_ENTRY_DIR,
	   "directories below the data root added");
	ok(lade_layer_lookup(l, SITE "/datapkg_extra.py") != NULL, ".data/purelib to purelib");
	const char *rec = entry_data(l, SITE "/datapkg-0.3.dist-info/RECORD");
	const char *dt = entry_data(l, "opt/venv/bin/datatool");
	_cleanup_free_ char *sha = dt ? sha_field(dt, strlen(dt)) : xstrdup("?");
	_cleanup_free_ char *row = xasprintf("../../../bin/datatool,%s\r\n", sha);
	ok(rec && strstr(rec, row) != NULL, "rewritten script rehashed in RECORD");
	ok(rec && strstr(rec, "\r\ndatapkg-0.3.data/scripts/datapkg,sha256=") != NULL &&
	           lade_layer_lookup(l, SITE "/datapkg-0.3.data/scripts/datapkg") == NULL,
	   "skipped wrapper keeps its wheel RECORD row (pip quirk), not installed");
	ok(rec && strstr(rec, "../../../include/site/python3.11/datapkg/datapkg.h,sha256=") &&
	           strstr(rec, "../../../share/datapkg/readme.txt,sha256="),
	   "headers and data listed relative to site-packages");

	/* the rewritten script and the verbatim one come out of the layer */
	struct mem_stream ms = {{mem_write}, LADE_BUF_INIT};
	struct lade_layer_options opts = {.compression = LADE_COMPRESS_NONE,
	                                  .level = -1,
	                                  .jobs = 1,
	                                  .mtime = 0,
	                                  .base = NULL};
	ok(lade_layer_write_tar(l, &opts, &ms.stream, &err) == 0, "datapkg layer written");
	_cleanup_free_ char *plain = tar_file(&ms.buf, "opt/venv/bin/plain.sh");
	is_str(plain, "#!/bin/sh\necho plain\n", "verbatim script bytes");
	lade_buf_release(&ms.buf);
	lade_install_scheme_release(&s);
}

static void test_platlib_and_collapse(void)
{
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("wheels");
	struct lade_install_scheme s;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_install_scheme_venv("/opt/venv", "3.11", &s, &err) < 0)
		return;
	/* a scheme with a distinct platlib shows where Root-Is-Purelib false goes */
	free(s.platlib);
	s.platlib = xstrdup("opt/venv/lib64/python3.11/site-packages");
	_cleanup_(lade_wheel_freep) struct lade_wheel *p =
	        open_wheel("platpkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl");
	ok(p && lade_wheel_install(p, &s, true, l, NULL, &err) == 0, "install platpkg");
	ok(lade_layer_lookup(l, "opt/venv/lib64/python3.11/site-packages/platpkg/__init__.py") &&
	           lade_layer_lookup(l, "opt/venv/lib64/python3.11/site-packages/"
	                                "platpkg-2.0.dist-info/RECORD"),
	   "platlib wheel installed under platlib with its dist-info");
	free(s.platlib);
	s.platlib = xstrdup(s.purelib);

	_cleanup_(lade_wheel_freep) struct lade_wheel *a =
	        open_wheel("nvidia_cublas_cu12-12.1.3.1-py3-none-manylinux1_x86_64.whl");
	_cleanup_(lade_wheel_freep) struct lade_wheel *b =
	        open_wheel("nvidia_cudnn_cu12-8.9.2.26-py3-none-manylinux1_x86_64.whl");
	ok(a && lade_wheel_install(a, &s, true, l, NULL, &err) == 0, "install nvidia cublas");
	size_t before = lade_layer_count(l);
	ok(b && lade_wheel_install(b, &s, true, l, NULL, &err) == 0,
	   "install nvidia cudnn into the same layer");
	if (err)
		printf("# %s\n", err->msg);
	const struct lade_entry *e = lade_layer_lookup(l, SITE "/nvidia/__init__.py");
	ok(e && strstr(e->origin, "nvidia_cublas_cu12") != NULL,
	   "identical nvidia/__init__.py collapsed into the first");
	ok(lade_layer_lookup(l, SITE "/nvidia/cudnn/__init__.py") != NULL, "second wheel's files");
	/* cudnn adds: cudnn/__init__.py, dist-info (METADATA WHEEL INSTALLER REQUESTED RECORD),
	 * dirs nvidia/cudnn and the dist-info; nvidia/__init__.py and nvidia/ collapse */
	ok(lade_layer_count(l) == before + 8, "only new entries added (%zu)",
	   lade_layer_count(l) - before);

	/* unknown .data key */
	_cleanup_(lade_wheel_freep) struct lade_wheel *d =
	        open_wheel("hostile_datakey-1.0-py3-none-any.whl");
	_cleanup_(lade_layer_freep) struct lade_layer *l2 = lade_layer_new("bad");
	ok(d && lade_wheel_install(d, &s, true, l2, NULL, &err) < 0, "bad .data key refused");
	is_str(err ? err->msg : NULL,
	       "wheel hostile_datakey-1.0-py3-none-any.whl: unknown .data directory 'foo'",
	       "bad .data key message");
	lade_error_freep(&err);

	/* RECORD mismatch surfaces when the layer is written */
	_cleanup_(lade_wheel_freep) struct lade_wheel *h =
	        open_wheel("hostile_badhash-1.0-py3-none-any.whl");
	_cleanup_(lade_layer_freep) struct lade_layer *l3 = lade_layer_new("badhash");
	ok(h && lade_wheel_install(h, &s, true, l3, NULL, &err) == 0,
	   "bad-hash wheel installs (hash checked while streaming)");
	struct mem_stream ms = {{mem_write}, LADE_BUF_INIT};
	struct lade_layer_options opts = {.compression = LADE_COMPRESS_NONE,
	                                  .level = -1,
	                                  .jobs = 1,
	                                  .mtime = 0,
	                                  .base = NULL};
	ok(lade_layer_write_tar(l3, &opts, &ms.stream, &err) < 0, "layer write fails");
	ok(err && strstr(err->msg,
	                 "wheel hostile_badhash-1.0-py3-none-any.whl member "
	                 "hostile/mod.py: sha256 mismatch with RECORD (expected ") != NULL,
	   "layer write error names the wheel member");
	if (err)
		printf("# %s\n", err->msg);
	lade_buf_release(&ms.buf);
	lade_install_scheme_release(&s);
}

static void test_venv(void)
{
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("venv");
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_venv_add(l, "/opt/venv", "/usr/bin/python3.11", "3.11", 1000, 1000, &err) == 0,
	   "venv skeleton");
	is_str(entry_data(l, "opt/venv/pyvenv.cfg"),
	       "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11\n"
	       "executable = /usr/bin/python3.11\ncommand = /usr/bin/python3.11 -m venv "
	       "/opt/venv\n",
	       "pyvenv.cfg");
	const struct lade_entry *e = lade_layer_lookup(l, "opt/venv/bin/python");
	ok(e && e->type == LADE_ENTRY_SYMLINK && strcmp(e->link, "/usr/bin/python3.11") == 0,
	   "bin/python -> interpreter");
	e = lade_layer_lookup(l, "opt/venv/bin/python3.11");
	ok(e && e->type == LADE_ENTRY_SYMLINK && strcmp(e->link, "python") == 0,
	   "bin/python3.11 -> python");
	e = lade_layer_lookup(l, "opt/venv/lib64");
	ok(e && e->type == LADE_ENTRY_SYMLINK && strcmp(e->link, "lib") == 0, "lib64 -> lib");
	e = lade_layer_lookup(l, SITE);
	ok(e && e->type == LADE_ENTRY_DIR && e->uid == 1000 && e->mode == 0755,
	   "site-packages directory owned by uid");
	ok(lade_layer_lookup(l, "opt/venv/include") && lade_layer_lookup(l, "opt/venv/bin/python3"),
	   "include dir and python3 link");
	ok(lade_layer_lookup(l, "opt/venv/bin/activate") == NULL, "no activate scripts");
	ok(lade_venv_add(l, "opt/venv", "/usr/bin/python3", "3.11", 0, 0, &err) < 0,
	   "relative venv refused");
	is_str(err ? err->msg : NULL, "venv path 'opt/venv' is not absolute",
	       "relative venv message");

	_cleanup_free_ char *p1 = lade_venv_path_env("/opt/venv", NULL);
	is_str(p1, "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	       "PATH with the default base");
	_cleanup_free_ char *p2 = lade_venv_path_env("/opt/venv", "/opt/venv/bin:/usr/bin");
	is_str(p2, "/opt/venv/bin:/usr/bin", "venv bin not added twice");
	_cleanup_strv_ char **env = lade_venv_env("/opt/venv/", "/bin");
	ok(lade_strv_len(env) == 2 && strcmp(env[0], "PATH=/opt/venv/bin:/bin") == 0 &&
	           strcmp(env[1], "VIRTUAL_ENV=/opt/venv") == 0,
	   "venv environment");
}

/* setuid/setgid bits of wheel members are dropped with a note; other members give none. */
static void test_setuid(void)
{
	_cleanup_free_ char *cmd = xasprintf(
	        "cd '%s/w' && /usr/bin/python3 -c 'import importlib.util as u, sys\n"
	        "s = u.spec_from_file_location(\"mw\", sys.argv[1]); mw = u.module_from_spec(s)\n"
	        "s.loader.exec_module(mw)\n"
	        "mw.simple(\".\", \"suidpkg\", \"1.0\", {\"suidpkg/__init__.py\": b\"\",\n"
	        "  \"suidpkg/tool\": (b\"#!/bin/sh\\n\", 0o4755),\n"
	        "  \"suidpkg/shared\": (b\"x\", 0o2644)})' "
	        "'%s/tests/fixtures/make-wheels.py'",
	        tmpdir, getenv("LADE_TEST_SRCDIR"));
	if (system(cmd) != 0) {
		ok(0, "make the setuid wheel");
		return;
	}
	_cleanup_(lade_wheel_freep) struct lade_wheel *w =
	        open_wheel("suidpkg-1.0-py3-none-any.whl");
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("wheel suidpkg");
	struct lade_install_scheme s;
	struct lade_install_info info;
	_cleanup_error_ struct lade_error *err = NULL;
	if (!w || lade_install_scheme_venv("/opt/venv", "3.11", &s, &err) < 0) {
		ok(0, "setup setuid");
		return;
	}
	ok(lade_wheel_install(w, &s, false, l, &info, &err) == 0,
	   "install a wheel with setuid members");
	if (err)
		printf("# %s\n", err->msg);
	const struct lade_entry *e = lade_layer_lookup(l, SITE "/suidpkg/tool");
	ok(e && e->mode == 0755, "setuid executable member installed as 0755");
	e = lade_layer_lookup(l, SITE "/suidpkg/shared");
	ok(e && e->mode == 0644, "setgid member installed as 0644");
	ok(lade_strv_len(info.notes) == 2, "one note per member that had the bits");
	is_str(info.notes ? info.notes[0] : NULL,
	       "wheel suidpkg-1.0-py3-none-any.whl member suidpkg/shared: setuid/setgid bits "
	       "dropped (mode 2644 installed as 0644)",
	       "note for the setgid member");
	is_str(info.notes && info.notes[0] ? info.notes[1] : NULL,
	       "wheel suidpkg-1.0-py3-none-any.whl member suidpkg/tool: setuid/setgid bits "
	       "dropped (mode 4755 installed as 0755)",
	       "note for the setuid member");
	lade_install_info_release(&info);
	lade_install_scheme_release(&s);

	/* A wheel without such bits has no notes. */
	_cleanup_(lade_wheel_freep) struct lade_wheel *pw =
	        open_wheel("purepkg-1.0-py3-none-any.whl");
	_cleanup_(lade_layer_freep) struct lade_layer *l2 = lade_layer_new("wheel purepkg");
	if (!pw || lade_install_scheme_venv("/opt/venv", "3.11", &s, &err) < 0) {
		ok(0, "setup no notes");
		return;
	}
	ok(lade_wheel_install(pw, &s, false, l2, &info, &err) == 0 && info.notes == NULL,
	   "no notes for an ordinary wheel");
	lade_install_info_release(&info);
	lade_install_scheme_release(&s);
}

/* Members whose size is at an inflate output buffer boundary (k * 64 KiB - 1, +0, +1) install
 * exactly the bytes Python's zipfile reads (boundpkg.sums, written by make-wheels.py). */
static void test_buffer_boundaries(void)
{
	_cleanup_free_ char *cmd =
	        xasprintf("/usr/bin/python3 '%s/tests/fixtures/make-wheels.py' '%s/b' boundary",
	                  getenv("LADE_TEST_SRCDIR"), tmpdir);
	_cleanup_free_ char *path = xasprintf("%s/b/boundpkg-1.0-py3-none-any.whl", tmpdir);
	_cleanup_free_ char *sums_path = xasprintf("%s/b/boundpkg.sums", tmpdir);
	_cleanup_(lade_wheel_freep) struct lade_wheel *w = NULL;
	_cleanup_(lade_layer_freep) struct lade_layer *l = lade_layer_new("wheel boundpkg");
	_cleanup_buf_ struct lade_buf sums = LADE_BUF_INIT;
	_cleanup_(lade_install_scheme_release) struct lade_install_scheme s = {0};
	struct lade_install_info info = {0};
	_cleanup_error_ struct lade_error *err = NULL;
	if (system(cmd) != 0 || lade_read_file(sums_path, 1 << 20, &sums, &err) < 0 ||
	    lade_wheel_open(path, &w, &err) < 0 ||
	    lade_install_scheme_venv("/opt/venv", "3.11", &s, &err) < 0 ||
	    lade_wheel_install(w, &s, true, l, &info, &err) < 0) {
		ok(0, "boundpkg installs: %s", err ? err->msg : "make-wheels.py failed");
		return;
	}
	struct mem_stream ms = {{mem_write}, LADE_BUF_INIT};
	struct lade_layer_options opts = {
	        .compression = LADE_COMPRESS_NONE, .level = -1, .jobs = 1};
	ok(lade_layer_write_tar(l, &opts, &ms.stream, &err) == 0, "boundpkg layer written: %s",
	   err ? err->msg : "ok");
	size_t checked = 0, same = 0;
	for (char *line = sums.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char name[256], want[65];
		unsigned long long size;
		if (sscanf(line, "%255s %64s %llu", name, want, &size) != 3)
			continue;
		_cleanup_free_ char *tpath = xasprintf(SITE "/%s", name);
		_cleanup_buf_ struct lade_buf got = LADE_BUF_INIT;
		char digest[LADE_DIGEST_STRLEN];
		checked++;
		if (!tar_file_buf(&ms.buf, tpath, &got)) {
			printf("# %s missing from the layer\n", name);
			continue;
		}
		lade_sha256_buf(got.data, got.len, digest);
		if (got.len == size && strcmp(lade_digest_hex(digest), want) == 0)
			same++;
		else
			printf("# %s: %zu bytes, zipfile reads %llu\n", name, got.len, size);
	}
	ok(checked == 25, "every boundary member checked (%zu)", checked);
	ok(same == checked, "installed bytes equal zipfile's at each 64 KiB boundary +-1");
	lade_buf_release(&ms.buf);
	lade_install_info_release(&info);
}

int main(void)
{
	if (make_fixtures() < 0) {
		printf("not ok 1 - make-wheels.py failed (LADE_TEST_SRCDIR set?)\n1..1\n");
		return 1;
	}
	test_scheme();
	test_scheme_system();
	test_base_dist();
	test_script_text();
	test_pure();
	test_data();
	test_platlib_and_collapse();
	test_venv();
	test_setuid();
	test_buffer_boundaries();
	rm_rf(tmpdir);
	free(tmpdir);
	return tap_done();
}
