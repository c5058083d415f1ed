/* Unit tests: manifest/libc.c — which C library a base has (glibc version from libc.so.6's
 * symbol versions, musl from its loader), read from real tar layers (gzip and zstd, made with
 * lade's own compressor) through the one layer reader: the topmost layer wins, symlinks are
 * followed, and a decompression bomb is refused while looking for a file. */
#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lade/base.h"
#include "lade/compress.h"
#include "lade/hashmap.h"
#include "lade/libc.h"
#include "lade/store.h"
#include "lade/tree.h"
#include "lade/util.h"
#include "tap.h"

struct tent {
	const char *path;
	char type;        /* f file, d dir, l symlink, z: a file of `len` zero bytes */
	const char *data; /* content or link target */
	size_t len;       /* content length; 0: strlen(data) */
};

struct buf_stream {
	struct lade_stream stream;
	struct lade_buf *out;
};

static int buf_stream_write(struct lade_stream *s, const void *data, size_t len,
                            struct lade_error **err)
{
	(void)err;
	lade_buf_add(((struct buf_stream *)s)->out, data, len);
	return 0;
}

static la_ssize_t to_stream(struct archive *a, void *ctx, const void *data, size_t len)
{
	(void)a;
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_stream_write(ctx, data, len, &err) < 0)
		return -1;
	return (la_ssize_t)len;
}

/* A tar of ents, compressed with c, into out; the tar's sha256 (the diff_id) into diff_id. */
static void make_layer(const struct tent *ents, size_t n, enum lade_compression c,
                       struct lade_buf *out, char diff_id[LADE_DIGEST_STRLEN])
{
	struct buf_stream bs = {{buf_stream_write}, out};
	_cleanup_error_ struct lade_error *err = NULL;
	struct lade_compressor *comp = NULL;
	if (lade_compressor_new(c, -1, 1, &bs.stream, &comp, &err) < 0)
		abort();
	struct lade_hash_stream hs;
	lade_hash_stream_init(&hs, lade_compressor_stream(comp));
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open(a, &hs.stream, NULL, to_stream, NULL);
	static char zeros[1 << 20];
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].path);
		size_t len = ents[i].len ? ents[i].len : (ents[i].data ? strlen(ents[i].data) : 0);
		if (ents[i].type == 'd') {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
		} else if (ents[i].type == 'l') {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, ents[i].data);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)len);
		}
		archive_write_header(a, e);
		if (ents[i].type == 'f' && len)
			archive_write_data(a, ents[i].data, len);
		for (size_t done = 0; ents[i].type == 'z' && done < len; done += sizeof(zeros))
			archive_write_data(a, zeros,
			                   len - done < sizeof(zeros) ? len - done : sizeof(zeros));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	lade_hash_stream_final(&hs, diff_id);
	if (lade_compressor_finish(comp, &err) < 0)
		abort();
	lade_compressor_free(comp);
}

struct fixture {
	struct lade_store *store;
	struct lade_base_image *base;
	struct lade_tree *tree;
};

static void fixture_release(struct fixture *f)
{
	lade_base_image_free(f->base);
	lade_tree_free(f->tree);
	lade_store_free(f->store);
}

/* A base of the given layers (each a tar of ents, bottom first) in a fresh store, and its
 * tree read through lade_base_read_tree. */
static int make_base(const char *dir, const struct tent *const *layers, const size_t *n_ents,
                     size_t n_layers, enum lade_compression c, struct fixture *f,
                     struct lade_error **err)
{
	*f = (struct fixture){0};
	if (lade_store_open(dir, 0, &f->store, err) < 0)
		abort();
	f->base = xzalloc(sizeof(*f->base));
	f->base->name = xasprintf("test:%s", dir);
	f->base->layers = xcalloc(n_layers, sizeof(*f->base->layers));
	for (size_t i = 0; i < n_layers; i++) {
		_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
		char diff_id[LADE_DIGEST_STRLEN], digest[LADE_DIGEST_STRLEN];
		make_layer(layers[i], n_ents[i], c, &b, diff_id);
		if (lade_store_put(f->store, b.data, b.len, digest, err) < 0)
			abort();
		struct lade_base_layer *l = &f->base->layers[f->base->n_layers++];
		l->desc.media_type = xstrdup(lade_compression_media_type(c));
		l->desc.digest = xstrdup(digest);
		l->desc.size = b.len;
		l->diff_id = xstrdup(diff_id);
	}
	f->tree = lade_tree_new();
	return lade_base_read_tree(f->base, f->store, f->tree, err);
}

/* Move the base's layer blobs out of the store (away) or back. */
static void move_blobs(const struct fixture *f, bool away)
{
	for (size_t i = 0; i < f->base->n_layers; i++) {
		_cleanup_free_ char *p =
		        lade_store_blob_path(f->store, f->base->layers[i].desc.digest);
		_cleanup_free_ char *moved = xasprintf("%s.away", p);
		if ((away ? rename(p, moved) : rename(moved, p)) < 0)
			abort();
	}
}

static const char *msg(const struct lade_error *e)
{
	return e ? e->msg : "(no error)";
}

