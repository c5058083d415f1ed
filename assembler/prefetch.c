/* lade — the default eStargz prefetch list (see assembler/prefetch.h). */
#include <string.h>

#include "prefetch.h"
#include "lade/util.h"

static const char *const defaults[] = {
        "**/*.dist-info/**", "**/__init__.py", "**/__pycache__/__init__.*.pyc",
        "**/*.pth",          "**/pyvenv.cfg",
};

/* `-m a.b`: the module wherever it is installed (site-packages or an app directory). */
static void add_module(char ***globs, const char *module)
{
	_cleanup_free_ char *path = xstrdup(module);
	for (char *p = path; *p; p++)
		if (*p == '.')
			*p = '/';
	_cleanup_free_ char *dir = lade_path_dirname(path);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	_cleanup_free_ char *py = xasprintf("**/%s.py", path);
	_cleanup_free_ char *pyc = dir[0] ? xasprintf("**/%s/__pycache__/%s.*.pyc", dir, base)
	                                  : xasprintf("**/__pycache__/%s.*.pyc", base);
	_cleanup_free_ char *pkg = xasprintf("**/%s/**", path);
	lade_strv_push(globs, py);
	lade_strv_push(globs, pyc);
	lade_strv_push(globs, pkg);
}

/* A script: itself and what sits beside it (sys.path[0], where its first imports come from). */
static void add_script(char ***globs, const char *script)
{
	while (*script == '/')
		script++;
	if (*script == '\0')
		return;
	_cleanup_free_ char *dir = lade_path_dirname(script);
	lade_strv_push(globs, script);
	if (dir[0] == '\0')
		return; /* a script at / : its neighbours are the whole root */
	_cleanup_free_ char *py = xasprintf("%s/*.py", dir);
	_cleanup_free_ char *pyc = xasprintf("%s/__pycache__/*.pyc", dir);
	lade_strv_push(globs, py);
	lade_strv_push(globs, pyc);
}

static void add_argv(char ***globs, char *const *argv)
{
	for (size_t i = 0; argv && argv[i]; i++) {
		size_t len = strlen(argv[i]);
		if (strcmp(argv[i], "-m") == 0 && argv[i + 1] != NULL)
			add_module(globs, argv[++i]);
		else if (len > 3 && strcmp(argv[i] + len - 3, ".py") == 0 && !strchr(argv[i], '*'))
			add_script(globs, argv[i]);
	}
}

char **lade_prefetch_globs(const struct lade_recipe *r)
{
	char **globs = NULL;
	for (size_t i = 0; i < LADE_ARRAY_SIZE(defaults); i++)
		lade_strv_push(&globs, defaults[i]);
	add_argv(&globs, r->config.entrypoint);
	add_argv(&globs, r->config.cmd);
	for (char **g = r->output.prefetch; g && *g; g++)
		lade_strv_push(&globs, *g);
	return globs;
}
