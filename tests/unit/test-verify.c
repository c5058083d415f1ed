/* Tests for lade_verify_layout(): small OCI layouts built here (tar layers via libarchive,
 * compressed with zlib/zstd, blobs named by their real digests), then tampered with one way at
 * a time; each tampering must give exactly its problem line. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include "lade/digest.h"
#include "lade/util.h"
#include "lade/verify.h"
#include "fixture.h"
#include "tap.h"

#define MT_LAYER      "application/vnd.oci.image.layer.v1.tar"
#define MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_MANIFEST   "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX      "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG     "application/vnd.oci.image.config.v1+json"

struct layer_opts {
	const char *mt;
	size_t truncate_tar;  /* keep only this many tar bytes (0: all) */
	size_t truncate_blob; /* keep only this many blob bytes (0: all) */
};

struct fx_layer {
	char digest[LADE_DIGEST_STRLEN];
	char diff_id[LADE_DIGEST_STRLEN];
	uint64_t size;
	const char *mt;
};

struct fx {
	char *dir;
	struct fx_layer layers[8];
	size_t n_layers;
	json_t *config, *manifest, *index;
	char config_digest[LADE_DIGEST_STRLEN];
	char manifest_digest[LADE_DIGEST_STRLEN];
	uint64_t manifest_size;
};

static void gzip_buf(const struct lade_buf *in, struct lade_buf *out)
{
	z_stream z = {0};
	if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	lade_buf_grow(out, deflateBound(&z, in->len) + 64);
	z.next_in = (unsigned char *)in->data;
	z.avail_in = (uInt)in->len;
	z.next_out = (unsigned char *)out->data;
	z.avail_out = (uInt)(out->alloc - 1);
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	out->len = z.total_out;
	deflateEnd(&z);
}

static void zstd_buf(const struct lade_buf *in, struct lade_buf *out)
{
	size_t bound = ZSTD_compressBound(in->len);
	lade_buf_grow(out, bound);
	size_t n = ZSTD_compress(out->data, bound, in->data, in->len, 3);
	if (ZSTD_isError(n))
		abort();
	out->len = n;
}

static char *blob_file(const struct fx *fx, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", fx->dir, lade_digest_hex(digest));
}

static void write_json_blob(struct fx *fx, const json_t *j, char digest[LADE_DIGEST_STRLEN],
                            uint64_t *size)
{
	_cleanup_free_ char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	put_blob(fx->dir, s, strlen(s), digest);
	if (size)
		*size = strlen(s);
}

static void write_json_file(struct fx *fx, const char *name, const json_t *j)
{
	_cleanup_free_ char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	_cleanup_free_ char *path = xasprintf("%s/%s", fx->dir, name);
	write_file(path, s, strlen(s));
}

static void fx_begin(struct fx *fx)
{
	*fx = (struct fx){0};
	fx->dir = make_tmpdir("verify");
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", fx->dir);
	struct lade_error *err = NULL;
	if (lade_mkdir_p(blobs, &err) < 0)
		abort();
	_cleanup_free_ char *layout = xasprintf("%s/oci-layout", fx->dir);
	write_file(layout, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
}

static struct fx_layer *fx_add_layer(struct fx *fx, const struct tar_ent *ents,
                                     const struct layer_opts *o)
{
	struct fx_layer *l = &fx->layers[fx->n_layers++];
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	_cleanup_buf_ struct lade_buf blob = LADE_BUF_INIT;
	make_tar(ents, SIZE_MAX, false, &tar);
	if (o && o->truncate_tar)
		tar.len = o->truncate_tar;
	l->mt = o && o->mt ? o->mt : MT_LAYER_GZIP;
	lade_sha256_buf(tar.data, tar.len, l->diff_id);
	if (strstr(l->mt, "gzip"))
		gzip_buf(&tar, &blob);
	else if (strcmp(l->mt, MT_LAYER_ZSTD) == 0)
		zstd_buf(&tar, &blob);
	else
		lade_buf_add(&blob, tar.data, tar.len);
	if (o && o->truncate_blob)
		blob.len = o->truncate_blob;
	put_blob(fx->dir, blob.data, blob.len, l->digest);
	l->size = blob.len;
	return l;
}

static json_t *descriptor(const char *mt, const char *digest, uint64_t size)
{
	return json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", digest, "size",
	                 (json_int_t)size);
}

