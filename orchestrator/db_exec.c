/* Running one statement and reading libpq's failures: the helpers every
 * db_*.c statement goes through (db_priv.h). */
#include "db_priv.h"

#include <ctype.h>
#include <string.h>

char *
db_first_line(const char *msg)
{
	size_t n;

	/* libpq adds hint lines ("Is the server running ...") that repeat
	 * what we say. */
	if (!msg || !*msg)
		return xstrdup("(no message)");
	n = strcspn(msg, "\n");
	while (n > 0 && isspace((unsigned char)msg[n - 1]))
		n--;
	if (n > DB_MSG_MAX)
		n = DB_MSG_MAX;
	return xstrndup(msg, n);
}

int
db_result_error(struct db *db, const PGresult *res, struct error **err)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	cleanup_free char *line = db_first_line(primary ? primary : PQerrorMessage(db->conn));

	if (state)
		return error_set(err, EXIT_INTERNAL, "%s: %s (SQLSTATE %s)", db->masked, line, state);
	return error_set(err, EXIT_INTERNAL, "%s: %s", db->masked, line);
}

bool
db_result_ok(const PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static PGresult *
checked(struct db *db, PGresult *res, struct error **err)
{
	if (!db_result_ok(res)) {
		db_result_error(db, res, err);
		PQclear(res);
		return NULL;
	}
	return res;
}

PGresult *
db_exec(struct db *db, const char *sql, struct error **err)
{
	return checked(db, PQexec(db->conn, sql), err);
}

PGresult *
db_exec_params(struct db *db, const char *sql, int n, const char *const *params, struct error **err)
{
	return checked(db, PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0), err);
}

PGresult *
db_exec_1(struct db *db, const char *sql, const char *param, struct error **err)
{
	return db_exec_params(db, sql, 1, &param, err);
}

/* libpq's escaped copy as a heap string of ours, so callers can use
 * cleanup_free. */
static char *
escaped(struct db *db, char *q, const char *what, struct error **err)
{
	char *out;

	if (!q) {
		cleanup_free char *line = db_first_line(PQerrorMessage(db->conn));

		error_set(err, EXIT_INTERNAL, "quote %s: %s", what, line);
		return NULL;
	}
	out = xstrdup(q);
	PQfreemem(q);
	return out;
}

char *
db_ident(struct db *db, const char *name, struct error **err)
{
	return escaped(db, PQescapeIdentifier(db->conn, name, strlen(name)), "name", err);
}

char *
db_literal(struct db *db, const char *s, struct error **err)
{
	return escaped(db, PQescapeLiteral(db->conn, s, strlen(s)), "literal", err);
}
