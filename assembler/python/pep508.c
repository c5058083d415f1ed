/* PEP 508 requirements and markers, following packaging's _parser/_tokenizer grammar and
 * markers._evaluate_markers (and binds tighter than or), plus the dependency check. */
#include <string.h>

#include "lade/hashmap.h"
#include "lade/pep508.h"
#include "lade/util.h"

#define MARKER_MAX_DEPTH 64

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

bool lade_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || !is_alnum(name[0]) || !is_alnum(name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
			return false;
	return true;
}

void lade_marker_env_init(struct lade_marker_env *env, const struct lade_target *t)
{
	memset(env, 0, sizeof(*env));
	snprintf(env->os_name, sizeof(env->os_name), "posix");
	snprintf(env->sys_platform, sizeof(env->sys_platform), "%s", t->os);
	snprintf(env->platform_system, sizeof(env->platform_system), "Linux");
	snprintf(env->platform_machine, sizeof(env->platform_machine), "%s", t->arch);
	snprintf(env->python_version, sizeof(env->python_version), "%s", t->python_version);
	snprintf(env->python_full_version, sizeof(env->python_full_version), "%s", t->python_full);
	snprintf(env->implementation_name, sizeof(env->implementation_name), "cpython");
	snprintf(env->implementation_version, sizeof(env->implementation_version), "%s",
	         t->python_full);
	snprintf(env->platform_python_implementation, sizeof(env->platform_python_implementation),
	         "CPython");
}

/* ---- markers ---- */

struct mparser {
	const char *s; /* whole marker text */
	size_t pos;
	int depth;
	const struct lade_marker_env *env; /* NULL: syntax check only */
	const char *extra;
	struct lade_error **err;
};

static int mfail(struct mparser *mp, const char *what)
{
	return lade_error_set(mp->err, 0, "invalid marker '%s': %s at column %zu", mp->s, what,
	                      mp->pos + 1);
}

static void skip_ws(struct mparser *mp)
{
	while (is_ws(mp->s[mp->pos]))
		mp->pos++;
}

/* A keyword at pos with word boundaries on both sides. */
static bool at_word(struct mparser *mp, const char *w)
{
	size_t n = strlen(w);
	if (strncmp(mp->s + mp->pos, w, n) != 0 || is_word(mp->s[mp->pos + n]))
		return false;
	return mp->pos == 0 || !is_word(mp->s[mp->pos - 1]);
}

enum { VAL_STRING, VAL_VARIABLE };

struct mvalue {
	int kind;
	const char *text; /* string contents or canonical variable name */
	size_t len;
};

static const char *env_value(const struct lade_marker_env *env, const char *var, const char *extra)
{
	if (strcmp(var, "os_name") == 0)
		return env->os_name;
	if (strcmp(var, "sys_platform") == 0)
		return env->sys_platform;
	if (strcmp(var, "platform_system") == 0)
		return env->platform_system;
	if (strcmp(var, "platform_machine") == 0)
		return env->platform_machine;
	if (strcmp(var, "platform_release") == 0)
		return env->platform_release;
	if (strcmp(var, "platform_version") == 0)
		return env->platform_version;
	if (strcmp(var, "python_version") == 0)
		return env->python_version;
	if (strcmp(var, "python_full_version") == 0)
		return env->python_full_version;
	if (strcmp(var, "implementation_name") == 0)
		return env->implementation_name;
	if (strcmp(var, "implementation_version") == 0)
		return env->implementation_version;
	if (strcmp(var, "platform_python_implementation") == 0)
		return env->platform_python_implementation;
	return extra ? extra : ""; /* "extra" */
}

