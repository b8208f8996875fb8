/*
 * The INI file: a table of every key with its type, bounds and default,
 * loaded with iniparser and checked value by value.  Unknown sections and
 * keys are errors, so a typo never silently falls back to a default.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <iniparser.h>

#include "runbox.h"
#include "runner.h"

enum conf_type {
	CONF_STRING,
	CONF_INT,
	CONF_SIZE,
	CONF_DURATION,
	CONF_BOOL,
	CONF_CPUS,
	CONF_MODE,
};

/*
 * Where a key's value is stored: in struct conf, in a struct limits (of
 * [limits], or of the image being read), or in a struct image.
 */
enum conf_place { IN_CONF, IN_LIMITS, IN_IMAGE };

/*
 * When a key takes effect: RELOAD keys with the workers a reload starts;
 * RESTART keys, used once at start (the socket, the pid file, the user)
 * or naming what a previous generation left to reap (instance, endpoint),
 * keep their running value until the next start.
 */
enum conf_when { RELOAD, RESTART };

struct conf_key {
	const char *section; /* "image": any [image.NAME] */
	const char *name;
	enum conf_type type;
	long long min;
	long long max;
	const char *def;
	enum conf_place place;
	size_t offset;
	enum conf_when when; /* RESTART keys are all IN_CONF */
};

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)
#define C(field) IN_CONF, offsetof(struct conf, field)
#define L(field) IN_LIMITS, offsetof(struct limits, field)
#define I(field) IN_IMAGE, offsetof(struct image, field)

static const struct conf_key conf_keys[] = {
	{ "server", "listen", CONF_STRING, 1, 108, NULL, C(listen), RESTART },
	{ "server", "listen_mode", CONF_MODE, 0, 0777, "0660", C(listen_mode),
	    RESTART },
	{ "server", "listen_user", CONF_STRING, 1, 64, NULL, C(listen_user),
	    RESTART },
	{ "server", "listen_group", CONF_STRING, 1, 64, NULL, C(listen_group),
	    RESTART },
	{ "server", "listen_backlog", CONF_INT, 1, 65535, "128",
	    C(listen_backlog), RESTART },
	{ "server", "workers", CONF_INT, 1, 512, "4", C(workers), RELOAD },
	{ "server", "access_token", CONF_STRING, 1, 4096, NULL, C(access_token),
	    RELOAD },
	{ "server", "access_token_file", CONF_STRING, 1, PATH_MAX, NULL,
	    C(access_token_file), RELOAD },
	{ "server", "max_body_size", CONF_SIZE, 1, 64 * MIB, "1M",
	    C(max_body_size), RELOAD },
	{ "server", "log", CONF_STRING, 1, 16, "stderr", C(log), RELOAD },
	{ "server", "instance", CONF_STRING, 1, 63, "default", C(instance),
	    RESTART },
	{ "server", "shutdown_timeout", CONF_DURATION, 0, 3600 * 1000, "30s",
	    C(shutdown_timeout), RELOAD },
	{ "server", "user", CONF_STRING, 1, 64, NULL, C(run_user), RESTART },
	{ "server", "group", CONF_STRING, 1, 64, NULL, C(run_group), RESTART },
	{ "server", "pid_file", CONF_STRING, 2, PATH_MAX, NULL, C(pid_file),
	    RESTART },
	{ "server", "max_requests", CONF_INT, 0, 1000000000, "1000",
	    C(max_requests), RELOAD },
	{ "server", "kill_grace", CONF_DURATION, 1000, 3600 * 1000, "10s",
	    C(kill_grace), RELOAD },
	{ "server", "reap_interval", CONF_DURATION, 1000, 3600 * 1000, "30s",
	    C(reap_interval), RELOAD },
	{ "server", "io_timeout", CONF_DURATION, 100, 600 * 1000, "30s",
	    C(io_timeout), RELOAD },
	{ "server", "queue_timeout", CONF_DURATION, 100, 600 * 1000, "5s",
	    C(queue_timeout), RELOAD },
	{ "server", "warm_max", CONF_INT, 0, POOL_SLOTS, "16", C(warm_max),
	    RELOAD },
	{ "server", "warm_max_age", CONF_DURATION, 10 * 1000, 24 * 3600 * 1000,
	    "10m", C(warm_max_age), RELOAD },

	{ "docker", "endpoint", CONF_STRING, 1, PATH_MAX,
	    "unix:///var/run/docker.sock", C(docker_endpoint), RESTART },
	{ "docker", "api_version", CONF_STRING, 3, 8, "1.41",
	    C(docker_api_version), RELOAD },
	{ "docker", "read_timeout", CONF_DURATION, 100, 600 * 1000, "10s",
	    C(docker_read_timeout), RELOAD },
	{ "docker", "connect_timeout", CONF_DURATION, 100, 600 * 1000, "10s",
	    C(docker_connect_timeout), RELOAD },
	{ "docker", "tls_ca", CONF_STRING, 1, PATH_MAX, NULL, C(docker_tls_ca),
	    RELOAD },
	{ "docker", "tls_cert", CONF_STRING, 1, PATH_MAX, NULL,
	    C(docker_tls_cert), RELOAD },
	{ "docker", "tls_key", CONF_STRING, 1, PATH_MAX, NULL,
	    C(docker_tls_key), RELOAD },
	{ "docker", "plain_tcp", CONF_BOOL, 0, 1, "false", C(docker_plain_tcp),
	    RELOAD },

	{ "container", "uids", CONF_STRING, 3, 64, "524288-525567", C(uids),
	    RELOAD },
	{ "container", "hostname", CONF_STRING, 1, 63, "runbox", C(hostname),
	    RELOAD },
	{ "container", "network_disabled", CONF_BOOL, 0, 1, "true",
	    C(network_disabled), RELOAD },
	{ "container", "readonly_rootfs", CONF_BOOL, 0, 1, "true",
	    C(readonly_rootfs), RELOAD },
	{ "container", "cap_drop", CONF_STRING, 1, 1024, "ALL", C(cap_drop),
	    RELOAD },
	{ "container", "runtime", CONF_STRING, 1, 64, "runc", C(runtime),
	    RELOAD },
	{ "container", "work_dir", CONF_STRING, 2, 255, "/home/runbox",
	    C(work_dir), RELOAD },
	{ "container", "work_dir_options", CONF_STRING, 1, 255,
	    "rw,exec,nosuid,nodev,size=131072k", C(work_dir_options), RELOAD },
	{ "container", "tmp_dir", CONF_STRING, 2, 255, "/tmp", C(tmp_dir),
	    RELOAD },
	{ "container", "tmp_dir_options", CONF_STRING, 1, 255,
	    "rw,noexec,nosuid,nodev,size=65536k,mode=1777", C(tmp_dir_options),
	    RELOAD },
	{ "container", "log_max_size", CONF_SIZE, 64 * KIB, GIB, "1M",
	    C(log_max_size), RELOAD },
	{ "container", "keep_container", CONF_BOOL, 0, 1, "false",
	    C(keep_container), RELOAD },

	{ "limits", "execution_time", CONF_DURATION, 100, 3600 * 1000, "15s",
	    L(execution_time), RELOAD },
	{ "limits", "output_size", CONF_SIZE, 4 * KIB, 64 * MIB, "100K",
	    L(output_size), RELOAD },
	{ "limits", "memory", CONF_SIZE, 6 * MIB, 64 * GIB, "512M", L(memory),
	    RELOAD },
	{ "limits", "cpus", CONF_CPUS, 10000000LL, 64000000000LL, "1", L(cpus),
	    RELOAD },
	{ "limits", "pids", CONF_INT, 8, 32768, "128", L(pids), RELOAD },
	{ "limits", "nofile_soft", CONF_INT, 16, 1048576, "128", L(nofile_soft),
	    RELOAD },
	{ "limits", "nofile_hard", CONF_INT, 16, 1048576, "128", L(nofile_hard),
	    RELOAD },
	{ "limits", "nproc_soft", CONF_INT, 0, 1048576, "0", L(nproc_soft),
	    RELOAD },
	{ "limits", "nproc_hard", CONF_INT, 0, 1048576, "0", L(nproc_hard),
	    RELOAD },
	{ "limits", "msgqueue", CONF_SIZE, 0, GIB, "800K", L(msgqueue),
	    RELOAD },
	{ "limits", "sigpending", CONF_INT, 0, 1048576, "1024", L(sigpending),
	    RELOAD },
	/* 0: execution_time, set by conf_check(). */
	{ "limits", "run_deadline", CONF_DURATION, 0, 3600 * 1000, "0",
	    L(run_deadline), RELOAD },
	{ "limits", "tests_max", CONF_INT, 0, TESTS_MAX, "32", L(tests_max),
	    RELOAD },
	{ "limits", "tests_stdin_size", CONF_SIZE, 0, 64 * MIB, "1M",
	    L(tests_stdin_size), RELOAD },

	/* An image section takes these and every key of [limits]. */
	{ "image", "name", CONF_STRING, 1, 255, NULL, I(name), RELOAD },
	{ "image", "language", CONF_STRING, 1, 255, NULL, I(language), RELOAD },
	{ "image", "warm", CONF_INT, 0, 64, NULL, I(warm), RELOAD },
	/* NULL until the section is read: then [container]'s. */
	{ "image", "runtime", CONF_STRING, 1, 64, NULL, I(runtime), RELOAD },
	/* Split into im->aliases once the section is read. */
	{ "image", "aliases", CONF_STRING, 1, 65536, NULL, I(alias_list),
	    RELOAD },
};

