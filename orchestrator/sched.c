#include "sched.h"

#include <stdint.h>
#include <string.h>

#include "util.h"

/* A FIFO of test indexes that can also take items back at the front. */
struct queue {
	size_t *v;
	size_t head, len, cap; /* items are v[head .. head+len) */
};

struct unit {
	size_t first, n; /* into s->order */
	double cost;
};

struct wstate {
	struct queue own;   /* tests bound to this worker, not yet sent */
	size_t *sent;       /* sent, not completed */
	size_t nsent;
	bool lost;
};

struct sched {
	enum sched_mode mode;
	const struct sched_test *tests;
	size_t ntests, nworkers, prefetch;
	size_t *order;         /* test indexes grouped by unit */
	struct unit *units;
	size_t nunits;
	size_t *unit_of;       /* test index -> index into units */
	bool cancelled;        /* sched_cancel ran: nothing is requeued */
	struct queue shared;   /* unit indexes not yet taken */
	struct queue loose;    /* single tests put back by a lost worker */
	struct wstate *w;
	size_t remaining;      /* tests (per worker for `each`) not completed */
	double median;         /* expected seconds of a test without history */
	/* Expected seconds a worker may hold in flight (load modes with
	 * history); 0: no limit. See sched_next. */
	double inflight_cap;
};

static const char *const mode_names[] = {
	[SCHED_LOAD] = "load",
	[SCHED_LOADSCOPE] = "loadscope",
	[SCHED_LOADFILE] = "loadfile",
	[SCHED_LOADGROUP] = "loadgroup",
	[SCHED_WORKSTEAL] = "worksteal",
	[SCHED_EACH] = "each",
	[SCHED_NO] = "no",
};

int
sched_mode_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++)
		if (strcmp(name, mode_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
sched_mode_name(enum sched_mode mode)
{
	return (size_t)mode < ARRAY_SIZE(mode_names) ? mode_names[mode] : "?";
}

static void
q_push(struct queue *q, size_t x)
{
	if (q->head + q->len == q->cap) {
		if (q->head > 0) {
			memmove(q->v, q->v + q->head, q->len * sizeof(*q->v));
			q->head = 0;
		}
		if (q->len == q->cap) {
			q->cap = q->cap ? q->cap * 2 : 16;
			q->v = xrealloc(q->v, q->cap * sizeof(*q->v));
		}
	}
	q->v[q->head + q->len++] = x;
}

static void
q_push_front(struct queue *q, size_t x)
{
	if (q->head == 0) {
		size_t gap = q->len + 16;

		q->v = xrealloc(q->v, (q->len + gap) * sizeof(*q->v));
		memmove(q->v + gap, q->v, q->len * sizeof(*q->v));
		q->head = gap;
		q->cap = q->len + gap;
	}
	q->v[--q->head] = x;
	q->len++;
}

static size_t
q_pop(struct queue *q)
{
	q->len--;
	return q->v[q->head++];
}

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

/* Builds units in collection order, then (when any duration is known)
 * orders them longest first; unknown tests count as the median known. */
static void
build_units(struct sched *s)
{
	size_t *next = xcalloc(s->ntests, sizeof(*next)); /* chain per unit */
	size_t *head = xcalloc(s->ntests, sizeof(*head));
	size_t *tail = xcalloc(s->ntests, sizeof(*tail));
	double median = 0, *known = xcalloc(s->ntests, sizeof(*known));
	size_t nknown = 0, pos = 0;
	const size_t none = (size_t)-1;
	size_t nslots = 16, mask, *slots;

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
		size_t u = none, slot = none;

		next[i] = none;
		/* Same key as an earlier test: same unit, however far apart
		 * in collection order (xdist_group marks are scattered). */
		if (key && klen) {
			size_t h = hash_key(key, klen) & mask;

			while (slots[h] != none) {
				const char *k2;
				size_t l2 = unit_key_len(s, &s->tests[head[slots[h]]], &k2);

				if (l2 == klen && memcmp(k2, key, klen) == 0) {
					u = slots[h];
					break;
				}
				h = (h + 1) & mask;
			}
			if (u == none)
				slot = h;
		}
		if (u == none) {
			u = s->nunits++;
			head[u] = i;
			s->units[u].n = 0;
			if (slot != none)
				slots[slot] = u;
		} else {
			next[tail[u]] = i;
		}
		tail[u] = i;
		s->units[u].n++;
		if (s->tests[i].expected >= 0)
			known[nknown++] = s->tests[i].expected;
	}
	if (nknown > 0) {
		qsort(known, nknown, sizeof(*known), cmp_double);
		median = known[nknown / 2];
	}
	for (size_t u = 0; u < s->nunits; u++) {
		s->units[u].first = pos;
		s->units[u].cost = 0;
		for (size_t i = head[u]; i != none; i = next[i]) {
			s->order[pos++] = i;
			s->units[u].cost += s->tests[i].expected >= 0 ? s->tests[i].expected : median;
		}
	}
	s->median = median;
	if (nknown > 0) {
		double total = 0;

		qsort(s->units, s->nunits, sizeof(*s->units), cmp_units_desc);
		for (size_t u = 0; u < s->nunits; u++)
			total += s->units[u].cost;
		/* An eighth of a worker's fair share: small enough that the
		 * long tests at the front of the queue never pile up on one
		 * worker, large enough that short tests still go in threes.
		 * Found with tools/simulate (docs/scheduling.md). */
		s->inflight_cap = total / (double)s->nworkers / 8;
	}
	for (size_t u = 0; u < s->nunits; u++)
		for (size_t k = 0; k < s->units[u].n; k++)
			s->unit_of[s->order[s->units[u].first + k]] = u;
	free(next);
	free(head);
	free(tail);
	free(known);
	free(slots);
}

struct sched *
sched_new(enum sched_mode mode, const struct sched_test *tests, size_t ntests, size_t nworkers, size_t prefetch)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->mode = mode;
	s->tests = tests;
	s->ntests = ntests;
	s->nworkers = nworkers ? nworkers : 1;
	s->prefetch = prefetch ? prefetch : 1;
	s->order = xcalloc(ntests ? ntests : 1, sizeof(*s->order));
	s->unit_of = xcalloc(ntests ? ntests : 1, sizeof(*s->unit_of));
	s->w = xcalloc(s->nworkers, sizeof(*s->w));
	for (size_t i = 0; i < s->nworkers; i++)
		s->w[i].sent = xcalloc(s->prefetch, sizeof(size_t));
	build_units(s);

	switch (mode) {
	case SCHED_EACH:
		for (size_t w = 0; w < s->nworkers; w++)
			for (size_t i = 0; i < ntests; i++)
				q_push(&s->w[w].own, s->order[i]);
		s->remaining = ntests * s->nworkers;
		break;
	case SCHED_NO:
		for (size_t i = 0; i < ntests; i++)
			q_push(&s->w[0].own, i); /* collection order, one worker */
		s->remaining = ntests;
		break;
	case SCHED_WORKSTEAL:
		/* Even shares up front, dealt round-robin over the ordered
		 * units so every worker starts with a mix of long and short. */
		for (size_t u = 0; u < s->nunits; u++)
			for (size_t k = 0; k < s->units[u].n; k++)
				q_push(&s->w[u % s->nworkers].own, s->order[s->units[u].first + k]);
		s->remaining = ntests;
		break;
	default:
		for (size_t u = 0; u < s->nunits; u++)
			q_push(&s->shared, u);
		s->remaining = ntests;
	}
	return s;
}

