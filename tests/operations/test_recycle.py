#!/usr/bin/env python3
"""max_requests: a worker exits after that many requests and the master
replaces it; the runs go on succeeding."""
import re

import service
from service import Service, Suite, TINY, alive, expect, sh

suite = Suite("recycle")


def requests_by_pid(log):
    """{worker pid: number of request lines it logged}."""
    counts = {}
    for pid in re.findall(r"runboxd\[(\d+)\]: request=", log):
        counts[int(pid)] = counts.get(int(pid), 0) + 1
    return counts


@suite.test
def worker_is_replaced_after_max_requests():
    with Service({"server": {"workers": "1", "max_requests": "2"}}) as svc:
        first = svc.wait_workers(svc.worker_count)
        max_requests = int(svc.value("server", "max_requests"))
        served = []
        for i in range(6):
            r = svc.run(TINY, sh("echo run %d" % i))
            expect(r.status == 200 and r.json["stdout"] == "run %d\n" % i, "run %d" % i, r)
            line = svc.wait_log(r"runboxd\[(\d+)\]: request=%s " % r.headers["X-Request-Id"], 5)
            served.append(int(line.group(1)))
        now = svc.wait_workers(svc.worker_count)
        counts = requests_by_pid(svc.log())
        print("  runs served by workers %s; pgrep -P master: %s before, %s after"
              % (served, first, now))
        expect(now != first, "pgrep -P master shows another worker: %s -> %s" % (first, now))
        expect(len(set(served)) >= 3, "six runs took at least three workers: %s" % served)
        for pid, n in counts.items():
            if pid == now[0]:
                expect(n < max_requests, "the live worker %d has served %d < %d"
                       % (pid, n, max_requests))
            else:
                expect(not alive(pid), "worker %d is gone" % pid)
                expect(n == max_requests, "worker %d served exactly max_requests: %d"
                       % (pid, n))
        expect(not re.search(r"killed by signal|exited with status", svc.log()),
               "workers exited cleanly")


@suite.test
def zero_max_requests_never_recycles():
    with Service({"server": {"workers": "1", "max_requests": "0"}}) as svc:
        first = svc.wait_workers(svc.worker_count)
        for i in range(4):
            r = svc.run(TINY, sh("echo %d" % i))
            expect(r.status == 200 and r.json["stdout"] == "%d\n" % i, "run %d" % i, r)
        expect(svc.workers() == first, "the same worker: %s" % first)


if __name__ == "__main__":
    service.main(suite)
