/* gc's judgement of whether a run's orchestrator is alive. The decision is
 * pure (a label, who we are, what /proc shows): the cases where PID
 * namespaces or another kernel are involved are fed to it directly; the
 * label of this very process is checked against the real /proc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbowner.h"
#include "gc.h"

#define BOOT "d83cee26-9da3-40c4-82dd-d235039de69a"
#define OTHER_BOOT "0e5c4a1b-1111-2222-3333-444455556666"
#define NS_JOB 4026532500ULL
#define NS_CHILD 4026532999ULL

/* We run in a CI job's container (its own PID namespace, not the host's). */
static const struct gc_self self = { .boot_id = BOOT, .pidns = NS_JOB };

/* What that namespace sees: its own processes, and a child namespace
 * whose xdock is pid 7 inside it, 31337 here. */
static const struct gc_proc procs[] = {
	{ .pid = 1, .nspid = 1, .pidns = NS_JOB, .start = 2 },
	{ .pid = 4242, .nspid = 4242, .pidns = NS_JOB, .start = 9000 },
	{ .pid = 31000, .nspid = 1, .pidns = NS_CHILD, .start = 8000 },
	{ .pid = 31337, .nspid = 7, .pidns = NS_CHILD, .start = 8100 },
	/* another user's process: its namespace link is not readable */
	{ .pid = 5555, .nspid = 9, .pidns = 0, .start = 7000 },
};

static enum gc_liveness
judge(const char *owner)
{
	return gc_owner_judge(owner, &self, procs, ARRAY_SIZE(procs));
}

static void
test_same_namespace(void **state)
{
	(void)state;
	assert_int_equal(judge("ci:" BOOT ":4026532500:4242:9000"), GC_ALIVE);
	/* pid reused by another process: another start time */
	assert_int_equal(judge("ci:" BOOT ":4026532500:4242:9001"), GC_DEAD);
	assert_int_equal(judge("ci:" BOOT ":4026532500:4243:9000"), GC_DEAD);
}

/* The bug this identity fixes: pid 7 of a child namespace is not pid 7
 * here, and the host name says nothing. */
static void
test_child_namespace(void **state)
{
	(void)state;
	assert_int_equal(judge("ci:" BOOT ":4026532999:7:8100"), GC_ALIVE);
	/* its namespace is visible and the owner is not in it */
	assert_int_equal(judge("ci:" BOOT ":4026532999:8:8100"), GC_DEAD);
	assert_int_equal(judge("ci:" BOOT ":4026532999:7:8101"), GC_DEAD);
	/* our own pid 7 does not stand for the child's */
	assert_int_equal(judge("ci:" BOOT ":4026532999:1:2"), GC_DEAD);
}

static void
test_invisible_namespace_is_never_dead(void **state)
{
	(void)state;
	/* a sibling or a parent namespace shows nothing here */
	assert_int_equal(judge("ci:" BOOT ":4026533111:4242:9000"), GC_UNKNOWN);
	assert_int_equal(judge("ci:" BOOT ":4026533111:1:1"), GC_UNKNOWN);
	assert_int_equal(judge("ci:" BOOT ":4026531836:1:2"), GC_UNKNOWN);
}

/* From the initial namespace every other one is visible: one not seen is
 * gone. */
static void
test_initial_namespace_sees_all(void **state)
{
	static const struct gc_self host = { .boot_id = BOOT, .pidns = GC_PIDNS_INIT };
	static const struct gc_proc seen[] = {
		{ .pid = 1, .nspid = 1, .pidns = GC_PIDNS_INIT, .start = 2 },
		{ .pid = 4242, .nspid = 1, .pidns = NS_JOB, .start = 9000 },
	};

	(void)state;
	assert_int_equal(gc_owner_judge("ci:" BOOT ":4026532500:1:9000", &host, seen, 2), GC_ALIVE);
	assert_int_equal(gc_owner_judge("ci:" BOOT ":4026533111:1:9000", &host, seen, 2), GC_DEAD);
	assert_int_equal(gc_owner_judge("ci:" BOOT ":4026531836:1:2", &host, seen, 2), GC_ALIVE);
	assert_int_equal(gc_owner_judge("ci:" BOOT ":4026531836:1:3", &host, seen, 2), GC_DEAD);
	/* another kernel stays unknown even from there */
	assert_int_equal(gc_owner_judge("ci:" OTHER_BOOT ":4026533111:1:9000", &host, seen, 2), GC_UNKNOWN);
}

