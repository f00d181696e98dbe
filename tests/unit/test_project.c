/* rootdir.c, inifile.c and project.c on real directory trees in a temp
 * dir: pytest's rootdir and inifile, the mounted directory and workdir,
 * addopts and PYTEST_ADDOPTS, [xdock] and [tool.xdock] settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cli.h"
#include "inifile.h"
#include "lastrun.h"
#include "project.h"
#include "rootdir.h"

static char top[256];

static void
put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	for (char *s = strchr(path + strlen(top) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	if (text) {
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
	} else {
		mkdir(path, 0755);
	}
}

static char *
at(const char *rel)
{
	static char bufs[8][512];
	static int k;
	char *b = bufs[k++ % 8];

	snprintf(b, 512, "%s%s%s", top, *rel ? "/" : "", rel);
	return b;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/xdock-test-project-XXXXXX");
	assert_non_null(mkdtemp(top));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static int
decide(const char *cwd, const char *const *args, size_t n, const char *c, const char *rootdir, struct rootdir *out,
       struct error **err)
{
	struct rootdir_in in = { .cwd = cwd, .args = args, .nargs = n, .inifile_arg = c, .rootdir_arg = rootdir };

	return rootdir_decide(&in, out, err);
}

static void
test_abspath(void **state)
{
	static const struct {
		const char *cwd, *p, *want;
	} cases[] = {
		{ "/a/b", "c", "/a/b/c" },        { "/a/b", "./c/", "/a/b/c" },   { "/a/b", "..", "/a" },
		{ "/a/b", "../../..", "/" },      { "/a/b", "/x//y/./z", "/x/y/z" }, { "/", ".", "/" },
		{ "/a", "t.py::test_x", "/a/t.py::test_x" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *got = rootdir_abspath(cases[i].cwd, cases[i].p);

		assert_string_equal(got, cases[i].want);
	}
}

/* The project: pytest.ini at the root, fixtures in tests/, run
 * from tests/sub. */
static void
test_parent_ini(void **state)
{
	struct rootdir r;
	struct error *err = NULL;

	(void)state;
	put("p/pytest.ini", "[pytest]\naddopts = -n 2\n");
	put("p/tests/conftest.py", "");
	put("p/tests/sub/test_x.py", "");
	assert_int_equal(decide(at("p/tests/sub"), NULL, 0, NULL, NULL, &r, &err), 0);
	assert_string_equal(r.rootdir, at("p"));
	assert_string_equal(r.inifile, at("p/pytest.ini"));
	assert_string_equal(r.project_dir, at("p"));
	assert_string_equal(r.workdir, at("p/tests/sub"));
	assert_false(r.cwd_outside);
	rootdir_release(&r);

	/* An absolute path from elsewhere: the workers start in the rootdir. */
	put("elsewhere", NULL);
	{
		const char *args[] = { at("p/tests/sub/test_x.py::test_a") };

		assert_int_equal(decide(at("elsewhere"), args, 1, NULL, NULL, &r, &err), 0);
	}
	assert_string_equal(r.rootdir, at("p"));
	assert_string_equal(r.project_dir, at("p"));
	assert_string_equal(r.workdir, at("p"));
	assert_true(r.cwd_outside);
	rootdir_release(&r);

	/* With an inifile, a git work tree around it does not widen the
	 * project. */
	put(".git/HEAD", "ref: refs/heads/main\n");
	assert_int_equal(decide(at("p/tests/sub"), NULL, 0, NULL, NULL, &r, &err), 0);
	assert_string_equal(r.project_dir, at("p"));
	rootdir_release(&r);
}

/* Which files count: pytest.ini always; pyproject.toml, tox.ini and
 * setup.cfg only with pytest's section; the nearest directory first. */
