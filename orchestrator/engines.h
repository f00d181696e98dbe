/* The engines of one run (--docker-host given several times, or
 * XDOCK_DOCKER_HOSTS): each one's client, CPUs, run network, shipped
 * volumes and databases, and which worker slot runs on which. Placement
 * is pure (engines_place, engines_assign); the rest opens and closes the
 * engines. An engine that stops answering mid-run is marked lost: no more
 * calls go to it, and what the run left there is named for `xdock gc`.
 * Whether it answers is asked on the caller's thread (engines_check), or
 * on a thread of the engine's own while the caller goes on (the probe). */
#ifndef XDOCK_ENGINES_H
#define XDOCK_ENGINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "docker.h"
#include "error.h"
#include "provision.h"
#include "run_ctx.h"
#include "ship.h"
#include "worker.h"

/* The variable that lists the engines when no --docker-host is given
 * (CI): addresses separated by commas or spaces. */
#define ENGINES_ENV "XDOCK_DOCKER_HOSTS"

/* A probe's ping limit; a probe tries twice (see engines.c). */
#define ENGINES_PROBE_MS 5000

struct engine {
	const char *host;           /* as given; NULL: $DOCKER_HOST or the local socket */
	struct docker *dk;          /* the main thread's client */
	int ncpu;
	size_t nworkers;            /* slots placed here at the start */
	char name_id[24];           /* the run id in its objects' names: "<run>", "<run>-e1" */
	bool shipping;              /* the project travels to it (ship.h) */
	struct ship ship;
	char *network;              /* its run network, NULL without one */
	bool network_created;
	struct run_ctx ctx;         /* dk, network and volumes are this engine's */
	struct worker_setup setup;  /* its workers' network and volumes */
	struct provision own;       /* its embedded server's databases */
	struct provision *prov;     /* &own, or the first engine's (--db-url, --db none) */
	bool lost;                  /* stopped answering: no call goes to it any more */
	struct engines_probe *probe; /* engines_probe_start's thread and client, NULL before the first */
	int64_t asked_ms;           /* when the last probe began (util_now_ms), 0 never */
};

/* What a probe found. */
enum engines_answer {
	ENGINES_IDLE,               /* no probe runs, none has news */
	ENGINES_ASKING,             /* the ping still runs */
	ENGINES_ANSWERS,            /* it answered */
	ENGINES_SILENT,             /* it answered no ping in time (*why says what happened) */
};

struct engines {
	struct engine *e;
	size_t n;
	char **hosts;               /* what host points into */
	size_t nhosts;
};

/* The engine addresses: cfg's --docker-host values, else ENGINES_ENV's
 * (env, may be NULL; an item "key=value" without "://" is the previous
 * address's TLS setting, as in "tcp://h:2376,certs=DIR"), else one engine at NULL (DOCKER_HOST or the local
 * socket). Heap strings; *hosts[i] NULL for the default. Pure. */
void engines_hosts(const struct config *cfg, const char *env, char ***hosts, size_t *n);
/* How many workers: -n N, or for -n auto the auto number (>0: from
 * PYTEST_XDIST_AUTO_NUM_WORKERS) or the sum of the engines' CPUs, capped
 * by --maxprocesses; --dist no is one. Pure. */
size_t engines_count(const struct config *cfg, const int *ncpu, size_t neng, int auto_env);
/* Spreads n workers over neng engines in proportion to their CPUs
 * (largest remainder; ties to the first engine): per[e] workers on e. Pure. */
void engines_place(const int *ncpu, size_t neng, size_t n, size_t *per);
/* Slot i's engine, at[i], given per[]: the slots are dealt in turn to the
 * engine with the largest share of its workers still to place, so gw0,
 * gw1, ... alternate between engines as their CPUs allow (a rerun round,
 * which uses the first slots, then spreads too). Pure. */
void engines_assign(const size_t *per, size_t neng, size_t n, size_t *at);

/* Opens every engine (ping, API version), sweeps dead runs' leftovers,
 * copies the images an engine lacks from another, reads the CPUs. */
int engines_open(struct engines *es, const struct config *cfg, struct docker_cancel *cancel, struct error **err);
/* Each engine's context for this run: base is the first engine's (labels,
 * user, project); the others get their own names (name_id), client,
 * shipping when remote or --ship, and their databases planned (one
 * --db-url server, or an embedded server each). */
int engines_plan(struct engines *es, const struct config *cfg, const struct run_ctx *base, size_t nslots,
		 struct error **err);
/* The engine names of the engines that run workers, for the report. */
const char *engines_name(const struct engines *es, size_t e);
/* Whether e still answers; a first failure marks it lost and says so
 * once (on stderr) with why. */
bool engines_check(struct engines *es, size_t e);
/* Marks e lost and says so once (on stderr) with why. */
void engines_lose(struct engines *es, size_t e, const char *why);
/* Asks whether e answers (GET /_ping, twice ENGINES_PROBE_MS at most) on
 * a thread of its own with a client of its own, so the caller's loop goes
 * on meanwhile; nothing when a probe runs already or e is lost. */
void engines_probe_start(struct engines *es, size_t e);
/* What the last probe of e found, once: ENGINES_ASKING while it runs;
 * ENGINES_SILENT with *why (heap) when it did not answer. A ping stopped
 * by a signal is no verdict (ENGINES_IDLE). The engine is not marked
 * lost here: the caller decides (engines_lose). */
enum engines_answer engines_probe_take(struct engines *es, size_t e, char **why);
/* Says what a lost engine keeps of run run_id and how to remove it. */
void engines_say_left(const struct engines *es, const char *run_id);
/* Waits for a probe still running (one ping's limit at most), then frees
 * every engine's clients. */
void engines_close(struct engines *es);

#endif
