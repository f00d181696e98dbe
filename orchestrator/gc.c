#include "gc.h"

#include "provision.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A /proc listing is a few hundred entries on a CI machine; more than this
 * and the rest are not looked at (an owner not found then counts as dead
 * only when its namespace was seen among the ones read). */
#define PROCS_MAX 65536

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot. With the pid it names one process even across pid reuse. */
static unsigned long long
start_time(const char *pid)
{
	char path[300], data[1024];
	FILE *f;
	size_t n;
	char *p;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
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

/* The last number of the NSpid line: the pid in the process's own
 * namespace. /proc/PID/status is readable for every process. */
static long
ns_pid(const char *pid)
{
	char path[300], line[256];
	FILE *f;
	long v = 0;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6) == 0) {
			char *p = line + 6, *end;

			for (long x; (x = strtol(p, &end, 10)), end != p; p = end)
				v = x;
			break;
		}
	}
	fclose(f);
	return v;
}

/* Reading another user's ns link needs ptrace rights: 0 when refused. */
static unsigned long long
pid_ns(const char *pid)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/pid", pid);
	return stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

static void
self_read(struct gc_self *self)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	memset(self, 0, sizeof(*self));
	if (f) {
		if (fgets(self->boot_id, sizeof(self->boot_id), f))
			self->boot_id[strcspn(self->boot_id, "\n")] = '\0';
		fclose(f);
	}
	self->pidns = pid_ns("self");
}

static size_t
procs_scan(struct gc_proc **out)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	struct gc_proc *p = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < PROCS_MAX) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			p = xrealloc(p, cap * sizeof(*p));
		}
		p[n] = (struct gc_proc){
			.pid = strtol(e->d_name, NULL, 10),
			.nspid = ns_pid(e->d_name),
			.pidns = pid_ns(e->d_name),
			.start = start_time(e->d_name),
		};
		/* Gone between readdir and the reads. */
		if (p[n].start)
			n++;
	}
	closedir(d);
	*out = p;
	return n;
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
	struct gc_self self;

	hostname(host, sizeof(host));
	self_read(&self);
	return xasprintf("%s:%s:%llu:%ld:%llu", host, self.boot_id[0] ? self.boot_id : "-", self.pidns,
			 (long)getpid(), start_time("self"));
}

struct owner {
	char boot_id[40];
	unsigned long long pidns, start;
	long pid;
};

static bool
number(const char *s, unsigned long long *v)
{
	char *e;

	if (!isdigit((unsigned char)*s))
		return false;
	*v = strtoull(s, &e, 10);
	return *e == '\0';
}

/* "host:boot_id:pidns:pid:start" (a host name has no ':'). Returns -1 for
 * anything else, the old "host:pid:start" too. */
static int
owner_parse(const char *s, struct owner *o)
{
	char copy[512];
	char *f[5];
	char *p = copy;
	unsigned long long pid;

	if (!s || strlen(s) >= sizeof(copy))
		return -1;
	strcpy(copy, s);
	for (int i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, ':');
		if ((p == NULL) != (i == 4))
			return -1;
		if (p)
			*p++ = '\0';
	}
	if (!*f[1] || strlen(f[1]) >= sizeof(o->boot_id) || !number(f[2], &o->pidns) || !number(f[3], &pid) ||
	    !number(f[4], &o->start) || pid == 0 || pid > (1u << 30))
		return -1;
	strcpy(o->boot_id, f[1]);
	o->pid = (long)pid;
	return 0;
}

enum gc_liveness
gc_owner_judge(const char *label, const struct gc_self *self, const struct gc_proc *procs, size_t nprocs)
{
	struct owner o;
	bool ns_seen = false;

	if (owner_parse(label, &o) < 0)
		return GC_UNKNOWN;
	/* Another kernel: another machine on a shared engine, or this one
	 * before a reboot. Its /proc is not ours to read. */
	if (!self->boot_id[0] || strcmp(o.boot_id, self->boot_id) != 0)
		return GC_UNKNOWN;
	if (self->pidns && o.pidns == self->pidns) {
		/* Our namespace: pid and start time name the process. */
		for (size_t i = 0; i < nprocs; i++)
			if (procs[i].pid == o.pid && procs[i].start == o.start)
				return GC_ALIVE;
		return GC_DEAD;
	}
	/* Another namespace. A descendant of ours shows its processes here,
	 * NSpid giving their pid inside it; a sibling or a parent shows
	 * nothing, and nothing seen there proves nothing. A process whose
	 * namespace we may not read could be the owner. */
	for (size_t i = 0; i < nprocs; i++) {
		bool may_be_in = procs[i].pidns == o.pidns || procs[i].pidns == 0;

		if (procs[i].pidns == o.pidns)
			ns_seen = true;
		if (may_be_in && procs[i].nspid == o.pid && procs[i].start == o.start)
			return GC_ALIVE;
	}
	/* Every namespace descends from the initial one: seen from there, a
	 * namespace not seen is gone, and its processes with it. */
	return ns_seen || self->pidns == GC_PIDNS_INIT ? GC_DEAD : GC_UNKNOWN;
}

/* One look at ourselves and /proc for a whole sweep. */
struct judge {
	struct gc_self self;
	struct gc_proc *procs;
	size_t n;
};

static void
judge_init(struct judge *j)
{
	self_read(&j->self);
	j->n = procs_scan(&j->procs);
}

static void
judge_release(struct judge *j)
{
	free(j->procs);
}

/* No owner label: not made by an xdock run (a test's own throwaway
 * container, say); not ours to judge either. */
