/*
 * Running one shell command: a child in its own process group, its stdin
 * fed and its stdout/stderr captured in one poll loop, under a deadline
 * and an output budget.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#define EXEC_CHUNK 65536
/* How long a background grandchild may hold the pipes after sh exits. */
#define EXEC_DRAIN_NS (200LL * 1000000)

enum { EXEC_IN, EXEC_OUT, EXEC_ERR, EXEC_NFDS };

/* SIGCHLD writes a byte here so that poll() wakes when the child exits. */
static int exec_chld_pipe[2] = { -1, -1 };

struct exec_state {
	pid_t pid;
	int fds[EXEC_NFDS]; /* parent's pipe ends, -1 once closed */
	const char *input;
	size_t inleft;
	size_t *budget;
	int exited; /* the child's exit status is collected */
	int killed;
	long long start_ns;
	long long exit_ns;
	struct exec_result *res;
};

static void
exec_on_sigchld(int sig)
{
	int saved = errno;
	ssize_t n;

	(void)sig;
	n = write(exec_chld_pipe[1], "", 1);
	(void)n; /* a full pipe already holds a wakeup */
	errno = saved;
}

/*
 * Sets up what every exec_run() needs: the SIGCHLD self-pipe, and SIGPIPE
 * ignored so that a program that stops reading its stdin shows up as EPIPE.
 */
int
exec_init(char *err, size_t errlen)
{
	struct sigaction sa;

	if (pipe2(exec_chld_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1) {
		snprintf(err, errlen, "sigaction: %s", strerror(errno));
		return -1;
	}
	sa.sa_handler = exec_on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1) {
		snprintf(err, errlen, "sigaction: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns the monotonic clock in nanoseconds. */
long long
exec_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
exec_close(struct exec_state *st, int which)
{
	if (st->fds[which] != -1) {
		close(st->fds[which]);
		st->fds[which] = -1;
	}
}

/*
 * Kills the whole process group.  The child itself is killed too in case
 * it has not reached setsid() yet.  As PID 1 of the container, the runner
 * also kills every other process: one that left the group with setsid()
 * must not outlive its command.
 */
static void
exec_kill(struct exec_state *st)
{
	kill(-st->pid, SIGKILL);
	if (!st->exited)
		kill(st->pid, SIGKILL);
	if (getpid() == 1)
		kill(-1, SIGKILL);
	st->killed = 1;
}

/* CPU time of every child reaped so far, and of theirs. */
static long long
exec_children_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_CHILDREN, &ru) == -1)
		return 0;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* Notes the exit of the child itself: its status, time and rusage. */
static void
exec_exited(struct exec_state *st, int status, const struct rusage *ru)
{
	st->res->status = status;
	st->res->ru = *ru;
	st->exited = 1;
	st->exit_ns = exec_clock_ns();
	st->res->wall_ns = st->exit_ns - st->start_ns;
}

/*
 * Collects every exited child (wait4): as PID 1 the runner also inherits
 * orphans.
 */
static void
exec_collect(struct exec_state *st)
{
	struct rusage ru;
	char drain[64];
	pid_t pid;
	int status;

	while (read(exec_chld_pipe[0], drain, sizeof(drain)) > 0)
		continue;
	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0)
		if (pid == st->pid && !st->exited)
			exec_exited(st, status, &ru);
}

/*
 * Waits for every child to go, killing again before each wait: as PID 1
 * the runner inherits the command's background processes, and their
 * zombies would count against the pids limit of the next command.  One
 * that forked while being killed is caught by the next round.
 */
static void
exec_collect_all(void)
{
	for (;;) {
		if (getpid() == 1)
			kill(-1, SIGKILL);
		if (waitpid(-1, NULL, 0) == -1 && errno != EINTR)
			return; /* ECHILD: none is left */
	}
}

static void
exec_feed(struct exec_state *st)
{
	size_t len = st->inleft < EXEC_CHUNK ? st->inleft : EXEC_CHUNK;
	ssize_t n;

	n = write(st->fds[EXEC_IN], st->input, len);
	if (n == -1) {
		/* EPIPE: the program does not want the rest. */
		if (errno != EAGAIN && errno != EINTR)
			exec_close(st, EXEC_IN);
		return;
	}
	st->input += n;
	st->inleft -= (size_t)n;
	if (st->inleft == 0)
		exec_close(st, EXEC_IN);
}

