/* lade — the OCI formats, read side (see include/lade/oci.h). Everything read from an image is
 * hostile until verified: digests are validated before they become paths, every blob is
 * checked against its descriptor before it is parsed, and a JSON key given twice is refused. */
#include <inttypes.h>
#include <string.h>

#include "lade/oci.h"

#define QUOTE_MAX 200

char *lade_oci_quote(const char *s)
{
	struct lade_buf b = LADE_BUF_INIT;
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
		if (n == QUOTE_MAX) {
			lade_buf_adds(&b, "...");
			break;
		}
		if (*p < 0x20 || *p >= 0x7f || *p == '\'' || *p == '\\')
			lade_buf_addf(&b, "\\x%02x", *p);
		else
			lade_buf_addch(&b, (char)*p);
	}
	lade_buf_addch(&b, '\0');
	b.len--;
	return lade_buf_detach(&b, NULL);
}

/* ---- descriptors ---- */

static bool strings_only(const json_t *j)
{
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v)
		{
			if (!json_is_string(v))
				return false;
		}
		return true;
	}
	size_t i;
	json_t *v;
	json_array_foreach(j, i, v)
	{
		if (!json_is_string(v))
			return false;
	}
	return true;
}

int lade_oci_descriptor_parse(const json_t *j, const char *what, struct lade_oci_descriptor *out,
                              struct lade_error **err)
{
	*out = (struct lade_oci_descriptor){0};
	if (!json_is_object(j))
		return lade_error_set(err, 0, "%s is not a JSON object", what);
	const json_t *mt = json_object_get(j, "mediaType");
	if (!json_is_string(mt) || json_string_value(mt)[0] == '\0')
		return lade_error_set(err, 0, "%s: mediaType is missing or not a string", what);
	/* Validated before it is ever used in a path: "sha256:../../etc" must not escape. */
	const json_t *dg = json_object_get(j, "digest");
	if (!lade_digest_valid(json_string_value(dg))) {
		_cleanup_free_ char *q =
		        lade_oci_quote(json_is_string(dg) ? json_string_value(dg) : "(none)");
		return lade_error_set(err, 0, "%s: digest '%s' is not sha256:<64 hex>", what, q);
	}
	const json_t *sz = json_object_get(j, "size");
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return lade_error_set(err, 0, "%s: size is missing or not a non-negative integer",
		                      what);
	const json_t *pl = json_object_get(j, "platform");
	if (pl && !json_is_object(pl))
		return lade_error_set(err, 0, "%s: platform is not an object", what);
	const json_t *an = json_object_get(j, "annotations");
	if (an && !(json_is_object(an) && strings_only(an)))
		return lade_error_set(err, 0, "%s: annotations is not an object of strings", what);
	const json_t *urls = json_object_get(j, "urls");
	if (urls && !(json_is_array(urls) && strings_only(urls)))
		return lade_error_set(err, 0, "%s: urls is not a list of strings", what);
	const json_t *at = json_object_get(j, "artifactType");
	if (at && !json_is_string(at))
		return lade_error_set(err, 0, "%s: artifactType is not a string", what);
	out->media_type = json_string_value(mt);
	out->digest = json_string_value(dg);
	out->size = (uint64_t)json_integer_value(sz);
	out->platform = pl;
	out->annotations = an;
	out->urls = urls;
	out->artifact_type = json_string_value(at);
	return 0;
}

const char *lade_oci_descriptor_ref_name(const struct lade_oci_descriptor *d)
{
	return json_string_value(json_object_get(d->annotations, LADE_REF_NAME));
}

char *lade_oci_blob_path(const char *dir, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", dir, lade_digest_hex(digest));
}

bool lade_oci_is_index_type(const char *mt)
{
	return mt && (strcmp(mt, LADE_MT_OCI_INDEX) == 0 || strcmp(mt, LADE_MT_DOCKER_LIST) == 0);
}

bool lade_oci_is_manifest_type(const char *mt)
{
	return mt &&
	       (strcmp(mt, LADE_MT_OCI_MANIFEST) == 0 || strcmp(mt, LADE_MT_DOCKER_MANIFEST) == 0);
}

bool lade_oci_is_config_type(const char *mt)
{
	return mt &&
	       (strcmp(mt, LADE_MT_OCI_CONFIG) == 0 || strcmp(mt, LADE_MT_DOCKER_CONFIG) == 0);
}

/* ---- JSON documents ---- */

