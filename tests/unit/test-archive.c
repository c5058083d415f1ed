/* Tests for lade_archive_write(): a small OCI layout is built here with the store and image
 * APIs (two tagged images sharing a layer, a two-platform index, an untagged artifact and a
 * stray blob), archived as oci-archive and docker-archive, and the tars are read back with
 * libarchive: entry list and headers, index.json, manifest.json, repositories, byte
 * identity of two writes, and every error path. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/archive.h"
#include "lade/digest.h"
#include "lade/image.h"
#include "lade/store.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

#define MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_MANIFEST   "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX      "application/vnd.oci.image.index.v1+json"
#define EPOCH         1700000000

struct image {
	char manifest[LADE_DIGEST_STRLEN];
	uint64_t manifest_size;
	char config[LADE_DIGEST_STRLEN];
};

struct fx {
	char *dir;
	char layer[3][LADE_DIGEST_STRLEN]; /* A, B, C */
	uint64_t layer_size[3];
	char stray[LADE_DIGEST_STRLEN];
	struct image img[2]; /* "1.0": A B; "2.0": A C */
	char multi[LADE_DIGEST_STRLEN];
	uint64_t multi_size;
	char artifact[LADE_DIGEST_STRLEN];
	uint64_t artifact_size;
	char empty[LADE_DIGEST_STRLEN];
};

static void put(struct lade_store *s, const char *text, char digest[LADE_DIGEST_STRLEN])
{
	struct lade_error *err = NULL;
	if (lade_store_put(s, text, strlen(text), digest, &err) < 0) {
		printf("Bail out! store put: %s\n", err->msg);
		exit(1);
	}
}

static void make_image(struct lade_store *s, struct fx *fx, int idx, int second_layer)
{
	struct lade_error *err = NULL;
	json_t *config = json_pack("{s:s,s:s,s:{s:s,s:[s,s]}}", "architecture", "amd64", "os",
	                           "linux", "rootfs", "type", "layers", "diff_ids", fx->layer[0],
	                           fx->layer[second_layer]);
	struct lade_manifest_layer ml[2] = {
	        {MT_LAYER_GZIP, fx->layer[0], fx->layer_size[0], NULL, false},
	        {MT_LAYER_GZIP, fx->layer[second_layer], fx->layer_size[second_layer], NULL, false},
	};
	_cleanup_free_ char *text = lade_json_dump(config);
	lade_sha256_buf(text, strlen(text), fx->img[idx].config);
	if (lade_image_write(s, config, ml, 2, NULL, fx->img[idx].manifest,
	                     &fx->img[idx].manifest_size, &err) < 0) {
		printf("Bail out! image write: %s\n", err->msg);
		exit(1);
	}
	json_decref(config);
}

