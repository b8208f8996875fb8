/* Validation of POST /run bodies before any container is created. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runbox.h"
#include "runner.h"
#include "tap.h"

/* Parses and checks body; "ok", or the error's code name and message. */
static const char *
parse(const char *body, struct error *e)
{
	struct run_request r;

	memset(e, 0, sizeof(*e));
	if (request_parse_run(body, strlen(body), &r, e) == -1)
		return error_name(e->code);
	if (request_check_payload(r.payload, e) == -1) {
		request_free(&r);
		return error_name(e->code);
	}
	request_free(&r);
	return "ok";
}

static const char *
parse_code(const char *body)
{
	struct error e;

	return parse(body, &e);
}

/* The message a body is refused with, "" if it is accepted. */
static const char *
parse_message(const char *body)
{
	static struct error e;

	if (strcmp(parse(body, &e), "ok") == 0)
		return "";
	return e.message;
}

/* A string of n copies of c; the caller frees it. */
static char *
repeat(const char *s, size_t n)
{
	size_t len = strlen(s), i;
	char *out;

	if ((out = malloc(len * n + 1)) == NULL)
		abort();
	for (i = 0; i < n; i++)
		memcpy(out + i * len, s, len);
	out[len * n] = '\0';
	return out;
}

/* printf into a new string; the caller frees it. */
static char *
format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *
format(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	if (vasprintf(&out, fmt, ap) == -1)
		abort();
	va_end(ap);
	return out;
}

#define IS(body, code, name) \
	ok(strcmp(parse_code(body), code) == 0, "%s -> %s", name, code)

#define FILES "\"files\":[{\"name\":\"main.py\",\"content\":\"print(1)\"}]"

static void
test_envelope(void)
{
	struct run_request r;
	struct error e;
	const char *body = "{\"image\":\"runbox/python\",\"payload\":"
	    "{\"language\":\"python\"," FILES "}}";

	ok(request_parse_run(body, strlen(body), &r, &e) == 0 &&
	    strcmp(r.image, "runbox/python") == 0 && r.payload != NULL,
	    "a glot request parses with its image and payload");
	request_free(&r);
	IS("", "request.json", "empty body");
	IS("{", "request.json", "truncated JSON");
	IS("{\"image\":\"x\",\"payload\":{}} trailing", "request.json",
	    "trailing garbage");
	IS("[1,2]", "request.json", "array body");
	IS("{\"payload\":{}}", "request.json", "missing image");
	IS("{\"image\":\"\",\"payload\":{}}", "request.json", "empty image");
	IS("{\"image\":7,\"payload\":{}}", "request.json", "image not a string");
	IS("{\"image\":\"a\\u0000b\",\"payload\":{}}", "request.json",
	    "image with a NUL byte");
	IS("{\"image\":\"x\"}", "request.json", "missing payload");
	IS("{\"image\":\"x\",\"payload\":\"code\"}", "request.json",
	    "payload not an object");
	IS("{'image':'x'}", "request.json", "single quotes (strict JSON)");
	IS("{\"image\":\"\xff\",\"payload\":{}}", "request.json",
	    "invalid UTF-8");
	IS("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	    "]]]]]]]]]]]", "request.json", "nesting deeper than the limit");
	ok(request_check_content_type(NULL, &e) == 0 &&
	    request_check_content_type("application/json", &e) == 0 &&
	    request_check_content_type("Application/JSON; charset=utf-8",
	    &e) == 0 &&
	    request_check_content_type("application/vnd.api+json", &e) == 0,
	    "JSON content types and none are accepted");
	ok(request_check_content_type("application/x-www-form-urlencoded",
	    &e) == 0, "curl -d's default type is accepted, as glot did");
	ok(request_check_content_type("multipart/form-data; boundary=x",
	    &e) == -1, "multipart/form-data is refused");
	ok(request_check_content_type("text/plain", &e) == -1 &&
	    e.code == ERROR_REQUEST_CONTENT_TYPE && error_status(e.code) == 415,
	    "text/plain is 415 request.content_type");
	ok(request_check_content_type("application/jsonx", &e) == -1,
	    "application/jsonx is refused");
}

#define RUN(payload) "{\"image\":\"x\",\"payload\":" payload "}"

