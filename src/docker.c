/*
 * The Docker Engine API with libcurl, over dockerd's unix socket or over
 * TCP (with mutual TLS unless the INI allows plain TCP): one easy handle
 * per worker, so the connection to dockerd is kept alive from one call to
 * the next, and one more for the attach connection, which dockerd hijacks
 * after "101 UPGRADED" and which libcurl then carries as a raw stream
 * (CONNECT_ONLY, curl_easy_send and curl_easy_recv), TLS and timeouts
 * included.  Every wait on Docker also watches the request's FastCGI
 * connection (client_fd): a client that leaves aborts the call as a stop
 * does.  An error answer is Docker's message, never fed to a stream's sink.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "runbox.h"

_Static_assert(sizeof(((struct docker *)0)->curl_error) >= CURL_ERROR_SIZE,
    "struct docker: curl_error must hold CURL_ERROR_SIZE bytes");

/* Set by a worker's SIGTERM handler: calls in progress give up. */
volatile sig_atomic_t docker_cancelled;

struct docker_sink {
	docker_sink_fn fn;
	void *arg;
	struct docker *docker;
	int raw;            /* error answers go to fn too (docker_call) */
	struct buf refusal; /* else an error answer's body, for d->message */
};

struct docker_buf_sink {
	struct buf *buf;
	size_t max;
};

/*
 * Split "unix:///path" or "tcp://host[:port]" into the handle (conf_load
 * has checked the endpoint, and read the TLS files of a tcp:// one).
 */
int
docker_open(struct docker *d, const struct conf *c)
{
	const char *ep = c->docker_endpoint;
	char url[512], host[256];
	int port;

	memset(d, 0, sizeof(*d));
	d->attach_fd = -1;
	d->client_fd = -1;
	d->read_timeout = c->docker_read_timeout;
	d->connect_timeout = c->docker_connect_timeout;
	if (strncmp(ep, "unix://", 7) == 0) {
		d->socket_path = strdup(ep + 7);
		snprintf(url, sizeof(url), "http://docker/v%s",
		    c->docker_api_version);
	} else {
		if (c->docker_tls_key != NULL) {
			d->tls_ca = &c->docker_tls_ca_pem;
			d->tls_cert = &c->docker_tls_cert_pem;
			d->tls_key = &c->docker_tls_key_pem;
		}
		if (util_parse_hostport(ep + strlen("tcp://"), d->tls_key ?
		    DOCKER_TLS_PORT : DOCKER_TCP_PORT, host, sizeof(host),
		    &port) == -1) {
			log_warnx("docker: endpoint %s: expected tcp://HOST:PORT",
			    ep);
			return -1;
		}
		snprintf(url, sizeof(url), "%s://%s%s%s:%d/v%s", d->tls_key ?
		    "https" : "http", strchr(host, ':') ? "[" : "", host,
		    strchr(host, ':') ? "]" : "", port, c->docker_api_version);
	}
	d->endpoint = strdup(ep);
	d->base_url = strdup(url);
	snprintf(url, sizeof(url), "/v%s", c->docker_api_version);
	d->api_prefix = strdup(url);
	d->curl = curl_easy_init();
	if ((d->socket_path == NULL && strncmp(ep, "unix://", 7) == 0) ||
	    d->endpoint == NULL || d->base_url == NULL ||
	    d->api_prefix == NULL || d->curl == NULL) {
		log_warnx("docker: out of memory");
		docker_close(d);
		return -1;
	}
	return 0;
}

void
docker_close(struct docker *d)
{
	docker_detach(d);
	if (d->curl)
		curl_easy_cleanup(d->curl);
	free(d->socket_path);
	free(d->endpoint);
	free(d->base_url);
	free(d->api_prefix);
	memset(d, 0, sizeof(*d));
	d->attach_fd = -1;
	d->client_fd = -1;
}

/*
 * Whether the client of the request in hand went away: the web server
 * closed the FastCGI connection.  Checked while waiting on Docker, so
 * that the run is cancelled and its container removed at once.
 */
