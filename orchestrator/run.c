#include "run.h"
#include "run_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller.h"
#include "docker.h"
#include "flaky.h"
#include "fleet.h"
#include "gc.h"
#include "history.h"
#include "imagecopy.h"
#include "lastrun.h"
#include "ledger.h"
#include "loop.h"
#include "quarantine.h"
#include "report.h"
#include "run_ctx.h"
#include "ship.h"
#include "term.h"

/* How long a teardown after a signal may take: the user pressed Ctrl-C
 * and waits; what is not gone by then is left to `xdock gc`. */
#define RUN_TEARDOWN_MS 12000


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

/* PYTEST_XDIST_AUTO_NUM_WORKERS, read as pytest-xdist's own
 * pytest_xdist_auto_num_workers reads it: a number wins over the CPU
 * count; anything else is ignored with a warning. 0 when unset. */
static int
auto_workers_from_env(void)
{
	const char *v = getenv("PYTEST_XDIST_AUTO_NUM_WORKERS");
	char *end;
	long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end || errno || n > 100000) {
		fprintf(stderr, "xdock: warning: PYTEST_XDIST_AUTO_NUM_WORKERS is not a number: '%.40s'. Ignoring it.\n", v);
		return 0;
	}
	/* xdist runs 0 (or fewer) in-process; xdock's least is one worker. */
	return n < 1 ? 1 : (int)n;
}

/* -n auto is PYTEST_XDIST_AUTO_NUM_WORKERS or the engines' CPUs, capped
 * by --maxprocesses; --dist no is one worker (a replay's plan says how
 * many). The workers are spread over the engines by their CPUs. */
static int
count_workers(struct run *r, struct error **err)
{
	struct engines *es = &r->es;
	int *ncpu = xcalloc(es->n, sizeof(*ncpu));
	size_t *per = xcalloc(es->n, sizeof(*per));

	for (size_t e = 0; e < es->n; e++)
		ncpu[e] = es->e[e].ncpu;
	r->nw = r->plan ? r->plan->n : engines_count(r->cfg, ncpu, es->n, auto_workers_from_env());
	if (r->nw > 0) {
		engines_place(ncpu, es->n, r->nw, per);
		r->at = xcalloc(r->nw, sizeof(*r->at));
		engines_assign(per, es->n, r->nw, r->at);
		for (size_t e = 0; e < es->n; e++)
			es->e[e].nworkers = per[e];
	}
	free(ncpu);
	free(per);
	if (r->nw == 0)
		return error_set(err, EXIT_USAGE, "nothing to run: an empty plan");
	return 0;
}

/* Phase 1: the run's identity, the agent, the engine, the leftovers of
 * dead runs, the worker count, --quarantine and the duration history. */
static int
prepare(struct run *r, struct error **err)
{
	const struct config *cfg = r->cfg;
	make_run_id(r->run_id, sizeof(r->run_id));
	r->owner = gc_owner_self();
	r->labels[0] = xasprintf("xdock.run=%s", r->run_id);
	r->labels[1] = xasprintf("xdock.owner=%s", r->owner);
	if (getuid() != 0)
		snprintf(r->user, sizeof(r->user), "%u:%u", (unsigned)getuid(), (unsigned)getgid());
	/* The project directory was decided with the config (rootdir.c). */
	if (cfg->project_dir)
		snprintf(r->project_dir, sizeof(r->project_dir), "%s", cfg->project_dir);
	else if (!getcwd(r->project_dir, sizeof(r->project_dir)))
		return error_set(err, EXIT_INTERNAL, "getcwd: %s", strerror(errno));
	if (find_agent(r, err) < 0)
		return -1;
	/* Each engine: leftovers of dead runs swept, images copied. */
	r->engines_on = true;
	if (engines_open(&r->es, cfg, &r->cancel, err) < 0)
		return -1;
	r->dk = r->es.e[0].dk;
	if (count_workers(r, err) < 0)
		return -1;
	{
		/* Recorded so that a replay runs the very same image even
		 * after the tag moved; a missing image fails at container
		 * create with its own message. */
		struct error *e = NULL;

		if (docker_image_id(r->dk, cfg->image, &r->image_id, &e) < 0)
			error_free(e);
	}
	if (cfg->quarantine && quarantine_load(&r->quarantine, cfg->quarantine, err) < 0)
		return -1;
	if (!cfg->no_history) {
		struct error *hw = NULL;

		r->hist = history_load(run_history_dir(r), &hw);
		if (hw) {
			term_line(&r->term, "xdock: warning: duration history ignored: %s", hw->msg);
			error_free(hw);
		}
	}
	return 0;
}

