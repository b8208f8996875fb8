#!/usr/bin/env python3
"""Without [server] listen, runboxd serves on an inherited socket: fd 0 as
spawn-fcgi passes it, or fd 3 with LISTEN_FDS/LISTEN_PID as systemd's
socket activation passes it."""
import os
import re
import signal
import subprocess

import service
from service import Service, Suite, TINY, expect, sh

suite = Suite("inherited")


def expect_serves(svc, word):
    r = svc.request("GET", "/", token=None)
    expect(r.status == 200 and r.json["name"] == "runbox", "GET / through nginx", r)
    r = svc.run(TINY, sh("echo " + word))
    expect(r.status == 200 and r.json["stdout"] == word + "\n", "a run through nginx", r)


@suite.test
def socket_inherited_on_fd0_serves_through_nginx():
    with Service(inherit="fd0") as svc:
        with open(svc.ini) as f:
            expect(not re.search(r"^listen *=", f.read(), re.M), "listen is unset")
        expect_serves(svc, "from-fd0")


@suite.test
def socket_inherited_on_fd3_with_listen_fds_serves_through_nginx():
    with Service(inherit="systemd") as svc:
        with open("/proc/%d/cmdline" % svc.master, "rb") as f:
            expect(f.read().split(b"\0")[0] == service.RUNBOXD.encode(),
                   "the wrapper became runboxd (same pid)")
        expect(os.readlink("/proc/%d/fd/0" % svc.master) == "/dev/null", "fd 0 is no socket")
        expect_serves(svc, "from-fd3")


@suite.test
def inherited_socket_is_left_in_place_at_exit():
    with Service(inherit="fd0") as svc:
        svc.signal(signal.SIGTERM)
        expect(svc.wait_exit(15) == 0, "stopped")
        expect(os.path.exists(svc.sock), "the socket runboxd did not make is still there")


@suite.test
def listen_fds_of_another_process_is_not_taken():
    # LISTEN_PID names the wrapper's parent: fd 3 is not for runboxd, which
    # then looks at fd 0 (/dev/null here) and gives up.
    svc = Service(inherit="systemd", listen_pid="parent", nginx=False)
    try:
        code = svc.start_runboxd().wait(20)
        expect(code == 1, "exit status 1 (%s)" % code)
        expect("[server] listen is not set and fd 0 is not a listening socket" in svc.log(),
               "says why: %r" % svc.log())
    finally:
        problems = svc.stop()
    expect(not problems, "; ".join(problems))


@suite.test
def no_listen_and_no_socket_refuses_to_start():
    svc = Service({"server": {"listen": None}}, nginx=False)
    try:
        p = subprocess.run([service.RUNBOXD, "-c", svc.ini], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=20, env=svc.env())
        expect(p.returncode == 1, "exit status 1 (%d)" % p.returncode)
        expect("[server] listen is not set and fd 0 is not a listening socket" in p.stderr,
               "says why: %r" % p.stderr)
        expect(not os.path.exists(svc.pid_file), "no pid file left behind")
    finally:
        problems = svc.stop()
    expect(not problems, "; ".join(problems))


if __name__ == "__main__":
    service.main(suite)
