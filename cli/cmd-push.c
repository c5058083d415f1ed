/* lade — `lade push`: an image of a layout to a registry (the work is in registry/). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "registry-options.h"
#include "usage.h"

#include "lade/registry.h"
#include "lade/store.h"
#include "lade/util.h"

enum { OPT_MOUNT_FROM = OPT_REGISTRY_LAST, OPT_DIGESTFILE, OPT_CHUNK_SIZE };

/* What the push did, on stderr. */
static void print_summary(const char *ref, const struct lade_push_stats *s)
{
	char hs[32];
	fprintf(stderr,
	        "lade: pushed %s: %zu blobs uploaded (%s), %zu already present, %zu mounted, "
	        "%zu manifests\n",
	        ref, s->blobs_uploaded, lade_human_size(s->bytes_uploaded, hs, sizeof(hs)),
	        s->blobs_present, s->blobs_mounted, s->manifests);
	if (s->chunks_resumed || s->uploads_restarted)
		fprintf(stderr,
		        "lade: after failures: %zu uploads resumed where the registry stood, "
		        "%zu started again\n",
		        s->chunks_resumed, s->uploads_restarted);
	if (s->referrers_tagged)
		fprintf(stderr, "lade: the registry has no referrers API: referrers listed "
		                "under the sha256-<digest> tag\n");
}

int lade_cmd_push(int argc, char **argv)
{
	static const struct option opts[] = {
	        LADE_CLI_REGISTRY_OPTIONS,
	        {"mount-from", required_argument, NULL, OPT_MOUNT_FROM},
	        {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
	        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
	        {NULL, 0, NULL, 0},
	};
	struct lade_registry_options o = LADE_REGISTRY_OPTIONS_INIT;
	o.jobs = 4;
	struct lade_cli_registry cm = {.cmd = "push", .sandbox = true};
	const char *digestfile = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qhj:", opts, NULL)) != -1) {
		int r = lade_cli_registry_option(c, optarg, &o, &cm);
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
	if (lade_cli_registry_prepare(&cm) < 0)
		return 1;
	_cleanup_error_ struct lade_error *err = NULL;
	char digest[LADE_DIGEST_STRLEN];
	struct lade_push_stats st;
	if (lade_registry_push(image, ref, &o, digest, &st, &err) < 0)
		return lade_cli_error(err, 1);
	if (digestfile) {
		_cleanup_free_ char *line = xasprintf("%s\n", digest);
		if (lade_write_file_atomic(digestfile, line, strlen(line), &err) < 0)
			return lade_cli_error(err, 1);
	}
	if (cm.json)
		return lade_cli_registry_json(json_pack(
		        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "ref", ref, "digest",
		        digest, "blobs_uploaded", (json_int_t)st.blobs_uploaded, "bytes_uploaded",
		        (json_int_t)st.bytes_uploaded, "blobs_present",
		        (json_int_t)st.blobs_present, "blobs_mounted", (json_int_t)st.blobs_mounted,
		        "manifests", (json_int_t)st.manifests, "chunks_resumed",
		        (json_int_t)st.chunks_resumed, "uploads_restarted",
		        (json_int_t)st.uploads_restarted, "referrers_tagged", st.referrers_tagged));
	if (!cm.quiet)
		print_summary(ref, &st);
	printf("%s\n", digest);
	return lade_cli_flush();
}
