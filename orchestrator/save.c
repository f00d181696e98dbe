#include "save.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int
save_atomic(const char *path, save_fill_fn fill, const void *ctx, struct error **err)
{
	cleanup_free char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "we");

	if (!f)
		return error_set(err, EXIT_INTERNAL, "write %s: %s", path, strerror(errno));
	if (fill(f, ctx, err) < 0) {
		fclose(f);
		unlink(tmp);
		return error_wrap(err, "write %s", path);
	}
	/* fsync before rename: the rename must not reach the disk before
	 * the bytes it makes visible. */
	errno = 0;
	if (fflush(f) == EOF || fsync(fileno(f)) < 0) {
		error_set(err, EXIT_INTERNAL, "write %s: %s", path, errno ? strerror(errno) : "write failed");
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) == EOF) {
		error_set(err, EXIT_INTERNAL, "write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		error_set(err, EXIT_INTERNAL, "rename %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

struct bytes {
	const void *data;
	size_t len;
};

static int
write_bytes(FILE *f, const void *ctx, struct error **err)
{
	const struct bytes *b = ctx;

	errno = 0;
	if (fwrite(b->data, 1, b->len, f) != b->len)
		return error_set(err, EXIT_INTERNAL, "%s", errno ? strerror(errno) : "write failed");
	return 0;
}

int
save_bytes(const char *path, const void *data, size_t len, struct error **err)
{
	struct bytes b = { data, len };

	return save_atomic(path, write_bytes, &b, err);
}
