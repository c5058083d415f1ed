/* lade — the OCI distribution API client: push of a local layout, pull into a content store.
 * See include/lade/registry.h for the contracts. One libcurl easy handle per client (the
 * connection is reused across requests); every request goes through request(), which handles
 * auth challenges and retries, so the push and pull logic only speaks the API. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lade/digest.h"
#include "lade/image.h"
#include "lade/registry.h"
#include "lade/store.h"
#include "lade/util.h"

#define MANIFEST_MAX (8u << 20)
#define ACCEPT_MANIFESTS                                                                           \
	"Accept: " LADE_MT_OCI_MANIFEST ", " LADE_MT_OCI_INDEX ", " LADE_MT_DOCKER_MANIFEST        \
	", " LADE_MT_DOCKER_LIST

/* ---------------------------------------------------------------- references */

void lade_registry_ref_free(struct lade_registry_ref *r)
{
	if (!r)
		return;
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	free(r);
}

void lade_registry_ref_freep(struct lade_registry_ref **r)
{
	lade_registry_ref_free(*r);
}

static bool repo_component_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if ((c == '.' || c == '_' || c == '-') && i > 0 && i + 1 < n)
			continue;
		return false;
	}
	return true;
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int lade_registry_ref_parse(const char *s, struct lade_registry_ref **out, struct lade_error **err)
{
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *r =
	        xzalloc(sizeof(struct lade_registry_ref));
	_cleanup_free_ char *name = xstrdup(s);

	if (!*s)
		return lade_error_set(err, 0, "invalid reference \"\": empty");
	char *at = strchr(name, '@');
	if (at) {
		*at = '\0';
		if (!lade_digest_valid(at + 1))
			return lade_error_set(
			        err, 0, "invalid reference %s: digest %s is not sha256:<64 hex>", s,
			        at + 1);
		r->digest = xstrdup(at + 1);
	}
	/* The registry is the first component when it looks like a host. */
	char *slash = strchr(name, '/');
	char *path = name;
	if (slash && (memchr(name, '.', slash - name) || memchr(name, ':', slash - name) ||
	              (slash - name == 9 && strncmp(name, "localhost", 9) == 0))) {
		r->registry = xstrndup(name, slash - name);
		path = slash + 1;
	} else {
		r->registry = xstrdup("docker.io");
	}
	if (strcmp(r->registry, "index.docker.io") == 0 ||
	    strcmp(r->registry, "registry-1.docker.io") == 0) {
		free(r->registry);
		r->registry = xstrdup("docker.io");
	}
	char *colon = strrchr(path, ':');
	if (colon && !strchr(colon, '/')) {
		*colon = '\0';
		if (!tag_valid(colon + 1))
			return lade_error_set(err, 0, "invalid reference %s: bad tag \"%s\"", s,
			                      colon + 1);
		r->tag = xstrdup(colon + 1);
	}
	if (!*path)
		return lade_error_set(err, 0, "invalid reference %s: no repository", s);
	for (const char *p = path;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!repo_component_valid(p, n))
			return lade_error_set(
			        err, 0,
			        "invalid reference %s: bad repository component \"%.*s\" "
			        "(lowercase letters, digits and . _ - inside)",
			        s, (int)n, p);
		if (!e)
			break;
		p = e + 1;
	}
	if (strcmp(r->registry, "docker.io") == 0 && !strchr(path, '/'))
		r->repository = xasprintf("library/%s", path);
	else
		r->repository = xstrdup(path);
	if (!r->tag && !r->digest)
		r->tag = xstrdup("latest");
	*out = steal_pointer(&r);
	return 0;
}

char *lade_registry_ref_canonical(const struct lade_registry_ref *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "",
	                 r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

bool lade_registry_host_is_loopback(const char *host)
{
	_cleanup_free_ char *h = NULL;
	if (host[0] == '[') {
		const char *e = strchr(host, ']');
		if (!e)
			return false;
		h = xstrndup(host + 1, e - host - 1);
		return strcmp(h, "::1") == 0;
	}
	const char *colon = strchr(host, ':');
	h = colon ? xstrndup(host, colon - host) : xstrdup(host);
	if (strcmp(h, "localhost") == 0)
		return true;
	unsigned a, b, c, d;
	char extra;
	if (sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4)
		return a == 127 && b < 256 && c < 256 && d < 256;
	return false;
}

/* ---------------------------------------------------------------- WWW-Authenticate */

void lade_auth_challenge_release(struct lade_auth_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

int lade_auth_challenge_parse(const char *header, struct lade_auth_challenge *out,
                              struct lade_error **err)
{
	struct lade_auth_challenge c = {0};
	const char *p = header;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, " \t");
	if (n == 0)
		return lade_error_set(err, 0, "invalid WWW-Authenticate header: no scheme");
	c.scheme = xstrndup(p, n);
	p += n;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t kn = strcspn(p, "= \t,");
		if (kn == 0 || p[kn] != '=') {
			lade_auth_challenge_release(&c);
			return lade_error_set(
			        err, 0,
			        "invalid WWW-Authenticate header: expected key=value at "
			        "\"%s\"",
			        p);
		}
		_cleanup_free_ char *key = xstrndup(p, kn);
		p += kn + 1;
		struct lade_buf v = LADE_BUF_INIT;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				lade_buf_addch(&v, *p++);
			}
			if (*p != '"') {
				lade_buf_release(&v);
				lade_auth_challenge_release(&c);
				return lade_error_set(
				        err, 0,
				        "invalid WWW-Authenticate header: unterminated "
				        "quoted value of %s",
				        key);
			}
			p++;
		} else {
			size_t vn = strcspn(p, ", \t");
			lade_buf_add(&v, p, vn);
			p += vn;
		}
		char **slot = NULL;
		if (strcasecmp(key, "realm") == 0)
			slot = &c.realm;
		else if (strcasecmp(key, "service") == 0)
			slot = &c.service;
		else if (strcasecmp(key, "scope") == 0)
			slot = &c.scope;
		else if (strcasecmp(key, "error") == 0)
			slot = &c.error;
		if (slot) {
			free(*slot);
			*slot = lade_buf_detach(&v, NULL);
		} else {
			lade_buf_release(&v);
		}
	}
	*out = c;
	return 0;
}

/* ---------------------------------------------------------------- base64 and auth files */

int lade_base64_decode(const char *in, struct lade_buf *out)
{
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t i = 0, n = strlen(in);
	while (n > 0 && in[n - 1] == '=')
		n--;
	if (strlen(in) - n > 2)
		return -1;
	for (; i < n; i++) {
		const char *pos = in[i] ? strchr(alphabet, in[i]) : NULL;
		if (!pos)
			return -1;
		acc = (acc << 6) | (uint32_t)(pos - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			lade_buf_addch(out, (char)((acc >> bits) & 0xff));
		}
	}
	if (bits >= 6) /* one leftover character cannot encode a byte */
		return -1;
	return 0;
}

static char *base64_encode(const char *s)
{
	size_t n = strlen(s);
	char *o = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)s, (int)n);
	return o;
}

static int split_creds(const char *creds, char **user, char **pass)
{
	const char *colon = strchr(creds, ':');
	if (!colon)
		return -1;
	*user = xstrndup(creds, colon - creds);
	*pass = xstrdup(colon + 1);
	return 0;
}

int lade_auth_file_lookup(const char *path, const char *registry, const char *repository,
                          char **user, char **pass, struct lade_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return lade_error_set(err, errno, "cannot read auth file %s", path);
	}
	json_error_t je;
	json_auto_t *root = json_load_file(path, 0, &je);
	if (!root)
		return lade_error_set(err, 0, "auth file %s:%d: invalid JSON: %s", path, je.line,
		                      je.text);
	json_t *auths = json_object_get(root, "auths");
	if (!auths)
		return 0;
	if (!json_is_object(auths))
		return lade_error_set(err, 0, "auth file %s: \"auths\" is not an object", path);

	/* Candidate keys, most specific first: host/repo/prefixes…, host, URL forms. */
	_cleanup_strv_ char **keys = NULL;
	_cleanup_free_ char *rp = xstrdup(repository ? repository : "");
	while (*rp) {
		_cleanup_free_ char *k = xasprintf("%s/%s", registry, rp);
		lade_strv_push(&keys, k);
		char *s = strrchr(rp, '/');
		if (!s)
			break;
		*s = '\0';
	}
	lade_strv_push(&keys, registry);
	_cleanup_free_ char *https = xasprintf("https://%s", registry);
	_cleanup_free_ char *http = xasprintf("http://%s", registry);
	lade_strv_push(&keys, https);
	lade_strv_push(&keys, http);
	if (strcmp(registry, "docker.io") == 0) {
		lade_strv_push(&keys, "https://index.docker.io/v1/");
		lade_strv_push(&keys, "index.docker.io");
		lade_strv_push(&keys, "registry-1.docker.io");
	}
	for (char **k = keys; *k; k++) {
		json_t *e = json_object_get(auths, *k);
		if (!e) {
			/* "https://host/v1/" style keys: compare the host part */
			const char *key;
			json_t *v;
			json_object_foreach(auths, key, v)
			{
				if (strncmp(key, "https://", 8) == 0 &&
				    strncmp(key + 8, *k, strlen(*k)) == 0 &&
				    key[8 + strlen(*k)] == '/' && strcmp(*k, registry) == 0) {
					e = v;
					break;
				}
			}
		}
		if (!e)
			continue;
		const char *auth = json_string_value(json_object_get(e, "auth"));
		if (!auth || !*auth)
			continue;
		_cleanup_buf_ struct lade_buf dec = LADE_BUF_INIT;
		if (lade_base64_decode(auth, &dec) < 0 || memchr(dec.data, '\0', dec.len))
			return lade_error_set(
			        err, 0, "auth file %s: the \"auth\" of %s is not valid base64",
			        path, *k);
		if (split_creds(dec.data, user, pass) < 0)
			return lade_error_set(err, 0,
			                      "auth file %s: the \"auth\" of %s is not base64 of "
			                      "user:password",
			                      path, *k);
		return 1;
	}
	return 0;
}

