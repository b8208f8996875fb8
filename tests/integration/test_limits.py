#!/usr/bin/env python3
"""Limits and isolation: each item of glot's FAQ (infinite loops, large
output, fork bombs, memory) and the sandbox's walls, each a test.

The limits are read from the INI that tests/integration/run starts the
service with ($RUNBOX_CONF): small ones (seconds, 64K, 128M, 64 pids), so
that these tests are quick.  The runner stops the program at
execution_time, counted from when it gets its payload, and reports it
itself with what was printed before (RUNBOX_TIME_LIMIT_MS, set in
src/run.c); the service gives up a reserve of min(1 s, 25 %) later.
"""
import re
import threading
import time

from runbox_client import Conf, containers, expect, files, run, size_bytes, Suite

TINY = "runbox/tiny:latest"
PYTHON = "runbox/python:latest"
CONF = Conf()
# execution_time, which runboxd also hands the runner as its own limit.
TINY_RUNNER_MS, PYTHON_RUNNER_MS = CONF.execution_ms(TINY), CONF.execution_ms(PYTHON)
TINY_TIME, PYTHON_TIME = TINY_RUNNER_MS / 1000.0, PYTHON_RUNNER_MS / 1000.0
# The runtime every image runs on ([container] runtime): on runsc (gVisor)
# the suite runs its abuse tests only, RUNSC below.
RUNTIME = CONF.get("container", "runtime")
# gVisor doubles a cold run and takes longer to remove (README, "Security
# model"): the bounds below, which hold the whole run, create and start
# included, and the removal, double with it.
SCALE = 2.0 if RUNTIME == "runsc" else 1.0
SLACK = 2.0 * SCALE  # the answer may come this much after execution_time
# A run that is cut (output limit) or simply ends is answered well before
# the runner's own time limit, even on a loaded host.
PROMPT = 4.0 * SCALE

suite = Suite("limits")


def sh(script, **extra):
    return dict({"language": "bash", "files": files(("main.sh", script))}, **extra)


def py(source, **extra):
    return dict({"language": "python", "files": files(("main.py", source))}, **extra)


# Containers there before the suite are not its own (suites run in any
# order; an orphan of a worker killed by test_workers.py goes when the
# master reaps it).
BEFORE = set(containers())


def no_container_left(seconds=2.0 * SCALE):
    """Containers go after the reply: the suite's are gone within seconds."""
    deadline = time.monotonic() + seconds
    while True:
        left = sorted(set(containers()) - BEFORE)
        if not left:
            return
        expect(time.monotonic() < deadline,
               "containers still there %.0f s after the reply: %s" % (seconds, left))
        time.sleep(0.1)


def expect_result(r, within):
    expect(r.seconds < within, "answered within %.1f s" % within, r)
    expect(r.status == 200 and isinstance(r.json, dict), "200 with the runner's JSON", r)
    for key in ("stdout", "stderr", "error"):
        expect(isinstance(r.json.get(key), str), "%s is a string" % key, r)


def sandbox_killed(r, exit_code, within):
    """gVisor (ptrace platform) enforces memory and pids on the whole
    sandbox: at either limit the host kills it, runner and all (exit 137 for
    memory, 2 when the sentry cannot make a thread), so the program's output
    is lost and the service says so.  README, "Security model"."""
    expect(r.seconds < within, "answered within %.1f s" % within, r)
    expect(r.status == 500 and r.json.get("error") == "coderunner.stdout.decode" and
           ("container exit code %d" % exit_code) in r.json.get("message", ""),
           "500: the sandbox died with exit code %d" % exit_code, r)


def host_still_fine():
    """A hello world right after: correct, and well within its own limit."""
    r = run(TINY, sh("echo still fine"))
    expect_result(r, TINY_TIME * SCALE)
    expect(r.json["stdout"] == "still fine\n" and r.json["error"] == "", "hello world works", r)


