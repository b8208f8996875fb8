/*
 * Compile once, run many: the payload's "tests", each a stdin and maybe
 * the stdout expected.  The build has run once; the run command then
 * runs once per test, each under its own time limit and all under the
 * run's deadline, the work dir restored to its post-build state before
 * each test but the first.  Tests the deadline leaves no time for are
 * reported as not run.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* The string member key of item, or NULL if absent or null; -1 if no string. */
static int
tests_string(struct json_object *item, const char *key, const char **s,
    size_t *len)
{
	struct json_object *v;

	*s = NULL;
	*len = 0;
	if (!json_object_object_get_ex(item, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return 0;
}

/*
 * Reads the array of tests ({"stdin", "expected_stdout"}, both strings,
 * either may be absent) into t, borrowing its strings.
 */
int
tests_load(struct json_object *array, struct runner_tests *t, char *err,
    size_t errlen)
{
	struct json_object *item;
	struct runner_test *test;
	size_t i, n;

	memset(t, 0, sizeof(*t));
	if (!json_object_is_type(array, json_type_array)) {
		snprintf(err, errlen, "tests: not an array");
		return -1;
	}
	if ((n = json_object_array_length(array)) > TESTS_MAX) {
		snprintf(err, errlen, "tests: more than %d", TESTS_MAX);
		return -1;
	}
	if (n > 0 && (t->v = calloc(n, sizeof(*t->v))) == NULL) {
		snprintf(err, errlen, "tests: %s", strerror(errno));
		return -1;
	}
	t->count = n;
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(array, i);
		test = &t->v[i];
		if (!json_object_is_type(item, json_type_object) ||
		    tests_string(item, "stdin", &test->input,
		    &test->inlen) == -1 ||
		    tests_string(item, "expected_stdout", &test->expected,
		    &test->explen) == -1) {
			snprintf(err, errlen, "tests[%zu]: not an object of "
			    "strings stdin and expected_stdout", i);
			return -1;
		}
	}
	return 0;
}

static int
tests_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

static size_t
tests_trim(const char *s, size_t len)
{
	while (len > 0 && tests_space(s[len - 1]))
		len--;
	return len;
}

/*
 * Whether the output is the one expected, as judges compare: white space
 * at the end of each line and at the end of the whole is ignored.
 */
int
tests_match(const char *out, size_t outlen, const char *expected,
    size_t explen)
{
	const char *a, *b;
	size_t alen, blen;

	outlen = tests_trim(out, outlen);
	explen = tests_trim(expected, explen);
	for (;;) {
		a = memchr(out, '\n', outlen);
		b = memchr(expected, '\n', explen);
		alen = a != NULL ? (size_t)(a - out) : outlen;
		blen = b != NULL ? (size_t)(b - expected) : explen;
		if (tests_trim(out, alen) != tests_trim(expected, blen) ||
		    memcmp(out, expected, tests_trim(out, alen)) != 0)
			return 0;
		if (a == NULL || b == NULL)
			return a == NULL && b == NULL;
		outlen -= alen + 1;
		explen -= blen + 1;
		out = a + 1;
		expected = b + 1;
	}
}

/* Adds one test's result to the array and counts it in the summary. */
static int
tests_report(struct json_object *results, struct json_object *item,
    long long counts[4], int passed, enum verdict v)
{
	if (item == NULL || json_object_array_add(results, item) != 0) {
		json_object_put(item);
		return -1;
	}
	counts[0]++;
	if (v == VERDICT_NOT_RUN)
		counts[3]++;
	if (passed == 1)
		counts[1]++;
	else if (passed == 0)
		counts[2]++;
	return 0;
}

/* {"tests", "passed", "failed", "not_run"} */
static struct json_object *
tests_summary(const long long counts[4])
{
	static const char *const keys[4] = { "tests", "passed", "failed",
	    "not_run" };
	struct json_object *o, *v;
	int i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < 4; i++) {
		if ((v = json_object_new_int64(counts[i])) == NULL ||
		    json_object_object_add(o, keys[i], v) != 0) {
			json_object_put(v);
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

/* One test: restored work dir, the program, its verdict and result. */
static int
tests_one(const struct runner_test *test, const char *command,
    long long deadline_ns, long long time_ms, size_t *budget,
    struct usage *u, struct json_object **item, int *passed, char *err,
    size_t errlen)
{
	char error[RUNNER_ERRLEN];
	struct exec_result res;
	long long oom = usage_oom_kills();

	if (exec_run(command, test->input ? test->input : "", test->inlen,
	    deadline_ns, budget, &res, err, errlen) == -1)
		return -1;
	usage_measure(&res, oom, u);
	usage_describe(&res, u, time_ms, error, sizeof(error));
	*passed = test->expected == NULL ? -1 : u->verdict == VERDICT_OK &&
	    tests_match(res.out.data, res.out.len, test->expected,
	    test->explen);
	*item = output_test(&res, error, u, *passed);
	exec_free(&res);
	return 0;
}

/*
 * Runs command once per test, each until time_ms has passed or
 * deadline_ns (monotonic) comes; their captured output comes out of
 * *budget.  Fills *results with {"tests": [...], "summary": {...}} and
 * total with every test's usage added up.  Returns -1 with the reason in
 * err if the work dir cannot be kept or restored, or a command not run.
 */
int
tests_run(const struct runner_tests *t, const char *command,
    long long time_ms, long long deadline_ns, size_t *budget,
    struct json_object **results, struct usage *total, char *err,
    size_t errlen)
{
	struct usage u, not_run = { .verdict = VERDICT_NOT_RUN,
	    .exit_code = -1, .memory_peak = -1 };
	struct json_object *array, *item, *summary;
	long long counts[4] = { 0 }, now, end;
	struct snapshot snap;
	int passed, rc = -1;
	size_t i;

	*results = NULL;
	if ((array = json_object_new_array()) == NULL) {
		snprintf(err, errlen, "tests: %s", strerror(errno));
		return -1;
	}
	if (snapshot_take(&snap, err, errlen) == -1)
		goto done;
	for (i = 0; i < t->count; i++) {
		now = exec_clock_ns();
		if (now >= deadline_ns) {
			passed = t->v[i].expected != NULL ? 0 : -1;
			item = output_test(NULL, "Not run: the run's deadline "
			    "was reached", &not_run, passed);
			usage_add(total, &not_run);
			if (tests_report(array, item, counts, passed,
			    VERDICT_NOT_RUN) == -1)
				goto nomem;
			continue;
		}
		if (i > 0 && snapshot_restore(&snap, err, errlen) == -1)
			goto done;
		end = now + time_ms * 1000000;
		if (tests_one(&t->v[i], command, end < deadline_ns ? end :
		    deadline_ns, time_ms, budget, &u, &item, &passed, err,
		    errlen) == -1)
			goto done;
		usage_add(total, &u);
		if (tests_report(array, item, counts, passed, u.verdict) == -1)
			goto nomem;
	}
	if (total->verdict == VERDICT_NOT_RUN)
		total->verdict = VERDICT_TIME_LIMIT;
	if ((summary = tests_summary(counts)) == NULL ||
	    (*results = json_object_new_object()) == NULL ||
	    json_object_object_add(*results, "tests", array) != 0) {
		json_object_put(summary);
		goto nomem;
	}
	array = NULL;
	if (json_object_object_add(*results, "summary", summary) != 0) {
		json_object_put(summary);
		goto nomem;
	}
	rc = 0;
	goto done;
nomem:
	snprintf(err, errlen, "tests: out of memory");
	json_object_put(*results);
	*results = NULL;
done:
	json_object_put(array);
	snapshot_free(&snap);
	return rc;
}

void
tests_free(struct runner_tests *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}
