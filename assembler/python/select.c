/* Wheel selection. Like pip with --require-hashes and --no-index --find-links: the best
 * candidate is chosen first and must then match a locked hash; a mismatch is an error, never a
 * reason to fall back to a worse wheel. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/digest.h"
#include "lade/hashmap.h"
#include "lade/pep440.h"
#include "lade/pep508.h"
#include "lade/select.h"
#include "lade/statcache.h"
#include "lade/util.h"

#define MAX_CANDIDATE_LINES 50

struct cand {
	size_t dir; /* wheelhouse index */
	char *filename;
	char *path;
	struct lade_wheel_name wn;
	struct lade_version *v;
	long rank;
};

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_cands(struct cand *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].filename);
		free(c[i].path);
		lade_wheel_name_release(&c[i].wn);
		lade_version_free(c[i].v);
	}
	free(c);
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* All parseable *.whl regular files of the wheelhouses, in wheelhouse then byte order. */
static int list_wheels(char *const *dirs, const struct lade_tags *tags, struct cand **out,
                       size_t *n_out, struct lade_error **err)
{
	struct cand *c = NULL;
	size_t n = 0, alloc = 0;

	for (size_t di = 0; dirs && dirs[di]; di++) {
		_cleanup_(closedirp) DIR *d = opendir(dirs[di]);
		if (!d) {
			free_cands(c, n);
			return lade_error_set(err, errno, "cannot open wheelhouse %s", dirs[di]);
		}
		char **names = NULL;
		size_t nn = 0, na = 0;
		struct dirent *de;
		errno = 0;
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			if (l > 4 && strcmp(de->d_name + l - 4, ".whl") == 0) {
				lade_grow(&names, sizeof(char *), nn + 1, &na);
				names[nn++] = xstrdup(de->d_name);
			}
			errno = 0;
		}
		int rerr = errno;
		qsort(names, nn, sizeof(char *), cmp_strp);
		for (size_t i = 0; i < nn; i++) {
			_cleanup_free_ char *name = names[i];
			_cleanup_free_ char *path = lade_path_join(dirs[di], name);
			struct stat st;
			struct lade_wheel_name wn;
			if (rerr || stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
			    lade_wheel_name_parse(name, &wn, NULL) < 0)
				continue;
			lade_grow(&c, sizeof(*c), n + 1, &alloc);
			c[n] = (struct cand){
			        .dir = di, .wn = wn, .rank = lade_tags_rank(tags, wn.tag)};
			c[n].filename = steal_pointer(&name);
			c[n].path = steal_pointer(&path);
			(void)lade_version_parse(wn.version, &c[n].v, NULL);
			n++;
		}
		free(names);
		if (rerr) {
			free_cands(c, n);
			return lade_error_set(err, rerr, "cannot read wheelhouse %s", dirs[di]);
		}
	}
	*out = c;
	*n_out = n;
	return 0;
}

void lade_selected_free(struct lade_selected *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		free(s[i].path);
		free(s[i].filename);
		free(s[i].name);
		free(s[i].version);
	}
	free(s);
}

/* Better candidate: the exact pinned version before a local variant admitted by "==V", then
 * the tag rank; earlier wheelhouse and file name win ties by iteration order. */
static bool better(const struct cand *a, bool a_exact, const struct cand *b, bool b_exact)
{
	if (a_exact != b_exact)
		return a_exact;
	return a->rank < b->rank;
}

