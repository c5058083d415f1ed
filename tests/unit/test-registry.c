/* Unit tests for the pure parts of the registry client (registry/): references,
 * WWW-Authenticate, auth files (base64), retry policy, and the offline paths of pull/push that
 * need no network. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lade/digest.h"
#include "lade/registry.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"
#include "../../registry/registry-private.h"

static char *tmpdir;

static void write_tmp(const char *name, const char *content)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", tmpdir, name);
	write_file(p, content, strlen(content));
}

static void check_ref(const char *in, const char *reg, const char *repo, const char *tag,
                      const char *digest, const char *canonical)
{
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *r = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	int rc = lade_registry_ref_parse(in, &r, &err);
	ok(rc == 0, "parse %s", in);
	if (rc < 0) {
		printf("# %s\n", err->msg);
		return;
	}
	is_str(r->registry, reg, "%s: registry", in);
	is_str(r->repository, repo, "%s: repository", in);
	is_str(r->tag ? r->tag : "(null)", tag ? tag : "(null)", "%s: tag", in);
	is_str(r->digest ? r->digest : "(null)", digest ? digest : "(null)", "%s: digest", in);
	_cleanup_free_ char *c = lade_registry_ref_canonical(r);
	is_str(c, canonical, "%s: canonical", in);
}

static void check_ref_error(const char *in, const char *want)
{
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *r = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_registry_ref_parse(in, &r, &err) < 0 && r == NULL, "%s refused", in);
	is_str(err ? err->msg : "", want, "%s: message", in);
}

#define D "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_refs(void)
{
	check_ref("python", "docker.io", "library/python", "latest", NULL,
	          "docker.io/library/python:latest");
	check_ref("python:3.11-slim", "docker.io", "library/python", "3.11-slim", NULL,
	          "docker.io/library/python:3.11-slim");
	check_ref("user/app:1", "docker.io", "user/app", "1", NULL, "docker.io/user/app:1");
	check_ref("index.docker.io/library/python:3", "docker.io", "library/python", "3", NULL,
	          "docker.io/library/python:3");
	check_ref("127.0.0.1:5000/hello:1.0", "127.0.0.1:5000", "hello", "1.0", NULL,
	          "127.0.0.1:5000/hello:1.0");
	check_ref("localhost/a/b/c@" D, "localhost", "a/b/c", NULL, D, "localhost/a/b/c@" D);
	check_ref("ghcr.io/o/r:v1@" D, "ghcr.io", "o/r", "v1", D, "ghcr.io/o/r:v1@" D);
	check_ref("[::1]:5000/x", "[::1]:5000", "x", "latest", NULL, "[::1]:5000/x:latest");

	check_ref_error("", "invalid reference \"\": empty");
	check_ref_error("Python", "invalid reference Python: bad repository component \"Python\" "
	                          "(lowercase letters, digits and . _ - inside)");
	check_ref_error(
	        "a/b@sha256:abc",
	        "invalid reference a/b@sha256:abc: digest sha256:abc is not sha256:<64 hex>");
	check_ref_error("a/b:bad!tag", "invalid reference a/b:bad!tag: bad tag \"bad!tag\"");
	check_ref_error("reg.io/", "invalid reference reg.io/: no repository");
	check_ref_error("a//b", "invalid reference a//b: bad repository component \"\" "
	                        "(lowercase letters, digits and . _ - inside)");
}

static void test_loopback(void)
{
	ok(lade_registry_host_is_loopback("127.0.0.1:5000"), "127.0.0.1:5000 is loopback");
	ok(lade_registry_host_is_loopback("127.1.2.3"), "127.1.2.3 is loopback");
	ok(lade_registry_host_is_loopback("localhost:80"), "localhost is loopback");
	ok(lade_registry_host_is_loopback("[::1]:5000"), "[::1] is loopback");
	ok(!lade_registry_host_is_loopback("128.0.0.1"), "128.0.0.1 is not");
	ok(!lade_registry_host_is_loopback("127.0.0.1.evil.com"), "127.0.0.1.evil.com is not");
	ok(!lade_registry_host_is_loopback("localhost.evil.com:5000"), "localhost.evil.com is not");
	ok(!lade_registry_host_is_loopback("docker.io"), "docker.io is not");
}

static void test_challenge(void)
{
	struct lade_auth_challenge c;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_auth_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
	                             "service=\"registry.docker.io\",scope=\"repository:library/"
	                             "python:pull,push\"",
	                             &c, &err) == 0,
	   "Bearer challenge parsed");
	is_str(c.scheme, "Bearer", "scheme");
	is_str(c.realm, "https://auth.docker.io/token", "realm");
	is_str(c.service, "registry.docker.io", "service");
	is_str(c.scope, "repository:library/python:pull,push", "scope with a comma inside quotes");
	ok(c.error == NULL, "no error parameter");
	lade_auth_challenge_release(&c);

	ok(lade_auth_challenge_parse(
	           "Bearer scope=\"a b\", Realm=http://x/t , error=invalid_token, "
	           "foo=\"q\\\"x\"",
	           &c, &err) == 0,
	   "any order, spaces, token values, escapes, unknown keys");
	is_str(c.realm, "http://x/t", "unquoted realm, key case-insensitive");
	is_str(c.scope, "a b", "scope with a space");
	is_str(c.error, "invalid_token", "error");
	ok(c.service == NULL, "no service");
	lade_auth_challenge_release(&c);

	ok(lade_auth_challenge_parse("Basic realm=\"Registry Realm\"", &c, &err) == 0, "Basic");
	is_str(c.scheme, "Basic", "Basic scheme");
	is_str(c.realm, "Registry Realm", "Basic realm");
	lade_auth_challenge_release(&c);

	ok(lade_auth_challenge_parse("Bearer realm=\"unterminated", &c, &err) < 0, "unterminated");
	is_str(err ? err->msg : "",
	       "invalid WWW-Authenticate header: unterminated quoted value of realm",
	       "unterminated message");
	lade_error_free(err);
	err = NULL;
	ok(lade_auth_challenge_parse("Bearer realm", &c, &err) < 0, "key without value");
	is_str(err ? err->msg : "",
	       "invalid WWW-Authenticate header: expected key=value at \"realm\"",
	       "key without value message");
	lade_error_free(err);
	err = NULL;
	ok(lade_auth_challenge_parse("  ", &c, &err) < 0, "empty header");
	is_str(err ? err->msg : "", "invalid WWW-Authenticate header: no scheme", "empty message");
}

static void test_base64(void)
{
	struct lade_buf b = LADE_BUF_INIT;
	ok(lade_base64_decode("dXNlcjpwYXNz", &b) == 0, "decode user:pass");
	is_str(b.data, "user:pass", "user:pass");
	lade_buf_reset(&b);
	ok(lade_base64_decode("YTpiYw==", &b) == 0, "decode with padding");
	is_str(b.data, "a:bc", "a:bc");
	lade_buf_reset(&b);
	ok(lade_base64_decode("YTpiYw", &b) == 0, "decode without padding");
	is_str(b.data, "a:bc", "a:bc unpadded");
	lade_buf_reset(&b);
	ok(lade_base64_decode("YT*iYw==", &b) < 0, "bad character refused");
	lade_buf_reset(&b);
	ok(lade_base64_decode("YTpiY", &b) < 0, "truncated input refused");
	lade_buf_release(&b);
}

static void test_auth_files(void)
{
	write_tmp("config.json",
	          "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"aHViOnNlY3JldA==\"},"
	          "\"reg.example:5000\": {\"auth\": \"dXNlcjpwYTpzcw==\"},"
	          "\"reg.example:5000/team/app\": {\"auth\": \"dGVhbTp0b2s=\"},"
	          "\"bad.example\": {\"auth\": \"!!!\"},"
	          "\"nocolon.example\": {\"auth\": \"dXNlcg==\"}}}");
	_cleanup_free_ char *cfg = xasprintf("%s/config.json", tmpdir);
	char *u = NULL, *p = NULL;
	_cleanup_error_ struct lade_error *err = NULL;

	ok(lade_auth_file_lookup(cfg, "docker.io", "library/python", &u, &p, &err) == 1,
	   "docker.io found under https://index.docker.io/v1/");
	is_str(u ? u : "", "hub", "hub user");
	is_str(p ? p : "", "secret", "hub password");
	free(u), free(p), u = p = NULL;

	ok(lade_auth_file_lookup(cfg, "reg.example:5000", "other", &u, &p, &err) == 1, "host key");
	is_str(u ? u : "", "user", "host user");
	is_str(p ? p : "", "pa:ss", "password keeps its colon");
	free(u), free(p), u = p = NULL;

	ok(lade_auth_file_lookup(cfg, "reg.example:5000", "team/app/sub", &u, &p, &err) == 1,
	   "repository prefix key");
	is_str(u ? u : "", "team", "the longest repository prefix wins");
	free(u), free(p), u = p = NULL;

	ok(lade_auth_file_lookup(cfg, "unknown.example", "x", &u, &p, &err) == 0 && !u,
	   "unknown registry: not found");
	_cleanup_free_ char *missing = xasprintf("%s/nope.json", tmpdir);
	ok(lade_auth_file_lookup(missing, "docker.io", "x", &u, &p, &err) == 0,
	   "missing file: not found");

	ok(lade_auth_file_lookup(cfg, "bad.example", "x", &u, &p, &err) < 0, "bad base64");
	_cleanup_free_ char *want1 =
	        xasprintf("auth file %s: the \"auth\" of bad.example is not valid base64", cfg);
	is_str(err ? err->msg : "", want1, "bad base64 message");
	lade_error_free(err);
	err = NULL;
	ok(lade_auth_file_lookup(cfg, "nocolon.example", "x", &u, &p, &err) < 0, "no colon");
	_cleanup_free_ char *want2 = xasprintf(
	        "auth file %s: the \"auth\" of nocolon.example is not base64 of user:password",
	        cfg);
	is_str(err ? err->msg : "", want2, "no colon message");
	lade_error_free(err);
	err = NULL;

	write_tmp("broken.json", "{\"auths\": ");
	_cleanup_free_ char *broken = xasprintf("%s/broken.json", tmpdir);
	ok(lade_auth_file_lookup(broken, "x.io", "x", &u, &p, &err) < 0, "invalid JSON");
	ok(err && strncmp(err->msg, "auth file ", 10) == 0 && strstr(err->msg, "invalid JSON"),
	   "invalid JSON message names the file: %s", err ? err->msg : "");
	lade_error_free(err);
	err = NULL;

	/* The search order: REGISTRY_AUTH_FILE alone, else XDG_RUNTIME_DIR, else ~/.docker. */
	_cleanup_free_ char *xdg = xasprintf("%s/run", tmpdir);
	_cleanup_free_ char *home = xasprintf("%s/home", tmpdir);
	_cleanup_free_ char *d1 = xasprintf("%s/containers", xdg);
	_cleanup_free_ char *d2 = xasprintf("%s/.docker", home);
	lade_mkdir_p(d1, &err);
	lade_mkdir_p(d2, &err);
	write_tmp("run/containers/auth.json",
	          "{\"auths\": {\"r.io\": {\"auth\": \"eGRnOjE=\"}}}"); /* xdg:1 */
	write_tmp("home/.docker/config.json",
	          "{\"auths\": {\"r.io\": {\"auth\": \"ZG9jazoy\"}," /* dock:2 */
	          "\"s.io\": {\"auth\": \"ZG9jazoz\"}}}");           /* dock:3 */
	unsetenv("REGISTRY_AUTH_FILE");
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	setenv("HOME", home, 1);
	ok(lade_auth_lookup("r.io", "x", &u, &p, &err) == 1, "lookup r.io");
	is_str(u ? u : "", "xdg", "XDG_RUNTIME_DIR/containers/auth.json before ~/.docker");
	free(u), free(p), u = p = NULL;
	ok(lade_auth_lookup("s.io", "x", &u, &p, &err) == 1, "lookup s.io");
	is_str(p ? p : "", "3", "falls back to ~/.docker/config.json");
	free(u), free(p), u = p = NULL;
	setenv("REGISTRY_AUTH_FILE", cfg, 1);
	ok(lade_auth_lookup("s.io", "x", &u, &p, &err) == 0, "REGISTRY_AUTH_FILE is the only file");
	unsetenv("REGISTRY_AUTH_FILE");
}

