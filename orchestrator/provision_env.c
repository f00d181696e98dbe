/* What a worker is told about its database: the environment --db-env
 * gives it (and the --db-setup command), and the values of the
 * placeholders in --env and the command. The databases themselves are
 * provision.c's. */
#include "provision.h"

#include <string.h>

#include "buf.h"

/* The worker URL of slot's server: its own under --db-scope server. */
static void
slot_url(const struct provision *p, size_t slot, struct db_url *u, char **host)
{
	*u = p->worker;
	*host = NULL;
	if (slot < p->nservers) {
		*host = xasprintf("%s-gw%zu", DBSERVER_ALIAS, slot);
		u->host = *host;
	}
}

/* mode: --db-env; the setup command always gets everything. */
static void
env_of(const struct provision *p, enum cli_db_env mode, const struct db_url *u, const char *name, char ***env,
       size_t *nenv)
{
	cleanup_free char *url = NULL;

	if (p->mode == CLI_DB_NONE || mode == CLI_DB_ENV_NONE)
		return;
	url = db_url_format(u, NULL, 0, name);
	util_strv_push(env, nenv, xasprintf("DATABASE_URL=%s", url));
	if (mode == CLI_DB_ENV_URL)
		return;
	util_strv_push(env, nenv, xasprintf("PGHOST=%s", u->host ? u->host : "localhost"));
	util_strv_push(env, nenv, xasprintf("PGPORT=%d", u->port ? u->port : 5432));
	if (u->user)
		util_strv_push(env, nenv, xasprintf("PGUSER=%s", u->user));
	if (u->password)
		util_strv_push(env, nenv, xasprintf("PGPASSWORD=%s", u->password));
	util_strv_push(env, nenv, xasprintf("PGDATABASE=%s", name));
}

void
provision_env(const struct provision *p, size_t slot, const char *name, char ***env, size_t *nenv)
{
	struct db_url u;
	cleanup_free char *host = NULL;

	slot_url(p, slot, &u, &host);
	env_of(p, p->env_mode, &u, name, env, nenv);
}

void
provision_env_setup(const struct provision *p, char ***env, size_t *nenv)
{
	env_of(p, CLI_DB_ENV_ALL, &p->worker, PROVISION_TEMPLATE, env, nenv);
}

char *
provision_expand(const char *s, const struct provision_vars *v)
{
	const struct {
		const char *name;
		const char *val;
	} keys[] = {
		{ "{worker}", v->worker },   { "{database}", v->database },
		{ "{database_url}", v->database_url }, { "{host}", v->host },
		{ "{port}", v->port },
	};
	struct buf b;

	buf_init(&b, SIZE_MAX / 2);
	while (*s) {
		size_t k = ARRAY_SIZE(keys);

		if (*s == '{')
			for (k = 0; k < ARRAY_SIZE(keys); k++)
				if (strncmp(s, keys[k].name, strlen(keys[k].name)) == 0)
					break;
		if (k < ARRAY_SIZE(keys)) {
			if (keys[k].val)
				buf_append(&b, keys[k].val, strlen(keys[k].val));
			s += strlen(keys[k].name);
		} else {
			buf_append(&b, s, 1);
			s++;
		}
	}
	return buf_steal(&b);
}

void
provision_vars(const struct provision *p, size_t slot, const char *worker, const char *dbname,
	       struct provision_vars *v, struct provision_vars_store *store)
{
	struct db_url u;

	memset(v, 0, sizeof(*v));
	memset(store, 0, sizeof(*store));
	v->worker = worker;
	if (p->mode == CLI_DB_NONE || !dbname)
		return;
	slot_url(p, slot, &u, &store->host);
	store->url = db_url_format(&u, NULL, 0, dbname);
	store->port = xasprintf("%d", u.port ? u.port : 5432);
	v->database = dbname;
	v->database_url = store->url;
	v->host = u.host ? u.host : "localhost";
	v->port = store->port;
}

void
provision_vars_release(struct provision_vars_store *store)
{
	free(store->url);
	free(store->port);
	free(store->host);
	memset(store, 0, sizeof(*store));
}
