/* lade — an image's lazy-pull options (output.lazy, --lazy) and what an eStargz layer puts
 * before its landmark: the files a Python service reads at start-up, known without
 * configuration. Internal to assembler/. */
#ifndef LADE_ASSEMBLER_LAZY_OPTIONS_H
#define LADE_ASSEMBLER_LAZY_OPTIONS_H

#include <jansson.h>

#include "lade/build.h"
#include "lade/compress.h"
#include "lade/lazy.h"
#include "lade/recipe.h"

/* The prefetch globs (lade_glob_match over image paths) for an image of recipe r: every
 * distribution's metadata (the .dist-info directories), every package's __init__.py and its
 * bytecode, .pth files and pyvenv.cfg (what site reads), the entrypoint's module (`-m a.b`: a/b.py,
 * its bytecode, the package a/b/ if it is one) or script (a path ending in .py: the script and
 * the .py files and bytecode beside it, what its first imports read), then the recipe's
 * output.prefetch. NULL-terminated, owned by the caller. */
char **lade_prefetch_globs(const struct lade_recipe *r);

/* The lazy format of an image of recipe r: `cli` (--lazy) when not NULL, else the variant's
 * output.lazy, else none; with a format, *prefetch gets lade_prefetch_globs(r) (replacing what
 * it held), else NULL. Errors: an unknown name, eStargz with a compression other than gzip
 * (naming the recipe). */
int lade_lazy_choice(const char *cli, const struct lade_recipe *r, enum lade_compression comp,
                     enum lade_lazy *lazy, char ***prefetch, struct lade_error **err);

/* The layer descriptor annotations of an eStargz layer l (toc.digest, uncompressed-size) into
 * the object `annotations`; nothing for other layers. */
void lade_lazy_annotate(json_t *annotations, const struct lade_build_layer *l);

#endif
