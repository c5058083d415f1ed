/* lade — the seccomp sandbox: one allow-list table, turned into a libseccomp filter by
 * lade_sandbox_enter() and into text by lade_sandbox_explain(). See include/lade/sandbox.h for
 * why each group of syscalls is allowed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "lade/sandbox.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS (asm-generic/siginfo.h) */
#endif
#ifndef SECCOMP_MODE_FILTER
#define SECCOMP_MODE_FILTER 2
#endif

/* Refusals are reported where we know how to make the trapped syscall return -EPERM from the
 * SIGSYS handler; elsewhere the filter returns EPERM itself and nothing is recorded. */
#if defined(__x86_64__)
#define SANDBOX_TRAP              1
#define SANDBOX_ARCH_NAME         "x86_64"
#define SANDBOX_FOREIGN           "i386 and x32"
#define SANDBOX_SET_RETURN(uc, v) ((uc)->uc_mcontext.gregs[REG_RAX] = (v))
#elif defined(__aarch64__)
#define SANDBOX_TRAP              1
#define SANDBOX_ARCH_NAME         "aarch64"
#define SANDBOX_FOREIGN           "arm"
#define SANDBOX_SET_RETURN(uc, v) ((uc)->uc_mcontext.regs[0] = (v))
#else
#define SANDBOX_TRAP      0
#define SANDBOX_ARCH_NAME "this architecture"
#define SANDBOX_FOREIGN   "other"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif

#define X32_SYSCALL_BIT 0x40000000

enum cond {
	COND_NONE,
	COND_NO_EXEC,   /* arg 2 (prot) without PROT_EXEC */
	COND_THREAD,    /* arg 0 (clone flags): a thread, no new namespace */
	COND_IOCTL_TTY, /* arg 1: TCGETS or TIOCGWINSZ */
	COND_IOCTL_FIONREAD,
	COND_IOCTL_FICLONE, /* arg 1: FICLONE (a blob reflinked into the output) */
	COND_RLIMIT_READ,   /* prlimit64(0, res, NULL, old) */
	COND_NOT_SIGSYS,    /* arg 0 != SIGSYS */
	COND_OWN_PROCESS,   /* arg 0 (tgid) == our pid */
	COND_SOCKET_FAMILY, /* arg 0: AF_UNIX, AF_INET, AF_INET6 */
	COND_SOCKET_UNIX,   /* arg 0: AF_UNIX (libcurl's multi handle wakes itself this way) */
	COND_ENOSYS,        /* refused with ENOSYS instead of EPERM */
};

enum {
	PHASE_BUILD = 1 << LADE_SANDBOX_BUILD,
	PHASE_NETWORK = 1 << LADE_SANDBOX_NETWORK,
	PHASE_ALL = PHASE_BUILD | PHASE_NETWORK,
};

struct rule {
	const char *name; /* syscall name as libseccomp knows it */
	enum cond cond;
	unsigned phases;
};

