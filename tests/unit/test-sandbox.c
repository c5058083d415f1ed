/* Unit tests for core/sandbox.c. The filter is irreversible, so every check that needs it
 * runs in a forked child that reports its results through a pipe; the parent turns them into
 * TAP lines and also checks that the child was not killed (a refused syscall must never kill
 * lade). The "work" child does what a real build does (files, OpenSSL, libarchive, threaded
 * zstd, ISA-L, lade's own compressor) after entering the sandbox, so the allow-list is tested
 * against the real libraries, initialised under the filter. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <jansson.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <locale.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#include <yaml.h>
#include <zlib.h>
#include <zstd.h>

#include "lade/compress.h"
#include "lade/digest.h"
#include "lade/sandbox.h"
#include "lade/util.h"
#include "fixture.h"
#include "tap.h"

extern char **environ;

/* ---- results from the child ---- */

struct result {
	int pass;
	char name[200];
	char diag[300];
};

static int result_fd = -1;
static pid_t parent_pid; /* a process that is not the sandboxed child */

static void report(int pass, const char *diag, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void report(int pass, const char *diag, const char *fmt, ...)
{
	struct result r = {.pass = pass};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.name, sizeof(r.name), fmt, ap);
	va_end(ap);
	snprintf(r.diag, sizeof(r.diag), "%s", diag ? diag : "");
	if (write(result_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
}

#define CHECK(cond, ...) report(!!(cond), #cond, __VA_ARGS__)

static void check_str(const char *got, const char *want, const char *name)
{
	char diag[300];
	int pass = got && strcmp(got, want) == 0;

	snprintf(diag, sizeof(diag), "got '%s', want '%s'", got ? got : "(null)", want);
	report(pass, diag, "%s", name);
}

/* The syscall was refused with EPERM, and reported under `name`. */
static void check_refused(long rc, int saved_errno, const char *name, const char *what)
{
	char diag[300];

	snprintf(diag, sizeof(diag), "rc %ld errno %d (%s)", rc, saved_errno,
	         strerror(saved_errno));
	report(rc == -1 && saved_errno == EPERM, diag, "%s fails with EPERM", what);
	check_str(lade_sandbox_last_denied(), name, what);
}

/* Run fn in a child inside the sandbox for phase p (or outside when enter is false). */
static void run_child(const char *label, bool enter, enum lade_sandbox_phase p, void (*fn)(void))
{
	int fds[2];
	pid_t pid;
	struct result r;
	int status = 0, n = 0;

	fflush(stdout);
	if (pipe(fds) < 0) {
		ok(0, "%s: pipe", label);
		return;
	}
	pid = fork();
	if (pid < 0) {
		ok(0, "%s: fork", label);
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		result_fd = fds[1];
		if (enter) {
			struct lade_error *err = NULL;
			int rc = lade_sandbox_enter(p, &err);

			report(rc == 0, err ? err->msg : "", "%s: lade_sandbox_enter", label);
			if (rc < 0)
				exit(2);
		}
		fn();
		/* exit(), not _exit(): atexit handlers (OpenSSL, sanitizers) run under the filter.
		 */
		exit(0);
	}
	close(fds[1]);
	while (read(fds[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		n++;
		ok(r.pass, "%s", r.name);
		if (!r.pass && r.diag[0])
			printf("#   %s\n", r.diag);
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	ok(n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "%s: child exited normally (status 0x%x, %d results)", label, status, n);
}

/* ---- refusals ---- */

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static bool file_has_line(const char *path, const char *line)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;

	if (lade_read_file(path, 1 << 20, &b, &err) < 0)
		return false;
	for (char *s = b.data; s && *s;) {
		char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		if (len == strlen(line) && memcmp(s, line, len) == 0)
			return true;
		s = nl ? nl + 1 : NULL;
	}
	return false;
}

static void child_refusals(void)
{
	char *argv[] = {(char *)"/bin/true", NULL};
	struct rlimit rl;
	long rc;
	int e;

	CHECK(lade_sandbox_last_denied() == NULL, "nothing refused right after entering");
	CHECK(file_has_line("/proc/self/status", "Seccomp:\t2"), "the process is in filter mode");
	CHECK(file_has_line("/proc/self/status", "NoNewPrivs:\t1"), "no_new_privs is set");

	errno = 0;
	rc = execve("/bin/true", argv, environ);
	e = errno;
	check_refused(rc, e, "execve", "execve(/bin/true)");

	rc = socket(AF_INET, SOCK_STREAM, 0);
	e = errno;
	check_refused(rc, e, "socket", "socket(AF_INET)");

	rc = chown("/", 0, 0);
	e = errno;
	check_refused(rc, e, "chown", "chown");

	rc = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	e = errno;
	check_refused(rc, e, "ptrace", "ptrace(PTRACE_TRACEME)");

	rc = mount("none", "/tmp", "tmpfs", 0, NULL);
	e = errno;
	check_refused(rc, e, "mount", "mount");

	rc = fork();
	e = errno;
	if (rc == 0)
		_exit(0);
	/* The filter refuses a fork itself (glibc may block SIGSYS around it): EPERM, and the
	 * last reported refusal is still the mount. */
	CHECK(rc == -1 && e == EPERM, "fork (clone without CLONE_THREAD) fails with EPERM");
	check_str(lade_sandbox_last_denied(), "mount", "fork is refused unreported");

	rc = unshare(CLONE_NEWUSER);
	e = errno;
	check_refused(rc, e, "unshare", "unshare(CLONE_NEWUSER)");

	/* clone3 keeps its flags in memory: refused with ENOSYS so glibc falls back to clone. */
	errno = 0;
	rc = syscall(SYS_clone3, NULL, 0);
	CHECK(rc == -1 && errno == ENOSYS, "clone3 fails with ENOSYS");
	check_str(lade_sandbox_last_denied(), "unshare", "clone3 is not reported as a refusal");

	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e = errno;
	check_refused(p == MAP_FAILED ? -1 : 0, e, "mmap", "mmap with PROT_EXEC");

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED, "mmap without PROT_EXEC works");
	if (p != MAP_FAILED) {
		rc = mprotect(p, 4096, PROT_READ | PROT_EXEC);
		e = errno;
		check_refused(rc, e, "mprotect", "mprotect to PROT_EXEC");
		CHECK(mprotect(p, 4096, PROT_READ) == 0, "mprotect to PROT_READ works");
		munmap(p, 4096);
	}

	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigemptyset(&sa.sa_mask);
	rc = sigaction(SIGSYS, &sa, NULL);
	e = errno;
	check_refused(rc, e, "rt_sigaction", "sigaction(SIGSYS) (the reporter stays)");

	sa.sa_handler = on_usr1;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction(SIGUSR1) works");
	CHECK(raise(SIGUSR1) == 0 && got_usr1, "raise() reaches our own thread (tgkill)");
	rc = syscall(SYS_tgkill, parent_pid, parent_pid, 0);
	e = errno;
	check_refused(rc, e, "tgkill", "tgkill to another process");

	int pfd[2];
	CHECK(pipe2(pfd, O_CLOEXEC) == -1 && errno == EPERM, "pipe2 is not allowed");
	errno = 0;
	CHECK(isatty(2) >= 0 && errno != EPERM, "isatty works (ioctl TCGETS)");
	int one = 1;
	rc = ioctl(2, FIONBIO, &one);
	e = errno;
	check_refused(rc, e, "ioctl", "ioctl(FIONBIO)");

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit works");
	rc = setrlimit(RLIMIT_NOFILE, &rl);
	e = errno;
	check_refused(rc, e, "prlimit64", "setrlimit");

#if defined(__x86_64__)
	/* libseccomp sends x32 calls (x86_64 audit arch, bit 30 set) to the bad-arch action. */
	rc = syscall(0x40000000 | SYS_getpid);
	e = errno;
	check_refused(rc, e, "getpid (x32)", "an x32 syscall");
#endif

	_cleanup_error_ struct lade_error *err = NULL;
	CHECK(lade_sandbox_enter(LADE_SANDBOX_BUILD, &err) == -1, "entering twice fails");
	check_str(err ? err->msg : NULL, "the sandbox is already active",
	          "entering twice names the problem");
}

/* A refusal in a worker thread is reported like one in the main thread. */
static void *socket_thread(void *arg)
{
	int *res = arg;

	errno = 0;
	res[0] = socket(AF_INET6, SOCK_DGRAM, 0);
	res[1] = errno;
	return NULL;
}

static void child_thread_refusal(void)
{
	pthread_t th;
	int res[2] = {0, 0};

	CHECK(pthread_create(&th, NULL, socket_thread, res) == 0 && pthread_join(th, NULL) == 0,
	      "a thread starts under the filter");
	check_refused(res[0], res[1], "socket", "socket() in a worker thread");
}

/* A thread that exists before the sandbox is entered gets the filter too (TSYNC). */
struct early {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int go;
	long rc;
	int err;
};

static void *early_thread(void *arg)
{
	struct early *e = arg;
	char *argv[] = {(char *)"/bin/true", NULL};

	pthread_mutex_lock(&e->lock);
	while (!e->go)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	errno = 0;
	e->rc = execve("/bin/true", argv, environ);
	e->err = errno;
	return NULL;
}

static void child_tsync(void)
{
	struct early e = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	_cleanup_error_ struct lade_error *err = NULL;
	pthread_t th;

	CHECK(pthread_create(&th, NULL, early_thread, &e) == 0,
	      "a thread starts before the filter");
	report(lade_sandbox_enter(LADE_SANDBOX_BUILD, &err) == 0, err ? err->msg : "",
	       "enter the sandbox with a second thread running");
	pthread_mutex_lock(&e.lock);
	e.go = 1;
	pthread_cond_signal(&e.cond);
	pthread_mutex_unlock(&e.lock);
	pthread_join(th, NULL);
	check_refused(e.rc, e.err, "execve", "execve() in a thread started before the filter");
}

/* ---- normal work ---- */

struct sum_job {
	uint64_t from, to, sum;
};

static void *sum_thread(void *arg)
{
	struct sum_job *j = arg;

	for (uint64_t i = j->from; i < j->to; i++)
		j->sum += i;
	return NULL;
}

static unsigned char *make_data(size_t len)
{
	unsigned char *d = xmalloc(len);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < len; i++) {
		if ((i / 4096) % 2) {
			d[i] = (unsigned char)("lade sandbox "[i % 13]);
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			d[i] = (unsigned char)x;
		}
	}
	return d;
}

static void work_files(void)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *dir = xasprintf("%s/lade-sandbox-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	_cleanup_free_ char *tmpf = NULL, *final = NULL;
	char buf[16] = {0}, digest[LADE_DIGEST_STRLEN];
	_cleanup_error_ struct lade_error *err = NULL;
	uint64_t size = 0;
	int fd;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp works");
	tmpf = xasprintf("%s/blob.tmp", dir);
	final = xasprintf("%s/blob", dir);
	fd = open(tmpf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && write(fd, "abc", 3) == 3 && fchmod(fd, 0644) == 0 && fsync(fd) == 0 &&
	              close(fd) == 0,
	      "write, fchmod and fsync a file");
	CHECK(rename(tmpf, final) == 0, "rename works");
	fd = open(final, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 3 && memcmp(buf, "abc", 3) == 0,
	      "read the file back");
	CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "flock works");
	if (fd >= 0)
		close(fd);

	int rc = lade_sha256_file(final, digest, &size, &err);
	check_str(rc == 0 ? digest : (err ? err->msg : "?"),
	          "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	          "sha256 of the file via OpenSSL (digest.h)");

	DIR *d = opendir(dir);
	int seen = 0;
	for (struct dirent *de; d && (de = readdir(d));)
		seen += strcmp(de->d_name, "blob") == 0;
	if (d)
		closedir(d);
	CHECK(seen == 1, "readdir lists the file");

	/* lade's own helpers: mkdir -p, then temp file, fsync, rename, fsync of the directory */
	_cleanup_free_ char *sub = xasprintf("%s/a/b", dir), *atomic = xasprintf("%s/a/b/f", dir);
	_cleanup_free_ char *a = xasprintf("%s/a", dir);
	_cleanup_buf_ struct lade_buf got = LADE_BUF_INIT;
	lade_error_freep(&err);
	rc = lade_mkdir_p(sub, &err);
	if (rc == 0)
		rc = lade_write_file_atomic(atomic, "{}", 2, &err);
	if (rc == 0)
		rc = lade_read_file(atomic, 16, &got, &err);
	report(rc == 0 && strcmp(got.data, "{}") == 0, err ? err->msg : "",
	       "lade_mkdir_p, lade_write_file_atomic and lade_read_file work");

	CHECK(unlink(final) == 0 && unlink(atomic) == 0 && rmdir(sub) == 0 && rmdir(a) == 0 &&
	              rmdir(dir) == 0,
	      "unlink and rmdir clean up");
}

static void work_threads_and_memory(void)
{
	size_t big = (size_t)256 << 20;
	unsigned char *m = malloc(big);
	struct sum_job jobs[4];
	pthread_t th[4];
	int started = 0;
	uint64_t total = 0;

	CHECK(m != NULL, "malloc of 256 MiB works");
	if (m) {
		memset(m, 0x5a, big);
		CHECK(m[big - 1] == 0x5a, "256 MiB are usable");
		free(m);
	}
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct sum_job){.from = (uint64_t)i * 1000,
		                           .to = (uint64_t)(i + 1) * 1000};
		started += pthread_create(&th[i], NULL, sum_thread, &jobs[i]) == 0;
	}
	CHECK(started == 4, "4 pthreads start");
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		total += jobs[i].sum;
	}
	CHECK(total == 3999ull * 4000 / 2, "the threads did their work and were joined");
	CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 1 && get_nprocs() >= 1, "the CPU count is known");
}