static void make_layout(struct fx *fx, const char *dir)
{
	struct lade_error *err = NULL;
	struct lade_store *s = NULL;
	fx->dir = xstrdup(dir);
	if (lade_store_open(dir, 0, &s, &err) < 0) {
		printf("Bail out! store open: %s\n", err->msg);
		exit(1);
	}
	const char *contents[3] = {"layer A bytes", "layer B bytes, longer", "layer C"};
	for (int i = 0; i < 3; i++) {
		put(s, contents[i], fx->layer[i]);
		fx->layer_size[i] = strlen(contents[i]);
	}
	put(s, "not referenced by anything", fx->stray);
	make_image(s, fx, 0, 1);
	make_image(s, fx, 1, 2);

	_cleanup_free_ char *multi = xasprintf(
	        "{\"manifests\":[{\"digest\":\"%s\",\"mediaType\":\"%s\",\"platform\":{"
	        "\"architecture\":\"amd64\",\"os\":\"linux\"},\"size\":%llu},{\"digest\":\"%s\","
	        "\"mediaType\":\"%s\",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"},"
	        "\"size\":%llu}],\"mediaType\":\"%s\",\"schemaVersion\":2}",
	        fx->img[0].manifest, MT_MANIFEST, (unsigned long long)fx->img[0].manifest_size,
	        fx->img[1].manifest, MT_MANIFEST, (unsigned long long)fx->img[1].manifest_size,
	        MT_INDEX);
	put(s, multi, fx->multi);
	fx->multi_size = strlen(multi);

	/* An SBOM-like artifact: not an image, so not in manifest.json. */
	put(s, "{}", fx->empty);
	_cleanup_free_ char *art = xasprintf(
	        "{\"artifactType\":\"application/spdx+json\",\"config\":{\"digest\":\"%s\","
	        "\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"size\":2},\"layers\":[{"
	        "\"digest\":\"%s\",\"mediaType\":\"application/spdx+json\",\"size\":%llu}],"
	        "\"mediaType\":\"%s\",\"schemaVersion\":2}",
	        fx->empty, fx->layer[2], (unsigned long long)fx->layer_size[2], MT_MANIFEST);
	put(s, art, fx->artifact);
	fx->artifact_size = strlen(art);

	struct lade_index_entry entries[4] = {
	        {MT_MANIFEST, fx->img[0].manifest, fx->img[0].manifest_size, "1.0", NULL},
	        {MT_MANIFEST, fx->img[1].manifest, fx->img[1].manifest_size, "2.0", NULL},
	        {MT_INDEX, fx->multi, fx->multi_size, "multi", NULL},
	        {MT_MANIFEST, fx->artifact, fx->artifact_size, NULL, NULL},
	};
	if (lade_layout_update_index(s, entries, 4, &err) < 0) {
		printf("Bail out! index: %s\n", err->msg);
		exit(1);
	}
	lade_store_free(s);
}

/* ---- reading archives back ---- */

struct member {
	char *name;
	mode_t type, perm;
	int64_t uid, gid, mtime;
	bool names_empty; /* uname and gname */
	char *data;
	size_t len;
};

struct tar {
	struct member m[32];
	size_t n;
	bool ok;
};

static void tar_free(struct tar *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->m[i].name);
		free(t->m[i].data);
	}
}

static void read_tar(const char *path, struct tar *t)
{
	memset(t, 0, sizeof(*t));
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 10240) != ARCHIVE_OK) {
		archive_read_free(a);
		return;
	}
	struct archive_entry *ae;
	int r;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK && t->n < 32) {
		struct member *m = &t->m[t->n++];
		m->name = xstrdup(archive_entry_pathname(ae));
		m->type = archive_entry_filetype(ae);
		m->perm = archive_entry_perm(ae);
		m->uid = archive_entry_uid(ae);
		m->gid = archive_entry_gid(ae);
		m->mtime = archive_entry_mtime(ae);
		const char *un = archive_entry_uname(ae), *gn = archive_entry_gname(ae);
		m->names_empty = (un == NULL || un[0] == '\0') && (gn == NULL || gn[0] == '\0');
		m->len = (size_t)archive_entry_size(ae);
		m->data = xmalloc(m->len + 1);
		if (archive_read_data(a, m->data, m->len) != (la_ssize_t)m->len)
			break;
		m->data[m->len] = '\0';
	}
	t->ok = r == ARCHIVE_EOF;
	archive_read_free(a);
}

static const char *member_text(const struct tar *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->m[i].name, name) == 0)
			return t->m[i].data;
	return NULL;
}

static char *blob_name(const char *digest)
{
	return xasprintf("blobs/sha256/%s", lade_digest_hex(digest));
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a,b,c": the member names in archive order. */
static char *names_of(const struct tar *t)
{
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; i < t->n; i++)
		lade_buf_addf(&b, "%s%s", i ? "," : "", t->m[i].name);
	return lade_buf_detach(&b, NULL);
}

