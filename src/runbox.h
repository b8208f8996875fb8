/*
 * runboxd internals: one header, grouped by the file that implements each
 * function.  Exported functions are named file_verb().
 */
#ifndef RUNBOX_H
#define RUNBOX_H

#include <stdarg.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <fcgiapp.h>

#define RUNBOX_NAME "runbox"
#define RUNBOX_DESCRIPTION "Run untrusted code in throwaway Docker containers"
#define RUNBOX_LABEL_SERVICE "runbox.service"
#define RUNBOX_LABEL_INSTANCE "runbox.instance"
#define RUNBOX_LABEL_REQUEST "runbox.request"
#define RUNBOX_LABEL_WORKER "runbox.worker"
#define RUNBOX_LABEL_WARM "runbox.warm"

/* util.c */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
int util_buf_append(struct buf *b, const void *data, size_t len);
void util_buf_reset(struct buf *b);
void util_buf_free(struct buf *b);
long long util_now_ms(void);
int util_random_hex(char *out, size_t nbytes);
int util_token_equal(const char *given, const char *expected);
int util_parse_number(const char *s, long long min, long long max,
    long long *out);
int util_parse_hostport(const char *spec, int default_port, char *host,
    size_t hostlen, int *port);

/* log.c */
int log_init(const char *target, const char *ident);
const char *log_escape(char *buf, size_t size, const char *s);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* conf.c */
struct limits {
	long long execution_time; /* ms, whole run: create to logs */
	long long output_size;    /* bytes read from the runner */
	long long memory;         /* bytes, swap included */
	long long cpus;           /* nano CPUs */
	long long pids;           /* per-container pids cgroup */
	long long nofile_soft;
	long long nofile_hard;
	long long nproc_soft;     /* per-uid rlimit; 0 = unset */
	long long nproc_hard;
	long long msgqueue;       /* per-uid rlimit, bytes of POSIX queues */
	long long sigpending;     /* per-uid rlimit, queued signals */
	long long run_deadline;   /* ms, a run with limits or tests at most */
	long long tests_max;      /* tests of a payload; 0: none allowed */
	long long tests_stdin_size; /* bytes of all their stdin */
};

struct image {
	char *key;  /* "python" for [image.python] */
	char *name; /* the Docker image reference clients send */
	char *language; /* for GET /images; defaults to key */
	char *alias_list; /* the aliases key as written */
	char **aliases;   /* other names clients may send for it */
	size_t naliases;
	long long warm; /* containers kept ready; 0: none */
	char *runtime;  /* OCI runtime; defaults to [container]'s */
	unsigned long long fingerprint; /* of its containers' create body */
	struct limits limits;
};

struct conf {
	char *path;
	/* [server] */
	char *listen; /* NULL: the FastCGI socket is inherited on fd 0 */
	long long listen_mode;
	char *listen_user;  /* owner of a unix socket, or NULL */
	char *listen_group;
	long long listen_backlog;
	long long workers;
	char *access_token;
	char *access_token_file;
	long long max_body_size;
	char *log;
	char *instance;
	long long shutdown_timeout; /* ms */
	char *run_user;  /* the user runboxd drops to when started as root */
	char *run_group;
	char *pid_file;
	long long max_requests; /* per worker; 0 = no limit */
	long long kill_grace;    /* ms past a request's deadline */
	long long reap_interval; /* ms */
	long long io_timeout;    /* ms, on the web server's connection */
	long long queue_timeout; /* ms a request may wait for a worker */
	long long max_run_time;  /* ms, the longest execution_time */
	long long warm_max;      /* warm containers of all images at most */
	long long warm_max_age;  /* ms a container may stay warm */
	/* [docker] */
	char *docker_endpoint;
	char *docker_api_version;
	long long docker_read_timeout;    /* ms */
	long long docker_connect_timeout; /* ms */
	char *docker_tls_ca;   /* paths, for a tcp:// endpoint */
	char *docker_tls_cert;
	char *docker_tls_key;
	struct buf docker_tls_ca_pem; /* their contents, read at load */
	struct buf docker_tls_cert_pem;
	struct buf docker_tls_key_pem;
	int docker_plain_tcp; /* a tcp:// endpoint without TLS is allowed */
	/* [container] */
	char *uids; /* "FIRST-LAST": each live container has one of its own */
	long long uid_first;
	long long uid_last;
	char *hostname;
	int network_disabled;
	int readonly_rootfs;
	char *cap_drop;
	char *runtime;
	char *work_dir;
	char *work_dir_options;
	char *tmp_dir;
	char *tmp_dir_options;
	long long log_max_size;
	int keep_container;
	/* [limits], the defaults every [image.*] section starts from */
	struct limits limits;
	struct image *images;
	size_t nimages;
};

