/* The attach channel: POST /containers/{id}/attach written by hand on a
 * CONNECT_ONLY curl handle (curl cannot hand over an upgraded connection),
 * then raw bytes both ways. Each channel owns its handle, so channels and
 * the REST handle never wait on each other. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "docker_priv.h"

/* A reply head longer than this is not Docker's. */
#define HEAD_MAX ((size_t)16 << 10)
/* An error body longer than this is cut; only its message matters. */
#define ERROR_BODY_MAX ((size_t)64 << 10)
/* TCP keepalive on a channel over tcp:// (a unix socket has none): the
 * first probe after this many seconds of quiet, then one every
 * KEEPALIVE_INTVL_S; with Linux's nine probes a peer that acknowledges
 * none ends the stream after about 150 s. A test may keep its channel
 * quiet for minutes: the probes keep it alive through NAT and firewalls
 * that drop idle connections, and a partition that drops packets ends
 * the stream on its own even when no test is in flight there. They do
 * not find a frozen dockerd (its kernel acknowledges them): the loop's
 * silence probe does (loop_heal.c), and sooner, which is why these are
 * slow: a short network hiccup must not cost a healthy worker. */
#define KEEPALIVE_IDLE_S 60L
#define KEEPALIVE_INTVL_S 10L

struct docker_attach {
	CURL *curl;
	curl_socket_t fd;
	/* Stream bytes that arrived together with the reply head. */
	struct buf pending;
	char errbuf[CURL_ERROR_SIZE];
};

static int
wait_fd(curl_socket_t fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - util_now_ms();
	int r;

	if (left <= 0)
		return 0;
	do
		r = poll(&p, 1, (int)left);
	while (r < 0 && errno == EINTR);
	return r;
}

static int
send_all(struct docker_attach *a, const char *p, size_t len, int64_t deadline, struct error **err)
{
	while (len > 0) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(a->curl, p, len, &n);

		if (rc == CURLE_AGAIN) {
			if (wait_fd(a->fd, POLLOUT, deadline) <= 0)
				return error_set(err, EXIT_INTERNAL, "docker: attach: timed out sending the request");
			continue;
		}
		if (rc != CURLE_OK)
			return error_set(err, EXIT_INTERNAL, "docker: attach: send: %s", curl_easy_strerror(rc));
		p += n;
		len -= n;
	}
	return 0;
}

/* Reads into b until `done` says enough, EOF, the cap or the deadline.
 * Returns 1 when done, 0 on EOF, -1 on error. */
static int
recv_until(struct docker_attach *a, struct buf *b, bool (*done)(const struct buf *b, void *ctx), void *ctx,
	   int64_t deadline, struct error **err)
{
	char chunk[4096];

	while (!done(b, ctx)) {
		size_t n = 0;
		size_t room = b->max - b->len;
		CURLcode rc;

		if (room == 0)
			return error_set(err, EXIT_INTERNAL, "docker: attach: reply larger than %zu bytes", b->max);
		rc = curl_easy_recv(a->curl, chunk, room < sizeof(chunk) ? room : sizeof(chunk), &n);
		if (rc == CURLE_AGAIN) {
			if (wait_fd(a->fd, POLLIN, deadline) <= 0)
				return error_set(err, EXIT_INTERNAL, "docker: attach: timed out waiting for the reply");
			continue;
		}
		if (rc != CURLE_OK)
			return error_set(err, EXIT_INTERNAL, "docker: attach: recv: %s", curl_easy_strerror(rc));
		if (n == 0)
			return 0;
		buf_append(b, chunk, n);
	}
	return 1;
}

static bool
have_head_cb(const struct buf *b, void *ctx)
{
	(void)ctx;
	return b->len >= 4 && memmem(b->data, b->len, "\r\n\r\n", 4) != NULL;
}

static bool
have_bytes_cb(const struct buf *b, void *ctx)
{
	return b->len >= *(size_t *)ctx;
}

/* Content-Length of a reply head, or SIZE_MAX when absent. */
static size_t
content_length(const char *head)
{
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, "content-length:", 15) == 0)
			return (size_t)strtoull(p + 17, NULL, 10);
	}
	return SIZE_MAX;
}

/* The engine refused the upgrade: read its body (as far as it comes in
 * time) for the "message" field. */
static int
refused(struct docker_attach *a, const char *id, int status, struct buf *b, size_t head_len, int64_t deadline,
	struct error **err)
{
	cleanup_free char *head = xstrndup(b->data, head_len);
	size_t want = content_length(head);
	cleanup_free char *msg = NULL;
	struct error *ignored = NULL;

	buf_consume(b, head_len);
	b->max = ERROR_BODY_MAX;
	if (want != SIZE_MAX && want > ERROR_BODY_MAX)
		want = ERROR_BODY_MAX;
	/* Without a Content-Length (what 1.41 sends: a plain-text message
	 * in a raw-stream reply) the body ends when the engine closes. */
	recv_until(a, b, have_bytes_cb, &want, deadline, &ignored);
	error_free(ignored);
	msg = docker_json_message(b->data, b->len);
	if (!msg && b->len) {
		msg = xstrndup(b->data, strcspn(b->data, "\r\n"));
		if (!*msg) {
			free(msg);
			msg = NULL;
		}
	}
	return error_set(err, EXIT_INTERNAL, "docker: attach %.*s: %d: %s", strlen(id) == 64 ? 12 : 64, id, status,
			 msg ? msg : "the engine refused the upgrade");
}

/* An id or a name; anything else could change the request line. */
static int
check_id(const char *id, struct error **err)
{
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return error_set(err, EXIT_USAGE, "docker: attach: bad container id \"%s\"", id);
	if (!*id)
		return error_set(err, EXIT_USAGE, "docker: attach: empty container id");
	return 0;
}

