/* lade fuzz harnesses — a one-image OCI layout around a fuzzed blob, and the readers run on
 * it (lade_base_load, lade_base_read_tree, lade_tree_resolve, lade_verify_layout).
 *
 * Text parts (index.json, manifest, config) may name the other blobs with placeholders that
 * are replaced before writing, so hand-written seeds stay valid while the fuzzer can change
 * every byte around them: @M@/@MS@ manifest digest/size, @C@/@CS@ config, @L@/@LS@ layer,
 * @D@ the layer's diff_id, @LT@ the layer media type. */
#ifndef LADE_FUZZ_LAYOUT_H
#define LADE_FUZZ_LAYOUT_H

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include "fuzz-common.h"
#include "lade/base.h"
#include "lade/digest.h"
#include "lade/image.h"
#include "lade/store.h"
#include "lade/tree.h"
#include "lade/verify.h"

#define FZ_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define FZ_MT_CONFIG   "application/vnd.oci.image.config.v1+json"
#define FZ_MT_TAR      "application/vnd.oci.image.layer.v1.tar"

struct fuzz_blob {
	const char *data;
	size_t len;
	char digest[LADE_DIGEST_STRLEN];
	char size[24];
};

struct fuzz_image {
	struct fuzz_blob layer, config, manifest;
	const char *layer_type;
	char diff_id[LADE_DIGEST_STRLEN];
};

static inline void fuzz_blob_set(struct fuzz_blob *b, const char *data, size_t len)
{
	b->data = data;
	b->len = len;
	lade_sha256_buf(data, len, b->digest);
	snprintf(b->size, sizeof(b->size), "%zu", len);
}

/* text with the placeholders of img replaced (new string, length in *len). */
static inline char *fuzz_subst(const char *text, size_t n, const struct fuzz_image *img,
                               size_t *len)
{
	const struct {
		const char *key, *val;
	} map[] = {
	        {"@MS@", img->manifest.size}, {"@M@", img->manifest.digest},
	        {"@CS@", img->config.size},   {"@C@", img->config.digest},
	        {"@LS@", img->layer.size},    {"@LT@", img->layer_type},
	        {"@L@", img->layer.digest},   {"@D@", img->diff_id},
	};
	struct lade_buf out = LADE_BUF_INIT;
	for (size_t i = 0; i < n;) {
		bool hit = false;
		for (size_t k = 0; k < LADE_ARRAY_SIZE(map) && text[i] == '@'; k++) {
			size_t kl = strlen(map[k].key);
			if (n - i >= kl && memcmp(text + i, map[k].key, kl) == 0 && map[k].val[0]) {
				lade_buf_adds(&out, map[k].val);
				i += kl;
				hit = true;
				break;
			}
		}
		if (!hit)
			lade_buf_addch(&out, text[i++]);
	}
	return lade_buf_detach(&out, len);
}

static inline void fuzz_put_blob(const char *layout, const struct fuzz_blob *b)
{
	_cleanup_free_ char *path =
	        xasprintf("%s/blobs/sha256/%s", layout, lade_digest_hex(b->digest));
	fuzz_write(path, b->data, b->len);
}

/* A small valid layer: a directory, files, a symlink chain and a hard link. */
static inline void fuzz_default_tar(struct lade_buf *out)
{
	static const struct tar_ent ents[] = {
	        {"usr/", 'd', NULL, 0},
	        {"usr/bin/", 'd', NULL, 0},
	        {"usr/bin/python3.11", 'f', "#!", 0},
	        {"usr/bin/python3", 'l', "python3.11", 0},
	        {"usr/lib/", 'd', NULL, 0},
	        {"lib", 'l', "usr/lib", 0},
	        {"etc/", 'd', NULL, 0},
	        {"etc/os-release", 'f', "ID=debian\n", 0},
	        {"etc/hosts", 'h', "etc/os-release", 0},
	};
	make_tar(ents, LADE_ARRAY_SIZE(ents), false, out);
}

static const char fuzz_default_config[] __attribute__((unused)) =
        "{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"PATH=/usr/bin\"]},\"os\":\"linux\","
        "\"rootfs\":{\"diff_ids\":[\"@D@\"],\"type\":\"layers\"}}";
static const char fuzz_default_manifest[] __attribute__((unused)) =
        "{\"config\":{\"digest\":\"@C@\",\"mediaType\":\"" FZ_MT_CONFIG "\",\"size\":@CS@},"
        "\"layers\":[{\"digest\":\"@L@\",\"mediaType\":\"@LT@\",\"size\":@LS@}],"
        "\"mediaType\":\"" FZ_MT_MANIFEST "\",\"schemaVersion\":2}";
