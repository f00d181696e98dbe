#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "docker.h"
#include "gc.h"
#include "history.h"
#include "msg.h"
#include "provision.h"
#include "quarantine.h"
#include "report.h"
#include "sched.h"
#include "shard.h"
#include "term.h"
#include "worker.h"

/* Tests handed to a worker and not yet finished. Two keeps the runner from
 * waiting on a round trip (it needs the next item to know `nextitem`); a
 * third absorbs jitter. More would only make tail scheduling worse. */
#define RUN_PREFETCH 3
#define RUN_BATCH 64
/* How long past --timeout a silent agent is given before its container is
 * killed (see watchdog()). */
#define RUN_WATCHDOG_GRACE_MS 15000

struct run {
	const struct config *cfg;
	struct docker *dk;
	struct run_ctx ctx;
	char run_id[16];
	char *owner;
	char *labels[3];
	char *network;          /* name == id we gave it */
	bool network_created;
	char project_dir[PATH_MAX];
	char agent_path[PATH_MAX];
	char user[32];
	struct provision prov;
	struct worker *w;
	size_t nw;
	struct report rep;
	struct sched_test *stests;
	struct sched *sched;
	bool have_collection;
	size_t collection_owner; /* the worker whose collection is canonical */
	struct term term;
	int sigfd;
	int64_t t0;
	size_t failures;
	bool stopping;           /* no more work handed out */
	bool maxfail_hit;        /* -x / --maxfail: queued work is taken back */
	bool interrupted;
	int signals;
	struct error *fatal;     /* stops the run; printed by main */
	const char **cmd;        /* the agent's argv after its own name */
	char timeout_arg[32];
	int restarts;            /* workers replaced after a crash */
	int max_restarts;
	/* The scheduler sees only the tests this run will run (--shard may
	 * keep a part); indexes on the wire are collection indexes. */
	size_t *s2c, *c2s;
	size_t nsched;
	bool *selected;          /* collection index -> in this run (not another shard's) */
	size_t *reruns;          /* collection indexes waiting for another try */
	size_t nreruns;
	struct quarantine quarantine;
	struct history *hist;    /* NULL with --no-history */
	struct history_eta eta;
	bool eta_on;
};
#define RUN_NONE ((size_t)-1)

static void schedule(struct run *r, const size_t *keep, size_t n, enum sched_mode mode);

static void
make_run_id(char *out, size_t n)
{
	unsigned char raw[6] = { 0 };
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
		uint64_t x = (uint64_t)util_now_ms() ^ ((uint64_t)getpid() << 32);

		memcpy(raw, &x, sizeof(raw));
	}
	if (fd >= 0)
		close(fd);
	snprintf(out, n, "%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3], raw[4], raw[5]);
}

static bool
executable(const char *p)
{
	return access(p, X_OK) == 0;
}

/* The agent ships next to xdock: in the build tree (agent/xdock-agent) or
 * installed (../libexec/xdock/xdock-agent). */
static int
find_agent(struct run *r, struct error **err)
{
	char exe[PATH_MAX], dir[PATH_MAX];
	const char *env = getenv("XDOCK_AGENT");
	const char *given = r->cfg->agent ? r->cfg->agent : env;
	ssize_t n;

	if (given) {
		if (!realpath(given, r->agent_path) || !executable(r->agent_path))
			return error_set(err, EXIT_USAGE, "agent %s: not an executable file", given);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return error_set(err, EXIT_INTERNAL, "cannot find the xdock binary: %s", strerror(errno));
	exe[n] = '\0';
	snprintf(dir, sizeof(dir), "%s", exe);
	*strrchr(dir, '/') = '\0';
	const char *cands[] = { "xdock-agent", "agent/xdock-agent", "../libexec/xdock/xdock-agent" };
	for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
		char p[PATH_MAX * 2];

		snprintf(p, sizeof(p), "%s/%s", dir, cands[i]);
		if (executable(p) && realpath(p, r->agent_path))
			return 0;
	}
	return error_set(err, EXIT_USAGE, "xdock-agent not found next to %s (build it, or pass --agent PATH)", exe);
}

/* Ctrl-C and SIGTERM arrive through a signalfd in the poll loop; nothing
 * runs in signal context and nothing global is touched. */
static int
signals_open(struct error **err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return error_set(err, EXIT_INTERNAL, "signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return fd;
}

/* Drains the signalfd; true when a signal asked the run to stop. */
static bool
signals_pending(struct run *r)
{
	struct signalfd_siginfo si;
	bool got = false;

	while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		got = true;
		r->signals++;
	}
	if (got && !r->interrupted) {
		r->interrupted = true;
		r->stopping = true;
		term_line(&r->term, "\nxdock: interrupted: stopping the workers and cleaning up%s",
			  r->signals > 1 ? " (now)" : "");
	}
	return r->interrupted;
}

/* Records the error that stops the run (the first one wins). fmt takes
 * exactly two strings. */
static int
fail(struct run *r, int status, const char *fmt, const char *a, const char *b)
{
	if (!r->fatal)
		error_set(&r->fatal, status, fmt, a, b);
	r->stopping = true;
	return -1;
}

/* The fields a worker's result fills in. */
static void
fill_result(struct report_test *rt, enum outcome o, int worker, const char *when, const char *longrepr,
	    const char *out, const char *errout)
{
	free(rt->when);
	free(rt->longrepr);
	free(rt->out);
	free(rt->err);
	rt->outcome = o;
	rt->worker = worker;
	rt->when = when ? xstrdup(when) : NULL;
	rt->longrepr = longrepr ? xstrdup(longrepr) : NULL;
	rt->out = out ? xstrdup(out) : NULL;
	rt->err = errout ? xstrdup(errout) : NULL;
}

