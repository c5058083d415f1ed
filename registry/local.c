/* lade — the registry client's reading of OCI documents: a layout's image by
 * "[oci:]DIR[:TAG]" (push), JSON blobs of a layout or the store read with their exact bytes
 * and verified by the OCI reader's rules (manifest/oci.c), and the descriptors a manifest or
 * index names. */
#include <string.h>
#include <sys/stat.h>

#include "registry-private.h"

int reg_blob_json(const char *dir, const char *digest, uint64_t size, struct lade_buf *bytes,
                  json_t **doc, struct lade_error **err)
{
	if (!lade_digest_valid(digest)) {
		_cleanup_free_ char *q = lade_oci_quote(digest);
		return lade_error_set(err, 0, "digest '%s' is not sha256:<64 hex>", q);
	}
	if (size != REG_SIZE_ANY && size > LADE_OCI_JSON_MAX) /* refused before it is read */
		return lade_oci_blob_json_mem(NULL, 0, digest, size, doc, err);
	_cleanup_free_ char *p = lade_oci_blob_path(dir, digest);
	if (lade_read_file(p, LADE_OCI_JSON_MAX, bytes, err) < 0)
		return lade_error_prefix(err, "blob %s", digest);
	return lade_oci_blob_json_mem(bytes->data, bytes->len, digest,
	                              size == REG_SIZE_ANY ? bytes->len : size, doc, err);
}

int reg_doc_descriptors(const json_t *m, const char *mt, const char *digest,
                        struct lade_oci_descriptor **out, size_t *n, struct lade_error **err)
{
	bool index = lade_oci_is_index_type(mt);
	if (!index && !lade_oci_is_manifest_type(mt)) {
		_cleanup_free_ char *q = lade_oci_quote(mt);
		return lade_error_set(err, 0, "blob %s: unsupported media type '%s'", digest, q);
	}
	const char *kind = index ? "index" : "manifest", *key = index ? "manifests" : "layers";
	json_t *list = json_object_get(m, key);
	if (!json_is_array(list))
		return lade_error_set(err, 0, "%s %s: %s is not a list", kind, digest, key);
	size_t first = index ? 0 : 1, i;
	_cleanup_free_ struct lade_oci_descriptor *d =
	        xcalloc(first + json_array_size(list), sizeof(*d));
	if (!index) {
		_cleanup_free_ char *what = xasprintf("manifest %s config", digest);
		if (lade_oci_descriptor_parse(json_object_get(m, "config"), what, &d[0], err) < 0)
			return -1;
	}
	json_t *j;
	json_array_foreach(list, i, j)
	{
		_cleanup_free_ char *what = xasprintf("%s %s %s[%zu]", kind, digest, key, i);
		if (lade_oci_descriptor_parse(j, what, &d[first + i], err) < 0)
			return -1;
	}
	*n = first + json_array_size(list);
	*out = steal_pointer(&d);
	return 0;
}

/* A layout entry without a tag that is a referrer (has a subject) is not an image to push. */
static bool is_referrer(const char *dir, const struct lade_oci_descriptor *d)
{
	if (d->artifact_type)
		return true;
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	json_auto_t *m = NULL;
	_cleanup_error_ struct lade_error *ignored = NULL;
	if (reg_blob_json(dir, d->digest, d->size, &b, &m, &ignored) < 0)
		return false;
	return json_object_get(m, "subject") != NULL;
}

/* No tag: the one image in the layout's index, where the SBOMs lade attached sit next to it
 * untagged. */
static int only_image(const json_t *idx, const char *ip, const char *dir,
                      struct lade_oci_descriptor *top, struct lade_error **err)
{
	json_t *ms = json_object_get(idx, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0, "%s: manifests is not a list", ip);
	size_t i, n = 0;
	json_t *j;
	json_array_foreach(ms, i, j)
	{
		_cleanup_free_ char *what = xasprintf("%s manifests[%zu]", ip, i);
		struct lade_oci_descriptor d;
		if (lade_oci_descriptor_parse(j, what, &d, err) < 0)
			return -1;
		if (!lade_oci_descriptor_ref_name(&d) && is_referrer(dir, &d))
			continue;
		*top = d;
		n++;
	}
	if (n == 0)
		return lade_error_set(err, 0, "no image in %s", ip);
	if (n > 1)
		return lade_error_set(err, 0, "%s names %zu images; name one with DIR:TAG", ip, n);
	return 0;
}

/* DIR:TAG, where TAG may itself hold ':' and '/' (pulled images are named by their full
 * reference, "127.0.0.1:5000/repo:1.0"): the first prefix that is a layout is DIR. s is cut
 * there; the tag (new string) or NULL. */
static char *split_tag(char *dir)
{
	_cleanup_free_ char *whole = xasprintf("%s/index.json", dir);
	struct stat st;
	if (stat(whole, &st) == 0)
		return NULL;
	for (char *colon = strchr(dir, ':'); colon; colon = strchr(colon + 1, ':')) {
		*colon = '\0';
		_cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
		if (stat(ip, &st) == 0)
			return xstrdup(colon + 1);
		*colon = ':';
	}
	/* nothing there: report DIR as it would be read without the tag */
	char *last = strrchr(dir, ':');
	if (last && !strchr(last, '/')) {
		*last = '\0';
		return xstrdup(last + 1);
	}
	return NULL;
}

int reg_layout_resolve(const char *image, char **dir_out, json_t **index_out,
                       struct lade_oci_descriptor *top, struct lade_error **err)
{
	_cleanup_free_ char *dir = xstrdup(strncmp(image, "oci:", 4) == 0 ? image + 4 : image);
	_cleanup_free_ char *tag = split_tag(dir);
	_cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
	json_auto_t *idx = NULL;
	if (lade_oci_json_file(ip, NULL, &idx, err) < 0)
		return lade_error_prefix(err, "image %s", image);
	if (tag) { /* as a base image's tag is found */
		if (lade_oci_index_select_tag(idx, ip, tag, top, err) < 0)
			return lade_error_prefix(err, "image %s", image);
	} else if (only_image(idx, ip, dir, top, err) < 0) {
		return lade_error_prefix(err, "image %s", image);
	}
	*index_out = steal_pointer(&idx);
	*dir_out = steal_pointer(&dir);
	return 0;
}
