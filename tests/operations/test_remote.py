#!/usr/bin/env python3
"""A remote dockerd over mutual TLS ([docker] endpoint = tcp://HOST:PORT with
tls_ca, tls_cert, tls_key): a second dockerd of the test's own, in a network
namespace of its own, listening with --tlsverify on the namespace's address
with certificates the test makes.  runboxd runs hello world, stdin, a
timeout and an output flood there, the attach stream included, and leaves
no container on either daemon; a client certificate the daemon does not
trust, a daemon certificate runboxd does not trust and an address where
nothing answers are each a quick docker.unavailable that names the
endpoint.  `runboxd -t` checks the TLS keys: plain TCP only when the INI
says so (with a warning), all three files, readable, the key not readable
by everyone.

Cost: ~40 s on a 2-core host (the private dockerd's start and image load
take ~15 s of it)."""
import os
import subprocess
import sys
import tempfile
import time

import service
from service import RUNBOXD, TINY, TOP, Service, Suite, expect, expect_error, sh

sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from dockerd import Dockerd, Netns, make_tls  # noqa: E402

suite = Suite("remote")

HOST, PEER = "10.219.50.1", "10.219.50.2"
ENDPOINT = "tcp://%s:2376" % PEER
# Quick answers expected from a refused TLS handshake, or from an address
# that takes no connection (connect_timeout below).
REFUSED_WITHIN = 3.0
CONNECT_TIMEOUT = "1s"


