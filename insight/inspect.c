/* lade — `lade inspect` and `lade diff` (see include/lade/inspect.h). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lade/compress.h"
#include "lade/digest.h"
#include "lade/hashmap.h"
#include "lade/image.h"
#include "lade/inspect.h"
#include "lade/pyformat.h"
#include "lade/tree.h"
#include "lade/util.h"

#define CHUNK            (256 * 1024)
#define MAX_JSON         (16u << 20)
#define MAX_RECORD       (64u << 20)
#define ANN_REF          "org.opencontainers.image.ref.name"
#define ANN_CONTAINERD   "io.containerd.image.name"
#define DIST_INFO_RECORD ".dist-info/RECORD"

/* --- the images an IMAGE reference names -------------------------------------------- */

struct blob {
	char *path; /* host path of the blob file */
	char *digest;
	char *media_type;
	uint64_t size;
};

struct img {
	char *ref;    /* may be NULL */
	char *digest; /* manifest digest; NULL for a docker-archive manifest.json entry */
	uint64_t manifest_size;
	char *platform;
	json_t *config;
	struct blob config_blob;
	struct blob *layers;
	size_t n_layers;
};

struct source {
	char *name; /* IMAGE as given, for messages */
	char *dir;  /* the layout (or extracted archive) directory */
	char *tmp;  /* temp dir to remove, or NULL */
	const char *tag;
	char *spec_copy;
	struct img *imgs;
	size_t n_imgs, alloc;
};

static void blob_release(struct blob *b)
{
	free(b->path);
	free(b->digest);
	free(b->media_type);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void source_free(struct source *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_imgs; i++) {
		struct img *im = &s->imgs[i];
		free(im->ref);
		free(im->digest);
		free(im->platform);
		json_decref(im->config);
		blob_release(&im->config_blob);
		for (size_t j = 0; j < im->n_layers; j++)
			blob_release(&im->layers[j]);
		free(im->layers);
	}
	free(s->imgs);
	if (s->tmp)
		nftw(s->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(s->tmp);
	free(s->dir);
	free(s->name);
	free(s->spec_copy);
	free(s);
}

static void source_freep(struct source **s)
{
	source_free(*s);
}

/* Path of a blob inside dir; the digest must be well formed before it becomes a path. */
static int blob_path(const struct source *s, const char *where, const char *digest, char **out,
                     struct lade_error **err)
{
	if (digest == NULL || !lade_digest_valid(digest))
		return lade_error_set(err, 0, "%s: %s: digest '%s' is not sha256:<64 hex>", s->name,
		                      where, digest ? digest : "(none)");
	*out = xasprintf("%s/blobs/sha256/%s", s->dir, lade_digest_hex(digest));
	return 0;
}

/* Read a small JSON blob, check its digest (when given) and size, parse it. */
static int load_json(const struct source *s, const char *where, const char *path,
                     const char *digest, uint64_t size, json_t **out, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, MAX_JSON, &b, err) < 0)
		return lade_error_prefix(err, "%s: %s", s->name, where);
	if (digest) {
		char got[LADE_DIGEST_STRLEN];
		lade_sha256_buf(b.data, b.len, got);
		if (strcmp(got, digest) != 0)
			return lade_error_set(err, 0,
			                      "%s: %s: digest mismatch (expected %s, got %s)",
			                      s->name, where, digest, got);
		if (size != UINT64_MAX && size != b.len)
			return lade_error_set(err, 0,
			                      "%s: %s: size %" PRIu64 " but blob is %zu bytes",
			                      s->name, where, size, b.len);
	}
	json_error_t je;
	json_t *j = json_loadb(b.data, b.len, 0, &je);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return lade_error_set(err, 0, "%s: %s: not a JSON object%s%s", s->name, where,
		                      j ? "" : ": ", j ? "" : je.text);
	}
	*out = j;
	return 0;
}

static int descriptor(const struct source *s, const char *where, const json_t *d, struct blob *out,
                      struct lade_error **err)
{
	const char *digest = json_string_value(json_object_get(d, "digest"));
	const json_t *size = json_object_get(d, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return lade_error_set(err, 0, "%s: %s: descriptor without a valid size", s->name,
		                      where);
	if (blob_path(s, where, digest, &out->path, err) < 0)
		return -1;
	out->digest = xstrdup(digest);
	const char *mt = json_string_value(json_object_get(d, "mediaType"));
	out->media_type = mt ? xstrdup(mt) : NULL;
	out->size = (uint64_t)json_integer_value(size);
	return 0;
}

static char *platform_string(const json_t *p)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *variant = json_string_value(json_object_get(p, "variant"));
	if (os == NULL || arch == NULL)
		return NULL;
	return variant ? xasprintf("%s/%s/%s", os, arch, variant) : xasprintf("%s/%s", os, arch);
}

static struct img *add_img(struct source *s)
{
	lade_grow(&s->imgs, sizeof(*s->imgs), s->n_imgs + 1, &s->alloc);
	struct img *im = &s->imgs[s->n_imgs++];
	memset(im, 0, sizeof(*im));
	return im;
}

static int load_config(struct source *s, struct img *im, const char *where, struct lade_error **err)
{
	if (load_json(s, where, im->config_blob.path, im->config_blob.digest, im->config_blob.size,
	              &im->config, err) < 0)
		return -1;
	if (im->platform == NULL)
		im->platform = platform_string(im->config);
	return 0;
}

static int load_manifest(struct source *s, const struct blob *md, const char *ref,
                         const json_t *platform, struct lade_error **err)
{
	_cleanup_free_ char *where = xasprintf("manifest %s", md->digest);
	_cleanup_(json_decrefp) json_t *m = NULL;
	if (load_json(s, where, md->path, md->digest, md->size, &m, err) < 0)
		return -1;
	/* Artifacts (an SBOM referring to an image, signatures) are not images. */
	const char *cmt =
	        json_string_value(json_object_get(json_object_get(m, "config"), "mediaType"));
	if (json_object_get(m, "artifactType") || (cmt && strcmp(cmt, LADE_MT_OCI_CONFIG) != 0 &&
	                                           strcmp(cmt, LADE_MT_DOCKER_CONFIG) != 0))
		return 0;
	struct img *im = add_img(s);
	im->ref = ref ? xstrdup(ref) : NULL;
	im->digest = xstrdup(md->digest);
	im->manifest_size = md->size;
	im->platform = platform ? platform_string(platform) : NULL;
	const json_t *layers = json_object_get(m, "layers");
	if (!json_is_object(json_object_get(m, "config")) || !json_is_array(layers))
		return lade_error_set(err, 0, "%s: %s: no config or layers", s->name, where);
	_cleanup_free_ char *cwhere = xasprintf("%s config", where);
	if (descriptor(s, cwhere, json_object_get(m, "config"), &im->config_blob, err) < 0)
		return -1;
	im->layers = xcalloc(json_array_size(layers) + 1, sizeof(*im->layers));
	size_t i;
	const json_t *l;
	json_array_foreach(layers, i, l)
	{
		_cleanup_free_ char *lw = xasprintf("%s layers[%zu]", where, i);
		if (descriptor(s, lw, l, &im->layers[i], err) < 0)
			return -1;
		im->n_layers++;
	}
	return load_config(s, im, cwhere, err);
}

static bool ref_matches(const char *tag, const json_t *annotations)
{
	const char *r = json_string_value(json_object_get(annotations, ANN_REF));
	const char *c = json_string_value(json_object_get(annotations, ANN_CONTAINERD));
	return (r && strcmp(r, tag) == 0) || (c && strcmp(c, tag) == 0);
}

