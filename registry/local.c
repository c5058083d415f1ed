/* lade — the local side of a push: a layout's image by "[oci:]DIR[:TAG]", its JSON blobs read
 * and verified against their digests, and descriptor fields. */
#include <string.h>
#include <sys/stat.h>

#include "registry-private.h"

int reg_read_blob(const char *dir, const char *digest, struct lade_buf *out,
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

/* A layout entry without a tag that is a referrer (has a subject) is not an image to push. */
static bool is_referrer(const char *dir, const json_t *desc)
{
	if (json_object_get(desc, "artifactType"))
		return true;
	const char *dg = reg_json_str(desc, "digest");
	if (!dg)
		return false;
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *ignored = NULL;
	if (reg_read_blob(dir, dg, &b, &ignored) < 0)
		return false;
	json_auto_t *m = json_loadb(b.data, b.len, 0, NULL);
	return json_object_get(m, "subject") != NULL;
}

int reg_layout_resolve(const char *image, char **dir_out, json_t **desc_out,
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

const char *reg_json_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int reg_desc_fields(const json_t *d, const char **mt, const char **digest, uint64_t *size,
                    const char *where, struct lade_error **err)
{
	*mt = reg_json_str(d, "mediaType");
	*digest = reg_json_str(d, "digest");
	json_t *sz = json_object_get(d, "size");
	if (!*digest || !lade_digest_valid(*digest) || !json_is_integer(sz) ||
	    json_integer_value(sz) < 0)
		return lade_error_set(err, 0, "%s: invalid descriptor", where);
	*size = (uint64_t)json_integer_value(sz);
	return 0;
}
