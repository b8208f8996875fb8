/*
 * Validation of a POST /run body before any container exists: the JSON
 * itself, the {image, payload} envelope and the shape of the payload the
 * runner will receive.  Rules are data: a table of payload fields.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "runbox.h"
#include "runner.h"

#define REQUEST_MAX_DEPTH 16
#define REQUEST_MAX_FILES 1000
#define REQUEST_MAX_COMMANDS 64
#define REQUEST_MAX_COMMAND 65536
#define REQUEST_MAX_LANGUAGE 64

struct request_field {
	const char *name;
	json_type type;
	int required;
	size_t max_len; /* for strings; 0 = any length, NULs allowed */
};

static const struct request_field request_payload_fields[] = {
	{ "language", json_type_string, 0, REQUEST_MAX_LANGUAGE },
	{ "files", json_type_array, 1, 0 },
	{ "stdin", json_type_string, 0, 0 },
	{ "command", json_type_string, 0, REQUEST_MAX_COMMAND },
	{ "runInstructions", json_type_object, 0, 0 },
};

static const struct request_field request_file_fields[] = {
	{ "name", json_type_string, 1, 0 },
	{ "content", json_type_string, 1, 0 },
};

static const struct request_field request_instruction_fields[] = {
	{ "buildCommands", json_type_array, 0, 0 },
	{ "runCommand", json_type_string, 1, REQUEST_MAX_COMMAND },
};

/*
 * Check an object against a field table.  A null value counts as absent,
 * as glot's runner treats it; unknown fields are left for the runner.
 */
static int
request_check_fields(json_object *o, const char *what,
    const struct request_field *fields, size_t n, struct error *e)
{
	json_object *v;
	const char *s;
	size_t i, len;

	if (!json_object_is_type(o, json_type_object)) {
		error_set(e, ERROR_REQUEST_PAYLOAD, "%s must be an object",
		    what);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!json_object_object_get_ex(o, fields[i].name, &v) ||
		    v == NULL) {
			if (!fields[i].required)
				continue;
			error_set(e, ERROR_REQUEST_PAYLOAD,
			    "%s.%s is missing", what, fields[i].name);
			return -1;
		}
		if (!json_object_is_type(v, fields[i].type)) {
			error_set(e, ERROR_REQUEST_PAYLOAD,
			    "%s.%s must be of type %s", what, fields[i].name,
			    json_type_to_name(fields[i].type));
			return -1;
		}
		if (fields[i].type != json_type_string || !fields[i].max_len)
			continue;
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		if (len > fields[i].max_len || strlen(s) != len) {
			error_set(e, ERROR_REQUEST_PAYLOAD, "%s.%s must be "
			    "at most %zu bytes without NUL bytes", what,
			    fields[i].name, fields[i].max_len);
			return -1;
		}
	}
	return 0;
}

#define CHECK_FIELDS(o, what, table, e) \
	request_check_fields((o), (what), (table), \
	    sizeof(table) / sizeof((table)[0]), (e))

/* 1 when b names a or something under a ("a" and "a/b"). */
static int
request_name_covers(const char *a, const char *b)
{
	size_t len = strlen(a);

	return strncmp(a, b, len) == 0 && (b[len] == '\0' || b[len] == '/');
}

/* Two files with one name, or a file where another needs a directory,
 * would fail inside the container: refuse them before it exists. */
static int
request_check_clashes(json_object *files, struct error *e)
{
	const char *a, *b;
	size_t i, j, n = json_object_array_length(files);
	json_object *v;

	for (i = 0; i < n; i++) {
		json_object_object_get_ex(json_object_array_get_idx(files, i),
		    "name", &v);
		a = json_object_get_string(v);
		for (j = i + 1; j < n; j++) {
			json_object_object_get_ex(
			    json_object_array_get_idx(files, j), "name", &v);
			b = json_object_get_string(v);
			if (request_name_covers(a, b) ||
			    request_name_covers(b, a)) {
				error_set(e, ERROR_REQUEST_PAYLOAD,
				    "payload.files[%zu].name '%.200s' clashes "
				    "with payload.files[%zu].name '%.200s'", j,
				    b, i, a);
				return -1;
			}
		}
	}
	return 0;
}

static int
request_check_files(json_object *files, struct error *e)
{
	json_object *f, *name;
	char why[128], what[32];
	size_t i, n = json_object_array_length(files);
	const char *s;

	if (n == 0 || n > REQUEST_MAX_FILES) {
		error_set(e, ERROR_REQUEST_PAYLOAD, "payload.files must "
		    "hold 1 to %d files", REQUEST_MAX_FILES);
		return -1;
	}
	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(files, i);
		snprintf(what, sizeof(what), "payload.files[%zu]", i);
		if (CHECK_FIELDS(f, what, request_file_fields, e) == -1)
			return -1;
		json_object_object_get_ex(f, "name", &name);
		s = json_object_get_string(name);
		if (strlen(s) != (size_t)json_object_get_string_len(name)) {
			error_set(e, ERROR_REQUEST_PAYLOAD,
			    "%s.name holds a NUL byte", what);
			return -1;
		}
		if (files_check_name(s, why, sizeof(why)) == -1) {
			error_set(e, ERROR_REQUEST_PAYLOAD,
			    "%s.name '%.200s': %s", what, s, why);
			return -1;
		}
	}
	return request_check_clashes(files, e);
}

