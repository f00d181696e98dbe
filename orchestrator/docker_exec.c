/* A process run in a container that is already running: create the exec,
 * start it on a stream that ends when the process does, read its exit
 * code. Cheaper than a container of its own: nothing to create, no
 * namespace to set up, nothing to remove (docs/benchmarks.md). */
#include <poll.h>
#include <string.h>

#include "docker_priv.h"

/* The exec's state once its stream ended. The engine records the exit
 * code from the runtime's event, which may come a moment after the stream
 * closed: asked again for up to this long. */
#define EXEC_SETTLE_MS 2000
#define EXEC_SETTLE_STEP_MS 20

/* Creates the exec: its id, or NULL. */
static char *
exec_create(struct docker *dk, const char *id, const struct docker_exec_spec *spec, struct error **err)
{
	cleanup_free char *path = xasprintf("/containers/%s/exec", id);
	cleanup_free char *body = docker_json_exec_body(spec);
	struct docker_call c;
	char *exec_id = NULL;

	docker_call_init(&c, dk, DOCKER_TIMEOUT_SLOW_MS);
	if (docker_call_do(&c, "POST", path, true, body, err) < 0) {
		/* no reply: err says why */
	} else if (!docker_call_ok(&c)) {
		docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	} else if (docker_json_string(c.body.data, c.body.len, "Id", "exec", &exec_id, err) == 0 &&
		   docker_check_ref("exec id", exec_id, err) < 0) {
		free(steal_ptr(&exec_id));
	}
	docker_call_release(&c);
	return exec_id;
}

/* Starts the exec and reads its stream to the end: 0, 1 when timeout_ms
 * passed first, -1 on an error. */
static int
exec_stream(struct docker *dk, const char *exec_id, long timeout_ms, struct docker_tail *t, struct error **err)
{
	cleanup_free char *path = xasprintf("/exec/%s/start", exec_id);
	struct docker_call c;
	int r = 0;

	docker_call_init(&c, dk, timeout_ms);
	c.sink = docker_tail_feed_cb;
	c.ctx = t;
	r = docker_call_wait(&c, "POST", path, "{\"Detach\":false,\"Tty\":false}", err);
	if (r == 0 && !docker_call_ok(&c))
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	docker_call_release(&c);
	return r;
}

/* The exit code of an exec whose stream ended. */
static int
exec_status(struct docker *dk, const char *exec_id, int *status, struct error **err)
{
	cleanup_free char *path = xasprintf("/exec/%s/json", exec_id);

	for (int waited = 0;; waited += EXEC_SETTLE_STEP_MS) {
		struct buf reply;
		bool running = false;
		int r;

		buf_init(&reply, DOCKER_REPLY_MAX);
		r = docker_simple(dk, "GET", path, NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
		if (r == 0)
			r = docker_parse_exec(reply.data, reply.len, &running, status, err);
		buf_release(&reply);
		if (r < 0)
			return -1;
		if (!running && *status >= 0)
			return 0;
		if (waited >= EXEC_SETTLE_MS)
			return error_set(err, EXIT_INTERNAL, "docker: exec %.12s: its stream ended but the engine has %s",
					 exec_id, running ? "it still running" : "no exit code");
		poll(NULL, 0, EXEC_SETTLE_STEP_MS);
	}
}

int
docker_exec(struct docker *dk, const char *id, const struct docker_exec_spec *spec, long timeout_ms, size_t max,
	    int *status, char **tail, struct error **err)
{
	cleanup_free char *exec_id = NULL;
	struct docker_tail t;
	int r;

	*tail = NULL;
	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	exec_id = exec_create(dk, id, spec, err);
	if (!exec_id)
		return -1;
	docker_tail_init(&t, max);
	r = exec_stream(dk, exec_id, timeout_ms, &t, err);
	if (r == 0)
		r = exec_status(dk, exec_id, status, err);
	if (r < 0) {
		buf_release(&t.out);
		return -1;
	}
	*tail = docker_tail_steal(&t);
	return r;
}
