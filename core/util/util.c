/* lade — shared helpers (see include/lade/util.h). */
#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lade/util.h"

char lade_buf_empty_[1];

void lade_die(const char *what)
{
	fprintf(stderr, "lade: %s\n", what);
	abort();
}

static void __attribute__((__noreturn__)) die_oom(size_t n)
{
	char what[64];
	snprintf(what, sizeof(what), "out of memory allocating %zu bytes", n);
	lade_die(what);
}

void lade_archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

/* The client of lade_archive_read_open_regular: the fd and one read buffer, freed on close. */
struct archive_file {
	int fd;
	size_t size;
	char buf[];
};

static la_ssize_t archive_file_read(struct archive *a, void *data, const void **out)
{
	struct archive_file *f = data;
	ssize_t n = lade_read_retry(f->fd, f->buf, f->size);
	if (n < 0)
		archive_set_error(a, errno, "read error");
	*out = f->buf;
	return n;
}

/* Skipping a member's data is a seek (a regular file always seeks). */
static la_int64_t archive_file_skip(struct archive *a, void *data, la_int64_t request)
{
	(void)a;
	struct archive_file *f = data;
	off_t cur = lseek(f->fd, 0, SEEK_CUR), end = lseek(f->fd, 0, SEEK_END);
	if (cur < 0 || end < 0)
		return 0;
	la_int64_t n = request < end - cur ? request : end - cur;
	if (n < 0)
		n = 0;
	if (lseek(f->fd, cur + n, SEEK_SET) < 0)
		return 0;
	return n;
}

static int archive_file_close(struct archive *a, void *data)
{
	(void)a;
	struct archive_file *f = data;
	close(f->fd);
	free(f);
	return ARCHIVE_OK;
}

int lade_archive_read_open_regular(struct archive *a, const char *path, size_t block,
                                   struct lade_error **err)
{
	int fd;
	if (lade_open_regular(path, 0, &fd, err) < 0)
		return -1;
	struct archive_file *f = xmalloc(sizeof(*f) + block);
	f->fd = fd;
	f->size = block;
	/* libarchive calls the close callback on failure too: f is its from here on */
	if (archive_read_open2(a, f, NULL, archive_file_read, archive_file_skip,
	                       archive_file_close) != ARCHIVE_OK)
		return lade_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0,
		                      "cannot read %s: %s", path, archive_error_string(a));
	return 0;
}

void lade_freep(void *p)
{
	free(*(void **)p);
}

void lade_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

void lade_fclosep(FILE **f)
{
	if (*f != NULL) {
		fclose(*f);
		*f = NULL;
	}
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		die_oom(n);
	return p;
}

void *xzalloc(size_t n)
{
	return xcalloc(1, n);
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		die_oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *r = realloc(p, n ? n : 1);
	if (r == NULL)
		die_oom(n);
	return r;
}

char *xstrdup(const char *s)
{
	char *r = strdup(s);
	if (r == NULL)
		die_oom(strlen(s));
	return r;
}

char *xstrndup(const char *s, size_t n)
{
	char *r = strndup(s, n);
	if (r == NULL)
		die_oom(n);
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	struct lade_buf b = LADE_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return lade_buf_detach(&b, NULL);
}

void lade_grow(void *array_p, size_t elem_size, size_t need, size_t *alloc)
{
	void **array = array_p;
	if (need <= *alloc)
		return;
	size_t n = *alloc ? *alloc : 8;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem_size)
			die_oom(SIZE_MAX);
		n *= 2;
	}
	*array = xrealloc(*array, n * elem_size);
	*alloc = n;
}

void lade_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void lade_strv_freep(char ***v)
{
	lade_strv_free(*v);
	*v = NULL;
}

size_t lade_strv_len(char *const *v)
{
	size_t n = 0;
	if (v != NULL)
		while (v[n])
			n++;
	return n;
}