static int load_index(struct source *s, const json_t *index, const char *where,
                      const char *parent_ref, int depth, struct lade_error **err)
{
	const json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0, "%s: %s: no manifests list", s->name, where);
	if (depth > 4)
		return lade_error_set(err, 0, "%s: %s: indexes nested too deeply", s->name, where);
	size_t i;
	const json_t *d;
	json_array_foreach(ms, i, d)
	{
		const json_t *ann = json_object_get(d, "annotations");
		if (depth == 0 && s->tag && !ref_matches(s->tag, ann))
			continue;
		const char *ref = json_string_value(json_object_get(ann, ANN_REF));
		if (ref == NULL)
			ref = json_string_value(json_object_get(ann, ANN_CONTAINERD));
		if (ref == NULL)
			ref = parent_ref;
		_cleanup_free_ char *dw = xasprintf("%s manifests[%zu]", where, i);
		struct blob b = {0};
		if (descriptor(s, dw, d, &b, err) < 0) {
			blob_release(&b);
			return -1;
		}
		int r;
		if (b.media_type && (strcmp(b.media_type, LADE_MT_OCI_INDEX) == 0 ||
		                     strcmp(b.media_type, LADE_MT_DOCKER_LIST) == 0)) {
			_cleanup_(json_decrefp) json_t *sub = NULL;
			_cleanup_free_ char *iw = xasprintf("index %s", b.digest);
			r = load_json(s, iw, b.path, b.digest, b.size, &sub, err);
			if (r == 0)
				r = load_index(s, sub, iw, ref, depth + 1, err);
		} else {
			r = load_manifest(s, &b, ref, json_object_get(d, "platform"), err);
		}
		blob_release(&b);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Does a member or entry name have a ".." component (or is it absolute)? */
static bool unsafe_name(const char *name)
{
	if (name[0] == '/')
		return true;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		while (*p == '/')
			p++;
	}
	return false;
}

/* A RepoTag "docker.io/library/x:1" is named by itself, by "library/x:1", "x:1" or "1". */
static bool docker_tag_matches(const char *repo_tag, const char *colon, const char *tag)
{
	static const char *const prefixes[] = {"", "docker.io/", "docker.io/library/"};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(repo_tag, prefixes[i], n) == 0 && strcmp(repo_tag + n, tag) == 0)
			return true;
	}
	return colon && strcmp(colon + 1, tag) == 0;
}

/* docker save before Docker 25: manifest.json lists config and layer files by path. */
static int load_docker_manifest(struct source *s, struct lade_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/manifest.json", s->dir);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, MAX_JSON, &b, err) < 0)
		return lade_error_prefix(err, "%s", s->name);
	json_error_t je;
	_cleanup_(json_decrefp) json_t *m = json_loadb(b.data, b.len, 0, &je);
	if (!json_is_array(m))
		return lade_error_set(err, 0, "%s: manifest.json: not a JSON array", s->name);
	size_t i;
	const json_t *e;
	json_array_foreach(m, i, e)
	{
		const json_t *tags = json_object_get(e, "RepoTags");
		if (s->tag) {
			bool match = false;
			size_t k;
			const json_t *t;
			json_array_foreach(tags, k, t)
			{
				const char *ts = json_string_value(t);
				const char *colon = ts ? strrchr(ts, ':') : NULL;
				if (ts && docker_tag_matches(ts, colon, s->tag))
					match = true;
			}
			if (!match)
				continue;
		}
		const char *cfg = json_string_value(json_object_get(e, "Config"));
		const json_t *layers = json_object_get(e, "Layers");
		if (cfg == NULL || !json_is_array(layers))
			return lade_error_set(err, 0, "%s: manifest.json[%zu]: no Config or Layers",
			                      s->name, i);
		struct img *im = add_img(s);
		const char *ref = json_string_value(json_array_get(tags, 0));
		im->ref = ref ? xstrdup(ref) : NULL;
		im->layers = xcalloc(json_array_size(layers) + 1, sizeof(*im->layers));
		size_t n = json_array_size(layers);
		for (size_t k = 0; k <= n; k++) {
			const char *name =
			        k == 0 ? cfg : json_string_value(json_array_get(layers, k - 1));
			_cleanup_error_ struct lade_error *nerr = NULL;
			_cleanup_free_ char *norm = name && !unsafe_name(name)
			                                    ? lade_path_normalize(name, &nerr)
			                                    : NULL;
			if (norm == NULL || *norm == '\0')
				return lade_error_set(err, 0,
				                      "%s: manifest.json[%zu]: bad file name '%s'",
				                      s->name, i, name ? name : "(none)");
			struct blob *bl = k == 0 ? &im->config_blob : &im->layers[k - 1];
			bl->path = xasprintf("%s/%s", s->dir, norm);
			char digest[LADE_DIGEST_STRLEN];
			if (lade_sha256_file(bl->path, digest, &bl->size, err) < 0)
				return lade_error_prefix(err, "%s", s->name);
			bl->digest = xstrdup(digest);
			if (k > 0) {
				unsigned char head[4] = {0};
				_cleanup_fd_ int fd = open(bl->path, O_RDONLY | O_CLOEXEC);
				ssize_t got = fd >= 0 ? lade_read_retry(fd, head, sizeof(head)) : 0;
				enum lade_compression c =
				        lade_compression_sniff(head, got > 0 ? (size_t)got : 0);
				bl->media_type = xstrdup(lade_compression_media_type(c));
				im->n_layers++;
			}
		}
		if (load_config(s, im, "config", err) < 0)
			return -1;
	}
	return 0;
}

/* Extract an archive's regular files and directories into a fresh temp dir. Member names
 * must stay inside; symlinks (classic docker save links shared layers) become hard links to
 * the member they name when that is a regular file inside the archive. */
static int extract_archive(struct source *s, const char *file, struct lade_error **err)
{
	const char *tmpdir = getenv("TMPDIR");
	_cleanup_free_ char *tmpl =
	        xasprintf("%s/lade-inspect-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		return lade_error_set(err, errno, "%s: cannot create a temp dir in %s", s->name,
		                      tmpdir && *tmpdir ? tmpdir : "/tmp");
	s->tmp = xstrdup(tmpl);
	s->dir = xstrdup(tmpl);
	_cleanup_(lade_archive_read_freep) struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	if (archive_read_open_filename(a, file, CHUNK) != ARCHIVE_OK)
		return lade_error_set(err, archive_errno(a), "%s: cannot read %s: %s", s->name,
		                      file, archive_error_string(a));
	_cleanup_strv_ char **links = NULL;
	_cleanup_free_ char *buf = xmalloc(CHUNK);
	for (;;) {
		struct archive_entry *e;
		int rc = archive_read_next_header(a, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN)
			return lade_error_set(err, 0, "%s: %s", s->name, archive_error_string(a));
		const char *name = archive_entry_pathname(e);
		if (name == NULL || unsafe_name(name))
			return lade_error_set(err, 0, "%s: unsafe member name '%s'", s->name,
			                      name ? name : "(none)");
		_cleanup_error_ struct lade_error *nerr = NULL;
		_cleanup_free_ char *norm = lade_path_normalize(name, &nerr);
		if (norm == NULL)
			return lade_error_set(err, 0, "%s: unsafe member name '%s'", s->name, name);
		if (*norm == '\0')
			continue;
		_cleanup_free_ char *dst = xasprintf("%s/%s", s->dir, norm);
		_cleanup_free_ char *parent = lade_path_parent_dir(dst);
		if (lade_mkdir_p(parent, err) < 0)
			return lade_error_prefix(err, "%s", s->name);
		mode_t type = archive_entry_filetype(e);
		if (type == AE_IFDIR) {
			if (lade_mkdir_p(dst, err) < 0)
				return lade_error_prefix(err, "%s", s->name);
			continue;
		}
		if (type == AE_IFLNK) {
			const char *target = archive_entry_symlink(e);
			if (target && target[0] != '/') {
				lade_strv_push(&links, norm);
				lade_strv_push(&links, target);
			}
			continue;
		}
		if (type != AE_IFREG || archive_entry_hardlink(e))
			continue;
		_cleanup_fd_ int fd =
		        open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return lade_error_set(err, errno, "%s: cannot extract member '%s'", s->name,
			                      norm);
		for (;;) {
			la_ssize_t n = archive_read_data(a, buf, CHUNK);
			if (n == 0)
				break;
			if (n < 0)
				return lade_error_set(err, 0, "%s: member '%s': %s", s->name, norm,
				                      archive_error_string(a));
			if (lade_write_all(fd, buf, (size_t)n) < 0)
				return lade_error_set(err, errno, "%s: cannot extract member '%s'",
				                      s->name, norm);
		}
	}
	for (size_t i = 0; links && links[i]; i += 2) {
		_cleanup_free_ char *dir = lade_path_dirname(links[i]);
		_cleanup_free_ char *joined = lade_path_join(dir, links[i + 1]);
		_cleanup_error_ struct lade_error *nerr = NULL;
		_cleanup_free_ char *target = lade_path_normalize(joined, &nerr);
		if (target == NULL)
			continue;
		_cleanup_free_ char *src = xasprintf("%s/%s", s->dir, target);
		_cleanup_free_ char *dst = xasprintf("%s/%s", s->dir, links[i]);
		struct stat st;
		if (lstat(src, &st) == 0 && S_ISREG(st.st_mode))
			(void)link(src, dst);
	}
	return 0;
}

