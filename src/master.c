/*
 * The master: fork the workers, respawn any that die, and on SIGTERM or
 * SIGINT stop them gracefully (in-flight runs finish, bounded by
 * shutdown_timeout, then SIGKILL) and remove any container they left.
 * Signal handlers only write the signal number to a self-pipe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runbox.h"

/* A worker that dies sooner than this after its start is respawned only
 * after this much time, so a broken setup does not spin. */
#define MASTER_RESPAWN_MS 1000

struct master {
	const struct conf *conf;
	int listen_fd;
	pid_t *pids;
	long long *started;
	int stopping;
};

static int master_pipe[2] = { -1, -1 };

static void
master_on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	(void)write(master_pipe[1], &b, 1);
	errno = saved;
}

static int
master_signals(void)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;
	size_t i;

	if (pipe2(master_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("master: pipe");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = master_on_signal;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

/* Fork worker slot i.  Signals stay blocked across fork() so that the
 * child never runs the master's handlers. */
static void
master_spawn(struct master *m, long i)
{
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(master_pipe[0]);
		close(master_pipe[1]);
		/* exit(), not _exit(): LeakSanitizer checks at exit. */
		exit(worker_main(m->conf, m->listen_fd));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		log_warn("master: fork worker %ld", i);
		return;
	}
	m->pids[i] = pid;
	m->started[i] = util_now_ms();
}

static long
master_slot(const struct master *m, pid_t pid)
{
	long i;

	for (i = 0; i < m->conf->workers; i++)
		if (m->pids[i] == pid)
			return i;
	return -1;
}

static int
master_alive(const struct master *m)
{
	long i;
	int n = 0;

	for (i = 0; i < m->conf->workers; i++)
		n += m->pids[i] > 0;
	return n;
}

static void
master_reap_children(struct master *m)
{
	pid_t pid;
	long i;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((i = master_slot(m, pid)) == -1)
			continue;
		m->pids[i] = 0;
		if (m->stopping)
			continue;
		if (WIFSIGNALED(status))
			log_warnx("worker %ld (pid %ld) killed by signal %d",
			    i, (long)pid, WTERMSIG(status));
		else
			log_warnx("worker %ld (pid %ld) exited with status %d",
			    i, (long)pid, WEXITSTATUS(status));
	}
}

static void
master_respawn(struct master *m)
{
	long i;

	for (i = 0; i < m->conf->workers; i++)
		if (m->pids[i] == 0 && !m->stopping &&
		    util_now_ms() - m->started[i] >= MASTER_RESPAWN_MS)
			master_spawn(m, i);
}

static void
master_kill_all(struct master *m, int sig)
{
	long i;

	for (i = 0; i < m->conf->workers; i++)
		if (m->pids[i] > 0)
			kill(m->pids[i], sig);
}

/* Read pending signals; returns -1 when the pool must stop. */
static int
master_handle_signals(struct master *m)
{
	unsigned char sigs[64];
	ssize_t n, i;
	int stop = 0;

	while ((n = read(master_pipe[0], sigs, sizeof(sigs))) > 0)
		for (i = 0; i < n; i++) {
			if (sigs[i] == SIGCHLD)
				master_reap_children(m);
			else if (sigs[i] == SIGHUP)
				log_warnx("SIGHUP: configuration reload is not "
				    "supported yet; restart runboxd instead");
			else
				stop = 1;
		}
	return stop ? -1 : 0;
}

/* Sleep until a signal or timeout_ms; -1 when a stop was requested. */
static int
master_poll(struct master *m, int timeout_ms)
{
	struct pollfd pfd = { master_pipe[0], POLLIN, 0 };

	if (poll(&pfd, 1, timeout_ms) > 0)
		return master_handle_signals(m);
	return 0;
}

/* SIGTERM the workers, wait up to shutdown_timeout, then SIGKILL. */
static void
master_stop(struct master *m)
{
	long long deadline = util_now_ms() + m->conf->shutdown_timeout;
	long long left;

	m->stopping = 1;
	log_info("stopping %d workers", master_alive(m));
	master_kill_all(m, SIGTERM);
	while (master_alive(m) > 0 && (left = deadline - util_now_ms()) > 0)
		master_poll(m, left > 1000 ? 1000 : (int)left);
	if (master_alive(m) > 0) {
		log_warnx("%d workers still busy after %lld ms: killing them",
		    master_alive(m), m->conf->shutdown_timeout);
		master_kill_all(m, SIGKILL);
		while (master_alive(m) > 0)
			master_poll(m, 100);
	}
}

static void
master_reap_containers(const struct conf *c, const char *when)
{
	struct docker d;
	int n;

	if (docker_open(&d, c) == -1)
		return;
	if ((n = run_reap(&d, c)) > 0)
		log_info("%s: removed %d containers of instance %s", when, n,
		    c->instance);
	docker_close(&d);
}

/* Run the pool until told to stop.  Returns the process exit status. */
int
master_run(const struct conf *c, int listen_fd)
{
	struct master m = { c, listen_fd, NULL, NULL, 0 };
	long i;

	if (master_signals() == -1)
		return 1;
	m.pids = calloc((size_t)c->workers, sizeof(*m.pids));
	m.started = calloc((size_t)c->workers, sizeof(*m.started));
	if (m.pids == NULL || m.started == NULL) {
		log_warnx("master: out of memory");
		return 1;
	}
	master_reap_containers(c, "start");
	for (i = 0; i < c->workers; i++)
		master_spawn(&m, i);
	log_info("runboxd %s ready: %lld workers, instance %s", PACKAGE_VERSION,
	    c->workers, c->instance);
	do
		master_respawn(&m);
	while (master_poll(&m, MASTER_RESPAWN_MS) == 0);
	master_stop(&m);
	master_reap_containers(c, "stop");
	log_info("stopped");
	free(m.pids);
	free(m.started);
	return 0;
}