static void
test_unreadable_namespace_may_be_the_owner(void **state)
{
	(void)state;
	/* pid 9 with that start time could be in NS_CHILD: we cannot say */
	assert_int_equal(judge("ci:" BOOT ":4026532999:9:7000"), GC_ALIVE);
}

static void
test_other_kernel_is_never_dead(void **state)
{
	(void)state;
	assert_int_equal(judge("ci:" OTHER_BOOT ":4026532500:4243:1"), GC_UNKNOWN);
	assert_int_equal(judge("other-host:" OTHER_BOOT ":4026532500:4242:9000"), GC_UNKNOWN);
}

static void
test_unreadable_labels_are_not_judged(void **state)
{
	(void)state;
	assert_int_equal(judge(NULL), GC_UNKNOWN);
	assert_int_equal(judge(""), GC_UNKNOWN);
	assert_int_equal(judge("nocolons"), GC_UNKNOWN);
	/* the old host:pid:start form names no namespace */
	assert_int_equal(judge("ci:4242:9000"), GC_UNKNOWN);
	assert_int_equal(judge("ci:" BOOT ":4026532500:4242:9000:1"), GC_UNKNOWN);
	assert_int_equal(judge("ci:" BOOT ":4026532500:-4242:9000"), GC_UNKNOWN);
	assert_int_equal(judge("ci:" BOOT ":4026532500:0:9000"), GC_UNKNOWN);
	assert_int_equal(judge("ci::4026532500:4242:9000"), GC_UNKNOWN);
	assert_int_equal(judge("ci:" BOOT ":x:4242:9000"), GC_UNKNOWN);
}

/* Against the real /proc: our own label is alive, the same with another
 * start time is dead, and pid_max is at most 2^22. */
