/* lade — the build orchestration (see include/lade/build.h).
 *
 * One direction of flow: recipe → base (verified, blobs imported) → base tree → layers (each
 * written in one pass: tar → digest → compress → digest → store) → config → manifest → and,
 * last, index.json. Nothing is referenced before it is complete on disk. */
#include <errno.h>
#include <string.h>

#include "budget.h"
#include "build-private.h"
#include "lazy-options.h"
#include "lade/archive.h"
#include "lade/base.h"
#include "lade/cache.h"
#include "lade/build.h"
#include "lade/compress.h"
#include "lade/files.h"
#include "lade/image.h"
#include "lade/install.h"
#include "lade/layer.h"
#include "lade/libc.h"
#include "lade/plan.h"
#include "lade/prepare.h"
#include "lade/select.h"
#include "lade/recipe.h"
#include "lade/registry.h"
#include "lade/sbom.h"
#include "lade/store.h"
#include "lade/tree.h"
#include "lade/util.h"
#include "lade/venv.h"
#include "lade/wheel.h"

static void sbom_ctx_release(struct build_ctx *c)
{
	free(c->key_extra);
	lade_strv_free(c->prefetch);
	free(c->sbom_files);
	lade_strv_free(c->sbom_strs);
	free(c->sbom_json);
}

static int sbom_collect_file(void *ctx, const struct lade_entry *e, struct lade_error **err)
{
	struct build_ctx *c = ctx;
	if (e->type != LADE_ENTRY_FILE)
		return 0;
	char d[LADE_DIGEST_STRLEN], sha1[LADE_SHA1_HEXLEN];
	if (e->src_path) {
		if (lade_sha1_sha256_file(e->src_path, sha1, d, err) < 0)
			return -1;
	} else {
		lade_sha256_buf(e->data.data, e->data.len, d);
		lade_sha1_buf(e->data.data, e->data.len, sha1);
	}
	lade_grow(&c->sbom_files, sizeof(*c->sbom_files), c->n_sbom_files + 1,
	          &c->sbom_files_alloc);
	lade_strv_push(&c->sbom_strs, e->path);
	lade_strv_push(&c->sbom_strs, lade_digest_hex(d));
	lade_strv_push(&c->sbom_strs, sha1);
	size_t n = lade_strv_len(c->sbom_strs);
	c->sbom_files[c->n_sbom_files++] =
	        (struct lade_sbom_file){.path = c->sbom_strs[n - 3],
	                                .sha256_hex = c->sbom_strs[n - 2],
	                                .size = e->size,
	                                .sha1_hex = c->sbom_strs[n - 1]};
	return 0;
}

void build_emit(const struct build_ctx *c, const struct lade_build_event *ev)
{
	if (c->o->progress)
		c->o->progress(c->o->progress_ctx, ev);
}

void build_note(const struct build_ctx *c, const char *fmt, ...)
{
	if (c->o->progress == NULL)
		return;
	struct lade_buf b = LADE_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	build_emit(c, &(struct lade_build_event){.kind = LADE_BUILD_EVENT_NOTE, .text = b.data});
	lade_buf_release(&b);
}

static void image_release(struct lade_build_image *im)
{
	free(im->ref);
	free(im->variant);
	free(im->platform);
	free(im->max_size_where);
	for (size_t i = 0; i < im->n_layers; i++) {
		free(im->layers[i].comment);
		free(im->layers[i].compressor);
		free(im->layers[i].media_type);
	}
	free(im->layers);
}

void lade_build_report_free(struct lade_build_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_images; i++)
		image_release(&r->images[i]);
	free(r->images);
	for (size_t i = 0; i < r->n_refs; i++) {
		free(r->refs[i].name);
		free(r->refs[i].variant);
	}
	free(r->refs);
	free(r->layout);
	free(r);
}

void lade_build_report_freep(struct lade_build_report **r)
{
	lade_build_report_free(*r);
	*r = NULL;
}

static struct lade_build_layer *image_add_layer(struct lade_build_image *im, size_t *alloc)
{
	lade_grow(&im->layers, sizeof(*im->layers), im->n_layers + 1, alloc);
	struct lade_build_layer *l = &im->layers[im->n_layers++];
	memset(l, 0, sizeof(*l));
	return l;
}

static struct lade_layer_options layer_options(const struct build_ctx *c,
                                               const struct lade_tree *tree)
{
	return (struct lade_layer_options){
	        .compression = c->compression,
	        .level = c->o->level,
	        .jobs = c->o->jobs > 0 ? c->o->jobs : 1,
	        .mtime = c->epoch,
	        .base = tree,
	        .key_extra = c->key_extra,
	        .lazy = c->lazy,
	        .prefetch = c->prefetch,
	};
}

/* A layer written (or taken from a cache) into the image report and the config. */
static void record_layer(struct build_ctx *c, const char *comment, const char *created_by,
                         const struct lade_layer_result *res, bool reused, bool registry,
                         struct lade_build_image *im, size_t *alloc, json_t *config, size_t index,
                         size_t total)
{
	build_emit(c, &(struct lade_build_event){.kind = LADE_BUILD_EVENT_LAYER,
	                                         .name = comment,
	                                         .index = index,
	                                         .count = total,
	                                         .entries = res->entries,
	                                         .bytes_in = res->tar_size,
	                                         .bytes_out = res->size,
	                                         .digest = res->digest,
	                                         .reused = reused,
	                                         .registry = registry});
	struct lade_build_layer *bl = image_add_layer(im, alloc);
	memcpy(bl->digest, res->digest, sizeof(bl->digest));
	memcpy(bl->diff_id, res->diff_id, sizeof(bl->diff_id));
	bl->size = res->size;
	bl->tar_size = res->tar_size;
	bl->media_type = xstrdup(res->media_type);
	bl->comment = xstrdup(comment);
	bl->compressor = xstrdup(lade_compression_describe(c->compression, c->o->level));
	bl->reused = reused;
	bl->remote = c->o->push_only && !lade_store_has(c->store, res->digest);
	memcpy(bl->toc_digest, res->toc_digest, sizeof(bl->toc_digest));
	bl->prefetch_bytes = res->prefetch_bytes;
	memcpy(bl->toc_position, res->toc_position, sizeof(bl->toc_position));
	lade_config_add_layer(config, res->diff_id, created_by, comment, c->epoch);
}

/* Write one planned layer and record it in the image report and the config. ikey: its input
 * key for the registry cache, or "". */
static int write_layer(struct build_ctx *c, struct lade_layer *layer, const char *ikey,
                       const char *created_by, const struct lade_tree *tree,
                       struct lade_build_image *im, size_t *alloc, json_t *config, size_t index,
                       size_t total, struct lade_error **err)
{
	struct lade_layer_options lo = layer_options(c, tree);
	struct lade_layer_result res;
	bool reused = false, registry = false;
	if (build_layer_write(c, layer, &lo, ikey, &res, &reused, &registry, err) < 0)
		return -1; /* the layer writer names the layer */
	if (c->cache && lade_cache_warning(c->cache))
		build_note(c, "cache: %s", lade_cache_warning(c->cache));
	record_layer(c, lade_layer_comment(layer), created_by, &res, reused, registry, im, alloc,
	             config, index, total);
	return 0;
}