static void
test_payload(void)
{
	IS(RUN("{\"language\":\"python\"," FILES "}"), "ok", "language+files");
	IS(RUN("{\"language\":\"python\"," FILES ",\"stdin\":\"1\","
	    "\"command\":\"python3 main.py\"}"), "ok", "stdin and command");
	IS(RUN("{\"language\":\"python\"," FILES ",\"stdin\":null,"
	    "\"command\":null}"), "ok", "null stdin and command are absent");
	IS(RUN("{\"runInstructions\":{\"buildCommands\":[\"cc main.c\"],"
	    "\"runCommand\":\"./a.out\"}," FILES "}"), "ok", "runInstructions");
	IS(RUN("{\"language\":\"python\",\"future\":1," FILES "}"), "ok",
	    "unknown payload fields are passed on");
	IS(RUN("{\"language\":\"python\"}"), "request.payload", "no files");
	IS(RUN("{\"language\":\"python\",\"files\":[]}"), "request.payload",
	    "empty files for a language's defaults");
	IS(RUN("{\"runInstructions\":{\"buildCommands\":[],"
	    "\"runCommand\":\"python --version\"},\"files\":[],"
	    "\"stdin\":null}"), "ok",
	    "empty files with runInstructions, as glot asks for a version");
	IS(RUN("{\"command\":\"ls\",\"files\":[]}"), "ok",
	    "empty files with a command");
	IS(RUN("{\"language\":\"python\",\"command\":\"ls\","
	    "\"files\":[]}"), "ok",
	    "empty files with a language and a command");
	IS(RUN("{\"language\":\"python\",\"runInstructions\":{"
	    "\"runCommand\":\"ls\"},\"files\":[]}"), "request.payload",
	    "a known language wins over runInstructions, and needs a file");
	IS(RUN("{\"language\":\"zig\",\"runInstructions\":{"
	    "\"runCommand\":\"ls\"},\"files\":[]}"), "ok",
	    "runInstructions win over a language the runner does not know");
	IS(RUN("{\"runInstructions\":{\"runCommand\":\"ls\"}}"),
	    "request.payload", "files is required even with runInstructions");
	IS(RUN("{\"language\":\"python\",\"files\":{}}"), "request.payload",
	    "files not an array");
	IS(RUN("{\"language\":\"python\",\"files\":[\"x\"]}"),
	    "request.payload", "file not an object");
	IS(RUN("{\"language\":\"python\",\"files\":[{\"name\":\"a\"}]}"),
	    "request.payload", "file without content");
	IS(RUN("{\"language\":\"python\",\"files\":[{\"name\":\"/etc/passwd\","
	    "\"content\":\"\"}]}"), "request.payload", "absolute file name");
	IS(RUN("{\"language\":\"python\",\"files\":[{\"name\":\"a/../../x\","
	    "\"content\":\"\"}]}"), "request.payload", "'..' in a file name");
	IS(RUN("{\"language\":\"python\",\"files\":[{\"name\":\"a\\u0000b\","
	    "\"content\":\"\"}]}"), "request.payload", "NUL in a file name");
	IS(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"a.c\","
	    "\"content\":\"\"},{\"name\":\"a.c\",\"content\":\"\"}]}"),
	    "request.payload", "two files with one name");
	IS(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"a\","
	    "\"content\":\"\"},{\"name\":\"a/b.c\",\"content\":\"\"}]}"),
	    "request.payload", "a file where another needs a directory");
	IS(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"a\","
	    "\"content\":\"\"},{\"name\":\"ab/c\",\"content\":\"\"}]}"),
	    "ok", "a name that merely starts like another");
	IS(RUN("{\"language\":5," FILES "}"), "request.payload",
	    "language not a string");
	IS(RUN("{" FILES "}"), "request.payload", "no language nor command");
	IS(RUN("{\"runInstructions\":{\"buildCommands\":[1],"
	    "\"runCommand\":\"x\"}," FILES "}"), "request.payload",
	    "build command not a string");
	IS(RUN("{\"runInstructions\":{}," FILES "}"), "request.payload",
	    "runInstructions without runCommand");
	IS(RUN("{\"language\":\"python\"," FILES ",\"stdin\":[]}"),
	    "request.payload", "stdin not a string");
	IS(RUN("{\"language\":\"zig\"," FILES "}"), "request.payload",
	    "a language the runner does not know, alone");
	IS(RUN("{\"language\":\"zig\",\"command\":\"zig run main.zig\","
	    FILES "}"), "ok", "a language the runner does not know, with a "
	    "command");
	IS(RUN("{\"language\":\"\"," FILES "}"), "request.payload",
	    "an empty language, alone");
	IS(RUN("{\"language\":\"\",\"command\":\"ls\"," FILES "}"), "ok",
	    "an empty language with a command");
	IS(RUN("{\"runInstructions\":{\"runCommand\":\"\"}," FILES "}"),
	    "request.payload", "an empty runCommand");
	IS(RUN("{\"language\":\"python\",\"runInstructions\":{"
	    "\"runCommand\":\"\"}," FILES "}"), "ok",
	    "an empty runCommand a known language leaves unread");
}

