/* Unit tests: the OCI read API (manifest/oci.c) — descriptors, the JSON rule (duplicate keys,
 * size limit), verified blobs, platforms (arm64 = arm64/v8), the tag grammar and the resolver
 * from a layout's index.json through an image index to a manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lade/image.h"
#include "lade/oci.h"
#include "lade/util.h"
#include "tap.h"

static char *tmpdir;

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
}

/* Store s as a blob of the layout dir; its descriptor (new). */
static json_t *put(const char *dir, const char *mt, const char *s)
{
	char digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(s, strlen(s), digest);
	_cleanup_free_ char *path = lade_oci_blob_path(dir, digest);
	write_file(path, s, strlen(s));
	return json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", digest, "size",
	                 (json_int_t)strlen(s));
}

static char *new_layout(const char *name)
{
	char *dir = xasprintf("%s/%s", tmpdir, name);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", dir);
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_mkdir_p(blobs, &err) < 0)
		abort();
	_cleanup_free_ char *ol = xasprintf("%s/oci-layout", dir);
	const char *v = "{\"imageLayoutVersion\":\"1.0.0\"}";
	write_file(ol, v, strlen(v));
	return dir;
}

static const char *msg(const struct lade_error *e)
{
	return e ? e->msg : "(no error)";
}

