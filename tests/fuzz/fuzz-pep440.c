/* Fuzz PEP 440: input lines are version A, version B, specifier set. Besides crashes, checks
 * invariants every correct implementation has: comparison is antisymmetric and reflexive,
 * normalisation is idempotent and gives a valid version, and the printed specifier set parses
 * back to the same text. */
#include "fuzz-common.h"
#include "lade/pep440.h"

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void check_version(const char *s)
{
	_cleanup_free_ char *n = lade_version_normalize(s);
	if (!n)
		return;
	if (!lade_version_valid(n))
		abort(); /* normalised form must be valid */
	_cleanup_free_ char *nn = lade_version_normalize(n);
	if (!nn || strcmp(n, nn) != 0)
		abort(); /* normalisation must be idempotent */
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size > 4096)
		return 0;
	_cleanup_free_ char *buf = fuzz_strndup(data, size);
	char *a = buf;
	char *b = fuzz_split_line(a);
	char *spec = fuzz_split_line(b);
	fuzz_split_line(spec);

	check_version(a);
	check_version(b);

	_cleanup_error_ struct lade_error *ea = NULL, *eb = NULL, *es = NULL;
	_cleanup_(lade_version_freep) struct lade_version *va = NULL;
	_cleanup_(lade_version_freep) struct lade_version *vb = NULL;
	_cleanup_(lade_specifier_freep) struct lade_specifier *sp = NULL;
	(void)lade_version_parse(a, &va, &ea);
	(void)lade_version_parse(b, &vb, &eb);
	(void)lade_specifier_parse(spec, &sp, &es);

	if (va) {
		(void)lade_version_str(va);
		(void)lade_version_is_prerelease(va);
		(void)lade_version_has_local(va);
		if (lade_version_cmp(va, va) != 0)
			abort();
	}
	if (va && vb && sign(lade_version_cmp(va, vb)) != -sign(lade_version_cmp(vb, va)))
		abort();
	if (sp) {
		const char *text = lade_specifier_str(sp);
		(void)lade_specifier_count(sp);
		(void)lade_specifier_pinned(sp);
		_cleanup_error_ struct lade_error *e2 = NULL;
		_cleanup_(lade_specifier_freep) struct lade_specifier *sp2 = NULL;
		if (lade_specifier_parse(text, &sp2, &e2) < 0 ||
		    strcmp(lade_specifier_str(sp2), text))
			abort(); /* printed set must parse back to itself */
		for (int i = 0; i < 2; i++) {
			const struct lade_version *v = i ? vb : va;
			if (!v)
				continue;
			(void)lade_specifier_contains(sp, v, 0);
			(void)lade_specifier_contains(sp, v, LADE_SPEC_PRERELEASES);
		}
	}
	return 0;
}
