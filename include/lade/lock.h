/* lade — the hashed lock: a requirements file as written by `pip-compile --generate-hashes`,
 * `uv pip compile --generate-hashes` or `uv export --format requirements-txt`. Air-gapped: every
 * requirement is name==version with sha256 hashes; editables, nested files, URLs and paths are
 * refused. */
#ifndef LADE_LOCK_H
#define LADE_LOCK_H

#include <stddef.h>
#include "lade/error.h"

struct lade_lock_req {
	char *name;      /* PEP 503 normalised */
	char *name_text; /* as written */
	char *version;   /* the pinned version, PEP 440 normalised ("2.3.0+cpu") */
	char **extras;   /* normalised, NULL-terminated, never NULL */
	char **sha256;   /* lowercase hex digests, NULL-terminated, at least one */
	char *marker;    /* marker text or NULL: evaluated against the target by select */
	int line;        /* first physical line of the requirement */
};

struct lade_lock {
	char *path; /* the name used in messages */
	struct lade_lock_req *reqs;
	size_t n_reqs;
	char **ignored; /* "FILE:LINE: option --index-url ignored" notes, NULL-terminated,
	                   never NULL: global options are meaningless air-gapped */
};

/* Parse lock text; `path` is only used in messages ("requirements.lock:12: 'numpy>=1.2' is not
 * pinned (need name==version)"). Every problem is reported (at most 20, one per line). Duplicate
 * names are refused when their markers can overlap (one missing or both equal); the final check
 * for the target is done by lade_select_wheels(). */
int lade_lock_parse(const char *path, const char *data, size_t len, struct lade_lock **out,
                    struct lade_error **err);
/* Read and parse a lock file (at most 64 MiB). */
int lade_lock_parse_file(const char *path, struct lade_lock **out, struct lade_error **err);
void lade_lock_free(struct lade_lock *lock);
void lade_lock_freep(struct lade_lock **lock);

#endif
