/*
 * Every error a client can be answered with, in one table: its code (as
 * glot names it, or runbox's own), its HTTP status, and the /status
 * outcome a run that ends with it counts as.  A code is written once here;
 * the modules that detect an error only name it.
 */
#include "config.h"

#include <stdio.h>

#include "runbox.h"

struct error_row {
	const char *name;
	int status;
	enum outcome outcome;
};

static const struct error_row error_table[ERROR_MAX] = {
	[ERROR_NONE] = { "", 200, OUTCOME_OK },
	[ERROR_ACCESS_TOKEN] = { "access_token", 401, OUTCOME_REJECTED },
	[ERROR_ROUTE_NOT_FOUND] = { "route.not_found", 404, OUTCOME_REJECTED },
	[ERROR_METHOD_NOT_ALLOWED] = { "method.not_allowed", 405,
	    OUTCOME_REJECTED },
	[ERROR_REQUEST_JSON] = { "request.json", 400, OUTCOME_REJECTED },
	[ERROR_REQUEST_PAYLOAD] = { "request.payload", 400, OUTCOME_REJECTED },
	[ERROR_REQUEST_LIMITS] = { "request.limits", 400, OUTCOME_REJECTED },
	[ERROR_REQUEST_CONTENT_TYPE] = { "request.content_type", 415,
	    OUTCOME_REJECTED },
	[ERROR_REQUEST_TOO_LARGE] = { "request.too_large", 413,
	    OUTCOME_REJECTED },
	[ERROR_IMAGE_NOT_ALLOWED] = { "image.not_allowed", 400,
	    OUTCOME_REJECTED },
	[ERROR_LIMITS_EXECUTION_TIME] = { "limits.execution_time", 400,
	    OUTCOME_TIMEOUT },
	[ERROR_LIMITS_READ_SIZE] = { "limits.read.size", 400,
	    OUTCOME_OUTPUT_LIMIT },
	[ERROR_DOCKER_UNAVAILABLE] = { "docker.unavailable", 503,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_DOCKER_UNIXSOCKET] = { "docker.unixsocket", 500,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_DOCKER_VERSION] = { "docker.version", 500, OUTCOME_DOCKER_ERROR },
	[ERROR_DOCKER_CREATE] = { "docker.container.create", 400,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_DOCKER_ATTACH] = { "docker.container.attach", 500,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_DOCKER_START] = { "docker.container.start", 500,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_DOCKER_WAIT] = { "docker.container.wait", 500,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_DOCKER_LOGS] = { "docker.container.logs", 500,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_CODERUNNER_STDERR] = { "coderunner.stderr", 500,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_CODERUNNER_DECODE] = { "coderunner.stdout.decode", 500,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_SERVER_STOPPING] = { "server.stopping", 503,
	    OUTCOME_DOCKER_ERROR },
	[ERROR_SERVER_MEMORY] = { "server.memory", 500, OUTCOME_DOCKER_ERROR },
	[ERROR_SERVER_INTERNAL] = { "server.error", 500, OUTCOME_DOCKER_ERROR },
};

/* Name the error and say what happened, for the client. */
void
error_set(struct error *e, enum error_code code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

/* The code as the client sees it in "error", e.g. "request.json". */
const char *
error_name(enum error_code code)
{
	return error_table[code].name;
}

int
error_status(enum error_code code)
{
	return error_table[code].status;
}

/* What a run answered with this error counts as in /status. */
enum outcome
error_outcome(enum error_code code)
{
	return error_table[code].outcome;
}
