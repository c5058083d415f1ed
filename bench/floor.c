/* floor: the work a wheel-to-layer build cannot avoid, without the build.
 *
 * Reads every member of every wheel given on the command line once (libarchive inflates it),
 * hashes all installed bytes with one SHA-256 (OpenSSL EVP, SHA-NI where present) and writes
 * them to stdout, where bench/run pipes them into the same compressor lade uses on all cores.
 * No tar framing, no RECORD check, no file written: anything lade does on top of this is
 * overhead. Prints "floor: N members, N bytes, sha256 HEX" on stderr.
 *
 * Built by bench/run itself: cc -O2 -o floor floor.c -larchive -lcrypto
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
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

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	unsigned long long bytes = 0, members = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int out = isatty(STDOUT_FILENO) ? -1 : STDOUT_FILENO;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (argc < 2) {
		fprintf(stderr, "usage: floor WHEEL... > STREAM\n");
		return 2;
	}
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
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	fprintf(stderr, "floor: %llu members, %llu bytes, sha256 ", members, bytes);
	for (unsigned int i = 0; i < mdlen; i++)
		fprintf(stderr, "%02x", md[i]);
	fprintf(stderr, "\n");
	return 0;
}