/* "DIR:TAG" as skopeo spells it: the whole string when it exists, else the shortest prefix
 * before a ':' that exists. */
static void split_ref(char *spec, const char **tag)
{
	*tag = NULL;
	if (access(spec, F_OK) == 0)
		return;
	for (char *p = strchr(spec, ':'); p; p = strchr(p + 1, ':')) {
		*p = '\0';
		if (access(spec, F_OK) == 0) {
			*tag = p + 1;
			return;
		}
		*p = ':';
	}
}

static int source_open(const char *image, struct source **out, struct lade_error **err)
{
	_cleanup_(source_freep) struct source *s = xzalloc(sizeof(*s));
	s->name = xstrdup(image);
	enum { LAYOUT, OCI_ARCHIVE, DOCKER_ARCHIVE } kind = LAYOUT;
	const char *rest = image;
	if (strncmp(image, "oci:", 4) == 0) {
		rest = image + 4;
	} else if (strncmp(image, "oci-archive:", 12) == 0) {
		kind = OCI_ARCHIVE;
		rest = image + 12;
	} else if (strncmp(image, "docker-archive:", 15) == 0) {
		kind = DOCKER_ARCHIVE;
		rest = image + 15;
	}
	if (*rest == '\0')
		return lade_error_set(err, 0, "image '%s': no path", image);
	s->spec_copy = xstrdup(rest);
	split_ref(s->spec_copy, &s->tag);
	if (s->tag && *s->tag == '\0')
		s->tag = NULL;
	struct stat st;
	if (stat(s->spec_copy, &st) < 0)
		return lade_error_set(err, errno, "image '%s': cannot open %s", image,
		                      s->spec_copy);
	if (kind == LAYOUT) {
		if (!S_ISDIR(st.st_mode))
			return lade_error_set(
			        err, 0,
			        "image '%s': %s is not a directory (use oci-archive: or "
			        "docker-archive: for a tar)",
			        image, s->spec_copy);
		s->dir = xstrdup(s->spec_copy);
	} else {
		if (!S_ISREG(st.st_mode))
			return lade_error_set(err, 0, "image '%s': %s is not a file", image,
			                      s->spec_copy);
		if (extract_archive(s, s->spec_copy, err) < 0)
			return -1;
	}
	_cleanup_free_ char *index_path = xasprintf("%s/index.json", s->dir);
	if (kind == DOCKER_ARCHIVE && access(index_path, F_OK) != 0) {
		if (load_docker_manifest(s, err) < 0)
			return -1;
	} else {
		_cleanup_(json_decrefp) json_t *index = NULL;
		if (load_json(s, "index.json", index_path, NULL, UINT64_MAX, &index, err) < 0)
			return -1;
		if (load_index(s, index, "index.json", NULL, 0, err) < 0)
			return -1;
	}
	if (s->n_imgs == 0)
		return s->tag ? lade_error_set(err, 0, "%s: no image tagged '%s'", image, s->tag)
		              : lade_error_set(err, 0, "%s: holds no image", image);
	*out = steal_pointer(&s);
	return 0;
}

/* --- streaming layers into a merged file system ------------------------------------- */

struct fentry {
	char sha256[LADE_DIGEST_STRLEN]; /* "" unless hashed */
	struct lade_buf record;          /* RECORD content (by_package) */
	bool has_record;
};

static void fentry_free(void *p)
{
	struct fentry *f = p;
	lade_buf_release(&f->record);
	free(f);
}

struct fs {
	struct lade_tree *tree;
	struct lade_hashmap *seen; /* every path written by a layer -> struct fentry */
	bool hash;                 /* sha256 of file content (diff) */
	bool records;              /* keep *.dist-info/RECORD content */
};

static void fs_release(struct fs *f)
{
	lade_tree_free(f->tree);
	lade_hashmap_free(f->seen, fentry_free);
}

struct raw_reader {
	int fd;
	unsigned char *buf;
	struct lade_sha256 *sha;
	uint64_t bytes;
};

static la_ssize_t raw_read_cb(struct archive *a, void *data, const void **buf)
{
	struct raw_reader *r = data;
	ssize_t n = lade_read_retry(r->fd, r->buf, CHUNK);
	if (n < 0) {
		archive_set_error(a, errno, "cannot read blob: %s", strerror(errno));
		return -1;
	}
	lade_sha256_update(r->sha, r->buf, (size_t)n);
	r->bytes += (uint64_t)n;
	*buf = r->buf;
	return n;
}

struct tar_reader {
	struct archive *outer;
	unsigned char *buf;
	struct lade_sha256 *sha;
	uint64_t bytes;
};

static la_ssize_t tar_read_cb(struct archive *a, void *data, const void **buf)
{
	struct tar_reader *t = data;
	la_ssize_t n = archive_read_data(t->outer, t->buf, CHUNK);
	if (n < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(t->outer));
		return -1;
	}
	lade_sha256_update(t->sha, t->buf, (size_t)n);
	t->bytes += (uint64_t)n;
	*buf = t->buf;
	return n;
}

static bool is_record_path(const char *p)
{
	size_t n = strlen(p), k = strlen(DIST_INFO_RECORD);
	return n > k && strcmp(p + n - k, DIST_INFO_RECORD) == 0 && p[n - k - 1] != '/';
}