/* Former names of keys, still read as the key they became, with a warning. */
static const struct conf_alias {
	const char *section;
	const char *old;
	const char *name;
} conf_aliases[] = {
	/* It only ever bounded connecting, never a write. */
	{ "docker", "write_timeout", "connect_timeout" },
};

/* Keys that no longer mean anything: read, ignored, with a warning. */
static const struct conf_retired {
	const char *section;
	const char *name;
	const char *why;
} conf_retired[] = {
	{ "container", "user", "every run has a uid of its own, from uids" },
};

/* Limits one of which may not exceed the other, in [limits] and images. */
static const struct conf_pair {
	const char *low;
	const char *high;
	size_t low_offset;
	size_t high_offset;
} conf_pairs[] = {
#define PAIR(low, high) { #low, #high, offsetof(struct limits, low), \
	offsetof(struct limits, high) }
	PAIR(nofile_soft, nofile_hard),
	PAIR(nproc_soft, nproc_hard),
	PAIR(execution_time, run_deadline),
#undef PAIR
};

static char conf_ini_error[512];

/* iniparser reports syntax errors through this; keep the first one. */
static int
conf_ini_errback(const char *fmt, ...)
{
	va_list ap;

	if (conf_ini_error[0] != '\0')
		return 0;
	va_start(ap, fmt);
	vsnprintf(conf_ini_error, sizeof(conf_ini_error), fmt, ap);
	va_end(ap);
	conf_ini_error[strcspn(conf_ini_error, "\n")] = '\0';
	return 0;
}

/*
 * The digits at *sp, through util_parse_number; *sp moves past them.  More
 * digits than fit the buffer are past LLONG_MAX (leading zeros aside).
 */
static int
conf_parse_digits(const char **sp, long long *out)
{
	char digits[24];
	size_t n = strspn(*sp, "0123456789");

	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, *sp, n);
	digits[n] = '\0';
	if (util_parse_number(digits, 0, LLONG_MAX, out) == -1)
		return -1;
	*sp += n;
	return 0;
}

