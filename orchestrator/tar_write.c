/* The tar writer of tar.h: one entry's header (GNU long-name and
 * long-link entries before it when the name or a link's target does not
 * fit), its bytes read from the file as
 * the consumer asks for them, zeros to the block, two zero blocks at the
 * end. A file that changes while it is read keeps the size its header
 * announced: cut, or padded with zeros. */
#include "tar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define BLK 512

void
tar_writer_init(struct tar_writer *w, const struct tar_entry *e, size_t n, unsigned uid, unsigned gid)
{
	memset(w, 0, sizeof(*w));
	w->e = e;
	w->n = n;
	w->uid = uid;
	w->gid = gid;
	w->fd = -1;
	/* A header, a long name and a long link target of PATH_MAX each and
	 * their blocks. */
	buf_init(&w->pend, 24 * BLK);
}

void
tar_writer_release(struct tar_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	buf_release(&w->pend);
	error_free(w->err);
	w->err = NULL;
}

/* width-1 octal digits and a NUL; a value too big keeps its low digits
 * (next_entry refuses files past the size field's reach). */
static void
octal(char *field, size_t width, uint64_t v)
{
	field[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
}

static void
header(struct tar_writer *w, const char *name, const char *link, char type, uint64_t size, unsigned mode,
       int64_t mtime)
{
	char h[BLK];
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	memcpy(h, name, strnlen(name, 100));
	octal(h + 100, 8, mode);
	octal(h + 108, 8, w->uid);
	octal(h + 116, 8, w->gid);
	octal(h + 124, 12, size);
	octal(h + 136, 12, (uint64_t)(mtime > 0 ? mtime : 0));
	h[156] = type;
	if (link)
		memcpy(h + 157, link, strnlen(link, 100));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < BLK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	buf_append(&w->pend, h, BLK);
}

static void
padding(struct tar_writer *w, size_t len)
{
	static const char zeros[BLK];

	if (len % BLK)
		buf_append(&w->pend, zeros, BLK - len % BLK);
}

/* Queues the next entry's headers and opens its file. */
static int
next_entry(struct tar_writer *w)
{
	const struct tar_entry *e = &w->e[w->i++];
	cleanup_free char *name = e->dir ? xasprintf("%s/", e->name) : xstrdup(e->name);
	size_t len = strlen(name);
	struct stat st;

	if (len >= 4096) {
		error_set(&w->err, EXIT_USAGE, "name too long: %.80s...", name);
		return -1;
	}
	if (e->link && strlen(e->link) >= 4096) {
		error_set(&w->err, EXIT_USAGE, "%s: link target too long", e->name);
		return -1;
	}
	if (e->dir || e->link) {
		st.st_mode = e->dir ? 0755 : 0777;
		st.st_mtime = 0;
		st.st_size = 0;
	} else {
		w->fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (w->fd < 0 || fstat(w->fd, &st) < 0) {
			error_set(&w->err, EXIT_USAGE, "%s: %s", e->path, strerror(errno));
			return -1;
		}
		if ((uint64_t)st.st_size >= (uint64_t)1 << 33) {
			error_set(&w->err, EXIT_USAGE, "%s: 8 GiB or more (ustar's limit)", e->path);
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			error_set(&w->err, EXIT_USAGE, "ship: %s: not a regular file", e->path);
			return -1;
		}
	}
	if (len >= 100) {
		header(w, "././@LongLink", NULL, 'L', len + 1, 0644, 0);
		buf_append(&w->pend, name, len + 1);
		padding(w, len + 1);
	}
	if (e->link && strlen(e->link) >= 100) {
		size_t llen = strlen(e->link);

		header(w, "././@LongLink", NULL, 'K', llen + 1, 0644, 0);
		buf_append(&w->pend, e->link, llen + 1);
		padding(w, llen + 1);
	}
	header(w, name, e->link, e->dir ? '5' : e->link ? '2' : '0', e->dir || e->link ? 0 : (uint64_t)st.st_size,
	       (unsigned)(st.st_mode & 07777), (int64_t)st.st_mtime);
	w->left = e->dir || e->link ? 0 : (uint64_t)st.st_size;
	w->pad = w->left % BLK ? BLK - w->left % BLK : 0;
	return 0;
}

ssize_t
tar_writer_read(void *ctx, char *data, size_t n)
{
	struct tar_writer *w = ctx;
	size_t out = 0;

	while (out < n) {
		if (w->pend.len) {
			size_t k = w->pend.len < n - out ? w->pend.len : n - out;

			memcpy(data + out, w->pend.data, k);
			buf_consume(&w->pend, k);
			out += k;
		} else if (w->left) {
			size_t want = w->left < n - out ? (size_t)w->left : n - out;
			ssize_t k = read(w->fd, data + out, want);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				error_set(&w->err, EXIT_INTERNAL, "ship: %s: %s", w->e[w->i - 1].path, strerror(errno));
				return -1;
			}
			if (k == 0) {
				/* Shrunk since its header: zeros for the rest. */
				memset(data + out, 0, want);
				k = (ssize_t)want;
			}
			out += (size_t)k;
			w->left -= (uint64_t)k;
		} else if (w->pad) {
			size_t k = w->pad < n - out ? w->pad : n - out;

			memset(data + out, 0, k);
			w->pad -= k;
			out += k;
		} else {
			if (w->fd >= 0) {
				close(w->fd);
				w->fd = -1;
			}
			if (w->i < w->n) {
				if (next_entry(w) < 0)
					return -1;
			} else if (!w->ended) {
				static const char end[2 * BLK];

				buf_append(&w->pend, end, sizeof(end));
				w->ended = true;
			} else {
				break;
			}
		}
	}
	w->bytes += out;
	return (ssize_t)out;
}
