/* The outcome ledger: every message kind in every worker state, and the
 * run-level rules (collection check, maxfail, reruns, --dist each, lost
 * workers, what finish says of tests that never ran). Messages are
 * decoded from protocol lines, as the loop gets them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger.h"
#include "proto.h"

#define NW 2

struct fix {
	struct config cfg;
	struct report rep;
	struct term term;
	struct ledger l;
	struct buf out[NW];
	FILE *devnull;
};

/* Eight tests: with two workers and a prefetch of three, each worker holds
 * some and some are left unsent. */
static const char *const COLLECTED8 =
	"{\"t\":\"collected\",\"items\":["
	"{\"id\":\"t.py::a\",\"file\":\"t.py\",\"group\":null},{\"id\":\"t.py::b\",\"file\":\"t.py\",\"group\":null},"
	"{\"id\":\"t.py::c\",\"file\":\"t.py\",\"group\":null},{\"id\":\"t.py::d\",\"file\":\"t.py\",\"group\":null},"
	"{\"id\":\"t.py::e\",\"file\":\"t.py\",\"group\":null},{\"id\":\"t.py::f\",\"file\":\"t.py\",\"group\":null},"
	"{\"id\":\"t.py::g\",\"file\":\"t.py\",\"group\":null},{\"id\":\"t.py::h\",\"file\":\"t.py\",\"group\":null}],"
	"\"errors\":[]}";

static void
fix_open(struct fix *f, enum sched_mode dist, int reruns, int maxfail)
{
	memset(f, 0, sizeof(*f));
	f->cfg.dist = dist;
	f->cfg.reruns = reruns;
	f->cfg.maxfail = maxfail;
	f->devnull = fopen("/dev/null", "w");
	assert_non_null(f->devnull);
	term_init(&f->term, f->devnull, 0);
	f->rep.nworkers = NW;
	f->rep.workers = calloc(NW, sizeof(*f->rep.workers));
	for (size_t i = 0; i < NW; i++)
		snprintf(f->rep.workers[i].name, sizeof(f->rep.workers[i].name), "gw%u", (unsigned)i);
	ledger_init(&f->l, &f->cfg, NW, &f->rep, &f->term, NULL, NULL, 0);
	for (size_t i = 0; i < NW; i++) {
		buf_init(&f->out[i], 1 << 20);
		ledger_worker_started(&f->l, i, &f->out[i], 0);
		ledger_admit(&f->l, i);
	}
}

static void
fix_close(struct fix *f)
{
	ledger_release(&f->l);
	report_release(&f->rep);
	for (size_t i = 0; i < NW; i++)
		buf_release(&f->out[i]);
	fclose(f->devnull);
}

/* Decodes one protocol line and hands it to the ledger as worker wi's. */
static int
feed(struct fix *f, size_t wi, const char *line)
{
	struct error *err = NULL;
	struct msg m;
	int rc;

	if (msg_decode(line, strlen(line), &m, &err) < 0)
		fail_msg("test line does not decode: %s: %s", line, err->msg);
	rc = ledger_handle(&f->l, wi, &m, 1000);
	msg_release(&m);
	return rc;
}

