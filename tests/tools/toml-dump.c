/* toml-dump FILE...: lade's TOML reading of each file as one JSON line, for the differential
 * test against Python's tomllib (tests/unit/toml-diff.py). Values carry type tags as in
 * toml-test: {"type": "integer", "value": "42"}; a rejected document is {"error": "MESSAGE"}. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "lade/toml.h"
#include "lade/util.h"

static json_t *tagged(const char *type, const char *value)
{
	return json_pack("{s:s, s:s}", "type", type, "value", value);
}

static json_t *dump(const struct lade_toml *v)
{
	char buf[80];
	const struct lade_toml_datetime *d = &v->dt;
	switch (v->type) {
	case LADE_TOML_STRING:
		return json_pack("{s:s, s:s%}", "type", "string", "value", v->str, v->len);
	case LADE_TOML_INTEGER:
		snprintf(buf, sizeof(buf), "%lld", (long long)v->integer);
		return tagged("integer", buf);
	case LADE_TOML_FLOAT:
		if (isnan(v->fl))
			return tagged("float", "nan");
		if (isinf(v->fl))
			return tagged("float", v->fl < 0 ? "-inf" : "inf");
		snprintf(buf, sizeof(buf), "%.17g", v->fl);
		return tagged("float", buf);
	case LADE_TOML_BOOL:
		return tagged("bool", v->boolean ? "true" : "false");
	case LADE_TOML_DATETIME:
	case LADE_TOML_DATETIME_LOCAL:
	case LADE_TOML_DATE_LOCAL:
	case LADE_TOML_TIME_LOCAL: {
		/* the canonical text the Python side writes: microseconds, as tomllib keeps */
		char date[16] = "", time[32] = "", off[16] = "";
		if (v->type != LADE_TOML_TIME_LOCAL)
			snprintf(date, sizeof(date), "%04d-%02d-%02d", d->year, d->month, d->day);
		if (v->type != LADE_TOML_DATE_LOCAL)
			snprintf(time, sizeof(time), "%s%02d:%02d:%02d.%06u",
			         v->type == LADE_TOML_TIME_LOCAL ? "" : "T", d->hour, d->minute,
			         d->second, d->nanosecond / 1000);
		if (v->type == LADE_TOML_DATETIME) {
			int m = d->offset_minutes < 0 ? -d->offset_minutes : d->offset_minutes;
			snprintf(off, sizeof(off), "%c%02d:%02d", d->offset_minutes < 0 ? '-' : '+',
			         m / 60, m % 60);
		}
		snprintf(buf, sizeof(buf), "%s%s%s", date, time, off);
		return tagged(lade_toml_type_name(v->type), buf);
	}
	case LADE_TOML_ARRAY: {
		json_t *a = json_array();
		for (size_t i = 0; i < v->n; i++)
			json_array_append_new(a, dump(v->items[i]));
		return a;
	}
	case LADE_TOML_TABLE: {
		json_t *o = json_object();
		for (size_t i = 0; i < v->n; i++)
			json_object_setn_new(o, v->keys[i], v->key_lens[i], dump(v->items[i]));
		return o;
	}
	}
	return json_null();
}

static void dump_file(const char *path)
{
	{
		struct lade_buf b = LADE_BUF_INIT;
		struct lade_error *err = NULL;
		struct lade_toml *t = NULL;
		json_t *out;
		if (lade_read_file(path, 64u << 20, &b, &err) == 0 &&
		    lade_toml_parse(path, b.data, b.len, &t, &err) == 0)
			out = json_pack("{s:o}", "ok", dump(t));
		else
			out = json_pack("{s:s}", "error", err->msg);
		char *s = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
		/* NULL: not valid JSON, i.e. a string or message that is not UTF-8 */
		printf("%s\n", s ? s : "{\"broken\": true}");
		free(s);
		json_decref(out);
		lade_toml_free(t);
		lade_error_free(err);
		lade_buf_release(&b);
	}
}

/* toml-dump FILE... or the file names on stdin, one a line */
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		dump_file(argv[i]);
	if (argc == 1) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, stdin)) > 0) {
			if (line[n - 1] == '\n')
				line[n - 1] = '\0';
			dump_file(line);
		}
		free(line);
	}
	return 0;
}
