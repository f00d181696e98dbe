/* The JSON side of the Docker client: request bodies built from our structs
 * and replies parsed into them. The only file of the client that includes
 * cJSON.h; no I/O here, so the parsers run on recorded replies in tests. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "docker_priv.h"

/* cJSON returns NULL only when malloc fails; like xmalloc we do not try to
 * recover from that. */
static cJSON *
must(cJSON *j)
{
	if (!j)
		abort();
	return j;
}

static char *
print(cJSON *root)
{
	char *s = cJSON_PrintUnformatted(root);

	if (!s)
		abort();
	return s;
}

static void
add_strv(cJSON *obj, const char *key, const char *const *v)
{
	cJSON *arr = must(cJSON_AddArrayToObject(obj, key));

	for (; *v; v++)
		cJSON_AddItemToArray(arr, must(cJSON_CreateString(*v)));
}

static void
add_str(cJSON *obj, const char *key, const char *s)
{
	must(cJSON_AddStringToObject(obj, key, s));
}

/* "key=value" pairs to an object; a pair without '=' gets "" (as
 * `docker run --label key` does). */
static void
add_labels(cJSON *obj, const char *const *labels)
{
	cJSON *l = must(cJSON_AddObjectToObject(obj, "Labels"));

	for (; *labels; labels++) {
		const char *eq = strchr(*labels, '=');
		cleanup_free char *key = eq ? xstrndup(*labels, (size_t)(eq - *labels)) : xstrdup(*labels);

		cJSON_DeleteItemFromObjectCaseSensitive(l, key);
		add_str(l, key, eq ? eq + 1 : "");
	}
}

static void
add_host_config(cJSON *root, const struct docker_container_spec *spec)
{
	cJSON *hc = must(cJSON_AddObjectToObject(root, "HostConfig"));

	if (spec->mounts) {
		cJSON *ms = must(cJSON_AddArrayToObject(hc, "Mounts"));

		for (const struct docker_mount *m = spec->mounts; m->source; m++) {
			cJSON *o = must(cJSON_CreateObject());

			cJSON_AddItemToArray(ms, o);
			add_str(o, "Type", m->volume ? "volume" : "bind");
			add_str(o, "Source", m->source);
			add_str(o, "Target", m->target);
			must(cJSON_AddBoolToObject(o, "ReadOnly", m->read_only));
		}
	}
	if (spec->tmpfs) {
		cJSON *t = must(cJSON_AddObjectToObject(hc, "Tmpfs"));

		for (const char *const *p = spec->tmpfs; *p; p++)
			add_str(t, *p, "");
	}
	if (spec->network)
		add_str(hc, "NetworkMode", spec->network);
	if (spec->memory > 0) {
		must(cJSON_AddNumberToObject(hc, "Memory", (double)spec->memory));
		/* Memory plus swap equal to memory: no swap, so the limit is
		 * what a test really gets, whatever the host's swap. */
		must(cJSON_AddNumberToObject(hc, "MemorySwap", (double)spec->memory));
	}
	if (spec->nano_cpus > 0)
		must(cJSON_AddNumberToObject(hc, "NanoCpus", (double)spec->nano_cpus));
	if (spec->pids_limit > 0)
		must(cJSON_AddNumberToObject(hc, "PidsLimit", (double)spec->pids_limit));
	if (spec->cap_drop_all) {
		static const char *const all[] = { "ALL", NULL };
		static const char *const nnp[] = { "no-new-privileges", NULL };

		add_strv(hc, "CapDrop", all);
		add_strv(hc, "SecurityOpt", nnp);
	}
	if (spec->publish_tcp) {
		/* Loopback (or, on an engine elsewhere, the address xdock
		 * reaches it at) and a port the engine picks: the database
		 * container must not be reachable from any other network, and
		 * parallel runs must not collide. */
		cJSON *pb = must(cJSON_AddObjectToObject(hc, "PortBindings"));
		cJSON *arr = must(cJSON_AddArrayToObject(pb, spec->publish_tcp));
		cJSON *b = must(cJSON_CreateObject());

		add_str(b, "HostIp", spec->publish_ip ? spec->publish_ip : "127.0.0.1");
		add_str(b, "HostPort", "");
		cJSON_AddItemToArray(arr, b);
	}
}

