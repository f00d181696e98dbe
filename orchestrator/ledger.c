#include "ledger.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "shard.h"

#define LEDGER_NONE ((size_t)-1)

static void schedule(struct ledger *l, const size_t *keep, size_t n, enum sched_mode mode);

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
	free(l->w);
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
	w->bye_sent = w->done = w->collected = w->admitted = false;
	w->out = NULL;
}

void
ledger_worker_started(struct ledger *l, size_t wi, struct buf *out)
{
	ledger_worker_idle(l, wi);
	l->w[wi].state = LEDGER_STARTED;
	l->w[wi].out = out;
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

static void
set_outcome(struct ledger *l, size_t t, int worker, enum outcome o, double duration, const char *when,
	    const char *longrepr, const char *out, const char *errout)
{
	struct report_test *rt = &l->rep->tests[t];

	if (rt->outcome != OUTCOME_NONE) {
		if (l->cfg->dist == SCHED_EACH && worker >= 0)
			merge_each(l, t, worker, o, duration, when, longrepr, out, errout);
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

static char *
maxfail_reason(const struct ledger *l)
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
			rt->reason = maxfail_reason(l);
	}
	free(dropped);
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

		for (size_t k = 0; k < n; k++)
			idx[k] = l->s2c[idx[k]];
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

/* The expected duration of every scheduled test, for the ETA. */
static void
start_eta(struct ledger *l)
{
	double *expected;
	size_t n = l->nsched;

	if (!l->hist || history_count(l->hist) == 0 || l->cfg->dist == SCHED_EACH)
		return;
	expected = xcalloc(n ? n : 1, sizeof(*expected));
	for (size_t i = 0; i < n; i++)
		expected[i] = l->stests[i].expected;
	history_eta_init(&l->eta, expected, n, l->cfg->dist == SCHED_NO ? 1 : l->nw);
	free(expected);
	l->eta_on = true;
}

/* Takes the collection's tests into the report; returns the collection
 * indexes this run schedules (all, or this shard's) and their number. */
static size_t
take_tests(struct ledger *l, struct msg *m, size_t **keep_out)
{
	size_t n = m->nitems, nkeep = n;
	size_t *keep = xcalloc(n ? n : 1, sizeof(*keep));
	double *expected = xcalloc(n ? n : 1, sizeof(*expected));
	const char **ids = xcalloc(n ? n : 1, sizeof(*ids));

	l->rep->ntests = n;
	l->rep->tests = xcalloc(n ? n : 1, sizeof(*l->rep->tests));
	for (size_t i = 0; i < n; i++) {
		struct report_test *t = &l->rep->tests[i];

		t->id = steal_ptr(&m->items[i].id);
		t->file = steal_ptr(&m->items[i].file);
		t->group = steal_ptr(&m->items[i].group);
		t->worker = -1;
		t->quarantined = l->quarantine && quarantine_has(l->quarantine, t->id);
		ids[i] = t->id;
		expected[i] = l->hist ? history_get(l->hist, t->id) : -1.0;
		keep[i] = i;
	}
	if (l->cfg->shard.m > 0)
		nkeep = shard_select(ids, expected, NULL, n, &l->cfg->shard, keep);
	l->selected = xcalloc(n ? n : 1, sizeof(*l->selected));
	for (size_t k = 0; k < nkeep; k++)
		l->selected[keep[k]] = true;
	l->c2s = xmalloc((n ? n : 1) * sizeof(*l->c2s));
	memset(l->c2s, 0xff, (n ? n : 1) * sizeof(*l->c2s));
	free(expected);
	free(ids);
	*keep_out = keep;
	return nkeep;
}

/* The first collection becomes the run's list of tests. With --shard only
 * this shard's tests are scheduled; the others leave the report. */
static void
adopt_collection(struct ledger *l, size_t wi, struct msg *m, int64_t now_ms)
{
	size_t *keep = NULL;
	size_t nkeep = take_tests(l, m, &keep);
	struct report *rep = l->rep;

	rep->ncollect_errors = m->nerrors;
	rep->collect_errors = steal_ptr(&m->errors);
	m->nerrors = 0;
	l->have_collection = true;
	l->collection_owner = wi;
	l->term->total = l->cfg->dist == SCHED_EACH ? nkeep * l->nw : nkeep;
	rep->startup = (double)(now_ms - l->t0) / 1000.0;
	if (l->cfg->shard.m > 0)
		term_line(l->term, "collected %zu item%s, shard %zu/%zu runs %zu (%s, %.2fs to first collection)",
			  rep->ntests, rep->ntests == 1 ? "" : "s", l->cfg->shard.k, l->cfg->shard.m, nkeep,
			  l->w[wi].name, rep->startup);
	else
		term_line(l->term, "collected %zu item%s (%s, %.2fs to first collection)", rep->ntests,
			  rep->ntests == 1 ? "" : "s", l->w[wi].name, rep->startup);
	if (rep->ncollect_errors) {
		/* As pytest: collection errors interrupt the run. */
		l->stopping = true;
		free(keep);
		return;
	}
	schedule(l, keep, nkeep, l->cfg->dist);
	free(keep);
	start_eta(l);
}

/* Every worker must see the same tests in the same order: indexes on the
 * wire mean the same test everywhere. */
static int
check_collection(struct ledger *l, size_t wi, const struct msg *m)
{
	const char *owner = l->w[l->collection_owner].name;
	const char *name = l->w[wi].name;

	if (m->nitems != l->rep->ntests) {
		ledger_fail(l, EXIT_INTERNAL, "different tests were collected: %s collected %zu tests, %s collected %zu",
			    owner, l->rep->ntests, name, m->nitems);
		return -1;
	}
	for (size_t i = 0; i < m->nitems; i++) {
		if (strcmp(m->items[i].id, l->rep->tests[i].id) != 0) {
			ledger_fail(l, EXIT_INTERNAL, "different tests were collected: %s has %s, %s has %s at position %zu",
				    owner, l->rep->tests[i].id, name, m->items[i].id, i);
			return -1;
		}
	}
	return 0;
}

static void
worker_lost(struct ledger *l, size_t wi, long crashed)
{
	struct ledger_worker *w = &l->w[wi];

	if (l->sched && w->state == LEDGER_COLLECTED)
		sched_worker_lost(l->sched, wi, crashed >= 0 ? l->c2s[crashed] : LEDGER_NONE);
	w->state = LEDGER_EXITED;
	w->current = -1;
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
		adopt_collection(l, wi, m, now_ms);
	else if (check_collection(l, wi, m) < 0)
		return;
	w->state = LEDGER_COLLECTED;
	w->collected = true;
	if (l->rep->ncollect_errors)
		l->stopping = true;
	if (l->stopping)
		dispatch_all(l);
	else
		dispatch(l, wi);
}

static void
on_result(struct ledger *l, size_t wi, const struct msg *m, int64_t now_ms)
{
	size_t t = (size_t)m->index;

	if (!l->have_collection || m->index < 0 || t >= l->rep->ntests) {
		ledger_fail(l, EXIT_INTERNAL, "worker %s: result for unknown test %ld", l->w[wi].name, m->index);
		return;
	}
	l->w[wi].current = -1;
	if (l->rep->first_result <= 0)
		l->rep->first_result = (double)(now_ms - l->t0) / 1000.0;
	if (l->c2s[t] == LEDGER_NONE) {
		ledger_fail(l, EXIT_INTERNAL, "worker %s: result for a test it was not given: %s", l->w[wi].name,
			    l->rep->tests[t].id);
		return;
	}
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

	if (m->index >= 0 && l->have_collection && (size_t)m->index < l->rep->ntests) {
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

	if (!w->collected && !l->fatal && !l->stopping && m->status != 0) {
		/* pytest stopped before running anything: a usage error, a
		 * missing path, a plugin that fails to import. Its exit code
		 * is the run's, its last line the message. */
		cleanup_free char *last = last_line(m->out);

		ledger_fail(l, m->status >= 1 && m->status <= 5 ? m->status : EXIT_INTERNAL,
			    "pytest exited with status %d in worker %s before running tests%s", m->status, w->name, last);
	}
	if (w->state == LEDGER_COLLECTED && !w->done && w->current >= 0)
		set_outcome(l, (size_t)w->current, (int)wi, OUTCOME_CRASHED, 0, "call",
			    "the test runner exited while running this test", m->out, NULL);
	worker_lost(l, wi, w->current);
}

void
ledger_handle(struct ledger *l, size_t wi, struct msg *m, int64_t now_ms)
{
	switch (m->kind) {
	case MSG_HELLO:
		on_hello(l, wi, m);
		break;
	case MSG_COLLECTED:
		on_collected(l, wi, m, now_ms);
		break;
	case MSG_START:
		l->w[wi].current = m->index;
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
	}
}

void
ledger_worker_gone(struct ledger *l, size_t wi, const char *why, const char *output)
{
	struct ledger_worker *w = &l->w[wi];

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

void
ledger_abandon(struct ledger *l, const char *reason)
{
	size_t *dropped = xcalloc(l->rep->ntests + 1, sizeof(size_t));

	l->stopping = true;
	if (l->sched)
		sched_cancel(l->sched, dropped, l->rep->ntests);
	free(dropped);
	for (size_t i = 0; i < l->rep->ntests; i++) {
		struct report_test *t = &l->rep->tests[i];

		if (t->outcome == OUTCOME_NONE && !t->reason)
			t->reason = xstrdup(reason);
	}
}

bool
ledger_work_left(const struct ledger *l)
{
	return l->sched && !sched_done(l->sched);
}

bool
ledger_work_orphaned(const struct ledger *l)
{
	if (!l->sched || sched_unsent(l->sched) == 0 || l->stopping)
		return false;
	for (size_t i = 0; i < l->nw; i++) {
		const struct ledger_worker *w = &l->w[i];

		if (w->state != LEDGER_IDLE && w->state != LEDGER_EXITED && !w->bye_sent)
			return false;
	}
	return true;
}

/* Builds the scheduler over the given collection indexes. */
static void
schedule(struct ledger *l, const size_t *keep, size_t n, enum sched_mode mode)
{
	sched_free(l->sched);
	free(l->stests);
	free(l->s2c);
	l->s2c = xcalloc(n ? n : 1, sizeof(*l->s2c));
	l->stests = xcalloc(n ? n : 1, sizeof(*l->stests));
	memset(l->c2s, 0xff, (l->rep->ntests ? l->rep->ntests : 1) * sizeof(*l->c2s));
	for (size_t k = 0; k < n; k++) {
		const struct report_test *t = &l->rep->tests[keep[k]];

		l->s2c[k] = keep[k];
		l->c2s[keep[k]] = k;
		l->stests[k] = (struct sched_test){ t->id, t->file, t->group,
						    l->hist ? history_get(l->hist, t->id) : -1.0 };
	}
	l->nsched = n;
	l->sched = sched_new(mode, l->cfg->longest_first ? SCHED_ORDER_LONGEST : SCHED_ORDER_SUITE, l->stests, n,
			     l->nw, LEDGER_PREFETCH_MAX);
}

size_t
ledger_rerun_round(struct ledger *l)
{
	size_t n = l->nreruns;
	size_t *keep = steal_ptr(&l->reruns);

	l->nreruns = 0;
	if (n > 0)
		schedule(l, keep, n, l->cfg->dist == SCHED_EACH ? SCHED_LOAD : l->cfg->dist);
	free(keep);
	return n;
}

/* Tests --shard left to other shards leave the report: each shard's
 * report holds its own tests, and merged reports count each test once. */
static void
drop_unscheduled(struct ledger *l)
{
	struct report *rep = l->rep;
	size_t j = 0;

	if (!l->selected || !l->cfg->shard.m)
		return;
	for (size_t i = 0; i < rep->ntests; i++) {
		struct report_test *t = &rep->tests[i];

		if (!l->selected[i]) {
			report_test_release(t);
			continue;
		}
		rep->tests[j++] = *t;
	}
	rep->ntests = j;
}

void
ledger_finish(struct ledger *l, int64_t now_ms)
{
	for (size_t i = 0; i < l->rep->ntests; i++) {
		struct report_test *t = &l->rep->tests[i];

		if (t->outcome == OUTCOME_NONE && t->nattempts > 0) {
			/* Its rerun never came (the run stopped): the last try
			 * stands. */
			struct report_attempt *a = &t->attempts[--t->nattempts];

			t->outcome = a->outcome;
			t->worker = a->worker;
			t->duration = a->duration;
			t->longrepr = a->longrepr;
			continue;
		}
		if (t->outcome == OUTCOME_NONE && !t->reason && (!l->selected || l->selected[i]))
			t->reason = l->maxfail_hit ? maxfail_reason(l)
				    : xstrdup(l->interrupted ? "not run: interrupted" : "not run: no worker left to run it");
	}
	drop_unscheduled(l);
	l->rep->wall = (double)(now_ms - l->t0) / 1000.0;
}
