/* lade — the image config: a copy of the base config with the recipe merged over it the way
 * `docker build` does (see include/lade/image.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "lade/image.h"
#include "lade/util.h"

char *lade_json_dump(const json_t *j)
{
	/* JSON_ENCODE_ANY only matters for scalars; objects and arrays dump to the same bytes. */
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL) {
		lade_die("cannot serialise JSON (out of memory)");
	}
	return s;
}

void lade_format_time(int64_t epoch, char buf[32])
{
	struct tm tm;
	time_t t = (time_t)epoch;
	if ((int64_t)t != epoch || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

/* The object under key in parent, created when missing or null; error when another type. */
static json_t *child_object(json_t *parent, const char *key, const char *where,
                            struct lade_error **err)
{
	json_t *o = json_object_get(parent, key);
	if (o == NULL || json_is_null(o)) {
		o = json_object();
		json_object_set_new(parent, key, o);
	} else if (!json_is_object(o)) {
		lade_error_set(err, 0, "base config: %s%s is not an object", where, key);
		return NULL;
	}
	return o;
}

static json_t *child_array(json_t *parent, const char *key, const char *where,
                           struct lade_error **err)
{
	json_t *a = json_object_get(parent, key);
	if (a == NULL || json_is_null(a)) {
		a = json_array();
		json_object_set_new(parent, key, a);
	} else if (!json_is_array(a)) {
		lade_error_set(err, 0, "base config: %s%s is not a list", where, key);
		return NULL;
	}
	return a;
}

/* Docker semantics: an entry with the same KEY is replaced where it stands, otherwise the
 * new one goes to the end, so the base's order is kept. */
static int env_set(json_t *env, const char *key, const char *value, struct lade_error **err)
{
	size_t klen = strlen(key);
	if (klen == 0 || strchr(key, '='))
		return lade_error_set(err, 0, "config.env: invalid variable name '%s'", key);
	_cleanup_free_ char *entry = xasprintf("%s=%s", key, value ? value : "");
	size_t i;
	json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		if (s == NULL)
			return lade_error_set(err, 0,
			                      "base config: config.Env[%zu] is not a string", i);
		if (strncmp(s, key, klen) == 0 && (s[klen] == '=' || s[klen] == '\0')) {
			json_array_set_new(env, i, json_string(entry));
			return 0;
		}
	}
	json_array_append_new(env, json_string(entry));
	return 0;
}

/* Set a string list, or remove the key for an empty list as Docker does for `CMD []`. */
static void set_strv(json_t *cfg, const char *key, char *const *v)
{
	if (v == NULL || v[0] == NULL) {
		json_object_del(cfg, key);
		return;
	}
	json_t *a = json_array();
	for (; *v; v++)
		json_array_append_new(a, json_string(*v));
	json_object_set_new(cfg, key, a);
}

static int merge_config(json_t *cfg, const struct lade_config_spec *rc,
                        const struct lade_kv *extra_env, size_t n_extra_env,
                        struct lade_error **err)
{
	if (n_extra_env > 0 || (rc && rc->n_env > 0)) {
		json_t *env = child_array(cfg, "Env", "config.", err);
		if (env == NULL)
			return -1;
		for (size_t i = 0; i < n_extra_env; i++)
			if (env_set(env, extra_env[i].key, extra_env[i].value, err) < 0)
				return -1;
		for (size_t i = 0; rc && i < rc->n_env; i++)
			if (env_set(env, rc->env[i].key, rc->env[i].value, err) < 0)
				return -1;
	}
	if (rc == NULL)
		return 0;

	if (rc->has_entrypoint) {
		set_strv(cfg, "Entrypoint", rc->entrypoint);
		/* A new entrypoint invalidates the base's Cmd (its arguments). */
		set_strv(cfg, "Cmd", rc->has_cmd ? rc->cmd : NULL);
	} else if (rc->has_cmd) {
		set_strv(cfg, "Cmd", rc->cmd);
	}

	if (rc->user)
		json_object_set_new(cfg, "User", json_string(rc->user));
	if (rc->workdir)
		json_object_set_new(cfg, "WorkingDir", json_string(rc->workdir));
	if (rc->stop_signal)
		json_object_set_new(cfg, "StopSignal", json_string(rc->stop_signal));

	if (rc->expose && rc->expose[0]) {
		json_t *ports = child_object(cfg, "ExposedPorts", "config.", err);
		if (ports == NULL)
			return -1;
		for (char **p = rc->expose; *p; p++) {
			_cleanup_free_ char *port =
			        strchr(*p, '/') ? xstrdup(*p) : xasprintf("%s/tcp", *p);
			json_object_set_new(ports, port, json_object());
		}
	}
	if (rc->volumes && rc->volumes[0]) {
		json_t *vols = child_object(cfg, "Volumes", "config.", err);
		if (vols == NULL)
			return -1;
		for (char **p = rc->volumes; *p; p++)
			json_object_set_new(vols, *p, json_object());
	}
	if (rc->n_labels > 0) {
		json_t *labels = child_object(cfg, "Labels", "config.", err);
		if (labels == NULL)
			return -1;
		for (size_t i = 0; i < rc->n_labels; i++)
			json_object_set_new(
			        labels, rc->labels[i].key,
			        json_string(rc->labels[i].value ? rc->labels[i].value : ""));
	}
	return 0;
}

/* The top-level keys of the OCI image config; Docker's others ("container",
 * "container_config", "docker_version", …) describe how the base was built, not this image. */
static const char *const oci_keys[] = {
        "created",     "author",  "architecture", "os",     "os.version",
        "os.features", "variant", "config",       "rootfs", "history",
};

static bool is_oci_key(const char *key)
{
	for (size_t i = 0; i < LADE_ARRAY_SIZE(oci_keys); i++)
		if (strcmp(oci_keys[i], key) == 0)
			return true;
	return false;
}

int lade_config_new(const json_t *base_config, const struct lade_config_spec *rc,
                    const struct lade_kv *extra_env, size_t n_extra_env, const char *platform,
                    int64_t epoch, json_t **out, struct lade_error **err)
{
	_cleanup_(lade_oci_platform_release) struct lade_oci_platform p = {0};
	if (lade_oci_platform_parse(platform ? platform : "linux/amd64", &p, err) < 0)
		return -1;
	if (base_config && !json_is_object(base_config))
		return lade_error_set(err, 0, "base config: not a JSON object");

	_cleanup_(json_decrefp) json_t *c =
	        base_config ? json_deep_copy(base_config) : json_object();
	if (c == NULL) {
		lade_die("cannot copy JSON (out of memory)");
	}
	const char *key;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(c, tmp, key, v)
	{
		if (!is_oci_key(key))
			json_object_del(c, key);
	}

	char created[32];
	lade_format_time(epoch, created);
	json_object_set_new(c, "created", json_string(created));
	json_object_set_new(c, "os", json_string(p.os));
	json_object_set_new(c, "architecture", json_string(p.arch));
	/* The variant as written: "linux/arm64" stays without one (readers match it to v8). */
	if (p.variant)
		json_object_set_new(c, "variant", json_string(p.variant));
	else
		json_object_del(c, "variant");

	json_t *cfg = child_object(c, "config", "", err);
	if (cfg == NULL || merge_config(cfg, rc, extra_env, n_extra_env, err) < 0)
		return -1;

	json_t *rootfs = child_object(c, "rootfs", "", err);
	if (rootfs == NULL || child_array(rootfs, "diff_ids", "rootfs.", err) == NULL)
		return -1;
	json_object_set_new(rootfs, "type", json_string("layers"));
	json_t *history = json_object_get(c, "history");
	if (json_is_null(history))
		json_object_del(c, "history");
	else if (history && !json_is_array(history))
		return lade_error_set(err, 0, "base config: history is not a list");

	/* Bases without history (or with less than their layers) exist (e.g. `buildah commit` of
	 * an imported tar, hand-made ones): give each base layer without an entry one, so the
	 * non-empty history entries keep matching the layers once lade appends its own. */
	size_t n_layers = json_array_size(json_object_get(rootfs, "diff_ids"));
	size_t n_nonempty = 0, i;
	json_t *h;
	json_array_foreach(json_object_get(c, "history"), i, h)
	{
		if (!json_is_true(json_object_get(h, "empty_layer")))
			n_nonempty++;
	}
	if (n_nonempty < n_layers) {
		json_t *hist = json_object_get(c, "history");
		if (hist == NULL) {
			hist = json_array();
			json_object_set_new(c, "history", hist);
		}
		for (; n_nonempty < n_layers; n_nonempty++)
			json_array_append_new(
			        hist, json_pack("{s:s}", "comment",
			                        "base layer (no history in the base image)"));
	}

	*out = steal_pointer(&c);
	return 0;
}

void lade_config_add_layer(json_t *config, const char *diff_id, const char *created_by,
                           const char *comment, int64_t epoch)
{
	json_t *rootfs = json_object_get(config, "rootfs");
	if (!json_is_object(rootfs)) {
		rootfs = json_object();
		json_object_set_new(rootfs, "type", json_string("layers"));
		json_object_set_new(config, "rootfs", rootfs);
	}
	json_t *diff_ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(diff_ids)) {
		diff_ids = json_array();
		json_object_set_new(rootfs, "diff_ids", diff_ids);
	}
	json_array_append_new(diff_ids, json_string(diff_id));

	json_t *history = json_object_get(config, "history");
	if (!json_is_array(history)) {
		history = json_array();
		json_object_set_new(config, "history", history);
	}
	char created[32];
	lade_format_time(epoch, created);
	json_t *h = json_object();
	json_object_set_new(h, "created", json_string(created));
	if (created_by)
		json_object_set_new(h, "created_by", json_string(created_by));
	if (comment)
		json_object_set_new(h, "comment", json_string(comment));
	json_array_append_new(history, h);
}
