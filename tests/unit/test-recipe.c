/* Unit tests: recipe v1 parsing, validation, variant overlays and error messages. Every
 * recipe is written to a fresh temp dir that is also the working directory, so messages read
 * "recipe.yaml:LINE:COL: …" exactly as a user would see them. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lade/recipe.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

static char tmpdir[PATH_MAX];

static void put(const char *rel, const char *text)
{
	_cleanup_free_ char *abs = lade_path_join(tmpdir, rel);
	_cleanup_free_ char *dir = lade_path_parent_dir(abs);
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_mkdir_p(dir, &err) < 0 ||
	    lade_write_file_atomic(abs, text, strlen(text), &err) < 0) {
		printf("Bail out! cannot write fixture %s: %s\n", abs, err->msg);
		exit(1);
	}
}

static void mkdir_rel(const char *rel)
{
	_cleanup_free_ char *abs = lade_path_join(tmpdir, rel);
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_mkdir_p(abs, &err) < 0) {
		printf("Bail out! %s\n", err->msg);
		exit(1);
	}
}

static struct lade_recipe *load_ok(const char *yaml, const char *variant, const char *what)
{
	struct lade_recipe *r = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	put("recipe.yaml", yaml);
	int rc = lade_recipe_load("recipe.yaml", variant, &r, &err);
	ok(rc == 0 && r != NULL, "%s loads", what);
	if (rc < 0)
		printf("#   error: %s\n", err ? err->msg : "(none)");
	return r;
}

static void expect_err(const char *yaml, const char *variant, const char *want, const char *what)
{
	struct lade_recipe *r = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	put("recipe.yaml", yaml);
	int rc = lade_recipe_load("recipe.yaml", variant, &r, &err);
	ok(rc == -1 && r == NULL && err != NULL, "%s is refused", what);
	is_str(err ? err->msg : NULL, want, "%s: message", what);
	lade_recipe_free(r);
}

static const char full_recipe[] =
        "name: employment-match\n"
        "tag: \"1.0\"\n"
        "base:\n"
        "  oci: images/python:3.11-slim\n"
        "platforms: [linux/amd64, linux/arm64/v8]\n"
        "libc: glibc-2.36\n"
        "python:\n"
        "  interpreter: /usr/local/bin/python3.11\n"
        "  version: 3.10\n"
        "  venv: /opt//venv/\n"
        "  lock: requirements.lock\n"
        "  wheelhouse: [wheels/, more-wheels]\n"
        "  exclude: [\"**/tests/**\", \"**/*.pyi\"]\n"
        "files:\n"
        "  - src: models/\n"
        "    dst: /models\n"
        "    mode: \"0444\"\n"
        "  - src: src/\n"
        "    dst: /app\n"
        "    owner: \"10001:10002\"\n"
        "    exclude: [\"**/__pycache__/**\"]\n"
        "    dockerignore: false\n"
        "layers:\n"
        "  max-layers: 40\n"
        "  max-layer-size: 2GiB\n"
        "  split-threshold: 32MiB\n"
        "  groups:\n"
        "    - {name: torch, packages: [\"torch\", \"nvidia-*\"]}\n"
        "    - {name: models, files: [\"/models\"]}\n"
        "config:\n"
        "  user: \"10001:10001\"\n"
        "  workdir: /app\n"
        "  env: {PYTHONUNBUFFERED: \"1\", ZED: z, ALPHA: 2}\n"
        "  entrypoint: [\"/opt/venv/bin/python\", \"-m\", \"employment_match\"]\n"
        "  cmd: [\"--port\", \"8080\"]\n"
        "  expose: [\"8080/tcp\", 9090, 53/udp]\n"
        "  volumes: [\"/models-cache\"]\n"
        "  labels: {org.opencontainers.image.source: \"https://example.invalid/x\"}\n"
        "  stop-signal: SIGTERM\n"
        "annotations: {org.opencontainers.image.version: \"1.0\"}\n"
        "output:\n"
        "  dir: out/\n"
        "  format: oci-archive\n"
        "  compression: zstd\n"
        "  lazy: estargz\n"
        "  prefetch: [\"app/**\", \"**/*.so\"]\n"
        "  sbom: spdx\n"
        "  max-size: 1.5GB\n";

