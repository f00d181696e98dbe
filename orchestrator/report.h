/* What a run produced, and the files that carry it out: the JSON report,
 * JUnit XML, the summary line. Pure: these functions format into buffers;
 * report_save writes a buffer to a path atomically. */
#ifndef XDOCK_REPORT_H
#define XDOCK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "error.h"
#include "outcome.h"

struct sequence;
struct cJSON;

/* One earlier try of a test that --reruns ran again. */
struct report_attempt {
	enum outcome outcome;
	int worker;
	double duration;
	char *longrepr;
};

struct report_test {
	char *id, *file, *group;
	enum outcome outcome;   /* OUTCOME_NONE: not run, see reason */
	double duration;        /* seconds, setup + call + teardown */
	int worker;             /* index into workers, -1 if never run */
	char *when;             /* phase that decided the outcome */
	char *longrepr;         /* failure text, skip reason, crash reason */
	char *out, *err;        /* captured output, capped */
	char *reason;           /* why not run, when outcome is OUTCOME_NONE */
	struct report_attempt *attempts; /* failed tries before the final one */
	size_t nattempts;
	bool flaky;             /* failed, then passed on a rerun */
	/* --reruns-replay: REPORT_ORDER_DEPENDENT when replaying the failed
	 * try's sequence failed it again, REPORT_FLAKY_ALONE when not; NULL
	 * when not replayed. Static strings. */
	const char *flaky_kind;
	bool quarantined;       /* listed in --quarantine: a failure does not fail the run */
};

#define REPORT_ORDER_DEPENDENT "order-dependent"
#define REPORT_FLAKY_ALONE "flaky on its own"

struct report_worker {
	char name[16];          /* gwN */
	char *database;         /* NULL with --db none */
	char *container;        /* full id */
	char *engine;           /* the engine's address it last ran on */
	size_t engine_index;    /* that engine's place among the run's (one address may be given twice) */
	const char *channel;    /* static: "local" or "attach", what carried its protocol; NULL: no hello */
	size_t tests;           /* tests it ran */
};

/* Start-up split: how long each step before the first test took, and
 * when it ran: steps overlap (the databases are made while the
 * containers start and the workers collect). */
struct report_phase {
	const char *name;       /* static string */
	double seconds;         /* its own time (a sum where it ran in pieces) */
	double start, end;      /* seconds since the run's start */
};

/* When something ran, in ms since the run's start; end <= start: never. */
struct report_span {
	int64_t start_ms, end_ms;
};
#define REPORT_MAX_PHASES 12

struct report {
	char *run_id;
	char *image;
	const char *dist;
	struct report_test *tests;
	size_t ntests;
	struct report_worker *workers;
	size_t nworkers;
	char **collect_errors;
	size_t ncollect_errors;
	double wall;            /* seconds */
	double startup;         /* seconds until the first test could run */
	double first_result;    /* seconds until the first result; 0: none yet */
	int exit_code;
	bool fail_on_flaky;     /* --fail-on-flaky */
	int64_t started_unix;   /* wall-clock start, for JUnit's timestamp */
	struct report_phase phases[REPORT_MAX_PHASES];
	size_t nphases;
	struct sequence *seq;   /* what each worker ran, in order; owned, may be NULL */
	struct cJSON *invocation; /* what a replay needs (lastrun.h); owned, may be NULL */
};

/* Records that step `name` (a static string) took seconds, right after
 * the step recorded before it. */
void report_phase(struct report *r, const char *name, double seconds);
/* Records step `name`, which took seconds and ran from start to end. */
void report_phase_at(struct report *r, const char *name, double seconds, double start, double end);

void report_release(struct report *r);
/* Frees what one test owns (not the struct itself). */
void report_test_release(struct report_test *t);
void report_counts(const struct report *r, size_t counts[OUTCOME__COUNT]);
/* Whether an outcome fails a run: failed, error, crashed, timeout. */
bool report_is_failure(enum outcome o);
/* Records a failed try of test t before it runs again (--reruns). */
void report_add_attempt(struct report_test *t, enum outcome o, int worker, double duration, const char *longrepr);
/* "3 failed, 120 passed, 2 skipped in 12.34s", pytest's order; "no tests
 * ran in 0.50s" when empty. */
void report_summary(const struct report *r, struct buf *b);
/* The exit code pytest would give for these outcomes: 1 when any test
 * failed, errored, crashed or timed out (quarantined tests aside; flaky
 * ones too with fail_on_flaky), 5 when nothing was collected. */
int report_exit_code(const struct report *r);

/* The JSON report on one line, written as it is made (never whole in
 * memory); fails when out reports a write error. */
int report_json(const struct report *r, FILE *out, struct error **err);
/* report_json into path via a temporary file and rename. */
int report_save_json(const char *path, const struct report *r, struct error **err);
int report_junit(const struct report *r, struct buf *b, struct error **err);
/* Writes b to path via a temporary file and rename. */
int report_save(const char *path, const struct buf *b, struct error **err);

#endif
