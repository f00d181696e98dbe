/* The wire protocol between the orchestrator and xdock-agent: one JSON
 * object per line over the container's stdin/stdout (the attach stream),
 * or over the local channel (a unix socket the agent is given with
 * --channel) where the engine shares the orchestrator's files. This
 * header is the contract; docs/protocol.md explains it.
 *
 * Bump PROTO_VERSION when anything here or in a message's fields changes:
 * the hello exchange rejects a peer that speaks another version.
 *
 * orchestrator -> agent
 *   {"t":"hello","v":5}                       first line, always
 *   {"t":"input","input":{..}}                the worker's workerinput, made by
 *                                             the controller (workers started
 *                                             with XDOCK_CONTROLLER=1 wait for it)
 *   {"t":"run","i":[3,4,5]}                   run these collection indexes
 *   {"t":"bye"}                               no more work: finish and exit
 *   {"t":"stop"}                              like bye, but tests sent and not
 *                                             begun are dropped (-x, --maxfail)
 * agent/runner -> orchestrator
 *   {"t":"nochan"}                            on stdout, before anything else:
 *                                             the agent was given a local
 *                                             channel and cannot reach it; the
 *                                             attach stream carries the rest
 *   {"t":"hello","v":5,"pid":N}               agent, in reply to hello
 *   {"t":"ev","e":NAME,"d":{..}}              what xdist's worker sends its
 *                                             controller (serialized reports,
 *                                             warnings, workeroutput), for the
 *                                             controller; opaque to xdock
 *   {"t":"collected","items":[{"id":..,"file":..,"group":..}],"errors":[..]}
 *   {"t":"start","i":3}                       test 3 begins (runner)
 *   {"t":"result","i":3,"outcome":..,"duration":s,"when":..,"longrepr":..,
 *    "stdout":..,"stderr":..}                 test 3 ended (runner)
 *   {"t":"done"}                              runner finished after bye
 *   {"t":"crash","i":3,"status":N,"signal":N,"timeout":B,"reason":..,
 *    "output":..}                             runner died (i = -1: no test);
 *                                             timeout: killed by --timeout
 *   {"t":"exit","status":N,"output":..}       runner exited, agent leaves
 *   {"t":"error","message":..}                agent cannot go on
 *
 * The controller (agent --controller, plugin xdock_controller.py) speaks
 * the same hello/exit/error and, after hello:
 * orchestrator -> controller
 *   {"t":"ev","w":"gw0","e":..,"d":..}        a worker's event, "w" added
 *   {"t":"rerun","w":"gw0","id":NODEID}       that test's failures are reruns
 *   {"t":"crash","w":"gw0","id":NODEID,"reason":..,"rerun":B}
 *                                             the worker died (id "" between
 *                                             tests)
 *   {"t":"flaky","id":NODEID,"kind":K,"failed_on":["gw0",..]}
 *                                             that test failed, then passed
 *                                             on a rerun; its --junitxml
 *                                             testcase gets K (before bye)
 *   {"t":"bye"}                               the run is over
 * controller -> orchestrator
 *   {"t":"input","w":"gw0","input":{..}}      workerinput for gw0
 *   {"t":"done"}                              its session loop ended
 *   {"t":"stderr","text":..}                  its pytest's stderr (the agent
 *                                             reads it from a pipe); its
 *                                             stdout is the container's stderr
 *
 * The agent relays runner lines unchanged; it recognises only the few
 * prefixes below, so it needs no JSON parser and stays a small static
 * binary. */
#ifndef XDOCK_PROTO_H
#define XDOCK_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define PROTO_VERSION 5

/* A line longer than this is a protocol error, never a bigger allocation.
 * Runner output inside a message is capped well below it; the longest
 * line is the collection (about 150 bytes a test: 400,000 tests). */
#define PROTO_LINE_MAX (64u << 20)

/* Exact prefixes the agent matches without parsing. Writers must emit these
 * byte for byte (no spaces), and the orchestrator's encoder does. */
#define PROTO_PFX_HELLO "{\"t\":\"hello\",\"v\":"
#define PROTO_PFX_START "{\"t\":\"start\",\"i\":"
#define PROTO_PFX_BYE "{\"t\":\"bye\"}"
#define PROTO_PFX_DONE "{\"t\":\"done\"}"
#define PROTO_NOCHAN "{\"t\":\"nochan\"}"
#define PROTO_PFX_RESULT "{\"t\":\"result\",\"i\":"
/* An event's fields follow this prefix; xdock forwards them to the
 * controller with the worker's name put in front. */
#define PROTO_PFX_EVENT "{\"t\":\"ev\","

/* Incremental line splitter: feed bytes as they come, take whole lines.
 * The cap is per line: any number of whole lines may be fed at once (the
 * caller takes them before the next feed, which bounds the buffer), but no
 * line may grow past max_line. */
/* A reader's buffer past this size is given up once its big line is
 * out. */
#define PROTO_READER_KEEP ((size_t)256 << 10)

struct proto_reader {
	struct buf buf;
	size_t scanned;  /* bytes already known to hold no newline */
	size_t partial;  /* bytes after the last newline fed */
	size_t max_line;
	bool overflow;
};

void proto_reader_init(struct proto_reader *r, size_t max_line);
void proto_reader_release(struct proto_reader *r);
/* Returns 0, or -1 when a line exceeds the cap; nothing of that feed is
 * kept and the reader is then unusable (the stream cannot be
 * resynchronised safely). */
int proto_reader_feed(struct proto_reader *r, const char *data, size_t len);
/* Returns 1 and a heap copy of the next line without its newline in *line
 * (caller frees), 0 when no whole line is buffered. */
int proto_reader_next(struct proto_reader *r, char **line, size_t *len);

/* Appends s as a JSON string literal (quotes included), escaping what JSON
 * requires. Invalid UTF-8 becomes U+FFFD so the line always parses. At most
 * `limit` input bytes are taken; when cut, " ...[truncated N bytes]" is
 * appended inside the string. Returns -1 if b's cap is hit. */
int proto_json_string(struct buf *b, const char *s, size_t n, size_t limit);

/* Length of the valid UTF-8 sequence at s (at most n bytes; overlongs,
 * surrogates and code points past U+10FFFF are invalid), 0 if invalid. */
size_t proto_utf8_seq(const unsigned char *s, size_t n);

/* Parses the integer after a known prefix ("{\"t\":\"start\",\"i\":" 12 "}").
 * Returns true and *out when line starts with pfx followed by digits. */
bool proto_prefix_int(const char *line, size_t len, const char *pfx, long *out);

#endif
