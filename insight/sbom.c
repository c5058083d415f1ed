/* lade — SPDX 2.3 / CycloneDX 1.5 documents and their OCI 1.1 artifact (see lade/sbom.h for the
 * identifiers and the ordering that keep them deterministic). */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lade/digest.h"
#include "lade/image.h"
#include "lade/pyformat.h"
#include "lade/sbom.h"
#include "lade/util.h"

#define MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_EMPTY    "application/vnd.oci.empty.v1+json"
#define NOASSERTION         "NOASSERTION"

/* Only the image's facts: "lade" without a version keeps the document independent of which
 * lade build wrote it, as the image itself is. */
#define TOOL_NAME "lade"

/* ---- input checks ---------------------------------------------------------------------- */

static bool is_lower_hex(const char *s, size_t len)
{
	if (s == NULL || strlen(s) != len)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool is_sha256_hex(const char *s)
{
	return is_lower_hex(s, LADE_DIGEST_HEX_LEN);
}

/* jansson refuses strings that are not UTF-8; check inputs first so a failure names them. */
static bool is_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n;
		uint32_t c;
		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			n = 1, c = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 2, c = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			n = 3, c = *p & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (p[i] & 0x3f);
		}
		if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

static bool is_text(const char *s)
{
	return s != NULL && *s != '\0' && is_utf8(s);
}

/* Percent-encode everything but RFC 3986 unreserved characters (purl components, URIs). */
static void add_pct(struct lade_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			lade_buf_addch(b, (char)*p);
		else
			lade_buf_addf(b, "%%%02X", *p);
	}
}

/* Package names end up in SPDXRef ids, which allow only [A-Za-z0-9.-]. */
static bool name_chars_ok(const char *norm)
{
	for (const char *p = norm; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.'))
			return false;
	return *norm != '\0';
}

/* ---- SPDX license expressions ----------------------------------------------------------- */

/* The identifiers Python distributions actually declare (SPDX license list 3.x). An
 * expression with any other identifier is kept as text: lade must never declare something
 * that is not a valid SPDX expression. */
static const char *const known_licenses[] = {
        "0BSD",
        "AFL-2.1",
        "AFL-3.0",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "Apache-1.1",
        "Apache-2.0",
        "APSL-2.0",
        "Artistic-1.0",
        "Artistic-2.0",
        "Beerware",
        "BlueOak-1.0.0",
        "BSD-1-Clause",
        "BSD-2-Clause",
        "BSD-2-Clause-Patent",
        "BSD-3-Clause",
        "BSD-3-Clause-Clear",
        "BSD-4-Clause",
        "BSL-1.0",
        "bzip2-1.0.6",
        "CC-BY-3.0",
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "CC0-1.0",
        "CDDL-1.0",
        "CDDL-1.1",
        "CNRI-Python",
        "ECL-2.0",
        "EPL-1.0",
        "EPL-2.0",
        "EUPL-1.1",
        "EUPL-1.2",
        "GPL-1.0-only",
        "GPL-1.0-or-later",
        "GPL-2.0-only",
        "GPL-2.0-or-later",
        "GPL-3.0-only",
        "GPL-3.0-or-later",
        "HPND",
        "ICU",
        "IJG",
        "ISC",
        "LGPL-2.0-only",
        "LGPL-2.0-or-later",
        "LGPL-2.1-only",
        "LGPL-2.1-or-later",
        "LGPL-3.0-only",
        "LGPL-3.0-or-later",
        "Libpng",
        "libpng-2.0",
        "MIT",
        "MIT-0",
        "MIT-CMU",
        "MPL-1.1",
        "MPL-2.0",
        "MPL-2.0-no-copyleft-exception",
        "MS-PL",
        "NCSA",
        "OFL-1.1",
        "OpenSSL",
        "PostgreSQL",
        "PSF-2.0",
        "Python-2.0",
        "Python-2.0.1",
        "Unicode-3.0",
        "Unicode-DFS-2016",
        "Unlicense",
        "UPL-1.0",
        "W3C",
        "WTFPL",
        "X11",
        "Zlib",
        "ZPL-2.1",
        /* deprecated ids are still valid expressions */
        "AGPL-3.0",
        "GPL-2.0",
        "GPL-2.0+",
        "GPL-3.0",
        "GPL-3.0+",
        "LGPL-2.1",
        "LGPL-2.1+",
        "LGPL-3.0",
        "LGPL-3.0+",
};

static const char *const known_exceptions[] = {
        "Autoconf-exception-3.0", "Bison-exception-2.2", "Classpath-exception-2.0",
        "GCC-exception-3.1",      "LLVM-exception",      "OpenSSL-exception",
        "Qt-LGPL-exception-1.1",  "Swift-exception",     "Font-exception-2.0",
};

struct lic_lexer {
	const char *p;
	char tok[128];
};

/* Next token into lx->tok: "(", ")", or a run of [A-Za-z0-9.+:-]. False at the end or on a
 * character that cannot appear in an expression. */
static bool lic_next(struct lic_lexer *lx)
{
	while (*lx->p == ' ' || *lx->p == '\t')
		lx->p++;
	if (*lx->p == '\0')
		return false;
	if (*lx->p == '(' || *lx->p == ')') {
		lx->tok[0] = *lx->p++;
		lx->tok[1] = '\0';
		return true;
	}
	size_t n = 0;
	while (isalnum((unsigned char)*lx->p) || *lx->p == '.' || *lx->p == '-' || *lx->p == '+' ||
	       *lx->p == ':') {
		if (n + 1 >= sizeof(lx->tok))
			return false;
		lx->tok[n++] = *lx->p++;
	}
	lx->tok[n] = '\0';
	return n > 0;
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], s) == 0)
			return true;
	return false;
}

