#include "bisect.h"

#include <stdio.h>
#include <string.h>

#include "lastrun.h"
#include "replay.h"
#include "report.h"
#include "sequence.h"
#include "util.h"

void
bisect_init(struct bisect *b, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->cur = xcalloc(n + 1, sizeof(*b->cur));
	for (size_t i = 0; i < n; i++)
		b->cur[i] = i;
	b->ncur = n;
	b->gran = 2;
	b->done = n == 0;
}

static void
drop_candidates(struct bisect *b)
{
	for (size_t i = 0; i < b->ncands; i++)
		free(b->cand[i]);
	free(b->cand);
	free(b->ncand);
	b->cand = NULL;
	b->ncand = NULL;
	b->ncands = 0;
}

void
bisect_release(struct bisect *b)
{
	drop_candidates(b);
	free(b->cur);
	memset(b, 0, sizeof(*b));
}

bool
bisect_candidates(struct bisect *b)
{
	size_t parts;

	drop_candidates(b);
	/* One suspect left: it is the polluter (the target alone passes,
	 * checked before the search starts). */
	if (b->done || b->ncur <= 1) {
		b->done = true;
		return false;
	}
	if (b->gran > b->ncur)
		b->gran = b->ncur;
	parts = b->gran;
	b->ncands = parts > 2 ? 2 * parts : parts;
	b->cand = xcalloc(b->ncands, sizeof(*b->cand));
	b->ncand = xcalloc(b->ncands, sizeof(*b->ncand));
	for (size_t p = 0; p < parts; p++) {
		size_t from = b->ncur * p / parts, to = b->ncur * (p + 1) / parts;

		b->cand[p] = xcalloc(b->ncur + 1, sizeof(**b->cand));
		for (size_t k = from; k < to; k++)
			b->cand[p][b->ncand[p]++] = b->cur[k];
		if (parts > 2) {
			size_t c = parts + p;

			b->cand[c] = xcalloc(b->ncur + 1, sizeof(**b->cand));
			for (size_t k = 0; k < b->ncur; k++)
				if (k < from || k >= to)
					b->cand[c][b->ncand[c]++] = b->cur[k];
		}
	}
	return true;
}

static void
keep(struct bisect *b, size_t c)
{
	memcpy(b->cur, b->cand[c], b->ncand[c] * sizeof(*b->cur));
	b->ncur = b->ncand[c];
}

void
bisect_step(struct bisect *b, const bool *failed)
{
	size_t parts = b->gran;

	/* ddmin: a part that fails on its own is all we need; else a
	 * complement (one part less); else cut finer; at single tests with
	 * nothing failing, the current set is 1-minimal. */
	for (size_t p = 0; p < parts; p++) {
		if (failed[p]) {
			keep(b, p);
			b->gran = 2;
			return;
		}
	}
	for (size_t p = 0; parts > 2 && p < parts; p++) {
		if (failed[parts + p]) {
			keep(b, parts + p);
			b->gran = parts - 1 > 2 ? parts - 1 : 2;
			return;
		}
	}
	if (parts < b->ncur)
		b->gran = 2 * parts < b->ncur ? 2 * parts : b->ncur;
	else
		b->done = true;
}

/* ---- the command ------------------------------------------------------ */

struct bisect_ctx {
	const struct config *cfg;
	const struct lastrun *lr;
	const struct sequence_lane *lane;
	const char *target;
	size_t runs;            /* runs started (each: start-up + its candidates) */
	size_t candidates;      /* sequences run */
};

/* Runs each set (prefix indexes, then the target) as a sequence on its
 * own fresh worker: all of a batch in one run, at most -n at a time; with
 * --serial one run per set, one after another. failed[i]: set i made
 * the target fail. */
static int
try_sets(struct bisect_ctx *x, size_t *const *sets, const size_t *nsets, size_t count, bool *failed,
	 struct error **err)
{
	size_t batch = x->cfg->bisect_serial ? 1 : (size_t)(x->cfg->workers > 0 ? x->cfg->workers : 2);

	for (size_t base = 0; base < count; base += batch) {
		size_t n = count - base < batch ? count - base : batch;
		const char ***ids = xcalloc(n, sizeof(*ids));
		size_t *nids = xcalloc(n, sizeof(*nids));
		struct report out;
		int code;

		for (size_t j = 0; j < n; j++) {
			size_t m = nsets[base + j];

			ids[j] = xcalloc(m + 1, sizeof(**ids));
			for (size_t k = 0; k < m; k++)
				ids[j][k] = x->lane->e[sets[base + j][k]].id;
			ids[j][m] = x->target;
			nids[j] = m + 1;
		}
		code = replay_run(x->lr, x->cfg, (const char *const *const *)ids, nids, n, &out, err);
		x->runs++;
		x->candidates += n;
		for (size_t j = 0; j < n; j++) {
			enum outcome o;

			failed[base + j] = replay_outcome(&out, j, x->target, &o) == 1;
			free(ids[j]);
		}
		free(ids);
		free(nids);
		report_release(&out);
		if (code < 0)
			return -1;
		if (code == EXIT_INTERRUPTED)
			return error_set(err, EXIT_INTERRUPTED, "bisect: interrupted");
	}
	return 0;
}

