/* What one session holds or shows on the server: advisory locks and its
 * application_name. */
#include "db_priv.h"

#include <stdio.h>
#include <string.h>

int
db_lock(struct db *db, long long key, int cancel_fd, void (*waiting)(void *arg), void *arg, struct error **err)
{
	char k[24];
	bool told = false;

	snprintf(k, sizeof(k), "%lld", key);
	for (;;) {
		cleanup_pgres PGresult *res =
			db_exec_1(db, "SELECT pg_catalog.pg_try_advisory_lock($1::bigint)", k, err);

		if (!res)
			return error_wrap(err, "advisory lock");
		if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			return 0;
		if (!told && waiting)
			waiting(arg);
		told = true;
		if (db_pause_ms(250, cancel_fd))
			return error_set(err, EXIT_INTERRUPTED, "%s: waiting for another run: interrupted", db->masked);
	}
}

/* Runs a function of the pair form and reads its boolean answer. */
static int
pair_call(struct db *db, const char *sql, int class_id, int id, bool *answer, struct error **err)
{
	char c[16], i[16];
	const char *const params[] = { c, i };
	cleanup_pgres PGresult *res = NULL;

	snprintf(c, sizeof(c), "%d", class_id);
	snprintf(i, sizeof(i), "%d", id);
	res = db_exec_params(db, sql, 2, params, err);
	if (!res)
		return error_wrap(err, "advisory lock");
	*answer = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	return 0;
}

int
db_try_lock_pair(struct db *db, int class_id, int id, bool *got, struct error **err)
{
	return pair_call(db, "SELECT pg_catalog.pg_try_advisory_lock($1::int4, $2::int4)", class_id, id, got, err);
}

int
db_lock_pair(struct db *db, int class_id, int id, int cancel_fd, struct error **err)
{
	bool got = false;

	while (db_try_lock_pair(db, class_id, id, &got, err) == 0) {
		if (got)
			return 0;
		if (db_pause_ms(250, cancel_fd))
			return error_set(err, EXIT_INTERRUPTED, "%s: waiting for a lock: interrupted", db->masked);
	}
	return -1;
}

int
db_unlock_pair(struct db *db, int class_id, int id, struct error **err)
{
	bool held;

	/* Not held: the server warns and answers false; nothing to undo. */
	return pair_call(db, "SELECT pg_catalog.pg_advisory_unlock($1::int4, $2::int4)", class_id, id, &held, err);
}

int
db_set_application_name(struct db *db, const char *name, struct error **err)
{
	cleanup_pgres PGresult *res =
		db_exec_1(db, "SELECT pg_catalog.set_config('application_name', $1, false)", name, err);

	if (!res)
		return error_wrap(err, "set application_name");
	return 0;
}
