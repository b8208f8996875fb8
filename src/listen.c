/*
 * The FastCGI listen socket: a unix path (created with the configured
 * mode) or HOST:PORT.  nginx connects to it; the workers accept on it.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runbox.h"

/* Give the socket to the configured user and group (nginx's, usually). */
static int
listen_chown(const struct conf *c)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;

	if (c->listen_user && (pw = getpwnam(c->listen_user)) == NULL) {
		log_warnx("listen %s: no user %s", c->listen, c->listen_user);
		return -1;
	}
	if (c->listen_group && (gr = getgrnam(c->listen_group)) == NULL) {
		log_warnx("listen %s: no group %s", c->listen, c->listen_group);
		return -1;
	}
	if ((pw || gr) && chown(c->listen, pw ? pw->pw_uid : (uid_t)-1,
	    gr ? gr->gr_gid : (gid_t)-1) == -1) {
		log_warn("listen %s: chown", c->listen);
		return -1;
	}
	return 0;
}

static int
listen_unix(const struct conf *c)
{
	const char *path = c->listen;
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("listen %s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A stale socket from a previous run would make bind() fail. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("listen %s: exists and is not a socket", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("listen %s: socket", path);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, (mode_t)c->listen_mode) == -1 ||
	    listen(fd, (int)c->listen_backlog) == -1) {
		log_warn("listen %s", path);
		close(fd);
		return -1;
	}
	if (listen_chown(c) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
listen_tcp(const char *spec, int backlog)
{
	struct addrinfo hints, *res, *ai;
	char host[256], service[8];
	int fd = -1, one = 1, port, rc;

	if (util_parse_hostport(spec, 0, host, sizeof(host), &port) == -1) {
		log_warnx("listen %s: expected HOST:PORT (PORT 1 to 65535) or "
		    "an absolute path", spec);
		return -1;
	}
	snprintf(service, sizeof(service), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, service, &hints, &res)) != 0) {
		log_warnx("listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		log_warn("listen %s", spec);
	freeaddrinfo(res);
	return fd;
}

/* Open the listen socket named by [server] listen ("/path" or
 * "host:port"). */
int
listen_open(const struct conf *c)
{
	if (c->listen[0] == '/')
		return listen_unix(c);
	return listen_tcp(c->listen, (int)c->listen_backlog);
}