int lade_oci_json_parse_value(const void *data, size_t len, const char *what, json_t **out,
                              struct lade_error **err)
{
	if (len > LADE_OCI_JSON_MAX)
		return lade_error_set(err, 0, "%s: larger than %u MiB", what,
		                      LADE_OCI_JSON_MAX >> 20);
	json_error_t jerr;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return lade_error_set(err, 0, "%s: invalid JSON (line %d): %s", what, jerr.line,
		                      jerr.text);
	*out = j;
	return 0;
}

int lade_oci_json_parse(const void *data, size_t len, const char *what, json_t **out,
                        struct lade_error **err)
{
	json_t *j;
	if (lade_oci_json_parse_value(data, len, what, &j, err) < 0)
		return -1;
	if (!json_is_object(j)) {
		json_decref(j);
		return lade_error_set(err, 0, "%s: not a JSON object", what);
	}
	*out = j;
	return 0;
}

int lade_oci_json_file(const char *path, const char *what, json_t **out, struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, LADE_OCI_JSON_MAX, &b, err) < 0)
		return -1;
	return lade_oci_json_parse(b.data, b.len, what ? what : path, out, err);
}

int lade_oci_blob_check(const void *data, size_t len, const char *digest, uint64_t size,
                        struct lade_error **err)
{
	if (len != size)
		return lade_error_set(err, 0, "blob %s: size %zu but the descriptor says %" PRIu64,
		                      digest, len, size);
	char got[LADE_DIGEST_STRLEN];
	lade_sha256_buf(data, len, got);
	if (strcmp(got, digest) != 0)
		return lade_error_set(err, 0, "blob %s: digest mismatch (expected %s, got %s)",
		                      digest, digest, got);
	return 0;
}

int lade_oci_blob_json_mem(const void *data, size_t len, const char *digest, uint64_t size,
                           json_t **out, struct lade_error **err)
{
	if (size > LADE_OCI_JSON_MAX)
		return lade_error_set(err, 0,
		                      "blob %s: %" PRIu64 " bytes is too large for a JSON document "
		                      "(at most %u MiB)",
		                      digest, size, LADE_OCI_JSON_MAX >> 20);
	if (lade_oci_blob_check(data, len, digest, size, err) < 0)
		return -1;
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	return lade_oci_json_parse(data, len, what, out, err);
}

int lade_oci_blob_json(const char *dir, const struct lade_oci_descriptor *d, json_t **out,
                       struct lade_error **err)
{
	if (d->size > LADE_OCI_JSON_MAX)
		return lade_oci_blob_json_mem(NULL, 0, d->digest, d->size, out, err);
	_cleanup_free_ char *path = lade_oci_blob_path(dir, d->digest);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, LADE_OCI_JSON_MAX, &b, err) < 0)
		return lade_error_prefix(err, "blob %s", d->digest);
	return lade_oci_blob_json_mem(b.data, b.len, d->digest, d->size, out, err);
}

int lade_oci_doc_media_type(const struct lade_oci_descriptor *d, const json_t *doc,
                            const char **out, struct lade_error **err)
{
	const json_t *inner = json_object_get(doc, "mediaType");
	if (inner && !json_is_string(inner))
		return lade_error_set(err, 0, "blob %s: mediaType is not a string", d->digest);
	if (inner && strcmp(json_string_value(inner), d->media_type) != 0) {
		_cleanup_free_ char *q = lade_oci_quote(json_string_value(inner));
		_cleanup_free_ char *qd = lade_oci_quote(d->media_type);
		return lade_error_set(err, 0,
		                      "blob %s has media type '%s' but its descriptor says '%s'",
		                      d->digest, q, qd);
	}
	*out = d->media_type;
	return 0;
}

/* ---- platforms ---- */

int lade_oci_platform_parse(const char *s, struct lade_oci_platform *p, struct lade_error **err)
{
	*p = (struct lade_oci_platform){0};
	const char *s1 = strchr(s, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (s1 == NULL || s1 == s || s1[1] == '\0' || s1[1] == '/' ||
	    (s2 && (s2[1] == '\0' || strchr(s2 + 1, '/'))))
		return lade_error_set(err, 0,
		                      "platform '%s': expected OS/ARCHITECTURE or "
		                      "OS/ARCHITECTURE/VARIANT",
		                      s);
	p->os = xstrndup(s, (size_t)(s1 - s));
	p->arch = s2 ? xstrndup(s1 + 1, (size_t)(s2 - s1 - 1)) : xstrdup(s1 + 1);
	p->variant = s2 ? xstrdup(s2 + 1) : NULL;
	return 0;
}

void lade_oci_platform_release(struct lade_oci_platform *p)
{
	free(p->os);
	free(p->arch);
	free(p->variant);
	*p = (struct lade_oci_platform){0};
}

const char *lade_oci_default_variant(const char *arch)
{
	if (strcmp(arch, "arm64") == 0)
		return "v8";
	if (strcmp(arch, "arm") == 0)
		return "v7";
	return NULL;
}

bool lade_oci_platform_match(const struct lade_oci_platform *want, const json_t *p)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *v = json_string_value(json_object_get(p, "variant"));
	if (os == NULL || arch == NULL || strcmp(os, want->os) != 0 ||
	    strcmp(arch, want->arch) != 0)
		return false;
	if (v && v[0] == '\0')
		v = NULL;
	const char *dv = lade_oci_default_variant(arch);
	if (want->variant == NULL)
		return dv == NULL || v == NULL || strcmp(v, dv) == 0;
	const char *have = v ? v : dv;
	return have && strcmp(have, want->variant) == 0;
}

