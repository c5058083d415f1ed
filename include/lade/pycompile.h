/* lade — bytecode: `.pyc` files as pip's compile step writes them, made by one long-lived host
 * interpreter per build (the only program lade runs). The helper is started before lade's own
 * sandbox closes execve, confined by lade_sandbox_spawn() (no network, no file writes, no new
 * process), and gets sources on a pipe and answers with bytecode on a pipe: it only calls
 * compile() and marshal, so no package code is imported or executed.
 *
 * The .pyc files are PEP 552 unchecked-hash pycs (flags 1, the source's siphash), so they do not
 * depend on time stamps, and their marshal data is made canonical here (see
 * lade_pyc_canonicalize): compiling the same source gives the same bytes whatever else the
 * helper compiled before, in whatever order. co_filename is the file's image path; the hash seed
 * is pinned (PYTHONHASHSEED=0: frozenset constants follow it). */
#ifndef LADE_PYCOMPILE_H
#define LADE_PYCOMPILE_H

#include <stddef.h>
#include "lade/error.h"
#include "lade/util.h"

struct lade_pyc_compiler; /* opaque */

/* Find the compiler for Python `version` ("3.11"): `compiler` when given (a path, or a name
 * looked up on PATH), else the first "python3.11" on PATH. Files that start with "#!" (a
 * script, such as pyenv's shims, would need to start other programs) are skipped on PATH and
 * refused when named. Returns the absolute path (new string), or NULL with *err saying what was
 * looked for ("no python3.11 on PATH (…)"; the caller adds how to change it). */
char *lade_pyc_compiler_find(const char *compiler, const char *version, struct lade_error **err);

/* Start the helper at `path` (absolute) for Python `version`: checks the interpreter's version
 * is `version`. Must be called before lade_sandbox_enter(). Errors: cannot start, the helper
 * exited, another version ("PATH is Python 3.12, not 3.11"). */
int lade_pyc_compiler_start(const char *path, const char *version, struct lade_pyc_compiler **out,
                            struct lade_error **err);
/* Ends the helper (closes its pipes, reaps it). NULL is fine. */
void lade_pyc_compiler_free(struct lade_pyc_compiler *c);
void lade_pyc_compiler_freep(struct lade_pyc_compiler **c);

const char *lade_pyc_compiler_path(const struct lade_pyc_compiler *c);
const char *lade_pyc_compiler_pyversion(const struct lade_pyc_compiler *c); /* "3.11" */
/* The interpreter's full version string (sys.version), for the layer cache key. */
const char *lade_pyc_compiler_version(const struct lade_pyc_compiler *c);
/* sys.implementation.cache_tag: "cpython-311". */
const char *lade_pyc_compiler_cache_tag(const struct lade_pyc_compiler *c);

/* Compile `src` (n bytes, a .py file's bytes: encoding cookies and BOMs are honoured) whose
 * image path is `image_path` (absolute: it becomes co_filename) at optimisation level
 * `optimize` (0-2). Returns 0 with the .pyc bytes in *pyc (reset first), 1 when the source
 * does not compile (*failure: "SyntaxError: … (line N)", new string: pip skips such files),
 * -1 when the helper failed (it is then unusable). */
int lade_pyc_compile(struct lade_pyc_compiler *c, const char *image_path, const void *src, size_t n,
                     int optimize, struct lade_buf *pyc, char **failure, struct lade_error **err);

/* Compile n sources in one stream: a writer thread sends them (source(ctx, i, &path, buf)
 * fills the image path and the bytes of source i, called from that thread in order 0..n-1)
 * while this thread reads the answers and hands each to answer(ctx, i, status, data, len) in
 * order (status 0: data is the canonical pyc; 1: the failure text). The helper never waits
 * for lade between files, which matters on a loaded machine. Errors: the first error of a
 * callback or of the helper; the answers delivered before it stand. */
int lade_pyc_compile_many(struct lade_pyc_compiler *c, size_t n, int optimize,
                          int (*source)(void *ctx, size_t i, const char **path,
                                        struct lade_buf *src, struct lade_error **err),
                          int (*answer)(void *ctx, size_t i, int status, const char *data,
                                        size_t len, struct lade_error **err),
                          void *ctx, struct lade_error **err);

/* importlib.util.cache_from_source: "d/x.py" → "d/__pycache__/x.cpython-311.pyc" (or
 * ".opt-N.pyc"). New string. */
char *lade_pyc_path(const char *py_path, const char *cache_tag, int optimize);

/* Make a .pyc's marshal data canonical in place: marshal flags an object for back-references
 * (FLAG_REF) when its reference count is above one, which depends on what else the process
 * holds (cpython #78274, #98819, #129724). The flag is kept only on objects that are referred
 * back to, and the references are renumbered; the pyc loads to the same objects. `version` is
 * the Python version ("3.11"; 3.8 and later): code objects are laid out per version. Errors:
 * data that is not a pyc marshal stream lade understands (named by offset). */
int lade_pyc_canonicalize(void *pyc, size_t n, const char *version, struct lade_error **err);

#endif