static void test_retry(void)
{
	ok(lade_registry_should_retry(0, 1), "connection failure retried");
	ok(lade_registry_should_retry(429, 1), "429 retried");
	ok(lade_registry_should_retry(503, 3), "503 retried at try 3");
	ok(!lade_registry_should_retry(503, LADE_REGISTRY_TRIES), "bounded");
	ok(!lade_registry_should_retry(404, 1), "404 not retried");
	ok(!lade_registry_should_retry(401, 1), "401 not retried");
	ok(!lade_registry_should_retry(201, 1), "success not retried");
	ok(lade_registry_retry_delay_ms(1) == 250, "first delay 250 ms");
	ok(lade_registry_retry_delay_ms(2) == 500, "then doubled");
	ok(lade_registry_retry_delay_ms(3) == 1000, "doubled again");
	ok(lade_registry_retry_delay_ms(30) == 4000, "capped at 4 s");
}

static void test_offline(void)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *store = xasprintf("%s/store", tmpdir);
	struct lade_registry_options o = LADE_REGISTRY_OPTIONS_INIT;
	o.offline = true;
	ok(lade_registry_pull_ex("reg.example/a:1", NULL, store, false, &o, NULL, &err) < 0,
	   "unpinned refused");
	is_str(err ? err->msg : "",
	       "image reg.example/a:1 is not pinned: add @sha256:… (or allow unpinned base images)",
	       "unpinned message");
	lade_error_free(err);
	err = NULL;
	ok(lade_registry_pull_ex("reg.example/a@" D, NULL, store, false, &o, NULL, &err) < 0,
	   "offline with an empty store fails");
	_cleanup_free_ char *want = xasprintf("image reg.example/a@" D ": manifest " D
	                                      " is not in the store %s (offline)",
	                                      store);
	is_str(err ? err->msg : "", want, "offline message names the store");
	lade_error_free(err);
	err = NULL;

	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	_cleanup_free_ char *def = lade_store_default_dir(&err);
	is_str(def ? def : "", "/x/cache/lade", "default store under XDG_CACHE_HOME (the cache's)");
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "/h", 1);
	_cleanup_free_ char *def2 = lade_store_default_dir(&err);
	is_str(def2 ? def2 : "", "/h/.cache/lade", "default store under HOME (the cache's)");

	char digest[LADE_DIGEST_STRLEN];
	ok(lade_registry_push("/nonexistent/layout:1", "127.0.0.1:1/a:1", NULL, digest, NULL,
	                      &err) < 0,
	   "push of a missing layout fails before any network");
	ok(err && strncmp(err->msg,
	                  "image /nonexistent/layout:1: cannot open "
	                  "/nonexistent/layout/index.json",
	                  70) == 0,
	   "missing layout message: %s", err ? err->msg : "");
}