static int
feedf(struct fix *f, size_t wi, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int
feedf(struct fix *f, size_t wi, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return feed(f, wi, line);
}

static void
hello(struct fix *f, size_t wi)
{
	assert_int_equal(feedf(f, wi, "{\"t\":\"hello\",\"v\":%d,\"pid\":1}", PROTO_VERSION), 0);
}

static void
collect(struct fix *f, size_t wi)
{
	hello(f, wi);
	assert_int_equal(feed(f, wi, COLLECTED8), 0);
}

static long
first_given(const struct fix *f, size_t wi)
{
	assert_true(f->l.w[wi].ngiven > 0);
	return (long)f->l.w[wi].given[0];
}

static int
result(struct fix *f, size_t wi, long i, const char *outcome)
{
	return feedf(f, wi,
		     "{\"t\":\"result\",\"i\":%ld,\"outcome\":\"%s\",\"duration\":0.5,\"when\":\"call\","
		     "\"longrepr\":\"\",\"stdout\":\"\",\"stderr\":\"\"}",
		     i, outcome);
}

/* The states a worker slot goes through, as far as messages take it. */
enum st { ST_STARTED, ST_READY, ST_IDLE, ST_RUNNING, ST_EXITED, ST__COUNT };
static const char *const st_names[] = { "started", "ready", "collected", "running", "exited" };

/* gw1 owns the collection, so gw0's messages meet a run that has one. */
static void
bring(struct fix *f, enum st st)
{
	collect(f, 1);
	if (st >= ST_READY)
		hello(f, 0);
	if (st >= ST_IDLE)
		assert_int_equal(feed(f, 0, COLLECTED8), 0);
	if (st >= ST_RUNNING)
		assert_int_equal(feedf(f, 0, "{\"t\":\"start\",\"i\":%ld}", first_given(f, 0)), 0);
	if (st >= ST_EXITED)
		assert_int_equal(feed(f, 0, "{\"t\":\"exit\",\"status\":0}"), 0);
	assert_null(f->l.fatal);
}

/* KEPT: taken, and nothing of the worker or the run changed (a message
 * that is the controller's business). */
enum want { OK, KEPT, BROKE, FATAL, IGNORED };

struct row {
	const char *what;
	const char *line;        /* @: a test given to gw0 (or 0 without one) */
	enum want want[ST__COUNT];
};

static const struct row rows[] = {
	{ "hello", "{\"t\":\"hello\",\"v\":" "5" ",\"pid\":1}", { OK, BROKE, BROKE, BROKE, IGNORED } },
	{ "collected", NULL, { BROKE, OK, BROKE, BROKE, IGNORED } },
	{ "start", "{\"t\":\"start\",\"i\":@}", { BROKE, BROKE, OK, BROKE, IGNORED } },
	{ "start out of range", "{\"t\":\"start\",\"i\":100000000}", { BROKE, BROKE, BROKE, BROKE, IGNORED } },
	{ "result", "{\"t\":\"result\",\"i\":@,\"outcome\":\"passed\",\"duration\":0.1}",
	  { BROKE, BROKE, BROKE, OK, IGNORED } },
	{ "result out of range", "{\"t\":\"result\",\"i\":-3,\"outcome\":\"passed\",\"duration\":0.1}",
	  { BROKE, BROKE, BROKE, BROKE, IGNORED } },
	{ "done", "{\"t\":\"done\"}", { BROKE, BROKE, OK, BROKE, IGNORED } },
	{ "crash of no test", "{\"t\":\"crash\",\"i\":-1,\"status\":1,\"signal\":0,\"reason\":\"x\"}",
	  { OK, OK, OK, OK, IGNORED } },
	{ "crash of its test", "{\"t\":\"crash\",\"i\":@,\"status\":139,\"signal\":11,\"reason\":\"x\"}",
	  { BROKE, BROKE, BROKE, OK, IGNORED } },
	{ "crash out of range", "{\"t\":\"crash\",\"i\":100000000,\"status\":1,\"signal\":0,\"reason\":\"x\"}",
	  { BROKE, BROKE, BROKE, BROKE, IGNORED } },
	{ "exit", "{\"t\":\"exit\",\"status\":0}", { OK, OK, OK, OK, IGNORED } },
	{ "error", "{\"t\":\"error\",\"message\":\"no\"}", { FATAL, BROKE, BROKE, BROKE, IGNORED } },
	/* An event is opaque to the ledger, forwarded by the loop; before
	 * hello there is no session whose event it could be. */
	{ "ev (for the controller)", "{\"t\":\"ev\",\"e\":\"logreport\",\"d\":{\"nodeid\":\"t.py::a\"}}",
	  { BROKE, KEPT, KEPT, KEPT, IGNORED } },
	{ "input (the controller's)", "{\"t\":\"input\",\"w\":\"gw0\",\"input\":{}}",
	  { BROKE, BROKE, BROKE, BROKE, IGNORED } },
	{ "stderr (the controller's)", "{\"t\":\"stderr\",\"text\":\"x\"}", { BROKE, BROKE, BROKE, BROKE, IGNORED } },
};

static void
check_row(const struct row *row, enum st st)
{
	struct fix f;
	long t;
	int rc;
	enum ledger_state before;
	long current_before;
	size_t crashed = 0, crashed_before = 0, ngiven_before, queued_before, failures_before;

	fix_open(&f, SCHED_LOAD, 0, 0);
	bring(&f, st);
	t = f.l.w[0].ngiven ? (long)f.l.w[0].given[0] : 0;
	before = f.l.w[0].state;
	current_before = f.l.w[0].current;
	ngiven_before = f.l.w[0].ngiven;
	queued_before = f.out[0].len;
	failures_before = f.l.failures;
	for (size_t i = 0; i < f.rep.ntests; i++)
		crashed_before += f.rep.tests[i].outcome == OUTCOME_CRASHED;
	if (row->line) {
		char line[512];
		const char *at = strchr(row->line, '@');

		if (at)
			snprintf(line, sizeof(line), "%.*s%ld%s", (int)(at - row->line), row->line, t, at + 1);
		else
			snprintf(line, sizeof(line), "%s", row->line);
		rc = feed(&f, 0, line);
	} else {
		rc = feed(&f, 0, COLLECTED8);
	}
	for (size_t i = 0; i < f.rep.ntests; i++)
		crashed += f.rep.tests[i].outcome == OUTCOME_CRASHED;
	crashed -= crashed_before;
	print_message("%s in state %s\n", row->what, st_names[st]);
	switch (row->want[st]) {
	case OK:
		assert_int_equal(rc, 0);
		assert_null(f.l.fatal);
		assert_false(f.l.w[0].broken);
		break;
	case KEPT:
		assert_int_equal(rc, 0);
		assert_null(f.l.fatal);
		assert_false(f.l.w[0].broken);
		assert_false(f.l.stopping);
		assert_int_equal(f.l.w[0].state, before);
		assert_int_equal(f.l.w[0].current, current_before);
		assert_int_equal(f.l.w[0].ngiven, ngiven_before);
		assert_int_equal(f.out[0].len, queued_before);
		assert_int_equal(f.l.failures, failures_before);
		assert_int_equal(crashed, 0);
		break;
	case BROKE:
		assert_int_equal(rc, -1);
		assert_null(f.l.fatal);
		assert_true(f.l.w[0].broken);
		assert_int_equal(f.l.w[0].state, LEDGER_EXITED);
		assert_int_equal(f.l.w[0].ngiven, 0);
		/* The running test, and only that one, is crashed with a
		 * reason that says why. */
		assert_int_equal(crashed, st == ST_RUNNING ? 1 : 0);
		if (st == ST_RUNNING) {
			assert_non_null(strstr(f.rep.tests[t].longrepr, "gw0 broke the protocol"));
			assert_int_equal(f.rep.tests[t].worker, 0);
		}
		/* The tests it held go back: the run can still finish them. */
		assert_true(ledger_work_left(&f.l));
		break;
	case FATAL:
		assert_non_null(f.l.fatal);
		assert_int_equal(f.l.fatal->status, EXIT_INTERNAL);
		break;
	case IGNORED:
		assert_int_equal(rc, 0);
		assert_null(f.l.fatal);
		assert_int_equal(f.l.w[0].state, before);
		assert_int_equal(crashed, 0);
		break;
	}
	fix_close(&f);
}

static void
test_every_message_in_every_state(void **state)
{
	(void)state;
	assert_int_equal(PROTO_VERSION, 5); /* the hello row spells it */
	for (size_t r = 0; r < ARRAY_SIZE(rows); r++)
		for (int st = 0; st < ST__COUNT; st++)
			check_row(&rows[r], (enum st)st);
}

/* The kinds that move a worker on, and where to. */
static void
test_states_move(void **state)
{
	struct fix f;
	long t;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	assert_int_equal(f.l.w[0].state, LEDGER_STARTED);
	hello(&f, 0);
	assert_int_equal(f.l.w[0].state, LEDGER_READY);
	assert_int_equal(feed(&f, 0, COLLECTED8), 0);
	assert_int_equal(f.l.w[0].state, LEDGER_COLLECTED);
	assert_true(f.l.have_collection);
	assert_int_equal(f.rep.ntests, 8);
	/* A run line was queued for it. */
	assert_non_null(memmem(f.out[0].data, f.out[0].len, "{\"t\":\"run\",\"i\":[", 16));
	t = first_given(&f, 0);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":%ld}", t), 0);
	assert_int_equal(f.l.w[0].current, t);
	assert_int_equal(result(&f, 0, t, "passed"), 0);
	assert_int_equal(f.l.w[0].current, -1);
	assert_int_equal(f.rep.tests[t].outcome, OUTCOME_PASSED);
	assert_int_equal(f.rep.workers[0].tests, 1);
	/* The same result again: that test is no longer running there. */
	assert_int_equal(result(&f, 0, t, "failed"), -1);
	assert_int_equal(f.rep.tests[t].outcome, OUTCOME_PASSED);
	fix_close(&f);
}

