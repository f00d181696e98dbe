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

int
db_set_application_name(struct db *db, const char *name, struct error **err)
{
	cleanup_pgres PGresult *res =
		db_exec_1(db, "SELECT pg_catalog.set_config('application_name', $1, false)", name, err);

	if (!res)
		return error_wrap(err, "set application_name");
	return 0;
}
