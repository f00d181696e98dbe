/* The db module (db_*.c) against a real PostgreSQL (xdock/postgres:15).
 *
 * Needs XDOCK_TEST_PG_URL, a superuser URL to the maintenance database.
 * Without it (as ctest runs it) the program re-executes itself under
 * tests/integration/pg_env.sh, which starts a throw-away container, sets the
 * URL and removes the container on every exit path.
 *
 * The test seeds and checks data with libpq directly: an independent path
 * to the server, so the module is not asked to vouch for itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "db.h"

#define PREFIX "it_db_"

struct ctx {
	const char *admin_url;
	struct db *db;
	char *run; /* unique per process, so reruns never collide */
};

static char *
url_for(const struct ctx *c, const char *dbname)
{
	struct db_url u;
	struct error *err = NULL;
	char *s;

	if (db_url_parse(c->admin_url, &u, &err) < 0)
		fail_msg("%s", err->msg);
	s = db_url_format(&u, NULL, 0, dbname);
	db_url_release(&u);
	return s;
}

static PGconn *
pq_open(const struct ctx *c, const char *dbname)
{
	cleanup_free char *url = url_for(c, dbname);
	PGconn *conn = PQconnectdb(url);

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("libpq connect %s: %s", dbname, PQerrorMessage(conn));
	return conn;
}

static void
pq_exec(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	PQclear(r);
}