int conf_load(const char *path, struct conf *c, char *err, size_t errlen);
void conf_free(struct conf *c);
int conf_keep_restart_only(struct conf *next, const struct conf *running);
const struct image *conf_find_image(const struct conf *c, const char *name);
int conf_parse_size(const char *s, long long *out);
int conf_parse_duration(const char *s, long long *out_ms);

/* scoreboard.c */
#define SCOREBOARD_SLOTS 1024
#define SCOREBOARD_BUCKETS 9
enum outcome {
	OUTCOME_OK,
	OUTCOME_PROGRAM_ERROR,
	OUTCOME_TIMEOUT,
	OUTCOME_OUTPUT_LIMIT,
	OUTCOME_DOCKER_ERROR,
	OUTCOME_REJECTED,
	OUTCOME_BUSY,
	OUTCOME_CANCELLED,
	OUTCOME_MAX
};
enum slot_state { SLOT_IDLE, SLOT_BUSY };
/*
 * The slots and counters are private to scoreboard.c, read and written
 * through its functions only.  Public are the two fields the master bumps
 * on reload, with atomic operations.
 */
struct scoreboard {
	unsigned generation;
	long long reloads;
};
struct scoreboard_slot;
/* A copy of one worker's slot. */
struct scoreboard_view {
	pid_t pid;
	unsigned generation;
	int state;          /* enum slot_state */
	long long started;  /* ms, monotonic */
	long long deadline; /* ms, monotonic: the request must be over by then */
	unsigned long long request; /* the request id in hand, 0 when idle */
	long long requests;
};
/* The counters: shared in the scoreboard, copied by scoreboard_totals(). */
struct scoreboard_totals {
	struct scoreboard sb; /* generation, reloads */
	long long started; /* time(NULL) of the master's start */
	long long requests;
	long long runs;
	long long outcomes[OUTCOME_MAX];
	long long latency[SCOREBOARD_BUCKETS + 1]; /* last: above all */
	long long latency_sum_ms;
	long long reaped;
	long long worker_deaths;   /* killed, or exited with an error */
	long long worker_respawns; /* forked in place of one that died */
};
extern const long long scoreboard_buckets[SCOREBOARD_BUCKETS];
extern const char *const scoreboard_outcome_names[OUTCOME_MAX];
struct scoreboard *scoreboard_create(void);
unsigned scoreboard_generation(void);
struct scoreboard_slot *scoreboard_claim(unsigned generation, long long now);
void scoreboard_set_pid(struct scoreboard_slot *s, pid_t pid);
void scoreboard_release(struct scoreboard_slot *s);
int scoreboard_slot_view(size_t i, struct scoreboard_view *v);
struct scoreboard_slot *scoreboard_find(pid_t pid, struct scoreboard_view *v);
size_t scoreboard_index(const struct scoreboard_slot *s);
void scoreboard_busy(struct scoreboard_slot *s, long long deadline,
    const char *request_id);
void scoreboard_idle(struct scoreboard_slot *s);
int scoreboard_serving(pid_t pid, const char *request_id);
void scoreboard_count(int is_run, enum outcome outcome, long long ms);
void scoreboard_count_reaped(int n);
void scoreboard_count_death(void);
void scoreboard_count_respawn(void);
void scoreboard_totals(struct scoreboard_totals *t);
int scoreboard_idle_count(void);
void scoreboard_set_stopping(void);
int scoreboard_stopping(void);
void scoreboard_set_docker(int ok, long long now);
int scoreboard_docker_ok(long long since);
void scoreboard_set_queued(long long n);
long long scoreboard_queued(void);

