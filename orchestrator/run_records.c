/* What a finished run leaves behind it: the duration history, the
 * reports, the record of what ran (replay, bisect, the timeline), and
 * what a shipped run's pytest wrote that comes back here. */
#include "run_priv.h"

#include <stdio.h>
#include <stdlib.h>

#include "lastrun.h"
#include "timeline.h"

const char *
run_history_dir(const struct run *r)
{
	return r->cfg->rootdir ? r->cfg->rootdir : r->project_dir;
}

/* Whether this run sees the whole suite, so that tests missing from the
 * collection really are gone and their history can be dropped: no
 * selection, no node ids, no sub-paths, no shard. */
static bool
whole_suite(const struct config *cfg)
{
	return cfg->shard.m == 0 && cli_whole_suite(cfg);
}

/* Merges this run's durations into the history and saves it. Only a run
 * that finished counts: an interrupted one would record nothing for the
 * tests it never reached, which is fine, but its durations are of a
 * machine being stopped. A failure to save is a warning. */
void
run_save_history(struct run *r)
{
	const struct ledger *l = &r->ledger;
	struct error *e = NULL;

	if (!r->hist || l->interrupted || l->fatal || !l->have_collection)
		return;
	for (size_t i = 0; i < r->rep.ntests; i++)
		if (r->rep.tests[i].outcome != OUTCOME_NONE)
			history_update(r->hist, r->rep.tests[i].id, r->rep.tests[i].duration);
	if (whole_suite(r->cfg) && r->rep.ncollect_errors == 0) {
		const char **ids = xcalloc(r->rep.ntests + 1, sizeof(*ids));

		for (size_t i = 0; i < r->rep.ntests; i++)
			ids[i] = r->rep.tests[i].id;
		history_prune(r->hist, ids, r->rep.ntests);
		free(ids);
	}
	if (history_save(r->hist, run_history_dir(r), &e) < 0) {
		fprintf(stderr, "xdock: warning: duration history: %s\n", e->msg);
		error_free(e);
	}
}

int
run_write_reports(struct run *r)
{
	struct error *e = NULL;
	int rc = 0;

	if (r->cfg->json_report && report_save_json(r->cfg->json_report, &r->rep, &e) < 0)
		rc = -1;
	/* With a controller, pytest's junitxml wrote --junitxml. */
	if (rc == 0 && r->cfg->junitxml && !r->term.handed_over) {
		struct buf b;

		buf_init(&b, (size_t)1 << 31);
		if (report_junit(&r->rep, &b, &e) < 0 || report_save(r->cfg->junitxml, &b, &e) < 0)
			rc = -1;
		buf_release(&b);
	}
	if (rc < 0) {
		fprintf(stderr, "xdock: report: %s\n", e->msg);
		error_free(e);
	}
	return rc;
}

/* The files a finished run leaves besides the reports: the record of what
 * ran, for replay and bisect (not for a replay's own run: bisect must
 * still see the original), in the rootdir next to the history, where
 * replay looks it up as pytest finds its cache; and the timeline.
 * Failures are warnings. */
void
run_write_records(struct run *r)
{
	struct error *e = NULL;

	if (!r->ledger.have_collection)
		return;
	if (!r->plan && lastrun_save(run_history_dir(r), &r->rep, &e) < 0) {
		fprintf(stderr, "xdock: warning: %s\n", e->msg);
		error_free(e);
		e = NULL;
	}
	if (r->cfg->timeline) {
		struct buf b;

		buf_init(&b, (size_t)1 << 30);
		if (timeline_html(&r->rep, &b, &e) < 0 || report_save(r->cfg->timeline, &b, &e) < 0) {
			fprintf(stderr, "xdock: timeline: %s\n", e->msg);
			error_free(e);
		}
		buf_release(&b);
	}
}

/* Shipped: what pytest wrote for the user and for its next run (its
 * cache, --junitxml) comes back out of the controller's container. Other
 * files tests write in the project stay there (docs/scale-out.md). */
void
run_fetch_results(struct run *r)
{
	const char *wd = r->cfg->workdir ? r->cfg->workdir : r->project_dir;
	const char *x = r->cfg->junitxml;
	cleanup_free char *cache = xasprintf("%s/.pytest_cache", run_history_dir(r));
	cleanup_free char *junit = !x ? NULL : x[0] == '/' ? xstrdup(x) : xasprintf("%s/%s", wd, x);
	const char *paths[] = { cache, junit, NULL };
	struct error *e = NULL;

	if (ship_fetch(r->dk, r->fleet.ctl.container, paths, &e) < 0) {
		fprintf(stderr, "xdock: warning: %s\n", e->msg);
		error_free(e);
	}
}