static int
request_check_instructions(json_object *ri, struct error *e)
{
	json_object *cmds, *cmd;
	size_t i, n;

	if (CHECK_FIELDS(ri, "payload.runInstructions",
	    request_instruction_fields, e) == -1)
		return -1;
	if (!json_object_object_get_ex(ri, "buildCommands", &cmds) ||
	    cmds == NULL)
		return 0;
	n = json_object_array_length(cmds);
	if (n > REQUEST_MAX_COMMANDS) {
		error_set(e, ERROR_REQUEST_PAYLOAD, "payload.runInstructions"
		    ".buildCommands holds more than %d commands",
		    REQUEST_MAX_COMMANDS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		cmd = json_object_array_get_idx(cmds, i);
		if (!json_object_is_type(cmd, json_type_string) ||
		    json_object_get_string_len(cmd) > REQUEST_MAX_COMMAND) {
			error_set(e, ERROR_REQUEST_PAYLOAD, "payload."
			    "runInstructions.buildCommands[%zu] must be a "
			    "string of at most %d bytes", i,
			    REQUEST_MAX_COMMAND);
			return -1;
		}
	}
	return 0;
}

/* The payload as the runner expects it: files, and a language or a way
 * to run them. */
int
request_check_payload(json_object *payload, struct error *e)
{
	json_object *v, *ri = NULL;

	if (CHECK_FIELDS(payload, "payload", request_payload_fields, e) == -1)
		return -1;
	json_object_object_get_ex(payload, "files", &v);
	if (request_check_files(v, e) == -1)
		return -1;
	if (json_object_object_get_ex(payload, "runInstructions", &ri) &&
	    ri != NULL)
		return request_check_instructions(ri, e);
	if (json_object_object_get_ex(payload, "language", &v) && v != NULL)
		return 0;
	if (json_object_object_get_ex(payload, "command", &v) && v != NULL &&
	    json_object_get_string_len(v) > 0)
		return 0;
	error_set(e, ERROR_REQUEST_PAYLOAD, "payload needs a language, "
	    "a command or runInstructions");
	return -1;
}

/*
 * application/json (any parameters), none at all, or curl's default for -d
 * (form-urlencoded): glot never looked at the type, so its clients may send
 * either; the body must still be JSON.  Anything else is refused.
 */
int
request_check_content_type(const char *ct, struct error *e)
{
	size_t len;

	if (ct == NULL || *ct == '\0')
		return 0;
	len = strcspn(ct, "; \t");
	if ((len == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (len == 33 && strncasecmp(ct, "application/x-www-form-urlencoded",
	    33) == 0) ||
	    (len > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	    strncasecmp(ct + len - 5, "+json", 5) == 0))
		return 0;
	error_set(e, ERROR_REQUEST_CONTENT_TYPE, "Content-Type must be "
	    "application/json, not '%.100s'", ct);
	return -1;
}

/* Parse the body into r; r->root owns everything r points to. */
int
request_parse_run(const char *body, size_t len, struct run_request *r,
    struct error *e)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *v;
	size_t end;

	memset(r, 0, sizeof(*r));
	if ((tok = json_tokener_new_ex(REQUEST_MAX_DEPTH)) == NULL) {
		error_set(e, ERROR_SERVER_MEMORY, "out of memory");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	r->root = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (r->root == NULL || jerr != json_tokener_success) {
		error_set(e, ERROR_REQUEST_JSON, "Invalid JSON body: %s",
		    len == 0 ? "empty body" : jerr == json_tokener_continue ?
		    "unexpected end of input" : json_tokener_error_desc(jerr));
		goto fail;
	}
	for (; end < len; end++)
		if (strchr(" \t\r\n", body[end]) == NULL) {
			error_set(e, ERROR_REQUEST_JSON, "Invalid JSON "
			    "body: trailing data at byte %zu", end);
			goto fail;
		}
	if (!json_object_is_type(r->root, json_type_object)) {
		error_set(e, ERROR_REQUEST_JSON, "The body must be a JSON "
		    "object {\"image\": ..., \"payload\": ...}");
		goto fail;
	}
	if (!json_object_object_get_ex(r->root, "image", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 ||
	    json_object_get_string_len(v) > 255 ||
	    strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v)) {
		error_set(e, ERROR_REQUEST_JSON, "image must be a non-empty "
		    "string of at most 255 bytes");
		goto fail;
	}
	r->image = json_object_get_string(v);
	if (!json_object_object_get_ex(r->root, "payload", &r->payload) ||
	    !json_object_is_type(r->payload, json_type_object)) {
		error_set(e, ERROR_REQUEST_JSON, "payload must be a JSON "
		    "object");
		goto fail;
	}
	return 0;
fail:
	request_free(r);
	return -1;
}

void
request_free(struct run_request *r)
{
	json_object_put(r->root);
	memset(r, 0, sizeof(*r));
}
