/* The TOML reader: each kind of value, each redefinition rule and the position of each error.
 * The generated differential test against tomllib (toml-diff) covers the breadth; these name
 * the rules one by one. */
#include <math.h>
#include <string.h>

#include "lade/toml.h"
#include "lade/util.h"
#include "tap.h"

static struct lade_toml *parse(const char *doc)
{
	struct lade_toml *t = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_toml_parse("t.toml", doc, strlen(doc), &t, &err) < 0) {
		printf("# unexpected error: %s\n", err->msg);
		return NULL;
	}
	return t;
}

/* The error message for doc, or "" when it parses. */
static const char *error_of(const char *doc, size_t len)
{
	static char msg[512];
	struct lade_toml *t = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	msg[0] = '\0';
	if (lade_toml_parse("t.toml", doc, len, &t, &err) < 0)
		snprintf(msg, sizeof(msg), "%s", err->msg);
	lade_toml_free(t);
	return msg;
}
#define bad(doc, want) is_str(error_of(doc, strlen(doc)), want, "refused: %s", want)

/* t[path] where path is "a.b.c" of bare keys */
static const struct lade_toml *at(const struct lade_toml *t, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	char *save = NULL;
	for (char *k = strtok_r(p, ".", &save); k && t; k = strtok_r(NULL, ".", &save))
		t = lade_toml_get(t, k);
	return t;
}

static void test_scalars(void)
{
	struct lade_toml *t = parse("s = \"a\\tb\\u00e9\\U0001F600\\\\\\\"\"\n"
	                            "l = 'C:\\path'\n"
	                            "i = +1_000\nh = 0xDEAD_beef\no = 0o755\nb = 0b1010\n"
	                            "neg = -9223372036854775808\n"
	                            "f = 6.626e-34\ng = -0.0\ninf = -inf\nnan = +nan\n"
	                            "yes = true\nno = false\n"
	                            "odt = 1979-05-27T07:32:00.999999999-07:30\n"
	                            "ldt = 1979-05-27 07:32:00\nld = 2000-02-29\nlt = 00:32:00.5\n"
	                            "z = 1979-05-27t07:32:00z\n");
	ok(t != NULL, "scalars parse");
	if (!t)
		return;
	const struct lade_toml *v = at(t, "s");
	ok(v && v->len == 11 && memcmp(v->str, "a\tb\xc3\xa9\xf0\x9f\x98\x80\\\"", 11) == 0,
	   "basic string escapes and \\u / \\U to UTF-8");
	is_str(at(t, "l")->str, "C:\\path", "literal string keeps backslashes");
	ok(at(t, "i")->integer == 1000, "+1_000");
	ok(at(t, "h")->integer == 0xDEADBEEF, "hex with underscore");
	ok(at(t, "o")->integer == 0755 && at(t, "b")->integer == 10, "octal and binary");
	ok(at(t, "neg")->integer == INT64_MIN, "INT64_MIN");
	ok(at(t, "f")->type == LADE_TOML_FLOAT && at(t, "f")->fl == 6.626e-34, "exponent float");
	ok(signbit(at(t, "g")->fl) && at(t, "g")->fl == 0, "-0.0 keeps its sign");
	ok(isinf(at(t, "inf")->fl) && at(t, "inf")->fl < 0, "-inf");
	ok(isnan(at(t, "nan")->fl), "+nan");
	ok(at(t, "yes")->boolean && !at(t, "no")->boolean, "booleans");
	v = at(t, "odt");
	ok(v->type == LADE_TOML_DATETIME && v->dt.year == 1979 && v->dt.second == 0 &&
	           v->dt.nanosecond == 999999999 && v->dt.offset_minutes == -450,
	   "offset date-time with nanoseconds and -07:30");
	ok(at(t, "ldt")->type == LADE_TOML_DATETIME_LOCAL && at(t, "ldt")->dt.hour == 7,
	   "local date-time with a space");
	ok(at(t, "ld")->type == LADE_TOML_DATE_LOCAL && at(t, "ld")->dt.day == 29,
	   "local date on a leap day");
	ok(at(t, "lt")->type == LADE_TOML_TIME_LOCAL && at(t, "lt")->dt.nanosecond == 500000000,
	   "local time with a fraction");
	ok(at(t, "z")->type == LADE_TOML_DATETIME && at(t, "z")->dt.offset_minutes == 0,
	   "lowercase t and z");
	lade_toml_free(t);
}

