/* Images an engine lacks, copied from one that has them: the source's
 * GET /images/{name}/get streamed into the target's POST /images/load
 * through a socket pair, one thread a side, never whole in memory. There
 * is no registry to pull from; engines in CI often start empty. */
#ifndef XDOCK_IMAGECOPY_H
#define XDOCK_IMAGECOPY_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "docker.h"

/* Makes sure dst has image. When it does not, the first of sources
 * (engine addresses, NULL-terminated; the one dst is at is skipped) that
 * has it gives it, and a line on `say` tells what was copied, its size
 * and the time. *copied_bytes: 0 when nothing was copied. A missing image
 * that no source has is EXIT_USAGE. */
int imagecopy_ensure(struct docker *dst, const char *image, const char *const *sources, FILE *say,
		     uint64_t *copied_bytes, struct error **err);

/* The images a run needs on its engine (the test image, the database's
 * when embedded), copied from $DOCKER_HOST's engine or the local socket's
 * when missing. */
int imagecopy_for_run(struct docker *dk, const struct config *cfg, struct error **err);

#endif
