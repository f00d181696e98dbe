/* A main for fuzz targets in a normal build (no libFuzzer): replays every
 * file named on the command line, or every regular file of a directory
 * named there, through LLVMFuzzerTestOneInput. A target's own checks abort
 * on a broken invariant, so ctest sees the regression. Replaying nothing is
 * a failure: an empty or misplaced corpus must not pass silently. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util.h"

/* Reads a whole file into a heap buffer of exactly its size, so ASan sees
 * any read past the input's end. Returns -1 on failure. */
static int
replay_read(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			data = xrealloc(data, cap);
		}
		got = fread(data + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);
	*out = xrealloc(data, n ? n : 1);
	*len = n;
	return 0;
}

static int
replay_file(const char *path, size_t *count)
{
	cleanup_free uint8_t *data = NULL;
	size_t len;

	if (replay_read(path, &data, &len) < 0)
		return -1;
	LLVMFuzzerTestOneInput(data, len);
	(*count)++;
	return 0;
}

static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files are replayed in name order so a failure reproduces the same way. */
static int
replay_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), replay_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			rc = replay_file(names[i], count);
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	size_t count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if ((S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) : replay_file(argv[i], &count)) < 0)
			return 1;
	}
	if (count == 0) {
		fprintf(stderr, "replay: no input replayed\n");
		return 1;
	}
	printf("replay: %zu inputs, no failure\n", count);
	return 0;
}
