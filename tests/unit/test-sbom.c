/* Tests for lade_sbom_generate() / lade_sbom_attach(): a fixed image description rendered as
 * SPDX 2.3 and CycloneDX 1.5 and read back with jansson (package list, purls, checksums,
 * licenses, files, identifiers), determinism under reordered input, every input error, and
 * the OCI 1.1 artifact manifest written into a real store. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lade/digest.h"
#include "lade/sbom.h"
#include "lade/store.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

#define MANIFEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define BASE_DG  "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define HEX_A    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HEX_D    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define SHA1_X   "0123456789abcdef0123456789abcdef01234567"
#define EMPTY_DG "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

static const struct lade_sbom_package pkgs[] = {
        {"zeta", "2.0", "zeta-2.0-py3-none-any.whl", HEX_A, "BSD"},
        {"Foo_Bar.baz", "1.0+local.1", "Foo_Bar.baz-1.0+local.1-py3-none-any.whl", HEX_B,
         " MIT OR (Apache-2.0 WITH LLVM-exception) "},
        {"alpha", "0.1", "alpha-0.1-cp311-cp311-linux_x86_64.whl", HEX_C, NULL},
};
static const struct lade_sbom_package pkgs_reordered[] = {pkgs[2], pkgs[0], pkgs[1]};

static const struct lade_sbom_file files[] = {
        {"/app/z.py", HEX_D, 10, NULL},
        {"app/main.py", HEX_A, 20, NULL},
        {"app/lib/x.py", HEX_B, 30, SHA1_X},
};
static const struct lade_sbom_file files_reordered[] = {files[1], files[2], files[0]};

static struct lade_sbom_input base_input(void)
{
	struct lade_sbom_input in = {
	        .image_name = "My App",
	        .ref = "v1",
	        .manifest_digest = MANIFEST,
	        .manifest_size = 1234,
	        .base_name = "docker.io/library/Python:3.11-slim",
	        .base_digest = BASE_DG,
	        .packages = pkgs,
	        .n_packages = LADE_ARRAY_SIZE(pkgs),
	        .files = files,
	        .n_files = LADE_ARRAY_SIZE(files),
	        .epoch = 86400,
	};
	return in;
}

static json_t *gen(enum lade_sbom_format fmt, const struct lade_sbom_input *in, char **text)
{
	_cleanup_error_ struct lade_error *err = NULL;
	char *out = NULL;
	if (lade_sbom_generate(fmt, in, &out, &err) < 0) {
		printf("# generate failed: %s\n", err->msg);
		return NULL;
	}
	json_t *j = json_loads(out, 0, NULL);
	if (text)
		*text = out;
	else
		free(out);
	return j;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The purl of an SPDX package's (only) external reference. */
static const char *spdx_purl(const json_t *p)
{
	const json_t *r = json_array_get(json_object_get(p, "externalRefs"), 0);
	if (!r || strcmp(jstr(r, "referenceType"), "purl") != 0 ||
	    strcmp(jstr(r, "referenceCategory"), "PACKAGE-MANAGER") != 0)
		return NULL;
	return jstr(r, "referenceLocator");
}

static const char *sha256_of(const json_t *checksums)
{
	const json_t *c = json_array_get(checksums, json_array_size(checksums) - 1);
	if (!c || json_array_size(checksums) > 2)
		return NULL;
	const char *alg = jstr(c, "algorithm") ? jstr(c, "algorithm") : jstr(c, "alg");
	if (!alg || (strcmp(alg, "SHA256") != 0 && strcmp(alg, "SHA-256") != 0))
		return NULL;
	return jstr(c, "checksumValue") ? jstr(c, "checksumValue") : jstr(c, "content");
}

static bool has_rel(const json_t *rels, const char *a, const char *type, const char *b)
{
	size_t i;
	json_t *r;
	json_array_foreach(rels, i,
	                   r) if (strcmp(jstr(r, "spdxElementId"), a) == 0 &&
	                          strcmp(jstr(r, "relationshipType"), type) == 0 &&
	                          strcmp(jstr(r, "relatedSpdxElement"), b) == 0) return true;
	return false;
}

