/* lade — the images an IMAGE reference names, opened for reading (lade inspect, lade diff).
 *
 * IMAGE is "DIR[:TAG]", "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]" or
 * "docker-archive:FILE[:TAG]". An archive is extracted to a private temp dir, removed by
 * lade_images_free. A docker-archive is read through its index.json when it has one (Docker
 * 25+, lade), else through manifest.json (Config, RepoTags, Layers). TAG matches the
 * org.opencontainers.image.ref.name or io.containerd.image.name annotation (or a RepoTag, or
 * its tag part). Every manifest and config blob is checked against its digest and parsed by
 * oci.c's rules (duplicate keys refused); layer blobs are only named here (read them with
 * lade_layer_read). Artifacts (an SBOM, signatures) are skipped: they are not images. */
#ifndef LADE_IMAGES_H
#define LADE_IMAGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lade/error.h"

struct lade_image_blob {
	char *path; /* host path of the blob file */
	char *digest;
	char *media_type;
	uint64_t size;
};

struct lade_image {
	char *ref;    /* may be NULL */
	char *digest; /* manifest digest; NULL for a docker-archive manifest.json entry */
	uint64_t manifest_size;
	char *platform; /* "os/arch[/variant]" from the index, else the config; may be NULL */
	json_t *config;
	struct lade_image_blob config_blob;
	struct lade_image_blob *layers;
	size_t n_layers;
};

struct lade_images {
	char *name; /* IMAGE as given, for messages */
	char *dir;  /* the layout (or extracted archive) directory */
	char *tmp;  /* temp dir to remove, or NULL */
	const char *tag;
	char *spec_copy;
	struct lade_image *imgs; /* at least one */
	size_t n_imgs, alloc;
};

/* Open every image IMAGE names (all refs of a layout, or the one tagged). *out is owned by the
 * caller. Errors name IMAGE and the blob at fault; no image is an error. */
int lade_images_open(const char *image, struct lade_images **out, struct lade_error **err);
void lade_images_free(struct lade_images *s);
void lade_images_freep(struct lade_images **s);

#endif
