/* Demultiplexer for Docker's attach stream when the container has no TTY:
 * each frame is an 8-byte header [stream, 0, 0, 0, size (big-endian u32)]
 * followed by size bytes. Frames do not align with lines or reads. Pure:
 * feed bytes, receive payload pieces through a callback. */
#ifndef XDOCK_FRAME_H
#define XDOCK_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum frame_stream { FRAME_STDIN = 0, FRAME_STDOUT = 1, FRAME_STDERR = 2 };

/* Called for each piece of payload; a frame may arrive in several pieces.
 * Returning negative stops frame_demux_feed, which returns that value. */
typedef int (*frame_sink_fn)(void *ctx, enum frame_stream stream, const char *data, size_t len);

struct frame_demux {
	uint8_t hdr[8];
	size_t hdr_len;
	uint32_t remaining; /* payload bytes left in the current frame */
	enum frame_stream stream;
};

void frame_demux_init(struct frame_demux *d);
/* Returns 0, a sink's negative value, or -1 on a header with an unknown
 * stream type (the stream is then not Docker's framing). */
int frame_demux_feed(struct frame_demux *d, const char *data, size_t len, frame_sink_fn sink, void *ctx);

#endif
