#include "loop.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

int
loop_signals_open(struct error **err)
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

void
loop_init(struct loop *lp, struct fleet *f, struct ledger *l, struct term *term, int sigfd, int max_restarts)
{
	*lp = (struct loop){ .fleet = f, .ledger = l, .term = term, .sigfd = sigfd, .max_restarts = max_restarts };
}

int
loop_signals_take(int sigfd)
{
	struct signalfd_siginfo si;
	int n = 0;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		n++;
	return n;
}

bool
loop_signalled(struct loop *lp)
{
	int got = loop_signals_take(lp->sigfd);

	lp->signals += got;
	if (got && !lp->ledger->interrupted) {
		ledger_interrupt(lp->ledger);
		term_line(lp->term, "\nxdock: interrupted: stopping the workers and cleaning up%s",
			  lp->signals > 1 ? " (now)" : "");
	}
	return lp->ledger->interrupted;
}

int
loop_start(struct loop *lp, size_t nslots, bool with_db, struct error **err)
{
	struct fleet *f = lp->fleet;
	int64_t begin = util_now_ms();

	if (fleet_start(f, nslots, with_db, err) < 0)
		return -1;
	/* Hello at once: pytest's import and collection in the workers
	 * overlap the template and the clones; the ledger hands out tests
	 * only to a worker admitted (its database exists). */
	for (size_t i = 0; i < nslots; i++) {
		ledger_worker_started(lp->ledger, i, &f->w[i].out, begin);
		fleet_greet(f, i);
	}
	if (loop_signalled(lp))
		return error_set(err, EXIT_INTERRUPTED, "interrupted while starting workers");
	return 0;
}

int
loop_admit(struct loop *lp, size_t nslots, struct error **err)
{
	for (size_t i = 0; i < nslots; i++) {
		if (loop_signalled(lp))
			return error_set(err, EXIT_INTERRUPTED, "interrupted while preparing databases");
		if (fleet_admit(lp->fleet, i, err) < 0)
			return -1;
		ledger_admit(lp->ledger, i);
	}
	return 0;
}

/* The stream ended without the agent saying exit: the container died
 * (killed from outside, OOM, the agent crashed). The engine says how. */
static void
handle_eof(struct loop *lp, struct worker *w)
{
	struct docker_container_state st = { 0 };
	struct error *e = NULL;
	cleanup_free char *why = NULL;

	if (lp->ledger->w[w->index].state == LEDGER_EXITED)
		return;
	if (docker_container_inspect(lp->fleet->dk, w->container, NULL, &st, &e) < 0) {
		why = xasprintf("container gone (%s)", e->msg);
		error_free(e);
	} else if (w->unanswering) {
		why = xasprintf("the agent stopped answering for more than --timeout + %d s; its container was killed",
				LOOP_WATCHDOG_GRACE_MS / 1000);
	} else if (st.oom_killed) {
		why = xstrdup("OOM killed");
	} else {
		why = xasprintf("container %s with exit code %d", st.status, st.exit_code);
	}
	ledger_worker_gone(lp->ledger, w->index, why, w->errtail.len ? w->errtail.data : NULL, util_now_ms());
}

static void
kill_container(struct loop *lp, struct worker *w)
{
	struct error *e = NULL;

	if (docker_container_kill(lp->fleet->dk, w->container, "KILL", &e) < 0) {
		error_free(e);
		e = NULL;
		docker_container_remove(lp->fleet->dk, w->container, true, &e);
		error_free(e);
	}
}

/* A worker that broke the protocol is killed: nothing more it says is
 * read, and its slot is healed like a crash. */
static bool
broke(struct loop *lp, struct worker *w, struct error *e)
{
	ledger_broke(lp->ledger, w->index, e->msg);
	error_free(e);
	kill_container(lp, w);
	return false;
}

/* Every whole message the worker has buffered goes to the ledger. False
 * when the worker broke the protocol and was killed. */
