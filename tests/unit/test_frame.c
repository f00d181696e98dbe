/* frame.c: Docker's 8-byte stream framing, fed in every possible split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "frame.h"
#include "recorded.h"

struct collect {
	struct buf out[3];
	int calls;
	int fail_at;   /* return fail_rc on this call (1-based), 0: never */
	int fail_rc;
	size_t zero_len_calls;
};

static void
collect_init(struct collect *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 3; i++)
		buf_init(&c->out[i], (size_t)64 << 20);
}

static void
collect_release(struct collect *c)
{
	for (int i = 0; i < 3; i++)
		buf_release(&c->out[i]);
}

static int
collect_cb(void *ctx, enum frame_stream stream, const char *data, size_t len)
{
	struct collect *c = ctx;

	c->calls++;
	if (len == 0)
		c->zero_len_calls++;
	assert_true(stream <= FRAME_STDERR);
	assert_int_equal(buf_append(&c->out[stream], data, len), 0);
	if (c->fail_at && c->calls == c->fail_at)
		return c->fail_rc;
	return 0;
}

static size_t
put_frame(char *dst, int stream, const char *payload, uint32_t len)
{
	dst[0] = (char)stream;
	dst[1] = dst[2] = dst[3] = 0;
	dst[4] = (char)(len >> 24);
	dst[5] = (char)(len >> 16);
	dst[6] = (char)(len >> 8);
	dst[7] = (char)len;
	memcpy(dst + 8, payload, len);
	return 8 + (size_t)len;
}

/* A stream with short, empty, >255-byte and stdin/stderr frames. */
struct sample {
	char bytes[1024];
	size_t len;
	char out[512], err[64], in[16];
	size_t out_len, err_len, in_len;
};

static void
make_sample(struct sample *s)
{
	char big[300];

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	s->len += put_frame(s->bytes + s->len, 1, "hello\n", 6);
	s->len += put_frame(s->bytes + s->len, 2, "oops", 4);
	s->len += put_frame(s->bytes + s->len, 1, "", 0);
	s->len += put_frame(s->bytes + s->len, 1, big, sizeof(big));
	s->len += put_frame(s->bytes + s->len, 0, "in", 2);
	s->len += put_frame(s->bytes + s->len, 2, "", 0);
	s->len += put_frame(s->bytes + s->len, 2, "x\n", 2);
	s->len += put_frame(s->bytes + s->len, 1, "tail", 4);
	memcpy(s->out, "hello\n", 6);
	memcpy(s->out + 6, big, sizeof(big));
	memcpy(s->out + 6 + sizeof(big), "tail", 4);
	s->out_len = 6 + sizeof(big) + 4;
	memcpy(s->err, "oopsx\n", 6);
	s->err_len = 6;
	memcpy(s->in, "in", 2);
	s->in_len = 2;
}

static void
check_sample(const struct sample *s, struct collect *c, const struct frame_demux *d)
{
	assert_int_equal(c->out[1].len, s->out_len);
	assert_memory_equal(c->out[1].data, s->out, s->out_len);
	assert_int_equal(c->out[2].len, s->err_len);
	assert_memory_equal(c->out[2].data, s->err, s->err_len);
	assert_int_equal(c->out[0].len, s->in_len);
	assert_memory_equal(c->out[0].data, s->in, s->in_len);
	/* Empty frames and empty pieces never reach the sink. */
	assert_int_equal(c->zero_len_calls, 0);
	/* Ends between frames. */
	assert_int_equal(d->hdr_len, 0);
	assert_int_equal(d->remaining, 0);
}

static void
test_whole(void **state)
{
	struct sample s;
	struct collect c;
	struct frame_demux d;

	(void)state;
	make_sample(&s);
	collect_init(&c);
	frame_demux_init(&d);
	assert_int_equal(frame_demux_feed(&d, s.bytes, s.len, collect_cb, &c), 0);
	check_sample(&s, &c, &d);
	/* Six non-empty frames, each in one piece. */
	assert_int_equal(c.calls, 6);
	collect_release(&c);
}

static void
test_every_split_in_two_and_three(void **state)
{
	struct sample s;

	(void)state;
	make_sample(&s);
	for (size_t i = 0; i <= s.len; i++) {
		for (size_t j = i; j <= s.len; j++) {
			struct collect c;
			struct frame_demux d;

			collect_init(&c);
			frame_demux_init(&d);
			assert_int_equal(frame_demux_feed(&d, s.bytes, i, collect_cb, &c), 0);
			assert_int_equal(frame_demux_feed(&d, s.bytes + i, j - i, collect_cb, &c), 0);
			assert_int_equal(frame_demux_feed(&d, s.bytes + j, s.len - j, collect_cb, &c), 0);
			check_sample(&s, &c, &d);
			collect_release(&c);
		}
	}
}

static void
test_byte_at_a_time(void **state)
{
	struct sample s;
	struct collect c;
	struct frame_demux d;

	(void)state;
	make_sample(&s);
	collect_init(&c);
	frame_demux_init(&d);
	for (size_t i = 0; i < s.len; i++) {
		assert_int_equal(frame_demux_feed(&d, s.bytes + i, 1, collect_cb, &c), 0);
		/* In the middle of the first header nothing was delivered. */
		if (i < 7)
			assert_int_equal(c.calls, 0);
	}
	check_sample(&s, &c, &d);
	/* One call per payload byte. */
	assert_int_equal((size_t)c.calls, s.out_len + s.err_len + s.in_len);
	collect_release(&c);
}

