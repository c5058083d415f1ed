/* Tests for lade_inspect() and lade_diff(): layouts built through lade_build_run() from tiny
 * scratch recipes written here, plus a hand-made two-layer layout with whiteouts; archives
 * made from those layouts with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/build.h"
#include "lade/digest.h"
#include "lade/inspect.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

static char *tmp;

/* Paths are relative to tmp, the working directory. */
static void write_str(const char *rel, const char *s)
{
	write_file(rel, s, strlen(s));
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Build recipe `name` (already written under tmp) into layout `out` with tag `tag`. */
static struct lade_build_report *build(const char *name, const char *out, const char *tag)
{
	_cleanup_free_ char *recipe = xasprintf("%s/%s", tmp, name);
	_cleanup_free_ char *outdir = xasprintf("%s/%s", tmp, out);
	struct lade_build_options o = {.recipe_path = recipe,
	                               .output_dir = outdir,
	                               .level = -1,
	                               .tag = tag,
	                               .jobs = 1,
	                               .lock_timeout_s = 5};
	struct lade_build_report *r = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_build_run(&o, &r, &err) < 0) {
		printf("# build %s: %s\n", name, err->msg);
		return NULL;
	}
	return r;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_int_t jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static json_t *inspect(const char *image, size_t top, bool by_package, char **errmsg)
{
	struct lade_inspect_options o = {.layers = true, .top = top, .by_package = by_package};
	json_t *j = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_inspect(image, &o, &j, &err) < 0) {
		if (errmsg)
			*errmsg = xstrdup(err->msg);
		else
			printf("# inspect %s: %s\n", image, err->msg);
		return NULL;
	}
	return j;
}

static char *diff(const char *a, const char *b, json_t **out, bool *different)
{
	_cleanup_error_ struct lade_error *err = NULL;
	*out = NULL;
	if (lade_diff(a, b, out, different, &err) < 0)
		return xstrdup(err->msg);
	return NULL;
}

static const char recipe_app[] = "name: t\n"
                                 "tag: \"1\"\n"
                                 "base: {scratch: true}\n"
                                 "files:\n"
                                 "  - {src: app/, dst: /app}\n"
                                 "  - {src: site/, dst: /venv/lib/python3.11/site-packages}\n"
                                 "config:\n"
                                 "  entrypoint: [\"/app/run\"]\n";

static char record[512];
static uint64_t record_sum;

static void make_inputs(void)
{
	static char big[5000], mid[700];
	memset(big, 'b', sizeof(big));
	memset(mid, 'm', sizeof(mid));
	write_file("app/big.bin", big, sizeof(big));
	write_file("app/sub/mid.bin", mid, sizeof(mid));
	write_str("app/a.txt", "hello\n");
	write_file("app/run", "#!/bin/sh\n", 10);
	chmod("app/run", 0755);
	/* A distribution: two listed sizes, one row without a size (RECORD itself, whose own
	 * size in the image counts) and one row for a file that is not there (0). */
	write_str("site/demo/__init__.py", "print('demo')\n");
	write_str("site/demo/data.txt", "0123456789abcdef\n");
	snprintf(record, sizeof(record),
	         "demo/__init__.py,sha256=x,14\n"
	         "\"demo/data.txt\",sha256=y,17\n"
	         "demo_pkg-2.0.dist-info/RECORD,,\r\n"
	         "demo/gone.py,,\n");
	write_str("site/demo_pkg-2.0.dist-info/RECORD", record);
	record_sum = 14 + 17 + strlen(record);
	write_str("site/other-0.1.dist-info/RECORD", "other.py,sha256=z,3\n");
	write_str("site/other.py", "x=1");
	write_str("recipe.yaml", recipe_app);
}

