/* Client for the Docker Engine API over libcurl: a unix socket or tcp(+TLS)
 * per DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH. Only docker.c,
 * docker_call.c and docker_attach.c include curl.h. The API version is
 * negotiated from GET /_ping and GET /version, never hard-coded. All calls
 * are blocking REST calls on one easy handle, each with a time limit for
 * its kind (see docker_priv.h) and an optional cancel fd; attach streams
 * get their own handles. */
#ifndef XDOCK_DOCKER_H
#define XDOCK_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct docker;

/* What stops Engine API calls: signals on a signalfd, and a deadline.
 * Shared by a client and its clones (threads); owned by the caller, who
 * may change pass and deadline_ms between calls.
 *  - pass == 0: while fd is readable every call fails at once (or within
 *    a second if already waiting) with EXIT_INTERRUPTED; nothing is read,
 *    the caller's loop reads the signal.
 *  - pass > 0: the calls read the signals themselves; the first `pass`
 *    let calls go on but bring the deadline to at most grace_ms away; one
 *    more stops them. A teardown that must finish, but not for ever.
 * No call runs past deadline_ms (util_now_ms() time; 0: none). */
struct docker_cancel {
	int fd;
	int pass;
	int grace_ms;
	int seen;               /* signals read by calls (pass > 0) */
	int64_t deadline_ms;
};

/* What one engine's address says: "unix:///path" or "tcp://host:port",
 * the latter optionally with this engine's own TLS settings after commas,
 * in the words of `docker context create --docker`:
 * "tcp://h:2376,certs=DIR" (verified TLS with DIR's ca.pem, cert.pem,
 * key.pem), ",skip-tls-verify=true" (TLS, the server not verified).
 * With either, DOCKER_TLS, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH do not
 * apply to that engine. Pure: the files are looked at by docker_new. */
struct docker_endpoint {
	char *addr;             /* the address, options removed */
	bool own_tls;           /* options given */
	char *certs;            /* certs=, NULL when not given */
	bool skip_verify;       /* skip-tls-verify=true */
};

int docker_endpoint_parse(const char *host, struct docker_endpoint *ep, struct error **err);
void docker_endpoint_release(struct docker_endpoint *ep);

/* host: as docker_endpoint_parse takes it, or NULL for $DOCKER_HOST, else
 * unix:///var/run/docker.sock. Pings the engine and negotiates the version.
 * Unreachable engine: EXIT_INTERNAL with what was tried and a hint.
 * cancel: NULL for none; must outlive the client. */
struct docker *docker_new(const char *host, struct docker_cancel *cancel, struct error **err);
/* Another client to the same engine (a curl handle is never shared between
 * threads) with the same cancel fd and deadline; no ping. */
struct docker *docker_clone(const struct docker *dk, struct error **err);
/* The signalfd of the client's cancel, -1 when none: other waits (the
 * database's) stop on it too. */
int docker_cancel_fd(const struct docker *dk);
void docker_free(struct docker *dk);
/* Whether calls are stopped now (see struct docker_cancel). */
bool docker_cancelled(const struct docker *dk);
const char *docker_host(const struct docker *dk);
const char *docker_api_version(const struct docker *dk);
/* The libcurl this process runs with ("8.1.2"), for `xdock version`. */
const char *docker_libcurl_version(void);
/* True when the engine runs on this machine (unix socket), so bind mounts
 * of host paths are possible. */
bool docker_is_local(const struct docker *dk);
/* Whether the engine is Podman's Docker-compatible service (its ping
 * names a Libpod API). Where they differ and it matters: a container
 * joining another's network namespace keeps a host name of its own on
 * Podman unless given one, and Docker refuses one given. */
bool docker_is_podman(const struct docker *dk);
/* Where the engine's machine is reached from here, as a numeric address:
 * for a tcp:// engine the one its first answer came from (not loopback),
 * else 127.0.0.1. A port the engine publishes is bound there, so this
 * machine can reach it and nothing else on loopback has to. */
const char *docker_address(const struct docker *dk);
/* Whether the engine answers GET /_ping within timeout_ms. */
int docker_ping(struct docker *dk, long timeout_ms, struct error **err);
int docker_info_ncpu(struct docker *dk, int *ncpu, struct error **err);

