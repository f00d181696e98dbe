/* The Docker client against the real engine: containers with the attach
 * channel, networks, errors a user will meet. Everything created carries
 * xdock.run=it-docker-<pid>; the group teardown removes whatever carries it
 * (whichever test failed) and checks that nothing is left. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "docker.h"
#include "frame.h"

#define IMAGE "xdock/python:bookworm"

struct fixture {
	struct docker *dk;
	char label[96];      /* xdock.run=it-docker-<pid> */
	char name[64];       /* it-docker-<pid>, prefix of object names */
};

/* r < 0 fails the test with the message of err, at the caller's line. The
 * call is made before err is read (argument order is unspecified). */
#define check_ok(r, err)                              \
	do {                                          \
		int r_ = (r);                         \
		check_ok_at(r_, (err), __LINE__);     \
	} while (0)
static void
check_ok_at(int r, struct error *err, int line)
{
	if (r < 0)
		fail_msg("line %d: %s", line, err ? err->msg : "(no error set)");
	assert_null(err);
}

static int
group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct error *err = NULL;
	bool exists = false;

	if (!f)
		return -1;
	snprintf(f->name, sizeof(f->name), "it-docker-%d", (int)getpid());
	snprintf(f->label, sizeof(f->label), "xdock.run=%s", f->name);
	f->dk = docker_new(NULL, NULL, &err);
	if (!f->dk) {
		fprintf(stderr, "%s\n", err->msg);
		error_free(err);
		free(f);
		return -1;
	}
	/* images/build may still be running on a fresh machine. */
	for (int i = 0; i < 300; i++) {
		if (docker_image_exists(f->dk, IMAGE, &exists, &err) < 0) {
			fprintf(stderr, "%s\n", err->msg);
			error_free(err);
			return -1;
		}
		if (exists)
			break;
		if (i == 0)
			fprintf(stderr, "waiting for image %s\n", IMAGE);
		sleep(1);
	}
	if (!exists) {
		fprintf(stderr, "image %s does not exist: run images/build\n", IMAGE);
		return -1;
	}
	*state = f;
	return 0;
}

static int
remove_container(struct docker *dk, const char *id, struct error **err)
{
	return docker_container_remove(dk, id, true, err);
}

/* What a test may leave, each kind listed and removed by label. */
static const struct {
	int (*list)(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out,
		    struct error **err);
	int (*remove)(struct docker *dk, const char *id, struct error **err);
} kinds[] = {
	{ docker_container_list, remove_container },
	{ docker_network_list, docker_network_remove },
	{ docker_volume_list, docker_volume_remove },
};

/* Removes everything with our label; returns how many objects remain. */
static size_t
sweep(struct fixture *f)
{
	struct docker_list l;
	struct error *err = NULL;
	size_t left = 0;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (kinds[k].list(f->dk, f->label, NULL, &l, &err) != 0)
			continue;
		for (size_t i = 0; i < l.n; i++) {
			if (kinds[k].remove(f->dk, l.items[i].id, &err) < 0) {
				fprintf(stderr, "sweep: %s\n", err->msg);
				error_free(err);
				err = NULL;
			}
		}
		docker_list_release(&l);
	}
	if (err) {
		fprintf(stderr, "sweep: %s\n", err->msg);
		error_free(err);
		return 1;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (kinds[k].list(f->dk, f->label, NULL, &l, &err) == 0) {
			left += l.n;
			docker_list_release(&l);
		}
	}
	if (err) {
		error_free(err);
		left++;
	}
	return left;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;
	size_t left = sweep(f);

	if (left)
		fprintf(stderr, "%zu objects with %s are left\n", left, f->label);
	docker_free(f->dk);
	free(f);
	return left ? -1 : 0;
}

/* What came out of an attach stream, per frame stream. */
struct output {
	struct frame_demux demux;
	struct buf s[3];
	bool eof;
};

