/*
 * output.c: UTF-8 repair, the worst-case cost of captured bytes, and the
 * result document, which must fit the output limit.
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "tap.h"

/* True if output_utf8() turns in[0..len) into exactly want[0..wantlen). */
static int
utf8_is(const char *in, size_t len, const char *want, size_t wantlen)
{
	size_t outlen;
	char *out;
	int same;

	if ((out = output_utf8(in, len, &outlen)) == NULL)
		return 0;
	same = outlen == wantlen && memcmp(out, want, wantlen) == 0 &&
	    out[outlen] == '\0';
	free(out);
	return same;
}

#define UTF8_IS(in, want) utf8_is(in, sizeof(in) - 1, want, sizeof(want) - 1)
#define FFFD "\xEF\xBF\xBD"

static void
test_utf8(void)
{
	ok(UTF8_IS("hello", "hello"), "ASCII is kept");
	ok(UTF8_IS("", ""), "an empty string stays empty");
	ok(UTF8_IS("\xC3\xA9t\xC3\xA9", "\xC3\xA9t\xC3\xA9"),
	    "two-byte sequences are kept");
	ok(UTF8_IS("\xE2\x82\xAC", "\xE2\x82\xAC"),
	    "a three-byte sequence is kept");
	ok(UTF8_IS("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"),
	    "a four-byte sequence is kept");
	ok(UTF8_IS("\xEF\xBF\xBF\xF4\x8F\xBF\xBF",
	    "\xEF\xBF\xBF\xF4\x8F\xBF\xBF"),
	    "the highest code points are kept");
	ok(UTF8_IS("a\0b", "a\0b"), "an embedded NUL is kept");
	ok(UTF8_IS("a\xFF" "b", "a" FFFD "b"),
	    "an invalid byte becomes U+FFFD");
	ok(UTF8_IS("\x80", FFFD), "a lone continuation byte becomes U+FFFD");
	ok(UTF8_IS("ab\xE2\x82", "ab" FFFD),
	    "a sequence truncated at the end becomes one U+FFFD");
	ok(UTF8_IS("\xE2\x82" "a", FFFD "a"),
	    "a sequence cut short by ASCII becomes one U+FFFD");
	ok(UTF8_IS("\xC0\xAF", FFFD FFFD),
	    "an overlong two-byte form is rejected");
	ok(UTF8_IS("\xE0\x80\xAF", FFFD FFFD FFFD),
	    "an overlong three-byte form is rejected");
	ok(UTF8_IS("\xF0\x80\x80\xAF", FFFD FFFD FFFD FFFD),
	    "an overlong four-byte form is rejected");
	ok(UTF8_IS("\xED\xA0\x80", FFFD FFFD FFFD),
	    "a UTF-16 surrogate is rejected");
	ok(UTF8_IS("\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD),
	    "a code point above U+10FFFF is rejected");
	ok(UTF8_IS("\xF5\x80", FFFD FFFD), "the lead byte 0xF5 is rejected");
}

/* The cost output_take() charges for data, all of which must fit. */
static size_t
cost(const char *data, size_t len)
{
	struct output_meter m = { 0 };
	size_t budget = SIZE_MAX;

	if (output_take(&m, data, len, &budget) != len)
		return 0;
	return SIZE_MAX - budget;
}

#define COST(s) cost(s, sizeof(s) - 1)

static void
test_take(void)
{
	struct output_meter m = { 0 };
	size_t budget, took;

	ok(COST("abc") == 3, "a printable ASCII byte costs 1");
	ok(COST("/") == 1, "'/' costs 1 (it is not escaped)");
	ok(COST("\x7f") == 1, "DEL costs 1 (JSON does not escape it)");
	ok(COST("\n\t\r\b\f") == 10, "short-escaped controls cost 2");
	ok(COST("\"\\") == 4, "'\"' and '\\' cost 2");
	ok(COST("\x01") == 6 && COST("\0") == 6 && COST("\x1f") == 6,
	    "other controls cost 6 (\\u00XX)");

	budget = 5;
	took = output_take(&m, "abcdefg", 7, &budget);
	ok(took == 5 && budget == 0,
	    "only the bytes that fit the budget are taken");
	budget = 5;
	took = output_take(&m, "ab\x01", 3, &budget);
	ok(took == 2 && budget == 3,
	    "a byte that does not fit whole is not taken");
	budget = 0;
	took = output_take(&m, "a", 1, &budget);
	ok(took == 0, "an empty budget takes nothing");
}

static void
test_take_utf8(void)
{
	ok(COST("\xC3\xA9") == 2, "a valid two-byte sequence costs 2");
	ok(COST("\xE2\x82\xAC") == 3, "a valid three-byte sequence costs 3");
	ok(COST("\xF0\x9F\x98\x80") == 4,
	    "a valid four-byte sequence costs 4");
	ok(COST("\xFF") == 3 && COST("\x80") == 3 && COST("\xC0") == 3,
	    "an invalid byte costs 3 (U+FFFD)");
	ok(COST("\xC0\xAF") == 6 && COST("\xED\xA0\x80") == 9,
	    "each byte of an overlong form or a surrogate costs 3");
	ok(COST("ab\xE2\x82") == 5,
	    "a sequence truncated at the end costs one U+FFFD");
	ok(COST("\xE2\x82" "a") == 4 && COST("\xC3\x01") == 9,
	    "a sequence cut short costs one U+FFFD, then the byte its own");
}

/* The cost of s taken in two calls, cut after its first cut bytes. */
static size_t
cost_split(const char *s, size_t cut)
{
	struct output_meter m = { 0 };
	size_t budget = SIZE_MAX, len = strlen(s);

	if (output_take(&m, s, cut, &budget) != cut ||
	    output_take(&m, s + cut, len - cut, &budget) != len - cut)
		return 0;
	return SIZE_MAX - budget;
}

static void
test_take_split(void)
{
	struct output_meter m = { 0 };
	size_t budget, took;

	ok(cost_split("\xC3\xA9", 1) == 2,
	    "a two-byte sequence split across chunks costs 2");
	ok(cost_split("\xE2\x82\xAC", 1) == 3 &&
	    cost_split("\xE2\x82\xAC", 2) == 3,
	    "a three-byte sequence split anywhere costs 3");
	ok(cost_split("\xF0\x9F\x98\x80", 1) == 4 &&
	    cost_split("\xF0\x9F\x98\x80", 3) == 4,
	    "a four-byte sequence split anywhere costs 4");
	ok(cost_split("\xE2\x82" "a", 2) == 4,
	    "a sequence cut short by the next chunk costs one U+FFFD");

	budget = 3;
	took = output_take(&m, "\xC3", 1, &budget);
	ok(took == 1 && budget == 0,
	    "the first byte of a sequence is charged a U+FFFD");
	took = output_take(&m, "\xA9", 1, &budget);
	ok(took == 1 && budget == 1,
	    "the last byte settles the sequence at its length");

	memset(&m, 0, sizeof(m));
	budget = 3;
	took = output_take(&m, "\xF0\x9F\x98\x80", 4, &budget);
	ok(took == 3 && budget == 0,
	    "a four-byte sequence without room for its fourth byte stops "
	    "before it (its prefix is paid as a U+FFFD)");
}

/*
 * What s[0..len) becomes between the quotes of a JSON string in the
 * result document.
 */
static size_t
encoded(const char *s, size_t len)
{
	struct json_object *str;
	size_t clean_len, n = 0;
	char *clean;

	if ((clean = output_utf8(s, len, &clean_len)) == NULL)
		return 0;
	if ((str = json_object_new_string_len(clean, (int)clean_len)) != NULL &&
	    json_object_to_json_string_length(str, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n) != NULL)
		n -= 2;
	json_object_put(str);
	free(clean);
	return n;
}

static void
test_take_exact(void)
{
	static const char pieces[][5] = { "a", "\n", "\x01", "\"", "\xFF",
	    "\x80", "\xC3", "\xA9", "\xC3\xA9", "\xE2\x82\xAC", "\xE0\xA0",
	    "\xED\xA0\x80", "\xF0\x9F\x98\x80", "\xF4\x90", "\xF0\x9F" };
	char buf[4096];
	size_t len, off, n, budget, trial, exact = 0;
	struct output_meter m;
	int piece;

	srand(12);
	for (trial = 0; trial < 200; trial++) {
		len = 0;
		while (len + 4 < sizeof(buf)) {
			piece = rand() % 15;
			n = strlen(pieces[piece]);
			memcpy(buf + len, pieces[piece], n);
			len += n;
		}
		memset(&m, 0, sizeof(m));
		budget = SIZE_MAX;
		for (off = 0; off < len; off += n) {
			n = (size_t)(rand() % 7) + 1;
			if (n > len - off)
				n = len - off;
			if (output_take(&m, buf + off, n, &budget) != n)
				break;
		}
		if (off >= len && SIZE_MAX - budget == encoded(buf, len))
			exact++;
	}
	ok(exact == 200,
	    "random output taken in random chunks costs exactly what the "
	    "document holds (%zu of 200)", exact);
}

static void
test_format(void)
{
	struct runner_result r = { .out = "a\0b / \"q\"\n", .outlen = 10,
	    .err = "e\xFF", .errlen = 2, .error = "Exit code: 1",
	    .duration_ns = 1234567890123LL,
	    .run = { .verdict = VERDICT_RUNTIME_ERROR, .exit_code = 1,
	    .memory_peak = -1 } };
	struct json_object *root = NULL, *v;
	size_t len;
	char *text;

	text = output_format(&r, &len);
	ok(text != NULL && strlen(text) == len && strchr(text, '\n') == NULL,
	    "a result is formatted as one line");
	if (text != NULL)
		root = json_tokener_parse(text);
	ok(root != NULL && json_object_is_type(root, json_type_object),
	    "the result parses back as a JSON object");
	ok(json_object_object_length(root) == 5,
	    "the result has glot's four members and usage");
	ok(json_object_object_get_ex(root, "stdout", &v) &&
	    json_object_get_string_len(v) == 10 &&
	    memcmp(json_object_get_string(v), r.out, 10) == 0,
	    "stdout survives the round trip, NUL included");
	ok(json_object_object_get_ex(root, "stderr", &v) &&
	    strcmp(json_object_get_string(v), "e" FFFD) == 0,
	    "an invalid byte in stderr comes back as U+FFFD");
	ok(json_object_object_get_ex(root, "error", &v) &&
	    strcmp(json_object_get_string(v), "Exit code: 1") == 0,
	    "the error survives the round trip");
	ok(json_object_object_get_ex(root, "duration", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == 1234567890123LL,
	    "the duration is an integer of nanoseconds");
	ok(json_object_object_get_ex(root, "usage", &v) &&
	    json_object_object_get_ex(v, "status", &v) &&
	    strcmp(json_object_get_string(v), "runtime_error") == 0,
	    "the verdict is named in usage.status");
	ok(text != NULL && strstr(text, "\\/") == NULL,
	    "'/' is not escaped");
	json_object_put(root);
	free(text);
}

/* Fills up to size bytes of a capture with the costliest kinds of byte. */
static size_t
fill(char *buf, size_t size, size_t *budget)
{
	static const char worst[] = "\x01\xFF\"\n\xC3";
	struct output_meter m = { 0 };
	size_t len = 0;

	while (len < size &&
	    output_take(&m, &worst[len % 5], 1, budget) == 1) {
		buf[len] = worst[len % 5];
		len++;
	}
	return len;
}

static void
test_fits(void)
{
	const size_t limit = 102400;
	char *out, *err, error[RUNNER_ERRLEN], *text;
	size_t budget = limit - OUTPUT_RESERVE, len = 0;
	struct runner_result r;

	out = malloc(limit);
	err = malloc(limit);
	if (out == NULL || err == NULL) {
		ok(0, "memory for the captures");
		goto cleanup;
	}
	memset(error, '\x01', sizeof(error) - 1);
	error[sizeof(error) - 1] = '\0';
	r.out = out;
	r.outlen = fill(out, limit / 8, &budget);
	r.err = err;
	r.errlen = fill(err, limit, &budget);
	r.error = error;
	/* The longest of every field of the usage, and a build's too. */
	r.run.verdict = VERDICT_COMPILE_ERROR;
	r.run.exit_code = 255;
	r.run.signal = SIGSTKFLT;
	r.run.wall_ns = r.run.cpu_ns = LLONG_MAX;
	r.run.max_rss = r.run.memory_peak = LLONG_MAX;
	r.build = r.run;
	r.built = 1;
	r.tests = NULL;
	r.duration_ns = LLONG_MIN;
	text = output_format(&r, &len);
	ok(text != NULL && budget == 0,
	    "captures filled to the budget are formatted");
	ok(len + 1 <= limit,
	    "the worst-case result and its newline fit the limit (%zu <= %zu)",
	    len + 1, limit);
	free(text);
cleanup:
	free(out);
	free(err);
}

/*
 * 50 000 "é" (100 000 bytes of UTF-8) under a 102 KiB limit, read in
 * chunks of an odd size so that sequences are split, come back whole.
 */
static void
test_fits_utf8(void)
{
	const size_t limit = 104448, len = 100000, chunk = 65535;
	size_t budget = limit - OUTPUT_RESERVE, off, n, took = 0, doclen = 0;
	struct runner_result r = { .err = "", .error = "", .duration_ns = 1,
	    .run = { .exit_code = 0, .memory_peak = -1 } };
	struct json_object *root = NULL, *v;
	struct output_meter m = { 0 };
	char *out, *text = NULL;

	if ((out = malloc(len)) == NULL) {
		ok(0, "memory for the capture");
		return;
	}
	for (off = 0; off < len; off += 2)
		memcpy(out + off, "\xC3\xA9", 2);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		took += output_take(&m, out + off, n, &budget);
	}
	ok(took == len, "100 000 bytes of \"é\" are all taken (%zu)", took);
	r.out = out;
	r.outlen = took;
	text = output_format(&r, &doclen);
	ok(text != NULL && doclen + 1 <= limit,
	    "their result fits the limit (%zu <= %zu)", doclen + 1, limit);
	if (text != NULL)
		root = json_tokener_parse(text);
	ok(json_object_object_get_ex(root, "stdout", &v) &&
	    (size_t)json_object_get_string_len(v) == len &&
	    memcmp(json_object_get_string(v), out, len) == 0,
	    "stdout comes back whole");
	json_object_put(root);
	free(text);
	free(out);
}

int
main(void)
{
	test_utf8();
	test_take();
	test_take_utf8();
	test_take_split();
	test_take_exact();
	test_format();
	test_fits();
	test_fits_utf8();
	return tap_done();
}
