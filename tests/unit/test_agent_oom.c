/* agent/oom.c: the cgroup's oom_kill counter read from the two file
 * layouts (cgroup v2 memory.events, v1 memory.oom_control). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "oom.h"
#include "util.h"

static char *
write_file(const char *text)
{
	char *path = xstrdup("/tmp/xdock-test-oom.XXXXXX");
	int fd = mkstemp(path);
	size_t n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static long
counter_of(const char *text)
{
	cleanup_free char *path = write_file(text);
	long v = oom_counter(path);

	unlink(path);
	return v;
}

static void
test_v2_memory_events(void **state)
{
	(void)state;
	assert_int_equal(counter_of("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"), 2);
	assert_int_equal(counter_of("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"), 0);
	/* Last line without a newline. */
	assert_int_equal(counter_of("oom 1\noom_kill 41"), 41);
}

/* v1 puts oom_kill_disable first: its prefix must not be taken for
 * oom_kill. */
static void
test_v1_oom_control(void **state)
{
	(void)state;
	assert_int_equal(counter_of("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n"), 7);
	assert_int_equal(counter_of("oom_kill_disable 1\nunder_oom 0\n"), -1);
}

static void
test_missing(void **state)
{
	(void)state;
	assert_int_equal(oom_counter("/nonexistent/memory.events"), -1);
	assert_int_equal(counter_of(""), -1);
	assert_int_equal(counter_of("oom 3\nmax 2\n"), -1);
	/* A key that only starts like it. */
	assert_int_equal(counter_of("xoom_kill 5\n"), -1);
}

/* Past the 1 KiB read: not found, and no read beyond the buffer. */
static void
test_long_file(void **state)
{
	char text[4096];

	(void)state;
	memset(text, 'x', sizeof(text));
	text[1500] = '\n';
	memcpy(text + 1501, "oom_kill 9\n", 11);
	text[1512] = '\0';
	assert_int_equal(counter_of(text), -1);
	memcpy(text, "oom_kill 9\n", 11);
	assert_int_equal(counter_of(text), 9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_memory_events),
		cmocka_unit_test(test_v1_oom_control),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_long_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
