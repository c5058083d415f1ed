/* lade — command line: argument parsing, output and exit codes. The only place that prints
 * or exits. */
#include <errno.h>
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "usage.h"

#include "lade/build.h"
#include "lade/inspect.h"
#include "lade/registry.h"
#include "lade/sandbox.h"
#include "lade/sbom.h"
#include "lade/util.h"
#include "lade/verify.h"

enum { EXIT_USAGE = 2 };

static void usage(FILE *f, const char *cmd)
{
	lade_cli_usage(f, lade_cli_command_find(cmd));
}

static int report_error(struct lade_error *err)
{
	const char *denied = lade_sandbox_last_denied();
	fprintf(stderr, "lade: error: %s%s%s%s\n", err ? err->msg : "unknown failure",
	        denied ? " (the sandbox refused the system call " : "", denied ? denied : "",
	        denied ? "; see lade build --explain-sandbox)" : "");
	return EXIT_FAILURE;
}

/* Enter the seccomp sandbox unless told not to: from here on lade cannot run programs, open
 * sockets or change ownership, whatever a hostile wheel or base layer makes it do. */
static int enter_sandbox(bool enabled, enum lade_sandbox_phase phase)
{
	if (!enabled)
		return 0;
	if (!lade_sandbox_supported()) {
		fprintf(stderr, "lade: error: this kernel has no seccomp filter support; run with "
		                "--no-sandbox to build without the sandbox\n");
		return -1;
	}
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_sandbox_enter(phase, &err) < 0) {
		report_error(err);
		return -1;
	}
#ifdef LADE_TEST_HOOKS
	/* Only in builds configured with -Dtest_hooks=true: prove the filter holds in the real
	 * binary by attempting what a hostile input would want, right after entering it. */
	const char *hook = getenv("LADE_TEST_HOOK");
	if (hook && strcmp(hook, "execve") == 0) {
		char *const argv[] = {(char *)"/bin/true", NULL};
		execve("/bin/true", argv, environ);
		lade_error_set(&err, errno, "test hook: execve /bin/true");
		report_error(err);
		return -1;
	}
	if (hook && strcmp(hook, "socket") == 0) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0) {
			close(fd);
			fprintf(stderr, "lade: error: test hook: socket was allowed\n");
			return -1;
		}
		lade_error_set(&err, errno, "test hook: socket");
		report_error(err);
		return -1;
	}
#endif
	return 0;
}

/* What the build's progress lines become on stderr. The routine lines (layers, bases,
 * variants, platforms, the python target) are for a person watching: shown on a terminal or
 * with --progress, with the time each step took and the rate a layer was written at. Anything
 * else is a note about the input (an ignored lock file option) and is always shown, -q aside. */
struct progress {
	bool routine;
	bool tty;
	struct timespec start, last;
};

static double seconds_since(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) + (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
}

static bool is_routine(const char *line)
{
	static const char *const prefixes[] = {"layer ", "base ", "variant ", "platform ",
	                                       "python target "};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(prefixes); i++)
		if (strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* The uncompressed size in a "layer i/n NAME: N entries, 1.5 MiB -> 0.4 MiB sha256:…" line, as
 * lade_human_size() wrote it; false when the line does not have that shape. */
static bool layer_tar_size(const char *line, double *bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	/* The last arrow: a layer's name may hold one too ("files app/ -> /app"). */
	const char *arrow = NULL;
	for (const char *a = strstr(line, " -> "); a; a = strstr(a + 1, " -> "))
		arrow = a;
	const char *p = arrow;
	if (arrow == NULL)
		return false;
	while (p > line && p[-1] != ',')
		p--;
	if (p == line)
		return false;
	char num[32], unit[8];
	if (arrow - p >= 32 || sscanf(p, " %31[0-9.] %7[A-Za-z]", num, unit) != 2)
		return false;
	double v = strtod(num, NULL);
	for (size_t i = 0; i < LADE_ARRAY_SIZE(units); i++, v *= 1024)
		if (strcmp(unit, units[i]) == 0) {
			*bytes = v;
			return true;
		}
	return false;
}

static void progress_stderr(void *ctx, const char *line)
{
	struct progress *pr = ctx;
	if (!is_routine(line)) {
		fprintf(stderr, "lade: note: %s\n", line);
		return;
	}
	if (!pr->routine)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = seconds_since(&pr->last, &now);
	pr->last = now;
	double bytes;
	if (strncmp(line, "layer ", 6) != 0 || !layer_tar_size(line, &bytes)) {
		fprintf(stderr, "lade: %s\n", line);
		return;
	}
	/* A terminal line stays short: the whole digest is in the output and in --json. */
	int head = (int)strlen(line);
	const char *tail = "";
	const char *digest = strstr(line, " sha256:");
	bool shortened = pr->tty && digest && strspn(digest + 8, "0123456789abcdef") == 64;
	if (shortened) {
		head = (int)(digest - line) + 8 + 12;
		tail = digest + 8 + 64;
	}
	/* A layer taken from the cache was not written: no rate. */
	char rate[32] = "";
	if (dt > 0.0005 && strstr(line, "reused from the cache") == NULL)
		lade_human_size((uint64_t)(bytes / dt), rate, sizeof(rate));
	fprintf(stderr, "lade: %.*s%s%s in %.1fs%s%s%s\n", head, line, shortened ? "…" : "", tail,
	        dt, *rate ? " (" : "", rate, *rate ? "/s)" : "");
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

static int cmd_build(int argc, char **argv)
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
	argv[0] = (char *)"lade"; /* getopt's own messages start with argv[0] */
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
		case 'j':
			if (lade_parse_u32(optarg, 10, &u) < 0 || u < 1 || u > 1024)
				return lade_cli_usage_error(
				        "build", "--jobs '%s' is not a number 1-1024", optarg);
			o.jobs = (int)u;
			break;
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
				return report_error(err);
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
		case OPT_TLS_VERIFY:
			if (strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0)
				return lade_cli_usage_error("build",
				                            "--tls-verify takes true or false");
			o.tls_verify_off = strcmp(optarg, "false") == 0;
			break;
		case 'q':
			o.progress = NULL;
			break;
		case 'h':
			usage(stdout, "build");
			return 0;
		default:
			usage(stderr, "build");
			return EXIT_USAGE;
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
			return report_error(nerr);
	}
	if (network && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lade: error: cannot initialise libcurl\n");
		return EXIT_FAILURE;
	}
	if (enter_sandbox(sandbox, network ? LADE_SANDBOX_NETWORK : LADE_SANDBOX_BUILD) < 0)
		return EXIT_FAILURE;

	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_build_report_freep) struct lade_build_report *rep = NULL;
	if (lade_build_run(&o, &rep, &err) < 0)
		return report_error(err);

	if (o.progress && pr.routine) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "lade: %zu image%s in %.1fs\n", rep->n_images,
		        rep->n_images == 1 ? "" : "s", seconds_since(&pr.start, &now));
	}
	if (json) {
		_cleanup_(json_decrefp) json_t *j = report_json(rep);
		char *s = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(2));
		puts(s);
		free(s);
	} else {
		for (size_t i = 0; i < rep->n_refs; i++)
			printf("%s %s:%s\n", rep->refs[i].digest, rep->layout, rep->refs[i].name);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "lade: error: cannot write to standard output: %s\n",
		        strerror(errno));
		return EXIT_FAILURE;
	}
	return 0;
}

