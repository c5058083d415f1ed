/* Tests for core/digest.c: SHA-256 and SHA-1 known answers (FIPS 180-2 / RFC 6234 vectors;
 * the long pattern's sums come from python3 hashlib), the streaming context and the hash stream
 * fed across odd chunk boundaries, the file helpers (across the 1 MiB read buffer, empty,
 * missing, a directory) and the digest string grammar. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "lade/digest.h"
#include "lade/util.h"
#include "tap.h"

struct vector {
	const char *name;
	const char *msg; /* NULL: 1,000,000 times 'a' */
	const char *sha256;
	const char *sha1;
};

static const struct vector vectors[] = {
        {"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
         "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
         "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"448 bits", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"896 bits",
         "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
         "lmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
         "a49b2446a02c645bf419f995b67091253a04a259"},
        {"a million a", NULL, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
         "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
};

/* The pattern byte i*7 mod 251 (no period that lines up with a 64-byte block), n bytes. */
static unsigned char *pattern(size_t n)
{
	unsigned char *p = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 % 251);
	return p;
}
#define PATTERN_SMALL 300000
#define PATTERN_SMALL_SHA256                                                                       \
	"sha256:b1cf7538cf80d01efe3e0b8e45dc930048a138c7b6f8c4aff08f478e4695e631"
#define PATTERN_LARGE 2500000 /* more than two of hash_file's 1 MiB reads */
#define PATTERN_LARGE_SHA256                                                                       \
	"sha256:403bb1275324b44dfa833fde4e61792de41208fa49123b4af13355a2a9205e0a"
#define PATTERN_LARGE_SHA1 "8b29f1358ce5b1b131c48248cceedd28cf024b02"

static char *tmp;

static void test_vectors(void)
{
	_cleanup_free_ char *million = xmalloc(1000000);
	memset(million, 'a', 1000000);
	for (size_t i = 0; i < LADE_ARRAY_SIZE(vectors); i++) {
		const struct vector *v = &vectors[i];
		const char *msg = v->msg ? v->msg : million;
		size_t len = v->msg ? strlen(v->msg) : 1000000;
		char d[LADE_DIGEST_STRLEN], s1[LADE_SHA1_HEXLEN];
		_cleanup_free_ char *want = xasprintf("sha256:%s", v->sha256);
		lade_sha256_buf(msg, len, d);
		is_str(d, want, "sha256 of %s", v->name);
		lade_sha1_buf(msg, len, s1);
		is_str(s1, v->sha1, "sha1 of %s", v->name);
	}
}

/* The context fed in chunks of `step` bytes (the last one shorter) gives the one-shot digest,
 * and the raw bytes are the hex string's. */
static void test_streaming(void)
{
	_cleanup_free_ unsigned char *p = pattern(PATTERN_SMALL);
	static const size_t steps[] = {1,  3,   55,  56,   63,    64,
	                               65, 127, 129, 4095, 65537, PATTERN_SMALL};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(steps); i++) {
		_cleanup_(lade_sha256_freep) struct lade_sha256 *h = lade_sha256_new();
		for (size_t off = 0; off < PATTERN_SMALL; off += steps[i]) {
			size_t n = PATTERN_SMALL - off < steps[i] ? PATTERN_SMALL - off : steps[i];
			lade_sha256_update(h, p + off, n);
			lade_sha256_update(h, p + off, 0); /* empty updates change nothing */
		}
		unsigned char raw[32];
		char d[LADE_DIGEST_STRLEN];
		lade_sha256_final(h, raw, d);
		is_str(d, PATTERN_SMALL_SHA256, "sha256 in chunks of %zu bytes", steps[i]);
		char hex[65];
		for (int j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", raw[j]);
		is_str(hex, lade_digest_hex(PATTERN_SMALL_SHA256), "raw digest, chunks of %zu",
		       steps[i]);
	}
	/* Either output may be NULL. */
	_cleanup_(lade_sha256_freep) struct lade_sha256 *h = lade_sha256_new();
	lade_sha256_update(h, "abc", 3);
	unsigned char raw[32];
	lade_sha256_final(h, raw, NULL);
	ok(raw[0] == 0xba && raw[31] == 0xad, "final with only the raw output");
}

