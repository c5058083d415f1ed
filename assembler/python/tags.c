/* Install target and wheel tags. The order reproduces packaging.tags.sys_tags() for CPython
 * (cpython_tags() then compatible_tags()) with the platform list of _linux_platforms():
 * manylinux (_manylinux.platform_tags) or musllinux, then linux_<arch>. */
#include <stdint.h>
#include <string.h>

#include "lade/hashmap.h"
#include "lade/pep440.h"
#include "lade/pep508.h"
#include "lade/tags.h"
#include "lade/util.h"

struct lade_tags {
	char **tags;
	size_t n, alloc;
	struct lade_hashmap *index;   /* tag -> index + 1 */
	struct lade_hashmap *dims[3]; /* the known interpreter, abi and platform parts */
};

static int parse_small_int(const char *s, size_t len, int max)
{
	int v = 0;
	if (len == 0 || len > 4 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* "A.B" with small decimal numbers. */
static int parse_pair(const char *s, int *a, int *b)
{
	const char *dot = strchr(s, '.');
	if (!dot)
		return -1;
	*a = parse_small_int(s, (size_t)(dot - s), 999);
	*b = parse_small_int(dot + 1, strlen(dot + 1), 999);
	return *a < 0 || *b < 0 ? -1 : 0;
}

int lade_target_init(struct lade_target *t, const char *platform, const char *python_version,
                     const char *libc, struct lade_error **err)
{
	static const struct {
		const char *oci, *machine;
	} arches[] = {
	        {"linux/amd64", "x86_64"},     {"linux/amd64/v1", "x86_64"},
	        {"linux/amd64/v2", "x86_64"},  {"linux/amd64/v3", "x86_64"},
	        {"linux/amd64/v4", "x86_64"},  {"linux/arm64", "aarch64"},
	        {"linux/arm64/v8", "aarch64"}, {"linux/arm", "armv7l"},
	        {"linux/arm/v7", "armv7l"},    {"linux/ppc64le", "ppc64le"},
	        {"linux/s390x", "s390x"},      {"linux/386", "i686"},
	        {"linux/riscv64", "riscv64"},
	};
	memset(t, 0, sizeof(*t));
	size_t i;
	for (i = 0; platform && i < LADE_ARRAY_SIZE(arches); i++)
		if (strcmp(platform, arches[i].oci) == 0)
			break;
	if (!platform || i == LADE_ARRAY_SIZE(arches))
		return lade_error_set(err, 0,
		                      "unsupported platform '%s' (linux/amd64, linux/arm64, "
		                      "linux/arm/v7, linux/ppc64le, linux/s390x, linux/386, "
		                      "linux/riscv64)",
		                      platform ? platform : "");
	snprintf(t->os, sizeof(t->os), "linux");
	snprintf(t->arch, sizeof(t->arch), "%s", arches[i].machine);
	snprintf(t->impl, sizeof(t->impl), "cp");

	/* "3.11" or "3.11.4" */
	const char *pv = python_version ? python_version : "";
	const char *d1 = strchr(pv, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	int micro = 0;
	if (!d1 || (t->py_major = parse_small_int(pv, (size_t)(d1 - pv), 9)) != 3 ||
	    (t->py_minor = parse_small_int(d1 + 1, d2 ? (size_t)(d2 - d1 - 1) : strlen(d1 + 1),
	                                   99)) < 0 ||
	    (d2 && (micro = parse_small_int(d2 + 1, strlen(d2 + 1), 999)) < 0))
		return lade_error_set(err, 0, "invalid python version '%s' (need 3.N or 3.N.M)",
		                      pv);
	snprintf(t->python_version, sizeof(t->python_version), "%d.%d", t->py_major, t->py_minor);
	snprintf(t->python_full, sizeof(t->python_full), "%d.%d.%d", t->py_major, t->py_minor,
	         micro);

	const char *lc = libc ? libc : "";
	const char *ver;
	if (strncmp(lc, "glibc-", 6) == 0) {
		t->libc = LADE_LIBC_GLIBC;
		ver = lc + 6;
	} else if (strncmp(lc, "musl-", 5) == 0) {
		t->libc = LADE_LIBC_MUSL;
		ver = lc + 5;
	} else {
		ver = NULL;
	}
	if (!ver || parse_pair(ver, &t->libc_major, &t->libc_minor) < 0 ||
	    (t->libc == LADE_LIBC_GLIBC && t->libc_major != 2) ||
	    (t->libc == LADE_LIBC_MUSL && t->libc_major != 1))
		return lade_error_set(err, 0, "invalid libc '%s' (need glibc-2.N or musl-1.N)", lc);
	return 0;
}

const char *lade_target_describe(const struct lade_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s%d%d %s %s %s %d.%d", t->impl, t->py_major, t->py_minor, t->os,
	         t->arch, t->libc == LADE_LIBC_MUSL ? "musl" : "glibc", t->libc_major,
	         t->libc_minor);
	return buf;
}

static void push(char ***v, size_t *n, size_t *alloc, char *s)
{
	lade_grow(v, sizeof(char *), *n + 1, alloc);
	(*v)[(*n)++] = s;
}

static void add_tag(struct lade_tags *tags, const char *interp, const char *abi, const char *plat)
{
	char *tag = xasprintf("%s-%s-%s", interp, abi, plat);
	if (lade_hashmap_get(tags->index, tag)) {
		free(tag);
		return;
	}
	lade_hashmap_put(tags->index, tag, (void *)(uintptr_t)(tags->n + 1));
	lade_hashmap_put(tags->dims[0], interp, (void *)1);
	lade_hashmap_put(tags->dims[1], abi, (void *)1);
	lade_hashmap_put(tags->dims[2], plat, (void *)1);
	push(&tags->tags, &tags->n, &tags->alloc, tag);
}

static void add_all(struct lade_tags *tags, const char *interp, const char *abi, char *const *plats,
                    size_t n)
{
	for (size_t i = 0; i < n; i++)
		add_tag(tags, interp, abi, plats[i]);
}

struct lade_tags *lade_tags_generate(const struct lade_target *t)
{
	struct lade_tags *tags = xzalloc(sizeof(*tags));
	char **plats = NULL;
	size_t np = 0, ap = 0;
	const char *arch = t->arch;

	tags->index = lade_hashmap_new();
	for (int i = 0; i < 3; i++)
		tags->dims[i] = lade_hashmap_new();

	if (t->libc == LADE_LIBC_GLIBC) {
		bool x86 = strcmp(arch, "x86_64") == 0 || strcmp(arch, "i686") == 0;
		int oldest = x86 ? 5 : 17;
		for (int minor = t->libc_minor; minor >= oldest; minor--) {
			push(&plats, &np, &ap, xasprintf("manylinux_2_%d_%s", minor, arch));
			const char *legacy = minor == 17   ? "manylinux2014"
			                     : minor == 12 ? "manylinux2010"
			                     : minor == 5  ? "manylinux1"
			                                   : NULL;
			if (legacy)
				push(&plats, &np, &ap, xasprintf("%s_%s", legacy, arch));
		}
	} else {
		for (int minor = t->libc_minor; minor >= 0; minor--)
			push(&plats, &np, &ap,
			     xasprintf("musllinux_%d_%d_%s", t->libc_major, minor, arch));
	}
	push(&plats, &np, &ap, xasprintf("linux_%s", arch));

	char interp[32], abi[32];
	int maj = t->py_major, min = t->py_minor;
	snprintf(interp, sizeof(interp), "%s%d%d", t->impl, maj, min);
	snprintf(abi, sizeof(abi), "cp%d%d", maj, min);
	bool abi3 = maj == 3 && min >= 2;

	/* cpython_tags() */
	add_all(tags, interp, abi, plats, np);
	if (abi3)
		add_all(tags, interp, "abi3", plats, np);
	add_all(tags, interp, "none", plats, np);
	if (abi3) {
		for (int m = min - 1; m > 1; m--) {
			char older[32];
			snprintf(older, sizeof(older), "%s%d%d", t->impl, maj, m);
			add_all(tags, older, "abi3", plats, np);
		}
	}

	/* compatible_tags(): py3X, py3, py3(X-1) .. py30 */
	char **pys = NULL;
	size_t npy = 0, apy = 0;
	push(&pys, &npy, &apy, xasprintf("py%d%d", maj, min));
	push(&pys, &npy, &apy, xasprintf("py%d", maj));
	for (int m = min - 1; m >= 0; m--)
		push(&pys, &npy, &apy, xasprintf("py%d%d", maj, m));
	for (size_t i = 0; i < npy; i++)
		add_all(tags, pys[i], "none", plats, np);
	add_tag(tags, interp, "none", "any");
	for (size_t i = 0; i < npy; i++)
		add_tag(tags, pys[i], "none", "any");

	for (size_t i = 0; i < npy; i++)
		free(pys[i]);
	free(pys);
	for (size_t i = 0; i < np; i++)
		free(plats[i]);
	free(plats);
	return tags;
}

void lade_tags_free(struct lade_tags *tags)
{
	if (!tags)
		return;
	for (size_t i = 0; i < tags->n; i++)
		free(tags->tags[i]);
	free(tags->tags);
	lade_hashmap_free(tags->index, NULL);
	for (int i = 0; i < 3; i++)
		lade_hashmap_free(tags->dims[i], NULL);
	free(tags);
}

void lade_tags_freep(struct lade_tags **tags)
{
	lade_tags_free(*tags);
	*tags = NULL;
}

size_t lade_tags_count(const struct lade_tags *tags)
{
	return tags->n;
}

const char *lade_tags_get(const struct lade_tags *tags, size_t i)
{
	return i < tags->n ? tags->tags[i] : NULL;
}

/* The distinct members of a dotted part that occur in dimension d; their number is bounded by
 * the size of the tag list, so "a.a.a.…" cannot blow the product up. */
static char **known_parts(const struct lade_tags *tags, int d, const char *part, size_t len,
                          size_t *n)
{
	char **v = NULL;
	size_t alloc = 0;
	*n = 0;
	const char *p = part, *end = part + len;
	while (p <= end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		if (!dot)
			dot = end;
		_cleanup_free_ char *one = xstrndup(p, (size_t)(dot - p));
		if (lade_hashmap_get(tags->dims[d], one)) {
			size_t i;
			for (i = 0; i < *n && strcmp(v[i], one) != 0; i++)
				;
			if (i == *n)
				push(&v, n, &alloc, steal_pointer(&one));
		}
		p = dot + 1;
	}
	return v;
}

static void free_parts(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

long lade_tags_rank(const struct lade_tags *tags, const char *tag)
{
	const char *d1 = strchr(tag, '-'), *d2 = d1 ? strchr(d1 + 1, '-') : NULL;
	if (!d2 || strchr(d2 + 1, '-'))
		return -1;
	void *direct = lade_hashmap_get(tags->index, tag);
	if (direct)
		return (long)(uintptr_t)direct - 1;
	size_t ni, na, np;
	char **in = known_parts(tags, 0, tag, (size_t)(d1 - tag), &ni);
	char **ab = known_parts(tags, 1, d1 + 1, (size_t)(d2 - d1 - 1), &na);
	char **pl = known_parts(tags, 2, d2 + 1, strlen(d2 + 1), &np);
	long best = -1;
	for (size_t i = 0; i < ni; i++)
		for (size_t a = 0; a < na; a++)
			for (size_t p = 0; p < np; p++) {
				_cleanup_free_ char *one =
				        xasprintf("%s-%s-%s", in[i], ab[a], pl[p]);
				void *r = lade_hashmap_get(tags->index, one);
				long rank = r ? (long)(uintptr_t)r - 1 : -1;
				if (rank >= 0 && (best < 0 || rank < best))
					best = rank;
			}
	free_parts(in, ni);
	free_parts(ab, na);
	free_parts(pl, np);
	return best;
}

void lade_wheel_name_release(struct lade_wheel_name *wn)
{
	free(wn->name);
	free(wn->name_text);
	free(wn->version);
	free(wn->build);
	free(wn->tag);
	memset(wn, 0, sizeof(*wn));
}

static bool tag_part_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' && (i == 0 || i == n - 1 || s[i - 1] == '.'))
			return false;
	return true;
}

int lade_wheel_name_parse(const char *filename, struct lade_wheel_name *out,
                          struct lade_error **err)
{
	size_t len = strlen(filename);
	memset(out, 0, sizeof(*out));
	if (len < 4 || strcmp(filename + len - 4, ".whl") != 0)
		return lade_error_set(err, 0, "invalid wheel file name '%s': no .whl suffix",
		                      filename);
	len -= 4;
	const char *dash[6];
	size_t nd = 0;
	for (size_t i = 0; i < len; i++) {
		if (filename[i] == '-') {
			if (nd == 5)
				return lade_error_set(
				        err, 0, "invalid wheel file name '%s': too many parts",
				        filename);
			dash[nd++] = filename + i;
		}
	}
	if (nd != 4 && nd != 5)
		return lade_error_set(err, 0,
		                      "invalid wheel file name '%s': need "
		                      "name-version(-build)-python-abi-platform.whl",
		                      filename);
	size_t nlen = (size_t)(dash[0] - filename);
	if (nlen == 0 || memmem(filename, nlen, "__", 2))
		return lade_error_set(err, 0, "invalid wheel file name '%s': invalid project name",
		                      filename);
	for (size_t i = 0; i < nlen; i++) {
		char c = filename[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return lade_error_set(err, 0,
			                      "invalid wheel file name '%s': invalid project name",
			                      filename);
	}
	_cleanup_free_ char *version = xstrndup(dash[0] + 1, (size_t)(dash[1] - dash[0] - 1));
	if (!lade_version_valid(version))
		return lade_error_set(err, 0, "invalid wheel file name '%s': invalid version '%s'",
		                      filename, version);
	_cleanup_free_ char *build = NULL;
	if (nd == 5) {
		build = xstrndup(dash[1] + 1, (size_t)(dash[2] - dash[1] - 1));
		if (build[0] < '0' || build[0] > '9')
			return lade_error_set(err, 0,
			                      "invalid wheel file name '%s': invalid build number "
			                      "'%s'",
			                      filename, build);
	}
	const char *tag = dash[nd - 3] + 1, *end = filename + len;
	if (!tag_part_valid(tag, (size_t)(dash[nd - 2] - tag)) ||
	    !tag_part_valid(dash[nd - 2] + 1, (size_t)(dash[nd - 1] - dash[nd - 2] - 1)) ||
	    !tag_part_valid(dash[nd - 1] + 1, (size_t)(end - dash[nd - 1] - 1)))
		return lade_error_set(err, 0, "invalid wheel file name '%s': invalid tag",
		                      filename);
	out->name_text = xstrndup(filename, nlen);
	out->name = lade_name_normalize(out->name_text);
	out->version = steal_pointer(&version);
	out->build = steal_pointer(&build);
	out->tag = xstrndup(tag, (size_t)(end - tag));
	return 0;
}
