/*
 * The scoreboard: one shared anonymous mapping made by the master before
 * the first fork, where each worker keeps its slot (pid, state, current
 * request) and every process adds to the counters with atomic operations.
 * GET /status reads it; the master reads it to find runs that overstay.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "runbox.h"

/* Upper bounds of the latency histogram buckets, in milliseconds. */
const long long scoreboard_buckets[SCOREBOARD_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
};

const char *const scoreboard_outcome_names[OUTCOME_MAX] = {
	"ok", "program_error", "timeout", "output_limit", "docker_error",
	"rejected",
};

static struct scoreboard *scoreboard;

/* Map the scoreboard; every process forked afterwards shares it. */
struct scoreboard *
scoreboard_create(void)
{
	void *p = mmap(NULL, sizeof(*scoreboard), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		log_warn("scoreboard: mmap");
		return NULL;
	}
	scoreboard = p;
	memset(scoreboard, 0, sizeof(*scoreboard));
	scoreboard->started = time(NULL);
	return scoreboard;
}

struct scoreboard *
scoreboard_get(void)
{
	return scoreboard;
}

/*
 * Reserve a free slot for a worker about to be forked (pid -1 until the
 * master knows it), or NULL when all are taken.
 */
struct scoreboard_slot *
scoreboard_claim(unsigned generation, long long now)
{
	struct scoreboard_slot *s;
	size_t i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		s = &scoreboard->slots[i];
		if (s->pid != 0)
			continue;
		memset(s, 0, sizeof(*s));
		s->generation = generation;
		s->started = now;
		__atomic_store_n(&s->pid, -1, __ATOMIC_RELEASE);
		return s;
	}
	return NULL;
}

/* The slot of a live worker, or NULL. */
struct scoreboard_slot *
scoreboard_find(pid_t pid)
{
	size_t i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (scoreboard->slots[i].pid == pid)
			return &scoreboard->slots[i];
	return NULL;
}

void
scoreboard_release(struct scoreboard_slot *s)
{
	__atomic_store_n(&s->state, SLOT_IDLE, __ATOMIC_RELEASE);
	__atomic_store_n(&s->pid, 0, __ATOMIC_RELEASE);
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
	const struct scoreboard_slot *s;
	unsigned long long id = scoreboard_request(request_id);

	if (pid <= 0 || id == 0 || (s = scoreboard_find(pid)) == NULL)
		return 0;
	return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SLOT_BUSY &&
	    __atomic_load_n(&s->request, __ATOMIC_RELAXED) == id;
}

/* Count one answered request; runs also count by outcome and latency. */
void
scoreboard_count(int is_run, enum outcome outcome, long long ms)
{
	size_t i;

	__atomic_add_fetch(&scoreboard->requests, 1, __ATOMIC_RELAXED);
	if (!is_run)
		return;
	__atomic_add_fetch(&scoreboard->runs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&scoreboard->outcomes[outcome], 1, __ATOMIC_RELAXED);
	for (i = 0; i < SCOREBOARD_BUCKETS && ms > scoreboard_buckets[i]; i++)
		;
	__atomic_add_fetch(&scoreboard->latency[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&scoreboard->latency_sum_ms, ms, __ATOMIC_RELAXED);
}
