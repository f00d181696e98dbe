#include "sched.h"
#include "sched_priv.h"

#include <stdint.h>
#include <string.h>

#include "util.h"

static const char *const mode_names[] = {
	[SCHED_LOAD] = "load",
	[SCHED_LOADSCOPE] = "loadscope",
	[SCHED_LOADFILE] = "loadfile",
	[SCHED_LOADGROUP] = "loadgroup",
	[SCHED_WORKSTEAL] = "worksteal",
	[SCHED_EACH] = "each",
	[SCHED_NO] = "no",
	[SCHED_FIXED] = "fixed",
};

int
sched_mode_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++)
		if (i != SCHED_FIXED && strcmp(name, mode_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
sched_mode_name(enum sched_mode mode)
{
	return (size_t)mode < ARRAY_SIZE(mode_names) ? mode_names[mode] : "?";
}

struct sched *
sched_new(enum sched_mode mode, enum sched_order order, const struct sched_test *tests, size_t ntests,
	  size_t nworkers, size_t prefetch)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->mode = mode;
	s->hist_order = order;
	s->tests = tests;
	s->ntests = ntests;
	s->nworkers = nworkers ? nworkers : 1;
	s->prefetch = prefetch ? prefetch : 1;
	s->order = xcalloc(ntests ? ntests : 1, sizeof(*s->order));
	s->unit_of = xcalloc(ntests ? ntests : 1, sizeof(*s->unit_of));
	s->w = xcalloc(s->nworkers, sizeof(*s->w));
	for (size_t i = 0; i < s->nworkers; i++)
		s->w[i].sent = xcalloc(s->prefetch, sizeof(size_t));
	sched_build_units(s);
	if (s->planned) {
		sched_plan_units(s);
		s->remaining = ntests;
		return s;
	}

	switch (mode) {
	case SCHED_EACH:
		for (size_t w = 0; w < s->nworkers; w++)
			for (size_t i = 0; i < ntests; i++)
				q_push(&s->w[w].own, s->order[i]);
		s->remaining = ntests * s->nworkers;
		break;
	case SCHED_NO:
		for (size_t i = 0; i < ntests; i++)
			q_push(&s->w[0].own, i); /* collection order, one worker */
		s->remaining = ntests;
		break;
	case SCHED_FIXED:
		break; /* sched_new_fixed fills the queues */
	case SCHED_WORKSTEAL:
		/* Even shares up front, dealt round-robin over the ordered
		 * units so every worker starts with a mix of long and short. */
		for (size_t u = 0; u < s->nunits; u++)
			for (size_t k = 0; k < s->units[u].n; k++)
				q_push(&s->w[u % s->nworkers].own, s->order[s->units[u].first + k]);
		s->remaining = ntests;
		break;
	default:
		for (size_t u = 0; u < s->nunits; u++)
			q_push(&s->shared, u);
		s->remaining = ntests;
	}
	return s;
}

struct sched *
sched_new_fixed(const struct sched_test *tests, size_t ntests, size_t nworkers, size_t prefetch,
		const size_t *const *seqs, const size_t *nseqs)
{
	struct sched *s = sched_new(SCHED_FIXED, SCHED_ORDER_SUITE, tests, ntests, nworkers, prefetch);

	for (size_t w = 0; w < s->nworkers; w++) {
		for (size_t k = 0; k < nseqs[w]; k++) {
			if (seqs[w][k] >= ntests)
				continue;
			q_push(&s->w[w].own, seqs[w][k]);
			s->remaining++;
		}
	}
	return s;
}

/* Modes where each worker has its own queue and never takes shared work. */
static bool
private_queues(const struct sched *s)
{
	return s->mode == SCHED_EACH || s->mode == SCHED_NO || s->mode == SCHED_FIXED;
}

void
sched_free(struct sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nworkers; i++) {
		free(s->w[i].own.v);
		free(s->w[i].plan.v);
		free(s->w[i].sent);
	}
	free(s->w);
	free(s->order);
	free(s->unit_of);
	free(s->units);
	free(s->shared.v);
	free(s->loose.v);
	free(s);
}

