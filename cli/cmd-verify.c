/* lade — `lade verify`: every digest, size, diff_id and tar rule of a layout. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "usage.h"

#include "lade/util.h"
#include "lade/verify.h"

/* {"layout", "ok", "problems": [listed lines], "count": all found}; the exit status. */
static int print_json(const char *layout, const struct lade_buf *problems, size_t n)
{
	json_t *list = json_array();
	for (char *line = problems->data, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line) - 1;
		json_array_append_new(list, json_stringn(line, (size_t)(nl - line)));
	}
	_cleanup_(json_decrefp) json_t *j =
	        json_pack("{s:s, s:b, s:I, s:o}", "layout", layout, "ok", n == 0, "count",
	                  (json_int_t)n, "problems", list);
	if (lade_cli_print_json(j, JSON_INDENT(2)) != 0)
		return EXIT_FAILURE;
	return n ? EXIT_FAILURE : 0;
}

/* "LAYOUT: ok" on stdout, or the problems on stderr; the exit status. */
static int print_text(const char *layout, const struct lade_verify_options *vo,
                      const struct lade_buf *problems, size_t n)
{
	if (n == 0) {
		printf("%s: ok\n", layout);
		return lade_cli_flush();
	}
	fputs(problems->data, stderr);
	size_t max = vo->max_problems ? vo->max_problems : LADE_VERIFY_MAX_PROBLEMS;
	if (n > max)
		fprintf(stderr, "... and %zu more problems\n", n - max);
	fprintf(stderr, "lade: error: %s: %zu problem%s found\n", layout, n, n == 1 ? "" : "s");
	return EXIT_FAILURE;
}

int lade_cmd_verify(int argc, char **argv)
{
	enum { OPT_MAX = 256, OPT_NO_LAYERS, OPT_NO_SANDBOX, OPT_JSON_V };
	static const struct option longopts[] = {
	        {"max-problems", required_argument, NULL, OPT_MAX},
	        {"no-layers", no_argument, NULL, OPT_NO_LAYERS},
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	        {"json", no_argument, NULL, OPT_JSON_V},
	        {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct lade_verify_options vo;
	lade_verify_options_init(&vo);
	bool quiet = false, sandbox = true, json = false;
	uint32_t u;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MAX:
			if (lade_parse_u32(optarg, 10, &u) < 0 || u == 0)
				return lade_cli_usage_error(
				        "verify", "--max-problems '%s' is not a number", optarg);
			vo.max_problems = u;
			break;
		case OPT_NO_LAYERS:
			vo.check_layers = false;
			break;
		case OPT_NO_SANDBOX:
			sandbox = false;
			break;
		case OPT_JSON_V:
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return lade_cli_help_or_usage("verify", c);
		}
	}
	if (optind != argc - 1)
		return lade_cli_usage_error("verify", "verify takes one layout DIR[:REF]");
	_cleanup_free_ char *dir = xstrdup(argv[optind]);
	/* DIR:REF as skopeo spells it; a ':' inside an existing directory name wins. */
	char *colon = strrchr(dir, ':');
	if (colon && access(dir, F_OK) != 0 && strchr(colon, '/') == NULL) {
		*colon = '\0';
		vo.ref = colon + 1;
	}
	if (lade_cli_sandbox(sandbox, LADE_SANDBOX_BUILD) < 0)
		return EXIT_FAILURE;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_buf_ struct lade_buf problems = LADE_BUF_INIT;
	size_t n = 0;
	if (lade_verify_layout(dir, &vo, &problems, &n, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);
	if (quiet)
		return n ? EXIT_FAILURE : 0;
	if (json)
		return print_json(argv[optind], &problems, n);
	return print_text(argv[optind], &vo, &problems, n);
}
