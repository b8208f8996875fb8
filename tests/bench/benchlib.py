"""Shared code of the benchmarks in tests/bench: a keep-alive HTTPS client
for runbox, the container sequence of src/run.c done straight against
dockerd's unix socket (python's http.client, no docker CLI), docker events,
and the figures (median, p90, tables).

Loopback only: a benchmark never leaves the machine.
"""
import http.client
import ipaddress
import json
import math
import os
import re
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

WANT = "hello world\n"
# Hello world per language of the images benchmarked: the tiny image's
# "bash" is busybox sh.
HELLO = {
    "bash": {"language": "bash", "files": [{"name": "main.sh", "content": "echo hello world"}]},
    "python": {"language": "python",
               "files": [{"name": "main.py", "content": "print(\"hello world\")"}]},
}


class BenchError(Exception):
    """A failed run or call: the benchmark counts it, or stops on it."""


def die(prog, msg):
    sys.exit("%s: %s" % (prog, msg))


# --- figures -----------------------------------------------------------------

def p90(xs):
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def median(xs):
    return statistics.median(xs)


def ms_row(name, xs, width=34):
    """name, then median, p90, min, max of xs (seconds) in ms."""
    if not xs:
        return "%-*s %8s" % (width, name, "-")
    ms = [x * 1000 for x in xs]
    return "%-*s %8.1f %8.1f %8.1f %8.1f %4d" % (width, name, median(ms), p90(ms), min(ms),
                                                max(ms), len(ms))


def ms_header(title, width=34):
    return "%-*s %8s %8s %8s %8s %4s" % (width, title, "median", "p90", "min", "max", "n")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- INI values, read as src/conf.c reads them --------------------------------

# One reading of INI durations and sizes for the suites and the benchmarks.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from runbox_client import duration_ms, size_bytes  # noqa: E402,F401


def cpus_nano(text):
    return int(round(float(text.strip()) * 1e9))


# The defaults of src/conf.c (conf_keys) that the create body depends on.
CONF_DEFAULTS = {
    "limits": {"execution_time": "15s", "output_size": "100K", "memory": "512M",
               "cpus": "1", "pids": "128", "nofile_soft": "128", "nofile_hard": "128",
               "nproc_soft": "0", "nproc_hard": "0", "msgqueue": "800K",
               "sigpending": "1024", "run_deadline": "0"},
    "container": {"uids": "524288-525567", "hostname": "runbox", "network_disabled": "true",
                  "readonly_rootfs": "true", "cap_drop": "ALL", "runtime": "runc",
                  "work_dir": "/home/runbox",
                  "work_dir_options": "rw,exec,nosuid,nodev,size=131072k",
                  "tmp_dir": "/tmp",
                  "tmp_dir_options": "rw,noexec,nosuid,nodev,size=65536k,mode=1777",
                  "log_max_size": "1M"},
}


def _bool(text):
    return text.strip().lower() in ("1", "true", "yes", "on")


