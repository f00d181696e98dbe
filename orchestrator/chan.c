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

#include "util.h"

void
chan_dir_init(struct chan_dir *d)
{
	d->fd = -1;
	d->path = d->made = NULL;
}

int
chan_dir_open(struct chan_dir *d, const char *project_dir, struct error **err)
{
	cleanup_free char *top = xasprintf("%s/.xdock", project_dir);
	cleanup_free char *tmpl = xasprintf("%s/chan-XXXXXX", top);

	bool made = mkdir(top, 0777) == 0;
	int e;

	if (!made && errno != EEXIST)
		return error_set(err, EXIT_INTERNAL, "%s: %s", top, strerror(errno));
	/* mkdtemp: 0700, so only this user (and root) may connect. */
	if (mkdtemp(tmpl)) {
		d->fd = open(tmpl, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (d->fd >= 0) {
			d->path = steal_ptr(&tmpl);
			d->made = made ? steal_ptr(&top) : NULL;
			return 0;
		}
		e = errno;
		rmdir(tmpl);
	} else {
		e = errno;
	}
	if (made)
		rmdir(top);
	return error_set(err, EXIT_INTERNAL, "%s: %s", tmpl, strerror(e));
}

void
chan_dir_close(struct chan_dir *d)
{
	DIR *dir;

	if (!d->path)
		return;
	/* Sockets are unlinked once their containers started; one is left
	 * here only by a start that failed or was interrupted. */
	dir = opendir(d->path);
	if (dir) {
		struct dirent *de;

		while ((de = readdir(dir)))
			if (de->d_name[0] != '.')
				unlinkat(dirfd(dir), de->d_name, 0);
		closedir(dir);
	}
	rmdir(d->path);
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
