#include "engines.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"
#include "imagecopy.h"

/* A lost engine is asked once more whether it answers; an engine that
 * is up answers a ping in milliseconds. */
#define ENGINES_PING_MS 5000

/* A probe: one ping at a time per engine, on a thread of its own. Why a
 * thread and not the fleet's pool or a non-blocking call: the pool runs a
 * batch of jobs and returns when all are done, so the loop would wait out
 * a frozen engine's ping anyway; a non-blocking ping would need a second,
 * multi-handle way of calling the engine in the Docker client for one
 * GET. A thread with a client of its own (a curl handle is never shared
 * between threads, as in the pool) costs one short-lived thread per probe,
 * and the loop only looks at a flag once a round. */
struct engines_probe {
	struct docker *dk;      /* the probe's own client, kept between probes */
	pthread_t thread;
	bool running;           /* started and not joined yet (the caller's view) */
	atomic_bool finished;   /* set by the thread once rc and err are written */
	int rc;
	struct error *err;
};

void
engines_hosts(const struct config *cfg, const char *env, char ***hosts, size_t *n)
{
	*hosts = NULL;
	*n = 0;
	for (size_t i = 0; i < cfg->ndocker_hosts; i++)
		util_strv_push(hosts, n, xstrdup(cfg->docker_hosts[i]));
	if (*n == 0 && !cfg->docker_host && env) {
		const char *p = env;

		while (*p) {
			size_t len = strcspn(p, ", \t\n");

			/* "certs=DIR" after a comma is the previous address's
			 * setting (docker_endpoint_parse), not an engine. */
			if (len && *n && memchr(p, '=', len) && !memmem(p, len, "://", 3)) {
				char *joined = xasprintf("%s,%.*s", (*hosts)[*n - 1], (int)len, p);

				free((*hosts)[*n - 1]);
				(*hosts)[*n - 1] = joined;
			} else if (len) {
				util_strv_push(hosts, n, strndup(p, len));
			}
			p += len;
			p += strspn(p, ", \t\n");
		}
	}
	if (*n == 0 && cfg->docker_host)
		util_strv_push(hosts, n, xstrdup(cfg->docker_host));
	if (*n == 0) {
		/* One engine where DOCKER_HOST or the local socket says. */
		*hosts = xcalloc(2, sizeof(**hosts));
		*n = 1;
	}
}

size_t
engines_count(const struct config *cfg, const int *ncpu, size_t neng, int auto_env)
{
	size_t n = 0;

	if (cfg->dist == SCHED_NO)
		return 1;
	if (!cfg->workers_auto)
		return (size_t)cfg->workers;
	if (auto_env > 0) {
		n = (size_t)auto_env;
	} else {
		for (size_t e = 0; e < neng; e++)
			n += (size_t)(ncpu[e] > 0 ? ncpu[e] : 1);
	}
	if (n == 0)
		n = 1;
	if (cfg->maxprocesses > 0 && n > (size_t)cfg->maxprocesses)
		n = (size_t)cfg->maxprocesses;
	return n;
}

/* An engine's weight: its CPUs, at least one. */
static size_t
weight(int ncpu)
{
	return (size_t)(ncpu > 0 ? ncpu : 1);
}

void
engines_place(const int *ncpu, size_t neng, size_t n, size_t *per)
{
	size_t total = 0, placed = 0;
	bool *bumped = xcalloc(neng ? neng : 1, sizeof(*bumped));

	for (size_t e = 0; e < neng; e++)
		total += weight(ncpu[e]);
	for (size_t e = 0; e < neng; e++) {
		per[e] = n * weight(ncpu[e]) / total;
		placed += per[e];
	}
	/* The rest, one each, to the largest remainders (n*w - per*total,
	 * the share left times total); fewer than neng are left. */
	while (placed < n) {
		size_t best = SIZE_MAX, best_rem = 0;

		for (size_t e = 0; e < neng; e++) {
			size_t rem = n * weight(ncpu[e]) - per[e] * total;

			if (!bumped[e] && (best == SIZE_MAX || rem > best_rem)) {
				best = e;
				best_rem = rem;
			}
		}
		bumped[best] = true;
		per[best]++;
		placed++;
	}
	free(bumped);
}

