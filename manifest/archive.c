/* lade — oci-archive and docker-archive: an OCI layout as one deterministic tar
 * (see include/lade/archive.h).
 *
 * Docker-archive layers: the layout's compressed blobs are listed in manifest.json as they
 * are. `docker load` (classic store: DecompressStream on every layer file; containerd store:
 * the OCI part), skopeo/podman (containers/image docker-archive source: AutoDecompress on
 * each layer file) all accept compressed layer files and check them against the diff_ids, so
 * writing decompressed copies would only double the archive's size. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/archive.h"
#include "lade/digest.h"
#include "lade/image.h"
#include "lade/oci.h"
#include "lade/util.h"

#define CONTAINERD_NAME "io.containerd.image.name"
#define COPY_CHUNK      (1u << 20)

int lade_archive_format_parse(const char *name, enum lade_archive_format *out,
                              struct lade_error **err)
{
	if (name && strcmp(name, "oci-archive") == 0)
		*out = LADE_ARCHIVE_OCI;
	else if (name && strcmp(name, "docker-archive") == 0)
		*out = LADE_ARCHIVE_DOCKER;
	else
		return lade_error_set(err, 0,
		                      "unknown archive format '%s' (expected oci-archive or "
		                      "docker-archive)",
		                      name ? name : "");
	return 0;
}

struct blob {
	char digest[LADE_DIGEST_STRLEN];
	uint64_t size;
};

struct walk {
	const char *dir;
	enum lade_archive_format fmt;
	struct blob *blobs;
	size_t n_blobs, alloc_blobs;
	json_t *docker_manifests; /* manifest.json array (docker-archive) */
	char *tagged_config;      /* config hex of the manifest last given a tag */
};

static void walk_release(struct walk *w)
{
	free(w->blobs);
	json_decref(w->docker_manifests);
	free(w->tagged_config);
}

static void add_blob(struct walk *w, const char *digest, uint64_t size)
{
	lade_grow(&w->blobs, sizeof(*w->blobs), w->n_blobs + 1, &w->alloc_blobs);
	struct blob *b = &w->blobs[w->n_blobs++];
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
}

static const char *layer_name(const char *digest, char buf[128])
{
	snprintf(buf, 128, "blobs/sha256/%s", lade_digest_hex(digest));
	return buf;
}

static int walk_descriptor(struct walk *w, const json_t *d, const char *what, int depth,
                           json_t *repo_tags, struct lade_error **err);

static int walk_index(struct walk *w, const char *digest, const json_t *index, int depth,
                      json_t *repo_tags, struct lade_error **err)
{
	json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0, "index %s has no manifests array", digest);
	size_t i;
	json_t *m;
	json_array_foreach(ms, i, m)
	{
		_cleanup_free_ char *what = xasprintf("index %s: manifests[%zu]", digest, i);
		/* One tag per repository: a multi-platform image tags its first manifest. */
		if (walk_descriptor(w, m, what, depth + 1, i == 0 ? repo_tags : NULL, err) < 0)
			return -1;
	}
	return 0;
}