/* The names an archive of these blobs must have, in order. */
static char *expected_names(const char **digests, size_t n, bool docker)
{
	char *sorted[16];
	for (size_t i = 0; i < n; i++)
		sorted[i] = blob_name(digests[i]);
	qsort(sorted, n, sizeof(*sorted), strcmp_p);
	struct lade_buf b = LADE_BUF_INIT;
	lade_buf_adds(&b, "blobs/,blobs/sha256/");
	for (size_t i = 0; i < n; i++) {
		lade_buf_addf(&b, ",%s", sorted[i]);
		free(sorted[i]);
	}
	lade_buf_adds(&b, docker ? ",index.json,manifest.json,oci-layout,repositories"
	                         : ",index.json,oci-layout");
	return lade_buf_detach(&b, NULL);
}

static bool files_equal(const char *a, const char *b)
{
	struct lade_buf x = LADE_BUF_INIT, y = LADE_BUF_INIT;
	bool eq = lade_read_file(a, 1u << 30, &x, NULL) == 0 &&
	          lade_read_file(b, 1u << 30, &y, NULL) == 0 && x.len == y.len &&
	          memcmp(x.data, y.data, x.len) == 0;
	lade_buf_release(&x);
	lade_buf_release(&y);
	return eq;
}

/* Number of directory entries other than . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void test_format_parse(void)
{
	enum lade_archive_format f = LADE_ARCHIVE_DOCKER;
	struct lade_error *err = NULL;
	ok(lade_archive_format_parse("oci-archive", &f, &err) == 0 && f == LADE_ARCHIVE_OCI,
	   "oci-archive parses");
	ok(lade_archive_format_parse("docker-archive", &f, &err) == 0 && f == LADE_ARCHIVE_DOCKER,
	   "docker-archive parses");
	ok(lade_archive_format_parse("tar", &f, &err) < 0, "an unknown format fails");
	is_str(err ? err->msg : NULL,
	       "unknown archive format 'tar' (expected oci-archive or docker-archive)",
	       "the error names the format");
	lade_error_free(err);
}

static void test_oci(const struct fx *fx, const char *tmp)
{
	struct lade_error *err = NULL;
	_cleanup_free_ char *out = xasprintf("%s/oci.tar", tmp);
	char *refs[] = {"1.0", NULL};
	ok(lade_archive_write(fx->dir, refs, LADE_ARCHIVE_OCI, NULL, EPOCH, out, &err) == 0,
	   "oci-archive of ref 1.0 is written%s%s", err ? ": " : "", err ? err->msg : "");
	lade_error_free(steal_pointer(&err));

	struct tar t;
	read_tar(out, &t);
	ok(t.ok, "the oci-archive reads back as a tar");
	const char *blobs[] = {fx->img[0].manifest, fx->img[0].config, fx->layer[0], fx->layer[1]};
	_cleanup_free_ char *want = expected_names(blobs, 4, false);
	_cleanup_free_ char *got = names_of(&t);
	is_str(got, want,
	       "entries: directories, the reachable blobs sorted, index.json, oci-layout (no "
	       "stray blob, no other image's layer)");
	bool headers = true;
	for (size_t i = 0; i < t.n; i++) {
		const struct member *m = &t.m[i];
		bool dir = m->type == AE_IFDIR;
		if (m->perm != (dir ? 0755u : 0644u) || m->uid != 0 || m->gid != 0 ||
		    m->mtime != EPOCH || !m->names_empty || (!dir && m->type != AE_IFREG)) {
			headers = false;
			printf("# bad header: %s perm %o uid %lld mtime %lld\n", m->name,
			       (unsigned)m->perm, (long long)m->uid, (long long)m->mtime);
		}
	}
	ok(headers, "every header: mode 0644/0755, 0:0, empty owner names, mtime = epoch");
	is_str(member_text(&t, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}",
	       "oci-layout content");
	_cleanup_free_ char *index = xasprintf(
	        "{\"manifests\":[{\"annotations\":{\"org.opencontainers.image.ref.name\":\"1.0\"},"
	        "\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%llu}],\"mediaType\":\"%s\","
	        "\"schemaVersion\":2}",
	        fx->img[0].manifest, MT_MANIFEST, (unsigned long long)fx->img[0].manifest_size,
	        MT_INDEX);
	is_str(member_text(&t, "index.json"), index, "index.json holds only the chosen ref");
	_cleanup_free_ char *lname = blob_name(fx->layer[1]);
	is_str(member_text(&t, lname), "layer B bytes, longer", "a blob's content is copied");
	tar_free(&t);

	/* Same bytes from another directory, umask and locale. */
	_cleanup_free_ char *sub = xasprintf("%s/again", tmp);
	mkdir(sub, 0700);
	_cleanup_free_ char *out2 = xasprintf("%s/again/other-name.tar", tmp);
	mode_t old = umask(077);
	setenv("LC_ALL", "C.UTF-8", 1);
	ok(lade_archive_write(fx->dir, refs, LADE_ARCHIVE_OCI, NULL, EPOCH, out2, &err) == 0,
	   "second oci-archive written");
	umask(old);
	unsetenv("LC_ALL");
	ok(files_equal(out, out2), "two oci-archives of the same layout are byte-identical");
	struct stat st;
	ok(stat(out2, &st) == 0 && (st.st_mode & 07777) == 0644, "the archive file is 0644");
	is_str(count_entries(sub) == 1 ? "1" : "other", "1", "no temp file is left beside it");

	/* Over an existing file, with a different epoch: replaced, and the epoch shows. */
	ok(lade_archive_write(fx->dir, refs, LADE_ARCHIVE_OCI, NULL, 0, out2, &err) == 0,
	   "an existing output is replaced");
	ok(!files_equal(out, out2), "a different epoch gives different bytes");
	read_tar(out2, &t);
	ok(t.ok && t.n > 0 && t.m[0].mtime == 0, "the new archive has the new epoch");
	tar_free(&t);

	/* All refs: every index.json entry and everything they reach; the stray blob still not. */
	ok(lade_archive_write(fx->dir, NULL, LADE_ARCHIVE_OCI, NULL, EPOCH, out, &err) == 0,
	   "oci-archive of all refs");
	read_tar(out, &t);
	const char *all[] = {
	        fx->img[0].manifest, fx->img[0].config, fx->img[1].manifest, fx->img[1].config,
	        fx->layer[0],        fx->layer[1],      fx->layer[2],        fx->multi,
	        fx->artifact,        fx->empty};
	free(want);
	free(got);
	want = expected_names(all, LADE_ARRAY_SIZE(all), false);
	got = names_of(&t);
	is_str(got, want, "all refs: each shared blob once, nested index and artifact followed");
	json_t *j = json_loads(member_text(&t, "index.json") ?: "", 0, NULL);
	ok(json_array_size(json_object_get(j, "manifests")) == 4,
	   "all refs: index.json has the 4 entries");
	json_decref(j);
	tar_free(&t);
}