static bool contains(const struct lade_error *e, const char *needle)
{
	return e && strstr(e->msg, needle) != NULL;
}

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_descriptor(void)
{
	struct lade_oci_descriptor d;
	_cleanup_(json_decrefp) json_t *good =
	        json_pack("{s:s,s:s,s:i,s:{s:s},s:{s:s,s:s}}", "mediaType", LADE_MT_OCI_MANIFEST,
	                  "digest", "sha256:" HEX64, "size", 42, "annotations", LADE_REF_NAME,
	                  "1.0", "platform", "os", "linux", "architecture", "amd64");
	struct lade_error *err = NULL;
	ok(lade_oci_descriptor_parse(good, "d", &d, &err) == 0, "a descriptor parses");
	ok(d.size == 42 && strcmp(d.digest, "sha256:" HEX64) == 0 &&
	           strcmp(d.media_type, LADE_MT_OCI_MANIFEST) == 0 && d.platform != NULL,
	   "its fields");
	is_str(lade_oci_descriptor_ref_name(&d), "1.0", "its ref name");

	static const struct {
		const char *json, *want, *name;
	} bad[] = {
	        {"[]", "d is not a JSON object", "not an object"},
	        {"{\"digest\":\"sha256:" HEX64 "\",\"size\":1}",
	         "d: mediaType is missing or not a string", "no mediaType"},
	        {"{\"mediaType\":\"\",\"digest\":\"sha256:" HEX64 "\",\"size\":1}",
	         "d: mediaType is missing or not a string", "empty mediaType"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:../../etc/passwd\",\"size\":1}",
	         "d: digest 'sha256:../../etc/passwd' is not sha256:<64 hex>", "path in a digest"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:" HEX64 "0\",\"size\":1}",
	         "d: digest 'sha256:" HEX64 "0' is not sha256:<64 hex>", "65 hex digits"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:"
	         "0123456789ABCDEF0123456789abcdef0123456789a"
	         "bcdef0123456789abcdef\",\"size\":1}",
	         "d: digest "
	         "'sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef' "
	         "is not sha256:<64 hex>",
	         "uppercase hex"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha512:" HEX64 "\",\"size\":1}",
	         "d: digest 'sha512:" HEX64 "' is not sha256:<64 hex>", "another algorithm"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:\\n\",\"size\":1}",
	         "d: digest 'sha256:\\x0a' is not sha256:<64 hex>", "control bytes quoted"},
	        {"{\"mediaType\":\"x\",\"digest\":7,\"size\":1}", "d: digest '(none)' is not",
	         "digest not a string"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:" HEX64 "\",\"size\":-1}",
	         "d: size is missing or not a non-negative integer", "negative size"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:" HEX64 "\",\"size\":\"1\"}",
	         "d: size is missing or not a non-negative integer", "size as a string"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:" HEX64 "\",\"size\":1,\"platform\":[]}",
	         "d: platform is not an object", "platform a list"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:" HEX64
	         "\",\"size\":1,\"annotations\":{\"a\":1}}",
	         "d: annotations is not an object of strings", "annotation not a string"},
	        {"{\"mediaType\":\"x\",\"digest\":\"sha256:" HEX64 "\",\"size\":1,\"urls\":\"u\"}",
	         "d: urls is not a list of strings", "urls a string"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++) {
		json_error_t je;
		_cleanup_(json_decrefp) json_t *j = json_loads(bad[i].json, 0, &je);
		if (j == NULL)
			abort();
		_cleanup_error_ struct lade_error *e = NULL;
		int r = lade_oci_descriptor_parse(j, "d", &d, &e);
		ok(r == -1 && e && strncmp(e->msg, bad[i].want, strlen(bad[i].want)) == 0,
		   "refused: %s (%s)", bad[i].name, msg(e));
	}
}

static void test_json(void)
{
	json_t *j = NULL;
	_cleanup_error_ struct lade_error *e1 = NULL;
	const char *dup = "{\"layers\":[],\"layers\":[1]}";
	ok(lade_oci_json_parse(dup, strlen(dup), "m", &j, &e1) == -1 && j == NULL,
	   "a key twice is refused");
	is_str(msg(e1), "m: invalid JSON (line 1): duplicate object key near '\"layers\"'",
	       "the message names the input and the duplicate key");

	_cleanup_error_ struct lade_error *e2 = NULL;
	const char *nested = "{\"config\":{\"a\":1,\"a\":1}}";
	ok(lade_oci_json_parse(nested, strlen(nested), "m", &j, &e2) == -1 &&
	           contains(e2, "duplicate object key"),
	   "a key twice in a nested object is refused, even with the same value");

	_cleanup_error_ struct lade_error *e3 = NULL;
	ok(lade_oci_json_parse("[1]", 3, "m", &j, &e3) == -1, "a list is not an object");
	is_str(msg(e3), "m: not a JSON object", "its message");
	_cleanup_error_ struct lade_error *e3b = NULL;
	ok(lade_oci_json_parse_value("[1]", 3, "m", &j, &e3b) == 0 && json_is_array(j),
	   "parse_value takes a list");
	json_decref(j);
	j = NULL;

	size_t big = LADE_OCI_JSON_MAX + 1;
	char *buf = xmalloc(big);
	memset(buf, ' ', big);
	buf[0] = '{';
	buf[big - 1] = '}';
	_cleanup_error_ struct lade_error *e4 = NULL;
	ok(lade_oci_json_parse(buf, big, "m", &j, &e4) == -1, "16 MiB + 1 byte refused");
	is_str(msg(e4), "m: larger than 16 MiB", "its message");
	_cleanup_error_ struct lade_error *e5 = NULL;
	ok(lade_oci_json_parse(buf, big - 1, "m", &j, &e5) == -1 && contains(e5, "invalid JSON"),
	   "16 MiB is parsed (and this one is cut short)");
	buf[big - 2] = '}';
	_cleanup_error_ struct lade_error *e6 = NULL;
	ok(lade_oci_json_parse(buf, big - 1, "m", &j, &e6) == 0, "an object of exactly 16 MiB (%s)",
	   msg(e6));
	json_decref(j);
	free(buf);
}

static void test_blob(void)
{
	_cleanup_free_ char *dir = new_layout("blob");
	const char *doc = "{\"a\":1}";
	_cleanup_(json_decrefp) json_t *dj = put(dir, "x", doc);
	struct lade_oci_descriptor d;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_oci_descriptor_parse(dj, "d", &d, &err) == 0, "descriptor of a blob");
	json_t *j = NULL;
	ok(lade_oci_blob_json(dir, &d, &j, &err) == 0 &&
	           json_integer_value(json_object_get(j, "a")) == 1,
	   "the blob loads (%s)", msg(err));
	json_decref(j);

	struct lade_oci_descriptor wrong = d;
	wrong.size = d.size + 1;
	_cleanup_error_ struct lade_error *e1 = NULL;
	ok(lade_oci_blob_json(dir, &wrong, &j, &e1) == -1, "a wrong size is refused");
	_cleanup_free_ char *w1 = xasprintf("blob %s: size 7 but the descriptor says 8", d.digest);
	is_str(msg(e1), w1, "its message");

	/* Same size, other bytes. */
	_cleanup_free_ char *path = lade_oci_blob_path(dir, d.digest);
	write_file(path, "{\"a\":2}", 7);
	_cleanup_error_ struct lade_error *e2 = NULL;
	ok(lade_oci_blob_json(dir, &d, &j, &e2) == -1, "changed bytes are refused");
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf("{\"a\":2}", 7, got);
	_cleanup_free_ char *w2 = xasprintf("blob %s: digest mismatch (expected %s, got %s)",
	                                    d.digest, d.digest, got);
	is_str(msg(e2), w2, "its message");

	/* A descriptor that claims more than the limit is refused before anything is read. */
	struct lade_oci_descriptor huge = d;
	huge.size = LADE_OCI_JSON_MAX + 1ull;
	_cleanup_error_ struct lade_error *e3 = NULL;
	ok(lade_oci_blob_json(dir, &huge, &j, &e3) == -1 && contains(e3, "too large"),
	   "a descriptor over 16 MiB is refused (%s)", msg(e3));

	/* The duplicate key, through the blob loader: named by the blob. */
	const char *dup = "{\"layers\":[],\"layers\":[]}";
	_cleanup_(json_decrefp) json_t *dupj = put(dir, "x", dup);
	ok(lade_oci_descriptor_parse(dupj, "d", &d, &err) == 0, "descriptor of the dup blob");
	_cleanup_error_ struct lade_error *e4 = NULL;
	ok(lade_oci_blob_json(dir, &d, &j, &e4) == -1, "a blob with a key twice is refused");
	_cleanup_free_ char *w4 = xasprintf(
	        "blob %s: invalid JSON (line 1): duplicate object key near '\"layers\"'", d.digest);
	is_str(msg(e4), w4, "its message names the blob and the key");

	_cleanup_error_ struct lade_error *e5 = NULL;
	_cleanup_(json_decrefp) json_t *missing =
	        json_pack("{s:s,s:s,s:i}", "mediaType", "x", "digest", "sha256:" HEX64, "size", 2);
	ok(lade_oci_descriptor_parse(missing, "d", &d, &err) == 0 &&
	           lade_oci_blob_json(dir, &d, &j, &e5) == -1 && contains(e5, "blob sha256:" HEX64),
	   "a missing blob is named (%s)", msg(e5));
}

