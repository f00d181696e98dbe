/* Images, networks and volumes, and the label-filtered listings gc and
 * the run use to find what is theirs. One call is docker_call.c's. */
#include <stdio.h>
#include <string.h>

#include "docker_priv.h"

int
docker_info_ncpu(struct docker *dk, int *ncpu, struct error **err)
{
	struct buf reply;
	int64_t n = 0;
	int r;

	buf_init(&reply, DOCKER_REPLY_MAX);
	r = docker_simple(dk, "GET", "/info", NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_json_int(reply.data, reply.len, "NCPU", "info", &n, err);
	buf_release(&reply);
	if (r < 0)
		return r;
	if (n < 1 || n > 1 << 20)
		return error_set(err, EXIT_INTERNAL, "docker: info: NCPU %lld", (long long)n);
	*ncpu = (int)n;
	return 0;
}

int
docker_image_exists(struct docker *dk, const char *image, bool *exists, struct error **err)
{
	cleanup_free char *path = NULL;
	struct docker_call c;
	int r = 0;

	if (docker_check_ref("image", image, err) < 0)
		return -1;
	path = xasprintf("/images/%s/json", image);
	docker_call_init(&c, dk, DOCKER_TIMEOUT_QUICK_MS);
	if (docker_call_do(&c, "GET", path, true, NULL, err) < 0)
		r = -1;
	else if (docker_call_ok(&c))
		*exists = true;
	else if (c.status == 404)
		*exists = false;
	else
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	docker_call_release(&c);
	return r;
}

int
docker_image_id(struct docker *dk, const char *image, char **id, struct error **err)
{
	cleanup_free char *path = NULL;
	struct buf reply;
	int r;

	if (docker_check_ref("image", image, err) < 0)
		return -1;
	path = xasprintf("/images/%s/json", image);
	buf_init(&reply, DOCKER_REPLY_MAX);
	r = docker_simple(dk, "GET", path, NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_json_string(reply.data, reply.len, "Id", "image inspect", id, err);
	buf_release(&reply);
	return r;
}

int
docker_network_create(struct docker *dk, const char *name, const char *const *labels, char **id, struct error **err)
{
	cleanup_free char *body = docker_json_network_create_body(name, labels);
	struct buf reply;
	int r;

	buf_init(&reply, DOCKER_REPLY_MAX);
	r = docker_simple(dk, "POST", "/networks/create", body, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_json_string(reply.data, reply.len, "Id", "network create", id, err);
	buf_release(&reply);
	return r;
}

int
docker_network_remove(struct docker *dk, const char *id, struct error **err)
{
	cleanup_free char *path = NULL;

	if (docker_check_ref("network", id, err) < 0)
		return -1;
	path = xasprintf("/networks/%s", id);
	return docker_simple(dk, "DELETE", path, NULL, 404, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}

int
docker_network_connect(struct docker *dk, const char *net, const char *container, const char *const *aliases,
		       struct error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *body = NULL;

	if (docker_check_ref("network", net, err) < 0)
		return -1;
	path = xasprintf("/networks/%s/connect", net);
	body = docker_json_network_connect_body(container, aliases);
	return docker_simple(dk, "POST", path, body, 0, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}

int
docker_network_disconnect(struct docker *dk, const char *net, const char *container, struct error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *body = NULL;

	if (docker_check_ref("network", net, err) < 0)
		return -1;
	path = xasprintf("/networks/%s/disconnect", net);
	body = docker_json_network_disconnect_body(container);
	return docker_simple(dk, "POST", path, body, 0, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}

static int
list(struct docker *dk, const char *kind, const char *what, const char *filter_label, const char *want_label,
     struct docker_list *out, struct error **err)
{
	cleanup_free char *filter = NULL;
	cleanup_free char *escaped = NULL;
	cleanup_free char *path = NULL;
	struct buf reply;
	int r;

	out->items = NULL;
	out->n = 0;
	if (filter_label) {
		filter = docker_json_label_filter(filter_label);
		escaped = docker_escape(dk, filter);
	}
	if (escaped)
		path = xasprintf("/%s%sfilters=%s", what, strchr(what, '?') ? "&" : "?", escaped);
	else
		path = xasprintf("/%s", what);
	buf_init(&reply, DOCKER_REPLY_MAX);
	r = docker_simple(dk, "GET", path, NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_parse_list(reply.data, reply.len, kind, want_label, out, err);
	buf_release(&reply);
	return r;
}

int
docker_container_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out,
		      struct error **err)
{
	return list(dk, "containers", "containers/json?all=1", filter_label, want_label, out, err);
}

int
docker_network_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out,
		    struct error **err)
{
	return list(dk, "networks", "networks", filter_label, want_label, out, err);
}

int
docker_volume_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out,
		   struct error **err)
{
	return list(dk, "volumes", "volumes", filter_label, want_label, out, err);
}

int
docker_volume_remove(struct docker *dk, const char *name, struct error **err)
{
	cleanup_free char *path = NULL;

	if (docker_check_ref("volume", name, err) < 0)
		return -1;
	path = xasprintf("/volumes/%s", name);
	/* Already gone is what was asked, as for containers and networks. */
	return docker_simple(dk, "DELETE", path, NULL, 404, DOCKER_TIMEOUT_SLOW_MS, NULL, err);
}

int
docker_volume_create(struct docker *dk, const char *name, const char *const *labels, struct error **err)
{
	cleanup_free char *body = NULL;

	if (docker_check_ref("volume", name, err) < 0)
		return -1;
	body = docker_json_volume_create_body(name, labels);
	return docker_simple(dk, "POST", "/volumes/create", body, 0, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}
