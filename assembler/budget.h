/* lade — size budgets (--max-size, output.max-size): after the layout is written, before
 * any push. Internal to assembler/. */
#ifndef LADE_ASSEMBLER_BUDGET_H
#define LADE_ASSEMBLER_BUDGET_H

#include "lade/build.h"
#include "lade/error.h"

/* Compare each image's config + layers (compressed, base included: what a node pulls) with
 * its budget. All within: 0. Any over: -1 and *err says, for every image over, its
 * compressed and unpacked sizes, the budget (naming max-size), its biggest layers and its
 * biggest Python distributions by installed bytes (read back from the written layout at
 * `layout`; `shown` is how `lade inspect` names the output, for the hint; layout NULL for
 * --push-only, which keeps no layout: the sizes only). */
int lade_budget_check(const struct lade_build_report *rep, const char *layout, const char *shown,
                      struct lade_error **err);

#endif
