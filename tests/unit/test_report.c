/* report.c: counts, pytest's summary wording and exit codes, the JSON
 * report read back with cJSON, JUnit XML with hostile node ids parsed by a
 * real XML parser (python3's), and report_save. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "report.h"

static char *
dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
report_add(struct report *r, const char *id, enum outcome o, int worker, double duration)
{
	struct report_test *t;

	r->tests = xrealloc(r->tests, (r->ntests + 1) * sizeof(*r->tests));
	t = &r->tests[r->ntests++];
	memset(t, 0, sizeof(*t));
	t->id = xstrdup(id);
	t->file = xstrndup(id, strcspn(id, ":"));
	t->outcome = o;
	t->worker = worker;
	t->duration = duration;
}

static void
report_add_worker(struct report *r, const char *name, const char *db, const char *container, size_t tests)
{
	struct report_worker *w;

	r->workers = xrealloc(r->workers, (r->nworkers + 1) * sizeof(*r->workers));
	w = &r->workers[r->nworkers++];
	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->database = dup0(db);
	w->container = dup0(container);
	w->tests = tests;
}

static void
report_add_collect_error(struct report *r, const char *text)
{
	r->collect_errors = xrealloc(r->collect_errors, (r->ncollect_errors + 1) * sizeof(char *));
	r->collect_errors[r->ncollect_errors++] = xstrdup(text);
}

/* The mix from pytest's own summary line example. */
static void
mixed_report(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->run_id = xstrdup("run-1234");
	r->image = xstrdup("xdock/python:bookworm");
	r->dist = "load";
	r->wall = 0.12;
	r->startup = 0.05;
	r->started_unix = 1700000000;
	report_add_worker(r, "gw0", "test_db_gw0", "4f2a00000000000000000000000000000000000000000000000000000000abcd", 5);
	report_add_worker(r, "gw1", NULL, NULL, 3);
	report_add(r, "tests/test_a.py::TestC::test_x[1]", OUTCOME_PASSED, 0, 0.01);
	report_add(r, "tests/test_a.py::TestC::test_x[2]", OUTCOME_FAILED, 1, 0.02);
	report_add(r, "tests/test_a.py::test_skip", OUTCOME_SKIPPED, 0, 0.0);
	report_add(r, "tests/test_b.py::test_p", OUTCOME_PASSED, 1, 0.03);
	report_add(r, "tests/test_b.py::test_xf", OUTCOME_XFAILED, 0, 0.04);
	report_add(r, "tests/test_b.py::test_xp", OUTCOME_XPASSED, 0, 0.05);
	report_add(r, "tests/test_b.py::test_e", OUTCOME_ERROR, 1, 0.06);
	report_add(r, "tests/test_c.py::test_q", OUTCOME_PASSED, 0, 0.07);
	r->tests[1].longrepr = xstrdup("E   assert 1 == 2");
	r->tests[1].when = xstrdup("call");
	r->tests[1].out = xstrdup("printed\n");
	r->tests[6].longrepr = xstrdup("fixture 'db' not found");
	r->tests[6].when = xstrdup("setup");
}

static char *
summary_of(const struct report *r)
{
	struct buf b;

	buf_init(&b, 4096);
	report_summary(r, &b);
	return buf_steal(&b);
}

static void
test_counts(void **state)
{
	struct report r;
	size_t c[OUTCOME__COUNT];

	(void)state;
	mixed_report(&r);
	report_counts(&r, c);
	assert_int_equal(c[OUTCOME_NONE], 0);
	assert_int_equal(c[OUTCOME_PASSED], 3);
	assert_int_equal(c[OUTCOME_FAILED], 1);
	assert_int_equal(c[OUTCOME_ERROR], 1);
	assert_int_equal(c[OUTCOME_SKIPPED], 1);
	assert_int_equal(c[OUTCOME_XFAILED], 1);
	assert_int_equal(c[OUTCOME_XPASSED], 1);
	assert_int_equal(c[OUTCOME_CRASHED], 0);
	assert_int_equal(c[OUTCOME_TIMEOUT], 0);
	report_release(&r);
	assert_null(r.tests);
	assert_int_equal(r.ntests, 0);
}