static bool
dead(const struct judge *j, const char *owner)
{
	return owner && gc_owner_judge(owner, &j->self, j->procs, j->n) == GC_DEAD;
}

enum gc_liveness
gc_owner_liveness(const char *owner)
{
	struct judge j;
	enum gc_liveness l;

	judge_init(&j);
	l = gc_owner_judge(owner, &j.self, j.procs, j.n);
	judge_release(&j);
	return l;
}

/* A server kept by --reuse-db joins each run's network; a run that is
 * gone cannot take it off again, and the engine refuses to remove a
 * network with a container on it. */
static int
network_remove(struct docker *dk, const char *id, struct error **err)
{
	struct docker_list l = { 0 };
	struct error *derr = NULL;

	/* One kept server per --db-option set (dbserver.c): any may be on it. */
	if (docker_container_list(dk, "xdock.reuse=1", NULL, &l, &derr) == 0)
		for (size_t i = 0; i < l.n; i++) {
			docker_network_disconnect(dk, id, l.items[i].id, &derr);
			error_free(derr);
			derr = NULL;
		}
	error_free(derr);
	docker_list_release(&l);
	return docker_network_remove(dk, id, err);
}

/* How each kind of object goes; all take the engine's id. */
typedef int (*remove_fn)(struct docker *dk, const char *id, struct error **err);

static int
container_remove(struct docker *dk, const char *id, struct error **err)
{
	return docker_container_remove(dk, id, true, err);
}

/* Removes the objects of l (those of dead runs only, unless j is NULL)
 * with rm, counts them in removed and releases l. An object whose removal
 * fails is tried once more after the others: Podman refuses to remove a
 * container while others that joined its network namespace exist (a
 * run's controller and its workers), whatever order its listing gives.
 * -1 when a removal failed twice; the others are still tried, each with
 * an error of its own, and the first failure is kept in *err (set
 * already by an earlier step of the sweep, it stays). */
static int
remove_listed(struct docker *dk, struct docker_list *l, const struct judge *j, remove_fn rm, int *removed,
	      struct error **err)
{
	bool *again = xcalloc(l->n ? l->n : 1, sizeof(*again));
	int rc = 0;

	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < l->n; i++) {
			struct error *e = NULL;

			if (round == 0 ? j && !dead(j, l->items[i].label) : !again[i])
				continue;
			again[i] = false;
			if (rm(dk, l->items[i].id, &e) == 0) {
				++*removed;
			} else if (round == 0) {
				again[i] = true;
				error_free(e);
			} else {
				error_keep(err, e);
				rc = -1;
			}
		}
	}
	free(again);
	docker_list_release(l);
	return rc;
}

typedef int (*list_fn)(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out,
		       struct error **err);

/* A listing after an earlier step that may have failed: with an error of
 * its own, kept only if it is the first. */
static int
list_kept(struct docker *dk, list_fn list, const char *filter_label, const char *want_label, struct docker_list *l,
	  struct error **err)
{
	struct error *e = NULL;

	if (list(dk, filter_label, want_label, l, &e) < 0) {
		error_keep(err, e);
		return -1;
	}
	return 0;
}

int
gc_run(struct docker *dk, const char *run_id, int *removed, struct error **err)
{
	cleanup_free char *label = xasprintf("xdock.run=%s", run_id);
	struct docker_list l = { 0 };
	int rc = 0;

	*removed = 0;
	if (docker_container_list(dk, label, NULL, &l, err) < 0)
		return -1;
	if (remove_listed(dk, &l, NULL, container_remove, removed, err) < 0)
		rc = -1;
	if (list_kept(dk, docker_network_list, label, NULL, &l, err) < 0)
		return -1;
	if (remove_listed(dk, &l, NULL, network_remove, removed, err) < 0)
		rc = -1;
	/* A shipped project's volumes (ship.h), once no container uses them. */
	if (list_kept(dk, docker_volume_list, label, NULL, &l, err) < 0)
		return -1;
	if (remove_listed(dk, &l, NULL, docker_volume_remove, removed, err) < 0)
		rc = -1;
	return rc;
}

int
gc_sweep(struct docker *dk, bool all, int *removed, struct error **err)
{
	struct docker_list l = { 0 };
	struct judge j;
	int rc = 0;

	*removed = 0;
	if (docker_container_list(dk, "xdock.run", "xdock.owner", &l, err) < 0)
		return -1;
	judge_init(&j);
	if (remove_listed(dk, &l, &j, container_remove, removed, err) < 0)
		rc = -1;
	if (all) {
		if (list_kept(dk, docker_container_list, "xdock.reuse=1", NULL, &l, err) < 0) {
			judge_release(&j);
			return -1;
		}
		if (remove_listed(dk, &l, NULL, container_remove, removed, err) < 0)
			rc = -1;
	}
	/* Networks after containers: a network with endpoints cannot go. */
	if (list_kept(dk, docker_network_list, "xdock.run", "xdock.owner", &l, err) < 0) {
		judge_release(&j);
		return -1;
	}
	if (remove_listed(dk, &l, &j, network_remove, removed, err) < 0)
		rc = -1;
	/* Shipped projects' volumes, after the containers that mount them. */
	if (list_kept(dk, docker_volume_list, "xdock.run", "xdock.owner", &l, err) < 0) {
		judge_release(&j);
		return -1;
	}
	if (remove_listed(dk, &l, &j, docker_volume_remove, removed, err) < 0)
		rc = -1;
	judge_release(&j);
	return rc;
}
