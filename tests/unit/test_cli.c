/* cli.c: every option in both spellings, options anywhere (xdock's picked
 * out, pytest's passed on in order with their values), config file keys,
 * usage errors, sizes, shlex splitting, and the option table against
 * --help and docs/usage.md. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

#define MAXARGS 32

/* Parses a NULL-terminated argument list (argv[0] is added). The strings
 * are borrowed by cfg, so they must outlive it: string literals do. */
static int
parse(struct config *cfg, struct error **err, ...)
{
	static char *argv[MAXARGS];
	va_list ap;
	int argc = 0;
	const char *a;

	argv[argc++] = (char *)"xdock";
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < MAXARGS - 1);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, cfg, err);
}

#define PARSE_OK(cfg, ...)                                                      \
	do {                                                                    \
		struct error *e_ = NULL;                                        \
		if (parse((cfg), &e_, __VA_ARGS__, (const char *)NULL) != 0)   \
			fail_msg("parse failed: %s", e_ ? e_->msg : "(no error set)"); \
		assert_null(e_);                                                \
	} while (0)

/* Usage errors: -1, EXIT_USAGE, and the message names what was wrong. */
#define PARSE_USAGE(needle, ...)                                                     \
	do {                                                                         \
		struct config c_;                                                    \
		struct error *e_ = NULL;                                             \
		int rc_ = parse(&c_, &e_, __VA_ARGS__, (const char *)NULL);          \
		if (rc_ != -1 || !e_)                                                \
			fail_msg("expected a usage error for %s", #__VA_ARGS__);     \
		assert_int_equal(e_->status, EXIT_USAGE);                            \
		if (!strstr(e_->msg, (needle)))                                      \
			fail_msg("error \"%s\" does not mention \"%s\"", e_->msg, (needle)); \
		error_free(e_);                                                      \
		cli_release(&c_);                                                    \
	} while (0)

static void
expect_args(const struct config *cfg, const char *const *want, size_t n)
{
	if (cfg->npytest_args != n)
		fail_msg("%zu pytest args, want %zu", cfg->npytest_args, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(cfg->pytest_args[i], want[i]);
}

static void
test_defaults(void **state)
{
	struct config cfg;

	(void)state;
	PARSE_OK(&cfg, "run");
	assert_int_equal(cfg.command, CLI_RUN);
	assert_int_equal(cfg.workers, 2);
	assert_false(cfg.workers_auto);
	assert_int_equal(cfg.maxprocesses, 0);
	assert_string_equal(cfg.image, "xdock/python:bookworm");
	assert_int_equal(cfg.dist, SCHED_LOAD);
	assert_int_equal(cfg.db, CLI_DB_EMBEDDED);
	assert_null(cfg.db_url);
	assert_null(cfg.db_setup);
	assert_null(cfg.db_setup_key);
	assert_string_equal(cfg.db_image, "xdock/postgres:15");
	assert_false(cfg.reuse_db);
	assert_false(cfg.keep_dbs);
	assert_null(cfg.json_report);
	assert_null(cfg.junitxml);
	assert_int_equal(cfg.verbose, 0);
	assert_int_equal(cfg.maxfail, 0);
	assert_null(cfg.docker_host);
	assert_null(cfg.agent);
	assert_true(cfg.timeout == 0);
	assert_int_equal(cfg.memory, 0);
	assert_int_equal(cfg.nano_cpus, 0);
	assert_int_equal(cfg.npytest_args, 0);
	cli_release(&cfg);
}

static void
test_commands(void **state)
{
	struct config cfg;
	struct error *err = NULL;
	char *argv0[] = { (char *)"xdock", NULL };

	(void)state;
	assert_int_equal(cli_parse(1, argv0, &cfg, &err), -1);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_int_equal(cfg.command, CLI_HELP);
	error_free(err);
	cli_release(&cfg);

	PARSE_OK(&cfg, "version");
	assert_int_equal(cfg.command, CLI_VERSION);
	PARSE_OK(&cfg, "version", "--docker-host", "unix:///x.sock");
	assert_int_equal(cfg.command, CLI_VERSION);
	assert_string_equal(cfg.docker_host, "unix:///x.sock");
	cli_release(&cfg);
	PARSE_USAGE("version: unknown argument \"--all\"", "version", "--all");
	PARSE_OK(&cfg, "--version");
	assert_int_equal(cfg.command, CLI_VERSION);
	PARSE_OK(&cfg, "help");
	assert_int_equal(cfg.command, CLI_HELP);
	PARSE_OK(&cfg, "-h");
	assert_int_equal(cfg.command, CLI_HELP);
	PARSE_OK(&cfg, "--help");
	assert_int_equal(cfg.command, CLI_HELP);
	PARSE_OK(&cfg, "run", "-n", "3", "--help");
	assert_int_equal(cfg.command, CLI_HELP);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-h");
	assert_int_equal(cfg.command, CLI_HELP);
	cli_release(&cfg);

	PARSE_OK(&cfg, "gc");
	assert_int_equal(cfg.command, CLI_GC);
	assert_false(cfg.gc_all);
	PARSE_OK(&cfg, "gc", "--all", "--docker-host", "tcp://h:2376");
	assert_int_equal(cfg.command, CLI_GC);
	assert_true(cfg.gc_all);
	assert_string_equal(cfg.docker_host, "tcp://h:2376");
	cli_release(&cfg);
	PARSE_OK(&cfg, "gc", "--docker-host=unix:///x.sock");
	assert_string_equal(cfg.docker_host, "unix:///x.sock");
	cli_release(&cfg);
	PARSE_USAGE("--nope", "gc", "--nope");
	PARSE_USAGE("--docker-host needs a value", "gc", "--docker-host");
	PARSE_USAGE("\"frobnicate\"", "frobnicate");
	PARSE_USAGE("\"Run\"", "Run");
}

static void
test_numprocesses(void **state)
{
	struct config cfg;

	(void)state;
	PARSE_OK(&cfg, "run", "-n", "4");
	assert_int_equal(cfg.workers, 4);
	assert_false(cfg.workers_auto);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-n4");
	assert_int_equal(cfg.workers, 4);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-n17");
	assert_int_equal(cfg.workers, 17);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "--numprocesses", "3");
	assert_int_equal(cfg.workers, 3);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "--numprocesses=5");
	assert_int_equal(cfg.workers, 5);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-n", "auto");
	assert_true(cfg.workers_auto);
	assert_int_equal(cfg.workers, 0);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-nauto", "--maxprocesses", "3");
	assert_true(cfg.workers_auto);
	assert_int_equal(cfg.maxprocesses, 3);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-n", "logical", "--maxprocesses=6");
	assert_true(cfg.workers_auto);
	assert_int_equal(cfg.maxprocesses, 6);
	cli_release(&cfg);
	/* The last one wins, and a number after auto clears auto. */
	PARSE_OK(&cfg, "run", "-n", "auto", "-n", "2");
	assert_false(cfg.workers_auto);
	assert_int_equal(cfg.workers, 2);
	cli_release(&cfg);
	/* --dist no: one worker. */
	PARSE_OK(&cfg, "run", "-n", "8", "--dist", "no");
	assert_int_equal(cfg.workers, 1);
	assert_int_equal(cfg.dist, SCHED_NO);
	cli_release(&cfg);

	/* xdist's -d is --dist load, also in a cluster; the last one wins. */
	PARSE_OK(&cfg, "run", "--dist", "each", "-xd", "-rA");
	assert_int_equal(cfg.dist, SCHED_LOAD);
	assert_int_equal(cfg.maxfail, 1);
	assert_int_equal(cfg.npytest_args, 1);
	assert_string_equal(cfg.pytest_args[0], "-rA");
	cli_release(&cfg);

	PARSE_USAGE("-n", "run", "-n");
	/* pytest-xdist's -n 0 (no distribution): one worker. */
	PARSE_OK(&cfg, "run", "-n", "0");
	assert_int_equal(cfg.workers, 1);
	cli_release(&cfg);
	PARSE_USAGE("\"-1\"", "run", "-n", "-1");
	PARSE_USAGE("\"x\"", "run", "-n", "x");
	PARSE_USAGE("\"4x\"", "run", "-n4x");
	PARSE_USAGE("\"100001\"", "run", "-n", "100001");
	PARSE_USAGE("\"99999999999999999999\"", "run", "-n", "99999999999999999999");
	PARSE_USAGE("\"\"", "run", "--numprocesses=");
	PARSE_USAGE("--numprocesses needs a value", "run", "--numprocesses");
	PARSE_USAGE("\"0\"", "run", "--maxprocesses", "0");
	PARSE_USAGE("--maxprocesses needs a value", "run", "--maxprocesses");
}

