#!/usr/bin/env python3
"""The prefork pool: a worker killed mid-run is replaced, and every request
leaves one line in the log.

Does not stop the master: suites run in any order, and
tests/integration/run stops it (SIGTERM) at the end and then checks that no
container of the instance is left.  A container orphaned by a killed worker
is removed by the master at once (it carries the label runbox.worker=PID;
issue 4 asked for reaping while running: the master also reaps every
reap_interval, and at start and stop).
"""
import os
import random
import re
import signal
import subprocess
import threading
import time

from runbox_client import (INSTANCE, Conf, answered_by_nginx, containers, expect, expect_error,
                           files, request, run, Suite)

TINY = "runbox/tiny:latest"
WORKERS = Conf().workers  # [server] workers of the INI the service runs with
MASTER = int(os.environ["RUNBOX_MASTER_PID"])
LOG = os.environ["RUNBOX_LOG"]

suite = Suite("workers")


def sh(script):
    return {"language": "bash", "files": files(("main.sh", script))}


def workers():
    """PIDs of the master's children but the queue process, from
    /proc/*/stat (ppid is field 4)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat[stat.rindex(")") + 2:].split()
        state, ppid = fields[0], int(fields[1])
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if ppid == MASTER and state != "Z" and name != "runboxd-queue":
            pids.append(int(entry))
    return sorted(pids)


def wait_for(what, cond, seconds):
    """Poll cond (bounded) until it returns a true value; return that value."""
    deadline = time.monotonic() + seconds
    while True:
        value = cond()
        if value:
            return value
        expect(time.monotonic() < deadline, "%s within %.0f s" % (what, seconds))
        time.sleep(0.05)


def containers_of(worker):
    """Containers of the instance that carry the label of this worker pid."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=runbox.instance=" + INSTANCE,
         "--filter", "label=runbox.worker=%d" % worker],
        check=True, capture_output=True, text=True).stdout
    return out.split()


def log_lines(request_id):
    with open(LOG, errors="replace") as f:
        return [line for line in f if "request=%s " % request_id in line]


def hello():
    r = run(TINY, sh("echo hello after"))
    expect(r.status == 200 and r.json is not None and r.json.get("stdout") == "hello after\n"
           and r.json.get("error") == "", "hello world works", r)
    return r


@suite.test
def master_has_the_configured_number_of_workers():
    expect(os.path.exists("/proc/%d" % MASTER), "master %d is running" % MASTER)
    pids = wait_for("%d workers" % WORKERS, lambda: len(workers()) == WORKERS and workers(), 3)
    expect(MASTER not in pids, "workers are other processes")


