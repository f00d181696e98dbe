#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Enough of the agent's own stderr to explain a failure to start. */
#define WORKER_ERRTAIL 8192

void
worker_init(struct worker *w, size_t index)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	snprintf(w->name, sizeof(w->name), "gw%zu", index);
	frame_demux_init(&w->demux);
	proto_reader_init(&w->reader, PROTO_LINE_MAX);
	/* Outgoing: run batches and bye; a few KiB at most in practice, the
	 * cap only guards against a scheduler bug flooding one worker. */
	buf_init(&w->out, 64u << 20);
	buf_init(&w->errtail, WORKER_ERRTAIL * 2);
	w->chan_lfd = w->chan_fd = -1;
}

static void
chan_close(struct worker *w)
{
	if (w->chan_lfd >= 0)
		close(w->chan_lfd);
	if (w->chan_fd >= 0)
		close(w->chan_fd);
	w->chan_lfd = w->chan_fd = -1;
}

void
worker_release(struct worker *w)
{
	docker_attach_free(w->attach);
	w->attach = NULL;
	chan_close(w);
	proto_reader_release(&w->reader);
	buf_release(&w->out);
	buf_release(&w->errtail);
	free(w->dbname);
	free(w->container);
	w->dbname = w->container = NULL;
}

/* The container's environment: xdist's variables (a worker's only),
 * xdock's, where the worker's database is, then the user's --env. */
static char **
start_env(const struct worker *w, const struct worker_setup *ws, const char *const *db_env, size_t *n)
{
	char **env = NULL;

	*n = 0;
	/* The controller is no worker: conftests that look for these must
	 * see it as xdist's controller. */
	if (!ws->controller) {
		util_strv_push(&env, n, xasprintf("PYTEST_XDIST_WORKER=%s", w->name));
		util_strv_push(&env, n, xasprintf("PYTEST_XDIST_WORKER_COUNT=%zu", ws->nworkers));
	}
	if (ws->with_controller && !ws->controller)
		util_strv_push(&env, n, xstrdup("XDOCK_CONTROLLER=1"));
	util_strv_push(&env, n, xasprintf("PYTEST_XDIST_TESTRUNUID=%s", ws->run_id));
	util_strv_push(&env, n, xstrdup("PYTHONDONTWRITEBYTECODE=1"));
	util_strv_push(&env, n, xstrdup("XDOCK=1"));
	for (size_t i = 0; db_env && db_env[i]; i++)
		util_strv_push(&env, n, xstrdup(db_env[i]));
	/* Given last, so the user can override what xdock sets. */
	for (size_t i = 0; ws->env && ws->env[i]; i++)
		util_strv_push(&env, n, xstrdup(ws->env[i]));
	return env;
}

/* The run's labels and the worker's name. */
static char **
start_labels(const struct worker *w, const struct worker_setup *ws, size_t *n)
{
	char **labels = NULL;

	*n = 0;
	for (size_t i = 0; ws->labels[i]; i++)
		util_strv_push(&labels, n, xstrdup(ws->labels[i]));
	util_strv_push(&labels, n, xasprintf("xdock.worker=%s", w->name));
	return labels;
}

/* The agent and its arguments. */
static char **
start_entrypoint(const struct worker_setup *ws, bool chan, size_t *n)
{
	char **entry = NULL;

	*n = 0;
	util_strv_push(&entry, n, xstrdup("/xdock/agent"));
	if (chan) {
		util_strv_push(&entry, n, xstrdup("--channel"));
		util_strv_push(&entry, n, xstrdup(CHAN_MOUNT));
	}
	for (size_t i = 0; ws->agent_cmd[i]; i++)
		util_strv_push(&entry, n, xstrdup(ws->agent_cmd[i]));
	return entry;
}

/* Creates the container, attaches to it, starts it. */
static int
launch(struct worker *w, struct docker *dk, const struct docker_container_spec *spec, struct error **err)
{
	cleanup_free char *id = NULL;

	if (docker_container_create(dk, spec, &id, err) < 0)
		return error_wrap(err, "worker %s: create container", w->name);
	w->container = xstrdup(id);
	/* Attach before start, so not one byte of output is lost. */
	w->attach = docker_attach_open(dk, id, err);
	if (!w->attach)
		return error_wrap(err, "worker %s: attach %.12s", w->name, id);
	if (docker_container_start(dk, id, err) < 0)
		return error_wrap(err, "worker %s: start %.12s", w->name, id);
	w->started_ms = util_now_ms();
	w->heard_ms = w->started_ms;
	/* Bytes that came with the upgrade reply are held by the attach
	 * handle and would never wake poll(). */
	w->fresh = true;
	return 0;
}

/* Listens on the local channel: the socket's host path, to be mounted,
 * or NULL without one (an engine that does not share this machine's
 * files, a project that is not writable): the attach stream then
 * carries everything. */
