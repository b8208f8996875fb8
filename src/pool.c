/*
 * Warm sandboxes: containers created and started ahead of their request,
 * their runners blocked on stdin.  The table lives in one shared mapping
 * made by the master before the first fork; the keeper (keeper.c) fills
 * it, a worker claims one container for exactly one run, and removes it
 * after the reply.  Slots change state only by compare-and-swap:
 *
 *   FREE -> CREATING (keeper) -> READY -> CLAIMED (worker or keeper) -> FREE
 *
 * A slot records the fingerprint of the create body its container was
 * made with (image, limits, everything but the labels of one request):
 * a worker only claims a container made exactly as it would make one, so
 * a reload that changes an image's limits never runs the old ones.  Each
 * container carries its slot's nonce as its runbox.request label, so the
 * reaper can tell a pool's container from an orphan.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runbox.h"

/*
 * A slot's state and owner (CREATING: the keeper; CLAIMED: the claimer)
 * are one word, changed by one CAS: a dead owner's slots are freed
 * without ever freeing one that another process has just claimed.
 */
#define POOL_WORD(state, pid) \
	((unsigned long long)(unsigned)(pid) << 8 | (unsigned)(state))
#define POOL_STATE(word) ((int)((word) & 0xff))
#define POOL_OWNER(word) ((pid_t)((word) >> 8))

struct pool_slot {
	unsigned long long word;
	unsigned long long fingerprint;
	unsigned long long nonce; /* the container's runbox.request label */
	long long ready_ms;       /* monotonic, when it became READY */
	char id[72];
};

struct pool_counters {
	unsigned long long key; /* hash of the image section's name; 0: unused */
	char name[64];
	long long hits;
	long long misses;
	long long refill_failures;
};

struct pool {
	struct pool_slot slots[POOL_SLOTS];
	struct pool_counters counters[POOL_IMAGES];
};

static struct pool *pool;

/* Map the table; every process forked afterwards shares it. */
int
pool_create(void)
{
	void *p = mmap(NULL, sizeof(*pool), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		log_warn("pool: mmap");
		return -1;
	}
	pool = p;
	memset(pool, 0, sizeof(*pool));
	return 0;
}