#define SAYS(body, want, name) do { \
	const char *got_ = parse_message(body); \
	ok(strcmp(got_, want) == 0, "%s: '%s'", name, got_); \
} while (0)

/* SAYS for the body fmt with n copies of unit for its %s. */
#define SAYS_LONG(fmt, unit, n, want, name) do { \
	char *s_ = repeat((unit), (n)), *body_ = format((fmt), s_); \
	SAYS(body_, (want), (name)); \
	free(body_); \
	free(s_); \
} while (0)

#define SH "{\"name\":\"main.sh\",\"content\":\"\"}"

/* A request with n files of distinct names; the caller frees it. */
static char *
many_files(size_t n)
{
	char *body, *p;
	size_t i;

	if ((body = malloc(n * 32 + 128)) == NULL)
		abort();
	p = body + sprintf(body, "{\"image\":\"x\",\"payload\":"
	    "{\"language\":\"c\",\"files\":[");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s{\"name\":\"f%zu\",\"content\":\"\"}",
		    i ? "," : "", i);
	strcpy(p, "]}}");
	return body;
}

/* The exact messages, so that moving a rule cannot change what clients read. */
static void
test_messages(void)
{
	struct error e;
	json_object *o;
	char *body;

	SAYS_LONG("{\"image\":\"%s\",\"payload\":{}}", "a", 255,
	    "payload.files is missing", "an image of 255 bytes passes");
	SAYS_LONG("{\"image\":\"%s\",\"payload\":{}}", "a", 256,
	    "image must be a non-empty string of at most 255 bytes",
	    "an image of 256 bytes");

	o = json_object_new_array();
	ok(request_check_payload(o, &e) == -1 &&
	    strcmp(e.message, "payload must be an object") == 0,
	    "a payload that is not an object: '%s'", e.message);
	json_object_put(o);

	SAYS(RUN("{\"language\":5," FILES "}"),
	    "payload.language must be of type string", "language not a string");
	SAYS_LONG(RUN("{\"language\":\"%s\",\"command\":\"x\"," FILES "}"),
	    "a", 64, "", "a language of 64 bytes");
	SAYS_LONG(RUN("{\"language\":\"%s\"," FILES "}"), "a", 65,
	    "payload.language must be at most 64 bytes without NUL bytes",
	    "a language of 65 bytes");
	SAYS(RUN("{\"language\":\"py\\u0000\"," FILES "}"),
	    "payload.language must be at most 64 bytes without NUL bytes",
	    "a language with a NUL byte");
	SAYS_LONG(RUN("{\"command\":\"%s\"," FILES "}"), "a", 65537,
	    "payload.command must be at most 65536 bytes without NUL bytes",
	    "a command of 65537 bytes");
	SAYS(RUN("{\"language\":\"c\",\"stdin\":\"\\u0000\"," FILES "}"),
	    "", "stdin may hold NUL bytes");

	SAYS(RUN("{\"language\":\"c\"}"), "payload.files is missing",
	    "no files");
	SAYS(RUN("{\"language\":\"c\",\"files\":[]}"),
	    "payload.files is empty: language 'c' needs a main file",
	    "empty files");
	body = many_files(FILES_MAX);
	SAYS(body, "", "FILES_MAX files");
	free(body);
	body = many_files(FILES_MAX + 1);
	SAYS(body, "payload.files holds more than 1000 files",
	    "more than FILES_MAX files");
	free(body);
	SAYS(RUN("{\"language\":\"c\",\"files\":[" SH ",7]}"),
	    "payload.files[1] must be an object", "a file not an object");
	SAYS(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"a\"}]}"),
	    "payload.files[0].content is missing", "a file without content");
	SAYS(RUN("{\"language\":\"c\",\"files\":[{\"name\":1,"
	    "\"content\":\"\"}]}"), "payload.files[0].name must be of type "
	    "string", "a name not a string");
	SAYS(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"a\",\"content\":"
	    "\"\\u0000\"}]}"), "", "content may hold NUL bytes");
	SAYS(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"a\\u0000b\","
	    "\"content\":\"\"}]}"), "payload.files[0].name holds a NUL byte",
	    "a name with a NUL byte");
	SAYS(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"a/../../x\","
	    "\"content\":\"\"}]}"),
	    "payload.files[0].name 'a/../../x': '..' component",
	    "a name the runner refuses");
	SAYS_LONG(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"%s\","
	    "\"content\":\"\"}]}"), "a", FILES_NAME_MAX + 1,
	    "payload.files[0].name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': name too long (more than 255 "
	    "bytes)", "a name longer than FILES_NAME_MAX, quoted to 200 bytes");
	SAYS(RUN("{\"language\":\"c\",\"files\":[{\"name\":\"a\","
	    "\"content\":\"\"},{\"name\":\"b\",\"content\":\"\"},"
	    "{\"name\":\"a/b\",\"content\":\"\"}]}"),
	    "payload.files[2].name 'a/b' clashes with payload.files[0].name "
	    "'a'", "a name under another file's name");

	SAYS(RUN("{\"runInstructions\":[]," FILES "}"),
	    "payload.runInstructions must be of type object",
	    "runInstructions not an object");
	SAYS(RUN("{\"runInstructions\":{\"buildCommands\":[]}," FILES "}"),
	    "payload.runInstructions.runCommand is missing",
	    "runInstructions without runCommand");
	SAYS(RUN("{\"runInstructions\":{\"runCommand\":\"a\\u0000\"},"
	    FILES "}"), "payload.runInstructions.runCommand must be at most "
	    "65536 bytes without NUL bytes", "a runCommand with a NUL byte");
	SAYS(RUN("{\"runInstructions\":{\"buildCommands\":\"make\","
	    "\"runCommand\":\"x\"}," FILES "}"),
	    "payload.runInstructions.buildCommands must be of type array",
	    "buildCommands not an array");
	SAYS_LONG(RUN("{\"runInstructions\":{\"buildCommands\":[%s\"x\"],"
	    "\"runCommand\":\"x\"}," FILES "}"), "\"x\",", 63, "",
	    "64 build commands");
	SAYS_LONG(RUN("{\"runInstructions\":{\"buildCommands\":[%s\"x\"],"
	    "\"runCommand\":\"x\"}," FILES "}"), "\"x\",", 64,
	    "payload.runInstructions.buildCommands holds more than 64 commands",
	    "65 build commands");
	SAYS(RUN("{\"runInstructions\":{\"buildCommands\":[\"x\",1],"
	    "\"runCommand\":\"x\"}," FILES "}"),
	    "payload.runInstructions.buildCommands[1] must be a string of at "
	    "most 65536 bytes", "a build command not a string");
	SAYS_LONG(RUN("{\"runInstructions\":{\"buildCommands\":[\"%s\"],"
	    "\"runCommand\":\"x\"}," FILES "}"), "a", 65537,
	    "payload.runInstructions.buildCommands[0] must be a string of at "
	    "most 65536 bytes", "a build command of 65537 bytes");

	SAYS(RUN("{\"runInstructions\":{\"buildCommands\":[\"a\\u0000\"],"
	    "\"runCommand\":\"x\"}," FILES "}"),
	    "payload.runInstructions.buildCommands[0] holds a NUL byte",
	    "a build command with a NUL byte, which the runner refuses");

	SAYS(RUN("{" FILES "}"), "payload needs a language, a command or "
	    "runInstructions", "no language, command nor runInstructions");
	SAYS(RUN("{\"language\":\"zig\"," FILES "}"),
	    "payload.language 'zig' is not supported: send a command or "
	    "runInstructions", "a language the runner does not know");
	SAYS(RUN("{\"language\":\"zig\",\"files\":[]}"),
	    "payload.language 'zig' is not supported: send a command or "
	    "runInstructions", "an unknown language before empty files");
	SAYS(RUN("{\"language\":\"\"," FILES "}"), "payload.language is empty",
	    "an empty language");
	SAYS(RUN("{\"runInstructions\":{\"buildCommands\":[\"x\"],"
	    "\"runCommand\":\"\"}," FILES "}"),
	    "payload.runInstructions.runCommand is empty", "an empty runCommand");
	SAYS(RUN("{\"language\":\"zig\",\"runInstructions\":{"
	    "\"runCommand\":\"\"}," FILES "}"),
	    "payload.runInstructions.runCommand is empty",
	    "an empty runCommand with an unknown language");
}

