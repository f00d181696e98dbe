/* sched.c: every mode driven through simulated runs (fixed-seed random
 * interleavings of dispatch and completion, lost workers, cancels) with
 * exactly-once, prefetch and unit-integrity checks, plus exact scenarios
 * for ordering, stealing and the finished/done predicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched.h"
#include "util.h"

#define NONE ((size_t)-1)

static const enum sched_mode all_modes[] = {
	SCHED_LOAD, SCHED_LOADSCOPE, SCHED_LOADFILE, SCHED_LOADGROUP, SCHED_WORKSTEAL, SCHED_EACH, SCHED_NO,
};

/* xorshift64*: a fixed seed makes every "random" run reproducible. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717u;
}

static size_t
rnd_below(uint64_t *s, size_t n)
{
	return n ? (size_t)(rnd(s) % n) : 0;
}

/* ---- a suite: tests plus the unit each must stay in ------------------- */

struct suite {
	struct sched_test *t;
	size_t n;
	size_t *unit;   /* expected unit of each test for the mode, by construction */
	size_t nunits;
	char **strings; /* owned storage for ids, files and groups */
	size_t nstrings;
	enum sched_order order; /* what known durations may do (sim_init) */
};

static const char *
suite_str(struct suite *su, char *s)
{
	/* Doubling: ASan's realloc always copies, one-by-one is quadratic. */
	if ((su->nstrings & (su->nstrings - 1)) == 0)
		su->strings = realloc(su->strings, (su->nstrings ? 2 * su->nstrings : 1) * sizeof(*su->strings));
	su->strings[su->nstrings++] = s;
	return s;
}

static void
suite_free(struct suite *su)
{
	for (size_t i = 0; i < su->nstrings; i++)
		free(su->strings[i]);
	free(su->strings);
	free(su->t);
	free(su->unit);
	memset(su, 0, sizeof(*su));
}

static char *
fmt(const char *f, ...) PRINTF_LIKE(1, 2);

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	assert_true(vasprintf(&s, f, ap) >= 0);
	va_end(ap);
	return s;
}

/* n tests for `mode`, with units whose boundaries the mode must honour:
 * loadscope: classes and module-level functions, parameter ids that hold
 * "::" inside brackets, tests of one unit scattered in collection order;
 * loadfile: files; loadgroup: xdist_group marks, scattered, and unmarked
 * tests (each its own unit). Other modes: one unit per test. */
static void
suite_make(struct suite *su, enum sched_mode mode, size_t n, uint64_t seed)
{
	size_t nunits = n / 4 + 1;

	memset(su, 0, sizeof(*su));
	su->n = n;
	su->t = calloc(n ? n : 1, sizeof(*su->t));
	su->unit = calloc(n ? n : 1, sizeof(*su->unit));
	for (size_t i = 0; i < n; i++) {
		size_t u = rnd_below(&seed, nunits);
		size_t file = u / 3;
		struct sched_test *t = &su->t[i];

		t->expected = -1;
		t->file = suite_str(su, fmt("tests/sub/test_f%zu.py", file));
		switch (mode) {
		case SCHED_LOADSCOPE:
			/* Unit u: class C<u> in file u/3 when u is odd, else the
			 * module-level functions of a file of its own. */
			if (u % 2) {
				t->id = suite_str(su, fmt("tests/sub/test_f%zu.py::TestC%zu::test_%zu[%zu-a::b::c]", file, u,
							  i, i));
			} else {
				t->file = suite_str(su, fmt("tests/mod%zu.py", u));
				t->id = suite_str(su, fmt("tests/mod%zu.py::test_%zu[x::TestC%zu::y]", u, i, u));
			}
			su->unit[i] = u;
			break;
		case SCHED_LOADFILE:
			t->id = suite_str(su, fmt("tests/sub/test_f%zu.py::TestK::test_%zu", file, i));
			su->unit[i] = file;
			break;
		case SCHED_LOADGROUP:
			t->id = suite_str(su, fmt("tests/sub/test_f%zu.py::test_%zu", file, i));
			if (u % 3 == 0) {
				su->unit[i] = nunits + i; /* unmarked: alone */
			} else {
				t->group = suite_str(su, fmt("group-%zu", u));
				su->unit[i] = u;
			}
			break;
		default:
			t->id = suite_str(su, fmt("tests/sub/test_f%zu.py::test_%zu", file, i));
			su->unit[i] = i;
		}
	}
	su->nunits = nunits + n;
}

/* ---- the simulator ---------------------------------------------------- */

struct sim {
	struct sched *s;
	const struct suite *su;
	enum sched_mode mode;
	size_t nw, prefetch;
	size_t *assigned;   /* times handed out: [w * n + t] in `each`, else [t] */
	size_t *completed;  /* times completed (or crashed) */
	size_t *want_assigned;
	size_t *ran_on;     /* [t]: worker that last ran t */
	size_t *seq_of;     /* [t]: global order it was handed out */
	size_t seq;
	size_t **infl;      /* our own view of in-flight tests per worker */
	size_t *ninfl;
	bool *dead;         /* lost and not replaced */
	bool *lost_once;    /* lost at some point */
	bool *dropped;      /* [slot] cancelled */
	bool cancelled;
	size_t nlost;
	uint64_t rng;
};

static size_t
slot(const struct sim *m, size_t w, size_t t)
{
	return m->mode == SCHED_EACH ? w * m->su->n + t : t;
}

static size_t
nslots(const struct sim *m)
{
	return m->mode == SCHED_EACH ? m->nw * m->su->n : m->su->n;
}

static void
sim_init(struct sim *m, enum sched_mode mode, const struct suite *su, size_t nw, size_t prefetch, uint64_t seed)
{
	size_t ns;

	memset(m, 0, sizeof(*m));
	m->mode = mode;
	m->su = su;
	m->nw = nw;
	m->prefetch = prefetch;
	m->rng = seed | 1;
	m->s = sched_new(mode, su->order, su->t, su->n, nw, prefetch);
	assert_non_null(m->s);
	ns = nslots(m);
	m->assigned = calloc(ns + 1, sizeof(size_t));
	m->completed = calloc(ns + 1, sizeof(size_t));
	m->want_assigned = calloc(ns + 1, sizeof(size_t));
	m->dropped = calloc(ns + 1, sizeof(bool));
	for (size_t i = 0; i < ns; i++)
		m->want_assigned[i] = 1;
	m->ran_on = malloc((su->n + 1) * sizeof(size_t));
	m->seq_of = malloc((su->n + 1) * sizeof(size_t));
	for (size_t i = 0; i < su->n; i++)
		m->ran_on[i] = m->seq_of[i] = NONE;
	m->infl = calloc(nw, sizeof(*m->infl));
	m->ninfl = calloc(nw, sizeof(size_t));
	for (size_t w = 0; w < nw; w++)
		m->infl[w] = calloc(prefetch + 1, sizeof(size_t));
	m->dead = calloc(nw, sizeof(bool));
	m->lost_once = calloc(nw, sizeof(bool));
}

static void
sim_free(struct sim *m)
{
	sched_free(m->s);
	for (size_t w = 0; w < m->nw; w++)
		free(m->infl[w]);
	free(m->infl);
	free(m->ninfl);
	free(m->dead);
	free(m->lost_once);
	free(m->assigned);
	free(m->completed);
	free(m->want_assigned);
	free(m->dropped);
	free(m->ran_on);
	free(m->seq_of);
}

/* Asks the scheduler for up to max tests for w and books them. */
static size_t
sim_dispatch(struct sim *m, size_t w, size_t max)
{
	size_t out[64];
	size_t n;

	assert_true(max <= ARRAY_SIZE(out));
	for (size_t i = 0; i < ARRAY_SIZE(out); i++)
		out[i] = 0xdeadbeef;
	n = sched_next(m->s, w, out, max);
	assert_true(n <= max);
	for (size_t i = n; i < ARRAY_SIZE(out); i++)
		assert_int_equal(out[i], 0xdeadbeef); /* nothing written past n */
	if (n == 0)
		return 0;
	if (m->dead[w])
		fail_msg("worker %zu is lost but was handed %zu tests", w, n);
	if (m->cancelled)
		fail_msg("worker %zu was handed work after a cancel", w);
	if (m->mode == SCHED_NO && w != 0)
		fail_msg("--dist no handed work to worker %zu", w);
	for (size_t i = 0; i < n; i++) {
		size_t t = out[i];

		assert_true(t < m->su->n);
		m->assigned[slot(m, w, t)]++;
		if (m->assigned[slot(m, w, t)] > m->want_assigned[slot(m, w, t)])
			fail_msg("test %zu handed out %zu times (worker %zu)", t, m->assigned[slot(m, w, t)], w);
		if (m->dropped[slot(m, w, t)])
			fail_msg("test %zu was cancelled and then handed out", t);
		m->infl[w][m->ninfl[w]++] = t;
		assert_true(m->ninfl[w] <= m->prefetch);
		m->ran_on[t] = w;
		m->seq_of[t] = m->seq++;
	}
	assert_int_equal(sched_inflight(m->s, w), m->ninfl[w]);
	return n;
}

