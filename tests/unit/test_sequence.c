/* sequence.c and lastrun.c: lanes recorded per container (replaced
 * workers and rerun rounds start new ones), the lookups replay, bisect
 * and the flaky report use, and the record written into a report and
 * .xdock/last-run.json read back with every field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "lastrun.h"
#include "replay.h"
#include "report.h"
#include "sequence.h"

/* gw0: a, b, c(failed); gw1: d, then a crash replaced it and e ran on a
 * new container; round 1: c passed on gw0. */
static void
record(struct sequence *s)
{
	sequence_init(s, 2);
	sequence_open(s, 0, "gw0", "c0", "test_db_gw0", 10);
	sequence_open(s, 1, "gw1", NULL, "test_db_gw1", 10);
	sequence_set_container(s, 1, "c1");
	sequence_collected(s, 0, 900);
	sequence_collected(s, 1, 950);
	sequence_start(s, 0, "t.py::a", 1000);
	sequence_start(s, 1, "t.py::d", 1001);
	sequence_end(s, 0, "t.py::a", OUTCOME_PASSED, 1100);
	sequence_start(s, 0, "t.py::b", 1100);
	sequence_end(s, 1, "t.py::d", OUTCOME_CRASHED, 1200);
	sequence_close(s, 1, 1201);
	sequence_end(s, 0, "t.py::b", OUTCOME_PASSED, 1300);
	sequence_start(s, 0, "t.py::c", 1300);
	sequence_end(s, 0, "t.py::c", OUTCOME_FAILED, 1500);
	sequence_open(s, 1, "gw1", "c2", "test_db_gw1", 1300);
	/* A result without its start (the start was lost with a crash). */
	sequence_end(s, 1, "t.py::e", OUTCOME_PASSED, 1600);
	s->round = 1;
	sequence_open(s, 0, "gw0", "c3", "test_db_gw0", 2000);
	sequence_start(s, 0, "t.py::c", 2500);
	sequence_end(s, 0, "t.py::c", OUTCOME_PASSED, 2600);
	/* Nothing is recorded on a slot without a lane or out of range. */
	sequence_start(s, 5, "t.py::z", 1);
	sequence_close(s, 1, 2700);
	sequence_start(s, 1, "t.py::z", 2701);
}

static void
test_record(void **state)
{
	struct sequence s;
	size_t pos = 99;

	(void)state;
	record(&s);
	assert_int_equal(s.nlanes, 4);
	assert_string_equal(s.lanes[0].worker, "gw0");
	assert_int_equal(s.lanes[0].n, 3);
	assert_string_equal(s.lanes[0].e[2].id, "t.py::c");
	assert_int_equal(s.lanes[0].e[2].outcome, OUTCOME_FAILED);
	assert_int_equal(s.lanes[0].e[2].start_ms, 1300);
	assert_int_equal(s.lanes[0].e[2].end_ms, 1500);
	assert_int_equal(s.lanes[0].ended_ms, 2000); /* the next round's lane closed it */
	assert_string_equal(s.lanes[1].container, "c1");
	assert_int_equal(s.lanes[1].n, 1);
	assert_int_equal(s.lanes[1].ended_ms, 1201);
	assert_int_equal(s.lanes[2].n, 1);
	assert_int_equal(s.lanes[2].e[0].start_ms, 1600);
	assert_int_equal(s.lanes[3].round, 1);
	assert_int_equal(s.lanes[3].n, 1);

	/* replay gw0: its first failure; replay --until; bisect's lookup. */
	assert_int_equal(sequence_find(&s, "gw0", NULL, &pos), 0);
	assert_int_equal(pos, 2);
	assert_int_equal(sequence_find(&s, "gw0", "t.py::b", &pos), 0);
	assert_int_equal(pos, 1);
	assert_int_equal(sequence_find(&s, NULL, "t.py::e", &pos), 2);
	assert_int_equal(pos, 0);
	assert_int_equal(sequence_find(&s, "gw1", NULL, &pos), 1); /* the crash */
	assert_int_equal(sequence_find(&s, "gw7", NULL, &pos), -1);
	assert_int_equal(sequence_find(&s, "gw1", "t.py::a", &pos), -1);
	assert_int_equal(sequence_find_failure(&s, "t.py::c", &pos), 0);
	assert_int_equal(pos, 2);
	assert_int_equal(sequence_find_failure(&s, "t.py::a", &pos), -1);
	/* The flaky report: round 1's try of c on gw0. */
	assert_int_equal(sequence_find_round(&s, 1, "gw0", "t.py::c", &pos), 3);
	assert_int_equal(pos, 0);
	assert_int_equal(sequence_find_round(&s, 0, "gw0", "t.py::c", &pos), 0);
	assert_int_equal(pos, 2);
	/* The lane whose last test ended last. */
	assert_int_equal(sequence_critical(&s), 3);
	sequence_release(&s);

	sequence_init(&s, 1);
	assert_int_equal(sequence_critical(&s), -1);
	assert_int_equal(sequence_find(&s, "gw0", NULL, &pos), -1);
	sequence_release(&s);
}

