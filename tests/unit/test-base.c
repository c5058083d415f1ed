/* Tests for manifest/base.c: OCI layouts (tags, nested indexes, verification, hostile
 * digests and entries) and docker-archives, built as fixtures here with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "lade/base.h"
#include "lade/digest.h"
#include "lade/image.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

#define MT_MANIFEST  "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX     "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG    "application/vnd.oci.image.config.v1+json"
#define MT_TAR       "application/vnd.oci.image.layer.v1.tar"
#define MT_TAR_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_GZ "application/vnd.docker.image.rootfs.diff.tar.gzip"

static char *tmp;
static int fixture_n;

/* ---- OCI layout fixtures ---- */

static json_t *desc(const char *mt, const char *digest, size_t size)
{
	json_t *d = json_object();
	json_object_set_new(d, "mediaType", json_string(mt));
	json_object_set_new(d, "digest", json_string(digest));
	json_object_set_new(d, "size", json_integer((json_int_t)size));
	return d;
}

static json_t *put_json(const char *dir, const char *mt, json_t *j)
{
	_cleanup_free_ char *s = lade_json_dump(j);
	char d[LADE_DIGEST_STRLEN];
	put_blob(dir, s, strlen(s), d);
	json_decref(j);
	return desc(mt, d, strlen(s));
}

struct lfix {
	const struct tar_ent *ents;
	size_t n;
	bool gzip;
	const char *media_type; /* NULL: by gzip */
};

struct mopts {
	const char *arch;
	const char *bad_diff_id; /* replaces the last diff_id */
	bool extra_diff_id;
};

/* Layers + config + manifest in dir; returns the manifest descriptor. */
static json_t *make_image(const char *dir, const struct lfix *layers, size_t n,
                          const struct mopts *o)
{
	json_t *ldescs = json_array();
	json_t *diff_ids = json_array();
	for (size_t i = 0; i < n; i++) {
		_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
		make_tar(layers[i].ents, layers[i].n, false, &tar);
		char diff_id[LADE_DIGEST_STRLEN], digest[LADE_DIGEST_STRLEN];
		lade_sha256_buf(tar.data, tar.len, diff_id);
		size_t size = tar.len;
		if (layers[i].gzip) {
			_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT;
			make_tar(layers[i].ents, layers[i].n, true, &gz);
			put_blob(dir, gz.data, gz.len, digest);
			size = gz.len;
		} else {
			put_blob(dir, tar.data, tar.len, digest);
		}
		const char *mt = layers[i].media_type ? layers[i].media_type
		                 : layers[i].gzip     ? MT_TAR_GZIP
		                                      : MT_TAR;
		json_array_append_new(ldescs, desc(mt, digest, size));
		json_array_append_new(
		        diff_ids,
		        json_string(o && o->bad_diff_id && i == n - 1 ? o->bad_diff_id : diff_id));
	}
	if (o && o->extra_diff_id)
		json_array_append_new(diff_ids, json_string("sha256:"
		                                            "00000000000000000000000000000000000000"
		                                            "00000000000000000000000000"));
	json_t *config = json_object();
	json_object_set_new(config, "architecture", json_string(o && o->arch ? o->arch : "amd64"));
	json_object_set_new(config, "os", json_string("linux"));
	json_t *rootfs = json_object();
	json_object_set_new(rootfs, "type", json_string("layers"));
	json_object_set_new(rootfs, "diff_ids", diff_ids);
	json_object_set_new(config, "rootfs", rootfs);
	json_t *m = json_object();
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(MT_MANIFEST));
	json_object_set_new(m, "config", put_json(dir, MT_CONFIG, config));
	json_object_set_new(m, "layers", ldescs);
	return put_json(dir, MT_MANIFEST, m);
}

static void tag_desc(json_t *d, const char *tag)
{
	json_t *a = json_object();
	json_object_set_new(a, "org.opencontainers.image.ref.name", json_string(tag));
	json_object_set_new(d, "annotations", a);
}

/* Write oci-layout and index.json listing the descriptors (stolen). */
static void write_layout(const char *dir, json_t *manifests)
{
	_cleanup_free_ char *lp = lade_path_join(dir, "oci-layout");
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	write_file(lp, layout, strlen(layout));
	json_t *index = json_object();
	json_object_set_new(index, "schemaVersion", json_integer(2));
	json_object_set_new(index, "manifests", manifests);
	_cleanup_free_ char *s = lade_json_dump(index);
	json_decref(index);
	_cleanup_free_ char *ip = lade_path_join(dir, "index.json");
	write_file(ip, s, strlen(s));
}

static char *new_dir(const char *what)
{
	return xasprintf("%s/%s-%d", tmp, what, ++fixture_n);
}

static struct lade_store *new_store(void)
{
	_cleanup_free_ char *dir = new_dir("store");
	struct lade_store *s = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_store_open(dir, 0, &s, &err) < 0) {
		printf("Bail out! store: %s\n", err->msg);
		exit(1);
	}
	return s;
}

static int load(enum lade_base_kind kind, const char *ref, const char *tag, const char *platform,
                struct lade_store *store, struct lade_base_image **out, struct lade_error **err)
{
	struct lade_base_spec spec = {.kind = kind, .ref = ref, .tag = tag};
	return lade_base_load(&spec, platform, store, out, err);
}