static void
sim_complete(struct sim *m, size_t w, size_t k)
{
	size_t t = m->infl[w][k];

	memmove(m->infl[w] + k, m->infl[w] + k + 1, (m->ninfl[w] - k - 1) * sizeof(size_t));
	m->ninfl[w]--;
	sched_complete(m->s, w, t);
	m->completed[slot(m, w, t)]++;
	assert_int_equal(sched_inflight(m->s, w), m->ninfl[w]);
}

/* Worker w dies while running its oldest in-flight test: that one has its
 * outcome (crashed), the rest must run again elsewhere (or on the
 * replacement in the same slot). */
static void
sim_lose(struct sim *m, size_t w, bool replace)
{
	size_t crashed = m->ninfl[w] ? m->infl[w][0] : NONE;
	size_t requeued;

	if (crashed != NONE)
		m->completed[slot(m, w, crashed)]++;
	/* After a cancel nothing is requeued: the rest is dropped. */
	for (size_t k = 1; k < m->ninfl[w]; k++) {
		if (m->cancelled)
			m->dropped[slot(m, w, m->infl[w][k])] = true;
		else
			m->want_assigned[slot(m, w, m->infl[w][k])]++;
	}
	requeued = sched_worker_lost(m->s, w, crashed);
	if (m->cancelled)
		assert_int_equal(requeued, 0);
	else
		assert_true(requeued >= (m->ninfl[w] ? m->ninfl[w] - 1 : 0));
	m->ninfl[w] = 0;
	assert_int_equal(sched_inflight(m->s, w), 0);
	m->lost_once[w] = true;
	m->dead[w] = !replace;
	m->nlost++;
}

static void
sim_cancel(struct sim *m)
{
	size_t ns = nslots(m), cap = ns + 1, n;
	size_t *out = malloc(cap * sizeof(size_t));

	n = sched_cancel(m->s, out, cap);
	for (size_t i = 0; i < n; i++) {
		size_t t = out[i], sl;

		assert_true(t < m->su->n);
		if (m->mode == SCHED_EACH) {
			/* Which worker's copy is not said: take the first one
			 * still due. */
			size_t w;

			for (w = 0; w < m->nw; w++) {
				sl = slot(m, w, t);
				if (!m->dropped[sl] && m->assigned[sl] < m->want_assigned[sl])
					break;
			}
			assert_true(w < m->nw);
			sl = slot(m, w, t);
		} else {
			sl = t;
		}
		if (m->dropped[sl])
			fail_msg("test %zu dropped twice", t);
		if (m->assigned[sl] >= m->want_assigned[sl])
			fail_msg("test %zu dropped although it was already sent", t);
		m->dropped[sl] = true;
	}
	m->cancelled = true;
	free(out);
	/* A second cancel finds nothing left. */
	assert_int_equal(sched_cancel(m->s, NULL, 0), 0);
}

enum sim_flags {
	SIM_IN_ORDER = 1,      /* complete oldest first (a real runner) */
	SIM_LOSE = 2,          /* lose workers along the way */
	SIM_REPLACE = 4,       /* a lost worker comes back in the same slot */
	SIM_CANCEL = 8,        /* cancel once, part way */
	SIM_SLOW_W0 = 16,      /* worker 0 completes rarely: others must steal */
};

/* Runs until sched_done, interleaving dispatch and completion at random. */
static void
sim_run(struct sim *m, unsigned flags)
{
	size_t steps = 0, limit = 20 * (nslots(m) + 10) * (m->nw + 1) + 1000;
	size_t total_done = 0, cancel_at = nslots(m) / 3, lose_every = nslots(m) / 3 + 2;
	size_t *order = malloc(m->nw * sizeof(size_t));

	for (size_t w = 0; w < m->nw; w++)
		order[w] = w;
	while (!sched_done(m->s)) {
		size_t inflight = 0;

		if (++steps > limit)
			fail_msg("no progress after %zu steps", steps);
		/* Dispatch to every live worker, in a shuffled order, asking
		 * for a random batch size. */
		for (size_t i = m->nw; i > 1; i--) {
			size_t j = rnd_below(&m->rng, i), x = order[i - 1];

			order[i - 1] = order[j];
			order[j] = x;
		}
		for (size_t i = 0; i < m->nw; i++) {
			size_t w = order[i];

			if (!m->dead[w] && rnd_below(&m->rng, 4) != 0)
				sim_dispatch(m, w, 1 + rnd_below(&m->rng, m->prefetch + 2));
		}
		for (size_t w = 0; w < m->nw; w++)
			inflight += m->ninfl[w];
		if (inflight == 0) {
			/* Nothing in flight: a round where every worker asks
			 * must hand something out, or we are stuck. */
			size_t got = 0;

			for (size_t w = 0; w < m->nw; w++)
				if (!m->dead[w])
					got += sim_dispatch(m, w, 1 + m->prefetch);
			if (got == 0 && !sched_done(m->s))
				fail_msg("stuck: nothing in flight, nothing handed out, not done (mode %s)",
					 sched_mode_name(m->mode));
			continue;
		}
		if ((flags & SIM_CANCEL) && !m->cancelled && total_done >= cancel_at)
			sim_cancel(m);
		if ((flags & SIM_LOSE) && total_done >= lose_every * (m->nlost + 1)) {
			/* Lose a random busy worker, keeping one alive. */
			size_t alive = 0, w = rnd_below(&m->rng, m->nw);

			for (size_t k = 0; k < m->nw; k++)
				alive += !m->dead[k];
			if (m->ninfl[w] > 0 && (alive > 1 || (flags & SIM_REPLACE)))
				sim_lose(m, w, (flags & SIM_REPLACE) != 0);
		}
		/* Complete a random number of in-flight tests. */
		for (size_t c = 1 + rnd_below(&m->rng, inflight); c > 0; c--) {
			size_t w = rnd_below(&m->rng, m->nw);

			for (size_t k = 0; k < m->nw && m->ninfl[w] == 0; k++)
				w = (w + 1) % m->nw;
			if (m->ninfl[w] == 0)
				break;
			if ((flags & SIM_SLOW_W0) && w == 0 && rnd_below(&m->rng, 8) != 0)
				continue;
			sim_complete(m, w, (flags & SIM_IN_ORDER) ? 0 : rnd_below(&m->rng, m->ninfl[w]));
			total_done++;
		}
	}
	free(order);
	/* Done means done: nothing in flight, nothing more for anyone. */
	for (size_t w = 0; w < m->nw; w++) {
		size_t out[4];

		assert_int_equal(m->ninfl[w], 0);
		assert_int_equal(sched_inflight(m->s, w), 0);
		if (!m->dead[w]) {
			assert_int_equal(sched_next(m->s, w, out, 4), 0);
			assert_true(sched_worker_finished(m->s, w));
		}
	}
}

/* Every test handed out and completed exactly once (each: once per
 * worker); lost ones once more, cancelled ones never. */
static void
sim_check_once(const struct sim *m)
{
	for (size_t i = 0; i < nslots(m); i++) {
		size_t t = m->mode == SCHED_EACH ? i % m->su->n : i;

		if (m->dropped[i]) {
			if (m->completed[i] != 0)
				fail_msg("cancelled test %zu completed", t);
			continue;
		}
		if (m->assigned[i] != m->want_assigned[i])
			fail_msg("test %zu (slot %zu) handed out %zu times, want %zu (mode %s)", t, i, m->assigned[i],
				 m->want_assigned[i], sched_mode_name(m->mode));
		if (m->completed[i] != 1)
			fail_msg("test %zu (slot %zu) completed %zu times (mode %s)", t, i, m->completed[i],
				 sched_mode_name(m->mode));
	}
}

/* Scope modes: all tests of a unit that ran on a live worker ran on the
 * same one (a lost worker's part is the only exception), and without
 * losses in collection order. */