/* Names missing on an architecture (open, stat, dup2, … on aarch64) are skipped there. */
static const struct rule rules[] = {
        /* files */
        {"open", COND_NONE, PHASE_ALL},
        {"openat", COND_NONE, PHASE_ALL},
        {"openat2", COND_NONE, PHASE_ALL},
        {"close", COND_NONE, PHASE_ALL},
        {"read", COND_NONE, PHASE_ALL},
        {"write", COND_NONE, PHASE_ALL},
        {"pread64", COND_NONE, PHASE_ALL},
        {"pwrite64", COND_NONE, PHASE_ALL},
        {"readv", COND_NONE, PHASE_ALL},
        {"writev", COND_NONE, PHASE_ALL},
        {"lseek", COND_NONE, PHASE_ALL},
        {"fstat", COND_NONE, PHASE_ALL},
        {"stat", COND_NONE, PHASE_ALL},
        {"lstat", COND_NONE, PHASE_ALL},
        {"newfstatat", COND_NONE, PHASE_ALL},
        {"statx", COND_NONE, PHASE_ALL},
        {"access", COND_NONE, PHASE_ALL},
        {"faccessat", COND_NONE, PHASE_ALL},
        {"faccessat2", COND_NONE, PHASE_ALL},
        {"getdents64", COND_NONE, PHASE_ALL},
        {"mkdir", COND_NONE, PHASE_ALL},
        {"mkdirat", COND_NONE, PHASE_ALL},
        {"rename", COND_NONE, PHASE_ALL},
        {"renameat", COND_NONE, PHASE_ALL},
        {"renameat2", COND_NONE, PHASE_ALL},
        {"link", COND_NONE, PHASE_ALL},
        {"linkat", COND_NONE, PHASE_ALL},
        {"unlink", COND_NONE, PHASE_ALL},
        {"unlinkat", COND_NONE, PHASE_ALL},
        {"rmdir", COND_NONE, PHASE_ALL},
        /* the layer cache's "last used" mark (an entry's mtime) */
        {"utimensat", COND_NONE, PHASE_ALL},
        {"readlink", COND_NONE, PHASE_ALL},
        {"readlinkat", COND_NONE, PHASE_ALL},
        {"getcwd", COND_NONE, PHASE_ALL},
        {"fsync", COND_NONE, PHASE_ALL},
        {"fdatasync", COND_NONE, PHASE_ALL},
        {"syncfs", COND_NONE, PHASE_ALL},
        {"ftruncate", COND_NONE, PHASE_ALL},
        {"fadvise64", COND_NONE, PHASE_ALL},
        {"fchmod", COND_NONE, PHASE_ALL},
        {"umask", COND_NONE, PHASE_ALL},
        {"flock", COND_NONE, PHASE_ALL},
        {"fcntl", COND_NONE, PHASE_ALL},
        {"dup", COND_NONE, PHASE_ALL},
        {"dup2", COND_NONE, PHASE_ALL},
        {"dup3", COND_NONE, PHASE_ALL},
        /* memory */
        {"brk", COND_NONE, PHASE_ALL},
        {"mmap", COND_NO_EXEC, PHASE_ALL},
        {"mprotect", COND_NO_EXEC, PHASE_ALL},
        {"munmap", COND_NONE, PHASE_ALL},
        {"mremap", COND_NONE, PHASE_ALL},
        {"madvise", COND_NONE, PHASE_ALL},
        /* threads */
        {"clone", COND_THREAD, PHASE_ALL},
        {"clone3", COND_ENOSYS, PHASE_ALL},
        {"futex", COND_NONE, PHASE_ALL},
        {"set_robust_list", COND_NONE, PHASE_ALL},
        {"rseq", COND_NONE, PHASE_ALL},
        {"sched_yield", COND_NONE, PHASE_ALL},
        {"sched_getaffinity", COND_NONE, PHASE_ALL},
        {"getcpu", COND_NONE, PHASE_ALL},
        {"exit", COND_NONE, PHASE_ALL},
        {"exit_group", COND_NONE, PHASE_ALL},
        /* signals */
        {"rt_sigaction", COND_NOT_SIGSYS, PHASE_ALL},
        {"rt_sigprocmask", COND_NONE, PHASE_ALL},
        {"rt_sigreturn", COND_NONE, PHASE_ALL},
        {"sigaltstack", COND_NONE, PHASE_ALL},
        {"restart_syscall", COND_NONE, PHASE_ALL},
        {"tgkill", COND_OWN_PROCESS, PHASE_ALL},
        /* information, time */
        {"getrandom", COND_NONE, PHASE_ALL},
        {"clock_gettime", COND_NONE, PHASE_ALL},
        {"clock_getres", COND_NONE, PHASE_ALL},
        {"gettimeofday", COND_NONE, PHASE_ALL},
        {"time", COND_NONE, PHASE_ALL},
        {"nanosleep", COND_NONE, PHASE_ALL},
        {"clock_nanosleep", COND_NONE, PHASE_ALL},
        {"getpid", COND_NONE, PHASE_ALL},
        {"gettid", COND_NONE, PHASE_ALL},
        {"getuid", COND_NONE, PHASE_ALL},
        {"geteuid", COND_NONE, PHASE_ALL},
        {"getgid", COND_NONE, PHASE_ALL},
        {"getegid", COND_NONE, PHASE_ALL},
        {"uname", COND_NONE, PHASE_ALL},
        {"sysinfo", COND_NONE, PHASE_ALL},
        {"getrlimit", COND_NONE, PHASE_ALL},
        {"prlimit64", COND_RLIMIT_READ, PHASE_ALL},
        {"ioctl", COND_IOCTL_TTY, PHASE_ALL},
        {"ioctl", COND_IOCTL_FICLONE, PHASE_ALL},
        {"copy_file_range", COND_NONE, PHASE_ALL},
        /* registry clients and the DNS resolver */
        {"socket", COND_SOCKET_FAMILY, PHASE_NETWORK},
        {"socketpair", COND_SOCKET_UNIX, PHASE_NETWORK},
        {"connect", COND_NONE, PHASE_NETWORK},
        {"getsockname", COND_NONE, PHASE_NETWORK},
        {"getpeername", COND_NONE, PHASE_NETWORK},
        {"getsockopt", COND_NONE, PHASE_NETWORK},
        {"setsockopt", COND_NONE, PHASE_NETWORK},
        {"sendto", COND_NONE, PHASE_NETWORK},
        {"recvfrom", COND_NONE, PHASE_NETWORK},
        {"sendmsg", COND_NONE, PHASE_NETWORK},
        {"recvmsg", COND_NONE, PHASE_NETWORK},
        {"sendmmsg", COND_NONE, PHASE_NETWORK},
        {"recvmmsg", COND_NONE, PHASE_NETWORK},
        {"shutdown", COND_NONE, PHASE_NETWORK},
        {"poll", COND_NONE, PHASE_NETWORK},
        {"ppoll", COND_NONE, PHASE_NETWORK},
        {"ioctl", COND_IOCTL_FIONREAD, PHASE_NETWORK},
};

