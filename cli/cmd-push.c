/* lade — the `push` and `pull` commands: arguments, output and exit codes (like main.c, a place
 * that prints). The work is in registry/registry.c. */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"
#include "lade/registry.h"
#include "lade/sandbox.h"
#include "lade/store.h"
#include "lade/util.h"

enum {
	OPT_CREDS = 256,
	OPT_TLS_VERIFY,
	OPT_CERT_DIR,
	OPT_MOUNT_FROM,
	OPT_DIGESTFILE,
	OPT_NO_SANDBOX,
	OPT_PLATFORM,
	OPT_OFFLINE,
	OPT_CHUNK_SIZE,
	OPT_JSON,
};

/* --json: the object on stdout, keys sorted, instead of the digest line. */
static int print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(2));
	json_decref(j);
	if (!s)
		return 1;
	printf("%s\n", s);
	free(s);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int fail(struct lade_error *err)
{
	const char *denied = lade_sandbox_last_denied();
	/* libcurl's multi handle asks for a socketpair to be woken up with and does without it
	 * when refused: that refusal never explains a failure */
	if (denied && strcmp(denied, "socketpair") == 0)
		denied = NULL;
	fprintf(stderr, "lade: error: %s%s%s%s\n", err ? err->msg : "unknown failure",
	        denied ? " (the sandbox refused the system call " : "", denied ? denied : "",
	        denied ? "; see lade build --explain-sandbox)" : "");
	return 1;
}

/* libcurl initialises OpenSSL (which reads its configuration) before the filter is loaded;
 * after it, only files, memory, threads and client sockets remain. */
static int prepare(bool sandbox)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lade: error: cannot initialise libcurl\n");
		return -1;
	}
	if (!sandbox || !lade_sandbox_supported())
		return 0;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_sandbox_enter(LADE_SANDBOX_NETWORK, &err) < 0) {
		fail(err);
		return -1;
	}
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!s || strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcmp(s, "yes") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcmp(s, "no") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_jobs(const char *s, unsigned *out)
{
	uint32_t j;
	if (lade_parse_u32(s, 10, &j) < 0 || j == 0 || j > 64)
		return -1;
	*out = j;
	return 0;
}

struct common {
	const char *cmd; /* "push" or "pull", for usage errors and --help */
	bool sandbox, quiet, json;
};

/* Options shared by push and pull: 1 when handled, 0 when not ours, or the exit status to
 * return at once (usage errors: 2 with the message printed; --help: 0 with the help printed)
 * as 100 + status. */
