#include "controller.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Events of one running test held back: a report with a huge traceback
 * is capped by the plugin, so this only bounds a runaway. */
#define CONTROLLER_HELD_MAX ((size_t)256 << 20)
/* The controller's queue past this size is given up once it is sent. */
#define CONTROLLER_QUEUE_KEEP ((size_t)256 << 10)

void
controller_init(struct controller *c, struct worker *w, size_t nw)
{
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->nw = nw;
	c->input = xcalloc(nw ? nw : 1, sizeof(*c->input));
	c->input_sent = xcalloc(nw ? nw : 1, sizeof(*c->input_sent));
	c->admitted = xcalloc(nw ? nw : 1, sizeof(*c->admitted));
	c->held = xcalloc(nw ? nw : 1, sizeof(*c->held));
	for (size_t i = 0; i < nw; i++)
		buf_init(&c->held[i], CONTROLLER_HELD_MAX);
}

void
controller_release(struct controller *c)
{
	for (size_t i = 0; i < c->nw; i++) {
		free(c->input[i]);
		buf_release(&c->held[i]);
	}
	free(c->input);
	free(c->input_sent);
	free(c->admitted);
	free(c->held);
	free(c->failure);
	memset(c, 0, sizeof(*c));
}

static void
fail(struct controller *c, const char *why)
{
	if (!c->failure)
		c->failure = xstrdup(why);
}

/* An event is about to be queued: the first one to wait starts the
 * batch's clock. */
static void
batch_starts(struct controller *c)
{
	if (c->w->out.len == 0 || !c->queued_ms)
		c->queued_ms = util_now_ms();
}

/* Queues a line to the controller unless its channel is gone. */
static void
send_line(struct controller *c, const char *data, size_t len)
{
	if (!c->w->attach || c->bye_sent || len == 0)
		return;
	batch_starts(c);
	if (buf_append(&c->w->out, data, len) < 0)
		fail(c, "its command queue is full (it stopped reading)");
}

bool
controller_send_due(struct controller *c, int64_t now, int *wait_ms)
{
	int64_t left;

	if (c->w->out.len == 0) {
		c->queued_ms = 0;
		/* A forwarded collection (every node id) grew the queue to
		 * megabytes; the events that follow need kilobytes. */
		if (c->w->out.cap > CONTROLLER_QUEUE_KEEP) {
			size_t max = c->w->out.max;

			buf_release(&c->w->out);
			buf_init(&c->w->out, max);
		}
		return false;
	}
	left = c->queued_ms + CONTROLLER_BATCH_MS - now;
	if (!c->queued_ms || c->bye_sent || left <= 0)
		return true;
	if (left < *wait_ms)
		*wait_ms = (int)left;
	return false;
}

void
controller_worker_started(struct controller *c, size_t wi)
{
	c->input_sent[wi] = false;
	c->admitted[wi] = false;
	buf_reset(&c->held[wi]);
}

static void
give_input(struct controller *c, size_t wi, struct buf *out)
{
	if (c->input_sent[wi] || !c->admitted[wi] || !c->input[wi] || !out)
		return;
	msg_encode_input(out, c->input[wi]);
	c->input_sent[wi] = true;
}

void
controller_worker_admitted(struct controller *c, size_t wi, struct buf *out)
{
	c->admitted[wi] = true;
	give_input(c, wi, out);
}

/* "gw12" -> 12, when it names one of the run's slots. */
static bool
slot_of(const struct controller *c, const char *name, size_t *wi)
{
	char *end;
	unsigned long n;

	if (!name || strncmp(name, "gw", 2) != 0 || name[2] < '0' || name[2] > '9')
		return false;
	n = strtoul(name + 2, &end, 10);
	if (*end || n >= c->nw)
		return false;
	*wi = (size_t)n;
	return true;
}

void
controller_handle(struct controller *c, const struct msg *m, struct worker *workers)
{
	size_t wi;

	switch (m->kind) {
	case MSG_HELLO:
		if (m->version != PROTO_VERSION)
			fail(c, "its agent speaks another protocol version");
		c->ready = true;
		break;
	case MSG_INPUT:
		if (!slot_of(c, m->text, &wi)) {
			fail(c, "workerinput for a worker this run does not have");
			break;
		}
		free(c->input[wi]);
		c->input[wi] = xstrdup(m->out);
		give_input(c, wi, &workers[wi].out);
		break;
	case MSG_STDERR:
		/* pytest's stderr is xdock's, as the controller's under
		 * pytest-xdist; its stdout comes as the container's stderr. */
		fputs(m->text, stderr);
		fflush(stderr);
		break;
	case MSG_DONE:
		c->done = true;
		break;
	case MSG_EXIT:
		c->exited = true;
		c->exit_status = m->status;
		/* A session that ended with a verdict on the tests is over,
		 * also before bye: with --collect-only it lists the tests
		 * itself and never waits for events. */
		if (m->status == EXIT_OK || m->status == EXIT_TESTS_FAILED || m->status == EXIT_INTERRUPTED ||
		    m->status == EXIT_NO_TESTS)
			c->done = true;
		/* Workers still waiting for a workerinput get xdist's own. */
		for (size_t i = 0; i < c->nw; i++) {
			if (!c->input[i])
				c->input[i] = xstrdup("{}");
			give_input(c, i, &workers[i].out);
		}
		break;
	case MSG_CRASH: {
		cleanup_free char *why = xasprintf("pytest died: %s", m->text ? m->text : "no reason given");

		fail(c, why);
		break;
	}
	case MSG_ERROR: {
		cleanup_free char *why = xasprintf("agent: %s", m->text ? m->text : "");

		fail(c, why);
		break;
	}
	default:
		fail(c, "it sent a worker's message");
		break;
	}
}