/* A thread that is not a sibling in our address space, or one in a new namespace, is a new
 * process in disguise. CLONE_NEWTIME is left out: its bit is part of CSIGNAL for clone(). */
#define CLONE_THREAD_FLAGS ((uint64_t)(CLONE_THREAD | CLONE_VM | CLONE_SIGHAND))
#define CLONE_NAMESPACE_FLAGS                                                                      \
	((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |  \
	            CLONE_NEWPID | CLONE_NEWNET))

static const char *cond_text(enum cond c)
{
	switch (c) {
	case COND_NONE:
		return NULL;
	case COND_NO_EXEC:
		return "if prot has no PROT_EXEC";
	case COND_THREAD:
		return "if flags have CLONE_THREAD, CLONE_VM and CLONE_SIGHAND and no CLONE_NEW*; "
		       "without CLONE_THREAD (a fork) EPERM, unreported";
	case COND_IOCTL_TTY:
		return "if request is TCGETS or TIOCGWINSZ";
	case COND_IOCTL_FIONREAD:
		return "if request is FIONREAD";
	case COND_IOCTL_FICLONE:
		return "if request is FICLONE";
	case COND_RLIMIT_READ:
		return "if pid is 0 and new_limit is NULL";
	case COND_NOT_SIGSYS:
		return "if signal is not SIGSYS";
	case COND_OWN_PROCESS:
		return "if tgid is lade's own process";
	case COND_SOCKET_FAMILY:
		return "if domain is AF_UNIX, AF_INET or AF_INET6";
	case COND_SOCKET_UNIX:
		return "if domain is AF_UNIX";
	case COND_ENOSYS:
		return "glibc falls back to clone, whose flags the filter can check";
	}
	return NULL;
}

/* Set from the SIGSYS handler, read by lade_sandbox_last_denied(). */
static volatile sig_atomic_t last_nr = -1;
static volatile sig_atomic_t last_arch;
static bool active;

