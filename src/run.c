/*
 * One run: create, attach, start, send the payload, read the answer from
 * the attach stream, and remove.  run_start() ends with a started
 * container whose runner waits on stdin, so a container can be made ready
 * before its request arrives.  The answer is complete as soon as the
 * runner's stdout holds one JSON object: the reply need not wait for the
 * stream's end nor for dockerd to see the container exit.  When the
 * stream ends or breaks without one (the runner killed, out of memory, a
 * dockerd hiccup), wait and logs tell what happened, as they always
 * did.  The run's deadline starts when the payload is sent:
 * the runner stops the program at execution_time and still reports its
 * output; the service kills the container if the answer is not there a
 * reserve later.  Each Docker call before that has its own timeout, so a
 * slow container start on a loaded host costs the program no time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runbox.h"
#include "runner.h"

#define RUN_MESSAGE_MAX 400

/* Time the runner has past execution_time to report what the program
 * printed before the service gives up on it. */
static long long
run_reserve(long long execution_time)
{
	long long reserve = execution_time / 4;

	return reserve < 250 ? 250 : reserve > 1000 ? 1000 : reserve;
}

/*
 * The longest a request's run can take, in ms, with every call it makes
 * at its timeout: create, attach and start before the payload; the
 * longest execution_time and its reserve; logs (or the ping after a
 * stalled stream) and the forced remove after it.  (Each call's connect
 * is within its own timeout.)  A worker still busy past this is stuck,
 * and the master kills it.
 */
long long
run_budget(const struct conf *c)
{
	long long after = c->docker_read_timeout > c->docker_connect_timeout ?
	    c->docker_read_timeout : c->docker_connect_timeout;

	return 3 * c->docker_read_timeout + c->max_run_time +
	    run_reserve(c->max_run_time) + after + c->docker_read_timeout;
}

/*
 * How long the runner may take, in ms: the image's execution_time for a
 * run as glot knows it; with limits or tests, the build's budget and the
 * program's for each test, within the image's run_deadline (as the
 * runner counts it, src/runner/main.c).
 */
long long
run_time(const struct limits *image, const struct run_limits *rl)
{
	long long runs = rl->tests > 0 ? (long long)rl->tests : 1, ms;

	if (!rl->given && rl->tests == 0)
		return image->execution_time;
	ms = rl->compile_time + rl->l.execution_time * runs;
	return ms < image->run_deadline ? ms : image->run_deadline;
}

static void
run_add_env(json_object *env, const char *name, long long value)
{
	char s[128];

	snprintf(s, sizeof(s), "%s=%lld", name, value);
	json_object_array_add(env, json_object_new_string(s));
}

static void
run_add_ulimit(json_object *ulimits, const char *name, long long soft,
    long long hard)
{
	json_object *u = json_object_new_object();

	json_object_object_add(u, "Name", json_object_new_string(name));
	json_object_object_add(u, "Soft", json_object_new_int64(soft));
	json_object_object_add(u, "Hard", json_object_new_int64(hard));
	json_object_array_add(ulimits, u);
}