static const struct tar_ent l1_ents[] = {
        {"etc/", 'd', NULL, 0},
        {"etc/passwd", 'f', "root:x:0:0::/root:/bin/sh\n", 0},
        {"etc/gone", 'f', "x", 0},
        {"opt/", 'd', NULL, 0},
        {"opt/old", 'f', "old", 0},
        {"bin", 'l', "usr/bin", 0},
        {"etc/hard", 'h', "etc/passwd", 0},
};
static const struct tar_ent l2_ents[] = {
        {"./etc/.wh.gone", 'f', "", 0},
        {"./opt/", 'd', NULL, 0},
        {"./opt/.wh..wh..opq", 'f', "", 0},
        {"./opt/new", 'f', "new", 0},
};

static void test_oci_basic(void)
{
	_cleanup_free_ char *dir = new_dir("oci");
	struct lfix layers[] = {{l1_ents, LADE_ARRAY_SIZE(l1_ents), true, MT_DOCKER_GZ},
	                        {l2_ents, LADE_ARRAY_SIZE(l2_ents), false, NULL}};
	json_t *m = make_image(dir, layers, 2, NULL);
	_cleanup_free_ char *mdigest = xstrdup(json_string_value(json_object_get(m, "digest")));
	tag_desc(m, "v1");
	json_t *other = make_image(dir, layers, 1, NULL);
	tag_desc(other, "v0");
	json_t *ms = json_array();
	json_array_append_new(ms, other);
	json_array_append_new(ms, m);
	write_layout(dir, ms);

	_cleanup_(lade_store_freep) struct lade_store *store = new_store();
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_base_image_freep) struct lade_base_image *b = NULL;
	int r = load(LADE_BASE_OCI, dir, "v1", "linux/amd64", store, &b, &err);
	ok(r == 0 && b, "oci layout loads (%s)", err ? err->msg : "");
	if (b == NULL)
		return;
	_cleanup_free_ char *name = xasprintf("oci:%s:v1", dir);
	is_str(b->name, name, "base name");
	is_str(b->manifest_digest, mdigest, "manifest digest of the tagged manifest");
	ok(b->n_layers == 2, "two layers");
	is_str(b->layers[0].desc.media_type, MT_TAR_GZIP, "docker gzip layer becomes OCI tar+gzip");
	is_str(b->layers[1].desc.media_type, MT_TAR, "plain tar layer");
	is_str(b->layers[1].desc.digest, b->layers[1].diff_id, "plain layer digest is its diff_id");
	ok(lade_store_has(store, b->layers[0].desc.digest) &&
	           lade_store_has(store, b->layers[1].desc.digest),
	   "layer blobs imported into the store");
	is_str(json_string_value(json_object_get(b->config, "architecture")), "amd64",
	       "config parsed");

	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	r = lade_base_read_tree(b, store, t, &err);
	ok(r == 0, "tree read (%s)", err ? err->msg : "");
	const struct lade_tree_node *n = lade_tree_lookup(t, "etc/passwd");
	ok(n && n->type == LADE_ENTRY_FILE && n->mode == 0644 && n->uid == 1000 && n->gid == 100 &&
	           n->size == 26,
	   "file entry with its metadata");
	ok(lade_tree_lookup(t, "etc/gone") == NULL, "whiteout removes a lower file");
	ok(lade_tree_lookup(t, "opt/old") == NULL && lade_tree_lookup(t, "opt/new") != NULL,
	   "opaque whiteout hides the lower directory's content");
	n = lade_tree_lookup(t, "bin");
	ok(n && n->type == LADE_ENTRY_SYMLINK && n->link && strcmp(n->link, "usr/bin") == 0,
	   "symlink with its target");
	n = lade_tree_lookup(t, "etc/hard");
	ok(n && n->type == LADE_ENTRY_HARDLINK && n->link && strcmp(n->link, "etc/passwd") == 0,
	   "hard link with its target");

	/* Wrong tag: the tags found are listed. */
	_cleanup_(lade_base_image_freep) struct lade_base_image *b2 = NULL;
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir, "nope", "linux/amd64", store, &b2, &err);
	_cleanup_free_ char *want = xasprintf(
	        "base oci:%s:nope: no manifest tagged 'nope' in %s/index.json (tags found: v0, v1)",
	        dir, dir);
	ok(r == -1 && b2 == NULL, "unknown tag refused");
	is_str(err ? err->msg : NULL, want, "unknown tag lists the tags");
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir, NULL, "linux/amd64", store, &b2, &err);
	_cleanup_free_ char *want2 = xasprintf(
	        "base oci:%s: %s/index.json lists 2 manifests, name one as DIR:TAG (tags found: "
	        "v0, v1)",
	        dir, dir);
	is_str(err ? err->msg : NULL, want2, "no tag with two manifests lists the tags");
}

