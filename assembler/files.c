/* lade — the directory/file source and .dockerignore (see include/lade/files.h).
 *
 * The walk uses openat/fstatat(AT_SYMLINK_NOFOLLOW) relative to directory descriptors and
 * sorts every directory's names before visiting them, so the entries (and which of several
 * hard links becomes the file) depend only on the tree, never on readdir order. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/files.h"
#include "lade/hashmap.h"
#include "lade/util.h"

/* Longest path we accept, in the image and on the host (PATH_MAX without the NUL). */
#define MAX_PATH 4095
/* A .dockerignore larger than this is not a list of patterns. */
#define MAX_DOCKERIGNORE (1u << 20)

/* ---- .dockerignore ---- */

struct ignore_pattern {
	char *glob; /* cleaned, without the '!' */
	bool exception;
};

struct lade_ignore {
	struct ignore_pattern *pats;
	size_t n, alloc;
};

struct lade_ignore *lade_ignore_new(void)
{
	return xzalloc(sizeof(struct lade_ignore));
}

void lade_ignore_free(struct lade_ignore *ig)
{
	if (ig == NULL)
		return;
	for (size_t i = 0; i < ig->n; i++)
		free(ig->pats[i].glob);
	free(ig->pats);
	free(ig);
}

void lade_ignore_freep(struct lade_ignore **ig)
{
	lade_ignore_free(*ig);
	*ig = NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Go's filepath.Clean on a pattern: "." and empty components go, ".." eats the previous
 * component (stays at the start of a relative path, vanishes at the root), no trailing '/';
 * then, like Docker, a leading '/' is dropped since patterns are relative to the context. */
static char *clean_pattern(const char *p)
{
	bool rooted = p[0] == '/';
	struct lade_buf b = LADE_BUF_INIT;
	size_t floor = 0; /* leading ".." components that cannot be eaten */

	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 1 && p[0] == '.') {
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (b.len > floor) {
				char *slash = strrchr(b.data + floor, '/');
				b.len = slash ? (size_t)(slash - b.data) : floor;
				b.data[b.len] = '\0';
			} else if (!rooted) {
				lade_buf_adds(&b, b.len ? "/.." : "..");
				floor = b.len;
			}
		} else {
			if (b.len)
				lade_buf_addch(&b, '/');
			lade_buf_add(&b, p, n);
		}
		p = end;
	}
	if (b.len == 0)
		lade_buf_adds(&b, rooted ? "/" : ".");
	return lade_buf_detach(&b, NULL);
}

void lade_ignore_add(struct lade_ignore *ig, const char *pattern)
{
	while (is_space(*pattern))
		pattern++;
	bool exception = pattern[0] == '!';
	if (exception)
		pattern++;
	while (is_space(*pattern))
		pattern++;
	size_t n = strlen(pattern);
	while (n > 0 && is_space(pattern[n - 1]))
		n--;
	_cleanup_free_ char *trimmed = xstrndup(pattern, n);
	lade_grow(&ig->pats, sizeof(*ig->pats), ig->n + 1, &ig->alloc);
	ig->pats[ig->n++] = (struct ignore_pattern){clean_pattern(trimmed), exception};
}

int lade_ignore_parse(const char *text, const char *origin, struct lade_ignore **out,
                      struct lade_error **err)
{
	_cleanup_(lade_ignore_freep) struct lade_ignore *ig = lade_ignore_new();
	const char *p = text;
	int lineno = 0;

	if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (*p) {
		const char *end = strchrnul(p, '\n');
		const char *s = p, *e = end;
		p = *end ? end + 1 : end;
		lineno++;
		/* Docker: only a '#' in column 1 starts a comment. */
		if (*s == '#')
			continue;
		while (s < e && is_space(*s))
			s++;
		while (e > s && is_space(e[-1]))
			e--;
		if (s == e)
			continue;
		_cleanup_free_ char *line = xstrndup(s, (size_t)(e - s));
		const char *glob = line[0] == '!' ? line + 1 : line;
		while (is_space(*glob))
			glob++;
		if (*glob == '\0')
			return lade_error_set(err, 0, "%s:%d: '!' without a pattern", origin,
			                      lineno);
		if (!lade_glob_valid(glob))
			return lade_error_set(err, 0, "%s:%d: malformed pattern '%s'", origin,
			                      lineno, glob);
		lade_ignore_add(ig, line);
	}
	*out = steal_pointer(&ig);
	return 0;
}

