/* shard.c: the K/M parser, and the split itself: every test in exactly
 * one shard across K = 1..M, the same split whatever the collection order,
 * balance within the longest unit, with full, partial and no history, and
 * grouped units that never split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "shard.h"

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717u;
}

static double
rnd_unit(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* A suite of n tests; durations lognormal, `unknown_pct` percent without
 * history; every `group_every`-th test in one of 5 groups (0: none). */
struct suite {
	char **ids;
	const char **groups;
	double *exp;
	size_t n;
};

static const char *const group_names[] = { "db", "cache", "net", "slow", "io" };

static void
suite_make(struct suite *su, size_t n, int unknown_pct, size_t group_every, uint64_t seed)
{
	su->n = n;
	su->ids = calloc(n + 1, sizeof(*su->ids));
	su->groups = calloc(n + 1, sizeof(*su->groups));
	su->exp = calloc(n + 1, sizeof(*su->exp));
	for (size_t i = 0; i < n; i++) {
		double u1 = rnd_unit(&seed) + 1e-12, u2 = rnd_unit(&seed);
		double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);

		su->ids[i] = xasprintf("tests/test_%02zu.py::test_%zu", i % 13, i);
		su->exp[i] = (int)(rnd(&seed) % 100) < unknown_pct ? -1 : exp(-3 + 1.5 * z);
		if (group_every && i % group_every == 0)
			su->groups[i] = group_names[rnd(&seed) % 5];
	}
}

static void
suite_free(struct suite *su)
{
	for (size_t i = 0; i < su->n; i++)
		free(su->ids[i]);
	free(su->ids);
	free(su->groups);
	free(su->exp);
}

/* ---- the parser ----------------------------------------------------------- */

