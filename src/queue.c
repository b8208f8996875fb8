/*
 * The queue: a child of the master that takes the connections no worker
 * is free to take, so that none waits unanswered in the listen backlog.
 *
 * Workers accept on the listen socket themselves.  The queue accepts only
 * while the scoreboard shows no idle worker (or the pool is draining for
 * a stop), and looks at each connection's FastCGI BEGIN_REQUEST and
 * PARAMS records with MSG_PEEK, consuming nothing:
 *  - GET /, /status and /health call no Docker: it answers them itself,
 *    so monitoring sees the service whatever dockerd does;
 *  - anything else waits here with its arrival time, and goes, unread,
 *    to the first worker that is idle: over a SOCK_SEQPACKET pair the
 *    master made (SCM_RIGHTS), which the workers poll beside the listen
 *    socket and read first;
 *  - a request that waited queue_timeout gets 503 server.busy with
 *    Retry-After (its body read and dropped, so that the web server gets
 *    the answer): it ran nowhere, no container was made for it.
 * A connection handed over while a worker took a new one instead stays in
 * the pair; the queue takes such ones back as soon as no worker is idle,
 * so every waiting request is under its timeout here.  A queue replaced
 * by a reload (SIGQUIT) hands what it holds to the pair, where its
 * successor finds them; one told to abort (SIGTERM) answers them 503.
 * It also runs the dockerd ping of /health (health.c).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runbox.h"

/* Connections held at most; more are answered 503 at once. */
#define QUEUE_MAX 512
/* How often the queue looks at the scoreboard while it holds some. */
#define QUEUE_TICK_MS 10
/* A connection an idle worker leaves this long (in the backlog, or in the
 * pair after a hand-over) is the queue's: that worker is not taking it
 * (it may be reading a silent connection for io_timeout). */
#define QUEUE_GRACE_MS 200
/* Socket timeouts while the queue itself reads or answers a request. */
#define QUEUE_IO_MS 1000

struct queue_item {
	int fd;
	long long arrived; /* ms, monotonic */
	int needs_worker;  /* the peek said so (or could not tell) */
};

struct queue {
	const struct conf *conf;
	int listen_fd;
	int pair[2]; /* [0]: hand over, [1]: what workers take from */
	FCGX_Request req;
	struct queue_item items[QUEUE_MAX];
	size_t n;
	long long handed;      /* ms: the last hand-over */
	long long ready_since; /* ms: a connection waits in the backlog, or 0 */
	int shut; /* master_stop() shut the listen socket to new connections */
};

/* Give fd to whoever reads the pair, with its arrival time; 0 or -1. */
static int
queue_send(int sock, int fd, long long arrived)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &arrived, sizeof(arrived) };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;

	memset(control, 0, sizeof(control));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 ? -1 : 0;
}

/*
 * Take one connection from the pair without waiting: 1 with *fd and
 * *arrived set, 0 when there is none, -1 on error.
 */
int
queue_take(int sock, int *fd, long long *arrived)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { arrived, sizeof(*arrived) };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	ssize_t n;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR ? 0 : -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm == NULL || cm->cmsg_level != SOL_SOCKET ||
	    cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return 0;
	memcpy(fd, CMSG_DATA(cm), sizeof(int));
	if (n != sizeof(*arrived))
		*arrived = util_now_ms();
	return 1;
}

