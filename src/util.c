/*
 * Small helpers shared by every module: a growable byte buffer, clocks,
 * random identifiers, a constant-time token comparison, and the strict
 * parsers for numbers (and HOST:PORT) that come from outside.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "runbox.h"

/* Append len bytes and keep the buffer NUL-terminated for string use. */
int
util_buf_append(struct buf *b, const void *data, size_t len)
{
	char *p;
	size_t cap;

	if (len > (size_t)-1 / 2 - b->len - 1) {
		errno = ENOMEM;
		return -1;
	}
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/* Empty the buffer but keep its memory for the next request. */
void
util_buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
util_buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Milliseconds on the monotonic clock: deadlines survive clock changes. */
long long
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fill out with 2 * nbytes hex digits from the kernel's random source. */
int
util_random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t i;

	if (nbytes > sizeof(raw))
		return -1;
	if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
		return -1;
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

/*
 * Compare a client's token with the configured one in time that depends
 * only on the length of what the client sent, not on where they differ.
 */
int
util_token_equal(const char *given, const char *expected)
{
	size_t glen = strlen(given), elen = strlen(expected), i;
	unsigned char diff = glen != elen;

	for (i = 0; i < glen; i++)
		diff |= (unsigned char)given[i] ^
		    (unsigned char)expected[elen ? i % elen : 0];
	return diff == 0 && elen > 0;
}

/*
 * A decimal number from outside (an INI value, a port, an environment
 * variable): digits only, no sign, space, prefix or suffix, within min and
 * max.  On error errno is EINVAL (not a number) or ERANGE (out of range).
 */
int
util_parse_number(const char *s, long long min, long long max,
    long long *out)
{
	long long v = 0;

	if (s == NULL || *s == '\0' || s[strspn(s, "0123456789")] != '\0') {
		errno = EINVAL;
		return -1;
	}
	for (; *s != '\0'; s++) {
		if (v > (LLONG_MAX - (*s - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + (*s - '0');
	}
	if (v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * Split "HOST:PORT" or "[V6ADDR]:PORT" into host (without the brackets)
 * and a port of 1 to 65535.  With default_port above 0 the port may be
 * left out.  An unbracketed host is split at its last colon, so "::1:9000"
 * is "::1" and 9000.  On error errno is EINVAL or ERANGE.
 */
int
util_parse_hostport(const char *spec, int default_port, char *host,
    size_t hostlen, int *port)
{
	const char *start = spec, *end;
	long long v = default_port;

	if (*spec == '[') {
		start = spec + 1;
		if ((end = strchr(start, ']')) == NULL ||
		    (end[1] != '\0' && end[1] != ':'))
			end = start;
		spec = end + 1;
	} else if ((end = strrchr(spec, ':')) != NULL)
		spec = end;
	else
		spec = end = spec + strlen(spec);
	if (end == start || (size_t)(end - start) >= hostlen ||
	    (*spec != ':' && default_port <= 0)) {
		errno = EINVAL;
		return -1;
	}
	if (*spec == ':' && util_parse_number(spec + 1, 1, 65535, &v) == -1)
		return -1;
	snprintf(host, hostlen, "%.*s", (int)(end - start), start);
	*port = (int)v;
	return 0;
}
