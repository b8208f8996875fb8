/*
 * The result document: what captured bytes cost once encoded, UTF-8
 * repair, and the JSON object itself.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#define OUTPUT_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static const char output_replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* What a byte that is not valid UTF-8 becomes: one U+FFFD. */
#define OUTPUT_BAD_COST (sizeof(output_replacement) - 1)

/*
 * Bytes one ASCII byte becomes in the document: json-c escapes these
 * controls as two bytes and the others as \u00XX.  It never escapes bytes
 * of 0x80 and more (see output_take()).
 */
static size_t
output_cost(unsigned char c)
{
	switch (c) {
	case '\b':
	case '\t':
	case '\n':
	case '\f':
	case '\r':
	case '"':
	case '\\':
		return 2;
	default:
		return c < 0x20 ? 6 : 1;
	}
}

/*
 * If c starts a multibyte UTF-8 sequence, returns 0 with the number of
 * continuation bytes in *need and the range of the first one in *lo and
 * *hi (narrower after some leads: overlong forms, surrogates and code
 * points above U+10FFFF are ill-formed from their second byte); else -1.
 */
static int
output_lead(unsigned char c, unsigned char *need, unsigned char *lo,
    unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		*need = 1;
	else if (c >= 0xE0 && c <= 0xEF)
		*need = 2;
	else if (c >= 0xF0 && c <= 0xF4)
		*need = 3;
	else
		return -1;
	if (c == 0xE0)
		*lo = 0xA0;
	else if (c == 0xED)
		*hi = 0x9F;
	else if (c == 0xF0)
		*lo = 0x90;
	else if (c == 0xF4)
		*hi = 0x8F;
	return 0;
}

/*
 * Returns how many leading bytes of data fit in *budget at what they
 * become in the document, and takes their cost from *budget.  A valid
 * UTF-8 sequence costs its own length (json-c keeps it verbatim), an
 * ill-formed one a U+FFFD, as output_utf8() will make it.  data is one
 * chunk of a stream whose decoding state m keeps across calls: a sequence
 * not yet complete is charged a U+FFFD, what it costs if it ends there,
 * and settled to its length once its last byte comes.
 */
size_t
output_take(struct output_meter *m, const char *data, size_t len,
    size_t *budget)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0, cost;

	while (i < len) {
		if (m->need > 0) {
			if (s[i] < m->lo || s[i] > m->hi) {
				/* The prefix is one U+FFFD, already paid. */
				m->need = 0;
				continue;
			}
			if (m->need == 1) {
				cost = (size_t)m->len + 1;
				if (cost > OUTPUT_BAD_COST &&
				    cost - OUTPUT_BAD_COST > *budget)
					break;
				*budget = *budget + OUTPUT_BAD_COST - cost;
			}
			m->len++;
			m->need--;
			m->lo = 0x80;
			m->hi = 0xBF;
			i++;
			continue;
		}
		cost = s[i] < 0x80 ? output_cost(s[i]) : OUTPUT_BAD_COST;
		if (cost > *budget)
			break;
		*budget -= cost;
		if (s[i] >= 0x80 &&
		    output_lead(s[i], &m->need, &m->lo, &m->hi) == 0)
			m->len = 1;
		i++;
	}
	return i;
}

/*
 * Length of the well-formed UTF-8 sequence at s, or 0 with *bad set to the
 * length of its maximal ill-formed prefix (Unicode 3.9, the WHATWG
 * decoder), which becomes a single U+FFFD.
 */