/* Both socket timeouts of a connection to the web server. */
void
queue_timeouts(int fd, long long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A FastCGI name-value length: 1 byte, or 4 with the high bit set. */
static int
queue_nv_length(const unsigned char *p, size_t len, size_t *at,
    size_t *out)
{
	if (*at >= len)
		return -1;
	if (p[*at] < 0x80) {
		*out = p[(*at)++];
		return 0;
	}
	if (len - *at < 4)
		return -1;
	*out = ((size_t)(p[*at] & 0x7f) << 24) | ((size_t)p[*at + 1] << 16) |
	    ((size_t)p[*at + 2] << 8) | p[*at + 3];
	*at += 4;
	return 0;
}

/* The value of name in a PARAMS stream, copied to out; 0 or -1. */
static int
queue_param(const unsigned char *p, size_t len, const char *name,
    char *out, size_t outlen)
{
	size_t at = 0, nlen, vlen, want = strlen(name);

	while (at < len) {
		if (queue_nv_length(p, len, &at, &nlen) == -1 ||
		    queue_nv_length(p, len, &at, &vlen) == -1 ||
		    nlen > len - at || vlen > len - at - nlen)
			return -1;
		if (nlen == want && memcmp(p + at, name, nlen) == 0) {
			if (vlen >= outlen)
				return -1;
			memcpy(out, p + at + nlen, vlen);
			out[vlen] = '\0';
			return 0;
		}
		at += nlen + vlen;
	}
	return -1;
}

/*
 * Whether the request whose first n bytes are buf (at most cap could be
 * looked at) needs a worker, can be answered here, or has not sent its
 * BEGIN_REQUEST and PARAMS records whole yet.  Anything unexpected goes
 * to a worker, which answers it as libfcgi reads it.
 */
enum queue_peek
queue_parse(const unsigned char *buf, size_t n, size_t cap)
{
	unsigned char params[QUEUE_PEEK_MAX];
	char method[16], uri[1024];
	size_t at = 0, plen = 0, clen, rlen;

	if (n > sizeof(params))
		return PEEK_WORKER;
	for (;;) {
		if (n - at < 8)
			return n >= cap ? PEEK_WORKER : PEEK_MORE;
		/* version, type, request id (2), length (2), padding */
		clen = ((size_t)buf[at + 4] << 8) | buf[at + 5];
		rlen = 8 + clen + buf[at + 6];
		if (buf[at] != 1 || (at == 0 && buf[at + 1] != 1) ||
		    (at > 0 && buf[at + 1] != 4))
			return PEEK_WORKER;
		if (n - at < rlen)
			return n >= cap ? PEEK_WORKER : PEEK_MORE;
		if (at > 0 && clen == 0)
			break;
		if (at > 0) {
			memcpy(params + plen, buf + at + 8, clen);
			plen += clen;
		}
		at += rlen;
	}
	if (queue_param(params, plen, "REQUEST_METHOD", method,
	    sizeof(method)) == -1 ||
	    (queue_param(params, plen, "DOCUMENT_URI", uri, sizeof(uri)) ==
	    -1 && queue_param(params, plen, "REQUEST_URI", uri,
	    sizeof(uri)) == -1))
		return PEEK_WORKER;
	return api_needs_worker(method, uri) ? PEEK_WORKER : PEEK_HERE;
}

/* queue_parse() on what a connection sent, read with MSG_PEEK: nothing
 * is consumed.  PEEK_GONE when the connection is closed. */
static enum queue_peek
queue_peek(int fd)
{
	unsigned char buf[QUEUE_PEEK_MAX];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		return PEEK_GONE;
	if (n == -1)
		return PEEK_MORE;
	return queue_parse(buf, (size_t)n, sizeof(buf));
}

/* Answer the request on fd here: routed, or refused with refusal. */
static void
queue_answer(struct queue *q, int fd, const struct error *refusal)
{
	q->req.ipcFd = fd;
	q->req.keepConnection = 1;
	queue_timeouts(fd, QUEUE_IO_MS);
	/* On failure libfcgi has closed the connection. */
	if (FCGX_Accept_r(&q->req) < 0)
		return;
	worker_serve(q->conf, NULL, &q->req, NULL, refusal);
}

static void
queue_remove(struct queue *q, size_t i)
{
	memmove(&q->items[i], &q->items[i + 1],
	    (q->n - i - 1) * sizeof(q->items[0]));
	q->n--;
}

/* Hold fd, the items kept in order of arrival. */
static void
queue_hold(struct queue *q, int fd, long long arrived)
{
	struct error e;
	size_t i;

	if (q->n == QUEUE_MAX) {
		error_set(&e, ERROR_SERVER_BUSY, "Every worker is busy and "
		    "%d requests wait for one", QUEUE_MAX);
		queue_answer(q, fd, &e);
		return;
	}
	for (i = q->n; i > 0 && q->items[i - 1].arrived > arrived; i--)
		;
	memmove(&q->items[i + 1], &q->items[i],
	    (q->n - i) * sizeof(q->items[0]));
	q->items[i] = (struct queue_item){ fd, arrived, 0 };
	q->n++;
}

/* Take back what waits in the pair while no worker is there to take it. */
static void
queue_reclaim(struct queue *q)
{
	long long arrived;
	int fd;

	while (queue_take(q->pair[1], &fd, &arrived) == 1)
		queue_hold(q, fd, arrived);
}

/*
 * Whether the web server closed the connection: its client went away
 * while the request waited.  Nothing of it has run, and nothing will.
 */
static int
queue_abandoned(const struct queue_item *it, long long now)
{
	struct pollfd pfd = { it->fd, POLLIN, 0 };

	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & (POLLHUP | POLLERR)))
		return 0;
	log_info("queue: the web server closed a request that waited %lld ms "
	    "for a worker; dropped", now - it->arrived);
	return 1;
}