/* Does the pattern match the path or one of its parent directories? */
static bool match_or_parent(const char *glob, char *path)
{
	if (lade_glob_match(glob, path))
		return true;
	for (char *s = path; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		bool m = lade_glob_match(glob, path);
		*s = '/';
		if (m)
			return true;
	}
	return false;
}

bool lade_ignore_match(const struct lade_ignore *ig, const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);
	bool excluded = false;

	for (size_t i = 0; i < ig->n; i++) {
		const struct ignore_pattern *pat = &ig->pats[i];
		/* Only a pattern that can flip the current answer needs matching. */
		if (pat->exception != excluded)
			continue;
		if (match_or_parent(pat->glob, copy))
			excluded = !pat->exception;
	}
	return excluded;
}

/* Could the exception pattern match something strictly below dir? Compared component by
 * component; "**" could match anything. A pattern that only reaches dir or one of its
 * ancestors cannot help: it already had its say on dir, which is still excluded, and it says
 * the same about everything below. */
static bool exception_reaches_below(const char *glob, const char *dir)
{
	if (strchr(glob, '\\') != NULL)
		return true; /* escapes ("\/" even separates): do not guess */

	const char *g = glob, *d = dir;
	for (;;) {
		while (*g == '/')
			g++;
		while (*d == '/')
			d++;
		if (*d == '\0')
			return *g != '\0';
		if (*g == '\0')
			return false;
		const char *gend = strchrnul(g, '/'), *dend = strchrnul(d, '/');
		if (gend - g == 2 && g[0] == '*' && g[1] == '*')
			return true;
		_cleanup_free_ char *gc = xstrndup(g, (size_t)(gend - g));
		_cleanup_free_ char *dc = xstrndup(d, (size_t)(dend - d));
		if (!lade_glob_match(gc, dc))
			return false;
		g = gend;
		d = dend;
	}
}

bool lade_ignore_may_reinclude(const struct lade_ignore *ig, const char *dir)
{
	for (size_t i = 0; i < ig->n; i++)
		if (ig->pats[i].exception && exception_reaches_below(ig->pats[i].glob, dir))
			return true;
	return false;
}

/* ---- the walk ---- */

struct walk {
	const struct lade_recipe_files *item;
	struct lade_layer *layer;
	const struct lade_ignore *ig; /* NULL: nothing excluded */
	struct lade_hashmap *inodes;  /* "dev:ino" -> image path of the first link (owned) */
	const char *dst;              /* image directory the tree goes to, "" for the root */
};

