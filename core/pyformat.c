/* lade — PEP 503 names and RECORD rows (see include/lade/pyformat.h). */
#include <string.h>

#include "lade/pyformat.h"
#include "lade/util.h"

char *lade_name_normalize(const char *name)
{
	size_t len = strlen(name);
	char *out = xmalloc(len + 1), *o = out;
	for (const char *p = name; *p;) {
		if (*p == '-' || *p == '_' || *p == '.') {
			while (*p == '-' || *p == '_' || *p == '.')
				p++;
			*o++ = '-';
		} else {
			*o++ = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
			p++;
		}
	}
	*o = '\0';
	return out;
}

/* One field at p: appended to *fields; returns where it stopped (',', end of line or end). */
static const char *csv_field(const char *p, const char *end, struct lade_buf *f, bool *bad)
{
	lade_buf_reset(f);
	if (p < end && *p == '"') {
		p++;
		for (;;) {
			if (p >= end) {
				*bad = true;
				return p;
			}
			if (*p == '"') {
				if (p + 1 < end && p[1] == '"') {
					lade_buf_addch(f, '"');
					p += 2;
					continue;
				}
				p++;
				break;
			}
			lade_buf_addch(f, *p++);
		}
		/* text after the closing quote belongs to the field, as in Python */
	}
	while (p < end && *p != ',' && *p != '\n' && *p != '\r')
		lade_buf_addch(f, *p++);
	return p;
}

int lade_csv_row(const char **pos, const char *end, char ***fields)
{
	const char *p = *pos;
	if (p >= end)
		return 0;
	_cleanup_buf_ struct lade_buf f = LADE_BUF_INIT;
	for (;;) {
		bool bad = false;
		p = csv_field(p, end, &f, &bad);
		if (bad)
			return -1;
		lade_strv_push(fields, f.data);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
		break;
	}
	*pos = p;
	return 1;
}
