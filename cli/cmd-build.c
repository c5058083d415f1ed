/* lade — `lade build`: options, progress on stderr, the digest lines or --json on stdout. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "cli.h"
#include "usage.h"

#include "lade/build.h"
#include "lade/registry.h"
#include "lade/sandbox.h"
#include "lade/sbom.h"
#include "lade/util.h"

/* What the build's events become on stderr. The routine ones (layers, bases, variants,
 * platforms, the python target) are for a person watching: shown on a terminal or with
 * --progress, with the time each step took and the rate a layer was written at. Notes are
 * about the input (an ignored lock file option) and are always shown, -q aside. */
struct progress {
	bool routine;
	bool tty;
	struct timespec start, last;
};

static double seconds_since(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) + (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_note(const struct lade_build_event *ev)
{
	char h[32];
	if (ev->kind == LADE_BUILD_EVENT_PUSHED)
		fprintf(stderr,
		        "lade: note: pushed %s %s (%zu blobs uploaded, %s; %zu already there)\n",
		        ev->name, ev->digest, ev->push->blobs_uploaded,
		        lade_human_size(ev->push->bytes_uploaded, h, sizeof(h)),
		        ev->push->blobs_present);
	else
		fprintf(stderr, "lade: note: %s\n", ev->text);
}

/* "layer i/n NAME: N entries, 1.5 MiB -> 0.4 MiB sha256:… in 0.1s (15.0 MiB/s)" */
static void print_layer(const struct progress *pr, const struct lade_build_event *ev, double dt)
{
	char in[32], out[32], rate[32] = "";
	/* A layer taken from the cache was not written: no rate. */
	if (dt > 0.0005 && !ev->reused)
		lade_human_size((uint64_t)((double)ev->bytes_in / dt), rate, sizeof(rate));
	/* A terminal line stays short: the whole digest is in the output and in --json. */
	const char *hex = ev->digest + strlen("sha256:");
	fprintf(stderr,
	        "lade: layer %zu/%zu %s: %zu entries, %s -> %s sha256:%.*s%s%s in %.1fs%s%s%s\n",
	        ev->index, ev->count, ev->name, ev->entries,
	        lade_human_size(ev->bytes_in, in, sizeof(in)),
	        lade_human_size(ev->bytes_out, out, sizeof(out)), pr->tty ? 12 : 64, hex,
	        pr->tty ? "…" : "", ev->reused ? " (reused from the cache)" : "", dt,
	        *rate ? " (" : "", rate, *rate ? "/s)" : "");
}

static void progress_stderr(void *ctx, const struct lade_build_event *ev)
{
	struct progress *pr = ctx;
	if (ev->kind == LADE_BUILD_EVENT_NOTE || ev->kind == LADE_BUILD_EVENT_PUSHED) {
		print_note(ev);
		return;
	}
	if (!pr->routine)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = seconds_since(&pr->last, &now);
	pr->last = now;
	switch (ev->kind) {
	case LADE_BUILD_EVENT_LAYER:
		print_layer(pr, ev, dt);
		break;
	case LADE_BUILD_EVENT_BASE:
		fprintf(stderr, "lade: base %s: %zu layer%s, %zu paths\n", ev->name, ev->count,
		        ev->count == 1 ? "" : "s", ev->entries);
		break;
	case LADE_BUILD_EVENT_VARIANT:
		fprintf(stderr, "lade: variant %s\n", ev->name);
		break;
	case LADE_BUILD_EVENT_PLATFORM:
		fprintf(stderr, "lade: platform %s\n", ev->name);
		break;
	case LADE_BUILD_EVENT_PYTHON_TARGET:
		fprintf(stderr, "lade: python target %s\n", ev->text);
		break;
	default:
		break;
	}
}

static json_t *report_json(const struct lade_build_report *r)
{
	json_t *images = json_array();
	for (size_t i = 0; i < r->n_images; i++) {
		const struct lade_build_image *im = &r->images[i];
		json_t *layers = json_array();
		for (size_t j = 0; j < im->n_layers; j++) {
			const struct lade_build_layer *l = &im->layers[j];
			json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:b, s:s?}", "digest",
			                      l->digest, "diff_id", l->diff_id, "size",
			                      (json_int_t)l->size, "media_type", l->media_type,
			                      "comment", l->comment, "from_base", l->from_base,
			                      "reused", l->reused, "compressor", l->compressor);
			json_array_append_new(layers, o);
		}
		json_t *o = json_pack(
		        "{s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "ref", im->ref, "layout", r->layout,
		        "digest", im->digest, "config", im->config_digest, "manifest_size",
		        (json_int_t)im->manifest_size, "platform", im->platform, "layers", layers);
		if (im->variant)
			json_object_set_new(o, "variant", json_string(im->variant));
		json_array_append_new(images, o);
	}
	json_t *refs = json_array();
	for (size_t i = 0; i < r->n_refs; i++) {
		const struct lade_build_ref *br = &r->refs[i];
		json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "ref", br->name, "digest", br->digest,
		                      "size", (json_int_t)br->size, "media_type",
		                      br->is_index ? "application/vnd.oci.image.index.v1+json"
		                                   : "application/vnd.oci.image.manifest.v1+json");
		if (br->variant)
			json_object_set_new(o, "variant", json_string(br->variant));
		json_array_append_new(refs, o);
	}
	return json_pack("{s:o, s:o, s:s}", "images", images, "refs", refs, "layout", r->layout);
}

