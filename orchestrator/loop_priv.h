/* Shared by the two parts of the event loop: loop.c (the poll, the
 * channels, messages to the ledger and the controller) and loop_heal.c
 * (the watchdog, replacing crashed workers). No other file includes it. */
#ifndef XDOCK_LOOP_PRIV_H
#define XDOCK_LOOP_PRIV_H

#include "loop.h"

/* Kills worker w's container (removes it when a kill fails); nothing
 * when its engine is lost. */
void loop_kill(struct loop *lp, struct worker *w);
/* Kills the containers of agents silent well past --timeout. */
void loop_watchdog(struct loop *lp);
/* Replaces crashed workers while work remains. */
void loop_heal(struct loop *lp);

#endif
