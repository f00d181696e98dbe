/* proto.c and buf.c: the line reader fed in every split, its cap, the JSON
 * string encoder (checked by parsing its output with cJSON) and the prefix
 * matcher the agent relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "buf.h"
#include "proto.h"

/* ---- helpers ---------------------------------------------------------- */

/* Every line the reader has, joined with '|' so one string compare checks
 * count, order and content. */
static void
drain_lines(struct proto_reader *r, struct buf *out, size_t *count)
{
	char *line;
	size_t len;

	while (proto_reader_next(r, &line, &len) == 1) {
		assert_int_equal(strlen(line), len); /* NUL-terminated at len */
		assert_int_equal(buf_append(out, line, len), 0);
		assert_int_equal(buf_append(out, "|", 1), 0);
		(*count)++;
		free(line);
	}
}

/* proto_json_string's output for s, checked to be one valid JSON string;
 * returns the decoded value (caller frees) and the raw literal in *raw. */
static char *
json_roundtrip(const char *s, size_t n, size_t limit, char **raw)
{
	struct buf b;
	cJSON *j;
	char *out;

	buf_init(&b, 1 << 20);
	assert_int_equal(proto_json_string(&b, s, n, limit), 0);
	j = cJSON_ParseWithLength(b.data, b.len);
	assert_non_null(j);
	assert_true(cJSON_IsString(j));
	out = strdup(j->valuestring);
	cJSON_Delete(j);
	*raw = buf_steal(&b);
	return out;
}

/* ---- buf -------------------------------------------------------------- */

static void
test_buf_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "abcde", 5), 0);
	assert_int_equal(buf_append(&b, "fghi", 4), -1); /* 9 > 8 */
	assert_int_equal(b.len, 5);                      /* unchanged */
	assert_string_equal(b.data, "abcde");
	assert_int_equal(buf_append(&b, "fgh", 3), 0); /* exactly at the cap */
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	buf_consume(&b, 3);
	assert_string_equal(b.data, "defgh");
	assert_true(buf_append_trunc(&b, "0123456789", 10)); /* room 3 */
	assert_string_equal(b.data, "defgh012");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_false(buf_append_trunc(&b, "12", 2));
	assert_int_equal(buf_printf(&b, "%s-%d", "a", 42), 0); /* 6 of 8 */
	assert_int_equal(buf_printf(&b, "%s", "abc"), -1);      /* 9 > 8 */
	assert_string_equal(b.data, "12a-42");
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.max, 8);
}

static void
test_buf_printf_steal(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_printf(&b, "%s-%d", "a", 42), 0);
	assert_int_equal(buf_printf(&b, "|%05.1f", 2.25), 0);
	assert_string_equal(b.data, "a-42|002.2");
	s = buf_steal(&b);
	assert_string_equal(s, "a-42|002.2");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 64); /* the cap survives a steal */
	free(s);
	s = buf_steal(&b); /* never touched: an empty heap string */
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(buf_append(&b, "xyz", 3), 0);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
	buf_release(&b); /* twice is harmless */
}

/* ---- reader ----------------------------------------------------------- */

static void
test_reader_roundtrip(void **state)
{
	struct proto_reader r;
	struct buf got;
	size_t count = 0;
	char *line = (char *)"untouched";
	size_t len = 77;

	(void)state;
	buf_init(&got, 1 << 20);
	proto_reader_init(&r, 1024);
	assert_int_equal(proto_reader_next(&r, &line, &len), 0); /* nothing yet */
	assert_int_equal(proto_reader_feed(&r, "", 0), 0);
	assert_int_equal(proto_reader_next(&r, &line, &len), 0);
	assert_int_equal(proto_reader_feed(&r, "{\"t\":\"done\"}\n", 13), 0);
	assert_int_equal(proto_reader_feed(&r, "{\"t\":\"start\",\"i\":3}", 19), 0);
	drain_lines(&r, &got, &count);
	assert_int_equal(count, 1);
	assert_string_equal(got.data, "{\"t\":\"done\"}|");
	/* The partial line stays until its newline comes. */
	assert_int_equal(proto_reader_next(&r, &line, &len), 0);
	assert_int_equal(proto_reader_feed(&r, "\n", 1), 0);
	drain_lines(&r, &got, &count);
	assert_int_equal(count, 2);
	assert_string_equal(got.data, "{\"t\":\"done\"}|{\"t\":\"start\",\"i\":3}|");
	assert_int_equal(r.buf.len, 0);
	proto_reader_release(&r);
	buf_release(&got);
}

