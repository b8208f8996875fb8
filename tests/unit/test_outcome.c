/*
 * Outcomes as data: the runner's verdict for a finished command, its name
 * in the result, and the /status outcome runboxd counts for it.
 */
#include "config.h"

#include <string.h>
#include <sys/wait.h>

#include "runbox.h"
#include "runner.h"
#include "tap.h"

static enum verdict
verdict_of(int status, int timed_out, int output_exceeded)
{
	struct exec_result res;

	memset(&res, 0, sizeof(res));
	res.status = status;
	res.timed_out = timed_out;
	res.output_exceeded = output_exceeded;
	return exec_verdict(&res);
}

static void
test_exec_verdict(void)
{
	/* waitpid() statuses: exit code N is N << 8, signal N is N. */
	ok(verdict_of(0, 0, 0) == VERDICT_OK, "exit 0 is ok");
	ok(verdict_of(3 << 8, 0, 0) == VERDICT_RUNTIME_ERROR,
	    "a non-zero exit code is a runtime error");
	ok(verdict_of(SIGSEGV, 0, 0) == VERDICT_KILLED,
	    "death by a signal is killed");
	ok(verdict_of(SIGKILL, 1, 0) == VERDICT_TIME_LIMIT,
	    "a program killed at the time limit is a time limit");
	ok(verdict_of(SIGKILL, 0, 1) == VERDICT_OUTPUT_LIMIT,
	    "a program killed at the output limit is an output limit");
}

static void
test_names(void)
{
	enum verdict v;
	int i, round_trip = 1;

	for (i = 0; i < VERDICT_MAX; i++)
		if (verdict_name(i) == NULL ||
		    verdict_parse(verdict_name(i), &v) == -1 || (int)v != i)
			round_trip = 0;
	ok(round_trip, "every verdict's name parses back to it");
	ok(verdict_parse("Timeout", &v) == -1 && verdict_parse("", &v) == -1,
	    "a name that is no verdict is refused");
	ok(strcmp(verdict_name(VERDICT_TIME_LIMIT), "time_limit") == 0 &&
	    strcmp(verdict_name(VERDICT_COMPILE_ERROR), "compile_error") == 0,
	    "verdicts have the names clients see");
}

static enum outcome
outcome_of(const char *result)
{
	json_object *root = json_tokener_parse(result);
	enum outcome o = run_outcome(root);

	json_object_put(root);
	return o;
}

#define RESULT(error, status) "{\"stdout\":\"\",\"stderr\":\"\"," \
	"\"error\":\"" error "\",\"duration\":1," \
	"\"usage\":{\"status\":\"" status "\"}}"

static void
test_run_outcome(void)
{
	ok(outcome_of(RESULT("", "ok")) == OUTCOME_OK, "ok counts as ok");
	ok(outcome_of(RESULT("Exit code: 1", "runtime_error")) ==
	    OUTCOME_PROGRAM_ERROR, "a runtime error is a program error");
	ok(outcome_of(RESULT("Exit code: 1", "compile_error")) ==
	    OUTCOME_PROGRAM_ERROR, "a compile error is a program error");
	ok(outcome_of(RESULT("Killed by signal 11 (SEGV)", "killed")) ==
	    OUTCOME_PROGRAM_ERROR, "a killed program is a program error");
	ok(outcome_of(RESULT("Timeout: killed after 1 ms", "time_limit")) ==
	    OUTCOME_TIMEOUT, "a time limit counts as a timeout");
	ok(outcome_of(RESULT("Output limit exceeded", "output_limit")) ==
	    OUTCOME_OUTPUT_LIMIT, "an output limit counts as one");
	ok(outcome_of(RESULT("Timeout reworded", "ok")) == OUTCOME_OK,
	    "the verdict decides, not the wording of the error");
	ok(outcome_of(RESULT("Output limit exceeded", "runtime_error")) ==
	    OUTCOME_PROGRAM_ERROR,
	    "an error that reads like a limit is not counted as one");
	ok(outcome_of("{\"error\":\"\",\"duration\":1}") == OUTCOME_OK &&
	    outcome_of("{\"error\":\"Exit code: 1\"}") ==
	    OUTCOME_PROGRAM_ERROR,
	    "a result without a verdict (an older runner) counts by its "
	    "error");
	ok(outcome_of(RESULT("x", "no_such_verdict")) ==
	    OUTCOME_PROGRAM_ERROR, "an unknown verdict counts by its error");
}

int
main(void)
{
	test_exec_verdict();
	test_names();
	test_run_outcome();
	return tap_done();
}
