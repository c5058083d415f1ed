/* lade — registries: push images and pull base images over the OCI distribution API (libcurl).
 *
 * References are "[REGISTRY/]REPO[:TAG][@sha256:HEX]" as docker writes them: the first
 * component is a registry when it holds a '.' or a ':' or is "localhost"; otherwise the
 * registry is docker.io (API host registry-1.docker.io) and a one-component repository gets the
 * "library/" prefix. No tag and no digest means ":latest".
 *
 * Transport: https with certificate verification by default. Plain http is used only for
 * loopback registries (127.0.0.0/8, localhost, [::1]) or with tls_verify false (as skopeo's
 * --tls-verify=false), and only after https failed to connect. cert_dir (skopeo's --cert-dir)
 * holds ca.crt (trusted CA), and optionally client.cert / client.key.
 *
 * Credentials, first found wins: o->creds ("user:pass"); REGISTRY_AUTH_FILE when set (only
 * that file); $XDG_RUNTIME_DIR/containers/auth.json; ~/.docker/config.json. In an auth file
 * "auths" maps "host[/repo…]" (also "https://host" and, for docker.io,
 * "https://index.docker.io/v1/") to {"auth": base64("user:pass")}; the longest repository
 * prefix wins. Auth: Basic, and the Bearer token flow (anonymous when there are no
 * credentials).
 *
 * Every request is retried on 429, 5xx and connection failures: at most LADE_REGISTRY_TRIES
 * tries, with the delays of lade_registry_retry_delay_ms().
 *
 * Pushing: blobs up to o->chunk_size go in one PUT; larger ones in PATCH chunks with
 * Content-Range, and after a chunk fails the registry is asked where the upload stands (GET on
 * the upload URL, its Range header) and the upload goes on from there; a registry that lost the
 * session (404/400 on it) gets a new one, at most LADE_REGISTRY_TRIES times.
 *
 * The content store of pulled images is lade's one store, lade_store_default_dir()
 * ($XDG_CACHE_HOME/lade, else ~/.cache/lade), shared with the layer cache: an OCI layout whose
 * index.json names every pulled image by its canonical reference
 * (lade_registry_ref_canonical()), so manifest/base.c reads it as "DIR" with TAG = that
 * reference, and a blob lade built (and pushed) is never downloaded again.
 */
#ifndef LADE_REGISTRY_H
#define LADE_REGISTRY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lade/digest.h"
#include "lade/error.h"
#include "lade/store.h"
#include "lade/util.h"

#define LADE_REGISTRY_TRIES 4

struct lade_registry_ref {
	char *registry;   /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
	char *repository; /* "library/python" */
	char *tag;        /* NULL when only a digest was given */
	char *digest;     /* NULL when not pinned */
};

/* Parse a reference (see above). Errors: "invalid reference S: …" naming what is wrong. */
int lade_registry_ref_parse(const char *s, struct lade_registry_ref **out, struct lade_error **err);
void lade_registry_ref_free(struct lade_registry_ref *r);
void lade_registry_ref_freep(struct lade_registry_ref **r);
/* "registry/repo[:tag][@digest]" (always with the registry). New string. */
char *lade_registry_ref_canonical(const struct lade_registry_ref *r);
/* Is host ("127.0.0.1:5000", "localhost", "[::1]:80") a loopback registry? */
bool lade_registry_host_is_loopback(const char *host);

/* One WWW-Authenticate challenge: scheme ("Basic"/"Bearer", as sent) and its parameters, NULL
 * when absent. */
struct lade_auth_challenge {
	char *scheme;
	char *realm;
	char *service;
	char *scope;
	char *error;
};
/* Parse `Bearer realm="…",service="…",scope="…"` (quoted or token values, any order, unknown
 * parameters ignored). Errors: "invalid WWW-Authenticate header: …". */
int lade_auth_challenge_parse(const char *header, struct lade_auth_challenge *out,
                              struct lade_error **err);
void lade_auth_challenge_release(struct lade_auth_challenge *c);