/* Config, manifest and index objects from the layers so far; tests may edit them before
 * fx_write(). */
static void fx_build(struct fx *fx)
{
	json_t *diff_ids = json_array(), *history = json_array(), *layers = json_array();
	for (size_t i = 0; i < fx->n_layers; i++) {
		json_array_append_new(diff_ids, json_string(fx->layers[i].diff_id));
		json_array_append_new(history, json_pack("{s:s}", "created_by", "test"));
		json_array_append_new(layers, descriptor(fx->layers[i].mt, fx->layers[i].digest,
		                                         fx->layers[i].size));
	}
	fx->config =
	        json_pack("{s:s,s:s,s:{s:s,s:o},s:o}", "architecture", "amd64", "os", "linux",
	                  "rootfs", "type", "layers", "diff_ids", diff_ids, "history", history);
	fx->manifest = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", MT_MANIFEST,
	                         "layers", layers);
	fx->index = json_pack("{s:i,s:s,s:[{s:{s:s}}]}", "schemaVersion", 2, "mediaType", MT_INDEX,
	                      "manifests", "annotations", "org.opencontainers.image.ref.name",
	                      "latest");
}

/* Write config, manifest (pointing at the config) and index.json (its first entry pointing
 * at the manifest). */
static void fx_write(struct fx *fx)
{
	uint64_t config_size;
	write_json_blob(fx, fx->config, fx->config_digest, &config_size);
	json_object_set_new(fx->manifest, "config",
	                    descriptor(MT_CONFIG, fx->config_digest, config_size));
	write_json_blob(fx, fx->manifest, fx->manifest_digest, &fx->manifest_size);
	json_t *d = json_array_get(json_object_get(fx->index, "manifests"), 0);
	json_object_set_new(d, "mediaType", json_string(MT_MANIFEST));
	json_object_set_new(d, "digest", json_string(fx->manifest_digest));
	json_object_set_new(d, "size", json_integer((json_int_t)fx->manifest_size));
	write_json_file(fx, "index.json", fx->index);
}

static void fx_end(struct fx *fx)
{
	rm_rf(fx->dir);
	free(fx->dir);
	json_decref(fx->config);
	json_decref(fx->manifest);
	json_decref(fx->index);
}

struct result {
	int rc;
	size_t n;
	struct lade_buf out;
};

