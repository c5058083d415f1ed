/* Unit tests for PEP 503 names, PEP 508 requirements and markers, and the dependency check.
 * Marker results were checked against PyPA packaging (extras compare normalised, as in
 * packaging >= 22 / PEP 685). */
#include <string.h>

#include "lade/pep508.h"
#include "lade/util.h"
#include "tap.h"

static struct lade_target target;
static struct lade_marker_env env;

static void test_names(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	        {"Foo.Bar_baz", "foo-bar-baz"},
	        {"a--_.b", "a-b"},
	        {"CHARSET_normalizer", "charset-normalizer"},
	        {"zope.interface", "zope-interface"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *n = lade_name_normalize(cases[i].in);
		is_str(n, cases[i].want, "normalise %s", cases[i].in);
	}
	ok(lade_name_valid("a.b-c_d9") && !lade_name_valid("-a") && !lade_name_valid("a-") &&
	           !lade_name_valid("") && !lade_name_valid("a b"),
	   "name validity");
}

static const struct {
	const char *marker, *extra;
	bool want;
} marker_cases[] = {
        {"python_version < '3.12'", "", true},
        {"python_version >= '3.8'", "", true},
        {"python_version > '3.11'", "", false},
        {"python_full_version >= '3.11.0'", "", true},
        {"python_version == '3.11.*'", "", true},
        {"sys_platform == 'linux'", "", true},
        {"sys_platform == 'win32'", "", false},
        {"platform_system == 'Windows'", "", false},
        {"platform_machine in 'x86_64 AMD64'", "", true},
        {"platform_machine == 'aarch64'", "", false},
        {"os_name == 'nt'", "", false},
        {"implementation_name == 'cpython'", "", true},
        {"platform_python_implementation != 'PyPy'", "", true},
        {"'linux' in sys_platform", "", true},
        {"sys_platform not in 'win32 cygwin'", "", true},
        {"extra == 'test'", "Test", true},
        {"extra == 'te_st'", "te-st", true},
        {"extra == 'test'", "", false},
        {"extra == 'test'", NULL, false},
        {"python_version < '3.12' and (sys_platform == 'win32' or platform_machine == 'x86_64')",
         "", true},
        {"os_name == 'posix' or sys_platform == 'win32' and os_name == 'nt'", "", true},
        {"(os_name == 'posix' or sys_platform == 'win32') and os_name == 'nt'", "", false},
        {"platform_release >= '5'", "", false},
        {"python_version ~= '3.1'", "", true},
        {"os.name == 'posix'", "", true},
        {"python_implementation == 'CPython'", "", true},
        {"implementation_version >= '3.11'", "", true},
        {"python_version === '3.11'", "", true},
        {"'3.8' < python_version", "", true},
        {"python_version<\"3.11.1\"", "", true},
        {"python_version > '3.11a1'", "", true},
        {"python_full_version < '3.11.0rc1'", "", false},
        {"platform_machine >= 'x86'", "", true},
        {"python_version not in '3.10, 3.12'", "", true},
        {"((((python_version == '3.11'))))", "", true},
        {"python_version=='3.11'and os_name=='posix'", "", true},
};

