/* Tests for lade_build_run(): a scratch recipe with a files: item, written here, built into a
 * temporary layout; what the layout holds is read back blob by blob (index → manifest →
 * config → layer, every digest recomputed, the layer's tar read with libarchive) and compared
 * with the report and with the progress events the build emitted. Then variants (their
 * events), a rebuild (same digests) and bad recipes (errors naming them). */
#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/build.h"
#include "lade/digest.h"
#include "lade/util.h"
#include "tap.h"

static char *tmp;

static void put(const char *rel, const char *text, mode_t mode)
{
	_cleanup_free_ char *path = lade_path_join(tmp, rel);
	_cleanup_free_ char *dir = lade_path_parent_dir(path);
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_mkdir_p(dir, &err) < 0 ||
	    lade_write_file_atomic(path, text, strlen(text), &err) < 0 || chmod(path, mode) < 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

/* ---- the events, copied as they come (their strings live for the call only) ---- */

struct seen {
	enum lade_build_event_kind kind;
	char *name, *text, *digest;
	size_t index, count, entries;
	uint64_t bytes_in, bytes_out;
	bool reused;
};

struct events {
	struct seen *v;
	size_t n, alloc;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void record(void *ctx, const struct lade_build_event *ev)
{
	struct events *e = ctx;
	lade_grow(&e->v, sizeof(*e->v), e->n + 1, &e->alloc);
	e->v[e->n++] = (struct seen){.kind = ev->kind,
	                             .name = dup_or_null(ev->name),
	                             .text = dup_or_null(ev->text),
	                             .digest = dup_or_null(ev->digest),
	                             .index = ev->index,
	                             .count = ev->count,
	                             .entries = ev->entries,
	                             .bytes_in = ev->bytes_in,
	                             .bytes_out = ev->bytes_out,
	                             .reused = ev->reused};
}

static void events_release(struct events *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].name);
		free(e->v[i].text);
		free(e->v[i].digest);
	}
	free(e->v);
	*e = (struct events){0};
}

static size_t count_kind(const struct events *e, enum lade_build_event_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < e->n; i++)
		n += e->v[i].kind == k;
	return n;
}

/* Build recipe REL (under tmp) into layout OUT (under tmp); events into *ev when given. */
static int build(const char *rel, const char *out, struct events *ev,
                 struct lade_build_report **rep, char **errmsg)
{
	_cleanup_free_ char *recipe = lade_path_join(tmp, rel);
	_cleanup_free_ char *outdir = lade_path_join(tmp, out);
	struct lade_build_options o = {.recipe_path = recipe,
	                               .output_dir = outdir,
	                               .level = -1,
	                               .jobs = 1,
	                               .lock_timeout_s = 5,
	                               .no_cache = true,
	                               .progress = ev ? record : NULL,
	                               .progress_ctx = ev};
	_cleanup_error_ struct lade_error *err = NULL;
	*rep = NULL;
	if (lade_build_run(&o, rep, &err) < 0) {
		if (errmsg)
			*errmsg = xstrdup(err->msg);
		else
			printf("# build %s: %s\n", rel, err->msg);
		return -1;
	}
	return 0;
}

/* ---- reading the layout back ---- */

static char *blob_path(const char *layout, const char *digest)
{
	return xasprintf("%s/%s/blobs/sha256/%s", tmp, layout, lade_digest_hex(digest));
}

/* The blob's bytes, after checking that they hash to DIGEST and have SIZE bytes. */
static bool read_blob(const char *layout, const char *digest, uint64_t size, struct lade_buf *b)
{
	_cleanup_free_ char *path = blob_path(layout, digest);
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_read_file(path, 64u << 20, b, &err) < 0) {
		printf("# %s\n", err->msg);
		return false;
	}
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(b->data, b->len, got);
	if (strcmp(got, digest) != 0 || b->len != size) {
		printf("# blob %s: sha256 %s, %zu bytes (want %" PRIu64 ")\n", digest, got, b->len,
		       size);
		return false;
	}
	return true;
}

