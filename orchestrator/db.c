#include "db.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"

/* Longest single connection attempt: a host that drops packets would
 * otherwise eat the whole start-up budget in one go. */
#define DB_ATTEMPT_MAX_MS 5000
/* How long db_create waits for other sessions to leave a template before
 * asking the server (which itself waits up to 5 s more). */
#define DB_TEMPLATE_WAIT_MS 2000
/* Only the first line of a server or libpq message goes into ours, capped. */
#define DB_MSG_MAX 512

struct db {
	PGconn *conn;
	char *masked; /* the URL we connected to, password masked */
};

static inline void
cleanup_pgres_fn(PGresult **r)
{
	PQclear(*r);
}
#define cleanup_pgres __attribute__((cleanup(cleanup_pgres_fn)))

/* ---- URL parsing and formatting ------------------------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX in s[0..n). NUL bytes cannot travel through libpq's C
 * strings, so %00 is refused rather than silently cutting the value. */
static char *
pct_decode(const char *s, size_t n, const char *what, struct error **err)
{
	cleanup_free char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n) {
			error_set(err, EXIT_USAGE, "bad percent-escape in %s", what);
			return NULL;
		}
		int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);

		if (hi < 0 || lo < 0) {
			error_set(err, EXIT_USAGE, "bad percent-escape in %s", what);
			return NULL;
		}
		if (hi == 0 && lo == 0) {
			error_set(err, EXIT_USAGE, "%%00 (NUL byte) in %s", what);
			return NULL;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return steal_ptr(&out);
}

static bool
has_scheme(const char *url, const char **rest)
{
	static const char *const schemes[] = { "postgresql://", "postgres://" };

	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
		size_t n = strlen(schemes[i]);

		if (strncasecmp(url, schemes[i], n) == 0) {
			*rest = url + n;
			return true;
		}
	}
	return false;
}

static int
parse_port(const char *s, size_t n, int *port, struct error **err)
{
	long v = 0;

	if (n == 0 || n > 5)
		return error_set(err, EXIT_USAGE, "bad port \"%.*s\"", (int)(n > 16 ? 16 : n), s);
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return error_set(err, EXIT_USAGE, "bad port \"%.*s\"", (int)n, s);
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return error_set(err, EXIT_USAGE, "port %ld out of range", v);
	*port = (int)v;
	return 0;
}

/* host[:port] or [v6][:port]; empty host means the libpq default. */
static int
parse_hostport(const char *s, size_t n, struct db_url *u, struct error **err)
{
	const char *port = NULL;
	size_t hlen;

	if (memchr(s, ',', n))
		return error_set(err, EXIT_USAGE, "several hosts in one URL are not supported");
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return error_set(err, EXIT_USAGE, "unterminated [ipv6] host");
		if (close == s + 1)
			return error_set(err, EXIT_USAGE, "empty [ipv6] host");
		for (const char *p = s + 1; p < close; p++) {
			/* hex, ':' and '.' (v4-mapped), '%' for a zone id */
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.' && *p != '%')
				return error_set(err, EXIT_USAGE, "bad character in [ipv6] host");
		}
		u->host = xstrndup(s + 1, (size_t)(close - s - 1));
		if (close + 1 < s + n) {
			if (close[1] != ':')
				return error_set(err, EXIT_USAGE, "junk after [ipv6] host");
			port = close + 2;
			return parse_port(port, (size_t)(s + n - port), &u->port, err);
		}
		return 0;
	}
	port = memchr(s, ':', n);
	hlen = port ? (size_t)(port - s) : n;
	if (hlen > 0) {
		u->host = pct_decode(s, hlen, "host", err);
		if (!u->host)
			return -1;
	}
	if (port) {
		port++;
		return parse_port(port, (size_t)(s + n - port), &u->port, err);
	}
	return 0;
}

static int
parse_userinfo(const char *s, size_t n, struct db_url *u, struct error **err)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;

	if (ulen > 0) {
		u->user = pct_decode(s, ulen, "user", err);
		if (!u->user)
			return -1;
	}
	if (colon) {
		/* "user:@host" is an empty password, which libpq also sends. */
		u->password = pct_decode(colon + 1, (size_t)(s + n - colon - 1), "password", err);
		if (!u->password)
			return -1;
	}
	return 0;
}

