#!/usr/bin/env python3
"""The queue (src/queue.c) and GET /health: overload is answered fast (503
server.busy within queue_timeout, nothing runs twice), a queued request is
never lost whatever its size, /health follows dockerd and a stop, and GET /,
/status and /health answer within a second while every worker is stuck in
a Docker call; a reload loses no queued request, and one whose client
gave up never runs.  Cost: about 100 s."""
import os
import re
import signal
import socket
import threading
import time

import service
from service import Service, Suite, TINY, expect, expect_error, run_in_background, sh, wait_for

suite = Suite("queue")


def expect_busy(r, svc):
    expect_error(r, 503, "server.busy")
    retry = r.headers.get("Retry-After", "")
    expect(retry.isdigit() and int(retry) >= 1, "Retry-After in seconds: %r" % retry, r)


def concurrently(n, fn):
    """Call fn(i) in n threads at once; returns the results in order."""
    out = [None] * n
    go = threading.Barrier(n)

    def one(i):
        go.wait()
        try:
            out[i] = fn(i)
        except OSError as e:
            out[i] = e
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


@suite.test
def overload_is_answered_within_queue_timeout():
    # A run of sleep 2 takes 2.5 to 4 s here: with 5 s, the third and
    # fourth runs wait for a worker and get one; the last ones cannot.
    queue = 5.0
    with Service({"server": {"workers": "2", "queue_timeout": "5s"}}) as svc:
        svc.wait_workers(2)
        before = svc.settled_status()
        def one(i):
            if i < 12:
                return svc.run(TINY, sh("sleep 2; echo run %d" % i), timeout=60)
            # The 13th asks /health while the others wait for a worker.
            time.sleep(1.5)
            return svc.request("GET", "/health", token=None, timeout=5)
        replies = concurrently(13, one)
        health = replies.pop()
        expect_error(health, 503, "server.busy")
        expect(health.seconds < 1.0, "/health answered at once while saturated", health)
        ok = [r for r in replies if getattr(r, "status", None) == 200]
        busy = [r for r in replies if getattr(r, "status", None) == 503]
        expect(len(ok) + len(busy) == 12, "each run got 200 or 503: %r" % replies)
        for i, r in enumerate(replies):
            if r.status == 200:
                expect(r.json["stdout"] == "run %d\n" % i and r.json["error"] == "",
                       "run %d ran once and answered its own output" % i, r)
            else:
                expect_busy(r, svc)
        # How long a run waited for a worker: its answer's time at the
        # client less the worker's own duration_ms in the log.
        log = svc.log()

        def waited(r):
            m = re.search(r"request=%s .*duration_ms=(\d+)" % r.headers["X-Request-Id"], log)
            expect(m, "the log has the run's line", r)
            return r.seconds - int(m.group(1)) / 1000.0
        longest_busy = max((r.seconds for r in busy), default=0)
        longest_ok = max(waited(r) for r in ok)
        print("  12 runs of sleep 2 on 2 workers, queue_timeout %g s: %d ran, %d got 503 "
              "server.busy; longest wait: %.2f s for a 503, %.2f s for a worker"
              % (queue, len(ok), len(busy), longest_busy, longest_ok))
        expect(len(ok) >= 2 and len(busy) >= 1, "some ran, some were refused")
        expect(longest_busy <= queue + 1.5, "every 503 within queue_timeout + 1.5 s")
        expect(longest_ok <= queue + 1.5, "no run waited longer than queue_timeout + 1.5 s "
               "for a worker (%.2f)" % longest_ok)
        after = svc.settled_status()
        runs = {k: after["runs"][k] - before["runs"][k] for k in after["runs"]}
        expect(runs["ok"] == len(ok) and runs["busy"] == len(busy) and
               runs["accepted"] == len(ok),
               "/status counts %d ok and %d busy: %r" % (len(ok), len(busy), runs))
        expect(not svc.containers(), "no container left")
        r = svc.request("GET", "/health", token=None)
        expect(r.status == 200 and r.json == {"status": "ok"}, "healthy after the burst", r)


