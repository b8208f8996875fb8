/*
 * The master, after php-fpm's process manager: it forks the workers and
 * respawns any that die, replaces them all on SIGHUP with a new
 * configuration (old workers finish their run first), kills a worker whose
 * request overstays its deadline, has the containers that no worker is
 * using reaped (reap.c; in a child, but at start and stop), keeps the
 * queue (queue.c) running, and stops in steps on SIGTERM, SIGINT or
 * SIGQUIT: stop accepting and let runs finish (shutdown_timeout), then
 * abort them (SIGTERM), then SIGKILL; the queue answers 503 meanwhile and
 * stops last.  Signal handlers only write the signal number to a
 * self-pipe.  Its children die with it: a killed master leaves no worker
 * unsupervised.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runbox.h"

#define MASTER_TICK_MS 250
/* A worker that dies sooner than this after its start is replaced only
 * this much later, so that a broken setup does not spin. */
#define MASTER_RESPAWN_MS 1000
/* How long aborted runs get to remove their containers before SIGKILL. */
#define MASTER_ABORT_MS 5000
/* Keepers replaced by reloads that may still be finishing a create. */
#define MASTER_RETIRED 4

struct master {
	struct conf *conf;
	int listen_fd;
	int queue_pair[2]; /* the queue hands connections to workers */
	pid_t queue;       /* the queue process, or 0 */
	long long queue_started;
	struct scoreboard *sb;
	long long respawn_after;
	long long next_reap;
	pid_t reaper;   /* the child removing containers, or 0 */
	int reap_again; /* a worker died while the reaper was at work */
	pid_t keeper;   /* the child keeping warm containers, or 0 */
	long long keeper_started;
	pid_t retired[MASTER_RETIRED]; /* keepers of earlier generations */
	int dead;       /* workers that died and are not replaced yet */
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

static const int master_sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP };

static int
master_signals(void)
{
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
	for (i = 0; i < sizeof(master_sigs) / sizeof(master_sigs[0]); i++)
		sigaction(master_sigs[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

/*
 * fork() with every signal blocked across it, so that the child never runs
 * the master's handlers: in the child they are reset to the default and
 * signals stay blocked until the child sets its own mask (old is the
 * mask before).  The parent's mask is restored.
 */
static pid_t
master_fork(sigset_t *old)
{
	pid_t master = getpid();
	struct sigaction sa;
	sigset_t all;
	size_t i;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, old);
	if ((pid = fork()) == 0) {
		/* A child dies with its master (SIGTERM: a worker abandons its
		 * run and removes the container), even one forked as the
		 * master died. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != master)
			_exit(1);
		close(master_pipe[0]);
		close(master_pipe[1]);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (i = 0; i < sizeof(master_sigs) / sizeof(master_sigs[0]);
		    i++)
			sigaction(master_sigs[i], &sa, NULL);
		return 0;
	}
	sigprocmask(SIG_SETMASK, old, NULL);
	return pid;
}

/* Fork one worker of the current generation. */
static void
master_spawn(struct master *m)
{
	struct scoreboard_slot *slot;
	sigset_t old;
	pid_t pid;

	if ((slot = scoreboard_claim(scoreboard_generation(),
	    util_now_ms())) == NULL) {
		log_warnx("master: no free scoreboard slot");
		return;
	}
	if ((pid = master_fork(&old)) == 0)
		/* exit(), not _exit(): LeakSanitizer checks at exit. */
		exit(worker_main(m->conf, m->listen_fd, m->queue_pair[1],
		    slot));
	if (pid == -1) {
		log_warn("master: fork");
		scoreboard_release(slot);
		return;
	}
	scoreboard_set_pid(slot, pid);
	if (m->dead > 0) {
		m->dead--;
		scoreboard_count_respawn();
		log_info("worker %ld replaces one that died", (long)pid);
	}
}

/* A worker died: say which request it took down (its client gets a 502
 * from the web server) and count it. */
static void
master_worker_died(struct master *m, const struct scoreboard_view *v,
    int status)
{
	char request[32] = "none";

	if (v->state == SLOT_BUSY)
		snprintf(request, sizeof(request), "%016llx", v->request);
	if (WIFSIGNALED(status))
		log_warnx("worker %ld killed by signal %d (request %s lost)",
		    (long)v->pid, WTERMSIG(status), request);
	else
		log_warnx("worker %ld exited with status %d (request %s lost)",
		    (long)v->pid, WEXITSTATUS(status), request);
	scoreboard_count_death();
	m->dead++;
}

/* Whether an image of the configuration keeps warm containers, or the
 * pool holds some that a keeper must discard (a reload turned warm off). */
static int
master_wants_keeper(const struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nimages && c->warm_max > 0; i++)
		if (c->images[i].warm > 0)
			return 1;
	return pool_count(0, 0) > 0;
}

/* Fork the keeper of the current configuration. */
static void
master_spawn_keeper(struct master *m)
{
	sigset_t old;
	pid_t pid;

	if ((pid = master_fork(&old)) == 0) {
		close(m->listen_fd);
		close(m->queue_pair[0]);
		close(m->queue_pair[1]);
		exit(keeper_main(m->conf));
	}
	if (pid == -1) {
		log_warn("master: fork keeper");
		return;
	}
	m->keeper = pid;
	m->keeper_started = util_now_ms();
}

/* Fork the queue of the current configuration. */
static void
master_spawn_queue(struct master *m)
{
	sigset_t old;
	pid_t pid;

	if ((pid = master_fork(&old)) == 0)
		exit(queue_main(m->conf, m->listen_fd, m->queue_pair));
	if (pid == -1) {
		log_warn("master: fork queue");
		return;
	}
	m->queue = pid;
	m->queue_started = util_now_ms();
}

/* Signal the keeper and the retired ones still alive. */
static void
master_signal_keepers(struct master *m, int sig)
{
	size_t i;

	if (m->keeper > 0)
		kill(m->keeper, sig);
	for (i = 0; i < MASTER_RETIRED; i++)
		if (m->retired[i] > 0)
			kill(m->retired[i], sig);
}

static int
master_count_keepers(const struct master *m)
{
	int n = m->keeper > 0;
	size_t i;

	for (i = 0; i < MASTER_RETIRED; i++)
		n += m->retired[i] > 0;
	return n;
}

/* A reload's keeper replaces the running one, which finishes what it is
 * making and exits. */
static void
master_retire_keeper(struct master *m)
{
	size_t i;

	if (m->keeper <= 0)
		return;
	kill(m->keeper, SIGQUIT);
	for (i = 0; i < MASTER_RETIRED && m->retired[i] > 0; i++)
		;
	if (i == MASTER_RETIRED)
		kill(m->keeper, SIGTERM);
	else
		m->retired[i] = m->keeper;
	m->keeper = 0;
}

/* Forget an exited child if it is a keeper; 1 if it was. */
static int
master_keeper_exited(struct master *m, pid_t pid)
{
	size_t i;

	if (pid == m->keeper) {
		m->keeper = 0;
		return 1;
	}
	for (i = 0; i < MASTER_RETIRED; i++)
		if (pid == m->retired[i]) {
			m->retired[i] = 0;
			return 1;
		}
	return 0;
}

/* Count live workers: of the current generation only, or all. */
static int
master_count(int current_only)
{
	struct scoreboard_view v;
	unsigned generation = scoreboard_generation();
	int n = 0;
	size_t i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (scoreboard_slot_view(i, &v) &&
		    (!current_only || v.generation == generation))
			n++;
	return n;
}

/* Send sig to every live worker, or to those of older generations only. */
static void
master_signal_workers(struct master *m, int sig, int old_only)
{
	struct scoreboard_view v;
	unsigned generation = scoreboard_generation();
	size_t i;

	(void)m;
	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (scoreboard_slot_view(i, &v) &&
		    (!old_only || v.generation != generation))
			kill(v.pid, sig);
}

/* Whether a container is in use: a worker is busy with its request, or
 * it is the pool's. */
static int
master_owns(pid_t worker, const char *request)
{
	return scoreboard_serving(worker, request) || pool_holds(request);
}

/*
 * The periodic reap, and the one when a worker dies, run in a child: a
 * slow Docker then never holds up respawns, kills and signals.  One at a
 * time; a death during a reap asks for another after it.
 */
static void
master_reap_async(struct master *m)
{
	sigset_t old;
	pid_t pid;

	m->next_reap = util_now_ms() + m->conf->reap_interval;
	if (m->reaper > 0) {
		m->reap_again = 1;
		return;
	}
	if ((pid = master_fork(&old)) == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		reap_containers(m->conf, master_owns);
		_exit(0);
	}
	if (pid == -1) {
		log_warn("master: fork reaper");
		return;
	}
	m->reaper = pid;
}

/*
 * Collect the children that exited (waitpid): a worker's slot is freed
 * and, if it was killed, the container it may have left is reaped; the
 * reaper child is done.
 */
static void
master_collect_children(struct master *m)
{
	struct scoreboard_slot *s;
	struct scoreboard_view v;
	int status, orphans = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->reaper) {
			m->reaper = 0;
			orphans |= m->reap_again;
			m->reap_again = 0;
			continue;
		}
		/* What it was making or had claimed is an orphan now. */
		if (pool_release_owner(pid) > 0)
			orphans = 1;
		if (pid == m->queue) {
			m->queue = 0;
			if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0) {
				log_warnx("queue %ld ended with status %d",
				    (long)pid, WIFSIGNALED(status) ?
				    128 + WTERMSIG(status) :
				    WEXITSTATUS(status));
				if (util_now_ms() - m->queue_started <
				    MASTER_RESPAWN_MS)
					m->respawn_after = util_now_ms() +
					    MASTER_RESPAWN_MS;
			}
			continue;
		}
		if (pid == m->keeper && (WIFSIGNALED(status) ||
		    WEXITSTATUS(status) != 0) &&
		    util_now_ms() - m->keeper_started < MASTER_RESPAWN_MS)
			m->respawn_after = util_now_ms() + MASTER_RESPAWN_MS;
		if (master_keeper_exited(m, pid)) {
			if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
				log_warnx("keeper %ld ended with status %d",
				    (long)pid, WIFSIGNALED(status) ?
				    128 + WTERMSIG(status) :
				    WEXITSTATUS(status));
			continue;
		}
		if ((s = scoreboard_find(pid, &v)) == NULL)
			continue;
		if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
			master_worker_died(m, &v, status);
		orphans |= WIFSIGNALED(status);
		if ((WIFSIGNALED(status) || WEXITSTATUS(status) != 0) &&
		    util_now_ms() - v.started < MASTER_RESPAWN_MS)
			m->respawn_after = util_now_ms() + MASTER_RESPAWN_MS;
		scoreboard_release(s);
	}
	/* A killed worker may have left its container: remove it now. */
	if (orphans && !m->stopping)
		master_reap_async(m);
}