static void work_libraries(void)
{
	size_t len = (size_t)8 << 20;
	_cleanup_free_ unsigned char *data = make_data(len);

	/* libarchive: pax tar into memory and back, under a C.UTF-8 thread locale loaded inside
	 * the sandbox, as assembler/layer.c does */
	locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	CHECK(utf8 != (locale_t)0, "newlocale(C.UTF-8) loads the locale");
	locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
	static char tarbuf[16384];
	size_t used = 0;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_none(a);
	int rc = archive_write_open_memory(a, tarbuf, sizeof(tarbuf), &used);
	archive_entry_update_pathname_utf8(e, "opt/venv/lib/pyth\xc3\xb6n/x.py");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 5);
	if (rc == ARCHIVE_OK)
		rc = archive_write_header(a, e);
	if (rc == ARCHIVE_OK)
		rc = archive_write_data(a, "hello", 5) == 5 ? ARCHIVE_OK : ARCHIVE_FATAL;
	if (rc == ARCHIVE_OK)
		rc = archive_write_close(a);
	report(rc == ARCHIVE_OK && used >= 1024 && memcmp(tarbuf + 257, "ustar", 5) == 0,
	       archive_error_string(a), "libarchive writes a tar to memory");
	archive_entry_free(e);
	archive_write_free(a);

	a = archive_read_new();
	archive_read_support_format_tar(a);
	rc = archive_read_open_memory(a, tarbuf, used);
	char content[8] = {0};
	if (rc == ARCHIVE_OK)
		rc = archive_read_next_header(a, &e);
	CHECK(rc == ARCHIVE_OK &&
	              strcmp(archive_entry_pathname_utf8(e), "opt/venv/lib/pyth\xc3\xb6n/x.py") ==
	                      0 &&
	              archive_read_data(a, content, sizeof(content)) == 5 &&
	              strcmp(content, "hello") == 0,
	      "libarchive reads it back");
	archive_read_free(a);
	if (utf8) {
		uselocale(old);
		freelocale(utf8);
	}

	/* zstd with 2 worker threads */
	size_t bound = ZSTD_compressBound(len);
	_cleanup_free_ unsigned char *z = xmalloc(bound);
	_cleanup_free_ unsigned char *back = xmalloc(len);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t zr = ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 2);
	CHECK(!ZSTD_isError(zr), "zstd accepts nbWorkers=2");
	zr = ZSTD_compress2(cctx, z, bound, data, len);
	ZSTD_freeCCtx(cctx);
	size_t dr = ZSTD_isError(zr) ? 0 : ZSTD_decompress(back, len, z, zr);
	report(!ZSTD_isError(zr) && dr == len && memcmp(back, data, len) == 0,
	       ZSTD_isError(zr) ? ZSTD_getErrorName(zr) : "", "zstd with 2 workers round-trips");

	/* ISA-L gzip and its CRC, checked against zlib */
	struct isal_zstream zs;
	_cleanup_free_ unsigned char *lvl = xmalloc(ISAL_DEF_LVL1_DEFAULT);
	_cleanup_free_ unsigned char *gz = xmalloc(len + 65536);
	isal_deflate_init(&zs);
	zs.level = 1;
	zs.level_buf = lvl;
	zs.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
	zs.gzip_flag = IGZIP_GZIP;
	zs.end_of_stream = 1;
	zs.flush = NO_FLUSH;
	zs.next_in = data;
	zs.avail_in = (uint32_t)len;
	zs.next_out = gz;
	zs.avail_out = (uint32_t)(len + 65536);
	int ir = isal_deflate(&zs);
	size_t gzlen = zs.total_out;
	struct inflate_state is;
	isal_inflate_init(&is);
	is.crc_flag = ISAL_GZIP;
	is.next_in = gz;
	is.avail_in = (uint32_t)gzlen;
	is.next_out = back;
	is.avail_out = (uint32_t)len;
	memset(back, 0, len);
	int ir2 = ir == COMP_OK && zs.internal_state.state == ZSTATE_END ? isal_inflate(&is) : -1;
	CHECK(ir2 == ISAL_DECOMP_OK && is.total_out == len && memcmp(back, data, len) == 0,
	      "ISA-L gzip round-trips");
	CHECK(crc32_gzip_refl(0, data, len) == (uint32_t)crc32(0, data, (uInt)len),
	      "ISA-L crc32 agrees with zlib");

	/* jansson (its hash seed reads /dev/urandom on first use) and libyaml */
	json_t *j = json_pack("{s:s, s:i}", "mediaType", "application/vnd.oci.image.index.v1+json",
	                      "schemaVersion", 2);
	char *js = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	check_str(js,
	          "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}",
	          "jansson builds and dumps JSON");
	free(js);
	json_decref(j);

	static const unsigned char yml[] = "name: hello\ntag: \"1.0\"\n";
	yaml_parser_t yp;
	yaml_event_t ev;
	int scalars = 0, yok = yaml_parser_initialize(&yp);
	yaml_parser_set_input_string(&yp, yml, sizeof(yml) - 1);
	for (int done = 0; yok && !done;) {
		if (!yaml_parser_parse(&yp, &ev)) {
			yok = 0;
			break;
		}
		scalars += ev.type == YAML_SCALAR_EVENT;
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	CHECK(yok && scalars == 4, "libyaml parses a recipe");

	/* lade's own compressor, with worker threads */
	for (int kind = LADE_COMPRESS_GZIP; kind <= LADE_COMPRESS_ZSTD; kind++) {
		struct buf_sink sink;
		buf_sink_init(&sink);
		_cleanup_(lade_compressor_freep) struct lade_compressor *c = NULL;
		_cleanup_error_ struct lade_error *err = NULL;
		int r = lade_compressor_new(kind, -1, 2, &sink.stream, &c, &err);

		if (r == 0)
			r = lade_stream_write(lade_compressor_stream(c), data, len, &err);
		if (r == 0)
			r = lade_compressor_finish(c, &err);
		report(r == 0 && sink.buf.len > 0 &&
		               (int)lade_compression_sniff(sink.buf.data, sink.buf.len) == kind,
		       err ? err->msg : "", "lade_compressor %s with 2 jobs works",
		       lade_compression_name(kind));
		lade_buf_release(&sink.buf);
	}
}

