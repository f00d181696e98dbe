#include "fleet.h"
#include "fleet_priv.h"

#include "gc.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* dockerd serialises much of a start anyway; past a handful of parallel
 * requests more threads only add contention. */
#define FLEET_PARALLEL 8

/* xdock-agent [--timeout S] -- python3 -m pytest <xdock's> <pytest args>. */
static void
build_agent_cmd(struct fleet *f)
{
	const struct config *cfg = f->cfg;
	size_t n = 0;

	f->cmd = xcalloc(cfg->nworker_args + cfg->npytest_args + 8, sizeof(*f->cmd));
	if (cfg->timeout > 0) {
		/* The agent counts whole seconds; a fraction rounds up, so a
		 * test never gets less than it was given. */
		snprintf(f->timeout_arg, sizeof(f->timeout_arg), "%.0f", ceil(cfg->timeout));
		f->cmd[n++] = "--timeout";
		f->cmd[n++] = f->timeout_arg;
	}
	f->cmd[n++] = "--";
	f->cmd[n++] = "python3";
	f->cmd[n++] = "-m";
	f->cmd[n++] = "pytest";
	for (size_t i = 0; i < cfg->nworker_args; i++)
		f->cmd[n++] = cfg->worker_args[i];
	for (size_t i = 0; i < cfg->npytest_args; i++)
		f->cmd[n++] = cfg->pytest_args[i];
	f->cmd[n] = NULL;
}

/* --env NAME=VALUE as given; --env NAME from xdock's own environment,
 * left out when unset. */
static void
resolve_env(struct fleet *f)
{
	for (size_t i = 0; i < f->cfg->nenv; i++) {
		const char *e = f->cfg->env[i];
		const char *val = strchr(e, '=') ? NULL : getenv(e);

		if (strchr(e, '='))
			util_strv_push(&f->env, &f->nenv, xstrdup(e));
		else if (val)
			util_strv_push(&f->env, &f->nenv, xasprintf("%s=%s", e, val));
	}
}

int
fleet_init(struct fleet *f, const struct config *cfg, size_t nw, const struct run_ctx *ctx, const char *agent_path,
	   struct report *rep, struct error **err)
{
	memset(f, 0, sizeof(*f));
	f->cfg = cfg;
	f->dk = ctx->dk;
	f->ctx = *ctx;
	f->rep = rep;
	f->nw = nw;
	f->w = xcalloc(nw ? nw : 1, sizeof(*f->w));
	for (size_t i = 0; i < nw; i++)
		worker_init(&f->w[i], i);
	build_agent_cmd(f);
	fleet_controller_cmd(f);
	resolve_env(f);
	worker_init(&f->ctl, 0);
	snprintf(f->ctl.name, sizeof(f->ctl.name), "controller");
	/* It receives every worker's events: more than a worker's commands. */
	buf_release(&f->ctl.out);
	buf_init(&f->ctl.out, (size_t)1 << 30);
	f->setup = (struct worker_setup){
		.image = cfg->image,
		.run_id = ctx->run_id,
		.project_dir = ctx->project_dir,
		.workdir = cfg->workdir ? cfg->workdir : ctx->project_dir,
		.user = ctx->user,
		.agent_path = agent_path,
		.project_volume = ctx->project_volume,
		.agent_volume = ctx->agent_volume,
		.agent_cmd = f->cmd,
		.labels = ctx->labels,
		.env = (const char *const *)f->env,
		.nworkers = nw,
		.memory = cfg->memory,
		.nano_cpus = cfg->nano_cpus,
	};
	f->setup.with_controller = true;
	if (provision_plan(&f->prov, cfg, nw, err) < 0)
		return -1;
	/* A signal stops the wait for the database server too. */
	f->prov.cancel_fd = docker_cancel_fd(ctx->dk);
	f->setup.network = f->prov.host_network ? "host" : NULL;
	return 0;
}

void
fleet_release(struct fleet *f)
{
	for (size_t i = 0; f->w && i < f->nw; i++)
		worker_release(&f->w[i]);
	worker_release(&f->ctl);
	free(f->w);
	free(f->cmd);
	free(f->ctl_cmd);
	free(f->ctl_dir);
	util_strv_free(f->ctl_args, f->nctl_args);
	free(f->network);
	util_strv_free(f->env, f->nenv);
	memset(f, 0, sizeof(*f));
}

