/*
 * The POST /run body: request_parse_run(), then request_check_payload().
 * Beyond not crashing: a refusal has the right code and a message; what
 * is accepted has the shape api.c relies on; and a payload runboxd
 * accepts reaches the runner as JSON it parses, with files and tests it accepts.
 */
#include "config.h"

#include <string.h>

#include "runbox.h"
#include "runner.h"
#include "fuzz.h"

/* The form the runner takes for payload p, as request.c asks it. */
static enum languages_form
fuzz_form(json_object *p)
{
	json_object *language = NULL, *command = NULL, *ins = NULL;

	json_object_object_get_ex(p, "language", &language);
	json_object_object_get_ex(p, "command", &command);
	json_object_object_get_ex(p, "runInstructions", &ins);
	return languages_form(json_object_get_string(language),
	    command != NULL && json_object_get_string_len(command) > 0,
	    ins != NULL);
}

/* What runboxd sends the runner, read back the way the runner reads it. */
static void
fuzz_as_runner(json_object *payload)
{
	struct json_tokener *tok;
	struct runner_files files;
	struct runner_tests tests;
	json_object *root, *v;
	char err[RUNNER_ERRLEN];
	const char *text;
	size_t len;

	text = json_object_to_json_string_length(payload,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	fuzz_assert(text != NULL && strlen(text) == len);
	fuzz_assert((tok = json_tokener_new()) != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	fuzz_assert(root != NULL);
	fuzz_assert(json_tokener_get_error(tok) == json_tokener_success);
	fuzz_assert(json_tokener_get_parse_end(tok) == len);
	json_tokener_free(tok);
	fuzz_assert(json_object_is_type(root, json_type_object));
	fuzz_assert(json_object_object_get_ex(root, "files", &v));
	fuzz_assert(files_load(v, &files, err, sizeof(err)) == 0);
	/* Empty files are valid, as in glot, unless the language's own build
	 * and run would need a main file. */
	fuzz_assert(files.count <= FILES_MAX);
	fuzz_assert(files.count >= 1 || fuzz_form(root) != LANGUAGES_DEFAULTS);
	files_free(&files);
	/* Tests runboxd takes, the runner takes too. */
	if (json_object_object_get_ex(root, "tests", &v) && v != NULL) {
		fuzz_assert(tests_load(v, &tests, err, sizeof(err)) == 0);
		tests_free(&tests);
	}
	json_object_put(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run_request r;
	struct error e;
	json_object *v;

	memset(&e, 0, sizeof(e));
	if (request_parse_run((const char *)data, size, &r, &e) == -1) {
		fuzz_assert(e.code == ERROR_REQUEST_JSON);
		fuzz_assert(e.message[0] != '\0');
		fuzz_assert(r.root == NULL && r.image == NULL);
		return 0;
	}
	fuzz_assert(json_object_is_type(r.root, json_type_object));
	fuzz_assert(json_object_object_get_ex(r.root, "image", &v));
	fuzz_assert(r.image == json_object_get_string(v));
	fuzz_assert(r.image[0] != '\0');
	fuzz_assert(strlen(r.image) == (size_t)json_object_get_string_len(v));
	fuzz_assert(strlen(r.image) <= 255);
	fuzz_assert(json_object_is_type(r.payload, json_type_object));

	memset(&e, 0, sizeof(e));
	if (request_check_payload(r.payload, &e) == -1) {
		fuzz_assert(e.code == ERROR_REQUEST_PAYLOAD);
		fuzz_assert(e.message[0] != '\0');
	} else
		fuzz_as_runner(r.payload);
	request_free(&r);
	fuzz_assert(r.root == NULL);
	return 0;
}
