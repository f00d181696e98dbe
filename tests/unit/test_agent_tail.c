/* agent/tail.c: the last TAIL_MAX bytes of everything appended, whatever
 * the sizes of the pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tail.h"

/* A reference stream: byte k is a function of k, so any misplaced byte
 * shows. */
static char
byte_at(size_t k)
{
	return (char)('a' + (k * 7 + k / 251) % 26);
}

static void
expect_tail(const struct tail *t, size_t total)
{
	size_t want = total < TAIL_MAX ? total : TAIL_MAX;

	assert_int_equal(t->len, want);
	for (size_t i = 0; i < want; i++)
		if (t->data[i] != byte_at(total - want + i))
			fail_msg("byte %zu of the tail (stream byte %zu) is wrong", i, total - want + i);
}

static void
append_stream(struct tail *t, size_t *total, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = byte_at(*total + i);
	tail_append(t, p, n);
	*total += n;
	free(p);
}

static void
test_empty_and_small(void **state)
{
	struct tail t;
	size_t total = 0;

	(void)state;
	tail_init(&t);
	assert_int_equal(t.len, 0);
	append_stream(&t, &total, 0);
	expect_tail(&t, total);
	append_stream(&t, &total, 1);
	append_stream(&t, &total, 100);
	expect_tail(&t, total);
}

/* Exactly TAIL_MAX, one byte short, one byte over, and far over in one
 * piece: the cap is the documented 8 KiB. */
static void
test_edges(void **state)
{
	static const size_t sizes[] = { TAIL_MAX - 1, TAIL_MAX, TAIL_MAX + 1, 3 * TAIL_MAX + 5 };

	(void)state;
	assert_int_equal(TAIL_MAX, 8192);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct tail t;
		size_t total = 0;

		tail_init(&t);
		append_stream(&t, &total, sizes[i]);
		expect_tail(&t, total);
		/* And again after a partial tail was already there. */
		tail_init(&t);
		total = 0;
		append_stream(&t, &total, 10);
		append_stream(&t, &total, sizes[i]);
		expect_tail(&t, total);
	}
}

/* Many pieces of every size from 1 to 2 * TAIL_MAX: after each, the tail
 * is the stream's last bytes. */
static void
test_pieces(void **state)
{
	struct tail t;
	size_t total = 0;

	(void)state;
	tail_init(&t);
	for (size_t n = 1; n <= 2 * TAIL_MAX; n = n * 3 / 2 + 1) {
		append_stream(&t, &total, n);
		expect_tail(&t, total);
		append_stream(&t, &total, 1);
		expect_tail(&t, total);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_small),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