static bool strv_has(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

/* The chosen file's sha256 (into digest) is locked for it: a TOML lock has one hash per
 * file, a requirements file a set for the requirement. */
static bool hash_ok(const struct lade_lock_req *req, const struct cand *best,
                    struct lade_stat_cache *sc, char digest[LADE_DIGEST_STRLEN],
                    struct lade_problems *pr)
{
	_cleanup_error_ struct lade_error *herr = NULL;
	if (lade_stat_cache_sha256(sc, best->path, true, digest, &herr) < 0) {
		lade_problems_add(pr, "%s: %s", req->where, herr->msg);
		return false;
	}
	const char *hex = lade_digest_hex(digest);
	for (size_t i = 0; req->sha256 && req->sha256[i]; i++)
		if (strcmp(req->sha256[i], hex) == 0 &&
		    (!req->filenames || strcmp(req->filenames[i], best->filename) == 0))
			return true;
	lade_problems_add(pr, "%s: %s%s%s%s has %s which is not %s", req->where,
	                  req->filenames ? "package " : "", req->filenames ? req->name_text : "",
	                  req->filenames ? ": " : "", best->filename, digest,
	                  req->filenames ? "its locked hash" : "among the locked hashes");
	return false;
}

static void select_one(const struct lade_lock_req *req, char *const *dirs, const struct cand *c,
                       size_t nc, const char *desc, struct lade_stat_cache *sc,
                       struct lade_selected *out, bool *selected, struct lade_problems *pr)
{
	_cleanup_free_ char *spec_text = xasprintf("==%s", req->version);
	_cleanup_(lade_specifier_freep) struct lade_specifier *spec = NULL;
	_cleanup_(lade_version_freep) struct lade_version *pin = NULL;
	*selected = false;
	if (lade_specifier_parse(spec_text, &spec, NULL) < 0 ||
	    lade_version_parse(req->version, &pin, NULL) < 0) {
		lade_problems_add(pr, "%s: invalid pinned version '%s'", req->where, req->version);
		return;
	}

	const struct cand *best = NULL;
	bool best_exact = false;
	struct lade_buf why = LADE_BUF_INIT;
	size_t named = 0;
	for (size_t i = 0; i < nc; i++) {
		const struct cand *k = &c[i];
		if (strcmp(k->wn.name, req->name) != 0)
			continue;
		/* a TOML lock names its files: others are not candidates */
		if (req->filenames && !strv_has(req->filenames, k->filename))
			continue;
		named++;
		bool line = named <= MAX_CANDIDATE_LINES;
		if (!k->v || !lade_specifier_contains(spec, k->v, LADE_SPEC_PRERELEASES)) {
			if (line)
				lade_buf_addf(&why, "\n  %s: version %s != %s", k->path,
				              k->wn.version, req->version);
			continue;
		}
		if (k->rank < 0) {
			if (line)
				lade_buf_addf(&why, "\n  %s: tag %s not supported by %s", k->path,
				              k->wn.tag, desc);
			continue;
		}
		bool exact = lade_version_cmp(k->v, pin) == 0;
		if (!best || better(k, exact, best, best_exact)) {
			best = k;
			best_exact = exact;
		}
	}
	if (named > MAX_CANDIDATE_LINES)
		lade_buf_addf(&why, "\n  … and %zu more", named - MAX_CANDIDATE_LINES);

	if (!named) {
		struct lade_buf where = LADE_BUF_INIT;
		for (size_t i = 0; dirs && dirs[i]; i++)
			lade_buf_addf(&where, "%s%s", i ? ", " : "", dirs[i]);
		lade_problems_add(pr, "%s: no wheel %s %s in wheelhouse %s", req->where,
		                  req->filenames ? "locked for" : "named", req->name_text,
		                  where.len ? where.data : "(none given)");
		lade_buf_release(&where);
	} else if (!best) {
		lade_problems_add(pr, "%s: no compatible wheel for %s==%s:%s", req->where,
		                  req->name_text, req->version, why.data);
	}
	lade_buf_release(&why);
	if (!best)
		return;

	char digest[LADE_DIGEST_STRLEN];
	if (!hash_ok(req, best, sc, digest, pr))
		return;
	const char *hex = lade_digest_hex(digest);
	out->path = xstrdup(best->path);
	out->filename = xstrdup(best->filename);
	out->name = xstrdup(best->wn.name);
	out->version = xstrdup(best->wn.version);
	snprintf(out->sha256_hex, sizeof(out->sha256_hex), "%s", hex);
	out->req = req;
	*selected = true;
}

/* The target's Python is within a requires-python specifier (a valid one: the lock
 * readers check). */
static bool python_ok(const char *requires_python, const struct lade_target *t)
{
	_cleanup_(lade_specifier_freep) struct lade_specifier *s = NULL;
	_cleanup_(lade_version_freep) struct lade_version *v = NULL;
	return lade_specifier_parse(requires_python, &s, NULL) < 0 ||
	       lade_version_parse(t->python_full, &v, NULL) < 0 ||
	       lade_specifier_contains(s, v, LADE_SPEC_PRERELEASES);
}

/* The lock's requires-python and environments (TOML locks) hold for the target. */
static int lock_applies(const struct lade_lock *lock, const struct lade_target *t,
                        const struct lade_marker_env *env, const char *desc,
                        struct lade_problems *pr)
{
	if (lock->requires_python) {
		if (!python_ok(lock->requires_python, t)) {
			lade_problems_add(
			        pr, "%s: requires-python '%s' excludes the target's Python %s",
			        lock->requires_python_where, lock->requires_python, t->python_full);
			return -1;
		}
	}
	if (!lock->environments)
		return 0;
	for (char **m = lock->environments; *m; m++) {
		bool on = false;
		_cleanup_error_ struct lade_error *e = NULL;
		if (lade_marker_evaluate(*m, env, NULL, &on, &e) < 0) {
			lade_problems_add(pr, "%s: environments: %s", lock->environments_where,
			                  e->msg);
			return -1;
		}
		if (on)
			return 0;
	}
	lade_problems_add(pr, "%s: none of the lock's environments holds for %s",
	                  lock->environments_where, desc);
	return -1;
}

/* The node a uv.lock dependency leads to: the package of that name (and version, when given)
 * whose own marker holds; a project (no wheel) when the name is one. NULL: none. */
static const struct lade_lock_req *dep_target(const struct lade_lock *lock,
                                              const struct lade_lock_dep *d,
                                              const struct lade_marker_env *env, size_t *idx)
{
	for (size_t k = 0; k < lock->n_reqs; k++) {
		const struct lade_lock_req *r = &lock->reqs[k];
		if (strcmp(r->name, d->name) != 0 || (d->version && strcmp(r->version, d->version)))
			continue;
		bool on = true;
		if (r->marker && lade_marker_evaluate(r->marker, env, NULL, &on, NULL) < 0)
			on = false;
		if (on) {
			*idx = k;
			return r;
		}
	}
	for (size_t k = 0; k < lock->n_projects; k++)
		if (strcmp(lock->projects[k].name, d->name) == 0) {
			*idx = SIZE_MAX;
			return &lock->projects[k];
		}
	return NULL;
}

/* uv.lock: which packages the target needs, walking from the projects through the
 * dependencies whose markers hold (with the extras they ask for). *reach is NULL when the
 * lock has no graph: then every package whose marker holds is needed. */
static int lock_reach(const struct lade_lock *lock, const struct lade_marker_env *env, bool **reach,
                      struct lade_problems *pr)
{
	*reach = NULL;
	if (!lock->n_projects)
		return 0;
	struct item {
		const struct lade_lock_req *node;
		const char *extra;
	};
	struct item *work = NULL;
	size_t nw = 0, aw = 0;
	struct lade_hashmap *seen = lade_hashmap_new();
	bool *on = xcalloc(lock->n_reqs + 1, sizeof(bool));
	int r = 0;
	for (size_t i = 0; i < lock->n_projects; i++) {
		lade_grow(&work, sizeof(*work), nw + 1, &aw);
		work[nw++] = (struct item){&lock->projects[i], NULL};
	}
	while (nw && r == 0) {
		struct item it = work[--nw];
		for (size_t j = 0; j < it.node->n_deps; j++) {
			const struct lade_lock_dep *d = &it.node->deps[j];
			if ((d->extra == NULL) != (it.extra == NULL) ||
			    (d->extra && strcmp(d->extra, it.extra) != 0))
				continue;
			bool holds = true;
			_cleanup_error_ struct lade_error *e = NULL;
			if (d->marker &&
			    lade_marker_evaluate(d->marker, env, NULL, &holds, &e) < 0) {
				lade_problems_add(pr, "%s:%d:%d: %s", lock->path, d->line,
				                  d->column, e->msg);
				r = -1;
				break;
			}
			size_t idx;
			const struct lade_lock_req *to =
			        holds ? dep_target(lock, d, env, &idx) : NULL;
			if (!to)
				continue;
			if (idx != SIZE_MAX)
				on[idx] = true;
			/* the node itself, then each extra asked for, each once */
			for (size_t x = 0; x <= lade_strv_len(d->extras); x++) {
				const char *extra = x ? d->extras[x - 1] : NULL;
				_cleanup_free_ char *key =
				        xasprintf("%p/%s", (const void *)to, extra ? extra : "");
				if (lade_hashmap_get(seen, key))
					continue;
				lade_hashmap_put(seen, key, (void *)1);
				lade_grow(&work, sizeof(*work), nw + 1, &aw);
				work[nw++] = (struct item){to, extra};
			}
		}
	}
	free(work);
	lade_hashmap_free(seen, NULL);
	if (r < 0) {
		free(on);
		return -1;
	}
	*reach = on;
	return 0;
}

int lade_select_wheels(const struct lade_lock *lock, char *const *wheelhouses,
                       const struct lade_target *t, struct lade_stat_cache *sc,
                       struct lade_selected **out, size_t *n, struct lade_error **err)
{
	_cleanup_(lade_tags_freep) struct lade_tags *tags = lade_tags_generate(t);
	struct lade_marker_env env;
	struct cand *c = NULL;
	size_t nc = 0, ns = 0;
	bool *reach = NULL;
	char desc[128];
	struct lade_problems pr = LADE_PROBLEMS_INIT;

	lade_marker_env_init(&env, t);
	lade_target_describe(t, desc, sizeof(desc));
	if (list_wheels(wheelhouses, tags, &c, &nc, err) < 0)
		return -1;

	if (lock_applies(lock, t, &env, desc, &pr) < 0 || lock_reach(lock, &env, &reach, &pr) < 0) {
		free_cands(c, nc);
		return lade_problems_finish(&pr, err);
	}
	struct lade_selected *sel = xcalloc(lock->n_reqs + 1, sizeof(*sel));
	struct lade_hashmap *active = lade_hashmap_new();
	for (size_t i = 0; i < lock->n_reqs; i++) {
		const struct lade_lock_req *req = &lock->reqs[i];
		if (reach && !reach[i])
			continue;
		if (req->marker) {
			bool on = false;
			_cleanup_error_ struct lade_error *merr = NULL;
			if (lade_marker_evaluate(req->marker, &env, NULL, &on, &merr) < 0) {
				lade_problems_add(&pr, "%s: %s", req->where, merr->msg);
				continue;
			}
			if (!on)
				continue;
		}
		const struct lade_lock_req *other = lade_hashmap_get(active, req->name);
		if (other) {
			lade_problems_add(
			        &pr, "%s: %s is also required on line %d for %s (markers overlap)",
			        req->where, req->name_text, other->line, desc);
			continue;
		}
		lade_hashmap_put(active, req->name, (void *)req);
		if (req->requires_python && !python_ok(req->requires_python, t)) {
			lade_problems_add(&pr, "%s: package %s: requires-python '%s' excludes %s",
			                  req->where, req->name_text, req->requires_python, desc);
			continue;
		}
		if (req->sdist_only) {
			lade_problems_add(&pr,
			                  "%s: lade never builds: %s has no wheel (only an sdist)",
			                  req->where, req->name_text);
			continue;
		}
		bool selected;
		select_one(req, wheelhouses, c, nc, desc, sc, &sel[ns], &selected, &pr);
		if (selected)
			ns++;
	}
	lade_hashmap_free(active, NULL);
	free_cands(c, nc);
	free(reach);

	if (lade_problems_finish(&pr, err) < 0) {
		lade_selected_free(sel, ns);
		return -1;
	}
	*out = sel;
	*n = ns;
	return 0;
}