static json_t *read_json_blob(const char *layout, const char *digest, uint64_t size)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (!read_blob(layout, digest, size, &b))
		return NULL;
	return json_loadb(b.data, b.len, 0, NULL);
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The layer's tar: its sha256 (the diff_id), size and entries ("path type mode size"). */
struct tar_facts {
	char diff_id[LADE_DIGEST_STRLEN];
	uint64_t size;
	char **entries;
	char *hello; /* content of app/hello.txt */
	bool mtimes_zero;
};

static bool read_layer(const char *layout, const char *digest, uint64_t size, struct tar_facts *t)
{
	_cleanup_buf_ struct lade_buf gz = LADE_BUF_INIT;
	if (!read_blob(layout, digest, size, &gz))
		return false;
	/* First the raw tar (for its digest), then its entries. */
	_cleanup_(lade_archive_read_freep) struct archive *raw = archive_read_new();
	archive_read_support_filter_gzip(raw);
	archive_read_support_format_raw(raw);
	struct archive_entry *e;
	if (archive_read_open_memory(raw, gz.data, gz.len) != ARCHIVE_OK ||
	    archive_read_next_header(raw, &e) != ARCHIVE_OK)
		return false;
	_cleanup_buf_ struct lade_buf tar = LADE_BUF_INIT;
	char chunk[8192];
	la_ssize_t n;
	while ((n = archive_read_data(raw, chunk, sizeof(chunk))) > 0)
		lade_buf_add(&tar, chunk, (size_t)n);
	if (n < 0)
		return false;
	lade_sha256_buf(tar.data, tar.len, t->diff_id);
	t->size = tar.len;

	_cleanup_(lade_archive_read_freep) struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar.data, tar.len) != ARCHIVE_OK)
		return false;
	t->mtimes_zero = true;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *type = archive_entry_filetype(e) == AE_IFDIR ? "dir" : "file";
		_cleanup_free_ char *line = xasprintf("%s %s %04o %lld", archive_entry_pathname(e),
		                                      type, (unsigned)archive_entry_perm(e),
		                                      (long long)archive_entry_size(e));
		lade_strv_push(&t->entries, line);
		t->mtimes_zero = t->mtimes_zero && archive_entry_mtime(e) == 0;
		if (strcmp(archive_entry_pathname(e), "app/hello.txt") == 0) {
			char buf[64] = "";
			la_ssize_t got = archive_read_data(a, buf, sizeof(buf) - 1);
			t->hello = xstrndup(buf, got > 0 ? (size_t)got : 0);
		}
	}
	return true;
}

/* ---- the tests ---- */

static const char recipe_app[] = "name: t\n"
                                 "tag: \"1\"\n"
                                 "base: {scratch: true}\n"
                                 "files:\n"
                                 "  - {src: app/, dst: /app}\n"
                                 "config:\n"
                                 "  entrypoint: [\"/app/run.sh\"]\n"
                                 "  env: {GREETING: hi}\n";

