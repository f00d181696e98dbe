#include "lastrun.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "history.h"
#include "save.h"
#include "util.h"

/* A record is node ids and a few numbers per test: 10,000 tests make
 * about 1.5 MB. Anything past this is not a file xdock wrote. */
#define LASTRUN_MAX ((size_t)512 << 20)

static void
add_strs(cJSON *o, const char *key, const char *const *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, key);

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
}

static void
add_opt(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

/* The option values as --db-env and --db-scope take them, so that the
 * record is read back through the option table (cli_set). */
static const char *const db_env_names[] = { [CLI_DB_ENV_ALL] = "all", [CLI_DB_ENV_URL] = "url",
					     [CLI_DB_ENV_NONE] = "none" };
static const char *const db_scope_names[] = { [CLI_DB_SCOPE_DATABASE] = "database",
					       [CLI_DB_SCOPE_SERVER] = "server" };

cJSON *
lastrun_invocation(const struct config *cfg, size_t workers, const char *image_id)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "image", cfg->image);
	add_opt(o, "image_id", image_id);
	cJSON_AddStringToObject(o, "dist", sched_mode_name(cfg->dist));
	cJSON_AddNumberToObject(o, "workers", (double)workers);
	add_strs(o, "pytest_args", cfg->pytest_args, cfg->npytest_args);
	add_strs(o, "env", cfg->env, cfg->nenv);
	add_strs(o, "db_options", cfg->db_options, cfg->ndb_options);
	cJSON_AddStringToObject(o, "db", cfg->db == CLI_DB_NONE ? "none" : cfg->db == CLI_DB_URL ? "url" : "embedded");
	add_opt(o, "db_image", cfg->db_image);
	add_opt(o, "db_setup", cfg->db_setup);
	add_opt(o, "db_setup_key", cfg->db_setup_key);
	cJSON_AddNumberToObject(o, "db_setup_timeout", cfg->db_setup_timeout);
	cJSON_AddStringToObject(o, "db_env", db_env_names[cfg->db_env]);
	cJSON_AddStringToObject(o, "db_scope", db_scope_names[cfg->db_scope]);
	cJSON_AddNumberToObject(o, "timeout", cfg->timeout);
	cJSON_AddNumberToObject(o, "memory", (double)cfg->memory);
	cJSON_AddNumberToObject(o, "nano_cpus", (double)cfg->nano_cpus);
	/* The containers' working directory and mount: the pytest
	 * arguments and node ids are relative to them. */
	add_opt(o, "rootdir", cfg->rootdir);
	add_opt(o, "inifile", cfg->inifile);
	add_opt(o, "project_dir", cfg->project_dir);
	add_opt(o, "workdir", cfg->workdir);
	return o;
}

/* The record, streamed: the head through cJSON (small), then each lane
 * as sequence_lane_write makes it. A tree of every lane was 17% of
 * xdock's instructions at the end of a 2,000-test run and the largest
 * allocation of its end (docs/benchmarks.md). */
static int
write_record(FILE *f, const void *ctx, struct error **err)
{
	const struct report *r = ctx;
	cJSON *head = cJSON_CreateObject();
	cleanup_free char *text = NULL;
	struct buf b;
	size_t n;
	int rc = 0;

	cJSON_AddNumberToObject(head, "version", LASTRUN_VERSION);
	add_opt(head, "run_id", r->run_id);
	cJSON_AddNumberToObject(head, "exit_code", r->exit_code);
	cJSON_AddItemToObject(head, "invocation", cJSON_Duplicate(r->invocation, true));
	text = cJSON_PrintUnformatted(head);
	cJSON_Delete(head);
	if (!text)
		return error_set(err, EXIT_INTERNAL, "last run record: cannot format JSON");
	/* The head without its closing brace: the lanes follow. */
	n = strlen(text) - 1;
	if (fwrite(text, 1, n, f) != n || fputs(",\"sequences\":[", f) < 0)
		return error_set(err, EXIT_INTERNAL, "last run record: %s", strerror(errno));
	buf_init(&b, LASTRUN_MAX);
	for (size_t i = 0; i < r->seq->nlanes && rc == 0; i++) {
		buf_reset(&b);
		if ((i > 0 && buf_append(&b, ",", 1) < 0) || sequence_lane_write(&r->seq->lanes[i], &b) < 0)
			rc = error_set(err, EXIT_INTERNAL, "last run record: larger than %zu bytes", LASTRUN_MAX);
		else if (fwrite(b.data, 1, b.len, f) != b.len)
			rc = error_set(err, EXIT_INTERNAL, "last run record: %s", strerror(errno));
	}
	buf_release(&b);
	if (rc == 0 && fputs("]}\n", f) < 0)
		rc = error_set(err, EXIT_INTERNAL, "last run record: %s", strerror(errno));
	return rc;
}

