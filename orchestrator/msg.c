#include "msg.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* A string field: NULL when absent or null; an error when another type. */
static int
get_str(const cJSON *o, const char *key, char **out, struct error **err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return error_set(err, EXIT_INTERNAL, "field \"%s\" is not a string", key);
	*out = xstrdup(v->valuestring);
	return 0;
}

static int
get_num(const cJSON *o, const char *key, bool required, double *out, struct error **err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v || cJSON_IsNull(v)) {
		if (required)
			return error_set(err, EXIT_INTERNAL, "field \"%s\" is missing", key);
		return 0;
	}
	if (!cJSON_IsNumber(v))
		return error_set(err, EXIT_INTERNAL, "field \"%s\" is not a number", key);
	*out = v->valuedouble;
	return 0;
}

/* A number that must be whole and fit an int: indexes, pids, statuses.
 * Casting 1e300 or 2.5 to an integer would be undefined or silently
 * wrong, so those are malformed. */
static int
get_int(const cJSON *o, const char *key, bool required, double *out, struct error **err)
{
	double v = *out;

	if (get_num(o, key, required, &v, err) < 0)
		return -1;
	if (v < -2147483648.0 || v > 2147483647.0 || v != (double)(long)v)
		return error_set(err, EXIT_INTERNAL, "field \"%s\" is not a whole number", key);
	*out = v;
	return 0;
}

static int
decode_collected(const cJSON *root, struct msg *m, struct error **err)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
	const cJSON *it;
	size_t i = 0;

	if (!cJSON_IsArray(items))
		return error_set(err, EXIT_INTERNAL, "collected: \"items\" is not an array");
	m->nitems = (size_t)cJSON_GetArraySize(items);
	m->items = xcalloc(m->nitems, sizeof(*m->items));
	cJSON_ArrayForEach(it, items) {
		struct msg_item *mi = &m->items[i++];

		if (!cJSON_IsObject(it))
			return error_set(err, EXIT_INTERNAL, "collected: item %zu is not an object", i - 1);
		if (get_str(it, "id", &mi->id, err) < 0 || get_str(it, "file", &mi->file, err) < 0 ||
		    get_str(it, "group", &mi->group, err) < 0)
			return error_wrap(err, "collected: item %zu", i - 1);
		if (!mi->id)
			return error_set(err, EXIT_INTERNAL, "collected: item %zu has no id", i - 1);
		if (!mi->file)
			mi->file = xstrndup(mi->id, strcspn(mi->id, ":"));
	}
	if (cJSON_IsArray(errors)) {
		m->nerrors = (size_t)cJSON_GetArraySize(errors);
		m->errors = xcalloc(m->nerrors, sizeof(*m->errors));
		i = 0;
		cJSON_ArrayForEach(it, errors)
			m->errors[i++] = xstrdup(cJSON_IsString(it) ? it->valuestring : "(unprintable collection error)");
	}
	return 0;
}

/* A syntax pass over JSON text that builds nothing: events are only
 * checked and forwarded, and building and freeing cJSON's tree for each
 * was most of xdock's CPU per test (docs/benchmarks.md). Strict JSON (as
 * Python's json.dumps writes it without NaN), nesting capped as cJSON
 * caps it. */
#define SCAN_DEPTH_MAX 1000

struct scan {
	const char *p, *end;
	int depth;
	bool e_string; /* the top-level object's first "e" is a string */
};

static bool scan_value(struct scan *s);

static void
scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool
scan_lit(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
scan_string(struct scan *s)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	for (s->p++; s->p < s->end; s->p++) {
		unsigned char c = (unsigned char)*s->p;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (++s->p >= s->end)
			return false;
		if (*s->p == 'u') {
			if (s->end - s->p < 5 || !is_hex(s->p[1]) || !is_hex(s->p[2]) || !is_hex(s->p[3]) ||
			    !is_hex(s->p[4]))
				return false;
			s->p += 4;
		} else if (!strchr("\"\\/bfnrt", *s->p)) {
			return false;
		}
	}
	return false;
}

static bool
scan_digits(struct scan *s)
{
	const char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool
scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!scan_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!scan_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return false;
	}
	return true;
}

/* Members or elements up to the closing bracket; s->p is past the
 * opening one. */
