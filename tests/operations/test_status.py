#!/usr/bin/env python3
"""GET /status: after a known mix of runs the counters match exactly, in
JSON and in Prometheus' text format; the token is required."""
import re

import service
from service import Shared, Suite, TINY, expect, expect_error, sh, wait_for

suite = Suite("status")

# execution_time 3 s: the runner stops a program at 3000 ms.  output_size 8K:
# "yes" floods it.  [image.missing] is allowed but does not exist: Docker
# refuses to create it (a docker error).
GROUP = Shared(overrides={"limits": {"execution_time": "3s", "output_size": "8K"},
                          "image.missing": {"name": "runbox/no-such-image:latest"}})
OUTCOMES = ("ok", "program_error", "timeout", "output_limit", "docker_error", "rejected",
            "cancelled")
# (A cancelled run, whose client left, is test_faults.py's.)
MIX = {"ok": 2, "program_error": 1, "timeout": 1, "output_limit": 1, "docker_error": 1,
       "rejected": 2, "cancelled": 0}
BUCKETS_MS = ("100", "250", "500", "1000", "2500", "5000", "10000", "30000", "60000", "+Inf")
state = {}


def make_the_mix(svc):
    """The runs of MIX, plus a 401 and a GET / (requests, not runs)."""
    replies = [svc.run(TINY, sh("echo hi")), svc.run(TINY, sh("echo hi again"))]
    expect(all(r.status == 200 and r.json["error"] == "" for r in replies), "ok", replies)
    r = svc.run(TINY, sh("echo out; exit 3"))
    expect(r.status == 200 and r.json["error"] == "Exit code: 3", "program error", r)
    r = svc.run(TINY, sh("echo zzz; sleep 10"))
    timed_out = (r.status == 200 and r.json["error"].startswith("Timeout")) or \
        (r.status == 400 and r.json["error"] == "limits.execution_time")
    expect(timed_out, "timeout", r)
    r = svc.run(TINY, sh("yes"))
    expect(r.status == 200 and r.json["error"] == "Output limit exceeded", "output flood", r)
    r = svc.run("runbox/no-such-image:latest", sh("echo hi"))
    expect_error(r, 400, "docker.container.create")
    expect_error(svc.request("POST", "/run", b"{not json"), 400, "request.json")
    expect_error(svc.run("runbox/not-allowed", sh("echo hi")), 400, "image.not_allowed")
    expect_error(svc.run(TINY, sh("echo hi"), token=None), 401, "access_token")
    expect(svc.request("GET", "/", token=None).status == 200, "GET /")
    return 8 + 2  # runs, then the 401 and the GET /


@suite.test
def status_counts_match_a_known_mix_of_runs():
    svc = GROUP.get()
    before = svc.settled_status()
    expect(all(before["runs"][k] == 0 for k in OUTCOMES), "no run before: %r" % before)
    made = make_the_mix(svc)
    after = svc.settled_status()
    state["json"] = after
    # Counted too: the GET /status that read "before", and those that found
    # a request still in progress before this one.
    want = made + 1 + svc.status_polls - 1
    expect(after["requests"] - before["requests"] == want,
           "requests: %d more (the mix and %d GET /status)" % (want, svc.status_polls), after)
    for k in OUTCOMES:
        expect(after["runs"][k] == MIX[k], "runs.%s == %d: %r" % (k, MIX[k], after["runs"]))
    accepted = sum(MIX[k] for k in OUTCOMES if k != "rejected")
    expect(after["runs"]["accepted"] == accepted, "accepted == %d" % accepted, after)
    lat = after["run_latency"]
    expect(list(lat["le_ms"]) == list(BUCKETS_MS), "buckets: %r" % list(lat["le_ms"]))
    counts = [lat["le_ms"][b] for b in BUCKETS_MS]
    expect(counts == sorted(counts), "cumulative buckets: %r" % counts)
    expect(lat["count"] == sum(MIX.values()) == lat["le_ms"]["+Inf"], "one latency per run", lat)
    timeout_ms = svc.seconds("limits", "execution_time") * 1000
    expect(lat["sum_ms"] >= timeout_ms, "the timeout alone took %d ms: %r" % (timeout_ms, lat))
    expect(lat["le_ms"]["100"] <= MIX["rejected"] + MIX["docker_error"], "runs take time", lat)
    n = svc.worker_count
    expect(after["workers"] == {"busy": 1, "idle": n - 1, "total": n}, "workers", after)
    expect(after["config_generation"] == 0 and after["reloads"] == 0, "no reload", after)
    expect(after["containers_reaped"] == 0, "nothing reaped", after)
    expect(after["worker_deaths"] == 0 and after["worker_respawns"] == 0, "no worker died",
           after)
    expect(isinstance(after["uptime_seconds"], int) and after["uptime_seconds"] >= 0, "uptime")
    expect(after["version"] == "0.1.0", "version", after)


