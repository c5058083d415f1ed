/* lade — garbage collection of an OCI layout: remove the blobs no tag reaches.
 *
 * Live: every index.json entry with a ref name (a tag), followed through image indexes to
 * manifests and from manifests to their config and layers; untagged index.json entries that
 * are not referrers (kept: the layout names them); and referrers (a manifest with a `subject`,
 * such as lade's SBOM artifacts, whether listed in index.json or only present as a blob) while
 * their subject is live, with what they reach. Everything else in blobs/sha256 is removed.
 * Untagged referrer entries of index.json whose subject is gone are dropped from it first.
 *
 * Crash safety: index.json is replaced atomically before any blob is removed, and each blob
 * goes with one unlink of a blob nothing live names, so a gc killed at any point leaves a
 * layout that verifies. The caller holds the store (its lock: no build writes meanwhile).
 * Every JSON document is read through manifest/oci.c; one that cannot be read or verified on
 * the live side stops the gc before anything is removed. */
#ifndef LADE_GC_H
#define LADE_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lade/error.h"
#include "lade/store.h"

struct lade_gc_options {
	char *const
	        *keep; /* NULL-terminated digests to keep as well (the layer cache's), or NULL */
	bool dry_run;  /* report, change nothing */
	bool index_optional; /* a missing index.json is an empty one (else an error) */
};

struct lade_gc_report {
	size_t blobs;         /* removed (dry run: would be) */
	uint64_t bytes;       /* their sizes */
	size_t kept_blobs;    /* blobs left */
	uint64_t kept_bytes;  /* their sizes */
	size_t index_dropped; /* untagged referrer entries dropped from index.json */
	char **removed;       /* NULL-terminated digests, sorted; owned */
};
void lade_gc_report_release(struct lade_gc_report *r);

int lade_gc_layout(struct lade_store *s, const struct lade_gc_options *o, struct lade_gc_report *r,
                   struct lade_error **err);

#endif
