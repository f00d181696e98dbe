#include "dbserver.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "dbowner.h"

/* --db-option as one label value, "a=1 b=2": what a kept server was
 * started with. */
static char *
options_label(const struct config *cfg)
{
	struct buf b;

	buf_init(&b, SIZE_MAX / 2);
	for (size_t i = 0; i < cfg->ndb_options; i++)
		buf_printf(&b, "%s%s", i ? " " : "", cfg->db_options[i]);
	return buf_steal(&b);
}

/* The server's extra arguments, -c NAME=VALUE each; NULL when none (the
 * image's default command). Borrowed strings, the array is the caller's. */
static const char **
options_argv(const struct config *cfg)
{
	const char **argv;

	if (cfg->ndb_options == 0)
		return NULL;
	argv = xcalloc(2 * cfg->ndb_options + 1, sizeof(*argv));
	for (size_t i = 0; i < cfg->ndb_options; i++) {
		argv[2 * i] = "-c";
		argv[2 * i + 1] = cfg->db_options[i];
	}
	return argv;
}

/* The published port of a started server; not running is an error. */
static int
learn_port(struct dbserver *s, const struct run_ctx *ctx, struct error **err)
{
	struct docker_container_state st;

	if (docker_container_inspect(ctx->dk, s->container, "5432/tcp", &st, err) < 0)
		return error_wrap(err, "database container");
	if (!st.running || st.host_port <= 0)
		return error_set(err, EXIT_INTERNAL, "database container %.12s: not running (%s %s)", s->container,
				 st.status, st.error);
	s->host_port = st.host_port;
	return 0;
}

static int
create_start(struct dbserver *s, const struct run_ctx *ctx, const struct docker_container_spec *spec,
	     struct error **err)
{
	cleanup_free char *id = NULL;

	if (docker_container_create(ctx->dk, spec, &id, err) < 0)
		return error_wrap(err, "database container");
	s->container = xstrdup(id);
	if (docker_container_start(ctx->dk, id, err) < 0)
		return error_wrap(err, "database container: start");
	return 0;
}

/* How long a run waits for a kept server another run is creating or
 * starting. */
#define KEPT_WAIT_MS 60000

/* The kept server of our --db-option set: its id in *id (NULL: none) and
 * its state. */
static int
kept_of(const struct run_ctx *ctx, const char *options, char **id, struct docker_container_state *st,
	struct error **err)
{
	struct docker_list l = { 0 };