static void test_spdx(void)
{
	struct lade_sbom_input in = base_input();
	json_t *d = gen(LADE_SBOM_SPDX, &in, NULL);
	ok(d != NULL, "spdx: generated and parses");
	if (!d)
		return;
	is_str(jstr(d, "spdxVersion"), "SPDX-2.3", "spdx: version");
	is_str(jstr(d, "dataLicense"), "CC0-1.0", "spdx: data license");
	is_str(jstr(d, "SPDXID"), "SPDXRef-DOCUMENT", "spdx: document id");
	is_str(jstr(d, "name"), "My App:v1", "spdx: document name");
	is_str(jstr(d, "documentNamespace"),
	       "https://lade.invalid/spdx/My%20App/"
	       "1111111111111111111111111111111111111111111111111111111111111111",
	       "spdx: namespace from the manifest digest");
	json_t *ci = json_object_get(d, "creationInfo");
	is_str(jstr(ci, "created"), "1970-01-02T00:00:00Z", "spdx: created from the epoch");
	is_str(json_string_value(json_array_get(json_object_get(ci, "creators"), 0)), "Tool: lade",
	       "spdx: creator");

	json_t *ps = json_object_get(d, "packages");
	ok(json_array_size(ps) == 5, "spdx: image + base + 3 packages (got %zu)",
	   json_array_size(ps));
	json_t *img = json_array_get(ps, 0), *base = json_array_get(ps, 1);
	is_str(jstr(img, "SPDXID"), "SPDXRef-Image", "spdx: image package first");
	is_str(jstr(img, "primaryPackagePurpose"), "CONTAINER", "spdx: image is a container");
	is_str(spdx_purl(img),
	       "pkg:oci/"
	       "my%20app@sha256%3A1111111111111111111111111111111111111111111111111111111111111111",
	       "spdx: image purl");
	is_str(jstr(base, "SPDXID"), "SPDXRef-BaseImage", "spdx: base package");
	is_str(jstr(base, "name"), "docker.io/library/Python:3.11-slim", "spdx: base name");
	is_str(jstr(base, "versionInfo"), BASE_DG, "spdx: base digest");
	is_str(sha256_of(json_object_get(base, "checksums")),
	       "2222222222222222222222222222222222222222222222222222222222222222",
	       "spdx: base checksum");
	is_str(spdx_purl(base),
	       "pkg:oci/"
	       "python@sha256%3A2222222222222222222222222222222222222222222222222222222222222222"
	       "?repository_url=docker.io%2Flibrary%2FPython&tag=3.11-slim",
	       "spdx: base purl");

	/* Sorted by normalised name: alpha, foo-bar-baz, zeta. */
	const char *want_names[] = {"alpha", "Foo_Bar.baz", "zeta"};
	const char *want_ids[] = {"SPDXRef-Package-pypi-alpha", "SPDXRef-Package-pypi-foo-bar-baz",
	                          "SPDXRef-Package-pypi-zeta"};
	const char *want_purls[] = {"pkg:pypi/alpha@0.1", "pkg:pypi/foo-bar-baz@1.0%2Blocal.1",
	                            "pkg:pypi/zeta@2.0"};
	const char *want_sha[] = {HEX_C, HEX_B, HEX_A};
	const char *want_files[] = {"alpha-0.1-cp311-cp311-linux_x86_64.whl",
	                            "Foo_Bar.baz-1.0+local.1-py3-none-any.whl",
	                            "zeta-2.0-py3-none-any.whl"};
	for (size_t i = 0; i < 3; i++) {
		json_t *p = json_array_get(ps, i + 2);
		is_str(jstr(p, "name"), want_names[i], "spdx: package %zu name", i);
		is_str(jstr(p, "SPDXID"), want_ids[i], "spdx: package %zu id", i);
		is_str(spdx_purl(p), want_purls[i], "spdx: package %zu purl", i);
		is_str(sha256_of(json_object_get(p, "checksums")), want_sha[i],
		       "spdx: package %zu wheel sha256", i);
		is_str(jstr(p, "packageFileName"), want_files[i], "spdx: package %zu file name", i);
		is_str(jstr(p, "licenseConcluded"), "NOASSERTION", "spdx: package %zu concluded",
		       i);
		ok(has_rel(json_object_get(d, "relationships"), "SPDXRef-Image", "CONTAINS",
		           want_ids[i]),
		   "spdx: image CONTAINS package %zu", i);
	}
	is_str(jstr(json_array_get(ps, 2), "versionInfo"), "0.1", "spdx: version");
	is_str(jstr(json_array_get(ps, 2), "licenseDeclared"), "NOASSERTION",
	       "spdx: no license: NOASSERTION");
	ok(json_object_get(json_array_get(ps, 2), "licenseComments") == NULL,
	   "spdx: no license: no comment");
	is_str(jstr(json_array_get(ps, 3), "licenseDeclared"),
	       "MIT OR (Apache-2.0 WITH LLVM-exception)",
	       "spdx: valid expression declared, trimmed");
	is_str(jstr(json_array_get(ps, 4), "licenseDeclared"), "NOASSERTION",
	       "spdx: free text: NOASSERTION");
	is_str(jstr(json_array_get(ps, 4), "licenseComments"), "License in METADATA: BSD",
	       "spdx: free text kept in a comment");

	json_t *rels = json_object_get(d, "relationships");
	ok(has_rel(rels, "SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"), "spdx: DESCRIBES");
	ok(has_rel(rels, "SPDXRef-Image", "DESCENDANT_OF", "SPDXRef-BaseImage"),
	   "spdx: DESCENDANT_OF base");
	ok(json_array_size(rels) == 1 + 1 + 3 + 3, "spdx: relationship count (got %zu)",
	   json_array_size(rels));

	json_t *fs = json_object_get(d, "files");
	ok(json_array_size(fs) == 3, "spdx: 3 files");
	const char *want_fn[] = {"./app/lib/x.py", "./app/main.py", "./app/z.py"};
	const char *want_fsha[] = {HEX_B, HEX_A, HEX_D};
	for (size_t i = 0; i < 3; i++) {
		json_t *f = json_array_get(fs, i);
		is_str(jstr(f, "fileName"), want_fn[i], "spdx: file %zu name (normalised, sorted)",
		       i);
		is_str(sha256_of(json_object_get(f, "checksums")), want_fsha[i],
		       "spdx: file %zu sha256", i);
		ok(has_rel(rels, "SPDXRef-DOCUMENT", "DESCRIBES", jstr(f, "SPDXID")),
		   "spdx: document DESCRIBES file %zu", i);
		ok(!has_rel(rels, "SPDXRef-Image", "CONTAINS", jstr(f, "SPDXID")),
		   "spdx: the filesAnalyzed=false image does not CONTAIN file %zu", i);
	}
	json_t *sums = json_object_get(json_array_get(fs, 0), "checksums");
	is_str(jstr(json_array_get(sums, 0), "algorithm"), "SHA1", "spdx: SHA1 first when given");
	is_str(jstr(json_array_get(sums, 0), "checksumValue"), SHA1_X, "spdx: SHA1 value");
	ok(json_array_size(json_object_get(json_array_get(fs, 1), "checksums")) == 1,
	   "spdx: SHA256 only without a SHA1");
	json_decref(d);
}

