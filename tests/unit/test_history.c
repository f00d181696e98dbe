/* history.c: the merge rule, lookups at scale, pruning, the file round
 * trip in a real temporary directory (missing, corrupt, oversized, wrong
 * version, unwritable), and the ETA estimate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "history.h"

/* ---- a scratch project directory per test ------------------------------ */

static int
setup_dir(void **state)
{
	char tmpl[] = "/tmp/xdock-test-history-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	*state = xstrdup(d);
	return 0;
}

static int
teardown_dir(void **state)
{
	char *d = *state;
	char *cmd = xasprintf("rm -rf '%s'", d);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(d);
	return 0;
}

static void
write_text(const char *dir, const char *text)
{
	char *xd = xasprintf("%s/.xdock", dir);
	char *p = xasprintf("%s/.xdock/durations.json", dir);
	FILE *f;

	mkdir(xd, 0755);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(xd);
	free(p);
}

static char *
read_text(const char *dir)
{
	char *p = xasprintf("%s/.xdock/durations.json", dir);
	FILE *f = fopen(p, "r");
	char *s = xcalloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	n = fread(s, 1, (1 << 20) - 1, f);
	s[n] = '\0';
	fclose(f);
	free(p);
	return s;
}

/* ---- pure ---------------------------------------------------------------- */

static void
test_update_merges(void **state)
{
	struct history *h = history_new();

	(void)state;
	assert_true(history_get(h, "t.py::a") == -1);
	history_update(h, "t.py::a", 1.0);
	assert_true(history_get(h, "t.py::a") == 1.0);
	/* Half way towards the newest measurement. */
	history_update(h, "t.py::a", 3.0);
	assert_true(history_get(h, "t.py::a") == 2.0);
	history_update(h, "t.py::a", 0.0);
	assert_true(history_get(h, "t.py::a") == 1.0);
	/* Garbage measurements leave the value alone. */
	history_update(h, "t.py::a", -1.0);
	history_update(h, "t.py::a", NAN);
	history_update(h, "t.py::a", INFINITY);
	assert_true(history_get(h, "t.py::a") == 1.0);
	history_update(h, "t.py::b", -5.0);
	assert_true(history_get(h, "t.py::b") == -1);
	assert_int_equal(history_count(h), 1);
	/* A zero-second test is known, not unknown. */
	history_update(h, "t.py::c", 0.0);
	assert_true(history_get(h, "t.py::c") == 0.0);
	assert_int_equal(history_count(h), 2);
	history_free(h);
	history_free(NULL);
}

static void
test_many_and_prune(void **state)
{
	enum { N = 20000 };
	struct history *h = history_new();
	const char **keep = calloc(N, sizeof(*keep));
	char **ids = calloc(N, sizeof(*ids));
	size_t nkeep = 0;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		ids[i] = xasprintf("tests/test_m%zu.py::test_%zu[p%zu]", i % 97, i, i % 7);
		history_update(h, ids[i], (double)i / 100.0);
	}
	assert_int_equal(history_count(h), N);
	for (size_t i = 0; i < N; i++)
		assert_true(history_get(h, ids[i]) == (double)i / 100.0);
	assert_true(history_get(h, "tests/test_m0.py::nope") == -1);

	/* Keep every third one, plus a collected test the history has
	 * never seen (it must not appear). */
	for (size_t i = 0; i < N; i += 3)
		keep[nkeep++] = ids[i];
	keep[nkeep++] = "tests/new.py::test_new";
	history_prune(h, keep, nkeep);
	assert_int_equal(history_count(h), (N + 2) / 3);
	for (size_t i = 0; i < N; i++)
		assert_true(history_get(h, ids[i]) == (i % 3 == 0 ? (double)i / 100.0 : -1));
	assert_true(history_get(h, "tests/new.py::test_new") == -1);
	/* Still a working table after the rebuild. */
	history_update(h, ids[1], 7.0);
	assert_true(history_get(h, ids[1]) == 7.0);
	history_prune(h, NULL, 0);
	assert_int_equal(history_count(h), 0);
	assert_true(history_get(h, ids[0]) == -1);

	for (size_t i = 0; i < N; i++)
		free(ids[i]);
	free(ids);
	free(keep);
	history_free(h);
}

/* ---- the file ------------------------------------------------------------ */