	*id = NULL;
	/* Only kept servers carry xdock.role. A server from before
	 * --db-option has no label: another set's. */
	if (docker_container_list(ctx->dk, "xdock.role=db", "xdock.db-options", &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n && !*id; i++)
		if (strcmp(l.items[i].label ? l.items[i].label : "", options) == 0)
			*id = xstrdup(l.items[i].id);
	docker_list_release(&l);
	if (*id && docker_container_inspect(ctx->dk, *id, NULL, st, err) < 0) {
		free(*id);
		*id = NULL;
		return -1;
	}
	return 0;
}

/* The kept server's name: one per --db-option set ("xdock-reuse-db"
 * without any), so that a run never restarts a server another run uses
 * with other settings; each set keeps its own cache. */
static char *
kept_name(const char *options)
{
	if (!*options)
		return xstrdup(DBSERVER_REUSE_NAME);
	return xasprintf(DBSERVER_REUSE_NAME "-%08x", (unsigned)dbowner_key(options));
}

/* Finds the kept server of our settings or makes it. Several runs may
 * start at once: the engine lets one create the name, and the others,
 * whose create fails, find that one and wait until it runs. One that has
 * stopped (a reboot, an OOM kill) is removed and made again; it serves no
 * run. */
static int
find_or_create_kept(struct dbserver *s, const struct run_ctx *ctx, const struct docker_container_spec *spec,
		    const char *options, struct error **err)
{
	int64_t deadline = util_now_ms() + KEPT_WAIT_MS;

	for (;;) {
		struct docker_container_state st = { 0 };
		cleanup_free char *id = NULL;
		struct error *e = NULL;

		if (kept_of(ctx, options, &id, &st, err) < 0)
			return error_wrap(err, "kept database container");
		if (id && st.running) {
			s->container = steal_ptr(&id);
			return 0;
		}
		if (id && (strcmp(st.status, "exited") == 0 || strcmp(st.status, "dead") == 0)) {
			/* Another run may remove it at the same moment. */
			docker_container_remove(ctx->dk, id, true, &e);
			error_free(e);
			continue;
		}
		if (!id) {
			if (create_start(s, ctx, spec, &e) == 0) {
				error_free(e);
				return 0;
			}
			if (s->container) {
				/* Ours, made but not started: the engine's reason. */
				*err = e;
				return -1;
			}
			/* The name is taken: another run made it first. */
			if (kept_of(ctx, options, &id, &st, err) < 0) {
				error_free(e);
				return error_wrap(err, "kept database container");
			}
			if (!id) {
				*err = e;
				return -1;
			}
			error_free(e);
		}
		/* Made, not yet started by the run that made it. */
		if (util_now_ms() >= deadline)
			return error_set(err, EXIT_INTERNAL,
					 "kept database container %.12s: still %s after %d s (another run starts it)", id,
					 st.status, KEPT_WAIT_MS / 1000);
		/* A signal is heard by the next engine call (docker.h's
		 * cancel). */
		poll(NULL, 0, 250);
	}
}

/* The --reuse-db server. Not on the run network when created (that one
 * goes away with the run): it joins each run's network instead, and
 * trusts only the networks it joins (images/postgres/entrypoint.sh). */
static int
start_kept(struct dbserver *s, const struct run_ctx *ctx, struct docker_container_spec *spec, struct error **err)
{
	const char *aliases[] = { DBSERVER_ALIAS, NULL };
	cleanup_free char *options = options_label(ctx->cfg);
	cleanup_free char *options_kv = xasprintf("xdock.db-options=%s", options);
	cleanup_free char *name = kept_name(options);
	const char *labels[] = { "xdock.reuse=1", "xdock.role=db", options_kv, NULL };
	const char *env[] = { "XDOCK_PG_TRUST=joined", NULL };

	s->reused = true;
	spec->labels = labels;
	spec->env = env;
	spec->name = name;
	spec->network = NULL;
	spec->aliases = NULL;
	if (find_or_create_kept(s, ctx, spec, options, err) < 0)
		return -1;
	if (docker_network_connect(ctx->dk, ctx->network, s->container, aliases, err) < 0)
		return error_wrap(err, "database %.12s: join run network", s->container);
	s->connected_net = true;
	return 0;
}

/* What every server of a run is: the database image with its data on
 * tmpfs, the port published where xdock reaches the engine
 * (docker_address: 127.0.0.1 on this machine), on the run network with the
 * run's labels. The strings are the caller's and must outlive the spec. */
static struct docker_container_spec
server_spec(const struct run_ctx *ctx, const char *name, const char *const *aliases, const char *const *env,
	    const char *const *cmd)
{
	static const char *const tmpfs[] = { "/var/lib/postgresql/data", NULL };

	return (struct docker_container_spec){
		.name = name,
		.image = ctx->cfg->db_image,
		.tmpfs = tmpfs,
		.publish_tcp = "5432/tcp",
		.publish_ip = docker_address(ctx->dk),
		.network = ctx->network,
		.aliases = aliases,
		.env = env,
		.cmd = cmd,
		.labels = ctx->labels,
	};
}

int
dbserver_start(struct dbserver *s, const struct run_ctx *ctx, const char *password, struct error **err)
{
	const struct config *cfg = ctx->cfg;
	const char *aliases[] = { DBSERVER_ALIAS, NULL };
	cleanup_free char *pw_env = password ? xasprintf("XDOCK_PG_PASSWORD=%s", password) : NULL;
	/* Connections from the run's own containers skip authentication
	 * (images/postgres/entrypoint.sh): a SCRAM exchange costs more than
	 * the rest of a connection. The host, through the published port,
	 * still gives the password. A server of the run is on the run network
	 * alone. */
	const char *env[] = { "XDOCK_PG_TRUST=network", pw_env, NULL };
	cleanup_free const char **cmd = options_argv(cfg);
	cleanup_free char *name = xasprintf("xdock-%s-db", ctx->run_id);
	struct docker_container_spec spec = server_spec(ctx, name, aliases, env, cmd);

	memset(s, 0, sizeof(*s));
	if (cfg->reuse_db ? start_kept(s, ctx, &spec, err) : create_start(s, ctx, &spec, err))
		return -1;
	return learn_port(s, ctx, err);
}

int
dbserver_start_copy(struct dbserver *s, const struct run_ctx *ctx, size_t slot, const char *ready,
		    const char *password, struct error **err)
{
	cleanup_free char *alias = xasprintf("%s-gw%zu", DBSERVER_ALIAS, slot);
	cleanup_free char *name = xasprintf("xdock-%s-db-gw%zu", ctx->run_id, slot);
	cleanup_free char *ready_env = xasprintf("XDOCK_PG_READY=%s", ready);
	cleanup_free char *pw_env = password ? xasprintf("XDOCK_PG_PASSWORD=%s", password) : NULL;
	const char *aliases[] = { alias, NULL };
	const char *env[] = { "XDOCK_PG_TRUST=network", "XDOCK_PG_FOLLOW=" DBSERVER_ALIAS, ready_env, pw_env, NULL };
	cleanup_free const char **cmd = options_argv(ctx->cfg);
	struct docker_container_spec spec = server_spec(ctx, name, aliases, env, cmd);

	memset(s, 0, sizeof(*s));
	if (create_start(s, ctx, &spec, err) < 0)
		return error_wrap(err, "server of gw%zu", slot);
	return learn_port(s, ctx, err);
}

int
dbserver_alive(void *arg, struct error **err)
{
	struct dbserver_probe *a = arg;
	const struct config *cfg = a->ctx->cfg;
	const char *id = a->s->container;
	struct docker_container_state st;
	cleanup_free char *logs = NULL;
	struct error *lerr = NULL;
	const char *fatal, *end;

	if (docker_container_inspect(a->ctx->dk, id, NULL, &st, &lerr) < 0) {
		error_free(lerr);
		return 0; /* the connection attempts still decide */
	}
	if (st.running)
		return 0;
	docker_container_logs(a->ctx->dk, id, 8192, &logs, &lerr);
	error_free(lerr);
	fatal = logs ? strstr(logs, "FATAL:") : NULL;
	if (!fatal)
		return error_set(err, EXIT_INTERNAL, "database container %.12s exited with %d%s%s", id, st.exit_code,
				 logs && *logs ? ": " : "", logs ? logs : "");
	fatal += strlen("FATAL:");
	fatal += strspn(fatal, " ");
	end = fatal + strcspn(fatal, "\n");
	/* With --db-option, a server that will not start is the user's
	 * setting: a usage error quoting PostgreSQL. */
	if (cfg->ndb_options > 0)
		return error_set(err, EXIT_USAGE, "--db-option: PostgreSQL: %.*s", (int)(end - fatal), fatal);
	return error_set(err, EXIT_INTERNAL, "database container %.12s: PostgreSQL: %.*s", id, (int)(end - fatal),
			 fatal);
}

int
dbserver_remove(struct dbserver *s, const struct run_ctx *ctx, struct error **err)
{
	int rc = 0;

	if (!s->container)
		return 0;
	if (s->reused) {
		if (s->connected_net && docker_network_disconnect(ctx->dk, ctx->network, s->container, err) < 0)
			rc = -1;
	} else if (docker_container_remove(ctx->dk, s->container, true, err) < 0) {
		rc = -1;
	}
	free(s->container);
	memset(s, 0, sizeof(*s));
	return rc;
}
