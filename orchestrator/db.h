/* PostgreSQL over libpq: a connection (db_connect.c), the session's locks
 * (db_session.c) and whole databases (db_database.c); connection strings
 * are db_url.h's. Only the db_*.c files include libpq-fe.h. Names are
 * always quoted with PQescapeIdentifier and literals with PQescapeLiteral,
 * never pasted. */
#ifndef XDOCK_DB_H
#define XDOCK_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "db_url.h"
#include "error.h"

struct db;

/* The libpq this process runs with, as "15.8", for `xdock version`. */
void db_libpq_version(char *out, size_t n);
/* Connects to url (the maintenance database, e.g. .../postgres; what
 * db_url_parse reads, else EXIT_USAGE at once), retrying until timeout_ms
 * passes (a server that is still starting refuses at first). Unreachable:
 * EXIT_INTERNAL naming the masked URL and the server's message. cancel_fd
 * readable (a signal, -1: none): EXIT_INTERRUPTED at once. */
struct db *db_connect(const char *url, int timeout_ms, int cancel_fd, struct error **err);
/* The same, calling alive(arg, err) before each retry: a server that has
 * exited will not start answering, so alive returning -1 (with *err) ends
 * the wait at once with that error. */
struct db *db_connect_alive(const char *url, int timeout_ms, int cancel_fd, int (*alive)(void *arg, struct error **err),
			    void *arg, struct error **err);
void db_free(struct db *db);

/* Takes the session-level advisory lock `key`, held until db_free (or
 * the session's end, when a killed run's connection drops). Another
 * session holding it: calls waiting(arg) once, then polls every 250 ms,
 * so that cancel_fd (readable: EXIT_INTERRUPTED; -1: none) is heard. */
int db_lock(struct db *db, long long key, int cancel_fd, void (*waiting)(void *arg), void *arg, struct error **err);

/* The two-int form of session-level advisory locks, pg_advisory_lock(class,
 * id): a key space apart from db_lock's. db_try_lock_pair sets *got false
 * when another session holds it; db_lock_pair waits for it, polling every
 * 250 ms so that cancel_fd (readable: EXIT_INTERRUPTED; -1: none) is
 * heard. Held until db_unlock_pair or the session's end. */
int db_try_lock_pair(struct db *db, int class_id, int id, bool *got, struct error **err);
int db_lock_pair(struct db *db, int class_id, int id, int cancel_fd, struct error **err);
int db_unlock_pair(struct db *db, int class_id, int id, struct error **err);

/* SET application_name: how other sessions see this one
 * (pg_stat_activity). */
int db_set_application_name(struct db *db, const char *name, struct error **err);

int db_exists(struct db *db, const char *name, bool *exists, struct error **err);
/* CREATE DATABASE name [TEMPLATE template]. */
int db_create(struct db *db, const char *name, const char *template_name, struct error **err);
/* The same, made under staging and carrying comment once it has name:
 * killed at any moment, it leaves staging (with no comment) or name with
 * its comment, never name without it. */
int db_create_marked(struct db *db, const char *name, const char *template_name, const char *staging,
		     const char *comment, struct error **err);
/* DROP DATABASE IF EXISTS name WITH (FORCE): ends sessions still connected
 * (a crashed worker's, say). */
int db_drop(struct db *db, const char *name, struct error **err);
/* Names of databases starting with prefix; caller frees each and the array. */
int db_list(struct db *db, const char *prefix, char ***names, size_t *n, struct error **err);
/* COMMENT ON DATABASE: where the template keeps the hash of the schema
 * files it was built from. *comment NULL when none. */
int db_comment_get(struct db *db, const char *name, char **comment, struct error **err);
int db_comment_set(struct db *db, const char *name, const char *comment, struct error **err);
/* A database and its comment. */
struct db_commented {
	char *name;
	char *comment;
};
/* The databases whose comment starts with prefix, by name; caller frees
 * with db_commented_free. */
int db_list_commented(struct db *db, const char *prefix, struct db_commented **out, size_t *n, struct error **err);
void db_commented_free(struct db_commented *l, size_t n);

#endif
