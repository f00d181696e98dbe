/* agent/runner.c: the runner's argv, with the plugin
 * right after `-m pytest` and nowhere else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runner.h"
#include "util.h"

static void
expect_argv(const char *const in[], const char *const want[])
{
	/* The strings are never written; the type is execvp's. */
	char **out = runner_build_argv((char *const *)in);
	size_t i;

	for (i = 0; want[i]; i++) {
		if (!out[i])
			fail_msg("argv ends at %zu, expected %s", i, want[i]);
		assert_string_equal(out[i], want[i]);
	}
	assert_null(out[i]);
	free(out);
}

static void
test_pytest_args(void **state)
{
	const char *in[] = { "python3", "-m", "pytest", "-x", "tests/", NULL };
	static const char *const want[] = { "python3", "-m", "pytest", "-p", "xdock_plugin", "-x", "tests/", NULL };

	(void)state;
	expect_argv(in, want);
}

/* `-m pytest` last: the extra arguments go at the end. */
static void
test_pytest_last(void **state)
{
	const char *in[] = { "/usr/bin/python3", "-m", "pytest", NULL };
	static const char *const want[] = { "/usr/bin/python3", "-m", "pytest", "-p", "xdock_plugin", NULL };

	(void)state;
	expect_argv(in, want);
}

/* Only the first `-m pytest`; python's own options before it stay put. */
static void
test_first_only(void **state)
{
	const char *in[] = { "python3", "-X", "dev", "-m", "pytest", "-m", "pytest", NULL };
	static const char *const want[] = { "python3", "-X", "dev", "-m", "pytest", "-p",
					    "xdock_plugin", "-m",
					    "pytest", NULL };

	(void)state;
	expect_argv(in, want);
}

/* Not pytest (a shell, `-m` of another module, pytest as argv[0], a lone
 * trailing -m): unchanged. */
static void
test_not_pytest(void **state)
{
	const char *sh[] = { "sh", "-c", "exit 0", NULL };
	static const char *const sh_want[] = { "sh", "-c", "exit 0", NULL };
	const char *other[] = { "python3", "-m", "unittest", "pytest", NULL };
	static const char *const other_want[] = { "python3", "-m", "unittest", "pytest", NULL };
	const char *bare[] = { "pytest", "-m", NULL };
	static const char *const bare_want[] = { "pytest", "-m", NULL };
	const char *argv0[] = { "-m", "pytest", NULL };
	static const char *const argv0_want[] = { "-m", "pytest", NULL };
	const char *one[] = { "python3", NULL };
	static const char *const one_want[] = { "python3", NULL };

	(void)state;
	expect_argv(sh, sh_want);
	expect_argv(other, other_want);
	expect_argv(bare, bare_want);
	expect_argv(argv0, argv0_want);
	expect_argv(one, one_want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pytest_args),
		cmocka_unit_test(test_pytest_last),
		cmocka_unit_test(test_first_only),
		cmocka_unit_test(test_not_pytest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