@suite.test
def worker_killed_mid_run_gives_502_and_is_respawned():
    before_containers = set(containers())
    before = wait_for("%d workers" % WORKERS, lambda: len(workers()) == WORKERS and workers(), 3)
    replies = [None] * WORKERS

    def one(i):
        # Long enough to be caught running (the kill comes right after
        # every worker's container exists, before they start), short enough
        # to end well within execution_time (seconds) even when starts are
        # slow.
        replies[i] = run(TINY, sh("echo started %d\nsleep 1.5\necho done %d" % (i, i)), timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    # Every worker has created its container: all are busy with ours.
    wait_for("%d runs in flight" % WORKERS,
             lambda: len(set(containers()) - before_containers) >= WORKERS, 5)
    victim = random.choice(before)
    orphan = containers_of(victim)
    expect(len(orphan) == 1, "the victim %d runs one container: %s" % (victim, orphan))
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join(30)
    expect(all(not t.is_alive() for t in threads), "all clients answered")

    statuses = sorted(r.status for r in replies)
    expect(statuses == [200] * (WORKERS - 1) + [502],
           "one 502 (the killed worker's client), the others 200: %s" % statuses, replies)
    for i, r in enumerate(replies):
        if r.status == 502:
            # nginx's own JSON error page: runboxd never answered.
            expect_error(r, 502, "service.unavailable")
            expect(answered_by_nginx(r), "answered by nginx", r)
        else:
            expect(r.json["stdout"] == "started %d\ndone %d\n" % (i, i) and r.json["error"] == "",
                   "run %d complete" % i, r)

    after = wait_for("a respawned worker",
                     lambda: len(workers()) == WORKERS and victim not in workers() and workers(), 3)
    expect(len(set(after) - set(before)) == 1 and set(before) - set(after) == {victim},
           "exactly the killed worker replaced: %s -> %s" % (before, after))
    hello()


@suite.test
def container_of_a_killed_worker_is_removed_at_once():
    before_containers = set(containers())
    before = wait_for("%d workers" % WORKERS, lambda: len(workers()) == WORKERS and workers(), 3)
    reply = []
    t = threading.Thread(target=lambda: reply.append(
        run(TINY, sh("echo started\nsleep 2\necho done"), timeout=30)))
    t.start()
    # The one busy worker is the one whose label is on the new container.
    new = wait_for("the run in flight", lambda: set(containers()) - before_containers, 5)
    owners = [w for w in before if containers_of(w)]
    expect(len(owners) == 1 and set(containers_of(owners[0])) == new,
           "one worker owns the new container: %s" % owners)
    start = time.monotonic()
    os.kill(owners[0], signal.SIGKILL)
    t.join(30)
    expect(reply and reply[0].status == 502, "the client gets 502", reply)
    # Not at stop, not after reap_interval (30 s): when the master sees the worker die.
    wait_for("the orphan removed", lambda: not containers_of(owners[0]), 5)
    expect(time.monotonic() - start < 5, "removed within 5 s of the kill")
    wait_for("a respawned worker", lambda: len(workers()) == WORKERS, 3)
    hello()


@suite.test
def idle_worker_killed_is_respawned():
    before = wait_for("%d workers" % WORKERS, lambda: len(workers()) == WORKERS and workers(), 3)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    wait_for("a respawned worker",
             lambda: len(workers()) == WORKERS and victim not in workers(), 3)
    for _ in range(WORKERS + 1):  # the pool keeps answering
        hello()


@suite.test
def master_logs_the_killed_worker():
    before = wait_for("%d workers" % WORKERS, lambda: len(workers()) == WORKERS and workers(), 3)
    victim = before[-1]
    os.kill(victim, signal.SIGKILL)
    wait_for("a respawned worker", lambda: len(workers()) == WORKERS and victim not in workers(), 3)
    pattern = re.compile(r"worker (%d|\d+ \(pid %d\)) killed by signal %d"
                         % (victim, victim, signal.SIGKILL))
    with open(LOG, errors="replace") as f:
        expect(any(pattern.search(line) for line in f), "log names pid %d and signal 9" % victim)


def open_fds(pids):
    return {pid: len(os.listdir("/proc/%d/fd" % pid)) for pid in pids}


def round_on_every_worker():
    """WORKERS runs at once: each worker serves exactly one."""
    replies = [None] * WORKERS

    def one(i):
        replies[i] = run(TINY, sh("sleep 0.5; echo r%d" % i), timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for i, r in enumerate(replies):
        expect(r is not None and r.status == 200 and r.json["stdout"] == "r%d\n" % i,
               "run %d ok" % i, r)


@suite.test
def workers_do_not_leak_file_descriptors():
    round_on_every_worker()  # every worker has its Docker connection open
    pids = wait_for("%d workers" % WORKERS, lambda: len(workers()) == WORKERS and workers(), 3)
    # Workers remove their container after the reply: wait until all are idle
    # (their fd counts stop changing) before taking the baseline.
    settled = {}

    def steady():
        now = open_fds(pids)
        same = now == settled.get("last")
        settled["last"] = now
        return same and now

    before = wait_for("steady fd counts", steady, 3)
    for _ in range(3):
        round_on_every_worker()
    expect(workers() == pids, "same workers throughout")
    # A leak stays; a removal still in progress ends within the bound.
    wait_for("open fds per worker back to %s (now %s)" % (before, open_fds(pids)),
             lambda: all(n <= before[p] for p, n in open_fds(pids).items()), 3)


@suite.test
def log_has_one_line_per_run_request():
    r = hello()
    rid = r.headers.get("X-Request-Id")
    expect(rid is not None, "X-Request-Id", r)
    # The line is written after the container is removed, i.e. after the reply.
    lines = wait_for("the log line of %s" % rid, lambda: log_lines(rid), 3)
    expect(len(lines) == 1, "exactly one line for %s: %s" % (rid, lines))
    line = lines[0]
    for field in ("method=POST", "uri=/run", "image=runbox/tiny:latest", "status=200",
                  "error=-"):
        expect(" %s " % field in line, "%s in %r" % (field, line))
    expect(re.search(r" container=[0-9a-f]{12} warm=no ", line) is not None,
           "the run's container, not a warm one (the suite's INI keeps none): %r" % line)
    m = re.search(r" duration_ms=(\d+)$", line.rstrip("\n"))
    expect(m is not None, "duration_ms= at the end: %r" % line)
    expect(int(m.group(1)) <= r.seconds * 1000 + 50,
           "duration_ms (%s) not above what the client saw (%.0f ms)"
           % (m.group(1), r.seconds * 1000))


@suite.test
def log_line_keeps_the_image_name_the_client_sent():
    alias = Conf().aliases(TINY)[0]
    r = run(alias, sh("echo hello alias"))
    expect(r.status == 200 and r.json is not None and r.json.get("stdout") == "hello alias\n",
           "%s runs %s" % (alias, TINY), r)
    rid = r.headers.get("X-Request-Id")
    lines = wait_for("the log line of %s" % rid, lambda: log_lines(rid), 3)
    expect(len(lines) == 1 and " image=%s " % alias in lines[0],
           "image=%s in %r" % (alias, lines))


@suite.test
def log_line_of_an_error_request_has_its_status_and_code():
    r = request("GET", "/version", token="wrong")
    expect_error(r, 401, "access_token")
    rid = r.headers.get("X-Request-Id")
    lines = wait_for("the log line of %s" % rid, lambda: log_lines(rid), 3)
    expect(len(lines) == 1, "exactly one line for %s: %s" % (rid, lines))
    for field in ("method=GET", "uri=/version", "status=401", "error=access_token",
                  "container=-", "warm=-"):
        expect(" %s " % field in lines[0], "%s in %r" % (field, lines[0]))
    expect(re.search(r" duration_ms=\d+$", lines[0].rstrip("\n")) is not None,
           "duration_ms=", lines[0])


@suite.test
def image_name_with_a_newline_cannot_forge_a_log_line():
    fake = "request=forged%d method=GET uri=/ image=x status=200" % random.randrange(10**9)
    image = TINY + "\n2024-01-01T00:00:00Z runboxd[1]: " + fake
    r = run(image, sh("echo forged"))
    expect_error(r, 400, "request.json")
    rid = r.headers.get("X-Request-Id")
    lines = wait_for("the log line of %s" % rid, lambda: log_lines(rid), 3)
    expect(len(lines) == 1, "exactly one line for %s: %s" % (rid, lines))
    with open(LOG, errors="replace") as f:
        forged = [line for line in f if line.find(fake.split()[0] + " ") != -1 and
                  "request=%s " % rid not in line]
    expect(forged == [], "no line of its own for the fake: %s" % forged)


@suite.test
def log_does_not_hold_the_token():
    token = os.environ["RUNBOX_TOKEN"]
    with open(LOG, errors="replace") as f:
        expect(token not in f.read(), "the access token is never logged")


if __name__ == "__main__":
    suite.main()
