#include "ledger.h"
#include "ledger_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

void
ledger_init(struct ledger *l, const struct config *cfg, size_t nw, struct report *rep, struct term *term,
	    const struct quarantine *q, struct history *hist, int64_t t0)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->rep = rep;
	l->term = term;
	l->quarantine = q;
	l->hist = hist;
	l->t0 = t0;
	l->nw = nw;
	l->w = xcalloc(nw ? nw : 1, sizeof(*l->w));
	for (size_t i = 0; i < nw; i++) {
		snprintf(l->w[i].name, sizeof(l->w[i].name), "%s", rep->workers[i].name);
		ledger_worker_idle(l, i);
	}
}

void
ledger_release(struct ledger *l)
{
	sched_free(l->sched);
	free(l->stests);
	free(l->s2c);
	free(l->c2s);
	free(l->selected);
	free(l->reruns);
	for (size_t i = 0; i < l->nw; i++)
		free(l->w[i].given);
	free(l->w);
	for (size_t i = 0; l->plan_idx && i < l->plan->n; i++)
		free(l->plan_idx[i]);
	free(l->plan_idx);
	error_free(l->fatal);
	if (l->eta_on)
		history_eta_release(&l->eta);
	memset(l, 0, sizeof(*l));
}

void
ledger_worker_idle(struct ledger *l, size_t wi)
{
	struct ledger_worker *w = &l->w[wi];

	w->state = LEDGER_IDLE;
	w->current = -1;
	w->bye_sent = w->done = w->collected = w->admitted = w->broken = w->said_exit = false;
	free(w->given);
	w->given = NULL;
	w->ngiven = 0;
	w->out = NULL;
}

void
ledger_worker_started(struct ledger *l, size_t wi, struct buf *out, int64_t now_ms)
{
	const struct report_worker *rw = &l->rep->workers[wi];

	ledger_worker_idle(l, wi);
	l->w[wi].state = LEDGER_STARTED;
	l->w[wi].out = out;
	sequence_open(l->rep->seq, wi, l->w[wi].name, rw->container, rw->database, now_ms - l->t0);
}

void
ledger_worker_failed(struct ledger *l, size_t wi)
{
	ledger_worker_idle(l, wi);
	l->w[wi].state = LEDGER_EXITED;
}

void
ledger_fail(struct ledger *l, int status, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (!l->fatal)
		error_set(&l->fatal, status, "%s", msg);
	free(msg);
	l->stopping = true;
}

void
ledger_interrupt(struct ledger *l)
{
	l->interrupted = true;
	l->stopping = true;
}

/* The fields a worker's result fills in. */
static void
fill_result(struct report_test *rt, enum outcome o, int worker, const char *when, const char *longrepr,
	    const char *out, const char *errout)
{
	free(rt->when);
	free(rt->longrepr);
	free(rt->out);
	free(rt->err);
	rt->outcome = o;
	rt->worker = worker;
	rt->when = when ? xstrdup(when) : NULL;
	rt->longrepr = longrepr ? xstrdup(longrepr) : NULL;
	rt->out = out ? xstrdup(out) : NULL;
	rt->err = errout ? xstrdup(errout) : NULL;
}

/* --dist each: every worker runs every test. The report keeps one entry a
 * test, the worst outcome any worker saw; every result still counts for
 * its worker and the progress. */
static void
merge_each(struct ledger *l, size_t t, int worker, enum outcome o, double duration, const char *when,
	   const char *longrepr, const char *out, const char *errout)
{
	struct report_test *rt = &l->rep->tests[t];

	l->rep->workers[worker].tests++;
	if (report_is_failure(o) && !report_is_failure(rt->outcome)) {
		fill_result(rt, o, worker, when, longrepr, out, errout);
		if (!rt->quarantined)
			l->failures++;
	}
	if (duration > rt->duration)
		rt->duration = duration;
	term_progress(l->term, l->rep, t);
}

static bool
rerun_pending(const struct ledger *l, size_t t)
{
	for (size_t i = 0; i < l->nreruns; i++)
		if (l->reruns[i] == t)
			return true;
	return false;
}

