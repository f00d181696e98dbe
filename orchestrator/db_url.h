/* PostgreSQL connection strings as xdock takes them (--db-url): read by
 * libpq's own PQconninfoParse (a postgresql:// URL or libpq's key=value
 * pairs) into the fields provision needs, written back as a URL, and
 * masked for every message. No connection is made here. */
#ifndef XDOCK_DB_URL_H
#define XDOCK_DB_URL_H

#include "error.h"

/* A parsed connection string. All fields heap strings, NULL when absent. */
struct db_url {
	char *user;
	char *password;    /* "" is kept: libpq sends an empty password given as key=value */
	char *host;        /* one host: a name, an address or a socket directory */
	int port;          /* 0: default 5432 */
	char *dbname;
	/* Every other option libpq took (sslmode, connect_timeout, ...), as
	 * a URL query: key=value&..., values percent-encoded, in libpq's
	 * order. NULL when none. */
	char *query;
};

/* Parses url with libpq's rules, then refuses what xdock cannot use:
 * several hosts, a port outside 1-65535, an IPv6 host that is no address,
 * a URL with a space or control character. Accepts the scheme in any
 * case and an unencoded '@' in the password (the last '@' ends the user
 * part). Errors are EXIT_USAGE, one line, every password masked. On
 * failure *out is all NULL. */
int db_url_parse(const char *url, struct db_url *out, struct error **err);
void db_url_release(struct db_url *u);
/* Formats a URL with percent-encoding; host/port/dbname override u's when
 * non-NULL/non-zero. Caller frees. */
char *db_url_format(const struct db_url *u, const char *host, int port, const char *dbname);
/* url as given with every password replaced by "***" (the URL's own and
 * any password= parameter), for every message and report. Works on the
 * text, so a string db_url_parse refuses is masked too. Caller frees. */
char *db_url_masked(const char *url);

#endif
