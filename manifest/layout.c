/* lade — the image manifest and the layout's index.json (see include/lade/image.h). */
#include <errno.h>
#include <string.h>

#include "lade/image.h"
#include "lade/util.h"

static json_t *descriptor(const char *media_type, const char *digest, uint64_t size)
{
	json_t *d = json_object();
	json_object_set_new(d, "mediaType", json_string(media_type));
	json_object_set_new(d, "digest", json_string(digest));
	json_object_set_new(d, "size", json_integer((json_int_t)size));
	return d;
}

static bool has_members(const json_t *o)
{
	return o && json_is_object(o) && json_object_size(o) > 0;
}

int lade_image_write(struct lade_store *store, const json_t *config,
                     const struct lade_manifest_layer *layers, size_t n_layers,
                     const json_t *annotations, char manifest_digest[LADE_DIGEST_STRLEN],
                     uint64_t *manifest_size, struct lade_error **err)
{
	if (!json_is_object(config))
		return lade_error_set(err, 0, "image config is not a JSON object");
	if (annotations && !json_is_object(annotations))
		return lade_error_set(err, 0, "manifest annotations are not a JSON object");

	_cleanup_(json_decrefp) json_t *m = json_object();
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(LADE_MT_OCI_MANIFEST));
	json_t *jl = json_array();
	json_object_set_new(m, "layers", jl);
	for (size_t i = 0; i < n_layers; i++) {
		const struct lade_manifest_layer *l = &layers[i];
		if (!lade_digest_valid(l->digest))
			return lade_error_set(err, 0, "manifest layer %zu: invalid digest '%s'",
			                      i + 1, l->digest ? l->digest : "(null)");
		if (l->media_type == NULL || l->media_type[0] == '\0')
			return lade_error_set(err, 0, "manifest layer %s: no media type",
			                      l->digest);
		if (!l->remote && !lade_store_has(store, l->digest))
			return lade_error_set(err, 0, "manifest layer %s is not in the store %s",
			                      l->digest, lade_store_dir(store));
		if (l->annotations && !json_is_object(l->annotations))
			return lade_error_set(err, 0,
			                      "manifest layer %s: annotations are not a JSON "
			                      "object",
			                      l->digest);
		json_t *d = descriptor(l->media_type, l->digest, l->size);
		if (has_members(l->annotations))
			json_object_set(d, "annotations", l->annotations);
		json_array_append_new(jl, d);
	}
	if (has_members(annotations))
		json_object_set_new(m, "annotations", json_deep_copy(annotations));

	_cleanup_free_ char *config_text = lade_json_dump(config);
	char config_digest[LADE_DIGEST_STRLEN];
	if (lade_store_put(store, config_text, strlen(config_text), config_digest, err) < 0)
		return lade_error_prefix(err, "cannot store the image config");
	json_object_set_new(m, "config",
	                    descriptor(LADE_MT_OCI_CONFIG, config_digest, strlen(config_text)));

	_cleanup_free_ char *text = lade_json_dump(m);
	if (lade_store_put(store, text, strlen(text), manifest_digest, err) < 0)
		return lade_error_prefix(err, "cannot store the image manifest");
	if (manifest_size)
		*manifest_size = strlen(text);
	return 0;
}

static const char *ref_name_of(const json_t *desc)
{
	return json_string_value(
	        json_object_get(json_object_get(desc, "annotations"), LADE_REF_NAME));
}