static void test_inspect_build(void)
{
	_cleanup_(lade_build_report_freep) struct lade_build_report *r =
	        build("recipe.yaml", "out", NULL);
	ok(r != NULL && r->n_images == 1 && r->images[0].n_layers == 2, "scratch recipe builds");
	if (r == NULL || r->n_images != 1 || r->images[0].n_layers != 2)
		return;
	_cleanup_free_ char *img = xasprintf("%s/out", tmp);
	_cleanup_(json_decrefp) json_t *j = inspect(img, 3, true, NULL);
	ok(j != NULL, "inspect the layout");
	if (j == NULL)
		return;
	const json_t *im = json_array_get(json_object_get(j, "images"), 0);
	ok(json_array_size(json_object_get(j, "images")) == 1, "one image");
	is_str(jstr(im, "digest"), r->images[0].digest, "manifest digest");
	is_str(jstr(im, "ref"), "1", "ref");
	is_str(jstr(im, "platform"), r->images[0].platform, "platform");
	is_str(json_string_value(json_array_get(json_object_get(im, "entrypoint"), 0)), "/app/run",
	       "entrypoint");
	ok(jint(im, "manifest_size") == (json_int_t)r->images[0].manifest_size, "manifest size");

	const json_t *layers = json_object_get(im, "layers");
	json_int_t sum = 0, usum = 0;
	bool blob_sizes = true, tar_sizes = true, ids = true;
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const json_t *l = json_array_get(layers, i);
		const struct lade_build_layer *bl = &r->images[0].layers[i];
		_cleanup_free_ char *p = xasprintf("%s/out/blobs/sha256/%s", tmp,
		                                   lade_digest_hex(jstr(l, "digest")));
		blob_sizes &= file_size(p) == jint(l, "size");
		tar_sizes &= (uint64_t)jint(l, "uncompressed_size") == bl->tar_size;
		ids &= strcmp(jstr(l, "diff_id"), bl->diff_id) == 0;
		sum += jint(l, "size");
		usum += jint(l, "uncompressed_size");
	}
	ok(blob_sizes, "each layer size is its blob's size");
	ok(tar_sizes, "each uncompressed size is the tar size the build wrote");
	ok(ids, "diff_ids as built");
	ok(jint(im, "layers_size") == sum, "layers_size is the sum of the layer sizes");
	ok(jint(im, "uncompressed_size") == usum, "uncompressed_size is the sum of the tars");
	const json_t *cfg = json_object_get(im, "config");
	_cleanup_free_ char *cp =
	        xasprintf("%s/out/blobs/sha256/%s", tmp, lade_digest_hex(jstr(cfg, "digest")));
	ok(file_size(cp) == jint(cfg, "size"), "config size is its blob's size");
	ok(jint(im, "size") == sum + jint(cfg, "size") + jint(im, "manifest_size"),
	   "size = layers + config + manifest");
	ok(jint(j, "total_bytes") == jint(im, "size") && jint(j, "shared_bytes") == 0 &&
	           jint(im, "unique_bytes") == jint(im, "size"),
	   "one image: all bytes unique");
	is_str(jstr(json_array_get(layers, 0), "created_by"), "lade COPY app/ /app",
	       "history text of layer 1");

	const json_t *top = json_object_get(im, "top");
	ok(json_array_size(top) == 3, "--top 3 gives 3 files");
	is_str(jstr(json_array_get(top, 0), "path"), "app/big.bin", "largest file");
	ok(jint(json_array_get(top, 0), "size") == 5000, "largest file size");
	is_str(jstr(json_array_get(top, 1), "path"), "app/sub/mid.bin", "second largest file");
	_cleanup_free_ char *third = xasprintf("venv/lib/python3.11/site-packages/"
	                                       "demo_pkg-2.0.dist-info/RECORD");
	is_str(jstr(json_array_get(top, 2), "path"), third, "third largest file (the RECORD)");

	const json_t *pk = json_object_get(im, "packages");
	ok(json_array_size(pk) == 2, "two distributions");
	const json_t *demo = json_array_get(pk, 0);
	is_str(jstr(demo, "name"), "demo_pkg", "largest distribution first");
	is_str(jstr(demo, "version"), "2.0", "version from the dist-info name");
	is_str(jstr(demo, "location"), "venv/lib/python3.11/site-packages", "location");
	ok((uint64_t)jint(demo, "bytes") == record_sum, "bytes = RECORD sizes + RECORD itself");
	ok(jint(demo, "files") == 4, "files = RECORD rows");
	ok(jint(json_array_get(pk, 1), "bytes") == 3, "other: 3 bytes");

	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	lade_inspect_format(j, &b);
	ok(strstr(b.data, "/app/big.bin") && strstr(b.data, "demo_pkg") &&
	           strstr(b.data, "lade COPY app/ /app"),
	   "human output lists files, packages and history");

	/* The same content under a second tag with another entrypoint: the layers are shared. */
	write_str("recipe2.yaml", "name: t\ntag: \"2\"\nbase: {scratch: true}\nfiles:\n"
	                          "  - {src: app/, dst: /app}\n"
	                          "  - {src: site/, dst: /venv/lib/python3.11/site-packages}\n"
	                          "config:\n  entrypoint: [\"/app/other\"]\n");
	_cleanup_(lade_build_report_freep) struct lade_build_report *r2 =
	        build("recipe2.yaml", "out", NULL);
	ok(r2 != NULL, "second tag into the same layout");
	_cleanup_(json_decrefp) json_t *j2 = inspect(img, 0, false, NULL);
	const json_t *imgs = json_object_get(j2, "images");
	ok(json_array_size(imgs) == 2, "two images in the layout");
	const json_t *i1 = json_array_get(imgs, 0), *i2 = json_array_get(imgs, 1);
	ok(jint(j2, "shared_bytes") == sum, "shared bytes are the layers");
	ok(jint(i1, "uncompressed_size") == usum && jint(i2, "uncompressed_size") == usum,
	   "a layer streamed once counts for both images");
	ok(jint(i1, "unique_bytes") == jint(i1, "size") - sum &&
	           jint(i2, "unique_bytes") == jint(i2, "size") - sum,
	   "unique bytes are each image's manifest and config");
	ok(jint(j2, "total_bytes") == jint(i1, "size") + jint(i2, "size") - sum,
	   "total counts shared blobs once");
	_cleanup_free_ char *tagged = xasprintf("%s/out:2", tmp);
	_cleanup_(json_decrefp) json_t *j3 = inspect(tagged, 0, false, NULL);
	ok(json_array_size(json_object_get(j3, "images")) == 1 &&
	           strcmp(jstr(json_array_get(json_object_get(j3, "images"), 0), "ref"), "2") == 0,
	   "DIR:TAG selects one image");

	/* diff: the layout holds two images now */
	json_t *d;
	bool different;
	_cleanup_free_ char *msg = diff(img, tagged, &d, &different);
	_cleanup_free_ char *want =
	        xasprintf("%s holds 2 images (1, 2): name one as IMAGE:TAG", img);
	is_str(msg, want, "diff needs one image per side");
}