@suite.test
def a_large_queued_request_runs_or_gets_busy():
    stdin = "x" * (900 * 1024)
    payload = sh("sleep 0.1; wc -c", stdin=stdin)
    for queue, expect_run in (("8s", True), ("1s", False)):
        with Service({"server": {"workers": "2", "max_body_size": "2M",
                                 "queue_timeout": queue}}) as svc:
            svc.wait_workers(2)
            held = [run_in_background(svc, "sleep 3") for _ in range(2)]
            wait_for("both workers busy",
                     lambda: svc.status().json["workers"]["busy"] >= 2, 10, 0.1)
            r = svc.run(TINY, payload, timeout=60)
            for t, box in held:
                t.join(30)
                expect(box.get("reply") is not None and box["reply"].status == 200,
                       "a run holding a worker succeeded", box)
            if expect_run:
                expect(r.status == 200 and r.json["stdout"].strip() == str(len(stdin)),
                       "queued 900 KiB of stdin ran whole after waiting (%.2f s)" % r.seconds,
                       r)
            else:
                expect_busy(r, svc)
                expect(r.seconds <= 1 + 1.5, "refused within queue_timeout + 1.5 s (%.2f)"
                       % r.seconds)
                expect("server.busy" in svc.log() and "request.json" not in svc.log(),
                       "logged as server.busy, never as a broken request")
            print("  900 KiB queued, queue_timeout %s: %d in %.2f s" % (queue, r.status,
                                                                       r.seconds))


@suite.test
def a_request_abandoned_while_queued_never_runs():
    with Service({"server": {"workers": "2", "queue_timeout": "20s"}}) as svc:
        svc.wait_workers(2)
        held = [run_in_background(svc, "sleep 3; echo held") for _ in range(2)]
        wait_for("both workers busy", lambda: svc.status().json["workers"]["busy"] >= 2, 10, 0.1)
        try:
            svc.run(TINY, sh("echo abandoned"), timeout=1)
            expect(False, "the client gave up first")
        except OSError:
            pass  # the client's timeout: nginx closes the FastCGI connection
        svc.wait_log(r"queue: the web server closed a request that waited \d+ ms for a "
                     r"worker; dropped", 5)
        for t, box in held:
            t.join(30)
            expect(box.get("reply") is not None and box["reply"].status == 200, "held ran", box)
        r = svc.run(TINY, sh("echo after"))
        expect(r.status == 200 and r.json["stdout"] == "after\n", "the next run is served", r)
        s = svc.settled_status()
        expect(s["runs"]["ok"] == 3 and s["queued"] == 0,
               "only the two held runs and the last one ran: %r" % s["runs"])


@suite.test
def a_reload_keeps_the_queued_requests():
    with Service({"server": {"workers": "2", "queue_timeout": "20s"}}) as svc:
        svc.wait_workers(2)
        old_queue = svc.queue()
        held = [run_in_background(svc, "sleep 3; echo held") for _ in range(2)]
        wait_for("both workers busy", lambda: svc.status().json["workers"]["busy"] >= 2, 10, 0.1)
        queued = [run_in_background(svc, "echo queued %d" % i) for i in range(2)]
        wait_for("two requests queued", lambda: svc.status().json["queued"] == 2, 10, 0.1)
        svc.write_ini({"server": {"max_requests": "500"}})
        svc.signal(signal.SIGHUP)
        wait_for("a new queue process", lambda: svc.queue() not in (None, old_queue), 5)
        for i, (t, box) in enumerate(held + queued):
            t.join(60)
            r = box.get("reply")
            want = "held\n" if i < 2 else "queued %d\n" % (i - 2)
            expect(r is not None and r.status == 200 and r.json["stdout"] == want,
                   "run %d answered across the reload" % i, box)


