/* lade — image archives: an OCI image layout written as one deterministic tar.
 *
 * oci-archive: the layout itself (oci-layout, index.json, blobs/sha256/…) — what
 * `skopeo copy oci-archive:FILE:REF …` reads.
 * docker-archive: what `docker save` writes since Docker 25 — the same OCI layout plus the
 * classic loader's manifest.json ([{Config, RepoTags, Layers}]) and `repositories`, with each
 * index.json entry annotated with io.containerd.image.name and
 * org.opencontainers.image.ref.name. Layers stay the layout's blobs (gzip or zstd, never
 * recompressed): `docker load`, `podman load` and skopeo decompress layer files themselves
 * and check them against the config's diff_ids.
 *
 * The tar: entries sorted component-wise (directories "blobs/" and "blobs/sha256/" first), pax
 * restricted (ustar unless a value does not fit), mtime = epoch, owner 0:0 with empty names,
 * files 0644, directories 0755; the same layout and arguments give the same bytes whatever
 * the directory, time, umask or locale.
 */
#ifndef LADE_ARCHIVE_H
#define LADE_ARCHIVE_H

#include <stdint.h>

#include "lade/error.h"

enum lade_archive_format {
	LADE_ARCHIVE_OCI,    /* oci-archive */
	LADE_ARCHIVE_DOCKER, /* docker-archive */
};

/* "oci-archive" / "docker-archive" → *out. 0, or -1 with *err naming the format. */
int lade_archive_format_parse(const char *name, enum lade_archive_format *out,
                              struct lade_error **err);

/* Write the images of the OCI layout layout_dir tagged with one of `refs` (NULL-terminated
 * org.opencontainers.image.ref.name values; NULL: every index.json entry) to out_path as one
 * tar of format fmt. Only the chosen index.json entries and the blobs reachable from them
 * (nested indexes, manifests, configs, layers) are written; every blob is checked against
 * its descriptor's digest and size while it is copied. index.json entries keep the layout's
 * order.
 *
 * image_name (docker-archive only, may be NULL): the repository for RepoTags, e.g. "hello"
 * gives RepoTags ["hello:<ref>"] and io.containerd.image.name "docker.io/library/hello:<ref>";
 * a name with a registry ("localhost:5000/app") is kept as it is. Each ref must then be a
 * valid Docker tag. NULL: untagged images (RepoTags [], no io.containerd.image.name). Image
 * manifests of a nested index (several platforms) each get a manifest.json entry; only the
 * first carries the tag. Manifests whose config is not an image config (artifacts such as an
 * SBOM) are archived but not listed in manifest.json.
 *
 * The tar is written to a temp file in out_path's directory, fsynced and renamed over
 * out_path (mode 0644); on failure nothing is left behind. The layout is only read (no lock
 * taken: blobs are immutable and index.json is replaced atomically).
 *
 * Errors name the input: a missing ref ("layout DIR has no image tagged 'x'"), a missing or
 * corrupt blob, invalid index.json or manifest JSON, an invalid image name or tag, or the
 * output file that cannot be written. */
int lade_archive_write(const char *layout_dir, char *const *refs, enum lade_archive_format fmt,
                       const char *image_name, int64_t epoch, const char *out_path,
                       struct lade_error **err);

#endif
