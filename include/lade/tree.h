/* lade — an index of a root file system (path -> type, mode, owner, link target), built from
 * the base image's layers (whiteouts applied) and used to give implicit parent directories
 * the base's metadata, to resolve destination paths through the base's symlinks, and to find
 * files such as the interpreter or libc in the base. Paths are normalised relative paths
 * (see lade_path_normalize); "" is the root. */
#ifndef LADE_TREE_H
#define LADE_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "lade/error.h"

enum lade_entry_type {
	LADE_ENTRY_DIR = 1,
	LADE_ENTRY_FILE,
	LADE_ENTRY_SYMLINK,
	LADE_ENTRY_HARDLINK,
	LADE_ENTRY_OTHER, /* device, fifo, socket (bases may have them; lade never writes them) */
};

/* "a directory", "a file", "a symlink", "a hard link" or "a special file", for messages
 * ("... is a symlink"). Static string, never NULL. */
const char *lade_entry_type_name(enum lade_entry_type type);

struct lade_tree_node {
	const char *path; /* owned by the tree */
	enum lade_entry_type type;
	uint32_t mode; /* permission bits, 07777 */
	uint32_t uid, gid;
	uint64_t size;
	const char *link; /* symlink target / hard link target, owned by the tree, or NULL */
};

struct lade_tree; /* opaque */

struct lade_tree *lade_tree_new(void);
void lade_tree_free(struct lade_tree *t);
void lade_tree_freep(struct lade_tree **t);

/* Apply one tar entry of a layer, in layer order, with OCI whiteout semantics: a basename
 * ".wh.NAME" deletes NAME (and everything below it); ".wh..wh..opq" empties its directory of
 * what lower layers put there. `layer_begin` must be called before each layer so opaque
 * whiteouts only hide lower layers. A non-directory replacing a directory removes the subtree.
 * path is a normalised path; errors name the path. */
void lade_tree_layer_begin(struct lade_tree *t);
int lade_tree_apply(struct lade_tree *t, const char *path, enum lade_entry_type type, uint32_t mode,
                    uint32_t uid, uint32_t gid, uint64_t size, const char *link,
                    struct lade_error **err);

const struct lade_tree_node *lade_tree_lookup(const struct lade_tree *t, const char *path);

/* Serialise the tree as a JSON array of [path, type, mode, uid, gid, size, link|null], sorted
 * with lade_path_compare (parents first), and load it back into an empty tree. Used to cache a
 * base image's index next to the layer cache, so rebuilds do not decompress the base again.
 * Load errors (malformed JSON shape, bad paths) are reported, never half-applied silently. */
json_t *lade_tree_to_json(const struct lade_tree *t);
int lade_tree_from_json(struct lade_tree *t, const json_t *j, struct lade_error **err);
size_t lade_tree_count(const struct lade_tree *t);

/* The names (last components) of the direct children of `dir` (a normalised path, "" for the
 * root; symlinks are not followed), sorted with strcmp, as a new NULL-terminated vector
 * (lade_strv_free), or NULL when dir has none or is not in the tree. Walks the whole index:
 * meant for a few directories per build, not for tree walks. */
char **lade_tree_children(const struct lade_tree *t, const char *dir);

/* Resolve symlinks in `path` as the kernel would inside a chroot at the tree root (absolute
 * targets are relative to the root, ".." stops at the root), following at most 40 links.
 * With follow_last false the last component is not followed. Returns the resolved normalised
 * path (new string); components that do not exist are kept as they are. */
int lade_tree_resolve(const struct lade_tree *t, const char *path, bool follow_last, char **out,
                      struct lade_error **err);

/* lade_tree_resolve that also says when a relative link target's ".." climbs above the root:
 * lade_tree_resolve clamps that at the root (as the kernel and containerd do), a naive
 * extractor writes outside the image. *escape (not NULL) receives the path of the link whose
 * target climbed (new string, owned by the caller; set even when -1 is returned for a later
 * loop) or NULL when nothing climbed. */
int lade_tree_resolve_escape(const struct lade_tree *t, const char *path, bool follow_last,
                             char **out, char **escape, struct lade_error **err);

#endif