int
db_url_parse(const char *url, struct db_url *out, struct error **err)
{
	struct db_url u = { 0 };
	const char *p, *auth_end, *at, *q;

	memset(out, 0, sizeof(*out));
	if (!has_scheme(url, &p))
		return error_set(err, EXIT_USAGE, "database URL must start with postgresql:// or postgres://");
	for (const char *c = url; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == ' ')
			return error_set(err, EXIT_USAGE, "database URL holds a space or control character (percent-encode it)");
	}
	auth_end = p + strcspn(p, "/?");
	/* The last '@' ends the userinfo: an unencoded '@' in a password is a
	 * common mistake that this forgives. */
	at = NULL;
	for (const char *c = p; c < auth_end; c++) {
		if (*c == '@')
			at = c;
	}
	if (at) {
		if (parse_userinfo(p, (size_t)(at - p), &u, err) < 0)
			goto fail;
		p = at + 1;
	}
	if (parse_hostport(p, (size_t)(auth_end - p), &u, err) < 0)
		goto fail;
	p = auth_end;
	q = strchr(p, '?');
	if (*p == '/') {
		size_t n = q ? (size_t)(q - p - 1) : strlen(p + 1);

		if (n > 0) {
			if (memchr(p + 1, '/', n)) {
				error_set(err, EXIT_USAGE, "'/' in database name (percent-encode it as %%2F)");
				goto fail;
			}
			u.dbname = pct_decode(p + 1, n, "database name", err);
			if (!u.dbname)
				goto fail;
		}
	}
	if (q && q[1])
		u.query = xstrdup(q + 1);
	*out = u;
	return 0;
fail:
	db_url_release(&u);
	return error_wrap(err, "database URL");
}

void
db_url_release(struct db_url *u)
{
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->dbname);
	free(u->query);
	memset(u, 0, sizeof(*u));
}

static void
pct_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf_append(b, p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			buf_append(b, e, 3);
		}
	}
}

static char *
url_format(const struct db_url *u, const char *host, int port, const char *dbname, bool mask)
{
	struct buf b;

	/* No cap worth having: every part is already in memory. */
	buf_init(&b, SIZE_MAX / 2);
	host = host ? host : u->host;
	port = port ? port : u->port;
	dbname = dbname ? dbname : u->dbname;
	buf_append(&b, "postgresql://", 13);
	if (u->user || u->password) {
		if (u->user)
			pct_encode(&b, u->user);
		if (u->password) {
			buf_append(&b, ":", 1);
			if (mask)
				buf_append(&b, "***", 3);
			else
				pct_encode(&b, u->password);
		}
		buf_append(&b, "@", 1);
	}
	if (host) {
		if (strchr(host, ':'))
			buf_printf(&b, "[%s]", host);
		else
			pct_encode(&b, host);
	}
	if (port)
		buf_printf(&b, ":%d", port);
	if (dbname || u->query)
		buf_append(&b, "/", 1);
	if (dbname)
		pct_encode(&b, dbname);
	if (u->query)
		buf_printf(&b, "?%s", u->query);
	return buf_steal(&b);
}

char *
db_url_format(const struct db_url *u, const char *host, int port, const char *dbname)
{
	return url_format(u, host, port, dbname, false);
}

/* Masks "password=..." inside a query string or a key=value conninfo:
 * everything up to the next separator becomes ***. */
static void
mask_password_params(struct buf *b, const char *s, const char *seps)
{
	while (*s) {
		size_t n = strcspn(s, seps);

		if (n >= 9 && strncasecmp(s, "password=", 9) == 0) {
			buf_append(b, s, 9);
			buf_append(b, "***", 3);
		} else {
			buf_append(b, s, n);
		}
		s += n;
		if (*s) {
			buf_append(b, s, 1);
			s++;
		}
	}
}

/* Works on the text rather than a parse, so even a URL that db_url_parse
 * rejects is masked (it is exactly such a URL that ends up in an error
 * message). */
char *
db_url_masked(const char *url)
{
	struct buf b;
	const char *p, *auth_end, *at = NULL, *colon, *q;

	buf_init(&b, SIZE_MAX / 2);
	if (!has_scheme(url, &p)) {
		mask_password_params(&b, url, " \t\n");
		return buf_steal(&b);
	}
	auth_end = p + strcspn(p, "/?");
	for (const char *c = p; c < auth_end; c++) {
		if (*c == '@')
			at = c;
	}
	colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
	if (colon) {
		buf_append(&b, url, (size_t)(colon + 1 - url));
		buf_append(&b, "***", 3);
		buf_append(&b, at, (size_t)(auth_end - at));
	} else {
		buf_append(&b, url, (size_t)(auth_end - url));
	}
	q = strchr(auth_end, '?');
	if (!q) {
		buf_append(&b, auth_end, strlen(auth_end));
		return buf_steal(&b);
	}
	buf_append(&b, auth_end, (size_t)(q + 1 - auth_end));
	mask_password_params(&b, q + 1, "&");
	return buf_steal(&b);
}