static void
set_outcome(struct run *r, size_t t, int worker, enum outcome o, double duration, const char *when,
	    const char *longrepr, const char *out, const char *errout)
{
	struct report_test *rt = &r->rep.tests[t];

	if (rt->outcome != OUTCOME_NONE) {
		/* --dist each: every worker runs every test. The report keeps
		 * one entry a test, the worst outcome any worker saw; every
		 * result still counts for its worker and the progress. */
		if (r->cfg->dist != SCHED_EACH || worker < 0)
			return;
		r->w[worker].ntests++;
		r->rep.workers[worker].tests++;
		if (report_is_failure(o) && !report_is_failure(rt->outcome)) {
			fill_result(rt, o, worker, when, longrepr, out, errout);
			if (!rt->quarantined)
				r->failures++;
		}
		if (duration > rt->duration)
			rt->duration = duration;
		term_progress(&r->term, &r->rep, t);
		return;
	}
	if (report_is_failure(o) && rt->nattempts < (size_t)r->cfg->reruns && !r->stopping) {
		/* Another try comes later, on a fresh worker: keep this one. */
		report_add_attempt(rt, o, worker, duration, longrepr);
		r->reruns = xrealloc(r->reruns, (r->nreruns + 1) * sizeof(*r->reruns));
		r->reruns[r->nreruns++] = t;
		term_rerun(&r->term, &r->rep, t, worker >= 0 ? r->rep.workers[worker].name : "--", o);
		return;
	}
	rt->flaky = o == OUTCOME_PASSED && rt->nattempts > 0;
	fill_result(rt, o, worker, when, longrepr, out, errout);
	rt->duration = duration;
	free(rt->reason);
	rt->reason = NULL;
	if (worker >= 0) {
		r->w[worker].ntests++;
		r->rep.workers[worker].tests++;
	}
	if (report_is_failure(o) && !rt->quarantined)
		r->failures++;
	term_progress(&r->term, &r->rep, t);
}

/* -x / --maxfail: nothing new is handed out; what was not sent is
 * reported as not run. */
static void
stop_for_maxfail(struct run *r)
{
	size_t n, *dropped = xcalloc(r->rep.ntests + 1, sizeof(size_t));

	r->stopping = true;
	r->maxfail_hit = true;
	n = sched_cancel(r->sched, dropped, r->rep.ntests);
	for (size_t i = 0; i < n && i < r->rep.ntests; i++) {
		struct report_test *rt = &r->rep.tests[r->s2c[dropped[i]]];

		if (rt->outcome == OUTCOME_NONE && !rt->reason)
			rt->reason = xasprintf("not run: stopped after %zu failure%s (-x/--maxfail)", r->failures,
					       r->failures == 1 ? "" : "s");
	}
	free(dropped);
}

static void
dispatch(struct run *r, struct worker *w)
{
	size_t idx[RUN_BATCH];

	if (w->state != WORKER_COLLECTED || w->bye_sent || !r->sched)
		return;
	if (!r->stopping) {
		size_t n = sched_next(r->sched, w->index, idx, RUN_BATCH);

		for (size_t k = 0; k < n; k++)
			idx[k] = r->s2c[idx[k]];
		if (n > 0)
			msg_encode_run(&w->out, idx, n);
	}
	/* The runner holds its last test until it knows there is no next
	 * one: bye is what lets it finish. After -x, stop also drops what it
	 * was sent and has not begun. */
	if (r->maxfail_hit) {
		msg_encode_stop(&w->out);
		w->bye_sent = true;
	} else if (r->stopping || sched_worker_finished(r->sched, w->index)) {
		msg_encode_bye(&w->out);
		w->bye_sent = true;
	}
}

static void
dispatch_all(struct run *r)
{
	for (size_t i = 0; i < r->nw; i++)
		dispatch(r, &r->w[i]);
}

/* Whether this run sees the whole suite, so that tests missing from the
 * collection really are gone and their history can be dropped: no
 * selection, no node ids, no sub-paths, no shard. */
static bool
whole_suite(const struct config *cfg)
{
	if (cfg->shard.m > 0)
		return false;
	for (size_t i = 0; i < cfg->npytest_args; i++) {
		const char *a = cfg->pytest_args[i];

		if (strcmp(a, ".") != 0 && strcmp(a, "./") != 0)
			return false;
	}
	return true;
}

/* The expected duration of every scheduled test, for the ETA. */
static void
start_eta(struct run *r)
{
	double *expected;
	size_t n = r->nsched;

	if (!r->hist || history_count(r->hist) == 0 || r->cfg->dist == SCHED_EACH)
		return;
	expected = xcalloc(n ? n : 1, sizeof(*expected));
	for (size_t i = 0; i < n; i++)
		expected[i] = r->stests[i].expected;
	history_eta_init(&r->eta, expected, n, r->cfg->dist == SCHED_NO ? 1 : r->nw);
	free(expected);
	r->eta_on = true;
}

/* The first collection becomes the run's list of tests. With --shard only
 * this shard's tests are scheduled; the others leave the report. */
static int
adopt_collection(struct run *r, struct worker *w, struct msg *m)
{
	size_t n = m->nitems;
	size_t *keep = xcalloc(n ? n : 1, sizeof(*keep));
	double *expected = xcalloc(n ? n : 1, sizeof(*expected));
	const char **ids = xcalloc(n ? n : 1, sizeof(*ids));
	size_t nkeep = n, *schedule_keep, schedule_n;

	r->rep.ntests = n;
	r->rep.tests = xcalloc(n ? n : 1, sizeof(*r->rep.tests));
	for (size_t i = 0; i < n; i++) {
		struct report_test *t = &r->rep.tests[i];

		t->id = steal_ptr(&m->items[i].id);
		t->file = steal_ptr(&m->items[i].file);
		t->group = steal_ptr(&m->items[i].group);
		t->worker = -1;
		ids[i] = t->id;
		expected[i] = r->hist ? history_get(r->hist, t->id) : -1.0;
		keep[i] = i;
	}
	if (r->cfg->shard.m > 0)
		nkeep = shard_select(ids, expected, NULL, n, &r->cfg->shard, keep);
	for (size_t i = 0; i < n; i++)
		r->rep.tests[i].quarantined = quarantine_has(&r->quarantine, r->rep.tests[i].id);
	r->selected = xcalloc(n ? n : 1, sizeof(*r->selected));
	for (size_t k = 0; k < nkeep; k++)
		r->selected[keep[k]] = true;
	r->c2s = xmalloc((n ? n : 1) * sizeof(*r->c2s));
	schedule_keep = keep;
	schedule_n = nkeep;
	free(expected);
	free(ids);

	r->rep.ncollect_errors = m->nerrors;
	r->rep.collect_errors = steal_ptr(&m->errors);
	m->nerrors = 0;
	r->have_collection = true;
	r->collection_owner = w->index;
	r->term.total = r->cfg->dist == SCHED_EACH ? schedule_n * r->nw : schedule_n;
	r->rep.startup = (double)(util_now_ms() - r->t0) / 1000.0;
	if (r->cfg->shard.m > 0)
		term_line(&r->term, "collected %zu item%s, shard %zu/%zu runs %zu (%s, %.2fs to first collection)",
			  r->rep.ntests, r->rep.ntests == 1 ? "" : "s", r->cfg->shard.k, r->cfg->shard.m, schedule_n,
			  w->name, r->rep.startup);
	else
		term_line(&r->term, "collected %zu item%s (%s, %.2fs to first collection)", r->rep.ntests,
			  r->rep.ntests == 1 ? "" : "s", w->name, r->rep.startup);
	if (r->rep.ncollect_errors) {
		/* As pytest: collection errors interrupt the run. */
		r->stopping = true;
		free(schedule_keep);
		return 0;
	}
	schedule(r, schedule_keep, schedule_n, r->cfg->dist);
	free(schedule_keep);
	start_eta(r);
	return 0;
}

