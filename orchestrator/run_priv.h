/* Shared by the two parts of `xdock run`: run.c (the phases, from the
 * engine ping to the last removed container) and run_records.c (what a
 * finished run leaves: the duration history, the reports, the record of
 * what ran, and what comes back from a shipped run). No other file
 * includes it. */
#ifndef XDOCK_RUN_PRIV_H
#define XDOCK_RUN_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "controller.h"
#include "docker.h"
#include "engines.h"
#include "fleet.h"
#include "history.h"
#include "ledger.h"
#include "loop.h"
#include "quarantine.h"
#include "report.h"
#include "sequence.h"
#include "ship.h"
#include "term.h"

struct run {
	const struct config *cfg;   /* as parsed; never changed */
	struct docker *dk;          /* the first engine's client; the engines' */
	struct engines es;          /* every engine of the run */
	bool engines_on;            /* es opened (maybe in part): to close */
	size_t *at;                 /* worker slot i runs on engine at[i] */
	char run_id[16];
	char *owner;
	char *labels[3];
	char project_dir[PATH_MAX];
	char agent_path[PATH_MAX];
	char user[32];
	size_t nw;                  /* workers: -n, or the engine's NCPU for -n auto */
	int sigfd;
	struct docker_cancel cancel; /* what stops engine calls: sigfd, a deadline */
	bool interrupted;           /* a signal was heard, in whatever phase */
	int64_t t0;
	struct term term;
	struct report rep;
	struct quarantine quarantine;
	struct history *hist;       /* NULL with --no-history */
	struct ledger ledger;
	struct fleet fleet;
	struct controller ctl;
	struct loop loop;
	bool fleet_on;              /* fleet made: teardown has something to do */
	const struct sequence_plan *plan; /* replay, bisect: fixed sequences; NULL */
	char *image_id;             /* what cfg->image meant at the start */
};

/* The history lives in pytest's rootdir, next to .pytest_cache. */
const char *run_history_dir(const struct run *r);
/* Merges this run's durations into the history and saves it (a finished
 * run only); a failure to save is a warning. */
void run_save_history(struct run *r);
/* --json-report, and --junitxml when no controller wrote it: -1 when one
 * could not be written (said on stderr). */
int run_write_reports(struct run *r);
/* .xdock/last-run.json and --timeline; failures are warnings. */
void run_write_records(struct run *r);
/* Shipped: pytest's cache and --junitxml out of the controller's container. */
void run_fetch_results(struct run *r);

#endif