#define DIGEST "sha256:" \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Docker's reference grammar, so that no other byte reaches a log line. */
static void
test_image_grammar(void)
{
	static const char *valid[] = {
		"runbox/python:latest", "glot/clang:latest",
		"localhost:5000/a/b:tag", "a@" DIGEST, "x", "python",
		"a.b-c__d_e--f/g", "registry.example.com/team/img:v1.2-rc_3",
		"Registry.Example.com:443/a", "[::1]:5000/a:t", "localhost/a",
		"a:_tag", "a/b:t@" DIGEST, "Runbox/python", NULL
	};
	static const char *invalid[] = {
		"runbox/tiny\n2024-01-01T00:00:00Z runboxd[1]: request=x",
		"runbox/Python", "Python", "runbox//python", "/python",
		"python/", "runbox/python:", "run box/python", "python latest",
		"a@sha256:0123", "a@md5:" "0123456789abcdef0123456789abcdef",
		"a:.tag", "a:-tag", "a:t@g", "_a", "a_", "a._b", "a___b",
		"-a/b", "a.b:/c", "a.b:x/c", "ex_ample.com:80/a", "[::1/a",
		"a\tb", "a@" DIGEST "0", ":tag", "a/b@", NULL
	};
	char *tag;
	size_t i;

	for (i = 0; valid[i] != NULL; i++)
		ok(request_check_image(valid[i]) == 0, "'%s' is a valid image",
		    valid[i]);
	for (i = 0; invalid[i] != NULL; i++)
		ok(request_check_image(invalid[i]) == -1,
		    "'%s' is not a valid image", invalid[i]);
	tag = format("a:%0128d", 0);
	ok(request_check_image(tag) == 0, "a tag of 128 bytes is valid");
	free(tag);
	tag = format("a:%0129d", 0);
	ok(request_check_image(tag) == -1, "a tag of 129 bytes is not");
	free(tag);
	SAYS("{\"image\":\"a\\nfake line\",\"payload\":{}}",
	    "image is not a valid image reference (Docker's grammar, e.g. "
	    "glot/python:latest)", "an image with a newline");
	IS("{\"image\":\"runbox/Python\",\"payload\":{}}", "request.json",
	    "an image with upper case");
}

