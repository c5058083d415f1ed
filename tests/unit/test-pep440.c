/* Unit tests for PEP 440 versions and specifiers. Expected values were produced with PyPA
 * packaging (pip's vendored copy) and are the reference lade must agree with. */
#include <stdlib.h>
#include <string.h>

#include "lade/pep440.h"
#include "lade/util.h"
#include "tap.h"

static const struct {
	const char *in, *want;
} norm_cases[] = {
        {"1.0.0-RC1", "1.0.0rc1"},
        {"v1.0", "1.0"},
        {"1.0-1", "1.0.post1"},
        {"1.0.r", "1.0.post0"},
        {"1.0c1", "1.0rc1"},
        {"1.0-dev", "1.0.dev0"},
        {"1.0post", "1.0.post0"},
        {"1.0.a", "1.0a0"},
        {"1!2.0.post0.dev3+Ubuntu-1", "1!2.0.post0.dev3+ubuntu.1"},
        {"1.0a-1", "1.0a1"},
        {"1.0a.-1", "1.0a0.post1"},
        {"  1.0  ", "1.0"},
        {"1.0.0.0", "1.0.0.0"},
        {"01.002", "1.2"},
        {"1.0+007.ABC", "1.0+7.abc"},
        {"1.0-post2", "1.0.post2"},
        {"1.0_dev_4", "1.0.dev4"},
        {"1.0PREVIEW2", "1.0rc2"},
        {"1.0alpha", "1.0a0"},
        {"1.0beta.3", "1.0b3"},
        {"1.0.rev4", "1.0.post4"},
        {"0!1.0", "1.0"},
        {"1.0a-+abc", "1.0a0+abc"},
        {"1.0.dev.", "1.0.dev0"},
        {"1.0a..post", "1.0a0.post0"},
};

static const char *const bad_versions[] = {
        "",       "1.", ".1", "1..0",    "1.0-",    "1.0+",  "1.0+a..b", "1.0a1b",  "abc",
        "1.0 .1", "1!", "v",  "1.0+a+b", "1.0alph", "1.0re", "1.0 dev",  "1.0\x01",
};

/* Strictly increasing in PEP 440 order. */
static const char *const ordered[] = {
        "0.9",
        "1.0.dev0",
        "1.0.dev1",
        "1.0a1.dev1",
        "1.0a1",
        "1.0a1.post1.dev1",
        "1.0a1.post1",
        "1.0a2",
        "1.0b1",
        "1.0rc1",
        "1.0rc1+local",
        "1.0",
        "1.0+abc",
        "1.0+abc.1",
        "1.0+abc.2",
        "1.0+1",
        "1.0+2.a",
        "1.0+10",
        "1.0.post1.dev1",
        "1.0.post1",
        "1.0.post2",
        "1.0.1",
        "1.1.dev1",
        "1.1",
        "1.10",
        "99999999999999999999998",
        "99999999999999999999999",
        "1!0.1",
        "2!0.0.1",
};

static const struct {
	const char *a, *b;
} equal_cases[] = {
        {"1.0", "1.0.0"},       {"1.0", "1.0.0.0"},
        {"1.0+007", "1.0+7"},   {"1.0RC1", "1.0rc1"},
        {"1!1.0", "1!1.0.0"},   {"0!2", "2.0"},
        {"1.0-1", "1.0.post1"}, {"99999999999999999999999999.0", "99999999999999999999999999"},
};

