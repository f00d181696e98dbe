/* The one error object: set where a failure is first seen, wrapped with
 * context on the way up, printed once by main and mapped to an exit code.
 * Functions that can fail take `struct error **err` last and return a
 * negative int (or NULL) with *err set. */
#ifndef XDOCK_ERROR_H
#define XDOCK_ERROR_H

#include "util.h"

/* Exit codes, the same numbers pytest uses so CI scripts need no change. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_TESTS_FAILED = 1,
	EXIT_INTERRUPTED = 2,
	EXIT_INTERNAL = 3,
	EXIT_USAGE = 4,
	EXIT_NO_TESTS = 5,
};

struct error {
	int status; /* enum exit_code main should leave with */
	char *msg;
};

/* Sets *err to a new error (if *err is already set, the old one wins and
 * this message is dropped: the first failure is the cause). Returns -1. */
int error_set(struct error **err, int status, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Prefixes "context: " to the message of *err. Returns -1. */
int error_wrap(struct error **err, const char *fmt, ...) PRINTF_LIKE(2, 3);
void error_free(struct error *e);
/* A sweep that goes on after a failure: e (a later step's own error, may
 * be NULL) becomes *err when none is set yet, else it is freed; the first
 * failure is the one printed. Never pass a set *err on to the next step:
 * a step that fails too would wrap its context onto the first message. */
void error_keep(struct error **err, struct error *e);

static inline void
cleanup_error_fn(struct error **e)
{
	error_free(*e);
}
#define cleanup_error __attribute__((cleanup(cleanup_error_fn)))

#endif