static int
docker_client_gone(struct docker *d)
{
	struct pollfd pfd = { d->client_fd, POLLRDHUP, 0 };

	if (d->client_fd >= 0 && !d->client_gone && poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
		d->client_gone = 1;
	return d->client_gone;
}

/* Whether calls must give up: runboxd is stopping or the client left. */
static int
docker_aborted(struct docker *d)
{
	return docker_cancelled || docker_client_gone(d);
}

/* Why calls gave up, once docker_aborted() said they must. */
static const char *
docker_abort_reason(const struct docker *d)
{
	return d->client_gone ? "the client went away" : "cancelled";
}

static size_t
docker_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct docker_sink *s = arg;
	long code = 0;

	/* An error answer is Docker's message, never a stream's content. */
	curl_easy_getinfo(s->docker->curl, CURLINFO_RESPONSE_CODE, &code);
	if (!s->raw && code >= 300) {
		if (s->refusal.len < 4096)
			util_buf_append(&s->refusal, data, size * nmemb);
		return size * nmemb;
	}
	if (s->fn(s->arg, data, size * nmemb) == -1) {
		s->docker->truncated = 1;
		return 0;
	}
	return size * nmemb;
}

static int
docker_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return docker_aborted(arg) ? 1 : 0;
}

static int
docker_buf_sink(void *arg, const char *data, size_t len)
{
	struct docker_buf_sink *s = arg;

	if (s->buf->len + len > s->max)
		return -1;
	return util_buf_append(s->buf, data, len);
}

/*
 * The options every transfer to dockerd shares: where it is, how to
 * authenticate it and ourselves, how long connecting and the whole
 * transfer may take, and giving up when the worker is cancelled or the
 * client went away.
 */
static void
docker_setup(struct docker *d, CURL *curl, const char *url,
    long long timeout_ms)
{
	struct curl_blob ca = { 0 }, cert = { 0 }, key = { 0 };

	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (d->socket_path)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH,
		    d->socket_path);
	if (d->tls_key) {
		ca = (struct curl_blob){ d->tls_ca->data, d->tls_ca->len,
		    CURL_BLOB_COPY };
		cert = (struct curl_blob){ d->tls_cert->data,
		    d->tls_cert->len, CURL_BLOB_COPY };
		key = (struct curl_blob){ d->tls_key->data, d->tls_key->len,
		    CURL_BLOB_COPY };
		curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
		curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)d->connect_timeout);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, docker_progress_cb);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, d);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
}

/*
 * Whether a failed transfer never got to talk to dockerd: no connection
 * (refused, no route, not within connect_timeout, so no request sent),
 * or a TLS handshake
 * that failed on either side's certificate.  With TLS 1.3 a server that
 * refuses our certificate says so in an alert after the handshake, on
 * the first read: a TLS connection that broke before any answer counts.
 */
static int
docker_unreachable(struct docker *d, CURL *curl, CURLcode rc)
{
	curl_off_t sent = 0;
	long header_size = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return 1;
	case CURLE_OPERATION_TIMEDOUT:
		/* Not when the request went out (on a kept-alive connection
		 * too, whose connect time is 0): a dockerd that took it and
		 * never answered is hung, a docker.timeout. */
		curl_easy_getinfo(curl, CURLINFO_PRETRANSFER_TIME_T, &sent);
		return sent == 0;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		curl_easy_getinfo(curl, CURLINFO_HEADER_SIZE, &header_size);
		return d->tls_key != NULL && header_size == 0;
	default:
		return 0;
	}
}

/*
 * Record why a transfer (what: "GET /version", "attach") failed; one that
 * never reached dockerd names the endpoint.
 */
static void
docker_failed(struct docker *d, CURL *curl, const char *what, CURLcode rc)
{
	const char *why = rc == CURLE_ABORTED_BY_CALLBACK ?
	    docker_abort_reason(d) : d->curl_error[0] ? d->curl_error :
	    curl_easy_strerror(rc);

	d->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
	d->unreachable = docker_unreachable(d, curl, rc);
	if (d->unreachable)
		snprintf(d->error, sizeof(d->error), "%s: %s: %s", d->endpoint,
		    what, why);
	else
		snprintf(d->error, sizeof(d->error), "%s: %s", what, why);
}

