/* lade — the images an IMAGE reference names (see include/lade/images.h): an OCI layout, an
 * oci-archive or a docker-archive (extracted to a private temp dir), every manifest and config
 * blob verified and parsed by oci.c's rules. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lade/compress.h"
#include "lade/images.h"
#include "lade/layerread.h"
#include "lade/oci.h"
#include "lade/util.h"

#define CHUNK          (256 * 1024)
#define ANN_REF        LADE_REF_NAME
#define ANN_CONTAINERD "io.containerd.image.name"

static void blob_release(struct lade_image_blob *b)
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

void lade_images_free(struct lade_images *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_imgs; i++) {
		struct lade_image *im = &s->imgs[i];
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

void lade_images_freep(struct lade_images **s)
{
	lade_images_free(*s);
}

/* Read a small JSON document: with a digest, a blob checked against it and its size; without,
 * a file of the layout (index.json). Duplicate keys are refused, like every reader of images. */
static int load_json(const struct lade_images *s, const char *where, const char *path,
                     const char *digest, uint64_t size, json_t **out, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, LADE_OCI_JSON_MAX, &b, err) < 0)
		return lade_error_prefix(err, "%s: %s", s->name, where);
	int r = digest ? lade_oci_blob_json_mem(b.data, b.len, digest, size, out, err)
	               : lade_oci_json_parse(b.data, b.len, where, out, err);
	return r < 0 ? lade_error_prefix(err, "%s", s->name) : 0;
}

static int descriptor(const struct lade_images *s, const char *where, const json_t *d,
                      struct lade_image_blob *out, struct lade_error **err)
{
	struct lade_oci_descriptor desc;
	if (lade_oci_descriptor_parse(d, where, &desc, err) < 0)
		return lade_error_prefix(err, "%s", s->name);
	out->path = lade_oci_blob_path(s->dir, desc.digest);
	out->digest = xstrdup(desc.digest);
	out->media_type = xstrdup(desc.media_type);
	out->size = desc.size;
	return 0;
}

static struct lade_image *add_img(struct lade_images *s)
{
	lade_grow(&s->imgs, sizeof(*s->imgs), s->n_imgs + 1, &s->alloc);
	struct lade_image *im = &s->imgs[s->n_imgs++];
	memset(im, 0, sizeof(*im));
	return im;
}

static int load_config(struct lade_images *s, struct lade_image *im, const char *where,
                       struct lade_error **err)
{
	if (load_json(s, where, im->config_blob.path, im->config_blob.digest, im->config_blob.size,
	              &im->config, err) < 0)
		return -1;
	if (im->platform == NULL)
		im->platform = lade_oci_platform_format(im->config);
	return 0;
}

static int load_manifest(struct lade_images *s, const struct lade_image_blob *md, const char *ref,
                         const json_t *platform, struct lade_error **err)
{
	_cleanup_free_ char *where = xasprintf("manifest %s", md->digest);
	_cleanup_(json_decrefp) json_t *m = NULL;
	if (load_json(s, where, md->path, md->digest, md->size, &m, err) < 0)
		return -1;
	/* Artifacts (an SBOM referring to an image, signatures) are not images. */
	const char *cmt =
	        json_string_value(json_object_get(json_object_get(m, "config"), "mediaType"));
	if (json_object_get(m, "artifactType") || (cmt && !lade_oci_is_config_type(cmt)))
		return 0;
	struct lade_image *im = add_img(s);
	im->ref = ref ? xstrdup(ref) : NULL;
	im->digest = xstrdup(md->digest);
	im->manifest_size = md->size;
	im->platform = platform ? lade_oci_platform_format(platform) : NULL;
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

static int load_index(struct lade_images *s, const json_t *index, const char *where,
                      const char *parent_ref, int depth, struct lade_error **err)
{
	const json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0, "%s: %s: no manifests list", s->name, where);
	if (depth > LADE_OCI_INDEX_DEPTH)
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
		struct lade_image_blob b = {0};
		if (descriptor(s, dw, d, &b, err) < 0) {
			blob_release(&b);
			return -1;
		}
		int r;
		if (lade_oci_is_index_type(b.media_type)) {
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

/* A RepoTag names the image by its name (lade_oci_repo_tag_matches: "x:1", "library/x:1",
 * "docker.io/library/x:1" are one) or, for inspect, by its tag part alone ("1"). */
static bool docker_tag_matches(const char *repo_tag, const char *colon, const char *tag)
{
	return lade_oci_repo_tag_matches(repo_tag, tag) || (colon && strcmp(colon + 1, tag) == 0);
}

/* docker save before Docker 25: manifest.json lists config and layer files by path. */
static int load_docker_manifest(struct lade_images *s, struct lade_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/manifest.json", s->dir);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, LADE_OCI_JSON_MAX, &b, err) < 0)
		return lade_error_prefix(err, "%s", s->name);
	_cleanup_(json_decrefp) json_t *m = NULL;
	if (lade_oci_json_parse_value(b.data, b.len, "manifest.json", &m, err) < 0)
		return lade_error_prefix(err, "%s", s->name);
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
		struct lade_image *im = add_img(s);
		const char *ref = json_string_value(json_array_get(tags, 0));
		im->ref = ref ? xstrdup(ref) : NULL;
		im->layers = xcalloc(json_array_size(layers) + 1, sizeof(*im->layers));
		size_t n = json_array_size(layers);
		for (size_t k = 0; k <= n; k++) {
			const char *name =
			        k == 0 ? cfg : json_string_value(json_array_get(layers, k - 1));
			_cleanup_error_ struct lade_error *nerr = NULL;
			_cleanup_free_ char *norm = name && !lade_tar_name_unsafe(name)
			                                    ? lade_path_normalize(name, &nerr)
			                                    : NULL;
			if (norm == NULL || *norm == '\0')
				return lade_error_set(err, 0,
				                      "%s: manifest.json[%zu]: bad file name '%s'",
				                      s->name, i, name ? name : "(none)");
			struct lade_image_blob *bl = k == 0 ? &im->config_blob : &im->layers[k - 1];
			bl->path = xasprintf("%s/%s", s->dir, norm);
			char digest[LADE_DIGEST_STRLEN];
			if (lade_sha256_file(bl->path, digest, &bl->size, err) < 0)
				return lade_error_prefix(err, "%s", s->name);
			bl->digest = xstrdup(digest);
			if (k > 0) {
				unsigned char head[4] = {0};
				/* a regular file: lade_sha256_file above checked it */
				_cleanup_fd_ int fd = -1;
				if (lade_open_regular(bl->path, 0, &fd, err) < 0)
					return lade_error_prefix(err, "%s", s->name);
				ssize_t got = lade_read_retry(fd, head, sizeof(head));
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
static int extract_archive(struct lade_images *s, const char *file, struct lade_error **err)
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
	if (lade_archive_read_open_regular(a, file, CHUNK, err) < 0)
		return lade_error_prefix(err, "%s", s->name);
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
		if (name == NULL || lade_tar_name_unsafe(name))
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

int lade_images_open(const char *image, struct lade_images **out, struct lade_error **err)
{
	_cleanup_(lade_images_freep) struct lade_images *s = xzalloc(sizeof(*s));
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
			return lade_error_set(err, 0, "image '%s': %s is %s, not a regular file",
			                      image, s->spec_copy, lade_file_kind(st.st_mode));
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
