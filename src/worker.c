/*
 * A worker: accept one FastCGI request at a time, answer it, then remove
 * its container after the answer is on its way.  SIGTERM lets the run in
 * progress finish and ends the loop.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runbox.h"

static volatile sig_atomic_t worker_stopping;

static void
worker_on_term(int sig)
{
	(void)sig;
	worker_stopping = 1;
	FCGX_ShutdownPending();
}

static void
worker_signals(void)
{
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: SIGTERM must interrupt a blocking accept(). */
	sa.sa_handler = worker_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	/* The master decides what Ctrl-C and SIGHUP mean for the pool. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static void
worker_log(const struct api_context *ctx, const char *method,
    const char *uri, long long duration)
{
	log_info("request=%s method=%s uri=%s image=%s status=%d error=%s "
	    "duration_ms=%lld", ctx->request_id, method ? method : "-",
	    uri ? uri : "-", ctx->image[0] ? ctx->image : "-", ctx->status,
	    ctx->error_code ? ctx->error_code : "-", duration);
}

/* Serve requests on listen_fd until SIGTERM.  Returns the exit status. */
int
worker_main(const struct conf *c, int listen_fd)
{
	struct api_context ctx;
	struct docker docker;
	struct run run;
	FCGX_Request req;
	long long started, replied;
	char method[16], uri[256];
	const char *p;

	worker_signals();
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, listen_fd,
	    FCGI_FAIL_ACCEPT_ON_INTR) != 0 || docker_open(&docker, c) == -1) {
		log_warnx("worker: cannot initialise");
		return 1;
	}
	while (!worker_stopping && FCGX_Accept_r(&req) >= 0) {
		started = util_now_ms();
		memset(&ctx, 0, sizeof(ctx));
		memset(&run, 0, sizeof(run));
		run.stdin_fd = -1;
		ctx.conf = c;
		ctx.docker = &docker;
		ctx.req = &req;
		ctx.run = &run;
		if (util_random_hex(ctx.request_id, 8) == -1)
			strcpy(ctx.request_id, "-");
		memcpy(run.request_id, ctx.request_id, sizeof(run.request_id));
		api_handle(&ctx);
		p = FCGX_GetParam("REQUEST_METHOD", req.envp);
		snprintf(method, sizeof(method), "%s", p ? p : "-");
		p = FCGX_GetParam("REQUEST_URI", req.envp);
		snprintf(uri, sizeof(uri), "%s", p ? p : "-");
		FCGX_Finish_r(&req);
		replied = util_now_ms();
		run_remove(&docker, c, &run);
		worker_log(&ctx, method, uri, replied - started);
	}
	FCGX_Free(&req, 0);
	docker_close(&docker);
	return 0;
}