static void test_docker(const struct fx *fx, const char *tmp)
{
	struct lade_error *err = NULL;
	_cleanup_free_ char *out = xasprintf("%s/docker.tar", tmp);
	char *refs[] = {"2.0", "1.0", NULL};
	ok(lade_archive_write(fx->dir, refs, LADE_ARCHIVE_DOCKER, "hello", EPOCH, out, &err) == 0,
	   "docker-archive written%s%s", err ? ": " : "", err ? err->msg : "");
	lade_error_free(steal_pointer(&err));
	struct tar t;
	read_tar(out, &t);
	ok(t.ok, "the docker-archive reads back as a tar");
	const char *blobs[] = {fx->img[0].manifest, fx->img[0].config, fx->img[1].manifest,
	                       fx->img[1].config,   fx->layer[0],      fx->layer[1],
	                       fx->layer[2]};
	_cleanup_free_ char *want = expected_names(blobs, LADE_ARRAY_SIZE(blobs), true);
	_cleanup_free_ char *got = names_of(&t);
	is_str(got, want,
	       "docker-archive entries: the OCI layout plus manifest.json, repositories");

	const char *h = lade_digest_hex(fx->img[0].config),
	           *h2 = lade_digest_hex(fx->img[1].config);
	const char *a = lade_digest_hex(fx->layer[0]), *b = lade_digest_hex(fx->layer[1]),
	           *c = lade_digest_hex(fx->layer[2]);
	_cleanup_free_ char *manifest = xasprintf(
	        "[{\"Config\":\"blobs/sha256/%s\",\"Layers\":[\"blobs/sha256/%s\",\"blobs/sha256/"
	        "%s\"],\"RepoTags\":[\"hello:1.0\"]},{\"Config\":\"blobs/sha256/%s\",\"Layers\":["
	        "\"blobs/sha256/%s\",\"blobs/sha256/%s\"],\"RepoTags\":[\"hello:2.0\"]}]",
	        h, a, b, h2, a, c);
	is_str(member_text(&t, "manifest.json"), manifest,
	       "manifest.json: Config, Layers (the blobs as they are), RepoTags, layout order");
	_cleanup_free_ char *repos =
	        xasprintf("{\"hello\":{\"1.0\":\"%s\",\"2.0\":\"%s\"}}", h, h2);
	is_str(member_text(&t, "repositories"), repos, "repositories maps tags to config ids");
	_cleanup_free_ char *index = xasprintf(
	        "{\"manifests\":[{\"annotations\":{\"io.containerd.image.name\":\"docker.io/"
	        "library/hello:1.0\",\"org.opencontainers.image.ref.name\":\"1.0\"},\"digest\":"
	        "\"%s\",\"mediaType\":\"%s\",\"size\":%llu},{\"annotations\":{\"io.containerd."
	        "image.name\":\"docker.io/library/hello:2.0\",\"org.opencontainers.image.ref."
	        "name\":\"2.0\"},\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%llu}],"
	        "\"mediaType\":\"%s\",\"schemaVersion\":2}",
	        fx->img[0].manifest, MT_MANIFEST, (unsigned long long)fx->img[0].manifest_size,
	        fx->img[1].manifest, MT_MANIFEST, (unsigned long long)fx->img[1].manifest_size,
	        MT_INDEX);
	is_str(member_text(&t, "index.json"), index,
	       "index.json entries annotated with io.containerd.image.name and the tag");
	tar_free(&t);

	_cleanup_free_ char *out2 = xasprintf("%s/docker2.tar", tmp);
	ok(lade_archive_write(fx->dir, refs, LADE_ARCHIVE_DOCKER, "hello", EPOCH, out2, &err) ==
	                   0 &&
	           files_equal(out, out2),
	   "two docker-archives are byte-identical");

	/* Image names as Docker normalises them. */
	static const struct {
		const char *name, *full, *tag;
	} names[] = {
	        {"me/app", "docker.io/me/app:1.0", "me/app:1.0"},
	        {"docker.io/library/app", "docker.io/library/app:1.0", "app:1.0"},
	        {"localhost:5000/a/b", "localhost:5000/a/b:1.0", "localhost:5000/a/b:1.0"},
	        {"quay.io/x_y/z-w", "quay.io/x_y/z-w:1.0", "quay.io/x_y/z-w:1.0"},
	};
	char *one[] = {"1.0", NULL};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(names); i++) {
		ok(lade_archive_write(fx->dir, one, LADE_ARCHIVE_DOCKER, names[i].name, EPOCH, out,
		                      &err) == 0,
		   "docker-archive named %s", names[i].name);
		lade_error_free(steal_pointer(&err));
		read_tar(out, &t);
		json_t *idx = json_loads(member_text(&t, "index.json") ?: "", 0, NULL);
		json_t *mj = json_loads(member_text(&t, "manifest.json") ?: "", 0, NULL);
		is_str(json_string_value(json_object_get(
		               json_object_get(json_array_get(json_object_get(idx, "manifests"), 0),
		                               "annotations"),
		               "io.containerd.image.name")),
		       names[i].full, "%s: io.containerd.image.name", names[i].name);
		is_str(json_string_value(json_array_get(
		               json_object_get(json_array_get(mj, 0), "RepoTags"), 0)),
		       names[i].tag, "%s: RepoTags", names[i].name);
		json_decref(idx);
		json_decref(mj);
		tar_free(&t);
	}

	/* Everything, without a name: untagged images, the artifact left out of manifest.json,
	 * both manifests of the two-platform index listed. */
	ok(lade_archive_write(fx->dir, NULL, LADE_ARCHIVE_DOCKER, NULL, EPOCH, out, &err) == 0,
	   "docker-archive of all refs without a name");
	read_tar(out, &t);
	_cleanup_free_ char *untagged = xasprintf(
	        "[{\"Config\":\"blobs/sha256/%s\",\"Layers\":[\"blobs/sha256/%s\",\"blobs/sha256/"
	        "%s\"],\"RepoTags\":[]},{\"Config\":\"blobs/sha256/%s\",\"Layers\":[\"blobs/"
	        "sha256/%s\",\"blobs/sha256/%s\"],\"RepoTags\":[]}]",
	        h, a, b, h2, a, c);
	is_str(member_text(&t, "manifest.json"), untagged,
	       "no name: RepoTags empty, one entry per image (the index's manifests are the same), "
	       "artifact not listed");
	is_str(member_text(&t, "repositories"), "{}", "no name: repositories is empty");
	ok(member_text(&t, "index.json") &&
	           strstr(member_text(&t, "index.json"), "io.containerd.image.name") == NULL,
	   "no name: no io.containerd.image.name annotation");
	tar_free(&t);

	/* Two tags of one image (1.0 and the index's first platform): one entry, both tags. */
	char *both[] = {"multi", "1.0", NULL};
	ok(lade_archive_write(fx->dir, both, LADE_ARCHIVE_DOCKER, "hello", EPOCH, out, &err) == 0,
	   "docker-archive of two tags of one image");
	read_tar(out, &t);
	_cleanup_free_ char *merged = xasprintf(
	        "[{\"Config\":\"blobs/sha256/%s\",\"Layers\":[\"blobs/sha256/%s\",\"blobs/sha256/"
	        "%s\"],\"RepoTags\":[\"hello:1.0\",\"hello:multi\"]},{\"Config\":\"blobs/sha256/"
	        "%s\",\"Layers\":[\"blobs/sha256/%s\",\"blobs/sha256/%s\"],\"RepoTags\":[]}]",
	        h, a, b, h2, a, c);
	is_str(member_text(&t, "manifest.json"), merged,
	       "one manifest.json entry carries both tags of the same image");
	_cleanup_free_ char *brepos =
	        xasprintf("{\"hello\":{\"1.0\":\"%s\",\"multi\":\"%s\"}}", h, h);
	is_str(member_text(&t, "repositories"), brepos, "repositories lists both tags");
	tar_free(&t);

	/* The two-platform index by its tag: only its first manifest carries the tag. */
	char *multi[] = {"multi", NULL};
	ok(lade_archive_write(fx->dir, multi, LADE_ARCHIVE_DOCKER, "hello", EPOCH, out, &err) == 0,
	   "docker-archive of a two-platform index");
	read_tar(out, &t);
	json_t *mj = json_loads(member_text(&t, "manifest.json") ?: "", 0, NULL);
	ok(json_array_size(mj) == 2, "one manifest.json entry per platform");
	is_str(json_string_value(
	               json_array_get(json_object_get(json_array_get(mj, 0), "RepoTags"), 0)),
	       "hello:multi", "the first platform is tagged");
	ok(json_array_size(json_object_get(json_array_get(mj, 1), "RepoTags")) == 0,
	   "the second platform is not");
	json_decref(mj);
	_cleanup_free_ char *mrepos = xasprintf("{\"hello\":{\"multi\":\"%s\"}}", h);
	is_str(member_text(&t, "repositories"), mrepos,
	       "repositories names the first platform's config");
	tar_free(&t);
}