/* Only a database needs a network of the run's own (a name workers reach
 * it by, out of other runs' reach). Without one, workers go on the
 * engine's default bridge: no network to create or remove, and containers
 * start sooner there than on a network of their own (docs/benchmarks.md). */
int
fleet_network(struct fleet *f, struct error **err)
{
	cleanup_free char *id = NULL;

	if (f->cfg->db == CLI_DB_NONE)
		return 0;
	f->network = xasprintf("xdock-%s", f->ctx.run_id);
	if (docker_network_create(f->dk, f->network, f->ctx.labels, &id, err) < 0)
		return error_wrap(err, "run network");
	f->network_created = true;
	f->ctx.network = f->network;
	if (!f->prov.host_network)
		f->setup.network = f->network;
	return 0;
}

/* One piece of work for the pool. */
enum job_kind {
	JOB_START_WORKER,
	JOB_START_CONTROLLER,
	JOB_LAUNCH_DB,
	JOB_LAUNCH_DB_SERVER,   /* --db-scope server: a worker's own */
	JOB_REMOVE,
	JOB_DB_SERVER_TEARDOWN, /* --db-scope server: a worker's own */
	JOB_DB_TEARDOWN,
};

struct job {
	enum job_kind kind;
	size_t worker;          /* JOB_START_WORKER, JOB_*_DB_SERVER* */
	const char *id;         /* JOB_REMOVE: container id */
	int rc;
	struct error *err;
};

struct pool {
	struct fleet *f;
	struct job *jobs;
	size_t njobs, next;
	pthread_mutex_t mu;
};

struct pool_thread {
	struct pool *p;
	struct docker *dk;
	pthread_t thread;
	bool spawned;
};

/* worker_start with the worker's placeholders ({worker}, {database},
 * {database_url}, {host}, {port}) expanded in the --env values and the
 * pytest arguments: a per-worker copy of the setup. */
static int
start_worker(struct fleet *f, struct docker *dk, struct worker *w, const char *const *db_env, struct error **err)
{
	struct worker_setup ws = f->setup;
	struct provision_vars v;
	struct provision_vars_store store;
	char **env = NULL, **cmd = NULL;
	size_t nenv = 0, ncmd = 0;
	int rc;

	provision_vars(&f->prov, w->index, w->name, w->dbname, &v, &store);
	for (size_t i = 0; i < f->nenv; i++)
		util_strv_push(&env, &nenv, provision_expand(f->env[i], &v));
	for (size_t i = 0; f->cmd[i]; i++)
		util_strv_push(&cmd, &ncmd, provision_expand(f->cmd[i], &v));
	ws.env = (const char *const *)env;
	ws.agent_cmd = (const char *const *)cmd;
	rc = worker_start(w, dk, &ws, db_env, err);
	util_strv_free(env, nenv);
	util_strv_free(cmd, ncmd);
	provision_vars_release(&store);
	return rc;
}

static void
run_job(struct fleet *f, struct docker *dk, struct job *j)
{
	struct run_ctx ctx = f->ctx;
	char **env = NULL;
	size_t nenv = 0;

	ctx.dk = dk;
	switch (j->kind) {
	case JOB_START_WORKER:
		if (f->w[j->worker].dbname)
			provision_env(&f->prov, j->worker, f->w[j->worker].dbname, &env, &nenv);
		j->rc = start_worker(f, dk, &f->w[j->worker], (const char *const *)env, &j->err);
		util_strv_free(env, nenv);
		break;
	case JOB_START_CONTROLLER:
		j->rc = fleet_controller_start(f, dk, &j->err);
		break;
	case JOB_LAUNCH_DB:
		j->rc = provision_launch(&f->prov, &ctx, &j->err);
		break;
	case JOB_LAUNCH_DB_SERVER:
		j->rc = provision_launch_server(&f->prov, &ctx, j->worker, &j->err);
		break;
	case JOB_DB_SERVER_TEARDOWN:
		j->rc = provision_teardown_server(&f->prov, &ctx, j->worker, &j->err);
		break;
	case JOB_REMOVE:
		j->rc = docker_container_remove(dk, j->id, true, &j->err);
		break;
	case JOB_DB_TEARDOWN:
		j->rc = provision_teardown(&f->prov, &ctx, &j->err);
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

		pthread_mutex_lock(&p->mu);
		i = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->njobs)
			return NULL;
		run_job(p->f, t->dk, &p->jobs[i]);
	}
}

