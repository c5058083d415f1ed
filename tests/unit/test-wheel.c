/* Unit tests: opening wheels made by tests/fixtures/make-wheels.py — ZIP parsing, metadata,
 * RECORD verification and the refusal of every hostile wheel with its message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/digest.h"
#include "lade/util.h"
#include "lade/wheel.h"
#include "fixture.h"
#include "tap.h"

static char *tmpdir;

static int make_fixtures(void)
{
	const char *src = getenv("LADE_TEST_SRCDIR");
	if (src == NULL)
		return -1;
	tmpdir = make_tmpdir("test-wheel");
	_cleanup_free_ char *cmd = xasprintf(
	        "/usr/bin/python3 '%s/tests/fixtures/make-wheels.py' '%s/w'", src, tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct lade_wheel *open_ok(const char *fn)
{
	_cleanup_free_ char *path = xasprintf("%s/w/%s", tmpdir, fn);
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_wheel *w = NULL;
	if (lade_wheel_open(path, &w, &err) < 0) {
		printf("# open %s: %s\n", fn, err->msg);
		return NULL;
	}
	return w;
}

/* Open a wheel that must be refused; returns the message (owned) or NULL when it opened. */
static char *open_fail(const char *fn)
{
	_cleanup_free_ char *path = xasprintf("%s/w/%s", tmpdir, fn);
	struct lade_error *err = NULL;
	struct lade_wheel *w = NULL;
	if (lade_wheel_open(path, &w, &err) == 0) {
		lade_wheel_free(w);
		return NULL;
	}
	char *msg = xstrdup(err->msg);
	lade_error_free(err);
	return msg;
}

static void check_refused(const char *rule, const char *want)
{
	_cleanup_free_ char *fn = xasprintf("hostile_%s-1.0-py3-none-any.whl", rule);
	_cleanup_free_ char *msg = open_fail(fn);
	_cleanup_free_ char *full = xasprintf("wheel %s%s", fn, want);
	is_str(msg, full, "hostile %s refused with its message", rule);
}

static void test_pure(void)
{
	_cleanup_(lade_wheel_freep) struct lade_wheel *w = open_ok("purepkg-1.0-py3-none-any.whl");
	ok(w != NULL, "purepkg opens");
	if (!w)
		return;
	is_str(lade_wheel_name(w), "purepkg", "name from METADATA");
	is_str(lade_wheel_version(w), "1.0", "version from METADATA");
	is_str(lade_wheel_dist_info(w), "purepkg-1.0.dist-info", "dist-info directory");
	is_str(lade_wheel_data_dir(w), "purepkg-1.0.data", "data directory name");
	ok(lade_wheel_root_is_purelib(w), "Root-Is-Purelib true");
	char *const *req = lade_wheel_requires_dist(w);
	ok(lade_strv_len(req) == 2, "two Requires-Dist");
	is_str(req[0], "requests>=2.0", "first Requires-Dist");
	is_str(req[1], "rich; extra == \"ui\"", "second Requires-Dist with marker");
	is_str(lade_wheel_license(w), "MIT", "License-Expression preferred");
	is_str(lade_wheel_license_field(w), "MIT License", "License field kept");
	ok(lade_strv_len(lade_wheel_classifiers(w)) == 2, "classifiers parsed, body ignored");
	ok(lade_wheel_entry_point_count(w) == 3, "three entry points (other sections ignored)");
	const struct lade_wheel_entry_point *ep = lade_wheel_entry_point(w, 1);
	ok(ep && strcmp(ep->name, "purepkg-run") == 0 && strcmp(ep->module, "purepkg.cli") == 0 &&
	           strcmp(ep->attr, "app.run") == 0 && !ep->gui,
	   "console entry point with dotted attr, extras dropped");
	ep = lade_wheel_entry_point(w, 2);
	ok(ep && strcmp(ep->name, "purepkg-gui") == 0 && ep->gui, "gui entry point last");

	ssize_t i = lade_wheel_find_member(w, "purepkg/tool.sh");
	ok(i >= 0, "member lookup");
	const struct lade_wheel_member *m = lade_wheel_member(w, (size_t)i);
	ok(m && (m->unix_mode & 0777) == 0755 && S_ISREG(m->unix_mode), "unix mode from ext attrs");
	ok(m && m->has_sha256 && m->usize == strlen("#!/bin/sh\necho tool\n"),
	   "RECORD hash attached, size from central directory");
	ok(lade_wheel_find_member(w, "purepkg/nope.py") == -1, "missing member not found");
	ssize_t r = lade_wheel_find_member(w, "purepkg-1.0.dist-info/RECORD");
	ok(r >= 0 && !lade_wheel_member(w, (size_t)r)->has_sha256, "RECORD has no hash");

	/* content: read back, and its sha256 equals the RECORD hash */
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_wheel_read_member(w, (size_t)i, 1 << 20, &b, &err) == 0, "read member");
	is_str(b.data, "#!/bin/sh\necho tool\n", "member bytes inflated");
	char want[LADE_DIGEST_STRLEN], got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(b.data, b.len, got);
	unsigned char raw[32];
	struct lade_sha256 *h = lade_sha256_new();
	lade_sha256_update(h, b.data, b.len);
	lade_sha256_final(h, raw, want);
	lade_sha256_free(h);
	ok(memcmp(raw, m->sha256, 32) == 0 && strcmp(want, got) == 0, "RECORD sha256 decoded");
	char b64[44];
	lade_wheel_hash_b64(m->sha256, b64);
	ok(strlen(b64) == 43 && strchr(b64, '=') == NULL, "urlsafe base64 without padding");

	lade_buf_reset(&b);
	ok(lade_wheel_read_member(w, (size_t)i, 4, &b, &err) < 0, "size cap enforced");
	_cleanup_free_ char *want_msg =
	        xasprintf("wheel purepkg-1.0-py3-none-any.whl member purepkg/tool.sh: %zu bytes, "
	                  "more than 4",
	                  strlen("#!/bin/sh\necho tool\n"));
	is_str(err ? err->msg : NULL, want_msg, "size cap message");
}