/* Look registry (host) / repository up in the auth file `path` (docker config.json or
 * containers auth.json format). 1 with *user and *pass set (new strings) when found, 0 when
 * the file or the entry does not exist, -1 with *err naming the file on malformed JSON or a bad
 * "auth" value. */
int lade_auth_file_lookup(const char *path, const char *registry, const char *repository,
                          char **user, char **pass, struct lade_error **err);
/* The credentials for registry/repository from the auth files in the order above (the
 * environment is read here). Same results as lade_auth_file_lookup(). */
int lade_auth_lookup(const char *registry, const char *repository, char **user, char **pass,
                     struct lade_error **err);
/* Decode standard base64 (padding optional, no whitespace). 0, or -1 without a message. */
int lade_base64_decode(const char *in, struct lade_buf *out);

/* Retry policy: should a request that ended with HTTP `status` (0: no response, i.e. a
 * connection failure or reset) be tried again after try number `attempt` (1-based)? */
bool lade_registry_should_retry(long status, unsigned attempt);
/* Delay before try attempt+1: 250 ms doubled at each try, at most 4 s. */
unsigned lade_registry_retry_delay_ms(unsigned attempt);

struct lade_registry_options {
	const char *creds;      /* "user:pass" or NULL */
	bool tls_verify;        /* default true */
	const char *cert_dir;   /* NULL: system CAs */
	const char *mount_from; /* push: repository on the same registry to mount blobs from */
	bool offline;           /* pull: use only the store, never the network */
	unsigned jobs;       /* blobs uploaded or downloaded in parallel (0 or 1: one at a time) */
	uint64_t chunk_size; /* push: blobs larger than this are sent in PATCH chunks of this
	                      * size, resumable; 0: LADE_REGISTRY_CHUNK_DEFAULT */
};
#define LADE_REGISTRY_CHUNK_DEFAULT (64u << 20)
/* clang-format 14 and 19 lay out a braced macro differently: */
/* clang-format off */
#define LADE_REGISTRY_OPTIONS_INIT {NULL, true, NULL, NULL, false, 1, 0}
/* clang-format on */

struct lade_push_stats {
	size_t blobs_uploaded, blobs_present, blobs_mounted, manifests;
	uint64_t bytes_uploaded;
	size_t chunks_resumed; /* a failed chunk: the upload went on from where the registry was */
	size_t uploads_restarted; /* the registry lost an upload session: a new one was started */
	bool referrers_tagged;    /* the registry has no referrers API: the sha256-<hex> tag index
	                           * lists the referrers (updated when needed) */
};

/* Push the image IMAGE ("DIR[:TAG]" or "oci:DIR[:TAG]": a layout; without TAG the layout must
 * name exactly one image) to ref: each blob checked with HEAD and uploaded (POST, then one
 * streamed PUT or resumable chunks, see above) only when missing, mounted from o->mount_from when
 * possible; then the child manifests of an index by digest, then the top manifest by the ref's tag
 * (or digest), with their exact bytes and media types, so a failed push never leaves the tag on a
 * partial image. Manifests are read first, as the OCI reader reads them (oci.h: size, digest,
 * no JSON key twice, descriptors, as for pull); a layer or config blob is checked for its size
 * and streamed (the registry checks the digest the PUT names, and any Docker-Content-Digest it
 * answers must match). Referrers in the layout's index.json whose
 * subject is one of the pushed manifests go along, by digest; when the registry does not say it
 * indexed them (no OCI-Subject header) the referrers tag "sha256-<subject hex>" (an index) is
 * updated as the distribution spec 1.1 says. o->jobs blobs are uploaded in
 * parallel. digest: the pushed top manifest's digest (== the local one). Errors name the registry,
 * the repository and the blob. */
int lade_registry_push(const char *image, const char *ref, const struct lade_registry_options *o,
                       char digest[LADE_DIGEST_STRLEN], struct lade_push_stats *stats,
                       struct lade_error **err);