static char *
listen_chan(struct worker *w, const struct worker_setup *ws)
{
	struct error *e = NULL;
	char *path = NULL;

	w->chan_open = false;
	if (!ws->chan || ws->project_volume)
		return NULL;
	w->chan_lfd = chan_listen(ws->chan, w->name, &path, &e);
	error_free(e);
	return path;
}

int
worker_start(struct worker *w, struct docker *dk, const struct worker_setup *ws, const char *const *db_env,
	     struct error **err)
{
	size_t nenv, nlabels, nentry, nb = 0;
	cleanup_free char *sock = listen_chan(w, ws);
	char **env = start_env(w, ws, db_env, &nenv);
	char **labels = start_labels(w, ws, &nlabels);
	char **entry = start_entrypoint(ws, sock != NULL, &nentry);
	struct docker_mount bound[5];
	/* Shipped: nothing of this machine's disk is there; a report
	 * outside the project comes back from the container (ship_fetch). */
	const struct docker_mount shipped[] = {
		{ ws->agent_volume, "/xdock", true, true },
		{ ws->project_volume, ws->project_dir, false, true },
		{ NULL, NULL, false, false },
	};
	cleanup_free char *name = xasprintf("xdock-%s-%s", ws->run_id, w->name);
	/* One host name for the whole run, as xdist's workers share their
	 * controller's: plugins that compare it (pytest-cov: a worker on the
	 * controller's host leaves its data file to the controller instead
	 * of combining the shared directory's files itself) see one host. */
	cleanup_free char *host = xasprintf("xdock-%s", ws->run_id);
	/* A joined namespace comes with its owner's host name on Docker,
	 * which refuses one given besides; on Podman it comes without, and
	 * the run's is given. */
	cleanup_free char *joined = ws->netns_of ? xasprintf("container:%s", ws->netns_of) : NULL;
	bool own_host = (!joined || docker_is_podman(dk)) && !(ws->network && strcmp(ws->network, "host") == 0);
	struct docker_container_spec spec = {
		.name = name,
		.image = ws->image,
		.cmd = NULL,
		.entrypoint = (const char *const *)entry,
		.env = (const char *const *)env,
		.mounts = ws->project_volume ? shipped : bound,
		.labels = (const char *const *)labels,
		.working_dir = ws->workdir,
		.hostname = own_host ? host : NULL,
		.user = ws->user,
		.network = joined ? joined : ws->network,
		.open_stdin = true,
		.cap_drop_all = true,
		.memory = ws->memory,
		.nano_cpus = ws->nano_cpus,
		.pids_limit = 4096,
	};
	int rc;

	bound[nb++] = (struct docker_mount){ ws->agent_path, "/xdock/agent", true, false };
	bound[nb++] = (struct docker_mount){ ws->project_dir, ws->project_dir, false, false };
	if (sock)
		bound[nb++] = (struct docker_mount){ sock, CHAN_MOUNT, false, false };
	if (ws->extra_dir)
		bound[nb++] = (struct docker_mount){ ws->extra_dir, ws->extra_dir, false, false };
	bound[nb] = (struct docker_mount){ NULL, NULL, false, false };
	rc = launch(w, dk, &spec, err);
	/* Started, the container's mount holds the socket; not started,
	 * nobody will connect. Either way the name can go. */
	if (sock)
		unlink(sock);
	if (rc < 0)
		chan_close(w);
	util_strv_free(env, nenv);
	util_strv_free(labels, nlabels);
	util_strv_free(entry, nentry);
	return rc;
}

void
worker_hello(struct worker *w)
{
	msg_encode_hello(&w->out);
}

size_t
worker_pollfds(const struct worker *w, bool send, struct pollfd *p)
{
	size_t n = 0;

	if (!w->attach)
		return 0;
	p[n++] = (struct pollfd){ .fd = docker_attach_fd(w->attach),
				  .events = (short)(POLLIN | (send && !w->chan_open && w->chan_lfd < 0 ? POLLOUT : 0)) };
	if (w->chan_fd >= 0)
		p[n++] = (struct pollfd){ .fd = w->chan_fd, .events = (short)(POLLIN | (send ? POLLOUT : 0)) };
	else if (w->chan_lfd >= 0)
		p[n++] = (struct pollfd){ .fd = w->chan_lfd, .events = POLLIN };
	return n;
}

static ssize_t
chan_send(struct worker *w, struct error **err)
{
	ssize_t n = send(w->chan_fd, w->out.data, w->out.len, MSG_NOSIGNAL);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return error_set(err, EXIT_INTERNAL, "local channel: %s", strerror(errno));
}