static void child_work(void)
{
	work_files();
	work_threads_and_memory();
	work_libraries();
	check_str(lade_sandbox_last_denied() ? lade_sandbox_last_denied() : "(none)", "(none)",
	          "normal work needed no refused syscall");
}

/* ---- network phase ---- */

static void child_network(void)
{
	char *argv[] = {(char *)"/bin/true", NULL};
	struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "\0lade-sandbox-test"};
	long rc;
	int e, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "network phase: socket(AF_INET) works");
	if (fd >= 0)
		close(fd);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "network phase: socket(AF_UNIX) works");
	rc = bind(fd, (struct sockaddr *)&addr, offsetof(struct sockaddr_un, sun_path) + 18);
	e = errno;
	check_refused(rc, e, "bind", "network phase: bind");
	if (fd >= 0)
		close(fd);
	rc = socket(AF_NETLINK, SOCK_RAW, 0);
	e = errno;
	check_refused(rc, e, "socket", "network phase: socket(AF_NETLINK)");
	rc = execve("/bin/true", argv, environ);
	e = errno;
	check_refused(rc, e, "execve", "network phase: execve");
}

/* ---- errors ---- */

static void child_bad_phase(void)
{
	_cleanup_error_ struct lade_error *err = NULL;

	CHECK(lade_sandbox_enter((enum lade_sandbox_phase)7, &err) == -1,
	      "entering an unknown phase fails");
	check_str(err ? err->msg : NULL, "unknown sandbox phase 7", "the unknown phase is named");
	CHECK(file_has_line("/proc/self/status", "Seccomp:\t0"), "and nothing was loaded");
}