int lade_auth_lookup(const char *registry, const char *repository, char **user, char **pass,
                     struct lade_error **err)
{
	const char *f = getenv("REGISTRY_AUTH_FILE");
	if (f && *f)
		return lade_auth_file_lookup(f, registry, repository, user, pass, err);
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg) {
		_cleanup_free_ char *p = xasprintf("%s/containers/auth.json", xdg);
		int r = lade_auth_file_lookup(p, registry, repository, user, pass, err);
		if (r != 0)
			return r;
	}
	const char *home = getenv("HOME");
	if (home && *home) {
		_cleanup_free_ char *p = xasprintf("%s/.docker/config.json", home);
		return lade_auth_file_lookup(p, registry, repository, user, pass, err);
	}
	return 0;
}

/* ---------------------------------------------------------------- retry policy */

bool lade_registry_should_retry(long status, unsigned attempt)
{
	if (attempt >= LADE_REGISTRY_TRIES)
		return false;
	return status == 0 || status == 429 || (status >= 500 && status <= 599);
}

unsigned lade_registry_retry_delay_ms(unsigned attempt)
{
	unsigned d = 250;
	for (unsigned i = 1; i < attempt && d < 4000; i++)
		d *= 2;
	return d > 4000 ? 4000 : d;
}

/* ---------------------------------------------------------------- HTTP client */

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

static void response_reset(struct response *r)
{
	free(r->location);
	free(r->docker_digest);
	free(r->content_type);
	free(r->www_authenticate);
	free(r->range);
	free(r->oci_subject);
	r->location = r->docker_digest = r->content_type = r->www_authenticate = NULL;
	r->range = r->oci_subject = NULL;
	lade_buf_reset(&r->body);
	r->status = 0;
	r->retry_after_s = 0;
	r->received = 0;
	lade_error_free(r->sink_err);
	r->sink_err = NULL;
}

static void response_release(struct response *r)
{
	response_reset(r);
	lade_buf_release(&r->body);
}

static void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->registry);
	free(c->base);
	free(c->repo);
	free(c->user);
	if (c->pass)
		explicit_bzero(c->pass, strlen(c->pass));
	free(c->pass);
	free(c->authorization);
	free(c);
}

static void client_freep(struct client **c)
{
	client_free(*c);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	struct response *r = ud;
	size_t len = size * n;
	const char *colon = memchr(buf, ':', len);
	if (!colon)
		return len;
	size_t kn = colon - buf;
	const char *v = colon + 1;
	size_t vn = len - kn - 1;
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
		vn--;
	char **slot = NULL;
	if (kn == 8 && strncasecmp(buf, "location", 8) == 0)
		slot = &r->location;
	else if (kn == 21 && strncasecmp(buf, "docker-content-digest", 21) == 0)
		slot = &r->docker_digest;
	else if (kn == 12 && strncasecmp(buf, "content-type", 12) == 0)
		slot = &r->content_type;
	else if (kn == 16 && strncasecmp(buf, "www-authenticate", 16) == 0)
		slot = &r->www_authenticate;
	else if (kn == 5 && strncasecmp(buf, "range", 5) == 0)
		slot = &r->range;
	else if (kn == 11 && strncasecmp(buf, "oci-subject", 11) == 0)
		slot = &r->oci_subject;
	if (slot) {
		free(*slot);
		*slot = xstrndup(v, vn);
	}
	if (kn == 11 && strncasecmp(buf, "retry-after", 11) == 0 && vn > 0 && vn < 6) {
		unsigned secs = 0;
		size_t k = 0;
		for (; k < vn && v[k] >= '0' && v[k] <= '9'; k++)
			secs = secs * 10 + (unsigned)(v[k] - '0');
		if (k == vn)
			r->retry_after_s = secs;
	}
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	struct response *r = ud;
	size_t len = size * n;
	if (!r->status)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
	/* only a 200 goes to the download sink; error bodies are kept for the message */
	if (r->sink && r->status == 200) {
		r->received += len;
		if (lade_stream_write(r->sink, buf, len, &r->sink_err) < 0)
			return 0;
		return len;
	}
	if (r->body.len + len > r->body_max)
		return 0;
	lade_buf_add(&r->body, buf, len);
	return len;
}

struct upload {
	int fd;
	uint64_t fd_offset, fd_left; /* fd: where the body starts, what is left to send */
	uint64_t fd_size;
	const char *data;
	size_t len, pos;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t want = size * n;
	if (u->fd >= 0) {
		if (want > u->fd_left)
			want = (size_t)u->fd_left;
		if (want == 0)
			return 0;
		ssize_t r = lade_read_retry(u->fd, buf, want);
		if (r <= 0) /* the file shrank under us: never send a short body as complete */
			return CURL_READFUNC_ABORT;
		u->fd_left -= (uint64_t)r;
		return (size_t)r;
	}
	size_t k = u->len - u->pos < want ? u->len - u->pos : want;
	memcpy(buf, u->data + u->pos, k);
	u->pos += k;
	return k;
}

/* curl rewinds the body itself when a reused connection turns out dead */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct upload *u = ud;
	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	if (u->fd >= 0) {
		if ((uint64_t)offset > u->fd_size ||
		    lseek(u->fd, (off_t)(u->fd_offset + (uint64_t)offset), SEEK_SET) < 0)
			return CURL_SEEKFUNC_FAIL;
		u->fd_left = u->fd_size - (uint64_t)offset;
		return CURL_SEEKFUNC_OK;
	}
	if ((size_t)offset > u->len)
		return CURL_SEEKFUNC_FAIL;
	u->pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* One HTTP exchange, no auth handling, no retries. -1 with *err only for transport errors;
 * an HTTP error status is left to the caller. */
