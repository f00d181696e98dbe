#include "relay.h"

#include "oom.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outq.h"
#include "proto.h"

/* Not in proto.h because only the agent needs it: a result ends the test
 * that the last start began. The plugin writes it byte for byte. */
#define RELAY_PFX_RESULT PROTO_PFX_RESULT

/* Queue caps. Above the high-water mark the relay stops reading the side
 * that produces into the queue, so a slow reader costs memory up to the
 * mark plus one line, never a deadlock or an unbounded backlog. */
#define RELAY_OUT_HIGH (16u << 20)
#define RELAY_OUT_MAX (RELAY_OUT_HIGH + 2 * PROTO_LINE_MAX)
#define RELAY_CMD_HIGH (1u << 20)
#define RELAY_CMD_MAX (RELAY_CMD_HIGH + PROTO_LINE_MAX + 2)
/* Between the test's deadline (when the plugin's faulthandler dumps the
 * stack) and the kill, so the dump reaches the output tail. */
#define RELAY_KILL_GRACE_MS 500
/* How long the final exit message may wait for a stalled orchestrator. */
#define RELAY_DRAIN_MS 10000
#define RELAY_CHUNK 65536

struct relay {
	const struct relay_opts *o;
	struct proto_reader in;  /* from the orchestrator */
	struct proto_reader evt; /* from the runner */
	struct outq out;         /* to the orchestrator */
	struct outq cmd;         /* to the runner */
	struct runner run;
	bool hello;              /* hello exchanged, runner started */
	bool in_eof;
	bool done;               /* runner sent done */
	bool timed_out;
	bool stop;               /* orchestrator gone or signalled */
	long current;            /* index of the test in progress, -1: none */
	int64_t since;           /* when it started (monotonic ms) */
	long oom_before;         /* the cgroup's OOM kills when the runner started */
};

typedef int (*relay_line_fn)(struct relay *rl, const char *line, size_t len,
			     struct error **err);

static int
emit(struct relay *rl, const char *line, size_t len, struct error **err)
{
	/* Only fails if the orchestrator is gone (nothing to tell) or past
	 * the cap, which the high-water mark rules out for relayed lines. */
	if (outq_push_line(&rl->out, line, len) < 0 && rl->out.fd >= 0)
		return error_set(err, EXIT_INTERNAL, "output queue over %zu bytes",
				 rl->out.buf.max);
	return 0;
}

static void
emit_error(struct relay *rl, const char *msg)
{
	struct buf b;

	buf_init(&b, 2 * PROTO_LINE_MAX);
	buf_printf(&b, "{\"t\":\"error\",\"message\":");
	proto_json_string(&b, msg, strlen(msg), PROTO_LINE_MAX / 2);
	buf_append(&b, "}", 1);
	outq_push_line(&rl->out, b.data, b.len);
	buf_release(&b);
}

/* Feeds bytes to a reader and hands every whole line to fn. The reader is
 * fed at most its free room at a time, so each line is taken before the
 * next bytes arrive and a line at the cap is never mistaken for overflow. */
static int
feed(struct relay *rl, struct proto_reader *rd, const char *data, size_t len,
     relay_line_fn fn, struct error **err)
{
	do {
		size_t room = rd->buf.max - rd->buf.len;
		size_t n = len < room ? len : room;
		char *line;
		size_t ll;

		if (proto_reader_feed(rd, data, n) < 0)
			return error_set(err, EXIT_INTERNAL, "%s: line longer than %u bytes",
					 rd == &rl->in ? "from orchestrator" : "from runner",
					 PROTO_LINE_MAX);
		data += n;
		len -= n;
		while (proto_reader_next(rd, &line, &ll) == 1) {
			cleanup_free char *owned = line;

			if (fn(rl, owned, ll, err) < 0)
				return -1;
		}
	} while (len > 0);
	return 0;
}

static int
runner_line(struct relay *rl, const char *line, size_t len, struct error **err)
{
	long i;

	if (proto_prefix_int(line, len, PROTO_PFX_START, &i)) {
		rl->current = i;
		rl->since = util_now_ms();
	} else if (proto_prefix_int(line, len, RELAY_PFX_RESULT, &i)) {
		rl->current = -1;
	} else if (len == strlen(PROTO_PFX_DONE) && memcmp(line, PROTO_PFX_DONE, len) == 0) {
		rl->done = true;
	}
	return emit(rl, line, len, err);
}