/* worksteal: an idle worker takes half of the unsent tests of the worker
 * with the most, from the back of its queue. */
static bool
steal(struct sched *s, size_t w)
{
	size_t victim = w, most = 0;

	for (size_t i = 0; i < s->nworkers; i++)
		if (i != w && !s->w[i].lost && s->w[i].own.len > most)
			most = s->w[i].own.len, victim = i;
	if (most == 0)
		return false;
	for (size_t k = most > 1 ? most / 2 : 1; k > 0; k--) {
		struct queue *q = &s->w[victim].own;

		q_push_front(&s->w[w].own, q->v[q->head + q->len - 1]);
		q->len--;
	}
	return true;
}

static bool
scoped(const struct sched *s)
{
	return s->mode == SCHED_LOADSCOPE || s->mode == SCHED_LOADFILE || s->mode == SCHED_LOADGROUP;
}

/* Planned: whose plan w, with none of its own left, may steal from. Only
 * units after the last one w took keep w's order; a plan is a victim only
 * while its owner is busy or holds two units or more (stealing the one
 * unit of a worker that has not asked yet only moves the wait); and only
 * when its last unit would end sooner on w than on its owner (a worker
 * still running a long test must not take the long unit its owner is
 * about to start). The busiest such plan by expected work; none:
 * (size_t)-1, and then w is finished: the runner holds its last test
 * until it hears of a next one or bye, so "nothing now, maybe later"
 * would stall it. */
static size_t
steal_victim(const struct sched *s, size_t w)
{
	const struct wstate *ws = &s->w[w];
	size_t victim = (size_t)-1;

	for (size_t i = 0; i < s->nworkers; i++) {
		const struct wstate *v = &s->w[i];

		if (i == w || v->lost || v->plan.len == 0 || q_back(&v->plan) < ws->next_unit)
			continue;
		if (v->nsent == 0 && v->own.len == 0 && v->plan.len < 2)
			continue;
		if (ws->plan_cost + ws->sent_cost + s->units[q_back(&v->plan)].cost >= v->plan_cost + v->sent_cost)
			continue;
		if (victim == (size_t)-1 || v->plan_cost > s->w[victim].plan_cost)
			victim = i;
	}
	return victim;
}

static double
expected(const struct sched *s, size_t t)
{
	return s->tests[t].expected >= 0 ? s->tests[t].expected : s->median;
}

/* Puts unit u into w's plan at its place in collection order. */
static void
plan_insert(struct sched *s, size_t w, size_t u)
{
	struct queue *q = &s->w[w].plan;
	size_t k = q->len;

	q_push(q, u);
	while (k > 0 && q->v[q->head + k - 1] > u) {
		q->v[q->head + k] = q->v[q->head + k - 1];
		k--;
	}
	q->v[q->head + k] = u;
	s->w[w].plan_cost += s->units[u].cost;
}

/* How many units from the back of a plan rebalance looks at. */
#define SCHED_REBALANCE_SCAN 8

/* Planned: the plans were balanced on expected durations, which are off
 * by run-to-run jitter. Each time w takes a unit, if the worker with the
 * most work left (in flight and planned) is ahead of w by more than twice
 * a unit near the back of its plan, that unit moves into w's plan, at its
 * place: only units after the last one w took, so w's order holds. Done
 * all along the run, the errors are corrected while there is still work
 * after every worker's position, not only at the end. */