static void
output_init(struct output *o)
{
	frame_demux_init(&o->demux);
	for (int i = 0; i < 3; i++)
		buf_init(&o->s[i], 1 << 20);
	o->eof = false;
}

static void
output_release(struct output *o)
{
	for (int i = 0; i < 3; i++)
		buf_release(&o->s[i]);
}

static int
output_cb(void *ctx, enum frame_stream stream, const char *data, size_t len)
{
	struct output *o = ctx;

	return buf_append(&o->s[stream], data, len);
}

/* Reads until stdout holds `want` (NULL: until EOF) or 20 s pass, the way
 * the event loop will: poll, then recv until it would block. */
static void
read_until(struct docker_attach *a, struct output *o, const char *want)
{
	int64_t deadline = util_now_ms() + 20000;
	char chunk[1000];

	for (;;) {
		struct pollfd p = { .fd = docker_attach_fd(a), .events = POLLIN };
		int64_t left = deadline - util_now_ms();
		ssize_t n;

		if (want && o->s[1].len >= strlen(want))
			break;
		if (!want && o->eof)
			break;
		if (left <= 0)
			fail_msg("timed out; stdout so far: \"%s\"", o->s[1].data ? o->s[1].data : "");
		do {
			struct error *err = NULL;

			n = docker_attach_recv(a, chunk, sizeof(chunk), &o->eof, &err);
			check_ok(n < 0 ? -1 : 0, err);
			if (n > 0)
				assert_int_equal(frame_demux_feed(&o->demux, chunk, (size_t)n, output_cb, o), 0);
		} while (n > 0);
		if (o->eof) {
			if (want)
				fail_msg("EOF; stdout so far: \"%s\"", o->s[1].data ? o->s[1].data : "");
			continue;
		}
		if (!(want && o->s[1].len >= strlen(want)))
			assert_true(poll(&p, 1, (int)left) >= 0);
	}
	if (want)
		assert_string_equal(o->s[1].data, want);
}

static void
send_all(struct docker_attach *a, const char *s)
{
	size_t len = strlen(s);
	int64_t deadline = util_now_ms() + 10000;

	while (len) {
		struct error *err = NULL;
		ssize_t n = docker_attach_send(a, s, len, &err);

		check_ok(n < 0 ? -1 : 0, err);
		s += n;
		len -= (size_t)n;
		assert_true(util_now_ms() < deadline);
		if (n == 0) {
			struct pollfd p = { .fd = docker_attach_fd(a), .events = POLLOUT };

			poll(&p, 1, 100);
		}
	}
}

static char *
create(struct fixture *f, const char *suffix, const char *const *cmd, bool open_stdin, const char *network)
{
	const char *const labels[] = { f->label, "xdock.role=it", NULL };
	const char *const tmpfs[] = { "/tmp", NULL };
	char name[128];
	struct docker_container_spec spec = {
		.name = name,
		.image = IMAGE,
		.cmd = cmd,
		.labels = labels,
		.tmpfs = tmpfs,
		.network = network,
		.open_stdin = open_stdin,
		.cap_drop_all = true,
		.memory = 256 << 20,
		.nano_cpus = 1000000000,
		.pids_limit = 64,
	};
	struct error *err = NULL;
	char *id = NULL;

	snprintf(name, sizeof(name), "%s-%s", f->name, suffix);
	check_ok(docker_container_create(f->dk, &spec, &id, &err), err);
	assert_int_equal(strlen(id), 64);
	return id;
}

static void
test_engine(void **state)
{
	struct fixture *f = *state;
	const char *env = getenv("DOCKER_HOST");
	const char *v = docker_api_version(f->dk);
	struct error *err = NULL;
	int major = 0, minor = 0, ncpu = 0;

	assert_string_equal(docker_host(f->dk), env && *env ? env : "unix:///var/run/docker.sock");
	assert_int_equal(sscanf(v, "%d.%d", &major, &minor), 2);
	assert_int_equal(major, 1);
	assert_true(minor >= 25);
	assert_true(docker_is_local(f->dk) == (strncmp(docker_host(f->dk), "unix://", 7) == 0));
	check_ok(docker_info_ncpu(f->dk, &ncpu, &err), err);
	assert_true(ncpu >= 1);
}

