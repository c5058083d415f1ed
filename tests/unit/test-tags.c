/* Unit tests for the target, the tag list and wheel file names. Expected tag positions, counts
 * and the digests of whole lists come from packaging.tags (cpython_tags + compatible_tags with
 * the platforms of _linux_platforms) and are the reference lade must reproduce. */
#include <string.h>

#include "lade/digest.h"
#include "lade/tags.h"
#include "lade/util.h"
#include "tap.h"

static struct lade_tags *make(const char *plat, const char *py, const char *libc,
                              struct lade_target *t)
{
	struct lade_error *err = NULL;
	if (lade_target_init(t, plat, py, libc, &err) < 0) {
		printf("# %s\n", err->msg);
		lade_error_free(err);
		return NULL;
	}
	return lade_tags_generate(t);
}

/* sha256 of the tags joined by single spaces */
static void list_digest(const struct lade_tags *tags, char out[LADE_DIGEST_STRLEN])
{
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; i < lade_tags_count(tags); i++)
		lade_buf_addf(&b, "%s%s", i ? " " : "", lade_tags_get(tags, i));
	lade_sha256_buf(b.data, b.len, out);
	lade_buf_release(&b);
}

static void test_target(void)
{
	struct lade_target t;
	char buf[64];
	ok(lade_target_init(&t, "linux/amd64", "3.11", "glibc-2.36", NULL) == 0, "amd64 target");
	is_str(lade_target_describe(&t, buf, sizeof(buf)), "cp311 linux x86_64 glibc 2.36",
	       "describe");
	is_str(t.python_full, "3.11.0", "full version defaults to .0");
	ok(lade_target_init(&t, "linux/arm/v7", "3.12.4", "musl-1.2", NULL) == 0, "arm/v7 target");
	is_str(t.arch, "armv7l", "arm/v7 is armv7l");
	is_str(t.python_full, "3.12.4", "given micro version kept");
	ok(t.libc == LADE_LIBC_MUSL && t.libc_major == 1 && t.libc_minor == 2, "musl 1.2");
	static const struct {
		const char *plat, *machine;
	} arches[] = {{"linux/arm64", "aarch64"},
	              {"linux/arm64/v8", "aarch64"},
	              {"linux/ppc64le", "ppc64le"},
	              {"linux/s390x", "s390x"},
	              {"linux/386", "i686"}};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(arches); i++) {
		lade_target_init(&t, arches[i].plat, "3.11", "glibc-2.17", NULL);
		is_str(t.arch, arches[i].machine, "%s is %s", arches[i].plat, arches[i].machine);
	}

	static const struct {
		const char *plat, *py, *libc, *msg;
	} bad[] = {
	        {"windows/amd64", "3.11", "glibc-2.36",
	         "unsupported platform 'windows/amd64' (linux/amd64, linux/arm64, linux/arm/v7, "
	         "linux/ppc64le, linux/s390x, linux/386, linux/riscv64)"},
	        {"linux/amd64", "3", "glibc-2.36",
	         "invalid python version '3' (need 3.N or 3.N.M)"},
	        {"linux/amd64", "2.7", "glibc-2.36",
	         "invalid python version '2.7' (need 3.N or 3.N.M)"},
	        {"linux/amd64", "3.x", "glibc-2.36",
	         "invalid python version '3.x' (need 3.N or 3.N.M)"},
	        {"linux/amd64", "3.11", "glibc",
	         "invalid libc 'glibc' (need glibc-2.N or musl-1.N)"},
	        {"linux/amd64", "3.11", "musl-2.0",
	         "invalid libc 'musl-2.0' (need glibc-2.N or musl-1.N)"},
	        {"linux/amd64", "3.11", "glibc-2.99999",
	         "invalid libc 'glibc-2.99999' (need glibc-2.N or musl-1.N)"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++) {
		struct lade_error *err = NULL;
		ok(lade_target_init(&t, bad[i].plat, bad[i].py, bad[i].libc, &err) == -1,
		   "refused %s %s %s", bad[i].plat, bad[i].py, bad[i].libc);
		is_str(err ? err->msg : NULL, bad[i].msg, "message");
		lade_error_free(err);
	}
}

