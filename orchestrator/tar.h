/* Tar streams, both ways, a block at a time: the writer turns a list of
 * local files, directories and symbolic links into a ustar stream (GNU
 * long names and long link targets past 100 bytes) for the
 * engine to unpack; the reader unpacks a stream from the engine (ustar,
 * GNU and PAX long names) under one directory, refusing any name that
 * would leave it. Neither holds more than a header and one piece. */
#ifndef XDOCK_TAR_H
#define XDOCK_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"

struct tar_entry {
	char *name;             /* in the archive, relative, no leading '/' */
	char *path;             /* local file to read; NULL for a directory or a link */
	char *link;             /* a symbolic link's target, written as it is */
	bool dir;
};

struct tar_writer {
	const struct tar_entry *e;
	size_t n, i;
	unsigned uid, gid;      /* owners written into every header */
	struct buf pend;        /* header bytes not yet handed out */
	int fd;                 /* the entry's file, -1 between entries */
	uint64_t left;          /* its bytes still to send */
	size_t pad;             /* zeros after them */
	bool ended;             /* the two zero blocks are queued */
	uint64_t bytes;         /* handed out so far */
	struct error *err;      /* why the stream was aborted */
};

void tar_writer_init(struct tar_writer *w, const struct tar_entry *e, size_t n, unsigned uid, unsigned gid);
void tar_writer_release(struct tar_writer *w);
/* A docker_source_fn: the next bytes of the stream, 0 at its end, -1 with
 * w->err set when a file cannot be read. */
ssize_t tar_writer_read(void *ctx, char *data, size_t n);

struct tar_reader {
	char *root;             /* where names are unpacked */
	char blk[512];
	size_t blen;
	int state;
	uint64_t left;          /* bytes of the entry's data still to come */
	size_t pad;
	char kind;              /* what the data is for: file, long name, pax */
	int fd;
	struct buf meta;        /* a long name or pax record being read */
	char *next_name;        /* from a long name or pax header, for the next entry */
	size_t files;
	uint64_t bytes;
	struct error *err;
};

void tar_reader_init(struct tar_reader *r, const char *root);
void tar_reader_release(struct tar_reader *r);
/* A docker_sink_fn: unpacks as the bytes come; -1 with r->err set. */
int tar_reader_feed(void *ctx, const char *data, size_t len);

#endif