static int perform(struct client *c, const struct request *q, struct response *r,
                   const char *authorization, struct lade_error **err)
{
	CURL *h = c->curl;
	curl_easy_reset(h);
	response_reset(r);
	r->h = h;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *auth_h = NULL, *ct_h = NULL;
	if (q->header)
		hdrs = curl_slist_append(hdrs, q->header);
	if (q->accept)
		hdrs = curl_slist_append(hdrs, q->accept);
	if (authorization) {
		auth_h = xasprintf("Authorization: %s", authorization);
		hdrs = curl_slist_append(hdrs, auth_h);
	}
	if (q->content_type) {
		ct_h = xasprintf("Content-Type: %s", q->content_type);
		hdrs = curl_slist_append(hdrs, ct_h);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	struct upload up = {q->fd, q->fd_offset, q->fd_size, q->fd_size, q->data, q->data_len, 0};
	if (q->fd >= 0 && lseek(q->fd, (off_t)q->fd_offset, SEEK_SET) < 0) {
		curl_slist_free_all(hdrs);
		return lade_error_set(err, errno, "cannot rewind the blob");
	}
	curl_easy_setopt(h, CURLOPT_URL, q->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "lade");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (!c->o->tls_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	_cleanup_free_ char *ca = NULL, *cert = NULL, *key = NULL;
	if (c->o->cert_dir) {
		ca = xasprintf("%s/ca.crt", c->o->cert_dir);
		cert = xasprintf("%s/client.cert", c->o->cert_dir);
		key = xasprintf("%s/client.key", c->o->cert_dir);
		if (access(ca, R_OK) == 0)
			curl_easy_setopt(h, CURLOPT_CAINFO, ca);
		if (access(cert, R_OK) == 0 && access(key, R_OK) == 0) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
			curl_easy_setopt(h, CURLOPT_SSLKEY, key);
		}
	}
	bool get = strcmp(q->method, "GET") == 0;
	if (get) {
		/* blob GETs are redirected to storage; curl drops Authorization on a new host */
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	} else if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(q->method, "PUT") == 0 || strcmp(q->method, "PATCH") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		if (strcmp(q->method, "PATCH") == 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &up);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &up);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
		                 (curl_off_t)(q->fd >= 0 ? q->fd_size : q->data_len));
	} else if (strcmp(q->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->data ? q->data : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->data_len);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}
	CURLcode rc = curl_easy_perform(h);
	r->curl_rc = rc;
	curl_slist_free_all(hdrs);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc != CURLE_OK) {
		if (r->sink_err) {
			struct lade_error *e = steal_pointer(&r->sink_err);
			lade_error_set(err, e->sys_errno, "%s", e->msg);
			lade_error_free(e);
			return -1;
		}
		if (rc == CURLE_WRITE_ERROR && !r->sink)
			return lade_error_set(err, 0, "%s %s: response larger than %zu bytes",
			                      q->method, q->url, r->body_max);
		r->status = 0;
		return lade_error_set(err, 0, "%s %s: %s", q->method, q->url,
		                      errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	return 0;
}

/* The registry's error message from a JSON error body, for the user. */
static char *registry_message(const struct response *r)
{
	if (r->body.len == 0)
		return xasprintf("HTTP %ld", r->status);
	json_auto_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	if (code || msg)
		return xasprintf("HTTP %ld %s%s%s", r->status, code ? code : "",
		                 code && msg ? ": " : "", msg ? msg : "");
	return xasprintf("HTTP %ld", r->status);
}

static int fetch_token(struct client *c, const struct lade_auth_challenge *ch, const char *scope,
                       struct lade_error **err)
{
	if (!ch->realm)
		return lade_error_set(err, 0, "registry %s: Bearer challenge without a realm",
		                      c->registry);
	CURLU *u = curl_url();
	if (curl_url_set(u, CURLUPART_URL, ch->realm, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return lade_error_set(err, 0, "registry %s: invalid token realm %s", c->registry,
		                      ch->realm);
	}
	if (ch->service) {
		_cleanup_free_ char *q = xasprintf("service=%s", ch->service);
		curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE);
	}
	/* scope may list several, space-separated */
	if (scope) {
		_cleanup_free_ char *s = xstrdup(scope);
		char *save = NULL;
		for (char *t = strtok_r(s, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			_cleanup_free_ char *q = xasprintf("scope=%s", t);
			curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE);
		}
	}
	char *url_c = NULL;
	curl_url_get(u, CURLUPART_URL, &url_c, 0);
	curl_url_cleanup(u);
	_cleanup_free_ char *url = xstrdup(url_c);
	curl_free(url_c);

	_cleanup_free_ char *basic = NULL;
	if (c->user) {
		_cleanup_free_ char *up = xasprintf("%s:%s", c->user, c->pass);
		_cleanup_free_ char *b64 = base64_encode(up);
		basic = xasprintf("Basic %s", b64);
		explicit_bzero(up, strlen(up));
	}
	struct request q = {.method = "GET", .url = url, .fd = -1};
	struct response r = {.body_max = 1 << 20};
	for (unsigned attempt = 1;; attempt++) {
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = perform(c, &q, &r, basic, &e);
		long st = rc < 0 ? 0 : r.status;
		if (rc == 0 && st == 200)
			break;
		if (lade_registry_should_retry(st, attempt)) {
			sleep_ms(lade_registry_retry_delay_ms(attempt));
			continue;
		}
		if (rc < 0) {
			response_release(&r);
			lade_error_set(err, 0, "registry %s: token service: %s", c->registry,
			               e->msg);
			return -1;
		}
		_cleanup_free_ char *m = registry_message(&r);
		response_release(&r);
		if (st == 401 || st == 403)
			return lade_error_set(
			        err, 0, "registry %s: the token service %s refused %s%s (%s)",
			        c->registry, ch->realm,
			        c->user ? "the credentials of user " : "anonymous access",
			        c->user ? c->user : "", m);
		return lade_error_set(err, 0, "registry %s: token service %s: %s", c->registry,
		                      ch->realm, m);
	}
	json_auto_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
	response_release(&r);
	const char *tok = json_string_value(json_object_get(j, "token"));
	if (!tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!tok || !*tok)
		return lade_error_set(err, 0, "registry %s: the token service %s sent no token",
		                      c->registry, ch->realm);
	free(c->authorization);
	c->authorization = xasprintf("Bearer %s", tok);
	return 0;
}

static int auth_failed(struct client *c, struct lade_error **err)
{
	if (c->user)
		return lade_error_set(err, 0,
		                      "registry %s: authentication failed for user %s (wrong user "
		                      "name or password, or no access to repository %s)",
		                      c->registry, c->user, c->repo);
	return lade_error_set(err, 0,
	                      "registry %s: authentication required for repository %s (give "
	                      "--creds or log in with an auth file)",
	                      c->registry, c->repo);
}

/* A 401 to a request that carried a fresh token: a registry that refuses the token itself (a
 * signature by a key it does not trust, a wrong issuer or audience, expired) says
 * error="invalid_token", and that is no password problem. -1 with *err set then, else 0. */
static int token_refused(struct client *c, const struct response *r, struct lade_error **err)
{
	if (!c->authorization || strncmp(c->authorization, "Bearer ", 7) != 0 ||
	    !r->www_authenticate)
		return 0;
	struct lade_auth_challenge ch;
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_auth_challenge_parse(r->www_authenticate, &ch, &e) < 0)
		return 0;
	int ret = 0;
	if (ch.error && strcmp(ch.error, "invalid_token") == 0)
		ret = lade_error_set(err, 0,
		                     "registry %s: refused the token that %s issued %s%s "
		                     "(invalid_token: the signing key, issuer, audience or expiry "
		                     "does not match the registry's token configuration)",
		                     c->registry, ch.realm ? ch.realm : "the token service",
		                     c->user ? "for user " : "for anonymous access",
		                     c->user ? c->user : "");
	lade_auth_challenge_release(&ch);
	return ret;
}

/* On 401: answer the challenge. 0 when the request should be tried again. */
static int handle_challenge(struct client *c, const struct response *r, const char *scope,
                            struct lade_error **err)
{
	if (!r->www_authenticate)
		return lade_error_set(err, 0, "registry %s: 401 without a WWW-Authenticate header",
		                      c->registry);
	struct lade_auth_challenge ch;
	if (lade_auth_challenge_parse(r->www_authenticate, &ch, err) < 0)
		return lade_error_prefix(err, "registry %s", c->registry);
	int ret;
	if (strcasecmp(ch.scheme, "Basic") == 0) {
		if (!c->user || c->basic_sent)
			ret = auth_failed(c, err);
		else {
			_cleanup_free_ char *up = xasprintf("%s:%s", c->user, c->pass);
			_cleanup_free_ char *b64 = base64_encode(up);
			explicit_bzero(up, strlen(up));
			free(c->authorization);
			c->authorization = xasprintf("Basic %s", b64);
			c->basic_sent = true;
			ret = 0;
		}
	} else if (strcasecmp(ch.scheme, "Bearer") == 0) {
		_cleanup_free_ char *sc = NULL;
		if (ch.scope && scope && !strstr(scope, ch.scope))
			sc = xasprintf("%s %s", ch.scope, scope);
		else
			sc = xstrdup(scope ? scope : (ch.scope ? ch.scope : ""));
		ret = fetch_token(c, &ch, *sc ? sc : NULL, err);
	} else {
		ret = lade_error_set(err, 0, "registry %s: unsupported authentication scheme %s",
		                     c->registry, ch.scheme);
	}
	lade_auth_challenge_release(&ch);
	return ret;
}

/* Issue a request with auth and retries. Returns 0 with r->status set (any status except an
 * unanswerable 401), -1 on transport errors after the retries. scope: the Bearer scope this
 * request needs. */
static int request(struct client *c, const struct request *q, struct response *r, const char *scope,
                   struct lade_error **err)
{
	bool auth_retried = false;
	for (unsigned attempt = 1;; attempt++) {
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = perform(c, q, r, c->authorization, &e);
		if (rc < 0 && r->received && r->sink)
			return lade_error_set(err, e->sys_errno, "%s", e->msg); /* no resume */
		long st = rc < 0 ? 0 : r->status;
		if (rc == 0 && st == 401 && !auth_retried) {
			if (handle_challenge(c, r, scope, err) < 0)
				return -1;
			auth_retried = true;
			attempt--;
			continue;
		}
		if (!q->once && lade_registry_should_retry(st, attempt) &&
		    (rc == 0 || curl_retryable(r->curl_rc))) {
			/* a registry's Retry-After is honoured up to 10 s, never below our delay */
			unsigned ms = lade_registry_retry_delay_ms(attempt);
			if (r->retry_after_s && r->retry_after_s * 1000u > ms)
				ms = r->retry_after_s > 10 ? 10000u : r->retry_after_s * 1000u;
			sleep_ms(ms);
			continue;
		}
		if (rc < 0) {
			lade_error_set(err, e->sys_errno, "registry %s: %s (after %u tries)",
			               c->registry, e->msg, attempt);
			return -1;
		}
		if (st == 401)
			return token_refused(c, r, err) < 0 ? -1 : auth_failed(c, err);
		return 0;
	}
}

/* Find the scheme: https first, then http where allowed (loopback, or TLS verification off). */
static int client_connect(struct client *c, const char *scope, struct lade_error **err)
{
	const char *host =
	        strcmp(c->registry, "docker.io") == 0 ? "registry-1.docker.io" : c->registry;
	bool http_ok = lade_registry_host_is_loopback(c->registry) || !c->o->tls_verify;
	const char *schemes[] = {"https", "http"};
	_cleanup_error_ struct lade_error *first = NULL;
	for (size_t i = 0; i < (http_ok ? 2u : 1u); i++) {
		_cleanup_free_ char *base = xasprintf("%s://%s", schemes[i], host);
		_cleanup_free_ char *url = xasprintf("%s/v2/", base);
		struct request q = {.method = "GET", .url = url, .fd = -1};
		struct response r = {.body_max = 1 << 20};
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = -1;
		for (unsigned attempt = 1;; attempt++) {
			lade_error_free(e);
			e = NULL;
			rc = perform(c, &q, &r, NULL, &e);
			long st = rc < 0 ? 0 : r.status;
			/* an https attempt against a plain-http port fails at once: do not retry it
			 */
			if (rc < 0 && i == 0 && http_ok)
				break;
			if (!lade_registry_should_retry(st, attempt))
				break;
			sleep_ms(lade_registry_retry_delay_ms(attempt));
		}
		if (rc == 0 && r.status != 200 && r.status != 401) {
			lade_error_set(&e, 0, "GET %s: HTTP %ld (not an OCI registry there)", url,
			               r.status);
			rc = -1;
		}
		if (rc == 0) {
			c->base = steal_pointer(&base);
			/* authenticate once here, so a wrong password is reported before any upload
			 */
			if (r.status == 401) {
				_cleanup_free_ char *u2 = xasprintf("%s/v2/", c->base);
				struct request q2 = {.method = "GET", .url = u2, .fd = -1};
				rc = request(c, &q2, &r, scope, err);
			}
			response_release(&r);
			return rc;
		}
		bool cert_failed = r.curl_rc == CURLE_PEER_FAILED_VERIFICATION;
		response_release(&r);
		if (!first)
			first = steal_pointer(&e);
		/* a certificate that does not verify is an answer: never fall back to http then */
		if (cert_failed)
			break;
	}
	return lade_error_set(err, 0, "registry %s: cannot connect: %s", c->registry,
	                      first ? first->msg : "unknown error");
}

