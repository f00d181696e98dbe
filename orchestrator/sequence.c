#include "sequence.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

/* What a file may hold: far beyond any real suite, small enough that a
 * hostile file cannot make the replay allocate without bound. */
#define SEQUENCE_MAX_LANES 100000
#define SEQUENCE_MAX_ENTRIES 10000000

void
sequence_init(struct sequence *s, size_t nslots)
{
	memset(s, 0, sizeof(*s));
	s->nslots = nslots;
	s->open = xmalloc((nslots ? nslots : 1) * sizeof(*s->open));
	for (size_t i = 0; i < nslots; i++)
		s->open[i] = -1;
}

void
sequence_release(struct sequence *s)
{
	for (size_t i = 0; i < s->nlanes; i++) {
		free(s->lanes[i].container);
		free(s->lanes[i].database);
		free(s->lanes[i].e);
	}
	free(s->lanes);
	free(s->open);
	for (size_t i = 0; i < s->nowned; i++)
		free(s->owned[i]);
	free(s->owned);
	memset(s, 0, sizeof(*s));
}

/* Every recorder takes s NULL (a report without a record) as a no-op. */
static struct sequence_lane *
current(struct sequence *s, size_t slot)
{
	if (!s || slot >= s->nslots || s->open[slot] < 0)
		return NULL;
	return &s->lanes[s->open[slot]];
}

static struct sequence_lane *
add_lane(struct sequence *s)
{
	struct sequence_lane *l;

	if (s->nlanes == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->lanes = xrealloc(s->lanes, s->cap * sizeof(*s->lanes));
	}
	l = &s->lanes[s->nlanes++];
	memset(l, 0, sizeof(*l));
	l->started_ms = l->collected_ms = l->ended_ms = -1;
	return l;
}

void
sequence_open(struct sequence *s, size_t slot, const char *worker, const char *container, const char *database,
	      int64_t at_ms)
{
	struct sequence_lane *l;

	if (!s || slot >= s->nslots)
		return;
	sequence_close(s, slot, at_ms);
	l = add_lane(s);
	snprintf(l->worker, sizeof(l->worker), "%s", worker);
	l->slot = slot;
	l->round = s->round;
	l->container = container ? xstrdup(container) : NULL;
	l->database = database ? xstrdup(database) : NULL;
	l->started_ms = at_ms;
	s->open[slot] = (long)(s->nlanes - 1);
}

void
sequence_set_container(struct sequence *s, size_t slot, const char *container)
{
	struct sequence_lane *l = current(s, slot);

	if (!l || !container)
		return;
	free(l->container);
	l->container = xstrdup(container);
}

void
sequence_collected(struct sequence *s, size_t slot, int64_t at_ms)
{
	struct sequence_lane *l = current(s, slot);

	if (l && l->collected_ms < 0)
		l->collected_ms = at_ms;
}

static struct sequence_entry *
add_entry(struct sequence_lane *l, const char *id, int64_t at_ms)
{
	struct sequence_entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	e = &l->e[l->n++];
	*e = (struct sequence_entry){ .id = id, .outcome = OUTCOME_NONE, .start_ms = at_ms, .end_ms = -1 };
	return e;
}

void
sequence_start(struct sequence *s, size_t slot, const char *id, int64_t at_ms)
{
	struct sequence_lane *l = current(s, slot);

	if (l)
		add_entry(l, id, at_ms);
}

void
sequence_end(struct sequence *s, size_t slot, const char *id, enum outcome o, int64_t at_ms)
{
	struct sequence_lane *l = current(s, slot);
	struct sequence_entry *e = NULL;

	if (!l)
		return;
	/* The result is for the test that started last; the runner never
	 * interleaves two tests. */
	if (l->n > 0 && l->e[l->n - 1].end_ms < 0 && strcmp(l->e[l->n - 1].id, id) == 0)
		e = &l->e[l->n - 1];
	if (!e)
		e = add_entry(l, id, at_ms);
	e->outcome = o;
	e->end_ms = at_ms;
}

void
sequence_close(struct sequence *s, size_t slot, int64_t at_ms)
{
	struct sequence_lane *l = current(s, slot);

	if (!l)
		return;
	if (l->ended_ms < 0)
		l->ended_ms = at_ms;
	s->open[slot] = -1;
}

static long
first_failure(const struct sequence_lane *l, size_t *pos)
{
	for (size_t k = 0; k < l->n; k++) {
		if (report_is_failure(l->e[k].outcome)) {
			*pos = k;
			return 0;
		}
	}
	return -1;
}

/* The lane of round `round` (on worker `worker`; NULL: any) where id ran,
 * its first failing run preferred, else its first run (fail_only: none).
 * Returns the lane and sets *pos to the entry, or -1. */