static int parse_value(struct mparser *mp, struct mvalue *v)
{
	static const struct {
		const char *spelling, *canonical;
	} vars[] = {
	        {"python_version", "python_version"},
	        {"python_full_version", "python_full_version"},
	        {"os_name", "os_name"},
	        {"os.name", "os_name"},
	        {"sys_platform", "sys_platform"},
	        {"sys.platform", "sys_platform"},
	        {"platform_release", "platform_release"},
	        {"platform_system", "platform_system"},
	        {"platform_version", "platform_version"},
	        {"platform.version", "platform_version"},
	        {"platform_machine", "platform_machine"},
	        {"platform.machine", "platform_machine"},
	        {"platform_python_implementation", "platform_python_implementation"},
	        {"platform.python_implementation", "platform_python_implementation"},
	        {"python_implementation", "platform_python_implementation"},
	        {"implementation_name", "implementation_name"},
	        {"implementation_version", "implementation_version"},
	        {"extra", "extra"},
	};
	const char *p = mp->s + mp->pos;
	if (*p == '\'' || *p == '"') {
		const char *end = strchr(p + 1, *p);
		if (!end)
			return mfail(mp, "unterminated string");
		v->kind = VAL_STRING;
		v->text = p + 1;
		v->len = (size_t)(end - p - 1);
		mp->pos += v->len + 2;
		return 0;
	}
	size_t n = 0;
	while (is_word(p[n]) || p[n] == '.')
		n++;
	for (size_t i = 0; i < LADE_ARRAY_SIZE(vars); i++) {
		if (strlen(vars[i].spelling) == n && strncmp(p, vars[i].spelling, n) == 0) {
			v->kind = VAL_VARIABLE;
			v->text = vars[i].canonical;
			v->len = strlen(v->text);
			mp->pos += n;
			return 0;
		}
	}
	return mfail(mp, "expected a marker variable or quoted string");
}

enum mop { M_IN, M_NOT_IN, M_OTHER };

static bool version_compare(const char *op, const char *lhs, const char *rhs, bool *result)
{
	_cleanup_free_ char *spec_text = xasprintf("%s%s", op, rhs);
	_cleanup_(lade_specifier_freep) struct lade_specifier *spec = NULL;
	_cleanup_(lade_version_freep) struct lade_version *v = NULL;
	if (strchr(rhs, ',') || lade_specifier_parse(spec_text, &spec, NULL) < 0 ||
	    lade_specifier_count(spec) != 1 || lade_version_parse(lhs, &v, NULL) < 0)
		return false;
	*result = lade_specifier_contains(spec, v, LADE_SPEC_PRERELEASES);
	return true;
}

static int evaluate(struct mparser *mp, const struct mvalue *l, const char *op, enum mop mop,
                    const struct mvalue *r, bool *result)
{
	const struct mvalue *var = l->kind == VAL_VARIABLE ? l : r;
	_cleanup_free_ char *lv = NULL, *rv = NULL;
	if (l->kind == VAL_VARIABLE)
		lv = xstrdup(env_value(mp->env, l->text, mp->extra));
	else
		lv = xstrndup(l->text, l->len);
	/* like packaging, a variable on the right is read from the environment only when the
	 * left side is a literal */
	if (r->kind == VAL_VARIABLE && l->kind != VAL_VARIABLE)
		rv = xstrdup(env_value(mp->env, r->text, mp->extra));
	else
		rv = xstrndup(r->text, r->len);
	if (strcmp(var->text, "extra") == 0) {
		char *a = lade_name_normalize(lv), *b = lade_name_normalize(rv);
		free(lv);
		free(rv);
		lv = a;
		rv = b;
	}
	if (mop == M_IN || mop == M_NOT_IN) {
		bool in = strstr(rv, lv) != NULL;
		*result = mop == M_IN ? in : !in;
		return 0;
	}
	if (version_compare(op, lv, rv, result))
		return 0;
	int c = strcmp(lv, rv);
	if (strcmp(op, "==") == 0)
		*result = c == 0;
	else if (strcmp(op, "!=") == 0)
		*result = c != 0;
	else if (strcmp(op, "<") == 0)
		*result = c < 0;
	else if (strcmp(op, "<=") == 0)
		*result = c <= 0;
	else if (strcmp(op, ">") == 0)
		*result = c > 0;
	else if (strcmp(op, ">=") == 0)
		*result = c >= 0;
	else
		return lade_error_set(mp->err, 0,
		                      "invalid marker '%s': undefined comparison '%s' %s '%s'",
		                      mp->s, lv, op, rv);
	return 0;
}