static void test_nested_index(void)
{
	_cleanup_free_ char *dir = new_dir("multi");
	struct lfix layers[] = {{l1_ents, 2, true, NULL}};
	json_t *amd = make_image(dir, layers, 1, &(struct mopts){.arch = "amd64"});
	json_t *arm = make_image(dir, layers, 1, &(struct mopts){.arch = "arm64"});
	_cleanup_free_ char *arm_digest =
	        xstrdup(json_string_value(json_object_get(arm, "digest")));
	json_object_set_new(amd, "platform",
	                    json_pack("{s:s,s:s}", "os", "linux", "architecture", "amd64"));
	json_object_set_new(arm, "platform",
	                    json_pack("{s:s,s:s,s:s}", "os", "linux", "architecture", "arm64",
	                              "variant", "v8"));
	json_t *index = json_pack("{s:i,s:s,s:[o,o]}", "schemaVersion", 2, "mediaType", MT_INDEX,
	                          "manifests", amd, arm);
	json_t *idesc = put_json(dir, MT_INDEX, index);
	tag_desc(idesc, "latest");
	write_layout(dir, json_pack("[o]", idesc));

	_cleanup_(lade_store_freep) struct lade_store *store = new_store();
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_base_image_freep) struct lade_base_image *b = NULL;
	int r = load(LADE_BASE_OCI, dir, NULL, "linux/arm64", store, &b, &err);
	ok(r == 0 && b, "nested index loads (%s)", err ? err->msg : "");
	is_str(b ? b->manifest_digest : NULL, arm_digest, "arm64 manifest picked from the index");
	is_str(b ? json_string_value(json_object_get(b->config, "architecture")) : NULL, "arm64",
	       "arm64 config");

	_cleanup_(lade_base_image_freep) struct lade_base_image *b2 = NULL;
	r = load(LADE_BASE_OCI, dir, "latest", "linux/s390x", store, &b2, &err);
	_cleanup_free_ char *want = xasprintf(
	        "base oci:%s:latest: no manifest for platform linux/s390x (available: linux/amd64, "
	        "linux/arm64/v8)",
	        dir);
	ok(r == -1, "platform not in the index refused");
	is_str(err ? err->msg : NULL, want, "available platforms listed");
}

static void test_tampered(void)
{
	_cleanup_free_ char *dir = new_dir("tamper");
	struct lfix layers[] = {{l1_ents, 2, true, NULL}};
	json_t *m = make_image(dir, layers, 1, NULL);
	_cleanup_free_ char *mdigest = xstrdup(json_string_value(json_object_get(m, "digest")));
	write_layout(dir, json_pack("[o]", m));
	_cleanup_free_ char *mpath = xasprintf("%s/blobs/sha256/%s", dir, lade_digest_hex(mdigest));
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	lade_read_file(mpath, 1 << 20, &b, NULL);
	b.data[b.len - 1] = ' '; /* same size, different bytes */
	write_file(mpath, b.data, b.len);
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(b.data, b.len, got);

	_cleanup_(lade_store_freep) struct lade_store *store = new_store();
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_base_image_freep) struct lade_base_image *bi = NULL;
	int r = load(LADE_BASE_OCI, dir, NULL, NULL, store, &bi, &err);
	_cleanup_free_ char *want =
	        xasprintf("base oci:%s: blob %s: digest mismatch (expected %s, got %s)", dir,
	                  mdigest, mdigest, got);
	ok(r == -1 && bi == NULL, "tampered manifest refused");
	is_str(err ? err->msg : NULL, want, "digest mismatch message");

	/* A tampered layer is refused by the import and nothing lands in the store. */
	_cleanup_free_ char *dir2 = new_dir("tamper-layer");
	json_t *m2 = make_image(dir2, layers, 1, NULL);
	write_layout(dir2, json_pack("[o]", m2));
	_cleanup_(json_decrefp) json_t *man = NULL;
	{
		_cleanup_free_ char *p = xasprintf("%s/index.json", dir2);
		_cleanup_(json_decrefp) json_t *idx = json_load_file(p, 0, NULL);
		const char *d = json_string_value(json_object_get(
		        json_array_get(json_object_get(idx, "manifests"), 0), "digest"));
		_cleanup_free_ char *mp = xasprintf("%s/blobs/sha256/%s", dir2, lade_digest_hex(d));
		man = json_load_file(mp, 0, NULL);
	}
	const char *ld = json_string_value(
	        json_object_get(json_array_get(json_object_get(man, "layers"), 0), "digest"));
	_cleanup_free_ char *lpath = xasprintf("%s/blobs/sha256/%s", dir2, lade_digest_hex(ld));
	lade_buf_reset(&b);
	lade_read_file(lpath, 1 << 20, &b, NULL);
	b.data[b.len / 2] ^= 0x55;
	write_file(lpath, b.data, b.len);
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir2, NULL, NULL, store, &bi, &err);
	_cleanup_free_ char *prefix = xasprintf("base oci:%s: layer %s: ", dir2, ld);
	ok(r == -1 && err && strncmp(err->msg, prefix, strlen(prefix)) == 0,
	   "tampered layer refused: %s", err ? err->msg : "");
	ok(!lade_store_has(store, ld), "tampered layer not in the store");
}