static bool
drain_messages(struct loop *lp, struct worker *w)
{
	struct error *e = NULL;
	struct msg m;
	int rc;

	while ((rc = worker_next_msg(w, &m, &e)) == 1) {
		bool big = m.kind == MSG_COLLECTED;

		rc = ledger_handle(lp->ledger, w->index, &m, util_now_ms());
		msg_release(&m);
		/* A collection is one line of every node id, parsed: megabytes
		 * that are garbage a moment later, in the middle of the heap
		 * where free() cannot give them back. */
		if (big)
			malloc_trim(0);
		if (rc < 0) {
			kill_container(lp, w);
			return false;
		}
	}
	return rc < 0 ? broke(lp, w, e) : true;
}

static void
service_worker(struct loop *lp, struct worker *w, short revents)
{
	struct error *e = NULL;
	bool eof = false;

	if (revents & POLLOUT && worker_flush(w, &e) < 0) {
		error_free(e);
		e = NULL;
		eof = true;
	}
	if (!eof && revents & (POLLIN | POLLHUP | POLLERR)) {
		int rc = worker_read(w, &eof, &e);

		if (rc == -2) {
			/* What it sent before the bad bytes still counts. */
			if (drain_messages(lp, w))
				broke(lp, w, e);
			else
				error_free(e);
			eof = true;
		} else if (rc < 0) {
			ledger_fail(lp->ledger, EXIT_INTERNAL, "%s", e->msg);
			error_free(e);
			eof = true;
		}
		e = NULL;
	}
	if (!drain_messages(lp, w))
		eof = true;
	if (eof) {
		handle_eof(lp, w);
		worker_detach(w);
	}
	if (w->attach && w->out.len > 0 && worker_flush(w, &e) < 0) {
		error_free(e);
		handle_eof(lp, w);
	}
}

static bool
all_exited(const struct loop *lp)
{
	/* Streams stay open until the engine closes them, even after the
	 * agent said exit: their end is what marks a worker gone. */
	for (size_t i = 0; i < lp->fleet->nw; i++)
		if (lp->fleet->w[i].attach)
			return false;
	return true;
}

/* A crashed worker's slot gets a fresh container, up to the restart
 * limit; past it the remaining tests are reported not run. */
static void
replace(struct loop *lp, size_t i)
{
	struct worker *w = &lp->fleet->w[i];
	struct error *e = NULL;
	int64_t begin = util_now_ms();

	if (lp->restarts >= lp->max_restarts) {
		cleanup_free char *why = xasprintf("not run: %d workers were replaced, the limit (--max-worker-restart)",
						   lp->restarts);

		term_line(lp->term, "xdock: worker %s crashed; %d replacements already, giving up", w->name,
			  lp->restarts);
		ledger_abandon(lp->ledger, why);
		return;
	}
	lp->restarts++;
	term_line(lp->term, "xdock: replacing worker %s (restart %d of at most %d)", w->name, lp->restarts,
		  lp->max_restarts);
	if (fleet_replace(lp->fleet, i, &e) < 0) {
		term_line(lp->term, "xdock: %s", e->msg);
		error_free(e);
		ledger_worker_failed(lp->ledger, i);
		return;
	}
	ledger_worker_started(lp->ledger, i, &w->out, begin);
	ledger_admit(lp->ledger, i); /* fleet_replace cloned before the start */
}

/* After each round: replace crashed workers while work remains. */
static void
heal(struct loop *lp)
{
	struct ledger *l = lp->ledger;
	struct fleet *f = lp->fleet;

	for (size_t i = 0; i < f->nw && !l->stopping; i++) {
		const struct worker *w = &f->w[i];

		if (w->attach || l->w[i].state != LEDGER_EXITED || l->w[i].done || !w->container)
			continue;
		if (ledger_work_left(l))
			replace(lp, i);
	}
	/* Work put back by a crash after every other worker said bye. */
	for (size_t i = 0; i < f->nw && ledger_work_orphaned(l); i++)
		if (!f->w[i].attach && l->w[i].state == LEDGER_EXITED)
			replace(lp, i);
}

/* The agent enforces --timeout itself. If it says nothing well past that
 * (frozen, its pipes wedged, the container paused), the orchestrator kills
 * the container; the end of its stream then makes the test a crash.
 * heard_ms is set by worker_next_msg on every message. */
