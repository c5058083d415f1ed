/* Tests for manifest/config.c and manifest/layout.c: docker-build merge semantics, platform
 * parsing, time formatting, exact serialisation, manifest and index.json writing. */
#include <errno.h>
#include <inttypes.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lade/image.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (j == NULL) {
		printf("# bad test JSON: %s\n", e.text);
		abort();
	}
	return j;
}

/* The JSON at a dotted path of config, dumped; "(missing)" when absent. */
static char *at(const json_t *j, const char *key1, const char *key2)
{
	const json_t *v = json_object_get(j, key1);
	if (v && key2)
		v = json_object_get(v, key2);
	return v ? lade_json_dump(v) : xstrdup("(missing)");
}

#define IS_AT(j, k1, k2, want, ...)                                                                \
	do {                                                                                       \
		char *got_ = at(j, k1, k2);                                                        \
		is_str(got_, want, __VA_ARGS__);                                                   \
		free(got_);                                                                        \
	} while (0)

static const char *base_text =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"variant\":\"v3\",\"container\":\"abc\","
        "\"container_config\":{\"Cmd\":[\"x\"]},\"docker_version\":\"20.10\",\"author\":\"me\","
        "\"config\":{\"Env\":[\"PATH=/usr/bin\",\"LANG=C\",\"NOVAL\"],\"Entrypoint\":[\"/bin/"
        "sh\"],\"Cmd\":[\"-c\",\"echo\"],\"Labels\":{\"a\":\"1\"},\"ExposedPorts\":{\"80/tcp\":{}},"
        "\"User\":\"root\"},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
        "1111111111111111111111111111111111111111111111111111111111111111\"]},"
        "\"history\":[{\"created_by\":\"base\"}]}";

static void test_merge_full(void)
{
	_cleanup_(json_decrefp) json_t *base = parse(base_text);
	struct lade_kv env[] = {{"LANG", "C.UTF-8"}, {"FOO", "bar"}, {"NOVAL", "x"}};
	struct lade_kv extra[] = {{"PATH", "/venv/bin:/usr/bin"}, {"VIRTUAL_ENV", "/venv"}};
	char *ep[] = {"/app", NULL};
	char *expose[] = {"8080", "53/udp", NULL};
	char *vols[] = {"/data", NULL};
	struct lade_kv labels[] = {{"b", "2"}, {"a", "3"}};
	struct lade_config_spec rc = {
	        .user = "app",
	        .workdir = "/w",
	        .stop_signal = "SIGINT",
	        .env = env,
	        .n_env = 3,
	        .has_entrypoint = true,
	        .entrypoint = ep,
	        .expose = expose,
	        .volumes = vols,
	        .labels = labels,
	        .n_labels = 2,
	};
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(json_decrefp) json_t *c = NULL;
	int r = lade_config_new(base, &rc, extra, 2, "linux/arm64/v8", 1700000000, &c, &err);
	ok(r == 0 && c != NULL, "merge over a docker base succeeds (%s)", err ? err->msg : "");
	if (c == NULL)
		return;
	IS_AT(c, "config", "Env",
	      "[\"PATH=/venv/bin:/usr/bin\",\"LANG=C.UTF-8\",\"NOVAL=x\",\"VIRTUAL_ENV=/venv\","
	      "\"FOO=bar\"]",
	      "env: replaced in place by key, new ones appended (extra first, then recipe)");
	IS_AT(c, "config", "Entrypoint", "[\"/app\"]", "entrypoint set");
	IS_AT(c, "config", "Cmd", "(missing)", "entrypoint without cmd removes the base Cmd");
	IS_AT(c, "config", "Labels", "{\"a\":\"3\",\"b\":\"2\"}", "labels merged");
	IS_AT(c, "config", "ExposedPorts", "{\"53/udp\":{},\"80/tcp\":{},\"8080/tcp\":{}}",
	      "ports merged, bare port gets /tcp");
	IS_AT(c, "config", "Volumes", "{\"/data\":{}}", "volumes added");
	IS_AT(c, "config", "User", "\"app\"", "user replaced");
	IS_AT(c, "config", "WorkingDir", "\"/w\"", "workdir set");
	IS_AT(c, "config", "StopSignal", "\"SIGINT\"", "stop signal set");
	IS_AT(c, "architecture", NULL, "\"arm64\"", "architecture from platform");
	IS_AT(c, "variant", NULL, "\"v8\"", "variant from platform");
	IS_AT(c, "created", NULL, "\"2023-11-14T22:13:20Z\"", "created is the epoch");
	IS_AT(c, "author", NULL, "\"me\"", "author kept");
	ok(json_object_get(c, "container") == NULL &&
	           json_object_get(c, "docker_version") == NULL &&
	           json_object_get(c, "container_config") == NULL,
	   "docker-only top-level keys dropped");
	IS_AT(c, "rootfs", NULL,
	      "{\"diff_ids\":[\"sha256:1111111111111111111111111111111111111111111111111111111111"
	      "111111\"],\"type\":\"layers\"}",
	      "base diff_ids kept");
	IS_AT(c, "history", NULL, "[{\"created_by\":\"base\"}]", "base history kept");
	IS_AT(base, "config", "Cmd", "[\"-c\",\"echo\"]", "base config not modified");
}