/* Pull ref into the OCI layout layout_dir (created; NULL: lade_store_default_dir()),
 * verifying every digest, and name it in index.json by lade_registry_ref_canonical(). With
 * platform ("linux/amd64[/variant]") an index is resolved to that platform's manifest by
 * lade_oci_platform_match() (linux/arm64 is linux/arm64/v8, as for base images) and only
 * that one is stored and named; with NULL the whole index (all children) is stored. Manifests
 * and indexes are read as the OCI reader reads them (oci.h: descriptors, no JSON key twice,
 * at most LADE_OCI_JSON_MAX bytes, a document's mediaType is its descriptor's).
 * A ref without a digest is refused unless allow_unpinned ("base image R is not pinned …").
 * Blobs already in the store are not fetched again; a pinned image whose blobs are all in the
 * store needs no network; o->jobs blobs are fetched in parallel. o may be NULL (defaults);
 * o->offline: use only the store (error "… is not in the store DIR (offline)"). manifest_digest
 * (may be NULL): what was named. */
int lade_registry_pull_ex(const char *ref, const char *platform, const char *layout_dir,
                          bool allow_unpinned, const struct lade_registry_options *o,
                          char manifest_digest[LADE_DIGEST_STRLEN], struct lade_error **err);
/* lade_registry_pull_ex() into a store the caller holds open (and locked), e.g. the layer
 * cache's (lade_cache_store()). */
int lade_registry_pull_into(const char *ref, const char *platform, struct lade_store *store,
                            bool allow_unpinned, const struct lade_registry_options *o,
                            char manifest_digest[LADE_DIGEST_STRLEN], struct lade_error **err);
/* lade_registry_pull_ex() with default options. */
int lade_registry_pull(const char *ref, const char *platform, const char *layout_dir,
                       bool allow_unpinned, struct lade_error **err);

/* ---- the registry as a layer cache (registry/cachemap.c) ----
 *
 * A mapping says: the layer whose cache key is KEY is the blob DIGEST (diff_id, size, media
 * type). It is an OCI artifact in a cache repository: a manifest (artifactType
 * LADE_CACHE_ARTIFACT_TYPE, config media type LADE_CACHE_CONFIG_TYPE for registries that
 * ignore artifactType) whose config blob is the mapping JSON
 *   {"annotations":{…},"diff_id","digest","keys":[KEY…],"layer_format","media_type","size"}
 * and whose one layer is the layer's own descriptor, so the registry refuses the manifest
 * while it lacks the blob and its garbage collector keeps the blob while the tag exists. The
 * manifest is tagged "lade-cache-<KEY>" for each of its keys: one GET finds a key, without
 * listing the repository. A mapping is as trusted as the registry it comes from. */
#define LADE_CACHE_ARTIFACT_TYPE "application/vnd.lade.cache.v1"
#define LADE_CACHE_CONFIG_TYPE   "application/vnd.lade.cache.config.v1+json"
#define LADE_CACHE_TAG_PREFIX    "lade-cache-"

struct lade_cache_mapping {
	char digest[LADE_DIGEST_STRLEN];
	char diff_id[LADE_DIGEST_STRLEN];
	uint64_t size;
	char *media_type; /* owned */
	char *compressor; /* the dev.lade.compressor annotation, or NULL; owned */
	int layer_format; /* LADE_LAYER_FORMAT_VERSION of the lade that wrote it */
	/* lazy-pull layers (eStargz, zstd:chunked): what their descriptor's annotations need,
	 * since a layer taken from the registry is never read here; "" and 0 otherwise */
	char toc_digest[LADE_DIGEST_STRLEN];
	uint64_t prefetch_bytes;
	char toc_position[96];
	uint64_t tar_size; /* lazy: the uncompressed size (an annotation of such layers) */
	char manifest_digest[LADE_DIGEST_STRLEN]; /* lookup: the mapping manifest found */
	uint64_t manifest_size;
};
void lade_cache_mapping_release(struct lade_cache_mapping *m);

/* One repository ("[REGISTRY/]REPO", no tag or digest) used as a cache or as a push target;
 * it connects at its first request. o is borrowed for its life. Errors: an invalid reference,
 * or one naming a tag ("… names a tag or digest: give the repository only"). */