char *
docker_json_create_body(const struct docker_container_spec *spec)
{
	cleanup_cjson cJSON *root = must(cJSON_CreateObject());

	add_str(root, "Image", spec->image);
	if (spec->cmd)
		add_strv(root, "Cmd", spec->cmd);
	if (spec->entrypoint)
		add_strv(root, "Entrypoint", spec->entrypoint);
	if (spec->env)
		add_strv(root, "Env", spec->env);
	if (spec->labels)
		add_labels(root, spec->labels);
	if (spec->working_dir)
		add_str(root, "WorkingDir", spec->working_dir);
	if (spec->hostname)
		add_str(root, "Hostname", spec->hostname);
	if (spec->user)
		add_str(root, "User", spec->user);
	/* The attach channel: without a TTY the output is framed (frame.h),
	 * and StdinOnce makes the container see EOF when we go away. */
	must(cJSON_AddBoolToObject(root, "Tty", 0));
	if (spec->open_stdin) {
		must(cJSON_AddBoolToObject(root, "AttachStdin", 1));
		must(cJSON_AddBoolToObject(root, "AttachStdout", 1));
		must(cJSON_AddBoolToObject(root, "AttachStderr", 1));
		must(cJSON_AddBoolToObject(root, "OpenStdin", 1));
		must(cJSON_AddBoolToObject(root, "StdinOnce", 1));
	}
	if (spec->publish_tcp) {
		cJSON *ep = must(cJSON_AddObjectToObject(root, "ExposedPorts"));

		must(cJSON_AddObjectToObject(ep, spec->publish_tcp));
	}
	add_host_config(root, spec);
	if (spec->network && spec->aliases) {
		cJSON *nc = must(cJSON_AddObjectToObject(root, "NetworkingConfig"));
		cJSON *eps = must(cJSON_AddObjectToObject(nc, "EndpointsConfig"));
		cJSON *ep = must(cJSON_AddObjectToObject(eps, spec->network));

		add_strv(ep, "Aliases", spec->aliases);
	}
	return print(root);
}

char *
docker_json_network_create_body(const char *name, const char *const *labels)
{
	cleanup_cjson cJSON *root = must(cJSON_CreateObject());

	add_str(root, "Name", name);
	/* Ignored by engines since API 1.44, which always refuse duplicates;
	 * older ones need it, or two runs could share a network by name. */
	must(cJSON_AddBoolToObject(root, "CheckDuplicate", 1));
	if (labels)
		add_labels(root, labels);
	return print(root);
}

char *
docker_json_volume_create_body(const char *name, const char *const *labels)
{
	cleanup_cjson cJSON *root = must(cJSON_CreateObject());

	add_str(root, "Name", name);
	add_str(root, "Driver", "local");
	if (labels)
		add_labels(root, labels);
	return print(root);
}

/* An exec's output comes back on the start call's own stream, framed
 * as an attach stream is (no TTY); nothing of it reaches the
 * container's logs. */
char *
docker_json_exec_body(const struct docker_exec_spec *spec)
{
	cleanup_cjson cJSON *root = must(cJSON_CreateObject());

	add_strv(root, "Cmd", spec->cmd);
	if (spec->env)
		add_strv(root, "Env", spec->env);
	if (spec->working_dir)
		add_str(root, "WorkingDir", spec->working_dir);
	if (spec->user)
		add_str(root, "User", spec->user);
	must(cJSON_AddBoolToObject(root, "AttachStdin", 0));
	must(cJSON_AddBoolToObject(root, "AttachStdout", 1));
	must(cJSON_AddBoolToObject(root, "AttachStderr", 1));
	must(cJSON_AddBoolToObject(root, "Tty", 0));
	return print(root);
}

char *
docker_json_network_connect_body(const char *container, const char *const *aliases)
{
	cleanup_cjson cJSON *root = must(cJSON_CreateObject());
	cJSON *ep;

	add_str(root, "Container", container);
	ep = must(cJSON_AddObjectToObject(root, "EndpointConfig"));
	if (aliases)
		add_strv(ep, "Aliases", aliases);
	return print(root);
}

char *
docker_json_network_disconnect_body(const char *container)
{
	cleanup_cjson cJSON *root = must(cJSON_CreateObject());

	add_str(root, "Container", container);
	must(cJSON_AddBoolToObject(root, "Force", 1));
	return print(root);
}

char *
docker_json_label_filter(const char *label)
{
	cleanup_cjson cJSON *root = must(cJSON_CreateObject());
	const char *const one[] = { label, NULL };

	add_strv(root, "label", one);
	return print(root);
}

char *
docker_json_message(const char *body, size_t len)
{
	cleanup_cjson cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");

	if (!cJSON_IsString(m))
		return NULL;
	return xstrdup(m->valuestring);
}

static cJSON *
parse_object(const char *body, size_t len, const char *what, struct error **err)
{
	cJSON *root = cJSON_ParseWithLength(body, len);

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		error_set(err, EXIT_INTERNAL, "docker: %s: reply is not a JSON object", what);
		return NULL;
	}
	return root;
}

int
docker_json_string(const char *body, size_t len, const char *key, const char *what, char **out, struct error **err)
{
	cleanup_cjson cJSON *root = parse_object(body, len, what, err);
	const cJSON *v;

	if (!root)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!cJSON_IsString(v))
		return error_set(err, EXIT_INTERNAL, "docker: %s: reply has no string \"%s\"", what, key);
	*out = xstrdup(v->valuestring);
	return 0;
}

int
docker_json_int(const char *body, size_t len, const char *key, const char *what, int64_t *out, struct error **err)
{
	cleanup_cjson cJSON *root = parse_object(body, len, what, err);
	const cJSON *v;

	if (!root)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!cJSON_IsNumber(v))
		return error_set(err, EXIT_INTERNAL, "docker: %s: reply has no number \"%s\"", what, key);
	/* Converting a double outside int64_t's range is undefined; the
	 * bounds are -2^63 and 2^63, both exact in a double. */
	if (!(v->valuedouble >= -9223372036854775808.0 && v->valuedouble < 9223372036854775808.0))
		return error_set(err, EXIT_INTERNAL, "docker: %s: \"%s\" is out of range", what, key);
	*out = (int64_t)v->valuedouble;
	return 0;
}