#define GLIBC_236                                                                                  \
	"\x7f"                                                                                     \
	"ELF...GLIBC_2.2.5\0GLIBC_2.17\0GLIBC_2.36\0GLIBC_PRIVATE\0GLIBC_2.4"
#define GLIBC_238                                                                                  \
	"\x7f"                                                                                     \
	"ELF...GLIBC_2.38\0GLIBC_2.2.5"

static void test_glibc(const char *tmp)
{
	static const struct tent l1[] = {
	        {"lib/", 'd', NULL, 0},
	        {"lib/x86_64-linux-gnu/", 'd', NULL, 0},
	        {"lib/x86_64-linux-gnu/libc.so.6", 'f', GLIBC_236, sizeof(GLIBC_236) - 1},
	        {"etc/", 'd', NULL, 0},
	        {"etc/os-release", 'f', "ID=debian\n", 0},
	};
	static const struct tent l2[] = {
	        {"lib/x86_64-linux-gnu/libc.so.6", 'f', GLIBC_238, sizeof(GLIBC_238) - 1},
	};
	const struct tent *const layers[] = {l1, l2};
	const size_t n[] = {LADE_ARRAY_SIZE(l1), LADE_ARRAY_SIZE(l2)};

	_cleanup_free_ char *d1 = xasprintf("%s/glibc1", tmp);
	_cleanup_(fixture_release) struct fixture f1;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(make_base(d1, layers, n, 1, LADE_COMPRESS_GZIP, &f1, &err) == 0, "gzip base read (%s)",
	   msg(err));
	_cleanup_free_ char *libc = NULL;
	ok(lade_base_detect_libc(f1.base, f1.store, f1.tree, "linux/amd64", &libc, &err) == 0,
	   "libc detected (%s)", msg(err));
	is_str(libc, "glibc-2.36", "the highest GLIBC_2.N symbol version");

	_cleanup_free_ char *d2 = xasprintf("%s/glibc2", tmp);
	_cleanup_(fixture_release) struct fixture f2;
	ok(make_base(d2, layers, n, 2, LADE_COMPRESS_ZSTD, &f2, &err) == 0, "zstd base read (%s)",
	   msg(err));
	_cleanup_free_ char *libc2 = NULL;
	ok(lade_base_detect_libc(f2.base, f2.store, f2.tree, "linux/amd64", &libc2, &err) == 0,
	   "libc detected in two layers");
	is_str(libc2, "glibc-2.38", "the topmost layer's libc.so.6 wins");

	/* libc.so.6 kept while the tree is read: detection then reads no layer (the blobs are
	 * gone from the store) and still sees the topmost layer's copy. */
	_cleanup_(lade_tree_freep) struct lade_tree *t3 = lade_tree_new();
	_cleanup_(lade_base_keep_release) struct lade_base_keep keep = LADE_BASE_KEEP_LIBC;
	ok(lade_base_read_tree_keep(f2.base, f2.store, t3, &keep, &err) == 0 && keep.files &&
	           lade_hashmap_size(keep.files) == 1,
	   "read_tree_keep keeps the one libc.so.6 path (%s)", msg(err));
	const struct lade_buf *kb =
	        keep.files ? lade_hashmap_get(keep.files, "lib/x86_64-linux-gnu/libc.so.6") : NULL;
	ok(kb && kb->len == sizeof(GLIBC_238) - 1 && memcmp(kb->data, GLIBC_238, kb->len) == 0,
	   "with the topmost layer's content");
	move_blobs(&f2, true);
	_cleanup_free_ char *libc4 = NULL;
	ok(lade_base_detect_libc_kept(f2.base, f2.store, t3, &keep, "linux/amd64", &libc4, &err) ==
	           0,
	   "detected from the kept copy without the layers (%s)", msg(err));
	is_str(libc4, "glibc-2.38", "the same answer");
	move_blobs(&f2, false);

	/* lade_base_read_path itself. */
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	bool found = true;
	ok(lade_base_read_path(f2.base, f2.store, "etc/os-release", 100, &b, &found, &err) == 0 &&
	           found,
	   "a file of the lower layer is found");
	ok(b.len == 10 && memcmp(b.data, "ID=debian\n", 10) == 0, "with its content");
	lade_buf_reset(&b);
	ok(lade_base_read_path(f2.base, f2.store, "etc/nope", 100, &b, &found, &err) == 0 && !found,
	   "a missing file is not found");
	ok(lade_base_read_path(f2.base, f2.store, "etc", 100, &b, &found, &err) == 0 && !found,
	   "a directory has no content");
	_cleanup_error_ struct lade_error *e1 = NULL;
	ok(lade_base_read_path(f2.base, f2.store, "etc/os-release", 5, &b, &found, &e1) == -1,
	   "a file over max is refused");
	is_str(msg(e1), "base file /etc/os-release is larger than 5 bytes", "its message");
}