static json_object *
run_host_config(const struct conf *c, const struct image *im, long long uid)
{
	const struct limits *l = &im->limits;
	json_object *hc = json_object_new_object(), *a, *o, *lc;
	char *caps, *cap, *save = NULL, size[32], work[320];

	json_object_object_add(hc, "Memory", json_object_new_int64(l->memory));
	json_object_object_add(hc, "MemorySwap",
	    json_object_new_int64(l->memory));
	json_object_object_add(hc, "NanoCpus", json_object_new_int64(l->cpus));
	json_object_object_add(hc, "PidsLimit", json_object_new_int64(l->pids));
	a = json_object_new_array();
	run_add_ulimit(a, "nofile", l->nofile_soft, l->nofile_hard);
	if (l->nproc_hard > 0)
		run_add_ulimit(a, "nproc", l->nproc_soft, l->nproc_hard);
	run_add_ulimit(a, "msgqueue", l->msgqueue, l->msgqueue);
	run_add_ulimit(a, "sigpending", l->sigpending, l->sigpending);
	json_object_object_add(hc, "Ulimits", a);
	a = json_object_new_array();
	if ((caps = strdup(c->cap_drop)) != NULL) {
		for (cap = strtok_r(caps, " \t,", &save); cap != NULL;
		    cap = strtok_r(NULL, " \t,", &save))
			json_object_array_add(a, json_object_new_string(cap));
		free(caps);
	}
	json_object_object_add(hc, "CapDrop", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("no-new-privileges"));
	json_object_object_add(hc, "SecurityOpt", a);
	json_object_object_add(hc, "ReadonlyRootfs",
	    json_object_new_boolean(c->readonly_rootfs));
	o = json_object_new_object();
	snprintf(work, sizeof(work), "%s,uid=%lld,gid=%lld",
	    c->work_dir_options, uid, uid);
	json_object_object_add(o, c->work_dir, json_object_new_string(work));
	json_object_object_add(o, c->tmp_dir,
	    json_object_new_string(c->tmp_dir_options));
	json_object_object_add(hc, "Tmpfs", o);
	if (c->network_disabled)
		json_object_object_add(hc, "NetworkMode",
		    json_object_new_string("none"));
	json_object_object_add(hc, "Runtime", json_object_new_string(im->runtime));
	lc = json_object_new_object();
	json_object_object_add(lc, "Type", json_object_new_string("json-file"));
	o = json_object_new_object();
	snprintf(size, sizeof(size), "%lld", c->log_max_size);
	json_object_object_add(o, "max-size", json_object_new_string(size));
	json_object_object_add(o, "max-file", json_object_new_string("1"));
	json_object_object_add(lc, "Config", o);
	json_object_object_add(hc, "LogConfig", lc);
	return hc;
}

/*
 * The uid (and gid) of the containers made from slot: a worker's
 * scoreboard slot for its cold runs, a pool slot for a warm container.
 * A slot holds one live container at a time, so no two share a uid, and
 * nothing is allocated or freed.
 */
long long
run_uid(const struct conf *c, int warm, size_t slot)
{
	return c->uid_first + (warm ? SCOREBOARD_SLOTS : 0) + (long long)slot;
}

/*
 * The body of POST /containers/create; the caller frees it.  The labels
 * name the request (or the warm slot's nonce) and the creating process;
 * without a request_id there are none of these, and uid is a placeholder
 * for the slot's: that body is the fingerprint's, the same for every
 * slot.
 */
char *
run_create_body(const struct conf *c, const struct image *im,
    const char *request_id, int warm, long long uid)
{
	json_object *root = json_object_new_object(), *env, *labels;
	char *body, worker[24], user[48];

	json_object_object_add(root, "Image", json_object_new_string(im->name));
	json_object_object_add(root, "Hostname",
	    json_object_new_string(c->hostname));
	snprintf(user, sizeof(user), "%lld:%lld", uid, uid);
	json_object_object_add(root, "User", json_object_new_string(user));
	json_object_object_add(root, "WorkingDir",
	    json_object_new_string(c->work_dir));
	json_object_object_add(root, "AttachStdin", json_object_new_boolean(1));
	json_object_object_add(root, "OpenStdin", json_object_new_boolean(1));
	json_object_object_add(root, "StdinOnce", json_object_new_boolean(1));
	json_object_object_add(root, "Tty", json_object_new_boolean(0));
	json_object_object_add(root, "NetworkDisabled",
	    json_object_new_boolean(c->network_disabled));
	env = json_object_new_array();
	run_add_env(env, "RUNBOX_TIME_LIMIT_MS", im->limits.execution_time);
	run_add_env(env, "RUNBOX_RUN_DEADLINE_MS", im->limits.run_deadline);
	run_add_env(env, "RUNBOX_OUTPUT_LIMIT", im->limits.output_size);
	json_object_object_add(root, "Env", env);
	labels = json_object_new_object();
	json_object_object_add(labels, RUNBOX_LABEL_SERVICE,
	    json_object_new_string("runboxd"));
	json_object_object_add(labels, RUNBOX_LABEL_INSTANCE,
	    json_object_new_string(c->instance));
	if (request_id != NULL) {
		json_object_object_add(labels, RUNBOX_LABEL_REQUEST,
		    json_object_new_string(request_id));
		snprintf(worker, sizeof(worker), "%ld", (long)getpid());
		json_object_object_add(labels, RUNBOX_LABEL_WORKER,
		    json_object_new_string(worker));
	}
	if (warm)
		json_object_object_add(labels, RUNBOX_LABEL_WARM,
		    json_object_new_string("1"));
	json_object_object_add(root, "Labels", labels);
	json_object_object_add(root, "HostConfig",
	    run_host_config(c, im, uid));
	body = strdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return body;
}