static char *
pq_value(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	char *v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	v = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static char *
name(const struct ctx *c, const char *suffix)
{
	return xasprintf(PREFIX "%s_%s", c->run, suffix);
}

/* Every test after the first needs the admin connection it opens. */
#define NEED_DB(c)                  \
	do {                        \
		if (!(c)->db)       \
			skip();     \
	} while (0)

static void
must(int r, struct error *err)
{
	if (r < 0)
		fail_msg("%s", err ? err->msg : "(no error set)");
	assert_null(err);
}

static bool
exists(struct ctx *c, const char *n)
{
	struct error *err = NULL;
	bool e = false;

	must(db_exists(c->db, n, &e, &err), err);
	return e;
}

/* A TCP port on loopback nobody listens on: bind, read it, close. */
static int
closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Runs first, while the container may still be running initdb: a short
 * budget fails, a long one retries through start-up and succeeds. */
static void
test_connect_while_starting(void **state)
{
	struct ctx *c = *state;
	struct error *err = NULL;
	int64_t t0 = util_now_ms();
	struct db *probe = db_connect(c->admin_url, 30, -1, &err);

	if (probe) {
		/* The server beat us to it; the retry path is then only
		 * covered by the unreachable test below. */
		print_message("server already up: start-up retry not observed\n");
		db_free(probe);
	} else {
		assert_non_null(err);
		print_message("not up yet: %s\n", err->msg);
		assert_int_equal(err->status, EXIT_INTERNAL);
		assert_non_null(strstr(err->msg, "xdock:***@"));
		assert_null(strstr(err->msg, "xdock:xdock"));
		error_free(err);
		err = NULL;
	}
	c->db = db_connect(c->admin_url, 60000, -1, &err);
	if (!c->db)
		fail_msg("connect: %s", err->msg);
	print_message("connected after %lld ms\n", (long long)(util_now_ms() - t0));
}

static void
test_unreachable_fails_in_time(void **state)
{
	struct ctx *c = *state;
	struct error *err = NULL;
	int port = closed_port();
	cleanup_free char *url = xasprintf("postgresql://xdock:topsecret@127.0.0.1:%d/postgres", port);
	int64_t t0 = util_now_ms(), dt;
	struct db *db = db_connect(url, 700, -1, &err);
	NEED_DB(c);

	(void)c;
	dt = util_now_ms() - t0;
	assert_null(db);
	assert_non_null(err);
	print_message("refused: %lld ms: %s\n", (long long)dt, err->msg);
	/* It kept trying for the whole budget (a lower bound: a loaded
	 * machine only makes it longer), more than once, and gave up: the
	 * upper bound is only there to catch a retry loop that never ends. */
	assert_true(dt >= 650);
	assert_true(dt < 60000);
	{
		const char *a = strstr(err->msg, "attempts");
		const char *p = a;

		assert_non_null(a);
		while (p > err->msg && (p[-1] == ' ' || (p[-1] >= '0' && p[-1] <= '9')))
			p--;
		assert_true(strtol(p, NULL, 10) >= 2);
	}
	assert_int_equal(err->status, EXIT_INTERNAL);
	assert_null(strstr(err->msg, "topsecret"));
	assert_non_null(strstr(err->msg, "xdock:***@127.0.0.1"));
	assert_non_null(strstr(err->msg, "attempts"));
	assert_null(strchr(err->msg, '\n'));
	error_free(err);
	err = NULL;

	/* A wrong password on a live server fails at once, no retrying. */
	{
		struct db_url u;
		cleanup_free char *bad = NULL;

		must(db_url_parse(c->admin_url, &u, &err), err);
		free(u.password);
		u.password = xstrdup("wrong-pass");
		bad = db_url_format(&u, NULL, 0, NULL);
		db_url_release(&u);
		t0 = util_now_ms();
		db = db_connect(bad, 20000, -1, &err);
		dt = util_now_ms() - t0;
		assert_null(db);
		print_message("bad password: %lld ms: %s\n", (long long)dt, err->msg);
		assert_true(dt < 3000);
		assert_null(strstr(err->msg, "wrong-pass"));
		assert_non_null(strstr(err->msg, "password authentication failed"));
		error_free(err);
		err = NULL;
	}

	/* A URL libpq cannot read is a usage error, also at once. */
	db = db_connect("postgresql://u:pw@h:notaport/d", 20000, -1, &err);
	assert_null(db);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_null(strstr(err->msg, ":pw@"));
	error_free(err);
}

static void
test_create_exists_list_comment_drop(void **state)
{
	struct ctx *c = *state;
	struct error *err = NULL;
	cleanup_free char *a = name(c, "a"), *b = name(c, "b"), *prefix = xasprintf(PREFIX "%s_", c->run);
	cleanup_free char *comment = NULL;
	char **names = NULL;
	size_t n = 0;
	NEED_DB(c);

	assert_false(exists(c, a));
	must(db_create(c->db, a, NULL, &err), err);
	must(db_create(c->db, b, NULL, &err), err);
	assert_true(exists(c, a));

	/* Creating it again is an error that names it. */
	assert_int_equal(db_create(c->db, a, NULL, &err), -1);
	assert_non_null(strstr(err->msg, a));
	assert_non_null(strstr(err->msg, "already exists"));
	error_free(err);
	err = NULL;

	must(db_list(c->db, prefix, &names, &n, &err), err);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], a);
	assert_string_equal(names[1], b);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);

	/* '_' in a prefix is a character, not a LIKE wildcard. */
	{
		cleanup_free char *wild = xasprintf("it%%db%s", c->run);

		must(db_list(c->db, "it_db_X", &names, &n, &err), err);
		assert_int_equal(n, 0);
		free(names);
		must(db_list(c->db, wild, &names, &n, &err), err);
		assert_int_equal(n, 0);
		free(names);
	}

	must(db_comment_get(c->db, a, &comment, &err), err);
	assert_null(comment);
	must(db_comment_set(c->db, a, "schema sha256:ab'cd \"q\" \xc3\xa9", &err), err);
	must(db_comment_get(c->db, a, &comment, &err), err);
	assert_string_equal(comment, "schema sha256:ab'cd \"q\" \xc3\xa9");
	free(comment);
	comment = NULL;
	must(db_comment_set(c->db, a, NULL, &err), err);
	must(db_comment_get(c->db, a, &comment, &err), err);
	assert_null(comment);

	assert_int_equal(db_comment_get(c->db, "it_db_no_such_db", &comment, &err), -1);
	assert_non_null(strstr(err->msg, "no such database"));
	error_free(err);
	err = NULL;

	must(db_drop(c->db, a, &err), err);
	must(db_drop(c->db, b, &err), err);
	assert_false(exists(c, a));
	/* Dropping what is gone is fine (IF EXISTS). */
	must(db_drop(c->db, a, &err), err);
	must(db_list(c->db, prefix, &names, &n, &err), err);
	assert_int_equal(n, 0);
	free(names);
}

