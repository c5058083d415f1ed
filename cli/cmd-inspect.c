/* lade — `lade inspect`: sizes, layers, largest files, installed bytes per package. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "usage.h"

#include "lade/inspect.h"
#include "lade/util.h"

enum { OPT_JSON = 256, OPT_TOP, OPT_BY, OPT_NO_LAYERS, OPT_NO_SANDBOX, OPT_HTML };

int lade_cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"top", required_argument, NULL, OPT_TOP},
	        {"by", required_argument, NULL, OPT_BY},
	        {"no-layers", no_argument, NULL, OPT_NO_LAYERS},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"html", required_argument, NULL, OPT_HTML},
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct lade_inspect_options o = {.layers = true};
	bool json = false, sb = true;
	const char *html = NULL;
	uint32_t u;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TOP:
			if (lade_parse_u32(optarg, 10, &u) < 0 || u == 0)
				return lade_cli_usage_error(
				        "inspect", "--top '%s' is not a number > 0", optarg);
			o.top = u;
			break;
		case OPT_BY:
			if (strcmp(optarg, "package") != 0)
				return lade_cli_usage_error(
				        "inspect", "--by '%s': only 'package' is known", optarg);
			o.by_package = true;
			break;
		case OPT_NO_LAYERS:
			o.layers = false;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HTML:
			if (*optarg == '\0')
				return lade_cli_usage_error("inspect", "--html needs a FILE");
			html = optarg;
			break;
		case OPT_NO_SANDBOX:
			sb = false;
			break;
		default:
			return lade_cli_help_or_usage("inspect", c);
		}
	}
	if (optind != argc - 1)
		return lade_cli_usage_error("inspect", "inspect takes one IMAGE");
	if (!o.layers && (o.top || o.by_package || html))
		return lade_cli_usage_error(
		        "inspect", "--no-layers cannot be used with --top, --by or --html");
	if (html && json)
		return lade_cli_usage_error("inspect", "--html and --json cannot be used together");
	if (html) {
		/* The page shows everything: the treemap, the distributions, the biggest files. */
		o.treemap = o.by_package = true;
		if (o.top == 0)
			o.top = 25;
	}
	if (lade_cli_sandbox(sb, LADE_SANDBOX_BUILD) < 0)
		return 1;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(json_decrefp) json_t *report = NULL;
	if (lade_inspect(argv[optind], &o, &report, &err) < 0)
		return lade_cli_error(err, 1);
	if (html) {
		_cleanup_buf_ struct lade_buf page = LADE_BUF_INIT;
		lade_inspect_html(report, &page);
		if (lade_write_file_atomic(html, page.data, page.len, &err) < 0)
			return lade_cli_error(err, 1);
		return 0;
	}
	return lade_cli_print_report(report, json, lade_inspect_format);
}
