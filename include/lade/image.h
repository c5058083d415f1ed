/* lade — writing the image JSON: config (merged over the base like `docker build`), manifest,
 * and the layout's index.json. All JSON is serialised with JSON_SORT_KEYS | JSON_COMPACT. */
#ifndef LADE_IMAGE_H
#define LADE_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "lade/base.h"
#include "lade/error.h"
#include "lade/oci.h"
#include "lade/store.h"

struct lade_kv {
	char *key;
	char *value;
};

/* What a build sets in the image config (the recipe's config: section). */
struct lade_config_spec {
	char *user, *workdir, *stop_signal; /* NULL: unset (inherit from base) */
	struct lade_kv *env;                /* n_env items, in recipe order */
	size_t n_env;
	bool has_entrypoint, has_cmd;
	char **entrypoint, **cmd; /* NULL-terminated; has_* with NULL/empty means "set to []" */
	char **expose;            /* NULL-terminated "8080/tcp" ("8080" gets "/tcp") */
	char **volumes;           /* NULL-terminated absolute paths */
	struct lade_kv *labels;
	size_t n_labels;
};

/* Serialise deterministically (sorted keys, compact). New string, aborts on OOM. */
char *lade_json_dump(const json_t *j);

/* Build a new config: a deep copy of base_config (may be NULL: scratch) with the recipe's
 * config merged the way `docker build` does: Env entries replaced by key or appended, in
 * recipe order; Entrypoint set → Cmd reset to the recipe's cmd (or removed); User, WorkingDir,
 * StopSignal replaced; ExposedPorts, Volumes, Labels merged. os/architecture(/variant) from
 * the platform. created = the epoch (RFC 3339). Base rootfs.diff_ids and history are kept.
 * extra_env: additional "KEY=VALUE" pairs applied before the recipe's env (e.g. the venv's
 * PATH and VIRTUAL_ENV), may be NULL. */
int lade_config_new(const json_t *base_config, const struct lade_config_spec *rc,
                    const struct lade_kv *extra_env, size_t n_extra_env, const char *platform,
                    int64_t epoch, json_t **out, struct lade_error **err);

/* Append a layer: diff_id to rootfs.diff_ids and a history entry {created, created_by,
 * comment}. */
void lade_config_add_layer(json_t *config, const char *diff_id, const char *created_by,
                           const char *comment, int64_t epoch);

/* RFC 3339 UTC timestamp of epoch, e.g. "1970-01-01T00:00:00Z". */
void lade_format_time(int64_t epoch, char buf[32]);

struct lade_manifest_layer {
	const char *media_type;
	const char *digest;
	uint64_t size;
	json_t *annotations; /* borrowed, may be NULL */
	bool remote; /* the blob is in the registry the image is pushed to, not in the store */
};

/* Write config and manifest blobs to the store; fills the manifest's digest and size.
 * annotations: borrowed object or NULL. */
int lade_image_write(struct lade_store *store, const json_t *config,
                     const struct lade_manifest_layer *layers, size_t n_layers,
                     const json_t *annotations, char manifest_digest[LADE_DIGEST_STRLEN],
                     uint64_t *manifest_size, struct lade_error **err);

struct lade_index_entry {
	const char *media_type; /* manifest or index media type */
	const char *digest;
	uint64_t size;
	const char *ref_name;   /* org.opencontainers.image.ref.name, may be NULL */
	const json_t *platform; /* borrowed, may be NULL */
};

/* Update DIR/index.json: read the existing one if any, drop manifests whose ref name is one
 * of the new ones, append the new entries, write atomically (temp, fsync, rename) — always the
 * last write of a build so index.json never names a missing blob. Every new entry's blob must
 * already be in the store (checked). */
int lade_layout_update_index(struct lade_store *store, const struct lade_index_entry *entries,
                             size_t n_entries, struct lade_error **err);

#endif