static void test_full(void)
{
	_cleanup_(lade_recipe_freep) struct lade_recipe *r =
	        load_ok(full_recipe, NULL, "the full recipe");
	if (r == NULL)
		return;
	_cleanup_free_ char *want_path = lade_path_join(tmpdir, "recipe.yaml");
	is_str(r->path, want_path, "path is absolute");
	is_str(r->dir, tmpdir, "dir is the recipe's directory");
	is_str(r->name, "employment-match", "name");
	is_str(r->tag, "1.0", "tag");
	ok(r->variant == NULL && r->variant_names == NULL && r->default_variant == NULL,
	   "no variants");
	_cleanup_free_ char *img = lade_path_join(tmpdir, "images/python");
	ok(r->base.kind == LADE_BASE_OCI, "base kind oci");
	is_str(r->base.ref, img, "base.oci DIR resolved against the recipe dir");
	is_str(r->base.tag, "3.11-slim", "base.oci TAG split at the last ':'");
	ok(r->base.line == 4 && r->base.column == 8, "base line:column (%d:%d)", r->base.line,
	   r->base.column);
	ok(lade_strv_len(r->platforms) == 2, "two platforms");
	is_str(r->platforms[1], "linux/arm64/v8", "platform with variant");
	is_str(r->libc, "glibc-2.36", "libc");

	ok(r->python.present, "python present");
	is_str(r->python.interpreter, "/usr/local/bin/python3.11", "python.interpreter");
	is_str(r->python.version, "3.10", "unquoted python.version 3.10 stays text");
	is_str(r->python.venv, "/opt/venv", "python.venv normalised");
	ok(!r->python.site_packages_system, "venv, not system site-packages");
	_cleanup_free_ char *lock = lade_path_join(tmpdir, "requirements.lock");
	is_str(r->python.lock, lock, "python.lock absolute");
	_cleanup_free_ char *wh1 = lade_path_join(tmpdir, "more-wheels");
	ok(lade_strv_len(r->python.wheelhouse) == 2, "two wheelhouses");
	is_str(r->python.wheelhouse[1], wh1, "wheelhouse in order, absolute");
	is_str(r->python.exclude[1], "**/*.pyi", "python.exclude");

	ok(r->n_files == 2, "two files items");
	if (r->n_files == 2) {
		_cleanup_free_ char *models = lade_path_join(tmpdir, "models");
		is_str(r->files[0].src, models, "files[0].src absolute");
		is_str(r->files[0].src_text, "models/", "files[0].src as written");
		is_str(r->files[0].dst, "/models", "files[0].dst");
		ok(r->files[0].has_mode && r->files[0].mode == 0444, "files[0].mode 0444");
		ok(!r->files[0].has_owner && r->files[0].dockerignore,
		   "files[0] no owner, dockerignore on by default");
		ok(r->files[0].line == 15 && r->files[0].column == 5, "files[0] line:column");
		ok(r->files[1].has_owner && r->files[1].uid == 10001 && r->files[1].gid == 10002,
		   "files[1].owner");
		ok(!r->files[1].has_mode && !r->files[1].dockerignore, "files[1] dockerignore off");
		is_str(r->files[1].exclude[0], "**/__pycache__/**", "files[1].exclude");
	}

	ok(r->layers.max_layers == 40, "layers.max-layers");
	ok(r->layers.max_layer_size == (UINT64_C(2) << 30), "layers.max-layer-size");
	ok(r->layers.split_threshold == (UINT64_C(32) << 20), "layers.split-threshold");
	ok(r->layers.n_groups == 2, "two groups");
	if (r->layers.n_groups == 2) {
		is_str(r->layers.groups[0].packages[1], "nvidia-*", "group packages");
		ok(r->layers.groups[0].files == NULL, "group without files");
		is_str(r->layers.groups[1].name, "models", "group name");
		is_str(r->layers.groups[1].files[0], "/models", "group files");
	}

	is_str(r->config.user, "10001:10001", "config.user");
	is_str(r->config.workdir, "/app", "config.workdir");
	ok(r->config.n_env == 3, "three env entries");
	if (r->config.n_env == 3) {
		is_str(r->config.env[1].key, "ZED", "env kept in file order");
		is_str(r->config.env[2].value, "2", "env number value as text");
	}
	ok(r->config.has_entrypoint && lade_strv_len(r->config.entrypoint) == 3, "entrypoint");
	is_str(r->config.cmd[1], "8080", "cmd");
	ok(lade_strv_len(r->config.expose) == 3, "three ports");
	is_str(r->config.expose[1], "9090/tcp", "bare port gets /tcp");
	is_str(r->config.expose[2], "53/udp", "udp port");
	is_str(r->config.volumes[0], "/models-cache", "volumes");
	ok(r->config.n_labels == 1, "one label");
	is_str(r->config.labels[0].key, "org.opencontainers.image.source", "label key");
	is_str(r->config.stop_signal, "SIGTERM", "stop-signal");
	ok(r->n_annotations == 1, "one annotation");
	is_str(r->annotations[0].value, "1.0", "annotation value");
	_cleanup_free_ char *out = lade_path_join(tmpdir, "out");
	is_str(r->output.dir, out, "output.dir absolute");
	is_str(r->output.format, "oci-archive", "output.format");
	is_str(r->output.compression, "zstd", "output.compression");
	is_str(r->output.lazy, "estargz", "output.lazy");
	ok(lade_strv_len(r->output.prefetch) == 2 && strcmp(r->output.prefetch[1], "**/*.so") == 0,
	   "output.prefetch");
	is_str(r->output.sbom, "spdx", "output.sbom");
	ok(r->output.max_size == 1500000000u, "output.max-size 1.5GB is decimal");
	is_str(r->output.max_size_text, "1.5GB", "output.max-size as written");
}