static int common_option(int c, struct lade_registry_options *o, struct common *cm)
{
	switch (c) {
	case OPT_JSON:
		cm->json = true;
		return 1;
	case OPT_CREDS:
		o->creds = optarg;
		return 1;
	case OPT_TLS_VERIFY:
		if (parse_bool(optarg, &o->tls_verify) < 0)
			return 100 +
			       lade_cli_usage_error(cm->cmd, "--tls-verify takes true or false");
		return 1;
	case OPT_CERT_DIR:
		o->cert_dir = optarg;
		return 1;
	case OPT_NO_SANDBOX:
		cm->sandbox = false;
		return 1;
	case 'j':
		if (parse_jobs(optarg, &o->jobs) < 0)
			return 100 +
			       lade_cli_usage_error(cm->cmd, "-j takes a number from 1 to 64");
		return 1;
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

#define COMMON_OPTIONS                                                                             \
	{"creds", required_argument, NULL, OPT_CREDS},                                             \
	        {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},                           \
	        {"cert-dir", required_argument, NULL, OPT_CERT_DIR},                               \
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},                                 \
	        {"json", no_argument, NULL, OPT_JSON}, {"quiet", no_argument, NULL, 'q'},          \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

int lade_cmd_push(int argc, char **argv)
{
	static const struct option opts[] = {
	        COMMON_OPTIONS,
	        {"mount-from", required_argument, NULL, OPT_MOUNT_FROM},
	        {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
	        {"jobs", required_argument, NULL, 'j'},
	        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
	        {NULL, 0, NULL, 0},
	};
	struct lade_registry_options o = LADE_REGISTRY_OPTIONS_INIT;
	o.jobs = 4;
	struct common cm = {.cmd = "push", .sandbox = true};
	const char *digestfile = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qhj:", opts, NULL)) != -1) {
		int r = common_option(c, &o, &cm);
		if (r >= 100)
			return r - 100;
		if (r > 0)
			continue;
		switch (c) {
		case OPT_MOUNT_FROM:
			o.mount_from = optarg;
			break;
		case OPT_DIGESTFILE:
			digestfile = optarg;
			break;
		case OPT_CHUNK_SIZE:
			if (lade_parse_size(optarg, &o.chunk_size) < 0 || o.chunk_size < 4096)
				return lade_cli_usage_error(
				        "push",
				        "--chunk-size takes a size of at least 4K (e.g. 16M)");
			break;
		default:
			return lade_cli_usage_error("push", "unknown option");
		}
	}
	if (argc - optind != 2)
		return lade_cli_usage_error("push", "push needs IMAGE and REF");
	const char *image = argv[optind], *ref = argv[optind + 1];
	if (prepare(cm.sandbox) < 0)
		return 1;
	_cleanup_error_ struct lade_error *err = NULL;
	char digest[LADE_DIGEST_STRLEN];
	struct lade_push_stats st;
	if (lade_registry_push(image, ref, &o, digest, &st, &err) < 0)
		return fail(err);
	if (digestfile) {
		_cleanup_free_ char *line = xasprintf("%s\n", digest);
		if (lade_write_file_atomic(digestfile, line, strlen(line), &err) < 0)
			return fail(err);
	}
	if (cm.json)
		return print_json(json_pack(
		        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "ref", ref, "digest",
		        digest, "blobs_uploaded", (json_int_t)st.blobs_uploaded, "bytes_uploaded",
		        (json_int_t)st.bytes_uploaded, "blobs_present",
		        (json_int_t)st.blobs_present, "blobs_mounted", (json_int_t)st.blobs_mounted,
		        "manifests", (json_int_t)st.manifests, "chunks_resumed",
		        (json_int_t)st.chunks_resumed, "uploads_restarted",
		        (json_int_t)st.uploads_restarted, "referrers_tagged", st.referrers_tagged));
	if (!cm.quiet) {
		char hs[32];
		fprintf(stderr,
		        "lade: pushed %s: %zu blobs uploaded (%s), %zu already present, %zu "
		        "mounted, "
		        "%zu manifests\n",
		        ref, st.blobs_uploaded, lade_human_size(st.bytes_uploaded, hs, sizeof(hs)),
		        st.blobs_present, st.blobs_mounted, st.manifests);
		if (st.chunks_resumed || st.uploads_restarted)
			fprintf(stderr,
			        "lade: after failures: %zu uploads resumed where the registry "
			        "stood, "
			        "%zu started again\n",
			        st.chunks_resumed, st.uploads_restarted);
		if (st.referrers_tagged)
			fprintf(stderr, "lade: the registry has no referrers API: referrers listed "
			                "under the sha256-<digest> tag\n");
	}
	printf("%s\n", digest);
	return fflush(stdout) == 0 ? 0 : 1;
}

int lade_cmd_pull(int argc, char **argv)
{
	static const struct option opts[] = {
	        COMMON_OPTIONS,
	        {"output", required_argument, NULL, 'o'},
	        {"platform", required_argument, NULL, OPT_PLATFORM},
	        {"offline", no_argument, NULL, OPT_OFFLINE},
	        {"jobs", required_argument, NULL, 'j'},
	        {NULL, 0, NULL, 0},
	};
	struct lade_registry_options o = LADE_REGISTRY_OPTIONS_INIT;
	o.jobs = 4;
	struct common cm = {.cmd = "pull", .sandbox = true};
	const char *out = NULL, *platform = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qho:j:", opts, NULL)) != -1) {
		int r = common_option(c, &o, &cm);
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
	if (prepare(cm.sandbox) < 0)
		return 1;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_free_ char *dir = out ? xstrdup(out) : lade_store_default_dir(&err);
	if (!dir)
		return fail(err);
	char digest[LADE_DIGEST_STRLEN];
	if (lade_registry_pull_ex(ref, platform, dir, true, &o, digest, &err) < 0)
		return fail(err);
	if (cm.json)
		return print_json(
		        json_pack("{s:s, s:s, s:s}", "ref", ref, "digest", digest, "layout", dir));
	if (!cm.quiet)
		fprintf(stderr, "lade: pulled %s into %s\n", ref, dir);
	printf("%s\n", digest);
	return fflush(stdout) == 0 ? 0 : 1;
}
