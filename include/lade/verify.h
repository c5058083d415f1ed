/* lade — `lade verify`: check an OCI image layout the way a careful consumer would, and list
 * what is wrong with it instead of stopping at the first problem.
 *
 * Checked: oci-layout (imageLayoutVersion 1.0.0); index.json and nested indexes (schemaVersion
 * 2, mediaType, descriptors with mediaType/digest/size); for every descriptor reached, the blob
 * exists, is a regular file, has the size and the sha256 the descriptor says (digests must be
 * "sha256:<64 lowercase hex>" before they are used in a path); manifests (schemaVersion 2,
 * image config media type, known layer media types: OCI tar, tar+gzip, tar+zstd and Docker's
 * tar.gzip); configs (rootfs.type "layers", one well-formed diff_id per layer, architecture and
 * os, history entries that are not empty_layer match the layers). With check_layers, every
 * layer is decompressed in one pass over its blob (the one layer reader, layerread.h: gzip and
 * zstd chosen by media type, the decompression bomb guard; the blob digest, the diff_id and the tar
 * headers come from the same read): sha256 of the tar stream == diff_id; no absolute paths, no ".."
 * components, no duplicate paths (after dropping "./" and trailing "/"), whiteouts ".wh.<name>"
 * with a non-empty name, hard link targets earlier in the same layer; a broken compressed stream or
 * tar is a problem.
 *
 * Problem lines name the input and what is wrong, e.g.
 *   index.json: manifests[0].size 123 but blob is 124 bytes
 *   blob sha256:<hex>: digest mismatch (expected sha256:<hex>, got sha256:<hex>)
 *   layer 2 (sha256:<hex>): diff_id mismatch: config says sha256:<hex>, tar is sha256:<hex>
 *   layer 1 (sha256:<hex>): duplicate path 'app/x.py'
 *   layer 1 (sha256:<hex>): entry '../evil' escapes the root
 * Layers are numbered from 1 (bottom layer first) within the first manifest that names them.
 * Strings taken from the layout are quoted with control and non-ASCII bytes escaped (\xNN), so
 * each problem is exactly one line.
 */
#ifndef LADE_VERIFY_H
#define LADE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "lade/error.h"
#include "lade/util.h"

struct lade_verify_options {
	size_t max_problems; /* problem lines to list (counting goes on); 0 means the default 20 */
	bool check_layers;   /* decompress layers: diff_ids and tar rules (default true) */
	const char *ref;     /* only index.json entries with this ref name; NULL: all */
};

#define LADE_VERIFY_MAX_PROBLEMS 20
/* clang-format 14 and 19 lay out a braced macro differently: */
/* clang-format off */
#define LADE_VERIFY_OPTIONS_INIT {LADE_VERIFY_MAX_PROBLEMS, true, NULL}
/* clang-format on */

/* Set *o to the defaults (LADE_VERIFY_OPTIONS_INIT). */
void lade_verify_options_init(struct lade_verify_options *o);

/* Verify the OCI image layout in directory dir. o may be NULL (defaults). Appends the first
 * o->max_problems problems to `problems` (which the caller initialised and owns), each line
 * ending in '\n', and stores the total number of problems found in *n_problems (which may be
 * larger than the number of lines listed). Returns 0 when the check ran, whatever it found;
 * -1 with *err set only when it could not start: dir missing or not a directory. */
int lade_verify_layout(const char *dir, const struct lade_verify_options *o,
                       struct lade_buf *problems, size_t *n_problems, struct lade_error **err);

#endif
