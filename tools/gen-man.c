/* Write the lade(1) man page to the file named by argv[1] (meson custom_target), rendered
 * from the same tables as lade's --help texts (cli/usage.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../cli/usage.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: gen-man OUTPUT\n", stderr);
		return 2;
	}
	FILE *f = fopen(argv[1], "w");
	if (f == NULL) {
		fprintf(stderr, "gen-man: cannot create %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	int r = lade_cli_man(f, LADE_VERSION);
	if (fclose(f) != 0 || r < 0) {
		fprintf(stderr, "gen-man: cannot write %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