static void
test_clone_has_rows(void **state)
{
	struct ctx *c = *state;
	struct error *err = NULL;
	cleanup_free char *tmpl = name(c, "template"), *clone = name(c, "gw0");
	cleanup_free char *count = NULL, *seq = NULL;
	PGconn *conn;
	int64_t t0;
	NEED_DB(c);

	must(db_create(c->db, tmpl, NULL, &err), err);
	conn = pq_open(c, tmpl);
	pq_exec(conn, "CREATE TABLE author (id serial PRIMARY KEY, name text NOT NULL UNIQUE);"
		      "CREATE TABLE book (id serial PRIMARY KEY, author_id int REFERENCES author, title text);"
		      "INSERT INTO author (name) SELECT 'author ' || g FROM generate_series(1, 50) g;"
		      "INSERT INTO book (author_id, title) SELECT 1 + g % 50, 'book ' || g FROM generate_series(1, 500) g;");
	PQfinish(conn);

	t0 = util_now_ms();
	must(db_create(c->db, clone, tmpl, &err), err);
	print_message("clone took %lld ms\n", (long long)(util_now_ms() - t0));

	conn = pq_open(c, clone);
	count = pq_value(conn, "SELECT count(*) FROM book JOIN author ON author.id = book.author_id");
	assert_string_equal(count, "500");
	/* Sequences come along at their position. */
	seq = pq_value(conn, "SELECT nextval('author_id_seq')");
	assert_string_equal(seq, "51");
	/* And the clone is a copy: writes do not reach the template. */
	pq_exec(conn, "TRUNCATE book");
	PQfinish(conn);
	conn = pq_open(c, tmpl);
	free(count);
	count = pq_value(conn, "SELECT count(*) FROM book");
	assert_string_equal(count, "500");
	PQfinish(conn);

	must(db_drop(c->db, clone, &err), err);
	must(db_drop(c->db, tmpl, &err), err);
}

/* A session on the template from a child process (orchestrator/sched.h
 * shadows <sched.h>, which <pthread.h> needs, so no threads here): it
 * connects, says so on the pipe, stays hold_ms, then disconnects. */
static pid_t
hold_template(const struct ctx *c, const char *tmpl, int hold_ms)
{
	int p[2];
	char ok;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cleanup_free char *url = url_for(c, tmpl);
		PGconn *conn = PQconnectdb(url);
		struct timespec ts = { .tv_sec = hold_ms / 1000, .tv_nsec = (long)(hold_ms % 1000) * 1000000L };

		close(p[0]);
		ok = PQstatus(conn) == CONNECTION_OK ? 'y' : 'n';
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		nanosleep(&ts, NULL);
		PQfinish(conn);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &ok, 1), 1);
	close(p[0]);
	assert_int_equal(ok, 'y');
	return pid;
}

/* A session on the template: db_create waits for it to leave when it does,
 * and says who is in the way when it does not. */
static void
test_clone_template_busy(void **state)
{
	struct ctx *c = *state;
	struct error *err = NULL;
	cleanup_free char *tmpl = name(c, "busy_t"), *c1 = name(c, "busy_1"), *c2 = name(c, "busy_2");
	int64_t t0, dt;
	int status;
	pid_t pid;
	PGconn *conn;
	NEED_DB(c);

	must(db_create(c->db, tmpl, NULL, &err), err);

	/* Leaves after 800 ms: the clone still succeeds. */
	t0 = util_now_ms();
	pid = hold_template(c, tmpl, 800);
	must(db_create(c->db, c1, tmpl, &err), err);
	dt = util_now_ms() - t0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	print_message("clone waited %lld ms for the template\n", (long long)dt);
	assert_true(dt >= 700);
	assert_true(exists(c, c1));

	/* Stays: a clear failure naming the session. */
	conn = pq_open(c, tmpl);
	pq_exec(conn, "SET application_name = 'stuck-migration'");
	t0 = util_now_ms();
	assert_int_equal(db_create(c->db, c2, tmpl, &err), -1);
	dt = util_now_ms() - t0;
	print_message("busy template failed after %lld ms: %s\n", (long long)dt, err->msg);
	assert_non_null(strstr(err->msg, "still in use"));
	assert_non_null(strstr(err->msg, "stuck-migration"));
	assert_non_null(strstr(err->msg, tmpl));
	assert_true(dt >= 2000);
	assert_false(exists(c, c2));
	error_free(err);
	err = NULL;
	PQfinish(conn);

	must(db_drop(c->db, c1, &err), err);
	must(db_drop(c->db, tmpl, &err), err);
}

/* A crashed worker leaves its session behind: FORCE ends it. */
static void
test_drop_with_live_session(void **state)
{
	struct ctx *c = *state;
	struct error *err = NULL;
	cleanup_free char *n = name(c, "live"), *url = NULL;
	struct db *other;
	PGconn *conn;
	PGresult *r;
	bool e;
	NEED_DB(c);

	must(db_create(c->db, n, NULL, &err), err);
	url = url_for(c, n);
	other = db_connect(url, 60000, -1, &err);
	if (!other)
		fail_msg("%s", err->msg);
	conn = pq_open(c, n);
	pq_exec(conn, "BEGIN; CREATE TABLE t (x int); INSERT INTO t VALUES (1)");

	must(db_drop(c->db, n, &err), err);
	assert_false(exists(c, n));

	/* Both sessions were ended by the server. */
	r = PQexec(conn, "SELECT 1");
	assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	PQfinish(conn);
	assert_int_equal(db_exists(other, n, &e, &err), -1);
	assert_non_null(err);
	print_message("ended session says: %s\n", err->msg);
	error_free(err);
	db_free(other);
}

