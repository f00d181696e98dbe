/* The duration history: how long each test (by node id) took in earlier
 * runs, kept in <project>/.xdock/durations.json between runs, and the live
 * ETA computed from it. Loading and saving are the only I/O; lookups,
 * merging, pruning and the ETA are pure. */
#ifndef XDOCK_HISTORY_H
#define XDOCK_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* The file, relative to the project directory, and its format version:
 * {"version":1,"tests":{"<nodeid>":<seconds>,...}}. Bump the version when
 * the meaning of the numbers changes; an unknown version is ignored like
 * a corrupt file. */
#define HISTORY_DIR ".xdock"
#define HISTORY_FILE "durations.json"
#define HISTORY_VERSION 1
/* A larger file is refused rather than read: at ~60 bytes per entry this
 * is about a million tests. */
#define HISTORY_MAX_BYTES ((size_t)64 << 20)
/* Weight of the newest duration in the merge, see history_update. */
#define HISTORY_ALPHA 0.5

struct history;

/* An empty history. */
struct history *history_new(void);
void history_free(struct history *h);

/* Reads <project_dir>/.xdock/durations.json. Never returns NULL: a missing
 * file gives an empty history and no error; an unreadable, oversized or
 * corrupt file (or an unknown version) also gives an empty history, with
 * *err set (EXIT_INTERNAL) as a warning the caller prints and frees; the
 * run goes on without history and the next save replaces the file.
 * Entries whose value is not a finite number >= 0 are skipped. */
struct history *history_load(const char *project_dir, struct error **err);

/* Expected seconds for nodeid, or -1 when unknown. O(1) on average. */
double history_get(const struct history *h, const char *nodeid);
size_t history_count(const struct history *h);

/* Merges one measured duration (setup + call + teardown) into the history:
 * a new test takes the measurement; a known one moves half way towards it
 * (exponential moving average, HISTORY_ALPHA = 0.5). Why not the latest
 * value: a single slow run (cold cache, a busy CI neighbour) would then
 * reorder the next run; why not a long average: a test that really got
 * slower should lead the queue after one or two runs, not ten. Negative or
 * non-finite seconds are ignored. nodeid is copied. */
void history_update(struct history *h, const char *nodeid, double seconds);

/* Drops every entry whose node id is not among collected[0..n). Call it
 * only when the run collected the whole suite: with -k, -m, a subset of
 * paths or --shard the collection is partial, and pruning would forget
 * every test that was merely deselected. */
void history_prune(struct history *h, const char *const *collected, size_t n);

/* Writes the history to <project_dir>/.xdock/durations.json atomically
 * (temporary file in the same directory, fsync, rename), creating .xdock
 * when missing. Keys are written sorted so the file diffs cleanly when a
 * team commits it (CI sharding needs the same file on every machine).
 * Returns 0, or -1 with *err set; the file is then unchanged. */
int history_save(const struct history *h, const char *project_dir, struct error **err);

/* Makes <project_dir>/.xdock when missing, with a .gitignore that ignores
 * all of it, as pytest does for .pytest_cache: a run leaves nothing in
 * `git status`. A team that commits durations.json adds it with
 * `git add -f`; an existing directory is left as it is. */
int history_dir_make(const char *project_dir, struct error **err);

/* The live ETA. Pure and incremental: O(n log n) once, amortised O(1) per
 * finished test, so the progress line can refresh on every result.
 *
 * Estimate: the remaining expected work spread over the workers, but never
 * less than the longest test still to finish (a lower bound of any
 * schedule: max(remaining / nworkers, longest remaining)), scaled by how
 * this run's measured durations compare with their expectations so far
 * (a slower machine or a loaded engine stretches the whole estimate). */
struct history_eta {
	double *sorted;      /* expected seconds of every test, longest first */
	size_t *rank;        /* test index -> its position in sorted */
	bool *done;          /* by position in sorted */
	size_t n, first;     /* first: the first position not done */
	size_t nworkers;
	bool known;          /* any expected duration was known */
	double remaining;    /* sum of expected over tests not done */
	double done_expected, done_actual;
};

/* expected[i] is test i's expected seconds, < 0 when unknown (counted as
 * the median of the known ones). The arrays are copied. With no known
 * duration at all there is no ETA (history_eta_seconds returns -1). For
 * `each`, pass one worker's view (n tests, nworkers 1) per worker or show
 * no ETA; for `no`, nworkers is 1. */
void history_eta_init(struct history_eta *e, const double *expected, size_t n, size_t nworkers);
void history_eta_release(struct history_eta *e);
/* Test i finished (any outcome), taking actual seconds (< 0: unknown,
 * e.g. a test cancelled without running). Calling it twice for one test
 * is harmless. */
void history_eta_done(struct history_eta *e, size_t i, double actual);
/* Seconds still to go, or -1 when there is no estimate. */
double history_eta_seconds(const struct history_eta *e);

#endif