static int parse_item(struct mparser *mp, bool *result)
{
	static const char *const ops[] = {"===", "==", "~=", "!=", "<=", ">=", "<", ">"};
	struct mvalue l, r;
	const char *op = NULL;
	enum mop mop = M_OTHER;

	if (parse_value(mp, &l) < 0)
		return -1;
	skip_ws(mp);
	if (at_word(mp, "in")) {
		mop = M_IN;
		op = "in";
		mp->pos += 2;
	} else if (at_word(mp, "not")) {
		mp->pos += 3;
		if (!is_ws(mp->s[mp->pos]))
			return mfail(mp, "expected whitespace after 'not'");
		skip_ws(mp);
		if (!at_word(mp, "in"))
			return mfail(mp, "expected 'in' after 'not'");
		mp->pos += 2;
		mop = M_NOT_IN;
		op = "not in";
	} else {
		for (size_t i = 0; i < LADE_ARRAY_SIZE(ops) && !op; i++)
			if (strncmp(mp->s + mp->pos, ops[i], strlen(ops[i])) == 0)
				op = ops[i];
		if (!op)
			return mfail(mp, "expected a marker operator");
		mp->pos += strlen(op);
	}
	skip_ws(mp);
	if (parse_value(mp, &r) < 0)
		return -1;
	if (l.kind != VAL_VARIABLE && r.kind != VAL_VARIABLE)
		return mfail(mp, "comparison of two strings");
	*result = false;
	return mp->env ? evaluate(mp, &l, op, mop, &r, result) : 0;
}

static int parse_expr(struct mparser *mp, bool *result);

static int parse_atom(struct mparser *mp, bool *result)
{
	skip_ws(mp);
	if (mp->s[mp->pos] == '(') {
		if (++mp->depth > MARKER_MAX_DEPTH)
			return mfail(mp, "nested too deeply");
		mp->pos++;
		if (parse_expr(mp, result) < 0)
			return -1;
		skip_ws(mp);
		if (mp->s[mp->pos] != ')')
			return mfail(mp, "expected ')'");
		mp->pos++;
		mp->depth--;
	} else if (parse_item(mp, result) < 0) {
		return -1;
	}
	skip_ws(mp);
	return 0;
}

static int parse_expr(struct mparser *mp, bool *result)
{
	bool any = false, all = true, v;
	for (;;) {
		if (parse_atom(mp, &v) < 0)
			return -1;
		all = all && v;
		if (at_word(mp, "and")) {
			mp->pos += 3;
		} else if (at_word(mp, "or")) {
			mp->pos += 2;
			any = any || all;
			all = true;
		} else {
			break;
		}
	}
	*result = any || all;
	return 0;
}

static int marker_run(const char *marker, const struct lade_marker_env *env, const char *extra,
                      bool *result, struct lade_error **err)
{
	struct mparser mp = {.s = marker, .env = env, .extra = extra, .err = err};
	bool r = false;
	if (parse_expr(&mp, &r) < 0)
		return -1;
	if (mp.s[mp.pos])
		return mfail(&mp, "expected 'and', 'or' or the end");
	if (result)
		*result = r;
	return 0;
}

int lade_marker_evaluate(const char *marker, const struct lade_marker_env *env, const char *extra,
                         bool *result, struct lade_error **err)
{
	return marker_run(marker, env, extra, result, err);
}

/* ---- requirements ---- */

void lade_requirement_free(struct lade_requirement *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->name_text);
	lade_strv_free(r->extras);
	lade_specifier_free(r->spec);
	free(r->url);
	free(r->marker);
	free(r);
}

void lade_requirement_freep(struct lade_requirement **r)
{
	lade_requirement_free(*r);
	*r = NULL;
}

static size_t span_name(const char *p)
{
	size_t n = 0;
	while (is_alnum(p[n]) || p[n] == '-' || p[n] == '_' || p[n] == '.')
		n++;
	return n;
}

