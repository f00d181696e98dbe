/* The record of a run that replay and bisect start from: what was run
 * (image id, pytest arguments, environment options, database setup) and
 * what each worker ran in order. Written to .xdock/last-run.json after
 * every run and into the JSON report ("invocation", "sequences"); read
 * back from either. */
#ifndef XDOCK_LASTRUN_H
#define XDOCK_LASTRUN_H

#include <cjson/cJSON.h>

#include "cli.h"
#include "error.h"
#include "report.h"
#include "sequence.h"

#define LASTRUN_FILE "last-run.json"
#define LASTRUN_VERSION 1

struct lastrun {
	cJSON *root;               /* the parsed file; the strings below point into it */
	const char *run_id;
	const char *image;         /* as given (a tag) */
	const char *image_id;      /* what the tag meant then: sha256:...; NULL unknown */
	const char **pytest_args;  /* argv for pytest, as the run gave it */
	size_t npytest_args;
	const char **env;          /* --env as given */
	size_t nenv;
	const char **db_options;   /* --db-option NAME=VALUE as given */
	size_t ndb_options;
	enum cli_db db;
	const char *db_image, *db_setup, *db_setup_key;
	double timeout;
	int64_t memory, nano_cpus;
	struct sequence seq;       /* owns its ids */
};

/* The "invocation" object of the config a run used. image_id may be
 * NULL. --db-url is not kept (it holds a password): say it again. */
cJSON *lastrun_invocation(const struct config *cfg, size_t workers, const char *image_id);

/* <project>/.xdock/last-run.json from the finished run's report (its
 * invocation and sequences; nothing of the tests' output). */
int lastrun_save(const char *project_dir, const struct report *r, struct error **err);

/* Reads a last-run.json or a JSON report (path NULL: the project's
 * last-run.json). EXIT_USAGE when missing or malformed. */
int lastrun_load(const char *project_dir, const char *path, struct lastrun *lr, struct error **err);
void lastrun_release(struct lastrun *lr);

/* A config that runs what lr ran: base (the replay's own options: engine,
 * agent, -v, reports, --db-url) plus lr's image id, pytest arguments,
 * environment and database setup. The result borrows from lr and base. */
int lastrun_config(const struct lastrun *lr, const struct config *base, struct config *out, struct error **err);

#endif