static void
test_parse(void **state)
{
	static const char *const bad[] = {
		"", "1", "0/3", "4/3", "a/b", "1/", "/2", "1/2x", "-1/2", " 1/2", "1/ 2", "+1/2",
		"1/0", "1/10001", "1//2", "1/2/3", "99999999999999999999999/2", "1.0/2",
	};
	struct shard_spec sp;

	(void)state;
	assert_int_equal(shard_parse("1/1", &sp, NULL), 0);
	assert_int_equal(sp.k, 1);
	assert_int_equal(sp.m, 1);
	assert_int_equal(shard_parse("3/4", &sp, NULL), 0);
	assert_int_equal(sp.k, 3);
	assert_int_equal(sp.m, 4);
	assert_int_equal(shard_parse("10000/10000", &sp, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error *e = NULL;

		if (shard_parse(bad[i], &sp, &e) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_non_null(e);
		assert_int_equal(e->status, EXIT_USAGE);
		assert_non_null(strstr(e->msg, "--shard"));
		error_free(e);
	}
}

/* ---- exact LPT ------------------------------------------------------------ */

static void
test_lpt_exact(void **state)
{
	/* Collection order scrambled on purpose; LPT sees 5, 4, 3a, 3b, 3c. */
	const char *ids[] = { "t::c3", "t::a5", "t::b3", "t::d4", "t::a3" };
	const double exp[] = { 3, 5, 3, 4, 3 };
	size_t bin[5], keep[5], n;
	struct shard_spec sp = { 1, 2 };

	(void)state;
	/* 5 -> s0; 4 -> s1; a3 -> s1 (7); b3 -> s0 (8); c3 -> s1 (10). */
	shard_assign(ids, exp, NULL, 5, 2, bin);
	assert_int_equal(bin[1], 0);
	assert_int_equal(bin[3], 1);
	assert_int_equal(bin[4], 1);
	assert_int_equal(bin[2], 0);
	assert_int_equal(bin[0], 1);
	n = shard_select(ids, exp, NULL, 5, &sp, keep);
	assert_int_equal(n, 2);
	assert_int_equal(keep[0], 1);
	assert_int_equal(keep[1], 2);

	/* m = 1 keeps everything, in collection order. */
	sp = (struct shard_spec){ 1, 1 };
	n = shard_select(ids, exp, NULL, 5, &sp, keep);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(keep[i], i);

	/* More shards than tests: the extra shards are empty, not broken. */
	sp = (struct shard_spec){ 7, 7 };
	assert_int_equal(shard_select(ids, exp, NULL, 5, &sp, keep), 0);
	shard_assign(ids, exp, NULL, 0, 3, bin);
}

static void
test_no_history_round_robin(void **state)
{
	/* Without history every test weighs the same: dealt round-robin in
	 * node id order, whatever the collection order. */
	const char *ids[] = { "t::e", "t::b", "t::g", "t::a", "t::d", "t::c", "t::f" };
	const double exp[] = { -1, -1, -1, -1, -1, -1, -1 };
	size_t bin[7];

	(void)state;
	shard_assign(ids, exp, NULL, 7, 3, bin);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(bin[i], (size_t)(ids[i][3] - 'a') % 3);
}

static void
test_unknown_goes_to_lightest(void **state)
{
	/* Known: 10 and 1, 1 on three shards; the unknown test counts as the
	 * median (1) and lands in the shard that is lightest at its turn. */
	const char *ids[] = { "t::big", "t::new", "t::s1", "t::s2" };
	const double exp[] = { 10, -1, 1, 1 };
	size_t bin[4];

	(void)state;
	shard_assign(ids, exp, NULL, 4, 3, bin);
	assert_int_equal(bin[0], 0);
	/* Ties at 1 s by node id: new, s1, s2 -> s1(0 load), s2(0 load), then s1 again. */
	assert_int_equal(bin[1], 1);
	assert_int_equal(bin[2], 2);
	assert_int_equal(bin[3], 1);
}

/* ---- properties on random suites ------------------------------------------ */

static void
check_properties(struct suite *su, size_t m, bool grouped)
{
	const char *const *groups = grouped ? su->groups : NULL;
	size_t *count = calloc(su->n + 1, sizeof(*count));
	size_t *bin = calloc(su->n + 1, sizeof(*bin));
	size_t *keep = calloc(su->n + 1, sizeof(*keep));
	double *load = calloc(m, sizeof(*load));
	double known[1024], fill = 1, longest_unit = 0, maxl = 0, minl = INFINITY;
	size_t nknown = 0;

	/* The same fill as shard.c: the (upper) median of the known. */
	for (size_t i = 0; i < su->n; i++)
		if (su->exp[i] >= 0)
			known[nknown++] = su->exp[i];
	if (nknown) {
		for (size_t a = 1; a < nknown; a++)
			for (size_t b = a; b > 0 && known[b - 1] > known[b]; b--) {
				double t = known[b];

				known[b] = known[b - 1];
				known[b - 1] = t;
			}
		fill = known[nknown / 2];
	}

	/* Coverage: K = 1..M together keep every test exactly once, and each
	 * keep list is ascending. */
	for (size_t k = 1; k <= m; k++) {
		struct shard_spec sp = { k, m };
		size_t n = shard_select((const char *const *)su->ids, su->exp, groups, su->n, &sp, keep);

		for (size_t j = 0; j < n; j++) {
			assert_true(keep[j] < su->n);
			if (j > 0)
				assert_true(keep[j - 1] < keep[j]);
			count[keep[j]]++;
		}
	}
	for (size_t i = 0; i < su->n; i++)
		if (count[i] != 1)
			fail_msg("test %zu kept by %zu shards of %zu", i, count[i], m);

	/* Balance: greedy into the lightest shard leaves no shard more than
	 * one unit heavier than another. */
	shard_assign((const char *const *)su->ids, su->exp, groups, su->n, m, bin);
	{
		double gcost[5] = { 0 };

		for (size_t i = 0; i < su->n; i++) {
			double c = su->exp[i] >= 0 ? su->exp[i] : fill;

			load[bin[i]] += c;
			if (groups && groups[i]) {
				for (size_t g = 0; g < 5; g++)
					if (groups[i] == group_names[g])
						gcost[g] += c;
			} else if (c > longest_unit) {
				longest_unit = c;
			}
		}
		for (size_t g = 0; g < 5; g++)
			if (gcost[g] > longest_unit)
				longest_unit = gcost[g];
	}
	for (size_t k = 0; k < m; k++) {
		maxl = load[k] > maxl ? load[k] : maxl;
		minl = load[k] < minl ? load[k] : minl;
	}
	if (su->n >= m && maxl - minl > longest_unit + 1e-9)
		fail_msg("m=%zu: shards %.3f..%.3f differ by more than the longest unit %.3f", m, minl, maxl,
			 longest_unit);

	/* Groups never split. */
	if (groups)
		for (size_t i = 0; i < su->n; i++)
			for (size_t j = i + 1; j < su->n && groups[i]; j++)
				if (groups[j] && strcmp(groups[i], groups[j]) == 0)
					assert_int_equal(bin[i], bin[j]);
	free(count);
	free(bin);
	free(keep);
	free(load);
}

static void
test_coverage_and_balance(void **state)
{
	static const size_t ms[] = { 1, 2, 3, 4, 7, 16, 50 };
	static const int unknown[] = { 0, 30, 100 };

	(void)state;
	for (size_t u = 0; u < 3; u++) {
		for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++) {
			struct suite su;

			suite_make(&su, 600, unknown[u], 0, 42 + mi);
			check_properties(&su, ms[mi], false);
			suite_free(&su);
			suite_make(&su, 600, unknown[u], 9, 4242 + mi);
			check_properties(&su, ms[mi], true);
			suite_free(&su);
		}
	}
}

/* The split must not depend on collection order: shuffle the suite, split
 * again, compare shard by node id. */
static void
test_deterministic_under_shuffle(void **state)
{
	enum { N = 2000, M = 6 };
	uint64_t seed = 7;

	(void)state;
	for (int grouped = 0; grouped < 2; grouped++) {
		struct suite su;
		size_t *bin1 = calloc(N, sizeof(size_t)), *bin2 = calloc(N, sizeof(size_t));
		size_t *bin3 = calloc(N, sizeof(size_t)), *perm = calloc(N, sizeof(size_t));
		const char **ids2 = calloc(N, sizeof(*ids2)), **groups2 = calloc(N, sizeof(*groups2));
		double *exp2 = calloc(N, sizeof(*exp2));

		suite_make(&su, N, 20, grouped ? 7 : 0, 99);
		shard_assign((const char *const *)su.ids, su.exp, grouped ? su.groups : NULL, N, M, bin1);
		/* Same input twice: same answer. */
		shard_assign((const char *const *)su.ids, su.exp, grouped ? su.groups : NULL, N, M, bin3);
		assert_memory_equal(bin1, bin3, N * sizeof(size_t));

		for (size_t i = 0; i < N; i++)
			perm[i] = i;
		for (size_t i = N - 1; i > 0; i--) {
			size_t j = (size_t)(rnd(&seed) % (i + 1)), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (size_t i = 0; i < N; i++) {
			ids2[i] = su.ids[perm[i]];
			groups2[i] = su.groups[perm[i]];
			exp2[i] = su.exp[perm[i]];
		}
		shard_assign(ids2, exp2, grouped ? groups2 : NULL, N, M, bin2);
		for (size_t i = 0; i < N; i++)
			if (bin2[i] != bin1[perm[i]])
				fail_msg("%s: shard %zu in collection order, %zu shuffled", ids2[i], bin1[perm[i]],
					 bin2[i]);
		suite_free(&su);
		free(bin1);
		free(bin2);
		free(bin3);
		free(perm);
		free(ids2);
		free(groups2);
		free(exp2);
	}
}

/* With history the split beats a naive one: a suite whose long tests
 * bunch up at the end of collection order. */
static void
test_history_beats_blind_split(void **state)
{
	enum { N = 400, M = 4 };
	char *ids[N];
	double exp[N], blind[N], load[M] = { 0 }, load_blind[M] = { 0 }, maxh = 0, maxb = 0;
	size_t bin[N];

	(void)state;
	for (size_t i = 0; i < N; i++) {
		ids[i] = xasprintf("tests/t.py::test_%03zu", i);
		/* Blind round-robin in id order would put all eight in
		 * one shard (i % 4 == 3). */
		exp[i] = i >= N - 32 && i % 4 == 3 ? 30.0 : 0.1;
		blind[i] = -1;
	}
	shard_assign((const char *const *)ids, exp, NULL, N, M, bin);
	for (size_t i = 0; i < N; i++)
		load[bin[i]] += exp[i];
	shard_assign((const char *const *)ids, blind, NULL, N, M, bin);
	for (size_t i = 0; i < N; i++)
		load_blind[bin[i]] += exp[i];
	for (size_t k = 0; k < M; k++) {
		maxh = load[k] > maxh ? load[k] : maxh;
		maxb = load_blind[k] > maxb ? load_blind[k] : maxb;
	}
	/* Total 279.2 s: perfect is 69.8 s; with history every shard gets
	 * two long tests. */
	assert_true(maxh < 69.8 + 0.1 + 1e-9);
	assert_true(maxh < maxb);
	for (size_t i = 0; i < N; i++)
		free(ids[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_lpt_exact),
		cmocka_unit_test(test_no_history_round_robin),
		cmocka_unit_test(test_unknown_goes_to_lightest),
		cmocka_unit_test(test_coverage_and_balance),
		cmocka_unit_test(test_deterministic_under_shuffle),
		cmocka_unit_test(test_history_beats_blind_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