static bool match(const char *want, const char *os, const char *arch, const char *variant)
{
	struct lade_oci_platform p;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_oci_platform_parse(want, &p, &err) < 0)
		abort();
	_cleanup_(json_decrefp) json_t *have =
	        json_pack("{s:s,s:s}", "os", os, "architecture", arch);
	if (variant)
		json_object_set_new(have, "variant", json_string(variant));
	bool r = lade_oci_platform_match(&p, have);
	lade_oci_platform_release(&p);
	return r;
}

static void test_platform(void)
{
	struct lade_oci_platform p;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_oci_platform_parse("linux/arm64/v8", &p, &err) == 0 && strcmp(p.os, "linux") == 0 &&
	           strcmp(p.arch, "arm64") == 0 && strcmp(p.variant, "v8") == 0,
	   "linux/arm64/v8 parses");
	lade_oci_platform_release(&p);
	ok(lade_oci_platform_parse("linux/amd64", &p, &err) == 0 && p.variant == NULL,
	   "linux/amd64 has no variant");
	lade_oci_platform_release(&p);
	static const char *const bad[] = {"linux",         "linux/",         "/amd64", "linux//v8",
	                                  "linux/arm/v7/", "linux/arm/v7/x", ""};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct lade_error *e = NULL;
		ok(lade_oci_platform_parse(bad[i], &p, &e) == -1 &&
		           contains(e, "expected OS/ARCHITECTURE or OS/ARCHITECTURE/VARIANT"),
		   "'%s' refused", bad[i]);
	}

	ok(match("linux/arm64", "linux", "arm64", "v8"), "linux/arm64 matches arm64/v8");
	ok(match("linux/arm64/v8", "linux", "arm64", NULL), "linux/arm64/v8 matches arm64");
	ok(match("linux/arm64/v8", "linux", "arm64", "v8"), "linux/arm64/v8 matches arm64/v8");
	ok(match("linux/arm64", "linux", "arm64", ""), "an empty variant is none");
	ok(!match("linux/arm64", "linux", "arm64", "v9"), "linux/arm64 is not arm64/v9");
	ok(!match("linux/arm64/v9", "linux", "arm64", NULL), "linux/arm64/v9 is not arm64");
	ok(match("linux/arm", "linux", "arm", "v7"), "linux/arm matches arm/v7");
	ok(!match("linux/arm/v6", "linux", "arm", NULL), "linux/arm/v6 is not arm (v7)");
	ok(match("linux/amd64", "linux", "amd64", NULL), "linux/amd64 matches");
	ok(match("linux/amd64", "linux", "amd64", "v3"), "no variant asked: amd64/v3 is amd64");
	ok(!match("linux/amd64/v3", "linux", "amd64", NULL), "amd64/v3 asked: plain amd64 is not");
	ok(!match("linux/amd64", "windows", "amd64", NULL), "another os");
	ok(!match("linux/amd64", "linux", "arm64", NULL), "another architecture");

	_cleanup_(json_decrefp) json_t *pj =
	        json_pack("{s:s,s:s,s:s}", "os", "linux", "architecture", "arm64", "variant", "v8");
	_cleanup_free_ char *s = lade_oci_platform_format(pj);
	is_str(s, "linux/arm64/v8", "format with a variant");
	json_object_del(pj, "variant");
	_cleanup_free_ char *s2 = lade_oci_platform_format(pj);
	is_str(s2, "linux/arm64", "format without");
	json_object_del(pj, "os");
	ok(lade_oci_platform_format(pj) == NULL, "no os: NULL");
	is_str(lade_oci_default_variant("arm64"), "v8", "arm64 means v8");
	ok(lade_oci_default_variant("amd64") == NULL, "amd64 has no default variant");
}

