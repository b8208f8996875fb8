/*
 * GET /health, for balancers and watchdogs: whether a run can be taken
 * now.  No answer waits for dockerd: a thread of the queue process pings
 * it once a second with a one-second timeout and leaves the outcome in
 * the scoreboard, which every process reads.  Each ping opens a new
 * connection: one kept alive would answer for a daemon that no longer
 * takes connections.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "runbox.h"

/* Between pings, and the longest a ping may take. */
#define HEALTH_PING_MS 1000
/* A ping older than this (the thread is gone or stuck) counts as failed. */
#define HEALTH_STALE_MS (3 * HEALTH_PING_MS)
/* How often the thread looks whether it must stop. */
#define HEALTH_STEP_MS 100

static pthread_t health_thread;
static int health_running;
static int health_quit;

/* Whether dockerd answers GET /_ping within HEALTH_PING_MS. */
static int
health_ping(const struct conf *c, struct buf *out)
{
	struct docker d;
	long status;
	int ok;

	if (docker_open(&d, c) == -1)
		return 0;
	if (d.connect_timeout > HEALTH_PING_MS)
		d.connect_timeout = HEALTH_PING_MS;
	ok = docker_call(&d, "GET", "/_ping", NULL, HEALTH_PING_MS, 64,
	    &status, out) == 0 && status == 200;
	docker_close(&d);
	return ok;
}

static void *
health_loop(void *arg)
{
	const struct conf *c = arg;
	struct buf out = { 0 };
	int waited;

	while (!__atomic_load_n(&health_quit, __ATOMIC_ACQUIRE)) {
		scoreboard_set_docker(health_ping(c, &out), util_now_ms());
		for (waited = 0; waited < HEALTH_PING_MS &&
		    !__atomic_load_n(&health_quit, __ATOMIC_ACQUIRE);
		    waited += HEALTH_STEP_MS)
			nanosleep(&(struct timespec){ 0,
			    HEALTH_STEP_MS * 1000000L }, NULL);
	}
	util_buf_free(&out);
	return NULL;
}

/* Start pinging dockerd in a thread of this process; 0 or -1. */
int
health_start(const struct conf *c)
{
	sigset_t all, old;
	int rc;

	/* The thread takes no signal: they are the process's to handle. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&health_thread, NULL, health_loop, (void *)c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warnx("health: cannot start the dockerd ping");
		return -1;
	}
	health_running = 1;
	return 0;
}

void
health_stop(void)
{
	if (!health_running)
		return;
	__atomic_store_n(&health_quit, 1, __ATOMIC_RELEASE);
	pthread_join(health_thread, NULL);
	health_running = 0;
}

/* Seconds a client told 503 should wait before it tries again. */
long long
health_retry_after(const struct conf *c)
{
	return (c->queue_timeout + 999) / 1000;
}

/*
 * 0 when a run can be taken now; otherwise -1 with e saying why: the
 * pool is draining for a stop, dockerd did not answer the last ping, or
 * no worker is free and at least as many requests wait as there are
 * workers.
 */
int
health_check(const struct conf *c, struct error *e)
{
	if (scoreboard_stopping()) {
		error_set(e, ERROR_SERVER_STOPPING, "The service is stopping");
		return -1;
	}
	if (!scoreboard_docker_ok(util_now_ms() - HEALTH_STALE_MS)) {
		error_set(e, ERROR_DOCKER_UNAVAILABLE, "Docker did not answer "
		    "within %d ms", HEALTH_PING_MS);
		return -1;
	}
	if (scoreboard_idle_count() == 0 &&
	    scoreboard_queued() >= c->workers) {
		error_set(e, ERROR_SERVER_BUSY, "Every worker is busy and "
		    "%lld requests wait for one", scoreboard_queued());
		return -1;
	}
	return 0;
}