int
worker_flush(struct worker *w, struct error **err)
{
	/* hello waits for the agent's choice of channel. */
	if (w->chan_lfd >= 0)
		return 0;
	/* The agent closed the channel: it is ending, and so is its stream. */
	if (w->chan_open && w->chan_fd < 0)
		return 0;
	while (w->out.len > 0) {
		ssize_t n = w->chan_open ? chan_send(w, err)
					 : docker_attach_send(w->attach, w->out.data, w->out.len, err);

		if (n < 0)
			return error_wrap(err, "worker %s: send", w->name);
		if (n == 0)
			return 0;
		buf_consume(&w->out, (size_t)n);
	}
	return 0;
}

static int
sink_cb(void *ctx, enum frame_stream stream, const char *data, size_t len)
{
	struct worker *w = ctx;

	if (stream == FRAME_STDERR && w->echo) {
		fwrite(data, 1, len, w->echo);
		fflush(w->echo);
	}
	/* With the local channel, nothing of the protocol comes this way:
	 * stray bytes are kept with stderr rather than cut into its lines. */
	if (stream == FRAME_STDERR || w->chan_open) {
		/* Keep only the tail: enough to explain why an agent died. */
		if (buf_append_trunc(&w->errtail, data, len) || w->errtail.len > WORKER_ERRTAIL)
			buf_consume(&w->errtail, w->errtail.len > WORKER_ERRTAIL ? w->errtail.len - WORKER_ERRTAIL : 0);
		return 0;
	}
	if (proto_reader_feed(&w->reader, data, len) < 0)
		return -2;
	return 0;
}

/* The agent connects at its start, before it reads anything. */
static void
chan_take(struct worker *w)
{
	int fd = chan_accept(w->chan_lfd);

	if (fd < 0)
		return;
	close(w->chan_lfd);
	w->chan_lfd = -1;
	w->chan_fd = fd;
	w->chan_open = true;
}

/* Reads the local channel until it would block (or 64 chunks: poll says
 * when there is more). Its end is the agent's: the attach stream's end
 * follows. */
static int
chan_read(struct worker *w, char *chunk, size_t size, struct error **err)
{
	for (int rounds = 0; rounds < 64 && w->chan_fd >= 0; rounds++) {
		ssize_t n = recv(w->chan_fd, chunk, size, 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(w->chan_fd);
			w->chan_fd = -1;
			return 0;
		}
		if (proto_reader_feed(&w->reader, chunk, (size_t)n) < 0) {
			error_set(err, EXIT_INTERNAL, "a line longer than %u bytes", PROTO_LINE_MAX);
			return -2;
		}
	}
	return 0;
}

int
worker_read(struct worker *w, bool *eof, struct error **err)
{
	char chunk[65536];

	*eof = false;
	if (w->chan_lfd >= 0)
		chan_take(w);
	if (chan_read(w, chunk, sizeof(chunk), err) < 0)
		return -2;
	/* Stopping before recv says "would block" leaves w->more set: with
	 * TLS, curl may hold decrypted bytes that poll() never reports. */
	w->more = true;
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = docker_attach_recv(w->attach, chunk, sizeof(chunk), eof, err);
		int rc;

		if (n < 0)
			return error_wrap(err, "worker %s: receive", w->name);
		if (n == 0) {
			w->more = false;
			/* The container ended: what its agent wrote to the
			 * channel is all there, and goes first. */
			if (*eof)
				return chan_read(w, chunk, sizeof(chunk), err);
			return 0;
		}
		rc = frame_demux_feed(&w->demux, chunk, (size_t)n, sink_cb, w);
		if (rc == -2) {
			error_set(err, EXIT_INTERNAL, "a line longer than %u bytes", PROTO_LINE_MAX);
			return -2;
		}
		if (rc < 0) {
			error_set(err, EXIT_INTERNAL, "an attach stream out of Docker's framing");
			return -2;
		}
	}
	return 0;
}

int
worker_next_msg(struct worker *w, struct msg *m, struct error **err)
{
	cleanup_free char *line = NULL;
	size_t len;

	if (proto_reader_next(&w->reader, &line, &len) == 0)
		return 0;
	/* The agent could not reach the local channel: the attach stream
	 * carries the protocol, and what waited for its choice may go. */
	if (w->chan_lfd >= 0 && len == strlen(PROTO_NOCHAN) && memcmp(line, PROTO_NOCHAN, len) == 0) {
		chan_close(w);
		free(steal_ptr(&line));
		return worker_next_msg(w, m, err);
	}
	w->heard_ms = util_now_ms();
	if (msg_decode(line, len, m, err) < 0)
		return -1;
	return 1;
}

void
worker_detach(struct worker *w)
{
	docker_attach_free(w->attach);
	w->attach = NULL;
	chan_close(w);
}

void
worker_remove(struct worker *w, struct docker *dk)
{
	struct error *err = NULL;

	worker_detach(w);
	if (!w->container)
		return;
	if (docker_container_remove(dk, w->container, true, &err) < 0) {
		fprintf(stderr, "xdock: worker %s: %s\n", w->name, err->msg);
		error_free(err);
	}
}
