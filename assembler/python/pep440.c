/* PEP 440 versions and specifiers. The grammar and the ordering follow packaging.version
 * (VERSION_PATTERN, _cmpkey) and packaging.specifiers; numbers stay digit strings so that a
 * hostile "1.99999999999999999999999" neither overflows nor compares wrongly. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "lade/pep440.h"
#include "lade/util.h"

enum pre_kind { PRE_NONE, PRE_A, PRE_B, PRE_RC };

struct lade_version {
	char *epoch;    /* digits without leading zeros */
	char **release; /* same, n_release >= 1 */
	size_t n_release;
	enum pre_kind pre;
	char *pre_n;
	char *post_n; /* NULL: no post segment */
	char *dev_n;  /* NULL: no dev segment */
	char **local; /* lowercase parts, numeric ones without leading zeros */
	size_t n_local;
	char *str; /* normalised */
};

static bool is_sep(char c)
{
	return c == '-' || c == '_' || c == '.';
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A number as digits without leading zeros ("0" stays). */
static char *num_dup(const char *s, size_t n)
{
	while (n > 1 && *s == '0') {
		s++;
		n--;
	}
	return xstrndup(s, n);
}

static size_t span_digits(const char *s)
{
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

static bool all_digits(const char *s)
{
	return *s && s[span_digits(s)] == '\0';
}

/* Numeric comparison of two normalised digit strings. */
static int numcmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	int c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

static bool is_zero(const char *s)
{
	return s[0] == '0' && s[1] == '\0';
}

/* Case-insensitive match of a label at p; returns its length or 0. */
static size_t match_label(const char *p, const char *label)
{
	size_t n = strlen(label);
	return strncasecmp(p, label, n) == 0 ? n : 0;
}

void lade_version_free(struct lade_version *v)
{
	if (!v)
		return;
	free(v->epoch);
	for (size_t i = 0; i < v->n_release; i++)
		free(v->release[i]);
	free(v->release);
	free(v->pre_n);
	free(v->post_n);
	free(v->dev_n);
	for (size_t i = 0; i < v->n_local; i++)
		free(v->local[i]);
	free(v->local);
	free(v->str);
	free(v);
}

void lade_version_freep(struct lade_version **v)
{
	lade_version_free(*v);
	*v = NULL;
}

/* Optional separator, then optional number (default "0"); the separator is consumed even
 * without a number, as the greedy regex does. */
static char *parse_opt_number(const char **pp)
{
	const char *p = *pp;
	if (is_sep(*p))
		p++;
	size_t n = span_digits(p);
	char *r = n ? num_dup(p, n) : xstrdup("0");
	*pp = p + n;
	return r;
}

static void build_str(struct lade_version *v)
{
	struct lade_buf b = LADE_BUF_INIT;
	if (!is_zero(v->epoch))
		lade_buf_addf(&b, "%s!", v->epoch);
	for (size_t i = 0; i < v->n_release; i++)
		lade_buf_addf(&b, "%s%s", i ? "." : "", v->release[i]);
	if (v->pre != PRE_NONE)
		lade_buf_addf(&b, "%s%s",
		              v->pre == PRE_A   ? "a"
		              : v->pre == PRE_B ? "b"
		                                : "rc",
		              v->pre_n);
	if (v->post_n)
		lade_buf_addf(&b, ".post%s", v->post_n);
	if (v->dev_n)
		lade_buf_addf(&b, ".dev%s", v->dev_n);
	for (size_t i = 0; i < v->n_local; i++)
		lade_buf_addf(&b, "%c%s", i ? '.' : '+', v->local[i]);
	v->str = lade_buf_detach(&b, NULL);
}

static int version_parse(const char *s, struct lade_version **out)
{
	_cleanup_(lade_version_freep) struct lade_version *v = xzalloc(sizeof(*v));
	size_t alloc = 0, n;
	const char *p = s, *q;

	while (is_ws(*p))
		p++;
	if (*p == 'v' || *p == 'V')
		p++;
	n = span_digits(p);
	if (!n)
		return -1;
	if (p[n] == '!') {
		v->epoch = num_dup(p, n);
		p += n + 1;
		n = span_digits(p);
		if (!n)
			return -1;
	} else {
		v->epoch = xstrdup("0");
	}
	for (;;) {
		lade_grow(&v->release, sizeof(char *), v->n_release + 1, &alloc);
		v->release[v->n_release++] = num_dup(p, n);
		p += n;
		if (*p != '.' || !(n = span_digits(p + 1)))
			break;
		p++;
	}

	/* pre-release */
	q = p;
	if (is_sep(*q))
		q++;
	static const struct {
		const char *label;
		enum pre_kind kind;
	} pre_labels[] = {
	        {"alpha", PRE_A},    {"a", PRE_A},    {"beta", PRE_B}, {"b", PRE_B},
	        {"preview", PRE_RC}, {"pre", PRE_RC}, {"c", PRE_RC},   {"rc", PRE_RC},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(pre_labels); i++) {
		size_t l = match_label(q, pre_labels[i].label);
		if (l) {
			q += l;
			v->pre = pre_labels[i].kind;
			v->pre_n = parse_opt_number(&q);
			p = q;
			break;
		}
	}

	/* post-release: "-N" or [-_.]?(post|rev|r)[-_.]?N? */
	if (p[0] == '-' && (n = span_digits(p + 1))) {
		v->post_n = num_dup(p + 1, n);
		p += 1 + n;
	} else {
		q = p;
		if (is_sep(*q))
			q++;
		size_t l = match_label(q, "post");
		if (!l)
			l = match_label(q, "rev");
		if (!l)
			l = match_label(q, "r");
		if (l) {
			q += l;
			v->post_n = parse_opt_number(&q);
			p = q;
		}
	}

	/* dev-release */
	q = p;
	if (is_sep(*q))
		q++;
	if ((n = match_label(q, "dev"))) {
		q += n;
		v->dev_n = parse_opt_number(&q);
		p = q;
	}

	/* local: [a-z0-9]+([-_.][a-z0-9]+)* */
	if (*p == '+') {
		alloc = 0;
		do {
			p++;
			size_t l = 0;
			while (isalnum((unsigned char)p[l]))
				l++;
			if (!l)
				return -1;
			char *part = xstrndup(p, l);
			for (char *c = part; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			if (all_digits(part)) {
				char *num = num_dup(part, l);
				free(part);
				part = num;
			}
			lade_grow(&v->local, sizeof(char *), v->n_local + 1, &alloc);
			v->local[v->n_local++] = part;
			p += l;
		} while (is_sep(*p));
	}
	while (is_ws(*p))
		p++;
	if (*p)
		return -1;
	build_str(v);
	*out = steal_pointer(&v);
	return 0;
}

int lade_version_parse(const char *s, struct lade_version **out, struct lade_error **err)
{
	if (version_parse(s, out) < 0)
		return lade_error_set(err, 0, "invalid version '%s'", s);
	return 0;
}

bool lade_version_valid(const char *s)
{
	_cleanup_(lade_version_freep) struct lade_version *v = NULL;
	return version_parse(s, &v) == 0;
}

char *lade_version_normalize(const char *s)
{
	_cleanup_(lade_version_freep) struct lade_version *v = NULL;
	if (version_parse(s, &v) < 0)
		return NULL;
	return steal_pointer(&v->str);
}

const char *lade_version_str(const struct lade_version *v)
{
	return v->str;
}

bool lade_version_is_prerelease(const struct lade_version *v)
{
	return v->pre != PRE_NONE || v->dev_n;
}

bool lade_version_has_local(const struct lade_version *v)
{
	return v->n_local > 0;
}

/* Release segments compared as if padded with zeros (= trailing zeros stripped). */
static int release_cmp(const struct lade_version *a, const struct lade_version *b)
{
	size_t n = a->n_release > b->n_release ? a->n_release : b->n_release;
	for (size_t i = 0; i < n; i++) {
		const char *x = i < a->n_release ? a->release[i] : "0";
		const char *y = i < b->n_release ? b->release[i] : "0";
		int c = numcmp(x, y);
		if (c)
			return c;
	}
	return 0;
}

/* Same epoch and release ("base_version" equality). */
static bool base_equal(const struct lade_version *a, const struct lade_version *b)
{
	return numcmp(a->epoch, b->epoch) == 0 && release_cmp(a, b) == 0;
}

static int local_part_cmp(const char *a, const char *b)
{
	bool na = all_digits(a), nb = all_digits(b);
	if (na && nb)
		return numcmp(a, b);
	if (na != nb) /* numeric parts sort after alphanumeric ones */
		return na ? 1 : -1;
	int c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

/* Ordering key of the pre segment: -1 = before any pre-release (dev only), 1 = after. */
static int pre_rank(const struct lade_version *v)
{
	if (v->pre != PRE_NONE)
		return 0;
	return (!v->post_n && v->dev_n) ? -1 : 1;
}

static int version_cmp(const struct lade_version *a, const struct lade_version *b, bool with_local)
{
	int c = numcmp(a->epoch, b->epoch);
	if (c)
		return c;
	if ((c = release_cmp(a, b)))
		return c;
	int ra = pre_rank(a), rb = pre_rank(b);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (ra == 0) {
		if (a->pre != b->pre)
			return a->pre < b->pre ? -1 : 1;
		if ((c = numcmp(a->pre_n, b->pre_n)))
			return c;
	}
	if (!a->post_n != !b->post_n)
		return a->post_n ? 1 : -1;
	if (a->post_n && (c = numcmp(a->post_n, b->post_n)))
		return c;
	if (!a->dev_n != !b->dev_n)
		return a->dev_n ? -1 : 1;
	if (a->dev_n && (c = numcmp(a->dev_n, b->dev_n)))
		return c;
	if (!with_local)
		return 0;
	for (size_t i = 0; i < a->n_local && i < b->n_local; i++)
		if ((c = local_part_cmp(a->local[i], b->local[i])))
			return c;
	if (a->n_local != b->n_local)
		return a->n_local < b->n_local ? -1 : 1;
	return 0;
}

int lade_version_cmp(const struct lade_version *a, const struct lade_version *b)
{
	return version_cmp(a, b, true);
}

/* ---- specifiers ---- */

enum spec_op { OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT, OP_COMPAT, OP_ARBITRARY };

struct spec {
	enum spec_op op;
	bool wildcard;
	char *text;             /* operator + version as written, e.g. ">=1.21.1" */
	const char *vtext;      /* version part of text */
	struct lade_version *v; /* NULL for === with a non-version */
};

struct lade_specifier {
	struct spec *specs;
	size_t n;
	char *str;
};

void lade_specifier_free(struct lade_specifier *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->specs[i].text);
		lade_version_free(s->specs[i].v);
	}
	free(s->specs);
	free(s->str);
	free(s);
}

void lade_specifier_freep(struct lade_specifier **s)
{
	lade_specifier_free(*s);
	*s = NULL;
}

static int parse_one(const char *s, size_t len, struct spec *out)
{
	static const struct {
		const char *tok;
		enum spec_op op;
	} ops[] = {
	        {"===", OP_ARBITRARY}, {"~=", OP_COMPAT}, {"==", OP_EQ}, {"!=", OP_NE},
	        {"<=", OP_LE},         {">=", OP_GE},     {"<", OP_LT},  {">", OP_GT},
	};
	_cleanup_free_ char *one = xstrndup(s, len);
	const char *p = NULL;
	size_t i;

	for (i = 0; i < LADE_ARRAY_SIZE(ops); i++) {
		size_t l = strlen(ops[i].tok);
		if (strncmp(one, ops[i].tok, l) == 0) {
			p = one + l;
			break;
		}
	}
	if (!p)
		return -1;
	while (is_ws(*p))
		p++;
	if (!*p)
		return -1;
	for (const char *c = p; *c; c++)
		if (is_ws(*c) || *c == ';' || *c == ')')
			return -1;
	out->op = ops[i].op;
	out->wildcard = false;
	out->v = NULL;
	_cleanup_free_ char *vt = xstrdup(p);
	size_t vl = strlen(vt);
	if (out->op == OP_ARBITRARY) {
		(void)version_parse(vt, &out->v);
	} else {
		if ((out->op == OP_EQ || out->op == OP_NE) && vl > 2 &&
		    strcmp(vt + vl - 2, ".*") == 0) {
			out->wildcard = true;
			vt[vl - 2] = '\0';
		}
		if (version_parse(vt, &out->v) < 0)
			return -1;
		struct lade_version *v = out->v;
		bool ok = true;
		if (out->wildcard)
			ok = v->pre == PRE_NONE && !v->post_n && !v->dev_n && !v->n_local;
		else if (out->op != OP_EQ && out->op != OP_NE)
			ok = !v->n_local && (out->op != OP_COMPAT || v->n_release >= 2);
		if (!ok) {
			lade_version_freep(&out->v);
			return -1;
		}
	}
	out->text = xasprintf("%s%s", ops[i].tok, p);
	out->vtext = out->text + strlen(ops[i].tok);
	return 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int lade_specifier_parse(const char *s, struct lade_specifier **out, struct lade_error **err)
{
	_cleanup_(lade_specifier_freep) struct lade_specifier *set = xzalloc(sizeof(*set));
	size_t alloc = 0;
	const char *p = s;

	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && is_ws(*a))
			a++;
		while (b > a && is_ws(b[-1]))
			b--;
		if (b > a) {
			lade_grow(&set->specs, sizeof(*set->specs), set->n + 1, &alloc);
			if (parse_one(a, (size_t)(b - a), &set->specs[set->n]) < 0)
				return lade_error_set(err, 0, "invalid specifier '%s'", s);
			set->n++;
		}
		if (!comma)
			break;
		p = comma + 1;
	}

	/* packaging prints a set sorted and without duplicates */
	_cleanup_free_ char **texts = xcalloc(set->n + 1, sizeof(char *));
	for (size_t i = 0; i < set->n; i++)
		texts[i] = set->specs[i].text;
	qsort(texts, set->n, sizeof(char *), cmp_strp);
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; i < set->n; i++) {
		if (i && strcmp(texts[i], texts[i - 1]) == 0)
			continue;
		lade_buf_addf(&b, "%s%s", b.len ? "," : "", texts[i]);
	}
	set->str = lade_buf_detach(&b, NULL);
	*out = steal_pointer(&set);
	return 0;
}