#if SANDBOX_ASAN
/* LeakSanitizer's exit-time check stops the world with a non-thread clone and ptrace, which the
 * filter refuses (and LSan then aborts the process). Leak checking stops at the sandbox. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return active;
}
#endif

#if SANDBOX_TRAP
static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	/* A SIGSYS sent with kill() interrupted no syscall: leave the registers alone. */
	if (si->si_code != SYS_SECCOMP)
		return;
	last_arch = (sig_atomic_t)si->si_arch;
	last_nr = si->si_syscall;
	SANDBOX_SET_RETURN(uc, -EPERM);
}
#endif

/* The SIGSYS handler that turns trapped syscalls into EPERM and records them. */
static int install_reporter(struct sigaction *old, struct lade_error **err)
{
#if SANDBOX_TRAP
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, old) < 0)
		return lade_error_set(err, errno,
		                      "cannot load the seccomp filter: cannot install "
		                      "the SIGSYS handler");
	/* A blocked SIGSYS would turn each refusal into a kill. */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
#else
	(void)old;
	(void)err;
#endif
	return 0;
}

static void restore_reporter(const struct sigaction *old)
{
#if SANDBOX_TRAP
	sigaction(SIGSYS, old, NULL);
#else
	(void)old;
#endif
}

static int check_phase(enum lade_sandbox_phase p, struct lade_error **err)
{
	if (p != LADE_SANDBOX_BUILD && p != LADE_SANDBOX_NETWORK)
		return lade_error_set(err, 0, "unknown sandbox phase %d", (int)p);
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct rule *r, int nr, struct lade_error **err)
{
	static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
	static const unsigned long tty_requests[] = {TCGETS, TIOCGWINSZ};
	int rc = 0;

	switch (r->cond) {
	case COND_NONE:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		break;
	case COND_NO_EXEC:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		                      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
		break;
	case COND_THREAD:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		                      SCMP_A0(SCMP_CMP_MASKED_EQ,
		                              CLONE_THREAD_FLAGS | CLONE_NAMESPACE_FLAGS,
		                              CLONE_THREAD_FLAGS));
		/* A fork is refused by the filter itself, unreported: glibc 2.41 blocks every
		 * signal around fork's clone, and a trap whose SIGSYS is blocked kills the
		 * process instead of returning EPERM. */
		if (rc == 0)
			rc = seccomp_rule_add(
			        ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
			        SCMP_A0(SCMP_CMP_MASKED_EQ, (uint64_t)CLONE_THREAD, 0));
		break;
	case COND_IOCTL_TTY:
		for (size_t i = 0; rc == 0 && i < LADE_ARRAY_SIZE(tty_requests); i++)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			                      SCMP_A1(SCMP_CMP_EQ, tty_requests[i], 0));
		break;
	case COND_IOCTL_FIONREAD:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		                      SCMP_A1(SCMP_CMP_EQ, (unsigned long)FIONREAD, 0));
		break;
	case COND_IOCTL_FICLONE:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		                      SCMP_A1(SCMP_CMP_EQ, (unsigned long)FICLONE, 0));
		break;
	case COND_RLIMIT_READ:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2, SCMP_A0(SCMP_CMP_EQ, 0, 0),
		                      SCMP_A2(SCMP_CMP_EQ, 0, 0));
		break;
	case COND_NOT_SIGSYS:
		/* A raw caller could set high bits the kernel truncates away; that only lets it
		 * replace the reporter, the refused syscalls stay refused. */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_NE, SIGSYS, 0));
		break;
	case COND_OWN_PROCESS:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
		break;
	case COND_SOCKET_FAMILY:
		for (size_t i = 0; rc == 0 && i < LADE_ARRAY_SIZE(families); i++)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i], 0));
		break;
	case COND_SOCKET_UNIX:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)AF_UNIX, 0));
		break;
	case COND_ENOSYS:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		break;
	}
	if (rc < 0)
		return lade_error_set(err, -rc, "cannot load the seccomp filter: rule for %s",
		                      r->name);
	return 0;
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

