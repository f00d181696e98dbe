/* The ledger's hand-out: a worker that has collected gets no test before
 * it is admitted (its database exists), and then its first batch; the
 * refill rule (ledger_prefetch_target) keeps the floor for long or unknown
 * tests and sends short ones several to a `run` line. Driven with real
 * protocol lines through msg_decode, as the loop does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "ledger.h"
#include "msg.h"
#include "report.h"
#include "term.h"
#include "util.h"

#define NT 400

struct fixture {
	struct config cfg;
	struct report rep;
	struct term term;
	struct ledger l;
	struct buf out[2];
	FILE *devnull;
};

static void
feed(struct fixture *f, size_t wi, const char *line)
{
	struct msg m;
	struct error *err = NULL;

	if (msg_decode(line, strlen(line), &m, &err) < 0)
		fail_msg("msg_decode(%s): %s", line, err->msg);
	ledger_handle(&f->l, wi, &m, 0);
	msg_release(&m);
}

/* The collected line of NT trivial tests. */
static char *
collected_line(void)
{
	struct buf b;

	buf_init(&b, 1u << 20);
	buf_printf(&b, "{\"t\":\"collected\",\"items\":[");
	for (size_t i = 0; i < NT; i++)
		buf_printf(&b, "%s{\"id\":\"t.py::test_%zu\",\"file\":\"t.py\"}", i ? "," : "", i);
	buf_printf(&b, "],\"errors\":[]}");
	return b.data;
}

static void
setup_fixture(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	cli_defaults(&f->cfg);
	f->devnull = fopen("/dev/null", "w");
	term_init(&f->term, f->devnull, 0);
	f->rep.nworkers = 2;
	f->rep.workers = xcalloc(2, sizeof(*f->rep.workers));
	for (size_t i = 0; i < 2; i++) {
		snprintf(f->rep.workers[i].name, sizeof(f->rep.workers[i].name), "gw%zu", i);
		buf_init(&f->out[i], 1u << 20);
	}
	ledger_init(&f->l, &f->cfg, 2, &f->rep, &f->term, NULL, NULL, 0);
	for (size_t i = 0; i < 2; i++)
		ledger_worker_started(&f->l, i, &f->out[i], 0);
}

static void
teardown_fixture(struct fixture *f)
{
	ledger_release(&f->l);
	report_release(&f->rep);
	for (size_t i = 0; i < 2; i++)
		buf_release(&f->out[i]);
	fclose(f->devnull);
}

/* Indexes in the `run` lines queued in b (then emptied). */
static size_t
runs_queued(struct buf *b, size_t *lines)
{
	size_t n = 0;

	*lines = 0;
	for (char *p = b->data; p && (p = strstr(p, "{\"t\":\"run\",\"i\":[")); (*lines)++) {
		p += strlen("{\"t\":\"run\",\"i\":[");
		for (n++; *p && *p != ']'; p++)
			n += *p == ',';
	}
	buf_reset(b);
	return n;
}

static void
test_no_test_before_admission(void **state)
{
	struct fixture f;
	cleanup_free char *coll = collected_line();
	size_t lines;

	(void)state;
	setup_fixture(&f);
	feed(&f, 0, "{\"t\":\"hello\",\"v\":5,\"pid\":1}");
	feed(&f, 0, coll);
	feed(&f, 1, "{\"t\":\"hello\",\"v\":5,\"pid\":1}");
	feed(&f, 1, coll);
	/* Both collected while their databases were being made: nothing. */
	assert_int_equal(runs_queued(&f.out[0], &lines), 0);
	assert_int_equal(runs_queued(&f.out[1], &lines), 0);
	assert_null(strstr(f.out[0].data ? f.out[0].data : "", "bye"));
	/* gw1's clone is done first: it gets the floor, in one line. */
	ledger_admit(&f.l, 1);
	assert_int_equal(runs_queued(&f.out[1], &lines), LEDGER_PREFETCH);
	assert_int_equal(lines, 1);
	assert_int_equal(runs_queued(&f.out[0], &lines), 0);
	ledger_admit(&f.l, 0);
	assert_int_equal(runs_queued(&f.out[0], &lines), LEDGER_PREFETCH);
	teardown_fixture(&f);
}

/* Results of short tests: after LEDGER_MEAN_AFTER of them, a refill at two
 * in flight tops up to the cap, several tests to a line; long tests keep
 * one test per refill. */
static void
refills(double duration, size_t *tests, size_t *lines)
{
	struct fixture f;
	cleanup_free char *coll = collected_line();
	size_t next = 0, inflight, l;
	char line[160];

	setup_fixture(&f);
	feed(&f, 0, "{\"t\":\"hello\",\"v\":5,\"pid\":1}");
	feed(&f, 0, coll);
	ledger_admit(&f.l, 0);
	inflight = runs_queued(&f.out[0], &l);
	*tests = *lines = 0;
	/* gw0 runs in order; what it was sent is next .. next+inflight. */
	for (size_t k = 0; k < 200; k++) {
		size_t got;

		snprintf(line, sizeof(line), "{\"t\":\"start\",\"i\":%zu}", next);
		feed(&f, 0, line);
		snprintf(line, sizeof(line),
			 "{\"t\":\"result\",\"i\":%zu,\"outcome\":\"passed\",\"duration\":%.4f,\"when\":\"call\",\"longrepr\":\"\",\"stdout\":\"\",\"stderr\":\"\"}",
			 next, duration);
		feed(&f, 0, line);
		next++;
		inflight--;
		got = runs_queued(&f.out[0], &l);
		if (k >= 100) {
			*tests += got;
			*lines += l;
		}
		inflight += got;
		assert_true(inflight >= LEDGER_REFILL_AT);
		assert_true(inflight <= LEDGER_PREFETCH_MAX);
	}
	teardown_fixture(&f);
}

static void
test_short_tests_batched(void **state)
{
	size_t tests, lines;

	(void)state;
	refills(0.001, &tests, &lines);
	/* 100 results, as many tests sent again (give or take a batch), in
	 * lines of 6. */
	assert_true(tests + LEDGER_PREFETCH_MAX >= 100 && tests <= 100 + LEDGER_PREFETCH_MAX);
	if (lines * 5 > tests)
		fail_msg("short tests: %zu run lines for %zu tests", lines, tests);
	refills(0.5, &tests, &lines);
	assert_int_equal(tests, 100);
	assert_int_equal(lines, 100); /* one test per line: the floor */
}

static void
test_target(void **state)
{
	(void)state;
	assert_int_equal(ledger_prefetch_target(2000, 2, -1), LEDGER_PREFETCH);
	assert_int_equal(ledger_prefetch_target(2000, 2, 0.5), LEDGER_PREFETCH);
	assert_int_equal(ledger_prefetch_target(2000, 2, LEDGER_SHORT_TEST_S), LEDGER_PREFETCH);
	assert_int_equal(ledger_prefetch_target(20, 2, 0.001), LEDGER_PREFETCH);
	assert_int_equal(ledger_prefetch_target(10, 0, 0.001), LEDGER_PREFETCH);
	assert_int_equal(ledger_prefetch_target(2000, 2, 0.001), LEDGER_PREFETCH_MAX);
	assert_int_equal(ledger_prefetch_target(40, 2, 0.001), 5);
	assert_true(LEDGER_REFILL_AT < LEDGER_PREFETCH && LEDGER_PREFETCH_MAX <= LEDGER_BATCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_test_before_admission),
		cmocka_unit_test(test_short_tests_batched),
		cmocka_unit_test(test_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