static int
conf_scale(long long v, long long unit, long long *out)
{
	if (v > LLONG_MAX / unit)
		return -1;
	*out = v * unit;
	return 0;
}

/* "65536", "100K", "512M", "1G" (binary units, optional "B") to bytes. */
int
conf_parse_size(const char *s, long long *out)
{
	long long v, unit = 1;

	if (conf_parse_digits(&s, &v) == -1)
		return -1;
	switch (toupper((unsigned char)*s)) {
	case 'K': unit = KIB; s++; break;
	case 'M': unit = MIB; s++; break;
	case 'G': unit = GIB; s++; break;
	}
	if (toupper((unsigned char)*s) == 'B')
		s++;
	if (*s != '\0')
		return -1;
	return conf_scale(v, unit, out);
}

/* "15s", "500ms", "2m", "1h"; a bare number is seconds.  Result in ms. */
int
conf_parse_duration(const char *s, long long *out_ms)
{
	long long v, unit;

	if (conf_parse_digits(&s, &v) == -1)
		return -1;
	if (*s == '\0' || strcmp(s, "s") == 0)
		unit = 1000;
	else if (strcmp(s, "ms") == 0)
		unit = 1;
	else if (strcmp(s, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(s, "h") == 0)
		unit = 3600 * 1000;
	else
		return -1;
	return conf_scale(v, unit, out_ms);
}

/* "1", "0.5", "2.25" CPUs to Docker's NanoCpus. */
static int
conf_parse_cpus(const char *s, long long *out)
{
	long long whole, frac = 0, scale = 1000000000LL;

	if (conf_parse_digits(&s, &whole) == -1)
		return -1;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++) {
			if (scale == 1)
				return -1;
			scale /= 10;
			frac += (*s - '0') * scale;
		}
	}
	if (*s != '\0' || conf_scale(whole, 1000000000LL, out) == -1)
		return -1;
	*out += frac;
	return 0;
}

static int
conf_parse_bool(const char *s, long long *out)
{
	static const char *yes[] = { "true", "yes", "on", "1" };
	static const char *no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
conf_parse_mode(const char *s, long long *out)
{
	char *end;

	if (*s < '0' || *s > '7')
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 8);
	return errno || *end != '\0' ? -1 : 0;
}

static const char *
conf_type_hint(enum conf_type type)
{
	switch (type) {
	case CONF_INT: return "expected a whole number";
	case CONF_SIZE: return "expected a size such as 65536, 100K, 512M or 1G";
	case CONF_DURATION: return "expected a duration such as 500ms, 15s or 2m";
	case CONF_BOOL: return "expected true or false";
	case CONF_CPUS: return "expected a number of CPUs such as 1 or 0.5";
	case CONF_MODE: return "expected an octal mode such as 0660";
	case CONF_STRING: break;
	}
	return "invalid value";
}

/* The field of k in c, or in im (NULL: [limits]) for an image's key. */
static void *
conf_place_of(const struct conf_key *k, struct conf *c, struct image *im)
{
	switch (k->place) {
	case IN_CONF: return (char *)c + k->offset;
	case IN_LIMITS:
		return (char *)(im ? &im->limits : &c->limits) + k->offset;
	case IN_IMAGE: return (char *)im + k->offset;
	}
	return NULL;
}

/* Parse one value into its place; on error write the reason to why. */
static int
conf_set(const struct conf_key *k, const char *value, struct conf *c,
    struct image *im, char *why, size_t whylen)
{
	void *place = conf_place_of(k, c, im);
	long long v = 0;
	size_t len = strlen(value);
	int rc = 0;
	char **sp;

