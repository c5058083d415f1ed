/* lade — base image libc detection (see include/lade/libc.h). */
#include <errno.h>
#include <string.h>

#include "lade/hashmap.h"
#include "lade/libc.h"
#include "lade/util.h"

struct find {
	const char *path; /* normalised */
	size_t max;
	const char *digest;
	struct lade_buf *out;
	bool found;
};

static int find_entry(void *ctx, struct archive *a, struct archive_entry *e,
                      struct lade_error **err)
{
	struct find *f = ctx;
	_cleanup_error_ struct lade_error *ignored = NULL;
	_cleanup_free_ char *name = lade_path_normalize(archive_entry_pathname(e), &ignored);
	if (name == NULL || strcmp(name, f->path) != 0)
		return 0;
	if (archive_entry_filetype(e) != AE_IFREG)
		return 1; /* a link or a directory: nothing to read here */
	if (archive_entry_size(e) < 0 || (uint64_t)archive_entry_size(e) > f->max)
		return lade_error_set(err, 0, "base file /%s is larger than %zu bytes", f->path,
		                      f->max);
	char buf[65536];
	la_ssize_t n;
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
		lade_buf_add(f->out, buf, (size_t)n);
	if (n < 0)
		return lade_error_set(err, 0, "cannot read /%s from base layer %s: %s", f->path,
		                      f->digest, archive_error_string(a));
	f->found = true;
	return 1;
}

/* Layers are read top-down through the one layer reader (bomb guard included); the walk stops
 * at the first layer that has the path, so that layer is not read to its end (its digest was
 * checked when it was imported and again when the tree was read). */
int lade_base_read_path(const struct lade_base_image *base, struct lade_store *store,
                        const char *path, size_t max, struct lade_buf *out, bool *found,
                        struct lade_error **err)
{
	*found = false;
	for (size_t i = base->n_layers; i-- > 0;) {
		const struct lade_base_layer *l = &base->layers[i];
		_cleanup_free_ char *blob = lade_store_blob_path(store, l->desc.digest);
		_cleanup_free_ char *name = xasprintf("base layer %s", l->desc.digest);
		struct find f = {path, max, l->desc.digest, out, false};
		struct lade_layer_read r;
		lade_base_layer_read_init(l, blob, name, &r);
		r.entry = find_entry;
		r.ctx = &f;
		struct lade_layer_stats st;
		if (lade_layer_read(&r, &st, err) < 0)
			return -1;
		if (!st.complete) {
			*found = f.found;
			return 0;
		}
	}
	return 0;
}

static const char *multiarch(const char *platform)
{
	static const struct {
		const char *platform, *triplet;
	} map[] = {
	        {"linux/amd64", "x86_64-linux-gnu"},     {"linux/arm64", "aarch64-linux-gnu"},
	        {"linux/arm/v7", "arm-linux-gnueabihf"}, {"linux/ppc64le", "powerpc64le-linux-gnu"},
	        {"linux/s390x", "s390x-linux-gnu"},      {"linux/386", "i386-linux-gnu"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(map); i++)
		if (strncmp(platform, map[i].platform, strlen(map[i].platform)) == 0)
			return map[i].triplet;
	return NULL;
}

static const char *musl_arch(const char *platform)
{
	if (strncmp(platform, "linux/amd64", 11) == 0)
		return "x86_64";
	if (strncmp(platform, "linux/arm64", 11) == 0)
		return "aarch64";
	if (strncmp(platform, "linux/arm/v7", 12) == 0)
		return "armhf";
	if (strncmp(platform, "linux/ppc64le", 13) == 0)
		return "powerpc64le";
	if (strncmp(platform, "linux/s390x", 11) == 0)
		return "s390x";
	if (strncmp(platform, "linux/386", 9) == 0)
		return "i386";
	return NULL;
}

/* Highest "GLIBC_2.N" symbol version in libc.so.6: the glibc release. */
static int glibc_version(const struct lade_buf *b)
{
	int best = -1;
	const char *p = b->data, *end = b->data + b->len;
	while ((p = memmem(p, (size_t)(end - p), "GLIBC_2.", 8)) != NULL) {
		p += 8;
		int v = 0, digits = 0;
		while (p < end && *p >= '0' && *p <= '9' && digits < 4) {
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (digits > 0 && (p >= end || *p == '\0' || *p == '.') && v > best)
			best = v;
	}
	return best;
}

int lade_base_detect_libc(const struct lade_base_image *base, struct lade_store *store,
                          const struct lade_tree *tree, const char *platform, char **out,
                          struct lade_error **err)
{
	return lade_base_detect_libc_kept(base, store, tree, NULL, platform, out, err);
}

int lade_base_detect_libc_kept(const struct lade_base_image *base, struct lade_store *store,
                               const struct lade_tree *tree, const struct lade_base_keep *kept,
                               const char *platform, char **out, struct lade_error **err)
{
	const char *march = musl_arch(platform);
	if (march) {
		_cleanup_free_ char *ld = xasprintf("lib/ld-musl-%s.so.1", march);
		if (lade_tree_lookup(tree, ld)) {
			*out = xstrdup("musl-1.2");
			return 0;
		}
	}
	const char *triplet = multiarch(platform);
	/* Debian/Ubuntu multiarch first, then Fedora/RHEL lib64, then plain lib. */
	const struct {
		const char *dir;
		bool multiarch;
	} dirs[] = {{"lib", true},        {"usr/lib", true}, {"lib64", false},
	            {"usr/lib64", false}, {"lib", false},    {"usr/lib", false}};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(dirs); i++) {
		if (dirs[i].multiarch && triplet == NULL)
			continue;
		_cleanup_free_ char *dir = dirs[i].multiarch ? lade_path_join(dirs[i].dir, triplet)
		                                             : xstrdup(dirs[i].dir);
		_cleanup_free_ char *path = lade_path_join(dir, "libc.so.6");
		_cleanup_free_ char *resolved = NULL;
		if (lade_tree_resolve(tree, path, true, &resolved, err) < 0)
			return -1;
		const struct lade_tree_node *n = lade_tree_lookup(tree, resolved);
		if (n == NULL || n->type != LADE_ENTRY_FILE)
			continue;
		const struct lade_buf *k =
		        kept && kept->files ? lade_hashmap_get(kept->files, resolved) : NULL;
		_cleanup_buf_ struct lade_buf content = LADE_BUF_INIT;
		bool found = k != NULL;
		if (k == NULL && lade_base_read_path(base, store, resolved, 64u << 20, &content,
		                                     &found, err) < 0)
			return -1;
		int minor = found ? glibc_version(k ? k : &content) : -1;
		if (minor < 0)
			continue;
		*out = xasprintf("glibc-2.%d", minor);
		return 0;
	}
	return lade_error_set(err, 0, "no glibc libc.so.6 or musl loader found in base image %s",
	                      base->name ? base->name : "(scratch)");
}