static void test_glibc_x86_64(void)
{
	struct lade_target t;
	_cleanup_(lade_tags_freep) struct lade_tags *tags =
	        make("linux/amd64", "3.11", "glibc-2.36", &t);
	char d[LADE_DIGEST_STRLEN];

	ok(lade_tags_count(tags) == 914, "914 tags for cp311 glibc 2.36 x86_64");
	is_str(lade_tags_get(tags, 0), "cp311-cp311-manylinux_2_36_x86_64", "first tag");
	is_str(lade_tags_get(tags, 913), "py30-none-any", "last tag");
	ok(lade_tags_get(tags, 914) == NULL, "out of range is NULL");
	list_digest(tags, d);
	is_str(d, "sha256:e4c9e66194226b5663ab757c042e7cea32038c8ca2ffd0e215323fd1bea026d0",
	       "whole list equals packaging's");

	static const struct {
		const char *tag;
		long rank;
	} ranks[] = {
	        {"cp311-cp311-manylinux_2_17_x86_64", 19},
	        {"cp311-cp311-manylinux2014_x86_64", 20},
	        {"cp311-cp311-manylinux_2_12_x86_64", 25},
	        {"cp311-cp311-manylinux2010_x86_64", 26},
	        {"cp311-cp311-manylinux_2_5_x86_64", 33},
	        {"cp311-cp311-manylinux1_x86_64", 34},
	        {"cp311-cp311-linux_x86_64", 35},
	        {"cp311-abi3-manylinux_2_17_x86_64", 55},
	        {"cp311-none-manylinux_2_36_x86_64", 72},
	        {"cp310-abi3-manylinux_2_36_x86_64", 108},
	        {"cp32-abi3-linux_x86_64", 431},
	        {"py311-none-manylinux_2_36_x86_64", 432},
	        {"py3-none-manylinux_2_36_x86_64", 468},
	        {"py30-none-linux_x86_64", 899},
	        {"cp311-none-any", 900},
	        {"py311-none-any", 901},
	        {"py3-none-any", 902},
	        {"py310-none-any", 903},
	        {"py2-none-any", -1},
	        {"cp312-cp312-manylinux_2_17_x86_64", -1},
	        {"cp311-cp311-manylinux_2_37_x86_64", -1},
	        {"cp311-cp311-manylinux_2_17_aarch64", -1},
	        {"cp311-cp311-musllinux_1_2_x86_64", -1},
	        /* compressed tag sets: the best member counts */
	        {"py2.py3-none-any", 902},
	        {"cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", 19},
	        {"cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64", 19},
	        {"cp36.cp37.cp38.cp39.cp310.cp311-abi3-manylinux_2_28_x86_64", 44},
	        {"cp39-abi3.cp39-manylinux2014_x86_64", 164},
	        {"cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", -1},
	        {"py3-none-any.", 902},
	        {"garbage", -1},
	        {"a-b-c-d", -1},
	        {"", -1},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(ranks); i++)
		ok(lade_tags_rank(tags, ranks[i].tag) == ranks[i].rank, "rank %s = %ld (got %ld)",
		   ranks[i].tag, ranks[i].rank, lade_tags_rank(tags, ranks[i].tag));

	/* a hostile compressed set does not explode */
	struct lade_buf b = LADE_BUF_INIT;
	for (int i = 0; i < 20000; i++)
		lade_buf_adds(&b, "py3.");
	lade_buf_adds(&b, "x-none.none.none-any.any");
	ok(lade_tags_rank(tags, b.data) == 902, "20000 repeated members ranked quickly");
	lade_buf_release(&b);
}

static void test_musl_aarch64(void)
{
	struct lade_target t;
	_cleanup_(lade_tags_freep) struct lade_tags *tags =
	        make("linux/arm64", "3.11", "musl-1.2", &t);
	char d[LADE_DIGEST_STRLEN];

	ok(lade_tags_count(tags) == 114, "114 tags for cp311 musl 1.2 aarch64");
	is_str(lade_tags_get(tags, 0), "cp311-cp311-musllinux_1_2_aarch64", "first tag");
	is_str(lade_tags_get(tags, 3), "cp311-cp311-linux_aarch64", "linux_aarch64 last platform");
	is_str(lade_tags_get(tags, 113), "py30-none-any", "last tag");
	list_digest(tags, d);
	is_str(d, "sha256:9d84b18bdf6522bed05124ba4316dbb14fa19a15cd467c196d1f5bcc99c9e7f4",
	       "whole list equals packaging's");
	ok(lade_tags_rank(tags, "cp311-abi3-musllinux_1_2_aarch64") == 4, "abi3 rank");
	ok(lade_tags_rank(tags, "py3-none-any") == 102, "py3-none-any rank");
	ok(lade_tags_rank(tags, "cp311-cp311-manylinux_2_17_aarch64") == -1,
	   "manylinux not for musl");
}

