/* Connecting to a PostgreSQL server that may still be starting: one
 * non-blocking attempt at a time under our own deadline, retried with a
 * growing pause until the caller's budget is spent, a signal arrives or
 * the server says something that will not change by waiting. */
#include "db_priv.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Longest single connection attempt: a host that drops packets would
 * otherwise eat the whole start-up budget in one go. */
#define DB_ATTEMPT_MAX_MS 5000

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool
db_pause_ms(int64_t ms, int cancel_fd)
{
	struct pollfd p = { .fd = cancel_fd, .events = POLLIN };

	if (cancel_fd < 0) {
		sleep_ms(ms);
		return false;
	}
	return ms > 0 && poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms) > 0;
}

static void
notice_ignore(void *arg, const char *message)
{
	/* DROP ... IF EXISTS and friends send NOTICEs; libpq's default prints
	 * them on stderr, in the middle of our terminal output. */
	(void)arg;
	(void)message;
}

void
db_libpq_version(char *out, size_t n)
{
	int v = PQlibVersion();

	/* Since 10: major * 10000 + minor; before: major * 10000 + minor * 100 + patch. */
	if (v >= 100000)
		snprintf(out, n, "%d.%d", v / 10000, v % 10000);
	else
		snprintf(out, n, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
}

/* How one attempt ended, besides the connection's own status. */
struct attempt {
	bool timed_out;
	bool cancelled;
};

/* Drives PQconnectPoll until it is done, the deadline passes or cancel_fd
 * becomes readable. */
static void
poll_until(PGconn *conn, int64_t deadline, int cancel_fd, struct attempt *a)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd pfd[2] = { { .fd = PQsocket(conn) }, { .fd = cancel_fd, .events = POLLIN } };
		int64_t left = deadline - util_now_ms();
		int r;

		if (left <= 0 || pfd[0].fd < 0) {
			a->timed_out = left <= 0;
			return;
		}
		pfd[0].events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		r = poll(pfd, cancel_fd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno != EINTR)
			return;
		if (r == 0) {
			a->timed_out = true;
			return;
		}
		if (r > 0 && pfd[1].revents) {
			a->cancelled = true;
			return;
		}
		if (r > 0)
			st = PQconnectPoll(conn);
	}
}

/* One non-blocking attempt driven to completion or to the deadline. libpq's
 * own connect_timeout is whole seconds (and at least 2), too coarse for a
 * caller's budget in milliseconds, so the deadline is ours. Returns the
 * connection (check PQstatus). */
static PGconn *
connect_once(const char *url, int64_t deadline, int cancel_fd, struct attempt *a)
{
	/* Ours go first: values from the URL override them. */
	const char *const keys[] = { "client_encoding", "application_name", "connect_timeout", "dbname", NULL };
	char timeout[24];
	const char *vals[ARRAY_SIZE(keys)] = { "UTF8", "xdock", timeout, url, NULL };
	PGconn *conn;

	/* connect_timeout still matters for the blocking steps libpq does
	 * inside PQconnectPoll; round up so it never cuts our budget short. */
	snprintf(timeout, sizeof(timeout), "%lld", (long long)((deadline - util_now_ms()) / 1000 + 2));
	*a = (struct attempt){ 0 };
	conn = PQconnectStartParams(keys, vals, 1);
	if (!conn)
		abort(); /* libpq could not allocate its struct */
	if (PQstatus(conn) != CONNECTION_BAD)
		poll_until(conn, deadline, cancel_fd, a);
	return conn;
}

/* The retries of one db_connect_alive call. */
struct retry {
	const char *url;     /* as libpq gets it */
	const char *masked;  /* as messages show it */
	int cancel_fd;
	int (*alive)(void *arg, struct error **err);
	void *arg;
	int64_t start, deadline, backoff;
	int attempts;
	char *last;          /* the last attempt's failure */
};

/* After a failed attempt: 0 to try again (having paused), -1 with *err
 * to give up now. */