/* Expect lade_archive_write to fail with exactly msg and to leave tmp/out untouched. */
static void expect_fail(const char *dir, char **refs, enum lade_archive_format fmt,
                        const char *name, const char *out_dir, const char *msg, const char *desc)
{
	struct lade_error *err = NULL;
	_cleanup_free_ char *out = xasprintf("%s/fail.tar", out_dir);
	int before = count_entries(out_dir);
	ok(lade_archive_write(dir, refs, fmt, name, EPOCH, out, &err) < 0, "%s fails", desc);
	is_str(err ? err->msg : NULL, msg, "%s: message", desc);
	ok(count_entries(out_dir) == before, "%s: nothing left in the output directory", desc);
	lade_error_free(err);
}

static void test_errors(const char *tmp)
{
	_cleanup_free_ char *ldir = xasprintf("%s/bad-layout", tmp);
	_cleanup_free_ char *odir = xasprintf("%s/out", tmp);
	mkdir(odir, 0755);
	struct fx fx = {0};
	make_layout(&fx, ldir);
	char *one[] = {"1.0", NULL};
	char *two[] = {"2.0", NULL};

	char *missing[] = {"1.0", "nope", NULL};
	_cleanup_free_ char *m1 = xasprintf("layout %s has no image tagged 'nope'", ldir);
	expect_fail(ldir, missing, LADE_ARCHIVE_OCI, NULL, odir, m1, "a missing ref");

	expect_fail(ldir, one, LADE_ARCHIVE_DOCKER, "Hello", odir,
	            "image name 'Hello' is not a valid repository name (lowercase letters, digits "
	            "and separators . _ - /)",
	            "an uppercase image name");
	expect_fail(ldir, one, LADE_ARCHIVE_DOCKER, "hello:2", odir,
	            "image name 'hello:2' must not contain a tag or digest (refs give the tags)",
	            "an image name with a tag");
	expect_fail(ldir, one, LADE_ARCHIVE_DOCKER, "a//b", odir,
	            "image name 'a//b' is not a valid repository name (lowercase letters, digits "
	            "and separators . _ - /)",
	            "an empty name component");

	_cleanup_free_ char *nodir = xasprintf("%s/none", tmp);
	_cleanup_free_ char *m2 = xasprintf("layout %s: cannot open %s/index.json: No such file or "
	                                    "directory",
	                                    nodir, nodir);
	expect_fail(nodir, one, LADE_ARCHIVE_OCI, NULL, odir, m2, "a missing layout");

	struct lade_error *err = NULL;
	_cleanup_free_ char *far = xasprintf("%s/no/such/dir/x.tar", tmp);
	ok(lade_archive_write(ldir, one, LADE_ARCHIVE_OCI, NULL, EPOCH, far, &err) < 0,
	   "an output in a missing directory fails");
	_cleanup_free_ char *m3 = xasprintf("cannot create a temp file for %s in %s/no/such/dir: "
	                                    "No such file or directory",
	                                    far, tmp);
	is_str(err ? err->msg : NULL, m3, "the error names the output");
	lade_error_free(steal_pointer(&err));

	/* Tampered layer B (same size): caught while copying. Image 2.0 does not use it. */
	_cleanup_free_ char *bpath =
	        xasprintf("%s/blobs/sha256/%s", ldir, lade_digest_hex(fx.layer[1]));
	char bad_digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf("LAYER B bytes, longer", 21, bad_digest);
	unlink(bpath); /* the store may hard-link; never write through to another file */
	lade_write_file_atomic(bpath, "LAYER B bytes, longer", 21, NULL);
	_cleanup_free_ char *m4 = xasprintf("blob %s: digest mismatch (content of %s is %s)",
	                                    fx.layer[1], bpath, bad_digest);
	expect_fail(ldir, one, LADE_ARCHIVE_OCI, NULL, odir, m4, "a tampered layer");
	_cleanup_free_ char *okout = xasprintf("%s/ok.tar", odir);
	ok(lade_archive_write(ldir, two, LADE_ARCHIVE_OCI, NULL, EPOCH, okout, &err) == 0,
	   "an image not using the tampered blob is still archived");
	unlink(okout);

	/* Truncated and missing blobs. */
	lade_write_file_atomic(bpath, "short", 5, NULL);
	_cleanup_free_ char *m5 =
	        xasprintf("blob %s: %s is 5 bytes but the descriptor says 21", fx.layer[1], bpath);
	expect_fail(ldir, one, LADE_ARCHIVE_OCI, NULL, odir, m5, "a truncated layer");
	unlink(bpath);
	_cleanup_free_ char *m6 =
	        xasprintf("blob %s: cannot open %s: No such file or directory", fx.layer[1], bpath);
	expect_fail(ldir, one, LADE_ARCHIVE_OCI, NULL, odir, m6, "a missing layer");

	/* A tampered manifest is caught before it is parsed. */
	_cleanup_free_ char *mpath =
	        xasprintf("%s/blobs/sha256/%s", ldir, lade_digest_hex(fx.img[1].manifest));
	unlink(mpath);
	lade_write_file_atomic(mpath, "{}", 2, NULL);
	_cleanup_free_ char *m7 =
	        xasprintf("blob %s: size 2 but the descriptor says %llu", fx.img[1].manifest,
	                  (unsigned long long)fx.img[1].manifest_size);
	expect_fail(ldir, two, LADE_ARCHIVE_OCI, NULL, odir, m7, "a damaged manifest");

	/* Docker tags are stricter than OCI ref names. */
	_cleanup_free_ char *tdir = xasprintf("%s/tag-layout", tmp);
	struct lade_store *s = NULL;
	struct fx fx2 = {0};
	make_layout(&fx2, tdir);
	if (lade_store_open(tdir, 0, &s, &err) == 0) {
		struct lade_index_entry e = {MT_MANIFEST, fx2.img[0].manifest,
		                             fx2.img[0].manifest_size, "-odd+tag", NULL};
		lade_layout_update_index(s, &e, 1, &err);
		lade_store_free(s);
	}
	char *odd[] = {"-odd+tag", NULL};
	expect_fail(tdir, odd, LADE_ARCHIVE_DOCKER, "hello", odir,
	            "ref '-odd+tag' is not a valid Docker tag (letters, digits, _ . -, at most "
	            "128, not starting with . or -)",
	            "a ref that is not a Docker tag");
	ok(lade_archive_write(tdir, odd, LADE_ARCHIVE_OCI, NULL, EPOCH, okout, &err) == 0,
	   "the same ref is fine in an oci-archive");
	unlink(okout);

	/* A broken index.json. */
	_cleanup_free_ char *ipath = xasprintf("%s/index.json", tdir);
	lade_write_file_atomic(ipath, "{\"manifests\":{}}", 16, NULL);
	_cleanup_free_ char *m8 = xasprintf("%s: not an OCI index (no manifests array)", ipath);
	expect_fail(tdir, NULL, LADE_ARCHIVE_OCI, NULL, odir, m8,
	            "an index.json without manifests");
	lade_write_file_atomic(ipath, "{\"manifests\":[]}", 16, NULL);
	_cleanup_free_ char *m9 = xasprintf("layout %s has no images to archive", tdir);
	expect_fail(tdir, NULL, LADE_ARCHIVE_OCI, NULL, odir, m9, "an empty layout");
	lade_write_file_atomic(ipath, "{\"manifests\":[{\"digest\":\"sha256:12\"}]}", 38, NULL);
	expect_fail(tdir, NULL, LADE_ARCHIVE_OCI, NULL, odir,
	            "index.json: manifests[0]: mediaType is missing or not a string",
	            "a descriptor without mediaType");

	free(fx.dir);
	free(fx2.dir);
}

int main(void)
{
	_cleanup_free_ char *tmp = make_tmpdir("test-archive");
	_cleanup_free_ char *layout = xasprintf("%s/layout", tmp);
	struct fx fx = {0};
	make_layout(&fx, layout);

	test_format_parse();
	test_oci(&fx, tmp);
	test_docker(&fx, tmp);
	test_errors(tmp);

	free(fx.dir);
	rm_rf(tmp);
	return tap_done();
}
