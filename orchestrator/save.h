/* A file written whole or not at all: the bytes go to a temporary file
 * next to the target, are flushed to disk, and the temporary file is
 * renamed over the target. After a crash the target is the old file or
 * the new one, never a truncated one. */
#ifndef XDOCK_SAVE_H
#define XDOCK_SAVE_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* Writes the file's content to f; -1 with *err set on failure. */
typedef int (*save_fill_fn)(FILE *f, const void *ctx, struct error **err);

/* path's content is what fill writes. Errors name path. */
int save_atomic(const char *path, save_fill_fn fill, const void *ctx, struct error **err);
/* path's content is the len bytes at data. */
int save_bytes(const char *path, const void *data, size_t len, struct error **err);

#endif