static void test_multiline(void)
{
	struct lade_toml *t = parse("a = \"\"\"\none\r\ntwo \\\n    three\"\"\"\"\"\n"
	                            "b = '''\n\\no escape''''\n"
	                            "c = \"\"\"\"\"\"\n");
	ok(t != NULL, "multiline strings parse");
	if (!t)
		return;
	is_str(at(t, "a")->str, "one\ntwo three\"\"",
	       "first newline trimmed, CRLF read as LF, line-ending backslash, quotes before the "
	       "closing delimiter");
	is_str(at(t, "b")->str, "\\no escape'", "multiline literal");
	is_str(at(t, "c")->str, "", "empty multiline");
	lade_toml_free(t);
}

static void test_tables(void)
{
	struct lade_toml *t = parse("# top\n"
	                            "a.b.c = 1\n"
	                            "a.b.d = 2 # same section: dotted keys extend\n"
	                            "\"quoted key\".'lit' = 3\n"
	                            "[x.y.z]\n"
	                            "[x] # an implicit table may be defined once\n"
	                            "k = 1\n"
	                            "[x.y.w]\n"
	                            "[[p]]\nn = 1\n[p.sub]\nq = 1\n[[p]]\nn = 2\n"
	                            "[[p.list]]\n"
	                            "[t]\ni = {a = 1, b.c = [1, 'two', 3.0, [], {}]}\n"
	                            "arr = [\n  1, # comment\n  2,\n]\n");
	ok(t != NULL, "tables parse");
	if (!t)
		return;
	ok(at(t, "a.b.c")->integer == 1 && at(t, "a.b.d")->integer == 2, "dotted keys");
	ok(lade_toml_get(lade_toml_get(t, "quoted key"), "lit")->integer == 3, "quoted keys");
	ok(at(t, "x.k") && at(t, "x.y.z") && at(t, "x.y.w"), "super-table after sub-table");
	const struct lade_toml *p = at(t, "p");
	ok(p && p->type == LADE_TOML_ARRAY && p->n == 2, "array of tables has two tables");
	ok(p && at(p->items[0], "sub.q") && at(p->items[1], "list")->n == 1,
	   "sub-tables go into the last element");
	const struct lade_toml *i = at(t, "t.i");
	ok(i && at(i, "b.c")->n == 5, "inline table with dotted key and mixed array");
	ok(at(t, "t.arr")->n == 2, "multiline array with comments and a trailing comma");
	ok(i && i->line == 17 && i->column == 1, "a value's position is where its key starts");
	ok(p && p->items[1]->line == 13 && p->items[1]->column == 1,
	   "an [[array]] element's position");
	lade_toml_free(t);
}

