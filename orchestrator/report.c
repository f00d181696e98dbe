/* The report of a run: its tests and their outcomes, the counts, the
 * summary line and the exit code they make, and its JSON form (the JSON
 * report). Its JUnit XML form is report_junit.c's. */
#include "report.h"
#include "save.h"

#include "sequence.h"
#include "timeline.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

void
report_test_release(struct report_test *t)
{
	free(t->id);
	free(t->file);
	free(t->group);
	free(t->when);
	free(t->longrepr);
	free(t->out);
	free(t->err);
	free(t->reason);
	for (size_t k = 0; k < t->nattempts; k++)
		free(t->attempts[k].longrepr);
	free(t->attempts);
}

void
report_release(struct report *r)
{
	for (size_t i = 0; i < r->ntests; i++)
		report_test_release(&r->tests[i]);
	free(r->tests);
	for (size_t i = 0; i < r->nworkers; i++) {
		free(r->workers[i].database);
		free(r->workers[i].container);
		free(r->workers[i].engine);
	}
	free(r->workers);
	for (size_t i = 0; i < r->ncollect_errors; i++)
		free(r->collect_errors[i]);
	free(r->collect_errors);
	free(r->run_id);
	free(r->image);
	if (r->seq) {
		sequence_release(r->seq);
		free(r->seq);
	}
	cJSON_Delete(r->invocation);
	memset(r, 0, sizeof(*r));
}

void
report_phase(struct report *r, const char *name, double seconds)
{
	double start = r->nphases > 0 ? r->phases[r->nphases - 1].end : 0;

	report_phase_at(r, name, seconds, start, start + seconds);
}

void
report_phase_at(struct report *r, const char *name, double seconds, double start, double end)
{
	if (r->nphases < REPORT_MAX_PHASES)
		r->phases[r->nphases++] = (struct report_phase){ name, seconds, start, end };
}

void
report_counts(const struct report *r, size_t counts[OUTCOME__COUNT])
{
	memset(counts, 0, sizeof(size_t) * OUTCOME__COUNT);
	for (size_t i = 0; i < r->ntests; i++)
		counts[r->tests[i].outcome]++;
}

static void extra_counts(const struct report *r, size_t *flaky, size_t *quarantined);

void
report_summary(const struct report *r, struct buf *b)
{
	/* pytest's order: failures first, then what passed, then the rest. */
	static const enum outcome order[] = {
		OUTCOME_FAILED, OUTCOME_PASSED, OUTCOME_SKIPPED, OUTCOME_XFAILED, OUTCOME_XPASSED,
		OUTCOME_ERROR, OUTCOME_CRASHED, OUTCOME_TIMEOUT, OUTCOME_NONE,
	};
	size_t counts[OUTCOME__COUNT], flaky, quarantined;
	bool any = false;

	report_counts(r, counts);
	for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
		size_t n = counts[order[k]];
		const char *name = outcome_name(order[k]);

		if (!n)
			continue;
		if (order[k] == OUTCOME_ERROR)
			name = n == 1 ? "error" : "errors";
		buf_printf(b, "%s%zu %s", any ? ", " : "", n, name);
		any = true;
	}
	if (r->ncollect_errors)
		buf_printf(b, "%s%zu error%s during collection", any ? ", " : "", r->ncollect_errors,
			   r->ncollect_errors == 1 ? "" : "s"), any = true;
	extra_counts(r, &flaky, &quarantined);
	if (flaky)
		buf_printf(b, "%s%zu flaky", any ? ", " : "", flaky);
	if (quarantined)
		buf_printf(b, "%s%zu quarantined failure%s", any ? ", " : "", quarantined, quarantined == 1 ? "" : "s");
	if (!any)
		buf_printf(b, "no tests ran");
	buf_printf(b, " in %.2fs", r->wall);
}

bool
report_is_failure(enum outcome o)
{
	return o == OUTCOME_FAILED || o == OUTCOME_ERROR || o == OUTCOME_CRASHED || o == OUTCOME_TIMEOUT;
}

void
report_add_attempt(struct report_test *t, enum outcome o, int worker, double duration, const char *longrepr)
{
	struct report_attempt *a;

	t->attempts = xrealloc(t->attempts, (t->nattempts + 1) * sizeof(*t->attempts));
	a = &t->attempts[t->nattempts++];
	a->outcome = o;
	a->worker = worker;
	a->duration = duration;
	a->longrepr = longrepr ? xstrdup(longrepr) : NULL;
}

int
report_exit_code(const struct report *r)
{
	/* Under pytest-xdist a collection error fails the run (the other
	 * tests still run); plain pytest would stop with 2. */
	if (r->ncollect_errors)
		return EXIT_TESTS_FAILED;
	if (r->ntests == 0)
		return EXIT_NO_TESTS;
	for (size_t i = 0; i < r->ntests; i++) {
		const struct report_test *t = &r->tests[i];

		if (t->quarantined)
			continue;
		if (report_is_failure(t->outcome) || (t->flaky && r->fail_on_flaky))
			return EXIT_TESTS_FAILED;
	}
	return EXIT_OK;
}

