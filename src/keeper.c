/*
 * The keeper: one process beside the workers that keeps each image's warm
 * containers ready, so that a request finds one and never waits for a
 * create or a start.  It makes one container at a time (the workers'
 * runs come first on a small host), replaces those warm for longer than
 * warm_max_age or made under another configuration (a reload that changed
 * an image's limits), and backs off from an image it cannot make (one
 * that is not built) instead of asking dockerd again and again.  The
 * master starts it, replaces it on reload and stops it with the workers;
 * the containers it leaves are the pool's, not its own.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runbox.h"

#define KEEPER_IDLE_MS 100
#define KEEPER_BACKOFF_MIN_MS 1000
#define KEEPER_BACKOFF_MAX_MS 60000

struct keeper_image {
	const struct image *im;
	unsigned long long fingerprint;
	long long next_try; /* ms: no attempt before, after a failure */
	long long backoff;
};

struct keeper {
	const struct conf *conf;
	struct docker docker;
	struct keeper_image *images;
	size_t nimages;
};

/* Whether a container made with fingerprint is one this configuration
 * would make. */
static int
keeper_wants(unsigned long long fingerprint, void *arg)
{
	const struct keeper *k = arg;
	size_t i;

	for (i = 0; i < k->nimages; i++)
		if (k->images[i].fingerprint == fingerprint)
			return 1;
	return 0;
}

/*
 * Remove one container that must go: made under another configuration,
 * warm for too long, or more than its image keeps now (a reload lowered
 * warm).  1 if there was one.
 */
static int
keeper_discard(struct keeper *k)
{
	char id[RUN_ID_SIZE];
	size_t i;
	int slot;

	slot = pool_claim_stale(keeper_wants, k, util_now_ms() -
	    k->conf->warm_max_age, id);
	for (i = 0; slot == -1 && i < k->nimages; i++)
		if (pool_count(k->images[i].fingerprint, 1) >
		    k->images[i].im->warm)
			slot = pool_claim(k->images[i].fingerprint, id);
	if (slot == -1)
		return 0;
	docker_remove_container(&k->docker, id);
	pool_release(slot);
	return 1;
}

/* Make one warm container for ki; 0, or -1 when it could not be made. */
static int
keeper_fill(struct keeper *k, struct keeper_image *ki)
{
	char nonce[40], id[RUN_ID_SIZE];
	struct error e;
	int slot;

	if (util_random_hex(nonce, 8) == -1)
		return -1;
	/* Every slot taken (claimed ones included): wait for a release. */
	if ((slot = pool_reserve(ki->fingerprint,
	    strtoull(nonce, NULL, 16))) == -1)
		return -1;
	if (run_prepare(&k->docker, k->conf, ki->im, slot, nonce, id,
	    &e) == 0) {
		pool_ready(slot, id, util_now_ms());
		if (ki->backoff > 0)
			log_info("image %s: warm containers are made again",
			    ki->im->key);
		ki->backoff = 0;
		return 0;
	}
	if (id[0] != '\0')
		docker_remove_container(&k->docker, id);
	pool_release(slot);
	if (child_stopping)
		return 0;
	pool_count_event(ki->im->key, POOL_REFILL_FAILED);
	/* Said once per streak of failures; the retries wait longer each
	 * time, so that an image that is not built costs dockerd little. */
	if (ki->backoff == 0)
		log_warnx("image %s: cannot make a warm container: %s: %s "
		    "(runs take the cold path; retrying with back-off)",
		    ki->im->key, error_name(e.code), e.message);
	ki->backoff = ki->backoff == 0 ? KEEPER_BACKOFF_MIN_MS :
	    ki->backoff * 2 > KEEPER_BACKOFF_MAX_MS ? KEEPER_BACKOFF_MAX_MS :
	    ki->backoff * 2;
	ki->next_try = util_now_ms() + ki->backoff;
	return -1;
}

/* The image that most lacks warm containers and may be tried now, or
 * NULL when every pool is full (or the global cap is reached). */
static struct keeper_image *
keeper_next(struct keeper *k)
{
	struct keeper_image *best = NULL;
	long long now = util_now_ms();
	int lack, most = 0;
	size_t i;

	if (pool_count(0, 0) >= k->conf->warm_max)
		return NULL;
	for (i = 0; i < k->nimages; i++) {
		lack = (int)k->images[i].im->warm -
		    pool_count(k->images[i].fingerprint, 0);
		if (lack > most && now >= k->images[i].next_try) {
			most = lack;
			best = &k->images[i];
		}
	}
	return best;
}

static void
keeper_sleep(long long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	if (!child_stopping)
		nanosleep(&ts, NULL);
}

/* Keep the pools filled until told to stop; the process's exit status. */
int
keeper_main(const struct conf *c)
{
	struct keeper k = { .conf = c };
	struct keeper_image *ki;
	sigset_t none;
	size_t i;
	int discarded;

	child_signals();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (docker_open(&k.docker, c) == -1)
		return 1;
	if ((k.images = calloc(c->nimages, sizeof(*k.images))) == NULL) {
		log_warnx("keeper: out of memory");
		docker_close(&k.docker);
		return 1;
	}
	for (i = 0; i < c->nimages; i++)
		if (c->images[i].warm > 0) {
			ki = &k.images[k.nimages++];
			ki->im = &c->images[i];
			ki->fingerprint = ki->im->fingerprint;
		}
	/* One discard and one fill a round: containers made together age
	 * together, and are replaced one by one, not all at once. */
	while (!child_stopping) {
		discarded = keeper_discard(&k);
		/* Left only to discard what a reload turned off: done. */
		if (k.nimages == 0 && pool_count(0, 0) == 0)
			break;
		if (((ki = keeper_next(&k)) == NULL ||
		    keeper_fill(&k, ki) == -1) && !discarded)
			keeper_sleep(KEEPER_IDLE_MS);
	}
	free(k.images);
	docker_close(&k.docker);
	return 0;
}
