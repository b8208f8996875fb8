#!/usr/bin/env python3
"""Stopping: SIGTERM lets a run in flight finish and answer; with a short
shutdown_timeout a long run is aborted and answered 503; either way the
master exits last and leaves no worker, container, socket or pid file."""
import os
import signal
import time

import service
from service import (Service, Suite, alive, expect, expect_error, processes_with,
                     run_in_background)

suite = Suite("stop")


def expect_nothing_left(svc, workers):
    expect(not [p for p in [svc.master] + workers if alive(p)], "no runboxd process left")
    expect(not processes_with(svc.ini), "no process runs with %s" % svc.ini)
    expect(not svc.containers(), "no container of the instance: %s" % svc.containers())
    expect(not os.path.exists(svc.pid_file), "pid file removed")
    expect(not os.path.exists(svc.sock), "socket removed")


@suite.test
def sigterm_lets_the_run_in_flight_finish():
    with Service({"server": {"shutdown_timeout": "10s"}}) as svc:
        t, box = run_in_background(svc, "echo started; sleep 2; echo done")
        svc.wait_running_container()
        workers = svc.workers()
        sent = time.monotonic()
        svc.signal(signal.SIGTERM)
        code = svc.wait_exit(10)
        t.join(10)
        r = box.get("reply")
        expect(r is not None and r.status == 200 and r.json["stdout"] == "started\ndone\n" and
               r.json["error"] == "", "the run finished and was answered", r or box)
        expect(box["at"] - sent < 4.0, "answered when the run ended")
        expect(code == 0, "the master exits 0 (%s)" % code)
        svc.wait_log(r"stopping %d workers" % svc.worker_count, 0.1)
        svc.wait_log(r"runboxd\[%d\]: stopped" % svc.master, 0.1)
        expect("aborting their runs" not in svc.log(), "nothing was aborted")
        expect_nothing_left(svc, workers)


@suite.test
def sigterm_aborts_a_run_past_shutdown_timeout():
    with Service({"server": {"shutdown_timeout": "1s"},
                  "limits": {"execution_time": "15s"}}) as svc:
        t, box = run_in_background(svc, "echo started; sleep 10; echo never")
        svc.wait_running_container()
        workers = svc.workers()
        sent = time.monotonic()
        svc.signal(signal.SIGTERM)
        t.join(15)
        answered = box["at"] - sent
        code = svc.wait_exit(10)
        shutdown = svc.seconds("server", "shutdown_timeout")
        print("  the aborted run was answered %.2f s after SIGTERM (shutdown_timeout %g s)"
              % (answered, shutdown))
        expect_error(box.get("reply"), 503, "server.stopping")
        expect(shutdown <= answered <= shutdown + 2.0,
               "answered between %g and %g s after SIGTERM (%.2f)"
               % (shutdown, shutdown + 2.0, answered))
        expect(code == 0, "the master exits 0 (%s)" % code)
        svc.wait_log(r"1 workers still busy after %d ms: aborting their runs"
                     % (shutdown * 1000), 0.1)
        expect_nothing_left(svc, workers)


@suite.test
def sigint_and_sigquit_stop_like_sigterm():
    for sig in (signal.SIGINT, signal.SIGQUIT):
        with Service() as svc:
            workers = svc.workers()
            svc.signal(sig)
            expect(svc.wait_exit(10) == 0, "%s: the master exits 0" % sig.name)
            expect_nothing_left(svc, workers)


if __name__ == "__main__":
    service.main(suite)
