/* lade — sha256 digests (OpenSSL EVP, which picks SHA-NI where the CPU has it).
 * Digest strings are always "sha256:" + 64 lowercase hex digits. */
#ifndef LADE_DIGEST_H
#define LADE_DIGEST_H

#include <stdbool.h>
#include <stdint.h>
#include "lade/error.h"
#include "lade/stream.h"

#define LADE_DIGEST_HEX_LEN 64
#define LADE_DIGEST_STRLEN  (7 + LADE_DIGEST_HEX_LEN + 1) /* "sha256:" + hex + NUL */

struct lade_sha256; /* opaque */

struct lade_sha256 *lade_sha256_new(void); /* aborts on allocation failure */
void lade_sha256_free(struct lade_sha256 *h);
void lade_sha256_freep(struct lade_sha256 **h);
void lade_sha256_update(struct lade_sha256 *h, const void *data, size_t len);
/* Finish: raw 32 bytes and/or the "sha256:hex" string (either may be NULL). The context may
 * not be updated afterwards. */
void lade_sha256_final(struct lade_sha256 *h, unsigned char raw[32], char out[LADE_DIGEST_STRLEN]);

/* One-shot helpers. */
void lade_sha256_buf(const void *data, size_t len, char out[LADE_DIGEST_STRLEN]);
int lade_sha256_file(const char *path, char out[LADE_DIGEST_STRLEN], uint64_t *size,
                     struct lade_error **err);

/* SHA-1, only where a format demands it (SPDX 2.3 wants one per file, clause 8.4); never used
 * to identify content. sha1_hex: 40 lowercase hex digits and a NUL. */
#define LADE_SHA1_HEXLEN 41
void lade_sha1_buf(const void *data, size_t len, char sha1_hex[LADE_SHA1_HEXLEN]);
/* The SHA-1 and the sha256 ("sha256:hex") of a file in one read. Errors name the file. */
int lade_sha1_sha256_file(const char *path, char sha1_hex[LADE_SHA1_HEXLEN],
                          char sha256[LADE_DIGEST_STRLEN], struct lade_error **err);

/* Validate "sha256:<64 lowercase hex>"; returns true when well formed. */
bool lade_digest_valid(const char *digest);
/* Pointer to the hex part of a valid digest string. */
const char *lade_digest_hex(const char *digest);

/* A pass-through stream that hashes and counts what goes through it, then forwards it to
 * `next` (which may be NULL: hash only). */
struct lade_hash_stream {
	struct lade_stream stream; /* first member */
	struct lade_stream *next;
	struct lade_sha256 *sha; /* owned */
	uint64_t bytes;
};
void lade_hash_stream_init(struct lade_hash_stream *hs, struct lade_stream *next);
/* Finish hashing into out; frees the context. */
void lade_hash_stream_final(struct lade_hash_stream *hs, char out[LADE_DIGEST_STRLEN]);
void lade_hash_stream_release(struct lade_hash_stream *hs); /* free without finishing */

#endif