static void
test_attach_cat(void **state)
{
	struct fixture *f = *state;
	const char *const cmd[] = { "cat", NULL };
	char *id = create(f, "cat", cmd, true, "none");
	struct docker_container_state st;
	struct docker_attach *a;
	struct error *err = NULL;
	struct output o;
	char *logs = NULL;
	int status = -1;

	/* Attach before start, so no output is lost. */
	a = docker_attach_open(f->dk, id, &err);
	if (!a)
		fail_msg("%s", err->msg);
	assert_true(docker_attach_fd(a) >= 0);
	check_ok(docker_container_start(f->dk, id, &err), err);
	/* Starting twice is not an error (304). */
	check_ok(docker_container_start(f->dk, id, &err), err);
	check_ok(docker_container_inspect(f->dk, id, NULL, &st, &err), err);
	assert_true(st.running);
	assert_string_equal(st.status, "running");

	output_init(&o);
	send_all(a, "hello\n");
	read_until(a, &o, "hello\n");
	send_all(a, "world\n");
	read_until(a, &o, "hello\nworld\n");
	assert_int_equal(o.s[2].len, 0);

	check_ok(docker_container_kill(f->dk, id, "SIGKILL", &err), err);
	check_ok(docker_container_wait(f->dk, id, 60000, &status, &err), err);
	assert_int_equal(status, 137);
	/* Killing what no longer runs is not an error. */
	check_ok(docker_container_kill(f->dk, id, NULL, &err), err);
	check_ok(docker_container_inspect(f->dk, id, NULL, &st, &err), err);
	assert_false(st.running);
	assert_false(st.oom_killed);
	assert_int_equal(st.exit_code, 137);
	assert_string_equal(st.status, "exited");
	/* The stream ends with the container. */
	read_until(a, &o, NULL);
	assert_true(o.eof);
	docker_attach_free(a);

	check_ok(docker_container_logs(f->dk, id, 1 << 20, &logs, &err), err);
	assert_string_equal(logs, "hello\nworld\n");
	free(logs);
	/* Only the tail is kept. */
	check_ok(docker_container_logs(f->dk, id, 4, &logs, &err), err);
	assert_string_equal(logs, "rld\n");
	free(logs);

	check_ok(docker_container_remove(f->dk, id, true, &err), err);
	/* Already gone: still fine. */
	check_ok(docker_container_remove(f->dk, id, true, &err), err);
	assert_int_equal(docker_container_inspect(f->dk, id, NULL, &st, &err), -1);
	assert_non_null(strstr(err->msg, "404"));
	assert_non_null(strcasestr(err->msg, "no such container")); /* Docker and Podman word it differently */
	error_free(err);
	output_release(&o);
	free(id);
}

/* StdinOnce: when the orchestrator lets go of the stream, the container
 * sees EOF on stdin; cat then exits 0. */
static void
test_detach_is_eof(void **state)
{
	struct fixture *f = *state;
	const char *const cmd[] = { "cat", NULL };
	char *id = create(f, "eof", cmd, true, "none");
	struct error *err = NULL;
	struct docker_attach *a;
	struct output o;
	int status = -1;

	a = docker_attach_open(f->dk, id, &err);
	if (!a)
		fail_msg("%s", err->msg);
	check_ok(docker_container_start(f->dk, id, &err), err);
	output_init(&o);
	send_all(a, "x\n");
	read_until(a, &o, "x\n");
	docker_attach_free(a);
	check_ok(docker_container_wait(f->dk, id, 60000, &status, &err), err);
	assert_int_equal(status, 0);
	check_ok(docker_container_remove(f->dk, id, false, &err), err);
	output_release(&o);
	free(id);
}

