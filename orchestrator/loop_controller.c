/* The controller's channel as the event loop serves it: the workerinput it
 * sends relayed to the workers' queues, the workers' events and each
 * test's fate told to it, its batched writes, its failure and the end of
 * its stream, and its session's end once the tests are over. */
#include "loop_priv.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

/* A controller that fails before the workers collected most likely met
 * what stops the workers too (a bad option, a plugin that does not
 * import): their error is the one to show, so it gets a moment to come. */
#define LOOP_CONTROLLER_GRACE_MS 10000

/* pytest-cov combines, junitxml writes: give it time, not forever. */
#define LOOP_CONTROLLER_END_MS (600 * 1000)

/* The node id of collection index i, "" when unknown. */
static const char *
node_id(const struct loop *lp, long i)
{
	const struct report *rep = lp->ledger->rep;

	return i >= 0 && (size_t)i < rep->ntests && rep->tests[i].id ? rep->tests[i].id : "";
}

struct loop_seen
loop_seen(const struct loop *lp, size_t wi)
{
	const struct ledger_worker *lw = &lp->ledger->w[wi];

	return (struct loop_seen){ .current = lw->current, .nreruns = lp->ledger->nreruns, .done = lw->done };
}

void
loop_controller_crash(struct loop *lp, const struct worker *w, const char *why, const struct loop_seen *before)
{
	controller_crash(lp->ctl, w->index, w->name, node_id(lp, before->current), why,
			 lp->ledger->nreruns > before->nreruns);
}

/* Events go to the controller (a running test's are held until its
 * result says whether it runs again); results and crashes release them. */
void
loop_controller_tell(struct loop *lp, const struct worker *w, const struct msg *m, const struct loop_seen *before)
{
	if (m->kind == MSG_EVENT)
		controller_event(lp->ctl, w->index, w->name, m->text, before->current >= 0);
	else if (m->kind == MSG_RESULT)
		controller_settle(lp->ctl, w->index, w->name, node_id(lp, m->index),
				  lp->ledger->nreruns > before->nreruns);
	else if (m->kind == MSG_CRASH || (m->kind == MSG_EXIT && !before->done))
		loop_controller_crash(lp, w, m->text ? m->text : "the test runner exited", before);
}

void
loop_controller_service(struct loop *lp, short revents)
{
	struct worker *c = &lp->fleet->ctl;
	struct error *e = NULL;
	bool eof = false;
	struct msg m;
	int rc, later = 0;

	if (revents & POLLOUT && worker_flush(c, &e) < 0) {
		error_free(e);
		e = NULL;
		eof = true;
	}
	if (!eof && revents & (POLLIN | POLLHUP | POLLERR) && worker_read(c, &eof, &e) < 0) {
		controller_gone(lp->ctl, e->msg);
		error_free(e);
		e = NULL;
		eof = true;
	}
	while ((rc = worker_next_msg(c, &m, &e)) == 1) {
		controller_handle(lp->ctl, &m, lp->fleet->w);
		msg_release(&m);
	}
	if (rc < 0) {
		controller_gone(lp->ctl, e->msg);
		error_free(e);
		eof = true;
	}
	if (eof) {
		cleanup_free char *why = NULL;

		if (lp->ctl->exited)
			why = xasprintf("its pytest exited with status %d%s%s", lp->ctl->exit_status,
					c->errtail.len ? ": " : "", c->errtail.len ? c->errtail.data : "");
		else
			why = xstrdup("its container stopped");
		controller_gone(lp->ctl, why);
		worker_detach(c);
	}
	/* Workerinput may have been queued to workers. */
	for (size_t i = 0; i < lp->fleet->nw; i++) {
		struct worker *w = &lp->fleet->w[i];

		if (w->attach && w->out.len > 0 && worker_flush(w, &e) < 0) {
			error_free(e);
			e = NULL;
		}
	}
	if (c->attach && controller_send_due(lp->ctl, util_now_ms(), &later) && worker_flush(c, &e) < 0)
		error_free(e);
}

