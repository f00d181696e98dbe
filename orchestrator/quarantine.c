#include "quarantine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* A quarantine file is a short list kept by hand; a cap keeps a wrong path
 * (a log, a binary) from becoming a huge allocation. */
#define QUARANTINE_MAX (16u << 20)

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
quarantine_parse(struct quarantine *q, const char *text)
{
	const char *p = text;

	while (p && *p) {
		size_t len = strcspn(p, "\n");
		size_t n = len;

		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0 && p[0] != '#') {
			q->ids = xrealloc(q->ids, (q->n + 1) * sizeof(*q->ids));
			q->ids[q->n++] = xstrndup(p, n);
		}
		p += len + (p[len] ? 1 : 0);
	}
	if (q->n > 1)
		qsort(q->ids, q->n, sizeof(*q->ids), cmp_str);
}

int
quarantine_load(struct quarantine *q, const char *path, struct error **err)
{
	FILE *f = fopen(path, "re");
	struct buf b;
	char chunk[65536];
	size_t n;
	bool cut = false;

	if (!f)
		return error_set(err, EXIT_USAGE, "--quarantine %s: %s", path, strerror(errno));
	buf_init(&b, QUARANTINE_MAX);
	while (!cut && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cut = buf_append_trunc(&b, chunk, n);
	fclose(f);
	if (cut) {
		buf_release(&b);
		return error_set(err, EXIT_USAGE, "--quarantine %s: larger than %u bytes", path, QUARANTINE_MAX);
	}
	quarantine_parse(q, b.data ? b.data : "");
	buf_release(&b);
	return 0;
}

bool
quarantine_has(const struct quarantine *q, const char *nodeid)
{
	return q->n && bsearch(&nodeid, q->ids, q->n, sizeof(*q->ids), cmp_str) != NULL;
}

void
quarantine_release(struct quarantine *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->ids[i]);
	free(q->ids);
	q->ids = NULL;
	q->n = 0;
}