static void
test_summary(void **state)
{
	struct report r;
	char *s;

	(void)state;
	mixed_report(&r);
	s = summary_of(&r);
	assert_string_equal(s, "1 failed, 3 passed, 1 skipped, 1 xfailed, 1 xpassed, 1 error in 0.12s");
	free(s);

	/* Plural of error; the extra kinds after pytest's; no zero counts. */
	report_add(&r, "t.py::e2", OUTCOME_ERROR, 0, 0);
	report_add(&r, "t.py::c", OUTCOME_CRASHED, 0, 0);
	report_add(&r, "t.py::t", OUTCOME_TIMEOUT, 0, 0);
	report_add(&r, "t.py::n1", OUTCOME_NONE, -1, 0);
	report_add(&r, "t.py::n2", OUTCOME_NONE, -1, 0);
	r.wall = 61.25;
	s = summary_of(&r);
	assert_string_equal(s, "1 failed, 3 passed, 1 skipped, 1 xfailed, 1 xpassed, 2 errors, 1 crashed, 1 timeout, "
			       "2 not run in 61.25s");
	free(s);
	report_release(&r);

	/* Only passes. */
	memset(&r, 0, sizeof(r));
	report_add(&r, "t.py::a", OUTCOME_PASSED, 0, 0);
	report_add(&r, "t.py::b", OUTCOME_PASSED, 0, 0);
	r.wall = 1.5;
	s = summary_of(&r);
	assert_string_equal(s, "2 passed in 1.50s");
	free(s);
	report_release(&r);

	/* Nothing. */
	memset(&r, 0, sizeof(r));
	r.wall = 0.5;
	s = summary_of(&r);
	assert_string_equal(s, "no tests ran in 0.50s");
	free(s);

	/* Collection errors. */
	report_add_collect_error(&r, "ImportError while importing test module");
	s = summary_of(&r);
	assert_string_equal(s, "1 error during collection in 0.50s");
	free(s);
	report_add_collect_error(&r, "SyntaxError");
	report_add(&r, "t.py::a", OUTCOME_PASSED, 0, 0);
	s = summary_of(&r);
	assert_string_equal(s, "1 passed, 2 errors during collection in 0.50s");
	free(s);
	report_release(&r);
}

static int
exit_code_of(const enum outcome *o, size_t n, size_t ncollect_errors)
{
	struct report r;
	int code;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < n; i++)
		report_add(&r, "t.py::x", o[i], 0, 0);
	for (size_t i = 0; i < ncollect_errors; i++)
		report_add_collect_error(&r, "boom");
	code = report_exit_code(&r);
	report_release(&r);
	return code;
}

static void
test_exit_code(void **state)
{
	static const enum outcome ok[] = { OUTCOME_PASSED, OUTCOME_SKIPPED, OUTCOME_XFAILED, OUTCOME_XPASSED };
	static const enum outcome bad[] = { OUTCOME_FAILED, OUTCOME_ERROR, OUTCOME_CRASHED, OUTCOME_TIMEOUT };

	(void)state;
	assert_int_equal(exit_code_of(NULL, 0, 0), EXIT_NO_TESTS);
	assert_int_equal(EXIT_NO_TESTS, 5);
	assert_int_equal(exit_code_of(ok, ARRAY_SIZE(ok), 0), EXIT_OK);
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		assert_int_equal(exit_code_of(&ok[i], 1, 0), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		enum outcome mix[] = { OUTCOME_PASSED, bad[i], OUTCOME_SKIPPED };

		assert_int_equal(exit_code_of(&bad[i], 1, 0), 1);
		assert_int_equal(exit_code_of(mix, 3, 0), 1);
	}
	/* Collection errors fail the run (pytest-xdist's 1, not plain
	 * pytest's 2), with or without tests. */
	assert_int_equal(exit_code_of(NULL, 0, 1), 1);
	assert_int_equal(exit_code_of(ok, 2, 1), 1);
	assert_int_equal(exit_code_of(bad, 2, 3), 1);
}

