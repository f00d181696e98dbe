/* The Docker client's streamed endpoints: archives into and out of a
 * container, images out of one engine's store and into another's. Bodies
 * go through the caller's callbacks a piece at a time; nothing here holds
 * one whole. */
#include <stdio.h>
#include <string.h>

#include "docker_priv.h"

/* Whole-call limit of a stream: a large image or tree over a slow link
 * takes minutes, but an engine that stalls must still fail the call. */
#define DOCKER_TIMEOUT_STREAM_MS (30L * 60 * 1000)

/* A sink for the GET side, through docker_call's sink. */
static int
get_stream(struct docker *dk, const char *path, docker_sink_fn sink, void *ctx, bool missing_ok, struct error **err)
{
	struct docker_call c;
	int r = 0;

	docker_call_init(&c, dk, DOCKER_TIMEOUT_STREAM_MS);
	c.sink = sink;
	c.ctx = ctx;
	if (docker_call_do(&c, "GET", path, true, NULL, err) < 0)
		r = -1;
	else if (missing_ok && c.status == 404)
		r = 1;
	else if (!docker_call_ok(&c))
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	docker_call_release(&c);
	return r;
}

int
docker_container_put_archive(struct docker *dk, const char *id, const char *path, docker_source_fn src, void *ctx,
			     struct error **err)
{
	cleanup_free char *esc = NULL;
	cleanup_free char *url = NULL;
	struct docker_call c;
	int r = 0;

	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	esc = docker_escape(dk, path);
	/* copyUIDGID: the archive's owners, not root's: the run's user
	 * writes into what it was given, as in a bind-mounted project. */
	url = xasprintf("/containers/%s/archive?path=%s&copyUIDGID=1", id, esc);
	docker_call_init(&c, dk, DOCKER_TIMEOUT_STREAM_MS);
	c.source = src;
	c.source_ctx = ctx;
	c.content_type = "application/x-tar";
	if (docker_call_do(&c, "PUT", url, true, NULL, err) < 0)
		r = -1;
	else if (!docker_call_ok(&c))
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	docker_call_release(&c);
	return r;
}

int
docker_container_get_archive(struct docker *dk, const char *id, const char *path, docker_sink_fn sink, void *ctx,
			     struct error **err)
{
	cleanup_free char *esc = NULL;
	cleanup_free char *url = NULL;

	if (docker_check_ref("container id", id, err) < 0)
		return -1;
	esc = docker_escape(dk, path);
	url = xasprintf("/containers/%s/archive?path=%s", id, esc);
	return get_stream(dk, url, sink, ctx, true, err);
}

int
docker_image_save(struct docker *dk, const char *image, docker_sink_fn sink, void *ctx, struct error **err)
{
	cleanup_free char *url = NULL;

	if (docker_check_ref("image", image, err) < 0)
		return -1;
	url = xasprintf("/images/%s/get", image);
	return get_stream(dk, url, sink, ctx, false, err);
}

int
docker_image_load(struct docker *dk, docker_source_fn src, void *ctx, struct error **err)
{
	struct docker_call c;
	int r = 0;

	docker_call_init(&c, dk, DOCKER_TIMEOUT_STREAM_MS);
	c.source = src;
	c.source_ctx = ctx;
	c.content_type = "application/x-tar";
	if (docker_call_do(&c, "POST", "/images/load?quiet=1", true, NULL, err) < 0) {
		r = -1;
	} else if (!docker_call_ok(&c)) {
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	} else if (c.body.len && memmem(c.body.data, c.body.len, "\"errorDetail\"", 13)) {
		/* A load that fails half-way still answers 200: the error is
		 * in the progress stream. */
		cleanup_free char *line = xstrndup(c.body.data, c.body.len < 300 ? c.body.len : 300);

		for (char *p = line; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		r = error_set(err, EXIT_INTERNAL, "docker: image load: %s", line);
	}
	docker_call_release(&c);
	return r;
}
