/* The --quarantine list: parsing of the file's text and lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "quarantine.h"

static void
test_parse_and_lookup(void **state)
{
	struct quarantine q = { 0 };

	(void)state;
	quarantine_parse(&q, "# known bad\n"
			     "tests/test_a.py::test_x\r\n"
			     "\n"
			     "   \n"
			     "tests/test_b.py::TestC::test_y[1-2]   \n"
			     "tests/test_c.py::test_z");
	assert_int_equal(q.n, 3);
	assert_true(quarantine_has(&q, "tests/test_a.py::test_x"));
	assert_true(quarantine_has(&q, "tests/test_b.py::TestC::test_y[1-2]"));
	assert_true(quarantine_has(&q, "tests/test_c.py::test_z"));
	assert_false(quarantine_has(&q, "tests/test_a.py::test_x2"));
	assert_false(quarantine_has(&q, "# known bad"));
	assert_false(quarantine_has(&q, ""));
	quarantine_release(&q);
	assert_int_equal(q.n, 0);
}

static void
test_load_file_and_missing_file(void **state)
{
	struct quarantine q = { 0 };
	struct error *err = NULL;
	char path[] = "/tmp/xdock-quarantine-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a.py::t1\nb.py::t2\n", 18), 18);
	close(fd);
	assert_int_equal(quarantine_load(&q, path, &err), 0);
	assert_true(quarantine_has(&q, "b.py::t2"));
	quarantine_release(&q);
	unlink(path);
	assert_int_equal(quarantine_load(&q, path, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->status, EXIT_USAGE);
	error_free(err);
}

static void
test_empty(void **state)
{
	struct quarantine q = { 0 };

	(void)state;
	quarantine_parse(&q, "");
	assert_false(quarantine_has(&q, "x"));
	quarantine_release(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_lookup),
		cmocka_unit_test(test_load_file_and_missing_file),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