static void
sim_check_units(const struct sim *m)
{
	const struct suite *su = m->su;
	size_t *owner = malloc(su->nunits * sizeof(size_t));
	size_t *last_seq = malloc(su->nunits * sizeof(size_t));

	for (size_t u = 0; u < su->nunits; u++)
		owner[u] = last_seq[u] = NONE;
	for (size_t t = 0; t < su->n; t++) {
		size_t u = su->unit[t], w = m->ran_on[t];

		if (w == NONE || m->lost_once[w])
			continue;
		if (owner[u] != NONE && owner[u] != w)
			fail_msg("mode %s: unit %zu split across workers %zu and %zu (test %zu: %s)",
				 sched_mode_name(m->mode), u, owner[u], w, t, su->t[t].id);
		owner[u] = w;
		if (m->nlost == 0) {
			if (last_seq[u] != NONE && m->seq_of[t] < last_seq[u])
				fail_msg("unit %zu: test %zu sent before an earlier one", u, t);
			last_seq[u] = m->seq_of[t];
		}
	}
	free(owner);
	free(last_seq);
}

static void
run_one(enum sched_mode mode, size_t ntests, size_t nw, size_t prefetch, uint64_t seed, unsigned flags)
{
	struct suite su;
	struct sim m;

	suite_make(&su, mode, ntests, seed * 7919 + ntests);
	sim_init(&m, mode, &su, nw, prefetch, seed);
	sim_run(&m, flags);
	sim_check_once(&m);
	sim_check_units(&m);
	sim_free(&m);
	suite_free(&su);
}

/* ---- the tests -------------------------------------------------------- */

static void
test_mode_names(void **state)
{
	static const char *const names[] = { "load", "loadscope", "loadfile", "loadgroup", "worksteal", "each", "no" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		assert_int_equal(sched_mode_parse(names[i]), (int)all_modes[i]);
		assert_string_equal(sched_mode_name(all_modes[i]), names[i]);
	}
	assert_int_equal(sched_mode_parse("Load"), -1);
	assert_int_equal(sched_mode_parse(""), -1);
	assert_int_equal(sched_mode_parse("loadscope "), -1);
	assert_string_equal(sched_mode_name((enum sched_mode)99), "?");
}

static void
test_empty(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(all_modes); i++) {
		struct sched *s = sched_new(all_modes[i], SCHED_ORDER_SUITE, NULL, 0, 3, 2);
		size_t out[4];

		assert_true(sched_done(s));
		for (size_t w = 0; w < 3; w++) {
			assert_int_equal(sched_next(s, w, out, 4), 0);
			assert_true(sched_worker_finished(s, w));
			assert_int_equal(sched_inflight(s, w), 0);
		}
		assert_int_equal(sched_cancel(s, out, 4), 0);
		assert_int_equal(sched_worker_lost(s, 1, NONE), 0);
		assert_true(sched_done(s));
		sched_free(s);
	}
	sched_free(NULL);
}

/* load: exact hand-outs, prefetch limits, finished and done. */
static void
test_load_exact(void **state)
{
	struct suite su;
	struct sched *s;
	size_t out[8];

	(void)state;
	suite_make(&su, SCHED_LOAD, 5, 1);
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, su.t, 5, 2, 2);
	assert_false(sched_done(s));
	assert_int_equal(sched_next(s, 0, out, 8), 2); /* prefetch caps it */
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 1);
	assert_int_equal(sched_next(s, 0, out, 8), 0); /* full */
	assert_int_equal(sched_inflight(s, 0), 2);
	assert_int_equal(sched_next(s, 1, out, 1), 1); /* max caps it */
	assert_int_equal(out[0], 2);
	assert_int_equal(sched_next(s, 1, out, 0), 0);
	assert_int_equal(sched_next(s, 1, out, 8), 1);
	assert_int_equal(out[0], 3);
	assert_false(sched_worker_finished(s, 0)); /* test 4 still queued */
	assert_false(sched_worker_finished(s, 1));
	sched_complete(s, 0, 1); /* out of order is fine */
	assert_int_equal(sched_inflight(s, 0), 1);
	sched_complete(s, 0, 3); /* not w0's: ignored */
	assert_int_equal(sched_inflight(s, 0), 1);
	assert_int_equal(sched_inflight(s, 1), 2);
	assert_int_equal(sched_next(s, 0, out, 8), 1);
	assert_int_equal(out[0], 4);
	/* Nothing left to hand out: both may be told bye although tests are
	 * still in flight (the runner finishes them). */
	assert_true(sched_worker_finished(s, 0));
	assert_true(sched_worker_finished(s, 1));
	assert_false(sched_done(s));
	sched_complete(s, 0, 0);
	sched_complete(s, 0, 4);
	sched_complete(s, 1, 2);
	assert_false(sched_done(s));
	sched_complete(s, 1, 3);
	assert_true(sched_done(s));
	sched_complete(s, 1, 3); /* twice: ignored, done stays done */
	assert_true(sched_done(s));
	sched_free(s);
	suite_free(&su);
}

/* loadscope's unit key: the last "::" outside the parameter brackets. */
static void
test_loadscope_keys(void **state)
{
	static const struct sched_test t[] = {
		{ "a.py::TestX::test_y[1-2::x]", "a.py", NULL, -1 },    /* a.py::TestX */
		{ "a.py::test_mod[a::b]", "a.py", NULL, -1 },           /* a.py */
		{ "b.py::TestX::test_y[1]", "b.py", NULL, -1 },         /* b.py::TestX */
		{ "a.py::TestX::test_z", "a.py", NULL, -1 },            /* a.py::TestX */
		{ "b.py::test_f", "b.py", NULL, -1 },                   /* b.py */
		{ "a.py::test_mod2", "a.py", NULL, -1 },                /* a.py */
		{ "a.py::TestX::TestInner::test_q[::]", "a.py", NULL, -1 }, /* a.py::TestX::TestInner */
		{ "a.py::TestX::test_y[2-3::x]", "a.py", NULL, -1 },    /* a.py::TestX */
	};
	/* The units in first-seen order, each in collection order. */
	static const size_t want[][3] = {
		{ 0, 3, 7 }, { 1, 5, NONE }, { 2, NONE, NONE }, { 4, NONE, NONE }, { 6, NONE, NONE },
	};
	struct sched *s = sched_new(SCHED_LOADSCOPE, SCHED_ORDER_SUITE, t, ARRAY_SIZE(t), 1, 100);
	size_t out[16], n;

	(void)state;
	/* One worker, big prefetch and max 1 at a time: the private queue
	 * shows unit boundaries as the points where it asks for a new unit. */
	n = sched_next(s, 0, out, 16);
	assert_int_equal(n, ARRAY_SIZE(t));
	{
		size_t k = 0;

		for (size_t u = 0; u < ARRAY_SIZE(want); u++)
			for (size_t j = 0; j < 3 && want[u][j] != NONE; j++, k++)
				if (out[k] != want[u][j])
					fail_msg("position %zu: got test %zu, want %zu", k, out[k], want[u][j]);
	}
	sched_free(s);

	/* Five workers, prefetch 1: each takes one unit, and only its own
	 * unit's tests come to it afterwards. */
	s = sched_new(SCHED_LOADSCOPE, SCHED_ORDER_SUITE, t, ARRAY_SIZE(t), 5, 1);
	for (size_t w = 0; w < 5; w++) {
		assert_int_equal(sched_next(s, w, out, 4), 1);
		assert_int_equal(out[0], want[w][0]);
	}
	for (size_t w = 0; w < 5; w++) {
		for (size_t j = 0; j < 3 && want[w][j] != NONE; j++) {
			sched_complete(s, w, want[w][j]);
			if (j + 1 < 3 && want[w][j + 1] != NONE) {
				assert_int_equal(sched_next(s, w, out, 4), 1);
				assert_int_equal(out[0], want[w][j + 1]);
			}
		}
		assert_int_equal(sched_next(s, w, out, 4), 0);
		assert_true(sched_worker_finished(s, w));
	}
	assert_true(sched_done(s));
	sched_free(s);
}

/* loadfile binds by file, loadgroup by xdist_group (scattered), unmarked
 * loadgroup tests are free. */
