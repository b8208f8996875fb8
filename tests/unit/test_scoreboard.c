/* The scoreboard: slots, their views, and the counters. */
#include "config.h"

#include "runbox.h"
#include "tap.h"

#define REQUEST "00000000deadbeef"
#define OTHER_REQUEST "00000000deadbeee"

/* How many slots hold a live worker, seen through scoreboard_slot_view(). */
static int
live_slots(void)
{
	struct scoreboard_view v;
	size_t i;
	int n = 0;

	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		n += scoreboard_slot_view(i, &v);
	return n;
}

static void
test_claim_find_release(void)
{
	struct scoreboard_slot *s, *again;
	struct scoreboard_view v;

	s = scoreboard_claim(3, 1000);
	ok(s != NULL, "a slot can be claimed");
	ok(live_slots() == 0, "a claimed slot is not live before its pid");
	ok(scoreboard_find(-1, &v) == NULL, "a claimed slot is not found");
	scoreboard_set_pid(s, 4242);
	ok(live_slots() == 1, "a slot with its pid is live");
	ok(scoreboard_find(4242, &v) == s, "the slot is found by its pid");
	ok(v.pid == 4242 && v.generation == 3 && v.started == 1000 &&
	    v.state == SLOT_IDLE && v.request == 0 && v.requests == 0,
	    "the view holds pid, generation, start, idle state");
	ok(scoreboard_find(4243, &v) == NULL, "another pid is not found");
	again = scoreboard_claim(3, 1000);
	ok(again != NULL && again != s, "a second claim gets another slot");
	scoreboard_release(again);
	scoreboard_release(s);
	ok(scoreboard_find(4242, &v) == NULL, "a released slot is not found");
	ok(live_slots() == 0, "no slot is live after the release");
}

static void
test_busy_idle(void)
{
	struct scoreboard_slot *s;
	struct scoreboard_view v;

	s = scoreboard_claim(1, 2000);
	scoreboard_set_pid(s, 4242);
	scoreboard_busy(s, 9000, REQUEST);
	scoreboard_find(4242, &v);
	ok(v.state == SLOT_BUSY && v.deadline == 9000 &&
	    v.request == 0xdeadbeefULL, "busy shows with its deadline and "
	    "request");
	ok(scoreboard_serving(4242, REQUEST), "the worker serves its request");
	ok(!scoreboard_serving(4242, OTHER_REQUEST),
	    "the worker does not serve another request");
	ok(!scoreboard_serving(4243, REQUEST),
	    "another pid does not serve the request");
	ok(!scoreboard_serving(4242, NULL),
	    "a container without a request label is not served");
	scoreboard_idle(s);
	scoreboard_find(4242, &v);
	ok(v.state == SLOT_IDLE && v.request == 0 && v.requests == 1,
	    "idle shows, without a request, one request done");
	ok(!scoreboard_serving(4242, REQUEST),
	    "an idle worker serves no request");
	scoreboard_busy(s, 9500, OTHER_REQUEST);
	scoreboard_release(s);
	ok(!scoreboard_serving(4242, OTHER_REQUEST),
	    "a dead worker serves no request");
	s = scoreboard_claim(2, 3000);
	scoreboard_set_pid(s, 4244);
	scoreboard_find(4244, &v);
	ok(v.state == SLOT_IDLE && v.deadline == 0 && v.request == 0 &&
	    v.requests == 0 && v.generation == 2 && v.started == 3000,
	    "a slot claimed again starts afresh");
	scoreboard_release(s);
}

static void
test_totals(struct scoreboard *pub)
{
	struct scoreboard_totals t;
	long long sum = 0;
	int i;

	scoreboard_count(0, OUTCOME_OK, 5);
	scoreboard_count(1, OUTCOME_OK, 50);
	scoreboard_count(1, OUTCOME_OK, 100);
	scoreboard_count(1, OUTCOME_TIMEOUT, 101);
	scoreboard_count(1, OUTCOME_REJECTED, 60001);
	scoreboard_count_reaped(2);
	scoreboard_count_reaped(1);
	__atomic_add_fetch(&pub->generation, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&pub->reloads, 1, __ATOMIC_RELAXED);
	scoreboard_totals(&t);
	ok(t.requests == 5 && t.runs == 4, "requests and runs are counted");
	ok(t.outcomes[OUTCOME_OK] == 2 && t.outcomes[OUTCOME_TIMEOUT] == 1 &&
	    t.outcomes[OUTCOME_REJECTED] == 1 &&
	    t.outcomes[OUTCOME_PROGRAM_ERROR] == 0, "runs count by outcome");
	ok(t.latency[0] == 2, "a bucket holds its upper bound (100 ms)");
	ok(t.latency[1] == 1, "101 ms goes to the next bucket (250 ms)");
	ok(t.latency[SCOREBOARD_BUCKETS] == 1,
	    "above the last bound goes to the overflow bucket");
	for (i = 0; i <= SCOREBOARD_BUCKETS; i++)
		sum += t.latency[i];
	ok(sum == t.runs, "every run is in one bucket");
	ok(t.latency_sum_ms == 50 + 100 + 101 + 60001,
	    "the latency sum holds the runs only");
	ok(t.reaped == 3, "reaped containers are counted");
	ok(t.sb.generation == 1 && scoreboard_generation() == 1 &&
	    t.sb.reloads == 1, "generation and reloads show");
	ok(t.started > 0, "the start time is set");
}

int
main(void)
{
	struct scoreboard *pub = scoreboard_create();

	ok(pub != NULL, "the scoreboard is mapped");
	if (pub == NULL)
		return tap_done();
	ok(scoreboard_generation() == 0, "the first generation is 0");
	test_claim_find_release();
	test_busy_idle();
	test_totals(pub);
	return tap_done();
}
