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
	if (ev->registry) { /* neither built nor read: only the blob's size is known */
		fprintf(stderr,
		        "lade: layer %zu/%zu %s: %s sha256:%.*s%s (from the registry cache) in "
		        "%.1fs\n",
		        ev->index, ev->count, ev->name,
		        lade_human_size(ev->bytes_out, out, sizeof(out)), pr->tty ? 12 : 64, hex,
		        pr->tty ? "…" : "", dt);
		return;
	}
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
		bool lazy = false;
		uint64_t prefetch = 0, lazy_size = 0;
		for (size_t j = 0; j < im->n_layers; j++) {
			const struct lade_build_layer *l = &im->layers[j];
			json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:b, s:s?}", "digest",
			                      l->digest, "diff_id", l->diff_id, "size",
			                      (json_int_t)l->size, "media_type", l->media_type,
			                      "comment", l->comment, "from_base", l->from_base,
			                      "reused", l->reused, "compressor", l->compressor);
			if (l->toc_digest[0]) {
				json_object_set_new(o, "toc_digest", json_string(l->toc_digest));
				json_object_set_new(o, "prefetch_bytes",
				                    json_integer((json_int_t)l->prefetch_bytes));
				lazy = true;
				prefetch += l->prefetch_bytes;
				lazy_size += l->size;
			}
			json_array_append_new(layers, o);
		}
		json_t *o = json_pack(
		        "{s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "ref", im->ref, "layout", r->layout,
		        "digest", im->digest, "config", im->config_digest, "manifest_size",
		        (json_int_t)im->manifest_size, "platform", im->platform, "layers", layers);
		if (im->variant)
			json_object_set_new(o, "variant", json_string(im->variant));
		if (lazy) /* the eStargz layers' bytes before their landmarks, and their sizes */
			json_object_set_new(o, "lazy",
			                    json_pack("{s:I, s:I}", "prefetch_bytes",
			                              (json_int_t)prefetch, "bytes",
			                              (json_int_t)lazy_size));
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

enum {
	OPT_VARIANT = 256,
	OPT_COMPRESSION,
	OPT_LAZY,
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
	OPT_ALLOW_OUTSIDE_CONTEXT,
	OPT_CREDS,
	OPT_TLS_VERIFY,
	OPT_CACHE,
	OPT_NO_CACHE,
	OPT_LINK_BLOBS,
	OPT_MAX_SIZE,
	OPT_PUSH_ONLY,
	OPT_CACHE_FROM,
	OPT_CACHE_TO,
};

static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"tag", required_argument, NULL, 't'},
        {"variant", required_argument, NULL, OPT_VARIANT},
        {"compression", required_argument, NULL, OPT_COMPRESSION},
        {"lazy", required_argument, NULL, OPT_LAZY},
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
        {"allow-outside-context", no_argument, NULL, OPT_ALLOW_OUTSIDE_CONTEXT},
        {"creds", required_argument, NULL, OPT_CREDS},
        {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"link-blobs", no_argument, NULL, OPT_LINK_BLOBS},
        {"max-size", required_argument, NULL, OPT_MAX_SIZE},
        {"push-only", no_argument, NULL, OPT_PUSH_ONLY},
        {"cache-from", required_argument, NULL, OPT_CACHE_FROM},
        {"cache-to", required_argument, NULL, OPT_CACHE_TO},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

struct args {
	struct lade_build_options o;
	char **variants, **annotations, **cache_from; /* owned */
	bool json, sandbox;
	struct progress pr;
};

enum { NEXT = -1 }; /* an option handled: go on parsing */