static void
test_loadfile_loadgroup_exact(void **state)
{
	static const struct sched_test t[] = {
		{ "x/a.py::T::t1", "x/a.py", "g1", -1 }, { "x/b.py::t2", "x/b.py", NULL, -1 },
		{ "x/a.py::t3", "x/a.py", NULL, -1 },    { "x/b.py::t4", "x/b.py", "g1", -1 },
		{ "x/c.py::t5", "x/c.py", "g2", -1 },    { "x/a.py::U::t6", "x/a.py", "g2", -1 },
	};
	struct sched *s;
	size_t out[16];

	(void)state;
	s = sched_new(SCHED_LOADFILE, SCHED_ORDER_SUITE, t, ARRAY_SIZE(t), 3, 10);
	assert_int_equal(sched_next(s, 0, out, 16), 6); /* it takes every unit */
	sched_free(s);
	s = sched_new(SCHED_LOADFILE, SCHED_ORDER_SUITE, t, ARRAY_SIZE(t), 3, 1);
	assert_int_equal(sched_next(s, 0, out, 1), 1);
	assert_int_equal(out[0], 0); /* x/a.py: 0, 2, 5 */
	assert_int_equal(sched_next(s, 1, out, 1), 1);
	assert_int_equal(out[0], 1); /* x/b.py: 1, 3 */
	assert_int_equal(sched_next(s, 2, out, 1), 1);
	assert_int_equal(out[0], 4); /* x/c.py */
	sched_complete(s, 2, 4);
	assert_int_equal(sched_next(s, 2, out, 1), 0); /* nothing else is free */
	assert_true(sched_worker_finished(s, 2));
	sched_complete(s, 0, 0);
	assert_int_equal(sched_next(s, 0, out, 1), 1);
	assert_int_equal(out[0], 2);
	sched_complete(s, 0, 2);
	assert_int_equal(sched_next(s, 0, out, 1), 1);
	assert_int_equal(out[0], 5);
	sched_complete(s, 1, 1);
	assert_int_equal(sched_next(s, 1, out, 1), 1);
	assert_int_equal(out[0], 3);
	sched_complete(s, 1, 3);
	sched_complete(s, 0, 5);
	assert_true(sched_done(s));
	sched_free(s);

	s = sched_new(SCHED_LOADGROUP, SCHED_ORDER_SUITE, t, ARRAY_SIZE(t), 4, 1);
	/* Units: g1 {0, 3}, {1}, {2}, g2 {4, 5}. */
	assert_int_equal(sched_next(s, 0, out, 1), 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(sched_next(s, 1, out, 1), 1);
	assert_int_equal(out[0], 1);
	assert_int_equal(sched_next(s, 2, out, 1), 1);
	assert_int_equal(out[0], 2);
	assert_int_equal(sched_next(s, 3, out, 1), 1);
	assert_int_equal(out[0], 4);
	sched_complete(s, 1, 1);
	sched_complete(s, 2, 2);
	assert_int_equal(sched_next(s, 1, out, 1), 0);
	assert_int_equal(sched_next(s, 2, out, 1), 0);
	sched_complete(s, 0, 0);
	sched_complete(s, 3, 4);
	assert_int_equal(sched_next(s, 3, out, 1), 1);
	assert_int_equal(out[0], 5);
	assert_int_equal(sched_next(s, 0, out, 1), 1);
	assert_int_equal(out[0], 3);
	sched_complete(s, 0, 3);
	sched_complete(s, 3, 5);
	assert_true(sched_done(s));
	sched_free(s);
}

static void
expect_sequence(enum sched_mode mode, enum sched_order order, const struct sched_test *t, size_t n,
		const size_t *want)
{
	struct sched *s = sched_new(mode, order, t, n, 1, 1);
	size_t out[1];

	for (size_t k = 0; k < n; k++) {
		assert_int_equal(sched_next(s, 0, out, 1), 1);
		if (out[0] != want[k])
			fail_msg("mode %s position %zu: got test %zu, want %zu", sched_mode_name(mode), k, out[0],
				 want[k]);
		sched_complete(s, 0, out[0]);
	}
	assert_int_equal(sched_next(s, 0, out, 1), 0);
	assert_true(sched_done(s));
	sched_free(s);
}

/* --longest-first with known durations: longest first; unknown ones
 * count as the median of the known; ties keep collection order. By
 * default one worker runs everything in collection order. */
static void
test_history_order(void **state)
{
	/* Known: 1, 3.5, 4, 4.5, 8: the median is 4. */
	static const struct sched_test t[] = {
		{ "a.py::t0", "a.py", NULL, 1 },   { "a.py::t1", "a.py", NULL, -1 },  { "b.py::t2", "b.py", NULL, 4.5 },
		{ "b.py::t3", "b.py", NULL, 3.5 }, { "c.py::t4", "c.py", NULL, 8 },   { "c.py::t5", "c.py", NULL, -1 },
		{ "d.py::t6", "d.py", NULL, 4 },
	};
	static const size_t load[] = { 4, 2, 1, 5, 6, 3, 0 };
	/* Files: a = 1 + 4 = 5, b = 8, c = 8 + 4 = 12, d = 4. */
	static const size_t file[] = { 4, 5, 2, 3, 0, 1, 6 };
	static const size_t coll[] = { 0, 1, 2, 3, 4, 5, 6 };
	/* No known duration at all: collection order. */
	static const struct sched_test u[] = {
		{ "a.py::t0", "a.py", NULL, -1 }, { "a.py::t1", "a.py", NULL, -1 }, { "b.py::t2", "b.py", NULL, -1 },
	};
	/* One known: unknowns equal it, so ties keep collection order... */
	static const struct sched_test v[] = {
		{ "a.py::t0", "a.py", NULL, -1 }, { "a.py::t1", "a.py", NULL, 2 }, { "b.py::t2", "b.py", NULL, -1 },
		{ "b.py::t3", "b.py", NULL, 0 },
	};
	static const size_t vload[] = { 0, 1, 2, 3 };

	(void)state;
	expect_sequence(SCHED_LOAD, SCHED_ORDER_LONGEST, t, ARRAY_SIZE(t), load);
	expect_sequence(SCHED_WORKSTEAL, SCHED_ORDER_LONGEST, t, ARRAY_SIZE(t), load);
	expect_sequence(SCHED_LOADFILE, SCHED_ORDER_LONGEST, t, ARRAY_SIZE(t), file);
	/* loadscope: the units are the files here (module-level tests). */
	expect_sequence(SCHED_LOADSCOPE, SCHED_ORDER_LONGEST, t, ARRAY_SIZE(t), file);
	/* no and each keep collection order whatever the history. */
	expect_sequence(SCHED_NO, SCHED_ORDER_LONGEST, t, ARRAY_SIZE(t), coll);
	expect_sequence(SCHED_EACH, SCHED_ORDER_LONGEST, t, ARRAY_SIZE(t), coll);
	expect_sequence(SCHED_LOAD, SCHED_ORDER_LONGEST, u, ARRAY_SIZE(u), coll);
	/* ...except a zero-length known one, which goes last: 2, 2, 2, 0. */
	expect_sequence(SCHED_LOAD, SCHED_ORDER_LONGEST, v, ARRAY_SIZE(v), vload);
	/* The default keeps the suite's order in every mode. */
	for (size_t mi = 0; mi < ARRAY_SIZE(all_modes); mi++)
		expect_sequence(all_modes[mi], SCHED_ORDER_SUITE, t, ARRAY_SIZE(t), coll);
}

/* worksteal: dealt round-robin; an idle worker steals half of the unsent
 * tests of the worker with the most, from the back of its queue. */
static void
test_worksteal_exact(void **state)
{
	struct suite su;
	struct sched *s;
	size_t out[16], n;

	(void)state;
	suite_make(&su, SCHED_WORKSTEAL, 12, 3);
	s = sched_new(SCHED_WORKSTEAL, SCHED_ORDER_SUITE, su.t, 12, 3, 1);
	/* Deal: w0 {0,3,6,9}, w1 {1,4,7,10}, w2 {2,5,8,11}. */
	for (size_t w = 0; w < 3; w++) {
		assert_int_equal(sched_next(s, w, out, 4), 1);
		assert_int_equal(out[0], w);
	}
	/* w2 runs through its own share. */
	for (size_t t = 2; t <= 11; t += 3) {
		sched_complete(s, 2, t);
		if (t + 3 <= 11) {
			assert_int_equal(sched_next(s, 2, out, 4), 1);
			assert_int_equal(out[0], t + 3);
		}
	}
	/* w1 runs one more, so w0 (3 unsent: 3, 6, 9) is the busiest. */
	sched_complete(s, 1, 1);
	assert_int_equal(sched_next(s, 1, out, 4), 1);
	assert_int_equal(out[0], 4); /* w1 unsent: 7, 10 */
	assert_false(sched_worker_finished(s, 2)); /* there is work to steal */
	n = sched_next(s, 2, out, 4);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 9); /* half of 3 = 1, from the back of w0 */
	/* w0 keeps the front of its queue. */
	sched_complete(s, 0, 0);
	assert_int_equal(sched_next(s, 0, out, 4), 1);
	assert_int_equal(out[0], 3);
	/* Now w0 has {6} and w1 {7, 10}: w2 steals from w1, the busiest. */
	sched_complete(s, 2, 9);
	assert_int_equal(sched_next(s, 2, out, 4), 1);
	assert_int_equal(out[0], 10);
	/* Only one left anywhere (w0: 6, w1: 7): a steal takes it whole. */
	sched_complete(s, 2, 10);
	assert_int_equal(sched_next(s, 2, out, 4), 1);
	assert_true(out[0] == 6 || out[0] == 7);
	{
		size_t stolen = out[0], other = stolen == 6 ? 7 : 6, owner = other == 6 ? 0 : 1;

		sched_complete(s, 2, stolen);
		assert_int_equal(sched_next(s, 2, out, 4), 1);
		assert_int_equal(out[0], other);
		/* The victims have nothing left to send; everyone is finished. */
		for (size_t w = 0; w < 3; w++)
			assert_true(sched_worker_finished(s, w));
		sched_complete(s, 2, other);
		assert_int_equal(sched_next(s, owner, out, 4), 0);
	}
	sched_complete(s, 0, 3);
	sched_complete(s, 1, 4);
	assert_true(sched_done(s));
	sched_free(s);
	suite_free(&su);
}

