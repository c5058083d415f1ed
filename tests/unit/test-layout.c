/* Unit tests: manifest/layout.c — the image manifest and index.json writers, checked by reading
 * what they wrote back through the OCI reader (oci.c): the written layout resolves by tag and
 * platform, manifests are deterministic, and an existing index.json is read by the same rules
 * as every image (a key twice, a bad descriptor: refused, left untouched). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lade/image.h"
#include "lade/oci.h"
#include "lade/store.h"
#include "lade/util.h"
#include "tap.h"

static char *read_text(const char *path)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_read_file(path, 1 << 20, &b, &err) < 0)
		return NULL;
	return lade_buf_detach(&b, NULL);
}

static void write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(s, f) < 0 || fclose(f) != 0)
		abort();
}

static size_t temp_files(const char *dir)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		n += strncmp(e->d_name, ".tmp", 4) == 0 || strstr(e->d_name, ".tmp-") != NULL;
	if (d)
		closedir(d);
	return n;
}

static const char *msg(const struct lade_error *e)
{
	return e ? e->msg : "(no error)";
}

struct image {
	char digest[LADE_DIGEST_STRLEN];
	uint64_t size;
};

/* One image: a layer blob (bytes `layer`) and a config for arch. */
static int write_image(struct lade_store *store, const char *layer, const char *arch,
                       const json_t *annotations, struct image *out, struct lade_error **err)
{
	char ld[LADE_DIGEST_STRLEN];
	if (lade_store_put(store, layer, strlen(layer), ld, err) < 0)
		return -1;
	_cleanup_(json_decrefp) json_t *config =
	        json_pack("{s:s,s:s,s:{s:s,s:[s]}}", "architecture", arch, "os", "linux", "rootfs",
	                  "type", "layers", "diff_ids", ld);
	struct lade_manifest_layer l = {"application/vnd.oci.image.layer.v1.tar", ld, strlen(layer),
	                                NULL, false};
	return lade_image_write(store, config, &l, 1, annotations, out->digest, &out->size, err);
}

static void test_round_trip(const char *tmp)
{
	_cleanup_free_ char *dir = xasprintf("%s/rt", tmp);
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_store_open(dir, 0, &store, &err) == 0, "store opens (%s)", msg(err));

	struct image amd, arm, amd2;
	_cleanup_(json_decrefp) json_t *ann = json_pack("{s:s}", "org.example", "x");
	ok(write_image(store, "layer-a", "amd64", ann, &amd, &err) == 0, "amd64 image written");
	ok(write_image(store, "layer-b", "arm64", NULL, &arm, &err) == 0, "arm64 image written");
	ok(write_image(store, "layer-a", "amd64", ann, &amd2, &err) == 0, "amd64 image again");
	is_str(amd2.digest, amd.digest, "same inputs, same manifest digest");

	/* The manifest as written: sorted keys, compact, every descriptor well formed. */
	_cleanup_free_ char *mpath = lade_store_blob_path(store, amd.digest);
	_cleanup_free_ char *mtext = read_text(mpath);
	ok(mtext &&
	           strncmp(mtext, "{\"annotations\":{\"org.example\":\"x\"},\"config\":{", 45) == 0,
	   "manifest keys sorted, annotations kept: %s", mtext ? mtext : "");
	_cleanup_(json_decrefp) json_t *m = NULL;
	ok(mtext && lade_oci_json_parse(mtext, strlen(mtext), "manifest", &m, &err) == 0,
	   "the manifest parses by the reader's rules");
	struct lade_oci_descriptor cd;
	ok(lade_oci_descriptor_parse(json_object_get(m, "config"), "config", &cd, &err) == 0 &&
	           strcmp(cd.media_type, LADE_MT_OCI_CONFIG) == 0,
	   "config descriptor");
	_cleanup_(json_decrefp) json_t *cfg = NULL;
	ok(lade_oci_blob_json(dir, &cd, &cfg, &err) == 0, "config blob verified (%s)", msg(err));

	_cleanup_(json_decrefp) json_t *pa =
	        json_pack("{s:s,s:s}", "os", "linux", "architecture", "amd64");
	_cleanup_(json_decrefp) json_t *pr =
	        json_pack("{s:s,s:s,s:s}", "os", "linux", "architecture", "arm64", "variant", "v8");
	struct lade_index_entry entries[] = {
	        {LADE_MT_OCI_MANIFEST, amd.digest, amd.size, "1.0", pa},
	        {LADE_MT_OCI_MANIFEST, arm.digest, arm.size, "1.0-arm", pr},
	};
	ok(lade_layout_update_index(store, entries, 2, &err) == 0, "index written (%s)", msg(err));
	ok(temp_files(dir) == 0, "no temp file left beside index.json");

	struct lade_oci_platform want;
	if (lade_oci_platform_parse("linux/arm64", &want, &err) < 0)
		abort();
	struct lade_oci_resolved res;
	ok(lade_oci_layout_resolve(dir, "1.0-arm", &want, &res, &err) == 0,
	   "the reader resolves the written tag (%s)", msg(err));
	is_str(res.digest, arm.digest, "to the manifest written for it");
	lade_oci_resolved_release(&res);
	lade_oci_platform_release(&want);

	/* Same ref again: replaced, not added; other members of index.json kept. */
	_cleanup_free_ char *ipath = xasprintf("%s/index.json", dir);
	_cleanup_free_ char *text = read_text(ipath);
	_cleanup_(json_decrefp) json_t *index = json_loads(text, 0, NULL);
	json_object_set_new(index, "annotations", json_pack("{s:s}", "kept", "yes"));
	_cleanup_free_ char *with_ann = lade_json_dump(index);
	write_text(ipath, with_ann);
	struct lade_index_entry again[] = {{LADE_MT_OCI_MANIFEST, arm.digest, arm.size, "1.0", pr}};
	ok(lade_layout_update_index(store, again, 1, &err) == 0, "ref 1.0 rewritten");
	_cleanup_free_ char *text2 = read_text(ipath);
	_cleanup_(json_decrefp) json_t *index2 = json_loads(text2, 0, NULL);
	json_t *ms = json_object_get(index2, "manifests");
	ok(json_array_size(ms) == 2, "still two entries");
	struct lade_oci_descriptor d0, d1;
	ok(lade_oci_descriptor_parse(json_array_get(ms, 0), "0", &d0, &err) == 0 &&
	           lade_oci_descriptor_parse(json_array_get(ms, 1), "1", &d1, &err) == 0,
	   "both are descriptors");
	is_str(lade_oci_descriptor_ref_name(&d0), "1.0-arm", "the untouched ref stays first");
	is_str(lade_oci_descriptor_ref_name(&d1), "1.0", "the rewritten ref goes last");
	is_str(d1.digest, arm.digest, "with its new manifest");
	is_str(json_string_value(json_object_get(json_object_get(index2, "annotations"), "kept")),
	       "yes", "index annotations kept");
}