static const struct {
	const char *spec, *version;
	unsigned flags;
	bool want;
} contains_cases[] = {
        {"==1.0", "1.0+cpu", 0, true},
        {"==1.0+cpu", "1.0+cpu", 0, true},
        {"==1.0+cpu", "1.0", 0, false},
        {"==1.0+cpu", "1.0+cu121", 0, false},
        {"==1.0", "1.0.0", 0, true},
        {"==1.2.*", "1.2.3", 0, true},
        {"==1.2.*", "1.3", 0, false},
        {"==1.2.*", "1.2", 0, true},
        {"==1.2.0.*", "1.2", 0, true},
        {"==1.2.*", "1.2rc1", 0, false},
        {"==1.2.*", "1.2rc1", LADE_SPEC_PRERELEASES, true},
        {"!=1.2.*", "1.2.5", 0, false},
        {"!=1.2.*", "1.3", 0, true},
        {"==1.*", "1.0.post1", 0, true},
        {"==1!1.*", "1.0", 0, false},
        {"==1!1.*", "1!1.9", 0, true},
        {"~=2.2", "2.3", 0, true},
        {"~=2.2", "3.0", 0, false},
        {"~=2.2", "2.1", 0, false},
        {"~=1.4.5", "1.4.9", 0, true},
        {"~=1.4.5", "1.5.0", 0, false},
        {"~=1.4.5a4", "1.4.5a5", 0, true},
        {"~=1.4.5a4", "1.4.5", 0, true},
        {"~=2.2.post3", "2.2.post4", 0, true},
        {"~=2.2.post3", "2.2", 0, false},
        {"~=1.0", "1.0+local", 0, true},
        {">=1.21.1,<3", "2.0.7", 0, true},
        {">=1.21.1,<3", "3.0.0", 0, false},
        {">=1.21.1,<3", "1.21.0", 0, false},
        {"<3", "3.0rc1", LADE_SPEC_PRERELEASES, false},
        {"<3", "2.9rc1", LADE_SPEC_PRERELEASES, true},
        {"<3rc2", "3.0rc1", 0, false},
        {">1.7", "1.7.1", 0, true},
        {">1.7", "1.7.post2", 0, false},
        {">1.7.post2", "1.7.post3", 0, true},
        {">1.7", "1.7+local", 0, false},
        {">1.7", "1.8+local", 0, true},
        {"<=2.0", "2.0+local", 0, true},
        {">=2.0", "2.0+local", 0, true},
        {"<2.0", "2.0+local", 0, false},
        {">=1.0", "2.0a1", 0, false},
        {">=1.0", "2.0a1", LADE_SPEC_PRERELEASES, true},
        {">=1.0a1", "2.0a1", 0, true},
        {">=1.0.dev0", "1.5.dev0", 0, true},
        {"!=1.0a1", "1.5a1", 0, false},
        {"", "1.0", 0, true},
        {"", "1.0a1", 0, false},
        {"", "1.0a1", LADE_SPEC_PRERELEASES, true},
        {"===1.0", "1.0", 0, true},
        {"===1.0", "1.0.0", 0, false},
        {"===foobar", "1.0", 0, false},
        {"==1.0.post1", "1.0.post1", 0, true},
        {"==1.0", "1.0.post1", 0, false},
        {">=1!1.0", "2.0", 0, false},
        {">=1!1.0", "1!1.0", 0, true},
        {" >= 1.0 , < 2 ", "1.5", 0, true},
        {">1.0,,<2", "1.5", 0, true},
        {">=2,!=2.1.*", "2.1.3", 0, false},
        {">=2,!=2.1.*", "2.2", 0, true},
        {">1.0.dev1", "1.0", 0, true},
        {"<1.0", "1.0.dev1", LADE_SPEC_PRERELEASES, false},
        {"<1.0.dev5", "1.0.dev1", 0, false},
};

static const struct {
	const char *in, *want;
} spec_str_cases[] = {
        {"<=1.0,>=0.5", "<=1.0,>=0.5"},
        {">=1.21.1,<3", "<3,>=1.21.1"},
        {"==1.0 , ==1.0", "==1.0"},
        {"~=2.2,>1.0", ">1.0,~=2.2"},
        {"", ""},
        {"==2.3.0+cpu", "==2.3.0+cpu"},
};

static const char *const bad_specs[] = {
        "=1.0",    "~=1",    "<1.0+local", "==1.0a1.*", ">=1.*", "==",        "== 1.0 1",  "1.0",
        "~=1.0.*", ">=1.0;", "==1.0+",     ">=1.0)",    "===",   "~=1.0+abc", "==1.0.*.*",
};

static void test_normalize(void)
{
	for (size_t i = 0; i < LADE_ARRAY_SIZE(norm_cases); i++) {
		_cleanup_free_ char *n = lade_version_normalize(norm_cases[i].in);
		is_str(n, norm_cases[i].want, "normalise '%s'", norm_cases[i].in);
	}
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad_versions); i++) {
		struct lade_error *err = NULL;
		struct lade_version *v = NULL;
		int r = lade_version_parse(bad_versions[i], &v, &err);
		_cleanup_free_ char *want = xasprintf("invalid version '%s'", bad_versions[i]);
		ok(r == -1 && v == NULL && err && strcmp(err->msg, want) == 0,
		   "'%s' is not a version", bad_versions[i]);
		ok(!lade_version_valid(bad_versions[i]), "'%s' not valid", bad_versions[i]);
		lade_error_free(err);
	}
}

static struct lade_version *V(const char *s)
{
	struct lade_version *v = NULL;
	if (lade_version_parse(s, &v, NULL) < 0) {
		printf("# cannot parse %s\n", s);
		abort();
	}
	return v;
}