/* Runs every job on at most FLEET_PARALLEL threads. Each thread has its
 * own Docker client (a curl handle is never shared between threads), made
 * here and not on the thread: libcurl's global set-up is not thread-safe.
 * Without a thread or a client, the jobs run here with the main client. */
static void
pool_run(struct fleet *f, struct job *jobs, size_t njobs)
{
	size_t nthreads = njobs < FLEET_PARALLEL ? njobs : FLEET_PARALLEL;
	struct pool p = { .f = f, .jobs = jobs, .njobs = njobs };
	struct pool_thread *t = xcalloc(nthreads ? nthreads : 1, sizeof(*t));
	struct pool_thread here = { .p = &p, .dk = f->dk };

	pthread_mutex_init(&p.mu, NULL);
	for (size_t i = 0; i < nthreads; i++) {
		struct error *e = NULL;

		t[i].p = &p;
		t[i].dk = docker_clone(f->dk, &e);
		error_free(e);
		if (t[i].dk)
			t[i].spawned = pthread_create(&t[i].thread, NULL, pool_thread_cb, &t[i]) == 0;
	}
	pool_thread_cb(&here);
	for (size_t i = 0; i < nthreads; i++) {
		if (t[i].spawned)
			pthread_join(t[i].thread, NULL);
		docker_free(t[i].dk);
	}
	pthread_mutex_destroy(&p.mu);
	free(t);
}

/* The embedded database starts as one more job, so the two slowest parts
 * of start-up overlap: serial starts cost about 0.7 s per container. */
int
fleet_start(struct fleet *f, size_t nslots, bool with_db, struct error **err)
{
	struct job *jobs = xcalloc(2 * nslots + 2, sizeof(*jobs));
	size_t njobs = 0;
	int rc = 0;

	if (with_db && f->prov.mode == CLI_DB_EMBEDDED)
		jobs[njobs++] = (struct job){ .kind = JOB_LAUNCH_DB };
	for (size_t i = 0; with_db && i < f->prov.nservers && i < nslots; i++)
		jobs[njobs++] = (struct job){ .kind = JOB_LAUNCH_DB_SERVER, .worker = i };
	if (with_db) {
		fleet_controller_setup(f);
		jobs[njobs++] = (struct job){ .kind = JOB_START_CONTROLLER };
	}
	for (size_t i = 0; i < nslots; i++) {
		struct worker *w = &f->w[i];

		if (f->prov.mode != CLI_DB_NONE) {
			w->dbname = xasprintf("test_db_%s", w->name);
			free(f->rep->workers[i].database);
			f->rep->workers[i].database = xstrdup(w->dbname);
		}
		jobs[njobs++] = (struct job){ .kind = JOB_START_WORKER, .worker = i };
	}
	pool_run(f, jobs, njobs);
	for (size_t i = 0; i < njobs; i++) {
		if (jobs[i].rc < 0 && rc == 0) {
			*err = steal_ptr(&jobs[i].err);
			rc = -1;
		}
		error_free(jobs[i].err);
	}
	for (size_t i = 0; i < nslots; i++) {
		if (f->w[i].container) {
			free(f->rep->workers[i].container);
			f->rep->workers[i].container = xstrdup(f->w[i].container);
		}
	}
	free(jobs);
	return rc;
}

int
fleet_databases(struct fleet *f, struct error **err)
{
	if (provision_connect(&f->prov, &f->ctx, err) < 0)
		return -1;
	return provision_template(&f->prov, &f->ctx, err);
}

void
fleet_greet(struct fleet *f, size_t i)
{
	struct worker *w = &f->w[i];
	struct error *e = NULL;

	worker_hello(w);
	if (worker_flush(w, &e) < 0) {
		/* A dead channel shows up as end of stream in the loop. */
		error_free(e);
	}
}