size_t
loop_controller_poll(struct loop *lp, struct pollfd *p, int *timeout)
{
	struct worker *c = &lp->fleet->ctl;

	if (!c->attach)
		return 0;
	return worker_pollfds(c, controller_send_due(lp->ctl, util_now_ms(), timeout), p);
}

void
loop_controller_check(struct loop *lp)
{
	int64_t now = util_now_ms();

	if (!lp->ctl->failure || lp->ledger->fatal)
		return;
	if (!lp->ctl_failed_ms)
		lp->ctl_failed_ms = now;
	if (!lp->ledger->have_collection && now - lp->ctl_failed_ms < LOOP_CONTROLLER_GRACE_MS)
		return;
	ledger_fail(lp->ledger, lp->ctl->exited && lp->ctl->exit_status == EXIT_USAGE ? EXIT_USAGE : EXIT_INTERNAL,
		    "controller: %s", lp->ctl->failure);
}

/* A worker's pytest that ended before its collection (a bad option, a
 * plugin that does not import) ends the controller's the same way: it
 * says so in pytest's words on stderr, as pytest-xdist's controller does,
 * and exits. Its words get the same moment as the other way round, so
 * what the user reads does not depend on which of the two came first. */
void
loop_controller_drain_failed(struct loop *lp)
{
	struct worker *c = &lp->fleet->ctl;
	int64_t deadline = util_now_ms() + LOOP_CONTROLLER_GRACE_MS;

	if (!lp->ledger->fatal || !lp->ledger->early_exit || lp->ledger->have_collection)
		return;
	while (c->attach && !lp->ctl->exited && util_now_ms() < deadline) {
		struct pollfd p[1 + WORKER_POLLFDS] = { { .fd = lp->sigfd, .events = POLLIN } };
		int timeout = 200;
		size_t n;

		loop_read_held(lp);
		n = loop_controller_poll(lp, &p[1], &timeout);
		if (!n)
			break;
		if (poll(p, 1 + n, timeout) < 0 && errno != EINTR)
			break;
		/* A signal is left for the teardown to hear. */
		if (p[0].revents)
			break;
		for (size_t k = 1; k <= n && c->attach; k++)
			if (p[k].revents)
				loop_controller_service(lp, p[k].revents);
	}
}

int
loop_finish(struct loop *lp, struct error **err)
{
	struct worker *c = &lp->fleet->ctl;
	int64_t deadline = util_now_ms() + LOOP_CONTROLLER_END_MS;

	controller_bye(lp->ctl);
	while (c->attach && !lp->ctl->failure && util_now_ms() < deadline) {
		struct pollfd p[1 + WORKER_POLLFDS] = { { .fd = lp->sigfd, .events = POLLIN } };
		int rc, timeout = 1000;
		size_t n;

		loop_read_held(lp);
		n = loop_controller_poll(lp, &p[1], &timeout);
		if (!n)
			break;
		rc = poll(p, 1 + n, timeout);
		if (rc < 0 && errno != EINTR)
			return error_set(err, EXIT_INTERNAL, "poll: %s", strerror(errno));
		if (p[0].revents && loop_signalled(lp))
			return error_set(err, EXIT_INTERRUPTED, "interrupted while the controller wrote its reports");
		for (size_t k = 1; k <= n && c->attach; k++)
			if (p[k].revents)
				loop_controller_service(lp, p[k].revents);
	}
	if (lp->ctl->failure)
		return error_set(err, EXIT_INTERNAL, "controller: %s", lp->ctl->failure);
	if (c->attach)
		return error_set(err, EXIT_INTERNAL, "controller: did not finish within %d s", LOOP_CONTROLLER_END_MS / 1000);
	/* 0-2 and 5 are pytest's verdicts on the tests; xdock has its own. */
	if (!lp->ctl->exited || lp->ctl->exit_status == 3 || lp->ctl->exit_status == 4 || lp->ctl->exit_status > 5)
		return error_set(err, lp->ctl->exit_status == 4 ? EXIT_USAGE : EXIT_INTERNAL,
				 "controller: its pytest exited with status %d", lp->ctl->exit_status);
	return 0;
}
