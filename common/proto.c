#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
proto_reader_init(struct proto_reader *r, size_t max_line)
{
	/* The buffer itself is bounded by the per-line cap and the caller's
	 * feed size, not by a cap of its own. */
	buf_init(&r->buf, SIZE_MAX / 4);
	r->scanned = 0;
	r->partial = 0;
	r->max_line = max_line;
	r->overflow = false;
}

void
proto_reader_release(struct proto_reader *r)
{
	buf_release(&r->buf);
}

int
proto_reader_feed(struct proto_reader *r, const char *data, size_t len)
{
	size_t partial = r->partial;
	const char *p = data, *end = data + len;

	if (r->overflow)
		return -1;
	/* Check every line the feed completes or extends before taking any
	 * of it: a stream with an over-long line is cut, never patched. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (seg > r->max_line - partial) {
			r->overflow = true;
			return -1;
		}
		if (!nl) {
			partial += seg;
			break;
		}
		partial = 0;
		p = nl + 1;
	}
	if (buf_append(&r->buf, data, len) < 0) {
		r->overflow = true;
		return -1;
	}
	r->partial = partial;
	return 0;
}

int
proto_reader_next(struct proto_reader *r, char **line, size_t *len)
{
	char *nl;
	size_t n;

	if (r->buf.len <= r->scanned)
		return 0;
	nl = memchr(r->buf.data + r->scanned, '\n', r->buf.len - r->scanned);
	if (!nl) {
		r->scanned = r->buf.len;
		return 0;
	}
	n = (size_t)(nl - r->buf.data);
	*len = n > 0 && r->buf.data[n - 1] == '\r' ? n - 1 : n;
	r->scanned = 0;
	/* A large line that is all the buffer holds (a collection of every
	 * node id, megabytes) is handed over rather than copied; the reader
	 * starts afresh instead of keeping megabytes of capacity for the
	 * small lines that follow. */
	if (n + 1 == r->buf.len && r->buf.cap > PROTO_READER_KEEP) {
		r->buf.data[*len] = '\0';
		*line = buf_steal(&r->buf);
		return 1;
	}
	*line = xstrndup(r->buf.data, *len);
	buf_consume(&r->buf, n + 1);
	if (r->buf.cap > PROTO_READER_KEEP && r->buf.len < PROTO_READER_KEEP / 2) {
		struct buf rest;

		buf_init(&rest, r->buf.max);
		buf_append(&rest, r->buf.data, r->buf.len);
		buf_release(&r->buf);
		r->buf = rest;
	}
	return 1;
}

size_t
proto_utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

int
proto_json_string(struct buf *b, const char *s, size_t n, size_t limit)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t take = n < limit ? n : limit;
	size_t i = 0;

	if (buf_append(b, "\"", 1) < 0)
		return -1;
	while (i < take) {
		unsigned char c = p[i];
		char esc[8];
		size_t k;
		int rc;

		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c;
			rc = buf_append(b, esc, 2);
			i++;
		} else if (c < 0x20) {
			switch (c) {
			case '\n': rc = buf_append(b, "\\n", 2); break;
			case '\t': rc = buf_append(b, "\\t", 2); break;
			case '\r': rc = buf_append(b, "\\r", 2); break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				rc = buf_append(b, esc, 6);
			}
			i++;
		} else if ((k = proto_utf8_seq(p + i, take - i)) > 0) {
			rc = buf_append(b, p + i, k);
			i += k;
		} else {
			rc = buf_append(b, "\\ufffd", 6);
			i++;
		}
		if (rc < 0)
			return -1;
	}
	if (take < n && buf_printf(b, " ...[truncated %zu bytes]", n - take) < 0)
		return -1;
	return buf_append(b, "\"", 1);
}

bool
proto_prefix_int(const char *line, size_t len, const char *pfx, long *out)
{
	size_t pl = strlen(pfx);
	char tmp[24];
	char *end;
	size_t n;

	/* Digits only: strtol alone would also take " 1", "+1" and "-1". */
	if (len <= pl || memcmp(line, pfx, pl) != 0 || line[pl] < '0' || line[pl] > '9')
		return false;
	n = len - pl < sizeof(tmp) - 1 ? len - pl : sizeof(tmp) - 1;
	memcpy(tmp, line + pl, n);
	tmp[n] = '\0';
	errno = 0;
	*out = strtol(tmp, &end, 10);
	if (end == tmp || errno != 0)
		return false;
	return *end == '}' || *end == ',';
}