static char *
write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/xdock-test-seq.XXXXXX");
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

/* The JSON report holds the record; lastrun_load reads it back whole. */
static void
test_report_roundtrip(void **state)
{
	struct report r = { 0 };
	struct config cfg;
	const char *args[] = { ".", "-p", "no:cacheprovider" };
	const char *env[] = { "A=1", "B" };
	const char *dbopts[] = { "max_prepared_transactions=10" };
	char *path = xstrdup("/tmp/xdock-test-seq-r.XXXXXX");
	struct lastrun lr;
	struct config out;
	struct error *err = NULL;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	cli_defaults(&cfg);
	cfg.pytest_args = args;
	cfg.npytest_args = 3;
	cfg.env = env;
	cfg.nenv = 2;
	cfg.db_options = dbopts;
	cfg.ndb_options = 1;
	cfg.db_setup = "python3 migrate.py";
	cfg.db_setup_timeout = 9;
	cfg.db_env = CLI_DB_ENV_URL;
	cfg.db_scope = CLI_DB_SCOPE_SERVER;
	cfg.nano_cpus = 1500000000;
	cfg.rootdir = "/p/r";
	cfg.project_dir = "/p";
	cfg.workdir = "/p/r/sub";
	cfg.timeout = 7;
	cfg.workers = 2;
	r.run_id = xstrdup("abc");
	r.nworkers = 2;
	r.workers = xcalloc(2, sizeof(*r.workers));
	strcpy(r.workers[0].name, "gw0");
	strcpy(r.workers[1].name, "gw1");
	r.seq = xcalloc(1, sizeof(*r.seq));
	record(r.seq);
	r.invocation = lastrun_invocation(&cfg, 2, "sha256:feed");
	assert_int_equal(report_json(&r, f, &err), 0);
	fclose(f);

	assert_int_equal(lastrun_load("/nonexistent", path, &lr, &err), 0);
	assert_string_equal(lr.run_id, "abc");
	assert_string_equal(lr.image, "xdock/python:bookworm");
	assert_string_equal(lr.image_id, "sha256:feed");
	assert_int_equal(lr.npytest_args, 3);
	assert_string_equal(lr.pytest_args[2], "no:cacheprovider");
	assert_int_equal(lr.nenv, 2);
	assert_string_equal(lr.env[1], "B");
	assert_int_equal(lr.db, CLI_DB_EMBEDDED);
	assert_string_equal(lr.db_setup, "python3 migrate.py");
	assert_true(lr.timeout == 7);
	assert_int_equal(lr.seq.nlanes, 4);
	assert_int_equal(lr.seq.lanes[0].n, 3);
	assert_string_equal(lr.seq.lanes[0].e[2].id, "t.py::c");
	assert_int_equal(lr.seq.lanes[0].e[2].outcome, OUTCOME_FAILED);
	assert_int_equal(lr.seq.lanes[0].e[2].start_ms, 1300);
	assert_int_equal(lr.seq.lanes[0].collected_ms, 900);
	assert_string_equal(lr.seq.lanes[2].container, "c2");
	assert_int_equal(lr.seq.lanes[3].round, 1);

	assert_string_equal(lr.db_env, "url");
	assert_string_equal(lr.db_scope, "server");
	assert_true(lr.db_setup_timeout == 9);
	assert_true(lr.nano_cpus == 1500000000);
	assert_string_equal(lr.rootdir, "/p/r");
	assert_null(lr.inifile);
	assert_string_equal(lr.workdir, "/p/r/sub");

	/* The replay's config: the recorded image by id, arguments and
	 * setup, the database's environment and scope, over what the
	 * project's config said. */
	cli_defaults(&out);
	out.db_setup_timeout = 60;
	assert_int_equal(lastrun_apply(&lr, "recorded", &out, &err), 0);
	assert_string_equal(out.image, "sha256:feed");
	assert_int_equal(out.npytest_args, 3);
	assert_string_equal(out.pytest_args[2], "no:cacheprovider");
	assert_int_equal(out.db_env, CLI_DB_ENV_URL);
	assert_int_equal(out.db_scope, CLI_DB_SCOPE_SERVER);
	assert_true(out.db_setup_timeout == 9);
	assert_true(out.timeout == 7);
	assert_true(out.nano_cpus == 1500000000);
	/* The embedded server's settings come back with the replay. */
	assert_int_equal(out.ndb_options, 1);
	assert_string_equal(out.db_options[0], "max_prepared_transactions=10");
	/* One fixed sequence, nothing that reorders or reruns. */
	out.reruns = 3;
	out.maxfail = 1;
	{
		struct config rc;

		replay_config(&out, &rc);
		assert_int_equal(rc.dist, SCHED_FIXED);
		assert_int_equal(rc.reruns, 0);
		assert_int_equal(rc.maxfail, 0);
		assert_int_equal(rc.max_worker_restart, 0);
		assert_true(rc.no_history);
	}
	cli_release(&out);
	lastrun_release(&lr);
	report_release(&r);
	unlink(path);
	free(path);
}

