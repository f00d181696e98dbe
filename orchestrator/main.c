/* xdock: parse the command line, run the command, print the one error and
 * map it to pytest's exit codes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bisect.h"
#include "cli.h"
#include "db_url.h"
#include "docker.h"
#include "engines.h"
#include "error.h"
#include "gc.h"
#include "lastrun.h"
#include "project.h"
#include "replay.h"
#include "run.h"
#include "version.h"

/* xdock gc --db-url: the databases dead runs left on that server. */
static int
gc_databases(const char *url, struct error **err)
{
	cleanup_free char *masked = db_url_masked(url);
	int dropped = 0;

	if (gc_db_sweep(url, -1, &dropped, err) < 0)
		return -1;
	printf("xdock gc: dropped %d database%s on %s\n", dropped, dropped == 1 ? "" : "s", masked);
	return EXIT_OK;
}

/* The databases dead runs left on dk's kept --reuse-db servers; a server
 * that cannot be swept is said, the rest goes on. */
static void
gc_kept_databases(struct docker *dk)
{
	struct error *e = NULL;
	int servers = 0, dropped = 0;

	if (gc_db_sweep_kept(dk, &servers, &dropped, &e) < 0) {
		fprintf(stderr, "xdock gc: %s\n", e->msg);
		error_free(e);
	}
	if (servers > 0)
		printf("xdock gc: dropped %d database%s on %d kept --reuse-db server%s\n", dropped,
		       dropped == 1 ? "" : "s", servers, servers == 1 ? "" : "s");
}

/* Every engine it is given (--docker-host again and again, or
 * XDOCK_DOCKER_HOSTS) is swept; one that does not answer is said and the
 * others are still swept. */
static int
gc_command(const struct config *cfg, struct error **err)
{
	char **hosts;
	size_t nhosts;
	int total = 0, failed = 0;

	/* A --db-url that cannot work is refused before anything goes. */
	if (cfg->db_url) {
		struct db_url u;

		if (db_url_parse(cfg->db_url, &u, err) < 0)
			return error_wrap(err, "--db-url");
		db_url_release(&u);
	}
	engines_hosts(cfg, getenv(ENGINES_ENV), &hosts, &nhosts);
	for (size_t i = 0; i < nhosts; i++) {
		struct error *e = NULL;
		struct docker *dk = docker_new(hosts[i], NULL, &e);
		int removed = 0;

		if (!dk || gc_sweep(dk, cfg->gc_all, &removed, &e) < 0) {
			if (nhosts == 1) {
				*err = e;
			} else {
				fprintf(stderr, "xdock gc: %s\n", e->msg);
				error_free(e);
			}
			failed++;
		} else {
			if (nhosts > 1)
				printf("xdock gc: %s: removed %d object%s\n", docker_host(dk), removed,
				       removed == 1 ? "" : "s");
			if (!cfg->gc_all)
				gc_kept_databases(dk);
		}
		total += removed;
		docker_free(dk);
	}
	util_strv_free(hosts, nhosts);
	if (failed && nhosts == 1)
		return -1;
	printf("xdock gc: removed %d object%s\n", total, total == 1 ? "" : "s");
	if (failed)
		return error_set(err, EXIT_INTERNAL, "gc: %d of %zu engines could not be swept", failed, nhosts);
	if (cfg->db_url)
		return gc_databases(cfg->db_url, err);
	return EXIT_OK;
}

/* -v: where the run happens and where each setting came from. */
static void
print_project(const struct config *cfg)
{
	fprintf(stderr, "xdock: rootdir: %s, inifile: %s\n", cfg->rootdir, cfg->inifile ? cfg->inifile : "none");
	fprintf(stderr, "xdock: project (mounted): %s, workdir: %s\n", cfg->project_dir, cfg->workdir);
	for (const char *l = cfg->origins; l && *l;) {
		const char *nl = strchr(l, '\n');
		int n = nl ? (int)(nl - l) : (int)strlen(l);

		fprintf(stderr, "xdock: %.*s\n", n, l);
		l += n + (nl ? 1 : 0);
	}
}

static int
load_project(struct config *cfg, int argc, char **argv, struct error **err)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)))
		return error_set(err, EXIT_USAGE, "the current directory: %s", strerror(errno));
	if (project_load(cfg, argc, argv, cwd, getenv("PYTEST_ADDOPTS"), err) < 0)
		return -1;
	if (cfg->verbose > 0)
		print_project(cfg);
	return 0;
}

/* replay, bisect: the recorded run and the config to run it with. */
static int
load_replay(struct config *cfg, int argc, char **argv, struct lastrun *lr, struct error **err)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)))
		return error_set(err, EXIT_USAGE, "the current directory: %s", strerror(errno));
	if (project_load_replay(cfg, argc, argv, cwd, getenv("PYTEST_ADDOPTS"), lr, err) < 0)
		return -1;
	if (cfg->verbose > 0)
		print_project(cfg);
	return 0;
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
		version_print(stdout, cfg.docker_host);
		code = EXIT_OK;
		break;
	case CLI_GC:
		code = gc_command(&cfg, &err);
		break;
	case CLI_REPLAY:
	case CLI_BISECT: {
		struct lastrun lr;

		code = -1;
		if (load_replay(&cfg, argc, argv, &lr, &err) == 0) {
			code = cfg.command == CLI_REPLAY ? replay_command(&cfg, &lr, &err) : bisect_command(&cfg, &lr, &err);
			lastrun_release(&lr);
		}
		break;
	}
	case CLI_RUN:
	default:
		code = -1;
		if (load_project(&cfg, argc, argv, &err) == 0 && cfg.command == CLI_HELP) {
			cleanup_free char *usage = cli_usage();

			fputs(usage, stdout);
			code = EXIT_OK;
		} else if (!err) {
			code = run_command(&cfg, &err);
		}
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