/* Answer what can be answered here; drop connections that closed. */
static void
queue_sort_out(struct queue *q, long long now)
{
	size_t i = 0;
	int fd;

	while (i < q->n) {
		if (queue_abandoned(&q->items[i], now)) {
			close(q->items[i].fd);
			queue_remove(q, i);
			continue;
		}
		if (q->items[i].needs_worker) {
			i++;
			continue;
		}
		switch (queue_peek(q->items[i].fd)) {
		case PEEK_MORE:
			i++;
			break;
		case PEEK_WORKER:
			q->items[i++].needs_worker = 1;
			break;
		case PEEK_HERE:
			fd = q->items[i].fd;
			queue_remove(q, i);
			queue_answer(q, fd, NULL);
			break;
		case PEEK_GONE:
			close(q->items[i].fd);
			queue_remove(q, i);
			break;
		}
	}
}

/* Answer 503 to every held request that arrived before `before`. */
static void
queue_refuse(struct queue *q, long long before, enum error_code code)
{
	struct error e;
	int fd;

	if (code == ERROR_SERVER_BUSY)
		error_set(&e, code, "Every worker stayed busy for %lld ms",
		    q->conf->queue_timeout);
	else
		error_set(&e, code, "The service is stopping");
	while (q->n > 0 && q->items[0].arrived < before) {
		fd = q->items[0].fd;
		queue_remove(q, 0);
		queue_answer(q, fd, &e);
	}
}

/*
 * Hand the oldest held request to a worker, one at a time: the next only
 * once a worker took this one.  One left in the pair past QUEUE_GRACE_MS
 * is taken back.
 */
static void
queue_hand_over(struct queue *q, long long now)
{
	int pending = 0;

	if (ioctl(q->pair[1], FIONREAD, &pending) == -1)
		return;
	if (pending > 0) {
		if (now - q->handed >= QUEUE_GRACE_MS)
			queue_reclaim(q);
		return;
	}
	if (q->n == 0)
		return;
	if (queue_send(q->pair[0], q->items[0].fd, q->items[0].arrived) ==
	    -1) {
		log_warn("queue: hand over");
		return;
	}
	close(q->items[0].fd);
	queue_remove(q, 0);
	q->handed = now;
}

/* Accept every waiting connection, up to what the queue holds. */
static void
queue_accept(struct queue *q)
{
	int fd;

	while (q->n < QUEUE_MAX && (fd = accept4(q->listen_fd, NULL, NULL,
	    SOCK_CLOEXEC)) != -1)
		queue_hold(q, fd, util_now_ms());
	if (q->n < QUEUE_MAX && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != ECONNABORTED && errno != EINTR)
		log_warn("queue: accept");
}