static void
rebalance(struct sched *s, size_t w)
{
	struct wstate *ws = &s->w[w];

	for (int moves = 0; moves < SCHED_REBALANCE_SCAN; moves++) {
		size_t victim = (size_t)-1, pick = (size_t)-1;
		double most = 0, gap;
		struct queue *q;

		for (size_t i = 0; i < s->nworkers; i++) {
			double left = s->w[i].plan_cost + s->w[i].sent_cost;

			if (i != w && !s->w[i].lost && s->w[i].plan.len > 0 && left > most)
				most = left, victim = i;
		}
		if (victim == (size_t)-1)
			return;
		gap = most - (ws->plan_cost + ws->sent_cost);
		q = &s->w[victim].plan;
		for (size_t k = 0; k < q->len && k < SCHED_REBALANCE_SCAN; k++) {
			size_t u = q->v[q->head + q->len - 1 - k];

			if (u < ws->next_unit)
				break; /* and everything before it */
			if (2 * s->units[u].cost <= gap && s->units[u].cost > 0) {
				pick = q->len - 1 - k;
				break;
			}
		}
		if (pick == (size_t)-1)
			return;
		{
			size_t u = q->v[q->head + pick];

			memmove(q->v + q->head + pick, q->v + q->head + pick + 1, (q->len - pick - 1) * sizeof(*q->v));
			q->len--;
			s->w[victim].plan_cost = q->len > 0 ? s->w[victim].plan_cost - s->units[u].cost : 0;
			plan_insert(s, w, u);
		}
	}
}

/* Planned: w takes the next unit of its plan (after a rebalance); with
 * none left it first steals units from the back of the busiest plan,
 * about half its expected work (one unit at least), keeping them in
 * collection order. */
static bool
take_planned(struct sched *s, size_t w)
{
	struct wstate *ws = &s->w[w];
	const struct unit *unit;
	size_t u;

	rebalance(s, w);
	if (ws->plan.len == 0) {
		size_t victim = steal_victim(s, w);
		struct wstate *vs;

		if (victim == (size_t)-1)
			return false;
		vs = &s->w[victim];
		while (vs->plan.len > 0 && q_back(&vs->plan) >= ws->next_unit) {
			const struct unit *b = &s->units[q_back(&vs->plan)];
			double mine = ws->plan_cost + ws->sent_cost, theirs = vs->plan_cost + vs->sent_cost;

			/* Only while it ends sooner here (steal_victim checked
			 * the first unit): later ones must leave the thief the
			 * lighter. */
			if (mine + b->cost >= theirs || (ws->plan.len > 0 && mine + b->cost > theirs - b->cost))
				break;
			q_push_front(&ws->plan, q_back(&vs->plan));
			vs->plan.len--;
			vs->plan_cost -= b->cost;
			ws->plan_cost += b->cost;
		}
		if (vs->plan.len == 0)
			vs->plan_cost = 0; /* no drift from the subtractions */
	}
	u = q_pop(&ws->plan);
	unit = &s->units[u];
	ws->plan_cost = ws->plan.len > 0 ? ws->plan_cost - unit->cost : 0;
	ws->next_unit = u + 1;
	for (size_t k = 0; k < unit->n; k++)
		q_push(&ws->own, s->order[unit->first + k]);
	return true;
}

/* Moves the next unit (or put-back test) into w's own queue. */
static bool
take(struct sched *s, size_t w)
{
	if (s->loose.len > 0) {
		size_t t = q_pop(&s->loose), u = s->unit_of[t], keep = 0;

		q_push(&s->w[w].own, t);
		if (!scoped(s))
			return true;
		/* The rest of a lost worker's unit comes along: two live
		 * workers must never share a class, file or group. */
		for (size_t k = 0; k < s->loose.len; k++) {
			size_t x = s->loose.v[s->loose.head + k];

			if (s->unit_of[x] == u)
				q_push(&s->w[w].own, x);
			else
				s->loose.v[s->loose.head + keep++] = x;
		}
		s->loose.len = keep;
		return true;
	}
	if (s->planned)
		return take_planned(s, w);
	if (s->shared.len > 0) {
		struct unit *u = &s->units[q_pop(&s->shared)];

		for (size_t k = 0; k < u->n; k++)
			q_push(&s->w[w].own, s->order[u->first + k]);
		return true;
	}
	if (s->mode == SCHED_WORKSTEAL)
		return steal(s, w);
	return false;
}