static int req_fail(struct lade_error **err, const char *s, const char *what, size_t col)
{
	return lade_error_set(err, 0, "invalid requirement '%s': %s at column %zu", s, what,
	                      col + 1);
}

static char *trimmed(const char *a, const char *b)
{
	while (a < b && is_ws(*a))
		a++;
	while (b > a && is_ws(b[-1]))
		b--;
	return xstrndup(a, (size_t)(b - a));
}

int lade_requirement_parse(const char *s, struct lade_requirement **out, struct lade_error **err)
{
	_cleanup_(lade_requirement_freep) struct lade_requirement *r = xzalloc(sizeof(*r));
	const char *p = s;

	while (is_ws(*p))
		p++;
	size_t n = span_name(p);
	while (n > 0 && !is_alnum(p[n - 1]))
		n--;
	if (n == 0 || !is_alnum(p[0]))
		return req_fail(err, s, "expected a package name", (size_t)(p - s));
	r->name_text = xstrndup(p, n);
	r->name = lade_name_normalize(r->name_text);
	p += n;
	while (is_ws(*p))
		p++;

	r->extras = xcalloc(1, sizeof(char *));
	if (*p == '[') {
		p++;
		while (is_ws(*p))
			p++;
		while (*p != ']') {
			n = span_name(p);
			while (n > 0 && !is_alnum(p[n - 1]))
				n--;
			if (n == 0 || !is_alnum(p[0]))
				return req_fail(err, s, "expected an extra name", (size_t)(p - s));
			_cleanup_free_ char *e = xstrndup(p, n);
			_cleanup_free_ char *norm = lade_name_normalize(e);
			lade_strv_push(&r->extras, norm);
			p += n;
			while (is_ws(*p))
				p++;
			if (*p == ',') {
				p++;
				while (is_ws(*p))
					p++;
				if (*p == ']')
					return req_fail(err, s, "expected an extra name after ','",
					                (size_t)(p - s));
			} else if (*p != ']') {
				return req_fail(err, s, "expected ',' or ']' in extras",
				                (size_t)(p - s));
			}
		}
		p++;
		while (is_ws(*p))
			p++;
	}

	const char *marker = NULL;
	if (*p == '@') {
		p++;
		while (is_ws(*p))
			p++;
		n = strcspn(p, " \t");
		if (n == 0)
			return req_fail(err, s, "expected a URL after '@'", (size_t)(p - s));
		r->url = xstrndup(p, n);
		p += n;
		while (is_ws(*p))
			p++;
		if (*p) {
			if (*p != ';' || !is_ws(p[-1]))
				return req_fail(err, s, "expected ';' after the URL",
				                (size_t)(p - s));
			marker = p + 1;
		}
		r->spec = NULL;
		if (lade_specifier_parse("", &r->spec, err) < 0)
			return -1;
	} else {
		const char *a, *b;
		if (*p == '(') {
			a = p + 1;
			b = strchr(a, ')');
			if (!b)
				return req_fail(err, s, "expected ')'", strlen(s));
			p = b + 1;
			while (is_ws(*p))
				p++;
		} else {
			a = p;
			b = p + strcspn(p, ";");
			p = b;
		}
		_cleanup_free_ char *spec = trimmed(a, b);
		if (lade_specifier_parse(spec, &r->spec, NULL) < 0)
			return req_fail(err, s, "invalid version specifier", (size_t)(a - s));
		if (*p == ';')
			marker = p + 1;
		else if (*p)
			return req_fail(err, s, "expected ';' or the end", (size_t)(p - s));
	}

	if (marker) {
		r->marker = trimmed(marker, marker + strlen(marker));
		_cleanup_error_ struct lade_error *merr = NULL;
		if (marker_run(r->marker, NULL, NULL, NULL, &merr) < 0)
			return lade_error_set(err, 0, "invalid requirement '%s': %s", s,
			                      merr ? merr->msg : "invalid marker");
	}
	*out = steal_pointer(&r);
	return 0;
}