class Remote:
    """The namespace, its dockerd and two sets of certificates, for the
    whole suite: started by the first test, stopped by the last."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rbx-remote.")
        self.tls = make_tls(os.path.join(self.dir, "good"), PEER)
        self.other = make_tls(os.path.join(self.dir, "other"), PEER, name="other")
        self.ns = Netns("rbx-remote", HOST, PEER).__enter__()
        try:
            self.dockerd = Dockerd("remote", netns=self.ns.name, tcp="%s:2376" % PEER,
                                   tls=self.tls).start()
            self.dockerd.load(TINY)
        except BaseException:
            self.ns.close()
            raise

    def docker_section(self, ca=None, cert=None, key=None, endpoint=ENDPOINT):
        return {"endpoint": endpoint, "tls_ca": ca or self.tls["ca"],
                "tls_cert": cert or self.tls["client"],
                "tls_key": key or self.tls["client-key"],
                "connect_timeout": CONNECT_TIMEOUT}

    def close(self):
        self.dockerd.stop(remove=True)
        self.ns.close()
        subprocess.run(["rm", "-rf", self.dir])


_remote = []


def remote():
    if not _remote:
        _remote.append(Remote())
    return _remote[0]


def check_ini(svc, docker_keys):
    """runboxd -t on the service's INI with [docker] replaced: (exit code,
    output)."""
    text = svc.ini_text() + "\n[docker]\n" + "".join("%s = %s\n" % kv for kv in docker_keys.items())
    path = os.path.join(svc.work, "check.ini")
    with open(path, "w") as f:
        f.write(text)
    out = subprocess.run([RUNBOXD, "-t", "-c", path], capture_output=True, text=True)
    return out.returncode, out.stdout + out.stderr


@suite.test
def runboxd_t_checks_the_tls_keys():
    r = remote()
    svc = Service(nginx=False)
    try:
        good = r.docker_section()
        code, out = check_ini(svc, good)
        expect(code == 0 and "configuration OK" in out, "mutual TLS is accepted: %s" % out)

        code, out = check_ini(svc, {"endpoint": ENDPOINT})
        expect(code == 1 and "plain_tcp = true" in out and ENDPOINT in out,
               "plain TCP is refused unless the INI says so: %s" % out)
        code, out = check_ini(svc, {"endpoint": ENDPOINT, "plain_tcp": "true"})
        expect(code == 0 and "plain TCP without TLS" in out and ENDPOINT in out,
               "plain_tcp = true is accepted with a warning naming the endpoint: %s" % out)
        code, out = check_ini(svc, dict(good, plain_tcp="true"))
        expect(code == 1 and "choose one" in out, "plain_tcp with TLS keys: %s" % out)

        partial = dict(good)
        del partial["tls_key"]
        code, out = check_ini(svc, partial)
        expect(code == 1 and "set all three" in out, "two of three TLS files: %s" % out)
        code, out = check_ini(svc, dict(good, endpoint="unix:///var/run/docker.sock"))
        expect(code == 1 and "only for a tcp:// endpoint" in out,
               "TLS keys with a unix endpoint: %s" % out)
        code, out = check_ini(svc, dict(good, tls_cert=os.path.join(r.dir, "missing.pem")))
        expect(code == 1 and "[docker] tls_cert" in out and "No such file" in out,
               "a missing file is named: %s" % out)
        code, out = check_ini(svc, dict(good, tls_ca=os.devnull))
        expect(code == 1 and "[docker] tls_ca" in out and "not a PEM file" in out,
               "an empty file is refused: %s" % out)

        loose = os.path.join(r.dir, "loose-key.pem")
        with open(r.tls["client-key"]) as src, open(loose, "w") as dst:
            dst.write(src.read())
        os.chmod(loose, 0o644)
        code, out = check_ini(svc, dict(good, tls_key=loose))
        expect(code == 1 and "[docker] tls_key" in out and "readable by everyone" in out,
               "a key readable by everyone is refused: %s" % out)
        os.chmod(loose, 0o640)
        code, out = check_ini(svc, dict(good, tls_key=loose))
        expect(code == 0, "the same key, 0640, is accepted: %s" % out)
    finally:
        svc.stop()


@suite.test
def runs_on_a_remote_dockerd_over_tls():
    r = remote()
    with Service({"docker": r.docker_section()}) as svc:
        label = "runbox.instance=" + svc.instance
        v = svc.request("GET", "/version")
        expect(v.status == 200 and v.json["docker"]["apiVersion"], "GET /version over TLS", v)

        hello = svc.run(TINY, sh("echo hello world"))
        expect(hello.status == 200 and hello.json["stdout"] == "hello world\n" and
               hello.json["error"] == "", "hello world", hello)

        line = "over the attach stream, through TLS\n"
        stdin = svc.run(TINY, sh("cat; echo done", stdin=line * 1000))
        expect(stdin.status == 200 and stdin.json["stdout"] == line * 1000 + "done\n",
               "a 36 KB stdin arrives whole, and its end is seen", stdin)

        execution = svc.seconds("limits", "execution_time")
        start = time.monotonic()
        t, box = service.run_in_background(svc, "echo before; sleep 60")
        running = service.wait_for("the run's container on the remote dockerd",
                                   lambda: r.dockerd.containers(label=label), 10)
        expect(not svc.containers(), "and none on the machine's dockerd: %s" % running)
        t.join(60)
        took = box["at"] - start
        slow = box.get("reply")
        print("  the timed-out run answered after %.2f s (execution_time %g s)" % (took, execution))
        expect(slow.status == 200 and slow.json["stdout"] == "before\n" and
               "Timeout" in slow.json["error"], "a timeout keeps the output", slow)
        expect(took < execution + 3, "answered near execution_time (%.2f s)" % took)

        flood = svc.run(TINY, sh("yes flood"))
        cap = service.rc.size_bytes(svc.value("limits", "output_size"))
        expect(flood.status == 200 and flood.json["stdout"].startswith("flood\n") and
               len(flood.json["stdout"]) <= cap, "an output flood is cut at output_size", flood)

        # The reply goes out before the container is removed.
        service.wait_for("no container left on the remote dockerd",
                         lambda: not r.dockerd.containers(label=label), 15)
        expect(not svc.containers(), "none on the machine's dockerd either")
        expect(r.dockerd.containers(label=label) == [], "the remote one is empty")


def expect_unavailable(svc, what, *needles):
    for method, path, body in (("GET", "/version", None),
                               ("POST", "/run", {"image": TINY, "payload": sh("echo no")})):
        start = time.monotonic()
        reply = svc.request(method, path, body)
        took = time.monotonic() - start
        print("  %s: %s %s answered %d in %.2f s" % (what, method, path, reply.status, took))
        expect_error(reply, 503, "docker.unavailable")
        message = reply.json["message"]
        expect(ENDPOINT in message or PEER in message, "the message names the endpoint", reply)
        expect(all(n in message for n in needles), "the message says why (%s)" % (needles,),
               reply)
        expect(took < REFUSED_WITHIN, "%s: answered within %g s (%.2f)"
               % (what, REFUSED_WITHIN, took))


@suite.test
def a_client_certificate_dockerd_does_not_trust_is_docker_unavailable():
    r = remote()
    with Service({"docker": r.docker_section(cert=r.other["client"],
                                             key=r.other["client-key"])}) as svc:
        expect_unavailable(svc, "wrong client certificate", "certificate")
        expect(not r.dockerd.containers(label="runbox.instance=" + svc.instance),
               "nothing was made on the remote dockerd")


@suite.test
def a_dockerd_certificate_runboxd_does_not_trust_is_docker_unavailable():
    r = remote()
    with Service({"docker": r.docker_section(ca=r.other["ca"])}) as svc:
        expect_unavailable(svc, "untrusted server certificate", "certificate")


@suite.test
def an_address_where_nothing_answers_is_docker_unavailable():
    r = remote()
    # A port of the namespace's address where nothing listens: refused at
    # once.  An address of its subnet that nobody holds: no answer, then
    # connect_timeout.
    refused = "tcp://%s:2377" % PEER
    with Service({"docker": r.docker_section(endpoint=refused)}) as svc:
        expect_unavailable_at(svc, refused, REFUSED_WITHIN)
    silent = "tcp://10.219.50.3:2376"
    with Service({"docker": r.docker_section(endpoint=silent)}) as svc:
        expect_unavailable_at(svc, silent,
                              service.rc.duration_ms(CONNECT_TIMEOUT) / 1000 + REFUSED_WITHIN)


def expect_unavailable_at(svc, endpoint, within):
    start = time.monotonic()
    reply = svc.run(TINY, sh("echo no"))
    took = time.monotonic() - start
    print("  %s: answered %d in %.2f s" % (endpoint, reply.status, took))
    expect_error(reply, 503, "docker.unavailable")
    expect(endpoint in reply.json["message"], "the message names %s" % endpoint, reply)
    expect(took < within, "answered within %g s (%.2f)" % (within, took))


if __name__ == "__main__":
    try:
        service.main(suite)
    finally:
        while _remote:
            _remote.pop().close()
