/* lade — reading base images: an OCI image layout (DIR[:TAG], as written by `skopeo copy
 * docker://… oci:DIR:TAG`), a docker-archive (`docker save` output, classic and Docker 25+
 * OCI-style) or scratch. Every blob read is checked against its digest and size; base layer
 * blobs are imported into the output store verbatim (same digest, never recompressed). */
#ifndef LADE_BASE_H
#define LADE_BASE_H

#include <jansson.h>
#include <stdint.h>
#include "lade/error.h"
#include "lade/layerread.h"
#include "lade/store.h"
#include "lade/tree.h"

/* Which base: the OCI reader's own words for it (assembler/build.c turns a recipe's base into
 * this; nothing here knows recipes). */
enum lade_base_kind {
	LADE_BASE_SCRATCH = 1,
	LADE_BASE_OCI,            /* ref = layout dir, tag = tag or NULL */
	LADE_BASE_DOCKER_ARCHIVE, /* ref = tar path, tag = "repo:tag" to pick or NULL */
	LADE_BASE_IMAGE,          /* ref = registry reference (pulled first, then read as OCI) */
};

struct lade_base_spec {
	enum lade_base_kind kind;
	const char *ref; /* borrowed */
	const char *tag; /* borrowed, may be NULL */
};

struct lade_descriptor {
	char *media_type;
	char *digest;
	uint64_t size;
};

struct lade_base_layer {
	struct lade_descriptor desc; /* as it will appear in the new manifest */
	char *diff_id;               /* from the base config's rootfs.diff_ids */
};

struct lade_base_image {
	char *name;            /* for messages and the base.name annotation: "DIR:TAG" etc. */
	char *manifest_digest; /* digest of the base manifest (NULL for scratch) */
	json_t *config;        /* owned; the base image config (NULL for scratch) */
	struct lade_base_layer *layers;
	size_t n_layers;
};

/* Resolve the base `spec` names for `platform` ("linux/amd64", optional variant as
 * "linux/arm64/v8"): follow index -> (nested index) -> manifest, pick by ref name (the tag;
 * no tag: the only manifest) and platform, verify the manifest, config and every layer blob
 * (digest and size), check diff_ids count == layers, and import the layer blobs into `store`.
 * Docker media types are accepted and written out as their OCI equivalents only where the
 * bytes are unchanged (the media type string of a layer is converted, the blob is not).
 * Errors name the base ("base oci:/path:tag: …") and the blob. */
int lade_base_load(const struct lade_base_spec *spec, const char *platform,
                   struct lade_store *store, struct lade_base_image **out, struct lade_error **err);
void lade_base_image_free(struct lade_base_image *b);
void lade_base_image_freep(struct lade_base_image **b);

/* Read the headers of every base layer (from the store) and build the root file system index.
 * Refused (hostile base), with an error naming the base, the layer and the entry: absolute
 * paths, ".." components, entries written through a symlink whose relative target climbs
 * above the root, a path twice in one layer, hard links to a path not earlier in the layer,
 * and layers over 64 GiB uncompressed or, above 100 MiB, over 1000 times their compressed
 * size. Device nodes, fifos and setuid/setgid files are kept: base layers are reused
 * verbatim, never extracted. */
int lade_base_read_tree(const struct lade_base_image *b, struct lade_store *store,
                        struct lade_tree *tree, struct lade_error **err);

/* Regular files whose last path component is `name`, kept while lade_base_read_tree_keep
 * reads the layers: the content the topmost layer writes at each such path (files over `max`
 * bytes are not kept; a later non-regular entry at the path drops it). So lade_base_detect_libc
 * reads libc.so.6 without a second pass over the base layers. */
struct lade_hashmap;
struct lade_base_keep {
	const char *name;
	size_t max;
	struct lade_hashmap *files; /* path -> struct lade_buf * (owned), made by read_tree_keep */
};
/* lade_base_read_tree, keeping keep's files (keep may be NULL). */
int lade_base_read_tree_keep(const struct lade_base_image *b, struct lade_store *store,
                             struct lade_tree *tree, struct lade_base_keep *keep,
                             struct lade_error **err);
void lade_base_keep_release(struct lade_base_keep *keep);

/* How a base layer blob at `path` is read (lade_layer_read): checked against its digest and
 * diff_id, the compression detected from the bytes, bytes after the last gzip member ignored;
 * name prefixes the errors. Fills *r with no entry callback. */
void lade_base_layer_read_init(const struct lade_base_layer *l, const char *path, const char *name,
                               struct lade_layer_read *r);

#endif
