/* What the db_*.c files share: the connection behind struct db and the
 * helpers that run a statement and turn libpq's failures into our error
 * object. Only the db_*.c files include this, and with it libpq-fe.h. */
#ifndef XDOCK_DB_PRIV_H
#define XDOCK_DB_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"

/* Only the first line of a server or libpq message goes into ours, capped. */
#define DB_MSG_MAX 512

struct db {
	PGconn *conn;
	char *masked; /* the URL we connected to, password masked */
};

static inline void
db_cleanup_pgres_fn(PGresult **r)
{
	PQclear(*r);
}
#define cleanup_pgres __attribute__((cleanup(db_cleanup_pgres_fn)))

/* First line of a libpq or server message, trimmed and capped at
 * DB_MSG_MAX; "(no message)" for none. Caller frees. */
char *db_first_line(const char *msg);
/* A result that succeeded (a command or rows); NULL counts as failed. */
bool db_result_ok(const PGresult *res);
/* Sets *err from a failed result (NULL: the connection is gone) with the
 * server's primary message and SQLSTATE; returns -1. */
int db_result_error(struct db *db, const PGresult *res, struct error **err);
/* Runs sql; the result (caller clears) or NULL with *err. */
PGresult *db_exec(struct db *db, const char *sql, struct error **err);
/* The same with n text parameters $1..$n, so values reach the server as
 * data, never as SQL. */
PGresult *db_exec_params(struct db *db, const char *sql, int n, const char *const *params, struct error **err);
/* The same with one text parameter $1, so names reach the server as
 * data, never as SQL. */
PGresult *db_exec_1(struct db *db, const char *sql, const char *param, struct error **err);
/* name quoted as an identifier / s as a literal, heap copies (caller
 * frees); NULL with *err. */
char *db_ident(struct db *db, const char *name, struct error **err);
char *db_literal(struct db *db, const char *s, struct error **err);

/* Sleeps ms, or less when cancel_fd (-1: none) becomes readable: true
 * then. */
bool db_pause_ms(int64_t ms, int cancel_fd);

#endif
