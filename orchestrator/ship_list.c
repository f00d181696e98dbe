/* The file list of ship_list.h. git answers for a work tree
 * (`ls-files -co --exclude-standard`, NUL-separated, capped); otherwise
 * the tree is walked. Neither follows a symbolic link, so a link to a
 * directory above it is one entry, not a loop. */
#include "ship_list.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "buf.h"

/* git's listing of a huge tree (a million names of 100 bytes). */
#define LIST_MAX ((size_t)128 << 20)
#define DOCKERIGNORE_MAX ((size_t)1 << 20)

extern char **environ;

/* `git -C dir ls-files -z -co --exclude-standard` into out; -1 when git is
 * missing or dir is no work tree (the caller walks instead). */
static int
git_list(const char *dir, struct buf *out)
{
	cleanup_free char *d = xstrdup(dir);
	char a0[] = "git", a1[] = "-C", a3[] = "ls-files", a4[] = "-z", a5[] = "-co", a6[] = "--exclude-standard";
	char *argv[] = { a0, a1, d, a3, a4, a5, a6, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], status = 0;
	pid_t pid;
	char chunk[65536];
	ssize_t k;
	bool over = false;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "git", &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while ((k = read(p[0], chunk, sizeof(chunk))) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		if (!over && buf_append(out, chunk, (size_t)k) < 0)
			over = true;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return !over && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* nftw has no context argument: the walk's state lives on the walking
 * thread. */
static __thread struct {
	struct ship_list *l;
	size_t root_len;
} walk;

static void
add(struct ship_list *l, const char *rel)
{
	util_strv_push(&l->files, &l->n, xstrdup(rel));
}

static int
walk_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + walk.root_len + 1;

	(void)st;
	if (ftw->level == 0)
		return 0;
	if (type == FTW_D && strcmp(path + ftw->base, ".git") == 0)
		return FTW_SKIP_SUBTREE;
	if (type == FTW_F || type == FTW_SL || type == FTW_SLN)
		add(walk.l, rel);
	return 0;
}

static int
walk_tree(struct ship_list *l, const char *root, size_t root_len, struct error **err)
{
	walk.l = l;
	walk.root_len = root_len;
	if (nftw(root, walk_cb, 32, FTW_PHYS | FTW_ACTIONRETVAL) < 0 && errno != ENOENT)
		return error_set(err, EXIT_INTERNAL, "walk %s: %s", root, strerror(errno));
	return 0;
}

static void
strip(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '/'))
		s[--n] = '\0';
}

static bool
match_one(const char *pat, const char *rel)
{
	/* "**" crosses directories: then '*' does too. */
	int flags = strstr(pat, "**") ? 0 : FNM_PATHNAME;
	cleanup_free char *prefix = xstrdup(rel);

	if (fnmatch(pat, rel, flags) == 0)
		return true;
	/* A pattern that names a directory covers everything under it. */
	for (char *s = strrchr(prefix, '/'); s; s = strrchr(prefix, '/')) {
		*s = '\0';
		if (fnmatch(pat, prefix, flags) == 0)
			return true;
	}
	return false;
}

bool
ship_list_ignored(const char *const *patterns, size_t n, const char *rel)
{
	bool ignored = false;

	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];
		bool except = p[0] == '!';

		if (except)
			p++;
		while (p[0] == '/' || (p[0] == '.' && p[1] == '/'))
			p += p[0] == '/' ? 1 : 2;
		if (*p && match_one(p, rel))
			ignored = !except;
	}
	return ignored;
}

static int
read_dockerignore(const char *dir, char ***pats, size_t *npats, struct error **err)
{
	cleanup_free char *path = xasprintf("%s/.dockerignore", dir);
	FILE *f = fopen(path, "re");
	char line[4096];
	size_t total = 0;

	if (!f)
		return errno == ENOENT ? 0 : error_set(err, EXIT_USAGE, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *s = line;

		total += strlen(line);
		if (total > DOCKERIGNORE_MAX) {
			fclose(f);
			return error_set(err, EXIT_USAGE, "%s: larger than %zu bytes", path, DOCKERIGNORE_MAX);
		}
		line[strcspn(line, "\n")] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		strip(s);
		if (*s && *s != '#')
			util_strv_push(pats, npats, xstrdup(s));
	}
	fclose(f);
	return 0;
}

/* The text a shipped link gets: the path from rel's directory to where it
 * leads here, followed to the end, so that an absolute link into the
 * project, or one through other links, leads to the same file wherever
 * the project sits. 1 with *text; 0 when it leads nowhere here (dangling,
 * or a loop: ELOOP), left out; -1 when it leads outside root (the
 * project's real path), through '..' or an absolute path alike. */
