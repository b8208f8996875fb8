#!/usr/bin/env python3
"""The pid file, a second runboxd on the same pid file, and the drop from
root to [server] user."""
import grp
import os
import pwd
import subprocess
import sys

import service
from service import RUNBOXD, Service, Shared, Suite, expect, proc_ids

suite = Suite("privileges")
GROUP = Shared()


@suite.test
def pid_file_holds_the_master_pid():
    svc = GROUP.get()
    with open(svc.pid_file) as f:
        text = f.read()
    expect(text == "%d\n" % svc.master, "pid file %r holds %d" % (text, svc.master))


@suite.test
def second_runboxd_with_the_same_pid_file_refuses_to_start():
    svc = GROUP.get()
    inode = os.stat(svc.sock).st_ino
    # The very same file: same pid_file, same listen path.
    p = subprocess.run([RUNBOXD, "-c", svc.ini], capture_output=True, text=True, timeout=20,
                       env=svc.env())
    expect(p.returncode == 1, "exit status 1 (%d)" % p.returncode)
    want = "%s: runboxd is already running as pid %d" % (svc.pid_file, svc.master)
    expect(want in p.stderr, "says so: %r" % p.stderr)
    with open(svc.pid_file) as f:
        expect(f.read() == "%d\n" % svc.master, "the pid file is untouched")
    expect(os.stat(svc.sock).st_ino == inode, "the running runboxd's socket is untouched")
    r = svc.request("GET", "/", token=None)
    expect(r.status == 200, "the first runboxd still serves", r)


@suite.test
def pid_file_already_holding_our_own_pid_is_taken_over():
    # A starter that writes $! to the pid file (scripts/quickstart does) may
    # win the race against runboxd: that pid is runboxd's own, not a rival.
    svc = Service()
    svc.wrap = [sys.executable, "-c", "import os, sys\n"
                "open(sys.argv[1], 'w').write('%d\\n' % os.getpid())\n"
                "os.execv(sys.argv[2], sys.argv[2:])", svc.pid_file]
    with svc:
        with open(svc.pid_file) as f:
            expect(f.read() == "%d\n" % svc.master, "the pid file holds the master's pid")
        expect("already running" not in svc.log(), "no refusal: %r" % svc.log())


@suite.test
def master_and_workers_run_as_user_runbox():
    svc = GROUP.get()
    runbox = pwd.getpwnam("runbox")
    docker_gid = grp.getgrnam("docker").gr_gid
    for pid in [svc.master] + svc.workers():
        uids, gids, groups = proc_ids(pid)
        expect(uids == [runbox.pw_uid] * 4, "pid %d: Uid %s" % (pid, uids))
        expect(gids == [runbox.pw_gid] * 4, "pid %d: Gid %s" % (pid, gids))
        expect(docker_gid in groups and 0 not in groups, "pid %d: Groups %s" % (pid, groups))


@suite.test
def privileges_service_stops_cleanly():
    GROUP.close()


@suite.test
def ini_without_user_refuses_to_run_as_root():
    svc = Service({"server": {"user": None}}, nginx=False)
    try:
        expect(os.geteuid() == 0, "the suite runs as root")
        p = subprocess.run([RUNBOXD, "-c", svc.ini], capture_output=True, text=True,
                           timeout=20, env=svc.env())
        expect(p.returncode == 1, "exit status 1 (%d)" % p.returncode)
        want = ("%s: refusing to run as root: set [server] user (a user in the docker group)"
                % svc.ini)
        expect(want in p.stderr, "says why: %r" % p.stderr)
        expect(not os.path.exists(svc.sock), "no socket left behind")
        expect(not os.path.exists(svc.pid_file), "no pid file left behind")
    finally:
        problems = svc.stop()
    expect(not problems, "; ".join(problems))


@suite.test
def user_root_is_refused():
    svc = Service({"server": {"user": "root"}}, nginx=False)
    try:
        p = subprocess.run([RUNBOXD, "-c", svc.ini], capture_output=True, text=True,
                           timeout=20, env=svc.env())
        expect(p.returncode == 1, "exit status 1 (%d)" % p.returncode)
        expect("%s: [server] user: root is root" % svc.ini in p.stderr, "says why: %r" % p.stderr)
    finally:
        problems = svc.stop()
    expect(not problems, "; ".join(problems))


if __name__ == "__main__":
    service.main(suite)