/* A filter of our own that refuses seccomp() and prctl(PR_SET_SECCOMP): libseccomp's load
 * then fails and lade must say so. */
static void child_load_fails(void)
{
	struct sock_filter f[] = {
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 3, 0),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 3),
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_SECCOMP, 0, 1),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = LADE_ARRAY_SIZE(f), .filter = f};
	_cleanup_error_ struct lade_error *err = NULL;
	const char *want = "cannot load the seccomp filter";

	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	              prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0,
	      "load-failure setup: a filter refusing seccomp()");
	CHECK(lade_sandbox_enter(LADE_SANDBOX_BUILD, &err) == -1, "a failing load is an error");
	report(err && strncmp(err->msg, want, strlen(want)) == 0 && err->sys_errno != 0,
	       err ? err->msg : "(no error)", "the error says the filter could not be loaded");
	struct sigaction cur;
	CHECK(sigaction(SIGSYS, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL,
	      "the SIGSYS reporter is removed again");
	/* Still outside: a refused syscall of the real policy works here. */
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(fd >= 0, "after a failed load the process is not sandboxed");
	if (fd >= 0)
		close(fd);
}

/* ---- explain (no filter needed) ---- */

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *s = text; (s = strstr(s, line)); s++)
		if ((s == text || s[-1] == '\n') && (s[n] == '\n' || s[n] == '\0'))
			return true;
	return false;
}

