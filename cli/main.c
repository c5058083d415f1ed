/* lade — command line: the table of commands, help and version. Each command is a file of
 * its own (cmd-*.c); usage.c holds the help texts. cli/ is the only place that prints or
 * exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "usage.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

/* Every command of usage.c's table, by name. */
static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
        {"build", lade_cmd_build}, {"inspect", lade_cmd_inspect},
        {"diff", lade_cmd_diff},   {"verify", lade_cmd_verify},
        {"push", lade_cmd_push},   {"pull", lade_cmd_pull},
        {"gc", lade_cmd_gc},       {"help", cmd_help},
        {"version", cmd_version},
};

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("lade %s\n", LADE_VERSION);
#ifdef LADE_TEST_HOOKS
	printf("test hooks: on (LADE_TEST_HOOK=execve|socket)\n");
#endif
	return lade_cli_flush();
}

static int cmd_help(int argc, char **argv)
{
	(void)argv;
	if (argc > 2)
		return lade_cli_usage_error("help", "help takes at most one COMMAND");
	if (argc < 2) {
		lade_cli_usage(stdout, NULL);
		return 0;
	}
	const struct lade_cli_command *c = lade_cli_command_find(argv[1]);
	if (c == NULL)
		return lade_cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	lade_cli_usage(stdout, c);
	return 0;
}

/* The command's own --help, when ARGV asks for it before a "--": answered from the table the
 * man page is generated from, the same for every command. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	/* lade deliberately never calls setlocale(): libarchive then runs in the "C" locale, so
	 * tar headers do not depend on LANG/LC_ALL. */
	if (argc < 2) {
		lade_cli_usage(stderr, NULL);
		return LADE_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0)
		cmd = "version";
	else if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		cmd = "help";
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		if (commands[i].run != cmd_help && wants_help(argc - 1, argv + 1)) {
			lade_cli_usage(stdout, lade_cli_command_find(cmd));
			return 0;
		}
		/* getopt's own messages start with argv[0] */
		argv[1] = (char *)"lade";
		return commands[i].run(argc - 1, argv + 1);
	}
	return lade_cli_usage_error(NULL, "unknown command '%s'", cmd);
}
