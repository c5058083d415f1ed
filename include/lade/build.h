/* lade — the build: recipe → plan → layers → config → manifest → index, for one recipe and
 * each of the variants asked for. The only module that knows every stage; cli/cmd-build.c calls
 * it and prints what it returns. */
#ifndef LADE_BUILD_H
#define LADE_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include "lade/digest.h"
#include "lade/error.h"

/* Progress of a build as data: the CLI decides what to show and how (rates, terminals). */
enum lade_build_event_kind {
	LADE_BUILD_EVENT_NOTE,     /* text: something the user should know about the input or
	                            * the cache (an ignored lock option, a cache warning, a
	                            * distribution the base already has) */
	LADE_BUILD_EVENT_VARIANT,  /* name: the variant whose images come next */
	LADE_BUILD_EVENT_PLATFORM, /* name: the platform whose image comes next (multi-platform) */
	LADE_BUILD_EVENT_BASE,     /* name: the base image, count: its layers, entries: its paths */
	LADE_BUILD_EVENT_PYTHON_TARGET, /* text: the wheel tag target ("cp311 linux x86_64 …") */
	LADE_BUILD_EVENT_LAYER,         /* a layer written (see the fields) */
	LADE_BUILD_EVENT_PUSHED,        /* name: where to, digest, push: the upload counts */
};

struct lade_push_stats;

struct lade_build_event {
	enum lade_build_event_kind kind;
	const char *text;   /* NOTE, PYTHON_TARGET */
	const char *name;   /* VARIANT, PLATFORM, BASE, LAYER (its comment), PUSHED (destination) */
	size_t index;       /* LAYER: 1-based, of count */
	size_t count;       /* LAYER: layers this image gets; BASE: the base's layers */
	size_t entries;     /* LAYER: tar entries; BASE: paths in the base's file system */
	uint64_t bytes_in;  /* LAYER: the tar (uncompressed) */
	uint64_t bytes_out; /* LAYER: the blob (compressed) */
	const char *digest; /* LAYER: the blob; PUSHED: the manifest or index */
	bool reused;        /* LAYER: taken from the layer cache, not compressed again */
	bool registry;      /* LAYER: reused, found by --cache-from in a registry */
	const struct lade_push_stats *push; /* PUSHED */
};

struct lade_build_options {
	const char *recipe_path;
	const char *output_dir;  /* -o; NULL: the recipe's output.dir */
	const char *compression; /* NULL: the recipe's output.compression (default gzip) */
	const char *format;      /* oci | oci-archive | docker-archive; NULL: the recipe's */
	const char *lazy;        /* estargz | none; NULL: each variant's output.lazy (none) */
	int level;               /* -1: the algorithm's default */
	const char *tag;         /* NULL: the recipe's tag */
	char **variants;         /* NULL-terminated names to build; NULL: all (or none declared) */
	int jobs;                /* compression threads, >= 1 */
	int lock_timeout_s;      /* wait for another lade on the same layout */
	const char *cache_dir;   /* layer cache; NULL: $LADE_CACHE_DIR, else ~/.cache/lade */
	bool no_cache;        /* no layer cache; LADE_NO_CACHE=1 too, unless cache_dir is given */
	bool link_blobs;      /* hard-link base and cache blobs into the output (and output
	                       * blobs into the cache) instead of reflinking or copying them */
	const char *sbom;     /* "spdx" | "cyclonedx" | NULL: attach an SBOM to every image */
	const char *sbom_out; /* also write the (single) image's SBOM to this file; NULL: no */
	bool offline;         /* base images from a registry: the local store only */
	bool allow_unpinned_base;   /* accept `base: {image: …}` without @sha256: */
	bool allow_outside_context; /* files[].src may resolve outside the recipe's context */
	const char *push; /* push every ref to PUSH (registry/repo[:tag]) after the build */
	/* --push-only: no output layout; the images go to PUSH only (built in a private staging
	 * layout in the cache directory, removed after the push) */
	bool push_only;
	/* --cache-from REPO…, NULL-terminated, over the recipe's cache.from; may be NULL */
	char **cache_from;
	const char *cache_to; /* --cache-to REPO, over the recipe's cache.to; may be NULL */
	const char *creds;    /* registry "user:pass" (else the auth files) */
	bool tls_verify_off;  /* --tls-verify=false */
	/* NULL-terminated "KEY=VALUE" from the command line, over the recipe's; may be NULL */
	char **annotations;
	/* --max-size: budget for each image's config + layers (compressed), over every
	 * variant's output.max-size; 0: the recipe's */
	uint64_t max_size;
	const char *max_size_text; /* --max-size as written, for messages */
	/* The bytecode helpers (lade_build_start_compilers), borrowed; NULL: lade_build_run
	 * starts them itself, which a process inside lade's sandbox cannot. */
	struct lade_build_compilers *compilers;
	/* What the build does as it does it (struct lade_build_event), may be NULL. Called from
	 * the building thread; the event and its strings live for the call only. */
	void (*progress)(void *ctx, const struct lade_build_event *ev);
	void *progress_ctx;
};

