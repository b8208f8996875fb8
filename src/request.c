/*
 * Validation of a POST /run body before any container exists: the JSON
 * itself, the {image, payload} envelope and the shape of the payload the
 * runner will receive.  Rules are data: tables of fields with their
 * types and limits, the limits the runner shares from runner.h, and the
 * runner's own checks where a table cannot say it (file names).
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "runbox.h"
#include "runner.h"

#define REQUEST_MAX_DEPTH 16
#define REQUEST_MAX_IMAGE 255 /* Docker's bound on an image name */
#define REQUEST_MAX_COMMANDS 64
#define REQUEST_MAX_COMMAND 65536
#define REQUEST_MAX_LANGUAGE 64

#define REQUEST_REQUIRED 0x1 /* absent or null is an error */
#define REQUEST_CSTRING 0x2  /* a string the runner uses as a C string */

typedef int (*request_check_fn)(json_object *, const char *, struct error *);

/*
 * What one value of the payload must be.  Members of an object have a
 * name; the payload itself and the items of an array have none.
 */
struct request_field {
	const char *name;
	json_type type;
	int flags;
	size_t max; /* string: bytes, if REQUEST_CSTRING; array: items; 0: any */
	const char *noun; /* array: its items in a message ("files") */
	const struct request_field *item;   /* array: each item */
	const struct request_field *fields; /* object: members, NULL name last */
	request_check_fn check; /* a rule the runner knows, once the rest holds */
};

static int request_check_name(json_object *, const char *, struct error *);
static int request_check_clashes(json_object *, const char *,
    struct error *);

static const struct request_field request_file_fields[] = {
	{ .name = "name", .type = json_type_string,
	    .flags = REQUEST_REQUIRED | REQUEST_CSTRING,
	    .check = request_check_name },
	{ .name = "content", .type = json_type_string,
	    .flags = REQUEST_REQUIRED },
	{ .name = NULL }
};

static const struct request_field request_file = {
	.type = json_type_object, .fields = request_file_fields
};

static const struct request_field request_command = {
	.type = json_type_string, .flags = REQUEST_CSTRING,
	.max = REQUEST_MAX_COMMAND
};

static const struct request_field request_instruction_fields[] = {
	{ .name = "buildCommands", .type = json_type_array,
	    .max = REQUEST_MAX_COMMANDS, .noun = "commands",
	    .item = &request_command },
	{ .name = "runCommand", .type = json_type_string,
	    .flags = REQUEST_REQUIRED | REQUEST_CSTRING,
	    .max = REQUEST_MAX_COMMAND },
	{ .name = NULL }
};

static const struct request_field request_test_fields[] = {
	{ .name = "stdin", .type = json_type_string },
	{ .name = "expected_stdout", .type = json_type_string },
	{ .name = NULL }
};

static const struct request_field request_test = {
	.type = json_type_object, .fields = request_test_fields
};

static const struct request_field request_payload_fields[] = {
	{ .name = "language", .type = json_type_string,
	    .flags = REQUEST_CSTRING, .max = REQUEST_MAX_LANGUAGE },
	{ .name = "files", .type = json_type_array, .flags = REQUEST_REQUIRED,
	    .max = FILES_MAX, .noun = "files",
	    .item = &request_file, .check = request_check_clashes },
	{ .name = "stdin", .type = json_type_string },
	{ .name = "command", .type = json_type_string,
	    .flags = REQUEST_CSTRING, .max = REQUEST_MAX_COMMAND },
	{ .name = "runInstructions", .type = json_type_object,
	    .fields = request_instruction_fields },
	{ .name = "tests", .type = json_type_array, .max = TESTS_MAX,
	    .noun = "tests", .item = &request_test },
	{ .name = NULL }
};

/* How a limit of the request is written: its unit in a JSON integer. */
enum request_unit {
	REQUEST_MS,    /* or a string with a unit: "200ms", "2s" */
	REQUEST_BYTES, /* or a string with a unit: "64M", "512K" */
	REQUEST_COUNT  /* an integer only */
};

