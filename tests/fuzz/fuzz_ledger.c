/* Fuzzes orchestrator/ledger.c, the handling of every message from every
 * worker: the input is a run's configuration and a sequence of events
 * from up to four workers (protocol lines as bytes, messages made with
 * indexes that are given, running, out of range or anything, streams
 * that end, replacements admitted or not yet, rerun rounds, interrupts). After each event the
 * ledger's invariants must hold; with ASan no access is out of bounds and
 * LeakSan checks that everything is freed. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "ledger.h"
#include "proto.h"

#define MAX_WORKERS 4

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t
take(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static int32_t
take32(struct input *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | take(in);
	return (int32_t)v;
}

struct run {
	struct config cfg;
	struct report rep;
	struct term term;
	struct ledger l;
	struct buf out[MAX_WORKERS];
	size_t nw;
	enum outcome *seen;    /* the outcome each test had after the last event */
	int *seen_worker;
	size_t nseen;
};

/* An index for a message: one given to the worker, the running one, or
 * whatever the input says (negative, huge, another worker's). */
static long
pick_index(struct run *r, size_t wi, struct input *in)
{
	const struct ledger_worker *w = &r->l.w[wi];
	uint8_t sel = take(in);

	if (sel < 96 && w->ngiven > 0)
		return (long)w->given[sel % w->ngiven];
	if (sel < 160 && w->current >= 0)
		return w->current;
	if (sel < 208)
		return (long)(sel % 8);
	return (long)take32(in);
}

static void
deliver(struct run *r, size_t wi, const char *line, size_t len)
{
	struct error *err = NULL;
	struct msg m;

	if (msg_decode(line, len, &m, &err) < 0) {
		error_free(err);
		ledger_broke(&r->l, wi, "a line that is no message");
		return;
	}
	ledger_handle(&r->l, wi, &m, 1000);
	msg_release(&m);
}

static void
deliverf(struct run *r, size_t wi, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void
deliverf(struct run *r, size_t wi, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(line));
	deliver(r, wi, line, (size_t)n);
}

static const char *const ids[] = { "t.py::a", "t.py::b", "t.py::c", "u.py::d", "u.py::e[1]", "u.py::e[2]" };

static void
collected(struct run *r, size_t wi, struct input *in)
{
	uint8_t shape = take(in);
	size_t n = shape % 7;
	char line[1024];
	size_t len = 0;

	len += (size_t)snprintf(line + len, sizeof(line) - len, "{\"t\":\"collected\",\"items\":[");
	for (size_t i = 0; i < n; i++)
		/* One input in eight swaps a name: a collection that differs. */
		len += (size_t)snprintf(line + len, sizeof(line) - len,
					"%s{\"id\":\"%s\",\"file\":\"t.py\",\"group\":%s}", i ? "," : "",
					ids[(shape & 0x80) && i == 0 ? 5 - i : i], (shape & 0x40) ? "\"g\"" : "null");
	len += (size_t)snprintf(line + len, sizeof(line) - len, "],\"errors\":[%s]",
				(shape & 0x38) == 0x38 ? "\"ERROR collecting t.py\"" : "");
	len += (size_t)snprintf(line + len, sizeof(line) - len, "}");
	deliver(r, wi, line, len);
}

static const char *const outcomes[] = { "passed", "failed", "error", "skipped", "xfailed", "xpassed" };

static void
one_event(struct run *r, struct input *in)
{
	uint8_t op = take(in);
	size_t wi = op % r->nw;

	switch ((op / MAX_WORKERS) % 16) {
	case 0: {
		size_t len = take(in);

		len = len < in->n ? len : in->n;
		deliver(r, wi, (const char *)in->p, len);
		in->p += len;
		in->n -= len;
		break;
	}
	case 1:
	case 2:
		deliverf(r, wi, "{\"t\":\"start\",\"i\":%ld}", pick_index(r, wi, in));
		break;
	case 3:
	case 4:
	case 5:
		deliverf(r, wi, "{\"t\":\"result\",\"i\":%ld,\"outcome\":\"%s\",\"duration\":0.25,\"when\":\"call\"}",
			 pick_index(r, wi, in), outcomes[take(in) % ARRAY_SIZE(outcomes)]);
		break;
	case 6:
		deliverf(r, wi, "{\"t\":\"crash\",\"i\":%ld,\"status\":137,\"signal\":9,\"timeout\":%s,\"reason\":\"r\"}",
			 pick_index(r, wi, in), take(in) & 1 ? "true" : "false");
		break;
	case 7:
		deliverf(r, wi, "{\"t\":\"hello\",\"v\":%d,\"pid\":1}", take(in) == 255 ? 99 : PROTO_VERSION);
		break;
	case 8:
	case 9:
		collected(r, wi, in);
		break;
	case 10:
		deliver(r, wi, "{\"t\":\"done\"}", 12);
		break;
	case 11:
		deliverf(r, wi, "{\"t\":\"exit\",\"status\":%d,\"output\":\"E\"}", take(in) % 6);
		break;
	case 12:
		deliver(r, wi, "{\"t\":\"error\",\"message\":\"m\"}", 28);
		break;
	case 13:
		ledger_worker_gone(&r->l, wi, "container exited", take(in) & 1 ? "tail" : NULL, 0);
		break;
	case 14:
		/* The loop's healing: a fresh container in a dead slot. */
		if (r->l.w[wi].state == LEDGER_EXITED || r->l.w[wi].state == LEDGER_IDLE) {
			r->out[wi].len = 0;
			ledger_worker_started(&r->l, wi, &r->out[wi], 0);
		}
		break;
	case 15:
		switch (take(in) % 4) {
		case 0:
			ledger_interrupt(&r->l);
			break;
		case 1:
			ledger_abandon(&r->l, "not run: gave up");
			break;
		case 2:
			/* Its database exists: tests may go to it. */
			if (r->l.w[wi].state != LEDGER_IDLE && r->l.w[wi].state != LEDGER_EXITED)
				ledger_admit(&r->l, wi);
			break;
		default:
			for (size_t i = 0; i < r->nw; i++)
				ledger_worker_idle(&r->l, i);
			if (ledger_rerun_round(&r->l) > 0)
				for (size_t i = 0; i < r->nw; i++) {
					r->out[i].len = 0;
					ledger_worker_started(&r->l, i, &r->out[i], 0);
					ledger_admit(&r->l, i);
				}
			break;
		}
		break;
	}
}

