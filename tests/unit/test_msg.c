/* msg.c: every message kind of common/proto.h decoded, every malformed
 * variant refused (ASan runs these too: no leaks on the error paths), and
 * the encoder's exact bytes as the agent reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"
#include "proto.h"

static int
decode(const char *line, struct msg *m, struct error **err)
{
	return msg_decode(line, strlen(line), m, err);
}

/* Decodes a line that must fail; returns the error text for checks. */
static void
expect_error(const char *line, const char *needle)
{
	struct msg m;
	struct error *err = NULL;

	memset(&m, 0x5a, sizeof(m)); /* garbage in: decode must not trust it */
	if (decode(line, &m, &err) != -1)
		fail_msg("decoded a bad line: %s", line);
	assert_non_null(err);
	assert_int_equal(err->status, EXIT_INTERNAL);
	if (needle && !strstr(err->msg, needle))
		fail_msg("error \"%s\" for %s does not mention \"%s\"", err->msg, line, needle);
	error_free(err);
	/* After a failure the message owns nothing: releasing is safe. */
	msg_release(&m);
}

static void
test_outcome_names(void **state)
{
	static const char *const names[] = { "passed", "failed", "error", "skipped",
					     "xfailed", "xpassed", "crashed", "timeout" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		enum outcome o = outcome_parse(names[i]);

		assert_int_equal(o, OUTCOME_PASSED + (int)i);
		assert_string_equal(outcome_name(o), names[i]);
	}
	assert_int_equal(outcome_parse("PASSED"), OUTCOME_NONE);
	assert_int_equal(outcome_parse("not run"), OUTCOME_NONE);
	assert_int_equal(outcome_parse(""), OUTCOME_NONE);
	assert_string_equal(outcome_name(OUTCOME_NONE), "not run");
	assert_string_equal(outcome_name(OUTCOME__COUNT), "unknown");
	assert_string_equal(outcome_name((enum outcome)-1), "unknown");
}

static void
test_decode_hello(void **state)
{
	struct msg m;
	struct error *err = NULL;

	(void)state;
	assert_int_equal(decode("{\"t\":\"hello\",\"v\":1,\"pid\":4242}", &m, &err), 0);
	assert_null(err);
	assert_int_equal(m.kind, MSG_HELLO);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.pid, 4242);
	msg_release(&m);
	/* pid is optional; other versions decode (the caller rejects them). */
	assert_int_equal(decode("{\"v\":7,\"t\":\"hello\"}", &m, &err), 0);
	assert_int_equal(m.kind, MSG_HELLO);
	assert_int_equal(m.version, 7);
	assert_int_equal(m.pid, 0);
	msg_release(&m);
}

static void
test_decode_collected(void **state)
{
	struct msg m;
	struct error *err = NULL;
	const char *line = "{\"t\":\"collected\",\"items\":["
			   "{\"id\":\"tests/test_a.py::TestX::test_y[1-2::x]\",\"file\":\"tests/test_a.py\",\"group\":\"g1\"},"
			   "{\"id\":\"tests/test_b.py::test_z\",\"file\":\"tests/test_b.py\",\"group\":null},"
			   "{\"id\":\"tests/test_c.py::test_w\"},"
			   "{\"id\":\"\\u00e9\\ud83d\\ude00.py::t\\\"q\"}"
			   "],\"errors\":[\"ERROR collecting tests/test_d.py\",42]}";

	(void)state;
	assert_int_equal(decode(line, &m, &err), 0);
	assert_null(err);
	assert_int_equal(m.kind, MSG_COLLECTED);
	assert_int_equal(m.nitems, 4);
	assert_string_equal(m.items[0].id, "tests/test_a.py::TestX::test_y[1-2::x]");
	assert_string_equal(m.items[0].file, "tests/test_a.py");
	assert_string_equal(m.items[0].group, "g1");
	assert_string_equal(m.items[1].id, "tests/test_b.py::test_z");
	assert_null(m.items[1].group);
	/* Without "file", the file is the node id up to the first ':'. */
	assert_string_equal(m.items[2].file, "tests/test_c.py");
	assert_null(m.items[2].group);
	assert_string_equal(m.items[3].id, "\xc3\xa9\xf0\x9f\x98\x80.py::t\"q");
	assert_string_equal(m.items[3].file, "\xc3\xa9\xf0\x9f\x98\x80.py");
	assert_int_equal(m.nerrors, 2);
	assert_string_equal(m.errors[0], "ERROR collecting tests/test_d.py");
	assert_non_null(m.errors[1]); /* not a string: a placeholder, not a crash */
	msg_release(&m);
	assert_null(m.items);
	assert_int_equal(m.nitems, 0);

	/* Empty collection, no errors array. */
	assert_int_equal(decode("{\"t\":\"collected\",\"items\":[]}", &m, &err), 0);
	assert_int_equal(m.kind, MSG_COLLECTED);
	assert_int_equal(m.nitems, 0);
	assert_int_equal(m.nerrors, 0);
	msg_release(&m);
}