char *lade_requirement_str(const struct lade_requirement *r)
{
	struct lade_buf b = LADE_BUF_INIT;
	lade_buf_adds(&b, r->name_text);
	if (r->extras[0]) {
		_cleanup_strv_ char **sorted = lade_strv_copy(r->extras);
		size_t n = lade_strv_len(sorted);
		/* insertion sort: extras lists are tiny */
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
				char *t = sorted[j];
				sorted[j] = sorted[j - 1];
				sorted[j - 1] = t;
			}
		lade_buf_addch(&b, '[');
		for (size_t i = 0; i < n; i++)
			lade_buf_addf(&b, "%s%s", i ? "," : "", sorted[i]);
		lade_buf_addch(&b, ']');
	}
	if (r->url)
		lade_buf_addf(&b, " @ %s", r->url);
	else
		lade_buf_adds(&b, lade_specifier_str(r->spec));
	return lade_buf_detach(&b, NULL);
}

/* ---- dependency check ---- */

struct dep_extra {
	char *name; /* normalised extra */
	char *via;  /* how it was requested: "app[dev] -> scipy[test]" */
};

struct dep_node {
	const struct lade_dist *d;
	char *name;                     /* normalised */
	struct lade_version *version;   /* NULL when not PEP 440 */
	struct lade_requirement **reqs; /* parsed requires_dist (NULL entries: invalid) */
	size_t n_reqs;
	struct dep_extra *extras;
	size_t n_extras, alloc_extras;
};

static bool node_has_extra(const struct dep_node *nd, const char *extra)
{
	for (size_t i = 0; i < nd->n_extras; i++)
		if (strcmp(nd->extras[i].name, extra) == 0)
			return true;
	return false;
}

static bool node_add_extra(struct dep_node *nd, const char *extra, char *via)
{
	if (node_has_extra(nd, extra)) {
		free(via);
		return false;
	}
	lade_grow(&nd->extras, sizeof(*nd->extras), nd->n_extras + 1, &nd->alloc_extras);
	nd->extras[nd->n_extras].name = xstrdup(extra);
	nd->extras[nd->n_extras].via = via;
	nd->n_extras++;
	return true;
}

/* Is requirement r of nd active? Returns the index of the extra that activates it, -1 when it
 * is active without one, -2 when it is not active, -3 on a marker error (reported). */
static int req_active(const struct dep_node *nd, const struct lade_requirement *r,
                      const struct lade_marker_env *env, struct lade_error **err)
{
	bool res = false;
	if (!r->marker)
		return -1;
	if (marker_run(r->marker, env, "", &res, err) < 0)
		return -3;
	if (res)
		return -1;
	for (size_t i = 0; i < nd->n_extras; i++) {
		if (marker_run(r->marker, env, nd->extras[i].name, &res, err) < 0)
			return -3;
		if (res)
			return (int)i;
	}
	return -2;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct dep_node *)a)->name, ((const struct dep_node *)b)->name);
}

static char *via_of(const struct dep_node *nd, int extra)
{
	if (extra < 0)
		return NULL;
	const struct dep_extra *e = &nd->extras[extra];
	return e->via ? xasprintf("%s -> %s[%s]", e->via, nd->d->name, e->name)
	              : xasprintf("%s[%s]", nd->d->name, e->name);
}

int lade_deps_check(const struct lade_dist *d, size_t n, const struct lade_target *t,
                    struct lade_error **err)
{
	struct lade_marker_env env;
	struct lade_problems pr = LADE_PROBLEMS_INIT;
	struct dep_node *nodes = xcalloc(n ? n : 1, sizeof(*nodes));
	struct lade_hashmap *byname = lade_hashmap_new();

