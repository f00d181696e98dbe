/* The database half of gc: on a server given by --db-url, drops the
 * databases whose run is dead. A database is a run's when its comment
 * carries the run's mark (dbowner.h); the run is dead when no session
 * holds its advisory lock (a run holds it from its connection to its end,
 * and the server frees it when the connection drops, wherever the run's
 * process lived) and our own /proc does not show its process alive. A
 * database still under its staging name (dbowner.h) is its run's too. */
#include "gc.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "dbowner.h"

/* Drops d if it still carries the mark it was listed with: a live run may
 * have made it again under the same name meanwhile. 1: dropped. */
static int
drop_if_unchanged(struct db *db, const struct db_commented *d, struct error **err)
{
	cleanup_free char *now = NULL;
	bool exists = false;

	if (db_exists(db, d->name, &exists, err) < 0)
		return -1;
	if (!exists)
		return 0;
	if (db_comment_get(db, d->name, &now, err) < 0)
		return -1;
	if (!now || strcmp(now, d->comment) != 0)
		return 0;
	if (db_drop(db, d->name, err) < 0)
		return -1;
	return 1;
}

/* 1: dropped, 0: left (not a run's, its run alive or maybe alive, its
 * name being made again), -1 with *err. */
static int
sweep_one(struct db *db, const struct db_commented *d, struct error **err)
{
	cleanup_free char *run = NULL, *owner = NULL;
	bool run_free = false, name_free = false;
	/* Each unlock's own: its failure is no news to the caller (the lock
	 * goes with the session), and a second one must not wrap the first. */
	cleanup_error struct error *uname = NULL;
	cleanup_error struct error *urun = NULL;
	int rc = 0;

	if (dbowner_parse(d->comment, &run, &owner) < 0)
		return 0;
	/* A process we see alive keeps its databases even if its session
	 * dropped. */
	if (gc_owner_liveness(owner) == GC_ALIVE)
		return 0;
	if (db_try_lock_pair(db, DBOWNER_CLASS_RUN, dbowner_key(run), &run_free, err) < 0)
		return -1;
	if (!run_free)
		return 0;
	if (db_try_lock_pair(db, DBOWNER_CLASS_NAME, dbowner_key(d->name), &name_free, err) < 0)
		rc = -1;
	else if (name_free)
		rc = drop_if_unchanged(db, d, err);
	if (name_free)
		db_unlock_pair(db, DBOWNER_CLASS_NAME, dbowner_key(d->name), &uname);
	db_unlock_pair(db, DBOWNER_CLASS_RUN, dbowner_key(run), &urun);
	return rc;
}

/* A database left under its staging name (dbowner.h): its run was
 * killed between CREATE DATABASE and the statement that marks and renames
 * it. No run but its own makes that name, so its run's lock alone says
 * whether it is still on its way. 1: dropped. */
static int
sweep_staging(struct db *db, const char *name, struct error **err)
{
	cleanup_free char *run = NULL;
	struct error *uerr = NULL;
	bool run_free = false;
	int rc = 0;

	if (dbowner_parse_staging(name, &run) < 0)
		return 0;
	if (db_try_lock_pair(db, DBOWNER_CLASS_RUN, dbowner_key(run), &run_free, err) < 0)
		return -1;
	if (!run_free)
		return 0;
	rc = db_drop(db, name, err) < 0 ? -1 : 1;
	db_unlock_pair(db, DBOWNER_CLASS_RUN, dbowner_key(run), &uerr);
	error_free(uerr);
	return rc;
}

/* Keeps the first failure in *err, frees a later one, counts drops. */
static void
tally(int r, struct error **e, int *dropped, int *rc, struct error **err)
{
	if (r > 0)
		++*dropped;
	if (r < 0) {
		error_keep(err, *e);
		*rc = -1;
	} else {
		error_free(*e);
	}
	*e = NULL;
}

int
gc_db_sweep_on(struct db *db, int *dropped, struct error **err)
{
	struct db_commented *l = NULL;
	char **staged = NULL;
	size_t n = 0, nstaged = 0;
	struct error *e = NULL;
	int rc = 0;

	*dropped = 0;
	if (db_list_commented(db, DBOWNER_MARK_PREFIX, &l, &n, err) < 0)
		return -1;
	/* Best effort: every database is tried, the first failure kept. */
	for (size_t i = 0; i < n; i++)
		tally(sweep_one(db, &l[i], &e), &e, dropped, &rc, err);
	db_commented_free(l, n);
	if (db_list(db, DBOWNER_STAGING_PREFIX, &staged, &nstaged, &e) < 0) {
		error_keep(err, e);
		return -1;
	}
	for (size_t i = 0; i < nstaged; i++)
		tally(sweep_staging(db, staged[i], &e), &e, dropped, &rc, err);
	util_strv_free(staged, nstaged);
	return rc;
}

int
gc_db_sweep(const char *url, int cancel_fd, int *dropped, struct error **err)
{
	cleanup_free char *admin = NULL;
	struct db_url u;
	struct db *db;

	*dropped = 0;
	if (db_url_parse(url, &u, err) < 0)
		return error_wrap(err, "--db-url");
	/* The maintenance database when the URL names none, as a run does. */
	admin = db_url_format(&u, NULL, 0, u.dbname ? NULL : "postgres");
	db_url_release(&u);
	/* A given server should answer at once, as for a run. */
	if (!(db = db_connect(admin, 5000, cancel_fd, err)))
		return error_wrap(err, "--db-url");
	if (gc_db_sweep_on(db, dropped, err) < 0) {
		db_free(db);
		return error_wrap(err, "--db-url");
	}
	db_free(db);
	return 0;
}

int
gc_db_sweep_kept(struct docker *dk, int *servers, int *dropped, struct error **err)
{
	struct docker_list l = { 0 };
	const char *addr = docker_address(dk);
	bool v6 = strchr(addr, ':') != NULL;
	int rc = 0;

	*servers = *dropped = 0;
	if (docker_container_list(dk, "xdock.role=db", NULL, &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		struct docker_container_state st;
		cleanup_free char *url = NULL;
		struct error *e = NULL;
		int n = 0;

		if (docker_container_inspect(dk, l.items[i].id, "5432/tcp", &st, &e) < 0 || !st.running ||
		    st.host_port <= 0) {
			error_free(e);
			continue;
		}
		/* As a run reaches it: the image's credentials, the port
		 * published where the engine is reached (provision.c). */
		url = xasprintf("postgresql://xdock:xdock@%s%s%s:%d/postgres", v6 ? "[" : "", addr, v6 ? "]" : "",
				st.host_port);
		++*servers;
		if (gc_db_sweep(url, -1, &n, &e) < 0) {
			error_wrap(&e, "kept database container %.12s", l.items[i].id);
			error_keep(err, e);
			e = NULL;
			rc = -1;
		}
		*dropped += n;
	}
	docker_list_release(&l);
	return rc;
}