static void write_index(const char *dir, const char *entries)
{
	_cleanup_free_ char *p = xasprintf("%s/index.json", dir);
	FILE *f = fopen(p, "w");
	fprintf(f, "{\"schemaVersion\":2,\"manifests\":[%s]}", entries);
	fclose(f);
}

/* An index.json entry for an image manifest (tag NULL: no ref name). New string. */
static char *index_entry(const char *digest, size_t size, const char *tag)
{
	return xasprintf("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	                 "\"digest\":\"%s\",\"size\":%zu%s%s%s}",
	                 digest, size,
	                 tag ? ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" : "",
	                 tag ? tag : "", tag ? "\"}" : "");
}

static void check_push_error(const char *image, const char *ref, const char *creds,
                             const char *want, const char *what)
{
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_registry_options o = LADE_REGISTRY_OPTIONS_INIT;
	o.creds = creds;
	char digest[LADE_DIGEST_STRLEN];
	ok(lade_registry_push(image, ref, &o, digest, NULL, &err) < 0, "%s: push fails", what);
	is_str(err ? err->msg : "", want, "%s: message", what);
}

/* Every local problem is found before any connection (the registry 127.0.0.1:1 is never
 * contacted: a connection attempt would give another message). */
static void test_push_local_errors(void)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *dir = xasprintf("%s/layout", tmpdir);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", dir);
	lade_mkdir_p(blobs, &err);
	char cfg[LADE_DIGEST_STRLEN], man[LADE_DIGEST_STRLEN], bad[LADE_DIGEST_STRLEN];
	put_blob(dir, "{}", 2, cfg);
	_cleanup_free_ char *m = xasprintf(
	        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	        "\"digest\":\"%s\",\"size\":2},\"layers\":[]}",
	        cfg);
	put_blob(dir, m, strlen(m), man);
	_cleanup_free_ char *e1 = index_entry(man, strlen(m), "a");
	_cleanup_free_ char *e2 = index_entry(man, strlen(m), "b");
	_cleanup_free_ char *both = xasprintf("%s,%s", e1, e2);
	write_index(dir, both);

	_cleanup_free_ char *want = xasprintf(
	        "image %s: %s/index.json names 2 images; name one with DIR:TAG", dir, dir);
	check_push_error(dir, "127.0.0.1:1/x:1", NULL, want, "two images, no tag");

	_cleanup_free_ char *img = xasprintf("%s:a", dir);
	check_push_error(img, "127.0.0.1:1/x:1", "nocolon", "--creds must be USER:PASSWORD",
	                 "--creds without a colon");
	check_push_error(img, "127.0.0.1:1/X:1", NULL,
	                 "invalid reference 127.0.0.1:1/X:1: bad repository component \"X\" "
	                 "(lowercase letters, digits and . _ - inside)",
	                 "bad reference");

	/* a manifest whose bytes do not match its name: same size, then one byte more */
	_cleanup_free_ char *mp = xasprintf("%s/%s", blobs, lade_digest_hex(man));
	_cleanup_free_ char *m2 = xstrdup(m);
	m2[strlen(m2) - 2] = ' '; /* "[]}" → "[ }" */
	FILE *f = fopen(mp, "w");
	fputs(m2, f);
	fclose(f);
	char now[LADE_DIGEST_STRLEN];
	lade_sha256_buf(m2, strlen(m2), now);
	_cleanup_free_ char *want2 = xasprintf(
	        "image %s: blob %s: digest mismatch (expected %s, got %s)", img, man, man, now);
	check_push_error(img, "127.0.0.1:1/x:1", NULL, want2, "corrupted manifest blob");
	f = fopen(mp, "a");
	fputs(" ", f);
	fclose(f);
	_cleanup_free_ char *want2b =
	        xasprintf("image %s: blob %s: size %zu but the descriptor says %zu", img, man,
	                  strlen(m) + 1, strlen(m));
	check_push_error(img, "127.0.0.1:1/x:1", NULL, want2b, "manifest blob of another size");

	/* a manifest with a broken descriptor (the OCI reader's descriptor parser) */
	const char *bm = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
	                 "vnd.oci.image.config.v1+json\",\"digest\":\"sha256:nope\",\"size\":2},"
	                 "\"layers\":[]}";
	put_blob(dir, bm, strlen(bm), bad);
	_cleanup_free_ char *e3 = index_entry(bad, strlen(bm), "c");
	write_index(dir, e3);
	_cleanup_free_ char *img3 = xasprintf("%s:c", dir);
	_cleanup_free_ char *want3 = xasprintf(
	        "image %s: manifest %s config: digest 'sha256:nope' is not sha256:<64 hex>", img3,
	        bad);
	check_push_error(img3, "127.0.0.1:1/x:1", NULL, want3, "invalid descriptor");

	/* "layers" twice, an empty list first: other tools keep the first key and see no layers,
	 * so the manifest is refused as the OCI reader refuses it everywhere */
	_cleanup_free_ char *dup = xasprintf("{\"layers\":[],%s", m + 1);
	put_blob(dir, dup, strlen(dup), bad);
	_cleanup_free_ char *e5 = index_entry(bad, strlen(dup), "d");
	write_index(dir, e5);
	_cleanup_free_ char *img5 = xasprintf("%s:d", dir);
	_cleanup_error_ struct lade_error *e5err = NULL;
	char d5[LADE_DIGEST_STRLEN];
	ok(lade_registry_push(img5, "127.0.0.1:1/x:1", NULL, d5, NULL, &e5err) < 0,
	   "a manifest with a key twice: push fails");
	_cleanup_free_ char *want5 = xasprintf(
	        "image %s: blob %s: invalid JSON (line 1): duplicate object key", img5, bad);
	ok(e5err && strncmp(e5err->msg, want5, strlen(want5)) == 0,
	   "a manifest with a key twice: message %s", e5err ? e5err->msg : "");

	/* not JSON */
	put_blob(dir, "not json", 8, bad);
	_cleanup_free_ char *e4 = index_entry(bad, 8, NULL);
	write_index(dir, e4);
	_cleanup_error_ struct lade_error *e = NULL;
	char digest[LADE_DIGEST_STRLEN];
	ok(lade_registry_push(dir, "127.0.0.1:1/x:1", NULL, digest, NULL, &e) < 0,
	   "not JSON fails");
	_cleanup_free_ char *want4 =
	        xasprintf("image %s: blob %s: invalid JSON (line 1): ", dir, bad);
	ok(e && strncmp(e->msg, want4, strlen(want4)) == 0, "not JSON: message %s",
	   e ? e->msg : "");
}

