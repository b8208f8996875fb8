/*
 * exec.c: what a command leaves behind.  As PID 1 (of a PID namespace of
 * its own here, as in a container) the runner inherits the command's
 * background processes; none may be left, not even as a zombie, once
 * exec_run() returns.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"
#include "tap.h"

enum { REAP_OK, REAP_LEFT, REAP_RUN, REAP_NOT_PID1, REAP_NO_NS, REAP_FORK };

/*
 * In the namespace's PID 1: runs command, then says whether any child is
 * left (waitpid() must find none at all).
 */
static int
collect_pid1(const char *command)
{
	char err[RUNNER_ERRLEN];
	struct exec_result res;
	size_t budget = 65536;
	int rc;

	if (getpid() != 1)
		return REAP_NOT_PID1;
	if (exec_init(err, sizeof(err)) == -1 ||
	    exec_run(command, "", 0, exec_clock_ns() + 10000000000LL, &budget,
	    &res, err, sizeof(err)) == -1)
		return REAP_RUN;
	rc = REAP_OK;
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		rc = REAP_LEFT;
	exec_free(&res);
	return rc;
}

/*
 * In a child of the test, so that the test itself stays out of the
 * namespace (which takes no new process once its PID 1 is gone):
 * unshares the PID namespace and runs collect_pid1() as its PID 1.
 */
static int
collect_in_namespace(const char *command)
{
	int status;
	pid_t pid;

	if (unshare(CLONE_NEWPID) == -1)
		return REAP_NO_NS;
	if ((pid = fork()) == -1)
		return REAP_FORK;
	if (pid == 0)
		_exit(collect_pid1(command));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return REAP_FORK;
	return WEXITSTATUS(status);
}

static void
test_collect(void)
{
	int status, rc = -1;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) == -1) {
		ok(0, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(collect_in_namespace(
		    "for i in $(seq 20); do sleep 100 & done"));
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		rc = WEXITSTATUS(status);
	if (rc == REAP_NO_NS) {
		ok(1, "# SKIP no PID namespace (needs CAP_SYS_ADMIN)");
		return;
	}
	ok(rc == REAP_OK,
	    "a command's background processes are killed and collected: PID 1 "
	    "has no child left (%d)", rc);
}

int
main(void)
{
	test_collect();
	return tap_done();
}