/* The existing index.json, or a new empty one when there is none. */
static int load_index(struct lade_store *store, const char *path, json_t **out,
                      struct lade_error **err)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *rerr = NULL;
	if (lade_store_read_file(store, "index.json", LADE_OCI_JSON_MAX, &b, &rerr) < 0) {
		if (rerr->sys_errno == ENOENT) {
			*out = json_object();
			json_object_set_new(*out, "manifests", json_array());
			return 0;
		}
		if (err && *err == NULL)
			*err = steal_pointer(&rerr);
		return -1;
	}
	/* Read by the rules every reader of images uses (oci.c). */
	_cleanup_free_ char *what = xasprintf("output %s is not a valid OCI index", path);
	_cleanup_(json_decrefp) json_t *j = NULL;
	if (lade_oci_json_parse(b.data, b.len, what, &j, err) < 0)
		return -1;
	json_t *sv = json_object_get(j, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return lade_error_set(
		        err, 0, "output %s is not a valid OCI index: schemaVersion is not 2", path);
	json_t *mt = json_object_get(j, "mediaType");
	if (mt && (!json_is_string(mt) || strcmp(json_string_value(mt), LADE_MT_OCI_INDEX) != 0))
		return lade_error_set(err, 0,
		                      "output %s is not a valid OCI index: mediaType is not %s",
		                      path, LADE_MT_OCI_INDEX);
	json_t *ms = json_object_get(j, "manifests");
	if (!json_is_array(ms))
		return lade_error_set(err, 0,
		                      "output %s is not a valid OCI index: manifests is not a list",
		                      path);
	size_t i;
	json_t *d;
	json_array_foreach(ms, i, d)
	{
		struct lade_oci_descriptor od;
		_cleanup_free_ char *dwhat = xasprintf("%s: manifests[%zu]", what, i);
		if (lade_oci_descriptor_parse(d, dwhat, &od, err) < 0)
			return -1;
	}
	*out = steal_pointer(&j);
	return 0;
}

int lade_layout_update_index(struct lade_store *store, const struct lade_index_entry *entries,
                             size_t n_entries, struct lade_error **err)
{
	_cleanup_free_ char *path = lade_path_join(lade_store_dir(store), "index.json");
	for (size_t i = 0; i < n_entries; i++) {
		const struct lade_index_entry *e = &entries[i];
		if (!lade_digest_valid(e->digest))
			return lade_error_set(err, 0, "index entry %zu: invalid digest '%s'", i + 1,
			                      e->digest ? e->digest : "(null)");
		if (e->media_type == NULL || e->media_type[0] == '\0')
			return lade_error_set(err, 0, "index entry %s: no media type", e->digest);
		if (!lade_store_has(store, e->digest))
			return lade_error_set(err, 0, "index entry %s is not in the store %s",
			                      e->digest, lade_store_dir(store));
		if (e->platform && !json_is_object(e->platform))
			return lade_error_set(
			        err, 0, "index entry %s: platform is not a JSON object", e->digest);
	}

	_cleanup_(json_decrefp) json_t *index = NULL;
	if (load_index(store, path, &index, err) < 0)
		return -1;

	json_t *old = json_object_get(index, "manifests");
	json_t *manifests = json_array();
	size_t i;
	json_t *d;
	json_array_foreach(old, i, d)
	{
		const char *ref = ref_name_of(d);
		bool replaced = false;
		for (size_t k = 0; ref && !replaced && k < n_entries; k++)
			replaced = entries[k].ref_name && strcmp(entries[k].ref_name, ref) == 0;
		if (!replaced)
			json_array_append(manifests, d);
	}
	for (size_t k = 0; k < n_entries; k++) {
		const struct lade_index_entry *e = &entries[k];
		json_t *nd = descriptor(e->media_type, e->digest, e->size);
		if (e->platform)
			json_object_set_new(nd, "platform", json_deep_copy(e->platform));
		if (e->ref_name) {
			json_t *a = json_object();
			json_object_set_new(a, LADE_REF_NAME, json_string(e->ref_name));
			json_object_set_new(nd, "annotations", a);
		}
		json_array_append_new(manifests, nd);
	}
	/* Other top-level members of an existing index (annotations) are kept. */
	json_object_set_new(index, "schemaVersion", json_integer(2));
	json_object_set_new(index, "mediaType", json_string(LADE_MT_OCI_INDEX));
	json_object_set_new(index, "manifests", manifests);

	_cleanup_free_ char *text = lade_json_dump(index);
	if (lade_store_write_file(store, "index.json", text, strlen(text), err) < 0)
		return lade_error_prefix(err, "cannot write the layout index");
	return 0;
}
