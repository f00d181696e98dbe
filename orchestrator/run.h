/* `xdock run`: one whole run, from the engine ping to the last removed
 * container. The only place that ties the docker client, the databases,
 * the scheduler, the workers and the reports together. */
#ifndef XDOCK_RUN_H
#define XDOCK_RUN_H

#include "cli.h"
#include "error.h"
#include "report.h"
#include "sequence.h"

/* Returns the exit code (enum exit_code). On a failure that stops the run
 * before any test ran, returns -1 with *err set (main prints it). */
int run_command(const struct config *cfg, struct error **err);
/* run_command with a plan (NULL: the config decides) that hands the
 * finished report to *out (NULL: released) and writes neither
 * .xdock/last-run.json nor the duration history when plan is given. */
int run_execute(const struct config *cfg, const struct sequence_plan *plan, struct report *out, struct error **err);

#endif
