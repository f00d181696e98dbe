#include "rootdir.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inifile.h"

char *
rootdir_abspath(const char *cwd, const char *p)
{
	char *joined = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", cwd, p);
	char *out = xmalloc(strlen(joined) + 2);
	size_t n = 0;

	/* Component by component: "." vanishes, ".." drops the last one. */
	for (char *save = NULL, *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		out[n++] = '/';
		memcpy(out + n, c, strlen(c));
		n += strlen(c);
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	free(joined);
	return out;
}

static bool
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool
exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* The parent directory, in place; "/" stays "/". */
static void
to_parent(char *p)
{
	char *s = strrchr(p, '/');

	if (s == p)
		p[1] = '\0';
	else if (s)
		*s = '\0';
}

/* a is b or one of b's ancestors. */
static bool
is_within(const char *b, const char *a)
{
	size_t n = strlen(a);

	if (strcmp(a, "/") == 0)
		return true;
	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

/* The deepest directory that holds both; heap. */
static char *
common(const char *a, const char *b)
{
	char *c = xstrdup(a);

	while (!is_within(b, c))
		to_parent(c);
	return c;
}

/* pytest's get_dirs_from_args: the arguments that exist, node ids cut at
 * "::", files replaced by their directory. None: the cwd. */
static char **
dirs_from_args(const struct rootdir_in *in, size_t *n)
{
	char **dirs = NULL;

	*n = 0;
	for (size_t i = 0; i < in->nargs; i++) {
		const char *a = in->args[i];
		const char *sep = strstr(a, "::");
		cleanup_free char *part = sep ? xstrndup(a, (size_t)(sep - a)) : xstrdup(a);
		char *abs = rootdir_abspath(in->cwd, part);

		if (!exists(abs)) {
			free(abs);
			continue;
		}
		if (!is_dir(abs))
			to_parent(abs);
		dirs = xrealloc(dirs, (*n + 1) * sizeof(*dirs));
		dirs[(*n)++] = abs;
	}
	if (*n == 0) {
		dirs = xmalloc(sizeof(*dirs));
		dirs[(*n)++] = xstrdup(in->cwd);
	}
	return dirs;
}

/* pytest's locate_config from one directory up: the first file of
 * inifile_names that is pytest's inifile. 1: found, 0: none. */
static int
locate_from(const char *start, char **dir, char **ini, struct error **err)
{
	cleanup_free char *d = xstrdup(start);

	for (;;) {
		for (size_t k = 0; inifile_names[k]; k++) {
			cleanup_free char *p = xasprintf("%s%s%s", d, strcmp(d, "/") ? "/" : "", inifile_names[k]);
			struct inifile f;

			if (!is_file(p))
				continue;
			if (inifile_read(p, &f, err) < 0)
				return -1;
			if (f.pytest) {
				inifile_release(&f);
				*dir = steal_ptr(&d);
				*ini = steal_ptr(&p);
				return 1;
			}
			inifile_release(&f);
		}
		if (strcmp(d, "/") == 0)
			return 0;
		to_parent(d);
	}
}

/* The first ancestor (or dir itself) that holds `name`; NULL: none. */
static char *
find_up(const char *dir, const char *name)
{
	char *d = xstrdup(dir);

	for (;;) {
		cleanup_free char *p = xasprintf("%s%s%s", d, strcmp(d, "/") ? "/" : "", name);

		if (exists(p))
			return d;
		if (strcmp(d, "/") == 0)
			break;
		to_parent(d);
	}
	free(d);
	return NULL;
}

/* pytest's determine_setup: rootdir and inifile. */
static int
decide_rootdir(const struct rootdir_in *in, char **dirs, size_t ndirs, struct rootdir *out, struct error **err)
{
	cleanup_free char *ancestor = xstrdup(dirs[0]);
	int found;

	for (size_t i = 1; i < ndirs; i++) {
		char *c = common(ancestor, dirs[i]);

		free(ancestor);
		ancestor = c;
	}
	if (in->inifile_arg) {
		out->inifile = rootdir_abspath(in->cwd, in->inifile_arg);
		if (!is_file(out->inifile))
			return error_set(err, EXIT_USAGE, "-c %s: no such file", in->inifile_arg);
		out->rootdir = xstrdup(out->inifile);
		to_parent(out->rootdir);
		return 0;
	}
	if ((found = locate_from(ancestor, &out->rootdir, &out->inifile, err)) != 0)
		return found < 0 ? -1 : 0;
	if ((out->rootdir = find_up(ancestor, "setup.py")) != NULL)
		return 0;
	/* Each argument's own directories, when they are several. */
	for (size_t i = 0; ndirs > 1 && i < ndirs; i++)
		if ((found = locate_from(dirs[i], &out->rootdir, &out->inifile, err)) != 0)
			return found < 0 ? -1 : 0;
	out->rootdir = common(in->cwd, ancestor);
	if (strcmp(out->rootdir, "/") == 0) {
		free(out->rootdir);
		out->rootdir = xstrdup(ancestor);
	}
	return 0;
}

int
rootdir_decide(const struct rootdir_in *in, struct rootdir *out, struct error **err)
{
	size_t ndirs;
	char **dirs = dirs_from_args(in, &ndirs);
	char *need = NULL, *git;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (decide_rootdir(in, dirs, ndirs, out, err) < 0)
		goto out;
	if (in->rootdir_arg) {
		free(out->rootdir);
		out->rootdir = rootdir_abspath(in->cwd, in->rootdir_arg);
		if (!is_dir(out->rootdir)) {
			error_set(err, EXIT_USAGE, "Directory '%s' not found. Check your '--rootdir' option.",
				  out->rootdir);
			goto out;
		}
	}
	/* The project holds the rootdir, the inifile and every path given.
	 * Without an inifile nothing says where the project ends: then it
	 * is the git work tree around them, when there is one. */
	need = xstrdup(out->rootdir);
	for (size_t i = 0; i < ndirs; i++) {
		char *c = common(need, dirs[i]);

		free(need);
		need = c;
	}
	if (out->inifile) {
		cleanup_free char *d = xstrdup(out->inifile);
		char *c;

		to_parent(d);
		c = common(need, d);
		free(need);
		need = c;
	}
	git = out->inifile ? NULL : find_up(need, ".git");
	if (git && strcmp(git, "/") != 0) {
		out->project_dir = git;
	} else {
		free(git);
		out->project_dir = xstrdup(need);
	}
	if (strcmp(out->project_dir, "/") == 0) {
		error_set(err, EXIT_USAGE,
			  "the paths share no directory but /, and / cannot be the project: run the paths of one "
			  "project at a time (rootdir %s)", out->rootdir);
		goto out;
	}
	out->cwd_outside = !is_within(in->cwd, out->project_dir);
	out->workdir = xstrdup(out->cwd_outside ? out->rootdir : in->cwd);
	rc = 0;
out:
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	free(need);
	if (rc < 0)
		rootdir_release(out);
	return rc;
}

void
rootdir_release(struct rootdir *r)
{
	free(r->rootdir);
	free(r->inifile);
	free(r->project_dir);
	free(r->workdir);
	memset(r, 0, sizeof(*r));
}