int
lastrun_save(const char *dir, const struct report *r, struct error **err)
{
	cleanup_free char *path = xasprintf("%s/%s/%s", dir, HISTORY_DIR, LASTRUN_FILE);

	if (!r->seq || !r->invocation)
		return 0;
	if (history_dir_make(dir, err) < 0)
		return error_wrap(err, "last run record");
	return save_atomic(path, write_record, r, err);
}

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
num_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0 ? v->valuedouble : 0;
}

static int
strs_of(const cJSON *o, const char *key, const char ***out, size_t *n, struct error **err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *v;

	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return error_set(err, EXIT_USAGE, "\"%s\" is not an array", key);
	*out = xcalloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(**out));
	cJSON_ArrayForEach(v, a)
	{
		if (!cJSON_IsString(v))
			return error_set(err, EXIT_USAGE, "\"%s\" holds a non-string", key);
		(*out)[(*n)++] = v->valuestring;
	}
	return 0;
}

static char *
read_file(const char *path, size_t *len, struct error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct buf b;
	char chunk[65536];
	ssize_t n;

	if (fd < 0) {
		error_set(err, EXIT_USAGE, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, LASTRUN_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			buf_release(&b);
			error_set(err, EXIT_USAGE, "%s: larger than %zu bytes", path, LASTRUN_MAX);
			return NULL;
		}
	}
	if (n < 0) {
		buf_release(&b);
		error_set(err, EXIT_USAGE, "%s: %s", path, strerror(errno));
		return NULL;
	}
	*len = b.len;
	return buf_steal(&b);
}

static int
parse(const char *path, struct lastrun *lr, struct error **err)
{
	size_t len = 0;
	cleanup_free char *text = read_file(path, &len, err);
	const cJSON *inv;
	const char *db;

	if (!text)
		return -1;
	if (!(lr->root = cJSON_ParseWithLength(text, len)))
		return error_set(err, EXIT_USAGE, "%s: not JSON", path);
	inv = cJSON_GetObjectItemCaseSensitive(lr->root, "invocation");
	if (!cJSON_IsObject(inv))
		return error_set(err, EXIT_USAGE, "%s: no \"invocation\" (written by an xdock without replay?)", path);
	lr->run_id = str_of(lr->root, "run_id");
	lr->image = str_of(inv, "image");
	lr->image_id = str_of(inv, "image_id");
	if (!lr->image)
		return error_set(err, EXIT_USAGE, "%s: no image in \"invocation\"", path);
	if (strs_of(inv, "pytest_args", &lr->pytest_args, &lr->npytest_args, err) < 0 ||
	    strs_of(inv, "env", &lr->env, &lr->nenv, err) < 0 ||
	    strs_of(inv, "db_options", &lr->db_options, &lr->ndb_options, err) < 0)
		return error_wrap(err, "%s", path);
	db = str_of(inv, "db");
	lr->db = db && strcmp(db, "none") == 0 ? CLI_DB_NONE : db && strcmp(db, "url") == 0 ? CLI_DB_URL : CLI_DB_EMBEDDED;
	lr->db_image = str_of(inv, "db_image");
	lr->db_setup = str_of(inv, "db_setup");
	lr->db_setup_key = str_of(inv, "db_setup_key");
	lr->db_env = str_of(inv, "db_env");
	lr->db_scope = str_of(inv, "db_scope");
	lr->db_setup_timeout = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(inv, "db_setup_timeout"))
				       ? num_of(inv, "db_setup_timeout")
				       : -1;
	lr->timeout = num_of(inv, "timeout");
	lr->memory = (int64_t)num_of(inv, "memory");
	lr->nano_cpus = (int64_t)num_of(inv, "nano_cpus");
	lr->rootdir = str_of(inv, "rootdir");
	lr->inifile = str_of(inv, "inifile");
	lr->project_dir = str_of(inv, "project_dir");
	lr->workdir = str_of(inv, "workdir");
	if (sequence_from_json(&lr->seq, cJSON_GetObjectItemCaseSensitive(lr->root, "sequences"), err) < 0)
		return error_wrap(err, "%s", path);
	return 0;
}