static void
set_outcome(struct ledger *l, size_t t, int worker, enum outcome o, double duration, const char *when,
	    const char *longrepr, const char *out, const char *errout)
{
	struct report_test *rt = &l->rep->tests[t];

	if (worker >= 0)
		sequence_end(l->rep->seq, (size_t)worker, rt->id, o, l->now_ms - l->t0);
	if (rt->outcome != OUTCOME_NONE) {
		if (l->cfg->dist == SCHED_EACH && worker >= 0)
			merge_each(l, t, worker, o, duration, when, longrepr, out, errout);
		return;
	}
	if (rerun_pending(l, t)) {
		/* --dist each: another worker failed it in this round too;
		 * it runs again once, in the next round. */
		if (worker >= 0)
			l->rep->workers[worker].tests++;
		return;
	}
	if (report_is_failure(o) && rt->nattempts < (size_t)l->cfg->reruns && !l->stopping) {
		/* Another try comes later, on a fresh worker: keep this one. */
		report_add_attempt(rt, o, worker, duration, longrepr);
		l->reruns = xrealloc(l->reruns, (l->nreruns + 1) * sizeof(*l->reruns));
		l->reruns[l->nreruns++] = t;
		term_rerun(l->term, l->rep, t, worker >= 0 ? l->rep->workers[worker].name : "--", o);
		return;
	}
	rt->flaky = o == OUTCOME_PASSED && rt->nattempts > 0;
	fill_result(rt, o, worker, when, longrepr, out, errout);
	rt->duration = duration;
	free(rt->reason);
	rt->reason = NULL;
	if (worker >= 0)
		l->rep->workers[worker].tests++;
	if (report_is_failure(o) && !rt->quarantined)
		l->failures++;
	term_progress(l->term, l->rep, t);
}

char *
ledger_maxfail_reason(const struct ledger *l)
{
	return xasprintf("not run: stopped after %zu failure%s (-x/--maxfail)", l->failures,
			 l->failures == 1 ? "" : "s");
}

/* -x / --maxfail: nothing new is handed out; what was not sent is
 * reported as not run. */
static void
stop_for_maxfail(struct ledger *l)
{
	size_t n, *dropped = xcalloc(l->rep->ntests + 1, sizeof(size_t));

	l->stopping = true;
	l->maxfail_hit = true;
	n = sched_cancel(l->sched, dropped, l->rep->ntests);
	for (size_t i = 0; i < n && i < l->rep->ntests; i++) {
		struct report_test *rt = &l->rep->tests[l->s2c[dropped[i]]];

		if (rt->outcome == OUTCOME_NONE && !rt->reason)
			rt->reason = ledger_maxfail_reason(l);
	}
	free(dropped);
}

void
ledger_count_failures(struct ledger *l, size_t n)
{
	l->failures += n;
	if (!l->stopping && l->cfg->maxfail > 0 && l->failures >= (size_t)l->cfg->maxfail)
		stop_for_maxfail(l);
}

size_t
ledger_prefetch_target(size_t remaining, size_t nworkers, double mean_s)
{
	size_t share = remaining / (nworkers ? nworkers : 1) / 4;

	if (!(mean_s >= 0 && mean_s < LEDGER_SHORT_TEST_S) || share < LEDGER_PREFETCH)
		return LEDGER_PREFETCH;
	return share > LEDGER_PREFETCH_MAX ? LEDGER_PREFETCH_MAX : share;
}

