#include "timeline.h"

#include <string.h>

#include "sequence.h"
#include "util.h"

#define TL_WIDTH 1200      /* px of the whole drawing */
#define TL_LABEL 90        /* px of the worker names column */
#define TL_ROW 24          /* px per row */
#define TL_BAR 16          /* px of a bar's height */

/* The start-up phases overlap (the databases are made while the
 * containers start and the workers collect): each says when it ran. */
static double
phase_start(const struct report *r, size_t i)
{
	return r->phases[i].start;
}

static double
sec(int64_t ms)
{
	return ms < 0 ? 0 : (double)ms / 1000.0;
}

cJSON *
timeline_json(const struct report *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *ph = cJSON_AddArrayToObject(o, "phases");
	long crit = r->seq ? sequence_critical(r->seq) : -1;

	cJSON_AddNumberToObject(o, "end", r->wall);
	for (size_t i = 0; i < r->nphases; i++) {
		cJSON *p = cJSON_CreateObject();
		double s = phase_start(r, i);

		cJSON_AddStringToObject(p, "name", r->phases[i].name);
		cJSON_AddNumberToObject(p, "start", s);
		cJSON_AddNumberToObject(p, "end", r->phases[i].end);
		cJSON_AddItemToArray(ph, p);
	}
	if (crit < 0) {
		cJSON_AddNullToObject(o, "critical_path");
	} else {
		const struct sequence_lane *l = &r->seq->lanes[crit];
		cJSON *c = cJSON_AddObjectToObject(o, "critical_path");
		double busy = 0;

		for (size_t k = 0; k < l->n; k++)
			busy += sec(l->e[k].end_ms) - sec(l->e[k].start_ms);
		cJSON_AddStringToObject(c, "worker", l->worker);
		cJSON_AddNumberToObject(c, "round", l->round);
		cJSON_AddNumberToObject(c, "lane", (double)crit);
		cJSON_AddNumberToObject(c, "startup", l->collected_ms >= 0 ? sec(l->collected_ms) : sec(l->e[0].start_ms));
		cJSON_AddNumberToObject(c, "tests", (double)l->n);
		cJSON_AddNumberToObject(c, "test_seconds", busy);
		cJSON_AddNumberToObject(c, "end", sec(l->e[l->n - 1].end_ms));
	}
	return o;
}

/* Text and attribute values: the five entities; everything else of a
 * node id passes as it is (UTF-8). */
static void
esc(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': buf_printf(b, "&amp;"); break;
		case '<': buf_printf(b, "&lt;"); break;
		case '>': buf_printf(b, "&gt;"); break;
		case '"': buf_printf(b, "&quot;"); break;
		case '\'': buf_printf(b, "&#39;"); break;
		default:
			if ((unsigned char)*s < 0x20)
				buf_printf(b, " ");
			else
				buf_printf(b, "%c", *s);
		}
	}
}

struct scale {
	double px_per_s;
};

static double
xpos(const struct scale *sc, double s)
{
	return TL_LABEL + s * sc->px_per_s;
}

static void
bar(struct buf *b, const struct scale *sc, double y, double from, double to, const char *cls, const char *title,
    const char *detail)
{
	double w = (to - from) * sc->px_per_s;

	buf_printf(b, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"><title>", cls,
		   xpos(sc, from), y, w < 1 ? 1 : w, TL_BAR);
	esc(b, title);
	buf_printf(b, "%s</title></rect>\n", detail);
}

static const char *
outcome_class(enum outcome o)
{
	return o == OUTCOME_NONE ? "unfinished" : outcome_name(o);
}

/* Rows: one per worker slot (a replaced container and --reruns rounds
 * come later in time on the same row). */
static void
worker_row(struct buf *b, const struct report *r, const struct scale *sc, const char *name, double y, long crit)
{
	buf_printf(b, "<g class=\"worker\" data-worker=\"");
	esc(b, name);
	buf_printf(b, "\"><text class=\"label\" x=\"4\" y=\"%.1f\">", y + TL_BAR - 3);
	esc(b, name);
	buf_printf(b, "</text>\n");
	for (size_t i = 0; i < r->seq->nlanes; i++) {
		const struct sequence_lane *l = &r->seq->lanes[i];
		bool on_path = (long)i == crit;
		char detail[96];

		if (strcmp(l->worker, name) != 0)
			continue;
		if (l->started_ms >= 0 && l->collected_ms >= 0) {
			snprintf(detail, sizeof(detail), ": %.3f s (container, database, collection%s)",
				 sec(l->collected_ms) - sec(l->started_ms), l->round ? ", rerun round" : "");
			bar(b, sc, y, sec(l->started_ms), sec(l->collected_ms), on_path ? "startup crit" : "startup",
			    "start-up", detail);
		}
		for (size_t k = 0; k < l->n; k++) {
			const struct sequence_entry *e = &l->e[k];
			double to = e->end_ms >= 0 ? sec(e->end_ms) : r->wall;
			char cls[48];

			snprintf(detail, sizeof(detail), " \xe2\x80\x94 %s, %.3f s", outcome_class(e->outcome),
				 to - sec(e->start_ms));
			snprintf(cls, sizeof(cls), "test %s%s", outcome_class(e->outcome), on_path ? " crit" : "");
			bar(b, sc, y, sec(e->start_ms), to, cls, e->id, detail);
		}
	}
	buf_printf(b, "</g>\n");
}

