/*
 * The scoreboard: one shared anonymous mapping made by the master before
 * the first fork, where each worker keeps its slot (pid, state, current
 * request) and every process adds to the counters with atomic operations.
 * GET /status reads it; the master reads it to find runs that overstay.
 *
 * Every access goes through the functions here, with atomic loads and
 * stores: other processes read a slot while its owner writes it.  A
 * writer stores a slot's fields before the one that publishes them (pid
 * for the master, state for the worker) with release; a reader loads that
 * one with acquire before the others.  So a reader that sees BUSY sees
 * the deadline and request of that run or a later one, never an earlier.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "runbox.h"

struct scoreboard_slot {
	pid_t pid;      /* 0: free; -1: claimed, the worker not forked yet */
	unsigned generation;
	int state;
	long long started;  /* ms, monotonic */
	long long deadline; /* ms, monotonic: the request must be over by then */
	unsigned long long request; /* the request id in hand, 0 when idle */
	long long requests;
};

/* The mapping: the counters, whose struct scoreboard is the public part,
 * and the slots. */
struct scoreboard_map {
	struct scoreboard_totals totals;
	int stopping;          /* the master is draining the pool for a stop */
	int docker_ok;         /* dockerd answered the last ping */
	long long docker_seen; /* ms, monotonic: when that ping ended */
	long long queued;      /* connections the queue holds for a worker */
	struct scoreboard_slot slots[SCOREBOARD_SLOTS];
};

/* Upper bounds of the latency histogram buckets, in milliseconds. */
const long long scoreboard_buckets[SCOREBOARD_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
};

const char *const scoreboard_outcome_names[OUTCOME_MAX] = {
	"ok", "program_error", "timeout", "output_limit", "docker_error",
	"rejected", "busy", "cancelled",
};

static struct scoreboard_map *board;

/* Map the scoreboard; every process forked afterwards shares it. */
struct scoreboard *
scoreboard_create(void)
{
	void *p = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		log_warn("scoreboard: mmap");
		return NULL;
	}
	/* A fresh anonymous mapping is zeroed, and no one else sees it yet. */
	board = p;
	board->totals.started = time(NULL);
	return &board->totals.sb;
}

/* The configuration generation that new workers start with. */
unsigned
scoreboard_generation(void)
{
	return __atomic_load_n(&board->totals.sb.generation,
	    __ATOMIC_ACQUIRE);
}

/*
 * Reserve a free slot for a worker about to be forked (pid -1 until the
 * master knows it), or NULL when all are taken.  Only the master claims
 * and releases slots.
 */
struct scoreboard_slot *
scoreboard_claim(unsigned generation, long long now)
{
	struct scoreboard_slot *s;
	size_t i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		s = &board->slots[i];
		if (__atomic_load_n(&s->pid, __ATOMIC_ACQUIRE) != 0)
			continue;
		__atomic_store_n(&s->generation, generation, __ATOMIC_RELAXED);
		__atomic_store_n(&s->state, SLOT_IDLE, __ATOMIC_RELAXED);
		__atomic_store_n(&s->started, now, __ATOMIC_RELAXED);
		__atomic_store_n(&s->deadline, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->request, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->requests, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->pid, -1, __ATOMIC_RELEASE);
		return s;
	}
	return NULL;
}

/* The worker of a claimed slot is forked: publish its pid. */
void
scoreboard_set_pid(struct scoreboard_slot *s, pid_t pid)
{
	__atomic_store_n(&s->pid, pid, __ATOMIC_RELEASE);
}

void
scoreboard_release(struct scoreboard_slot *s)
{
	__atomic_store_n(&s->state, SLOT_IDLE, __ATOMIC_RELAXED);
	__atomic_store_n(&s->pid, 0, __ATOMIC_RELEASE);
}

/* Copy a slot; returns 1 when it holds a live worker, else 0. */
static int
scoreboard_load(const struct scoreboard_slot *s, struct scoreboard_view *v)
{
	v->pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
	v->generation = __atomic_load_n(&s->generation, __ATOMIC_RELAXED);
	v->started = __atomic_load_n(&s->started, __ATOMIC_RELAXED);
	v->state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	v->deadline = __atomic_load_n(&s->deadline, __ATOMIC_RELAXED);
	v->request = __atomic_load_n(&s->request, __ATOMIC_RELAXED);
	v->requests = __atomic_load_n(&s->requests, __ATOMIC_RELAXED);
	return v->pid > 0;
}

/*
 * A copy of slot i (below SCOREBOARD_SLOTS) in v; returns 1 when the
 * slot holds a live worker, 0 when it is free or not yet forked.
 */
int
scoreboard_slot_view(size_t i, struct scoreboard_view *v)
{
	return scoreboard_load(&board->slots[i], v);
}

/* The slot of live worker pid, with a copy of it in v; or NULL. */
struct scoreboard_slot *
scoreboard_find(pid_t pid, struct scoreboard_view *v)
{
	size_t i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (scoreboard_load(&board->slots[i], v) && v->pid == pid)
			return &board->slots[i];
	return NULL;
}

/* The index of slot s, below SCOREBOARD_SLOTS: what a worker's uid
 * derives from (run_uid()). */
size_t
scoreboard_index(const struct scoreboard_slot *s)
{
	return (size_t)(s - board->slots);
}

/* Request ids are 16 hex digits: one word, read and written whole. */
static unsigned long long
scoreboard_request(const char *request_id)
{
	return request_id ? strtoull(request_id, NULL, 16) : 0;
}