static bool lic_idstring(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static bool lic_is_license(const char *tok)
{
	size_t n = strlen(tok);
	if (strncmp(tok, "LicenseRef-", 11) == 0)
		return lic_idstring(tok + 11, n - 11);
	if (strncmp(tok, "DocumentRef-", 12) == 0) {
		const char *colon = strchr(tok, ':');
		return colon && lic_idstring(tok + 12, (size_t)(colon - tok - 12)) &&
		       strncmp(colon + 1, "LicenseRef-", 11) == 0 &&
		       lic_idstring(colon + 12, strlen(colon + 12));
	}
	if (strchr(tok, ':'))
		return false;
	if (in_list(known_licenses, LADE_ARRAY_SIZE(known_licenses), tok))
		return true;
	/* "id+": "or any later version" */
	if (n > 1 && tok[n - 1] == '+') {
		char base[128];
		memcpy(base, tok, n - 1);
		base[n - 1] = '\0';
		return !strchr(base, '+') &&
		       in_list(known_licenses, LADE_ARRAY_SIZE(known_licenses), base);
	}
	return false;
}

static bool lic_expr(struct lic_lexer *lx, bool *have, int depth);

/* simple-or-compound [WITH exception]; on return lx->tok holds the following token, *have
 * says whether there is one. */
static bool lic_term(struct lic_lexer *lx, bool *have, int depth)
{
	if (!*have || depth > 32)
		return false;
	if (strcmp(lx->tok, "(") == 0) {
		*have = lic_next(lx);
		if (!lic_expr(lx, have, depth + 1) || !*have || strcmp(lx->tok, ")") != 0)
			return false;
	} else {
		if (!lic_is_license(lx->tok))
			return false;
		*have = lic_next(lx);
		if (*have && strcmp(lx->tok, "WITH") == 0) {
			if (!lic_next(lx) ||
			    !in_list(known_exceptions, LADE_ARRAY_SIZE(known_exceptions), lx->tok))
				return false;
		} else {
			return true;
		}
	}
	*have = lic_next(lx);
	return true;
}

static bool lic_expr(struct lic_lexer *lx, bool *have, int depth)
{
	for (;;) {
		if (!lic_term(lx, have, depth))
			return false;
		if (!*have || (strcmp(lx->tok, "AND") != 0 && strcmp(lx->tok, "OR") != 0))
			return true;
		*have = lic_next(lx);
	}
}

/* Is s a valid SPDX license expression made of known identifiers? (SPDX 2.3 annex D;
 * operators are case-sensitive, identifiers are not.) */
static bool spdx_expression_valid(const char *s)
{
	struct lic_lexer lx = {.p = s};
	bool have = lic_next(&lx);
	if (!lic_expr(&lx, &have, 0) || have)
		return false;
	/* A token stopped by an unexpected character leaves it unread. */
	while (*lx.p == ' ' || *lx.p == '\t')
		lx.p++;
	return *lx.p == '\0';
}

/* The METADATA license, trimmed; NULL when there is none worth recording. */
static char *license_text(const char *license)
{
	if (license == NULL || !is_utf8(license))
		return NULL;
	while (isspace((unsigned char)*license))
		license++;
	size_t n = strlen(license);
	while (n > 0 && isspace((unsigned char)license[n - 1]))
		n--;
	if (n == 0 || (n == 7 && strncasecmp(license, "UNKNOWN", 7) == 0))
		return NULL;
	return xstrndup(license, n);
}

/* ---- the model shared by both formats --------------------------------------------------- */

struct pkg {
	const struct lade_sbom_package *in;
	char *norm;
	char *purl;
	char *license; /* trimmed text or NULL */
	bool license_is_spdx;
};

struct model {
	const struct lade_sbom_input *in;
	struct pkg *pkgs;
	size_t n_pkgs;
	const struct lade_sbom_file **files; /* sorted by path */
	char **file_paths;                   /* normalised, parallel to files */
	size_t n_files;
	uint64_t files_bytes;
	bool list_files;
	char *image_purl;
	char *base_purl; /* NULL: none */
	char created[32];
};

static void model_release(struct model *m)
{
	for (size_t i = 0; i < m->n_pkgs; i++) {
		free(m->pkgs[i].norm);
		free(m->pkgs[i].purl);
		free(m->pkgs[i].license);
	}
	free(m->pkgs);
	for (size_t i = 0; i < m->n_files; i++)
		free(m->file_paths[i]);
	free(m->file_paths);
	free(m->files);
	free(m->image_purl);
	free(m->base_purl);
	memset(m, 0, sizeof(*m));
}

static int cmp_pkg(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	return strcmp(x->norm, y->norm);
}

struct file_ref {
	const struct lade_sbom_file *f;
	char *path;
};

static int cmp_file_ref(const void *a, const void *b)
{
	const struct file_ref *x = a, *y = b;
	return lade_path_compare(x->path, y->path);
}

/* A fully qualified registry reference: its first component names a registry host
 * ("docker.io/…", "localhost:5000/…", "ghcr.io/…"). Local layouts ("base:tag", "/srv/oci:1")
 * and short Docker Hub names are not, and get no purl: a wrong repository_url is worse than
 * none. */
static bool is_registry_ref(const char *ref)
{
	const char *slash = strchr(ref, '/');
	if (slash == NULL || slash == ref)
		return false;
	size_t n = (size_t)(slash - ref);
	return memchr(ref, '.', n) || memchr(ref, ':', n) ||
	       (n == 9 && strncmp(ref, "localhost", 9) == 0);
}

/* purl for an OCI image (purl spec "oci" type): the name is the last path component of the
 * repository, lowercased; the version the digest; repository_url and tag as qualifiers. */
static char *oci_purl(const char *ref, const char *digest)
{
	if (ref == NULL || digest == NULL || !is_registry_ref(ref))
		return NULL;
	_cleanup_free_ char *repo = xstrdup(ref);
	char *at = strchr(repo, '@');
	if (at)
		*at = '\0';
	char *slash = strrchr(repo, '/');
	char *tag = strrchr(slash ? slash : repo, ':');
	if (tag)
		*tag++ = '\0';
	const char *last = slash ? slash + 1 : repo;
	if (*last == '\0')
		return NULL;
	struct lade_buf b = LADE_BUF_INIT;
	lade_buf_adds(&b, "pkg:oci/");
	_cleanup_free_ char *lower = xstrdup(last);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	add_pct(&b, lower);
	lade_buf_addch(&b, '@');
	add_pct(&b, digest);
	/* qualifiers sorted by key, as the purl spec asks */
	lade_buf_adds(&b, "?repository_url=");
	add_pct(&b, repo);
	if (tag && *tag) {
		lade_buf_adds(&b, "&tag=");
		add_pct(&b, tag);
	}
	return lade_buf_detach(&b, NULL);
}

static char *image_purl(const char *name, const char *digest)
{
	struct lade_buf b = LADE_BUF_INIT;
	_cleanup_free_ char *lower = xstrdup(name);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	lade_buf_adds(&b, "pkg:oci/");
	add_pct(&b, lower);
	lade_buf_addch(&b, '@');
	add_pct(&b, digest);
	return lade_buf_detach(&b, NULL);
}

static int model_init(struct model *m, const struct lade_sbom_input *in, struct lade_error **err)
{
	memset(m, 0, sizeof(*m));
	m->in = in;
	if (!is_text(in->image_name))
		return lade_error_set(err, 0, "sbom: the image name is missing or not UTF-8");
	if (in->ref && !is_utf8(in->ref))
		return lade_error_set(err, 0, "sbom: image %s: the tag is not UTF-8",
		                      in->image_name);
	if (in->manifest_digest == NULL || !lade_digest_valid(in->manifest_digest))
		return lade_error_set(err, 0, "sbom: image %s: invalid manifest digest '%s'",
		                      in->image_name,
		                      in->manifest_digest ? in->manifest_digest : "(none)");
	if (in->base_name && !is_text(in->base_name))
		return lade_error_set(err, 0, "sbom: image %s: the base name is empty or not UTF-8",
		                      in->image_name);
	if (in->base_digest && !lade_digest_valid(in->base_digest))
		return lade_error_set(err, 0, "sbom: base %s: invalid digest '%s'",
		                      in->base_name ? in->base_name : "(unnamed)", in->base_digest);
	if (in->n_packages && in->packages == NULL)
		return lade_error_set(err, 0, "sbom: %zu packages but no package array",
		                      in->n_packages);
	if (in->n_files && in->files == NULL)
		return lade_error_set(err, 0, "sbom: %zu files but no file array", in->n_files);
	lade_format_time(in->epoch, m->created);

	m->pkgs = xcalloc(in->n_packages ? in->n_packages : 1, sizeof(*m->pkgs));
	for (size_t i = 0; i < in->n_packages; i++) {
		const struct lade_sbom_package *p = &in->packages[i];
		if (!is_text(p->name)) {
			model_release(m);
			return lade_error_set(err, 0, "sbom: package %zu: the name is missing",
			                      i + 1);
		}
		if (!is_text(p->version)) {
			_cleanup_free_ char *name = xstrdup(p->name);
			model_release(m);
			return lade_error_set(err, 0, "sbom: package %s: the version is missing",
			                      name);
		}
		if (!is_sha256_hex(p->wheel_sha256_hex) || !is_text(p->wheel_filename)) {
			_cleanup_free_ char *what = xasprintf("%s %s", p->name, p->version);
			bool bad_sha = !is_sha256_hex(p->wheel_sha256_hex);
			model_release(m);
			return lade_error_set(
			        err, 0, "sbom: package %s: %s", what,
			        bad_sha ? "the wheel sha256 is not 64 lowercase hex digits"
			                : "the wheel file name is missing");
		}
		struct pkg *k = &m->pkgs[m->n_pkgs++];
		k->in = p;
		k->norm = lade_name_normalize(p->name);
		if (!name_chars_ok(k->norm)) {
			_cleanup_free_ char *name = xstrdup(p->name);
			model_release(m);
			return lade_error_set(
			        err, 0, "sbom: package %s: not a valid distribution name", name);
		}
		struct lade_buf b = LADE_BUF_INIT;
		lade_buf_adds(&b, "pkg:pypi/");
		add_pct(&b, k->norm);
		lade_buf_addch(&b, '@');
		add_pct(&b, p->version);
		k->purl = lade_buf_detach(&b, NULL);
		k->license = license_text(p->license);
		k->license_is_spdx = k->license && spdx_expression_valid(k->license);
	}
	qsort(m->pkgs, m->n_pkgs, sizeof(*m->pkgs), cmp_pkg);
	for (size_t i = 1; i < m->n_pkgs; i++) {
		if (strcmp(m->pkgs[i - 1].norm, m->pkgs[i].norm) == 0) {
			_cleanup_free_ char *a = xstrdup(m->pkgs[i - 1].in->name);
			_cleanup_free_ char *b = xstrdup(m->pkgs[i].in->name);
			model_release(m);
			return lade_error_set(err, 0, "sbom: packages %s and %s have the same name",
			                      a, b);
		}
	}

	struct file_ref *refs = xcalloc(in->n_files ? in->n_files : 1, sizeof(*refs));
	for (size_t i = 0; i < in->n_files; i++) {
		const struct lade_sbom_file *f = &in->files[i];
		_cleanup_error_ struct lade_error *perr = NULL;
		char *path = NULL;
		const char *bad = NULL;
		if (f->path == NULL || !is_utf8(f->path))
			bad = "the path is missing or not UTF-8";
		else if ((path = lade_path_normalize(f->path, &perr)) == NULL)
			bad = "the path climbs above the root";
		else if (*path == '\0')
			bad = "the path is empty";
		else if (!is_sha256_hex(f->sha256_hex))
			bad = "the sha256 is not 64 lowercase hex digits";
		else if (f->sha1_hex && !is_lower_hex(f->sha1_hex, 40))
			bad = "the sha1 is not 40 lowercase hex digits";
		if (bad) {
			_cleanup_free_ char *what = f->path && is_utf8(f->path)
			                                    ? xstrdup(f->path)
			                                    : xasprintf("%zu", i + 1);
			free(path);
			for (size_t j = 0; j < i; j++)
				free(refs[j].path);
			free(refs);
			model_release(m);
			return lade_error_set(err, 0, "sbom: file %s: %s", what, bad);
		}
		refs[i].f = f;
		refs[i].path = path;
		m->files_bytes += f->size;
	}
	qsort(refs, in->n_files, sizeof(*refs), cmp_file_ref);
	for (size_t i = 1; i < in->n_files; i++) {
		if (strcmp(refs[i - 1].path, refs[i].path) == 0) {
			_cleanup_free_ char *dup = xstrdup(refs[i].path);
			for (size_t j = 0; j < in->n_files; j++)
				free(refs[j].path);
			free(refs);
			model_release(m);
			return lade_error_set(err, 0, "sbom: file %s: listed twice", dup);
		}
	}
	m->n_files = in->n_files;
	m->files = xcalloc(m->n_files ? m->n_files : 1, sizeof(*m->files));
	m->file_paths = xcalloc(m->n_files ? m->n_files : 1, sizeof(*m->file_paths));
	for (size_t i = 0; i < m->n_files; i++) {
		m->files[i] = refs[i].f;
		m->file_paths[i] = refs[i].path;
	}
	free(refs);
	m->list_files = m->n_files <= LADE_SBOM_MAX_FILES;

	m->image_purl = image_purl(in->image_name, in->manifest_digest);
	if (in->base_name)
		m->base_purl = oci_purl(in->base_name, in->base_digest);
	return 0;
}

/* ---- SPDX 2.3 ---------------------------------------------------------------------------- */

static json_t *spdx_checksum(const char *hex)
{
	json_t *a = json_array();
	json_array_append_new(a,
	                      json_pack("{s:s, s:s}", "algorithm", "SHA256", "checksumValue", hex));
	return a;
}

static json_t *spdx_purl_ref(const char *purl)
{
	json_t *a = json_array();
	json_array_append_new(a,
	                      json_pack("{s:s, s:s, s:s}", "referenceCategory", "PACKAGE-MANAGER",
	                                "referenceType", "purl", "referenceLocator", purl));
	return a;
}

static void spdx_rel(json_t *rels, const char *a, const char *type, const char *b)
{
	json_array_append_new(rels, json_pack("{s:s, s:s, s:s}", "spdxElementId", a,
	                                      "relationshipType", type, "relatedSpdxElement", b));
}

static json_t *spdx_document(const struct model *m)
{
	const struct lade_sbom_input *in = m->in;
	json_t *doc = json_object();
	json_t *packages = json_array();
	json_t *rels = json_array();

	_cleanup_free_ char *doc_name =
	        in->ref ? xasprintf("%s:%s", in->image_name, in->ref) : xstrdup(in->image_name);
	struct lade_buf ns = LADE_BUF_INIT;
	lade_buf_adds(&ns, "https://lade.invalid/spdx/");
	add_pct(&ns, in->image_name);
	lade_buf_addf(&ns, "/%s", lade_digest_hex(in->manifest_digest));
	_cleanup_free_ char *ns_s = lade_buf_detach(&ns, NULL);

	json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3"));
	json_object_set_new(doc, "dataLicense", json_string("CC0-1.0"));
	json_object_set_new(doc, "SPDXID", json_string("SPDXRef-DOCUMENT"));
	json_object_set_new(doc, "name", json_string(doc_name));
	json_object_set_new(doc, "documentNamespace", json_string(ns_s));
	json_object_set_new(
	        doc, "creationInfo",
	        json_pack("{s:s, s:[s]}", "created", m->created, "creators", "Tool: " TOOL_NAME));

	/* The image itself. */
	json_t *img =
	        json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s}", "SPDXID", "SPDXRef-Image",
	                  "name", in->image_name, "downloadLocation", NOASSERTION, "filesAnalyzed",
	                  0, "licenseConcluded", NOASSERTION, "licenseDeclared", NOASSERTION,
	                  "copyrightText", NOASSERTION, "primaryPackagePurpose", "CONTAINER");
	json_object_set_new(img, "versionInfo",
	                    json_string(in->ref ? in->ref : in->manifest_digest));
	json_object_set_new(img, "checksums", spdx_checksum(lade_digest_hex(in->manifest_digest)));
	json_object_set_new(img, "externalRefs", spdx_purl_ref(m->image_purl));
	if (!m->list_files)
		json_object_set_new(
		        img, "comment",
		        json_sprintf("%zu application files (%llu bytes) are not listed: "
		                     "more than %d",
		                     m->n_files, (unsigned long long)m->files_bytes,
		                     LADE_SBOM_MAX_FILES));
	json_array_append_new(packages, img);
	spdx_rel(rels, "SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image");

	if (in->base_name) {
		json_t *base = json_pack(
		        "{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s}", "SPDXID", "SPDXRef-BaseImage",
		        "name", in->base_name, "downloadLocation", NOASSERTION, "filesAnalyzed", 0,
		        "licenseConcluded", NOASSERTION, "licenseDeclared", NOASSERTION,
		        "copyrightText", NOASSERTION, "primaryPackagePurpose", "CONTAINER");
		if (in->base_digest) {
			json_object_set_new(base, "versionInfo", json_string(in->base_digest));
			json_object_set_new(base, "checksums",
			                    spdx_checksum(lade_digest_hex(in->base_digest)));
		}
		if (m->base_purl)
			json_object_set_new(base, "externalRefs", spdx_purl_ref(m->base_purl));
		json_array_append_new(packages, base);
		spdx_rel(rels, "SPDXRef-Image", "DESCENDANT_OF", "SPDXRef-BaseImage");
	}

	for (size_t i = 0; i < m->n_pkgs; i++) {
		const struct pkg *k = &m->pkgs[i];
		_cleanup_free_ char *id = xasprintf("SPDXRef-Package-pypi-%s", k->norm);
		json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s}", "SPDXID", id,
		                      "name", k->in->name, "versionInfo", k->in->version,
		                      "downloadLocation", NOASSERTION, "filesAnalyzed", 0,
		                      "licenseConcluded", NOASSERTION, "copyrightText", NOASSERTION,
		                      "packageFileName", k->in->wheel_filename,
		                      "primaryPackagePurpose", "LIBRARY");
		json_object_set_new(p, "checksums", spdx_checksum(k->in->wheel_sha256_hex));
		json_object_set_new(p, "externalRefs", spdx_purl_ref(k->purl));
		json_object_set_new(p, "licenseDeclared",
		                    json_string(k->license_is_spdx ? k->license : NOASSERTION));
		if (k->license && !k->license_is_spdx) {
			_cleanup_free_ char *c = xasprintf("License in METADATA: %s", k->license);
			json_object_set_new(p, "licenseComments", json_string(c));
		}
		json_array_append_new(packages, p);
		spdx_rel(rels, "SPDXRef-Image", "CONTAINS", id);
	}

	if (m->list_files && m->n_files) {
		json_t *files = json_array();
		for (size_t i = 0; i < m->n_files; i++) {
			/* Ids by position in path order: unique and stable for the same file set.
			 */
			_cleanup_free_ char *id = xasprintf("SPDXRef-File-%zu", i + 1);
			_cleanup_free_ char *name = xasprintf("./%s", m->file_paths[i]);
			json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "SPDXID", id, "fileName",
			                      name, "licenseConcluded", NOASSERTION,
			                      "copyrightText", NOASSERTION);
			json_t *sums = spdx_checksum(m->files[i]->sha256_hex);
			if (m->files[i]->sha1_hex)
				json_array_insert_new(sums, 0,
				                      json_pack("{s:s, s:s}", "algorithm", "SHA1",
				                                "checksumValue",
				                                m->files[i]->sha1_hex));
			json_object_set_new(f, "checksums", sums);
			json_object_set_new(f, "fileTypes", json_pack("[s]", "OTHER"));
			json_array_append_new(files, f);
			spdx_rel(rels, "SPDXRef-DOCUMENT", "DESCRIBES", id);
		}
		json_object_set_new(doc, "files", files);
	}
	json_object_set_new(doc, "packages", packages);
	json_object_set_new(doc, "relationships", rels);
	return doc;
}

