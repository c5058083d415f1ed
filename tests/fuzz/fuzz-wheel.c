/* Fuzz the wheel reader. Two input forms:
 * - a raw zip ("PK\3\4…"): written as pkg-1.0-py3-none-any.whl and opened as is, so the
 *   central directory, local headers and inflate paths are reached;
 * - text parts separated by "\n@@\n": WHEEL, METADATA, entry_points.txt, extra RECORD lines,
 *   then extra members as "NAME\nCONTENT". A valid stored zip with a matching RECORD is made
 *   around them, so the metadata parsers see the fuzzed text instead of a CRC error.
 * Every member of an accepted wheel is then read (hash and CRC checks). */
#include <ctype.h>
#include <zlib.h>

#include "fuzz-common.h"
#include "lade/digest.h"
#include "lade/wheel.h"

#define DIST_INFO "pkg-1.0.dist-info"
#define SEP       "\n@@\n"

struct member {
	char *name;
	const char *data;
	size_t len;
	uint32_t crc;
	uint32_t offset;
};

static void le16(struct lade_buf *b, uint16_t v)
{
	unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
	lade_buf_add(b, x, 2);
}

static void le32(struct lade_buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 24)};
	lade_buf_add(b, x, 4);
}

/* A stored (uncompressed) zip of the members, made on Unix with mode 0644. */
static void make_zip(struct member *m, size_t n, struct lade_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		m[i].crc = (uint32_t)crc32(0, (const Bytef *)m[i].data, (uInt)m[i].len);
		m[i].offset = (uint32_t)out->len;
		le32(out, 0x04034b50);
		le16(out, 20);
		le16(out, 0);
		le16(out, 0);
		le16(out, 0);
		le16(out, 0x21);
		le32(out, m[i].crc);
		le32(out, (uint32_t)m[i].len);
		le32(out, (uint32_t)m[i].len);
		le16(out, (uint16_t)strlen(m[i].name));
		le16(out, 0);
		lade_buf_adds(out, m[i].name);
		lade_buf_add(out, m[i].data, m[i].len);
	}
	uint32_t cd = (uint32_t)out->len;
	for (size_t i = 0; i < n; i++) {
		le32(out, 0x02014b50);
		le16(out, 0x0314);
		le16(out, 20);
		le16(out, 0);
		le16(out, 0);
		le16(out, 0);
		le16(out, 0x21);
		le32(out, m[i].crc);
		le32(out, (uint32_t)m[i].len);
		le32(out, (uint32_t)m[i].len);
		le16(out, (uint16_t)strlen(m[i].name));
		le16(out, 0);
		le16(out, 0);
		le16(out, 0);
		le16(out, 0);
		le32(out, 0100644u << 16);
		le32(out, m[i].offset);
		lade_buf_adds(out, m[i].name);
	}
	uint32_t cd_size = (uint32_t)out->len - cd;
	le32(out, 0x06054b50);
	le16(out, 0);
	le16(out, 0);
	le16(out, (uint16_t)n);
	le16(out, (uint16_t)n);
	le32(out, cd_size);
	le32(out, cd);
	le16(out, 0);
}

static void record_line(struct lade_buf *rec, const struct member *m)
{
	unsigned char raw[32];
	char hex[LADE_DIGEST_STRLEN], b64[44];
	_cleanup_(lade_sha256_freep) struct lade_sha256 *h = lade_sha256_new();
	lade_sha256_update(h, m->data, m->len);
	lade_sha256_final(h, raw, hex);
	lade_wheel_hash_b64(raw, b64);
	lade_buf_addf(rec, "%s,sha256=%s,%zu\n", m->name, b64, m->len);
}

