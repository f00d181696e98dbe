/* provision_plan: the embedded server's password on an engine elsewhere.
 * provision_expand: the per-worker placeholders. provision_key: the
 * template's cache key, SHA-256 of the test image's id,
 * the setup command and the key files. Any change to one of them must
 * change the key (a stale template silently skips migrations). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "provision.h"

static char dir[] = "/tmp/xdock-test-key.XXXXXX";

static void
put(const char *name, const char *content)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static char *
key(const char *image, const char *setup, const char *glob)
{
	struct error *err = NULL;
	char *k = provision_key(dir, image, setup, glob, &err);

	if (!k)
		fail_msg("provision_key: %s", err ? err->msg : "(no error)");
	return k;
}

static int
setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	put("migrate.py", "CREATE TABLE a ();\n");
	put("settings.py", "INSTALLED_APPS = ['a']\n");
	return 0;
}

static int
teardown(void **state)
{
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);

	(void)state;
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_shape_and_stable(void **state)
{
	cleanup_free char *a = key("sha256:1111", "python3 migrate.py", "migrate.py");
	cleanup_free char *b = key("sha256:1111", "python3 migrate.py", "migrate.py");
	const char *prefix = "xdock-key:sha256:";

	(void)state;
	assert_string_equal(a, b);
	assert_int_equal(strncmp(a, prefix, strlen(prefix)), 0);
	assert_int_equal(strlen(a), strlen(prefix) + 64);
	assert_int_equal(strspn(a + strlen(prefix), "0123456789abcdef"), 64);
}

static void
test_every_input_counts(void **state)
{
	cleanup_free char *base = key("sha256:1111", "python3 migrate.py", "{migrate,settings}.py");
	cleanup_free char *image = key("sha256:2222", "python3 migrate.py", "{migrate,settings}.py");
	cleanup_free char *cmd = key("sha256:1111", "python3 migrate.py --fake", "{migrate,settings}.py");
	cleanup_free char *files = key("sha256:1111", "python3 migrate.py", "migrate.py");
	cleanup_free char *content = NULL;
	/* A string boundary moved between image and command. */
	cleanup_free char *shift1 = key("ab", "c", "migrate.py");
	cleanup_free char *shift2 = key("a", "bc", "migrate.py");

	(void)state;
	assert_string_not_equal(base, image);
	assert_string_not_equal(base, cmd);
	assert_string_not_equal(base, files);
	assert_string_not_equal(shift1, shift2);
	put("settings.py", "INSTALLED_APPS = ['a', 'b']\n");
	content = key("sha256:1111", "python3 migrate.py", "{migrate,settings}.py");
	assert_string_not_equal(base, content);
	put("settings.py", "INSTALLED_APPS = ['a']\n");
}

/* The same digest computed independently (Python's hashlib, the scheme in
 * provision.c): proves it is SHA-256 over exactly these inputs. */
static void
test_known_value(void **state)
{
	cleanup_free char *k = key("sha256:1111", "python3 migrate.py", "migrate.py");
	cleanup_free char *path = xasprintf("%s/migrate.py", dir);
	cleanup_free char *cmd = xasprintf(
		"python3 -c 'import hashlib,sys;f=lambda s:s.encode()+b\"\\0\";"
		"c=open(sys.argv[1],\"rb\").read();"
		"h=hashlib.sha256(f(\"xdock template v2\")+f(\"sha256:1111\")+f(\"python3 migrate.py\")"
		"+f(sys.argv[1])+b\"f\"+hashlib.sha256(c).digest());"
		"print(\"xdock-key:sha256:\"+h.hexdigest())' '%s'",
		path);
	char want[128] = "";
	FILE *p = popen(cmd, "r");

	(void)state;
	assert_non_null(p);
	assert_non_null(fgets(want, sizeof(want), p));
	assert_int_equal(pclose(p), 0);
	want[strcspn(want, "\n")] = '\0';
	assert_string_equal(k, want);
}

static void
test_no_glob_no_key(void **state)
{
	struct error *err = NULL;

	(void)state;
	assert_null(provision_key(dir, "sha256:1111", "x", NULL, &err));
	assert_null(err);
}

static void
test_no_match_is_usage(void **state)
{
	cleanup_error struct error *err = NULL;

	(void)state;
	assert_null(provision_key(dir, "sha256:1111", "x", "nothing-*.py", &err));
	assert_non_null(err);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_non_null(strstr(err->msg, "matches no file"));
}

static void
expect(const char *in, const struct provision_vars *v, const char *want)
{
	cleanup_free char *got = provision_expand(in, v);

	assert_string_equal(got, want);
}

static void
test_expand(void **state)
{
	const struct provision_vars v = {
		.worker = "gw3",
		.database = "test_db_gw3",
		.database_url = "postgresql://xdock:xdock@xdock-db:5432/test_db_gw3",
		.host = "xdock-db",
		.port = "5432",
	};

	(void)state;
	expect("APP_TESTDB={database}", &v, "APP_TESTDB=test_db_gw3");
	expect("--dburi={database_url}", &v, "--dburi=postgresql://xdock:xdock@xdock-db:5432/test_db_gw3");
	expect("{host}:{port}/{database}", &v, "xdock-db:5432/test_db_gw3");
	expect("w={worker}{worker}", &v, "w=gw3gw3");
	/* Anything else is left alone: pytest's own braces, near misses. */
	expect("-k {a or b}", &v, "-k {a or b}");
	expect("{Worker} {worker {databas} {", &v, "{Worker} {worker {databas} {");
	expect("", &v, "");
	expect("plain", &v, "plain");
}

static void
test_expand_without_database(void **state)
{
	const struct provision_vars v = { .worker = "gw0" };

	(void)state;
	expect("{worker}:{database}:{database_url}:{host}:{port}", &v, "gw0::::");
}

static void
plan_release(struct provision *p)
{
	db_url_release(&p->admin);
	db_url_release(&p->worker);
	free(p->servers);
}

/* On this machine the server keeps the image's password; on an engine
 * elsewhere, whose network reaches the published port, each run gets one
 * of its own, the workers too, and no kept server. */
static void
test_plan_password(void **state)
{
	struct config cfg = { .db = CLI_DB_EMBEDDED };
	struct provision a, b, c;
	struct error *err = NULL;

	(void)state;
	assert_int_equal(provision_plan(&a, &cfg, 2, false, &err), 0);
	assert_false(a.own_password);
	assert_string_equal(a.admin.password, "xdock");
	assert_int_equal(provision_plan(&b, &cfg, 2, true, &err), 0);
	assert_int_equal(provision_plan(&c, &cfg, 2, true, &err), 0);
	assert_true(b.own_password);
	assert_int_equal(strlen(b.admin.password), 32);
	assert_int_equal(strspn(b.admin.password, "0123456789abcdef"), 32);
	assert_string_equal(b.worker.password, b.admin.password);
	assert_string_not_equal(b.admin.password, c.admin.password);
	plan_release(&a);
	plan_release(&b);
	plan_release(&c);
	cfg.reuse_db = true;
	assert_int_equal(provision_plan(&a, &cfg, 2, true, &err), -1);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_non_null(strstr(err->msg, "--reuse-db"));
	error_free(err);
	plan_release(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_password),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_without_database),
		cmocka_unit_test(test_shape_and_stable),
		cmocka_unit_test(test_every_input_counts),
		cmocka_unit_test(test_known_value),
		cmocka_unit_test(test_no_glob_no_key),
		cmocka_unit_test(test_no_match_is_usage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
