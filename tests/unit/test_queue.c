/* queue_parse(): which requests the queue answers itself, from the
 * FastCGI records it peeks at. */
#include "config.h"

#include <string.h>

#include "runbox.h"
#include "tap.h"

struct rec {
	unsigned char b[QUEUE_PEEK_MAX];
	size_t n;
};

static void
rec_add(struct rec *r, int type, const void *data, size_t len, int pad)
{
	unsigned char h[8] = { 1, (unsigned char)type, 0, 1,
	    (unsigned char)(len >> 8), (unsigned char)len,
	    (unsigned char)pad, 0 };

	memcpy(r->b + r->n, h, 8);
	memcpy(r->b + r->n + 8, data, len);
	memset(r->b + r->n + 8 + len, 0, (size_t)pad);
	r->n += 8 + len + (size_t)pad;
}

/* One name-value pair, with 1-byte lengths, or a 4-byte value length. */
static size_t
nv(unsigned char *out, const char *name, const char *value, int long_len)
{
	size_t nl = strlen(name), vl = strlen(value), at = 0;

	out[at++] = (unsigned char)nl;
	if (long_len) {
		out[at++] = 0x80;
		out[at++] = 0;
		out[at++] = (unsigned char)(vl >> 8);
		out[at++] = (unsigned char)vl;
	} else {
		out[at++] = (unsigned char)vl;
	}
	memcpy(out + at, name, nl);
	memcpy(out + at + nl, value, vl);
	return at + nl + vl;
}

/* BEGIN_REQUEST, PARAMS with method and uri (split over two records when
 * split), the empty PARAMS, and a STDIN record. */
static void
request(struct rec *r, const char *method, const char *uri, int split)
{
	unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 }, p[2048];
	size_t n = 0;

	r->n = 0;
	rec_add(r, 1, begin, sizeof(begin), 0);
	n += nv(p + n, "REQUEST_METHOD", method, 0);
	n += nv(p + n, "DOCUMENT_URI", uri, 1);
	if (split) {
		rec_add(r, 4, p, 5, 3);
		rec_add(r, 4, p + 5, n - 5, 0);
	} else {
		rec_add(r, 4, p, n, 0);
	}
	rec_add(r, 4, "", 0, 0);
	rec_add(r, 5, "{}", 2, 6);
}

static const struct {
	const char *method, *uri;
	int split;
	enum queue_peek want;
	const char *what;
} routes[] = {
	{ "GET", "/status", 0, PEEK_HERE, "GET /status is answered by the queue" },
	{ "GET", "/health?x=1", 1, PEEK_HERE,
	    "GET /health with a query, PARAMS split mid-pair and padded" },
	{ "GET", "/", 0, PEEK_HERE, "GET /" },
	{ "POST", "/run", 0, PEEK_WORKER, "POST /run needs a worker" },
	{ "GET", "/version", 0, PEEK_WORKER,
	    "GET /version (Docker) needs a worker" },
	{ "POST", "/status", 0, PEEK_WORKER,
	    "a wrong method goes to a worker, which answers 405" },
};

int
main(void)
{
	struct rec r;
	size_t i, cut;
	int more = 1;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		request(&r, routes[i].method, routes[i].uri, routes[i].split);
		ok(queue_parse(r.b, r.n, sizeof(r.b)) == routes[i].want, "%s",
		    routes[i].what);
	}
	request(&r, "GET", "/status", 0);
	for (cut = 0; cut < r.n - 18; cut++)
		if (queue_parse(r.b, cut, sizeof(r.b)) != PEEK_MORE)
			more = 0;
	ok(more, "any cut before the empty PARAMS record waits for more");
	ok(queue_parse(r.b, 20, 20) == PEEK_WORKER,
	    "a peek buffer filled before PARAMS ended goes to a worker");
	r.b[0] = 2;
	ok(queue_parse(r.b, r.n, sizeof(r.b)) == PEEK_WORKER,
	    "another FastCGI version goes to a worker");
	request(&r, "GET", "/status", 0);
	r.b[16 + 8 + 1] = 0x7f; /* REQUEST_METHOD's value length */
	ok(queue_parse(r.b, r.n, sizeof(r.b)) == PEEK_WORKER,
	    "a pair longer than its record goes to a worker");
	request(&r, "GET", "/status", 0);
	for (i = 0; i < r.n; i++)
		r.b[i] ^= 0x80;
	ok(queue_parse(r.b, r.n, sizeof(r.b)) == PEEK_WORKER,
	    "garbage goes to a worker");
	return tap_done();
}
