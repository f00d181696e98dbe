/* The report as JUnit XML, the shape pytest's --junitxml writes and CI
 * tools read: one testcase per test with its outcome's element, captured
 * output and flaky properties, and one per collection error. Any text
 * stays well-formed XML. */
#include "report.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto.h"

/* XML text: the five entities, and what XML 1.0 forbids (control
 * characters, bytes that are not UTF-8, U+FFFE/U+FFFF) written as \xNN
 * per byte, so the file always parses. */
static void
xml_text(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t k;

		switch (c) {
		case '&': buf_printf(b, "&amp;"); break;
		case '<': buf_printf(b, "&lt;"); break;
		case '>': buf_printf(b, "&gt;"); break;
		case '"': buf_printf(b, "&quot;"); break;
		case '\'': buf_printf(b, "&apos;"); break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
				buf_printf(b, "\\x%02x", c);
			} else if (c < 0x80) {
				buf_append(b, s, 1);
			} else if ((k = proto_utf8_seq((const unsigned char *)s, strnlen(s, 4))) > 0 &&
				   !(k == 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbf &&
				     ((unsigned char)s[2] & 0xfe) == 0xbe)) {
				/* Valid UTF-8 but for U+FFFE and U+FFFF, which XML
				 * does not allow either. */
				buf_append(b, s, k);
				s += k - 1;
			} else {
				buf_printf(b, "\\x%02x", c);
			}
		}
	}
}

/* pytest's classname: the file path as a dotted module plus any classes,
 * name: the last part of the node id. */
static void
junit_names(const char *id, char **classname, const char **name)
{
	const char *last = id, *p;
	const char *bracket = strchr(id, '[');
	struct buf b;

	for (p = id; (p = strstr(p, "::")) && (!bracket || p < bracket); p += 2)
		last = p + 2;
	*name = last;
	buf_init(&b, strlen(id) + 1);
	for (p = id; p < last; p++) {
		if (p[0] == ':' && p[1] == ':') {
			p++;
			if (p + 1 < last)
				buf_append(&b, ".", 1);
			continue;
		}
		if (*p == '/')
			buf_append(&b, ".", 1);
		else if (strncmp(p, ".py::", 5) == 0 || (strncmp(p, ".py", 3) == 0 && p + 3 >= last))
			p += 2;
		else
			buf_append(&b, p, 1);
	}
	while (b.len && b.data[b.len - 1] == '.')
		b.data[--b.len] = '\0';
	*classname = buf_steal(&b);
}

/* The element a test's outcome is written as and its message; no tag for
 * a test that passed. */
static void
junit_tag(const struct report_test *t, const char **tag, const char **msg)
{
	*tag = *msg = NULL;
	switch (t->outcome) {
	case OUTCOME_FAILED: *tag = "failure"; *msg = "failed"; break;
	case OUTCOME_CRASHED: *tag = "failure"; *msg = "worker crashed"; break;
	case OUTCOME_TIMEOUT: *tag = "failure"; *msg = "timeout"; break;
	case OUTCOME_ERROR: *tag = "error"; *msg = "error"; break;
	case OUTCOME_SKIPPED: *tag = "skipped"; *msg = "skipped"; break;
	case OUTCOME_XFAILED: *tag = "skipped"; *msg = "expected failure"; break;
	case OUTCOME_NONE: *tag = "skipped"; *msg = t->reason ? t->reason : "not run"; break;
	default: break;
	}
}

/* pytest's record_property shape: CI tools show it. */
static void
junit_flaky(const struct report *r, const struct report_test *t, struct buf *b)
{
	buf_printf(b, "<properties><property name=\"flaky\" value=\"%s\"/>", t->flaky_kind ? t->flaky_kind : "true");
	for (size_t k = 0; k < t->nattempts; k++) {
		const struct report_attempt *a = &t->attempts[k];

		if (a->worker >= 0 && (size_t)a->worker < r->nworkers)
			buf_printf(b, "<property name=\"failed_on\" value=\"%s\"/>", r->workers[a->worker].name);
	}
	buf_printf(b, "</properties>");
}

/* <name>text</name>, nothing when text is empty. */
static void
junit_output(struct buf *b, const char *name, const char *text)
{
	if (!text || !*text)
		return;
	buf_printf(b, "<%s>", name);
	xml_text(b, text);
	buf_printf(b, "</%s>", name);
}

static void
junit_case(const struct report *r, const struct report_test *t, struct buf *b)
{
	cleanup_free char *classname = NULL;
	const char *name, *tag, *msg;

	junit_names(t->id, &classname, &name);
	buf_printf(b, "<testcase classname=\"");
	xml_text(b, classname);
	buf_printf(b, "\" name=\"");
	xml_text(b, name);
	buf_printf(b, "\" file=\"");
	xml_text(b, t->file);
	buf_printf(b, "\" time=\"%.3f\"", t->duration);
	if (t->worker >= 0 && (size_t)t->worker < r->nworkers)
		buf_printf(b, " worker=\"%s\"", r->workers[t->worker].name);
	junit_tag(t, &tag, &msg);
	if (!tag && !t->flaky && !(t->out && *t->out) && !(t->err && *t->err)) {
		buf_printf(b, "/>\n");
		return;
	}
	buf_printf(b, ">");
	if (t->flaky)
		junit_flaky(r, t, b);
	if (tag) {
		buf_printf(b, "<%s message=\"", tag);
		xml_text(b, msg);
		buf_printf(b, "\">");
		xml_text(b, t->longrepr);
		buf_printf(b, "</%s>", tag);
	}
	junit_output(b, "system-out", t->out);
	junit_output(b, "system-err", t->err);
	buf_printf(b, "</testcase>\n");
}

int
report_junit(const struct report *r, struct buf *b, struct error **err)
{
	size_t c[OUTCOME__COUNT];
	char stamp[32] = "";
	struct tm tm;
	time_t t0 = (time_t)r->started_unix;

	report_counts(r, c);
	if (gmtime_r(&t0, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites>");
	buf_printf(b,
		   "<testsuite name=\"xdock\" errors=\"%zu\" failures=\"%zu\" skipped=\"%zu\" tests=\"%zu\" "
		   "time=\"%.3f\" timestamp=\"%s\">\n",
		   c[OUTCOME_ERROR] + r->ncollect_errors, c[OUTCOME_FAILED] + c[OUTCOME_CRASHED] + c[OUTCOME_TIMEOUT],
		   c[OUTCOME_SKIPPED] + c[OUTCOME_XFAILED] + c[OUTCOME_NONE], r->ntests, r->wall, stamp);
	for (size_t i = 0; i < r->ntests; i++)
		junit_case(r, &r->tests[i], b);
	for (size_t i = 0; i < r->ncollect_errors; i++) {
		buf_printf(b, "<testcase classname=\"\" name=\"collection\"><error message=\"collection failure\">");
		xml_text(b, r->collect_errors[i]);
		buf_printf(b, "</error></testcase>\n");
	}
	if (buf_printf(b, "</testsuite></testsuites>\n") < 0)
		return error_set(err, EXIT_INTERNAL, "junit report: larger than %zu bytes", b->max);
	return 0;
}