/* A bind mount of a host path, or a named volume. Given to the engine as
 * HostConfig.Mounts, field by field, so a path may hold any character (a
 * `:` too). */
struct docker_mount {
	const char *source;              /* absolute host path (must exist), or a volume's name */
	const char *target;              /* absolute path in the container */
	bool read_only;
	bool volume;                     /* source names a volume */
};

struct docker_container_spec {
	const char *name;                /* NULL: engine picks */
	const char *image;
	const char *const *cmd;          /* NULL-terminated argv, NULL: image default */
	const char *const *entrypoint;   /* NULL-terminated, NULL: image default */
	const char *const *env;          /* "K=V", NULL-terminated */
	const struct docker_mount *mounts; /* ends with a NULL source */
	const char *const *labels;       /* "key=value", NULL-terminated */
	const char *const *tmpfs;        /* container paths, NULL-terminated */
	const char *working_dir;
	const char *hostname;     /* NULL: the engine's (the container id) */
	const char *user;
	const char *network;             /* network name, "host", "none", or NULL */
	const char *const *aliases;      /* DNS aliases on `network` */
	const char *publish_tcp;         /* e.g. "5432/tcp": a random port on publish_ip */
	const char *publish_ip;          /* NULL: 127.0.0.1 */
	bool open_stdin;                 /* attach channel: OpenStdin+StdinOnce */
	bool cap_drop_all;               /* CapDrop ALL + no-new-privileges */
	int64_t memory;                  /* bytes, 0: unlimited */
	int64_t nano_cpus;               /* 1e9 = one CPU, 0: unlimited */
	int64_t pids_limit;              /* 0: unlimited */
};

/* Creates a container; *id receives the full id (caller frees). A missing
 * image is EXIT_USAGE with a hint how to build it. */
int docker_container_create(struct docker *dk, const struct docker_container_spec *spec, char **id, struct error **err);
int docker_container_start(struct docker *dk, const char *id, struct error **err);
/* Blocks until the container exits, at most timeout_ms (0: no limit):
 * 0 and *status its exit code, or 1 when the limit passed first (the
 * container still runs). */
int docker_container_wait(struct docker *dk, const char *id, long timeout_ms, int *status, struct error **err);
int docker_container_kill(struct docker *dk, const char *id, const char *signal, struct error **err);
/* force: kill first if running. Also removes its anonymous volumes. A
 * container that is already gone is not an error. */
int docker_container_remove(struct docker *dk, const char *id, bool force, struct error **err);

struct docker_container_state {
	bool running;
	bool oom_killed;
	int exit_code;
	int host_port;      /* of spec.publish_tcp, 0 when none */
	char status[32];    /* "created", "running", "exited", ... */
	char error[256];    /* State.Error */
};
/* port: "5432/tcp" or NULL. */
int docker_container_inspect(struct docker *dk, const char *id, const char *port, struct docker_container_state *st, struct error **err);
/* Parses an inspect reply (exposed for tests on recorded replies). */
int docker_parse_inspect(const char *json, size_t len, const char *port, struct docker_container_state *st, struct error **err);
/* stdout+stderr of a stopped container, demultiplexed, at most max bytes
 * (the tail is kept). *out is a heap string. */
int docker_container_logs(struct docker *dk, const char *id, size_t max, char **out, struct error **err);

/* A process to run in a running container (docker_exec). */
struct docker_exec_spec {
	const char *const *cmd;          /* NULL-terminated argv */
	const char *const *env;          /* "K=V", over the container's; NULL: none */
	const char *working_dir;         /* NULL: the container's */
	const char *user;                /* NULL: the container's */
};
/* Runs spec in the running container id and waits for it to end, at most
 * timeout_ms (0: no limit). 0 with *status its exit code and *tail (heap)
 * the last max bytes of its stdout and stderr; 1 when the limit passed
 * first (the process goes on until its container ends); -1 on an error. */
int docker_exec(struct docker *dk, const char *id, const struct docker_exec_spec *spec, long timeout_ms, size_t max,
		int *status, char **tail, struct error **err);