/* A sink that keeps what reaches it and can be told to fail. */
struct sink {
	struct lade_stream stream;
	struct lade_buf got;
	bool fail;
};

static int sink_write(struct lade_stream *s, const void *buf, size_t len, struct lade_error **err)
{
	struct sink *k = (struct sink *)s;
	if (k->fail)
		return lade_error_set(err, ENOSPC, "sink is full");
	lade_buf_add(&k->got, buf, len);
	return 0;
}

static void test_hash_stream(void)
{
	_cleanup_free_ unsigned char *p = pattern(PATTERN_SMALL);
	struct sink k = {.stream.write = sink_write, .got = LADE_BUF_INIT};
	struct lade_hash_stream hs;
	lade_hash_stream_init(&hs, &k.stream);
	_cleanup_error_ struct lade_error *err = NULL;
	int rc = 0;
	/* Growing chunk sizes: 1, 2, 3, ... never aligned to a block for long. */
	for (size_t off = 0, step = 1; off < PATTERN_SMALL && rc == 0; off += step, step++) {
		size_t n = PATTERN_SMALL - off < step ? PATTERN_SMALL - off : step;
		rc = lade_stream_write(&hs.stream, p + off, n, &err);
	}
	ok(rc == 0, "hash stream: every write forwarded");
	ok(hs.bytes == PATTERN_SMALL, "hash stream counts %" PRIu64 " bytes", hs.bytes);
	char d[LADE_DIGEST_STRLEN];
	lade_hash_stream_final(&hs, d);
	is_str(d, PATTERN_SMALL_SHA256, "hash stream digest");
	ok(hs.sha == NULL, "final frees the context");
	ok(k.got.len == PATTERN_SMALL && memcmp(k.got.data, p, PATTERN_SMALL) == 0,
	   "the next stream got every byte in order");

	/* Hash only (next NULL). */
	lade_hash_stream_init(&hs, NULL);
	ok(lade_stream_write(&hs.stream, "abc", 3, &err) == 0, "hash-only stream accepts writes");
	lade_hash_stream_final(&hs, d);
	is_str(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	       "hash-only stream digest of abc");

	/* The next stream's error comes back unchanged. */
	k.fail = true;
	lade_hash_stream_init(&hs, &k.stream);
	rc = lade_stream_write(&hs.stream, "x", 1, &err);
	ok(rc < 0 && err && err->sys_errno == ENOSPC && strncmp(err->msg, "sink is full", 12) == 0,
	   "the next stream's error is returned: %s", err ? err->msg : "(none)");
	lade_hash_stream_release(&hs);
	ok(hs.sha == NULL, "release frees the context without finishing");
	lade_buf_release(&k.got);
}

