/* What every container of one run is labelled with and attached to: the
 * values the fleet (workers) and the databases (provision) both need to
 * create containers for the run. Header only. */
#ifndef XDOCK_RUN_CTX_H
#define XDOCK_RUN_CTX_H

#include "cli.h"
#include "docker.h"

struct run_ctx {
	const struct config *cfg;   /* as parsed; never changed */
	struct docker *dk;          /* the calling thread's client */
	const char *run_id;
	const char *network;        /* run network name, NULL without one */
	const char *project_dir;    /* absolute; bind-mounted at the same path */
	/* Shipped (ship.h): volumes that stand in for the bind mounts of
	 * the project and the agent; NULL: bind mounts. */
	const char *project_volume;
	const char *agent_volume;
	const char *const *labels;  /* NULL-terminated "k=v" */
	const char *user;           /* "uid:gid" or NULL */
};

#endif