static void test_cmd_variants(void)
{
	_cleanup_(json_decrefp) json_t *base = parse(base_text);
	_cleanup_error_ struct lade_error *err = NULL;
	char *cmd[] = {"serve", "--port", NULL};
	char *ep[] = {"/entry", NULL};

	struct lade_config_spec only_cmd = {.has_cmd = true, .cmd = cmd};
	_cleanup_(json_decrefp) json_t *c1 = NULL;
	ok(lade_config_new(base, &only_cmd, NULL, 0, "linux/amd64", 0, &c1, &err) == 0, "cmd only");
	IS_AT(c1, "config", "Entrypoint", "[\"/bin/sh\"]", "cmd only: entrypoint kept");
	IS_AT(c1, "config", "Cmd", "[\"serve\",\"--port\"]", "cmd only: cmd replaced");
	IS_AT(c1, "variant", NULL, "(missing)", "platform without variant drops the base's");
	IS_AT(c1, "config", "Env", "[\"PATH=/usr/bin\",\"LANG=C\",\"NOVAL\"]",
	      "env kept as is when nothing is set");

	struct lade_config_spec both = {
	        .has_entrypoint = true, .entrypoint = ep, .has_cmd = true, .cmd = cmd};
	_cleanup_(json_decrefp) json_t *c2 = NULL;
	ok(lade_config_new(base, &both, NULL, 0, "linux/amd64", 0, &c2, &err) == 0,
	   "entrypoint and cmd");
	IS_AT(c2, "config", "Entrypoint", "[\"/entry\"]", "both: entrypoint");
	IS_AT(c2, "config", "Cmd", "[\"serve\",\"--port\"]", "both: cmd");

	char *empty[] = {NULL};
	struct lade_config_spec empty_ep = {.has_entrypoint = true, .entrypoint = empty};
	_cleanup_(json_decrefp) json_t *c3 = NULL;
	ok(lade_config_new(base, &empty_ep, NULL, 0, "linux/amd64", 0, &c3, &err) == 0,
	   "empty entrypoint");
	ok(json_object_get(json_object_get(c3, "config"), "Entrypoint") == NULL &&
	           json_object_get(json_object_get(c3, "config"), "Cmd") == NULL,
	   "empty entrypoint removes Entrypoint and Cmd");

	struct lade_config_spec empty_cmd = {.has_cmd = true, .cmd = NULL};
	_cleanup_(json_decrefp) json_t *c4 = NULL;
	ok(lade_config_new(base, &empty_cmd, NULL, 0, "linux/amd64", 0, &c4, &err) == 0,
	   "empty cmd");
	IS_AT(c4, "config", "Cmd", "(missing)", "empty cmd removes Cmd");
	IS_AT(c4, "config", "Entrypoint", "[\"/bin/sh\"]", "empty cmd keeps entrypoint");
}