static void test_hostile(void)
{
	/* A digest that would climb out of blobs/ when used as a path. */
	_cleanup_free_ char *dir = new_dir("evil-digest");
	write_layout(dir, json_pack("[{s:s,s:s,s:i}]", "mediaType", MT_MANIFEST, "digest",
	                            "sha256:../../etc", "size", 10));
	_cleanup_(lade_store_freep) struct lade_store *store = new_store();
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_base_image_freep) struct lade_base_image *b = NULL;
	int r = load(LADE_BASE_OCI, dir, NULL, NULL, store, &b, &err);
	_cleanup_free_ char *want = xasprintf(
	        "base oci:%s: %s/index.json manifests[0]: digest 'sha256:../../etc' is not "
	        "sha256:<64 hex>",
	        dir, dir);
	ok(r == -1, "path-traversal digest refused");
	is_str(err ? err->msg : NULL, want, "invalid digest message");

	/* diff_id mismatch on a compressed layer: found when the tree is read. */
	_cleanup_free_ char *dir2 = new_dir("bad-diff");
	struct lfix layers[] = {{l1_ents, 2, true, NULL}};
	const char *bad = "sha256:abababababababababababababababababababababababababababababababab";
	write_layout(dir2, json_pack("[o]", make_image(dir2, layers, 1,
	                                               &(struct mopts){.bad_diff_id = bad})));
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir2, NULL, NULL, store, &b, &err);
	ok(r == 0, "layer with a wrong diff_id loads (%s)", err ? err->msg : "");
	if (b) {
		_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
		r = lade_base_read_tree(b, store, t, &err);
		ok(r == -1 && err &&
		           strstr(err->msg, "diff_id mismatch (expected sha256:abab") != NULL,
		   "diff_id mismatch refused when reading: %s", err ? err->msg : "");
		lade_base_image_freep(&b);
	}

	/* diff_ids count must match the layer count. */
	_cleanup_free_ char *dir3 = new_dir("count");
	write_layout(dir3, json_pack("[o]", make_image(dir3, layers, 1,
	                                               &(struct mopts){.extra_diff_id = true})));
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir3, NULL, NULL, store, &b, &err);
	_cleanup_free_ char *want3 =
	        xasprintf("base oci:%s: config has 2 rootfs.diff_ids for 1 layers", dir3);
	ok(r == -1, "diff_ids count mismatch refused");
	is_str(err ? err->msg : NULL, want3, "diff_ids count message");

	/* A layer entry that climbs out of the root. */
	static const struct tar_ent evil[] = {{"etc/", 'd', NULL, 0}, {"../evil", 'f', "x", 0}};
	struct lfix el[] = {{evil, 2, false, NULL}};
	_cleanup_free_ char *dir4 = new_dir("evil-entry");
	write_layout(dir4, json_pack("[o]", make_image(dir4, el, 1, NULL)));
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir4, NULL, NULL, store, &b, &err);
	ok(r == 0, "layout with an evil entry loads");
	if (b) {
		_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
		r = lade_base_read_tree(b, store, t, &err);
		_cleanup_free_ char *want4 =
		        xasprintf("base oci:%s: layer %s entry '../evil': path escapes the root",
		                  dir4, b->layers[0].desc.digest);
		ok(r == -1, "'..' entry refused");
		is_str(err ? err->msg : NULL, want4, "'..' entry message");
		lade_base_image_freep(&b);
	}

	/* An absolute entry name. */
	static const struct tar_ent abs_ents[] = {{"/etc/shadow", 'f', "x", 0}};
	struct lfix al[] = {{abs_ents, 1, true, NULL}};
	_cleanup_free_ char *dir7 = new_dir("abs-entry");
	write_layout(dir7, json_pack("[o]", make_image(dir7, al, 1, NULL)));
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir7, NULL, NULL, store, &b, &err);
	if (b) {
		_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
		r = lade_base_read_tree(b, store, t, &err);
		_cleanup_free_ char *want7 =
		        xasprintf("base oci:%s: layer %s entry '/etc/shadow': absolute path", dir7,
		                  b->layers[0].desc.digest);
		is_str(err ? err->msg : NULL, want7, "absolute entry refused");
		lade_base_image_freep(&b);
	} else {
		ok(0, "layout with an absolute entry loads: %s", err ? err->msg : "");
	}

	/* Foreign layers. */
	struct lfix fl[] = {
	        {l1_ents, 2, true, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"}};
	_cleanup_free_ char *dir5 = new_dir("foreign");
	write_layout(dir5, json_pack("[o]", make_image(dir5, fl, 1, NULL)));
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir5, NULL, NULL, store, &b, &err);
	ok(r == -1 && err && strstr(err->msg, "is a foreign (non-distributable) layer") != NULL,
	   "foreign layer refused: %s", err ? err->msg : "");

	/* Unknown layout version. */
	_cleanup_free_ char *dir6 = new_dir("version");
	write_layout(dir6, json_array());
	_cleanup_free_ char *lp = lade_path_join(dir6, "oci-layout");
	write_file(lp, "{\"imageLayoutVersion\":\"2.0.0\"}", 30);
	lade_error_freep(&err);
	r = load(LADE_BASE_OCI, dir6, NULL, NULL, store, &b, &err);
	_cleanup_free_ char *want6 =
	        xasprintf("base oci:%s: %s: unsupported imageLayoutVersion '2.0.0'", dir6, lp);
	is_str(err ? err->msg : NULL, want6, "layout version refused");
}

/* ---- one read per layer ---- */

/* gzip of data as one raw stream (what follows a tar's end marker is kept). */
static void gzip_raw(const void *data, size_t len, struct lade_buf *out)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_raw(a);
	archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open(a, out, NULL, archive_buf_write, NULL);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "data");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_write_header(a, e);
	archive_write_data(a, data, len);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
}

/* A layout with one gzip layer made of `blob`, whose config claims `diff_id`; loaded into a
 * new store. Returns the base (NULL: bail out). */
