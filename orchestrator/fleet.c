#include "fleet.h"
#include "fleet_priv.h"

#include "gc.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

struct engine *
fleet_engine(const struct fleet *f, size_t i)
{
	return &f->es->e[f->at[i]];
}

struct engine *
fleet_first(const struct fleet *f)
{
	return &f->es->e[0];
}

/* What every worker container of engine en is made from. */
static void
engine_setup(struct fleet *f, struct engine *en, const char *agent_path)
{
	const struct config *cfg = f->cfg;
	const struct run_ctx *ctx = &en->ctx;

	en->setup = (struct worker_setup){
		.image = cfg->image,
		.run_id = f->run_id, /* PYTEST_XDIST_TESTRUNUID: one for the run */
		.project_dir = ctx->project_dir,
		.workdir = cfg->workdir ? cfg->workdir : ctx->project_dir,
		.user = ctx->user,
		.agent_path = agent_path,
		.project_volume = ctx->project_volume,
		.agent_volume = ctx->agent_volume,
		.agent_cmd = f->cmd,
		.labels = ctx->labels,
		.env = (const char *const *)f->env,
		.nworkers = f->nw,
		.memory = cfg->memory,
		.nano_cpus = cfg->nano_cpus,
		.with_controller = true,
	};
	en->setup.network = en->prov->host_network ? "host" : NULL;
	/* A shipped engine has its own disk: no socket of ours reaches it. */
	en->setup.chan = !en->shipping && f->chan.path ? &f->chan : NULL;
}

void
fleet_init(struct fleet *f, const struct config *cfg, size_t nw, struct engines *es, const size_t *at,
	   const char *agent_path, struct report *rep)
{
	memset(f, 0, sizeof(*f));
	f->cfg = cfg;
	f->es = es;
	f->dk = es->e[0].dk;
	f->run_id = es->e[0].name_id;
	f->rep = rep;
	f->nw = nw;
	f->w = xcalloc(nw ? nw : 1, sizeof(*f->w));
	f->at = xcalloc(nw ? nw : 1, sizeof(*f->at));
	for (size_t i = 0; i < nw; i++) {
		worker_init(&f->w[i], i);
		f->at[i] = at[i];
		free(rep->workers[i].engine);
		rep->workers[i].engine = xstrdup(engines_name(es, at[i]));
		rep->workers[i].engine_index = at[i];
	}
	build_agent_cmd(f);
	fleet_controller_cmd(f);
	resolve_env(f);
	worker_init(&f->ctl, 0);
	snprintf(f->ctl.name, sizeof(f->ctl.name), "controller");
	/* It receives every worker's events: more than a worker's commands. */
	buf_release(&f->ctl.out);
	buf_init(&f->ctl.out, (size_t)1 << 30);
	chan_dir_init(&f->chan);
	for (size_t e = 0; e < es->n && !cfg->no_local_channel; e++) {
		struct error *ce = NULL;

		if (es->e[e].shipping)
			continue;
		/* Not writable: the attach stream carries everything. */
		chan_dir_open(&f->chan, es->e[0].ctx.project_dir, &ce);
		error_free(ce);
		break;
	}
	for (size_t e = 0; e < es->n; e++)
		engine_setup(f, &es->e[e], agent_path);
}

void
fleet_release(struct fleet *f)
{
	fleet_prep_free(f);
	for (size_t i = 0; f->w && i < f->nw; i++)
		worker_release(&f->w[i]);
	worker_release(&f->ctl);
	chan_dir_close(&f->chan);
	free(f->w);
	free(f->at);
	free(f->cmd);
	free(f->ctl_cmd);
	free(f->ctl_dir);
	util_strv_free(f->ctl_args, f->nctl_args);
	util_strv_free(f->env, f->nenv);
	memset(f, 0, sizeof(*f));
}

/* Only a database needs a network of the run's own (a name workers reach
 * it by, out of other runs' reach). Without one, workers go on the
 * engine's default bridge: no network to create or remove, and containers
 * start sooner there than on a network of their own (docs/benchmarks.md).
 * Each engine that runs workers gets one. */
int
fleet_network(struct fleet *f, struct error **err)
{
	if (f->cfg->db == CLI_DB_NONE)
		return 0;
	for (size_t e = 0; e < f->es->n; e++) {
		struct engine *en = &f->es->e[e];
		cleanup_free char *id = NULL;

		if (en->nworkers == 0 && e > 0)
			continue;
		en->network = xasprintf("xdock-%s", en->name_id);
		if (docker_network_create(en->dk, en->network, en->ctx.labels, &id, err) < 0)
			return f->es->n > 1 ? error_wrap(err, "run network on %s", docker_host(en->dk))
					    : error_wrap(err, "run network");
		en->network_created = true;
		en->ctx.network = en->network;
		if (!en->prov->host_network)
			en->setup.network = en->network;
	}
	return 0;
}