int lade_cmd_build(int argc, char **argv)
{
	enum {
		OPT_VARIANT = 256,
		OPT_COMPRESSION,
		OPT_LEVEL,
		OPT_JSON,
		OPT_LOCK_TIMEOUT,
		OPT_NO_SANDBOX,
		OPT_EXPLAIN_SANDBOX,
		OPT_ANNOTATION,
		OPT_FORMAT,
		OPT_PROGRESS,
		OPT_SBOM,
		OPT_SBOM_OUT,
		OPT_PUSH,
		OPT_OFFLINE,
		OPT_ALLOW_UNPINNED,
		OPT_CREDS,
		OPT_TLS_VERIFY,
		OPT_CACHE,
		OPT_NO_CACHE,
	};
	static const struct option longopts[] = {
	        {"output", required_argument, NULL, 'o'},
	        {"tag", required_argument, NULL, 't'},
	        {"variant", required_argument, NULL, OPT_VARIANT},
	        {"compression", required_argument, NULL, OPT_COMPRESSION},
	        {"level", required_argument, NULL, OPT_LEVEL},
	        {"jobs", required_argument, NULL, 'j'},
	        {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"annotation", required_argument, NULL, OPT_ANNOTATION},
	        {"format", required_argument, NULL, OPT_FORMAT},
	        {"gzip-level", required_argument, NULL, OPT_LEVEL},
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	        {"explain-sandbox", no_argument, NULL, OPT_EXPLAIN_SANDBOX},
	        {"progress", no_argument, NULL, OPT_PROGRESS},
	        {"sbom", required_argument, NULL, OPT_SBOM},
	        {"sbom-out", required_argument, NULL, OPT_SBOM_OUT},
	        {"push", required_argument, NULL, OPT_PUSH},
	        {"offline", no_argument, NULL, OPT_OFFLINE},
	        {"allow-unpinned-base", no_argument, NULL, OPT_ALLOW_UNPINNED},
	        {"creds", required_argument, NULL, OPT_CREDS},
	        {"tls-verify", required_argument, NULL, OPT_TLS_VERIFY},
	        {"cache", required_argument, NULL, OPT_CACHE},
	        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
	        {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct progress pr = {.tty = isatty(STDERR_FILENO) == 1};
	pr.routine = pr.tty;
	clock_gettime(CLOCK_MONOTONIC, &pr.start);
	pr.last = pr.start;
	struct lade_build_options o = {
	        .level = -1,
	        .jobs = ncpu > 0 ? (int)ncpu : 1,
	        .lock_timeout_s = 60,
	        .progress = progress_stderr,
	        .progress_ctx = &pr,
	};
	_cleanup_strv_ char **variants = NULL;
	_cleanup_strv_ char **annotations = NULL;
	bool json = false, sandbox = true;
	uint32_t u;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:t:j:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.output_dir = optarg;
			break;
		case 't':
			if (*optarg == '\0')
				return lade_cli_usage_error("build", "--tag must not be empty");
			o.tag = optarg;
			break;
		case OPT_VARIANT:
			lade_strv_push(&variants, optarg);
			break;
		case OPT_COMPRESSION:
			o.compression = optarg;
			break;
		case OPT_LEVEL:
			if (lade_parse_u32(optarg, 10, &u) < 0 || u > 22)
				return lade_cli_usage_error("build", "--level '%s' is not a level",
				                            optarg);
			o.level = (int)u;
			break;
		case 'j': {
			unsigned jobs;
			if (lade_cli_parse_jobs("build", optarg, &jobs) != 0)
				return LADE_EXIT_USAGE;
			o.jobs = (int)jobs;
			break;
		}
		case OPT_LOCK_TIMEOUT:
			if (lade_parse_u32(optarg, 10, &u) < 0)
				return lade_cli_usage_error(
				        "build", "--lock-timeout '%s' is not a number", optarg);
			o.lock_timeout_s = (int)u;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_NO_SANDBOX:
			sandbox = false;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "oci") != 0 && strcmp(optarg, "oci-archive") != 0 &&
			    strcmp(optarg, "docker-archive") != 0)
				return lade_cli_usage_error(
				        "build",
				        "--format '%s' is not oci, oci-archive or docker-archive",
				        optarg);
			o.format = optarg;
			break;
		case OPT_ANNOTATION:
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				return lade_cli_usage_error(
				        "build", "--annotation '%s' is not KEY=VALUE", optarg);
			lade_strv_push(&annotations, optarg);
			break;
		case OPT_EXPLAIN_SANDBOX: {
			_cleanup_error_ struct lade_error *err = NULL;
			_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
			if (lade_sandbox_explain(LADE_SANDBOX_BUILD, &b, &err) < 0)
				return lade_cli_error(err, EXIT_FAILURE);
			fputs(b.data, stdout);
			return 0;
		}
		case OPT_PROGRESS:
			pr.routine = true;
			break;
		case OPT_SBOM: {
			enum lade_sbom_format f;
			if (lade_sbom_parse_format(optarg, &f, NULL) < 0)
				return lade_cli_usage_error(
				        "build", "--sbom '%s' is not spdx or cyclonedx", optarg);
			o.sbom = optarg;
			break;
		}
		case OPT_SBOM_OUT:
			o.sbom_out = optarg;
			break;
		case OPT_PUSH:
			o.push = optarg;
			break;
		case OPT_CACHE:
			o.cache_dir = optarg;
			break;
		case OPT_NO_CACHE:
			o.no_cache = true;
			break;
		case OPT_OFFLINE:
			o.offline = true;
			break;
		case OPT_ALLOW_UNPINNED:
			o.allow_unpinned_base = true;
			break;
		case OPT_CREDS:
			if (strchr(optarg, ':') == NULL)
				return lade_cli_usage_error("build", "--creds must be USER:PASS");
			o.creds = optarg;
			break;
		case OPT_TLS_VERIFY: {
			bool verify;
			if (lade_cli_parse_bool("build", "tls-verify", optarg, &verify) != 0)
				return LADE_EXIT_USAGE;
			o.tls_verify_off = !verify;
			break;
		}
		case 'q':
			o.progress = NULL;
			break;
		case 'h':
			lade_cli_usage(stdout, lade_cli_command_find("build"));
			return 0;
		default:
			lade_cli_usage(stderr, lade_cli_command_find("build"));
			return LADE_EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return lade_cli_usage_error("build", optind >= argc ? "build needs a RECIPE"
		                                                    : "build takes one RECIPE");
	o.recipe_path = argv[optind];
	o.variants = variants;
	o.annotations = annotations;
	if (o.sbom_out && !o.sbom)
		return lade_cli_usage_error("build", "--sbom-out needs --sbom spdx|cyclonedx");
	/* Sockets only when this build needs them (a registry base or --push); libcurl is
	 * initialised before the filter, as it reads its configuration then. */
	bool network = false;
	{
		_cleanup_error_ struct lade_error *nerr = NULL;
		if (lade_build_needs_network(&o, &network, &nerr) < 0)
			return lade_cli_error(nerr, EXIT_FAILURE);
	}
	if (network && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lade: error: cannot initialise libcurl\n");
		return EXIT_FAILURE;
	}
	if (lade_cli_sandbox(sandbox, network ? LADE_SANDBOX_NETWORK : LADE_SANDBOX_BUILD) < 0)
		return EXIT_FAILURE;

	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_build_report_freep) struct lade_build_report *rep = NULL;
	if (lade_build_run(&o, &rep, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);

	if (o.progress && pr.routine) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "lade: %zu image%s in %.1fs\n", rep->n_images,
		        rep->n_images == 1 ? "" : "s", seconds_since(&pr.start, &now));
	}
	if (json) {
		_cleanup_(json_decrefp) json_t *j = report_json(rep);
		return lade_cli_print_json(j, JSON_INDENT(2));
	}
	for (size_t i = 0; i < rep->n_refs; i++)
		printf("%s %s:%s\n", rep->refs[i].digest, rep->layout, rep->refs[i].name);
	return lade_cli_flush();
}