static void
test_big_frame(void **state)
{
	/* 0x01020304 bytes: every byte of the size field matters. */
	const uint32_t size = 0x01020304;
	char *payload = malloc(size);
	char hdr[8] = { 2, 0, 0, 0, 0x01, 0x02, 0x03, 0x04 };
	char tail[8 + 3];
	struct collect c;
	struct frame_demux d;
	size_t off = 0, step = 65537;

	(void)state;
	assert_non_null(payload);
	for (size_t i = 0; i < size; i++)
		payload[i] = (char)(i * 7 + i / 251);
	collect_init(&c);
	frame_demux_init(&d);
	assert_int_equal(frame_demux_feed(&d, hdr, 3, collect_cb, &c), 0);
	assert_int_equal(frame_demux_feed(&d, hdr + 3, 5, collect_cb, &c), 0);
	assert_int_equal(d.remaining, size);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		assert_int_equal(frame_demux_feed(&d, payload + off, n, collect_cb, &c), 0);
		off += n;
	}
	/* The next frame follows directly, in the same feed as nothing else. */
	put_frame(tail, 1, "end", 3);
	assert_int_equal(frame_demux_feed(&d, tail, sizeof(tail), collect_cb, &c), 0);
	assert_int_equal(c.out[2].len, size);
	assert_memory_equal(c.out[2].data, payload, size);
	assert_int_equal(c.out[1].len, 3);
	assert_memory_equal(c.out[1].data, "end", 3);
	collect_release(&c);
	free(payload);
}

static void
test_max_size_header(void **state)
{
	char hdr[8] = { 1, 0, 0, 0, (char)0xff, (char)0xff, (char)0xff, (char)0xff };
	struct collect c;
	struct frame_demux d;

	(void)state;
	collect_init(&c);
	frame_demux_init(&d);
	assert_int_equal(frame_demux_feed(&d, hdr, sizeof(hdr), collect_cb, &c), 0);
	assert_int_equal(d.remaining, UINT32_MAX);
	assert_int_equal(frame_demux_feed(&d, "abc", 3, collect_cb, &c), 0);
	assert_int_equal(d.remaining, UINT32_MAX - 3);
	assert_int_equal(c.out[1].len, 3);
	collect_release(&c);
}

static void
test_bad_stream_byte(void **state)
{
	static const unsigned char bad[] = { 3, 0xff, 'H' };

	(void)state;
	for (size_t k = 0; k < sizeof(bad); k++) {
		char bytes[64];
		size_t len = put_frame(bytes, 1, "ok\n", 3);

		/* A good frame, then a header with an unknown stream byte,
		 * split at every point: the good payload arrives, then -1. */
		bytes[len] = (char)bad[k];
		memcpy(bytes + len + 1, "\0\0\0\0\0\0\1x", 8);
		for (size_t i = 0; i <= len + 9; i++) {
			struct collect c;
			struct frame_demux d;
			int r1, r2;

			collect_init(&c);
			frame_demux_init(&d);
			r1 = frame_demux_feed(&d, bytes, i, collect_cb, &c);
			r2 = r1 < 0 ? r1 : frame_demux_feed(&d, bytes + i, len + 9 - i, collect_cb, &c);
			assert_int_equal(r2, -1);
			/* A header is judged once complete: the first feed
			 * fails exactly when it holds all of the bad one. */
			assert_int_equal(r1, i >= len + 8 ? -1 : 0);
			assert_int_equal(c.out[1].len, 3);
			assert_memory_equal(c.out[1].data, "ok\n", 3);
			collect_release(&c);
		}
	}
}

static void
test_text_is_not_framed(void **state)
{
	/* What a TTY container or a mistaken caller would feed. */
	static const char text[] = "Traceback (most recent call last):\n";
	struct collect c;
	struct frame_demux d;

	(void)state;
	collect_init(&c);
	frame_demux_init(&d);
	assert_int_equal(frame_demux_feed(&d, text, sizeof(text) - 1, collect_cb, &c), -1);
	assert_int_equal(c.calls, 0);
	collect_release(&c);
}

static void
test_sink_error_stops(void **state)
{
	struct sample s;
	struct collect c;
	struct frame_demux d;

	(void)state;
	make_sample(&s);
	collect_init(&c);
	c.fail_at = 2;
	c.fail_rc = -7;
	frame_demux_init(&d);
	assert_int_equal(frame_demux_feed(&d, s.bytes, s.len, collect_cb, &c), -7);
	assert_int_equal(c.calls, 2);
	/* The failing piece was the whole "oops" frame: consumed. */
	assert_int_equal(c.out[2].len, 4);
	assert_int_equal(d.remaining, 0);
	collect_release(&c);
}

/* A logs reply recorded from the real engine: sh -c 'echo out1; echo err1
 * >&2; sleep 0.2; printf "out2 no newline"'. */
static void
test_recorded_logs(void **state)
{
	size_t len;
	char *bytes = recorded_read("logs_exited.bin", &len);

	(void)state;
	for (size_t i = 0; i <= len; i++) {
		struct collect c;
		struct frame_demux d;

		collect_init(&c);
		frame_demux_init(&d);
		assert_int_equal(frame_demux_feed(&d, bytes, i, collect_cb, &c), 0);
		assert_int_equal(frame_demux_feed(&d, bytes + i, len - i, collect_cb, &c), 0);
		assert_string_equal(c.out[1].data, "out1\nout2 no newline");
		assert_string_equal(c.out[2].data, "err1\n");
		collect_release(&c);
	}
	free(bytes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_every_split_in_two_and_three),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_big_frame),
		cmocka_unit_test(test_max_size_header),
		cmocka_unit_test(test_bad_stream_byte),
		cmocka_unit_test(test_text_is_not_framed),
		cmocka_unit_test(test_sink_error_stops),
		cmocka_unit_test(test_recorded_logs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