/* ---- CycloneDX 1.5 ----------------------------------------------------------------------- */

static json_t *cdx_hashes(const char *hex)
{
	return json_pack("[{s:s, s:s}]", "alg", "SHA-256", "content", hex);
}

static void serial_uuid(const char *manifest_digest, char out[37])
{
	unsigned char raw[32];
	_cleanup_free_ char *name = xasprintf("lade-sbom:%s", manifest_digest);
	struct lade_sha256 *h = lade_sha256_new();
	lade_sha256_update(h, name, strlen(name));
	lade_sha256_final(h, raw, NULL);
	lade_sha256_free(h);
	raw[6] = (unsigned char)((raw[6] & 0x0f) | 0x50);
	raw[8] = (unsigned char)((raw[8] & 0x3f) | 0x80);
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		o += sprintf(o, "%02x", raw[i]);
	}
}

static json_t *cdx_property(const char *name, const char *value)
{
	return json_pack("{s:s, s:s}", "name", name, "value", value);
}

static json_t *cyclonedx_document(const struct model *m)
{
	const struct lade_sbom_input *in = m->in;
	json_t *doc = json_object();
	json_t *components = json_array();
	json_t *image_deps = json_array();

	char uuid[37];
	serial_uuid(in->manifest_digest, uuid);
	_cleanup_free_ char *serial = xasprintf("urn:uuid:%s", uuid);
	json_object_set_new(doc, "bomFormat", json_string("CycloneDX"));
	json_object_set_new(doc, "specVersion", json_string("1.5"));
	json_object_set_new(doc, "serialNumber", json_string(serial));
	json_object_set_new(doc, "version", json_integer(1));

	json_t *img = json_pack("{s:s, s:s, s:s, s:s}", "type", "container", "bom-ref", "image",
	                        "name", in->image_name, "purl", m->image_purl);
	json_object_set_new(img, "version", json_string(in->ref ? in->ref : in->manifest_digest));
	json_object_set_new(img, "hashes", cdx_hashes(lade_digest_hex(in->manifest_digest)));
	if (!m->list_files) {
		char count[32], bytes[32];
		snprintf(count, sizeof(count), "%zu", m->n_files);
		snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)m->files_bytes);
		json_t *props = json_array();
		json_array_append_new(props, cdx_property("lade:app-files:bytes", bytes));
		json_array_append_new(props, cdx_property("lade:app-files:count", count));
		json_array_append_new(props, cdx_property("lade:app-files:listed", "false"));
		json_object_set_new(img, "properties", props);
	}
	json_t *tools = json_pack("{s:[{s:s, s:s}]}", "components", "type", "application", "name",
	                          TOOL_NAME);
	json_object_set_new(doc, "metadata",
	                    json_pack("{s:s, s:o, s:o}", "timestamp", m->created, "tools", tools,
	                              "component", img));

	if (in->base_name) {
		json_t *base = json_pack("{s:s, s:s, s:s}", "type", "container", "bom-ref",
		                         "base-image", "name", in->base_name);
		if (in->base_digest) {
			json_object_set_new(base, "version", json_string(in->base_digest));
			json_object_set_new(base, "hashes",
			                    cdx_hashes(lade_digest_hex(in->base_digest)));
		}
		if (m->base_purl)
			json_object_set_new(base, "purl", json_string(m->base_purl));
		json_array_append_new(components, base);
		json_array_append_new(image_deps, json_string("base-image"));
	}

	for (size_t i = 0; i < m->n_pkgs; i++) {
		const struct pkg *k = &m->pkgs[i];
		json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "library", "bom-ref",
		                      k->purl, "name", k->in->name, "version", k->in->version,
		                      "purl", k->purl);
		json_object_set_new(c, "hashes", cdx_hashes(k->in->wheel_sha256_hex));
		if (k->license_is_spdx)
			json_object_set_new(c, "licenses",
			                    json_pack("[{s:s}]", "expression", k->license));
		else if (k->license)
			json_object_set_new(
			        c, "licenses",
			        json_pack("[{s:{s:s}}]", "license", "name", k->license));
		json_object_set_new(
		        c, "properties",
		        json_pack("[o]", cdx_property("lade:wheel", k->in->wheel_filename)));
		json_array_append_new(components, c);
		json_array_append_new(image_deps, json_string(k->purl));
	}

	if (m->list_files) {
		for (size_t i = 0; i < m->n_files; i++) {
			_cleanup_free_ char *name = xasprintf("/%s", m->file_paths[i]);
			_cleanup_free_ char *ref = xasprintf("file:%s", name);
			json_t *c = json_pack("{s:s, s:s, s:s}", "type", "file", "bom-ref", ref,
			                      "name", name);
			json_object_set_new(c, "hashes", cdx_hashes(m->files[i]->sha256_hex));
			json_array_append_new(components, c);
		}
	}
	json_object_set_new(doc, "components", components);

	json_t *deps = json_array();
	json_array_append_new(deps,
	                      json_pack("{s:s, s:o}", "ref", "image", "dependsOn", image_deps));
	json_object_set_new(doc, "dependencies", deps);
	return doc;
}

