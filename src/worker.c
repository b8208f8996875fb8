/*
 * A worker: accept one FastCGI request at a time, answer it, then remove
 * its container after the answer is on its way.
 *
 * The worker accepts connections itself (poll, then accept on the
 * non-blocking listen socket) and hands each one to libfcgi, so that the
 * stop signals are taken only while it waits: SIGQUIT (finish the run in
 * progress, then exit) stays blocked except inside ppoll().  SIGTERM
 * (abort the run in progress) is taken at any time and makes the Docker
 * calls give up; the container is removed all the same.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runbox.h"

/* Install the handlers; returns the mask to wait with in ppoll(). */
static void
worker_signals(sigset_t *waitmask)
{
	sigset_t mask;

	child_signals();
	sigemptyset(&mask);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	sigemptyset(waitmask);
}

/*
 * Wait for a connection and accept it, or take one the queue holds for
 * a worker (those first: they waited longest); -1 when told to stop.
 * Several workers may wake for one connection: the losers see EAGAIN.  A
 * web server sends its request at once: a connection silent for
 * io_timeout is dropped rather than allowed to hold the worker.
 */
static int
worker_accept(const struct conf *c, int listen_fd, int queue_fd,
    const sigset_t *waitmask)
{
	struct pollfd pfd[2] = { { queue_fd, POLLIN, 0 },
	    { listen_fd, POLLIN | POLLRDHUP, 0 } };
	long long arrived;
	sigset_t term, old;
	int fd, rc, shut = 0;

	/* SIGTERM too waits for ppoll(), or one that comes between the test
	 * of child_stopping and the wait would be lost. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	for (;;) {
		sigprocmask(SIG_BLOCK, &term, &old);
		rc = child_stopping ? 0 : ppoll(pfd, 2, NULL, waitmask);
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* Stopping: serve what the socket queued before master_stop()
		 * shut it, if it could (runboxd's own socket), then leave.  A
		 * shut socket is always readable, so ppoll() may return before
		 * the stop signal is delivered: the hang-up says it too. */
		if (child_stopping && c->listen == NULL)
			return -1;
		if (rc > 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP)))
			shut = 1;
		if (rc == -1) {
			if (errno != EINTR) {
				log_warn("worker: poll");
				return -1;
			}
			continue;
		}
		if (queue_take(queue_fd, &fd, &arrived) == 1 ||
		    (fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			queue_timeouts(fd, c->io_timeout);
			return fd;
		}
		if (child_stopping || shut)
			return -1;
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR) {
			log_warn("worker: accept");
			return -1;
		}
	}
}

static void
worker_log(const struct api_context *ctx, FCGX_Request *req,
    long long duration)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
	const struct run *r = ctx->run;
	char emethod[64], euri[1024], eimage[512];

	/* The client chose the method, the URI and the image: one request
	 * is one line, whatever they hold.  The container (and whether it
	 * was a warm one) of a run, so that a request can be followed into
	 * Docker's own logs and events. */
	log_info("request=%s method=%s uri=%s image=%s status=%d error=%s "
	    "container=%.12s warm=%s duration_ms=%lld", ctx->request_id,
	    method ? log_escape(emethod, sizeof(emethod), method) : "-",
	    uri ? log_escape(euri, sizeof(euri), uri) : "-",
	    ctx->image[0] ? log_escape(eimage, sizeof(eimage), ctx->image) :
	    "-", ctx->status,
	    ctx->error != ERROR_NONE ? error_name(ctx->error) : "-",
	    r->id[0] ? r->id : "-", !ctx->is_run ? "-" :
	    r->pool_slot != -1 ? "hit" : "no", duration);
}

/*
 * Answer one accepted request (refused with refusal if not NULL) and
 * remove its container afterwards.  The queue answers requests here too,
 * with neither Docker nor a slot.
 */
void
worker_serve(const struct conf *c, struct docker *docker, FCGX_Request *req,
    struct scoreboard_slot *slot, const struct error *refusal)
{
	struct api_context ctx;
	struct run run;
	long long started = util_now_ms(), replied;

	memset(&ctx, 0, sizeof(ctx));
	memset(&run, 0, sizeof(run));
	run.pool_slot = -1;
	run.uid = run_uid(c, 0, scoreboard_index(slot));
	ctx.conf = c;
	ctx.docker = docker;
	ctx.req = req;
	ctx.run = &run;
	if (util_random_hex(ctx.request_id, 8) == -1)
		strcpy(ctx.request_id, "-");
	memcpy(run.request_id, ctx.request_id, sizeof(run.request_id));
	/* Past this, the master kills the worker and reaps the container. */
	if (slot != NULL)
		scoreboard_busy(slot, started + run_budget(c), ctx.request_id);
	/* A client that goes away cancels its run (docker.c watches). */
	if (docker != NULL)
		docker->client_fd = req->ipcFd;
	if (refusal != NULL)
		api_refuse(&ctx, refusal);
	else
		api_handle(&ctx);
	if (docker != NULL)
		docker->client_fd = -1;
	worker_log(&ctx, req, util_now_ms() - started);
	FCGX_Finish_r(req);
	/* One request per connection: a web server that asked to keep it
	 * (FCGI_KEEP_CONN) sees it closed and opens another. */
	if (req->ipcFd >= 0)
		FCGX_Free(req, 1);
	replied = util_now_ms();
	if (docker != NULL) {
		/* An aborted run's container is removed all the same. */
		docker_cancelled = 0;
		docker->client_gone = 0;
		run_remove(docker, c, &run);
	}
	scoreboard_count(ctx.is_run, ctx.status == 200 ? ctx.outcome :
	    error_outcome(ctx.error), replied - started);
	if (slot != NULL)
		scoreboard_idle(slot);
}

/* Serve requests on listen_fd until told to stop, or max_requests. */
int
worker_main(const struct conf *c, int listen_fd, int queue_fd,
    struct scoreboard_slot *slot)
{
	struct docker docker;
	FCGX_Request req;
	sigset_t waitmask;
	long long served = 0;
	int fd;

	worker_signals(&waitmask);
	/* No listen socket for libfcgi: it would accept on it by itself
	 * after a connection that sent no request. */
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, -1, 0) != 0 ||
	    docker_open(&docker, c) == -1) {
		log_warnx("worker: cannot initialise");
		return 1;
	}
	while (c->max_requests == 0 || served < c->max_requests) {
		if ((fd = worker_accept(c, listen_fd, queue_fd, &waitmask)) ==
		    -1)
			break;
		/*
		 * libfcgi reads a request from an open ipcFd instead of
		 * accepting; keepConnection keeps it from closing the fd
		 * before it starts.
		 */
		req.ipcFd = fd;
		req.keepConnection = 1;
		if (FCGX_Accept_r(&req) < 0)
			continue;
		worker_serve(c, &docker, &req, slot, NULL);
		served++;
		if (child_stopping)
			break;
	}
	FCGX_Free(&req, 1);
	docker_close(&docker);
	return 0;
}