static bool
scan_container(struct scan *s, char close)
{
	bool top = s->depth == 1, seen_e = false;

	scan_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return true;
	}
	for (;;) {
		if (close == '}') {
			const char *key = s->p;
			bool is_e;

			if (!scan_string(s))
				return false;
			is_e = s->p - key == 3 && memcmp(key, "\"e\"", 3) == 0;
			scan_ws(s);
			if (s->p >= s->end || *s->p++ != ':')
				return false;
			scan_ws(s);
			if (top && !seen_e && is_e) {
				seen_e = true;
				s->e_string = s->p < s->end && *s->p == '"';
			}
		}
		if (!scan_value(s))
			return false;
		scan_ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == close) {
			s->p++;
			return true;
		}
		if (*s->p++ != ',')
			return false;
		scan_ws(s);
	}
}

static bool
scan_value(struct scan *s)
{
	bool ok;

	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{':
	case '[':
		if (++s->depth > SCAN_DEPTH_MAX)
			return false;
		ok = scan_container(s, *s->p++ == '{' ? '}' : ']');
		s->depth--;
		return ok;
	case '"':
		return scan_string(s);
	case 't':
		return scan_lit(s, "true");
	case 'f':
		return scan_lit(s, "false");
	case 'n':
		return scan_lit(s, "null");
	default:
		return scan_number(s);
	}
}

/* {"t":"ev",...}: checked to be one JSON object with a string "e", then
 * kept as bytes (what follows the prefix) for the controller. */
static int
decode_event(const char *line, size_t len, struct msg *m, struct error **err)
{
	struct scan s = { .p = line, .end = line + len };
	int shown = len < 80 ? (int)len : 80;
	bool ok;

	scan_ws(&s);
	ok = s.p < s.end && *s.p == '{' && scan_value(&s);
	scan_ws(&s);
	if (!ok || s.p != s.end)
		return error_set(err, EXIT_INTERNAL, "not a JSON object: %.*s", shown, line);
	if (!s.e_string) {
		error_set(err, EXIT_INTERNAL, "not an event: %.*s", shown, line);
		return error_wrap(err, "message \"ev\"");
	}
	m->kind = MSG_EVENT;
	m->text = xstrndup(line + strlen(PROTO_PFX_EVENT), len - strlen(PROTO_PFX_EVENT));
	return 0;
}

static int
decode_hello(const cJSON *root, struct msg *m, struct error **err)
{
	double v = -1, pid = 0;

	if (get_int(root, "v", true, &v, err) < 0 || get_int(root, "pid", false, &pid, err) < 0)
		return -1;
	m->version = (int)v;
	m->pid = (long)pid;
	return 0;
}

static int
decode_start(const cJSON *root, struct msg *m, struct error **err)
{
	double i = -1;

	if (get_int(root, "i", true, &i, err) < 0)
		return -1;
	m->index = (long)i;
	return 0;
}

static int
decode_result(const cJSON *root, struct msg *m, struct error **err)
{
	cleanup_free char *outcome = NULL;
	double i = -1;

	if (get_int(root, "i", true, &i, err) < 0 || get_str(root, "outcome", &outcome, err) < 0 ||
	    get_num(root, "duration", false, &m->duration, err) < 0 || get_str(root, "when", &m->when, err) < 0 ||
	    get_str(root, "longrepr", &m->text, err) < 0 || get_str(root, "stdout", &m->out, err) < 0 ||
	    get_str(root, "stderr", &m->err, err) < 0)
		return -1;
	m->index = (long)i;
	m->outcome = outcome ? outcome_parse(outcome) : OUTCOME_NONE;
	if (m->outcome == OUTCOME_NONE)
		return error_set(err, EXIT_INTERNAL, "unknown outcome \"%s\"", outcome ? outcome : "(none)");
	return 0;
}

static int
decode_done(const cJSON *root, struct msg *m, struct error **err)
{
	(void)root, (void)m, (void)err;
	return 0;
}

/* crash and exit: the test it happened in, if any (-1: none). */
static int
decode_end(const cJSON *root, struct msg *m, struct error **err)
{
	double i = -1, status = 0, sig = 0;

	if (get_int(root, "i", false, &i, err) < 0 || get_int(root, "status", false, &status, err) < 0 ||
	    get_int(root, "signal", false, &sig, err) < 0 || get_str(root, "reason", &m->text, err) < 0 ||
	    get_str(root, "output", &m->out, err) < 0)
		return -1;
	m->index = (long)i;
	m->status = (int)status;
	m->signal = (int)sig;
	m->timeout = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "timeout"));
	return 0;
}

static int
decode_input(const cJSON *root, struct msg *m, struct error **err)
{
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");

	if (get_str(root, "w", &m->text, err) < 0)
		return -1;
	if (!m->text || !cJSON_IsObject(in))
		return error_set(err, EXIT_INTERNAL, "input without a worker or an object");
	m->out = cJSON_PrintUnformatted(in);
	if (!m->out)
		abort();
	return 0;
}