char **lade_strv_copy(char *const *v)
{
	if (v == NULL)
		return NULL;
	size_t n = lade_strv_len(v);
	char **r = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

void lade_strv_push(char ***v, const char *s)
{
	size_t n = lade_strv_len(*v);
	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = xstrdup(s);
	(*v)[n + 1] = NULL;
}

/* ---- struct lade_buf ---- */

void lade_buf_init(struct lade_buf *b)
{
	b->data = lade_buf_empty_;
	b->len = 0;
	b->alloc = 0;
}

void lade_buf_grow(struct lade_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		die_oom(SIZE_MAX);
	size_t need = b->len + extra + 1;
	if (need <= b->alloc)
		return;
	size_t n = b->alloc ? b->alloc : 64;
	while (n < need)
		n = n < SIZE_MAX / 2 ? n * 2 : need;
	if (b->alloc == 0) {
		b->data = xmalloc(n);
		b->data[0] = '\0';
	} else {
		b->data = xrealloc(b->data, n);
	}
	b->alloc = n;
}

void lade_buf_add(struct lade_buf *b, const void *data, size_t len)
{
	if (len == 0)
		return;
	lade_buf_grow(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void lade_buf_adds(struct lade_buf *b, const char *s)
{
	lade_buf_add(b, s, strlen(s));
}

void lade_buf_addch(struct lade_buf *b, char c)
{
	lade_buf_add(b, &c, 1);
}

void lade_buf_vaddf(struct lade_buf *b, const char *fmt, va_list ap)
{
	/* Format into the spare room first; grow and format again only when it did not fit. */
	lade_buf_grow(b, 64);
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(b->data + b->len, b->alloc - b->len, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->data[b->len] = '\0';
		return;
	}
	if ((size_t)n >= b->alloc - b->len) {
		lade_buf_grow(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	}
	b->len += (size_t)n;
}

void lade_buf_addf(struct lade_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void lade_buf_reset(struct lade_buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->data[0] = '\0';
}

void lade_buf_release(struct lade_buf *b)
{
	if (b->alloc)
		free(b->data);
	lade_buf_init(b);
}

void lade_buf_releasep(struct lade_buf *b)
{
	lade_buf_release(b);
}

char *lade_buf_detach(struct lade_buf *b, size_t *len)
{
	char *r;
	if (b->alloc == 0)
		r = xstrdup("");
	else
		r = b->data;
	if (len)
		*len = b->len;
	lade_buf_init(b);
	return r;
}

/* ---- problem lists ---- */

bool lade_problems_next(struct lade_problems *pr)
{
	if (++pr->n > LADE_PROBLEMS_MAX)
		return false;
	if (pr->buf.len)
		lade_buf_addch(&pr->buf, '\n');
	return true;
}

void lade_problems_add(struct lade_problems *pr, const char *fmt, ...)
{
	if (!lade_problems_next(pr))
		return;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&pr->buf, fmt, ap);
	va_end(ap);
}

int lade_problems_finish(struct lade_problems *pr, struct lade_error **err)
{
	int r = 0;
	if (pr->n) {
		if (pr->n > LADE_PROBLEMS_MAX)
			lade_buf_addf(&pr->buf, "\n… and %zu more", pr->n - LADE_PROBLEMS_MAX);
		r = lade_error_set(err, 0, "%s", pr->buf.data);
	}
	lade_buf_release(&pr->buf);
	pr->n = 0;
	return r;
}

const char *lade_file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symlink";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "a special file";
	}
}

int lade_open_regular_at(int dfd, const char *path, const char *shown, int flags, int *out,
                         struct lade_error **err)
{
	if (shown == NULL)
		shown = path;
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer, a tape or a terminal
	 * may block too; a regular file ignores the flag */
	_cleanup_fd_ int fd =
	        openat(dfd, path, flags | O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		struct stat lst;
		if (errno == ELOOP && (flags & O_NOFOLLOW) &&
		    fstatat(dfd, path, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
			return lade_error_set(err, 0, "%s is a symlink, not a regular file", shown);
		return lade_error_set(err, errno, "cannot open %s", shown);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lade_error_set(err, errno, "cannot stat %s", shown);
	if (!S_ISREG(st.st_mode))
		return lade_error_set(err, 0, "%s is %s, not a regular file", shown,
		                      lade_file_kind(st.st_mode));
	*out = lade_steal_fd(&fd);
	return 0;
}

int lade_open_regular(const char *path, int flags, int *out, struct lade_error **err)
{
	return lade_open_regular_at(AT_FDCWD, path, NULL, flags, out, err);
}

int lade_read_file(const char *path, size_t max, struct lade_buf *out, struct lade_error **err)
{
	_cleanup_fd_ int fd = -1;
	if (lade_open_regular(path, 0, &fd, err) < 0)
		return -1;
	char tmp[65536];
	for (;;) {
		ssize_t n = lade_read_retry(fd, tmp, sizeof(tmp));
		if (n < 0)
			return lade_error_set(err, errno, "cannot read %s", path);
		if (n == 0)
			break;
		if (out->len + (size_t)n > max)
			return lade_error_set(err, 0, "%s is larger than %zu bytes", path, max);
		lade_buf_add(out, tmp, (size_t)n);
	}
	return 0;
}

/* ---- paths ---- */

/* The lexical clean-up shared by image and host paths: empty and "." components go, ".."
 * drops the last component written to out. rooted (host paths): every component is written
 * as "/name" and ".." at the top stays there; otherwise components are joined with '/' and a
 * ".." at the top returns -1. */
static int add_clean_components(struct lade_buf *out, const char *path, bool rooted)
{
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (out->len == 0 && !rooted)
				return -1;
			char *slash = strrchr(out->data, '/');
			out->len = slash ? (size_t)(slash - out->data) : 0;
			/* out->data is the shared empty string until something was added */
			if (out->alloc)
				out->data[out->len] = '\0';
		} else {
			if (rooted || out->len)
				lade_buf_addch(out, '/');
			lade_buf_add(out, p, n);
		}
		p += n;
	}
	return 0;
}

char *lade_path_normalize(const char *path, struct lade_error **err)
{
	struct lade_buf b = LADE_BUF_INIT;
	if (add_clean_components(&b, path, false) < 0) {
		lade_buf_release(&b);
		lade_error_set(err, 0, "path '%s' climbs above the root", path);
		return NULL;
	}
	return lade_buf_detach(&b, NULL);
}

bool lade_path_is_normalised(const char *path)
{
	if (path[0] == '\0')
		return true;
	for (const char *p = path;;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (*end == '\0')
			return true;
		p = end + 1;
	}
}

char *lade_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 0 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (la == 0)
		return *a == '/' ? xasprintf("/%s", b) : xstrdup(b);
	if (*b == '\0')
		return xstrndup(a, la);
	return xasprintf("%.*s/%s", (int)la, a, b);
}

char *lade_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return xstrdup("");
	return xstrndup(path, (size_t)(slash - path));
}

char *lade_path_absolute(const char *base, const char *path)
{
	_cleanup_free_ char *joined = NULL;
	if (path[0] == '/') {
		joined = xstrdup(path);
	} else if (base && base[0] == '/') {
		joined = lade_path_join(base, path);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			strcpy(cwd, "/");
		_cleanup_free_ char *b = base ? lade_path_join(cwd, base) : xstrdup(cwd);
		joined = lade_path_join(b, path);
	}
	/* Lexical clean-up; ".." above "/" stays at "/" for host paths. */
	struct lade_buf out = LADE_BUF_INIT;
	(void)add_clean_components(&out, joined, true);
	if (out.len == 0)
		lade_buf_addch(&out, '/');
	return lade_buf_detach(&out, NULL);
}

char *lade_path_parent_dir(const char *path)
{
	_cleanup_free_ char *abs = lade_path_absolute(NULL, path);
	char *slash = strrchr(abs, '/');
	if (slash == abs)
		return xstrdup("/");
	return xstrndup(abs, (size_t)(slash - abs));
}

int lade_path_compare(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	while (*x && *x == *y) {
		x++;
		y++;
	}
	/* Map '/' below every other byte (but above the end of string). */
	int cx = *x == '/' ? 1 : *x == 0 ? 0 : *x + 1;
	int cy = *y == '/' ? 1 : *y == 0 ? 0 : *y + 1;
	return cx - cy;
}

bool lade_utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned c = *s;
		size_t n;
		unsigned min;
		if (c < 0x80) {
			s++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, c &= 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

/* ---- file system ---- */

static int remove_at(int parent, const char *name, const char *path, struct lade_error **err)
{
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return lade_error_set(err, errno, "cannot remove %s", path);
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lade_error_set(err, errno, "cannot open %s", path);
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return lade_error_set(err, errno, "cannot read %s", path);
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		_cleanup_free_ char *child = lade_path_join(path, de->d_name);
		rc = remove_at(dirfd(d), de->d_name, child, err);
	}
	closedir(d);
	if (rc < 0)
		return -1;
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return lade_error_set(err, errno, "cannot remove %s", path);
	return 0;
}

int lade_remove_tree(const char *path, struct lade_error **err)
{
	return remove_at(AT_FDCWD, path, path, err);
}

int lade_mkdir_p(const char *path, struct lade_error **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return lade_error_set(err, errno, "cannot create directory %s", p);
		*s = '/';
	}
	if (mkdir(p, 0755) < 0) {
		struct stat st;
		if (errno != EEXIST)
			return lade_error_set(err, errno, "cannot create directory %s", p);
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			return lade_error_set(err, ENOTDIR, "cannot create directory %s", p);
	}
	return 0;
}

