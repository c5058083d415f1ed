/* lade — `lade diff`: what differs between two images; exit status 0 same, 1 different,
 * 2 error. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "usage.h"

#include "lade/inspect.h"
#include "lade/util.h"

enum { OPT_JSON = 256, OPT_NO_SANDBOX, OPT_BY };

int lade_cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"json", no_argument, NULL, OPT_JSON},
	        {"by", required_argument, NULL, OPT_BY},
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	bool json = false, sb = true, by_package = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_BY:
			if (strcmp(optarg, "package") != 0)
				return lade_cli_usage_error(
				        "diff", "--by '%s': only 'package' is known", optarg);
			by_package = true;
			break;
		case OPT_NO_SANDBOX:
			sb = false;
			break;
		default:
			return lade_cli_help_or_usage("diff", c);
		}
	}
	if (optind != argc - 2)
		return lade_cli_usage_error("diff", "diff takes two images IMAGE_A IMAGE_B");
	if (lade_cli_sandbox(sb, LADE_SANDBOX_BUILD) < 0)
		return 2;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(json_decrefp) json_t *report = NULL;
	bool different = false;
	int rc = by_package ? lade_diff_packages(argv[optind], argv[optind + 1], &report,
	                                         &different, &err)
	                    : lade_diff(argv[optind], argv[optind + 1], &report, &different, &err);
	if (rc < 0)
		return lade_cli_error(err, 2);
	if (lade_cli_print_report(report, json,
	                          by_package ? lade_diff_packages_format : lade_diff_format) != 0)
		return 2;
	return different ? 1 : 0;
}