/*
 * The members of the request's "limits": each lowers the image's value
 * of the same key (compile_time: of execution_time), never raises it.
 */
static const struct request_limit {
	const char *name;
	enum request_unit unit;
	long long min;
	size_t cap; /* in struct limits */
	size_t out; /* in struct run_limits */
} request_limits[] = {
	{ "execution_time", REQUEST_MS, 1,
	    offsetof(struct limits, execution_time),
	    offsetof(struct run_limits, l.execution_time) },
	{ "compile_time", REQUEST_MS, 1,
	    offsetof(struct limits, execution_time),
	    offsetof(struct run_limits, compile_time) },
	{ "memory", REQUEST_BYTES, 6 * 1024 * 1024,
	    offsetof(struct limits, memory),
	    offsetof(struct run_limits, l.memory) },
	{ "output_size", REQUEST_BYTES, 4096,
	    offsetof(struct limits, output_size),
	    offsetof(struct run_limits, l.output_size) },
	{ "pids", REQUEST_COUNT, 8, offsetof(struct limits, pids),
	    offsetof(struct run_limits, l.pids) },
};

#define REQUEST_NLIMITS (sizeof(request_limits) / sizeof(request_limits[0]))

static const struct request_field request_payload = {
	.type = json_type_object, .fields = request_payload_fields
};

static int request_check_value(json_object *, const struct request_field *,
    const char *, struct error *);

/* A file name the runner would refuse to write. */
static int
request_check_name(json_object *v, const char *path, struct error *e)
{
	const char *name = json_object_get_string(v);
	char why[RUNNER_ERRLEN];

	if (files_check_name(name, why, sizeof(why)) == -1) {
		error_set(e, ERROR_REQUEST_PAYLOAD, "%s '%.200s': %s", path,
		    name, why);
		return -1;
	}
	return 0;
}

/* The name of file i, whose fields have been checked. */
static const char *
request_file_name(json_object *files, size_t i)
{
	json_object *v;

	json_object_object_get_ex(json_object_array_get_idx(files, i), "name",
	    &v);
	return json_object_get_string(v);
}

/* Two files with one name, or a file where another needs a directory,
 * would fail inside the container: refuse them before it exists. */