static void
test_decode_start_done(void **state)
{
	struct msg m;
	struct error *err = NULL;

	(void)state;
	assert_int_equal(decode("{\"t\":\"start\",\"i\":3}", &m, &err), 0);
	assert_int_equal(m.kind, MSG_START);
	assert_int_equal(m.index, 3);
	msg_release(&m);
	assert_int_equal(decode(PROTO_PFX_DONE, &m, &err), 0);
	assert_int_equal(m.kind, MSG_DONE);
	assert_int_equal(m.index, -1);
	msg_release(&m);
	/* Whitespace around is JSON's business, not ours. */
	assert_int_equal(decode("  { \"t\" : \"done\" }  ", &m, &err), 0);
	assert_int_equal(m.kind, MSG_DONE);
	msg_release(&m);
	assert_null(err);
}

static void
test_decode_result(void **state)
{
	struct msg m;
	struct error *err = NULL;
	static const char *const outcomes[] = { "passed", "failed", "error", "skipped",
						"xfailed", "xpassed", "crashed", "timeout" };

	(void)state;
	assert_int_equal(decode("{\"t\":\"result\",\"i\":7,\"outcome\":\"failed\",\"duration\":0.25,"
				"\"when\":\"call\",\"longrepr\":\"E   assert 1 == 2\\nline2\","
				"\"stdout\":\"out\\u0000x\",\"stderr\":\"err\"}",
				&m, &err),
			 0);
	assert_null(err);
	assert_int_equal(m.kind, MSG_RESULT);
	assert_int_equal(m.index, 7);
	assert_int_equal(m.outcome, OUTCOME_FAILED);
	assert_true(m.duration > 0.2499 && m.duration < 0.2501);
	assert_string_equal(m.when, "call");
	assert_string_equal(m.text, "E   assert 1 == 2\nline2");
	assert_string_equal(m.out, "out");
	assert_string_equal(m.err, "err");
	msg_release(&m);

	/* Minimal result: only i and outcome; optional strings may be null. */
	for (size_t k = 0; k < ARRAY_SIZE(outcomes); k++) {
		char line[128];

		snprintf(line, sizeof(line), "{\"t\":\"result\",\"i\":%zu,\"outcome\":\"%s\",\"longrepr\":null}", k,
			 outcomes[k]);
		assert_int_equal(decode(line, &m, &err), 0);
		assert_int_equal(m.index, (long)k);
		assert_int_equal(m.outcome, OUTCOME_PASSED + (int)k);
		assert_null(m.when);
		assert_null(m.text);
		assert_null(m.out);
		assert_true(m.duration == 0.0);
		msg_release(&m);
	}
}

