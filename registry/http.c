/* lade — the registry client's HTTP side: one libcurl easy handle per client (the connection is
 * reused across requests), one exchange in reg_perform(), and reg_request() on top, which
 * answers auth challenges and retries on 429, 5xx and connection failures. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "registry-private.h"

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

void reg_response_release(struct response *r)
{
	response_reset(r);
	lade_buf_release(&r->body);
}

void reg_client_free(struct client *c)
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

void reg_client_freep(struct client **c)
{
	reg_client_free(*c);
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

void reg_sleep_ms(unsigned ms)
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

/* The request's headers (curl_slist_append copies them). */
static struct curl_slist *request_headers(const struct request *q, const char *authorization)
{
	struct curl_slist *hdrs = NULL;
	if (q->header)
		hdrs = curl_slist_append(hdrs, q->header);
	if (q->accept)
		hdrs = curl_slist_append(hdrs, q->accept);
	if (authorization) {
		_cleanup_free_ char *auth_h = xasprintf("Authorization: %s", authorization);
		hdrs = curl_slist_append(hdrs, auth_h);
		explicit_bzero(auth_h, strlen(auth_h));
	}
	if (q->content_type) {
		_cleanup_free_ char *ct_h = xasprintf("Content-Type: %s", q->content_type);
		hdrs = curl_slist_append(hdrs, ct_h);
	}
	return curl_slist_append(hdrs, "Expect:");
}

/* TLS: verification (skopeo's --tls-verify) and cert_dir's ca.crt, client.cert, client.key
 * (libcurl copies the strings). */
static void set_tls(const struct client *c, CURL *h)
{
	if (!c->o->tls_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!c->o->cert_dir)
		return;
	_cleanup_free_ char *ca = xasprintf("%s/ca.crt", c->o->cert_dir);
	_cleanup_free_ char *cert = xasprintf("%s/client.cert", c->o->cert_dir);
	_cleanup_free_ char *key = xasprintf("%s/client.key", c->o->cert_dir);
	if (access(ca, R_OK) == 0)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	if (access(cert, R_OK) == 0 && access(key, R_OK) == 0) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, key);
	}
}

/* The method and its body: up must live until curl_easy_perform() returns. */
static void set_method(CURL *h, const struct request *q, struct upload *up)
{
	if (strcmp(q->method, "GET") == 0) {
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
		curl_easy_setopt(h, CURLOPT_READDATA, up);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, up);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
		                 (curl_off_t)(q->fd >= 0 ? q->fd_size : q->data_len));
	} else if (strcmp(q->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->data ? q->data : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->data_len);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}
}

int reg_perform(struct client *c, const struct request *q, struct response *r,
                const char *authorization, struct lade_error **err)
{
	CURL *h = c->curl;
	curl_easy_reset(h);
	response_reset(r);
	r->h = h;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct upload up = {q->fd, q->fd_offset, q->fd_size, q->fd_size, q->data, q->data_len, 0};
	if (q->fd >= 0 && lseek(q->fd, (off_t)q->fd_offset, SEEK_SET) < 0)
		return lade_error_set(err, errno, "cannot rewind the blob");
	struct curl_slist *hdrs = request_headers(q, authorization);
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
	set_tls(c, h);
	set_method(h, q, &up);
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

char *reg_message(const struct response *r)
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

int reg_request(struct client *c, const struct request *q, struct response *r, const char *scope,
                struct lade_error **err)
{
	bool auth_retried = false;
	for (unsigned attempt = 1;; attempt++) {
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = reg_perform(c, q, r, c->authorization, &e);
		if (rc < 0 && r->received && r->sink)
			return lade_error_set(err, e->sys_errno, "%s", e->msg); /* no resume */
		long st = rc < 0 ? 0 : r->status;
		if (rc == 0 && st == 401 && !auth_retried) {
			if (reg_handle_challenge(c, r, scope, err) < 0)
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
			reg_sleep_ms(ms);
			continue;
		}
		if (rc < 0) {
			lade_error_set(err, e->sys_errno, "registry %s: %s (after %u tries)",
			               c->registry, e->msg, attempt);
			return -1;
		}
		if (st == 401)
			return reg_auth_refused(c, r, err);
		return 0;
	}
}

/* Find the scheme: https first, then http where allowed (loopback, or TLS verification off). */
int reg_client_connect(struct client *c, const char *scope, struct lade_error **err)
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
		struct response r = {.body_max = REG_BODY_MAX};
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = -1;
		for (unsigned attempt = 1;; attempt++) {
			lade_error_free(e);
			e = NULL;
			rc = reg_perform(c, &q, &r, NULL, &e);
			long st = rc < 0 ? 0 : r.status;
			/* an https attempt against a plain-http port fails at once: do not retry it
			 */
			if (rc < 0 && i == 0 && http_ok)
				break;
			if (!lade_registry_should_retry(st, attempt))
				break;
			reg_sleep_ms(lade_registry_retry_delay_ms(attempt));
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
				rc = reg_request(c, &q2, &r, scope, err);
			}
			reg_response_release(&r);
			return rc;
		}
		bool cert_failed = r.curl_rc == CURLE_PEER_FAILED_VERIFICATION;
		reg_response_release(&r);
		if (!first)
			first = steal_pointer(&e);
		/* a certificate that does not verify is an answer: never fall back to http then */
		if (cert_failed)
			break;
	}
	return lade_error_set(err, 0, "registry %s: cannot connect: %s", c->registry,
	                      first ? first->msg : "unknown error");
}

int reg_client_new(const struct lade_registry_ref *ref, const struct lade_registry_options *o,
                   struct client **out, struct lade_error **err)
{
	_cleanup_(reg_client_freep) struct client *c = xzalloc(sizeof(*c));
	c->o = o;
	c->registry = xstrdup(ref->registry);
	c->repo = xstrdup(ref->repository);
	c->curl = curl_easy_init();
	if (!c->curl)
		return lade_error_set(err, 0, "cannot initialise libcurl");
	if (o->creds) {
		if (reg_split_creds(o->creds, &c->user, &c->pass) < 0)
			return lade_error_set(err, 0, "--creds must be USER:PASSWORD");
	} else if (lade_auth_lookup(c->registry, c->repo, &c->user, &c->pass, err) < 0) {
		return -1;
	}
	*out = steal_pointer(&c);
	return 0;
}

struct client *reg_client_clone(const struct client *c)
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

char *reg_scope(const char *repo, const char *actions)
{
	return xasprintf("repository:%s:%s", repo, actions);
}
