/* lade — `lade inspect` and `lade diff`: what an image holds and why it is that big, and why
 * two builds differ. Read only; nothing is extracted to disk except the members of an archive
 * (oci-archive:, docker-archive:), which go to a private temp dir removed before returning.
 *
 * IMAGE is "DIR[:TAG]", "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]" or
 * "docker-archive:FILE[:TAG]". A docker-archive is read through its index.json when it has one
 * (Docker 25+, lade), else through manifest.json (Config, RepoTags, Layers). TAG matches the
 * org.opencontainers.image.ref.name or io.containerd.image.name annotation (or a RepoTag, or
 * its tag part). Every manifest and config blob is checked against its digest; layer blobs are
 * checked while they are streamed (their digest, and their diff_id against the config).
 */
#ifndef LADE_INSPECT_H
#define LADE_INSPECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lade/error.h"
#include "lade/util.h"

struct lade_inspect_options {
	bool layers;     /* decompress the layers: uncompressed sizes, diff_ids (default true) */
	size_t top;      /* list the N largest files of the merged file system (0: none) */
	bool by_package; /* installed bytes per Python distribution (every *.dist-info/RECORD) */
	bool treemap;    /* "treemap": the bytes as a tree (layer → distribution or directory →
	                  * file) for lade_inspect_html */
};

/* Inspect every image IMAGE names (all refs of a layout, or the one tagged). *out is a new
 * JSON object owned by the caller:
 *   {"image": IMAGE, "images": [{"ref", "digest", "manifest_size", "platform",
 *     "config": {"digest", "size"}, "created", "entrypoint", "cmd",
 *     "layers": [{"digest", "media_type", "size", "uncompressed_size", "diff_id",
 *                 "entries", "created_by", "comment"}],
 *     "layers_size", "uncompressed_size", "size" (manifest + config + layers),
 *     "unique_bytes", "shared_bytes", "top": [{"path", "size"}],
 *     "packages": [{"name", "version", "location", "bytes", "files"}]}],
 *    "total_bytes" (distinct blobs), "shared_bytes" (blobs used by more than one image)}
 * Keys without a value are left out (no ref, no entrypoint, "uncompressed_size" without
 * o->layers). A package's bytes are the sizes its RECORD lists, and for rows without a size
 * (RECORD itself, files written at install time) the size of that file in the image.
 * top and by_package need o->layers. Errors name IMAGE and the blob or entry at fault. */
int lade_inspect(const char *image, const struct lade_inspect_options *o, json_t **out,
                 struct lade_error **err);

/* Human-readable rendering of an lade_inspect() report (aligned columns, human sizes),
 * appended to out. */
void lade_inspect_format(const json_t *report, struct lade_buf *out);

/* One self-contained HTML page of a lade_inspect() report made with treemap (and top,
 * by_package): a zoomable treemap (inline SVG drawn by a small inline script, nothing loaded
 * from anywhere), the layer table, the biggest files and distributions and, for several
 * images, the bytes and layers they share. Appended to out. */
void lade_inspect_html(const json_t *report, struct lade_buf *out);

/* Compare the merged file systems of two images, each of which must name exactly one image
 * (give the TAG when a layout holds several). *out (caller owns):
 *   {"a": {"image", "digest", "config"}, "b": {...}, "identical": bool, "config_equal": bool,
 *    "content_equal": bool, "blobs_equal": bool, "manifest_equal": bool,
 *    "layers": [{"index" (from 1),
 *                "status": "equal"|"recompressed"|"changed"|"added"|"removed",
 *                "a": diff_id, "b": diff_id, "blob_a": B, "blob_b": B}],
 *    "layers_only_in_a": [diff_id], "layers_only_in_b": [diff_id],
 *    "files": {"added": [E], "removed": [E], "modified": [{"path", "a": E, "b": E}]}}
 * with E = {"path", "type", "mode", "uid", "gid", "size", "sha256" (files), "link"} and
 * B = {"digest", "size", "media_type"}. "recompressed": the same diff_id in another blob
 * (another compressor, level or media type). content_equal: same config, diff_ids and files;
 * identical: also the same blobs and manifest digest (unknown for a docker-archive read
 * through manifest.json: not compared). Files are compared only when the diff_ids differ.
 * *different is set to !identical. */
int lade_diff(const char *image_a, const char *image_b, json_t **out, bool *different,
              struct lade_error **err);

/* Human-readable rendering of a lade_diff() report, appended to out. */
void lade_diff_format(const json_t *report, struct lade_buf *out);

/* `lade diff --by package`: where the bytes of two images (one each) went. *out (caller
 * owns): {"a": S, "b": S, "delta", "rows": [R]} with S = {"image", "digest", "ref", "bytes"
 * (regular files of the merged file system)} and one R per Python distribution (by
 * normalised name and site directory) and per layer for the bytes no distribution owns
 * (matched by the history text that made it): {"kind": "package"|"layer", "name",
 * "location" (package), "a_version", "b_version" (package, when present), "a_layer",
 * "b_layer" (layer: 1-based index, when present), "a_bytes", "b_bytes", "delta" (b - a),
 * "status": "added"|"removed"|"changed"|"unchanged"}, sorted by |delta|, then name. A
 * distribution's bytes are those of inspect --by package; a layer's are the regular files it
 * wrote last that no RECORD lists. *different: any row not unchanged. */
int lade_diff_packages(const char *image_a, const char *image_b, json_t **out, bool *different,
                       struct lade_error **err);
void lade_diff_packages_format(const json_t *report, struct lade_buf *out);

#endif