/* Options with a value to check: NEXT, or the exit status of a usage error. */
static int value_option(int c, const char *arg, struct args *a)
{
	uint32_t u;
	unsigned jobs;
	bool verify;
	enum lade_sbom_format f;
	switch (c) {
	case 't':
		if (*arg == '\0')
			return lade_cli_usage_error("build", "--tag must not be empty");
		a->o.tag = arg;
		return NEXT;
	case OPT_LEVEL:
		if (lade_parse_u32(arg, 10, &u) < 0 || u > 22)
			return lade_cli_usage_error("build", "--level '%s' is not a level", arg);
		a->o.level = (int)u;
		return NEXT;
	case 'j':
		if (lade_cli_parse_jobs("build", arg, &jobs) != 0)
			return LADE_EXIT_USAGE;
		a->o.jobs = (int)jobs;
		return NEXT;
	case OPT_LOCK_TIMEOUT:
		if (lade_parse_u32(arg, 10, &u) < 0)
			return lade_cli_usage_error("build", "--lock-timeout '%s' is not a number",
			                            arg);
		a->o.lock_timeout_s = (int)u;
		return NEXT;
	case OPT_FORMAT:
		if (strcmp(arg, "oci") != 0 && strcmp(arg, "oci-archive") != 0 &&
		    strcmp(arg, "docker-archive") != 0)
			return lade_cli_usage_error(
			        "build", "--format '%s' is not oci, oci-archive or docker-archive",
			        arg);
		a->o.format = arg;
		return NEXT;
	case OPT_ANNOTATION:
		if (strchr(arg, '=') == NULL || arg[0] == '=')
			return lade_cli_usage_error("build", "--annotation '%s' is not KEY=VALUE",
			                            arg);
		lade_strv_push(&a->annotations, arg);
		return NEXT;
	case OPT_SBOM:
		if (lade_sbom_parse_format(arg, &f, NULL) < 0)
			return lade_cli_usage_error("build", "--sbom '%s' is not spdx or cyclonedx",
			                            arg);
		a->o.sbom = arg;
		return NEXT;
	case OPT_MAX_SIZE:
		if (lade_parse_size(arg, &a->o.max_size) < 0 || a->o.max_size == 0)
			return lade_cli_usage_error(
			        "build", "--max-size '%s' is not a size > 0 (like 500MB or 1.5GiB)",
			        arg);
		a->o.max_size_text = arg;
		return NEXT;
	case OPT_CREDS:
		if (strchr(arg, ':') == NULL)
			return lade_cli_usage_error("build", "--creds must be USER:PASS");
		a->o.creds = arg;
		return NEXT;
	case OPT_TLS_VERIFY:
		if (lade_cli_parse_bool("build", "tls-verify", arg, &verify) != 0)
			return LADE_EXIT_USAGE;
		a->o.tls_verify_off = !verify;
		return NEXT;
	default:
		return lade_cli_help_or_usage("build", c);
	}
}

/* One option: NEXT, or the exit status to return (usage errors, --help, --explain-sandbox). */
static int build_option(int c, const char *arg, struct args *a)
{
	switch (c) {
	case 'o':
		a->o.output_dir = arg;
		return NEXT;
	case OPT_VARIANT:
		lade_strv_push(&a->variants, arg);
		return NEXT;
	case OPT_COMPRESSION:
		a->o.compression = arg;
		return NEXT;
	case OPT_LAZY:
		a->o.lazy = arg;
		return NEXT;
	case OPT_JSON:
		a->json = true;
		return NEXT;
	case OPT_NO_SANDBOX:
		a->sandbox = false;
		return NEXT;
	case OPT_PROGRESS:
		a->pr.routine = true;
		return NEXT;
	case OPT_SBOM_OUT:
		a->o.sbom_out = arg;
		return NEXT;
	case OPT_PUSH:
		a->o.push = arg;
		return NEXT;
	case OPT_PUSH_ONLY:
		a->o.push_only = true;
		return NEXT;
	case OPT_CACHE_FROM:
		lade_strv_push(&a->cache_from, arg);
		return NEXT;
	case OPT_CACHE_TO:
		a->o.cache_to = arg;
		return NEXT;
	case OPT_CACHE:
		a->o.cache_dir = arg;
		return NEXT;
	case OPT_NO_CACHE:
		a->o.no_cache = true;
		return NEXT;
	case OPT_LINK_BLOBS:
		a->o.link_blobs = true;
		return NEXT;
	case OPT_OFFLINE:
		a->o.offline = true;
		return NEXT;
	case OPT_ALLOW_UNPINNED:
		a->o.allow_unpinned_base = true;
		return NEXT;
	case OPT_ALLOW_OUTSIDE_CONTEXT:
		a->o.allow_outside_context = true;
		return NEXT;
	case 'q':
		a->o.progress = NULL;
		return NEXT;
	case OPT_EXPLAIN_SANDBOX: {
		_cleanup_error_ struct lade_error *err = NULL;
		_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
		if (lade_sandbox_explain(LADE_SANDBOX_BUILD, &b, &err) < 0)
			return lade_cli_error(err, EXIT_FAILURE);
		fputs(b.data, stdout);
		return 0;
	}
	default:
		return value_option(c, arg, a);
	}
}

