/* timeline.c: the page has one row per worker whatever the number of
 * lanes (replaced containers, rerun rounds), a bar per test with its hover
 * text, hostile node ids escaped, nothing external; the JSON's phases and
 * critical path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "report.h"
#include "sequence.h"
#include "timeline.h"

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void
make(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->run_id = xstrdup("r1");
	r->wall = 3.0;
	r->startup = 1.0;
	report_phase(r, "engine", 0.1);
	report_phase(r, "containers_start", 0.6);
	r->nworkers = 3;
	r->workers = xcalloc(3, sizeof(*r->workers));
	for (int i = 0; i < 3; i++)
		snprintf(r->workers[i].name, sizeof(r->workers[i].name), "gw%d", i);
	r->seq = xcalloc(1, sizeof(*r->seq));
	sequence_init(r->seq, 3);
	sequence_open(r->seq, 0, "gw0", "c0", NULL, 100);
	sequence_open(r->seq, 1, "gw1", "c1", NULL, 100);
	sequence_collected(r->seq, 0, 900);
	sequence_collected(r->seq, 1, 950);
	sequence_start(r->seq, 0, "t.py::test_<b>&\"x\"", 1000);
	sequence_end(r->seq, 0, "t.py::test_<b>&\"x\"", OUTCOME_FAILED, 1500);
	sequence_start(r->seq, 1, "t.py::a", 1000);
	sequence_end(r->seq, 1, "t.py::a", OUTCOME_PASSED, 1200);
	/* gw1 replaced: a second lane on the same row. */
	sequence_open(r->seq, 1, "gw1", "c2", NULL, 1300);
	sequence_start(r->seq, 1, "t.py::c", 2000);
	sequence_end(r->seq, 1, "t.py::c", OUTCOME_PASSED, 2800);
}

static void
test_html(void **state)
{
	struct report r;
	struct buf b;
	struct error *err = NULL;

	(void)state;
	make(&r);
	buf_init(&b, 1 << 20);
	assert_int_equal(timeline_html(&r, &b, &err), 0);
	assert_int_equal(count(b.data, "<g class=\"worker\""), 3); /* gw2 ran nothing: an empty row */
	assert_int_equal(count(b.data, "class=\"test "), 3);
	assert_int_equal(count(b.data, "class=\"test failed"), 1);
	assert_non_null(strstr(b.data, "<title>t.py::test_&lt;b&gt;&amp;&quot;x&quot; \xe2\x80\x94 failed, 0.500 s</title>"));
	assert_null(strstr(b.data, "test_<b>"));
	/* The critical path is gw1's second lane: its bar is outlined. */
	assert_int_equal(count(b.data, "class=\"test passed crit\""), 1);
	assert_non_null(strstr(b.data, "Critical path: gw1"));
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "http"));
	assert_null(strstr(b.data, "src="));
	buf_release(&b);
	report_release(&r);
}

static void
test_json(void **state)
{
	struct report r;
	cJSON *j, *ph, *cp;

	(void)state;
	make(&r);
	j = timeline_json(&r);
	ph = cJSON_GetObjectItem(j, "phases");
	assert_int_equal(cJSON_GetArraySize(ph), 2);
	assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(ph, 1), "start")->valuedouble == 0.1);
	assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(ph, 1), "end")->valuedouble == 0.7);
	cp = cJSON_GetObjectItem(j, "critical_path");
	assert_string_equal(cJSON_GetObjectItem(cp, "worker")->valuestring, "gw1");
	assert_true(cJSON_GetObjectItem(cp, "end")->valuedouble == 2.8);
	assert_int_equal(cJSON_GetObjectItem(cp, "tests")->valueint, 1);
	cJSON_Delete(j);
	report_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