static void test_defaults(void)
{
	_cleanup_(lade_recipe_freep) struct lade_recipe *r =
	        load_ok("name: app\nbase: {scratch: true}\n", NULL, "a minimal recipe");
	if (r == NULL)
		return;
	is_str(r->tag, "latest", "tag defaults to latest");
	ok(r->base.kind == LADE_BASE_SCRATCH && r->base.ref == NULL, "scratch base");
	ok(lade_strv_len(r->platforms) == 1, "one default platform");
	is_str(r->platforms[0], "linux/amd64", "default platform linux/amd64");
	ok(!r->python.present && r->n_files == 0 && r->libc == NULL, "no python, no files");
	ok(r->layers.max_layers == 60 && r->layers.max_layer_size == (UINT64_C(4) << 30) &&
	           r->layers.split_threshold == (UINT64_C(64) << 20),
	   "layer defaults 60 / 4GiB / 64MiB");
	ok(r->output.dir == NULL, "no output dir");
	is_str(r->output.format, "oci", "format defaults to oci");
	is_str(r->output.compression, "gzip", "compression defaults to gzip");
	is_str(r->output.sbom, "none", "sbom defaults to none");
	ok(r->output.max_size == 0 && r->output.max_size_text == NULL, "no max-size by default");
	ok(!r->config.has_cmd && !r->config.has_entrypoint && r->config.user == NULL,
	   "config unset");

	lade_recipe_freep(&r);
	r = load_ok("name: app\nbase: {scratch: true}\npython: {lock: requirements.lock}\n", NULL,
	            "python with only a lock");
	if (r) {
		is_str(r->python.venv, "/opt/venv", "venv defaults to /opt/venv");
		ok(lade_strv_len(r->python.wheelhouse) == 1 &&
		           strcmp(r->python.wheelhouse[0], tmpdir) == 0,
		   "wheelhouse defaults to the recipe dir");
		ok(r->python.compile && r->python.compiler == NULL && r->python.optimize == 0,
		   "compile defaults to true (as pip), no compiler named, level 0");
	}
	lade_recipe_freep(&r);
	r = load_ok("name: app\nbase: {scratch: true}\npython: {lock: requirements.lock, "
	            "compile: false, compiler: /usr/bin/python3.11, optimize: 2}\n",
	            NULL, "python.compile, compiler, optimize");
	if (r)
		ok(!r->python.compile && strcmp(r->python.compiler, "/usr/bin/python3.11") == 0 &&
		           r->python.optimize == 2,
		   "compile: false, the compiler and level 2 are read");
}

static void test_scalars(void)
{
	_cleanup_(lade_recipe_freep) struct lade_recipe *r =
	        load_ok("name: app\ntag: 1.0\nbase:\n  oci: images/x\nfiles:\n"
	                "  - {src: models, dst: /a, mode: 0444, owner: 7}\n"
	                "  - {src: models, dst: /b, mode: 444}\n"
	                "config:\n  entrypoint: python -m app\n  cmd: []\n  stop-signal: 15\n",
	                NULL, "numbers written unquoted");
	if (r == NULL)
		return;
	is_str(r->tag, "1.0", "tag: 1.0 is the text 1.0");
	ok(r->base.tag == NULL, "base.oci without a tag");
	ok(r->n_files == 2 && r->files[0].mode == 0444 && r->files[1].mode == 0444,
	   "mode 0444 and 444 are both octal");
	ok(r->files[0].uid == 7 && r->files[0].gid == 7, "owner uid alone means uid:uid");
	ok(lade_strv_len(r->config.entrypoint) == 3, "string entrypoint is the shell form");
	is_str(r->config.entrypoint[0], "/bin/sh", "shell form starts with /bin/sh");
	is_str(r->config.entrypoint[2], "python -m app", "shell form keeps the command");
	ok(r->config.has_cmd && lade_strv_len(r->config.cmd) == 0, "cmd: [] is set to empty");
	is_str(r->config.stop_signal, "15", "numeric stop-signal");
}