int
lastrun_load(const char *dir, const char *path, struct lastrun *lr, struct error **err)
{
	cleanup_free char *own = NULL;

	memset(lr, 0, sizeof(*lr));
	if (!path) {
		path = own = xasprintf("%s/%s/%s", dir, HISTORY_DIR, LASTRUN_FILE);
		if (access(path, F_OK) < 0)
			return error_set(err, EXIT_USAGE, "no record of a last run in %s (rootdir %s): run xdock run first, "
							  "or give --report FILE",
					 path, dir);
	}
	sequence_init(&lr->seq, 0);
	if (parse(path, lr, err) < 0) {
		lastrun_release(lr);
		return -1;
	}
	return 0;
}

void
lastrun_release(struct lastrun *lr)
{
	free(lr->pytest_args);
	free(lr->env);
	free(lr->db_options);
	sequence_release(&lr->seq);
	cJSON_Delete(lr->root);
	memset(lr, 0, sizeof(*lr));
}

/* A heap copy of v[0..n) whose strings c owns. */
static const char **
own_strs(struct config *c, const char *const *v, size_t n)
{
	const char **out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = cli_own(c, xstrdup(v[i]));
	return out;
}

static const char *
own_opt(struct config *c, const char *s)
{
	return s ? cli_own(c, xstrdup(s)) : NULL;
}

int
lastrun_apply(const struct lastrun *lr, const char *origin, struct config *c, struct error **err)
{
	/* By id: the very image, even after the tag moved (replay.c falls
	 * back to the tag when the engine no longer has it). */
	c->image = own_opt(c, lr->image_id ? lr->image_id : lr->image);
	free(c->pytest_args);
	c->pytest_args = own_strs(c, lr->pytest_args, lr->npytest_args);
	c->npytest_args = lr->npytest_args;
	/* --env as the run had it, the config's and the passed defaults
	 * (NAME alone) among them. */
	if (lr->env) {
		free(c->env);
		c->env = own_strs(c, lr->env, lr->nenv);
		c->nenv = lr->nenv;
	}
	/* The embedded server as the run had it (max_prepared_transactions,
	 * say): a failure may need it to come back. */
	if (lr->db_options) {
		free(c->db_options);
		c->db_options = own_strs(c, lr->db_options, lr->ndb_options);
		c->ndb_options = lr->ndb_options;
	}
	c->db = lr->db;
	if (lr->db_image)
		c->db_image = own_opt(c, lr->db_image);
	c->db_setup = own_opt(c, lr->db_setup);
	c->db_setup_key = own_opt(c, lr->db_setup_key);
	if (lr->db_setup_timeout >= 0)
		c->db_setup_timeout = lr->db_setup_timeout > CLI_SECONDS_MAX ? CLI_SECONDS_MAX : lr->db_setup_timeout;
	/* Through the option table: a value xdock does not take is the
	 * record's fault, said as for a config file. */
	if (lr->db_env && cli_set(c, "db-env", lr->db_env, origin, NULL, err) < 0)
		return -1;
	if (lr->db_scope && cli_set(c, "db-scope", lr->db_scope, origin, NULL, err) < 0)
		return -1;
	c->timeout = lr->timeout > CLI_SECONDS_MAX ? CLI_SECONDS_MAX : lr->timeout;
	c->memory = lr->memory;
	c->nano_cpus = lr->nano_cpus > (int64_t)(CLI_CPUS_MAX * 1e9) ? (int64_t)(CLI_CPUS_MAX * 1e9) : lr->nano_cpus;
	return 0;
}
