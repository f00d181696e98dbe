#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
cli_usage(void)
{
	return "usage: xdock run [options] [paths and pytest arguments...]\n"
	       "       xdock gc [--all]\n"
	       "       xdock version\n"
	       "\n"
	       "run options:\n"
	       "  -n, --numprocesses N|auto  workers (containers), default 2; auto: the engine's CPUs\n"
	       "      --maxprocesses N       cap for -n auto\n"
	       "      --image IMAGE          test image (needs python3 and pytest), default xdock/python:bookworm\n"
	       "      --dist MODE            load|loadscope|loadfile|loadgroup|worksteal|each|no (default load)\n"
	       "      --shard K/M            run only shard K of M, balanced by the duration history\n"
	       "      --no-history           ignore and do not update .xdock/durations.json\n"
	       "      --db-setup CMD         run once into the template database (migrations)\n"
	       "      --db-setup-key GLOB    files whose content keys the cached template (with --reuse-db)\n"
	       "      --db-url URL           use this PostgreSQL server instead of the embedded one\n"
	       "      --db none              no database\n"
	       "      --db-image IMAGE       embedded PostgreSQL image, default xdock/postgres:15\n"
	       "      --reuse-db             keep the embedded PostgreSQL and template between runs\n"
	       "      --keep-dbs             do not drop the worker databases at the end\n"
	       "      --json-report FILE     write the JSON report\n"
	       "      --junitxml FILE        write JUnit XML\n"
	       "  -v, --verbose              one line per test\n"
	       "  -x, --exitfirst            stop after the first failure\n"
	       "      --maxfail N            stop after N failures\n"
	       "  -e, --env NAME[=VALUE]     set a variable in every worker (NAME alone: copy xdock's)\n"
	       "      --timeout SECONDS      per-test timeout\n"
	       "      --reruns N             run a failed, crashed or timed-out test again, up to N times,\n"
	       "                             each time on a fresh worker and database\n"
	       "      --fail-on-flaky        a test that failed, then passed, fails the run\n"
	       "      --quarantine FILE      node ids (one a line) whose failures do not fail the run\n"
	       "      --max-worker-restart N replace crashed workers at most N times (default 4 x workers)\n"
	       "      --memory SIZE          memory limit per worker container (e.g. 512m)\n"
	       "      --cpus N               CPU limit per worker container\n"
	       "      --docker-host URL      engine address (default $DOCKER_HOST or the local socket)\n"
	       "      --agent PATH           xdock-agent binary (default: next to xdock)\n"
	       "Everything from the first path on (and -k, -m, -p, -o anywhere) goes to pytest.\n"
	       "Exit codes are pytest's: 0 passed, 1 failed, 2 interrupted, 3 internal, 4 usage, 5 no tests.\n";
}

int64_t
cli_parse_size(const char *s)
{
	char *end;
	double v;
	double mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0 || !isfinite(v))
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || v * mul > 9e18)
		return -1;
	return (int64_t)(v * mul);
}

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

static int
parse_double(const char *opt, const char *s, double *out, struct error **err)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || v < 0 || !isfinite(v))
		return error_set(err, EXIT_USAGE, "%s: expected a non-negative number, got \"%s\"", opt, s);
	*out = v;
	return 0;
}

/* pytest options that take a value and may stand before the paths. */
static bool
is_pytest_valued(const char *a)
{
	return strcmp(a, "-k") == 0 || strcmp(a, "-m") == 0 || strcmp(a, "-p") == 0 || strcmp(a, "-o") == 0;
}

static void
push_pytest(struct config *cfg, const char *a)
{
	cfg->pytest_args = xrealloc(cfg->pytest_args, (cfg->npytest_args + 1) * sizeof(*cfg->pytest_args));
	cfg->pytest_args[cfg->npytest_args++] = a;
}

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past the value. */
static int
opt_value(int argc, char **argv, int *i, const char *name, const char **val, struct error **err)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return error_set(err, EXIT_USAGE, "%s needs a value", name);
	*val = argv[++*i];
	return 1;
}

