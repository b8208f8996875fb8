#!/usr/bin/env python3
"""An operator's bad day: a container removed by hand, dockerd hung or
restarted, the master killed, a client that leaves.  Every answer names
the real cause (never the program for Docker's fault), /status counts it
as such, and no container is left.  The tests that stop or restart
dockerd use a private one (tests/lib/dockerd.py), never the machine's."""
import os
import re
import signal
import sys
import time

import service
from service import (Service, Suite, TINY, alive, docker, expect, expect_error,
                     run_in_background, sh, wait_for)

sys.path.insert(0, os.path.join(service.TOP, "tests", "lib"))
from dockerd import Dockerd  # noqa: E402

suite = Suite("faults")


def runs(svc):
    return svc.settled_status()["runs"]


@suite.test
def container_removed_mid_run_is_a_docker_error():
    with Service() as svc:
        t, box = run_in_background(svc, "echo hi; sleep 10")
        cid = svc.wait_running_container()
        time.sleep(0.3)
        docker("rm", "-f", cid)
        t.join(30)
        r = box.get("reply")
        expect(r is not None and r.status >= 500 and r.json["error"].startswith("docker."),
               "a Docker error, not the program's", r)
        print("  answered %d %s: %s" % (r.status, r.json["error"], r.json["message"]))
        s = runs(svc)
        expect(s["docker_error"] == 1 and s["output_limit"] == 0 and s["timeout"] == 0,
               "counted as a Docker error: %r" % s)


# One private dockerd for the tests that hang or restart it: started by the
# first, stopped by the last.
_private = {}


def private_dockerd():
    if "d" not in _private:
        _private["d"] = Dockerd("faults").__enter__()
        # runboxd runs as the user runbox: let it reach the socket (the
        # socket itself belongs to the group docker).
        os.chmod(_private["d"].dir, 0o755)
        _private["d"].load(TINY)
    return _private["d"]


def on_private(d, **overrides):
    """A Service whose runboxd talks to the private dockerd d."""
    ini = {"docker": {"endpoint": d.endpoint}, "image.python": None}
    for section, keys in overrides.items():
        ini.setdefault(section, {}).update(keys)
    svc = Service(ini)
    svc.containers = lambda running=False: d.docker(
        "ps", "-q", *([] if running else ["-a"]),
        "--filter", "label=runbox.instance=" + svc.instance).stdout.split()
    return svc


def program_running(d, svc):
    """Wait until the payload reached the run's container: its program
    sleeps.  (The container of a run before is removed after its reply.)"""
    cid = wait_for("the run's container", lambda: (lambda c: c[0] if len(c) == 1 else None)(
        svc.containers(running=True)), 15)
    wait_for("the program runs", lambda: "sleep" in d.docker("top", cid, check=False).stdout,
             10, 0.05)


HANG_S = 10
HUNG = {"docker": {"read_timeout": "2s", "connect_timeout": "1s"},
        "limits": {"execution_time": "2s"}, "server": {"reap_interval": "2s"}}


@suite.test
def hung_dockerd_is_a_docker_timeout_not_the_programs():
    d = private_dockerd()
    with on_private(d, **HUNG) as svc:
        r = svc.run(TINY, sh("echo warm"))
        expect(r.status == 200 and r.json["stdout"] == "warm\n", "a run before the hang", r)
        wait_for("its container removed", lambda: not svc.containers(), 5)
        # Hung while the runner waits for the program: its answer, at
        # 1.5 s, cannot pass through dockerd.
        t1, box1 = run_in_background(svc, "echo hi; sleep 1.5; echo done")
        program_running(d, svc)
        d.hang()
        hung = time.monotonic()
        try:
            time.sleep(0.5)
            t2, box2 = run_in_background(svc, "echo never")
            t1.join(30)
            t2.join(30)
            time.sleep(max(0, hung + HANG_S - time.monotonic()))
            held = time.monotonic() - hung
        finally:
            d.resume()
        for name, box in (("in flight", box1), ("sent during the hang", box2)):
            r = box.get("reply")
            expect_error(r, 504, "docker.timeout")
            print("  run %s: %d %s after %.1f s: %s" % (name, r.status, r.json["error"],
                                                     box["at"] - hung, r.json["message"]))
        print("  dockerd hung for %.1f s" % held)
        wait_for("containers removed after the hang", lambda: not svc.containers(),
                 svc.seconds("server", "reap_interval") + 15, 0.2)
        r = svc.run(TINY, sh("echo after"))
        expect(r.status == 200 and r.json["stdout"] == "after\n", "a run after the hang", r)
        s = runs(svc)
        expect(s["docker_error"] == 2 and s["timeout"] == 0 and s["ok"] == 2,
               "counted as Docker errors, not timeouts: %r" % s)


@suite.test
def restarted_dockerd_is_reconnected():
    d = private_dockerd()
    with on_private(d) as svc:
        for i in range(3):
            r = svc.run(TINY, sh("echo before"))
            expect(r.status == 200, "a run before the restart", r)
        wait_for("their containers removed", lambda: not svc.containers(), 5)
        # One run in flight while dockerd goes (which waits for it to end,
        # or kills it): it is answered, and leaves nothing behind.
        t, box = run_in_background(svc, "echo hi; sleep 2")
        program_running(d, svc)
        d.restart()
        t.join(30)
        r = box.get("reply")
        expect(r is not None and (r.status == 200 or r.json["error"].startswith("docker.")),
               "the run in flight is answered", r)
        print("  run in flight: %d %s" % (r.status, r.json.get("error") or "ok"))
        for i in range(4):
            r = svc.run(TINY, sh("echo after %d" % i))
            expect(r.status == 200 and r.json["stdout"] == "after %d\n" % i,
                   "run %d after the restart" % i, r)
        wait_for("no container left", lambda: not svc.containers(), 3, 0.1)


@suite.test
def private_dockerd_stops():
    d = _private.pop("d", None)
    if d:
        d.__exit__(None, None, None)
    expect(d is None or d.proc is None, "stopped")


if __name__ == "__main__":
    service.main(suite)
