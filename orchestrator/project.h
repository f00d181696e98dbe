/* A run's project, put together the way pytest puts its own together:
 * rootdir, inifile and the mounted directory (rootdir.c), xdock's settings
 * from the project's config file, then addopts, PYTEST_ADDOPTS and the
 * command line, in that order (the last word wins), and the variables
 * every worker gets from the host by default. A replay's too: the same,
 * with the recorded run's settings before its command line. */
#ifndef XDOCK_PROJECT_H
#define XDOCK_PROJECT_H

#include "cli.h"
#include "error.h"
#include "lastrun.h"

/* Variables passed from the host to every worker when set (unless
 * --no-passenv), NULL-terminated. */
extern const char *const project_passenv[];

/* Rebuilds cfg (parsed from argv by cli_parse, command CLI_RUN) with the
 * project's config applied. cwd is the user's directory, env_addopts
 * PYTEST_ADDOPTS (NULL: unset). On failure cfg is left as it was. */
int project_load(struct config *cfg, int argc, char **argv, const char *cwd, const char *env_addopts,
		 struct error **err);

/* For replay and bisect (cfg parsed by cli_parse): the record of the run,
 * looked up in the rootdir pytest decides at cwd (--report FILE instead
 * when given), into *lr; cfg rebuilt from it. In order, the later
 * winning: the defaults, the project's config as run reads it (its
 * [xdock] settings and addopts' xdock options), what the record holds,
 * the command line. The workers get what run's get. On failure cfg is
 * left as it was and lr holds nothing. */
int project_load_replay(struct config *cfg, int argc, char **argv, const char *cwd, const char *env_addopts,
			struct lastrun *lr, struct error **err);

#endif
