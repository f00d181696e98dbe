/* The reply parsers of the Docker client, on replies recorded from the real
 * engine (API 1.41) into tests/data/docker/ with curl --unix-socket, and the
 * request bodies it builds, read back as JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "docker.h"
#include "docker_priv.h"
#include "recorded.h"

static void
inspect_file(const char *name, const char *port, struct docker_container_state *st)
{
	size_t len;
	char *json = recorded_read(name, &len);
	struct error *err = NULL;

	assert_int_equal(docker_parse_inspect(json, len, port, st, &err), 0);
	assert_null(err);
	free(json);
}

static void
test_inspect_running(void **state)
{
	struct docker_container_state st;

	(void)state;
	inspect_file("inspect_running.json", "5432/tcp", &st);
	assert_true(st.running);
	assert_false(st.oom_killed);
	assert_int_equal(st.exit_code, 0);
	assert_string_equal(st.status, "running");
	assert_string_equal(st.error, "");
	assert_int_equal(st.host_port, 32768);
	/* A port that is not published, and no port asked. */
	inspect_file("inspect_running.json", "80/tcp", &st);
	assert_int_equal(st.host_port, 0);
	assert_true(st.running);
	inspect_file("inspect_running.json", NULL, &st);
	assert_int_equal(st.host_port, 0);
}

static void
test_inspect_exited(void **state)
{
	struct docker_container_state st;

	(void)state;
	inspect_file("inspect_exited.json", "5432/tcp", &st);
	assert_false(st.running);
	assert_false(st.oom_killed);
	assert_int_equal(st.exit_code, 3);
	assert_string_equal(st.status, "exited");
	assert_int_equal(st.host_port, 0);
}

static void
test_inspect_oom(void **state)
{
	struct docker_container_state st;

	(void)state;
	inspect_file("inspect_oom.json", NULL, &st);
	assert_false(st.running);
	assert_true(st.oom_killed);
	assert_int_equal(st.exit_code, 137);
	assert_string_equal(st.status, "exited");
}

static void
test_inspect_start_error(void **state)
{
	struct docker_container_state st;

	(void)state;
	inspect_file("inspect_error.json", NULL, &st);
	assert_false(st.running);
	assert_int_equal(st.exit_code, 127);
	assert_string_equal(st.status, "created");
	assert_non_null(strstr(st.error, "/nonexistent"));
	/* Truncated to the field, still terminated. */
	assert_true(strlen(st.error) < sizeof(st.error));
}

static void
test_inspect_garbage(void **state)
{
	struct docker_container_state st;
	struct error *err = NULL;
	size_t len;
	char *json = recorded_read("inspect_running.json", &len);

	(void)state;
	/* Cut short: no longer JSON. */
	assert_int_equal(docker_parse_inspect(json, len / 2, NULL, &st, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->status, EXIT_INTERNAL);
	error_free(err);
	err = NULL;
	/* An error reply is JSON but not an inspect. */
	assert_int_equal(docker_parse_inspect("{\"message\":\"x\"}", 15, NULL, &st, &err), -1);
	assert_non_null(strstr(err->msg, "State"));
	error_free(err);
	free(json);
}

static void
list_file(const char *name, const char *kind, const char *want, struct docker_list *l)
{
	size_t len;
	char *json = recorded_read(name, &len);
	struct error *err = NULL;

	assert_int_equal(docker_parse_list(json, len, kind, want, l, &err), 0);
	assert_null(err);
	free(json);
}

static const struct docker_object *
find(const struct docker_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].name && strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

static void
test_list_containers(void **state)
{
	struct docker_list l;
	const struct docker_object *o;

	(void)state;
	list_file("containers_list.json", "containers", "xdock.role", &l);
	assert_int_equal(l.n, 4);
	o = find(&l, "rec-running-12155");
	assert_non_null(o);
	assert_int_equal(strlen(o->id), 64);
	assert_string_equal(o->label, "db");
	o = find(&l, "rec-exited-12155");
	assert_non_null(o);
	assert_string_equal(o->label, "worker");
	/* No such label on it: NULL, not "". */
	o = find(&l, "rec-oom-12155");
	assert_non_null(o);
	assert_null(o->label);
	docker_list_release(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.items);

	list_file("containers_list.json", "containers", NULL, &l);
	assert_int_equal(l.n, 4);
	for (size_t i = 0; i < l.n; i++)
		assert_null(l.items[i].label);
	docker_list_release(&l);

	list_file("containers_list_empty.json", "containers", "xdock.run", &l);
	assert_int_equal(l.n, 0);
	docker_list_release(&l);
}

static void
test_list_networks(void **state)
{
	struct docker_list l;

	(void)state;
	list_file("networks_list.json", "networks", "xdock.run", &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].name, "rec-net-12155");
	assert_string_equal(l.items[0].id, "9a85978e2f09f3a56645a63888623fea5059ce0ded03712de4826017144d5f3f");
	assert_string_equal(l.items[0].label, "rec-docker-12155");
	docker_list_release(&l);
}

