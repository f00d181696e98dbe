#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "plugin.h"

/* The runner's own file names for the plugins, and so the module names
 * used in `-p xdock_plugin` and `-p xdock_controller`. */
#define RUNNER_PLUGIN_FILE "xdock_plugin.py"
#define RUNNER_CONTROLLER_FILE "xdock_controller.py"
/* Imported by xdock_plugin, so only the name matters. */
#define RUNNER_DJANGO_FILE "xdock_django.py"
/* Fallback when close_range() is unavailable (old kernel, seccomp). */
#define RUNNER_FD_SCAN_MAX 65536
/* The controller's stderr waiting for the relay; more is dropped. */
#define RUNNER_FORWARD_MAX ((size_t)4 << 20)

extern char **environ;

void
runner_init(struct runner *r)
{
	r->pid = -1;
	r->exited = false;
	r->status = 0;
	r->cmd_fd = -1;
	r->evt_fd = -1;
	r->out_fd = -1;
	r->tmpdir = NULL;
	tail_init(&r->tail);
	buf_init(&r->forward, 0);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
write_file(const char *dir, const char *name, const char *data, size_t len, struct error **err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return error_set(err, EXIT_INTERNAL, "create %s: %s", path, strerror(errno));
	if (write_all(fd, data, len) < 0)
		return error_set(err, EXIT_INTERNAL, "write %s: %s", path, strerror(errno));
	if (close(steal_fd(&fd)) < 0)
		return error_set(err, EXIT_INTERNAL, "close %s: %s", path, strerror(errno));
	return 0;
}

/* Every plugin file, whatever the role: the controller imports the
 * worker's module for its channel. */
static int
write_plugin(struct runner *r, struct error **err)
{
	const char *base = getenv("TMPDIR");
	cleanup_free char *tmpl = NULL;

	if (!base || !*base)
		base = "/tmp";
	tmpl = xasprintf("%s/xdock-agent.XXXXXX", base);
	if (!mkdtemp(tmpl))
		return error_set(err, EXIT_INTERNAL, "mkdtemp %s: %s", tmpl, strerror(errno));
	r->tmpdir = steal_ptr(&tmpl);
	if (write_file(r->tmpdir, RUNNER_PLUGIN_FILE, agent_plugin_py, agent_plugin_py_len, err) < 0 ||
	    write_file(r->tmpdir, RUNNER_DJANGO_FILE, agent_django_py, agent_django_py_len, err) < 0)
		return -1;
	return write_file(r->tmpdir, RUNNER_CONTROLLER_FILE, agent_controller_py, agent_controller_py_len,
			  err);
}

/* argv with `-p xdock_plugin` after `-m pytest`, if there is one. The
 * array is heap, its strings borrowed from argv. pytest's cacheprovider
 * stays: conftests read config.cache in workers as under xdist, and the
 * plugin keeps workers from writing lastfailed as xdist's workers do. */
char **
runner_build_argv(char *const argv[])
{
	static const char *const extra[] = { "-p", "xdock_plugin" };
	size_t n = 0, i, j = 0, at = 0;
	char **out;

	while (argv[n])
		n++;
	for (i = 1; i + 1 < n; i++) {
		if (strcmp(argv[i], "-m") == 0 && strcmp(argv[i + 1], "pytest") == 0) {
			at = i + 2;
			break;
		}
	}
	out = xcalloc(n + ARRAY_SIZE(extra) + 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (at && i == at)
			for (size_t k = 0; k < ARRAY_SIZE(extra); k++)
				out[j++] = (char *)extra[k];
		out[j++] = argv[i];
	}
	if (at && at == n)
		for (size_t k = 0; k < ARRAY_SIZE(extra); k++)
			out[j++] = (char *)extra[k];
	out[j] = NULL;
	return out;
}

static bool
env_is(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The agent's environment, minus what we set, plus PYTHONPATH led by the
 * plugin's dir and the XDOCK_* variables the plugin reads. Heap array of
 * heap strings, freed with free_env. */
static char **
build_env(const struct runner *r, int cmd_fd, int evt_fd, const struct runner_opts *o)
{
	static const char *const ours[] = { "PYTHONPATH", "XDOCK_CMD_FD", "XDOCK_EVT_FD",
					    "XDOCK_TIMEOUT", "XDOCK_OUTPUT_CAP", "XDOCK_ROLE" };
	const char *pp = getenv("PYTHONPATH");
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = xcalloc(n + ARRAY_SIZE(ours) + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++) {
		bool skip = false;

		for (size_t k = 0; k < ARRAY_SIZE(ours); k++)
			skip = skip || env_is(environ[i], ours[k]);
		if (!skip)
			env[j++] = xstrdup(environ[i]);
	}
	if (pp && *pp)
		env[j++] = xasprintf("PYTHONPATH=%s:%s", r->tmpdir, pp);
	else
		env[j++] = xasprintf("PYTHONPATH=%s", r->tmpdir);
	env[j++] = xasprintf("XDOCK_CMD_FD=%d", cmd_fd);
	env[j++] = xasprintf("XDOCK_EVT_FD=%d", evt_fd);
	if (o->timeout_s > 0)
		env[j++] = xasprintf("XDOCK_TIMEOUT=%ld", o->timeout_s);
	if (o->output_cap > 0)
		env[j++] = xasprintf("XDOCK_OUTPUT_CAP=%ld", o->output_cap);
	env[j++] = xstrdup(o->controller ? "XDOCK_ROLE=controller" : "XDOCK_ROLE=worker");
	env[j] = NULL;
	return env;
}

static void
free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* In the child, between fork and exec. The agent has one thread, so libc
 * is usable here; anything that fails ends in status 127. */
static void __attribute__((noreturn))
child_exec(char **argv, char **env, int null_fd, int out_w, int err_w, int cmd_r, int evt_w)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (dup2(null_fd, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		_exit(127);
	if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
		long max = sysconf(_SC_OPEN_MAX);

		if (max < 0 || max > RUNNER_FD_SCAN_MAX)
			max = RUNNER_FD_SCAN_MAX;
		for (int fd = 3; fd < max; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	if (fcntl(cmd_r, F_SETFD, 0) < 0 || fcntl(evt_w, F_SETFD, 0) < 0)
		_exit(127);
	execvpe(argv[0], argv, env);
	dprintf(2, "xdock-agent: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void
close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	p[0] = p[1] = -1;
}

int
runner_start(struct runner *r, char *const argv[], const struct runner_opts *o,
	     struct error **err)
{
	int cmd[2] = { -1, -1 }, evt[2] = { -1, -1 }, out[2] = { -1, -1 };
	cleanup_close int null_fd = -1;
	cleanup_free char **args = NULL;
	char **env = NULL;
	pid_t pid;
	int rc = -1;

	if (write_plugin(r, err) < 0)
		return error_wrap(err, "runner");
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		return error_set(err, EXIT_INTERNAL, "runner: open /dev/null: %s", strerror(errno));
	if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(evt, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		error_set(err, EXIT_INTERNAL, "runner: pipe: %s", strerror(errno));
		goto out;
	}
	if (set_nonblock(cmd[1]) < 0 || set_nonblock(evt[0]) < 0 || set_nonblock(out[0]) < 0) {
		error_set(err, EXIT_INTERNAL, "runner: fcntl: %s", strerror(errno));
		goto out;
	}
	args = runner_build_argv(argv);
	env = build_env(r, cmd[0], evt[1], o);
	pid = fork();
	if (pid < 0) {
		error_set(err, EXIT_INTERNAL, "runner: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		/* The controller's output is what the user reads: its stdout
		 * straight to the container's stderr, which xdock copies to its
		 * stdout; its stderr through the pipe, which the relay sends on
		 * for xdock's stderr (as pytest-xdist's controller writes both). */
		child_exec(args, env, null_fd, o->controller ? STDERR_FILENO : out[1], out[1], cmd[0], evt[1]);
	if (o->controller)
		r->forward.max = RUNNER_FORWARD_MAX;
	/* Also in the parent: kill(-pid) must work even if the child has not
	 * run yet. EACCES means it already exec'd, after its own setpgid. */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH) {
		error_set(err, EXIT_INTERNAL, "runner: setpgid: %s", strerror(errno));
		kill(pid, SIGKILL);
	}
	r->pid = pid;
	r->cmd_fd = steal_fd(&cmd[1]);
	r->evt_fd = steal_fd(&evt[0]);
	r->out_fd = steal_fd(&out[0]);
	rc = *err ? -1 : 0;
out:
	close_pair(cmd);
	close_pair(evt);
	close_pair(out);
	free_env(env);
	return rc;
}

void
runner_kill(struct runner *r)
{
	if (r->pid > 0) {
		kill(-r->pid, SIGKILL);
		if (!r->exited)
			kill(r->pid, SIGKILL);
	}
}

bool
runner_reaped(struct runner *r, pid_t pid, int status)
{
	if (r->pid <= 0 || pid != r->pid)
		return false;
	r->exited = true;
	r->status = status;
	return true;
}

void
runner_wait(struct runner *r)
{
	while (r->pid > 0 && !r->exited) {
		int st;
		pid_t p = waitpid(r->pid, &st, 0);

		if (p == r->pid) {
			runner_reaped(r, p, st);
		} else if (p < 0 && errno != EINTR) {
			/* ECHILD: reaped elsewhere; nothing left to wait for. */
			r->exited = true;
			r->status = 0;
		}
	}
}

int
runner_read_output(struct runner *r)
{
	char chunk[65536];

	/* Bounded per call so a chatty runner cannot starve the relay. */
	for (int i = 0; i < 16; i++) {
		ssize_t n;

		if (r->out_fd < 0)
			return -1;
		n = read(r->out_fd, chunk, sizeof(chunk));
		if (n > 0) {
			tail_append(&r->tail, chunk, (size_t)n);
			/* Past the cap (a relay that cannot send) the rest is
			 * dropped: stderr must never stall the controller. */
			if (r->forward.max)
				buf_append_trunc(&r->forward, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		close(r->out_fd);
		r->out_fd = -1;
		return -1;
	}
	return 1;
}

static int
remove_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	/* Best effort: a leftover in $TMPDIR is not worth failing for. */
	remove(path);
	return 0;
}

void
runner_release(struct runner *r)
{
	int *fds[] = { &r->cmd_fd, &r->evt_fd, &r->out_fd };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	buf_release(&r->forward);
	if (r->tmpdir) {
		/* The plugin file and Python's __pycache__ beside it. */
		nftw(r->tmpdir, remove_cb, 8, FTW_DEPTH | FTW_PHYS);
		free(r->tmpdir);
		r->tmpdir = NULL;
	}
}
