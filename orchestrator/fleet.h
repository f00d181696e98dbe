/* The run's containers: the worker slots, the databases they use
 * (provision) and the run network. Starts and removes containers on one
 * bounded pool of threads, each with its own Docker client, and tears
 * everything down on every path. Knows nothing of the protocol. */
#ifndef XDOCK_FLEET_H
#define XDOCK_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "chan.h"
#include "cli.h"
#include "docker.h"
#include "engines.h"
#include "error.h"
#include "provision.h"
#include "report.h"
#include "run_ctx.h"
#include "worker.h"

struct fleet {
	const struct config *cfg;
	struct docker *dk;          /* the first engine's client (the controller's); not owned */
	struct engines *es;         /* not owned */
	size_t *at;                 /* slot i runs on engine at[i] */
	const char *run_id;         /* the run's label value */
	struct worker *w;
	size_t nw;
	struct worker ctl;          /* the controller's container (controller.h), on the first engine */
	struct worker_setup ctl_setup;
	const char **ctl_cmd;       /* its agent argv */
	char **ctl_args;            /* what that argv owns */
	size_t nctl_args;
	char *ctl_dir;              /* --junitxml's directory, outside the project */
	struct report *rep;         /* container ids and databases are recorded here; not owned */
	const char **cmd;           /* the agent's argv after its name */
	char timeout_arg[32];
	char **env;                 /* the user's --env, resolved */
	size_t nenv;
	int64_t t0;                 /* the run's start (util_now_ms), for the spans */
	struct fleet_prep *prep;    /* the first start's databases (fleet_prep.c); NULL: none */
	struct chan_dir chan;       /* the local channels' sockets; no path: none */
};

/* nw worker slots, slot i on engine at[i] (copied); es's contexts
 * (engines_plan) and agent_path outlive the fleet. */
void fleet_init(struct fleet *f, const struct config *cfg, size_t nw, struct engines *es, const size_t *at,
		const char *agent_path, struct report *rep);
void fleet_release(struct fleet *f);
/* Slot i's engine, and the first engine's (the controller's). */
struct engine *fleet_engine(const struct fleet *f, size_t i);
struct engine *fleet_first(const struct fleet *f);

/* The run network on every engine that runs workers, when the run has a
 * database. */
int fleet_network(struct fleet *f, struct error **err);
/* Creates, attaches and starts the first nslots worker containers (and
 * with with_db, the first start of a run, the controller and each
 * --db-scope server's own) in parallel; each gets its hello as soon as it
 * runs, so its pytest imports while the others start. The first failure
 * is returned; everything that did start is recorded so teardown removes
 * it. */
int fleet_start(struct fleet *f, size_t nslots, bool with_db, struct error **err);
/* Clones slot i's database: its tests may start (a rerun round's slots;
 * the first start's clones are fleet_prep's). */
int fleet_admit(struct fleet *f, size_t i, struct error **err);

/* The first start's databases on threads of their own (fleet_prep.c):
 * begun before the containers start, each server is launched, answers
 * and gets its template; the clones of the nslots first slots follow
 * fleet_prep_started. Nothing to do with --db none (no prep at all). */
int fleet_prep_begin(struct fleet *f, size_t nslots, struct error **err);
/* The containers are up: slot engines and database names are settled. */
void fleet_prep_started(struct fleet *f);
/* Readable when a clone was made or a server's thread ended; -1: none. */
int fleet_prep_fd(const struct fleet *f);
/* Sets admit[i] for each slot whose clone was made since the last call
 * (admit has a place per slot of the start). 1: all done, 0: still
 * going, -1: failed (fleet_prep_end gives the error). */
int fleet_prep_take(struct fleet *f, bool *admit);
/* Whether a thread still works on a server (a replacement's clone waits:
 * the server's connection is the thread's). */
bool fleet_prep_busy(const struct fleet *f);
/* When each step ran, in ms since t0: launch, connect, template, clones
 * (each the union over the servers; zero when it did not run). */
enum { FLEET_PREP_LAUNCH, FLEET_PREP_CONNECT, FLEET_PREP_TEMPLATE, FLEET_PREP_CLONES, FLEET_PREP_SPANS };
void fleet_prep_spans(const struct fleet *f, struct report_span *out);
/* Stops what still runs (its failures no longer count) and waits for the
 * threads; -1 with *err when a failure came before and nobody took it.
 * Idempotent; err may be NULL. */
int fleet_prep_end(struct fleet *f, struct error **err);
/* fleet_prep_end, then frees it (fleet_release does). */
void fleet_prep_free(struct fleet *f);
/* Replaces slot i with a fresh container and a fresh clone, hello queued:
 * on its engine, or on the live engine with the fewest workers when its
 * own is lost. */
int fleet_replace(struct fleet *f, size_t i, struct error **err);
/* Removes every worker container and empties the slots (a rerun round). */
void fleet_clear(struct fleet *f);
/* Everything the run created goes, on every engine not lost. Failures are
 * printed, not returned: the run's own outcome stands. */
void fleet_teardown(struct fleet *f);

#endif