int lade_sandbox_enter(enum lade_sandbox_phase p, struct lade_error **err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	struct sigaction old_sa;
	uint32_t refuse = SANDBOX_TRAP ? SCMP_ACT_TRAP : SCMP_ACT_ERRNO(EPERM);
	int rc;

	if (check_phase(p, err) < 0)
		return -1;
	if (active)
		return lade_error_set(err, 0, "the sandbox is already active");

	ctx = seccomp_init(refuse);
	if (!ctx)
		return lade_error_set(err, ENOMEM, "cannot load the seccomp filter");
	/* Every thread gets the filter, and calls of foreign ABIs are refused like unknown ones
	 * instead of killing lade (libseccomp's default). */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, refuse);
	/* The kernel's errno rather than libseccomp's ECANCELED when the load fails. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (rc < 0)
		return lade_error_set(err, -rc, "cannot load the seccomp filter");

	for (size_t i = 0; i < LADE_ARRAY_SIZE(rules); i++) {
		int nr;

		if (!(rules[i].phases & (1u << p)))
			continue;
		nr = seccomp_syscall_resolve_name(rules[i].name);
		if (nr < 0) /* not a syscall of this architecture */
			continue;
		if (add_rule(ctx, &rules[i], nr, err) < 0)
			return -1;
	}

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return lade_error_set(err, errno,
		                      "cannot load the seccomp filter: cannot set "
		                      "no_new_privs");
	if (install_reporter(&old_sa, err) < 0)
		return -1;
	rc = seccomp_load(ctx);
	if (rc < 0) {
		restore_reporter(&old_sa);
		return lade_error_set(err, -rc, "cannot load the seccomp filter");
	}
	active = true;
	return 0;
}

static const char *arch_label(uint32_t arch)
{
	switch (arch) {
	case SCMP_ARCH_X86:
		return "x86";
	case SCMP_ARCH_X32:
		return "x32";
	case SCMP_ARCH_ARM:
		return "arm";
	case SCMP_ARCH_X86_64:
		return "x86_64";
	case SCMP_ARCH_AARCH64:
		return "aarch64";
	}
	return NULL;
}

const char *lade_sandbox_last_denied(void)
{
	static _Thread_local char name[64];
	uint32_t native = seccomp_arch_native();
	uint32_t arch = (uint32_t)last_arch;
	int nr = last_nr;
	_cleanup_free_ char *resolved = NULL;

	if (nr < 0)
		return NULL;
	if (arch == native && native == SCMP_ARCH_X86_64 && (nr & X32_SYSCALL_BIT))
		arch = SCMP_ARCH_X32; /* x32 calls come with the x86_64 audit arch */
	resolved = seccomp_syscall_resolve_num_arch(arch, nr);
	if (arch == native && resolved)
		snprintf(name, sizeof(name), "%s", resolved);
	else if (resolved && arch_label(arch))
		snprintf(name, sizeof(name), "%s (%s)", resolved, arch_label(arch));
	else if (arch == native)
		snprintf(name, sizeof(name), "syscall %d", nr);
	else
		snprintf(name, sizeof(name), "syscall %d (arch 0x%x)", nr, arch);
	return name;
}

struct line {
	const char *name;
	const char *cond;
};

static int line_compare(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return strcmp(x->cond ? x->cond : "", y->cond ? y->cond : "");
}