static const cJSON *
get(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		fail_msg("no \"%s\" in the JSON report", key);
	return v;
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

/* The JSON report as text in b, through a memory stream. */
static void
json_text(const struct report *r, struct buf *b)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct error *err = NULL;

	assert_non_null(f);
	assert_int_equal(report_json(r, f, &err), 0);
	assert_null(err);
	assert_int_equal(fclose(f), 0);
	buf_init(b, len + 1);
	assert_int_equal(buf_append(b, text, len), 0);
	free(text);
}

static void
test_json(void **state)
{
	struct report r;
	struct buf b;
	struct error *err = NULL;
	cJSON *root;
	const cJSON *summary, *tests, *workers, *t, *w;
	static const char *const hostile = "tests/t.py::test_q[\"<&'>\\\x01\x1f \xf0\x9f\x98\x80]";

	(void)state;
	mixed_report(&r);
	r.exit_code = 1;
	report_add(&r, hostile, OUTCOME_NONE, -1, 0);
	r.tests[8].reason = xstrdup("not run: stopped after 1 failure");
	report_add_collect_error(&r, "collect \"boom\"");
	/* No result yet: null, not a time of 0. */
	json_text(&r, &b);
	root = cJSON_ParseWithLength(b.data, b.len);
	assert_non_null(root);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(root, "first_result")));
	cJSON_Delete(root);
	buf_release(&b);
	r.first_result = 0.045;
	json_text(&r, &b);
	assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
	assert_null(memchr(b.data, '\n', b.len - 1)); /* one line */
	root = cJSON_ParseWithLength(b.data, b.len);
	assert_non_null(root);

	assert_string_equal(str(root, "tool"), "xdock");
	assert_string_equal(str(root, "version"), XDOCK_VERSION);
	assert_string_equal(str(root, "run_id"), "run-1234");
	assert_string_equal(str(root, "image"), "xdock/python:bookworm");
	assert_string_equal(str(root, "dist"), "load");
	assert_true(num(root, "exit_code") == 1);
	assert_true(num(root, "duration") > 0.1199 && num(root, "duration") < 0.1201);
	assert_true(num(root, "first_result") > 0.0449 && num(root, "first_result") < 0.0451);

	summary = get(root, "summary");
	assert_true(num(summary, "collected") == 9);
	assert_true(num(summary, "passed") == 3);
	assert_true(num(summary, "failed") == 1);
	assert_true(num(summary, "skipped") == 1);
	assert_true(num(summary, "error") == 1);
	assert_true(num(summary, "xfailed") == 1);
	assert_true(num(summary, "xpassed") == 1);
	assert_true(num(summary, "crashed") == 0);
	assert_true(num(summary, "timeout") == 0);
	assert_true(num(summary, "not_run") == 1);

	tests = get(root, "tests");
	assert_true(cJSON_IsArray(tests));
	assert_int_equal(cJSON_GetArraySize(tests), 9);
	t = cJSON_GetArrayItem(tests, 1);
	assert_string_equal(str(t, "nodeid"), "tests/test_a.py::TestC::test_x[2]");
	assert_string_equal(str(t, "outcome"), "failed");
	assert_string_equal(str(t, "worker"), "gw1");
	assert_true(num(t, "duration") > 0.0199 && num(t, "duration") < 0.0201);
	assert_string_equal(str(t, "longrepr"), "E   assert 1 == 2");
	assert_string_equal(str(t, "when"), "call");
	assert_string_equal(str(t, "stdout"), "printed\n");
	t = cJSON_GetArrayItem(tests, 0);
	assert_string_equal(str(t, "worker"), "gw0");
	assert_string_equal(str(t, "outcome"), "passed");
	assert_null(cJSON_GetObjectItemCaseSensitive(t, "longrepr"));
	t = cJSON_GetArrayItem(tests, 8);
	assert_string_equal(str(t, "nodeid"), hostile); /* byte for byte */
	assert_string_equal(str(t, "outcome"), "not run");
	assert_true(cJSON_IsNull(get(t, "worker")));
	assert_string_equal(str(t, "reason"), "not run: stopped after 1 failure");

	workers = get(root, "workers");
	assert_int_equal(cJSON_GetArraySize(workers), 2);
	w = cJSON_GetArrayItem(workers, 0);
	assert_string_equal(str(w, "name"), "gw0");
	assert_string_equal(str(w, "database"), "test_db_gw0");
	assert_int_equal(strlen(str(w, "container")), 64);
	assert_true(num(w, "tests") == 5);
	w = cJSON_GetArrayItem(workers, 1);
	assert_string_equal(str(w, "name"), "gw1");
	assert_true(cJSON_IsNull(get(w, "database")));
	assert_true(cJSON_IsNull(get(w, "container")));
	assert_true(num(w, "tests") == 3);
	assert_string_equal(cJSON_GetArrayItem(get(root, "collection_errors"), 0)->valuestring, "collect \"boom\"");
	cJSON_Delete(root);

	/* A full disk is an error, never a cut report called written. */
	{
		FILE *full = fopen("/dev/full", "w");

		assert_non_null(full);
		assert_int_equal(report_json(&r, full, &err), -1);
		assert_non_null(err);
		assert_int_equal(err->status, EXIT_INTERNAL);
		assert_non_null(strstr(err->msg, "json report"));
		error_free(err);
		err = NULL;
		fclose(full);
	}
	buf_release(&b);
	report_release(&r);
}

