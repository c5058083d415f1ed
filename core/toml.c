/* The TOML 1.0 reader: one pass of recursive descent over the bytes. The table rules (which
 * table may be reopened, extended by dotted keys or not at all) are those of Python's tomllib,
 * kept per node instead of per key path:
 *   EXPLICIT  defined by a [header], an [[array]] of tables, or by dotted keys of a section
 *             that has ended (those are queued in `pending` until the next header);
 *   FROZEN    an inline table or a static array, with everything inside it;
 *   AOT       an array made by [[headers]] (only these grow after being written). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lade/hashmap.h"
#include "lade/toml.h"
#include "lade/util.h"

#define MAX_NEST     64 /* arrays and inline tables inside each other */
#define MAX_KEY_PART 32 /* parts of a dotted key */

enum {
	NF_EXPLICIT = 1u << 0,
	NF_FROZEN = 1u << 1,
	NF_AOT = 1u << 2,
};

struct key_part {
	char *s;
	size_t len;
	const char *at;
	int line, col; /* of at, taken while reading forward */
};

struct parser {
	const char *path;
	const char *s, *p, *end;
	struct lade_error **err;
	int nest;
	struct lade_toml *root;
	struct lade_toml **pending;
	size_t n_pending, a_pending;
	/* position cache for line:column, moved forward as values are made */
	const char *pos_at;
	int pos_line, pos_col;
};

/* Line and column (in characters) of `at`. Values are made in document order, so the scan
 * goes on from the last position asked for: linear over the document. */
static void position(struct parser *ps, const char *at, int *line, int *col)
{
	if (at < ps->pos_at) {
		ps->pos_at = ps->s;
		ps->pos_line = ps->pos_col = 1;
	}
	for (const char *q = ps->pos_at; q < at; q++) {
		if (*q == '\n') {
			ps->pos_line++;
			ps->pos_col = 1;
		} else if (((unsigned char)*q & 0xC0) != 0x80) {
			ps->pos_col++;
		}
	}
	ps->pos_at = at;
	*line = ps->pos_line;
	*col = ps->pos_col;
}

static int fail(struct parser *ps, const char *at, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(struct parser *ps, const char *at, const char *fmt, ...)
{
	int line, col;
	if (at > ps->end)
		at = ps->end;
	position(ps, at, &line, &col);
	struct lade_buf b = LADE_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	lade_error_set(ps->err, 0, "%s:%d:%d: %s", ps->path, line, col, b.data);
	lade_buf_release(&b);
	return -1;
}

const char *lade_toml_type_name(enum lade_toml_type type)
{
	static const char *const names[] = {
	        "string",          "integer",    "float",      "boolean", "offset date-time",
	        "local date-time", "local date", "local time", "array",   "table",
	};
	return (unsigned)type < LADE_ARRAY_SIZE(names) ? names[type] : "value";
}

void lade_toml_free(struct lade_toml *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		lade_toml_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->key_lens);
	free(v->str);
	lade_hashmap_free(v->index, NULL);
	free(v);
}

void lade_toml_freep(struct lade_toml **v)
{
	lade_toml_free(*v);
	*v = NULL;
}

static struct lade_toml *node_new_at(enum lade_toml_type type, int line, int col)
{
	struct lade_toml *v = xzalloc(sizeof(*v));
	v->type = type;
	v->line = line;
	v->column = col;
	return v;
}

/* A value starting at `at`, which must not be before the last position asked for (else the
 * position scan starts over: only errors may go back). */
static struct lade_toml *node_new(struct parser *ps, enum lade_toml_type type, const char *at)
{
	int line, col;
	position(ps, at, &line, &col);
	return node_new_at(type, line, col);
}

/* Tables beyond this many keys get a hash index, so a wide table is not quadratic. */
#define INDEX_FROM 16

/* The hash map key of a table key: itself, unless it holds a NUL or \x01, which are escaped
 * (\x01 -> "\x01a", NUL -> "\x01b") so that every key has its own C string. *tmp is what to
 * free. */
static const char *map_key(const char *key, size_t len, char **tmp)
{
	*tmp = NULL;
	if (!memchr(key, '\0', len) && !memchr(key, '\x01', len))
		return key;
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (key[i] == '\0' || key[i] == '\x01') {
			lade_buf_addch(&b, '\x01');
			lade_buf_addch(&b, key[i] ? 'a' : 'b');
		} else {
			lade_buf_addch(&b, key[i]);
		}
	}
	*tmp = lade_buf_detach(&b, NULL);
	return *tmp;
}

static void index_put(struct lade_toml *t, size_t i)
{
	_cleanup_free_ char *tmp = NULL;
	lade_hashmap_put(t->index, map_key(t->keys[i], t->key_lens[i], &tmp), t->items[i]);
}

