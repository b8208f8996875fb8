/*
 * Configuration loading: good files, and bad ones named precisely; and the
 * strict number parser it builds on.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runbox.h"
#include "tap.h"

#define CONF(name) TEST_DATA "/conf/" name

static int
loads(const char *path, struct conf *c, char *err, size_t errlen)
{
	return conf_load(path, c, err, errlen);
}

/* The file must fail, with an error that contains want. */
static void
fails_with(const char *file, const char *want)
{
	struct conf c;
	char err[1024] = "";
	int rc = loads(file, &c, err, sizeof(err));

	ok(rc == -1 && strstr(err, want) != NULL, "%s fails naming '%s' (%s)",
	    strrchr(file, '/') + 1, want, err);
}

/* util_parse_number must fail on s with errno set to want. */
static int
number_fails(const char *s, long long min, long long max, int want)
{
	long long v = -7;

	errno = 0;
	return util_parse_number(s, min, max, &v) == -1 && errno == want &&
	    v == -7;
}

static void
test_number(void)
{
	long long v;

	ok(util_parse_number("8080", 1, 65535, &v) == 0 && v == 8080,
	    "number: digits within the bounds are parsed");
	ok(util_parse_number("1", 1, 65535, &v) == 0 && v == 1 &&
	    util_parse_number("65535", 1, 65535, &v) == 0 && v == 65535,
	    "number: both bounds are inside the range");
	ok(number_fails("0", 1, 65535, ERANGE), "number: below min is ERANGE");
	ok(number_fails("65536", 1, 65535, ERANGE),
	    "number: above max is ERANGE");
	ok(util_parse_number("9223372036854775807", 0, LLONG_MAX, &v) == 0 &&
	    v == LLONG_MAX, "number: LLONG_MAX itself is parsed");
	ok(number_fails("9223372036854775808", 0, LLONG_MAX, ERANGE),
	    "number: one past LLONG_MAX overflows with ERANGE");
	ok(number_fails("99999999999999999999999", 0, LLONG_MAX, ERANGE),
	    "number: far past LLONG_MAX overflows with ERANGE");
	ok(util_parse_number("010", 0, 100, &v) == 0 && v == 10,
	    "number: a leading zero is decimal, not octal");
	ok(number_fails("", 0, 100, EINVAL), "number: empty is EINVAL");
	ok(number_fails(NULL, 0, 100, EINVAL), "number: NULL is EINVAL");
	ok(number_fails("-1", -5, 100, EINVAL), "number: a minus sign is EINVAL");
	ok(number_fails("+1", 0, 100, EINVAL), "number: a plus sign is EINVAL");
	ok(number_fails(" 1", 0, 100, EINVAL),
	    "number: a leading space is EINVAL");
	ok(number_fails("1\n", 0, 100, EINVAL),
	    "number: a trailing newline is EINVAL");
	ok(number_fails("80x", 0, 100, EINVAL), "number: a suffix is EINVAL");
	ok(number_fails("0x10", 0, 100, EINVAL), "number: hex is EINVAL");
	ok(number_fails("99999999999999999999x", 0, LLONG_MAX, EINVAL),
	    "number: junk wins over overflow (EINVAL)");
}

static void
test_hostport(void)
{
	char host[64];
	int port = 0;

	ok(util_parse_hostport("127.0.0.1:9000", 0, host, sizeof(host),
	    &port) == 0 && strcmp(host, "127.0.0.1") == 0 && port == 9000,
	    "hostport: HOST:PORT is split");
	ok(util_parse_hostport("[::1]:9000", 0, host, sizeof(host), &port) ==
	    0 && strcmp(host, "::1") == 0 && port == 9000,
	    "hostport: an IPv6 host loses its brackets");
	ok(util_parse_hostport("docker", 2375, host, sizeof(host), &port) ==
	    0 && strcmp(host, "docker") == 0 && port == 2375,
	    "hostport: a missing port takes the default");
	ok(util_parse_hostport("localhost", 0, host, sizeof(host), &port) ==
	    -1, "hostport: a missing port without a default is refused");
	ok(util_parse_hostport("localhost:70000", 0, host, sizeof(host),
	    &port) == -1 && errno == ERANGE,
	    "hostport: a port above 65535 is ERANGE");
	ok(util_parse_hostport("localhost:80x", 0, host, sizeof(host),
	    &port) == -1 && errno == EINVAL,
	    "hostport: a port with a suffix is EINVAL");
	ok(util_parse_hostport(":9000", 0, host, sizeof(host), &port) == -1,
	    "hostport: an empty host is refused");
	ok(util_parse_hostport("[::1]9000", 0, host, sizeof(host), &port) ==
	    -1, "hostport: text after the bracket but no colon is refused");
}

