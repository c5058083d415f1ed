/* Fuzz the base-image JSON readers (lade_base_load and lade_verify_layout): the first byte
 * picks which document of a one-image OCI layout is the input — 0 index.json, 1 the
 * manifest, 2 the config — the others are valid defaults; 3: the rest is a docker-archive
 * (`docker save` tar with manifest.json) loaded as the base. See fuzz-layout.h for the
 * placeholders (@M@, @C@, @L@ …) that seeds use to name the other blobs. */
#include "fuzz-layout.h"

static struct lade_buf layer = LADE_BUF_INIT;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1 || size > 1 << 20)
		return 0;
	if (!layer.len)
		fuzz_default_tar(&layer);
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	unsigned which = data[0] % 4;
	if (which == 3) {
		_cleanup_free_ char *path = lade_path_join(fuzz_dir(), "image.tar");
		fuzz_write(path, text, len);
		struct lade_base_spec spec = {.kind = LADE_BASE_DOCKER_ARCHIVE, .ref = path};
		fuzz_load_base(&spec);
		return 0;
	}
	_cleanup_free_ char *dir =
	        fuzz_make_layout(layer.data, layer.len, FZ_MT_TAR, which == 0 ? text : NULL, len,
	                         which == 1 ? text : NULL, len, which == 2 ? text : NULL, len);
	fuzz_read_layout(dir);
	return 0;
}
