#include "provision.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "dbowner.h"
#include "gc.h"

static bool
is_loopback(const char *host)
{
	return !host || !*host || strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	       strcmp(host, "::1") == 0 || host[0] == '/';
}

static void
url_copy(struct db_url *dst, const struct db_url *src)
{
	dst->user = src->user ? xstrdup(src->user) : NULL;
	dst->password = src->password ? xstrdup(src->password) : NULL;
	dst->host = src->host ? xstrdup(src->host) : NULL;
	dst->port = src->port;
	dst->dbname = src->dbname ? xstrdup(src->dbname) : NULL;
	dst->query = src->query ? xstrdup(src->query) : NULL;
}

/* A password of the run's own: 128 random bits as 32 hex digits. */
static int
new_password(char hex[static 33], struct error **err)
{
	unsigned char raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return error_set(err, EXIT_INTERNAL, "database: a password for the server: getrandom: %s",
				 strerror(errno));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int
provision_plan(struct provision *p, const struct config *cfg, size_t nslots, bool exposed, struct error **err)
{
	char password[33];

	memset(p, 0, sizeof(*p));
	p->cancel_fd = -1;
	p->mode = cfg->db;
	p->env_mode = cfg->db_env;
	if (cfg->ndb_options > 0 && p->mode != CLI_DB_EMBEDDED)
		return error_set(err, EXIT_USAGE, "--db-option sets the embedded server; with %s set it on your server",
				 p->mode == CLI_DB_URL ? "--db-url" : "--db none");
	if (p->mode == CLI_DB_NONE)
		return 0;
	if (p->mode == CLI_DB_EMBEDDED) {
		/* The embedded server's credentials are the image's; its
		 * published port is learnt once it runs, and its address is
		 * the engine's (provision_launch). Exposed, where the engine's
		 * network reaches that port too: not the image's well-known
		 * password but one of the run's own (set on the image's ready
		 * cluster at start, about 0.1 s); a kept server would need its
		 * password kept as well. */
		if (exposed && cfg->reuse_db)
			return error_set(err, EXIT_USAGE,
					 "--reuse-db keeps the embedded server on an engine elsewhere, where its "
					 "port is open to that engine's network: give the run a server with --db-url");
		if (exposed && new_password(password, err) < 0)
			return -1;
		p->own_password = exposed;
		p->admin.user = xstrdup("xdock");
		p->admin.password = xstrdup(exposed ? password : "xdock");
		p->admin.host = xstrdup("127.0.0.1");
		p->admin.dbname = xstrdup("postgres");
		url_copy(&p->worker, &p->admin);
		free(p->worker.host);
		p->worker.host = xstrdup(DBSERVER_ALIAS);
		p->worker.port = 5432;
		if (cfg->db_scope == CLI_DB_SCOPE_SERVER) {
			p->nservers = nslots;
			p->servers = xcalloc(nslots ? nslots : 1, sizeof(*p->servers));
		}
		return 0;
	}
	if (db_url_parse(cfg->db_url, &p->admin, err) < 0)
		return error_wrap(err, "--db-url");
	url_copy(&p->worker, &p->admin);
	if (!p->admin.dbname)
		p->admin.dbname = xstrdup("postgres");
	/* A server on the host's loopback is out of a bridge network's
	 * reach: such workers share the host's network instead. */
	p->host_network = is_loopback(p->admin.host);
	return 0;
}

/* The embedded server's superuser password when it is not the image's. */
static const char *
password_of(const struct provision *p)
{
	return p->own_password ? p->admin.password : NULL;
}

int
provision_launch(struct provision *p, const struct run_ctx *ctx, struct error **err)
{
	if (p->mode != CLI_DB_EMBEDDED)
		return 0;
	/* Per run: a worker's server copies nothing another run built. */
	p->ready = xasprintf("xdock-ready-%s", ctx->run_id);
	if (dbserver_start(&p->srv, ctx, password_of(p), err) < 0)
		return -1;
	p->reused = p->srv.reused;
	free(p->admin.host);
	p->admin.host = xstrdup(docker_address(ctx->dk));
	p->admin.port = p->srv.host_port;
	return 0;
}

int
provision_launch_server(struct provision *p, const struct run_ctx *ctx, size_t slot, struct error **err)
{
	cleanup_free char *ready = xasprintf("xdock-ready-%s", ctx->run_id);

	if (slot >= p->nservers)
		return 0;
	return dbserver_start_copy(&p->servers[slot].srv, ctx, slot, ready, password_of(p), err);
}

static void
say_waiting(void *arg)
{
	(void)arg;
	fprintf(stderr, "xdock: another xdock run is using this database server; waiting for it to end\n");
}

/* The value of the label "key=value" among labels (key given with its
 * '='); NULL when absent. */
static const char *
label_value(const char *const *labels, const char *key)
{
	for (size_t i = 0; labels && labels[i]; i++)
		if (strncmp(labels[i], key, strlen(key)) == 0)
			return labels[i] + strlen(key);
	return NULL;
}

/* On a shared server: the run's own advisory lock, held to the end (a
 * killed run's goes with its connection, wherever its process lived),
 * and the mark its databases will carry: the run id and owner of its
 * container labels. */
static int
claim(struct provision *p, const struct run_ctx *ctx, struct error **err)
{
	const char *owner = label_value(ctx->labels, "xdock.owner=");
	bool got = false;

	if (db_try_lock_pair(p->db, DBOWNER_CLASS_RUN, dbowner_key(ctx->run_id), &got, err) < 0)
		return -1;
	/* Only a run with the same id's hash could hold it. */
	if (!got)
		return error_set(err, EXIT_INTERNAL, "run %s: its lock on the server is taken", ctx->run_id);
	p->mark = dbowner_mark(ctx->run_id, owner ? owner : "-");
	p->run_id = xstrdup(ctx->run_id);
	return 0;
}

/* What dead runs left on this shared server goes first, as their
 * containers do (never a live run's: gc_db_sweep_on asks for each run's
 * lock). Best effort: a failure here is gc's to report, not the run's. */
static void
sweep_dead(struct provision *p)
{
	struct error *e = NULL;
	int dropped = 0;

	gc_db_sweep_on(p->db, &dropped, &e);
	error_free(e);
}

int
provision_connect(struct provision *p, const struct run_ctx *ctx, struct error **err)
{
	cleanup_free char *url = NULL;
	int64_t t0 = util_now_ms();
	struct dbserver_probe a = { &p->srv, ctx };

	if (p->mode == CLI_DB_NONE)
		return 0;
	url = db_url_format(&p->admin, NULL, 0, NULL);
	/* A fresh embedded server needs a few seconds to initialise; a
	 * given server should answer at once. */
	if (p->mode == CLI_DB_EMBEDDED && p->srv.container)
		p->db = db_connect_alive(url, 60000, p->cancel_fd, dbserver_alive, &a, err);
	else
		p->db = db_connect(url, p->mode == CLI_DB_EMBEDDED ? 60000 : 5000, p->cancel_fd, err);
	if (!p->db)
		return error_wrap(err, "database");
	/* A shared server (--db-url, --reuse-db) holds test_db_template and
	 * test_db_gwN of whichever run is on it: two runs at once would drop
	 * each other's. One run at a time per server, the next waiting; a
	 * killed run's lock goes with its connection. */
	if ((p->mode == CLI_DB_URL || p->reused) &&
	    (db_lock(p->db, PROVISION_LOCK_KEY, p->cancel_fd, say_waiting, NULL, err) < 0 || claim(p, ctx, err) < 0))
		return error_wrap(err, "database");
	if (p->mark)
		sweep_dead(p);
	p->connect_seconds = (double)(util_now_ms() - t0) / 1000.0;
	return 0;
}

/* What --db-setup's end says: 0, or the error naming the command, with
 * the end of its output when it failed. waited: 1 when the limit passed. */
static int
setup_result(const struct config *cfg, int waited, int status, const char *out, struct error **err)
{
	if (waited == 1)
		return error_set(err, EXIT_USAGE, "--db-setup \"%s\" still running after %g s (--db-setup-timeout)",
				 cfg->db_setup, cfg->db_setup_timeout);
	if (status != 0)
		return error_set(err, EXIT_USAGE, "--db-setup \"%s\" exited with %d%s%s", cfg->db_setup, status,
				 out && *out ? "; its output ends with:\n" : "", out ? out : "");
	return 0;
}

/* --db-setup's environment: the template's connection, no bytecode
 * written into the project. */
static char **
setup_env(const struct provision *p, size_t *nenv)
{
	char **env = NULL;

	*nenv = 0;
	provision_env_setup(p, &env, nenv);
	util_strv_push(&env, nenv, xstrdup("PYTHONDONTWRITEBYTECODE=1"));
	return env;
}

/* Runs --db-setup in `in`, a container of the run that already runs (the
 * controller: the test image, the workers' mounts, user and network), as
 * a process of its own next to the controller's. Starting a container
 * for it costs the engine more than the command itself takes for a small
 * schema (docs/benchmarks.md). */
static int
setup_exec(struct provision *p, const struct run_ctx *ctx, const char *in, struct error **err)
{
	const struct config *cfg = ctx->cfg;
	const char *cmd[] = { "/bin/sh", "-c", cfg->db_setup, NULL };
	size_t nenv;
	char **env = setup_env(p, &nenv);
	struct docker_exec_spec spec = {
		.cmd = cmd,
		.env = (const char *const *)env,
		.working_dir = cfg->workdir ? cfg->workdir : ctx->project_dir,
		.user = ctx->user,
	};
	cleanup_free char *out = NULL;
	int status = -1, waited;

	waited = docker_exec(ctx->dk, in, &spec, (long)(cfg->db_setup_timeout * 1000), 4096, &status, &out, err);
	util_strv_free(env, nenv);
	if (waited < 0)
		return error_wrap(err, "--db-setup");
	return setup_result(cfg, waited, status, out, err);
}

/* Runs --db-setup once in a container of the test image of its own,
 * with the project mounted as for the workers. */
static int
setup_container(struct provision *p, const struct run_ctx *ctx, struct error **err)
{
	const struct config *cfg = ctx->cfg;
	const char *cmd[] = { "/bin/sh", "-c", cfg->db_setup, NULL };
	/* Shipped (ship.h): the project's volume where the bind mount was. */
	const struct docker_mount mounts[] = { { ctx->project_volume ? ctx->project_volume : ctx->project_dir,
						 ctx->project_dir, false, ctx->project_volume != NULL },
					       { NULL, NULL, false, false } };
	cleanup_free char *name = xasprintf("xdock-%s-dbsetup", ctx->run_id);
	/* On the run's own server's network namespace, which is on the run
	 * network alone: it reaches the server as a worker does, and the
	 * engine starts it in about half the time (no namespace of its own
	 * to set up; docs/benchmarks.md). A kept or given server is not the
	 * run's: the container gets the run network. */
	cleanup_free char *joined = p->mode == CLI_DB_EMBEDDED && !p->reused && !p->host_network && p->srv.container
					    ? xasprintf("container:%s", p->srv.container)
					    : NULL;
	cleanup_free char *id = NULL;
	cleanup_free char *logs = NULL;
	size_t nenv;
	char **env = setup_env(p, &nenv);
	int status = -1, rc = -1, waited = 0;
	struct docker_container_spec spec = {
		.name = name,
		.image = cfg->image,
		.cmd = cmd,
		.entrypoint = NULL,
		.env = (const char *const *)env,
		.mounts = mounts,
		.labels = ctx->labels,
		.working_dir = cfg->workdir ? cfg->workdir : ctx->project_dir,
		.user = ctx->user,
		.network = joined ? joined : p->host_network ? "host" : ctx->network,
	};

	if (docker_container_create(ctx->dk, &spec, &id, err) < 0) {
		error_wrap(err, "--db-setup");
		goto out;
	}
	if (docker_container_start(ctx->dk, id, err) < 0 ||
	    (waited = docker_container_wait(ctx->dk, id, (long)(cfg->db_setup_timeout * 1000), &status, err)) < 0) {
		error_wrap(err, "--db-setup");
		goto out;
	}
	if (waited == 0 && status != 0) {
		struct error *lerr = NULL;

		docker_container_logs(ctx->dk, id, 4096, &logs, &lerr);
		error_free(lerr);
	}
	rc = setup_result(cfg, waited, status, logs, err);
out:
	if (id) {
		struct error *rerr = NULL;

		docker_container_remove(ctx->dk, id, true, &rerr);
		error_free(rerr);
	}
	util_strv_free(env, nenv);
	return rc;
}

/* --db-setup against the template: in `in` when given, else in a
 * container of its own. */
static int
run_setup(struct provision *p, const struct run_ctx *ctx, const char *in, struct error **err)
{
	return in ? setup_exec(p, ctx, in, err) : setup_container(p, ctx, err);
}

/* Drops name and makes it again (from template_name; NULL: empty). On a
 * shared server the name is held meanwhile (gc re-reads and drops under
 * the same lock, so it never drops what a live run just made) and the
 * new database carries the run's mark. */
static int
remake(struct provision *p, struct db *db, const char *name, const char *template_name, struct error **err)
{
	cleanup_free char *staging = NULL;
	struct error *uerr = NULL;
	int rc;

	if (!p->mark || db != p->db)
		return db_drop(db, name, err) < 0 || db_create(db, name, template_name, err) < 0 ? -1 : 0;
	if (db_lock_pair(db, DBOWNER_CLASS_NAME, dbowner_key(name), p->cancel_fd, err) < 0)
		return -1;
	staging = dbowner_staging(p->run_id, name);
	rc = 0;
	if (db_drop(db, name, err) < 0 || db_create_marked(db, name, template_name, staging, p->mark, err) < 0)
		rc = -1;
	db_unlock_pair(db, DBOWNER_CLASS_NAME, dbowner_key(name), &uerr);
	error_free(uerr);
	return rc;
}

/* Under --db-scope server, the workers' servers wait for a session named
 * p->ready on the run's server before they copy it: ours, renamed once
 * the template is built. Nothing is written to the server, so nothing is
 * copied or left behind; the session ends with the run. */
static int
announce(struct provision *p, struct error **err)
{
	if (p->nservers == 0)
		return 0;
	if (db_set_application_name(p->db, p->ready, err) < 0)
		return error_wrap(err, "template: tell the workers' servers");
	return 0;
}

int
provision_template(struct provision *p, const struct run_ctx *ctx, const char *setup_in, struct error **err)
{
	const struct config *cfg = ctx->cfg;
	cleanup_free char *key = NULL;
	cleanup_free char *have = NULL;
	bool exists = false;
	int64_t t0 = util_now_ms();

	if (p->mode == CLI_DB_NONE)
		return 0;
	if (cfg->db_setup_key) {
		cleanup_free char *image_id = NULL;

		if (docker_image_id(ctx->dk, cfg->image, &image_id, err) < 0)
			return error_wrap(err, "--db-setup-key: test image %s", cfg->image);
		key = provision_key(ctx->project_dir, image_id, cfg->db_setup, cfg->db_setup_key, err);
		if (!key)
			return -1;
	}
	if (db_exists(p->db, PROVISION_TEMPLATE, &exists, err) < 0)
		return -1;
	if (exists && key && db_comment_get(p->db, PROVISION_TEMPLATE, &have, err) < 0)
		return -1;
	if (exists && key && have && strcmp(have, key) == 0) {
		/* The schema files have not changed since the template was
		 * built: no migration at all. */
		p->template_ready = true;
		p->template_created = false;
		p->template_seconds += (double)(util_now_ms() - t0) / 1000.0;
		return announce(p, err);
	}
	if (remake(p, p->db, PROVISION_TEMPLATE, NULL, err) < 0)
		return error_wrap(err, "template");
	/* A keyed template is a cache: it stays on the server for the
	 * next run. */
	p->template_created = key == NULL;
	if (cfg->db_setup) {
		if (run_setup(p, ctx, setup_in, err) < 0)
			return -1;
		p->migrated = true;
	}
	/* The key replaces the run's mark: a cache outlives the run. */
	if (key && db_comment_set(p->db, PROVISION_TEMPLATE, key, err) < 0)
		return error_wrap(err, "template");
	if (announce(p, err) < 0)
		return -1;
	p->template_ready = true;
	p->template_seconds += (double)(util_now_ms() - t0) / 1000.0;
	return 0;
}

/* slot's own server, connected at the first clone: it answers once it
 * has copied the run's server, which happens once the template is built. */
static struct db *
server_db(struct provision *p, const struct run_ctx *ctx, size_t slot, struct error **err)
{
	struct provision_server *s = &p->servers[slot];
	struct dbserver_probe a = { &s->srv, ctx };
	cleanup_free char *url = NULL;

	if (s->db)
		return s->db;
	url = db_url_format(&p->admin, NULL, s->srv.host_port, NULL);
	s->db = db_connect_alive(url, 120000, p->cancel_fd, dbserver_alive, &a, err);
	if (!s->db)
		error_wrap(err, "server of gw%zu", slot);
	return s->db;
}

int
provision_clone(struct provision *p, const struct run_ctx *ctx, size_t slot, const char *name, struct error **err)
{
	int64_t t0 = util_now_ms();
	struct db *db = p->db;
	bool known = false;

	if (p->mode == CLI_DB_NONE)
		return 0;
	if (slot < p->nservers && !(db = server_db(p, ctx, slot, err)))
		return -1;
	if (remake(p, db, name, PROVISION_TEMPLATE, err) < 0)
		return error_wrap(err, "clone %s", name);
	for (size_t i = 0; i < p->ndbs; i++)
		known |= strcmp(p->dbs[i], name) == 0;
	if (!known) {
		p->dbs = xrealloc(p->dbs, (p->ndbs + 1) * sizeof(*p->dbs));
		p->dbs[p->ndbs++] = xstrdup(name);
	}
	p->clone_seconds += (double)(util_now_ms() - t0) / 1000.0;
	return 0;
}

int
provision_teardown_server(struct provision *p, const struct run_ctx *ctx, size_t slot, struct error **err)
{
	if (slot >= p->nservers)
		return 0;
	db_free(p->servers[slot].db);
	p->servers[slot].db = NULL;
	return dbserver_remove(&p->servers[slot].srv, ctx, err);
}

/* What stays on a shared server on purpose (--keep-dbs, the --reuse-db
 * server's template) loses the run's mark: gc leaves it. Best effort. */
static void
unmark_kept(struct provision *p, bool keep_dbs, bool template_kept)
{
	struct error *e = NULL;

	for (size_t i = 0; keep_dbs && i < p->ndbs; i++) {
		db_comment_set(p->db, p->dbs[i], NULL, &e);
		error_free(e);
		e = NULL;
	}
	if (template_kept)
		db_comment_set(p->db, PROVISION_TEMPLATE, NULL, &e);
	error_free(e);
}

int
provision_teardown(struct provision *p, const struct run_ctx *ctx, struct error **err)
{
	int rc = 0;

	/* A run's own embedded server takes its databases with it (tmpfs):
	 * dropping them first would only cost round trips. */
	bool server_goes = p->mode == CLI_DB_EMBEDDED && !p->reused;

	if (p->db) {
		if (!ctx->cfg->keep_dbs && !server_goes)
			for (size_t i = 0; i < p->ndbs; i++)
				if (db_drop(p->db, p->dbs[i], err) < 0)
					rc = -1;
		if (p->template_created && p->mode == CLI_DB_URL && !ctx->cfg->keep_dbs &&
		    db_drop(p->db, PROVISION_TEMPLATE, err) < 0)
			rc = -1;
		if (p->mark)
			unmark_kept(p, ctx->cfg->keep_dbs,
				    p->template_created && (p->mode != CLI_DB_URL || ctx->cfg->keep_dbs));
		db_free(p->db);
		p->db = NULL;
	}
	for (size_t i = 0; i < p->nservers; i++)
		if (provision_teardown_server(p, ctx, i, err) < 0)
			rc = -1;
	free(p->servers);
	p->servers = NULL;
	p->nservers = 0;
	if (dbserver_remove(&p->srv, ctx, err) < 0)
		rc = -1;
	free(p->ready);
	p->ready = NULL;
	free(p->mark);
	p->mark = NULL;
	free(p->run_id);
	p->run_id = NULL;
	for (size_t i = 0; i < p->ndbs; i++)
		free(p->dbs[i]);
	free(p->dbs);
	p->dbs = NULL;
	p->ndbs = 0;
	db_url_release(&p->admin);
	db_url_release(&p->worker);
	return rc;
}
