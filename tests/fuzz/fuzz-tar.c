/* Fuzz the tar reader of base layers (lade_base_read_tree) and the layer checks of
 * lade_verify_layout: the input is the only layer of a valid one-image layout; its media type
 * follows its magic (gzip, zstd, else plain tar). */
#include "fuzz-layout.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	const char *mt = FZ_MT_TAR;
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		mt = FZ_MT_TAR "+gzip";
	else if (size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0)
		mt = FZ_MT_TAR "+zstd";
	_cleanup_free_ char *dir =
	        fuzz_make_layout((const char *)data, size, mt, NULL, 0, NULL, 0, NULL, 0);
	fuzz_read_layout(dir);
	return 0;
}
