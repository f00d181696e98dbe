#include "sched.h"
#include "sched_priv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The key that binds tests of one unit together in each mode. */
static size_t
unit_key_len(const struct sched *s, const struct sched_test *t, const char **key)
{
	const char *sep;

	switch (s->mode) {
	case SCHED_LOADSCOPE:
		/* pytest-xdist: everything up to the last "::" (the class, or
		 * the module for module-level tests), parameters aside. */
		*key = t->id;
		sep = NULL;
		for (const char *p = t->id; (p = strstr(p, "::")); p += 2) {
			const char *bracket = strchr(t->id, '[');

			if (bracket && p > bracket)
				break;
			sep = p;
		}
		return sep ? (size_t)(sep - t->id) : strlen(t->id);
	case SCHED_LOADFILE:
		*key = t->file;
		return strlen(t->file);
	case SCHED_LOADGROUP:
		*key = t->group;
		return t->group ? strlen(t->group) : 0;
	default:
		*key = NULL;
		return 0;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* FNV-1a: unit keys are short strings, one lookup per test. */
static size_t
hash_key(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211u;
	return (size_t)h;
}

static int
cmp_units_desc(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;

	if (x->cost != y->cost)
		return x->cost < y->cost ? 1 : -1;
	return x->first < y->first ? -1 : x->first > y->first;
}

static bool
plannable(enum sched_mode mode)
{
	return mode == SCHED_LOAD || mode == SCHED_LOADSCOPE || mode == SCHED_LOADFILE || mode == SCHED_LOADGROUP ||
	       mode == SCHED_WORKSTEAL;
}

/* The unit of an earlier test with the same key (same unit however far
 * apart in collection order: xdist_group marks are scattered), or
 * SCHED_NONE with *slot the free slot to claim. Linear probing. */
static size_t
find_unit(const struct sched *s, const char *key, size_t klen, const size_t *slots, size_t mask,
	  const size_t *head, size_t *slot)
{
	size_t h = hash_key(key, klen) & mask;

	while (slots[h] != SCHED_NONE) {
		const char *k2;
		size_t l2 = unit_key_len(s, &s->tests[head[slots[h]]], &k2);

		if (l2 == klen && memcmp(k2, key, klen) == 0)
			return slots[h];
		h = (h + 1) & mask;
	}
	*slot = h;
	return SCHED_NONE;
}

/* One pass over the tests in collection order: a unit's place is that of
 * its first test; head/next chain each unit's tests; known collects the
 * durations history knows. */
static size_t
group_units(struct sched *s, size_t *head, size_t *next, double *known)
{
	size_t *tail = xcalloc(s->ntests, sizeof(*tail));
	size_t nknown = 0, nslots = 16, mask, *slots;

	while (nslots < 2 * s->ntests)
		nslots *= 2;
	mask = nslots - 1;
	slots = xmalloc(nslots * sizeof(*slots));
	memset(slots, 0xff, nslots * sizeof(*slots));
	s->units = xcalloc(s->ntests ? s->ntests : 1, sizeof(*s->units));
	s->nunits = 0;
	for (size_t i = 0; i < s->ntests; i++) {
		const char *key;
		size_t klen = unit_key_len(s, &s->tests[i], &key);
		size_t u = SCHED_NONE, slot = SCHED_NONE;

		next[i] = SCHED_NONE;
		if (key && klen)
			u = find_unit(s, key, klen, slots, mask, head, &slot);
		if (u == SCHED_NONE) {
			u = s->nunits++;
			head[u] = i;
			s->units[u].n = 0;
			if (slot != SCHED_NONE)
				slots[slot] = u;
		} else {
			next[tail[u]] = i;
		}
		tail[u] = i;
		s->units[u].n++;
		if (s->tests[i].expected >= 0)
			known[nknown++] = s->tests[i].expected;
	}
	free(tail);
	free(slots);
	return nknown;
}

/* With durations known: the plan keeps the suite's order
 * (SCHED_ORDER_SUITE) or the units go longest first, and the in-flight
 * cap is set. */
static void
weigh_units(struct sched *s)
{
	double total = 0;

	s->planned = s->hist_order == SCHED_ORDER_SUITE && plannable(s->mode);
	if (!s->planned)
		qsort(s->units, s->nunits, sizeof(*s->units), cmp_units_desc);
	for (size_t u = 0; u < s->nunits; u++)
		total += s->units[u].cost;
	/* An eighth of a worker's fair share: small enough that the long
	 * tests at the front of the queue never pile up on one worker, large
	 * enough that short tests still go in threes. Found with
	 * tools/simulate (docs/scheduling.md). */
	s->inflight_cap = total / (double)s->nworkers / 8;
}

/* Builds units in collection order (a unit's place is that of its first
 * test), then, when any duration is known, either keeps that order for
 * the plans (SCHED_ORDER_SUITE) or sorts them longest first; unknown
 * tests count as the median known. */
void
sched_build_units(struct sched *s)
{
	size_t *next = xcalloc(s->ntests, sizeof(*next)); /* chain per unit */
	size_t *head = xcalloc(s->ntests, sizeof(*head));
	double median = 0, *known = xcalloc(s->ntests, sizeof(*known));
	size_t nknown = group_units(s, head, next, known), pos = 0;

	if (nknown > 0) {
		qsort(known, nknown, sizeof(*known), cmp_double);
		median = known[nknown / 2];
	}
	for (size_t u = 0; u < s->nunits; u++) {
		s->units[u].first = pos;
		s->units[u].cost = 0;
		for (size_t i = head[u]; i != SCHED_NONE; i = next[i]) {
			s->order[pos++] = i;
			s->units[u].cost += s->tests[i].expected >= 0 ? s->tests[i].expected : median;
		}
	}
	s->median = median;
	if (nknown > 0)
		weigh_units(s);
	for (size_t u = 0; u < s->nunits; u++)
		for (size_t k = 0; k < s->units[u].n; k++)
			s->unit_of[s->order[s->units[u].first + k]] = u;
	free(next);
	free(head);
	free(known);
}

/* A unit and its expected cost, for sorting the deal. */
struct costed {
	double cost;
	size_t u;
};

static int
cmp_costed_desc(const void *a, const void *b)
{
	const struct costed *x = a, *y = b;

	if (x->cost != y->cost)
		return x->cost < y->cost ? 1 : -1;
	return x->u < y->u ? -1 : x->u > y->u;
}

/* Min-heap of workers by planned load, ties to the lower index, so the
 * deal is the same on every run. */
static bool
load_less(const double *load, size_t a, size_t b)
{
	return load[a] < load[b] || (load[a] == load[b] && a < b);
}

static void
heap_down(size_t *h, size_t n, const double *load, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i, x;

		if (l < n && load_less(load, h[l], h[m]))
			m = l;
		if (l + 1 < n && load_less(load, h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		x = h[i];
		h[i] = h[m];
		h[m] = x;
		i = m;
	}
}

/* The deal: units longest first, each to the worker with the least planned
 * work (LPT, within 4/3 of the best possible split), then each worker's
 * share in collection order. Balance comes from the split, not from the
 * order, so the suite's order survives on every worker. */
void
sched_plan_units(struct sched *s)
{
	struct costed *c = xcalloc(s->nunits ? s->nunits : 1, sizeof(*c));
	size_t *owner = xcalloc(s->nunits ? s->nunits : 1, sizeof(*owner));
	size_t *heap = xcalloc(s->nworkers, sizeof(*heap));
	double *load = xcalloc(s->nworkers, sizeof(*load));

	for (size_t u = 0; u < s->nunits; u++)
		c[u] = (struct costed){ s->units[u].cost, u };
	qsort(c, s->nunits, sizeof(*c), cmp_costed_desc);
	for (size_t w = 0; w < s->nworkers; w++)
		heap[w] = w;
	for (size_t k = 0; k < s->nunits; k++) {
		size_t w = heap[0];

		owner[c[k].u] = w;
		load[w] += c[k].cost;
		heap_down(heap, s->nworkers, load, 0);
	}
	for (size_t u = 0; u < s->nunits; u++) {
		q_push(&s->w[owner[u]].plan, u);
		s->w[owner[u]].plan_cost += s->units[u].cost;
	}
	free(c);
	free(owner);
	free(heap);
	free(load);
}
