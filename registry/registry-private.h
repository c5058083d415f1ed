/* lade — what the files of the registry client share (not installed, not for other modules).
 *
 *   ref.c    references: parse, canonical form, loopback hosts
 *   auth.c   credentials (--creds, auth files), WWW-Authenticate, Basic and Bearer tokens
 *   http.c   the client: one libcurl easy handle, perform() one exchange, reg_request() with
 *            auth and the retry policy, connecting (https, http fallback)
 *   pool.c   transfers in parallel: one cloned client (and connection) per thread
 *   local.c  OCI documents: a layout's image by DIR[:TAG], verified JSON blobs, descriptors
 *   push.c   blobs (one PUT, resumable PATCH chunks), manifests, the referrers tag
 *   pull.c   manifests and blobs into the content store, index resolution to a platform
 *
 * Every request goes through reg_request(), which answers auth challenges and retries, so push
 * and pull only speak the distribution API. */
#ifndef LADE_REGISTRY_PRIVATE_H
#define LADE_REGISTRY_PRIVATE_H
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lade/digest.h"
#include "lade/error.h"
#include "lade/oci.h"
#include "lade/registry.h"
#include "lade/stream.h"
#include "lade/util.h"

/* Bodies that are no image document (errors, upload answers, tokens) are small. */
#define REG_BODY_MAX (1u << 20)
#define ACCEPT_MANIFESTS                                                                           \
	"Accept: " LADE_MT_OCI_MANIFEST ", " LADE_MT_OCI_INDEX ", " LADE_MT_DOCKER_MANIFEST        \
	", " LADE_MT_DOCKER_LIST

/* ---------------------------------------------------------------- http.c */

/* One connection to one repository of one registry, with its credentials and the
 * Authorization it last earned. Owned by whoever made it (reg_client_new, reg_client_clone). */
struct client {
	CURL *curl;
	char *registry; /* as in the reference, for messages */
	char *base;     /* "https://host" or "http://host" once known */
	char *repo;
	char *user, *pass;
	char *authorization; /* full header value, or NULL */
	bool basic_sent;
	const struct lade_registry_options *o;
};

struct response {
	long status;
	char *location;
	char *docker_digest;
	char *content_type;
	char *www_authenticate;
	char *range;            /* upload status: "0-N", the bytes the registry holds */
	char *oci_subject;      /* set when the registry indexed a referrer itself */
	unsigned retry_after_s; /* Retry-After in seconds, 0 when absent */
	struct lade_buf body;   /* when no sink */
	size_t body_max;
	struct lade_stream *sink; /* download target (status 200 only) */
	struct lade_error *sink_err;
	uint64_t received;
	CURL *h;
	CURLcode curl_rc;
};

struct request {
	const char *method; /* "GET", "HEAD", "POST", "PUT", "PATCH" */
	const char *url;    /* absolute */
	const char *accept; /* full header or NULL */
	const char *content_type;
	const char *header; /* one more full header, or NULL */
	const void *data;   /* PUT/POST body in memory */
	size_t data_len;
	int fd; /* PUT/PATCH body: fd_size bytes streamed from fd_offset when fd >= 0 */
	uint64_t fd_offset, fd_size;
	/* No transport retry: a PATCH that failed half-way may have left bytes in the upload,
	 * so its caller asks the registry where the upload stands instead. */
	bool once;
};

void reg_response_release(struct response *r);

/* A client for ref's registry and repository, credentials looked up (o->creds, then the auth
 * files); no network yet. o is borrowed for the client's life. */
int reg_client_new(const struct lade_registry_ref *ref, const struct lade_registry_options *o,
                   struct client **out, struct lade_error **err);
/* A second client for another thread: same registry, base, credentials and Authorization, its
 * own libcurl handle. */
struct client *reg_client_clone(const struct client *c);
void reg_client_free(struct client *c);
void reg_client_freep(struct client **c);
/* Find the scheme (https, then http where allowed) and authenticate once with scope, so a
 * wrong password is reported before any upload. */
int reg_client_connect(struct client *c, const char *scope, struct lade_error **err);

/* One HTTP exchange, no auth handling, no retries. -1 with *err only for transport errors;
 * an HTTP error status is left to the caller. */
int reg_perform(struct client *c, const struct request *q, struct response *r,
                const char *authorization, struct lade_error **err);
