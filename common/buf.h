/* A growable byte buffer with a hard cap. Everything read from outside
 * (protocol lines, Docker replies, captured output) lands in one of these,
 * so a misbehaving peer costs at most `max` bytes. */
#ifndef XDOCK_BUF_H
#define XDOCK_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct buf {
	char *data; /* always NUL-terminated after data[len] when non-NULL */
	size_t len;
	size_t cap;
	size_t max; /* len never exceeds this */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Appends n bytes. Returns 0, or -1 (buffer unchanged) when the cap would
 * be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends what fits under the cap and reports whether anything was cut. */
bool buf_append_trunc(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Takes the contents as a heap string; the buffer is left empty. */
char *buf_steal(struct buf *b);

#endif
