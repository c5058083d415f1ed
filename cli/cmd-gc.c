/* lade — `lade gc`: remove the blobs no tag of a layout reaches, or trim the layer cache. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "usage.h"

#include "lade/cache.h"
#include "lade/gc.h"
#include "lade/oci.h"
#include "lade/store.h"
#include "lade/util.h"

/* "90", "90s", "15m", "12h", "30d", "2w" → seconds; -1 when it is none of those. */
static int64_t parse_duration(const char *s)
{
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || v > (unsigned long long)INT64_MAX / 604800)
		return -1;
	static const struct {
		const char *suffix;
		int64_t seconds;
	} units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(units); i++)
		if (strcmp(end, units[i].suffix) == 0)
			return (int64_t)v * units[i].seconds;
	return -1;
}

static json_t *removed_list(char **removed)
{
	json_t *a = json_array();
	for (char **d = removed; d && *d; d++)
		json_array_append_new(a, json_string(*d));
	return a;
}

static int report(const char *what, const struct lade_gc_report *g,
                  const struct lade_cache_gc_report *c, bool dry_run, bool json, bool quiet)
{
	if (json) {
		json_t *j = json_pack(
		        "{s:s, s:b, s:I, s:I, s:I, s:I, s:o}", c ? "cache" : "layout", what,
		        "dry_run", dry_run, "blobs", (json_int_t)g->blobs, "bytes",
		        (json_int_t)g->bytes, "kept_blobs", (json_int_t)g->kept_blobs, "kept_bytes",
		        (json_int_t)g->kept_bytes, "removed", removed_list(g->removed));
		if (c) {
			json_object_set_new(j, "entries", json_integer((json_int_t)c->entries));
			json_object_set_new(j, "entries_kept",
			                    json_integer((json_int_t)c->entries_kept));
		} else {
			json_object_set_new(j, "index_entries_dropped",
			                    json_integer((json_int_t)g->index_dropped));
		}
		int rc = lade_cli_print_json(j, JSON_INDENT(2));
		json_decref(j);
		return rc;
	}
	if (quiet)
		return 0;
	char freed[32], kept[32];
	lade_human_size(g->bytes, freed, sizeof(freed));
	lade_human_size(g->kept_bytes, kept, sizeof(kept));
	printf("%s: %s %zu blob%s (%s)", what, dry_run ? "would remove" : "removed", g->blobs,
	       g->blobs == 1 ? "" : "s", freed);
	if (c)
		printf(" and %zu cache entr%s", c->entries, c->entries == 1 ? "y" : "ies");
	else if (g->index_dropped)
		printf(" and %zu untagged referrer%s from index.json", g->index_dropped,
		       g->index_dropped == 1 ? "" : "s");
	printf("; %zu blob%s (%s) kept\n", g->kept_blobs, g->kept_blobs == 1 ? "" : "s", kept);
	return lade_cli_flush();
}

static int gc_layout(const char *dir, bool dry_run, int lock_timeout, bool json, bool quiet)
{
	_cleanup_error_ struct lade_error *err = NULL;
	/* never create a layout where the user mistyped one */
	if (lade_oci_layout_check(dir, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);
	_cleanup_(lade_store_freep) struct lade_store *s = NULL;
	if (lade_store_open(dir, lock_timeout, &s, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);
	struct lade_gc_options o = {.dry_run = dry_run};
	struct lade_gc_report r;
	if (lade_gc_layout(s, &o, &r, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);
	int rc = report(dir, &r, NULL, dry_run, json, quiet);
	lade_gc_report_release(&r);
	return rc;
}

static int gc_cache(const char *dir, const struct lade_cache_gc_options *o, bool json, bool quiet)
{
	_cleanup_error_ struct lade_error *err = NULL;
	if (dir == NULL) {
		const char *env = getenv("LADE_CACHE_DIR");
		dir = env && *env ? env : NULL;
	}
	_cleanup_(lade_cache_freep) struct lade_cache *c = NULL;
	if (lade_cache_open(dir, &c, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);
	struct lade_cache_gc_report r;
	if (lade_cache_gc(c, o, &r, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);
	int rc = report(lade_cache_dir(c), &r.blobs, &r, o->dry_run, json, quiet);
	lade_cache_gc_report_release(&r);
	return rc;
}

int lade_cmd_gc(int argc, char **argv)
{
	enum {
		OPT_DRY_RUN = 256,
		OPT_JSON,
		OPT_CACHE,
		OPT_MAX_SIZE,
		OPT_OLDER_THAN,
		OPT_LOCK_TIMEOUT,
		OPT_NO_SANDBOX,
	};
	static const struct option longopts[] = {
	        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"cache", no_argument, NULL, OPT_CACHE},
	        {"max-size", required_argument, NULL, OPT_MAX_SIZE},
	        {"older-than", required_argument, NULL, OPT_OLDER_THAN},
	        {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	        {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct lade_cache_gc_options co = {.max_size = UINT64_MAX, .older_than_s = -1};
	bool json = false, quiet = false, cache = false, sandbox = true, dry_run = false;
	uint32_t lock_timeout = 60;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_CACHE:
			cache = true;
			break;
		case OPT_MAX_SIZE:
			if (lade_parse_size(optarg, &co.max_size) < 0)
				return lade_cli_usage_error("gc", "--max-size '%s' is not a size",
				                            optarg);
			break;
		case OPT_OLDER_THAN:
			co.older_than_s = parse_duration(optarg);
			if (co.older_than_s < 0)
				return lade_cli_usage_error("gc",
				                            "--older-than '%s' is not a duration "
				                            "(N, Ns, Nm, Nh, Nd, Nw)",
				                            optarg);
			break;
		case OPT_LOCK_TIMEOUT:
			if (lade_parse_u32(optarg, 10, &lock_timeout) < 0)
				return lade_cli_usage_error(
				        "gc", "--lock-timeout '%s' is not a number", optarg);
			break;
		case OPT_NO_SANDBOX:
			sandbox = false;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return lade_cli_help_or_usage("gc", c);
		}
	}
	co.dry_run = dry_run;
	if (!cache && (co.max_size != UINT64_MAX || co.older_than_s >= 0))
		return lade_cli_usage_error("gc", "--max-size and --older-than apply to --cache");
	if (cache ? optind < argc - 1 : optind != argc - 1)
		return lade_cli_usage_error("gc", cache ? "gc --cache takes at most one cache DIR"
		                                        : "gc takes one layout DIR");
	if (lade_cli_sandbox(sandbox, LADE_SANDBOX_BUILD) < 0)
		return EXIT_FAILURE;
	if (cache)
		return gc_cache(optind < argc ? argv[optind] : NULL, &co, json, quiet);
	return gc_layout(argv[optind], dry_run, (int)lock_timeout, json, quiet);
}
