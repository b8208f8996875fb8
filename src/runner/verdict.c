/*
 * How a run ended, as data: the runner names its verdict in the result's
 * "usage": {"status": NAME}, and runboxd reads the name back with this
 * same table to count the run in /status.  A reworded error message never
 * moves a run from one count to another.
 */
#include "config.h"

#include <string.h>

#include "runner.h"

static const char *const verdict_names[VERDICT_MAX] = {
	[VERDICT_OK] = "ok",
	[VERDICT_COMPILE_ERROR] = "compile_error",
	[VERDICT_RUNTIME_ERROR] = "runtime_error",
	[VERDICT_KILLED] = "killed",
	[VERDICT_TIME_LIMIT] = "time_limit",
	[VERDICT_OUTPUT_LIMIT] = "output_limit",
	[VERDICT_RUNNER_ERROR] = "runner_error",
	[VERDICT_MEMORY_LIMIT] = "memory_limit",
	[VERDICT_NOT_RUN] = "not_run",
};

const char *
verdict_name(enum verdict v)
{
	return verdict_names[v];
}

/* The verdict called name; -1 for a name that is none. */
int
verdict_parse(const char *name, enum verdict *v)
{
	int i;

	for (i = 0; i < VERDICT_MAX; i++)
		if (strcmp(verdict_names[i], name) == 0) {
			*v = (enum verdict)i;
			return 0;
		}
	return -1;
}
