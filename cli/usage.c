/* lade — the command line's documentation as data, and its two renderings: plain text for
 * --help and roff for lade(1). Adding an option here documents it in both places; the bash
 * completion (completion/lade.bash) is checked against `lade help CMD` by tests/integration/
 * cli.sh. */
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "usage.h"

enum { WIDTH = 79, OPT_COLUMN = 26 };

static const char image_forms[] =
        "IMAGE: DIR[:TAG], oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG].";

/* One sandbox policy for every command (cli/options.c). */
static const char no_sandbox_help[] =
        "do not enter the seccomp sandbox (without this option lade refuses to run on a kernel "
        "without seccomp filter support)";

static const struct lade_cli_option build_options[] = {
        {'o', "output", "PATH",
         "output OCI layout directory, or archive file with --format oci-archive|docker-archive "
         "(default: the recipe's output.dir)",
         NULL},
        {0, "format", "FMT", "oci (default), oci-archive or docker-archive",
         "oci oci-archive docker-archive"},
        {'t', "tag", "TAG", "tag (default: the recipe's tag)", NULL},
        {0, "variant", "NAME", "build this variant (repeatable; default: all)", NULL},
        {0, "compression", "ALG", "gzip, zstd or none (default: the recipe's, else gzip)",
         "gzip zstd none"},
        {0, "lazy", "FMT",
         "lazy-pull layer format: estargz (gzip), zstd-chunked (zstd) or none (default: the "
         "variant's output.lazy, else none)",
         "estargz zstd-chunked none"},
        {0, "level", "N",
         "compression level (gzip: zlib 1-9, default 6, for what is not spliced; zstd 1-19, "
         "default 3)",
         NULL},
        {0, "gzip-level", "N", "the same as --level", NULL},
        {0, "annotation", "K=V", "manifest annotation (repeatable; over the recipe's)", NULL},
        {0, "sbom", "FMT", "attach an SBOM (spdx or cyclonedx) to each image as an OCI artifact",
         "spdx cyclonedx"},
        {0, "sbom-out", "FILE", "also write the SBOM document to FILE (one image only)", NULL},
        {0, "max-size", "SIZE",
         "fail when an image's config + layers (compressed, base included) exceed SIZE (500MB, "
         "1.5GiB; over every output.max-size); the layout is still written, nothing is pushed",
         NULL},
        {0, "push", "REF",
         "push every built ref to REF (registry/repo[:tag]; with several refs the repository, each "
         "ref as its tag)",
         NULL},
        {0, "push-only", NULL,
         "with --push: write no output layout; layers found by --cache-from are neither built nor "
         "downloaded, the rest are built to the registry and the local cache, the tag last",
         NULL},
        {0, "cache-from", "REPO",
         "look layers up in registry repository REPO (repeatable, in order; over cache.from) "
         "after the local cache: a hit is used without building it",
         NULL},
        {0, "cache-to", "REPO",
         "publish every layer's cache mapping (and its blob) to registry repository REPO after "
         "the build (over cache.to)",
         NULL},
        {0, "cache", "DIR", "layer cache directory (default: $LADE_CACHE_DIR, else ~/.cache/lade)",
         NULL},
        {0, "no-cache", NULL, "no layer cache (also LADE_NO_CACHE=1)", NULL},
        {0, "link-blobs", NULL,
         "hard-link base and cache blobs into the output instead of reflinking or copying them "
         "(only for stores nobody edits: the output then shares inodes with its inputs)",
         NULL},
        {0, "offline", NULL, "registry base images from lade's local image store only", NULL},
        {0, "allow-unpinned-base", NULL,
         "accept a registry base image that is not pinned by a @sha256: digest", NULL},
        {0, "allow-outside-context", NULL,
         "copy files[].src that resolve outside the build context (the recipe's directory or "
         "its context:)",
         NULL},
        {0, "creds", "USER:PASS", "registry credentials (default: the auth files, as skopeo)",
         NULL},
        {0, "tls-verify", "=BOOL",
         "--tls-verify=false: plain http or unverified TLS to the registry (BOOL: true, 1, yes or "
         "false, 0, no)",
         "true false"},
        {'j', "jobs", "N", "compression threads, 1-1024 (default: number of CPUs)", NULL},
        {0, "lock-timeout", "S", "wait S seconds for another lade using the layout (default 60)",
         NULL},
        {0, "json", NULL, "print a JSON summary on stdout instead of the digest lines", NULL},
        {0, "progress", NULL,
         "a progress line per layer on stderr even when stderr is not a terminal", NULL},
        {'q', "quiet", NULL, "no progress and no notes on stderr", NULL},
        {0, "no-sandbox", NULL, no_sandbox_help, NULL},
        {0, "explain-sandbox", NULL, "print the sandbox policy and exit", NULL},
        {'h', "help", NULL, "this help", NULL},
        {0, NULL, NULL, NULL, NULL},
};