static struct lade_base_image *one_layer_base(const char *dir, const struct lade_buf *blob,
                                              const char *diff_id, struct lade_store *store)
{
	char digest[LADE_DIGEST_STRLEN];
	put_blob(dir, blob->data, blob->len, digest);
	json_t *config = json_pack("{s:s, s:s, s:{s:s, s:[s]}}", "architecture", "amd64", "os",
	                           "linux", "rootfs", "type", "layers", "diff_ids", diff_id);
	json_t *m = json_pack("{s:i, s:s, s:o, s:[o]}", "schemaVersion", 2, "mediaType",
	                      MT_MANIFEST, "config", put_json(dir, MT_CONFIG, config), "layers",
	                      desc(MT_TAR_GZIP, digest, blob->len));
	write_layout(dir, json_pack("[o]", put_json(dir, MT_MANIFEST, m)));
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_base_image *b = NULL;
	if (load(LADE_BASE_OCI, dir, NULL, NULL, store, &b, &err) < 0) {
		printf("Bail out! %s: %s\n", dir, err->msg);
		exit(1);
	}
	return b;
}

static int read_tree(const struct lade_base_image *b, struct lade_store *store,
                     struct lade_error **err)
{
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	return lade_base_read_tree(b, store, t, err);
}

static void test_one_pass(void)
{
	_cleanup_(lade_store_freep) struct lade_store *store = new_store();
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	make_tar(l1_ents, 2, false, &tar);
	char tar_digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(tar.data, tar.len, tar_digest);

	/* Bytes after the tar's end marker belong to the diff: the stream is read to its end
	 * although the walk stops at the marker. Zero padding there is fine; anything else
	 * (a second archive that `tar -i` would extract) is refused. */
	_cleanup_buf_ struct lade_buf zpadded = LADE_BUF_INIT;
	lade_buf_add(&zpadded, tar.data, tar.len);
	for (int i = 0; i < 30000; i++)
		lade_buf_addch(&zpadded, 0);
	char zpadded_digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(zpadded.data, zpadded.len, zpadded_digest);
	_cleanup_buf_ struct lade_buf zgz = LADE_BUF_INIT;
	gzip_raw(zpadded.data, zpadded.len, &zgz);
	_cleanup_free_ char *dir0 = new_dir("zero-padded");
	_cleanup_(lade_base_image_freep) struct lade_base_image *b =
	        one_layer_base(dir0, &zgz, zpadded_digest, store);
	ok(read_tree(b, store, &err) == 0, "zero padding after the tar's end marker is fine (%s)",
	   err ? err->msg : "");
	lade_base_image_freep(&b);

	_cleanup_buf_ struct lade_buf padded = LADE_BUF_INIT;
	lade_buf_add(&padded, tar.data, tar.len);
	for (int i = 0; i < 3000; i++)
		lade_buf_addch(&padded, (char)('a' + i % 26));
	char padded_digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(padded.data, padded.len, padded_digest);
	_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT;
	gzip_raw(padded.data, padded.len, &gz);
	_cleanup_free_ char *dir1 = new_dir("after-tar");
	b = one_layer_base(dir1, &gz, padded_digest, store);
	lade_error_freep(&err);
	_cleanup_free_ char *want1 = xasprintf(
	        "base oci:%s: layer %s: data after the tar's end-of-archive at byte %zu of the "
	        "uncompressed stream (only zero padding may follow it, not a second archive or "
	        "other data)",
	        dir1, b->layers[0].desc.digest, tar.len);
	ok(read_tree(b, store, &err) == -1, "data after the tar's end marker refused");
	is_str(err ? err->msg : NULL, want1, "the message names the layer and the offset");
	lade_base_image_freep(&b);

	_cleanup_free_ char *dir2 = new_dir("after-tar-bad");
	b = one_layer_base(dir2, &gz, tar_digest, store);
	lade_error_freep(&err);
	_cleanup_free_ char *want2 =
	        xasprintf("base oci:%s: layer %s: diff_id mismatch (expected %s, got %s)", dir2,
	                  b->layers[0].desc.digest, tar_digest, padded_digest);
	ok(read_tree(b, store, &err) == -1, "diff_id of the tar alone refused");
	is_str(err ? err->msg : NULL, want2, "diff_id of the whole stream in the message");
	lade_base_image_freep(&b);

	/* A hostile entry in a layer whose diff_id is also wrong: the diff_id is reported, as
	 * when the diff_id pass ran before the walk. */
	static const struct tar_ent evil[] = {{"etc/", 'd', NULL, 0}, {"../evil", 'f', "x", 0}};
	_cleanup_buf_ struct lade_buf evil_gz = LADE_BUF_INIT;
	make_tar(evil, 2, true, &evil_gz);
	_cleanup_free_ char *dir3 = new_dir("evil-bad-diff");
	b = one_layer_base(dir3, &evil_gz, tar_digest, store);
	lade_error_freep(&err);
	ok(read_tree(b, store, &err) == -1 && err &&
	           strstr(err->msg, "diff_id mismatch (expected ") != NULL,
	   "diff_id mismatch reported before the hostile entry: %s", err ? err->msg : "");
	lade_base_image_freep(&b);

	/* The store's copy changed after the import, in the zero padding after the gzip
	 * stream: the blob digest covers it and is reported first. */
	_cleanup_buf_ struct lade_buf trailing = LADE_BUF_INIT;
	make_tar(l1_ents, 2, true, &trailing);
	for (int i = 0; i < 100; i++)
		lade_buf_addch(&trailing, 0);
	_cleanup_free_ char *dir4 = new_dir("store-changed");
	b = one_layer_base(dir4, &trailing, tar_digest, store);
	lade_error_freep(&err);
	ok(read_tree(b, store, &err) == 0, "gzip blob with zero padding reads (%s)",
	   err ? err->msg : "");
	_cleanup_free_ char *sp = lade_store_blob_path(store, b->layers[0].desc.digest);
	trailing.data[trailing.len - 1] = '!';
	unlink(sp);
	write_file(sp, trailing.data, trailing.len);
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(trailing.data, trailing.len, got);
	lade_error_freep(&err);
	_cleanup_free_ char *want4 =
	        xasprintf("base oci:%s: layer %s: digest mismatch (expected %s, got %s)", dir4,
	                  b->layers[0].desc.digest, b->layers[0].desc.digest, got);
	ok(read_tree(b, store, &err) == -1, "blob changed in the store refused");
	is_str(err ? err->msg : NULL, want4, "blob digest mismatch message");

	/* A blob that vanished from the store: libarchive's wording, as before. */
	unlink(sp);
	lade_error_freep(&err);
	_cleanup_free_ char *want5 =
	        xasprintf("base oci:%s: layer %s: cannot open %s: No such file or directory", dir4,
	                  b->layers[0].desc.digest, sp);
	ok(read_tree(b, store, &err) == -1, "missing blob refused");
	is_str(err ? err->msg : NULL, want5, "missing blob message");
	lade_base_image_freep(&b);
}

