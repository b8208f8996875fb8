/*
 * runbox-runner internals: one header, grouped by the file that implements
 * each function.  The runner runs inside every sandbox image, reads one
 * glot-compatible JSON payload on stdin and prints one JSON result.
 * Exported functions are named file_verb().
 */
#ifndef RUNBOX_RUNNER_H
#define RUNBOX_RUNNER_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

#define RUNNER_ERRLEN 256

/* verdict.c: how a run ended, in the result's "usage": {"status": ...} */
enum verdict {
	VERDICT_OK,
	VERDICT_COMPILE_ERROR, /* a build command failed */
	VERDICT_RUNTIME_ERROR, /* the program exited with a non-zero code */
	VERDICT_KILLED,        /* the program died of a signal */
	VERDICT_TIME_LIMIT,
	VERDICT_OUTPUT_LIMIT,
	VERDICT_RUNNER_ERROR,  /* the runner could not run the program */
	VERDICT_MEMORY_LIMIT,  /* the kernel's OOM killer struck in the step */
	VERDICT_NOT_RUN,       /* a test left out: the run's deadline came */
	VERDICT_MAX
};
const char *verdict_name(enum verdict v);
int verdict_parse(const char *name, enum verdict *v);

/*
 * files.c.  runboxd links it too and checks a request with the same
 * limits and rules before it creates a container.
 */
#define FILES_MAX 1000      /* entries of "files" */
#define FILES_NAME_MAX 255  /* bytes of a file name */
#define FILES_CONTENT_MAX (16 * 1024 * 1024)

struct runner_file {
	const char *name; /* borrowed from the payload, like content */
	const char *content;
	size_t len;
};

struct runner_files {
	struct runner_file *v; /* v[0] is the main file */
	size_t count;
};

int files_check_string(struct json_object *s, size_t max);
int files_check_name(const char *name, char *err, size_t errlen);
int files_check_clash(const char *a, const char *b);
int files_load(struct json_object *array, struct runner_files *files, char *err,
    size_t errlen);
int files_write(const struct runner_files *files, char *err, size_t errlen);
void files_free(struct runner_files *files);

/* languages.c */
struct runner_plan {
	char **build; /* shell commands run before the program, may be none */
	size_t nbuild;
	char *run;
};

/* Which of a payload's ways to run its files the runner takes. */
enum languages_form {
	LANGUAGES_DEFAULTS,     /* the language's build and run commands */
	LANGUAGES_COMMAND,      /* "command" with sh -c */
	LANGUAGES_INSTRUCTIONS, /* "runInstructions" */
	LANGUAGES_NONE          /* none given */
};

int languages_known(const char *language);
enum languages_form languages_form(const char *language, int has_command,
    int has_instructions);
int languages_plan(const char *language, const struct runner_files *files,
    struct runner_plan *plan, char *err, size_t errlen);
void languages_free(struct runner_plan *plan);

/* output.c: where a stream is in a UTF-8 sequence; all zero at its start */
struct output_meter {
	unsigned char need;   /* continuation bytes still to come */
	unsigned char len;    /* bytes of the sequence so far */
	unsigned char lo, hi; /* the range of the next one */
};

/* exec.c */
struct exec_capture {
	char *data;
	size_t len;
	struct output_meter meter;
};

struct exec_result {
	struct exec_capture out;
	struct exec_capture err;
	int status;          /* waitpid() status of sh -c */
	int timed_out;
	int output_exceeded;
	long long wall_ns;   /* from the fork to the exit of sh -c */
	long long cpu_ns;    /* of every process of the command, reaped */
	struct rusage ru;    /* of sh -c and the children it waited for */
};

int exec_init(char *err, size_t errlen);
long long exec_clock_ns(void);
int exec_run(const char *command, const char *input, size_t inlen,
    long long deadline_ns, size_t *budget, struct exec_result *res, char *err,
    size_t errlen);
void exec_describe(const struct exec_result *res, long long time_limit_ms,
    char *buf, size_t len);
enum verdict exec_verdict(const struct exec_result *res);
void exec_free(struct exec_result *res);

/* usage.c: what one step (the build, the program, a test) used */
struct usage {
	enum verdict verdict;
	int exit_code;         /* -1: none (a signal, a timeout, not run) */
	int signal;            /* 0: none */
	long long wall_ns;
	long long cpu_ns;      /* user + system of the step's processes */
	long long max_rss;     /* bytes, the step's largest process */
	long long memory_peak; /* bytes, the container's cgroup; -1: unknown */
};

long long usage_oom_kills(void);
void usage_measure(const struct exec_result *res, long long oom_before,
    struct usage *u);
void usage_describe(const struct exec_result *res, const struct usage *u,
    long long time_limit_ms, char *buf, size_t len);
void usage_add(struct usage *total, const struct usage *step);
struct json_object *usage_json(const struct usage *u);

/* snapshot.c: the work dir after the build, put back before each test */
struct snapshot_entry {
	char *path;  /* relative to the work dir */
	mode_t mode; /* with the file type */
	char *data;  /* a file's content, a link's target */
	size_t len;
	struct timespec mtime;
};

struct snapshot {
	struct snapshot_entry *v;
	size_t count;
	size_t cap;
	mode_t root_mode;
};

int snapshot_take(struct snapshot *s, char *err, size_t errlen);
int snapshot_restore(const struct snapshot *s, char *err, size_t errlen);
void snapshot_free(struct snapshot *s);

/* tests.c: the payload's "tests", one run of the program each */
#define TESTS_MAX 1000

struct runner_test {
	const char *input; /* borrowed from the payload */
	size_t inlen;
	const char *expected; /* NULL: nothing to compare with */
	size_t explen;
};

struct runner_tests {
	struct runner_test *v;
	size_t count;
};

int tests_load(struct json_object *array, struct runner_tests *t, char *err,
    size_t errlen);
int tests_match(const char *out, size_t outlen, const char *expected,
    size_t explen);
int tests_run(const struct runner_tests *t, const char *command,
    long long time_ms, long long deadline_ns, size_t *budget,
    struct json_object **results, struct usage *total, char *err,
    size_t errlen);
void tests_free(struct runner_tests *t);

/* output.c */
/*
 * Bytes of the result document kept for everything but the stdout and
 * stderr strings: the keys, the duration, the usage, the summary of tests
 * and an error message of up to RUNNER_ERRLEN bytes even if every byte
 * were escaped as \u00XX.  Each test keeps OUTPUT_TEST_RESERVE more for
 * its keys, its usage and its own (short, ASCII) error.
 */
#define OUTPUT_RESERVE 3072
#define OUTPUT_TEST_RESERVE 768

struct runner_result {
	const char *out;
	size_t outlen;
	const char *err;
	size_t errlen;
	const char *error;
	long long duration_ns;
	struct usage run;   /* the program, or all the tests together */
	struct usage build; /* all build commands together */
	int built;          /* there was a build step */
	struct json_object *tests; /* {"tests", "summary"}, or NULL */
};

size_t output_take(struct output_meter *m, const char *data, size_t len,
    size_t *budget);
char *output_utf8(const char *in, size_t len, size_t *outlen);
int output_add(struct json_object *obj, const char *key, const char *s,
    size_t len);
int output_put(struct json_object *obj, const char *key,
    struct json_object *v);
struct json_object *output_test(const struct exec_result *res,
    const char *error, const struct usage *u, int passed);
char *output_format(const struct runner_result *res, size_t *len);

#endif