/* Every worker must see the same tests in the same order: indexes on the
 * wire mean the same test everywhere. */
static int
check_collection(struct run *r, struct worker *w, const struct msg *m)
{
	const char *owner = r->w[r->collection_owner].name;

	if (m->nitems != r->rep.ntests) {
		cleanup_free char *a = xasprintf("%s collected %zu tests", owner, r->rep.ntests);
		cleanup_free char *b = xasprintf("%s collected %zu", w->name, m->nitems);

		return fail(r, EXIT_INTERNAL, "different tests were collected: %s, %s", a, b);
	}
	for (size_t i = 0; i < m->nitems; i++) {
		if (strcmp(m->items[i].id, r->rep.tests[i].id) != 0) {
			cleanup_free char *a = xasprintf("%s has %s", owner, r->rep.tests[i].id);
			cleanup_free char *b = xasprintf("%s has %s at position %zu", w->name, m->items[i].id, i);

			return fail(r, EXIT_INTERNAL, "different tests were collected: %s, %s", a, b);
		}
	}
	return 0;
}

static void
worker_lost(struct run *r, struct worker *w, long crashed)
{
	if (r->sched && w->state == WORKER_COLLECTED)
		sched_worker_lost(r->sched, w->index, crashed >= 0 ? r->c2s[crashed] : RUN_NONE);
	w->state = WORKER_EXITED;
	w->current = -1;
}

/* ": <the line of text that says what went wrong>": the last line that
 * mentions an error (pytest's "ERROR: ..." usage lines, an exception),
 * else the last non-empty line; "" when there is none. */
static char *
last_line(const char *text)
{
	const char *p = text, *pick = NULL, *last = NULL;
	size_t n;

	while (p && *p) {
		size_t len = strcspn(p, "\n");
		bool blank = strspn(p, " \t\r") >= len;

		if (!blank) {
			last = p;
			if (memmem(p, len, "rror:", 5) || memmem(p, len, "ERROR", 5))
				pick = p;
		}
		p += len + (p[len] ? 1 : 0);
	}
	if (!pick)
		pick = last;
	if (!pick)
		return xstrdup("");
	pick += strspn(pick, " \t");
	n = strcspn(pick, "\r\n");
	return xasprintf(": %.*s", (int)n, pick);
}

static void
handle_msg(struct run *r, struct worker *w, struct msg *m)
{
	switch (m->kind) {
	case MSG_HELLO:
		if (m->version != PROTO_VERSION) {
			cleanup_free char *v = xasprintf("%d", m->version);
			cleanup_free char *mine = xasprintf("%d", PROTO_VERSION);

			fail(r, EXIT_INTERNAL, "agent speaks protocol %s, this xdock speaks %s", v, mine);
			return;
		}
		w->state = WORKER_READY;
		break;
	case MSG_COLLECTED:
		if (!r->have_collection)
			adopt_collection(r, w, m);
		else if (check_collection(r, w, m) < 0)
			return;
		w->state = WORKER_COLLECTED;
		w->collected = true;
		if (r->rep.ncollect_errors)
			r->stopping = true;
		if (r->stopping)
			dispatch_all(r);
		else
			dispatch(r, w);
		break;
	case MSG_START:
		w->current = m->index;
		break;
	case MSG_RESULT:
		if (!r->have_collection || m->index < 0 || (size_t)m->index >= r->rep.ntests) {
			fail(r, EXIT_INTERNAL, "worker %s: result for unknown test %s", w->name, "");
			return;
		}
		w->current = -1;
		if (r->rep.first_result <= 0)
			r->rep.first_result = (double)(util_now_ms() - r->t0) / 1000.0;
		if (r->c2s[m->index] == RUN_NONE) {
			fail(r, EXIT_INTERNAL, "worker %s: result for a test it was not given: %s", w->name,
			     r->rep.tests[m->index].id);
			return;
		}
		if (r->eta_on) {
			history_eta_done(&r->eta, r->c2s[m->index], m->duration);
			r->term.eta = history_eta_seconds(&r->eta);
		}
		set_outcome(r, (size_t)m->index, (int)w->index, m->outcome, m->duration, m->when, m->text, m->out,
			    m->err);
		sched_complete(r->sched, w->index, r->c2s[m->index]);
		if (!r->stopping && r->cfg->maxfail > 0 && r->failures >= (size_t)r->cfg->maxfail) {
			stop_for_maxfail(r);
			dispatch_all(r);
		} else {
			dispatch(r, w);
		}
		break;
	case MSG_DONE:
		w->done = true;
		break;
	case MSG_CRASH:
		if (m->index >= 0 && r->have_collection && (size_t)m->index < r->rep.ntests) {
			cleanup_free char *why = m->timeout ? xasprintf("%s on worker %s",
									 m->text ? m->text : "timeout", w->name)
							     : xasprintf("worker %s crashed while running this test: %s",
									 w->name, m->text ? m->text : "runner died");

			set_outcome(r, (size_t)m->index, (int)w->index, m->timeout ? OUTCOME_TIMEOUT : OUTCOME_CRASHED, 0,
				    "call", why, m->out, NULL);
		}
		worker_lost(r, w, m->index);
		break;
	case MSG_EXIT:
		w->exit_status = m->status;
		free(w->exit_output);
		w->exit_output = m->out ? xstrdup(m->out) : NULL;
		if (!w->collected && !r->fatal && !r->stopping && m->status != 0) {
			/* pytest stopped before running anything: a usage error,
			 * a missing path, a plugin that fails to import. Its exit
			 * code is the run's, its last line the message. */
			cleanup_free char *what = xasprintf("pytest exited with status %d in worker %s before running tests",
							    m->status, w->name);
			cleanup_free char *last = last_line(m->out);

			fail(r, m->status >= 1 && m->status <= 5 ? m->status : EXIT_INTERNAL, "%s%s", what, last);
		}
		if (w->state == WORKER_COLLECTED && !w->done && w->current >= 0) {
			size_t t = (size_t)w->current;

			set_outcome(r, t, (int)w->index, OUTCOME_CRASHED, 0, "call",
				    "the test runner exited while running this test", m->out, NULL);
		}
		worker_lost(r, w, w->current);
		break;
	case MSG_ERROR:
		fail(r, EXIT_INTERNAL, "worker %s: %s", w->name, m->text);
		break;
	}
}

