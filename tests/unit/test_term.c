/* term.c: what the user sees, written to a tmpfile and read back: dots
 * with the percentage column, -v lines, failure sections, the short
 * summary and the final rule with the summary line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "term.h"

struct fixture {
	struct report r;
	FILE *f;
	struct term t;
};

static void
add(struct report *r, const char *id, enum outcome o, int worker)
{
	struct report_test *t;

	r->tests = xrealloc(r->tests, (r->ntests + 1) * sizeof(*r->tests));
	t = &r->tests[r->ntests++];
	memset(t, 0, sizeof(*t));
	t->id = xstrdup(id);
	t->outcome = o;
	t->worker = worker;
}

static void
fixture_init(struct fixture *fx, int verbose, size_t nworkers)
{
	memset(fx, 0, sizeof(*fx));
	fx->f = tmpfile();
	assert_non_null(fx->f);
	fx->r.workers = xcalloc(nworkers, sizeof(*fx->r.workers));
	fx->r.nworkers = nworkers;
	for (size_t i = 0; i < nworkers; i++)
		snprintf(fx->r.workers[i].name, sizeof(fx->r.workers[i].name), "gw%u", (unsigned)(i % 1000));
	term_init(&fx->t, fx->f, verbose);
}

/* Everything written so far (caller frees). */
static char *
output(struct fixture *fx)
{
	long n;
	char *s;

	fflush(fx->f);
	n = ftell(fx->f);
	assert_true(n >= 0);
	s = xmalloc((size_t)n + 1);
	rewind(fx->f);
	assert_int_equal(fread(s, 1, (size_t)n, fx->f), (size_t)n);
	s[n] = '\0';
	return s;
}

static void
fixture_release(struct fixture *fx)
{
	fclose(fx->f);
	report_release(&fx->r);
}

static void
expect_in(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("expected to find \"%s\" in:\n%s", needle, hay);
}

