/* lade — the skeleton of a virtualenv as `python3 -m venv --without-pip` lays it out on Linux:
 *
 *   <venv>/                      dir
 *   <venv>/bin/                  dir
 *   <venv>/bin/python            -> <interpreter> (absolute symlink)
 *   <venv>/bin/python3           -> python
 *   <venv>/bin/python<X.Y>       -> python
 *   <venv>/include/              dir
 *   <venv>/lib/python<X.Y>/site-packages/   dirs
 *   <venv>/lib64                 -> lib
 *   <venv>/pyvenv.cfg
 *
 * No activate scripts: they are interactive shell conveniences that hard-code host paths and
 * mutate the caller's shell; in an image PATH and VIRTUAL_ENV are set in the image config
 * instead (lade_venv_env), which is all `activate` does that matters to a container. */
#ifndef LADE_VENV_H
#define LADE_VENV_H

#include <stdint.h>
#include "lade/error.h"
#include "lade/layer.h"

/* Add the venv skeleton entries to layer. venv is an absolute image path ("/opt/venv"),
 * interpreter the absolute path of the base's python ("/usr/bin/python3.11"), py_version
 * "X.Y". Directories and pyvenv.cfg are owned by uid:gid, modes 0755 / 0644. pyvenv.cfg:
 *   home = <dirname of interpreter>
 *   include-system-site-packages = false
 *   version = <py_version>
 *   executable = <interpreter>
 *   command = <interpreter> -m venv <venv>
 * Errors: relative or invalid venv/interpreter path, malformed version, layer conflicts. */
int lade_venv_add(struct lade_layer *layer, const char *venv, const char *interpreter,
                  const char *py_version, uint32_t uid, uint32_t gid, struct lade_error **err);

/* The venv directory as a normalised image path ("/opt/venv/" -> "opt/venv"), after checking
 * that py_version is "X.Y" (digits). Shared by lade_venv_add() and lade_install_scheme_venv()
 * so both accept and refuse the same input with the same words. Returns a new string, or NULL
 * with *err set: malformed version, a venv path that climbs above the root, or one that is
 * the image root. */
char *lade_venv_root(const char *venv, const char *py_version, struct lade_error **err);

/* PATH for the image: "<venv>/bin:" + base_path (the base image's PATH, or the Docker default
 * "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" when NULL or empty). The venv
 * bin directory is not added twice when base_path already starts with it. New string. */
char *lade_venv_path_env(const char *venv, const char *base_path_or_null);

/* The environment the image config gets for a venv, as NULL-terminated "KEY=value" strings:
 * "PATH=..." (lade_venv_path_env) and "VIRTUAL_ENV=<venv>". Caller frees with lade_strv_free.
 * The caller merges these over the base image's Env (replacing its PATH). */
char **lade_venv_env(const char *venv, const char *base_path_or_null);

#endif