/* The stream ended without the agent saying exit: the container died
 * (killed from outside, OOM, the agent crashed). */
static void
handle_eof(struct run *r, struct worker *w)
{
	struct docker_container_state st = { 0 };
	struct error *e = NULL;
	cleanup_free char *why = NULL;

	if (w->state == WORKER_EXITED)
		return;
	if (docker_container_inspect(r->dk, w->container, NULL, &st, &e) < 0) {
		why = xasprintf("container gone (%s)", e->msg);
		error_free(e);
	} else if (w->unanswering) {
		why = xasprintf("the agent stopped answering for more than --timeout + %d s; its container was killed",
				RUN_WATCHDOG_GRACE_MS / 1000);
	} else if (st.oom_killed) {
		why = xstrdup("OOM killed");
	} else {
		why = xasprintf("container %s with exit code %d", st.status, st.exit_code);
	}
	if (w->current >= 0 && r->have_collection)
		set_outcome(r, (size_t)w->current, (int)w->index, OUTCOME_CRASHED, 0, "call", why, w->errtail.data, NULL);
	else if (!r->have_collection && !r->fatal && !r->interrupted) {
		cleanup_free char *said = w->errtail.len ? xasprintf("; agent said: %s", w->errtail.data) : xstrdup("");

		fail(r, EXIT_INTERNAL, "worker ended before collecting: %s%s", why, said);
	}
	worker_lost(r, w, w->current);
}

static bool
all_exited(const struct run *r)
{
	/* Streams stay open until the engine closes them, even after the
	 * agent said exit: their end is what marks a worker gone. */
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].attach)
			return false;
	return true;
}

static void
service_worker(struct run *r, struct worker *w, short revents)
{
	struct error *e = NULL;
	bool eof = false;
	struct msg m;
	int rc;

	if (revents & POLLOUT && worker_flush(w, &e) < 0) {
		error_free(e);
		e = NULL;
		eof = true;
	}
	if (!eof && revents & (POLLIN | POLLHUP | POLLERR)) {
		if (worker_read(w, &eof, &e) < 0) {
			fail(r, EXIT_INTERNAL, "%s%s", e->msg, "");
			error_free(e);
			e = NULL;
			eof = true;
		}
	}
	while ((rc = worker_next_msg(w, &m, &e)) == 1) {
		bool big = m.kind == MSG_COLLECTED;

		handle_msg(r, w, &m);
		msg_release(&m);
		/* A collection is one line of every node id, parsed: megabytes
		 * that are garbage a moment later, in the middle of the heap
		 * where free() cannot give them back. */
		if (big)
			malloc_trim(0);
	}
	if (rc < 0) {
		fail(r, EXIT_INTERNAL, "%s%s", e->msg, "");
		error_free(e);
		eof = true;
	}
	if (eof) {
		handle_eof(r, w);
		docker_attach_free(w->attach);
		w->attach = NULL;
	}
	if (w->attach && w->out.len > 0 && worker_flush(w, &e) < 0) {
		error_free(e);
		handle_eof(r, w);
	}
}

/* Tests that are not finished while no live worker will ever ask for
 * them: every live worker has been told bye. */
static bool
work_orphaned(const struct run *r)
{
	if (!r->sched || sched_unsent(r->sched) == 0 || r->stopping)
		return false;
	for (size_t i = 0; i < r->nw; i++) {
		const struct worker *w = &r->w[i];

		if (w->attach && w->state != WORKER_EXITED && !w->bye_sent)
			return false;
	}
	return true;
}

/* Marks every test without an outcome as not run, for this reason. */
static void
abandon_rest(struct run *r, const char *reason)
{
	size_t *dropped = xcalloc(r->rep.ntests + 1, sizeof(size_t));

	if (r->sched)
		sched_cancel(r->sched, dropped, r->rep.ntests);
	free(dropped);
	for (size_t i = 0; i < r->rep.ntests; i++) {
		struct report_test *t = &r->rep.tests[i];

		if (t->outcome == OUTCOME_NONE && !t->reason)
			t->reason = xstrdup(reason);
	}
}

/* A worker died with work left: a fresh container with a fresh clone of
 * the template takes its slot, so whatever the crash left in the database
 * or the process cannot leak into the next test. */
static void
replace_worker(struct run *r, struct worker *w)
{
	struct error *e = NULL;
	size_t index = w->index;
	char *dbname = steal_ptr(&w->dbname);

	if (r->restarts >= r->max_restarts) {
		cleanup_free char *why = xasprintf("not run: %d workers were replaced, the limit (--max-worker-restart)",
						   r->restarts);

		term_line(&r->term, "xdock: worker %s crashed; %d replacements already, giving up", w->name, r->restarts);
		r->stopping = true;
		abandon_rest(r, why);
		free(dbname);
		return;
	}
	r->restarts++;
	worker_remove(w, r->dk);
	worker_release(w);
	worker_init(w, index);
	w->dbname = dbname;
	term_line(&r->term, "xdock: replacing worker %s (restart %d of at most %d)", w->name, r->restarts,
		  r->max_restarts);
	if ((w->dbname && provision_clone(&r->prov, w->dbname, &e) < 0) ||
	    worker_start(w, &r->ctx, &r->prov, r->agent_path, r->cmd, &e) < 0) {
		term_line(&r->term, "xdock: %s", e->msg);
		error_free(e);
		w->state = WORKER_EXITED;
		worker_remove(w, r->dk);
		return;
	}
	free(r->rep.workers[index].container);
	r->rep.workers[index].container = xstrdup(w->container);
	worker_hello(w);
}