static void
print_command(const struct bisect_ctx *x, const size_t *set, size_t n)
{
	printf("xdock bisect: reproduce with plain pytest (in the project directory%s):\n  python3 -m pytest -p no:randomly",
	       x->lr->db == CLI_DB_NONE ? "" : ", with DATABASE_URL/PG* pointing at a database set up as the run did");
	/* What xdock gives the workers' pytest first (-o addopts=: the
	 * options below hold the project's addopts already), then the run's
	 * own pytest options, not its paths: the node ids are the selection. */
	for (size_t i = 0; i < x->cfg->nworker_args; i++) {
		cleanup_free char *q = replay_shell_quote(x->cfg->worker_args[i]);

		printf(" %s", q);
	}
	for (size_t i = 0; i < x->lr->npytest_args; i++) {
		const char *a = x->lr->pytest_args[i];
		bool valued = strcmp(a, "-p") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "-k") == 0 || strcmp(a, "-m") == 0;

		if (a[0] != '-')
			continue;
		if (strcmp(a, "--") == 0)
			continue;
		{
			cleanup_free char *q = replay_shell_quote(a);

			printf(" %s", q);
		}
		if (valued && i + 1 < x->lr->npytest_args) {
			cleanup_free char *q = replay_shell_quote(x->lr->pytest_args[++i]);

			printf(" %s", q);
		}
	}
	for (size_t k = 0; k < n; k++) {
		cleanup_free char *q = replay_shell_quote(x->lane->e[set[k]].id);

		printf(" %s", q);
	}
	{
		cleanup_free char *q = replay_shell_quote(x->target);

		printf(" %s\n", q);
	}
}

int
bisect_command(const struct config *cfg, const struct lastrun *lr, struct error **err)
{
	struct bisect b;
	struct bisect_ctx x = { .cfg = cfg, .lr = lr };
	size_t pos = 0, steps = 0;
	long lane;
	int64_t t0 = util_now_ms();
	int code = -1;

	lane = cfg->replay_worker ? sequence_find(&lr->seq, cfg->replay_worker, cfg->replay_until, &pos)
				  : sequence_find_failure(&lr->seq, cfg->replay_until, &pos);
	if (lane < 0 || !report_is_failure(lr->seq.lanes[lane].e[pos].outcome))
		return error_set(err, EXIT_USAGE, "bisect: %s did not fail in run %s: nothing to bisect", cfg->replay_until,
				 lr->run_id ? lr->run_id : "?");
	x.lane = &lr->seq.lanes[lane];
	x.target = x.lane->e[pos].id;
	bisect_init(&b, pos);
	printf("xdock bisect: %s failed on %s after %zu test%s in run %s\n", x.target, x.lane->worker, pos,
	       pos == 1 ? "" : "s", lr->run_id ? lr->run_id : "?");
	fflush(stdout);

	/* First, in parallel: the whole sequence (does the failure come
	 * back at all?) and the target alone (does it need anything?). */
	{
		size_t *sets[2] = { b.cur, NULL };
		size_t nsets[2] = { pos, 0 };
		bool failed[2] = { false, false };

		if (try_sets(&x, sets, nsets, 2, failed, err) < 0)
			goto out;
		if (!failed[0]) {
			printf("xdock bisect: not reproduced: %s passed after the same %zu tests on a fresh worker\n",
			       x.target, pos);
			code = REPLAY_NOT_REPRODUCED;
			goto out;
		}
		if (failed[1]) {
			printf("xdock bisect: %s fails on its own, with no test before it: not order-dependent\n",
			       x.target);
			print_command(&x, NULL, 0);
			code = REPLAY_NOT_REPRODUCED;
			goto out;
		}
	}
	while (bisect_candidates(&b)) {
		bool *failed = xcalloc(b.ncands, sizeof(*failed));
		int rc = try_sets(&x, b.cand, b.ncand, b.ncands, failed, err);

		if (rc == 0)
			bisect_step(&b, failed);
		free(failed);
		if (rc < 0)
			goto out;
		steps++;
		printf("xdock bisect: step %zu: %zu suspect%s left\n", steps, b.ncur, b.ncur == 1 ? "" : "s");
		fflush(stdout);
	}
	printf("xdock bisect: %s fails after %s:\n", x.target, b.ncur == 1 ? "this test" : "these tests, together");
	for (size_t k = 0; k < b.ncur; k++)
		printf("  %s\n", x.lane->e[b.cur[k]].id);
	print_command(&x, b.cur, b.ncur);
	printf("xdock bisect: %zu sequences in %zu runs (%s), %.1f s\n", x.candidates, x.runs,
	       cfg->bisect_serial ? "one at a time" : "in parallel", (double)(util_now_ms() - t0) / 1000.0);
	code = REPLAY_REPRODUCED;
out:
	bisect_release(&b);
	return code;
}
