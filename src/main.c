/*
 * runboxd: load and check the configuration, open the FastCGI socket (or
 * take the one inherited on fd 0) and hand over to the master.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runbox.h"

#define MAIN_DEFAULT_CONF SYSCONFDIR "/runbox.ini"

static void
main_usage(FILE *f)
{
	fprintf(f, "usage: runboxd [-tV] [-c FILE]\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -t       check the configuration and exit\n"
	    "  -V       print the version and exit\n", MAIN_DEFAULT_CONF);
}

/* fd 0 is usable when spawn-fcgi or systemd passed a listening socket. */
static int
main_inherited_socket(void)
{
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1 ||
	    !listening) {
		fprintf(stderr, "runboxd: [server] listen is not set and fd 0 "
		    "is not a listening socket\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *path = MAIN_DEFAULT_CONF;
	struct conf conf;
	char err[1024];
	int ch, test = 0, fd = 0, rc;

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
	if (conf_load(path, &conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "runboxd: %s\n", err);
		return 1;
	}
	if (test) {
		printf("%s: configuration OK\n", path);
		conf_free(&conf);
		return 0;
	}
	if (log_init(conf.log, "runboxd") == -1 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "runboxd: cannot initialise logging or curl\n");
		return 1;
	}
	if (conf.listen != NULL)
		fd = listen_open(&conf);
	else if (main_inherited_socket() == -1)
		fd = -1;
	if (fd == -1) {
		conf_free(&conf);
		return 1;
	}
	rc = master_run(&conf, fd);
	if (conf.listen != NULL && conf.listen[0] == '/')
		unlink(conf.listen);
	conf_free(&conf);
	curl_global_cleanup();
	return rc;
}