/* The worker starts a request that must be over by deadline (ms). */
void
scoreboard_busy(struct scoreboard_slot *s, long long deadline,
    const char *request_id)
{
	__atomic_store_n(&s->deadline, deadline, __ATOMIC_RELAXED);
	__atomic_store_n(&s->request, scoreboard_request(request_id),
	    __ATOMIC_RELAXED);
	__atomic_store_n(&s->state, SLOT_BUSY, __ATOMIC_RELEASE);
}

void
scoreboard_idle(struct scoreboard_slot *s)
{
	__atomic_add_fetch(&s->requests, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&s->request, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->state, SLOT_IDLE, __ATOMIC_RELEASE);
}

/*
 * Whether worker pid is alive and busy with request_id: its container is
 * in use.  Any other container labelled with a live worker was left by a
 * failed create or remove, and may go.
 */
int
scoreboard_serving(pid_t pid, const char *request_id)
{
	struct scoreboard_view v;
	unsigned long long id = scoreboard_request(request_id);

	if (pid <= 0 || id == 0 || scoreboard_find(pid, &v) == NULL)
		return 0;
	return v.state == SLOT_BUSY && v.request == id;
}

/* Count one answered request; runs also count by outcome and latency. */
void
scoreboard_count(int is_run, enum outcome outcome, long long ms)
{
	struct scoreboard_totals *c = &board->totals;
	size_t i;

	__atomic_add_fetch(&c->requests, 1, __ATOMIC_RELAXED);
	if (!is_run)
		return;
	__atomic_add_fetch(&c->runs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->outcomes[outcome], 1, __ATOMIC_RELAXED);
	for (i = 0; i < SCOREBOARD_BUCKETS && ms > scoreboard_buckets[i]; i++)
		;
	__atomic_add_fetch(&c->latency[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->latency_sum_ms, ms, __ATOMIC_RELAXED);
}

/* Count containers removed by the reaper. */
void
scoreboard_count_reaped(int n)
{
	__atomic_add_fetch(&board->totals.reaped, n, __ATOMIC_RELAXED);
}

/* Count a worker that died (the master saw it killed or failing). */
void
scoreboard_count_death(void)
{
	__atomic_add_fetch(&board->totals.worker_deaths, 1, __ATOMIC_RELAXED);
}

/* Count a worker forked in place of one that died. */
void
scoreboard_count_respawn(void)
{
	__atomic_add_fetch(&board->totals.worker_respawns, 1,
	    __ATOMIC_RELAXED);
}

/*
 * A copy of the counters.  Each is read whole, but not all at one
 * instant: a request counted meanwhile may show in some and not others.
 */
void
scoreboard_totals(struct scoreboard_totals *t)
{
	const struct scoreboard_totals *c = &board->totals;
	int i;

	t->sb.generation = __atomic_load_n(&c->sb.generation,
	    __ATOMIC_ACQUIRE);
	t->sb.reloads = __atomic_load_n(&c->sb.reloads, __ATOMIC_RELAXED);
	t->started = __atomic_load_n(&c->started, __ATOMIC_RELAXED);
	t->requests = __atomic_load_n(&c->requests, __ATOMIC_RELAXED);
	t->runs = __atomic_load_n(&c->runs, __ATOMIC_RELAXED);
	for (i = 0; i < OUTCOME_MAX; i++)
		t->outcomes[i] = __atomic_load_n(&c->outcomes[i],
		    __ATOMIC_RELAXED);
	for (i = 0; i <= SCOREBOARD_BUCKETS; i++)
		t->latency[i] = __atomic_load_n(&c->latency[i],
		    __ATOMIC_RELAXED);
	t->latency_sum_ms = __atomic_load_n(&c->latency_sum_ms,
	    __ATOMIC_RELAXED);
	t->reaped = __atomic_load_n(&c->reaped, __ATOMIC_RELAXED);
	t->worker_deaths = __atomic_load_n(&c->worker_deaths,
	    __ATOMIC_RELAXED);
	t->worker_respawns = __atomic_load_n(&c->worker_respawns,
	    __ATOMIC_RELAXED);
}

/* Idle workers of the current generation: those that take new requests. */
int
scoreboard_idle_count(void)
{
	struct scoreboard_view v;
	unsigned generation = scoreboard_generation();
	int n = 0;
	size_t i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (scoreboard_load(&board->slots[i], &v) &&
		    v.generation == generation && v.state == SLOT_IDLE)
			n++;
	return n;
}

/* The master drains the pool for a stop: /health says so. */
void
scoreboard_set_stopping(void)
{
	__atomic_store_n(&board->stopping, 1, __ATOMIC_RELEASE);
}

int
scoreboard_stopping(void)
{
	return __atomic_load_n(&board->stopping, __ATOMIC_ACQUIRE);
}

/* The outcome of a ping of dockerd that ended at now (ms). */
void
scoreboard_set_docker(int ok, long long now)
{
	__atomic_store_n(&board->docker_ok, ok, __ATOMIC_RELAXED);
	__atomic_store_n(&board->docker_seen, now, __ATOMIC_RELEASE);
}

/* Whether dockerd answered a ping that ended after since (ms). */
int
scoreboard_docker_ok(long long since)
{
	return __atomic_load_n(&board->docker_seen, __ATOMIC_ACQUIRE) >=
	    since && __atomic_load_n(&board->docker_ok, __ATOMIC_RELAXED);
}

void
scoreboard_set_queued(long long n)
{
	__atomic_store_n(&board->queued, n, __ATOMIC_RELAXED);
}

long long
scoreboard_queued(void)
{
	return __atomic_load_n(&board->queued, __ATOMIC_RELAXED);
}