	if (k->type == CONF_STRING) {
		if (len < (size_t)k->min || len > (size_t)k->max) {
			snprintf(why, whylen, "length must be %lld to %lld",
			    k->min, k->max);
			return -1;
		}
		sp = place;
		free(*sp);
		if ((*sp = strdup(value)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		return 0;
	}
	switch (k->type) {
	case CONF_INT: rc = util_parse_number(value, 0, LLONG_MAX, &v); break;
	case CONF_SIZE: rc = conf_parse_size(value, &v); break;
	case CONF_DURATION: rc = conf_parse_duration(value, &v); break;
	case CONF_BOOL: rc = conf_parse_bool(value, &v); break;
	case CONF_CPUS: rc = conf_parse_cpus(value, &v); break;
	case CONF_MODE: rc = conf_parse_mode(value, &v); break;
	case CONF_STRING: break;
	}
	if (rc == -1) {
		snprintf(why, whylen, "'%s': %s", value,
		    conf_type_hint(k->type));
		return -1;
	}
	if (v < k->min || v > k->max) {
		snprintf(why, whylen, "'%s' is out of range", value);
		return -1;
	}
	if (k->type == CONF_BOOL)
		*(int *)place = (int)v;
	else
		*(long long *)place = v;
	return 0;
}

#define IMAGE_PREFIX "image."

static int
conf_is_image(const char *section)
{
	return strncmp(section, IMAGE_PREFIX, strlen(IMAGE_PREFIX)) == 0;
}

/*
 * Whether keys of the table's section ts go in the file's section: an
 * image section takes the image keys and those of [limits].
 */
static int
conf_in_section(const char *ts, const char *section)
{
	if (conf_is_image(section))
		return strcmp(ts, "image") == 0 || strcmp(ts, "limits") == 0;
	return strcmp(ts, section) == 0 && strcmp(ts, "image") != 0;
}

/*
 * The row of a key of section, named by name or by a former name of it
 * (then *former is set).
 */
static const struct conf_key *
conf_find_key(const char *section, const char *name, int *former)
{
	size_t i;

	*former = 0;
	for (i = 0; i < sizeof(conf_aliases) / sizeof(conf_aliases[0]); i++)
		if (strcmp(conf_aliases[i].old, name) == 0 &&
		    conf_in_section(conf_aliases[i].section, section)) {
			*former = 1;
			name = conf_aliases[i].name;
		}
	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (strcmp(conf_keys[i].name, name) == 0 &&
		    conf_in_section(conf_keys[i].section, section))
			return &conf_keys[i];
	return NULL;
}

static int
conf_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
conf_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static struct image *
conf_add_image(struct conf *c, const char *key)
{
	struct image *images, *im;

	images = realloc(c->images, (c->nimages + 1) * sizeof(*images));
	if (images == NULL)
		return NULL;
	c->images = images;
	im = &c->images[c->nimages];
	memset(im, 0, sizeof(*im));
	if ((im->key = strdup(key)) == NULL)
		return NULL;
	c->nimages++;
	return im;
}

static int
conf_image_key_ok(const char *key)
{
	if (*key == '\0')
		return 0;
	for (; *key; key++)
		if (!islower((unsigned char)*key) &&
		    !isdigit((unsigned char)*key) && *key != '-' &&
		    *key != '_' && *key != '.')
			return 0;
	return 1;
}

/*
 * Read entry i of d, a key of section, into c (into im for an image
 * section).  A former name is read as the key it became, with a warning,
 * unless the file sets that key too.
 */
static int
conf_load_key(struct conf *c, dictionary *d, ssize_t i, const char *section,
    struct image *im, char *err, size_t errlen)
{
	const char *name = d->key[i] + strlen(section) + 1;
	const char *value = d->val[i] ? d->val[i] : "";
	const struct conf_key *k;
	char why[256], entry[256];
	size_t j;
	int former;

	for (j = 0; j < sizeof(conf_retired) / sizeof(conf_retired[0]); j++)
		if (strcmp(conf_retired[j].section, section) == 0 &&
		    strcmp(conf_retired[j].name, name) == 0) {
			log_warnx("%s: [%s] %s is ignored: %s", c->path,
			    section, name, conf_retired[j].why);
			return 0;
		}
	if ((k = conf_find_key(section, name, &former)) == NULL)
		return conf_fail(err, errlen, "%s: [%s] %s: unknown key%s",
		    c->path, section, name, conf_is_image(section) ?
		    " (an image section takes name, aliases, language, warm, "
		    "runtime and the keys of [limits])" : "");
	if (former) {
		snprintf(entry, sizeof(entry), "%s:%s", section, k->name);
		if (iniparser_find_entry(d, entry))
			return conf_fail(err, errlen, "%s: [%s] %s: set either "
			    "%s or %s, not both", c->path, section, name,
			    k->name, name);
		log_warnx("%s: [%s] %s is deprecated: use %s", c->path,
		    section, name, k->name);
	}
	if (conf_set(k, value, c, im, why, sizeof(why)) == -1)
		return conf_fail(err, errlen, "%s: [%s] %s: %s", c->path,
		    section, name, why);
	return 0;
}

#define ALIAS_MAX 255 /* bytes, Docker's bound on an image name */
#define ALIAS_SEP " \t,"  /* between aliases */

/*
 * The aliases key, a list separated by spaces and/or commas, into
 * im->aliases.
 */
static int
conf_split_aliases(struct conf *c, const char *section, struct image *im,
    char *err, size_t errlen)
{
	const char *p = im->alias_list;
	char **v;
	size_t n;

	for (p += strspn(p, ALIAS_SEP); *p != '\0'; p += n + strspn(p + n, ALIAS_SEP)) {
		n = strcspn(p, ALIAS_SEP);
		if (n > ALIAS_MAX)
			return conf_fail(err, errlen, "%s: [%s] aliases: "
			    "'%.40s...': longer than %d bytes", c->path,
			    section, p, ALIAS_MAX);
		v = realloc(im->aliases, (im->naliases + 1) * sizeof(*v));
		if (v == NULL)
			return conf_fail(err, errlen, "%s: out of memory",
			    c->path);
		im->aliases = v;
		if ((v[im->naliases] = strndup(p, n)) == NULL)
			return conf_fail(err, errlen, "%s: out of memory",
			    c->path);
		im->naliases++;
	}
	if (im->naliases == 0)
		return conf_fail(err, errlen, "%s: [%s] aliases: no name",
		    c->path, section);
	return 0;
}

/*
 * Image sections come second so that they start from the final [limits],
 * wherever [limits] stands in the file.
 */
static int
conf_load_image(struct conf *c, dictionary *d, const char *section,
    char *err, size_t errlen)
{
	const char *ikey = section + strlen(IMAGE_PREFIX);
	struct image *im;
	ssize_t i;
	size_t slen = strlen(section);

	if (!conf_image_key_ok(ikey))
		return conf_fail(err, errlen, "%s: [%s]: image section names "
		    "are image.NAME with NAME of a-z, 0-9, '-', '_', '.'",
		    c->path, section);
	if ((im = conf_add_image(c, ikey)) == NULL)
		return conf_fail(err, errlen, "%s: out of memory", c->path);
	im->limits = c->limits;
	for (i = 0; i < d->size; i++) {
		if (d->key[i] != NULL &&
		    strncmp(d->key[i], section, slen) == 0 &&
		    d->key[i][slen] == ':' &&
		    conf_load_key(c, d, i, section, im, err, errlen) == -1)
			return -1;
	}
	if (im->name == NULL)
		return conf_fail(err, errlen, "%s: [%s] name: missing",
		    c->path, section);
	if ((im->language == NULL && (im->language = strdup(ikey)) == NULL) ||
	    (im->runtime == NULL && (im->runtime = strdup(c->runtime)) == NULL))
		return conf_fail(err, errlen, "%s: out of memory", c->path);
	if (im->alias_list != NULL)
		return conf_split_aliases(c, section, im, err, errlen);
	return 0;
}

/* A section of the table, or an image section. */
static int
conf_known_section(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (conf_in_section(conf_keys[i].section, s))
			return 1;
	return 0;
}

static int
conf_load_plain(struct conf *c, dictionary *d, char *err, size_t errlen)
{
	char section[128];
	const char *colon;
	ssize_t i;

	for (i = 0; i < d->size; i++) {
		if (d->key[i] == NULL)
			continue;
		if ((colon = strchr(d->key[i], ':')) == NULL) {
			if (!conf_known_section(d->key[i]))
				return conf_fail(err, errlen,
				    "%s: [%s]: unknown section", c->path,
				    d->key[i]);
			continue;
		}
		snprintf(section, sizeof(section), "%.*s",
		    (int)(colon - d->key[i]), d->key[i]);
		if (!conf_is_image(section) &&
		    conf_load_key(c, d, i, section, NULL, err, errlen) == -1)
			return -1;
	}
	for (i = 0; i < d->size; i++)
		if (d->key[i] != NULL && strchr(d->key[i], ':') == NULL &&
		    conf_is_image(d->key[i]) &&
		    conf_load_image(c, d, d->key[i], err, errlen) == -1)
			return -1;
	return 0;
}

static int
conf_set_defaults(struct conf *c)
{
	char why[256];
	size_t i;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (conf_keys[i].def != NULL &&
		    conf_set(&conf_keys[i], conf_keys[i].def, c, NULL, why,
		    sizeof(why)) == -1)
			return -1;
	return 0;
}

/* A file the INI names: a relative path is taken from the INI's directory. */
static void
conf_file_path(const struct conf *c, const char *file, char *path,
    size_t pathlen)
{
	const char *slash = strrchr(c->path, '/');

	if (file[0] != '/' && slash != NULL)
		snprintf(path, pathlen, "%.*s/%s", (int)(slash - c->path),
		    c->path, file);
	else
		snprintf(path, pathlen, "%s", file);
}

/* The token file holds the token alone; a trailing newline is dropped. */
static int
conf_read_token(struct conf *c, char *err, size_t errlen)
{
	char token[4097], path[PATH_MAX + 1];
	struct stat st;
	size_t n;
	FILE *f;

	conf_file_path(c, c->access_token_file, path, sizeof(path));
	if ((f = fopen(path, "r")) == NULL)
		return conf_fail(err, errlen, "%s: [server] access_token_file: "
		    "%s: %s", c->path, path, strerror(errno));
	n = fread(token, 1, sizeof(token) - 1, f);
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH))
		log_warnx("%s: token file %s is readable by everyone", c->path,
		    path);
	fclose(f);
	token[n] = '\0';
	if (memchr(token, '\0', n) != NULL)
		return conf_fail(err, errlen, "%s: [server] access_token_file: "
		    "%s holds a NUL byte", c->path, c->access_token_file);
	token[strcspn(token, "\r\n")] = '\0';
	if (token[0] == '\0')
		return conf_fail(err, errlen, "%s: [server] access_token_file: "
		    "%s holds no token", c->path, c->access_token_file);
	if ((c->access_token = strdup(token)) == NULL)
		return conf_fail(err, errlen, "%s: out of memory", c->path);
	return 0;
}