static const struct lade_cli_option inspect_options[] = {
        {0, "top", "N", "the N largest files of the merged file system", NULL},
        {0, "by", "package", "installed bytes per Python distribution (from RECORD)", "package"},
        {0, "no-layers", NULL, "do not decompress layers (no uncompressed sizes)", NULL},
        {0, "html", "FILE",
         "write one self-contained HTML page: a zoomable treemap (layer, distribution or "
         "directory, file), the layers, distributions, biggest files and what images share",
         NULL},
        {0, "json", NULL, "JSON on stdout (sorted keys)", NULL},
        {0, "no-sandbox", NULL, no_sandbox_help, NULL},
        {'h', "help", NULL, "this help", NULL},
        {0, NULL, NULL, NULL, NULL},
};

static const struct lade_cli_option diff_options[] = {
        {0, "by", "package",
         "per Python distribution its version and installed bytes in A and B, other bytes per "
         "layer, sorted by the size of the change",
         "package"},
        {0, "json", NULL, "JSON on stdout (sorted keys)", NULL},
        {0, "no-sandbox", NULL, no_sandbox_help, NULL},
        {'h', "help", NULL, "this help", NULL},
        {0, NULL, NULL, NULL, NULL},
};

static const struct lade_cli_option verify_options[] = {
        {0, "max-problems", "N", "list at most N problems (default 20)", NULL},
        {0, "no-layers", NULL, "do not decompress layers (faster, fewer checks)", NULL},
        {0, "json", NULL, "print {layout, ok, count, problems} as JSON on stdout", NULL},
        {0, "no-sandbox", NULL, no_sandbox_help, NULL},
        {'q', "quiet", NULL, "print nothing, only set the exit status", NULL},
        {'h', "help", NULL, "this help", NULL},
        {0, NULL, NULL, NULL, NULL},
};

static const struct lade_cli_option push_options[] = {
        {0, "creds", "USER:PASS",
         "credentials (else REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, "
         "~/.docker/config.json)",
         NULL},
        {0, "tls-verify", "=BOOL",
         "verify TLS certificates and require https (default true; http is always allowed for "
         "loopback registries; BOOL: true, 1, yes or false, 0, no)",
         "true false"},
        {0, "cert-dir", "DIR", "ca.crt (and client.cert, client.key) for the registry", NULL},
        {0, "mount-from", "REPO", "mount blobs from REPO on the same registry", NULL},
        {0, "digestfile", "FILE", "also write the digest to FILE", NULL},
        {0, "json", NULL,
         "print {ref, digest, blobs_uploaded, bytes_uploaded, blobs_present, blobs_mounted, "
         "manifests, chunks_resumed, uploads_restarted, referrers_tagged} instead of the digest",
         NULL},
        {'j', "jobs", "N", "blobs uploaded in parallel, 1-1024 (default 4)", NULL},
        {0, "chunk-size", "SIZE",
         "blobs larger than SIZE go in resumable chunks of SIZE (default 64M; K, M, G suffixes)",
         NULL},
        {'q', "quiet", NULL, "no summary on stderr", NULL},
        {0, "no-sandbox", NULL, no_sandbox_help, NULL},
        {'h', "help", NULL, "this help", NULL},
        {0, NULL, NULL, NULL, NULL},
};

static const struct lade_cli_option gc_options[] = {
        {0, "dry-run", NULL, "say what would be removed, remove nothing", NULL},
        {0, "json", NULL,
         "print {layout|cache, dry_run, blobs, bytes, kept_blobs, kept_bytes, removed, "
         "index_entries_dropped|entries, entries_kept} on stdout",
         NULL},
        {0, "cache", NULL,
         "trim the layer cache (DIR, else $LADE_CACHE_DIR, else ~/.cache/lade) instead of a "
         "layout",
         NULL},
        {0, "max-size", "SIZE",
         "with --cache: drop least recently used entries until the cache holds at most SIZE "
         "(K, M, G suffixes: binary units)",
         NULL},
        {0, "older-than", "DURATION",
         "with --cache: drop entries not used for DURATION (N seconds, or Ns, Nm, Nh, Nd, Nw)",
         NULL},
        {0, "lock-timeout", "S", "wait S seconds for another lade using the layout (default 60)",
         NULL},
        {'q', "quiet", NULL, "no summary on stdout", NULL},
        {0, "no-sandbox", NULL, no_sandbox_help, NULL},
        {'h', "help", NULL, "this help", NULL},
        {0, NULL, NULL, NULL, NULL},
};