/* A connection to the engine on a->curl, CONNECT_ONLY, and its socket. */
static int
connect_only(struct docker_attach *a, struct docker *dk, struct error **err)
{
	cleanup_free char *url = xasprintf("%s/", docker_base_url(dk));
	CURLcode rc;

	a->curl = curl_easy_init();
	if (!a->curl)
		return error_set(err, EXIT_INTERNAL, "docker: cannot initialise libcurl");
	docker_curl_setup(dk, a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, a->errbuf);
	curl_easy_setopt(a->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(a->curl, CURLOPT_TCP_KEEPIDLE, KEEPALIVE_IDLE_S);
	curl_easy_setopt(a->curl, CURLOPT_TCP_KEEPINTVL, KEEPALIVE_INTVL_S);
	rc = curl_easy_perform(a->curl);
	if (rc != CURLE_OK)
		return error_set(err, EXIT_INTERNAL, "docker: attach: cannot reach the engine at %s: %s", docker_host(dk),
				 a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc));
	if (curl_easy_getinfo(a->curl, CURLINFO_ACTIVESOCKET, &a->fd) != CURLE_OK || a->fd == CURL_SOCKET_BAD)
		return error_set(err, EXIT_INTERNAL, "docker: attach: no socket from libcurl");
	return 0;
}

static int
send_request(struct docker_attach *a, struct docker *dk, const char *id, int64_t deadline, struct error **err)
{
	cleanup_free char *req = xasprintf("POST /v%s/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
					   "Host: %s\r\n"
					   "User-Agent: xdock\r\n"
					   "Content-Length: 0\r\n"
					   "Connection: Upgrade\r\n"
					   "Upgrade: tcp\r\n"
					   "\r\n",
					   docker_api_version(dk), id, docker_host_header(dk));

	return send_all(a, req, strlen(req), deadline, err);
}

/* Reads the reply head into head. 0 when the engine upgraded the
 * connection: the stream bytes that came with the head are moved to
 * a->pending. */
static int
read_reply(struct docker_attach *a, const char *id, struct buf *head, struct error **err)
{
	/* The reply is the engine's work, not the network's: Podman (4.3)
	 * answers an attach only once it holds the container's lock, which
	 * its clean-up of other containers can keep for seconds on a busy
	 * machine. A quick call's limit, not the connect limit. */
	int64_t deadline = util_now_ms() + DOCKER_TIMEOUT_QUICK_MS;
	const char *end;
	int status = 0;

	switch (recv_until(a, head, have_head_cb, NULL, deadline, err)) {
	case 1:
		break;
	case 0:
		return error_set(err, EXIT_INTERNAL, "docker: attach %.*s: the engine closed the connection",
				 strlen(id) == 64 ? 12 : 64, id);
	default:
		return -1;
	}
	end = memmem(head->data, head->len, "\r\n\r\n", 4) + 4;
	if (sscanf(head->data, "HTTP/1.%*d %d", &status) != 1)
		return error_set(err, EXIT_INTERNAL, "docker: attach %.*s: not an HTTP reply", strlen(id) == 64 ? 12 : 64,
				 id);
	if (status != 101 && status != 200)
		return refused(a, id, status, head, (size_t)(end - head->data), deadline, err);
	buf_append(&a->pending, end, head->len - (size_t)(end - head->data));
	return 0;
}

struct docker_attach *
docker_attach_open(struct docker *dk, const char *id, struct error **err)
{
	struct docker_attach *a = xcalloc(1, sizeof(*a));
	int64_t deadline = util_now_ms() + DOCKER_CONNECT_TIMEOUT * 1000;
	struct buf head;
	int rc;

	buf_init(&a->pending, HEAD_MAX);
	buf_init(&head, HEAD_MAX);
	a->fd = CURL_SOCKET_BAD;
	rc = check_id(id, err);
	if (rc == 0)
		rc = connect_only(a, dk, err);
	if (rc == 0)
		rc = send_request(a, dk, id, deadline, err);
	if (rc == 0)
		rc = read_reply(a, id, &head, err);
	buf_release(&head);
	if (rc < 0) {
		docker_attach_free(a);
		return NULL;
	}
	return a;
}

void
docker_attach_free(struct docker_attach *a)
{
	if (!a)
		return;
	if (a->curl)
		curl_easy_cleanup(a->curl);
	buf_release(&a->pending);
	free(a);
}

int
docker_attach_fd(const struct docker_attach *a)
{
	return a->fd;
}

ssize_t
docker_attach_send(struct docker_attach *a, const void *data, size_t len, struct error **err)
{
	size_t n = 0;
	CURLcode rc;

	if (len == 0)
		return 0;
	rc = curl_easy_send(a->curl, data, len, &n);
	if (rc == CURLE_AGAIN)
		return 0;
	if (rc != CURLE_OK)
		return error_set(err, EXIT_INTERNAL, "docker: attach: send: %s", curl_easy_strerror(rc));
	return (ssize_t)n;
}

ssize_t
docker_attach_recv(struct docker_attach *a, void *data, size_t len, bool *eof, struct error **err)
{
	size_t n = 0;
	CURLcode rc;

	*eof = false;
	if (len == 0)
		return 0;
	if (a->pending.len) {
		n = a->pending.len < len ? a->pending.len : len;
		memcpy(data, a->pending.data, n);
		buf_consume(&a->pending, n);
		return (ssize_t)n;
	}
	rc = curl_easy_recv(a->curl, data, len, &n);
	if (rc == CURLE_AGAIN)
		return 0;
	if (rc != CURLE_OK)
		return error_set(err, EXIT_INTERNAL, "docker: attach: recv: %s", curl_easy_strerror(rc));
	if (n == 0)
		*eof = true;
	return (ssize_t)n;
}