/*
 * Load the file again; on success new workers start with it and the old
 * ones finish their run and exit.  On error the old configuration stays.
 * Keys read at start only keep their running value (conf.c logs each one
 * the file changed).
 */
static void
master_reload(struct master *m)
{
	struct conf *next;
	char err[1024] = "out of memory";

	if ((next = calloc(1, sizeof(*next))) == NULL ||
	    conf_load(m->conf->path, next, err, sizeof(err)) == -1 ||
	    conf_keep_restart_only(next, m->conf) == -1) {
		log_warnx("reload failed, keeping the running configuration: %s",
		    err);
		if (next != NULL)
			conf_free(next);
		free(next);
		return;
	}
	run_fingerprint_images(next);
	if (strcmp(next->log, m->conf->log) != 0)
		log_init(next->log, "runboxd");
	conf_free(m->conf);
	free(m->conf);
	m->conf = next;
	__atomic_add_fetch(&m->sb->generation, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&m->sb->reloads, 1, __ATOMIC_RELAXED);
	master_signal_workers(m, SIGQUIT, 1);
	master_retire_keeper(m);
	/* The old queue hands what it holds to the new one. */
	if (m->queue > 0)
		kill(m->queue, SIGQUIT);
	master_spawn_queue(m);
	log_info("reloaded %s: generation %u, %lld workers", m->conf->path,
	    m->sb->generation, m->conf->workers);
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
				master_collect_children(m);
			else if (sigs[i] == SIGHUP && !m->stopping)
				master_reload(m);
			else if (sigs[i] != SIGHUP)
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

/* SIGKILL a worker whose request is past its deadline and the grace. */
static void
master_kill_overdue(struct master *m)
{
	struct scoreboard_view v;
	long long now = util_now_ms();
	size_t i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		if (scoreboard_slot_view(i, &v) && v.state == SLOT_BUSY &&
		    now > v.deadline + m->conf->kill_grace) {
			log_warnx("worker %ld is %lld ms past its request's "
			    "deadline: killing it", (long)v.pid,
			    now - v.deadline);
			kill(v.pid, SIGKILL);
		}
	}
}

static void
master_tick(struct master *m)
{
	int n;

	if (util_now_ms() >= m->respawn_after)
		for (n = master_count(1); n < m->conf->workers; n++)
			master_spawn(m);
	if (m->queue == 0 && util_now_ms() >= m->respawn_after)
		master_spawn_queue(m);
	if (m->keeper == 0 && util_now_ms() >= m->respawn_after &&
	    master_wants_keeper(m->conf))
		master_spawn_keeper(m);
	master_kill_overdue(m);
	if (util_now_ms() >= m->next_reap)
		master_reap_async(m);
}

