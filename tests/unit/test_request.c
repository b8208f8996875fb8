/* Validation of POST /run bodies before any container is created. */
#include "config.h"

#include <string.h>

#include "runbox.h"
#include "tap.h"

static const char *
parse_code(const char *body)
{
	static struct error e;
	struct run_request r;

	memset(&e, 0, sizeof(e));
	if (request_parse_run(body, strlen(body), &r, &e) == -1)
		return error_name(e.code);
	if (request_check_payload(r.payload, &e) == -1) {
		request_free(&r);
		return error_name(e.code);
	}
	request_free(&r);
	return "ok";
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
	    "empty files");
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
}

int
main(void)
{
	test_envelope();
	test_payload();
	return tap_done();
}