static const char split_msg[] = "{\"t\":\"hello\",\"v\":1,\"pid\":7}\n"
				"\n"
				"{\"t\":\"result\",\"i\":0,\"outcome\":\"passed\",\"stdout\":\"a\\nb\"}\r\n"
				"x\n"
				"\r\n"
				"{\"t\":\"done\"}\n"
				"tail-without-newline";
static const char split_want[] = "{\"t\":\"hello\",\"v\":1,\"pid\":7}|"
				 "|"
				 "{\"t\":\"result\",\"i\":0,\"outcome\":\"passed\",\"stdout\":\"a\\nb\"}|"
				 "x|"
				 "|"
				 "{\"t\":\"done\"}|";

/* One message stream cut into two feeds at every byte position, and into
 * three feeds at every pair of positions: the lines never change. */
static void
test_reader_every_split(void **state)
{
	const size_t n = sizeof(split_msg) - 1;

	(void)state;
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b++) {
			struct proto_reader r;
			struct buf got;
			size_t count = 0;

			buf_init(&got, 4096);
			proto_reader_init(&r, 256);
			assert_int_equal(proto_reader_feed(&r, split_msg, a), 0);
			drain_lines(&r, &got, &count);
			assert_int_equal(proto_reader_feed(&r, split_msg + a, b - a), 0);
			drain_lines(&r, &got, &count);
			assert_int_equal(proto_reader_feed(&r, split_msg + b, n - b), 0);
			drain_lines(&r, &got, &count);
			assert_int_equal(count, 6);
			assert_string_equal(got.data, split_want);
			/* The unterminated tail is still buffered, not lost. */
			assert_int_equal(r.buf.len, strlen("tail-without-newline"));
			assert_memory_equal(r.buf.data, "tail-without-newline", r.buf.len);
			proto_reader_release(&r);
			buf_release(&got);
		}
	}
}

/* Byte by byte, draining only at the very end: lines pile up in the buffer
 * and come out in order. */
static void
test_reader_bytewise_then_drain(void **state)
{
	const size_t n = sizeof(split_msg) - 1;
	struct proto_reader r;
	struct buf got;
	size_t count = 0;

	(void)state;
	buf_init(&got, 4096);
	proto_reader_init(&r, 4096);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(proto_reader_feed(&r, split_msg + i, 1), 0);
	drain_lines(&r, &got, &count);
	assert_int_equal(count, 6);
	assert_string_equal(got.data, split_want);
	proto_reader_release(&r);
	buf_release(&got);
}

static void
test_reader_many_lines_one_feed(void **state)
{
	struct proto_reader r;
	struct buf in;
	char *line;
	size_t len, k = 0;

	(void)state;
	buf_init(&in, 1 << 20);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(buf_printf(&in, "{\"t\":\"start\",\"i\":%d}\n", i), 0);
	proto_reader_init(&r, PROTO_LINE_MAX);
	assert_int_equal(proto_reader_feed(&r, in.data, in.len), 0);
	while (proto_reader_next(&r, &line, &len) == 1) {
		char want[64];
		long idx = -1;

		snprintf(want, sizeof(want), "{\"t\":\"start\",\"i\":%zu}", k);
		assert_string_equal(line, want);
		assert_true(proto_prefix_int(line, len, PROTO_PFX_START, &idx));
		assert_int_equal(idx, (long)k);
		free(line);
		k++;
	}
	assert_int_equal(k, 5000);
	proto_reader_release(&r);
	buf_release(&in);
}