/* A result for a test given to another worker, a start of one never
 * given: broken, and the other worker's test is untouched. */
static void
test_other_workers_test(void **state)
{
	struct fix f;
	long t1;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	collect(&f, 0);
	collect(&f, 1);
	t1 = first_given(&f, 1);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":%ld}", t1), -1);
	assert_int_equal(f.rep.tests[t1].outcome, OUTCOME_NONE);
	assert_int_equal(feedf(&f, 1, "{\"t\":\"start\",\"i\":%ld}", t1), 0);
	assert_int_equal(result(&f, 1, t1, "passed"), 0);
	assert_int_equal(f.rep.tests[t1].outcome, OUTCOME_PASSED);
	fix_close(&f);
}

/* Before any collection, a broken worker stops the run: there is nothing
 * to replace it for. */
static void
test_broken_before_collection_is_fatal(void **state)
{
	struct fix f;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	hello(&f, 0);
	assert_int_equal(result(&f, 0, 0, "passed"), -1);
	assert_non_null(f.l.fatal);
	assert_non_null(strstr(f.l.fatal->msg, "broke the protocol"));
	fix_close(&f);
}

/* Collection errors, as under pytest-xdist: the tests that were collected
 * still run, and the errors count as failures for -x/--maxfail. */
static void
test_collection_errors_do_not_stop(void **state)
{
	static const char collected[] = "{\"t\":\"collected\",\"items\":[{\"id\":\"t.py::a\",\"file\":\"t.py\","
					"\"group\":null}],\"errors\":[\"ERROR collecting x.py\"]}";
	struct fix f;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	hello(&f, 0);
	assert_int_equal(feed(&f, 0, collected), 0);
	assert_false(f.l.stopping);
	assert_non_null(f.l.sched);
	assert_int_equal(f.rep.ncollect_errors, 1);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":0}"), 0);
	assert_int_equal(result(&f, 0, 0, "passed"), 0);
	assert_int_equal(f.rep.tests[0].outcome, OUTCOME_PASSED);
	assert_false(f.l.maxfail_hit);
	fix_close(&f);

	/* -x: the error is the first failure; nothing is handed out. */
	fix_open(&f, SCHED_LOAD, 0, 1);
	hello(&f, 0);
	assert_int_equal(feed(&f, 0, collected), 0);
	assert_true(f.l.stopping);
	assert_true(f.l.maxfail_hit);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":0}"), -1);
	assert_int_equal(f.rep.tests[0].outcome, OUTCOME_NONE);
	fix_close(&f);
}

