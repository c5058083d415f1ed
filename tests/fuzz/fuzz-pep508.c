/* Fuzz PEP 508: line 1 is a requirement (parsed, printed, its marker evaluated), line 2 a
 * marker evaluated on its own, line 3 the extra; names are normalised on the way. */
#include "fuzz-common.h"
#include "lade/pep508.h"
#include "lade/tags.h"

static struct lade_marker_env env;

static void setup(void)
{
	static bool done;
	if (done)
		return;
	struct lade_target t;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_target_init(&t, "linux/amd64", "3.11", "glibc-2.36", &err) < 0)
		abort();
	lade_marker_env_init(&env, &t);
	done = true;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size > 8192)
		return 0;
	setup();
	_cleanup_free_ char *buf = fuzz_strndup(data, size);
	char *req = buf;
	char *marker = fuzz_split_line(req);
	char *extra = fuzz_split_line(marker);
	fuzz_split_line(extra);

	free(lade_name_normalize(req));
	(void)lade_name_valid(req);

	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_requirement_freep) struct lade_requirement *r = NULL;
	if (lade_requirement_parse(req, &r, &err) == 0) {
		free(lade_requirement_str(r));
		if (r->marker) {
			bool res;
			_cleanup_error_ struct lade_error *e = NULL;
			/* A marker accepted at parse time evaluates or fails cleanly, never
			 * crashes. */
			(void)lade_marker_evaluate(r->marker, &env, extra, &res, &e);
		}
	}

	bool res;
	_cleanup_error_ struct lade_error *e2 = NULL;
	(void)lade_marker_evaluate(marker, &env, extra, &res, &e2);
	_cleanup_error_ struct lade_error *e3 = NULL;
	(void)lade_marker_evaluate(marker, &env, NULL, &res, &e3);
	return 0;
}
