#include "oom.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long
oom_counter(const char *path)
{
	char data[1024];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	const char *p;

	if (fd < 0)
		return -1;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	data[n] = '\0';
	for (p = data; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "oom_kill ", 9) == 0)
			return strtol(p + 9, NULL, 10);
	}
	return -1;
}

long
oom_kills(void)
{
	long v = oom_counter("/sys/fs/cgroup/memory.events");

	if (v < 0)
		v = oom_counter("/sys/fs/cgroup/memory/memory.oom_control");
	return v;
}
