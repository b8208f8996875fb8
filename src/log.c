/*
 * Logging to stderr or syslog, chosen by [server] log.  Every process logs
 * whole lines so that lines from several workers never interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "runbox.h"

static int log_syslog;

/* Select the target: "stderr" or "syslog". */
int
log_init(const char *target, const char *ident)
{
	if (target == NULL || strcmp(target, "stderr") == 0) {
		log_syslog = 0;
		return 0;
	}
	if (strcmp(target, "syslog") == 0) {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_syslog = 1;
		return 0;
	}
	return -1;
}

/*
 * s as one word of a log line, into buf: a space, a backslash, a control
 * character and every byte outside ASCII become \xHH, so that what a client
 * sent can neither end the line nor pose as another field.  Cut to what
 * fits, never inside an escape.  Returns buf.
 */
const char *
log_escape(char *buf, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t n = 0;

	if (size == 0)
		return buf;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '\\') {
			if (n + 1 >= size)
				break;
			buf[n++] = (char)*p;
			continue;
		}
		if (n + 4 >= size)
			break;
		buf[n++] = '\\';
		buf[n++] = 'x';
		buf[n++] = hex[*p >> 4];
		buf[n++] = hex[*p & 0xf];
	}
	buf[n] = '\0';
	return buf;
}

static void
log_vwrite(int priority, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048], stamp[32];
	struct tm tm;
	time_t now;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_syslog) {
		syslog(priority, "%s%s", msg, suffix);
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	dprintf(STDERR_FILENO, "%s runboxd[%ld]: %s%s\n", stamp, (long)getpid(),
	    msg, suffix);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, "");
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, "");
	va_end(ap);
}

/* Like log_warnx, with ": strerror(errno)" appended. */
void
log_warn(const char *fmt, ...)
{
	char suffix[256];
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(errno));
	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, suffix);
	va_end(ap);
}