#define CONF_PEM_MAX (1024 * 1024) /* bytes of one TLS file, at most */

/*
 * Read the PEM file of [docker] key into out, now: what the workers use
 * is what was checked, and a key never needs to be readable by more than
 * runboxd.  A private key readable by everyone is refused.
 */
static int
conf_read_pem(struct conf *c, const char *key, const char *file,
    int private, struct buf *out, char *err, size_t errlen)
{
	char path[PATH_MAX + 1], chunk[8192];
	struct stat st;
	size_t n;
	int rc = 0;
	FILE *f;

	conf_file_path(c, file, path, sizeof(path));
	if ((f = fopen(path, "r")) == NULL)
		return conf_fail(err, errlen, "%s: [docker] %s: %s: %s",
		    c->path, key, path, strerror(errno));
	if (private && fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
		fclose(f);
		return conf_fail(err, errlen, "%s: [docker] %s: %s is readable "
		    "by everyone (chmod o-rwx)", c->path, key, path);
	}
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (out->len + n > CONF_PEM_MAX ||
		    util_buf_append(out, chunk, n) == -1)
			rc = -1;
	if (ferror(f))
		rc = -1;
	fclose(f);
	if (rc == -1)
		return conf_fail(err, errlen, "%s: [docker] %s: %s: unreadable "
		    "or larger than %d bytes", c->path, key, path, CONF_PEM_MAX);
	if (out->len == 0 || strstr(out->data, "-----BEGIN ") == NULL)
		return conf_fail(err, errlen, "%s: [docker] %s: %s: not a PEM "
		    "file", c->path, key, path);
	return 0;
}

/*
 * A tcp:// endpoint is dockerd's whole API, root on its host to whoever
 * reaches it: mutual TLS (all three files), or plain TCP only when the
 * INI says so, with a warning each time it is loaded.
 */