static int
parse_run(int argc, char **argv, int i, struct config *cfg, struct error **err)
{
	for (; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int r = 0; /* "-n" skips OPT() below but still tests r */

#define OPT(name) ((r = opt_value(argc, argv, &i, name, &v, err)) < 0 ? -1 : r)
		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				push_pytest(cfg, argv[i]);
			break;
		} else if (a[0] != '-' || strcmp(a, "-") == 0) {
			/* The first path: it and everything after go to pytest. */
			for (; i < argc; i++)
				push_pytest(cfg, argv[i]);
			break;
		} else if (is_pytest_valued(a)) {
			if (i + 1 >= argc)
				return error_set(err, EXIT_USAGE, "%s needs a value", a);
			push_pytest(cfg, a);
			push_pytest(cfg, argv[++i]);
		} else if (strncmp(a, "-n", 2) == 0 && a[2] != '\0' && a[2] != '-') {
			v = a + 2;
			goto numprocesses;
		} else if (strcmp(a, "-n") == 0 || OPT("--numprocesses")) {
			if (r < 0)
				return -1;
			if (!v) {
				if (i + 1 >= argc)
					return error_set(err, EXIT_USAGE, "-n needs a value");
				v = argv[++i];
			}
numprocesses:
			if (strcmp(v, "auto") == 0 || strcmp(v, "logical") == 0) {
				cfg->workers_auto = true;
				cfg->workers = 0;
			} else if (parse_int("-n", v, 1, &cfg->workers, err) < 0) {
				return -1;
			} else {
				cfg->workers_auto = false;
			}
		} else if (OPT("--maxprocesses")) {
			if (r < 0 || parse_int(a, v, 1, &cfg->maxprocesses, err) < 0)
				return -1;
		} else if (OPT("--image")) {
			if (r < 0)
				return -1;
			cfg->image = v;
		} else if (OPT("--dist")) {
			int m;

			if (r < 0)
				return -1;
			if ((m = sched_mode_parse(v)) < 0)
				return error_set(err, EXIT_USAGE,
						 "--dist: unknown mode \"%s\" (load, loadscope, loadfile, loadgroup, worksteal, each, no)", v);
			cfg->dist = (enum sched_mode)m;
		} else if (OPT("--db-setup-key")) {
			if (r < 0)
				return -1;
			cfg->db_setup_key = v;
		} else if (OPT("--db-setup")) {
			if (r < 0)
				return -1;
			cfg->db_setup = v;
		} else if (OPT("--db-url")) {
			if (r < 0)
				return -1;
			cfg->db_url = v;
			cfg->db = CLI_DB_URL;
		} else if (OPT("--db-image")) {
			if (r < 0)
				return -1;
			cfg->db_image = v;
		} else if (OPT("--db")) {
			if (r < 0)
				return -1;
			if (strcmp(v, "none") == 0)
				cfg->db = CLI_DB_NONE;
			else if (strcmp(v, "embedded") == 0)
				cfg->db = CLI_DB_EMBEDDED;
			else
				return error_set(err, EXIT_USAGE, "--db: expected none or embedded, got \"%s\" (use --db-url for a server)", v);
		} else if (OPT("--reruns")) {
			if (r < 0 || parse_int(a, v, 0, &cfg->reruns, err) < 0)
				return -1;
		} else if (strcmp(a, "--fail-on-flaky") == 0) {
			cfg->fail_on_flaky = true;
		} else if (OPT("--quarantine")) {
			if (r < 0)
				return -1;
			cfg->quarantine = v;
		} else if (strcmp(a, "--no-history") == 0) {
			cfg->no_history = true;
		} else if (OPT("--shard")) {
			if (r < 0 || shard_parse(v, &cfg->shard, err) < 0)
				return -1;
		} else if (strcmp(a, "--reuse-db") == 0) {
			cfg->reuse_db = true;
		} else if (strcmp(a, "--keep-dbs") == 0) {
			cfg->keep_dbs = true;
		} else if (OPT("--json-report")) {
			if (r < 0)
				return -1;
			cfg->json_report = v;
		} else if (OPT("--junitxml") || (r == 0 && OPT("--junit-xml"))) {
			if (r < 0)
				return -1;
			cfg->junitxml = v;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			cfg->verbose++;
		} else if (strcmp(a, "-vv") == 0) {
			cfg->verbose += 2;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			cfg->verbose--;
		} else if (strcmp(a, "-x") == 0 || strcmp(a, "--exitfirst") == 0) {
			cfg->maxfail = 1;
		} else if (OPT("--maxfail")) {
			if (r < 0 || parse_int(a, v, 0, &cfg->maxfail, err) < 0)
				return -1;
		} else if (strcmp(a, "-e") == 0 || OPT("--env")) {
			if (r < 0)
				return -1;
			if (!v) {
				if (i + 1 >= argc)
					return error_set(err, EXIT_USAGE, "-e needs NAME=VALUE or NAME");
				v = argv[++i];
			}
			if (!*v || *v == '=')
				return error_set(err, EXIT_USAGE, "--env: expected NAME=VALUE or NAME, got \"%s\"", v);
			cfg->env = xrealloc(cfg->env, (cfg->nenv + 1) * sizeof(*cfg->env));
			cfg->env[cfg->nenv++] = v;
		} else if (OPT("--max-worker-restart")) {
			if (r < 0 || parse_int(a, v, 0, &cfg->max_worker_restart, err) < 0)
				return -1;
		} else if (OPT("--timeout")) {
			if (r < 0 || parse_double(a, v, &cfg->timeout, err) < 0)
				return -1;
		} else if (OPT("--memory")) {
			if (r < 0)
				return -1;
			if ((cfg->memory = cli_parse_size(v)) <= 0)
				return error_set(err, EXIT_USAGE, "--memory: expected a size like 512m or 2g, got \"%s\"", v);
		} else if (OPT("--cpus")) {
			double cpus;

			if (r < 0 || parse_double(a, v, &cpus, err) < 0)
				return -1;
			cfg->nano_cpus = (int64_t)(cpus * 1e9);
		} else if (OPT("--docker-host")) {
			if (r < 0)
				return -1;
			cfg->docker_host = v;
		} else if (OPT("--agent")) {
			if (r < 0)
				return -1;
			cfg->agent = v;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cfg->command = CLI_HELP;
			return 0;
		} else {
			return error_set(err, EXIT_USAGE, "run: unknown option \"%s\" (pytest options go after the paths, or after --)", a);
		}
#undef OPT
	}
	if (cfg->db == CLI_DB_URL && cfg->reuse_db)
		return error_set(err, EXIT_USAGE, "--reuse-db keeps the embedded PostgreSQL; with --db-url the server is yours already");
	if (cfg->db == CLI_DB_NONE && cfg->db_setup)
		return error_set(err, EXIT_USAGE, "--db-setup needs a database (drop --db none)");
	if (cfg->dist == SCHED_NO && !cfg->workers_auto)
		cfg->workers = 1;
	return 0;
}

