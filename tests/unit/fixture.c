/* lade — shared unit test fixtures (see fixture.h). */
#include "fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void bail_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("Bail out! ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	exit(1);
}

char *make_tmpdir(const char *name)
{
	const char *base = getenv("TMPDIR");
	char *dir = xasprintf("%s/lade-%s.XXXXXX", base && *base ? base : "/tmp", name);
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp %s: %s", dir, strerror(errno));
	return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* keep going: remove what can be removed */
	return 0;
}

void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void write_file(const char *path, const void *data, size_t len)
{
	_cleanup_free_ char *dir = lade_path_parent_dir(path);
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_mkdir_p(dir, &err) < 0)
		bail_out("%s", err->msg);
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		bail_out("cannot create %s: %s", path, strerror(errno));
	bool good = fwrite(data, 1, len, f) == len && fchmod(fileno(f), 0644) == 0;
	if (fclose(f) != 0 || !good)
		bail_out("cannot write %s", path);
}

void put_blob(const char *dir, const void *data, size_t len, char digest[LADE_DIGEST_STRLEN])
{
	lade_sha256_buf(data, len, digest);
	_cleanup_free_ char *path = xasprintf("%s/blobs/sha256/%s", dir, lade_digest_hex(digest));
	write_file(path, data, len);
}

la_ssize_t archive_buf_write(struct archive *a, void *buf, const void *data, size_t len)
{
	(void)a;
	lade_buf_add(buf, data, len);
	return (la_ssize_t)len;
}

void make_tar(const struct tar_ent *ents, size_t n, bool gzip, struct lade_buf *out)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, out, NULL, archive_buf_write, NULL) != ARCHIVE_OK)
		bail_out("tar fixture: %s", archive_error_string(a));
	for (size_t i = 0; i < n && ents[i].path; i++) {
		const struct tar_ent *t = &ents[i];
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, t->path);
		archive_entry_set_mtime(e, 0, 0);
		size_t len = t->type == 'f' && t->data ? (t->len ? t->len : strlen(t->data)) : 0;
		switch (t->type) {
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, t->data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, t->data);
			break;
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)len);
			break;
		default:
			bail_out("tar fixture %s: unknown type '%c'", t->path, t->type);
		}
		archive_entry_set_uid(e, 1000);
		archive_entry_set_gid(e, 100);
		if (archive_write_header(a, e) != ARCHIVE_OK)
			bail_out("tar fixture %s: %s", t->path, archive_error_string(a));
		if (len && archive_write_data(a, t->data, len) != (la_ssize_t)len)
			bail_out("tar fixture %s: %s", t->path, archive_error_string(a));
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		bail_out("tar fixture: %s", archive_error_string(a));
	archive_write_free(a);
}

static int buf_sink_write(struct lade_stream *s, const void *data, size_t len,
                          struct lade_error **err)
{
	(void)err;
	lade_buf_add(&((struct buf_sink *)s)->buf, data, len);
	return 0;
}

void buf_sink_init(struct buf_sink *m)
{
	m->stream.write = buf_sink_write;
	lade_buf_init(&m->buf);
}
