#include "dbowner.h"

#include <stdint.h>
#include <string.h>

#include "util.h"

#define MARK_RUN DBOWNER_MARK_PREFIX
#define MARK_OWNER " xdock.owner="

char *
dbowner_mark(const char *run_id, const char *owner)
{
	return xasprintf(MARK_RUN "%s" MARK_OWNER "%s", run_id, owner);
}

int
dbowner_parse(const char *comment, char **run_id, char **owner)
{
	const char *id, *o;
	size_t n;

	*run_id = *owner = NULL;
	if (!comment || strncmp(comment, MARK_RUN, strlen(MARK_RUN)) != 0)
		return -1;
	id = comment + strlen(MARK_RUN);
	n = strcspn(id, " ");
	o = id + n;
	if (n == 0 || strncmp(o, MARK_OWNER, strlen(MARK_OWNER)) != 0)
		return -1;
	o += strlen(MARK_OWNER);
	if (!*o || strchr(o, ' '))
		return -1;
	*run_id = xstrndup(id, n);
	*owner = xstrdup(o);
	return 0;
}

char *
dbowner_staging(const char *run_id, const char *name)
{
	return xasprintf(DBOWNER_STAGING_PREFIX "%s.%08x", run_id, (unsigned)dbowner_key(name));
}

int
dbowner_parse_staging(const char *dbname, char **run_id)
{
	const char *id, *dot;

	*run_id = NULL;
	if (!dbname || strncmp(dbname, DBOWNER_STAGING_PREFIX, strlen(DBOWNER_STAGING_PREFIX)) != 0)
		return -1;
	id = dbname + strlen(DBOWNER_STAGING_PREFIX);
	dot = strrchr(id, '.');
	if (!dot || dot == id || strlen(dot + 1) != 8 || strspn(dot + 1, "0123456789abcdef") != 8 ||
	    memchr(id, '.', (size_t)(dot - id)))
		return -1;
	*run_id = xstrndup(id, (size_t)(dot - id));
	return 0;
}

int
dbowner_key(const char *s)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	/* The same bits as the server's int4: two's complement. */
	return (int)(int32_t)h;
}
