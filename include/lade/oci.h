/* lade — the OCI formats, read side: one descriptor parser, one verified JSON blob loader, one
 * platform grammar, one tag grammar and one resolver from a layout's index.json (or an image
 * index) to the image manifest for a tag and platform. Every reader of images (base images,
 * lade inspect, lade verify, the archives, the registry client) goes through these, so that
 * they accept and refuse the same documents: a JSON object with a key twice is refused
 * everywhere (other tools keep the first key, jansson the last: a parser differential), every
 * JSON blob is at most LADE_OCI_JSON_MAX bytes, a digest is validated before it becomes a path.
 *
 * Nothing here knows recipes or prints; errors are filled in and name the input. */
#ifndef LADE_OCI_H
#define LADE_OCI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lade/digest.h"
#include "lade/error.h"
#include "lade/util.h"

/* Media types and the ref-name annotation, spelled once for every reader and writer. */
#define LADE_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define LADE_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define LADE_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define LADE_MT_OCI_NONDIST     "application/vnd.oci.image.layer.nondistributable."
#define LADE_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define LADE_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define LADE_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define LADE_MT_DOCKER_FOREIGN  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define LADE_REF_NAME           "org.opencontainers.image.ref.name"

/* Manifests, indexes and configs are small; a larger "JSON" blob is not one. */
#define LADE_OCI_JSON_MAX (16u << 20)
/* Image indexes nested deeper than this are refused. */
#define LADE_OCI_INDEX_DEPTH 4

/* ---- descriptors ---- */

/* A descriptor, borrowed from the JSON document it was parsed from. */
struct lade_oci_descriptor {
	const char *media_type;    /* non-empty */
	const char *digest;        /* a valid "sha256:<64 lowercase hex>" */
	uint64_t size;             /* >= 0 */
	const json_t *platform;    /* object or NULL */
	const json_t *annotations; /* object of strings, or NULL */
	const json_t *urls;        /* array of strings, or NULL */
	const char *artifact_type; /* or NULL */
};

/* Parse j as a descriptor. `what` names it in errors ("index.json manifests[0]"). Refused:
 * not an object; mediaType missing, empty or not a string; digest not "sha256:<64 lowercase
 * hex>" (checked before it is ever used in a path: "sha256:../../etc" must not escape); size
 * missing, negative or not an integer; platform not an object; annotations not an object of
 * strings; urls not an array of strings; artifactType not a string. Errors:
 *   "<what> is not a JSON object", "<what>: mediaType is missing or not a string",
 *   "<what>: digest '<d>' is not sha256:<64 hex>", "<what>: size is missing or not a
 *   non-negative integer", "<what>: <member> is not <type>". */
int lade_oci_descriptor_parse(const json_t *j, const char *what, struct lade_oci_descriptor *out,
                              struct lade_error **err);

/* The org.opencontainers.image.ref.name annotation of a descriptor, or NULL. */
const char *lade_oci_descriptor_ref_name(const struct lade_oci_descriptor *d);

/* "<dir>/blobs/sha256/<hex>" for a valid digest (new string). */
char *lade_oci_blob_path(const char *dir, const char *digest);

/* Media type families, spelled once (Docker's equivalents included). */
bool lade_oci_is_index_type(const char *media_type);
bool lade_oci_is_manifest_type(const char *media_type);
bool lade_oci_is_config_type(const char *media_type);

/* ---- JSON documents ---- */

/* Parse len bytes as one JSON object: duplicate keys refused (JSON_REJECT_DUPLICATES), at most
 * LADE_OCI_JSON_MAX bytes. `what` names the input in errors: "<what>: invalid JSON (line N):
 * <jansson's text>" (a key twice: "duplicate object key near '\"layers\"'"), "<what>: not a
 * JSON object", "<what>: larger than 16 MiB". *out is new (caller owns). */
int lade_oci_json_parse(const void *data, size_t len, const char *what, json_t **out,
                        struct lade_error **err);

/* The same for any JSON value (docker-archive's manifest.json is a list). */
int lade_oci_json_parse_value(const void *data, size_t len, const char *what, json_t **out,
                              struct lade_error **err);

/* Read the file at path (at most LADE_OCI_JSON_MAX bytes) and lade_oci_json_parse() it; errors
 * name `what` (the path when NULL). */
int lade_oci_json_file(const char *path, const char *what, json_t **out, struct lade_error **err);

/* Check len bytes against a descriptor: size first, then sha256. Errors:
 *   "blob <digest>: size <n> but the descriptor says <size>",
 *   "blob <digest>: digest mismatch (expected <digest>, got <sha256>)". */
int lade_oci_blob_check(const void *data, size_t len, const char *digest, uint64_t size,
                        struct lade_error **err);

