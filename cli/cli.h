/* lade — the command line's own header: one entry point per command (cmd-*.c) and what the
 * commands share (options.c): the -j range, boolean values, the sandbox policy, errors and
 * output. The library headers (include/lade/) never declare commands. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "lade/error.h"
#include "lade/sandbox.h"

enum { LADE_EXIT_USAGE = 2 };

/* Each takes the command's own argv (argv[0] is the command name) and returns the exit
 * status. main.c's table maps names to them; --help is answered there from usage.c. */
int lade_cmd_build(int argc, char **argv);
int lade_cmd_verify(int argc, char **argv);
int lade_cmd_inspect(int argc, char **argv);
int lade_cmd_diff(int argc, char **argv);
int lade_cmd_push(int argc, char **argv);
int lade_cmd_pull(int argc, char **argv);
int lade_cmd_gc(int argc, char **argv);

/* The one range of -j/--jobs for every command. */
enum { LADE_CLI_JOBS_MAX = 1024 };

/* -j N: 0 with *out set, or the usage error's exit status (message and help printed). */
int lade_cli_parse_jobs(const char *cmd, const char *arg, unsigned *out);

/* A BOOL option value, the same spellings everywhere: true|1|yes and false|0|no; NULL (an
 * optional argument left out: "--tls-verify") is true. 0, or the usage error's exit status. */
int lade_cli_parse_bool(const char *cmd, const char *option, const char *arg, bool *out);

/* The sandbox policy of every command: enter the seccomp filter for PHASE before any input
 * is read, and refuse to run where the kernel has none; --no-sandbox (enabled false) is the
 * only way to run without it. 0, or -1 with the reason printed. */
int lade_cli_sandbox(bool enabled, enum lade_sandbox_phase phase);

/* The last case of a command's option switch: -h prints the help on stdout and gives 0,
 * anything else (getopt's '?': it said what was wrong) the help on stderr and 2. */
int lade_cli_help_or_usage(const char *cmd, int c);

/* "lade: error: MESSAGE" on stderr (naming the system call the sandbox refused, if any);
 * returns STATUS. */
int lade_cli_error(const struct lade_error *err, int status);

/* Print J on stdout with json_dumps FLAGS (JSON_SORT_KEYS added) and flush; 0 or 1. */
int lade_cli_print_json(const json_t *j, size_t flags);

/* Flush stdout; 0, or 1 with the error printed. */
int lade_cli_flush(void);

struct lade_buf;
/* inspect and diff: J as compact JSON with --json, else as FORMAT renders it; 0 or 1. */
int lade_cli_print_report(const json_t *j, bool json,
                          void (*format)(const json_t *, struct lade_buf *));
