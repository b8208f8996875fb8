/*
 * The HTTP API as FastCGI sees it: a route table, the token check, and
 * the handlers for GET /, GET /version and POST /run.  Every answer is
 * JSON; errors are {"error": code, "message": text} as glot sends them.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runbox.h"
#include "runner.h"

struct api_route {
	const char *path;
	const char *method;
	int token;
	void (*handler)(struct api_context *);
};

static void api_root(struct api_context *);
static void api_version(struct api_context *);
static void api_run(struct api_context *);
static void api_status(struct api_context *);
static void api_images(struct api_context *);

static const struct api_route api_routes[] = {
	{ "/", "GET", 0, api_root },
	{ "/version", "GET", 1, api_version },
	{ "/run", "POST", 1, api_run },
	{ "/status", "GET", 1, api_status },
	{ "/images", "GET", 1, api_images },
};

static const char *
api_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 503: return "Service Unavailable";
	default: return status < 500 ? "Error" : "Internal Server Error";
	}
}

/* libfcgi's own printf lacks %zu and friends: format headers here. */
static void
api_reply_typed(struct api_context *ctx, int status, const char *type,
    const char *extra, const char *body, size_t len, const char *tail)
{
	char head[512];
	int n;

	ctx->status = status;
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Request-Id: %s\r\n%s\r\n", status, api_reason(status), type,
	    len + strlen(tail), ctx->request_id, extra ? extra : "");
	FCGX_PutStr(head, n, ctx->req->out);
	FCGX_PutStr(body, (int)len, ctx->req->out);
	FCGX_PutS(tail, ctx->req->out);
}

/* A JSON answer; a newline ends the body, as curl users expect. */
static void
api_reply(struct api_context *ctx, int status, const char *extra,
    const char *body, size_t len)
{
	api_reply_typed(ctx, status, "application/json", extra, body, len,
	    "\n");
}

static void
api_reply_json(struct api_context *ctx, int status, const char *extra,
    json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	api_reply(ctx, status, extra, s, len);
}

static void
api_reply_error_with(struct api_context *ctx, const struct error *e,
    const char *extra)
{
	json_object *o = json_object_new_object();
	size_t len;
	/* A message may quote client or Docker text, cut mid-character. */
	char *message = output_utf8(e->message, strlen(e->message), &len);

	json_object_object_add(o, "error",
	    json_object_new_string(error_name(e->code)));
	json_object_object_add(o, "message", message ?
	    json_object_new_string_len(message, (int)len) :
	    json_object_new_string("(message lost: out of memory)"));
	free(message);
	ctx->error = e->code;
	api_reply_json(ctx, error_status(e->code), extra, o);
	json_object_put(o);
}

/* Send e as the answer and remember its code for the request log. */
static void
api_reply_error(struct api_context *ctx, const struct error *e)
{
	api_reply_error_with(ctx, e, NULL);
}

static const char *
api_param(struct api_context *ctx, const char *name)
{
	return FCGX_GetParam(name, ctx->req->envp);
}

static void
api_root(struct api_context *ctx)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(RUNBOX_NAME));
	json_object_object_add(o, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "description",
	    json_object_new_string(RUNBOX_DESCRIPTION));
	api_reply_json(ctx, 200, NULL, o);
	json_object_put(o);
}

/*
 * A key of Docker's answer as glot's serde renames it: the first letter
 * lower case, and an acronym read as a word ("MinAPIVersion" becomes
 * "minApiVersion"): a capital between a capital and one that is not
 * followed by a lower-case letter goes lower case.
 */
static void
api_camel(const char *key, char *out, size_t outlen)
{
	size_t i, len = strlen(key);

	if (len >= outlen)
		len = outlen - 1;
	for (i = 0; i < len; i++) {
		out[i] = key[i];
		if (isupper((unsigned char)key[i]) && (i == 0 ||
		    (isupper((unsigned char)key[i - 1]) &&
		    !islower((unsigned char)key[i + 1]))))
			out[i] = (char)tolower((unsigned char)key[i]);
	}
	out[len] = '\0';
}