/* What must hold after every event. */
static void
check(struct run *r)
{
	const struct ledger *l = &r->l;
	const struct report *rep = &r->rep;

	for (size_t i = 0; i < l->nw; i++) {
		const struct ledger_worker *w = &l->w[i];

		FUZZ_CHECK(w->state <= LEDGER_EXITED);
		FUZZ_CHECK(w->current == -1 || (w->current >= 0 && (size_t)w->current < rep->ntests));
		FUZZ_CHECK(!w->broken || w->state == LEDGER_EXITED);
		FUZZ_CHECK(w->state != LEDGER_EXITED || (w->current == -1 && w->ngiven == 0));
		for (size_t k = 0; k < w->ngiven; k++)
			FUZZ_CHECK(w->given[k] < rep->ntests);
	}
	for (size_t k = 0; k < l->nsched; k++)
		FUZZ_CHECK(l->s2c[k] < rep->ntests && l->c2s[l->s2c[k]] == k);
	if (!l->have_collection)
		return;
	if (!r->seen) {
		r->nseen = rep->ntests;
		r->seen = xcalloc(r->nseen + 1, sizeof(*r->seen));
		r->seen_worker = xcalloc(r->nseen + 1, sizeof(*r->seen_worker));
	}
	FUZZ_CHECK(rep->ntests == r->nseen);
	for (size_t t = 0; t < rep->ntests; t++) {
		const struct report_test *rt = &rep->tests[t];

		FUZZ_CHECK(rt->outcome < OUTCOME__COUNT);
		FUZZ_CHECK(rt->nattempts <= (size_t)r->cfg.reruns);
		FUZZ_CHECK(rt->worker >= -1 && rt->worker < (int)r->nw);
		/* At most one final outcome: once a test has one it keeps it
		 * (--dist each merges every worker's into the worst). */
		if (r->seen[t] != OUTCOME_NONE && r->cfg.dist != SCHED_EACH)
			FUZZ_CHECK(rt->outcome == r->seen[t] && rt->worker == r->seen_worker[t]);
		if (r->seen[t] != OUTCOME_NONE)
			FUZZ_CHECK(rt->outcome != OUTCOME_NONE);
		r->seen[t] = rt->outcome;
		r->seen_worker[t] = rt->worker;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct run r;
	FILE *devnull = fopen("/dev/null", "w");
	static const enum sched_mode modes[] = { SCHED_LOAD, SCHED_LOADSCOPE, SCHED_LOADFILE, SCHED_LOADGROUP,
						 SCHED_WORKSTEAL, SCHED_EACH, SCHED_NO };
	uint8_t conf = take(&in);

	if (!devnull)
		abort();
	memset(&r, 0, sizeof(r));
	r.nw = 1 + conf % MAX_WORKERS;
	r.cfg.dist = modes[(conf / MAX_WORKERS) % ARRAY_SIZE(modes)];
	if (r.cfg.dist == SCHED_NO)
		r.nw = 1;
	r.cfg.reruns = (conf >> 5) % 3;
	r.cfg.maxfail = (conf >> 7) ? 2 : 0;
	term_init(&r.term, devnull, 0);
	r.rep.nworkers = r.nw;
	r.rep.workers = xcalloc(r.nw, sizeof(*r.rep.workers));
	for (size_t i = 0; i < r.nw; i++)
		snprintf(r.rep.workers[i].name, sizeof(r.rep.workers[i].name), "gw%u", (unsigned)i);
	ledger_init(&r.l, &r.cfg, r.nw, &r.rep, &r.term, NULL, NULL, 0);
	for (size_t i = 0; i < r.nw; i++) {
		buf_init(&r.out[i], 1 << 20);
		ledger_worker_started(&r.l, i, &r.out[i], 0);
		ledger_admit(&r.l, i);
	}
	for (int events = 0; in.n > 0 && events < 4096; events++) {
		one_event(&r, &in);
		check(&r);
	}
	ledger_finish(&r.l, 2000);
	/* After finish every test this run had is accounted for: an outcome
	 * or the reason it did not run. */
	for (size_t t = 0; t < r.rep.ntests; t++)
		FUZZ_CHECK(r.rep.tests[t].outcome != OUTCOME_NONE || r.rep.tests[t].reason != NULL);
	ledger_release(&r.l);
	report_release(&r.rep);
	for (size_t i = 0; i < r.nw; i++)
		buf_release(&r.out[i]);
	free(r.seen);
	free(r.seen_worker);
	fclose(devnull);
	return 0;
}