static void
test_list_volumes(void **state)
{
	struct docker_list l;

	(void)state;
	list_file("volumes_list.json", "volumes", "xdock.role", &l);
	assert_int_equal(l.n, 1);
	/* Volumes have no id: their name is the id. */
	assert_string_equal(l.items[0].id, "rec-vol-12155");
	assert_string_equal(l.items[0].name, "rec-vol-12155");
	assert_string_equal(l.items[0].label, "record");
	docker_list_release(&l);

	list_file("volumes_list_empty.json", "volumes", "xdock.role", &l);
	assert_int_equal(l.n, 0);
	docker_list_release(&l);
}

static void
test_list_wrong_shape(void **state)
{
	struct docker_list l;
	struct error *err = NULL;
	size_t len;
	char *json = recorded_read("volumes_list.json", &len);

	(void)state;
	/* A volumes reply is an object, not the list containers expect. */
	assert_int_equal(docker_parse_list(json, len, "containers", NULL, &l, &err), -1);
	assert_int_equal(err->status, EXIT_INTERNAL);
	assert_int_equal(l.n, 0);
	error_free(err);
	err = NULL;
	assert_int_equal(docker_parse_list(json, len, "images", NULL, &l, &err), -1);
	error_free(err);
	free(json);
}

static void
test_error_message(void **state)
{
	size_t len;
	char *json = recorded_read("error_no_such_image.json", &len);
	char *msg = docker_json_message(json, len);

	(void)state;
	assert_non_null(msg);
	assert_string_equal(msg, "No such image: xdock/nonexistent:nope");
	free(msg);
	assert_null(docker_json_message("<html>502</html>", 16));
	assert_null(docker_json_message("", 0));
	free(json);
}

static const cJSON *
path(const cJSON *j, const char *a, const char *b)
{
	j = cJSON_GetObjectItemCaseSensitive(j, a);
	return b ? cJSON_GetObjectItemCaseSensitive(j, b) : j;
}

