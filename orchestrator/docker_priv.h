/* Internals shared by the three files of the Docker client: docker.c (the
 * REST transport and endpoints), docker_attach.c (the attach channel) and
 * docker_json.c (request bodies and reply parsing with cJSON). Other modules
 * see docker.h only. No curl.h or cJSON.h here: CURL is void in curl.h. */
#ifndef XDOCK_DOCKER_PRIV_H
#define XDOCK_DOCKER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "docker.h"

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