static int client_new(const struct lade_registry_ref *ref, const struct lade_registry_options *o,
                      struct client **out, struct lade_error **err)
{
	_cleanup_(client_freep) struct client *c = xzalloc(sizeof(*c));
	c->o = o;
	c->registry = xstrdup(ref->registry);
	c->repo = xstrdup(ref->repository);
	c->curl = curl_easy_init();
	if (!c->curl)
		return lade_error_set(err, 0, "cannot initialise libcurl");
	if (o->creds) {
		if (split_creds(o->creds, &c->user, &c->pass) < 0)
			return lade_error_set(err, 0, "--creds must be USER:PASSWORD");
	} else if (lade_auth_lookup(c->registry, c->repo, &c->user, &c->pass, err) < 0) {
		return -1;
	}
	*out = steal_pointer(&c);
	return 0;
}

static char *scope_for(const char *repo, const char *actions)
{
	return xasprintf("repository:%s:%s", repo, actions);
}

/* ---------------------------------------------------------------- local layout */

struct layout {
	char *dir;
	json_t *index;
};

static int read_blob(const char *dir, const char *digest, struct lade_buf *out,
                     struct lade_error **err)
{
	if (!lade_digest_valid(digest))
		return lade_error_set(err, 0, "invalid digest %s", digest);
	_cleanup_free_ char *p = xasprintf("%s/blobs/sha256/%s", dir, lade_digest_hex(digest));
	if (lade_read_file(p, MANIFEST_MAX, out, err) < 0)
		return -1;
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(out->data, out->len, got);
	if (strcmp(got, digest) != 0)
		return lade_error_set(err, 0, "blob %s has digest %s", p, got);
	return 0;
}

static bool is_referrer(const char *dir, const json_t *desc);

/* Resolve IMAGE ("[oci:]DIR[:TAG]") to its top descriptor. */
static int layout_resolve(const char *image, char **dir_out, json_t **desc_out,
                          struct lade_error **err)
{
	const char *s = image;
	if (strncmp(s, "oci:", 4) == 0)
		s += 4;
	_cleanup_free_ char *dir = xstrdup(s);
	_cleanup_free_ char *tag = NULL;
	/* DIR:TAG, where TAG may itself hold ':' and '/' (pulled images are named by their full
	 * reference, "127.0.0.1:5000/repo:1.0"): the first prefix that is a layout is DIR. */
	_cleanup_free_ char *whole = xasprintf("%s/index.json", dir);
	struct stat st;
	if (stat(whole, &st) < 0) {
		for (char *colon = strchr(dir, ':'); colon; colon = strchr(colon + 1, ':')) {
			*colon = '\0';
			_cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
			if (stat(ip, &st) == 0) {
				tag = xstrdup(colon + 1);
				break;
			}
			*colon = ':';
		}
		if (!tag) { /* nothing there: report DIR as it would be read without the tag */
			char *last = strrchr(dir, ':');
			if (last && !strchr(last, '/')) {
				tag = xstrdup(last + 1);
				*last = '\0';
			}
		}
	}
	_cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
	json_error_t je;
	json_auto_t *idx = json_load_file(ip, 0, &je);
	if (!idx)
		return lade_error_set(err, 0, "image %s: cannot read %s: %s", image, ip, je.text);
	json_t *ms = json_object_get(idx, "manifests");
	json_t *found = NULL, *d;
	size_t i, n = 0;
	json_array_foreach(ms, i, d)
	{
		const char *rn = json_string_value(json_object_get(
		        json_object_get(d, "annotations"), "org.opencontainers.image.ref.name"));
		if (tag && (!rn || strcmp(rn, tag) != 0))
			continue;
		if (!tag && !rn && is_referrer(dir, d))
			continue;
		found = d;
		n++;
	}
	if (n == 0)
		return lade_error_set(err, 0, "image %s: no image %s%s in %s", image,
		                      tag ? "tagged " : "", tag ? tag : "", ip);
	if (n > 1)
		return lade_error_set(err, 0,
		                      "image %s: %s names %zu images; name one with DIR:TAG", image,
		                      ip, n);
	*desc_out = json_incref(found);
	*dir_out = steal_pointer(&dir);
	return 0;
}

/* ---------------------------------------------------------------- push */

struct push {
	struct client *c;
	const char *dir;
	struct lade_push_stats *stats;
	char *mount_scope;
	uint64_t chunk; /* blobs larger than this go in PATCH chunks of this size */
};

static char *blob_context(struct push *p, const char *digest)
{
	return xasprintf("registry %s, repository %s, blob %s", p->c->registry, p->c->repo, digest);
}

static char *absolute_location(struct client *c, const char *loc)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return xstrdup(loc);
	return xasprintf("%s%s%s", c->base, loc[0] == '/' ? "" : "/", loc);
}

/* Where an upload stands after a failed PATCH: 0 with *held (bytes the registry holds) and
 * *loc updated, 1 when the registry no longer knows the upload (start it again), -1 on error. */
static int upload_status(struct push *p, const char *ctx, char **loc, uint64_t *held,
                         struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *scope = scope_for(c->repo, "pull,push");
	struct request q = {.method = "GET", .url = *loc, .fd = -1};
	_cleanup_(response_release) struct response r = {.body_max = 1 << 20};
	_cleanup_error_ struct lade_error *e = NULL;
	if (request(c, &q, &r, scope, &e) < 0)
		return lade_error_set(err, e->sys_errno, "%s: asking where the upload stands: %s",
		                      ctx, e->msg);
	if (r.status != 204 && r.status != 200)
		return 1; /* 404 BLOB_UPLOAD_UNKNOWN, 400 BLOB_UPLOAD_INVALID: gone */
	*held = 0;
	if (r.range) {
		/* "0-N": the registry holds bytes 0..N; "0-0" is sent for an empty upload too, so
		 * it counts as nothing held (sending byte 0 again is what every client does) */
		const char *v = strncmp(r.range, "bytes=", 6) == 0 ? r.range + 6 : r.range;
		uint64_t a, b;
		int n = 0;
		if (sscanf(v, "%" SCNu64 "-%" SCNu64 "%n", &a, &b, &n) != 2 || a != 0 || v[n])
			return lade_error_set(err, 0,
			                      "%s: the registry sent an invalid upload Range: %s",
			                      ctx, r.range);
		*held = b ? b + 1 : 0;
	}
	if (r.location) {
		char *n = absolute_location(c, r.location);
		free(*loc);
		*loc = n;
	}
	return 0;
}

/* Send the blob in PATCH chunks of p->chunk bytes with Content-Range. After a failed chunk the
 * registry is asked where the upload stands (GET on the upload URL) and the upload goes on from
 * there; consecutive failures without progress are bounded by LADE_REGISTRY_TRIES. 1 when the
 * registry lost the upload (the caller starts a new one). */
static int upload_chunks(struct push *p, const char *ctx, char **loc, int fd, uint64_t size,
                         struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *scope = scope_for(c->repo, "pull,push");
	uint64_t off = 0;
	unsigned failures = 0;
	while (off < size) {
		uint64_t n = size - off < p->chunk ? size - off : p->chunk;
		_cleanup_free_ char *range =
		        xasprintf("Content-Range: %" PRIu64 "-%" PRIu64, off, off + n - 1);
		struct request q = {.method = "PATCH",
		                    .url = *loc,
		                    .content_type = "application/octet-stream",
		                    .header = range,
		                    .fd = fd,
		                    .fd_offset = off,
		                    .fd_size = n,
		                    .once = true};
		_cleanup_(response_release) struct response r = {.body_max = 1 << 20};
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = request(c, &q, &r, scope, &e);
		if (rc == 0 && r.status == 202 && r.location) {
			char *nl = absolute_location(c, r.location);
			free(*loc);
			*loc = nl;
			off += n;
			failures = 0;
			continue;
		}
		long st = rc < 0 ? 0 : r.status;
		if (rc == 0 && !lade_registry_should_retry(st, 1)) {
			if (st == 404 || st == 400 || st == 416)
				return 1;
			_cleanup_free_ char *m = registry_message(&r);
			return lade_error_set(err, 0,
			                      "%s: uploading bytes %" PRIu64 "-%" PRIu64 ": %s",
			                      ctx, off, off + n - 1, m);
		}
		if (++failures >= LADE_REGISTRY_TRIES) {
			_cleanup_free_ char *m = rc < 0 ? xstrdup(e->msg) : registry_message(&r);
			return lade_error_set(err, 0,
			                      "%s: uploading bytes %" PRIu64 "-%" PRIu64
			                      ": %s (after %u tries)",
			                      ctx, off, off + n - 1, m, failures);
		}
		sleep_ms(lade_registry_retry_delay_ms(failures));
		uint64_t held = 0;
		int s = upload_status(p, ctx, loc, &held, err);
		if (s != 0)
			return s;
		if (held > size)
			return lade_error_set(err, 0,
			                      "%s: the registry holds %" PRIu64
			                      " bytes of a %" PRIu64 "-byte blob",
			                      ctx, held, size);
		if (held > off)
			failures = 0; /* the chunk got through after all */
		off = held;
		p->stats->chunks_resumed++;
	}
	return 0;
}

