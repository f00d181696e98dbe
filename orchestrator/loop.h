/* The event loop of a run: one poll() over the signalfd, every worker's
 * channel and the controller's; bytes to messages to the ledger; the
 * watchdog for silent agents; healing (a crashed worker replaced while
 * work remains); the --reruns rounds. Signals are heard here and nowhere
 * else. */
#ifndef XDOCK_LOOP_H
#define XDOCK_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller.h"
#include "error.h"
#include "fleet.h"
#include "ledger.h"
#include "term.h"

/* How long past --timeout a silent agent is given before its container is
 * killed (see the watchdog in loop_heal.c). */
#define LOOP_WATCHDOG_GRACE_MS 15000

struct loop {
	struct fleet *fleet;    /* not owned */
	struct ledger *ledger;  /* not owned */
	struct term *term;      /* not owned */
	struct controller *ctl; /* not owned; its container is the fleet's */
	int64_t ctl_failed_ms;  /* when the controller's failure was first seen */
	int sigfd;              /* not owned */
	int signals;            /* how many were heard */
	int restarts;           /* workers replaced after a crash */
	int max_restarts;
	bool prep_done;         /* the first start's databases are all made */
	bool prep_failed;       /* ... or failed: the loop ends (fleet_prep_end says why) */
};

/* Blocks SIGINT, SIGTERM and SIGHUP and returns a signalfd for them (and
 * ignores SIGPIPE); nothing runs in signal context. */
int loop_signals_open(struct error **err);

/* Reads the signalfd empty; how many signals were pending. Outside the
 * loop (start-up, teardown) the run asks here. */
int loop_signals_take(int sigfd);

void loop_init(struct loop *lp, struct fleet *f, struct ledger *l, struct term *term, struct controller *ctl,
	       int sigfd, int max_restarts);
/* Drains the signalfd; true once a signal asked the run to stop (the
 * ledger then stops handing out work). */
bool loop_signalled(struct loop *lp);

/* Starts the first nslots worker containers (with with_db, the run's
 * first start, the controller too; its databases are fleet_prep's, begun
 * before) and enters them in the ledger. */
int loop_start(struct loop *lp, size_t nslots, bool with_db, struct error **err);
/* Clones the database of each of the first nslots workers in turn and
 * admits it (a rerun round, or a run without fleet_prep). */
int loop_admit(struct loop *lp, size_t nslots, struct error **err);
/* Runs until every worker has exited, the run failed, the databases
 * failed or a signal came. The first start's workers are admitted here,
 * each as fleet_prep says its clone exists. */
void loop_run(struct loop *lp);
/* The tests are over: the controller ends its session (pytest's summary,
 * junitxml, cache, coverage; its output reaches the user as it comes) and
 * exits. Returns -1 with *err set when it failed or did not finish. */
int loop_finish(struct loop *lp, struct error **err);
/* --reruns: the tests that failed, crashed or timed out go again, each on
 * a fresh container with a fresh clone of the template, never in the
 * process that failed them. One round per call; 0 when none was due. */
int loop_rerun_round(struct loop *lp, int round, struct error **err);

#endif