/* Planned: a worker with two tests in flight (the runner's current and
 * next) takes a new unit only while its expected in-flight time stays
 * under the cap, so units stay in the plan where an idle worker can
 * still steal them; near the end that is what evens the finish. */
static bool
within_cap_planned(const struct sched *s, size_t w)
{
	const struct wstate *ws = &s->w[w];

	if (s->inflight_cap <= 0 || ws->nsent < 2 || ws->own.len > 0 || s->loose.len > 0)
		return true;
	if (ws->plan.len == 0)
		return false; /* a steal can wait until this worker needs it */
	return ws->sent_cost + s->units[ws->plan.v[ws->plan.head]].cost <= s->inflight_cap;
}

/* Longest-first plus prefetch has a trap: the first worker to ask would
 * take the three longest tests and run them one after another. With
 * history, a worker holding work already stops taking more once its
 * expected in-flight time passes the cap; and the second test it needs
 * (the runner holds a test until it knows the next one) comes from the
 * short end of the queue instead. Returns false when the worker should
 * take nothing more now. */
static bool
within_cap(struct sched *s, size_t w)
{
	struct wstate *ws = &s->w[w];
	double inflight = 0;
	const struct unit *front, *back;

	if (s->planned)
		return within_cap_planned(s, w);
	if (s->inflight_cap <= 0 || ws->nsent == 0 || ws->own.len > 0 || s->loose.len > 0 || s->shared.len == 0 ||
	    (s->mode != SCHED_LOAD && s->mode != SCHED_LOADGROUP))
		return true;
	for (size_t i = 0; i < ws->nsent; i++) {
		double e = s->tests[ws->sent[i]].expected;

		inflight += e >= 0 ? e : s->median;
	}
	front = &s->units[s->shared.v[s->shared.head]];
	if (inflight + front->cost <= s->inflight_cap)
		return true;
	if (ws->nsent >= 2)
		return false;
	back = &s->units[s->shared.v[s->shared.head + s->shared.len - 1]];
	s->shared.len--;
	for (size_t k = 0; k < back->n; k++)
		q_push(&ws->own, s->order[back->first + k]);
	return true;
}

size_t
sched_next(struct sched *s, size_t w, size_t *out, size_t max)
{
	struct wstate *ws = &s->w[w];
	size_t n = 0;

	if (ws->lost || (s->mode == SCHED_NO && w != 0))
		return 0;
	while (n < max && ws->nsent < s->prefetch) {
		if (!within_cap(s, w))
			break;
		if (ws->own.len == 0 && (private_queues(s) || !take(s, w)))
			break;
		if (ws->own.len == 0)
			break;
		out[n] = q_pop(&ws->own);
		ws->sent[ws->nsent++] = out[n];
		ws->sent_cost += expected(s, out[n]);
		n++;
	}
	return n;
}

void
sched_complete(struct sched *s, size_t w, size_t t)
{
	struct wstate *ws = &s->w[w];

	for (size_t i = 0; i < ws->nsent; i++) {
		if (ws->sent[i] == t) {
			memmove(ws->sent + i, ws->sent + i + 1, (ws->nsent - i - 1) * sizeof(size_t));
			ws->nsent--;
			ws->sent_cost = ws->nsent > 0 ? ws->sent_cost - expected(s, t) : 0;
			s->remaining--;
			return;
		}
	}
}