static void test_tag(void)
{
	char t128[129], t129[130];
	memset(t128, 'a', 128);
	t128[128] = '\0';
	memset(t129, 'a', 129);
	t129[129] = '\0';
	static const char *const good[] = {"1.0", "latest", "_x", "A-b.c_d", "3.11-slim"};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(good); i++)
		ok(lade_oci_tag_valid(good[i]), "tag '%s' is valid", good[i]);
	ok(lade_oci_tag_valid(t128), "128 characters are valid");
	static const char *const bad[] = {"", ".x", "-x", "a/b", "a:b", "a@b", "é", "a b"};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++)
		ok(!lade_oci_tag_valid(bad[i]), "tag '%s' is not", bad[i]);
	ok(!lade_oci_tag_valid(t129), "129 characters are not");

	ok(lade_oci_repo_tag_matches("docker.io/library/busybox:latest", "busybox"),
	   "busybox names docker.io/library/busybox:latest");
	ok(lade_oci_repo_tag_matches("busybox:1.36", "library/busybox:1.36"),
	   "library/busybox:1.36 names busybox:1.36");
	ok(lade_oci_repo_tag_matches("docker.io/me/app:1", "me/app:1"), "docker.io/ is implied");
	ok(!lade_oci_repo_tag_matches("busybox:1.36", "busybox"), "busybox is busybox:latest");
	ok(!lade_oci_repo_tag_matches("docker.io/library/a/b:1", "a/b:1"),
	   "library/ is only dropped for one-component names");
	ok(lade_oci_repo_tag_matches("docker.io/library/a/b:1", "library/a/b:1"),
	   "library/a/b:1 stays itself");
	ok(lade_oci_repo_tag_matches("localhost:5000/app", "localhost:5000/app:latest"),
	   "a registry port is not a tag");
	ok(!lade_oci_tag_valid(NULL), "NULL is not");
}

/* A layout: index.json → (tag "multi") an image index of amd64 and arm64/v8 manifests, and
 * (tag "dup") a manifest with a key twice. */