static void
test_create_body(void **state)
{
	const char *const cmd[] = { "cat", NULL };
	const char *const env[] = { "A=1", "B=two=2", NULL };
	const struct docker_mount mounts[] = { { "/host:a/b", "/in", true, false },
					       { "/src", "/src", false, false },
					       { "xdock-abc-project", "/p", false, true },
					       { NULL, NULL, false, false } };
	const char *const labels[] = { "xdock.run=abc", "xdock.worker=gw0", "flag", NULL };
	const char *const tmpfs[] = { "/tmp", "/run", NULL };
	const char *const aliases[] = { "db", NULL };
	struct docker_container_spec spec = {
		.image = "xdock/python:bookworm",
		.cmd = cmd,
		.env = env,
		.mounts = mounts,
		.labels = labels,
		.tmpfs = tmpfs,
		.working_dir = "/src",
		.user = "1000:1000",
		.network = "xdock-abc",
		.aliases = aliases,
		.publish_tcp = "5432/tcp",
		.open_stdin = true,
		.cap_drop_all = true,
		.memory = 512LL << 20,
		.nano_cpus = 1500000000LL,
		.pids_limit = 256,
	};
	char *s = docker_json_create_body(&spec);
	cJSON *j = cJSON_Parse(s);
	const cJSON *hc, *pb;

	(void)state;
	assert_non_null(j);
	assert_string_equal(path(j, "Image", NULL)->valuestring, "xdock/python:bookworm");
	assert_string_equal(cJSON_GetArrayItem(path(j, "Cmd", NULL), 0)->valuestring, "cat");
	assert_null(path(j, "Entrypoint", NULL));
	assert_string_equal(cJSON_GetArrayItem(path(j, "Env", NULL), 1)->valuestring, "B=two=2");
	assert_string_equal(path(j, "Labels", "xdock.worker")->valuestring, "gw0");
	assert_string_equal(path(j, "Labels", "flag")->valuestring, "");
	assert_string_equal(path(j, "WorkingDir", NULL)->valuestring, "/src");
	assert_string_equal(path(j, "User", NULL)->valuestring, "1000:1000");
	assert_true(cJSON_IsTrue(path(j, "OpenStdin", NULL)));
	assert_true(cJSON_IsTrue(path(j, "StdinOnce", NULL)));
	assert_true(cJSON_IsTrue(path(j, "AttachStdin", NULL)));
	assert_true(cJSON_IsFalse(path(j, "Tty", NULL)));
	assert_true(cJSON_IsObject(path(j, "ExposedPorts", "5432/tcp")));
	hc = path(j, "HostConfig", NULL);
	/* Mounts, field by field: a `:` in a path is just a character. */
	assert_null(path(hc, "Binds", NULL));
	assert_int_equal(cJSON_GetArraySize(path(hc, "Mounts", NULL)), 3);
	/* A shipped project's volume stands where a bind mount was. */
	assert_string_equal(path(cJSON_GetArrayItem(path(hc, "Mounts", NULL), 2), "Type", NULL)->valuestring, "volume");
	assert_string_equal(path(cJSON_GetArrayItem(path(hc, "Mounts", NULL), 2), "Source", NULL)->valuestring,
			    "xdock-abc-project");
	assert_string_equal(path(cJSON_GetArrayItem(path(hc, "Mounts", NULL), 0), "Type", NULL)->valuestring, "bind");
	assert_string_equal(path(cJSON_GetArrayItem(path(hc, "Mounts", NULL), 0), "Source", NULL)->valuestring,
			    "/host:a/b");
	assert_string_equal(path(cJSON_GetArrayItem(path(hc, "Mounts", NULL), 0), "Target", NULL)->valuestring, "/in");
	assert_true(cJSON_IsTrue(path(cJSON_GetArrayItem(path(hc, "Mounts", NULL), 0), "ReadOnly", NULL)));
	assert_true(cJSON_IsFalse(path(cJSON_GetArrayItem(path(hc, "Mounts", NULL), 1), "ReadOnly", NULL)));
	assert_string_equal(path(hc, "Tmpfs", "/run")->valuestring, "");
	assert_string_equal(path(hc, "NetworkMode", NULL)->valuestring, "xdock-abc");
	assert_true(path(hc, "Memory", NULL)->valuedouble == (double)(512LL << 20));
	assert_true(path(hc, "NanoCpus", NULL)->valuedouble == 1.5e9);
	assert_int_equal(path(hc, "PidsLimit", NULL)->valueint, 256);
	assert_string_equal(cJSON_GetArrayItem(path(hc, "CapDrop", NULL), 0)->valuestring, "ALL");
	assert_string_equal(cJSON_GetArrayItem(path(hc, "SecurityOpt", NULL), 0)->valuestring, "no-new-privileges");
	pb = cJSON_GetArrayItem(path(hc, "PortBindings", "5432/tcp"), 0);
	assert_string_equal(path(pb, "HostIp", NULL)->valuestring, "127.0.0.1");
	assert_string_equal(path(pb, "HostPort", NULL)->valuestring, "");
	assert_string_equal(
		cJSON_GetArrayItem(path(path(path(j, "NetworkingConfig", "EndpointsConfig"), "xdock-abc", NULL), "Aliases", NULL), 0)
			->valuestring,
		"db");
	cJSON_Delete(j);
	free(s);

	/* The minimal spec: nothing but the image and Tty. */
	struct docker_container_spec min = { .image = "x" };

	s = docker_json_create_body(&min);
	assert_string_equal(s, "{\"Image\":\"x\",\"Tty\":false,\"HostConfig\":{}}");
	free(s);
}

/* An exec's state, recorded: one that exited 7, one still running (its
 * ExitCode is null until it ends). */
static void
test_exec_state(void **state)
{
	size_t len;
	char *json = recorded_read("exec_exited.json", &len);
	struct error *err = NULL;
	bool running = true;
	int code = 0;

	(void)state;
	assert_int_equal(docker_parse_exec(json, len, &running, &code, &err), 0);
	assert_false(running);
	assert_int_equal(code, 7);
	free(json);
	json = recorded_read("exec_running.json", &len);
	assert_int_equal(docker_parse_exec(json, len, &running, &code, &err), 0);
	assert_true(running);
	assert_int_equal(code, -1);
	free(json);
	assert_int_equal(docker_parse_exec("[]", 2, &running, &code, &err), -1);
	assert_non_null(err);
	error_free(err);
}