static void
test_decode_crash_exit_error(void **state)
{
	struct msg m;
	struct error *err = NULL;

	(void)state;
	assert_int_equal(decode("{\"t\":\"crash\",\"i\":3,\"status\":139,\"signal\":11,\"reason\":\"segfault\","
				"\"output\":\"Fatal Python error\"}",
				&m, &err),
			 0);
	assert_int_equal(m.kind, MSG_CRASH);
	assert_int_equal(m.index, 3);
	assert_int_equal(m.status, 139);
	assert_int_equal(m.signal, 11);
	assert_string_equal(m.text, "segfault");
	assert_string_equal(m.out, "Fatal Python error");
	msg_release(&m);

	assert_int_equal(decode("{\"t\":\"crash\",\"i\":-1,\"status\":1}", &m, &err), 0);
	assert_int_equal(m.kind, MSG_CRASH);
	assert_int_equal(m.index, -1);
	assert_int_equal(m.status, 1);
	assert_int_equal(m.signal, 0);
	assert_null(m.text);
	msg_release(&m);

	assert_int_equal(decode("{\"t\":\"exit\",\"status\":2,\"output\":\"bye\"}", &m, &err), 0);
	assert_int_equal(m.kind, MSG_EXIT);
	assert_int_equal(m.status, 2);
	assert_int_equal(m.index, -1);
	assert_string_equal(m.out, "bye");
	msg_release(&m);

	assert_int_equal(decode("{\"t\":\"error\",\"message\":\"cannot exec python3\"}", &m, &err), 0);
	assert_int_equal(m.kind, MSG_ERROR);
	assert_string_equal(m.text, "cannot exec python3");
	msg_release(&m);
	assert_int_equal(decode("{\"t\":\"error\"}", &m, &err), 0);
	assert_int_equal(m.kind, MSG_ERROR);
	assert_non_null(m.text); /* always something to print */
	msg_release(&m);

	/* The controller's stderr, bytes as they came (UTF-8 kept). */
	assert_int_equal(decode("{\"t\":\"stderr\",\"text\":\"warn: caf\\u00e9\\n\"}", &m, &err), 0);
	assert_int_equal(m.kind, MSG_STDERR);
	assert_string_equal(m.text, "warn: caf\xc3\xa9\n");
	msg_release(&m);
	assert_int_equal(decode("{\"t\":\"stderr\",\"text\":3}", &m, &err), -1);
	error_free(err);
	err = NULL;
	assert_null(err);
}

/* len is honoured: bytes past it are not part of the message. */
static void
test_decode_len(void **state)
{
	struct msg m;
	struct error *err = NULL;
	const char *two = "{\"t\":\"start\",\"i\":3}{\"t\":\"done\"}";

	(void)state;
	assert_int_equal(msg_decode(two, 19, &m, &err), 0);
	assert_int_equal(m.kind, MSG_START);
	assert_int_equal(m.index, 3);
	msg_release(&m);
	assert_int_equal(msg_decode(two, 18, &m, &err), -1);
	assert_non_null(err);
	error_free(err);
}

/* Events are checked without cJSON's tree (a syntax pass), then kept as
 * the bytes after the prefix: as strict as a parse, never looser. */
static void
expect_event(const char *line, const char *rest)
{
	struct msg m;
	struct error *err = NULL;

	if (decode(line, &m, &err) != 0)
		fail_msg("%s: %s", line, err->msg);
	assert_int_equal(m.kind, MSG_EVENT);
	assert_string_equal(m.text, rest);
	msg_release(&m);
}

static void
test_decode_event(void **state)
{
	(void)state;
	expect_event("{\"t\":\"ev\",\"e\":\"logstart\",\"d\":{\"nodeid\":\"t.py::a\",\"location\":[\"t.py\",0,\"a\"]}}",
		     "\"e\":\"logstart\",\"d\":{\"nodeid\":\"t.py::a\",\"location\":[\"t.py\",0,\"a\"]}}");
	expect_event("{\"t\":\"ev\",\"e\":\"x\",\"d\":{\"a\":[1,-0.5,2e10,1E-3,0,true,false,null,\"\\u00e9\\n\\\"\"],"
		     "\"b\":{},\"c\":[]}} ",
		     "\"e\":\"x\",\"d\":{\"a\":[1,-0.5,2e10,1E-3,0,true,false,null,\"\\u00e9\\n\\\"\"],\"b\":{},\"c\":[]}} ");
	/* "e" nested deeper does not count; the top level's first does. */
	expect_error("{\"t\":\"ev\",\"d\":{\"e\":\"x\"}}", "not an event");
	expect_error("{\"t\":\"ev\",\"e\":1}", "not an event");
	expect_error("{\"t\":\"ev\",\"e\":[\"x\"],\"e\":\"y\"}", "not an event");
	expect_error("{\"t\":\"ev\",\"d\":1}", "not an event");
	/* Not JSON: cut, trailing bytes, bad literals, numbers, strings. */
	expect_error("{\"t\":\"ev\",\"e\":\"x\"", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\"}{}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":[1,]}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":NaN}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":tru}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":01}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":1.}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":-}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":\"\\q\"}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":\"\\u12g4\"}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":\"a\tb\"}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":{1:2}}", "not a JSON object");
	expect_error("{\"t\":\"ev\",\"e\":\"x\",\"d\":{\"a\" 2}}", "not a JSON object");
}

