/* lade — registry references ("[REGISTRY/]REPO[:TAG][@sha256:HEX]", as docker writes them) and
 * the loopback test that decides where plain http is allowed. */
#include <stdio.h>
#include <string.h>

#include "registry-private.h"

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
		if (!lade_oci_tag_valid(colon + 1))
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
