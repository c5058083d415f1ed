/* lade — sha256 through OpenSSL EVP (see include/lade/digest.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lade/digest.h"
#include "lade/util.h"

struct lade_sha256 {
	EVP_MD_CTX *ctx;
};

struct lade_sha256 *lade_sha256_new(void)
{
	struct lade_sha256 *h = xzalloc(sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		lade_die("cannot initialise sha256 (OpenSSL)");
	}
	return h;
}

void lade_sha256_free(struct lade_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void lade_sha256_freep(struct lade_sha256 **h)
{
	lade_sha256_free(*h);
	*h = NULL;
}

void lade_sha256_update(struct lade_sha256 *h, const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1)
		abort(); /* cannot fail for sha256 with a valid context */
}

void lade_sha256_final(struct lade_sha256 *h, unsigned char raw[32], char out[LADE_DIGEST_STRLEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
		abort();
	if (raw)
		memcpy(raw, md, 32);
	if (out) {
		static const char hex[] = "0123456789abcdef";
		memcpy(out, "sha256:", 7);
		for (int i = 0; i < 32; i++) {
			out[7 + 2 * i] = hex[md[i] >> 4];
			out[8 + 2 * i] = hex[md[i] & 15];
		}
		out[LADE_DIGEST_STRLEN - 1] = '\0';
	}
}

void lade_sha256_buf(const void *data, size_t len, char out[LADE_DIGEST_STRLEN])
{
	_cleanup_(lade_sha256_freep) struct lade_sha256 *h = lade_sha256_new();
	lade_sha256_update(h, data, len);
	lade_sha256_final(h, NULL, out);
}

/* One read of the file feeding the sha256 and, when sha1 is not NULL, that SHA-1 too. */
static int hash_file(const char *path, EVP_MD_CTX *sha1, char out[LADE_DIGEST_STRLEN],
                     uint64_t *size, struct lade_error **err)
{
	_cleanup_fd_ int fd = -1;
	if (lade_open_regular(path, 0, &fd, err) < 0)
		return -1;
	_cleanup_(lade_sha256_freep) struct lade_sha256 *h = lade_sha256_new();
	_cleanup_free_ char *buf = xmalloc(1 << 20);
	uint64_t total = 0;
	for (;;) {
		ssize_t n = lade_read_retry(fd, buf, 1 << 20);
		if (n < 0)
			return lade_error_set(err, errno, "cannot read %s", path);
		if (n == 0)
			break;
		lade_sha256_update(h, buf, (size_t)n);
		if (sha1 && EVP_DigestUpdate(sha1, buf, (size_t)n) != 1)
			abort();
		total += (uint64_t)n;
	}
	lade_sha256_final(h, NULL, out);
	if (size)
		*size = total;
	return 0;
}

int lade_sha256_file(const char *path, char out[LADE_DIGEST_STRLEN], uint64_t *size,
                     struct lade_error **err)
{
	return hash_file(path, NULL, out, size, err);
}

static EVP_MD_CTX *sha1_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1) {
		lade_die("cannot initialise sha1 (OpenSSL)");
	}
	return ctx;
}

static void sha1_final(EVP_MD_CTX *ctx, char out[LADE_SHA1_HEXLEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != 20)
		abort();
	EVP_MD_CTX_free(ctx);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 20; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[40] = '\0';
}

void lade_sha1_buf(const void *data, size_t len, char sha1_hex[LADE_SHA1_HEXLEN])
{
	EVP_MD_CTX *ctx = sha1_new();
	if (len > 0 && EVP_DigestUpdate(ctx, data, len) != 1)
		abort();
	sha1_final(ctx, sha1_hex);
}

int lade_sha1_sha256_file(const char *path, char sha1_hex[LADE_SHA1_HEXLEN],
                          char sha256[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	EVP_MD_CTX *s1 = sha1_new();
	if (hash_file(path, s1, sha256, NULL, err) < 0) {
		EVP_MD_CTX_free(s1);
		return -1;
	}
	sha1_final(s1, sha1_hex);
	return 0;
}

bool lade_digest_valid(const char *digest)
{
	if (digest == NULL || strncmp(digest, "sha256:", 7) != 0)
		return false;
	const char *p = digest + 7;
	size_t n = 0;
	for (; *p; p++, n++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return n == LADE_DIGEST_HEX_LEN;
}

const char *lade_digest_hex(const char *digest)
{
	return digest + 7;
}

static int hash_stream_write(struct lade_stream *s, const void *buf, size_t len,
                             struct lade_error **err)
{
	struct lade_hash_stream *hs = (struct lade_hash_stream *)s;
	lade_sha256_update(hs->sha, buf, len);
	hs->bytes += len;
	if (hs->next)
		return lade_stream_write(hs->next, buf, len, err);
	return 0;
}

void lade_hash_stream_init(struct lade_hash_stream *hs, struct lade_stream *next)
{
	hs->stream.write = hash_stream_write;
	hs->next = next;
	hs->sha = lade_sha256_new();
	hs->bytes = 0;
}

void lade_hash_stream_final(struct lade_hash_stream *hs, char out[LADE_DIGEST_STRLEN])
{
	lade_sha256_final(hs->sha, NULL, out);
	lade_hash_stream_release(hs);
}

void lade_hash_stream_release(struct lade_hash_stream *hs)
{
	lade_sha256_free(hs->sha);
	hs->sha = NULL;
}
