"""A small HTTPS client for runbox and a test runner that counts results.

The suites import this module; the service URL, token and instance come
from the environment that tests/integration/run sets up.
"""
import configparser
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

URL = os.environ.get("RUNBOX_URL", "https://127.0.0.1:18443")
TOKEN = os.environ.get("RUNBOX_TOKEN", "")
INSTANCE = os.environ.get("RUNBOX_INSTANCE", "test")
CAFILE = os.environ.get("RUNBOX_CAFILE")

_ctx = ssl.create_default_context(cafile=CAFILE) if CAFILE else ssl._create_unverified_context()


class Reply:
    def __init__(self, status, headers, body, seconds):
        self.status = status
        self.headers = headers
        self.raw = body
        self.seconds = seconds
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %s in %.2fs>" % (self.status, self.raw[:300], self.seconds)


def request(method, path, body=None, token=TOKEN, headers=None, timeout=120):
    """Send one HTTPS request; never raises for HTTP error statuses."""
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        hdrs["X-Access-Token"] = token
    hdrs.update(headers or {})
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method, headers=hdrs)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, context=_ctx, timeout=timeout) as r:
            return Reply(r.status, r.headers, r.read(), time.monotonic() - start)
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read(), time.monotonic() - start)


def run(image, payload, **kw):
    """POST /run with glot's body."""
    return request("POST", "/run", {"image": image, "payload": payload}, **kw)


def files(*pairs):
    return [{"name": n, "content": c} for n, c in pairs]


def containers():
    """IDs of containers of the test instance, running or not."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=runbox.instance=" + INSTANCE],
        check=True, capture_output=True, text=True).stdout
    return out.split()


def docker_version(socket_path="/var/run/docker.sock"):
    """Docker's own answer to GET /version, from the socket runboxd uses
    (the default [docker] endpoint)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(socket_path)
    conn = http.client.HTTPConnection("localhost", timeout=10)
    conn.sock = sock
    try:
        conn.request("GET", "/version")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def duration_ms(text):
    """An INI duration in ms, read as runboxd reads it (conf_parse_duration
    in src/conf.c): "4s", "500ms", "2m", "1h"; a bare number is seconds."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", text.strip())
    if m is None:
        raise ValueError("not a duration: %r" % text)
    return int(m.group(1)) * {"ms": 1, "s": 1000, None: 1000, "m": 60000,
                              "h": 3600000}[m.group(2)]


def size_bytes(text):
    """An INI size in bytes, read as runboxd reads it (conf_parse_size):
    "65536", "64K", "128M", "1G", any case, with an optional B."""
    m = re.fullmatch(r"(\d+)([KMG]?)B?", text.strip(), re.IGNORECASE)
    if m is None:
        raise ValueError("not a size: %r" % text)
    return int(m.group(1)) * 1024 ** " KMG".index(m.group(2).upper() or " ")


class Conf:
    """The INI the service runs with: $RUNBOX_CONF, which tests/lib/service.sh
    exports.  A value the suites need and the INI does not set is an error,
    not runboxd's default copied here."""

    def __init__(self, path=None):
        self.path = path or os.environ["RUNBOX_CONF"]
        self.ini = configparser.ConfigParser(interpolation=None,
                                             inline_comment_prefixes=(";", "#"))
        with open(self.path) as f:
            self.ini.read_file(f)

    def get(self, section, key):
        if not self.ini.has_option(section, key):
            raise KeyError("%s: [%s] %s is not set" % (self.path, section, key))
        return self.ini.get(section, key)

    @property
    def workers(self):
        return int(self.get("server", "workers"))

    def images(self):
        """The name of every [image.*] section: the images allowed."""
        return [self.ini.get(s, "name") for s in self.ini.sections() if s.startswith("image.")]

    def aliases(self, image):
        """The aliases of the [image.*] section whose name is image, as
        runboxd splits them (spaces and/or commas)."""
        for section in self.ini.sections():
            if section.startswith("image.") and self.ini.get(section, "name") == image:
                text = self.ini.get(section, "aliases", fallback="")
                return [a for a in re.split(r"[\s,]+", text) if a]
        raise KeyError("%s: no [image.*] section names %s" % (self.path, image))

    def limit(self, image, key):
        """A key of [limits] as the [image.*] section whose name is image
        has it: its own value, else the one of [limits]."""
        for section in self.ini.sections():
            if (section.startswith("image.") and self.ini.get(section, "name") == image and
                    self.ini.has_option(section, key)):
                return self.ini.get(section, key)
        return self.get("limits", key)

    def execution_ms(self, image):
        """execution_time of image, in ms: also the runner's own limit, as
        runboxd sends it as RUNBOX_TIME_LIMIT_MS (src/run.c)."""
        return duration_ms(self.limit(image, "execution_time"))

    def output_size(self, image):
        return size_bytes(self.limit(image, "output_size"))


class Suite:
    """Collects test functions and prints one line per test and a total."""

    def __init__(self, name):
        self.name = name
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def main(self, subset=None):
        """Run the tests named on the command line, else those of subset
        (names), else all."""
        passed = failed = 0
        only = set(sys.argv[1:]) or set(subset or ())
        for fn in self.tests:
            if only and fn.__name__ not in only:
                continue
            start = time.monotonic()
            try:
                fn()
                passed += 1
                print("ok   %-45s %6.2fs" % (fn.__name__, time.monotonic() - start), flush=True)
            except Exception:
                failed += 1
                print("FAIL %-45s %6.2fs" % (fn.__name__, time.monotonic() - start), flush=True)
                traceback.print_exc(limit=3)
                sys.stdout.flush()
        print("%s: %d passed, %d failed" % (self.name, passed, failed))
        sys.exit(1 if failed else 0)


def expect(cond, what, reply=None):
    if not cond:
        raise AssertionError(what + ("" if reply is None else ": %r" % (reply,)))


def answered_by_nginx(reply):
    """Whether nginx answered itself: its error pages carry nginx's request
    id (32 hex digits), runboxd's answers runboxd's (16)."""
    return len(reply.headers.get("X-Request-Id", "")) == 32


def expect_error(reply, status, code):
    expect(reply.status == status and reply.json is not None and
           reply.json.get("error") == code and isinstance(reply.json.get("message"), str),
           "want %d %s" % (status, code), reply)
    expect(reply.headers.get("Content-Type", "").startswith("application/json"),
           "error is JSON", reply)
