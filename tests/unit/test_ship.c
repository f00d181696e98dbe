/* Shipping's pieces that need no engine: .dockerignore's matching, and a
 * tree through the tar writer and back through the tar reader (long
 * names, empty and odd-sized files, directories), fed in awkward pieces;
 * the reader refusing names that would leave its root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "ship_list.h"
#include "tar.h"

static void
test_dockerignore(void **state)
{
	const char *const pats[] = { "*.log", "build", "docs/**/*.tmp", "!keep.log", "/secret.txt" };
	size_t n = 5;

	(void)state;
	assert_true(ship_list_ignored(pats, n, "a.log"));
	assert_false(ship_list_ignored(pats, n, "keep.log"));     /* the exception comes last */
	assert_false(ship_list_ignored(pats, n, "sub/a.log"));    /* '*' stays in one directory */
	assert_true(ship_list_ignored(pats, n, "build/x/y.o"));   /* a directory covers what is under it */
	assert_false(ship_list_ignored(pats, n, "builder.py"));
	assert_true(ship_list_ignored(pats, n, "docs/a/b/c.tmp"));
	assert_true(ship_list_ignored(pats, n, "secret.txt"));
	assert_false(ship_list_ignored(pats, n, "src/main.py"));
	assert_false(ship_list_ignored(NULL, 0, "a.log"));
}

static void
write_file(const char *path, size_t size, int seed)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc((int)((i * 31 + (size_t)seed) & 0xff), f);
	fclose(f);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *b;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void
test_tar_round_trip(void **state)
{
	char src[] = "/tmp/xdock-test-ship-src.XXXXXX", dst[] = "/tmp/xdock-test-ship-dst.XXXXXX";
	char longname[400];
	const size_t sizes[] = { 0, 1, 511, 512, 513, 100000 };
	struct tar_entry e[16];
	size_t n = 0;
	struct tar_writer w;
	struct tar_reader r;
	char piece[777];
	ssize_t k;
	size_t step = 1;

	(void)state;
	assert_non_null(mkdtemp(src));
	assert_non_null(mkdtemp(dst));
	/* Past ustar's 100 bytes, in components the file system takes. */
	longname[0] = '\0';
	for (int i = 0; i < 10; i++)
		strcat(longname, "a-directory-name-of-26-ch/");
	strcat(longname, "file");
	e[n++] = (struct tar_entry){ .name = strdup("p"), .dir = true };
	for (size_t i = 0; i < 6; i++) {
		char *path;

		if (asprintf(&path, "%s/f%zu", src, i) < 0)
			fail();
		write_file(path, sizes[i], (int)i);
		e[n].name = NULL;
		if (asprintf(&e[n].name, "p/%sf%zu", i == 5 ? "deep/er/" : "", i) < 0)
			fail();
		e[n].path = path;
		e[n++].dir = false;
	}
	{
		char *path;

		if (asprintf(&path, "%s/long", src) < 0 || asprintf(&e[n].name, "p/%s", longname) < 0)
			fail();
		write_file(path, 1234, 9);
		e[n].path = path;
		e[n++].dir = false;
	}
	tar_writer_init(&w, e, n, 1000, 1000);
	tar_reader_init(&r, dst);
	/* Pieces of 1, 2, 3, ... bytes: every boundary inside a header. */
	while ((k = tar_writer_read(&w, piece, step)) > 0) {
		if (tar_reader_feed(&r, piece, (size_t)k) < 0)
			fail_msg("%s", r.err->msg);
		step = step % sizeof(piece) + 1;
	}
	assert_int_equal(k, 0);
	assert_int_equal(w.bytes % 512, 0);
	assert_int_equal(r.files, 7);
	for (size_t i = 1; i < n; i++) {
		char *out;
		size_t la, lb;
		char *a = slurp(e[i].path, &la), *b;

		if (asprintf(&out, "%s/%s", dst, e[i].name) < 0)
			fail();
		b = slurp(out, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		free(a);
		free(b);
		unlink(out);
		unlink(e[i].path);
		free(out);
	}
	tar_writer_release(&w);
	tar_reader_release(&r);
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].path);
	}
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", src, dst);
		assert_int_equal(system(cmd), 0);
	}
}

/* A header naming `name`, as an engine would send it. */
static void
header(char *h, const char *name)
{
	unsigned sum = 0;

	memset(h, 0, 512);
	snprintf(h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 124, "00000000001", 12);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
}

static void
test_tar_refuses_escapes(void **state)
{
	const char *bad[] = { "../evil", "a/../../evil", "/etc/evil" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct tar_reader r;
		char h[512];

		tar_reader_init(&r, "/tmp/xdock-test-ship-nowhere");
		header(h, bad[i]);
		assert_int_equal(tar_reader_feed(&r, h, sizeof(h)), -1);
		assert_non_null(r.err);
		assert_non_null(strstr(r.err->msg, "refused name"));
		tar_reader_release(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dockerignore),
		cmocka_unit_test(test_tar_round_trip),
		cmocka_unit_test(test_tar_refuses_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