/* A copy of v with every object key, at every depth, in camelCase. */
static json_object *
api_camel_copy(json_object *v)
{
	json_object *copy;
	char key[256];
	size_t i;

	if (json_object_is_type(v, json_type_array)) {
		copy = json_object_new_array();
		for (i = 0; i < json_object_array_length(v); i++)
			json_object_array_add(copy, api_camel_copy(
			    json_object_array_get_idx(v, i)));
		return copy;
	}
	if (!json_object_is_type(v, json_type_object))
		return json_object_get(v);
	copy = json_object_new_object();
	json_object_object_foreach(v, k, member) {
		api_camel(k, key, sizeof(key));
		json_object_object_add(copy, key, api_camel_copy(member));
	}
	return copy;
}

/*
 * glot's /version: Docker's whole answer under "docker", its keys in
 * camelCase, nested ones too (glot's clients read "platform" and
 * "components").
 */
static void
api_version(struct api_context *ctx)
{
	struct docker *d = ctx->docker;
	struct error e;
	struct buf resp = { 0 };
	json_object *root = NULL, *o;
	long status;

	if (docker_call(d, "GET", "/version", NULL, d->read_timeout,
	    64 * 1024, &status, &resp) == -1 || status != 200 ||
	    (root = docker_json(&resp, json_type_object)) == NULL) {
		if (d->unreachable)
			error_set(&e, ERROR_DOCKER_UNAVAILABLE, "Docker is "
			    "not reachable: %s", d->error);
		else
			error_set(&e, ERROR_DOCKER_VERSION, "%s",
			    d->error[0] ? d->error : "unexpected answer");
		api_reply_error(ctx, &e);
		goto done;
	}
	o = json_object_new_object();
	json_object_object_add(o, "docker", api_camel_copy(root));
	api_reply_json(ctx, 200, NULL, o);
	json_object_put(o);
done:
	json_object_put(root);
	util_buf_free(&resp);
}

static void
api_images(struct api_context *ctx)
{
	json_object *list = images_list(ctx->conf, ctx->docker);

	api_reply_json(ctx, 200, NULL, list);
	json_object_put(list);
}

static void
api_status(struct api_context *ctx)
{
	struct buf body = { 0 };
	const char *type = status_render(ctx->conf,
	    api_param(ctx, "QUERY_STRING"), &body);

	api_reply_typed(ctx, 200, type, NULL, body.data ? body.data : "",
	    body.len, "");
	util_buf_free(&body);
}

/*
 * Read the body: exactly CONTENT_LENGTH bytes, or up to the end of the
 * FastCGI stream when there is no CONTENT_LENGTH (Apache's mod_proxy_fcgi
 * passes a large chunked body that way).  Refuse what is too big.
 */