static void
test_dist(void **state)
{
	static const char *const names[] = { "load", "loadscope", "loadfile", "loadgroup", "worksteal", "each", "no" };
	struct config cfg;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char eq[32];
		struct error *err = NULL;
		char *argv[] = { (char *)"xdock", (char *)"run", eq, NULL };

		PARSE_OK(&cfg, "run", "--dist", names[i]);
		assert_int_equal(cfg.dist, sched_mode_parse(names[i]));
		assert_string_equal(sched_mode_name(cfg.dist), names[i]);
		cli_release(&cfg);
		snprintf(eq, sizeof(eq), "--dist=%s", names[i]);
		assert_int_equal(cli_parse(3, argv, &cfg, &err), 0);
		assert_int_equal(cfg.dist, sched_mode_parse(names[i]));
		cli_release(&cfg);
	}
	PARSE_USAGE("\"random\"", "run", "--dist", "random");
	PARSE_USAGE("\"LOAD\"", "run", "--dist=LOAD");
	PARSE_USAGE("--dist needs a value", "run", "--dist");
	/* A prefix of a longer option is not that option: it is pytest's. */
	PARSE_OK(&cfg, "run", "--distx", "load");
	assert_int_equal(cfg.dist, SCHED_LOAD);
	assert_int_equal(cfg.npytest_args, 2);
	cli_release(&cfg);
}