static void
test_units(void)
{
	long long v;

	ok(conf_parse_size("65536", &v) == 0 && v == 65536, "size bytes");
	ok(conf_parse_size("100K", &v) == 0 && v == 102400, "size K");
	ok(conf_parse_size("512M", &v) == 0 && v == 512LL << 20, "size M");
	ok(conf_parse_size("1GB", &v) == 0 && v == 1LL << 30, "size GB");
	ok(conf_parse_size("1T", &v) == -1, "size unknown unit");
	ok(conf_parse_size("-1", &v) == -1, "size negative");
	ok(conf_parse_size("", &v) == -1, "size empty");
	ok(conf_parse_size("99999999999999999999", &v) == -1, "size overflow");
	ok(conf_parse_size("9999999999999G", &v) == -1, "size unit overflow");
	ok(conf_parse_duration("15s", &v) == 0 && v == 15000, "duration s");
	ok(conf_parse_duration("15", &v) == 0 && v == 15000,
	    "duration bare is seconds");
	ok(conf_parse_duration("250ms", &v) == 0 && v == 250, "duration ms");
	ok(conf_parse_duration("2m", &v) == 0 && v == 120000, "duration m");
	ok(conf_parse_duration("1.5s", &v) == -1, "duration fraction refused");
	ok(conf_parse_duration("5 s", &v) == -1, "duration inner space");
}

static void
test_good(void)
{
	const struct image *im;
	struct conf c;
	char err[1024] = "";

	ok(loads(CONF("good.ini"), &c, err, sizeof(err)) == 0, "good.ini loads"
	    " (%s)", err);
	ok(strcmp(c.listen, "127.0.0.1:9000") == 0 && c.workers == 3,
	    "server keys are read");
	ok(c.max_body_size == 2 << 20, "max_body_size in bytes");
	ok(c.docker_connect_timeout == 2000,
	    "[docker] connect_timeout is read under its own name");
	ok(c.limits.execution_time == 5000 && c.limits.cpus == 500000000,
	    "limits are read");
	ok(c.uid_first == 524288 && c.uid_last == 524288 + RUN_UIDS - 1,
	    "default uids: %d from 524288", RUN_UIDS);
	ok(c.limits.msgqueue == 800 * 1024 && c.limits.sigpending == 1024,
	    "msgqueue and sigpending default to 800K and 1024");
	ok(c.limits.pids == 128 && c.readonly_rootfs == 1 &&
	    c.network_disabled == 1, "defaults fill what is absent");
	ok(c.nimages == 2, "two images");
	im = conf_find_image(&c, "runbox/python:latest");
	ok(im && im->limits.execution_time == 750 &&
	    im->limits.output_size == 4096, "image overrides its limits");
	ok(im && im->limits.memory == 256LL << 20,
	    "image inherits [limits] it does not override");
	ok(conf_find_image(&c, "runbox/python") == im,
	    "image found without :latest");
	ok(im && strcmp(im->language, "python") == 0,
	    "an image's language defaults to its section name");
	ok(im && strcmp(im->runtime, "runc") == 0,
	    "an image's runtime defaults to [container]'s");
	im = conf_find_image(&c, "runbox/tiny");
	ok(im && strcmp(im->runtime, "runsc") == 0 &&
	    im->limits.sigpending == 64, "an image sets its own runtime and "
	    "sigpending");
	ok(im && strcmp(im->language, "bash") == 0,
	    "an image's language can be set");
	ok(conf_find_image(&c, "runbox/tiny:latest") != NULL,
	    "image found with :latest added");
	ok(conf_find_image(&c, "runbox/python:3") == NULL &&
	    conf_find_image(&c, "runbox/pyth") == NULL,
	    "other tags and prefixes are not allowed");
	conf_free(&c);

	ok(loads(CONF("minimal.ini"), &c, err, sizeof(err)) == 0 &&
	    c.listen == NULL && c.workers == 4 &&
	    c.limits.execution_time == 15000, "minimal file takes defaults");
	conf_free(&c);
	ok(loads(CONF("octal-trap.ini"), &c, err, sizeof(err)) == 0 &&
	    c.workers == 10, "010 is ten, not octal eight");
	conf_free(&c);
	ok(loads(CONF("token-file.ini"), &c, err, sizeof(err)) == 0 &&
	    strcmp(c.access_token, "s3cret-token") == 0,
	    "token file relative to the INI, newline dropped (%s)", err);
	conf_free(&c);
}