/* The Python notes (lock lines ignored, base distributions kept) are the build's notes. */
static void py_note(void *ctx, const char *text)
{
	build_note(ctx, "%s", text);
}

/* The per-wheel size limits are the builder's policy, not the recipe's: a recipe from a pull
 * request must not be able to raise them, so they come from the environment only.
 * LADE_WHEEL_MAX_BYTES (a size, "64GiB"; 0: no limit) and LADE_WHEEL_MAX_RATIO (0: none). */
static int wheel_limits_from_env(struct lade_wheel_limits *l, struct lade_error **err)
{
	lade_wheel_limits_default(l);
	const char *v = getenv("LADE_WHEEL_MAX_BYTES");
	if (v && *v && lade_parse_size(v, &l->max_total) < 0)
		return lade_error_set(err, 0, "LADE_WHEEL_MAX_BYTES=%s: not a size", v);
	v = getenv("LADE_WHEEL_MAX_RATIO");
	uint32_t ratio;
	if (v && *v) {
		if (lade_parse_u32(v, 10, &ratio) < 0)
			return lade_error_set(err, 0, "LADE_WHEEL_MAX_RATIO=%s: not a number", v);
		l->max_ratio = ratio;
	}
	return 0;
}

static int py_prepare(struct build_ctx *c, const struct lade_recipe *r, const char *platform,
                      const struct lade_base_image *base, const struct lade_tree *tree,
                      const char *base_libc, struct lade_py_plan *p, struct lade_error **err)
{
	const struct lade_recipe_python *py = &r->python;
	struct lade_py_spec spec = {.recipe_path = r->path,
	                            .line = py->line,
	                            .column = py->column,
	                            .interpreter = py->interpreter,
	                            .version = py->version,
	                            .venv = py->venv,
	                            .site_packages_system = py->site_packages_system,
	                            .lock = py->lock,
	                            .wheelhouse = py->wheelhouse,
	                            .exclude = py->exclude,
	                            .libc = r->libc,
	                            .hashes = lade_cache_stat_cache(c->cache),
	                            .note = py_note,
	                            .note_ctx = c};
	struct lade_wheel_limits limits;
	if (wheel_limits_from_env(&limits, err) < 0)
		return -1;
	spec.wheel_limits = &limits;
	struct lade_target t;
	if (lade_py_target(&spec, platform, base, c->store, tree, base_libc, &t, err) < 0)
		return -1;
	char tdesc[128];
	build_emit(c, &(struct lade_build_event){
	                      .kind = LADE_BUILD_EVENT_PYTHON_TARGET,
	                      .text = lade_target_describe(&t, tdesc, sizeof(tdesc))});
	if (lade_py_prepare(&spec, &t, base, tree, p, err) < 0)
		return -1;
	if (py->compile) {
		p->scheme.compiler = build_compiler_for(c->compilers, py);
		p->scheme.optimize = py->optimize;
		if (c->cache) { /* a rebuild takes the wheels' bytecode from the cache */
			p->scheme.memo_get = lade_cache_memo_get;
			p->scheme.memo_put = lade_cache_memo_put;
			p->scheme.memo_ctx = c->cache;
		}
		free(c->key_extra);
		c->key_extra = p->scheme.compiler
		                       ? xasprintf("python compiler %s",
		                                   lade_pyc_compiler_version(p->scheme.compiler))
		                       : NULL;
		if (p->scheme.compiler == NULL) /* started for every wanted variant */
			return lade_error_set(err, 0,
			                      "%s:%d:%d: python.compile: no compiler started",
			                      r->path, py->line, py->column);
	}
	return 0;
}

/* The units of an image (distributions, the venv skeleton, files items), planned into layers. */
static int plan_image(const struct lade_recipe *r, const struct lade_py_plan *p,
                      const struct lade_base_image *base, size_t has_skel, struct lade_plan **plan,
                      struct lade_error **err)
{
	size_t n_dist = p->n_sel;
	size_t n_units = n_dist + has_skel + r->n_files;
	_cleanup_free_ struct lade_plan_unit *units = xcalloc(n_units, sizeof(*units));
	_cleanup_strv_ char **names = NULL;
	for (size_t i = 0; i < n_dist; i++)
		units[i] = (struct lade_plan_unit){.name = p->sel[i].name,
		                                   .kind = LADE_UNIT_DIST,
		                                   .size = lade_wheel_installed_size(p->wheels[i])};
	if (has_skel)
		units[n_dist] = (struct lade_plan_unit){.name = "venv", .kind = LADE_UNIT_SKELETON};
	for (size_t i = 0; i < r->n_files; i++) {
		_cleanup_free_ char *name = xasprintf("files:%s", r->files[i].dst);
		lade_strv_push(&names, name);
	}
	for (size_t i = 0; i < r->n_files; i++)
		units[n_dist + has_skel + i] = (struct lade_plan_unit){
		        .name = names[i], .kind = LADE_UNIT_FILES, .files_dst = r->files[i].dst};
	if (lade_plan_layers(units, n_units, &r->layers, base->n_layers, plan, err) < 0)
		return lade_error_prefix(err, "%s: layers", r->path);
	return 0;
}

/* A files item into the layer; with --sbom its regular files are also collected, by adding
 * the same item to a scratch layer and walking it. */
static int add_files_item(struct build_ctx *c, const struct lade_recipe_files *f,
                          const struct lade_tree *tree, struct lade_layer *layer,
                          struct lade_error **err)
{
	if (lade_files_add(f, tree, layer, err) < 0)
		return -1;
	if (!c->o->sbom)
		return 0;
	_cleanup_(lade_layer_freep) struct lade_layer *scratch = lade_layer_new("sbom");
	struct lade_layer_options lo = {.compression = c->compression,
	                                .level = -1,
	                                .jobs = 1,
	                                .mtime = c->epoch,
	                                .base = tree};
	if (lade_files_add(f, tree, scratch, err) < 0)
		return -1;
	return lade_layer_walk(scratch, &lo, sbom_collect_file, c, err);
}

/* The history line of unit u, appended to created_by. */
static void unit_history(const struct lade_recipe *r, const struct lade_py_plan *p, size_t has_skel,
                         size_t u, struct lade_buf *created_by)
{
	size_t n_dist = p->n_sel;
	if (created_by->len)
		lade_buf_adds(created_by, "; ");
	if (u < n_dist) {
		lade_buf_addf(created_by, "lade install %s", p->sel[u].filename);
	} else if (u < n_dist + has_skel) {
		lade_buf_addf(created_by, "lade venv %s", r->python.venv);
	} else {
		const struct lade_recipe_files *f = &r->files[u - n_dist - has_skel];
		lade_buf_addf(created_by, "lade COPY %s %s", f->src_text, f->dst);
	}
}