static void
test_version_and_collection_mismatch_are_fatal(void **state)
{
	struct fix f;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	assert_int_equal(feed(&f, 0, "{\"t\":\"hello\",\"v\":999,\"pid\":1}"), 0);
	assert_non_null(f.l.fatal);
	assert_non_null(strstr(f.l.fatal->msg, "protocol 999"));
	fix_close(&f);

	fix_open(&f, SCHED_LOAD, 0, 0);
	collect(&f, 0);
	hello(&f, 1);
	assert_int_equal(feed(&f, 1, "{\"t\":\"collected\",\"items\":[{\"id\":\"t.py::z\",\"file\":\"t.py\","
				    "\"group\":null}],\"errors\":[]}"),
			 0);
	assert_non_null(f.l.fatal);
	assert_non_null(strstr(f.l.fatal->msg, "different tests were collected"));
	fix_close(&f);
}

/* A stream that ends: the running test crashed with the reason given;
 * before any collection the run stops. */
static void
test_worker_gone(void **state)
{
	struct fix f;
	long t;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	collect(&f, 0);
	t = first_given(&f, 0);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":%ld}", t), 0);
	ledger_worker_gone(&f.l, 0, "OOM killed", "tail", 0);
	assert_int_equal(f.rep.tests[t].outcome, OUTCOME_CRASHED);
	assert_string_equal(f.rep.tests[t].longrepr, "OOM killed");
	assert_int_equal(f.l.w[0].state, LEDGER_EXITED);
	/* Said twice (the stream's end after exit): once only. */
	ledger_worker_gone(&f.l, 0, "again", NULL, 0);
	assert_string_equal(f.rep.tests[t].longrepr, "OOM killed");
	fix_close(&f);

	fix_open(&f, SCHED_LOAD, 0, 0);
	ledger_worker_gone(&f.l, 1, "container exited with exit code 1", "ImportError", 0);
	assert_non_null(f.l.fatal);
	assert_non_null(strstr(f.l.fatal->msg, "agent said: ImportError"));
	fix_close(&f);
}