/* Random interleavings of everything in every mode. */
static void
test_sim_all_modes(void **state)
{
	static const size_t workers[] = { 1, 2, 3, 7 };
	static const size_t prefetch[] = { 1, 2, 5 };
	static const size_t sizes[] = { 1, 2, 13, 200 };

	(void)state;
	for (size_t mi = 0; mi < ARRAY_SIZE(all_modes); mi++)
		for (size_t wi = 0; wi < ARRAY_SIZE(workers); wi++)
			for (size_t pi = 0; pi < ARRAY_SIZE(prefetch); pi++)
				for (size_t si = 0; si < ARRAY_SIZE(sizes); si++)
					for (uint64_t seed = 1; seed <= 3; seed++) {
						unsigned flags = seed == 1 ? SIM_IN_ORDER : 0;

						run_one(all_modes[mi], sizes[si], workers[wi], prefetch[pi], seed, flags);
					}
}

/* Workers lost mid-run, with and without a replacement in the slot. */
static void
test_sim_lost(void **state)
{
	static const size_t workers[] = { 2, 3, 8 };

	(void)state;
	for (size_t mi = 0; mi < ARRAY_SIZE(all_modes); mi++)
		for (size_t wi = 0; wi < ARRAY_SIZE(workers); wi++)
			for (size_t prefetch = 1; prefetch <= 4; prefetch += 3)
				for (uint64_t seed = 1; seed <= 6; seed++) {
					enum sched_mode mode = all_modes[mi];
					/* each and no: the slot's private queue waits
					 * for its replacement; elsewhere test both. */
					bool replace = mode == SCHED_EACH || mode == SCHED_NO || seed % 2 == 0;

					run_one(mode, 150, workers[wi], prefetch, seed,
						SIM_LOSE | (replace ? SIM_REPLACE : 0) | (seed % 3 == 0 ? SIM_IN_ORDER : 0));
				}
}

static void
test_sim_cancel(void **state)
{
	(void)state;
	for (size_t mi = 0; mi < ARRAY_SIZE(all_modes); mi++)
		for (size_t nw = 1; nw <= 4; nw += 3)
			for (uint64_t seed = 1; seed <= 4; seed++)
				run_one(all_modes[mi], 120, nw, 1 + seed % 3, seed,
					SIM_CANCEL | (seed == 2 ? SIM_LOSE | SIM_REPLACE : 0));
}

/* worksteal with a slow worker 0: the others must steal its share, and
 * steals interleaved with completions neither lose nor duplicate. */
static void
test_sim_worksteal_slow(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		struct suite su;
		struct sim m;
		size_t others = 0;

		suite_make(&su, SCHED_WORKSTEAL, 400, seed);
		sim_init(&m, SCHED_WORKSTEAL, &su, 4, 2, seed);
		sim_run(&m, SIM_SLOW_W0 | (seed % 2 ? SIM_IN_ORDER : 0));
		sim_check_once(&m);
		/* Dealt round-robin, w0 owned tests 0, 4, 8, ...: with it slow,
		 * most of them ran elsewhere. */
		for (size_t t = 0; t < su.n; t += 4)
			others += m.ran_on[t] != 0;
		assert_true(others > su.n / 4 / 2);
		sim_free(&m);
		suite_free(&su);
	}
}

/* A lost worker's in-flight tests, except the crashed one, go back to the
 * front and another worker runs them; exactly once overall. */
static void
test_lost_exact(void **state)
{
	struct suite su;
	struct sched *s;
	size_t out[16];

	(void)state;
	suite_make(&su, SCHED_LOAD, 6, 5);
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, su.t, 6, 2, 3);
	assert_int_equal(sched_next(s, 0, out, 16), 3); /* 0, 1, 2 */
	assert_int_equal(sched_next(s, 1, out, 1), 1);  /* 3 */
	assert_int_equal(out[0], 3);
	assert_int_equal(sched_worker_lost(s, 0, 1), 2); /* 1 crashed it */
	assert_int_equal(sched_inflight(s, 0), 0);
	assert_false(sched_worker_finished(s, 1));
	assert_int_equal(sched_next(s, 1, out, 16), 2);
	assert_int_equal(out[0], 0); /* requeued first, in their order */
	assert_int_equal(out[1], 2);
	sched_complete(s, 1, 3);
	assert_int_equal(sched_next(s, 1, out, 16), 1);
	assert_int_equal(out[0], 4);
	sched_complete(s, 1, 0);
	sched_complete(s, 1, 2);
	assert_int_equal(sched_next(s, 1, out, 16), 1);
	assert_int_equal(out[0], 5);
	assert_int_equal(sched_next(s, 1, out, 16), 0);
	sched_complete(s, 1, 4);
	assert_false(sched_done(s));
	sched_complete(s, 1, 5);
	assert_true(sched_done(s)); /* the crashed test counts as done */
	sched_free(s);

	/* No `except`: every in-flight test comes back. */
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, su.t, 6, 2, 2);
	assert_int_equal(sched_next(s, 0, out, 16), 2);
	assert_int_equal(sched_worker_lost(s, 0, NONE), 2);
	assert_int_equal(sched_next(s, 1, out, 16), 2);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 1);
	sched_free(s);

	/* each: the replacement in the same slot runs them again, in order. */
	s = sched_new(SCHED_EACH, SCHED_ORDER_SUITE, su.t, 6, 2, 3);
	assert_int_equal(sched_next(s, 0, out, 16), 3);
	sched_complete(s, 0, 0);
	assert_int_equal(sched_worker_lost(s, 0, 1), 1); /* 2 comes back */
	assert_int_equal(sched_next(s, 1, out, 16), 3);
	assert_int_equal(out[0], 0); /* w1's own copy, untouched */
	assert_int_equal(sched_next(s, 0, out, 16), 3);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 3);
	assert_int_equal(out[2], 4);
	sched_free(s);
	suite_free(&su);
}

/* A lost worker's unit must not be split between two live workers: the
 * scope modes exist so class/module fixtures (or a group's shared
 * resource) live on one worker. */