/* Flaky and quarantined-failure counts, for the summary line and JSON. */
static void
extra_counts(const struct report *r, size_t *flaky, size_t *quarantined)
{
	*flaky = *quarantined = 0;
	for (size_t i = 0; i < r->ntests; i++) {
		*flaky += r->tests[i].flaky;
		*quarantined += r->tests[i].quarantined && report_is_failure(r->tests[i].outcome);
	}
}

static void
add_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

/* Under --reruns: what ran before try k of t on the worker that failed
 * it (try k ran in round k), the last REPORT_RAN_BEFORE_MAX of them. */
#define REPORT_RAN_BEFORE_MAX 20
static void
json_ran_before(const struct report *r, const struct report_test *t, size_t k, cJSON *ao)
{
	const struct report_attempt *a = &t->attempts[k];
	const char *worker = a->worker >= 0 && (size_t)a->worker < r->nworkers ? r->workers[a->worker].name : NULL;
	size_t pos = 0, from;
	long lane;
	cJSON *arr;

	if (!r->seq || !worker || (lane = sequence_find_round(r->seq, (int)k, worker, t->id, &pos)) < 0)
		return;
	cJSON_AddNumberToObject(ao, "ran_before_count", (double)pos);
	arr = cJSON_AddArrayToObject(ao, "ran_before");
	from = pos > REPORT_RAN_BEFORE_MAX ? pos - REPORT_RAN_BEFORE_MAX : 0;
	for (size_t i = from; i < pos; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(r->seq->lanes[lane].e[i].id));
}

static cJSON *
json_test(const struct report *r, const struct report_test *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "nodeid", t->id);
	cJSON_AddStringToObject(o, "outcome", outcome_name(t->outcome));
	add_str(o, "worker", t->worker >= 0 && (size_t)t->worker < r->nworkers ? r->workers[t->worker].name : NULL);
	cJSON_AddNumberToObject(o, "duration", t->duration);
	add_str(o, "file", t->file);
	if (t->group)
		cJSON_AddStringToObject(o, "group", t->group);
	if (t->when)
		cJSON_AddStringToObject(o, "when", t->when);
	if (t->longrepr)
		cJSON_AddStringToObject(o, "longrepr", t->longrepr);
	if (t->out && *t->out)
		cJSON_AddStringToObject(o, "stdout", t->out);
	if (t->err && *t->err)
		cJSON_AddStringToObject(o, "stderr", t->err);
	if (t->reason)
		cJSON_AddStringToObject(o, "reason", t->reason);
	if (t->flaky)
		cJSON_AddTrueToObject(o, "flaky");
	if (t->flaky_kind)
		cJSON_AddStringToObject(o, "flaky_kind", t->flaky_kind);
	if (t->quarantined)
		cJSON_AddTrueToObject(o, "quarantined");
	if (t->nattempts) {
		cJSON *att = cJSON_AddArrayToObject(o, "attempts");

		for (size_t k = 0; k < t->nattempts; k++) {
			const struct report_attempt *a = &t->attempts[k];
			cJSON *ao = cJSON_CreateObject();

			cJSON_AddStringToObject(ao, "outcome", outcome_name(a->outcome));
			add_str(ao, "worker", a->worker >= 0 && (size_t)a->worker < r->nworkers
						      ? r->workers[a->worker].name : NULL);
			cJSON_AddNumberToObject(ao, "duration", a->duration);
			add_str(ao, "longrepr", a->longrepr);
			json_ran_before(r, t, k, ao);
			cJSON_AddItemToArray(att, ao);
		}
	}
	return o;
}

/* Prints a tree and frees it; skip_close leaves the closing brace off so
 * more members can follow. */
static int
json_put(FILE *out, cJSON *item, bool skip_close)
{
	char *text = cJSON_PrintUnformatted(item);
	size_t len;
	int rc;

	cJSON_Delete(item);
	if (!text)
		return -1;
	len = strlen(text) - (skip_close ? 1 : 0);
	rc = fwrite(text, 1, len, out) == len ? 0 : -1;
	free(text);
	return rc;
}

/* ,"sequences":[...],"timeline":{...},"invocation":{...}: one lane at a
 * time, as the tests. */
static int
json_sequences(const struct report *r, FILE *out)
{
	int rc = 0;

	if (!r->seq)
		return 0;
	rc |= fputs(",\"sequences\":[", out) < 0 ? -1 : 0;
	for (size_t i = 0; i < r->seq->nlanes && rc == 0; i++) {
		struct buf b;

		if (i > 0 && fputc(',', out) == EOF)
			rc = -1;
		/* Without a tree: one lane of 10,000 tests is 4.5 MB of
		 * cJSON nodes. */
		buf_init(&b, (size_t)1 << 30);
		rc |= sequence_lane_write(&r->seq->lanes[i], &b);
		rc |= fwrite(b.data, 1, b.len, out) == b.len ? 0 : -1;
		buf_release(&b);
	}
	rc |= fputs("],\"timeline\":", out) < 0 ? -1 : 0;
	rc |= json_put(out, timeline_json(r), false);
	if (r->invocation) {
		rc |= fputs(",\"invocation\":", out) < 0 ? -1 : 0;
		rc |= json_put(out, cJSON_Duplicate(r->invocation, true), false);
	}
	return rc;
}

