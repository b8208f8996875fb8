#!/usr/bin/env python3
"""The Apache site (apache/runbox.conf.in, mod_proxy_fcgi over the unix
socket) in a real Apache: the API works through it and its own errors are
JSON like runboxd's."""
import http.client
import json
import re
import signal

import service
from service import Shared, Suite, TINY, expect, expect_error, files, rc, sh

suite = Suite("apache")
GROUP = Shared(nginx=False, apache=True)


@suite.test
def apache_get_root_is_200():
    svc = GROUP.get()
    r = svc.request("GET", "/", token=None)
    expect(r.status == 200 and r.json["name"] == "runbox", "runboxd's GET /", r)
    expect(r.headers.get("X-Request-Id"), "runboxd answered (X-Request-Id)", r)


@suite.test
def apache_run_hello_world():
    svc = GROUP.get()
    r = svc.run(TINY, sh('echo "hello from apache"'))
    expect(r.status == 200 and r.json["stdout"] == "hello from apache\n" and
           r.json["error"] == "", "the run's output", r)


@suite.test
def apache_run_without_token_is_401():
    svc = GROUP.get()
    expect_error(svc.run(TINY, sh("echo hi"), token=None), 401, "access_token")


@suite.test
def apache_status_route_reaches_runboxd():
    svc = GROUP.get()
    r = svc.status("prometheus")
    expect(r.raw.startswith(b"# TYPE runbox_uptime_seconds gauge\n"), "Prometheus text", r)


@suite.test
def apache_body_over_the_limit_is_json_413():
    svc = GROUP.get()
    limit = svc.max_body_bytes()
    r = svc.request("POST", "/run", b"x" * (limit + 1))
    expect_error(r, 413, "request.too_large")
    expect(r.json["message"] == "request body is larger than %d bytes" % limit,
           "Apache's own answer, not runboxd's", r)
    expect("status=413" not in svc.log(), "runboxd never saw it")


@suite.test
def apache_chunked_body_reaches_runboxd_whole():
    # No Content-Length: mod_proxy_fcgi passes a large chunked body without
    # CONTENT_LENGTH, and runboxd reads it to the end of the stream.
    svc = GROUP.get()
    filler = "#" + "x" * 40000 + "\n"
    body = json.dumps({"image": TINY, "payload": {
        "language": "bash", "files": files(("main.sh", filler + "echo chunked"))}}).encode()
    conn = http.client.HTTPSConnection("127.0.0.1", svc.apache_port, context=rc._ctx, timeout=60)
    try:
        conn.request("POST", "/run", body=iter([body[:1000], body[1000:]]), encode_chunked=True,
                     headers={"X-Access-Token": svc.token, "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        reply = rc.Reply(resp.status, resp.headers, resp.read(), 0.0)
    finally:
        conn.close()
    expect(reply.status == 200 and reply.json["stdout"] == "chunked\n", "the whole body", reply)


@suite.test
def apache_runboxd_down_is_json_503():
    svc = GROUP.get()
    svc.signal(signal.SIGTERM)
    expect(svc.wait_exit(20) == 0, "runboxd stopped")
    r = svc.request("POST", "/run", {"image": TINY, "payload": sh("echo hi")})
    # mod_proxy answers 503 when it cannot connect (nginx says 502).
    expect_error(r, 503, "service.unavailable")
    expect(r.json["message"] == "runboxd is not reachable", "Apache's own answer", r)
    r = svc.request("GET", "/", token=None)
    expect_error(r, 503, "service.unavailable")


@suite.test
def apache_error_log_has_no_config_warnings():
    svc = GROUP.get()
    with open(svc.apache_conf.replace("httpd.conf", "error.log")) as f:
        log = f.read()
    bad = [l for l in log.splitlines()
           if re.search(r"\[(\w+:)?(warn|error|crit|alert|emerg)\]", l)
           and "AH01906" not in l          # the test certificate is its own CA
           and "AH02454" not in l and "AH01079" not in l]  # runboxd down, on purpose
    expect(not bad, "Apache warnings: %s" % bad)


@suite.test
def apache_service_stops_cleanly():
    GROUP.close()


if __name__ == "__main__":
    service.main(suite)
