/* Unit tests: buffer, paths, sizes, globs (digests: test-digest.c). */
#include <stdlib.h>
#include <string.h>

#include "lade/util.h"
#include "tap.h"

static void test_buf(void)
{
	struct lade_buf b = LADE_BUF_INIT;
	ok(b.data != NULL && b.data[0] == '\0', "empty buffer has a valid empty string");
	lade_buf_adds(&b, "abc");
	lade_buf_addf(&b, "-%d-%s", 42, "x");
	lade_buf_addch(&b, '!');
	is_str(b.data, "abc-42-x!", "add/addf/addch append");
	ok(b.len == 9, "length counts bytes");
	for (int i = 0; i < 10000; i++)
		lade_buf_addch(&b, 'z');
	ok(b.len == 10009 && b.data[b.len] == '\0', "growth keeps NUL termination");
	size_t n;
	char *s = lade_buf_detach(&b, &n);
	ok(n == 10009 && b.len == 0 && b.data[0] == '\0', "detach leaves an empty buffer");
	free(s);
	s = lade_buf_detach(&b, NULL);
	is_str(s, "", "detach of an empty buffer gives an owned empty string");
	free(s);
}

static void norm_case(const char *in, const char *want)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *got = lade_path_normalize(in, &err);
	is_str(got, want, "normalize '%s'", in);
}

static void test_paths(void)
{
	norm_case("/opt//venv/./bin/", "opt/venv/bin");
	norm_case("/", "");
	norm_case("a/b/../c", "a/c");
	norm_case("./x", "x");
	struct lade_error *err = NULL;
	char *r = lade_path_normalize("/a/../../etc/passwd", &err);
	ok(r == NULL && err != NULL && strstr(err->msg, "climbs above the root"),
	   "normalize refuses to climb above the root");
	lade_error_free(err);

	_cleanup_free_ char *j1 = lade_path_join("a/", "/b");
	is_str(j1, "a/b", "join strips duplicate slashes");
	_cleanup_free_ char *j2 = lade_path_join("", "b");
	is_str(j2, "b", "join with empty head");
	_cleanup_free_ char *d = lade_path_dirname("a/b/c");
	is_str(d, "a/b", "dirname");
	_cleanup_free_ char *a = lade_path_absolute("/x/y", "../z/./w");
	is_str(a, "/x/z/w", "absolute resolves lexically against the base");
	ok(lade_path_compare("a", "a/b") < 0, "parent sorts before child");
	ok(lade_path_compare("a/b", "a.b") < 0, "subtree of a sorts before sibling a.b");
	ok(lade_path_compare("a/z", "a-b") < 0, "'/' sorts before '-'");
	ok(lade_path_compare("b", "a/b") > 0 && lade_path_compare("x", "x") == 0,
	   "bytewise otherwise");
	_cleanup_free_ char *p = lade_path_parent_dir("/x/y/file.yaml");
	is_str(p, "/x/y", "parent dir of a host path");
}

static void test_sizes(void)
{
	uint64_t v = 0;
	ok(lade_parse_size("64MiB", &v) == 0 && v == 64ull << 20, "64MiB");
	ok(lade_parse_size("4GiB", &v) == 0 && v == 4ull << 30, "4GiB");
	ok(lade_parse_size("100", &v) == 0 && v == 100, "plain bytes");
	ok(lade_parse_size("12XB", &v) < 0, "unknown unit refused");
	ok(lade_parse_size("-1", &v) < 0, "negative refused");
	uint32_t u;
	ok(lade_parse_u32("0644", 8, &u) == 0 && u == 0644, "octal mode");
	ok(lade_parse_u32("4294967296", 10, &u) < 0, "u32 overflow refused");
	char buf[32];
	is_str(lade_human_size(1536, buf, sizeof(buf)), "1.5 KiB", "human size");
}

int main(void)
{
	test_buf();
	test_paths();
	test_sizes();
	return tap_done();
}
