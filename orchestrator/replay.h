/* `xdock replay`: one worker's recorded sequence run again, in order, on
 * a fresh container with a fresh database clone, the same image (by id),
 * pytest arguments, environment and database setup; then whether its
 * failure came back. Also the helper bisect runs its candidates with. */
#ifndef XDOCK_REPLAY_H
#define XDOCK_REPLAY_H

#include "cli.h"
#include "error.h"
#include "lastrun.h"
#include "report.h"

/* Exit codes of replay and bisect besides pytest's 2, 3, 4. */
#define REPLAY_NOT_REPRODUCED 0
#define REPLAY_REPRODUCED 1

/* The config of a replay's run: base (project_load_replay's: the record's
 * settings and the command line's) running one fixed sequence per worker,
 * with nothing that reorders, reruns or stops early. Borrows from base. */
void replay_config(const struct config *base, struct config *out);

/* Runs sequences ids[i][0..nids[i]) of lr's tests, each on its own fresh
 * worker, in one run with base (project_load_replay's config). *out gets
 * the report (release it in every case). Returns the run's exit code, or
 * -1 with *err. */
int replay_run(const struct lastrun *lr, const struct config *base, const char *const *const *ids,
	       const size_t *nids, size_t n, struct report *out, struct error **err);

/* Whether test id failed in the run's lane for worker slot `slot`:
 * 1 failed, 0 passed (or skipped...), -1 it never ran there. */
int replay_outcome(const struct report *out, size_t slot, const char *id, enum outcome *o);

/* A shell word for s: as it is when it is safe, else in single quotes. */
char *replay_shell_quote(const char *s);

/* cfg and lr from project_load_replay. */
int replay_command(const struct config *cfg, const struct lastrun *lr, struct error **err);

#endif