size_t
sched_worker_lost(struct sched *s, size_t w, size_t except)
{
	struct wstate *ws = &s->w[w];
	size_t n = 0;

	/* In `each` the replacement worker takes over the same slot and the
	 * same private queue; elsewhere work goes back to be shared. */
	for (size_t i = ws->nsent; i-- > 0;) {
		if (ws->sent[i] == except || s->cancelled || s->mode == SCHED_FIXED) {
			/* The crashed test has its outcome; after a cancel
			 * nothing goes back to be handed out again. */
			s->remaining--;
			continue;
		}
		if (s->mode == SCHED_EACH || s->mode == SCHED_NO)
			q_push_front(&ws->own, ws->sent[i]);
		else
			q_push_front(&s->loose, ws->sent[i]);
		n++;
	}
	ws->nsent = 0;
	ws->sent_cost = 0;
	if (s->mode == SCHED_FIXED) {
		s->remaining -= ws->own.len;
		ws->own.len = 0;
	} else if (s->mode != SCHED_EACH && s->mode != SCHED_NO) {
		/* The unsent rest of this worker's units goes back as loose
		 * tests in order; take() hands a unit's loose tests to one
		 * worker together. */
		while (ws->own.len > 0) {
			q_push(&s->loose, q_pop(&ws->own));
			n++;
		}
		/* So does its plan: a replacement may never come, and loose
		 * tests go to whoever asks, whatever their place. */
		while (ws->plan.len > 0) {
			const struct unit *u = &s->units[q_pop(&ws->plan)];

			for (size_t k = 0; k < u->n; k++, n++)
				q_push(&s->loose, s->order[u->first + k]);
		}
		ws->plan_cost = 0;
		ws->next_unit = 0;
	}
	return n;
}

bool
sched_worker_finished(const struct sched *s, size_t w)
{
	const struct wstate *ws = &s->w[w];

	if (ws->own.len > 0 || ws->plan.len > 0)
		return false;
	if (private_queues(s))
		return true;
	if (s->shared.len > 0 || s->loose.len > 0)
		return false;
	if (s->planned)
		return steal_victim(s, w) == (size_t)-1;
	if (s->mode == SCHED_WORKSTEAL)
		for (size_t i = 0; i < s->nworkers; i++)
			if (i != w && !s->w[i].lost && s->w[i].own.len > 0)
				return false;
	return true;
}

bool
sched_done(const struct sched *s)
{
	return s->remaining == 0;
}

static size_t
drain(struct queue *q, size_t *out, size_t max, size_t n)
{
	while (q->len > 0) {
		size_t t = q_pop(q);

		if (n < max)
			out[n] = t;
		n++;
	}
	return n;
}

/* Like drain, for a queue of unit indexes: their tests, in order. */
static size_t
drain_units(const struct sched *s, struct queue *q, size_t *out, size_t max, size_t n)
{
	while (q->len > 0) {
		const struct unit *u = &s->units[q_pop(q)];

		for (size_t k = 0; k < u->n; k++, n++)
			if (n < max)
				out[n] = s->order[u->first + k];
	}
	return n;
}

size_t
sched_cancel(struct sched *s, size_t *out, size_t max)
{
	size_t n = 0;

	s->cancelled = true;
	for (size_t w = 0; w < s->nworkers; w++) {
		n = drain(&s->w[w].own, out, max, n);
		n = drain_units(s, &s->w[w].plan, out, max, n);
		s->w[w].plan_cost = 0;
	}
	n = drain(&s->loose, out, max, n);
	n = drain_units(s, &s->shared, out, max, n);
	s->remaining -= n < s->remaining ? n : s->remaining;
	return n;
}

size_t
sched_inflight(const struct sched *s, size_t w)
{
	return s->w[w].nsent;
}

size_t
sched_remaining(const struct sched *s)
{
	return s->remaining;
}

size_t
sched_unsent(const struct sched *s)
{
	size_t n = s->loose.len;

	for (size_t w = 0; w < s->nworkers; w++) {
		const struct queue *p = &s->w[w].plan;

		n += s->w[w].own.len;
		for (size_t i = 0; i < p->len; i++)
			n += s->units[p->v[p->head + i]].n;
	}
	for (size_t i = 0; i < s->shared.len; i++)
		n += s->units[s->shared.v[s->shared.head + i]].n;
	return n;
}
