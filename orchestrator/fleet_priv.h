/* Shared by the parts of the fleet: fleet.c (worker slots, start,
 * replacement, teardown), fleet_pool.c (the bounded pool of threads that
 * runs start and removal jobs on every engine), fleet_controller.c
 * (the controller's command, environment and container) and
 * fleet_prep.c (the first start's databases on threads of their own).
 * No other file includes it. */
#ifndef XDOCK_FLEET_PRIV_H
#define XDOCK_FLEET_PRIV_H

#include "fleet.h"

/* The controller's agent argv (f->ctl_cmd), from the config. */
void fleet_controller_cmd(struct fleet *f);
/* Its container's setup: the first engine's workers' with its own command. */
void fleet_controller_setup(struct fleet *f);
/* Creates, attaches and starts it with dk (the calling thread's client). */
int fleet_controller_start(struct fleet *f, struct docker *dk, struct error **err);
/* worker_start with the worker's placeholders expanded (fleet.c). */
int fleet_start_worker(struct fleet *f, struct docker *dk, struct worker *w, const char *const *db_env,
		       struct error **err);

/* One piece of work for the pool. */
enum job_kind {
	JOB_START_WORKER,
	JOB_START_CONTROLLER,
	JOB_LAUNCH_DB_SERVER,   /* --db-scope server: a worker's own */
	JOB_REMOVE,
	JOB_DB_SERVER_TEARDOWN, /* --db-scope server: a worker's own */
	JOB_DB_TEARDOWN,
};

struct job {
	enum job_kind kind;
	size_t engine;          /* where it runs */
	size_t worker;          /* JOB_START_WORKER, JOB_*_DB_SERVER* */
	const char *id;         /* JOB_REMOVE: container id */
	int rc;
	struct error *err;
};

/* Runs every job on a bounded pool of threads, each with its own client
 * to every engine. */
void fleet_pool_run(struct fleet *f, struct job *jobs, size_t njobs);
/* The controller's start has ended (fleet_pool.c, on the thread that
 * started it): id its container, running; NULL: it did not start. */
void fleet_prep_controller(struct fleet *f, const char *id);

#endif
