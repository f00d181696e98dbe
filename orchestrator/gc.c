#include "gc.h"

#include "provision.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot. With the pid it names one process even across pid reuse. */
static unsigned long long
start_time(long pid)
{
	char path[64], data[1024];
	FILE *f;
	size_t n;
	char *p;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	n = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[n] = '\0';
	/* The command name (field 2) may contain spaces and parentheses:
	 * skip to the last ')'; p then stands on the space before field 3. */
	if (!(p = strrchr(data, ')')))
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p, " %llu", &v);
	return v;
}

static void
hostname(char *out, size_t n)
{
	if (gethostname(out, n) < 0)
		snprintf(out, n, "unknown");
	out[n - 1] = '\0';
}

char *
gc_owner_self(void)
{
	char host[256];

	hostname(host, sizeof(host));
	return xasprintf("%s:%ld:%llu", host, (long)getpid(), start_time((long)getpid()));
}

bool
gc_owner_alive(const char *owner)
{
	char host[256];
	const char *c1, *c2;
	long pid;
	unsigned long long st;

	if (!owner || !(c2 = strrchr(owner, ':')) || c2 == owner)
		return false;
	for (c1 = c2 - 1; c1 > owner && *c1 != ':'; c1--)
		;
	if (*c1 != ':')
		return false;
	hostname(host, sizeof(host));
	if ((size_t)(c1 - owner) != strlen(host) || strncmp(owner, host, (size_t)(c1 - owner)) != 0)
		return true;
	if (sscanf(c1 + 1, "%ld", &pid) != 1 || sscanf(c2 + 1, "%llu", &st) != 1 || pid <= 0)
		return false;
	return start_time(pid) == st;
}

int
gc_sweep(struct docker *dk, bool all, int *removed, struct error **err)
{
	struct docker_list l = { 0 };
	int rc = 0;

	*removed = 0;
	if (docker_container_list(dk, "xdock.run", "xdock.owner", &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		/* No owner label: not made by an xdock run (a test's own
		 * throwaway container, say); not ours to judge. */
		if (!l.items[i].label || gc_owner_alive(l.items[i].label))
			continue;
		if (docker_container_remove(dk, l.items[i].id, true, err) < 0)
			rc = -1;
		else
			++*removed;
	}
	docker_list_release(&l);
	if (all) {
		if (docker_container_list(dk, "xdock.reuse=1", NULL, &l, err) < 0)
			return -1;
		for (size_t i = 0; i < l.n; i++) {
			if (docker_container_remove(dk, l.items[i].id, true, err) < 0)
				rc = -1;
			else
				++*removed;
		}
		docker_list_release(&l);
	}
	/* Networks after containers: a network with endpoints cannot go. */
	if (docker_network_list(dk, "xdock.run", "xdock.owner", &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		struct error *derr = NULL;

		if (!l.items[i].label || gc_owner_alive(l.items[i].label))
			continue;
		/* A server kept by --reuse-db joins each run's network; a dead
		 * run could not take it off again, and the engine refuses to
		 * remove a network with a container on it. */
		docker_network_disconnect(dk, l.items[i].id, PROVISION_REUSE_NAME, &derr);
		error_free(derr);
		if (docker_network_remove(dk, l.items[i].id, err) < 0)
			rc = -1;
		else
			++*removed;
	}
	docker_list_release(&l);
	return rc;
}