void
engines_assign(const size_t *per, size_t neng, size_t n, size_t *at)
{
	size_t *used = xcalloc(neng ? neng : 1, sizeof(*used));

	for (size_t i = 0; i < n; i++) {
		size_t best = 0;
		bool found = false;

		for (size_t e = 0; e < neng; e++) {
			if (used[e] >= per[e])
				continue;
			/* (per-used)/per larger than the best's: compare
			 * crosswise to stay in integers. */
			if (!found || (per[e] - used[e]) * per[best] > (per[best] - used[best]) * per[e]) {
				best = e;
				found = true;
			}
		}
		at[i] = best;
		used[best]++;
	}
	free(used);
}

/* Where an engine that lacks an image gets it: the run's other engines
 * first, then $DOCKER_HOST's and the local socket's. */
static int
copy_images(struct engines *es, size_t e, const struct config *cfg, struct error **err)
{
	const char *env = getenv("DOCKER_HOST");
	const char **src = xcalloc(es->n + 3, sizeof(*src));
	const char *images[] = { cfg->image, cfg->db == CLI_DB_EMBEDDED ? cfg->db_image : NULL };
	size_t n = 0;
	uint64_t bytes;
	int rc = 0;

	for (size_t k = 0; k < es->n; k++)
		if (k != e && es->e[k].dk)
			src[n++] = docker_host(es->e[k].dk);
	src[n++] = env && *env ? env : "unix:///var/run/docker.sock";
	src[n++] = "unix:///var/run/docker.sock";
	for (size_t i = 0; i < 2 && rc == 0; i++)
		if (images[i])
			rc = imagecopy_ensure(es->e[e].dk, images[i], src, stderr, &bytes, err);
	free(src);
	return rc;
}

int
engines_open(struct engines *es, const struct config *cfg, struct docker_cancel *cancel, struct error **err)
{
	memset(es, 0, sizeof(*es));
	engines_hosts(cfg, getenv(ENGINES_ENV), &es->hosts, &es->nhosts);
	es->n = es->nhosts;
	es->e = xcalloc(es->n, sizeof(*es->e));
	for (size_t e = 0; e < es->n; e++) {
		struct engine *en = &es->e[e];
		struct error *ge = NULL;
		int removed = 0;

		en->host = es->hosts[e];
		if (!(en->dk = docker_new(en->host, cancel, err)))
			return -1;
		/* Leftovers of runs whose orchestrator died go first. */
		if (gc_sweep(en->dk, false, &removed, &ge) < 0)
			error_free(ge);
	}
	for (size_t e = 0; e < es->n; e++) {
		struct engine *en = &es->e[e];

		/* An engine that starts empty gets the images from one that
		 * has them. */
		if (copy_images(es, e, cfg, err) < 0)
			return -1;
		en->ncpu = 1;
		if ((cfg->workers_auto || es->n > 1) && docker_info_ncpu(en->dk, &en->ncpu, err) < 0)
			return error_wrap(err, "engine at %s", docker_host(en->dk));
	}
	return 0;
}

int
engines_plan(struct engines *es, const struct config *cfg, const struct run_ctx *base, size_t nslots,
	     struct error **err)
{
	if (es->n > 1 && cfg->db_scope == CLI_DB_SCOPE_SERVER)
		return error_set(err, EXIT_USAGE, "--db-scope server with more than one engine is not supported");
	for (size_t e = 0; e < es->n; e++) {
		struct engine *en = &es->e[e];

		if (e == 0)
			snprintf(en->name_id, sizeof(en->name_id), "%s", base->run_id);
		else
			snprintf(en->name_id, sizeof(en->name_id), "%s-e%zu", base->run_id, e);
		en->ctx = *base;
		en->ctx.dk = en->dk;
		en->ctx.run_id = en->name_id;
		/* An engine elsewhere cannot see this disk: the project and
		 * the agent travel to it. A local one keeps the (faster) bind
		 * mounts. */
		en->shipping = cfg->ship || !docker_is_local(en->dk);
		if (en->shipping) {
			ship_init(&en->ship, en->name_id);
			en->ctx.project_volume = en->ship.project_volume;
			en->ctx.agent_volume = en->ship.agent_volume;
		}
		/* One --db-url server for all; an embedded one each. */
		if (e > 0 && cfg->db != CLI_DB_EMBEDDED) {
			en->prov = es->e[0].prov;
			continue;
		}
		en->prov = &en->own;
		if (provision_plan(en->prov, cfg, nslots, strcmp(docker_address(en->dk), "127.0.0.1") != 0, err) < 0)
			return -1;
		/* A signal stops the wait for the database server too. */
		en->prov->cancel_fd = docker_cancel_fd(en->dk);
	}
	return 0;
}