static struct lade_toml *table_find(const struct lade_toml *t, const char *key, size_t len)
{
	if (t->index) {
		_cleanup_free_ char *tmp = NULL;
		return lade_hashmap_get(t->index, map_key(key, len, &tmp));
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->key_lens[i] == len && memcmp(t->keys[i], key, len) == 0)
			return t->items[i];
	return NULL;
}

const struct lade_toml *lade_toml_get(const struct lade_toml *t, const char *key)
{
	if (!t || t->type != LADE_TOML_TABLE)
		return NULL;
	return table_find(t, key, strlen(key));
}

/* Arrays and tables grow by doubling; `n` is the count, capacity is the next power of two. */
static void push_item(struct lade_toml *c, struct lade_toml *v, const struct key_part *k)
{
	size_t n = c->n;
	if ((n & (n - 1)) == 0) {
		size_t cap = n ? 2 * n : 1;
		c->items = xrealloc(c->items, cap * sizeof(*c->items));
		if (k) {
			c->keys = xrealloc(c->keys, cap * sizeof(*c->keys));
			c->key_lens = xrealloc(c->key_lens, cap * sizeof(*c->key_lens));
		}
	}
	c->items[n] = v;
	c->n = n + 1;
	if (!k)
		return;
	c->keys[n] = xmalloc(k->len + 1);
	memcpy(c->keys[n], k->s, k->len);
	c->keys[n][k->len] = '\0';
	c->key_lens[n] = k->len;
	if (c->index) {
		index_put(c, n);
	} else if (c->n > INDEX_FROM) {
		c->index = lade_hashmap_new();
		for (size_t i = 0; i < c->n; i++)
			index_put(c, i);
	}
}

/* ---- characters ---- */

static bool at_eof(const struct parser *ps)
{
	return ps->p >= ps->end;
}

static int peek(const struct parser *ps, size_t ahead)
{
	return ps->p + ahead < ps->end ? (unsigned char)ps->p[ahead] : -1;
}

