"""A private dockerd for the tests that must stop, hang, restart or reach
dockerd over the network, without touching the machine's own daemon (other
suites, and whatever else the machine runs, keep using that one).

    with Dockerd("faults") as d:             # unix socket only
        d.load("runbox/tiny:latest")         # from the system daemon
        ... point runboxd at d.endpoint ...
        d.hang(); d.resume(); d.restart()

    with Netns("rbx-tls", "10.213.0.1", "10.213.0.2") as ns, \\
         Dockerd("tls", netns=ns.name, tcp=f"{ns.peer}:2376",
                 tls=make_tls(dir, ns.peer)) as d:
        ... endpoint tcp://10.213.0.2:2376 with d.tls's client files ...

Everything lives under a directory of its own (data root, exec root,
socket, pid file, log): a fresh daemon has no image, no container and no
network but "none" (--bridge none, no iptables rules). stop() removes it
all; it is also called at exit, so a failing test leaves nothing behind.
"""
import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time


def _run(*args, **kw):
    return subprocess.run(list(args), check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


class Netns:
    """A network namespace joined to the host by a veth pair: the host end
    gets address `host`, the namespace end `peer` (both /24)."""

    def __init__(self, name, host, peer):
        self.name, self.host, self.peer = name, host, peer
        self._veth = f"{name[:10]}-h"

    def __enter__(self):
        self.close()  # a namespace an earlier, killed run left behind
        inner = f"{self.name[:10]}-n"
        _run("ip", "netns", "add", self.name)
        try:
            _run("ip", "link", "add", self._veth, "type", "veth", "peer", "name", inner)
            _run("ip", "link", "set", inner, "netns", self.name)
            _run("ip", "addr", "add", f"{self.host}/24", "dev", self._veth)
            _run("ip", "link", "set", self._veth, "up")
            for cmd in (["addr", "add", f"{self.peer}/24", "dev", inner],
                        ["link", "set", inner, "up"], ["link", "set", "lo", "up"]):
                _run("ip", "netns", "exec", self.name, "ip", *cmd)
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        subprocess.run(["ip", "link", "del", self._veth], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)

    def __exit__(self, *exc):
        self.close()


def make_tls(directory, server_ip, name="ca"):
    """A CA (ca.pem), a server certificate for server_ip (server.pem,
    server-key.pem) and a client certificate (client.pem, client-key.pem)
    signed by it, in `directory`; returns a dict of those paths. Another
    call with another `name` and directory makes an unrelated CA."""
    os.makedirs(directory, exist_ok=True)
    p = {k: os.path.join(directory, f"{k}.pem") for k in
         ("ca", "ca-key", "server", "server-key", "client", "client-key")}
    openssl = ["openssl"]
    _run(*openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN=runbox test {name}", "-keyout", p["ca-key"], "-out", p["ca"])
    for who, ext in (("server", f"subjectAltName=IP:{server_ip}\nextendedKeyUsage=serverAuth"),
                     ("client", "extendedKeyUsage=clientAuth")):
        csr = os.path.join(directory, f"{who}.csr")
        extfile = os.path.join(directory, f"{who}.ext")
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        _run(*openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
             "-keyout", p[f"{who}-key"], "-out", csr)
        _run(*openssl, "x509", "-req", "-in", csr, "-CA", p["ca"], "-CAkey", p["ca-key"],
             "-CAcreateserial", "-days", "2", "-extfile", extfile, "-out", p[who])
    for key in ("ca-key", "server-key", "client-key"):
        os.chmod(p[key], 0o600)
    return p


class Dockerd:
    """A dockerd of the test's own (see the module's comment)."""

    def __init__(self, name, netns=None, tcp=None, tls=None):
        self.name, self.netns, self.tcp, self.tls = name, netns, tcp, tls
        # Short: containerd's socket lives under the exec root, and a unix
        # socket path has at most 107 bytes.
        self.dir = tempfile.mkdtemp(prefix=f"rbxd-{name}.", dir="/var/tmp")
        self.socket = os.path.join(self.dir, "docker.sock")
        self.endpoint = f"unix://{self.socket}"
        self.log = os.path.join(self.dir, "dockerd.log")
        self.proc = None
        atexit.register(self.stop, remove=True)

    def command(self):
        config = os.path.join(self.dir, "daemon.json")
        with open(config, "w") as f:
            f.write("{}\n")
        cmd = ["dockerd", "--config-file", config,
               "--data-root", os.path.join(self.dir, "data"),
               "--exec-root", os.path.join(self.dir, "x"),
               "--pidfile", os.path.join(self.dir, "docker.pid"),
               "--bridge", "none", "--iptables=false", "--ip-masq=false",
               "-H", self.endpoint]
        if self.tcp:
            cmd += ["-H", f"tcp://{self.tcp}"]
            if self.tls:
                cmd += ["--tlsverify", "--tlscacert", self.tls["ca"],
                        "--tlscert", self.tls["server"], "--tlskey", self.tls["server-key"]]
        if self.netns:
            # nsenter, not "ip netns exec": that one mounts a sysfs of the
            # namespace's own, which hides the cgroup mounts dockerd needs.
            cmd = ["nsenter", f"--net=/run/netns/{self.netns}"] + cmd
        return cmd

    def docker(self, *args, check=True, **kw):
        """The docker CLI against this daemon (its unix socket)."""
        return subprocess.run(["docker", "-H", self.endpoint, *args], check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, **kw)

    def answers(self, timeout=2):
        try:
            return self.docker("version", check=False, timeout=timeout).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self, wait=60):
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.answers():
                return self
            time.sleep(0.2)
        with open(self.log) as f:
            tail = f.read()[-2000:]
        self.stop()
        raise RuntimeError(f"private dockerd {self.name} did not answer:\n{tail}")

    def load(self, *images):
        """Copy images from the machine's daemon into this one."""
        for image in images:
            save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
            self.docker("load", stdin=save.stdout)
            save.stdout.close()
            if save.wait() != 0:
                raise RuntimeError(f"docker save {image} failed")

    def containers(self, label=None):
        """Ids of every container (running or not), optionally with a label."""
        args = ["ps", "-aq", "--no-trunc"] + (["--filter", f"label={label}"] if label else [])
        return self.docker(*args).stdout.split()

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def hang(self):
        """Stop dockerd (SIGSTOP): connections stay open, nothing answers."""
        self.signal(signal.SIGSTOP)

    def resume(self):
        self.signal(signal.SIGCONT)

    def stop(self, remove=False, timeout=30):
        """Stop the daemon as an operator would (SIGTERM, then SIGKILL);
        with remove, delete its whole directory (images and all)."""
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if remove and os.path.isdir(self.dir):
            # A daemon killed hard can leave its overlay mounts behind.
            with open("/proc/self/mounts") as f:
                mounts = [line.split()[1] for line in f if self.dir in line]
            for m in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self):
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(remove=True)