void
sched_free(struct sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nworkers; i++) {
		free(s->w[i].own.v);
		free(s->w[i].sent);
	}
	free(s->w);
	free(s->order);
	free(s->unit_of);
	free(s->units);
	free(s->shared.v);
	free(s->loose.v);
	free(s);
}

/* worksteal: an idle worker takes half of the unsent tests of the worker
 * with the most, from the back of its queue. */
static bool
steal(struct sched *s, size_t w)
{
	size_t victim = w, most = 0;

	for (size_t i = 0; i < s->nworkers; i++)
		if (i != w && !s->w[i].lost && s->w[i].own.len > most)
			most = s->w[i].own.len, victim = i;
	if (most == 0)
		return false;
	for (size_t k = most > 1 ? most / 2 : 1; k > 0; k--) {
		struct queue *q = &s->w[victim].own;

		q_push_front(&s->w[w].own, q->v[q->head + q->len - 1]);
		q->len--;
	}
	return true;
}

static bool
scoped(const struct sched *s)
{
	return s->mode == SCHED_LOADSCOPE || s->mode == SCHED_LOADFILE || s->mode == SCHED_LOADGROUP;
}

/* Moves the next unit (or put-back test) into w's own queue. */
static bool
take(struct sched *s, size_t w)
{
	if (s->loose.len > 0) {
		size_t t = q_pop(&s->loose), u = s->unit_of[t], keep = 0;

		q_push(&s->w[w].own, t);
		if (!scoped(s))
			return true;
		/* The rest of a lost worker's unit comes along: two live
		 * workers must never share a class, file or group. */
		for (size_t k = 0; k < s->loose.len; k++) {
			size_t x = s->loose.v[s->loose.head + k];

			if (s->unit_of[x] == u)
				q_push(&s->w[w].own, x);
			else
				s->loose.v[s->loose.head + keep++] = x;
		}
		s->loose.len = keep;
		return true;
	}
	if (s->shared.len > 0) {
		struct unit *u = &s->units[q_pop(&s->shared)];

		for (size_t k = 0; k < u->n; k++)
			q_push(&s->w[w].own, s->order[u->first + k]);
		return true;
	}
	if (s->mode == SCHED_WORKSTEAL)
		return steal(s, w);
	return false;
}

/* Longest-first plus prefetch has a trap: the first worker to ask would
 * take the three longest tests and run them one after another. With
 * history, a worker holding work already stops taking more once its
 * expected in-flight time passes the cap; and the second test it needs
 * (the runner holds a test until it knows the next one) comes from the
 * short end of the queue instead. Returns false when the worker should
 * take nothing more now. */
