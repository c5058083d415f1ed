/* lade — what the commands share: option values, the sandbox policy, errors, output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "usage.h"

#include "lade/util.h"

int lade_cli_parse_jobs(const char *cmd, const char *arg, unsigned *out)
{
	uint32_t u;
	if (lade_parse_u32(arg, 10, &u) < 0 || u < 1 || u > LADE_CLI_JOBS_MAX)
		return lade_cli_usage_error(cmd, "--jobs '%s' is not a number 1-%d", arg,
		                            LADE_CLI_JOBS_MAX);
	*out = u;
	return 0;
}

int lade_cli_parse_bool(const char *cmd, const char *option, const char *arg, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes"};
	static const char *const no[] = {"false", "0", "no"};
	for (size_t i = 0; i < LADE_ARRAY_SIZE(yes); i++) {
		if (arg == NULL || strcmp(arg, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(arg, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return lade_cli_usage_error(cmd, "--%s takes true or false", option);
}

int lade_cli_help_or_usage(const char *cmd, int c)
{
	lade_cli_usage(c == 'h' ? stdout : stderr, lade_cli_command_find(cmd));
	return c == 'h' ? 0 : LADE_EXIT_USAGE;
}

int lade_cli_error(const struct lade_error *err, int status)
{
	const char *denied = lade_sandbox_last_denied();
	/* libcurl's multi handle asks for a socketpair to be woken up with and does without it
	 * when refused: that refusal never explains a failure */
	if (denied && strcmp(denied, "socketpair") == 0)
		denied = NULL;
	fprintf(stderr, "lade: error: %s%s%s%s\n", err ? err->msg : "unknown failure",
	        denied ? " (the sandbox refused the system call " : "", denied ? denied : "",
	        denied ? "; see lade build --explain-sandbox)" : "");
	return status;
}

#ifdef LADE_TEST_HOOKS
/* Only in builds configured with -Dtest_hooks=true: prove the filter holds in the real binary
 * by attempting what a hostile input would want, right after entering it. */
static int test_hook(void)
{
	_cleanup_error_ struct lade_error *err = NULL;
	const char *hook = getenv("LADE_TEST_HOOK");
	if (hook && strcmp(hook, "execve") == 0) {
		char *const argv[] = {(char *)"/bin/true", NULL};
		execve("/bin/true", argv, environ);
		lade_error_set(&err, errno, "test hook: execve /bin/true");
		lade_cli_error(err, 1);
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
		lade_cli_error(err, 1);
		return -1;
	}
	return 0;
}
#endif

int lade_cli_sandbox(bool enabled, enum lade_sandbox_phase phase)
{
	if (!enabled)
		return 0;
	/* Stricter than carrying on unfiltered: a hostile wheel or base layer must not find a
	 * lade that can run programs because the kernel lacks seccomp. */
	if (!lade_sandbox_supported()) {
		fprintf(stderr, "lade: error: this kernel has no seccomp filter support; run with "
		                "--no-sandbox to run without the sandbox\n");
		return -1;
	}
	_cleanup_error_ struct lade_error *err = NULL;
	if (lade_sandbox_enter(phase, &err) < 0) {
		lade_cli_error(err, 1);
		return -1;
	}
#ifdef LADE_TEST_HOOKS
	return test_hook();
#else
	return 0;
#endif
}

int lade_cli_flush(void)
{
	if (fflush(stdout) != 0) {
		fprintf(stderr, "lade: error: cannot write to standard output: %s\n",
		        strerror(errno));
		return 1;
	}
	return 0;
}

int lade_cli_print_json(const json_t *j, size_t flags)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | flags);
	if (s == NULL) {
		fprintf(stderr, "lade: error: cannot serialise the JSON output\n");
		return 1;
	}
	puts(s);
	free(s);
	return lade_cli_flush();
}

int lade_cli_print_report(const json_t *j, bool json,
                          void (*format)(const json_t *, struct lade_buf *))
{
	if (json)
		return lade_cli_print_json(j, JSON_COMPACT);
	_cleanup_buf_ struct lade_buf b = LADE_BUF_INIT;
	format(j, &b);
	fputs(b.data, stdout);
	return lade_cli_flush();
}
