/*
 * The runner's result document: output_utf8(), output_take() and
 * output_format().  Beyond not crashing: the repaired text is valid UTF-8,
 * leaves valid UTF-8 as it is and repairs idempotently; output_take()
 * never charges less than the bytes it lets through cost once encoded,
 * and charges exactly that for all of a stream, however it is cut; the
 * document parses back to exactly what went in, on one line, within
 * OUTPUT_RESERVE plus what its two outputs were charged.
 *
 * Input: a verdict byte, a 16-bit budget, a 64-bit duration, the lengths
 * of stderr and of the error message (a byte each), then stderr, the
 * error message and, last, stdout.
 */
#include "config.h"

#include <string.h>

#include "runner.h"
#include "fuzz.h"

#define FUZZ_HEADER 13
#define FUZZ_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or beyond U+10FFFF. */
static int
fuzz_valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, need, k;
	unsigned long cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xE0) == 0xC0) {
			need = 1, cp = s[i] & 0x1F, min = 0x80;
		} else if ((s[i] & 0xF0) == 0xE0) {
			need = 2, cp = s[i] & 0x0F, min = 0x800;
		} else if ((s[i] & 0xF8) == 0xF0) {
			need = 3, cp = s[i] & 0x07, min = 0x10000;
		} else
			return 0;
		if (len - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* output_utf8() with its invariants; the caller frees the copy. */
static char *
fuzz_utf8(const char *in, size_t len, size_t *outlen)
{
	size_t again_len;
	char *out, *again;

	fuzz_assert((out = output_utf8(in, len, outlen)) != NULL);
	fuzz_assert(out[*outlen] == '\0');
	fuzz_assert(*outlen <= 3 * len);
	fuzz_assert(fuzz_valid_utf8((const unsigned char *)out, *outlen));
	if (fuzz_valid_utf8((const unsigned char *)in, len))
		fuzz_assert(*outlen == len && memcmp(out, in, len) == 0);
	fuzz_assert((again = output_utf8(out, *outlen, &again_len)) != NULL);
	fuzz_assert(again_len == *outlen && memcmp(again, out, again_len) == 0);
	free(again);
	return out;
}

/* Bytes the JSON string of in[0..len) takes in the document, quotes aside. */
static size_t
fuzz_encoded(const char *in, size_t len)
{
	struct json_object *s;
	size_t clean_len, n;
	char *clean;

	clean = fuzz_utf8(in, len, &clean_len);
	fuzz_assert((s = json_object_new_string_len(clean,
	    (int)clean_len)) != NULL);
	fuzz_assert(json_object_to_json_string_length(s, FUZZ_JSON_FLAGS,
	    &n) != NULL);
	json_object_put(s);
	free(clean);
	fuzz_assert(n >= 2);
	return n - 2;
}

/* output_take() under budget: returns how many bytes it took. */
static size_t
fuzz_take(const char *data, size_t len, size_t budget)
{
	struct output_meter m = { 0 };
	size_t left = budget, n;

	n = output_take(&m, data, len, &left);
	fuzz_assert(n <= len);
	fuzz_assert(left <= budget);
	fuzz_assert(fuzz_encoded(data, n) <= budget - left);
	return n;
}

/*
 * What output_take() charges for all of data, taken in two chunks (a
 * sequence may be split): what it becomes in the document.
 */
static size_t
fuzz_cost(const char *data, size_t len)
{
	struct output_meter m = { 0 };
	size_t left = SIZE_MAX, cut = len / 3;

	fuzz_assert(output_take(&m, data, cut, &left) == cut);
	fuzz_assert(output_take(&m, data + cut, len - cut, &left) ==
	    len - cut);
	fuzz_assert(SIZE_MAX - left == fuzz_encoded(data, len));
	return SIZE_MAX - left;
}

/* The string member key of obj is exactly the repair of in[0..len). */
static void
fuzz_member_is(struct json_object *obj, const char *key, const char *in,
    size_t len)
{
	struct json_object *v;
	size_t clean_len;
	char *clean;

	fuzz_assert(json_object_object_get_ex(obj, key, &v));
	fuzz_assert(json_object_is_type(v, json_type_string));
	clean = fuzz_utf8(in, len, &clean_len);
	fuzz_assert((size_t)json_object_get_string_len(v) == clean_len);
	fuzz_assert(memcmp(json_object_get_string(v), clean, clean_len) == 0);
	free(clean);
}

static void
fuzz_format(const struct runner_result *res)
{
	struct json_object *root, *v, *usage;
	struct json_tokener *tok;
	size_t len;
	char *text;

	fuzz_assert((text = output_format(res, &len)) != NULL);
	fuzz_assert(strlen(text) == len);
	fuzz_assert(memchr(text, '\n', len) == NULL);
	fuzz_assert(len <= OUTPUT_RESERVE + fuzz_cost(res->out, res->outlen) +
	    fuzz_cost(res->err, res->errlen));

	fuzz_assert((tok = json_tokener_new()) != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	fuzz_assert(root != NULL);
	fuzz_assert(json_tokener_get_parse_end(tok) == len);
	json_tokener_free(tok);
	fuzz_assert(json_object_is_type(root, json_type_object));
	fuzz_member_is(root, "stdout", res->out, res->outlen);
	fuzz_member_is(root, "stderr", res->err, res->errlen);
	fuzz_member_is(root, "error", res->error, strlen(res->error));
	fuzz_assert(json_object_object_get_ex(root, "duration", &v));
	fuzz_assert(json_object_is_type(v, json_type_int));
	fuzz_assert(json_object_get_int64(v) == res->duration_ns);
	fuzz_assert(json_object_object_get_ex(root, "usage", &usage));
	fuzz_assert(json_object_object_get_ex(usage, "status", &v));
	fuzz_assert(strcmp(json_object_get_string(v),
	    verdict_name(res->run.verdict)) == 0);
	fuzz_assert(json_object_object_length(root) == 5);
	json_object_put(root);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char error[RUNNER_ERRLEN];
	struct runner_result res;
	size_t budget, errlen, msglen, outlen, taken, i;
	const char *p;
	uint64_t duration = 0;

	if (size < FUZZ_HEADER)
		return 0;
	memset(&res, 0, sizeof(res));
	res.run.verdict = (enum verdict)(data[0] % VERDICT_MAX);
	res.run.exit_code = res.run.memory_peak = -1;
	budget = (size_t)data[1] << 8 | data[2];
	for (i = 0; i < 8; i++)
		duration = duration << 8 | data[3 + i];
	res.duration_ns = (long long)duration;
	p = (const char *)data + FUZZ_HEADER;
	size -= FUZZ_HEADER;
	errlen = data[11] < size ? data[11] : size;
	msglen = data[12] < size - errlen ? data[12] : size - errlen;
	outlen = size - errlen - msglen;

	res.err = p;
	res.errlen = errlen;
	memcpy(error, p + errlen, msglen);
	error[msglen] = '\0';
	res.error = error;
	res.out = p + errlen + msglen;

	/* The runner keeps what fits of stdout, and formats that. */
	taken = fuzz_take(res.out, outlen, budget);
	fuzz_assert(fuzz_take(res.out, outlen, SIZE_MAX) == outlen);
	res.outlen = taken;
	fuzz_format(&res);
	res.outlen = outlen;
	fuzz_format(&res);
	return 0;
}