static void
test_which_inifile(void **state)
{
	struct rootdir r;
	struct error *err = NULL;
	const char *args[] = { "d/e" };

	(void)state;
	put("q/setup.cfg", "[tool:pytest]\nxfail_strict = true\n");
	put("q/d/tox.ini", "[tox]\nenvlist = py3\n");
	put("q/d/pyproject.toml", "[tool.black]\nline-length = 100\n");
	put("q/d/e/test_y.py", "");
	assert_int_equal(decide(at("q"), args, 1, NULL, NULL, &r, &err), 0);
	assert_string_equal(r.rootdir, at("q"));
	assert_string_equal(r.inifile, at("q/setup.cfg"));
	rootdir_release(&r);

	put("q/d/pyproject.toml", "[tool.pytest.ini_options]\naddopts = \"-q\"\n");
	assert_int_equal(decide(at("q"), args, 1, NULL, NULL, &r, &err), 0);
	assert_string_equal(r.rootdir, at("q/d"));
	assert_string_equal(r.inifile, at("q/d/pyproject.toml"));
	/* The project holds the cwd's paths: q/d is enough, q is the cwd. */
	assert_string_equal(r.project_dir, at("q/d"));
	assert_true(r.cwd_outside);
	rootdir_release(&r);

	/* -c names the file, --rootdir the directory. */
	{
		const char *none[] = { "d/e" };

		assert_int_equal(decide(at("q"), none, 1, "d/tox.ini", NULL, &r, &err), 0);
		assert_string_equal(r.rootdir, at("q/d"));
		assert_string_equal(r.inifile, at("q/d/tox.ini"));
		rootdir_release(&r);
		assert_int_equal(decide(at("q"), none, 1, NULL, "d", &r, &err), 0);
		assert_string_equal(r.rootdir, at("q/d"));
		assert_string_equal(r.inifile, at("q/d/pyproject.toml"));
		rootdir_release(&r);
		assert_int_equal(decide(at("q"), none, 1, NULL, "nope", &r, &err), -1);
		assert_int_equal(err->status, EXIT_USAGE);
		assert_non_null(strstr(err->msg, "Check your '--rootdir' option."));
		error_free(err);
		err = NULL;
		assert_int_equal(decide(at("q"), none, 1, "no.ini", NULL, &r, &err), -1);
		assert_int_equal(err->status, EXIT_USAGE);
		error_free(err);
		err = NULL;
	}
	/* A broken file is named, with its line. */
	put("q/d/pyproject.toml", "[tool.pytest.ini_options\n");
	assert_int_equal(decide(at("q"), args, 1, NULL, NULL, &r, &err), -1);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_non_null(strstr(err->msg, "q/d/pyproject.toml: not valid TOML"));
	error_free(err);
}

/* No inifile: setup.py, else the common ancestor of cwd and the paths;
 * the mount widens to the git work tree. */
static void
test_no_inifile(void **state)
{
	struct rootdir r;
	struct error *err = NULL;

	(void)state;
	put("g/.git/HEAD", "ref: refs/heads/main\n");
	put("g/src/pkg/tests/test_z.py", "");
	{
		const char *args[] = { "tests/test_z.py" };

		assert_int_equal(decide(at("g/src/pkg"), args, 1, NULL, NULL, &r, &err), 0);
	}
	assert_null(r.inifile);
	assert_string_equal(r.rootdir, at("g/src/pkg"));
	assert_string_equal(r.project_dir, at("g"));
	assert_string_equal(r.workdir, at("g/src/pkg"));
	rootdir_release(&r);

	put("g/src/setup.py", "");
	{
		const char *args[] = { "tests" };

		assert_int_equal(decide(at("g/src/pkg"), args, 1, NULL, NULL, &r, &err), 0);
	}
	assert_string_equal(r.rootdir, at("g/src"));
	assert_string_equal(r.project_dir, at("g"));
	rootdir_release(&r);
}

static void
test_unmountable(void **state)
{
	struct rootdir r;
	struct error *err = NULL;

	(void)state;
	put("u/t/test_u.py", "");
	{
		const char *args[] = { at("u/t"), "/proc/self" };

		assert_int_equal(decide(at("u"), args, 2, NULL, NULL, &r, &err), -1);
	}
	assert_int_equal(err->status, EXIT_USAGE);
	assert_non_null(strstr(err->msg, "share no directory but /"));
	error_free(err);
}

static int
load(struct config *cfg, const char *cwd, const char *env, struct error **err, ...)
{
	static char *argv[32];
	va_list ap;
	int argc = 0;
	const char *a;

	argv[argc++] = (char *)"xdock";
	argv[argc++] = (char *)"run";
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	if (cli_parse(argc, argv, cfg, err) < 0)
		return -1;
	return project_load(cfg, argc, argv, cwd, env, err);
}

