/* lade — the `inspect` and `diff` commands: arguments, output and exit codes (like main.c, a
 * place that prints). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"
#include "lade/inspect.h"
#include "lade/sandbox.h"
#include "lade/util.h"

enum { OPT_JSON = 256, OPT_TOP, OPT_BY, OPT_NO_LAYERS, OPT_NO_SANDBOX };

static int fail(struct lade_error *err, int status)
{
	const char *denied = lade_sandbox_last_denied();
	fprintf(stderr, "lade: error: %s%s%s%s\n", err ? err->msg : "unknown failure",
	        denied ? " (the sandbox refused the system call " : "", denied ? denied : "",
	        denied ? ")" : "");
	return status;
}

static int sandbox(bool enabled, int status)
{
	if (!enabled || !lade_sandbox_supported())
		return 0;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_sandbox_enter(LADE_SANDBOX_BUILD, &err) < 0) {
		fail(err, status);
		return -1;
	}
	return 0;
}

static int print(const json_t *j, bool json, void (*format)(const json_t *, struct lade_buf *))
{
	if (json) {
		char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
		puts(s);
		free(s);
	} else {
		_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
		format(j, &b);
		fputs(b.data, stdout);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "lade: error: cannot write to standard output: %s\n",
		        strerror(errno));
		return -1;
	}
	return 0;
}

int lade_cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"top", required_argument, NULL, OPT_TOP},
	        {"by", required_argument, NULL, OPT_BY},
	        {"no-layers", no_argument, NULL, OPT_NO_LAYERS},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct lade_inspect_options o = {.layers = true};
	bool json = false, sb = true;
	uint32_t u;
	int c;
	optind = 1;
	argv[0] = (char *)"lade"; /* getopt's own messages start with argv[0] */
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
		case OPT_NO_SANDBOX:
			sb = false;
			break;
		case 'h':
			lade_cli_usage(stdout, lade_cli_command_find("inspect"));
			return 0;
		default:
			lade_cli_usage(stderr, lade_cli_command_find("inspect"));
			return 2;
		}
	}
	if (optind != argc - 1)
		return lade_cli_usage_error("inspect", "inspect takes one IMAGE");
	if (!o.layers && (o.top || o.by_package))
		return lade_cli_usage_error("inspect",
		                            "--no-layers cannot be used with --top or --by");
	if (sandbox(sb, 1) < 0)
		return 1;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(json_decrefp) json_t *report = NULL;
	if (lade_inspect(argv[optind], &o, &report, &err) < 0)
		return fail(err, 1);
	return print(report, json, lade_inspect_format) < 0 ? 1 : 0;
}

int lade_cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"json", no_argument, NULL, OPT_JSON},
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	bool json = false, sb = true;
	int c;
	optind = 1;
	argv[0] = (char *)"lade";
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_NO_SANDBOX:
			sb = false;
			break;
		case 'h':
			lade_cli_usage(stdout, lade_cli_command_find("diff"));
			return 0;
		default:
			lade_cli_usage(stderr, lade_cli_command_find("diff"));
			return 2;
		}
	}
	if (optind != argc - 2)
		return lade_cli_usage_error("diff", "diff takes two images IMAGE_A IMAGE_B");
	if (sandbox(sb, 2) < 0)
		return 2;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(json_decrefp) json_t *report = NULL;
	bool different = false;
	if (lade_diff(argv[optind], argv[optind + 1], &report, &different, &err) < 0)
		return fail(err, 2);
	if (print(report, json, lade_diff_format) < 0)
		return 2;
	return different ? 1 : 0;
}