static int
conf_check_tls(struct conf *c, char *err, size_t errlen)
{
	int n = (c->docker_tls_ca != NULL) + (c->docker_tls_cert != NULL) +
	    (c->docker_tls_key != NULL);

	if (strncmp(c->docker_endpoint, "unix://", 7) == 0) {
		if (n > 0 || c->docker_plain_tcp)
			return conf_fail(err, errlen, "%s: [docker] tls_ca, "
			    "tls_cert, tls_key, plain_tcp: only for a tcp:// "
			    "endpoint", c->path);
		return 0;
	}
	if (n == 0 && !c->docker_plain_tcp)
		return conf_fail(err, errlen, "%s: [docker] endpoint: '%s': "
		    "set tls_ca, tls_cert and tls_key (mutual TLS), or "
		    "plain_tcp = true to talk to it without TLS", c->path,
		    c->docker_endpoint);
	if (n == 0) {
		log_warnx("%s: [docker] endpoint %s: plain TCP without TLS "
		    "(plain_tcp = true): whoever reaches it controls that "
		    "dockerd", c->path, c->docker_endpoint);
		return 0;
	}
	if (c->docker_plain_tcp)
		return conf_fail(err, errlen, "%s: [docker] plain_tcp: true, "
		    "yet tls_* keys are set: choose one", c->path);
	if (n != 3)
		return conf_fail(err, errlen, "%s: [docker] tls_ca, tls_cert, "
		    "tls_key: set all three", c->path);
	if (conf_read_pem(c, "tls_ca", c->docker_tls_ca, 0,
	    &c->docker_tls_ca_pem, err, errlen) == -1 ||
	    conf_read_pem(c, "tls_cert", c->docker_tls_cert, 0,
	    &c->docker_tls_cert_pem, err, errlen) == -1 ||
	    conf_read_pem(c, "tls_key", c->docker_tls_key, 1,
	    &c->docker_tls_key_pem, err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * [container] uids, "FIRST-LAST": every live container runs as a uid of its
 * own (run_uid()), so that what the kernel counts per uid (processes,
 * message queues, inotify instances, queued signals) is one run's alone.
 * The range holds RUN_UIDS, never 0.
 */
static int
conf_parse_uids(struct conf *c, char *err, size_t errlen)
{
	const char *s = c->uids;

	if (conf_parse_digits(&s, &c->uid_first) == -1 || *s++ != '-' ||
	    conf_parse_digits(&s, &c->uid_last) == -1 || *s != '\0' ||
	    c->uid_last > 2147483647LL || c->uid_first > c->uid_last)
		return conf_fail(err, errlen, "%s: [container] uids: '%s': "
		    "expected FIRST-LAST (numbers, FIRST at most LAST)",
		    c->path, c->uids);
	if (c->uid_first == 0)
		return conf_fail(err, errlen, "%s: [container] uids: code must "
		    "not run as root in the container", c->path);
	if (c->uid_last - c->uid_first + 1 < RUN_UIDS)
		return conf_fail(err, errlen, "%s: [container] uids: '%s' holds "
		    "%lld uids, fewer than the %d containers that can be live "
		    "at once (worker and warm slots)", c->path, c->uids,
		    c->uid_last - c->uid_first + 1, RUN_UIDS);
	return 0;
}

/* Whether [first, last] overlaps the uids range of c. */
static int
conf_in_uids(const struct conf *c, long long first, long long last)
{
	return first <= c->uid_last && last >= c->uid_first;
}

/*
 * A range of /etc/subuid or /etc/subgid ("NAME:FIRST:COUNT" lines) that
 * overlaps the uids: its owner in who; 1 if there is one.
 */
static int
conf_sub_owner(const struct conf *c, const char *path, char *who,
    size_t wholen)
{
	char line[512], *colon;
	long long first, count;
	const char *s;
	FILE *f;
	int found = 0;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		s = colon + 1;
		if (conf_parse_digits(&s, &first) == -1 || *s++ != ':' ||
		    conf_parse_digits(&s, &count) == -1 || count == 0)
			continue;
		if (conf_in_uids(c, first, first + count - 1)) {
			snprintf(who, wholen, "%.64s (%s)", line, path);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/*
 * No host user or group may own a uid of the range (nor have it
 * delegated, for user namespaces): a run would count against that user's
 * limits and own its files.
 */
static int
conf_check_uids_free(const struct conf *c, char *err, size_t errlen)
{
	char who[300] = "";
	struct passwd *pw;
	struct group *gr;

	setpwent();
	while ((pw = getpwent()) != NULL && who[0] == '\0')
		if (conf_in_uids(c, pw->pw_uid, pw->pw_uid))
			snprintf(who, sizeof(who), "user %s (uid %lu)",
			    pw->pw_name, (unsigned long)pw->pw_uid);
	endpwent();
	setgrent();
	while (who[0] == '\0' && (gr = getgrent()) != NULL)
		if (conf_in_uids(c, gr->gr_gid, gr->gr_gid))
			snprintf(who, sizeof(who), "group %s (gid %lu)",
			    gr->gr_name, (unsigned long)gr->gr_gid);
	endgrent();
	if (who[0] != '\0' ||
	    conf_sub_owner(c, "/etc/subuid", who, sizeof(who)) ||
	    conf_sub_owner(c, "/etc/subgid", who, sizeof(who)))
		return conf_fail(err, errlen, "%s: [container] uids: '%s' "
		    "holds an id of the host's %s", c->path, c->uids, who);
	return 0;
}

/* A runtime name as dockerd's configuration names them. */
static int
conf_check_runtime(const struct conf *c, const char *section,
    const char *runtime, char *err, size_t errlen)
{
	if (strspn(runtime, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(runtime))
		return conf_fail(err, errlen, "%s: [%s] runtime: '%s': "
		    "letters, digits, '_', '.' and '-' only", c->path, section,
		    runtime);
	return 0;
}

/*
 * An unset run_deadline is execution_time: a run with tests or limits
 * then takes no longer than any run, and the kill budget of workers
 * (run_budget()) stays what it was.
 */
static void
conf_default_deadline(struct limits *l)
{
	if (l->run_deadline == 0)
		l->run_deadline = l->execution_time;
}

/* The rules between the keys of one set of limits: [limits] or an image's. */
static int
conf_check_limits(const struct conf *c, const char *section,
    const struct limits *l, char *err, size_t errlen)
{
	const struct conf_pair *p;
	size_t i;

	for (i = 0; i < sizeof(conf_pairs) / sizeof(conf_pairs[0]); i++) {
		p = &conf_pairs[i];
		if (*(const long long *)((const char *)l + p->low_offset) >
		    *(const long long *)((const char *)l + p->high_offset))
			return conf_fail(err, errlen, "%s: [%s] %s: above %s",
			    c->path, section, p->low, p->high);
	}
	/* Docker's log escapes <, > and & as \u00XX: six bytes for each byte
	 * the runner counted as one. */
	if (c->log_max_size < 6 * l->output_size + 64 * KIB)
		return conf_fail(err, errlen, "%s: [container] log_max_size: "
		    "must be at least six times the output_size of [%s], plus "
		    "64K", c->path, section);
	return 0;
}

/*
 * Whether a client naming a means image b: the same name, or one of them
 * with ":latest" and the other without a tag.
 */
static int
conf_same_image(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > lb)
		return conf_same_image(b, a);
	return strncmp(a, b, la) == 0 && (b[la] == '\0' ||
	    strcmp(b + la, ":latest") == 0);
}

/* Whether one of the first n aliases of im is name. */
static int
conf_has_alias(const struct image *im, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (conf_same_image(im->aliases[i], name))
			return 1;
	return 0;
}

/*
 * The image section a client naming name reaches among the first n, by
 * its name or one of its aliases; NULL if none.
 */
static const struct image *
conf_match(const struct conf *c, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (conf_same_image(c->images[i].name, name) ||
		    conf_has_alias(&c->images[i], c->images[i].naliases, name))
			return &c->images[i];
	return NULL;
}

/*
 * Every name a client may send reaches one image section: image i's name
 * against the sections before it, each of its aliases against every
 * name, the aliases of the sections before it and its own before it.
 */
static int
conf_check_names(const struct conf *c, size_t i, char *err, size_t errlen)
{
	const struct image *im = &c->images[i], *other;
	const char *alias;
	size_t j, k;

	if ((other = conf_match(c, i, im->name)) != NULL)
		return conf_fail(err, errlen, "%s: [image.%s] name: '%s' is "
		    "already [image.%s]", c->path, im->key, im->name,
		    other->key);
	for (j = 0; j < im->naliases; j++) {
		alias = im->aliases[j];
		other = conf_match(c, i, alias);
		for (k = i; other == NULL && k < c->nimages; k++)
			if (conf_same_image(c->images[k].name, alias))
				other = &c->images[k];
		if (other == NULL && conf_has_alias(im, j, alias))
			other = im;
		if (other != NULL)
			return conf_fail(err, errlen, "%s: [image.%s] aliases: "
			    "'%s' is already [image.%s]", c->path, im->key,
			    alias, other->key);
	}
	return 0;
}

static int
conf_check(struct conf *c, char *err, size_t errlen)
{
	char host[256], section[128];
	size_t i;
	int port;

	if (conf_parse_uids(c, err, errlen) == -1 ||
	    conf_check_uids_free(c, err, errlen) == -1 ||
	    conf_check_runtime(c, "container", c->runtime, err, errlen) == -1)
		return -1;

	if (c->access_token != NULL && c->access_token_file != NULL)
		return conf_fail(err, errlen, "%s: [server] access_token_file: "
		    "set either access_token or access_token_file, not both",
		    c->path);
	if (c->access_token_file != NULL &&
	    conf_read_token(c, err, errlen) == -1)
		return -1;
	if (c->access_token == NULL)
		return conf_fail(err, errlen, "%s: [server] access_token: "
		    "missing (set access_token or access_token_file)", c->path);
	/* The instance goes into labels and Docker's list filters as it is. */
	if (strspn(c->instance, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(c->instance))
		return conf_fail(err, errlen, "%s: [server] instance: '%s': "
		    "letters, digits, '_', '.' and '-' only", c->path,
		    c->instance);
	if (strcmp(c->log, "stderr") != 0 && strcmp(c->log, "syslog") != 0)
		return conf_fail(err, errlen, "%s: [server] log: '%s': expected "
		    "stderr or syslog", c->path, c->log);
	if (strncmp(c->docker_endpoint, "unix:///", 8) != 0 &&
	    (strncmp(c->docker_endpoint, "tcp://", 6) != 0 ||
	    util_parse_hostport(c->docker_endpoint + 6, DOCKER_TCP_PORT, host,
	    sizeof(host), &port) == -1))
		return conf_fail(err, errlen, "%s: [docker] endpoint: '%s': "
		    "expected unix:///PATH or tcp://HOST:PORT (PORT 1 to "
		    "65535)", c->path, c->docker_endpoint);
	if (conf_check_tls(c, err, errlen) == -1)
		return -1;
	if (c->listen != NULL && c->listen[0] != '/' &&
	    util_parse_hostport(c->listen, 0, host, sizeof(host), &port) == -1)
		return conf_fail(err, errlen, "%s: [server] listen: '%s': "
		    "expected an absolute path or HOST:PORT (PORT 1 to 65535)",
		    c->path, c->listen);
	if (c->work_dir[0] != '/' || c->tmp_dir[0] != '/' ||
	    strcmp(c->work_dir, c->tmp_dir) == 0)
		return conf_fail(err, errlen, "%s: [container] work_dir, "
		    "tmp_dir: two different absolute paths", c->path);
	if (c->nimages == 0)
		return conf_fail(err, errlen, "%s: no [image.NAME] section: "
		    "at least one image must be allowed", c->path);
	if (c->pid_file != NULL && c->pid_file[0] != '/')
		return conf_fail(err, errlen, "%s: [server] pid_file: an "
		    "absolute path", c->path);
	if (c->run_group != NULL && c->run_user == NULL)
		return conf_fail(err, errlen, "%s: [server] group: needs "
		    "[server] user", c->path);
	conf_default_deadline(&c->limits);
	if (conf_check_limits(c, "limits", &c->limits, err, errlen) == -1)
		return -1;
	for (i = 0; i < c->nimages; i++) {
		snprintf(section, sizeof(section), IMAGE_PREFIX "%s",
		    c->images[i].key);
		conf_default_deadline(&c->images[i].limits);
		if (conf_check_limits(c, section, &c->images[i].limits, err,
		    errlen) == -1 || conf_check_runtime(c, section,
		    c->images[i].runtime, err, errlen) == -1)
			return -1;
		/* A run with limits or tests may take its whole deadline. */
		if (c->images[i].limits.run_deadline > c->max_run_time)
			c->max_run_time = c->images[i].limits.run_deadline;
		if (conf_check_names(c, i, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * Load and check FILE into c.  On error c is freed and err holds
 * "FILE: [section] key: reason".
 */
int
conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	dictionary *d = NULL;
	FILE *f;

	memset(c, 0, sizeof(*c));
	if ((c->path = strdup(path)) == NULL || conf_set_defaults(c) == -1) {
		conf_fail(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	/* iniparser says nothing useful about a missing file: check first. */
	if ((f = fopen(path, "r")) == NULL) {
		conf_fail(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	conf_ini_error[0] = '\0';
	iniparser_set_error_callback(conf_ini_errback);
	d = iniparser_load(path);
	if (d == NULL || conf_ini_error[0] != '\0') {
		conf_fail(err, errlen, "%s: %s", path, conf_ini_error[0] ?
		    conf_ini_error : "cannot parse");
		goto fail;
	}
	if (conf_load_plain(c, d, err, errlen) == -1 ||
	    conf_check(c, err, errlen) == -1)
		goto fail;
	iniparser_freedict(d);
	return 0;
fail:
	if (d != NULL)
		iniparser_freedict(d);
	conf_free(c);
	return -1;
}

void
conf_free(struct conf *c)
{
	const struct conf_key *k;
	size_t i, j;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		k = &conf_keys[i];
		if (k->type != CONF_STRING)
			continue;
		if (k->place == IN_CONF)
			free(*(char **)conf_place_of(k, c, NULL));
		for (j = 0; k->place == IN_IMAGE && j < c->nimages; j++)
			free(*(char **)conf_place_of(k, c, &c->images[j]));
	}
	for (i = 0; i < c->nimages; i++) {
		for (j = 0; j < c->images[i].naliases; j++)
			free(c->images[i].aliases[j]);
		free(c->images[i].aliases);
		free(c->images[i].key);
	}
	free(c->images);
	util_buf_free(&c->docker_tls_ca_pem);
	util_buf_free(&c->docker_tls_cert_pem);
	if (c->docker_tls_key_pem.data != NULL)
		explicit_bzero(c->docker_tls_key_pem.data,
		    c->docker_tls_key_pem.len);
	util_buf_free(&c->docker_tls_key_pem);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

/* Whether the values of k at a and b differ. */
static int
conf_differs(const struct conf_key *k, const void *a, const void *b)
{
	const char *sa, *sb;

	switch (k->type) {
	case CONF_STRING:
		sa = *(char *const *)a;
		sb = *(char *const *)b;
		return sa == NULL || sb == NULL ? sa != sb : strcmp(sa, sb) != 0;
	case CONF_BOOL:
		return *(const int *)a != *(const int *)b;
	default:
		return *(const long long *)a != *(const long long *)b;
	}
}

/* The value of k at v as a log line shows it. */
static const char *
conf_format(const struct conf_key *k, const void *v, char *buf, size_t len)
{
	const char *str;

	switch (k->type) {
	case CONF_STRING:
		str = *(char *const *)v;
		if (str == NULL)
			return "unset";
		snprintf(buf, len, "'%s'", str);
		break;
	case CONF_BOOL:
		return *(const int *)v ? "true" : "false";
	case CONF_MODE:
		snprintf(buf, len, "%04llo",
		    (unsigned long long)*(const long long *)v);
		break;
	default:
		snprintf(buf, len, "%lld", *(const long long *)v);
		break;
	}
	return buf;
}

/* Copy the value of k at from to to; -1 when out of memory. */
static int
conf_copy(const struct conf_key *k, void *to, const void *from)
{
	char *str = NULL;

	switch (k->type) {
	case CONF_STRING:
		if (*(char *const *)from != NULL &&
		    (str = strdup(*(char *const *)from)) == NULL)
			return -1;
		free(*(char **)to);
		*(char **)to = str;
		break;
	case CONF_BOOL:
		*(int *)to = *(const int *)from;
		break;
	default:
		*(long long *)to = *(const long long *)from;
		break;
	}
	return 0;
}

/*
 * A reload loaded next while running serves: every RESTART key whose
 * value the file changed is logged by name and keeps its running value,
 * so that nothing is silently ignored and the reaper keeps finding the
 * containers of every generation.  -1 when out of memory.
 */
int
conf_keep_restart_only(struct conf *next, const struct conf *running)
{
	const struct conf_key *k;
	const char *from, *to;
	const void *was;
	char a[256], b[256];
	size_t i;
	void *now;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		k = &conf_keys[i];
		if (k->when != RESTART || k->place != IN_CONF)
			continue;
		was = (const char *)running + k->offset;
		now = (char *)next + k->offset;
		if (!conf_differs(k, was, now))
			continue;
		from = conf_format(k, was, a, sizeof(a));
		to = conf_format(k, now, b, sizeof(b));
		log_warnx("reload: [%s] %s changed from %s to %s; it takes "
		    "effect at the next start, keeping %s", k->section,
		    k->name, from, to, from);
		if (conf_copy(k, now, was) == -1)
			return -1;
	}
	return 0;
}

/*
 * The allowed image a client names, by its name or an alias, with or
 * without ":latest".
 */
const struct image *
conf_find_image(const struct conf *c, const char *name)
{
	return conf_match(c, c->nimages, name);
}
