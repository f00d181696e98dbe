/* Fuzzes common/proto.c: the line splitter fed in chunks whose sizes come
 * from the input, checked against a one-pass model of the same stream, and
 * proto_json_string, whose output must parse and decode to the input with
 * each invalid UTF-8 byte replaced by U+FFFD. */
#include <cjson/cJSON.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

/* Small so that inputs of a few KiB reach the over-long-line paths. */
#define FUZZ_MAX_LINE 4096

/* Chunk size taken at stream offset p: bytes below 0x80 give 1..128, the
 * others 64..8192, so both byte-at-a-time and multi-line feeds occur. */
static size_t
chunk_len(const uint8_t *data, size_t size, size_t p)
{
	uint8_t c = data[p];
	size_t n = c < 0x80 ? (size_t)c + 1 : (size_t)(c - 0x7f) * 64;

	return n < size - p ? n : size - p;
}

/* Independent model of a valid UTF-8 sequence at s (RFC 3629): decode,
 * then reject overlongs, surrogates and code points past U+10FFFF. */
static size_t
model_utf8(const uint8_t *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1fu;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0fu;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void
check_reader(const uint8_t *data, size_t size)
{
	struct proto_reader r;
	size_t pos = 0;  /* model: start of the next line to be taken */
	size_t open = 0; /* model: bytes fed since the last newline */
	size_t p = 0;

	proto_reader_init(&r, FUZZ_MAX_LINE);
	while (p < size) {
		size_t n = chunk_len(data, size, p);
		bool want_overflow = false;
		size_t o = open;
		char *line;
		size_t len;
		int rc;

		for (size_t i = p; i < p + n; i++) {
			if (data[i] == '\n') {
				want_overflow |= o > FUZZ_MAX_LINE;
				o = 0;
			} else {
				o++;
			}
		}
		want_overflow |= o > FUZZ_MAX_LINE;
		rc = proto_reader_feed(&r, (const char *)data + p, n);
		FUZZ_CHECK(rc == (want_overflow ? -1 : 0));
		if (rc < 0) {
			/* Unusable for good: even an empty line is refused. */
			FUZZ_CHECK(proto_reader_feed(&r, "\n", 1) == -1);
			break;
		}
		open = o;
		p += n;
		while (proto_reader_next(&r, &line, &len) == 1) {
			const uint8_t *nl = memchr(data + pos, '\n', p - pos);
			size_t want;

			FUZZ_CHECK(nl != NULL);
			want = (size_t)(nl - (data + pos));
			if (want > 0 && data[pos + want - 1] == '\r')
				want--;
			FUZZ_CHECK(len == want && len <= FUZZ_MAX_LINE);
			FUZZ_CHECK(memcmp(line, data + pos, len) == 0 && line[len] == '\0');
			pos = (size_t)(nl - data) + 1;
			free(line);
		}
		/* Everything whole was taken; asking again finds nothing. */
		FUZZ_CHECK(memchr(data + pos, '\n', p - pos) == NULL);
		FUZZ_CHECK(proto_reader_next(&r, &line, &len) == 0);
		FUZZ_CHECK(r.buf.len == p - pos);
	}
	proto_reader_release(&r);
}

/* The expected decoding of proto_json_string's output, up to the first NUL
 * (cJSON's valuestring is a C string, and \u0000 ends it). */
static char *
expected_string(const uint8_t *s, size_t n, size_t *out_len)
{
	char *e = xmalloc(n * 3 + 1);
	size_t o = 0;

	for (size_t i = 0; i < n && s[i] != 0;) {
		size_t k = model_utf8(s + i, n - i);

		if (k > 0) {
			memcpy(e + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(e + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	e[o] = '\0';
	*out_len = o;
	return e;
}

static void
check_json_string(const uint8_t *data, size_t size)
{
	struct buf b;
	cJSON *j;
	size_t want_len, limit, cut_len;
	cleanup_free char *want = expected_string(data, size, &want_len);

	buf_init(&b, size * 6 + 64);
	FUZZ_CHECK(proto_json_string(&b, (const char *)data, size, size) == 0);
	j = cJSON_ParseWithLength(b.data, b.len);
	FUZZ_CHECK(cJSON_IsString(j));
	FUZZ_CHECK(strlen(j->valuestring) == want_len && memcmp(j->valuestring, want, want_len) == 0);
	cJSON_Delete(j);

	/* Cut short: still one valid string, and it says it was cut. A cut
	 * may fall inside a UTF-8 sequence, which then becomes U+FFFD. */
	limit = size ? data[0] % (size + 1) : 0;
	buf_reset(&b);
	FUZZ_CHECK(proto_json_string(&b, (const char *)data, size, limit) == 0);
	cut_len = b.len;
	j = cJSON_ParseWithLength(b.data, b.len);
	FUZZ_CHECK(cJSON_IsString(j));
	if (limit < size)
		FUZZ_CHECK(strstr(b.data, " ...[truncated ") != NULL);
	{
		size_t cut_want_len;
		cleanup_free char *cut_want = expected_string(data, limit, &cut_want_len);

		FUZZ_CHECK(strncmp(j->valuestring, cut_want, cut_want_len) == 0);
	}
	cJSON_Delete(j);

	/* Any cap below the output's length is reported, never overrun,
	 * wherever it falls: opening quote, body, truncation note, end. */
	buf_reset(&b);
	b.max = size ? cut_len - 1 - (data[size - 1] * 131u) % cut_len : cut_len - 1;
	FUZZ_CHECK(proto_json_string(&b, (const char *)data, size, limit) == -1);
	FUZZ_CHECK(b.len <= b.max);
	buf_release(&b);
}

static void
check_prefix_int(const uint8_t *data, size_t size)
{
	static const char *const pfx[] = { PROTO_PFX_HELLO, PROTO_PFX_START, PROTO_PFX_RESULT };
	cleanup_free char *line = xmalloc(size + 1);

	/* Callers pass lines from proto_reader_next: NUL-terminated. */
	memcpy(line, data, size);
	line[size] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(pfx); i++) {
		long v = -1;

		if (proto_prefix_int(line, size, pfx[i], &v))
			FUZZ_CHECK(v >= 0 && strncmp(line, pfx[i], strlen(pfx[i])) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_reader(data, size);
	check_json_string(data, size);
	check_prefix_int(data, size);
	return 0;
}
