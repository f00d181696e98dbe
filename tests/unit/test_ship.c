/* Shipping's pieces that need no engine: .dockerignore's matching, and a
 * tree through the tar writer and back through the tar reader (long
 * names, empty and odd-sized files, directories), fed in awkward pieces;
 * the reader refusing names that would leave its root; symbolic links in
 * the file list (kept when they lead inside the project, left out when
 * they lead nowhere, refused when they leave it) and in the stream; what
 * shipping says when the list cannot be made ("ship:" once). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ship.h"
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
	struct tar_entry e[16] = { { 0 } };
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

static void
rm_rf(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
link_at(const char *dir, const char *target, const char *name)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	assert_int_equal(symlink(target, path), 0);
	free(path);
}

static void
mkdir_at(const char *dir, const char *name)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
}

static void
file_at(const char *dir, const char *name)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	write_file(path, 10, 1);
	free(path);
}

/* A tree outside git (the walk lists it): links into the project kept
 * with their text made relative to their own directory, a link above its
 * own directory kept as one entry (never followed), a loop and a dangling
 * link left out. */
static void
test_list_links(void **state)
{
	char src[] = "/tmp/xdock-test-ship-links.XXXXXX";
	char abs[400];
	struct ship_list l;
	struct error *err = NULL;
	const char *names[] = { "abs", "deep/a/link", "mod/real.py", "mod/up", "vendored", "vlink" };
	const char *links[] = { "mod/real.py", "../../mod/real.py", NULL, "..", "mod", "mod/real.py" };

	(void)state;
	assert_non_null(mkdtemp(src));
	mkdir_at(src, "mod");
	mkdir_at(src, "deep");
	mkdir_at(src, "deep/a");
	file_at(src, "mod/real.py");
	link_at(src, "mod", "vendored");
	link_at(src, "../../mod/real.py", "deep/a/link");
	snprintf(abs, sizeof(abs), "%s/mod/real.py", src);
	link_at(src, abs, "abs");
	link_at(src, "..", "mod/up");
	link_at(src, "vendored/up/vendored/real.py", "vlink");   /* through two links */
	link_at(src, "l2", "l1");
	link_at(src, "l1", "l2");
	link_at(src, "nowhere", "dangling");
	if (ship_list_make(&l, src, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(l.n, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(l.files[i], names[i]);
		if (links[i])
			assert_string_equal(l.links[i], links[i]);
		else
			assert_null(l.links[i]);
	}
	assert_int_equal(l.skipped, 3);
	assert_int_equal(l.bytes, 10);
	ship_list_release(&l);
	rm_rf(src);
}

/* Links that leave the project, by '..', by an absolute path, or by '..'
 * after a link to a deeper directory, are refused with the link's name;
 * .dockerignore naming the link lets the rest go. */
static void
test_list_refuses_outside(void **state)
{
	const char *bad[] = { "../outside-file", "/etc/passwd", "d/../../outside-file" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char top[] = "/tmp/xdock-test-ship-out.XXXXXX", src[100], ign[200];
		struct ship_list l;
		struct error *err = NULL;
		FILE *f;

		assert_non_null(mkdtemp(top));
		file_at(top, "outside-file");
		mkdir_at(top, "p");
		snprintf(src, sizeof(src), "%s/p", top);
		mkdir_at(src, "sub");
		link_at(src, "sub", "d");
		file_at(src, "ok.py");
		link_at(src, bad[i], "esc");
		assert_int_equal(ship_list_make(&l, src, NULL, &err), -1);
		assert_non_null(err);
		assert_int_equal(err->status, EXIT_USAGE);
		assert_non_null(strstr(err->msg, "esc is a symbolic link to"));
		assert_non_null(strstr(err->msg, "outside the project"));
		error_free(err);
		err = NULL;
		snprintf(ign, sizeof(ign), "%s/.dockerignore", src);
		f = fopen(ign, "w");
		assert_non_null(f);
		fputs("esc\n", f);
		fclose(f);
		if (ship_list_make(&l, src, NULL, &err) < 0)
			fail_msg("%s", err->msg);
		assert_int_equal(l.n, 3);   /* .dockerignore, d, ok.py */
		assert_string_equal(l.files[1], "d");
		assert_string_equal(l.links[1], "sub");
		ship_list_release(&l);
		rm_rf(top);
	}
}

/* The message a run prints when the project's file list cannot be made:
 * "ship:" once, then the file and what is wrong with it (the list fails
 * before any call to an engine, so none is needed here). */
static void
test_upload_says_ship_once(void **state)
{
	char src[] = "/tmp/xdock-test-ship-msg.XXXXXX", want[200];
	struct run_ctx ctx = { 0 };
	struct ship s;
	struct error *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(src));
	file_at(src, "test_a.py");
	link_at(src, ".dockerignore", ".dockerignore");  /* a loop: fopen fails with ELOOP */
	ctx.project_dir = src;
	ctx.run_id = "msg";
	ship_init(&s, ctx.run_id);
	assert_int_equal(ship_upload(&s, &ctx, "img", "/nonexistent/agent", NULL, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->status, EXIT_USAGE);
	snprintf(want, sizeof(want), "ship: %s/.dockerignore: %s", src, strerror(ELOOP));
	assert_string_equal(err->msg, want);
	error_free(err);
	ship_release(&s);
	rm_rf(src);
}

/* The stream's entries as an engine reads them: each header's type, name
 * and link target, GNU long names ('L') and long targets ('K') applied. */
static void
test_tar_links(void **state)
{
	char longtarget[300];
	struct tar_entry e[4];
	struct tar_writer w;
	char *stream = NULL;
	size_t len = 0, cap = 0, seen = 0;
	char piece[300];
	ssize_t k;
	char *next_name = NULL, *next_link = NULL;
	char p[] = "p", vendored[] = "p/vendored", mod[] = "mod", far[] = "p/far", up[] = "p/up", dots[] = "..";

	(void)state;
	memset(longtarget, 0, sizeof(longtarget));
	for (int i = 0; i < 15; i++)
		strcat(longtarget, "../longer-dir/");
	strcat(longtarget, "target.py");
	e[0] = (struct tar_entry){ .name = p, .dir = true };
	e[1] = (struct tar_entry){ .name = vendored, .link = mod };
	e[2] = (struct tar_entry){ .name = far, .link = longtarget };
	e[3] = (struct tar_entry){ .name = up, .link = dots };
	tar_writer_init(&w, e, 4, 1000, 1000);
	while ((k = tar_writer_read(&w, piece, sizeof(piece))) > 0) {
		if (len + (size_t)k > cap) {
			cap = 2 * (len + (size_t)k);
			stream = realloc(stream, cap);
		}
		memcpy(stream + len, piece, (size_t)k);
		len += (size_t)k;
	}
	assert_int_equal(k, 0);
	assert_int_equal(len % 512, 0);
	for (size_t off = 0; off + 512 <= len && stream[off];) {
		const char *h = stream + off;
		char type = h[156];
		size_t size = (size_t)strtoull(h + 124, NULL, 8);
		char *name = next_name ? next_name : strndup(h, 100);
		char *link = next_link ? next_link : strndup(h + 157, 100);

		off += 512;
		if (type == 'L' || type == 'K') {
			free(name);
			free(link);
			next_name = type == 'L' ? strndup(stream + off, size) : next_name == name ? NULL : next_name;
			next_link = type == 'K' ? strndup(stream + off, size) : next_link == link ? NULL : next_link;
			off += (size + 511) / 512 * 512;
			continue;
		}
		next_name = next_link = NULL;
		assert_int_equal(size, 0);
		if (seen == 0) {
			assert_int_equal(type, '5');
			assert_string_equal(name, "p/");
		} else {
			assert_int_equal(type, '2');
			assert_string_equal(name, e[seen].name);
			assert_string_equal(link, e[seen].link);
			assert_int_equal(strtoul(h + 100, NULL, 8), 0777);
		}
		seen++;
		free(name);
		free(link);
	}
	assert_int_equal(seen, 4);
	free(stream);
	tar_writer_release(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dockerignore),
		cmocka_unit_test(test_tar_round_trip),
		cmocka_unit_test(test_tar_refuses_escapes),
		cmocka_unit_test(test_list_links),
		cmocka_unit_test(test_list_refuses_outside),
		cmocka_unit_test(test_upload_says_ship_once),
		cmocka_unit_test(test_tar_links),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