/* Phase 2: the report's frame, the ledger, the fleet and the loop. */
static int
plan(struct run *r, struct error **err)
{
	const struct config *cfg = r->cfg;
	struct run_ctx ctx = {
		.cfg = cfg,
		.dk = r->dk,
		.run_id = r->run_id,
		.project_dir = r->project_dir,
		.labels = (const char *const *)r->labels,
		.user = r->user[0] ? r->user : NULL,
	};

	if (engines_plan(&r->es, cfg, &ctx, r->nw, err) < 0)
		return -1;
	r->rep.fail_on_flaky = cfg->fail_on_flaky;
	r->rep.run_id = xstrdup(r->run_id);
	r->rep.image = xstrdup(cfg->image);
	r->rep.dist = sched_mode_name(cfg->dist);
	r->rep.nworkers = r->nw;
	r->rep.workers = xcalloc(r->nw, sizeof(*r->rep.workers));
	r->rep.seq = xcalloc(1, sizeof(*r->rep.seq));
	sequence_init(r->rep.seq, r->nw);
	r->rep.invocation = lastrun_invocation(cfg, r->nw, r->image_id);
	r->fleet_on = true;
	fleet_init(&r->fleet, cfg, r->nw, &r->es, r->at, r->agent_path, &r->rep);
	r->fleet.t0 = r->t0;
	for (size_t i = 0; i < r->nw; i++)
		snprintf(r->rep.workers[i].name, sizeof(r->rep.workers[i].name), "%s", r->fleet.w[i].name);
	ledger_init(&r->ledger, cfg, r->nw, &r->rep, &r->term, &r->quarantine, r->hist, r->t0);
	r->ledger.plan = r->plan;
	controller_init(&r->ctl, &r->fleet.ctl, r->nw);
	loop_init(&r->loop, &r->fleet, &r->ledger, &r->term, &r->ctl, r->sigfd,
		  cfg->max_worker_restart >= 0 ? cfg->max_worker_restart : 4 * (int)r->nw);
	/* stdout is pytest's, as under xdist: the controller's output. xdock's
	 * start-up line is for -v. */
	term_hand_over(&r->term, stderr);
	if (cfg->verbose > 0)
		term_line(&r->term, "xdock %s: %zu worker%s, image %s, dist %s, database %s, run %s", XDOCK_VERSION, r->nw,
		  r->nw == 1 ? "" : "s", cfg->image, sched_mode_name(cfg->dist),
		  cfg->db == CLI_DB_NONE ? "none" : cfg->db == CLI_DB_URL ? "given (--db-url)" : "embedded postgres",
		  r->run_id);
	for (size_t e = 0; cfg->verbose > 0 && r->es.n > 1 && e < r->es.n; e++)
		term_line(&r->term, "xdock: engine %zu %s: %d CPUs, %zu worker%s", e, engines_name(&r->es, e),
			  r->es.e[e].ncpu, r->es.e[e].nworkers, r->es.e[e].nworkers == 1 ? "" : "s");
	return 0;
}

static double
seconds_since(int64_t t)
{
	return (double)(util_now_ms() - t) / 1000.0;
}

/* Every engine that cannot see this disk and runs workers gets the
 * project and the agent, one after the other; the phase is their sum. */