/* Unit u of the plan into the layer, with its history line appended to created_by. */
static int add_unit(struct build_ctx *c, const struct lade_recipe *r, struct lade_py_plan *p,
                    size_t has_skel, const struct lade_tree *tree, size_t u,
                    struct lade_layer *layer, struct lade_buf *created_by, struct lade_error **err)
{
	size_t n_dist = p->n_sel;
	unit_history(r, p, has_skel, u, created_by);
	if (u < n_dist) {
		struct lade_install_info info = {0};
		int rc = lade_wheel_install(p->wheels[u], &p->scheme, true, layer, &info, err);
		for (char **n = info.notes; rc == 0 && n && *n; n++)
			build_note(c, "%s", *n);
		lade_install_info_release(&info);
		return rc;
	}
	if (u < n_dist + has_skel)
		return lade_venv_add(layer, r->python.venv, r->python.interpreter,
		                     r->python.version, 0, 0, err);
	return add_files_item(c, &r->files[u - n_dist - has_skel], tree, layer, err);
}

/* Where the written layers go: the image report, the config, the running layer count. */
struct image_out {
	struct lade_build_image *im;
	size_t *alloc;
	json_t *config;
	const struct lade_tree *tree;
	size_t index, total;
};

/* One planned layer, split by files over max-layer-size. */
static int write_planned_layer(struct build_ctx *c, const struct lade_plan *plan,
                               const struct lade_planned_layer *pl, struct lade_layer *layer,
                               const char *ikey, const char *created_by, struct image_out *io,
                               struct lade_error **err)
{
	if (!pl->split)
		return write_layer(c, layer, ikey, created_by, io->tree, io->im, io->alloc,
		                   io->config, ++io->index, io->total, err);
	struct lade_layer **parts = NULL;
	size_t n_parts = 0;
	if (lade_layer_split(layer, plan->max_layer_size, &parts, &n_parts, err) < 0)
		return -1;
	/* The planner's part count is an estimate; the split is what counts. */
	io->total += n_parts - lade_plan_layer_parts(plan, pl);
	int rc = 0;
	for (size_t k = 0; k < n_parts && rc == 0; k++)
		rc = write_layer(c, parts[k], "", created_by, io->tree, io->im, io->alloc,
		                 io->config, ++io->index, io->total, err);
	lade_layer_parts_free(parts, n_parts);
	return rc;
}

/* Write the layers the planner asks for: distributions (big and stable ones first, each in a
 * layer of its own so variants and rebuilds share it), the venv skeleton with the small ones,
 * then each files item, app code last. A layer over max-layer-size is split by files. */
static int write_planned_layers(struct build_ctx *c, const struct lade_recipe *r,
                                struct lade_py_plan *p, const struct lade_base_image *base,
                                const struct lade_tree *tree, struct lade_build_image *im,
                                size_t *alloc, json_t *config, struct lade_error **err)
{
	size_t has_skel = r->python.present && !r->python.site_packages_system ? 1 : 0;
	if (p->n_sel + has_skel + r->n_files == 0)
		return 0;
	_cleanup_(lade_plan_freep) struct lade_plan *plan = NULL;
	if (plan_image(r, p, base, has_skel, &plan, err) < 0)
		return -1;
	struct image_out io = {.im = im, .alloc = alloc, .config = config, .tree = tree};
	for (size_t i = 0; i < plan->n_layers; i++)
		io.total += lade_plan_layer_parts(plan, &plan->layers[i]);

	for (size_t li = 0; li < plan->n_layers; li++) {
		const struct lade_planned_layer *pl = &plan->layers[li];
		_cleanup_buf_ struct lade_buf created_by = LADE_BUF_INIT;
		/* A layer of wheels found by its input key is neither installed nor compiled. */
		char ikey[65];
		struct lade_layer_options lo = layer_options(c, tree);
		struct lade_layer_result res;
		if (build_input_key(c, r, p, has_skel, pl, &lo, ikey, err) < 0)
			return -1;
		int taken = *ikey ? build_take_by_input_key(c, ikey, &lo, pl->name, &res) : 0;
		if (taken) {
			for (size_t k = 0; k < pl->n_units; k++)
				unit_history(r, p, has_skel, pl->units[k], &created_by);
			record_layer(c, pl->name, created_by.data, &res, true, taken == 2, im,
			             alloc, config, ++io.index, io.total);
			continue;
		}
		_cleanup_(lade_layer_freep) struct lade_layer *layer = lade_layer_new(pl->name);
		for (size_t k = 0; k < pl->n_units; k++)
			if (add_unit(c, r, p, has_skel, tree, pl->units[k], layer, &created_by,
			             err) < 0)
				return -1;
		if (write_planned_layer(c, plan, pl, layer, ikey, created_by.data, &io, err) < 0)
			return -1;
	}
	return 0;
}

static json_t *build_annotations(const struct lade_build_options *o, const struct lade_recipe *r,
                                 const struct lade_base_image *base, int64_t epoch)
{
	json_t *a = json_object();
	char created[32];
	lade_format_time(epoch, created);
	json_object_set_new(a, "org.opencontainers.image.created", json_string(created));
	/* base.name is meant for a registry reference; a local layout's path would make the
	 * digest depend on where the checkout lives, so only the digest is recorded. */
	if (base->manifest_digest)
		json_object_set_new(a, "org.opencontainers.image.base.digest",
		                    json_string(base->manifest_digest));
	if (r->base.kind == LADE_BASE_IMAGE) {
		/* A registry reference is what base.name is for; drop the digest part, which
		 * base.digest already carries. */
		_cleanup_free_ char *name = xstrdup(r->base.ref);
		char *at = strchr(name, '@');
		if (at)
			*at = '\0';
		json_object_set_new(a, "org.opencontainers.image.base.name", json_string(name));
	}
	for (size_t i = 0; i < r->n_annotations; i++)
		json_object_set_new(a, r->annotations[i].key, json_string(r->annotations[i].value));
	for (char **kv = o->annotations; kv && *kv; kv++) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *key = xstrndup(*kv, (size_t)(eq - *kv));
		json_object_set_new(a, key, json_string(eq + 1));
	}
	return a;
}

/* A cached base index is a JSON tree of the base's files: far below this even for big bases. */
#define BASE_INDEX_MAX ((size_t)1 << 30)

/* The base image's file index (and libc, when wheels need it) come from decompressing every
 * base layer, which dominates a rebuild. With a layer cache they are kept in it under the base
 * manifest digest: the layers behind that digest were verified (digest and diff_id) when the
 * entry was made, and the blobs themselves are verified again on every import. */