static void expect_error(const json_t *base, const char *platform, const char *want,
                         const char *name)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(json_decrefp) json_t *c = NULL;
	struct lade_kv env[] = {{"A", "1"}};
	struct lade_config_spec rc = {.env = env, .n_env = 1, .expose = NULL};
	int r = lade_config_new(base, &rc, NULL, 0, platform, 0, &c, &err);
	ok(r == -1 && c == NULL, "%s: refused", name);
	is_str(err ? err->msg : NULL, want, "%s: message", name);
}

static void test_errors(void)
{
	expect_error(NULL, "linux",
	             "platform 'linux': expected OS/ARCHITECTURE or OS/ARCHITECTURE/VARIANT",
	             "platform without architecture");
	expect_error(NULL, "/amd64",
	             "platform '/amd64': expected OS/ARCHITECTURE or OS/ARCHITECTURE/VARIANT",
	             "platform without os");
	expect_error(NULL, "linux/arm/v7/x",
	             "platform 'linux/arm/v7/x': expected OS/ARCHITECTURE or "
	             "OS/ARCHITECTURE/VARIANT",
	             "platform with four parts");
	_cleanup_(json_decrefp) json_t *bad_env = parse("{\"config\":{\"Env\":\"A=1\"}}");
	expect_error(bad_env, "linux/amd64", "base config: config.Env is not a list",
	             "base Env not a list");
	_cleanup_(json_decrefp) json_t *bad_env2 = parse("{\"config\":{\"Env\":[1]}}");
	expect_error(bad_env2, "linux/amd64", "base config: config.Env[0] is not a string",
	             "base Env entry not a string");
	_cleanup_(json_decrefp) json_t *arr = parse("[1]");
	expect_error(arr, "linux/amd64", "base config: not a JSON object", "base not an object");
	_cleanup_(json_decrefp) json_t *bad_rootfs = parse("{\"rootfs\":{\"diff_ids\":{}}}");
	expect_error(bad_rootfs, "linux/amd64", "base config: rootfs.diff_ids is not a list",
	             "base diff_ids not a list");
}

static void test_time(void)
{
	char buf[32];
	lade_format_time(0, buf);
	is_str(buf, "1970-01-01T00:00:00Z", "epoch 0");
	lade_format_time(1700000000, buf);
	is_str(buf, "2023-11-14T22:13:20Z", "epoch 1700000000");
	lade_format_time(951782400, buf);
	is_str(buf, "2000-02-29T00:00:00Z", "leap day");
}

static void test_exact(void)
{
	struct lade_kv env[] = {{"A", "1"}};
	char *cmd[] = {"x", NULL};
	struct lade_config_spec rc = {.env = env, .n_env = 1, .has_cmd = true, .cmd = cmd};
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(json_decrefp) json_t *c = NULL;
	ok(lade_config_new(NULL, &rc, NULL, 0, "linux/amd64", 0, &c, &err) == 0, "scratch config");
	_cleanup_free_ char *s = lade_json_dump(c);
	is_str(s,
	       "{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"x\"],\"Env\":[\"A=1\"]},"
	       "\"created\":\"1970-01-01T00:00:00Z\",\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[],"
	       "\"type\":\"layers\"}}",
	       "scratch config: sorted compact JSON");
	lade_config_add_layer(
	        c, "sha256:2222222222222222222222222222222222222222222222222222222222222222",
	        "lade COPY a /b", "files a -> /b", 60);
	_cleanup_free_ char *s2 = lade_json_dump(c);
	is_str(s2,
	       "{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"x\"],\"Env\":[\"A=1\"]},"
	       "\"created\":\"1970-01-01T00:00:00Z\",\"history\":[{\"comment\":\"files a -> "
	       "/b\",\"created\":\"1970-01-01T00:01:00Z\",\"created_by\":\"lade COPY a /b\"}],"
	       "\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"sha256:"
	       "2222222222222222222222222222222222222222222222222222222222222222\"],\"type\":"
	       "\"layers\"}}",
	       "add_layer appends diff_id and history");
}

/* ---- layout.c ---- */

static char *read_text(const char *path)
{
	struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_read_file(path, 1 << 20, &b, &err) < 0) {
		lade_buf_release(&b);
		return xstrdup("(unreadable)");
	}
	return lade_buf_detach(&b, NULL);
}