static bool
has_arg(const struct config *cfg, const char *a)
{
	for (size_t i = 0; i < cfg->npytest_args; i++)
		if (strcmp(cfg->pytest_args[i], a) == 0)
			return true;
	return false;
}

static void
test_addopts(void **state)
{
	struct config cfg;
	struct error *err = NULL;

	(void)state;
	put("a/pytest.ini", "[pytest]\naddopts =\n    -n 2 --dist loadfile\n    -p no:randomly -k 'not slow'\n"
			    "    --timeout=30\n");
	put("a/tests/test_a.py", "");
	assert_int_equal(load(&cfg, at("a/tests"), NULL, &err, (const char *)NULL), 0);
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.dist, SCHED_LOADFILE);
	assert_true(cfg.timeout == 30);
	{
		static const char *const want[] = { "-p", "no:randomly", "-k", "not slow" };

		assert_int_equal(cfg.npytest_args, ARRAY_SIZE(want));
		for (size_t i = 0; i < ARRAY_SIZE(want); i++)
			assert_string_equal(cfg.pytest_args[i], want[i]);
	}
	/* The workers' pytest must not read addopts a second time. */
	assert_int_equal(cfg.nworker_args, 2);
	assert_string_equal(cfg.worker_args[0], "-o");
	assert_string_equal(cfg.worker_args[1], "addopts=");
	assert_string_equal(cfg.rootdir, at("a"));
	assert_string_equal(cfg.workdir, at("a/tests"));
	assert_non_null(strstr(cfg.origins, "addopts: "));
	cli_release(&cfg);

	/* PYTEST_ADDOPTS after the file, the command line last. */
	assert_int_equal(load(&cfg, at("a"), "-n 3 -x", &err, "-n", "4", "tests", (const char *)NULL), 0);
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.maxfail, 1);
	assert_true(has_arg(&cfg, "tests"));
	cli_release(&cfg);
	assert_int_equal(load(&cfg, at("a"), "-n 3", &err, (const char *)NULL), 0);
	assert_int_equal(cfg.workers, 3);
	cli_release(&cfg);
	assert_int_equal(load(&cfg, at("a"), "-k 'open", &err, (const char *)NULL), -1);
	assert_non_null(strstr(err->msg, "PYTEST_ADDOPTS"));
	error_free(err);
	err = NULL;
	/* The refusals hold for addopts too. */
	put("a/pytest.ini", "[pytest]\naddopts = --pdb\n");
	assert_int_equal(load(&cfg, at("a"), NULL, &err, (const char *)NULL), -1);
	assert_non_null(strstr(err->msg, "--pdb is incompatible"));
	error_free(err);
}