static long
find_run(const struct sequence *s, int round, const char *worker, const char *id, bool fail_only, size_t *pos)
{
	long found = -1;
	size_t fpos = 0;

	for (size_t i = 0; i < s->nlanes; i++) {
		const struct sequence_lane *l = &s->lanes[i];

		if (l->round != round || (worker && strcmp(l->worker, worker) != 0))
			continue;
		for (size_t k = 0; k < l->n; k++) {
			if (strcmp(l->e[k].id, id) != 0)
				continue;
			if (report_is_failure(l->e[k].outcome)) {
				*pos = k;
				return (long)i;
			}
			if (found < 0 && !fail_only) {
				found = (long)i;
				fpos = k;
			}
		}
	}
	if (found >= 0)
		*pos = fpos;
	return found;
}

long
sequence_find(const struct sequence *s, const char *worker, const char *id, size_t *pos)
{
	long fallback = -1;
	size_t fpos = 0;

	if (id)
		return find_run(s, 0, worker, id, false, pos);
	for (size_t i = 0; i < s->nlanes; i++) {
		const struct sequence_lane *l = &s->lanes[i];

		if (l->round != 0 || (worker && strcmp(l->worker, worker) != 0))
			continue;
		if (first_failure(l, pos) == 0)
			return (long)i;
		if (fallback < 0 && l->n > 0) {
			fallback = (long)i;
			fpos = l->n - 1;
		}
	}
	if (fallback >= 0)
		*pos = fpos;
	return fallback;
}

long
sequence_find_failure(const struct sequence *s, const char *id, size_t *pos)
{
	return find_run(s, 0, NULL, id, true, pos);
}

long
sequence_find_round(const struct sequence *s, int round, const char *worker, const char *id, size_t *pos)
{
	return find_run(s, round, worker, id, false, pos);
}

long
sequence_critical(const struct sequence *s)
{
	long best = -1;
	int64_t end = -1;

	for (size_t i = 0; i < s->nlanes; i++) {
		const struct sequence_lane *l = &s->lanes[i];

		if (l->n > 0 && l->e[l->n - 1].end_ms > end) {
			end = l->e[l->n - 1].end_ms;
			best = (long)i;
		}
	}
	return best;
}

/* Seconds with millisecond precision; -1 ms (unknown) is null. */
static void
add_seconds(cJSON *o, const char *key, int64_t ms)
{
	if (ms < 0)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, (double)ms / 1000.0);
}

static void
add_opt_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

cJSON *
sequence_lane_json(const struct sequence_lane *l)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *tests;

	cJSON_AddStringToObject(o, "worker", l->worker);
	cJSON_AddNumberToObject(o, "round", l->round);
	add_opt_str(o, "container", l->container);
	add_opt_str(o, "database", l->database);
	add_seconds(o, "start", l->started_ms);
	add_seconds(o, "collected", l->collected_ms);
	add_seconds(o, "end", l->ended_ms);
	tests = cJSON_AddArrayToObject(o, "tests");
	for (size_t k = 0; k < l->n; k++) {
		const struct sequence_entry *e = &l->e[k];
		cJSON *t = cJSON_CreateObject();

		cJSON_AddStringToObject(t, "nodeid", e->id);
		cJSON_AddStringToObject(t, "outcome", e->outcome == OUTCOME_NONE ? "unfinished" : outcome_name(e->outcome));
		add_seconds(t, "start", e->start_ms);
		add_seconds(t, "end", e->end_ms);
		cJSON_AddItemToArray(tests, t);
	}
	return o;
}

/* A string as cJSON prints one: the two JSON must-escapes, the five
 * short control escapes, other control bytes as \u00XX, the rest raw.
 * Each put returns 0, or -1 once b's cap was hit. */
static int
put_str(struct buf *b, const char *s)
{
	const char *p = s ? s : "", *run = p;
	int rc = buf_append(b, "\"", 1);

	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
				: c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
		char u[8];

		if (!esc && c >= 32)
			continue;
		rc |= buf_append(b, run, (size_t)(p - run));
		run = p + 1;
		if (!esc) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			esc = u;
		}
		rc |= buf_append(b, esc, strlen(esc));
	}
	rc |= buf_append(b, run, (size_t)(p - run));
	return rc | buf_append(b, "\"", 1);
}

/* Seconds as cJSON prints the number ms / 1000.0: its decimal digits with
 * the trailing zeros (and a bare point) dropped. That is exactly what
 * cJSON's "%d" (whole seconds) or "%1.15g" gives for any time under
 * 10^12 s, without printf's floating-point formatting, which was most of
 * the cost of writing a record; null for an unknown time. */
