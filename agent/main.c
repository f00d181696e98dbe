/* xdock-agent: the command of every worker container. Parses the command
 * line, routes signals to a signalfd, and hands over to the relay. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"
#include "proto.h"
#include "relay.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: xdock-agent [--controller] [--timeout SECONDS] [--output-cap BYTES] [--channel SOCKET] -- "
		   "python3 -m pytest [args...]\n");
}

static int
parse_long(const char *opt, const char *s, long *out, struct error **err)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || end == s || *end || *out < 0)
		return error_set(err, EXIT_USAGE, "%s: not a non-negative integer: %s", opt, s);
	return 0;
}

static int
parse_args(int argc, char **argv, struct relay_opts *o, const char **chan, struct error **err)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(EXIT_OK);
		}
		if (strcmp(a, "--controller") == 0) {
			o->runner.controller = true;
			continue;
		}
		if (i + 1 >= argc)
			return error_set(err, EXIT_USAGE, "%s: missing value or command", a);
		if (strcmp(a, "--timeout") == 0) {
			if (parse_long(a, argv[++i], &o->runner.timeout_s, err) < 0)
				return -1;
		} else if (strcmp(a, "--channel") == 0) {
			*chan = argv[++i];
		} else if (strcmp(a, "--output-cap") == 0) {
			if (parse_long(a, argv[++i], &o->runner.output_cap, err) < 0)
				return -1;
		} else {
			return error_set(err, EXIT_USAGE, "unknown option %s", a);
		}
	}
	if (i >= argc)
		return error_set(err, EXIT_USAGE, "no command after --");
	o->argv = argv + i;
	return 0;
}

/* Never runs: the signals are blocked and read from the signalfd. It only
 * makes the disposition "caught", because as PID 1 in a container a signal
 * left at SIG_DFL may be dropped by the kernel before it is queued. */
static void
noop_handler(int sig)
{
	(void)sig;
}

static int
setup_signals(struct error **err)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa = { .sa_handler = noop_handler };
	sigset_t set;
	int fd;

	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		sigaddset(&set, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	/* A vanished orchestrator shows up as EPIPE on the write, not as a
	 * signal that kills us before the runner is cleaned up. */
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return error_set(err, EXIT_INTERNAL, "sigprocmask: %s", strerror(errno));
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return error_set(err, EXIT_INTERNAL, "signalfd: %s", strerror(errno));
	return fd;
}

/* The local channel: the protocol both ways over the orchestrator's
 * socket, mounted at `path`, instead of stdin/stdout through the engine.
 * Where it cannot be reached (an engine whose bind mounts do not carry
 * sockets across, as a VM's file sharing) the agent says so on stdout,
 * where the orchestrator still listens, and goes on over the attach
 * stream. */
static void
open_channel(const char *path, struct relay_opts *o)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1;

	if (strlen(path) < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		o->in_fd = o->out_fd = fd;
		return;
	}
	fprintf(stderr, "xdock-agent: %s: %s: using the attach stream\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (write(STDOUT_FILENO, PROTO_NOCHAN "\n", strlen(PROTO_NOCHAN) + 1) < 0)
		return;
}

int
main(int argc, char **argv)
{
	cleanup_error struct error *err = NULL;
	struct relay_opts o = { .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .sig_fd = -1 };
	const char *chan = NULL;
	int rc;

	if (parse_args(argc, argv, &o, &chan, &err) < 0) {
		fprintf(stderr, "xdock-agent: %s\n", err->msg);
		usage(stderr);
		return err->status;
	}
	if (chan)
		open_channel(chan, &o);
	o.sig_fd = setup_signals(&err);
	if (o.sig_fd < 0) {
		fprintf(stderr, "xdock-agent: %s\n", err->msg);
		return err->status;
	}
	rc = relay_run(&o, &err);
	if (err)
		fprintf(stderr, "xdock-agent: %s\n", err->msg);
	close(o.sig_fd);
	return rc;
}