static void
test_xdock_settings(void **state)
{
	struct config cfg;
	struct error *err = NULL;

	(void)state;
	put("t/pyproject.toml", "[tool.pytest.ini_options]\naddopts = [\"-n\", \"3\", \"-rA\"]\n\n"
				"[tool.xdock]\nimage = \"my/img:1\"\nreuse-db = true\ntimeout = 30\ncpus = 1.5\n"
				"env = [\"DJANGO_SETTINGS_MODULE=proj.settings\", \"TOKEN\"]\n"
				"db_setup = \"python3 manage.py migrate\"\nquarantine = \"ci/q.txt\"\n");
	put("t/test_t.py", "");
	assert_int_equal(load(&cfg, at("t"), NULL, &err, "--image", "cli/img", (const char *)NULL), 0);
	assert_int_equal(cfg.workers, 3);
	assert_string_equal(cfg.image, "cli/img");
	assert_true(cfg.reuse_db);
	assert_true(cfg.timeout == 30);
	assert_int_equal(cfg.nano_cpus, 1500000000);
	assert_string_equal(cfg.db_setup, "python3 manage.py migrate");
	assert_string_equal(cfg.quarantine, at("t/ci/q.txt"));
	assert_true(has_arg(&cfg, "-rA"));
	assert_non_null(strstr(cfg.origins, "reuse-db: "));
	assert_non_null(strstr(cfg.origins, "pyproject.toml [tool.xdock]"));
	{
		/* The defaults first (DJANGO_SETTINGS_MODULE is set by the
		 * file, so not passed from the host), then the file's. */
		bool dsm_default = false, token = false, ci = false;

		for (size_t i = 0; i < cfg.nenv; i++) {
			dsm_default |= strcmp(cfg.env[i], "DJANGO_SETTINGS_MODULE") == 0;
			token |= strcmp(cfg.env[i], "TOKEN") == 0;
			ci |= strcmp(cfg.env[i], "CI") == 0;
		}
		assert_false(dsm_default);
		assert_true(token);
		assert_true(ci);
		assert_string_equal(cfg.env[cfg.nenv - 1], "TOKEN");
	}
	cli_release(&cfg);
	assert_int_equal(load(&cfg, at("t"), NULL, &err, "--no-passenv", (const char *)NULL), 0);
	assert_int_equal(cfg.nenv, 2);
	cli_release(&cfg);

	/* [xdock] in tox.ini when there is no pytest inifile at all. */
	put("x/tox.ini", "[tox]\nenvlist = py3\n\n[xdock]\ndb = none\nno-history = true\n");
	put("x/test_x.py", "");
	assert_int_equal(load(&cfg, at("x"), NULL, &err, (const char *)NULL), 0);
	assert_null(cfg.inifile);
	assert_int_equal(cfg.db, CLI_DB_NONE);
	assert_true(cfg.no_history);
	cli_release(&cfg);

	put("x/tox.ini", "[xdock]\nimagee = x\n");
	assert_int_equal(load(&cfg, at("x"), NULL, &err, (const char *)NULL), -1);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_non_null(strstr(err->msg, "x/tox.ini [xdock]: unknown xdock setting \"imagee\""));
	error_free(err);
	err = NULL;
	{
		/* Past libinih's line length: refused, never read wrong. */
		char big[700];

		snprintf(big, sizeof(big), "[xdock]\n# %0300d\nimage = x%0300d\n", 0, 0);
		put("x/tox.ini", big);
		assert_int_equal(load(&cfg, at("x"), NULL, &err, (const char *)NULL), -1);
		assert_non_null(strstr(err->msg, "x/tox.ini:3: a line of 309 bytes"));
		error_free(err);
		err = NULL;
	}
	put("x/tox.ini", "[xdock\nimage = x\n");
	assert_int_equal(load(&cfg, at("x"), NULL, &err, (const char *)NULL), -1);
	assert_non_null(strstr(err->msg, "x/tox.ini:1: not valid ini syntax"));
	error_free(err);
}

/* xdock replay ARGS... from cwd: project_load_replay over cli_parse. */
static int
load_replay(struct config *cfg, struct lastrun *lr, const char *cwd, struct error **err, ...)
{
	static char *argv[32];
	va_list ap;
	int argc = 0;
	const char *a;

	argv[argc++] = (char *)"xdock";
	argv[argc++] = (char *)"replay";
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	/* main releases the config whatever failed. */
	if (cli_parse(argc, argv, cfg, err) < 0 || project_load_replay(cfg, argc, argv, cwd, NULL, lr, err) < 0) {
		cli_release(cfg);
		return -1;
	}
	return 0;
}

static void
put_record(const char *rel, const char *invocation_extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "{\"version\":1,\"run_id\":\"r1\",\"invocation\":{\"image\":\"xdock/python:bookworm\","
		 "\"image_id\":\"sha256:feed\",\"pytest_args\":[\"-v\",\".\"],\"env\":[\"CI\",\"A=1\"],"
		 "\"db\":\"embedded\",\"db_options\":[],\"db_image\":\"xdock/postgres:15\",\"db_setup\":null,"
		 "\"timeout\":0,\"memory\":0,\"nano_cpus\":0%s},"
		 "\"sequences\":[{\"worker\":\"gw0\",\"tests\":[{\"nodeid\":\"t.py::a\",\"outcome\":\"failed\"}]}]}\n",
		 invocation_extra);
	put(rel, text);
}

/* replay and bisect: the record where run wrote it (the rootdir, from a
 * subdirectory too), the project's config where the record says
 * nothing, the record over the config, the command line over both, and
 * the workers' -o addopts= as run's. */
