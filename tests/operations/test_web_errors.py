#!/usr/bin/env python3
"""Every answer is JSON: the web server's own errors (a malformed request,
Content-Length with chunked, a long URI, large headers, too many requests)
come back in the service's shape with X-Request-Id, from the nginx and the
Apache sites; nginx's per-address rate limit answers 429 JSON.  Cost:
about 15 s."""
import json
import socket
import ssl
import threading
import time

import service
from service import Service, Suite, expect, wait_for

suite = Suite("web_errors")
_ctx = ssl._create_unverified_context()


def raw(port, data, timeout=10):
    """Send data as is over TLS; returns (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as plain:
        with _ctx.wrap_socket(plain, server_hostname="localhost") as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if b"\r\n\r\n" in b"".join(chunks) and done(b"".join(chunks)):
                        break
            except (ssl.SSLError, ConnectionResetError):
                pass
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (l.partition(":") for l in lines[1:])}
    return status, headers, body


def done(data):
    """Whether data holds a whole answer with a Content-Length."""
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def expect_json_error(answer, status, code, where):
    got, headers, body = answer
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    expect((status is None or got == status) and isinstance(doc, dict) and
           (code is None or doc.get("error") == code) and
           isinstance(doc.get("message"), str),
           "%s: %s %s as JSON" % (where, status, code), answer)
    expect(headers.get("content-type", "").startswith("application/json"),
           "%s: Content-Type JSON" % where, answer)
    expect(len(headers.get("x-request-id", "")) >= 16, "%s: X-Request-Id" % where, answer)


BAD = [
    ("a malformed request line", b"GARBAGE\r\n\r\n", 400, "request.http"),
    ("Content-Length with chunked",
     b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "request.http"),
    ("a 20 000-byte URI", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     414, "request.uri_too_long"),
]
BIG_HEADER = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n"


@suite.test
def nginx_and_apache_errors_are_json():
    with Service(apache=True) as svc:
        for name, port in (("nginx", svc.port), ("apache", svc.apache_port)):
            for what, data, status, code in BAD:
                # Apache lets Transfer-Encoding win over Content-Length
                # (RFC 9112): the request reaches runboxd, which answers.
                if name == "apache" and "chunked" in what:
                    status = code = None
                expect_json_error(raw(port, data), status, code, "%s, %s" % (name, what))
        expect_json_error(raw(svc.port, BIG_HEADER), 431, "request.headers_too_large",
                          "nginx, a 10 000-byte header")
        # Apache answers 400 for a header over LimitRequestFieldSize.
        expect_json_error(raw(svc.apache_port, BIG_HEADER), 400, "request.http",
                          "apache, a 10 000-byte header")
        expect_json_error(raw(svc.port, b"GET /.runbox-error/400 HTTP/1.1\r\nHost: x\r\n"
                                        b"Connection: close\r\n\r\n"),
                          404, "route.not_found", "nginx, its error page asked for directly")
        # runboxd's own errors keep runboxd's request id through both.
        for name, port in (("nginx", svc.port), ("apache", svc.apache_port)):
            status, headers, body = raw(port, b"GET /nope HTTP/1.0\r\nHost: x\r\n"
                                              b"Connection: close\r\n\r\n")
            expect(status == 404 and json.loads(body)["error"] == "route.not_found" and
                   len(headers.get("x-request-id", "")) == 16,
                   "%s: runboxd's 404 with runboxd's 16-digit id" % name, (status, headers))


@suite.test
def nginx_rate_limit_answers_429_json():
    with Service() as svc:
        replies = []
        lock = threading.Lock()

        def burst():
            for _ in range(25):
                r = svc.request("GET", "/", token=None, timeout=10)
                with lock:
                    replies.append(r)
        threads = [threading.Thread(target=burst) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        limited = [r for r in replies if r.status == 429]
        ok = [r for r in replies if r.status == 200]
        print("  200 requests from one address at once: %d answered, %d got 429"
              % (len(ok), len(limited)))
        expect(len(ok) + len(limited) == len(replies) == 200, "each 200 or 429",
               sorted(set(r.status for r in replies)))
        expect(len(ok) >= 60 and limited, "the burst passed, then 429s")
        r = limited[0]
        expect(r.json == {"error": "request.rate_limited", "message": r.json.get("message")}
               and r.headers.get("Retry-After") == "1" and
               len(r.headers.get("X-Request-Id", "")) >= 16 and
               r.headers.get("Content-Type", "").startswith("application/json"),
               "429 in the service's shape with Retry-After and X-Request-Id", r)
        wait_for("served again after a pause",
                 lambda: svc.request("GET", "/", token=None).status == 200, 5, 0.5)


if __name__ == "__main__":
    service.main(suite)