static int cmd_verify(int argc, char **argv)
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
	argv[0] = (char *)"lade"; /* getopt's own messages start with argv[0] */
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
		case 'h':
			usage(stdout, "verify");
			return 0;
		default:
			usage(stderr, "verify");
			return EXIT_USAGE;
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
	if (enter_sandbox(sandbox, LADE_SANDBOX_BUILD) < 0)
		return EXIT_FAILURE;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_buf_ struct lade_buf problems = LADE_BUF_INIT;
	size_t n = 0;
	if (lade_verify_layout(dir, &vo, &problems, &n, &err) < 0)
		return report_error(err);
	if (quiet)
		return n ? EXIT_FAILURE : 0;
	if (json) {
		/* {"layout", "ok", "problems": [listed lines], "count": all found} */
		json_t *list = json_array();
		for (char *line = problems.data, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (nl == NULL)
				nl = line + strlen(line) - 1;
			json_array_append_new(list, json_stringn(line, (size_t)(nl - line)));
		}
		_cleanup_(json_decrefp) json_t *j =
		        json_pack("{s:s, s:b, s:I, s:o}", "layout", argv[optind], "ok", n == 0,
		                  "count", (json_int_t)n, "problems", list);
		char *s = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(2));
		puts(s);
		free(s);
		return n ? EXIT_FAILURE : 0;
	}
	if (n == 0) {
		printf("%s: ok\n", argv[optind]);
		return 0;
	}
	fputs(problems.data, stderr);
	size_t max = vo.max_problems ? vo.max_problems : LADE_VERIFY_MAX_PROBLEMS;
	if (n > max)
		fprintf(stderr, "... and %zu more problems\n", n - max);
	fprintf(stderr, "lade: error: %s: %zu problem%s found\n", argv[optind], n,
	        n == 1 ? "" : "s");
	return EXIT_FAILURE;
}

/* The command's own --help, when ARGV asks for it before a "--". */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static int cmd_help(int argc, char **argv)
{
	if (argc > 2)
		return lade_cli_usage_error("help", "help takes at most one COMMAND");
	if (argc < 2) {
		lade_cli_usage(stdout, NULL);
		return 0;
	}
	const struct lade_cli_command *c = lade_cli_command_find(argv[1]);
	if (c == NULL)
		return lade_cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	lade_cli_usage(stdout, c);
	return 0;
}

int main(int argc, char **argv)
{
	/* lade deliberately never calls setlocale(): libarchive then runs in the "C" locale, so
	 * tar headers do not depend on LANG/LC_ALL. */
	if (argc < 2) {
		lade_cli_usage(stderr, NULL);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "build") == 0)
		return cmd_build(argc - 1, argv + 1);
	/* inspect, diff, push and pull parse their own options, but their --help comes from the
	 * table the man page is generated from, like every other command's. */
	if ((strcmp(cmd, "inspect") == 0 || strcmp(cmd, "diff") == 0 || strcmp(cmd, "push") == 0 ||
	     strcmp(cmd, "pull") == 0) &&
	    wants_help(argc - 1, argv + 1)) {
		usage(stdout, cmd);
		return 0;
	}
	if (strcmp(cmd, "inspect") == 0)
		return lade_cmd_inspect(argc - 1, argv + 1);
	if (strcmp(cmd, "diff") == 0)
		return lade_cmd_diff(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "push") == 0)
		return lade_cmd_push(argc - 1, argv + 1);
	if (strcmp(cmd, "pull") == 0)
		return lade_cmd_pull(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("lade %s\n", LADE_VERSION);
#ifdef LADE_TEST_HOOKS
		printf("test hooks: on (LADE_TEST_HOOK=execve|socket)\n");
#endif
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		return cmd_help(argc - 1, argv + 1);
	return lade_cli_usage_error(NULL, "unknown command '%s'", cmd);
}
