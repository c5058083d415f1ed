/* lade — software bills of materials: an SPDX 2.3 or CycloneDX 1.5 JSON document describing
 * the image (Python distributions, base image, app files), attached to the image in the same
 * layout as an OCI 1.1 artifact whose `subject` is the image manifest.
 *
 * Documents are deterministic: sorted keys and compact (lade_json_dump), packages ordered by
 * normalised name, files by path (lade_path_compare), timestamps from the build epoch, and
 * every identifier derived from the image manifest digest:
 *   - SPDX documentNamespace "https://lade.invalid/spdx/<image name>/<manifest hex>" (the
 *     .invalid TLD never resolves, as SPDX asks for a unique URI, not a reachable one; the
 *     name is percent-encoded);
 *   - CycloneDX serialNumber "urn:uuid:<uuid>", the uuid being the first 16 bytes of
 *     SHA-256("lade-sbom:" + manifest digest) with the version nibble set to 5 and the RFC 4122
 *     variant bits (a v5-style name-based UUID using SHA-256 instead of SHA-1).
 * App files are listed one by one up to LADE_SBOM_MAX_FILES; above that only their count and
 * total size are recorded (SPDX: a comment on the image package; CycloneDX: properties
 * "lade:app-files:count" / "lade:app-files:bytes" on the image component), so a huge tree
 * does not make a huge SBOM. In SPDX the image is a package with filesAnalyzed false (its
 * content is not enumerated), so app files are not CONTAINed by it: the document DESCRIBES the
 * image and each listed app file; fileName is "./<image path>" as clause 8.1 asks. */
#ifndef LADE_SBOM_H
#define LADE_SBOM_H

#include <stddef.h>
#include <stdint.h>
#include "lade/digest.h"
#include "lade/error.h"
#include "lade/store.h"

#define LADE_SBOM_MAX_FILES 10000

#define LADE_SBOM_SPDX_MEDIA_TYPE      "application/spdx+json"
#define LADE_SBOM_CYCLONEDX_MEDIA_TYPE "application/vnd.cyclonedx+json"

enum lade_sbom_format { LADE_SBOM_SPDX, LADE_SBOM_CYCLONEDX };

/* One installed Python distribution. license: the METADATA License-Expression if present,
 * else the License field, else NULL. It is declared as an SPDX expression when it is one
 * made of known SPDX license identifiers (or LicenseRef-…), else kept as text. */
struct lade_sbom_package {
	const char *name;             /* as in METADATA; normalised (PEP 503) for the purl */
	const char *version;          /* as in METADATA */
	const char *wheel_filename;   /* e.g. "foo-1.0-py3-none-any.whl" */
	const char *wheel_sha256_hex; /* 64 lowercase hex digits */
	const char *license;          /* may be NULL */
};

/* One application file in the image. SPDX 2.3 (clause 8.4) wants a SHA1 for every file next
 * to other algorithms: pass sha1_hex when known (40 lowercase hex digits), else the SPDX file
 * entry carries its SHA256 only. */
struct lade_sbom_file {
	const char *path; /* image path, normalised ("app/main.py") or with a leading '/' */
	const char *sha256_hex;
	uint64_t size;
	const char *sha1_hex; /* may be NULL */
};

struct lade_sbom_input {
	const char *image_name;      /* recipe name, e.g. "myapp" */
	const char *ref;             /* tag, e.g. "latest"; may be NULL */
	const char *manifest_digest; /* the image manifest, the SBOM's subject */
	uint64_t manifest_size;
	/* The base as a name that does not depend on where lade runs: a registry reference
	 * ("docker.io/library/python:3.11", which also gets a pkg:oci purl) or for a local layout
	 * or archive something like "python:3.11" (no purl), never a host path. NULL: scratch. */
	const char *base_name;
	const char *base_digest; /* base manifest digest; may be NULL */
	const struct lade_sbom_package *packages;
	size_t n_packages;
	const struct lade_sbom_file *files;
	size_t n_files;
	int64_t epoch; /* creation time (SOURCE_DATE_EPOCH) */
};

/* "spdx" / "cyclonedx" → format. Error names the value. */
int lade_sbom_parse_format(const char *s, enum lade_sbom_format *out, struct lade_error **err);

/* Media type (artifactType) of a format's documents, a static string. */
const char *lade_sbom_media_type(enum lade_sbom_format fmt);

/* Generate the document for `in` into *json_out (new NUL-terminated string, the caller frees).
 * The input is only read. Errors (nothing allocated): a missing image name, an invalid
 * manifest or base digest, a package without name or version, a malformed wheel sha256, two
 * packages with the same normalised name, a file with an empty or escaping path, a malformed
 * file sha256, two files with the same path; each message names the entry. */
int lade_sbom_generate(enum lade_sbom_format fmt, const struct lade_sbom_input *in, char **json_out,
                       struct lade_error **err);

/* Store the document `json` as a blob and an OCI 1.1 artifact manifest for it: mediaType
 * application/vnd.oci.image.manifest.v1+json, artifactType = lade_sbom_media_type(fmt), config
 * the empty descriptor (application/vnd.oci.empty.v1+json, blob "{}"), one layer = the
 * document, subject = {image manifest media type, subject_digest, subject_size}. Fills the
 * artifact manifest's digest and size; the caller adds it to index.json (without a ref name)
 * so referrers lookups find it. Errors: invalid subject digest, store write failures. */
int lade_sbom_attach(struct lade_store *store, enum lade_sbom_format fmt, const char *json,
                     const char *subject_digest, uint64_t subject_size,
                     char digest_out[LADE_DIGEST_STRLEN], uint64_t *size_out,
                     struct lade_error **err);

#endif