/* ---- decompression (lade_decompressor; the compression follows the bytes) ---- */

/* Read the one-layer base made of `blob` whose config claims `diff_id`: 0 with etc/passwd in
 * the tree, or -1 with *err. *dir and *digest name the fixture for messages. */
static int read_blob_layer(const char *what, const struct lade_buf *blob, const char *diff_id,
                           struct lade_store *store, char **dir, char **digest,
                           struct lade_error **err)
{
	*dir = new_dir(what);
	_cleanup_(lade_base_image_freep) struct lade_base_image *b =
	        one_layer_base(*dir, blob, diff_id, store);
	*digest = xstrdup(b->layers[0].desc.digest);
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	if (lade_base_read_tree(b, store, t, err) < 0)
		return -1;
	return lade_tree_lookup(t, "etc/passwd") ? 0 : lade_error_set(err, 0, "no etc/passwd");
}

static void zstd_of(const struct lade_buf *in, struct lade_buf *out)
{
	size_t bound = ZSTD_compressBound(in->len);
	lade_buf_grow(out, bound);
	size_t n = ZSTD_compress(out->data + out->len, bound, in->data, in->len, 3);
	if (ZSTD_isError(n))
		abort();
	out->len += n;
}

/* A broken layer is refused with "base B: layer D: <want>". */
static void expect_layer_error(const char *what, const struct lade_buf *blob, const char *diff_id,
                               struct lade_store *store, const char *want)
{
	_cleanup_free_ char *dir = NULL, *digest = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(read_blob_layer(what, blob, diff_id, store, &dir, &digest, &err) == -1, "%s refused",
	   what);
	_cleanup_free_ char *full = xasprintf("base oci:%s: layer %s: %s", dir, digest, want);
	is_str(err ? err->msg : NULL, full, "%s: message", what);
}