static void
test_lost_scope_unit_stays_together(void **state)
{
	static const struct sched_test t[] = {
		{ "a.py::t0", "a.py", "A", -1 }, { "a.py::t1", "a.py", "A", -1 }, { "a.py::t2", "a.py", "A", -1 },
		{ "a.py::t3", "a.py", "A", -1 }, { "a.py::t4", "a.py", "A", -1 }, { "a.py::t5", "a.py", "A", -1 },
		{ "b.py::t6", "b.py", "B", -1 }, { "b.py::t7", "b.py", "B", -1 }, { "c.py::t8", "c.py", "C", -1 },
		{ "c.py::t9", "c.py", "C", -1 },
	};
	static const enum sched_mode modes[] = { SCHED_LOADSCOPE, SCHED_LOADFILE, SCHED_LOADGROUP };

	(void)state;
	for (size_t mi = 0; mi < ARRAY_SIZE(modes); mi++) {
		struct sched *s = sched_new(modes[mi], SCHED_ORDER_SUITE, t, ARRAY_SIZE(t), 3, 2);
		size_t out[16], n1 = 0, n2 = 0, got1[16], got2[16];

		assert_int_equal(sched_next(s, 0, out, 16), 2); /* t0, t1 */
		assert_int_equal(sched_next(s, 1, out, 16), 2); /* t6, t7 */
		assert_int_equal(out[0], 6);
		assert_int_equal(sched_next(s, 2, out, 16), 2); /* t8, t9 */
		assert_int_equal(out[0], 8);
		/* w0 dies in t0: t1..t5 are what is left of unit A. */
		assert_int_equal(sched_worker_lost(s, 0, 0), 5);
		sched_complete(s, 1, 6);
		sched_complete(s, 1, 7);
		sched_complete(s, 2, 8);
		sched_complete(s, 2, 9);
		/* Both idle workers ask, again and again. */
		for (int round = 0; round < 8; round++) {
			size_t k = sched_next(s, 1, got1 + n1, 16 - n1);

			for (size_t i = 0; i < k; i++)
				sched_complete(s, 1, got1[n1 + i]);
			n1 += k;
			k = sched_next(s, 2, got2 + n2, 16 - n2);
			for (size_t i = 0; i < k; i++)
				sched_complete(s, 2, got2[n2 + i]);
			n2 += k;
		}
		if (n1 && n2)
			fail_msg("mode %s: the rest of unit A went to two workers (%zu and %zu tests)",
				 sched_mode_name(modes[mi]), n1, n2);
		assert_int_equal(n1 + n2, 5);
		{
			const size_t *got = n1 ? got1 : got2;

			for (size_t i = 0; i < 5; i++)
				assert_int_equal(got[i], 1 + i); /* in order */
		}
		assert_true(sched_done(s));
		sched_free(s);
	}
}

/* With history, longest first must not hand one worker the longest
 * tests back to back: past the in-flight cap a worker takes its second
 * test (nextitem needs one) from the short end of the queue, and no
 * third. Without history the cap does not apply. */
static void
test_load_history_cap(void **state)
{
	enum { NT = 44 };
	struct sched_test t[NT];
	char ids[NT][16];
	struct sched *s;
	size_t out[8];

	(void)state;
	/* 4 tests of 10 s, 40 of 0.1 s: 44 s on 2 workers, cap 44 / 2 / 8. */
	for (size_t i = 0; i < NT; i++) {
		snprintf(ids[i], sizeof(ids[i]), "t.py::t%zu", i);
		t[i] = (struct sched_test){ ids[i], "t.py", NULL, i < 4 ? 10.0 : 0.1 };
	}
	s = sched_new(SCHED_LOAD, SCHED_ORDER_LONGEST, t, NT, 2, 3);
	assert_int_equal(sched_next(s, 0, out, 8), 2);
	assert_true(out[0] < 4);  /* a long one first */
	assert_true(out[1] >= 4); /* then a short one, not the next long */
	assert_int_equal(sched_next(s, 0, out, 8), 0);
	assert_int_equal(sched_next(s, 1, out, 8), 2);
	assert_true(out[0] < 4);
	assert_true(out[1] >= 4);
	sched_free(s);

	/* Unknown durations: plain prefetch, collection order. */
	for (size_t i = 0; i < NT; i++)
		t[i].expected = -1;
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, t, NT, 2, 3);
	assert_int_equal(sched_next(s, 0, out, 8), 3);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 1);
	assert_int_equal(out[2], 2);
	sched_free(s);
}

static void
test_cancel_exact(void **state)
{
	struct suite su;
	struct sched *s;
	size_t out[16], n;

	(void)state;
	suite_make(&su, SCHED_LOAD, 10, 9);
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, su.t, 10, 2, 2);
	assert_int_equal(sched_next(s, 0, out, 16), 2);
	assert_int_equal(sched_next(s, 1, out, 16), 2);
	for (size_t i = 0; i < 16; i++)
		out[i] = 0xdeadbeef;
	n = sched_cancel(s, out, 2); /* room for 2 of 6 */
	assert_int_equal(n, 6);
	assert_int_equal(out[0], 4);
	assert_int_equal(out[1], 5);
	assert_int_equal(out[2], 0xdeadbeef);
	assert_false(sched_done(s)); /* 4 still in flight */
	for (size_t w = 0; w < 2; w++) {
		assert_int_equal(sched_next(s, w, out, 16), 0);
		assert_true(sched_worker_finished(s, w));
		assert_int_equal(sched_inflight(s, w), 2);
	}
	sched_complete(s, 0, 0);
	sched_complete(s, 0, 1);
	sched_complete(s, 1, 2);
	assert_false(sched_done(s));
	sched_complete(s, 1, 3);
	assert_true(sched_done(s));
	sched_free(s);

	/* Cancel with a lost worker's work waiting: that is dropped too. */
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, su.t, 10, 2, 3);
	assert_int_equal(sched_next(s, 0, out, 16), 3);
	assert_int_equal(sched_worker_lost(s, 0, 0), 2);
	n = sched_cancel(s, out, 16);
	assert_int_equal(n, 9); /* 1, 2 and 3..9 */
	assert_true(sched_done(s));
	sched_free(s);

	/* A worker lost after the cancel: its in-flight tests are dropped,
	 * not requeued, so done still comes. */
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, su.t, 10, 2, 3);
	assert_int_equal(sched_next(s, 0, out, 16), 3); /* 0, 1, 2 */
	assert_int_equal(sched_next(s, 1, out, 16), 3); /* 3, 4, 5 */
	assert_int_equal(sched_cancel(s, out, 16), 4);
	assert_int_equal(sched_worker_lost(s, 0, 0), 0);
	assert_int_equal(sched_inflight(s, 0), 0);
	assert_int_equal(sched_next(s, 1, out, 16), 0);
	assert_false(sched_done(s));
	assert_int_equal(sched_inflight(s, 1), 3);
	for (size_t t = 3; t < 6; t++)
		sched_complete(s, 1, t);
	assert_true(sched_done(s));
	sched_free(s);

	/* each: one entry per worker copy. */
	s = sched_new(SCHED_EACH, SCHED_ORDER_SUITE, su.t, 10, 3, 1);
	assert_int_equal(sched_next(s, 0, out, 16), 1);
	n = sched_cancel(s, out, 16);
	assert_int_equal(n, 29);
	assert_false(sched_done(s));
	sched_complete(s, 0, 0);
	assert_true(sched_done(s));
	sched_free(s);
	suite_free(&su);
}

