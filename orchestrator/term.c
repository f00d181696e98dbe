#include "term.h"

#include <stdarg.h>
#include <string.h>

#define TERM_WIDTH 80
#define TERM_DOTS 68 /* progress characters before the " [ xx%]" column */
#define TERM_NOT_RUN_LISTED 10

void
term_init(struct term *t, FILE *out, int verbose)
{
	memset(t, 0, sizeof(*t));
	t->out = out;
	t->verbose = verbose;
	t->eta = -1;
}

void
term_hand_over(struct term *t, FILE *lines)
{
	t->out = lines;
	t->handed_over = true;
}

static void
end_dots(struct term *t)
{
	if (t->column > 0) {
		size_t pct = t->total ? t->done * 100 / t->total : 100;

		if (t->eta >= 0.5 && pct < 100)
			fprintf(t->out, "%*s [%3zu%%] eta %.0fs\n", TERM_DOTS - t->column, "", pct, t->eta);
		else
			fprintf(t->out, "%*s [%3zu%%]\n", TERM_DOTS - t->column, "", pct);
		t->column = 0;
	}
}

void
term_line(struct term *t, const char *fmt, ...)
{
	va_list ap;

	end_dots(t);
	va_start(ap, fmt);
	vfprintf(t->out, fmt, ap);
	va_end(ap);
	fputc('\n', t->out);
	fflush(t->out);
}

static char
progress_char(enum outcome o)
{
	switch (o) {
	case OUTCOME_PASSED: return '.';
	case OUTCOME_FAILED: return 'F';
	case OUTCOME_ERROR: return 'E';
	case OUTCOME_SKIPPED: return 's';
	case OUTCOME_XFAILED: return 'x';
	case OUTCOME_XPASSED: return 'X';
	case OUTCOME_CRASHED: return 'C';
	case OUTCOME_TIMEOUT: return 'T';
	default: return '?';
	}
}

static const char *
verbose_word(enum outcome o)
{
	switch (o) {
	case OUTCOME_PASSED: return "PASSED";
	case OUTCOME_FAILED: return "FAILED";
	case OUTCOME_ERROR: return "ERROR";
	case OUTCOME_SKIPPED: return "SKIPPED";
	case OUTCOME_XFAILED: return "XFAIL";
	case OUTCOME_XPASSED: return "XPASS";
	case OUTCOME_CRASHED: return "CRASHED";
	case OUTCOME_TIMEOUT: return "TIMEOUT";
	default: return "NOT RUN";
	}
}

void
term_progress(struct term *t, const struct report *r, size_t test)
{
	const struct report_test *rt = &r->tests[test];

	t->done++;
	if (t->handed_over)
		return;
	if (t->verbose > 0) {
		size_t pct = t->total ? t->done * 100 / t->total : 100;
		const char *wname = rt->worker >= 0 ? r->workers[rt->worker].name : "--";

		fprintf(t->out, "[%s] [%3zu%%] %s %s\n", wname, pct, verbose_word(rt->outcome), rt->id);
	} else if (t->verbose == 0) {
		fputc(progress_char(rt->outcome), t->out);
		if (++t->column == TERM_DOTS)
			end_dots(t);
	}
	fflush(t->out);
}

void
term_rerun(struct term *t, const struct report *r, size_t test, const char *worker, enum outcome o)
{
	if (t->handed_over)
		return;
	if (t->verbose > 0) {
		fprintf(t->out, "[%s] RERUN %s (%s)\n", worker, r->tests[test].id, outcome_name(o));
	} else if (t->verbose == 0) {
		fputc('R', t->out);
		if (++t->column == TERM_DOTS)
			end_dots(t);
	}
	fflush(t->out);
}

/* "==== title ====" centred in TERM_WIDTH, like pytest's section rules. */
static void
rule(FILE *f, char c, const char *title)
{
	int len = (int)strlen(title) + 2;
	int left = len >= TERM_WIDTH ? 1 : (TERM_WIDTH - len) / 2;
	int right = len >= TERM_WIDTH ? 1 : TERM_WIDTH - len - left;

	for (int i = 0; i < left; i++)
		fputc(c, f);
	fprintf(f, " %s ", title);
	for (int i = 0; i < right; i++)
		fputc(c, f);
	fputc('\n', f);
}