static int fs_entry(struct fs *f, struct archive *a, struct archive_entry *e, const char *where,
                    unsigned char *buf, struct lade_error **err)
{
	const char *name = archive_entry_pathname(e);
	if (name == NULL)
		return lade_error_set(err, 0, "%s: entry without a name", where);
	if (name[0] == '/')
		return lade_error_set(err, 0, "%s: entry '%s' is an absolute path", where, name);
	_cleanup_error_ struct lade_error *nerr = NULL;
	_cleanup_free_ char *path = unsafe_name(name) ? NULL : lade_path_normalize(name, &nerr);
	if (path == NULL)
		return lade_error_set(err, 0, "%s: entry '%s' escapes the root", where, name);
	if (*path == '\0')
		return 0;
	enum lade_entry_type type;
	const char *link = NULL;
	_cleanup_free_ char *hl = NULL;
	if (archive_entry_hardlink(e)) {
		type = LADE_ENTRY_HARDLINK;
		hl = lade_path_normalize(archive_entry_hardlink(e), &nerr);
		if (hl == NULL)
			return lade_error_set(err, 0, "%s: hard link '%s' escapes the root", where,
			                      name);
		link = hl;
	} else {
		switch (archive_entry_filetype(e)) {
		case AE_IFREG:
			type = LADE_ENTRY_FILE;
			break;
		case AE_IFDIR:
			type = LADE_ENTRY_DIR;
			break;
		case AE_IFLNK:
			type = LADE_ENTRY_SYMLINK;
			link = archive_entry_symlink(e);
			break;
		default:
			type = LADE_ENTRY_OTHER;
			break;
		}
	}
	uint64_t size = type == LADE_ENTRY_FILE ? (uint64_t)archive_entry_size(e) : 0;
	if (lade_tree_apply(f->tree, path, type, archive_entry_perm(e) & 07777,
	                    (uint32_t)archive_entry_uid(e), (uint32_t)archive_entry_gid(e), size,
	                    link, err) < 0)
		return lade_error_prefix(err, "%s", where);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, ".wh.", 4) == 0)
		return 0;
	struct fentry *fe = lade_hashmap_get(f->seen, path);
	if (fe == NULL) {
		fe = xzalloc(sizeof(*fe));
		lade_buf_init(&fe->record);
		lade_hashmap_put(f->seen, path, fe);
	}
	fe->sha256[0] = '\0';
	fe->has_record = false;
	lade_buf_reset(&fe->record);
	if (type != LADE_ENTRY_FILE)
		return 0;
	bool record = f->records && is_record_path(path) && size <= MAX_RECORD;
	if (!f->hash && !record)
		return 0;
	_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = f->hash ? lade_sha256_new() : NULL;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, CHUNK);
		if (n == 0)
			break;
		if (n < 0)
			return lade_error_set(err, 0, "%s: entry '%s': %s", where, name,
			                      archive_error_string(a));
		if (sha)
			lade_sha256_update(sha, buf, (size_t)n);
		if (record)
			lade_buf_add(&fe->record, buf, (size_t)n);
	}
	if (sha)
		lade_sha256_final(sha, NULL, fe->sha256);
	fe->has_record = record;
	return 0;
}

struct layer_result {
	uint64_t tar_size;
	char diff_id[LADE_DIGEST_STRLEN];
	uint64_t entries;
};

/* Every entry of the tar, then the rest of the stream (end blocks and padding count for the
 * diff_id too). */
static int walk_tar(struct archive *inner, struct archive *outer, struct tar_reader *tr,
                    const char *where, struct fs *f, struct layer_result *res,
                    unsigned char *databuf, struct lade_error **err)
{
	struct archive_entry *e;
	res->entries = 0;
	if (f)
		lade_tree_layer_begin(f->tree);
	for (;;) {
		int rc = archive_read_next_header(inner, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN)
			return lade_error_set(err, 0, "%s: %s", where, archive_error_string(inner));
		res->entries++;
		if (f && fs_entry(f, inner, e, where, databuf, err) < 0)
			return -1;
		if (archive_read_data_skip(inner) < ARCHIVE_WARN)
			return lade_error_set(err, 0, "%s: %s", where, archive_error_string(inner));
	}
	const void *dummy;
	la_ssize_t n;
	while ((n = tar_read_cb(inner, tr, &dummy)) > 0)
		;
	if (n < 0)
		return lade_error_set(err, 0, "%s: %s", where, archive_error_string(outer));
	return 0;
}

/* One pass over a layer blob: its digest, the tar stream's size and sha256 (diff_id) and,
 * with f, every entry applied to the merged file system. */
static int stream_layer(const struct blob *b, const char *where, struct fs *f,
                        struct layer_result *res, struct lade_error **err)
{
	enum lade_compression comp;
	if (lade_compression_from_media_type(b->media_type, &comp) < 0)
		return lade_error_set(err, 0, "%s: unsupported layer media type '%s'", where,
		                      b->media_type ? b->media_type : "(none)");
	_cleanup_fd_ int fd = open(b->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lade_error_set(err, errno, "%s: cannot open blob", where);
	_cleanup_free_ unsigned char *rawbuf = xmalloc(CHUNK);
	_cleanup_free_ unsigned char *tarbuf = xmalloc(CHUNK);
	_cleanup_free_ unsigned char *databuf = xmalloc(CHUNK);
	_cleanup_(lade_sha256_freep) struct lade_sha256 *blob_sha = lade_sha256_new();
	_cleanup_(lade_sha256_freep) struct lade_sha256 *tar_sha = lade_sha256_new();
	struct raw_reader rr = {fd, rawbuf, blob_sha, 0};
	_cleanup_(lade_archive_read_freep) struct archive *outer = archive_read_new();
	archive_read_support_format_raw(outer);
	if (comp == LADE_COMPRESS_GZIP)
		archive_read_support_filter_gzip(outer);
	else if (comp == LADE_COMPRESS_ZSTD &&
	         archive_read_support_filter_zstd(outer) != ARCHIVE_OK)
		return lade_error_set(err, 0, "%s: this libarchive cannot read zstd", where);
	struct archive_entry *e;
	if (archive_read_open(outer, &rr, NULL, raw_read_cb, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(outer, &e) != ARCHIVE_OK)
		return lade_error_set(err, 0, "%s: cannot read blob: %s", where,
		                      archive_error_string(outer));
	if (comp != LADE_COMPRESS_NONE && archive_filter_count(outer) < 2)
		return lade_error_set(err, 0, "%s: blob is not %s", where,
		                      lade_compression_name(comp));
	struct tar_reader tr = {outer, tarbuf, tar_sha, 0};
	_cleanup_(lade_archive_read_freep) struct archive *inner = archive_read_new();
	archive_read_support_format_tar(inner);
	archive_read_support_format_empty(inner);
	if (archive_read_open(inner, &tr, NULL, tar_read_cb, NULL) != ARCHIVE_OK)
		return lade_error_set(err, 0, "%s: %s", where, archive_error_string(inner));
	int walked = walk_tar(inner, outer, &tr, where, f, res, databuf, err);
	la_ssize_t n;
	while ((n = lade_read_retry(fd, rawbuf, CHUNK)) > 0) {
		lade_sha256_update(blob_sha, rawbuf, (size_t)n);
		rr.bytes += (uint64_t)n;
	}
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_final(blob_sha, NULL, got);
	if (strcmp(got, b->digest) != 0) {
		/* A broken tar in a tampered blob: the tampering is the news. */
		if (err && *err) {
			lade_error_free(*err);
			*err = NULL;
		}
		return lade_error_set(err, 0, "%s: digest mismatch (expected %s, got %s)", where,
		                      b->digest, got);
	}
	if (walked < 0)
		return -1;
	if (rr.bytes != b->size)
		return lade_error_set(err, 0, "%s: size %" PRIu64 " but blob is %" PRIu64 " bytes",
		                      where, b->size, rr.bytes);
	lade_sha256_final(tar_sha, NULL, res->diff_id);
	res->tar_size = tr.bytes;
	return 0;
}

/* Stream every layer of im (into f when not NULL). Without f, a layer already streamed for
 * another image of the layout is taken from `seen` (digest -> struct layer_result, may be
 * NULL): variants share most of their bytes. */
static int image_stream(const struct source *s, const struct img *im, struct fs *f,
                        struct lade_hashmap *seen, struct layer_result *results,
                        struct lade_error **err)
{
	const json_t *diff_ids = json_object_get(json_object_get(im->config, "rootfs"), "diff_ids");
	if (json_array_size(diff_ids) != im->n_layers)
		return lade_error_set(err, 0, "%s: config %s has %zu diff_ids for %zu layers",
		                      s->name, im->config_blob.digest, json_array_size(diff_ids),
		                      im->n_layers);
	for (size_t i = 0; i < im->n_layers; i++) {
		_cleanup_free_ char *where =
		        xasprintf("%s: layer %zu (%s)", s->name, i + 1, im->layers[i].digest);
		const struct layer_result *done =
		        f == NULL && seen ? lade_hashmap_get(seen, im->layers[i].digest) : NULL;
		if (done) {
			results[i] = *done;
		} else {
			if (stream_layer(&im->layers[i], where, f, &results[i], err) < 0)
				return -1;
			if (seen) {
				struct layer_result *copy = xmalloc(sizeof(*copy));
				*copy = results[i];
				free(lade_hashmap_put(seen, im->layers[i].digest, copy));
			}
		}
		const char *want = json_string_value(json_array_get(diff_ids, i));
		if (want == NULL || strcmp(want, results[i].diff_id) != 0)
			return lade_error_set(err, 0,
			                      "%s: diff_id mismatch: config says %s, tar is %s",
			                      where, want ? want : "(none)", results[i].diff_id);
	}
	return 0;
}

static void fs_init(struct fs *f)
{
	memset(f, 0, sizeof(*f));
	f->tree = lade_tree_new();
	f->seen = lade_hashmap_new();
}

static int cmp_path(const void *a, const void *b)
{
	return lade_path_compare(*(char *const *)a, *(char *const *)b);
}

/* The paths of the merged file system, sorted; borrowed from f->seen. */
static const char **fs_paths(const struct fs *f, size_t *n)
{
	size_t pos = 0, k = 0;
	const char *key;
	void *val;
	const char **v = xcalloc(lade_hashmap_size(f->seen) + 1, sizeof(*v));
	while (lade_hashmap_next(f->seen, &pos, &key, &val))
		if (lade_tree_lookup(f->tree, key))
			v[k++] = key;
	qsort(v, k, sizeof(*v), cmp_path);
	*n = k;
	return v;
}

/* --- inspect ------------------------------------------------------------------------ */

static int cmp_top(const void *a, const void *b)
{
	const struct lade_tree_node *x = *(const struct lade_tree_node *const *)a;
	const struct lade_tree_node *y = *(const struct lade_tree_node *const *)b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return lade_path_compare(x->path, y->path);
}

static json_t *top_files(const struct fs *f, const char **paths, size_t n, size_t top)
{
	_cleanup_free_ const struct lade_tree_node **nodes = xcalloc(n + 1, sizeof(*nodes));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct lade_tree_node *nd = lade_tree_lookup(f->tree, paths[i]);
		if (nd && nd->type == LADE_ENTRY_FILE)
			nodes[k++] = nd;
	}
	qsort(nodes, k, sizeof(*nodes), cmp_top);
	json_t *arr = json_array();
	for (size_t i = 0; i < k && i < top; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I}", "path", nodes[i]->path, "size",
		                                     (json_int_t)nodes[i]->size));
	return arr;
}

