/* lade — installing an opened wheel into layer entries, producing the tree that
 * `pip install --no-deps --no-index` produces (with --no-compile unless a compiler is given) in a
 * virtualenv: root members under purelib/platlib, NAME-VER.data/<key>/ under the scheme path of
 * key, #!python scripts rewritten (first line replaced by "#!<interpreter>", mode from the zip as
 * pip does), console/gui script wrappers written as pip's vendored distlib writes them, and a
 * dist-info with INSTALLER, REQUESTED (when requested) and a regenerated RECORD.
 *
 * Verbatim members are not extracted: their entries carry the RECORD sha256 and stream the
 * bytes out of the zip when the layer is written (the hash is checked then, a mismatch fails
 * the write). Ownership: those entries point at the wheel (ops_ctx), so the caller must keep
 * the struct lade_wheel open until every layer holding them has been written and freed. */
#ifndef LADE_INSTALL_H
#define LADE_INSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lade/error.h"
#include "lade/layer.h"
#include "lade/pycompile.h"
#include "lade/tree.h"
#include "lade/wheel.h"

/* Where the parts of a wheel go. All paths are normalised image paths (no leading '/'). */
struct lade_install_scheme {
	char *purelib;     /* "opt/venv/lib/python3.11/site-packages" */
	char *platlib;     /* same in a venv */
	char *scripts;     /* "opt/venv/bin" */
	char *headers;     /* "opt/venv/include/site/python3.11": the install appends "/<Name>" */
	char *data;        /* "opt/venv" */
	char *interpreter; /* absolute, for shebangs: "/opt/venv/bin/python" */
	/* "3.11", the interpreter's X.Y: pip writes the versioned wrappers of a "pip" or
	 * "easy_install" console script for it (pip3.11, easy_install-3.11) in place of the ones
	 * the wheel was built with. NULL: every console script as the wheel names it. */
	char *py_version;
	uint32_t uid, gid; /* owner of every installed entry */
	/* NULL-terminated globs (lade_glob_match), may be NULL. An installed file is dropped
	 * (and not listed in RECORD) when a glob matches its path relative to the site-packages
	 * directory it lands in (e.g. "*.pyi", "pkg/tests")
	 * or its whole image path (e.g. "opt/venv/bin/foo"). The generated INSTALLER, REQUESTED
	 * and RECORD are never excluded. */
	char **exclude;
	/* Bytecode as pip's compile step writes it (borrowed, NULL: none, `pip install
	 * --no-compile`): every installed file ending in ".py" gets
	 * <dir>/__pycache__/<name>.<cache tag>[.opt-N].pyc, listed in RECORD as "path,," as pip
	 * lists it; a file that does not compile is skipped with a note. */
	struct lade_pyc_compiler *compiler;
	int optimize; /* 0-2 */
	/* Where a wheel's compiled bytecode is kept between builds (the layer cache), may be NULL:
	 * without it a rebuild compiles every file again. key is 64 hex digits naming the
	 * compiler's version, the level and every compiled file's image path and content hash;
	 * get returns 1 with the bytes put for that key in *out, 0 when it has none; put may fail
	 * silently. */
	int (*memo_get)(void *ctx, const char *key, struct lade_buf *out);
	void (*memo_put)(void *ctx, const char *key, const void *data, size_t len);
	void *memo_ctx;
};

/* Fill s for a venv at image path `venv` ("/opt/venv" or "opt/venv") and python "3.11".
 * uid/gid 0, no excludes. Errors: invalid venv path or version. Release with
 * lade_install_scheme_release. */
int lade_install_scheme_venv(const char *venv, const char *py_version,
                             struct lade_install_scheme *s, struct lade_error **err);
void lade_install_scheme_release(struct lade_install_scheme *s);

/* Fill s for installing into the base interpreter's own site directory, as `pip install` run
 * as root by `interpreter` (absolute image path, e.g. "/usr/local/bin/python3.11") would.
 * PREFIX is the interpreter path's grandparent (its directory must be named "bin"); base is the
 * base image's tree, looked up through its symlinks:
 *  - PREFIX/lib/pythonX.Y/EXTERNALLY-MANAGED present: refused (PEP 668), as pip refuses;
 *  - PREFIX/lib/pythonX.Y/site-packages a directory (python.org builds): purelib = platlib =
 *    that, scripts PREFIX/bin, data PREFIX, headers PREFIX/include/pythonX.Y;
 *  - else PREFIX /usr with /usr/lib/python3/dist-packages (Debian's python3): Debian's
 *    posix_local scheme as its pip uses it: purelib = platlib =
 *    /usr/local/lib/pythonX.Y/dist-packages, scripts /usr/local/bin, data /usr/local, headers
 *    /usr/include/pythonX.Y (sysconfig's "include" of that scheme);
 *  - else an error naming the interpreter and the paths looked for.
 * interpreter (for shebangs) is the given path; uid/gid 0, no excludes. Errors are not
 * prefixed with a recipe position (the caller adds it). Release with
 * lade_install_scheme_release. */
int lade_install_scheme_system(const char *interpreter, const char *py_version,
                               const struct lade_tree *base, struct lade_install_scheme *s,
                               struct lade_error **err);

/* Is distribution `name` (any spelling, compared PEP 503 normalised) installed in the base
 * directory `site_dir` (a scheme's purelib), i.e. is there a directory NAME-VER.dist-info?
 * Returns 0 when not, 1 when with `version` (PEP 440 equal, as pip's "==": "1.0" is "1.0.0")
 * and sets *dist_info to its path under site_dir (new string). Another version is an error naming
 * both versions and the dist-info ("... lade does not uninstall from a base image: lock VER, or use
 * venv:"): pip would uninstall it, lade never changes what the base holds. */
int lade_install_base_dist(const struct lade_tree *base, const char *site_dir, const char *name,
                           const char *version, char **dist_info, struct lade_error **err);

struct lade_install_info {
	char *name;           /* METADATA Name */
	char *version;        /* METADATA Version, PEP 440 normalised when it parses */
	char **requires_dist; /* NULL-terminated copy */
	char *license;        /* License-Expression, else License, else NULL */
	char *dist_info;      /* installed dist-info path, e.g. "opt/venv/lib/.../x-1.dist-info" */
	size_t files;         /* regular files installed (generated ones included) */
	uint64_t bytes;       /* their total size */
	char **notes; /* NULL-terminated, or NULL: what was changed on the way, e.g. "wheel F
	               * member M: setuid/setgid bits dropped (mode 04755 installed as 0755)" */
};
void lade_install_info_release(struct lade_install_info *info);

/* Add the entries of wheel w installed with scheme to layer. `requested` writes the empty
 * REQUESTED file (pip marks every requirement named on the command line or in a -r file).
 * info may be NULL. Errors name the wheel (and member): unknown .data keys ("wheel X: unknown
 * .data directory 'foo'"), invalid entry points, oversized #!python scripts, member content
 * read errors, and layer conflicts. On error the layer may hold some of the wheel's entries. */
int lade_wheel_install(struct lade_wheel *w, const struct lade_install_scheme *scheme,
                       bool requested, struct lade_layer *layer, struct lade_install_info *info,
                       struct lade_error **err);

/* The wrapper pip writes for an entry point (exposed for tests and `lade inspect`): shebang for
 * interpreter (simple when "#!" + interpreter + "\n" fits in 127 bytes and has no space, else
 * the /bin/sh trampoline), then distlib's script template. Returns a new string. */
char *lade_install_script_text(const char *interpreter, const char *module, const char *attr);

#endif
