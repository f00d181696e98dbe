/* Sweeping up after runs whose orchestrator is gone (SIGKILL, a lost CI
 * machine): containers and networks labelled xdock.run whose owner process
 * no longer exists. A run whose orchestrator is alive is never touched.
 * `xdock gc --all` also stops the PostgreSQL kept by --reuse-db. */
#ifndef XDOCK_GC_H
#define XDOCK_GC_H

#include <stdbool.h>

#include "docker.h"
#include "error.h"

/* The owner label of this process: "host:pid:starttime". Caller frees. */
char *gc_owner_self(void);
/* Whether the process an owner label names is still alive here. Owners on
 * another host count as alive: we cannot know. */
bool gc_owner_alive(const char *owner);
/* Removes what dead runs left. *removed counts objects removed. */
int gc_sweep(struct docker *dk, bool all, int *removed, struct error **err);

#endif
