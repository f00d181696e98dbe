/* `xdock bisect NODEID`: which tests that ran before NODEID on its worker
 * make it fail. Delta debugging (ddmin) over that prefix: split it, run
 * each part (and each complement) followed by NODEID on fresh workers
 * in parallel, keep a part that still fails, until no part can go. The
 * search is pure (bisect_* on index sets); the command runs it. */
#ifndef XDOCK_BISECT_H
#define XDOCK_BISECT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "error.h"
#include "lastrun.h"

/* One step of ddmin. The caller tests every candidate (the prefix indexes
 * cand[i][0..ncand[i]) in order, then the target) and gives back which
 * failed; bisect_step then narrows. */
struct bisect {
	size_t *cur;        /* the prefix indexes still suspected, ascending */
	size_t ncur;
	size_t gran;        /* ddmin's n: parts the current set is cut into */
	/* This step's candidates: gran parts, then (gran > 2) their
	 * complements. */
	size_t **cand;
	size_t *ncand;
	size_t ncands;
	bool done;
};

/* Starts with the whole prefix 0..n-1 suspected (it fails with them). */
void bisect_init(struct bisect *b, size_t n);
void bisect_release(struct bisect *b);
/* Fills cand for the current step; false when done. */
bool bisect_candidates(struct bisect *b);
/* failed[i]: candidate i made the target fail. */
void bisect_step(struct bisect *b, const bool *failed);

/* cfg and lr from project_load_replay. */
int bisect_command(const struct config *cfg, const struct lastrun *lr, struct error **err);

#endif