static void test_order(void)
{
	size_t n = LADE_ARRAY_SIZE(ordered), bad = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_(lade_version_freep) struct lade_version *a = V(ordered[i]);
		for (size_t j = 0; j < n; j++) {
			_cleanup_(lade_version_freep) struct lade_version *b = V(ordered[j]);
			int c = lade_version_cmp(a, b);
			int want = i < j ? -1 : i > j;
			if ((c > 0) - (c < 0) != want) {
				printf("# cmp(%s, %s) = %d, want %d\n", ordered[i], ordered[j], c,
				       want);
				bad++;
			}
		}
	}
	ok(bad == 0, "%zu x %zu ordered comparisons", n, n);
	for (size_t i = 0; i + 1 < n; i++) {
		_cleanup_(lade_version_freep) struct lade_version *a = V(ordered[i]);
		_cleanup_(lade_version_freep) struct lade_version *b = V(ordered[i + 1]);
		ok(lade_version_cmp(a, b) < 0 && lade_version_cmp(b, a) > 0, "%s < %s", ordered[i],
		   ordered[i + 1]);
	}
	for (size_t i = 0; i < LADE_ARRAY_SIZE(equal_cases); i++) {
		_cleanup_(lade_version_freep) struct lade_version *a = V(equal_cases[i].a);
		_cleanup_(lade_version_freep) struct lade_version *b = V(equal_cases[i].b);
		ok(lade_version_cmp(a, b) == 0, "%s == %s", equal_cases[i].a, equal_cases[i].b);
	}
	_cleanup_(lade_version_freep) struct lade_version *pre = V("1.0.post1.dev0");
	_cleanup_(lade_version_freep) struct lade_version *loc = V("2.3.0+cpu");
	ok(lade_version_is_prerelease(pre), "a dev post-release is a pre-release");
	ok(!lade_version_is_prerelease(loc) && lade_version_has_local(loc), "local version");
	is_str(lade_version_str(loc), "2.3.0+cpu", "str of a local version");
}

static void test_specifiers(void)
{
	for (size_t i = 0; i < LADE_ARRAY_SIZE(contains_cases); i++) {
		_cleanup_(lade_specifier_freep) struct lade_specifier *s = NULL;
		_cleanup_(lade_version_freep) struct lade_version *v = V(contains_cases[i].version);
		struct lade_error *err = NULL;
		if (lade_specifier_parse(contains_cases[i].spec, &s, &err) < 0) {
			ok(0, "parse '%s': %s", contains_cases[i].spec, err->msg);
			lade_error_free(err);
			continue;
		}
		ok(lade_specifier_contains(s, v, contains_cases[i].flags) == contains_cases[i].want,
		   "'%s' %s '%s'%s", contains_cases[i].spec,
		   contains_cases[i].want ? "contains" : "does not contain",
		   contains_cases[i].version, contains_cases[i].flags ? " (pre-releases)" : "");
	}
	for (size_t i = 0; i < LADE_ARRAY_SIZE(spec_str_cases); i++) {
		_cleanup_(lade_specifier_freep) struct lade_specifier *s = NULL;
		ok(lade_specifier_parse(spec_str_cases[i].in, &s, NULL) == 0, "parse '%s'",
		   spec_str_cases[i].in);
		if (s)
			is_str(lade_specifier_str(s), spec_str_cases[i].want, "str of '%s'",
			       spec_str_cases[i].in);
	}
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bad_specs); i++) {
		struct lade_error *err = NULL;
		struct lade_specifier *s = NULL;
		int r = lade_specifier_parse(bad_specs[i], &s, &err);
		_cleanup_free_ char *want = xasprintf("invalid specifier '%s'", bad_specs[i]);
		ok(r == -1 && !s && err && strcmp(err->msg, want) == 0, "'%s' refused",
		   bad_specs[i]);
		lade_error_free(err);
	}

	static const struct {
		const char *spec, *pinned;
	} pins[] = {
	        {"==1.0", "1.0"},   {" == 2.3.0+cpu ", "2.3.0+cpu"},
	        {"==1.*", NULL},    {">=1.0", NULL},
	        {"==1.0,<2", NULL}, {"===1.0", NULL},
	        {"", NULL},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(pins); i++) {
		_cleanup_(lade_specifier_freep) struct lade_specifier *s = NULL;
		if (lade_specifier_parse(pins[i].spec, &s, NULL) < 0) {
			ok(0, "parse '%s'", pins[i].spec);
			continue;
		}
		is_str(lade_specifier_pinned(s), pins[i].pinned, "pinned of '%s'", pins[i].spec);
	}
	_cleanup_(lade_specifier_freep) struct lade_specifier *two = NULL;
	ok(lade_specifier_parse(">=1, <2", &two, NULL) == 0 && lade_specifier_count(two) == 2,
	   "two specifiers counted");
}

int main(void)
{
	test_normalize();
	test_order();
	test_specifiers();
	return tap_done();
}
