/* How many times the kernel's OOM killer has struck inside this
 * container's memory cgroup, so a runner killed by SIGKILL can be told
 * apart as "OOM killed" rather than a plain signal. */
#ifndef XDOCK_AGENT_OOM_H
#define XDOCK_AGENT_OOM_H

/* The cgroup's oom_kill counter (cgroup v2 memory.events, or v1
 * memory.oom_control), or -1 when neither can be read. */
long oom_kills(void);
/* Reads "oom_kill N" from a cgroup file of "key value" lines (its first
 * 1 KiB); -1 when the file or the key is missing. */
long oom_counter(const char *path);

#endif