const char *
engines_name(const struct engines *es, size_t e)
{
	return docker_host(es->e[e].dk);
}

void
engines_lose(struct engines *es, size_t e, const char *why)
{
	struct engine *en = &es->e[e];

	if (en->lost)
		return;
	en->lost = true;
	fprintf(stderr, "xdock: engine %s lost: %s\n", docker_host(en->dk), why);
}

bool
engines_check(struct engines *es, size_t e)
{
	struct engine *en = &es->e[e];
	struct error *pe = NULL;

	if (en->lost)
		return false;
	if (docker_ping(en->dk, ENGINES_PING_MS, &pe) == 0)
		return true;
	engines_lose(es, e, pe->msg);
	error_free(pe);
	return false;
}

/* Two pings: a timed-out transfer's connection is closed, so the second
 * one connects afresh, and a healthy engine that missed one ping (a
 * stall of the machine, a connection the engine had dropped) is not lost
 * for it. A ping stopped by a signal is not tried again. */
static void *
probe_cb(void *arg)
{
	struct engines_probe *p = arg;
	struct error *pe = NULL;
	int rc = docker_ping(p->dk, ENGINES_PROBE_MS, &pe);

	if (rc < 0 && pe->status != EXIT_INTERRUPTED) {
		error_free(pe);
		pe = NULL;
		rc = docker_ping(p->dk, ENGINES_PROBE_MS, &pe);
	}
	p->rc = rc;
	p->err = pe;
	atomic_store(&p->finished, true);
	return NULL;
}

void
engines_probe_start(struct engines *es, size_t e)
{
	struct engine *en = &es->e[e];
	struct engines_probe *p = en->probe;

	if (en->lost || (p && p->running))
		return;
	if (!p) {
		struct error *ce = NULL;

		p = en->probe = xcalloc(1, sizeof(*p));
		/* Made here, not on the thread: libcurl's set-up is not
		 * thread-safe. */
		p->dk = docker_clone(en->dk, &ce);
		error_free(ce);
	}
	en->asked_ms = util_now_ms();
	error_free(p->err);
	p->err = NULL;
	atomic_store(&p->finished, false);
	/* Without a client or a thread: no probe this time (the next one
	 * tries again); the loop is never held up by a ping. */
	p->running = p->dk && pthread_create(&p->thread, NULL, probe_cb, p) == 0;
}

enum engines_answer
engines_probe_take(struct engines *es, size_t e, char **why)
{
	struct engines_probe *p = es->e[e].probe;
	enum engines_answer a;

	*why = NULL;
	if (!p || !p->running)
		return ENGINES_IDLE;
	if (!atomic_load(&p->finished))
		return ENGINES_ASKING;
	pthread_join(p->thread, NULL);
	p->running = false;
	if (p->rc == 0)
		return ENGINES_ANSWERS;
	a = p->err->status == EXIT_INTERRUPTED ? ENGINES_IDLE : ENGINES_SILENT;
	if (a == ENGINES_SILENT)
		*why = xstrdup(p->err->msg);
	error_free(p->err);
	p->err = NULL;
	return a;
}

void
engines_say_left(const struct engines *es, const char *run_id)
{
	for (size_t e = 0; e < es->n; e++)
		if (es->e[e].lost)
			fprintf(stderr,
				"xdock: engine %s was lost: what run %s left there (containers, networks and volumes "
				"labelled xdock.run=%s) goes with `xdock gc --docker-host %s` once it is back\n",
				docker_host(es->e[e].dk), run_id, run_id, docker_host(es->e[e].dk));
}

void
engines_close(struct engines *es)
{
	for (size_t e = 0; e < es->n; e++) {
		struct engines_probe *p = es->e[e].probe;

		if (p) {
			if (p->running)
				pthread_join(p->thread, NULL);
			error_free(p->err);
			docker_free(p->dk);
			free(p);
		}
		ship_release(&es->e[e].ship);
		free(es->e[e].network);
		docker_free(es->e[e].dk);
	}
	free(es->e);
	util_strv_free(es->hosts, es->nhosts);
	memset(es, 0, sizeof(*es));
}
