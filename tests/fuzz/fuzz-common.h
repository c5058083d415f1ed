/* lade fuzz harnesses — shared helpers. Each harness is one libFuzzer executable; the inputs
 * that need a file on disk are written into one private directory made on the first call and
 * removed at exit, so a long run does not fill /tmp. */
#ifndef LADE_FUZZ_COMMON_H
#define LADE_FUZZ_COMMON_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/fixture.h"
#include "lade/error.h"
#include "lade/util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char *fuzz_dir_path __attribute__((unused));

static inline void fuzz_cleanup(void)
{
	if (fuzz_dir_path) {
		rm_rf(fuzz_dir_path);
		free(fuzz_dir_path);
		fuzz_dir_path = NULL;
	}
}

/* The harness's private temp dir (created once, removed at exit). */
static inline const char *fuzz_dir(void)
{
	if (fuzz_dir_path)
		return fuzz_dir_path;
	fuzz_dir_path = make_tmpdir("fuzz");
	atexit(fuzz_cleanup);
	return fuzz_dir_path;
}

/* Write data to path (truncating); aborts on I/O errors: they are the harness's, not lade's. */
static inline void fuzz_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		abort();
	}
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n <= 0) {
			perror(path);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

/* NUL-terminated copy of the input. */
static inline char *fuzz_strndup(const unsigned char *data, size_t size)
{
	char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Split s at the first '\n': returns the rest (or "" when there is none). */
static inline char *fuzz_split_line(char *s)
{
	char *nl = strchr(s, '\n');
	if (!nl)
		return s + strlen(s);
	*nl = '\0';
	return nl + 1;
}

#endif