static void test_cache_registry(void)
{
	_cleanup_(lade_recipe_freep) struct lade_recipe *r = load_ok(
	        "name: app\nbase: {scratch: true}\ncache:\n  to: reg.example:5000/team/cache\n"
	        "  from: reg.example:5000/team/cache\n",
	        NULL, "cache.to and a cache.from string");
	if (r) {
		is_str(r->cache_to, "reg.example:5000/team/cache", "cache.to");
		ok(lade_strv_len(r->cache_from) == 1, "one cache.from");
		is_str(r->cache_from ? r->cache_from[0] : NULL, "reg.example:5000/team/cache",
		       "cache.from as a string");
	}
	_cleanup_(lade_recipe_freep) struct lade_recipe *l = load_ok(
	        "name: app\nbase: {scratch: true}\ncache: {from: [a.example/c1, b.example/c2]}\n",
	        NULL, "a cache.from list");
	if (l) {
		ok(l->cache_to == NULL && lade_strv_len(l->cache_from) == 2, "two, no cache.to");
		is_str(l->cache_from ? l->cache_from[1] : NULL, "b.example/c2", "in order");
	}
	expect_err("name: app\nbase: {scratch: true}\ncache: {to: \"\"}\n", NULL,
	           "recipe.yaml:3:13: 'cache.to' must not be empty", "an empty cache.to");
	expect_err("name: app\nbase: {scratch: true}\ncache: {from: {a: b}}\n", NULL,
	           "recipe.yaml:3:15: 'cache.from' must be a list, not a mapping",
	           "a cache.from mapping");
}

static void test_docker_archive(void)
{
	put("base.tar", "not really a tar");
	_cleanup_(lade_recipe_freep) struct lade_recipe *r =
	        load_ok("name: app\nbase: {docker-archive: 'base.tar:repo/x:1.2'}\n", NULL,
	                "docker-archive with repo:tag");
	_cleanup_free_ char *tar = lade_path_join(tmpdir, "base.tar");
	if (r) {
		ok(r->base.kind == LADE_BASE_DOCKER_ARCHIVE, "docker-archive kind");
		is_str(r->base.ref, tar, "archive path split off");
		is_str(r->base.tag, "repo/x:1.2", "repo:tag kept");
	}
	lade_recipe_freep(&r);
	r = load_ok("name: app\nbase: {docker-archive: base.tar}\n", NULL, "plain docker-archive");
	if (r)
		ok(strcmp(r->base.ref, tar) == 0 && r->base.tag == NULL, "whole value is the file");
	lade_recipe_freep(&r);
	r = load_ok("name: app\nbase: {image: 'registry.example/python:3.11'}\n", NULL,
	            "image base");
	if (r)
		ok(r->base.kind == LADE_BASE_IMAGE &&
		           strcmp(r->base.ref, "registry.example/python:3.11") == 0,
		   "image ref kept as written");
}

static void test_yaml_errors(void)
{
	expect_err(
	        "name: app\nbase: {scratch: true}\ntag: a: b\n", NULL,
	        "recipe.yaml:3:7: malformed YAML: mapping values are not allowed in this context",
	        "malformed YAML");
	expect_err("name: &n app\nbase: {scratch: true}\n", NULL,
	           "recipe.yaml:1:7: anchors and aliases are not allowed (&n)", "an anchor");
	expect_err("name: app\nbase: {scratch: true}\ntag: *n\n", NULL,
	           "recipe.yaml:3:6: anchors and aliases are not allowed (*n)", "an alias");
	expect_err("name: app\nbase: {scratch: true}\n---\nname: b\n", NULL,
	           "recipe.yaml:3:1: only one YAML document is allowed in a recipe",
	           "two documents");
	expect_err("# nothing\n", NULL, "recipe.yaml: the recipe is empty", "an empty file");
	expect_err("- a\n- b\n", NULL, "recipe.yaml:1:1: the recipe must be a mapping, not a list",
	           "a list at the top");
	expect_err("name: app\nbase: {scratch: true}\nname: b\n", NULL,
	           "recipe.yaml:3:1: duplicate key 'name' (first at line 1)", "a duplicate key");
	expect_err("name: !python/object x\n", NULL,
	           "recipe.yaml:1:7: unsupported YAML tag '!python/object'", "a foreign tag");

	struct lade_buf deep = LADE_BUF_INIT;
	lade_buf_adds(&deep, "name: app\nbase: {scratch: true}\nlabels: ");
	for (int i = 0; i < 40; i++)
		lade_buf_addch(&deep, '[');
	for (int i = 0; i < 40; i++)
		lade_buf_addch(&deep, ']');
	lade_buf_addch(&deep, '\n');
	/* the top mapping is level 1, so the 32nd '[' (column 40) is level 33 */
	expect_err(deep.data, NULL, "recipe.yaml:3:40: nesting deeper than 32 levels",
	           "nesting deeper than 32");
	lade_buf_release(&deep);

	struct lade_buf big = LADE_BUF_INIT;
	lade_buf_adds(&big, "name: app\nbase: {scratch: true}\n");
	while (big.len <= (1u << 20))
		lade_buf_adds(&big, "# padding padding padding padding padding padding\n");
	expect_err(big.data, NULL, "recipe.yaml: the recipe is larger than 1 MiB",
	           "a file over 1 MiB");
	lade_buf_release(&big);

	struct lade_recipe *r = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_recipe_load("missing.yaml", NULL, &r, &err) < 0 && err &&
	           strncmp(err->msg, "cannot read recipe missing.yaml: ", 33) == 0,
	   "a missing recipe file is named");
}

