#include "outcome.h"

#include <string.h>

static const char *const outcome_names[OUTCOME__COUNT] = {
	[OUTCOME_NONE] = "not run",
	[OUTCOME_PASSED] = "passed",
	[OUTCOME_FAILED] = "failed",
	[OUTCOME_ERROR] = "error",
	[OUTCOME_SKIPPED] = "skipped",
	[OUTCOME_XFAILED] = "xfailed",
	[OUTCOME_XPASSED] = "xpassed",
	[OUTCOME_CRASHED] = "crashed",
	[OUTCOME_TIMEOUT] = "timeout",
};

const char *
outcome_name(enum outcome o)
{
	return (unsigned)o < OUTCOME__COUNT ? outcome_names[o] : "unknown";
}

enum outcome
outcome_parse(const char *name)
{
	for (int i = 1; i < OUTCOME__COUNT; i++)
		if (strcmp(name, outcome_names[i]) == 0)
			return (enum outcome)i;
	return OUTCOME_NONE;
}
