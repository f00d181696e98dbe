/* Replies recorded from a real engine (tests/data/docker/), read whole by
 * the unit tests that parse them. Include after cmocka.h. */
#ifndef XDOCK_TEST_RECORDED_H
#define XDOCK_TEST_RECORDED_H

#include <stdio.h>
#include <stdlib.h>

/* The file's bytes and a NUL after them (heap, the caller frees); *len
 * their number. A missing or empty file fails the test. */
static inline char *
recorded_read(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *p;
	long n;

	snprintf(path, sizeof(path), "%s/docker/%s", XDOCK_TEST_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

#endif
