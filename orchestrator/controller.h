/* The run's controller: one more container of the test image whose pytest
 * session plays pytest-xdist's controller (agent/xdock_controller.py). It
 * makes each worker's workerinput (pytest_configure_node), receives every
 * worker's events (serialized reports, warnings, workeroutput) and fires
 * pytest's hooks with them, so pytest's own terminal output, -r,
 * --durations, junitxml, the lastfailed cache and pytest-cov's combine are
 * the user's output. This module owns its protocol state; its container is
 * started and removed by the fleet (fleet.h). */
#ifndef XDOCK_CONTROLLER_H
#define XDOCK_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "msg.h"
#include "worker.h"

struct controller {
	struct worker *w;        /* its container and channel; not owned (the fleet's) */
	size_t nw;               /* worker slots */
	char **input;            /* per slot: workerinput as JSON, NULL until it came */
	bool *input_sent;        /* per slot: given to the current container */
	bool *admitted;          /* per slot: hello queued to the current container */
	struct buf *held;        /* per slot: events of the running test */
	int64_t queued_ms;       /* when the oldest event waiting in the queue came; 0: none waits */
	bool ready;              /* hello answered */
	bool bye_sent;
	bool done;               /* its session loop ended */
	bool exited;             /* it said exit */
	int exit_status;         /* pytest's exit status in the controller */
	char *failure;           /* why it failed, NULL while it works */
};

void controller_init(struct controller *c, struct worker *w, size_t nw);
void controller_release(struct controller *c);

/* Slot wi has a fresh container (started, replaced, a rerun round): its
 * workerinput has to be given again once hello is queued. */
void controller_worker_started(struct controller *c, size_t wi);
/* Hello was queued to slot wi: its workerinput follows as soon as known
 * (into out, the slot's command queue). */
void controller_worker_admitted(struct controller *c, size_t wi, struct buf *out);

/* One message from the controller. workers are the run's nw slots (their
 * command queues take workerinput). A message that makes no sense sets
 * failure. */
void controller_handle(struct controller *c, const struct msg *m, struct worker *workers);
/* The controller's stream ended: a failure unless its session was over. */
void controller_gone(struct controller *c, const char *why);

/* A worker's event (m->text of MSG_EVENT): forwarded at once, or held
 * with in_test until the test's fate is known (controller_settle). */
void controller_event(struct controller *c, size_t wi, const char *name, const char *rest, bool in_test);
/* The test slot wi was running ended: its held events go, preceded by a
 * rerun note when xdock runs it again. */
void controller_settle(struct controller *c, size_t wi, const char *name, const char *nodeid, bool rerun);
/* Slot wi's worker died, in nodeid ("" between tests): its held events
 * go, then the crash, which the controller reports as xdist does. */
void controller_crash(struct controller *c, size_t wi, const char *name, const char *nodeid, const char *reason,
		      bool rerun);
/* Events wait in the controller's queue up to this long, so that one
 * write carries many tests' reports: each write is a wake-up of the
 * engine, the agent and the controller's pytest, which is where most of
 * its per-test cost went. The user sees the reports this much later at
 * most, in the same order. */
#define CONTROLLER_BATCH_MS 20

/* Whether the controller's queue should be written now: it holds
 * something other than events (hello, bye), or its oldest event waited
 * CONTROLLER_BATCH_MS. When not, *wait_ms is lowered to when it will be. */
bool controller_send_due(struct controller *c, int64_t now, int *wait_ms);

/* A test failed, then passed on a rerun: kind is "order-dependent",
 * "flaky on its own" (--reruns-replay) or "true", failed_on the workers
 * of its failed tries. Before bye: its --junitxml carries them. */
void controller_flaky(struct controller *c, const char *nodeid, const char *kind, const char *const *failed_on,
		      size_t n);

/* No more events: the controller ends its session (summary, junitxml,
 * cache, coverage) and exits. */
void controller_bye(struct controller *c);

#endif
