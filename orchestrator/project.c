#include "project.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inifile.h"
#include "lastrun.h"
#include "rootdir.h"

/* What a suite commonly reads from the environment and a container would
 * not otherwise have: Django's settings, pytest's own plugin variables,
 * warnings filters, the hash seed, and CI (which many suites test). Kept
 * short: anything tied to the host (PATH, HOME, PYTHONPATH, locales) would
 * be wrong inside the image. PYTEST_ADDOPTS is not here: xdock reads it
 * itself and hands its options over on the command line. */
const char *const project_passenv[] = {
	"DJANGO_SETTINGS_MODULE", "DJANGO_CONFIGURATION", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
	"PYTHONWARNINGS", "PYTHONHASHSEED", "CI", NULL,
};

static void
words_add(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

static bool
is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The file xdock's settings come from: pytest's inifile; without one, the
 * first of pytest's file names in the rootdir that has an xdock section.
 * 1: *f filled, 0: no file. */
static int
find_config(const struct rootdir *rd, struct inifile *f, struct error **err)
{
	if (rd->inifile) {
		if (inifile_read(rd->inifile, f, err) < 0)
			return -1;
		return 1;
	}
	for (size_t k = 0; inifile_names[k]; k++) {
		cleanup_free char *p = xasprintf("%s/%s", strcmp(rd->rootdir, "/") ? rd->rootdir : "", inifile_names[k]);

		if (!is_file(p))
			continue;
		if (inifile_read(p, f, err) < 0)
			return -1;
		if (f->has_xdock)
			return 1;
		inifile_release(f);
	}
	return 0;
}

static int
apply_settings(struct config *c, const struct inifile *f, struct error **err)
{
	cleanup_free char *origin = xasprintf("%s %s", f->path, f->xdock_section);
	cleanup_free char *base = xstrdup(f->path);
	char *slash = strrchr(base, '/');

	if (slash)
		*slash = '\0';
	for (size_t i = 0; i < f->nsettings; i++)
		if (cli_set(c, f->settings[i].key, f->settings[i].value, origin, base, err) < 0)
			return -1;
	return 0;
}

static void
note_origin(struct config *c, const char *what, const char *from)
{
	char *prev = c->origins;

	c->origins = xasprintf("%s%s: %s\n", prev ? prev : "", what, from);
	free(prev);
}

/* pytest's options whose value is a path it takes from the directory it
 * was started in. */
static const char *const cwd_path_opts[] = { "-c", "--config-file", "--rootdir", "--confcutdir", "--basetemp",
					     "--ignore", "--log-file", "--cov-config" };

/* The length of the option a starts with when it is one of those ("-c"
 * also as "-cFILE", a long one also as "--opt=FILE"), or 0. */
static size_t
cwd_path_opt(const char *a)
{
	for (size_t k = 0; k < ARRAY_SIZE(cwd_path_opts); k++) {
		size_t len = strlen(cwd_path_opts[k]);

		if (strncmp(a, cwd_path_opts[k], len) == 0 &&
		    (a[len] == '\0' || a[len] == '=' || (a[1] != '-' && a[len] != '\0')))
			return len;
	}
	return 0;
}

/* From outside the project the workers start in the rootdir: relative
 * paths on the command line (the path arguments and the values of the
 * options above, in any spelling) are made absolute, so they name the
 * same files there. */
static void
absolute_paths(struct config *c, const char *cwd)
{
	for (size_t i = 0; i < c->npytest_args; i++) {
		const char *a = c->pytest_args[i];
		size_t len = a[0] == '-' ? cwd_path_opt(a) : 0;
		bool path = false;

		if (len && a[len] == '\0') {
			if (i + 1 >= c->npytest_args)
				break;
			a = c->pytest_args[++i];
			path = true;
		} else if (len) {
			const char *v = a + len + (a[len] == '=');
			cleanup_free char *abs = NULL;

			if (v[0] == '/' || v[0] == '\0')
				continue;
			abs = rootdir_abspath(cwd, v);
			c->pytest_args[i] = cli_own(c, xasprintf("%.*s%s", (int)(v - a), a, abs));
			continue;
		}
		for (size_t k = 0; k < c->npositional && !path; k++)
			path = c->positional[k] == a;
		if (!path || a[0] == '/' || strcmp(a, "-") == 0)
			continue;
		c->pytest_args[i] = cli_own(c, rootdir_abspath(cwd, a));
		/* A node id keeps its "::" part: abspath leaves it be. */
	}
}

/* The default variables first, so that a setting or --env naming the same
 * variable decides it. */
static void
add_passenv(struct config *c)
{
	const char **env = NULL;
	size_t n = 0;

	for (size_t i = 0; project_passenv[i]; i++) {
		size_t len = strlen(project_passenv[i]);
		bool given = false;

		for (size_t k = 0; k < c->nenv; k++)
			given |= strncmp(c->env[k], project_passenv[i], len) == 0 &&
				 (c->env[k][len] == '\0' || c->env[k][len] == '=');
		if (!given)
			words_add(&env, &n, project_passenv[i]);
	}
	for (size_t k = 0; k < c->nenv; k++)
		words_add(&env, &n, c->env[k]);
	free(c->env);
	c->env = env;
	c->nenv = n;
}

/* The words xdock parses before the command line, in pytest's order: the
 * inifile's addopts, then PYTEST_ADDOPTS. Strings owned by c. */
static int
addopts_words(struct config *c, const struct inifile *f, const char *env_addopts, const char ***words, size_t *nwords,
	      struct error **err)
{
	if (f && f->pytest) {
		for (size_t i = 0; i < f->naddopts; i++)
			words_add(words, nwords, cli_own(c, xstrdup(f->addopts[i])));
		if (f->naddopts)
			note_origin(c, "addopts", f->path);
	}
	if (env_addopts && *env_addopts) {
		char **w = NULL;
		size_t n = 0;

		if (cli_split(env_addopts, &w, &n) < 0) {
			for (size_t i = 0; i < n; i++)
				free(w[i]);
			free(w);
			return error_set(err, EXIT_USAGE, "PYTEST_ADDOPTS: no closing quotation");
		}
		for (size_t i = 0; i < n; i++)
			words_add(words, nwords, cli_own(c, w[i]));
		free(w);
		note_origin(c, "addopts", "PYTEST_ADDOPTS");
	}
	return 0;
}

/* Every option of the config went through xdock already (addopts
 * included), so the workers' pytest must not read addopts again: an -n
 * there would start xdist's controller inside a worker, a -v would count
 * twice. */
static void
worker_args(struct config *c)
{
	words_add(&c->worker_args, &c->nworker_args, "-o");
	words_add(&c->worker_args, &c->nworker_args, "addopts=");
}

static void
take_where(struct config *c, struct rootdir *rd)
{
	c->rootdir = cli_own(c, steal_ptr(&rd->rootdir));
	c->inifile = rd->inifile ? cli_own(c, steal_ptr(&rd->inifile)) : NULL;
	c->project_dir = cli_own(c, steal_ptr(&rd->project_dir));
	c->workdir = cli_own(c, steal_ptr(&rd->workdir));
}

/* What run and replay read alike: the defaults, the project's config
 * where pytest finds it, then the addopts words in pytest's order (the
 * inifile's addopts, PYTEST_ADDOPTS). */
static int
read_project(struct config *c, const struct rootdir *rd, struct inifile *f, const char *env_addopts,
	     const char ***words, size_t *nwords, struct error **err)
{
	int found;

	cli_defaults(c);
	if ((found = find_config(rd, f, err)) < 0)
		return -1;
	if (found && apply_settings(c, f, err) < 0)
		return -1;
	return addopts_words(c, found ? f : NULL, env_addopts, words, nwords, err);
}

int
project_load(struct config *cfg, int argc, char **argv, const char *cwd, const char *env_addopts,
	     struct error **err)
{
	struct rootdir_in in = {
		.cwd = cwd,
		.args = cfg->positional,
		.nargs = cfg->npositional,
		.inifile_arg = cfg->inifile_arg,
		.rootdir_arg = cfg->rootdir_arg,
	};
	struct rootdir rd;
	struct inifile f = { 0 };
	struct config c;
	const char **words = NULL;
	size_t nwords = 0;
	int rc = -1;

	if (rootdir_decide(&in, &rd, err) < 0)
		return -1;
	/* Then the command line, last as pytest takes it. */
	if (read_project(&c, &rd, &f, env_addopts, &words, &nwords, err) < 0)
		goto out;
	for (int i = 2; i < argc; i++)
		words_add(&words, &nwords, argv[i]);
	if (cli_parse_run(&c, words, nwords, err) < 0 || cli_finish(&c, err) < 0)
		goto out;

	take_where(&c, &rd);
	if (rd.cwd_outside)
		absolute_paths(&c, cwd);
	worker_args(&c);
	if (!c.no_passenv)
		add_passenv(&c);
	cli_release(cfg);
	*cfg = c;
	memset(&c, 0, sizeof(c));
	rc = 0;
out:
	free(words);
	if (rc < 0)
		cli_release(&c);
	inifile_release(&f);
	rootdir_release(&rd);
	return rc;
}

static bool
is_dir(const char *p)
{
	struct stat st;

	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where the recorded run happened, when this machine has it: its
 * arguments and node ids are relative to its workdir. A report from
 * another machine (a CI artifact) runs where the user stands, as run
 * would. */
static void
recorded_where(struct config *c, const struct lastrun *lr, struct rootdir *rd)
{
	if (!is_dir(lr->project_dir) || !is_dir(lr->workdir) || !lr->rootdir) {
		take_where(c, rd);
		return;
	}
	c->rootdir = cli_own(c, xstrdup(lr->rootdir));
	c->inifile = lr->inifile ? cli_own(c, xstrdup(lr->inifile)) : NULL;
	c->project_dir = cli_own(c, xstrdup(lr->project_dir));
	c->workdir = cli_own(c, xstrdup(lr->workdir));
}

int
project_load_replay(struct config *cfg, int argc, char **argv, const char *cwd, const char *env_addopts,
		    struct lastrun *lr, struct error **err)
{
	struct rootdir_in in = { .cwd = cwd };
	struct rootdir rd;
	struct inifile f = { 0 };
	struct config c;
	const char **words = NULL;
	size_t nwords = 0;
	int rc = -1;

	memset(lr, 0, sizeof(*lr));
	/* The rootdir pytest decides here is where run wrote the record,
	 * as pytest finds its cache: from a subdirectory too. */
	if (rootdir_decide(&in, &rd, err) < 0)
		return -1;
	if (read_project(&c, &rd, &f, env_addopts, &words, &nwords, err) < 0)
		goto out;
	if (cli_parse_run(&c, words, nwords, err) < 0)
		goto out;
	/* The config's pytest words are in the record's arguments already.
	 * The files it names for the run's reports are not the replay's: a
	 * replay writing the run's --json-report would overwrite what bisect
	 * reads; a replay writes what its own command line asks for. */
	free(c.pytest_args);
	free(c.positional);
	c.pytest_args = c.positional = NULL;
	c.npytest_args = c.npositional = 0;
	c.json_report = c.junitxml = c.timeline = NULL;
	if (lastrun_load(rd.rootdir, cfg->replay_report, lr, err) < 0)
		goto out;
	{
		cleanup_free char *origin = xasprintf("recorded in %s", cfg->replay_report ? cfg->replay_report : rd.rootdir);

		if (lastrun_apply(lr, origin, &c, err) < 0)
			goto out;
	}
	if (cli_parse_replay(argc, argv, &c, err) < 0)
		goto out;
	if (c.db == CLI_DB_URL && !c.db_url) {
		error_set(err, EXIT_USAGE, "that run used --db-url, which the record does not keep: give --db-url again");
		goto out;
	}
	recorded_where(&c, lr, &rd);
	worker_args(&c);
	/* A record always lists --env with the passed defaults; one that
	 * does not gets them as run gives them. */
	if (!lr->env && !c.no_passenv)
		add_passenv(&c);
	cli_release(cfg);
	*cfg = c;
	memset(&c, 0, sizeof(c));
	rc = 0;
out:
	free(words);
	if (rc < 0) {
		cli_release(&c);
		lastrun_release(lr);
	}
	inifile_release(&f);
	rootdir_release(&rd);
	return rc;
}
