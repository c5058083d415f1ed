/* lade — registry authentication: WWW-Authenticate challenges, credentials from --creds and the
 * auth files (docker config.json, containers auth.json), Basic, and the Bearer token flow. */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "registry-private.h"

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

int reg_split_creds(const char *creds, char **user, char **pass)
{
	const char *colon = strchr(creds, ':');
	if (!colon)
		return -1;
	*user = xstrndup(creds, colon - creds);
	*pass = xstrdup(colon + 1);
	return 0;
}

/* The keys of an auth file's "auths" that may hold registry/repository's credentials, most
 * specific first: host/repo/prefixes…, host, URL forms. New strv. */
static char **auth_file_keys(const char *registry, const char *repository)
{
	char **keys = NULL;
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
	return keys;
}

#define AUTH_FILE_MAX (16u << 20)

int lade_auth_file_lookup(const char *path, const char *registry, const char *repository,
                          char **user, char **pass, struct lade_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return lade_error_set(err, errno, "cannot read auth file %s", path);
	}
	/* lade_read_file: a FIFO or device in place of the file is refused, never waited on */
	_cleanup_buf_ struct lade_buf text = LADE_BUF_INIT;
	if (lade_read_file(path, AUTH_FILE_MAX, &text, err) < 0)
		return lade_error_prefix(err, "auth file");
	json_error_t je;
	json_auto_t *root = json_loadb(text.data, text.len, 0, &je);
	if (!root)
		return lade_error_set(err, 0, "auth file %s:%d: invalid JSON: %s", path, je.line,
		                      je.text);
	json_t *auths = json_object_get(root, "auths");
	if (!auths)
		return 0;
	if (!json_is_object(auths))
		return lade_error_set(err, 0, "auth file %s: \"auths\" is not an object", path);

	_cleanup_strv_ char **keys = auth_file_keys(registry, repository);
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
		if (reg_split_creds(dec.data, user, pass) < 0)
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

/* "Basic base64(user:pass)". New string. */
static char *basic_authorization(const struct client *c)
{
	_cleanup_free_ char *up = xasprintf("%s:%s", c->user, c->pass);
	_cleanup_free_ char *b64 = base64_encode(up);
	explicit_bzero(up, strlen(up));
	return xasprintf("Basic %s", b64);
}

/* The token service URL: the realm with service= and one scope= per (space-separated) scope.
 * NULL with *err when the realm is no URL. */
static char *token_url(const struct client *c, const struct lade_auth_challenge *ch,
                       const char *scope, struct lade_error **err)
{
	CURLU *u = curl_url();
	if (curl_url_set(u, CURLUPART_URL, ch->realm, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		lade_error_set(err, 0, "registry %s: invalid token realm %s", c->registry,
		               ch->realm);
		return NULL;
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
	char *url = xstrdup(url_c);
	curl_free(url_c);
	return url;
}

static int fetch_token(struct client *c, const struct lade_auth_challenge *ch, const char *scope,
                       struct lade_error **err)
{
	if (!ch->realm)
		return lade_error_set(err, 0, "registry %s: Bearer challenge without a realm",
		                      c->registry);
	_cleanup_free_ char *url = token_url(c, ch, scope, err);
	if (!url)
		return -1;
	_cleanup_free_ char *basic = c->user ? basic_authorization(c) : NULL;
	struct request q = {.method = "GET", .url = url, .fd = -1};
	struct response r = {.body_max = REG_BODY_MAX};
	for (unsigned attempt = 1;; attempt++) {
		_cleanup_error_ struct lade_error *e = NULL;
		int rc = reg_perform(c, &q, &r, basic, &e);
		long st = rc < 0 ? 0 : r.status;
		if (rc == 0 && st == 200)
			break;
		if (lade_registry_should_retry(st, attempt)) {
			reg_sleep_ms(lade_registry_retry_delay_ms(attempt));
			continue;
		}
		if (rc < 0) {
			reg_response_release(&r);
			lade_error_set(err, 0, "registry %s: token service: %s", c->registry,
			               e->msg);
			return -1;
		}
		_cleanup_free_ char *m = reg_message(&r);
		reg_response_release(&r);
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
	reg_response_release(&r);
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

int reg_handle_challenge(struct client *c, const struct response *r, const char *scope,
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
			free(c->authorization);
			c->authorization = basic_authorization(c);
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

int reg_auth_refused(struct client *c, const struct response *r, struct lade_error **err)
{
	return token_refused(c, r, err) < 0 ? -1 : auth_failed(c, err);
}