static void
test_db_options(void **state)
{
	struct config cfg;

	(void)state;
	PARSE_OK(&cfg, "run", "--db-setup", "python manage.py migrate", "--db-setup-key=**/migrations/*.py",
		 "--db-image", "my/pg:16", "--reuse-db", "--keep-dbs");
	assert_string_equal(cfg.db_setup, "python manage.py migrate");
	assert_string_equal(cfg.db_setup_key, "**/migrations/*.py");
	assert_string_equal(cfg.db_image, "my/pg:16");
	assert_true(cfg.reuse_db);
	assert_true(cfg.keep_dbs);
	assert_int_equal(cfg.db, CLI_DB_EMBEDDED);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "--db-url", "postgresql://u:p@h:5432/postgres");
	assert_int_equal(cfg.db, CLI_DB_URL);
	assert_string_equal(cfg.db_url, "postgresql://u:p@h:5432/postgres");
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "--db=none");
	assert_int_equal(cfg.db, CLI_DB_NONE);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "--db", "none", "--db", "embedded");
	assert_int_equal(cfg.db, CLI_DB_EMBEDDED);
	cli_release(&cfg);

	PARSE_USAGE("\"sqlite\"", "run", "--db", "sqlite");
	PARSE_USAGE("--db needs a value", "run", "--db");
	PARSE_USAGE("--reuse-db", "run", "--db-url", "postgresql://h/db", "--reuse-db");
	PARSE_USAGE("--db-setup", "run", "--db", "none", "--db-setup", "migrate");
	PARSE_USAGE("--db-setup needs a value", "run", "--db-setup");
	PARSE_USAGE("--db-url needs a value", "run", "--db-url");
}

