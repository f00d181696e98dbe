/* The command line: `xdock run [options and pytest arguments, any order]`,
 * `xdock replay gwN`, `xdock bisect NODEID`, `xdock gc [--all]`, `xdock
 * version`. One table holds every xdock option
 * (name, value, help, where it goes): the parser, `--help` and the config
 * file keys all read it. Pure: argv in, struct config out; usage errors are
 * EXIT_USAGE with a one-line message. */
#ifndef XDOCK_CLI_H
#define XDOCK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sched.h"
#include "shard.h"

/* Upper bounds of --timeout/--db-setup-timeout (30 days) and --cpus, so
 * their conversions to milliseconds and NanoCPUs stay in range. */
#define CLI_SECONDS_MAX (30.0 * 24 * 3600)
#define CLI_CPUS_MAX 1048576.0

enum cli_command { CLI_RUN, CLI_GC, CLI_VERSION, CLI_HELP, CLI_REPLAY, CLI_BISECT };
enum cli_db { CLI_DB_EMBEDDED, CLI_DB_URL, CLI_DB_NONE };
/* --db-env: what workers get of their database by default. */
enum cli_db_env { CLI_DB_ENV_ALL, CLI_DB_ENV_URL, CLI_DB_ENV_NONE };
/* --db-scope: what one worker has of its own, a database or a server. */
enum cli_db_scope { CLI_DB_SCOPE_DATABASE, CLI_DB_SCOPE_SERVER };

/* --docker-host given more often than this is a usage error. */
#define CLI_MAX_ENGINES 16

struct config {
	enum cli_command command;
	int workers;               /* 0 with workers_auto: the engine's NCPU */
	bool workers_auto;
	int maxprocesses;          /* 0: no cap */
	const char *image;
	enum sched_mode dist;
	enum cli_db db;
	enum cli_db_env db_env;    /* all: DATABASE_URL and PG*; url; none */
	enum cli_db_scope db_scope;
	const char *db_url;
	const char *db_setup;      /* shell command run once into the template */
	const char *db_setup_key;  /* glob of files the template depends on */
	double db_setup_timeout;   /* seconds, 0: none */
	const char *db_image;
	bool reuse_db, keep_dbs;
	const char *json_report, *junitxml;
	int verbose;
	int maxfail;               /* 0: no limit; -x is 1 */
	int max_worker_restart;    /* -1: 4 x workers, as pytest-xdist */
	const char *docker_host;   /* the first --docker-host; NULL: DOCKER_HOST or the local socket */
	/* Every --docker-host, in order: a run's engines (engines.h). */
	const char *docker_hosts[CLI_MAX_ENGINES];
	size_t ndocker_hosts;
	bool ship;                 /* ship the project even to a local engine */
	bool no_local_channel;     /* the protocol over the attach stream alone (chan.h) */
	const char *agent;         /* NULL: next to the xdock binary */
	double timeout;            /* per test, seconds, 0: none */
	int64_t memory;            /* bytes per worker container, 0: none */
	int64_t nano_cpus;
	bool gc_all;
	int reruns;                /* --reruns N */
	bool fail_on_flaky;
	const char *quarantine;    /* file of node ids whose failures do not count */
	bool no_history;           /* ignore and keep .xdock/durations.json */
	bool no_passenv;           /* do not pass the default variables */
	bool longest_first;        /* history orders the whole suite, not only the split */
	struct shard_spec shard;   /* m == 0: no sharding */
	/* --db-option NAME=VALUE: settings of the embedded server, in
	 * order (postgres -c NAME=VALUE). */
	const char **db_options;
	size_t ndb_options;
	const char *timeline;      /* --timeline FILE.html */
	bool reruns_replay;        /* --reruns-replay: replay a flaky test's failed sequence */
	/* replay and bisect: what to replay (worker gwN, the test to stop at
	 * or to bisect, a JSON report instead of .xdock/last-run.json). */
	const char *replay_worker, *replay_until, *replay_report;
	bool bisect_serial;        /* bisect --serial: one candidate at a time */
	/* --env NAME=VALUE / --env NAME (from xdock's own environment), for
	 * every worker, in order. */
	const char **env;
	size_t nenv;
	/* Handed to pytest in every container, in order (paths, -k, ...). */
	const char **pytest_args;
	size_t npytest_args;
	/* Given to pytest before pytest_args: what xdock itself adds. */
	const char **worker_args;
	size_t nworker_args;

	/* Seen while parsing, for the rootdir decision: the positional
	 * arguments (paths, node ids, values of unknown options) and the
	 * values of pytest's -c and --rootdir. */
	const char **positional;
	size_t npositional;
	const char *inifile_arg, *rootdir_arg;

	/* Decided by project_load (NULL when it did not run): the directory
	 * mounted into every container at the same path, pytest's rootdir
	 * and inifile, and the containers' working directory. */
	const char *project_dir, *rootdir, *inifile, *workdir;
	/* "image: /p/pyproject.toml [tool.xdock]\n"..., for -v. */
	char *origins;

	/* Strings the config owns (split addopts, rebuilt short options). */
	char **owned;
	size_t nowned;
};

/* Fills cfg from argv. Strings are borrowed from argv or owned by cfg.
 * Returns 0, or -1 with EXIT_USAGE. cfg->command CLI_HELP means print
 * cli_usage(). */
int cli_parse(int argc, char **argv, struct config *cfg, struct error **err);
/* The defaults of `xdock run`, with nothing parsed. */
void cli_defaults(struct config *cfg);
/* Parses run arguments (xdock's options picked out, the rest appended to
 * pytest_args in order) on top of what cfg holds already. */
int cli_parse_run(struct config *cfg, const char *const *args, size_t n, struct error **err);
/* Parses `xdock replay ...` or `xdock bisect ...` (argv[1] names which)
 * on top of what cfg holds: the recorded run's settings, then the command
 * line's, so that the latter win. pytest arguments on it are a usage
 * error (they come from the record). */
int cli_parse_replay(int argc, char **argv, struct config *cfg, struct error **err);
/* A setting from a config file: key is an option's long name without the
 * dashes ('_' and '-' alike), value its text ("true"/"false" for flags;
 * NULL for a flag means true). origin names the file for -v and errors;
 * base is the file's directory (relative file settings are resolved
 * against it). */
int cli_set(struct config *cfg, const char *key, const char *value, const char *origin, const char *base,
	    struct error **err);
/* Validation of combinations, once everything is applied. */
int cli_finish(struct config *cfg, struct error **err);
/* Whether pytest's arguments select the whole suite: no path but ".", no
 * node id, nothing that deselects (-k, -m, --deselect, --ignore, --lf,
 * --sw, --co). Other options (from addopts, say) do not narrow it. */
bool cli_whole_suite(const struct config *cfg);
/* Takes s into cfg's owned strings; returns s. */
const char *cli_own(struct config *cfg, char *s);
void cli_release(struct config *cfg);
/* The --help text (heap). */
char *cli_usage(void);
/* The table for tests and docs: the i-th option's long name ("--image"),
 * NULL past the end. */
const char *cli_option_name(size_t i);
/* "512m", "2g", "1073741824" -> bytes; -1 when malformed. */
int64_t cli_parse_size(const char *s);
/* Splits a string the way Python's shlex.split does (POSIX mode: quotes,
 * backslashes, no expansion), appending heap words. -1 on an unclosed
 * quote. */
int cli_split(const char *s, char ***words, size_t *n);

#endif