static void test_layout(const char *tmp)
{
	_cleanup_free_ char *dir = lade_path_join(tmp, "out");
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	if (lade_store_open(dir, 0, &store, &err) < 0) {
		ok(0, "store open: %s", err->msg);
		return;
	}
	char layer[LADE_DIGEST_STRLEN];
	ok(lade_store_put(store, "layer-bytes", 11, layer, &err) == 0, "layer blob stored");

	_cleanup_(json_decrefp) json_t *config =
	        parse("{\"os\":\"linux\",\"architecture\":\"amd64\"}");
	_cleanup_(json_decrefp) json_t *lann = parse("{\"x.y\":\"z\"}");
	_cleanup_(json_decrefp) json_t *ann = parse("{\"org.example\":\"v\"}");
	struct lade_manifest_layer ml[] = {
	        {"application/vnd.oci.image.layer.v1.tar", layer, 11, lann, false}};
	char mdigest[LADE_DIGEST_STRLEN];
	uint64_t msize = 0;
	int r = lade_image_write(store, config, ml, 1, ann, mdigest, &msize, &err);
	ok(r == 0, "image written (%s)", err ? err->msg : "");
	char cdigest[LADE_DIGEST_STRLEN];
	const char *ctext = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
	lade_sha256_buf(ctext, strlen(ctext), cdigest);
	ok(lade_store_has(store, cdigest), "config blob is the sorted dump");
	_cleanup_free_ char *want = xasprintf(
	        "{\"annotations\":{\"org.example\":\"v\"},\"config\":{\"digest\":\"%s\","
	        "\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":%zu},"
	        "\"layers\":[{\"annotations\":{\"x.y\":\"z\"},\"digest\":\"%s\",\"mediaType\":"
	        "\"application/vnd.oci.image.layer.v1.tar\",\"size\":11}],\"mediaType\":"
	        "\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}",
	        cdigest, strlen(ctext), layer);
	_cleanup_free_ char *mpath = lade_store_blob_path(store, mdigest);
	_cleanup_free_ char *mtext = read_text(mpath);
	is_str(mtext, want, "manifest JSON");
	ok(msize == strlen(want), "manifest size");

	/* Without annotations the member is omitted. */
	char m2[LADE_DIGEST_STRLEN];
	uint64_t m2size;
	_cleanup_(json_decrefp) json_t *empty = json_object();
	ml[0].annotations = NULL;
	ok(lade_image_write(store, config, ml, 1, empty, m2, &m2size, &err) == 0,
	   "image without annotations");
	_cleanup_free_ char *m2path = lade_store_blob_path(store, m2);
	_cleanup_free_ char *m2text = read_text(m2path);
	ok(strstr(m2text, "annotations") == NULL, "empty annotations omitted");

	struct lade_manifest_layer missing[] = {
	        {"application/vnd.oci.image.layer.v1.tar",
	         "sha256:3333333333333333333333333333333333333333333333333333333333333333", 1, NULL,
	         false}};
	char m3[LADE_DIGEST_STRLEN];
	r = lade_image_write(store, config, missing, 1, NULL, m3, NULL, &err);
	_cleanup_free_ char *want_missing =
	        xasprintf("manifest layer "
	                  "sha256:3333333333333333333333333333333333333333333333333333333333333333 "
	                  "is not in the store %s",
	                  dir);
	ok(r == -1, "layer missing from the store refused");
	is_str(err ? err->msg : NULL, want_missing, "missing layer message");
	lade_error_freep(&err);

	/* index.json: two refs, then one replaced. */
	struct lade_index_entry e1[] = {
	        {"application/vnd.oci.image.manifest.v1+json", mdigest, msize, "a", NULL},
	        {"application/vnd.oci.image.manifest.v1+json", m2, m2size, "b", NULL},
	};
	ok(lade_layout_update_index(store, e1, 2, &err) == 0, "index written");
	_cleanup_free_ char *ipath = lade_path_join(dir, "index.json");
	_cleanup_(json_decrefp) json_t *plat =
	        parse("{\"architecture\":\"amd64\",\"os\":\"linux\"}");
	struct lade_index_entry e2[] = {
	        {"application/vnd.oci.image.manifest.v1+json", m2, m2size, "a", plat},
	};
	ok(lade_layout_update_index(store, e2, 1, &err) == 0, "index updated");
	_cleanup_free_ char *itext = read_text(ipath);
	_cleanup_free_ char *iwant = xasprintf(
	        "{\"manifests\":[{\"annotations\":{\"org.opencontainers.image.ref.name\":\"b\"},"
	        "\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	        "\"size\":%" PRIu64
	        "},{\"annotations\":{\"org.opencontainers.image.ref.name\":\"a\"},"
	        "\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"size\":%" PRIu64
	        "}],\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}",
	        m2, m2size, m2, m2size);
	is_str(itext, iwant, "replaced ref dropped, other ref kept first, new appended");

	struct lade_index_entry bad[] = {
	        {"application/vnd.oci.image.manifest.v1+json",
	         "sha256:3333333333333333333333333333333333333333333333333333333333333333", 1, "c",
	         NULL}};
	ok(lade_layout_update_index(store, bad, 1, &err) == -1, "entry not in store refused");
	_cleanup_free_ char *want_bad =
	        xasprintf("index entry "
	                  "sha256:3333333333333333333333333333333333333333333333333333333333333333 "
	                  "is not in the store %s",
	                  dir);
	is_str(err ? err->msg : NULL, want_bad, "entry not in store message");
	lade_error_freep(&err);

	FILE *f = fopen(ipath, "w");
	fputs("{\"schemaVersion\":2,\"manifests\":{}}", f);
	fclose(f);
	ok(lade_layout_update_index(store, e2, 1, &err) == -1, "malformed index refused");
	_cleanup_free_ char *want_mal =
	        xasprintf("output %s is not a valid OCI index: manifests is not a list", ipath);
	is_str(err ? err->msg : NULL, want_mal, "malformed index message");
	lade_error_freep(&err);
	_cleanup_free_ char *after = read_text(ipath);
	is_str(after, "{\"schemaVersion\":2,\"manifests\":{}}", "malformed index left untouched");

	f = fopen(ipath, "w");
	fputs("{nope", f);
	fclose(f);
	ok(lade_layout_update_index(store, e2, 1, &err) == -1, "invalid JSON index refused");
	ok(err && strncmp(err->msg, "output ", 7) == 0 &&
	           strstr(err->msg, "is not a valid OCI index: invalid JSON (line 1):") != NULL,
	   "invalid JSON index message: %s", err ? err->msg : "");
}