struct lade_cache_repo;
int lade_cache_repo_open(const char *repo, const struct lade_registry_options *o,
                         struct lade_cache_repo **out, struct lade_error **err);
/* The same for the repository of a reference that may name a tag (a --push REF). */
int lade_cache_repo_open_ref(const char *ref, const struct lade_registry_options *o,
                             struct lade_cache_repo **out, struct lade_error **err);
void lade_cache_repo_free(struct lade_cache_repo *r);
void lade_cache_repo_freep(struct lade_cache_repo **r);
/* "registry/repository" */
const char *lade_cache_repo_name(const struct lade_cache_repo *r);
bool lade_cache_repo_same_registry(const struct lade_cache_repo *a,
                                   const struct lade_cache_repo *b);

/* Look key (64 hex digits) up: GET the manifest tagged lade-cache-KEY, its config blob
 * (digest checked), then HEAD the layer blob in r. 1: *m holds a mapping whose blob r has,
 * with the size the mapping says, and whose media type is want_media_type; 0: no mapping
 * (*why NULL), or one that fails a check (*why, new string: "mapping KEY in R: blob D is
 * missing", "… has N bytes, the mapping says M", "… media type X, this build makes Y", a
 * malformed document); -1: the registry did not answer (*err). */
int lade_cache_repo_lookup(struct lade_cache_repo *r, const char *key, const char *want_media_type,
                           struct lade_cache_mapping *m, char **why, struct lade_error **err);

/* Make the blob digest (size bytes) present in `target` without sending it: HEAD there, else
 * a cross-repository mount from `from` when both are on the same registry (never across
 * registries). 1: present (*mounted says how), 0: it is not and could not be mounted, -1:
 * the registry did not answer. */
int lade_cache_repo_ensure_blob(struct lade_cache_repo *target, const struct lade_cache_repo *from,
                                const char *digest, uint64_t size, bool *mounted,
                                struct lade_error **err);

/* Fetch the blob digest from r into store (verified: size and sha256), unless it has it. */
int lade_cache_repo_fetch_blob(struct lade_cache_repo *r, struct lade_store *store,
                               const char *digest, uint64_t size, struct lade_error **err);

/* Publish the mapping m under each of keys (NULL-terminated, 64 hex digits each): the layer
 * blob first (present, else mounted from mount_from when on the same registry, else uploaded
 * from blob_dir/blobs/sha256/HEX; blob_dir NULL: an error when the blob is absent), then the
 * config blob, then the manifest by each tag. manifest_digest/size (may be NULL): the
 * manifest, for the index. */
int lade_cache_repo_publish(struct lade_cache_repo *r, const struct lade_cache_mapping *m,
                            char *const *keys, const char *blob_dir,
                            const struct lade_cache_repo *mount_from,
                            char manifest_digest[LADE_DIGEST_STRLEN], uint64_t *manifest_size,
                            struct lade_error **err);

/* A document (the base image's file index) under key: a manifest tagged lade-cache-KEY whose
 * config is the OCI empty descriptor and whose one layer is the document, of media_type. */
int lade_cache_repo_put_doc(struct lade_cache_repo *r, const char *key, const char *media_type,
                            const void *data, size_t len, struct lade_error **err);
/* Its document: 1 with the bytes (sha256 and size checked) appended to out; 0 when there is
 * none, or one that is not of media_type or over max bytes (*why, new string); -1: no answer. */
int lade_cache_repo_get_doc(struct lade_cache_repo *r, const char *key, const char *media_type,
                            size_t max, struct lade_buf *out, char **why, struct lade_error **err);

/* Tag an image index (artifactType LADE_CACHE_ARTIFACT_TYPE) listing the mapping manifests
 * digests[i] (sizes[i], annotated with the layer's comment names[i]) as `tag` in r: one name
 * for people and for `lade gc`-like tools to find every mapping of a recipe. */
int lade_cache_repo_put_index(struct lade_cache_repo *r, const char *tag, char *const *digests,
                              const uint64_t *sizes, char *const *names, size_t n,
                              struct lade_error **err);

#endif