static void test_resolve(void)
{
	_cleanup_free_ char *dir = new_layout("resolve");
	const char *amd = "{\"schemaVersion\":2,\"mediaType\":\"" LADE_MT_OCI_MANIFEST
	                  "\",\"config\":{},\"layers\":[],\"annotations\":{\"p\":\"amd64\"}}";
	const char *arm = "{\"schemaVersion\":2,\"mediaType\":\"" LADE_MT_OCI_MANIFEST
	                  "\",\"config\":{},\"layers\":[],\"annotations\":{\"p\":\"arm64\"}}";
	json_t *ma = put(dir, LADE_MT_OCI_MANIFEST, amd);
	json_t *mr = put(dir, LADE_MT_OCI_MANIFEST, arm);
	json_object_set_new(ma, "platform",
	                    json_pack("{s:s,s:s}", "os", "linux", "architecture", "amd64"));
	json_object_set_new(mr, "platform",
	                    json_pack("{s:s,s:s,s:s}", "os", "linux", "architecture", "arm64",
	                              "variant", "v8"));
	_cleanup_(json_decrefp) json_t *idx =
	        json_pack("{s:i,s:s,s:[o,o]}", "schemaVersion", 2, "mediaType", LADE_MT_OCI_INDEX,
	                  "manifests", ma, mr);
	_cleanup_free_ char *idxs = lade_json_dump(idx);
	json_t *ti = put(dir, LADE_MT_OCI_INDEX, idxs);
	json_object_set_new(ti, "annotations", json_pack("{s:s}", LADE_REF_NAME, "multi"));
	json_t *td = put(dir, LADE_MT_OCI_MANIFEST,
	                 "{\"schemaVersion\":2,\"layers\":[],\"config\":{},\"layers\":[]}");
	json_object_set_new(td, "annotations", json_pack("{s:s}", LADE_REF_NAME, "dup"));
	_cleanup_(json_decrefp) json_t *top =
	        json_pack("{s:i,s:[o,o]}", "schemaVersion", 2, "manifests", ti, td);
	_cleanup_free_ char *tops = lade_json_dump(top);
	_cleanup_free_ char *index_path = xasprintf("%s/index.json", dir);
	write_file(index_path, tops, strlen(tops));

	struct lade_oci_platform arm64;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_oci_platform_parse("linux/arm64", &arm64, &err) < 0)
		abort();
	struct lade_oci_resolved res;
	ok(lade_oci_layout_resolve(dir, "multi", &arm64, &res, &err) == 0, "multi resolves (%s)",
	   msg(err));
	is_str(json_string_value(
	               json_object_get(json_object_get(res.manifest, "annotations"), "p")),
	       "arm64", "linux/arm64 picks the arm64/v8 manifest");
	is_str(res.digest, json_string_value(json_object_get(mr, "digest")), "and its digest");
	lade_oci_resolved_release(&res);

	struct lade_oci_platform s390;
	if (lade_oci_platform_parse("linux/s390x", &s390, &err) < 0)
		abort();
	_cleanup_error_ struct lade_error *e1 = NULL;
	ok(lade_oci_layout_resolve(dir, "multi", &s390, &res, &e1) == -1, "a missing platform");
	is_str(msg(e1),
	       "no manifest for platform linux/s390x (available: linux/amd64, linux/arm64/v8)",
	       "lists the platforms there are");
	lade_oci_platform_release(&s390);

	_cleanup_error_ struct lade_error *e2 = NULL;
	ok(lade_oci_layout_resolve(dir, "nope", &arm64, &res, &e2) == -1, "a missing tag");
	_cleanup_free_ char *w2 =
	        xasprintf("no manifest tagged 'nope' in %s (tags found: multi, dup)", index_path);
	is_str(msg(e2), w2, "lists the tags there are");

	_cleanup_error_ struct lade_error *e3 = NULL;
	ok(lade_oci_layout_resolve(dir, NULL, &arm64, &res, &e3) == -1 &&
	           contains(e3, "lists 2 manifests, name one as DIR:TAG"),
	   "no tag with two entries (%s)", msg(e3));

	_cleanup_error_ struct lade_error *e4 = NULL;
	ok(lade_oci_layout_resolve(dir, "dup", &arm64, &res, &e4) == -1 &&
	           contains(e4, "duplicate object key near '\"layers\"'"),
	   "the resolver refuses a manifest with a key twice (%s)", msg(e4));

	/* A layout whose oci-layout is wrong is not read further. */
	_cleanup_free_ char *ol = xasprintf("%s/oci-layout", dir);
	write_file(ol, "{\"imageLayoutVersion\":\"2.0.0\"}", 30);
	_cleanup_error_ struct lade_error *e5 = NULL;
	ok(lade_oci_layout_resolve(dir, "multi", &arm64, &res, &e5) == -1 &&
	           contains(e5, "unsupported imageLayoutVersion '2.0.0'"),
	   "imageLayoutVersion checked (%s)", msg(e5));
	lade_oci_platform_release(&arm64);
}

int main(void)
{
	char tmpl[] = "/tmp/lade-test-oci-XXXXXX";
	tmpdir = mkdtemp(tmpl);
	if (tmpdir == NULL)
		return 1;
	test_descriptor();
	test_json();
	test_blob();
	test_platform();
	test_tag();
	test_resolve();
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "# cannot remove %s\n", tmpdir);
	return tap_done();
}