/* Which section of aliases.ini a client's image name reaches. */
static const struct lookup {
	const char *name;
	const char *key; /* NULL: none */
	const char *what;
} lookups[] = {
	{ "glot/clang:latest", "c", "an alias finds its section" },
	{ "glot/clang", "c", "an alias is found without :latest" },
	{ "other/clang:latest", "c", "an alias is found with :latest added" },
	{ "runbox/clang", "c", "the section's name still finds it" },
	{ "glot/python", "python", "each section's aliases lead to it" },
	{ "glot/clang:14", NULL, "another tag of an alias is not allowed" },
	{ "glot/cla", NULL, "a prefix of an alias is not allowed" },
};

static void
test_aliases(void)
{
	const struct lookup *l;
	const struct image *im;
	struct conf c;
	char err[1024] = "";

	ok(loads(CONF("aliases.ini"), &c, err, sizeof(err)) == 0,
	    "aliases.ini loads (%s)", err);
	im = conf_find_image(&c, "runbox/clang:latest");
	ok(im != NULL && im->naliases == 3 &&
	    strcmp(im->aliases[0], "glot/clang:latest") == 0 &&
	    strcmp(im->aliases[1], "other/clang") == 0 &&
	    strcmp(im->aliases[2], "third/cc") == 0,
	    "aliases split on spaces and commas");
	for (l = lookups; l < lookups + sizeof(lookups) / sizeof(lookups[0]);
	    l++) {
		im = conf_find_image(&c, l->name);
		ok(l->key == NULL ? im == NULL : im != NULL &&
		    strcmp(im->key, l->key) == 0, "%s: %s", l->name, l->what);
	}
	conf_free(&c);
	ok(loads(CONF("good.ini"), &c, err, sizeof(err)) == 0 &&
	    c.images[0].naliases == 0 && c.images[0].aliases == NULL,
	    "a section without aliases has none");
	conf_free(&c);
	fails_with(CONF("alias-clashes-name.ini"), "alias-clashes-name.ini: "
	    "[image.tiny] aliases: 'runbox/python' is already [image.python]");
	fails_with(CONF("alias-clashes-later-name.ini"),
	    "[image.tiny] aliases: 'glot/python:latest' is already "
	    "[image.python]");
	fails_with(CONF("alias-duplicate.ini"), "[image.tiny] aliases: "
	    "'glot/python:latest' is already [image.python]");
	fails_with(CONF("alias-empty.ini"), "[image.tiny] aliases: no name");
	fails_with(CONF("alias-too-long.ini"),
	    "[image.tiny] aliases: 'xxxx");
	fails_with(CONF("duplicate-image-latest.ini"),
	    "[image.b] name: 'runbox/tiny:latest' is already [image.a]");
}

