/* The run drawn over time: one row per worker with its start-up and every
 * test as a bar coloured by outcome, the run's start-up phases, and the
 * critical path (the start-up and tests of the worker that finished
 * last). Pure: a report in, JSON or one self-contained HTML file out. */
#ifndef XDOCK_TIMELINE_H
#define XDOCK_TIMELINE_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "error.h"
#include "report.h"

/* {"end","phases":[{"name","start","end"}],"critical_path":{...}|null};
 * the bars themselves are the report's "sequences". */
cJSON *timeline_json(const struct report *r);
/* The HTML page: inline CSS and SVG, no script, no external resource;
 * hover text on every bar. -1 when b's cap is reached. */
int timeline_html(const struct report *r, struct buf *b, struct error **err);

#endif
