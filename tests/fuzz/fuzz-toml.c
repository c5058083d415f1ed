/* Fuzz the TOML reader on memory, then the two TOML lock readers on the same text (a document
 * that parses reaches their type checks and mapping). */
#include "fuzz-common.h"
#include "lade/lock.h"
#include "lade/toml.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *text = (const char *)data;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_toml_freep) struct lade_toml *t = NULL;
	if (lade_toml_parse("fuzz.toml", text, size, &t, &err) < 0)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		(void)lade_toml_get(t, t->keys[i]);
	_cleanup_error_ struct lade_error *e1 = NULL, *e2 = NULL;
	_cleanup_(lade_lock_freep) struct lade_lock *a = NULL;
	_cleanup_(lade_lock_freep) struct lade_lock *b = NULL;
	(void)lade_lock_parse_pylock("pylock.toml", text, size, &a, &e1);
	(void)lade_lock_parse_uv("uv.lock", text, size, &b, &e2);
	return 0;
}