static void
test_round_trip(void **state)
{
	const char *dir = *state;
	struct error *e = NULL;
	struct history *h = history_new(), *h2;
	char *text, *p, *q;
	DIR *d;
	struct dirent *de;
	int entries = 0;

	history_update(h, "tests/test_b.py::test_x", 1.25);
	history_update(h, "tests/test_a.py::test_y[1-\"quoted\"\\]", 0.0000004);
	history_update(h, "tests/test_a.py::test_z", 123.4567891);
	history_update(h, "tests/é.py::ünicode", 2.0);
	assert_int_equal(history_save(h, dir, &e), 0);
	assert_null(e);

	h2 = history_load(dir, &e);
	assert_null(e);
	assert_int_equal(history_count(h2), 4);
	assert_true(history_get(h2, "tests/test_b.py::test_x") == 1.25);
	/* Microsecond resolution on disk. */
	assert_true(history_get(h2, "tests/test_a.py::test_y[1-\"quoted\"\\]") == 0.0);
	assert_true(fabs(history_get(h2, "tests/test_a.py::test_z") - 123.456789) < 1e-9);
	assert_true(history_get(h2, "tests/é.py::ünicode") == 2.0);

	/* Sorted keys, one per line: a committed file diffs well. */
	text = read_text(dir);
	assert_non_null(strstr(text, "\"version\":\t1"));
	p = strstr(text, "test_a.py::test_z");
	q = strstr(text, "test_b.py::test_x");
	assert_non_null(p);
	assert_non_null(q);
	assert_true(p < q);
	assert_true(strchr(p, '\n') < q);
	free(text);

	/* Saving again over an existing file works, and leaves no
	 * temporary file behind. */
	history_update(h2, "tests/test_b.py::test_x", 2.25);
	assert_int_equal(history_save(h2, dir, &e), 0);
	history_free(h2);
	h2 = history_load(dir, &e);
	assert_null(e);
	assert_true(history_get(h2, "tests/test_b.py::test_x") == 1.75);
	p = xasprintf("%s/.xdock", dir);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			entries++, assert_string_equal(de->d_name, "durations.json");
	closedir(d);
	assert_int_equal(entries, 1);
	free(p);
	history_free(h);
	history_free(h2);
}

/* A new .xdock ignores itself in git, as .pytest_cache does; a directory
 * that was there already is left as it is. */
static void
test_dir_ignored_in_git(void **state)
{
	const char *dir = *state;
	struct error *e = NULL;
	char *gi = xasprintf("%s/.xdock/.gitignore", dir), *other = xasprintf("%s/other", dir);
	char buf[128] = { 0 };
	struct stat st;
	FILE *f;

	assert_int_equal(history_dir_make(dir, &e), 0);
	assert_null(e);
	f = fopen(gi, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	assert_non_null(strstr(buf, "\n*\n"));
	/* Twice is fine. */
	assert_int_equal(history_dir_make(dir, &e), 0);

	assert_int_equal(mkdir(other, 0755), 0);
	free(other);
	other = xasprintf("%s/other/.xdock", dir);
	assert_int_equal(mkdir(other, 0755), 0);
	free(other);
	other = xasprintf("%s/other", dir);
	assert_int_equal(history_dir_make(other, &e), 0);
	free(other);
	other = xasprintf("%s/other/.xdock/.gitignore", dir);
	assert_int_equal(stat(other, &st), -1);
	free(other);
	free(gi);
}

static void
test_missing_is_empty(void **state)
{
	const char *dir = *state;
	struct error *e = NULL;
	struct history *h = history_load(dir, &e);

	assert_null(e);
	assert_non_null(h);
	assert_int_equal(history_count(h), 0);
	history_free(h);
}

static void
expect_ignored(const char *dir, const char *text, const char *why)
{
	struct error *e = NULL;
	struct history *h;

	write_text(dir, text);
	h = history_load(dir, &e);
	assert_non_null(h);
	assert_int_equal(history_count(h), 0);
	assert_non_null(e);
	assert_int_equal(e->status, EXIT_INTERNAL);
	if (!strstr(e->msg, why) || !strstr(e->msg, "ignored"))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, why);
	error_free(e);
	/* Usable as an empty history. */
	history_update(h, "x", 1);
	assert_true(history_get(h, "x") == 1);
	history_free(h);
}

static void
test_corrupt_files(void **state)
{
	const char *dir = *state;
	struct error *e = NULL;
	struct history *h;

	expect_ignored(dir, "", "not a JSON object");
	expect_ignored(dir, "{\"version\":1,\"tests\":{\"a\":1.0,", "not a JSON object");
	expect_ignored(dir, "[1,2]", "not a JSON object");
	expect_ignored(dir, "{\"tests\":{\"a\":1}}", "unknown format version");
	expect_ignored(dir, "{\"version\":2,\"tests\":{\"a\":1}}", "unknown format version");
	expect_ignored(dir, "{\"version\":1,\"tests\":[1]}", "\"tests\" is not an object");

	/* Bad entries are skipped, good ones kept; a repeated key keeps
	 * the later value. */
	write_text(dir, "{\"version\":1,\"tests\":{\"a\":1.5,\"b\":\"slow\",\"c\":-2,\"d\":null,"
			"\"e\":{},\"f\":0,\"a\":2.5,\"g\":1e400}}");
	h = history_load(dir, &e);
	assert_null(e);
	assert_int_equal(history_count(h), 2);
	assert_true(history_get(h, "a") == 2.5);
	assert_true(history_get(h, "f") == 0);
	assert_true(history_get(h, "b") == -1);
	assert_true(history_get(h, "c") == -1);
	assert_true(history_get(h, "g") == -1);
	history_free(h);
}

