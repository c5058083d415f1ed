/* lade — push and pull's shared options (see registry-options.h). */
#include <curl/curl.h>
#include <stdio.h>

#include "cli.h"
#include "registry-options.h"
#include "usage.h"

int lade_cli_registry_option(int c, const char *arg, struct lade_registry_options *o,
                             struct lade_cli_registry *cm)
{
	int rc;
	switch (c) {
	case OPT_JSON:
		cm->json = true;
		return 1;
	case OPT_CREDS:
		o->creds = arg;
		return 1;
	case OPT_TLS_VERIFY:
		rc = lade_cli_parse_bool(cm->cmd, "tls-verify", arg, &o->tls_verify);
		return rc ? 100 + rc : 1;
	case OPT_CERT_DIR:
		o->cert_dir = arg;
		return 1;
	case OPT_NO_SANDBOX:
		cm->sandbox = false;
		return 1;
	case 'j':
		rc = lade_cli_parse_jobs(cm->cmd, arg, &o->jobs);
		return rc ? 100 + rc : 1;
	case 'q':
		cm->quiet = true;
		return 1;
	case 'h':
		lade_cli_usage(stdout, lade_cli_command_find(cm->cmd));
		return 100;
	default:
		return 0;
	}
}

/* libcurl initialises OpenSSL (which reads its configuration) before the filter is loaded;
 * after it, only files, memory, threads and client sockets remain. */
int lade_cli_registry_prepare(const struct lade_cli_registry *cm)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lade: error: cannot initialise libcurl\n");
		return -1;
	}
	return lade_cli_sandbox(cm->sandbox, LADE_SANDBOX_NETWORK);
}

int lade_cli_registry_json(json_t *j)
{
	int rc = lade_cli_print_json(j, JSON_INDENT(2));
	json_decref(j);
	return rc;
}
