#include "replay.h"

#include <stdio.h>
#include <string.h>

#include "docker.h"
#include "run.h"
#include "sequence.h"
#include "util.h"

/* Whether the engine still has the image; an engine that does not
 * answer is found out by the run itself. */
static bool
image_present(const struct config *cfg, const char *image)
{
	struct error *e = NULL;
	struct docker *dk = docker_new(cfg->docker_host, NULL, &e);
	bool exists = true;

	if (dk && docker_image_exists(dk, image, &exists, &e) < 0)
		exists = true;
	error_free(e);
	docker_free(dk);
	return exists;
}

void
replay_config(const struct config *base, struct config *out)
{
	*out = *base;
	/* One sequence per worker, in order, nothing else: no history
	 * order, no shard, no reruns, no replacement of a crashed worker, no
	 * -x (the sequence ends where it should). */
	out->dist = SCHED_FIXED;
	out->shard.m = 0;
	out->shard.k = 0;
	out->reruns = 0;
	out->reruns_replay = false;
	out->maxfail = 0;
	out->max_worker_restart = 0;
	out->quarantine = NULL;
	out->no_history = true;
	out->reuse_db = false;
	out->workers_auto = false;
}

int
replay_run(const struct lastrun *lr, const struct config *base, const char *const *const *ids, const size_t *nids,
	   size_t n, struct report *out, struct error **err)
{
	struct sequence_plan plan = { ids, nids, n };
	struct config rc;

	memset(out, 0, sizeof(*out));
	replay_config(base, &rc);
	rc.workers = (int)n;
	if (lr->image_id && strcmp(rc.image, lr->image_id) == 0 && !image_present(base, lr->image_id)) {
		/* The tag was rebuilt and the old image removed: the same
		 * image cannot be had; the tag as it is now is the nearest. */
		fprintf(stderr, "xdock: warning: the recorded run's image %.19s is gone; replaying with %s as it is now\n",
			lr->image_id, lr->image);
		rc.image = lr->image;
	}
	return run_execute(&rc, &plan, out, err);
}

int
replay_outcome(const struct report *out, size_t slot, const char *id, enum outcome *o)
{
	if (!out->seq || slot >= out->nworkers)
		return -1;
	for (size_t i = 0; i < out->seq->nlanes; i++) {
		const struct sequence_lane *l = &out->seq->lanes[i];

		if (l->slot != slot)
			continue;
		for (size_t k = 0; k < l->n; k++) {
			if (strcmp(l->e[k].id, id) == 0 && l->e[k].outcome != OUTCOME_NONE) {
				*o = l->e[k].outcome;
				return report_is_failure(*o) ? 1 : 0;
			}
		}
	}
	return -1;
}

char *
replay_shell_quote(const char *s)
{
	struct buf b;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@,+") == strlen(s))
		return xstrdup(s);
	buf_init(&b, (size_t)1 << 20);
	buf_printf(&b, "'");
	for (; *s; s++) {
		if (*s == '\'')
			buf_printf(&b, "'\\''");
		else
			buf_printf(&b, "%c", *s);
	}
	buf_printf(&b, "'");
	return buf_steal(&b);
}

static int
pick_lane(const struct lastrun *lr, const struct config *cfg, long *lane, size_t *pos, struct error **err)
{
	*lane = sequence_find(&lr->seq, cfg->replay_worker, cfg->replay_until, pos);
	if (*lane >= 0)
		return 0;
	if (cfg->replay_until && cfg->replay_worker)
		return error_set(err, EXIT_USAGE, "replay: %s did not run on %s in run %s", cfg->replay_until,
				 cfg->replay_worker, lr->run_id ? lr->run_id : "?");
	if (cfg->replay_until)
		return error_set(err, EXIT_USAGE, "replay: %s did not run in run %s", cfg->replay_until,
				 lr->run_id ? lr->run_id : "?");
	return error_set(err, EXIT_USAGE, "replay: worker %s ran nothing in run %s", cfg->replay_worker,
			 lr->run_id ? lr->run_id : "?");
}

int
replay_command(const struct config *cfg, const struct lastrun *lr, struct error **err)
{
	struct report out;
	const struct sequence_lane *l;
	const struct sequence_entry *target;
	const char **ids;
	const char *const *plan_ids[1];
	size_t nids, pos = 0;
	long lane;
	enum outcome o = OUTCOME_NONE;
	int code, got;

	if (pick_lane(lr, cfg, &lane, &pos, err) < 0)
		return -1;
	l = &lr->seq.lanes[lane];
	target = &l->e[pos];
	nids = pos + 1;
	ids = xcalloc(nids, sizeof(*ids));
	for (size_t k = 0; k < nids; k++)
		ids[k] = l->e[k].id;
	printf("xdock replay: %s ran %zu test%s up to %s (%s) in run %s; running them again in that order on a "
	       "fresh worker and database\n",
	       l->worker, nids, nids == 1 ? "" : "s", target->id,
	       target->outcome == OUTCOME_NONE ? "unfinished" : outcome_name(target->outcome), lr->run_id ? lr->run_id : "?");
	fflush(stdout);
	plan_ids[0] = ids;
	code = replay_run(lr, cfg, plan_ids, &nids, 1, &out, err);
	if (code >= 0 && code != EXIT_INTERRUPTED) {
		got = replay_outcome(&out, 0, target->id, &o);
		if (!report_is_failure(target->outcome)) {
			/* Nothing failed there: the replay's outcome is pytest's. */
			printf("xdock replay: %s %s in the replay\n", target->id, got < 0 ? "did not run" : outcome_name(o));
		} else if (got == 1) {
			printf("xdock replay: reproduced: %s %s again after the same %zu test%s\n", target->id,
			       outcome_name(o), nids - 1, nids == 2 ? "" : "s");
			code = REPLAY_REPRODUCED;
		} else {
			printf("xdock replay: not reproduced: %s %s\n", target->id,
			       got < 0 ? "was not reached (see above)" : outcome_name(o));
			code = REPLAY_NOT_REPRODUCED;
		}
	}
	free(ids);
	report_release(&out);
	return code;
}