static int
after_failure(struct retry *r, PGconn *conn, const struct attempt *a, struct error **err)
{
	int64_t pause;

	free(r->last);
	r->last = a->timed_out ? xstrdup("timed out") : db_first_line(PQerrorMessage(conn));
	/* The server answered and asked for a password, so it is up: a
	 * wrong password or a missing database will not fix itself. A server
	 * that is starting up refuses before authentication. */
	if (PQconnectionUsedPassword(conn) || PQconnectionNeedsPassword(conn))
		return error_set(err, EXIT_INTERNAL, "postgresql: connect to %s: %s", r->masked, r->last);
	if (!a->cancelled && r->alive && r->alive(r->arg, err) < 0)
		return -1;
	pause = util_now_ms() + r->backoff >= r->deadline ? r->deadline - util_now_ms() : r->backoff;
	if (a->cancelled || db_pause_ms(pause, r->cancel_fd))
		return error_set(err, EXIT_INTERRUPTED, "postgresql: connect to %s: interrupted", r->masked);
	/* A server that is starting answers within a second or two: a
	 * short step at first (a refused connection costs little), slower
	 * once it is late. */
	if (r->backoff < 250)
		r->backoff += 25;
	return 0;
}

/* Attempts until one connects or the budget is spent: the connection, or
 * NULL with *err. */
static PGconn *
retry_connect(struct retry *r, struct error **err)
{
	for (;;) {
		int64_t now = util_now_ms();
		int64_t attempt_deadline = now + DB_ATTEMPT_MAX_MS;
		struct attempt a;
		PGconn *conn;

		if (attempt_deadline > r->deadline)
			attempt_deadline = r->deadline;
		/* Always try at least once, even with a zero budget. */
		if (r->attempts > 0 && now >= r->deadline)
			break;
		if (attempt_deadline <= now)
			attempt_deadline = now + 100;
		r->attempts++;
		conn = connect_once(r->url, attempt_deadline, r->cancel_fd, &a);
		if (PQstatus(conn) == CONNECTION_OK)
			return conn;
		if (after_failure(r, conn, &a, err) < 0) {
			PQfinish(conn);
			return NULL;
		}
		PQfinish(conn);
	}
	error_set(err, EXIT_INTERNAL, "postgresql: connect to %s: gave up after %lld ms (%d attempts): %s", r->masked,
		  (long long)(util_now_ms() - r->start), r->attempts, r->last ? r->last : "no attempt");
	return NULL;
}

struct db *
db_connect(const char *url, int timeout_ms, int cancel_fd, struct error **err)
{
	return db_connect_alive(url, timeout_ms, cancel_fd, NULL, NULL, err);
}

struct db *
db_connect_alive(const char *url, int timeout_ms, int cancel_fd, int (*alive)(void *arg, struct error **err),
		 void *arg, struct error **err)
{
	cleanup_free char *masked = db_url_masked(url);
	cleanup_free char *target = NULL;
	struct db_url u;
	struct retry r = { .masked = masked, .cancel_fd = cancel_fd, .alive = alive, .arg = arg, .backoff = 25 };
	struct db *db;
	PGconn *conn;

	/* A string libpq cannot read, or one we refuse (a port out of
	 * range), will never work: say so now rather than after the whole
	 * budget. libpq then gets it as we read it. */
	if (db_url_parse(url, &u, err) < 0) {
		error_wrap(err, "postgresql: %s", masked);
		return NULL;
	}
	target = db_url_format(&u, NULL, 0, NULL);
	db_url_release(&u);
	r.url = target;
	r.start = util_now_ms();
	r.deadline = r.start + (timeout_ms > 0 ? timeout_ms : 0);
	conn = retry_connect(&r, err);
	free(r.last);
	if (!conn)
		return NULL;
	PQsetNoticeProcessor(conn, notice_ignore, NULL);
	db = xcalloc(1, sizeof(*db));
	db->conn = conn;
	db->masked = steal_ptr(&masked);
	return db;
}

void
db_free(struct db *db)
{
	if (!db)
		return;
	PQfinish(db->conn);
	free(db->masked);
	free(db);
}