/* Send stderr, where log lines go, to a temporary file; NULL on error. */
static FILE *
capture_start(int *saved)
{
	FILE *f = tmpfile();

	if (f == NULL || (*saved = dup(STDERR_FILENO)) == -1) {
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	dup2(fileno(f), STDERR_FILENO);
	return f;
}

/* Put stderr back and return what was logged since capture_start. */
static void
capture_end(FILE *f, int saved, char *logged, size_t len)
{
	size_t n;

	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(logged, 1, len - 1, f);
	logged[n] = '\0';
	fclose(f);
}

/* conf_load with what it logs caught in logged. */
static int
loads_logging(const char *path, struct conf *c, char *logged, size_t len)
{
	char err[1024] = "";
	int saved, rc;
	FILE *f;

	if ((f = capture_start(&saved)) == NULL)
		return -2;
	rc = conf_load(path, c, err, sizeof(err));
	capture_end(f, saved, logged, len);
	return rc;
}

static void
test_alias(void)
{
	struct conf c;
	char logged[2048];

	ok(loads_logging(CONF("docker-write-timeout.ini"), &c, logged,
	    sizeof(logged)) == 0 && c.docker_connect_timeout == 3000,
	    "the old name write_timeout sets connect_timeout");
	conf_free(&c);
	ok(strstr(logged, "docker-write-timeout.ini: [docker] write_timeout is "
	    "deprecated: use connect_timeout") != NULL,
	    "the old name logs a deprecation line");
	fails_with(CONF("docker-both-timeouts.ini"), "[docker] write_timeout: "
	    "set either connect_timeout or write_timeout, not both");
	ok(loads_logging(CONF("container-user-retired.ini"), &c, logged,
	    sizeof(logged)) == 0, "a retired key still loads");
	conf_free(&c);
	ok(strstr(logged, "[container] user is ignored: every run has a uid "
	    "of its own, from uids") != NULL, "a retired key logs why it is "
	    "ignored");
}

/* A tcp:// endpoint: mutual TLS, or plain TCP only when the INI says so. */
static void
test_tls(void)
{
	struct conf c;
	char logged[2048];

	fails_with(CONF("docker-plain-tcp.ini"), "[docker] endpoint: "
	    "'tcp://127.0.0.1:2375': set tls_ca, tls_cert and tls_key (mutual "
	    "TLS), or plain_tcp = true");
	ok(loads_logging(CONF("docker-plain-tcp-allowed.ini"), &c, logged,
	    sizeof(logged)) == 0 && c.docker_plain_tcp == 1,
	    "plain_tcp = true allows a tcp:// endpoint without TLS");
	conf_free(&c);
	ok(strstr(logged, "[docker] endpoint tcp://127.0.0.1:2375: plain TCP "
	    "without TLS") != NULL, "and logs a warning naming it");
	fails_with(CONF("docker-tls-unix.ini"), "[docker] tls_ca, tls_cert, "
	    "tls_key, plain_tcp: only for a tcp:// endpoint");
	fails_with(CONF("docker-tls-partial.ini"), "[docker] tls_ca, tls_cert, "
	    "tls_key: set all three");
	fails_with(CONF("docker-tls-and-plain.ini"), "[docker] plain_tcp: true, "
	    "yet tls_* keys are set");
	fails_with(CONF("docker-tls-missing.ini"), "[docker] tls_ca: "
	    TEST_DATA "/conf/no-such-ca.pem: No such file");
	fails_with(CONF("docker-tls-not-pem.ini"), "[docker] tls_ca: "
	    TEST_DATA "/conf/token.txt: not a PEM file");
}

/*
 * Load running and next, then conf_keep_restart_only(next, running) with
 * what it logs caught in logged.
 */
static int
keeps(struct conf *running, struct conf *next, char *logged, size_t len)
{
	char err[1024] = "";
	int saved, rc;
	FILE *f;

	if (conf_load(CONF("reload-running.ini"), running, err,
	    sizeof(err)) == -1 ||
	    conf_load(CONF("reload-next.ini"), next, err, sizeof(err)) == -1 ||
	    (f = capture_start(&saved)) == NULL)
		return -2;
	rc = conf_keep_restart_only(next, running);
	capture_end(f, saved, logged, len);
	return rc;
}

static void
test_keep_restart_only(void)
{
	struct conf running, next;
	char logged[4096];
	int rc = keeps(&running, &next, logged, sizeof(logged));

	ok(rc == 0, "conf_keep_restart_only succeeds");
	ok(rc == 0 && strcmp(next.instance, "blue") == 0,
	    "a changed restart-only key keeps its running value");
	ok(rc == 0 && next.listen == NULL,
	    "a restart-only key set by the reload stays unset");
	ok(rc == 0 && next.listen_mode == 0660,
	    "a changed restart-only number keeps its running value");
	ok(rc == 0 && next.workers == 5,
	    "a changed reloadable key takes the new value");
	ok(strstr(logged, "reload: [server] instance changed from 'blue' to "
	    "'green'; it takes effect at the next start, keeping 'blue'") !=
	    NULL, "a kept string is logged with both values");
	ok(strstr(logged, "reload: [server] listen changed from unset to "
	    "'127.0.0.1:9000'") != NULL, "a kept unset value is logged as unset");
	ok(strstr(logged, "reload: [server] listen_mode changed from 0660 to "
	    "0600") != NULL, "a kept mode is logged in octal");
	ok(strstr(logged, "workers") == NULL,
	    "a reloadable key is not logged");
	ok(strstr(logged, "pid_file") == NULL,
	    "an unchanged restart-only key is not logged");
	conf_free(&running);
	conf_free(&next);
}

/* A run's deadline is its image's execution_time unless set. */
static void
test_run_deadline(void)
{
	struct conf c;
	char err[1024] = "";

	ok(loads(CONF("run-deadline.ini"), &c, err, sizeof(err)) == 0,
	    "run-deadline.ini loads (%s)", err);
	ok(c.images[0].limits.run_deadline == 5000 &&
	    c.images[0].limits.tests_max == 32 &&
	    c.images[0].limits.tests_stdin_size == 1 << 20,
	    "unset, run_deadline is execution_time; tests take the defaults");
	ok(c.images[1].limits.run_deadline == 30000 &&
	    c.images[1].limits.tests_max == 4, "an image's own are read");
	ok(c.max_run_time == 30000, "workers get the longest run_deadline");
	conf_free(&c);
	fails_with(CONF("run-deadline-short.ini"),
	    "[image.a] execution_time: above run_deadline");
}

int
main(void)
{
	test_number();
	test_run_deadline();
	test_hostport();
	test_units();
	test_good();
	test_aliases();
	test_alias();
	test_tls();
	test_keep_restart_only();
	fails_with(CONF("missing.ini"), "No such file");
	fails_with(CONF("unknown-key.ini"), "[server] worker: unknown key");
	fails_with(CONF("unknown-section.ini"), "[sever]: unknown section");
	fails_with(CONF("bad-size.ini"), "[limits] memory: '512X'");
	fails_with(CONF("out-of-range.ini"), "[server] workers: '0' is out of");
	fails_with(CONF("no-token.ini"), "[server] access_token: missing");
	fails_with(CONF("no-image.ini"), "no [image.NAME] section");
	fails_with(CONF("image-no-name.ini"), "[image.tiny] name: missing");
	fails_with(CONF("image-bad-key.ini"), "[image.tiny] workers: unknown");
	fails_with(CONF("duplicate-image.ini"), "is already [image.a]");
	/* Found by tests/fuzz/fuzz_conf: clients reach [image.b] never. */
	fails_with(CONF("duplicate-image-latest.ini"), "is already [image.a]");
	/* minimal.ini, which loads, with a line that is not "key = value"
	 * put in as line 3: nothing but that line can fail it. */
	fails_with(CONF("syntax-error.ini"), "syntax-error.ini: iniparser: "
	    "syntax error in ");
	fails_with(CONF("syntax-error.ini"), "syntax-error.ini (3):");
	fails_with(CONF("bad-bool.ini"), "expected true or false");
	fails_with(CONF("image-name-too-long.ini"),
	    "[image.tiny] name: length must be 1 to 255");
	fails_with(CONF("image-language-empty.ini"),
	    "[image.tiny] language: length must be 1 to 255");
	fails_with(CONF("limits-nofile-above-hard.ini"),
	    "[limits] nofile_soft: above nofile_hard");
	fails_with(CONF("image-nproc-above-hard.ini"),
	    "[image.tiny] nproc_soft: above nproc_hard");
	fails_with(CONF("limits-log-too-small.ini"), "[container] log_max_size: "
	    "must be at least six times the output_size of [limits], plus 64K");
	fails_with(CONF("image-log-too-small.ini"), "[container] log_max_size: "
	    "must be at least six times the output_size of [image.tiny], plus "
	    "64K");
	fails_with(CONF("uids-name.ini"), "[container] uids: 'runbox': "
	    "expected FIRST-LAST");
	fails_with(CONF("uids-root.ini"), "must not run as root");
	fails_with(CONF("uids-too-few.ini"), "[container] uids: "
	    "'600000-600009' holds 10 uids, fewer than the 1280 containers");
	fails_with(CONF("uids-host-user.ini"), "[container] uids: "
	    "'65000-66279' holds an id of the host's user nobody (uid 65534)");
	fails_with(CONF("image-bad-runtime.ini"), "[image.tiny] runtime: "
	    "'run sc': letters, digits");
	fails_with(CONF("bad-instance.ini"), "[server] instance: 'a\"b': "
	    "letters, digits");
	fails_with(CONF("endpoint-bad-port.ini"),
	    "[docker] endpoint: 'tcp://127.0.0.1:99999': expected");
	fails_with(CONF("listen-bad-port.ini"),
	    "[server] listen: '127.0.0.1:9000x': expected");
	return tap_done();
}