static void test_key_and_type_errors(void)
{
	expect_err("nme: app\nbase: {scratch: true}\n", NULL,
	           "recipe.yaml:1:1: unknown key 'nme' at top level (did you mean 'name'?)",
	           "unknown top-level key");
	expect_err("name: app\nbase: {scratch: true}\nconfig:\n  user: x\n  entrypont: [a]\n", NULL,
	           "recipe.yaml:5:3: unknown key 'entrypont' in config (did you mean "
	           "'entrypoint'?)",
	           "unknown nested key");
	expect_err("name: app\nbase: {scratch: true}\nfiles:\n  - {src: models, dst: /m, "
	           "zzzzzz: 1}\n",
	           NULL, "recipe.yaml:4:28: unknown key 'zzzzzz' in files[0]",
	           "unknown key without suggestion");
	expect_err("name: app\nbase: {scratch: true}\ntag:\n  a: b\n", NULL,
	           "recipe.yaml:4:3: 'tag' must be a string, not a mapping", "tag as a mapping");
	expect_err("name: app\nbase: {scratch: true}\nplatforms: linux/amd64\n", NULL,
	           "recipe.yaml:3:12: 'platforms' must be a list, not a string",
	           "platforms as a string");
	expect_err("name: app\nbase: {scratch: true}\nconfig: {volumes: [/a, [b]]}\n", NULL,
	           "recipe.yaml:3:24: 'config.volumes[1]' must be a string, not a list",
	           "a list inside a string list");
	expect_err("name: app\nbase: {scratch: true}\npython:\n", NULL,
	           "recipe.yaml:3:8: 'python' must be a mapping, not null", "python: null");
	expect_err("base: {scratch: true}\n", NULL, "recipe.yaml:1:1: name is required",
	           "missing name");
	expect_err("name: My_App\nbase: {scratch: true}\n", NULL,
	           "recipe.yaml:1:7: name 'My_App' must be lowercase letters, digits, '.', '_' "
	           "and '-', starting with a letter or digit",
	           "a bad name");
	expect_err("name: app\nbase: {scratch: true}\nfiles:\n  - {src: models, dst: /m, "
	           "dockerignore: yes}\n",
	           NULL,
	           "recipe.yaml:4:42: 'files[0].dockerignore' must be true or false, not 'yes'",
	           "a bad boolean");
}