int lade_sandbox_explain(enum lade_sandbox_phase p, struct lade_buf *out, struct lade_error **err)
{
	struct line allowed[LADE_ARRAY_SIZE(rules)], other[LADE_ARRAY_SIZE(rules)];
	size_t n_allowed = 0, n_other = 0;

	if (check_phase(p, err) < 0)
		return -1;
	for (size_t i = 0; i < LADE_ARRAY_SIZE(rules); i++) {
		struct line l = {rules[i].name, cond_text(rules[i].cond)};

		if (!(rules[i].phases & (1u << p)) || seccomp_syscall_resolve_name(l.name) < 0)
			continue;
		if (rules[i].cond == COND_ENOSYS)
			other[n_other++] = l;
		else
			allowed[n_allowed++] = l;
	}
	qsort(allowed, n_allowed, sizeof(*allowed), line_compare);
	qsort(other, n_other, sizeof(*other), line_compare);

	lade_buf_addf(out, "sandbox policy for the %s phase on %s\n",
	              p == LADE_SANDBOX_BUILD ? "build" : "network", SANDBOX_ARCH_NAME);
	lade_buf_adds(out, "no_new_privs: set\n");
	lade_buf_addf(out, "default: refused with EPERM%s\n",
	              SANDBOX_TRAP ? ", reported (SIGSYS trap)" : "");
	lade_buf_addf(out, "foreign ABIs (%s): refused with EPERM%s\n", SANDBOX_FOREIGN,
	              SANDBOX_TRAP ? ", reported" : "");
	lade_buf_adds(out, "allowed:\n");
	for (size_t i = 0; i < n_allowed; i++) {
		if (allowed[i].cond)
			lade_buf_addf(out, "  %s  (%s)\n", allowed[i].name, allowed[i].cond);
		else
			lade_buf_addf(out, "  %s\n", allowed[i].name);
	}
	lade_buf_adds(out, "refused with ENOSYS:\n");
	for (size_t i = 0; i < n_other; i++)
		lade_buf_addf(out, "  %s  (%s)\n", other[i].name, other[i].cond);
	return 0;
}

bool lade_sandbox_supported(void)
{
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		return false;
	/* With filters compiled in, a NULL program is rejected while being copied (EFAULT), or
	 * for lack of no_new_privs (EACCES); without them the mode itself is unknown (EINVAL).
	 * Probe seccomp(2), not prctl: the filter is loaded with TSYNC, which only the system call
	 * has, and some environments (valgrind) pass prctl through but not seccomp(2). */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, NULL) == 0)
		return true;
	return errno == EFAULT || errno == EACCES;
}

/* ---------------------------------------------------------------- confined helpers */

/* The helper's filter is a deny-list on top of "allow": an interpreter's start-up (dynamic
 * loader, locale, its own library) needs more than lade's allow-list, and what matters is that
 * it can neither reach the network, nor change any file, nor start other programs. */
static const char *const helper_denied[] = {
        "socket",
        "socketpair",
        "connect",
        "bind",
        "listen",
        "accept",
        "accept4",
        "execveat",
        "fork",
        "vfork",
        "creat",
        "mkdir",
        "mkdirat",
        "rmdir",
        "unlink",
        "unlinkat",
        "rename",
        "renameat",
        "renameat2",
        "link",
        "linkat",
        "symlink",
        "symlinkat",
        "chmod",
        "fchmod",
        "fchmodat",
        "chown",
        "fchown",
        "lchown",
        "fchownat",
        "truncate",
        "ftruncate",
        "mknod",
        "mknodat",
        "utime",
        "utimes",
        "utimensat",
        "futimesat",
        "setxattr",
        "lsetxattr",
        "fsetxattr",
        "removexattr",
        "lremovexattr",
        "fremovexattr",
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "kill",
        "tkill",
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "setns",
        "unshare",
        "bpf",
        "perf_event_open",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "keyctl",
        "add_key",
        "request_key",
        "init_module",
        "finit_module",
        "delete_module",
        "kexec_load",
        "kexec_file_load",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "settimeofday",
        "clock_settime",
        "sethostname",
        "setdomainname",
        "userfaultfd",
        "memfd_create",
        "name_to_handle_at",
        "open_by_handle_at",
        "fanotify_init",
        "process_madvise",
        "pidfd_open",
        "pidfd_getfd",
        "move_mount",
        "fsopen",
        "fsmount",
        "open_tree",
        "mount_setattr",
};

