/* lade — the options push and pull share (--creds, --tls-verify, --cert-dir, -j, --json, -q,
 * --no-sandbox), their parsing and the network sandbox they run in. */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "lade/registry.h"

enum {
	OPT_CREDS = 256,
	OPT_TLS_VERIFY,
	OPT_CERT_DIR,
	OPT_NO_SANDBOX,
	OPT_JSON,
	OPT_REGISTRY_LAST, /* the command's own options start here */
};

/* clang-format 14 and 19 lay out a braced macro differently: */
/* clang-format off */
#define LADE_CLI_REGISTRY_OPTIONS                                                                  \
	{"creds", required_argument, NULL, OPT_CREDS},                                             \
	{"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},                                   \
	{"cert-dir", required_argument, NULL, OPT_CERT_DIR},                                       \
	{"jobs", required_argument, NULL, 'j'},                                                    \
	{"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},                                         \
	{"json", no_argument, NULL, OPT_JSON},                                                     \
	{"quiet", no_argument, NULL, 'q'},                                                         \
	{"help", no_argument, NULL, 'h'}
/* clang-format on */

struct lade_cli_registry {
	const char *cmd; /* "push" or "pull", for usage errors and --help */
	bool sandbox, quiet, json;
};

/* Options shared by push and pull: 1 when handled, 0 when not ours, or the exit status to
 * return at once (usage errors: 2 with the message printed; --help: 0 with the help printed)
 * as 100 + status. */
int lade_cli_registry_option(int c, const char *arg, struct lade_registry_options *o,
                             struct lade_cli_registry *cm);

/* libcurl initialised, then the network sandbox entered (lade_cli_sandbox's policy). 0 or -1
 * (printed). */
int lade_cli_registry_prepare(const struct lade_cli_registry *cm);

/* --json: J (stolen) on stdout, keys sorted, instead of the digest line; the exit status. */
int lade_cli_registry_json(json_t *j);
