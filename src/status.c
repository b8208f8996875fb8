/*
 * GET /status: the scoreboard as JSON, or in Prometheus' text format with
 * ?format=prometheus.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runbox.h"

struct status_workers {
	int busy;
	int idle;
};

static struct status_workers
status_workers(void)
{
	struct status_workers w = { 0, 0 };
	struct scoreboard_view v;
	size_t i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		if (!scoreboard_slot_view(i, &v))
			continue;
		if (v.state == SLOT_BUSY)
			w.busy++;
		else
			w.idle++;
	}
	return w;
}

/* The warm pool of one image: setting, ready, hits, misses, refill
 * failures (the order of status_warm_metrics). */
#define STATUS_WARM_METRICS 5
struct status_warm {
	const struct image *im;
	long long values[STATUS_WARM_METRICS];
};

static void
status_warm(const struct conf *c, size_t i, struct status_warm *w)
{
	struct pool_image_stats st;

	w->im = &c->images[i];
	pool_stats(w->im->key, &st);
	w->values[0] = w->im->warm;
	w->values[1] = pool_count(w->im->fingerprint, 1);
	w->values[2] = st.hits;
	w->values[3] = st.misses;
	w->values[4] = st.refill_failures;
}

/* Per image with warm containers: {"setting", "ready", "hits", ...}. */
static json_object *
status_warm_json(const struct conf *c)
{
	static const char *const status_warm_keys[STATUS_WARM_METRICS] = {
		"setting", "ready", "hits", "misses", "refill_failures",
	};
	json_object *o = json_object_new_object(), *x;
	struct status_warm w;
	size_t i, j;

	for (i = 0; i < c->nimages; i++) {
		if (c->images[i].warm == 0)
			continue;
		status_warm(c, i, &w);
		x = json_object_new_object();
		for (j = 0; j < STATUS_WARM_METRICS; j++)
			json_object_object_add(x, status_warm_keys[j],
			    json_object_new_int64(w.values[j]));
		json_object_object_add(o, w.im->key, x);
	}
	return o;
}

/* The warm pool's metrics, in the order status_warm() fills values. */
static const struct {
	const char *name;
	const char *type;
} status_warm_metrics[STATUS_WARM_METRICS] = {
	{ "runbox_warm_setting", "gauge" },
	{ "runbox_warm_ready", "gauge" },
	{ "runbox_warm_hits_total", "counter" },
	{ "runbox_warm_misses_total", "counter" },
	{ "runbox_warm_refill_failures_total", "counter" },
};

static long long
status_accepted(const struct scoreboard_totals *t)
{
	long long n = 0;
	int i;

	for (i = 0; i < OUTCOME_MAX; i++)
		if (i != OUTCOME_REJECTED && i != OUTCOME_BUSY)
			n += t->outcomes[i];
	return n;
}

