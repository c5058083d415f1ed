/* lade — the directory/file source: turns a recipe `files:` item into layer entries.
 *
 * Walks `src` (a directory or a single file) in sorted order, drops what the recipe's
 * `exclude:` globs and SRC/.dockerignore (Docker's syntax: `#` comments, `!` re-includes,
 * `**`, last match wins, leading '/' ignored) exclude, and maps every path under `dst`.
 * Modes are normalised so the umask of the machine never shows: directories 0755, files 0755
 * when the owner may execute them else 0644, symlinks 0777; `mode:` in the recipe replaces the
 * file mode (directories keep 0755). Owner from the recipe, else 0:0. Files that share an inode
 * become hard links to the first one in sorted order. Symlinks are kept as symlinks with their
 * target unchanged. Sockets, fifos and devices are refused with an error naming them. The
 * destination directory is resolved through the base tree's symlinks (as `docker build`'s
 * COPY does), so "/lib/x" lands in "usr/lib/x" on a merged-/usr base. */
#ifndef LADE_FILES_H
#define LADE_FILES_H

#include "lade/error.h"
#include "lade/layer.h"
#include "lade/recipe.h"
#include "lade/tree.h"

/* Add the entries of one recipe files item to `layer`. `base` may be NULL (scratch).
 * Errors name the recipe item (files[i] at line:column) and the host path. */
int lade_files_add(const struct lade_recipe_files *item, const struct lade_tree *base,
                   struct lade_layer *layer, struct lade_error **err);

/* A parsed .dockerignore (or any list of such patterns). */
struct lade_ignore;
/* Parse patterns from text (one per line). `origin` names the file for messages. */
int lade_ignore_parse(const char *text, const char *origin, struct lade_ignore **out,
                      struct lade_error **err);
/* Add one pattern (may start with '!'). */
void lade_ignore_add(struct lade_ignore *ig, const char *pattern);
struct lade_ignore *lade_ignore_new(void);
void lade_ignore_free(struct lade_ignore *ig);
void lade_ignore_freep(struct lade_ignore **ig);
/* Is the relative path (normalised, relative to the source root) excluded? */
bool lade_ignore_match(const struct lade_ignore *ig, const char *path);
/* May something below the excluded directory `dir` be re-included by a later `!` pattern?
 * (When false the walk skips the whole directory.) */
bool lade_ignore_may_reinclude(const struct lade_ignore *ig, const char *dir);

#endif
