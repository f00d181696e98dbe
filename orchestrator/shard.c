#include "shard.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int
shard_parse(const char *s, struct shard_spec *out, struct error **err)
{
	unsigned long k, m;
	char *end;

	/* strtoul accepts signs and spaces; a shard number does not. */
	if (s[0] < '0' || s[0] > '9')
		goto bad;
	errno = 0;
	k = strtoul(s, &end, 10);
	if (errno || *end != '/' || end[1] < '0' || end[1] > '9')
		goto bad;
	m = strtoul(end + 1, &end, 10);
	if (errno || *end != '\0' || k < 1 || k > m || m > SHARD_MAX)
		goto bad;
	out->k = k;
	out->m = m;
	return 0;
bad:
	return error_set(err, EXIT_USAGE, "--shard: expected K/M with 1 <= K <= M <= %d (e.g. 2/4), got \"%s\"",
			 SHARD_MAX, s);
}

struct unit {
	double cost;
	const char *key;  /* smallest node id in the unit: the tie-breaker */
	size_t first;     /* smallest collection index, the last resort */
	size_t bin;
};

struct ctx {
	const char *const *ids;
	const char *const *groups;
};

/* qsort has no context argument in C11: the comparators get the arrays
 * through a pointer stored next to each element instead. */
struct gitem {
	const struct ctx *c;
	size_t i;
};

static int
cmp_grouped(const void *a, const void *b)
{
	const struct gitem *x = a, *y = b;
	int r = strcmp(x->c->groups[x->i], y->c->groups[y->i]);

	if (r == 0)
		r = strcmp(x->c->ids[x->i], y->c->ids[y->i]);
	return r ? r : (x->i > y->i) - (x->i < y->i);
}

static int
cmp_units(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;
	int r;

	if (x->cost != y->cost)
		return x->cost < y->cost ? 1 : -1;
	if ((r = strcmp(x->key, y->key)) != 0)
		return r;
	return (x->first > y->first) - (x->first < y->first);
}

/* NaN and infinity from a hand-edited history count as unknown. */
static bool
known_dur(double x)
{
	return x >= 0 && isfinite(x);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A binary min-heap of shards by (load, index): the lightest shard in
 * O(log m), ties to the lowest index so every machine picks the same. */
struct bins {
	double *load;
	size_t *heap;
	size_t n;
};

static bool
lighter(const struct bins *b, size_t x, size_t y)
{
	if (b->load[x] != b->load[y])
		return b->load[x] < b->load[y];
	return x < y;
}

static void
sift_down(struct bins *b, size_t pos)
{
	for (;;) {
		size_t l = 2 * pos + 1, r = l + 1, best = pos;

		if (l < b->n && lighter(b, b->heap[l], b->heap[best]))
			best = l;
		if (r < b->n && lighter(b, b->heap[r], b->heap[best]))
			best = r;
		if (best == pos)
			return;
		size_t t = b->heap[pos];

		b->heap[pos] = b->heap[best];
		b->heap[best] = t;
		pos = best;
	}
}

void
shard_assign(const char *const *ids, const double *expected, const char *const *groups, size_t n, size_t m,
	     size_t *bin)
{
	struct ctx c = { ids, groups };
	cleanup_free double *known = xcalloc(n + 1, sizeof(*known));
	cleanup_free struct unit *units = xcalloc(n + 1, sizeof(*units));
	cleanup_free size_t *unit_of = xcalloc(n + 1, sizeof(*unit_of));
	cleanup_free struct gitem *grouped = xcalloc(n + 1, sizeof(*grouped));
	cleanup_free double *load = xcalloc(m ? m : 1, sizeof(*load));
	cleanup_free size_t *heap = xcalloc(m ? m : 1, sizeof(*heap));
	struct bins b = { load, heap, m ? m : 1 };
	size_t nknown = 0, nunits = 0, ngrouped = 0;
	double fill = 1.0;

	for (size_t i = 0; i < n; i++)
		if (known_dur(expected[i]))
			known[nknown++] = expected[i];
	if (nknown > 0) {
		qsort(known, nknown, sizeof(*known), cmp_double);
		fill = known[nknown / 2];
	}

	/* Units: every ungrouped test alone; grouped tests sorted by (group,
	 * node id) so that a unit's members, its key and the order its cost
	 * is summed in do not depend on collection order. */
	for (size_t i = 0; i < n; i++) {
		if (groups && groups[i]) {
			grouped[ngrouped++] = (struct gitem){ &c, i };
			continue;
		}
		units[nunits] = (struct unit){ known_dur(expected[i]) ? expected[i] : fill, ids[i], i, 0 };
		unit_of[i] = nunits++;
	}
	qsort(grouped, ngrouped, sizeof(*grouped), cmp_grouped);
	for (size_t g = 0; g < ngrouped; g++) {
		size_t i = grouped[g].i;

		if (g == 0 || strcmp(groups[i], groups[grouped[g - 1].i]) != 0)
			units[nunits++] = (struct unit){ 0, ids[i], i, 0 };
		struct unit *u = &units[nunits - 1];

		u->cost += known_dur(expected[i]) ? expected[i] : fill;
		if (i < u->first)
			u->first = i;
		unit_of[i] = nunits - 1;
	}
	/* unit_of must follow the units through the sort: remember each
	 * unit's old position in bin, then map. */
	for (size_t u = 0; u < nunits; u++)
		units[u].bin = u;
	qsort(units, nunits, sizeof(*units), cmp_units);
	{
		cleanup_free size_t *moved = xcalloc(nunits + 1, sizeof(*moved));

		for (size_t u = 0; u < nunits; u++)
			moved[units[u].bin] = u;
		for (size_t i = 0; i < n; i++)
			unit_of[i] = moved[unit_of[i]];
	}

	/* All loads are zero: the identity is a valid heap. */
	for (size_t k = 0; k < b.n; k++)
		b.heap[k] = k;
	for (size_t u = 0; u < nunits; u++) {
		size_t k = b.heap[0];

		units[u].bin = k;
		b.load[k] += units[u].cost;
		sift_down(&b, 0);
	}
	for (size_t i = 0; i < n; i++)
		bin[i] = units[unit_of[i]].bin;
}

size_t
shard_select(const char *const *ids, const double *expected, const char *const *groups, size_t n,
	     const struct shard_spec *spec, size_t *keep)
{
	cleanup_free size_t *bin = xcalloc(n + 1, sizeof(*bin));
	size_t nkeep = 0;

	shard_assign(ids, expected, groups, n, spec->m, bin);
	for (size_t i = 0; i < n; i++)
		if (bin[i] == spec->k - 1)
			keep[nkeep++] = i;
	return nkeep;
}
