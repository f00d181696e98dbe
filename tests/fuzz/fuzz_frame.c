/* Fuzzes orchestrator/frame.c: the stream (all of the input but its last
 * two bytes) is fed in pieces split at points drawn from a generator seeded
 * by those two bytes, and what the sink receives must equal what a one-pass
 * model of Docker's framing delivers from the whole stream at once. */
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "util.h"

/* Every payload byte delivered, with the stream it was delivered on. */
struct sink_log {
	uint8_t *bytes;
	uint8_t *streams;
	size_t len;
	size_t calls;
	size_t fail_at; /* the sink fails on this call (SIZE_MAX: never) */
};

static int
sink(void *ctx, enum frame_stream stream, const char *data, size_t len)
{
	struct sink_log *l = ctx;

	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(stream == FRAME_STDIN || stream == FRAME_STDOUT || stream == FRAME_STDERR);
	memcpy(l->bytes + l->len, data, len);
	memset(l->streams + l->len, (int)stream, len);
	l->len += len;
	if (l->calls++ == l->fail_at)
		return -7;
	return 0;
}

/* The model: walks whole frames over the whole stream. Returns -1 at the
 * first header with an unknown stream type, else 0. *declared is the sum
 * of the sizes of the headers read. */
static int
model(const uint8_t *s, size_t n, struct sink_log *out, uint64_t *declared)
{
	size_t o = 0;

	*declared = 0;
	while (n - o >= 8) {
		uint32_t sz = (uint32_t)s[o + 4] << 24 | (uint32_t)s[o + 5] << 16 | (uint32_t)s[o + 6] << 8 | s[o + 7];
		size_t take;

		if (s[o] > 2)
			return -1;
		*declared += sz;
		take = sz < n - o - 8 ? sz : n - o - 8;
		memcpy(out->bytes + out->len, s + o + 8, take);
		memset(out->streams + out->len, s[o], take);
		out->len += take;
		o += 8 + take;
	}
	return 0;
}

/* xorshift32: split points must be reproducible from the input alone. */
static uint32_t
next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink_log got = { 0 }, want = { 0 };
	struct frame_demux d;
	uint64_t declared;
	uint32_t seed;
	size_t n, p = 0;
	int want_rc, rc = 0;

	if (size < 2)
		return 0;
	n = size - 2;
	seed = (uint32_t)data[n] << 8 | data[n + 1];
	got.bytes = xmalloc(n + 1);
	got.streams = xmalloc(n + 1);
	want.bytes = xmalloc(n + 1);
	want.streams = xmalloc(n + 1);
	/* One input in four makes the sink fail on some call. */
	got.fail_at = (seed & 3) == 0 ? (seed >> 2) % 16 : SIZE_MAX;
	want.fail_at = SIZE_MAX;
	want_rc = model(data, n, &want, &declared);
	seed = seed * 2654435761u | 1;

	frame_demux_init(&d);
	while (p < n) {
		/* Mostly small pieces, sometimes large ones. */
		uint32_t r = next_rand(&seed);
		size_t piece = (r & 7) == 0 ? r % 4096 + 1 : r % 11 + 1;

		if (piece > n - p)
			piece = n - p;
		rc = frame_demux_feed(&d, (const char *)data + p, piece, sink, &got);
		p += piece;
		if (rc < 0)
			break;
	}
	/* The same bytes on the same streams, in the same order, whatever
	 * the split; a failing sink stops the feed with its own value. */
	if (got.fail_at != SIZE_MAX && got.calls > got.fail_at) {
		FUZZ_CHECK(rc == -7);
		FUZZ_CHECK(got.len <= want.len);
	} else {
		FUZZ_CHECK(rc == want_rc);
		FUZZ_CHECK(got.len == want.len);
		if (rc == 0) {
			/* Payload delivered = sizes declared - still owed. */
			FUZZ_CHECK((uint64_t)got.len == declared - d.remaining);
			FUZZ_CHECK(d.hdr_len < 8);
		}
	}
	FUZZ_CHECK(memcmp(got.bytes, want.bytes, got.len) == 0);
	FUZZ_CHECK(memcmp(got.streams, want.streams, got.len) == 0);
	free(got.bytes);
	free(got.streams);
	free(want.bytes);
	free(want.streams);
	return 0;
}
