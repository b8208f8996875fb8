/*
 * runboxd: load and check the configuration, open the FastCGI socket (or
 * take the one inherited on fd 0), write the pid file, drop root, and
 * hand over to the master.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runbox.h"

#define MAIN_DEFAULT_CONF PKGSYSCONFDIR "/runbox.ini"

static void
main_usage(FILE *f)
{
	fprintf(f, "usage: runboxd [-tV] [-c FILE]\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -t       check the configuration and exit\n"
	    "  -V       print the version and exit\n", MAIN_DEFAULT_CONF);
}

/*
 * Without [server] listen, the socket is inherited: systemd's socket
 * activation passes it as fd 3 (LISTEN_FDS, LISTEN_PID), spawn-fcgi and
 * inetd-style starts as fd 0.  Returns the fd, or -1.
 */
static int
main_inherited_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long long pidn, nfds;
	int fd = 0, listening = 0;
	socklen_t len = sizeof(listening);

	if (pid && fds) {
		if (util_parse_number(pid, 1, INT_MAX, &pidn) == -1 ||
		    util_parse_number(fds, 1, INT_MAX, &nfds) == -1)
			log_warnx("LISTEN_PID=%s LISTEN_FDS=%s: expected a pid "
			    "and a count of 1 or more; ignored", pid, fds);
		else if (pidn == (long long)getpid())
			fd = 3;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1 ||
	    !listening) {
		log_warnx("[server] listen is not set and fd %d is not a "
		    "listening socket", fd);
		return -1;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("fd %d", fd);
		return -1;
	}
	return fd;
}

/*
 * Refuse to start beside a live runboxd; a stale file is replaced, and so
 * is one that already holds our own pid (a starter that wrote $! there).
 */
static int
main_write_pid(const char *path)
{
	char buf[32];
	long long pid;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		/* Anything but a pid is a stale file. */
		if (util_parse_number(buf, 1, INT_MAX, &pid) == 0 &&
		    pid != (long long)getpid() &&
		    (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
			log_warnx("%s: runboxd is already running as pid %lld",
			    path, pid);
			return -1;
		}
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1) {
		log_warn("pid file %s", path);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		log_warn("pid file %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Started as root, become [server] user (with its groups, which must give
 * access to Docker's socket); without one, refuse to run as root.
 */
static int
main_drop_privileges(const struct conf *c)
{
	struct passwd *pw;
	struct group *gr;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	if (c->run_user == NULL) {
		log_warnx("%s: refusing to run as root: set [server] user (a "
		    "user in the docker group)", c->path);
		return -1;
	}
	if ((pw = getpwnam(c->run_user)) == NULL) {
		log_warnx("%s: [server] user: no user %s", c->path, c->run_user);
		return -1;
	}
	gid = pw->pw_gid;
	if (c->run_group != NULL) {
		if ((gr = getgrnam(c->run_group)) == NULL) {
			log_warnx("%s: [server] group: no group %s", c->path,
			    c->run_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (pw->pw_uid == 0) {
		log_warnx("%s: [server] user: %s is root", c->path, c->run_user);
		return -1;
	}
	if (initgroups(pw->pw_name, gid) == -1 || setgid(gid) == -1 ||
	    setuid(pw->pw_uid) == -1 || setuid(0) != -1) {
		log_warn("cannot become %s", c->run_user);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *path = MAIN_DEFAULT_CONF;
	struct conf *conf;
	char err[1024], *listen_path = NULL, *pid_path = NULL;
	int ch, test = 0, fd, rc = 1;

	while ((ch = getopt(argc, argv, "c:thV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("runboxd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			main_usage(stdout);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		return 2;
	}
	if ((conf = calloc(1, sizeof(*conf))) == NULL ||
	    conf_load(path, conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "runboxd: %s\n", conf ? err : "out of memory");
		free(conf);
		return 1;
	}
	run_fingerprint_images(conf);
	if (test) {
		printf("%s: configuration OK\n", path);
		conf_free(conf);
		free(conf);
		return 0;
	}
	if (log_init(conf->log, "runboxd") == -1 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "runboxd: cannot initialise logging or curl\n");
		goto done;
	}
	/* The pid file first: a second runboxd must not replace (and then
	 * remove) the socket of the one that is running. */
	if (conf->pid_file) {
		if (main_write_pid(conf->pid_file) == -1)
			goto done;
		pid_path = strdup(conf->pid_file);
	}
	fd = conf->listen ? listen_open(conf) : main_inherited_socket();
	if (fd == -1)
		goto done;
	if (conf->listen && conf->listen[0] == '/')
		listen_path = strdup(conf->listen);
	if (main_drop_privileges(conf) == -1)
		goto done;
	rc = master_run(conf, fd);
	conf = NULL;
done:
	if (listen_path)
		unlink(listen_path);
	if (pid_path)
		unlink(pid_path);
	free(listen_path);
	free(pid_path);
	if (conf) {
		conf_free(conf);
		free(conf);
	}
	curl_global_cleanup();
	return rc;
}