static void test_files(void)
{
	_cleanup_free_ unsigned char *p = pattern(PATTERN_LARGE);
	_cleanup_free_ char *big = xasprintf("%s/big", tmp);
	write_file(big, p, PATTERN_LARGE);
	char d[LADE_DIGEST_STRLEN], s1[LADE_SHA1_HEXLEN];
	uint64_t size = 0;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_sha256_file(big, d, &size, &err) == 0, "sha256 of a 2.5 MB file");
	is_str(d, PATTERN_LARGE_SHA256, "its digest (three reads)");
	ok(size == PATTERN_LARGE, "its size: %" PRIu64, size);
	ok(lade_sha256_file(big, d, NULL, &err) == 0, "size may be NULL");
	memset(d, 0, sizeof(d));
	ok(lade_sha1_sha256_file(big, s1, d, &err) == 0, "sha1 and sha256 in one read");
	is_str(s1, PATTERN_LARGE_SHA1, "its sha1");
	is_str(d, PATTERN_LARGE_SHA256, "its sha256");

	_cleanup_free_ char *empty = xasprintf("%s/empty", tmp);
	write_file(empty, "", 0);
	size = 99;
	ok(lade_sha256_file(empty, d, &size, &err) == 0 && size == 0, "an empty file");
	is_str(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "the empty file's digest");
	ok(lade_sha1_sha256_file(empty, s1, d, &err) == 0, "sha1 of an empty file");
	is_str(s1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "the empty file's sha1");

	_cleanup_free_ char *missing = xasprintf("%s/missing", tmp);
	ok(lade_sha256_file(missing, d, NULL, &err) < 0, "a missing file fails");
	_cleanup_free_ char *want = xasprintf("cannot open %s", missing);
	ok(err && err->sys_errno == ENOENT && strncmp(err->msg, want, strlen(want)) == 0,
	   "the error names it: %s", err ? err->msg : "(none)");
	lade_error_free(steal_pointer(&err));
	ok(lade_sha1_sha256_file(missing, s1, d, &err) < 0 && err && err->sys_errno == ENOENT,
	   "sha1+sha256 of a missing file fails: %s", err ? err->msg : "(none)");
	lade_error_free(steal_pointer(&err));

	/* A directory (like a FIFO) is refused before any read, by what it is. */
	ok(lade_sha256_file(tmp, d, NULL, &err) < 0, "a directory fails");
	_cleanup_free_ char *want_dir = xasprintf("%s is a directory, not a regular file", tmp);
	is_str(err ? err->msg : NULL, want_dir, "the error names it and says what it is");
}

static void test_valid(void)
{
	static const char hex64[] =
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	_cleanup_free_ char *good = xasprintf("sha256:%s", hex64);
	ok(lade_digest_valid(good), "sha256:<64 lowercase hex> is valid");
	ok(lade_digest_hex(good) == good + 7, "the hex part follows the prefix");
	is_str(lade_digest_hex(good), hex64, "lade_digest_hex");
	ok(lade_digest_valid(
	           "sha256:0000000000000000000000000000000000000000000000000000000000000000"),
	   "all zeros is valid");

	struct {
		const char *s, *why;
	} bad[] = {
	        {NULL, "NULL"},
	        {"", "empty"},
	        {"sha256:", "no hex"},
	        {hex64, "no algorithm"},
	        {"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	         "uppercase hex"},
	        {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	         "63 digits"},
	        {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
	         "65 digits"},
	        {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
	         "a 'g'"},
	        {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
	         "a newline"},
	        {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ",
	         "a space"},
	        {"sha256:../../../../../../../../../../../../../../../../../../../../etc/pw",
	         "a path"},
	        {"SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	         "SHA256:"},
	        {"sha256e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	         "no colon"},
	        {"sha512:"
	         "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0f"
	         "f"
	         "8318d2877eec2f63b931bd47417a81a538327af927da3e",
	         "sha512"},
	        {"sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1"},
	        {"md5:d41d8cd98f00b204e9800998ecf8427e", "md5"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++)
		ok(!lade_digest_valid(bad[i].s), "refused: %s", bad[i].why);
	/* A NUL inside: the string ends there, 63 digits. */
	char cut[LADE_DIGEST_STRLEN + 1];
	snprintf(cut, sizeof(cut), "%s", good);
	cut[7 + 63] = '\0';
	ok(!lade_digest_valid(cut), "refused: cut short by a NUL");

	/* What lade computes is what it accepts. */
	char d[LADE_DIGEST_STRLEN];
	lade_sha256_buf("x", 1, d);
	ok(lade_digest_valid(d) && strlen(d) == LADE_DIGEST_STRLEN - 1,
	   "a computed digest is valid");
}

int main(void)
{
	tmp = make_tmpdir("test-digest");
	test_vectors();
	test_streaming();
	test_hash_stream();
	test_files();
	test_valid();
	rm_rf(tmp);
	free(tmp);
	return tap_done();
}