int
cli_parse(int argc, char **argv, struct config *cfg, struct error **err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 2;
	cfg->image = "xdock/python:bookworm";
	cfg->db_image = "xdock/postgres:15";
	cfg->dist = SCHED_LOAD;
	cfg->db = CLI_DB_EMBEDDED;
	cfg->max_worker_restart = -1;

	if (argc < 2) {
		cfg->command = CLI_HELP;
		return error_set(err, EXIT_USAGE, "no command given (try: xdock run -n 4 tests/)");
	}
	if (strcmp(argv[1], "run") == 0) {
		cfg->command = CLI_RUN;
		return parse_run(argc, argv, 2, cfg, err);
	}
	if (strcmp(argv[1], "gc") == 0) {
		cfg->command = CLI_GC;
		for (int i = 2; i < argc; i++) {
			const char *v = NULL;
			int r;

			if (strcmp(argv[i], "--all") == 0)
				cfg->gc_all = true;
			else if ((r = opt_value(argc, argv, &i, "--docker-host", &v, err)) != 0) {
				if (r < 0)
					return -1;
				cfg->docker_host = v;
			} else
				return error_set(err, EXIT_USAGE, "gc: unknown argument \"%s\"", argv[i]);
		}
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		cfg->command = CLI_VERSION;
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		cfg->command = CLI_HELP;
		return 0;
	}
	return error_set(err, EXIT_USAGE, "unknown command \"%s\" (run, gc, version)", argv[1]);
}

void
cli_release(struct config *cfg)
{
	free(cfg->pytest_args);
	cfg->pytest_args = NULL;
	free(cfg->env);
	cfg->env = NULL;
	cfg->nenv = 0;
	cfg->npytest_args = 0;
}