/* The agent enforces --timeout itself. If it says nothing well past that
 * (frozen, its pipes wedged, the container paused), the orchestrator kills
 * the container; the end of its stream then makes the test a crash.
 * heard_ms is set by worker_next_msg on every message. */
static void
watchdog(struct run *r)
{
	int64_t now = util_now_ms();
	int64_t limit;

	if (r->cfg->timeout <= 0)
		return;
	limit = (int64_t)(ceil(r->cfg->timeout) * 1000) + RUN_WATCHDOG_GRACE_MS;
	for (size_t i = 0; i < r->nw; i++) {
		struct worker *w = &r->w[i];
		struct error *e = NULL;

		if (!w->attach || w->current < 0 || w->unanswering || now - w->heard_ms < limit)
			continue;
		w->unanswering = true;
		term_line(&r->term, "xdock: worker %s has not answered for %lld s: killing its container", w->name,
			  (long long)((now - w->heard_ms) / 1000));
		if (docker_container_kill(r->dk, w->container, "KILL", &e) < 0) {
			error_free(e);
			e = NULL;
			docker_container_remove(r->dk, w->container, true, &e);
			error_free(e);
		}
	}
}

/* After each round: replace crashed workers while work remains. */
static void
heal(struct run *r)
{
	for (size_t i = 0; i < r->nw && !r->stopping; i++) {
		struct worker *w = &r->w[i];

		if (w->attach || w->state != WORKER_EXITED || w->done || !w->container)
			continue;
		if (r->sched && !sched_done(r->sched))
			replace_worker(r, w);
	}
	/* Work put back by a crash after every other worker said bye. */
	for (size_t i = 0; i < r->nw && work_orphaned(r); i++)
		if (!r->w[i].attach && r->w[i].state == WORKER_EXITED)
			replace_worker(r, &r->w[i]);
}

/* One poll over every worker's channel and the signalfd until every
 * worker has exited. */
static void
loop(struct run *r)
{
	struct pollfd *pfd = xcalloc(r->nw + 1, sizeof(*pfd));
	size_t *who = xcalloc(r->nw + 1, sizeof(*who));

	while (!all_exited(r)) {
		size_t n = 0;
		int rc;

		if (r->fatal || r->interrupted)
			break;
		for (size_t i = 0; i < r->nw; i++) {
			if ((r->w[i].fresh || r->w[i].more) && r->w[i].attach) {
				r->w[i].fresh = false;
				service_worker(r, &r->w[i], POLLIN);
			}
		}
		pfd[n++] = (struct pollfd){ .fd = r->sigfd, .events = POLLIN };
		for (size_t i = 0; i < r->nw; i++) {
			struct worker *w = &r->w[i];

			if (!w->attach)
				continue;
			who[n] = i;
			pfd[n++] = (struct pollfd){ .fd = docker_attach_fd(w->attach),
						    .events = (short)(POLLIN | (w->out.len ? POLLOUT : 0)) };
		}
		rc = poll(pfd, n, 1000);
		if (rc < 0 && errno != EINTR) {
			fail(r, EXIT_INTERNAL, "poll: %s%s", strerror(errno), "");
			break;
		}
		if (pfd[0].revents && signals_pending(r))
			break;
		for (size_t k = 1; k < n; k++)
			if (pfd[k].revents)
				service_worker(r, &r->w[who[k]], pfd[k].revents);
		watchdog(r);
		heal(r);
	}
	free(pfd);
	free(who);
}

/* Only a database needs a network of the run's own (a name workers reach
 * it by, out of other runs' reach). Without one, workers go on the
 * engine's default bridge: no network to create or remove, and containers
 * start sooner there than on a network of their own (docs/benchmarks.md). */
static int
setup_network(struct run *r, struct error **err)
{
	cleanup_free char *id = NULL;

	if (r->cfg->db == CLI_DB_NONE)
		return 0;
	r->network = xasprintf("xdock-%s", r->run_id);
	if (docker_network_create(r->dk, r->network, (const char *const *)r->labels, &id, err) < 0)
		return error_wrap(err, "run network");
	r->network_created = true;
	return 0;
}

/* xdock-agent [--timeout S] -- python3 -m pytest <pytest args>. */
static void
build_agent_cmd(struct run *r)
{
	const struct config *cfg = r->cfg;
	size_t n = 0;

	r->cmd = xcalloc(cfg->npytest_args + 8, sizeof(*r->cmd));
	if (cfg->timeout > 0) {
		/* The agent counts whole seconds; a fraction rounds up, so a
		 * test never gets less than it was given. */
		snprintf(r->timeout_arg, sizeof(r->timeout_arg), "%.0f", ceil(cfg->timeout));
		r->cmd[n++] = "--timeout";
		r->cmd[n++] = r->timeout_arg;
	}
	r->cmd[n++] = "--";
	r->cmd[n++] = "python3";
	r->cmd[n++] = "-m";
	r->cmd[n++] = "pytest";
	for (size_t i = 0; i < cfg->npytest_args; i++)
		r->cmd[n++] = cfg->pytest_args[i];
	r->cmd[n] = NULL;
}

/* One container to bring up on its own thread, with its own docker
 * client (a curl handle is never shared between threads). */
struct start_job {
	struct run *r;
	size_t worker;          /* START_DB: the embedded database */
	struct run_ctx ctx;
	const char *const *cmd;
	struct error *err;
	int rc;
	pthread_t thread;
	bool spawned;
};
#define START_DB ((size_t)-1)
/* dockerd serialises much of a start anyway; past a handful of parallel
 * requests more threads only add contention. */
#define START_PARALLEL 8

static void *
start_job_cb(void *arg)
{
	struct start_job *j = arg;

	if (j->worker == START_DB)
		j->rc = provision_launch(&j->r->prov, &j->ctx, &j->err);
	else
		j->rc = worker_start(&j->r->w[j->worker], &j->ctx, &j->r->prov, j->r->agent_path, j->cmd, &j->err);
	return NULL;
}

/* Creates, attaches and starts every worker container, and launches the
 * embedded database, all in parallel: serial starts cost about 0.7 s per
 * container here. The first failure is returned; everything that did
 * start is recorded so teardown removes it. */
