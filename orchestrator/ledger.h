/* The outcome ledger of one run: the protocol state of every worker slot,
 * the run's list of tests and each test's outcome. Messages go in;
 * outcomes, scheduler calls and queued commands (run, bye, stop) come out.
 * No I/O and no clock of its own (times are given), so it is unit-tested
 * and fuzzed on its own. */
#ifndef XDOCK_LEDGER_H
#define XDOCK_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "history.h"
#include "msg.h"
#include "quarantine.h"
#include "report.h"
#include "sched.h"
#include "sequence.h"
#include "term.h"

/* Tests handed to a worker and not yet finished. Two keeps the runner from
 * waiting on a round trip (it needs the next item to know `nextitem`); a
 * third absorbs jitter. That is the floor, and a worker is refilled when it
 * is down to two in flight. See ledger_prefetch_target for when it gets
 * more. */
#define LEDGER_PREFETCH 3
#define LEDGER_PREFETCH_MAX 8
#define LEDGER_REFILL_AT 2
#define LEDGER_BATCH 64
/* Tests shorter than this on average cost less than the messages that
 * carry them (a relay through the engine each way, wake-ups of the agent
 * and the runner): only then are they sent several to a message. */
#define LEDGER_SHORT_TEST_S 0.02
/* ... judged on the mean of at least this many results. */
#define LEDGER_MEAN_AFTER 32

/* How many tests a worker should hold after a refill: the floor, unless
 * the tests finished so far are short on average (mean_s >= 0, below
 * LEDGER_SHORT_TEST_S), then a quarter of its share of the `remaining`
 * tests, up to LEDGER_PREFETCH_MAX, so one `run` message carries several.
 * Longer tests keep the floor: more in flight would only make the tail
 * worse (work stuck behind a long test), for a saving that is small next to
 * the test itself. Pure; tools/xdock-simulate uses it too. */
size_t ledger_prefetch_target(size_t remaining, size_t nworkers, double mean_s);

/* Where a worker slot stands in the protocol. */
enum ledger_state {
	LEDGER_IDLE,       /* no container in this slot */
	LEDGER_STARTED,    /* container running, hello queued or sent */
	LEDGER_READY,      /* hello answered */
	LEDGER_COLLECTED,  /* collection received, running tests */
	LEDGER_EXITED,     /* the agent said exit, or the stream ended */
};

struct ledger_worker {
	char name[16];          /* gwN, as the report names it */
	enum ledger_state state;
	long current;           /* collection index running now, -1 none */
	bool bye_sent;
	bool done;              /* runner said done */
	bool collected;         /* runner sent its collection */
	bool admitted;          /* its database exists: tests may be handed out */
	bool broken;            /* broke the protocol: to be killed, nothing it says counts */
	bool said_exit;         /* the agent's last line came */
	size_t *given;          /* collection indexes sent to it and not finished */
	size_t ngiven;
	struct buf *out;        /* the slot's command queue; not owned */
};

struct ledger {
	const struct config *cfg;
	struct report *rep;     /* not owned; tests[] made by the first collection */
	struct term *term;      /* not owned */
	const struct quarantine *quarantine; /* not owned, may be NULL */
	struct history *hist;   /* not owned, NULL with --no-history */
	int64_t t0;             /* when the run began (ms) */
	struct ledger_worker *w;
	size_t nw;
	bool have_collection;
	size_t collection_owner; /* the worker whose collection is canonical */
	/* The scheduler sees only the tests this run will run (--shard may
	 * keep a part, a rerun round only its tests); indexes on the wire
	 * are collection indexes. */
	struct sched *sched;
	struct sched_test *stests;
	size_t *s2c, *c2s;
	size_t nsched;
	bool *selected;          /* collection index -> in this run (not another shard's) */
	size_t *reruns;          /* collection indexes waiting for another try */
	size_t nreruns;
	size_t failures;
	double result_seconds;   /* summed durations of the results so far */
	size_t nresults;
	bool stopping;           /* no more work handed out */
	bool maxfail_hit;        /* -x / --maxfail: queued work is taken back */
	bool early_exit;         /* a worker's pytest ended before its collection */
	bool interrupted;
	struct error *fatal;     /* stops the run; the first one wins */
	struct history_eta eta;
	bool eta_on;
	/* replay, bisect: the sequences to run (SCHED_FIXED), set after
	 * ledger_init; not owned. plan_idx: them as collection indexes. */
	const struct sequence_plan *plan;
	size_t **plan_idx;
	int64_t now_ms;          /* the time of the last event given */
};

/* rep->workers must have nw entries (their names are the slots' names). */
void ledger_init(struct ledger *l, const struct config *cfg, size_t nw, struct report *rep, struct term *term,
		 const struct quarantine *q, struct history *hist, int64_t t0);
void ledger_release(struct ledger *l);

/* Slot wi has no container (IDLE), or a freshly started one whose
 * commands go to out (STARTED; started at now_ms: its sequence begins,
 * with the container and database rep->workers[wi] names), or one that
 * could not start (EXITED). */
void ledger_worker_idle(struct ledger *l, size_t wi);
void ledger_worker_started(struct ledger *l, size_t wi, struct buf *out, int64_t now_ms);
/* Slot wi's database exists: tests may go to it from now on (it may have
 * collected already; it was greeted when its container started). */
void ledger_admit(struct ledger *l, size_t wi);
void ledger_worker_failed(struct ledger *l, size_t wi);

/* One message from worker wi, at now_ms. Every field is checked against
 * what the ledger knows of that worker before it is used: a message that
 * does not fit (an index out of range or not given to it, a result before
 * collection or for a test not running, a second collection, ...) makes
 * the worker broken: its running test is crashed with a reason that says
 * so, its other tests go back to the scheduler, and -1 tells the caller
 * to kill its container. Once a worker has exited only the agent's exit
 * line (after a crash) is heard; after it, or once broken, nothing. */
int ledger_handle(struct ledger *l, size_t wi, struct msg *m, int64_t now_ms);
/* Worker wi sent bytes that are no message at all (what says how): as a
 * message that does not fit. Returns -1. */
int ledger_broke(struct ledger *l, size_t wi, const char *what);
/* Worker wi's stream ended without it saying exit; why and output say
 * how (output may be NULL). */
void ledger_worker_gone(struct ledger *l, size_t wi, const char *why, const char *output, int64_t now_ms);

/* Records the error that stops the run (the first one wins). */
void ledger_fail(struct ledger *l, int status, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* A signal asked the run to stop. */
void ledger_interrupt(struct ledger *l);
/* Nothing more is handed out; every test without an outcome gets reason. */
void ledger_abandon(struct ledger *l, const char *reason);

/* Whether scheduled work is left that a replacement worker could run. */
bool ledger_work_left(const struct ledger *l);
/* Work is left while no live worker will ever ask for it: every live
 * worker has been told bye. */
bool ledger_work_orphaned(const struct ledger *l);

/* --reruns: schedules the tests waiting for another try as a new round
 * and returns how many there are (0: no round). */
size_t ledger_rerun_round(struct ledger *l);

/* Gives every test still without an outcome its reason, drops the tests
 * --shard left to other shards, and sets the wall time. */
void ledger_finish(struct ledger *l, int64_t now_ms);

#endif
