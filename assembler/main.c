/* lade — command line: argument parsing, output and exit codes. The only place that prints
 * or exits. */
#include <errno.h>
#include <getopt.h>
#include <sys/socket.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lade/build.h"
#include "lade/inspect.h"
#include "lade/sandbox.h"
#include "lade/util.h"
#include "lade/verify.h"

enum { EXIT_USAGE = 2 };

static const char usage_main[] =
        "usage: lade <command> [options]\n"
        "\n"
        "Assemble OCI images from a declarative recipe: no container, no daemon, no pip.\n"
        "\n"
        "commands:\n"
        "  build RECIPE   build the image(s) a recipe describes into an OCI image layout\n"
        "  inspect IMAGE  sizes, layers, largest files, installed bytes per package\n"
        "  diff A B       what differs between two images: layers and files\n"
        "  verify DIR     check an OCI image layout: digests, sizes, diff_ids, tar rules\n"
        "  help [CMD]     show help for lade or for a command\n"
        "  version        print the version\n";

static const char usage_build[] =
        "usage: lade build RECIPE [options]\n"
        "\n"
        "Build every variant of RECIPE (or those given with --variant) into an OCI image layout.\n"
        "Prints one line per image on stdout: \"<manifest digest> <layout>:<ref>\".\n"
        "\n"
        "options:\n"
        "  -o, --output PATH       output OCI layout directory, or archive file with --format\n"
        "                          oci-archive|docker-archive (default: the recipe's output.dir)\n"
        "      --format FMT        oci (default), oci-archive or docker-archive\n"
        "  -t, --tag TAG           tag (default: the recipe's tag)\n"
        "      --variant NAME      build this variant (repeatable; default: all)\n"
        "      --compression ALG   gzip, zstd or none (default: the recipe's, else gzip)\n"
        "      --level N           compression level (gzip 0-3, zstd 1-19; --gzip-level too)\n"
        "      --annotation K=V    manifest annotation (repeatable; over the recipe's)\n"
        "  -j, --jobs N            compression threads (default: number of CPUs)\n"
        "      --lock-timeout S    wait S seconds for another lade using the layout (default 60)\n"
        "      --json              print a JSON summary on stdout instead of the digest lines\n"
        "  -q, --quiet             no progress on stderr\n"
        "      --no-sandbox        do not enter the seccomp sandbox\n"
        "      --explain-sandbox   print the sandbox policy and exit\n"
        "  -h, --help              this help\n"
        "\n"
        "Environment: SOURCE_DATE_EPOCH sets every timestamp (default 0).\n";

static const char usage_verify[] =
        "usage: lade verify DIR[:REF] [options]\n"
        "\n"
        "Check the OCI image layout DIR: layout files, every descriptor's blob (size and sha256),\n"
        "manifests and configs, and every layer (diff_id, no absolute or '..' paths, no duplicate\n"
        "paths, hard links to earlier entries, whiteouts). Exit status 1 when a problem is found.\n"
        "\n"
        "options:\n"
        "      --max-problems N    list at most N problems (default 20)\n"
        "      --no-layers         do not decompress layers (faster, fewer checks)\n"
        "      --no-sandbox        do not enter the seccomp sandbox\n"
        "  -q, --quiet             print nothing, only set the exit status\n"
        "  -h, --help              this help\n";