static bool
is_failure(enum outcome o)
{
	return o == OUTCOME_FAILED || o == OUTCOME_ERROR || o == OUTCOME_CRASHED || o == OUTCOME_TIMEOUT;
}

/* The first line of a failure text that says what went wrong: pytest's
 * "E   ..." lines, else the last non-empty line. */
static void
first_reason(const char *text, char *out, size_t max)
{
	const char *p = text, *best = NULL, *last = NULL;
	size_t n;

	out[0] = '\0';
	if (!text)
		return;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > 0)
			last = p;
		if (!best && len > 4 && p[0] == 'E' && p[1] == ' ')
			best = p;
		p += len + (eol ? 1 : 0);
	}
	/* Drop only the "E" marker and the indent: "E   Exception: x"
	 * keeps the E of Exception. */
	if (best)
		best++;
	else if (!(best = last))
		return;
	while (*best == ' ')
		best++;
	n = strcspn(best, "\n");
	if (n >= max)
		n = max - 1;
	memcpy(out, best, n);
	out[n] = '\0';
}

/* pytest names the phase an error happened in: setup or teardown. */
static const char *
section_prefix(const struct report_test *rt)
{
	if (rt->outcome != OUTCOME_ERROR)
		return "";
	if (rt->when && strcmp(rt->when, "teardown") == 0)
		return "ERROR at teardown of ";
	return "ERROR at setup of ";
}

void
term_finish(struct term *t, const struct report *r)
{
	struct buf line;
	bool any = false;

	if (t->handed_over)
		return;
	end_dots(t);
	for (size_t i = 0; i < r->ncollect_errors; i++) {
		if (i == 0)
			rule(t->out, '=', "ERRORS");
		rule(t->out, '_', "ERROR collecting");
		fprintf(t->out, "%s\n", r->collect_errors[i]);
	}
	for (size_t i = 0; i < r->ntests; i++) {
		const struct report_test *rt = &r->tests[i];
		cleanup_free char *title = NULL;

		if (!is_failure(rt->outcome))
			continue;
		if (!any)
			rule(t->out, '=', "FAILURES");
		any = true;
		title = xasprintf("%s%s [%s]", section_prefix(rt), rt->id,
				  rt->worker >= 0 ? r->workers[rt->worker].name : "--");
		rule(t->out, '_', title);
		if (rt->longrepr)
			fprintf(t->out, "%s\n", rt->longrepr);
		if (rt->out && *rt->out) {
			rule(t->out, '-', "Captured stdout");
			fprintf(t->out, "%s%s", rt->out, rt->out[strlen(rt->out) - 1] == '\n' ? "" : "\n");
		}
		if (rt->err && *rt->err) {
			rule(t->out, '-', "Captured stderr");
			fprintf(t->out, "%s%s", rt->err, rt->err[strlen(rt->err) - 1] == '\n' ? "" : "\n");
		}
	}
	any = false;
	size_t not_run = 0;
	for (size_t i = 0; i < r->ntests; i++) {
		const struct report_test *rt = &r->tests[i];
		char reason[160];

		if (!is_failure(rt->outcome) && rt->outcome != OUTCOME_NONE)
			continue;
		if (rt->outcome == OUTCOME_NONE && !rt->reason)
			continue;
		/* A stopped run can leave thousands not run: name a few, count
		 * the rest (the JSON report lists them all). */
		if (rt->outcome == OUTCOME_NONE && ++not_run > TERM_NOT_RUN_LISTED)
			continue;
		if (!any)
			rule(t->out, '=', "short test summary info");
		any = true;
		first_reason(rt->outcome == OUTCOME_NONE ? rt->reason : rt->longrepr, reason, sizeof(reason));
		fprintf(t->out, "%s%s %s%s%s\n", rt->outcome == OUTCOME_NONE ? "NOT RUN" : verbose_word(rt->outcome),
			rt->quarantined ? " (quarantined)" : "", rt->id, reason[0] ? " - " : "", reason);
	}
	if (not_run > TERM_NOT_RUN_LISTED)
		fprintf(t->out, "NOT RUN ... and %zu more (listed in the JSON report)\n", not_run - TERM_NOT_RUN_LISTED);
	buf_init(&line, 4096);
	report_summary(r, &line);
	rule(t->out, '=', line.data);
	buf_release(&line);
	fflush(t->out);
}