static int
request_check_clashes(json_object *files, const char *path, struct error *e)
{
	size_t i, j, n = json_object_array_length(files);
	const char *a, *b;

	for (i = 0; i < n; i++) {
		a = request_file_name(files, i);
		for (j = i + 1; j < n; j++) {
			b = request_file_name(files, j);
			if (files_check_clash(a, b) == -1) {
				error_set(e, ERROR_REQUEST_PAYLOAD,
				    "%s[%zu].name '%.200s' clashes with "
				    "%s[%zu].name '%.200s'", path, j, b, path,
				    i, a);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * A string of the payload.  The messages read as they always have: a
 * member says "must be at most N bytes without NUL bytes" or "holds a NUL
 * byte", an item of an array "must be a string of at most N bytes".
 */
static int
request_check_string(json_object *v, const struct request_field *f,
    const char *path, struct error *e)
{
	size_t len = (size_t)json_object_get_string_len(v);

	if (!(f->flags & REQUEST_CSTRING) ||
	    files_check_string(v, f->max) == 0)
		return 0;
	if (f->name == NULL && f->max != 0 && len > f->max)
		error_set(e, ERROR_REQUEST_PAYLOAD, "%s must be a string of "
		    "at most %zu bytes", path, f->max);
	else if (f->name != NULL && f->max != 0)
		error_set(e, ERROR_REQUEST_PAYLOAD, "%s must be at most %zu "
		    "bytes without NUL bytes", path, f->max);
	else
		error_set(e, ERROR_REQUEST_PAYLOAD, "%s holds a NUL byte",
		    path);
	return -1;
}

static int
request_check_array(json_object *v, const struct request_field *f,
    const char *path, struct error *e)
{
	size_t i, n = json_object_array_length(v);
	char item[96];

	if (f->max != 0 && n > f->max) {
		error_set(e, ERROR_REQUEST_PAYLOAD, "%s holds more than %zu "
		    "%s", path, f->max, f->noun);
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		if (request_check_value(json_object_array_get_idx(v, i),
		    f->item, item, e) == -1)
			return -1;
	}
	return 0;
}

/*
 * The members of an object.  A null value counts as absent, as glot's
 * runner treats it; unknown members are left for the runner.
 */
static int
request_check_object(json_object *o, const struct request_field *fields,
    const char *path, struct error *e)
{
	const struct request_field *f;
	char member[96];
	json_object *v;

	for (f = fields; f->name != NULL; f++) {
		snprintf(member, sizeof(member), "%s.%s", path, f->name);
		if (!json_object_object_get_ex(o, f->name, &v) || v == NULL) {
			if (!(f->flags & REQUEST_REQUIRED))
				continue;
			error_set(e, ERROR_REQUEST_PAYLOAD, "%s is missing",
			    member);
			return -1;
		}
		if (request_check_value(v, f, member, e) == -1)
			return -1;
	}
	return 0;
}

/* A value against its rule; path names it in messages ("payload.files[2]"). */
static int
request_check_value(json_object *v, const struct request_field *f,
    const char *path, struct error *e)
{
	int rc = 0;

	if (!json_object_is_type(v, f->type)) {
		if (f->name == NULL && f->type == json_type_object)
			error_set(e, ERROR_REQUEST_PAYLOAD, "%s must be an "
			    "object", path);
		else if (f->name == NULL && f->type == json_type_string &&
		    f->max != 0)
			error_set(e, ERROR_REQUEST_PAYLOAD, "%s must be a "
			    "string of at most %zu bytes", path, f->max);
		else
			error_set(e, ERROR_REQUEST_PAYLOAD, "%s must be of "
			    "type %s", path, json_type_to_name(f->type));
		return -1;
	}
	if (f->type == json_type_string)
		rc = request_check_string(v, f, path, e);
	else if (f->type == json_type_array)
		rc = request_check_array(v, f, path, e);
	else if (f->type == json_type_object)
		rc = request_check_object(v, f->fields, path, e);
	if (rc == 0 && f->check != NULL)
		rc = f->check(v, path, e);
	return rc;
}

/* The string member key of o, NULL if absent or null. */
static const char *
request_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

/*
 * The payload as the runner expects it: files, and a language or a way
 * to run them, chosen as the runner chooses.  As glot's, files may be
 * empty ("files": [], as glot asks an image for its version) unless the
 * language's defaults need a main file.  What the runner is certain to
 * refuse in the form it takes (a language it does not know, an empty
 * runCommand) is refused here, with its own table, before a container
 * is made.
 */
int
request_check_payload(json_object *payload, struct error *e)
{
	const char *language, *command;
	json_object *files, *ins;

	if (request_check_value(payload, &request_payload, "payload", e) == -1)
		return -1;
	language = request_string(payload, "language");
	command = request_string(payload, "command");
	json_object_object_get_ex(payload, "files", &files);
	if (!json_object_object_get_ex(payload, "runInstructions", &ins))
		ins = NULL;
	switch (languages_form(language, command != NULL && *command != '\0',
	    ins != NULL)) {
	case LANGUAGES_DEFAULTS:
		if (*language == '\0') {
			error_set(e, ERROR_REQUEST_PAYLOAD, "payload.language "
			    "is empty");
			return -1;
		}
		if (!languages_known(language)) {
			error_set(e, ERROR_REQUEST_PAYLOAD, "payload.language "
			    "'%s' is not supported: send a command or "
			    "runInstructions", language);
			return -1;
		}
		if (json_object_array_length(files) > 0)
			return 0;
		error_set(e, ERROR_REQUEST_PAYLOAD, "payload.files is empty: "
		    "language '%s' needs a main file", language);
		return -1;
	case LANGUAGES_INSTRUCTIONS:
		/* Only the form that runs is the runner's concern: a known
		 * language leaves runInstructions unread. */
		if (*request_string(ins, "runCommand") != '\0')
			return 0;
		error_set(e, ERROR_REQUEST_PAYLOAD, "payload.runInstructions."
		    "runCommand is empty");
		return -1;
	case LANGUAGES_COMMAND:
		return 0;
	case LANGUAGES_NONE:
		break;
	}
	error_set(e, ERROR_REQUEST_PAYLOAD, "payload needs a language, "
	    "a command or runInstructions");
	return -1;
}

static const char *const request_unit_names[] = {
	[REQUEST_MS] = "ms",
	[REQUEST_BYTES] = "bytes",
	[REQUEST_COUNT] = "",
};

/*
 * One limit's value in its unit: a JSON integer, or for times and sizes
 * a string with a unit as the INI file takes it.  A string must say its
 * unit: "200" could be read as seconds or milliseconds.
 */
static int
request_limit_value(json_object *v, const struct request_limit *l,
    long long *out, struct error *e)
{
	const char *s;
	size_t len;
	int rc;

	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return 0;
	}
	if (l->unit != REQUEST_COUNT && json_object_is_type(v,
	    json_type_string)) {
		s = json_object_get_string(v);
		len = strlen(s);
		rc = len > 0 && !isdigit((unsigned char)s[len - 1]) ?
		    l->unit == REQUEST_MS ? conf_parse_duration(s, out) :
		    conf_parse_size(s, out) : -1;
		if (rc == 0)
			return 0;
	}
	if (l->unit == REQUEST_MS)
		error_set(e, ERROR_REQUEST_LIMITS, "limits.%s must be an "
		    "integer of milliseconds or a duration with its unit "
		    "(\"200ms\", \"2s\")", l->name);
	else if (l->unit == REQUEST_BYTES)
		error_set(e, ERROR_REQUEST_LIMITS, "limits.%s must be an "
		    "integer of bytes or a size with its unit (\"64M\", "
		    "\"512K\")", l->name);
	else
		error_set(e, ERROR_REQUEST_LIMITS, "limits.%s must be an "
		    "integer", l->name);
	return -1;
}

/* The request's limits in rl, each within [min, the image's value]. */
static int
request_check_limit_values(json_object *limits, const struct limits *cap,
    struct run_limits *rl, struct error *e)
{
	const struct request_limit *l;
	long long v, max;
	size_t i;

	json_object_object_foreach(limits, key, val) {
		for (i = 0; i < REQUEST_NLIMITS &&
		    strcmp(request_limits[i].name, key) != 0; i++)
			;
		if (i == REQUEST_NLIMITS) {
			error_set(e, ERROR_REQUEST_LIMITS, "limits.%.64s is "
			    "not a limit: execution_time, compile_time, "
			    "memory, output_size or pids", key);
			return -1;
		}
		l = &request_limits[i];
		if (val == NULL)
			continue;
		if (request_limit_value(val, l, &v, e) == -1)
			return -1;
		max = *(const long long *)((const char *)cap + l->cap);
		if (v < l->min || v > max) {
			error_set(e, ERROR_REQUEST_LIMITS, "limits.%s must be "
			    "from %lld to %lld%s%s, the maximum of this image",
			    l->name, l->min, max, l->unit == REQUEST_COUNT ?
			    "" : " ", request_unit_names[l->unit]);
			return -1;
		}
		*(long long *)((char *)rl + l->out) = v;
	}
	return 0;
}

/* The payload's tests against the image's caps. */
static int
request_check_tests(json_object *payload, const struct limits *cap,
    struct run_limits *rl, struct error *e)
{
	json_object *tests, *v;
	size_t i, total = 0;

	if (!json_object_object_get_ex(payload, "tests", &tests) ||
	    tests == NULL)
		return 0;
	rl->tests = json_object_array_length(tests);
	if (rl->tests == 0 || rl->tests > (size_t)cap->tests_max) {
		error_set(e, ERROR_REQUEST_PAYLOAD, "payload.tests holds %zu "
		    "tests: this image takes 1 to %lld", rl->tests,
		    cap->tests_max);
		return -1;
	}
	for (i = 0; i < rl->tests; i++)
		if (json_object_object_get_ex(json_object_array_get_idx(tests,
		    i), "stdin", &v) && v != NULL)
			total += (size_t)json_object_get_string_len(v);
	if (total > (size_t)cap->tests_stdin_size) {
		error_set(e, ERROR_REQUEST_PAYLOAD, "payload.tests: their "
		    "stdin is %zu bytes in all: this image takes at most %lld",
		    total, cap->tests_stdin_size);
		return -1;
	}
	return 0;
}

/*
 * The request's limits and tests against the image's values (cap), whose
 * checked payload it is; rl gets the run's limits.
 */
int
request_check_limits(const struct run_request *r, const struct limits *cap,
    struct run_limits *rl, struct error *e)
{
	memset(rl, 0, sizeof(*rl));
	rl->l = *cap;
	rl->compile_time = cap->execution_time;
	rl->given = r->limits != NULL;
	if (r->limits != NULL && request_check_limit_values(r->limits, cap,
	    rl, e) == -1)
		return -1;
	return request_check_tests(r->payload, cap, rl, e);
}

/*
 * Puts the run's times and output size in the payload's "limits", where
 * the runner reads them, or takes away a "limits" the client put there
 * when the request has none: without limits a run is what it always was.
 */
int
request_set_limits(const struct run_request *r, const struct run_limits *rl,
    struct error *e)
{
	const char *const keys[] = { "execution_time", "compile_time",
	    "output_size" };
	const long long values[] = { rl->l.execution_time, rl->compile_time,
	    rl->l.output_size };
	json_object *o, *v;
	size_t i;

	json_object_object_del(r->payload, "limits");
	if (!rl->given)
		return 0;
	if ((o = json_object_new_object()) == NULL ||
	    json_object_object_add(r->payload, "limits", o) != 0) {
		json_object_put(o);
		goto nomem;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_object_new_int64(values[i])) == NULL ||
		    json_object_object_add(o, keys[i], v) != 0) {
			json_object_put(v);
			goto nomem;
		}
	return 0;
nomem:
	error_set(e, ERROR_SERVER_MEMORY, "out of memory");
	return -1;
}

/* [a-z0-9]+ joined by one of . _ __ or a run of -: a name's path component. */
static int
request_image_component(const char *s, size_t len)
{
	size_t i = 0, sep;

	for (;;) {
		if (i == len || !(islower((unsigned char)s[i]) ||
		    isdigit((unsigned char)s[i])))
			return -1;
		while (i < len && (islower((unsigned char)s[i]) ||
		    isdigit((unsigned char)s[i])))
			i++;
		if (i == len)
			return 0;
		sep = i;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += i + 1 < len && s[i + 1] == '_' ? 2 : 1;
		else
			while (i < len && s[i] == '-')
				i++;
		if (i == sep)
			return -1;
	}
}

/* host[:port], host a dotted domain name or a bracketed IPv6 address. */
static int
request_image_domain(const char *s, size_t len)
{
	const char *colon;
	size_t i, host, start;

	if (len > 0 && s[0] == '[') {
		for (i = 1; i < len && (isxdigit((unsigned char)s[i]) ||
		    s[i] == ':'); i++)
			;
		if (i == 1 || i == len || s[i] != ']')
			return -1;
		host = i + 1;
	} else {
		colon = memchr(s, ':', len);
		host = colon != NULL ? (size_t)(colon - s) : len;
		for (start = 0; start <= host; start = i + 1) {
			/* A component: alphanumerics, inner hyphens. */
			for (i = start; i < host && s[i] != '.'; i++)
				if (!isalnum((unsigned char)s[i]) &&
				    s[i] != '-')
					return -1;
			if (i == start || s[start] == '-' || s[i - 1] == '-')
				return -1;
		}
	}
	if (host == len)
		return 0;
	if (s[host] != ':' || host + 1 == len)
		return -1;
	for (i = host + 1; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	return 0;
}

/* Path components separated by '/', from s to end. */
static int
request_image_path(const char *s, const char *end)
{
	const char *slash;

	for (; (slash = memchr(s, '/', (size_t)(end - s))) != NULL;
	    s = slash + 1)
		if (request_image_component(s, (size_t)(slash - s)) == -1)
			return -1;
	return request_image_component(s, (size_t)(end - s));
}

/*
 * An image reference as Docker's grammar (distribution/reference) has it:
 * [host[:port]/]component[/component...][:tag][@sha256:64 hex], the
 * first component a registry only if it cannot be a path component (as
 * the grammar's regular expression decides).  Nothing else, a control
 * character least of all, reaches Docker or the log.
 */
int
request_check_image(const char *image)
{
	const char *digest, *tag, *slash, *p, *end;
	size_t i, len;

	len = strlen(image);
	if ((digest = strchr(image, '@')) != NULL) {
		if (strncmp(digest + 1, "sha256:", 7) != 0 ||
		    strlen(digest + 8) != 64)
			return -1;
		for (i = 8; i < 72; i++)
			if (!isdigit((unsigned char)digest[i]) &&
			    !(digest[i] >= 'a' && digest[i] <= 'f'))
				return -1;
		len = (size_t)(digest - image);
	}
	end = image + len;
	slash = memrchr(image, '/', len);
	if ((tag = memchr(slash ? slash : image, ':',
	    (size_t)(end - (slash ? slash : image)))) != NULL) {
		if (end - tag - 1 < 1 || end - tag - 1 > 128 ||
		    tag[1] == '.' || tag[1] == '-')
			return -1;
		for (p = tag + 1; p < end; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' &&
			    *p != '.' && *p != '-')
				return -1;
		end = tag;
	}
	if (end == image)
		return -1;
	if (request_image_path(image, end) == 0)
		return 0;
	slash = memchr(image, '/', (size_t)(end - image));
	if (slash == NULL ||
	    request_image_domain(image, (size_t)(slash - image)) == -1)
		return -1;
	return request_image_path(slash + 1, end);
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
	    files_check_string(v, REQUEST_MAX_IMAGE) == -1 ||
	    json_object_get_string_len(v) == 0) {
		error_set(e, ERROR_REQUEST_JSON, "image must be a non-empty "
		    "string of at most %d bytes", REQUEST_MAX_IMAGE);
		goto fail;
	}
	if (request_check_image(json_object_get_string(v)) == -1) {
		error_set(e, ERROR_REQUEST_JSON, "image is not a valid image "
		    "reference (Docker's grammar, e.g. glot/python:latest)");
		goto fail;
	}
	r->image = json_object_get_string(v);
	if (!json_object_object_get_ex(r->root, "payload", &r->payload) ||
	    !json_object_is_type(r->payload, json_type_object)) {
		error_set(e, ERROR_REQUEST_JSON, "payload must be a JSON "
		    "object");
		goto fail;
	}
	if (json_object_object_get_ex(r->root, "limits", &r->limits) &&
	    r->limits != NULL &&
	    !json_object_is_type(r->limits, json_type_object)) {
		error_set(e, ERROR_REQUEST_LIMITS, "limits must be a JSON "
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
