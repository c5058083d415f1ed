/* lade — lazy-pull options of an image and the default eStargz prefetch list (see
 * assembler/lazy-options.h). */
#include <inttypes.h>
#include <string.h>

#include "lazy-options.h"
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

int lade_lazy_choice(const char *cli, const struct lade_recipe *r, enum lade_compression comp,
                     enum lade_lazy *lazy, char ***prefetch, struct lade_error **err)
{
	const char *name = cli ? cli : r->output.lazy ? r->output.lazy : "none";
	if (lade_lazy_parse(name, lazy) < 0)
		return lade_error_set(
		        err, 0, "unknown lazy format '%s' (estargz, zstd-chunked or none)", name);
	if (*lazy == LADE_LAZY_ESTARGZ && comp != LADE_COMPRESS_GZIP)
		return lade_error_set(err, 0, "%s: eStargz layers are gzip layers, not %s", r->path,
		                      lade_compression_name(comp));
	if (*lazy == LADE_LAZY_ZSTD_CHUNKED && comp != LADE_COMPRESS_ZSTD)
		return lade_error_set(err, 0,
		                      "%s: zstd:chunked layers are zstd layers, not %s "
		                      "(--compression zstd)",
		                      r->path, lade_compression_name(comp));
	lade_strv_free(*prefetch);
	/* zstd:chunked has no landmark: no prefetch list */
	*prefetch = *lazy == LADE_LAZY_ESTARGZ ? lade_prefetch_globs(r) : NULL;
	return 0;
}

void lade_lazy_annotate(json_t *annotations, const struct lade_build_layer *l)
{
	if (annotations == NULL || l->toc_digest[0] == '\0')
		return;
	if (l->toc_position[0]) {
		json_object_set_new(annotations, LADE_ZSTD_CHUNKED_ANNOTATION_CHECKSUM,
		                    json_string(l->toc_digest));
		json_object_set_new(annotations, LADE_ZSTD_CHUNKED_ANNOTATION_POSITION,
		                    json_string(l->toc_position));
		return;
	}
	_cleanup_free_ char *usize = xasprintf("%" PRIu64, l->tar_size);
	json_object_set_new(annotations, LADE_ESTARGZ_ANNOTATION_TOC_DIGEST,
	                    json_string(l->toc_digest));
	json_object_set_new(annotations, LADE_ESTARGZ_ANNOTATION_UNCOMPRESSED_SIZE,
	                    json_string(usize));
}