static char *
junit_of(const struct report *r)
{
	struct buf b;
	struct error *err = NULL;

	buf_init(&b, 1 << 20);
	assert_int_equal(report_junit(r, &b, &err), 0);
	assert_null(err);
	return buf_steal(&b);
}

static void
expect_in(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("expected to find %s in:\n%s", needle, hay);
}

/* Parses the XML with python3's expat-based parser and checks the number
 * of test cases and of failure/error/skipped elements. */
static void
xml_parses(const char *xml, int ncases, int nfail, int nerror, int nskip)
{
	char path[] = "/tmp/xdock-test-junit-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	char *cmd;
	int rc;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(xml, 1, strlen(xml), f), strlen(xml));
	assert_int_equal(fclose(f), 0);
	cmd = xasprintf("python3 -c 'import xml.etree.ElementTree as E,sys\n"
			"r=E.parse(sys.argv[1]).getroot()\n"
			"c=lambda t: len(r.findall(\".//\"+t))\n"
			"got=(c(\"testcase\"),c(\"failure\"),c(\"error\"),c(\"skipped\"))\n"
			"want=tuple(map(int,sys.argv[2:]))\n"
			"sys.exit(0 if got==want else print(got,want) or 1)' %s %d %d %d %d",
			path, ncases, nfail, nerror, nskip);
	rc = system(cmd);
	free(cmd);
	unlink(path);
	if (rc != 0)
		fail_msg("python3 could not parse the JUnit XML (or counts differ): status %d\n%s", rc, xml);
}