static void
dispatch(struct ledger *l, size_t wi)
{
	struct ledger_worker *w = &l->w[wi];
	size_t idx[LEDGER_BATCH];

	if (w->state != LEDGER_COLLECTED || w->bye_sent || !l->sched || !w->out)
		return;
	/* Before its database exists a worker gets no test; bye or stop
	 * may still go (it runs nothing either way). */
	if (!l->stopping && w->admitted && sched_inflight(l->sched, wi) <= LEDGER_REFILL_AT) {
		double mean = l->nresults >= LEDGER_MEAN_AFTER ? l->result_seconds / (double)l->nresults : -1;
		size_t target = ledger_prefetch_target(sched_remaining(l->sched), l->nw, mean);
		size_t want = target - sched_inflight(l->sched, wi);
		size_t n = sched_next(l->sched, wi, idx, want);

		w->given = xrealloc(w->given, (w->ngiven + n + 1) * sizeof(*w->given));
		for (size_t k = 0; k < n; k++) {
			idx[k] = l->s2c[idx[k]];
			w->given[w->ngiven++] = idx[k];
		}
		if (n > 0)
			msg_encode_run(w->out, idx, n);
	}
	/* The runner holds its last test until it knows there is no next
	 * one: bye is what lets it finish. After -x, stop also drops what it
	 * was sent and has not begun. */
	if (l->maxfail_hit) {
		msg_encode_stop(w->out);
		w->bye_sent = true;
	} else if (l->stopping || sched_worker_finished(l->sched, wi)) {
		msg_encode_bye(w->out);
		w->bye_sent = true;
	}
}

static void
dispatch_all(struct ledger *l)
{
	for (size_t i = 0; i < l->nw; i++)
		dispatch(l, i);
}

void
ledger_admit(struct ledger *l, size_t wi)
{
	l->w[wi].admitted = true;
	dispatch(l, wi);
}

static void
worker_lost(struct ledger *l, size_t wi, long crashed)
{
	struct ledger_worker *w = &l->w[wi];

	if (l->sched && w->state == LEDGER_COLLECTED)
		sched_worker_lost(l->sched, wi, crashed >= 0 ? l->c2s[crashed] : LEDGER_NONE);
	w->state = LEDGER_EXITED;
	w->current = -1;
	w->ngiven = 0;
	sequence_close(l->rep->seq, wi, l->now_ms - l->t0);
}

/* Whether test t was sent to worker w and has not finished there. */
static bool
given(const struct ledger_worker *w, long t)
{
	for (size_t i = 0; i < w->ngiven; i++)
		if ((long)w->given[i] == t)
			return true;
	return false;
}

static void
take_back(struct ledger_worker *w, long t)
{
	for (size_t i = 0; i < w->ngiven; i++) {
		if ((long)w->given[i] == t) {
			w->given[i] = w->given[--w->ngiven];
			return;
		}
	}
}

/* ": <the line of text that says what went wrong>": the last line that
 * mentions an error (pytest's "ERROR: ..." usage lines, an exception),
 * else the last non-empty line; "" when there is none. */
static char *
last_line(const char *text)
{
	const char *p = text, *pick = NULL, *last = NULL;
	size_t n;

	while (p && *p) {
		size_t len = strcspn(p, "\n");
		bool blank = strspn(p, " \t\r") >= len;

		if (!blank) {
			last = p;
			if (memmem(p, len, "rror:", 5) || memmem(p, len, "ERROR", 5))
				pick = p;
		}
		p += len + (p[len] ? 1 : 0);
	}
	if (!pick)
		pick = last;
	if (!pick)
		return xstrdup("");
	pick += strspn(pick, " \t");
	n = strcspn(pick, "\r\n");
	return xasprintf(": %.*s", (int)n, pick);
}

static void
on_hello(struct ledger *l, size_t wi, const struct msg *m)
{
	if (m->version != PROTO_VERSION) {
		ledger_fail(l, EXIT_INTERNAL, "agent speaks protocol %d, this xdock speaks %d", m->version,
			    PROTO_VERSION);
		return;
	}
	l->w[wi].state = LEDGER_READY;
}

static void
on_collected(struct ledger *l, size_t wi, struct msg *m, int64_t now_ms)
{
	struct ledger_worker *w = &l->w[wi];

	if (!l->have_collection)
		ledger_adopt(l, wi, m, now_ms);
	else if (ledger_check_collection(l, wi, m) < 0)
		return;
	w->state = LEDGER_COLLECTED;
	w->collected = true;
	sequence_collected(l->rep->seq, wi, now_ms - l->t0);
	if (l->stopping)
		dispatch_all(l);
	else
		dispatch(l, wi);
}