static void
test_self_on_this_machine(void **state)
{
	cleanup_free char *me = gc_owner_self();
	cleanup_free char *other = NULL;
	cleanup_free char *gone = NULL;
	char *last = strrchr(me, ':');
	unsigned long long st = strtoull(last + 1, NULL, 10);
	char *pid;

	(void)state;
	assert_int_equal(gc_owner_liveness(me), GC_ALIVE);
	*last = '\0';
	other = xasprintf("%s:%llu", me, st + 12345);
	assert_int_equal(gc_owner_liveness(other), GC_DEAD);
	pid = strrchr(me, ':');
	*pid = '\0';
	gone = xasprintf("%s:%d:%llu", me, 1 << 23, st);
	assert_int_equal(gc_owner_liveness(gone), GC_DEAD);
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

/* The mark a run's database carries on a shared server: written and read
 * back; anything else (a cache key, a user's comment, a damaged mark) is
 * not a run's, so gc never judges it. */
static void
test_database_mark(void **state)
{
	cleanup_free char *owner = gc_owner_self();
	cleanup_free char *mark = dbowner_mark("0a1b2c3d4e5f", owner);
	char *run = NULL, *o = NULL;
	static const char *const foreign[] = {
		"xdock-key:sha256:00ff", "my own database", "", "xdock.run=", "xdock.run=abc",
		"xdock.run=abc xdock.owner=", "xdock.run= xdock.owner=h:b:1:2:3", "xdock.run=abc xdock.owner=a b",
		"xdock.run=abc  xdock.owner=h:b:1:2:3",
	};
	(void)state;

	assert_int_equal(strncmp(mark, DBOWNER_MARK_PREFIX, strlen(DBOWNER_MARK_PREFIX)), 0);
	assert_int_equal(dbowner_parse(mark, &run, &o), 0);
	assert_string_equal(run, "0a1b2c3d4e5f");
	assert_string_equal(o, owner);
	/* The owner read back is judged as the container label is. */
	assert_int_equal(gc_owner_liveness(o), GC_ALIVE);
	free(run);
	free(o);
	for (size_t i = 0; i < ARRAY_SIZE(foreign); i++) {
		assert_int_equal(dbowner_parse(foreign[i], &run, &o), -1);
		assert_null(run);
		assert_null(o);
	}
	assert_int_equal(dbowner_parse(NULL, &run, &o), -1);
}

/* The staging name a database is made under before it is marked: it
 * names its run alone, fits PostgreSQL's 63 bytes, and is told apart from
 * every other name. */
static void
test_staging_name(void **state)
{
	cleanup_free char *s = dbowner_staging("0a1b2c3d4e5f", "test_db_gw12");
	char *run = NULL;
	static const char *const foreign[] = {
		"test_db_gw0", "xdock.new.", "xdock.new.abc", "xdock.new..0123abcd", "xdock.new.abc.0123abc",
		"xdock.new.abc.0123abcz", "xdock.new.a.b.0123abcd", "xdock.new.abc.0123abcd0", "Xdock.new.abc.0123abcd",
	};
	(void)state;

	assert_int_equal(strncmp(s, DBOWNER_STAGING_PREFIX, strlen(DBOWNER_STAGING_PREFIX)), 0);
	assert_true(strlen(s) <= 63);
	assert_int_equal(dbowner_parse_staging(s, &run), 0);
	assert_string_equal(run, "0a1b2c3d4e5f");
	free(run);
	/* Two names of one run stage apart. */
	{
		cleanup_free char *t = dbowner_staging("0a1b2c3d4e5f", "test_db_template");

		assert_string_not_equal(s, t);
	}
	for (size_t i = 0; i < ARRAY_SIZE(foreign); i++) {
		assert_int_equal(dbowner_parse_staging(foreign[i], &run), -1);
		assert_null(run);
	}
	assert_int_equal(dbowner_parse_staging(NULL, &run), -1);
}

/* The lock ids: the same string, the same id (the run and gc compute it
 * apart); FNV-1a's published values, negative ones included (the
 * server's int4). */
static void
test_lock_keys(void **state)
{
	(void)state;
	assert_int_equal(dbowner_key(""), (int)(int32_t)0x811c9dc5u);
	assert_int_equal(dbowner_key("a"), (int)(int32_t)0xe40c292cu);
	assert_int_equal(dbowner_key("foobar"), (int)(int32_t)0xbf9cf968u);
	assert_true(dbowner_key("a") < 0);
	assert_int_equal(dbowner_key("test_db_gw1"), dbowner_key("test_db_gw1"));
	assert_int_not_equal(dbowner_key("test_db_gw1"), dbowner_key("test_db_gw2"));
}

/* A sweep goes on after a failure: the first error is the one kept and
 * printed, a later one is freed (LeakSanitizer's check in the ASan tree
 * sees it), and none wraps the first message with its own context. */
static void
test_sweep_keeps_first_failure(void **state)
{
	struct error *err = NULL, *e = NULL;

	(void)state;
	error_set(&e, EXIT_INTERNAL, "docker: 409: conflict: network a has active endpoints");
	error_keep(&err, e);
	e = NULL;
	error_set(&e, EXIT_INTERRUPTED, "docker: DELETE /networks/b: interrupted");
	error_wrap(&e, "network b");
	error_keep(&err, e);
	error_keep(&err, NULL);
	assert_non_null(err);
	assert_string_equal(err->msg, "docker: 409: conflict: network a has active endpoints");
	assert_int_equal(err->status, EXIT_INTERNAL);
	error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_namespace),
		cmocka_unit_test(test_child_namespace),
		cmocka_unit_test(test_invisible_namespace_is_never_dead),
		cmocka_unit_test(test_initial_namespace_sees_all),
		cmocka_unit_test(test_unreadable_namespace_may_be_the_owner),
		cmocka_unit_test(test_other_kernel_is_never_dead),
		cmocka_unit_test(test_unreadable_labels_are_not_judged),
		cmocka_unit_test(test_self_on_this_machine),
		cmocka_unit_test(test_start_time_is_field_22),
		cmocka_unit_test(test_database_mark),
		cmocka_unit_test(test_lock_keys),
		cmocka_unit_test(test_staging_name),
		cmocka_unit_test(test_sweep_keeps_first_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