static void test_others(void)
{
	struct lade_wheel *w = open_ok("platpkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl");
	ok(w && !lade_wheel_root_is_purelib(w), "platlib wheel: Root-Is-Purelib false");
	ok(w && lade_wheel_license(w) && strcmp(lade_wheel_license(w), "BSD-3-Clause") == 0,
	   "License without License-Expression");
	lade_wheel_free(w);

	w = open_ok("localpkg-1.0+cu121-py3-none-any.whl");
	ok(w && strcmp(lade_wheel_version(w), "1.0+cu121") == 0, "local version parsed");
	lade_wheel_free(w);

	const char *good[] = {
	        "abipkg-1.0-cp311-abi3-manylinux_2_17_x86_64.whl",
	        "muslpkg-1.0-cp311-cp311-musllinux_1_1_x86_64.whl",
	        "localpkg-1.0+cpu-py3-none-any.whl",
	        "datapkg-0.3-py3-none-any.whl",
	        "nvidia_cublas_cu12-12.1.3.1-py3-none-manylinux1_x86_64.whl",
	        "nvidia_cudnn_cu12-8.9.2.26-py3-none-manylinux1_x86_64.whl",
	};
	size_t opened = 0;
	for (size_t i = 0; i < LADE_ARRAY_SIZE(good); i++) {
		w = open_ok(good[i]);
		opened += w != NULL;
		lade_wheel_free(w);
	}
	ok(opened == LADE_ARRAY_SIZE(good), "every good fixture opens");

	w = open_ok("nvidia_cublas_cu12-12.1.3.1-py3-none-manylinux1_x86_64.whl");
	ok(w && strcmp(lade_wheel_name(w), "nvidia_cublas_cu12") == 0 &&
	           strcmp(lade_wheel_dist_info(w), "nvidia_cublas_cu12-12.1.3.1.dist-info") == 0,
	   "underscored name matches its dist-info");
	lade_wheel_free(w);
}