static void test_layout_and_events(void)
{
	put("app/hello.txt", "hello\n", 0644);
	put("app/run.sh", "#!/bin/sh\necho hi\n", 0755);
	put("app.yaml", recipe_app, 0644);

	struct events ev = {0};
	_cleanup_(lade_build_report_freep) struct lade_build_report *rep = NULL;
	ok(build("app.yaml", "out", &ev, &rep, NULL) == 0, "the recipe builds");
	if (rep == NULL) {
		events_release(&ev);
		return;
	}
	ok(rep->n_images == 1 && rep->n_refs == 1, "one image, one ref");
	is_str(rep->refs[0].name, "1", "the ref is the recipe's tag");
	const struct lade_build_image *im = &rep->images[0];
	ok(im->n_layers == 1, "a scratch base and one files item: one layer");
	is_str(im->platform, "linux/amd64", "the default platform");

	/* index.json names the manifest by the reported digest and the tag. */
	_cleanup_free_ char *index_path = xasprintf("%s/out/index.json", tmp);
	_cleanup_(json_decrefp) json_t *index = json_load_file(index_path, 0, NULL);
	json_t *m0 = json_array_get(json_object_get(index, "manifests"), 0);
	ok(json_array_size(json_object_get(index, "manifests")) == 1,
	   "index.json lists one manifest");
	is_str(jstr(m0, "digest"), im->digest, "index.json names the reported manifest digest");
	is_str(jstr(json_object_get(m0, "annotations"), "org.opencontainers.image.ref.name"), "1",
	       "index.json names it by the tag");

	/* The manifest: its bytes hash to the digest; config and layer as reported. */
	_cleanup_(json_decrefp) json_t *manifest =
	        read_json_blob("out", im->digest, im->manifest_size);
	ok(manifest != NULL, "the manifest blob hashes to its digest and has the reported size");
	json_t *cfgd = json_object_get(manifest, "config");
	json_t *l0 = json_array_get(json_object_get(manifest, "layers"), 0);
	is_str(jstr(manifest, "mediaType"), "application/vnd.oci.image.manifest.v1+json",
	       "an OCI image manifest");
	is_str(jstr(cfgd, "digest"), im->config_digest, "the manifest names the reported config");
	is_str(jstr(l0, "digest"), im->layers[0].digest, "the manifest names the reported layer");
	is_str(jstr(l0, "mediaType"), "application/vnd.oci.image.layer.v1.tar+gzip",
	       "the layer is gzip (the default)");
	ok((uint64_t)json_integer_value(json_object_get(l0, "size")) == im->layers[0].size,
	   "the manifest's layer size is the reported one");

	/* The config: the recipe's settings, the layer's diff_id. */
	_cleanup_(json_decrefp) json_t *config =
	        read_json_blob("out", im->config_digest,
	                       (uint64_t)json_integer_value(json_object_get(cfgd, "size")));
	ok(config != NULL, "the config blob hashes to its digest");
	json_t *cc = json_object_get(config, "config");
	is_str(json_string_value(json_array_get(json_object_get(cc, "Entrypoint"), 0)),
	       "/app/run.sh", "the config has the recipe's entrypoint");
	is_str(json_string_value(json_array_get(json_object_get(cc, "Env"), 0)), "GREETING=hi",
	       "the config has the recipe's env");
	is_str(jstr(config, "architecture"), "amd64", "config architecture");
	is_str(json_string_value(json_array_get(
	               json_object_get(json_object_get(config, "rootfs"), "diff_ids"), 0)),
	       im->layers[0].diff_id, "the config's diff_id is the reported one");
	is_str(jstr(config, "created"), "1970-01-01T00:00:00Z", "created is SOURCE_DATE_EPOCH");

	/* The layer: its tar hashes to the diff_id and holds the files item. */
	struct tar_facts t = {0};
	ok(read_layer("out", im->layers[0].digest, im->layers[0].size, &t),
	   "the layer blob hashes to its digest and inflates to a tar");
	is_str(t.diff_id, im->layers[0].diff_id, "the tar hashes to the diff_id");
	ok(t.size == im->layers[0].tar_size, "the tar has the reported size");
	_cleanup_buf_ struct lade_buf listing = LADE_BUF_INIT;
	for (char **s = t.entries; s && *s; s++)
		lade_buf_addf(&listing, "%s%s", s == t.entries ? "" : "|", *s);
	is_str(listing.data, "app/ dir 0755 0|app/hello.txt file 0644 6|app/run.sh file 0755 18",
	       "the layer holds the files item: sorted, parents first, normalised modes");
	is_str(t.hello, "hello\n", "a file's content is in the layer");
	ok(t.mtimes_zero, "every mtime is SOURCE_DATE_EPOCH (0)");

	/* The events: one layer event that says what the report says, nothing else for a
	 * scratch build without variants (no base, no python, no notes). */
	ok(ev.n == 1 && count_kind(&ev, LADE_BUILD_EVENT_LAYER) == 1,
	   "one event: the layer (got %zu events)", ev.n);
	if (ev.n >= 1 && ev.v[0].kind == LADE_BUILD_EVENT_LAYER) {
		const struct seen *s = &ev.v[0];
		ok(s->index == 1 && s->count == 1, "layer event: 1 of 1");
		is_str(s->name, "files /app", "layer event: the layer's name");
		is_str(s->digest, im->layers[0].digest, "layer event: the blob digest");
		ok(s->bytes_in == t.size, "layer event: bytes in is the tar size");
		ok(s->bytes_out == im->layers[0].size, "layer event: bytes out is the blob size");
		ok(s->entries == lade_strv_len(t.entries),
		   "layer event: the tar's entry count (%zu)", s->entries);
		ok(!s->reused, "layer event: not reused (no cache)");
	}
	events_release(&ev);
	lade_strv_free(t.entries);
	free(t.hello);

	/* Same inputs, another layout: the same bytes. */
	_cleanup_(lade_build_report_freep) struct lade_build_report *again = NULL;
	ok(build("app.yaml", "out2", NULL, &again, NULL) == 0, "the recipe builds again");
	if (again)
		is_str(again->images[0].digest, im->digest,
		       "a rebuild gives the same manifest digest");
}