static struct result run_opts(const char *dir, const struct lade_verify_options *o)
{
	struct result r = {.out = LADE_BUF_INIT};
	struct lade_error *err = NULL;
	r.rc = lade_verify_layout(dir, o, &r.out, &r.n, &err);
	if (err) {
		printf("# error: %s\n", err->msg);
		lade_error_free(err);
	}
	for (const char *p = r.out.data; *p;) {
		const char *nl = strchrnul(p, '\n');
		printf("# problem: %.*s\n", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
	return r;
}

static struct result run(const struct fx *fx)
{
	return run_opts(fx->dir, NULL);
}

/* Exactly one problem, and it is `want`. */
static void expect_one(const struct fx *fx, const char *want, const char *name)
{
	struct result r = run(fx);
	_cleanup_free_ char *line = xasprintf("%s\n", want);
	ok(r.rc == 0 && r.n == 1, "%s: one problem (rc %d, n %zu)", name, r.rc, r.n);
	is_str(r.out.data, line, "%s: problem line", name);
	lade_buf_release(&r.out);
}

static const struct tar_ent good_ents[] = {
        {"app/", 'd', NULL, 0},
        {"app/x.py", 'f', "print('x')\n", 0},
        {"app/y.py", 'h', "app/x.py", 0},
        {"app/.wh.old.py", 'f', NULL, 0},
        {"etc/.wh..wh..opq", 'f', NULL, 0},
        {NULL, 0, NULL, 0},
};
static const struct tar_ent second_ents[] = {
        {"./usr/bin/tool", 'f', "#!/bin/sh\n", 0},
        {NULL, 0, NULL, 0},
};

/* A valid two-layer image; `mt2` is the second layer's media type. */
static void fx_valid(struct fx *fx, const char *mt2)
{
	fx_begin(fx);
	fx_add_layer(fx, good_ents, NULL);
	fx_add_layer(fx, second_ents, &(struct layer_opts){.mt = mt2});
	fx_build(fx);
	fx_write(fx);
}

static void test_valid(void)
{
	const char *mts[] = {MT_LAYER_GZIP, MT_LAYER_ZSTD, MT_LAYER,
	                     "application/vnd.docker.image.rootfs.diff.tar.gzip"};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(mts); i++) {
		struct fx fx;
		fx_valid(&fx, mts[i]);
		struct result r = run(&fx);
		ok(r.rc == 0 && r.n == 0 && r.out.len == 0, "valid layout (%s) has no problems",
		   mts[i]);
		lade_buf_release(&r.out);
		fx_end(&fx);
	}
}

static void test_flipped_byte(void)
{
	struct fx fx;
	fx_valid(&fx, MT_LAYER_GZIP);
	_cleanup_free_ char *path = blob_file(&fx, fx.layers[0].digest);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, 1 << 20, &b, NULL) < 0)
		abort();
	b.data[b.len / 2] ^= 0x20;
	write_file(path, b.data, b.len);
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(b.data, b.len, got);
	_cleanup_free_ char *want = xasprintf("blob %s: digest mismatch (expected %s, got %s)",
	                                      fx.layers[0].digest, fx.layers[0].digest, got);
	expect_one(&fx, want, "flipped byte in a layer");

	/* Without layer checks the blob is still hashed. */
	struct lade_verify_options o;
	lade_verify_options_init(&o);
	o.check_layers = false;
	struct result r = run_opts(fx.dir, &o);
	ok(r.n == 1 && strstr(r.out.data, "digest mismatch") != NULL,
	   "flipped byte found without layer checks");
	lade_buf_release(&r.out);
	fx_end(&fx);
}

static void test_wrong_diff_id(void)
{
	struct fx fx;
	fx_begin(&fx);
	fx_add_layer(&fx, good_ents, NULL);
	struct fx_layer *l = fx_add_layer(&fx, second_ents, NULL);
	char real[LADE_DIGEST_STRLEN];
	memcpy(real, l->diff_id, sizeof(real));
	lade_sha256_buf("other", 5, l->diff_id);
	fx_build(&fx);
	fx_write(&fx);
	_cleanup_free_ char *want =
	        xasprintf("layer 2 (%s): diff_id mismatch: config says %s, tar is %s", l->digest,
	                  l->diff_id, real);
	expect_one(&fx, want, "wrong diff_id");

	struct lade_verify_options o = LADE_VERIFY_OPTIONS_INIT;
	o.check_layers = false;
	struct result r = run_opts(fx.dir, &o);
	ok(r.rc == 0 && r.n == 0, "wrong diff_id is not seen without layer checks");
	lade_buf_release(&r.out);
	fx_end(&fx);
}

static void test_truncated(void)
{
	char big[5001];
	memset(big, 'a', 5000);
	big[5000] = '\0';
	const struct tar_ent ents[] = {
	        {"big", 'f', big, 0},
	        {"after", 'f', "x", 0},
	        {NULL, 0, NULL, 0},
	};

	/* The tar stops in the middle of "big"; blob and diff_id match what is there. */
	struct fx fx;
	fx_begin(&fx);
	struct fx_layer *l = fx_add_layer(&fx, ents, &(struct layer_opts){.truncate_tar = 2560});
	fx_build(&fx);
	fx_write(&fx);
	_cleanup_free_ char *want =
	        xasprintf("layer 1 (%s): broken tar: truncated input file (needed 5120 bytes, "
	                  "only 2048 available)",
	                  l->digest);
	expect_one(&fx, want, "truncated tar");
	fx_end(&fx);

	/* The gzip stream itself is cut short. */
	fx_begin(&fx);
	l = fx_add_layer(&fx, ents, &(struct layer_opts){.truncate_blob = 60});
	fx_build(&fx);
	fx_write(&fx);
	_cleanup_free_ char *want2 = xasprintf("layer 1 (%s): truncated gzip stream", l->digest);
	expect_one(&fx, want2, "truncated gzip blob");
	fx_end(&fx);

	/* Same for zstd. */
	fx_begin(&fx);
	l = fx_add_layer(&fx, ents, &(struct layer_opts){.mt = MT_LAYER_ZSTD, .truncate_blob = 30});
	fx_build(&fx);
	fx_write(&fx);
	_cleanup_free_ char *want3 = xasprintf("layer 1 (%s): truncated zstd stream", l->digest);
	expect_one(&fx, want3, "truncated zstd blob");
	fx_end(&fx);
}