static void
test_reader_crlf(void **state)
{
	struct proto_reader r;
	struct buf got;
	size_t count = 0;

	(void)state;
	buf_init(&got, 4096);
	proto_reader_init(&r, 64);
	/* CRLF split between CR and LF; a lone CR inside a line is data. */
	assert_int_equal(proto_reader_feed(&r, "a\r", 2), 0);
	drain_lines(&r, &got, &count);
	assert_int_equal(count, 0);
	assert_int_equal(proto_reader_feed(&r, "\nb\rc\n\r\r\n", 8), 0);
	drain_lines(&r, &got, &count);
	assert_int_equal(count, 3);
	/* Only one CR before the LF is stripped. */
	assert_string_equal(got.data, "a|b\rc|\r|");
	proto_reader_release(&r);
	buf_release(&got);
}

static void
test_reader_empty_lines(void **state)
{
	struct proto_reader r;
	char *line;
	size_t len = 99;

	(void)state;
	proto_reader_init(&r, 8);
	assert_int_equal(proto_reader_feed(&r, "\n\n\n", 3), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(proto_reader_next(&r, &line, &len), 1);
		assert_int_equal(len, 0);
		assert_string_equal(line, "");
		free(line);
	}
	assert_int_equal(proto_reader_next(&r, &line, &len), 0);
	proto_reader_release(&r);
}

/* A line of exactly the cap is fine; one byte more is an error, and the
 * reader stays failed whatever comes next. */
static void
test_reader_cap(void **state)
{
	char big[64];
	struct proto_reader r;
	char *line;
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big));

	proto_reader_init(&r, 16);
	assert_int_equal(proto_reader_feed(&r, big, 16), 0);
	assert_int_equal(proto_reader_feed(&r, "\n", 1), 0);
	assert_int_equal(proto_reader_next(&r, &line, &len), 1);
	assert_int_equal(len, 16);
	assert_memory_equal(line, big, 16);
	free(line);
	/* Reusable after a line at the cap. */
	assert_int_equal(proto_reader_feed(&r, "ok\n", 3), 0);
	assert_int_equal(proto_reader_next(&r, &line, &len), 1);
	assert_string_equal(line, "ok");
	free(line);
	proto_reader_release(&r);

	/* 17 bytes, no newline: over in one feed. */
	proto_reader_init(&r, 16);
	assert_int_equal(proto_reader_feed(&r, big, 17), -1);
	assert_int_equal(proto_reader_feed(&r, "\n", 1), -1);
	assert_int_equal(proto_reader_feed(&r, "", 0), -1);
	assert_int_equal(proto_reader_next(&r, &line, &len), 0);
	proto_reader_release(&r);

	/* Over across feeds, one byte at a time. */
	proto_reader_init(&r, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(proto_reader_feed(&r, "y", 1), 0);
	assert_int_equal(proto_reader_next(&r, &line, &len), 0);
	assert_int_equal(proto_reader_feed(&r, "y", 1), -1);
	assert_int_equal(proto_reader_feed(&r, "\nok\n", 4), -1);
	assert_int_equal(proto_reader_next(&r, &line, &len), 0);
	proto_reader_release(&r);

	/* A huge feed far over the cap. */
	proto_reader_init(&r, 16);
	{
		size_t n = 1 << 20;
		char *huge = malloc(n);

		memset(huge, 'z', n);
		assert_int_equal(proto_reader_feed(&r, huge, n), -1);
		assert_true(r.buf.len <= 17); /* never buffered past the cap */
		free(huge);
	}
	assert_int_equal(proto_reader_feed(&r, "\n", 1), -1);
	proto_reader_release(&r);
}

/* A good line and then an oversized one in the same feed: -1, and the
 * reader must not later hand out a line with bytes silently missing. */
/* The cap is per line: a feed holding several whole lines may be far
 * longer than the cap, and a line may reach the cap across feeds. */