static void test_hostile(void)
{
	check_refused("traversal", " member ../evil.py: path has a '..' component");
	check_refused("absolute", " member /etc/evil.py: absolute path");
	check_refused("backslash", " member hostile\\evil.py: name contains a backslash");
	check_refused("emptycomp", " member hostile//evil.py: path has an empty component");
	check_refused("symlink",
	              " member hostile/link is a symlink: wheels cannot contain symlinks");
	check_refused("duplicate", ": duplicate member hostile/mod.py");
	check_refused("unlisted", " member hostile/mod.py is not listed in RECORD");
	check_refused("recordextra", ": RECORD lists hostile/ghost.py which is not in the wheel");
	check_refused("nohash", " member hostile/mod.py: RECORD has no sha256 hash");
	check_refused("wheelversion", ": unsupported Wheel-Version 2.0 (only 1.x is supported)");
	check_refused("entrypoint",
	              ": entry point 'bad = hostile' in [console_scripts] has no callable "
	              "(module:attr)");
	check_refused("method", " member hostile/__init__.py: unsupported compression method 12");
	check_refused("bomb", " member hostile/zeros.bin: compression ratio over 1000:1 for "
	                      "209715200 bytes (decompression bomb)");
	check_refused("encrypted", " member hostile/mod.py is encrypted");
	check_refused("localheader", " member hostile/mod.py: local header lies outside the file");
	check_refused("nul", " member hostile/nul: name contains a NUL byte");
	check_refused("truncated", ": not a zip file (no end of central directory record)");
	check_refused("overlap", " member hostile/bomb-01.bin: local header or data overlaps "
	                         "member hostile/bomb-00.bin (members must not share bytes)");
	check_refused("localsize", " member hostile/mod.py: local header crc-32 or sizes differ "
	                           "from the central directory");
	check_refused("localmethod", " member hostile/mod.py: local header method or flags "
	                             "differ from the central directory");
	check_refused("dirdata", " member hostile/sub/: directory entry carries data");

	/* the bad hash is only seen when the member is read */
	struct lade_wheel *w = open_ok("hostile_badhash-1.0-py3-none-any.whl");
	ok(w != NULL, "bad-hash wheel opens (hashes are checked when reading)");
	if (w) {
		_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
		_cleanup_error_ struct lade_error *err = NULL;
		ssize_t i = lade_wheel_find_member(w, "hostile/mod.py");
		ok(lade_wheel_read_member(w, (size_t)i, 1024, &b, &err) < 0, "bad hash fails read");
		const char *prefix = "wheel hostile_badhash-1.0-py3-none-any.whl member "
		                     "hostile/mod.py: sha256 mismatch with RECORD (expected ";
		ok(err && strncmp(err->msg, prefix, strlen(prefix)) == 0 &&
		           strstr(err->msg, ", got ") != NULL,
		   "bad hash message names wheel and member");
		lade_wheel_free(w);
	}

	/* names: not a wheel file name, missing file */
	_cleanup_free_ char *bad = xasprintf("%s/w/requirements.lock", tmpdir);
	struct lade_error *err = NULL;
	struct lade_wheel *x = NULL;
	ok(lade_wheel_open(bad, &x, &err) < 0 && err &&
	           strcmp(err->msg, "wheel requirements.lock: not a wheel file name "
	                            "(NAME-VERSION-PYTHON-ABI-PLATFORM.whl)") == 0,
	   "non-wheel file name refused");
	lade_error_free(err);
	err = NULL;
	_cleanup_free_ char *missing = xasprintf("%s/w/nope-1.0-py3-none-any.whl", tmpdir);
	ok(lade_wheel_open(missing, &x, &err) < 0 && err && err->sys_errno == ENOENT,
	   "missing wheel reports ENOENT");
	lade_error_free(err);
	err = NULL;

	/* a wheel renamed to another project does not match its dist-info */
	_cleanup_free_ char *src =
	        xasprintf("%s/w/muslpkg-1.0-cp311-cp311-musllinux_1_1_x86_64.whl", tmpdir);
	_cleanup_free_ char *dst = xasprintf("%s/w/other-1.0-py3-none-any.whl", tmpdir);
	ok(link(src, dst) == 0, "renamed copy");
	ok(lade_wheel_open(dst, &x, &err) < 0 && err &&
	           strcmp(err->msg, "wheel other-1.0-py3-none-any.whl: .dist-info directory "
	                            "muslpkg-1.0.dist-info does not match the file name") == 0,
	   "dist-info must match the file name");
	lade_error_free(err);
}

/* The per-wheel totals: three members of 1 MiB zeros (a wheel of a few KiB) open with the
 * defaults, and are refused under a 2 MiB cap (at the third member) or a 100:1 ratio above
 * 1 MiB (at the second); each limit also switches off with 0. */