/* Nesting past cJSON's limit fails as it did under cJSON. */
static void
test_decode_event_depth(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	buf_printf(&b, "{\"t\":\"ev\",\"e\":\"x\",\"d\":");
	for (int i = 0; i < 1200; i++)
		buf_printf(&b, "[");
	for (int i = 0; i < 1200; i++)
		buf_printf(&b, "]");
	buf_printf(&b, "}");
	expect_error(b.data, "not a JSON object");
	buf_release(&b);
}

static void
test_decode_errors(void **state)
{
	(void)state;
	/* Not JSON, not an object. */
	expect_error("", NULL);
	expect_error("{", NULL);
	expect_error("{\"t\":\"done\"", NULL);
	expect_error("[\"t\",\"done\"]", "not a JSON object");
	expect_error("\"done\"", "not a JSON object");
	expect_error("42", "not a JSON object");
	expect_error("null", "not a JSON object");
	/* No kind. */
	expect_error("{}", "\"t\"");
	expect_error("{\"i\":3}", "\"t\"");
	expect_error("{\"t\":3}", "\"t\"");
	expect_error("{\"t\":null}", "\"t\"");
	expect_error("{\"T\":\"done\"}", "\"t\"");
	/* Unknown kinds, including the orchestrator's own. */
	expect_error("{\"t\":\"run\",\"i\":[1]}", "unknown message \"run\"");
	expect_error("{\"t\":\"bye\"}", "unknown message");
	expect_error("{\"t\":\"Hello\",\"v\":1}", "unknown message");
	expect_error("{\"t\":\"\"}", "unknown message");
	/* hello */
	expect_error("{\"t\":\"hello\"}", "\"v\" is missing");
	expect_error("{\"t\":\"hello\",\"v\":\"1\"}", "\"v\" is not a number");
	expect_error("{\"t\":\"hello\",\"v\":1,\"pid\":\"x\"}", "\"pid\" is not a number");
	/* start */
	expect_error("{\"t\":\"start\"}", "\"i\" is missing");
	expect_error("{\"t\":\"start\",\"i\":\"3\"}", "\"i\" is not a number");
	expect_error("{\"t\":\"start\",\"i\":[3]}", "\"i\"");
	/* result: the strings allocated before the bad field are freed. */
	expect_error("{\"t\":\"result\",\"outcome\":\"passed\"}", "\"i\" is missing");
	expect_error("{\"t\":\"result\",\"i\":1}", "outcome");
	expect_error("{\"t\":\"result\",\"i\":1,\"outcome\":\"won\"}", "unknown outcome \"won\"");
	expect_error("{\"t\":\"result\",\"i\":1,\"outcome\":\"PASSED\"}", "unknown outcome");
	expect_error("{\"t\":\"result\",\"i\":1,\"outcome\":\"not run\"}", "unknown outcome");
	expect_error("{\"t\":\"result\",\"i\":1,\"outcome\":7}", "\"outcome\" is not a string");
	expect_error("{\"t\":\"result\",\"i\":1,\"outcome\":\"passed\",\"duration\":\"1s\"}", "\"duration\"");
	expect_error("{\"t\":\"result\",\"i\":1,\"outcome\":\"passed\",\"when\":\"call\",\"longrepr\":\"x\","
		     "\"stdout\":\"o\",\"stderr\":5}",
		     "\"stderr\" is not a string");
	expect_error("{\"t\":\"result\",\"i\":1,\"outcome\":\"bogus\",\"when\":\"call\",\"longrepr\":\"x\","
		     "\"stdout\":\"o\",\"stderr\":\"e\"}",
		     "unknown outcome");
	expect_error("{\"t\":\"result\",\"i\":1,\"outcome\":\"passed\",\"when\":{}}", "\"when\"");
	/* collected */
	expect_error("{\"t\":\"collected\"}", "\"items\" is not an array");
	expect_error("{\"t\":\"collected\",\"items\":{}}", "\"items\" is not an array");
	expect_error("{\"t\":\"collected\",\"items\":[{\"id\":\"a\"},3]}", "item 1 is not an object");
	expect_error("{\"t\":\"collected\",\"items\":[{\"id\":\"a\",\"file\":\"a\"},{\"file\":\"b\"}]}", "item 1 has no id");
	expect_error("{\"t\":\"collected\",\"items\":[{\"id\":\"a\",\"file\":\"a\",\"group\":\"g\"},{\"id\":5}]}",
		     "\"id\" is not a string");
	expect_error("{\"t\":\"collected\",\"items\":[{\"id\":\"a\",\"group\":[]}]}", "\"group\" is not a string");
	/* crash / exit / error */
	expect_error("{\"t\":\"crash\",\"i\":\"3\"}", "\"i\" is not a number");
	expect_error("{\"t\":\"crash\",\"i\":3,\"reason\":\"r\",\"output\":1}", "\"output\"");
	expect_error("{\"t\":\"exit\",\"status\":\"0\"}", "\"status\"");
	expect_error("{\"t\":\"exit\",\"status\":0,\"signal\":true}", "\"signal\"");
	expect_error("{\"t\":\"error\",\"message\":1}", "\"message\" is not a string");
	/* Numbers that do not fit the integer they become. */
	expect_error("{\"t\":\"start\",\"i\":2.5}", "\"i\" is not a whole number");
	expect_error("{\"t\":\"start\",\"i\":1e300}", "\"i\" is not a whole number");
	expect_error("{\"t\":\"start\",\"i\":-1e300}", "\"i\" is not a whole number");
	expect_error("{\"t\":\"start\",\"i\":2147483648}", "\"i\" is not a whole number");
	expect_error("{\"t\":\"hello\",\"v\":1.000001}", "\"v\" is not a whole number");
	expect_error("{\"t\":\"hello\",\"v\":1,\"pid\":1e19}", "\"pid\"");
	expect_error("{\"t\":\"result\",\"i\":0.5,\"outcome\":\"passed\"}", "\"i\"");
	expect_error("{\"t\":\"crash\",\"i\":1,\"status\":1e12}", "\"status\"");
	expect_error("{\"t\":\"exit\",\"status\":0,\"signal\":9.5}", "\"signal\"");
}

