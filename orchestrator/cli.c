#include "cli.h"
#include "cli_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define FIELD(f) offsetof(struct config, f)

static int
parse_int(const char *opt, const char *s, int min, int *out, struct error **err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > 100000)
		return error_set(err, EXIT_USAGE, "%s: expected a whole number >= %d, got \"%s\"", opt, min, s);
	*out = (int)v;
	return 0;
}

/* max keeps later conversions (to milliseconds, to NanoCPUs) in range. */
static int
parse_double(const char *opt, const char *s, double max, double *out, struct error **err)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || v < 0 || !isfinite(v))
		return error_set(err, EXIT_USAGE, "%s: expected a non-negative number, got \"%s\"", opt, s);
	if (v > max)
		return error_set(err, EXIT_USAGE, "%s: \"%s\" is more than %.0f", opt, s, max);
	*out = v;
	return 0;
}

static int
set_numprocesses(struct config *cfg, const char *v, struct error **err)
{
	int n = 0;

	if (strcmp(v, "auto") == 0 || strcmp(v, "logical") == 0) {
		cfg->workers_auto = true;
		cfg->workers = 0;
		return 0;
	}
	if (parse_int("-n", v, 0, &n, err) < 0)
		return -1;
	/* pytest-xdist's -n 0 runs in one process: here, one worker. */
	cfg->workers = n > 0 ? n : 1;
	cfg->workers_auto = false;
	return 0;
}

static int
set_dist(struct config *cfg, const char *v, struct error **err)
{
	int m = sched_mode_parse(v);

	if (m < 0)
		return error_set(err, EXIT_USAGE,
				 "--dist: unknown mode \"%s\" (load, loadscope, loadfile, loadgroup, worksteal, each, no)", v);
	cfg->dist = (enum sched_mode)m;
	return 0;
}

static int
set_shard(struct config *cfg, const char *v, struct error **err)
{
	return shard_parse(v, &cfg->shard, err);
}

static int
set_db_url(struct config *cfg, const char *v, struct error **err)
{
	(void)err;
	cfg->db_url = v;
	cfg->db = CLI_DB_URL;
	return 0;
}

/* A value out of a few words, in order ("all", "url", "none"): its index,
 * or -1 with a usage error that lists them. */
