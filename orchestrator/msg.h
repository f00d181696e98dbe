/* Decoding and encoding of protocol messages (common/proto.h) on the
 * orchestrator's side, with cJSON. Decoded messages own their strings;
 * nothing here does I/O. */
#ifndef XDOCK_MSG_H
#define XDOCK_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "outcome.h"

enum msg_kind {
	MSG_HELLO,
	MSG_COLLECTED,
	MSG_START,
	MSG_RESULT,
	MSG_DONE,
	MSG_CRASH,
	MSG_EXIT,
	MSG_ERROR,
	MSG_EVENT,  /* a worker's event for the controller */
	MSG_INPUT,  /* the controller's workerinput for one worker */
	MSG_STDERR, /* what the controller's pytest wrote to its stderr */
};

struct msg_item {
	char *id;    /* node id */
	char *file;  /* path relative to the rootdir */
	char *group; /* xdist_group name, NULL when unmarked */
};

struct msg {
	enum msg_kind kind;
	int version;             /* hello */
	long pid;                /* hello */
	long index;              /* start, result, crash (-1: no test) */
	enum outcome outcome;    /* result */
	double duration;         /* result, seconds */
	int status, signal;      /* crash, exit */
	bool timeout;            /* crash: the agent killed it for --timeout */
	char *when;              /* result: setup, call, teardown */
	char *text;              /* result longrepr, crash reason, error message;
				  * event: the line after PROTO_PFX_EVENT;
				  * input: the worker's name; stderr: the bytes */
	char *out, *err;         /* result captured stdout/stderr; crash/exit output;
				  * input: the workerinput object as JSON */
	struct msg_item *items;  /* collected */
	size_t nitems;
	char **errors;           /* collected: collection errors */
	size_t nerrors;
};

/* Parses one line. Unknown kinds and malformed fields are errors naming
 * what was wrong (the peer is ours: drift means a bug or a version skew). */
int msg_decode(const char *line, size_t len, struct msg *m, struct error **err);
void msg_release(struct msg *m);

/* Appends one whole line (with newline) to b. Return -1 only if b's cap is
 * exceeded. */
int msg_encode_hello(struct buf *b);
int msg_encode_run(struct buf *b, const size_t *indexes, size_t n);
int msg_encode_bye(struct buf *b);
int msg_encode_stop(struct buf *b);
/* {"t":"input","input":<input_json>}: input_json is a JSON object that
 * msg_decode produced (MSG_INPUT's out). */
int msg_encode_input(struct buf *b, const char *input_json);

#endif
