/* The last few KiB of the runner's stdout/stderr. Everything else the
 * runner prints is discarded; the tail explains a crash or a failed exit. */
#ifndef XDOCK_AGENT_TAIL_H
#define XDOCK_AGENT_TAIL_H

#include <stddef.h>

#define TAIL_MAX 8192

struct tail {
	char data[TAIL_MAX];
	size_t len;
};

void tail_init(struct tail *t);
/* Keeps the last TAIL_MAX bytes of everything appended so far. */
void tail_append(struct tail *t, const char *p, size_t n);

#endif