static void test_markers(void)
{
	for (size_t i = 0; i < LADE_ARRAY_SIZE(marker_cases); i++) {
		bool res = !marker_cases[i].want;
		struct lade_error *err = NULL;
		int r = lade_marker_evaluate(marker_cases[i].marker, &env, marker_cases[i].extra,
		                             &res, &err);
		ok(r == 0 && res == marker_cases[i].want, "%s [extra=%s] is %s",
		   marker_cases[i].marker, marker_cases[i].extra ? marker_cases[i].extra : "NULL",
		   marker_cases[i].want ? "true" : "false");
		if (err)
			printf("# %s\n", err->msg);
		lade_error_free(err);
	}

	static const struct {
		const char *marker, *msg;
	} bad[] = {
	        {"python_version", "invalid marker 'python_version': expected a marker operator at "
	                           "column 15"},
	        {"bogus == '1'",
	         "invalid marker 'bogus == '1'': expected a marker variable or quoted "
	         "string at column 1"},
	        {"os_name == 'a",
	         "invalid marker 'os_name == 'a': unterminated string at column 12"},
	        {"(os_name == 'a'", "invalid marker '(os_name == 'a'': expected ')' at column 16"},
	        {"os_name == 'a' xor os_name == 'b'", "invalid marker 'os_name == 'a' xor os_name "
	                                              "== 'b'': expected 'and', 'or' or the end "
	                                              "at column 16"},
	        {"os_name not  'a'",
	         "invalid marker 'os_name not  'a'': expected 'in' after 'not' at "
	         "column 14"},
	        {"os_name notin 'a'",
	         "invalid marker 'os_name notin 'a'': expected a marker operator "
	         "at column 9"},
	        {"'a' == 'b'",
	         "invalid marker ''a' == 'b'': comparison of two strings at column 11"},
	        {"os_name ~= 'posix'",
	         "invalid marker 'os_name ~= 'posix'': undefined comparison 'posix' ~= 'posix'"},
	        {"", "invalid marker '': expected a marker variable or quoted string at column 1"},
	        {"os_name == 'a' and", "invalid marker 'os_name == 'a' and': expected a marker "
	                               "variable or quoted string at column 19"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++) {
		bool res;
		struct lade_error *err = NULL;
		ok(lade_marker_evaluate(bad[i].marker, &env, NULL, &res, &err) == -1, "refused %s",
		   bad[i].marker);
		is_str(err ? err->msg : NULL, bad[i].msg, "message");
		lade_error_free(err);
	}

	/* nesting: 64 levels are fine, 65 are refused; 100000 do not overflow the stack */
	static const int depths[] = {64, 65, 100000};
	for (size_t k = 0; k < LADE_ARRAY_SIZE(depths); k++) {
		int depth = depths[k];
		struct lade_buf b = LADE_BUF_INIT;
		for (int i = 0; i < depth; i++)
			lade_buf_addch(&b, '(');
		lade_buf_adds(&b, "os_name == 'posix'");
		for (int i = 0; i < depth; i++)
			lade_buf_addch(&b, ')');
		bool res = false;
		struct lade_error *err = NULL;
		int r = lade_marker_evaluate(b.data, &env, NULL, &res, &err);
		if (depth == 64)
			ok(r == 0 && res, "64 nested parentheses evaluate");
		else
			ok(r == -1 && strstr(err->msg, "nested too deeply at column 65"),
			   "%d nested parentheses refused", depth);
		lade_error_free(err);
		lade_buf_release(&b);
	}
	/* a long flat chain is linear */
	struct lade_buf b = LADE_BUF_INIT;
	for (int i = 0; i < 20000; i++)
		lade_buf_adds(&b, "os_name == 'nt' or ");
	lade_buf_adds(&b, "os_name == 'posix'");
	bool res = false;
	ok(lade_marker_evaluate(b.data, &env, NULL, &res, NULL) == 0 && res, "20001-term chain");
	lade_buf_release(&b);
}

static void test_requirements(void)
{
	static const struct {
		const char *in, *name, *name_text, *extras, *spec, *url, *marker, *str;
	} good[] = {
	        {"requests[security,socks] (>=2.8.1,<3) ; python_version >= '3.7'", "requests",
	         "requests", "security,socks", "<3,>=2.8.1", NULL, "python_version >= '3.7'",
	         "requests[security,socks]<3,>=2.8.1"},
	        {"urllib3<3,>=1.21.1", "urllib3", "urllib3", "", "<3,>=1.21.1", NULL, NULL,
	         "urllib3<3,>=1.21.1"},
	        {"  Foo.Bar_baz >= 1.0  ", "foo-bar-baz", "Foo.Bar_baz", "", ">=1.0", NULL, NULL,
	         "Foo.Bar_baz>=1.0"},
	        {"pkg @ https://example.com/pkg-1.0.whl ; os_name == 'posix'", "pkg", "pkg", "", "",
	         "https://example.com/pkg-1.0.whl", "os_name == 'posix'",
	         "pkg @ https://example.com/pkg-1.0.whl"},
	        {"pytest; extra == 'test'", "pytest", "pytest", "", "", NULL, "extra == 'test'",
	         "pytest"},
	        {"numpy", "numpy", "numpy", "", "", NULL, NULL, "numpy"},
	        {"Zope[B_X, a]==1.0", "zope", "Zope", "b-x,a", "==1.0", NULL, NULL,
	         "Zope[a,b-x]==1.0"},
	        {"x[]>1", "x", "x", "", ">1", NULL, NULL, "x>1"},
	        {"torch==2.3.0+cpu", "torch", "torch", "", "==2.3.0+cpu", NULL, NULL,
	         "torch==2.3.0+cpu"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(good); i++) {
		_cleanup_(lade_requirement_freep) struct lade_requirement *r = NULL;
		struct lade_error *err = NULL;
		if (lade_requirement_parse(good[i].in, &r, &err) < 0) {
			ok(0, "parse %s: %s", good[i].in, err->msg);
			lade_error_free(err);
			continue;
		}
		struct lade_buf ex = LADE_BUF_INIT;
		for (char **e = r->extras; *e; e++)
			lade_buf_addf(&ex, "%s%s", e == r->extras ? "" : ",", *e);
		_cleanup_free_ char *s = lade_requirement_str(r);
		ok(strcmp(r->name, good[i].name) == 0 &&
		           strcmp(r->name_text, good[i].name_text) == 0 &&
		           strcmp(ex.data, good[i].extras) == 0 &&
		           strcmp(lade_specifier_str(r->spec), good[i].spec) == 0,
		   "parse %s", good[i].in);
		is_str(r->url, good[i].url, "url of %s", good[i].in);
		is_str(r->marker, good[i].marker, "marker of %s", good[i].in);
		is_str(s, good[i].str, "str of %s", good[i].in);
		lade_buf_release(&ex);
	}

	static const struct {
		const char *in, *msg;
	} bad[] = {
	        {"", "invalid requirement '': expected a package name at column 1"},
	        {"==1.0", "invalid requirement '==1.0': expected a package name at column 1"},
	        {"foo[bar",
	         "invalid requirement 'foo[bar': expected ',' or ']' in extras at column 8"},
	        {"foo[bar,]",
	         "invalid requirement 'foo[bar,]': expected an extra name after ',' at "
	         "column 9"},
	        {"foo 1.0", "invalid requirement 'foo 1.0': invalid version specifier at column 5"},
	        {"foo (>=1.0", "invalid requirement 'foo (>=1.0': expected ')' at column 11"},
	        {"foo (>=1.0) bar",
	         "invalid requirement 'foo (>=1.0) bar': expected ';' or the end at "
	         "column 13"},
	        {"foo @ ", "invalid requirement 'foo @ ': expected a URL after '@' at column 7"},
	        {"foo @ http://x.whl x", "invalid requirement 'foo @ http://x.whl x': expected ';' "
	                                 "after the URL at column 20"},
	        {"foo ; python_version",
	         "invalid requirement 'foo ; python_version': invalid marker "
	         "'python_version': expected a marker operator at column 15"},
	        {"foo-", "invalid requirement 'foo-': invalid version specifier at column 4"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad); i++) {
		struct lade_requirement *r = NULL;
		struct lade_error *err = NULL;
		ok(lade_requirement_parse(bad[i].in, &r, &err) == -1 && r == NULL, "refused '%s'",
		   bad[i].in);
		is_str(err ? err->msg : NULL, bad[i].msg, "message");
		lade_error_free(err);
	}
}

static char *const requests_reqs[] = {
        "charset-normalizer<4,>=2",
        "idna<4,>=2.5",
        "urllib3<3,>=1.21.1",
        "certifi>=2017.4.17",
        "PySocks!=1.5.7,>=1.5.6; extra == 'socks'",
        "chardet<6,>=3.0.2; extra == 'use-chardet-on-py3'",
        NULL,
};

static int check(const struct lade_dist *d, size_t n, char **msg)
{
	struct lade_error *err = NULL;
	int r = lade_deps_check(d, n, &target, &err);
	*msg = err ? xstrdup(err->msg) : NULL;
	lade_error_free(err);
	return r;
}

static void test_deps(void)
{
	struct lade_dist ok_set[] = {
	        {"requests", "2.31.0", requests_reqs, NULL},
	        {"Charset_Normalizer", "3.3.2", NULL, NULL},
	        {"idna", "3.6", NULL, NULL},
	        {"urllib3", "2.2.1", NULL, NULL},
	        {"certifi", "2024.2.2", NULL, NULL},
	};
	char *msg = NULL;
	ok(check(ok_set, LADE_ARRAY_SIZE(ok_set), &msg) == 0 && !msg, "complete set passes");
	free(msg);

	ok_set[3].version = "3.0.0";
	ok(check(ok_set, LADE_ARRAY_SIZE(ok_set), &msg) == -1, "wrong version fails");
	is_str(msg, "requests 2.31.0 requires urllib3<3,>=1.21.1 but the lock has urllib3 3.0.0",
	       "wrong version message");
	free(msg);

	ok(check(ok_set, 3, &msg) == -1, "missing dists fail");
	is_str(msg,
	       "requests 2.31.0 requires urllib3<3,>=1.21.1 but urllib3 is not in the lock\n"
	       "requests 2.31.0 requires certifi>=2017.4.17 but certifi is not in the lock",
	       "all problems reported");
	free(msg);

	/* a pre-release in the set satisfies a plain specifier, as in pip check */
	ok_set[3].version = "2.3.0rc1";
	ok(check(ok_set, LADE_ARRAY_SIZE(ok_set), &msg) == 0, "pre-release accepted");
	free(msg);

	/* extras: requested from the lock, through another dist, and through an extra */
	char *const app_reqs[] = {"scipy[test]>=1.0", "colorama; sys_platform == 'win32'", NULL};
	char *const scipy_reqs[] = {"numpy>=1.21",
	                            "pytest>=7; extra == 'test'",
	                            "scipy[dev]; extra == 'test'",
	                            "mypy; extra == 'dev'",
	                            "hypothesis; extra == 'all'",
	                            "numpy>=9; python_version < '3.0'",
	                            NULL};
	char *const httpx_reqs[] = {"h2<5,>=3; extra == 'http2'", "idna", NULL};
	char *const httpx_extras[] = {"HTTP2", NULL};
	struct lade_dist ex[] = {
	        {"scipy", "1.11.0", scipy_reqs, NULL},
	        {"app", "1.0", app_reqs, NULL},
	        {"numpy", "1.26.4", NULL, NULL},
	        {"httpx", "0.27.0", httpx_reqs, httpx_extras},
	        {"idna", "3.6", NULL, NULL},
	};
	ok(check(ex, LADE_ARRAY_SIZE(ex), &msg) == -1, "extras closure finds missing dists");
	is_str(msg,
	       "httpx 0.27.0 requires h2<5,>=3 via httpx[http2] but h2 is not in the lock\n"
	       "scipy 1.11.0 requires pytest>=7 via app -> scipy[test] but pytest is not in the "
	       "lock\n"
	       "scipy 1.11.0 requires mypy via app -> scipy[test] -> scipy[dev] but mypy is not in "
	       "the lock",
	       "extras message names the chain");
	free(msg);

	/* the same result whatever the input order */
	struct lade_dist rev[LADE_ARRAY_SIZE(ex)];
	for (size_t i = 0; i < LADE_ARRAY_SIZE(ex); i++)
		rev[i] = ex[LADE_ARRAY_SIZE(ex) - 1 - i];
	char *msg2 = NULL;
	check(ex, LADE_ARRAY_SIZE(ex), &msg);
	check(rev, LADE_ARRAY_SIZE(rev), &msg2);
	is_str(msg2, msg, "order independent");
	free(msg);
	free(msg2);

	char *const bad_reqs[] = {"good>=1", "bad req", "other; os_name ~= 'x'", NULL};
	struct lade_dist bad[] = {{"pkg", "1.0", bad_reqs, NULL}, {"good", "1.0", NULL, NULL}};
	ok(check(bad, 2, &msg) == -1, "invalid Requires-Dist reported");
	is_str(msg,
	       "pkg 1.0 has an invalid Requires-Dist: invalid requirement 'bad req': invalid "
	       "version specifier at column 5\n"
	       "pkg 1.0: invalid marker 'os_name ~= 'x'': undefined comparison 'posix' ~= 'x'",
	       "invalid Requires-Dist message");
	free(msg);

	/* more than 20 problems are summarised */
	char **many = NULL;
	for (int i = 0; i < 25; i++) {
		_cleanup_free_ char *r = xasprintf("missing%d", i);
		lade_strv_push(&many, r);
	}
	struct lade_dist big = {"big", "1", many, NULL};
	ok(check(&big, 1, &msg) == -1, "25 problems");
	size_t lines = 1;
	for (const char *c = msg; c && *c; c++)
		lines += *c == '\n';
	ok(lines == 21 && strstr(msg, "\n… and 5 more"), "20 problems and a summary line");
	free(msg);
	lade_strv_free(many);
}

int main(void)
{
	lade_target_init(&target, "linux/amd64", "3.11", "glibc-2.36", NULL);
	lade_marker_env_init(&env, &target);
	test_names();
	test_markers();
	test_requirements();
	test_deps();
	return tap_done();
}