/* Parses an exec inspect reply: *exit_code is -1 while there is none
 * (exposed for tests on recorded replies). */
int docker_parse_exec(const char *json, size_t len, bool *running, int *exit_code, struct error **err);

int docker_image_exists(struct docker *dk, const char *image, bool *exists, struct error **err);
/* The image's content id ("sha256:..."); caller frees. */
int docker_image_id(struct docker *dk, const char *image, char **id, struct error **err);

/* Networks. labels as for containers. */
int docker_network_create(struct docker *dk, const char *name, const char *const *labels, char **id, struct error **err);
int docker_network_remove(struct docker *dk, const char *id, struct error **err);
int docker_network_connect(struct docker *dk, const char *net, const char *container, const char *const *aliases, struct error **err);
int docker_network_disconnect(struct docker *dk, const char *net, const char *container, struct error **err);

/* What a label-filtered listing returns: ids and the value of one label. */
struct docker_object {
	char *id;
	char *name;
	char *label;   /* value of the label asked for, NULL when absent */
};
struct docker_list {
	struct docker_object *items;
	size_t n;
};
void docker_list_release(struct docker_list *l);
/* filter_label: "xdock.run" or "xdock.run=abc"; want_label: whose value to
 * return in .label. all: containers in any state. */
int docker_container_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out, struct error **err);
int docker_network_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out, struct error **err);
int docker_volume_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out, struct error **err);
int docker_volume_remove(struct docker *dk, const char *name, struct error **err);
/* A named local volume with labels (as for containers). */
int docker_volume_create(struct docker *dk, const char *name, const char *const *labels, struct error **err);

/* Streams (docker_stream.c): bodies of any size go through callbacks, a
 * piece at a time, never whole in memory. A source fills at most n bytes
 * and returns how many (0: the end, -1: abort); a sink takes each piece
 * (-1: abort). */
typedef ssize_t (*docker_source_fn)(void *ctx, char *data, size_t n);
typedef int (*docker_sink_fn)(void *ctx, const char *data, size_t len);
/* PUT /containers/{id}/archive: a tar stream unpacked at `path` in the
 * container (which may be created and not started; its volumes are
 * written too), with the owners the archive names. */
int docker_container_put_archive(struct docker *dk, const char *id, const char *path, docker_source_fn src,
				 void *ctx, struct error **err);
/* GET /containers/{id}/archive: `path` (file or directory) as a tar stream
 * whose names start with its base name. 1 when the path does not exist. */
int docker_container_get_archive(struct docker *dk, const char *id, const char *path, docker_sink_fn sink,
				 void *ctx, struct error **err);
/* GET /images/{name}/get: the image as `docker save` writes it. */
int docker_image_save(struct docker *dk, const char *image, docker_sink_fn sink, void *ctx, struct error **err);
/* POST /images/load: a `docker save` stream into the engine's store. */
int docker_image_load(struct docker *dk, docker_source_fn src, void *ctx, struct error **err);
/* Parses a list reply (exposed for tests on recorded replies). kind is
 * "containers", "networks" or "volumes" (volumes are wrapped in {"Volumes":}). */
int docker_parse_list(const char *json, size_t len, const char *kind, const char *want_label, struct docker_list *out, struct error **err);

/* The attach channel: POST /containers/{id}/attach upgraded to a raw
 * stream, on its own CONNECT_ONLY easy handle. Attach before start so no
 * output is lost. Output arrives in Docker's 8-byte frames (frame.h). */
struct docker_attach;
struct docker_attach *docker_attach_open(struct docker *dk, const char *id, struct error **err);
void docker_attach_free(struct docker_attach *a);
/* The socket, for poll(). */
int docker_attach_fd(const struct docker_attach *a);
/* Non-blocking. Return bytes moved, 0 when the call would block, -1 with
 * *err on failure. recv sets *eof when the engine closed the stream. Bytes
 * received together with the upgrade reply are returned first. */
ssize_t docker_attach_send(struct docker_attach *a, const void *data, size_t len, struct error **err);
ssize_t docker_attach_recv(struct docker_attach *a, void *data, size_t len, bool *eof, struct error **err);

#endif