/* Whether slot i's container joins the controller's network namespace.
 * A container with a namespace of its own costs the engine about twice
 * as much to start: dockerd runs a copy of itself as a hook to set the
 * namespace up (docs/benchmarks.md). Sharing one is what xdist's workers
 * do on their host: one loopback, one set of ports, one host name; the
 * run network (the database) is reached through the controller's
 * endpoint. Only on the controller's engine, and only while it runs (a
 * replacement after the controller's stream ended, its container maybe
 * gone, could not join): a worker of another engine, or on the host's
 * network, keeps its own. */
static bool
joins_controller(const struct fleet *f, size_t i, const struct worker_setup *ws)
{
	if (fleet_engine(f, i) != fleet_first(f) || !f->ctl.container || f->ctl.started_ms == 0 || !f->ctl.attach)
		return false;
	return !(ws->network && strcmp(ws->network, "host") == 0);
}

int
fleet_start_worker(struct fleet *f, struct docker *dk, struct worker *w, const char *const *db_env,
		   struct error **err)
{
	struct engine *en = fleet_engine(f, w->index);
	struct worker_setup ws = en->setup;
	struct provision_vars v;
	struct provision_vars_store store;
	char **env = NULL, **cmd = NULL;
	size_t nenv = 0, ncmd = 0;
	int rc;

	provision_vars(en->prov, w->index, w->name, w->dbname, &v, &store);
	for (size_t i = 0; i < f->nenv; i++)
		util_strv_push(&env, &nenv, provision_expand(f->env[i], &v));
	for (size_t i = 0; f->cmd[i]; i++)
		util_strv_push(&cmd, &ncmd, provision_expand(f->cmd[i], &v));
	ws.env = (const char *const *)env;
	ws.agent_cmd = (const char *const *)cmd;
	if (joins_controller(f, w->index, &ws))
		ws.netns_of = f->ctl.container;
	rc = worker_start(w, dk, &ws, db_env, err);
	util_strv_free(env, nenv);
	util_strv_free(cmd, ncmd);
	provision_vars_release(&store);
	return rc;
}

/* The live engine with the fewest of the run's workers now, among those
 * the run prepared (a network, a database); SIZE_MAX when none is left. */
static size_t
live_engine(const struct fleet *f)
{
	size_t best = SIZE_MAX, best_n = 0;

	for (size_t e = 0; e < f->es->n; e++) {
		size_t n = 0;

		if (f->es->e[e].lost || f->es->e[e].nworkers == 0)
			continue;
		for (size_t i = 0; i < f->nw; i++)
			n += f->at[i] == e && f->w[i].attach;
		if (best == SIZE_MAX || n < best_n) {
			best = e;
			best_n = n;
		}
	}
	return best;
}

/* Slot i leaves a lost engine for a live one: its next container and
 * database are made there. */
static int
relocate(struct fleet *f, size_t i, struct error **err)
{
	size_t to;

	if (!fleet_engine(f, i)->lost)
		return 0;
	to = live_engine(f);
	if (to == SIZE_MAX)
		return error_set(err, EXIT_INTERNAL, "worker %s: no engine left to run it", f->w[i].name);
	f->at[i] = to;
	free(f->rep->workers[i].engine);
	f->rep->workers[i].engine = xstrdup(engines_name(f->es, to));
	f->rep->workers[i].engine_index = to;
	return 0;
}

/* The jobs of a start: the controller and each --db-scope server of a
 * worker's own (the first start of a run), the workers. The run's
 * database servers are fleet_prep's, begun before. The controller goes
 * first: the workers wait for its workerinput. */
static size_t
start_jobs(struct fleet *f, size_t nslots, bool with_db, struct job *jobs)
{
	size_t njobs = 0;

	if (with_db) {
		fleet_controller_setup(f);
		jobs[njobs++] = (struct job){ .kind = JOB_START_CONTROLLER };
	}
	for (size_t e = 0; with_db && e < f->es->n; e++) {
		struct engine *en = &f->es->e[e];

		if (en->prov != &en->own || (en->nworkers == 0 && e > 0))
			continue;
		for (size_t i = 0; i < en->prov->nservers && i < nslots; i++)
			jobs[njobs++] = (struct job){ .kind = JOB_LAUNCH_DB_SERVER, .engine = e, .worker = i };
	}
	for (size_t i = 0; i < nslots; i++) {
		struct worker *w = &f->w[i];

		if (f->cfg->db != CLI_DB_NONE) {
			w->dbname = xasprintf("test_db_%s", w->name);
			free(f->rep->workers[i].database);
			f->rep->workers[i].database = xstrdup(w->dbname);
		}
		jobs[njobs++] = (struct job){ .kind = JOB_START_WORKER, .engine = f->at[i], .worker = i };
	}
	return njobs;
}

/* Every container of a start at once: serial starts cost about 0.7 s
 * per container. */
