/* bisect.c: the ddmin search driven by a pure oracle (which prefix
 * subsets make the target fail), for one polluter anywhere, two that are
 * needed together, and a long prefix; replay's shell quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bisect.h"
#include "replay.h"
#include "util.h"

/* The target fails when every index of need[] ran before it. */
static bool
oracle(const size_t *set, size_t n, const size_t *need, size_t nneed)
{
	for (size_t k = 0; k < nneed; k++) {
		bool in = false;

		for (size_t i = 0; i < n; i++)
			in |= set[i] == need[k];
		if (!in)
			return false;
	}
	return true;
}

static size_t
search(size_t prefix, const size_t *need, size_t nneed, size_t *out, size_t *steps)
{
	struct bisect b;
	size_t n;

	bisect_init(&b, prefix);
	*steps = 0;
	while (bisect_candidates(&b)) {
		bool *failed = xcalloc(b.ncands, sizeof(*failed));

		for (size_t c = 0; c < b.ncands; c++) {
			/* Candidates keep the recorded order. */
			for (size_t k = 1; k < b.ncand[c]; k++)
				assert_true(b.cand[c][k - 1] < b.cand[c][k]);
			failed[c] = oracle(b.cand[c], b.ncand[c], need, nneed);
		}
		bisect_step(&b, failed);
		free(failed);
		(*steps)++;
		assert_true(*steps < 200);
	}
	n = b.ncur;
	memcpy(out, b.cur, n * sizeof(*out));
	bisect_release(&b);
	return n;
}

static void
test_one_polluter(void **state)
{
	size_t out[64], steps;

	(void)state;
	for (size_t prefix = 1; prefix <= 40; prefix++) {
		for (size_t p = 0; p < prefix; p++) {
			size_t need[1] = { p };

			assert_int_equal(search(prefix, need, 1, out, &steps), 1);
			assert_int_equal(out[0], p);
			/* Halving: about log2(prefix) steps of two candidates. */
			assert_true(steps <= 7);
		}
	}
}

static void
test_two_together(void **state)
{
	size_t out[64], steps;

	(void)state;
	for (size_t a = 0; a < 16; a++) {
		for (size_t b = a + 1; b < 16; b++) {
			size_t need[2] = { a, b };

			assert_int_equal(search(16, need, 2, out, &steps), 2);
			assert_int_equal(out[0], a);
			assert_int_equal(out[1], b);
		}
	}
}

static void
test_empty_prefix(void **state)
{
	struct bisect b;

	(void)state;
	bisect_init(&b, 0);
	assert_false(bisect_candidates(&b));
	assert_int_equal(b.ncur, 0);
	bisect_release(&b);
}

static void
test_shell_quote(void **state)
{
	char *q;

	(void)state;
	q = replay_shell_quote("tests/test_a.py::test_b");
	assert_string_equal(q, "tests/test_a.py::test_b");
	free(q);
	q = replay_shell_quote("t.py::test_p[a b]");
	assert_string_equal(q, "'t.py::test_p[a b]'");
	free(q);
	q = replay_shell_quote("t.py::test_p[it's $HOME]");
	assert_string_equal(q, "'t.py::test_p[it'\\''s $HOME]'");
	free(q);
	q = replay_shell_quote("");
	assert_string_equal(q, "''");
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_polluter),
		cmocka_unit_test(test_two_together),
		cmocka_unit_test(test_empty_prefix),
		cmocka_unit_test(test_shell_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
