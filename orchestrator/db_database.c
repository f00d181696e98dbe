/* Whole databases on a server: whether one exists, create (from a
 * template), drop, list by prefix, and the comment a database carries.
 * Names always go through PQescapeIdentifier, values through
 * PQescapeLiteral or a parameter. */
#include "db_priv.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"

/* How long db_create waits for other sessions to leave a template before
 * asking the server (which itself waits up to 5 s more). */
#define DB_TEMPLATE_WAIT_MS 2000

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
db_exists(struct db *db, const char *name, bool *exists, struct error **err)
{
	cleanup_pgres PGresult *res = NULL;

	res = db_exec_1(db, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", name, err);
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
	if (!db_result_ok(res))
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

/* The statement that clones template_name as qname, once the template's
 * other sessions have had a moment to leave. */
static char *
clone_sql(struct db *db, const char *qname, const char *template_name, struct error **err)
{
	cleanup_free char *qtmpl = db_ident(db, template_name, err);
	int64_t deadline = util_now_ms() + DB_TEMPLATE_WAIT_MS;
	int n;

	if (!qtmpl)
		return NULL;
	/* PostgreSQL refuses to copy a database someone is connected to (a
	 * migration that just exited may still be disconnecting). */
	for (;;) {
		free(other_sessions(db, template_name, &n));
		if (n == 0 || util_now_ms() >= deadline)
			break;
		db_pause_ms(100, -1);
	}
	/* PostgreSQL 15's default strategy, WAL_LOG, writes every block of
	 * the template through the WAL; a file copy and a checkpoint is
	 * cheaper for a scratch database (the bench's 60-table template: 0.4 s
	 * a clone against 0.5-0.8 s). Older servers copy files anyway and do
	 * not know the clause. */
	return xasprintf("CREATE DATABASE %s TEMPLATE %s%s", qname, qtmpl,
			 PQserverVersion(db->conn) >= 150000 ? " STRATEGY FILE_COPY" : "");
}

/* A failed CREATE DATABASE ... TEMPLATE: the template still in use gets
 * its own message naming the sessions. */
static int
clone_error(struct db *db, const PGresult *res, const char *name, const char *template_name, struct error **err)
{
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
	db_result_error(db, res, err);
	return error_wrap(err, "create database \"%s\" from template \"%s\"", name, template_name);
}

int
db_create(struct db *db, const char *name, const char *template_name, struct error **err)
{
	cleanup_free char *qname = NULL, *sql = NULL;
	cleanup_pgres PGresult *res = NULL;

	if (check_name(name, err) < 0 || (template_name && check_name(template_name, err) < 0))
		return error_wrap(err, "create database");
	qname = db_ident(db, name, err);
	if (!qname)
		return error_wrap(err, "create database \"%s\"", name);
	sql = template_name ? clone_sql(db, qname, template_name, err) : xasprintf("CREATE DATABASE %s", qname);
	if (!sql)
		return error_wrap(err, "create database \"%s\"", name);
	res = PQexec(db->conn, sql);
	if (db_result_ok(res))
		return 0;
	if (template_name)
		return clone_error(db, res, name, template_name, err);
	db_result_error(db, res, err);
	return error_wrap(err, "create database \"%s\"", name);
}

int
db_create_marked(struct db *db, const char *name, const char *template_name, const char *staging,
		 const char *comment, struct error **err)
{
	cleanup_free char *qname = NULL, *qstaging = NULL, *qval = NULL, *sql = NULL;
	cleanup_pgres PGresult *res = NULL;
	struct error *derr = NULL;

	if (check_name(name, err) < 0 || check_name(staging, err) < 0)
		return error_wrap(err, "create database");
	if (!(qname = db_ident(db, name, err)) || !(qstaging = db_ident(db, staging, err)) ||
	    !(qval = db_literal(db, comment, err)))
		return error_wrap(err, "create database \"%s\"", name);
	/* CREATE DATABASE cannot run inside a transaction block, so no
	 * transaction holds it and its COMMENT together: a process killed
	 * between the two would leave a database nobody can attribute. So it
	 * is made under staging, a name that says whose it is, and the
	 * comment and the rename to name (both transactional) are one
	 * statement string: the server runs such a string as one implicit
	 * transaction, all or nothing. */
	if (db_create(db, staging, template_name, err) < 0)
		return error_wrap(err, "create database \"%s\"", name);
	sql = xasprintf("COMMENT ON DATABASE %s IS %s; ALTER DATABASE %s RENAME TO %s", qstaging, qval, qstaging,
			qname);
	res = db_exec(db, sql, err);
	if (res)
		return 0;
	db_drop(db, staging, &derr);
	error_free(derr);
	return error_wrap(err, "create database \"%s\": mark and rename", name);
}

int
db_drop(struct db *db, const char *name, struct error **err)
{
	cleanup_free char *qname = NULL, *sql = NULL;
	cleanup_pgres PGresult *res = NULL;

	if (check_name(name, err) < 0)
		return error_wrap(err, "drop database");
	qname = db_ident(db, name, err);
	if (!qname)
		return error_wrap(err, "drop database \"%s\"", name);
	if (PQserverVersion(db->conn) >= 130000) {
		sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", qname);
	} else {
		/* Before 13 there is no FORCE: end the sessions ourselves. A
		 * session may sneak in between, and DROP then says so. */
		cleanup_pgres PGresult *kill = db_exec_1(
			db,
			"SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity"
			" WHERE datname = $1 AND pid <> pg_backend_pid()",
			name, err);

		if (!kill)
			return error_wrap(err, "drop database \"%s\": end its sessions", name);
		sql = xasprintf("DROP DATABASE IF EXISTS %s", qname);
	}
	res = db_exec(db, sql, err);
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
	res = db_exec_1(db,
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
	res = db_exec_1(db,
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

	qname = db_ident(db, name, err);
	if (!qname)
		return error_wrap(err, "database \"%s\": set comment", name);
	if (comment) {
		/* COMMENT is a utility statement: it takes no parameters. */
		qval = db_literal(db, comment, err);
		if (!qval)
			return error_wrap(err, "database \"%s\": set comment", name);
	}
	sql = xasprintf("COMMENT ON DATABASE %s IS %s", qname, qval ? qval : "NULL");
	res = db_exec(db, sql, err);
	if (!res)
		return error_wrap(err, "database \"%s\": set comment", name);
	return 0;
}

int
db_list_commented(struct db *db, const char *prefix, struct db_commented **out, size_t *n, struct error **err)
{
	cleanup_pgres PGresult *res = NULL;
	struct db_commented *l;
	int rows;

	*out = NULL;
	*n = 0;
	res = db_exec_1(db,
			"SELECT d.datname, c.description FROM pg_catalog.pg_database d"
			" JOIN pg_catalog.pg_shdescription c ON c.objoid = d.oid"
			" AND c.classoid = 'pg_catalog.pg_database'::regclass"
			" WHERE left(c.description, length($1)) = $1 ORDER BY d.datname",
			prefix, err);
	if (!res)
		return error_wrap(err, "list databases by comment");
	rows = PQntuples(res);
	l = xcalloc((size_t)rows + 1, sizeof(*l));
	for (int i = 0; i < rows; i++) {
		l[i].name = xstrdup(PQgetvalue(res, i, 0));
		l[i].comment = xstrdup(PQgetvalue(res, i, 1));
	}
	*out = l;
	*n = (size_t)rows;
	return 0;
}

void
db_commented_free(struct db_commented *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].name);
		free(l[i].comment);
	}
	free(l);
}