static void
test_reader_cap_is_per_line(void **state)
{
	struct proto_reader r;
	char line[101];
	char *out;
	size_t len, n = 0;
	struct buf feed;

	(void)state;
	memset(line, 'a', 100);
	line[100] = '\n';
	buf_init(&feed, 1 << 20);
	for (int i = 0; i < 50; i++)
		buf_append(&feed, line, sizeof(line));
	proto_reader_init(&r, 100);
	assert_int_equal(proto_reader_feed(&r, feed.data, feed.len), 0);
	while (proto_reader_next(&r, &out, &len) == 1) {
		assert_int_equal(len, 100);
		free(out);
		n++;
	}
	assert_int_equal(n, 50);
	/* 60 + 40 bytes across two feeds: exactly at the cap, accepted. */
	assert_int_equal(proto_reader_feed(&r, line, 60), 0);
	assert_int_equal(proto_reader_feed(&r, line, 40), 0);
	/* One more byte of the same line: over the cap, and nothing of that
	 * feed is kept. */
	assert_int_equal(proto_reader_feed(&r, line, 1), -1);
	assert_int_equal(proto_reader_feed(&r, "\n", 1), -1);
	proto_reader_release(&r);
	buf_release(&feed);
}

static void
test_reader_cap_after_good_line(void **state)
{
	char in[64];
	struct proto_reader r;
	char *line;
	size_t len;
	int rc;

	(void)state;
	memcpy(in, "ok\n", 3);
	memset(in + 3, 'x', 20);
	proto_reader_init(&r, 16);
	assert_int_equal(proto_reader_feed(&r, in, 23), -1);
	/* Whatever was complete before the bad line may still be taken... */
	rc = proto_reader_next(&r, &line, &len);
	if (rc == 1) {
		assert_string_equal(line, "ok");
		free(line);
	}
	/* ...but the stream is broken for good. */
	assert_int_equal(proto_reader_feed(&r, "\n", 1), -1);
	assert_int_equal(proto_reader_feed(&r, "next\n", 5), -1);
	while (proto_reader_next(&r, &line, &len) == 1) {
		/* A line made of the cut-off 'x's would be a silent corruption. */
		assert_string_equal(line, "ok");
		free(line);
	}
	proto_reader_release(&r);
}

/* ---- proto_json_string ------------------------------------------------ */

static void
check_json(const char *in, size_t n, const char *want_raw, const char *want_value)
{
	char *raw;
	char *v = json_roundtrip(in, n, SIZE_MAX, &raw);

	if (want_raw)
		assert_string_equal(raw, want_raw);
	assert_string_equal(v, want_value);
	free(raw);
	free(v);
}

static void
test_json_escapes(void **state)
{
	(void)state;
	check_json("", 0, "\"\"", "");
	check_json("plain", 5, "\"plain\"", "plain");
	check_json("say \"hi\"", 8, "\"say \\\"hi\\\"\"", "say \"hi\"");
	check_json("C:\\dir\\", 7, "\"C:\\\\dir\\\\\"", "C:\\dir\\");
	check_json("a\nb\tc\rd", 7, "\"a\\nb\\tc\\rd\"", "a\nb\tc\rd");
	check_json("\x01\x1f\x08\x0c", 4, "\"\\u0001\\u001f\\u0008\\u000c\"", "\x01\x1f\x08\x0c");
	check_json("/ and \x7f", 7, "\"/ and \x7f\"", "/ and \x7f");
}

static void
test_json_nul(void **state)
{
	char *raw;
	char *v;
	cJSON *j;

	(void)state;
	v = json_roundtrip("a\0b", 3, SIZE_MAX, &raw);
	assert_string_equal(raw, "\"a\\u0000b\"");
	free(v);
	/* cJSON stops its C string at the NUL; the length proves the rest. */
	j = cJSON_Parse(raw);
	assert_non_null(j);
	assert_string_equal(j->valuestring, "a");
	cJSON_Delete(j);
	free(raw);
}