int lade_fsync_dir(const char *dir, struct lade_error **err)
{
	_cleanup_fd_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		_cleanup_free_ char *parent = lade_path_parent_dir(dir);
		fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return lade_error_set(err, errno, "cannot open directory %s", parent);
	}
	if (fsync(fd) < 0 && errno != EINVAL)
		return lade_error_set(err, errno, "cannot sync directory %s", dir);
	return 0;
}

ssize_t lade_read_retry(int fd, void *buf, size_t len)
{
	ssize_t n;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

int lade_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int lade_write_file_atomic(const char *path, const void *data, size_t len, struct lade_error **err)
{
	_cleanup_free_ char *dir = lade_path_parent_dir(path);
	_cleanup_free_ char *tmpl = lade_path_join(dir, ".tmp-lade-XXXXXX");
	_cleanup_fd_ int fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return lade_error_set(err, errno, "cannot create a temporary file in %s", dir);
	if (lade_write_all(fd, data, len) < 0 || fsync(fd) < 0 || fchmod(fd, 0644) < 0) {
		int e = errno;
		unlink(tmpl);
		return lade_error_set(err, e, "cannot write %s", path);
	}
	if (rename(tmpl, path) < 0) {
		int e = errno;
		unlink(tmpl);
		return lade_error_set(err, e, "cannot rename %s to %s", tmpl, path);
	}
	return lade_fsync_dir(dir, err);
}

/* The fallback of lade_openat_beneath: one component at a time, each with O_NOFOLLOW. */
static int openat_components(int dfd, const char *rel, int flags, mode_t mode)
{
	_cleanup_free_ char *copy = xstrdup(rel);
	_cleanup_fd_ int cur = -1;
	char *s = copy, *comp;
	while ((comp = strsep(&s, "/")) != NULL) {
		if (*comp == '\0' || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			errno = EXDEV;
			return -1;
		}
		int at = cur >= 0 ? cur : dfd;
		/* intermediate directories without O_DIRECTORY: with it a symlink gives ENOTDIR,
		 * where openat2 says ELOOP */
		int fd = s == NULL ? openat(at, comp, flags | O_NOFOLLOW, mode)
		                   : openat(at, comp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -1;
		struct stat st;
		if (s != NULL && (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))) {
			close(fd);
			errno = ENOTDIR;
			return -1;
		}
		if (cur >= 0)
			close(cur);
		cur = fd;
	}
	return lade_steal_fd(&cur);
}

int lade_openat_beneath(int dfd, const char *rel, int flags, mode_t mode)
{
	if (rel[0] == '/' || rel[0] == '\0') {
		errno = EXDEV;
		return -1;
	}
	struct open_how how = {
	        .flags = (uint64_t)(flags | O_NOFOLLOW),
	        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
	};
	long fd = syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	/* ENOSYS: kernel before 5.6; EPERM: a seccomp filter that does not know openat2 */
	if (errno != ENOSYS && errno != EPERM && errno != E2BIG)
		return -1;
	return openat_components(dfd, rel, flags, mode);
}

int lade_parse_u32(const char *s, int base, uint32_t *out)
{
	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Units as written, like GNU coreutils: K, M, G, T and KiB … TiB are powers of 1024; KB, MB,
 * GB, TB powers of 1000 (a budget of "500MB" is 500,000,000 bytes). A fraction of at most six
 * digits needs a unit ("1.5GiB"); the result is rounded down to whole bytes. */
int lade_parse_size(const char *s, uint64_t *out)
{
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	uint64_t frac = 0, frac_div = 1;
	if (*end == '.') {
		const char *f = ++end;
		while (*end >= '0' && *end <= '9' && end - f < 6) {
			frac = frac * 10 + (uint64_t)(*end++ - '0');
			frac_div *= 10;
		}
		if (end == f || (*end >= '0' && *end <= '9'))
			return -1;
	}
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
	        {"", 1},
	        {"B", 1},
	        {"K", 1ull << 10},
	        {"KiB", 1ull << 10},
	        {"KB", 1000ull},
	        {"M", 1ull << 20},
	        {"MiB", 1ull << 20},
	        {"MB", 1000000ull},
	        {"G", 1ull << 30},
	        {"GiB", 1ull << 30},
	        {"GB", 1000000000ull},
	        {"T", 1ull << 40},
	        {"TiB", 1ull << 40},
	        {"TB", 1000000000000ull},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		uint64_t m = units[i].mult;
		if ((frac_div > 1 && m == 1) || v > UINT64_MAX / m)
			return -1;
		uint64_t whole = (uint64_t)v * m, part = frac * m / frac_div; /* < 10^6 · 2^40 */
		if (whole > UINT64_MAX - part)
			return -1;
		*out = whole + part;
		return 0;
	}
	return -1;
}

const char *lade_human_size(uint64_t n, char *buf, size_t buflen)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < LADE_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, buflen, "%" PRIu64 " B", n);
	else
		snprintf(buf, buflen, "%.1f %s", v, units[u]);
	return buf;
}

int lade_source_date_epoch(int64_t *out, struct lade_error **err)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	*out = 0;
	if (s == NULL || *s == '\0')
		return 0;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 253402300799LL)
		return lade_error_set(
		        err, 0, "SOURCE_DATE_EPOCH '%s' is not a number of seconds since 1970", s);
	*out = v;
	return 0;
}