/* ---- public ------------------------------------------------------------------------------ */

int lade_sbom_parse_format(const char *s, enum lade_sbom_format *out, struct lade_error **err)
{
	if (s && strcmp(s, "spdx") == 0)
		*out = LADE_SBOM_SPDX;
	else if (s && strcmp(s, "cyclonedx") == 0)
		*out = LADE_SBOM_CYCLONEDX;
	else
		return lade_error_set(err, 0,
		                      "unknown sbom format '%s' (expected spdx or cyclonedx)",
		                      s ? s : "");
	return 0;
}

const char *lade_sbom_media_type(enum lade_sbom_format fmt)
{
	return fmt == LADE_SBOM_CYCLONEDX ? LADE_SBOM_CYCLONEDX_MEDIA_TYPE
	                                  : LADE_SBOM_SPDX_MEDIA_TYPE;
}

int lade_sbom_generate(enum lade_sbom_format fmt, const struct lade_sbom_input *in, char **json_out,
                       struct lade_error **err)
{
	if (fmt != LADE_SBOM_SPDX && fmt != LADE_SBOM_CYCLONEDX)
		return lade_error_set(err, 0, "sbom: unknown format %d", (int)fmt);
	struct model m;
	if (model_init(&m, in, err) < 0)
		return -1;
	json_t *doc = fmt == LADE_SBOM_SPDX ? spdx_document(&m) : cyclonedx_document(&m);
	model_release(&m);
	if (doc == NULL) {
		lade_die("cannot build the sbom JSON (out of memory)");
	}
	*json_out = lade_json_dump(doc);
	json_decref(doc);
	return 0;
}