def parse_prometheus(text):
    """{'name{labels}': value}; every line is a # TYPE line or a sample."""
    samples, types = {}, {}
    for line in text.splitlines():
        m = re.fullmatch(r"# TYPE (\w+) (counter|gauge|histogram)", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        m = re.fullmatch(r"(\w+(?:\{[^}]*\})?) (-?[0-9.]+)", line)
        expect(m is not None, "a sample line: %r" % line)
        samples[m.group(1)] = float(m.group(2))
    return samples, types


@suite.test
def prometheus_format_has_the_same_numbers():
    svc = GROUP.get()

    def settled_prometheus():
        r = svc.status("prometheus")
        return r if b'runbox_workers{state="busy"} 1\n' in r.raw else None
    r = wait_for("no request in progress", settled_prometheus, 10, 0.1)
    j = svc.settled_status()
    expect(r.headers["Content-Type"] == "text/plain; version=0.0.4", "content type", r)
    p, types = parse_prometheus(r.raw.decode())
    expect(types["runbox_runs_total"] == "counter" and
           types["runbox_run_duration_seconds"] == "histogram", "types: %r" % types)
    # The JSON was read after: it counts this request and its own retries.
    expect(p["runbox_requests_total"] == j["requests"] - svc.status_polls, "requests")
    expect(p["runbox_runs_accepted_total"] == j["runs"]["accepted"], "accepted")
    for k in OUTCOMES:
        expect(p['runbox_runs_total{outcome="%s"}' % k] == j["runs"][k], "outcome %s" % k)
    lat = j["run_latency"]
    for b in BUCKETS_MS:
        le = "+Inf" if b == "+Inf" else "%g" % (int(b) / 1000.0)
        expect(p['runbox_run_duration_seconds_bucket{le="%s"}' % le] == lat["le_ms"][b],
               "bucket %s" % le)
    expect(p["runbox_run_duration_seconds_count"] == lat["count"], "count")
    expect(abs(p["runbox_run_duration_seconds_sum"] - lat["sum_ms"] / 1000.0) < 0.0005, "sum")
    expect(p['runbox_workers{state="busy"}'] == 1 and
           p['runbox_workers{state="idle"}'] == j["workers"]["idle"], "workers")
    expect(p["runbox_config_generation"] == j["config_generation"] and
           p["runbox_reloads_total"] == j["reloads"], "generation and reloads")
    expect(p["runbox_containers_reaped_total"] == j["containers_reaped"], "reaped")
    expect(p["runbox_worker_deaths_total"] == j["worker_deaths"] and
           p["runbox_worker_respawns_total"] == j["worker_respawns"], "worker deaths, respawns")
    expect(0 <= p["runbox_uptime_seconds"] <= j["uptime_seconds"], "uptime")
    if "json" in state:
        expect(p["runbox_runs_accepted_total"] == 6 and
               p['runbox_runs_total{outcome="rejected"}'] == 2, "the mix, in Prometheus too")


@suite.test
def status_requires_the_token():
    svc = GROUP.get()
    expect_error(svc.request("GET", "/status", token=None), 401, "access_token")
    expect_error(svc.request("GET", "/status", token="wrong"), 401, "access_token")
    expect_error(svc.request("GET", "/status?format=prometheus", token=None), 401,
                 "access_token")
    expect(svc.status().status == 200, "with the token: 200")


@suite.test
def status_service_stops_cleanly():
    GROUP.close()


if __name__ == "__main__":
    service.main(suite)
