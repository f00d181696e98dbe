/* One worker: its container, its attach channel and the bytes going each
 * way. It turns the channel into protocol messages and queued commands
 * into bytes; what a message means for the run is decided by run.c. */
#ifndef XDOCK_WORKER_H
#define XDOCK_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "docker.h"
#include "frame.h"
#include "msg.h"
#include "proto.h"
#include "provision.h"

enum worker_state {
	WORKER_NEW,        /* nothing created yet */
	WORKER_STARTED,    /* container running, hello sent */
	WORKER_READY,      /* hello answered */
	WORKER_COLLECTED,  /* collection received, running tests */
	WORKER_EXITED,     /* the agent said exit, or the stream ended */
};

struct worker {
	size_t index;
	char name[16];          /* gwN */
	char *dbname;           /* test_db_gwN, NULL with --db none */
	char *container;        /* id */
	struct docker_attach *attach;
	struct frame_demux demux;
	struct proto_reader reader;
	struct buf out;         /* protocol bytes not yet sent */
	struct buf errtail;     /* the agent's stderr, last bytes only */
	enum worker_state state;
	long current;           /* test running now, -1 none */
	bool bye_sent;
	bool done;              /* runner said done */
	bool collected;         /* runner sent its collection */
	bool fresh;             /* started: read once before the first poll */
	bool more;              /* the last read stopped before the socket was drained */
	int exit_status;
	char *exit_output;
	size_t ntests;
	int64_t started_ms;
	int64_t heard_ms;       /* when the last message came */
	bool unanswering;       /* killed by the watchdog: the agent went silent */
};

void worker_init(struct worker *w, size_t index);
void worker_release(struct worker *w);

/* Creates the container (agent injected, environment set), attaches to it
 * and starts it. The agent then waits for hello before it starts pytest.
 * agent_cmd is the argv after the agent. */
int worker_start(struct worker *w, const struct run_ctx *ctx, const struct provision *prov, const char *agent_path,
		 const char *const *agent_cmd, struct error **err);

/* Queues hello: the go-ahead for the agent to start pytest, given once
 * the worker's database exists. */
void worker_hello(struct worker *w);
/* Sends what is queued as far as the socket takes it. */
int worker_flush(struct worker *w, struct error **err);
/* Reads what the socket has. *eof when the stream ended. */
int worker_read(struct worker *w, bool *eof, struct error **err);
/* Takes the next whole message: 1 with *m filled, 0 when none is
 * buffered, -1 on a malformed line. */
int worker_next_msg(struct worker *w, struct msg *m, struct error **err);

/* Removes the container (kill first). Best effort, never fails the run. */
void worker_remove(struct worker *w, struct docker *dk);

#endif
