/* The local channel: a unix socket per container, bind-mounted into it,
 * that carries the protocol beside the attach stream when the engine
 * shares this machine's files. Every message then goes straight between
 * the agent and the orchestrator instead of through the engine's relay
 * (containerd's shim and dockerd, each way). The attach stream stays: it
 * carries stderr and marks the container's end. */
#ifndef XDOCK_CHAN_H
#define XDOCK_CHAN_H

#include "error.h"

/* Where the socket appears inside the container; the agent's --channel. */
#define CHAN_MOUNT "/xdock/chan.sock"

/* A run's socket directory: <project>/.xdock/chan-<owner>, mode 0700,
 * named by the run's owner label (gc.h) so that a later run can tell one
 * left by a run that was killed, and remove it. It lives beside the
 * project because wherever the engine can bind-mount the project it can
 * bind-mount this (a job container that shares the host's Docker socket
 * and its workspace path, too); /tmp need not be. */
struct chan_dir {
	int fd;     /* O_PATH: sockets are bound through /proc/self/fd/N, so
		     * a long project path never meets sun_path's 108 bytes */
	char *path;
	char *made; /* <project>/.xdock when this run made it: removed if empty */
};

void chan_dir_init(struct chan_dir *d);
/* Makes the directory, after removing those of owners no longer alive;
 * -1 with *err when the project is not writable (the run then goes
 * without the channel). */
int chan_dir_open(struct chan_dir *d, const char *project_dir, struct error **err);
/* Removes the directory and whatever sockets are still in it. */
void chan_dir_close(struct chan_dir *d);

/* A listening socket named `name` in d: its fd (non-blocking), *path the
 * host path to bind-mount. The caller unlinks the path once the container
 * started: the mount holds the socket, and nothing stays behind. */
int chan_listen(const struct chan_dir *d, const char *name, char **path, struct error **err);
/* The agent's connection, or -1 (errno EAGAIN: not yet). Non-blocking. */
int chan_accept(int lfd);

#endif