static void
test_replay_config(void **state)
{
	struct config cfg;
	struct lastrun lr;
	struct error *err = NULL;
	char extra[512];

	(void)state;
	put("r/pytest.ini", "[pytest]\naddopts = -v\n\n[xdock]\ndb-env = url\ndb-setup-timeout = 9\nnumprocesses = 3\n"
			    "json-report = run.json\n");
	put("r/tests/sub/test_s.py", "");
	/* An older record: no db_env, db_scope or where. */
	put_record("r/.xdock/last-run.json", "");
	assert_int_equal(load_replay(&cfg, &lr, at("r/tests/sub"), &err, "gw0", (const char *)NULL), 0);
	assert_string_equal(lr.run_id, "r1");
	assert_string_equal(cfg.replay_worker, "gw0");
	assert_int_equal(cfg.db_env, CLI_DB_ENV_URL);
	assert_true(cfg.db_setup_timeout == 9);
	assert_int_equal(cfg.workers, 3);
	/* The run's report file is not the replay's to overwrite. */
	assert_null(cfg.json_report);
	assert_string_equal(cfg.image, "sha256:feed");
	/* The record's arguments hold addopts' -v: no second -v from the
	 * config, and the workers do not read addopts again. */
	assert_int_equal(cfg.npytest_args, 2);
	assert_string_equal(cfg.pytest_args[0], "-v");
	assert_int_equal(cfg.nworker_args, 2);
	assert_string_equal(cfg.worker_args[0], "-o");
	assert_string_equal(cfg.worker_args[1], "addopts=");
	assert_int_equal(cfg.nenv, 2);
	/* Not recorded where: decided here as run decides it. */
	assert_string_equal(cfg.rootdir, at("r"));
	assert_string_equal(cfg.workdir, at("r/tests/sub"));
	cli_release(&cfg);
	lastrun_release(&lr);

	/* A record with them: it wins over the config, the command line
	 * over both. */
	snprintf(extra, sizeof(extra),
		 ",\"db_env\":\"none\",\"db_scope\":\"server\",\"db_setup_timeout\":20,\"rootdir\":\"%s\","
		 "\"inifile\":\"%s\",\"project_dir\":\"%s\",\"workdir\":\"%s\"",
		 at("r"), at("r/pytest.ini"), at("r"), at("r"));
	put_record("r/.xdock/last-run.json", extra);
	assert_int_equal(load_replay(&cfg, &lr, at("r/tests/sub"), &err, "gw0", "--db-setup-timeout", "5", "-n", "4",
				     (const char *)NULL),
			 0);
	assert_int_equal(cfg.db_env, CLI_DB_ENV_NONE);
	assert_int_equal(cfg.db_scope, CLI_DB_SCOPE_SERVER);
	assert_true(cfg.db_setup_timeout == 5);
	assert_int_equal(cfg.workers, 4);
	assert_string_equal(cfg.workdir, at("r"));
	assert_string_equal(cfg.inifile, at("r/pytest.ini"));
	assert_non_null(strstr(cfg.origins, "db-scope: recorded in "));
	cli_release(&cfg);
	lastrun_release(&lr);
	assert_int_equal(load_replay(&cfg, &lr, at("r"), &err, "gw0", "--db-env", "all", "--image", "my/img",
				     (const char *)NULL),
			 0);
	assert_int_equal(cfg.db_env, CLI_DB_ENV_ALL);
	assert_string_equal(cfg.image, "my/img");
	cli_release(&cfg);
	lastrun_release(&lr);

	/* Pytest's arguments come from the record only. */
	assert_int_equal(load_replay(&cfg, &lr, at("r"), &err, "gw0", "-k", "x", (const char *)NULL), -1);
	assert_non_null(strstr(err->msg, "unknown argument \"-k\""));
	error_free(err);
	err = NULL;
	/* A recorded value xdock does not take is refused, naming it. */
	put_record("r/.xdock/last-run.json", ",\"db_scope\":\"cluster\"");
	assert_int_equal(load_replay(&cfg, &lr, at("r"), &err, "gw0", (const char *)NULL), -1);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_non_null(strstr(err->msg, "recorded in "));
	error_free(err);
	err = NULL;
	/* Outside the project's rootdir there is no record. */
	put("elsewhere/x.txt", "");
	assert_int_equal(load_replay(&cfg, &lr, at("elsewhere"), &err, "gw0", (const char *)NULL), -1);
	assert_non_null(strstr(err->msg, "no record of a last run in "));
	error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abspath),
		cmocka_unit_test_setup_teardown(test_parent_ini, setup, teardown),
		cmocka_unit_test_setup_teardown(test_which_inifile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_inifile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmountable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addopts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xdock_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
