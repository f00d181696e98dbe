/* The event loop of a run: signals, one poll() over the workers' and the
 * controller's channels and the databases' pipe, each worker's bytes to
 * messages to the ledger, a worker's end (its container's, or its engine
 * lost), then the watchdog and healing (loop_heal.c) after every round,
 * and the --reruns rounds. The controller's channel is loop_controller.c. */
#include "loop.h"
#include "loop_priv.h"

#include <errno.h>
#include <malloc.h>
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
loop_init(struct loop *lp, struct fleet *f, struct ledger *l, struct term *term, struct controller *ctl,
	  int sigfd, int max_restarts)
{
	*lp = (struct loop){ .fleet = f, .ledger = l, .term = term, .ctl = ctl, .sigfd = sigfd,
			     .max_restarts = max_restarts };
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

	/* pytest's terminal: the controller's stderr, copied as it comes. */
	if (with_db)
		f->ctl.echo = stdout;
	if (fleet_start(f, nslots, with_db, err) < 0)
		return -1;
	/* The clones may go: the slots' engines and databases are settled. */
	if (with_db)
		fleet_prep_started(f);
	/* Each has its hello (fleet_start): pytest's import and collection
	 * in the workers overlap the databases; the ledger hands out tests
	 * only to a worker admitted (its database exists). The workerinput
	 * follows hello as soon as the controller made it. */
	for (size_t i = 0; i < nslots; i++) {
		ledger_worker_started(lp->ledger, i, &f->w[i].out, begin);
		controller_worker_started(lp->ctl, i);
		controller_worker_admitted(lp->ctl, i, &f->w[i].out);
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

/* News from the databases' threads: each worker whose clone now exists
 * is admitted (its tests may start, never before); a failure stops the
 * loop (the run takes it from fleet_prep_end). */
static void
service_prep(struct loop *lp)
{
	struct fleet *f = lp->fleet;
	bool *admit = xcalloc(f->nw ? f->nw : 1, sizeof(*admit));
	int rc = fleet_prep_take(f, admit);

	for (size_t i = 0; i < f->nw; i++)
		if (admit[i])
			ledger_admit(lp->ledger, i);
	free(admit);
	if (rc < 0) {
		lp->prep_failed = true;
	} else if (rc == 1 && !lp->prep_done) {
		const struct provision *prov = fleet_first(f)->prov;

		lp->prep_done = true;
		if (f->cfg->verbose > 0)
			term_line(lp->term, "start-up: database ready %.2fs, template %.2fs%s, clones %.2fs",
				  prov->connect_seconds, prov->template_seconds, prov->migrated ? " (migrated)" : "",
				  prov->clone_seconds);
	}
}

/* Why worker w's stream ended, from its engine: how its container ended,
 * or that the engine is gone. *lost: the engine was found lost now. */
static char *
why_ended(struct loop *lp, struct worker *w, bool *lost)
{
	struct fleet *f = lp->fleet;
	struct engine *en = fleet_engine(f, w->index);
	struct docker_container_state st = { 0 };
	struct error *e = NULL;
	char *why;

	*lost = false;
	if (en->lost)
		return xasprintf("its engine %s was lost", docker_host(en->dk));
	if (docker_container_inspect(en->dk, w->container, NULL, &st, &e) < 0) {
		if (!engines_check(f->es, f->at[w->index])) {
			*lost = true;
			why = xasprintf("its engine %s was lost", docker_host(en->dk));
		} else {
			why = xasprintf("container gone (%s)", e->msg);
		}
		error_free(e);
	} else if (w->unanswering) {
		why = xasprintf("the agent stopped answering for more than --timeout + %d s; its container was killed",
				LOOP_WATCHDOG_GRACE_MS / 1000);
	} else if (st.oom_killed) {
		why = xstrdup("OOM killed");
	} else {
		why = xasprintf("container %s with exit code %d", st.status, st.exit_code);
	}
	return why;
}

/* The stream ended without the agent saying exit: the container died
 * (killed from outside, OOM, the agent crashed) or its engine is gone.
 * The engine says how. */
static void
handle_eof(struct loop *lp, struct worker *w)
{
	bool lost;
	cleanup_free char *why = NULL;
	struct loop_seen seen;

	if (lp->ledger->w[w->index].state == LEDGER_EXITED)
		return;
	why = why_ended(lp, w, &lost);
	seen = loop_seen(lp, w->index);
	ledger_worker_gone(lp->ledger, w->index, why, w->errtail.len ? w->errtail.data : NULL, util_now_ms());
	if (!seen.done)
		loop_controller_crash(lp, w, why, &seen);
	if (lost)
		loop_engine_lost(lp, lp->fleet->at[w->index]);
}

void
loop_engine_lost(struct loop *lp, size_t e)
{
	struct fleet *f = lp->fleet;

	term_line(lp->term, "xdock: engine %s lost: its workers go on the other engines",
		  docker_host(f->es->e[e].dk));
	for (size_t i = 0; i < f->nw; i++) {
		if (f->at[i] != e || !f->w[i].attach)
			continue;
		handle_eof(lp, &f->w[i]);
		worker_detach(&f->w[i]);
	}
}

/* One worker message past the ledger, then to the controller. */
static int
to_ledger(struct loop *lp, struct worker *w, struct msg *m)
{
	struct loop_seen seen = loop_seen(lp, w->index);
	int rc = ledger_handle(lp->ledger, w->index, m, util_now_ms());

	if (rc < 0) {
		loop_controller_crash(lp, w, "it broke the protocol", &seen);
		return rc;
	}
	/* The agent's hello came over the channel it chose. */
	if (m->kind == MSG_HELLO)
		lp->fleet->rep->workers[w->index].channel = w->chan_open ? "local" : "attach";
	loop_controller_tell(lp, w, m, &seen);
	return 0;
}

void
loop_kill(struct loop *lp, struct worker *w)
{
	struct engine *en = fleet_engine(lp->fleet, w->index);
	struct error *e = NULL;

	if (en->lost)
		return;
	if (docker_container_kill(en->dk, w->container, "KILL", &e) < 0) {
		error_free(e);
		e = NULL;
		docker_container_remove(en->dk, w->container, true, &e);
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
	loop_kill(lp, w);
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

		rc = to_ledger(lp, w, &m);
		msg_release(&m);
		/* A collection is one line of every node id, parsed: megabytes
		 * that are garbage a moment later, in the middle of the heap
		 * where free() cannot give them back. */
		if (big)
			malloc_trim(0);
		if (rc < 0) {
			loop_kill(lp, w);
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

void
loop_read_held(struct loop *lp)
{
	struct worker *c = &lp->fleet->ctl;

	for (size_t i = 0; i < lp->fleet->nw; i++) {
		struct worker *w = &lp->fleet->w[i];

		if ((w->fresh || w->more) && w->attach) {
			w->fresh = false;
			service_worker(lp, w, POLLIN);
		}
	}
	if ((c->fresh || c->more) && c->attach) {
		c->fresh = false;
		loop_controller_service(lp, POLLIN);
	}
}

void
loop_run(struct loop *lp)
{
	struct fleet *f = lp->fleet;
	size_t cap = (f->nw + 1) * WORKER_POLLFDS + 2;
	struct pollfd *pfd = xcalloc(cap, sizeof(*pfd));
	size_t *who = xcalloc(cap, sizeof(*who));

	while (!all_exited(lp) && !lp->ledger->fatal && !lp->ledger->interrupted && !lp->prep_failed) {
		size_t n = 0, ctl_at = 0, ctl_n = 0, prep_at = 0;
		int rc, timeout = 1000;

		loop_read_held(lp);
		loop_controller_check(lp);
		if (lp->ledger->fatal)
			break;
		pfd[n++] = (struct pollfd){ .fd = lp->sigfd, .events = POLLIN };
		ctl_n = loop_controller_poll(lp, &pfd[n], &timeout);
		if (ctl_n) {
			ctl_at = n;
			n += ctl_n;
		}
		if (fleet_prep_fd(f) >= 0) {
			pfd[n] = (struct pollfd){ .fd = fleet_prep_fd(f), .events = POLLIN };
			prep_at = n++;
		}
		for (size_t i = 0; i < f->nw; i++) {
			size_t k = worker_pollfds(&f->w[i], f->w[i].out.len > 0, &pfd[n]);

			for (size_t j = 0; j < k; j++)
				who[n++] = i;
		}
		rc = poll(pfd, n, timeout);
		if (rc < 0 && errno != EINTR) {
			ledger_fail(lp->ledger, EXIT_INTERNAL, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents && loop_signalled(lp))
			break;
		for (size_t k = 1; k < n; k++) {
			bool ctl = ctl_n && k >= ctl_at && k < ctl_at + ctl_n;

			/* A worker whose engine was found lost while another was
			 * served is detached already; so is one whose other
			 * descriptor ended it this round. */
			if (!pfd[k].revents || (ctl && !f->ctl.attach) ||
			    (!ctl && k != prep_at && !f->w[who[k]].attach))
				continue;
			if (k == prep_at)
				service_prep(lp);
			else if (ctl)
				loop_controller_service(lp, pfd[k].revents);
			else
				service_worker(lp, &f->w[who[k]], pfd[k].revents);
		}
		loop_watchdog(lp);
		loop_heal(lp);
	}
	loop_controller_drain_failed(lp);
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
