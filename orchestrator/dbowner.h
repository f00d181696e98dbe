/* Which run a database on a shared server (--db-url, --reuse-db) belongs
 * to: the mark it carries in its COMMENT ("xdock.run=ID xdock.owner=OWNER",
 * the values of the run's container labels) and the advisory-lock keys
 * that say the run is alive and that guard a database's name while it is
 * re-created or dropped. Pure: no connection. */
#ifndef XDOCK_DBOWNER_H
#define XDOCK_DBOWNER_H

/* Advisory locks of the two-int form pg_advisory_lock(class, id): apart
 * from the one-bigint key of the server lock (provision.h). */
#define DBOWNER_CLASS_RUN 0x78646b72  /* "xdkr": held by a live run, id = dbowner_key(run id) */
#define DBOWNER_CLASS_NAME 0x78646b6e /* "xdkn": held while a database is made or dropped, id = dbowner_key(name) */

/* What every mark starts with, for listing them. */
#define DBOWNER_MARK_PREFIX "xdock.run="

/* What the name a database is made under starts with (dbowner_staging). */
#define DBOWNER_STAGING_PREFIX "xdock.new."

/* The comment that marks a database as run_id's. Caller frees. */
char *dbowner_mark(const char *run_id, const char *owner);
/* Reads a mark: 0 with heap copies of the run id and owner (caller
 * frees), -1 for any other comment (a template's cache key, a user's own). */
int dbowner_parse(const char *comment, char **run_id, char **owner);
/* The name run_id makes the database name under before it is marked
 * and renamed ("xdock.new.<run id>.<8 hex digits of name's key>"): the
 * name itself says whose it is while there is no comment yet. Caller
 * frees. */
char *dbowner_staging(const char *run_id, const char *name);
/* Reads such a name: 0 with a heap copy of the run id, -1 for any other
 * name. */
int dbowner_parse_staging(const char *dbname, char **run_id);
/* A string's advisory-lock id: 32-bit FNV-1a, as a signed int (the
 * server's int4). Two runs sharing one is as likely as 1 in 2^32 and only
 * keeps a dead run's databases a while longer. */
int dbowner_key(const char *s);

#endif