static int base_facts(struct build_ctx *c, const struct lade_recipe *r,
                      const struct lade_base_image *base, const char *platform,
                      struct lade_tree **tree_out, char **libc_out, struct lade_error **err)
{
	bool need_libc = r->python.present && r->libc == NULL;
	_cleanup_free_ char *path = NULL;
	char key[LADE_DIGEST_STRLEN] = "";
	if (c->cache && base->manifest_digest) {
		_cleanup_free_ char *k =
		        xasprintf("lade base index v1\n%s\n%s\n", base->manifest_digest, platform);
		lade_sha256_buf(k, strlen(k), key);
		path = xasprintf("%s/bases/%s.json", lade_cache_dir(c->cache),
		                 lade_digest_hex(key));
		/* a cache entry that cannot be read (or is no regular file) is a miss; then a
		 * --cache-from repository may have it */
		_cleanup_buf_ struct lade_buf text = LADE_BUF_INIT;
		_cleanup_error_ struct lade_error *rerr = NULL;
		bool remote = false;
		if (lade_read_file(path, BASE_INDEX_MAX, &text, &rerr) < 0) {
			lade_buf_reset(&text);
			remote = lade_remote_cache_looks_up(c->remote) &&
			         lade_remote_cache_get_base_index(c->remote, lade_digest_hex(key),
			                                          BASE_INDEX_MAX, &text) == 1;
		}
		_cleanup_(json_decrefp) json_t *j =
		        text.len ? json_loadb(text.data, text.len, 0, NULL) : NULL;
		const char *libc = json_string_value(json_object_get(j, "libc"));
		_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
		_cleanup_error_ struct lade_error *ignored = NULL;
		if (j && (!need_libc || libc) &&
		    lade_tree_from_json(t, json_object_get(j, "tree"), &ignored) == 0) {
			_cleanup_error_ struct lade_error *werr = NULL;
			_cleanup_free_ char *dir = lade_path_parent_dir(path);
			if (remote &&
			    (lade_mkdir_p(dir, &werr) < 0 ||
			     lade_write_file_atomic(path, text.data, text.len, &werr) < 0))
				build_note(c, "cache: %s (the base index is not cached)",
				           werr->msg);
			if (!remote && c->remote) { /* --cache-to: the local one goes too */
				_cleanup_free_ char *copy = xstrndup(text.data, text.len);
				lade_remote_cache_remember_base_index(c->remote,
				                                      lade_digest_hex(key), copy);
			}
			*tree_out = steal_pointer(&t);
			*libc_out = libc ? xstrdup(libc) : NULL;
			return 0;
		}
		if (j && ignored)
			build_note(c, "cache: base index %s not used: %s", path, ignored->msg);
	}

	/* libc.so.6 is kept while the tree is read: one pass over the base layers, not two. */
	_cleanup_(lade_tree_freep) struct lade_tree *t = lade_tree_new();
	_cleanup_(lade_base_keep_release) struct lade_base_keep keep = LADE_BASE_KEEP_LIBC;
	if (lade_base_read_tree_keep(base, c->store, t, need_libc ? &keep : NULL, err) < 0)
		return -1;
	_cleanup_free_ char *libc = NULL;
	if (need_libc &&
	    lade_base_detect_libc_kept(base, c->store, t, &keep, platform, &libc, err) < 0)
		return lade_error_prefix(err, "%s: cannot tell the base image's libc (set libc:)",
		                         r->path);
	if (path) {
		_cleanup_(json_decrefp) json_t *j =
		        json_pack("{s:o, s:s?}", "tree", lade_tree_to_json(t), "libc", libc);
		_cleanup_free_ char *text = lade_json_dump(j);
		_cleanup_free_ char *dir = lade_path_parent_dir(path);
		_cleanup_error_ struct lade_error *werr = NULL;
		if (lade_mkdir_p(dir, &werr) < 0 ||
		    lade_write_file_atomic(path, text, strlen(text), &werr) < 0)
			build_note(c, "cache: %s (the base index is not cached)", werr->msg);
		if (c->remote)
			lade_remote_cache_remember_base_index(c->remote, lade_digest_hex(key),
			                                      text);
	}
	*tree_out = steal_pointer(&t);
	*libc_out = steal_pointer(&libc);
	return 0;
}

/* "host/repo:tag" or "…@sha256:…" (a ':' after the last '/', or an '@'), not "host:5000/repo". */
static bool push_names_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	return strchr(ref, '@') != NULL || strchr(slash ? slash : ref, ':') != NULL;
}

static struct lade_registry_options registry_options(const struct lade_build_options *o)
{
	struct lade_registry_options ro = LADE_REGISTRY_OPTIONS_INIT;
	ro.offline = o->offline;
	ro.creds = o->creds;
	ro.tls_verify = !o->tls_verify_off;
	ro.jobs = 4;
	return ro;
}

/* --cache DIR, else $LADE_CACHE_DIR, else NULL (the default store). */
static const char *cache_dir_option(const struct lade_build_options *o)
{
	const char *dir = o->cache_dir ? o->cache_dir : getenv("LADE_CACHE_DIR");
	return dir && *dir ? dir : NULL;
}

/* A base from a registry is pulled into lade's content store — the layer cache's, so the blobs
 * are kept once (verified, pinned by digest unless told otherwise; --offline uses the store
 * only) — and read from there as an OCI layout. */
