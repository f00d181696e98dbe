/* Shared by ledger.c (messages and outcomes) and ledger_tests.c (the run's
 * list of tests and the scheduler over it); no other file includes it. */
#ifndef XDOCK_LEDGER_PRIV_H
#define XDOCK_LEDGER_PRIV_H

#include "ledger.h"

#define LEDGER_NONE ((size_t)-1)

/* The first collection, from worker wi, becomes the run's list of tests
 * (its items are taken from m) and the scheduler is built over it. */
void ledger_adopt(struct ledger *l, size_t wi, struct msg *m, int64_t now_ms);
/* A later collection must be the same tests in the same order; else the
 * run stops. Returns -1 then. */
int ledger_check_collection(struct ledger *l, size_t wi, const struct msg *m);
/* n failures that are not a test's (collection errors): -x/--maxfail
 * may stop the run. */
void ledger_count_failures(struct ledger *l, size_t n);
/* "not run: stopped after N failures (-x/--maxfail)" (heap). */
char *ledger_maxfail_reason(const struct ledger *l);

#endif