static int
api_read_body(struct api_context *ctx, struct buf *body, struct error *e)
{
	const char *cl = api_param(ctx, "CONTENT_LENGTH");
	long long len = 0, max = ctx->conf->max_body_size;
	int known = cl != NULL && *cl != '\0', n;
	char chunk[16384];
	size_t want;

	if (known && util_parse_number(cl, 0, max, &len) == -1) {
		if (errno == ERANGE)
			error_set(e, ERROR_REQUEST_TOO_LARGE, "The body is "
			    "%.40s bytes; at most %lld are accepted", cl, max);
		else
			error_set(e, ERROR_REQUEST_JSON, "Invalid "
			    "Content-Length");
		return -1;
	}
	while (!known || body->len < (size_t)len) {
		want = known ? (size_t)len - body->len : sizeof(chunk);
		n = FCGX_GetStr(chunk, (int)(want < sizeof(chunk) ? want :
		    sizeof(chunk)), ctx->req->in);
		if (n <= 0 && !known)
			break;
		if (n <= 0) {
			error_set(e, ERROR_REQUEST_JSON, "The body ended "
			    "after %zu of %lld bytes", body->len, len);
			return -1;
		}
		if (!known && body->len + (size_t)n > (size_t)max) {
			error_set(e, ERROR_REQUEST_TOO_LARGE, "The body is "
			    "over %lld bytes; at most %lld are accepted", max,
			    max);
			return -1;
		}
		if (util_buf_append(body, chunk, (size_t)n) == -1) {
			error_set(e, ERROR_SERVER_MEMORY, "out of memory");
			return -1;
		}
	}
	if (body->data == NULL && util_buf_append(body, "", 0) == -1) {
		error_set(e, ERROR_SERVER_MEMORY, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The image as this run uses it: a request's lower memory or pids make
 * its container, which a warm one made with the image's cannot be (a
 * docker update would cost a call and could fail under the memory in
 * use): such a run makes a container of its own.
 */
static void
api_run_image(const struct image *im, const struct run_limits *rl,
    struct image *run_im)
{
	*run_im = *im;
	run_im->limits.memory = rl->l.memory;
	run_im->limits.pids = rl->l.pids;
	if (rl->l.memory != im->limits.memory || rl->l.pids != im->limits.pids)
		run_im->warm = 0;
}

static void
api_run(struct api_context *ctx)
{
	const struct image *im;
	struct image run_im;
	struct run_limits rl;
	struct run_request rr = { 0 };
	struct error e = { ERROR_SERVER_INTERNAL, "internal error" };
	struct buf body = { 0 }, out = { 0 };
	const char *payload;
	size_t len;

	ctx->is_run = 1;
	if (request_check_content_type(api_param(ctx, "CONTENT_TYPE"), &e) ==
	    -1 || api_read_body(ctx, &body, &e) == -1 ||
	    request_parse_run(body.data, body.len, &rr, &e) == -1)
		goto fail;
	snprintf(ctx->image, sizeof(ctx->image), "%s", rr.image);
	if ((im = conf_find_image(ctx->conf, rr.image)) == NULL) {
		error_set(&e, ERROR_IMAGE_NOT_ALLOWED, "Image '%s' is not "
		    "allowed here", rr.image);
		goto fail;
	}
	if (request_check_payload(rr.payload, &e) == -1 ||
	    request_check_limits(&rr, &im->limits, &rl, &e) == -1 ||
	    request_set_limits(&rr, &rl, &e) == -1)
		goto fail;
	api_run_image(im, &rl, &run_im);
	payload = json_object_to_json_string_length(rr.payload,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (run_start(ctx->docker, ctx->conf, &run_im, ctx->run, &e) == -1 ||
	    run_finish(ctx->docker, &run_im, ctx->run, run_time(&im->limits,
	    &rl), payload, len, &out, &ctx->outcome, &e) == -1)
		goto fail;
	api_reply(ctx, 200, NULL, out.data, out.len);
	goto done;
fail:
	api_reply_error(ctx, &e);
done:
	request_free(&rr);
	util_buf_free(&body);
	util_buf_free(&out);
}

static int
api_token_ok(struct api_context *ctx)
{
	const char *token = api_param(ctx, "HTTP_X_ACCESS_TOKEN");

	return token != NULL && util_token_equal(token, ctx->conf->access_token);
}

/* The path without its query: nginx gives DOCUMENT_URI, others may not. */
static void
api_path(struct api_context *ctx, char *out, size_t outlen)
{
	const char *p = api_param(ctx, "DOCUMENT_URI");

	if (p == NULL && (p = api_param(ctx, "REQUEST_URI")) == NULL)
		p = "/";
	snprintf(out, outlen, "%.*s", (int)strcspn(p, "?"), p);
}

/* Route one request to its handler; every path ends in one answer. */
void
api_handle(struct api_context *ctx)
{
	const char *method = api_param(ctx, "REQUEST_METHOD");
	const struct api_route *r = NULL;
	struct error e;
	char path[256], allow[64] = "";
	size_t i;

	api_path(ctx, path, sizeof(path));
	if (method == NULL)
		method = "GET";
	for (i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
		if (strcmp(api_routes[i].path, path) != 0)
			continue;
		if (strcmp(api_routes[i].method, method) == 0)
			r = &api_routes[i];
		else
			snprintf(allow, sizeof(allow), "Allow: %s\r\n",
			    api_routes[i].method);
	}
	if (r == NULL && allow[0] != '\0') {
		error_set(&e, ERROR_METHOD_NOT_ALLOWED, "%s is not allowed "
		    "on %s", method, path);
		api_reply_error_with(ctx, &e, allow);
		return;
	}
	if (r == NULL) {
		error_set(&e, ERROR_ROUTE_NOT_FOUND, "No route for %s",
		    path);
		api_reply_error(ctx, &e);
		return;
	}
	if (r->token && !api_token_ok(ctx)) {
		error_set(&e, ERROR_ACCESS_TOKEN, "Missing or wrong access "
		    "token");
		api_reply_error(ctx, &e);
		return;
	}
	r->handler(ctx);
}