static void test_cyclonedx(void)
{
	struct lade_sbom_input in = base_input();
	json_t *d = gen(LADE_SBOM_CYCLONEDX, &in, NULL);
	ok(d != NULL, "cdx: generated and parses");
	if (!d)
		return;
	is_str(jstr(d, "bomFormat"), "CycloneDX", "cdx: bomFormat");
	is_str(jstr(d, "specVersion"), "1.5", "cdx: specVersion");
	ok(json_integer_value(json_object_get(d, "version")) == 1, "cdx: version 1");

	/* serialNumber: SHA-256("lade-sbom:" + digest), v5/RFC 4122 bits (see sbom.h). */
	unsigned char raw[32];
	const char *name = "lade-sbom:" MANIFEST;
	struct lade_sha256 *h = lade_sha256_new();
	lade_sha256_update(h, name, strlen(name));
	lade_sha256_final(h, raw, NULL);
	lade_sha256_free(h);
	raw[6] = (unsigned char)((raw[6] & 0x0f) | 0x50);
	raw[8] = (unsigned char)((raw[8] & 0x3f) | 0x80);
	char want[64] = "urn:uuid:", *o = want + 9;
	for (int i = 0; i < 16; i++)
		o += sprintf(o, "%s%02x", (i == 4 || i == 6 || i == 8 || i == 10) ? "-" : "",
		             raw[i]);
	is_str(jstr(d, "serialNumber"), want,
	       "cdx: serial number derived from the manifest digest");
	const char *sn = jstr(d, "serialNumber");
	ok(sn && strlen(sn) == 45 && sn[23] == '5' && strchr("89ab", sn[28]),
	   "cdx: serial is a version-5 RFC 4122 uuid");

	json_t *md = json_object_get(d, "metadata");
	is_str(jstr(md, "timestamp"), "1970-01-02T00:00:00Z", "cdx: timestamp from the epoch");
	json_t *img = json_object_get(md, "component");
	is_str(jstr(img, "type"), "container", "cdx: image is a container");
	is_str(jstr(img, "name"), "My App", "cdx: image name");
	is_str(jstr(img, "version"), "v1", "cdx: image version is the tag");
	is_str(sha256_of(json_object_get(img, "hashes")),
	       "1111111111111111111111111111111111111111111111111111111111111111",
	       "cdx: image hash is the manifest digest");

	json_t *cs = json_object_get(d, "components");
	ok(json_array_size(cs) == 1 + 3 + 3, "cdx: base + 3 libraries + 3 files (got %zu)",
	   json_array_size(cs));
	json_t *base = json_array_get(cs, 0);
	is_str(jstr(base, "type"), "container", "cdx: base container");
	is_str(jstr(base, "version"), BASE_DG, "cdx: base digest");
	ok(jstr(base, "purl") &&
	           strncmp(jstr(base, "purl"), "pkg:oci/python@sha256%3A2222", 28) == 0,
	   "cdx: base purl");
	const char *want_purls[] = {"pkg:pypi/alpha@0.1", "pkg:pypi/foo-bar-baz@1.0%2Blocal.1",
	                            "pkg:pypi/zeta@2.0"};
	const char *want_sha[] = {HEX_C, HEX_B, HEX_A};
	for (size_t i = 0; i < 3; i++) {
		json_t *c = json_array_get(cs, i + 1);
		is_str(jstr(c, "type"), "library", "cdx: component %zu library", i);
		is_str(jstr(c, "purl"), want_purls[i], "cdx: component %zu purl", i);
		is_str(jstr(c, "bom-ref"), want_purls[i], "cdx: component %zu bom-ref", i);
		is_str(sha256_of(json_object_get(c, "hashes")), want_sha[i],
		       "cdx: component %zu hash", i);
	}
	ok(json_object_get(json_array_get(cs, 1), "licenses") == NULL,
	   "cdx: no license, no licenses");
	is_str(jstr(json_array_get(json_object_get(json_array_get(cs, 2), "licenses"), 0),
	            "expression"),
	       "MIT OR (Apache-2.0 WITH LLVM-exception)", "cdx: license expression");
	json_t *lic = json_array_get(json_object_get(json_array_get(cs, 3), "licenses"), 0);
	is_str(jstr(json_object_get(lic, "license"), "name"), "BSD", "cdx: free text license name");
	const char *want_fn[] = {"/app/lib/x.py", "/app/main.py", "/app/z.py"};
	for (size_t i = 0; i < 3; i++) {
		json_t *c = json_array_get(cs, i + 4);
		is_str(jstr(c, "type"), "file", "cdx: file %zu type", i);
		is_str(jstr(c, "name"), want_fn[i], "cdx: file %zu name", i);
	}
	is_str(sha256_of(json_object_get(json_array_get(cs, 6), "hashes")), HEX_D,
	       "cdx: file hash");
	json_t *dep = json_array_get(json_object_get(d, "dependencies"), 0);
	is_str(jstr(dep, "ref"), "image", "cdx: dependencies of the image");
	ok(json_array_size(json_object_get(dep, "dependsOn")) == 4, "cdx: image depends on 4");
	json_decref(d);
}