/* A one-layer image from `ents`; returns the layer digest in the fixture. */
static void fx_one(struct fx *fx, const struct tar_ent *ents, const char *mt)
{
	fx_begin(fx);
	fx_add_layer(fx, ents, &(struct layer_opts){.mt = mt});
	fx_build(fx);
	fx_write(fx);
}

static void expect_layer_problem(const struct tar_ent *ents, const char *msg, const char *name)
{
	struct fx fx;
	fx_one(&fx, ents, NULL);
	_cleanup_free_ char *want = xasprintf("layer 1 (%s): %s", fx.layers[0].digest, msg);
	expect_one(&fx, want, name);
	fx_end(&fx);
}

static void test_tar_rules(void)
{
	expect_layer_problem((const struct tar_ent[]){{"app/x.py", 'f', "1", 0},
	                                              {"./app/x.py", 'f', "2", 0},
	                                              {NULL, 0, NULL, 0}},
	                     "duplicate path './app/x.py'", "duplicate path");
	expect_layer_problem((const struct tar_ent[]){{"app/", 'd', NULL, 0},
	                                              {"./app", 'd', NULL, 0},
	                                              {NULL, 0, NULL, 0}},
	                     "duplicate path './app/'", "duplicate directory, trailing slash");
	expect_layer_problem((const struct tar_ent[]){{"../evil", 'f', "x", 0}, {NULL, 0, NULL, 0}},
	                     "entry '../evil' escapes the root", "../ path");
	expect_layer_problem(
	        (const struct tar_ent[]){{"a/../../evil", 'f', "x", 0}, {NULL, 0, NULL, 0}},
	        "entry 'a/../../evil' escapes the root", "nested ../ path");
	expect_layer_problem((const struct tar_ent[]){{"a/../b", 'f', "x", 0}, {NULL, 0, NULL, 0}},
	                     "entry 'a/../b' has a '..' component", ".. inside the root");
	expect_layer_problem(
	        (const struct tar_ent[]){{"/etc/passwd", 'f', "x", 0}, {NULL, 0, NULL, 0}},
	        "entry '/etc/passwd' is an absolute path", "absolute path");
	expect_layer_problem(
	        (const struct tar_ent[]){{"app/link", 'h', "app/nothere", 0}, {NULL, 0, NULL, 0}},
	        "hard link 'app/link' points to 'app/nothere', which is not earlier "
	        "in the layer",
	        "hard link to a missing target");
	expect_layer_problem((const struct tar_ent[]){{"first", 'h', "second", 0},
	                                              {"second", 'f', "x", 0},
	                                              {NULL, 0, NULL, 0}},
	                     "hard link 'first' points to 'second', which is not earlier in the "
	                     "layer",
	                     "hard link to a later entry");
	expect_layer_problem(
	        (const struct tar_ent[]){{"dir/.wh.", 'f', NULL, 0}, {NULL, 0, NULL, 0}},
	        "whiteout 'dir/.wh.' has an empty name", "empty whiteout");
	expect_layer_problem((const struct tar_ent[]){{"../a\nb", 'f', "x", 0}, {NULL, 0, NULL, 0}},
	                     "entry '../a\\x0ab' escapes the root", "control bytes are escaped");
}

