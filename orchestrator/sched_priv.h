/* The scheduler's state, shared by sched.c (handing out work as workers
 * ask, stealing, losing a worker) and sched_plan.c (grouping tests into
 * units and dealing them by expected duration). No other file includes
 * it. */
#ifndef XDOCK_SCHED_PRIV_H
#define XDOCK_SCHED_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sched.h"
#include "util.h"

/* No unit, no slot, end of a chain. */
#define SCHED_NONE ((size_t)-1)

/* A FIFO of test indexes that can also take items back at the front. */
struct queue {
	size_t *v;
	size_t head, len, cap; /* items are v[head .. head+len) */
};

struct unit {
	size_t first, n; /* into s->order */
	double cost;
};

struct wstate {
	struct queue own;   /* tests bound to this worker, not yet sent */
	struct queue plan;  /* planned: unit indexes, increasing, not yet taken */
	double plan_cost;   /* expected seconds of the units in plan */
	double sent_cost;   /* expected seconds of the tests in sent */
	size_t next_unit;   /* planned: it may steal only units from here on */
	size_t *sent;       /* sent, not completed */
	size_t nsent;
	bool lost;
};

struct sched {
	enum sched_mode mode;
	enum sched_order hist_order;
	/* Durations known, suite order kept: units are in collection order
	 * and dealt into the workers' plans (see plan_units). */
	bool planned;
	const struct sched_test *tests;
	size_t ntests, nworkers, prefetch;
	size_t *order;         /* test indexes grouped by unit */
	struct unit *units;
	size_t nunits;
	size_t *unit_of;       /* test index -> index into units */
	bool cancelled;        /* sched_cancel ran: nothing is requeued */
	struct queue shared;   /* unit indexes not yet taken */
	struct queue loose;    /* single tests put back by a lost worker */
	struct wstate *w;
	size_t remaining;      /* tests (per worker for `each`) not completed */
	double median;         /* expected seconds of a test without history */
	/* Expected seconds a worker may hold in flight (load modes with
	 * history); 0: no limit. See sched_next. */
	double inflight_cap;
};

static inline void
q_push(struct queue *q, size_t x)
{
	if (q->head + q->len == q->cap) {
		if (q->head > 0) {
			memmove(q->v, q->v + q->head, q->len * sizeof(*q->v));
			q->head = 0;
		}
		if (q->len == q->cap) {
			q->cap = q->cap ? q->cap * 2 : 16;
			q->v = xrealloc(q->v, q->cap * sizeof(*q->v));
		}
	}
	q->v[q->head + q->len++] = x;
}

static inline void
q_push_front(struct queue *q, size_t x)
{
	if (q->head == 0) {
		size_t gap = q->len + 16;

		q->v = xrealloc(q->v, (q->len + gap) * sizeof(*q->v));
		memmove(q->v + gap, q->v, q->len * sizeof(*q->v));
		q->head = gap;
		q->cap = q->len + gap;
	}
	q->v[--q->head] = x;
	q->len++;
}

static inline size_t
q_pop(struct queue *q)
{
	q->len--;
	return q->v[q->head++];
}

static inline size_t
q_back(const struct queue *q)
{
	return q->v[q->head + q->len - 1];
}

/* Groups s->tests into units (s->order, s->units, s->unit_of) and, when
 * durations are known, decides s->planned and the in-flight cap. */
void sched_build_units(struct sched *s);
/* s->planned: deals the units into the workers' plans. */
void sched_plan_units(struct sched *s);

#endif