static void test_determinism(void)
{
	for (int f = 0; f < 2; f++) {
		enum lade_sbom_format fmt = f ? LADE_SBOM_CYCLONEDX : LADE_SBOM_SPDX;
		struct lade_sbom_input in = base_input();
		char *a = NULL, *b = NULL, *c = NULL;
		json_decref(gen(fmt, &in, &a));
		json_decref(gen(fmt, &in, &b));
		in.packages = pkgs_reordered;
		in.files = files_reordered;
		json_decref(gen(fmt, &in, &c));
		ok(a && b && strcmp(a, b) == 0, "%s: same input, same bytes", f ? "cdx" : "spdx");
		ok(a && c && strcmp(a, c) == 0, "%s: input order does not matter",
		   f ? "cdx" : "spdx");
		const char *first = f ? "{\"bomFormat\":" : "{\"SPDXID\":";
		ok(a && strchr(a, '\n') == NULL && strncmp(a, first, strlen(first)) == 0,
		   "%s: compact with sorted keys", f ? "cdx" : "spdx");
		in = base_input();
		in.manifest_digest = BASE_DG;
		char *d = NULL;
		json_decref(gen(fmt, &in, &d));
		ok(a && d && strcmp(a, d) != 0, "%s: another manifest, another document",
		   f ? "cdx" : "spdx");
		free(a);
		free(b);
		free(c);
		free(d);
	}
}