struct lade_build_layer {
	char digest[LADE_DIGEST_STRLEN];
	char diff_id[LADE_DIGEST_STRLEN];
	uint64_t size;
	uint64_t tar_size; /* 0 for base layers (not decompressed for the report) */
	char *media_type;  /* owned */
	char *comment;
	char *compressor; /* "isa-l 2.30.0 igzip level 2 …"; NULL for base layers */
	bool from_base;
	bool reused; /* taken from the layer cache, not compressed again */
	bool remote; /* --push-only: found by --cache-from, in the push target, not local */
	/* eStargz layers: the TOC's sha256 and the blob bytes before the landmark (what a
	 * snapshotter prefetches); "" and 0 otherwise */
	char toc_digest[LADE_DIGEST_STRLEN];
	uint64_t prefetch_bytes;
	char toc_position[96]; /* zstd:chunked: manifest-position; else "" */
};

struct lade_build_image {
	char *ref;     /* tag or tag-variant */
	char *variant; /* NULL without variants */
	char *platform;
	char digest[LADE_DIGEST_STRLEN];
	char config_digest[LADE_DIGEST_STRLEN];
	uint64_t manifest_size;
	uint64_t config_size;
	uint64_t max_size;    /* the budget (--max-size, else output.max-size); 0: none */
	char *max_size_where; /* "--max-size 500MB" or "output.max-size 500MB"; NULL: none */
	char sbom_digest[LADE_DIGEST_STRLEN]; /* the SBOM artifact manifest, "" without --sbom */
	uint64_t sbom_size;
	struct lade_build_layer *layers;
	size_t n_layers;
};

/* A name in index.json: a manifest (one platform) or an image index (several platforms). */
struct lade_build_ref {
	char *name;    /* org.opencontainers.image.ref.name: tag, tag-variant */
	char *variant; /* NULL without variants */
	char digest[LADE_DIGEST_STRLEN];
	uint64_t size;
	bool is_index;
};

/* Does building the recipe need the network (a registry base, unless offline)? The CLI asks
 * before it enters the sandbox, which allows sockets only when they are needed. */
int lade_build_needs_network(const struct lade_build_options *o, bool *needs,
                             struct lade_error **err);

/* The python.compile helpers of the variants o builds, one per interpreter, started now: the
 * CLI calls this before it enters the sandbox, which refuses execve. Errors, before anything
 * is written: "RECIPE:LINE:COL: python.compile: no python3.11 on PATH: set python.compiler to a
 * Python 3.11 interpreter, or python.compile: false", and those of starting one. *out may be
 * an empty set; free it with lade_build_compilers_free (which ends the helpers). */
struct lade_build_compilers;
int lade_build_start_compilers(const struct lade_build_options *o,
                               struct lade_build_compilers **out, struct lade_error **err);
void lade_build_compilers_free(struct lade_build_compilers *s);
void lade_build_compilers_freep(struct lade_build_compilers **s);

struct lade_build_report {
	char *layout;                    /* absolute output directory */
	struct lade_build_image *images; /* one per variant and platform */
	size_t n_images;
	struct lade_build_ref *refs; /* what index.json now names, in order */
	size_t n_refs;
};

/* Build. On success *out holds what was written (caller frees with lade_build_report_free).
 * On failure the output layout's index.json is untouched (blobs already written are complete
 * and unreferenced, never partial) — except over a size budget: then the layout (or archive)
 * is written, nothing is pushed, and the error names max-size, the image's compressed and
 * unpacked sizes and its biggest layers and Python distributions. */
int lade_build_run(const struct lade_build_options *o, struct lade_build_report **out,
                   struct lade_error **err);
void lade_build_report_free(struct lade_build_report *r);
void lade_build_report_freep(struct lade_build_report **r);

#endif
