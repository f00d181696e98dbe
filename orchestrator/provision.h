/* The databases of one run: the embedded PostgreSQL container (or the
 * server of --db-url), the template built once by --db-setup, and one
 * clone per worker. Knows both the address the orchestrator uses and the
 * one the workers use, and tears down what it created. */
#ifndef XDOCK_PROVISION_H
#define XDOCK_PROVISION_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "db.h"
#include "dbserver.h"
#include "docker.h"
#include "error.h"
#include "run_ctx.h"

#define PROVISION_TEMPLATE "test_db_template"
/* The advisory lock a run holds on a shared server ("xdck" in ASCII). */
#define PROVISION_LOCK_KEY 0x7864636bLL

/* Under --db-scope server, worker slot's own server: a copy of the run's
 * server once the template is built, its clones made there. */
struct provision_server {
	struct dbserver srv;
	struct db *db;              /* admin connection, opened at the first clone */
};

struct provision {
	enum cli_db mode;
	enum cli_db_env env_mode;   /* what provision_env gives workers */
	struct dbserver srv;        /* the embedded server (or the kept one) */
	bool reused;                /* srv outlives the run */
	struct provision_server *servers; /* --db-scope server: one per slot */
	size_t nservers;            /* 0: every worker's database on srv */
	char *ready;                /* the session name that says "template built" */
	/* On a server other runs share (--db-url, --reuse-db): the comment
	 * every database this run makes carries (dbowner.h), so that
	 * `xdock gc --db-url` can tell a dead run's from a live one's. NULL
	 * elsewhere. */
	char *mark;
	char *run_id;               /* with mark: the staging names' (dbowner.h) */
	struct db *db;              /* admin connection */
	struct db_url admin;        /* as the orchestrator reaches the server */
	struct db_url worker;       /* as the workers reach it */
	bool own_password;          /* the embedded server's password is the run's (admin's), not the image's */
	bool host_network;          /* workers must share the host's network */
	bool template_ready;
	bool template_created;      /* dropped at teardown unless reused */
	char **dbs;                 /* worker databases created */
	size_t ndbs;
	double connect_seconds, template_seconds, clone_seconds;
	bool migrated;              /* --db-setup ran this time */
	int cancel_fd;              /* readable: stop waiting for the server; -1: none */
};

/* Decides where the databases live and how workers reach them, before
 * anything starts (the workers' environment needs it). exposed: the
 * engine publishes ports where its network reaches them (an engine
 * elsewhere), so its embedded server gets a password of the run's own.
 * No I/O but the random password. */
int provision_plan(struct provision *p, const struct config *cfg, size_t nslots, bool exposed,
		   struct error **err);
/* Starts (or finds) the embedded server without waiting for it to accept
 * connections; learns its published port. Safe to run on its own thread
 * with its own docker client while the workers start. */
int provision_launch(struct provision *p, const struct run_ctx *ctx, struct error **err);
/* Under --db-scope server, starts slot's own server (a no-op otherwise),
 * which copies the run's server once the template is built. As safe on
 * its own thread as provision_launch; one call per slot. */
int provision_launch_server(struct provision *p, const struct run_ctx *ctx, size_t slot, struct error **err);
/* Waits until the server answers and opens the admin connection. An
 * embedded server that exits meanwhile ends the wait with its FATAL line
 * (a usage error when --db-option was given). On a shared server, waits
 * for the server's lock (one run at a time), then takes the run's own
 * advisory lock, held to the end, which tells gc the run is alive. */
int provision_connect(struct provision *p, const struct run_ctx *ctx, struct error **err);
/* Builds (or finds, cached by --db-setup-key) the template database.
 * setup_in: a running container of the run to run --db-setup in (the
 * controller: the test image, the workers' mounts, user and network);
 * NULL: a container of its own. */
int provision_template(struct provision *p, const struct run_ctx *ctx, const char *setup_in,
		       struct error **err);
/* Drops and re-creates `name` from the template, for worker slot (in its
 * own server under --db-scope server, waiting for that server to answer). */
int provision_clone(struct provision *p, const struct run_ctx *ctx, size_t slot, const char *name,
		    struct error **err);
/* Drops worker databases (unless keep, or the run's own embedded server
 * goes anyway), the template (unless cached; what stays on a shared
 * server on purpose loses the run's mark, so gc leaves it), removes the embedded server
 * (unless reused: then it only leaves the run network). The one place the
 * server's container is removed. Best effort: reports the first failure
 * but always tries everything. */
int provision_teardown(struct provision *p, const struct run_ctx *ctx, struct error **err);
/* Removes slot's own server (--db-scope server), so that teardown can
 * remove them in parallel before provision_teardown; a no-op otherwise. */
int provision_teardown_server(struct provision *p, const struct run_ctx *ctx, size_t slot, struct error **err);

/* What a worker is told about its database (provision_env.c). */

/* Appends the environment slot's worker using database `name` sees (as
 * --db-env says) to env
 * (heap strings, NULL-terminated array grown with util_strv_push). */
void provision_env(const struct provision *p, size_t slot, const char *name, char ***env, size_t *nenv);
/* Appends the --db-setup command's environment to env: all of it, for
 * the template, whatever --db-env says. */
void provision_env_setup(const struct provision *p, char ***env, size_t *nenv);

/* What a worker's placeholders stand for; NULL fields (no database)
 * expand to nothing. */
struct provision_vars {
	const char *worker;        /* gw0 */
	const char *database;      /* test_db_gw0 */
	const char *database_url;  /* the worker's DATABASE_URL */
	const char *host;
	const char *port;
};

/* s with {worker}, {database}, {database_url}, {host} and {port}
 * replaced by v's values; any other text, braces included, as is. Pure;
 * the result is the caller's. */
char *provision_expand(const char *s, const struct provision_vars *v);
/* Fills v (and the strings behind it, freed by provision_vars_release)
 * for the worker `worker` of slot using database `dbname` (NULL: none). */
struct provision_vars_store {
	char *url, *port, *host;
};
void provision_vars(const struct provision *p, size_t slot, const char *worker, const char *dbname,
		    struct provision_vars *v, struct provision_vars_store *store);
void provision_vars_release(struct provision_vars_store *store);

/* The template's cache key: SHA-256 of the test image's id, the
 * --db-setup command and the names and contents of the files matching
 * glob (relative to project_dir), as "xdock-key:sha256:<hex>". NULL glob:
 * NULL result (no cache key, migrations always run). */
char *provision_key(const char *project_dir, const char *image_id, const char *setup, const char *glob,
		    struct error **err);

#endif