static int
ship(struct run *r, struct error **err)
{
	cleanup_free char *cache = xasprintf("%s/.pytest_cache", run_history_dir(r));
	double seconds = 0;
	bool any = false;

	for (size_t e = 0; e < r->es.n; e++) {
		struct engine *en = &r->es.e[e];

		if (!en->shipping || (en->nworkers == 0 && e > 0))
			continue;
		if (ship_upload(&en->ship, &en->ctx, r->cfg->image, r->agent_path, cache, err) < 0)
			return -1;
		any = true;
		seconds += en->ship.seconds;
		term_line(&r->term, "xdock: shipped %zu files (%.1f MB) to %s in %.2fs", en->ship.files,
			  (double)en->ship.bytes / 1e6, docker_host(en->dk), en->ship.seconds);
	}
	if (any)
		report_phase(&r->rep, "ship", seconds);
	return 0;
}

static double
span_s(int64_t ms)
{
	return (double)ms / 1000.0;
}

/* The start-up phases as they ran: the containers' from the main thread,
 * the databases' from their threads (they overlap the containers' and
 * the workers' collection). */
static void
record_phases(struct run *r)
{
	struct provision *prov = r->es.e[0].prov;
	struct report_span sp[FLEET_PREP_SPANS];
	const char *names[FLEET_PREP_SPANS] = { "db_launch", "db_connect", "db_template", "db_clones" };
	double seconds[FLEET_PREP_SPANS];

	if (!r->fleet.prep)
		return;
	fleet_prep_spans(&r->fleet, sp);
	seconds[FLEET_PREP_LAUNCH] = span_s(sp[FLEET_PREP_LAUNCH].end_ms - sp[FLEET_PREP_LAUNCH].start_ms);
	seconds[FLEET_PREP_CONNECT] = prov->connect_seconds;
	seconds[FLEET_PREP_TEMPLATE] = prov->template_seconds;
	seconds[FLEET_PREP_CLONES] = prov->clone_seconds;
	for (size_t k = 0; k < FLEET_PREP_SPANS; k++)
		report_phase_at(&r->rep, names[k], seconds[k], span_s(sp[k].start_ms),
				span_s(sp[k].end_ms > sp[k].start_ms ? sp[k].end_ms : sp[k].start_ms));
}

/* Phase 3: network; the databases begun on threads of their own (server,
 * template, then a clone per worker once the containers are up); the
 * containers, each told hello as it runs. The loop admits each worker as
 * its clone exists. */
static int
start(struct run *r, struct error **err)
{
	int64_t lap;

	report_phase(&r->rep, "engine", seconds_since(r->t0));
	if (ship(r, err) < 0)
		return -1;
	lap = util_now_ms();
	if (fleet_network(&r->fleet, err) < 0)
		return -1;
	report_phase(&r->rep, "network", seconds_since(lap));
	/* First, so that the server initialises and the template migrates
	 * while the containers start and the workers import. */
	if (fleet_prep_begin(&r->fleet, r->nw, err) < 0)
		return -1;
	lap = util_now_ms();
	if (loop_start(&r->loop, r->nw, true, err) < 0)
		return -1;
	report_phase_at(&r->rep, "containers_start", seconds_since(lap), span_s(lap - r->t0), seconds_since(r->t0));
	if (!r->fleet.prep && loop_admit(&r->loop, r->nw, err) < 0)
		return -1;
	if (r->cfg->verbose > 0)
		term_line(&r->term, "start-up: %zu containers %.2fs", r->nw + 1 + r->es.e[0].prov->nservers,
			  seconds_since(lap));
	return 0;
}

/* Phase 4: the tests, then up to --reruns rounds of the failed ones, the
 * flaky ones replayed (--reruns-replay), then the controller's end of
 * session (pytest's summary and reports). -1 with *err when the
 * databases could not be made: the run fails as a start-up that failed. */
