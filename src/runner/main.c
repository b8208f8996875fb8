/*
 * runbox-runner: the CMD of every sandbox image.  Reads one glot-compatible
 * payload on stdin, writes its files into the current directory, runs the
 * build and run commands, and prints one JSON result on stdout.  Its own
 * stderr stays empty unless the result cannot be written at all: the
 * service reads anything there as an internal error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "runner.h"

#define RUNNER_PAYLOAD_MAX (32 * 1024 * 1024)
#define RUNNER_TIME_DEFAULT 10000
#define RUNNER_TIME_MAX (24LL * 3600 * 1000)
#define RUNNER_OUTPUT_DEFAULT 102400
#define RUNNER_OUTPUT_MAX (64LL * 1024 * 1024)

/*
 * Without the payload's limits or tests, the build and the program share
 * time_ms, as they always did.  With either, the build has compile_ms
 * (the image's time limit unless lowered), the program or each test
 * time_ms, and the whole run at most deadline_ms.
 */
struct runner_limits {
	long long time_ms;
	long long compile_ms;
	long long deadline_ms;
	long long output; /* bytes of the whole result document */
	int separate;     /* the payload has limits */
};

struct payload {
	struct json_object *root;
	struct runner_files files;
	struct runner_plan plan;
	struct runner_tests tests;
	const char *input; /* the program's stdin */
	size_t inlen;
};

/* Reads a limit from the environment, the default if unset or empty. */
static int
runner_env(const char *name, long long def, long long min, long long max,
    long long *val, char *err, size_t errlen)
{
	const char *s = getenv(name);
	char *end;

	if (s == NULL || *s == '\0') {
		*val = def;
		return 0;
	}
	errno = 0;
	*val = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *val < min ||
	    *val > max) {
		snprintf(err, errlen, "%s: not a number in [%lld, %lld]", name,
		    min, max);
		return -1;
	}
	return 0;
}

/*
 * Lowers *val to the payload's limits.key, if it is there: a positive
 * integer.  Only runboxd sets it (the client's "limits", checked against
 * the image's), but whoever sent it, it can only lower what the
 * environment allows.
 */
static int
runner_lower(struct json_object *limits, const char *key, long long *val,
    char *err, size_t errlen)
{
	struct json_object *v;
	long long n;

	if (!json_object_object_get_ex(limits, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) <= 0) {
		snprintf(err, errlen, "limits.%s: not a positive integer",
		    key);
		return -1;
	}
	if (n < *val)
		*val = n;
	return 0;
}

/* The environment's limits, lowered by the payload's "limits". */
static int
runner_limits(const struct payload *p, struct runner_limits *lim, char *err,
    size_t errlen)
{
	struct json_object *limits = NULL;

	if (runner_env("RUNBOX_TIME_LIMIT_MS", RUNNER_TIME_DEFAULT, 1,
	    RUNNER_TIME_MAX, &lim->time_ms, err, errlen) == -1 ||
	    runner_env("RUNBOX_RUN_DEADLINE_MS", lim->time_ms, 1,
	    RUNNER_TIME_MAX, &lim->deadline_ms, err, errlen) == -1 ||
	    runner_env("RUNBOX_OUTPUT_LIMIT", RUNNER_OUTPUT_DEFAULT,
	    OUTPUT_RESERVE, RUNNER_OUTPUT_MAX, &lim->output, err, errlen) == -1)
		return -1;
	lim->compile_ms = lim->time_ms;
	json_object_object_get_ex(p->root, "limits", &limits);
	if ((lim->separate = limits != NULL) == 0)
		return 0;
	if (!json_object_is_type(limits, json_type_object)) {
		snprintf(err, errlen, "limits: not an object");
		return -1;
	}
	if (runner_lower(limits, "execution_time", &lim->time_ms, err,
	    errlen) == -1 ||
	    runner_lower(limits, "compile_time", &lim->compile_ms, err,
	    errlen) == -1 ||
	    runner_lower(limits, "output_size", &lim->output, err,
	    errlen) == -1)
		return -1;
	if (lim->compile_ms > lim->deadline_ms)
		lim->compile_ms = lim->deadline_ms;
	if (lim->output < OUTPUT_RESERVE)
		lim->output = OUTPUT_RESERVE;
	return 0;
}

/*
 * Reads stdin to its end after a bad payload, so that the service is not
 * cut off while it still writes.
 */
