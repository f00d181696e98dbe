/* One worker: its container, its channel (the attach stream, and the
 * local socket beside it where there is one) and the bytes going each
 * way. It turns the channel into protocol messages and queued commands
 * into bytes; what a message means for the run is the ledger's business
 * (ledger.h), where the worker's protocol state lives. */
#ifndef XDOCK_WORKER_H
#define XDOCK_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>

#include "buf.h"
#include "chan.h"
#include "docker.h"
#include "frame.h"
#include "msg.h"
#include "proto.h"

/* What every worker container of a run is made from (borrowed strings). */
struct worker_setup {
	const char *image;
	const char *run_id;
	const char *project_dir;        /* bind-mounted at the same path */
	const char *workdir;            /* the working directory, inside project_dir */
	const char *user;               /* "uid:gid" or NULL */
	const char *network;            /* "host", the run network, or NULL: the default bridge */
	const char *netns_of;           /* NULL, or a running container whose network namespace
					 * and host name this one joins instead of `network` */
	const char *agent_path;         /* mounted at /xdock/agent */
	const char *const *agent_cmd;   /* the agent's argv after its name */
	const char *const *labels;      /* the run's labels, NULL-terminated */
	const char *const *env;         /* the user's --env, "K=V", NULL-terminated, set last */
	size_t nworkers;                /* PYTEST_XDIST_WORKER_COUNT */
	bool controller;                /* this container is the run's controller, not a worker */
	bool with_controller;           /* workers wait for their workerinput (XDOCK_CONTROLLER=1) */
	const char *extra_dir;          /* NULL, or one more directory bind-mounted at its own path */
	const char *project_volume;     /* shipped: mounted instead of project_dir */
	const char *agent_volume;       /* shipped: mounted at /xdock instead of agent_path */
	const struct chan_dir *chan;    /* NULL: the protocol goes over the attach stream alone */
	int64_t memory, nano_cpus;      /* 0: no limit */
};

struct worker {
	size_t index;
	char name[16];          /* gwN */
	char *dbname;           /* test_db_gwN, NULL with --db none */
	char *container;        /* id */
	struct docker_attach *attach;
	int chan_lfd;           /* waiting for the agent on the local channel, or -1 */
	int chan_fd;            /* the local channel, or -1 (chan.h) */
	bool chan_open;         /* the protocol goes over the channel: stdout is not read */
	struct frame_demux demux;
	struct proto_reader reader;
	struct buf out;         /* protocol bytes not yet sent */
	struct buf errtail;     /* the agent's stderr, last bytes only */
	FILE *echo;             /* the controller: its stderr (pytest's terminal) is copied here */
	bool fresh;             /* started: read once before the first poll */
	bool more;              /* the last read stopped before the socket was drained */
	int64_t started_ms;
	int64_t heard_ms;       /* when the last message came */
	bool unanswering;       /* killed by the watchdog: the agent went silent */
};

void worker_init(struct worker *w, size_t index);
void worker_release(struct worker *w);

/* Creates the container (agent injected, environment set), attaches to it
 * and starts it, with dk (the calling thread's client). The agent then
 * waits for hello before it starts pytest. db_env ("K=V", NULL-terminated,
 * may be NULL) says where the worker's database is. */
int worker_start(struct worker *w, struct docker *dk, const struct worker_setup *ws, const char *const *db_env,
		 struct error **err);

/* Queues hello: the go-ahead for the agent to start pytest, given once
 * the worker's database exists. */
void worker_hello(struct worker *w);
/* The descriptors to poll for w (at most WORKER_POLLFDS): the attach
 * stream, and the local channel or its listening socket. send: ask to
 * write. 0 when w is detached. */
#define WORKER_POLLFDS 2
size_t worker_pollfds(const struct worker *w, bool send, struct pollfd *p);
/* Sends what is queued as far as the socket takes it. While the agent
 * has not yet connected to the local channel (or said it cannot), what
 * is queued waits. */
int worker_flush(struct worker *w, struct error **err);
/* Reads what the channel and the attach stream have. *eof when the
 * attach stream ended (the container's end: the channel is read dry
 * first). -2 when the peer broke the protocol (a line over the cap,
 * bytes out of Docker's framing), -1 when the channel failed. */
int worker_read(struct worker *w, bool *eof, struct error **err);
/* Takes the next whole message: 1 with *m filled, 0 when none is
 * buffered, -1 on a line that is no message (*err says why, without the
 * worker's name). */
int worker_next_msg(struct worker *w, struct msg *m, struct error **err);

/* Closes the channel. */
void worker_detach(struct worker *w);
/* Removes the container (kill first). Best effort, never fails the run. */
void worker_remove(struct worker *w, struct docker *dk);

#endif
