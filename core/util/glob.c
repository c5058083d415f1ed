/* lade — the one glob matcher (see include/lade/util.h for the syntax).
 *
 * Both the pattern and the path are cut into '/'-separated components first, so '*', '?' and
 * classes can never match a '/'. A pattern component that is exactly "**" matches any number
 * of whole path components; everything else is matched component against component.
 *
 * Both levels use the greedy two-pointer algorithm that only remembers the most recent star:
 * on a mismatch it lets that star swallow one more unit and retries from there. Earlier stars
 * never need revisiting because the tokens between two stars each consume exactly one unit
 * (one character, or one component), so the first place a segment fits is always good enough.
 * That bounds the work at O(pattern × path) units at each level, whatever the pattern —
 * "a*a*a*a*a*b" against a long run of 'a' is as cheap as any other pattern. */
#include <stdint.h>
#include <string.h>

#include "lade/util.h"

struct comp {
	const char *s;
	size_t len;
	bool starstar;
};

/* Decode one UTF-8 character. Bytes that are not valid UTF-8 stand for themselves, mapped to
 * U+DC80..U+DCFF as Python's surrogateescape does, so they can never equal a real character
 * and file names that are not UTF-8 still match byte for byte. */
static size_t utf8_next(const char *p, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)p;
	unsigned char c = s[0];
	size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t v = c & (0x7f >> len);

	*cp = c < 0x80 ? c : 0xdc00 | c;
	if (c < 0x80 || len == 0 || len > n)
		return 1;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 1;
	*cp = v;
	return len;
}

/* One class member character (possibly escaped) at p[*i]; false when malformed. */
static bool class_char(const char *p, size_t n, size_t *i, uint32_t *cp)
{
	if (*i >= n || p[*i] == '-' || p[*i] == ']')
		return false;
	if (p[*i] == '\\') {
		(*i)++;
		if (*i >= n)
			return false;
	}
	*i += utf8_next(p + *i, n - *i, cp);
	/* A member must be followed by something: at least the closing ']'. */
	return *i < n;
}

/* Parse the class starting at p[*i] == '['; leaves *i after the ']'. *hit tells whether c is
 * in the class (negation applied). Returns false when the class is malformed (Go's rules:
 * no empty class, ']' and '-' must be escaped as members, it must be closed). */
static bool class_match(const char *p, size_t n, size_t *i, uint32_t c, bool *hit)
{
	bool negated = false, in = false;
	size_t nrange = 0;

	(*i)++;
	if (*i < n && (p[*i] == '^' || p[*i] == '!')) {
		negated = true;
		(*i)++;
	}
	for (;;) {
		if (*i < n && p[*i] == ']' && nrange > 0) {
			(*i)++;
			break;
		}
		uint32_t lo, hi;
		if (!class_char(p, n, i, &lo))
			return false;
		hi = lo;
		if (p[*i] == '-') {
			(*i)++;
			if (!class_char(p, n, i, &hi))
				return false;
		}
		if (lo <= c && c <= hi)
			in = true;
		nrange++;
	}
	*hit = in != negated;
	return true;
}

static bool comp_valid(const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (p[i] == '\\') {
			if (i + 1 >= n)
				return false;
			i += 2;
		} else if (p[i] == '[') {
			bool hit;
			if (!class_match(p, n, &i, 0, &hit))
				return false;
		} else {
			i++;
		}
	}
	return true;
}

/* Match one pattern component (already validated) against one path component. */
static bool comp_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

	while (si < sn) {
		if (pi < pn) {
			if (p[pi] == '*') {
				while (pi < pn && p[pi] == '*')
					pi++;
				star_p = pi;
				star_s = si;
				continue;
			}
			uint32_t c;
			size_t clen = utf8_next(s + si, sn - si, &c);
			size_t pnext = pi + 1;
			bool m;
			if (p[pi] == '?') {
				m = true;
			} else if (p[pi] == '[') {
				pnext = pi;
				class_match(p, pn, &pnext, c, &m);
			} else {
				size_t lit = pi;
				if (p[pi] == '\\') {
					lit = pi + 1;
					pnext = pi + 2;
				}
				m = p[lit] == s[si];
				clen = 1;
			}
			if (m) {
				pi = pnext;
				si += clen;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		uint32_t c;
		star_s += utf8_next(s + star_s, sn - star_s, &c);
		si = star_s;
		pi = star_p;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

/* Cut a pattern into components. Empty and "." components are dropped (so a leading '/' or
 * "./" is harmless); "\/" separates like '/', since a path component can never contain a
 * '/' to match. Consecutive "**" collapse. A trailing "**" after other components matches one
 * or more components, as in Docker's patternmatcher ("a" then "**" matches "a/b", not "a"): it is
 * rewritten as "*" followed by "**". Returns the count; *out is xmalloc'ed. */
static size_t split_pattern(const char *pattern, struct comp **out)
{
	size_t cap = 2;
	for (const char *q = pattern; *q; q++)
		if (*q == '/')
			cap++;
	struct comp *c = xcalloc(cap, sizeof(*c));
	size_t n = 0;
	const char *p = pattern;

	while (*p) {
		const char *start = p;
		while (*p && *p != '/' && !(p[0] == '\\' && p[1] == '/')) {
			if (p[0] == '\\' && p[1] != '\0')
				p++;
			p++;
		}
		size_t len = (size_t)(p - start);
		if (*p == '\\')
			p++;
		if (*p == '/')
			p++;
		if (len == 0 || (len == 1 && start[0] == '.'))
			continue;
		bool ss = len == 2 && start[0] == '*' && start[1] == '*';
		if (ss && n > 0 && c[n - 1].starstar)
			continue;
		c[n++] = (struct comp){start, len, ss};
	}
	if (n > 1 && c[n - 1].starstar) {
		c[n - 1] = (struct comp){"*", 1, false};
		c[n++] = (struct comp){"**", 2, true};
	}
	*out = c;
	return n;
}

bool lade_glob_valid(const char *pattern)
{
	_cleanup_free_ struct comp *pc = NULL;
	size_t np = split_pattern(pattern, &pc);

	for (size_t i = 0; i < np; i++)
		if (!pc[i].starstar && !comp_valid(pc[i].s, pc[i].len))
			return false;
	return true;
}

bool lade_glob_match(const char *pattern, const char *path)
{
	if (!lade_glob_valid(pattern))
		return false;

	_cleanup_free_ struct comp *pc = NULL;
	size_t np = split_pattern(pattern, &pc);

	size_t ns = 1;
	for (const char *q = path; *q; q++)
		if (*q == '/')
			ns++;
	_cleanup_free_ struct comp *sc = xcalloc(ns, sizeof(*sc));
	ns = 0;
	for (const char *p = path; *p;) {
		const char *start = p;
		while (*p && *p != '/')
			p++;
		if (p > start)
			sc[ns++] = (struct comp){start, (size_t)(p - start), false};
		if (*p == '/')
			p++;
	}

	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
	while (si < ns) {
		if (pi < np) {
			if (pc[pi].starstar) {
				star_p = ++pi;
				star_s = si;
				continue;
			}
			if (comp_match(pc[pi].s, pc[pi].len, sc[si].s, sc[si].len)) {
				pi++;
				si++;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		si = ++star_s;
		pi = star_p;
	}
	while (pi < np && pc[pi].starstar)
		pi++;
	return pi == np;
}
