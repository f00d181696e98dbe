/* --reruns-replay: a test that failed, then passed on a rerun, is run
 * again exactly as it first failed (the sequence its worker ran up to
 * it, on a fresh worker and database). Failing again makes it
 * order-dependent; passing, flaky on its own. */
#ifndef XDOCK_FLAKY_H
#define XDOCK_FLAKY_H

#include "cli.h"
#include "controller.h"
#include "report.h"

/* Sets flaky_kind on every flaky test of rep it could replay (all in one
 * run of parallel fresh workers). A replay that cannot run leaves the
 * kinds unset and says why on stderr: the run's own outcome stands. */
void flaky_classify(const struct config *cfg, struct report *rep);

/* Every flaky test of rep, with its kind when known ("true" otherwise)
 * and the workers of its failed tries, to the controller before its
 * session ends: pytest's junitxml there writes them as properties of the
 * test's <testcase>, as xdock's own JUnit writer does. */
void flaky_to_controller(const struct report *rep, struct controller *c);

#endif
