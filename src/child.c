/*
 * How the master's children (workers and the keeper) take signals: SIGQUIT
 * asks them to finish what they are doing and exit, SIGTERM to abort it
 * (Docker calls in progress give up); the master decides what SIGINT and
 * SIGHUP mean for the pool, so the children ignore them, and SIGPIPE.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "runbox.h"

volatile sig_atomic_t child_stopping;

static void
child_on_signal(int sig)
{
	child_stopping = 1;
	if (sig == SIGTERM)
		docker_cancelled = 1;
}

/* Install the handlers; the caller sets the mask it runs with. */
void
child_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = child_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
}