static int
put_seconds(struct buf *b, int64_t ms)
{
	char num[32], *p = num + sizeof(num);
	int64_t whole = ms / 1000;
	int frac = (int)(ms % 1000), digits = 3;

	if (ms < 0)
		return buf_append(b, "null", 4);
	if (ms >= (int64_t)1000000000000000)
		return buf_printf(b, "%1.15g", (double)ms / 1000.0);
	if (frac == 0)
		digits = 0;
	while (frac && frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	/* The digits left, leading zeros too: 10 ms is 0.01. */
	for (; digits > 0; digits--, frac /= 10)
		*--p = (char)('0' + frac % 10);
	if (p != num + sizeof(num))
		*--p = '.';
	do
		*--p = (char)('0' + whole % 10);
	while ((whole /= 10) > 0);
	return buf_append(b, p, (size_t)(num + sizeof(num) - p));
}

static int
put_opt_str(struct buf *b, const char *s)
{
	return s ? put_str(b, s) : buf_append(b, "null", 4);
}

#define PUT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

/* Each step in order (a | between two calls would not order them). */
int
sequence_lane_write(const struct sequence_lane *l, struct buf *b)
{
	char round[32];
	int rc = 0;

	snprintf(round, sizeof(round), ",\"round\":%d", l->round);
	rc |= PUT(b, "{\"worker\":");
	rc |= put_str(b, l->worker);
	rc |= buf_append(b, round, strlen(round));
	rc |= PUT(b, ",\"container\":");
	rc |= put_opt_str(b, l->container);
	rc |= PUT(b, ",\"database\":");
	rc |= put_opt_str(b, l->database);
	rc |= PUT(b, ",\"start\":");
	rc |= put_seconds(b, l->started_ms);
	rc |= PUT(b, ",\"collected\":");
	rc |= put_seconds(b, l->collected_ms);
	rc |= PUT(b, ",\"end\":");
	rc |= put_seconds(b, l->ended_ms);
	rc |= PUT(b, ",\"tests\":[");
	for (size_t k = 0; k < l->n && rc == 0; k++) {
		const struct sequence_entry *e = &l->e[k];

		rc |= k ? PUT(b, ",{\"nodeid\":") : PUT(b, "{\"nodeid\":");
		rc |= put_str(b, e->id);
		rc |= PUT(b, ",\"outcome\":");
		rc |= put_str(b, e->outcome == OUTCOME_NONE ? "unfinished" : outcome_name(e->outcome));
		rc |= PUT(b, ",\"start\":");
		rc |= put_seconds(b, e->start_ms);
		rc |= PUT(b, ",\"end\":");
		rc |= put_seconds(b, e->end_ms);
		rc |= PUT(b, "}");
	}
	rc |= PUT(b, "]}");
	return rc;
}

static int64_t
ms_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > 1e9)
		return -1;
	return (int64_t)llround(v->valuedouble * 1000.0);
}

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *
own(struct sequence *s, const char *id)
{
	s->owned = xrealloc(s->owned, (s->nowned + 1) * sizeof(*s->owned));
	return s->owned[s->nowned++] = xstrdup(id);
}

int
sequence_from_json(struct sequence *s, const cJSON *lanes, struct error **err)
{
	const cJSON *lo;
	size_t total = 0;

	if (!cJSON_IsArray(lanes))
		return error_set(err, EXIT_USAGE, "no \"sequences\" array");
	if ((size_t)cJSON_GetArraySize(lanes) > SEQUENCE_MAX_LANES)
		return error_set(err, EXIT_USAGE, "more than %d sequences", SEQUENCE_MAX_LANES);
	cJSON_ArrayForEach(lo, lanes)
	{
		const char *worker = str_of(lo, "worker");
		const cJSON *round = cJSON_GetObjectItemCaseSensitive(lo, "round");
		const cJSON *tests = cJSON_GetObjectItemCaseSensitive(lo, "tests"), *t;
		struct sequence_lane *l;

		if (!worker || strlen(worker) >= sizeof(l->worker) || !cJSON_IsArray(tests))
			return error_set(err, EXIT_USAGE, "a sequence without a worker name or tests");
		l = add_lane(s);
		snprintf(l->worker, sizeof(l->worker), "%s", worker);
		l->round = cJSON_IsNumber(round) && round->valuedouble >= 0 && round->valuedouble < 1000
				   ? (int)round->valuedouble : 0;
		l->container = str_of(lo, "container") ? xstrdup(str_of(lo, "container")) : NULL;
		l->database = str_of(lo, "database") ? xstrdup(str_of(lo, "database")) : NULL;
		l->started_ms = ms_of(lo, "start");
		l->collected_ms = ms_of(lo, "collected");
		l->ended_ms = ms_of(lo, "end");
		cJSON_ArrayForEach(t, tests)
		{
			const char *id = str_of(t, "nodeid"), *outcome = str_of(t, "outcome");
			struct sequence_entry *e;

			if (!id || !outcome)
				return error_set(err, EXIT_USAGE, "a test without nodeid or outcome in %s's sequence", worker);
			if (++total > SEQUENCE_MAX_ENTRIES)
				return error_set(err, EXIT_USAGE, "more than %d tests in the sequences", SEQUENCE_MAX_ENTRIES);
			e = add_entry(l, own(s, id), ms_of(t, "start"));
			e->outcome = outcome_parse(outcome);
			e->end_ms = ms_of(t, "end");
		}
	}
	return 0;
}
