/* gc's judgement of whether a run's orchestrator is alive: the owner label
 * names host, pid and start time, so a recycled pid is not mistaken for
 * the original process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gc.h"

static void
test_self_is_alive(void **state)
{
	cleanup_free char *me = gc_owner_self();

	(void)state;
	assert_true(gc_owner_alive(me));
}

static void
test_wrong_start_time_is_dead(void **state)
{
	cleanup_free char *me = gc_owner_self();
	cleanup_free char *other = NULL;
	char *last = strrchr(me, ':');
	unsigned long long st = strtoull(last + 1, NULL, 10);

	(void)state;
	*last = '\0';
	other = xasprintf("%s:%llu", me, st + 12345);
	assert_false(gc_owner_alive(other));
}

static void
test_start_time_is_field_22(void **state)
{
	cleanup_free char *me = gc_owner_self();
	char buf[4096];
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;
	char *p;
	unsigned long long want = 0;

	(void)state;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')') + 2; /* field 3 */
	for (int field = 3; field < 22; field++)
		p = strchr(p, ' ') + 1;
	want = strtoull(p, NULL, 10);
	assert_int_equal(strtoull(strrchr(me, ':') + 1, NULL, 10), want);
}

static void
test_dead_pid_is_dead(void **state)
{
	char host[256];
	cleanup_free char *owner = NULL;

	(void)state;
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	/* pid_max is at most 2^22: this pid cannot exist. */
	owner = xasprintf("%s:%d:1", host, 1 << 23);
	assert_false(gc_owner_alive(owner));
}

static void
test_other_host_counts_as_alive(void **state)
{
	(void)state;
	assert_true(gc_owner_alive("some-other-host.invalid:1:1"));
}

static void
test_malformed_is_dead(void **state)
{
	(void)state;
	assert_false(gc_owner_alive(NULL));
	assert_false(gc_owner_alive(""));
	assert_false(gc_owner_alive("nocolons"));
	assert_false(gc_owner_alive(":"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_is_alive),
		cmocka_unit_test(test_wrong_start_time_is_dead),
		cmocka_unit_test(test_start_time_is_field_22),
		cmocka_unit_test(test_dead_pid_is_dead),
		cmocka_unit_test(test_other_host_counts_as_alive),
		cmocka_unit_test(test_malformed_is_dead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