static void test_diff_builds(void)
{
	_cleanup_(lade_build_report_freep) struct lade_build_report *r1 =
	        build("recipe.yaml", "d1", NULL);
	_cleanup_(lade_build_report_freep) struct lade_build_report *r2 =
	        build("recipe.yaml", "d2", NULL);
	ok(r1 && r2, "two builds of one recipe");
	_cleanup_free_ char *a = xasprintf("%s/d1", tmp);
	_cleanup_free_ char *b = xasprintf("%s/d2", tmp);
	json_t *d;
	bool different = true;
	_cleanup_free_ char *msg = diff(a, b, &d, &different);
	ok(msg == NULL && !different, "identical builds: no difference");
	const json_t *files = json_object_get(d, "files");
	ok(json_is_true(json_object_get(d, "identical")) &&
	           json_array_size(json_object_get(files, "added")) == 0 &&
	           json_array_size(json_object_get(files, "modified")) == 0 &&
	           json_array_size(json_object_get(files, "removed")) == 0 &&
	           json_array_size(json_object_get(d, "layers_only_in_a")) == 0,
	   "identical builds: empty report");
	json_decref(d);

	write_str("app/a.txt", "hello, changed\n");
	write_str("app/new.txt", "new\n");
	_cleanup_(lade_build_report_freep) struct lade_build_report *r3 =
	        build("recipe.yaml", "d3", NULL);
	_cleanup_free_ char *c = xasprintf("%s/d3", tmp);
	_cleanup_free_ char *msg2 = diff(a, c, &d, &different);
	ok(msg2 == NULL && different, "a changed file: different");
	files = json_object_get(d, "files");
	const json_t *mod = json_object_get(files, "modified");
	ok(json_array_size(mod) == 1, "exactly one file modified");
	is_str(jstr(json_array_get(mod, 0), "path"), "app/a.txt", "the changed file");
	const json_t *ea = json_object_get(json_array_get(mod, 0), "a");
	const json_t *eb = json_object_get(json_array_get(mod, 0), "b");
	char want[LADE_DIGEST_STRLEN];
	lade_sha256_buf("hello, changed\n", 15, want);
	is_str(jstr(eb, "sha256"), want, "sha256 of the new content");
	ok(jint(ea, "size") == 6 && jint(eb, "size") == 15 && jint(eb, "mode") == 0644,
	   "sizes and mode of both sides");
	const json_t *add = json_object_get(files, "added");
	ok(json_array_size(add) == 1 &&
	           strcmp(jstr(json_array_get(add, 0), "path"), "app/new.txt") == 0,
	   "exactly the new file added");
	ok(json_array_size(json_object_get(files, "removed")) == 0, "nothing removed");
	const json_t *layers = json_object_get(d, "layers");
	ok(json_array_size(layers) == 2 &&
	           strcmp(jstr(json_array_get(layers, 0), "status"), "changed") == 0 &&
	           strcmp(jstr(json_array_get(layers, 1), "status"), "equal") == 0,
	   "layer 1 changed, layer 2 equal");
	ok(json_array_size(json_object_get(d, "layers_only_in_a")) == 1 &&
	           json_array_size(json_object_get(d, "layers_only_in_b")) == 1,
	   "one diff_id only on each side");
	_cleanup_buf_ struct lade_buf bf = LADE_BUF_INIT;
	lade_diff_format(d, &bf);
	ok(strstr(bf.data, "+ /app/new.txt") && strstr(bf.data, "> /app/a.txt") &&
	           strstr(bf.data, "1 added, 0 removed, 1 modified"),
	   "human diff output");
	json_decref(d);
	write_str("app/a.txt", "hello\n");
	_cleanup_free_ char *p = xasprintf("%s/app/new.txt", tmp);
	unlink(p);
}

