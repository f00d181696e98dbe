/* controller.c: what is queued for the controller and when it is due to
 * be written: events batched for CONTROLLER_BATCH_MS, a running test's
 * events held until its result, bye at once, a flaky test's kind before
 * bye; and what the controller's own lines and the end of its stream
 * mean: workerinput relayed, a failure or a session that is over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller.h"
#include "proto.h"
#include "util.h"

struct fixture {
	struct worker ctl;
	struct worker w[2];
	struct controller c;
};

/* The controller only asks whether a channel is open; the queue is what
 * is looked at, so no container is needed. */
static int
setup(void **state)
{
	static char open_channel;
	struct fixture *fx = xcalloc(1, sizeof(*fx));

	worker_init(&fx->ctl, 0);
	worker_init(&fx->w[0], 0);
	worker_init(&fx->w[1], 1);
	fx->ctl.attach = (struct docker_attach *)&open_channel;
	controller_init(&fx->c, &fx->ctl, 2);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	controller_release(&fx->c);
	fx->ctl.attach = NULL;
	worker_release(&fx->ctl);
	worker_release(&fx->w[0]);
	worker_release(&fx->w[1]);
	free(fx);
	return 0;
}

static void
test_empty_is_never_due(void **state)
{
	struct fixture *fx = *state;
	int wait = 1000;

	assert_false(controller_send_due(&fx->c, util_now_ms(), &wait));
	assert_int_equal(wait, 1000);
}

static void
test_events_wait_for_the_batch(void **state)
{
	struct fixture *fx = *state;
	int64_t now = util_now_ms();
	int wait = 1000;

	controller_event(&fx->c, 0, "gw0", "\"e\":\"workerready\",\"d\":{}}", false);
	assert_true(fx->ctl.out.len > 0);
	assert_false(controller_send_due(&fx->c, now, &wait));
	assert_true(wait > 0 && wait <= CONTROLLER_BATCH_MS);
	/* A later event does not restart the batch's clock. */
	controller_event(&fx->c, 1, "gw1", "\"e\":\"workerready\",\"d\":{}}", false);
	wait = 1000;
	assert_true(controller_send_due(&fx->c, now + CONTROLLER_BATCH_MS + 5, &wait));
	assert_non_null(strstr(fx->ctl.out.data, "{\"t\":\"ev\",\"w\":\"gw0\",\"e\":\"workerready\""));
	assert_non_null(strstr(fx->ctl.out.data, "\"w\":\"gw1\""));
}

static void
test_held_until_settled(void **state)
{
	struct fixture *fx = *state;
	int wait = 1000;

	controller_event(&fx->c, 0, "gw0", "\"e\":\"logstart\",\"d\":{}}", true);
	assert_int_equal(fx->ctl.out.len, 0);
	assert_false(controller_send_due(&fx->c, util_now_ms(), &wait));
	controller_settle(&fx->c, 0, "gw0", "t.py::a", true);
	/* The rerun note comes before the test's events. */
	assert_true(strncmp(fx->ctl.out.data, "{\"t\":\"rerun\",\"w\":\"gw0\",\"id\":\"t.py::a\"}\n", 38) == 0);
	assert_non_null(strstr(fx->ctl.out.data, "\"e\":\"logstart\""));
	wait = 1000;
	assert_false(controller_send_due(&fx->c, util_now_ms(), &wait));
	assert_true(controller_send_due(&fx->c, util_now_ms() + CONTROLLER_BATCH_MS, &wait));
}

static void
test_bye_is_due_at_once(void **state)
{
	struct fixture *fx = *state;
	int wait = 1000;

	controller_event(&fx->c, 0, "gw0", "\"e\":\"logstart\",\"d\":{}}", false);
	controller_bye(&fx->c);
	assert_true(controller_send_due(&fx->c, util_now_ms(), &wait));
	assert_non_null(strstr(fx->ctl.out.data, "{\"t\":\"bye\"}"));
}

static void
test_other_lines_are_due_at_once(void **state)
{
	struct fixture *fx = *state;
	int wait = 1000;

	/* What the loop queues itself (hello) does not wait for a batch. */
	buf_printf(&fx->ctl.out, "{\"t\":\"hello\"}\n");
	assert_true(controller_send_due(&fx->c, util_now_ms(), &wait));
	/* Written: the queue is empty again, and the next event starts a
	 * batch of its own. */
	buf_reset(&fx->ctl.out);
	assert_false(controller_send_due(&fx->c, util_now_ms(), &wait));
	controller_event(&fx->c, 0, "gw0", "\"e\":\"logstart\",\"d\":{}}", false);
	wait = 1000;
	assert_false(controller_send_due(&fx->c, util_now_ms(), &wait));
}

static void
test_flaky_before_bye(void **state)
{
	struct fixture *fx = *state;
	const char *on[] = { "gw1" };

	/* A flaky test's kind goes before bye (the controller's junitxml
	 * writes it at its session's end), its node id as a JSON string. */
	controller_flaky(&fx->c, "t.py::test_a[\"x\"]", "order-dependent", on, 1);
	controller_bye(&fx->c);
	assert_string_equal(fx->ctl.out.data,
			    "{\"t\":\"flaky\",\"id\":\"t.py::test_a[\\\"x\\\"]\",\"kind\":\"order-dependent\","
			    "\"failed_on\":[\"gw1\"]}\n{\"t\":\"bye\"}\n");
	/* After bye nothing more is queued. */
	controller_flaky(&fx->c, "t.py::b", "true", NULL, 0);
	assert_null(strstr(fx->ctl.out.data, "t.py::b"));
}