int
docker_parse_exec(const char *json, size_t len, bool *running, int *exit_code, struct error **err)
{
	cleanup_cjson cJSON *root = parse_object(json, len, "exec inspect", err);
	const cJSON *code;

	if (!root)
		return -1;
	*running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "Running"));
	/* null until the process has ended */
	code = cJSON_GetObjectItemCaseSensitive(root, "ExitCode");
	*exit_code = cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble <= 255 ? code->valueint : -1;
	return 0;
}

static void
copy_str(char *dst, size_t cap, const cJSON *v)
{
	snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int
docker_parse_inspect(const char *json, size_t len, const char *port, struct docker_container_state *st, struct error **err)
{
	cleanup_cjson cJSON *root = parse_object(json, len, "inspect", err);
	const cJSON *state, *ports, *binding, *hp;

	memset(st, 0, sizeof(*st));
	if (!root)
		return -1;
	state = cJSON_GetObjectItemCaseSensitive(root, "State");
	if (!cJSON_IsObject(state))
		return error_set(err, EXIT_INTERNAL, "docker: inspect: reply has no State");
	st->running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "Running"));
	st->oom_killed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "OOMKilled"));
	hp = cJSON_GetObjectItemCaseSensitive(state, "ExitCode");
	st->exit_code = cJSON_IsNumber(hp) ? hp->valueint : 0;
	copy_str(st->status, sizeof(st->status), cJSON_GetObjectItemCaseSensitive(state, "Status"));
	copy_str(st->error, sizeof(st->error), cJSON_GetObjectItemCaseSensitive(state, "Error"));
	if (!port)
		return 0;
	/* Ports[port] is null while the container is not running: no port
	 * then, which is not an error. */
	ports = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "NetworkSettings"), "Ports");
	binding = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ports, port), 0);
	hp = cJSON_GetObjectItemCaseSensitive(binding, "HostPort");
	if (cJSON_IsString(hp)) {
		char *end;
		long p = strtol(hp->valuestring, &end, 10);

		if (*end || p <= 0 || p > 65535)
			return error_set(err, EXIT_INTERNAL, "docker: inspect: bad HostPort \"%s\"", hp->valuestring);
		st->host_port = (int)p;
	}
	return 0;
}

void
docker_list_release(struct docker_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].id);
		free(l->items[i].name);
		free(l->items[i].label);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static char *
dup_or_null(const cJSON *v)
{
	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

int
docker_parse_list(const char *json, size_t len, const char *kind, const char *want_label, struct docker_list *out, struct error **err)
{
	cleanup_cjson cJSON *root = cJSON_ParseWithLength(json, len);
	bool containers = strcmp(kind, "containers") == 0;
	bool volumes = strcmp(kind, "volumes") == 0;
	const cJSON *arr = root, *it;
	size_t n;

	out->items = NULL;
	out->n = 0;
	if (!containers && !volumes && strcmp(kind, "networks") != 0)
		return error_set(err, EXIT_INTERNAL, "docker: list: unknown kind \"%s\"", kind);
	if (volumes) {
		/* An engine without volumes says "Volumes": null. */
		arr = cJSON_GetObjectItemCaseSensitive(root, "Volumes");
		if (cJSON_IsObject(root) && cJSON_IsNull(arr))
			return 0;
	}
	if (!cJSON_IsArray(arr))
		return error_set(err, EXIT_INTERNAL, "docker: list %s: reply is not a JSON list", kind);
	n = (size_t)cJSON_GetArraySize(arr);
	out->items = xcalloc(n, sizeof(*out->items));
	cJSON_ArrayForEach(it, arr)
	{
		struct docker_object *o = &out->items[out->n];
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(it, "Labels");

		if (containers) {
			const char *nm;

			o->id = dup_or_null(cJSON_GetObjectItemCaseSensitive(it, "Id"));
			/* Names are "/name" (a leading slash per link parent). */
			o->name = dup_or_null(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(it, "Names"), 0));
			nm = o->name;
			if (nm && nm[0] == '/')
				memmove(o->name, nm + 1, strlen(nm));
		} else if (volumes) {
			o->id = dup_or_null(cJSON_GetObjectItemCaseSensitive(it, "Name"));
			o->name = dup_or_null(cJSON_GetObjectItemCaseSensitive(it, "Name"));
		} else {
			o->id = dup_or_null(cJSON_GetObjectItemCaseSensitive(it, "Id"));
			o->name = dup_or_null(cJSON_GetObjectItemCaseSensitive(it, "Name"));
		}
		if (want_label)
			o->label = dup_or_null(cJSON_GetObjectItemCaseSensitive(labels, want_label));
		out->n++;
		if (!o->id) {
			docker_list_release(out);
			return error_set(err, EXIT_INTERNAL, "docker: list %s: an entry has no id", kind);
		}
	}
	return 0;
}