static int helper_filter(const char *path, struct lade_error **err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	static const unsigned long write_flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};
	uint32_t deny = SCMP_ACT_ERRNO(EPERM);
	int rc = ctx ? 0 : -ENOMEM;

	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny);
	for (size_t i = 0; rc == 0 && i < LADE_ARRAY_SIZE(helper_denied); i++) {
		int nr = seccomp_syscall_resolve_name(helper_denied[i]);
		if (nr >= 0)
			rc = seccomp_rule_add(ctx, deny, nr, 0);
	}
	/* files are opened for reading only (the interpreter's own library) */
	for (size_t i = 0; rc == 0 && i < LADE_ARRAY_SIZE(write_flags); i++) {
		unsigned long f = write_flags[i];
		rc = seccomp_rule_add(ctx, deny, SCMP_SYS(openat), 1,
		                      SCMP_A2(SCMP_CMP_MASKED_EQ, f, f));
		int nr = seccomp_syscall_resolve_name("open");
		if (rc == 0 && nr >= 0)
			rc = seccomp_rule_add(ctx, deny, nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, f, f));
	}
	/* openat2's flags live in memory a filter cannot read: ENOSYS makes libcs fall back */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* threads only, no new process */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, deny, SCMP_SYS(clone), 1,
		                      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
	/* The one execve allowed is the one below: same path pointer. A seccomp filter cannot
	 * read the path itself, so this is a pointer comparison (see the README's security
	 * model); whatever runs stays under this filter anyway. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, deny, SCMP_SYS(execve), 1,
		                      SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)(uintptr_t)path));
	if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		rc = -errno;
	if (rc == 0)
		rc = seccomp_load(ctx);
	if (rc < 0)
		return lade_error_set(err, -rc, "cannot load the helper's seccomp filter");
	return 0;
}

int lade_sandbox_spawn(const char *path, char *const argv[], char *const envp[], pid_t *pid,
                       int *to_child, int *from_child, struct lade_error **err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, status[2] = {-1, -1};
	if (active)
		return lade_error_set(err, 0, "cannot start %s: the sandbox is already active",
		                      path);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0) {
		int e = errno;
		for (int i = 0; i < 2; i++) {
			if (in[i] >= 0)
				close(in[i]);
			if (out[i] >= 0)
				close(out[i]);
			if (status[i] >= 0)
				close(status[i]);
		}
		return lade_error_set(err, e, "cannot start %s: pipe", path);
	}
	/* a helper that dies must give lade an error on write, not kill it */
	signal(SIGPIPE, SIG_IGN);
	pid_t child = fork();
	if (child == 0) {
		/* lade is single-threaded here (before any build work), so the filter can be
		 * built with malloc in the child */
		_cleanup_error_ struct lade_error *e = NULL;
		int code = 0;
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 ||
		    chdir("/") < 0)
			code = errno;
		else if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0 &&
		         errno != ENOSYS)
			code = errno;
		else if (helper_filter(path, &e) < 0)
			code = e->sys_errno ? e->sys_errno : EPERM;
		else {
			execve(path, argv, envp);
			code = errno;
		}
		if (write(status[1], &code, sizeof(code)) < 0)
			_exit(127);
		_exit(127);
	}
	int e = errno;
	close(in[0]);
	close(out[1]);
	close(status[1]);
	if (child < 0) {
		close(in[1]);
		close(out[0]);
		close(status[0]);
		return lade_error_set(err, e, "cannot start %s: fork", path);
	}
	int code = 0;
	ssize_t n;
	do
		n = read(status[0], &code, sizeof(code));
	while (n < 0 && errno == EINTR);
	close(status[0]);
	if (n == (ssize_t)sizeof(code)) {
		close(in[1]);
		close(out[0]);
		waitpid(child, NULL, 0);
		return lade_error_set(err, code, "cannot start %s", path);
	}
	*pid = child;
	*to_child = in[1];
	*from_child = out[0];
	return 0;
}