static void
test_junit(void **state)
{
	struct report r;
	char *xml;

	(void)state;
	mixed_report(&r);
	xml = junit_of(&r);
	{
		static const char head[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites><testsuite ";

		assert_memory_equal(xml, head, strlen(head));
	}
	expect_in(xml, "<testsuite name=\"xdock\" errors=\"1\" failures=\"1\" skipped=\"2\" tests=\"8\" time=\"0.120\" "
		       "timestamp=\"2023-11-14T22:13:20\">");
	/* pytest's classname/name split. */
	expect_in(xml, "<testcase classname=\"tests.test_a.TestC\" name=\"test_x[1]\" file=\"tests/test_a.py\" "
		       "time=\"0.010\" worker=\"gw0\"/>");
	expect_in(xml, "<testcase classname=\"tests.test_a.TestC\" name=\"test_x[2]\" file=\"tests/test_a.py\" "
		       "time=\"0.020\" worker=\"gw1\"><failure message=\"failed\">E   assert 1 == 2</failure>"
		       "<system-out>printed\n</system-out></testcase>");
	expect_in(xml, "<testcase classname=\"tests.test_a\" name=\"test_skip\"");
	expect_in(xml, "<testcase classname=\"tests.test_b\" name=\"test_e\" file=\"tests/test_b.py\" time=\"0.060\" "
		       "worker=\"gw1\"><error message=\"error\">fixture &apos;db&apos; not found</error></testcase>");
	expect_in(xml, "name=\"test_xf\" file=\"tests/test_b.py\" time=\"0.040\" worker=\"gw0\"><skipped ");
	assert_null(strstr(xml, "name=\"test_xp\" file=\"tests/test_b.py\" time=\"0.050\" worker=\"gw0\"><"));
	assert_string_equal(xml + strlen(xml) - strlen("</testsuite></testsuites>\n"), "</testsuite></testsuites>\n");
	xml_parses(xml, 8, 1, 1, 2);
	free(xml);
	report_release(&r);
}

static void
test_junit_names(void **state)
{
	static const struct {
		const char *id, *classname, *name;
	} cases[] = {
		{ "tests/test_a.py::TestC::test_x[1]", "tests.test_a.TestC", "test_x[1]" },
		{ "test_a.py::test_x", "test_a", "test_x" },
		{ "a/b/test_c.py::T::U::test[x::y.py::z]", "a.b.test_c.T.U", "test[x::y.py::z]" },
		{ "tests/test_m.py::test_p[a/b::c]", "tests.test_m", "test_p[a/b::c]" },
		{ "pkg.sub/test_d.py::TestD::test", "pkg.sub.test_d.TestD", "test" },
	};
	struct report r;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		report_add(&r, cases[i].id, OUTCOME_PASSED, -1, 0);
	{
		char *xml = junit_of(&r);

		for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
			char *want = xasprintf("<testcase classname=\"%s\" name=\"%s\" file=", cases[i].classname,
					       cases[i].name);

			expect_in(xml, want);
			free(want);
		}
		assert_null(strstr(xml, "worker=")); /* never ran: no worker */
		xml_parses(xml, (int)ARRAY_SIZE(cases), 0, 0, 0);
		free(xml);
	}
	report_release(&r);
}

/* Node ids and output a test suite can produce: quotes, markup, control
 * characters, emoji, the two non-characters XML forbids, broken UTF-8. */
static void
test_junit_hostile(void **state)
{
	struct report r;
	char *xml;

	(void)state;
	memset(&r, 0, sizeof(r));
	report_add_worker(&r, "gw0", NULL, NULL, 4);
	report_add(&r, "t/x.py::test_q[\"<&'>]", OUTCOME_FAILED, 0, 0.5);
	r.tests[0].longrepr = xstrdup("E   assert '<a href=\"x\">' == ']]>' & 1\x01\x02\x1b[31m\ttab\r\n");
	r.tests[0].out = xstrdup("out \xf0\x9f\x98\x80 \x0b\x0c");
	r.tests[0].err = xstrdup("err \x7f");
	report_add(&r, "t/x.py::test_emoji[\xf0\x9f\x98\x80-\xc3\xa9]", OUTCOME_SKIPPED, 0, 0);
	r.tests[1].longrepr = xstrdup("skip: \xef\xbf\xbe and \xef\xbf\xbf");
	report_add(&r, "t/x.py::test_ctl[\x01\x1f]", OUTCOME_ERROR, 0, 0);
	r.tests[2].longrepr = xstrdup("bad utf-8: \xff\xfe \xc3( \xed\xa0\x80 \xf0\x9f\x98");
	report_add(&r, "t/x.py::test_none", OUTCOME_NONE, -1, 0);
	r.tests[3].reason = xstrdup("not run: stopped <after> \"1\" failure");
	report_add_collect_error(&r, "ERROR collecting t/y.py: <&>\x07");
	xml = junit_of(&r);
	expect_in(xml, "name=\"test_q[&quot;&lt;&amp;&apos;&gt;]\"");
	expect_in(xml, "&lt;a href=&quot;x&quot;&gt;&apos; == &apos;]]&gt;&apos; &amp; 1\\x01\\x02\\x1b[31m\ttab\r\n");
	expect_in(xml, "name=\"test_emoji[\xf0\x9f\x98\x80-\xc3\xa9]\""); /* kept */
	expect_in(xml, "name=\"test_ctl[\\x01\\x1f]\"");
	expect_in(xml, "<skipped message=\"not run: stopped &lt;after&gt; &quot;1&quot; failure\">");
	expect_in(xml, "<error message=\"collection failure\">ERROR collecting t/y.py: &lt;&amp;&gt;\\x07</error>");
	expect_in(xml, ">skip: \\xef\\xbf\\xbe and \\xef\\xbf\\xbf</skipped>");
	expect_in(xml, ">bad utf-8: \\xff\\xfe \\xc3( \\xed\\xa0\\x80 \\xf0\\x9f\\x98</error>");
	expect_in(xml, "<system-out>out \xf0\x9f\x98\x80 \\x0b\\x0c</system-out><system-err>err \x7f</system-err>");
	assert_null(strchr(xml, '\x01'));
	/* errors: 1 test error + 1 collection error; skipped: skip + not run. */
	expect_in(xml, "errors=\"2\" failures=\"1\" skipped=\"2\" tests=\"4\"");
	xml_parses(xml, 5, 1, 2, 2);
	free(xml);
	report_release(&r);
}