static void test_missing_blob(void)
{
	struct fx fx;
	fx_valid(&fx, MT_LAYER_GZIP);
	_cleanup_free_ char *path = blob_file(&fx, fx.layers[1].digest);
	unlink(path);
	_cleanup_free_ char *want = xasprintf("manifest %s: layers[1]: blob %s is missing",
	                                      fx.manifest_digest, fx.layers[1].digest);
	expect_one(&fx, want, "missing layer blob");
	fx_end(&fx);

	fx_valid(&fx, MT_LAYER_GZIP);
	_cleanup_free_ char *mpath = blob_file(&fx, fx.manifest_digest);
	unlink(mpath);
	_cleanup_free_ char *want2 =
	        xasprintf("index.json: manifests[0]: blob %s is missing", fx.manifest_digest);
	expect_one(&fx, want2, "missing manifest blob");
	fx_end(&fx);
}

static void test_descriptors(void)
{
	struct fx fx;
	fx_valid(&fx, MT_LAYER_GZIP);
	json_t *d = json_array_get(json_object_get(fx.index, "manifests"), 0);
	json_object_set_new(d, "size", json_integer((json_int_t)fx.manifest_size + 1));
	write_json_file(&fx, "index.json", fx.index);
	_cleanup_free_ char *want = xasprintf(
	        "index.json: manifests[0].size %llu but blob is %llu bytes",
	        (unsigned long long)fx.manifest_size + 1, (unsigned long long)fx.manifest_size);
	expect_one(&fx, want, "size mismatch");

	json_object_set_new(d, "size", json_integer((json_int_t)fx.manifest_size));
	json_object_set_new(d, "digest", json_string("sha256:../../x"));
	write_json_file(&fx, "index.json", fx.index);
	expect_one(&fx, "index.json: manifests[0]: digest 'sha256:../../x' is not sha256:<64 hex>",
	           "bad digest string");

	json_object_set_new(d, "digest", json_string(fx.manifest_digest));
	json_object_del(d, "mediaType");
	write_json_file(&fx, "index.json", fx.index);
	expect_one(&fx, "index.json: manifests[0]: mediaType is missing or not a string",
	           "descriptor without mediaType");
	fx_end(&fx);

	/* A bad digest inside a manifest is never used as a path either. */
	fx_valid(&fx, MT_LAYER_GZIP);
	json_t *ld = json_array_get(json_object_get(fx.manifest, "layers"), 0);
	json_object_set_new(ld, "digest", json_string("sha256:../../../etc/passwd"));
	fx_write(&fx);
	_cleanup_free_ char *want2 =
	        xasprintf("manifest %s: layers[0]: digest "
	                  "'sha256:../../../etc/passwd' is not sha256:<64 hex>",
	                  fx.manifest_digest);
	expect_one(&fx, want2, "bad layer digest");
	fx_end(&fx);
}

static void test_index_json(void)
{
	struct fx fx;
	fx_valid(&fx, MT_LAYER_GZIP);
	_cleanup_free_ char *path = xasprintf("%s/index.json", fx.dir);
	write_file(path, "{\"schemaVersion\": 2, \"manifests\": [", 35);
	struct result r = run(&fx);
	ok(r.rc == 0 && r.n == 1 && strncmp(r.out.data, "index.json: invalid JSON (line ", 31) == 0,
	   "malformed index.json");
	lade_buf_release(&r.out);

	write_file(path, "{\"schemaVersion\":1,\"manifests\":{}}", 34);
	r = run(&fx);
	is_str(r.out.data,
	       "index.json: schemaVersion is not 2\n"
	       "index.json: manifests is missing or not an array\n",
	       "index.json schema problems");
	ok(r.n == 2, "two index.json problems");
	lade_buf_release(&r.out);

	unlink(path);
	expect_one(&fx, "index.json: missing", "missing index.json");

	_cleanup_free_ char *layout = xasprintf("%s/oci-layout", fx.dir);
	write_file(layout, "{\"imageLayoutVersion\":\"2.0.0\"}", 30);
	fx_write(&fx);
	expect_one(&fx, "oci-layout: unsupported imageLayoutVersion '2.0.0'", "oci-layout version");
	unlink(layout);
	expect_one(&fx, "oci-layout: missing", "missing oci-layout");
	fx_end(&fx);
}

