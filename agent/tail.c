#include "tail.h"

#include <string.h>

void
tail_init(struct tail *t)
{
	t->len = 0;
}

void
tail_append(struct tail *t, const char *p, size_t n)
{
	size_t keep;

	if (n >= TAIL_MAX) {
		memcpy(t->data, p + (n - TAIL_MAX), TAIL_MAX);
		t->len = TAIL_MAX;
		return;
	}
	/* Keep as much of the old tail as still fits before the new bytes. */
	keep = TAIL_MAX - n < t->len ? TAIL_MAX - n : t->len;
	memmove(t->data, t->data + (t->len - keep), keep);
	memcpy(t->data + keep, p, n);
	t->len = keep + n;
}
