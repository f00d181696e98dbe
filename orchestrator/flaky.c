#include "flaky.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "sequence.h"
#include "util.h"

void
flaky_classify(const struct config *cfg, struct report *rep)
{
	size_t n = 0;
	size_t *tests = xcalloc(rep->ntests + 1, sizeof(*tests));
	const char ***ids = xcalloc(rep->ntests + 1, sizeof(*ids));
	size_t *nids = xcalloc(rep->ntests + 1, sizeof(*nids));
	struct config rc;
	struct report out = { 0 };
	struct error *e = NULL;

	for (size_t i = 0; i < rep->ntests && rep->seq; i++) {
		const struct report_test *t = &rep->tests[i];
		const struct report_attempt *a;
		size_t pos = 0;
		long lane;

		if (!t->flaky || t->nattempts == 0)
			continue;
		a = &t->attempts[0];
		if (a->worker < 0 || (size_t)a->worker >= rep->nworkers)
			continue;
		/* The first try ran in round 0, on that worker's container. */
		lane = sequence_find_round(rep->seq, 0, rep->workers[a->worker].name, t->id, &pos);
		if (lane < 0)
			continue;
		ids[n] = xcalloc(pos + 1, sizeof(**ids));
		for (size_t k = 0; k <= pos; k++)
			ids[n][k] = rep->seq->lanes[lane].e[k].id;
		nids[n] = pos + 1;
		tests[n++] = i;
	}
	if (n > 0) {
		struct sequence_plan plan = { (const char *const *const *)ids, nids, n };

		rc = *cfg;
		rc.dist = SCHED_FIXED;
		rc.reruns = 0;
		rc.reruns_replay = false;
		rc.maxfail = 0;
		rc.max_worker_restart = 0;
		rc.shard.m = rc.shard.k = 0;
		rc.json_report = rc.junitxml = rc.timeline = NULL;
		rc.no_history = true;
		rc.reuse_db = false;
		printf("xdock: replaying %zu flaky test%s as they first failed\n", n, n == 1 ? "" : "s");
		fflush(stdout);
		if (run_execute(&rc, &plan, &out, &e) < 0 || !out.seq) {
			fprintf(stderr, "xdock: --reruns-replay: %s\n", e ? e->msg : "the replay did not run");
			error_free(e);
		} else {
			for (size_t j = 0; j < n; j++) {
				size_t pos = 0;
				long lane = sequence_find_round(out.seq, 0, out.workers[j].name, rep->tests[tests[j]].id, &pos);
				bool again = lane >= 0 && report_is_failure(out.seq->lanes[lane].e[pos].outcome);

				struct report_test *t = &rep->tests[tests[j]];

				t->flaky_kind = lane < 0 ? NULL : again ? REPORT_ORDER_DEPENDENT : REPORT_FLAKY_ALONE;
				printf("xdock: flaky: %s: %s (failed on %s after %zu test%s; the replay %s)\n", t->id,
				       t->flaky_kind ? t->flaky_kind : "unknown", rep->workers[t->attempts[0].worker].name,
				       nids[j] - 1, nids[j] == 2 ? "" : "s",
				       lane < 0 ? "did not reach it" : again ? "failed it again" : "passed it");
			}
		}
		report_release(&out);
	}
	for (size_t j = 0; j < n; j++)
		free(ids[j]);
	free(ids);
	free(nids);
	free(tests);
}

void
flaky_to_controller(const struct report *rep, struct controller *c)
{
	for (size_t i = 0; i < rep->ntests; i++) {
		const struct report_test *t = &rep->tests[i];
		const char **on;
		size_t n = 0;

		if (!t->flaky)
			continue;
		on = xcalloc(t->nattempts + 1, sizeof(*on));
		for (size_t k = 0; k < t->nattempts; k++)
			if (t->attempts[k].worker >= 0 && (size_t)t->attempts[k].worker < rep->nworkers)
				on[n++] = rep->workers[t->attempts[k].worker].name;
		controller_flaky(c, t->id, t->flaky_kind ? t->flaky_kind : "true", on, n);
		free(on);
	}
}