const char *lade_specifier_str(const struct lade_specifier *s)
{
	return s->str;
}

size_t lade_specifier_count(const struct lade_specifier *s)
{
	return s->n;
}

const char *lade_specifier_pinned(const struct lade_specifier *s)
{
	if (s->n != 1 || s->specs[0].op != OP_EQ || s->specs[0].wildcard)
		return NULL;
	return s->specs[0].vtext;
}

/* "==E!R.*": same epoch, and v's release padded with zeros starts with R. */
static bool prefix_match(const struct lade_version *v, const char *epoch, char *const *rel,
                         size_t n)
{
	if (numcmp(v->epoch, epoch) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (numcmp(i < v->n_release ? v->release[i] : "0", rel[i]) != 0)
			return false;
	return true;
}

static bool spec_prereleases(const struct spec *sp)
{
	switch (sp->op) {
	case OP_EQ:
	case OP_GE:
	case OP_LE:
	case OP_COMPAT:
	case OP_ARBITRARY:
		return sp->v && lade_version_is_prerelease(sp->v);
	default:
		return false;
	}
}

static bool spec_contains(const struct spec *sp, const struct lade_version *v)
{
	const struct lade_version *w = sp->v;

	switch (sp->op) {
	case OP_EQ:
	case OP_NE: {
		bool eq;
		if (sp->wildcard)
			eq = prefix_match(v, w->epoch, w->release, w->n_release);
		else
			eq = version_cmp(v, w, w->n_local > 0) == 0;
		return sp->op == OP_EQ ? eq : !eq;
	}
	case OP_LE:
		return version_cmp(v, w, false) <= 0;
	case OP_GE:
		return version_cmp(v, w, false) >= 0;
	case OP_LT:
		if (version_cmp(v, w, true) >= 0)
			return false;
		/* "<3" must not admit 3.0rc1 */
		return !(!lade_version_is_prerelease(w) && lade_version_is_prerelease(v) &&
		         base_equal(v, w));
	case OP_GT:
		if (version_cmp(v, w, true) <= 0)
			return false;
		if (!w->post_n && v->post_n && base_equal(v, w))
			return false;
		return !(v->n_local && base_equal(v, w));
	case OP_COMPAT:
		return version_cmp(v, w, false) >= 0 &&
		       prefix_match(v, w->epoch, w->release, w->n_release - 1);
	case OP_ARBITRARY:
		return strcasecmp(v->str, sp->vtext) == 0;
	}
	return false;
}

bool lade_specifier_contains(const struct lade_specifier *s, const struct lade_version *v,
                             unsigned flags)
{
	if (!(flags & LADE_SPEC_PRERELEASES) && lade_version_is_prerelease(v)) {
		bool any = false;
		for (size_t i = 0; i < s->n && !any; i++)
			any = spec_prereleases(&s->specs[i]);
		if (!any)
			return false;
	}
	for (size_t i = 0; i < s->n; i++)
		if (!spec_contains(&s->specs[i], v))
			return false;
	return true;
}
