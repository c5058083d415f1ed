/* Fuzz the hashed lock parser on memory. */
#include "fuzz-common.h"
#include "lade/lock.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_lock_freep) struct lade_lock *lock = NULL;
	(void)lade_lock_parse("requirements.lock", (const char *)data, size, &lock, &err);
	return 0;
}