struct pkg {
	char *name, *version, *location;
	uint64_t bytes, files;
};

static int cmp_pkg(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->location, y->location);
}

static void parse_record(const struct fs *f, const char *record_path, const struct lade_buf *rec,
                         struct pkg *p)
{
	_cleanup_free_ char *distinfo = lade_path_dirname(record_path);
	_cleanup_free_ char *site = lade_path_dirname(distinfo);
	const char *dname = strrchr(distinfo, '/');
	dname = dname ? dname + 1 : distinfo;
	size_t dlen = strlen(dname) - strlen(".dist-info");
	const char *dash = memchr(dname, '-', dlen);
	p->name = dash ? xstrndup(dname, (size_t)(dash - dname)) : xstrndup(dname, dlen);
	p->version = dash ? xstrndup(dash + 1, dlen - (size_t)(dash - dname) - 1) : xstrdup("");
	p->location = xstrdup(site);
	const char *s = rec->data, *end = rec->data + rec->len;
	for (;;) {
		_cleanup_strv_ char **row = NULL; /* path, hash, size */
		if (lade_csv_row(&s, end, &row) <= 0)
			break;
		size_t nf = lade_strv_len(row);
		if (!(nf == 1 && row[0][0] == '\0')) {
			const char *rel = row[0], *size_text = nf > 2 ? row[2] : "";
			uint64_t size = 0;
			bool have = false;
			if (*size_text) {
				char *e;
				errno = 0;
				unsigned long long v = strtoull(size_text, &e, 10);
				if (errno == 0 && *e == '\0') {
					size = v;
					have = true;
				}
			}
			if (!have) {
				_cleanup_free_ char *joined = lade_path_join(site, rel);
				_cleanup_error_ struct lade_error *nerr = NULL;
				_cleanup_free_ char *path = lade_path_normalize(joined, &nerr);
				const struct lade_tree_node *nd =
				        path ? lade_tree_lookup(f->tree, path) : NULL;
				if (nd && nd->type == LADE_ENTRY_FILE)
					size = nd->size;
			}
			p->bytes += size;
			p->files++;
		}
	}
}