/* When a worker may be told bye, mode by mode. */
static void
test_worker_finished(void **state)
{
	struct suite su;
	struct sched *s;
	size_t out[16];

	(void)state;
	suite_make(&su, SCHED_LOAD, 4, 11);

	/* no: only w0 ever works; the others are finished from the start. */
	s = sched_new(SCHED_NO, SCHED_ORDER_SUITE, su.t, 4, 3, 2);
	assert_false(sched_worker_finished(s, 0));
	assert_true(sched_worker_finished(s, 1));
	assert_true(sched_worker_finished(s, 2));
	assert_int_equal(sched_next(s, 1, out, 16), 0);
	assert_int_equal(sched_next(s, 0, out, 16), 2);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 1);
	assert_false(sched_worker_finished(s, 0));
	sched_complete(s, 0, 0);
	assert_int_equal(sched_next(s, 0, out, 16), 1);
	assert_int_equal(out[0], 2);
	sched_complete(s, 0, 1);
	assert_int_equal(sched_next(s, 0, out, 16), 1);
	assert_int_equal(out[0], 3);
	assert_true(sched_worker_finished(s, 0));
	sched_free(s);

	/* each: a worker is finished when its own copy is all sent, whatever
	 * the others do. */
	s = sched_new(SCHED_EACH, SCHED_ORDER_SUITE, su.t, 4, 2, 4);
	assert_false(sched_worker_finished(s, 0));
	assert_int_equal(sched_next(s, 0, out, 16), 4);
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(out[k], k);
	assert_true(sched_worker_finished(s, 0));
	assert_false(sched_worker_finished(s, 1));
	sched_free(s);

	/* loadfile: unsent tests of the worker's own unit keep it busy. */
	{
		static const struct sched_test t[] = {
			{ "a.py::t0", "a.py", NULL, -1 },
			{ "a.py::t1", "a.py", NULL, -1 },
			{ "a.py::t2", "a.py", NULL, -1 },
		};

		s = sched_new(SCHED_LOADFILE, SCHED_ORDER_SUITE, t, 3, 2, 1);
		assert_int_equal(sched_next(s, 0, out, 16), 1);
		assert_false(sched_worker_finished(s, 0)); /* t1, t2 are its own */
		assert_true(sched_worker_finished(s, 1)); /* nothing can come */
		assert_int_equal(sched_next(s, 1, out, 16), 0);
		sched_free(s);
	}

	/* worksteal: not finished while anyone has unsent tests to steal. */
	s = sched_new(SCHED_WORKSTEAL, SCHED_ORDER_SUITE, su.t, 4, 2, 1);
	assert_int_equal(sched_next(s, 0, out, 16), 1);
	assert_int_equal(sched_next(s, 1, out, 16), 1);
	sched_complete(s, 1, 1);
	assert_int_equal(sched_next(s, 1, out, 16), 1);
	assert_int_equal(out[0], 3); /* its own, dealt round-robin */
	/* w1 has nothing unsent, w0 still has test 2: w1 is not finished. */
	assert_false(sched_worker_finished(s, 1));
	assert_false(sched_worker_finished(s, 0));
	sched_complete(s, 1, 3);
	assert_int_equal(sched_next(s, 1, out, 16), 1);
	assert_int_equal(out[0], 2); /* stolen */
	assert_true(sched_worker_finished(s, 0));
	assert_true(sched_worker_finished(s, 1));
	sched_free(s);

	/* load: a lost worker's requeued tests make the others unfinished
	 * again (the run must not have told them bye yet). */
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, su.t, 4, 2, 2);
	assert_int_equal(sched_next(s, 0, out, 16), 2);
	assert_int_equal(sched_next(s, 1, out, 16), 2);
	assert_true(sched_worker_finished(s, 1));
	sched_worker_lost(s, 0, 0);
	assert_false(sched_worker_finished(s, 1));
	sched_free(s);
	suite_free(&su);
}

/* 100,000 tests on 256 workers: it finishes and assigns all exactly once. */
static void
test_scale(void **state)
{
	static const enum sched_mode modes[] = { SCHED_LOAD, SCHED_WORKSTEAL, SCHED_LOADSCOPE, SCHED_LOADGROUP };
	const size_t n = 100000, nw = 256, prefetch = 2;

	(void)state;
	for (size_t mi = 0; mi < ARRAY_SIZE(modes); mi++) {
		struct suite su;
		struct sim m;
		size_t rounds = 0, done = 0;

		suite_make(&su, modes[mi], n, 42);
		for (size_t i = 0; i < n; i++)
			su.t[i].expected = i % 5 == 0 ? -1 : (double)(i % 97) / 10.0;
		sim_init(&m, modes[mi], &su, nw, prefetch, 42);
		/* Rounds like the run loop's: every worker asks, then about
		 * half of the in-flight tests complete. */
		while (!sched_done(m.s)) {
			assert_true(++rounds < 4 * n);
			for (size_t w = 0; w < nw; w++)
				sim_dispatch(&m, w, 8);
			for (size_t w = 0; w < nw; w++)
				while (m.ninfl[w] > 0 && (rnd(&m.rng) & 1)) {
					sim_complete(&m, w, 0);
					done++;
				}
		}
		assert_int_equal(done, n);
		sim_check_once(&m);
		sim_check_units(&m);
		sim_free(&m);
		suite_free(&su);
	}
}

/* ---- history keeps the suite's order ---------------------------------- */

/* A suite whose units are contiguous in collection order (as pytest
 * collects classes and files), with durations known for most tests:
 * files of 6, classes of 3, a group per file in loadgroup; a heavy tail
 * (1 in 10 tests 50x longer) so balancing has something to move. */
static void
suite_contiguous(struct suite *su, enum sched_mode mode, size_t n, uint64_t seed)
{
	memset(su, 0, sizeof(*su));
	su->n = n;
	su->t = calloc(n ? n : 1, sizeof(*su->t));
	su->unit = calloc(n ? n : 1, sizeof(*su->unit));
	for (size_t i = 0; i < n; i++) {
		size_t file = i / 6, cls = i / 3;
		struct sched_test *t = &su->t[i];
		size_t r = rnd_below(&seed, 100);

		t->file = suite_str(su, fmt("tests/test_f%zu.py", file));
		t->id = suite_str(su, fmt("tests/test_f%zu.py::TestC%zu::test_%zu", file, cls, i));
		t->expected = r < 10 ? -1 : (double)(1 + rnd_below(&seed, 100)) * (r < 20 ? 50 : 1) / 1000.0;
		switch (mode) {
		case SCHED_LOADSCOPE:
			su->unit[i] = cls;
			break;
		case SCHED_LOADFILE:
			su->unit[i] = file;
			break;
		case SCHED_LOADGROUP:
			t->group = file % 2 ? suite_str(su, fmt("g%zu", file)) : NULL;
			su->unit[i] = file % 2 ? file : n + i;
			break;
		default:
			su->unit[i] = i;
		}
	}
	su->nunits = 2 * n + 1;
}

/* Collection index of each test a worker was sent, in the order sent,
 * never goes down: what a suite ordered on purpose (pytest-django: plain
 * database tests before transactional ones, which empty the tables)
 * needs from every worker, since each has a database of its own. */
static void
sim_check_increasing(const struct sim *m)
{
	for (size_t w = 0; w < m->nw; w++) {
		size_t last = NONE, last_seq = NONE;

		for (size_t k = 0; k < m->su->n; k++) {
			/* The test w was sent after last_seq, earliest first. */
			size_t t = NONE;

			for (size_t i = 0; i < m->su->n; i++)
				if (m->ran_on[i] == w && (last_seq == NONE || m->seq_of[i] > last_seq) &&
				    (t == NONE || m->seq_of[i] < m->seq_of[t]))
					t = i;
			if (t == NONE)
				break;
			if (last != NONE && t < last)
				fail_msg("mode %s: worker %zu ran test %zu after test %zu", sched_mode_name(m->mode), w, t,
					 last);
			last = t;
			last_seq = m->seq_of[t];
		}
	}
}

static const enum sched_mode load_modes[] = {
	SCHED_LOAD, SCHED_LOADSCOPE, SCHED_LOADFILE, SCHED_LOADGROUP, SCHED_WORKSTEAL,
};

/* With history (the default order), in random interleavings, every
 * worker's sequence is increasing in collection index, in every mode that
 * takes history, with steals happening; exactly once, units whole. */
static void
test_history_keeps_suite_order(void **state)
{
	static const size_t workers[] = { 2, 3, 8 };

	(void)state;
	for (size_t mi = 0; mi < ARRAY_SIZE(load_modes); mi++)
		for (size_t wi = 0; wi < ARRAY_SIZE(workers); wi++)
			for (uint64_t seed = 1; seed <= 6; seed++) {
				struct suite su;
				struct sim m;

				suite_contiguous(&su, load_modes[mi], 120, seed);
				sim_init(&m, load_modes[mi], &su, workers[wi], 1 + seed % 3, seed);
				sim_run(&m, (seed % 2 ? SIM_IN_ORDER : 0) | (seed % 3 == 0 ? SIM_SLOW_W0 : 0));
				sim_check_once(&m);
				sim_check_units(&m);
				sim_check_increasing(&m);
				sim_free(&m);
				suite_free(&su);
			}
}

/* The check above can fail: --longest-first breaks the order (long tests
 * are spread over the suite), and losses and cancels with history still
 * keep exactly-once. */
static void
test_history_longest_and_faults(void **state)
{
	struct suite su;
	struct sim m;
	size_t inversions = 0;

	(void)state;
	suite_contiguous(&su, SCHED_LOAD, 120, 3);
	su.order = SCHED_ORDER_LONGEST;
	sim_init(&m, SCHED_LOAD, &su, 3, 3, 3);
	sim_run(&m, SIM_IN_ORDER);
	sim_check_once(&m);
	for (size_t t = 1; t < su.n; t++)
		for (size_t u = 0; u < t; u++)
			inversions += m.ran_on[t] == m.ran_on[u] && m.seq_of[t] < m.seq_of[u];
	assert_true(inversions > 0);
	sim_free(&m);
	suite_free(&su);

	for (size_t mi = 0; mi < ARRAY_SIZE(load_modes); mi++)
		for (uint64_t seed = 1; seed <= 6; seed++) {
			bool replace = seed % 2 == 0;

			suite_contiguous(&su, load_modes[mi], 150, seed);
			sim_init(&m, load_modes[mi], &su, 3, 1 + seed % 3, seed);
			sim_run(&m, seed % 3 == 0 ? SIM_CANCEL : SIM_LOSE | (replace ? SIM_REPLACE : 0));
			sim_check_once(&m);
			sim_check_units(&m);
			sim_free(&m);
			suite_free(&su);
		}
}