/* One upload session: POST (or a mount), then the bytes (one PUT, or PATCH chunks then a PUT
 * naming the digest). 1 when the registry lost the session and a new one may succeed. */
static int upload_session(struct push *p, const char *ctx, const char *digest, int fd,
                          uint64_t size, struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *push_scope = scope_for(c->repo, "pull,push");
	_cleanup_(response_release) struct response r = {.body_max = 1 << 20};
	const char *mount = c->o->mount_from;
	_cleanup_free_ char *post_url = NULL;
	if (mount) {
		char *e = curl_easy_escape(c->curl, mount, 0);
		post_url = xasprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", c->base, c->repo,
		                     digest, e);
		curl_free(e);
	} else {
		post_url = xasprintf("%s/v2/%s/blobs/uploads/", c->base, c->repo);
	}
	struct request post = {.method = "POST", .url = post_url, .fd = -1};
	if (request(c, &post, &r, mount ? p->mount_scope : push_scope, err) < 0)
		return lade_error_prefix(err, "%s: starting the upload", ctx);
	if (mount && r.status == 201) {
		p->stats->blobs_mounted++;
		return 0;
	}
	if (r.status != 202 || !r.location) {
		_cleanup_free_ char *m = registry_message(&r);
		return lade_error_set(err, 0, "%s: starting the upload: %s", ctx, m);
	}
	_cleanup_free_ char *loc = absolute_location(c, r.location);
	/* Small blobs go in one PUT (one round trip); large ones in chunks, so a failure costs a
	 * chunk and not the whole blob. */
	bool chunked = size > p->chunk;
	if (chunked) {
		int rc = upload_chunks(p, ctx, &loc, fd, size, err);
		if (rc != 0)
			return rc;
	}
	_cleanup_free_ char *put_url =
	        xasprintf("%s%cdigest=sha256%%3A%s", loc, strchr(loc, '?') ? '&' : '?',
	                  lade_digest_hex(digest));
	struct request put = {.method = "PUT",
	                      .url = put_url,
	                      .content_type = "application/octet-stream",
	                      .fd = chunked ? -1 : fd,
	                      .fd_size = chunked ? 0 : size,
	                      .data = "",
	                      .data_len = 0};
	if (request(c, &put, &r, push_scope, err) < 0)
		return lade_error_prefix(err, "%s: uploading", ctx);
	/* a retried PUT can find the session already consumed or spoilt by a half-sent body */
	if (r.status == 404 || (r.status == 400 && !chunked)) {
		_cleanup_free_ char *m = registry_message(&r);
		if (strstr(m, "BLOB_UPLOAD_UNKNOWN") || strstr(m, "BLOB_UPLOAD_INVALID"))
			return 1;
	}
	if (r.status != 201) {
		_cleanup_free_ char *m = registry_message(&r);
		return lade_error_set(err, 0, "%s: uploading: %s", ctx, m);
	}
	if (r.docker_digest && strcmp(r.docker_digest, digest) != 0)
		return lade_error_set(err, 0, "%s: the registry stored it as %s", ctx,
		                      r.docker_digest);
	p->stats->blobs_uploaded++;
	p->stats->bytes_uploaded += size;
	return 0;
}

static int push_blob(struct push *p, const char *digest, uint64_t size, struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *ctx = blob_context(p, digest);
	_cleanup_free_ char *push_scope = scope_for(c->repo, "pull,push");
	_cleanup_(response_release) struct response r = {.body_max = 1 << 20};

	_cleanup_free_ char *head_url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->repo, digest);
	struct request head = {.method = "HEAD", .url = head_url, .fd = -1};
	if (request(c, &head, &r, push_scope, err) < 0)
		return lade_error_prefix(err, "%s", ctx);
	if (r.status == 200) {
		p->stats->blobs_present++;
		return 0;
	}

	_cleanup_free_ char *path =
	        xasprintf("%s/blobs/sha256/%s", p->dir, lade_digest_hex(digest));
	_cleanup_fd_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lade_error_set(err, errno, "%s: cannot open %s", ctx, path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lade_error_set(err, errno, "%s: cannot stat %s", ctx, path);
	if ((uint64_t)st.st_size != size)
		return lade_error_set(err, 0, "%s: %s has %jd bytes, the manifest says %ju", ctx,
		                      path, (intmax_t)st.st_size, (uintmax_t)size);
	for (unsigned session = 1;; session++) {
		int rc = upload_session(p, ctx, digest, fd, size, err);
		if (rc <= 0)
			return rc;
		if (session >= LADE_REGISTRY_TRIES)
			return lade_error_set(
			        err, 0, "%s: the registry lost the upload %u times; giving up", ctx,
			        session);
		p->stats->uploads_restarted++;
		sleep_ms(lade_registry_retry_delay_ms(session));
	}
}

static int put_manifest(struct push *p, const char *reference, const struct lade_buf *bytes,
                        const char *media_type, const char *digest, bool *indexed_subject,
                        struct lade_error **err)
{
	struct client *c = p->c;
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repo, reference);
	_cleanup_free_ char *scope = scope_for(c->repo, "pull,push");
	struct request q = {.method = "PUT",
	                    .url = url,
	                    .content_type = media_type,
	                    .data = bytes->data,
	                    .data_len = bytes->len,
	                    .fd = -1};
	struct response r = {.body_max = 1 << 20};
	int rc = request(c, &q, &r, scope, err);
	if (rc == 0 && r.status != 201) {
		_cleanup_free_ char *m = registry_message(&r);
		rc = lade_error_set(err, 0, "%s", m);
	} else if (rc == 0 && r.docker_digest && strcmp(r.docker_digest, digest) != 0) {
		rc = lade_error_set(err, 0, "the registry stored it as %s", r.docker_digest);
	}
	if (indexed_subject)
		*indexed_subject = r.oci_subject != NULL;
	response_release(&r);
	if (rc < 0)
		return lade_error_prefix(err, "registry %s, repository %s, manifest %s (%s)",
		                         c->registry, c->repo, digest, reference);
	return 0;
}

static const char *json_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int desc_fields(const json_t *d, const char **mt, const char **digest, uint64_t *size,
                       const char *where, struct lade_error **err)
{
	*mt = json_str(d, "mediaType");
	*digest = json_str(d, "digest");
	json_t *sz = json_object_get(d, "size");
	if (!*digest || !lade_digest_valid(*digest) || !json_is_integer(sz) ||
	    json_integer_value(sz) < 0)
		return lade_error_set(err, 0, "%s: invalid descriptor", where);
	*size = (uint64_t)json_integer_value(sz);
	return 0;
}

struct blob_item {
	char *digest;
	uint64_t size;
};

struct manifest_item {
	char *digest;
	char *media_type;
	struct lade_buf bytes;
};

/* What a push sends: blobs (once each) and manifests in the order they must be PUT. */
struct push_plan {
	struct blob_item *blobs;
	size_t n_blobs, a_blobs;
	struct manifest_item *manifests;
	size_t n_manifests, a_manifests;
};

static void push_plan_release(struct push_plan *pl)
{
	for (size_t i = 0; i < pl->n_blobs; i++)
		free(pl->blobs[i].digest);
	for (size_t i = 0; i < pl->n_manifests; i++) {
		free(pl->manifests[i].digest);
		free(pl->manifests[i].media_type);
		lade_buf_release(&pl->manifests[i].bytes);
	}
	free(pl->blobs);
	free(pl->manifests);
}

static bool plan_has_manifest(const struct push_plan *pl, const char *digest)
{
	for (size_t i = 0; i < pl->n_manifests; i++)
		if (strcmp(pl->manifests[i].digest, digest) == 0)
			return true;
	return false;
}

static void plan_add_blob(struct push_plan *pl, const char *digest, uint64_t size)
{
	for (size_t i = 0; i < pl->n_blobs; i++)
		if (strcmp(pl->blobs[i].digest, digest) == 0)
			return;
	lade_grow(&pl->blobs, sizeof(*pl->blobs), pl->n_blobs + 1, &pl->a_blobs);
	pl->blobs[pl->n_blobs++] = (struct blob_item){xstrdup(digest), size};
}

/* Walk a manifest or index: its blobs, its children (before it), then itself. */
static int plan_manifest(struct push_plan *pl, const char *dir, const char *digest,
                         const char *media_type, struct lade_error **err)
{
	if (plan_has_manifest(pl, digest))
		return 0;
	struct lade_buf b = LADE_BUF_INIT;
	if (read_blob(dir, digest, &b, err) < 0) {
		lade_buf_release(&b);
		return -1;
	}
	json_error_t je;
	json_auto_t *m = json_loadb(b.data, b.len, 0, &je);
	if (!m) {
		lade_buf_release(&b);
		return lade_error_set(err, 0, "manifest %s: invalid JSON: %s", digest, je.text);
	}
	const char *mt = json_str(m, "mediaType");
	if (!mt)
		mt = media_type;
	if (!mt)
		mt = json_object_get(m, "manifests") ? LADE_MT_OCI_INDEX : LADE_MT_OCI_MANIFEST;
	bool index = strcmp(mt, LADE_MT_OCI_INDEX) == 0 || strcmp(mt, LADE_MT_DOCKER_LIST) == 0;
	size_t i;
	json_t *d;
	int rc = 0;
	const char *bmt, *bd;
	uint64_t bs;
	if (index) {
		json_array_foreach(json_object_get(m, "manifests"), i, d)
		{
			if (desc_fields(d, &bmt, &bd, &bs, digest, err) < 0 ||
			    plan_manifest(pl, dir, bd, bmt, err) < 0) {
				rc = -1;
				break;
			}
		}
	} else {
		json_t *cfg = json_object_get(m, "config");
		if (desc_fields(cfg, &bmt, &bd, &bs, digest, err) < 0)
			rc = -1;
		else
			plan_add_blob(pl, bd, bs);
		json_array_foreach(json_object_get(m, "layers"), i, d)
		{
			if (rc < 0)
				break;
			if (desc_fields(d, &bmt, &bd, &bs, digest, err) < 0)
				rc = -1;
			else
				plan_add_blob(pl, bd, bs);
		}
	}
	if (rc < 0) {
		lade_buf_release(&b);
		return -1;
	}
	lade_grow(&pl->manifests, sizeof(*pl->manifests), pl->n_manifests + 1, &pl->a_manifests);
	pl->manifests[pl->n_manifests++] = (struct manifest_item){xstrdup(digest), xstrdup(mt), b};
	return 0;
}