/* exit before collection with pytest's status: the run's exit code and
 * the line that says what went wrong. */
static void
test_exit_before_collection(void **state)
{
	struct fix f;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	hello(&f, 0);
	assert_int_equal(feed(&f, 0, "{\"t\":\"exit\",\"status\":4,\"output\":\"usage\\nERROR: file not found: x\\n\"}"),
			 0);
	assert_non_null(f.l.fatal);
	assert_int_equal(f.l.fatal->status, 4);
	assert_non_null(strstr(f.l.fatal->msg, ": ERROR: file not found: x"));
	/* The loop then waits for the controller's own words. */
	assert_true(f.l.early_exit);
	fix_close(&f);
}

/* The agent follows a crash with its exit line: pytest's usage error
 * before collection still stops the run with pytest's status. */
static void
test_exit_after_crash(void **state)
{
	struct fix f;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	hello(&f, 0);
	assert_int_equal(feed(&f, 0, "{\"t\":\"crash\",\"i\":-1,\"status\":4,\"signal\":0,\"reason\":\"r\"}"), 0);
	assert_int_equal(f.l.w[0].state, LEDGER_EXITED);
	assert_int_equal(feed(&f, 0, "{\"t\":\"exit\",\"status\":4,\"output\":\"ERROR: unrecognized arguments\"}"), 0);
	assert_non_null(f.l.fatal);
	assert_int_equal(f.l.fatal->status, 4);
	/* Nothing after the exit line is heard. */
	assert_int_equal(feed(&f, 0, "{\"t\":\"exit\",\"status\":0}"), 0);
	assert_int_equal(feed(&f, 0, "{\"t\":\"hello\",\"v\":5,\"pid\":1}"), 0);
	assert_int_equal(f.l.w[0].state, LEDGER_EXITED);
	fix_close(&f);
}

/* -x: the first failure stops every worker and what was never sent is
 * not run, with the reason. */
static void
test_maxfail(void **state)
{
	struct fix f;
	long t;
	size_t notrun = 0;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 1);
	collect(&f, 0);
	t = first_given(&f, 0);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":%ld}", t), 0);
	assert_int_equal(result(&f, 0, t, "failed"), 0);
	assert_true(f.l.maxfail_hit);
	assert_non_null(memmem(f.out[0].data, f.out[0].len, "{\"t\":\"stop\"}", 12));
	ledger_finish(&f.l, 2000);
	for (size_t i = 0; i < f.rep.ntests; i++)
		if (f.rep.tests[i].outcome == OUTCOME_NONE) {
			notrun++;
			assert_non_null(strstr(f.rep.tests[i].reason, "stopped after 1 failure (-x/--maxfail)"));
		}
	assert_int_equal(notrun, 7);
	fix_close(&f);
}

/* --reruns 1: a failure waits for another round; the round schedules it. */
static void
test_reruns(void **state)
{
	struct fix f;
	long t;

	(void)state;
	fix_open(&f, SCHED_LOAD, 1, 0);
	collect(&f, 0);
	t = first_given(&f, 0);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":%ld}", t), 0);
	assert_int_equal(result(&f, 0, t, "failed"), 0);
	assert_int_equal(f.rep.tests[t].outcome, OUTCOME_NONE);
	assert_int_equal(f.rep.tests[t].nattempts, 1);
	assert_int_equal(f.l.nreruns, 1);
	for (size_t i = 0; i < NW; i++)
		ledger_worker_idle(&f.l, i);
	assert_int_equal(ledger_rerun_round(&f.l), 1);
	ledger_worker_started(&f.l, 0, &f.out[0], 0);
	ledger_admit(&f.l, 0);
	f.out[0].len = 0;
	collect(&f, 0);
	assert_int_equal(f.l.w[0].ngiven, 1);
	assert_int_equal(first_given(&f, 0), t);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":%ld}", t), 0);
	assert_int_equal(result(&f, 0, t, "passed"), 0);
	assert_int_equal(f.rep.tests[t].outcome, OUTCOME_PASSED);
	assert_true(f.rep.tests[t].flaky);
	fix_close(&f);
}