/*
 * Reads one chunk from stdout or stderr into the capture; returns 1 if
 * there may be more to read now.  Past the budget the program is killed:
 * its output is no longer wanted.
 */
static int
exec_read(struct exec_state *st, int which)
{
	struct exec_capture *cap = which == EXEC_OUT ? &st->res->out :
	    &st->res->err;
	char buf[EXEC_CHUNK];
	size_t take;
	ssize_t n;

	n = read(st->fds[which], buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		exec_close(st, which);
		return 0;
	}
	take = output_take(&cap->meter, buf, (size_t)n, st->budget);
	memcpy(cap->data + cap->len, buf, take);
	cap->len += take;
	if (take < (size_t)n) {
		st->res->output_exceeded = 1;
		exec_kill(st);
		exec_close(st, EXEC_IN);
		exec_close(st, EXEC_OUT);
		exec_close(st, EXEC_ERR);
		return 0;
	}
	return 1;
}

/* Keeps what is already in the pipes, then closes them. */
static void
exec_finish_pipes(struct exec_state *st)
{
	int which;

	exec_close(st, EXEC_IN);
	for (which = EXEC_OUT; which <= EXEC_ERR; which++) {
		while (st->fds[which] != -1 && exec_read(st, which))
			continue;
		exec_close(st, which);
	}
}

static void
exec_child(const char *command, int in, int out, int err)
{
	struct sigaction sa;

	setsid();
	/* An ignored signal stays ignored across exec. */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	if (dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(err, STDERR_FILENO) == -1)
		_exit(127);
	execl("/bin/sh", "sh", "-c", command, (char *)NULL);
	dprintf(STDERR_FILENO, "runner: exec /bin/sh: %s\n", strerror(errno));
	_exit(127);
}

/* Starts the child; the parent keeps one end of each pipe in st->fds. */
static int
exec_spawn(struct exec_state *st, const char *command, char *err,
    size_t errlen)
{
	int p[EXEC_NFDS][2], i, made, child_end, rc = -1;

	for (made = 0; made < EXEC_NFDS; made++) {
		if (pipe2(p[made], O_CLOEXEC) == -1) {
			snprintf(err, errlen, "pipe: %s", strerror(errno));
			goto cleanup;
		}
	}
	st->start_ns = exec_clock_ns();
	if ((st->pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto cleanup;
	}
	if (st->pid == 0)
		exec_child(command, p[EXEC_IN][0], p[EXEC_OUT][1],
		    p[EXEC_ERR][1]);
	st->fds[EXEC_IN] = p[EXEC_IN][1];
	st->fds[EXEC_OUT] = p[EXEC_OUT][0];
	st->fds[EXEC_ERR] = p[EXEC_ERR][0];
	for (i = 0; i < EXEC_NFDS; i++)
		fcntl(st->fds[i], F_SETFL, O_NONBLOCK);
	rc = 0;
cleanup:
	/* Close the child's ends, and ours too if there is no child. */
	for (i = 0; i < made; i++) {
		child_end = i == EXEC_IN ? 0 : 1;
		close(p[i][child_end]);
		if (rc == -1)
			close(p[i][1 - child_end]);
	}
	return rc;
}

/* Something went wrong with the loop itself: leave nothing running. */
static void
exec_abort(struct exec_state *st)
{
	struct rusage ru;
	int status;

	exec_kill(st);
	exec_finish_pipes(st);
	if (!st->exited && wait4(st->pid, &status, 0, &ru) == st->pid)
		exec_exited(st, status, &ru);
	exec_collect_all();
}

/*
 * Runs command with sh -c in its own process group, input[0..inlen) on
 * its stdin, until it has exited and its pipes are closed, at most
 * EXEC_DRAIN_NS after it exits and never past deadline_ns (monotonic),
 * when the group is killed; whatever it leaves running is killed and
 * waited for.  Captured output costs at most *budget bytes in the result
 * document (see output_take()), taken from *budget.  Returns -1 with the
 * reason in err only if the loop itself fails; res is then freed.
 */
int
exec_run(const char *command, const char *input, size_t inlen,
    long long deadline_ns, size_t *budget, struct exec_result *res, char *err,
    size_t errlen)
{
	struct pollfd pfd[EXEC_NFDS + 1];
	int which[EXEC_NFDS + 1], i, timeout;
	struct exec_state st;
	long long now, limit;
	nfds_t n;

	memset(res, 0, sizeof(*res));
	memset(&st, 0, sizeof(st));
	for (i = 0; i < EXEC_NFDS; i++)
		st.fds[i] = -1;
	st.input = input;
	st.inleft = inlen;
	st.budget = budget;
	st.res = res;
	/*
	 * Captured bytes never cost less than their number: a sequence is
	 * charged its length, or a U+FFFD while it is not complete.
	 */
	if ((res->out.data = malloc(*budget + 1)) == NULL ||
	    (res->err.data = malloc(*budget + 1)) == NULL) {
		snprintf(err, errlen, "capture: %s", strerror(errno));
		goto fail;
	}
	res->cpu_ns = exec_children_cpu_ns();
	if (exec_spawn(&st, command, err, errlen) == -1)
		goto fail;
	if (st.inleft == 0)
		exec_close(&st, EXEC_IN);

	while (!st.exited || st.fds[EXEC_OUT] != -1 ||
	    st.fds[EXEC_ERR] != -1) {
		now = exec_clock_ns();
		limit = deadline_ns;
		if (st.exited && st.exit_ns + EXEC_DRAIN_NS < limit)
			limit = st.exit_ns + EXEC_DRAIN_NS;
		if (now >= limit && !st.killed) {
			res->timed_out = !st.exited;
			exec_kill(&st);
			exec_finish_pipes(&st);
			continue;
		}
		n = 0;
		if (!st.exited) {
			pfd[n].fd = exec_chld_pipe[0];
			pfd[n].events = POLLIN;
			which[n++] = -1;
		}
		for (i = 0; i < EXEC_NFDS; i++) {
			if (st.fds[i] == -1)
				continue;
			pfd[n].fd = st.fds[i];
			pfd[n].events = i == EXEC_IN ? POLLOUT : POLLIN;
			which[n++] = i;
		}
		/* Once killed, only collecting is left, and SIGKILL is sure. */
		timeout = st.killed ? -1 :
		    (int)((limit - now + 999999) / 1000000);
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			exec_abort(&st);
			goto fail;
		}
		for (i = 0; i < (int)n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (which[i] == -1)
				exec_collect(&st);
			else if (st.fds[which[i]] == -1)
				continue; /* closed by an earlier event */
			else if (which[i] == EXEC_IN)
				exec_feed(&st);
			else
				exec_read(&st, which[i]);
		}
	}
	/* Background processes left in the group go with it, for good. */
	exec_kill(&st);
	exec_collect_all();
	/* Killed with sh before it waited, the program is reaped here: its
	 * CPU time counts all the same. */
	res->cpu_ns = exec_children_cpu_ns() - res->cpu_ns;
	return 0;
fail:
	exec_free(res);
	return -1;
}

