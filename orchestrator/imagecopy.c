/* The copy of imagecopy.h. The save side runs on a thread of its own with
 * its own client (a curl handle is never shared) and writes into one end
 * of a socket pair; the load side reads the other end. Either side
 * failing closes its end, which ends the other. */
#include "imagecopy.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct saver {
	struct docker *src;
	const char *image;
	int fd;
	uint64_t bytes;
	int rc;
	struct error *err;
};

static int
save_sink_cb(void *ctx, const char *data, size_t len)
{
	struct saver *s = ctx;

	while (len > 0) {
		/* MSG_NOSIGNAL: a loader that gave up is an error here, not a
		 * SIGPIPE. */
		ssize_t k = send(s->fd, data, len, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		data += k;
		len -= (size_t)k;
		s->bytes += (uint64_t)k;
	}
	return 0;
}

static void *
save_thread(void *ud)
{
	struct saver *s = ud;

	s->rc = docker_image_save(s->src, s->image, save_sink_cb, s, &s->err);
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

static ssize_t
load_source_cb(void *ctx, char *data, size_t n)
{
	int fd = *(int *)ctx;

	for (;;) {
		ssize_t k = recv(fd, data, n, 0);

		if (k < 0 && errno == EINTR)
			continue;
		return k;
	}
}

static int
copy(struct docker *src, struct docker *dst, const char *image, uint64_t *bytes, struct error **err)
{
	struct saver s = { .src = src, .image = image };
	pthread_t t;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return error_set(err, EXIT_INTERNAL, "image copy: socketpair: %s", strerror(errno));
	s.fd = sv[0];
	if (pthread_create(&t, NULL, save_thread, &s) != 0) {
		close(sv[0]);
		close(sv[1]);
		return error_set(err, EXIT_INTERNAL, "image copy: cannot start a thread");
	}
	rc = docker_image_load(dst, load_source_cb, &sv[1], err);
	/* Unblocks a saver still sending into a loader that stopped. */
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	*bytes = s.bytes;
	if (s.rc < 0) {
		if (rc == 0 || !*err) {
			*err = steal_ptr(&s.err);
		} else {
			error_free(s.err);
		}
		return error_wrap(err, "image copy: save from %s", docker_host(src));
	}
	if (rc < 0)
		return error_wrap(err, "image copy: load into %s", docker_host(dst));
	return 0;
}

int
imagecopy_ensure(struct docker *dst, const char *image, const char *const *sources, FILE *say,
		 uint64_t *copied_bytes, struct error **err)
{
	bool have = false;

	*copied_bytes = 0;
	if (docker_image_exists(dst, image, &have, err) < 0)
		return -1;
	if (have)
		return 0;
	for (size_t i = 0; sources && sources[i]; i++) {
		struct error *e = NULL;
		struct docker *src;
		int64_t t0;
		uint64_t bytes = 0;
		int rc;

		if (strcmp(sources[i], docker_host(dst)) == 0)
			continue;
		src = docker_new(sources[i], NULL, &e);
		if (!src || docker_image_exists(src, image, &have, &e) < 0 || !have) {
			/* An engine that is not there or lacks it too is no
			 * source; the next may be. */
			error_free(e);
			docker_free(src);
			continue;
		}
		t0 = util_now_ms();
		rc = copy(src, dst, image, &bytes, err);
		docker_free(src);
		if (rc < 0)
			return error_wrap(err, "%s", image);
		if (docker_image_exists(dst, image, &have, err) < 0)
			return -1;
		if (!have)
			return error_set(err, EXIT_INTERNAL, "image copy: %s loaded into %s but not found there", image,
					 docker_host(dst));
		*copied_bytes = bytes;
		if (say)
			fprintf(say, "xdock: image %s copied from %s to %s: %.1f MB in %.1fs\n", image, sources[i],
				docker_host(dst), (double)bytes / 1e6, (double)(util_now_ms() - t0) / 1000.0);
		return 0;
	}
	return error_set(err, EXIT_USAGE, "docker: No such image: %s (not on the engine at %s nor on one to copy it "
			 "from; build it with images/build or docker build)", image, docker_host(dst));
}

int
imagecopy_for_run(struct docker *dk, const struct config *cfg, struct error **err)
{
	const char *env = getenv("DOCKER_HOST");
	const char *sources[] = { env && *env ? env : "unix:///var/run/docker.sock", "unix:///var/run/docker.sock",
				  NULL };
	const char *images[] = { cfg->image, cfg->db == CLI_DB_EMBEDDED ? cfg->db_image : NULL };
	uint64_t bytes;

	for (size_t i = 0; i < 2; i++)
		if (images[i] && imagecopy_ensure(dk, images[i], sources, stderr, &bytes, err) < 0)
			return -1;
	return 0;
}