/* reg_run_pool() runs min(jobs, n) workers at once: 100 items meet at a rendezvous that
 * completes only when all 100 run together (a fixed array of 64 threads never got there). */
struct rendezvous {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned arrived, active, peak, want;
};

static int meet(void *ctx, struct client *c, size_t i, struct lade_error **err)
{
	(void)i;
	(void)err;
	struct rendezvous *r = ctx;
	if (!c || !c->curl || strcmp(c->repo, "repo") != 0)
		return lade_error_set(err, 0, "worker without a cloned client");
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 180; /* ends as soon as all arrive; valgrind on a busy machine is slow */
	pthread_mutex_lock(&r->lock);
	r->arrived++;
	if (++r->active > r->peak)
		r->peak = r->active;
	pthread_cond_broadcast(&r->cond);
	while (r->arrived < r->want &&
	       pthread_cond_timedwait(&r->cond, &r->lock, &deadline) != ETIMEDOUT)
		;
	r->active--;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

struct failing {
	unsigned ran;
	int failed; /* item 3 has been called */
};

/* Item 3 fails. Items after it first wait until it has been called, then 100 ms more, so that
 * the worker running item 3 has recorded its failure before they return and their workers
 * claim again: without the wait, under load (ASan, a busy CI machine), seven workers can run
 * through all 50 trivial items before that worker gets the CPU back. */
static int fail_at_3(void *ctx, struct client *c, size_t i, struct lade_error **err)
{
	(void)c;
	struct failing *f = ctx;
	__atomic_fetch_add(&f->ran, 1, __ATOMIC_SEQ_CST);
	if (i == 3) {
		__atomic_store_n(&f->failed, 1, __ATOMIC_SEQ_CST);
		return lade_error_set(err, 0, "item %zu failed", i);
	}
	if (i > 3) {
		for (int k = 0; k < 10000 && !__atomic_load_n(&f->failed, __ATOMIC_SEQ_CST); k++)
			usleep(1000);
		usleep(100000);
	}
	return 0;
}

static void test_pool(void)
{
	const struct lade_registry_options o = LADE_REGISTRY_OPTIONS_INIT;
	struct client proto = {
	        .registry = "127.0.0.1:1", .base = "http://127.0.0.1:1", .repo = "repo", .o = &o};
	proto.curl = curl_easy_init(); /* libcurl's global init, before any thread */
	struct rendezvous r = {.want = 100};
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	_cleanup_error_ struct lade_error *e = NULL;
	int rc = reg_run_pool(&proto, 100, 100, meet, &r, &e);
	ok(rc == 0 && r.arrived == 100, "pool of 100: every item ran (%s)", e ? e->msg : "");
	ok(r.peak == 100, "pool of 100: 100 workers at once (peak %u)", r.peak);
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.lock);

	for (unsigned jobs = 1; jobs <= 8; jobs += 7) {
		struct failing f = {0};
		_cleanup_error_ struct lade_error *e2 = NULL;
		rc = reg_run_pool(&proto, 50, jobs, fail_at_3, &f, &e2);
		unsigned ran = f.ran;
		ok(rc < 0 && e2 && strcmp(e2->msg, "item 3 failed") == 0,
		   "-j %u: the failure is reported (%s)", jobs, e2 ? e2->msg : "");
		/* -j 1: items 0-3; -j 8: the first eight and at most one more per worker */
		ok(jobs == 1 ? ran == 4 : ran <= 16,
		   "-j %u: no new items after the failure (%u ran)", jobs, ran);
	}
	curl_easy_cleanup(proto.curl);
}

