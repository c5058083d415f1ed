/* lade — what an eStargz layer puts before its landmark: the files a Python service reads at
 * start-up, known without configuration. Internal to assembler/. */
#ifndef LADE_ASSEMBLER_PREFETCH_H
#define LADE_ASSEMBLER_PREFETCH_H

#include "lade/recipe.h"

/* The prefetch globs (lade_glob_match over image paths) for an image of recipe r: every
 * distribution's metadata (the .dist-info directories), every package's __init__.py and its
 * bytecode, .pth files and pyvenv.cfg (what site reads), the entrypoint's module (`-m a.b`: a/b.py,
 * its bytecode, the package a/b/ if it is one) or script (a path ending in .py: the script and
 * the .py files and bytecode beside it, what its first imports read), then the recipe's
 * output.prefetch. NULL-terminated, owned by the caller. */
char **lade_prefetch_globs(const struct lade_recipe *r);

#endif