static int die_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int die_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;
	fputs("lade: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage, stderr);
	return EXIT_USAGE;
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
static int enter_sandbox(bool enabled)
{
	if (!enabled)
		return 0;
	if (!lade_sandbox_supported()) {
		fprintf(stderr, "lade: error: this kernel has no seccomp filter support; run with "
		                "--no-sandbox to build without the sandbox\n");
		return -1;
	}
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_sandbox_enter(LADE_SANDBOX_BUILD, &err) < 0) {
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

static void progress_stderr(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "lade: %s\n", line);
}

static json_t *report_json(const struct lade_build_report *r)
{
	json_t *images = json_array();
	for (size_t i = 0; i < r->n_images; i++) {
		const struct lade_build_image *im = &r->images[i];
		json_t *layers = json_array();
		for (size_t j = 0; j < im->n_layers; j++) {
			const struct lade_build_layer *l = &im->layers[j];
			json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:s?}", "digest",
			                      l->digest, "diff_id", l->diff_id, "size",
			                      (json_int_t)l->size, "media_type", l->media_type,
			                      "comment", l->comment, "from_base", l->from_base,
			                      "compressor", l->compressor);
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
	        {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct lade_build_options o = {
	        .level = -1,
	        .jobs = ncpu > 0 ? (int)ncpu : 1,
	        .lock_timeout_s = 60,
	        .progress = progress_stderr,
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
				return die_usage(usage_build, "--tag must not be empty");
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
				return die_usage(usage_build, "--level '%s' is not a level",
				                 optarg);
			o.level = (int)u;
			break;
		case 'j':
			if (lade_parse_u32(optarg, 10, &u) < 0 || u < 1 || u > 1024)
				return die_usage(usage_build, "--jobs '%s' is not a number 1-1024",
				                 optarg);
			o.jobs = (int)u;
			break;
		case OPT_LOCK_TIMEOUT:
			if (lade_parse_u32(optarg, 10, &u) < 0)
				return die_usage(usage_build, "--lock-timeout '%s' is not a number",
				                 optarg);
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
				return die_usage(
				        usage_build,
				        "--format '%s' is not oci, oci-archive or docker-archive",
				        optarg);
			o.format = optarg;
			break;
		case OPT_ANNOTATION:
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				return die_usage(usage_build, "--annotation '%s' is not KEY=VALUE",
				                 optarg);
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
		case 'q':
			o.progress = NULL;
			break;
		case 'h':
			fputs(usage_build, stdout);
			return 0;
		default:
			fputs(usage_build, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return die_usage(usage_build, optind >= argc ? "build needs a RECIPE"
		                                             : "build takes one RECIPE");
	o.recipe_path = argv[optind];
	o.variants = variants;
	o.annotations = annotations;
	if (enter_sandbox(sandbox) < 0)
		return EXIT_FAILURE;

	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_(lade_build_report_freep) struct lade_build_report *rep = NULL;
	if (lade_build_run(&o, &rep, &err) < 0)
		return report_error(err);

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
	enum { OPT_MAX = 256, OPT_NO_LAYERS, OPT_NO_SANDBOX };
	static const struct option longopts[] = {
	        {"max-problems", required_argument, NULL, OPT_MAX},
	        {"no-layers", no_argument, NULL, OPT_NO_LAYERS},
	        {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	        {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct lade_verify_options vo;
	lade_verify_options_init(&vo);
	bool quiet = false, sandbox = true;
	uint32_t u;
	int c;
	optind = 1;
	argv[0] = (char *)"lade"; /* getopt's own messages start with argv[0] */
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MAX:
			if (lade_parse_u32(optarg, 10, &u) < 0 || u == 0)
				return die_usage(usage_verify,
				                 "--max-problems '%s' is not a number", optarg);
			vo.max_problems = u;
			break;
		case OPT_NO_LAYERS:
			vo.check_layers = false;
			break;
		case OPT_NO_SANDBOX:
			sandbox = false;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(usage_verify, stdout);
			return 0;
		default:
			fputs(usage_verify, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return die_usage(usage_verify, "verify takes one layout DIR[:REF]");
	_cleanup_free_ char *dir = xstrdup(argv[optind]);
	/* DIR:REF as skopeo spells it; a ':' inside an existing directory name wins. */
	char *colon = strrchr(dir, ':');
	if (colon && access(dir, F_OK) != 0 && strchr(colon, '/') == NULL) {
		*colon = '\0';
		vo.ref = colon + 1;
	}
	if (enter_sandbox(sandbox) < 0)
		return EXIT_FAILURE;
	_cleanup_error_ struct lade_error *err = NULL;
	_cleanup_buf_ struct lade_buf problems = LADE_BUF_INIT;
	size_t n = 0;
	if (lade_verify_layout(dir, &vo, &problems, &n, &err) < 0)
		return report_error(err);
	if (quiet)
		return n ? EXIT_FAILURE : 0;
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

int main(int argc, char **argv)
{
	/* lade deliberately never calls setlocale(): libarchive then runs in the "C" locale, so
	 * tar headers do not depend on LANG/LC_ALL. */
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "build") == 0)
		return cmd_build(argc - 1, argv + 1);
	if (strcmp(cmd, "inspect") == 0)
		return lade_cmd_inspect(argc - 1, argv + 1);
	if (strcmp(cmd, "diff") == 0)
		return lade_cmd_diff(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("lade %s\n", LADE_VERSION);
#ifdef LADE_TEST_HOOKS
		printf("test hooks: on (LADE_TEST_HOOK=execve|socket)\n");
#endif
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		if (argc > 2 && strcmp(argv[2], "build") == 0)
			fputs(usage_build, stdout);
		else if (argc > 2 && strcmp(argv[2], "verify") == 0)
			fputs(usage_verify, stdout);
		else if (argc > 2 && strcmp(argv[2], "inspect") == 0) {
			char *h[] = {(char *)"inspect", (char *)"--help", NULL};
			return lade_cmd_inspect(2, h);
		} else if (argc > 2 && strcmp(argv[2], "diff") == 0) {
			char *h[] = {(char *)"diff", (char *)"--help", NULL};
			return lade_cmd_diff(2, h);
		} else if (argc > 2)
			return die_usage(usage_main, "unknown command '%s'", argv[2]);
		else
			fputs(usage_main, stdout);
		return 0;
	}
	return die_usage(usage_main, "unknown command '%s'", cmd);
}