static void skip_ws(struct parser *ps)
{
	while (!at_eof(ps) && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static bool is_ctrl(int c)
{
	return (c >= 0 && c < 0x20) || c == 0x7f;
}

static int comment(struct parser *ps)
{
	if (at_eof(ps) || *ps->p != '#')
		return 0;
	for (ps->p++; !at_eof(ps) && *ps->p != '\n'; ps->p++) {
		int c = (unsigned char)*ps->p;
		if (c == '\r' && peek(ps, 1) == '\n')
			continue;
		if (is_ctrl(c) && c != '\t')
			return fail(ps, ps->p, "control character 0x%02x in a comment", c);
	}
	return 0;
}

/* A newline (LF or CRLF) at p, consumed: 1; none: 0. */
static int newline(struct parser *ps)
{
	if (peek(ps, 0) == '\n') {
		ps->p++;
		return 1;
	}
	if (peek(ps, 0) == '\r' && peek(ps, 1) == '\n') {
		ps->p += 2;
		return 1;
	}
	return 0;
}

static size_t utf8_len(const unsigned char *p, const unsigned char *end);

/* The character at `at` for a message: 'x' when printable ASCII, else U+XXXX (the document
 * is valid UTF-8 by then, and a message must stay so). */
static const char *char_desc(const struct parser *ps, const char *at, char buf[16])
{
	unsigned char c = (unsigned char)*at;
	if (c >= 0x20 && c < 0x7f) {
		snprintf(buf, 16, "'%c'", c);
		return buf;
	}
	uint32_t cp = c;
	size_t n = utf8_len((const unsigned char *)at, (const unsigned char *)ps->end);
	if (n > 1) {
		cp = c & (0xFF >> (n + 1));
		for (size_t i = 1; i < n; i++)
			cp = (cp << 6) | ((unsigned char)at[i] & 0x3F);
	}
	snprintf(buf, 16, "U+%04X", (unsigned)cp);
	return buf;
}

/* After a value or header: whitespace, an optional comment, then a newline or the end. */
static int end_of_line(struct parser *ps, const char *what)
{
	skip_ws(ps);
	if (comment(ps) < 0)
		return -1;
	if (at_eof(ps) || newline(ps))
		return 0;
	char cd[16];
	return fail(ps, ps->p, "unexpected %s after %s (expected a newline)",
	            char_desc(ps, ps->p, cd), what);
}

/* Whitespace, comments and newlines inside an array. */
static int skip_ws_nl(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		if (comment(ps) < 0)
			return -1;
		if (!newline(ps))
			return 0;
	}
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 (overlong, surrogate, beyond
 * U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static void add_utf8(struct lade_buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		lade_buf_addch(b, (char)cp);
	} else if (cp < 0x800) {
		lade_buf_addch(b, (char)(0xC0 | (cp >> 6)));
		lade_buf_addch(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		lade_buf_addch(b, (char)(0xE0 | (cp >> 12)));
		lade_buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		lade_buf_addch(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		lade_buf_addch(b, (char)(0xF0 | (cp >> 18)));
		lade_buf_addch(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
		lade_buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		lade_buf_addch(b, (char)(0x80 | (cp & 0x3F)));
	}
}

/* ---- strings ---- */

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int escape(struct parser *ps, struct lade_buf *b)
{
	const char *at = ps->p; /* at the backslash */
	int c = peek(ps, 1);
	ps->p += 2;
	/* the one-letter escapes and what they stand for */
	static const char pairs[] = "b\bt\tn\nf\fr\r\"\"\\\\";
	for (size_t i = 0; c > 0 && i + 1 < sizeof(pairs); i += 2) {
		if (c == pairs[i]) {
			lade_buf_addch(b, pairs[i + 1]);
			return 0;
		}
	}
	switch (c) {
	case 'u':
	case 'U': {
		int n = c == 'u' ? 4 : 8;
		uint32_t cp = 0;
		for (int i = 0; i < n; i++) {
			int d = hex_digit(peek(ps, 0));
			if (d < 0)
				return fail(ps, at, "\\%c escape needs %d hex digits", c, n);
			cp = cp * 16 + (uint32_t)d;
			ps->p++;
		}
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return fail(ps, at, "\\%c%0*X is not a Unicode scalar value", c, n,
			            (unsigned)cp);
		add_utf8(b, cp);
		return 0;
	}
	case -1:
		return fail(ps, at, "unterminated string");
	default:
		if (c < 0x20 || c >= 0x7f)
			return fail(ps, at, "invalid escape sequence");
		return fail(ps, at, "invalid escape '\\%c'", c);
	}
}

/* One character of string content (after checks common to all four kinds): copies it. */
static int string_char(struct parser *ps, struct lade_buf *b, bool multiline)
{
	int c = (unsigned char)*ps->p;
	if (c == '\r' && multiline && peek(ps, 1) == '\n') {
		lade_buf_addch(b, '\n'); /* tomllib reads CRLF as LF */
		ps->p += 2;
		return 0;
	}
	if (c == '\n' && multiline) {
		lade_buf_addch(b, '\n');
		ps->p++;
		return 0;
	}
	if (is_ctrl(c) && c != '\t') {
		if (c == '\r' && multiline)
			return fail(ps, ps->p, "carriage return not followed by a newline");
		if (c == '\n' || c == '\r')
			return fail(ps, ps->p, "newline in a single-line string");
		return fail(ps, ps->p, "control character 0x%02x in a string", c);
	}
	size_t n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
	if (!n)
		return fail(ps, ps->p, "invalid UTF-8");
	lade_buf_add(b, ps->p, n);
	ps->p += n;
	return 0;
}

/* A string of any kind at p (which is at ' or "); `key` refuses multiline ones. */
static int string(struct parser *ps, bool key, struct lade_buf *b)
{
	const char *start = ps->p;
	char q = *ps->p;
	bool basic = q == '"';
	bool multiline = peek(ps, 1) == q && peek(ps, 2) == q;
	if (multiline && key)
		return fail(ps, start, "a key cannot be a multiline string");
	if (!multiline) {
		ps->p++;
		for (;;) {
			if (at_eof(ps))
				return fail(ps, start, "unterminated string");
			if (*ps->p == q) {
				ps->p++;
				return 0;
			}
			if (basic && *ps->p == '\\') {
				if (escape(ps, b) < 0)
					return -1;
				continue;
			}
			if (string_char(ps, b, false) < 0)
				return -1;
		}
	}
	ps->p += 3;
	newline(ps); /* a newline right after the opening delimiter is trimmed */
	for (;;) {
		if (at_eof(ps))
			return fail(ps, start, "unterminated multiline string");
		if (*ps->p == q && peek(ps, 1) == q && peek(ps, 2) == q) {
			/* up to two more quotes belong to the content */
			size_t extra = 0;
			while (extra < 2 && peek(ps, 3 + extra) == q)
				extra++;
			for (size_t i = 0; i < extra; i++)
				lade_buf_addch(b, q);
			ps->p += 3 + extra;
			return 0;
		}
		if (basic && *ps->p == '\\') {
			/* line-ending backslash: whitespace up to a newline, then all whitespace */
			const char *r = ps->p + 1;
			while (r < ps->end && (*r == ' ' || *r == '\t'))
				r++;
			if (r < ps->end &&
			    (*r == '\n' || (*r == '\r' && r + 1 < ps->end && r[1] == '\n'))) {
				ps->p = r;
				for (;;) {
					skip_ws(ps);
					if (!newline(ps))
						break;
				}
				continue;
			}
			if (escape(ps, b) < 0)
				return -1;
			continue;
		}
		if (string_char(ps, b, true) < 0)
			return -1;
	}
}

/* ---- keys ---- */

static bool bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static void free_key(struct key_part *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(k[i].s);
}

/* A dotted key into k (at most MAX_KEY_PART parts); *n set. */
static int key(struct parser *ps, struct key_part *k, size_t *n)
{
	*n = 0;
	for (;;) {
		skip_ws(ps);
		if (*n == MAX_KEY_PART)
			return fail(ps, ps->p, "key has more than %d dotted parts", MAX_KEY_PART);
		struct key_part *kp = &k[*n];
		kp->at = ps->p;
		position(ps, kp->at, &kp->line, &kp->col);
		int c = peek(ps, 0);
		if (c == '"' || c == '\'') {
			struct lade_buf b = LADE_BUF_INIT;
			if (string(ps, true, &b) < 0) {
				lade_buf_release(&b);
				return -1;
			}
			kp->s = lade_buf_detach(&b, &kp->len);
		} else if (bare_key_char(c)) {
			const char *st = ps->p;
			while (!at_eof(ps) && bare_key_char((unsigned char)*ps->p))
				ps->p++;
			kp->len = (size_t)(ps->p - st);
			kp->s = xstrndup(st, kp->len);
		} else if (c < 0 || c == '\n' || c == '\r') {
			return fail(ps, ps->p, "expected a key");
		} else {
			char cd[16];
			return fail(ps, ps->p, "invalid character %s in a key",
			            char_desc(ps, ps->p, cd));
		}
		(*n)++;
		skip_ws(ps);
		if (peek(ps, 0) != '.')
			return 0;
		ps->p++;
	}
}

static char *key_text(const struct key_part *k, size_t n)
{
	struct lade_buf b = LADE_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i)
			lade_buf_addch(&b, '.');
		bool bare = k[i].len > 0;
		for (size_t j = 0; j < k[i].len && bare; j++)
			bare = bare_key_char((unsigned char)k[i].s[j]);
		if (bare) {
			lade_buf_add(&b, k[i].s, k[i].len);
		} else {
			lade_buf_addch(&b, '"');
			for (size_t j = 0; j < k[i].len; j++) {
				unsigned char c = (unsigned char)k[i].s[j];
				if (c == '"' || c == '\\')
					lade_buf_addf(&b, "\\%c", c);
				else if (c < 0x20 || c == 0x7f)
					lade_buf_addf(&b, "\\u%04x", c);
				else
					lade_buf_addch(&b, (char)c);
			}
			lade_buf_addch(&b, '"');
		}
	}
	return lade_buf_detach(&b, NULL);
}

/* ---- numbers and dates ---- */

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Digits of a given base with single underscores between digits, into out (no underscores).
 * Returns the number of digits read, 0 when none. */
static size_t digits(struct parser *ps, int base, struct lade_buf *out)
{
	size_t n = 0;
	for (;;) {
		int c = peek(ps, 0);
		int d = hex_digit(c);
		if (d < 0 || d >= base)
			return n;
		lade_buf_addch(out, (char)c);
		ps->p++;
		n++;
		if (peek(ps, 0) == '_') {
			int d2 = hex_digit(peek(ps, 1));
			if (d2 < 0 || d2 >= base)
				return n; /* the '_' is left: the caller fails on it */
			ps->p++;
		}
	}
}

/* 0x / 0o / 0b integers (never signed): p is at the 0. */
static int prefixed_integer(struct parser *ps, struct lade_toml **out)
{
	const char *start = ps->p;
	int base = peek(ps, 1) == 'x' ? 16 : peek(ps, 1) == 'o' ? 8 : 2;
	ps->p += 2;
	_cleanup_buf_ struct lade_buf d = LADE_BUF_INIT;
	if (!digits(ps, base, &d))
		return fail(ps, start, "invalid integer (no digits after the prefix)");
	uint64_t v = 0;
	for (size_t i = 0; i < d.len; i++) {
		uint64_t dv = (uint64_t)hex_digit((unsigned char)d.data[i]);
		if (v > (UINT64_MAX - dv) / (uint64_t)base || v * (uint64_t)base + dv > INT64_MAX)
			return fail(ps, start, "integer does not fit in 64 bits");
		v = v * (uint64_t)base + dv;
	}
	*out = node_new(ps, LADE_TOML_INTEGER, start);
	(*out)->integer = (int64_t)v;
	return 0;
}

static int number(struct parser *ps, struct lade_toml **out)
{
	const char *start = ps->p;
	int c0 = peek(ps, 0);
	if (c0 == '0' && (peek(ps, 1) == 'x' || peek(ps, 1) == 'o' || peek(ps, 1) == 'b'))
		return prefixed_integer(ps, out);
	_cleanup_buf_ struct lade_buf t = LADE_BUF_INIT;
	bool neg = false;
	if (c0 == '+' || c0 == '-') {
		neg = c0 == '-';
		lade_buf_addch(&t, (char)c0);
		ps->p++;
	}
	if ((peek(ps, 0) == 'i' && peek(ps, 1) == 'n' && peek(ps, 2) == 'f') ||
	    (peek(ps, 0) == 'n' && peek(ps, 1) == 'a' && peek(ps, 2) == 'n')) {
		bool inf = peek(ps, 0) == 'i';
		ps->p += 3;
		*out = node_new(ps, LADE_TOML_FLOAT, start);
		(*out)->fl = inf ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
		return 0;
	}
	if (!is_digit(peek(ps, 0)))
		return fail(ps, start, "invalid value");
	if (peek(ps, 0) == '0') {
		lade_buf_addch(&t, '0');
		ps->p++;
	} else {
		digits(ps, 10, &t);
	}
	bool is_float = false;
	if (peek(ps, 0) == '.') {
		is_float = true;
		lade_buf_addch(&t, '.');
		ps->p++;
		if (!digits(ps, 10, &t))
			return fail(ps, ps->p, "a float needs digits after the decimal point");
	}
	if (peek(ps, 0) == 'e' || peek(ps, 0) == 'E') {
		is_float = true;
		lade_buf_addch(&t, 'e');
		ps->p++;
		if (peek(ps, 0) == '+' || peek(ps, 0) == '-') {
			lade_buf_addch(&t, (char)peek(ps, 0));
			ps->p++;
		}
		if (!digits(ps, 10, &t))
			return fail(ps, ps->p, "a float needs digits in its exponent");
	}
	if (is_float) {
		*out = node_new(ps, LADE_TOML_FLOAT, start);
		(*out)->fl = strtod(t.data, NULL);
		return 0;
	}
	/* decimal integer: accumulate negatively so INT64_MIN fits */
	int64_t v = 0;
	for (const char *q = t.data + (t.data[0] == '+' || t.data[0] == '-'); *q; q++) {
		int d = *q - '0';
		if (v < (INT64_MIN + d) / 10)
			return fail(ps, start, "integer does not fit in 64 bits");
		v = v * 10 - d;
	}
	if (!neg && v == INT64_MIN)
		return fail(ps, start, "integer does not fit in 64 bits");
	*out = node_new(ps, LADE_TOML_INTEGER, start);
	(*out)->integer = neg ? v : -v;
	return 0;
}

/* n decimal digits at p + off, or -1. */
static int fixed_digits(const struct parser *ps, size_t off, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		int c = peek(ps, off + (size_t)i);
		if (!is_digit(c))
			return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}

/* HH:MM:SS(.frac)? at p + off; returns its length or 0 when it is not a time. */
static size_t time_at(const struct parser *ps, size_t off, struct lade_toml_datetime *dt)
{
	int h = fixed_digits(ps, off, 2), m = fixed_digits(ps, off + 3, 2),
	    s = fixed_digits(ps, off + 6, 2);
	if (h < 0 || m < 0 || s < 0 || peek(ps, off + 2) != ':' || peek(ps, off + 5) != ':')
		return 0;
	dt->hour = h;
	dt->minute = m;
	dt->second = s;
	dt->nanosecond = 0;
	size_t len = 8;
	if (peek(ps, off + 8) == '.' && is_digit(peek(ps, off + 9))) {
		uint32_t ns = 0;
		int nd = 0;
		for (len = 9; is_digit(peek(ps, off + len)); len++) {
			if (nd < 9) {
				ns = ns * 10 + (uint32_t)(peek(ps, off + len) - '0');
				nd++;
			}
		}
		for (; nd < 9; nd++)
			ns *= 10;
		dt->nanosecond = ns;
	}
	return len;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A date-time, date or time at p: 1 made, 0 not one (p unchanged), -1 error. */
static int datetime(struct parser *ps, struct lade_toml **out)
{
	const char *start = ps->p;
	struct lade_toml_datetime dt = {0};
	enum lade_toml_type type;
	size_t len;
	if (fixed_digits(ps, 0, 2) >= 0 && peek(ps, 2) == ':') {
		len = time_at(ps, 0, &dt);
		if (!len)
			return fail(ps, start, "invalid time (expected HH:MM:SS)");
		type = LADE_TOML_TIME_LOCAL;
	} else if (fixed_digits(ps, 0, 4) >= 0 && peek(ps, 4) == '-') {
		dt.year = fixed_digits(ps, 0, 4);
		dt.month = fixed_digits(ps, 5, 2);
		dt.day = fixed_digits(ps, 8, 2);
		if (dt.month < 0 || dt.day < 0 || peek(ps, 7) != '-')
			return fail(ps, start, "invalid date (expected YYYY-MM-DD)");
		static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		if (dt.month < 1 || dt.month > 12 || dt.day < 1 ||
		    dt.day > mdays[dt.month - 1] + (dt.month == 2 && leap(dt.year)))
			return fail(ps, start, "invalid date %.10s", start);
		len = 10;
		type = LADE_TOML_DATE_LOCAL;
		int sep = peek(ps, 10);
		size_t tl = 0;
		if (sep == 'T' || sep == 't' || sep == ' ')
			tl = time_at(ps, 11, &dt);
		if (tl) {
			len = 11 + tl;
			type = LADE_TOML_DATETIME_LOCAL;
			int o = peek(ps, len);
			if (o == 'Z' || o == 'z') {
				len++;
				type = LADE_TOML_DATETIME;
			} else if (o == '+' || o == '-') {
				int oh = fixed_digits(ps, len + 1, 2),
				    om = fixed_digits(ps, len + 4, 2);
				if (oh < 0 || om < 0 || peek(ps, len + 3) != ':' || oh > 23 ||
				    om > 59)
					return fail(ps, start, "invalid time offset");
				dt.offset_minutes = (o == '-' ? -1 : 1) * (oh * 60 + om);
				len += 6;
				type = LADE_TOML_DATETIME;
			}
		} else if (sep == 'T' || sep == 't') {
			return fail(ps, start, "invalid date-time (expected HH:MM:SS after T)");
		}
	} else {
		return 0;
	}
	if (dt.hour > 23 || dt.minute > 59 || dt.second > 59)
		return fail(ps, start, "invalid time");
	*out = node_new(ps, type, start);
	(*out)->dt = dt;
	ps->p += len;
	return 1;
}

/* ---- values ---- */

static int value(struct parser *ps, struct lade_toml **out);
static int kv_into(struct parser *ps, struct lade_toml *table, bool top);

static void freeze(struct lade_toml *v)
{
	v->flags |= NF_FROZEN;
}

static int array(struct parser *ps, struct lade_toml **out)
{
	_cleanup_(lade_toml_freep) struct lade_toml *a = node_new(ps, LADE_TOML_ARRAY, ps->p);
	ps->p++;
	for (;;) {
		if (skip_ws_nl(ps) < 0)
			return -1;
		if (peek(ps, 0) == ']') {
			ps->p++;
			break;
		}
		struct lade_toml *v = NULL;
		if (value(ps, &v) < 0)
			return -1;
		push_item(a, v, NULL);
		if (skip_ws_nl(ps) < 0)
			return -1;
		if (peek(ps, 0) == ',') {
			ps->p++;
			continue;
		}
		if (peek(ps, 0) == ']') {
			ps->p++;
			break;
		}
		if (at_eof(ps))
			return fail(ps, ps->p, "unterminated array");
		return fail(ps, ps->p, "expected ',' or ']' in an array");
	}
	freeze(a);
	*out = steal_pointer(&a);
	return 0;
}

static int inline_table(struct parser *ps, struct lade_toml **out)
{
	_cleanup_(lade_toml_freep) struct lade_toml *t = node_new(ps, LADE_TOML_TABLE, ps->p);
	ps->p++;
	skip_ws(ps);
	if (peek(ps, 0) == '}') {
		ps->p++;
	} else {
		for (;;) {
			if (kv_into(ps, t, false) < 0)
				return -1;
			skip_ws(ps);
			if (peek(ps, 0) == ',') {
				ps->p++;
				skip_ws(ps);
				if (peek(ps, 0) == '}')
					return fail(ps, ps->p, "trailing comma in an inline table");
				continue;
			}
			if (peek(ps, 0) == '}') {
				ps->p++;
				break;
			}
			if (at_eof(ps) || peek(ps, 0) == '\n' || peek(ps, 0) == '\r')
				return fail(ps, ps->p,
				            "unterminated inline table (it must be on one line)");
			return fail(ps, ps->p, "expected ',' or '}' in an inline table");
		}
	}
	freeze(t);
	*out = steal_pointer(&t);
	return 0;
}

static bool word_at(const struct parser *ps, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(ps->end - ps->p) >= n && memcmp(ps->p, w, n) == 0;
}

static int value(struct parser *ps, struct lade_toml **out)
{
	int c = peek(ps, 0);
	const char *start = ps->p;
	if (c == '"' || c == '\'') {
		struct lade_buf b = LADE_BUF_INIT;
		if (string(ps, false, &b) < 0) {
			lade_buf_release(&b);
			return -1;
		}
		*out = node_new(ps, LADE_TOML_STRING, start);
		(*out)->str = lade_buf_detach(&b, &(*out)->len);
		return 0;
	}
	if (c == '[' || c == '{') {
		if (ps->nest >= MAX_NEST)
			return fail(ps, start, "arrays and inline tables nested deeper than %d",
			            MAX_NEST);
		ps->nest++;
		int r = c == '[' ? array(ps, out) : inline_table(ps, out);
		ps->nest--;
		return r;
	}
	if (word_at(ps, "true") || word_at(ps, "false")) {
		bool t = c == 't';
		*out = node_new(ps, LADE_TOML_BOOL, start);
		(*out)->boolean = t;
		ps->p += t ? 4 : 5;
		return 0;
	}
	if (is_digit(c)) {
		int r = datetime(ps, out);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
		return number(ps, out);
	if (c < 0 || c == '\n' || c == '\r')
		return fail(ps, start, "expected a value");
	return fail(ps, start, "invalid value");
}

/* ---- tables ---- */

/* Walk (and create) the tables named by k[0..n) from t. `header`: a [header] path, where an
 * array of tables stands for its last element; else dotted keys of a key/value, which may
 * not reach into a table defined elsewhere (`top`) and are queued to be closed at the next
 * header. */
static int walk(struct parser *ps, struct lade_toml *t, const struct key_part *k, size_t n,
                bool header, bool top, struct lade_toml **out)
{
	for (size_t i = 0; i < n; i++) {
		struct lade_toml *c = table_find(t, k[i].s, k[i].len);
		if (!c) {
			c = node_new_at(LADE_TOML_TABLE, k[i].line, k[i].col);
			push_item(t, c, &k[i]);
		} else {
			_cleanup_free_ char *name = key_text(k, i + 1);
			if (c->flags & NF_FROZEN)
				return fail(ps, k[i].at,
				            "%s cannot be extended (defined inline at %d:%d)", name,
				            c->line, c->column);
			if (c->type == LADE_TOML_ARRAY && (c->flags & NF_AOT) && header) {
				c = c->items[c->n - 1];
			} else if (c->type != LADE_TOML_TABLE) {
				return fail(ps, k[i].at, "%s is already a%s %s (at %d:%d)", name,
				            c->type == LADE_TOML_ARRAY ||
				                            c->type == LADE_TOML_INTEGER
				                    ? "n"
				                    : "",
				            c->type == LADE_TOML_ARRAY && (c->flags & NF_AOT)
				                    ? "array of tables"
				                    : lade_toml_type_name(c->type),
				            c->line, c->column);
			} else if (!header && top && (c->flags & NF_EXPLICIT)) {
				return fail(
				        ps, k[i].at,
				        "table %s is defined at %d:%d and cannot be extended by "
				        "dotted keys",
				        name, c->line, c->column);
			}
		}
		if (!header && top) {
			lade_grow(&ps->pending, sizeof(*ps->pending), ps->n_pending + 1,
			          &ps->a_pending);
			ps->pending[ps->n_pending++] = c;
		}
		t = c;
	}
	*out = t;
	return 0;
}

static int kv_into(struct parser *ps, struct lade_toml *table, bool top)
{
	struct key_part k[MAX_KEY_PART];
	size_t n = 0;
	int r = key(ps, k, &n);
	if (r == 0) {
		struct lade_toml *parent = NULL, *v = NULL;
		char cd[16];
		if (at_eof(ps)) {
			r = fail(ps, ps->p, "expected '=' after a key");
		} else if (peek(ps, 0) != '=') {
			r = fail(ps, ps->p, "expected '=' after a key, got %s",
			         char_desc(ps, ps->p, cd));
		} else {
			ps->p++;
			skip_ws(ps);
			r = value(ps, &v);
		}
		if (r == 0)
			r = walk(ps, table, k, n - 1, false, top, &parent);
		if (r == 0) {
			struct lade_toml *old = table_find(parent, k[n - 1].s, k[n - 1].len);
			if (old) {
				_cleanup_free_ char *name = key_text(k, n);
				r = fail(ps, k[n - 1].at, "%s is defined twice (first at %d:%d)",
				         name, old->line, old->column);
			} else {
				/* the value is placed where its key starts */
				v->line = k[0].line;
				v->column = k[0].col;
				push_item(parent, steal_pointer(&v), &k[n - 1]);
			}
		}
		lade_toml_free(v);
	}
	free_key(k, n);
	return r;
}

static int header(struct parser *ps, struct lade_toml **cur)
{
	const char *start = ps->p;
	int hl, hc;
	position(ps, start, &hl, &hc);
	bool aot = peek(ps, 1) == '[';
	ps->p += aot ? 2 : 1;
	for (size_t i = 0; i < ps->n_pending; i++)
		ps->pending[i]->flags |= NF_EXPLICIT;
	ps->n_pending = 0;

	struct key_part k[MAX_KEY_PART];
	size_t n = 0;
	int r = key(ps, k, &n);
	if (r == 0 && (peek(ps, 0) != ']' || (aot && peek(ps, 1) != ']')))
		r = fail(ps, ps->p, "expected '%s' to end the table header", aot ? "]]" : "]");
	if (r == 0)
		ps->p += aot ? 2 : 1;
	struct lade_toml *parent = NULL;
	if (r == 0)
		r = walk(ps, ps->root, k, n - 1, true, true, &parent);
	if (r < 0) {
		free_key(k, n);
		return -1;
	}
	_cleanup_free_ char *name = key_text(k, n);
	struct lade_toml *t = table_find(parent, k[n - 1].s, k[n - 1].len);
	if (aot) {
		if (!t) {
			t = node_new_at(LADE_TOML_ARRAY, hl, hc);
			t->flags |= NF_AOT | NF_EXPLICIT;
			push_item(parent, t, &k[n - 1]);
		} else if (!(t->flags & NF_AOT)) {
			r = fail(ps, start, "%s is already a %s (at %d:%d)", name,
			         (t->flags & NF_FROZEN) && t->type == LADE_TOML_ARRAY
			                 ? "static array"
			                 : lade_toml_type_name(t->type),
			         t->line, t->column);
		}
		if (r == 0) {
			struct lade_toml *e = node_new_at(LADE_TOML_TABLE, hl, hc);
			e->flags |= NF_EXPLICIT;
			push_item(t, e, NULL);
			*cur = e;
		}
	} else if (!t) {
		t = node_new_at(LADE_TOML_TABLE, hl, hc);
		t->flags |= NF_EXPLICIT;
		push_item(parent, t, &k[n - 1]);
		*cur = t;
	} else if (t->flags & NF_FROZEN) {
		r = fail(ps, start, "%s cannot be extended (defined inline at %d:%d)", name,
		         t->line, t->column);
	} else if (t->type != LADE_TOML_TABLE || (t->flags & NF_EXPLICIT)) {
		r = fail(ps, start, "table [%s] defined twice (first at %d:%d)", name, t->line,
		         t->column);
	} else {
		t->flags |= NF_EXPLICIT;
		t->line = hl;
		t->column = hc;
		*cur = t;
	}
	free_key(k, n);
	if (r < 0)
		return -1;
	return end_of_line(ps, "a table header");
}

static int check_utf8(struct parser *ps)
{
	const unsigned char *p = (const unsigned char *)ps->s,
	                    *end = (const unsigned char *)ps->end;
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t n = utf8_len(p, end);
		if (!n)
			return fail(ps, (const char *)p, "invalid UTF-8");
		p += n;
	}
	return 0;
}

int lade_toml_parse(const char *path, const char *data, size_t len, struct lade_toml **out,
                    struct lade_error **err)
{
	struct parser ps = {.path = path, .s = data, .p = data, .end = data + len, .err = err};
	ps.pos_at = data;
	ps.pos_line = ps.pos_col = 1;
	if (check_utf8(&ps) < 0)
		return -1;
	_cleanup_(lade_toml_freep) struct lade_toml *root = node_new(&ps, LADE_TOML_TABLE, data);
	root->flags |= NF_EXPLICIT;
	ps.root = root;
	struct lade_toml *cur = root;
	int r = 0;
	while (r == 0) {
		skip_ws(&ps);
		if (at_eof(&ps))
			break;
		int c = peek(&ps, 0);
		if (c == '#')
			r = end_of_line(&ps, "a comment");
		else if (newline(&ps))
			continue;
		else if (c == '[')
			r = header(&ps, &cur);
		else if (c == '\r')
			r = fail(&ps, ps.p, "carriage return not followed by a newline");
		else if ((r = kv_into(&ps, cur, true)) == 0)
			r = end_of_line(&ps, "a value");
	}
	free(ps.pending);
	if (r < 0)
		return -1;
	*out = steal_pointer(&root);
	return 0;
}