static bool
within_cap(struct sched *s, size_t w)
{
	struct wstate *ws = &s->w[w];
	double inflight = 0;
	const struct unit *front, *back;

	if (s->inflight_cap <= 0 || ws->nsent == 0 || ws->own.len > 0 || s->loose.len > 0 || s->shared.len == 0 ||
	    (s->mode != SCHED_LOAD && s->mode != SCHED_LOADGROUP))
		return true;
	for (size_t i = 0; i < ws->nsent; i++) {
		double e = s->tests[ws->sent[i]].expected;

		inflight += e >= 0 ? e : s->median;
	}
	front = &s->units[s->shared.v[s->shared.head]];
	if (inflight + front->cost <= s->inflight_cap)
		return true;
	if (ws->nsent >= 2)
		return false;
	back = &s->units[s->shared.v[s->shared.head + s->shared.len - 1]];
	s->shared.len--;
	for (size_t k = 0; k < back->n; k++)
		q_push(&ws->own, s->order[back->first + k]);
	return true;
}

size_t
sched_next(struct sched *s, size_t w, size_t *out, size_t max)
{
	struct wstate *ws = &s->w[w];
	size_t n = 0;

	if (ws->lost || (s->mode == SCHED_NO && w != 0))
		return 0;
	while (n < max && ws->nsent < s->prefetch) {
		if (!within_cap(s, w))
			break;
		if (ws->own.len == 0 && (s->mode == SCHED_EACH || s->mode == SCHED_NO || !take(s, w)))
			break;
		if (ws->own.len == 0)
			break;
		out[n] = q_pop(&ws->own);
		ws->sent[ws->nsent++] = out[n];
		n++;
	}
	return n;
}

void
sched_complete(struct sched *s, size_t w, size_t t)
{
	struct wstate *ws = &s->w[w];

	for (size_t i = 0; i < ws->nsent; i++) {
		if (ws->sent[i] == t) {
			memmove(ws->sent + i, ws->sent + i + 1, (ws->nsent - i - 1) * sizeof(size_t));
			ws->nsent--;
			s->remaining--;
			return;
		}
	}
}

size_t
sched_worker_lost(struct sched *s, size_t w, size_t except)
{
	struct wstate *ws = &s->w[w];
	size_t n = 0;

	/* In `each` the replacement worker takes over the same slot and the
	 * same private queue; elsewhere work goes back to be shared. */
	for (size_t i = ws->nsent; i-- > 0;) {
		if (ws->sent[i] == except || s->cancelled) {
			/* The crashed test has its outcome; after a cancel
			 * nothing goes back to be handed out again. */
			s->remaining--;
			continue;
		}
		if (s->mode == SCHED_EACH || s->mode == SCHED_NO)
			q_push_front(&ws->own, ws->sent[i]);
		else
			q_push_front(&s->loose, ws->sent[i]);
		n++;
	}
	ws->nsent = 0;
	if (s->mode != SCHED_EACH && s->mode != SCHED_NO) {
		/* The unsent rest of this worker's units goes back as loose
		 * tests in order; take() hands a unit's loose tests to one
		 * worker together. */
		while (ws->own.len > 0) {
			q_push(&s->loose, q_pop(&ws->own));
			n++;
		}
	}
	return n;
}

bool
sched_worker_finished(const struct sched *s, size_t w)
{
	const struct wstate *ws = &s->w[w];

	if (ws->own.len > 0)
		return false;
	if (s->mode == SCHED_EACH || s->mode == SCHED_NO)
		return true;
	if (s->shared.len > 0 || s->loose.len > 0)
		return false;
	if (s->mode == SCHED_WORKSTEAL)
		for (size_t i = 0; i < s->nworkers; i++)
			if (i != w && !s->w[i].lost && s->w[i].own.len > 0)
				return false;
	return true;
}

bool
sched_done(const struct sched *s)
{
	return s->remaining == 0;
}

static size_t
drain(struct queue *q, size_t *out, size_t max, size_t n)
{
	while (q->len > 0) {
		size_t t = q_pop(q);

		if (n < max)
			out[n] = t;
		n++;
	}
	return n;
}

size_t
sched_cancel(struct sched *s, size_t *out, size_t max)
{
	size_t n = 0;

	s->cancelled = true;
	for (size_t w = 0; w < s->nworkers; w++)
		n = drain(&s->w[w].own, out, max, n);
	n = drain(&s->loose, out, max, n);
	while (s->shared.len > 0) {
		struct unit *u = &s->units[q_pop(&s->shared)];

		for (size_t k = 0; k < u->n; k++, n++)
			if (n < max)
				out[n] = s->order[u->first + k];
	}
	s->remaining -= n < s->remaining ? n : s->remaining;
	return n;
}

size_t
sched_inflight(const struct sched *s, size_t w)
{
	return s->w[w].nsent;
}

size_t
sched_unsent(const struct sched *s)
{
	size_t n = s->loose.len;

	for (size_t w = 0; w < s->nworkers; w++)
		n += s->w[w].own.len;
	for (size_t i = 0; i < s->shared.len; i++)
		n += s->units[s->shared.v[s->shared.head + i]].n;
	return n;
}