/* Map a failed Docker call to the client's error. */
static void
run_docker_error(struct docker *d, long status, const struct buf *resp,
    enum error_code code, struct error *e)
{
	char msg[RUN_MESSAGE_MAX];

	if (d->client_gone)
		error_set(e, ERROR_CLIENT_CLOSED, "The client went away; "
		    "the run was cancelled");
	else if (docker_cancelled)
		error_set(e, ERROR_SERVER_STOPPING, "runboxd is stopping; "
		    "the run was cancelled");
	else if (d->unreachable)
		error_set(e, ERROR_DOCKER_UNAVAILABLE, "Docker is not "
		    "reachable: %s", d->error);
	else if (d->timed_out)
		error_set(e, ERROR_DOCKER_TIMEOUT, "Docker did not answer in "
		    "time: %s", d->error);
	else if (d->error[0] != '\0')
		error_set(e, ERROR_DOCKER_UNIXSOCKET, "%s", d->error);
	else
		error_set(e, code, "%s (HTTP %ld)", resp ?
		    docker_message(resp, msg, sizeof(msg)) : "no answer",
		    status);
}

/* Create a container from body; its id goes to id (72 bytes). */
static int
run_create(struct docker *d, const char *body, char *id, struct error *e)
{
	struct buf resp = { 0 };
	json_object *root = NULL, *v;
	long status;
	int rc = -1;

	if (docker_call(d, "POST", "/containers/create", body, d->read_timeout,
	    64 * 1024, &status, &resp) == -1 || status != 201) {
		run_docker_error(d, status, &resp, ERROR_DOCKER_CREATE, e);
		goto done;
	}
	root = docker_json(&resp, json_type_object);
	if (!json_object_object_get_ex(root, "Id", &v) ||
	    json_object_get_string_len(v) == 0 ||
	    (size_t)json_object_get_string_len(v) >= RUN_ID_SIZE ||
	    strspn(json_object_get_string(v), "0123456789abcdef") !=
	    (size_t)json_object_get_string_len(v)) {
		error_set(e, ERROR_DOCKER_CREATE,
		    "Docker answered create without a container id");
		goto done;
	}
	snprintf(id, RUN_ID_SIZE, "%s", json_object_get_string(v));
	rc = 0;
done:
	json_object_put(root);
	util_buf_free(&resp);
	return rc;
}

static int
run_start_container(struct docker *d, const char *id, struct error *e)
{
	struct buf resp = { 0 };
	char path[160];
	long status;
	int rc = 0;

	snprintf(path, sizeof(path), "/containers/%s/start", id);
	if (docker_call(d, "POST", path, NULL, d->read_timeout, 64 * 1024,
	    &status, &resp) == -1 || status != 204) {
		run_docker_error(d, status, &resp, ERROR_DOCKER_START, e);
		rc = -1;
	}
	util_buf_free(&resp);
	return rc;
}

/* The fingerprint of the containers run_start() would make for im, from
 * a body without labels and with the first uid in place of a slot's: a
 * reload that moves the range replaces the warm containers. */
static unsigned long long
run_fingerprint(const struct conf *c, const struct image *im)
{
	char *body = run_create_body(c, im, NULL, 0, c->uid_first);
	unsigned long long h;

	if (body == NULL)
		return 0;
	h = pool_hash(body, strlen(body));
	free(body);
	return h;
}

/*
 * Fill in each image's fingerprint, once per loaded configuration: the
 * keeper, a claim and /status compare slots against it.
 */
void
run_fingerprint_images(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nimages; i++)
		c->images[i].fingerprint = run_fingerprint(c, &c->images[i]);
}

/*
 * Make a warm container for im in pool slot: created with the slot's
 * nonce as its request label and the slot's uid, and started, its runner
 * waiting on stdin with nobody attached yet.  On return id is set
 * whenever a container exists, even on failure: the caller removes it.
 */
int
run_prepare(struct docker *d, const struct conf *c, const struct image *im,
    int slot, const char *nonce, char *id, struct error *e)
{
	char *body;
	int rc;

	id[0] = '\0';
	if ((body = run_create_body(c, im, nonce, 1,
	    run_uid(c, 1, (size_t)slot))) == NULL) {
		error_set(e, ERROR_SERVER_MEMORY, "out of memory");
		return -1;
	}
	rc = run_create(d, body, id, e) == -1 ||
	    run_start_container(d, id, e) == -1 ? -1 : 0;
	free(body);
	return rc;
}