static int
orchestrator_line(struct relay *rl, const char *line, size_t len, struct error **err)
{
	long v;

	if (rl->hello) {
		/* After the runner is gone its command pipe is closed; what
		 * the orchestrator still says has nobody to hear it. */
		if (rl->run.cmd_fd >= 0 && rl->cmd.fd >= 0 &&
		    outq_push_line(&rl->cmd, line, len) < 0 && rl->cmd.fd >= 0)
			return error_set(err, EXIT_INTERNAL, "command queue over %zu bytes",
					 rl->cmd.buf.max);
		return 0;
	}
	if (!proto_prefix_int(line, len, PROTO_PFX_HELLO, &v)) {
		return error_set(err, EXIT_INTERNAL, "expected hello, got: %.*s",
				 (int)(len < 80 ? len : 80), line);
	}
	if (v != PROTO_VERSION) {
		return error_set(err, EXIT_INTERNAL,
				 "protocol version mismatch: agent speaks %d, orchestrator %ld",
				 PROTO_VERSION, v);
	}
	{
		char reply[64];
		int n = snprintf(reply, sizeof(reply), PROTO_PFX_HELLO "%d,\"pid\":%ld}",
				 PROTO_VERSION, (long)getpid());

		if (emit(rl, reply, (size_t)n, err) < 0)
			return -1;
	}
	if (runner_start(&rl->run, rl->o->argv, &rl->o->runner, err) < 0)
		return -1;
	outq_init(&rl->cmd, rl->run.cmd_fd, RELAY_CMD_MAX, RELAY_CMD_HIGH);
	rl->hello = true;
	return 0;
}

enum { READ_ERROR = -1, READ_EOF = 0, READ_DATA = 1, READ_AGAIN = 2 };

/* Reads one chunk from fd into rd and handles its lines. A read error
 * other than EAGAIN/EINTR means the peer is gone: READ_EOF. READ_ERROR is
 * a protocol error (*err set). */
static int
read_into(struct relay *rl, int fd, struct proto_reader *rd, relay_line_fn fn,
	  struct error **err)
{
	char chunk[RELAY_CHUNK];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) ? READ_AGAIN
										   : READ_EOF;
	if (n == 0)
		return READ_EOF;
	return feed(rl, rd, chunk, (size_t)n, fn, err) < 0 ? READ_ERROR : READ_DATA;
}

static void
on_signals(struct relay *rl)
{
	struct signalfd_siginfo si;

	while (read(rl->o->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			int st;
			pid_t p;

			/* As PID 1 in a container we also inherit orphans:
			 * reap them all, note only the runner. */
			while ((p = waitpid(-1, &st, WNOHANG)) > 0)
				runner_reaped(&rl->run, p, st);
		} else {
			rl->stop = true;
		}
	}
}

/* The controller's stderr, as {"t":"stderr","text":..} lines for xdock's
 * stderr. A UTF-8 sequence cut by a read waits for its rest, unless
 * nothing more will come (at_end). */
static int
forward_stderr(struct relay *rl, bool at_end, struct error **err)
{
	struct buf *f = &rl->run.forward;
	size_t n = f->len;
	struct buf b;
	int rc;

	if (n == 0)
		return 0;
	if (!at_end) {
		/* Back to the last lead byte within 3; keep it if its
		 * sequence is not complete yet. */
		for (size_t k = 1; k <= 3 && k <= n; k++) {
			unsigned char c = (unsigned char)f->data[n - k];

			if ((c & 0xC0) == 0x80)
				continue;
			if (c >= 0xC0 && proto_utf8_seq((const unsigned char *)f->data + n - k, k) == 0)
				n -= k;
			break;
		}
		if (n == 0)
			return 0;
	}
	buf_init(&b, 2 * PROTO_LINE_MAX);
	buf_printf(&b, "{\"t\":\"stderr\",\"text\":");
	proto_json_string(&b, f->data, n, n);
	buf_append(&b, "}", 1);
	rc = emit(rl, b.data, b.len, err);
	buf_release(&b);
	buf_consume(f, n);
	return rc;
}

/* After the runner is reaped: everything it wrote is in the pipes, so
 * read them dry (ignoring the high-water mark: a pipe holds little) before
 * the crash and exit messages, which must come last. */
