/* The outcome of one test: the vocabulary the reports, the terminal and
 * the wire protocol share. Names are the ones pytest prints. */
#ifndef XDOCK_OUTCOME_H
#define XDOCK_OUTCOME_H

/* In the order reports list them. */
enum outcome {
	OUTCOME_NONE = 0, /* not run (yet) */
	OUTCOME_PASSED,
	OUTCOME_FAILED,
	OUTCOME_ERROR,
	OUTCOME_SKIPPED,
	OUTCOME_XFAILED,
	OUTCOME_XPASSED,
	OUTCOME_CRASHED,
	OUTCOME_TIMEOUT,
	OUTCOME__COUNT,
};

const char *outcome_name(enum outcome o);
/* OUTCOME_NONE when the name is unknown. */
enum outcome outcome_parse(const char *name);

#endif