static int
run_tests(struct run *r, struct error **err)
{
	struct ledger *l = &r->ledger;
	struct error *fe = NULL;
	int rc;

	loop_run(&r->loop);
	/* The databases' threads end here, whatever ended the loop; one
	 * still at work is stopped (nothing runs that needs it). */
	rc = fleet_prep_end(&r->fleet, err);
	record_phases(r);
	if (rc < 0)
		return -1;
	for (int round = 1; l->nreruns > 0 && !l->fatal && !l->interrupted && round <= r->cfg->reruns; round++) {
		struct error *e = NULL;

		if (loop_rerun_round(&r->loop, round, &e) < 0) {
			ledger_fail(l, e->status ? e->status : EXIT_INTERNAL, "%s", e->msg);
			error_free(e);
			break;
		}
		loop_run(&r->loop);
	}
	if (l->fatal || l->interrupted)
		return 0;
	/* Before the controller's end of session, which writes --junitxml:
	 * the flaky tests' kinds go into it (flaky_to_controller). */
	if (r->cfg->reruns_replay)
		flaky_classify(r->cfg, &r->rep);
	flaky_to_controller(&r->rep, &r->ctl);
	if (loop_finish(&r->loop, &fe) < 0) {
		if (fe->status == EXIT_INTERRUPTED)
			ledger_interrupt(l);
		else
			ledger_fail(l, fe->status, "%s", fe->msg);
		error_free(fe);
	}
	return 0;
}

/* Failures xdock forgives and pytest does not know to: a quarantined
 * test's, a flaky test's first tries. */
static bool
forgiven_failures(const struct report *rep)
{
	for (size_t i = 0; i < rep->ntests; i++)
		if (rep->tests[i].flaky || rep->tests[i].quarantined)
			return true;
	return false;
}

/* Phase 5: outcomes settled, history saved, results shown and written
 * (before teardown: a slow teardown must not hide them). Returns the exit
 * code, or -1 with *err set when the run failed. */
static int
finish(struct run *r, struct error **err)
{
	struct ledger *l = &r->ledger;
	int code = -1;

	if (r->es.e[0].shipping && r->fleet.ctl.container && !r->es.e[0].lost)
		run_fetch_results(r);
	ledger_finish(l, util_now_ms());
	if (!r->plan)
		run_save_history(r);
	if (l->fatal) {
		*err = steal_ptr(&l->fatal);
		r->rep.exit_code = (*err)->status;
	} else {
		/* -x/--maxfail ends pytest-xdist's session with Interrupted:
		 * exit 2, as here. */
		r->rep.exit_code = l->interrupted || l->maxfail_hit ? EXIT_INTERRUPTED : report_exit_code(&r->rep);
		/* A plugin in the controller may fail a run whose tests passed
		 * (pytest-cov's --cov-fail-under): pytest's verdict then. */
		if (r->rep.exit_code == EXIT_OK && r->ctl.exited && r->ctl.exit_status == EXIT_TESTS_FAILED &&
		    !forgiven_failures(&r->rep))
			r->rep.exit_code = EXIT_TESTS_FAILED;
		/* --fixtures, --markers, --version, --cache-show: pytest
		 * answers without a session, exit 0; no tests is no failure. */
		if (r->rep.exit_code == EXIT_NO_TESTS && r->ctl.exited && r->ctl.exit_status == EXIT_OK)
			r->rep.exit_code = EXIT_OK;
		code = r->rep.exit_code;
	}
	/* The controller did not get to its summary (interrupted, a fatal
	 * error): xdock's own, so what did run is not lost. */
	if (!r->ctl.done && r->term.handed_over) {
		r->term.handed_over = false;
		r->term.out = stdout;
	}
	if (l->have_collection)
		term_finish(&r->term, &r->rep);
	if (run_write_reports(r) < 0 && code == EXIT_OK)
		code = EXIT_INTERNAL;
	run_write_records(r);
	return code;
}

/* How many signals have been heard by now, in any phase: the loop's, one
 * that stopped a start-up call, those still pending. Reads the signalfd
 * empty. */
static int
heard_signals(struct run *r, const struct error *err)
{
	int n = r->sigfd >= 0 ? loop_signals_take(r->sigfd) : 0;

	if (r->fleet_on)
		n += r->loop.signals;
	/* A call stopped by a signal left it pending: counted above. */
	if (n == 0 && ((r->fleet_on && r->ledger.interrupted) || (err && err->status == EXIT_INTERRUPTED)))
		n = 1;
	if (n > 0)
		r->interrupted = true;
	return n;
}