static void
test_stderr_and_exit_code(void **state)
{
	struct fixture *f = *state;
	const char *const cmd[] = { "sh", "-c", "echo out; echo err >&2; exit 7", NULL };
	char *id = create(f, "sh", cmd, true, "none");
	struct docker_container_state st;
	struct error *err = NULL;
	struct docker_attach *a;
	struct output o;
	int status = -1;

	a = docker_attach_open(f->dk, id, &err);
	if (!a)
		fail_msg("%s", err->msg);
	check_ok(docker_container_start(f->dk, id, &err), err);
	output_init(&o);
	read_until(a, &o, NULL);
	assert_string_equal(o.s[1].data, "out\n");
	assert_string_equal(o.s[2].data, "err\n");
	docker_attach_free(a);
	check_ok(docker_container_wait(f->dk, id, 60000, &status, &err), err);
	assert_int_equal(status, 7);
	check_ok(docker_container_inspect(f->dk, id, NULL, &st, &err), err);
	assert_int_equal(st.exit_code, 7);
	check_ok(docker_container_remove(f->dk, id, false, &err), err);
	output_release(&o);
	free(id);
}

static void
test_publish(void **state)
{
	struct fixture *f = *state;
	const char *const cmd[] = { "sleep", "60", NULL };
	const char *const labels[] = { f->label, NULL };
	char name[128];
	struct docker_container_spec spec = {
		.name = name,
		.image = IMAGE,
		.cmd = cmd,
		.labels = labels,
		.publish_tcp = "5432/tcp",
	};
	struct docker_container_state st;
	struct error *err = NULL;
	char *id = NULL;

	snprintf(name, sizeof(name), "%s-port", f->name);
	check_ok(docker_container_create(f->dk, &spec, &id, &err), err);
	check_ok(docker_container_inspect(f->dk, id, "5432/tcp", &st, &err), err);
	assert_int_equal(st.host_port, 0);
	check_ok(docker_container_start(f->dk, id, &err), err);
	check_ok(docker_container_inspect(f->dk, id, "5432/tcp", &st, &err), err);
	assert_true(st.host_port > 0 && st.host_port < 65536);
	check_ok(docker_container_remove(f->dk, id, true, &err), err);
	free(id);
}

static void
test_network(void **state)
{
	struct fixture *f = *state;
	const char *const labels[] = { f->label, "xdock.role=it-net", NULL };
	const char *const aliases[] = { "db", NULL };
	const char *const cmd[] = { "true", NULL };
	char name[128], *id = NULL, *cid = NULL;
	struct error *err = NULL;
	struct docker_list l;
	bool found = false;

	snprintf(name, sizeof(name), "%s-net", f->name);
	check_ok(docker_network_create(f->dk, name, labels, &id, &err), err);
	assert_int_equal(strlen(id), 64);
	check_ok(docker_network_list(f->dk, f->label, "xdock.role", &l, &err), err);
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.items[i].id, id) == 0) {
			found = true;
			assert_string_equal(l.items[i].name, name);
			assert_string_equal(l.items[i].label, "it-net");
		}
	}
	docker_list_release(&l);
	assert_true(found);
	/* A second network of the same name is refused. */
	assert_int_equal(docker_network_create(f->dk, name, labels, &cid, &err), -1);
	assert_non_null(strstr(err->msg, "409"));
	error_free(err);
	err = NULL;

	/* On the default bridge: a container in "none" cannot join more. */
	cid = create(f, "netc", cmd, false, NULL);
	check_ok(docker_network_connect(f->dk, name, cid, aliases, &err), err);
	check_ok(docker_network_disconnect(f->dk, name, cid, &err), err);
	check_ok(docker_container_remove(f->dk, cid, true, &err), err);

	check_ok(docker_network_remove(f->dk, id, &err), err);
	check_ok(docker_network_remove(f->dk, id, &err), err);
	check_ok(docker_network_list(f->dk, f->label, NULL, &l, &err), err);
	assert_int_equal(l.n, 0);
	docker_list_release(&l);
	free(id);
	free(cid);
}