static int
decode_stderr(const cJSON *root, struct msg *m, struct error **err)
{
	if (get_str(root, "text", &m->text, err) < 0)
		return -1;
	if (!m->text)
		m->text = xstrdup("");
	return 0;
}

static int
decode_error(const cJSON *root, struct msg *m, struct error **err)
{
	if (get_str(root, "message", &m->text, err) < 0)
		return -1;
	if (!m->text)
		m->text = xstrdup("(no message)");
	return 0;
}

/* Every kind the orchestrator reads but events (decode_event), by its "t". */
static const struct {
	const char *t;
	enum msg_kind kind;
	int (*decode)(const cJSON *root, struct msg *m, struct error **err);
} kinds[] = {
	{ "hello", MSG_HELLO, decode_hello },
	{ "collected", MSG_COLLECTED, decode_collected },
	{ "start", MSG_START, decode_start },
	{ "result", MSG_RESULT, decode_result },
	{ "done", MSG_DONE, decode_done },
	{ "crash", MSG_CRASH, decode_end },
	{ "exit", MSG_EXIT, decode_end },
	{ "input", MSG_INPUT, decode_input },
	{ "stderr", MSG_STDERR, decode_stderr },
	{ "error", MSG_ERROR, decode_error },
};

int
msg_decode(const char *line, size_t len, struct msg *m, struct error **err)
{
	cleanup_cjson cJSON *root = NULL;
	const cJSON *t;
	/* The line is len bytes, not a C string: quote at most 80 of them. */
	int shown = len < 80 ? (int)len : 80;

	memset(m, 0, sizeof(*m));
	m->index = -1;
	if (len > strlen(PROTO_PFX_EVENT) && memcmp(line, PROTO_PFX_EVENT, strlen(PROTO_PFX_EVENT)) == 0)
		return decode_event(line, len, m, err);
	root = cJSON_ParseWithLength(line, len);
	if (!root || !cJSON_IsObject(root))
		return error_set(err, EXIT_INTERNAL, "not a JSON object: %.*s", shown, line);
	t = cJSON_GetObjectItemCaseSensitive(root, "t");
	if (!cJSON_IsString(t))
		return error_set(err, EXIT_INTERNAL, "message without \"t\": %.*s", shown, line);
	/* An event is forwarded as bytes, so its fields must follow the exact
	 * prefix: one in any other form (reordered, spaced) is refused. */
	if (strcmp(t->valuestring, "ev") == 0) {
		error_set(err, EXIT_INTERNAL, "not an event: %.*s", shown, line);
		return error_wrap(err, "message \"ev\"");
	}
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (strcmp(t->valuestring, kinds[i].t) != 0)
			continue;
		m->kind = kinds[i].kind;
		if (kinds[i].decode(root, m, err) < 0) {
			msg_release(m);
			return error_wrap(err, "message \"%.20s\"", t->valuestring);
		}
		return 0;
	}
	return error_set(err, EXIT_INTERNAL, "unknown message \"%.40s\"", t->valuestring);
}

void
msg_release(struct msg *m)
{
	for (size_t i = 0; i < m->nitems; i++) {
		free(m->items[i].id);
		free(m->items[i].file);
		free(m->items[i].group);
	}
	free(m->items);
	for (size_t i = 0; i < m->nerrors; i++)
		free(m->errors[i]);
	free(m->errors);
	free(m->when);
	free(m->text);
	free(m->out);
	free(m->err);
	memset(m, 0, sizeof(*m));
	m->index = -1;
}

int
msg_encode_input(struct buf *b, const char *input_json)
{
	return buf_printf(b, "{\"t\":\"input\",\"input\":%s}\n", input_json);
}

int
msg_encode_hello(struct buf *b)
{
	return buf_printf(b, PROTO_PFX_HELLO "%d}\n", PROTO_VERSION);
}

int
msg_encode_run(struct buf *b, const size_t *indexes, size_t n)
{
	if (buf_append(b, "{\"t\":\"run\",\"i\":[", 16) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buf_printf(b, i ? ",%zu" : "%zu", indexes[i]) < 0)
			return -1;
	return buf_append(b, "]}\n", 3);
}

int
msg_encode_bye(struct buf *b)
{
	return buf_append(b, PROTO_PFX_BYE "\n", sizeof(PROTO_PFX_BYE));
}

int
msg_encode_stop(struct buf *b)
{
	return buf_append(b, "{\"t\":\"stop\"}\n", 13);
}