static void test_minimal_and_many_files(void)
{
	/* Scratch base, no tag, no packages, no files. */
	struct lade_sbom_input in = {.image_name = "x", .manifest_digest = MANIFEST};
	json_t *d = gen(LADE_SBOM_SPDX, &in, NULL);
	ok(d && json_array_size(json_object_get(d, "packages")) == 1 &&
	           json_object_get(d, "files") == NULL,
	   "spdx minimal: only the image package");
	is_str(jstr(json_array_get(json_object_get(d, "packages"), 0), "versionInfo"), MANIFEST,
	       "spdx minimal: version is the digest without a tag");
	json_decref(d);
	d = gen(LADE_SBOM_CYCLONEDX, &in, NULL);
	ok(d && json_array_size(json_object_get(d, "components")) == 0,
	   "cdx minimal: no components");
	json_decref(d);

	/* A base given by a host path gets no purl (it would not be a name). */
	in.base_name = "/srv/layouts/base:1";
	in.base_digest = BASE_DG;
	d = gen(LADE_SBOM_CYCLONEDX, &in, NULL);
	json_t *base = json_array_get(json_object_get(d, "components"), 0);
	ok(base && jstr(base, "purl") == NULL && strcmp(jstr(base, "name"), in.base_name) == 0,
	   "cdx: path base named, without purl");
	json_decref(d);
	static const struct {
		const char *name, *purl;
	} bases[] = {
	        {"python:3.11", NULL},
	        {"library/python:3.11", NULL},
	        {"localhost:5000/team/app:1@" BASE_DG,
	         "pkg:oci/app@"
	         "sha256%3A2222222222222222222222222222222222222222222222222222222222222222"
	         "?repository_url=localhost%3A5000%2Fteam%2Fapp&tag=1"},
	        {"ghcr.io/o/img",
	         "pkg:oci/img@"
	         "sha256%3A2222222222222222222222222222222222222222222222222222222222222222"
	         "?repository_url=ghcr.io%2Fo%2Fimg"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(bases); i++) {
		in.base_name = bases[i].name;
		d = gen(LADE_SBOM_CYCLONEDX, &in, NULL);
		base = json_array_get(json_object_get(d, "components"), 0);
		is_str(jstr(base, "purl"), bases[i].purl, "cdx: base %s purl", bases[i].name);
		json_decref(d);
	}

	size_t n = LADE_SBOM_MAX_FILES + 1;
	struct lade_sbom_file *many = xcalloc(n, sizeof(*many));
	char **paths = xcalloc(n, sizeof(*paths));
	for (size_t i = 0; i < n; i++) {
		paths[i] = xasprintf("app/f%06zu", i);
		many[i] = (struct lade_sbom_file){paths[i], HEX_A, 3, NULL};
	}
	in.files = many;
	in.n_files = n;
	d = gen(LADE_SBOM_SPDX, &in, NULL);
	ok(d && json_object_get(d, "files") == NULL, "spdx: %zu files are not listed", n);
	is_str(jstr(json_array_get(json_object_get(d, "packages"), 0), "comment"),
	       "10001 application files (30003 bytes) are not listed: more than 10000",
	       "spdx: summary comment");
	json_decref(d);
	d = gen(LADE_SBOM_CYCLONEDX, &in, NULL);
	json_t *props = json_object_get(
	        json_object_get(json_object_get(d, "metadata"), "component"), "properties");
	ok(d && json_array_size(json_object_get(d, "components")) == 1, "cdx: files not listed");
	is_str(jstr(json_array_get(props, 1), "value"), "10001", "cdx: file count property");
	is_str(jstr(json_array_get(props, 0), "value"), "30003", "cdx: file bytes property");
	json_decref(d);
	in.n_files = LADE_SBOM_MAX_FILES;
	d = gen(LADE_SBOM_SPDX, &in, NULL);
	ok(d && json_array_size(json_object_get(d, "files")) == LADE_SBOM_MAX_FILES,
	   "spdx: exactly the limit is listed");
	json_decref(d);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	free(many);
}

/* The license field through the public API: declared only when a valid SPDX expression. */
static void test_licenses(void)
{
	static const struct {
		const char *text;
		const char *declared;
	} cases[] = {
	        {"MIT", "MIT"},
	        {"mit", "mit"},
	        {"Apache-2.0 AND (MIT OR BSD-3-Clause)", "Apache-2.0 AND (MIT OR BSD-3-Clause)"},
	        {"GPL-2.0-or-later WITH Classpath-exception-2.0",
	         "GPL-2.0-or-later WITH Classpath-exception-2.0"},
	        {"LicenseRef-Proprietary", "LicenseRef-Proprietary"},
	        {"LGPL-2.1+", "LGPL-2.1+"},
	        {"MIT License", NULL},
	        {"MIT and Apache-2.0", NULL},
	        {"(MIT", NULL},
	        {"MIT)", NULL},
	        {"MIT OR", NULL},
	        {"MIT WITH Apache-2.0", NULL},
	        {"Apache 2.0", NULL},
	        {"MIT, BSD", NULL},
	        {"UNKNOWN", "absent"},
	        {"   ", "absent"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(cases); i++) {
		struct lade_sbom_package p = {"p", "1", "p-1-py3-none-any.whl", HEX_A,
		                              cases[i].text};
		struct lade_sbom_input in = {.image_name = "x",
		                             .manifest_digest = MANIFEST,
		                             .packages = &p,
		                             .n_packages = 1};
		json_t *d = gen(LADE_SBOM_SPDX, &in, NULL);
		json_t *pk = json_array_get(json_object_get(d, "packages"), 1);
		const char *decl = jstr(pk, "licenseDeclared");
		const char *comment = jstr(pk, "licenseComments");
		if (cases[i].declared == NULL)
			ok(decl && strcmp(decl, "NOASSERTION") == 0 && comment &&
			           strstr(comment, cases[i].text),
			   "license '%s': not an expression, kept as text", cases[i].text);
		else if (strcmp(cases[i].declared, "absent") == 0)
			ok(decl && strcmp(decl, "NOASSERTION") == 0 && comment == NULL,
			   "license '%s': treated as absent", cases[i].text);
		else
			ok(decl && strcmp(decl, cases[i].declared) == 0 && comment == NULL,
			   "license '%s': declared", cases[i].text);
		json_decref(d);
	}
}

static void expect_error(const struct lade_sbom_input *in, const char *want, const char *what)
{
	_cleanup_error_ struct lade_error *err = NULL;
	char *out = NULL;
	int r = lade_sbom_generate(LADE_SBOM_SPDX, in, &out, &err);
	ok(r == -1 && out == NULL, "error %s: fails", what);
	is_str(err ? err->msg : NULL, want, "error %s: message", what);
	free(out);
}

static void test_errors(void)
{
	struct lade_sbom_input in = base_input();
	in.image_name = "";
	expect_error(&in, "sbom: the image name is missing or not UTF-8", "no name");
	in = base_input();
	in.manifest_digest = "sha256:XYZ";
	expect_error(&in, "sbom: image My App: invalid manifest digest 'sha256:XYZ'", "bad digest");
	in = base_input();
	in.base_digest = "md5:00";
	expect_error(&in, "sbom: base docker.io/library/Python:3.11-slim: invalid digest 'md5:00'",
	             "bad base digest");

	struct lade_sbom_package bad[2] = {pkgs[0], pkgs[1]};
	in = base_input();
	in.packages = bad;
	in.n_packages = 2;
	bad[1].name = NULL;
	expect_error(&in, "sbom: package 2: the name is missing", "package without name");
	bad[1] = pkgs[1];
	bad[1].version = "";
	expect_error(&in, "sbom: package Foo_Bar.baz: the version is missing", "no version");
	bad[1] = pkgs[1];
	bad[1].wheel_sha256_hex = "ABCD";
	expect_error(&in,
	             "sbom: package Foo_Bar.baz 1.0+local.1: the wheel sha256 is not 64 lowercase "
	             "hex digits",
	             "bad wheel sha");
	bad[1] = pkgs[1];
	bad[1].wheel_filename = NULL;
	expect_error(&in, "sbom: package Foo_Bar.baz 1.0+local.1: the wheel file name is missing",
	             "no wheel name");
	bad[1] = pkgs[1];
	bad[1].name = "ZETA";
	expect_error(&in, "sbom: packages zeta and ZETA have the same name", "duplicate package");
	bad[1].name = "a b";
	expect_error(&in, "sbom: package a b: not a valid distribution name", "bad package name");

	struct lade_sbom_file badf[2] = {files[0], files[1]};
	in = base_input();
	in.files = badf;
	in.n_files = 2;
	badf[1].path = "../etc/passwd";
	expect_error(&in, "sbom: file ../etc/passwd: the path climbs above the root", "file ..");
	badf[1].path = "/";
	expect_error(&in, "sbom: file /: the path is empty", "file root");
	badf[1].path = "\xff";
	expect_error(&in, "sbom: file 2: the path is missing or not UTF-8", "file not utf-8");
	badf[1] = files[1];
	badf[1].sha256_hex = HEX_A "0";
	expect_error(&in, "sbom: file app/main.py: the sha256 is not 64 lowercase hex digits",
	             "file sha");
	badf[1] = files[1];
	badf[1].sha1_hex = HEX_A;
	expect_error(&in, "sbom: file app/main.py: the sha1 is not 40 lowercase hex digits",
	             "file sha1");
	badf[1] = files[0];
	badf[1].path = "app//z.py";
	expect_error(&in, "sbom: file app/z.py: listed twice", "duplicate file");

	_cleanup_error_ struct lade_error *err = NULL;
	enum lade_sbom_format fmt = LADE_SBOM_SPDX;
	ok(lade_sbom_parse_format("cyclonedx", &fmt, &err) == 0 && fmt == LADE_SBOM_CYCLONEDX,
	   "parse_format cyclonedx");
	ok(lade_sbom_parse_format("spdx", &fmt, &err) == 0 && fmt == LADE_SBOM_SPDX,
	   "parse_format spdx");
	ok(lade_sbom_parse_format("SPDX-json", &fmt, &err) == -1, "parse_format rejects others");
	is_str(err ? err->msg : NULL,
	       "unknown sbom format 'SPDX-json' (expected spdx or cyclonedx)",
	       "parse_format message");
	is_str(lade_sbom_media_type(LADE_SBOM_SPDX), "application/spdx+json", "spdx media type");
	is_str(lade_sbom_media_type(LADE_SBOM_CYCLONEDX), "application/vnd.cyclonedx+json",
	       "cyclonedx media type");
}

static json_t *load_blob(struct lade_store *s, const char *digest, struct lade_buf *raw)
{
	_cleanup_free_ char *path = lade_store_blob_path(s, digest);
	_cleanup_error_ struct lade_error *err = NULL;
	lade_buf_reset(raw);
	if (lade_read_file(path, 1 << 20, raw, &err) < 0)
		return NULL;
	return json_loadb(raw->data, raw->len, 0, NULL);
}

static void test_attach(void)
{
	_cleanup_free_ char *dir = make_tmpdir("test-sbom");
	_cleanup_free_ char *layout = xasprintf("%s/oci", dir);
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_store *s = NULL;
	ok(lade_store_open(layout, 0, &s, &err) == 0, "attach: store opened");
	if (!s)
		return;

	struct lade_sbom_input in = base_input();
	char *doc = NULL;
	json_decref(gen(LADE_SBOM_CYCLONEDX, &in, &doc));
	char digest[LADE_DIGEST_STRLEN] = "", digest2[LADE_DIGEST_STRLEN] = "";
	uint64_t size = 0, size2 = 0;
	ok(lade_sbom_attach(s, LADE_SBOM_CYCLONEDX, doc, MANIFEST, 1234, digest, &size, &err) == 0,
	   "attach: ok");
	ok(lade_sbom_attach(s, LADE_SBOM_CYCLONEDX, doc, MANIFEST, 1234, digest2, &size2, &err) ==
	                   0 &&
	           strcmp(digest, digest2) == 0 && size == size2,
	   "attach: deterministic artifact manifest");

	struct lade_buf raw = LADE_BUF_INIT;
	json_t *m = load_blob(s, digest, &raw);
	ok(m != NULL, "attach: manifest blob stored under its digest");
	char check[LADE_DIGEST_STRLEN];
	lade_sha256_buf(raw.data, raw.len, check);
	is_str(check, digest, "attach: digest is the manifest's sha256");
	ok(raw.len == size, "attach: size is the manifest's length");
	ok(json_integer_value(json_object_get(m, "schemaVersion")) == 2, "attach: schemaVersion 2");
	is_str(jstr(m, "mediaType"), "application/vnd.oci.image.manifest.v1+json",
	       "attach: image manifest media type");
	is_str(jstr(m, "artifactType"), "application/vnd.cyclonedx+json", "attach: artifactType");
	json_t *cfg = json_object_get(m, "config");
	is_str(jstr(cfg, "mediaType"), "application/vnd.oci.empty.v1+json", "attach: empty config");
	is_str(jstr(cfg, "digest"), EMPTY_DG, "attach: empty config digest");
	ok(json_integer_value(json_object_get(cfg, "size")) == 2, "attach: empty config size");
	json_t *empty = load_blob(s, EMPTY_DG, &raw);
	ok(empty && raw.len == 2 && memcmp(raw.data, "{}", 2) == 0, "attach: empty blob is {}");
	json_decref(empty);
	json_t *layers = json_object_get(m, "layers");
	json_t *l = json_array_get(layers, 0);
	ok(json_array_size(layers) == 1, "attach: one layer");
	is_str(jstr(l, "mediaType"), "application/vnd.cyclonedx+json", "attach: layer media type");
	lade_sha256_buf(doc, strlen(doc), check);
	is_str(jstr(l, "digest"), check, "attach: layer is the document");
	ok((size_t)json_integer_value(json_object_get(l, "size")) == strlen(doc),
	   "attach: layer size");
	json_t *blob = load_blob(s, check, &raw);
	ok(blob && raw.len == strlen(doc) && memcmp(raw.data, doc, raw.len) == 0,
	   "attach: document blob stored");
	json_decref(blob);
	json_t *sub = json_object_get(m, "subject");
	is_str(jstr(sub, "mediaType"), "application/vnd.oci.image.manifest.v1+json",
	       "attach: subject media type");
	is_str(jstr(sub, "digest"), MANIFEST, "attach: subject digest");
	ok(json_integer_value(json_object_get(sub, "size")) == 1234, "attach: subject size");
	json_decref(m);

	ok(lade_sbom_attach(s, LADE_SBOM_SPDX, doc, "sha256:1", 1, digest, &size, &err) == -1,
	   "attach: bad subject fails");
	is_str(err ? err->msg : NULL, "sbom: invalid subject digest 'sha256:1'",
	       "attach: bad subject message");

	free(doc);
	lade_buf_release(&raw);
	lade_store_free(s);
	lade_error_free(err);
	err = NULL;
	ok(lade_remove_tree(dir, &err) == 0, "attach: cleanup");
}

int main(void)
{
	test_spdx();
	test_cyclonedx();
	test_determinism();
	test_minimal_and_many_files();
	test_licenses();
	test_errors();
	test_attach();
	return tap_done();
}