static json_object *
status_json(const struct conf *c, const struct scoreboard_totals *t)
{
	struct status_workers w = status_workers();
	json_object *o = json_object_new_object(), *x, *b;
	long long count = 0;
	char le[32];
	int i;

	json_object_object_add(o, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "uptime_seconds",
	    json_object_new_int64(time(NULL) - t->started));
	json_object_object_add(o, "config_generation",
	    json_object_new_int64(t->sb.generation));
	json_object_object_add(o, "reloads",
	    json_object_new_int64(t->sb.reloads));
	x = json_object_new_object();
	json_object_object_add(x, "busy", json_object_new_int(w.busy));
	json_object_object_add(x, "idle", json_object_new_int(w.idle));
	json_object_object_add(x, "total", json_object_new_int(w.busy + w.idle));
	json_object_object_add(o, "workers", x);
	json_object_object_add(o, "queued",
	    json_object_new_int64(scoreboard_queued()));
	json_object_object_add(o, "requests",
	    json_object_new_int64(t->requests));
	x = json_object_new_object();
	json_object_object_add(x, "accepted",
	    json_object_new_int64(status_accepted(t)));
	for (i = 0; i < OUTCOME_MAX; i++)
		json_object_object_add(x, scoreboard_outcome_names[i],
		    json_object_new_int64(t->outcomes[i]));
	json_object_object_add(o, "runs", x);
	x = json_object_new_object();
	b = json_object_new_object();
	for (i = 0; i <= SCOREBOARD_BUCKETS; i++) {
		count += t->latency[i];
		if (i < SCOREBOARD_BUCKETS)
			snprintf(le, sizeof(le), "%lld", scoreboard_buckets[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		json_object_object_add(b, le, json_object_new_int64(count));
	}
	json_object_object_add(x, "le_ms", b);
	json_object_object_add(x, "count", json_object_new_int64(count));
	json_object_object_add(x, "sum_ms",
	    json_object_new_int64(t->latency_sum_ms));
	json_object_object_add(o, "run_latency", x);
	json_object_object_add(o, "containers_reaped",
	    json_object_new_int64(t->reaped));
	json_object_object_add(o, "worker_deaths",
	    json_object_new_int64(t->worker_deaths));
	json_object_object_add(o, "worker_respawns",
	    json_object_new_int64(t->worker_respawns));
	json_object_object_add(o, "warm", status_warm_json(c));
	return o;
}

static void
status_prometheus(const struct conf *c, const struct scoreboard_totals *t,
    struct buf *b)
{
	struct status_workers w = status_workers();
	struct status_warm warm;
	long long count = 0;
	char line[512];
	size_t j;
	int i, n;

#define LINE(...) do { \
	n = snprintf(line, sizeof(line), __VA_ARGS__); \
	util_buf_append(b, line, (size_t)n); \
} while (0)
	LINE("# TYPE runbox_uptime_seconds gauge\nrunbox_uptime_seconds %lld\n",
	    (long long)(time(NULL) - t->started));
	LINE("# TYPE runbox_config_generation gauge\n"
	    "runbox_config_generation %u\n", t->sb.generation);
	LINE("# TYPE runbox_reloads_total counter\nrunbox_reloads_total %lld\n",
	    t->sb.reloads);
	LINE("# TYPE runbox_workers gauge\nrunbox_workers{state=\"busy\"} %d\n"
	    "runbox_workers{state=\"idle\"} %d\n", w.busy, w.idle);
	LINE("# TYPE runbox_queued gauge\nrunbox_queued %lld\n",
	    scoreboard_queued());
	LINE("# TYPE runbox_requests_total counter\n"
	    "runbox_requests_total %lld\n", t->requests);
	LINE("# TYPE runbox_runs_accepted_total counter\n"
	    "runbox_runs_accepted_total %lld\n", status_accepted(t));
	LINE("# TYPE runbox_runs_total counter\n");
	for (i = 0; i < OUTCOME_MAX; i++)
		LINE("runbox_runs_total{outcome=\"%s\"} %lld\n",
		    scoreboard_outcome_names[i], t->outcomes[i]);
	LINE("# TYPE runbox_run_duration_seconds histogram\n");
	for (i = 0; i <= SCOREBOARD_BUCKETS; i++) {
		count += t->latency[i];
		if (i < SCOREBOARD_BUCKETS)
			LINE("runbox_run_duration_seconds_bucket{le=\"%g\"} "
			    "%lld\n", scoreboard_buckets[i] / 1000.0, count);
		else
			LINE("runbox_run_duration_seconds_bucket{le=\"+Inf\"} "
			    "%lld\n", count);
	}
	LINE("runbox_run_duration_seconds_sum %.3f\n"
	    "runbox_run_duration_seconds_count %lld\n",
	    t->latency_sum_ms / 1000.0, count);
	LINE("# TYPE runbox_containers_reaped_total counter\n"
	    "runbox_containers_reaped_total %lld\n", t->reaped);
	LINE("# TYPE runbox_worker_deaths_total counter\n"
	    "runbox_worker_deaths_total %lld\n", t->worker_deaths);
	LINE("# TYPE runbox_worker_respawns_total counter\n"
	    "runbox_worker_respawns_total %lld\n", t->worker_respawns);
	for (i = 0; i < STATUS_WARM_METRICS; i++) {
		LINE("# TYPE %s %s\n", status_warm_metrics[i].name,
		    status_warm_metrics[i].type);
		for (j = 0; j < c->nimages; j++) {
			if (c->images[j].warm == 0)
				continue;
			status_warm(c, j, &warm);
			LINE("%s{image=\"%s\"} %lld\n",
			    status_warm_metrics[i].name, warm.im->key,
			    warm.values[i]);
		}
	}
#undef LINE
}

/* Fill body with the status in the format the query asks for; returns
 * the content type. */
const char *
status_render(const struct conf *c, const char *query, struct buf *body)
{
	struct scoreboard_totals t;
	json_object *o;
	size_t len;
	const char *s;

	scoreboard_totals(&t);
	if (query != NULL && strstr(query, "format=prometheus") != NULL) {
		status_prometheus(c, &t, body);
		return "text/plain; version=0.0.4";
	}
	o = status_json(c, &t);
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	util_buf_append(body, s, len);
	util_buf_append(body, "\n", 1);
	json_object_put(o);
	return "application/json";
}