/* Wait for the workers to exit until deadline; 0 once none is left. */
static int
master_wait_workers(struct master *m, long long deadline)
{
	long long left;

	while (master_count(0) + master_count_keepers(m) > 0 &&
	    (left = deadline - util_now_ms()) > 0)
		master_poll(m, left > MASTER_TICK_MS ? MASTER_TICK_MS :
		    (int)left);
	return master_count(0) + master_count_keepers(m) > 0 ? -1 : 0;
}

/* Stop accepting, let runs finish, abort them, then SIGKILL. */
static void
master_stop(struct master *m)
{
	m->stopping = 1;
	scoreboard_set_stopping();
	log_info("stopping %d workers", master_count(0));
	/* runboxd's own socket refuses new connections from now on, so that
	 * a balancer sends them to another instance at once; those already
	 * queued on a unix socket are still served (worker_accept), while
	 * Linux resets those of a TCP one.  An inherited socket stays as it
	 * is: it queues connections for the next start. */
	if (m->conf->listen != NULL && shutdown(m->listen_fd, SHUT_RD) == -1)
		log_warn("master: shutdown of the listen socket");
	master_signal_workers(m, SIGQUIT, 0);
	master_signal_keepers(m, SIGTERM);
	if (master_wait_workers(m, util_now_ms() +
	    m->conf->shutdown_timeout) == 0)
		return;
	log_warnx("%d workers still busy after %lld ms: aborting their runs",
	    master_count(0), m->conf->shutdown_timeout);
	master_signal_workers(m, SIGTERM, 0);
	if (master_wait_workers(m, util_now_ms() + MASTER_ABORT_MS) == 0)
		return;
	log_warnx("%d workers did not stop: killing them", master_count(0));
	master_signal_workers(m, SIGKILL, 0);
	master_signal_keepers(m, SIGKILL);
	master_wait_workers(m, util_now_ms() + MASTER_ABORT_MS);
}

/* Stop the queue once no worker is left: it answers what it holds. */
static void
master_stop_queue(struct master *m)
{
	long long deadline = util_now_ms() + MASTER_ABORT_MS;

	if (m->queue <= 0)
		return;
	kill(m->queue, SIGTERM);
	while (m->queue > 0 && util_now_ms() < deadline)
		master_poll(m, MASTER_TICK_MS);
	if (m->queue > 0) {
		log_warnx("queue %ld did not stop: killing it", (long)m->queue);
		kill(m->queue, SIGKILL);
		waitpid(m->queue, NULL, 0);
		m->queue = 0;
	}
}

/*
 * Run the pool until told to stop.  The master owns conf from here (a
 * reload replaces it).  Returns the process exit status.
 */
int
master_run(struct conf *c, int listen_fd)
{
	struct master m = { .conf = c, .listen_fd = listen_fd,
	    .queue_pair = { -1, -1 } };
	int flags;

	if (master_signals() == -1 || (m.sb = scoreboard_create()) == NULL ||
	    pool_create() == -1)
		goto fail;
	/* Packets keep each connection apart; workers read them whole. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    m.queue_pair) == -1) {
		log_warn("master: queue socket pair");
		goto fail;
	}
	/* Workers poll the socket and must never block in accept(). */
	if ((flags = fcntl(listen_fd, F_GETFL)) == -1 ||
	    fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		log_warn("master: listen socket");
		goto fail;
	}
	reap_containers(m.conf, NULL);
	m.next_reap = util_now_ms() + c->reap_interval;
	log_info("runboxd %s ready: %lld workers, instance %s", PACKAGE_VERSION,
	    c->workers, c->instance);
	do
		master_tick(&m);
	while (master_poll(&m, MASTER_TICK_MS) == 0);
	master_stop(&m);
	master_stop_queue(&m);
	if (m.reaper > 0)
		waitpid(m.reaper, NULL, 0);
	reap_containers(m.conf, NULL);
	log_info("stopped");
	close(m.queue_pair[0]);
	close(m.queue_pair[1]);
	conf_free(m.conf);
	free(m.conf);
	return 0;
fail:
	if (m.queue_pair[0] != -1) {
		close(m.queue_pair[0]);
		close(m.queue_pair[1]);
	}
	conf_free(m.conf);
	free(m.conf);
	return 1;
}