	lade_marker_env_init(&env, t);
	for (size_t i = 0; i < n; i++) {
		nodes[i].d = &d[i];
		nodes[i].name = lade_name_normalize(d[i].name);
		(void)lade_version_parse(d[i].version, &nodes[i].version, NULL);
	}
	/* a deterministic report whatever the input order */
	qsort(nodes, n, sizeof(*nodes), cmp_node);
	for (size_t i = 0; i < n; i++) {
		struct dep_node *nd = &nodes[i];
		lade_hashmap_put(byname, nd->name, nd);
		nd->n_reqs = lade_strv_len(nd->d->requires_dist);
		nd->reqs = xcalloc(nd->n_reqs + 1, sizeof(*nd->reqs));
		for (size_t j = 0; j < nd->n_reqs; j++) {
			_cleanup_error_ struct lade_error *e = NULL;
			if (lade_requirement_parse(nd->d->requires_dist[j], &nd->reqs[j], &e) < 0)
				lade_problems_add(&pr, "%s %s has an invalid Requires-Dist: %s",
				                  nd->d->name, nd->d->version, e->msg);
		}
		for (char *const *x = nd->d->extras_requested; x && *x; x++) {
			_cleanup_free_ char *norm = lade_name_normalize(*x);
			node_add_extra(nd, norm, NULL);
		}
	}

	/* the closure of requested extras: iterate to a fixed point (each round adds at least one
	 * extra, and there are finitely many) */
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			struct dep_node *nd = &nodes[i];
			for (size_t j = 0; j < nd->n_reqs; j++) {
				const struct lade_requirement *r = nd->reqs[j];
				if (!r || !r->extras[0])
					continue;
				struct dep_node *target = lade_hashmap_get(byname, r->name);
				if (!target)
					continue;
				int act = req_active(nd, r, &env, NULL);
				if (act < -1)
					continue;
				for (char **x = r->extras; *x; x++) {
					if (node_has_extra(target, *x))
						continue;
					char *via = via_of(nd, act);
					if (!via)
						via = xstrdup(nd->d->name);
					changed |= node_add_extra(target, *x, via);
				}
			}
		}
	}

	for (size_t i = 0; i < n; i++) {
		struct dep_node *nd = &nodes[i];
		for (size_t j = 0; j < nd->n_reqs; j++) {
			const struct lade_requirement *r = nd->reqs[j];
			if (!r)
				continue;
			_cleanup_error_ struct lade_error *merr = NULL;
			int act = req_active(nd, r, &env, &merr);
			if (act == -3) {
				lade_problems_add(&pr, "%s %s: %s", nd->d->name, nd->d->version,
				                  merr->msg);
				continue;
			}
			if (act == -2)
				continue;
			const struct dep_node *target = lade_hashmap_get(byname, r->name);
			if (target && (r->url || !lade_specifier_count(r->spec)))
				continue;
			if (target && target->version &&
			    lade_specifier_contains(r->spec, target->version,
			                            LADE_SPEC_PRERELEASES))
				continue;
			_cleanup_free_ char *rs = lade_requirement_str(r);
			_cleanup_free_ char *via = via_of(nd, act);
			_cleanup_free_ char *via_text =
			        via ? xasprintf(" via %s", via) : xstrdup("");
			if (!target)
				lade_problems_add(
				        &pr, "%s %s requires %s%s but %s is not in the lock",
				        nd->d->name, nd->d->version, rs, via_text, r->name_text);
			else
				lade_problems_add(&pr, "%s %s requires %s%s but the lock has %s %s",
				                  nd->d->name, nd->d->version, rs, via_text,
				                  target->d->name, target->d->version);
		}
	}

	for (size_t i = 0; i < n; i++) {
		free(nodes[i].name);
		lade_version_free(nodes[i].version);
		for (size_t j = 0; j < nodes[i].n_reqs; j++)
			lade_requirement_free(nodes[i].reqs[j]);
		free(nodes[i].reqs);
		for (size_t j = 0; j < nodes[i].n_extras; j++) {
			free(nodes[i].extras[j].name);
			free(nodes[i].extras[j].via);
		}
		free(nodes[i].extras);
	}
	free(nodes);
	lade_hashmap_free(byname, NULL);

	return lade_problems_finish(&pr, err);
}
