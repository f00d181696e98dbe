/* agent/relay.c: the hello exchange and the framing of the relayed
 * protocol lines, run in-process with real pipes, a real signalfd and a
 * shell as the runner (it writes protocol lines to $XDOCK_EVT_FD, split
 * across writes as a slow runner would). */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "proto.h"
#include "relay.h"
#include "util.h"

struct run_result {
	int rc;
	char *err;       /* the error's message, or NULL */
	struct buf out;  /* everything the agent wrote to the orchestrator */
};

/* Runs the relay on script (bash -c) with input already queued on stdin;
 * stdin stays open until the relay returns, unless close_in. */
static void
relay_with(const char *script, const char *input, int close_in, struct run_result *res)
{
	/* bash: dash takes no fd above 9 in a redirection. */
	const char *argv[] = { "bash", "-c", script, NULL };
	struct relay_opts o = { .argv = (char *const *)argv };
	struct error *err = NULL;
	int in[2], out[2];
	sigset_t set;
	char chunk[65536];
	ssize_t n;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &set, NULL), 0);
	signal(SIGPIPE, SIG_IGN);
	o.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	assert_true(o.sig_fd >= 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	/* Room for everything the tests write back at once. */
	(void)fcntl(out[1], F_SETPIPE_SZ, 1 << 20);
	assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	if (close_in) {
		close(in[1]);
		in[1] = -1;
	}
	o.in_fd = in[0];
	o.out_fd = out[1];
	res->rc = relay_run(&o, &err);
	res->err = err ? xstrdup(err->msg) : NULL;
	error_free(err);
	close(out[1]);
	buf_init(&res->out, 64 << 20);
	while ((n = read(out[0], chunk, sizeof(chunk))) > 0)
		assert_int_equal(buf_append(&res->out, chunk, (size_t)n), 0);
	assert_int_equal(buf_append(&res->out, "", 1), 0); /* NUL for strstr */
	close(out[0]);
	close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	close(o.sig_fd);
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);
}

static void
result_release(struct run_result *res)
{
	free(res->err);
	buf_release(&res->out);
}

static char *
hello(int v)
{
	return xasprintf(PROTO_PFX_HELLO "%d}\n", v);
}

/* Lines written in pieces (a start split in three writes, a result whose
 * newline comes alone) reach the orchestrator whole, in order, after the
 * hello reply; then done, then the exit message with the runner's status. */
static void
test_lines_relayed_whole(void **state)
{
	cleanup_free char *in = hello(PROTO_VERSION);
	cleanup_free char *want_hello = xasprintf(PROTO_PFX_HELLO "%d,\"pid\":%ld}\n", PROTO_VERSION,
						  (long)getpid());
	static const char script[] =
		"e=$XDOCK_EVT_FD; "
		"printf '{\"t\":\"sta' >&$e; sleep 0.05; printf 'rt\",\"i\"' >&$e; sleep 0.05; "
		"printf ':0}\\n{\"t\":\"result\",\"i\":0,\"outcome\":\"passed\"}' >&$e; sleep 0.05; "
		"printf '\\n' >&$e; printf '{\"t\":\"done\"}\\n' >&$e; exit 0";
	struct run_result res;
	const char *p;

	(void)state;
	relay_with(script, in, 0, &res);
	assert_int_equal(res.rc, EXIT_OK);
	assert_null(res.err);
	p = res.out.data;
	assert_memory_equal(p, want_hello, strlen(want_hello));
	p += strlen(want_hello);
	assert_string_equal(p, "{\"t\":\"start\",\"i\":0}\n"
			       "{\"t\":\"result\",\"i\":0,\"outcome\":\"passed\"}\n"
			       "{\"t\":\"done\"}\n"
			       "{\"t\":\"exit\",\"status\":0,\"output\":\"\"}\n");
	result_release(&res);
}

/* What the orchestrator sends after hello reaches the runner's command
 * pipe byte for byte; a runner that dies in a test is a crash for that
 * test with its status and output tail, then exit. */