/* Phase 6, on every path: everything the run created goes. After a
 * signal the teardown has RUN_TEARDOWN_MS; a signal during the teardown
 * gives it that long from then; one more ends it at once, and says what
 * is left for `xdock gc`. */
static void
teardown(struct run *r, const struct error *err)
{
	int heard = heard_signals(r, err);
	bool cut;

	if (!r->dk)
		return;
	/* The databases' threads first: nothing goes while they make it. */
	if (r->fleet_on)
		fleet_prep_end(&r->fleet, NULL);
	r->cancel.grace_ms = RUN_TEARDOWN_MS;
	if (heard > 1) {
		/* Two already: no teardown at all. */
		r->cancel.pass = 1;
		r->cancel.seen = heard;
	} else if (heard == 1) {
		/* The first signal is spent; the next stops every call. */
		r->cancel.pass = 0;
		r->cancel.deadline_ms = util_now_ms() + RUN_TEARDOWN_MS;
		if (!(r->fleet_on && r->ledger.interrupted))
			term_line(&r->term, "\nxdock: interrupted: cleaning up");
	} else {
		r->cancel.pass = 1;
	}
	if (r->fleet_on)
		fleet_teardown(&r->fleet);
	for (size_t e = 0; e < r->es.n; e++)
		if (!r->es.e[e].lost)
			ship_remove(&r->es.e[e].ship, r->es.e[e].dk);
	engines_say_left(&r->es, r->run_id);
	cut = docker_cancelled(r->dk);
	if (r->cancel.seen > 0)
		r->interrupted = true;
	if (cut)
		fprintf(stderr,
			"xdock: cleanup %s: what is left of run %s (containers and networks labelled xdock.run=%s) "
			"goes with `xdock gc`\n",
			r->cancel.deadline_ms && util_now_ms() >= r->cancel.deadline_ms ? "ran out of time"
											: "stopped by a second signal",
			r->run_id, r->run_id);
}

/* What the run holds is freed. */
static void
cleanup(struct run *r, struct report *out)
{
	if (r->fleet_on) {
		fleet_release(&r->fleet);
		ledger_release(&r->ledger);
		controller_release(&r->ctl);
	}
	if (out)
		*out = r->rep;
	else
		report_release(&r->rep);
	free(r->image_id);
	if (r->engines_on)
		engines_close(&r->es);
	free(r->at);
	quarantine_release(&r->quarantine);
	history_free(r->hist);
	free(r->owner);
	free(r->labels[0]);
	free(r->labels[1]);
	if (r->sigfd >= 0)
		close(r->sigfd);
}

int
run_command(const struct config *cfg, struct error **err)
{
	return run_execute(cfg, NULL, NULL, err);
}

int
run_execute(const struct config *cfg, const struct sequence_plan *seqs, struct report *out, struct error **err)
{
	struct run run = { .cfg = cfg, .sigfd = -1, .cancel = { .fd = -1 }, .plan = seqs };
	struct run *r = &run;
	int code = -1;

	r->t0 = util_now_ms();
	r->rep.started_unix = (int64_t)time(NULL);
	term_init(&r->term, stdout, cfg->verbose);
	if ((r->sigfd = loop_signals_open(err)) < 0)
		return -1;
	r->cancel.fd = r->sigfd;
	if (prepare(r, err) == 0 && plan(r, err) == 0 && start(r, err) == 0) {
		if (run_tests(r, err) == 0)
			code = finish(r, err);
	}
	teardown(r, *err);
	/* A signal in any phase, teardown included, is pytest's exit 2. */
	if (r->interrupted && !*err && code != EXIT_INTERRUPTED) {
		fprintf(stderr, "xdock: interrupted\n");
		code = EXIT_INTERRUPTED;
	}
	cleanup(r, out);
	return code;
}
