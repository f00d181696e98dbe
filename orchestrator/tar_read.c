/* The tar reader of tar.h: a state machine fed whatever piece the engine
 * sends. Regular files and directories are unpacked under the root;
 * symbolic links, devices and the like are skipped (what comes back from
 * a run is reports and caches). A name that is absolute or climbs with
 * ".." fails the stream instead of being written. */
#include "tar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BLK 512
/* A pax header or a long name bigger than this is no report's. */
#define META_MAX (64u << 10)

enum { ST_HEADER, ST_DATA, ST_PAD };
enum { K_SKIP, K_FILE, K_LONGNAME, K_PAX };

void
tar_reader_init(struct tar_reader *r, const char *root)
{
	memset(r, 0, sizeof(*r));
	r->root = xstrdup(root);
	r->fd = -1;
	buf_init(&r->meta, META_MAX);
}

void
tar_reader_release(struct tar_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->root);
	free(r->next_name);
	buf_release(&r->meta);
	error_free(r->err);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

static uint64_t
parse_octal(const char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && p[i]; i++) {
		if (p[i] == ' ')
			continue;
		if (p[i] < '0' || p[i] > '7')
			break;
		v = v * 8 + (uint64_t)(p[i] - '0');
	}
	return v;
}

static bool
safe_name(const char *name)
{
	const char *p = name;

	if (!*name || name[0] == '/')
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

/* mkdir -p of path's parents (and of path itself when dir). */
static int
make_dirs(const char *path, bool dir)
{
	cleanup_free char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (dir && mkdir(p, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* "len key=value\n" records: the path, if one is there. */
static void
pax_path(struct tar_reader *r)
{
	const char *p = r->meta.data, *end = p + r->meta.len;

	while (p < end) {
		char *q;
		unsigned long len = strtoul(p, &q, 10);
		const char *rec = p;

		if (len == 0 || len > (size_t)(end - p) || *q != ' ')
			return;
		q++;
		if ((size_t)(rec + len - q) > 5 && strncmp(q, "path=", 5) == 0) {
			free(r->next_name);
			r->next_name = xstrndup(q + 5, (size_t)(rec + len - q - 6));
		}
		p = rec + len;
	}
}

static int
start_entry(struct tar_reader *r)
{
	const char *h = r->blk;
	char type = h[156];
	cleanup_free char *name = NULL;
	cleanup_free char *full = NULL;

	r->left = parse_octal(h + 124, 12);
	r->pad = r->left % BLK ? BLK - r->left % BLK : 0;
	r->kind = K_SKIP;
	if (type == 'L' || type == 'x') {
		if (r->left > META_MAX)
			return error_set(&r->err, EXIT_INTERNAL, "tar: a header of %llu bytes", (unsigned long long)r->left);
		buf_reset(&r->meta);
		r->kind = type == 'L' ? K_LONGNAME : K_PAX;
		return 0;
	}
	if (type == 'g')
		return 0;
	if (r->next_name) {
		name = steal_ptr(&r->next_name);
	} else if (memcmp(h + 257, "ustar", 5) == 0 && h[345]) {
		name = xasprintf("%.155s/%.100s", h + 345, h);
	} else {
		name = xstrndup(h, 100);
	}
	if (!safe_name(name))
		return error_set(&r->err, EXIT_INTERNAL, "tar: refused name \"%.200s\"", name);
	full = xasprintf("%s/%s", r->root, name);
	if (type == '5')
		return make_dirs(full, true) < 0 ? error_set(&r->err, EXIT_INTERNAL, "%s: %s", full, strerror(errno)) : 0;
	if (type != '0' && type != '\0' && type != '7')
		return 0;
	if (make_dirs(full, false) < 0)
		return error_set(&r->err, EXIT_INTERNAL, "%s: %s", full, strerror(errno));
	r->fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		     (mode_t)(parse_octal(h + 100, 8) & 0777) | 0600);
	if (r->fd < 0)
		return error_set(&r->err, EXIT_INTERNAL, "%s: %s", full, strerror(errno));
	r->kind = K_FILE;
	r->files++;
	return 0;
}

static int
end_entry(struct tar_reader *r)
{
	if (r->kind == K_FILE) {
		if (close(r->fd) < 0) {
			r->fd = -1;
			return error_set(&r->err, EXIT_INTERNAL, "tar: close: %s", strerror(errno));
		}
		r->fd = -1;
	} else if (r->kind == K_LONGNAME) {
		free(r->next_name);
		r->next_name = xstrndup(r->meta.data ? r->meta.data : "", r->meta.len);
	} else if (r->kind == K_PAX) {
		pax_path(r);
	}
	r->kind = K_SKIP;
	return 0;
}

static int
data(struct tar_reader *r, const char *p, size_t n)
{
	if (r->kind == K_FILE) {
		while (n > 0) {
			ssize_t k = write(r->fd, p, n);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return error_set(&r->err, EXIT_INTERNAL, "tar: write: %s", strerror(errno));
			p += k;
			n -= (size_t)k;
		}
		return 0;
	}
	if (r->kind == K_LONGNAME || r->kind == K_PAX)
		buf_append(&r->meta, p, n);
	return 0;
}

int
tar_reader_feed(void *ctx, const char *p, size_t n)
{
	struct tar_reader *r = ctx;

	r->bytes += n;
	while (n > 0) {
		if (r->state == ST_HEADER) {
			size_t k = BLK - r->blen < n ? BLK - r->blen : n;
			bool zero = true;

			memcpy(r->blk + r->blen, p, k);
			r->blen += k;
			p += k;
			n -= k;
			if (r->blen < BLK)
				break;
			r->blen = 0;
			for (size_t i = 0; i < BLK && zero; i++)
				zero = r->blk[i] == 0;
			if (zero)
				continue;
			if (start_entry(r) < 0)
				return -1;
			r->state = ST_DATA;
		}
		if (r->state == ST_DATA) {
			size_t k = r->left < n ? (size_t)r->left : n;

			if (data(r, p, k) < 0)
				return -1;
			r->left -= k;
			p += k;
			n -= k;
			if (r->left)
				break;
			if (end_entry(r) < 0)
				return -1;
			r->state = ST_PAD;
		}
		if (r->state == ST_PAD) {
			size_t k = r->pad < n ? r->pad : n;

			r->pad -= k;
			p += k;
			n -= k;
			if (r->pad == 0)
				r->state = ST_HEADER;
		}
	}
	return 0;
}