/*
 * Wait for a connection, or QUEUE_TICK_MS while the queue holds some; 1
 * when one waits to be accepted.  While idle workers leave one in the
 * backlog (they are about to take it), the queue sleeps a tick and looks
 * again instead of polling in a busy loop.  The stop signals are taken
 * only here (see worker.c).
 */
static int
queue_wait(struct queue *q, int idle, int ready, const sigset_t *waitmask)
{
	struct pollfd pfd = { q->listen_fd, POLLIN | POLLRDHUP, 0 };
	struct timespec tick = { 0, QUEUE_TICK_MS * 1000000L };

	/* A shut socket polls readable for good: once what it had queued is
	 * taken, wait ticks (for the stop signal) instead of spinning. */
	if (q->shut)
		return ppoll(NULL, 0, &tick, waitmask) == 0;
	if (ready && idle > 0) {
		if (ppoll(NULL, 0, &tick, waitmask) == -1 ||
		    poll(&pfd, 1, 0) <= 0)
			return 0;
	} else if (ppoll(&pfd, 1, q->n > 0 ? &tick : NULL, waitmask) <= 0)
		return 0;
	q->shut = (pfd.revents & (POLLRDHUP | POLLHUP)) != 0;
	return (pfd.revents & POLLIN) != 0;
}

/* The queue process until a stop or a reload; its exit status. */
int
queue_main(const struct conf *c, int listen_fd, const int pair[2])
{
	struct queue *q;
	sigset_t mask, none;
	long long now;
	int idle, stopping, drain, ready = 0;

	prctl(PR_SET_NAME, "runboxd-queue");
	child_signals();
	sigemptyset(&none);
	sigemptyset(&mask);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	/* No listen socket for libfcgi: it would accept by itself. */
	if ((q = calloc(1, sizeof(*q))) == NULL || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&q->req, -1, 0) != 0) {
		log_warnx("queue: cannot initialise");
		free(q);
		return 1;
	}
	q->conf = c;
	q->listen_fd = listen_fd;
	q->pair[0] = pair[0];
	q->pair[1] = pair[1];
	health_start(c);
	while (!child_stopping) {
		now = util_now_ms();
		idle = scoreboard_idle_count();
		stopping = scoreboard_stopping();
		/* A stop that shut runboxd's own socket (master_stop) takes no
		 * new run: what is held here goes to the workers as they finish
		 * theirs.  On an inherited socket, new runs keep coming: they
		 * are answered 503 instead. */
		drain = stopping && q->shut;
		if (!drain && (idle == 0 || stopping))
			queue_reclaim(q);
		if (!ready)
			q->ready_since = 0;
		else if (q->ready_since == 0)
			q->ready_since = now;
		if (ready && (idle == 0 || stopping ||
		    now - q->ready_since >= QUEUE_GRACE_MS))
			queue_accept(q);
		queue_sort_out(q, now);
		if (stopping && !drain)
			queue_refuse(q, now + 1, ERROR_SERVER_STOPPING);
		else if (idle > 0 || drain)
			queue_hand_over(q, now);
		queue_refuse(q, now - c->queue_timeout + 1, ERROR_SERVER_BUSY);
		scoreboard_set_queued((long long)q->n);
		ready = queue_wait(q, idle, ready, &none);
	}
	health_stop();
	/* SIGQUIT (a reload): the successor takes what is held from the
	 * pair.  SIGTERM (a stop), or a full pair: answer it. */
	while (!docker_cancelled && q->n > 0 && queue_send(pair[0],
	    q->items[0].fd, q->items[0].arrived) == 0) {
		close(q->items[0].fd);
		queue_remove(q, 0);
	}
	if (docker_cancelled)
		queue_reclaim(q); /* handed over, but no worker is left */
	queue_refuse(q, util_now_ms() + 1, ERROR_SERVER_STOPPING);
	scoreboard_set_queued(0);
	FCGX_Free(&q->req, 1);
	free(q);
	return 0;
}
