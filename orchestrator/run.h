/* `xdock run`: one whole run, from the engine ping to the last removed
 * container. The only place that ties the docker client, the databases,
 * the scheduler, the workers and the reports together. */
#ifndef XDOCK_RUN_H
#define XDOCK_RUN_H

#include "cli.h"
#include "error.h"

/* Returns the exit code (enum exit_code). On a failure that stops the run
 * before any test ran, returns -1 with *err set (main prints it). */
int run_command(const struct config *cfg, struct error **err);

#endif