static void
test_oversized_and_not_a_file(void **state)
{
	const char *dir = *state;
	char *p = xasprintf("%s/.xdock/durations.json", dir);
	int fd;

	write_text(dir, "{}");
	/* Sparse: costs no disk, but its size is over the cap. */
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)HISTORY_MAX_BYTES + 1), 0);
	close(fd);
	{
		struct error *e = NULL;
		struct history *h = history_load(dir, &e);

		assert_non_null(e);
		assert_non_null(strstr(e->msg, "larger than"));
		assert_int_equal(history_count(h), 0);
		error_free(e);
		history_free(h);
	}
	/* A directory where the file should be. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	{
		struct error *e = NULL;
		struct history *h = history_load(dir, &e);

		assert_non_null(e);
		assert_non_null(strstr(e->msg, "not a regular file"));
		error_free(e);
		history_free(h);
	}
	assert_int_equal(rmdir(p), 0);
	free(p);
}

static void
test_save_fails_cleanly(void **state)
{
	const char *dir = *state;
	char *file = xasprintf("%s/plainfile", dir);
	struct history *h = history_new();
	struct error *e = NULL;
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fclose(f);
	history_update(h, "a", 1);
	/* The "project directory" is a file: mkdir .xdock fails. */
	assert_int_equal(history_save(h, file, &e), -1);
	assert_non_null(e);
	assert_non_null(strstr(e->msg, "mkdir"));
	error_free(e);
	free(file);
	history_free(h);
}

/* ---- the ETA ------------------------------------------------------------- */

static void
test_eta(void **state)
{
	struct history_eta e;
	/* 10 s long test, four 2 s tests, one unknown (median = 2). */
	const double exp1[] = { 2, 2, 10, 2, -1, 2 };

	(void)state;
	history_eta_init(&e, exp1, 6, 2);
	/* max(20 / 2, 10) = 10 */
	assert_true(fabs(history_eta_seconds(&e) - 10.0) < 1e-9);
	history_eta_done(&e, 0, 2.0);
	history_eta_done(&e, 1, 2.0);
	/* remaining 16 / 2 = 8 < longest 10 */
	assert_true(fabs(history_eta_seconds(&e) - 10.0) < 1e-9);
	history_eta_done(&e, 2, 10.0);
	/* remaining 6 / 2 = 3 > longest 2 */
	assert_true(fabs(history_eta_seconds(&e) - 3.0) < 1e-9);
	/* Twice is harmless. */
	history_eta_done(&e, 2, 10.0);
	history_eta_done(&e, 99, 1.0);
	assert_true(fabs(history_eta_seconds(&e) - 3.0) < 1e-9);
	history_eta_done(&e, 4, 2.0);
	history_eta_done(&e, 3, 2.0);
	/* One test of 2 s left: the longest bound. */
	assert_true(fabs(history_eta_seconds(&e) - 2.0) < 1e-9);
	history_eta_done(&e, 5, 2.0);
	assert_true(history_eta_seconds(&e) == 0);
	history_eta_release(&e);

	/* No history at all: no estimate. */
	{
		const double none[] = { -1, -1, -1 };

		history_eta_init(&e, none, 3, 4);
		assert_true(history_eta_seconds(&e) == -1);
		history_eta_release(&e);
	}
	/* This run is twice as slow as the history says: the rest of
	 * the estimate stretches, within bounds. */
	{
		const double ten[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

		history_eta_init(&e, ten, 10, 1);
		assert_true(fabs(history_eta_seconds(&e) - 10.0) < 1e-9);
		history_eta_done(&e, 0, 2.0);
		history_eta_done(&e, 1, 2.0);
		assert_true(fabs(history_eta_seconds(&e) - 16.0) < 1e-9);
		history_eta_done(&e, 2, 1000.0);
		/* (1004 / 3) clamps to 4x: 7 * 4 */
		assert_true(fabs(history_eta_seconds(&e) - 28.0) < 1e-9);
		history_eta_release(&e);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_merges),
		cmocka_unit_test(test_many_and_prune),
		cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_missing_is_empty, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_dir_ignored_in_git, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_corrupt_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_oversized_and_not_a_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_save_fails_cleanly, setup_dir, teardown_dir),
		cmocka_unit_test(test_eta),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
