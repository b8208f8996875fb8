/* log_escape: what a client sent is one word of one log line. */
#include "config.h"

#include <string.h>

#include "runbox.h"
#include "tap.h"

#define ESCAPES(in, want, name) do { \
	char buf_[256]; \
	log_escape(buf_, sizeof(buf_), (in)); \
	ok(strcmp(buf_, (want)) == 0, "%s: '%s'", (name), buf_); \
} while (0)

static void
test_escape(void)
{
	ESCAPES("/run?x=1", "/run?x=1", "printable ASCII is kept");
	ESCAPES("a\nb", "a\\x0ab", "a newline");
	ESCAPES("a\r\tb\x1b[0m", "a\\x0d\\x09b\\x1b[0m", "control characters");
	ESCAPES("a\\x0ab", "a\\x5cx0ab", "a backslash, so an escape is not "
	    "forged");
	ESCAPES("a b=c", "a\\x20b=c", "a space, so a field is not forged");
	ESCAPES("\x7f\xc3\xa9", "\\x7f\\xc3\\xa9", "DEL and bytes past ASCII");
	ESCAPES("", "", "the empty string");
}

static void
test_escape_cut(void)
{
	char buf[8];

	ok(strcmp(log_escape(buf, sizeof(buf), "abcdefghij"), "abcdefg") == 0,
	    "cut to the buffer: '%s'", buf);
	ok(strcmp(log_escape(buf, sizeof(buf), "abcd\nef"), "abcd") == 0,
	    "never inside an escape: '%s'", buf);
	ok(strcmp(log_escape(buf, sizeof(buf), "abc\nef"), "abc\\x0a") == 0,
	    "an escape that fits whole: '%s'", buf);
	ok(log_escape(buf, 0, "a") == buf, "a buffer of 0 bytes is untouched");
}

int
main(void)
{
	test_escape();
	test_escape_cut();
	return tap_done();
}