static int walk_manifest(struct walk *w, const char *digest, const json_t *manifest,
                         json_t *repo_tags, struct lade_error **err)
{
	_cleanup_free_ char *what = xasprintf("manifest %s: config", digest);
	struct lade_oci_descriptor cd;
	if (lade_oci_descriptor_parse(json_object_get(manifest, "config"), what, &cd, err) < 0)
		return -1;
	const char *config_digest = cd.digest;
	add_blob(w, config_digest, cd.size);
	bool image = lade_oci_is_config_type(cd.media_type);

	json_t *layers = json_object_get(manifest, "layers");
	if (layers && !json_is_array(layers))
		return lade_error_set(err, 0, "manifest %s: layers is not an array", digest);
	_cleanup_(json_decrefp) json_t *names = json_array();
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l)
	{
		struct lade_oci_descriptor ld;
		free(what);
		what = xasprintf("manifest %s: layers[%zu]", digest, i);
		if (lade_oci_descriptor_parse(l, what, &ld, err) < 0)
			return -1;
		add_blob(w, ld.digest, ld.size);
		char buf[128];
		json_array_append_new(names, json_string(layer_name(ld.digest, buf)));
	}

	if (w->fmt == LADE_ARCHIVE_DOCKER && image) {
		char buf[128];
		json_t *config = json_string(layer_name(config_digest, buf));
		/* Two tags of one image: one entry with both tags, as `docker save` writes it. */
		json_t *e = NULL, *x;
		json_array_foreach(w->docker_manifests, i, x)
		{
			if (json_equal(json_object_get(x, "Config"), config) &&
			    json_equal(json_object_get(x, "Layers"), names))
				e = x;
		}
		if (e == NULL) {
			e = json_object();
			json_object_set_new(e, "Config", config);
			json_object_set_new(e, "RepoTags", json_array());
			json_object_set(e, "Layers", names);
			json_array_append_new(w->docker_manifests, e);
		} else {
			json_decref(config);
		}
		if (json_array_size(repo_tags) > 0) {
			json_array_extend(json_object_get(e, "RepoTags"), repo_tags);
			free(w->tagged_config);
			w->tagged_config = xstrdup(lade_digest_hex(config_digest));
		}
	}
	return 0;
}

static int walk_descriptor(struct walk *w, const json_t *d, const char *what, int depth,
                           json_t *repo_tags, struct lade_error **err)
{
	struct lade_oci_descriptor desc;
	if (lade_oci_descriptor_parse(d, what, &desc, err) < 0)
		return -1;
	const char *digest = desc.digest;
	add_blob(w, digest, desc.size);
	bool is_index = lade_oci_is_index_type(desc.media_type);
	bool is_manifest = lade_oci_is_manifest_type(desc.media_type);
	if (!is_index && !is_manifest)
		return 0; /* opaque content: archived, not followed */
	if (depth > LADE_OCI_INDEX_DEPTH)
		return lade_error_set(err, 0, "%s: indexes nested deeper than %d levels", what,
		                      LADE_OCI_INDEX_DEPTH);
	_cleanup_(json_decrefp) json_t *j = NULL;
	if (lade_oci_blob_json(w->dir, &desc, &j, err) < 0)
		return -1;
	if (is_index)
		return walk_index(w, digest, j, depth, repo_tags, err);
	return walk_manifest(w, digest, j, repo_tags, err);
}

static int blob_cmp(const void *a, const void *b)
{
	return strcmp(((const struct blob *)a)->digest, ((const struct blob *)b)->digest);
}

/* Sort and drop duplicates; one digest named with two sizes is an error. */
static int unique_blobs(struct walk *w, struct lade_error **err)
{
	if (w->n_blobs == 0)
		return 0;
	qsort(w->blobs, w->n_blobs, sizeof(*w->blobs), blob_cmp);
	size_t n = 1;
	for (size_t i = 1; i < w->n_blobs; i++) {
		struct blob *prev = &w->blobs[n - 1];
		if (strcmp(prev->digest, w->blobs[i].digest) == 0) {
			if (prev->size != w->blobs[i].size)
				return lade_error_set(err, 0,
				                      "blob %s is named with two sizes (%" PRIu64
				                      " and %" PRIu64 ")",
				                      prev->digest, prev->size, w->blobs[i].size);
			continue;
		}
		w->blobs[n++] = w->blobs[i];
	}
	w->n_blobs = n;
	return 0;
}

/* ---- image names (docker-archive) ---- */

struct image_name {
	char *full;     /* docker.io/library/hello */
	char *familiar; /* hello */
};

static void image_name_release(struct image_name *n)
{
	free(n->full);
	free(n->familiar);
}

static bool name_path_valid(const char *p)
{
	/* Docker's path components: [a-z0-9]+ joined by '.', '_', '__' or '-'+, '/' between. */
	if (*p == '\0')
		return false;
	char prev = '/';
	for (const char *c = p; *c; c++) {
		bool alnum = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
		if (alnum) {
			prev = 'a';
			continue;
		}
		if (strchr("._-/", *c) == NULL || prev != 'a')
			if (!(prev == '_' && *c == '_') && !(prev == '-' && *c == '-'))
				return false;
		prev = *c;
	}
	return prev == 'a';
}

