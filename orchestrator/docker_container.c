/* The container endpoints of the Docker client: create, start, wait, kill,
 * remove, inspect, logs. One call is docker_call.c's. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "docker_priv.h"
#include "frame.h"

int
docker_container_create(struct docker *dk, const struct docker_container_spec *spec, char **id, struct error **err)
{
	cleanup_free char *body = NULL;
	cleanup_free char *path = NULL;
	cleanup_free char *name = NULL;
	struct docker_call c;
	int r = 0;

	if (!spec->image || !*spec->image)
		return error_set(err, EXIT_USAGE, "docker: create: no image");
	body = docker_json_create_body(spec);
	if (spec->name) {
		name = docker_escape(dk, spec->name);
		path = xasprintf("/containers/create?name=%s", name);
	} else {
		path = xstrdup("/containers/create");
	}
	docker_call_init(&c, dk, DOCKER_TIMEOUT_SLOW_MS);
	if (docker_call_do(&c, "POST", path, true, body, err) < 0) {
		r = -1;
	} else if (c.status == 404) {
		/* The only 404 of create is a missing image (a missing network
		 * is a 404 too, but at start): the user's fix is a build. */
		cleanup_free char *msg = docker_json_message(c.body.data, c.body.len);
		bool image = msg && strncasecmp(msg, "no such image", 13) == 0;

		/* Named as the user wrote it: Podman's message names the
		 * fully qualified reference it tried ("docker.io/..."). */
		if (image)
			r = error_set(err, EXIT_USAGE, "docker: No such image: %s (%s)", spec->image, DOCKER_HINT_IMAGE);
		else
			r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	} else if (!docker_call_ok(&c)) {
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	} else {
		r = docker_json_string(c.body.data, c.body.len, "Id", "create", id, err);
	}
	docker_call_release(&c);
	return r;
}

int
docker_container_start(struct docker *dk, const char *id, struct error **err)
{
	cleanup_free char *path = NULL;

	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s/start", id);
	/* 304: already started, which is what was asked. */
	return docker_simple(dk, "POST", path, NULL, 304, DOCKER_TIMEOUT_SLOW_MS, NULL, err);
}

int
docker_container_wait(struct docker *dk, const char *id, long timeout_ms, int *status, struct error **err)
{
	cleanup_free char *path = NULL;
	struct docker_call c;
	int64_t code = 0;
	int r = 0;

	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s/wait", id);
	docker_call_init(&c, dk, timeout_ms);
	/* 1: the container outlived the limit, the caller's to judge. */
	r = docker_call_wait(&c, "POST", path, NULL, err);
	if (r == 0 && !docker_call_ok(&c))
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	else if (r == 0 && docker_json_int(c.body.data, c.body.len, "StatusCode", "wait", &code, err) < 0)
		r = -1;
	else if (r == 0 && (code < -1 || code > 255))
		r = error_set(err, EXIT_INTERNAL, "docker: wait: exit code %lld", (long long)code);
	else if (r == 0)
		*status = (int)code;
	docker_call_release(&c);
	return r;
}

int
docker_container_kill(struct docker *dk, const char *id, const char *signal, struct error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *sig = NULL;

	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	sig = docker_escape(dk, signal ? signal : "SIGKILL");
	path = xasprintf("/containers/%s/kill?signal=%s", id, sig);
	/* 409: not running. Killing races with the container exiting by
	 * itself; either way it is not running afterwards. */
	return docker_simple(dk, "POST", path, NULL, 409, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}

int
docker_container_remove(struct docker *dk, const char *id, bool force, struct error **err)
{
	cleanup_free char *path = NULL;

	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s?v=1&force=%d", id, force ? 1 : 0);
	/* Podman (4.3) fails a forced removal of a container that stops at
	 * that moment (500: "could not be stopped ... container state
	 * improper"); the same call a moment later removes it. */
	for (int tries = 1;; tries++) {
		struct error *e = NULL;

		if (docker_simple(dk, "DELETE", path, NULL, 404, DOCKER_TIMEOUT_SLOW_MS, NULL, &e) == 0)
			return 0;
		if (!force || tries == 3 || !strstr(e->msg, "state improper")) {
			if (*err)
				error_free(e);
			else
				*err = e;
			return -1;
		}
		error_free(e);
		poll(NULL, 0, 100 * tries);
	}
}

int
docker_container_inspect(struct docker *dk, const char *id, const char *port, struct docker_container_state *st,
			 struct error **err)
{
	cleanup_free char *path = NULL;
	struct buf reply;
	int r;

	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s/json", id);
	buf_init(&reply, DOCKER_REPLY_MAX);
	r = docker_simple(dk, "GET", path, NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_parse_inspect(reply.data, reply.len, port, st, err);
	buf_release(&reply);
	return r;
}

/* Frames through the demultiplexer into a buffer that keeps the last
 * `max` bytes. The buffer may hold up to 2*max so the front is cut once
 * per max bytes, not on every piece. */
static int
tail_sink_cb(void *ctx, enum frame_stream stream, const char *data, size_t len)
{
	struct docker_tail *t = ctx;

	(void)stream;
	if (len > t->max) {
		data += len - t->max;
		len = t->max;
	}
	if (t->out.len + len > 2 * t->max)
		buf_consume(&t->out, t->out.len + len - t->max);
	buf_append(&t->out, data, len);
	return 0;
}

void
docker_tail_init(struct docker_tail *t, size_t max)
{
	frame_demux_init(&t->demux);
	t->max = max ? max : 1;
	buf_init(&t->out, t->max > SIZE_MAX / 2 ? SIZE_MAX : 2 * t->max);
}

int
docker_tail_feed_cb(void *ctx, const char *data, size_t len)
{
	struct docker_tail *t = ctx;

	return frame_demux_feed(&t->demux, data, len, tail_sink_cb, t);
}

char *
docker_tail_steal(struct docker_tail *t)
{
	if (t->out.len > t->max)
		buf_consume(&t->out, t->out.len - t->max);
	return buf_steal(&t->out);
}

int
docker_container_logs(struct docker *dk, const char *id, size_t max, char **out, struct error **err)
{
	cleanup_free char *path = NULL;
	struct docker_tail t;
	struct docker_call c;
	int r = 0;

	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s/logs?stdout=1&stderr=1", id);
	docker_tail_init(&t, max);
	docker_call_init(&c, dk, DOCKER_TIMEOUT_SLOW_MS);
	c.sink = docker_tail_feed_cb;
	c.ctx = &t;
	if (docker_call_do(&c, "GET", path, true, NULL, err) < 0)
		r = -1;
	else if (!docker_call_ok(&c))
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	docker_call_release(&c);
	if (r < 0) {
		buf_release(&t.out);
		return r;
	}
	*out = docker_tail_steal(&t);
	return 0;
}
