/* xdock-simulate: replays a suite's test durations against N workers
 * through the real scheduler (orchestrator/sched.c), with simulated time,
 * and reports each mode's makespan next to the lower bound of any
 * schedule, max(total / N, longest test). It also times the scheduler's
 * own calls, to show their cost per test stays flat as the suite and the
 * worker count grow. Nothing here sleeps or touches Docker. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "ledger.h"
#include "sched.h"
#include "util.h"

#define SIM_MAX_LIST 16
#define SIM_MAX_INPUT ((size_t)256 << 20)
/* No scheduler call takes this long; one that appears to was preempted
 * (this is a shared 2-core machine) and would only add noise. */
#define SIM_PREEMPTED_NS 50000

static const char *const usage_text =
	"usage: xdock-simulate [options]\n"
	"  --dist uniform|lognormal|tail|file   synthetic distribution, or --input (default lognormal)\n"
	"  --input FILE       durations: one number (or \"nodeid seconds\") a line, or an xdock JSON report\n"
	"  --tests N[,N...]   suite sizes for synthetic distributions (default 1000)\n"
	"  --workers N[,N...] worker counts (default 4)\n"
	"  --modes M[,M...]   scheduler modes (default load,loadscope,loadfile,worksteal)\n"
	"  --overhead-ms X    per-test dispatch overhead added to every test (default 0.3)\n"
	"  --prefetch N       tests in flight per worker, the run loop's floor (default 3)\n"
	"  --prefetch-max N   the run loop's cap for short tests (default 8; = --prefetch: the floor always)\n"
	"  --noise S          history error: expected = actual * exp(S * normal) (default 0.25)\n"
	"  --seed N           random seed (default 1)\n"
	"  --markdown         print markdown tables\n"
	"  --cost             print the scheduler's own cost per mode (ns per test, sched_new ms)\n"
	"  --longest-first    add a +longest column per mode: history orders the whole suite longest first\n";

enum dist { DIST_UNIFORM, DIST_LOGNORMAL, DIST_TAIL, DIST_FILE };
static const char *const dist_names[] = { "uniform", "lognormal", "tail", "file" };

struct opts {
	enum dist dist;
	const char *input;
	size_t tests[SIM_MAX_LIST], ntests;
	size_t workers[SIM_MAX_LIST], nworkers;
	enum sched_mode modes[SIM_MAX_LIST];
	size_t nmodes;
	double overhead;   /* seconds */
	size_t prefetch, prefetch_max;
	double noise;
	uint64_t seed;
	bool markdown;
	bool cost;         /* print the scheduler's cost per mode instead */
	bool longest;      /* also simulate SCHED_ORDER_LONGEST */
};

/* What the expected durations are and may do: none; known, suite order
 * kept per worker (the default); known, longest first. */
enum variant { V_NONE, V_SUITE, V_LONGEST };

/* A suite: node ids, files and true durations; expected is what the
 * history would say. */
struct suite {
	struct sched_test *t;
	double *dur;
	char **strings;
	size_t n, nstrings;
};

struct result {
	double makespan, lower_bound;
	double sched_ns_per_test;  /* sched_next + sched_complete + finished, per test */
	double new_ms;             /* sched_new */
	double calls_per_test;     /* timed sched calls per test */
	size_t steals_idle;        /* worker wake-ups that found nothing yet */
	size_t inversions;         /* tests sent to a worker after a later-collected one */
};

/* ---- randomness: xorshift64*, fixed seed, same suite every run --------- */

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717u;
}

