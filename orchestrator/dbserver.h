/* Embedded PostgreSQL servers as containers of the xdock/postgres image:
 * the run's own (or the one --reuse-db keeps across runs) and, under
 * --db-scope server, one more per worker that starts as a copy of the
 * first once its template is built. Knows containers and their logs, not
 * SQL: provision decides what runs on them. */
#ifndef XDOCK_DBSERVER_H
#define XDOCK_DBSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "run_ctx.h"

#define DBSERVER_REUSE_NAME "xdock-reuse-db"
/* The name workers reach the run's server by; a worker's own server under
 * --db-scope server is DBSERVER_ALIAS "-gwN". */
#define DBSERVER_ALIAS "xdock-db"

struct dbserver {
	char *container;    /* id; NULL: not started */
	int host_port;      /* 5432/tcp as published on the host */
	bool reused;        /* the --reuse-db server: outlives the run */
	bool connected_net; /* reused and joined the run network */
};

/* Starts (or, with --reuse-db, finds) the run's server without waiting for
 * it to accept connections. password: the superuser's, or NULL for the
 * image's own. */
int dbserver_start(struct dbserver *s, const struct run_ctx *ctx, const char *password, struct error **err);
/* Starts worker slot's own server. It waits until a session named `ready`
 * shows on the run's server, then copies that server's cluster
 * (pg_basebackup, images/postgres/entrypoint.sh) and starts on the copy. */
int dbserver_start_copy(struct dbserver *s, const struct run_ctx *ctx, size_t slot, const char *ready,
			const char *password, struct error **err);
/* For db_connect_alive between attempts: -1 with *err (its FATAL line;
 * a usage error when --db-option was given) once s's server has exited. */
struct dbserver_probe {
	const struct dbserver *s;
	const struct run_ctx *ctx;
};
int dbserver_alive(void *probe, struct error **err);
/* Removes a server of the run; a reused one only leaves the run network.
 * Frees s's strings either way. */
int dbserver_remove(struct dbserver *s, const struct run_ctx *ctx, struct error **err);

#endif