static json_t *packages(const struct fs *f, const char **paths, size_t n)
{
	struct pkg *pk = xcalloc(n + 1, sizeof(*pk));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct fentry *fe = lade_hashmap_get(f->seen, paths[i]);
		if (fe && fe->has_record)
			parse_record(f, paths[i], &fe->record, &pk[k++]);
	}
	qsort(pk, k, sizeof(*pk), cmp_pkg);
	json_t *arr = json_array();
	for (size_t i = 0; i < k; i++) {
		json_array_append_new(
		        arr, json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", pk[i].name, "version",
		                       pk[i].version, "location", pk[i].location, "bytes",
		                       (json_int_t)pk[i].bytes, "files", (json_int_t)pk[i].files));
		free(pk[i].name);
		free(pk[i].version);
		free(pk[i].location);
	}
	free(pk);
	return arr;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static void set_size(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

/* History entries that made a layer, in layer order (empty_layer ones skipped). */
static const json_t *history_for(const json_t *config, size_t layer)
{
	const json_t *h;
	size_t i, k = 0;
	json_array_foreach(json_object_get(config, "history"), i, h)
	{
		if (json_is_true(json_object_get(h, "empty_layer")))
			continue;
		if (k++ == layer)
			return h;
	}
	return NULL;
}

static int inspect_img(const struct source *s, const struct img *im,
                       const struct lade_inspect_options *o, struct lade_hashmap *seen,
                       json_t **out, struct lade_error **err)
{
	_cleanup_(json_decrefp) json_t *j = json_object();
	set_str(j, "ref", im->ref);
	set_str(j, "digest", im->digest);
	if (im->digest)
		set_size(j, "manifest_size", im->manifest_size);
	set_str(j, "platform", im->platform);
	json_object_set_new(j, "config",
	                    json_pack("{s:s, s:I}", "digest", im->config_blob.digest, "size",
	                              (json_int_t)im->config_blob.size));
	set_str(j, "created", json_string_value(json_object_get(im->config, "created")));
	const json_t *cc = json_object_get(im->config, "config");
	if (json_is_array(json_object_get(cc, "Entrypoint")))
		json_object_set(j, "entrypoint", json_object_get(cc, "Entrypoint"));
	if (json_is_array(json_object_get(cc, "Cmd")))
		json_object_set(j, "cmd", json_object_get(cc, "Cmd"));

	_cleanup_free_ struct layer_result *res = xcalloc(im->n_layers + 1, sizeof(*res));
	struct fs f;
	fs_init(&f);
	f.records = o->by_package;
	bool need_fs = o->top || o->by_package;
	int r = o->layers ? image_stream(s, im, need_fs ? &f : NULL, seen, res, err) : 0;
	if (r < 0) {
		fs_release(&f);
		return -1;
	}
	const json_t *diff_ids = json_object_get(json_object_get(im->config, "rootfs"), "diff_ids");
	json_t *layers = json_array();
	uint64_t lsize = 0, usize = 0;
	for (size_t i = 0; i < im->n_layers; i++) {
		const struct blob *b = &im->layers[i];
		json_t *l = json_object();
		set_str(l, "digest", b->digest);
		set_str(l, "media_type", b->media_type);
		set_size(l, "size", b->size);
		set_str(l, "diff_id", json_string_value(json_array_get(diff_ids, i)));
		if (o->layers) {
			set_size(l, "uncompressed_size", res[i].tar_size);
			set_size(l, "entries", res[i].entries);
			usize += res[i].tar_size;
		}
		const json_t *h = history_for(im->config, i);
		set_str(l, "created_by", json_string_value(json_object_get(h, "created_by")));
		set_str(l, "comment", json_string_value(json_object_get(h, "comment")));
		lsize += b->size;
		json_array_append_new(layers, l);
	}
	json_object_set_new(j, "layers", layers);
	set_size(j, "layers_size", lsize);
	set_size(j, "size", lsize + im->config_blob.size + (im->digest ? im->manifest_size : 0));
	if (o->layers)
		set_size(j, "uncompressed_size", usize);
	if (o->layers && (o->top || o->by_package)) {
		size_t n;
		_cleanup_free_ const char **paths = fs_paths(&f, &n);
		if (o->top)
			json_object_set_new(j, "top", top_files(&f, paths, n, o->top));
		if (o->by_package)
			json_object_set_new(j, "packages", packages(&f, paths, n));
	}
	fs_release(&f);
	*out = steal_pointer(&j);
	return 0;
}

struct blob_use {
	uint64_t size;
	size_t users;
	size_t last_user; /* image index + 1 that counted it last */
};

static void count_use(struct lade_hashmap *m, const char *digest, uint64_t size, size_t user)
{
	if (digest == NULL)
		return;
	struct blob_use *u = lade_hashmap_get(m, digest);
	if (u == NULL) {
		u = xzalloc(sizeof(*u));
		u->size = size;
		lade_hashmap_put(m, digest, u);
	}
	if (u->last_user != user + 1) {
		u->users++;
		u->last_user = user + 1;
	}
}

static uint64_t img_bytes(const struct lade_hashmap *m, const struct img *im, bool shared)
{
	uint64_t sum = 0;
	struct lade_hashmap *once = lade_hashmap_new();
	for (size_t i = 0; i < im->n_layers + 2; i++) {
		const char *d = i == 0   ? im->digest
		                : i == 1 ? im->config_blob.digest
		                         : im->layers[i - 2].digest;
		if (d == NULL || lade_hashmap_get(once, d))
			continue;
		lade_hashmap_put(once, d, (void *)1);
		const struct blob_use *u = lade_hashmap_get(m, d);
		if (u && (u->users > 1) == shared)
			sum += u->size;
	}
	lade_hashmap_free(once, NULL);
	return sum;
}

int lade_inspect(const char *image, const struct lade_inspect_options *o, json_t **out,
                 struct lade_error **err)
{
	struct lade_inspect_options dflt = {.layers = true};
	if (o == NULL)
		o = &dflt;
	if (!o->layers && (o->top || o->by_package))
		return lade_error_set(err, 0, "%s: the largest files and packages need the layers",
		                      image);
	_cleanup_(source_freep) struct source *s = NULL;
	if (source_open(image, &s, err) < 0)
		return -1;
	struct lade_hashmap *uses = lade_hashmap_new();
	for (size_t i = 0; i < s->n_imgs; i++) {
		const struct img *im = &s->imgs[i];
		count_use(uses, im->digest, im->manifest_size, i);
		count_use(uses, im->config_blob.digest, im->config_blob.size, i);
		for (size_t k = 0; k < im->n_layers; k++)
			count_use(uses, im->layers[k].digest, im->layers[k].size, i);
	}
	_cleanup_(json_decrefp) json_t *imgs = json_array();
	struct lade_hashmap *seen = lade_hashmap_new();
	int r = 0;
	for (size_t i = 0; i < s->n_imgs && r == 0; i++) {
		json_t *j;
		r = inspect_img(s, &s->imgs[i], o, seen, &j, err);
		if (r == 0) {
			set_size(j, "unique_bytes", img_bytes(uses, &s->imgs[i], false));
			set_size(j, "shared_bytes", img_bytes(uses, &s->imgs[i], true));
			json_array_append_new(imgs, j);
		}
	}
	uint64_t total = 0, shared = 0;
	size_t pos = 0;
	const char *key;
	void *val;
	while (lade_hashmap_next(uses, &pos, &key, &val)) {
		const struct blob_use *u = val;
		total += u->size;
		if (u->users > 1)
			shared += u->size;
	}
	lade_hashmap_free(uses, free);
	lade_hashmap_free(seen, free);
	if (r < 0)
		return -1;
	*out = json_pack("{s:s, s:O, s:I, s:I}", "image", image, "images", imgs, "total_bytes",
	                 (json_int_t)total, "shared_bytes", (json_int_t)shared);
	return 0;
}

/* --- diff --------------------------------------------------------------------------- */

static const char *type_word(enum lade_entry_type t)
{
	switch (t) {
	case LADE_ENTRY_DIR:
		return "dir";
	case LADE_ENTRY_FILE:
		return "file";
	case LADE_ENTRY_SYMLINK:
		return "symlink";
	case LADE_ENTRY_HARDLINK:
		return "hardlink";
	default:
		return "other";
	}
}

static json_t *entry_json(const struct fs *f, const char *path)
{
	const struct lade_tree_node *nd = lade_tree_lookup(f->tree, path);
	const struct fentry *fe = lade_hashmap_get(f->seen, path);
	json_t *e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "path", path, "type",
	                      type_word(nd->type), "mode", (json_int_t)nd->mode, "uid",
	                      (json_int_t)nd->uid, "gid", (json_int_t)nd->gid, "size",
	                      (json_int_t)nd->size);
	if (nd->type == LADE_ENTRY_FILE && fe && fe->sha256[0])
		set_str(e, "sha256", fe->sha256);
	set_str(e, "link", nd->link);
	return e;
}

