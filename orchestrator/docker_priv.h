/* Internals shared by the files of the Docker client: docker.c (where the
 * engine is, the API version, the client's life), docker_call.c (one REST
 * call), docker_container.c, docker_exec.c and docker_object.c (the endpoints),
 * docker_stream.c (archives and image tarballs, streamed), docker_attach.c
 * (the attach channel) and docker_json.c (request bodies and reply parsing
 * with cJSON). Other modules see docker.h only. No curl.h or cJSON.h here:
 * CURL is void in curl.h. */
#ifndef XDOCK_DOCKER_PRIV_H
#define XDOCK_DOCKER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "docker.h"
#include "frame.h"

/* Cap on any REST reply body (an inspect of a big container is ~10 KiB; a
 * listing of thousands of objects stays far below this). */
#define DOCKER_REPLY_MAX ((size_t)16 << 20)
/* Seconds allowed to connect to the engine (and for the attach handshake). */
#define DOCKER_CONNECT_TIMEOUT 10
/* Whole-call limits, by kind of call, so an engine that accepts the
 * connection and then never answers fails the call instead of hanging the
 * run. Reads and small changes (ping, inspect, list, kill, networks)
 * answer in milliseconds; creating, starting or force-removing a container
 * and reading its logs take seconds on a loaded engine. Attach streams
 * have no limit (the run's watchdog judges silence); a wait is given its
 * limit by the caller. */
#define DOCKER_TIMEOUT_QUICK_MS 30000
#define DOCKER_TIMEOUT_SLOW_MS 120000

/* libcurl's CURL_ERROR_SIZE (docker_call.c checks it). */
#define DOCKER_ERRBUF_SIZE 256

/* A client: docker.c fills it, docker_call.c performs calls with it. */
struct docker {
	void *curl;          /* a CURL *: REST calls only; attach gets its own handles */
	char *host;          /* as given or found, for messages */
	char *unix_path;     /* socket path, NULL for tcp */
	char *base_url;      /* see docker_base_url() */
	char *host_header;
	bool tls;
	bool tls_verify;
	char *ca, *cert, *key;   /* NULL: not used (see parse_host in docker.c) */
	struct docker_cancel *cancel;  /* NULL: calls run to their limit */
	char api[16];        /* "1.41", from the engine */
	bool podman;         /* its ping named a Libpod API (Podman's compat service) */
	char addr[64];       /* see docker_address(); "" for loopback or a socket */
	char errbuf[DOCKER_ERRBUF_SIZE]; /* the last call's curl error */
};

/* One request in flight: where its body goes and what came back. */
struct docker_call {
	struct docker *dk;
	long status;
	struct buf body;
	/* Optional consumer of a 2xx body (logs, archives), instead of `body`;
	 * error replies still land in `body` so their message can be read. */
	int (*sink)(void *ctx, const char *data, size_t len);
	void *ctx;
	/* Optional producer of the request body, sent chunked (archives,
	 * image tarballs): fills at most n bytes, returns how many, 0 at the
	 * end, -1 to abort the call. */
	ssize_t (*source)(void *ctx, char *data, size_t n);
	void *source_ctx;
	const char *content_type;   /* of the source's body */
	bool too_big;
	bool sink_failed;
	bool source_failed;
	bool timed_out;         /* the call's own limit passed */
	long timeout_ms;        /* whole call; 0: no limit */
	char api_header[16];
	bool libpod_header;     /* the reply had Libpod-Api-Version */
};

void docker_call_init(struct docker_call *c, struct docker *dk, long timeout_ms);
void docker_call_release(struct docker_call *c);
/* Performs method on path (versioned: prefixed with /v<api>) with an
 * optional JSON body (or c->source's). Returns 0 when a reply arrived,
 * whatever its status (in c->status); -1 when there was none or it broke
 * the cap. */
int docker_call_do(struct docker_call *c, const char *method, const char *path, bool versioned, const char *json,
		   struct error **err);
/* docker_call_do (versioned) for a call that waits for something to end
 * (a container, an exec): its own limit passing is no error but 1, the
 * caller's to judge. */
int docker_call_wait(struct docker_call *c, const char *method, const char *path, const char *json,
		     struct error **err);
bool docker_call_ok(const struct docker_call *c);
/* A non-2xx reply as an error with `status` as the exit code. */
int docker_reply_error(const struct docker_call *c, int status, const char *hint, struct error **err);
/* A request whose non-2xx replies are errors, except also_ok (0: none);
 * the body goes to *reply when given. */
int docker_simple(struct docker *dk, const char *method, const char *path, const char *json, long also_ok,
		  long timeout_ms, struct buf *reply, struct error **err);
/* Ids and references go into paths as they are: anything that could
 * change the path or the query is refused instead of escaped. */
int docker_check_ref(const char *what, const char *s, struct error **err);
/* URL-escaped copy (heap). */
char *docker_escape(struct docker *dk, const char *s);

/* The last `max` bytes of a framed stream (logs, an exec's output):
 * docker_tail_feed_cb is a docker_call sink. */
struct docker_tail {
	struct frame_demux demux;
	struct buf out;
	size_t max;
};
void docker_tail_init(struct docker_tail *t, size_t max);
int docker_tail_feed_cb(void *ctx, const char *data, size_t len);
/* What is kept, as a heap string; t is released. */
char *docker_tail_steal(struct docker_tail *t);

#define DOCKER_HINT_IMAGE "build it with images/build or docker build"

/* Applies dk's transport to a curl easy handle h (a CURL *): unix socket
 * path or TLS files, connect timeout, no signals, and the cancel check
 * while the call waits. */
void docker_curl_setup(const struct docker *dk, void *h);
/* "http://localhost" for a unix socket, "http(s)://host:port" for tcp. */
const char *docker_base_url(const struct docker *dk);
/* What goes in the Host header of a hand-written request. */
const char *docker_host_header(const struct docker *dk);

/* docker_json.c. Bodies are heap strings (caller frees). */
char *docker_json_create_body(const struct docker_container_spec *spec);
char *docker_json_network_create_body(const char *name, const char *const *labels);
char *docker_json_volume_create_body(const char *name, const char *const *labels);
char *docker_json_exec_body(const struct docker_exec_spec *spec);
char *docker_json_network_connect_body(const char *container, const char *const *aliases);
char *docker_json_network_disconnect_body(const char *container);
/* {"label":["<label>"]}, for a filters= query parameter (not yet escaped). */
char *docker_json_label_filter(const char *label);
/* The "message" field of an engine error reply as a heap string, or NULL
 * when the body is not such a reply. */
char *docker_json_message(const char *body, size_t len);
/* Top-level string / number field of a JSON object reply. A missing field or
 * a reply that is not JSON is an EXIT_INTERNAL error naming `what`. */
int docker_json_string(const char *body, size_t len, const char *key, const char *what, char **out, struct error **err);
int docker_json_int(const char *body, size_t len, const char *key, const char *what, int64_t *out, struct error **err);

#endif