static void hashmap_freep(struct lade_hashmap **m)
{
	if (*m)
		lade_hashmap_free(*m, free);
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int refuse_special(const char *shown, mode_t m, struct lade_error **err)
{
	return lade_error_set(err, 0,
	                      "%s is %s: only files, directories and symlinks can be copied", shown,
	                      lade_file_kind(m));
}

static char *origin_for(const struct lade_recipe_files *item, const char *rel)
{
	_cleanup_free_ char *shown = lade_path_join(item->src_text, rel);
	return xasprintf("files (line %d) %s", item->line, shown);
}

static void set_owner(struct lade_entry *e, const struct lade_recipe_files *item)
{
	e->uid = item->has_owner ? item->uid : 0;
	e->gid = item->has_owner ? item->gid : 0;
}

static uint32_t file_mode(const struct lade_recipe_files *item, mode_t st_mode)
{
	if (item->has_mode)
		return item->mode & 07777;
	return (st_mode & S_IXUSR) ? 0755 : 0644;
}

static int add_dir_entry(struct walk *w, const char *path, const char *rel, struct lade_error **err)
{
	_cleanup_free_ char *origin = origin_for(w->item, rel);
	struct lade_entry *e = lade_entry_new(path, LADE_ENTRY_DIR, origin);
	e->mode = 0755;
	set_owner(e, w->item);
	return lade_layer_add(w->layer, e, err);
}

static int add_file_entry(struct walk *w, const char *path, const char *rel, const struct stat *st,
                          struct lade_error **err)
{
	_cleanup_free_ char *origin = origin_for(w->item, rel);
	_cleanup_(lade_entry_freep) struct lade_entry *e = NULL;

	if (st->st_nlink > 1 && w->inodes) {
		_cleanup_free_ char *key =
		        xasprintf("%ju:%ju", (uintmax_t)st->st_dev, (uintmax_t)st->st_ino);
		const char *first = lade_hashmap_get(w->inodes, key);
		if (first) {
			e = lade_entry_new(path, LADE_ENTRY_HARDLINK, origin);
			e->link = xstrdup(first);
		} else {
			lade_hashmap_put(w->inodes, key, xstrdup(path));
		}
	}
	if (e == NULL) {
		e = lade_entry_new(path, LADE_ENTRY_FILE, origin);
		e->size = (uint64_t)st->st_size;
		e->src_path = lade_path_join(w->item->src_real, rel);
	}
	e->mode = file_mode(w->item, st->st_mode);
	set_owner(e, w->item);
	return lade_layer_add(w->layer, steal_pointer(&e), err);
}

static int add_symlink_entry(struct walk *w, int dfd, const char *name, const char *path,
                             const char *rel, const char *shown, struct lade_error **err)
{
	char target[MAX_PATH + 1];
	ssize_t n = readlinkat(dfd, name, target, sizeof(target));
	if (n < 0)
		return lade_error_set(err, errno, "cannot read symlink %s", shown);
	if ((size_t)n >= sizeof(target))
		return lade_error_set(err, 0, "symlink %s has a target longer than %d bytes", shown,
		                      MAX_PATH);
	target[n] = '\0';

	_cleanup_free_ char *origin = origin_for(w->item, rel);
	struct lade_entry *e = lade_entry_new(path, LADE_ENTRY_SYMLINK, origin);
	e->mode = 0777;
	set_owner(e, w->item);
	e->link = xstrdup(target);
	return lade_layer_add(w->layer, e, err);
}

static int cmp_names(const void *a, const void *b)
{
	return lade_path_compare(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the directory open as dfd (without "." and ".."). */
static int read_names(int dfd, const char *shown, char ***out, struct lade_error **err)
{
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return lade_error_set(err, errno, "cannot read directory %s", shown);
	_cleanup_(closedirp) DIR *d = fdopendir(dup_fd);
	if (d == NULL) {
		int e = errno;
		close(dup_fd);
		return lade_error_set(err, e, "cannot read directory %s", shown);
	}
	_cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
	size_t n = 0, alloc = 1;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno)
				return lade_error_set(err, errno, "cannot read directory %s",
				                      shown);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		lade_grow(&names, sizeof(char *), n + 2, &alloc);
		names[n++] = xstrdup(de->d_name);
		names[n] = NULL;
	}
	qsort(names, n, sizeof(char *), cmp_names);
	*out = steal_pointer(&names);
	return 0;
}

static int walk_dir(struct walk *w, int dfd, const char *rel, struct lade_error **err);

static int walk_one(struct walk *w, int dfd, const char *name, const char *rel,
                    struct lade_error **err)
{
	const struct lade_recipe_files *item = w->item;
	_cleanup_free_ char *shown = lade_path_join(item->src_text, rel);
	_cleanup_free_ char *path = lade_path_join(w->dst, rel);

	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return lade_error_set(err, errno, "cannot stat %s", shown);

	/* An excluded directory is still walked when an exception may bring back something
	 * below it, but gets no entry (the layer adds the parent implicitly if needed). */
	bool excluded = w->ig && lade_ignore_match(w->ig, rel);
	if (excluded && (!S_ISDIR(st.st_mode) || !lade_ignore_may_reinclude(w->ig, rel)))
		return 0;

	if (strlen(path) > MAX_PATH)
		return lade_error_set(err, 0, "%s: image path /%.64s... is longer than %d bytes",
		                      shown, path, MAX_PATH);
	if (strlen(item->src_real) + 1 + strlen(rel) > MAX_PATH)
		return lade_error_set(err, 0, "%s: host path is longer than %d bytes", shown,
		                      MAX_PATH);
	if (!excluded && S_ISDIR(st.st_mode) && add_dir_entry(w, path, rel, err) < 0)
		return -1;

	switch (st.st_mode & S_IFMT) {
	case S_IFDIR: {
		_cleanup_fd_ int sub =
		        openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return lade_error_set(err, errno, "cannot open directory %s", shown);
		return walk_dir(w, sub, rel, err);
	}
	case S_IFREG:
		return add_file_entry(w, path, rel, &st, err);
	case S_IFLNK:
		return add_symlink_entry(w, dfd, name, path, rel, shown, err);
	default:
		return refuse_special(shown, st.st_mode, err);
	}
}

static int walk_dir(struct walk *w, int dfd, const char *rel, struct lade_error **err)
{
	_cleanup_free_ char *shown = lade_path_join(w->item->src_text, rel);
	_cleanup_strv_ char **names = NULL;

	if (read_names(dfd, shown, &names, err) < 0)
		return -1;
	for (char **n = names; *n; n++) {
		_cleanup_free_ char *child = lade_path_join(rel, *n);
		if (walk_one(w, dfd, *n, child, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- destination ---- */

/* Where does the item go? *target_out: the image directory a directory source fills ("" for
 * the root), or the image path of a file source. *base_dir_out: that directory already exists
 * (in the base, or it is the root), so the source does not create it. */
static int resolve_dst(const struct lade_recipe_files *item, const struct lade_tree *base,
                       bool src_is_dir, char **target_out, bool *base_dir_out,
                       struct lade_error **err)
{
	_cleanup_free_ char *norm = lade_path_normalize(item->dst, err);
	if (norm == NULL)
		return lade_error_prefix(err, "destination %s", item->dst);
	if (strlen(norm) > MAX_PATH)
		return lade_error_set(err, 0, "destination is longer than %d bytes", MAX_PATH);

	size_t dlen = strlen(item->dst);
	const char *last = strrchr(item->dst, '/');
	last = last ? last + 1 : item->dst;
	/* "dir/", "dir/." and "dir/.." name a directory, as with COPY. */
	bool dir_syntax = (dlen > 0 && item->dst[dlen - 1] == '/') || strcmp(last, ".") == 0 ||
	                  strcmp(last, "..") == 0 || norm[0] == '\0';

	_cleanup_free_ char *target = NULL;
	bool base_dir = norm[0] == '\0';
	if (base && norm[0] != '\0') {
		_cleanup_free_ char *parent = lade_path_dirname(norm);
		_cleanup_free_ char *rparent = NULL, *full = NULL;
		const char *slash = strrchr(norm, '/');
		if (lade_tree_resolve(base, parent, true, &rparent, err) < 0 ||
		    lade_tree_resolve(base, norm, true, &full, err) < 0)
			return lade_error_prefix(err, "destination %s", item->dst);
		const struct lade_tree_node *node = lade_tree_lookup(base, full);
		if (node && node->type == LADE_ENTRY_DIR) {
			base_dir = true;
			target = steal_pointer(&full);
		} else {
			target = lade_path_join(rparent, slash ? slash + 1 : norm);
		}
	} else {
		target = steal_pointer(&norm);
	}

	if (!src_is_dir && (dir_syntax || base_dir)) {
		const char *bn = strrchr(item->src, '/');
		char *joined = lade_path_join(target, bn ? bn + 1 : item->src);
		free(target);
		target = joined;
	}
	if (strlen(target) > MAX_PATH)
		return lade_error_set(err, 0, "destination is longer than %d bytes", MAX_PATH);
	*target_out = steal_pointer(&target);
	*base_dir_out = base_dir;
	return 0;
}

static int build_ignore(const struct lade_recipe_files *item, bool src_is_dir,
                        struct lade_ignore **out, struct lade_error **err)
{
	_cleanup_(lade_ignore_freep) struct lade_ignore *ig = NULL;

	if (src_is_dir && item->dockerignore) {
		_cleanup_free_ char *path = lade_path_join(item->src_real, ".dockerignore");
		_cleanup_free_ char *shown = lade_path_join(item->src_text, ".dockerignore");
		struct stat st;
		int r = stat(path, &st);
		if (r < 0 && errno != ENOENT)
			return lade_error_set(err, errno, "cannot access %s", shown);
		if (r == 0 && S_ISREG(st.st_mode)) {
			_cleanup_buf_ struct lade_buf text = LADE_BUF_INIT;
			if (lade_read_file(path, MAX_DOCKERIGNORE, &text, err) < 0)
				return -1;
			if (memchr(text.data, '\0', text.len) != NULL)
				return lade_error_set(err, 0, "%s contains a NUL byte", shown);
			if (lade_ignore_parse(text.data, shown, &ig, err) < 0)
				return -1;
		}
	}
	for (char **x = item->exclude; x && *x; x++) {
		const char *glob = (*x)[0] == '!' ? *x + 1 : *x;
		if (!lade_glob_valid(glob) || *glob == '\0')
			return lade_error_set(err, 0, "exclude pattern '%s' is malformed", *x);
		if (ig == NULL)
			ig = lade_ignore_new();
		lade_ignore_add(ig, *x);
	}
	*out = steal_pointer(&ig);
	return 0;
}

static int files_add(const struct lade_recipe_files *item, const struct lade_tree *base,
                     struct lade_layer *layer, struct lade_error **err)
{
	struct stat st;
	/* The source itself is followed when it is a symlink, as COPY does (src_real: resolved,
	 * and checked against the build context by the build). */
	if (stat(item->src_real, &st) < 0)
		return lade_error_set(err, errno, "cannot access %s", item->src_text);
	bool is_dir = S_ISDIR(st.st_mode);
	if (!is_dir && !S_ISREG(st.st_mode))
		return refuse_special(item->src_text, st.st_mode, err);
	if (strlen(item->src_real) > MAX_PATH)
		return lade_error_set(err, 0, "source %s is longer than %d bytes", item->src_text,
		                      MAX_PATH);

	_cleanup_free_ char *target = NULL;
	bool base_dir = false;
	if (resolve_dst(item, base, is_dir, &target, &base_dir, err) < 0)
		return -1;

	struct walk w = {.item = item, .layer = layer, .dst = target};
	if (!is_dir) {
		w.dst = "";
		_cleanup_free_ char *origin =
		        xasprintf("files (line %d) %s", item->line, item->src_text);
		struct lade_entry *e = lade_entry_new(target, LADE_ENTRY_FILE, origin);
		e->mode = file_mode(item, st.st_mode);
		set_owner(e, item);
		e->size = (uint64_t)st.st_size;
		e->src_path = xstrdup(item->src_real);
		return lade_layer_add(layer, e, err);
	}

	_cleanup_(lade_ignore_freep) struct lade_ignore *ig = NULL;
	if (build_ignore(item, is_dir, &ig, err) < 0)
		return -1;
	w.ig = ig;
	_cleanup_(hashmap_freep) struct lade_hashmap *inodes = lade_hashmap_new();
	w.inodes = inodes;

	/* A directory that already exists in the base keeps its metadata (Docker only chowns
	 * the destination when COPY creates it). */
	if (target[0] != '\0' && !base_dir && add_dir_entry(&w, target, "", err) < 0)
		return -1;

	_cleanup_fd_ int dfd = open(item->src_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return lade_error_set(err, errno, "cannot open directory %s", item->src_text);
	return walk_dir(&w, dfd, "", err);
}

int lade_files_add(const struct lade_recipe_files *item, const struct lade_tree *base,
                   struct lade_layer *layer, struct lade_error **err)
{
	if (files_add(item, base, layer, err) < 0)
		return lade_error_prefix(err, "files entry at line %d", item->line);
	return 0;
}
