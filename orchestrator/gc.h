/* Sweeping up after runs whose orchestrator is gone (SIGKILL, a lost CI
 * machine): containers and networks labelled xdock.run whose owner process
 * no longer exists. A run whose orchestrator is alive, or may be, is never
 * touched; the databases such runs left on the kept --reuse-db servers
 * and, with --db-url, on that server.
 * `xdock gc --all` also stops the PostgreSQL kept by --reuse-db. */
#ifndef XDOCK_GC_H
#define XDOCK_GC_H

#include <stdbool.h>
#include <stddef.h>

#include "docker.h"
#include "error.h"

/* Who a process is, as far as gc can tell: the kernel it runs on (boot id)
 * and its PID namespace (the inode of /proc/self/ns/pid). A host name alone
 * says nothing: containers on the host network and pods with host
 * networking share one name across PID namespaces. */
struct gc_self {
	char boot_id[40];
	unsigned long long pidns;
};

/* The inode of the initial PID namespace (the kernel's PROC_PID_INIT_INO):
 * every other one is its descendant and visible from it. */
#define GC_PIDNS_INIT 4026531836ULL

/* One process as this process sees it in /proc. */
struct gc_proc {
	long pid;                   /* in our PID namespace */
	long nspid;                 /* in its own, innermost one (NSpid) */
	unsigned long long pidns;   /* 0: not readable (another user's) */
	unsigned long long start;   /* field 22 of stat: ticks since boot */
};

enum gc_liveness {
	GC_DEAD,
	GC_ALIVE,
	/* Another kernel, a PID namespace we cannot see, a label we cannot
	 * read: treated as alive, never removed. */
	GC_UNKNOWN,
};

/* The owner label of this process:
 * "host:boot_id:pidns_inode:pid:starttime". Caller frees. */
char *gc_owner_self(void);
/* The decision, pure: owner is a label, self who we are, procs what /proc
 * shows us. */
enum gc_liveness gc_owner_judge(const char *owner, const struct gc_self *self, const struct gc_proc *procs,
				size_t nprocs);
/* The same with this process's own identity and /proc. */
enum gc_liveness gc_owner_liveness(const char *owner);
/* Removes every container and network labelled with run_id (a run's own
 * last sweep, catching what its teardown did not know of). */
int gc_run(struct docker *dk, const char *run_id, int *removed, struct error **err);
/* Removes what dead runs left. *removed counts objects removed. */
int gc_sweep(struct docker *dk, bool all, int *removed, struct error **err);
/* On the server of url (--db-url), drops the databases a dead run left
 * (gc_db.c): those marked as a run's (dbowner.h) whose run holds no
 * advisory lock there and whose process /proc does not show alive.
 * *dropped counts them. cancel_fd readable (-1: none) stops the connect. */
int gc_db_sweep(const char *url, int cancel_fd, int *dropped, struct error **err);
/* The same on every running kept --reuse-db server of dk (one per
 * --db-option set): *servers counts those swept. */
int gc_db_sweep_kept(struct docker *dk, int *servers, int *dropped, struct error **err);
/* The same over a connection already made. */
struct db;
int gc_db_sweep_on(struct db *db, int *dropped, struct error **err);

#endif