def create_body(image, labels, config=None, image_section=None):
    """The body of POST /containers/create as run_create_body() in src/run.c
    builds it: the same keys in the same order, from an INI given as a dict
    of sections ({"limits": {...}, "container": {...}, "image.x": {...}});
    what it does not set is src/conf.c's default.  labels replace the
    request's own (runbox.service, .instance, .request, .worker).  The uid
    is the last of [container] uids: runboxd gives a container its slot's
    (run_uid()), and uses the last only in the last warm slot."""
    config = config or {}
    limits = dict(CONF_DEFAULTS["limits"])
    limits.update({k: v for k, v in config.get("limits", {}).items() if v is not None})
    if image_section:
        limits.update({k: v for k, v in config.get(image_section, {}).items()
                       if k in limits and v is not None})
    ct = dict(CONF_DEFAULTS["container"])
    ct.update({k: v for k, v in config.get("container", {}).items() if v is not None})
    uid = gid = int(ct["uids"].split("-")[1])
    runtime = ct["runtime"]
    if image_section:
        runtime = config.get(image_section, {}).get("runtime") or runtime
    ulimits = [{"Name": "nofile", "Soft": int(limits["nofile_soft"]),
                "Hard": int(limits["nofile_hard"])}]
    if int(limits["nproc_hard"]) > 0:
        ulimits.append({"Name": "nproc", "Soft": int(limits["nproc_soft"]),
                        "Hard": int(limits["nproc_hard"])})
    ulimits.append({"Name": "msgqueue", "Soft": size_bytes(limits["msgqueue"]),
                    "Hard": size_bytes(limits["msgqueue"])})
    ulimits.append({"Name": "sigpending", "Soft": int(limits["sigpending"]),
                    "Hard": int(limits["sigpending"])})
    memory = size_bytes(limits["memory"])
    host = {
        "Memory": memory, "MemorySwap": memory, "NanoCpus": cpus_nano(limits["cpus"]),
        "PidsLimit": int(limits["pids"]), "Ulimits": ulimits,
        "CapDrop": [c for c in re.split(r"[ \t,]+", ct["cap_drop"]) if c],
        "SecurityOpt": ["no-new-privileges"],
        "ReadonlyRootfs": _bool(ct["readonly_rootfs"]),
        "Tmpfs": {ct["work_dir"]: "%s,uid=%s,gid=%s" % (ct["work_dir_options"], uid, gid),
                  ct["tmp_dir"]: ct["tmp_dir_options"]},
    }
    if _bool(ct["network_disabled"]):
        host["NetworkMode"] = "none"
    host["Runtime"] = runtime
    host["LogConfig"] = {"Type": "json-file",
                         "Config": {"max-size": str(size_bytes(ct["log_max_size"])),
                                    "max-file": "1"}}
    return {
        "Image": image, "Hostname": ct["hostname"], "User": "%d:%d" % (uid, gid),
        "WorkingDir": ct["work_dir"],
        "AttachStdin": True, "OpenStdin": True, "StdinOnce": True, "Tty": False,
        "NetworkDisabled": _bool(ct["network_disabled"]),
        # run_deadline 0 is execution_time (conf_default_deadline()).
        "Env": ["RUNBOX_TIME_LIMIT_MS=%d" % duration_ms(limits["execution_time"]),
                "RUNBOX_RUN_DEADLINE_MS=%d" % (duration_ms(limits["run_deadline"]) or
                                               duration_ms(limits["execution_time"])),
                "RUNBOX_OUTPUT_LIMIT=%d" % size_bytes(limits["output_size"])],
        "Labels": labels,
        "HostConfig": host,
    }


# What of a container's inspect output the create body decides.
_CONFIG_KEYS = ("Hostname", "User", "WorkingDir", "AttachStdin", "OpenStdin", "StdinOnce",
                "Tty", "NetworkDisabled", "Env")
_HOST_KEYS = ("Memory", "MemorySwap", "NanoCpus", "PidsLimit", "Ulimits", "CapDrop",
              "SecurityOpt", "ReadonlyRootfs", "Tmpfs", "NetworkMode", "Runtime", "LogConfig")


def _uid_free(container):
    """container's inspect output with its uid (in User and the work dir's
    tmpfs options) blanked: every container has its slot's own."""
    def blank(v):
        return re.sub(r"\b(uid|gid)=\d+", r"\1=U", re.sub(r"^\d+:\d+$", "U:U", v))
    config = dict(container["Config"], User=blank(container["Config"].get("User") or ""))
    host = dict(container["HostConfig"])
    host["Tmpfs"] = {k: blank(v) for k, v in (host.get("Tmpfs") or {}).items()}
    return config, host


def made_alike(a, b):
    """The differences between two inspected containers in what the create
    body sets (labels and uid aside); [] when they were made alike."""
    diffs = []
    (ac, ah), (bc, bh) = _uid_free(a), _uid_free(b)
    for key in _CONFIG_KEYS:
        if ac.get(key) != bc.get(key):
            diffs.append("Config.%s: %r != %r" % (key, ac.get(key), bc.get(key)))
    for key in _HOST_KEYS:
        if ah.get(key) != bh.get(key):
            diffs.append("HostConfig.%s: %r != %r" % (key, ah.get(key), bh.get(key)))
    return diffs


# --- runbox over HTTPS --------------------------------------------------------