static int open_one(const char *image, struct source **out, struct lade_error **err)
{
	if (source_open(image, out, err) < 0)
		return -1;
	if ((*out)->n_imgs != 1) {
		_cleanup_buf_ struct lade_buf refs = LADE_BUF_INIT;
		for (size_t i = 0; i < (*out)->n_imgs; i++)
			lade_buf_addf(&refs, "%s%s", i ? ", " : "",
			              (*out)->imgs[i].ref ? (*out)->imgs[i].ref : "(untagged)");
		lade_error_set(err, 0, "%s holds %zu images (%s): name one as IMAGE:TAG", image,
		               (*out)->n_imgs, refs.data);
		source_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static json_t *side_json(const struct source *s)
{
	json_t *j =
	        json_pack("{s:s, s:s}", "image", s->name, "config", s->imgs[0].config_blob.digest);
	set_str(j, "digest", s->imgs[0].digest);
	set_str(j, "ref", s->imgs[0].ref);
	return j;
}

static bool diff_id_in(const json_t *ids, const char *id)
{
	size_t i;
	const json_t *v;
	json_array_foreach(ids, i, v) if (json_string_value(v) &&
	                                  strcmp(json_string_value(v), id) == 0) return true;
	return false;
}

static json_t *only_in(const json_t *x, const json_t *y)
{
	json_t *arr = json_array();
	size_t i;
	const json_t *v;
	json_array_foreach(x, i, v)
	{
		const char *id = json_string_value(v);
		if (id && !diff_id_in(y, id) && !diff_id_in(arr, id))
			json_array_append_new(arr, json_string(id));
	}
	return arr;
}

static bool entries_equal(const struct fs *fa, const struct fs *fb, const char *path)
{
	const struct lade_tree_node *a = lade_tree_lookup(fa->tree, path);
	const struct lade_tree_node *b = lade_tree_lookup(fb->tree, path);
	const struct fentry *ea = lade_hashmap_get(fa->seen, path);
	const struct fentry *eb = lade_hashmap_get(fb->seen, path);
	if (a->type != b->type || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    a->size != b->size)
		return false;
	if ((a->link == NULL) != (b->link == NULL) || (a->link && strcmp(a->link, b->link) != 0))
		return false;
	return a->type != LADE_ENTRY_FILE || strcmp(ea->sha256, eb->sha256) == 0;
}

static int diff_files(const struct source *sa, const struct source *sb, json_t **out,
                      struct lade_error **err)
{
	struct fs fa, fb;
	fs_init(&fa);
	fs_init(&fb);
	fa.hash = fb.hash = true;
	_cleanup_free_ struct layer_result *ra = xcalloc(sa->imgs[0].n_layers + 1, sizeof(*ra));
	_cleanup_free_ struct layer_result *rb = xcalloc(sb->imgs[0].n_layers + 1, sizeof(*rb));
	if (image_stream(sa, &sa->imgs[0], &fa, NULL, ra, err) < 0 ||
	    image_stream(sb, &sb->imgs[0], &fb, NULL, rb, err) < 0) {
		fs_release(&fa);
		fs_release(&fb);
		return -1;
	}
	size_t na, nb, i = 0, k = 0;
	_cleanup_free_ const char **pa = fs_paths(&fa, &na);
	_cleanup_free_ const char **pb = fs_paths(&fb, &nb);
	json_t *added = json_array(), *removed = json_array(), *modified = json_array();
	while (i < na || k < nb) {
		int c = i == na ? 1 : k == nb ? -1 : lade_path_compare(pa[i], pb[k]);
		if (c < 0) {
			json_array_append_new(removed, entry_json(&fa, pa[i++]));
		} else if (c > 0) {
			json_array_append_new(added, entry_json(&fb, pb[k++]));
		} else {
			if (!entries_equal(&fa, &fb, pa[i]))
				json_array_append_new(modified,
				                      json_pack("{s:s, s:o, s:o}", "path", pa[i],
				                                "a", entry_json(&fa, pa[i]), "b",
				                                entry_json(&fb, pb[k])));
			i++;
			k++;
		}
	}
	*out = json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed, "modified",
	                 modified);
	fs_release(&fa);
	fs_release(&fb);
	return 0;
}

int lade_diff(const char *image_a, const char *image_b, json_t **out, bool *different,
              struct lade_error **err)
{
	_cleanup_(source_freep) struct source *sa = NULL;
	_cleanup_(source_freep) struct source *sb = NULL;
	if (open_one(image_a, &sa, err) < 0 || open_one(image_b, &sb, err) < 0)
		return -1;
	const struct img *a = &sa->imgs[0], *b = &sb->imgs[0];
	const json_t *ida = json_object_get(json_object_get(a->config, "rootfs"), "diff_ids");
	const json_t *idb = json_object_get(json_object_get(b->config, "rootfs"), "diff_ids");
	size_t na = json_array_size(ida), nb = json_array_size(idb);
	json_t *layers = json_array();
	bool layers_equal = true;
	for (size_t i = 0; i < na || i < nb; i++) {
		const char *x = json_string_value(json_array_get(ida, i));
		const char *y = json_string_value(json_array_get(idb, i));
		const char *status = i >= na                         ? "added"
		                     : i >= nb                       ? "removed"
		                     : (x && y && strcmp(x, y) == 0) ? "equal"
		                                                     : "changed";
		if (strcmp(status, "equal") != 0)
			layers_equal = false;
		json_t *l = json_pack("{s:I, s:s}", "index", (json_int_t)(i + 1), "status", status);
		set_str(l, "a", x);
		set_str(l, "b", y);
		json_array_append_new(layers, l);
	}
	_cleanup_(json_decrefp) json_t *j = json_object();
	json_object_set_new(j, "a", side_json(sa));
	json_object_set_new(j, "b", side_json(sb));
	json_object_set_new(j, "layers", layers);
	json_object_set_new(j, "layers_only_in_a", only_in(ida, idb));
	json_object_set_new(j, "layers_only_in_b", only_in(idb, ida));
	bool config_equal = strcmp(a->config_blob.digest, b->config_blob.digest) == 0;
	json_object_set_new(j, "config_equal", json_boolean(config_equal));
	bool files_equal = true;
	if (!layers_equal) {
		json_t *files;
		if (diff_files(sa, sb, &files, err) < 0)
			return -1;
		files_equal = json_array_size(json_object_get(files, "added")) == 0 &&
		              json_array_size(json_object_get(files, "removed")) == 0 &&
		              json_array_size(json_object_get(files, "modified")) == 0;
		json_object_set_new(j, "files", files);
	} else {
		json_object_set_new(
		        j, "files",
		        json_pack("{s:[], s:[], s:[]}", "added", "removed", "modified"));
	}
	bool identical = layers_equal && files_equal && config_equal;
	json_object_set_new(j, "identical", json_boolean(identical));
	*different = !identical;
	*out = steal_pointer(&j);
	return 0;
}

/* --- human output ------------------------------------------------------------------- */

struct table {
	char **cells; /* rows x cols */
	size_t cols, rows, alloc;
	unsigned right; /* bit i: column i right-aligned */
};

static void table_row(struct table *t, ...)
{
	va_list ap;
	va_start(ap, t);
	lade_grow(&t->cells, sizeof(*t->cells), (t->rows + 1) * t->cols, &t->alloc);
	for (size_t c = 0; c < t->cols; c++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->rows * t->cols + c] = xstrdup(s ? s : "");
	}
	va_end(ap);
	t->rows++;
}

static void table_flush(struct table *t, const char *indent, struct lade_buf *out)
{
	size_t *w = xcalloc(t->cols, sizeof(*w));
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->cols; c++) {
			size_t l = strlen(t->cells[r * t->cols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->rows; r++) {
		lade_buf_adds(out, indent);
		for (size_t c = 0; c < t->cols; c++) {
			const char *cell = t->cells[r * t->cols + c];
			bool last = c + 1 == t->cols;
			if (t->right & (1u << c))
				lade_buf_addf(out, "%*s", (int)w[c], cell);
			else
				lade_buf_addf(out, "%-*s", last ? 0 : (int)w[c], cell);
			if (!last)
				lade_buf_adds(out, "  ");
			free(t->cells[r * t->cols + c]);
		}
		lade_buf_addch(out, '\n');
	}
	free(w);
	free(t->cells);
	t->cells = NULL;
	t->rows = t->alloc = 0;
}

static const char *hsize(const json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v))
		return "-";
	return lade_human_size((uint64_t)json_integer_value(v), buf, len);
}

static char *short_digest(const char *d)
{
	if (d == NULL)
		return xstrdup("-");
	return xstrndup(d, strncmp(d, "sha256:", 7) == 0 ? 7 + 12 : 12);
}

static char *one_line(const char *s)
{
	if (s == NULL)
		return xstrdup("");
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (strlen(r) > 80)
		strcpy(r + 77, "...");
	return r;
}

static void add_json_line(struct lade_buf *out, const char *label, const json_t *v)
{
	if (v == NULL)
		return;
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	_cleanup_free_ char *l = one_line(s);
	free(s);
	lade_buf_addf(out, "  %-11s %s\n", label, l);
}

