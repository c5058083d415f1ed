/* lade — the virtualenv skeleton and its image environment (see include/lade/venv.h). */
#include <ctype.h>
#include <string.h>

#include "lade/venv.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int add(struct lade_layer *layer, const char *root, const char *rel,
               enum lade_entry_type type, uint32_t mode, uint32_t uid, uint32_t gid,
               const char *link, const char *data, struct lade_error **err)
{
	_cleanup_free_ char *path = lade_path_join(root, rel);
	struct lade_entry *e = lade_entry_new(path, type, "venv");
	e->mode = mode;
	e->uid = uid;
	e->gid = gid;
	if (link)
		e->link = xstrdup(link);
	if (data) {
		lade_buf_adds(&e->data, data);
		e->size = e->data.len;
	}
	return lade_layer_add(layer, e, err);
}

static bool version_ok(const char *v)
{
	const char *dot = strchr(v, '.');
	if (dot == NULL || dot == v || dot[1] == '\0')
		return false;
	for (const char *p = v; *p; p++)
		if (p != dot && !isdigit((unsigned char)*p))
			return false;
	return true;
}

char *lade_venv_root(const char *venv, const char *py_version, struct lade_error **err)
{
	if (!version_ok(py_version)) {
		lade_error_set(err, 0, "python version '%s' is not of the form X.Y", py_version);
		return NULL;
	}
	_cleanup_free_ char *root = lade_path_normalize(venv, err);
	if (root == NULL) {
		lade_error_prefix(err, "venv path %s", venv);
		return NULL;
	}
	if (*root == '\0') {
		lade_error_set(err, 0, "venv path '%s' is the image root", venv);
		return NULL;
	}
	return steal_pointer(&root);
}

int lade_venv_add(struct lade_layer *layer, const char *venv, const char *interpreter,
                  const char *py_version, uint32_t uid, uint32_t gid, struct lade_error **err)
{
	if (venv == NULL || venv[0] != '/')
		return lade_error_set(err, 0, "venv path '%s' is not absolute", venv ? venv : "");
	if (interpreter == NULL || interpreter[0] != '/')
		return lade_error_set(err, 0, "python interpreter '%s' is not an absolute path",
		                      interpreter ? interpreter : "");
	_cleanup_free_ char *root = lade_venv_root(venv, py_version, err);
	if (root == NULL)
		return -1;
	_cleanup_free_ char *interp = lade_path_normalize(interpreter, err);
	if (interp == NULL)
		return lade_error_prefix(err, "python interpreter %s", interpreter);
	if (*interp == '\0')
		return lade_error_set(err, 0, "python interpreter '%s' is not a file path",
		                      interpreter);
	_cleanup_free_ char *home = lade_path_dirname(interp);
	_cleanup_free_ char *cfg = xasprintf("home = /%s\n"
	                                     "include-system-site-packages = false\n"
	                                     "version = %s\n"
	                                     "executable = /%s\n"
	                                     "command = /%s -m venv /%s\n",
	                                     home, py_version, interp, interp, root);
	_cleanup_free_ char *lib = xasprintf("lib/python%s", py_version);
	_cleanup_free_ char *site = xasprintf("lib/python%s/site-packages", py_version);
	_cleanup_free_ char *pyx = xasprintf("bin/python%s", py_version);
	_cleanup_free_ char *abs_interp = xasprintf("/%s", interp);

	if (add(layer, root, "", LADE_ENTRY_DIR, 0755, uid, gid, NULL, NULL, err) < 0 ||
	    add(layer, root, "bin", LADE_ENTRY_DIR, 0755, uid, gid, NULL, NULL, err) < 0 ||
	    add(layer, root, "bin/python", LADE_ENTRY_SYMLINK, 0777, uid, gid, abs_interp, NULL,
	        err) < 0 ||
	    add(layer, root, "bin/python3", LADE_ENTRY_SYMLINK, 0777, uid, gid, "python", NULL,
	        err) < 0 ||
	    add(layer, root, pyx, LADE_ENTRY_SYMLINK, 0777, uid, gid, "python", NULL, err) < 0 ||
	    add(layer, root, "include", LADE_ENTRY_DIR, 0755, uid, gid, NULL, NULL, err) < 0 ||
	    add(layer, root, "lib", LADE_ENTRY_DIR, 0755, uid, gid, NULL, NULL, err) < 0 ||
	    add(layer, root, lib, LADE_ENTRY_DIR, 0755, uid, gid, NULL, NULL, err) < 0 ||
	    add(layer, root, site, LADE_ENTRY_DIR, 0755, uid, gid, NULL, NULL, err) < 0 ||
	    add(layer, root, "lib64", LADE_ENTRY_SYMLINK, 0777, uid, gid, "lib", NULL, err) < 0 ||
	    add(layer, root, "pyvenv.cfg", LADE_ENTRY_FILE, 0644, uid, gid, NULL, cfg, err) < 0)
		return lade_error_prefix(err, "venv %s", venv);
	return 0;
}

char *lade_venv_path_env(const char *venv, const char *base_path_or_null)
{
	const char *base =
	        base_path_or_null && *base_path_or_null ? base_path_or_null : DEFAULT_PATH;
	size_t n = strlen(venv);
	while (n > 1 && venv[n - 1] == '/')
		n--;
	_cleanup_free_ char *bin = xasprintf("%.*s/bin", (int)n, venv);
	size_t bl = strlen(bin);
	if (strncmp(base, bin, bl) == 0 && (base[bl] == ':' || base[bl] == '\0'))
		return xstrdup(base);
	return xasprintf("%s:%s", bin, base);
}

char **lade_venv_env(const char *venv, const char *base_path_or_null)
{
	char **env = NULL;
	_cleanup_free_ char *path = lade_venv_path_env(venv, base_path_or_null);
	_cleanup_free_ char *p = xasprintf("PATH=%s", path);
	size_t n = strlen(venv);
	while (n > 1 && venv[n - 1] == '/')
		n--;
	_cleanup_free_ char *v = xasprintf("VIRTUAL_ENV=%.*s", (int)n, venv);
	lade_strv_push(&env, p);
	lade_strv_push(&env, v);
	return env;
}