/* ---- connection ---------------------------------------------------- */

/* First line of a libpq or server message, trimmed and capped: libpq adds
 * hint lines ("Is the server running ...") that repeat what we say. */
static char *
first_line(const char *msg)
{
	size_t n;

	if (!msg || !*msg)
		return xstrdup("(no message)");
	n = strcspn(msg, "\n");
	while (n > 0 && isspace((unsigned char)msg[n - 1]))
		n--;
	if (n > DB_MSG_MAX)
		n = DB_MSG_MAX;
	return xstrndup(msg, n);
}

static void
notice_ignore(void *arg, const char *message)
{
	/* DROP ... IF EXISTS and friends send NOTICEs; libpq's default prints
	 * them on stderr, in the middle of our terminal output. */
	(void)arg;
	(void)message;
}

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

/* One non-blocking attempt driven to completion or to the deadline. libpq's
 * own connect_timeout is whole seconds (and at least 2), too coarse for a
 * caller's budget in milliseconds, so the deadline is ours. Returns the
 * connection (check PQstatus) and *timed_out. */
static PGconn *
connect_once(const char *url, int64_t deadline, int cancel_fd, bool *timed_out, bool *cancelled)
{
	/* Ours go first: values from the URL override them. */
	const char *const keys[] = { "client_encoding", "application_name", "connect_timeout", "dbname", NULL };
	char timeout[24];
	int64_t left = deadline - util_now_ms();
	const char *vals[ARRAY_SIZE(keys)];
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *conn;

	/* connect_timeout still matters for the blocking steps libpq does
	 * inside PQconnectPoll; round up so it never cuts our budget short. */
	snprintf(timeout, sizeof(timeout), "%lld", (long long)(left / 1000 + 2));
	vals[0] = "UTF8";
	vals[1] = "xdock";
	vals[2] = timeout;
	vals[3] = url;
	vals[4] = NULL;
	*timed_out = false;
	conn = PQconnectStartParams(keys, vals, 1);
	if (!conn)
		abort(); /* libpq could not allocate its struct */
	if (PQstatus(conn) == CONNECTION_BAD)
		return conn;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = -1 }, { .fd = cancel_fd, .events = POLLIN } };
		int r;

		if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED)
			return conn;
		left = deadline - util_now_ms();
		if (left <= 0) {
			*timed_out = true;
			return conn;
		}
		pfd[0].fd = PQsocket(conn);
		pfd[0].events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		if (pfd[0].fd < 0)
			return conn;
		r = poll(pfd, cancel_fd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno != EINTR)
			return conn;
		if (r == 0) {
			*timed_out = true;
			return conn;
		}
		if (r > 0 && pfd[1].revents) {
			*cancelled = true;
			return conn;
		}
		if (r > 0)
			st = PQconnectPoll(conn);
	}
}