/* The exec's own stream (recorded from `sh -c "echo out; echo err >&2"`):
 * both streams, framed, and only the last max bytes kept. */
static void
test_exec_tail(void **state)
{
	size_t len;
	char *raw = recorded_read("exec_start.bin", &len);
	struct docker_tail t;
	char *out;

	(void)state;
	docker_tail_init(&t, 4096);
	/* In pieces that cut the frames' headers. */
	for (size_t i = 0; i < len; i += 3)
		assert_int_equal(docker_tail_feed_cb(&t, raw + i, len - i < 3 ? len - i : 3), 0);
	out = docker_tail_steal(&t);
	assert_string_equal(out, "out\nerr\n");
	free(out);
	docker_tail_init(&t, 5);
	assert_int_equal(docker_tail_feed_cb(&t, raw, len), 0);
	out = docker_tail_steal(&t);
	assert_string_equal(out, "\nerr\n");
	free(out);
	free(raw);
}

static void
test_exec_body(void **state)
{
	const char *const cmd[] = { "/bin/sh", "-c", "python3 migrate.py", NULL };
	const char *const env[] = { "PGDATABASE=test_db_template", NULL };
	struct docker_exec_spec spec = { .cmd = cmd, .env = env, .working_dir = "/src", .user = "1000:1000" };
	char *s = docker_json_exec_body(&spec);
	cJSON *j = cJSON_Parse(s);

	(void)state;
	assert_non_null(j);
	assert_int_equal(cJSON_GetArraySize(path(j, "Cmd", NULL)), 3);
	assert_string_equal(cJSON_GetArrayItem(path(j, "Cmd", NULL), 2)->valuestring, "python3 migrate.py");
	assert_string_equal(cJSON_GetArrayItem(path(j, "Env", NULL), 0)->valuestring, "PGDATABASE=test_db_template");
	assert_string_equal(path(j, "WorkingDir", NULL)->valuestring, "/src");
	assert_string_equal(path(j, "User", NULL)->valuestring, "1000:1000");
	/* Its output on the start call's stream, framed: no TTY, no stdin. */
	assert_true(cJSON_IsTrue(path(j, "AttachStdout", NULL)));
	assert_true(cJSON_IsTrue(path(j, "AttachStderr", NULL)));
	assert_true(cJSON_IsFalse(path(j, "AttachStdin", NULL)));
	assert_true(cJSON_IsFalse(path(j, "Tty", NULL)));
	cJSON_Delete(j);
	free(s);
	/* Nothing but the command: the container's user, directory, env. */
	spec = (struct docker_exec_spec){ .cmd = cmd };
	s = docker_json_exec_body(&spec);
	j = cJSON_Parse(s);
	assert_null(path(j, "Env", NULL));
	assert_null(path(j, "User", NULL));
	assert_null(path(j, "WorkingDir", NULL));
	cJSON_Delete(j);
	free(s);
}

static void
test_label_filter(void **state)
{
	char *s = docker_json_label_filter("xdock.run=a\"b");

	(void)state;
	assert_string_equal(s, "{\"label\":[\"xdock.run=a\\\"b\"]}");
	free(s);
}

/* An address with this engine's own TLS settings (docker context's
 * words), and the mistakes said in one line. */
static void
test_endpoint(void **state)
{
	struct docker_endpoint ep;
	struct error *err = NULL;
	const char *bad[] = {
		"unix:///s.sock,certs=/c",         /* TLS settings on a socket */
		"tcp://h:2376,cert=/c",            /* a setting it does not know */
		"tcp://h:2376,skip-tls-verify=yes",
		"tcp://h:2376,certs=",
		"tcp://h:2376,",                   /* a comma and nothing */
		"tcp://h:2376,skip-tls-verify=false",
	};

	(void)state;
	assert_int_equal(docker_endpoint_parse("tcp://h:2376", &ep, &err), 0);
	assert_string_equal(ep.addr, "tcp://h:2376");
	assert_false(ep.own_tls);
	assert_null(ep.certs);
	docker_endpoint_release(&ep);
	assert_int_equal(docker_endpoint_parse("unix:///var/run/docker.sock", &ep, &err), 0);
	assert_string_equal(ep.addr, "unix:///var/run/docker.sock");
	assert_false(ep.own_tls);
	docker_endpoint_release(&ep);
	assert_int_equal(docker_endpoint_parse("tcp://h:2376,certs=/etc/xdock/h", &ep, &err), 0);
	assert_string_equal(ep.addr, "tcp://h:2376");
	assert_true(ep.own_tls);
	assert_string_equal(ep.certs, "/etc/xdock/h");
	assert_false(ep.skip_verify);
	docker_endpoint_release(&ep);
	assert_int_equal(docker_endpoint_parse("tcp://[::1]:2376,skip-tls-verify=true,certs=~/h", &ep, &err), 0);
	assert_string_equal(ep.addr, "tcp://[::1]:2376");
	assert_true(ep.own_tls);
	assert_true(ep.skip_verify);
	assert_string_equal(ep.certs, "~/h");
	docker_endpoint_release(&ep);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(docker_endpoint_parse(bad[i], &ep, &err), -1);
		assert_non_null(err);
		assert_int_equal(err->status, EXIT_USAGE);
		assert_null(strchr(err->msg, '\n'));
		assert_non_null(strstr(err->msg, bad[i]));
		assert_null(ep.addr);
		error_free(err);
		err = NULL;
	}
}