@suite.test
def health_follows_dockerd():
    link = "@WORK@/docker.sock"
    with Service({"docker": {"endpoint": "unix://" + link}}) as svc:
        path = link.replace("@WORK@", svc.work)

        def health():
            return svc.request("GET", "/health", token=None, timeout=5)
        r = wait_for("503 while nothing is behind the socket",
                     lambda: (lambda r: r if r.status == 503 else None)(health()), 5)
        expect_error(r, 503, "docker.unavailable")
        expect(r.headers.get("Retry-After", "").isdigit(), "with Retry-After", r)
        expect("/" not in r.json["message"], "no path or internals in the message", r)
        os.symlink("/var/run/docker.sock", path)
        r = wait_for("200 once dockerd answers there",
                     lambda: (lambda r: r if r.status == 200 else None)(health()), 5)
        expect(r.json == {"status": "ok"}, "ok", r)
        os.unlink(path)
        wait_for("503 again", lambda: health().status == 503, 5)


@suite.test
def health_is_503_while_draining_for_a_stop():
    # On an inherited socket, which stays open through a stop: runboxd's
    # own socket refuses connections from the stop on (master_stop).
    with Service({"server": {"shutdown_timeout": "10s"}}, inherit="fd0") as svc:
        wait_for("healthy", lambda: svc.request("GET", "/health", token=None).status == 200, 5)
        t, box = run_in_background(svc, "sleep 3; echo done")
        svc.wait_running_container()
        svc.signal(signal.SIGTERM)
        r = wait_for("a 503 from /health",
                     lambda: (lambda r: r if r.status == 503 else None)(
                         svc.request("GET", "/health", token=None, timeout=5)), 3)
        expect_error(r, 503, "server.stopping")
        r = svc.run(TINY, sh("echo late"), timeout=10)
        expect_error(r, 503, "server.stopping")
        t.join(15)
        expect(box.get("reply") is not None and box["reply"].status == 200 and
               box["reply"].json["stdout"] == "done\n", "the run in flight finished", box)
        expect(svc.wait_exit(10) == 0, "the master exits 0")


class Blackhole:
    """A unix socket that accepts connections and never answers: a dockerd
    that hangs."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(64)
        self.held = []
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        for s in self.held + [self.sock]:
            s.close()


@suite.test
def status_and_health_answer_while_every_worker_is_stuck_in_docker():
    work = service.tempfile.mkdtemp(prefix="runbox-ops.")
    os.chmod(work, 0o755)
    hole = Blackhole(os.path.join(work, "dockerd.sock"))
    try:
        with Service({"server": {"workers": "2", "queue_timeout": "2s"},
                      "docker": {"endpoint": "unix://%s/dockerd.sock" % work,
                                 "read_timeout": "6s", "connect_timeout": "6s"}}) as svc:
            svc.wait_workers(2)
            stuck = [run_in_background(svc, "echo never") for _ in range(2)]
            wait_for("both workers stuck", lambda: svc.status().json["workers"]["busy"] >= 2,
                     5, 0.1)
            slowest = 0
            for path, token, want in (("/", None, 200), ("/status", "", 200),
                                      ("/health", None, 503)):
                r = svc.request("GET", path, token=token, timeout=5)
                slowest = max(slowest, r.seconds)
                expect(r.status == want and r.seconds < 1.0,
                       "GET %s: %d within 1 s" % (path, want), r)
                expect(r.headers.get("X-Request-Id"), "with X-Request-Id", r)
            expect(svc.request("GET", "/status").json["workers"]["busy"] == 2,
                   "/status shows both workers busy")
            print("  every worker stuck in Docker: GET /, /status, /health answered in "
                  "at most %.2f s" % slowest)
            r = svc.run(TINY, sh("echo queued"), timeout=10)
            expect_busy(r, svc)
            for t, box in stuck:
                t.join(20)
                r = box.get("reply")
                expect(r is not None and r.status >= 500, "the stuck run got a 5xx", box)
    finally:
        hole.close()
        service.shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    service.main(suite)
