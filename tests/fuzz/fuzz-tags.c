/* Fuzz wheel file names and tag sets: line 1 is parsed as a wheel file name (its tag ranked),
 * line 2 ranked as a (compressed) tag set, lines 3-5 are platform, Python version and libc for
 * lade_target_init. */
#include "fuzz-common.h"
#include "lade/tags.h"

static struct lade_tags *tags;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size > 4096)
		return 0;
	if (!tags) {
		struct lade_target t;
		_cleanup_error_ struct lade_error *err = NULL;
		if (lade_target_init(&t, "linux/amd64", "3.11", "glibc-2.36", &err) < 0)
			abort();
		tags = lade_tags_generate(&t);
	}
	_cleanup_free_ char *buf = fuzz_strndup(data, size);
	char *file = buf;
	char *tag = fuzz_split_line(file);
	char *platform = fuzz_split_line(tag);
	char *pyver = fuzz_split_line(platform);
	char *libc = fuzz_split_line(pyver);
	fuzz_split_line(libc);

	struct lade_wheel_name wn = {0};
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_wheel_name_parse(file, &wn, &err) == 0) {
		long r = lade_tags_rank(tags, wn.tag);
		if (r >= (long)lade_tags_count(tags))
			abort();
		lade_wheel_name_release(&wn);
	}
	long r = lade_tags_rank(tags, tag);
	if (r >= (long)lade_tags_count(tags))
		abort();

	struct lade_target t;
	_cleanup_error_ struct lade_error *terr = NULL;
	if (lade_target_init(&t, platform, pyver, libc, &terr) == 0) {
		char desc[128];
		lade_target_describe(&t, desc, sizeof(desc));
		_cleanup_(lade_tags_freep) struct lade_tags *tt = lade_tags_generate(&t);
		(void)lade_tags_rank(tt, tag);
	}
	return 0;
}
