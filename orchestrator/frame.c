#include "frame.h"

#include <string.h>

void
frame_demux_init(struct frame_demux *d)
{
	memset(d, 0, sizeof(*d));
	d->stream = FRAME_STDOUT;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* State lives entirely in *d: "remaining > 0" means we are inside a
 * payload, otherwise we are collecting a header (hdr_len bytes so far). A
 * zero-size frame therefore leaves us in header mode and never reaches the
 * sink. Bytes handed to the sink count as consumed even when it fails. */
int
frame_demux_feed(struct frame_demux *d, const char *data, size_t len, frame_sink_fn sink, void *ctx)
{
	while (len > 0) {
		size_t n;

		if (d->remaining == 0) {
			n = sizeof(d->hdr) - d->hdr_len;
			if (n > len)
				n = len;
			memcpy(d->hdr + d->hdr_len, data, n);
			d->hdr_len += n;
			data += n;
			len -= n;
			if (d->hdr_len < sizeof(d->hdr))
				break;
			/* Only the stream byte is checked: Docker's own reader
			 * (stdcopy) ignores bytes 1-3, and so do we. */
			if (d->hdr[0] > FRAME_STDERR)
				return -1;
			d->stream = (enum frame_stream)d->hdr[0];
			d->remaining = be32(d->hdr + 4);
			d->hdr_len = 0;
			continue;
		}
		n = d->remaining < len ? d->remaining : len;
		d->remaining -= (uint32_t)n;
		{
			int r = sink(ctx, d->stream, data, n);

			if (r < 0)
				return r;
		}
		data += n;
		len -= n;
	}
	return 0;
}
