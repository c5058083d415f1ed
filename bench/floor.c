/* floor: the work a wheel-to-layer build cannot avoid, without the build.
 *
 * floor WHEEL... > STREAM: reads every member of every wheel once (libarchive inflates it,
 * with zlib), hashes all installed bytes with one SHA-256 (OpenSSL EVP, SHA-NI where present)
 * and writes them to stdout, where bench/run pipes them into a compressor on all cores (the
 * floor of a layer that recompresses everything). No tar framing, no RECORD check, no file
 * written. Prints "floor: N members, N bytes, sha256 HEX" on stderr.
 *
 * floor --splice WHEEL...: the floor of a spliced gzip layer, in one process and the libraries
 * lade uses: each wheel's bytes hashed twice (the lock's sha256, and the blob digest: a spliced
 * blob is mostly the wheels' deflate data), every member inflated once by ISA-L (as lade
 * does; zlib is 2-3 times slower), its bytes hashed per member (the RECORD check) and as one
 * stream (the diff_id). No deflate at all, nothing written. Anything lade does on top of this is
 * overhead (tar framing, the base image, zlib for the small rest, fsync).
 *
 * Built by bench/run itself: cc -O2 -o floor floor.c -larchive -lcrypto -lisal
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* "WHAT: N members, N bytes, sha256 HEX" on stderr; frees ctx. */
static void report(const char *what, EVP_MD_CTX *ctx, unsigned long long members,
                   unsigned long long bytes)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	fprintf(stderr, "%s: %llu members, %llu bytes, sha256 ", what, members, bytes);
	for (unsigned int i = 0; i < mdlen; i++)
		fprintf(stderr, "%02x", md[i]);
	fprintf(stderr, "\n");
}

static uint32_t le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return le16(p) | le16(p + 2) << 16;
}

static void sha256(const void *p, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
}

/* One wheel: the central directory read (no zip64: wheels of the corpus are under 4 GiB),
 * every member inflated into buf and hashed twice. */
static int splice_wheel(const char *path, EVP_MD_CTX *stream, unsigned long long *members,
                        unsigned long long *bytes)
{
	static unsigned char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 22) {
		fprintf(stderr, "floor: %s: cannot open\n", path);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	const unsigned char *z = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (z == MAP_FAILED)
		return -1;
	sha256(z, size); /* the lock's hash */
	sha256(z, size); /* the blob digest over (mostly) the same bytes */
	size_t eocd = size - 22;
	while (eocd > 0 && le32(z + eocd) != 0x06054b50)
		eocd--;
	uint32_t n = le16(z + eocd + 10), cd = le32(z + eocd + 16);
	for (uint32_t i = 0; i < n; i++) {
		if (le32(z + cd) != 0x02014b50) {
			fprintf(stderr, "floor: %s: bad central directory\n", path);
			return -1;
		}
		uint32_t method = le16(z + cd + 10), csize = le32(z + cd + 20);
		uint32_t lh = le32(z + cd + 42);
		cd += 46 + le16(z + cd + 28) + le16(z + cd + 30) + le16(z + cd + 32);
		const unsigned char *data = z + lh + 30 + le16(z + lh + 26) + le16(z + lh + 28);
		EVP_MD_CTX *rec = EVP_MD_CTX_new();
		EVP_DigestInit_ex(rec, EVP_sha256(), NULL);
		(*members)++;
		if (method == 0) {
			EVP_DigestUpdate(rec, data, csize);
			EVP_DigestUpdate(stream, data, csize);
			*bytes += csize;
		} else {
			struct inflate_state s;
			isal_inflate_init(&s);
			s.crc_flag = ISAL_DEFLATE; /* raw deflate, as lade inflates members */
			s.next_in = (unsigned char *)data;
			s.avail_in = csize;
			do {
				s.next_out = buf;
				s.avail_out = sizeof(buf);
				if (isal_inflate(&s) != ISAL_DECOMP_OK) {
					fprintf(stderr, "floor: %s: inflate failed\n", path);
					return -1;
				}
				size_t got = sizeof(buf) - s.avail_out;
				EVP_DigestUpdate(rec, buf, got);
				EVP_DigestUpdate(stream, buf, got);
				*bytes += got;
			} while (s.block_state != ISAL_BLOCK_FINISH);
		}
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int len;
		EVP_DigestFinal_ex(rec, md, &len);
		EVP_MD_CTX_free(rec);
	}
	munmap((void *)z, size);
	return 0;
}

static int splice_floor(int argc, char **argv)
{
	unsigned long long members = 0, bytes = 0;
	EVP_MD_CTX *stream = EVP_MD_CTX_new();
	EVP_DigestInit_ex(stream, EVP_sha256(), NULL);
	for (int i = 0; i < argc; i++)
		if (splice_wheel(argv[i], stream, &members, &bytes) < 0)
			return 1;
	report("floor --splice", stream, members, bytes);
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	unsigned long long bytes = 0, members = 0;
	int out = isatty(STDOUT_FILENO) ? -1 : STDOUT_FILENO;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (argc < 2) {
		fprintf(stderr, "usage: floor WHEEL... > STREAM | floor --splice WHEEL...\n");
		return 2;
	}
	if (strcmp(argv[1], "--splice") == 0)
		return splice_floor(argc - 2, argv + 2);
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		return 1;
	for (int i = 1; i < argc; i++) {
		struct archive *a = archive_read_new();
		struct archive_entry *e;
		int r;

		archive_read_support_format_zip(a);
		if (archive_read_open_filename(a, argv[i], 1 << 16) != ARCHIVE_OK) {
			fprintf(stderr, "floor: %s: %s\n", argv[i], archive_error_string(a));
			return 1;
		}
		while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
			ssize_t n;
			members++;
			while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
				EVP_DigestUpdate(ctx, buf, (size_t)n);
				if (out >= 0 && write_all(out, buf, (size_t)n) < 0) {
					perror("floor: write");
					return 1;
				}
				bytes += (unsigned long long)n;
			}
			if (n < 0) {
				fprintf(stderr, "floor: %s: %s\n", argv[i],
				        archive_error_string(a));
				return 1;
			}
		}
		if (r != ARCHIVE_EOF) {
			fprintf(stderr, "floor: %s: %s\n", argv[i], archive_error_string(a));
			return 1;
		}
		archive_read_free(a);
	}
	report("floor", ctx, members, bytes);
	return 0;
}