static int
drain_runner(struct relay *rl, struct error **err)
{
	while (rl->run.evt_fd >= 0) {
		int rc = read_into(rl, rl->run.evt_fd, &rl->evt, runner_line, err);

		if (rc == READ_ERROR)
			return -1;
		if (rc == READ_EOF || rc == READ_AGAIN) {
			/* AGAIN: a grandchild still holds the write end. */
			close(rl->run.evt_fd);
			rl->run.evt_fd = -1;
		}
	}
	while (runner_read_output(&rl->run) > 0)
		;
	return forward_stderr(rl, true, err);
}

static int
report_end(struct relay *rl, struct error **err)
{
	int st = rl->run.status;
	int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + sig;
	struct buf b;
	int rc = 0;

	buf_init(&b, 4 * TAIL_MAX + 1024);
	/* A runner that dies outside a test without saying done (an import
	 * error, a usage error, a signal in collection) is a crash too:
	 * i = -1 tells the orchestrator no test is to blame. */
	if (rl->current >= 0 || (!rl->done && code != 0)) {
		char reason[96];

		if (rl->timed_out)
			snprintf(reason, sizeof(reason), "timeout after %ld s",
				 rl->o->runner.timeout_s);
		else if (sig == SIGKILL && rl->oom_before >= 0 && oom_kills() > rl->oom_before)
			snprintf(reason, sizeof(reason), "OOM killed (the container's memory limit)");
		else if (sig)
			snprintf(reason, sizeof(reason), "killed by signal %d (%s)", sig,
				 strsignal(sig));
		else
			snprintf(reason, sizeof(reason), "runner exited with status %d%s", code,
				 rl->current >= 0 ? " during the test" : " before done");
		buf_printf(&b, "{\"t\":\"crash\",\"i\":%ld,\"status\":%d,\"signal\":%d,\"timeout\":%s,\"reason\":",
			   rl->current, code, sig, rl->timed_out ? "true" : "false");
		proto_json_string(&b, reason, strlen(reason), sizeof(reason));
		buf_append(&b, ",\"output\":", 10);
		proto_json_string(&b, rl->run.tail.data, rl->run.tail.len, TAIL_MAX);
		buf_append(&b, "}", 1);
		rc = emit(rl, b.data, b.len, err);
		buf_reset(&b);
	}
	buf_printf(&b, "{\"t\":\"exit\",\"status\":%d,\"output\":", code);
	proto_json_string(&b, rl->run.tail.data, code != 0 ? rl->run.tail.len : 0, TAIL_MAX);
	buf_append(&b, "}", 1);
	if (rc == 0)
		rc = emit(rl, b.data, b.len, err);
	buf_release(&b);
	rl->current = -1;
	return rc;
}