/*
 * A warm container of im for this run, attached: 0, or -1 when the pool
 * has none (or the one claimed cannot be attached: it is removed).
 */
static int
run_claim(struct docker *d, const struct conf *c, const struct image *im,
    struct run *r)
{
	int slot = pool_claim(im->fingerprint, r->id);

	pool_count_event(im->key, slot == -1 ? POOL_MISS : POOL_HIT);
	if (slot == -1)
		return -1;
	r->pool_slot = slot;
	if (docker_attach(d, r->id) == 0)
		return 0;
	log_warnx("request %s: warm container %.12s: %s; running it cold",
	    r->request_id, r->id, d->error);
	run_remove(d, c, r);
	return -1;
}

/*
 * A started container for im whose runner waits for the payload on the
 * attach connection: a warm one when the pool has one, else a new one
 * (create, attach, start).  On return r->id is set whenever a container
 * exists, even on failure: the caller removes it.
 */
int
run_start(struct docker *d, const struct conf *c, const struct image *im,
    struct run *r, struct error *e)
{
	char *body;
	int rc = -1;

	r->id[0] = '\0';
	r->pool_slot = -1;
	if (im->warm > 0 && run_claim(d, c, im, r) == 0)
		return 0;
	if ((body = run_create_body(c, im, r->request_id, 0, r->uid)) == NULL) {
		error_set(e, ERROR_SERVER_MEMORY, "out of memory");
		return -1;
	}
	if (run_create(d, body, r->id, e) == -1)
		goto done;
	if (docker_attach(d, r->id) == -1) {
		run_docker_error(d, 0, NULL, ERROR_DOCKER_ATTACH, e);
		goto done;
	}
	rc = run_start_container(d, r->id, e);
done:
	free(body);
	return rc;
}

struct run_output {
	struct stream_demux demux;
	struct buf out;
	struct buf err;
	size_t max;
	int over; /* more than max bytes came */
};

/* Keep stdout and stderr apart, and refuse more than max bytes in all. */
static int
run_output_put(void *arg, int fd, const char *data, size_t len)
{
	struct run_output *o = arg;

	if (o->out.len + o->err.len + len > o->max) {
		o->over = 1;
		return -1;
	}
	return util_buf_append(fd == 2 ? &o->err : &o->out, data, len);
}

static void
run_output_reset(struct run_output *o)
{
	stream_init(&o->demux);
	util_buf_reset(&o->out);
	util_buf_reset(&o->err);
	o->over = 0;
}

static int
run_output_sink(void *arg, const char *data, size_t len)
{
	struct run_output *o = arg;

	return stream_feed(&o->demux, data, len, run_output_put, o);
}

/* The /status outcome of each verdict the runner reports. */
static const enum outcome run_outcomes[VERDICT_MAX] = {
	[VERDICT_OK] = OUTCOME_OK,
	[VERDICT_COMPILE_ERROR] = OUTCOME_PROGRAM_ERROR,
	[VERDICT_RUNTIME_ERROR] = OUTCOME_PROGRAM_ERROR,
	[VERDICT_KILLED] = OUTCOME_PROGRAM_ERROR,
	[VERDICT_TIME_LIMIT] = OUTCOME_TIMEOUT,
	[VERDICT_OUTPUT_LIMIT] = OUTCOME_OUTPUT_LIMIT,
	[VERDICT_RUNNER_ERROR] = OUTCOME_PROGRAM_ERROR,
	[VERDICT_MEMORY_LIMIT] = OUTCOME_PROGRAM_ERROR,
	[VERDICT_NOT_RUN] = OUTCOME_TIMEOUT,
};

/*
 * How the run ended, from the verdict the runner names in usage.status.
 * A result without one (an image built with an older runner) counts by
 * whether it has an error at all.
 */
