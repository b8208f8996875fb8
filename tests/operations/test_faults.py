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


if __name__ == "__main__":
    service.main(suite)