static void
test_output_and_limits(void **state)
{
	struct config cfg;

	(void)state;
	PARSE_OK(&cfg, "run", "--json-report", "r.json", "--junitxml", "j.xml", "-v", "--verbose", "--maxfail", "3",
		 "--timeout", "2.5", "--memory", "512m", "--cpus", "1.5", "--docker-host", "tcp://10.0.0.1:2376",
		 "--agent", "/opt/xdock-agent", "--image", "my/image:1");
	assert_string_equal(cfg.json_report, "r.json");
	assert_string_equal(cfg.junitxml, "j.xml");
	assert_int_equal(cfg.verbose, 2);
	assert_int_equal(cfg.maxfail, 3);
	assert_true(cfg.timeout == 2.5);
	assert_int_equal(cfg.memory, 512 * 1024 * 1024);
	assert_int_equal(cfg.nano_cpus, 1500000000);
	assert_string_equal(cfg.docker_host, "tcp://10.0.0.1:2376");
	assert_string_equal(cfg.agent, "/opt/xdock-agent");
	assert_string_equal(cfg.image, "my/image:1");
	assert_int_equal(cfg.npytest_args, 0);
	cli_release(&cfg);

	PARSE_OK(&cfg, "run", "--junit-xml=k.xml", "--json-report=s.json", "--image=x", "--timeout=0", "--cpus=2",
		 "--memory=2g", "--maxfail=0", "--agent=a", "--docker-host=d");
	assert_string_equal(cfg.junitxml, "k.xml");
	assert_string_equal(cfg.json_report, "s.json");
	assert_string_equal(cfg.image, "x");
	assert_true(cfg.timeout == 0);
	assert_int_equal(cfg.nano_cpus, 2000000000);
	assert_int_equal(cfg.memory, (int64_t)2 << 30);
	assert_int_equal(cfg.maxfail, 0);
	assert_string_equal(cfg.agent, "a");
	assert_string_equal(cfg.docker_host, "d");
	cli_release(&cfg);

	PARSE_OK(&cfg, "run", "-vv");
	assert_int_equal(cfg.verbose, 2);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-q");
	assert_int_equal(cfg.verbose, -1);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "--quiet", "-v", "-v");
	assert_int_equal(cfg.verbose, 1);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-x");
	assert_int_equal(cfg.maxfail, 1);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "--exitfirst");
	assert_int_equal(cfg.maxfail, 1);
	cli_release(&cfg);

	PARSE_USAGE("\"-1\"", "run", "--maxfail", "-1");
	PARSE_USAGE("\"many\"", "run", "--maxfail=many");
	PARSE_USAGE("\"-1\"", "run", "--timeout", "-1");
	PARSE_USAGE("\"1s\"", "run", "--timeout", "1s");
	PARSE_USAGE("\"nan\"", "run", "--timeout", "nan");
	PARSE_USAGE("\"inf\"", "run", "--timeout", "inf");
	PARSE_USAGE("\"0\"", "run", "--memory", "0");
	PARSE_USAGE("\"lots\"", "run", "--memory", "lots");
	PARSE_USAGE("\"-2\"", "run", "--cpus", "-2");
	/* Values whose conversions (ms, NanoCPUs) would overflow an int64. */
	PARSE_USAGE("\"1e300\" is more than", "run", "--cpus", "1e300");
	PARSE_USAGE("\"1e19\" is more than", "run", "--timeout", "1e19");
	PARSE_USAGE("\"1e300\" is more than", "run", "--db-setup-timeout", "1e300");
	PARSE_USAGE("\"nan\"", "run", "--memory", "nan");
	PARSE_OK(&cfg, "run", "--db-setup-timeout", "90", "--cpus", "1048576", "--timeout", "2592000");
	assert_true(cfg.db_setup_timeout == 90);
	assert_int_equal(cfg.nano_cpus, (int64_t)1048576 * 1000000000);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run");
	assert_true(cfg.db_setup_timeout == 3600);
	cli_release(&cfg);
	PARSE_USAGE("--json-report needs a value", "run", "--json-report");
	PARSE_USAGE("--junitxml needs a value", "run", "--junitxml");
	PARSE_USAGE("--junit-xml needs a value", "run", "--junit-xml");
	PARSE_USAGE("--image needs a value", "run", "--image");
	PARSE_USAGE("--timeout needs a value", "run", "--timeout");
	PARSE_USAGE("--agent needs a value", "run", "--agent");
}