static void test_config(void)
{
	struct fx fx;
	fx_valid(&fx, MT_LAYER_GZIP);
	json_array_remove(json_object_get(json_object_get(fx.config, "rootfs"), "diff_ids"), 1);
	fx_write(&fx);
	_cleanup_free_ char *want = xasprintf("config %s: 1 diff_ids but manifest %s has 2 layers",
	                                      fx.config_digest, fx.manifest_digest);
	expect_one(&fx, want, "diff_ids count mismatch");
	fx_end(&fx);

	fx_valid(&fx, MT_LAYER_GZIP);
	json_array_append_new(json_object_get(fx.config, "history"),
	                      json_pack("{s:b}", "empty_layer", 1));
	json_object_del(fx.config, "os");
	fx_write(&fx);
	struct result r = run(&fx);
	ok(r.rc == 0 && r.n == 1, "empty_layer history entries do not count");
	_cleanup_free_ char *want2 =
	        xasprintf("config %s: os is missing or not a string\n", fx.config_digest);
	is_str(r.out.data, want2, "config without os");
	lade_buf_release(&r.out);

	json_object_set_new(fx.config, "os", json_string("linux"));
	json_array_append_new(json_object_get(fx.config, "history"), json_object());
	json_object_set_new(json_object_get(fx.config, "rootfs"), "type", json_string("tar"));
	fx_write(&fx);
	r = run(&fx);
	_cleanup_free_ char *want3 =
	        xasprintf("config %s: history has 3 non-empty layers but manifest %s has 2 "
	                  "layers\nconfig %s: rootfs.type is not 'layers'\n",
	                  fx.config_digest, fx.manifest_digest, fx.config_digest);
	is_str(r.out.data, want3, "history count and rootfs.type");
	lade_buf_release(&r.out);
	fx_end(&fx);
}

static void test_manifest(void)
{
	struct fx fx;
	fx_valid(&fx, MT_LAYER_GZIP);
	json_t *ld = json_array_get(json_object_get(fx.manifest, "layers"), 1);
	json_object_set_new(ld, "mediaType", json_string("text/plain"));
	json_object_set_new(fx.manifest, "schemaVersion", json_integer(1));
	fx_write(&fx);
	struct result r = run(&fx);
	_cleanup_free_ char *want = xasprintf(
	        "manifest %s: schemaVersion is not 2\n"
	        "manifest %s: layers[1].mediaType 'text/plain' is not a layer media type\n",
	        fx.manifest_digest, fx.manifest_digest);
	is_str(r.out.data, want, "manifest schemaVersion and unknown layer media type");
	lade_buf_release(&r.out);
	fx_end(&fx);

	/* A gzip layer labelled zstd is caught by the decompressor, not auto-detected. */
	fx_valid(&fx, MT_LAYER_GZIP);
	ld = json_array_get(json_object_get(fx.manifest, "layers"), 1);
	json_object_set_new(ld, "mediaType", json_string(MT_LAYER_ZSTD));
	fx_write(&fx);
	_cleanup_free_ char *want2 =
	        xasprintf("layer 2 (%s): zstd: Unknown frame descriptor", fx.layers[1].digest);
	expect_one(&fx, want2, "wrong compression media type");
	fx_end(&fx);
}

