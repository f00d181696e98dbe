/* The command line: `xdock run [options] [paths and pytest args...]`,
 * `xdock gc [--all]`, `xdock version`. Pure: argv in, struct config out;
 * usage errors are EXIT_USAGE with a one-line message. */
#ifndef XDOCK_CLI_H
#define XDOCK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sched.h"
#include "shard.h"

enum cli_command { CLI_RUN, CLI_GC, CLI_VERSION, CLI_HELP };
enum cli_db { CLI_DB_EMBEDDED, CLI_DB_URL, CLI_DB_NONE };

struct config {
	enum cli_command command;
	int workers;               /* 0 with workers_auto: the engine's NCPU */
	bool workers_auto;
	int maxprocesses;          /* 0: no cap */
	const char *image;
	enum sched_mode dist;
	enum cli_db db;
	const char *db_url;
	const char *db_setup;      /* shell command run once into the template */
	const char *db_setup_key;  /* glob of files the template depends on */
	const char *db_image;
	bool reuse_db, keep_dbs;
	const char *json_report, *junitxml;
	int verbose;
	int maxfail;               /* 0: no limit; -x is 1 */
	int max_worker_restart;    /* -1: 4 x workers, as pytest-xdist */
	const char *docker_host;   /* NULL: DOCKER_HOST or the local socket */
	const char *agent;         /* NULL: next to the xdock binary */
	double timeout;            /* per test, seconds, 0: none */
	int64_t memory;            /* bytes per worker container, 0: none */
	int64_t nano_cpus;
	bool gc_all;
	int reruns;                /* --reruns N */
	bool fail_on_flaky;
	const char *quarantine;    /* file of node ids whose failures do not count */
	bool no_history;           /* ignore and keep .xdock/durations.json */
	struct shard_spec shard;   /* m == 0: no sharding */
	/* --env NAME=VALUE / --env NAME (from xdock's own environment), for
	 * every worker. Borrowed from argv. */
	const char **env;
	size_t nenv;
	/* Handed to pytest in every container, in order (paths, -k, ...).
	 * Borrowed from argv. */
	const char **pytest_args;
	size_t npytest_args;
};

/* Fills cfg from argv (borrowed: cfg points into argv). Returns 0, or -1
 * with EXIT_USAGE. cfg->command CLI_HELP means print cli_usage(). */
int cli_parse(int argc, char **argv, struct config *cfg, struct error **err);
void cli_release(struct config *cfg);
const char *cli_usage(void);
/* "512m", "2g", "1073741824" -> bytes; -1 when malformed. */
int64_t cli_parse_size(const char *s);

#endif