/* Referrers (an SBOM artifact whose subject is one of the pushed manifests) in the layout's
 * index.json go along, before the tag. */
static int plan_referrers(struct push_plan *pl, const char *dir, struct lade_error **err)
{
	_cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
	json_auto_t *idx = json_load_file(ip, 0, NULL);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(idx, "manifests"), i, d)
	{
		const char *mt, *dg;
		uint64_t sz;
		if (desc_fields(d, &mt, &dg, &sz, ip, err) < 0)
			return -1;
		if (plan_has_manifest(pl, dg))
			continue;
		_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
		_cleanup_error_ struct lade_error *ignored = NULL;
		if (read_blob(dir, dg, &b, &ignored) < 0)
			continue; /* not ours to judge: only referrers matter here */
		json_auto_t *m = json_loadb(b.data, b.len, 0, NULL);
		const char *subject = json_str(json_object_get(m, "subject"), "digest");
		if (subject && plan_has_manifest(pl, subject) &&
		    plan_manifest(pl, dir, dg, mt, err) < 0)
			return -1;
	}
	return 0;
}

/* Blobs move in parallel, one libcurl handle (and connection) per thread; the first failure
 * stops the others from taking new items and is the one reported. */
typedef int (*blob_job_fn)(void *ctx, struct client *c, size_t item, struct lade_error **err);

struct pool {
	const struct client *proto;
	blob_job_fn fn;
	void *ctx;
	size_t n;
	pthread_mutex_t lock;
	size_t next;
	struct lade_error *err; /* the first failure */
};

static struct client *client_clone(const struct client *c)
{
	struct client *n = xzalloc(sizeof(*n));
	n->curl = curl_easy_init();
	if (!n->curl)
		abort(); /* allocation failure, as xmalloc */
	n->registry = xstrdup(c->registry);
	n->base = xstrdup(c->base);
	n->repo = xstrdup(c->repo);
	n->user = c->user ? xstrdup(c->user) : NULL;
	n->pass = c->pass ? xstrdup(c->pass) : NULL;
	n->authorization = c->authorization ? xstrdup(c->authorization) : NULL;
	n->basic_sent = c->basic_sent;
	n->o = c->o;
	return n;
}

static void *pool_worker(void *arg)
{
	struct pool *w = arg;
	_cleanup_(client_freep) struct client *c = client_clone(w->proto);
	for (;;) {
		pthread_mutex_lock(&w->lock);
		size_t i = w->err ? w->n : w->next++;
		pthread_mutex_unlock(&w->lock);
		if (i >= w->n)
			break;
		struct lade_error *e = NULL;
		if (w->fn(w->ctx, c, i, &e) < 0) {
			pthread_mutex_lock(&w->lock);
			if (!w->err)
				w->err = steal_pointer(&e);
			pthread_mutex_unlock(&w->lock);
			lade_error_free(e);
			break;
		}
	}
	return NULL;
}

/* fn(ctx, client, i) for i in [0, n): in order on c itself when jobs <= 1, else on `jobs`
 * threads with clones of c (auth tokens included). */
static int run_pool(struct client *c, size_t n, unsigned jobs, blob_job_fn fn, void *ctx,
                    struct lade_error **err)
{
	if (jobs > n)
		jobs = (unsigned)n;
	if (jobs <= 1) {
		for (size_t i = 0; i < n; i++)
			if (fn(ctx, c, i, err) < 0)
				return -1;
		return 0;
	}
	struct pool w = {.proto = c, .fn = fn, .ctx = ctx, .n = n};
	pthread_mutex_init(&w.lock, NULL);
	pthread_t tids[64];
	unsigned started = 0;
	for (; started < jobs && started < LADE_ARRAY_SIZE(tids); started++) {
		int e = pthread_create(&tids[started], NULL, pool_worker, &w);
		if (e != 0) {
			if (started == 0) {
				pthread_mutex_destroy(&w.lock);
				return lade_error_set(err, e, "cannot start a transfer thread");
			}
			break; /* fewer workers still finish the job */
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&w.lock);
	if (w.err) {
		lade_error_set(err, w.err->sys_errno, "%s", w.err->msg);
		lade_error_free(w.err);
		return -1;
	}
	return 0;
}

struct push_job {
	struct push *p;
	const struct push_plan *plan;
	pthread_mutex_t lock;
};

static int push_one(void *ctx, struct client *c, size_t i, struct lade_error **err)
{
	struct push_job *j = ctx;
	struct lade_push_stats st = {0};
	struct push p = *j->p;
	p.c = c;
	p.stats = &st;
	int rc = push_blob(&p, j->plan->blobs[i].digest, j->plan->blobs[i].size, err);
	pthread_mutex_lock(&j->lock);
	struct lade_push_stats *t = j->p->stats;
	t->blobs_uploaded += st.blobs_uploaded;
	t->blobs_present += st.blobs_present;
	t->blobs_mounted += st.blobs_mounted;
	t->bytes_uploaded += st.bytes_uploaded;
	t->chunks_resumed += st.chunks_resumed;
	t->uploads_restarted += st.uploads_restarted;
	pthread_mutex_unlock(&j->lock);
	return rc;
}

static int push_blobs(struct push *p, const struct push_plan *pl, unsigned jobs,
                      struct lade_error **err)
{
	struct push_job j = {.p = p, .plan = pl};
	pthread_mutex_init(&j.lock, NULL);
	int rc = run_pool(p->c, pl->n_blobs, jobs, push_one, &j, err);
	pthread_mutex_destroy(&j.lock);
	return rc;
}

/* A registry without the referrers API (no OCI-Subject header in the answer to the PUT, as
 * distribution 2.8) is given the fallback of the distribution spec 1.1: an image index tagged
 * "sha256-<subject hex>" listing the subject's referrers, fetched, extended and put back, so
 * `oras discover` and other clients find the SBOM. A manifest without a subject is left alone. */
static int tag_referrer(struct push *p, const struct manifest_item *mi, struct lade_error **err)
{
	json_auto_t *m = json_loadb(mi->bytes.data, mi->bytes.len, 0, NULL);
	const char *subject = json_str(json_object_get(m, "subject"), "digest");
	if (!subject)
		return 0;
	if (!lade_digest_valid(subject))
		return lade_error_set(err, 0, "manifest %s: invalid subject digest", mi->digest);
	struct client *c = p->c;
	_cleanup_free_ char *tag = xasprintf("sha256-%s", lade_digest_hex(subject));
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repo, tag);
	_cleanup_free_ char *scope = scope_for(c->repo, "pull,push");
	_cleanup_free_ char *ctx = xasprintf("registry %s, repository %s, referrers tag %s",
	                                     c->registry, c->repo, tag);
	struct request q = {
	        .method = "GET", .url = url, .accept = "Accept: " LADE_MT_OCI_INDEX, .fd = -1};
	_cleanup_(response_release) struct response r = {.body_max = MANIFEST_MAX};
	if (request(c, &q, &r, scope, err) < 0)
		return lade_error_prefix(err, "%s", ctx);
	json_auto_t *idx = NULL;
	if (r.status == 200) {
		idx = json_loadb(r.body.data, r.body.len, 0, NULL);
		if (!json_is_array(json_object_get(idx, "manifests")))
			return lade_error_set(err, 0, "%s: not an image index", ctx);
	} else if (r.status == 404) {
		idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
		                LADE_MT_OCI_INDEX, "manifests");
	} else {
		_cleanup_free_ char *msg = registry_message(&r);
		return lade_error_set(err, 0, "%s: %s", ctx, msg);
	}
	json_t *list = json_object_get(idx, "manifests");
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d)
	{
		if (strcmp(json_str(d, "digest") ? json_str(d, "digest") : "", mi->digest) == 0) {
			p->stats->referrers_tagged = true;
			return 0; /* listed already: a second push changes nothing */
		}
	}
	json_t *desc = json_pack("{s:s, s:s, s:I}", "mediaType", mi->media_type, "digest",
	                         mi->digest, "size", (json_int_t)mi->bytes.len);
	const char *at = json_str(m, "artifactType");
	if (!at)
		at = json_str(json_object_get(m, "config"), "mediaType");
	if (at)
		json_object_set_new(desc, "artifactType", json_string(at));
	json_t *ann = json_object_get(m, "annotations");
	if (json_is_object(ann))
		json_object_set(desc, "annotations", ann);
	json_array_append_new(list, desc);
	char *dumped = json_dumps(idx, JSON_SORT_KEYS | JSON_COMPACT);
	struct lade_buf bytes = LADE_BUF_INIT;
	lade_buf_add(&bytes, dumped, strlen(dumped));
	free(dumped);
	char digest[LADE_DIGEST_STRLEN];
	lade_sha256_buf(bytes.data, bytes.len, digest);
	int rc = put_manifest(p, tag, &bytes, LADE_MT_OCI_INDEX, digest, NULL, err);
	lade_buf_release(&bytes);
	if (rc == 0)
		p->stats->referrers_tagged = true;
	return rc;
}