static int
pick(const char *opt, const char *v, const char *const *words, size_t n, const char *hint, struct error **err)
{
	struct buf list;

	for (size_t i = 0; i < n; i++)
		if (strcmp(v, words[i]) == 0)
			return (int)i;
	buf_init(&list, 1024);
	for (size_t i = 0; i < n; i++)
		buf_printf(&list, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", words[i]);
	error_set(err, EXIT_USAGE, "%s: expected %s, got \"%s\"%s", opt, list.data ? list.data : "", v, hint);
	buf_release(&list);
	return -1;
}

static int
set_db(struct config *cfg, const char *v, struct error **err)
{
	static const char *const words[] = { "none", "embedded" };
	static const enum cli_db to[] = { CLI_DB_NONE, CLI_DB_EMBEDDED };
	int i = pick("--db", v, words, ARRAY_SIZE(words), " (use --db-url for a server)", err);

	if (i < 0)
		return -1;
	cfg->db = to[i];
	return 0;
}

static int
set_db_scope(struct config *cfg, const char *v, struct error **err)
{
	if (strcmp(v, "database") == 0)
		cfg->db_scope = CLI_DB_SCOPE_DATABASE;
	else if (strcmp(v, "server") == 0)
		cfg->db_scope = CLI_DB_SCOPE_SERVER;
	else
		return error_set(err, EXIT_USAGE, "--db-scope: expected database or server, got \"%s\"", v);
	return 0;
}

static int
set_db_env(struct config *cfg, const char *v, struct error **err)
{
	static const char *const words[] = { "all", "url", "none" };
	static const enum cli_db_env to[] = { CLI_DB_ENV_ALL, CLI_DB_ENV_URL, CLI_DB_ENV_NONE };
	int i = pick("--db-env", v, words, ARRAY_SIZE(words), "", err);

	if (i < 0)
		return -1;
	cfg->db_env = to[i];
	return 0;
}

static int
set_verbose(struct config *cfg, const char *v, struct error **err)
{
	(void)v;
	(void)err;
	cfg->verbose++;
	return 0;
}

static int
set_quiet(struct config *cfg, const char *v, struct error **err)
{
	(void)v;
	(void)err;
	cfg->verbose--;
	return 0;
}

static int
set_exitfirst(struct config *cfg, const char *v, struct error **err)
{
	(void)v;
	(void)err;
	cfg->maxfail = 1;
	return 0;
}

int
cli_add_docker_host(struct config *cfg, const char *v, struct error **err)
{
	if (cfg->ndocker_hosts == CLI_MAX_ENGINES)
		return error_set(err, EXIT_USAGE, "--docker-host: at most %d engines", CLI_MAX_ENGINES);
	if (!cfg->docker_host)
		cfg->docker_host = v;
	cfg->docker_hosts[cfg->ndocker_hosts++] = v;
	return 0;
}

static int
set_env(struct config *cfg, const char *v, struct error **err)
{
	if (!*v || *v == '=')
		return error_set(err, EXIT_USAGE, "--env: expected NAME=VALUE or NAME, got \"%s\"", v);
	cfg->env = xrealloc(cfg->env, (cfg->nenv + 1) * sizeof(*cfg->env));
	cfg->env[cfg->nenv++] = v;
	return 0;
}

/* Only the shape is checked here; whether PostgreSQL knows the name and
 * takes the value, it says itself when the server starts. */
static int
set_db_option(struct config *cfg, const char *v, struct error **err)
{
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");

	if (n == 0 || v[n] != '=' || v[0] == '.' || (v[0] >= '0' && v[0] <= '9'))
		return error_set(err, EXIT_USAGE, "--db-option: expected NAME=VALUE (a PostgreSQL setting), got \"%s\"", v);
	cfg->db_options = xrealloc(cfg->db_options, (cfg->ndb_options + 1) * sizeof(*cfg->db_options));
	cfg->db_options[cfg->ndb_options++] = v;
	return 0;
}

static int
set_memory(struct config *cfg, const char *v, struct error **err)
{
	if ((cfg->memory = cli_parse_size(v)) <= 0)
		return error_set(err, EXIT_USAGE, "--memory: expected a size like 512m or 2g, got \"%s\"", v);
	return 0;
}

static int
set_cpus(struct config *cfg, const char *v, struct error **err)
{
	double cpus = 0;

	if (parse_double("--cpus", v, CLI_CPUS_MAX, &cpus, err) < 0)
		return -1;
	cfg->nano_cpus = (int64_t)(cpus * 1e9);
	return 0;
}

static int
set_help(struct config *cfg, const char *v, struct error **err)
{
	(void)v;
	(void)err;
	cfg->command = CLI_HELP;
	return 0;
}

/* Every option of `xdock run`, in --help order. docs/usage.md's option
 * table has one row per entry (tests/unit/test_cli.c checks both ways). */
static const struct opt opts[] = {
	{ "--numprocesses", NULL, 'n', "N|auto", "workers (containers), default 2; auto: the engine's CPUs",
	  TO_FN, 0, 0, set_numprocesses, 0 },
	{ "--maxprocesses", NULL, 0, "N", "cap for -n auto", TO_INT, FIELD(maxprocesses), 1, NULL, 0 },
	{ "--image", NULL, 0, "IMAGE", "test image (needs python3 and pytest), default xdock/python:bookworm",
	  TO_STR, FIELD(image), 0, NULL, 0 },
	{ "--dist", NULL, 0, "MODE", "load|loadscope|loadfile|loadgroup|worksteal|each|no (default load)",
	  TO_FN, 0, 0, set_dist, 0 },
	{ "--shard", NULL, 0, "K/M", "run only shard K of M, balanced by the duration history",
	  TO_FN, 0, 0, set_shard, 0 },
	{ "--no-history", NULL, 0, NULL, "ignore and do not update .xdock/durations.json",
	  TO_TRUE, FIELD(no_history), 0, NULL, 0 },
	{ "--longest-first", NULL, 0, NULL, "with history, longest tests first (workers lose the suite's order)",
	  TO_TRUE, FIELD(longest_first), 0, NULL, 0 },
	{ "--db-setup", NULL, 0, "CMD", "run once into the template database (migrations)",
	  TO_STR, FIELD(db_setup), 0, NULL, 0 },
	{ "--db-setup-timeout", NULL, 0, "S", "stop --db-setup after S seconds (default 3600, 0: none)",
	  TO_DOUBLE, FIELD(db_setup_timeout), 0, NULL, 0 },
	{ "--db-setup-key", NULL, 0, "GLOB", "files whose content keys the cached template",
	  TO_STR, FIELD(db_setup_key), 0, NULL, 0 },
	{ "--db-url", NULL, 0, "URL", "use this PostgreSQL server instead of the embedded one",
	  TO_FN, 0, 0, set_db_url, 0 },
	{ "--db", NULL, 0, "none|embedded", "no database, or the embedded one (default)", TO_FN, 0, 0, set_db, 0 },
	{ "--db-image", NULL, 0, "IMAGE", "embedded PostgreSQL image, default xdock/postgres:15",
	  TO_STR, FIELD(db_image), 0, NULL, 0 },
	{ "--db-option", NULL, 0, "NAME=VALUE", "a setting of the embedded PostgreSQL, e.g. max_prepared_transactions=10 (repeatable)",
	  TO_FN, 0, 0, set_db_option, 0 },
	{ "--db-env", NULL, 0, "all|url|none", "what workers get: DATABASE_URL and PG* (all, default), DATABASE_URL, nothing",
	  TO_FN, 0, 0, set_db_env, 0 },
	{ "--db-scope", NULL, 0, "database|server", "each worker's own: a database (default) or a whole embedded server",
	  TO_FN, 0, 0, set_db_scope, 0 },
	{ "--reuse-db", NULL, 0, NULL, "keep the embedded PostgreSQL and template between runs",
	  TO_TRUE, FIELD(reuse_db), 0, NULL, 0 },
	{ "--keep-dbs", NULL, 0, NULL, "do not drop the worker databases at the end",
	  TO_TRUE, FIELD(keep_dbs), 0, NULL, 0 },
	{ "--json-report", NULL, 0, "FILE", "write the JSON report", TO_STR, FIELD(json_report), 0, NULL, OPT_PATH },
	{ "--junitxml", "--junit-xml", 0, "FILE", "write JUnit XML", TO_STR, FIELD(junitxml), 0, NULL, OPT_PATH },
	{ "--verbose", NULL, 'v', NULL, "one line per test (twice: more)", TO_FN, 0, 0, set_verbose, 0 },
	{ "--quiet", NULL, 'q', NULL, "less output", TO_FN, 0, 0, set_quiet, 0 },
	{ "--exitfirst", NULL, 'x', NULL, "stop after the first failure", TO_FN, 0, 0, set_exitfirst, 0 },
	{ "--maxfail", NULL, 0, "N", "stop after N failures", TO_INT, FIELD(maxfail), 0, NULL, 0 },
	{ "--env", NULL, 'e', "NAME[=VALUE]", "set a variable in every worker (NAME alone: pass the host's)",
	  TO_FN, 0, 0, set_env, 0 },
	{ "--no-passenv", NULL, 0, NULL, "do not pass the default variables (DJANGO_SETTINGS_MODULE, ...)",
	  TO_TRUE, FIELD(no_passenv), 0, NULL, 0 },
	{ "--timeout", NULL, 0, "SECONDS", "per-test timeout (pytest-timeout's option, taken over)",
	  TO_DOUBLE, FIELD(timeout), 0, NULL, 0 },
	{ "--reruns", NULL, 0, "N", "rerun a failed test up to N times on a fresh worker and database",
	  TO_INT, FIELD(reruns), 0, NULL, 0 },
	{ "--reruns-replay", NULL, 0, NULL, "replay a test that failed, then passed: order-dependent or flaky on its own",
	  TO_TRUE, FIELD(reruns_replay), 0, NULL, 0 },
	{ "--fail-on-flaky", NULL, 0, NULL, "a test that failed, then passed, fails the run",
	  TO_TRUE, FIELD(fail_on_flaky), 0, NULL, 0 },
	{ "--timeline", NULL, 0, "FILE", "write the run as one HTML page: a row per worker, a bar per test",
	  TO_STR, FIELD(timeline), 0, NULL, OPT_PATH },
	{ "--quarantine", NULL, 0, "FILE", "node ids (one a line) whose failures do not fail the run",
	  TO_STR, FIELD(quarantine), 0, NULL, OPT_PATH },
	{ "--max-worker-restart", NULL, 0, "N", "replace crashed workers at most N times (default 4 x workers)",
	  TO_INT, FIELD(max_worker_restart), 0, NULL, 0 },
	{ "--memory", NULL, 0, "SIZE", "memory limit per worker container (e.g. 512m)",
	  TO_FN, 0, 0, set_memory, 0 },
	{ "--cpus", NULL, 0, "N", "CPU limit per worker container", TO_FN, 0, 0, set_cpus, 0 },
	{ "--docker-host", NULL, 0, "URL", "engine address (default $XDOCK_DOCKER_HOSTS, $DOCKER_HOST or the local "
	  "socket), a tcp:// one with its own TLS after a comma (,certs=DIR or ,skip-tls-verify=true); again for "
	  "one more engine", TO_FN, 0, 0, cli_add_docker_host, 0 },
	{ "--ship", NULL, 0, NULL, "send the project to the engine instead of bind-mounting it (the default for "
	  "a tcp:// engine)", TO_TRUE, FIELD(ship), 0, NULL, 0 },
	{ "--no-local-channel", NULL, 0, NULL, "every message over the engine's attach stream, none over the local "
	  "socket beside it", TO_TRUE, FIELD(no_local_channel), 0, NULL, 0 },
	{ "--agent", NULL, 0, "PATH", "xdock-agent binary (default: next to xdock)",
	  TO_STR, FIELD(agent), 0, NULL, OPT_PATH },
	{ "--help", NULL, 'h', NULL, "this text", TO_FN, 0, 0, set_help, OPT_CLI_ONLY },
};

/* pytest-xdist options that make no sense when the workers are
 * containers, and the flags xdist refuses, with xdist's own words. */
static const struct {
	const char *name;
	const char *msg;
} refused[] = {
	{ "--pdb", "--pdb is incompatible with distributing tests; try using -n0 or -nauto." },
	{ "--tx", "--tx: xdock's workers are containers of --image, not execnet gateways" },
	{ "--rsyncdir", "--rsyncdir: the project is mounted into the containers, nothing is copied" },
	{ "--rsyncignore", "--rsyncignore: the project is mounted into the containers, nothing is copied" },
	{ "--looponfail", "--looponfail/-f: xdock does not watch the files to run the failures again; run it again yourself" },
	{ "--testrunuid", "--testrunuid: xdock gives every run its own id" },
};

/* pytest's (and common plugins') options that take a value, so that the
 * value stays with its option wherever it stands. Everything else that
 * starts with a dash is a flag to pass through. */
static const char *const pytest_valued_long[] = {
	"--rootdir", "--config-file", "--confcutdir", "--basetemp", "--deselect", "--ignore", "--ignore-glob",
	"--tb", "--durations", "--durations-min", "--capture", "--color", "--code-highlight", "--import-mode",
	"--log-level", "--log-format", "--log-date-format", "--log-cli-level", "--log-cli-format",
	"--log-cli-date-format", "--log-file", "--log-file-level", "--log-file-format", "--log-file-date-format",
	"--log-auto-indent", "--junit-prefix", "--doctest-glob", "--doctest-report", "--override-ini",
	"--pastebin", "--show-capture", "--assert", "--report-log", "--last-failed-no-failures", "--lfnf",
	"--verbosity", "--pythonwarnings", "--keyword", "--cov-report", "--cov-config", "--cov-fail-under",
	"--ds", "--dc", "--timeout-method", "--reruns-delay", "--only-rerun", "--rerun-except",
	"--hypothesis-seed", "--hypothesis-profile", "--randomly-seed",
};
static const char pytest_valued_short[] = "ckmoprW";

const char *
cli_option_name(size_t i)
{
	return i < ARRAY_SIZE(opts) ? opts[i].name : NULL;
}

char *
cli_usage(void)
{
	struct buf b;

	buf_init(&b, 64 * 1024);
	buf_printf(&b, "usage: xdock run [options] [paths and pytest arguments, in any order...]\n"
		       "       xdock replay gwN [--until NODEID] [--report FILE] [run options]\n"
		       "       xdock bisect NODEID [--worker gwN] [--report FILE] [--serial] [run options]\n"
		       "       xdock gc [--all] [--db-url URL] [--docker-host URL]\n"
		       "       xdock version [--docker-host URL]\n"
		       "\n"
		       "run options:\n");
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		const struct opt *o = &opts[i];
		char left[64];
		int n;

		n = snprintf(left, sizeof(left), "  %c%c%s%s%s%s", o->shrt ? '-' : ' ', o->shrt ? o->shrt : ' ',
			     o->shrt ? ", " : "  ", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
		buf_printf(&b, "%s%*s %s\n", left, n < 30 ? 30 - n : 0, "", o->help);
		if (o->alias)
			buf_printf(&b, "      %-24s same as %s\n", o->alias, o->name);
	}
	buf_printf(&b, "Every other option is pytest's and goes to pytest in every worker, in order,\n"
		       "wherever it stands; so does everything after --. Options also come from\n"
		       "addopts, PYTEST_ADDOPTS and [xdock]/[tool.xdock] in the project's config.\n"
		       "Exit codes are pytest's: 0 passed, 1 failed, 2 interrupted, 3 internal, 4 usage, 5 no tests.\n"
		       "\n"
		       "replay: runs again, on one fresh container and database, exactly what worker gwN ran in\n"
		       "  the last run (.xdock/last-run.json, or --report FILE), in order, up to and including its\n"
		       "  first failure (or --until NODEID). Exit 1: the failure came back; 0: it did not.\n"
		       "bisect: the fewest tests that ran before NODEID on its worker and make it fail, each\n"
		       "  candidate on its own fresh worker, -n at a time (--serial: one after another).\n"
		       "  Exit 1: found (printed with a plain pytest command); 0: not order-dependent.\n");
	return buf_steal(&b);
}

int
cli_apply(struct config *cfg, const struct opt *o, const char *v, struct error **err)
{
	char *base = (char *)cfg;

	switch (o->to) {
	case TO_STR:
		*(const char **)(void *)(base + o->off) = v;
		return 0;
	case TO_INT:
		return parse_int(o->name, v, o->min, (int *)(void *)(base + o->off), err);
	case TO_DOUBLE:
		/* Every TO_DOUBLE option is a number of seconds. */
		return parse_double(o->name, v, CLI_SECONDS_MAX, (double *)(void *)(base + o->off), err);
	case TO_TRUE:
		*(bool *)(void *)(base + o->off) = true;
		return 0;
	case TO_FN:
		break;
	}
	return o->fn(cfg, v, err);
}

const struct opt *
cli_find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		const struct opt *o = &opts[i];

		if ((strlen(o->name) == len && strncmp(o->name, name, len) == 0) ||
		    (o->alias && strlen(o->alias) == len && strncmp(o->alias, name, len) == 0))
			return o;
	}
	return NULL;
}

const struct opt *
cli_find_short(char c)
{
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if (opts[i].shrt == c)
			return &opts[i];
	return NULL;
}

bool
cli_pytest_valued(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(pytest_valued_long); i++)
		if (strlen(pytest_valued_long[i]) == len && strncmp(pytest_valued_long[i], name, len) == 0)
			return true;
	return false;
}

const char *
cli_refused(const char *name, size_t len)
{
	for (size_t k = 0; k < ARRAY_SIZE(refused); k++)
		if (strlen(refused[k].name) == len && strncmp(refused[k].name, name, len) == 0)
			return refused[k].msg;
	return NULL;
}

bool
cli_pytest_valued_short(char c)
{
	return c && strchr(pytest_valued_short, c);
}
