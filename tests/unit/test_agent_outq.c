/* agent/outq.c: the relay's queues towards a non-blocking fd: whole lines
 * in order, a hard cap, the high-water mark, a reader that is slow or
 * gone. Real pipes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "outq.h"
#include "util.h"

struct pipe_pair {
	int r, w;
};

static struct pipe_pair
open_pipe(void)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	return (struct pipe_pair){ p[0], p[1] };
}

/* Reads what the pipe holds into b (non-blocking). */
static void
read_all(int fd, struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		assert_int_equal(buf_append(b, chunk, (size_t)n), 0);
	assert_true(n == 0 || errno == EAGAIN);
}

static void
test_lines_in_order(void **state)
{
	struct pipe_pair p = open_pipe();
	struct outq q;
	struct buf got;

	(void)state;
	buf_init(&got, 1 << 20);
	outq_init(&q, p.w, 1024, 512);
	assert_int_equal(outq_push_line(&q, "{\"t\":\"a\"}", 9), 0);
	assert_int_equal(outq_push_line(&q, "", 0), 0);
	assert_int_equal(outq_push_line(&q, "b", 1), 0);
	assert_int_equal(outq_pending(&q), 10 + 1 + 2);
	assert_int_equal(outq_flush(&q), 0);
	assert_int_equal(outq_pending(&q), 0);
	read_all(p.r, &got);
	assert_int_equal(got.len, 13);
	assert_memory_equal(got.data, "{\"t\":\"a\"}\n\nb\n", 13);
	outq_release(&q);
	buf_release(&got);
	close(p.r);
	close(p.w);
}

/* A push past the cap fails and leaves the queue as it was; the mark is
 * what outq_full reports. */
static void
test_cap_and_mark(void **state)
{
	struct pipe_pair p = open_pipe();
	struct outq q;
	char line[100];

	(void)state;
	memset(line, 'x', sizeof(line));
	outq_init(&q, p.w, 250, 150);
	assert_int_equal(outq_push_line(&q, line, 100), 0);
	assert_false(outq_full(&q));
	assert_int_equal(outq_push_line(&q, line, 100), 0);
	assert_true(outq_full(&q));
	assert_int_equal(outq_pending(&q), 202);
	/* 202 + 49 > 250: refused whole. */
	assert_int_equal(outq_push_line(&q, line, 48), -1);
	assert_int_equal(outq_pending(&q), 202);
	/* 202 + 48 = 250: fits exactly. */
	assert_int_equal(outq_push_line(&q, line, 47), 0);
	assert_int_equal(outq_pending(&q), 250);
	outq_release(&q);
	close(p.r);
	close(p.w);
}

/* A slow reader: the pipe takes only part; what is left stays queued in
 * order, space written out is reused (compaction) without reordering,
 * and every byte arrives once. */
static void
test_slow_reader(void **state)
{
	struct pipe_pair p = open_pipe();
	struct outq q;
	struct buf got;
	size_t pushed = 0, line_len = 4000;
	char *line = xmalloc(line_len);
	int k;

	(void)state;
	buf_init(&got, 64 << 20);
	/* Small pipe: writes stop at EAGAIN early and often. */
	(void)fcntl(p.w, F_SETPIPE_SZ, 4096);
	outq_init(&q, p.w, 3 << 20, 2 << 20);
	for (k = 0; k < 1500; k++) {
		memset(line, 'a' + k % 26, line_len);
		if (outq_push_line(&q, line, line_len) < 0) {
			/* Full: let the reader take some, then retry. */
			assert_int_equal(outq_flush(&q), 0);
			read_all(p.r, &got);
			k--;
			continue;
		}
		pushed += line_len + 1;
		assert_int_equal(outq_flush(&q), 0);
		if (k % 3 == 0)
			read_all(p.r, &got);
	}
	while (outq_pending(&q) > 0) {
		assert_int_equal(outq_flush(&q), 0);
		read_all(p.r, &got);
	}
	read_all(p.r, &got);
	assert_int_equal(got.len, pushed);
	for (k = 0; k < 1500; k++) {
		const char *l = got.data + (size_t)k * (line_len + 1);

		if (l[0] != 'a' + k % 26 || l[line_len - 1] != 'a' + k % 26 || l[line_len] != '\n')
			fail_msg("line %d out of order or torn", k);
	}
	free(line);
	buf_release(&got);
	outq_release(&q);
	close(p.r);
	close(p.w);
}

/* The reader gone: flush says so, the queue is dropped and refuses more. */
static void
test_reader_gone(void **state)
{
	struct pipe_pair p = open_pipe();
	struct outq q;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	outq_init(&q, p.w, 1024, 512);
	assert_int_equal(outq_push_line(&q, "x", 1), 0);
	close(p.r);
	assert_int_equal(outq_flush(&q), -1);
	assert_int_equal(q.fd, -1);
	assert_int_equal(outq_pending(&q), 0);
	assert_int_equal(outq_push_line(&q, "y", 1), -1);
	assert_int_equal(outq_drain(&q, 10), -1);
	outq_release(&q);
	close(p.w);
}

/* drain: empty queue at once; a reader that never reads: gives up after
 * the timeout, not before. */
static void
test_drain(void **state)
{
	struct pipe_pair p = open_pipe();
	struct outq q;
	char *big = xmalloc(1 << 20);
	int64_t t0;

	(void)state;
	memset(big, 'z', 1 << 20);
	outq_init(&q, p.w, 4 << 20, 2 << 20);
	assert_int_equal(outq_drain(&q, 0), 0);
	assert_int_equal(outq_push_line(&q, big, 1 << 20), 0);
	t0 = util_now_ms();
	assert_int_equal(outq_drain(&q, 200), -1);
	assert_true(util_now_ms() - t0 >= 200);
	assert_true(outq_pending(&q) > 0);
	free(big);
	outq_release(&q);
	close(p.r);
	close(p.w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_in_order),
		cmocka_unit_test(test_cap_and_mark),
		cmocka_unit_test(test_slow_reader),
		cmocka_unit_test(test_reader_gone),
		cmocka_unit_test(test_drain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
