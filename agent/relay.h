/* The agent's life: the hello exchange with the orchestrator, then one
 * poll() loop relaying protocol lines between the orchestrator (stdin and
 * stdout) and the runner (two pipes), watching the running test for a
 * timeout and the runner for death, and reporting crash and exit. */
#ifndef XDOCK_AGENT_RELAY_H
#define XDOCK_AGENT_RELAY_H

#include "error.h"
#include "runner.h"

struct relay_opts {
	struct runner_opts runner;
	char *const *argv; /* the runner's command, NULL-terminated */
	int in_fd;         /* orchestrator -> agent (stdin) */
	int out_fd;        /* agent -> orchestrator (stdout) */
	int sig_fd;        /* signalfd: SIGCHLD, SIGTERM, SIGINT, SIGHUP */
};

/* Runs until the runner is gone and its exit is reported, the orchestrator
 * goes away (stdin EOF), or a terminating signal arrives. Returns the
 * agent's exit code: 0 after a reported runner exit (whatever it means is
 * the orchestrator's call), EXIT_INTERRUPTED when the orchestrator or a
 * signal ended the run, EXIT_INTERNAL on a version mismatch or protocol
 * error (an error message has then been written to out_fd and *err set). */
int relay_run(const struct relay_opts *o, struct error **err);

#endif