static int
start_containers(struct run *r, size_t nslots, bool with_db, struct error **err)
{
	const struct config *cfg = r->cfg;
	struct start_job *jobs = xcalloc(nslots + 1, sizeof(*jobs));
	const char *const *cmd = r->cmd;
	size_t njobs = 0;
	int rc = 0;

	if (with_db && r->prov.mode == CLI_DB_EMBEDDED)
		jobs[njobs++] = (struct start_job){ .r = r, .worker = START_DB };
	for (size_t i = 0; i < nslots; i++) {
		struct worker *w = &r->w[i];

		if (r->prov.mode != CLI_DB_NONE) {
			w->dbname = xasprintf("test_db_%s", w->name);
			free(r->rep.workers[i].database);
			r->rep.workers[i].database = xstrdup(w->dbname);
		}
		jobs[njobs++] = (struct start_job){ .r = r, .worker = i, .cmd = cmd };
	}
	/* Clients are made here, not on the threads: libcurl's global set-up
	 * is not thread-safe. */
	for (size_t i = 0; i < njobs && rc == 0; i++) {
		jobs[i].ctx = r->ctx;
		if (!(jobs[i].ctx.dk = docker_new(cfg->docker_host, err)))
			rc = -1;
	}
	for (size_t base = 0; base < njobs && rc == 0; base += START_PARALLEL) {
		size_t end = base + START_PARALLEL < njobs ? base + START_PARALLEL : njobs;

		for (size_t i = base; i < end; i++) {
			if (pthread_create(&jobs[i].thread, NULL, start_job_cb, &jobs[i]) != 0)
				start_job_cb(&jobs[i]);
			else
				jobs[i].spawned = true;
		}
		for (size_t i = base; i < end; i++) {
			if (jobs[i].spawned)
				pthread_join(jobs[i].thread, NULL);
			if (jobs[i].rc < 0 && rc == 0) {
				*err = steal_ptr(&jobs[i].err);
				rc = -1;
			}
		}
		if (rc == 0 && signals_pending(r))
			rc = error_set(err, EXIT_INTERRUPTED, "interrupted while starting workers");
	}
	for (size_t i = 0; i < nslots; i++) {
		if (r->w[i].container) {
			free(r->rep.workers[i].container);
			r->rep.workers[i].container = xstrdup(r->w[i].container);
		}
	}
	for (size_t i = 0; i < njobs; i++) {
		error_free(jobs[i].err);
		docker_free(jobs[i].ctx.dk);
	}
	free(jobs);
	return rc;
}

/* Databases: wait for the server, build the template, then clone one
 * database per worker and let that worker's pytest start at once, so
 * collection on the first workers overlaps the remaining clones. */
static int
release_workers(struct run *r, size_t nslots, struct error **err)
{
	struct error *e = NULL;

	for (size_t i = 0; i < nslots; i++) {
		struct worker *w = &r->w[i];

		if (signals_pending(r))
			return error_set(err, EXIT_INTERRUPTED, "interrupted while preparing databases");
		if (w->dbname && provision_clone(&r->prov, w->dbname, err) < 0)
			return -1;
		worker_hello(w);
		if (worker_flush(w, &e) < 0) {
			/* A dead channel shows up as end of stream in the loop. */
			error_free(e);
			e = NULL;
		}
	}
	return 0;
}

static int
ready_workers(struct run *r, struct error **err)
{
	if (provision_connect(&r->prov, err) < 0 || provision_template(&r->prov, &r->ctx, err) < 0)
		return -1;
	return release_workers(r, r->nw, err);
}

/* Builds the scheduler over the given collection indexes. */
static void
schedule(struct run *r, const size_t *keep, size_t n, enum sched_mode mode)
{
	sched_free(r->sched);
	free(r->stests);
	free(r->s2c);
	r->s2c = xcalloc(n ? n : 1, sizeof(*r->s2c));
	r->stests = xcalloc(n ? n : 1, sizeof(*r->stests));
	memset(r->c2s, 0xff, (r->rep.ntests ? r->rep.ntests : 1) * sizeof(*r->c2s));
	for (size_t k = 0; k < n; k++) {
		const struct report_test *t = &r->rep.tests[keep[k]];

		r->s2c[k] = keep[k];
		r->c2s[keep[k]] = k;
		r->stests[k] = (struct sched_test){ t->id, t->file, t->group,
						    r->hist ? history_get(r->hist, t->id) : -1.0 };
	}
	r->nsched = n;
	r->sched = sched_new(mode, r->stests, n, r->nw, RUN_PREFETCH);
}

/* --reruns: the tests that failed, crashed or timed out go again, each on
 * a fresh container with a fresh clone of the template, never in the
 * process that failed them. One round per call. */
static int
rerun_round(struct run *r, int round, struct error **err)
{
	size_t n = r->nreruns;
	size_t *keep = steal_ptr(&r->reruns);
	size_t nslots = n < r->nw ? n : r->nw;
	int rc;

	r->nreruns = 0;
	for (size_t i = 0; i < r->nw; i++) {
		struct worker *w = &r->w[i];

		worker_remove(w, r->dk);
		worker_release(w);
		worker_init(w, i);
	}
	schedule(r, keep, n, r->cfg->dist == SCHED_EACH ? SCHED_LOAD : r->cfg->dist);
	free(keep);
	term_line(&r->term, "xdock: rerunning %zu test%s on %zu fresh worker%s (round %d of at most %d)", n,
		  n == 1 ? "" : "s", nslots, nslots == 1 ? "" : "s", round, r->cfg->reruns);
	rc = start_containers(r, nslots, false, err);
	if (rc == 0)
		rc = release_workers(r, nslots, err);
	return rc;
}

struct remove_job {
	const char *host;
	char *id;
	struct error *err;
	pthread_t thread;
	bool spawned;
};

static void *
remove_job_cb(void *arg)
{
	struct remove_job *j = arg;
	struct docker *dk = docker_new(j->host, &j->err);

	if (dk) {
		docker_container_remove(dk, j->id, true, &j->err);
		docker_free(dk);
	}
	return NULL;
}

/* Removes containers in parallel: a forced removal of a running container
 * costs a few hundred milliseconds of the engine's time, most of it
 * waiting, and a run ends with one per worker plus the database. */
