/* What the user sees while a run goes: the header, pytest-style progress
 * (dots with a percentage, or one line per test with -v), and at the end
 * the failures, the short summary and the summary line. Writes to the
 * FILE it is given, nothing else. */
#ifndef XDOCK_TERM_H
#define XDOCK_TERM_H

#include <stdio.h>

#include "report.h"

struct term {
	FILE *out;
	int verbose;
	size_t total;   /* tests expected */
	size_t done;
	int column;     /* progress characters on the current line */
	double eta;     /* seconds left, from the duration history; < 0: unknown */
	bool handed_over; /* pytest's controller prints progress and results */
};

void term_init(struct term *t, FILE *out, int verbose);
void term_line(struct term *t, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* From now on pytest's controller prints progress, failures and the
 * summary on the user's stdout (controller.h); xdock's own lines (start-up,
 * replaced workers, rerun rounds, warnings) go to lines (stderr). */
void term_hand_over(struct term *t, FILE *lines);
/* A test ended: a progress character, or a line with -v. */
void term_progress(struct term *t, const struct report *r, size_t test);
/* A test failed and will run again (--reruns): 'R', or a line with -v. */
void term_rerun(struct term *t, const struct report *r, size_t test, const char *worker, enum outcome o);
/* Closes the progress line, prints failures, short summary, summary. */
void term_finish(struct term *t, const struct report *r);

#endif