static void test_usrmerge_and_musl(const char *tmp)
{
	/* Debian 12: /lib is a symlink to usr/lib. */
	static const struct tent merged[] = {
	        {"lib", 'l', "usr/lib", 0},
	        {"usr/", 'd', NULL, 0},
	        {"usr/lib/", 'd', NULL, 0},
	        {"usr/lib/aarch64-linux-gnu/", 'd', NULL, 0},
	        {"usr/lib/aarch64-linux-gnu/libc.so.6", 'f', GLIBC_236, sizeof(GLIBC_236) - 1},
	};
	const struct tent *const l1[] = {merged};
	const size_t n1[] = {LADE_ARRAY_SIZE(merged)};
	_cleanup_free_ char *d1 = xasprintf("%s/merged", tmp);
	_cleanup_(fixture_release) struct fixture f1;
	_cleanup_error_ struct lade_error *err = NULL;
	ok(make_base(d1, l1, n1, 1, LADE_COMPRESS_GZIP, &f1, &err) == 0, "usrmerge base read");
	_cleanup_free_ char *libc = NULL;
	ok(lade_base_detect_libc(f1.base, f1.store, f1.tree, "linux/arm64", &libc, &err) == 0,
	   "libc through the /lib symlink (%s)", msg(err));
	is_str(libc, "glibc-2.36", "arm64 multiarch dir");
	_cleanup_free_ char *none = NULL;
	_cleanup_error_ struct lade_error *e1 = NULL;
	ok(lade_base_detect_libc(f1.base, f1.store, f1.tree, "linux/amd64", &none, &e1) == -1,
	   "an amd64 base has no aarch64 libc (and no plain lib/libc.so.6)");

	static const struct tent musl[] = {
	        {"lib/", 'd', NULL, 0},
	        {"lib/ld-musl-x86_64.so.1", 'f',
	         "\x7f"
	         "ELF musl",
	         0},
	};
	const struct tent *const l2[] = {musl};
	const size_t n2[] = {LADE_ARRAY_SIZE(musl)};
	_cleanup_free_ char *d2 = xasprintf("%s/musl", tmp);
	_cleanup_(fixture_release) struct fixture f2;
	ok(make_base(d2, l2, n2, 1, LADE_COMPRESS_ZSTD, &f2, &err) == 0, "musl base read");
	_cleanup_free_ char *libc2 = NULL;
	ok(lade_base_detect_libc(f2.base, f2.store, f2.tree, "linux/amd64", &libc2, &err) == 0,
	   "musl detected");
	is_str(libc2, "musl-1.2", "musl-1.2");
	_cleanup_free_ char *libc3 = NULL;
	_cleanup_error_ struct lade_error *e2 = NULL;
	ok(lade_base_detect_libc(f2.base, f2.store, f2.tree, "linux/arm64", &libc3, &e2) == -1,
	   "an x86_64 loader is not an arm64 libc");
	_cleanup_free_ char *want =
	        xasprintf("no glibc libc.so.6 or musl loader found in base image test:%s", d2);
	is_str(msg(e2), want, "the message names the base");
}

/* 101 MiB of zeros compress to a few KiB with zstd: over the 1000:1 ratio above 100 MiB. The
 * file is looked for in that layer before the one below is reached, and the reader refuses
 * the layer (libc.c used to go through libarchive's filters, with no guard at all). */
static void test_bomb(const char *tmp)
{
	static const struct tent bomb[] = {
	        {"zeros", 'z', NULL, 101u << 20},
	};
	static const struct tent below[] = {
	        {"etc/", 'd', NULL, 0},
	        {"etc/os-release", 'f', "ID=x\n", 0},
	};
	const struct tent *const layers[] = {below, bomb};
	const size_t n[] = {LADE_ARRAY_SIZE(below), LADE_ARRAY_SIZE(bomb)};
	_cleanup_free_ char *d = xasprintf("%s/bomb", tmp);
	_cleanup_(fixture_release) struct fixture f;
	_cleanup_error_ struct lade_error *e1 = NULL;
	ok(make_base(d, layers, n, 2, LADE_COMPRESS_ZSTD, &f, &e1) == -1 &&
	           strstr(msg(e1), "refused as a decompression bomb") != NULL,
	   "reading the tree refuses the bomb (%s)", msg(e1));
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	bool found;
	_cleanup_error_ struct lade_error *e2 = NULL;
	ok(lade_base_read_path(f.base, f.store, "etc/os-release", 100, &b, &found, &e2) == -1,
	   "looking for a file through the bomb layer is refused");
	_cleanup_free_ char *want =
	        xasprintf("base layer %s: more than 1000 times its compressed size (%" PRIu64
	                  " bytes) uncompressed: refused as a decompression bomb",
	                  f.base->layers[1].desc.digest, f.base->layers[1].desc.size);
	is_str(msg(e2), want, "the message names the layer and the ratio");
}

int main(void)
{
	char tmpl[] = "/tmp/lade-test-libc-XXXXXX";
	char *tmp = mkdtemp(tmpl);
	if (tmp == NULL)
		return 1;
	test_glibc(tmp);
	test_usrmerge_and_musl(tmp);
	test_bomb(tmp);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "# cannot remove %s\n", tmp);
	return tap_done();
}