enum outcome
run_outcome(json_object *result)
{
	json_object *usage, *v;
	enum verdict verdict;

	if (json_object_object_get_ex(result, "usage", &usage) &&
	    json_object_object_get_ex(usage, "status", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    verdict_parse(json_object_get_string(v), &verdict) == 0)
		return run_outcomes[verdict];
	return json_object_object_get_ex(result, "error", &v) &&
	    json_object_get_string_len(v) > 0 ? OUTCOME_PROGRAM_ERROR :
	    OUTCOME_OK;
}

/* One JSON object, alone but for white space around it, or NULL. */
static json_object *
run_parse_object(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *root = NULL;
	size_t end;

	if (tok == NULL || len == 0)
		goto fail;
	root = json_tokener_parse_ex(tok, s, (int)len);
	end = json_tokener_get_parse_end(tok);
	while (end < len && strchr(" \t\r\n", s[end]) != NULL)
		end++;
	if (root && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(root, json_type_object) && end == len) {
		json_tokener_free(tok);
		return root;
	}
fail:
	if (tok)
		json_tokener_free(tok);
	json_object_put(root);
	return NULL;
}

/*
 * The runner's answer must be one JSON object on stdout, nothing else: a
 * program that reaches the runner's stdout cannot append a forged one.
 */
static int
run_check_result(struct run_output *o, long exit_code, struct buf *out,
    enum outcome *outcome, struct error *e)
{
	json_object *root;
	size_t len = o->out.len;

	if (o->err.len > 0) {
		error_set(e, ERROR_CODERUNNER_STDERR, "%.*s",
		    RUN_MESSAGE_MAX, o->err.data);
		return -1;
	}
	while (len > 0 && strchr(" \t\r\n", o->out.data[len - 1]))
		len--;
	if ((root = run_parse_object(o->out.data, len)) == NULL) {
		if (len == 0)
			error_set(e, ERROR_CODERUNNER_DECODE,
			    "The runner printed no result (container exit "
			    "code %ld%s)", exit_code, exit_code == 137 ?
			    ", killed: out of memory?" : "");
		else
			error_set(e, ERROR_CODERUNNER_DECODE,
			    "The runner's output is not one JSON object");
		return -1;
	}
	*outcome = run_outcome(root);
	json_object_put(root);
	util_buf_reset(out);
	if (util_buf_append(out, o->out.data, len) == -1) {
		error_set(e, ERROR_SERVER_MEMORY, "out of memory");
		return -1;
	}
	return 0;
}

static long
run_exit_code(const struct buf *resp)
{
	json_object *root = docker_json(resp, json_type_object), *v;
	long code = -1;

	if (json_object_object_get_ex(root, "StatusCode", &v))
		code = (long)json_object_get_int64(v);
	json_object_put(root);
	return code;
}

/* The runner's stdout ends with a newline and holds one JSON object. */
static int
run_answer_complete(const struct run_output *o)
{
	json_object *root;
	size_t len = o->out.len;

	if (len == 0 || o->out.data[len - 1] != '\n')
		return 0;
	while (len > 0 && strchr(" \t\r\n", o->out.data[len - 1]))
		len--;
	if ((root = run_parse_object(o->out.data, len)) == NULL)
		return 0;
	json_object_put(root);
	return 1;
}

/*
 * The attach stream brought no answer by the deadline.  The runner stops
 * the program at its time (time_ms) and reports it, so either the runner could
 * not (the program starved it) or Docker did not pass its answer on: when
 * dockerd does not even answer a ping, the fault is Docker's.
 */
static void
run_timed_out(struct docker *d, long long time_ms, struct error *e)
{
	char stalled[sizeof(d->error)];

	memcpy(stalled, d->error, sizeof(stalled));
	if (docker_ping(d) == 0)
		error_set(e, ERROR_LIMITS_EXECUTION_TIME, "Max execution "
		    "time exceeded (%lld ms)", time_ms);
	else
		error_set(e, ERROR_DOCKER_TIMEOUT, "Docker did not answer in "
		    "time: %s; ping: %s", stalled, d->error);
}

/*
 * Read the attach stream until the runner's answer is complete (1), the
 * stream ends or breaks without it (0), or the deadline or the output
 * limit is passed, or the run is cancelled (-1, with e set).
 */
static int
run_read_answer(struct docker *d, const struct image *im, struct run *r,
    long long time_ms, struct run_output *o, struct error *e)
{
	char chunk[16384];
	ssize_t n;

	for (;;) {
		n = docker_read(d, chunk, sizeof(chunk), r->deadline);
		if (n == -1 && d->timed_out) {
			run_timed_out(d, time_ms, e);
			return -1;
		}
		if (n == -1 && (d->client_gone || docker_cancelled)) {
			run_docker_error(d, 0, NULL, ERROR_DOCKER_ATTACH, e);
			return -1;
		}
		if (n <= 0)
			return 0;
		if (stream_feed(&o->demux, chunk, (size_t)n, run_output_put,
		    o) == -1) {
			if (!o->over)
				return 0;
			error_set(e, ERROR_LIMITS_READ_SIZE, "Max output size "
			    "exceeded (%lld bytes)", im->limits.output_size);
			return -1;
		}
		if (run_answer_complete(o))
			return 1;
	}
}

/*
 * The way every run took before the stream gave its answer: wait for the
 * container within the deadline, then read its logs.  Used when the
 * stream ended without an answer, so that the error named is the one the
 * logs explain.
 */
static int
run_read_logs(struct docker *d, const struct image *im, struct run *r,
    struct run_output *o, long *exit_code, struct error *e)
{
	struct buf resp = { 0 };
	char path[160];
	long status;
	int rc = -1;

	/* The stream ended: the container is done, and a wait that times
	 * out is Docker's failure, not the program's. */
	snprintf(path, sizeof(path), "/containers/%s/wait", r->id);
	if (docker_call(d, "POST", path, NULL, r->deadline - util_now_ms(),
	    4096, &status, &resp) == -1 || status != 200) {
		run_docker_error(d, status, &resp, ERROR_DOCKER_WAIT, e);
		goto done;
	}
	*exit_code = run_exit_code(&resp);
	run_output_reset(o);
	snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1",
	    r->id);
	/* The container has exited: its logs get a call's usual time. */
	if (docker_stream(d, "GET", path, NULL, d->read_timeout,
	    run_output_sink, o, &status) == -1) {
		if (o->over)
			error_set(e, ERROR_LIMITS_READ_SIZE, "Max output "
			    "size exceeded (%lld bytes)",
			    im->limits.output_size);
		else if (d->truncated)
			error_set(e, ERROR_DOCKER_LOGS, "Docker's logs are not "
			    "a multiplexed stream");
		else
			run_docker_error(d, 0, NULL, ERROR_DOCKER_LOGS, e);
		goto done;
	}
	if (status != 200 || stream_finish(&o->demux) == -1) {
		error_set(e, ERROR_DOCKER_LOGS, "Docker answered logs with "
		    "HTTP %ld%s%s", status, status == 200 ? " and a cut frame" :
		    ": ", status == 200 ? "" : d->message);
		goto done;
	}
	rc = 0;
done:
	util_buf_free(&resp);
	return rc;
}