static void
watchdog(struct loop *lp)
{
	double timeout = lp->fleet->cfg->timeout;
	int64_t now = util_now_ms();
	int64_t limit;

	if (timeout <= 0)
		return;
	limit = (int64_t)(ceil(timeout) * 1000) + LOOP_WATCHDOG_GRACE_MS;
	for (size_t i = 0; i < lp->fleet->nw; i++) {
		struct worker *w = &lp->fleet->w[i];
		enum ledger_state st = lp->ledger->w[i].state;
		bool collecting = (st == LEDGER_STARTED || st == LEDGER_READY) && !lp->ledger->w[i].collected;

		if (!w->attach || w->unanswering || now - w->heard_ms < limit)
			continue;
		if (lp->ledger->w[i].current < 0 && !collecting)
			continue;
		/* A collection that never ends (an import that blocks, a
		 * conftest waiting for a service) has no test to blame: without
		 * a collection the run stops as pytest's collection errors do. */
		if (collecting && !lp->ledger->have_collection)
			ledger_fail(lp->ledger, EXIT_INTERRUPTED,
				    "worker %s: collection did not finish within --timeout + %d s; its container was killed",
				    w->name, LOOP_WATCHDOG_GRACE_MS / 1000);
		w->unanswering = true;
		term_line(lp->term, "xdock: worker %s has not answered for %lld s: killing its container", w->name,
			  (long long)((now - w->heard_ms) / 1000));
		kill_container(lp, w);
	}
}

/* Bytes that came with the attach reply never wake poll(), and a read
 * that stopped early may leave bytes curl holds: those are read first. */
static void
read_held(struct loop *lp)
{
	for (size_t i = 0; i < lp->fleet->nw; i++) {
		struct worker *w = &lp->fleet->w[i];

		if ((w->fresh || w->more) && w->attach) {
			w->fresh = false;
			service_worker(lp, w, POLLIN);
		}
	}
}

void
loop_run(struct loop *lp)
{
	struct fleet *f = lp->fleet;
	struct pollfd *pfd = xcalloc(f->nw + 1, sizeof(*pfd));
	size_t *who = xcalloc(f->nw + 1, sizeof(*who));

	while (!all_exited(lp) && !lp->ledger->fatal && !lp->ledger->interrupted) {
		size_t n = 0;
		int rc;

		read_held(lp);
		pfd[n++] = (struct pollfd){ .fd = lp->sigfd, .events = POLLIN };
		for (size_t i = 0; i < f->nw; i++) {
			struct worker *w = &f->w[i];

			if (!w->attach)
				continue;
			who[n] = i;
			pfd[n++] = (struct pollfd){ .fd = docker_attach_fd(w->attach),
						    .events = (short)(POLLIN | (w->out.len ? POLLOUT : 0)) };
		}
		rc = poll(pfd, n, 1000);
		if (rc < 0 && errno != EINTR) {
			ledger_fail(lp->ledger, EXIT_INTERNAL, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents && loop_signalled(lp))
			break;
		for (size_t k = 1; k < n; k++)
			if (pfd[k].revents)
				service_worker(lp, &f->w[who[k]], pfd[k].revents);
		watchdog(lp);
		heal(lp);
	}
	free(pfd);
	free(who);
}

int
loop_rerun_round(struct loop *lp, int round, struct error **err)
{
	struct fleet *f = lp->fleet;
	size_t n, nslots;

	fleet_clear(f);
	for (size_t i = 0; i < f->nw; i++)
		ledger_worker_idle(lp->ledger, i);
	n = ledger_rerun_round(lp->ledger);
	if (n == 0)
		return 0;
	nslots = n < f->nw ? n : f->nw;
	term_line(lp->term, "xdock: rerunning %zu test%s on %zu fresh worker%s (round %d of at most %d)", n,
		  n == 1 ? "" : "s", nslots, nslots == 1 ? "" : "s", round, f->cfg->reruns);
	if (loop_start(lp, nslots, false, err) < 0)
		return -1;
	return loop_admit(lp, nslots, err);
}
