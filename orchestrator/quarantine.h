/* The --quarantine list: node ids whose failures are reported but do not
 * fail the run. Read once from a file (one node id a line, blank lines and
 * # comments ignored), looked up once a test. */
#ifndef XDOCK_QUARANTINE_H
#define XDOCK_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct quarantine {
	char **ids;   /* sorted */
	size_t n;
};

/* Reads path into q (zeroed by the caller). A missing or unreadable file
 * is EXIT_USAGE: a list the user named must not be silently empty. */
int quarantine_load(struct quarantine *q, const char *path, struct error **err);
/* Parses the text of such a file (for tests and for quarantine_load). */
void quarantine_parse(struct quarantine *q, const char *text);
bool quarantine_has(const struct quarantine *q, const char *nodeid);
void quarantine_release(struct quarantine *q);

#endif