static void test_existing_index(const char *tmp)
{
	_cleanup_free_ char *dir = xasprintf("%s/existing", tmp);
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_store_open(dir, 0, &store, &err) < 0)
		abort();
	struct image im;
	if (write_image(store, "layer", "amd64", NULL, &im, &err) < 0)
		abort();
	struct lade_index_entry e[] = {{LADE_MT_OCI_MANIFEST, im.digest, im.size, "t", NULL}};
	_cleanup_free_ char *ipath = xasprintf("%s/index.json", dir);

	static const struct {
		const char *text, *want, *name;
	} bad[] = {
	        {"{\"schemaVersion\":2,\"manifests\":[],\"manifests\":[]}",
	         "invalid JSON (line 1): duplicate object key near '\"manifests\"'", "a key twice"},
	        {"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"sha256:../"
	         "x\",\"size\":1}]}",
	         "manifests[0]: digest 'sha256:../x' is not sha256:<64 hex>", "a bad digest"},
	        {"{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:"
	         "0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1}]}",
	         "manifests[0]: mediaType is missing or not a string", "no mediaType"},
	        {"[]", "not a JSON object", "a list"},
	        {"{\"schemaVersion\":1,\"manifests\":[]}", "schemaVersion is not 2",
	         "schemaVersion 1"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++) {
		write_text(ipath, bad[i].text);
		_cleanup_error_ struct lade_error *e1 = NULL;
		int r = lade_layout_update_index(store, e, 1, &e1);
		_cleanup_free_ char *want =
		        xasprintf("output %s is not a valid OCI index: ", ipath);
		ok(r == -1 && e1 && strncmp(e1->msg, want, strlen(want)) == 0 &&
		           strstr(e1->msg, bad[i].want) != NULL,
		   "existing index.json with %s refused (%s)", bad[i].name, msg(e1));
		_cleanup_free_ char *after = read_text(ipath);
		is_str(after, bad[i].text, "and left untouched");
	}

	/* Writers refuse what readers would refuse. */
	struct lade_index_entry missing[] = {
	        {LADE_MT_OCI_MANIFEST,
	         "sha256:1111111111111111111111111111111111111111111111111111111111111111", 1, "t",
	         NULL}};
	unlink(ipath);
	_cleanup_error_ struct lade_error *e2 = NULL;
	ok(lade_layout_update_index(store, missing, 1, &e2) == -1, "entry not in the store");
	ok(access(ipath, F_OK) != 0, "no index.json written");
	struct lade_manifest_layer l = {"application/vnd.oci.image.layer.v1.tar", "sha256:../x", 1,
	                                NULL, false};
	_cleanup_(json_decrefp) json_t *cfg = json_object();
	char md[LADE_DIGEST_STRLEN];
	_cleanup_error_ struct lade_error *e3 = NULL;
	ok(lade_image_write(store, cfg, &l, 1, NULL, md, NULL, &e3) == -1, "bad layer digest");
	is_str(msg(e3), "manifest layer 1: invalid digest 'sha256:../x'", "its message");
}

int main(void)
{
	char tmpl[] = "/tmp/lade-test-layout-XXXXXX";
	char *tmp = mkdtemp(tmpl);
	if (tmp == NULL)
		return 1;
	test_round_trip(tmp);
	test_existing_index(tmp);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "# cannot remove %s\n", tmp);
	return tap_done();
}