int lade_sbom_attach(struct lade_store *store, enum lade_sbom_format fmt, const char *json,
                     const char *subject_digest, uint64_t subject_size,
                     char digest_out[LADE_DIGEST_STRLEN], uint64_t *size_out,
                     struct lade_error **err)
{
	if (subject_digest == NULL || !lade_digest_valid(subject_digest))
		return lade_error_set(err, 0, "sbom: invalid subject digest '%s'",
		                      subject_digest ? subject_digest : "(none)");
	if (json == NULL)
		return lade_error_set(err, 0, "sbom: no document to attach");
	const char *mt = lade_sbom_media_type(fmt);

	char doc_digest[LADE_DIGEST_STRLEN], empty_digest[LADE_DIGEST_STRLEN];
	size_t doc_len = strlen(json);
	if (lade_store_put(store, json, doc_len, doc_digest, err) < 0)
		return lade_error_prefix(err, "cannot store the sbom");
	if (lade_store_put(store, "{}", 2, empty_digest, err) < 0)
		return lade_error_prefix(err, "cannot store the empty config of the sbom artifact");

	json_t *m = json_pack(
	        "{s:i, s:s, s:s, s:{s:s, s:s, s:I, s:s}, s:[{s:s, s:s, s:I}], s:{s:s, s:s, s:I}}",
	        "schemaVersion", 2, "mediaType", MEDIA_TYPE_MANIFEST, "artifactType", mt, "config",
	        "mediaType", MEDIA_TYPE_EMPTY, "digest", empty_digest, "size", (json_int_t)2,
	        "data", "e30=", "layers", "mediaType", mt, "digest", doc_digest, "size",
	        (json_int_t)doc_len, "subject", "mediaType", MEDIA_TYPE_MANIFEST, "digest",
	        subject_digest, "size", (json_int_t)subject_size);
	if (m == NULL) {
		lade_die("cannot build the sbom manifest JSON (out of memory)");
	}
	_cleanup_free_ char *text = lade_json_dump(m);
	json_decref(m);
	if (lade_store_put(store, text, strlen(text), digest_out, err) < 0)
		return lade_error_prefix(err, "cannot store the sbom artifact manifest");
	if (size_out)
		*size_out = strlen(text);
	return 0;
}