static void test_redefinition(void)
{
	bad("[a]\n[a]\n", "t.toml:2:1: table [a] defined twice (first at 1:1)");
	bad("a = 1\na = 2\n", "t.toml:2:1: a is defined twice (first at 1:1)");
	bad("a.b = 1\n[a]\n", "t.toml:2:1: table [a] defined twice (first at 1:1)");
	bad("[a.b]\nx = 1\n[a]\nb.y = 2\n",
	    "t.toml:4:1: table b is defined at 1:1 and cannot be extended by dotted keys");
	bad("a = {b = 1}\na.c = 2\n", "t.toml:2:1: a cannot be extended (defined inline at 1:1)");
	bad("a = {b = 1}\n[a]\n", "t.toml:2:1: a cannot be extended (defined inline at 1:1)");
	bad("a = {b = 1}\n[a.c]\n", "t.toml:2:2: a cannot be extended (defined inline at 1:1)");
	bad("a = [1]\n[[a]]\n", "t.toml:2:1: a is already a static array (at 1:1)");
	bad("[a]\n[[a]]\n", "t.toml:2:1: a is already a table (at 1:1)");
	bad("[[a]]\n[a]\n", "t.toml:2:1: table [a] defined twice (first at 1:1)");
	bad("a = 1\n[a.b]\n", "t.toml:2:2: a is already an integer (at 1:1)");
	bad("x = {a = {b = 1}, a.c = 2}\n",
	    "t.toml:1:19: a cannot be extended (defined inline at 1:6)");
	bad("x = {a = 1, a = 2}\n", "t.toml:1:13: a is defined twice (first at 1:6)");
	bad("[[a]]\nb.c = 1\n[a.b]\n", "t.toml:3:1: table [a.b] defined twice (first at 2:1)");
	ok(error_of("[a.b.c]\n[a]\nb.d = 1\n", 20)[0] == '\0',
	   "dotted keys may extend an implicit table (as tomllib)");
}

static void test_errors(void)
{
	bad("a = \"x\n", "t.toml:1:7: newline in a single-line string");
	bad("a = \"x", "t.toml:1:5: unterminated string");
	bad("a = '''x", "t.toml:1:5: unterminated multiline string");
	bad("a = \"\\q\"\n", "t.toml:1:6: invalid escape '\\q'");
	bad("a = \"\\uD800\"\n", "t.toml:1:6: \\uD800 is not a Unicode scalar value");
	bad("a = \"\\u12\"\n", "t.toml:1:6: \\u escape needs 4 hex digits");
	bad("a = \"\x01\"\n", "t.toml:1:6: control character 0x01 in a string");
	bad("# \x7f\n", "t.toml:1:3: control character 0x7f in a comment");
	ok(strcmp(error_of("a = \"\xc3\"\n", 8), "t.toml:1:6: invalid UTF-8") == 0,
	   "truncated UTF-8 is refused where it starts");
	bad("a = \"\xed\xa0\x80\"\n", "t.toml:1:6: invalid UTF-8");
	bad("\xc3\xa9\xc3\xa9 = 1\n", "t.toml:1:1: invalid character U+00E9 in a key");
	bad("a = 01\n", "t.toml:1:6: unexpected '1' after a value (expected a newline)");
	bad("a = 1__0\n", "t.toml:1:6: unexpected '_' after a value (expected a newline)");
	bad("a = 9223372036854775808\n", "t.toml:1:5: integer does not fit in 64 bits");
	bad("a = 0x\n", "t.toml:1:5: invalid integer (no digits after the prefix)");
	bad("a = 1.\n", "t.toml:1:7: a float needs digits after the decimal point");
	bad("a = .5\n", "t.toml:1:5: invalid value");
	bad("a = 1e\n", "t.toml:1:7: a float needs digits in its exponent");
	bad("a = 2021-02-29\n", "t.toml:1:5: invalid date 2021-02-29");
	bad("a = 24:00:00\n", "t.toml:1:5: invalid time");
	bad("a = 12:00\n", "t.toml:1:5: invalid time (expected HH:MM:SS)");
	bad("a = 1979-05-27T07:32\n", "t.toml:1:5: invalid date-time (expected HH:MM:SS after T)");
	bad("a = 1979-05-27T07:32:00+24:00\n", "t.toml:1:5: invalid time offset");
	bad("a = tru\n", "t.toml:1:5: invalid value");
	bad("a =\n", "t.toml:1:4: expected a value");
	bad("a\n", "t.toml:1:2: expected '=' after a key, got U+000A");
	bad("a = 1 b = 2\n", "t.toml:1:7: unexpected 'b' after a value (expected a newline)");
	bad("a = [1 2]\n", "t.toml:1:8: expected ',' or ']' in an array");
	bad("a = [1,\n", "t.toml:2:1: expected a value");
	bad("a = {b = 1,}\n", "t.toml:1:12: trailing comma in an inline table");
	bad("a = {b = 1\n}\n", "t.toml:1:11: unterminated inline table (it must be on one line)");
	bad("[a\n", "t.toml:1:3: expected ']' to end the table header");
	bad("[[a]\n", "t.toml:1:4: expected ']]' to end the table header");
	bad("[]\n", "t.toml:1:2: invalid character ']' in a key");
	bad("a = \"\"\"x\"\"\" = 1\n",
	    "t.toml:1:13: unexpected '=' after a value (expected a newline)");
	bad("\"\"\"k\"\"\" = 1\n", "t.toml:1:1: a key cannot be a multiline string");
	bad("a = 1\r\n\rb = 2\n", "t.toml:2:1: carriage return not followed by a newline");
	bad("é = 1\n", "t.toml:1:1: invalid character U+00E9 in a key");
	bad("x = 1\n  y = \"\xe2\x82\xac\" z\n",
	    "t.toml:2:11: unexpected 'z' after a value (expected a newline)");
}