int
timeline_html(const struct report *r, struct buf *b, struct error **err)
{
	struct scale sc;
	double end = r->wall > 0 ? r->wall : 1;
	long crit = r->seq ? sequence_critical(r->seq) : -1;
	size_t rows = 2; /* start-up, databases */
	double y;

	sc.px_per_s = (TL_WIDTH - TL_LABEL - 10) / end;
	for (size_t i = 0; i < r->nworkers; i++)
		rows++;
	buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>xdock run ");
	esc(b, r->run_id);
	buf_printf(b, "</title>\n<style>\n"
		      "body{font:13px sans-serif;margin:16px;color:#222}\n"
		      "svg text{font:12px monospace}\n"
		      "rect.test.passed{fill:#3a3}rect.test.failed{fill:#d22}rect.test.error{fill:#e80}\n"
		      "rect.test.skipped{fill:#aaa}rect.test.xfailed{fill:#ccc}rect.test.xpassed{fill:#dd2}\n"
		      "rect.test.crashed{fill:#82c}rect.test.timeout{fill:#852}rect.test.unfinished{fill:#444}\n"
		      "rect.startup{fill:#9bd}rect.phase{fill:#68a}rect.test{stroke:#fff;stroke-width:0.5}\n"
		      "rect.phase{stroke:#fff;stroke-width:1}rect.startup.crit{stroke:#000;stroke-width:1.5}\n"
		      "rect.test.crit{stroke:#000;stroke-width:0.8}\n"
		      ".legend span{display:inline-block;padding:0 6px;margin-right:4px;color:#fff}\n"
		      "</style></head><body>\n<h1>xdock run ");
	esc(b, r->run_id);
	buf_printf(b, "</h1>\n<p>%zu worker%s, %zu test%s, %.2f s wall, start-up %.2f s. ", r->nworkers,
		   r->nworkers == 1 ? "" : "s", r->ntests, r->ntests == 1 ? "" : "s", r->wall, r->startup);
	if (crit >= 0) {
		const struct sequence_lane *l = &r->seq->lanes[crit];

		buf_printf(b, "<span class=\"critical\">Critical path: %s (start-up until %.2f s, then %zu test%s until "
			      "%.2f s), outlined in black.</span>",
			   l->worker, l->collected_ms >= 0 ? sec(l->collected_ms) : 0.0, l->n, l->n == 1 ? "" : "s",
			   sec(l->e[l->n - 1].end_ms));
	}
	buf_printf(b, "</p>\n<p class=\"legend\"><span style=\"background:#3a3\">passed</span>"
		      "<span style=\"background:#d22\">failed</span><span style=\"background:#e80\">error</span>"
		      "<span style=\"background:#aaa\">skipped</span><span style=\"background:#82c\">crashed</span>"
		      "<span style=\"background:#852\">timeout</span><span style=\"background:#9bd\">start-up</span>"
		      "<span style=\"background:#68a\">run phases</span></p>\n");
	buf_printf(b, "<svg width=\"%d\" height=\"%zu\" role=\"img\">\n", TL_WIDTH,
		   (rows + 1) * TL_ROW + 10);
	/* The run's own phases first, then one row per worker. */
	/* The databases' steps (db_*) on a row of their own: they run while
	 * the containers start and the workers collect. */
	buf_printf(b, "<g class=\"phases\"><text class=\"label\" x=\"4\" y=\"%d\">start-up</text>\n", TL_BAR - 3 + 4);
	buf_printf(b, "<text class=\"label\" x=\"4\" y=\"%d\">databases</text>\n", TL_ROW + TL_BAR - 3 + 4);
	for (size_t i = 0; i < r->nphases; i++) {
		double s = phase_start(r, i);
		bool db = strncmp(r->phases[i].name, "db_", 3) == 0;
		char detail[64];

		snprintf(detail, sizeof(detail), ": %.3f s", r->phases[i].seconds);
		bar(b, &sc, db ? 4 + TL_ROW : 4, s, r->phases[i].end, "phase", r->phases[i].name, detail);
	}
	buf_printf(b, "</g>\n");
	y = 4 + 2 * TL_ROW;
	for (size_t i = 0; i < r->nworkers && r->seq; i++, y += TL_ROW)
		worker_row(b, r, &sc, r->workers[i].name, y, crit);
	/* A time axis every second (or every 10, 60 s on long runs). */
	{
		double step = end > 600 ? 60 : end > 60 ? 10 : end > 10 ? 1 : 0.5;

		for (double t = 0; t <= end; t += step)
			buf_printf(b, "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" fill=\"#888\">%gs</text>\n", xpos(&sc, t),
				   y + 12, t);
	}
	if (buf_printf(b, "</svg>\n</body></html>\n") < 0)
		return error_set(err, EXIT_INTERNAL, "timeline: larger than %zu bytes", b->max);
	return 0;
}
