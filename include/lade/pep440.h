/* lade — PEP 440 versions and version specifiers, in agreement with PyPA `packaging`.
 *
 * Versions are parsed once into an opaque value with a normalised string form ("1.0.0-RC1" →
 * "1.0.0rc1", "1!2.0.post0.dev3+ubuntu.1"); numbers of any length are kept as digit strings,
 * so hostile input cannot overflow. */
#ifndef LADE_PEP440_H
#define LADE_PEP440_H

#include <stdbool.h>
#include "lade/error.h"

struct lade_version; /* opaque */

/* Parse a PEP 440 version (surrounding whitespace, a leading 'v', any case and the alternative
 * spellings of the spec are accepted). On success *out owns a new version. Errors: "invalid
 * version 'TEXT'". */
int lade_version_parse(const char *s, struct lade_version **out, struct lade_error **err);
void lade_version_free(struct lade_version *v);
void lade_version_freep(struct lade_version **v);

/* True when s parses as a version. */
bool lade_version_valid(const char *s);
/* The normalised form of s as a new string, or NULL when s is not a version. */
char *lade_version_normalize(const char *s);

/* PEP 440 total order (epoch, release without trailing zeros, pre, post, dev, local):
 * <0, 0, >0 like strcmp. "1.0" == "1.0.0"; "1.0.dev0" < "1.0a1" < "1.0" < "1.0+local" <
 * "1.0.post1". */
int lade_version_cmp(const struct lade_version *a, const struct lade_version *b);
/* The normalised string (owned by v). */
const char *lade_version_str(const struct lade_version *v);
/* A pre-release: has a pre-release or a dev segment. */
bool lade_version_is_prerelease(const struct lade_version *v);
/* Has a local segment ("+cpu"). */
bool lade_version_has_local(const struct lade_version *v);

/* A comma-joined specifier set such as ">=1.21.1,<3" or "==1.2.*" ("" admits everything). */
struct lade_specifier; /* opaque */

/* Parse a specifier set. Operators ==, !=, <, <=, >, >=, ~=, === with the restrictions of PEP
 * 440 (wildcards only with == / !=, no local version with ordering operators or ~=, ~= needs
 * two release numbers). Errors: "invalid specifier 'TEXT'". */
int lade_specifier_parse(const char *s, struct lade_specifier **out, struct lade_error **err);
void lade_specifier_free(struct lade_specifier *s);
void lade_specifier_freep(struct lade_specifier **s);

/* Flags for lade_specifier_contains(). */
enum {
	/* Admit pre-releases unconditionally (pip's dependency check does this). Without the flag
	 * the PEP 440 rule applies: a pre-release is admitted only when one of the specifiers
	 * (==, >=, <=, ~=, ===) names a pre-release itself. */
	LADE_SPEC_PRERELEASES = 1 << 0,
};

/* True when every specifier of the set admits v. */
bool lade_specifier_contains(const struct lade_specifier *s, const struct lade_version *v,
                             unsigned flags);
/* The set as text: specifiers sorted and joined by "," like packaging's str(SpecifierSet)
 * ("<3,>=1.21.1"); "" for the empty set. Owned by s. */
const char *lade_specifier_str(const struct lade_specifier *s);
/* Number of specifiers in the set. */
size_t lade_specifier_count(const struct lade_specifier *s);
/* When the set is exactly one "==V" without wildcard: the version text V as written, else
 * NULL. Owned by s. Used to check that lock lines are pinned. */
const char *lade_specifier_pinned(const struct lade_specifier *s);

#endif