static void test_value_errors(void)
{
	const char *head = "name: app\nbase: {scratch: true}\n";
	struct {
		const char *body, *want, *what;
	} cases[] = {
	        {"files:\n  - src: models/\n    dst: /m\n  - src: srcx/\n    dst: /app\n",
	         "recipe.yaml:6:10: files[1].src 'srcx/' does not exist", "a missing src"},
	        {"files:\n  - {src: models, dst: app}\n",
	         "recipe.yaml:4:24: files[0].dst 'app' must be an absolute path", "a relative dst"},
	        {"files:\n  - {src: models, dst: /../x}\n",
	         "recipe.yaml:4:24: files[0].dst '/../x' climbs above the root", "a climbing dst"},
	        {"files:\n  - {dst: /x}\n", "recipe.yaml:4:5: files[0].src is required",
	         "a missing src key"},
	        {"files:\n  - {src: models, dst: /m, mode: 999}\n",
	         "recipe.yaml:4:34: files[0].mode '999' must be an octal mode from 0000 to 7777",
	         "a non-octal mode"},
	        {"files:\n  - {src: models, dst: /m, mode: \"10000\"}\n",
	         "recipe.yaml:4:34: files[0].mode '10000' must be an octal mode from 0000 to 7777",
	         "a mode above 07777"},
	        {"files:\n  - {src: models, dst: /m, owner: root}\n",
	         "recipe.yaml:4:35: files[0].owner 'root' must be numeric \"UID:GID\" or \"UID\"",
	         "a named owner"},
	        {"files:\n  - {src: models, dst: /m, owner: \"1:\"}\n",
	         "recipe.yaml:4:35: files[0].owner '1:' must be numeric \"UID:GID\" or \"UID\"",
	         "an owner without gid"},
	        {"config: {expose: [70000]}\n",
	         "recipe.yaml:3:19: config.expose[0] '70000' must be PORT[/tcp|udp|sctp] with a "
	         "port "
	         "from 1 to 65535",
	         "a port above 65535"},
	        {"config: {expose: [8080/tcp, 80/http]}\n",
	         "recipe.yaml:3:29: config.expose[1] '80/http' must be PORT[/tcp|udp|sctp] with a "
	         "port from 1 to 65535",
	         "an unknown protocol"},
	        {"config: {expose: [0]}\n",
	         "recipe.yaml:3:19: config.expose[0] '0' must be PORT[/tcp|udp|sctp] with a port "
	         "from 1 to 65535",
	         "port 0"},
	        {"config: {workdir: app}\n",
	         "recipe.yaml:3:19: config.workdir 'app' must be an absolute path",
	         "a relative workdir"},
	        {"config: {stop-signal: TERM}\n",
	         "recipe.yaml:3:23: config.stop-signal 'TERM' must be a signal name like SIGTERM "
	         "or "
	         "a number from 1 to 64",
	         "a bad stop-signal"},
	        {"config: {env: {A: {b: c}}}\n",
	         "recipe.yaml:3:19: 'config.env.A' must be a string, not a mapping",
	         "a mapping env value"},
	        {"config: {env: {A=B: c}}\n",
	         "recipe.yaml:3:16: config.env name 'A=B' must not contain '='", "'=' in env name"},
	        {"config: {cmd: {a: b}}\n",
	         "recipe.yaml:3:15: 'config.cmd' must be a list or a string, not a mapping",
	         "a mapping cmd"},
	        {"platforms: [linux]\n",
	         "recipe.yaml:3:13: platforms[0] 'linux' must look like os/arch[/variant] "
	         "(linux/amd64)",
	         "a platform without arch"},
	        {"platforms: [linux/amd64, linux/amd64]\n",
	         "recipe.yaml:3:26: platforms[1] 'linux/amd64' is listed twice",
	         "a repeated platform"},
	        {"libc: glibc\n", "recipe.yaml:3:7: libc 'glibc' must be glibc-X.Y or musl-X.Y",
	         "a bad libc"},
	        {"layers: {max-layers: 126}\n",
	         "recipe.yaml:3:22: layers.max-layers '126' must be from 1 to 125",
	         "max-layers 126"},
	        {"layers: {max-layers: 0}\n",
	         "recipe.yaml:3:22: layers.max-layers '0' must be from 1 to 125", "max-layers 0"},
	        {"layers: {split-threshold: 64 MiB}\n",
	         "recipe.yaml:3:27: layers.split-threshold '64 MiB' is not a size (like 64MiB, "
	         "500MB "
	         "or 1.5GiB)",
	         "a bad size"},
	        {"output: {max-size: 12 parsecs}\n",
	         "recipe.yaml:3:20: output.max-size '12 parsecs' is not a size (like 64MiB, 500MB "
	         "or 1.5GiB)",
	         "a bad max-size"},
	        {"layers: {groups: [{name: a, files: [/x]}, {name: a, packages: [b]}]}\n",
	         "recipe.yaml:3:50: layers.groups[1].name 'a' is used twice", "a repeated group"},
	        {"layers: {groups: [{name: a}]}\n",
	         "recipe.yaml:3:19: layers.groups[0] needs packages or files", "an empty group"},
	        {"output: {format: tar}\n",
	         "recipe.yaml:3:18: output.format 'tar' must be one of oci, oci-archive, "
	         "docker-archive",
	         "a bad output format"},
	        {"output: {compression: xz}\n",
	         "recipe.yaml:3:23: output.compression 'xz' must be one of gzip, zstd, none",
	         "a bad compression"},
	        {"output: {lazy: soci}\n",
	         "recipe.yaml:3:16: output.lazy 'soci' must be one of estargz, zstd-chunked, none",
	         "a bad lazy format"},
	        {"output: {prefetch: [\"a/[b\"]}\n",
	         "recipe.yaml:3:21: output.prefetch[0]: 'a/[b' is not a valid glob",
	         "a bad prefetch glob"},
	        {"output: {sbom: yes}\n",
	         "recipe.yaml:3:16: output.sbom 'yes' must be one of spdx, cyclonedx, none",
	         "a bad sbom"},
	        {"annotations: [a]\n",
	         "recipe.yaml:3:14: 'annotations' must be a mapping, not a list",
	         "annotations as a list"},
	        {"python: {venv: /v}\n", "recipe.yaml:3:1: python.lock is required",
	         "python without a lock"},
	        {"python: {lock: nope.lock}\n",
	         "recipe.yaml:3:16: python.lock 'nope.lock' does not exist", "a missing lock"},
	        {"python: {lock: models}\n",
	         "recipe.yaml:3:16: python.lock 'models' is a directory, not a file",
	         "a directory as lock"},
	        {"python: {lock: requirements.lock, venv: /v, site-packages: system}\n",
	         "recipe.yaml:3:45: python: venv and site-packages are mutually exclusive",
	         "venv and site-packages"},
	        {"python: {lock: requirements.lock, site-packages: user}\n",
	         "recipe.yaml:3:50: python.site-packages 'user' must be 'system'",
	         "site-packages not system"},
	        {"python: {lock: requirements.lock, optimize: 3}\n",
	         "recipe.yaml:3:45: python.optimize '3' must be 0, 1 or 2", "optimize 3"},
	        {"python: {lock: requirements.lock, compile: maybe}\n",
	         "recipe.yaml:3:44: 'python.compile' must be true or false, not 'maybe'",
	         "compile not a bool"},
	        {"python: {lock: requirements.lock, version: 2.7}\n",
	         "recipe.yaml:3:44: python.version '2.7' must look like 3.X (\"3.11\")",
	         "python 2"},
	        {"python: {lock: requirements.lock, wheelhouse: [requirements.lock]}\n",
	         "recipe.yaml:3:48: python.wheelhouse[0] 'requirements.lock' is not a directory",
	         "a file as wheelhouse"},
	        {"python: {lock: requirements.lock, wheelhouse: [nowhere]}\n",
	         "recipe.yaml:3:48: python.wheelhouse[0] 'nowhere' does not exist",
	         "a missing wheelhouse"},
	        {"python: {lock: requirements.lock, interpreter: python3}\n",
	         "recipe.yaml:3:48: python.interpreter 'python3' must be an absolute path",
	         "a relative interpreter"},
	        {"default: true\n", "recipe.yaml:3:1: 'default' is only valid inside a variant",
	         "default at top level"},
	};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *yaml = xasprintf("%s%s", head, cases[i].body);
		expect_err(yaml, NULL, cases[i].want, cases[i].what);
	}
}