/* Names that would break if pasted into SQL. */
static void
test_odd_names(void **state)
{
	struct ctx *c = *state;
	struct error *err = NULL;
	const char *odd[] = {
		"it_db_q\"uo'te",
		"it_db_ spaces  and\ttab",
		"it_db_\xc3\xa9t\xc3\xa9 \xe2\x98\x83",
		"it_db_x\"; DROP DATABASE postgres; --",
	};
	NEED_DB(c);

	for (size_t i = 0; i < ARRAY_SIZE(odd); i++) {
		cleanup_free char *clone = xasprintf("%s_c", odd[i]);
		cleanup_free char *url = NULL, *got = NULL, *comment = NULL;
		struct db *inside;
		bool e;

		must(db_drop(c->db, odd[i], &err), err);
		must(db_create(c->db, odd[i], NULL, &err), err);
		assert_true(exists(c, odd[i]));
		must(db_comment_set(c->db, odd[i], odd[i], &err), err);
		must(db_comment_get(c->db, odd[i], &comment, &err), err);
		assert_string_equal(comment, odd[i]);

		/* Reachable through a formatted URL (percent-encoding). */
		url = url_for(c, odd[i]);
		inside = db_connect(url, 60000, -1, &err);
		if (!inside)
			fail_msg("%s", err->msg);
		must(db_exists(inside, odd[i], &e, &err), err);
		assert_true(e);
		{
			PGconn *conn = pq_open(c, odd[i]);

			got = pq_value(conn, "SELECT current_database()");
			assert_string_equal(got, odd[i]);
			PQfinish(conn);
		}
		db_free(inside);

		must(db_create(c->db, clone, odd[i], &err), err);
		assert_true(exists(c, clone));
		must(db_drop(c->db, clone, &err), err);
		must(db_drop(c->db, odd[i], &err), err);
		assert_false(exists(c, odd[i]));
	}
	assert_true(exists(c, "postgres"));

	/* Too long for PostgreSQL: refused, not truncated into a collision. */
	{
		char lng[80];

		memset(lng, 'x', sizeof(lng) - 1);
		lng[sizeof(lng) - 1] = '\0';
		assert_int_equal(db_create(c->db, lng, NULL, &err), -1);
		assert_int_equal(err->status, EXIT_USAGE);
		error_free(err);
	}
}

static int
setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof(*c));

	c->admin_url = getenv("XDOCK_TEST_PG_URL");
	c->run = xasprintf("%ld", (long)getpid());
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	/* Leftovers of a failed test; the container goes away anyway when
	 * pg_env.sh made it, but a user-supplied server would keep them. */
	if (c->db) {
		cleanup_free char *prefix = xasprintf(PREFIX "%s_", c->run);
		struct error *err = NULL;
		char **names;
		size_t n;

		if (db_list(c->db, prefix, &names, &n, &err) == 0) {
			for (size_t i = 0; i < n; i++) {
				db_drop(c->db, names[i], &err);
				error_free(err);
				err = NULL;
				free(names[i]);
			}
			free(names);
		}
		error_free(err);
	}
	db_free(c->db);
	free(c->run);
	free(c);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_while_starting),
		cmocka_unit_test(test_unreachable_fails_in_time),
		cmocka_unit_test(test_create_exists_list_comment_drop),
		cmocka_unit_test(test_clone_has_rows),
		cmocka_unit_test(test_clone_template_busy),
		cmocka_unit_test(test_drop_with_live_session),
		cmocka_unit_test(test_odd_names),
	};

	(void)argc;
	if (!getenv("XDOCK_TEST_PG_URL")) {
		/* ctest runs us bare: let the helper start a server and run
		 * us again with the URL set. */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		const char *helper = XDOCK_TEST_DATA "/../integration/pg_env.sh";

		if (n < 0) {
			fprintf(stderr, "it_db: XDOCK_TEST_PG_URL unset and /proc/self/exe unreadable\n");
			return 1;
		}
		self[n] = '\0';
		execlp("bash", "bash", helper, self, (char *)NULL);
		fprintf(stderr, "it_db: XDOCK_TEST_PG_URL unset and cannot run %s: %s\n", helper, strerror(errno));
		return 1;
	}
	(void)argv;
	return cmocka_run_group_tests(tests, setup, teardown);
}