static void test_decompression(void)
{
	_cleanup_(lade_store_freep) struct lade_store *store = new_store();
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	make_tar(l1_ents, 3, false, &tar);
	char diff_id[LADE_DIGEST_STRLEN];
	lade_sha256_buf(tar.data, tar.len, diff_id);
	size_t half = tar.len / 2 + 7;

	/* gzip in two members, zstd in two frames, and a plain tar under a gzip media type. */
	_cleanup_buf_ struct lade_buf gz2 = LADE_BUF_INIT, zs2 = LADE_BUF_INIT;
	gzip_raw(tar.data, half, &gz2);
	gzip_raw(tar.data + half, tar.len - half, &gz2);
	struct lade_buf head = {tar.data, half, 0}, tail = {tar.data + half, tar.len - half, 0};
	zstd_of(&head, &zs2);
	zstd_of(&tail, &zs2);
	const struct {
		const char *what;
		const struct lade_buf *blob;
	} good[] = {{"two gzip members", &gz2}, {"two zstd frames", &zs2}, {"plain tar", &tar}};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(good); i++) {
		_cleanup_free_ char *dir = NULL, *digest = NULL;
		_cleanup_error_ struct lade_error *err = NULL;
		ok(read_blob_layer(good[i].what, good[i].blob, diff_id, store, &dir, &digest,
		                   &err) == 0,
		   "layer of %s reads, diff_id verified (%s)", good[i].what, err ? err->msg : "");
	}

	_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT;
	gzip_raw(tar.data, tar.len, &gz);
	struct lade_buf cut = {gz.data, gz.len - 5, 0};
	expect_layer_error("gzip cut short", &cut, diff_id, store, "truncated gzip stream");
	struct lade_buf zcut = {zs2.data, zs2.len - 5, 0};
	expect_layer_error("zstd cut short", &zcut, diff_id, store, "truncated zstd stream");
	_cleanup_buf_ struct lade_buf bad = LADE_BUF_INIT;
	lade_buf_add(&bad, gz.data, gz.len);
	bad.data[bad.len - 6] ^= 0x10;
	expect_layer_error("gzip crc damaged", &bad, diff_id, store,
	                   "gzip: crc or length mismatch in member trailer");
	lade_buf_reset(&bad);
	lade_buf_add(&bad, zs2.data, zs2.len);
	lade_buf_adds(&bad, "junk");
	expect_layer_error("junk after zstd", &bad, diff_id, store,
	                   "zstd: Unknown frame descriptor");
	/* After the gzip stream only zero padding: a header of an unknown method, junk, or
	 * zeros then junk are refused (libarchive used to stop there and ignore the rest). */
	lade_buf_reset(&bad);
	lade_buf_add(&bad, gz.data, gz.len);
	lade_buf_add(&bad, "\x1f\x8b\x09\0\0\0\0\0\0\3", 10);
	expect_layer_error("method 9 after the gzip stream", &bad, diff_id, store,
	                   "gzip: unknown compression method 9");
	lade_buf_reset(&bad);
	lade_buf_add(&bad, gz.data, gz.len);
	lade_buf_adds(&bad, "junk");
	expect_layer_error("junk after the gzip stream", &bad, diff_id, store,
	                   "trailing garbage after gzip stream");
	lade_buf_reset(&bad);
	lade_buf_add(&bad, gz.data, gz.len);
	for (int i = 0; i < 5000; i++)
		lade_buf_addch(&bad, 0);
	_cleanup_free_ char *dir = NULL, *digest = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(read_blob_layer("zero padding", &bad, diff_id, store, &dir, &digest, &err) == 0,
	   "zero padding after the gzip stream is fine (%s)", err ? err->msg : "");
	lade_buf_adds(&bad, "x");
	expect_layer_error("zeros then junk after the gzip stream", &bad, diff_id, store,
	                   "trailing garbage after gzip stream");

	/* A second gzip member holding a second tar after the first one's end: the diff_id
	 * covers it, yet it is refused (spliced layers have many members, but all before the
	 * end-of-archive). */
	static const struct tar_ent evil[] = {{"../evil", 'f', "x", 0}};
	_cleanup_buf_ struct lade_buf evil_tar = LADE_BUF_INIT, two = LADE_BUF_INIT;
	make_tar(evil, 1, false, &evil_tar);
	gzip_raw(tar.data, tar.len, &two);
	gzip_raw(evil_tar.data, evil_tar.len, &two);
	_cleanup_buf_ struct lade_buf both = LADE_BUF_INIT;
	lade_buf_add(&both, tar.data, tar.len);
	lade_buf_add(&both, evil_tar.data, evil_tar.len);
	char both_id[LADE_DIGEST_STRLEN];
	lade_sha256_buf(both.data, both.len, both_id);
	_cleanup_free_ char *want = xasprintf(
	        "data after the tar's end-of-archive at byte %zu of the uncompressed stream (only "
	        "zero padding may follow it, not a second archive or other data)",
	        tar.len);
	expect_layer_error("a second tar in a second member", &two, both_id, store, want);
}

/* ---- docker-archive ---- */

/* An archive with one image: config "<hex>.json", layer "l1/layer.tar" (plain or gzip). */
static char *make_docker_archive(bool gzip_layer, const char *bad_diff_id, const char *layer_name,
                                 char layer_digest[LADE_DIGEST_STRLEN])
{
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT, blob = LADE_BUF_INIT;
	make_tar(l1_ents, 3, false, &tar);
	make_tar(l1_ents, 3, gzip_layer, &blob);
	char diff_id[LADE_DIGEST_STRLEN];
	lade_sha256_buf(tar.data, tar.len, diff_id);
	lade_sha256_buf(blob.data, blob.len, layer_digest);
	json_t *config = json_pack("{s:s,s:s,s:{s:s,s:[s]},s:s}", "architecture", "amd64", "os",
	                           "linux", "rootfs", "type", "layers", "diff_ids",
	                           bad_diff_id ? bad_diff_id : diff_id, "container", "x");
	_cleanup_free_ char *ctext = lade_json_dump(config);
	json_decref(config);
	char cdigest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(ctext, strlen(ctext), cdigest);
	_cleanup_free_ char *cname = xasprintf("%s.json", lade_digest_hex(cdigest));
	json_t *man = json_pack("[{s:s,s:[s],s:[s]}]", "Config", cname, "RepoTags",
	                        "busybox:latest", "Layers", layer_name);
	_cleanup_free_ char *mtext = lade_json_dump(man);
	json_decref(man);
	struct tar_ent ents[] = {
	        {cname, 'f', ctext, 0},
	        {"l1/", 'd', NULL, 0},
	        {"l1/layer.tar", 'f', blob.data, blob.len},
	        {"l2/", 'd', NULL, 0},
	        {"l2/layer.tar", 'l', "../l1/layer.tar", 0},
	        {"manifest.json", 'f', mtext, 0},
	};
	_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
	make_tar(ents, LADE_ARRAY_SIZE(ents), false, &out);
	char *path = new_dir("docker.tar");
	write_file(path, out.data, out.len);
	return path;
}

