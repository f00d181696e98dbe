#include "lastrun.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "history.h"
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
	cJSON_AddNumberToObject(o, "timeout", cfg->timeout);
	cJSON_AddNumberToObject(o, "memory", (double)cfg->memory);
	cJSON_AddNumberToObject(o, "nano_cpus", (double)cfg->nano_cpus);
	return o;
}

int
lastrun_save(const char *project_dir, const struct report *r, struct error **err)
{
	cleanup_free char *dir = xasprintf("%s/%s", project_dir, HISTORY_DIR);
	cleanup_free char *path = xasprintf("%s/%s", dir, LASTRUN_FILE);
	cJSON *root = cJSON_CreateObject(), *lanes;
	char *text;
	struct buf b;
	int rc;

	if (!r->seq || !r->invocation) {
		cJSON_Delete(root);
		return 0;
	}
	cJSON_AddNumberToObject(root, "version", LASTRUN_VERSION);
	add_opt(root, "run_id", r->run_id);
	cJSON_AddNumberToObject(root, "exit_code", r->exit_code);
	cJSON_AddItemToObject(root, "invocation", cJSON_Duplicate(r->invocation, true));
	lanes = cJSON_AddArrayToObject(root, "sequences");
	for (size_t i = 0; i < r->seq->nlanes; i++)
		cJSON_AddItemToArray(lanes, sequence_lane_json(&r->seq->lanes[i]));
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return error_set(err, EXIT_INTERNAL, "last run record: cannot format JSON");
	if (history_dir_make(project_dir, err) < 0) {
		free(text);
		return error_wrap(err, "last run record");
	}
	buf_init(&b, LASTRUN_MAX);
	rc = buf_printf(&b, "%s\n", text);
	free(text);
	if (rc < 0)
		rc = error_set(err, EXIT_INTERNAL, "last run record: larger than %zu bytes", LASTRUN_MAX);
	else
		rc = report_save(path, &b, err);
	buf_release(&b);
	return rc;
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
	lr->timeout = num_of(inv, "timeout");
	lr->memory = (int64_t)num_of(inv, "memory");
	lr->nano_cpus = (int64_t)num_of(inv, "nano_cpus");
	if (sequence_from_json(&lr->seq, cJSON_GetObjectItemCaseSensitive(lr->root, "sequences"), err) < 0)
		return error_wrap(err, "%s", path);
	return 0;
}

int
lastrun_load(const char *project_dir, const char *path, struct lastrun *lr, struct error **err)
{
	cleanup_free char *own = NULL;

	memset(lr, 0, sizeof(*lr));
	if (!path) {
		path = own = xasprintf("%s/%s/%s", project_dir, HISTORY_DIR, LASTRUN_FILE);
		if (access(path, F_OK) < 0)
			return error_set(err, EXIT_USAGE, "no record of a last run here (%s/%s): run xdock run first, or "
							  "give --report FILE",
					 HISTORY_DIR, LASTRUN_FILE);
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

int
lastrun_config(const struct lastrun *lr, const struct config *base, struct config *out, struct error **err)
{
	*out = *base;
	out->image = lr->image_id ? lr->image_id : lr->image;
	out->pytest_args = lr->pytest_args;
	out->npytest_args = lr->npytest_args;
	out->env = lr->env;
	out->nenv = lr->nenv;
	/* The embedded server as the run had it (max_prepared_transactions,
	 * say): a failure may need it to come back. */
	out->db_options = lr->db_options;
	out->ndb_options = lr->ndb_options;
	out->db_setup = lr->db_setup;
	out->db_setup_key = lr->db_setup_key;
	if (lr->db_image)
		out->db_image = lr->db_image;
	out->timeout = lr->timeout;
	out->memory = lr->memory;
	out->nano_cpus = lr->nano_cpus;
	if (lr->db == CLI_DB_URL && base->db != CLI_DB_URL)
		return error_set(err, EXIT_USAGE, "that run used --db-url, which the record does not keep: give --db-url again");
	out->db = lr->db == CLI_DB_URL ? CLI_DB_URL : lr->db;
	/* One sequence per worker, in order, nothing else: no history
	 * order, no shard, no reruns, no replacement of a crashed worker, no
	 * -x (the sequence ends where it should). */
	out->dist = SCHED_FIXED;
	out->shard.m = 0;
	out->shard.k = 0;
	out->reruns = 0;
	out->reruns_replay = false;
	out->maxfail = 0;
	out->max_worker_restart = 0;
	out->quarantine = NULL;
	out->no_history = true;
	out->reuse_db = false;
	out->workers_auto = false;
	return 0;
}