static bool domain_valid(const char *d, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
		      (d[i] >= '0' && d[i] <= '9') || strchr(".-:", d[i])))
			return false;
	return true;
}

/* Normalise like Docker's reference.ParseNormalizedNamed: "hello" →
 * docker.io/library/hello (familiar "hello"); "me/app" → docker.io/me/app; a first component
 * with '.' or ':' or "localhost" is a registry and stays. */
static int image_name_parse(const char *name, struct image_name *out, struct lade_error **err)
{
	const char *slash = strchr(name, '/');
	const char *last = strrchr(name, '/');
	if (strchr(last ? last : name, ':') || strchr(name, '@'))
		return lade_error_set(err, 0,
		                      "image name '%s' must not contain a tag or digest (refs "
		                      "give the tags)",
		                      name);
	const char *path = name;
	_cleanup_free_ char *domain = NULL;
	if (slash) {
		size_t dlen = (size_t)(slash - name);
		if (memchr(name, '.', dlen) || memchr(name, ':', dlen) ||
		    (dlen == 9 && strncmp(name, "localhost", 9) == 0)) {
			if (!domain_valid(name, dlen))
				return lade_error_set(err, 0, "image name '%s': invalid registry",
				                      name);
			domain = xstrndup(name, dlen);
			path = slash + 1;
		}
	}
	if (!name_path_valid(path))
		return lade_error_set(err, 0,
		                      "image name '%s' is not a valid repository name (lowercase "
		                      "letters, digits and separators . _ - /)",
		                      name);
	if (domain && strcmp(domain, "docker.io") != 0) {
		out->full = xstrdup(name);
		out->familiar = xstrdup(name);
		return 0;
	}
	bool official = strchr(path, '/') == NULL;
	if (!official && strncmp(path, "library/", 8) == 0 && strchr(path + 8, '/') == NULL) {
		path += 8;
		official = true;
	}
	out->familiar = xstrdup(path);
	out->full = official ? xasprintf("docker.io/library/%s", path)
	                     : xasprintf("docker.io/%s", path);
	return 0;
}

/* ---- selection ---- */

static const char *ref_name_of(const json_t *desc)
{
	return json_string_value(
	        json_object_get(json_object_get(desc, "annotations"), LADE_REF_NAME));
}

static bool strv_has(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static int load_index(const char *dir, json_t **out, struct lade_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/index.json", dir);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, LADE_OCI_JSON_MAX, &b, err) < 0)
		return lade_error_prefix(err, "layout %s", dir);
	json_t *j;
	if (lade_oci_json_parse(b.data, b.len, path, &j, err) < 0)
		return -1;
	if (!json_is_array(json_object_get(j, "manifests"))) {
		json_decref(j);
		return lade_error_set(err, 0, "%s: not an OCI index (no manifests array)", path);
	}
	*out = j;
	return 0;
}

/* The chosen index.json entries (deep copies, layout order), every ref found. */
static int select_entries(const char *dir, const json_t *index, char *const *refs, json_t **out,
                          struct lade_error **err)
{
	_cleanup_(json_decrefp) json_t *sel = json_array();
	json_t *ms = json_object_get(index, "manifests");
	size_t i;
	json_t *m;
	json_array_foreach(ms, i, m)
	{
		const char *ref = ref_name_of(m);
		if (refs == NULL || (ref && strv_has(refs, ref)))
			json_array_append_new(sel, json_deep_copy(m));
	}
	for (char *const *r = refs; r && *r; r++) {
		bool found = false;
		json_array_foreach(sel, i, m)
		{
			const char *ref = ref_name_of(m);
			if (ref && strcmp(ref, *r) == 0)
				found = true;
		}
		if (!found)
			return lade_error_set(err, 0, "layout %s has no image tagged '%s'", dir,
			                      *r);
	}
	if (json_array_size(sel) == 0)
		return lade_error_set(err, 0, "layout %s has no images to archive", dir);
	*out = steal_pointer(&sel);
	return 0;
}

/* ---- the tar ---- */

enum member_kind { MEMBER_DIR, MEMBER_TEXT, MEMBER_BLOB };

struct member {
	char *name; /* without the trailing '/' of directories */
	enum member_kind kind;
	char *text;        /* MEMBER_TEXT, owned */
	struct blob *blob; /* MEMBER_BLOB, borrowed */
};

static int member_cmp(const void *a, const void *b)
{
	return lade_path_compare(((const struct member *)a)->name,
	                         ((const struct member *)b)->name);
}

struct tar_out {
	struct archive *a;
	const char *out_path;
	int64_t epoch;
};

static int archive_fail(struct tar_out *t, const char *what, struct lade_error **err)
{
	int e = archive_errno(t->a);
	return lade_error_set(err, 0, "cannot write %s: %s: %s", t->out_path, what,
	                      archive_error_string(t->a) ? archive_error_string(t->a)
	                                                 : (e > 0 ? strerror(e) : "error"));
}

static void archive_entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}

