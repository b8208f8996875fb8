/* The warm pool's table: reserve, ready, claim once, release, stale. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runbox.h"
#include "tap.h"

#define FP_A 0xaaaaULL
#define FP_B 0xbbbbULL

static int
keep_a(unsigned long long fingerprint, void *arg)
{
	(void)arg;
	return fingerprint == FP_A;
}

static void
test_claim_once(void)
{
	char id[RUN_ID_SIZE];
	int slot = pool_reserve(FP_A, 0x1234);

	ok(slot >= 0 && pool_count(FP_A, 0) == 1 && pool_count(FP_A, 1) == 0,
	    "a reserved slot counts as coming, not ready");
	ok(pool_claim(FP_A, id) == -1, "a slot being created cannot be claimed");
	pool_ready(slot, "c0ffee", 1000);
	ok(pool_count(FP_A, 1) == 1, "a ready slot counts as ready");
	ok(pool_claim(FP_B, id) == -1,
	    "a container made under another fingerprint is not claimed");
	ok(pool_claim(FP_A, id) == slot && strcmp(id, "c0ffee") == 0,
	    "a ready container is claimed with its id");
	ok(pool_claim(FP_A, id) == -1, "a container is claimed only once");
	ok(pool_holds("0000000000001234"),
	    "a claimed container still belongs to the pool");
	pool_release(slot);
	ok(!pool_holds("0000000000001234") && pool_count(0, 0) == 0,
	    "a released slot holds nothing");
}

static void
test_holds(void)
{
	int slot = pool_reserve(FP_A, 0xfedcba9876543210ULL);

	ok(pool_holds("fedcba9876543210"),
	    "a slot being created owns its nonce's container");
	ok(!pool_holds("fedcba987654321") && !pool_holds("FEDCBA9876543210") &&
	    !pool_holds(NULL) && !pool_holds("fedcba9876543211"),
	    "only the exact 16 lowercase hex digits of a nonce match");
	pool_release(slot);
}

static void
test_release_owner(void)
{
	char id[RUN_ID_SIZE];
	int a = pool_reserve(FP_A, 1), b = pool_reserve(FP_A, 2);

	pool_ready(b, "b", 1000);
	ok(pool_claim(FP_A, id) == b, "the ready one is claimed");
	ok(pool_release_owner(getpid() + 1) == 0,
	    "another process's death frees nothing");
	ok(pool_release_owner(getpid()) == 2 && pool_count(0, 0) == 0,
	    "a dead owner's slots, creating and claimed, are freed");
	(void)a;
}

/* A claim by another process makes that process the owner: the death of
 * the slot's creator no longer frees it, the claimer's does. */
static void
test_owner_moves_with_the_claim(void)
{
	char id[RUN_ID_SIZE];
	int slot = pool_reserve(FP_A, 7), status = -1;
	pid_t child;

	pool_ready(slot, "moved", 1000);
	if ((child = fork()) == 0)
		_exit(pool_claim(FP_A, id) == slot ? 0 : 1);
	waitpid(child, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "another process claims the container");
	ok(pool_release_owner(getpid()) == 0 && pool_holds("0000000000000007"),
	    "the creator's death does not free a slot claimed by another");
	ok(pool_release_owner(child) == 1 && !pool_holds("0000000000000007"),
	    "the claimer's death frees it");
}

static void
test_stale(void)
{
	char id[RUN_ID_SIZE];
	int old = pool_reserve(FP_A, 1), other = pool_reserve(FP_B, 2);
	int fresh = pool_reserve(FP_A, 3);

	pool_ready(old, "old", 1000);
	pool_ready(other, "other", 5000);
	pool_ready(fresh, "fresh", 5000);
	ok(pool_claim_stale(keep_a, NULL, 2000, id) != -1, "a stale one is found");
	ok(pool_claim_stale(keep_a, NULL, 2000, id) != -1, "a second is found");
	ok(pool_claim_stale(keep_a, NULL, 2000, id) == -1 &&
	    pool_claim(FP_A, id) == fresh,
	    "only the old one and the other fingerprint's are stale");
	pool_release(old);
	pool_release(other);
	pool_release(fresh);
}

static void
test_counters(void)
{
	struct pool_image_stats st;

	pool_count_event("tiny", POOL_HIT);
	pool_count_event("tiny", POOL_HIT);
	pool_count_event("tiny", POOL_MISS);
	pool_count_event("python", POOL_REFILL_FAILED);
	pool_stats("tiny", &st);
	ok(st.hits == 2 && st.misses == 1 && st.refill_failures == 0,
	    "hits and misses count per image");
	pool_stats("python", &st);
	ok(st.hits == 0 && st.refill_failures == 1,
	    "refill failures count per image");
	pool_stats("never", &st);
	ok(st.hits == 0 && st.misses == 0, "an image without events is zeros");
}

static void
test_full(void)
{
	int i, n = 0;

	for (i = 0; i < POOL_SLOTS + 1; i++)
		if (pool_reserve(FP_A, (unsigned long long)i + 1) != -1)
			n++;
	ok(n == POOL_SLOTS, "no more slots than POOL_SLOTS are handed out");
	pool_release_owner(getpid());
}

int
main(void)
{
	if (pool_create() == -1) {
		printf("Bail out! pool_create\n");
		return 1;
	}
	test_claim_once();
	test_holds();
	test_release_owner();
	test_owner_moves_with_the_claim();
	test_stale();
	test_counters();
	test_full();
	return tap_done();
}