static void
runner_discard(void)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0)
		if (n == -1 && errno != EINTR)
			return;
}

/* Parses stdin as it arrives: one JSON value, then only whitespace. */
static struct json_object *
runner_read(char *err, size_t errlen)
{
	struct json_object *root = NULL;
	enum json_tokener_error jerr;
	struct json_tokener *tok;
	size_t total = 0, off;
	char buf[65536];
	ssize_t n;

	if ((tok = json_tokener_new()) == NULL) {
		snprintf(err, errlen, "payload: %s", strerror(errno));
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	for (;;) {
		if ((n = read(STDIN_FILENO, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "payload: read: %s",
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > RUNNER_PAYLOAD_MAX) {
			snprintf(err, errlen, "payload: larger than %d bytes",
			    RUNNER_PAYLOAD_MAX);
			goto fail;
		}
		off = 0;
		if (root == NULL) {
			root = json_tokener_parse_ex(tok, buf, (int)n);
			jerr = json_tokener_get_error(tok);
			if (jerr == json_tokener_continue)
				continue;
			if (root == NULL) {
				snprintf(err, errlen, "payload: %s",
				    json_tokener_error_desc(jerr));
				goto fail;
			}
			off = json_tokener_get_parse_end(tok);
		}
		for (; off < (size_t)n; off++) {
			if (strchr(" \t\r\n", buf[off]) == NULL) {
				snprintf(err, errlen, "payload: data after the "
				    "JSON value");
				goto fail;
			}
		}
	}
	if (root == NULL) {
		snprintf(err, errlen, "payload: empty or truncated");
		goto fail;
	}
	json_tokener_free(tok);
	return root;
fail:
	runner_discard();
	json_object_put(root);
	json_tokener_free(tok);
	return NULL;
}

/*
 * Gets the string member key of obj: NULL if absent or null.  Commands go
 * to sh -c as C strings, so most strings must not hold NUL bytes.
 */
static int
runner_string(struct json_object *obj, const char *key, int nul_ok,
    const char **s, size_t *len, char *err, size_t errlen)
{
	struct json_object *val;

	*s = NULL;
	*len = 0;
	if (!json_object_object_get_ex(obj, key, &val) || val == NULL)
		return 0;
	if (!json_object_is_type(val, json_type_string)) {
		snprintf(err, errlen, "%s: not a string", key);
		return -1;
	}
	if (!nul_ok && files_check_string(val, 0) == -1) {
		snprintf(err, errlen, "%s: NUL byte", key);
		return -1;
	}
	*s = json_object_get_string(val);
	*len = (size_t)json_object_get_string_len(val);
	return 0;
}

/* Adds a copy of command to the plan: a build command or the run command. */
static int
runner_commands_add(struct runner_plan *plan, const char *command, int is_run,
    char *err, size_t errlen)
{
	char *copy;

	if ((copy = strdup(command)) == NULL) {
		snprintf(err, errlen, "plan: %s", strerror(errno));
		return -1;
	}
	if (is_run)
		plan->run = copy;
	else
		plan->build[plan->nbuild++] = copy;
	return 0;
}

/* The glot docker-run form: {"buildCommands": [...], "runCommand": "..."} */
static int
runner_instructions(struct json_object *ins, struct runner_plan *plan,
    char *err, size_t errlen)
{
	struct json_object *builds = NULL, *cmd;
	const char *run;
	size_t i, n = 0, len;

	if (!json_object_is_type(ins, json_type_object)) {
		snprintf(err, errlen, "runInstructions: not an object");
		return -1;
	}
	if (json_object_object_get_ex(ins, "buildCommands", &builds) &&
	    builds != NULL) {
		if (!json_object_is_type(builds, json_type_array)) {
			snprintf(err, errlen, "buildCommands: not an array");
			return -1;
		}
		n = json_object_array_length(builds);
	}
	if (runner_string(ins, "runCommand", 0, &run, &len, err, errlen) == -1)
		return -1;
	if (run == NULL || len == 0) {
		snprintf(err, errlen, "runCommand: missing or empty");
		return -1;
	}
	if ((plan->build = calloc(n + 1, sizeof(*plan->build))) == NULL) {
		snprintf(err, errlen, "plan: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		cmd = json_object_array_get_idx(builds, i);
		if (files_check_string(cmd, 0) == -1) {
			snprintf(err, errlen,
			    "buildCommands[%zu]: not a string or NUL byte", i);
			return -1;
		}
		if (runner_commands_add(plan, json_object_get_string(cmd), 0,
		    err, errlen) == -1)
			return -1;
	}
	return runner_commands_add(plan, run, 1, err, errlen);
}

/* What to run, chosen as languages_form() says. */
static int
runner_commands(struct payload *p, char *err, size_t errlen)
{
	struct json_object *ins = NULL;
	const char *command, *language;
	size_t clen, len;

	if (runner_string(p->root, "command", 0, &command, &clen, err,
	    errlen) == -1 ||
	    runner_string(p->root, "language", 0, &language, &len, err,
	    errlen) == -1)
		return -1;
	json_object_object_get_ex(p->root, "runInstructions", &ins);
	switch (languages_form(language, clen > 0, ins != NULL)) {
	case LANGUAGES_DEFAULTS:
		return languages_plan(language, &p->files, &p->plan, err,
		    errlen);
	case LANGUAGES_COMMAND:
		return runner_commands_add(&p->plan, command, 1, err, errlen);
	case LANGUAGES_INSTRUCTIONS:
		return runner_instructions(ins, &p->plan, err, errlen);
	case LANGUAGES_NONE:
		break;
	}
	snprintf(err, errlen, "language: missing and no command");
	return -1;
}

/* Reads and checks the whole payload; nothing is written yet. */
static int
runner_payload(struct payload *p, char *err, size_t errlen)
{
	struct json_object *files = NULL, *tests = NULL;

	if ((p->root = runner_read(err, errlen)) == NULL)
		return -1;
	if (!json_object_is_type(p->root, json_type_object)) {
		snprintf(err, errlen, "payload: not a JSON object");
		return -1;
	}
	if (runner_string(p->root, "stdin", 1, &p->input, &p->inlen, err,
	    errlen) == -1)
		return -1;
	json_object_object_get_ex(p->root, "files", &files);
	if (files_load(files, &p->files, err, errlen) == -1)
		return -1;
	if (json_object_object_get_ex(p->root, "tests", &tests) &&
	    tests != NULL && tests_load(tests, &p->tests, err, errlen) == -1)
		return -1;
	return runner_commands(p, err, errlen);
}

/*
 * Runs the build commands, each with what is left of the output budget
 * (a build that works has its output dropped), until one fails: its
 * output and error (in err) are then the result's, as a compile_error
 * unless a limit stopped it.  Returns -1 with the reason in err if a
 * command could not be run at all.
 */
static int
runner_build(const struct payload *p, long long deadline, long long time_ms,
    size_t budget, struct runner_result *r, struct exec_result *res,
    char *err, size_t errlen)
{
	struct usage step;
	long long oom;
	size_t i, left;

	r->built = p->plan.nbuild > 0;
	for (i = 0; i < p->plan.nbuild; i++) {
		left = budget;
		oom = usage_oom_kills();
		if (exec_run(p->plan.build[i], "", 0, deadline, &left, res,
		    err, errlen) == -1)
			return -1;
		usage_measure(res, oom, &step);
		usage_describe(res, &step, time_ms, err, errlen);
		if (step.verdict == VERDICT_RUNTIME_ERROR ||
		    step.verdict == VERDICT_KILLED)
			step.verdict = VERDICT_COMPILE_ERROR;
		usage_add(&r->build, &step);
		r->run.memory_peak = step.memory_peak;
		if (step.verdict != VERDICT_OK) {
			r->run.verdict = step.verdict;
			return 0;
		}
		exec_free(res);
	}
	return 0;
}

/* When the build must be over, and the whole run, in the monotonic clock. */
static void
runner_deadlines(const struct payload *p, const struct runner_limits *lim,
    long long start, long long *build, long long *whole)
{
	long long runs = p->tests.count > 0 ? (long long)p->tests.count : 1;
	long long ms;

	if (!lim->separate && p->tests.count == 0) {
		*build = *whole = start + lim->time_ms * 1000000;
		return;
	}
	ms = lim->compile_ms + lim->time_ms * runs;
	if (ms > lim->deadline_ms)
		ms = lim->deadline_ms;
	*whole = start + ms * 1000000;
	*build = start + lim->compile_ms * 1000000;
	if (*build > *whole)
		*build = *whole;
}

/*
 * Runs the build commands, then the program once, or once per test; the
 * first command that fails gives the result, with its error (or "") in
 * err.  Returns -1 with the reason in err if a command could not be run
 * at all.
 */
static int
runner_run(const struct payload *p, const struct runner_limits *lim,
    struct runner_result *r, struct exec_result *res, char *err, size_t errlen)
{
	long long start = exec_clock_ns(), build, whole, end, oom;
	size_t budget, reserve;
	int rc = -1;

	runner_deadlines(p, lim, start, &build, &whole);
	reserve = OUTPUT_RESERVE + p->tests.count * OUTPUT_TEST_RESERVE;
	budget = (size_t)lim->output > reserve ? (size_t)lim->output -
	    reserve : 0;
	if (runner_build(p, build, lim->separate || p->tests.count > 0 ?
	    lim->compile_ms : lim->time_ms, budget, r, res, err, errlen) == -1)
		goto done;
	if (r->run.verdict == VERDICT_OK && p->tests.count > 0) {
		err[0] = '\0';
		if (tests_run(&p->tests, p->plan.run, lim->time_ms, whole,
		    &budget, &r->tests, &r->run, err, errlen) == -1)
			goto done;
	} else if (r->run.verdict == VERDICT_OK) {
		end = exec_clock_ns() + lim->time_ms * 1000000;
		oom = usage_oom_kills();
		if (exec_run(p->plan.run, p->input, p->inlen, end < whole ?
		    end : whole, &budget, res, err, errlen) == -1)
			goto done;
		usage_measure(res, oom, &r->run);
		usage_describe(res, &r->run, lim->time_ms, err, errlen);
	}
	r->out = res->out.data ? res->out.data : "";
	r->outlen = res->out.len;
	r->err = res->err.data ? res->err.data : "";
	r->errlen = res->err.len;
	rc = 0;
done:
	r->duration_ns = exec_clock_ns() - start;
	return rc;
}

static int
runner_print(const struct runner_result *r)
{
	size_t len, off = 0;
	ssize_t n;
	char *text;

	if ((text = output_format(r, &len)) == NULL)
		return -1;
	text[len++] = '\n';
	while (off < len) {
		if ((n = write(STDOUT_FILENO, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			free(text);
			return -1;
		}
		off += (size_t)n;
	}
	free(text);
	return 0;
}

int
main(void)
{
	char reason[RUNNER_ERRLEN - 8], error[RUNNER_ERRLEN];
	struct runner_limits lim;
	struct runner_result r;
	struct exec_result res;
	struct payload p;

	/*
	 * The program runs as our uid: not dumpable, our /proc entries
	 * (fd/1, mem) belong to root and ptrace is refused, so it cannot
	 * write to our stdout or take us over.  exec() gives the program a
	 * dumpable state of its own.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		fprintf(stderr, "runbox-runner: prctl: %s\n", strerror(errno));
		return 1;
	}
	memset(&p, 0, sizeof(p));
	memset(&res, 0, sizeof(res));
	memset(&r, 0, sizeof(r));
	r.out = r.err = "";
	r.error = reason;
	r.run.exit_code = r.build.exit_code = -1;
	r.run.memory_peak = r.build.memory_peak = -1;
	/* The payload comes first: stdin is read to its end whatever fails. */
	if (runner_payload(&p, reason, sizeof(reason)) == -1 ||
	    runner_limits(&p, &lim, reason, sizeof(reason)) == -1 ||
	    exec_init(reason, sizeof(reason)) == -1 ||
	    files_write(&p.files, reason, sizeof(reason)) == -1 ||
	    runner_run(&p, &lim, &r, &res, reason, sizeof(reason)) == -1) {
		/* The prefix tells the runner's own failures apart. */
		snprintf(error, sizeof(error), "runner: %s", reason);
		r.error = error;
		r.run.verdict = VERDICT_RUNNER_ERROR;
	}
	if (runner_print(&r) == -1) {
		fprintf(stderr, "runbox-runner: cannot print the result: %s\n",
		    strerror(errno));
		return 1;
	}
	exec_free(&res);
	json_object_put(r.tests);
	tests_free(&p.tests);
	languages_free(&p.plan);
	files_free(&p.files);
	json_object_put(p.root);
	return 0;
}