/* A layout entry without a tag that is a referrer (has a subject) is not an image to push. */
static bool is_referrer(const char *dir, const json_t *desc)
{
	if (json_object_get(desc, "artifactType"))
		return true;
	const char *dg = json_str(desc, "digest");
	if (!dg)
		return false;
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *ignored = NULL;
	if (read_blob(dir, dg, &b, &ignored) < 0)
		return false;
	json_auto_t *m = json_loadb(b.data, b.len, 0, NULL);
	return json_object_get(m, "subject") != NULL;
}

int lade_registry_push(const char *image, const char *ref_s, const struct lade_registry_options *o,
                       char digest[LADE_DIGEST_STRLEN], struct lade_push_stats *stats,
                       struct lade_error **err)
{
	static const struct lade_registry_options defaults = LADE_REGISTRY_OPTIONS_INIT;
	struct lade_push_stats dummy;
	if (!o)
		o = &defaults;
	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *ref = NULL;
	if (lade_registry_ref_parse(ref_s, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *dir = NULL;
	json_auto_t *top = NULL;
	if (layout_resolve(image, &dir, &top, err) < 0)
		return -1;
	const char *mt, *d;
	uint64_t size;
	if (desc_fields(top, &mt, &d, &size, image, err) < 0)
		return -1;
	if (ref->digest && strcmp(ref->digest, d) != 0)
		return lade_error_set(err, 0, "image %s has digest %s, not the %s named by %s",
		                      image, d, ref->digest, ref_s);
	_cleanup_(push_plan_release) struct push_plan plan = {0};
	if (plan_manifest(&plan, dir, d, mt, err) < 0 || plan_referrers(&plan, dir, err) < 0)
		return lade_error_prefix(err, "image %s", image);

	_cleanup_(client_freep) struct client *c = NULL;
	_cleanup_free_ char *push_scope = xasprintf("repository:%s:pull,push", ref->repository);
	if (client_new(ref, o, &c, err) < 0 || client_connect(c, push_scope, err) < 0)
		return -1;
	struct push p = {.c = c,
	                 .dir = dir,
	                 .stats = stats,
	                 .chunk = o->chunk_size ? o->chunk_size : LADE_REGISTRY_CHUNK_DEFAULT};
	_cleanup_free_ char *mount_scope = NULL;
	if (o->mount_from)
		mount_scope = p.mount_scope = xasprintf(
		        "repository:%s:pull,push repository:%s:pull", c->repo, o->mount_from);
	if (push_blobs(&p, &plan, o->jobs, err) < 0)
		return -1;
	/* Children first, the image itself last and by its tag: a tag never names a partial
	 * image. Referrers need their subject, so they follow it (all by digest). */
	const struct manifest_item *top_item = NULL;
	for (size_t i = 0; i < plan.n_manifests; i++) {
		const struct manifest_item *mi = &plan.manifests[i];
		if (strcmp(mi->digest, d) == 0) {
			top_item = mi;
			/* by digest too only when referrers follow and need their subject */
			if (!ref->tag || i + 1 == plan.n_manifests)
				continue;
		}
		bool indexed = false;
		if (put_manifest(&p, mi->digest, &mi->bytes, mi->media_type, mi->digest, &indexed,
		                 err) < 0)
			return -1;
		if (!indexed && tag_referrer(&p, mi, err) < 0)
			return -1;
	}
	if (put_manifest(&p, ref->tag ? ref->tag : d, &top_item->bytes, top_item->media_type, d,
	                 NULL, err) < 0)
		return -1;
	stats->manifests = plan.n_manifests;
	memcpy(digest, d, LADE_DIGEST_STRLEN);
	return 0;
}

/* ---------------------------------------------------------------- pull */

struct pull {
	const struct lade_registry_ref *ref;
	const struct lade_registry_options *o;
	struct lade_store *store;
	struct client *c; /* created at the first network access */
	const char *name; /* canonical reference, for messages */
};

static int pull_client(struct pull *p, const char *what, struct lade_error **err)
{
	if (p->c)
		return 0;
	if (p->o->offline)
		return lade_error_set(err, 0, "image %s: %s is not in the store %s (offline)",
		                      p->name, what, lade_store_dir(p->store));
	_cleanup_free_ char *scope = xasprintf("repository:%s:pull", p->ref->repository);
	if (client_new(p->ref, p->o, &p->c, err) < 0 || client_connect(p->c, scope, err) < 0)
		return -1;
	return 0;
}

/* A manifest or index by digest (or tag: then *digest_out tells which), from the store when
 * there, else from the registry; verified, and stored. */
static int pull_manifest(struct pull *p, const char *reference, struct lade_buf *out,
                         char digest_out[LADE_DIGEST_STRLEN], char **media_type_out,
                         struct lade_error **err)
{
	bool by_digest = lade_digest_valid(reference);
	if (by_digest && lade_store_has(p->store, reference)) {
		if (read_blob(lade_store_dir(p->store), reference, out, err) == 0) {
			memcpy(digest_out, reference, LADE_DIGEST_STRLEN);
			return 0;
		}
		return lade_error_prefix(err, "image %s: manifest in the store", p->name);
	}
	_cleanup_free_ char *what = xasprintf("manifest %s", reference);
	if (pull_client(p, what, err) < 0)
		return -1;
	struct client *c = p->c;
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->repo, reference);
	_cleanup_free_ char *scope = scope_for(c->repo, "pull");
	struct request q = {.method = "GET", .url = url, .accept = ACCEPT_MANIFESTS, .fd = -1};
	_cleanup_(response_release) struct response r = {.body_max = MANIFEST_MAX};
	if (request(c, &q, &r, scope, err) < 0)
		return lade_error_prefix(err, "repository %s, manifest %s", c->repo, reference);
	if (r.status != 200) {
		_cleanup_free_ char *m = registry_message(&r);
		return lade_error_set(err, 0, "registry %s, repository %s, manifest %s: %s",
		                      c->registry, c->repo, reference, m);
	}
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(r.body.data, r.body.len, got);
	const char *want = by_digest ? reference : r.docker_digest;
	if (want && strcmp(got, want) != 0)
		return lade_error_set(err, 0,
		                      "registry %s, repository %s, manifest %s: the registry sent "
		                      "content with digest %s, expected %s",
		                      c->registry, c->repo, reference, got, want);
	char stored[LADE_DIGEST_STRLEN];
	if (lade_store_put(p->store, r.body.data, r.body.len, stored, err) < 0)
		return -1;
	memcpy(digest_out, got, LADE_DIGEST_STRLEN);
	lade_buf_add(out, r.body.data, r.body.len);
	if (media_type_out && r.content_type && !*media_type_out) {
		size_t n = strcspn(r.content_type, "; ");
		*media_type_out = xstrndup(r.content_type, n);
	}
	return 0;
}

/* Refuses more bytes than the descriptor announced (a hostile registry cannot fill the disk). */
struct limit_stream {
	struct lade_stream stream;
	struct lade_stream *next;
	uint64_t limit, bytes;
};

static int limit_write(struct lade_stream *st, const void *buf, size_t len, struct lade_error **err)
{
	struct limit_stream *ls = (struct limit_stream *)st;
	ls->bytes += len;
	if (ls->bytes > ls->limit)
		return lade_error_set(err, 0, "more than the %ju bytes the manifest says",
		                      (uintmax_t)ls->limit);
	return lade_stream_write(ls->next, buf, len, err);
}

static int pull_blob(struct pull *p, const char *digest, uint64_t size, struct lade_error **err)
{
	if (lade_store_has(p->store, digest))
		return 0;
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	if (pull_client(p, what, err) < 0)
		return -1;
	struct client *c = p->c;
	_cleanup_free_ char *ctx =
	        xasprintf("registry %s, repository %s, blob %s", c->registry, c->repo, digest);
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->repo, digest);
	_cleanup_free_ char *scope = scope_for(c->repo, "pull");
	for (unsigned attempt = 1;; attempt++) {
		_cleanup_(lade_blob_writer_freep) struct lade_blob_writer *w = NULL;
		if (lade_store_blob_begin(p->store, &w, err) < 0)
			return -1;
		struct request q = {.method = "GET", .url = url, .fd = -1};
		_cleanup_(response_release) struct response r = {.body_max = 1 << 20};
		struct lade_hash_stream hs;
		lade_hash_stream_init(&hs, lade_blob_writer_stream(w));
		struct limit_stream ls = {{limit_write}, &hs.stream, size, 0};
		r.sink = &ls.stream;
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = request(c, &q, &r, scope, &e);
		char got[LADE_DIGEST_STRLEN];
		lade_hash_stream_final(&hs, got);
		if (rc < 0) {
			/* a download cut in the middle starts again from zero (bounded) */
			if (r.received && attempt < LADE_REGISTRY_TRIES && ls.bytes <= size) {
				sleep_ms(lade_registry_retry_delay_ms(attempt));
				continue;
			}
			lade_error_set(err, e->sys_errno, "%s: %s", ctx, e->msg);
			return -1;
		}
		if (r.status != 200) {
			_cleanup_free_ char *m = registry_message(&r);
			return lade_error_set(err, 0, "%s: %s", ctx, m);
		}
		/* checked before the commit, so nothing unexpected lands in the store */
		if (strcmp(got, digest) != 0)
			return lade_error_set(
			        err, 0, "%s: the registry sent content with digest %s", ctx, got);
		if (ls.bytes != size)
			return lade_error_set(err, 0,
			                      "%s: %ju bytes received, the manifest says %ju", ctx,
			                      (uintmax_t)ls.bytes, (uintmax_t)size);
		char stored[LADE_DIGEST_STRLEN];
		uint64_t stored_size;
		if (lade_blob_writer_commit(steal_pointer(&w), stored, &stored_size, err) < 0)
			return lade_error_prefix(err, "%s", ctx);
		return 0;
	}
}

