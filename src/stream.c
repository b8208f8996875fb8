/*
 * Docker's multiplexed stream (Tty off): frames of an 8-byte header
 * {fd, 0, 0, 0, size as 32-bit big endian} followed by size bytes.  The
 * demultiplexer is fed arbitrary chunks and keeps its state across them.
 */
#include "config.h"

#include <string.h>

#include "runbox.h"

void
stream_init(struct stream_demux *d)
{
	memset(d, 0, sizeof(*d));
}

/*
 * Feed len bytes; out() is called with each piece of payload and its
 * stream (1 stdout, 2 stderr).  Returns -1 on a malformed header or when
 * out() returns -1.
 */
int
stream_feed(struct stream_demux *d, const char *data, size_t len,
    stream_out_fn out, void *arg)
{
	size_t n;

	while (len > 0) {
		if (d->remaining == 0) {
			n = sizeof(d->header) - d->header_len;
			if (n > len)
				n = len;
			memcpy(d->header + d->header_len, data, n);
			d->header_len += n;
			data += n;
			len -= n;
			if (d->header_len < sizeof(d->header))
				return 0;
			if (d->header[0] > 2 || d->header[1] || d->header[2] ||
			    d->header[3])
				return -1;
			d->fd = d->header[0];
			d->remaining = (size_t)d->header[4] << 24 |
			    (size_t)d->header[5] << 16 |
			    (size_t)d->header[6] << 8 | d->header[7];
			d->header_len = 0;
			continue;
		}
		n = d->remaining < len ? d->remaining : len;
		if (out(arg, d->fd, data, n) == -1)
			return -1;
		d->remaining -= n;
		data += n;
		len -= n;
	}
	return 0;
}

/* 0 when the stream ended on a frame boundary, -1 when cut mid-frame. */
int
stream_finish(const struct stream_demux *d)
{
	return d->remaining == 0 && d->header_len == 0 ? 0 : -1;
}
