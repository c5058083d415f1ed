/* Fuzz the recipe parser: the input is the recipe file; every declared variant is applied too. */
#include "fuzz-common.h"
#include "lade/recipe.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	_cleanup_free_ char *path = lade_path_join(fuzz_dir(), "lade.yaml");
	fuzz_write(path, data, size);

	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_recipe_freep) struct lade_recipe *r = NULL;
	(void)lade_recipe_load(path, NULL, &r, &err);

	_cleanup_(lade_strv_freep) char **names = NULL;
	_cleanup_free_ char *def = NULL;
	_cleanup_error_ struct lade_error *verr = NULL;
	if (lade_recipe_variants(path, &names, &def, &verr) < 0 || !names)
		return 0;
	for (size_t i = 0; names[i] && i < 4; i++) {
		_cleanup_error_ struct lade_error *e = NULL;
		_cleanup_(lade_recipe_freep) struct lade_recipe *v = NULL;
		(void)lade_recipe_load(path, names[i], &v, &e);
	}
	return 0;
}