static void build_structured(const char *text, size_t len, struct lade_buf *zip)
{
	static const char *const fixed[] = {DIST_INFO "/WHEEL", DIST_INFO "/METADATA",
	                                    DIST_INFO "/entry_points.txt"};
	struct member m[16];
	size_t n = 0;
	_cleanup_buf_ struct lade_buf extra_record = LADE_BUF_INIT;
	const char *p = text, *end = text + len;
	for (size_t part = 0; p <= end && n < LADE_ARRAY_SIZE(m) - 1; part++) {
		const char *sep = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
		const char *stop = sep ? sep : end;
		if (part < 3) {
			m[n++] = (struct member){xstrdup(fixed[part]), p, (size_t)(stop - p), 0, 0};
		} else if (part == 3) {
			lade_buf_add(&extra_record, p, (size_t)(stop - p));
		} else {
			const char *nl = memchr(p, '\n', (size_t)(stop - p));
			const char *body = nl ? nl + 1 : stop;
			char *name = xstrndup(p, (size_t)((nl ? nl : stop) - p));
			m[n++] = (struct member){name, body, (size_t)(stop - body), 0, 0};
		}
		if (!sep)
			break;
		p = sep + strlen(SEP);
	}
	_cleanup_buf_ struct lade_buf rec = LADE_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		record_line(&rec, &m[i]);
	lade_buf_addf(&rec, "%s/RECORD,,\n", DIST_INFO);
	if (extra_record.len)
		lade_buf_add(&rec, extra_record.data, extra_record.len);
	m[n++] = (struct member){xstrdup(DIST_INFO "/RECORD"), rec.data ? rec.data : "", rec.len, 0,
	                         0};
	make_zip(m, n, zip);
	for (size_t i = 0; i < n; i++)
		free(m[i].name);
}

/* The wheel file name for a raw zip: taken from its first "NAME-VER.dist-info/" so the
 * seeds made by tests/fixtures/make-wheels.py get past the name check. */
static char *raw_wheel_name(const unsigned char *data, size_t size)
{
	static const char key[] = ".dist-info/";
	const unsigned char *hit = memmem(data, size, key, strlen(key));
	if (!hit)
		return xstrdup("pkg-1.0-py3-none-any.whl");
	const unsigned char *start = hit;
	while (start > data && (isalnum(start[-1]) || strchr("._+-", start[-1])) && start[-1])
		start--;
	_cleanup_free_ char *nv = xstrndup((const char *)start, (size_t)(hit - start));
	if (!strchr(nv, '-') || strlen(nv) > 200) /* NAME_MAX is the harness's limit, not lade's */
		return xstrdup("pkg-1.0-py3-none-any.whl");
	return xasprintf("%s-py3-none-any.whl", nv);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	_cleanup_free_ char *path = NULL;
	if (size >= 4 && memcmp(data, "PK\3\4", 4) == 0) {
		_cleanup_free_ char *name = raw_wheel_name(data, size);
		path = lade_path_join(fuzz_dir(), name);
		fuzz_write(path, data, size);
	} else {
		path = lade_path_join(fuzz_dir(), "pkg-1.0-py3-none-any.whl");
		_cleanup_buf_ struct lade_buf zip = LADE_BUF_INIT;
		build_structured((const char *)data, size, &zip);
		fuzz_write(path, zip.data, zip.len);
	}

	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_wheel_freep) struct lade_wheel *w = NULL;
	int r = lade_wheel_open(path, &w, &err);
	unlink(path); /* raw inputs have many names: do not let them pile up */
	if (r < 0)
		return 0;
	(void)lade_wheel_name(w);
	(void)lade_wheel_version_normalized(w);
	(void)lade_wheel_license(w);
	for (size_t i = 0; i < lade_wheel_entry_point_count(w); i++)
		(void)lade_wheel_entry_point(w, i);
	for (size_t i = 0; i < lade_wheel_member_count(w) && i < 64; i++) {
		_cleanup_buf_ struct lade_buf out = LADE_BUF_INIT;
		_cleanup_error_ struct lade_error *e = NULL;
		(void)lade_wheel_read_member(w, i, 1 << 20, &out, &e);
	}
	return 0;
}
