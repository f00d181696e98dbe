#include "ledger.h"
#include "ledger_priv.h"

#include <string.h>

#include "shard.h"

static void schedule(struct ledger *l, const size_t *keep, size_t n, enum sched_mode mode);

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

struct id_index {
	const char *id;
	size_t index;
};

static int
cmp_id_index(const void *a, const void *b)
{
	return strcmp(((const struct id_index *)a)->id, ((const struct id_index *)b)->id);
}

/* A plan names tests by node id: each is looked up in this collection.
 * Returns the tests to schedule (keep, first use first). A test that is
 * not collected any more fails the run as a usage error: the suite
 * changed since the recorded run. */
static size_t
plan_keep(struct ledger *l, const char **ids, size_t n, size_t *keep)
{
	struct id_index *sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	bool *kept = xcalloc(n ? n : 1, sizeof(*kept));
	size_t nkeep = 0;

	for (size_t i = 0; i < n; i++)
		sorted[i] = (struct id_index){ ids[i], i };
	qsort(sorted, n, sizeof(*sorted), cmp_id_index);
	l->plan_idx = xcalloc(l->plan->n + 1, sizeof(*l->plan_idx));
	for (size_t w = 0; w < l->plan->n; w++) {
		l->plan_idx[w] = xcalloc(l->plan->nids[w] + 1, sizeof(**l->plan_idx));
		for (size_t k = 0; k < l->plan->nids[w]; k++) {
			struct id_index key = { l->plan->ids[w][k], 0 };
			struct id_index *hit = bsearch(&key, sorted, n, sizeof(*sorted), cmp_id_index);

			if (!hit) {
				ledger_fail(l, EXIT_USAGE, "%s is not collected any more (the suite changed since the recorded run)",
					    key.id);
				continue;
			}
			l->plan_idx[w][k] = hit->index;
			if (!kept[hit->index]) {
				kept[hit->index] = true;
				keep[nkeep++] = hit->index;
			}
		}
	}
	free(sorted);
	free(kept);
	return nkeep;
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
	if (l->plan)
		nkeep = plan_keep(l, ids, n, keep);
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
void
ledger_adopt(struct ledger *l, size_t wi, struct msg *m, int64_t now_ms)
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
	for (size_t i = 0; l->plan && i == 0; i++) {
		l->term->total = 0;
		for (size_t w = 0; w < l->plan->n; w++)
			l->term->total += l->plan->nids[w];
	}
	rep->startup = (double)(now_ms - l->t0) / 1000.0;
	/* With pytest's controller printing, xdock's note is for -v only. */
	if (l->term->handed_over && l->cfg->verbose <= 0)
		;
	else if (l->cfg->shard.m > 0)
		term_line(l->term, "collected %zu item%s, shard %zu/%zu runs %zu (%s, %.2fs to first collection)",
			  rep->ntests, rep->ntests == 1 ? "" : "s", l->cfg->shard.k, l->cfg->shard.m, nkeep,
			  l->w[wi].name, rep->startup);
	else
		term_line(l->term, "collected %zu item%s (%s, %.2fs to first collection)", rep->ntests,
			  rep->ntests == 1 ? "" : "s", l->w[wi].name, rep->startup);
	if (l->fatal) {
		l->stopping = true;
		free(keep);
		return;
	}
	schedule(l, keep, nkeep, l->cfg->dist);
	free(keep);
	start_eta(l);
	/* As pytest-xdist (not plain pytest): a collection error does not
	 * interrupt the run; it counts as a failure for -x/--maxfail. */
	if (rep->ncollect_errors)
		ledger_count_failures(l, rep->ncollect_errors);
}

/* Every worker must see the same tests in the same order: indexes on the
 * wire mean the same test everywhere. */
int
ledger_check_collection(struct ledger *l, size_t wi, const struct msg *m)
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
		/* Done before any bye: the worker's session runs nothing by
		 * itself (--collect-only); a replacement would do the same. */
		if (w->done && !w->bye_sent)
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
	if (mode == SCHED_FIXED && l->plan_idx) {
		size_t **seqs = xcalloc(l->nw, sizeof(*seqs));
		size_t *nseqs = xcalloc(l->nw, sizeof(*nseqs));

		for (size_t w = 0; w < l->nw && w < l->plan->n; w++) {
			seqs[w] = xcalloc(l->plan->nids[w] + 1, sizeof(**seqs));
			for (size_t k = 0; k < l->plan->nids[w]; k++)
				seqs[w][k] = l->c2s[l->plan_idx[w][k]];
			nseqs[w] = l->plan->nids[w];
		}
		l->sched = sched_new_fixed(l->stests, n, l->nw, LEDGER_PREFETCH_MAX, (const size_t *const *)seqs, nseqs);
		for (size_t w = 0; w < l->nw; w++)
			free(seqs[w]);
		free(seqs);
		free(nseqs);
		return;
	}
	l->sched = sched_new(mode, l->cfg->longest_first ? SCHED_ORDER_LONGEST : SCHED_ORDER_SUITE, l->stests, n,
			     l->nw, LEDGER_PREFETCH_MAX);
}

size_t
ledger_rerun_round(struct ledger *l)
{
	size_t n = l->nreruns;
	size_t *keep = steal_ptr(&l->reruns);

	l->nreruns = 0;
	if (n > 0) {
		schedule(l, keep, n, l->cfg->dist == SCHED_EACH ? SCHED_LOAD : l->cfg->dist);
		if (l->rep->seq)
			l->rep->seq->round++; /* the lanes opened from now on */
	}
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

	if (!l->selected || (!l->cfg->shard.m && !l->plan))
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
			t->reason = l->maxfail_hit ? ledger_maxfail_reason(l)
				    : xstrdup(l->interrupted ? "not run: interrupted" : "not run: no worker left to run it");
	}
	drop_unscheduled(l);
	l->rep->wall = (double)(now_ms - l->t0) / 1000.0;
}