/*
 * Feed the payload to a started container and put the runner's JSON
 * answer in out, from the attach stream or, failing that, the logs; the
 * runner has time_ms (run_time()) and a reserve.
 */
int
run_finish(struct docker *d, const struct image *im, struct run *r,
    long long time_ms, const char *payload, size_t len, struct buf *out,
    enum outcome *outcome, struct error *e)
{
	struct run_output o = { .max = (size_t)im->limits.output_size };
	long exit_code = -1;
	int rc = -1, answered;

	stream_init(&o.demux);
	r->deadline = util_now_ms() + time_ms + run_reserve(time_ms);
	if (docker_send_stdin(d, payload, len, r->deadline) == -1) {
		run_docker_error(d, 0, NULL, ERROR_DOCKER_ATTACH, e);
		goto done;
	}
	if ((answered = run_read_answer(d, im, r, time_ms, &o, e)) == -1 ||
	    (!answered && run_read_logs(d, im, r, &o, &exit_code, e) == -1))
		goto done;
	rc = run_check_result(&o, exit_code, out, outcome, e);
done:
	util_buf_free(&o.out);
	util_buf_free(&o.err);
	return rc;
}

/* Close the attach connection and remove the container, if any. */
void
run_remove(struct docker *d, const struct conf *c, struct run *r)
{
	/* No container, no attach connection (and, in the queue, no d). */
	if (r->id[0] == '\0')
		return;
	docker_detach(d);
	if (c->keep_container)
		log_info("keeping container %.12s (keep_container)", r->id);
	else
		docker_remove_container(d, r->id);
	r->id[0] = '\0';
	/* Only now: the reaper leaves a container alone while its slot is
	 * taken, and removes it once it is not. */
	if (r->pool_slot != -1) {
		pool_release(r->pool_slot);
		r->pool_slot = -1;
	}
}