static void
test_passthrough(void **state)
{
	struct config cfg;

	(void)state;
	/* Paths and pytest's options go through in their order. */
	PARSE_OK(&cfg, "run", "-n", "2", "tests/", "-k", "foo", "--lf", "-rA");
	{
		static const char *const want[] = { "tests/", "-k", "foo", "--lf", "-rA" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.npositional, 1);
	assert_string_equal(cfg.positional[0], "tests/");
	cli_release(&cfg);

	/* -k, -m, -p, -o go through with their values, mixed with xdock's. */
	PARSE_OK(&cfg, "run", "-k", "a and not b", "-n", "3", "-m", "slow", "-p", "no:cacheprovider", "-o",
		 "addopts=", "-v", "tests/", "more/");
	{
		static const char *const want[] = { "-k", "a and not b", "-m", "slow", "-p", "no:cacheprovider",
						     "-o", "addopts=", "tests/", "more/" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.workers, 3);
	assert_int_equal(cfg.verbose, 1);
	assert_int_equal(cfg.npositional, 2);
	cli_release(&cfg);
	/* A value that looks like an option is still the value. */
	PARSE_OK(&cfg, "run", "-k", "-n", "tests/");
	{
		static const char *const want[] = { "-k", "-n", "tests/" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.workers, 2);
	cli_release(&cfg);
	/* pytest's valued options keep their value, in both spellings; -c
	 * and --rootdir are noted for the rootdir decision. */
	PARSE_OK(&cfg, "run", "--tb", "short", "--durations=3", "--deselect", "t.py::a", "--ignore", "x",
		 "-W", "error", "-c", "ci.ini", "--rootdir", "/r", "--junit-prefix", "p", "-rfE", "tests");
	{
		static const char *const want[] = { "--tb", "short", "--durations=3", "--deselect", "t.py::a",
						     "--ignore", "x", "-W", "error", "-c", "ci.ini", "--rootdir",
						     "/r", "--junit-prefix", "p", "-rfE", "tests" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.npositional, 1);
	assert_string_equal(cfg.positional[0], "tests");
	assert_string_equal(cfg.inifile_arg, "ci.ini");
	assert_string_equal(cfg.rootdir_arg, "/r");
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "-cci.ini", "--rootdir=/q", "-kfoo");
	assert_string_equal(cfg.inifile_arg, "ci.ini");
	assert_string_equal(cfg.rootdir_arg, "/q");
	{
		static const char *const want[] = { "-cci.ini", "--rootdir=/q", "-kfoo" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	cli_release(&cfg);
	PARSE_USAGE("-k needs a value", "run", "-k");
	PARSE_USAGE("-m needs a value", "run", "-n", "2", "-m");
	PARSE_USAGE("--tb needs a value", "run", "--tb");

	/* --: the rest is pytest's as it stands, xdock's names included. */
	PARSE_OK(&cfg, "run", "-n", "2", "--", "-x", "--lf", "-n", "7", "--timeout", "5");
	{
		static const char *const want[] = { "-x", "--lf", "-n", "7", "--timeout", "5" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.maxfail, 0);
	assert_int_equal(cfg.workers, 2);
	assert_true(cfg.timeout == 0);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "--");
	assert_int_equal(cfg.npytest_args, 0);
	cli_release(&cfg);
	/* "-" is a path (stdin), not an option. */
	PARSE_OK(&cfg, "run", "-", "-q");
	{
		static const char *const want[] = { "-" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.verbose, -1);
	cli_release(&cfg);
}

/* The command lines: options after the paths, pytest options
 * first, short clusters that mix xdock's letters with pytest's. */
static void
test_anywhere(void **state)
{
	struct config cfg;

	(void)state;
	PARSE_OK(&cfg, "run", "-n", "2", "-rfE", "tests/");
	{
		static const char *const want[] = { "-rfE", "tests/" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.workers, 2);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", ".", "-n", "4");
	{
		static const char *const want[] = { "." };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.workers, 4);
	cli_release(&cfg);
	PARSE_OK(&cfg, "run", "tests/a.py::test_x", "-n", "9", "--dist", "each", "--bogus", "-x");
	{
		static const char *const want[] = { "tests/a.py::test_x", "--bogus" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.workers, 9);
	assert_int_equal(cfg.dist, SCHED_EACH);
	assert_int_equal(cfg.maxfail, 1);
	cli_release(&cfg);
	/* -xvs: x and v are xdock's, s is pytest's. */
	PARSE_OK(&cfg, "run", "-xvs", "t");
	{
		static const char *const want[] = { "-s", "t" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.maxfail, 1);
	assert_int_equal(cfg.verbose, 1);
	cli_release(&cfg);
	/* -sl stays whole; -svrA: s, then v taken, then -rA with its value. */
	PARSE_OK(&cfg, "run", "-sl", "-svrA", "-ln3");
	{
		static const char *const want[] = { "-sl", "-s", "-rA", "-l" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.verbose, 1);
	assert_int_equal(cfg.workers, 3);
	cli_release(&cfg);
	/* -vk EXPR: -k's value is the next argument. */
	PARSE_OK(&cfg, "run", "-vk", "slow", "-e", "A=1", "-eB");
	{
		static const char *const want[] = { "-k", "slow" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.nenv, 2);
	assert_string_equal(cfg.env[0], "A=1");
	assert_string_equal(cfg.env[1], "B");
	cli_release(&cfg);
	PARSE_USAGE("-n needs a value", "run", "-xn");
	PARSE_USAGE("\"4x\"", "run", "-vn4x");
	PARSE_USAGE("--verbose takes no value", "run", "--verbose=2");
	PARSE_USAGE("--reuse-db takes no value", "run", "--reuse-db=1");
}

/* One rule for the names popular plugins own: xdock takes them, with the
 * plugin's meaning, wherever they stand; pytest never sees them (so the
 * plugin cannot act a second time), unless given after --. */
static void
test_plugin_names(void **state)
{
	struct config cfg;

	(void)state;
	PARSE_OK(&cfg, "run", "tests", "--reuse-db", "--timeout", "30", "--reruns=2", "-p", "no:randomly");
	assert_true(cfg.reuse_db);
	assert_true(cfg.timeout == 30);
	assert_int_equal(cfg.reruns, 2);
	{
		static const char *const want[] = { "tests", "-p", "no:randomly" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	cli_release(&cfg);
	/* The plugins' other options are theirs. */
	PARSE_OK(&cfg, "run", "--timeout-method", "thread", "--reruns-delay", "1", "--ds", "proj.settings");
	{
		static const char *const want[] = { "--timeout-method", "thread", "--reruns-delay", "1", "--ds",
						     "proj.settings" };

		expect_args(&cfg, want, ARRAY_SIZE(want));
	}
	assert_int_equal(cfg.npositional, 0);
	cli_release(&cfg);
}

/* Which runs see the whole suite (the history may drop tests that are
 * gone): options that do not select keep it whole. */
static void
test_whole_suite(void **state)
{
	static const struct {
		const char *args[5];
		bool whole;
	} cases[] = {
		{ { NULL }, true },
		{ { ".", NULL }, true },
		{ { "-p", "no:cacheprovider", "./", NULL }, true },
		{ { "-rA", "--tb=short", "-x", NULL }, true },
		{ { "tests", NULL }, false },
		{ { "t.py::test_a", NULL }, false },
		{ { "-k", "slow", NULL }, false },
		{ { "-mslow", NULL }, false },
		{ { "--deselect=t.py::a", NULL }, false },
		{ { "--lf", NULL }, false },
		{ { "--co", NULL }, false },
		{ { "-p", "no:x", "--ignore", "y", NULL }, false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct config cfg;
		struct error *err = NULL;
		size_t n = 0;

		while (cases[i].args[n])
			n++;
		cli_defaults(&cfg);
		assert_int_equal(cli_parse_run(&cfg, cases[i].args, n, &err), 0);
		if (cli_whole_suite(&cfg) != cases[i].whole)
			fail_msg("case %zu: whole suite should be %d", i, cases[i].whole);
		cli_release(&cfg);
	}
}

static void
test_refused(void **state)
{
	(void)state;
	/* pytest-xdist 3.1's own words for --pdb under -n. */
	PARSE_USAGE("--pdb is incompatible with distributing tests; try using -n0 or -nauto.", "run", "-n", "2",
		    "--pdb");
	PARSE_USAGE("--tx", "run", "--tx", "popen");
	PARSE_USAGE("--rsyncdir", "run", "--rsyncdir=x");
	PARSE_USAGE("--looponfail", "run", "--looponfail");
	PARSE_USAGE("--looponfail", "run", "-f");
	PARSE_USAGE("--looponfail", "run", "-xf");
	PARSE_USAGE("--testrunuid", "run", "--testrunuid=abc");
	PARSE_USAGE("--rsyncignore", "run", "--rsyncignore", "x");
}

static void
test_settings(void **state)
{
	struct config cfg;
	struct error *err = NULL;

	(void)state;
	cli_defaults(&cfg);
	assert_int_equal(cli_set(&cfg, "image", "my/img", "/p/pytest.ini [xdock]", "/p", &err), 0);
	assert_int_equal(cli_set(&cfg, "db_setup", "python3 manage.py migrate", "/p/pytest.ini [xdock]", "/p", &err),
			 0);
	assert_int_equal(cli_set(&cfg, "reuse-db", "true", "f", "/p", &err), 0);
	assert_int_equal(cli_set(&cfg, "no_history", NULL, "f", "/p", &err), 0);
	assert_int_equal(cli_set(&cfg, "reruns", "2", "f", "/p", &err), 0);
	assert_int_equal(cli_set(&cfg, "quarantine", "q.txt", "f", "/p", &err), 0);
	assert_int_equal(cli_set(&cfg, "junitxml", "/abs/j.xml", "f", "/p", &err), 0);
	assert_int_equal(cli_set(&cfg, "env", "DJANGO_CONFIGURATION", "f", "/p", &err), 0);
	assert_int_equal(cli_set(&cfg, "numprocesses", "auto", "f", "/p", &err), 0);
	assert_null(err);
	assert_string_equal(cfg.image, "my/img");
	assert_string_equal(cfg.db_setup, "python3 manage.py migrate");
	assert_true(cfg.reuse_db);
	assert_true(cfg.no_history);
	assert_int_equal(cfg.reruns, 2);
	assert_string_equal(cfg.quarantine, "/p/q.txt");
	assert_string_equal(cfg.junitxml, "/abs/j.xml");
	assert_int_equal(cfg.nenv, 1);
	assert_true(cfg.workers_auto);
	assert_non_null(strstr(cfg.origins, "image: /p/pytest.ini [xdock]\n"));
	assert_non_null(strstr(cfg.origins, "db-setup: /p/pytest.ini [xdock]\n"));
	/* false turns a flag off again. */
	assert_int_equal(cli_set(&cfg, "reuse_db", "false", "f", "/p", &err), 0);
	assert_false(cfg.reuse_db);
	/* The command line wins: it is parsed after the settings. */
	{
		static const char *const args[] = { "--image", "cli/img", "-n", "3" };

		assert_int_equal(cli_parse_run(&cfg, args, ARRAY_SIZE(args), &err), 0);
	}
	assert_string_equal(cfg.image, "cli/img");
	assert_int_equal(cfg.workers, 3);
	assert_false(cfg.workers_auto);

	assert_int_equal(cli_set(&cfg, "imag", "x", "/p/tox.ini [xdock]", "/p", &err), -1);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_string_equal(err->msg, "/p/tox.ini [xdock]: unknown xdock setting \"imag\"");
	error_free(err);
	err = NULL;
	assert_int_equal(cli_set(&cfg, "help", NULL, "f", "/p", &err), -1);
	error_free(err);
	err = NULL;
	assert_int_equal(cli_set(&cfg, "reuse_db", "maybe", "f", "/p", &err), -1);
	assert_non_null(strstr(err->msg, "\"maybe\""));
	error_free(err);
	err = NULL;
	assert_int_equal(cli_set(&cfg, "reruns", "-1", "f", "/p", &err), -1);
	assert_non_null(strstr(err->msg, "f: --reruns"));
	error_free(err);
	cli_release(&cfg);
}

static void
test_split(void **state)
{
	static const struct {
		const char *in;
		const char *want[6];
	} cases[] = {
		{ "", { NULL } },
		{ "  -ra  -q\n--tb=short\t", { "-ra", "-q", "--tb=short", NULL } },
		{ "-k 'not slow and not db'", { "-k", "not slow and not db", NULL } },
		{ "-k \"a \\\"b\\\" c\" x", { "-k", "a \"b\" c", "x", NULL } },
		{ "a\\ b c''d \"\"", { "a b", "cd", "", NULL } },
		{ "\"x\\y\"", { "x\\y", NULL } },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char **w = NULL;
		size_t n = 0, k;

		assert_int_equal(cli_split(cases[i].in, &w, &n), 0);
		for (k = 0; cases[i].want[k]; k++) {
			if (k >= n)
				fail_msg("split(%s): %zu words, want more", cases[i].in, n);
			assert_string_equal(w[k], cases[i].want[k]);
		}
		assert_int_equal(n, k);
		for (k = 0; k < n; k++)
			free(w[k]);
		free(w);
	}
	{
		char **w = NULL;
		size_t n = 0;

		assert_int_equal(cli_split("-k 'open", &w, &n), -1);
		for (size_t k = 0; k < n; k++)
			free(w[k]);
		free(w);
	}
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *s;
		int64_t want;
	} cases[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "1073741824", 1073741824 },
		{ "1k", 1024 },
		{ "1K", 1024 },
		{ "512m", 512ll << 20 },
		{ "512M", 512ll << 20 },
		{ "512mb", 512ll << 20 },
		{ "512MB", 512ll << 20 },
		{ "2g", 2ll << 30 },
		{ "2G", 2ll << 30 },
		{ "2gb", 2ll << 30 },
		{ "1.5g", 3ll << 29 },
		{ "0.5k", 512 },
		{ "8000000000g", 8000000000ll << 30 },
		{ "9000000000g", -1 }, /* about int64's limit */
		{ "", -1 },
		{ "m", -1 },
		{ "-1", -1 },
		{ "-1m", -1 },
		{ "1t", -1 },
		{ "1 m", -1 },
		{ "1mm", -1 },
		{ "1mbx", -1 },
		{ "12x", -1 },
		{ "nan", -1 },
		{ "inf", -1 },
		{ "1e400", -1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t got = cli_parse_size(cases[i].s);

		if (got != cases[i].want)
			fail_msg("cli_parse_size(\"%s\") = %lld, want %lld", cases[i].s, (long long)got,
				 (long long)cases[i].want);
	}
}

/* The option table against --help: every option has its line, with its
 * short letter; and nothing else claims to be an option. */
static void
test_usage(void **state)
{
	cleanup_free char *u = cli_usage();
	size_t nopt = 0, nlines = 0;

	(void)state;
	for (size_t i = 0; cli_option_name(i); i++, nopt++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "%s ", cli_option_name(i));
		if (!strstr(u, needle))
			fail_msg("usage does not mention %s", cli_option_name(i));
	}
	for (const char *l = u; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, "  -", 3) == 0 || strncmp(l, "      --", 8) == 0)
			nlines++;
	/* One line per option, plus one for the --junit-xml alias. */
	assert_int_equal(nlines, nopt + 1);
	assert_non_null(strstr(u, "  -n, --numprocesses N|auto "));
	assert_non_null(strstr(u, "  -e, --env NAME[=VALUE] "));
	assert_non_null(strstr(u, "worksteal"));
}

/* The option table against docs/usage.md's: each option in a row of the
 * table, and each option the table names is one xdock has. */
static void
test_usage_doc(void **state)
{
	FILE *f = fopen(XDOCK_TEST_DATA "/../../docs/usage.md", "r");
	char line[2048];
	bool in_table = false;
	char seen[64][32];
	size_t nseen = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *cell_end, *p;

		if (strncmp(line, "| option | meaning |", 20) == 0) {
			in_table = true;
			continue;
		}
		if (!in_table || strncmp(line, "|---", 4) == 0)
			continue;
		if (line[0] != '|')
			break;
		cell_end = strchr(line + 1, '|');
		assert_non_null(cell_end);
		*cell_end = '\0';
		for (p = line; (p = strstr(p, "`--")) != NULL; p++) {
			size_t n = strspn(p + 1, "-abcdefghijklmnopqrstuvwxyz");
			bool known = false;

			assert_true(n < sizeof(seen[0]) && nseen < ARRAY_SIZE(seen));
			memcpy(seen[nseen], p + 1, n);
			seen[nseen][n] = '\0';
			for (size_t i = 0; cli_option_name(i); i++)
				known |= strcmp(cli_option_name(i), seen[nseen]) == 0;
			known |= strcmp(seen[nseen], "--junit-xml") == 0;
			if (!known)
				fail_msg("docs/usage.md lists %s, which xdock run does not have", seen[nseen]);
			nseen++;
		}
	}
	fclose(f);
	for (size_t i = 0; cli_option_name(i); i++) {
		bool found = false;

		for (size_t k = 0; k < nseen; k++)
			found |= strcmp(seen[k], cli_option_name(i)) == 0;
		if (!found)
			fail_msg("docs/usage.md's option table has no row for %s", cli_option_name(i));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_numprocesses),
		cmocka_unit_test(test_dist),
		cmocka_unit_test(test_db_options),
		cmocka_unit_test(test_output_and_limits),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_anywhere),
		cmocka_unit_test(test_plugin_names),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_whole_suite),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_usage_doc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