static void
docker_reset_error(struct docker *d)
{
	d->error[0] = d->curl_error[0] = d->message[0] = '\0';
	d->timed_out = d->truncated = d->unreachable = 0;
}

/*
 * A transport failure after which the connection cannot be trusted: the
 * next call opens a fresh one (dockerd restarted and closed the kept-alive
 * one, or answered with garbage).
 */
static int
docker_broken(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR ||
	    rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	    rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_PARTIAL_FILE;
}

static int
docker_transfer(struct docker *d, const char *method, const char *path,
    const char *body, long long timeout_ms, struct docker_sink *sink,
    long *status)
{
	struct curl_slist *headers = NULL;
	char url[1024], what[300];
	CURLcode rc;
	CURL *curl = d->curl;

	docker_reset_error(d);
	*status = 0;
	if (docker_aborted(d)) {
		snprintf(d->error, sizeof(d->error), "%s %s: %s", method, path,
		    docker_abort_reason(d));
		return -1;
	}
	if (timeout_ms < 1) {
		d->timed_out = 1;
		snprintf(d->error, sizeof(d->error), "%s %s: no time left",
		    method, path);
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s", d->base_url, path);
	curl_easy_reset(curl);
	docker_setup(d, curl, url, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, d->fresh ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, d->curl_error);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, docker_write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0) {
		headers = curl_slist_append(headers,
		    "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
	}
	rc = curl_easy_perform(curl);
	curl_slist_free_all(headers);
	d->fresh = docker_broken(rc);
	if (rc != CURLE_OK) {
		snprintf(what, sizeof(what), "%s %s", method, path);
		docker_failed(d, curl, what, rc);
		return -1;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	if (!sink->raw && *status >= 300)
		docker_message(&sink->refusal, d->message, sizeof(d->message));
	return 0;
}

/*
 * One API call whose response body goes to sink.  Returns 0 when an HTTP
 * answer came (its code in *status; the message of an error answer in
 * d->message, never in the sink), -1 on a transport failure with
 * d->error, d->timed_out, d->truncated and d->unreachable telling why.
 */
int
docker_stream(struct docker *d, const char *method, const char *path,
    const char *body, long long timeout_ms, docker_sink_fn fn, void *arg,
    long *status)
{
	struct docker_sink sink = { fn, arg, d, 0, { 0 } };
	int rc;

	rc = docker_transfer(d, method, path, body, timeout_ms, &sink, status);
	util_buf_free(&sink.refusal);
	return rc;
}

/* One API call whose whole answer, error or not, goes into a buffer of
 * at most max bytes. */
int
docker_call(struct docker *d, const char *method, const char *path,
    const char *body, long long timeout_ms, size_t max, long *status,
    struct buf *out)
{
	struct docker_buf_sink buf = { out, max };
	struct docker_sink sink = { docker_buf_sink, &buf, d, 1, { 0 } };
	int rc;

	util_buf_reset(out);
	rc = docker_transfer(d, method, path, body, timeout_ms, &sink, status);
	/* A kept-alive connection that a restarted dockerd had closed:
	 * once more on a fresh one, for a call that may be repeated. */
	if (rc == -1 && d->fresh && !d->unreachable && out->len == 0 &&
	    strcmp(method, "POST") != 0)
		rc = docker_transfer(d, method, path, body, timeout_ms, &sink,
		    status);
	return rc;
}

/* Whether dockerd answers at all, within its connect timeout: after a
 * run's stream stalled, this tells Docker's fault from the program's. */
int
docker_ping(struct docker *d)
{
	struct buf resp = { 0 };
	long status;
	int rc;

	rc = docker_call(d, "GET", "/_ping", NULL, d->connect_timeout, 64,
	    &status, &resp) == 0 && status == 200 ? 0 : -1;
	util_buf_free(&resp);
	return rc;
}

/* An answer's JSON value if it is of the given type, or NULL. */
json_object *
docker_json(const struct buf *response, json_type type)
{
	json_object *root;

	if (response->len == 0 ||
	    (root = json_tokener_parse(response->data)) == NULL)
		return NULL;
	if (json_object_is_type(root, type))
		return root;
	json_object_put(root);
	return NULL;
}

/* The "message" of an error answer, or the raw text when it has none. */
const char *
docker_message(const struct buf *response, char *out, size_t outlen)
{
	json_object *root, *msg;

	root = docker_json(response, json_type_object);
	if (root && json_object_object_get_ex(root, "message", &msg))
		snprintf(out, outlen, "%s", json_object_get_string(msg));
	else
		snprintf(out, outlen, "%s", response->len ? response->data :
		    "no message");
	json_object_put(root);
	out[strcspn(out, "\r\n")] = '\0';
	return out;
}

/*
 * Wait until the attach connection is ready for events or the deadline
 * passes; 0 also when the calls must give up (docker_aborted), the
 * client's connection being watched beside it.
 */
static int
docker_poll(struct docker *d, short events, long long deadline)
{
	struct pollfd pfd[2] = { { d->attach_fd, events, 0 },
	    { d->client_fd, POLLRDHUP, 0 } };
	long long left;
	int rc;

	for (;;) {
		if (docker_aborted(d) || (left = deadline - util_now_ms()) <= 0)
			return 0;
		rc = poll(pfd, d->client_fd >= 0 ? 2 : 1,
		    left > 60000 ? 60000 : (int)left);
		if (rc > 0 && pfd[0].revents == 0)
			continue; /* the client: docker_aborted() says */
		if (rc > 0 || (rc == -1 && errno != EINTR))
			return rc;
	}
}

/*
 * Send all of data on the attach connection before the deadline.  Never
 * blocks: libcurl says CURLE_AGAIN when the socket has no room.
 */
static int
docker_send(struct docker *d, const char *what, const char *data, size_t len,
    long long deadline)
{
	CURLcode rc;
	size_t n;

	while (len > 0) {
		rc = curl_easy_send(d->attach, data, len, &n);
		if (rc == CURLE_AGAIN) {
			if (docker_poll(d, POLLOUT, deadline) > 0)
				continue;
			d->timed_out = !docker_aborted(d);
			snprintf(d->error, sizeof(d->error), "%s: %s", what,
			    d->timed_out ? "write timed out" :
			    docker_abort_reason(d));
			return -1;
		}
		if (rc != CURLE_OK) {
			docker_failed(d, d->attach, what, rc);
			return -1;
		}
		data += n;
		len -= n;
	}
	return 0;
}

/*
 * Read what the attached container sends, waiting until the deadline:
 * returns the number of bytes, 0 at the end of the stream, or -1 with
 * d->error (and d->timed_out when the deadline passed).  libcurl first:
 * TLS may hold decrypted bytes that poll() cannot see.
 */
ssize_t
docker_read(struct docker *d, char *buf, size_t len, long long deadline)
{
	CURLcode rc;
	size_t n;

	docker_reset_error(d);
	for (;;) {
		rc = curl_easy_recv(d->attach, buf, len, &n);
		if (rc == CURLE_OK)
			return (ssize_t)n;
		if (rc != CURLE_AGAIN) {
			docker_failed(d, d->attach, "attach: read", rc);
			return -1;
		}
		if (docker_poll(d, POLLIN, deadline) <= 0) {
			d->timed_out = !docker_aborted(d);
			snprintf(d->error, sizeof(d->error), "attach: %s",
			    d->timed_out ? "no answer in time" :
			    docker_abort_reason(d));
			return -1;
		}
	}
}

/*
 * Attach to the container's stdin, stdout and stderr: after "101
 * UPGRADED" the connection is a raw pipe into the container and carries
 * its output back in Docker's multiplexed frames.  The headers are read
 * byte by byte so that nothing past them is consumed.  Any attach
 * connection still open is closed first.
 */
int
docker_attach(struct docker *d, const char *id)
{
	char req[512], resp[1024];
	long long deadline = util_now_ms() + d->read_timeout;
	curl_socket_t fd;
	size_t len = 0;
	CURLcode rc;
	int n, code = 0;

	docker_detach(d);
	docker_reset_error(d);
	if ((d->attach = curl_easy_init()) == NULL) {
		snprintf(d->error, sizeof(d->error), "attach: out of memory");
		return -1;
	}
	docker_setup(d, d->attach, d->base_url, d->read_timeout);
	curl_easy_setopt(d->attach, CURLOPT_ERRORBUFFER, d->curl_error);
	curl_easy_setopt(d->attach, CURLOPT_CONNECT_ONLY, 1L);
	if (docker_aborted(d)) {
		snprintf(d->error, sizeof(d->error), "attach: %s",
		    docker_abort_reason(d));
		goto fail;
	}
	if ((rc = curl_easy_perform(d->attach)) != CURLE_OK) {
		docker_failed(d, d->attach, "attach: connect", rc);
		goto fail;
	}
	curl_easy_getinfo(d->attach, CURLINFO_ACTIVESOCKET, &fd);
	d->attach_fd = fd;
	n = snprintf(req, sizeof(req), "POST %s/containers/%s/attach?stream=1"
	    "&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nUpgrade: tcp\r\n"
	    "Connection: Upgrade\r\nContent-Length: 0\r\n\r\n",
	    d->api_prefix, id);
	if (docker_send(d, "attach: send", req, (size_t)n, deadline) == -1)
		goto fail;
	while (len < sizeof(resp) - 1 && (len < 4 ||
	    memcmp(resp + len - 4, "\r\n\r\n", 4) != 0)) {
		if ((n = (int)docker_read(d, resp + len, 1, deadline)) <= 0) {
			if (n == 0)
				snprintf(d->error, sizeof(d->error),
				    "attach: connection closed");
			goto fail;
		}
		len++;
	}
	resp[len] = '\0';
	if (sscanf(resp, "HTTP/1.%*c %d", &code) != 1 ||
	    (code != 101 && code != 200)) {
		snprintf(d->error, sizeof(d->error), "attach: %.*s",
		    (int)strcspn(resp, "\r\n"), resp);
		goto fail;
	}
	return 0;
fail:
	docker_detach(d);
	return -1;
}

/* Close the attach connection, if one is open. */
void
docker_detach(struct docker *d)
{
	if (d->attach)
		curl_easy_cleanup(d->attach);
	d->attach = NULL;
	d->attach_fd = -1;
}

/*
 * Write the whole payload to the attached stdin, then signal EOF: a TCP
 * half-close, under TLS too (as Docker's own client does: dockerd reads
 * it as the end of stdin).
 */
int
docker_send_stdin(struct docker *d, const char *data, size_t len,
    long long deadline)
{
	docker_reset_error(d);
	if (docker_send(d, "stdin", data, len, deadline) == -1)
		return -1;
	if (shutdown(d->attach_fd, SHUT_WR) == -1) {
		snprintf(d->error, sizeof(d->error), "stdin: shutdown: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Remove a container and its anonymous volumes, running or not.  One that
 * is already gone counts as removed.  Logs its own failure.
 */
int
docker_remove_container(struct docker *d, const char *id)
{
	struct buf resp = { 0 };
	char path[160], msg[400];
	long status;
	int rc = 0;

	snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id);
	if (docker_call(d, "DELETE", path, NULL, d->read_timeout, 64 * 1024,
	    &status, &resp) == -1) {
		log_warnx("remove container %.12s: %s", id, d->error);
		rc = -1;
	} else if (status != 204 && status != 404) {
		log_warnx("remove container %.12s: %s (HTTP %ld)", id,
		    docker_message(&resp, msg, sizeof(msg)), status);
		rc = -1;
	}
	util_buf_free(&resp);
	return rc;
}