/* A container on a user network with aliases, created in one call. */
static void
test_create_on_network(void **state)
{
	struct fixture *f = *state;
	const char *const labels[] = { f->label, NULL };
	const char *const aliases[] = { "worker0", NULL };
	const char *const cmd[] = { "getent", "hosts", "worker0", NULL };
	char net[128], name[128], *nid = NULL, *id = NULL;
	struct docker_container_spec spec = {
		.name = name,
		.image = IMAGE,
		.cmd = cmd,
		.labels = labels,
		.network = net,
		.aliases = aliases,
	};
	struct error *err = NULL;
	int status = -1;

	snprintf(net, sizeof(net), "%s-net2", f->name);
	snprintf(name, sizeof(name), "%s-alias", f->name);
	check_ok(docker_network_create(f->dk, net, labels, &nid, &err), err);
	check_ok(docker_container_create(f->dk, &spec, &id, &err), err);
	check_ok(docker_container_start(f->dk, id, &err), err);
	check_ok(docker_container_wait(f->dk, id, 60000, &status, &err), err);
	/* The alias resolves inside the container. */
	assert_int_equal(status, 0);
	check_ok(docker_container_remove(f->dk, id, true, &err), err);
	check_ok(docker_network_remove(f->dk, nid, &err), err);
	free(id);
	free(nid);
}

static void
test_unknown_image(void **state)
{
	struct fixture *f = *state;
	const char *const labels[] = { f->label, NULL };
	char image[128];
	struct docker_container_spec spec = { .image = image, .labels = labels };
	struct error *err = NULL;
	bool exists = true;
	char *id = NULL;

	snprintf(image, sizeof(image), "xdock/%s:nope", f->name);
	check_ok(docker_image_exists(f->dk, image, &exists, &err), err);
	assert_false(exists);
	check_ok(docker_image_exists(f->dk, IMAGE, &exists, &err), err);
	assert_true(exists);
	assert_int_equal(docker_container_create(f->dk, &spec, &id, &err), -1);
	assert_null(id);
	assert_non_null(err);
	assert_int_equal(err->status, EXIT_USAGE);
	assert_non_null(strstr(err->msg, "No such image"));
	assert_non_null(strstr(err->msg, image));
	assert_non_null(strstr(err->msg, "images/build"));
	error_free(err);
}

static void
test_attach_missing(void **state)
{
	struct fixture *f = *state;
	struct error *err = NULL;
	char name[128];

	snprintf(name, sizeof(name), "%s-none", f->name);
	assert_null(docker_attach_open(f->dk, name, &err));
	assert_non_null(err);
	assert_non_null(strcasestr(err->msg, "no such container")); /* Docker and Podman word it differently */
	error_free(err);
}

static void
test_unreachable(void **state)
{
	static const char *const hosts[] = { "tcp://127.0.0.1:1", "unix:///nonexistent/docker.sock" };
	struct error *err = NULL;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		int64_t t0 = util_now_ms();

		assert_null(docker_new(hosts[i], NULL, &err));
		assert_non_null(err);
		assert_int_equal(err->status, EXIT_INTERNAL);
		assert_non_null(strstr(err->msg, hosts[i]));
		assert_non_null(strstr(err->msg, "is dockerd running?"));
		assert_null(strchr(err->msg, '\n'));
		/* Refused at once, not after a timeout. */
		assert_true(util_now_ms() - t0 < 5000);
		error_free(err);
		err = NULL;
	}
	assert_null(docker_new("ssh://somewhere", NULL, &err));
	assert_int_equal(err->status, EXIT_USAGE);
	error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine),
		cmocka_unit_test(test_attach_cat),
		cmocka_unit_test(test_detach_is_eof),
		cmocka_unit_test(test_stderr_and_exit_code),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_network),
		cmocka_unit_test(test_create_on_network),
		cmocka_unit_test(test_unknown_image),
		cmocka_unit_test(test_attach_missing),
		cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
