"""A private runboxd, with a private nginx and optionally a private Apache,
for the operations suites: each test (or group of tests) starts its own
with the INI overrides it needs, and stops everything at the end.

    with Service({"server": {"max_requests": "2"}}) as svc:
        r = svc.run(TINY, sh("echo hi"))

The INI is the dict BASE_INI merged with the overrides (a value of None
removes a key).  runboxd is $RUNBOXD or the _build/test one; it starts as
root and drops to the user runbox (scripts/setup-host), so the work dir
belongs to runbox and the token is readable by its group.  nginx listens on
a port of 18460..18479, Apache on another one of them.  The requests go
through tests/integration/runbox_client.py.
"""
import atexit
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

# One certificate for every service of this process: runbox_client makes its
# TLS context from RUNBOX_CAFILE when it is imported.
_SESSION = tempfile.mkdtemp(prefix="runbox-ops.")
os.chmod(_SESSION, 0o755)
subprocess.run([os.path.join(TOP, "scripts", "make-cert"), _SESSION], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.environ["RUNBOX_CAFILE"] = os.path.join(_SESSION, "cert.pem")
import runbox_client as rc  # noqa: E402  (needs RUNBOX_CAFILE first)
from runbox_client import Suite, expect, expect_error, files  # noqa: E402,F401

RUNBOXD = os.environ.get("RUNBOXD", os.path.join(TOP, "_build", "test", "runboxd"))
PORTS = range(18460, 18480)
TINY = "runbox/tiny:latest"
PYTHON = "runbox/python:latest"
APACHE_MODULES = "/usr/lib/apache2/modules"
SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")

BASE_INI = {
    "server": {
        "listen": "@WORK@/runbox.sock",
        "listen_mode": "0666",
        "workers": "2",
        "access_token_file": "@WORK@/token",
        "max_body_size": "256K",
        "instance": "@INSTANCE@",
        "shutdown_timeout": "10s",
        "user": "runbox",
        "pid_file": "@WORK@/runboxd.pid",
    },
    "limits": {
        "execution_time": "5s",
        "output_size": "64K",
        "memory": "128M",
        "pids": "64",
    },
    "image.tiny": {"name": TINY},
    "image.python": {"name": PYTHON},
}

_live = []
_counter = [0]
_ports_taken = set()


def sh(script, **extra):
    """A payload running script with the tiny image's sh."""
    return dict({"language": "bash", "files": files(("main.sh", script))}, **extra)


def wait_for(what, cond, timeout, interval=0.05):
    """Poll cond() until it returns something true; fail after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("%s: not within %.1f s" % (what, timeout))
        time.sleep(interval)


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def children(pid):
    """Pids of the live children of pid (pgrep -P), sorted."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return sorted(p for p in map(int, out.split()) if alive(p))


def comm(pid):
    """The process name of pid (/proc/PID/comm), or "" once it is gone."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_ids(pid):
    """(uids, gids, groups) of a process, from /proc/PID/status."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(v) for v in value.split()]
    return ids["Uid"], ids["Gid"], ids["Groups"]


def processes_with(text):
    """Pids whose command line contains text (read from /proc, signals none)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


def docker(*args, check=True):
    return subprocess.run(["docker"] + list(args), check=check, capture_output=True,
                          text=True, timeout=60).stdout


def free_port():
    """A port of 18460..18479 that nothing listens on and this process has
    not handed out yet."""
    for port in PORTS:
        if port in _ports_taken:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _ports_taken.add(port)
        return port
    raise RuntimeError("no free port in 18460..18479")


def render_ini(config):
    lines = []
    for section, keys in config.items():
        if keys is None:
            continue
        lines.append("[%s]" % section)
        lines.extend("%s = %s" % (k, v) for k, v in keys.items() if v is not None)
        lines.append("")
    return "\n".join(lines)


def merge(base, overrides):
    out = {s: dict(k) for s, k in base.items()}
    for section, keys in (overrides or {}).items():
        if keys is None:
            out.pop(section, None)
            continue
        out.setdefault(section, {}).update(keys)
    return out


class Service:
    """runboxd + nginx (+ Apache) in a temp dir owned by the user runbox.

    inherit: None ([server] listen as configured), "fd0" (a listening unix
    socket made here is runboxd's stdin, listen unset) or "systemd" (the
    socket on fd 3 with LISTEN_FDS=1 and LISTEN_PID = runboxd's pid).
    upstream: the sockets of other services that nginx balances over with
    this one's (nginx/instances.conf.in)."""

    def __init__(self, overrides=None, nginx=True, apache=False, inherit=None,
                 listen_pid="self", read_timeout=30, upstream=()):
        _counter[0] += 1
        self.instance = "ops-%d-%d" % (os.getpid(), _counter[0])
        self.work = tempfile.mkdtemp(prefix="runbox-ops.")
        runbox = pwd.getpwnam("runbox")
        os.chown(self.work, runbox.pw_uid, runbox.pw_gid)
        os.chmod(self.work, 0o755)
        self.ini = os.path.join(self.work, "runbox.ini")
        self.log_path = os.path.join(self.work, "runboxd.log")
        self.sock = os.path.join(self.work, "runbox.sock")
        self.pid_file = os.path.join(self.work, "runboxd.pid")
        self.inherit = inherit
        self.listen_pid = listen_pid
        self.use_nginx, self.use_apache = nginx, apache
        self.read_timeout = read_timeout
        self.upstream = list(upstream)
        self.proc = None
        self.listener = None
        self.wrap = []  # argv before runboxd's, for a starter that execs it
        self.port = self.apache_port = None
        self.token = os.urandom(18).hex()
        token = os.path.join(self.work, "token")
        with open(token, "w") as f:
            f.write(self.token + "\n")
        os.chown(token, 0, grp.getgrnam("runbox").gr_gid)
        os.chmod(token, 0o640)
        if inherit:
            overrides = merge(overrides or {}, {"server": {"listen": None}})
        self.config = merge(BASE_INI, overrides)
        self.write_ini()
        _live.append(self)

    # --- configuration -------------------------------------------------------

    def ini_text(self, config=None):
        text = render_ini(config or self.config)
        return text.replace("@WORK@", self.work).replace("@INSTANCE@", self.instance)

    def write_ini(self, overrides=None, text=None):
        """Write the INI (the current config merged with overrides, or text
        verbatim) in one rename, so that a reload never reads half a file."""
        if overrides is not None:
            self.config = merge(self.config, overrides)
        tmp = self.ini + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.ini_text() if text is None else text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.ini)

    def value(self, section, key):
        return self.config.get(section, {}).get(key)

    def seconds(self, section, key):
        """A duration of the INI (runbox_client.duration_ms), in seconds."""
        return rc.duration_ms(self.value(section, key)) / 1000.0

    @property
    def worker_count(self):
        """[server] workers, as the INI sets it."""
        return int(self.value("server", "workers"))

    # --- processes -----------------------------------------------------------

    def env(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(k, None)
        return env

    def _listening_socket(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        s.bind(self.sock)
        os.chmod(self.sock, 0o666)
        s.listen(128)
        return s

    def start_runboxd(self):
        log = open(self.log_path, "ab")
        kw = dict(stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                  env=self.env(), start_new_session=True)
        argv = self.wrap + [RUNBOXD, "-c", self.ini]
        if self.inherit == "fd0":
            self.listener = self._listening_socket()
            kw["stdin"] = self.listener.fileno()
        elif self.inherit == "systemd":
            self.listener = self._listening_socket()
            fd = self.listener.fileno()
            kw["pass_fds"] = (fd,)
            argv = [sys.executable, "-c", SYSTEMD_WRAPPER, str(fd), self.listen_pid] + argv
        try:
            self.proc = subprocess.Popen(argv, **kw)
        finally:
            log.close()
        return self.proc

    def start(self):
        subprocess.run([RUNBOXD, "-t", "-c", self.ini], check=True, capture_output=True)
        self.start_runboxd()
        if self.use_nginx:
            self.start_nginx()
        if self.use_apache:
            self.start_apache()
        self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("runboxd exited with %s:\n%s" %
                                     (self.proc.returncode, self.log()))
            try:
                return self.request("GET", "/", token=None, timeout=5).status == 200
            except OSError:
                return False
        wait_for("runboxd answers GET /", ready, timeout, 0.1)

    def start_nginx(self):
        self.port = free_port()
        conf = os.path.join(self.work, "nginx")
        max_body = self.value("server", "max_body_size").lower()
        subprocess.run([os.path.join(TOP, "scripts", "render-nginx"), conf, str(self.port),
                        os.path.join(_SESSION, "cert.pem"), os.path.join(_SESSION, "key.pem"),
                        ",".join("unix:" + s for s in [self.sock] + self.upstream),
                        max_body, str(self.read_timeout)],
                       check=True, capture_output=True)
        out = subprocess.run(["nginx", "-p", conf, "-c", conf + "/nginx.conf",
                              "-e", conf + "/logs/error.log"], capture_output=True, text=True)
        if out.returncode != 0:
            raise AssertionError("nginx did not start on port %d: %s" % (self.port, out.stderr))
        self.nginx_pid_file = conf + "/nginx.pid"

    def start_apache(self):
        self.apache_port = free_port()
        conf = os.path.join(self.work, "apache")
        os.makedirs(conf)
        max_body = self.max_body_bytes()
        with open(os.path.join(TOP, "apache", "runbox.conf.in")) as f:
            site = f.read()
        for k, v in {"PORT": self.apache_port, "SOCKET": self.sock,
                     "CERT": os.path.join(_SESSION, "cert.pem"),
                     "KEY": os.path.join(_SESSION, "key.pem"),
                     "MAX_BODY": max_body, "TIMEOUT": self.read_timeout}.items():
            site = site.replace("@%s@" % k, str(v))
        left = re.findall(r"@[A-Za-z_]+@", site)
        if left:
            raise AssertionError("apache/runbox.conf.in: placeholders left: %s" % left)
        with open(os.path.join(conf, "site.conf"), "w") as f:
            f.write(site)
        modules = ["mpm_event", "authz_core", "mime", "headers", "rewrite", "proxy",
                   "proxy_fcgi", "socache_shmcb", "ssl", "unique_id"]
        with open(os.path.join(conf, "httpd.conf"), "w") as f:
            f.write("ServerRoot %s\n" % conf)
            f.write("".join("LoadModule %s_module %s/mod_%s.so\n" % (m, APACHE_MODULES, m)
                            for m in modules))
            f.write("ServerName localhost\n"
                    "User www-data\nGroup www-data\n"
                    "PidFile {c}/httpd.pid\nErrorLog {c}/error.log\nLogLevel warn\n"
                    "DefaultRuntimeDir {c}\nMutex file:{c} default\n"
                    "TypesConfig /etc/mime.types\n"
                    "SSLSessionCache shmcb:{c}/ssl_scache(512000)\n"
                    "Include {c}/site.conf\n".format(c=conf))
        self.apache_conf = os.path.join(conf, "httpd.conf")
        self.apache_pid_file = os.path.join(conf, "httpd.pid")
        out = subprocess.run(["apache2", "-f", self.apache_conf, "-k", "start"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise AssertionError("apache2 did not start: %s%s" % (out.stdout, out.stderr))
        wait_for("apache pid file", lambda: os.path.exists(self.apache_pid_file), 10)

    def max_body_bytes(self):
        return rc.size_bytes(self.value("server", "max_body_size"))

    @property
    def master(self):
        return self.proc.pid

    def workers(self):
        """The master's children but the queue (and a passing reaper)."""
        return [p for p in children(self.master) if comm(p) != "runboxd-queue"]

    def queue(self):
        """The pid of the queue process, or None."""
        return next((p for p in children(self.master) if comm(p) == "runboxd-queue"), None)

    def wait_workers(self, n, timeout=10):
        """Wait until exactly n workers are up; returns their pids."""
        return wait_for("%d workers" % n,
                        lambda: (lambda w: w if len(w) == n else None)(self.workers()),
                        timeout)

    def signal(self, sig):
        os.kill(self.master, sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("runboxd %d still running after %.1f s" %
                                 (self.master, timeout))

    # --- requests ------------------------------------------------------------

    @property
    def url(self):
        return "https://127.0.0.1:%d" % (self.port or self.apache_port)

    @property
    def apache_url(self):
        return "https://127.0.0.1:%d" % self.apache_port

    def request(self, method, path, body=None, token="", via=None, **kw):
        """One HTTPS request through nginx (or via=URL); token "" means the
        service's, None none."""
        rc.URL = via or self.url
        return rc.request(method, path, body, token=self.token if token == "" else token, **kw)

    def run(self, image, payload, **kw):
        return self.request("POST", "/run", {"image": image, "payload": payload}, **kw)

    def status(self, fmt=None, via=None):
        path = "/status" + ("?format=" + fmt if fmt else "")
        r = self.request("GET", path, via=via)
        expect(r.status == 200, "GET %s answers 200" % path, r)
        return r

    def settled_status(self, timeout=10):
        """GET /status once no other request is in progress (counters are
        added after the answer is sent, when the container is removed):
        answered by a worker, the only one busy.
        status_polls tells how many GET /status it took."""
        self.status_polls = 0

        def settled():
            self.status_polls += 1
            r = self.status()
            s = r.json
            # The queue answers GET /status while every worker is busy: a
            # worker it counted busy is busy with another request.
            line = re.search(r"runboxd\[(\d+)\]: request=%s " % r.headers["X-Request-Id"],
                             self.log())
            by_worker = line is not None and int(line.group(1)) != self.queue()
            return s if s["workers"]["busy"] == 1 and by_worker else None
        return wait_for("no request in progress", settled, timeout, 0.1)

    # --- containers and log --------------------------------------------------

    def containers(self, running=False):
        args = ["ps", "-q", "--filter", "label=runbox.instance=" + self.instance]
        return docker(*(args if running else args + ["-a"])).split()

    def container_worker(self, cid):
        """The worker pid on a container's runbox.worker label."""
        out = docker("inspect", "--format", '{{index .Config.Labels "runbox.worker"}}', cid)
        return int(out.strip())

    def foreign_container(self, worker):
        """Create a container with the instance's labels, made by process
        worker (runbox.worker) for no request; its full id."""
        return docker("create", "--label", "runbox.service=runboxd",
                      "--label", "runbox.instance=" + self.instance,
                      "--label", "runbox.worker=%d" % worker, TINY).strip()

    def wait_running_container(self, timeout=15):
        """The id of the (first) running container of the instance."""
        return wait_for("a running container", lambda: (self.containers(running=True) or [None])[0],
                        timeout)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout):
        """The first match of the regex pattern in runboxd's log."""
        rx = re.compile(pattern)
        return wait_for("log line /%s/" % pattern, lambda: rx.search(self.log()), timeout)

    # --- stop ----------------------------------------------------------------

    def stop(self):
        """Stop everything (runboxd as an operator would, with SIGTERM) and
        remove the work dir; returns a list of problems found (containers
        left, sanitizer reports)."""
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            kids = children(self.master)
            self.signal(signal.SIGTERM)
            grace = 30
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                problems.append("runboxd did not stop within %d s" % grace)
                for pid in [self.master] + kids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait(10)
        for pid_file in (getattr(self, "nginx_pid_file", None),
                         getattr(self, "apache_pid_file", None)):
            self._stop_daemon(pid_file)
        if self.listener is not None:
            self.listener.close()
        left = self.containers() if self.proc is not None else []
        if left:
            problems.append("containers of %s left: %s" % (self.instance, left))
            docker("rm", "-f", *left, check=False)
        reports = [l for l in self.log().splitlines() if SANITIZER.search(l)]
        if reports:
            problems.append("sanitizer reports in runboxd's log:\n" + "\n".join(reports[:20]))
            print(self.log()[-6000:], file=sys.stderr)
        if os.environ.get("RUNBOX_OPS_KEEP"):
            print("kept %s" % self.work, file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        if self in _live:
            _live.remove(self)
        return problems

    def _stop_daemon(self, pid_file):
        if not pid_file or not os.path.exists(pid_file):
            return
        try:
            with open(pid_file) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            return
        try:
            wait_for("pid %d gone" % pid, lambda: not alive(pid), 10)
        except AssertionError:
            os.kill(pid, signal.SIGKILL)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, kind, exc, tb):
        problems = self.stop()
        if problems and kind is None:
            raise AssertionError("; ".join(problems))


class Shared:
    """One service for a group of tests: started by the first test that
    asks for it, stopped by close() (the group's last test) or at exit."""

    def __init__(self, **kw):
        self.kw = kw
        self.svc = None

    def get(self):
        if self.svc is None:
            self.svc = Service(**self.kw).start()
        return self.svc

    def close(self):
        """Stop the service; fail on containers left or sanitizer reports."""
        svc, self.svc = self.svc, None
        problems = svc.stop() if svc else []
        expect(not problems, "; ".join(problems))


# Replaces the exec of a socket-activating service manager: put the listening
# socket on fd 3, say so in LISTEN_FDS/LISTEN_PID ("self": this pid, which
# exec keeps; "parent": another process's), then become runboxd.
SYSTEMD_WRAPPER = """
import os, sys
fd, whose, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid() if whose == "self" else os.getppid())
os.execv(argv[0], argv)
"""


def main(suite):
    """Run the suite; whatever happens, stop every service still up."""
    try:
        suite.main()
    finally:
        stop_all()


def stop_all():
    for svc in list(_live):
        try:
            svc.stop()
        except Exception as e:  # keep stopping the others
            print("stopping %s: %s" % (svc.instance, e), file=sys.stderr)


atexit.register(shutil.rmtree, _SESSION, True)
atexit.register(stop_all)
# A suite stopped with SIGTERM (timeout(1)) still stops its services.
signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))


def run_in_background(svc, script):
    """Start a run of the sh script in a thread; returns (thread, box),
    with box["reply"] or box["error"] and box["at"] set when it ends."""
    box = {}

    def go():
        try:
            box["reply"] = svc.run(TINY, sh(script), timeout=60)
        except OSError as e:
            box["error"] = e
        box["at"] = time.monotonic()

    t = threading.Thread(target=go)
    t.start()
    return t, box