static void test_base_errors(void)
{
	expect_err("name: app\nbase:\n  oci: images/x\n  scratch: true\n", NULL,
	           "recipe.yaml:4:3: base: exactly one of oci, docker-archive, image, scratch is "
	           "required (both 'oci' and 'scratch' are given)",
	           "two base kinds");
	expect_err("name: app\nbase: {scratch: false}\n", NULL,
	           "recipe.yaml:2:1: base: exactly one of oci, docker-archive, image, scratch is "
	           "required",
	           "no base kind");
	expect_err("name: app\n", NULL,
	           "recipe.yaml:1:1: base: exactly one of oci, docker-archive, image, scratch is "
	           "required",
	           "no base at all");
	expect_err("name: app\nbase: {oci: 'images/x:'}\n", NULL,
	           "recipe.yaml:2:13: base.oci 'images/x:' must be DIR or DIR:TAG",
	           "an empty oci tag");
	expect_err("name: app\nbase: {ocl: x}\n", NULL,
	           "recipe.yaml:2:8: unknown key 'ocl' in base (did you mean 'oci'?)",
	           "a typo in base");
}

static const char variants_recipe[] = "name: app\n"
                                      "base: {scratch: true}\n"
                                      "python:\n"
                                      "  lock: requirements.lock\n"
                                      "  exclude: [a, b]\n"
                                      "files:\n"
                                      "  - {src: models, dst: /models}\n"
                                      "  - {src: src, dst: /app}\n"
                                      "config:\n"
                                      "  user: \"1:1\"\n"
                                      "  env: {A: \"1\", B: \"2\"}\n"
                                      "variants:\n"
                                      "  production:\n"
                                      "    python: {lock: cpu.lock}\n"
                                      "  lightweight:\n"
                                      "    default: true\n"
                                      "    files: [{src: src/, dst: /srv}]\n"
                                      "    config: {env: {B: \"20\", C: \"3\"}, user: null}\n"
                                      "    python: {exclude: [c]}\n"
                                      "  full: {}\n";

