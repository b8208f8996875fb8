#!/usr/bin/env python3
"""Two runboxd instances behind one nginx upstream (nginx/instances.conf.in,
rendered by scripts/render-nginx from a list of FastCGI sockets), under a
steady stream of runs from several clients: both take traffic; one stopped
gracefully (SIGTERM) costs no request, since runboxd shuts its socket to
new connections as its stop begins and nginx sends them to the other; it
is started again and takes traffic again; SIGKILLed (master and workers
at once), only requests sent before the kill may fail: every one sent
after it succeeds, and the count is printed; started again, it reaps what
the killed one left and takes traffic again.

Cost: ~60 s on a 2-core host."""
import os
import re
import signal
import subprocess
import threading
import time

import service
from service import RUNBOXD, Service, Suite, TINY, expect, sh, wait_for

suite = Suite("balance")

CLIENTS = 4
# nginx skips an instance that refused a connection for this long (the
# fail_timeout of nginx/instances.conf.in), then tries it again.
FAIL_TIMEOUT = 10


class Load:
    """CLIENTS threads sending runs back to back through nginx; each result
    is (sent, answered, ok, what)."""

    def __init__(self, front):
        self.front = front
        self.results = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(i,)) for i in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def client(self, i):
        n = 0
        while not self.done.is_set():
            n += 1
            word = "c%d-%d" % (i, n)
            sent = time.monotonic()
            try:
                r = self.front.run(TINY, sh("sleep 0.3; echo %s" % word), timeout=60)
                ok = r.status == 200 and r.json is not None and r.json["stdout"] == word + "\n"
                what = "%d %s" % (r.status, r.raw[:160])
            except OSError as e:
                ok, what = False, repr(e)
            with self.lock:
                self.results.append((sent, time.monotonic(), ok, what))

    def failed(self, sent_from=0.0, sent_until=float("inf")):
        with self.lock:
            return [r for r in self.results if not r[2] and sent_from <= r[0] < sent_until]

    def count(self):
        with self.lock:
            return len(self.results)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(90)


def runs_served(svc):
    return len(re.findall(r"uri=/run ", svc.log()))


def start_instance(svc):
    """Start the runboxd of a service without its own nginx; wait until it
    is ready (one more "ready" line in its log)."""
    subprocess.run([RUNBOXD, "-t", "-c", svc.ini], check=True, capture_output=True)
    before = svc.log().count(" ready: ")
    svc.start_runboxd()
    wait_for("runboxd %s ready" % svc.instance,
             lambda: svc.log().count(" ready: ") > before, 20, 0.1)


def takes_traffic(svc, within):
    before = runs_served(svc)
    wait_for("%s takes traffic" % svc.instance, lambda: runs_served(svc) >= before + 2,
             within, 0.2)


@suite.test
def two_instances_behind_one_upstream_survive_a_stop_and_a_kill():
    b = Service(nginx=False)
    a = Service(upstream=[b.sock])
    load = None
    try:
        with open(os.path.join(b.work, "token"), "w") as f:
            f.write(a.token + "\n")
        start_instance(b)
        a.start()
        load = Load(a)
        takes_traffic(a, 30)
        takes_traffic(b, 30)

        # Graceful stop: nothing may fail.
        sent = load.count()
        stopped_at = time.monotonic()
        b.signal(signal.SIGTERM)
        code = b.wait_exit(30)
        expect(code == 0, "the stopped instance exits 0 (%s)" % code)
        stop_took = time.monotonic() - stopped_at
        takes_traffic(a, 15)
        graceful = load.failed()
        print("  graceful stop: %.2f s; %d requests during it and after, %d failed"
              % (stop_took, load.count() - sent, len(graceful)))
        expect(not graceful, "no request failed across the graceful stop: %s" % graceful[:3])

        start_instance(b)
        started = time.monotonic()
        takes_traffic(b, FAIL_TIMEOUT + 30)
        print("  restarted: takes traffic again after %.2f s" % (time.monotonic() - started))
        expect(not load.failed(), "no request failed across the restart")

        # SIGKILL while it runs something: the runs in flight on it may fail.
        wait_for("a run in flight on %s" % b.instance, lambda: b.containers(running=True), 20)
        in_flight = len(b.containers(running=True))
        pids = [b.master] + b.workers()
        os.killpg(b.master, signal.SIGKILL)
        b.proc.wait(10)
        # From when every process of it is gone: a request sent while
        # they die may still have reached its socket.
        wait_for("the killed instance's processes gone",
                 lambda: not [p for p in pids if service.alive(p)], 10, 0.01)
        killed_at = time.monotonic()
        orphans = set(b.containers())
        takes_traffic(a, 15)
        lost = load.failed(sent_until=killed_at)
        print("  SIGKILL: %d runs were in flight on the killed instance, %d requests failed%s"
              % (in_flight, len(lost), ":" if lost else ""))
        for r in lost:
            print("    sent %.2f s before the kill: %s" % (killed_at - r[0], r[3]))
        after = load.failed(sent_from=killed_at)
        expect(not after, "every request sent after the kill succeeded: %s" % after[:3])
        expect(len(lost) <= CLIENTS, "at most the requests in flight failed (%d)" % len(lost))

        start_instance(b)
        started = time.monotonic()
        takes_traffic(b, FAIL_TIMEOUT + 30)
        print("  restarted after the kill: takes traffic again after %.2f s"
              % (time.monotonic() - started))
        left = orphans & set(b.containers())
        expect(not left, "the restarted instance removed the killed one's containers: %s" % left)
        load.stop()
        expect(not load.failed(sent_from=killed_at), "no request failed after the kill")
        print("  %d requests in all, %d failed" % (load.count(), len(load.failed())))
    finally:
        if load:
            load.stop()
        problems = a.stop() + b.stop()
    expect(not problems, "; ".join(problems))


if __name__ == "__main__":
    service.main(suite)