/* The blobs of one manifest the store lacks (each once), fetched together. */
struct blob_list {
	struct blob_want {
		char digest[LADE_DIGEST_STRLEN];
		uint64_t size;
	} * items;
	size_t n, alloc;
};

static void blob_list_release(struct blob_list *l)
{
	free(l->items);
}

static void blob_list_add_missing(struct blob_list *l, struct lade_store *store, const char *digest,
                                  uint64_t size)
{
	if (lade_store_has(store, digest))
		return;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].digest, digest) == 0)
			return;
	lade_grow(&l->items, sizeof(*l->items), l->n + 1, &l->alloc);
	snprintf(l->items[l->n].digest, LADE_DIGEST_STRLEN, "%s", digest);
	l->items[l->n++].size = size;
}

struct pull_job {
	struct pull *p;
	const struct blob_list *want;
};

static int pull_one(void *ctx, struct client *c, size_t i, struct lade_error **err)
{
	struct pull_job *j = ctx;
	struct pull p = *j->p;
	p.c = c;
	return pull_blob(&p, j->want->items[i].digest, j->want->items[i].size, err);
}

static bool platform_matches(const json_t *pl, const char *platform)
{
	_cleanup_free_ char *s = xstrdup(platform);
	char *save = NULL;
	const char *os = strtok_r(s, "/", &save);
	const char *arch = strtok_r(NULL, "/", &save);
	const char *variant = strtok_r(NULL, "/", &save);
	const char *pos = json_str(pl, "os"), *parch = json_str(pl, "architecture");
	const char *pvar = json_str(pl, "variant");
	if (!os || !arch || !pos || !parch || strcmp(os, pos) != 0 || strcmp(arch, parch) != 0)
		return false;
	return !variant || (pvar && strcmp(variant, pvar) == 0);
}

/* Fetch what a manifest/index names. Fills *named with the descriptor to name in index.json
 * (for an index resolved to a platform: the child's). */
static int pull_tree(struct pull *p, const char *reference, const char *platform,
                     const char *media_type, json_t **named, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	char digest[LADE_DIGEST_STRLEN];
	_cleanup_free_ char *served_mt = NULL;
	if (pull_manifest(p, reference, &b, digest, &served_mt, err) < 0)
		return -1;
	json_error_t je;
	json_auto_t *m = json_loadb(b.data, b.len, 0, &je);
	if (!m)
		return lade_error_set(err, 0, "image %s: manifest %s: invalid JSON: %s", p->name,
		                      digest, je.text);
	/* the document's own mediaType, else the descriptor's, else what the registry served */
	const char *mt = json_str(m, "mediaType");
	if (!mt)
		mt = media_type;
	if (!mt && served_mt &&
	    (strcmp(served_mt, LADE_MT_OCI_INDEX) == 0 ||
	     strcmp(served_mt, LADE_MT_OCI_MANIFEST) == 0))
		mt = served_mt;
	if (!mt)
		mt = json_object_get(m, "manifests") ? LADE_MT_OCI_INDEX : LADE_MT_OCI_MANIFEST;
	bool index = strcmp(mt, LADE_MT_OCI_INDEX) == 0 || strcmp(mt, LADE_MT_DOCKER_LIST) == 0;
	size_t i;
	json_t *d;
	if (index) {
		json_t *chosen = NULL;
		json_array_foreach(json_object_get(m, "manifests"), i, d)
		{
			const char *cmt, *cd;
			uint64_t cs;
			if (desc_fields(d, &cmt, &cd, &cs, digest, err) < 0)
				return lade_error_prefix(err, "image %s", p->name);
			if (platform) {
				if (!chosen &&
				    platform_matches(json_object_get(d, "platform"), platform))
					chosen = d;
				continue;
			}
			json_auto_t *ignored = NULL;
			if (pull_tree(p, cd, NULL, cmt, &ignored, err) < 0)
				return -1;
		}
		if (platform) {
			if (!chosen)
				return lade_error_set(err, 0,
				                      "image %s: no manifest for platform %s in "
				                      "index %s",
				                      p->name, platform, digest);
			const char *cmt, *cd;
			uint64_t cs;
			desc_fields(chosen, &cmt, &cd, &cs, digest, err);
			json_auto_t *child = NULL;
			if (pull_tree(p, cd, NULL, cmt, &child, err) < 0)
				return -1;
			json_object_set(child, "platform", json_object_get(chosen, "platform"));
			*named = steal_pointer(&child);
			return 0;
		}
	} else {
		json_t *cfg = json_object_get(m, "config");
		const char *bmt, *bd;
		uint64_t bs;
		if (desc_fields(cfg, &bmt, &bd, &bs, digest, err) < 0)
			return lade_error_prefix(err, "image %s", p->name);
		_cleanup_(blob_list_release) struct blob_list want = {0};
		blob_list_add_missing(&want, p->store, bd, bs);
		json_array_foreach(json_object_get(m, "layers"), i, d)
		{
			if (desc_fields(d, &bmt, &bd, &bs, digest, err) < 0)
				return lade_error_prefix(err, "image %s", p->name);
			blob_list_add_missing(&want, p->store, bd, bs);
		}
		if (want.n) {
			_cleanup_free_ char *what = xasprintf("blob %s", want.items[0].digest);
			if (pull_client(p, what, err) < 0)
				return -1;
			struct pull_job j = {.p = p, .want = &want};
			if (run_pool(p->c, want.n, p->o->jobs, pull_one, &j, err) < 0)
				return -1;
		}
	}
	*named = json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size",
	                   (json_int_t)b.len);
	return 0;
}

/* Offline and unpinned: the store's index.json may name the reference already. */
static char *store_lookup(struct lade_store *s, const char *name)
{
	_cleanup_free_ char *ip = xasprintf("%s/index.json", lade_store_dir(s));
	json_auto_t *idx = json_load_file(ip, 0, NULL);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(idx, "manifests"), i, d)
	{
		const char *rn = json_str(json_object_get(d, "annotations"),
		                          "org.opencontainers.image.ref.name");
		const char *dg = json_str(d, "digest");
		if (rn && dg && strcmp(rn, name) == 0 && lade_digest_valid(dg))
			return xstrdup(dg);
	}
	return NULL;
}

/* Parse ref_s and refuse an unpinned one unless allowed; *name: its canonical form. */
static int pull_ref(const char *ref_s, bool allow_unpinned, struct lade_registry_ref **ref,
                    char **name, struct lade_error **err)
{
	if (lade_registry_ref_parse(ref_s, ref, err) < 0)
		return -1;
	*name = lade_registry_ref_canonical(*ref);
	if (!(*ref)->digest && !allow_unpinned)
		return lade_error_set(
		        err, 0,
		        "image %s is not pinned: add @sha256:… (or allow unpinned base "
		        "images)",
		        *name);
	return 0;
}

int lade_registry_pull_ex(const char *ref_s, const char *platform, const char *layout_dir,
                          bool allow_unpinned, const struct lade_registry_options *o,
                          char manifest_digest[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	/* checked before the store is created, so a refused reference leaves nothing behind */
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *ref = NULL;
	_cleanup_free_ char *name = NULL;
	if (pull_ref(ref_s, allow_unpinned, &ref, &name, err) < 0)
		return -1;
	_cleanup_free_ char *dir = layout_dir ? xstrdup(layout_dir) : lade_store_default_dir(err);
	if (!dir || lade_mkdir_p(dir, err) < 0)
		return -1;
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	if (lade_store_open(dir, 600, &store, err) < 0)
		return -1;
	return lade_registry_pull_into(ref_s, platform, store, allow_unpinned, o, manifest_digest,
	                               err);
}

int lade_registry_pull_into(const char *ref_s, const char *platform, struct lade_store *store,
                            bool allow_unpinned, const struct lade_registry_options *o,
                            char manifest_digest[LADE_DIGEST_STRLEN], struct lade_error **err)
{
	static const struct lade_registry_options defaults = LADE_REGISTRY_OPTIONS_INIT;
	if (!o)
		o = &defaults;
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *ref = NULL;
	_cleanup_free_ char *name = NULL;
	if (pull_ref(ref_s, allow_unpinned, &ref, &name, err) < 0)
		return -1;
	struct pull p = {.ref = ref, .o = o, .store = store, .name = name};
	_cleanup_free_ char *known = NULL;
	const char *reference = ref->digest;
	if (!reference && o->offline)
		reference = known = store_lookup(store, name);
	if (!reference)
		reference = ref->tag;
	json_auto_t *named = NULL;
	int rc = pull_tree(&p, reference, platform, NULL, &named, err);
	client_free(p.c);
	if (rc < 0)
		return -1;
	struct lade_index_entry e = {
	        .media_type = json_str(named, "mediaType"),
	        .digest = json_str(named, "digest"),
	        .size = (uint64_t)json_integer_value(json_object_get(named, "size")),
	        .ref_name = name,
	        .platform = json_object_get(named, "platform"),
	};
	if (lade_layout_update_index(store, &e, 1, err) < 0)
		return -1;
	if (manifest_digest)
		snprintf(manifest_digest, LADE_DIGEST_STRLEN, "%s", e.digest);
	return 0;
}

int lade_registry_pull(const char *ref, const char *platform, const char *layout_dir,
                       bool allow_unpinned, struct lade_error **err)
{
	return lade_registry_pull_ex(ref, platform, layout_dir, allow_unpinned, NULL, NULL, err);
}
