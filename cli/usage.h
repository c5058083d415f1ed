/* lade — the one source of the command line's documentation: `lade help`, every command's
 * --help and the lade(1) man page (tools/gen-man.c) are all rendered from the tables in
 * usage.c, so they cannot drift apart. Depends on the C library only, so the man page
 * generator links nothing else. */
#pragma once

#include <stdio.h>

struct lade_cli_option {
	char short_name;    /* 0: none */
	const char *name;   /* long name without "--"; NULL ends a table */
	const char *arg;    /* metavariable ("PATH"; "=BOOL": an optional argument, attached),
	                     * or NULL for a flag */
	const char *help;   /* one paragraph, wrapped when printed */
	const char *values; /* space-separated values the argument takes (completion), or NULL */
};

struct lade_cli_command {
	const char *name;        /* NULL ends lade_cli_commands */
	const char *args;        /* operands after the name: "RECIPE [options]" */
	const char *summary;     /* one line, for the command list */
	const char *description; /* paragraphs separated by "\n" */
	const struct lade_cli_option *options;
	const char *notes; /* printed after the options, paragraphs separated by "\n"; or NULL */
};

/* Every command, in the order `lade help` lists them; ends with a zeroed entry. */
extern const struct lade_cli_command lade_cli_commands[];

/* The command called NAME, or NULL. */
const struct lade_cli_command *lade_cli_command_find(const char *name);

/* Print the help of CMD (NULL: the command list of `lade help`) to F, wrapped to 79 columns. */
void lade_cli_usage(FILE *f, const struct lade_cli_command *cmd);

/* A usage error of command NAME (NULL: of lade itself): "lade: MESSAGE" then that command's
 * help, on stderr. Returns 2, the exit status of usage errors, for `return
 * lade_cli_usage_error(…)`. */
int lade_cli_usage_error(const char *name, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Print the lade(1) man page (roff, man macros) to F. VERSION goes into the footer; the page
 * holds no date, so the same sources give the same bytes. Returns 0, or -1 when F fails. */
int lade_cli_man(FILE *f, const char *version);
