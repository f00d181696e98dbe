/* The runner process: the user's command (normally `python3 -m pytest`)
 * with the embedded plugin on PYTHONPATH, in its own process group, its
 * output drained into a tail and two protocol pipes to the agent. This
 * module starts, kills, reaps and cleans up after it; the relay decides. */
#ifndef XDOCK_AGENT_RUNNER_H
#define XDOCK_AGENT_RUNNER_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"
#include "tail.h"

struct runner_opts {
	long timeout_s;  /* per test; 0: none. Passed on as XDOCK_TIMEOUT */
	long output_cap; /* bytes per captured field; 0: plugin default */
	bool controller; /* the run's controller (XDOCK_ROLE=controller): its
			  * stdout goes to the agent's stderr (xdock's stdout),
			  * its stderr into forward (xdock's stderr) */
};

struct runner {
	pid_t pid;     /* also the process group; -1 before start */
	bool exited;   /* reaped; status below is valid */
	int status;    /* raw waitpid() status */
	int cmd_fd;    /* agent writes commands (non-blocking) */
	int evt_fd;    /* agent reads events */
	int out_fd;    /* runner's stdout and stderr (the controller's: its
			* stderr only), drained into tail */
	char *tmpdir;  /* holds xdock_plugin.py; removed by runner_release */
	struct tail tail;
	/* The controller: what out_fd gave and the relay has not yet sent
	 * on as stderr messages; max 0 (never grows) for a worker. */
	struct buf forward;
};

void runner_init(struct runner *r);
/* Writes the plugin to a fresh temp dir and starts argv (argv[0] looked up
 * in PATH). For `... -m pytest ...` it inserts `-p xdock_plugin` after
 * `-m pytest`. The runner's stdin is /dev/null;
 * every agent fd but the two protocol pipes is closed on exec. Returns -1
 * with *err set if anything before exec fails; an exec failure shows up as
 * exit status 127 with the reason in the output tail. */
int runner_start(struct runner *r, char *const argv[], const struct runner_opts *o,
		 struct error **err);
/* argv with `-p xdock_plugin` after `-m pytest`, if there is one. The
 * array is heap (free it), its strings borrowed from argv. */
char **runner_build_argv(char *const argv[]);
/* SIGKILLs the whole process group (the runner and anything it spawned
 * that stayed in the group). Safe to call at any time. */
void runner_kill(struct runner *r);
/* Handles one waitpid() result: returns true if pid was the runner. */
bool runner_reaped(struct runner *r, pid_t pid, int status);
/* Blocks until the runner is reaped (after runner_kill). */
void runner_wait(struct runner *r);
/* Reads what the output pipe holds into the tail (and the controller's
 * into forward) without blocking, at most 1 MiB per call. Returns 1 if it stopped at that bound (more may wait), 0
 * when the pipe is empty, -1 at EOF (the fd is then closed and -1). */
int runner_read_output(struct runner *r);
/* Closes the fds and removes the temp dir. */
void runner_release(struct runner *r);

#endif