static void test_nested_and_ref(void)
{
	struct fx fx;
	fx_valid(&fx, MT_LAYER_ZSTD);
	/* index.json -> nested index -> manifest */
	char nested[LADE_DIGEST_STRLEN];
	uint64_t nested_size;
	json_t *sub =
	        json_pack("{s:i,s:s,s:[O]}", "schemaVersion", 2, "mediaType", MT_INDEX, "manifests",
	                  json_array_get(json_object_get(fx.index, "manifests"), 0));
	write_json_blob(&fx, sub, nested, &nested_size);
	json_t *top =
	        json_pack("{s:i,s:[{s:s,s:s,s:I,s:{s:s}}]}", "schemaVersion", 2, "manifests",
	                  "mediaType", MT_INDEX, "digest", nested, "size", (json_int_t)nested_size,
	                  "annotations", "org.opencontainers.image.ref.name", "v1");
	write_json_file(&fx, "index.json", top);
	struct result r = run(&fx);
	ok(r.rc == 0 && r.n == 0, "nested index verifies");
	lade_buf_release(&r.out);

	struct lade_verify_options o = LADE_VERIFY_OPTIONS_INIT;
	o.ref = "v1";
	r = run_opts(fx.dir, &o);
	ok(r.rc == 0 && r.n == 0, "ref v1 found");
	lade_buf_release(&r.out);
	o.ref = "nope";
	r = run_opts(fx.dir, &o);
	is_str(r.out.data, "index.json: no manifest with ref name 'nope'\n", "unknown ref");
	lade_buf_release(&r.out);

	json_object_set_new(sub, "schemaVersion", json_integer(3));
	write_json_blob(&fx, sub, nested, &nested_size);
	json_t *d = json_array_get(json_object_get(top, "manifests"), 0);
	json_object_set_new(d, "digest", json_string(nested));
	json_object_set_new(d, "size", json_integer((json_int_t)nested_size));
	write_json_file(&fx, "index.json", top);
	_cleanup_free_ char *want = xasprintf("index %s: schemaVersion is not 2", nested);
	expect_one(&fx, want, "nested index schemaVersion");
	json_decref(sub);
	json_decref(top);
	fx_end(&fx);
}

static void test_limits(void)
{
	struct fx fx;
	fx_one(&fx,
	       (const struct tar_ent[]){{"a", 'f', "1", 0},
	                                {"./a", 'f', "2", 0},
	                                {"a/", 'f', "3", 0},
	                                {"./a/", 'f', "4", 0},
	                                {"/x", 'f', "5", 0},
	                                {NULL, 0, NULL, 0}},
	       NULL);
	struct lade_verify_options o = LADE_VERIFY_OPTIONS_INIT;
	o.max_problems = 2;
	struct result r = run_opts(fx.dir, &o);
	size_t lines = 0;
	for (const char *p = r.out.data; *p; p++)
		lines += *p == '\n';
	ok(r.rc == 0 && r.n == 4 && lines == 2, "max_problems lists 2 of 4 (n %zu, lines %zu)", r.n,
	   lines);
	lade_buf_release(&r.out);
	fx_end(&fx);

	struct lade_buf out = LADE_BUF_INIT;
	size_t n = 99;
	struct lade_error *err = NULL;
	int rc = lade_verify_layout("/nonexistent/lade-verify", NULL, &out, &n, &err);
	ok(rc == -1, "missing layout directory fails");
	is_str(err ? err->msg : NULL,
	       "cannot open layout /nonexistent/lade-verify: No such file or directory",
	       "missing layout directory message");
	lade_error_free(err);
	lade_buf_release(&out);
}

/* A layer whose blob is given (tar split and compressed by the caller). */
static struct fx_layer *fx_add_raw_layer(struct fx *fx, const char *mt, const struct lade_buf *tar,
                                         const struct lade_buf *blob)
{
	struct fx_layer *l = &fx->layers[fx->n_layers++];
	l->mt = mt;
	lade_sha256_buf(tar->data, tar->len, l->diff_id);
	put_blob(fx->dir, blob->data, blob->len, l->digest);
	l->size = blob->len;
	return l;
}