static int
link_text(const char *root, const char *project_dir, const char *rel, char **text, struct error **err)
{
	cleanup_free char *full = xasprintf("%s/%s", project_dir, rel);
	cleanup_free char *to = realpath(full, NULL);
	size_t rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
	const char *slash = strrchr(rel, '/'), *target, *rest;
	size_t dlen = slash ? (size_t)(slash - rel) : 0, keep = 0, ups = 0;
	struct buf b;

	if (!to) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
			return 0;
		return error_set(err, EXIT_USAGE, "%s: %s", rel, strerror(errno));
	}
	if (strncmp(to, root, rlen) != 0 || (to[rlen] != '/' && to[rlen] != '\0'))
		return error_set(err, EXIT_USAGE,
				 "%s is a symbolic link to %s, outside the project, which the engine cannot see: "
				 "copy what it points to into the project, or name the link in .dockerignore",
				 rel, to);
	target = to[rlen] ? to + rlen + 1 : "";
	/* The whole directories rel's directory and the target share. */
	for (size_t i = 0; i < dlen && target[i] == rel[i];) {
		i++;
		if ((i == dlen || rel[i] == '/') && (target[i] == '/' || target[i] == '\0'))
			keep = i;
	}
	rest = rel + keep + (rel[keep] == '/');
	for (const char *p = rest; p < rel + dlen; p++)
		ups += p == rest || *p == '/';
	target += keep + (target[keep] == '/');
	buf_init(&b, 3 * PATH_MAX);
	for (size_t i = 0; i < ups; i++)
		buf_append(&b, "../", 3);
	buf_append(&b, target, strlen(target));
	if (b.len == 0)
		buf_append(&b, ".", 1);
	else if (b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	*text = steal_ptr(&b.data);
	buf_release(&b);
	return 1;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
ship_list_make(struct ship_list *l, const char *project_dir, const char *extra, struct error **err)
{
	struct buf out;
	char **pats = NULL;
	size_t npats = 0, keep = 0;
	cleanup_free char *root = NULL;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	buf_init(&out, LIST_MAX);
	if (git_list(project_dir, &out) == 0) {
		l->from_git = true;
		for (size_t i = 0; i < out.len;) {
			size_t len = strnlen(out.data + i, out.len - i);

			util_strv_push(&l->files, &l->n, xstrndup(out.data + i, len));
			i += len + 1;
		}
		if (extra && walk_tree(l, extra, strlen(project_dir), err) < 0)
			goto out;
	} else if (walk_tree(l, project_dir, strlen(project_dir), err) < 0) {
		goto out;
	}
	if (read_dockerignore(project_dir, &pats, &npats, err) < 0)
		goto out;
	if (l->n)
		qsort(l->files, l->n, sizeof(*l->files), cmp);
	if (!(root = realpath(project_dir, NULL))) {
		error_set(err, EXIT_USAGE, "%s: %s", project_dir, strerror(errno));
		goto out;
	}
	l->links = xcalloc(l->n + 1, sizeof(*l->links));
	/* Unique, present, a file or a link that stays inside, not ignored.
	 * git names files deleted in the work tree too. */
	for (size_t i = 0; i < l->n; i++) {
		cleanup_free char *full = xasprintf("%s/%s", project_dir, l->files[i]);
		char *text = NULL;
		struct stat st;
		bool dup = keep > 0 && strcmp(l->files[keep - 1], l->files[i]) == 0;
		int k = 1;

		if (!dup && lstat(full, &st) == 0 && !ship_list_ignored((const char *const *)pats, npats, l->files[i])) {
			if (S_ISLNK(st.st_mode))
				k = link_text(root, project_dir, l->files[i], &text, err);
			else if (!S_ISREG(st.st_mode))
				k = 0;
			if (k < 0) {
				for (size_t j = i; j < l->n; j++)
					free(l->files[j]);
				l->n = keep;
				goto out;
			}
			if (k == 0)
				l->skipped++;
		} else {
			k = 0;
		}
		if (k == 0) {
			free(l->files[i]);
			continue;
		}
		if (!text)
			l->bytes += (uint64_t)st.st_size;
		l->links[keep] = text;
		l->files[keep++] = l->files[i];
	}
	l->n = keep;
	if (l->files)
		l->files[keep] = NULL;
	rc = 0;
out:
	util_strv_free(pats, npats);
	buf_release(&out);
	if (rc < 0)
		ship_list_release(l);
	return rc;
}

void
ship_list_release(struct ship_list *l)
{
	for (size_t i = 0; l->links && i < l->n; i++)
		free(l->links[i]);
	free(l->links);
	util_strv_free(l->files, l->n);
	memset(l, 0, sizeof(*l));
}