/* The split: units longest first into the least loaded worker, each
 * worker's share in collection order. 8 tests of 1 s and two of 4 s at
 * the end, 2 workers: w0 {0,2,4,6,8}, w1 {1,3,5,7,9}, 8 s each; the
 * long tests run last on both, where the suite put them. */
static void
test_history_split_exact(void **state)
{
	enum { NT = 10 };
	struct sched_test t[NT];
	char ids[NT][16];
	struct sched *s;
	size_t out[8];

	(void)state;
	for (size_t i = 0; i < NT; i++) {
		snprintf(ids[i], sizeof(ids[i]), "t.py::t%zu", i);
		t[i] = (struct sched_test){ ids[i], "t.py", NULL, i >= 8 ? 4.0 : 1.0 };
	}
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, t, NT, 2, 1);
	for (size_t k = 0; k < 5; k++)
		for (size_t w = 0; w < 2; w++) {
			assert_int_equal(sched_next(s, w, out, 8), 1);
			if (out[0] != 2 * k + w)
				fail_msg("worker %zu, step %zu: got test %zu, want %zu", w, k, out[0], 2 * k + w);
			sched_complete(s, w, out[0]);
		}
	assert_true(sched_done(s));
	sched_free(s);

	/* --longest-first: the two long ones start first. */
	s = sched_new(SCHED_LOAD, SCHED_ORDER_LONGEST, t, NT, 2, 1);
	assert_int_equal(sched_next(s, 0, out, 8), 1);
	assert_int_equal(out[0], 8);
	assert_int_equal(sched_next(s, 1, out, 8), 1);
	assert_int_equal(out[0], 9);
	sched_free(s);
}

/* A worker that runs ahead of its plan takes units from the plan of one
 * that runs behind, only units after the last one it took; what is left
 * before its position stays with the owner, and it is then finished. */
static void
test_history_rebalance_exact(void **state)
{
	enum { NT = 12 };
	struct sched_test t[NT];
	char ids[NT][16];
	struct sched *s;
	size_t out[8], got[NT], n = 0, owner_left = 0;

	(void)state;
	for (size_t i = 0; i < NT; i++) {
		snprintf(ids[i], sizeof(ids[i]), "t.py::t%zu", i);
		t[i] = (struct sched_test){ ids[i], "t.py", NULL, 1.0 };
	}
	/* Plans: w0 {0,2,4,6,8,10}, w1 {1,3,5,7,9,11}. */
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, t, NT, 2, 1);
	assert_int_equal(sched_next(s, 1, out, 8), 1);
	assert_int_equal(out[0], 1); /* w1 stays in test 1 */
	while (sched_next(s, 0, out, 8) == 1) {
		got[n++] = out[0];
		sched_complete(s, 0, out[0]);
	}
	assert_true(sched_worker_finished(s, 0));
	assert_int_equal(got[0], 0);
	for (size_t k = 1; k < n; k++)
		if (got[k] <= got[k - 1])
			fail_msg("w0 ran test %zu after test %zu", got[k], got[k - 1]);
	if (n <= 6)
		fail_msg("w0 ran %zu tests: none of the slow worker's", n);
	/* w1 runs the rest of its plan, all before w0's last, in order. */
	sched_complete(s, 1, 1);
	for (size_t last = 1; sched_next(s, 1, out, 8) == 1; last = out[0], owner_left++) {
		assert_true(out[0] > last);
		assert_true(out[0] < got[n - 1]);
		sched_complete(s, 1, out[0]);
	}
	assert_int_equal(n + 1 + owner_left, NT);
	assert_true(owner_left > 0);
	assert_true(sched_done(s));
	sched_free(s);

	/* Plans are stolen only from workers that hold two units or more or
	 * are busy: 6 tests on 4 workers, w0 {0,4}, w1 {1,5}, w2 {2}, w3 {3}.
	 * w2 runs through its plan while nobody else has asked: it takes the
	 * back unit of each plan with two. */
	s = sched_new(SCHED_LOAD, SCHED_ORDER_SUITE, t, 6, 4, 1);
	assert_int_equal(sched_next(s, 2, out, 8), 1);
	assert_int_equal(out[0], 2);
	sched_complete(s, 2, 2);
	assert_int_equal(sched_next(s, 2, out, 8), 1);
	assert_int_equal(out[0], 4); /* ties: the lower worker */
	sched_complete(s, 2, 4);
	assert_int_equal(sched_next(s, 2, out, 8), 1);
	assert_int_equal(out[0], 5);
	sched_complete(s, 2, 5);
	/* Left: w0 and w1 hold one unit each and have not asked: not stolen
	 * (nor could they be: both come before 5). */
	assert_int_equal(sched_next(s, 2, out, 8), 0);
	assert_true(sched_worker_finished(s, 2));
	assert_int_equal(sched_next(s, 0, out, 8), 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(sched_next(s, 1, out, 8), 1);
	assert_int_equal(out[0], 1);
	sched_free(s);
}

/* fixed: each worker gets exactly its sequence, in order, the same test
 * may be in several; a lost worker's rest is dropped, never moved; the
 * name is not a --dist choice. */
static void
test_fixed_exact(void **state)
{
	struct sched_test t[4] = { { "a", "f", NULL, 9 }, { "b", "f", NULL, 1 }, { "c", "f", NULL, 5 }, { "d", "f", NULL, 2 } };
	const size_t s0[] = { 3, 0, 2 }, s1[] = { 1, 2 };
	const size_t *seqs[] = { s0, s1 };
	const size_t nseqs[] = { 3, 2 };
	struct sched *s;
	size_t out[8];

	(void)state;
	assert_int_equal(sched_mode_parse("fixed"), -1);
	assert_string_equal(sched_mode_name(SCHED_FIXED), "fixed");
	s = sched_new_fixed(t, 4, 2, 2, seqs, nseqs);
	assert_int_equal(sched_next(s, 0, out, 8), 2); /* prefetch 2 */
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 0);
	assert_int_equal(sched_next(s, 1, out, 8), 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_true(sched_worker_finished(s, 1));
	assert_false(sched_worker_finished(s, 0));
	sched_complete(s, 0, 3);
	assert_int_equal(sched_next(s, 0, out, 8), 1);
	assert_int_equal(out[0], 2); /* in order, even though c is in gw1's too */
	sched_complete(s, 1, 1);
	sched_complete(s, 1, 2);
	/* gw0 crashes running a: c, sent and not begun, is dropped. */
	assert_int_equal(sched_worker_lost(s, 0, 0), 0);
	assert_int_equal(sched_unsent(s), 0);
	assert_true(sched_done(s));
	sched_free(s);

	/* Lost before anything was sent: the whole sequence is dropped. */
	s = sched_new_fixed(t, 4, 2, 2, seqs, nseqs);
	assert_int_equal(sched_worker_lost(s, 0, NONE), 0);
	assert_int_equal(sched_next(s, 0, out, 8), 0);
	assert_int_equal(sched_unsent(s), 2);
	sched_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_names),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_load_exact),
		cmocka_unit_test(test_loadscope_keys),
		cmocka_unit_test(test_loadfile_loadgroup_exact),
		cmocka_unit_test(test_history_order),
		cmocka_unit_test(test_worksteal_exact),
		cmocka_unit_test(test_sim_all_modes),
		cmocka_unit_test(test_sim_lost),
		cmocka_unit_test(test_sim_cancel),
		cmocka_unit_test(test_sim_worksteal_slow),
		cmocka_unit_test(test_lost_exact),
		cmocka_unit_test(test_lost_scope_unit_stays_together),
		cmocka_unit_test(test_load_history_cap),
		cmocka_unit_test(test_cancel_exact),
		cmocka_unit_test(test_worker_finished),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_history_keeps_suite_order),
		cmocka_unit_test(test_history_longest_and_faults),
		cmocka_unit_test(test_history_split_exact),
		cmocka_unit_test(test_history_rebalance_exact),
		cmocka_unit_test(test_fixed_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
