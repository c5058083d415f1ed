/* lade — the bytecode helpers of a build: one long-lived compiler per (python.compiler,
 * python.version) of the variants built, started before lade's sandbox (which forbids
 * starting processes). */
#include <stdlib.h>
#include <string.h>

#include "build-private.h"
#include "lade/pycompile.h"
#include "lade/util.h"

struct build_compiler {
	char *name;    /* python.compiler, or NULL */
	char *version; /* python.version */
	struct lade_pyc_compiler *pc;
};

struct lade_build_compilers {
	struct build_compiler *v;
	size_t n, alloc;
};

void lade_build_compilers_free(struct lade_build_compilers *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].version);
		lade_pyc_compiler_free(s->v[i].pc);
	}
	free(s->v);
	free(s);
}

void lade_build_compilers_freep(struct lade_build_compilers **s)
{
	lade_build_compilers_free(*s);
}

struct lade_pyc_compiler *build_compiler_for(const struct lade_build_compilers *s,
                                             const struct lade_recipe_python *py)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct build_compiler *b = &s->v[i];
		if (strcmp(b->version, py->version) == 0 &&
		    (b->name == NULL) == (py->compiler == NULL) &&
		    (b->name == NULL || strcmp(b->name, py->compiler) == 0))
			return b->pc;
	}
	return NULL;
}

static int start_compiler(struct lade_build_compilers *s, const struct lade_recipe *r,
                          struct lade_error **err)
{
	const struct lade_recipe_python *py = &r->python;
	if (!py->present || !py->compile || py->version == NULL || build_compiler_for(s, py))
		return 0;
	int line = py->compiler ? py->compiler_line : py->line;
	int column = py->compiler ? py->compiler_column : py->column;
	/* a path is the recipe's, like its other host paths; a name is looked up on PATH */
	_cleanup_free_ char *named =
	        py->compiler && strchr(py->compiler, '/') && py->compiler[0] != '/'
	                ? lade_path_join(r->dir, py->compiler)
	                : NULL;
	_cleanup_free_ char *path =
	        lade_pyc_compiler_find(named ? named : py->compiler, py->version, err);
	if (path == NULL)
		return lade_error_prefix(
		        err,
		        "%s:%d:%d: python.compile: set python.compiler to a Python "
		        "%s interpreter, or python.compile: false",
		        r->path, line, column, py->version);
	struct lade_pyc_compiler *pc = NULL;
	if (lade_pyc_compiler_start(path, py->version, &pc, err) < 0)
		return lade_error_prefix(err, "%s:%d:%d: python.compile", r->path, line, column);
	lade_grow(&s->v, sizeof(*s->v), s->n + 1, &s->alloc);
	s->v[s->n++] = (struct build_compiler){
	        .name = py->compiler ? xstrdup(py->compiler) : NULL,
	        .version = xstrdup(py->version),
	        .pc = pc,
	};
	return 0;
}

int lade_build_start_compilers(const struct lade_build_options *o,
                               struct lade_build_compilers **out, struct lade_error **err)
{
	_cleanup_(lade_build_compilers_freep) struct lade_build_compilers *s = xzalloc(sizeof(*s));
	_cleanup_strv_ char **variants = NULL;
	_cleanup_free_ char *def = NULL;
	if (lade_recipe_variants(o->recipe_path, &variants, &def, err) < 0)
		return -1;
	size_t n = lade_strv_len(variants);
	for (size_t i = 0; i < (n ? n : 1); i++) {
		if (n && !build_wanted(o, variants[i]))
			continue;
		_cleanup_(lade_recipe_freep) struct lade_recipe *r = NULL;
		if (lade_recipe_load(o->recipe_path, n ? variants[i] : NULL, &r, err) < 0 ||
		    start_compiler(s, r, err) < 0)
			return -1;
	}
	*out = steal_pointer(&s);
	return 0;
}