/* Indexes nested deeper than LADE_OCI_INDEX_DEPTH are refused before any connection, as for
 * a base image; at that depth the push gets as far as connecting. */
static void test_push_depth(void)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *dir = xasprintf("%s/deep", tmpdir);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", dir);
	lade_mkdir_p(blobs, &err);
	char cfg[LADE_DIGEST_STRLEN], d[LADE_DIGEST_STRLEN];
	put_blob(dir, "{}", 2, cfg);
	_cleanup_free_ char *doc = xasprintf(
	        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	        "\"digest\":\"%s\",\"size\":2},\"layers\":[]}",
	        cfg);
	const char *mt = "application/vnd.oci.image.manifest.v1+json";
	for (int nesting = 1; nesting <= LADE_OCI_INDEX_DEPTH + 1; nesting++) {
		/* one more index around what there is: nesting indexes above the manifest */
		put_blob(dir, doc, strlen(doc), d);
		_cleanup_free_ char *idx = xasprintf(
		        "{\"schemaVersion\":2,\"mediaType\":\"application/"
		        "vnd.oci.image.index.v1+json\","
		        "\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
		        mt, d, strlen(doc));
		free(doc);
		doc = steal_pointer(&idx);
		mt = "application/vnd.oci.image.index.v1+json";
		put_blob(dir, doc, strlen(doc), d);
		_cleanup_free_ char *entry =
		        xasprintf("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}", mt, d,
		                  strlen(doc));
		write_index(dir, entry);
		if (nesting < LADE_OCI_INDEX_DEPTH)
			continue; /* each connection attempt costs the retry delays */
		_cleanup_error_ struct lade_error *e = NULL;
		char digest[LADE_DIGEST_STRLEN];
		ok(lade_registry_push(dir, "127.0.0.1:1/x:1", NULL, digest, NULL, &e) < 0,
		   "%d nested indexes: push fails (nothing listens on 127.0.0.1:1)", nesting);
		if (nesting <= LADE_OCI_INDEX_DEPTH)
			ok(e && strstr(e->msg, "registry 127.0.0.1:1: cannot connect"),
			   "%d nested indexes: read, then the connection fails: %s", nesting,
			   e ? e->msg : "");
		else
			ok(e && strstr(e->msg, "image indexes nested more than 4 deep"),
			   "%d nested indexes: refused: %s", nesting, e ? e->msg : "");
	}
}

int main(void)
{
	tmpdir = make_tmpdir("test-registry");
	test_refs();
	test_loopback();
	test_challenge();
	test_base64();
	test_auth_files();
	test_retry();
	test_offline();
	test_push_local_errors();
	test_push_depth();
	test_pool();
	_cleanup_error_ struct lade_error *err = NULL;
	lade_remove_tree(tmpdir, &err);
	free(tmpdir);
	return tap_done();
}