void
controller_gone(struct controller *c, const char *why)
{
	if (!c->done)
		fail(c, why);
}

/* {"t":"ev","w":"gwN",<rest>\n, in pieces: a printf of every event was
 * 7% of xdock's instructions (docs/benchmarks.md). */
static int
forward(struct buf *b, const char *name, const char *rest)
{
	static const char pfx[] = PROTO_PFX_EVENT "\"w\":\"";
	size_t nlen = strlen(name), rlen = strlen(rest);

	/* Whole or not at all: a line cut in the queue would spoil the next. */
	if (sizeof(pfx) - 1 + nlen + 2 + rlen + 1 > b->max - b->len)
		return -1;
	buf_append(b, pfx, sizeof(pfx) - 1);
	buf_append(b, name, nlen);
	buf_append(b, "\",", 2);
	buf_append(b, rest, rlen);
	return buf_append(b, "\n", 1);
}

void
controller_event(struct controller *c, size_t wi, const char *name, const char *rest, bool in_test)
{
	if (in_test) {
		if (forward(&c->held[wi], name, rest) < 0)
			fail(c, "one test sent more events than it can hold");
		return;
	}
	if (!c->w->attach || c->bye_sent)
		return;
	batch_starts(c);
	if (forward(&c->w->out, name, rest) < 0)
		fail(c, "its command queue is full (it stopped reading)");
}

/* {"t":KIND,"w":"gwN","id":NODEID  (the caller closes the object) */
static void
note(struct buf *b, const char *kind, const char *name, const char *nodeid)
{
	buf_printf(b, "{\"t\":\"%s\",\"w\":\"%s\",\"id\":", kind, name);
	proto_json_string(b, nodeid, strlen(nodeid), PROTO_LINE_MAX / 4);
}

static void
release_held(struct controller *c, size_t wi)
{
	send_line(c, c->held[wi].data, c->held[wi].len);
	buf_reset(&c->held[wi]);
}

void
controller_settle(struct controller *c, size_t wi, const char *name, const char *nodeid, bool rerun)
{
	if (rerun && nodeid) {
		struct buf b;

		buf_init(&b, PROTO_LINE_MAX);
		note(&b, "rerun", name, nodeid);
		buf_printf(&b, "}\n");
		send_line(c, b.data, b.len);
		buf_release(&b);
	}
	release_held(c, wi);
}

void
controller_crash(struct controller *c, size_t wi, const char *name, const char *nodeid, const char *reason,
		 bool rerun)
{
	struct buf b;

	release_held(c, wi);
	buf_init(&b, PROTO_LINE_MAX);
	note(&b, "crash", name, nodeid ? nodeid : "");
	buf_printf(&b, ",\"reason\":");
	proto_json_string(&b, reason ? reason : "", reason ? strlen(reason) : 0, 64 * 1024);
	buf_printf(&b, ",\"rerun\":%s}\n", rerun ? "true" : "false");
	send_line(c, b.data, b.len);
	buf_release(&b);
}

void
controller_flaky(struct controller *c, const char *nodeid, const char *kind, const char *const *failed_on, size_t n)
{
	struct buf b;

	buf_init(&b, PROTO_LINE_MAX);
	buf_printf(&b, "{\"t\":\"flaky\",\"id\":");
	proto_json_string(&b, nodeid, strlen(nodeid), PROTO_LINE_MAX / 4);
	buf_printf(&b, ",\"kind\":");
	proto_json_string(&b, kind, strlen(kind), 256);
	buf_printf(&b, ",\"failed_on\":[");
	for (size_t i = 0; i < n; i++) {
		buf_printf(&b, "%s", i ? "," : "");
		proto_json_string(&b, failed_on[i], strlen(failed_on[i]), 64);
	}
	buf_printf(&b, "]}\n");
	send_line(c, b.data, b.len);
	buf_release(&b);
}

void
controller_bye(struct controller *c)
{
	if (c->bye_sent)
		return;
	for (size_t i = 0; i < c->nw; i++)
		release_held(c, i);
	if (c->w->attach)
		msg_encode_bye(&c->w->out);
	c->bye_sent = true;
}
