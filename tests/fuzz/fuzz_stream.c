/*
 * Docker's multiplexed stream: stream_feed() and stream_finish(), fed the
 * same bytes whole and in the chunks the input chooses, against a plain
 * reading of the frames.  The payload of each stream, and whether the
 * stream is whole, cut or malformed, must not depend on the chunking.
 *
 * Input: one control byte (low 4 bits: how many chunk sizes follow; high
 * 4 bits: the out() call that refuses, 0 for none), the chunk sizes (a
 * byte each, size + 1, used in turn), then the stream.
 */
#include "config.h"

#include <string.h>

#include "runbox.h"
#include "fuzz.h"

enum fuzz_end { FUZZ_WHOLE, FUZZ_CUT, FUZZ_BAD };

struct fuzz_streams {
	char *data[3]; /* stdin (fd 0 is allowed), stdout, stderr */
	size_t len[3];
	size_t calls;
	size_t refuse_at; /* the call that returns -1; 0: none */
};

static int
fuzz_collect(void *arg, int fd, const char *data, size_t len)
{
	struct fuzz_streams *s = arg;

	fuzz_assert(fd >= 0 && fd <= 2);
	fuzz_assert(len > 0);
	s->calls++;
	fuzz_assert(s->refuse_at == 0 || s->calls <= s->refuse_at);
	if (s->calls == s->refuse_at)
		return -1;
	memcpy(s->data[fd] + s->len[fd], data, len);
	s->len[fd] += len;
	return 0;
}

/* The frames read in one pass, with nothing kept between calls. */
static enum fuzz_end
fuzz_reference(const uint8_t *p, size_t len, struct fuzz_streams *s)
{
	size_t off = 0, size, n;

	while (off < len) {
		if (len - off < 8)
			return FUZZ_CUT;
		if (p[off] > 2 || p[off + 1] || p[off + 2] || p[off + 3])
			return FUZZ_BAD;
		size = (size_t)p[off + 4] << 24 | (size_t)p[off + 5] << 16 |
		    (size_t)p[off + 6] << 8 | p[off + 7];
		n = size < len - off - 8 ? size : len - off - 8;
		memcpy(s->data[p[off]] + s->len[p[off]], p + off + 8, n);
		s->len[p[off]] += n;
		off += 8 + n;
		if (n < size)
			return FUZZ_CUT;
	}
	return FUZZ_WHOLE;
}

/* Feeds the stream in chunks of sizes[i] + 1 in turn (all of it if none). */
static int
fuzz_feed(const uint8_t *p, size_t len, const uint8_t *sizes, size_t nsizes,
    struct fuzz_streams *s, int *finish)
{
	struct stream_demux d;
	size_t off = 0, n, i = 0;
	int rc = 0;

	stream_init(&d);
	while (off < len && rc == 0) {
		n = nsizes == 0 ? len : (size_t)sizes[i++ % nsizes] + 1;
		if (n > len - off)
			n = len - off;
		rc = stream_feed(&d, (const char *)p + off, n, fuzz_collect, s);
		off += n;
	}
	*finish = stream_finish(&d);
	return rc;
}

static void
fuzz_streams_new(struct fuzz_streams *s, size_t size, size_t refuse_at)
{
	int fd;

	memset(s, 0, sizeof(*s));
	for (fd = 0; fd < 3; fd++)
		fuzz_assert((s->data[fd] = malloc(size + 1)) != NULL);
	s->refuse_at = refuse_at;
}

static void
fuzz_streams_free(struct fuzz_streams *s)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		free(s->data[fd]);
}

/* The same payload, fd by fd. */
static void
fuzz_same(const struct fuzz_streams *a, const struct fuzz_streams *b)
{
	int fd;

	for (fd = 0; fd < 3; fd++) {
		fuzz_assert(a->len[fd] == b->len[fd]);
		fuzz_assert(memcmp(a->data[fd], b->data[fd], a->len[fd]) == 0);
	}
}

/* A prefix of the payload, fd by fd. */
static void
fuzz_prefix(const struct fuzz_streams *a, const struct fuzz_streams *b)
{
	int fd;

	for (fd = 0; fd < 3; fd++) {
		fuzz_assert(a->len[fd] <= b->len[fd]);
		fuzz_assert(memcmp(a->data[fd], b->data[fd], a->len[fd]) == 0);
	}
}

/* What a feed must have returned for a stream that ends as end says. */
static void
fuzz_check_end(enum fuzz_end end, int rc, int finish)
{
	if (end == FUZZ_BAD)
		fuzz_assert(rc == -1);
	else {
		fuzz_assert(rc == 0);
		fuzz_assert((finish == 0) == (end == FUZZ_WHOLE));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_streams ref, whole, chunked, refused;
	const uint8_t *sizes, *p;
	size_t nsizes, len;
	enum fuzz_end end;
	int rc, finish;

	if (size < 1)
		return 0;
	nsizes = data[0] & 0x0f;
	if (size < 1 + nsizes)
		return 0;
	sizes = data + 1;
	p = data + 1 + nsizes;
	len = size - 1 - nsizes;

	fuzz_streams_new(&ref, len, 0);
	fuzz_streams_new(&whole, len, 0);
	fuzz_streams_new(&chunked, len, 0);
	fuzz_streams_new(&refused, len, data[0] >> 4);

	end = fuzz_reference(p, len, &ref);
	rc = fuzz_feed(p, len, NULL, 0, &whole, &finish);
	fuzz_check_end(end, rc, finish);
	fuzz_same(&whole, &ref);

	/* Byte by byte when the input gives no sizes. */
	rc = fuzz_feed(p, len, nsizes == 0 ? (const uint8_t *)"" : sizes,
	    nsizes == 0 ? 1 : nsizes, &chunked, &finish);
	fuzz_check_end(end, rc, finish);
	fuzz_same(&chunked, &ref);

	/* A refusing out() stops the feed at once, whatever the chunking. */
	if (refused.refuse_at != 0) {
		rc = fuzz_feed(p, len, sizes, nsizes, &refused, &finish);
		if (refused.calls == refused.refuse_at)
			fuzz_assert(rc == -1);
		else {
			fuzz_assert(refused.calls < refused.refuse_at);
			fuzz_check_end(end, rc, finish);
		}
		fuzz_prefix(&refused, &ref);
	}

	fuzz_streams_free(&ref);
	fuzz_streams_free(&whole);
	fuzz_streams_free(&chunked);
	fuzz_streams_free(&refused);
	return 0;
}