/* The one verified JSON blob loader: the blob d names in the layout `dir` (d->size at most
 * LADE_OCI_JSON_MAX), checked against its size and sha256, then lade_oci_json_parse()d.
 * Errors start with "blob <digest>: " ("blob <digest>: invalid JSON (line 1): duplicate
 * object key near ..."). */
int lade_oci_blob_json(const char *dir, const struct lade_oci_descriptor *d, json_t **out,
                       struct lade_error **err);

/* The same for a blob already in memory (a registry response, an archive member). */
int lade_oci_blob_json_mem(const void *data, size_t len, const char *digest, uint64_t size,
                           json_t **out, struct lade_error **err);

/* The media type of a document reached through d: its descriptor's, which the document's own
 * mediaType member (when present) must equal. Error: "blob <digest> has media type '<x>' but
 * its descriptor says '<y>'". */
int lade_oci_doc_media_type(const struct lade_oci_descriptor *d, const json_t *doc,
                            const char **out, struct lade_error **err);

/* ---- platforms ---- */

struct lade_oci_platform {
	char *os, *arch, *variant; /* owned; variant NULL when not written */
};

/* "OS/ARCH" or "OS/ARCH/VARIANT", each part non-empty. Error: "platform '<s>': expected
 * OS/ARCHITECTURE or OS/ARCHITECTURE/VARIANT". */
int lade_oci_platform_parse(const char *s, struct lade_oci_platform *out, struct lade_error **err);
void lade_oci_platform_release(struct lade_oci_platform *p);

/* The variant an architecture means when none is written, as containerd normalises it:
 * arm64 → "v8", arm → "v7", else NULL. */
const char *lade_oci_default_variant(const char *arch);

/* Whether a platform object ({"os", "architecture", "variant"}, as in an index or a config)
 * is `want`: os and architecture equal, variants equal after the default above (so
 * linux/arm64 and linux/arm64/v8 are one platform). */
bool lade_oci_platform_match(const struct lade_oci_platform *want, const json_t *have);

/* "os/arch[/variant]" of a platform object (new string; NULL without os or architecture). */
char *lade_oci_platform_format(const json_t *p);

/* ---- tags ---- */

/* The OCI distribution / Docker tag grammar: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
bool lade_oci_tag_valid(const char *tag);

/* Whether a docker-archive RepoTag names the image `want`: "busybox",
 * "library/busybox:latest" and "docker.io/library/busybox:latest" are one name (Docker writes
 * short names, skopeo fully qualified ones; no tag means ":latest"). */
bool lade_oci_repo_tag_matches(const char *repo_tag, const char *want);

/* ---- resolving a ref ---- */

/* DIR/oci-layout must say imageLayoutVersion "1.0.0". Errors name the file. */
int lade_oci_layout_check(const char *dir, struct lade_error **err);

/* The descriptor in the index (DIR/index.json) whose ref name is `tag`; tag NULL: the only
 * entry. d borrows from index. Errors name `what` and list the tags found. */
int lade_oci_index_select_tag(const json_t *index, const char *what, const char *tag,
                              struct lade_oci_descriptor *out, struct lade_error **err);

/* The entry of an image index for the platform (lade_oci_platform_match; entries without a
 * platform are skipped). Error: "no manifest for platform P (available: ...)". */
int lade_oci_index_select_platform(const json_t *index, const char *what,
                                   const struct lade_oci_platform *want,
                                   struct lade_oci_descriptor *out, struct lade_error **err);

struct lade_oci_resolved {
	json_t *manifest;                /* owned: the image manifest (schemaVersion 2) */
	char digest[LADE_DIGEST_STRLEN]; /* its digest */
	uint64_t size;                   /* its size */
};
void lade_oci_resolved_release(struct lade_oci_resolved *r);

/* Follow d (in the layout dir) through image indexes (at most LADE_OCI_INDEX_DEPTH deep,
 * picking the platform) to an image manifest, every blob loaded with lade_oci_blob_json. */
int lade_oci_resolve(const char *dir, const struct lade_oci_descriptor *d,
                     const struct lade_oci_platform *want, struct lade_oci_resolved *out,
                     struct lade_error **err);

/* The whole way for an OCI layout: oci-layout checked, index.json read, the tag (NULL: the
 * only entry) selected, resolved for the platform. */
int lade_oci_layout_resolve(const char *dir, const char *tag, const struct lade_oci_platform *want,
                            struct lade_oci_resolved *out, struct lade_error **err);

/* A string from an image, for one line of an error: control, non-ASCII, quote and backslash
 * bytes as \xNN, cut after 200 bytes (new string). */
char *lade_oci_quote(const char *s);

#endif
