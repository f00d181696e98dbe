#include "chan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gc.h"
#include "util.h"

/* The directory's name before its owner label. */
#define CHAN_PREFIX "chan-"

void
chan_dir_init(struct chan_dir *d)
{
	d->fd = -1;
	d->path = d->made = NULL;
}

/* Empties and removes one socket directory. */
static void
remove_dir(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(dir), de->d_name, 0);
	closedir(dir);
	unlinkat(at, name, AT_REMOVEDIR);
}

/* Directories of runs that were killed before they could remove theirs.
 * A directory whose owner cannot be judged (another machine sharing the
 * project over NFS, another PID namespace) is left alone. */
static void
sweep_dead(const char *top)
{
	DIR *dir = opendir(top);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (strncmp(de->d_name, CHAN_PREFIX, strlen(CHAN_PREFIX)) == 0 &&
		    gc_owner_liveness(de->d_name + strlen(CHAN_PREFIX)) == GC_DEAD)
			remove_dir(dirfd(dir), de->d_name);
	closedir(dir);
}

int
chan_dir_open(struct chan_dir *d, const char *project_dir, struct error **err)
{
	cleanup_free char *top = xasprintf("%s/.xdock", project_dir);
	cleanup_free char *owner = gc_owner_self();
	cleanup_free char *path = xasprintf("%s/" CHAN_PREFIX "%s", top, owner);
	bool made = mkdir(top, 0777) == 0;
	int e;

	if (!made && errno != EEXIST)
		return error_set(err, EXIT_INTERNAL, "%s: %s", top, strerror(errno));
	sweep_dead(top);
	/* 0700: only this user (and root) may connect. */
	if (mkdir(path, 0700) == 0) {
		d->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (d->fd >= 0) {
			d->path = steal_ptr(&path);
			d->made = made ? steal_ptr(&top) : NULL;
			return 0;
		}
		e = errno;
		rmdir(path);
	} else {
		e = errno;
	}
	if (made)
		rmdir(top);
	return error_set(err, EXIT_INTERNAL, "%s: %s", path, strerror(e));
}

void
chan_dir_close(struct chan_dir *d)
{
	if (!d->path)
		return;
	/* Sockets are unlinked once their containers started; one is left
	 * here only by a start that failed or was interrupted. */
	remove_dir(AT_FDCWD, d->path);
	if (d->made)
		rmdir(d->made);
	close(d->fd);
	free(d->path);
	free(d->made);
	chan_dir_init(d);
}

int
chan_listen(const struct chan_dir *d, const char *name, char **path, struct error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;
	int n;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", d->fd, name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return error_set(err, EXIT_INTERNAL, "channel socket name too long: %s", name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, EXIT_INTERNAL, "channel socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
		return error_set(err, EXIT_INTERNAL, "channel socket %s/%s: %s", d->path, name, strerror(errno));
	*path = xasprintf("%s/%s", d->path, name);
	return steal_fd(&fd);
}

int
chan_accept(int lfd)
{
	return accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