/* --- a hand-made layout: two uncompressed layers, the second with whiteouts ----------- */

static void make_layout(const char *dir, const struct tar_ent *l1, size_t n1,
                        const struct tar_ent *l2, size_t n2)
{
	char d1[LADE_DIGEST_STRLEN], d2[LADE_DIGEST_STRLEN], dc[LADE_DIGEST_STRLEN],
	        dm[LADE_DIGEST_STRLEN];
	_cleanup_buf_ struct lade_buf t1 = LADE_BUF_INIT, t2 = LADE_BUF_INIT;
	make_tar(l1, n1, false, &t1);
	make_tar(l2, n2, false, &t2);
	put_blob(dir, t1.data, t1.len, d1);
	put_blob(dir, t2.data, t2.len, d2);
	json_t *cfg = json_pack("{s:s, s:s, s:{s:s, s:[s, s]}, s:[{s:s}, {s:s}]}", "os", "linux",
	                        "architecture", "amd64", "rootfs", "type", "layers", "diff_ids", d1,
	                        d2, "history", "created_by", "one", "created_by", "two");
	char *cs = json_dumps(cfg, JSON_SORT_KEYS | JSON_COMPACT);
	put_blob(dir, cs, strlen(cs), dc);
	const char *mt = "application/vnd.oci.image.layer.v1.tar";
	json_t *m = json_pack(
	        "{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}, {s:s, s:s, s:I}]}",
	        "schemaVersion", 2, "mediaType", "application/vnd.oci.image.manifest.v1+json",
	        "config", "mediaType", "application/vnd.oci.image.config.v1+json", "digest", dc,
	        "size", (json_int_t)strlen(cs), "layers", "mediaType", mt, "digest", d1, "size",
	        (json_int_t)t1.len, "mediaType", mt, "digest", d2, "size", (json_int_t)t2.len);
	char *ms = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
	put_blob(dir, ms, strlen(ms), dm);
	json_t *idx = json_pack(
	        "{s:i, s:[{s:s, s:s, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests", "mediaType",
	        "application/vnd.oci.image.manifest.v1+json", "digest", dm, "size",
	        (json_int_t)strlen(ms), "annotations", "org.opencontainers.image.ref.name", "w");
	char *is = json_dumps(idx, JSON_SORT_KEYS | JSON_COMPACT);
	_cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
	write_str(ip, is);
	_cleanup_free_ char *lp = xasprintf("%s/oci-layout", dir);
	write_str(lp, "{\"imageLayoutVersion\":\"1.0.0\"}");
	free(cs);
	free(ms);
	free(is);
	json_decref(cfg);
	json_decref(m);
	json_decref(idx);
}