static void test_streams(void)
{
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	make_tar(good_ents, SIZE_MAX, false, &tar);
	struct lade_buf head = {tar.data, 1024, 0}, tail = {tar.data + 1024, tar.len - 1024, 0};

	/* Concatenated gzip members and zstd frames are one stream (chunked compressors). */
	_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT, gz2 = LADE_BUF_INIT;
	gzip_buf(&head, &gz);
	gzip_buf(&tail, &gz2);
	lade_buf_add(&gz, gz2.data, gz2.len);
	_cleanup_buf_ struct lade_buf zs = LADE_BUF_INIT, zs2 = LADE_BUF_INIT;
	zstd_buf(&head, &zs);
	zstd_buf(&tail, &zs2);
	lade_buf_add(&zs, zs2.data, zs2.len);
	struct fx fx;
	fx_begin(&fx);
	fx_add_raw_layer(&fx, MT_LAYER_GZIP, &tar, &gz);
	fx_add_raw_layer(&fx, MT_LAYER_ZSTD, &tar, &zs);
	fx_build(&fx);
	fx_write(&fx);
	struct result r = run(&fx);
	ok(r.rc == 0 && r.n == 0, "multi-member gzip and multi-frame zstd layers verify");
	lade_buf_release(&r.out);
	fx_end(&fx);

	/* Bytes after the last gzip member that are not another member. */
	lade_buf_adds(&gz, "junk");
	fx_begin(&fx);
	struct fx_layer *l = fx_add_raw_layer(&fx, MT_LAYER_GZIP, &tar, &gz);
	fx_build(&fx);
	fx_write(&fx);
	_cleanup_free_ char *want =
	        xasprintf("layer 1 (%s): trailing garbage after gzip stream", l->digest);
	expect_one(&fx, want, "garbage after the gzip stream");
	fx_end(&fx);

	/* A member whose trailer crc does not match its data. */
	lade_buf_reset(&gz);
	gzip_buf(&tar, &gz);
	gz.data[gz.len - 7] ^= 0x20;
	fx_begin(&fx);
	l = fx_add_raw_layer(&fx, MT_LAYER_GZIP, &tar, &gz);
	fx_build(&fx);
	fx_write(&fx);
	_cleanup_free_ char *want_crc = xasprintf(
	        "layer 1 (%s): gzip: crc or length mismatch in member trailer", l->digest);
	expect_one(&fx, want_crc, "gzip trailer crc mismatch");
	fx_end(&fx);

	/* One blob used by two layers: its problems are listed once, both diff_ids checked. */
	fx_begin(&fx);
	l = fx_add_layer(&fx,
	                 (const struct tar_ent[]){
	                         {"a", 'f', "1", 0}, {"a", 'f', "2", 0}, {NULL, 0, NULL, 0}},
	                 NULL);
	fx.layers[fx.n_layers++] = *l;
	lade_sha256_buf("x", 1, fx.layers[1].diff_id);
	fx_build(&fx);
	fx_write(&fx);
	r = run(&fx);
	_cleanup_free_ char *want2 =
	        xasprintf("layer 1 (%s): duplicate path 'a'\n"
	                  "layer 2 (%s): diff_id mismatch: config says %s, tar is %s\n",
	                  l->digest, l->digest, fx.layers[1].diff_id, l->diff_id);
	is_str(r.out.data, want2, "shared layer blob: problems once, diff_ids each");
	ok(r.n == 2, "shared layer blob: two problems");
	lade_buf_release(&r.out);
	fx_end(&fx);
}

static void test_real_base(void)
{
	const char *env = getenv("LADE_TEST_BASE_OCI");
	const char *src = getenv("LADE_TEST_SRCDIR");
	_cleanup_free_ char *dir =
	        env && *env ? xstrdup(env)
	                    : xasprintf("%s/recipes/.base/oci", src ? src : "/work/main");
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		tap_n++;
		printf("ok %d - # SKIP no base layout at %s (tests/fixtures/make-base.sh)\n", tap_n,
		       dir);
		return;
	}
	struct result r = run_opts(dir, NULL);
	ok(r.rc == 0 && r.n == 0, "buildah-written base layout %s verifies", dir);
	lade_buf_release(&r.out);
}

int main(void)
{
	test_valid();
	test_flipped_byte();
	test_wrong_diff_id();
	test_truncated();
	test_streams();
	test_tar_rules();
	test_missing_blob();
	test_descriptors();
	test_index_json();
	test_config();
	test_manifest();
	test_nested_and_ref();
	test_limits();
	test_real_base();
	return tap_done();
}