static void
test_decode_int_limits(void **state)
{
	struct msg m;
	struct error *err = NULL;

	(void)state;
	assert_int_equal(decode("{\"t\":\"start\",\"i\":2147483647}", &m, &err), 0);
	assert_int_equal(m.index, 2147483647L);
	msg_release(&m);
	assert_int_equal(decode("{\"t\":\"start\",\"i\":3.0}", &m, &err), 0);
	assert_int_equal(m.index, 3);
	msg_release(&m);
	assert_int_equal(decode("{\"t\":\"start\",\"i\":1e2}", &m, &err), 0);
	assert_int_equal(m.index, 100);
	msg_release(&m);
	assert_int_equal(decode("{\"t\":\"exit\",\"status\":-2147483648}", &m, &err), 0);
	assert_int_equal(m.status, -2147483647 - 1);
	msg_release(&m);
	assert_null(err);
}

/* ---- encoder ---------------------------------------------------------- */

static void
test_encode_run(void **state)
{
	struct buf b;
	const size_t idx[] = { 1, 2, 3 };
	const size_t big[] = { 0, 18446744073709551615u };

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(msg_encode_run(&b, idx, 3), 0);
	assert_string_equal(b.data, "{\"t\":\"run\",\"i\":[1,2,3]}\n");
	buf_reset(&b);
	assert_int_equal(msg_encode_run(&b, idx, 1), 0);
	assert_string_equal(b.data, "{\"t\":\"run\",\"i\":[1]}\n");
	buf_reset(&b);
	assert_int_equal(msg_encode_run(&b, idx, 0), 0);
	assert_string_equal(b.data, "{\"t\":\"run\",\"i\":[]}\n");
	buf_reset(&b);
	assert_int_equal(msg_encode_run(&b, big, 2), 0);
	assert_string_equal(b.data, "{\"t\":\"run\",\"i\":[0,18446744073709551615]}\n");
	buf_release(&b);

	/* Too small a buffer: -1. */
	buf_init(&b, 20);
	assert_int_equal(msg_encode_run(&b, idx, 3), -1);
	buf_release(&b);
	buf_init(&b, 24); /* exactly the line */
	assert_int_equal(msg_encode_run(&b, idx, 3), 0);
	assert_int_equal(b.len, 24);
	buf_release(&b);
}