/* Issue a request with auth and retries. Returns 0 with r->status set (any status except an
 * unanswerable 401), -1 on transport errors after the retries. scope: the Bearer scope this
 * request needs. */
int reg_request(struct client *c, const struct request *q, struct response *r, const char *scope,
                struct lade_error **err);
/* The registry's error message from a JSON error body, for the user. New string. */
char *reg_message(const struct response *r);
/* "repository:REPO:ACTIONS". New string. */
char *reg_scope(const char *repo, const char *actions);
void reg_sleep_ms(unsigned ms);

/* ---------------------------------------------------------------- auth.c */

/* "user:pass" → new strings. -1 (nothing set) without a ':'. */
int reg_split_creds(const char *creds, char **user, char **pass);
/* On 401: answer the challenge in r (Basic with the credentials, or a Bearer token for scope).
 * 0 when the request should be tried again. */
int reg_handle_challenge(struct client *c, const struct response *r, const char *scope,
                         struct lade_error **err);
/* A final 401: -1 with *err saying why (a refused token, wrong credentials, none given). */
int reg_auth_refused(struct client *c, const struct response *r, struct lade_error **err);

/* ---------------------------------------------------------------- push.c, pull.c */

/* One blob of the layout or store `dir` to c's repository, as a push sends it (HEAD, mount from
 * c->o->mount_from, one PUT or resumable chunks); stats may be NULL. */
int reg_push_blob(struct client *c, const char *dir, const char *digest, uint64_t size,
                  struct lade_push_stats *stats, struct lade_error **err);
/* PUT a manifest (its exact bytes) by reference (tag or digest) to c's repository; the registry
 * must answer 201 and, when it names a digest, digest. indexed_subject (may be NULL): the
 * registry said it indexed the manifest's subject (OCI-Subject). Errors name the registry,
 * repository, digest and reference. */
int reg_put_manifest(struct client *c, const char *reference, const struct lade_buf *bytes,
                     const char *media_type, const char *digest, bool *indexed_subject,
                     struct lade_error **err);
/* One blob from c's repository into store, as a pull fetches it (size and sha256 checked). */
int reg_pull_blob(struct client *c, struct lade_store *store, const char *digest, uint64_t size,
                  struct lade_error **err);

/* ---------------------------------------------------------------- pool.c */

/* Blobs move in parallel, one libcurl handle (and connection) per thread. */
typedef int (*blob_job_fn)(void *ctx, struct client *c, size_t item, struct lade_error **err);
/* fn(ctx, client, i) for i in [0, n): in order on c itself when jobs <= 1, else on
 * min(jobs, n) threads with clones of c (auth tokens included). The first failure stops the
 * others from taking new items and is the one reported. */
int reg_run_pool(struct client *c, size_t n, unsigned jobs, blob_job_fn fn, void *ctx,
                 struct lade_error **err);

/* ---------------------------------------------------------------- local.c */

/* The JSON blob digest of the layout (or store) dir, with lade_oci_blob_json_mem()'s checks:
 * size (REG_SIZE_ANY: any, up to LADE_OCI_JSON_MAX), sha256, one JSON object without a key
 * twice. *bytes gets its exact bytes (what a push sends), *doc the parsed document (new). */
#define REG_SIZE_ANY UINT64_MAX
int reg_blob_json(const char *dir, const char *digest, uint64_t size, struct lade_buf *bytes,
                  json_t **doc, struct lade_error **err);
/* Resolve IMAGE ("[oci:]DIR[:TAG]") to its layout directory (new string) and top descriptor,
 * which borrows from *index_out (the layout's index.json, new). TAG is found as a base
 * image's is (lade_oci_index_select_tag); without TAG the layout must name one image
 * (untagged referrers aside). */
int reg_layout_resolve(const char *image, char **dir_out, json_t **index_out,
                       struct lade_oci_descriptor *top, struct lade_error **err);

/* The descriptors a document of media type mt names, each read by lade_oci_descriptor_parse():
 * an index's "manifests", or an image manifest's "config" then its "layers"; other media
 * types are refused. *out (new array, *n items) borrows from m. Errors name the document
 * ("manifest D layers[2]: …"). */
int reg_doc_descriptors(const json_t *m, const char *mt, const char *digest,
                        struct lade_oci_descriptor **out, size_t *n, struct lade_error **err);

static inline const char *reg_json_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

#endif