/* Fills buf with the result's error: "" if the command succeeded. */
void
exec_describe(const struct exec_result *res, long long time_limit_ms,
    char *buf, size_t len)
{
	const char *abbrev;
	int sig;

	if (res->timed_out) {
		snprintf(buf, len, "Timeout: killed after %lld ms",
		    time_limit_ms);
	} else if (res->output_exceeded) {
		snprintf(buf, len, "Output limit exceeded");
	} else if (WIFSIGNALED(res->status)) {
		sig = WTERMSIG(res->status);
		if ((abbrev = sigabbrev_np(sig)) != NULL)
			snprintf(buf, len, "Killed by signal %d (%s)", sig,
			    abbrev);
		else
			snprintf(buf, len, "Killed by signal %d", sig);
	} else if (WEXITSTATUS(res->status) != 0) {
		snprintf(buf, len, "Exit code: %d", WEXITSTATUS(res->status));
	} else {
		buf[0] = '\0';
	}
}

/* What exec_describe() says, as a verdict. */
enum verdict
exec_verdict(const struct exec_result *res)
{
	if (res->timed_out)
		return VERDICT_TIME_LIMIT;
	if (res->output_exceeded)
		return VERDICT_OUTPUT_LIMIT;
	if (WIFSIGNALED(res->status))
		return VERDICT_KILLED;
	if (WEXITSTATUS(res->status) != 0)
		return VERDICT_RUNTIME_ERROR;
	return VERDICT_OK;
}

/* Releases the captures of exec_run(). */
void
exec_free(struct exec_result *res)
{
	free(res->out.data);
	free(res->err.data);
	res->out.data = NULL;
	res->err.data = NULL;
	res->out.len = 0;
	res->err.len = 0;
}