/* Checks body's limits and tests against cap; "ok" or the error's code. */
static const char *
limits_code(const char *body, const struct limits *cap,
    struct run_limits *rl)
{
	struct run_request r;
	struct error e;
	const char *code = "ok";

	memset(&e, 0, sizeof(e));
	if (request_parse_run(body, strlen(body), &r, &e) == -1)
		return error_name(e.code);
	if (request_check_payload(r.payload, &e) == -1 ||
	    request_check_limits(&r, cap, rl, &e) == -1)
		code = error_name(e.code);
	request_free(&r);
	return code;
}

#define WITH(limits, tests) "{\"image\":\"a\",\"payload\":{\"command\":" \
	"\"x\",\"files\":[]" tests "}" limits "}"

static void
test_limits(void)
{
	struct limits cap = { .execution_time = 10000, .output_size = 65536,
	    .memory = 256LL << 20, .pids = 64, .run_deadline = 30000,
	    .tests_max = 2, .tests_stdin_size = 4 };
	struct run_limits rl;

	ok(strcmp(limits_code(WITH("", ""), &cap, &rl), "ok") == 0 &&
	    !rl.given && rl.l.execution_time == 10000 &&
	    rl.compile_time == 10000 && rl.tests == 0,
	    "without limits, the image's");
	ok(strcmp(limits_code(WITH(",\"limits\":{\"execution_time\":\"200ms\","
	    "\"memory\":\"64M\",\"pids\":8,\"compile_time\":3000}", ""),
	    &cap, &rl), "ok") == 0 && rl.given &&
	    rl.l.execution_time == 200 && rl.l.memory == 64LL << 20 &&
	    rl.l.pids == 8 && rl.compile_time == 3000 &&
	    rl.l.output_size == 65536, "lower limits are taken, in units");
	ok(strcmp(limits_code(WITH(",\"limits\":{\"memory\":\"1G\"}", ""),
	    &cap, &rl), "request.limits") == 0, "over the cap: refused");
	ok(strcmp(limits_code(WITH(",\"limits\":{\"pids\":7}", ""), &cap,
	    &rl), "request.limits") == 0, "under the minimum: refused");
	ok(strcmp(limits_code(WITH(",\"limits\":{\"execution_time\":\"2\"}",
	    ""), &cap, &rl), "request.limits") == 0,
	    "a time without its unit: refused");
	ok(strcmp(limits_code(WITH(",\"limits\":{\"execution_time\":1.5}",
	    ""), &cap, &rl), "request.limits") == 0, "a float: refused");
	ok(strcmp(limits_code(WITH(",\"limits\":{\"cpus\":1}", ""), &cap,
	    &rl), "request.limits") == 0, "an unknown limit: refused");
	ok(strcmp(limits_code(WITH(",\"limits\":[]", ""), &cap, &rl),
	    "request.limits") == 0, "limits not an object: refused");
	ok(strcmp(limits_code(WITH("", ",\"tests\":[{\"stdin\":\"ab\"},"
	    "{\"stdin\":\"cd\",\"expected_stdout\":\"x\"}]"), &cap, &rl),
	    "ok") == 0 && rl.tests == 2, "tests within the caps");
	ok(strcmp(limits_code(WITH("", ",\"tests\":[{},{},{}]"), &cap, &rl),
	    "request.payload") == 0, "more tests than tests_max: refused");
	ok(strcmp(limits_code(WITH("", ",\"tests\":[{\"stdin\":\"abcde\"}]"),
	    &cap, &rl), "request.payload") == 0,
	    "more test stdin than tests_stdin_size: refused");
	ok(strcmp(limits_code(WITH("", ",\"tests\":[]"), &cap, &rl),
	    "request.payload") == 0, "no tests at all: refused");
	ok(strcmp(limits_code(WITH("", ",\"tests\":[{\"stdin\":1}]"), &cap,
	    &rl), "request.payload") == 0, "a test's stdin not a string");
}