/* The client a setting makes (docker_clone parses without a ping): an
 * engine's certs= wins over DOCKER_CERT_PATH and DOCKER_TLS_VERIFY, an
 * engine without one keeps them. */
static void
test_endpoint_client(void **state)
{
	char dir[] = "/tmp/xdock-test-certs.XXXXXX";
	char *host = NULL, *want = NULL;
	struct docker src;
	struct docker *c;
	struct error *err = NULL;
	const char *pem[] = { "ca.pem", "cert.pem", "key.pem" };

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < 3; i++) {
		char *p;
		FILE *f;

		assert_true(asprintf(&p, "%s/%s", dir, pem[i]) > 0);
		f = fopen(p, "w");
		assert_non_null(f);
		fclose(f);
		free(p);
	}
	setenv("DOCKER_CERT_PATH", "/nonexistent-xdock-certs", 1);
	unsetenv("DOCKER_TLS_VERIFY");
	unsetenv("DOCKER_TLS");
	memset(&src, 0, sizeof(src));
	assert_true(asprintf(&host, "tcp://127.0.0.1:9,certs=%s", dir) > 0);
	src.host = host;
	c = docker_clone(&src, &err);
	assert_non_null(c);
	assert_true(c->tls);
	assert_true(c->tls_verify);
	assert_string_equal(c->base_url, "https://127.0.0.1:9");
	assert_true(asprintf(&want, "%s/ca.pem", dir) > 0);
	assert_non_null(c->ca);
	assert_string_equal(c->ca, want);
	assert_non_null(c->cert);
	assert_non_null(c->key);
	docker_free(c);
	free(host);
	free(want);
	/* Without settings of its own the variables decide: no TLS here. */
	src.host = (char *)"tcp://127.0.0.1:9";
	c = docker_clone(&src, &err);
	assert_non_null(c);
	assert_false(c->tls);
	assert_string_equal(c->base_url, "http://127.0.0.1:9");
	docker_free(c);
	src.host = (char *)"tcp://127.0.0.1:9,skip-tls-verify=true";
	setenv("DOCKER_TLS_VERIFY", "1", 1);
	c = docker_clone(&src, &err);
	assert_non_null(c);
	assert_true(c->tls);
	assert_false(c->tls_verify);
	docker_free(c);
	unsetenv("DOCKER_TLS_VERIFY");
	src.host = (char *)"tcp://127.0.0.1:9,certs=/nonexistent-xdock-certs";
	assert_null(docker_clone(&src, &err));
	assert_non_null(strstr(err->msg, "certs=/nonexistent-xdock-certs is no directory"));
	error_free(err);
	unsetenv("DOCKER_CERT_PATH");
	{
		char cmd[100];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inspect_running),
		cmocka_unit_test(test_inspect_exited),
		cmocka_unit_test(test_inspect_oom),
		cmocka_unit_test(test_inspect_start_error),
		cmocka_unit_test(test_inspect_garbage),
		cmocka_unit_test(test_list_containers),
		cmocka_unit_test(test_list_networks),
		cmocka_unit_test(test_list_volumes),
		cmocka_unit_test(test_list_wrong_shape),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_create_body),
		cmocka_unit_test(test_exec_state),
		cmocka_unit_test(test_exec_tail),
		cmocka_unit_test(test_exec_body),
		cmocka_unit_test(test_label_filter),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_endpoint_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