int
fleet_start(struct fleet *f, size_t nslots, bool with_db, struct error **err)
{
	struct job *jobs = xcalloc(2 * nslots + 2 * f->es->n + 2, sizeof(*jobs));
	size_t njobs;
	int rc = 0;

	for (size_t i = 0; i < nslots; i++)
		if (relocate(f, i, err) < 0) {
			free(jobs);
			return -1;
		}
	njobs = start_jobs(f, nslots, with_db, jobs);
	fleet_pool_run(f, jobs, njobs);
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
fleet_admit(struct fleet *f, size_t i, struct error **err)
{
	struct worker *w = &f->w[i];
	struct engine *en = fleet_engine(f, i);

	if (w->dbname && provision_clone(en->prov, &en->ctx, i, w->dbname, err) < 0)
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
	struct engine *en;
	char **env = NULL;
	size_t nenv = 0;
	int rc;

	if (fleet_engine(f, i)->lost)
		worker_detach(w);
	else
		worker_remove(w, fleet_engine(f, i)->dk);
	worker_release(w);
	worker_init(w, i);
	w->dbname = dbname;
	if (relocate(f, i, err) < 0)
		return -1;
	en = fleet_engine(f, i);
	if (w->dbname && provision_clone(en->prov, &en->ctx, i, w->dbname, err) < 0)
		return -1;
	if (w->dbname)
		provision_env(en->prov, i, w->dbname, &env, &nenv);
	rc = fleet_start_worker(f, en->dk, w, (const char *const *)env, err);
	util_strv_free(env, nenv);
	if (rc < 0) {
		worker_remove(w, en->dk);
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
		if (fleet_engine(f, i)->lost)
			worker_detach(&f->w[i]);
		else
			worker_remove(&f->w[i], fleet_engine(f, i)->dk);
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

/* Whether engine en's database goes in the pool with the workers: when
 * that only means removing the run's own server (its databases go with
 * it). The workers' own servers (--db-scope server) go in the pool, the
 * run's server after them: its teardown walks theirs too. */
static bool
db_with_workers(const struct engine *en)
{
	return en->prov == &en->own && en->prov->mode == CLI_DB_EMBEDDED && !en->prov->reused &&
	       en->prov->nservers == 0;
}

/* The removal jobs of a teardown on the engines not lost. */
static size_t
teardown_jobs(struct fleet *f, struct job *jobs)
{
	size_t n = 0;

	worker_detach(&f->ctl);
	if (f->ctl.container && !fleet_first(f)->lost)
		jobs[n++] = (struct job){ .kind = JOB_REMOVE, .id = f->ctl.container };
	for (size_t i = 0; i < f->nw; i++) {
		worker_detach(&f->w[i]);
		if (f->w[i].container && !fleet_engine(f, i)->lost)
			jobs[n++] = (struct job){ .kind = JOB_REMOVE, .engine = f->at[i], .id = f->w[i].container };
	}
	for (size_t e = 0; e < f->es->n; e++) {
		struct engine *en = &f->es->e[e];

		if (en->lost || en->prov != &en->own)
			continue;
		for (size_t i = 0; i < en->prov->nservers; i++)
			jobs[n++] = (struct job){ .kind = JOB_DB_SERVER_TEARDOWN, .engine = e, .worker = i };
		if (db_with_workers(en))
			jobs[n++] = (struct job){ .kind = JOB_DB_TEARDOWN, .engine = e };
	}
	return n;
}

/* A removal that failed, tried once more now that the others are done:
 * Podman refuses to remove the controller while the workers that joined
 * its network namespace exist, and they went beside it. */
static void
retry_removal(struct fleet *f, struct job *j)
{
	struct error *e = NULL;

	if (j->kind != JOB_REMOVE || !j->err || j->err->status == EXIT_INTERRUPTED)
		return;
	if (docker_container_remove(f->es->e[j->engine].dk, j->id, true, &e) == 0) {
		error_free(j->err);
		j->err = NULL;
	}
	error_free(e);
}

/* Worker containers go in parallel: a forced removal of a running
 * container costs a few hundred milliseconds of the engine's time, most
 * of it waiting. Databases on a server that stays are dropped after the
 * workers are gone. A lost engine gets no call: engines_say_left says
 * what is left there. */
void
fleet_teardown(struct fleet *f)
{
	struct job *jobs = xcalloc(f->nw + 2 * f->es->n + 2, sizeof(*jobs));
	size_t n = teardown_jobs(f, jobs);

	fleet_pool_run(f, jobs, n);
	for (size_t i = 0; i < n; i++)
		retry_removal(f, &jobs[i]);
	for (size_t i = 0; i < n; i++) {
		print_cleanup(jobs[i].err, jobs[i].kind == JOB_REMOVE ? jobs[i].id : NULL);
		error_free(jobs[i].err);
	}
	free(jobs);
	for (size_t e = 0; e < f->es->n; e++) {
		struct engine *en = &f->es->e[e];
		struct error *err = NULL;
		int removed = 0;

		if (en->lost)
			continue;
		if (en->prov == &en->own && !db_with_workers(en) && provision_teardown(en->prov, &en->ctx, &err) < 0) {
			print_cleanup(err, NULL);
			error_free(err);
			err = NULL;
		}
		/* Last, by the run's label: what the steps above did not know
		 * of (a --db-setup container a signal stopped mid-way), then
		 * the network. */
		if (gc_run(en->dk, f->run_id, &removed, &err) < 0) {
			print_cleanup(err, NULL);
			error_free(err);
		}
		en->network_created = false;
	}
}
