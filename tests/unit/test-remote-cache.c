/* Unit tests for the registry cache's input keys and options (assembler/remote-cache.c); the
 * registry side is tested against a real registry (tests/integration/registry-cache.sh). */
#include <stdbool.h>
#include <string.h>

#include "../../assembler/remote-cache.h"
#include "lade/compress.h"
#include "lade/util.h"
#include "tap.h"

static const char *BASE = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

static void key(const struct lade_layer_options *lo, const char *platform, const char *base,
                char *const *parts, char out[65])
{
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_remote_input_key(lo, platform, base, parts, out, &err) < 0) {
		printf("# %s\n", err->msg);
		out[0] = '\0';
	}
}

static bool differs(const struct lade_layer_options *lo, const char *platform, const char *base,
                    char *const *parts, const char *k0)
{
	char k[65];
	key(lo, platform, base, parts, k);
	return strcmp(k, k0) != 0;
}

static void test_input_key(void)
{
	struct lade_layer_options lo = {.compression = LADE_COMPRESS_GZIP,
	                                .level = -1,
	                                .jobs = 1,
	                                .key_extra = "python compiler 3.11.2"};
	char *parts[] = {"scheme a|b", "dist torch-2.3-cp311.whl 00aa", NULL};
	char k0[65], k1[65];
	key(&lo, "linux/amd64", BASE, parts, k0);
	ok(strlen(k0) == 64, "an input key is 64 hex digits");
	key(&lo, "linux/amd64", BASE, parts, k1);
	is_str(k1, k0, "the same inputs give the same key");

	/* every input changes it */
	struct lade_layer_options jobs = lo, level = lo, zstd = lo, mtime = lo, nopyc = lo;
	jobs.jobs = 2;
	level.level = 9;
	zstd.compression = LADE_COMPRESS_ZSTD;
	mtime.mtime = 1;
	nopyc.key_extra = NULL;
	const char *L = "linux/amd64";
	ok(!differs(&jobs, L, BASE, parts, k0),
	   "the thread count is no input (the bytes do not depend on it)");
	ok(differs(&level, L, BASE, parts, k0), "the compression level is an input");
	ok(differs(&zstd, L, BASE, parts, k0), "the compression is an input");
	ok(differs(&mtime, L, BASE, parts, k0), "the mtime (SOURCE_DATE_EPOCH) is an input");
	ok(differs(&nopyc, L, BASE, parts, k0), "the bytecode compiler is an input");
	ok(differs(&lo, "linux/arm64/v8", BASE, parts, k0), "the platform is an input");
	ok(differs(&lo, L, NULL, parts, k0), "the base digest is an input");
	char *parts2[] = {"scheme a|b", "dist torch-2.3-cp311.whl 00ab", NULL};
	ok(differs(&lo, L, BASE, parts2, k0), "a wheel's hash is an input");
	/* length-prefixed: moving text across parts gives another key */
	char *parts3[] = {"scheme a|bdist torch-2.3-cp311.whl 00aa", NULL};
	ok(differs(&lo, L, BASE, parts3, k0), "parts cannot be re-cut into the same key");
}

static void test_options(void)
{
	struct lade_registry_options ro = LADE_REGISTRY_OPTIONS_INIT;
	char *from[] = {"127.0.0.1:5000/cache:latest", NULL};
	struct lade_remote_cache_options o = {.from = from, .ro = &ro};
	struct lade_remote_cache *rc = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_remote_cache_new(&o, &rc, &err) < 0 && err &&
	           strstr(err->msg, "--cache-from: 127.0.0.1:5000/cache:latest names a tag"),
	   "a --cache-from naming a tag is refused: %s", err ? err->msg : "");
	lade_remote_cache_free(rc);
	rc = NULL;

	char *good[] = {"127.0.0.1:5000/cache", "localhost:5000/team/cache", NULL};
	struct lade_remote_cache_options o2 = {.from = good,
	                                       .to = "127.0.0.1:5000/cache",
	                                       .push = "127.0.0.1:5000/app:1",
	                                       .ro = &ro};
	_cleanup_error_ struct lade_error *err2 = NULL;
	ok(lade_remote_cache_new(&o2, &rc, &err2) == 0 && lade_remote_cache_looks_up(rc),
	   "repositories (with a port, nested) and a push ref with a tag are accepted");
	lade_remote_cache_free(rc);
}

int main(void)
{
	test_input_key();
	test_options();
	return tap_done();
}
