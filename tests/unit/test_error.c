/* The error table: every code has a name, a status and an outcome. */
#include "config.h"

#include <string.h>

#include "runbox.h"
#include "tap.h"

static void
test_every_code_is_complete(void)
{
	int i, j, named = 1, unique = 1, statuses = 1;

	for (i = ERROR_NONE + 1; i < ERROR_MAX; i++) {
		if (error_name(i) == NULL || error_name(i)[0] == '\0')
			named = 0;
		if (error_status(i) < 400 || error_status(i) > 599)
			statuses = 0;
		for (j = ERROR_NONE + 1; j < i; j++)
			if (named && strcmp(error_name(i), error_name(j)) == 0)
				unique = 0;
	}
	ok(named, "every error code has a name");
	ok(unique, "no two error codes share a name");
	ok(statuses, "every error answers with a 4xx or 5xx status");
}

static void
test_glot_statuses(void)
{
	ok(error_status(ERROR_ACCESS_TOKEN) == 401 &&
	    strcmp(error_name(ERROR_ACCESS_TOKEN), "access_token") == 0,
	    "access_token is 401, as glot answers");
	ok(error_status(ERROR_DOCKER_CREATE) == 400 &&
	    strcmp(error_name(ERROR_DOCKER_CREATE),
	    "docker.container.create") == 0,
	    "docker.container.create is 400, as glot answers");
	ok(error_status(ERROR_LIMITS_EXECUTION_TIME) == 400 &&
	    error_status(ERROR_LIMITS_READ_SIZE) == 400,
	    "the limits errors are 400, as glot answers");
	ok(error_status(ERROR_CODERUNNER_DECODE) == 500 &&
	    strcmp(error_name(ERROR_CODERUNNER_DECODE),
	    "coderunner.stdout.decode") == 0,
	    "coderunner.stdout.decode is 500");
	ok(error_status(ERROR_REQUEST_TOO_LARGE) == 413 &&
	    error_status(ERROR_REQUEST_CONTENT_TYPE) == 415 &&
	    error_status(ERROR_DOCKER_UNAVAILABLE) == 503,
	    "runbox's own codes keep their statuses");
}

static void
test_outcomes(void)
{
	int i, rejected = 1;

	for (i = ERROR_NONE + 1; i < ERROR_MAX; i++)
		if (error_status(i) < 500 && i != ERROR_LIMITS_EXECUTION_TIME &&
		    i != ERROR_LIMITS_READ_SIZE && i != ERROR_DOCKER_CREATE &&
		    i != ERROR_CLIENT_CLOSED &&
		    error_outcome(i) != OUTCOME_REJECTED)
			rejected = 0;
	ok(rejected, "client errors count as rejected");
	ok(error_outcome(ERROR_LIMITS_EXECUTION_TIME) == OUTCOME_TIMEOUT,
	    "limits.execution_time counts as a timeout");
	ok(error_outcome(ERROR_LIMITS_READ_SIZE) == OUTCOME_OUTPUT_LIMIT,
	    "limits.read.size counts as an output limit");
	ok(error_outcome(ERROR_DOCKER_CREATE) == OUTCOME_DOCKER_ERROR &&
	    error_outcome(ERROR_CODERUNNER_STDERR) == OUTCOME_DOCKER_ERROR &&
	    error_outcome(ERROR_SERVER_STOPPING) == OUTCOME_DOCKER_ERROR,
	    "Docker, runner and server failures count as docker errors");
	ok(error_status(ERROR_SERVER_BUSY) == 503 &&
	    error_outcome(ERROR_SERVER_BUSY) == OUTCOME_BUSY,
	    "server.busy is a 503 counted as busy, not as a run's outcome");
	ok(error_outcome(ERROR_DOCKER_TIMEOUT) == OUTCOME_DOCKER_ERROR &&
	    error_status(ERROR_DOCKER_TIMEOUT) >= 500,
	    "a Docker call that timed out is a 5xx docker error");
	ok(error_outcome(ERROR_CLIENT_CLOSED) == OUTCOME_CANCELLED,
	    "a client that went away counts as cancelled");
}

int
main(void)
{
	test_every_code_is_complete();
	test_glot_statuses();
	test_outcomes();
	return tap_done();
}