static void
test_commands_and_crash(void **state)
{
	cleanup_free char *in = xasprintf(PROTO_PFX_HELLO "%d}\n{\"t\":\"run\",\"i\":[0,1]}\n", PROTO_VERSION);
	static const char script[] =
		"read -r line <&$XDOCK_CMD_FD; "
		"printf '{\"t\":\"start\",\"i\":1}\\n' >&$XDOCK_EVT_FD; "
		"echo \"got $line\"; exit 5";
	struct run_result res;

	(void)state;
	relay_with(script, in, 0, &res);
	assert_int_equal(res.rc, EXIT_OK);
	assert_non_null(strstr(res.out.data, "{\"t\":\"start\",\"i\":1}\n{\"t\":\"crash\",\"i\":1,\"status\":5,"
					     "\"signal\":0,\"timeout\":false,"
					     "\"reason\":\"runner exited with status 5 during the test\","
					     "\"output\":\"got {\\\"t\\\":\\\"run\\\",\\\"i\\\":[0,1]}\\n\"}\n"
					     "{\"t\":\"exit\",\"status\":5,"));
	result_release(&res);
}

/* A version mismatch: the error line, exit 3, and no runner started (the
 * runner would leave a marker). */
static void
test_version_mismatch(void **state)
{
	char dir[] = "/tmp/xdock-test-relay.XXXXXX";
	cleanup_free char *in = hello(PROTO_VERSION + 1);
	cleanup_free char *script = NULL, *mark = NULL, *want = NULL;
	struct run_result res;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	mark = xasprintf("%s/started", dir);
	script = xasprintf("touch %s", mark);
	want = xasprintf("{\"t\":\"error\",\"message\":\"protocol version mismatch: agent speaks %d, "
			 "orchestrator %d\"}\n", PROTO_VERSION, PROTO_VERSION + 1);
	relay_with(script, in, 0, &res);
	assert_int_equal(res.rc, EXIT_INTERNAL);
	assert_non_null(res.err);
	assert_string_equal(res.out.data, want);
	usleep(100000);
	assert_int_equal(stat(mark, &st), -1);
	rmdir(dir);
	result_release(&res);
}

/* Anything but hello first is a protocol error, said on the way out. */
static void
test_not_hello(void **state)
{
	struct run_result res;

	(void)state;
	relay_with("exit 0", "{\"t\":\"run\",\"i\":[0]}\n", 0, &res);
	assert_int_equal(res.rc, EXIT_INTERNAL);
	assert_non_null(strstr(res.out.data, "{\"t\":\"error\",\"message\":\"expected hello, got: "));
	result_release(&res);
}

/* A runner line one byte over PROTO_LINE_MAX: a protocol error naming the
 * runner, never a bigger buffer; the runner is killed. */
static void
test_overlong_runner_line(void **state)
{
	cleanup_free char *in = hello(PROTO_VERSION);
	cleanup_free char *script = xasprintf("head -c %u /dev/zero | tr '\\0' x >&$XDOCK_EVT_FD; sleep 60",
					      PROTO_LINE_MAX + 1);
	struct run_result res;
	int64_t t0 = util_now_ms();

	(void)state;
	relay_with(script, in, 0, &res);
	assert_int_equal(res.rc, EXIT_INTERNAL);
	assert_non_null(res.err);
	assert_non_null(strstr(res.err, "from runner: line longer than"));
	assert_non_null(strstr(res.out.data, "{\"t\":\"error\",\"message\":\"from runner: line longer than"));
	/* Killed, not waited out (the shell would sleep 60 s). */
	assert_true(util_now_ms() - t0 < 50000);
	result_release(&res);
}

/* The orchestrator gone (stdin EOF) while the runner hangs: the runner is
 * killed and the agent leaves with EXIT_INTERRUPTED. */
static void
test_stdin_eof(void **state)
{
	cleanup_free char *in = hello(PROTO_VERSION);
	struct run_result res;
	int64_t t0 = util_now_ms();

	(void)state;
	relay_with("sleep 60", in, 1, &res);
	assert_int_equal(res.rc, EXIT_INTERRUPTED);
	assert_true(util_now_ms() - t0 < 50000);
	result_release(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_relayed_whole),
		cmocka_unit_test(test_commands_and_crash),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test(test_not_hello),
		cmocka_unit_test(test_overlong_runner_line),
		cmocka_unit_test(test_stdin_eof),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
