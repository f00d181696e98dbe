/* CI sharding (`--shard K/M`): which of the collected tests shard K of M
 * runs, so that M machines running the same collection with the same
 * duration history split it into M parts of nearly equal expected time.
 * Pure: node ids and expected durations in, test indexes out. */
#ifndef XDOCK_SHARD_H
#define XDOCK_SHARD_H

#include <stddef.h>

#include "error.h"

/* More shards than this is a typo, not a CI matrix. */
#define SHARD_MAX 10000

struct shard_spec {
	size_t k; /* 1-based: 1 <= k <= m */
	size_t m;
};

/* Parses "K/M" (decimal, 1 <= K <= M <= SHARD_MAX). Returns 0, or -1 with
 * an EXIT_USAGE error naming the option. */
int shard_parse(const char *s, struct shard_spec *out, struct error **err);

/* Assigns every test to one of m shards: writes bin[i] in 0..m-1 for test
 * i. Longest-processing-time first: units in order of expected duration,
 * longest first, each into the shard with the least expected time so far
 * (ties: the lowest shard). So no shard exceeds another by more than the
 * longest unit, and the result depends only on the node ids and the
 * durations, not on collection order, pointers or hashing: every CI
 * machine computes the same split.
 *
 * ids[i]: node id of test i. expected[i]: seconds, < 0 when the history
 * does not know the test; such a test counts as the median of the known
 * durations (1 s when none is known), so it lands, like every test, in
 * the lightest shard at its turn and a suite without any history is dealt
 * round-robin in node id order. groups: NULL, or groups[i] NULL or a key;
 * tests with the same non-NULL key form one unit and share a shard (pass
 * the xdist_group for loadgroup, the file for loadfile, to keep a unit's
 * fixtures on one machine). Equal durations are ordered by the smallest
 * node id of the unit, then by collection index (only identical node ids
 * get that far). m >= 1. */
void shard_assign(const char *const *ids, const double *expected, const char *const *groups, size_t n, size_t m,
		  size_t *bin);

/* The tests shard spec->k runs: writes their indexes, ascending
 * (collection order), to keep (room for n) and returns how many. */
size_t shard_select(const char *const *ids, const double *expected, const char *const *groups, size_t n,
		    const struct shard_spec *spec, size_t *keep);

#endif