/* The runner's payload.limits: the service's, never the client's. */
static void
test_set_limits(void)
{
	static const char *const bodies[] = {
	    "{\"image\":\"a\",\"payload\":{\"command\":\"x\",\"files\":[],"
	    "\"limits\":{\"execution_time\":1}}}",
	    "{\"image\":\"a\",\"payload\":{\"command\":\"x\",\"files\":[],"
	    "\"limits\":{\"execution_time\":1}},\"limits\":{\"compile_time\":"
	    "\"3s\"}}",
	};
	static const char *const want[] = {
	    "{\"command\":\"x\",\"files\":[]}",
	    "{\"command\":\"x\",\"files\":[],\"limits\":{\"execution_time\":"
	    "10000,\"compile_time\":3000,\"output_size\":65536}}",
	};
	struct limits cap = { .execution_time = 10000, .output_size = 65536,
	    .memory = 256LL << 20, .pids = 64, .run_deadline = 30000 };
	struct run_limits rl;
	struct run_request r;
	struct error e;
	const char *text;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (request_parse_run(bodies[i], strlen(bodies[i]), &r, &e) == -1 ||
		    request_check_limits(&r, &cap, &rl, &e) == -1 ||
		    request_set_limits(&r, &rl, &e) == -1) {
			ok(0, "body %zu is taken (%s)", i, e.message);
			continue;
		}
		text = json_object_to_json_string_ext(r.payload,
		    JSON_C_TO_STRING_PLAIN);
		ok(strcmp(text, want[i]) == 0, "%s (%s)", i == 0 ?
		    "without limits, the client's payload.limits is dropped" :
		    "with limits, payload.limits is the run's, in ms and bytes",
		    text);
		request_free(&r);
	}
}

int
main(void)
{
	test_envelope();
	test_limits();
	test_set_limits();
	test_image_grammar();
	test_payload();
	test_messages();
	return tap_done();
}
