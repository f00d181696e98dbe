/* xdock: parse the command line, run the command, print the one error. */
#include <stdio.h>

#include "error.h"

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "xdock: not built yet\n");
	return EXIT_INTERNAL;
}
