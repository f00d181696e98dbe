/* The record of a run that replay and bisect start from: what was run
 * (image id, pytest arguments, the settings that shape a worker's
 * environment and database, where the run happened) and what each worker
 * ran in order. Written to <rootdir>/.xdock/last-run.json after every run
 * and into the JSON report ("invocation", "sequences"); read back from
 * either. */
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
	/* --db-env and --db-scope as spelt on the command line ("url",
	 * "server"); NULL: not recorded (an older record). */
	const char *db_env, *db_scope;
	double db_setup_timeout;   /* < 0: not recorded */
	double timeout;
	int64_t memory, nano_cpus;
	/* Where the run happened (rootdir.c); NULL: not recorded. */
	const char *rootdir, *inifile, *project_dir, *workdir;
	struct sequence seq;       /* owns its ids */
};

/* The "invocation" object of the config a run used. image_id may be
 * NULL. --db-url is not kept (it holds a password): say it again. */
cJSON *lastrun_invocation(const struct config *cfg, size_t workers, const char *image_id);

/* <dir>/.xdock/last-run.json from the finished run's report (its
 * invocation and sequences; nothing of the tests' output). dir is the
 * run's rootdir, where pytest keeps its cache. */
int lastrun_save(const char *dir, const struct report *r, struct error **err);

/* Reads a last-run.json or a JSON report (path NULL: dir's
 * .xdock/last-run.json). EXIT_USAGE when missing or malformed. */
int lastrun_load(const char *dir, const char *path, struct lastrun *lr, struct error **err);
void lastrun_release(struct lastrun *lr);

/* Puts what lr recorded of the run into c, over what c holds (defaults
 * and the project's config): the image by id, pytest arguments, --env,
 * the database and its setup, --db-env, --db-scope, limits. What lr does
 * not record stays as c has it. c owns copies (cli_own). EXIT_USAGE for a
 * recorded value that is not one xdock takes. */
int lastrun_apply(const struct lastrun *lr, const char *origin, struct config *c, struct error **err);

#endif