# --- infinite loops ----------------------------------------------------------

@suite.test
def infinite_loop_in_sh_times_out_with_output_before():
    r = run(TINY, sh("echo before\nwhile :; do :; done\necho never"))
    expect_result(r, TINY_TIME + SLACK)
    expect(r.seconds >= TINY_RUNNER_MS / 1000.0, "ran until the runner's limit", r)
    expect(r.json["stdout"] == "before\n", "output before the loop kept", r)
    expect(r.json["error"] == "Timeout: killed after %d ms" % TINY_RUNNER_MS,
           "runner's timeout error", r)
    no_container_left()


@suite.test
def infinite_loop_in_python_times_out_with_output_before():
    r = run(PYTHON, py('print("before", flush=True)\nwhile True:\n    pass\n'))
    expect_result(r, PYTHON_TIME + SLACK)
    expect(r.json["stdout"] == "before\n", "output before the loop kept", r)
    expect(r.json["error"] == "Timeout: killed after %d ms" % PYTHON_RUNNER_MS,
           "runner's timeout error", r)
    no_container_left()


@suite.test
def concurrent_infinite_loops_each_keep_their_output():
    # One loop per worker fills them all: container starts slow down (0.7-1
    # s on a 2-core host) but every program still gets the runner's timeout
    # report with what it printed, because the deadline starts when the
    # payload is sent, after the container has started.
    replies = [None] * CONF.workers

    def one(i):
        replies[i] = run(TINY, sh("echo before %d\nwhile :; do :; done" % i), timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(replies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for i, r in enumerate(replies):
        expect(r is not None and r.seconds < TINY_TIME + SLACK, "run %d answered in time" % i, r)
        expect(r.status == 200 and r.json is not None and
               r.json["stdout"] == "before %d\n" % i and
               r.json["error"] == "Timeout: killed after %d ms" % TINY_RUNNER_MS,
               "run %d: 200 with its output and the runner's timeout" % i, r)
    no_container_left()


@suite.test
def sleeping_program_times_out_too():
    # Not busy: the deadline is wall clock, not CPU time.
    r = run(TINY, sh("echo zzz\nsleep 60\necho never"))
    expect_result(r, TINY_TIME + SLACK)
    expect(r.json["stdout"] == "zzz\n", "output before the sleep kept", r)
    expect(r.json["error"] == "Timeout: killed after %d ms" % TINY_RUNNER_MS,
           "runner's timeout error", r)
    no_container_left()


@suite.test
def background_process_does_not_hold_the_run():
    # The program exits at once; what it left behind is killed, not waited for.
    r = run(TINY, sh("sleep 60 &\necho started"))
    expect_result(r, 2.0)
    expect(r.json["stdout"] == "started\n" and r.json["error"] == "", "clean exit", r)
    no_container_left()


@suite.test
def process_that_left_the_group_does_not_outlive_its_command():
    # setsid() takes it out of the command's process group; the runner,
    # PID 1 of the container, kills it all the same when the build ends.
    build = "setsid sh -c 'sleep 1; echo escaped > flag' </dev/null >/dev/null 2>&1 &"
    r = run(TINY, {"runInstructions": {"buildCommands": [build],
                                       "runCommand": "sleep 2; cat flag 2>/dev/null || echo clean"},
                   "files": files(("main.sh", ""))})
    expect_result(r, PROMPT)
    expect(r.json["stdout"] == "clean\n", "the escaped process was killed", r)
    no_container_left()


# A daemon that forks until the pids limit is reached, and keeps trying.
PID_FILLER = """import os, time
while True:
    try:
        if os.fork() == 0:
            time.sleep(100)
            os._exit(0)
    except OSError:
        time.sleep(0.001)
"""


@suite.test
def build_leftovers_do_not_hold_pids_of_the_run():
    # The build exits 0, leaving the daemon to fill the pids limit while
    # the runner drains the pipes it holds.  The runner kills it and its
    # children and reaps their zombies before the run, whose forks (the
    # runner's own first) then succeed.
    build = "python3 -c '%s' & true" % PID_FILLER
    r = run(PYTHON, {"runInstructions": {"buildCommands": [build],
                                         "runCommand": "echo $(echo forked); sh -c 'echo child'"},
                     "files": files(("main.py", ""))})
    expect_result(r, PROMPT)
    expect(r.json["error"] == "" and r.json["stdout"] == "forked\nchild\n",
           "the run forked freely after the build's leftovers", r)
    no_container_left()


@suite.test
def client_gone_mid_run_leaves_no_container():
    # The client gives up after 1 s; the worker still finishes the run and
    # removes the container, and the pool goes on answering.
    before = set(containers())
    try:
        r = run(TINY, sh("echo started\nsleep 2\necho done"), timeout=1)
        raise AssertionError("the client should have timed out: %r" % (r,))
    except OSError:  # socket.timeout / TimeoutError
        pass
    # The run (2 s of sleep) is in flight, or about to be under load.
    deadline = time.monotonic() + 2.0
    while not set(containers()) - before:
        expect(time.monotonic() < deadline, "the run was in flight when the client left")
        time.sleep(0.05)
    no_container_left(TINY_TIME + 2.0)
    host_still_fine()


# --- large output ------------------------------------------------------------
# The runner caps its own result document at output_size (RUNBOX_OUTPUT_LIMIT,
# src/runner/exec.c output budget) and kills the program, so the service sees
# a complete JSON object under its read limit: 200 "Output limit exceeded",
# never 400 limits.read.size (src/run.c) for a working runner.

def expect_output_limit(r, image, stream, char):
    expect_result(r, PROMPT)
    expect(len(r.raw) <= CONF.output_size(image) + 1,
           "body fits output_size (%d bytes)" % len(r.raw), r)
    expect(r.json["error"] == "Output limit exceeded", "runner's output-limit error", r)
    text = r.json[stream]
    expect(len(text) > CONF.output_size(image) // 2,
           "most of the budget used (%d chars)" % len(text), r)
    expect(set(text) <= set(char), "%s holds only what was printed" % stream, r)


@suite.test
def output_flood_with_yes_is_cut_at_the_output_limit():
    r = run(TINY, sh("yes"))
    expect_output_limit(r, TINY, "stdout", "y\n")
    expect(r.json["stdout"].startswith("y\ny\ny\n"), "stdout is yes's output", r)
    no_container_left()
    host_still_fine()


@suite.test
def output_flood_of_10mb_in_python_is_cut_at_the_output_limit():
    r = run(PYTHON, py('import sys\nsys.stdout.write("x" * 10_000_000)\n'))
    expect_output_limit(r, PYTHON, "stdout", "x")
    expect(r.json["stderr"] == "", "stderr empty", r)
    no_container_left()


@suite.test
def output_flood_on_stderr_is_cut_at_the_output_limit():
    r = run(PYTHON, py('import sys\nsys.stderr.write("e" * 10_000_000)\n'))
    expect_output_limit(r, PYTHON, "stderr", "e")
    expect(r.json["stdout"] == "", "stdout empty", r)
    no_container_left()


@suite.test
def output_flood_of_escaped_bytes_still_fits_the_output_limit():
    # Control bytes cost 6 bytes each in JSON (\u0001): the cap is on the
    # encoded document, not on the raw bytes.
    r = run(PYTHON, py('import sys\nsys.stdout.write("\\u00e9\\x01" * 5_000_000)\n'))
    expect_result(r, PROMPT)
    expect(len(r.raw) <= CONF.output_size(PYTHON) + 1,
           "body fits output_size (%d bytes)" % len(r.raw), r)
    expect(r.json["error"] == "Output limit exceeded", "runner's output-limit error", r)
    expect(r.json["stdout"].startswith("\u00e9\x01\u00e9\x01"), "stdout as printed", r)
    no_container_left()


@suite.test
def output_just_under_the_limit_is_complete():
    # The runner keeps 2K of the document for the rest of the result
    # (OUTPUT_RESERVE in src/runner/runner.h); 4K less surely fits.
    n = CONF.output_size(PYTHON) - 4096
    r = run(PYTHON, py('import sys\nsys.stdout.write("z" * %d)\n' % n))
    expect_result(r, PROMPT)
    expect(r.json["error"] == "" and r.json["stdout"] == "z" * n, "all %d bytes" % n, r)
    no_container_left()


@suite.test
def non_ascii_output_just_under_the_limit_is_complete():
    # Valid UTF-8 costs its own length in the document, not a U+FFFD per
    # byte: 2-byte "é"s filling all but 4K of output_size come back whole.
    n = (CONF.output_size(PYTHON) - 4096) // 2
    r = run(PYTHON, py('import sys\nsys.stdout.buffer.write("\\u00e9".encode() * %d)\n' % n))
    expect_result(r, PROMPT)
    expect(r.json["error"] == "" and r.json["stdout"] == "\u00e9" * n,
           "all %d characters" % n, r)
    no_container_left()


# --- fork bombs --------------------------------------------------------------

@suite.test
def fork_bomb_in_sh_is_contained():
    # busybox ash refuses ":" as a function name, hence f.  The main shell
    # keeps bombing until a fork fails (pids limit), which ends the script.
    r = run(TINY, sh("f(){ f|f& }\nf\nwhile :; do f; done\n"))
    if RUNTIME == "runsc":
        sandbox_killed(r, 2, TINY_TIME + SLACK)
        no_container_left()
        host_still_fine()
        return
    expect_result(r, TINY_TIME + SLACK)
    expect(re.fullmatch(r"Exit code: \d+|Timeout: killed after %d ms" % TINY_RUNNER_MS,
                        r.json["error"]) is not None, "error reported", r)
    expect("can't fork: Resource temporarily unavailable" in r.json["stderr"],
           "the pids limit stopped the forks", r)
    no_container_left()
    host_still_fine()


@suite.test
def fork_loop_in_python_is_contained():
    # Every process keeps trying to fork forever: only the deadline ends it.
    src = ("import os\nprint('start', flush=True)\nwhile True:\n"
           "    try:\n        os.fork()\n    except OSError:\n        pass\n")
    r = run(PYTHON, py(src))
    expect(r.seconds < PYTHON_TIME + SLACK, "answered within the deadline", r)
    if RUNTIME == "runsc":
        sandbox_killed(r, 2, PYTHON_TIME + SLACK)
    elif r.status == 200:
        expect(r.json["stdout"] == "start\n", "output before the bomb kept", r)
        expect(r.json["error"] == "Timeout: killed after %d ms" % PYTHON_RUNNER_MS,
               "runner's timeout error", r)
    else:
        # 64 spinning processes on one CPU may starve the runner past its
        # 1 s reserve; then the service's own deadline answers.
        expect(r.status == 400 and r.json.get("error") == "limits.execution_time",
               "200 from the runner or 400 limits.execution_time", r)
    no_container_left()
    host_still_fine()


# --- memory ------------------------------------------------------------------

@suite.test
def memory_hog_is_killed_at_the_memory_limit():
    src = ("chunks = []\nfor i in range(100):\n"
           "    chunks.append(b'x' * (10 << 20))\n"
           "    print(len(chunks) * 10, 'MB', flush=True)\n"
           "print('allocated 1 GB')\n")
    r = run(PYTHON, py(src))
    if RUNTIME == "runsc":
        sandbox_killed(r, 137, PYTHON_TIME + SLACK)
        no_container_left()
        host_still_fine()
        return
    expect_result(r, PYTHON_TIME + SLACK)
    # The runner tells an OOM kill from any SIGKILL by the cgroup's count.
    expect(r.json["error"] == "Memory limit exceeded: killed by the OOM killer" and
           r.json["usage"]["status"] == "memory_limit", "OOM-killed: memory_limit", r)
    out = r.json["stdout"]
    expect(out.startswith("10 MB\n") and "allocated 1 GB" not in out, "stopped early", r)
    reached = int(out.strip().split("\n")[-1].split()[0])
    memory_mb = size_bytes(CONF.limit(PYTHON, "memory")) >> 20
    expect(reached < memory_mb, "stopped below memory=%dM (reached %d MB)"
           % (memory_mb, reached), r)
    no_container_left()
    host_still_fine()


@suite.test
def filling_tmp_stops_at_its_size():
    # /tmp is a tmpfs of 64M (tmp_dir_options): the disk is never touched.
    r = run(TINY, sh("if dd if=/dev/zero of=/tmp/fill bs=1M count=100 2>/dev/null\n"
                     "then echo dd ok; else echo dd failed; fi\n"
                     "du -m /tmp/fill | cut -f1\n"))
    expect_result(r, TINY_TIME + SLACK)
    expect(r.json["error"] == "", "script ends", r)
    expect(r.json["stdout"] == "dd failed\n64\n", "file stops at 64M", r)
    no_container_left()


# --- isolation ---------------------------------------------------------------

@suite.test
def network_is_unreachable_and_only_lo_exists():
    # One connect attempt; with no route it fails at once and sends nothing.
    src = ("import errno, os, socket\n"
           "print(sorted(os.listdir('/sys/class/net')))\n"
           "with open('/proc/net/dev') as f:\n"
           "    print(sorted(l.split(':')[0].strip() for l in f.readlines()[2:]))\n"
           "try:\n"
           "    socket.create_connection(('1.1.1.1', 53), timeout=2).close()\n"
           "    print('connected')\n"
           "except OSError as e:\n"
           "    print('connect failed:', errno.errorcode.get(e.errno, e.errno))\n")
    r = run(PYTHON, py(src))
    expect_result(r, PROMPT)
    expect(r.json["error"] == "", "ran", r)
    # gVisor's own network stack says EHOSTUNREACH where Linux says
    # ENETUNREACH: no route either way.
    unreachable = "EHOSTUNREACH" if RUNTIME == "runsc" else "ENETUNREACH"
    expect(r.json["stdout"] == "['lo']\n['lo']\nconnect failed: %s\n" % unreachable,
           "only lo, connect fails with %s" % unreachable, r)
    no_container_left()


@suite.test
def root_filesystem_is_read_only():
    src = ("import errno\n"
           "for path in ('/etc/x', '/usr/x', '/x', '/home/x', '/usr/local/bin/x'):\n"
           "    try:\n"
           "        open(path, 'w').close()\n"
           "        print(path, 'written')\n"
           "    except OSError as e:\n"
           "        print(path, errno.errorcode[e.errno])\n"
           "for line in open('/proc/mounts'):\n"
           "    if line.split()[1] == '/':\n"
           "        print('/', line.split()[3].split(',')[0])\n")
    r = run(PYTHON, py(src))
    expect_result(r, PROMPT)
    # gVisor checks the permission before the read-only mount (EACCES);
    # the mount is read-only all the same ("/ ro").
    refused = "EACCES" if RUNTIME == "runsc" else "EROFS"
    expect(r.json["stdout"] == "".join("%s %s\n" % (p, refused) for p in (
        "/etc/x", "/usr/x", "/x", "/home/x", "/usr/local/bin/x")) + "/ ro\n",
           "every write refused with %s, / mounted ro" % refused, r)
    no_container_left()


@suite.test
def root_filesystem_is_read_only_in_tiny_too():
    r = run(TINY, sh("for f in /etc/x /usr/x /x /bin/x; do\n"
                     "  if echo hi > $f; then echo \"$f written\"; else echo \"$f refused\"; fi\n"
                     "done 2>/dev/null\n"))
    expect_result(r, PROMPT)
    expect(r.json["stdout"] == "/etc/x refused\n/usr/x refused\n/x refused\n/bin/x refused\n",
           "every write refused", r)
    no_container_left()


@suite.test
def work_dir_and_tmp_are_writable_and_tmp_is_noexec():
    src = ("import errno, os, subprocess\n"
           "for d in ('/home/runbox', '/tmp'):\n"
           "    p = os.path.join(d, 's.sh')\n"
           "    with open(p, 'w') as f:\n"
           "        f.write('#!/bin/sh\\necho ran from ' + d + '\\n')\n"
           "    os.chmod(p, 0o755)\n"
           "    print(p, 'written', os.path.getsize(p))\n"
           "    try:\n"
           "        print(subprocess.run([p], capture_output=True, text=True).stdout, end='')\n"
           "    except OSError as e:\n"
           "        print(p, 'exec', errno.errorcode[e.errno])\n"
           "print(os.getcwd())\n")
    r = run(PYTHON, py(src))
    expect_result(r, PROMPT)
    expect(r.json["stdout"] == "/home/runbox/s.sh written 37\nran from /home/runbox\n"
           "/tmp/s.sh written 29\n/tmp/s.sh exec EACCES\n/home/runbox\n",
           "both writable, only the work dir executable", r)
    no_container_left()


UID_FIRST, UID_LAST = (int(x) for x in CONF.get("container", "uids").split("-"))
HOST_UIDS = {int(line.split(":")[2]) for line in open("/etc/passwd") if line.count(":") >= 3}


@suite.test
def runs_on_the_configured_runtime():
    # What the program sees of its kernel: gVisor's own (its dmesg says so,
    # and it claims an old Linux), or under runc the host's kernel itself.
    script = "cat /proc/version; dmesg 2>&1 | head -n 1\n"
    host = open("/proc/version").read()
    for image in (TINY, PYTHON):
        r = run(image, dict(sh(script), language="bash") if image == TINY else
                {"language": "python", "files": files(("main.py", "import subprocess\n"
                 "subprocess.run(%r, shell=True)\n" % script))})
        expect_result(r, PROMPT)
        version, _, first = r.json["stdout"].partition("\n")
        if RUNTIME == "runsc":
            expect("Starting gVisor" in first and version + "\n" != host,
                   "%s ran under gVisor" % image, r)
        else:
            expect(version + "\n" == host and "gVisor" not in first,
                   "%s ran on the host's kernel" % image, r)
    no_container_left()


@suite.test
def runs_as_unprivileged_user_without_capabilities():
    r = run(TINY, sh("id -u; id -g\n"
                     "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status\n"))
    expect_result(r, PROMPT)
    zero = "0000000000000000"
    lines = r.json["stdout"].split("\n")
    uid = int(lines[0])
    expect(UID_FIRST <= uid <= UID_LAST and lines[1] == lines[0],
           "uid and gid the same, from [container] uids", r)
    expect(uid not in HOST_UIDS, "no host user has the uid", r)
    # gVisor's /proc/self/status has no CapAmb nor NoNewPrivs line.
    caps = ("CapInh", "CapPrm", "CapEff", "CapBnd") + (() if RUNTIME == "runsc" else ("CapAmb",))
    expect("\n".join(lines[2:]) == "".join("%s:\t%s\n" % (k, zero) for k in caps) +
           ("" if RUNTIME == "runsc" else "NoNewPrivs:\t1\n"),
           "no capabilities, no_new_privs", r)
    no_container_left()


# --- one run cannot starve another -------------------------------------------
# The kernel counts POSIX message queue bytes (RLIMIT_MSGQUEUE), inotify
# instances (fs.inotify.max_user_instances) and queued signals
# (RLIMIT_SIGPENDING) per uid, across containers: one run holding them all
# must leave another run's calls working.  CLOCK_MONOTONIC is the host's in
# every runc container, so the two runs' times prove the overlap.

STARVE = r"""
import ctypes, errno, os, signal, sys, time
libc = ctypes.CDLL("libc.so.6", use_errno=True)

def err():
    return errno.errorcode.get(ctypes.get_errno(), "?")

def queues(n):
    got = 0
    while got < n:
        if libc.mq_open(b"/q%d" % got, os.O_CREAT | os.O_RDWR, 0o600, None) < 0:
            return got, err()
        got += 1
    return got, "-"

def inotify(n):
    got = 0
    while got < n and libc.inotify_init1(0) >= 0:
        got += 1
    return got, err() if got < n else "-"

def signals(n):
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
    got = 0
    while got < n:
        if libc.sigqueue(os.getpid(), signal.SIGRTMIN, ctypes.c_void_p(0)) != 0:
            return got, err()
        got += 1
    return got, "-"
"""

STARVE_ALL = STARVE + r"""
# inotify instances: children that hold them, each far below nofile.
r, w = os.pipe()
for child in range(4):
    if os.fork() == 0:
        got, why = inotify(50)
        os.write(w, b"%d %s\n" % (got, why.encode()))
        time.sleep(60)
total = 0
for child in range(4):
    line = b""
    while not line.endswith(b"\n"):
        line += os.read(r, 1)
    total += int(line.split()[0])
print("inotify", total, open("/proc/sys/fs/inotify/max_user_instances").read().strip())
print("mq %d %s" % queues(1000))
print("signals %d %s" % signals(1 << 20))
print("held", time.monotonic(), flush=True)
time.sleep(HOLD)
print("released", time.monotonic(), os.getuid())
"""

VICTIM = STARVE + r"""
print("at", time.monotonic())
print("mq %d %s" % queues(1))
print("inotify %d %s" % inotify(1))
print("signals %d %s" % signals(1))
print("uid", os.getuid())
"""


@suite.test
def a_run_holding_per_uid_resources_starves_no_other():
    hold = PYTHON_TIME - 2.5
    attack = []
    t = threading.Thread(target=lambda: attack.append(
        run(PYTHON, py(STARVE_ALL.replace("HOLD", repr(hold))))))
    t.start()
    time.sleep(1.5)
    victim = run(PYTHON, py(VICTIM))
    t.join()
    a = attack[0]
    expect_result(a, PYTHON_TIME + SLACK)
    expect_result(victim, PROMPT)
    expect(a.json["error"] == "", "the attack ran to its end", a)
    got = dict((l.split()[0], l.split()[1:]) for l in a.json["stdout"].splitlines())
    expect(got["inotify"][0] == got["inotify"][1],
           "the attack took every inotify instance its uid may have", a)
    expect(int(got["mq"][0]) > 0 and got["mq"][1] == "EMFILE",
           "the attack took message queues until its msgqueue limit (EMFILE)", a)
    expect(got["signals"] == [CONF.limit(PYTHON, "sigpending"), "EAGAIN"],
           "the attack queued signals up to its sigpending limit (EAGAIN)", a)
    v = dict((l.split()[0], l.split()[1:]) for l in victim.json["stdout"].splitlines())
    expect(float(got["held"][0]) < float(v["at"][0]) < float(got["released"][0]),
           "the second run ran while the first held everything", (a, victim))
    expect(v["mq"] == ["1", "-"] and v["inotify"] == ["1", "-"] and v["signals"] == ["1", "-"],
           "the second run got a queue, an inotify instance and a queued signal", victim)
    expect(v["uid"] != got["released"][1], "the two runs had different uids", (a, victim))
    no_container_left()


# The runner (PID 1, same uid as the program) owns the channel to the
# service: its stdout carries the result, its stderr means "internal error".
# The program must not reach either, nor take control of the runner: the
# runner makes itself non-dumpable (src/runner/main.c), and the service
# accepts exactly one JSON object (src/run.c).

@suite.test
def program_cannot_write_to_the_runners_stdout_or_stderr():
    r = run(TINY, sh("for fd in 1 2; do\n"
                     "  if echo injected > /proc/1/fd/$fd; then echo \"fd $fd writable\"\n"
                     "  else echo \"fd $fd refused\"; fi\n"
                     "done 2>/dev/null\n"))
    expect_result(r, PROMPT)
    expect(r.json["stdout"] == "fd 1 refused\nfd 2 refused\n" and r.json["error"] == "",
           "the runner's stdout and stderr are out of reach", r)
    no_container_left()


@suite.test
def program_cannot_forge_its_result():
    forged = '{"stdout":"forged","stderr":"","error":"","duration":1}'
    r = run(TINY, sh("printf '%s\\n' > /proc/1/fd/1 2>/dev/null\nexit 3\n" % forged))
    expect(r.status == 200 and r.json is not None, "200 with exactly one JSON object", r)
    expect(r.json["stdout"] == "" and r.json["error"] == "Exit code: 3",
           "the runner's own result, not the forged one", r)
    no_container_left()


@suite.test
def program_cannot_ptrace_the_runner():
    src = ("import ctypes, errno, os\n"
           "libc = ctypes.CDLL(None, use_errno=True)\n"
           "if libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH\n"
           "    os.waitpid(1, 0x40000000)\n"
           "    libc.ptrace(17, 1, 0, 0)  # PTRACE_DETACH\n"
           "    print('attached to the runner')\n"
           "else:\n"
           "    print('attach:', errno.errorcode[ctypes.get_errno()])\n")
    r = run(PYTHON, py(src))
    expect_result(r, PROMPT)
    expect(r.json["stdout"] == "attach: EPERM\n" and r.json["error"] == "",
           "PTRACE_ATTACH to the runner refused", r)
    no_container_left()


@suite.test
def twenty_concurrent_runs_each_get_their_own_output():
    tokens = ["tok-%02d-%s" % (i, "abcdefghij"[i % 10] * (i + 1)) for i in range(20)]
    replies = [None] * len(tokens)

    def one(i):
        replies[i] = run(TINY, sh('echo "$(cat)"', stdin=tokens[i]), timeout=60)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(tokens))]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    expect(all(not t.is_alive() for t in threads), "all threads done")
    for i, r in enumerate(replies):
        expect(r is not None and r.status == 200 and r.json is not None, "run %d: 200" % i, r)
        expect(r.json["stdout"] == tokens[i] + "\n" and r.json["error"] == "",
               "run %d got its own token" % i, r)
    ids = {r.headers.get("X-Request-Id") for r in replies}
    expect(len(ids) == len(tokens), "distinct request ids")
    expect(time.monotonic() - start < 30,
           "20 runs through %d workers within 30 s" % CONF.workers)
    no_container_left()


# The abuse tests that must hold on gVisor too, for tiny and python.
RUNSC = [
    "runs_on_the_configured_runtime",
    "infinite_loop_in_sh_times_out_with_output_before",
    "infinite_loop_in_python_times_out_with_output_before",
    "output_flood_with_yes_is_cut_at_the_output_limit",
    "output_flood_of_10mb_in_python_is_cut_at_the_output_limit",
    "fork_bomb_in_sh_is_contained",
    "fork_loop_in_python_is_contained",
    "memory_hog_is_killed_at_the_memory_limit",
    "network_is_unreachable_and_only_lo_exists",
    "root_filesystem_is_read_only",
    "root_filesystem_is_read_only_in_tiny_too",
    "runs_as_unprivileged_user_without_capabilities",
]

if __name__ == "__main__":
    suite.main(RUNSC if RUNTIME == "runsc" else None)