/* Sockets only when this build needs them (a registry base or --push); libcurl is
 * initialised before the filter, as it reads its configuration then. */
static int enter_sandbox(const struct args *a)
{
	bool network = false;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_build_needs_network(&a->o, &network, &err) < 0) {
		lade_cli_error(err, EXIT_FAILURE);
		return -1;
	}
	if (network && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lade: error: cannot initialise libcurl\n");
		return -1;
	}
	return lade_cli_sandbox(a->sandbox, network ? LADE_SANDBOX_NETWORK : LADE_SANDBOX_BUILD);
}

static int run(struct args *a)
{
	_cleanup_error_ struct lade_error *err = NULL;
	/* The bytecode helpers are the only programs lade runs: started before the sandbox
	 * closes execve (each in a sandbox of its own). */
	_cleanup_(lade_build_compilers_freep) struct lade_build_compilers *compilers = NULL;
	if (lade_build_start_compilers(&a->o, &compilers, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);
	a->o.compilers = compilers;
	if (enter_sandbox(a) < 0)
		return EXIT_FAILURE;
	_cleanup_(lade_build_report_freep) struct lade_build_report *rep = NULL;
	if (lade_build_run(&a->o, &rep, &err) < 0)
		return lade_cli_error(err, EXIT_FAILURE);

	if (a->o.progress && a->pr.routine) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "lade: %zu image%s in %.1fs\n", rep->n_images,
		        rep->n_images == 1 ? "" : "s", seconds_since(&a->pr.start, &now));
	}
	if (a->json) {
		_cleanup_(json_decrefp) json_t *j = report_json(rep);
		return lade_cli_print_json(j, JSON_INDENT(2));
	}
	for (size_t i = 0; i < rep->n_refs; i++) {
		if (a->o.push_only && rep->n_refs == 1) /* the pushed reference itself */
			printf("%s %s\n", rep->refs[i].digest, a->o.push);
		else
			printf("%s %s:%s\n", rep->refs[i].digest, rep->layout, rep->refs[i].name);
	}
	return lade_cli_flush();
}

int lade_cmd_build(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct args a = {
	        .o = {.level = -1,
	              .jobs = ncpu > 0 ? (int)ncpu : 1,
	              .lock_timeout_s = 60,
	              .progress = progress_stderr},
	        .sandbox = true,
	        .pr = {.tty = isatty(STDERR_FILENO) == 1},
	};
	a.o.progress_ctx = &a.pr;
	a.pr.routine = a.pr.tty;
	clock_gettime(CLOCK_MONOTONIC, &a.pr.start);
	a.pr.last = a.pr.start;
	int c, rc = NEXT;
	optind = 1;
	while (rc == NEXT && (c = getopt_long(argc, argv, "o:t:j:qh", longopts, NULL)) != -1)
		rc = build_option(c, optarg, &a);
	if (rc == NEXT && optind != argc - 1)
		rc = lade_cli_usage_error("build", optind >= argc ? "build needs a RECIPE"
		                                                  : "build takes one RECIPE");
	if (rc == NEXT && a.o.sbom_out && !a.o.sbom)
		rc = lade_cli_usage_error("build", "--sbom-out needs --sbom spdx|cyclonedx");
	if (rc == NEXT && a.o.push_only && !a.o.push)
		rc = lade_cli_usage_error("build", "--push-only needs --push REF");
	if (rc == NEXT && a.o.push_only && a.o.output_dir)
		rc = lade_cli_usage_error("build", "--push-only writes no output: drop -o");
	if (rc == NEXT) {
		a.o.recipe_path = argv[optind];
		a.o.variants = a.variants;
		a.o.annotations = a.annotations;
		a.o.cache_from = a.cache_from;
		rc = run(&a);
	}
	lade_strv_free(a.cache_from);
	lade_strv_free(a.variants);
	lade_strv_free(a.annotations);
	return rc;
}