static void test_aliases(void)
{
	struct lade_target t;
	_cleanup_(lade_tags_freep) struct lade_tags *arm =
	        make("linux/arm64", "3.12", "glibc-2.28", &t);
	ok(lade_tags_count(arm) == 393, "393 tags for cp312 glibc 2.28 aarch64");
	long r17 = lade_tags_rank(arm, "cp312-cp312-manylinux_2_17_aarch64");
	ok(r17 == 11 && lade_tags_rank(arm, "cp312-cp312-manylinux2014_aarch64") == r17 + 1,
	   "manylinux2014 right after manylinux_2_17 on aarch64");
	ok(lade_tags_rank(arm, "cp312-cp312-linux_aarch64") == r17 + 2,
	   "aarch64 stops at 2_17, then linux_aarch64");
	ok(lade_tags_rank(arm, "cp312-cp312-manylinux2010_aarch64") == -1 &&
	           lade_tags_rank(arm, "cp312-cp312-manylinux1_aarch64") == -1,
	   "no manylinux2010/manylinux1 for aarch64");

	_cleanup_(lade_tags_freep) struct lade_tags *i686 =
	        make("linux/386", "3.8", "glibc-2.17", &t);
	ok(lade_tags_count(i686) == 334, "334 tags for cp38 glibc 2.17 i686");
	is_str(lade_tags_get(i686, 0), "cp38-cp38-manylinux_2_17_i686", "first i686 tag");
	is_str(lade_tags_get(i686, 1), "cp38-cp38-manylinux2014_i686", "alias second");
	ok(lade_tags_rank(i686, "cp38-cp38-manylinux1_i686") == 15, "manylinux1 for i686");
}

static void test_wheel_names(void)
{
	static const struct {
		const char *file, *name, *name_text, *version, *build, *tag;
	} good[] = {
	        {"torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl", "torch", "torch", "2.3.0+cpu",
	         NULL, "cp311-cp311-linux_x86_64"},
	        {"Foo_Bar.baz-1.0-1abc-py2.py3-none-any.whl", "foo-bar-baz", "Foo_Bar.baz", "1.0",
	         "1abc", "py2.py3-none-any"},
	        {"numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "numpy",
	         "numpy", "1.26.4", NULL, "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(good); i++) {
		struct lade_wheel_name wn;
		ok(lade_wheel_name_parse(good[i].file, &wn, NULL) == 0, "parse %s", good[i].file);
		is_str(wn.name, good[i].name, "name");
		is_str(wn.name_text, good[i].name_text, "name as written");
		is_str(wn.version, good[i].version, "version");
		is_str(wn.build, good[i].build, "build tag");
		is_str(wn.tag, good[i].tag, "tag");
		lade_wheel_name_release(&wn);
	}
	static const struct {
		const char *file, *msg;
	} bad[] = {
	        {"foo-1.0.tar.gz", "invalid wheel file name 'foo-1.0.tar.gz': no .whl suffix"},
	        {"foo-1.0-py3-none.whl", "invalid wheel file name 'foo-1.0-py3-none.whl': need "
	                                 "name-version(-build)-python-abi-platform.whl"},
	        {"foo-1.0-1-2-py3-none-any.whl",
	         "invalid wheel file name 'foo-1.0-1-2-py3-none-any.whl': too many parts"},
	        {"foo__bar-1.0-py3-none-any.whl",
	         "invalid wheel file name 'foo__bar-1.0-py3-none-any.whl': invalid project name"},
	        {"fo+o-1.0-py3-none-any.whl",
	         "invalid wheel file name 'fo+o-1.0-py3-none-any.whl': invalid project name"},
	        {"foo-one-py3-none-any.whl",
	         "invalid wheel file name 'foo-one-py3-none-any.whl': invalid version 'one'"},
	        {"foo-1.0-x1-py3-none-any.whl",
	         "invalid wheel file name 'foo-1.0-x1-py3-none-any.whl': invalid build number "
	         "'x1'"},
	        {"foo-1.0-py3--any.whl",
	         "invalid wheel file name 'foo-1.0-py3--any.whl': invalid tag"},
	        {"foo-1.0-py3-none-.any.whl",
	         "invalid wheel file name 'foo-1.0-py3-none-.any.whl': invalid tag"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++) {
		struct lade_wheel_name wn;
		struct lade_error *err = NULL;
		ok(lade_wheel_name_parse(bad[i].file, &wn, &err) == -1 && wn.name == NULL,
		   "refused %s", bad[i].file);
		is_str(err ? err->msg : NULL, bad[i].msg, "message");
		lade_error_free(err);
	}
}

int main(void)
{
	test_target();
	test_glibc_x86_64();
	test_musl_aarch64();
	test_aliases();
	test_wheel_names();
	return tap_done();
}
