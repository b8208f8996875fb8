#!/usr/bin/env python3
"""Workers that go wrong mid-run: one stopped past its request's deadline
is killed by the master, one killed with SIGKILL leaves no container for
longer than a reap period; both are replaced.  Containers no live worker
owns are removed periodically and at start."""
import os
import re
import signal
import socket
import time

import service
from service import (Service, Suite, TINY, alive, docker, expect, expect_error,
                     run_in_background, sh, wait_for)

suite = Suite("workers")


def busy_worker(svc):
    """The running container of the instance and the worker that owns it."""
    cid = svc.wait_running_container()
    pid = svc.container_worker(cid)
    expect(pid in svc.workers(), "runbox.worker=%d is a worker of the master" % pid)
    return cid, pid


# Short times all round.  The request's deadline is its start plus
# run_budget() (src/run.c): the longest execution_time, the runner's
# reserve (a quarter of it, 0.25 to 1 s) and five Docker calls at
# read_timeout (create, attach, start before the run; logs and remove
# after it); the worker is killed once it is kill_grace past it.
OVERDUE = {"server": {"kill_grace": "1s"},
           "docker": {"read_timeout": "2s", "connect_timeout": "1s"},
           "limits": {"execution_time": "2s"}}


def overdue_times(svc):
    """execution_time, the longest deadline and kill_grace of svc, in s."""
    execution = svc.seconds("limits", "execution_time")
    reserve = min(max(execution / 4, 0.25), 1.0)
    deadline_max = execution + reserve + 5 * svc.seconds("docker", "read_timeout")
    return execution, deadline_max, svc.seconds("server", "kill_grace")


@suite.test
def stopped_worker_past_its_deadline_is_killed_and_replaced():
    with Service(OVERDUE) as svc:
        execution, deadline_max, grace = overdue_times(svc)
        sent = time.monotonic()
        t, box = run_in_background(svc, "echo started; sleep 30")
        cid, pid = busy_worker(svc)
        os.kill(pid, signal.SIGSTOP)
        wait_for("worker %d killed" % pid, lambda: not alive(pid), deadline_max + grace + 5, 0.02)
        killed = time.monotonic() - sent
        m = svc.wait_log(r"worker %d is (\d+) ms past its request's deadline: killing it" % pid, 2)
        late_ms = int(m.group(1))
        gone = wait_for("container %s removed" % cid[:12],
                        lambda: cid not in svc.containers(), 5, 0.05) and time.monotonic() - sent
        print("  worker %d killed %.2f s after the request was sent, %d ms past its deadline "
              "(so the deadline was ~%.1f s); container removed at %.2f s"
              % (pid, killed, late_ms, killed - late_ms / 1000.0, gone))
        expect(grace * 1000 < late_ms <= grace * 1000 + 1000,
               "killed within 1 s after deadline + kill_grace (%d ms past)" % late_ms)
        expect(execution + grace <= killed <= deadline_max + grace + 2.0,
               "killed %.2f s after the request" % killed)
        expect(gone - killed < 3.0, "container gone %.2f s after the kill" % (gone - killed))
        t.join(30)
        expect_error(box.get("reply"), 502, "service.unavailable")
        expect(re.search(r"worker %d killed by signal 9" % pid, svc.log()), "the master saw it die")
        svc.wait_workers(svc.worker_count)
        expect(pid not in svc.workers(), "a new worker in its place")
        r = svc.run(TINY, sh("echo next"))
        expect(r.status == 200 and r.json["stdout"] == "next\n", "the next run is served", r)