static const struct tar_ent base_layer[] = {
        {"big/", 'd', NULL, 0},
        {"big/huge.dat", 'f', "0123456789012345678901234567890123456789", 0},
        {"keep.txt", 'f', "keep me", 0},
        {"opq/", 'd', NULL, 0},
        {"opq/old.txt", 'f', "old", 0},
};

static void test_whiteouts(void)
{
	static const struct tar_ent upper[] = {
	        {".wh.big", 'f', "", 0},
	        {"opq/", 'd', NULL, 0},
	        {"opq/.wh..wh..opq", 'f', "", 0},
	        {"opq/new.txt", 'f', "new!", 0},
	};
	make_layout("wh", base_layer, LADE_ARRAY_SIZE(base_layer), upper, LADE_ARRAY_SIZE(upper));
	_cleanup_free_ char *img = xasprintf("%s/wh:w", tmp);
	_cleanup_(json_decrefp) json_t *j = inspect(img, 10, false, NULL);
	ok(j != NULL, "inspect a layout with whiteouts");
	const json_t *im = json_array_get(json_object_get(j, "images"), 0);
	const json_t *top = json_object_get(im, "top");
	ok(json_array_size(top) == 2, "whited-out files are not in the merged file system");
	is_str(jstr(json_array_get(top, 0), "path"), "keep.txt", "largest remaining file");
	is_str(jstr(json_array_get(top, 1), "path"), "opq/new.txt", "file above the opaque dir");
	is_str(jstr(json_array_get(json_object_get(im, "layers"), 1), "created_by"), "two",
	       "history of layer 2");
	ok(jint(json_array_get(json_object_get(im, "layers"), 1), "entries") == 4,
	   "entries of layer 2");

	/* diff against the lower layer alone (upper: empty directory) */
	static const struct tar_ent nothing[] = {{"opq/", 'd', NULL, 0}};
	make_layout("wh2", base_layer, LADE_ARRAY_SIZE(base_layer), nothing, 1);
	_cleanup_free_ char *img2 = xasprintf("%s/wh2", tmp);
	json_t *d;
	bool different;
	_cleanup_free_ char *msg = diff(img2, img, &d, &different);
	ok(msg == NULL && different, "diff over whiteouts");
	const json_t *files = json_object_get(d, "files");
	const json_t *rm = json_object_get(files, "removed");
	ok(json_array_size(rm) == 3 && strcmp(jstr(json_array_get(rm, 0), "path"), "big") == 0 &&
	           strcmp(jstr(json_array_get(rm, 1), "path"), "big/huge.dat") == 0 &&
	           strcmp(jstr(json_array_get(rm, 2), "path"), "opq/old.txt") == 0,
	   "removed: the whited-out dir, its file and the file under the opaque dir");
	ok(json_array_size(json_object_get(files, "added")) == 1 &&
	           strcmp(jstr(json_array_get(json_object_get(files, "added"), 0), "path"),
	                  "opq/new.txt") == 0,
	   "added: the new file");
	json_decref(d);

	/* an artifact (an SBOM) next to the image is not an image */
	make_layout("art", base_layer, LADE_ARRAY_SIZE(base_layer), nothing, 1);
	char de[LADE_DIGEST_STRLEN], da[LADE_DIGEST_STRLEN];
	put_blob("art", "{}", 2, de);
	_cleanup_free_ char *am = xasprintf(
	        "{\"artifactType\":\"application/spdx+json\",\"config\":{\"digest\":\"%s\","
	        "\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"size\":2},\"layers\":[],"
	        "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}",
	        de);
	put_blob("art", am, strlen(am), da);
	_cleanup_buf_ struct lade_buf ib = LADE_BUF_INIT;
	lade_read_file("art/index.json", 1 << 20, &ib, NULL);
	json_t *idx = json_loads(ib.data, 0, NULL);
	json_array_append_new(json_object_get(idx, "manifests"),
	                      json_pack("{s:s, s:s, s:I}", "mediaType",
	                                "application/vnd.oci.image.manifest.v1+json", "digest", da,
	                                "size", (json_int_t)strlen(am)));
	char *is = json_dumps(idx, JSON_COMPACT);
	write_str("art/index.json", is);
	free(is);
	json_decref(idx);
	_cleanup_free_ char *art = xasprintf("%s/art", tmp);
	_cleanup_(json_decrefp) json_t *ja = inspect(art, 0, false, NULL);
	ok(ja && json_array_size(json_object_get(ja, "images")) == 1,
	   "an artifact manifest in the index is not listed as an image");

	/* a layer entry that climbs out of the root */
	static const struct tar_ent climb[] = {{"a/../../evil", 'f', "x", 0}};
	make_layout("esc", base_layer, LADE_ARRAY_SIZE(base_layer), climb, 1);
	_cleanup_free_ char *esc = xasprintf("%s/esc", tmp);
	_cleanup_free_ char *escmsg = NULL;
	ok(inspect(esc, 1, false, &escmsg) == NULL, "an entry escaping the root fails");
	ok(escmsg && strstr(escmsg, ": layer 2 (sha256:") &&
	           strstr(escmsg, "): entry 'a/../../evil' escapes the root"),
	   "the message names the layer and the entry: %s", escmsg ? escmsg : "");

	/* --no-layers: nothing decompressed */
	struct lade_inspect_options nl = {.layers = false};
	json_t *jn = NULL;
	_cleanup_error_ struct lade_error *nerr = NULL;
	ok(lade_inspect(img, &nl, &jn, &nerr) == 0, "inspect without layers");
	const json_t *nim = json_array_get(json_object_get(jn, "images"), 0);
	ok(json_object_get(nim, "uncompressed_size") == NULL &&
	           json_object_get(json_array_get(json_object_get(nim, "layers"), 0), "diff_id"),
	   "no uncompressed size, diff_id from the config");
	json_decref(jn);

	/* a tampered layer blob */
	_cleanup_free_ char *bad = xasprintf("%s/wh", tmp);
	const char *l1 = jstr(json_array_get(json_object_get(im, "layers"), 0), "digest");
	_cleanup_free_ char *bp = xasprintf("%s/blobs/sha256/%s", bad, lade_digest_hex(l1));
	FILE *f = fopen(bp, "r+b");
	fseek(f, 600, SEEK_SET);
	fputc('X', f);
	fclose(f);
	_cleanup_free_ char *err = NULL;
	json_t *none = inspect(img, 0, false, &err);
	ok(none == NULL, "a tampered layer fails");
	ok(err && strstr(err, "layer 1 (") && strstr(err, "digest mismatch"),
	   "the message names the layer: %s", err ? err : "");
}