int
fleet_admit(struct fleet *f, size_t i, struct error **err)
{
	struct worker *w = &f->w[i];

	if (w->dbname && provision_clone(&f->prov, &f->ctx, i, w->dbname, err) < 0)
		return -1;
	return 0;
}

/* A worker died with work left: a fresh container with a fresh clone of
 * the template takes its slot, so whatever the crash left in the database
 * or the process cannot leak into the next test. */
int
fleet_replace(struct fleet *f, size_t i, struct error **err)
{
	struct worker *w = &f->w[i];
	char *dbname = steal_ptr(&w->dbname);
	char **env = NULL;
	size_t nenv = 0;
	int rc;

	worker_remove(w, f->dk);
	worker_release(w);
	worker_init(w, i);
	w->dbname = dbname;
	if (w->dbname && provision_clone(&f->prov, &f->ctx, i, w->dbname, err) < 0)
		return -1;
	if (w->dbname)
		provision_env(&f->prov, i, w->dbname, &env, &nenv);
	rc = start_worker(f, f->dk, w, (const char *const *)env, err);
	util_strv_free(env, nenv);
	if (rc < 0) {
		worker_remove(w, f->dk);
		return -1;
	}
	free(f->rep->workers[i].container);
	f->rep->workers[i].container = xstrdup(w->container);
	worker_hello(w);
	return 0;
}

void
fleet_clear(struct fleet *f)
{
	for (size_t i = 0; i < f->nw; i++) {
		worker_remove(&f->w[i], f->dk);
		worker_release(&f->w[i]);
		worker_init(&f->w[i], i);
	}
}

static void
print_cleanup(struct error *e, const char *id)
{
	/* Stopped by a second signal: the run says once what is left. */
	if (!e || e->status == EXIT_INTERRUPTED)
		return;
	if (id)
		fprintf(stderr, "xdock: cleanup: container %.12s: %s\n", id, e->msg);
	else
		fprintf(stderr, "xdock: cleanup: %s\n", e->msg);
}

/* Worker containers go in parallel: a forced removal of a running
 * container costs a few hundred milliseconds of the engine's time, most
 * of it waiting. The databases go in the same pool when that only means
 * removing the run's own server (its databases go with it); databases on
 * a server that stays are dropped after the workers are gone. */
void
fleet_teardown(struct fleet *f)
{
	struct job *jobs = xcalloc(2 * f->nw + 2, sizeof(*jobs));
	/* The workers' own servers (--db-scope server) go in the pool, the
	 * run's server after them: its teardown walks theirs too. */
	bool db_with_workers = f->prov.mode == CLI_DB_EMBEDDED && !f->prov.reused && f->prov.nservers == 0;
	struct error *e = NULL;
	size_t n = 0;
	int removed = 0;

	worker_detach(&f->ctl);
	if (f->ctl.container)
		jobs[n++] = (struct job){ .kind = JOB_REMOVE, .id = f->ctl.container };

	for (size_t i = 0; i < f->nw; i++) {
		worker_detach(&f->w[i]);
		if (f->w[i].container)
			jobs[n++] = (struct job){ .kind = JOB_REMOVE, .id = f->w[i].container };
	}
	for (size_t i = 0; i < f->prov.nservers; i++)
		jobs[n++] = (struct job){ .kind = JOB_DB_SERVER_TEARDOWN, .worker = i };
	if (db_with_workers)
		jobs[n++] = (struct job){ .kind = JOB_DB_TEARDOWN };
	pool_run(f, jobs, n);
	for (size_t i = 0; i < n; i++) {
		print_cleanup(jobs[i].err, jobs[i].kind == JOB_REMOVE ? jobs[i].id : NULL);
		error_free(jobs[i].err);
	}
	free(jobs);
	if (!db_with_workers && provision_teardown(&f->prov, &f->ctx, &e) < 0) {
		print_cleanup(e, NULL);
		error_free(e);
		e = NULL;
	}
	/* Last, by the run's label: what the steps above did not know of (a
	 * --db-setup container a signal stopped mid-way), then the network. */
	if (gc_run(f->dk, f->ctx.run_id, &removed, &e) < 0) {
		print_cleanup(e, NULL);
		error_free(e);
	}
	f->network_created = false;
}
