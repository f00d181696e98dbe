/* The run's containers: the worker slots, the databases they use
 * (provision) and the run network. Starts and removes containers on one
 * bounded pool of threads, each with its own Docker client, and tears
 * everything down on every path. Knows nothing of the protocol. */
#ifndef XDOCK_FLEET_H
#define XDOCK_FLEET_H

#include <stdbool.h>
#include <stddef.h>

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
 * with with_db, the first start of a run, the embedded database and the
 * controller) in parallel. The first failure is
 * returned; everything that did start is recorded so teardown removes it. */
int fleet_start(struct fleet *f, size_t nslots, bool with_db, struct error **err);
/* Waits for each engine's database server and builds its template
 * (--db-setup on every engine at once; once on a --db-url server). */
int fleet_databases(struct fleet *f, struct error **err);
/* Sends slot i's hello: its agent starts pytest, which imports and
 * collects while the databases are still being made. */
void fleet_greet(struct fleet *f, size_t i);
/* Clones slot i's database: its tests may start. */
int fleet_admit(struct fleet *f, size_t i, struct error **err);
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
