#!/usr/bin/env python3
"""An operator's bad day: a container removed by hand, dockerd hung or
restarted, the master killed, a client that leaves.  Every answer names
the real cause (never the program for Docker's fault), /status counts it
as such, and no container is left.  The tests that stop or restart
dockerd use a private one (tests/lib/dockerd.py), never the machine's.
Cost: about 2 minutes (30 s of it a 10 s hang of dockerd and its
aftermath); every wait is bounded."""
import os
import shutil
import signal
import subprocess
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


def long_run(svc):
    """A 20 s run in the background: (thread, box, container, worker)."""
    t, box = run_in_background(svc, "echo started; sleep 20")
    cid = svc.wait_running_container()
    return t, box, cid, svc.container_worker(cid)


@suite.test
def workers_die_with_their_master_and_remove_their_containers():
    with Service() as svc:
        t, box, cid, busy = long_run(svc)
        idle = [p for p in svc.workers() if p != busy]
        expect(len(idle) == svc.worker_count - 1, "idle workers: %r" % idle)
        killed = time.monotonic()
        svc.signal(signal.SIGKILL)
        wait_for("idle workers gone", lambda: not any(alive(p) for p in idle), 5, 0.02)
        idle_gone = time.monotonic() - killed
        wait_for("busy worker gone", lambda: not alive(busy), 15, 0.05)
        busy_gone = time.monotonic() - killed
        expect(cid not in svc.containers(), "the busy worker removed its container")
        t.join(30)
        print("  after the master's SIGKILL: idle workers gone in %.2f s, the busy one "
              "(its container removed) in %.2f s" % (idle_gone, busy_gone))
        expect(idle_gone < 1.0, "idle workers die at once")
        expect_error(box.get("reply"), 503, "server.stopping")


@suite.test
def starting_master_leaves_the_container_of_a_live_process():
    # A worker of an earlier master (here a process that bears runboxd's
    # name) still uses its container: the start-up reap leaves it; once
    # the process is gone the periodic reap takes it.
    svc = Service({"server": {"reap_interval": "2s"}})
    fake = os.path.join(svc.work, "runboxd")
    os.symlink(shutil.which("sleep"), fake)
    holder = subprocess.Popen([fake, "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        live = svc.foreign_container(holder.pid)[:12]
        orphan = svc.foreign_container(dead.pid)[:12]
        svc.start()
        left = svc.containers()
        expect(live in left and orphan not in left,
               "the live process's container stays, the orphan goes: %r" % left)
        svc.wait_log(r"process %d that made it is alive; left to it" % holder.pid, 1)
        holder.kill()
        holder.wait()
        wait_for("its container reaped once it is gone",
                 lambda: not svc.containers(), svc.seconds("server", "reap_interval") + 3, 0.1)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        problems = svc.stop()
    expect(not problems, "; ".join(problems))


@suite.test
def worker_death_is_logged_and_counted():
    with Service() as svc:
        t, box, cid, pid = long_run(svc)
        os.kill(pid, signal.SIGKILL)
        t.join(30)
        expect_error(box.get("reply"), 502, "service.unavailable")
        svc.wait_log(r"worker %d killed by signal 9 \(request [0-9a-f]{16} lost\)" % pid, 2)
        svc.wait_log(r"worker \d+ replaces one that died", 3)
        s = svc.settled_status()
        expect(s["worker_deaths"] == 1 and s["worker_respawns"] == 1,
               "one death, one respawn: %r" % s)
        p = svc.status("prometheus").raw.decode()
        expect("runbox_worker_deaths_total 1\n" in p and
               "runbox_worker_respawns_total 1\n" in p, "in Prometheus too:\n" + p)


CLIENT_WAIT_S = 1.5


@suite.test
def client_that_leaves_frees_its_slot():
    with Service() as svc:
        try:
            svc.run(TINY, sh("echo started; sleep 20"), timeout=CLIENT_WAIT_S)
            expect(False, "the run cannot end before the client gives up")
        except OSError:
            left = time.monotonic()
        wait_for("container removed", lambda: not svc.containers(), 10, 0.02)
        gone = time.monotonic() - left
        m = svc.wait_log(r"status=499 error=client.closed .* duration_ms=(\d+)", 2)
        lasted = int(m.group(1))
        print("  the request lasted %d ms for a client that left after %d ms; its container "
              "was removed %.2f s after" % (lasted, CLIENT_WAIT_S * 1000, gone))
        expect(lasted < CLIENT_WAIT_S * 1000 + 1000, "cancelled within a second")
        s = svc.settled_status()
        expect(s["runs"]["cancelled"] == 1 and s["runs"]["ok"] == 0, "counted as cancelled: %r" % s)


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
