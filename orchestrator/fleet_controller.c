/* The run's controller container (controller.h speaks to it): its agent
 * command (the user's pytest arguments plus the options xdock took that
 * shape pytest's output), its environment and its start. */
#include "fleet_priv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootdir.h"

/* The directory pytest's junitxml writes into (abs: the file, absolute
 * and normalised), when it is not in the project (which the controller
 * sees already); NULL otherwise. pytest makes the directory if need be:
 * so does xdock, on the host, so that it can be mounted. */
static char *
report_dir(const char *abs, const char *project)
{
	cleanup_free char *dir = xstrdup(abs);
	char *slash = strrchr(dir, '/');
	size_t n = strlen(project);

	*slash = '\0';
	if (!dir[0] || (strncmp(dir, project, n) == 0 && (dir[n] == '\0' || dir[n] == '/')))
		return NULL;
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		(void)mkdir(dir, 0777); /* exists already, or pytest says why */
		*p = c;
		if (!c)
			break;
	}
	return xstrdup(dir);
}

/* The controller: `--controller -- python3 -m pytest -p xdock_controller`
 * with the user's pytest arguments, plus the options xdock took for
 * itself that shape pytest's own output (-v/-q, --maxfail, --junitxml),
 * and in its environment what it needs to know of the run. */
void
fleet_controller_cmd(struct fleet *f)
{
	const struct config *cfg = f->cfg;
	size_t n = 0;

	f->ctl_cmd = xcalloc(cfg->nworker_args + cfg->npytest_args + 16, sizeof(*f->ctl_cmd));
	f->ctl_cmd[n++] = "--controller";
	f->ctl_cmd[n++] = "--";
	f->ctl_cmd[n++] = "python3";
	f->ctl_cmd[n++] = "-m";
	f->ctl_cmd[n++] = "pytest";
	f->ctl_cmd[n++] = "-p";
	f->ctl_cmd[n++] = "xdock_controller";
	/* What the workers get before the user's arguments (`-o addopts=`:
	 * xdock has read addopts already and passes its pytest options on
	 * in pytest_args; read twice, an option there would count twice, and
	 * one of an option xdock took over would reach pytest). */
	for (size_t i = 0; i < cfg->nworker_args; i++)
		f->ctl_cmd[n++] = cfg->worker_args[i];
	for (size_t i = 0; i < cfg->npytest_args; i++)
		f->ctl_cmd[n++] = cfg->pytest_args[i];
	for (int i = 0; i < abs(cfg->verbose) && i < 4; i++)
		f->ctl_cmd[n++] = cfg->verbose > 0 ? "-v" : "-q";
	if (cfg->maxfail > 0) {
		char *v = xasprintf("--maxfail=%d", cfg->maxfail);

		util_strv_push(&f->ctl_args, &f->nctl_args, v);
		f->ctl_cmd[n++] = v;
	}
	if (cfg->junitxml) {
		/* Relative to xdock's working directory, as pytest's to its
		 * own: the controller's may be another (a cwd outside the
		 * project), and "../out" may leave the project. */
		char cwd[PATH_MAX];
		cleanup_free char *abs = rootdir_abspath(getcwd(cwd, sizeof(cwd)) ? cwd : fleet_first(f)->ctx.project_dir,
							 cfg->junitxml);
		char *v = xasprintf("--junitxml=%s", abs);

		util_strv_push(&f->ctl_args, &f->nctl_args, v);
		f->ctl_cmd[n++] = v;
		f->ctl_dir = report_dir(abs, fleet_first(f)->ctx.project_dir);
	}
	f->ctl_cmd[n] = NULL;
}

/* What the controller's pytest needs to know of the run, and of the
 * terminal it writes to through xdock. */
static void
controller_env(const struct fleet *f, char ***env, size_t *nenv)
{
	struct winsize ws;
	const char *color = getenv("PY_COLORS");

	util_strv_push(env, nenv, xasprintf("XDOCK_WORKERS=%zu", f->nw));
	util_strv_push(env, nenv, xasprintf("XDOCK_DIST=%s", sched_mode_name(f->cfg->dist)));
	if (getenv("COLUMNS"))
		util_strv_push(env, nenv, xasprintf("COLUMNS=%s", getenv("COLUMNS")));
	if (isatty(STDOUT_FILENO)) {
		if (!color && !getenv("NO_COLOR"))
			util_strv_push(env, nenv, xstrdup("PY_COLORS=1"));
		if (!getenv("COLUMNS") && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
			util_strv_push(env, nenv, xasprintf("COLUMNS=%u", (unsigned)ws.ws_col));
	}
	/* pytest reads these; the container would not see the user's. */
	if (color)
		util_strv_push(env, nenv, xasprintf("PY_COLORS=%s", color));
	if (getenv("NO_COLOR"))
		util_strv_push(env, nenv, xasprintf("NO_COLOR=%s", getenv("NO_COLOR")));
	if (getenv("FORCE_COLOR"))
		util_strv_push(env, nenv, xasprintf("FORCE_COLOR=%s", getenv("FORCE_COLOR")));
}

/* The controller's setup: the workers' (image, mounts, user, network,
 * --env) with its own command. */
void
fleet_controller_setup(struct fleet *f)
{
	f->ctl_setup = fleet_first(f)->setup;
	f->ctl_setup.controller = true;
	f->ctl_setup.agent_cmd = f->ctl_cmd;
	f->ctl_setup.extra_dir = f->ctl_setup.project_volume ? NULL : f->ctl_dir;
}

/* The controller with the placeholders of the --env values and the pytest
 * arguments expanded too: it imports the user's conftest and settings
 * (a Django settings module reading an --env value parses it), so an
 * unexpanded "{port}" there ends the run. It has no worker of its own:
 * {worker} is empty, {database} the template (it never opens it), the
 * server's {host} and {port} are the first worker's. */
int
fleet_controller_start(struct fleet *f, struct docker *dk, struct error **err)
{
	struct worker_setup ws = f->ctl_setup;
	const struct provision *prov = fleet_first(f)->prov;
	struct provision_vars v;
	struct provision_vars_store store;
	char **env = NULL, **cmd = NULL, **run_env = NULL;
	size_t nenv = 0, ncmd = 0, nrun_env = 0;
	int rc;

	provision_vars(prov, 0, "", prov->mode == CLI_DB_NONE ? NULL : PROVISION_TEMPLATE, &v, &store);
	for (size_t i = 0; i < f->nenv; i++)
		util_strv_push(&env, &nenv, provision_expand(f->env[i], &v));
	for (size_t i = 0; f->ctl_cmd[i]; i++)
		util_strv_push(&cmd, &ncmd, provision_expand(f->ctl_cmd[i], &v));
	ws.env = (const char *const *)env;
	ws.agent_cmd = (const char *const *)cmd;
	controller_env(f, &run_env, &nrun_env);
	/* Its errors say "worker controller: ...". */
	rc = worker_start(&f->ctl, dk, &ws, (const char *const *)run_env, err);
	util_strv_free(run_env, nrun_env);
	util_strv_free(env, nenv);
	util_strv_free(cmd, ncmd);
	provision_vars_release(&store);
	return rc;
}