/* Lines from the controller, in order, then (with gone) the end of its
 * stream. Both slots were admitted (hello queued) before the first line. */
struct ctl_row {
	const char *what;
	const char *lines[3];
	bool gone;
	const char *failure; /* what the failure says; NULL: none */
	const char *gw0;     /* gw0's queue afterwards; NULL: empty */
};

#define STREAM_ENDED "its container stopped"
#define INPUT_K "{\"t\":\"input\",\"w\":\"gw0\",\"input\":{\"k\":1}}"

static const struct ctl_row ctl_rows[] = {
	{ "workerinput relayed to its worker", { INPUT_K }, false, NULL, "{\"t\":\"input\",\"input\":{\"k\":1}}\n" },
	{ "workerinput for a slot the run lacks", { "{\"t\":\"input\",\"w\":\"gw2\",\"input\":{}}" }, false,
	  "workerinput for a worker this run does not have", NULL },
	{ "workerinput for no worker's name", { "{\"t\":\"input\",\"w\":\"x0\",\"input\":{}}" }, false,
	  "workerinput for a worker this run does not have", NULL },
	/* pytest's verdicts on the tests end its session: the stream's end
	 * that follows is no failure. */
	{ "exit 0, then the end", { "{\"t\":\"exit\",\"status\":0}" }, true, NULL, "{\"t\":\"input\",\"input\":{}}\n" },
	{ "exit 1, then the end", { INPUT_K, "{\"t\":\"exit\",\"status\":1}" }, true, NULL,
	  "{\"t\":\"input\",\"input\":{\"k\":1}}\n" },
	{ "exit 2, then the end", { "{\"t\":\"exit\",\"status\":2}" }, true, NULL, "{\"t\":\"input\",\"input\":{}}\n" },
	{ "exit 5, then the end", { "{\"t\":\"exit\",\"status\":5}" }, true, NULL, "{\"t\":\"input\",\"input\":{}}\n" },
	/* Not a verdict: the stream's end is the failure. */
	{ "exit 3, then the end", { "{\"t\":\"exit\",\"status\":3}" }, true, STREAM_ENDED,
	  "{\"t\":\"input\",\"input\":{}}\n" },
	{ "exit 4, then the end", { "{\"t\":\"exit\",\"status\":4}" }, true, STREAM_ENDED,
	  "{\"t\":\"input\",\"input\":{}}\n" },
	{ "done, then the end", { "{\"t\":\"done\"}" }, true, NULL, NULL },
	{ "the end, nothing said", { NULL }, true, STREAM_ENDED, NULL },
	{ "the end after workerinput", { INPUT_K }, true, STREAM_ENDED, "{\"t\":\"input\",\"input\":{\"k\":1}}\n" },
	{ "hello of its agent", { "{\"t\":\"hello\",\"v\":" "5" ",\"pid\":1}" }, false, NULL, NULL },
	{ "hello of another protocol", { "{\"t\":\"hello\",\"v\":999,\"pid\":1}" }, false,
	  "its agent speaks another protocol version", NULL },
	{ "a worker's ev", { "{\"t\":\"ev\",\"e\":\"logstart\",\"d\":{}}" }, false, "it sent a worker's message", NULL },
	{ "a worker's start", { "{\"t\":\"start\",\"i\":0}" }, false, "it sent a worker's message", NULL },
	{ "crash", { "{\"t\":\"crash\",\"i\":-1,\"status\":1,\"signal\":0,\"reason\":\"segv\"}" }, false,
	  "pytest died: segv", NULL },
	{ "its agent's error", { "{\"t\":\"error\",\"message\":\"no\"}" }, false, "agent: no", NULL },
	/* The first failure is the one told. */
	{ "a failure, then the end", { "{\"t\":\"error\",\"message\":\"no\"}" }, true, "agent: no", NULL },
};

static void
check_ctl_row(const struct ctl_row *row)
{
	struct fixture *fx;

	print_message("%s\n", row->what);
	setup((void **)&fx);
	controller_worker_started(&fx->c, 0);
	controller_worker_started(&fx->c, 1);
	controller_worker_admitted(&fx->c, 0, &fx->w[0].out);
	controller_worker_admitted(&fx->c, 1, &fx->w[1].out);
	for (size_t i = 0; i < ARRAY_SIZE(row->lines) && row->lines[i]; i++) {
		struct error *err = NULL;
		struct msg m;

		if (msg_decode(row->lines[i], strlen(row->lines[i]), &m, &err) < 0)
			fail_msg("test line does not decode: %s: %s", row->lines[i], err->msg);
		controller_handle(&fx->c, &m, fx->w);
		msg_release(&m);
	}
	if (row->gone)
		controller_gone(&fx->c, STREAM_ENDED);
	if (row->failure)
		assert_string_equal(fx->c.failure, row->failure);
	else
		assert_null(fx->c.failure);
	if (row->gw0)
		assert_string_equal(fx->w[0].out.len ? fx->w[0].out.data : "", row->gw0);
	else
		assert_int_equal(fx->w[0].out.len, 0);
	teardown((void **)&fx);
}

static void
test_controller_lines_and_its_end(void **state)
{
	(void)state;
	assert_int_equal(PROTO_VERSION, 5); /* the hello row spells it */
	for (size_t r = 0; r < ARRAY_SIZE(ctl_rows); r++)
		check_ctl_row(&ctl_rows[r]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_is_never_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_wait_for_the_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_until_settled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bye_is_due_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_lines_are_due_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flaky_before_bye, setup, teardown),
		cmocka_unit_test(test_controller_lines_and_its_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