static void
test_load_errors(void **state)
{
	struct lastrun lr;
	struct error *err = NULL;
	char *p;

	(void)state;
	assert_int_equal(lastrun_load("/nonexistent", NULL, &lr, &err), -1);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_non_null(strstr(err->msg, "no record of a last run"));
	error_free(err);
	err = NULL;

	p = write_tmp("{\"tool\":\"xdock\"}");
	assert_int_equal(lastrun_load("/", p, &lr, &err), -1);
	assert_non_null(strstr(err->msg, "no \"invocation\""));
	error_free(err);
	err = NULL;
	unlink(p);
	free(p);

	p = write_tmp("{\"invocation\":{\"image\":\"x\"},\"sequences\":[{\"worker\":\"gw0\",\"tests\":[{\"nodeid\":1}]}]}");
	assert_int_equal(lastrun_load("/", p, &lr, &err), -1);
	assert_non_null(strstr(err->msg, "without nodeid"));
	error_free(err);
	err = NULL;
	unlink(p);
	free(p);

	p = write_tmp("not json");
	assert_int_equal(lastrun_load("/", p, &lr, &err), -1);
	assert_non_null(strstr(err->msg, "not JSON"));
	error_free(err);
	unlink(p);
	free(p);
}

/* The streamed lane is the text cJSON prints for the lane's tree, byte
 * for byte: quotes, backslashes, control bytes, UTF-8, unknown times,
 * whole and fractional seconds, and a running test. */
static void
test_lane_write_is_cjson(void **state)
{
	const char *ids[] = { "t.py::a", "t.py::q[\"x\"]", "t.py::b[\\n]", "t.py::c[\n\t\r\b\f\x01\x1f]",
			      "t.py::d[\xc3\xa9\xe2\x82\xac]", "t.py::e[/ ]", "", "t.py::f", "t.py::g", "t.py::h",
			      "t.py::i", "t.py::j", "t.py::k" };
	const int64_t at[] = { 0, 1, 999, 1000, 1234567, 4000, 86399999, 10, 100, 1005, 1050, 999999999999, 7 };
	struct sequence s;
	struct buf b;

	(void)state;
	record(&s);
	sequence_open(&s, 1, "gw1", NULL, NULL, -1);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sequence_start(&s, 1, ids[i], at[i]);
		sequence_end(&s, 1, ids[i], i % 2 ? OUTCOME_FAILED : OUTCOME_PASSED, at[i] + (int64_t)i * 333);
	}
	sequence_start(&s, 1, "t.py::running", 5);
	/* Every millisecond of the first 12 s, and some far later. */
	sequence_open(&s, 0, "gw0", "c9", NULL, 3);
	for (int64_t ms = 0; ms < 12000; ms++) {
		sequence_start(&s, 0, "t.py::many", ms * 997 % 12000);
		sequence_end(&s, 0, "t.py::many", OUTCOME_PASSED, ms * 86400123 + 1);
	}
	buf_init(&b, (size_t)1 << 20);
	for (size_t i = 0; i < s.nlanes; i++) {
		cJSON *tree = sequence_lane_json(&s.lanes[i]);
		char *text = cJSON_PrintUnformatted(tree);

		buf_reset(&b);
		assert_int_equal(sequence_lane_write(&s.lanes[i], &b), 0);
		assert_string_equal(b.data, text);
		free(text);
		cJSON_Delete(tree);
	}
	buf_release(&b);
	/* Past the cap: -1, never a cut record taken for whole. */
	buf_init(&b, 64);
	assert_int_equal(sequence_lane_write(&s.lanes[0], &b), -1);
	buf_release(&b);
	sequence_release(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_report_roundtrip),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_lane_write_is_cjson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