/* A base without history gets one entry per base layer, so lade's own entries line up. */
static void test_history_synthesised(void)
{
	_cleanup_error_ struct lade_error *err = NULL;
	json_t *base =
	        json_pack("{s:s, s:s, s:{s:s, s:[s, s]}}", "architecture", "amd64", "os", "linux",
	                  "rootfs", "type", "layers", "diff_ids", "sha256:aa", "sha256:bb");
	struct lade_config_spec rc = {0};
	json_t *c = NULL;
	ok(lade_config_new(base, &rc, NULL, 0, "linux/amd64", 0, &c, &err) == 0,
	   "config over a base without history");
	json_t *h = json_object_get(c, "history");
	ok(json_array_size(h) == 2, "one history entry per base layer (got %zu)",
	   json_array_size(h));
	lade_config_add_layer(c, "sha256:cc", "lade COPY a /a", "files", 0);
	ok(json_array_size(json_object_get(c, "history")) == 3 &&
	           json_array_size(json_object_get(json_object_get(c, "rootfs"), "diff_ids")) == 3,
	   "history and diff_ids stay in step after a new layer");
	json_decref(c);
	json_decref(base);
}

int main(void)
{
	_cleanup_free_ char *tmp = make_tmpdir("test-config");
	test_time();
	test_merge_full();
	test_cmd_variants();
	test_errors();
	test_exact();
	test_layout(tmp);
	test_history_synthesised();
	rm_rf(tmp);
	return tap_done();
}