static const char fuzz_default_index[] __attribute__((unused)) =
        "{\"manifests\":[{\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"},"
        "\"digest\":\"@M@\",\"mediaType\":\"" FZ_MT_MANIFEST "\",\"size\":@MS@}],"
        "\"schemaVersion\":2}";

/* Write a fresh layout in fuzz_dir()/layout: the given texts (NULL: the defaults above) with
 * placeholders replaced, and the layer bytes. Returns the layout path. */
static inline char *fuzz_make_layout(const char *layer, size_t layer_len, const char *layer_type,
                                     const char *index, size_t index_len, const char *manifest,
                                     size_t manifest_len, const char *config, size_t config_len)
{
	char *dir = lade_path_join(fuzz_dir(), "layout");
	rm_rf(dir);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs", dir);
	_cleanup_free_ char *sha = xasprintf("%s/blobs/sha256", dir);
	if (mkdir(dir, 0755) < 0 || mkdir(blobs, 0755) < 0 || mkdir(sha, 0755) < 0)
		abort();
	_cleanup_free_ char *ol = lade_path_join(dir, "oci-layout");
	const char *olt = "{\"imageLayoutVersion\":\"1.0.0\"}";
	fuzz_write(ol, olt, strlen(olt));

	struct fuzz_image img = {.layer_type = layer_type};
	fuzz_blob_set(&img.layer, layer, layer_len);
	/* For compressed layers this is wrong on purpose: verify reports it, load does not care. */
	memcpy(img.diff_id, img.layer.digest, sizeof(img.diff_id));
	fuzz_put_blob(dir, &img.layer);

	size_t n;
	_cleanup_free_ char *c =
	        config ? fuzz_subst(config, config_len, &img, &n)
	               : fuzz_subst(fuzz_default_config, strlen(fuzz_default_config), &img, &n);
	fuzz_blob_set(&img.config, c, n);
	fuzz_put_blob(dir, &img.config);
	_cleanup_free_ char *m = manifest ? fuzz_subst(manifest, manifest_len, &img, &n)
	                                  : fuzz_subst(fuzz_default_manifest,
	                                               strlen(fuzz_default_manifest), &img, &n);
	fuzz_blob_set(&img.manifest, m, n);
	fuzz_put_blob(dir, &img.manifest);
	_cleanup_free_ char *ix =
	        index ? fuzz_subst(index, index_len, &img, &n)
	              : fuzz_subst(fuzz_default_index, strlen(fuzz_default_index), &img, &n);
	_cleanup_free_ char *ip = lade_path_join(dir, "index.json");
	fuzz_write(ip, ix, n);
	return dir;
}

/* Load a base, read its tree and resolve a few paths through it. */
static inline void fuzz_load_base(const struct lade_base_spec *spec)
{
	_cleanup_free_ char *store_dir = lade_path_join(fuzz_dir(), "store");
	rm_rf(store_dir);
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	if (lade_store_open(store_dir, 0, &store, &err) < 0)
		abort(); /* the harness's own directory */
	_cleanup_(lade_base_image_freep) struct lade_base_image *b = NULL;
	if (lade_base_load(spec, "linux/amd64", store, &b, &err) < 0)
		return;
	_cleanup_(lade_tree_freep) struct lade_tree *tree = lade_tree_new();
	if (lade_base_read_tree(b, store, tree, &err) < 0)
		return;
	static const char *const paths[] = {"usr/bin/python3", "lib/x/y", "etc/hosts", "a/b/c"};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(paths); i++) {
		_cleanup_free_ char *res = NULL;
		_cleanup_error_ struct lade_error *e = NULL;
		(void)lade_tree_resolve(tree, paths[i], true, &res, &e);
	}
}

/* Load the layout as a base (tag "latest", linux/amd64), then verify it with layer checks. */
static inline void fuzz_read_layout(const char *dir)
{
	struct lade_base_spec spec = {.kind = LADE_BASE_OCI, .ref = dir, .tag = "latest"};
	fuzz_load_base(&spec);
	struct lade_verify_options o;
	lade_verify_options_init(&o);
	_cleanup_buf_ struct lade_buf problems = LADE_BUF_INIT;
	size_t n_problems = 0;
	_cleanup_error_ struct lade_error *verr = NULL;
	(void)lade_verify_layout(dir, &o, &problems, &n_problems, &verr);
}

#endif