static void test_variant_events(void)
{
	put("var.yaml",
	    "name: v\n"
	    "tag: \"2\"\n"
	    "base: {scratch: true}\n"
	    "files:\n"
	    "  - {src: app/, dst: /app}\n"
	    "variants:\n"
	    "  small: {default: true}\n"
	    "  big:\n"
	    "    files:\n"
	    "      - {src: app/, dst: /srv}\n",
	    0644);
	struct events ev = {0};
	_cleanup_(lade_build_report_freep) struct lade_build_report *rep = NULL;
	ok(build("var.yaml", "outv", &ev, &rep, NULL) == 0, "a recipe with two variants builds");
	ok(count_kind(&ev, LADE_BUILD_EVENT_VARIANT) == 2, "one variant event per variant");
	ok(ev.n == 4 && ev.v[0].kind == LADE_BUILD_EVENT_VARIANT &&
	           ev.v[1].kind == LADE_BUILD_EVENT_LAYER &&
	           ev.v[2].kind == LADE_BUILD_EVENT_VARIANT &&
	           ev.v[3].kind == LADE_BUILD_EVENT_LAYER,
	   "each variant's event comes before its layers");
	if (ev.n == 4) {
		is_str(ev.v[0].name, "small", "the first variant in file order");
		is_str(ev.v[2].name, "big", "then the second");
		is_str(ev.v[3].name, "files /srv", "the second variant's own layer");
	}
	if (rep)
		ok(rep->n_refs == 3, "refs: 2-small, 2-big and 2 for the default (got %zu)",
		   rep->n_refs);
	events_release(&ev);
}

static void test_bad_recipes(void)
{
	_cleanup_free_ char *msg = NULL;
	_cleanup_(lade_build_report_freep) struct lade_build_report *rep = NULL;
	_cleanup_free_ char *path = lade_path_join(tmp, "typo.yaml");

	put("typo.yaml", "name: t\ntga: \"1\"\nbase: {scratch: true}\n", 0644);
	ok(build("typo.yaml", "bad", NULL, &rep, &msg) < 0, "a recipe with an unknown key fails");
	ok(msg && strstr(msg, path) && strstr(msg, ":2:1: unknown key 'tga'"),
	   "the error names the recipe, the line and the key: %s", msg ? msg : "(none)");
	free(msg);
	msg = NULL;

	put("nosrc.yaml", "name: t\nbase: {scratch: true}\nfiles:\n  - {src: gone/, dst: /app}\n",
	    0644);
	_cleanup_free_ char *path2 = lade_path_join(tmp, "nosrc.yaml");
	ok(build("nosrc.yaml", "bad", NULL, &rep, &msg) < 0,
	   "a files item without its source fails");
	ok(msg && strstr(msg, path2) && strstr(msg, "gone/"),
	   "the error names the recipe and the missing source: %s", msg ? msg : "(none)");
	free(msg);
	msg = NULL;

	_cleanup_free_ char *index = xasprintf("%s/bad/index.json", tmp);
	struct stat st;
	ok(stat(index, &st) < 0, "a failed build writes no index.json");

	ok(build("absent.yaml", "bad", NULL, &rep, &msg) < 0, "a recipe that does not exist fails");
	ok(msg && strstr(msg, "absent.yaml"), "the error names it: %s", msg ? msg : "(none)");
}

int main(void)
{
	setenv("SOURCE_DATE_EPOCH", "0", 1);
	char templ[] = "/tmp/lade-test-build-XXXXXX";
	tmp = mkdtemp(templ);
	if (tmp == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_layout_and_events();
	test_variant_events();
	test_bad_recipes();
	_cleanup_error_ struct lade_error *err = NULL;
	lade_remove_tree(tmp, &err);
	return tap_done();
}
