/* lade — a strict TOML 1.0 reader (no C TOML library is packaged in Debian 12). It returns a
 * tree whose every value knows its line and column, and refuses what TOML 1.0 refuses: invalid
 * UTF-8, control characters, integers beyond 64 bits, impossible dates, a table defined twice,
 * a key redefined, an inline table or static array extended. The redefinition rules follow
 * Python's tomllib, against which it is tested on generated documents. */
#ifndef LADE_TOML_H
#define LADE_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lade/error.h"

enum lade_toml_type {
	LADE_TOML_STRING,
	LADE_TOML_INTEGER,
	LADE_TOML_FLOAT,
	LADE_TOML_BOOL,
	LADE_TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
	LADE_TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
	LADE_TOML_DATE_LOCAL,     /* 1979-05-27 */
	LADE_TOML_TIME_LOCAL,     /* 07:32:00 */
	LADE_TOML_ARRAY,
	LADE_TOML_TABLE,
};

struct lade_toml_datetime {
	int year, month, day;     /* 0 for a local time */
	int hour, minute, second; /* 0 for a local date */
	uint32_t nanosecond;      /* fraction digits beyond the ninth are dropped */
	int offset_minutes;       /* LADE_TOML_DATETIME only; Z is 0 */
};

struct lade_toml {
	enum lade_toml_type type;
	int line, column; /* 1-based; column counts characters. Tables: where first named */
	char *str;        /* STRING: the text, NUL-terminated; it may hold NULs (\u0000) */
	size_t len;       /* STRING: length of str */
	int64_t integer;
	double fl;
	bool boolean;
	struct lade_toml_datetime dt;
	size_t n;                   /* ARRAY, TABLE: number of items */
	struct lade_toml **items;   /* ARRAY, TABLE: the values, in document order */
	char **keys;                /* TABLE: the keys (NUL-terminated), parallel to items */
	size_t *key_lens;           /* TABLE: key lengths (a quoted key may hold a NUL) */
	unsigned flags;             /* the reader's bookkeeping */
	struct lade_hashmap *index; /* TABLE with many keys: key -> value, the reader's */
};

/* Parse TOML text. `path` is only used in messages: "pylock.toml:3:9: invalid escape '\q'",
 * "uv.lock:12:1: table [package.sdist] defined twice". On success *out is the root table,
 * owned by the caller (lade_toml_free). Nesting deeper than 64 arrays / inline tables, or a
 * key of more than 32 dotted parts, is refused. */
int lade_toml_parse(const char *path, const char *data, size_t len, struct lade_toml **out,
                    struct lade_error **err);
void lade_toml_free(struct lade_toml *v);
void lade_toml_freep(struct lade_toml **v);

/* The value of `key` in a table, or NULL (also when t is NULL or not a table). Borrowed. */
const struct lade_toml *lade_toml_get(const struct lade_toml *t, const char *key);
/* "string", "integer", "float", "boolean", "offset date-time", "local date-time",
 * "local date", "local time", "array", "table". */
const char *lade_toml_type_name(enum lade_toml_type type);

#endif