static void
test_json_utf8(void **state)
{
	/* é (2 bytes), € (3), 😀 (4), U+10FFFF: all kept byte for byte. */
	static const char ok[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
	char want[sizeof(ok) + 2];

	(void)state;
	snprintf(want, sizeof(want), "\"%s\"", ok);
	check_json(ok, sizeof(ok) - 1, want, ok);
}

static void
test_json_invalid_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *raw;
	} cases[] = {
		{ "a\xff" "b", 3, "\"a\\ufffdb\"" },             /* never valid */
		{ "\x80", 1, "\"\\ufffd\"" },                    /* lone continuation */
		{ "\xc3", 1, "\"\\ufffd\"" },                    /* cut 2-byte at end */
		{ "\xc3(", 2, "\"\\ufffd(\"" },                  /* bad continuation */
		{ "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },         /* overlong '/' */
		{ "\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* overlong 3 */
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate D800 */
		{ "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > 10FFFF */
		{ "\xf5\x80", 2, "\"\\ufffd\\ufffd\"" },
		{ "\xf0\x9f\x98", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* cut emoji */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *raw;
		char *v = json_roundtrip(cases[i].in, cases[i].n, SIZE_MAX, &raw);

		assert_string_equal(raw, cases[i].raw);
		/* Decodes to U+FFFD (EF BF BD) where the bad bytes were. */
		assert_non_null(strstr(v, "\xef\xbf\xbd"));
		free(raw);
		free(v);
	}
}

/* Every single byte value and every pair: the output always parses. */
static void
test_json_all_bytes_parse(void **state)
{
	(void)state;
	for (int a = 0; a < 256; a++) {
		for (int b = 0; b < 256; b++) {
			char in[3] = { (char)a, (char)b, (char)0xe2 };
			char *raw;
			char *v = json_roundtrip(in, 3, SIZE_MAX, &raw);

			free(raw);
			free(v);
		}
	}
}

static void
test_json_truncation(void **state)
{
	char *raw;
	char *v;
	struct buf b;

	(void)state;
	v = json_roundtrip("0123456789", 10, 4, &raw);
	assert_string_equal(v, "0123 ...[truncated 6 bytes]");
	free(raw);
	free(v);
	/* Limit equal to the length: no note. */
	v = json_roundtrip("0123456789", 10, 10, &raw);
	assert_string_equal(v, "0123456789");
	free(raw);
	free(v);
	/* Limit 0. */
	v = json_roundtrip("abc", 3, 0, &raw);
	assert_string_equal(v, " ...[truncated 3 bytes]");
	free(raw);
	free(v);
	/* The limit counts input bytes, not escaped output. */
	v = json_roundtrip("\"\"\"\"", 4, 2, &raw);
	assert_string_equal(raw, "\"\\\"\\\" ...[truncated 2 bytes]\"");
	assert_string_equal(v, "\"\" ...[truncated 2 bytes]");
	free(raw);
	free(v);
	/* A cut through a multibyte character still parses. */
	v = json_roundtrip("\xf0\x9f\x98\x80!", 5, 2, &raw);
	assert_non_null(strstr(v, " ...[truncated 3 bytes]"));
	assert_null(strstr(raw, "\xf0\x9f"));
	free(raw);
	free(v);

	/* The output buffer's cap: -1, never a half string that parses. */
	for (size_t cap = 0; cap < 12; cap++) {
		buf_init(&b, cap);
		assert_int_equal(proto_json_string(&b, "a\"b\x01", 4, SIZE_MAX), -1);
		buf_release(&b);
	}
	buf_init(&b, 12); /* "a\"b\u0001" quoted is exactly 12 bytes */
	assert_int_equal(proto_json_string(&b, "a\"b\x01", 4, SIZE_MAX), 0);
	assert_int_equal(b.len, 12);
	buf_release(&b);
}

/* ---- proto_prefix_int ------------------------------------------------- */

static bool
pfx(const char *line, const char *p, long *out)
{
	return proto_prefix_int(line, strlen(line), p, out);
}

static void
test_prefix_int(void **state)
{
	long v = -77;
	char line[64];

	(void)state;
	assert_true(pfx("{\"t\":\"start\",\"i\":12}", PROTO_PFX_START, &v));
	assert_int_equal(v, 12);
	assert_true(pfx("{\"t\":\"start\",\"i\":0,\"x\":1}", PROTO_PFX_START, &v));
	assert_int_equal(v, 0);
	assert_true(pfx("{\"t\":\"hello\",\"v\":1,\"pid\":5}", PROTO_PFX_HELLO, &v));
	assert_int_equal(v, 1);
	snprintf(line, sizeof(line), PROTO_PFX_START "%ld}", 2147483648L * 4);
	assert_true(pfx(line, PROTO_PFX_START, &v));
	assert_int_equal(v, 2147483648L * 4);

	v = -77;
	assert_false(pfx("{\"t\":\"start\",\"i\":12", PROTO_PFX_START, &v));  /* no close */
	assert_false(pfx("{\"t\":\"start\",\"i\":}", PROTO_PFX_START, &v));    /* no digits */
	assert_false(pfx("{\"t\":\"start\",\"i\":", PROTO_PFX_START, &v));     /* just the prefix */
	assert_false(pfx("{\"t\":\"start\",\"i\":1x}", PROTO_PFX_START, &v));
	assert_false(pfx("{\"t\":\"start\",\"i\":\"1\"}", PROTO_PFX_START, &v));
	assert_false(pfx("{\"t\":\"start\",\"i\": 1}", PROTO_PFX_START, &v));  /* not digits */
	assert_false(pfx("{\"t\":\"start\",\"i\":+1}", PROTO_PFX_START, &v));
	assert_false(pfx("{\"t\":\"start\",\"i\":-1}", PROTO_PFX_START, &v));
	assert_false(pfx("{\"t\":\"start\",\"i\":1.5}", PROTO_PFX_START, &v));
	assert_false(pfx("{\"t\":\"start\",\"i\":99999999999999999999999}", PROTO_PFX_START, &v));
	assert_false(pfx("{\"t\":\"start\", \"i\":1}", PROTO_PFX_START, &v));  /* spaced */
	assert_false(pfx("{\"t\":\"result\",\"i\":1}", PROTO_PFX_START, &v));
	assert_false(pfx("", PROTO_PFX_START, &v));
	assert_false(pfx("{\"t\"", PROTO_PFX_START, &v));
	/* len bounds the match: the bytes past it are not read. */
	assert_false(proto_prefix_int("{\"t\":\"start\",\"i\":12}", 19, PROTO_PFX_START, &v));
	assert_true(proto_prefix_int("{\"t\":\"start\",\"i\":12}garbage", 20, PROTO_PFX_START, &v));
	assert_int_equal(v, 12);
	/* Exact prefixes the agent expects from the encoder. */
	assert_string_equal(PROTO_PFX_BYE, "{\"t\":\"bye\"}");
	assert_string_equal(PROTO_PFX_DONE, "{\"t\":\"done\"}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_printf_steal),
		cmocka_unit_test(test_reader_roundtrip),
		cmocka_unit_test(test_reader_cap_is_per_line),
		cmocka_unit_test(test_reader_every_split),
		cmocka_unit_test(test_reader_bytewise_then_drain),
		cmocka_unit_test(test_reader_many_lines_one_feed),
		cmocka_unit_test(test_reader_crlf),
		cmocka_unit_test(test_reader_empty_lines),
		cmocka_unit_test(test_reader_cap),
		cmocka_unit_test(test_reader_cap_after_good_line),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_nul),
		cmocka_unit_test(test_json_utf8),
		cmocka_unit_test(test_json_invalid_utf8),
		cmocka_unit_test(test_json_all_bytes_parse),
		cmocka_unit_test(test_json_truncation),
		cmocka_unit_test(test_prefix_int),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