/* The line of out that contains needle (caller frees), or fail. */
static char *
line_with(const char *out, const char *needle)
{
	const char *p = strstr(out, needle), *b, *e;

	if (!p)
		fail_msg("no line with \"%s\" in:\n%s", needle, out);
	for (b = p; b > out && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	return xstrndup(b, e ? (size_t)(e - b) : strlen(b));
}

static void
test_progress_dots(void **state)
{
	struct fixture fx;
	static const enum outcome o[] = { OUTCOME_PASSED, OUTCOME_FAILED, OUTCOME_ERROR, OUTCOME_SKIPPED,
					  OUTCOME_XFAILED, OUTCOME_XPASSED, OUTCOME_CRASHED, OUTCOME_TIMEOUT };
	char *out, want[128];

	(void)state;
	fixture_init(&fx, 0, 2);
	for (size_t i = 0; i < ARRAY_SIZE(o); i++)
		add(&fx.r, "tests/test_a.py::t", o[i], (int)(i % 2));
	fx.t.total = ARRAY_SIZE(o);
	for (size_t i = 0; i < ARRAY_SIZE(o); i++)
		term_progress(&fx.t, &fx.r, i);
	out = output(&fx);
	assert_string_equal(out, ".FEsxXCT"); /* the line stays open */
	free(out);
	fx.r.wall = 0.12;
	term_finish(&fx.t, &fx.r);
	out = output(&fx);
	/* 68 progress columns, then " [100%]": pytest's right edge. */
	snprintf(want, sizeof(want), ".FEsxXCT%*s [100%%]\n", 68 - 8, "");
	assert_memory_equal(out, want, strlen(want));
	free(out);
	fixture_release(&fx);
}

static void
test_progress_wraps(void **state)
{
	struct fixture fx;
	char *out, *l;

	(void)state;
	fixture_init(&fx, 0, 1);
	for (size_t i = 0; i < 70; i++)
		add(&fx.r, "t.py::x", OUTCOME_PASSED, 0);
	fx.t.total = 70;
	for (size_t i = 0; i < 70; i++)
		term_progress(&fx.t, &fx.r, i);
	/* A line written meanwhile first closes the dots with their
	 * percentage. */
	term_line(&fx.t, "note %d", 7);
	out = output(&fx);
	l = line_with(out, "[ 97%]");
	assert_int_equal(strlen(l), 68 + 7);
	assert_int_equal(strspn(l, "."), 68);
	free(l);
	l = line_with(out, "[100%]");
	{
		char want[128];

		snprintf(want, sizeof(want), "..%*s [100%%]", 66, "");
		assert_string_equal(l, want);
	}
	free(l);
	expect_in(out, "[100%]\nnote 7\n");
	free(out);
	fixture_release(&fx);
}

static void
test_progress_verbose(void **state)
{
	struct fixture fx;
	char *out;

	(void)state;
	fixture_init(&fx, 1, 3);
	add(&fx.r, "tests/test_a.py::TestC::test_x[1]", OUTCOME_PASSED, 0);
	add(&fx.r, "tests/test_a.py::test_f", OUTCOME_FAILED, 2);
	add(&fx.r, "tests/test_b.py::test_s", OUTCOME_SKIPPED, 1);
	add(&fx.r, "tests/test_b.py::test_n", OUTCOME_XFAILED, 1);
	fx.t.total = 4;
	for (size_t i = 0; i < 4; i++)
		term_progress(&fx.t, &fx.r, i);
	out = output(&fx);
	assert_string_equal(out, "[gw0] [ 25%] PASSED tests/test_a.py::TestC::test_x[1]\n"
				 "[gw2] [ 50%] FAILED tests/test_a.py::test_f\n"
				 "[gw1] [ 75%] SKIPPED tests/test_b.py::test_s\n"
				 "[gw1] [100%] XFAIL tests/test_b.py::test_n\n");
	free(out);
	fixture_release(&fx);

	/* -q: no progress at all. */
	fixture_init(&fx, -1, 1);
	add(&fx.r, "t.py::a", OUTCOME_PASSED, 0);
	fx.t.total = 1;
	term_progress(&fx.t, &fx.r, 0);
	out = output(&fx);
	assert_string_equal(out, "");
	free(out);
	fixture_release(&fx);
}

static void
test_finish(void **state)
{
	struct fixture fx;
	char *out, *l;

	(void)state;
	fixture_init(&fx, 0, 2);
	add(&fx.r, "tests/test_a.py::test_ok", OUTCOME_PASSED, 0);
	add(&fx.r, "tests/test_a.py::test_bad", OUTCOME_FAILED, 1);
	fx.r.tests[1].longrepr = xstrdup("    def test_bad():\n>       assert 1 == 2\nE       assert 1 == 2\n\ntests/test_a.py:5: AssertionError");
	fx.r.tests[1].out = xstrdup("hello from the test");
	fx.r.tests[1].err = xstrdup("warned\n");
	add(&fx.r, "tests/test_a.py::test_exc", OUTCOME_FAILED, 0);
	fx.r.tests[2].longrepr = xstrdup(">       raise Exception('boom')\nE       Exception: boom\n");
	add(&fx.r, "tests/test_b.py::test_fix", OUTCOME_ERROR, 0);
	fx.r.tests[3].when = xstrdup("setup");
	fx.r.tests[3].longrepr = xstrdup("E       fixture 'db' not found");
	add(&fx.r, "tests/test_b.py::test_td", OUTCOME_ERROR, 1);
	fx.r.tests[4].when = xstrdup("teardown");
	fx.r.tests[4].longrepr = xstrdup("E   RuntimeError: cleanup failed");
	add(&fx.r, "tests/test_c.py::test_boom", OUTCOME_CRASHED, 1);
	fx.r.tests[5].longrepr = xstrdup("worker gw1 crashed while running this test: Segmentation fault");
	add(&fx.r, "tests/test_c.py::test_later", OUTCOME_NONE, -1);
	fx.r.tests[6].reason = xstrdup("not run: stopped after 1 failure");
	add(&fx.r, "tests/test_c.py::test_skip", OUTCOME_SKIPPED, 0);
	fx.r.tests[7].longrepr = xstrdup("skipped: no network");
	fx.r.wall = 3.5;
	fx.t.total = 8;
	for (size_t i = 0; i < 8; i++)
		term_progress(&fx.t, &fx.r, i);
	term_finish(&fx.t, &fx.r);
	out = output(&fx);

	l = line_with(out, " FAILURES ");
	assert_int_equal(strlen(l), 80);
	assert_int_equal(strspn(l, "="), 35);
	free(l);
	l = line_with(out, " tests/test_a.py::test_bad [gw1] ");
	assert_int_equal(l[0], '_');
	assert_int_equal(strlen(l), 80);
	free(l);
	expect_in(out, "E       assert 1 == 2\n\ntests/test_a.py:5: AssertionError\n");
	expect_in(out, " Captured stdout ");
	expect_in(out, "hello from the test\n"); /* newline added */
	expect_in(out, " Captured stderr ");
	expect_in(out, "warned\n");
	assert_null(strstr(out, "warned\n\n"));
	expect_in(out, " ERROR at setup of tests/test_b.py::test_fix [gw0] ");
	expect_in(out, " ERROR at teardown of tests/test_b.py::test_td [gw1] ");
	/* Passed, skipped and not-run tests get no failure section. */
	assert_null(strstr(out, "_ tests/test_a.py::test_ok"));
	assert_null(strstr(out, "_ tests/test_c.py::test_skip"));

	l = line_with(out, " short test summary info ");
	assert_int_equal(strlen(l), 80);
	free(l);
	expect_in(out, "\nFAILED tests/test_a.py::test_bad - assert 1 == 2\n");
	expect_in(out, "\nFAILED tests/test_a.py::test_exc - Exception: boom\n");
	expect_in(out, "\nERROR tests/test_b.py::test_fix - fixture 'db' not found\n");
	expect_in(out, "\nERROR tests/test_b.py::test_td - RuntimeError: cleanup failed\n");
	expect_in(out, "\nCRASHED tests/test_c.py::test_boom - worker gw1 crashed while running this test: "
		       "Segmentation fault\n");
	expect_in(out, "\nNOT RUN tests/test_c.py::test_later - not run: stopped after 1 failure\n");
	assert_null(strstr(out, "test_ok -"));

	/* The last line: the summary inside a rule of '='. */
	l = line_with(out, " in 3.50s ");
	/* 70 characters of title + 2 spaces: 4 '=' each side. */
	assert_string_equal(l, "==== 2 failed, 1 passed, 1 skipped, 2 errors, 1 crashed, 1 not run in 3.50s ====");
	{
		char *tail = xasprintf("%s\n", l); /* it is the very last line */

		assert_string_equal(out + strlen(out) - strlen(tail), tail);
		free(tail);
	}
	free(l);
	free(out);
	fixture_release(&fx);
}

static void
test_finish_all_passed(void **state)
{
	struct fixture fx;
	char *out, *l, *want, *summary_rule;

	(void)state;
	fixture_init(&fx, 1, 1);
	add(&fx.r, "t.py::a", OUTCOME_PASSED, 0);
	add(&fx.r, "t.py::b", OUTCOME_PASSED, 0);
	fx.r.wall = 0.25;
	fx.t.total = 2;
	term_progress(&fx.t, &fx.r, 0);
	term_progress(&fx.t, &fx.r, 1);
	term_finish(&fx.t, &fx.r);
	out = output(&fx);
	assert_null(strstr(out, "FAILURES"));
	assert_null(strstr(out, "short test summary"));
	expect_in(out, "[gw0] [100%] PASSED t.py::b\n");
	l = line_with(out, "2 passed in 0.25s");
	/* Centred: 80 wide, title with one space each side. */
	/* 17 + 2 = 19 wide: 30 '=' on the left, the odd one on the right. */
	summary_rule = xasprintf("%.*s 2 passed in 0.25s %.*s", 30, "===============================", 31,
				 "===============================");
	assert_string_equal(l, summary_rule);
	assert_int_equal(strlen(l), 80);
	want = xasprintf("[gw0] [ 50%%] PASSED t.py::a\n[gw0] [100%%] PASSED t.py::b\n%s\n", summary_rule);
	assert_string_equal(out, want);
	free(want);
	free(summary_rule);
	free(l);
	free(out);
	fixture_release(&fx);
}

static void
test_finish_collection_errors(void **state)
{
	struct fixture fx;
	char *out, *l;

	(void)state;
	fixture_init(&fx, 0, 1);
	fx.r.collect_errors = xcalloc(1, sizeof(char *));
	fx.r.collect_errors[0] = xstrdup("ImportError while importing test module 'tests/test_x.py'.");
	fx.r.ncollect_errors = 1;
	fx.r.wall = 1;
	term_finish(&fx.t, &fx.r);
	out = output(&fx);
	l = line_with(out, " ERRORS ");
	assert_int_equal(strspn(l, "="), 36);
	free(l);
	expect_in(out, " ERROR collecting ");
	expect_in(out, "ImportError while importing test module 'tests/test_x.py'.\n");
	l = line_with(out, "1 error during collection in 1.00s");
	assert_int_equal(l[0], '=');
	free(l);
	free(out);
	fixture_release(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_dots),
		cmocka_unit_test(test_progress_wraps),
		cmocka_unit_test(test_progress_verbose),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_finish_all_passed),
		cmocka_unit_test(test_finish_collection_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
