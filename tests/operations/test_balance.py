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

A balancer in front of several runbox hosts (nginx/balancer.conf.in, over
their HTTPS sites): a run answered 503 by a host whose runboxd cannot
reach dockerd (before any container) is run by another host, and so is
one whose host refuses the connection; each runs exactly once.

Cost: ~2 min on a 2-core host."""
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


def share_token(a, b):
    """Give service b the token of a (both answer the same clients)."""
    b.token = a.token
    with open(os.path.join(b.work, "token"), "w") as f:
        f.write(a.token + "\n")


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
        share_token(a, b)
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
        print("  SIGKILL: %d requests failed, all sent before the kill%s"
              % (len(lost), ":" if lost else ""))
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


class Balancer:
    """A private nginx with nginx/balancer.conf.in over the HTTPS sites of
    hosts (services), checking their certificate (the session's)."""

    def __init__(self, hosts):
        self.dir = os.path.join(hosts[0].work, "balancer")
        self.port = service.free_port()
        cert = os.environ["RUNBOX_CAFILE"]
        key = os.path.join(os.path.dirname(cert), "key.pem")
        backends = ",".join("https://127.0.0.1:%d" % h.port for h in hosts)
        subprocess.run([os.path.join(service.TOP, "scripts", "render-nginx"), self.dir,
                        str(self.port), cert, key, backends, "256k", "30", cert, "localhost"],
                       check=True, capture_output=True)
        subprocess.run(["nginx", "-p", self.dir, "-c", self.dir + "/nginx.conf",
                        "-e", self.dir + "/logs/error.log"], check=True, capture_output=True)
        self.url = "https://127.0.0.1:%d" % self.port

    def stop(self):
        hosts_stop_daemon(os.path.join(self.dir, "nginx.pid"))


def hosts_stop_daemon(pid_file):
    """Stop the nginx of pid_file and wait until it is gone."""
    if not os.path.exists(pid_file):
        return
    with open(pid_file) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGTERM)
    wait_for("nginx %d gone" % pid, lambda: not service.alive(pid), 10)


def served(svc, error):
    """How many runs the service's log shows ending in error ("-": none)."""
    return len(re.findall(r"uri=/run .* error=%s " % re.escape(error), svc.log()))


@suite.test
def a_balancer_sends_a_run_to_another_host_on_a_refused_connection_or_a_503():
    # Host b's runboxd has no dockerd behind it: it answers every run with
    # 503 docker.unavailable, before any container, and the balancer sends
    # the run to host a.  Then b's nginx is stopped: connections refused.
    a = Service()
    b = Service({"docker": {"endpoint": "unix:///nonexistent/docker.sock"}})
    balancer = None
    try:
        share_token(a, b)
        a.start()
        b.start()
        balancer = Balancer([a, b])
        runs = 8
        for i in range(runs):
            r = b.request("POST", "/run", {"image": TINY, "payload": sh("echo %d" % i)},
                          via=balancer.url)
            expect(r.status == 200 and r.json["stdout"] == "%d\n" % i,
                   "run %d answered by a host that could run it" % i, r)
        refused_503 = served(b, "docker.unavailable")
        print("  %d runs: all 200; host b answered %d of them 503 first, host a ran %d"
              % (runs, refused_503, served(a, "-")))
        expect(refused_503 >= 1, "the balancer tried host b (round robin)")
        expect(served(a, "-") == runs, "host a ran every run once")

        hosts_stop_daemon(b.nginx_pid_file)
        for i in range(runs):
            r = b.request("POST", "/run", {"image": TINY, "payload": sh("echo %d" % i)},
                          via=balancer.url)
            expect(r.status == 200 and r.json["stdout"] == "%d\n" % i,
                   "run %d answered with host b's nginx down" % i, r)
        print("  host b's nginx stopped: %d more runs, all 200" % runs)
        expect(served(a, "-") == 2 * runs, "host a ran each of them once")
    finally:
        if balancer:
            balancer.stop()
        problems = a.stop() + b.stop()
    expect(not problems, "; ".join(problems))


if __name__ == "__main__":
    service.main(suite)