/* Milliseconds poll() may sleep before the running test's deadline. */
static int
poll_timeout(const struct relay *rl)
{
	int64_t left;

	if (!rl->hello || rl->current < 0 || rl->o->runner.timeout_s <= 0 || rl->timed_out)
		return -1;
	left = rl->since + rl->o->runner.timeout_s * 1000 + RELAY_KILL_GRACE_MS - util_now_ms();
	return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

static void
check_deadline(struct relay *rl)
{
	if (poll_timeout(rl) == 0) {
		rl->timed_out = true;
		runner_kill(&rl->run);
	}
}

enum { P_SIG, P_IN, P_OUT, P_CMD, P_EVT, P_ROUT, P_N };

static int
loop_once(struct relay *rl, struct error **err)
{
	struct pollfd p[P_N];
	int n;

	for (int k = 0; k < P_N; k++)
		p[k] = (struct pollfd){ .fd = -1 };
	p[P_SIG] = (struct pollfd){ .fd = rl->o->sig_fd, .events = POLLIN };
	if (!rl->in_eof && !(rl->hello && outq_full(&rl->cmd)))
		p[P_IN] = (struct pollfd){ .fd = rl->o->in_fd, .events = POLLIN };
	if (outq_pending(&rl->out) > 0)
		p[P_OUT] = (struct pollfd){ .fd = rl->out.fd, .events = POLLOUT };
	if (rl->hello) {
		if (rl->cmd.fd >= 0 && outq_pending(&rl->cmd) > 0)
			p[P_CMD] = (struct pollfd){ .fd = rl->cmd.fd, .events = POLLOUT };
		if (rl->run.evt_fd >= 0 && !outq_full(&rl->out))
			p[P_EVT] = (struct pollfd){ .fd = rl->run.evt_fd, .events = POLLIN };
		if (rl->run.out_fd >= 0)
			p[P_ROUT] = (struct pollfd){ .fd = rl->run.out_fd, .events = POLLIN };
	}
	n = poll(p, P_N, poll_timeout(rl));
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return error_set(err, EXIT_INTERNAL, "poll: %s", strerror(errno));
	}
	if (p[P_SIG].revents)
		on_signals(rl);
	if (p[P_IN].revents) {
		int rc = read_into(rl, rl->o->in_fd, &rl->in, orchestrator_line, err);

		if (rc == READ_ERROR)
			return -1;
		if (rc == READ_EOF)
			rl->in_eof = true;
	}
	if (p[P_EVT].revents) {
		int rc = read_into(rl, rl->run.evt_fd, &rl->evt, runner_line, err);

		if (rc == READ_ERROR)
			return -1;
		if (rc == READ_EOF) {
			close(rl->run.evt_fd);
			rl->run.evt_fd = -1;
		}
	}
	if (p[P_ROUT].revents) {
		runner_read_output(&rl->run);
		if (forward_stderr(rl, false, err) < 0)
			return -1;
	}
	if (rl->hello && rl->cmd.fd >= 0 && outq_flush(&rl->cmd) < 0) {
		/* The runner closed its command pipe (exiting): its death
		 * arrives as SIGCHLD. */
		close(rl->run.cmd_fd);
		rl->run.cmd_fd = -1;
	}
	if (outq_flush(&rl->out) < 0)
		rl->stop = true;
	if (rl->hello)
		check_deadline(rl);
	return 0;
}

static int
run(struct relay *rl, struct error **err)
{
	int fl = fcntl(rl->o->out_fd, F_GETFL);

	/* Only stdout must never block; stdin is read only when poll()
	 * says so, and its flags are shared with whoever else holds it. */
	if (fl < 0 || fcntl(rl->o->out_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return error_set(err, EXIT_INTERNAL, "stdout: fcntl: %s", strerror(errno));
	for (;;) {
		if (loop_once(rl, err) < 0)
			return -1;
		if (rl->stop || rl->in_eof) {
			/* Orchestrator gone or docker stop: nobody will use
			 * the runner's results. */
			if (rl->hello) {
				runner_kill(&rl->run);
				runner_wait(&rl->run);
			}
			return EXIT_INTERRUPTED;
		}
		if (rl->hello && rl->run.exited) {
			if (drain_runner(rl, err) < 0)
				return -1;
			if (report_end(rl, err) < 0)
				return -1;
			/* Leftovers of the group (daemons a test started). */
			runner_kill(&rl->run);
			outq_drain(&rl->out, RELAY_DRAIN_MS);
			return EXIT_OK;
		}
	}
}

int
relay_run(const struct relay_opts *o, struct error **err)
{
	struct relay rl = { .o = o, .current = -1, .oom_before = oom_kills() };
	int rc;

	proto_reader_init(&rl.in, PROTO_LINE_MAX);
	proto_reader_init(&rl.evt, PROTO_LINE_MAX);
	outq_init(&rl.out, o->out_fd, RELAY_OUT_MAX, RELAY_OUT_HIGH);
	outq_init(&rl.cmd, -1, RELAY_CMD_MAX, RELAY_CMD_HIGH);
	runner_init(&rl.run);
	rc = run(&rl, err);
	if (rc < 0) {
		/* The orchestrator hears why before the agent leaves. */
		if (*err)
			emit_error(&rl, (*err)->msg);
		if (rl.hello) {
			runner_kill(&rl.run);
			runner_wait(&rl.run);
		}
		outq_drain(&rl.out, RELAY_DRAIN_MS);
		rc = (*err && (*err)->status) ? (*err)->status : EXIT_INTERNAL;
	}
	runner_release(&rl.run);
	outq_release(&rl.cmd);
	outq_release(&rl.out);
	proto_reader_release(&rl.evt);
	proto_reader_release(&rl.in);
	return rc;
}
