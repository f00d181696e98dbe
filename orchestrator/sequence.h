/* What each worker ran, in order: one lane per container (a replaced
 * worker and every --reruns round start new lanes), each a list of node
 * ids with outcome and start/end times since the run began. The record
 * behind replay, bisect, the flaky report and the timeline. Pure: times
 * are given, nothing is read or written here but memory and cJSON trees. */
#ifndef XDOCK_SEQUENCE_H
#define XDOCK_SEQUENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "error.h"
#include "msg.h"

struct sequence_entry {
	const char *id;          /* node id: borrowed, or owned by the sequence (see sequence_from_json) */
	enum outcome outcome;    /* OUTCOME_NONE: started, no result */
	int64_t start_ms, end_ms; /* since the run began; end -1 while it runs */
};

struct sequence_lane {
	char worker[16];         /* gwN */
	size_t slot;             /* worker index in the run */
	int round;               /* 0: the run; n: the n-th --reruns round */
	char *container;         /* id; NULL when not known */
	char *database;          /* NULL with --db none */
	int64_t started_ms;      /* container asked for; -1 unknown */
	int64_t collected_ms;    /* its collection arrived; -1 never */
	int64_t ended_ms;        /* its stream ended; -1 unknown */
	struct sequence_entry *e;
	size_t n, cap;
};

struct sequence {
	struct sequence_lane *lanes;
	size_t nlanes, cap;
	long *open;              /* slot -> index of its current lane, -1 none */
	size_t nslots;
	int round;               /* round of the lanes opened from now on */
	char **owned;            /* ids read back from a file */
	size_t nowned;
};

void sequence_init(struct sequence *s, size_t nslots);
void sequence_release(struct sequence *s);

/* Slot `slot` has a new container: a new lane begins, the slot's previous
 * one (if any) ends. container and database are copied (may be NULL). */
void sequence_open(struct sequence *s, size_t slot, const char *worker, const char *container, const char *database,
		   int64_t at_ms);
/* The slot's container id became known (it is created after the lane
 * opened). */
void sequence_set_container(struct sequence *s, size_t slot, const char *container);
void sequence_collected(struct sequence *s, size_t slot, int64_t at_ms);
/* Test id (borrowed: it must outlive the sequence) starts on slot. */
void sequence_start(struct sequence *s, size_t slot, const char *id, int64_t at_ms);
/* Test id has its outcome on slot; a test without a start gets one at
 * at_ms. */
void sequence_end(struct sequence *s, size_t slot, const char *id, enum outcome o, int64_t at_ms);
/* The slot's stream ended. */
void sequence_close(struct sequence *s, size_t slot, int64_t at_ms);

/* Sequences to run (replay, bisect): worker i runs exactly
 * ids[i][0..nids[i]) in that order (cfg->dist SCHED_FIXED), each on its
 * own fresh worker. Borrowed. */
struct sequence_plan {
	const char *const *const *ids;
	const size_t *nids;
	size_t n;
};

/* The lane of worker `worker` (gwN) in round 0 that ran `id` (NULL: the
 * lane with the first failure); a failing run of id is preferred. Returns
 * the lane index and sets *pos to the entry, or -1. With id NULL and no
 * failure, the first lane of that worker with *pos = its last entry. */
long sequence_find(const struct sequence *s, const char *worker, const char *id, size_t *pos);
/* The round-0 lane where id failed first (any worker), or -1. */
long sequence_find_failure(const struct sequence *s, const char *id, size_t *pos);

/* The lane of round `round` on worker `worker` where id ran (a failing
 * run preferred), or -1; *pos is the entry. */
long sequence_find_round(const struct sequence *s, int round, const char *worker, const char *id, size_t *pos);

/* The lane whose last test ended last: the end of the run's critical
 * path. -1 when nothing ran. */
long sequence_critical(const struct sequence *s);

/* {"worker","round","container","database","start","collected","end",
 *  "tests":[{"nodeid","outcome","start","end"}]}; seconds, ms precision. */
cJSON *sequence_lane_json(const struct sequence_lane *l);
/* The same lane appended to b as the text cJSON prints for
 * sequence_lane_json, byte for byte, without the tree: a tree costs
 * about 450 bytes and six allocations per test. -1 when b's cap is hit. */
int sequence_lane_write(const struct sequence_lane *l, struct buf *b);
/* Reads an array of lane objects (the "sequences" of a report or of
 * .xdock/last-run.json) into s, which owns the ids. -1 with EXIT_USAGE on
 * a malformed file. */
int sequence_from_json(struct sequence *s, const cJSON *lanes, struct error **err);

#endif
