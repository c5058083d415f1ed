/* lade — an image's layers streamed (through the one layer reader) into its merged file
 * system: the tree of lade_tree_apply plus, per path, the sha256 of file content (diff) and
 * the text of *.dist-info/RECORD files (inspect --by-package). Internal to insight/. */
#ifndef LADE_INSIGHT_IMAGEFS_H
#define LADE_INSIGHT_IMAGEFS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lade/digest.h"
#include "lade/hashmap.h"
#include "lade/images.h"
#include "lade/tree.h"
#include "lade/util.h"

#define DIST_INFO_RECORD ".dist-info/RECORD"
#define MAX_RECORD       (64u << 20)

struct imagefs_entry {
	char sha256[LADE_DIGEST_STRLEN]; /* "" unless hashed */
	struct lade_buf record;          /* RECORD content (by_package) */
	bool has_record;
	uint32_t layer; /* index of the layer that wrote the path last */
};

struct imagefs {
	struct lade_tree *tree;
	struct lade_hashmap *seen; /* every path written by a layer -> struct imagefs_entry */
	bool hash;                 /* sha256 of file content (diff) */
	bool records;              /* keep *.dist-info/RECORD content */
};

struct imagefs_layer {
	uint64_t tar_size;
	char diff_id[LADE_DIGEST_STRLEN];
	uint64_t entries;
};

void imagefs_init(struct imagefs *f);
void imagefs_release(struct imagefs *f);

/* Stream every layer of im (into f when not NULL), each checked against its digest, size and
 * the config's diff_id; results[i] for layer i. Without f, a layer already streamed for
 * another image of the layout is taken from `seen` (digest -> struct imagefs_layer, may be
 * NULL): variants share most of their bytes. */
int imagefs_stream(const struct lade_images *s, const struct lade_image *im, struct imagefs *f,
                   struct lade_hashmap *seen, struct imagefs_layer *results,
                   struct lade_error **err);

/* The paths of f, sorted (new array of borrowed strings). */
const char **imagefs_paths(const struct imagefs *f, size_t *n);

/* Is p a "<name>.dist-info/RECORD"? */
bool imagefs_is_record(const char *p);

/* Open what IMAGE names; it must be exactly one image (else the error lists its refs). */
int imagefs_open_one(const char *image, struct lade_images **out, struct lade_error **err);

/* A Python distribution found through its RECORD. */
struct imagefs_pkg {
	char *name, *version, *location; /* location: the site directory, no leading '/' */
	const char *record;              /* its RECORD path (borrowed from f->seen) */
	uint64_t bytes, files;
};

/* Who holds the bytes of a merged file system: distributions (biggest first), which one owns
 * each path its RECORD lists, and per layer the bytes of regular files it wrote last that no
 * distribution owns. */
struct imagefs_sizes {
	struct imagefs_pkg *pkgs;
	size_t n_pkgs;
	struct lade_hashmap *owner; /* path -> (void *)(pkg index + 1) */
	uint64_t *layer_other;      /* [n_layers] */
	size_t n_layers;
};

void imagefs_sizes_init(struct imagefs_sizes *z, const struct imagefs *f, const char **paths,
                        size_t n, size_t n_layers);
void imagefs_sizes_release(struct imagefs_sizes *z);

/* inspect --by-package: installed bytes per distribution, from every RECORD in f. */
json_t *imagefs_packages(const struct imagefs *f, const char **paths, size_t n);

/* inspect --html: layer → distribution or directory → file, area = bytes (treemap.c):
 * {"n": name, "k": "r"|"l"|"p"|"d"|"f"|"o" (root, layer, distribution, directory, file,
 * folded small ones), "v": bytes, "c": [children, biggest first], "i": layer index}. layers:
 * the report's layers (their comment or created_by names them). */
json_t *imagefs_treemap(const struct imagefs *f, const char **paths, size_t n,
                        const json_t *layers);

/* Set key to v when v is not NULL. */
static inline void imagefs_set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static inline void imagefs_set_size(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

#endif
