/* Keeping a run's workers going: the watchdogs (a silent agent's
 * container killed past --timeout; an engine whose workers all went
 * silent asked whether it answers), and healing: a worker that crashed
 * (or whose engine was lost) replaced while work remains, up to
 * --max-worker-restart. */
#include "loop_priv.h"

#include <math.h>
#include <stdlib.h>

/* How long every worker of an engine may say nothing, while xdock waits
 * on one of them, before the engine is asked whether it answers. Silence
 * alone proves nothing (a test may run for minutes without a word), so
 * this only decides when to ask: an engine that answers its ping is never
 * lost for it, and asking costs one ping a period. 15 s: well past the
 * gaps between a busy worker's messages (several for every test) and
 * the stalls of a loaded machine, short enough that a frozen engine holds
 * the run up for about 25 s (this, then two pings of ENGINES_PROBE_MS). */
#define LOOP_SILENCE_MS 15000

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

/* Whether worker i waits on its engine for a word: a test's result, its
 * collection, its exit after bye, or the end of its stream after its exit
 * (the engine ends it). An idle worker waits on the run, not its engine. */
static bool
awaited(const struct loop *lp, size_t i)
{
	const struct ledger_worker *lw = &lp->ledger->w[i];

	return lw->current >= 0 || lw->ngiven > 0 || lw->bye_sent || lw->state == LEDGER_EXITED ||
	       ((lw->state == LEDGER_STARTED || lw->state == LEDGER_READY) && !lw->collected);
}

/* An engine whose connections stay open but that sends nothing (a frozen
 * dockerd, a partition that drops packets) ends no stream: without
 * --timeout the run would wait for ever. When every worker of engine e
 * has been silent for LOOP_SILENCE_MS and one waits on it, e is pinged
 * (engines_probe_start, on a thread: the loop goes on); one that answers
 * no ping is lost as if its streams had ended, one that answers is left
 * alone until the next period. A verdict that comes after one of its
 * workers spoke again is dropped: the engine moves. */
static void
watch_engine(struct loop *lp, size_t e, int64_t now)
{
	struct fleet *f = lp->fleet;
	struct engine *en = &f->es->e[e];
	int64_t heard = 0;
	bool waits = false;
	char *why = NULL;
	enum engines_answer a;

	for (size_t i = 0; i < f->nw; i++) {
		const struct worker *w = &f->w[i];

		if (f->at[i] != e || !w->attach)
			continue;
		if (w->heard_ms > heard)
			heard = w->heard_ms;
		waits = waits || awaited(lp, i);
	}
	a = engines_probe_take(f->es, e, &why);
	if (a == ENGINES_SILENT && waits && heard < en->asked_ms && !en->lost) {
		cleanup_free char *msg = xasprintf("its workers said nothing for %lld s while xdock waited on them, "
						   "and it answered no ping within %d s (twice): %s",
						   (long long)((now - heard) / 1000), ENGINES_PROBE_MS / 1000, why);

		engines_lose(f->es, e, msg);
		loop_engine_lost(lp, e);
	} else if (a == ENGINES_ANSWERS && f->cfg->verbose > 0) {
		term_line(lp->term, "xdock: engine %s answers, its workers silent for %lld s: not lost",
			  docker_host(en->dk), (long long)((now - heard) / 1000));
	}
	free(why);
	if (en->lost || !waits || a == ENGINES_ASKING || now - heard < LOOP_SILENCE_MS ||
	    now - en->asked_ms < LOOP_SILENCE_MS)
		return;
	engines_probe_start(f->es, e);
}

/* The agent enforces --timeout itself. If it says nothing well past that
 * (frozen, its pipes wedged, the container paused), the orchestrator kills
 * the container; the end of its stream then makes the test a crash.
 * heard_ms is set by worker_next_msg on every message. Before that, each
 * engine is watched for silence (watch_engine), with or without
 * --timeout. */
void
loop_watchdog(struct loop *lp)
{
	double timeout = lp->fleet->cfg->timeout;
	int64_t now = util_now_ms();
	int64_t limit;

	for (size_t e = 0; e < lp->fleet->es->n; e++)
		watch_engine(lp, e, now);
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