static void
on_result(struct ledger *l, size_t wi, const struct msg *m, int64_t now_ms)
{
	size_t t = (size_t)m->index;

	l->w[wi].current = -1;
	take_back(&l->w[wi], m->index);
	if (l->rep->first_result <= 0)
		l->rep->first_result = (double)(now_ms - l->t0) / 1000.0;
	if (l->eta_on) {
		history_eta_done(&l->eta, l->c2s[t], m->duration);
		l->term->eta = history_eta_seconds(&l->eta);
	}
	set_outcome(l, t, (int)wi, m->outcome, m->duration, m->when, m->text, m->out, m->err);
	sched_complete(l->sched, wi, l->c2s[t]);
	l->result_seconds += m->duration > 0 ? m->duration : 0;
	l->nresults++;
	if (!l->stopping && l->cfg->maxfail > 0 && l->failures >= (size_t)l->cfg->maxfail) {
		stop_for_maxfail(l);
		dispatch_all(l);
	} else {
		dispatch(l, wi);
	}
}

static void
on_crash(struct ledger *l, size_t wi, const struct msg *m)
{
	const char *name = l->w[wi].name;

	if (m->index >= 0) {
		cleanup_free char *why = m->timeout ? xasprintf("%s on worker %s", m->text ? m->text : "timeout", name)
						    : xasprintf("worker %s crashed while running this test: %s", name,
								m->text ? m->text : "runner died");

		set_outcome(l, (size_t)m->index, (int)wi, m->timeout ? OUTCOME_TIMEOUT : OUTCOME_CRASHED, 0, "call",
			    why, m->out, NULL);
	}
	worker_lost(l, wi, m->index);
}

static void
on_exit_msg(struct ledger *l, size_t wi, const struct msg *m)
{
	struct ledger_worker *w = &l->w[wi];

	w->said_exit = true;
	if (!w->collected && !l->fatal && !l->stopping && m->status != 0) {
		/* pytest stopped before running anything: a usage error, a
		 * missing path, a plugin that fails to import. Its exit code
		 * is the run's, its last line the message. */
		cleanup_free char *last = last_line(m->out);

		l->early_exit = true;
		ledger_fail(l, m->status >= 1 && m->status <= 5 ? m->status : EXIT_INTERNAL,
			    "pytest exited with status %d in worker %s before running tests%s", m->status, w->name, last);
	}
	if (w->state == LEDGER_COLLECTED && !w->done && w->current >= 0)
		set_outcome(l, (size_t)w->current, (int)wi, OUTCOME_CRASHED, 0, "call",
			    "the test runner exited while running this test", m->out, NULL);
	worker_lost(l, wi, w->current);
}

/* Why message m does not fit what the ledger knows of worker wi (a heap
 * string), or NULL when it fits. Every index is checked here, before
 * anything is indexed with it. */
static char *
misfit(const struct ledger *l, size_t wi, const struct msg *m)
{
	const struct ledger_worker *w = &l->w[wi];
	bool collected = w->state == LEDGER_COLLECTED;

	switch (m->kind) {
	case MSG_HELLO:
		return w->state == LEDGER_STARTED ? NULL : xstrdup("a second hello");
	case MSG_COLLECTED:
		if (w->state == LEDGER_STARTED)
			return xstrdup("collected before hello");
		return w->state == LEDGER_READY ? NULL : xstrdup("collected twice");
	case MSG_START:
		if (!collected)
			return xasprintf("start of test %ld before its collection", m->index);
		if (w->current >= 0)
			return xasprintf("start of test %ld while test %ld runs", m->index, w->current);
		if (m->index < 0 || (size_t)m->index >= l->rep->ntests)
			return xasprintf("start of test %ld, out of range (%zu tests)", m->index, l->rep->ntests);
		return given(w, m->index) ? NULL : xasprintf("start of test %ld, which it was not given", m->index);
	case MSG_RESULT:
		if (!collected)
			return xasprintf("result for test %ld before its collection", m->index);
		if (m->index < 0 || m->index != w->current)
			return xasprintf("result for test %ld, which is not running there", m->index);
		return NULL;
	case MSG_DONE:
		if (!collected || w->done)
			return xstrdup(collected ? "done twice" : "done before its collection");
		return w->current < 0 ? NULL : xasprintf("done while test %ld runs", w->current);
	case MSG_CRASH:
		if (m->index >= 0 && m->index != w->current)
			return xasprintf("crash of test %ld, which is not running there", m->index);
		return NULL;
	case MSG_EXIT:
		return NULL;
	case MSG_ERROR:
		/* Before hello the agent refuses to start (a version skew):
		 * the run stops. Later it gives up on what the runner sent. */
		return w->state == LEDGER_STARTED ? NULL : xasprintf("agent error: %s", m->text ? m->text : "");
	case MSG_EVENT:
		/* For the controller, opaque here: after hello only. */
		return w->state == LEDGER_STARTED ? xstrdup("an event before hello") : NULL;
	case MSG_INPUT:
	case MSG_STDERR:
		return xstrdup("a controller's message");
	}
	return xstrdup("an unknown message");
}