/* Streamed one test at a time: a tree of the whole report costs about
 * 1 KB per test (7 MB at 10,000 tests, docs/benchmarks.md) for nothing.
 * The head and each test still go through cJSON, which does the
 * escaping. */
int
report_json(const struct report *r, FILE *out, struct error **err)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *summary, *workers, *cerr;
	size_t counts[OUTCOME__COUNT];
	int rc = 0;

	errno = 0;
	report_counts(r, counts);
	cJSON_AddStringToObject(root, "tool", "xdock");
	cJSON_AddStringToObject(root, "version", XDOCK_VERSION);
	add_str(root, "run_id", r->run_id);
	add_str(root, "image", r->image);
	add_str(root, "dist", r->dist);
	cJSON_AddNumberToObject(root, "exit_code", r->exit_code);
	cJSON_AddNumberToObject(root, "duration", r->wall);
	cJSON_AddNumberToObject(root, "startup", r->startup);
	if (r->first_result > 0)
		cJSON_AddNumberToObject(root, "first_result", r->first_result);
	else
		cJSON_AddNullToObject(root, "first_result");
	{
		cJSON *ph = cJSON_AddObjectToObject(root, "startup_phases");

		for (size_t i = 0; i < r->nphases; i++)
			cJSON_AddNumberToObject(ph, r->phases[i].name, r->phases[i].seconds);
		/* When each ran: [start, end] in seconds since the run's start. */
		ph = cJSON_AddObjectToObject(root, "startup_spans");
		for (size_t i = 0; i < r->nphases; i++) {
			const double se[2] = { r->phases[i].start, r->phases[i].end };

			cJSON_AddItemToObject(ph, r->phases[i].name, cJSON_CreateDoubleArray(se, 2));
		}
	}
	summary = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddNumberToObject(summary, "collected", (double)r->ntests);
	for (int o = OUTCOME_PASSED; o < OUTCOME__COUNT; o++)
		cJSON_AddNumberToObject(summary, outcome_name((enum outcome)o), (double)counts[o]);
	cJSON_AddNumberToObject(summary, "not_run", (double)counts[OUTCOME_NONE]);
	{
		size_t flaky, quarantined;

		extra_counts(r, &flaky, &quarantined);
		cJSON_AddNumberToObject(summary, "flaky", (double)flaky);
		cJSON_AddNumberToObject(summary, "quarantined_failures", (double)quarantined);
	}
	rc |= json_put(out, root, true);
	rc |= fputs(",\"tests\":[", out) < 0 ? -1 : 0;
	for (size_t i = 0; i < r->ntests && rc == 0; i++) {
		if (i > 0 && fputc(',', out) == EOF)
			rc = -1;
		rc |= json_put(out, json_test(r, &r->tests[i]), false);
	}
	workers = cJSON_CreateArray();
	for (size_t i = 0; i < r->nworkers; i++) {
		const struct report_worker *w = &r->workers[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", w->name);
		add_str(o, "database", w->database);
		add_str(o, "engine", w->engine);
		cJSON_AddNumberToObject(o, "engine_index", (double)w->engine_index);
		add_str(o, "container", w->container);
		add_str(o, "channel", w->channel);
		cJSON_AddNumberToObject(o, "tests", (double)w->tests);
		cJSON_AddItemToArray(workers, o);
	}
	rc |= fputs("],\"workers\":", out) < 0 ? -1 : 0;
	rc |= json_put(out, workers, false);
	cerr = cJSON_CreateArray();
	for (size_t i = 0; i < r->ncollect_errors; i++)
		cJSON_AddItemToArray(cerr, cJSON_CreateString(r->collect_errors[i]));
	rc |= fputs(",\"collection_errors\":", out) < 0 ? -1 : 0;
	rc |= json_put(out, cerr, false);
	rc |= json_sequences(r, out);
	rc |= fputs("}\n", out) < 0 ? -1 : 0;
	if (rc < 0 || fflush(out) == EOF || ferror(out))
		return error_set(err, EXIT_INTERNAL, "json report: %s", errno ? strerror(errno) : "write failed");
	return 0;
}

static int
write_json(FILE *f, const void *ctx, struct error **err)
{
	return report_json(ctx, f, err);
}

int
report_save(const char *path, const struct buf *b, struct error **err)
{
	return save_bytes(path, b->data, b->len, err);
}

int
report_save_json(const char *path, const struct report *r, struct error **err)
{
	return save_atomic(path, write_json, r, err);
}