static void
test_encode_hello_bye(void **state)
{
	struct buf b;
	char want[64];
	long v = -1;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(msg_encode_hello(&b), 0);
	snprintf(want, sizeof(want), "{\"t\":\"hello\",\"v\":%d}\n", PROTO_VERSION);
	assert_string_equal(b.data, want);
	assert_memory_equal(b.data, PROTO_PFX_HELLO, strlen(PROTO_PFX_HELLO));
	/* What the agent does with it: prefix match, no JSON parser. */
	assert_true(proto_prefix_int(b.data, b.len - 1, PROTO_PFX_HELLO, &v));
	assert_int_equal(v, PROTO_VERSION);
	buf_reset(&b);
	assert_int_equal(msg_encode_bye(&b), 0);
	assert_string_equal(b.data, "{\"t\":\"bye\"}\n");
	assert_memory_equal(b.data, PROTO_PFX_BYE, strlen(PROTO_PFX_BYE));
	assert_int_equal(b.len, strlen(PROTO_PFX_BYE) + 1);
	buf_release(&b);

	buf_init(&b, 5);
	assert_int_equal(msg_encode_hello(&b), -1);
	assert_int_equal(msg_encode_bye(&b), -1);
	buf_release(&b);
}

/* Hello, run, bye in one buffer, split into lines by the same reader the
 * agent uses, then checked as the agent would see them. */
static void
test_encode_through_reader(void **state)
{
	struct buf b;
	struct proto_reader r;
	const size_t idx[] = { 5, 0, 12 };
	char *line;
	size_t len;
	long v;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(msg_encode_hello(&b), 0);
	assert_int_equal(msg_encode_run(&b, idx, 3), 0);
	assert_int_equal(msg_encode_bye(&b), 0);
	proto_reader_init(&r, PROTO_LINE_MAX);
	assert_int_equal(proto_reader_feed(&r, b.data, b.len), 0);

	assert_int_equal(proto_reader_next(&r, &line, &len), 1);
	assert_true(proto_prefix_int(line, len, PROTO_PFX_HELLO, &v));
	assert_int_equal(v, PROTO_VERSION);
	free(line);
	assert_int_equal(proto_reader_next(&r, &line, &len), 1);
	assert_string_equal(line, "{\"t\":\"run\",\"i\":[5,0,12]}");
	free(line);
	assert_int_equal(proto_reader_next(&r, &line, &len), 1);
	assert_int_equal(len, strlen(PROTO_PFX_BYE));
	assert_memory_equal(line, PROTO_PFX_BYE, len);
	free(line);
	assert_int_equal(proto_reader_next(&r, &line, &len), 0);
	proto_reader_release(&r);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_names),
		cmocka_unit_test(test_decode_hello),
		cmocka_unit_test(test_decode_event),
		cmocka_unit_test(test_decode_event_depth),
		cmocka_unit_test(test_decode_collected),
		cmocka_unit_test(test_decode_start_done),
		cmocka_unit_test(test_decode_result),
		cmocka_unit_test(test_decode_crash_exit_error),
		cmocka_unit_test(test_decode_len),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_decode_int_limits),
		cmocka_unit_test(test_encode_run),
		cmocka_unit_test(test_encode_hello_bye),
		cmocka_unit_test(test_encode_through_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