int
ledger_broke(struct ledger *l, size_t wi, const char *what)
{
	struct ledger_worker *w = &l->w[wi];
	cleanup_free char *why = xasprintf("worker %s broke the protocol: %s", w->name, what);

	if (w->state == LEDGER_IDLE || w->state == LEDGER_EXITED)
		return -1;
	if (!l->have_collection) {
		/* Nothing to run yet, nothing to replace it for. */
		ledger_fail(l, EXIT_INTERNAL, "%s", why);
	} else {
		term_line(l->term, "xdock: %s; killing its container", why);
	}
	if (w->current >= 0)
		set_outcome(l, (size_t)w->current, (int)wi, OUTCOME_CRASHED, 0, "call", why, NULL, NULL);
	worker_lost(l, wi, w->current);
	w->broken = true;
	return -1;
}

/* Whether the worker is still heard: the agent follows a crash with its
 * exit line, and says nothing after that. */
static bool
heard(const struct ledger_worker *w, const struct msg *m)
{
	if (w->state == LEDGER_IDLE || w->broken || w->said_exit)
		return false;
	return w->state != LEDGER_EXITED || m->kind == MSG_EXIT;
}

int
ledger_handle(struct ledger *l, size_t wi, struct msg *m, int64_t now_ms)
{
	l->now_ms = now_ms;
	cleanup_free char *why = NULL;

	if (!heard(&l->w[wi], m))
		return 0;
	if ((why = misfit(l, wi, m)))
		return ledger_broke(l, wi, why);
	switch (m->kind) {
	case MSG_HELLO:
		on_hello(l, wi, m);
		break;
	case MSG_COLLECTED:
		on_collected(l, wi, m, now_ms);
		break;
	case MSG_START:
		l->w[wi].current = m->index;
		if (l->have_collection && m->index >= 0 && (size_t)m->index < l->rep->ntests)
			sequence_start(l->rep->seq, wi, l->rep->tests[m->index].id, now_ms - l->t0);
		break;
	case MSG_RESULT:
		on_result(l, wi, m, now_ms);
		break;
	case MSG_DONE:
		l->w[wi].done = true;
		break;
	case MSG_CRASH:
		on_crash(l, wi, m);
		break;
	case MSG_EXIT:
		on_exit_msg(l, wi, m);
		break;
	case MSG_ERROR:
		ledger_fail(l, EXIT_INTERNAL, "worker %s: %s", l->w[wi].name, m->text ? m->text : "");
		break;
	case MSG_EVENT:
	case MSG_INPUT:
	case MSG_STDERR:
		/* The controller's business: the loop forwards events. */
		break;
	}
	return 0;
}

void
ledger_worker_gone(struct ledger *l, size_t wi, const char *why, const char *output, int64_t now_ms)
{
	struct ledger_worker *w = &l->w[wi];

	l->now_ms = now_ms;
	if (w->state == LEDGER_EXITED)
		return;
	if (w->current >= 0 && l->have_collection) {
		set_outcome(l, (size_t)w->current, (int)wi, OUTCOME_CRASHED, 0, "call", why, output, NULL);
	} else if (!l->have_collection && !l->fatal && !l->interrupted) {
		ledger_fail(l, EXIT_INTERNAL, "worker ended before collecting: %s%s%s", why,
			    output && *output ? "; agent said: " : "", output && *output ? output : "");
	}
	worker_lost(l, wi, w->current);
}
