/* The fleet's pool: starting and removing containers, launching the
 * workers' own database servers, on a bounded number of threads, each with a
 * Docker client of its own to every engine of the run. */
#include "fleet_priv.h"

#include <pthread.h>
#include <stdlib.h>

/* dockerd serialises much of a start anyway; past a handful of parallel
 * requests more threads only add contention. */
#define FLEET_PARALLEL 8

struct pool {
	struct fleet *f;
	struct job *jobs;
	size_t njobs, next;
	pthread_mutex_t mu;
	/* A controller among the jobs not done yet: the workers of its
	 * engine wait for it, to join its network namespace (fleet.c). */
	bool ctl_pending;
	pthread_cond_t ctl_done;
};

struct pool_thread {
	struct pool *p;
	struct docker **dk;     /* one per engine; NULL: none could be made */
	pthread_t thread;
	bool spawned;
};

/* A container that runs gets its hello at once: its agent starts pytest,
 * which imports while the other containers start. A dead channel shows
 * up as the end of its stream in the loop. */
static void
greet(struct worker *w)
{
	struct error *e = NULL;

	worker_hello(w);
	if (worker_flush(w, &e) < 0)
		error_free(e);
}

/* Returns once the pool's controller job, if any, has ended (started or
 * failed). It is the first job, so a thread has taken it before this
 * one took a later job, and the wait ends. */
static void
wait_controller(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->ctl_pending)
		pthread_cond_wait(&p->ctl_done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

static void
controller_done(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->ctl_pending = false;
	pthread_cond_broadcast(&p->ctl_done);
	pthread_mutex_unlock(&p->mu);
}

static void
run_job(struct pool *p, struct docker *dk, struct job *j)
{
	struct fleet *f = p->f;
	struct engine *en = &f->es->e[j->engine];
	struct run_ctx ctx = en->ctx;
	char **env = NULL;
	size_t nenv = 0;

	ctx.dk = dk;
	switch (j->kind) {
	case JOB_START_WORKER:
		if (en == fleet_first(f))
			wait_controller(p);
		if (f->w[j->worker].dbname)
			provision_env(en->prov, j->worker, f->w[j->worker].dbname, &env, &nenv);
		j->rc = fleet_start_worker(f, dk, &f->w[j->worker], (const char *const *)env, &j->err);
		util_strv_free(env, nenv);
		if (j->rc == 0)
			greet(&f->w[j->worker]);
		break;
	case JOB_START_CONTROLLER:
		j->rc = fleet_controller_start(f, dk, &j->err);
		if (j->rc == 0)
			greet(&f->ctl);
		fleet_prep_controller(f, j->rc == 0 ? f->ctl.container : NULL);
		controller_done(p);
		break;
	case JOB_LAUNCH_DB_SERVER:
		j->rc = provision_launch_server(en->prov, &ctx, j->worker, &j->err);
		break;
	case JOB_DB_SERVER_TEARDOWN:
		j->rc = provision_teardown_server(en->prov, &ctx, j->worker, &j->err);
		break;
	case JOB_REMOVE:
		j->rc = docker_container_remove(dk, j->id, true, &j->err);
		break;
	case JOB_DB_TEARDOWN:
		j->rc = provision_teardown(en->prov, &ctx, &j->err);
		break;
	}
}

static void *
pool_thread_cb(void *arg)
{
	struct pool_thread *t = arg;
	struct pool *p = t->p;

	for (;;) {
		size_t i;
		struct job *j;

		pthread_mutex_lock(&p->mu);
		i = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->njobs)
			return NULL;
		j = &p->jobs[i];
		if (t->dk[j->engine]) {
			run_job(p, t->dk[j->engine], j);
		} else {
			j->rc = error_set(&j->err, EXIT_INTERNAL, "docker: no client for the engine at %s",
					  docker_host(p->f->es->e[j->engine].dk));
			if (j->kind == JOB_START_CONTROLLER) {
				fleet_prep_controller(p->f, NULL);
				controller_done(p);
			}
		}
	}
}

/* Each thread has its own Docker client to each engine (a curl handle is
 * never shared between threads), made here and not on the thread:
 * libcurl's global set-up is not thread-safe. Without a thread or a
 * client, the jobs run here with the main clients. */
void
fleet_pool_run(struct fleet *f, struct job *jobs, size_t njobs)
{
	size_t neng = f->es->n;
	size_t nthreads = njobs < FLEET_PARALLEL ? njobs : FLEET_PARALLEL;
	struct pool p = { .f = f, .jobs = jobs, .njobs = njobs };
	struct pool_thread *t = xcalloc(nthreads ? nthreads : 1, sizeof(*t));
	struct pool_thread here = { .p = &p, .dk = xcalloc(neng, sizeof(*here.dk)) };

	for (size_t e = 0; e < neng; e++)
		here.dk[e] = f->es->e[e].dk;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.ctl_done, NULL);
	/* Only as the first job (start_jobs puts it there): taken before
	 * any job that waits for it. */
	p.ctl_pending = njobs > 0 && jobs[0].kind == JOB_START_CONTROLLER;
	for (size_t i = 0; i < nthreads; i++) {
		bool all = true;

		t[i].p = &p;
		t[i].dk = xcalloc(neng, sizeof(*t[i].dk));
		for (size_t e = 0; e < neng; e++) {
			struct error *ce = NULL;

			t[i].dk[e] = docker_clone(f->es->e[e].dk, &ce);
			error_free(ce);
			all = all && t[i].dk[e];
		}
		if (all)
			t[i].spawned = pthread_create(&t[i].thread, NULL, pool_thread_cb, &t[i]) == 0;
	}
	pool_thread_cb(&here);
	for (size_t i = 0; i < nthreads; i++) {
		if (t[i].spawned)
			pthread_join(t[i].thread, NULL);
		for (size_t e = 0; e < neng; e++)
			docker_free(t[i].dk[e]);
		free(t[i].dk);
	}
	pthread_cond_destroy(&p.ctl_done);
	pthread_mutex_destroy(&p.mu);
	free(here.dk);
	free(t);
}