static double
rnd_unit(uint64_t *s)
{
	return ((double)(rnd(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double
rnd_normal(uint64_t *s)
{
	double u1 = rnd_unit(s), u2 = rnd_unit(s);

	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* ---- suites ------------------------------------------------------------- */

static const char *
keep_str(struct suite *su, char *s)
{
	if ((su->nstrings & (su->nstrings - 1)) == 0)
		su->strings = xrealloc(su->strings, (su->nstrings ? 2 * su->nstrings : 1) * sizeof(*su->strings));
	su->strings[su->nstrings++] = s;
	return s;
}

static void
suite_alloc(struct suite *su, size_t n)
{
	memset(su, 0, sizeof(*su));
	su->n = n;
	su->t = xcalloc(n ? n : 1, sizeof(*su->t));
	su->dur = xcalloc(n ? n : 1, sizeof(*su->dur));
}

static void
suite_free(struct suite *su)
{
	for (size_t i = 0; i < su->nstrings; i++)
		free(su->strings[i]);
	free(su->strings);
	free(su->t);
	free(su->dur);
	memset(su, 0, sizeof(*su));
}

/* Synthetic layout: 20 tests per file, in classes of 5, so loadfile and
 * loadscope have units of realistic size. */
static void
suite_synthetic(struct suite *su, enum dist d, size_t n, uint64_t seed)
{
	/* "tail": a few very long tests (20-30 s) late in collection order,
	 * the case collection-order dispatch handles worst: tests n-1, n-21,
	 * n-41, ..., so no file or class holds two of them and the scope
	 * modes are not bound by one heavy unit. */
	size_t nlong = d == DIST_TAIL ? 3 + n / 5000 : 0;

	suite_alloc(su, n);
	for (size_t i = 0; i < n; i++) {
		size_t file = i / 20, cls = i / 5;
		const char *f = keep_str(su, xasprintf("tests/test_m%05zu.py", file));

		su->t[i].file = f;
		su->t[i].id = keep_str(su, xasprintf("%s::TestC%zu::test_%zu", f, cls, i));
		switch (d) {
		case DIST_UNIFORM:
			su->dur[i] = 0.01 + 0.49 * rnd_unit(&seed); /* 10..500 ms */
			break;
		default:
			/* Median 50 ms, mean ~150 ms, a long right tail: what
			 * database-heavy suites look like. */
			su->dur[i] = 0.05 * exp(1.5 * rnd_normal(&seed));
			if ((n - 1 - i) % 20 == 0 && (n - 1 - i) / 20 < nlong)
				su->dur[i] = 20.0 + 10.0 * rnd_unit(&seed);
		}
	}
}

static int
read_all(const char *path, struct buf *b, struct error **err)
{
	FILE *f = fopen(path, "r");
	char chunk[65536];
	size_t n;

	if (!f)
		return error_set(err, EXIT_USAGE, "%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(b, chunk, n) < 0) {
			fclose(f);
			return error_set(err, EXIT_USAGE, "%s: larger than %zu bytes", path, b->max);
		}
	}
	fclose(f);
	return 0;
}

/* An xdock JSON report: tests[].nodeid, .file, .duration. */
static int
suite_from_report(struct suite *su, const struct buf *b, const char *path, struct error **err)
{
	cJSON *root = cJSON_ParseWithLength(b->data, b->len);
	const cJSON *tests = root ? cJSON_GetObjectItemCaseSensitive(root, "tests") : NULL;
	const cJSON *t;
	size_t n = 0;

	if (!cJSON_IsArray(tests)) {
		cJSON_Delete(root);
		return error_set(err, EXIT_USAGE, "%s: not an xdock JSON report (no tests array)", path);
	}
	suite_alloc(su, (size_t)cJSON_GetArraySize(tests));
	cJSON_ArrayForEach(t, tests) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "nodeid");
		const cJSON *file = cJSON_GetObjectItemCaseSensitive(t, "file");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(t, "duration");

		if (!cJSON_IsString(id) || !cJSON_IsNumber(d) || !(d->valuedouble >= 0))
			continue;
		su->t[n].id = keep_str(su, xstrdup(id->valuestring));
		su->t[n].file = cJSON_IsString(file) ? keep_str(su, xstrdup(file->valuestring))
						     : keep_str(su, xstrndup(id->valuestring,
									      strcspn(id->valuestring, ":")));
		su->dur[n++] = d->valuedouble;
	}
	su->n = n;
	cJSON_Delete(root);
	return 0;
}

/* One duration a line, or "nodeid seconds"; # starts a comment. */
static int
suite_from_lines(struct suite *su, struct buf *b, const char *path, struct error **err)
{
	size_t cap = 1024, lineno = 0;
	char *save = NULL;

	suite_alloc(su, 0);
	su->t = xrealloc(su->t, cap * sizeof(*su->t));
	su->dur = xrealloc(su->dur, cap * sizeof(*su->dur));
	for (char *line = strtok_r(b->data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp, *end;
		double d;

		lineno++;
		line += strspn(line, " \t");
		if (*line == '#' || *line == '\0')
			continue;
		sp = strrchr(line, ' ');
		errno = 0;
		d = strtod(sp ? sp + 1 : line, &end);
		if (errno || end == (sp ? sp + 1 : line) || (*end && *end != '\r') || !(d >= 0))
			return error_set(err, EXIT_USAGE, "%s:%zu: expected seconds or \"nodeid seconds\"", path, lineno);
		if (su->n == cap) {
			cap *= 2;
			su->t = xrealloc(su->t, cap * sizeof(*su->t));
			su->dur = xrealloc(su->dur, cap * sizeof(*su->dur));
		}
		if (sp) {
			*sp = '\0';
			su->t[su->n].id = keep_str(su, xstrdup(line));
			su->t[su->n].file = keep_str(su, xstrndup(line, strcspn(line, ":")));
		} else {
			/* Bare durations: files of 20 in input order. */
			su->t[su->n].file = keep_str(su, xasprintf("tests/test_m%05zu.py", su->n / 20));
			su->t[su->n].id = keep_str(su, xasprintf("%s::test_%zu", su->t[su->n].file, su->n));
		}
		su->t[su->n].group = NULL;
		su->dur[su->n++] = d;
	}
	return 0;
}

static int
suite_from_file(struct suite *su, const char *path, struct error **err)
{
	struct buf b;
	int r;

	buf_init(&b, SIM_MAX_INPUT);
	if ((r = read_all(path, &b, err)) == 0) {
		const char *p = b.data ? b.data + strspn(b.data, " \t\r\n") : "";

		if (!b.data)
			r = error_set(err, EXIT_USAGE, "%s: empty", path);
		else if (*p == '{')
			r = suite_from_report(su, &b, path, err);
		else
			r = suite_from_lines(su, &b, path, err);
	}
	buf_release(&b);
	return r;
}

/* ---- the simulation ----------------------------------------------------- */

/* A worker's events: at most one running test per worker, so the event
 * queue is a binary min-heap of workers keyed by the time their current
 * test ends (ties: lower worker index, for reproducible runs). */
struct sim_worker {
	size_t fifo[64];   /* tests sent to it, in order; [0] is running */
	size_t nfifo;
	double end;        /* when fifo[0] ends */
	bool idle;
	size_t next_index; /* one past the highest test index sent to it */
};

struct sim {
	struct sched *s;
	const struct suite *su;
	struct sim_worker *w;
	size_t nw;
	size_t *heap, nheap;
	double overhead;
	int64_t sched_ns;  /* measured inside sched calls */
	size_t sched_calls;
	size_t preempted;  /* calls over SIM_PREEMPTED_NS, left out of sched_ns */
	size_t completed;
	size_t inversions;
	size_t prefetch, prefetch_max;
	double done_seconds; /* summed durations of completed tests */
	size_t messages;   /* refills that sent something: `run` messages */
	unsigned char *seen; /* per test: completions */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
account(struct sim *m, int64_t ns)
{
	if (ns > SIM_PREEMPTED_NS) {
		m->preempted++;
		return;
	}
	m->sched_ns += ns;
	m->sched_calls++;
}

static bool
earlier(const struct sim *m, size_t a, size_t b)
{
	if (m->w[a].end != m->w[b].end)
		return m->w[a].end < m->w[b].end;
	return a < b;
}

static void
heap_push(struct sim *m, size_t w)
{
	size_t i = m->nheap++;

	m->heap[i] = w;
	while (i > 0 && earlier(m, m->heap[i], m->heap[(i - 1) / 2])) {
		size_t p = (i - 1) / 2, t = m->heap[p];

		m->heap[p] = m->heap[i];
		m->heap[i] = t;
		i = p;
	}
}

static size_t
heap_pop(struct sim *m)
{
	size_t top = m->heap[0], i = 0;

	m->heap[0] = m->heap[--m->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;

		if (l < m->nheap && earlier(m, m->heap[l], m->heap[best]))
			best = l;
		if (r < m->nheap && earlier(m, m->heap[r], m->heap[best]))
			best = r;
		if (best == i)
			break;
		size_t t = m->heap[best];

		m->heap[best] = m->heap[i];
		m->heap[i] = t;
		i = best;
	}
	return top;
}

/* What the ledger's dispatch() does for a worker: refill when it is down
 * to two in flight, up to a quarter of its share of what is left (between
 * prefetch and prefetch_max), then ask whether the worker is finished.
 * Both calls are timed. */
static bool
sim_dispatch(struct sim *m, size_t w)
{
	struct sim_worker *sw = &m->w[w];
	size_t room = 0, n = 0, target;
	bool finished;
	int64_t t0 = now_ns();

	target = ledger_prefetch_target(sched_remaining(m->s), m->nw,
					m->completed >= LEDGER_MEAN_AFTER ? m->done_seconds / (double)m->completed : -1);
	if (m->prefetch_max <= m->prefetch)
		target = m->prefetch; /* the old rule: one test per refill */
	if (sw->nfifo <= LEDGER_REFILL_AT && target > sw->nfifo)
		room = target - sw->nfifo;
	if (room > 0)
		n = sched_next(m->s, w, sw->fifo + sw->nfifo, room);
	m->messages += n > 0;
	finished = n == 0 && sched_worker_finished(m->s, w);
	account(m, now_ns() - t0);
	for (size_t i = 0; i < n; i++) {
		size_t t = sw->fifo[sw->nfifo + i];

		if (t < sw->next_index)
			m->inversions++;
		else
			sw->next_index = t + 1;
	}
	sw->nfifo += n;
	return finished;
}

static void
sim_start(struct sim *m, size_t w, double now)
{
	struct sim_worker *sw = &m->w[w];

	sw->end = now + m->su->dur[sw->fifo[0]] + m->overhead;
	sw->idle = false;
	heap_push(m, w);
}

/* Runs the suite to the end; returns the makespan. */
static double
sim_run(struct sim *m)
{
	double now = 0;
	size_t nidle = 0;

	for (size_t w = 0; w < m->nw; w++) {
		sim_dispatch(m, w);
		if (m->w[w].nfifo > 0)
			sim_start(m, w, 0);
	}
	while (m->nheap > 0) {
		size_t w = heap_pop(m);
		struct sim_worker *sw = &m->w[w];
		size_t t = sw->fifo[0];
		int64_t t0;

		now = sw->end;
		t0 = now_ns();
		sched_complete(m->s, w, t);
		account(m, now_ns() - t0);
		m->seen[t]++;
		m->completed++;
		m->done_seconds += m->su->dur[t];
		memmove(sw->fifo, sw->fifo + 1, --sw->nfifo * sizeof(*sw->fifo));
		if (!sim_dispatch(m, w) && sw->nfifo == 0 && !sw->idle) {
			/* Not finished but nothing now (work may come back):
			 * try again after the next event. */
			sw->idle = true;
			nidle++;
		}
		if (sw->nfifo > 0)
			sim_start(m, w, now);
		for (size_t i = 0; nidle > 0 && i < m->nw; i++) {
			if (!m->w[i].idle)
				continue;
			if (sim_dispatch(m, i) || m->w[i].nfifo > 0) {
				m->w[i].idle = false;
				nidle--;
			}
			if (m->w[i].nfifo > 0)
				sim_start(m, i, now);
		}
	}
	return now;
}

/* What the timer adds to each timed call: the median of empty intervals
 * (a median, because one preempted sample would skew a mean). */
static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double
clock_pair_ns(void)
{
	enum { SAMPLES = 100001 };
	cleanup_free int64_t *v = xcalloc(SAMPLES, sizeof(*v));

	for (int i = 0; i < SAMPLES; i++) {
		int64_t a = now_ns();

		v[i] = now_ns() - a;
	}
	qsort(v, SAMPLES, sizeof(*v), cmp_i64);
	return (double)v[SAMPLES / 2];
}

static int
simulate(const struct suite *su, enum sched_mode mode, enum variant v, size_t nworkers, const struct opts *o,
	 double clock_ns, struct result *res, struct error **err)
{
	bool history = v != V_NONE;
	cleanup_free struct sched_test *t = xcalloc(su->n ? su->n : 1, sizeof(*t));
	uint64_t seed = o->seed * 7919 + 17;
	struct sim m = { 0 };
	double total = 0, longest = 0;
	int64_t t0;

	for (size_t i = 0; i < su->n; i++) {
		t[i] = su->t[i];
		/* History is last run's measurement: right in order of
		 * magnitude, off by run-to-run jitter. */
		t[i].expected = history ? su->dur[i] * exp(o->noise * rnd_normal(&seed)) : -1;
		total += su->dur[i] + o->overhead;
		if (su->dur[i] + o->overhead > longest)
			longest = su->dur[i] + o->overhead;
	}
	m.su = su;
	m.nw = nworkers;
	m.overhead = o->overhead;
	m.w = xcalloc(nworkers, sizeof(*m.w));
	m.heap = xcalloc(nworkers, sizeof(*m.heap));
	m.seen = xcalloc(su->n ? su->n : 1, 1);
	/* One call: CPU time, so other processes on the machine do not
	 * count (the per-call figures use the cheaper monotonic clock). */
	t0 = cpu_ns();
	m.prefetch = o->prefetch;
	m.prefetch_max = o->prefetch_max;
	m.s = sched_new(mode, v == V_LONGEST ? SCHED_ORDER_LONGEST : SCHED_ORDER_SUITE, t, su->n, nworkers,
			o->prefetch_max);
	res->new_ms = (double)(cpu_ns() - t0) / 1e6;
	res->makespan = sim_run(&m);
	res->lower_bound = fmax(total / (double)nworkers, longest);
	/* Raw, timer included: subtracting a calibrated timer cost from
	 * figures this small goes negative on a busy machine. The header
	 * prints the timer's own cost per call instead. */
	(void)clock_ns;
	res->sched_ns_per_test = su->n ? (double)m.sched_ns / (double)su->n : 0;
	res->calls_per_test = su->n ? (double)m.sched_calls / (double)su->n : 0;
	res->inversions = m.inversions;
	/* The simulator checks what it relies on: every test ran once. */
	for (size_t i = 0; i < su->n; i++)
		if (m.seen[i] != 1)
			error_set(err, EXIT_INTERNAL, "%s: test %zu ran %u times", sched_mode_name(mode), i, m.seen[i]);
	if (!*err && !sched_done(m.s))
		error_set(err, EXIT_INTERNAL, "%s: scheduler not done after the last event", sched_mode_name(mode));
	/* Suite order: every worker's tests in collection order (the
	 * synthetic and input suites have contiguous units). */
	if (!*err && v != V_LONGEST && mode != SCHED_WORKSTEAL && m.inversions > 0)
		error_set(err, EXIT_INTERNAL, "%s%s: %zu tests sent out of collection order", sched_mode_name(mode),
			  history ? "+hist" : "", m.inversions);
	sched_free(m.s);
	free(m.w);
	free(m.heap);
	free(m.seen);
	return *err ? -1 : 0;
}

/* ---- options ------------------------------------------------------------ */

static int
parse_list(const char *opt, const char *s, size_t *out, size_t *n, struct error **err)
{
	cleanup_free char *copy = xstrdup(s);
	char *save = NULL;

	*n = 0;
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || *end || v == 0 || v > 10000000 || *n == SIM_MAX_LIST)
			return error_set(err, EXIT_USAGE, "%s: expected up to %d positive numbers, got \"%s\"", opt,
					 SIM_MAX_LIST, s);
		out[(*n)++] = v;
	}
	if (*n == 0)
		return error_set(err, EXIT_USAGE, "%s: empty list", opt);
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o, struct error **err)
{
	*o = (struct opts){
		.dist = DIST_LOGNORMAL, .tests = { 1000 }, .ntests = 1, .workers = { 4 }, .nworkers = 1,
		.modes = { SCHED_LOAD, SCHED_LOADSCOPE, SCHED_LOADFILE, SCHED_WORKSTEAL }, .nmodes = 4,
		.overhead = 0.0003, .prefetch = 3, .prefetch_max = 8, .noise = 0.25, .seed = 1,
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = strcmp(a, "--markdown") != 0 && strcmp(a, "--cost") != 0 && strcmp(a, "-h") != 0 &&
			     strcmp(a, "--help") != 0 && strcmp(a, "--longest-first") != 0;

		if (takes && !v)
			return error_set(err, EXIT_USAGE, "%s needs a value", a);
		if (takes)
			i++;
		if (strcmp(a, "--dist") == 0) {
			size_t d;

			for (d = 0; d < ARRAY_SIZE(dist_names) && strcmp(v, dist_names[d]) != 0; d++)
				;
			if (d == ARRAY_SIZE(dist_names))
				return error_set(err, EXIT_USAGE, "--dist: unknown \"%s\"", v);
			o->dist = (enum dist)d;
		} else if (strcmp(a, "--input") == 0) {
			o->input = v;
			o->dist = DIST_FILE;
		} else if (strcmp(a, "--tests") == 0) {
			if (parse_list(a, v, o->tests, &o->ntests, err) < 0)
				return -1;
		} else if (strcmp(a, "--workers") == 0) {
			if (parse_list(a, v, o->workers, &o->nworkers, err) < 0)
				return -1;
		} else if (strcmp(a, "--prefetch") == 0 || strcmp(a, "--prefetch-max") == 0) {
			size_t one[SIM_MAX_LIST], n;

			if (parse_list(a, v, one, &n, err) < 0 || n != 1 || one[0] > 32)
				return error_set(err, EXIT_USAGE, "%s: expected 1..32", a);
			*(strcmp(a, "--prefetch") == 0 ? &o->prefetch : &o->prefetch_max) = one[0];
		} else if (strcmp(a, "--seed") == 0) {
			o->seed = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--overhead-ms") == 0 || strcmp(a, "--noise") == 0) {
			char *end;
			double x = strtod(v, &end);

			if (*end || !(x >= 0) || !isfinite(x))
				return error_set(err, EXIT_USAGE, "%s: expected a number >= 0, got \"%s\"", a, v);
			if (a[2] == 'o')
				o->overhead = x / 1000.0;
			else
				o->noise = x;
		} else if (strcmp(a, "--modes") == 0) {
			cleanup_free char *copy = xstrdup(v);
			char *save = NULL;

			o->nmodes = 0;
			for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
				int md = sched_mode_parse(p);

				if (md < 0 || md == SCHED_EACH || md == SCHED_NO || o->nmodes == SIM_MAX_LIST)
					return error_set(err, EXIT_USAGE,
							 "--modes: \"%s\" (load, loadscope, loadfile, loadgroup, worksteal)", p);
				o->modes[o->nmodes++] = (enum sched_mode)md;
			}
		} else if (strcmp(a, "--markdown") == 0) {
			o->markdown = true;
		} else if (strcmp(a, "--cost") == 0) {
			o->cost = true;
		} else if (strcmp(a, "--longest-first") == 0) {
			o->longest = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			exit(0);
		} else {
			return error_set(err, EXIT_USAGE, "unknown option \"%s\"", a);
		}
	}
	if (o->prefetch_max < o->prefetch)
		o->prefetch_max = o->prefetch;
	if (o->dist == DIST_FILE && !o->input)
		return error_set(err, EXIT_USAGE, "--dist file needs --input FILE");
	return 0;
}

/* ---- output ------------------------------------------------------------- */

static void
print_header(const struct opts *o)
{
	if (o->cost) {
		printf(o->markdown ? "| dist | tests | workers | mode | ns/test | ns/test +hist | sched_new ms | sched_new ms +hist |\n"
				     "|---|---:|---:|---|---:|---:|---:|---:|\n"
				   : "%-9s %7s %5s %-10s %8s %8s %9s %9s\n",
		       "dist", "tests", "N", "mode", "ns/test", "+hist", "new ms", "+hist");
		return;
	}
	printf(o->markdown ? "| dist | tests | workers | lower bound (s) |" : "%-9s %7s %5s %10s", "dist", "tests",
	       "N", "bound(s)");
	if (o->markdown) {
		for (size_t k = 0; k < o->nmodes; k++) {
			printf(" %s | %s+hist |", sched_mode_name(o->modes[k]), sched_mode_name(o->modes[k]));
			if (o->longest)
				printf(" %s+longest |", sched_mode_name(o->modes[k]));
		}
		printf(" sched ns/test |\n|---|---:|---:|---:|");
		for (size_t k = 0; k < o->nmodes; k++)
			printf(o->longest ? "---:|---:|---:|" : "---:|---:|");
		printf("---:|\n");
	} else {
		for (size_t k = 0; k < o->nmodes; k++) {
			printf(" %10.10s %10.10s", sched_mode_name(o->modes[k]), "+hist");
			if (o->longest)
				printf(" %10.10s", "+longest");
		}
		printf(" %9s\n", "ns/test");
	}
}

/* One row per mode: what the scheduler itself costs, with and without
 * history (history makes sched_new sort the units). */
static int
run_cost(const struct suite *su, const char *dname, const struct opts *o, double clock_ns, struct error **err)
{
	for (size_t wi = 0; wi < o->nworkers; wi++) {
		for (size_t k = 0; k < o->nmodes; k++) {
			struct result r[2];

			for (int h = 0; h < 2; h++)
				if (simulate(su, o->modes[k], h ? (o->longest ? V_LONGEST : V_SUITE) : V_NONE,
					     o->workers[wi], o, clock_ns, &r[h], err) < 0)
					return -1;
			printf(o->markdown ? "| %s | %zu | %zu | %s | %.0f | %.0f | %.1f | %.1f |\n"
					   : "%-9s %7zu %5zu %-10s %8.0f %8.0f %9.1f %9.1f\n",
			       dname, su->n, o->workers[wi], sched_mode_name(o->modes[k]), r[0].sched_ns_per_test,
			       r[1].sched_ns_per_test, r[0].new_ms, r[1].new_ms);
			fflush(stdout);
		}
	}
	return 0;
}

static int
run_suite(const struct suite *su, const char *dname, const struct opts *o, double clock_ns, struct error **err)
{
	if (o->cost)
		return run_cost(su, dname, o, clock_ns, err);
	for (size_t wi = 0; wi < o->nworkers; wi++) {
		size_t nw = o->workers[wi];
		double bound = 0, ns_max = 0;

		printf(o->markdown ? "| %s | %zu | %zu |" : "%-9s %7zu %5zu", dname, su->n, nw);
		for (size_t k = 0; k < o->nmodes; k++) {
			for (int h = V_NONE; h <= (o->longest ? V_LONGEST : V_SUITE); h++) {
				struct result r;

				if (simulate(su, o->modes[k], (enum variant)h, nw, o, clock_ns, &r, err) < 0)
					return -1;
				if (k == 0 && h == 0)
					printf(o->markdown ? " %.2f |" : " %10.2f", bound = r.lower_bound);
				/* Makespan as a multiple of the bound: 1.00 is
				 * as good as any schedule can be. */
				printf(o->markdown ? " %.3f |" : " %10.3f", r.makespan / bound);
				ns_max = fmax(ns_max, r.sched_ns_per_test);
			}
		}
		printf(o->markdown ? " %.0f |\n" : " %9.0f\n", ns_max);
		fflush(stdout);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct error *err = NULL;
	double clock_ns;
	int rc = 0;

	if (parse_opts(argc, argv, &o, &err) < 0) {
		fprintf(stderr, "xdock-simulate: %s\n%s", err->msg, usage_text);
		error_free(err);
		return EXIT_USAGE;
	}
	clock_ns = clock_pair_ns();
	printf("%sprefetch %zu, overhead %.2f ms/test, history noise sigma %.2f, seed %llu; "
	       "cells: makespan / lower bound; ns/test: time inside sched calls per test, worst mode, "
	       "timer included (%.0f ns per timed call, about 2 calls per test)\n%s",
	       o.markdown ? "<!-- " : "# ", o.prefetch, o.overhead * 1000, o.noise, (unsigned long long)o.seed,
	       clock_ns, o.markdown ? "-->\n\n" : "");
	print_header(&o);
	if (o.dist == DIST_FILE) {
		struct suite su = { 0 };

		if (suite_from_file(&su, o.input, &err) < 0 || run_suite(&su, "file", &o, clock_ns, &err) < 0)
			rc = -1;
		suite_free(&su);
	} else {
		for (size_t ti = 0; rc == 0 && ti < o.ntests; ti++) {
			struct suite su;

			suite_synthetic(&su, o.dist, o.tests[ti], o.seed * 1000003 + o.tests[ti]);
			rc = run_suite(&su, dist_names[o.dist], &o, clock_ns, &err);
			suite_free(&su);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "xdock-simulate: %s\n", err->msg);
		rc = err->status;
		error_free(err);
	}
	return rc;
}
