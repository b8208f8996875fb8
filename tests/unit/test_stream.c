/* The demultiplexer for Docker's 8-byte-header stdout/stderr frames. */
#include "config.h"

#include <string.h>

#include "runbox.h"
#include "tap.h"

struct collected {
	struct buf out;
	struct buf err;
	size_t calls;
};

static int
collect(void *arg, int fd, const char *data, size_t len)
{
	struct collected *c = arg;

	c->calls++;
	return util_buf_append(fd == 2 ? &c->err : &c->out, data, len);
}

static int
refuse(void *arg, int fd, const char *data, size_t len)
{
	(void)arg, (void)fd, (void)data, (void)len;
	return -1;
}

/* Two frames: "hello\n" on stdout, "oops" on stderr. */
static const char frames[] =
    "\x01\x00\x00\x00\x00\x00\x00\x06hello\n"
    "\x02\x00\x00\x00\x00\x00\x00\x04oops";
#define FRAMES_LEN (sizeof(frames) - 1)

static void
feed_in_chunks(size_t chunk, struct collected *c, int *rc)
{
	struct stream_demux d;
	size_t off, n;

	memset(c, 0, sizeof(*c));
	stream_init(&d);
	*rc = 0;
	for (off = 0; off < FRAMES_LEN && *rc == 0; off += n) {
		n = FRAMES_LEN - off < chunk ? FRAMES_LEN - off : chunk;
		*rc = stream_feed(&d, frames + off, n, collect, c);
	}
	if (*rc == 0)
		*rc = stream_finish(&d);
}

int
main(void)
{
	struct stream_demux d;
	struct collected c;
	size_t chunk;
	int rc, all = 1;
	static const char big[] = "\x01\x00\x00\x00\x00\x01\x00\x00";
	static const char bad[] = "\x07\x00\x00\x00\x00\x00\x00\x01x";
	static const char empty[] = "\x01\x00\x00\x00\x00\x00\x00\x00";

	feed_in_chunks(FRAMES_LEN, &c, &rc);
	ok(rc == 0 && c.out.len == 6 && memcmp(c.out.data, "hello\n", 6) == 0,
	    "stdout frame goes to stdout");
	ok(c.err.len == 4 && memcmp(c.err.data, "oops", 4) == 0,
	    "stderr frame goes to stderr");
	util_buf_free(&c.out);
	util_buf_free(&c.err);

	for (chunk = 1; chunk < FRAMES_LEN; chunk++) {
		feed_in_chunks(chunk, &c, &rc);
		all &= rc == 0 && c.out.len == 6 && c.err.len == 4 &&
		    memcmp(c.out.data, "hello\n", 6) == 0;
		util_buf_free(&c.out);
		util_buf_free(&c.err);
	}
	ok(all, "any chunking gives the same result (1 byte and up)");

	stream_init(&d);
	memset(&c, 0, sizeof(c));
	ok(stream_feed(&d, frames, 5, collect, &c) == 0 &&
	    stream_finish(&d) == -1, "a stream cut inside a header is an error");
	stream_init(&d);
	ok(stream_feed(&d, big, 8, collect, &c) == 0 &&
	    stream_finish(&d) == -1, "a stream cut inside a payload is an error");
	stream_init(&d);
	ok(stream_feed(&d, bad, 9, collect, &c) == -1,
	    "an unknown stream number is an error");
	stream_init(&d);
	ok(stream_feed(&d, empty, 8, collect, &c) == 0 &&
	    stream_finish(&d) == 0 && c.calls == 0, "an empty frame is fine");
	stream_init(&d);
	ok(stream_feed(&d, frames, FRAMES_LEN, refuse, NULL) == -1,
	    "a refusing sink stops the demultiplexer");
	return tap_done();
}
