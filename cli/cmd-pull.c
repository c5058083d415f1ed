/* lade — `lade pull`: an image from a registry into a layout (the work is in registry/). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "registry-options.h"
#include "usage.h"

#include "lade/registry.h"
#include "lade/store.h"
#include "lade/util.h"

enum { OPT_PLATFORM = OPT_REGISTRY_LAST, OPT_OFFLINE };

int lade_cmd_pull(int argc, char **argv)
{
	static const struct option opts[] = {
	        LADE_CLI_REGISTRY_OPTIONS,
	        {"output", required_argument, NULL, 'o'},
	        {"platform", required_argument, NULL, OPT_PLATFORM},
	        {"offline", no_argument, NULL, OPT_OFFLINE},
	        {NULL, 0, NULL, 0},
	};
	struct lade_registry_options o = LADE_REGISTRY_OPTIONS_INIT;
	o.jobs = 4;
	struct lade_cli_registry cm = {.cmd = "pull", .sandbox = true};
	const char *out = NULL, *platform = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qho:j:", opts, NULL)) != -1) {
		int r = lade_cli_registry_option(c, optarg, &o, &cm);
		if (r >= 100)
			return r - 100;
		if (r > 0)
			continue;
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case OPT_PLATFORM:
			platform = optarg;
			break;
		case OPT_OFFLINE:
			o.offline = true;
			break;
		default:
			return lade_cli_usage_error("pull", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lade_cli_usage_error("pull", "pull needs REF");
	const char *ref = argv[optind];
	if (lade_cli_registry_prepare(&cm) < 0)
		return 1;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *dir = out ? xstrdup(out) : lade_store_default_dir(&err);
	if (!dir)
		return lade_cli_error(err, 1);
	char digest[LADE_DIGEST_STRLEN];
	if (lade_registry_pull_ex(ref, platform, dir, true, &o, digest, &err) < 0)
		return lade_cli_error(err, 1);
	if (cm.json)
		return lade_cli_registry_json(
		        json_pack("{s:s, s:s, s:s}", "ref", ref, "digest", digest, "layout", dir));
	if (!cm.quiet)
		fprintf(stderr, "lade: pulled %s into %s\n", ref, dir);
	printf("%s\n", digest);
	return lade_cli_flush();
}