void lade_inspect_format(const json_t *report, struct lade_buf *out)
{
	const json_t *imgs = json_object_get(report, "images");
	size_t i;
	const json_t *im;
	char b1[32], b2[32];
	json_array_foreach(imgs, i, im)
	{
		const char *ref = json_string_value(json_object_get(im, "ref"));
		lade_buf_addf(out, "%simage %s%s%s\n", i ? "\n" : "",
		              json_string_value(json_object_get(report, "image")),
		              ref ? " ref " : "", ref ? ref : "");
		const char *d = json_string_value(json_object_get(im, "digest"));
		if (d)
			lade_buf_addf(out, "  %-11s %s\n", "digest", d);
		const char *p = json_string_value(json_object_get(im, "platform"));
		if (p)
			lade_buf_addf(out, "  %-11s %s\n", "platform", p);
		const char *c = json_string_value(json_object_get(im, "created"));
		if (c)
			lade_buf_addf(out, "  %-11s %s\n", "created", c);
		add_json_line(out, "entrypoint", json_object_get(im, "entrypoint"));
		add_json_line(out, "cmd", json_object_get(im, "cmd"));
		const json_t *layers = json_object_get(im, "layers");
		lade_buf_addf(out, "  %-11s %s", "size",
		              hsize(json_object_get(im, "size"), b1, sizeof(b1)));
		if (json_object_get(im, "uncompressed_size"))
			lade_buf_addf(
			        out, ", %s uncompressed",
			        hsize(json_object_get(im, "uncompressed_size"), b2, sizeof(b2)));
		lade_buf_addf(out, " (%zu layer%s)\n", json_array_size(layers),
		              json_array_size(layers) == 1 ? "" : "s");
		struct table t = {.cols = 6, .right = 0x7};
		table_row(&t, "#", "SIZE", "UNCOMPRESSED", "DIGEST", "DIFF_ID", "CREATED BY");
		size_t k;
		const json_t *l;
		json_array_foreach(layers, k, l)
		{
			char n[24];
			snprintf(n, sizeof(n), "%zu", k + 1);
			_cleanup_free_ char *sd =
			        short_digest(json_string_value(json_object_get(l, "digest")));
			_cleanup_free_ char *si =
			        short_digest(json_string_value(json_object_get(l, "diff_id")));
			const char *cb = json_string_value(json_object_get(l, "created_by"));
			const char *cm = json_string_value(json_object_get(l, "comment"));
			_cleanup_free_ char *text = xasprintf("%s%s%s", cb ? cb : "",
			                                      cb && cm ? " | " : "", cm ? cm : "");
			_cleanup_free_ char *tl = one_line(text);
			table_row(&t, n, hsize(json_object_get(l, "size"), b1, sizeof(b1)),
			          hsize(json_object_get(l, "uncompressed_size"), b2, sizeof(b2)),
			          sd, si, tl);
		}
		table_flush(&t, "  ", out);
		const json_t *top = json_object_get(im, "top");
		if (top) {
			lade_buf_addf(out, "  largest files:\n");
			struct table tt = {.cols = 2, .right = 0x1};
			json_array_foreach(top, k, l)
			{
				_cleanup_free_ char *path = xasprintf(
				        "/%s", json_string_value(json_object_get(l, "path")));
				table_row(&tt, hsize(json_object_get(l, "size"), b1, sizeof(b1)),
				          path);
			}
			table_flush(&tt, "    ", out);
		}
		const json_t *pk = json_object_get(im, "packages");
		if (pk && json_array_size(pk) == 0)
			lade_buf_adds(out, "  python packages: none (no *.dist-info/RECORD)\n");
		if (pk && json_array_size(pk) > 0) {
			lade_buf_addf(out, "  python packages (%zu):\n", json_array_size(pk));
			struct table tp = {.cols = 5, .right = 0x0c};
			table_row(&tp, "NAME", "VERSION", "SIZE", "FILES", "LOCATION");
			json_array_foreach(pk, k, l)
			{
				char nf[24];
				snprintf(nf, sizeof(nf), "%" JSON_INTEGER_FORMAT,
				         json_integer_value(json_object_get(l, "files")));
				_cleanup_free_ char *loc = xasprintf(
				        "/%s", json_string_value(json_object_get(l, "location")));
				table_row(&tp, json_string_value(json_object_get(l, "name")),
				          json_string_value(json_object_get(l, "version")),
				          hsize(json_object_get(l, "bytes"), b1, sizeof(b1)), nf,
				          loc);
			}
			table_flush(&tp, "    ", out);
		}
	}
	if (json_array_size(imgs) > 1) {
		lade_buf_addf(out, "\nblobs: %s in total, %s shared by more than one image\n",
		              hsize(json_object_get(report, "total_bytes"), b1, sizeof(b1)),
		              hsize(json_object_get(report, "shared_bytes"), b2, sizeof(b2)));
		struct table t = {.cols = 3, .right = 0x6};
		table_row(&t, "REF", "UNIQUE", "SHARED");
		json_array_foreach(imgs, i, im)
		{
			const char *ref = json_string_value(json_object_get(im, "ref"));
			table_row(&t, ref ? ref : "(untagged)",
			          hsize(json_object_get(im, "unique_bytes"), b1, sizeof(b1)),
			          hsize(json_object_get(im, "shared_bytes"), b2, sizeof(b2)));
		}
		table_flush(&t, "  ", out);
	}
}

static void entry_line(struct lade_buf *out, char sign, const json_t *e)
{
	char b[32];
	const char *sha = json_string_value(json_object_get(e, "sha256"));
	const char *link = json_string_value(json_object_get(e, "link"));
	lade_buf_addf(out, "%c /%s  %s %04o %s", sign,
	              json_string_value(json_object_get(e, "path")),
	              json_string_value(json_object_get(e, "type")),
	              (unsigned)json_integer_value(json_object_get(e, "mode")),
	              hsize(json_object_get(e, "size"), b, sizeof(b)));
	if (sha)
		lade_buf_addf(out, " %s", sha);
	if (link)
		lade_buf_addf(out, " -> %s", link);
	lade_buf_addch(out, '\n');
}

void lade_diff_format(const json_t *report, struct lade_buf *out)
{
	const json_t *a = json_object_get(report, "a"), *b = json_object_get(report, "b");
	lade_buf_addf(out, "a: %s %s\nb: %s %s\n", json_string_value(json_object_get(a, "image")),
	              json_string_value(json_object_get(a, "digest")) ?: "",
	              json_string_value(json_object_get(b, "image")),
	              json_string_value(json_object_get(b, "digest")) ?: "");
	if (json_is_true(json_object_get(report, "identical"))) {
		lade_buf_adds(out, "identical\n");
		return;
	}
	if (!json_is_true(json_object_get(report, "config_equal")))
		lade_buf_addf(out, "config differs: %s vs %s\n",
		              json_string_value(json_object_get(a, "config")),
		              json_string_value(json_object_get(b, "config")));
	struct table t = {.cols = 4, .right = 0x1};
	table_row(&t, "#", "LAYER", "A", "B");
	size_t i;
	const json_t *l;
	json_array_foreach(json_object_get(report, "layers"), i, l)
	{
		char n[24];
		snprintf(n, sizeof(n), "%" JSON_INTEGER_FORMAT,
		         json_integer_value(json_object_get(l, "index")));
		_cleanup_free_ char *x = short_digest(json_string_value(json_object_get(l, "a")));
		_cleanup_free_ char *y = short_digest(json_string_value(json_object_get(l, "b")));
		table_row(&t, n, json_string_value(json_object_get(l, "status")), x, y);
	}
	table_flush(&t, "", out);
	const json_t *files = json_object_get(report, "files");
	const json_t *e;
	json_array_foreach(json_object_get(files, "removed"), i, e) entry_line(out, '-', e);
	json_array_foreach(json_object_get(files, "added"), i, e) entry_line(out, '+', e);
	json_array_foreach(json_object_get(files, "modified"), i, e)
	{
		entry_line(out, '<', json_object_get(e, "a"));
		entry_line(out, '>', json_object_get(e, "b"));
	}
	lade_buf_addf(out, "%zu added, %zu removed, %zu modified\n",
	              json_array_size(json_object_get(files, "added")),
	              json_array_size(json_object_get(files, "removed")),
	              json_array_size(json_object_get(files, "modified")));
}