/* Sleeps ms, or less when cancel_fd becomes readable: true then. */
static bool
pause_ms(int64_t ms, int cancel_fd)
{
	struct pollfd p = { .fd = cancel_fd, .events = POLLIN };

	if (cancel_fd < 0) {
		sleep_ms(ms);
		return false;
	}
	return ms > 0 && poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms) > 0;
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
	cleanup_free char *last = NULL;
	int64_t start = util_now_ms(), deadline = start + (timeout_ms > 0 ? timeout_ms : 0);
	int64_t backoff = 50;
	char *perr = NULL;
	PQconninfoOption *opts;
	const char *rest;
	int attempts = 0;

	/* A URL libpq cannot read will never work: say so now rather than
	 * after the whole timeout. PQconninfoParse's message never echoes the
	 * password. */
	opts = PQconninfoParse(url, &perr);
	if (!opts) {
		cleanup_free char *line = first_line(perr);

		PQfreemem(perr);
		error_set(err, EXIT_USAGE, "postgresql: %s: %s", masked, line);
		return NULL;
	}
	PQconninfoFree(opts);
	/* libpq checks ports and the like only when connecting, which would
	 * be retried for the whole budget: our parser is stricter. */
	if (has_scheme(url, &rest)) {
		struct db_url u;

		if (db_url_parse(url, &u, err) < 0) {
			error_wrap(err, "postgresql: %s", masked);
			return NULL;
		}
		db_url_release(&u);
	}

	for (;;) {
		int64_t now = util_now_ms();
		int64_t attempt_deadline = now + DB_ATTEMPT_MAX_MS;
		bool timed_out, cancelled = false;
		PGconn *conn;

		if (attempt_deadline > deadline)
			attempt_deadline = deadline;
		/* Always try at least once, even with a zero budget. */
		if (attempts > 0 && now >= deadline)
			break;
		if (attempt_deadline <= now)
			attempt_deadline = now + 100;
		attempts++;
		conn = connect_once(url, attempt_deadline, cancel_fd, &timed_out, &cancelled);
		if (PQstatus(conn) == CONNECTION_OK) {
			struct db *db = xcalloc(1, sizeof(*db));

			PQsetNoticeProcessor(conn, notice_ignore, NULL);
			db->conn = conn;
			db->masked = steal_ptr(&masked);
			return db;
		}
		free(last);
		last = timed_out ? xstrdup("timed out") : first_line(PQerrorMessage(conn));
		/* The server answered and asked for a password, so it is up: a
		 * wrong password or a missing database will not fix itself. A
		 * server that is starting up refuses before authentication. */
		if (PQconnectionUsedPassword(conn) || PQconnectionNeedsPassword(conn)) {
			PQfinish(conn);
			error_set(err, EXIT_INTERNAL, "postgresql: connect to %s: %s", masked, last);
			return NULL;
		}
		PQfinish(conn);
		if (!cancelled && alive && alive(arg, err) < 0)
			return NULL;
		if (cancelled || pause_ms(util_now_ms() + backoff >= deadline ? deadline - util_now_ms() : backoff, cancel_fd)) {
			error_set(err, EXIT_INTERRUPTED, "postgresql: connect to %s: interrupted", masked);
			return NULL;
		}
		if (backoff < 500)
			backoff *= 2;
	}
	error_set(err, EXIT_INTERNAL, "postgresql: connect to %s: gave up after %lld ms (%d attempts): %s",
		  masked, (long long)(util_now_ms() - start), attempts, last ? last : "no attempt");
	return NULL;
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

/* ---- statements ---------------------------------------------------- */

/* Turns a failed result (or a NULL one: connection gone) into *err with the
 * server's primary message and SQLSTATE. */
static int
result_error(struct db *db, const PGresult *res, struct error **err)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	cleanup_free char *line = first_line(primary ? primary : PQerrorMessage(db->conn));

	if (state)
		return error_set(err, EXIT_INTERNAL, "%s: %s (SQLSTATE %s)", db->masked, line, state);
	return error_set(err, EXIT_INTERNAL, "%s: %s", db->masked, line);
}