/* FNV-1a: fingerprints and names, not security. */
unsigned long long
pool_hash(const char *s, size_t len)
{
	unsigned long long h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

static unsigned long long
pool_word(const struct pool_slot *s)
{
	return __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
}

static int
pool_cas(struct pool_slot *s, unsigned long long from, unsigned long long to)
{
	return __atomic_compare_exchange_n(&s->word, &from, to, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static void
pool_set(struct pool_slot *s, int state)
{
	__atomic_store_n(&s->word, POOL_WORD(state, 0), __ATOMIC_RELEASE);
}

/*
 * Take a free slot for a container about to be created with fingerprint
 * and label nonce; -1 when all are taken.
 */
int
pool_reserve(unsigned long long fingerprint, unsigned long long nonce)
{
	struct pool_slot *s;
	unsigned long long w;
	int i;

	for (i = 0; i < POOL_SLOTS; i++) {
		s = &pool->slots[i];
		w = pool_word(s);
		if (POOL_STATE(w) != POOL_FREE ||
		    !pool_cas(s, w, POOL_WORD(POOL_CREATING, getpid())))
			continue;
		s->fingerprint = fingerprint;
		s->nonce = nonce;
		s->id[0] = '\0';
		s->ready_ms = 0;
		return i;
	}
	return -1;
}

/* The reserved slot's container exists and waits for its payload. */
void
pool_ready(int slot, const char *id, long long now)
{
	struct pool_slot *s = &pool->slots[slot];

	snprintf(s->id, sizeof(s->id), "%s", id);
	s->ready_ms = now;
	pool_set(s, POOL_READY);
}

/*
 * Claim the ready container of slot s if want() accepts it: its id goes
 * to id (RUN_ID_SIZE bytes).  1 when claimed.
 */
static int
pool_take(struct pool_slot *s, int (*want)(const struct pool_slot *,
    const void *), const void *arg, char *id)
{
	unsigned long long w = pool_word(s);

	if (POOL_STATE(w) != POOL_READY || !want(s, arg) ||
	    !pool_cas(s, w, POOL_WORD(POOL_CLAIMED, getpid())))
		return 0;
	/* Emptied and refilled between the test and the swap: look again. */
	if (!want(s, arg)) {
		pool_set(s, POOL_READY);
		return 0;
	}
	memcpy(id, s->id, sizeof(s->id));
	return 1;
}

static int
pool_want_fingerprint(const struct pool_slot *s, const void *arg)
{
	return s->fingerprint == *(const unsigned long long *)arg;
}

/*
 * Claim a ready container made with fingerprint, for one run: its id goes
 * to id (RUN_ID_SIZE bytes).  Returns the slot, or -1 when there is none.
 */
int
pool_claim(unsigned long long fingerprint, char *id)
{
	int i;

	for (i = 0; i < POOL_SLOTS; i++)
		if (pool_take(&pool->slots[i], pool_want_fingerprint,
		    &fingerprint, id))
			return i;
	return -1;
}

struct pool_stale {
	int (*keep)(unsigned long long, void *);
	void *arg;
	long long ready_before;
};

static int
pool_want_stale(const struct pool_slot *s, const void *arg)
{
	const struct pool_stale *st = arg;

	return !st->keep(s->fingerprint, st->arg) ||
	    s->ready_ms < st->ready_before;
}

/*
 * Claim a ready container that must go: made with a fingerprint that
 * keep() refuses, or ready since before ready_before.  -1 when none.
 */
int
pool_claim_stale(int (*keep)(unsigned long long, void *), void *arg,
    long long ready_before, char *id)
{
	struct pool_stale st = { keep, arg, ready_before };
	int i;

	for (i = 0; i < POOL_SLOTS; i++)
		if (pool_take(&pool->slots[i], pool_want_stale, &st, id))
			return i;
	return -1;
}

/* The slot's container is removed (or never came): the slot is free. */
void
pool_release(int slot)
{
	pool_set(&pool->slots[slot], POOL_FREE);
}

/*
 * Free the slots a dead process was creating or had claimed: their
 * containers are orphans now, and the reaper removes them.
 */
int
pool_release_owner(pid_t pid)
{
	unsigned long long w;
	int i, n = 0;

	for (i = 0; i < POOL_SLOTS; i++) {
		w = pool_word(&pool->slots[i]);
		if ((POOL_STATE(w) == POOL_CREATING ||
		    POOL_STATE(w) == POOL_CLAIMED) && POOL_OWNER(w) == pid &&
		    pool_cas(&pool->slots[i], w, POOL_WORD(POOL_FREE, 0)))
			n++;
	}
	return n;
}

/* How many slots hold (or are about to hold) containers of fingerprint;
 * any fingerprint when it is 0. */
int
pool_count(unsigned long long fingerprint, int ready_only)
{
	const struct pool_slot *s;
	int i, state, n = 0;

	for (i = 0; i < POOL_SLOTS; i++) {
		s = &pool->slots[i];
		state = POOL_STATE(pool_word(s));
		if ((state == POOL_READY || (!ready_only &&
		    state == POOL_CREATING)) &&
		    (fingerprint == 0 || s->fingerprint == fingerprint))
			n++;
	}
	return n;
}

/* Whether a container whose runbox.request label is request (a slot's
 * nonce in 16 hex digits) belongs to the pool. */
int
pool_holds(const char *request)
{
	unsigned long long nonce;
	int i;

	if (request == NULL || strlen(request) != 16 ||
	    strspn(request, "0123456789abcdef") != 16)
		return 0;
	nonce = strtoull(request, NULL, 16);
	for (i = 0; i < POOL_SLOTS; i++)
		if (POOL_STATE(pool_word(&pool->slots[i])) != POOL_FREE &&
		    pool->slots[i].nonce == nonce)
			return 1;
	return 0;
}

/* The counters of image section name, made on first use; NULL when the
 * table is full. */
static struct pool_counters *
pool_counters_of(const char *name)
{
	unsigned long long key = pool_hash(name, strlen(name)), zero;
	struct pool_counters *c;
	int i;

	for (i = 0; i < POOL_IMAGES; i++) {
		c = &pool->counters[i];
		zero = 0;
		if (__atomic_load_n(&c->key, __ATOMIC_ACQUIRE) == key)
			return c;
		if (c->key == 0 && __atomic_compare_exchange_n(&c->key, &zero,
		    key, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			snprintf(c->name, sizeof(c->name), "%s", name);
			return c;
		}
		if (zero == key)
			return c;
	}
	return NULL;
}

/* Count one claim that found a container (hit) or none (miss), or one
 * refill that failed, for image section name. */
void
pool_count_event(const char *name, enum pool_event event)
{
	struct pool_counters *c = pool_counters_of(name);

	if (c == NULL)
		return;
	__atomic_add_fetch(event == POOL_HIT ? &c->hits : event == POOL_MISS ?
	    &c->misses : &c->refill_failures, 1, __ATOMIC_RELAXED);
}

/* The counters of image section name (zeros before its first event). */
void
pool_stats(const char *name, struct pool_image_stats *st)
{
	unsigned long long key = pool_hash(name, strlen(name));
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < POOL_IMAGES; i++)
		if (__atomic_load_n(&pool->counters[i].key, __ATOMIC_ACQUIRE) ==
		    key) {
			st->hits = __atomic_load_n(&pool->counters[i].hits,
			    __ATOMIC_RELAXED);
			st->misses = __atomic_load_n(&pool->counters[i].misses,
			    __ATOMIC_RELAXED);
			st->refill_failures = __atomic_load_n(
			    &pool->counters[i].refill_failures,
			    __ATOMIC_RELAXED);
			return;
		}
}