static size_t
output_sequence(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char need, lo, hi;
	size_t i;

	if (s[0] < 0x80)
		return 1;
	if (output_lead(s[0], &need, &lo, &hi) == -1) {
		*bad = 1;
		return 0;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return (size_t)need + 1;
}

/*
 * Returns a NUL-terminated copy of in[0..len) that is valid UTF-8, each
 * ill-formed sequence replaced by U+FFFD; embedded NULs are kept and
 * counted in *outlen.  NULL with errno set if memory runs out.
 */
char *
output_utf8(const char *in, size_t len, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, n, bad;
	char *out;

	if (len > (SIZE_MAX - 1) / 3) {
		errno = ENOMEM;
		return NULL;
	}
	/* An ill-formed byte grows to at most three. */
	if ((out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	while (i < len) {
		n = output_sequence(s + i, len - i, &bad);
		if (n > 0) {
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, output_replacement, 3);
			o += 3;
			i += bad;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* Adds s[0..len), made valid UTF-8, to obj as key. */
int
output_add(struct json_object *obj, const char *key, const char *s,
    size_t len)
{
	struct json_object *str;
	size_t clean_len;
	char *clean;
	int rc = -1;

	if ((clean = output_utf8(s, len, &clean_len)) == NULL)
		return -1;
	if ((str = json_object_new_string_len(clean, (int)clean_len)) == NULL)
		goto cleanup;
	if (json_object_object_add(obj, key, str) != 0) {
		json_object_put(str);
		goto cleanup;
	}
	rc = 0;
cleanup:
	free(clean);
	return rc;
}

/* Adds v to obj as key; v is released if that fails (or is NULL). */
int
output_put(struct json_object *obj, const char *key, struct json_object *v)
{
	if (v == NULL || json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/*
 * The result of one test: {"stdout", "stderr", "error", "usage"} and
 * "passed" unless passed is -1 (nothing expected); res NULL for a test
 * not run.  NULL if memory runs out.
 */
struct json_object *
output_test(const struct exec_result *res, const char *error,
    const struct usage *u, int passed)
{
	struct json_object *obj;

	if ((obj = json_object_new_object()) == NULL)
		return NULL;
	if (output_add(obj, "stdout", res ? res->out.data : "",
	    res ? res->out.len : 0) == -1 ||
	    output_add(obj, "stderr", res ? res->err.data : "",
	    res ? res->err.len : 0) == -1 ||
	    output_add(obj, "error", error, strlen(error)) == -1 ||
	    output_put(obj, "usage", usage_json(u)) == -1 ||
	    (passed != -1 && output_put(obj, "passed",
	    json_object_new_boolean(passed)) == -1)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* The result's "usage": the run's, with the build's under "build". */
static struct json_object *
output_usage(const struct runner_result *res)
{
	struct json_object *usage;

	if ((usage = usage_json(&res->run)) == NULL)
		return NULL;
	if (res->built && output_put(usage, "build",
	    usage_json(&res->build)) == -1) {
		json_object_put(usage);
		return NULL;
	}
	return usage;
}

/*
 * Returns the result as one line of JSON without its newline (malloc'd,
 * length in *len), or NULL if memory runs out.  Every string is made
 * valid UTF-8 first.
 */
char *
output_format(const struct runner_result *res, size_t *len)
{
	struct json_object *obj;
	const char *text;
	char *copy = NULL;

	if ((obj = json_object_new_object()) == NULL)
		return NULL;
	if (output_add(obj, "stdout", res->out, res->outlen) == -1 ||
	    output_add(obj, "stderr", res->err, res->errlen) == -1 ||
	    output_add(obj, "error", res->error, strlen(res->error)) == -1 ||
	    output_put(obj, "duration",
	    json_object_new_int64(res->duration_ns)) == -1 ||
	    output_put(obj, "usage", output_usage(res)) == -1)
		goto cleanup;
	if (res->tests != NULL) {
		json_object_object_foreach(res->tests, key, val) {
			if (output_put(obj, key, json_object_get(val)) == -1)
				goto cleanup;
		}
	}
	if ((text = json_object_to_json_string_length(obj, OUTPUT_JSON_FLAGS,
	    len)) == NULL)
		goto cleanup;
	if ((copy = malloc(*len + 1)) == NULL)
		goto cleanup;
	memcpy(copy, text, *len + 1);
cleanup:
	json_object_put(obj);
	return copy;
}