static void
remove_containers(struct run *r, char **ids, size_t n)
{
	struct remove_job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));

	for (size_t i = 0; i < n; i++) {
		jobs[i] = (struct remove_job){ .host = r->cfg->docker_host, .id = ids[i] };
		jobs[i].spawned = pthread_create(&jobs[i].thread, NULL, remove_job_cb, &jobs[i]) == 0;
		if (!jobs[i].spawned)
			docker_container_remove(r->dk, ids[i], true, &jobs[i].err);
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].spawned)
			pthread_join(jobs[i].thread, NULL);
		if (jobs[i].err) {
			fprintf(stderr, "xdock: cleanup: container %.12s: %s\n", ids[i], jobs[i].err->msg);
			error_free(jobs[i].err);
		}
	}
	free(jobs);
}

/* Everything the run created goes, on every path. Failures here are
 * printed, not returned: the run's own outcome stands. */
static void
teardown(struct run *r)
{
	struct error *e = NULL;
	char **ids = xcalloc(r->nw + 1, sizeof(*ids));
	cleanup_free char *db_id = NULL;
	size_t n = 0;

	for (size_t i = 0; i < r->nw; i++) {
		struct worker *w = &r->w[i];

		docker_attach_free(w->attach);
		w->attach = NULL;
		if (w->container)
			ids[n++] = w->container;
	}
	/* The run's own database server goes with the workers; a reused
	 * one stays, and provision_teardown only detaches it. */
	if (r->prov.container && !r->prov.reused)
		ids[n++] = db_id = steal_ptr(&r->prov.container);
	remove_containers(r, ids, n);
	free(ids);
	if (provision_teardown(&r->prov, &r->ctx, &e) < 0) {
		fprintf(stderr, "xdock: cleanup: %s\n", e->msg);
		error_free(e);
		e = NULL;
	}
	if (r->network_created && docker_network_remove(r->dk, r->network, &e) < 0) {
		fprintf(stderr, "xdock: cleanup: %s\n", e->msg);
		error_free(e);
	}
	r->network_created = false;
}

/* Tests --shard left to other shards leave the report: each shard's
 * report holds its own tests, and merged reports count each test once. */
static void
drop_unscheduled(struct run *r)
{
	size_t j = 0;

	if (!r->selected || !r->cfg->shard.m)
		return;
	for (size_t i = 0; i < r->rep.ntests; i++) {
		struct report_test *t = &r->rep.tests[i];

		if (!r->selected[i]) {
			report_test_release(t);
			continue;
		}
		r->rep.tests[j++] = *t;
	}
	r->rep.ntests = j;
}

static void
finish_report(struct run *r)
{
	for (size_t i = 0; i < r->rep.ntests; i++) {
		struct report_test *t = &r->rep.tests[i];

		if (t->outcome == OUTCOME_NONE && t->nattempts > 0) {
			/* Its rerun never came (the run stopped): the last try
			 * stands. */
			struct report_attempt *a = &t->attempts[--t->nattempts];

			t->outcome = a->outcome;
			t->worker = a->worker;
			t->duration = a->duration;
			t->longrepr = a->longrepr;
			continue;
		}
		if (t->outcome == OUTCOME_NONE && !t->reason && (!r->selected || r->selected[i]))
			t->reason = r->maxfail_hit ? xasprintf("not run: stopped after %zu failure%s (-x/--maxfail)", r->failures,
							       r->failures == 1 ? "" : "s")
				    : xstrdup(r->interrupted ? "not run: interrupted" : "not run: no worker left to run it");
	}
	drop_unscheduled(r);
	r->rep.wall = (double)(util_now_ms() - r->t0) / 1000.0;
}

/* Merges this run's durations into the history and saves it. Only a run
 * that finished counts: an interrupted one would record nothing for the
 * tests it never reached, which is fine, but its durations are of a
 * machine being stopped. A failure to save is a warning. */
static void
save_history(struct run *r)
{
	struct error *e = NULL;

	if (!r->hist || r->interrupted || r->fatal || !r->have_collection)
		return;
	for (size_t i = 0; i < r->rep.ntests; i++)
		if (r->rep.tests[i].outcome != OUTCOME_NONE)
			history_update(r->hist, r->rep.tests[i].id, r->rep.tests[i].duration);
	if (whole_suite(r->cfg) && r->rep.ncollect_errors == 0) {
		const char **ids = xcalloc(r->rep.ntests + 1, sizeof(*ids));

		for (size_t i = 0; i < r->rep.ntests; i++)
			ids[i] = r->rep.tests[i].id;
		history_prune(r->hist, ids, r->rep.ntests);
		free(ids);
	}
	if (history_save(r->hist, r->project_dir, &e) < 0) {
		fprintf(stderr, "xdock: warning: duration history: %s\n", e->msg);
		error_free(e);
	}
}

static int
write_reports(struct run *r)
{
	struct error *e = NULL;
	int rc = 0;

	if (r->cfg->json_report && report_save_json(r->cfg->json_report, &r->rep, &e) < 0)
		rc = -1;
	if (rc == 0 && r->cfg->junitxml) {
		struct buf b;

		buf_init(&b, (size_t)1 << 31);
		if (report_junit(&r->rep, &b, &e) < 0 || report_save(r->cfg->junitxml, &b, &e) < 0)
			rc = -1;
		buf_release(&b);
	}
	if (rc < 0) {
		fprintf(stderr, "xdock: report: %s\n", e->msg);
		error_free(e);
	}
	return rc;
}

static int
prepare(struct run *r, struct error **err)
{
	const struct config *cfg = r->cfg;
	int removed = 0;

	if (!getcwd(r->project_dir, sizeof(r->project_dir)))
		return error_set(err, EXIT_INTERNAL, "getcwd: %s", strerror(errno));
	if (find_agent(r, err) < 0)
		return -1;
	if (!(r->dk = docker_new(cfg->docker_host, err)))
		return -1;
	/* Leftovers of runs whose orchestrator died go first. */
	if (gc_sweep(r->dk, false, &removed, err) < 0) {
		error_free(*err);
		*err = NULL;
	}
	if (r->cfg->workers_auto) {
		int ncpu = 0;

		if (docker_info_ncpu(r->dk, &ncpu, err) < 0)
			return -1;
		r->nw = (size_t)(ncpu > 0 ? ncpu : 1);
		if (cfg->maxprocesses > 0 && r->nw > (size_t)cfg->maxprocesses)
			r->nw = (size_t)cfg->maxprocesses;
	} else {
		r->nw = (size_t)cfg->workers;
	}
	if (cfg->dist == SCHED_NO)
		r->nw = 1;
	return 0;
}