static int write_header(struct tar_out *t, const char *name, bool dir, uint64_t size,
                        struct lade_error **err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *ae = archive_entry_new();
	if (ae == NULL)
		return lade_error_set(err, ENOMEM, "cannot write %s", t->out_path);
	_cleanup_free_ char *path = dir ? xasprintf("%s/", name) : xstrdup(name);
	archive_entry_copy_pathname(ae, path);
	archive_entry_set_filetype(ae, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(ae, dir ? 0755 : 0644);
	archive_entry_set_size(ae, dir ? 0 : (la_int64_t)size);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	archive_entry_set_mtime(ae, t->epoch, 0);
	if (archive_write_header(t->a, ae) != ARCHIVE_OK)
		return archive_fail(t, path, err);
	return 0;
}

static int write_data(struct tar_out *t, const void *data, size_t len, const char *name,
                      struct lade_error **err)
{
	const char *p = data;
	while (len > 0) {
		la_ssize_t n = archive_write_data(t->a, p, len);
		if (n <= 0)
			return archive_fail(t, name, err);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copy one blob, hashing it on the way: what goes in the archive is what the descriptors
 * promise, even if the layout was damaged since it was written. */
static int write_blob(struct tar_out *t, const char *dir, const char *name, const struct blob *b,
                      struct lade_error **err)
{
	_cleanup_free_ char *path = lade_oci_blob_path(dir, b->digest);
	_cleanup_fd_ int fd = -1;
	if (lade_open_regular(path, 0, &fd, err) < 0)
		return lade_error_prefix(err, "blob %s", b->digest);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lade_error_set(err, errno, "blob %s: cannot stat %s", b->digest, path);
	if ((uint64_t)st.st_size != b->size)
		return lade_error_set(err, 0,
		                      "blob %s: %s is %jd bytes but the descriptor says %" PRIu64,
		                      b->digest, path, (intmax_t)st.st_size, b->size);
	if (write_header(t, name, false, b->size, err) < 0)
		return -1;
	_cleanup_free_ char *buf = xmalloc(COPY_CHUNK);
	_cleanup_(lade_sha256_freep) struct lade_sha256 *sha = lade_sha256_new();
	uint64_t left = b->size;
	while (left > 0) {
		size_t want = left < COPY_CHUNK ? (size_t)left : COPY_CHUNK;
		ssize_t n = lade_read_retry(fd, buf, want);
		if (n < 0)
			return lade_error_set(err, errno, "blob %s: cannot read %s", b->digest,
			                      path);
		if (n == 0)
			return lade_error_set(err, 0, "blob %s: %s shrank while being read",
			                      b->digest, path);
		lade_sha256_update(sha, buf, (size_t)n);
		if (write_data(t, buf, (size_t)n, name, err) < 0)
			return -1;
		left -= (uint64_t)n;
	}
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_final(sha, NULL, got);
	lade_sha256_free(steal_pointer(&sha));
	if (strcmp(got, b->digest) != 0)
		return lade_error_set(err, 0, "blob %s: digest mismatch (content of %s is %s)",
		                      b->digest, path, got);
	return 0;
}

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

struct tmp_file {
	char *path;
	int fd;
};

static void tmp_file_release(struct tmp_file *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->path)
		unlink(t->path);
	free(t->path);
}

static int write_tar(const char *dir, struct member *mem, size_t n_mem, int64_t epoch,
                     const char *out_path, struct lade_error **err)
{
	/* Split textually, not lexically: "link/../x" must land where the kernel puts it. */
	const char *slash = strrchr(out_path, '/');
	const char *base = slash ? slash + 1 : out_path;
	_cleanup_free_ char *parent = !slash ? xstrdup(".")
	                              : slash == out_path
	                                      ? xstrdup("/")
	                                      : xstrndup(out_path, (size_t)(slash - out_path));
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return lade_error_set(err, 0, "output %s is not a file name", out_path);
	_cleanup_(tmp_file_release) struct tmp_file tmp = {
	        .path = xasprintf("%s/.%s.tmp-XXXXXX", parent, base), .fd = -1};
	tmp.fd = mkostemp(tmp.path, O_CLOEXEC);
	if (tmp.fd < 0) {
		int e = errno;
		free(steal_pointer(&tmp.path));
		return lade_error_set(err, e, "cannot create a temp file for %s in %s", out_path,
		                      parent);
	}

	_cleanup_(archive_write_freep) struct archive *a = archive_write_new();
	if (a == NULL)
		return lade_error_set(err, ENOMEM, "cannot write %s", out_path);
	struct tar_out t = {.a = a, .out_path = out_path, .epoch = epoch};
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, tmp.fd) != ARCHIVE_OK)
		return archive_fail(&t, "cannot start the tar", err);

	for (size_t i = 0; i < n_mem; i++) {
		struct member *m = &mem[i];
		switch (m->kind) {
		case MEMBER_DIR:
			if (write_header(&t, m->name, true, 0, err) < 0)
				return -1;
			break;
		case MEMBER_TEXT: {
			size_t len = strlen(m->text);
			if (write_header(&t, m->name, false, len, err) < 0 ||
			    write_data(&t, m->text, len, m->name, err) < 0)
				return -1;
			break;
		}
		case MEMBER_BLOB:
			if (write_blob(&t, dir, m->name, m->blob, err) < 0)
				return -1;
			break;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		return archive_fail(&t, "cannot finish the tar", err);
	if (fchmod(tmp.fd, 0644) < 0)
		return lade_error_set(err, errno, "cannot chmod %s", tmp.path);
	if (fsync(tmp.fd) < 0)
		return lade_error_set(err, errno, "cannot fsync %s", tmp.path);
	if (close(lade_steal_fd(&tmp.fd)) < 0)
		return lade_error_set(err, errno, "cannot close %s", tmp.path);
	if (rename(tmp.path, out_path) < 0)
		return lade_error_set(err, errno, "cannot rename %s to %s", tmp.path, out_path);
	free(steal_pointer(&tmp.path));
	return lade_fsync_dir(parent, err);
}

static void members_free(struct member *mem, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(mem[i].name);
		free(mem[i].text);
	}
	free(mem);
}

/* docker-archive: tag the chosen index entries and build RepoTags / repositories. */
static int docker_annotate(json_t *sel, const char *image_name, struct walk *w,
                           json_t *repositories, struct lade_error **err)
{
	_cleanup_(image_name_release) struct image_name in = {0};
	if (image_name && image_name_parse(image_name, &in, err) < 0)
		return -1;
	bool named = image_name != NULL;
	size_t i;
	json_t *m;
	json_array_foreach(sel, i, m)
	{
		const char *ref = ref_name_of(m);
		_cleanup_(json_decrefp) json_t *tags = json_array();
		if (named && ref) {
			if (!lade_oci_tag_valid(ref))
				return lade_error_set(
				        err, 0,
				        "ref '%s' is not a valid Docker tag (letters, "
				        "digits, _ . -, at most 128, not starting with . "
				        "or -)",
				        ref);
			_cleanup_free_ char *full = xasprintf("%s:%s", in.full, ref);
			json_t *ann = json_object_get(m, "annotations");
			json_object_set_new(ann, CONTAINERD_NAME, json_string(full));
			json_array_append_new(tags, json_sprintf("%s:%s", in.familiar, ref));
		}
		_cleanup_free_ char *what = xasprintf("index.json: manifests[%zu]", i);
		free(steal_pointer(&w->tagged_config));
		if (walk_descriptor(w, m, what, 0, tags, err) < 0)
			return -1;
		if (w->tagged_config) {
			json_t *repo = json_object_get(repositories, in.familiar);
			if (repo == NULL) {
				repo = json_object();
				json_object_set_new(repositories, in.familiar, repo);
			}
			json_object_set_new(repo, ref, json_string(w->tagged_config));
		}
	}
	return 0;
}

int lade_archive_write(const char *layout_dir, char *const *refs, enum lade_archive_format fmt,
                       const char *image_name, int64_t epoch, const char *out_path,
                       struct lade_error **err)
{
	if (fmt != LADE_ARCHIVE_OCI && fmt != LADE_ARCHIVE_DOCKER)
		return lade_error_set(err, 0, "unknown archive format %d", (int)fmt);
	_cleanup_(json_decrefp) json_t *index = NULL;
	if (load_index(layout_dir, &index, err) < 0)
		return -1;
	_cleanup_(json_decrefp) json_t *sel = NULL;
	if (select_entries(layout_dir, index, refs, &sel, err) < 0)
		return -1;

	_cleanup_(walk_release) struct walk w = {.dir = layout_dir, .fmt = fmt};
	w.docker_manifests = json_array();
	_cleanup_(json_decrefp) json_t *repositories = json_object();
	if (fmt == LADE_ARCHIVE_DOCKER) {
		if (docker_annotate(sel, image_name, &w, repositories, err) < 0)
			return -1;
	} else {
		size_t i;
		json_t *m;
		json_array_foreach(sel, i, m)
		{
			_cleanup_free_ char *what = xasprintf("index.json: manifests[%zu]", i);
			if (walk_descriptor(&w, m, what, 0, NULL, err) < 0)
				return -1;
		}
	}
	if (unique_blobs(&w, err) < 0)
		return -1;

	_cleanup_(json_decrefp) json_t *out_index = json_object();
	json_object_set_new(out_index, "schemaVersion", json_integer(2));
	json_object_set_new(out_index, "mediaType", json_string(LADE_MT_OCI_INDEX));
	json_object_set(out_index, "manifests", sel);

	size_t n_mem = 0, cap = w.n_blobs + 8;
	struct member *mem = xcalloc(cap, sizeof(*mem));
	mem[n_mem++] = (struct member){.name = xstrdup("blobs"), .kind = MEMBER_DIR};
	mem[n_mem++] = (struct member){.name = xstrdup("blobs/sha256"), .kind = MEMBER_DIR};
	mem[n_mem++] = (struct member){.name = xstrdup("oci-layout"),
	                               .kind = MEMBER_TEXT,
	                               .text = xstrdup("{\"imageLayoutVersion\":\"1.0.0\"}")};
	mem[n_mem++] = (struct member){.name = xstrdup("index.json"),
	                               .kind = MEMBER_TEXT,
	                               .text = lade_json_dump(out_index)};
	if (fmt == LADE_ARCHIVE_DOCKER) {
		mem[n_mem++] = (struct member){.name = xstrdup("manifest.json"),
		                               .kind = MEMBER_TEXT,
		                               .text = lade_json_dump(w.docker_manifests)};
		mem[n_mem++] = (struct member){.name = xstrdup("repositories"),
		                               .kind = MEMBER_TEXT,
		                               .text = lade_json_dump(repositories)};
	}
	for (size_t i = 0; i < w.n_blobs; i++) {
		char buf[128];
		mem[n_mem++] = (struct member){.name = xstrdup(layer_name(w.blobs[i].digest, buf)),
		                               .kind = MEMBER_BLOB,
		                               .blob = &w.blobs[i]};
	}
	qsort(mem, n_mem, sizeof(*mem), member_cmp);
	int r = write_tar(layout_dir, mem, n_mem, epoch, out_path, err);
	members_free(mem, n_mem);
	return r;
}