@suite.test
def sigkilled_worker_leaves_no_container_beyond_a_reap_period():
    with Service({"server": {"reap_interval": "5s"}}) as svc:
        reap = svc.seconds("server", "reap_interval")
        t, box = run_in_background(svc, "echo started; sleep 4; echo done")
        cid, pid = busy_worker(svc)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_for("container %s removed" % cid[:12], lambda: cid not in svc.containers(),
                 reap + 2.0, 0.02)
        took = time.monotonic() - killed
        print("  orphan of SIGKILLed worker %d removed %.2f s after the kill "
              "(reap_interval %.0f s)" % (pid, took, reap))
        expect(took < reap, "removed within one reap period (%.2f s)" % took)
        t.join(30)
        expect_error(box.get("reply"), 502, "service.unavailable")
        svc.wait_log(r"removed 1 orphaned containers of instance %s" % svc.instance, 2)
        svc.wait_workers(svc.worker_count)
        expect(pid not in svc.workers(), "a new worker in its place")
        r = svc.run(TINY, sh("echo next"))
        expect(r.status == 200 and r.json["stdout"] == "next\n", "the next run is served", r)
        s = svc.settled_status()
        expect(s["containers_reaped"] == 1, "status counts the reaped container: %r" % s)


@suite.test
def orphan_is_removed_within_reap_interval():
    with Service({"server": {"reap_interval": "2s"}}) as svc:
        reap = svc.seconds("server", "reap_interval")
        cid = svc.foreign_container(1)  # pid 1 is no worker
        made = time.monotonic()
        wait_for("orphan removed", lambda: cid not in svc.containers(), reap + 1.5, 0.05)
        print("  orphan removed %.2f s after it appeared (reap_interval %g s)"
              % (time.monotonic() - made, reap))
        svc.wait_log(r"removed 1 orphaned containers of instance %s" % svc.instance, 2)


@suite.test
def container_of_a_live_worker_is_not_reaped():
    with Service({"server": {"reap_interval": "1s"}}) as svc:
        t, box = run_in_background(svc, "sleep 3; echo done")
        cid, pid = busy_worker(svc)
        t.join(30)
        r = box.get("reply")
        expect(r is not None and r.status == 200 and r.json["stdout"] == "done\n",
               "the run outlived two reap periods", r)
        expect("orphaned" not in svc.log(), "nothing reaped")


@suite.test
def container_a_live_worker_no_longer_uses_is_reaped():
    # As when a create timed out on our side or a remove failed: the
    # worker lives on, idle, and its container must not wait for it to exit.
    with Service({"server": {"reap_interval": "1s", "workers": "1"}}) as svc:
        worker = svc.workers()[0]
        cid = docker("create", "--label", "runbox.service=runboxd",
                     "--label", "runbox.instance=" + svc.instance,
                     "--label", "runbox.worker=%d" % worker,
                     "--label", "runbox.request=00000000000000aa", TINY).strip()
        wait_for("container of an idle worker removed",
                 lambda: cid not in svc.containers(),
                 svc.seconds("server", "reap_interval") + 1.5, 0.05)
        expect(svc.workers() == [worker], "the worker itself is left alone")


@suite.test
def silent_connection_cannot_hold_a_worker():
    with Service({"server": {"io_timeout": "1s", "workers": "1"}}) as svc:
        silent = socket.socket(socket.AF_UNIX)
        silent.connect(svc.sock)
        try:
            time.sleep(0.2)  # the only worker takes it and waits
            r = svc.run(TINY, sh("echo served"), timeout=20)
            expect(r.status == 200 and r.json["stdout"] == "served\n",
                   "the next request is served once io_timeout drops the silent one", r)
            expect(r.seconds < svc.seconds("server", "io_timeout") + 3.0,
                   "within io_timeout and a run", r)
        finally:
            silent.close()


@suite.test
def leftover_containers_are_removed_at_start():
    svc = Service()
    try:
        cids = [svc.foreign_container(1), svc.foreign_container(99999)]
        svc.start()
        left = svc.containers()
        expect(not left, "left at start: %s" % left)
        svc.wait_log(r"removed 2 orphaned containers of instance %s" % svc.instance, 1)
        expect(all(c not in left for c in cids), "both removed")
    finally:
        problems = svc.stop()
    expect(not problems, "; ".join(problems))


if __name__ == "__main__":
    service.main(suite)
