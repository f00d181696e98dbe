/* The scheduler: which test runs on which worker, and when. Pure code: it
 * takes the collection, the expected durations and worker events, and
 * returns assignments; it never does I/O or reads a clock, so every mode
 * can be tested and simulated at any scale.
 *
 * Model: tests are grouped into units that must stay on one worker (one
 * test per unit in `load`; a class/module, a file or an xdist_group in the
 * scope modes). Without durations, units wait in a shared queue in
 * collection order, as in pytest-xdist. With durations (SCHED_ORDER_SUITE,
 * the default) each worker gets a plan: a balanced share of the units
 * (longest-processing-time first into the least loaded worker), run in
 * collection order, so every worker sees the suite's order (pytest-django
 * runs plain database tests before transactional ones on purpose); an idle
 * worker steals units from the back of the busiest plan, only ones that
 * come after everything it already ran. SCHED_ORDER_LONGEST hands units out
 * longest first from the shared queue instead (the suite's order is lost).
 * A worker owns a private queue of tests from the units it took; at most
 * `prefetch` of its tests are handed out (sent) and not yet completed, so
 * it never waits on a round trip and unsent work can still move (steal,
 * cancel, crash). */
#ifndef XDOCK_SCHED_H
#define XDOCK_SCHED_H

#include <stdbool.h>
#include <stddef.h>

enum sched_mode {
	SCHED_LOAD,
	SCHED_LOADSCOPE,
	SCHED_LOADFILE,
	SCHED_LOADGROUP,
	SCHED_WORKSTEAL,
	SCHED_EACH,
	SCHED_NO,
	/* Not a --dist name: each worker runs a given sequence, in order
	 * (replay, bisect); see sched_new_fixed. */
	SCHED_FIXED,
};

/* Returns -1 when the name is unknown. */
int sched_mode_parse(const char *name);
const char *sched_mode_name(enum sched_mode mode);

struct sched_test {
	const char *id;    /* node id, borrowed */
	const char *file;  /* borrowed */
	const char *group; /* xdist_group, borrowed, NULL if none */
	double expected;   /* seconds; < 0 when unknown */
};

/* What known durations may do to the order (load, loadscope, loadfile,
 * loadgroup, worksteal; `each` and `no` always run in collection order). */
enum sched_order {
	SCHED_ORDER_SUITE,   /* balance the shares, keep collection order per worker */
	SCHED_ORDER_LONGEST, /* longest first across the suite (--longest-first) */
};

struct sched;

/* tests are borrowed for the scheduler's lifetime. prefetch >= 1. */
struct sched *sched_new(enum sched_mode mode, enum sched_order order, const struct sched_test *tests, size_t ntests,
			size_t nworkers, size_t prefetch);
/* SCHED_FIXED: worker w runs exactly seqs[w][0..nseqs[w]) (indexes into
 * tests, in that order; one test may be in several workers' sequences).
 * Nothing moves between workers, and a lost worker's unsent rest is
 * dropped: a replayed sequence that crashed early must not finish in
 * another process. */
struct sched *sched_new_fixed(const struct sched_test *tests, size_t ntests, size_t nworkers, size_t prefetch,
			      const size_t *const *seqs, const size_t *nseqs);
void sched_free(struct sched *s);

/* Tests to send to worker w now: writes up to max test indexes to out and
 * returns how many. 0 means nothing for now; see sched_worker_finished. */
size_t sched_next(struct sched *s, size_t w, size_t *out, size_t max);
/* Test t, sent to worker w, has its final outcome. */
void sched_complete(struct sched *s, size_t w, size_t t);
/* Worker w is gone. Tests sent to it and not completed, except `except`
 * (pass (size_t)-1 for none: the test that crashed it has an outcome), go
 * back to the front of the shared queue, and so does its private queue;
 * a replacement worker can take them. Returns how many were requeued. */
size_t sched_worker_lost(struct sched *s, size_t w, size_t except);
/* Nothing more will ever come for w: time to tell it bye. */
bool sched_worker_finished(const struct sched *s, size_t w);
/* Every test has completed (or was cancelled). */
bool sched_done(const struct sched *s);
/* -x / --maxfail: drop all unsent work. Writes the dropped test indexes to
 * out (up to max) and returns the count dropped. */
size_t sched_cancel(struct sched *s, size_t *out, size_t max);
/* Tests not yet sent to any worker. */
size_t sched_unsent(const struct sched *s);
/* Tests sent to w and not yet completed. */
size_t sched_inflight(const struct sched *s, size_t w);
/* Tests not yet completed (or cancelled), sent or not. */
size_t sched_remaining(const struct sched *s);

#endif