/* Any buffer too small for the whole document: -1, never a document that
 * looks complete with something missing. */
static void
test_junit_cap(void **state)
{
	struct report r;
	char *full;
	size_t len;

	(void)state;
	mixed_report(&r);
	report_add_collect_error(&r, "a collection error long enough to matter in the middle of things");
	full = junit_of(&r);
	len = strlen(full);
	for (size_t cap = 0; cap < len; cap++) {
		struct buf b;
		struct error *err = NULL;
		int rc;

		buf_init(&b, cap);
		rc = report_junit(&r, &b, &err);
		if (rc != -1)
			fail_msg("cap %zu of %zu: returned %d with %zu bytes", cap, len, rc, b.len);
		assert_non_null(err);
		error_free(err);
		buf_release(&b);
	}
	{
		struct buf b;
		struct error *err = NULL;

		buf_init(&b, len);
		assert_int_equal(report_junit(&r, &b, &err), 0);
		assert_string_equal(b.data, full);
		buf_release(&b);
	}
	free(full);
	report_release(&r);
}

static void
test_save(void **state)
{
	char dir[] = "/tmp/xdock-test-report-XXXXXX";
	char *path, *bad, got[64];
	struct buf b;
	struct error *err = NULL;
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/report.json", dir);
	bad = xasprintf("%s/missing/report.json", dir);
	buf_init(&b, 64);
	assert_int_equal(buf_printf(&b, "{\"a\":1}\n"), 0);
	assert_int_equal(report_save(path, &b, &err), 0);
	assert_null(err);
	/* Replaces an existing file. */
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "second\n"), 0);
	assert_int_equal(report_save(path, &b, &err), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(got, 1, sizeof(got), f);
	fclose(f);
	assert_int_equal(n, 7);
	assert_memory_equal(got, "second\n", 7);
	/* A directory that does not exist: an error naming the path. */
	assert_int_equal(report_save(bad, &b, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, bad));
	error_free(err);
	err = NULL;
	/* The JSON report the same way: whole, parseable, into place. */
	{
		struct report r;
		char *jpath = xasprintf("%s/run.json", dir);
		cJSON *root;
		char *text;

		mixed_report(&r);
		assert_int_equal(report_save_json(jpath, &r, &err), 0);
		assert_null(err);
		f = fopen(jpath, "r");
		assert_non_null(f);
		text = xcalloc(1, 1 << 16);
		n = fread(text, 1, (1 << 16) - 1, f);
		fclose(f);
		root = cJSON_ParseWithLength(text, n);
		assert_non_null(root);
		assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(root, "tests")) == (int)r.ntests);
		cJSON_Delete(root);
		free(text);
		assert_int_equal(report_save_json(bad, &r, &err), -1);
		assert_non_null(err);
		assert_non_null(strstr(err->msg, bad));
		error_free(err);
		unlink(jpath);
		free(jpath);
		report_release(&r);
	}
	/* No temporary file left behind. */
	{
		char *cmd = xasprintf("test $(ls -A %s | wc -l) -eq 1", dir);

		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(bad);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_junit),
		cmocka_unit_test(test_junit_names),
		cmocka_unit_test(test_junit_hostile),
		cmocka_unit_test(test_junit_cap),
		cmocka_unit_test(test_save),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