/* --dist each: both workers run test 0; the worst outcome stands and both
 * count it. */
static void
test_dist_each(void **state)
{
	struct fix f;

	(void)state;
	fix_open(&f, SCHED_EACH, 0, 0);
	collect(&f, 0);
	collect(&f, 1);
	for (size_t w = 0; w < NW; w++) {
		assert_int_equal(feedf(&f, w, "{\"t\":\"start\",\"i\":0}"), 0);
		assert_int_equal(result(&f, w, 0, w == 0 ? "passed" : "failed"), 0);
	}
	assert_int_equal(f.rep.tests[0].outcome, OUTCOME_FAILED);
	assert_int_equal(f.rep.tests[0].worker, 1);
	assert_int_equal(f.rep.workers[0].tests, 1);
	assert_int_equal(f.rep.workers[1].tests, 1);
	assert_int_equal(f.l.failures, 1);
	fix_close(&f);
}

/* What finish says of tests that never ran. */
static void
test_finish_reasons(void **state)
{
	struct fix f;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	collect(&f, 0);
	ledger_interrupt(&f.l);
	ledger_finish(&f.l, 3000);
	for (size_t i = 0; i < f.rep.ntests; i++)
		assert_string_equal(f.rep.tests[i].reason, "not run: interrupted");
	assert_true(f.rep.wall > 2.9 && f.rep.wall < 3.1);
	fix_close(&f);

	fix_open(&f, SCHED_LOAD, 0, 0);
	collect(&f, 0);
	ledger_abandon(&f.l, "not run: gave up");
	assert_true(f.l.stopping);
	ledger_finish(&f.l, 3000);
	for (size_t i = 0; i < f.rep.ntests; i++)
		assert_string_equal(f.rep.tests[i].reason, "not run: gave up");
	fix_close(&f);
}

/* Work put back by a lost worker after every other worker said bye. */
static void
test_work_orphaned(void **state)
{
	struct fix f;
	long t;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	collect(&f, 0);
	assert_false(ledger_work_orphaned(&f.l));
	t = first_given(&f, 0);
	assert_int_equal(feedf(&f, 0, "{\"t\":\"start\",\"i\":%ld}", t), 0);
	ledger_worker_gone(&f.l, 0, "killed", NULL, 0);
	ledger_worker_gone(&f.l, 1, "killed", NULL, 0);
	assert_true(ledger_work_left(&f.l));
	assert_true(ledger_work_orphaned(&f.l));
	fix_close(&f);
}

/* --collect-only: each worker's session says done without a bye and ends;
 * the tests it never ran are nobody's lost work, so no replacement. */
static void
test_collect_only_orphans_nothing(void **state)
{
	struct fix f;

	(void)state;
	fix_open(&f, SCHED_LOAD, 0, 0);
	for (size_t i = 0; i < NW; i++)
		collect(&f, i);
	for (size_t i = 0; i < NW; i++) {
		assert_false(f.l.w[i].bye_sent);
		assert_int_equal(feedf(&f, i, "{\"t\":\"done\"}"), 0);
		ledger_worker_gone(&f.l, i, "exited", NULL, 0);
	}
	assert_true(ledger_work_left(&f.l));
	assert_false(ledger_work_orphaned(&f.l));
	fix_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_in_every_state),
		cmocka_unit_test(test_states_move),
		cmocka_unit_test(test_other_workers_test),
		cmocka_unit_test(test_broken_before_collection_is_fatal),
		cmocka_unit_test(test_collection_errors_do_not_stop),
		cmocka_unit_test(test_version_and_collection_mismatch_are_fatal),
		cmocka_unit_test(test_worker_gone),
		cmocka_unit_test(test_exit_before_collection),
		cmocka_unit_test(test_exit_after_crash),
		cmocka_unit_test(test_maxfail),
		cmocka_unit_test(test_reruns),
		cmocka_unit_test(test_dist_each),
		cmocka_unit_test(test_finish_reasons),
		cmocka_unit_test(test_work_orphaned),
		cmocka_unit_test(test_collect_only_orphans_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
