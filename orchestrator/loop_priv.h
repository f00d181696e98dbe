/* Shared by the three parts of the event loop: loop.c (signals, the poll,
 * the workers' channels, messages to the ledger, reruns), loop_heal.c (the
 * watchdog, replacing crashed workers) and loop_controller.c (the
 * controller's channel). No other file includes it. */
#ifndef XDOCK_LOOP_PRIV_H
#define XDOCK_LOOP_PRIV_H

#include <poll.h>

#include "loop.h"

/* Kills worker w's container (removes it when a kill fails); nothing
 * when its engine is lost. */
void loop_kill(struct loop *lp, struct worker *w);
/* Kills the containers of agents silent well past --timeout, and asks an
 * engine whose workers all went silent whether it answers (lost if not). */
void loop_watchdog(struct loop *lp);
/* Engine e (marked lost) stopped answering: each of its workers is gone
 * as if its container had died (its test a crash, its queued work back to
 * the others), without a call to it; healing then starts their slots on
 * the engines left. */
void loop_engine_lost(struct loop *lp, size_t e);
/* Replaces crashed workers while work remains. */
void loop_heal(struct loop *lp);
/* Bytes that came with the attach reply never wake poll(), and a read
 * that stopped early may leave bytes curl holds: those are read first,
 * the workers' and the controller's. */
void loop_read_held(struct loop *lp);

/* What the ledger knew of worker wi before one of its messages or the end
 * of its stream: what the controller is told depends on what changed. */
struct loop_seen {
	long current;   /* the test it was running, -1 none */
	size_t nreruns; /* the run's tests waiting for another try */
	bool done;      /* its runner had said done */
};
struct loop_seen loop_seen(const struct loop *lp, size_t wi);
/* Worker w died (why), in the test it was running before (if any): the
 * controller reports it as xdist does, or as a rerun when the ledger
 * queued one. */
void loop_controller_crash(struct loop *lp, const struct worker *w, const char *why, const struct loop_seen *before);
/* Worker w's message m, which the ledger took: the controller hears what
 * concerns it (events, a result's or a crash's fate). */
void loop_controller_tell(struct loop *lp, const struct worker *w, const struct msg *m, const struct loop_seen *before);

/* The controller's poll entries into p[0..WORKER_POLLFDS), how many (0
 * when its channel is closed); its queue is written once its batch is
 * due (*timeout lowered to then). */
size_t loop_controller_poll(struct loop *lp, struct pollfd *p, int *timeout);
/* The controller's channel is ready (revents): its messages (workerinput
 * relayed to the workers' queues), the end of its stream, its queue. */
void loop_controller_service(struct loop *lp, short revents);
/* A controller that failed stops the run, after a grace period while no
 * worker has collected (the workers' error is then the one to show). */
void loop_controller_check(struct loop *lp);
/* After a worker's pytest ended before collecting: the controller's own
 * words are waited for, a moment at most. */
void loop_controller_drain_failed(struct loop *lp);

#endif