static const struct lade_cli_option pull_options[] = {
        {'o', "output", "DIR", "the layout to write", NULL},
        {0, "platform", "OS/ARCH[/V]", "only this platform of an index (default: all)", NULL},
        {0, "offline", NULL, "no network: only what DIR already holds", NULL},
        {'j', "jobs", "N", "blobs downloaded in parallel, 1-1024 (default 4)", NULL},
        {0, "json", NULL, "print {ref, digest, layout} instead of the digest", NULL},
        {0, "creds", "USER:PASS", "credentials (else the auth files, as for push)", NULL},
        {0, "tls-verify", "=BOOL", "as for push", "true false"},
        {0, "cert-dir", "DIR", "as for push", NULL},
        {'q', "quiet", NULL, "no summary on stderr", NULL},
        {0, "no-sandbox", NULL, no_sandbox_help, NULL},
        {'h', "help", NULL, "this help", NULL},
        {0, NULL, NULL, NULL, NULL},
};

static const struct lade_cli_option no_options[] = {
        {0, NULL, NULL, NULL, NULL},
};

const struct lade_cli_command lade_cli_commands[] = {
        {"build", "RECIPE [options]",
         "build the image(s) a recipe describes into an OCI image layout",
         "Build every variant of RECIPE (or those given with --variant) into an OCI image "
         "layout. Prints one line per image on stdout: \"<manifest digest> <layout>:<ref>\".\n"
         "On a terminal, stderr shows a line per layer with its size and the rate it was "
         "written at; when stderr is not a terminal only notes are printed (use --progress "
         "for the layer lines).",
         build_options, "Environment: SOURCE_DATE_EPOCH sets every timestamp (default 0)."},
        {"inspect", "IMAGE [options]", "sizes, layers, largest files, installed bytes per package",
         "Show what each image IMAGE names holds: digest, platform, entrypoint, every layer "
         "with its compressed and uncompressed size, diff_id and history, the total size, and "
         "across several images of one layout the bytes they share and the bytes unique to "
         "each.",
         inspect_options, image_forms},
        {"diff", "IMAGE_A IMAGE_B [options]", "what differs between two images: layers and files",
         "Compare two images: config, layers (by diff_id, position by position and as sets) "
         "and, when layers differ, the files added, removed and modified in the merged file "
         "systems (path, type, mode, size, sha256). Layers with the same content in other "
         "blobs (another compressor, level or media type) are listed as recompressed, with "
         "both blobs. Exit status 0 when identical (same manifest, blobs and content), 1 when "
         "anything differs, 2 on error.",
         diff_options, image_forms},
        {"verify", "DIR[:REF] [options]",
         "check an OCI image layout: digests, sizes, diff_ids, tar rules",
         "Check the OCI image layout DIR: layout files, every descriptor's blob (size and "
         "sha256), manifests and configs, and every layer (diff_id, no absolute or '..' paths, "
         "no duplicate paths, hard links to earlier entries, whiteouts). Exit status 1 when a "
         "problem is found.",
         verify_options, NULL},
        {"push", "IMAGE REF [options]", "push an image from a layout to a registry",
         "Push the image IMAGE (DIR[:TAG] or oci:DIR[:TAG], an OCI layout) to REF "
         "(registry/repo:tag or registry/repo@sha256:...) over the OCI distribution API. Blobs "
         "the registry has are skipped; manifests are pushed with their exact bytes, the tag "
         "last. Prints the pushed digest (the local one).",
         push_options, NULL},
        {"pull", "REF [-o DIR] [options]", "pull an image from a registry into a layout",
         "Pull REF (registry/repo[:tag][@sha256:...]) into the OCI layout DIR (default: lade's "
         "content store $XDG_CACHE_HOME/lade or ~/.cache/lade, shared with the layer cache), "
         "verifying every "
         "digest, and name it there by its full reference. Blobs already in DIR are not "
         "fetched again. Prints the digest of the manifest (or index) it named.",
         pull_options, NULL},
        {"gc", "DIR | --cache [DIR] [options]",
         "remove the blobs no tag of a layout reaches, or trim the layer cache",
         "Remove from the OCI layout DIR every blob that no tag reaches (from index.json through "
         "image indexes and manifests to configs and layers; referrers such as SBOMs are kept "
         "while "
         "their subject is, and an untagged referrer of a removed image is dropped from "
         "index.json), under the layout's lock. With --cache, trim lade's layer cache: entries "
         "not used for --older-than, then the least recently used (written or reused by a "
         "build) until it fits --max-size, then every blob no kept entry or pulled image "
         "reaches; it waits for builds using the cache and never removes what they use. An "
         "interrupted gc leaves a layout that verifies. Prints what was removed and kept.",
         gc_options, NULL},
        {"help", "[COMMAND]", "show help for lade or for a command",
         "Show the list of commands, or the help of COMMAND (the same as lade COMMAND --help).",
         no_options, NULL},
        {"version", "", "print the version", "Print the version (also lade --version).", no_options,
         NULL},
        {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const char program_summary[] =
        "Assemble OCI images from a declarative recipe: no container, no daemon, no pip.";

/* Sections only the man page has; each entry is a term (NULL: plain paragraph) and text. */
struct man_item {
	const char *term;
	const char *text;
};

static const char man_description[] =
        "lade reads a YAML recipe (see docs/recipe.md) naming a base image, the application "
        "files and a locked set of Python wheels, installs the wheels itself into a virtual "
        "environment laid out inside deterministic tar layers, and writes an OCI image layout "
        "or an oci-archive or docker-archive tar. It runs no container, no daemon, no pip and "
        "needs no network; the same inputs give the same image bytes on every machine.\n"
        "While it reads wheels and base layers lade runs inside a seccomp sandbox that forbids "
        "running programs, opening sockets and changing ownership. Every command refuses to run "
        "on a kernel without seccomp filter support unless given --no-sandbox.";

static const struct man_item man_environment[] = {
        {"SOURCE_DATE_EPOCH",
         "Seconds since the epoch used for every timestamp lade writes: file times in the "
         "layers, the config's created field and the org.opencontainers.image.created "
         "annotation. Default 0."},
        {"TMPDIR", "Where lade inspect and lade diff unpack archive images (default /tmp)."},
        {"XDG_CACHE_HOME, HOME",
         "lade's content store (the layer cache and pulled base images): $XDG_CACHE_HOME/lade, "
         "else ~/.cache/lade."},
        {"LADE_WHEEL_MAX_BYTES, LADE_WHEEL_MAX_RATIO",
         "Per-wheel limits of lade build: the members of one wheel may add up to at most "
         "LADE_WHEEL_MAX_BYTES uncompressed (a size, default 32GiB) and, above 100 MiB, to at "
         "most LADE_WHEEL_MAX_RATIO times the wheel's size (default 100); 0 turns a limit "
         "off. Not recipe keys: the builder's policy, which a recipe cannot raise."},
        {"LADE_CACHE_DIR, LADE_NO_CACHE, LADE_CACHE_MAX",
         "The layer cache directory (default: the content store above); LADE_NO_CACHE=1 "
         "builds without it (and without the stat cache of wheel hashes); LADE_CACHE_MAX=SIZE "
         "trims it to SIZE after each build, as lade gc --cache --max-size SIZE (over the "
         "recipe's cache.max-size)."},
        {"REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR",
         "Where lade push and lade pull look for registry credentials when --creds is not "
         "given (see FILES)."},
        {NULL, NULL},
};

static const struct man_item man_exit_status[] = {
        {"0", "Success; for lade diff, the images are identical."},
        {"1", "Failure: a bad recipe, wheel, base image or layout, an I/O error, problems "
              "found by lade verify, or different images for lade diff."},
        {"2", "A usage error: an unknown command or option, or a bad option value; for lade "
              "diff, any error."},
        {NULL, NULL},
};

static const struct man_item man_files[] = {
        {"RECIPE", "The YAML recipe; its relative paths (files, python.lock, python.wheelhouse, "
                   "output.dir) are resolved against the directory holding it."},
        {"DIR/index.json, DIR/oci-layout, DIR/blobs/sha256/",
         "The OCI image layout lade build writes (output.dir or -o). Building into an existing "
         "layout adds or replaces tags and keeps the other images."},
        {"$REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json",
         "Registry credentials for lade push and lade pull, the first that exists."},
        {NULL, NULL},
};

static const struct man_item man_examples[] = {
        {"lade build app.yaml -o out/", "Build every variant of app.yaml into the layout out/."},
        {"lade build app.yaml --format docker-archive -o app.tar && podman load -i app.tar",
         "Build a tar that docker load and podman load accept."},
        {"SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) lade build app.yaml --compression zstd",
         "Timestamps from the last commit, zstd layers."},
        {"lade inspect out/:1.0 --top 10 --by package",
         "Layer sizes, the ten largest files and the installed bytes per Python "
         "distribution."},
        {"lade diff out/:1.0 out/:1.1", "Which layers and files differ between two builds."},
        {"lade diff old/:1.0 out/:1.0 --by package",
         "Which distributions grew or shrank, and by how much."},
        {"lade inspect out/ --html size.html", "A treemap of every image of the layout."},
        {"lade verify out/", "Check every digest, size, diff_id and tar rule of a layout."},
        {"lade push out/:1.0 registry.example.com/team/app:1.0",
         "Push a built image to a registry."},
        {NULL, NULL},
};

static const char man_see_also[] = "skopeo(1), umoci(1), podman-load(1), docker-load(1)";

const struct lade_cli_command *lade_cli_command_find(const char *name)
{
	for (const struct lade_cli_command *c = lade_cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Print TEXT's first LEN bytes word-wrapped: the first line continues at column COL (already
 * printed), later lines are indented to INDENT. */
static void wrap(FILE *f, const char *text, size_t len, int col, int indent)
{
	const char *p = text, *end = text + len;
	bool first = true;
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		const char *w = p;
		while (p < end && *p != ' ')
			p++;
		int wl = (int)(p - w);
		if (wl == 0)
			break;
		if (!first && col + 1 + wl > WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fwrite(w, 1, (size_t)wl, f);
		col += wl;
		first = false;
	}
	fputc('\n', f);
}

/* Paragraphs separated by "\n" in the source, by a blank line on the terminal. */
static void paragraphs(FILE *f, const char *text)
{
	bool first = true;
	while (*text) {
		size_t len = strcspn(text, "\n");
		if (!first)
			fputc('\n', f);
		wrap(f, text, len, 0, 0);
		first = false;
		text += len;
		if (*text == '\n')
			text++;
	}
}

void lade_cli_usage(FILE *f, const struct lade_cli_command *cmd)
{
	if (cmd == NULL) {
		fputs("usage: lade <command> [options]\n\n", f);
		fprintf(f, "%s\n\ncommands:\n", program_summary);
		for (const struct lade_cli_command *c = lade_cli_commands; c->name; c++) {
			/* The operands without "[options]": one short line per command. */
			size_t n = strlen(c->args);
			if (n >= 9 && strcmp(c->args + n - 9, "[options]") == 0)
				n -= 9;
			while (n > 0 && c->args[n - 1] == ' ')
				n--;
			char head[64];
			snprintf(head, sizeof(head), "  %s%s%.*s", c->name, n ? " " : "", (int)n,
			         c->args);
			fprintf(f, "%-24s", head);
			wrap(f, c->summary, strlen(c->summary), 24, 24);
		}
		fputs("\nRun 'lade help COMMAND' for a command's options; man lade for more.\n", f);
		return;
	}
	fprintf(f, "usage: lade %s%s%s\n\n", cmd->name, *cmd->args ? " " : "", cmd->args);
	paragraphs(f, cmd->description);
	if (cmd->options[0].name) {
		fputs("\noptions:\n", f);
		for (const struct lade_cli_option *o = cmd->options; o->name; o++) {
			char spec[64];
			/* "=BOOL": an optional argument, which getopt wants attached. */
			const char *sep = o->arg == NULL || o->arg[0] == '=' ? "" : " ";
			const char *arg = o->arg ? o->arg : "";
			if (o->short_name)
				snprintf(spec, sizeof(spec), "  -%c, --%s%s%s", o->short_name,
				         o->name, sep, arg);
			else
				snprintf(spec, sizeof(spec), "      --%s%s%s", o->name, sep, arg);
			int col = (int)strlen(spec);
			fputs(spec, f);
			if (col + 2 > OPT_COLUMN) {
				fprintf(f, "\n%*s", OPT_COLUMN, "");
			} else {
				fprintf(f, "%*s", OPT_COLUMN - col, "");
			}
			wrap(f, o->help, strlen(o->help), OPT_COLUMN, OPT_COLUMN);
		}
	}
	if (cmd->notes) {
		fputc('\n', f);
		paragraphs(f, cmd->notes);
	}
}

/* Text for roff: backslashes escaped, '-' as \- (so options copy and paste), and a line that
 * would start with a control character guarded with \&. */
static void roff(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\')
			fputs("\\e", f);
		else if (s[i] == '-')
			fputs("\\-", f);
		else
			fputc(s[i], f);
	}
}

static void roff_line(FILE *f, const char *s, size_t len)
{
	if (len > 0 && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", f);
	roff(f, s, len);
	fputc('\n', f);
}

static void roff_paragraphs(FILE *f, const char *text)
{
	bool first = true;
	while (*text) {
		size_t len = strcspn(text, "\n");
		if (!first)
			fputs(".PP\n", f);
		roff_line(f, text, len);
		first = false;
		text += len;
		if (*text == '\n')
			text++;
	}
}

static void roff_str(FILE *f, const char *s)
{
	roff(f, s, strlen(s));
}

static void man_items(FILE *f, const char *section, const struct man_item *items, bool code)
{
	fprintf(f, ".SH %s\n", section);
	for (const struct man_item *it = items; it->text; it++) {
		if (code) {
			/* An example: what it does, then the command line as literal text. */
			fputs(".PP\n", f);
			roff_line(f, it->text, strlen(it->text));
			fputs(".PP\n.RS 4\n.nf\n", f);
			roff_line(f, it->term, strlen(it->term));
			fputs(".fi\n.RE\n", f);
		} else {
			fputs(".TP\n.B ", f);
			roff_line(f, it->term, strlen(it->term));
			roff_line(f, it->text, strlen(it->text));
		}
	}
}

int lade_cli_man(FILE *f, const char *version)
{
	fputs(".\\\" Generated by tools/gen-man.c from cli/usage.c; do not edit.\n", f);
	fputs(".TH LADE 1 \"\" \"lade ", f);
	roff_str(f, version);
	fputs("\" \"User Commands\"\n", f);
	/* Option names and paths must not be hyphenated or stretched. */
	fputs(".nh\n.ad l\n", f);
	fputs(".SH NAME\nlade \\- assemble OCI images from a declarative recipe\n", f);

	fputs(".SH SYNOPSIS\n.nf\n", f);
	for (const struct lade_cli_command *c = lade_cli_commands; c->name; c++) {
		fprintf(f, "\\fBlade %s\\fR", c->name);
		if (*c->args) {
			fputc(' ', f);
			roff_str(f, c->args);
		}
		fputc('\n', f);
	}
	fputs(".fi\n", f);

	fputs(".SH DESCRIPTION\n", f);
	roff_paragraphs(f, man_description);

	fputs(".SH COMMANDS\n", f);
	for (const struct lade_cli_command *c = lade_cli_commands; c->name; c++) {
		fprintf(f, ".SS \"lade %s", c->name);
		if (*c->args) {
			fputc(' ', f);
			roff_str(f, c->args);
		}
		fputs("\"\n", f);
		roff_paragraphs(f, c->description);
		for (const struct lade_cli_option *o = c->options; o->name; o++) {
			fputs(".TP\n", f);
			if (o->short_name)
				fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
			fputs("\\fB\\-\\-", f);
			roff_str(f, o->name);
			fputs("\\fR", f);
			if (o->arg && o->arg[0] == '=') {
				fputs("=\\fI", f);
				roff_str(f, o->arg + 1);
				fputs("\\fR", f);
			} else if (o->arg) {
				fputs(" \\fI", f);
				roff_str(f, o->arg);
				fputs("\\fR", f);
			}
			fputc('\n', f);
			roff_line(f, o->help, strlen(o->help));
		}
		if (c->notes) {
			fputs(".PP\n", f);
			roff_paragraphs(f, c->notes);
		}
	}

	man_items(f, "ENVIRONMENT", man_environment, false);
	man_items(f, "EXIT STATUS", man_exit_status, false);
	man_items(f, "FILES", man_files, false);
	man_items(f, "EXAMPLES", man_examples, true);
	fputs(".SH SEE ALSO\n", f);
	roff_line(f, man_see_also, strlen(man_see_also));
	fflush(f);
	return ferror(f) ? -1 : 0;
}

int lade_cli_usage_error(const char *name, const char *fmt, ...)
{
	va_list ap;
	fputs("lade: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	lade_cli_usage(stderr, name ? lade_cli_command_find(name) : NULL);
	return 2;
}
