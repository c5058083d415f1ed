/* lade — PEP 508 requirements and environment markers, PEP 503 names, and the dependency check
 * of an installed set (what `pip check` reports), in agreement with PyPA `packaging`. */
#ifndef LADE_PEP508_H
#define LADE_PEP508_H

#include <stdbool.h>
#include <stddef.h>
#include "lade/error.h"
#include "lade/pep440.h"
#include "lade/pyformat.h" /* lade_name_normalize */
#include "lade/tags.h"

/* True when name is a valid distribution name ([A-Za-z0-9] at both ends, [-_.A-Za-z0-9]). */
bool lade_name_valid(const char *name);

/* The marker environment of a target. Strings are owned by the struct. */
struct lade_marker_env {
	char os_name[16];                        /* "posix" */
	char sys_platform[16];                   /* "linux" */
	char platform_system[16];                /* "Linux" */
	char platform_machine[16];               /* "x86_64" */
	char platform_release[64];               /* "" (unknown at build time) */
	char platform_version[64];               /* "" */
	char python_version[16];                 /* "3.11" */
	char python_full_version[32];            /* "3.11.0" */
	char implementation_name[16];            /* "cpython" */
	char implementation_version[32];         /* = python_full_version */
	char platform_python_implementation[16]; /* "CPython" */
};
void lade_marker_env_init(struct lade_marker_env *env, const struct lade_target *t);

/* Evaluate a marker expression ("python_version < '3.12' and extra == 'test'") against env;
 * `extra` is the value of the extra variable ("" or NULL for none; compared PEP 503
 * normalised). Version operators use PEP 440 when both sides are versions (pre-releases
 * admitted), else string comparison; `in` / `not in` are substring tests. Nesting deeper than 64
 * is refused. Errors: "invalid marker 'TEXT': reason at column N", "… undefined comparison". */
int lade_marker_evaluate(const char *marker, const struct lade_marker_env *env, const char *extra,
                         bool *result, struct lade_error **err);

/* A parsed requirement: name [extras] (specifier | @ url) ; marker */
struct lade_requirement {
	char *name;                  /* normalised */
	char *name_text;             /* as written */
	char **extras;               /* normalised, NULL-terminated, never NULL */
	struct lade_specifier *spec; /* never NULL (maybe empty) */
	char *url;                   /* "name @ url" requirements, else NULL: callers refuse them */
	char *marker;                /* marker text or NULL; validated at parse time */
};

/* Parse a requirement string (Requires-Dist value or lock line). Errors: "invalid requirement
 * 'TEXT': reason". On success *out owns a new requirement. */
int lade_requirement_parse(const char *s, struct lade_requirement **out, struct lade_error **err);
void lade_requirement_free(struct lade_requirement *r);
void lade_requirement_freep(struct lade_requirement **r);
/* "name[extras]spec" as packaging prints it, without the marker. New string. */
char *lade_requirement_str(const struct lade_requirement *r);

/* One installed distribution for the dependency check (all borrowed). */
struct lade_dist {
	const char *name;
	const char *version;
	char *const *requires_dist;    /* NULL-terminated, may be NULL */
	char *const *extras_requested; /* extras asked for from outside (the lock), may be NULL */
};

/* Check that every requirement of every distribution (markers evaluated for t; `extra` markers
 * true only for the extras requested of that distribution, closed over the requirements of the
 * set) names a distribution of the set whose version satisfies the specifier. Fails with all
 * problems (at most 20, one per line), e.g. "requests 2.31.0 requires urllib3<3,>=1.21.1 but
 * urllib3 is not in the lock", "… but the lock has urllib3 3.0.0", with " via scipy[test]"
 * when reached through an extra. */
int lade_deps_check(const struct lade_dist *d, size_t n, const struct lade_target *t,
                    struct lade_error **err);

#endif
