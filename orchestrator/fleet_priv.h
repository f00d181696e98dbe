/* Shared by the two parts of the fleet: fleet.c (worker slots, the pool
 * of start and removal jobs, teardown) and fleet_controller.c (the
 * controller's command, environment and container). No other file
 * includes it. */
#ifndef XDOCK_FLEET_PRIV_H
#define XDOCK_FLEET_PRIV_H

#include "fleet.h"

/* The controller's agent argv (f->ctl_cmd), from the config. */
void fleet_controller_cmd(struct fleet *f);
/* Its container's setup: the workers' with its own command. */
void fleet_controller_setup(struct fleet *f);
/* Creates, attaches and starts it with dk (the calling thread's client). */
int fleet_controller_start(struct fleet *f, struct docker *dk, struct error **err);

#endif