static void test_explain(void)
{
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT, n = LADE_BUF_INIT;
	_cleanup_error_ struct lade_error *err = NULL;

	ok(lade_sandbox_explain(LADE_SANDBOX_BUILD, &b, &err) == 0, "explain the build policy");
	ok(has_line(b.data, "  openat"), "the build policy allows openat");
	ok(!strstr(b.data, "execve"), "the build policy does not mention execve");
	ok(!has_line(b.data, "  socket") && !strstr(b.data, "connect"),
	   "the build policy has no sockets");
	ok(strstr(b.data, "default: refused with EPERM") != NULL, "the default action is shown");
	ok(has_line(b.data, "  mmap  (if prot has no PROT_EXEC)"), "conditions are shown");
	static const char *const needed[] = {"read",       "write",           "openat",
	                                     "close",      "newfstatat",      "getdents64",
	                                     "rename",     "linkat",          "fsync",
	                                     "flock",      "fchmod",          "futex",
	                                     "getrandom",  "madvise",         "munmap",
	                                     "rseq",       "set_robust_list", "exit",
	                                     "exit_group", "rt_sigreturn",    "sched_getaffinity"};
	int missing = 0;
	for (size_t i = 0; i < LADE_ARRAY_SIZE(needed); i++) {
		_cleanup_free_ char *line = xasprintf("  %s", needed[i]);
		if (!has_line(b.data, line)) {
			printf("#   missing: %s\n", needed[i]);
			missing++;
		}
	}
	ok(missing == 0, "the build policy has what glibc and lade need");
	ok(strstr(b.data, "refused with ENOSYS:\n  clone3") != NULL, "clone3 gets ENOSYS");

	/* The allowed names are sorted: compare each line with the one before. */
	const char *s = strstr(b.data, "allowed:\n");
	const char *end = strstr(b.data, "refused with ENOSYS:");
	char prev[64] = "", cur[64];
	int sorted = s && end, count = 0;
	for (s = s ? strchr(s, '\n') + 1 : NULL; sorted && s < end; s = strchr(s, '\n') + 1) {
		if (sscanf(s, " %63s", cur) != 1)
			break;
		if (strcmp(prev, cur) > 0)
			sorted = 0;
		snprintf(prev, sizeof(prev), "%s", cur);
		count++;
	}
	ok(sorted && count > 40, "allowed syscalls are sorted (%d lines)", count);

	ok(lade_sandbox_explain(LADE_SANDBOX_NETWORK, &n, &err) == 0, "explain the network policy");
	ok(has_line(n.data, "  socket  (if domain is AF_UNIX, AF_INET or AF_INET6)") &&
	           has_line(n.data, "  connect") && has_line(n.data, "  openat"),
	   "the network policy adds sockets to the build policy");

	_cleanup_buf_ struct lade_buf bad = LADE_BUF_INIT;
	ok(lade_sandbox_explain((enum lade_sandbox_phase) - 1, &bad, &err) == -1 && bad.len == 0,
	   "explaining an unknown phase fails");
	is_str(err ? err->msg : NULL, "unknown sandbox phase -1", "the unknown phase is named");
}

int main(void)
{
	if (!lade_sandbox_supported()) {
		printf("1..0 # SKIP seccomp filters are not supported here\n");
		return 0;
	}
	parent_pid = getpid();
	ok(lade_sandbox_last_denied() == NULL, "nothing refused before the sandbox");
	test_explain();
	run_child("unknown phase", false, LADE_SANDBOX_BUILD, child_bad_phase);
	run_child("refusals", true, LADE_SANDBOX_BUILD, child_refusals);
	run_child("work", true, LADE_SANDBOX_BUILD, child_work);
	run_child("thread refusal", true, LADE_SANDBOX_BUILD, child_thread_refusal);
	run_child("tsync", false, LADE_SANDBOX_BUILD, child_tsync);
	run_child("network", true, LADE_SANDBOX_NETWORK, child_network);
	run_child("load failure", false, LADE_SANDBOX_BUILD, child_load_fails);
	return tap_done();
}
