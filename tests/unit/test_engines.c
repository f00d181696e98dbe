/* engines.c's pure part: which engines a run uses (--docker-host given
 * several times, XDOCK_DOCKER_HOSTS, the default), how many workers (-n
 * auto sums the engines' CPUs), how they are spread (in proportion to the
 * CPUs, every worker placed once) and which slot runs where (alternating
 * as the shares allow). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "engines.h"

static void
parse(struct config *cfg, int argc, char **argv)
{
	struct error *err = NULL;

	assert_int_equal(cli_parse(argc, argv, cfg, &err), 0);
	assert_null(err);
}

static void
test_hosts_from_options(void **state)
{
	char *argv[] = { (char *)"xdock", (char *)"run", (char *)"--docker-host", (char *)"unix:///a.sock", (char *)"--docker-host=tcp://h:2376", (char *)"-n", (char *)"2" };
	struct config cfg;
	char **hosts;
	size_t n;

	(void)state;
	parse(&cfg, 7, argv);
	assert_string_equal(cfg.docker_host, "unix:///a.sock");
	/* The options win over the variable. */
	engines_hosts(&cfg, "tcp://x:1,tcp://y:2", &hosts, &n);
	assert_int_equal(n, 2);
	assert_string_equal(hosts[0], "unix:///a.sock");
	assert_string_equal(hosts[1], "tcp://h:2376");
	util_strv_free(hosts, n);
	cli_release(&cfg);
}

static void
test_hosts_from_env(void **state)
{
	char *argv[] = { (char *)"xdock", (char *)"run", (char *)"-n", (char *)"2" };
	struct config cfg;
	char **hosts;
	size_t n;

	(void)state;
	parse(&cfg, 4, argv);
	engines_hosts(&cfg, " tcp://x:1, unix:///s.sock\ttcp://y:2,,", &hosts, &n);
	assert_int_equal(n, 3);
	assert_string_equal(hosts[0], "tcp://x:1");
	assert_string_equal(hosts[1], "unix:///s.sock");
	assert_string_equal(hosts[2], "tcp://y:2");
	util_strv_free(hosts, n);
	/* An engine's own TLS settings stay with its address. */
	engines_hosts(&cfg, "tcp://x:1,certs=/c/x,skip-tls-verify=true, unix:///s.sock tcp://y:2,certs=/c/y tcp://z:3",
		      &hosts, &n);
	assert_int_equal(n, 4);
	assert_string_equal(hosts[0], "tcp://x:1,certs=/c/x,skip-tls-verify=true");
	assert_string_equal(hosts[1], "unix:///s.sock");
	assert_string_equal(hosts[2], "tcp://y:2,certs=/c/y");
	assert_string_equal(hosts[3], "tcp://z:3");
	util_strv_free(hosts, n);
	/* Neither: one engine, where DOCKER_HOST or the local socket says. */
	engines_hosts(&cfg, NULL, &hosts, &n);
	assert_int_equal(n, 1);
	assert_null(hosts[0]);
	util_strv_free(hosts, n);
	engines_hosts(&cfg, " , ", &hosts, &n);
	assert_int_equal(n, 1);
	assert_null(hosts[0]);
	util_strv_free(hosts, n);
	cli_release(&cfg);
}

static void
test_count(void **state)
{
	char *auto_argv[] = { (char *)"xdock", (char *)"run", (char *)"-n", (char *)"auto" };
	char *maxp_argv[] = { (char *)"xdock", (char *)"run", (char *)"-n", (char *)"auto", (char *)"--maxprocesses", (char *)"5" };
	char *four_argv[] = { (char *)"xdock", (char *)"run", (char *)"-n", (char *)"4" };
	const int ncpu[] = { 2, 4 };
	struct config cfg;

	(void)state;
	parse(&cfg, 4, auto_argv);
	assert_int_equal(engines_count(&cfg, ncpu, 2, 0), 6);
	assert_int_equal(engines_count(&cfg, ncpu, 1, 0), 2);
	/* PYTEST_XDIST_AUTO_NUM_WORKERS wins over the CPUs. */
	assert_int_equal(engines_count(&cfg, ncpu, 2, 3), 3);
	cli_release(&cfg);
	parse(&cfg, 6, maxp_argv);
	assert_int_equal(engines_count(&cfg, ncpu, 2, 0), 5);
	cli_release(&cfg);
	parse(&cfg, 4, four_argv);
	assert_int_equal(engines_count(&cfg, ncpu, 2, 0), 4);
	cli_release(&cfg);
}

/* Every worker placed exactly once, each engine within one of its exact
 * share, for many CPU mixes and counts. */
static void
test_place_proportional(void **state)
{
	(void)state;
	for (int a = 1; a <= 9; a++) {
		for (int b = 1; b <= 9; b++) {
			for (int c = 0; c <= 3; c++) {
				const int ncpu[] = { a, b, c };
				int total = a + b + (c > 0 ? c : 1);

				for (size_t n = 1; n <= 20; n++) {
					size_t per[3], sum = 0;

					engines_place(ncpu, 3, n, per);
					for (size_t e = 0; e < 3; e++) {
						double exact = (double)n * (ncpu[e] > 0 ? ncpu[e] : 1) / total;

						sum += per[e];
						assert_true((double)per[e] > exact - 1.0);
						assert_true((double)per[e] < exact + 1.0);
					}
					assert_int_equal(sum, n);
				}
			}
		}
	}
}

static void
test_place_cases(void **state)
{
	const int two_equal[] = { 2, 2 };
	const int skewed[] = { 6, 2 };
	size_t per[2];

	(void)state;
	engines_place(two_equal, 2, 4, per);
	assert_int_equal(per[0], 2);
	assert_int_equal(per[1], 2);
	/* A tie goes to the first engine (the controller's). */
	engines_place(two_equal, 2, 3, per);
	assert_int_equal(per[0], 2);
	assert_int_equal(per[1], 1);
	engines_place(two_equal, 2, 1, per);
	assert_int_equal(per[0], 1);
	assert_int_equal(per[1], 0);
	engines_place(skewed, 2, 4, per);
	assert_int_equal(per[0], 3);
	assert_int_equal(per[1], 1);
}

static void
test_assign(void **state)
{
	const size_t even[] = { 2, 2 };
	const size_t skew[] = { 3, 1 };
	const size_t none_first[] = { 0, 2 };
	size_t at[4];

	(void)state;
	engines_assign(even, 2, 4, at);
	assert_int_equal(at[0], 0);
	assert_int_equal(at[1], 1);
	assert_int_equal(at[2], 0);
	assert_int_equal(at[3], 1);
	engines_assign(skew, 2, 4, at);
	assert_int_equal(at[0], 0);
	assert_int_equal(at[1], 1);
	assert_int_equal(at[2], 0);
	assert_int_equal(at[3], 0);
	engines_assign(none_first, 2, 2, at);
	assert_int_equal(at[0], 1);
	assert_int_equal(at[1], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hosts_from_options),
		cmocka_unit_test(test_hosts_from_env),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_place_proportional),
		cmocka_unit_test(test_place_cases),
		cmocka_unit_test(test_assign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
