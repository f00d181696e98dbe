/* The project and the agent, shipped to an engine that cannot bind-mount
 * them (a remote one, or any with --ship): two volumes of the run filled
 * once through a container that never starts (one tar stream, PUT
 * archive), then mounted by every container of the run where the bind
 * mounts would be. What pytest leaves for the next run comes back at the
 * end (ship_fetch). */
#ifndef XDOCK_SHIP_H
#define XDOCK_SHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "run_ctx.h"

struct ship {
	char *project_volume;   /* mounted at the project's own path */
	char *agent_volume;     /* mounted at /xdock, read-only */
	size_t files;
	uint64_t bytes;         /* of the tar stream */
	double seconds;
	bool created;           /* volumes exist (ship_remove's to remove) */
};

/* The volumes' names (the run's id in them); nothing is created yet. */
void ship_init(struct ship *s, const char *run_id);
/* Creates the volumes and fills them with the project's files
 * (ship_list.h; cache_dir: pytest's cache, may be NULL) and the agent. */
int ship_upload(struct ship *s, const struct run_ctx *ctx, const char *image, const char *agent_path,
		const char *cache_dir, struct error **err);
/* What the run's pytest wrote that the user reads: `paths` (absolute,
 * NULL-terminated, missing ones skipped) copied out of the stopped
 * container `id` to the same paths here. */
int ship_fetch(struct docker *dk, const char *id, const char *const *paths, struct error **err);
/* Removes the volumes (after the containers that mount them). */
void ship_remove(struct ship *s, struct docker *dk);
void ship_release(struct ship *s);

#endif
