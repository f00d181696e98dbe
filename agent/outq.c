#include "outq.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

/* Compacting on every write would memmove the whole backlog each time a
 * slow reader takes a little; compact only when the dead prefix is big. */
#define OUTQ_COMPACT (1u << 20)

void
outq_init(struct outq *q, int fd, size_t max, size_t high)
{
	q->fd = fd;
	buf_init(&q->buf, max);
	q->head = 0;
	q->high = high;
}

void
outq_release(struct outq *q)
{
	buf_release(&q->buf);
	q->head = 0;
}

size_t
outq_pending(const struct outq *q)
{
	return q->buf.len - q->head;
}

bool
outq_full(const struct outq *q)
{
	return outq_pending(q) > q->high;
}

int
outq_push_line(struct outq *q, const char *line, size_t len)
{
	if (q->fd < 0)
		return -1;
	if (len + 1 > q->buf.max - q->buf.len && q->head > 0) {
		buf_consume(&q->buf, q->head);
		q->head = 0;
	}
	if (len + 1 > q->buf.max - q->buf.len)
		return -1;
	buf_append(&q->buf, line, len);
	buf_append(&q->buf, "\n", 1);
	return 0;
}

static void
drop(struct outq *q)
{
	buf_reset(&q->buf);
	q->head = 0;
	q->fd = -1;
}

int
outq_flush(struct outq *q)
{
	while (q->fd >= 0 && outq_pending(q) > 0) {
		ssize_t n = write(q->fd, q->buf.data + q->head, outq_pending(q));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			drop(q);
			return -1;
		}
		q->head += (size_t)n;
	}
	if (q->fd < 0)
		return -1;
	if (q->head == q->buf.len) {
		buf_reset(&q->buf);
		q->head = 0;
	} else if (q->head >= OUTQ_COMPACT && q->head > q->buf.len / 2) {
		buf_consume(&q->buf, q->head);
		q->head = 0;
	}
	return 0;
}

int
outq_drain(struct outq *q, int timeout_ms)
{
	int64_t deadline = util_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd;
		int64_t left;

		if (outq_flush(q) < 0)
			return -1;
		if (outq_pending(q) == 0)
			return 0;
		left = deadline - util_now_ms();
		if (left <= 0)
			return -1;
		pfd.fd = q->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -1;
	}
}