static void test_total_limits(void)
{
	_cleanup_free_ char *cmd = xasprintf(
	        "cd '%s' && PYTHONPATH='%s/tests/fixtures' /usr/bin/python3 -c 'import wheelkit; "
	        "wheelkit.mw.simple(\"w\", \"zeros\", \"1.0\", {\"zeros/%%s.bin\" %% c: "
	        "bytes(1 << 20) for c in \"abc\"})'",
	        tmpdir, getenv("LADE_TEST_SRCDIR"));
	_cleanup_free_ char *path = xasprintf("%s/w/zeros-1.0-py3-none-any.whl", tmpdir);
	ok(system(cmd) == 0, "zeros wheel written");
	struct lade_wheel_limits lim;
	struct lade_wheel *w = NULL;
	struct lade_error *err = NULL;
	ok(lade_wheel_open_limited(path, NULL, &w, &err) == 0, "3 MiB of zeros open by default");
	lade_wheel_free(w);
	lade_error_free(err);
	err = NULL;

	lade_wheel_limits_default(&lim);
	lim.max_total = 2 << 20;
	ok(lade_wheel_open_limited(path, &lim, &w, &err) < 0 && err &&
	           strcmp(err->msg, "wheel zeros-1.0-py3-none-any.whl member zeros/c.bin: the "
	                            "members add up to 3145728 bytes uncompressed, over the "
	                            "per-wheel limit of 2097152 (LADE_WHEEL_MAX_BYTES)") == 0,
	   "total cap names the member that crosses it");
	lade_error_free(err);
	err = NULL;

	lade_wheel_limits_default(&lim);
	lim.ratio_min = 1 << 20;
	struct stat st;
	ok(stat(path, &st) == 0 && st.st_size * 100 < (2 << 20), "the wheel is < 1/100 of 2 MiB");
	_cleanup_free_ char *want = xasprintf(
	        "wheel zeros-1.0-py3-none-any.whl member zeros/b.bin: the members add up to "
	        "2097152 bytes uncompressed, over 100 times the wheel's %lld bytes (decompression "
	        "bomb; LADE_WHEEL_MAX_RATIO)",
	        (long long)st.st_size);
	ok(lade_wheel_open_limited(path, &lim, &w, &err) < 0 && err && strcmp(err->msg, want) == 0,
	   "total ratio names the member that crosses it");
	lade_error_free(err);
	err = NULL;

	lim.max_ratio = 0;
	lim.max_total = 0;
	ok(lade_wheel_open_limited(path, &lim, &w, &err) == 0, "0 switches both limits off");
	lade_wheel_free(w);
	lade_error_free(err);
}

static void test_deterministic_fixtures(void)
{
	/* the generator itself must be deterministic: run it again elsewhere and compare */
	const char *src = getenv("LADE_TEST_SRCDIR");
	_cleanup_free_ char *cmd = xasprintf(
	        "cd '%s' && /usr/bin/python3 '%s/tests/fixtures/make-wheels.py' w2 && "
	        "cmp -s w/purepkg-1.0-py3-none-any.whl w2/purepkg-1.0-py3-none-any.whl && "
	        "cmp -s w/requirements.lock w2/requirements.lock",
	        tmpdir, src);
	ok(system(cmd) == 0, "make-wheels.py is deterministic");
}

/* ---- deflate data for splicing ---- */

struct mem_stream {
	struct lade_stream stream;
	struct lade_buf buf;
};

static int mem_write(struct lade_stream *s, const void *data, size_t len, struct lade_error **err)
{
	(void)err;
	lade_buf_add(&((struct mem_stream *)s)->buf, data, len);
	return 0;
}

/* Emit member `name` of wheel fn with its deflate data; 0/-1, the message in *msg. */
static int emit_spliced(const char *fn, const char *name, struct mem_stream *out,
                        struct mem_stream *raw, char **msg)
{
	_cleanup_(lade_wheel_freep) struct lade_wheel *w = open_ok(fn);
	ssize_t i = w ? lade_wheel_find_member(w, name) : -1;
	if (i < 0) {
		*msg = xasprintf("no wheel %s or member %s", fn, name);
		return -1;
	}
	out->stream.write = raw->stream.write = mem_write;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_wheel_emit_member_spliced(w, (size_t)i, &out->stream, &raw->stream, &err) < 0) {
		*msg = xstrdup(err->msg);
		return -1;
	}
	return 0;
}