static void test_docker_archive(void)
{
	char ld[LADE_DIGEST_STRLEN];
	_cleanup_free_ char *path = make_docker_archive(false, NULL, "l2/layer.tar", ld);
	_cleanup_(lade_store_freep) struct lade_store *store = new_store();
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_base_image_freep) struct lade_base_image *b = NULL;
	int r = load(LADE_BASE_DOCKER_ARCHIVE, path, "busybox", NULL, store, &b, &err);
	ok(r == 0 && b, "docker-archive loads through a symlinked layer (%s)", err ? err->msg : "");
	if (b) {
		ok(b->n_layers == 1, "one layer");
		is_str(b->layers[0].desc.media_type, MT_TAR, "plain layer: media type tar");
		is_str(b->layers[0].desc.digest, ld, "layer digest is the member's sha256");
		is_str(b->layers[0].diff_id, ld, "diff_id equals the digest");
		ok(lade_store_has(store, ld), "layer in the store");
		ok(json_object_get(b->config, "rootfs") != NULL, "config parsed");
		_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
		r = lade_base_read_tree(b, store, t, &err);
		ok(r == 0 && lade_tree_lookup(t, "etc/passwd") != NULL, "docker-archive tree read");
	}

	char ld2[LADE_DIGEST_STRLEN];
	const char *bad = "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
	_cleanup_free_ char *path2 = make_docker_archive(false, bad, "l1/layer.tar", ld2);
	_cleanup_(lade_base_image_freep) struct lade_base_image *b2 = NULL;
	lade_error_freep(&err);
	r = load(LADE_BASE_DOCKER_ARCHIVE, path2, NULL, NULL, store, &b2, &err);
	_cleanup_free_ char *want = xasprintf(
	        "base docker-archive:%s: layer l1/layer.tar (%s) does not match its diff_id %s",
	        path2, ld2, bad);
	ok(r == -1, "docker-archive with a wrong diff_id refused");
	is_str(err ? err->msg : NULL, want, "wrong diff_id message");

	char ld3[LADE_DIGEST_STRLEN];
	_cleanup_free_ char *path3 = make_docker_archive(true, NULL, "l1/layer.tar", ld3);
	lade_error_freep(&err);
	r = load(LADE_BASE_DOCKER_ARCHIVE, path3, "busybox:latest", NULL, store, &b2, &err);
	ok(r == 0 && b2, "docker-archive with a gzip layer (%s)", err ? err->msg : "");
	if (b2) {
		is_str(b2->layers[0].desc.media_type, MT_TAR_GZIP,
		       "gzip layer: media type tar+gzip");
		is_str(b2->layers[0].desc.digest, ld3, "gzip layer digest");
		_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
		ok(lade_base_read_tree(b2, store, t, &err) == 0, "gzip layer diff_id verified");
		lade_base_image_freep(&b2);
	}

	char ld4[LADE_DIGEST_STRLEN];
	_cleanup_free_ char *path4 = make_docker_archive(true, bad, "l1/layer.tar", ld4);
	lade_error_freep(&err);
	r = load(LADE_BASE_DOCKER_ARCHIVE, path4, NULL, NULL, store, &b2, &err);
	ok(r == 0 && b2, "gzip layer with a wrong diff_id loads");
	if (b2) {
		_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
		r = lade_base_read_tree(b2, store, t, &err);
		_cleanup_free_ char *want4 = xasprintf(
		        "base docker-archive:%s: layer %s: diff_id mismatch (expected %s, got %s)",
		        path4, ld4, bad, ld);
		is_str(err ? err->msg : NULL, want4, "gzip diff_id mismatch found when reading");
		lade_base_image_freep(&b2);
	}

	char ld5[LADE_DIGEST_STRLEN];
	_cleanup_free_ char *path5 = make_docker_archive(false, NULL, "../l1/layer.tar", ld5);
	lade_error_freep(&err);
	r = load(LADE_BASE_DOCKER_ARCHIVE, path5, NULL, NULL, store, &b2, &err);
	_cleanup_free_ char *want5 = xasprintf(
	        "base docker-archive:%s: manifest.json: Layers[0] '../l1/layer.tar': path escapes "
	        "the archive",
	        path5);
	is_str(err ? err->msg : NULL, want5, "member name with '..' refused");

	lade_error_freep(&err);
	r = load(LADE_BASE_DOCKER_ARCHIVE, path, "docker.io/library/busybox", NULL, store, &b2,
	         &err);
	ok(r == 0 && b2, "fully qualified repo tag matches the short one (%s)",
	   err ? err->msg : "");
	lade_base_image_freep(&b2);

	lade_error_freep(&err);
	r = load(LADE_BASE_DOCKER_ARCHIVE, path, "alpine:3", NULL, store, &b2, &err);
	_cleanup_free_ char *want6 = xasprintf("base docker-archive:%s:alpine:3: no image tagged "
	                                       "'alpine:3' in manifest.json (tags "
	                                       "found: busybox:latest)",
	                                       path);
	is_str(err ? err->msg : NULL, want6, "unknown repo tag lists the tags");
}

static void test_scratch(void)
{
	_cleanup_(lade_store_freep) struct lade_store *store = new_store();
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_base_image_freep) struct lade_base_image *b = NULL;
	int r = load(LADE_BASE_SCRATCH, NULL, NULL, "linux/amd64", store, &b, &err);
	ok(r == 0 && b && b->n_layers == 0 && b->config == NULL && b->manifest_digest == NULL,
	   "scratch: no layers, no config");
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	ok(b && lade_base_read_tree(b, store, t, &err) == 0 && lade_tree_count(t) <= 1,
	   "scratch tree is empty");
}

int main(void)
{
	tmp = make_tmpdir("test-base");
	test_oci_basic();
	test_nested_index();
	test_tampered();
	test_hostile();
	test_one_pass();
	test_decompression();
	test_docker_archive();
	test_scratch();
	rm_rf(tmp);
	free(tmp);
	return tap_done();
}
