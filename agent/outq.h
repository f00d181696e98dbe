/* A queue of bytes waiting for a non-blocking fd (the orchestrator's stdout,
 * the runner's command pipe). The relay never blocks on a slow reader: it
 * queues, writes what the fd takes when poll() says so, and stops reading
 * the producing side while the queue is above its high-water mark. */
#ifndef XDOCK_AGENT_OUTQ_H
#define XDOCK_AGENT_OUTQ_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct outq {
	int fd;      /* not owned; -1 once the reader is gone */
	struct buf buf;
	size_t head; /* bytes of buf already written */
	size_t high; /* above this many pending bytes, stop producing */
};

/* max caps the pending bytes (a push beyond it fails); high is the mark
 * outq_full() reports. */
void outq_init(struct outq *q, int fd, size_t max, size_t high);
void outq_release(struct outq *q);
/* Queues line and a newline. Returns -1 if the cap would be exceeded (the
 * queue is unchanged) or the reader is gone. */
int outq_push_line(struct outq *q, const char *line, size_t len);
size_t outq_pending(const struct outq *q);
bool outq_full(const struct outq *q);
/* Writes what the fd accepts without blocking. Returns 0, or -1 when the
 * reader is gone (EPIPE and the like): the queue is then dropped and fd is
 * set to -1. */
int outq_flush(struct outq *q);
/* Waits up to timeout_ms for everything to be written (used once, on the
 * way out). Returns 0 when empty, -1 otherwise. */
int outq_drain(struct outq *q, int timeout_ms);

#endif