static bool
result_ok(const PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static PGresult *
exec_cmd(struct db *db, const char *sql, struct error **err)
{
	PGresult *res = PQexec(db->conn, sql);

	if (!result_ok(res)) {
		result_error(db, res, err);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* One text parameter, so names reach the server as data, never as SQL. */
static PGresult *
exec_1(struct db *db, const char *sql, const char *param, struct error **err)
{
	PGresult *res = PQexecParams(db->conn, sql, 1, NULL, &param, NULL, NULL, 0);

	if (!result_ok(res)) {
		result_error(db, res, err);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Heap copy of the quoted identifier, so callers can use cleanup_free. */
static char *
ident(struct db *db, const char *name, struct error **err)
{
	char *q = PQescapeIdentifier(db->conn, name, strlen(name));
	char *out;

	if (!q) {
		cleanup_free char *line = first_line(PQerrorMessage(db->conn));

		error_set(err, EXIT_INTERNAL, "quote name: %s", line);
		return NULL;
	}
	out = xstrdup(q);
	PQfreemem(q);
	return out;
}

static char *
literal(struct db *db, const char *s, struct error **err)
{
	char *q = PQescapeLiteral(db->conn, s, strlen(s));
	char *out;

	if (!q) {
		cleanup_free char *line = first_line(PQerrorMessage(db->conn));

		error_set(err, EXIT_INTERNAL, "quote literal: %s", line);
		return NULL;
	}
	out = xstrdup(q);
	PQfreemem(q);
	return out;
}

static int
check_name(const char *name, struct error **err)
{
	if (!name || !*name)
		return error_set(err, EXIT_USAGE, "empty database name");
	/* The server would truncate a longer name to 63 bytes silently, and
	 * two long names could then collide. */
	if (strlen(name) > 63)
		return error_set(err, EXIT_USAGE, "database name \"%.20s...\" longer than 63 bytes", name);
	return 0;
}

int
db_lock(struct db *db, long long key, int cancel_fd, void (*waiting)(void *arg), void *arg, struct error **err)
{
	char k[24];
	bool told = false;

	snprintf(k, sizeof(k), "%lld", key);
	for (;;) {
		cleanup_pgres PGresult *res = exec_1(db, "SELECT pg_catalog.pg_try_advisory_lock($1::bigint)", k, err);

		if (!res)
			return error_wrap(err, "advisory lock");
		if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			return 0;
		if (!told && waiting)
			waiting(arg);
		told = true;
		if (pause_ms(250, cancel_fd))
			return error_set(err, EXIT_INTERRUPTED, "%s: waiting for another run: interrupted", db->masked);
	}
}

int
db_set_application_name(struct db *db, const char *name, struct error **err)
{
	cleanup_pgres PGresult *res = exec_1(db, "SELECT pg_catalog.set_config('application_name', $1, false)", name, err);

	if (!res)
		return error_wrap(err, "set application_name");
	return 0;
}

int
db_exists(struct db *db, const char *name, bool *exists, struct error **err)
{
	cleanup_pgres PGresult *res = NULL;

	res = exec_1(db, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", name, err);
	if (!res)
		return error_wrap(err, "database \"%s\": exists", name);
	*exists = PQntuples(res) > 0;
	return 0;
}

/* Sessions other than ours connected to name, as "pid 12 (app), ..." for an
 * error message; NULL when none or when the query fails. */
static char *
other_sessions(struct db *db, const char *name, int *count)
{
	cleanup_pgres PGresult *res = NULL;
	struct buf b;
	int n;

	*count = 0;
	res = PQexecParams(db->conn,
			   "SELECT pid, coalesce(nullif(application_name, ''), '?') FROM pg_catalog.pg_stat_activity"
			   " WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid",
			   1, NULL, &name, NULL, NULL, 0);
	if (!result_ok(res))
		return NULL;
	n = PQntuples(res);
	*count = n;
	if (n == 0)
		return NULL;
	buf_init(&b, 1024);
	for (int i = 0; i < n; i++) {
		if (buf_printf(&b, "%spid %s (%s)", i ? ", " : "", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)) < 0) {
			buf_append_trunc(&b, ", ...", 5);
			break;
		}
	}
	return buf_steal(&b);
}

int
db_create(struct db *db, const char *name, const char *template_name, struct error **err)
{
	cleanup_free char *qname = NULL, *qtmpl = NULL, *sql = NULL;
	cleanup_pgres PGresult *res = NULL;

	if (check_name(name, err) < 0 || (template_name && check_name(template_name, err) < 0))
		return error_wrap(err, "create database");
	qname = ident(db, name, err);
	if (!qname)
		return error_wrap(err, "create database \"%s\"", name);
	if (template_name) {
		int64_t deadline = util_now_ms() + DB_TEMPLATE_WAIT_MS;
		int n;

		qtmpl = ident(db, template_name, err);
		if (!qtmpl)
			return error_wrap(err, "create database \"%s\"", name);
		/* PostgreSQL refuses to copy a database someone is connected to
		 * (a migration that just exited may still be disconnecting):
		 * give such sessions a moment to leave. */
		for (;;) {
			free(other_sessions(db, template_name, &n));
			if (n == 0 || util_now_ms() >= deadline)
				break;
			sleep_ms(100);
		}
		/* PostgreSQL 15's default strategy, WAL_LOG, writes every
		 * block of the template through the WAL; a file copy and a
		 * checkpoint is cheaper for a scratch database (the bench's
		 * 60-table template: 0.4 s a clone against 0.5-0.8 s). Older
		 * servers copy files anyway and do not know the clause. */
		sql = xasprintf("CREATE DATABASE %s TEMPLATE %s%s", qname, qtmpl,
				PQserverVersion(db->conn) >= 150000 ? " STRATEGY FILE_COPY" : "");
	} else {
		sql = xasprintf("CREATE DATABASE %s", qname);
	}
	res = PQexec(db->conn, sql);
	if (result_ok(res))
		return 0;
	if (template_name) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

		/* 55006 object_in_use: the template still has sessions. */
		if (state && strcmp(state, "55006") == 0) {
			int n;
			cleanup_free char *who = other_sessions(db, template_name, &n);

			return error_set(err, EXIT_INTERNAL,
					 "create database \"%s\" from template \"%s\": the template is still in use by "
					 "%d other session(s)%s%s; a setup command must close its connections before it exits",
					 name, template_name, n, who ? ": " : "", who ? who : "");
		}
	}
	result_error(db, res, err);
	if (template_name)
		return error_wrap(err, "create database \"%s\" from template \"%s\"", name, template_name);
	return error_wrap(err, "create database \"%s\"", name);
}

int
db_drop(struct db *db, const char *name, struct error **err)
{
	cleanup_free char *qname = NULL, *sql = NULL;
	cleanup_pgres PGresult *res = NULL;

	if (check_name(name, err) < 0)
		return error_wrap(err, "drop database");
	qname = ident(db, name, err);
	if (!qname)
		return error_wrap(err, "drop database \"%s\"", name);
	if (PQserverVersion(db->conn) >= 130000) {
		sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", qname);
	} else {
		/* Before 13 there is no FORCE: end the sessions ourselves. A
		 * session may sneak in between, and DROP then says so. */
		cleanup_pgres PGresult *kill = exec_1(
			db,
			"SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity"
			" WHERE datname = $1 AND pid <> pg_backend_pid()",
			name, err);

		if (!kill)
			return error_wrap(err, "drop database \"%s\": end its sessions", name);
		sql = xasprintf("DROP DATABASE IF EXISTS %s", qname);
	}
	res = exec_cmd(db, sql, err);
	if (!res)
		return error_wrap(err, "drop database \"%s\"", name);
	return 0;
}

int
db_list(struct db *db, const char *prefix, char ***names, size_t *n, struct error **err)
{
	cleanup_pgres PGresult *res = NULL;
	char **out;
	int rows;

	*names = NULL;
	*n = 0;
	/* left() rather than LIKE: '_' and '%' in a prefix are not patterns. */
	res = exec_1(db,
		     "SELECT datname FROM pg_catalog.pg_database"
		     " WHERE left(datname, length($1)) = $1 ORDER BY datname",
		     prefix ? prefix : "", err);
	if (!res)
		return error_wrap(err, "list databases \"%s*\"", prefix ? prefix : "");
	rows = PQntuples(res);
	out = xcalloc((size_t)rows + 1, sizeof(*out));
	for (int i = 0; i < rows; i++)
		out[i] = xstrdup(PQgetvalue(res, i, 0));
	*names = out;
	*n = (size_t)rows;
	return 0;
}

int
db_comment_get(struct db *db, const char *name, char **comment, struct error **err)
{
	cleanup_pgres PGresult *res = NULL;

	*comment = NULL;
	res = exec_1(db,
		     "SELECT pg_catalog.shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database"
		     " WHERE datname = $1",
		     name, err);
	if (!res)
		return error_wrap(err, "database \"%s\": read comment", name);
	if (PQntuples(res) == 0)
		return error_set(err, EXIT_INTERNAL, "database \"%s\": read comment: no such database", name);
	if (!PQgetisnull(res, 0, 0))
		*comment = xstrdup(PQgetvalue(res, 0, 0));
	return 0;
}

int
db_comment_set(struct db *db, const char *name, const char *comment, struct error **err)
{
	cleanup_free char *qname = NULL, *qval = NULL, *sql = NULL;
	cleanup_pgres PGresult *res = NULL;

	qname = ident(db, name, err);
	if (!qname)
		return error_wrap(err, "database \"%s\": set comment", name);
	if (comment) {
		/* COMMENT is a utility statement: it takes no parameters. */
		qval = literal(db, comment, err);
		if (!qval)
			return error_wrap(err, "database \"%s\": set comment", name);
	}
	sql = xasprintf("COMMENT ON DATABASE %s IS %s", qname, qval ? qval : "NULL");
	res = exec_cmd(db, sql, err);
	if (!res)
		return error_wrap(err, "database \"%s\": set comment", name);
	return 0;
}