static void write_archive(const char *rel, const char *member, const char *content)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", tmp, rel);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open_filename(a, path);
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, member);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, (la_int64_t)strlen(content));
	archive_write_header(a, ae);
	archive_write_data(a, content, strlen(content));
	archive_entry_free(ae);
	archive_write_close(a);
	archive_write_free(a);
}

static void test_archives_and_errors(void)
{
	/* oci-archive: the layout "out" as one tar with ./ names */
	_cleanup_free_ char *cmd =
	        xasprintf("tar -C '%s/out' -cf '%s/out.tar' . 2>/dev/null", tmp, tmp);
	if (system(cmd) == 0) {
		_cleanup_free_ char *img = xasprintf("oci-archive:%s/out.tar:1", tmp);
		_cleanup_(json_decrefp) json_t *j = inspect(img, 1, false, NULL);
		const json_t *im = json_array_get(json_object_get(j, "images"), 0);
		ok(j && json_array_size(json_object_get(j, "images")) == 1 &&
		           strcmp(jstr(json_array_get(json_object_get(im, "top"), 0), "path"),
		                  "app/big.bin") == 0,
		   "oci-archive:FILE:TAG is read like the layout");
		_cleanup_free_ char *a = xasprintf("%s/out:1", tmp);
		json_t *d;
		bool different = true;
		_cleanup_free_ char *msg = diff(a, img, &d, &different);
		ok(msg == NULL && !different, "layout and its oci-archive are identical");
		json_decref(d);
	} else {
		ok(1, "# SKIP no tar");
		ok(1, "# SKIP no tar");
	}

	write_archive("evil.tar", "../evil", "x");
	_cleanup_free_ char *evil = xasprintf("oci-archive:%s/evil.tar", tmp);
	_cleanup_free_ char *err = NULL;
	ok(inspect(evil, 0, false, &err) == NULL, "unsafe member refused");
	_cleanup_free_ char *want = xasprintf("%s: unsafe member name '../evil'", evil);
	is_str(err, want, "message names the member");

	write_archive("noidx.tar", "manifest.json", "{}");
	_cleanup_free_ char *dk = xasprintf("docker-archive:%s/noidx.tar", tmp);
	free(err);
	err = NULL;
	ok(inspect(dk, 0, false, &err) == NULL, "docker-archive without images fails");
	_cleanup_free_ char *want2 = xasprintf("%s: manifest.json: not a JSON array", dk);
	is_str(err, want2, "message names manifest.json");

	_cleanup_free_ char *missing = xasprintf("%s/nope", tmp);
	free(err);
	err = NULL;
	ok(inspect(missing, 0, false, &err) == NULL, "missing layout fails");
	_cleanup_free_ char *want3 = xasprintf(
	        "image '%s': cannot open %s: No such file or directory", missing, missing);
	is_str(err, want3, "message names the path");

	_cleanup_free_ char *tagless = xasprintf("%s/out:9", tmp);
	free(err);
	err = NULL;
	ok(inspect(tagless, 0, false, &err) == NULL, "unknown tag fails");
	_cleanup_free_ char *want4 = xasprintf("%s: no image tagged '9'", tagless);
	is_str(err, want4, "message names the tag");

	_cleanup_free_ char *file = xasprintf("%s/recipe.yaml", tmp);
	free(err);
	err = NULL;
	ok(inspect(file, 0, false, &err) == NULL, "a file as a layout fails");
	ok(err && strstr(err, "is not a directory (use oci-archive: or docker-archive: for a tar)"),
	   "message says what to use: %s", err ? err : "");

	struct lade_inspect_options o = {.layers = false, .top = 3};
	json_t *j = NULL;
	_cleanup_error_ struct lade_error *e = NULL;
	ok(lade_inspect(file, &o, &j, &e) < 0 && e &&
	           strstr(e->msg, "the largest files and packages need the layers"),
	   "--top without layers is refused");
}

int main(void)
{
	tmp = make_tmpdir("test-inspect");
	unsetenv("SOURCE_DATE_EPOCH");
	if (chdir(tmp) < 0)
		return 1;
	make_inputs();
	test_inspect_build();
	test_diff_builds();
	test_whiteouts();
	test_archives_and_errors();
	rm_rf(tmp);
	free(tmp);
	return tap_done();
}