static void test_variants(void)
{
	put("cpu.lock", "x==1\n");
	_cleanup_(lade_recipe_freep) struct lade_recipe *r =
	        load_ok(variants_recipe, NULL, "a recipe with variants, no variant asked");
	if (r) {
		ok(r->variant == NULL, "no variant applied");
		ok(lade_strv_len(r->variant_names) == 3, "three variants declared");
		if (lade_strv_len(r->variant_names) == 3) {
			is_str(r->variant_names[0], "production", "variants in file order (1)");
			is_str(r->variant_names[2], "full", "variants in file order (3)");
		}
		is_str(r->default_variant, "lightweight", "default variant");
		ok(r->n_files == 2, "top-level files kept");
	}
	lade_recipe_freep(&r);

	r = load_ok(variants_recipe, "production", "variant production");
	if (r) {
		is_str(r->variant, "production", "variant recorded");
		_cleanup_free_ char *cpu = lade_path_join(tmpdir, "cpu.lock");
		is_str(r->python.lock, cpu, "overlay replaces python.lock");
		ok(lade_strv_len(r->python.exclude) == 2, "overlay map merge keeps python.exclude");
		ok(r->n_files == 2, "files untouched by production");
	}
	lade_recipe_freep(&r);

	r = load_ok(variants_recipe, "lightweight", "variant lightweight");
	if (r) {
		ok(r->n_files == 1 && strcmp(r->files[0].dst, "/srv") == 0,
		   "overlay list replaces files");
		ok(r->files[0].line == 17, "replaced item keeps the variant's line");
		ok(lade_strv_len(r->python.exclude) == 1 && strcmp(r->python.exclude[0], "c") == 0,
		   "overlay list replaces python.exclude");
		_cleanup_free_ char *lock = lade_path_join(tmpdir, "requirements.lock");
		is_str(r->python.lock, lock, "python.lock inherited");
		ok(r->config.n_env == 3, "env maps merge key by key");
		if (r->config.n_env == 3) {
			is_str(r->config.env[1].value, "20", "env B overridden in place");
			is_str(r->config.env[2].key, "C", "env C appended");
		}
		ok(r->config.user == NULL, "null in an overlay removes the key");
	}
	lade_recipe_freep(&r);

	r = load_ok(variants_recipe, "full", "empty variant full");
	if (r)
		ok(r->n_files == 2 && strcmp(r->variant, "full") == 0,
		   "empty overlay changes nothing");

	struct lade_recipe *bad = NULL;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(lade_recipe_load("recipe.yaml", "prod", &bad, &err) < 0, "unknown variant refused");
	is_str(err ? err->msg : NULL,
	       "recipe.yaml: unknown variant 'prod' (declared: production, lightweight, full)",
	       "unknown variant lists the declared ones");

	expect_err("name: app\nbase: {scratch: true}\n", "prod",
	           "recipe.yaml: unknown variant 'prod' (the recipe declares none)",
	           "a variant of a recipe without variants");
	expect_err("name: app\nbase: {scratch: true}\nvariants:\n  a: {default: true}\n  b: "
	           "{default: true}\n",
	           NULL, "recipe.yaml:5:7: variants 'a' and 'b' are both marked default",
	           "two default variants");
	expect_err("name: app\nbase: {scratch: true}\nvariants:\n  a: {variants: {b: {}}}\n", NULL,
	           "recipe.yaml:4:7: variants cannot be nested (in variant 'a')",
	           "nested variants");
	expect_err("name: app\nbase: {scratch: true}\nvariants:\n  a: {cmd: [x]}\n", NULL,
	           "recipe.yaml:4:7: unknown key 'cmd' in variants.a",
	           "an unknown key in a variant");
	expect_err("name: app\nbase: {scratch: true}\nvariants:\n  a: {config: {cmd: {}}}\n", "a",
	           "recipe.yaml:4:21: 'config.cmd' must be a list or a string, not a mapping",
	           "an overlay error points into the variant");
	expect_err("name: app\nbase: {scratch: true}\nvariants:\n  a: {default: maybe}\n", NULL,
	           "recipe.yaml:4:16: 'variants.a.default' must be true or false, not 'maybe'",
	           "a bad default");

	/* switching the base kind in a variant with null */
	lade_recipe_freep(&r);
	r = load_ok("name: app\nbase: {oci: images/x}\nvariants:\n  s: {base: {oci: ~, scratch: "
	            "true}}\n",
	            "s", "a variant switching base kind");
	if (r)
		ok(r->base.kind == LADE_BASE_SCRATCH && r->base.ref == NULL,
		   "oci removed, scratch set");

	char **names = NULL;
	char *def = NULL;
	lade_error_freep(&err);
	put("recipe.yaml", variants_recipe);
	ok(lade_recipe_variants("recipe.yaml", &names, &def, &err) == 0, "variants listed");
	ok(lade_strv_len(names) == 3 && strcmp(names[1], "lightweight") == 0,
	   "variants() names in file order");
	is_str(def, "lightweight", "variants() default");
	lade_strv_free(names);
	free(def);
	put("recipe.yaml", "name: app\nbase: {scratch: true}\n");
	ok(lade_recipe_variants("recipe.yaml", &names, &def, &err) == 0 && names == NULL &&
	           def == NULL,
	   "no variants: NULL names and default");
	put("recipe.yaml", "name: app\nvariants: [a]\n");
	ok(lade_recipe_variants("recipe.yaml", &names, &def, &err) < 0 && names == NULL,
	   "bad variants");
	is_str(err ? err->msg : NULL, "recipe.yaml:2:11: 'variants' must be a mapping, not a list",
	       "variants() checks the shape");
}

int main(void)
{
	_cleanup_free_ char *made = make_tmpdir("test-recipe");
	if (chdir(made) < 0)
		bail_out("cannot enter %s: %s", made, strerror(errno));
	/* the recipe dir as the code sees it (TMPDIR may contain symlinks or "..") */
	_cleanup_free_ char *abs = lade_path_absolute(NULL, made);
	snprintf(tmpdir, sizeof(tmpdir), "%s", abs);

	mkdir_rel("models");
	mkdir_rel("src");
	mkdir_rel("wheels");
	mkdir_rel("more-wheels");
	mkdir_rel("images/python");
	put("requirements.lock", "six==1.16.0\n");
	put("src/app.py", "print(1)\n");

	test_full();
	test_defaults();
	test_scalars();
	test_cache_registry();
	test_docker_archive();
	test_yaml_errors();
	test_key_and_type_errors();
	test_value_errors();
	test_base_errors();
	test_variants();

	if (chdir("/") == 0)
		rm_rf(tmpdir);
	return tap_done();
}