def check_loopback(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("https", "http"):
        raise BenchError("URL %r: want https://host:port" % url)
    host = u.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise BenchError("URL %r: only loopback targets are benchmarked" % url)
    return u


class Reply:
    def __init__(self, status, body, request_id, sent, received):
        self.status, self.body, self.request_id = status, body, request_id
        self.sent, self.received = sent, received  # time.time(), for docker events

    @property
    def seconds(self):
        return self.received - self.sent


class Runbox:
    """One keep-alive HTTPS connection, as a client that reuses it would."""

    def __init__(self, url, token, cafile=None, timeout=60):
        u = check_loopback(url)
        self.token = token
        self.prefix = u.path.rstrip("/") or ""
        self.timeout = timeout
        if u.scheme == "https":
            ctx = (ssl.create_default_context(cafile=cafile) if cafile
                   else ssl._create_unverified_context())
            self.make = lambda: http.client.HTTPSConnection(u.hostname, u.port or 443,
                                                            context=ctx, timeout=timeout)
        else:
            self.make = lambda: http.client.HTTPConnection(u.hostname, u.port or 80,
                                                           timeout=timeout)
        self.conn = self.make()

    def _once(self, method, path, body, headers):
        sent = time.time()
        self.conn.request(method, self.prefix + path, body, headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return Reply(resp.status, data, resp.getheader("X-Request-Id"), sent, time.time())

    def request(self, method, path, body=None, token=True):
        headers = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["X-Access-Token"] = self.token
        try:
            return self._once(method, path, body, headers)
        except (OSError, http.client.HTTPException):
            # Reconnect once, e.g. after nginx's keepalive timeout; the
            # connection is made before the clock starts again.
            self.conn.close()
            self.conn = self.make()
            self.conn.connect()
            return self._once(method, path, body, headers)

    def run(self, image, payload):
        """POST /run; the Reply, or BenchError when it is not hello world."""
        body = json.dumps({"image": image, "payload": payload}).encode()
        try:
            r = self.request("POST", "/run", body)
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = self.make()
            raise BenchError("POST /run: %s" % e)
        check_answer("runbox answered %d" % r.status, r.body if r.status == 200 else None,
                     r.body)
        return r

    def close(self):
        self.conn.close()


def check_answer(what, stdout, shown=None):
    """stdout must be the runner's JSON with hello world as the program's."""
    try:
        out = json.loads(stdout) if stdout is not None else None
    except ValueError:
        out = None
    if not isinstance(out, dict) or out.get("stdout") != WANT:
        raise BenchError("%s: %r" % (what, (shown if shown is not None else stdout)[:300]))


# --- dockerd directly ---------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("docker", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def demux(raw):
    """Docker's 8-byte-header frames: (stdout, stderr, bytes left over)."""
    out, err, off = [], [], 0
    while off + 8 <= len(raw):
        kind, size = raw[off], struct.unpack(">I", raw[off + 4:off + 8])[0]
        if off + 8 + size > len(raw):
            break
        (err if kind == 2 else out).append(raw[off + 8:off + 8 + size])
        off += 8 + size
    return b"".join(out), b"".join(err), raw[off:]


def answer_complete(stdout):
    """As run_answer_complete() in src/run.c: ends with a newline and is
    one JSON object."""
    if not stdout.endswith(b"\n"):
        return False
    try:
        return isinstance(json.loads(stdout), dict)
    except ValueError:
        return False


class Docker:
    """The run sequence of src/run.c against dockerd's API, on one kept-alive
    connection (like runboxd's curl handle) plus one per attach."""

    def __init__(self, socket_path="/var/run/docker.sock", api_version="1.41",
                 instance="bench", config=None):
        self.socket_path = socket_path
        self.prefix = "/v" + api_version
        self.instance = instance
        self.config = config or {}
        self.conn = UnixHTTPConnection(socket_path)
        self.seq = 0
        self.lock = threading.Lock()

    def clone(self):
        """Another connection to the same dockerd, for another thread."""
        return Docker(self.socket_path, self.prefix[2:], self.instance, self.config)

    def call(self, method, path, body=None, expect=(200,)):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        try:
            self.conn.request(method, self.prefix + path, data, headers)
            resp = self.conn.getresponse()
            out = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise BenchError("docker %s %s: %s" % (method, path.split("?")[0], e))
        if resp.status not in expect:
            raise BenchError("docker %s %s: %d %r" % (method, path.split("?")[0], resp.status,
                                                     out[:300]))
        return out

    def labels(self, request):
        return {"runbox.service": "bench", "runbox.instance": self.instance,
                "runbox.request": request, "runbox.worker": str(threading.get_native_id())}

    def create(self, image, image_section=None):
        with self.lock:
            self.seq += 1
            seq = self.seq
        body = create_body(image, self.labels("bench-%d" % seq), self.config, image_section)
        return json.loads(self.call("POST", "/containers/create", body, expect=(201,)))["Id"]

    def attach(self, cid, output=False):
        """The raw attach of docker_attach() in src/docker.c: stdin only,
        or stdin, stdout and stderr (output) as runboxd does."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(self.socket_path)
        s.sendall(("POST %s/containers/%s/attach?stream=1&stdin=1%s HTTP/1.1\r\n"
                   "Host: docker\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n"
                   "Content-Length: 0\r\n\r\n"
                   % (self.prefix, cid, "&stdout=1&stderr=1" if output else "")).encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):  # byte by byte: nothing past the headers
            b = s.recv(1)
            if not b or len(head) > 4096:
                s.close()
                raise BenchError("attach: no upgrade: %r" % head)
            head += b
        if head.split(b" ", 2)[1] not in (b"101", b"200"):
            s.close()
            raise BenchError("attach: %r" % head.split(b"\r\n")[0])
        return s

    def start(self, cid):
        self.call("POST", "/containers/%s/start" % cid, expect=(204,))

    def remove(self, cid):
        self.call("DELETE", "/containers/%s?force=1&v=1" % cid, expect=(204, 404))

    @staticmethod
    def send(sock, payload):
        sock.sendall(json.dumps(payload).encode())
        sock.shutdown(socket.SHUT_WR)

    @staticmethod
    def read_answer(sock):
        """Read frames until stdout holds the runner's whole answer."""
        raw = b""
        while True:
            chunk = sock.recv(16384)
            if not chunk:
                raise BenchError("attach stream ended without an answer: %r" % raw[:300])
            raw += chunk
            out, err, _ = demux(raw)
            if err:
                raise BenchError("runner wrote to stderr: %r" % err[:300])
            if answer_complete(out):
                return out

    def run_logs(self, image, payload, image_section=None):
        """The old sequence: create, attach stdin, start, send, wait, logs,
        delete.  (seconds to the logs, seconds including the delete)."""
        start = time.monotonic()
        cid = self.create(image, image_section)
        stdin = None
        try:
            stdin = self.attach(cid)
            self.start(cid)
            self.send(stdin, payload)
            self.call("POST", "/containers/%s/wait" % cid)
            out, err, _ = demux(self.call("GET", "/containers/%s/logs?stdout=1&stderr=1" % cid))
            replied = time.monotonic() - start
        finally:
            if stdin is not None:
                stdin.close()
            self.remove(cid)
        total = time.monotonic() - start
        if err:
            raise BenchError("direct run wrote to stderr: %r" % err[:300])
        check_answer("direct run printed", out)
        return replied, total

    def run_stream(self, image, payload, image_section=None):
        """runboxd's cold path without runboxd: create, attach all streams,
        start, send, read the answer from the stream; seconds to the answer
        (the delete is not timed)."""
        start = time.monotonic()
        cid = self.create(image, image_section)
        return self._answer(cid, payload, start, start_it=True)[0]

    def prepare(self, image, image_section=None):
        """A created and started container, its runner waiting on stdin
        with nobody attached: a warm container of our own."""
        cid = self.create(image, image_section)
        try:
            self.start(cid)
        except BenchError:
            self.remove(cid)
            raise
        return cid

    def run_started(self, cid, payload):
        """A warm hit without runboxd: attach, send, read the answer from
        the stream.  (seconds to the answer, of which the attach); the
        delete is not timed."""
        return self._answer(cid, payload, time.monotonic(), start_it=False)

    def _answer(self, cid, payload, start, start_it):
        """Attach to cid (and start it), send the payload, read the answer
        from the stream, remove cid: (seconds from start to the answer,
        seconds from start to the attach)."""
        sock = None
        try:
            sock = self.attach(cid, output=True)
            attached = time.monotonic() - start
            if start_it:
                self.start(cid)
            self.send(sock, payload)
            out = self.read_answer(sock)
            answered = time.monotonic() - start
        finally:
            if sock is not None:
                sock.close()
            self.remove(cid)
        check_answer("direct run printed", out)
        return answered, attached

    def containers(self, labels, status=None):
        """The containers (docker's list entries) with every label of labels."""
        flt = {"label": list(labels)}
        if status:
            flt["status"] = [status]
        q = urllib.parse.quote(json.dumps(flt))
        return json.loads(self.call("GET", "/containers/json?all=1&filters=" + q))

    def inspect(self, cid):
        return json.loads(self.call("GET", "/containers/%s/json" % cid))

    def remove_leftovers(self):
        """Remove every container of this instance; how many there were."""
        left = self.containers(["runbox.instance=" + self.instance])
        for c in left:
            self.remove(c["Id"])
        return len(left)

    def close(self):
        self.conn.close()


class Events:
    """docker events of the containers of some runbox instances, collected
    in a thread: self.events is a list of (time.time() seconds, action,
    container id, attributes (its labels among them)).  Start it before
    the services, so that it sees their first containers made."""

    def __init__(self, instances):
        # Several label filters must all match: ask for every runbox
        # instance and keep those wanted.
        argv = ["docker", "events", "--format", "{{json .}}", "--filter", "type=container",
                "--filter", "label=runbox.instance"]
        self.instances = set(instances)
        self.events = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        time.sleep(0.5)  # for docker events to subscribe

    def _read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            actor = e.get("Actor") or {}
            if (actor.get("Attributes") or {}).get("runbox.instance") not in self.instances:
                continue
            self.events.append((e.get("timeNano", 0) / 1e9, e.get("Action", e.get("status")),
                                actor.get("ID", e.get("id")), actor.get("Attributes") or {}))

    def close(self, linger=0.5):
        """Stop collecting, after linger seconds for the last events."""
        time.sleep(linger)
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(5)