int
run_command(const struct config *cfg, struct error **err)
{
	struct run run = { .cfg = cfg, .sigfd = -1 };
	struct run *r = &run;
	struct config eff;
	int64_t lap;
	int code = -1;

	r->t0 = util_now_ms();
	r->rep.started_unix = (int64_t)time(NULL);
	term_init(&r->term, stdout, cfg->verbose);
	if ((r->sigfd = signals_open(err)) < 0)
		return -1;
	make_run_id(r->run_id, sizeof(r->run_id));
	r->owner = gc_owner_self();
	r->labels[0] = xasprintf("xdock.run=%s", r->run_id);
	r->labels[1] = xasprintf("xdock.owner=%s", r->owner);
	r->labels[2] = NULL;
	if (getuid() != 0)
		snprintf(r->user, sizeof(r->user), "%u:%u", (unsigned)getuid(), (unsigned)getgid());

	if (prepare(r, err) < 0)
		goto out;
	if (cfg->quarantine && quarantine_load(&r->quarantine, cfg->quarantine, err) < 0)
		goto out;
	r->rep.fail_on_flaky = cfg->fail_on_flaky;
	if (!cfg->no_history) {
		struct error *hw = NULL;

		r->hist = history_load(r->project_dir, &hw);
		if (hw) {
			term_line(&r->term, "xdock: warning: duration history ignored: %s", hw->msg);
			error_free(hw);
		}
	}
	/* The worker count is settled now (-n auto): the workers' environment
	 * must say the real number. */
	eff = *cfg;
	eff.workers = (int)r->nw;
	r->cfg = &eff;
	r->ctx = (struct run_ctx){
		.cfg = &eff,
		.dk = r->dk,
		.run_id = r->run_id,
		.project_dir = r->project_dir,
		.labels = (const char *const *)r->labels,
		.user = r->user[0] ? r->user : NULL,
	};
	r->rep.run_id = xstrdup(r->run_id);
	r->rep.image = xstrdup(cfg->image);
	r->rep.dist = sched_mode_name(cfg->dist);
	r->rep.nworkers = r->nw;
	r->rep.workers = xcalloc(r->nw, sizeof(*r->rep.workers));
	r->w = xcalloc(r->nw, sizeof(*r->w));
	for (size_t i = 0; i < r->nw; i++) {
		worker_init(&r->w[i], i);
		snprintf(r->rep.workers[i].name, sizeof(r->rep.workers[i].name), "%s", r->w[i].name);
	}
	term_line(&r->term, "xdock %s: %zu worker%s, image %s, dist %s, database %s, run %s", XDOCK_VERSION, r->nw,
		  r->nw == 1 ? "" : "s", cfg->image, sched_mode_name(cfg->dist),
		  cfg->db == CLI_DB_NONE ? "none" : cfg->db == CLI_DB_URL ? "given (--db-url)" : "embedded postgres",
		  r->run_id);

	report_phase(&r->rep, "engine", (double)(util_now_ms() - r->t0) / 1000.0);
	lap = util_now_ms();
	if (setup_network(r, err) < 0)
		goto out;
	report_phase(&r->rep, "network", (double)(util_now_ms() - lap) / 1000.0);
	r->ctx.network = r->network;
	/* The database server initialises while the worker containers
	 * start: the two slowest parts of start-up overlap. */
	lap = util_now_ms();
	build_agent_cmd(r);
	r->max_restarts = cfg->max_worker_restart >= 0 ? cfg->max_worker_restart : 4 * (int)r->nw;
	if (provision_plan(&r->prov, r->cfg, err) < 0 || start_containers(r, r->nw, true, err) < 0)
		goto out;
	report_phase(&r->rep, "containers_start", (double)(util_now_ms() - lap) / 1000.0);
	if (ready_workers(r, err) < 0)
		goto out;
	report_phase(&r->rep, "db_connect", r->prov.connect_seconds);
	report_phase(&r->rep, "db_template", r->prov.template_seconds);
	report_phase(&r->rep, "db_clones", r->prov.clone_seconds);
	if (cfg->verbose > 0)
		term_line(&r->term, "start-up: %zu containers %.2fs, database ready %.2fs, template %.2fs%s, clones %.2fs",
			  r->nw + (r->prov.mode == CLI_DB_EMBEDDED), r->rep.phases[r->rep.nphases - 4].seconds, r->prov.connect_seconds,
			  r->prov.template_seconds, r->prov.migrated ? " (migrated)" : "", r->prov.clone_seconds);
	loop(r);
	for (int round = 1; r->nreruns > 0 && !r->fatal && !r->interrupted && round <= cfg->reruns; round++) {
		struct error *re = NULL;

		if (rerun_round(r, round, &re) < 0) {
			fail(r, re->status ? re->status : EXIT_INTERNAL, "%s%s", re->msg, "");
			error_free(re);
			break;
		}
		loop(r);
	}

	finish_report(r);
	save_history(r);
	if (r->fatal) {
		*err = steal_ptr(&r->fatal);
		r->rep.exit_code = (*err)->status;
	} else {
		r->rep.exit_code = r->interrupted ? EXIT_INTERRUPTED : report_exit_code(&r->rep);
		code = r->rep.exit_code;
	}
	/* Results first, then cleanup: a slow teardown must not hide them. */
	if (r->have_collection)
		term_finish(&r->term, &r->rep);
	if (write_reports(r) < 0 && code == EXIT_OK)
		code = EXIT_INTERNAL;
out:
	if (r->dk)
		teardown(r);
	for (size_t i = 0; r->w && i < r->nw; i++)
		worker_release(&r->w[i]);
	free(r->w);
	sched_free(r->sched);
	free(r->stests);
	report_release(&r->rep);
	error_free(r->fatal);
	docker_free(r->dk);
	free(r->cmd);
	free(r->s2c);
	free(r->c2s);
	free(r->reruns);
	free(r->selected);
	quarantine_release(&r->quarantine);
	history_free(r->hist);
	if (r->eta_on)
		history_eta_release(&r->eta);
	free(r->network);
	free(r->owner);
	free(r->labels[0]);
	free(r->labels[1]);
	if (r->sigfd >= 0)
		close(r->sigfd);
	return code;
}
