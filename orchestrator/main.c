/* xdock: parse the command line, run the command, print the one error and
 * map it to pytest's exit codes. */
#include <stdio.h>

#include "cli.h"
#include "docker.h"
#include "error.h"
#include "gc.h"
#include "run.h"

static int
gc_command(const struct config *cfg, struct error **err)
{
	struct docker *dk = docker_new(cfg->docker_host, NULL, err);
	int removed = 0, rc;

	if (!dk)
		return -1;
	rc = gc_sweep(dk, cfg->gc_all, &removed, err);
	docker_free(dk);
	if (rc < 0)
		return -1;
	printf("xdock gc: removed %d object%s\n", removed, removed == 1 ? "" : "s");
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct error *err = NULL;
	int code;

	if (cli_parse(argc, argv, &cfg, &err) < 0) {
		fprintf(stderr, "xdock: %s\n", err->msg);
		code = err->status;
		error_free(err);
		cli_release(&cfg);
		return code;
	}
	switch (cfg.command) {
	case CLI_HELP: {
		cleanup_free char *usage = cli_usage();

		fputs(usage, stdout);
		code = EXIT_OK;
		break;
	}
	case CLI_VERSION:
		printf("xdock %s\n", XDOCK_VERSION);
		code = EXIT_OK;
		break;
	case CLI_GC:
		code = gc_command(&cfg, &err);
		break;
	case CLI_RUN:
	default:
		code = run_command(&cfg, &err);
		break;
	}
	if (err) {
		fprintf(stderr, "xdock: %s\n", err->msg);
		code = err->status ? err->status : EXIT_INTERNAL;
		error_free(err);
	}
	cli_release(&cfg);
	return code < 0 ? EXIT_INTERNAL : code;
}