static void test_depth(void)
{
	struct lade_buf b = LADE_BUF_INIT;
	lade_buf_adds(&b, "a = ");
	for (int i = 0; i < 65; i++)
		lade_buf_addch(&b, '[');
	for (int i = 0; i < 65; i++)
		lade_buf_addch(&b, ']');
	is_str(error_of(b.data, b.len),
	       "t.toml:1:69: arrays and inline tables nested deeper than 64", "nesting is bounded");
	lade_buf_reset(&b);
	for (int i = 0; i < 33; i++)
		lade_buf_adds(&b, i ? ".k" : "k");
	lade_buf_adds(&b, " = 1\n");
	is_str(error_of(b.data, b.len), "t.toml:1:65: key has more than 32 dotted parts",
	       "dotted keys are bounded");
	lade_buf_release(&b);
	ok(error_of("", 0)[0] == '\0', "an empty document is an empty table");
	is_str(error_of("a = \"\0\"", 7), "t.toml:1:6: control character 0x00 in a string",
	       "a raw NUL is refused");
	struct lade_toml *t = parse("a = \"x\\u0000y\"\n");
	ok(t && at(t, "a")->len == 3 && at(t, "a")->str[1] == '\0', "an escaped NUL is kept");
	lade_toml_free(t);
}

/* Tables past 16 keys are hash-indexed: lookups, duplicates and keys holding NUL or \x01 */
static void test_wide(void)
{
	struct lade_buf b = LADE_BUF_INIT;
	for (int i = 0; i < 40; i++)
		lade_buf_addf(&b, "k%d = %d\n", i, i);
	lade_buf_adds(&b, "\"a\\u0000\" = 1\n\"a\\u0001b\" = 2\n\"a\\u0001a\" = 3\n\"a\" = 4\n");
	struct lade_toml *t = parse(b.data);
	ok(t && t->n == 44 && t->index, "44 keys, indexed");
	ok(t && lade_toml_get(t, "k39")->integer == 39 && lade_toml_get(t, "k0")->integer == 0 &&
	           !lade_toml_get(t, "k40"),
	   "indexed lookups");
	ok(t && lade_toml_get(t, "a")->integer == 4 &&
	           lade_toml_get(t, "a\x01"
	                            "a")
	                           ->integer == 3 &&
	           lade_toml_get(t, "a\x01"
	                            "b")
	                           ->integer == 2,
	   "keys with \\x01 do not collide with the escaped NUL");
	lade_toml_free(t);
	lade_buf_adds(&b, "\"a\\u0000\" = 5\n");
	is_str(error_of(b.data, b.len),
	       "t.toml:45:1: \"a\\u0000\" is defined twice (first at 41:1)",
	       "a duplicate found through the index");
	lade_buf_release(&b);
}

int main(void)
{
	test_scalars();
	test_multiline();
	test_tables();
	test_redefinition();
	test_errors();
	test_depth();
	test_wide();
	return tap_done();
}
