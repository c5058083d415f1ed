/* lade — the seccomp sandbox.
 *
 * lade parses hostile wheels and base images on CI runners that hold credentials, so once the
 * command line is parsed it gives up everything a build does not need: no_new_privs plus a
 * libseccomp ALLOW-LIST. A compromised parser can then still read and write the files lade
 * could (that is the job), but it cannot run programs, open sockets, trace or signal other
 * processes, change owners or namespaces, load new code or talk to the kernel's more exotic
 * interfaces. The one program lade runs, the bytecode helper of python.compile, is started
 * before that by lade_sandbox_spawn() (below), confined by a filter of its own.
 *
 * Why each group is allowed (the table in core/sandbox.c is the one source of truth;
 * lade_sandbox_explain() prints it):
 *  - files: open/openat/openat2, read/write/pread64/pwrite64/readv/writev/lseek, close,
 *    fstat/newfstatat/statx/stat/lstat, access/faccessat/faccessat2, getdents64,
 *    mkdir/mkdirat, rename/renameat/renameat2, link/linkat, unlink/unlinkat/rmdir,
 *    readlink/readlinkat, getcwd, fsync/fdatasync/syncfs, ftruncate, fadvise64, flock, fcntl,
 *    dup/dup2/dup3, umask: reading recipes, wheels and bases; the blob store (temp file ->
 *    fsync -> rename/link, flock on the layout); fchmod because blob temp files get 0644.
 *  - memory: brk, mmap/mprotect (only WITHOUT PROT_EXEC: nothing in lade loads or generates
 *    code, and W^X stops an exploit from making its payload executable), munmap, mremap,
 *    madvise: glibc malloc, thread stacks, stdio, the locale archive.
 *  - threads: clone only with CLONE_THREAD|CLONE_VM|CLONE_SIGHAND and no CLONE_NEW* flag
 *    (zstd workers, parallel gzip; fork() is refused), clone3 fails with ENOSYS because its
 *    flags live in memory a filter cannot read and glibc then falls back to clone; futex,
 *    set_robust_list, rseq, sched_yield, sched_getaffinity (CPU count), getcpu, exit,
 *    exit_group.
 *  - signals: rt_sigaction (not for SIGSYS, which reports refusals), rt_sigprocmask,
 *    rt_sigreturn, sigaltstack, restart_syscall, tgkill only to lade's own threads (abort()).
 *  - information: getrandom (OpenSSL seeding), clock_gettime/gettimeofday/time/clock_getres,
 *    nanosleep/clock_nanosleep (lock waits), getpid/gettid/getuid/geteuid/getgid/getegid,
 *    uname, sysinfo (glibc qsort sizes its buffer with it), getrlimit/prlimit64 (read only,
 *    own process), ioctl only TCGETS/TIOCGWINSZ (isatty, progress output).
 *  - LADE_SANDBOX_NETWORK adds: socket (AF_UNIX, AF_INET, AF_INET6 only), connect,
 *    getsockname, getpeername, getsockopt, setsockopt, sendto, recvfrom, sendmsg, recvmsg,
 *    sendmmsg, recvmmsg, shutdown, poll, ppoll and ioctl FIONREAD, for registry clients and the
 *    glibc DNS resolver (whose files/dns NSS modules are built into glibc >= 2.34; modules that
 *    must be dlopen()ed cannot load, as PROT_EXEC mappings are refused).
 *
 * Everything else is refused with EPERM, never killed, so lade can report it: on x86_64 and
 * aarch64 the refusal is a SIGSYS trap whose handler records the syscall and makes it return
 * -EPERM; elsewhere the filter returns EPERM directly and lade_sandbox_last_denied() stays
 * NULL. System calls of foreign ABIs (i386 and x32 on x86_64, arm on aarch64) are refused the
 * same way. lade never needs them; only injected code would use them to slip past the filter.
 * A thread that blocks SIGSYS (sigfillset masks) and then makes a refused call is killed by
 * the kernel instead: the refusal still holds, only the report is lost.
 *
 * Sanitizer builds (ASan/LSan): LeakSanitizer's exit-time check stops the world with a
 * non-thread clone and ptrace. Builds with __SANITIZE_ADDRESS__ therefore turn leak checking
 * off once the filter is loaded (through the __lsan_is_turned_off hook) instead of allowing
 * ptrace; leaks before that point are still found by tests that do not enter the sandbox.
 */
#ifndef LADE_SANDBOX_H
#define LADE_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "lade/error.h"
#include "lade/util.h"

enum lade_sandbox_phase {
	LADE_SANDBOX_BUILD,   /* files, memory, threads: everything `lade build` does */
	LADE_SANDBOX_NETWORK, /* build + client sockets for registries */
};

/* Enter the sandbox for phase p: sets no_new_privs, installs the SIGSYS reporter and loads the
 * filter for every thread of the process (TSYNC). Irreversible, and possible once per process:
 * a second call fails with "the sandbox is already active". Call it after the command line is
 * parsed and the locale set, before touching any input.
 * Errors: "unknown sandbox phase N"; libseccomp failures as "cannot load the seccomp filter: …"
 * (with the errno libseccomp reported). On error nothing has been loaded, except that
 * no_new_privs may already be set. */
int lade_sandbox_enter(enum lade_sandbox_phase p, struct lade_error **err);

/* Name of the last syscall the sandbox refused ("execve", "socket", "socket (x86)" for a
 * foreign ABI, "syscall 1234" if unknown to libseccomp), or NULL when nothing was refused yet
 * or refusals are not reported on this architecture. The string lives in a per-thread buffer
 * that is valid until the next call in the same thread. Not async-signal-safe. */
const char *lade_sandbox_last_denied(void);

/* Append a human-readable description of the policy for phase p to out: the default action,
 * the foreign-ABI action, then every allowed syscall of this architecture sorted by name, one
 * per line ("  name" or "  name  (if condition)"), then the syscalls refused with another errno.
 * Built from the same table the filter is, so it cannot drift from what is enforced.
 * Errors: "unknown sandbox phase N". */
int lade_sandbox_explain(enum lade_sandbox_phase p, struct lade_buf *out, struct lade_error **err);

/* Does this kernel support seccomp filters (prctl(PR_GET_SECCOMP) works and
 * SECCOMP_MODE_FILTER is known)? Does not change anything. */
bool lade_sandbox_supported(void);

/* Start the program at `path` (absolute) as a confined helper, before lade_sandbox_enter():
 * fork, the child's stdin and stdout become pipes (*to_child, *from_child: lade's ends, close
 * them to end it), its working directory "/", no other fd open; no_new_privs and a seccomp
 * filter that refuses with EPERM: sockets, opening a file for writing (O_WRONLY, O_RDWR,
 * O_CREAT, O_TRUNC, O_APPEND; openat2 and clone3 fail with ENOSYS), every call that creates,
 * removes, renames or changes a file (mkdir, unlink, rename, link, symlink, chmod, chown,
 * truncate, utimes, xattrs), new processes (fork, vfork, clone without CLONE_THREAD), any
 * execve but the one that starts `path` (compared by pointer: seccomp cannot read strings),
 * ptrace, mounts and namespaces, bpf, io_uring, keyrings, modules. stderr is inherited.
 * SIGPIPE is ignored in lade from then on (a dead helper is a write error). The caller reaps
 * *pid. Errors: the sandbox already active, pipe/fork failures, and the child's errno when the
 * filter or the execve failed ("cannot start PATH: No such file or directory"). */
int lade_sandbox_spawn(const char *path, char *const argv[], char *const envp[], pid_t *pid,
                       int *to_child, int *from_child, struct lade_error **err);

#endif