static int load_base(struct build_ctx *c, const struct lade_recipe *r, const char *platform,
                     struct lade_base_image **out, struct lade_error **err)
{
	if (r->base.kind != LADE_BASE_IMAGE) {
		struct lade_base_spec spec = {r->base.kind, r->base.ref, r->base.tag};
		return lade_base_load(&spec, platform, c->store, out, err);
	}
	struct lade_registry_options ro = registry_options(c->o);
	_cleanup_free_ char *dir = NULL;
	int rc;
	if (c->cache) {
		dir = xstrdup(lade_cache_dir(c->cache));
		rc = lade_registry_pull_into(r->base.ref, platform, lade_cache_store(c->cache),
		                             c->o->allow_unpinned_base, &ro, NULL, err);
	} else {
		const char *opt = cache_dir_option(c->o);
		dir = opt ? xstrdup(opt) : lade_store_default_dir(err);
		if (dir == NULL)
			return -1;
		rc = lade_registry_pull_ex(r->base.ref, platform, dir, c->o->allow_unpinned_base,
		                           &ro, NULL, err);
	}
	if (rc < 0)
		return lade_error_prefix(err, "%s:%d:%d: base image", r->path, r->base.line,
		                         r->base.column);
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *ref = NULL;
	if (lade_registry_ref_parse(r->base.ref, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *canonical = lade_registry_ref_canonical(ref);
	struct lade_base_spec oci = {LADE_BASE_OCI, dir, canonical};
	return lade_base_load(&oci, platform, c->store, out, err);
}

/* The recipe (and variant), with its files[].src inside the build context unless
 * --allow-outside-context: like COPY, a recipe only ships what its context holds, so a CI
 * building someone else's recipe cannot be made to copy the runner's files. */
static int load_recipe(const struct lade_build_options *o, const char *variant,
                       struct lade_recipe **out, struct lade_error **err)
{
	_cleanup_(lade_recipe_freep) struct lade_recipe *r = NULL;
	if (lade_recipe_load(o->recipe_path, variant, &r, err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_files && !o->allow_outside_context; i++) {
		const struct lade_recipe_files *f = &r->files[i];
		if (f->outside_context)
			return lade_error_set(
			        err, 0,
			        "%s:%d:%d: files[%zu].src '%s' resolves to %s, outside "
			        "the build context %s (--allow-outside-context allows "
			        "it)",
			        r->path, f->line, f->column, i, f->src_text, f->src_real,
			        r->context);
	}
	*out = steal_pointer(&r);
	return 0;
}

int lade_build_needs_network(const struct lade_build_options *o, bool *needs,
                             struct lade_error **err)
{
	*needs = o->push != NULL || (!o->offline && (o->cache_to || o->cache_from));
	if (o->offline)
		return 0;
	_cleanup_strv_ char **variants = NULL;
	_cleanup_free_ char *def = NULL;
	if (lade_recipe_variants(o->recipe_path, &variants, &def, err) < 0)
		return -1;
	size_t n = lade_strv_len(variants);
	for (size_t i = 0; i < (n ? n : 1) && !*needs; i++) {
		_cleanup_(lade_recipe_freep) struct lade_recipe *r = NULL;
		if (load_recipe(o, n ? variants[i] : NULL, &r, err) < 0)
			return -1;
		*needs = r->base.kind == LADE_BASE_IMAGE || r->cache_to || r->cache_from;
	}
	return 0;
}

/* Split "os/arch[/variant]" into an OCI platform object. */
static json_t *platform_json(const char *platform)
{
	_cleanup_strv_ char **parts = NULL;
	const char *p = platform;
	while (p) {
		const char *slash = strchr(p, '/');
		_cleanup_free_ char *part = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
		lade_strv_push(&parts, part);
		p = slash ? slash + 1 : NULL;
	}
	json_t *o = json_object();
	size_t n = lade_strv_len(parts);
	json_object_set_new(o, "os", json_string(parts[0]));
	if (n > 1)
		json_object_set_new(o, "architecture", json_string(parts[1]));
	if (n > 2)
		json_object_set_new(o, "variant", json_string(parts[2]));
	return o;
}

/* A single-platform base used for another platform would silently give a broken image. */
static int check_base_platform(const struct lade_recipe *r, const struct lade_base_image *base,
                               const char *platform, struct lade_error **err)
{
	if (base->config == NULL)
		return 0;
	_cleanup_(json_decrefp) json_t *want = platform_json(platform);
	const char *arch = json_string_value(json_object_get(base->config, "architecture"));
	const char *os = json_string_value(json_object_get(base->config, "os"));
	const char *warch = json_string_value(json_object_get(want, "architecture"));
	const char *wos = json_string_value(json_object_get(want, "os"));
	if ((arch && warch && strcmp(arch, warch) != 0) || (os && wos && strcmp(os, wos) != 0))
		return lade_error_set(err, 0, "%s:%d:%d: base %s is %s/%s, not %s", r->path,
		                      r->base.line, r->base.column, base->name, os ? os : "?",
		                      arch ? arch : "?", platform);
	return 0;
}

/* The base's layers head the image's report, unchanged. */
static void add_base_layers(struct lade_build_image *im, size_t *alloc,
                            const struct lade_base_image *base)
{
	for (size_t i = 0; i < base->n_layers; i++) {
		struct lade_build_layer *bl = image_add_layer(im, alloc);
		snprintf(bl->digest, sizeof(bl->digest), "%s", base->layers[i].desc.digest);
		snprintf(bl->diff_id, sizeof(bl->diff_id), "%s", base->layers[i].diff_id);
		bl->size = base->layers[i].desc.size;
		bl->media_type = xstrdup(base->layers[i].desc.media_type);
		bl->comment = xasprintf("base %s", base->name);
		bl->from_base = true;
	}
}

/* The config over the base's, with the venv's environment ("KEY=value" strings). */
static int image_config(const struct build_ctx *c, const struct lade_recipe *r,
                        const struct lade_base_image *base, char **py_env, const char *platform,
                        json_t **config, struct lade_error **err)
{
	size_t n_env = lade_strv_len(py_env);
	_cleanup_free_ struct lade_kv *env = xcalloc(n_env ? n_env : 1, sizeof(*env));
	for (size_t i = 0; i < n_env; i++) {
		const char *eq = strchr(py_env[i], '=');
		env[i].key = xstrndup(py_env[i], (size_t)(eq - py_env[i]));
		env[i].value = xstrdup(eq + 1);
	}
	int rc = lade_config_new(base->config, &r->config, env, n_env, platform, c->epoch, config,
	                         err);
	for (size_t i = 0; i < n_env; i++) {
		free(env[i].key);
		free(env[i].value);
	}
	return rc;
}

/* The manifest (and the config digest, what `docker images` calls the image id). */
static int write_manifest(struct build_ctx *c, const struct lade_recipe *r,
                          const struct lade_base_image *base, json_t *config,
                          struct lade_build_image *im, struct lade_error **err)
{
	_cleanup_free_ struct lade_manifest_layer *ml = xcalloc(im->n_layers, sizeof(*ml));
	for (size_t i = 0; i < im->n_layers; i++) {
		ml[i].media_type = im->layers[i].media_type;
		ml[i].digest = im->layers[i].digest;
		ml[i].size = im->layers[i].size;
		ml[i].remote = im->layers[i].remote;
		/* Which compressor made the blob: diff_ids are stable across everything, blob
		 * digests only for a given compressor and version, so say which one. */
		if (im->layers[i].compressor) {
			ml[i].annotations =
			        json_pack("{s:s}", "dev.lade.compressor", im->layers[i].compressor);
		}
		lade_lazy_annotate(ml[i].annotations, &im->layers[i]);
	}
	_cleanup_(json_decrefp) json_t *annotations = build_annotations(c->o, r, base, c->epoch);
	int written = lade_image_write(c->store, config, ml, im->n_layers, annotations, im->digest,
	                               &im->manifest_size, err);
	for (size_t i = 0; i < im->n_layers; i++)
		json_decref(ml[i].annotations);
	if (written < 0)
		return -1;
	_cleanup_free_ char *config_text = lade_json_dump(config);
	im->config_size = strlen(config_text);
	lade_sha256_buf(config_text, im->config_size, im->config_digest);
	return 0;
}

/* --sbom: the image's document (its packages and the app files collected while its layers
 * were written), attached to the image as an OCI artifact. */
static int attach_sbom(struct build_ctx *c, const struct lade_recipe *r, const char *ref,
                       const struct lade_base_image *base, const struct lade_py_plan *py,
                       struct lade_build_image *im, struct lade_error **err)
{
	enum lade_sbom_format fmt;
	if (lade_sbom_parse_format(c->o->sbom, &fmt, err) < 0)
		return -1;
	_cleanup_free_ struct lade_sbom_package *pk =
	        xcalloc(py->n_sel ? py->n_sel : 1, sizeof(*pk));
	for (size_t i = 0; i < py->n_sel; i++)
		pk[i] = (struct lade_sbom_package){.name = lade_wheel_name(py->wheels[i]),
		                                   .version = lade_wheel_version(py->wheels[i]),
		                                   .wheel_filename = py->sel[i].filename,
		                                   .wheel_sha256_hex = py->sel[i].sha256_hex,
		                                   .license = lade_wheel_license(py->wheels[i])};
	/* Never a host path: the document must not depend on where the checkout is. */
	_cleanup_free_ char *base_name = NULL;
	if (r->base.kind == LADE_BASE_IMAGE)
		base_name = xstrdup(base->name);
	else if (r->base.kind != LADE_BASE_SCRATCH)
		base_name = xstrdup(r->base.tag ? r->base.tag : "latest");
	struct lade_sbom_input in = {.image_name = r->name,
	                             .ref = ref,
	                             .manifest_digest = im->digest,
	                             .manifest_size = im->manifest_size,
	                             .base_name = base_name,
	                             .base_digest = base->manifest_digest,
	                             .packages = pk,
	                             .n_packages = py->n_sel,
	                             .files = c->sbom_files,
	                             .n_files = c->n_sbom_files,
	                             .epoch = c->epoch};
	char *json = NULL;
	int src = lade_sbom_generate(fmt, &in, &json, err);
	free(c->sbom_files);
	lade_strv_free(c->sbom_strs);
	c->sbom_files = NULL;
	c->sbom_strs = NULL;
	c->n_sbom_files = c->sbom_files_alloc = 0;
	if (src < 0)
		return -1;
	free(c->sbom_json);
	c->sbom_json = json;
	return lade_sbom_attach(c->store, fmt, json, im->digest, im->manifest_size, im->sbom_digest,
	                        &im->sbom_size, err);
}

static int build_image(struct build_ctx *c, const struct lade_recipe *r, const char *ref,
                       const char *platform, struct lade_build_image *im, struct lade_error **err)
{
	im->ref = xstrdup(ref);
	im->variant = r->variant ? xstrdup(r->variant) : NULL;
	im->platform = xstrdup(platform);
	if (c->o->max_size) {
		im->max_size = c->o->max_size;
		im->max_size_where = xasprintf("--max-size %s", c->o->max_size_text);
	} else if (r->output.max_size) {
		im->max_size = r->output.max_size;
		im->max_size_where = xasprintf("output.max-size %s", r->output.max_size_text);
	}
	size_t alloc = 0;

	_cleanup_(lade_base_image_freep) struct lade_base_image *base = NULL;
	if (load_base(c, r, platform, &base, err) < 0 ||
	    check_base_platform(r, base, platform, err) < 0)
		return -1;
	_cleanup_(lade_tree_freep) struct lade_tree *tree = NULL;
	_cleanup_free_ char *base_libc = NULL;
	if (base_facts(c, r, base, platform, &tree, &base_libc, err) < 0)
		return -1;
	if (base->n_layers)
		build_emit(c, &(struct lade_build_event){.kind = LADE_BUILD_EVENT_BASE,
		                                         .name = base->name,
		                                         .count = base->n_layers,
		                                         .entries = lade_tree_count(tree)});
	add_base_layers(im, &alloc, base);
	c->variant = r->variant;
	c->platform = platform;
	c->base_digest = base->manifest_digest;
	c->n_base_layers = base->n_layers;

	if (lade_lazy_choice(c->o->lazy, r, c->compression, &c->lazy, &c->prefetch, err) < 0)
		return -1;
	_cleanup_(lade_py_plan_release) struct lade_py_plan py = {0};
	free(c->key_extra); /* per image: py_prepare sets it when it compiles */
	c->key_extra = NULL;
	if (r->python.present && py_prepare(c, r, platform, base, tree, base_libc, &py, err) < 0)
		return -1;
	/* Config first, so each written layer appends its diff_id and history entry. */
	_cleanup_(json_decrefp) json_t *config = NULL;
	if (image_config(c, r, base, py.env, platform, &config, err) < 0 ||
	    write_planned_layers(c, r, &py, base, tree, im, &alloc, config, err) < 0 ||
	    write_manifest(c, r, base, config, im, err) < 0)
		return -1;
	if (c->o->sbom && attach_sbom(c, r, ref, base, &py, im, err) < 0)
		return -1;
	return 0;
}

bool build_wanted(const struct lade_build_options *o, const char *variant)
{
	if (o->variants == NULL)
		return true;
	for (char **v = o->variants; *v; v++)
		if (strcmp(*v, variant) == 0)
			return true;
	return false;
}

static int build_into(struct build_ctx *cp, const struct lade_build_options *o, char **variants,
                      const char *default_variant, const char *outdir,
                      struct lade_build_report **out, struct lade_error **err);

/* Every --variant must be declared by the recipe. */
static int check_wanted_variants(const struct lade_build_options *o, char **declared,
                                 struct lade_error **err)
{
	for (char **v = o->variants; v && *v; v++) {
		bool found = false;
		for (char **d = declared; d && *d; d++)
			found = found || strcmp(*d, *v) == 0;
		if (!found)
			return lade_error_set(err, 0, "%s: no variant '%s' in the recipe",
			                      o->recipe_path, *v);
	}
	return 0;
}

/* Output directory (absolute), compression and format: the command line's, else the first
 * recipe load's (variants may not change them: one layout, one store). */
static int output_choice(const struct lade_build_options *o, const struct lade_recipe *first,
                         char **outdir, enum lade_compression *compression, bool *to_archive,
                         enum lade_archive_format *archive_format, struct lade_error **err)
{
	if (o->output_dir)
		*outdir = lade_path_absolute(NULL, o->output_dir);
	else if (first->output.dir)
		*outdir = xstrdup(first->output.dir);
	else if (o->push_only) /* replaced by the staging layout */
		*outdir = xstrdup("-");
	else
		return lade_error_set(
		        err, 0, "%s: no output directory: give -o DIR or output.dir in the recipe",
		        o->recipe_path);
	const char *comp = o->compression              ? o->compression
	                   : first->output.compression ? first->output.compression
	                                               : "gzip";
	if (lade_compression_parse(comp, compression) < 0)
		return lade_error_set(err, 0, "unknown compression '%s' (gzip, zstd or none)",
		                      comp);
	/* --push-only writes nothing here: the recipe's output.format does not apply */
	const char *format = o->format                               ? o->format
	                     : first->output.format && !o->push_only ? first->output.format
	                                                             : "oci";
	*to_archive = strcmp(format, "oci") != 0;
	if (*to_archive && lade_archive_format_parse(format, archive_format, err) < 0)
		return -1;
	return 0;
}

int lade_build_run(const struct lade_build_options *o, struct lade_build_report **out,
                   struct lade_error **err)
{
	struct build_ctx c = {.o = o};
	if (lade_source_date_epoch(&c.epoch, err) < 0)
		return -1;

	_cleanup_strv_ char **variants = NULL;
	_cleanup_free_ char *default_variant = NULL;
	if (lade_recipe_variants(o->recipe_path, &variants, &default_variant, err) < 0 ||
	    check_wanted_variants(o, variants, err) < 0)
		return -1;

	/* The first recipe load decides the output and compression (variants may not change
	 * them: one layout, one store). */
	_cleanup_(lade_recipe_freep) struct lade_recipe *first = NULL;
	if (load_recipe(o, variants ? variants[0] : NULL, &first, err) < 0)
		return -1;
	/* The recipe's output.sbom unless the command line says otherwise. */
	struct lade_build_options eff = *o;
	if (eff.sbom == NULL && first->output.sbom && strcmp(first->output.sbom, "none") != 0)
		eff.sbom = first->output.sbom;
	o = &eff;
	c.o = o;
	/* LADE_CACHE_MAX over the recipe's cache.max-size */
	c.cache_max = first->cache_max_size;
	const char *cache_max = getenv("LADE_CACHE_MAX");
	if (cache_max && *cache_max && lade_parse_size(cache_max, &c.cache_max) < 0)
		return lade_error_set(err, 0,
		                      "LADE_CACHE_MAX '%s' is not a size (like 500MiB or 2GiB)",
		                      cache_max);
	/* Bytecode helpers before anything is written: a missing interpreter fails here. */
	_cleanup_(lade_build_compilers_freep) struct lade_build_compilers *own = NULL;
	c.compilers = o->compilers;
	if (c.compilers == NULL) {
		if (lade_build_start_compilers(o, &own, err) < 0)
			return -1;
		c.compilers = own;
	}
	_cleanup_free_ char *outdir = NULL;
	bool to_archive = false;
	enum lade_archive_format archive_format = LADE_ARCHIVE_OCI;
	if (output_choice(o, first, &outdir, &c.compression, &to_archive, &archive_format, err) < 0)
		return -1;

	/* An archive is assembled in a private layout next to it, then written in one piece
	 * (temp, fsync, rename) by the archive writer; the layout is removed afterwards. */
	_cleanup_free_ char *archive_path = NULL;
	_cleanup_free_ char *staging = NULL;
	if (to_archive) {
		archive_path = steal_pointer(&outdir);
		_cleanup_free_ char *parent = lade_path_parent_dir(archive_path);
		staging = lade_path_join(parent, ".lade-layout-XXXXXX");
		if (mkdtemp(staging) == NULL)
			return lade_error_set(err, errno, "cannot create a staging layout in %s",
			                      parent);
		outdir = xstrdup(staging);
	}
	if (o->push_only && (o->push == NULL || to_archive))
		return lade_error_set(err, 0,
		                      "--push-only needs --push REF and writes no archive "
		                      "(--format oci)");
	_cleanup_free_ char *shown =
	        to_archive ? xasprintf("%s:%s", o->format ? o->format : first->output.format,
	                               archive_path)
	                   : xstrdup(outdir);
	c.shown = shown;
	c.first = first;
	int rc = build_into(&c, o, variants, default_variant, outdir, out, err);

	if (rc == 0 && to_archive) {
		struct lade_build_report *rep = *out;
		_cleanup_strv_ char **refs = NULL;
		for (size_t i = 0; i < rep->n_refs; i++)
			lade_strv_push(&refs, rep->refs[i].name);
		rc = lade_archive_write(outdir, refs, archive_format, first->name, c.epoch,
		                        archive_path, err);
		free(rep->layout);
		rep->layout = xstrdup(archive_path);
		if (rc < 0) {
			lade_build_report_free(rep);
			*out = NULL;
		}
	}
	if (staging) {
		_cleanup_error_ struct lade_error *rm_err = NULL;
		if (lade_remove_tree(staging, &rm_err) < 0 && rc == 0)
			rc = lade_error_set(err, rm_err->sys_errno, "%s", rm_err->msg);
	}
	if (c.over) {
		if (rc == 0) {
			lade_build_report_free(*out);
			*out = NULL;
			rc = lade_error_set(err, 0, "%s", c.over->msg);
		}
		lade_error_free(c.over);
	}
	return rc;
}

/* A ref for the images [first, rep->n_images) of one variant. One platform: the manifest
 * itself. Several: an image index whose entries carry the platform objects, the way
 * multi-arch images are published. */
static int variant_ref(struct build_ctx *c, const struct lade_build_report *rep, size_t first,
                       struct lade_build_ref *br, struct lade_error **err)
{
	if (rep->n_images - first == 1) {
		memcpy(br->digest, rep->images[first].digest, sizeof(br->digest));
		br->size = rep->images[first].manifest_size;
		return 0;
	}
	_cleanup_(json_decrefp) json_t *manifests = json_array();
	for (size_t i = first; i < rep->n_images; i++) {
		const struct lade_build_image *im = &rep->images[i];
		json_array_append_new(manifests,
		                      json_pack("{s:s, s:s, s:I, s:o}", "mediaType",
		                                LADE_MT_OCI_MANIFEST, "digest", im->digest, "size",
		                                (json_int_t)im->manifest_size, "platform",
		                                platform_json(im->platform)));
	}
	_cleanup_(json_decrefp) json_t *index =
	        json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", LADE_MT_OCI_INDEX,
	                  "manifests", manifests);
	_cleanup_free_ char *text = lade_json_dump(index);
	br->size = strlen(text);
	br->is_index = true;
	return lade_store_put(c->store, text, br->size, br->digest, err);
}

struct report_alloc {
	size_t images, refs;
};

/* One variant (vname NULL: the recipe without variants): every platform's image, then its
 * refs — tag-variant, and the plain tag too for the default variant. */
static int build_variant(struct build_ctx *c, const char *vname, const char *default_variant,
                         struct lade_build_report *rep, struct report_alloc *ra,
                         struct lade_error **err)
{
	const struct lade_build_options *o = c->o;
	_cleanup_(lade_recipe_freep) struct lade_recipe *r = NULL;
	if (load_recipe(o, vname, &r, err) < 0)
		return -1;
	const char *tag = o->tag ? o->tag : r->tag;
	_cleanup_free_ char *ref = vname ? xasprintf("%s-%s", tag, vname) : xstrdup(tag);
	if (vname)
		build_emit(c, &(struct lade_build_event){.kind = LADE_BUILD_EVENT_VARIANT,
		                                         .name = vname});
	size_t first_image = rep->n_images;
	for (char **pl = r->platforms; *pl; pl++) {
		if (r->platforms[1])
			build_emit(c, &(struct lade_build_event){.kind = LADE_BUILD_EVENT_PLATFORM,
			                                         .name = *pl});
		lade_grow(&rep->images, sizeof(*rep->images), rep->n_images + 1, &ra->images);
		struct lade_build_image *im = &rep->images[rep->n_images++];
		memset(im, 0, sizeof(*im));
		if (build_image(c, r, ref, *pl, im, err) < 0)
			return -1;
	}
	struct lade_build_ref br = {0};
	if (variant_ref(c, rep, first_image, &br, err) < 0)
		return -1;
	bool is_default = vname && default_variant && strcmp(vname, default_variant) == 0;
	for (int k = 0; k < (is_default ? 2 : 1); k++) {
		lade_grow(&rep->refs, sizeof(*rep->refs), rep->n_refs + 1, &ra->refs);
		struct lade_build_ref *dst = &rep->refs[rep->n_refs++];
		*dst = br;
		dst->name = xstrdup(k == 0 ? ref : tag);
		dst->variant = vname ? xstrdup(vname) : NULL;
	}
	return 0;
}

/* index.json last: every blob it names is already complete in the store. */
static int write_index(struct build_ctx *c, const struct lade_build_report *rep,
                       struct lade_error **err)
{
	_cleanup_free_ struct lade_index_entry *entries =
	        xcalloc(rep->n_refs + rep->n_images, sizeof(*entries));
	size_t n_entries = rep->n_refs;
	for (size_t i = 0; i < rep->n_refs; i++)
		entries[i] = (struct lade_index_entry){
		        .media_type =
		                rep->refs[i].is_index ? LADE_MT_OCI_INDEX : LADE_MT_OCI_MANIFEST,
		        .digest = rep->refs[i].digest,
		        .size = rep->refs[i].size,
		        .ref_name = rep->refs[i].name,
		};
	/* SBOM artifacts: listed without a ref name, found through their subject. */
	for (size_t i = 0; i < rep->n_images; i++)
		if (rep->images[i].sbom_digest[0])
			entries[n_entries++] =
			        (struct lade_index_entry){.media_type = LADE_MT_OCI_MANIFEST,
			                                  .digest = rep->images[i].sbom_digest,
			                                  .size = rep->images[i].sbom_size};
	if (c->o->sbom_out) {
		if (rep->n_images != 1)
			return lade_error_set(
			        err, 0, "--sbom-out needs exactly one image, this build makes %zu",
			        rep->n_images);
		if (lade_write_file_atomic(c->o->sbom_out, c->sbom_json, strlen(c->sbom_json),
		                           err) < 0)
			return -1;
	}
	return lade_layout_update_index(c->store, entries, n_entries, err);
}

/* Push last: the layout is complete and verified by construction. One ref: to PUSH as given;
 * several (variants): PUSH names the repository and each ref is its tag. */
static int push_refs(struct build_ctx *c, const struct lade_build_report *rep, const char *outdir,
                     struct lade_error **err)
{
	const struct lade_build_options *o = c->o;
	_cleanup_(lade_registry_ref_freep) struct lade_registry_ref *pr = NULL;
	if (lade_registry_ref_parse(o->push, &pr, err) < 0)
		return lade_error_prefix(err, "--push");
	struct lade_registry_options ro = registry_options(o);
	for (size_t i = 0; i < rep->n_refs; i++) {
		_cleanup_free_ char *image = xasprintf("%s:%s", outdir, rep->refs[i].name);
		_cleanup_free_ char *dest = NULL;
		if (rep->n_refs == 1)
			dest = xstrdup(o->push);
		else if (!push_names_tag(o->push))
			dest = xasprintf("%s:%s", o->push, rep->refs[i].name);
		else
			return lade_error_set(err, 0,
			                      "--push %s names a tag but the build made %zu refs: "
			                      "give the repository only",
			                      o->push, rep->n_refs);
		char digest[LADE_DIGEST_STRLEN];
		struct lade_push_stats stats = {0};
		if (lade_registry_push(image, dest, &ro, digest, &stats, err) < 0)
			return -1;
		build_emit(c, &(struct lade_build_event){.kind = LADE_BUILD_EVENT_PUSHED,
		                                         .name = dest,
		                                         .digest = digest,
		                                         .push = &stats});
	}
	return 0;
}

/* cache.max-size or LADE_CACHE_MAX: trim the cache while this build still holds it (so what
 * it just wrote is the most recently used). The image is complete: a failure is a note. */
static void trim_cache(struct build_ctx *c)
{
	if (c->cache == NULL || c->cache_max == 0)
		return;
	struct lade_cache_gc_options go = {.max_size = c->cache_max, .older_than_s = -1};
	struct lade_cache_gc_report r;
	_cleanup_error_ struct lade_error *e = NULL;
	if (lade_cache_gc(c->cache, &go, &r, &e) < 0) {
		build_note(c, "cache: not trimmed: %s", e->msg);
		return;
	}
	if (r.entries || r.blobs.blobs) {
		char freed[32];
		lade_human_size(r.blobs.bytes + r.entry_bytes, freed, sizeof(freed));
		build_note(c, "cache: trimmed %zu entries and %zu blobs (%s)", r.entries,
		           r.blobs.blobs, freed);
	}
	lade_cache_gc_report_release(&r);
}

/* The layer cache: content-keyed, so a rebuild after an app change compresses the app layer
 * only. Tests and one-off builds turn it off with LADE_NO_CACHE=1. */
static int open_cache(const struct lade_build_options *o, struct lade_cache **out,
                      struct lade_error **err)
{
	const char *no_cache_env = getenv("LADE_NO_CACHE");
	bool use_cache = !o->no_cache && (o->cache_dir || !(no_cache_env && *no_cache_env));
	if (!use_cache)
		return 0;
	if (lade_cache_open(cache_dir_option(o), out, err) < 0)
		return -1;
	lade_store_set_link_blobs(lade_cache_store(*out), o->link_blobs);
	return 0;
}

/* Build every wanted variant into the layout at outdir (--push-only: a staging layout);
 * index.json last. */
static int build_into(struct build_ctx *cp, const struct lade_build_options *o, char **variants,
                      const char *default_variant, const char *outdir,
                      struct lade_build_report **out, struct lade_error **err)
{
	_cleanup_(sbom_ctx_release) struct build_ctx c = *cp;
	/* freed in reverse order: the store, then its staging directory, then the cache */
	_cleanup_(lade_cache_freep) struct lade_cache *cache = NULL;
	_cleanup_(build_staging_removep) char *staging = NULL;
	_cleanup_(lade_store_freep) struct lade_store *store = NULL;
	/* the cache's lock first for a staging layout, as above; after the output's otherwise */
	if (o->push_only) {
		if (open_cache(o, &cache, err) < 0 ||
		    build_push_only_staging(o, cache, &staging, err) < 0)
			return -1;
		outdir = staging;
	}
	if (lade_store_open(outdir, o->lock_timeout_s, &store, err) < 0)
		return -1;
	c.store = store;
	/* a staging layout is private, nobody edits it, and it is removed */
	lade_store_set_link_blobs(store, o->link_blobs || o->push_only);
	if (!o->push_only && open_cache(o, &cache, err) < 0)
		return -1;
	c.cache = cache;
	c.ro = registry_options(o);
	_cleanup_(lade_remote_cache_freep) struct lade_remote_cache *remote = NULL;
	if (build_remote_open(&c, c.first, err) < 0)
		return -1;
	remote = c.remote;

	_cleanup_(lade_build_report_freep) struct lade_build_report *rep = xzalloc(sizeof(*rep));
	rep->layout = xstrdup(o->push_only ? o->push : outdir);
	struct report_alloc ra = {0};
	size_t n_variants = lade_strv_len(variants);
	for (size_t vi = 0; vi < (n_variants ? n_variants : 1); vi++) {
		const char *vname = n_variants ? variants[vi] : NULL;
		if (vname && !build_wanted(o, vname))
			continue;
		if (build_variant(&c, vname, default_variant, rep, &ra, err) < 0)
			return -1;
	}
	if (rep->n_images == 0)
		return lade_error_set(err, 0, "%s: nothing to build", o->recipe_path);
	if (write_index(&c, rep, err) < 0)
		return -1;
	/* Over budget: the layout stays (to be inspected) but nothing is pushed. */
	if (lade_budget_check(rep, o->push_only ? NULL : outdir, cp->shown, &cp->over) < 0) {
		*out = steal_pointer(&rep);
		return 0;
	}
	if (o->push && push_refs(&c, rep, outdir, err) < 0)
		return -1;
	/* after the push, so the blobs are mounted from its repository rather than uploaded */
	if (build_remote_publish(&c, outdir, c.first->name, err) < 0)
		return lade_error_prefix(err, "the image is complete%s, but",
		                         o->push ? " and pushed" : "");
	trim_cache(&c);
	*out = steal_pointer(&rep);
	return 0;
}