char *lade_oci_platform_format(const json_t *p)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *v = json_string_value(json_object_get(p, "variant"));
	if (os == NULL || arch == NULL)
		return NULL;
	return v && v[0] ? xasprintf("%s/%s/%s", os, arch, v) : xasprintf("%s/%s", os, arch);
}

/* ---- tags ---- */

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

bool lade_oci_tag_valid(const char *t)
{
	size_t n = t ? strlen(t) : 0;
	if (n == 0 || n > 128 || !word_char(t[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(word_char(t[i]) || t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

/* "busybox", "library/busybox:latest" and "docker.io/library/busybox:latest" are the same
 * image: Docker writes short names, skopeo fully qualified ones. */
static char *normalize_repo_tag(const char *s)
{
	size_t skip = 0;
	if (strncmp(s, "docker.io/", 10) == 0)
		skip = 10;
	if (strncmp(s + skip, "library/", 8) == 0) {
		bool nested = false;
		for (const char *p = s + skip + 8; *p && !nested; p++)
			nested = *p == '/';
		if (!nested)
			skip += 8;
	}
	const char *name = s + skip;
	size_t last = strlen(name);
	while (last > 0 && name[last - 1] != '/')
		last--;
	if (strchr(name + last, ':') == NULL && strchr(name, '@') == NULL)
		return xasprintf("%s:latest", name);
	return xstrdup(name);
}

bool lade_oci_repo_tag_matches(const char *repo_tag, const char *want)
{
	_cleanup_free_ char *a = normalize_repo_tag(repo_tag);
	_cleanup_free_ char *b = normalize_repo_tag(want);
	return strcmp(a, b) == 0;
}

/* ---- resolving a ref ---- */

int lade_oci_layout_check(const char *dir, struct lade_error **err)
{
	_cleanup_free_ char *path = lade_path_join(dir, "oci-layout");
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	if (lade_read_file(path, 1 << 16, &b, err) < 0)
		return lade_error_prefix(err, "not an OCI image layout");
	_cleanup_(json_decrefp) json_t *layout = NULL;
	if (lade_oci_json_parse(b.data, b.len, path, &layout, err) < 0)
		return -1;
	const char *version = json_string_value(json_object_get(layout, "imageLayoutVersion"));
	if (version == NULL || strcmp(version, "1.0.0") != 0) {
		_cleanup_free_ char *q = lade_oci_quote(version ? version : "(none)");
		return lade_error_set(err, 0, "%s: unsupported imageLayoutVersion '%s'", path, q);
	}
	return 0;
}

int lade_oci_index_select_tag(const json_t *index, const char *what, const char *tag,
                              struct lade_oci_descriptor *out, struct lade_error **err)
{
	json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0, "%s: manifests is not a list", what);
	_cleanup_buf_ struct lade_buf tags = LADE_BUF_INIT;
	size_t i, found = SIZE_MAX;
	json_t *m;
	json_array_foreach(ms, i, m)
	{
		const char *ref = json_string_value(
		        json_object_get(json_object_get(m, "annotations"), LADE_REF_NAME));
		if (ref) {
			if (tags.len)
				lade_buf_adds(&tags, ", ");
			_cleanup_free_ char *q = lade_oci_quote(ref);
			lade_buf_adds(&tags, q);
		}
		if (tag && ref && strcmp(ref, tag) == 0 && found == SIZE_MAX)
			found = i;
	}
	if (tag == NULL) {
		if (json_array_size(ms) != 1)
			return lade_error_set(err, 0,
			                      "%s lists %zu manifests, name one as DIR:TAG (tags "
			                      "found: %s)",
			                      what, json_array_size(ms),
			                      tags.len ? tags.data : "none");
		found = 0;
	} else if (found == SIZE_MAX) {
		return lade_error_set(err, 0, "no manifest tagged '%s' in %s (tags found: %s)", tag,
		                      what, tags.len ? tags.data : "none");
	}
	_cleanup_free_ char *dwhat = xasprintf("%s manifests[%zu]", what, found);
	return lade_oci_descriptor_parse(json_array_get(ms, found), dwhat, out, err);
}

int lade_oci_index_select_platform(const json_t *index, const char *what,
                                   const struct lade_oci_platform *want,
                                   struct lade_oci_descriptor *out, struct lade_error **err)
{
	json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0, "%s: manifests is not a list", what);
	_cleanup_buf_ struct lade_buf avail = LADE_BUF_INIT;
	size_t i;
	json_t *m;
	json_array_foreach(ms, i, m)
	{
		const json_t *p = json_object_get(m, "platform");
		if (!json_is_object(p))
			continue;
		if (lade_oci_platform_match(want, p)) {
			_cleanup_free_ char *dwhat = xasprintf("%s manifests[%zu]", what, i);
			return lade_oci_descriptor_parse(m, dwhat, out, err);
		}
		_cleanup_free_ char *s = lade_oci_platform_format(p);
		_cleanup_free_ char *q = lade_oci_quote(s ? s : "?/?");
		if (avail.len)
			lade_buf_adds(&avail, ", ");
		lade_buf_adds(&avail, q);
	}
	return lade_error_set(err, 0, "no manifest for platform %s/%s%s%s (available: %s)",
	                      want->os, want->arch, want->variant ? "/" : "",
	                      want->variant ? want->variant : "", avail.len ? avail.data : "none");
}

void lade_oci_resolved_release(struct lade_oci_resolved *r)
{
	json_decref(r->manifest);
	r->manifest = NULL;
}

static int resolve(const char *dir, const struct lade_oci_descriptor *d,
                   const struct lade_oci_platform *want, int depth, struct lade_oci_resolved *out,
                   struct lade_error **err)
{
	_cleanup_(json_decrefp) json_t *doc = NULL;
	if (lade_oci_blob_json(dir, d, &doc, err) < 0)
		return -1;
	const char *mt;
	if (lade_oci_doc_media_type(d, doc, &mt, err) < 0)
		return -1;
	if (lade_oci_is_manifest_type(mt)) {
		json_t *sv = json_object_get(doc, "schemaVersion");
		if (!json_is_integer(sv) || json_integer_value(sv) != 2)
			return lade_error_set(err, 0, "manifest %s: schemaVersion is not 2",
			                      d->digest);
		out->manifest = steal_pointer(&doc);
		snprintf(out->digest, sizeof(out->digest), "%s", d->digest);
		out->size = d->size;
		return 0;
	}
	if (!lade_oci_is_index_type(mt)) {
		_cleanup_free_ char *q = lade_oci_quote(mt);
		return lade_error_set(err, 0, "blob %s: unsupported media type '%s'", d->digest, q);
	}
	if (depth >= LADE_OCI_INDEX_DEPTH)
		return lade_error_set(err, 0, "image indexes nested more than %d deep",
		                      LADE_OCI_INDEX_DEPTH);
	_cleanup_free_ char *what = xasprintf("index %s", d->digest);
	struct lade_oci_descriptor sub;
	if (lade_oci_index_select_platform(doc, what, want, &sub, err) < 0)
		return -1;
	return resolve(dir, &sub, want, depth + 1, out, err);
}

int lade_oci_resolve(const char *dir, const struct lade_oci_descriptor *d,
                     const struct lade_oci_platform *want, struct lade_oci_resolved *out,
                     struct lade_error **err)
{
	*out = (struct lade_oci_resolved){0};
	return resolve(dir, d, want, 0, out, err);
}

int lade_oci_layout_resolve(const char *dir, const char *tag, const struct lade_oci_platform *want,
                            struct lade_oci_resolved *out, struct lade_error **err)
{
	*out = (struct lade_oci_resolved){0};
	if (lade_oci_layout_check(dir, err) < 0)
		return -1;
	_cleanup_free_ char *index_path = lade_path_join(dir, "index.json");
	_cleanup_(json_decrefp) json_t *index = NULL;
	if (lade_oci_json_file(index_path, NULL, &index, err) < 0)
		return -1;
	struct lade_oci_descriptor top;
	if (lade_oci_index_select_tag(index, index_path, tag, &top, err) < 0)
		return -1;
	return lade_oci_resolve(dir, &top, want, out, err);
}
