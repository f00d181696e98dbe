/* Keeping a run's workers going: the watchdog that kills a silent
 * agent's container, and healing: a worker that crashed (or whose engine
 * was lost) replaced while work remains, up to --max-worker-restart. */
#include "loop_priv.h"

#include <math.h>

/* A crashed worker's slot gets a fresh container, up to the restart
 * limit; past it the remaining tests are reported not run. */
static void
replace(struct loop *lp, size_t i)
{
	struct worker *w = &lp->fleet->w[i];
	struct error *e = NULL;
	int64_t begin = util_now_ms();

	if (lp->restarts >= lp->max_restarts) {
		cleanup_free char *why = xasprintf("not run: %d workers were replaced, the limit (--max-worker-restart)",
						   lp->restarts);

		term_line(lp->term, "xdock: worker %s crashed; %d replacements already, giving up", w->name,
			  lp->restarts);
		ledger_abandon(lp->ledger, why);
		return;
	}
	lp->restarts++;
	term_line(lp->term, "xdock: replacing worker %s (restart %d of at most %d)", w->name, lp->restarts,
		  lp->max_restarts);
	if (fleet_replace(lp->fleet, i, &e) < 0) {
		term_line(lp->term, "xdock: %s", e->msg);
		error_free(e);
		ledger_worker_failed(lp->ledger, i);
		return;
	}
	ledger_worker_started(lp->ledger, i, &w->out, begin);
	ledger_admit(lp->ledger, i); /* fleet_replace cloned before the start */
	controller_worker_started(lp->ctl, i);
	controller_worker_admitted(lp->ctl, i, &w->out);
}

/* After each round: replace crashed workers while work remains. */
void
loop_heal(struct loop *lp)
{
	struct ledger *l = lp->ledger;
	struct fleet *f = lp->fleet;

	/* A replacement is cloned here, on the server's connection that the
	 * databases' thread still uses: it waits for the thread's end. */
	if (fleet_prep_busy(f))
		return;
	for (size_t i = 0; i < f->nw && !l->stopping; i++) {
		const struct worker *w = &f->w[i];

		if (w->attach || l->w[i].state != LEDGER_EXITED || l->w[i].done || !w->container)
			continue;
		if (ledger_work_left(l))
			replace(lp, i);
	}
	/* Work put back by a crash after every other worker said bye. */
	for (size_t i = 0; i < f->nw && ledger_work_orphaned(l); i++)
		if (!f->w[i].attach && l->w[i].state == LEDGER_EXITED)
			replace(lp, i);
}

/* The agent enforces --timeout itself. If it says nothing well past that
 * (frozen, its pipes wedged, the container paused), the orchestrator kills
 * the container; the end of its stream then makes the test a crash.
 * heard_ms is set by worker_next_msg on every message. */
void
loop_watchdog(struct loop *lp)
{
	double timeout = lp->fleet->cfg->timeout;
	int64_t now = util_now_ms();
	int64_t limit;

	if (timeout <= 0)
		return;
	limit = (int64_t)(ceil(timeout) * 1000) + LOOP_WATCHDOG_GRACE_MS;
	for (size_t i = 0; i < lp->fleet->nw; i++) {
		struct worker *w = &lp->fleet->w[i];
		enum ledger_state st = lp->ledger->w[i].state;
		bool collecting = (st == LEDGER_STARTED || st == LEDGER_READY) && !lp->ledger->w[i].collected;

		if (!w->attach || w->unanswering || now - w->heard_ms < limit)
			continue;
		if (lp->ledger->w[i].current < 0 && !collecting)
			continue;
		/* A collection that never ends (an import that blocks, a
		 * conftest waiting for a service) has no test to blame: without
		 * a collection the run stops as pytest's collection errors do. */
		if (collecting && !lp->ledger->have_collection)
			ledger_fail(lp->ledger, EXIT_INTERRUPTED,
				    "worker %s: collection did not finish within --timeout + %d s; its container was killed",
				    w->name, LOOP_WATCHDOG_GRACE_MS / 1000);
		w->unanswering = true;
		term_line(lp->term, "xdock: worker %s has not answered for %lld s: killing its container", w->name,
			  (long long)((now - w->heard_ms) / 1000));
		loop_kill(lp, w);
	}
}