/* error.c: every error a client can get, with its status and outcome */
enum error_code {
	ERROR_NONE,
	ERROR_ACCESS_TOKEN,
	ERROR_ROUTE_NOT_FOUND,
	ERROR_METHOD_NOT_ALLOWED,
	ERROR_REQUEST_JSON,
	ERROR_REQUEST_PAYLOAD,
	ERROR_REQUEST_LIMITS,
	ERROR_REQUEST_CONTENT_TYPE,
	ERROR_REQUEST_TOO_LARGE,
	ERROR_IMAGE_NOT_ALLOWED,
	ERROR_LIMITS_EXECUTION_TIME,
	ERROR_LIMITS_READ_SIZE,
	ERROR_DOCKER_UNAVAILABLE,
	ERROR_DOCKER_UNIXSOCKET,
	ERROR_DOCKER_TIMEOUT,
	ERROR_DOCKER_VERSION,
	ERROR_DOCKER_CREATE,
	ERROR_DOCKER_ATTACH,
	ERROR_DOCKER_START,
	ERROR_DOCKER_WAIT,
	ERROR_DOCKER_LOGS,
	ERROR_CODERUNNER_STDERR,
	ERROR_CODERUNNER_DECODE,
	ERROR_SERVER_STOPPING,
	ERROR_SERVER_BUSY,
	ERROR_CLIENT_CLOSED,
	ERROR_SERVER_MEMORY,
	ERROR_SERVER_INTERNAL,
	ERROR_MAX
};
struct error {
	enum error_code code;
	char message[512];
};
void error_set(struct error *e, enum error_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *error_name(enum error_code code);
int error_status(enum error_code code);
enum outcome error_outcome(enum error_code code);

/* status.c */
const char *status_render(const struct conf *c, const char *query,
    struct buf *body);

/* listen.c */
int listen_open(const struct conf *c);

/* stream.c: Docker's multiplexed stdout/stderr frames */
typedef int (*stream_out_fn)(void *arg, int fd, const char *data,
    size_t len);
struct stream_demux {
	unsigned char header[8];
	size_t header_len;
	int fd;
	size_t remaining;
};
void stream_init(struct stream_demux *d);
int stream_feed(struct stream_demux *d, const char *data, size_t len,
    stream_out_fn out, void *arg);
int stream_finish(const struct stream_demux *d);

/* request.c */
struct run_request {
	json_object *root;
	const char *image;
	json_object *payload;
	json_object *limits; /* the request's "limits", or NULL */
};
/*
 * A run's limits: the image's, lowered by the request's.  Times and the
 * output size reach the runner in the payload's "limits"; memory and pids
 * are the container's.
 */
struct run_limits {
	struct limits l;
	long long compile_time; /* ms, the build's own budget */
	int given;              /* the request had "limits" */
	size_t tests;           /* the payload's tests */
};
int request_parse_run(const char *body, size_t len, struct run_request *r,
    struct error *e);
int request_check_payload(json_object *payload, struct error *e);
int request_check_limits(const struct run_request *r, const struct limits *cap,
    struct run_limits *rl, struct error *e);
int request_set_limits(const struct run_request *r,
    const struct run_limits *rl, struct error *e);
int request_check_image(const char *image);
int request_check_content_type(const char *content_type,
    struct error *e);
void request_free(struct run_request *r);

/* docker.c */
#define DOCKER_TCP_PORT 2375 /* when a plain tcp:// endpoint names no port */
#define DOCKER_TLS_PORT 2376 /* when a tcp:// endpoint with TLS names none */
struct docker {
	void *curl;
	void *attach;      /* the attach connection's handle, or NULL */
	int attach_fd;     /* its socket, for poll(); -1 when none */
	char *endpoint;    /* as the INI names it, for messages */
	char *socket_path; /* unix endpoint, or NULL for tcp */
	const struct buf *tls_ca; /* PEM of a tcp endpoint with TLS, or NULL */
	const struct buf *tls_cert;
	const struct buf *tls_key;
	char *base_url;
	char *api_prefix;
	long long read_timeout;
	long long connect_timeout;
	char error[512];
	char curl_error[256]; /* libcurl's CURLOPT_ERRORBUFFER */
	int timed_out;   /* the call ran out of time */
	int truncated;   /* the sink refused more of the answer */
	int unreachable; /* dockerd could not be reached (nor its TLS agreed) */
	int fresh;       /* the last call broke its connection: open anew */
	char message[256]; /* Docker's message of docker_stream's error answer */
	int client_fd;   /* the request's FastCGI connection, or -1 */
	int client_gone; /* the web server closed it: the client left */
};
extern volatile sig_atomic_t docker_cancelled;
typedef int (*docker_sink_fn)(void *arg, const char *data, size_t len);
int docker_open(struct docker *d, const struct conf *c);
void docker_close(struct docker *d);
int docker_call(struct docker *d, const char *method, const char *path,
    const char *body, long long timeout_ms, size_t max_response,
    long *status, struct buf *out);
int docker_stream(struct docker *d, const char *method, const char *path,
    const char *body, long long timeout_ms, docker_sink_fn fn, void *arg,
    long *status);
int docker_attach(struct docker *d, const char *id);
void docker_detach(struct docker *d);
int docker_send_stdin(struct docker *d, const char *data, size_t len,
    long long deadline);
ssize_t docker_read(struct docker *d, char *buf, size_t len,
    long long deadline);
json_object *docker_json(const struct buf *response, json_type type);
const char *docker_message(const struct buf *response, char *out,
    size_t outlen);
int docker_remove_container(struct docker *d, const char *id);
int docker_ping(struct docker *d);

/* images.c */
json_object *images_list(const struct conf *c, struct docker *d);

/* run.c */
#define RUN_ID_SIZE 72
/* The uids [container] uids must hold: one per worker and warm slot. */
#define RUN_UIDS (SCOREBOARD_SLOTS + POOL_SLOTS)
struct run {
	char id[RUN_ID_SIZE];
	char request_id[40];
	int pool_slot; /* the warm slot claimed, or -1 */
	long long uid; /* of a cold run's container: run_uid() */
	long long deadline;
};
long long run_budget(const struct conf *c);
int run_start(struct docker *d, const struct conf *c, const struct image *im,
    struct run *r, struct error *e);
long long run_time(const struct limits *image, const struct run_limits *rl);
int run_finish(struct docker *d, const struct image *im, struct run *r,
    long long time_ms, const char *payload, size_t len, struct buf *out,
    enum outcome *outcome, struct error *e);
void run_remove(struct docker *d, const struct conf *c, struct run *r);
enum outcome run_outcome(json_object *result);
long long run_uid(const struct conf *c, int warm, size_t slot);
char *run_create_body(const struct conf *c, const struct image *im,
    const char *request_id, int warm, long long uid);
void run_fingerprint_images(struct conf *c);
int run_prepare(struct docker *d, const struct conf *c, const struct image *im,
    int slot, const char *nonce, char *id, struct error *e);

/* pool.c: warm containers, shared by every process */
#define POOL_SLOTS 256
#define POOL_IMAGES 64
enum pool_state { POOL_FREE, POOL_CREATING, POOL_READY, POOL_CLAIMED };
enum pool_event { POOL_HIT, POOL_MISS, POOL_REFILL_FAILED };
struct pool_image_stats {
	long long hits;
	long long misses;
	long long refill_failures;
};
int pool_create(void);
unsigned long long pool_hash(const char *s, size_t len);
int pool_reserve(unsigned long long fingerprint, unsigned long long nonce);
void pool_ready(int slot, const char *id, long long now);
int pool_claim(unsigned long long fingerprint, char *id);
int pool_claim_stale(int (*keep)(unsigned long long, void *), void *arg,
    long long ready_before, char *id);
void pool_release(int slot);
int pool_release_owner(pid_t pid);
int pool_count(unsigned long long fingerprint, int ready_only);
int pool_holds(const char *request);
void pool_count_event(const char *name, enum pool_event event);
void pool_stats(const char *name, struct pool_image_stats *st);

/* child.c: the stop signals of workers and the keeper */
extern volatile sig_atomic_t child_stopping;
void child_signals(void);

/* keeper.c */
int keeper_main(const struct conf *c);

/* reap.c */
typedef int (*reap_owned_fn)(pid_t worker, const char *request);
int reap_containers(const struct conf *c, reap_owned_fn owned);

/* api.c */
struct api_context {
	const struct conf *conf;
	struct docker *docker;
	FCGX_Request *req;
	char request_id[40];
	char image[256]; /* for the request log */
	int is_run;
	enum outcome outcome; /* of a run answered with 200 */
	int status;
	enum error_code error; /* of the answer, ERROR_NONE for a 200 */
	struct run *run; /* the container to remove after the reply */
};
void api_handle(struct api_context *ctx);
void api_refuse(struct api_context *ctx, const struct error *e);
int api_needs_worker(const char *method, const char *uri);

/* health.c */
int health_start(const struct conf *c);
void health_stop(void);
long long health_retry_after(const struct conf *c);
int health_check(const struct conf *c, struct error *e);

/* queue.c: connections waiting for a worker */
/* What MSG_PEEK looks at: BEGIN_REQUEST and PARAMS fit, else a worker
 * gets the request. */
#define QUEUE_PEEK_MAX 16384
enum queue_peek { PEEK_MORE, PEEK_WORKER, PEEK_HERE, PEEK_GONE };
enum queue_peek queue_parse(const unsigned char *buf, size_t n, size_t cap);
int queue_take(int sock, int *fd, long long *arrived);
void queue_timeouts(int fd, long long ms);
int queue_main(const struct conf *c, int listen_fd, const int pair[2]);

/* worker.c */
int worker_main(const struct conf *c, int listen_fd, int queue_fd,
    struct scoreboard_slot *slot);
void worker_serve(const struct conf *c, struct docker *docker,
    FCGX_Request *req, struct scoreboard_slot *slot,
    const struct error *refusal);

/* master.c */
int master_run(struct conf *c, int listen_fd);

#endif