static void test_spliced(void)
{
	/* A deflated member 64 KiB long, and the same deflate data with 3 bytes after its end
	 * (the central directory's sizes and CRC are those of the content: zipfile and pip take
	 * such a member, a spliced gzip member must not). */
	const char *src = getenv("LADE_TEST_SRCDIR");
	_cleanup_free_ char *cmd = xasprintf(
	        "cd '%s/w' && PYTHONPATH='%s/tests/fixtures' /usr/bin/python3 - <<'PY'\n"
	        "import zlib\n"
	        "from wheelkit import mw\n"
	        "body = b''.join(b'line %%d of the module\\n' %% i for i in range(3000))\n"
	        "mw.simple('.', 'splok', '1.0', {'splok/m.py': body})\n"
	        "c = zlib.compressobj(6, zlib.DEFLATED, -15)\n"
	        "raw = c.compress(body) + c.flush() + b'JNK'\n"
	        "def fix(rows):\n"
	        "    return [[r[0], mw.b64hash(body), str(len(body))] if r[0] == 'spljunk/m.py' "
	        "else r for r in rows]\n"
	        "fn = mw.simple('.', 'spljunk', '1.0', {'splok/x': b'', 'spljunk/m.py': raw}, "
	        "record_edit=fix, method=0)\n"
	        "crc = zlib.crc32(body)\n"
	        "mw.patch_zip(fn, 'spljunk/m.py', central={10: (2, 8), 16: (4, crc), 24: (4, "
	        "len(body))}, local={8: (2, 8), 14: (4, crc), 22: (4, len(body))})\n"
	        "PY",
	        tmpdir, src);
	if (system(cmd) != 0) {
		ok(0, "make the splice wheels");
		return;
	}
	struct mem_stream out = {0}, raw = {0};
	lade_buf_init(&out.buf);
	lade_buf_init(&raw.buf);
	_cleanup_free_ char *msg = NULL;
	ok(emit_spliced("splok-1.0-py3-none-any.whl", "splok/m.py", &out, &raw, &msg) == 0,
	   "emit a deflated member with its deflate data%s%s", msg ? ": " : "", msg ? msg : "");
	_cleanup_free_ char *zip = xasprintf("%s/w/splok-1.0-py3-none-any.whl", tmpdir);
	_cleanup_buf_ struct lade_buf file = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_read_file(zip, 1 << 20, &file, &err) == 0 && raw.buf.len > 100 &&
	           memmem(file.data, file.len, raw.buf.data, raw.buf.len) != NULL,
	   "the deflate data are the zip's bytes (%zu)", raw.buf.len);
	ok(out.buf.len == 3000 * 20 + 10890 &&
	           memcmp(out.buf.data, "line 0 of the module\n", 21) == 0,
	   "and the content is inflated as by emit_member (%zu bytes)", out.buf.len);

	lade_buf_reset(&out.buf);
	lade_buf_reset(&raw.buf);
	_cleanup_free_ char *junk = NULL;
	ok(emit_spliced("spljunk-1.0-py3-none-any.whl", "spljunk/m.py", &out, &raw, &junk) == -1,
	   "deflate data followed by 3 bytes is refused for splicing");
	is_str(junk,
	       "wheel spljunk-1.0-py3-none-any.whl member spljunk/m.py: 3 bytes after the end of "
	       "the deflate data",
	       "trailing bytes message");
	_cleanup_(lade_wheel_freep) struct lade_wheel *w = open_ok("spljunk-1.0-py3-none-any.whl");
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	ssize_t i = w ? lade_wheel_find_member(w, "spljunk/m.py") : -1;
	ok(i >= 0 && lade_wheel_read_member(w, (size_t)i, 1 << 20, &b, &err) == 0 &&
	           b.len == 3000 * 20 + 10890,
	   "but it inflates, as zipfile and pip take it%s%s", err ? ": " : "", err ? err->msg : "");
	lade_buf_reset(&out.buf);
	lade_buf_reset(&raw.buf);
	_cleanup_free_ char *stored = NULL;
	ok(emit_spliced("spljunk-1.0-py3-none-any.whl", "splok/x", &out, &raw, &stored) == -1 &&
	           strstr(stored, "a stored member has no deflate data") != NULL,
	   "a stored member has no deflate data: %s", stored ? stored : "(accepted)");
	lade_buf_release(&out.buf);
	lade_buf_release(&raw.buf);
}

int main(void)
{
	if (make_fixtures() < 0) {
		printf("not ok 1 - make-wheels.py failed (LADE_TEST_SRCDIR set?)\n1..1\n");
		return 1;
	}
	test_pure();
	test_others();
	test_hostile();
	test_total_limits();
	test_deterministic_fixtures();
	test_spliced();
	rm_rf(tmpdir);
	free(tmpdir);
	return tap_done();
}
