/* lade — the lock, in one of three formats mapped onto one structure:
 *  - a hashed requirements file as written by `pip-compile --generate-hashes`,
 *    `uv pip compile --generate-hashes` or `uv export --format requirements-txt`: every
 *    requirement is name==version with sha256 hashes; editables, nested files, URLs and paths
 *    are refused;
 *  - a PEP 751 pylock.toml (`pip lock`): packages with markers and their wheels with hashes;
 *  - a uv.lock (`uv lock`): packages, their wheels with hashes and their dependencies, the
 *    virtual/editable project(s) being the roots of the dependency graph.
 * Air-gapped: lade never builds, so a package that has only an sdist is an error when the
 * target needs it. */
#ifndef LADE_LOCK_H
#define LADE_LOCK_H

#include <stdbool.h>
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
	char *where;     /* "FILE:LINE" (requirements) or "FILE:LINE:COL" (TOML) for messages */
	/* TOML locks: the wheel file names the lock lists, parallel to sha256 (each file is
	   checked against its own hash); NULL for a requirements file (any file, any hash) */
	char **filenames;
	bool sdist_only;            /* no wheel locked: an error if the target needs it */
	char *requires_python;      /* pylock.toml: the package's requires-python, or NULL */
	struct lade_lock_dep *deps; /* uv.lock: dependencies (extra == NULL) and those of */
	size_t n_deps;              /* its extras (extra set) */
};

/* A dependency edge of a uv.lock package. */
struct lade_lock_dep {
	char *name;    /* normalised */
	char *version; /* when the lock has several versions of name, else NULL */
	char *marker;  /* or NULL */
	char **extras; /* extras requested, NULL-terminated, never NULL */
	char *extra;   /* the extra of the depending package that brings it, or NULL */
	int line, column;
};

enum lade_lock_format {
	LADE_LOCK_REQUIREMENTS,
	LADE_LOCK_PYLOCK,
	LADE_LOCK_UV,
};

struct lade_lock {
	char *path; /* the name used in messages */
	struct lade_lock_req *reqs;
	size_t n_reqs;
	char **ignored; /* "FILE:LINE: option --index-url ignored" notes, NULL-terminated,
	                   never NULL: global options are meaningless air-gapped */
	enum lade_lock_format format;
	char *requires_python; /* TOML locks: a specifier the target's Python must meet, or NULL */
	char *requires_python_where;
	char **environments; /* pylock.toml: markers of which one must hold, or NULL */
	char *environments_where;
	/* uv.lock: the virtual/editable projects (deps only, no wheel). Only the packages
	   reachable from them through dependencies whose markers hold are installed. */
	struct lade_lock_req *projects;
	size_t n_projects;
};

/* Parse lock text of any format: uv.lock and pylock.toml / pylock.NAME.toml by the file name
 * of `path`, else by content ([[package]] / lock-version lines); a requirements file
 * otherwise. TOML problems are reported as "FILE:LINE:COL: package NAME: …". */
int lade_lock_parse_any(const char *path, const char *data, size_t len, struct lade_lock **out,
                        struct lade_error **err);
/* The TOML formats (lock-toml.c). */
int lade_lock_parse_pylock(const char *path, const char *data, size_t len, struct lade_lock **out,
                           struct lade_error **err);
int lade_lock_parse_uv(const char *path, const char *data, size_t len, struct lade_lock **out,
                       struct lade_error **err);
/* Free the fields of one requirement (used by both readers). */
void lade_lock_req_release(struct lade_lock_req *r);

/* Parse a requirements file; `path` is only used in messages ("requirements.lock:12: 'numpy>=1.2'
 * is not pinned (need name==version)"). Every problem is reported (at most 20, one per line).
 * Duplicate names are refused when their markers can overlap (one missing or both equal); the final
 * check for the target is done by lade_select_wheels(). */
int lade_lock_parse(const char *path, const char *data, size_t len, struct lade_lock **out,
                    struct lade_error **err);
/* Read and parse a lock file of any format (at most 64 MiB). */
int lade_lock_parse_file(const char *path, struct lade_lock **out, struct lade_error **err);
void lade_lock_free(struct lade_lock *lock);
void lade_lock_freep(struct lade_lock **lock);

#endif
