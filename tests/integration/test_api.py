#!/usr/bin/env python3
"""The HTTP API: routes, token, request validation, and what a run returns.

Needs the environment of tests/integration/run (RUNBOX_URL, RUNBOX_TOKEN,
RUNBOX_CONF, ...): images runbox/tiny (language bash runs main.sh with
busybox sh) and runbox/python, max_body_size 256K.  The worker count and
the limits are read from the INI the service runs with.
"""
import http.client
import json
import re
import time
import urllib.parse

from runbox_client import (TOKEN, URL, _ctx, Conf, answered_by_nginx, containers,
                           docker_version, expect, expect_error, files, request, run,
                           size_bytes, Suite)

TINY = "runbox/tiny:latest"
PYTHON = "runbox/python:latest"
HELLO_SH = {"language": "bash", "files": files(("main.sh", "echo hello world"))}

suite = Suite("api")
CONF = Conf()


# Containers that were there before this suite are not its own: suites run
# in any order, and one may leave a container that the master reaps later
# (an orphan of a worker killed by test_workers.py).
BEFORE = set(containers())


def new_containers():
    return sorted(set(containers()) - BEFORE)


def settle(seconds=3.0):
    """Wait until the suite's containers are gone (they go after the reply)."""
    deadline = time.monotonic() + seconds
    while new_containers():
        expect(time.monotonic() < deadline,
               "containers of the instance still there after %.0f s: %s"
               % (seconds, new_containers()))
        time.sleep(0.1)


def expect_run(reply, stdout, stderr="", error=""):
    """A 200 with exactly this stdout, stderr and error."""
    expect(reply.status == 200 and reply.json is not None, "200 with JSON", reply)
    for key, want in (("stdout", stdout), ("stderr", stderr), ("error", error)):
        expect(reply.json.get(key) == want,
               "%s == %r (got %r)" % (key, want, reply.json.get(key)), reply)
    expect(isinstance(reply.json.get("duration"), int) and reply.json["duration"] >= 0,
           "duration is a non-negative integer (ns)", reply)


# --- routes and token --------------------------------------------------------

@suite.test
def root_answers_name_version_description_without_token():
    r = request("GET", "/", token=None)
    expect(r.status == 200 and r.json is not None, "200 JSON", r)
    expect(r.json.get("name") == "runbox", "name is runbox", r)
    expect(isinstance(r.json.get("version"), str) and r.json["version"], "version", r)
    expect(isinstance(r.json.get("description"), str) and r.json["description"],
           "description", r)
    expect(r.headers.get("Content-Type", "").startswith("application/json"), "JSON type", r)


@suite.test
def version_with_token_answers_docker_versions():
    r = request("GET", "/version")
    expect(r.status == 200 and r.json is not None, "200 JSON", r)
    d = r.json.get("docker")
    expect(isinstance(d, dict), "docker object", r)
    for key in ("version", "apiVersion", "gitCommit", "goVersion", "os", "arch",
                "kernelVersion"):
        expect(isinstance(d.get(key), str) and d[key], "docker.%s is a string" % key, r)
    expect(d["os"] == "linux", "docker.os is linux", r)
    expect(re.fullmatch(r"1\.\d+", d["apiVersion"]) is not None, "apiVersion 1.N", r)


@suite.test
def version_passes_every_docker_field_through_in_camel_case():
    r = request("GET", "/version")
    expect(r.status == 200 and r.json is not None, "200 JSON", r)
    d = r.json["docker"]
    raw = docker_version()
    want = {k[0].lower() + k[1:] for k in raw if k != "MinAPIVersion"}
    expect(want <= set(d), "every key Docker sent, camelCased: %r" % sorted(want - set(d)), r)
    if "MinAPIVersion" in raw:
        expect(d.get("minApiVersion") == raw["MinAPIVersion"],
               "MinAPIVersion reads as minApiVersion", r)
    expect("Platform" in raw and "Components" in raw,
           "this dockerd sends Platform and Components")
    expect(d.get("platform") == {"name": raw["Platform"]["Name"]},
           "platform: {name} as glot sends it", r)
    comps = d.get("components")
    expect(isinstance(comps, list) and len(comps) == len(raw["Components"]),
           "components: one per component Docker lists", r)
    for got, sent in zip(comps, raw["Components"]):
        expect(got.get("name") == sent["Name"] and got.get("version") == sent["Version"],
               "component %s: name and version" % sent["Name"], r)


@suite.test
def version_without_token_is_401_access_token():
    expect_error(request("GET", "/version", token=None), 401, "access_token")


@suite.test
def version_with_wrong_token_is_401_access_token():
    expect_error(request("GET", "/version", token=TOKEN + "x"), 401, "access_token")
    expect_error(request("GET", "/version", token=""), 401, "access_token")


@suite.test
def run_without_token_is_401_and_creates_no_container():
    settle()
    r = run(TINY, HELLO_SH, token=None)
    expect_error(r, 401, "access_token")
    expect(new_containers() == [], "no container created", r)


@suite.test
def run_with_wrong_token_is_401_and_creates_no_container():
    settle()
    r = run(TINY, HELLO_SH, token="not-" + TOKEN)
    expect_error(r, 401, "access_token")
    # A prefix of the right token is wrong too.
    r = run(TINY, HELLO_SH, token=TOKEN[:-1])
    expect_error(r, 401, "access_token")
    expect(new_containers() == [], "no container created", r)


@suite.test
def unknown_route_is_404_route_not_found():
    expect_error(request("GET", "/nope"), 404, "route.not_found")
    expect_error(request("POST", "/run/extra", {"image": TINY, "payload": HELLO_SH}),
                 404, "route.not_found")


@suite.test
def get_run_is_405_with_allow_post():
    r = request("GET", "/run")
    expect_error(r, 405, "method.not_allowed")
    expect(r.headers.get("Allow") == "POST", "Allow: POST", r)


@suite.test
def post_root_is_405_with_allow_get():
    r = request("POST", "/", b"{}")
    expect_error(r, 405, "method.not_allowed")
    expect(r.headers.get("Allow") == "GET", "Allow: GET", r)


@suite.test
def status_without_token_is_401_access_token():
    expect_error(request("GET", "/status", token=None), 401, "access_token")


@suite.test
def status_counts_workers_requests_and_runs():
    first = request("GET", "/status")
    expect(first.status == 200 and isinstance(first.json, dict), "200 JSON", first)
    w = first.json.get("workers", {})
    expect(w.get("total") == CONF.workers and
           w.get("busy", 0) + w.get("idle", 0) == CONF.workers,
           "%d workers ([server] workers)" % CONF.workers, first)
    expect_run(run(TINY, HELLO_SH), "hello world\n")
    # The run's counters move after its container is removed: poll briefly.
    deadline = time.monotonic() + 3
    while True:
        second = request("GET", "/status")
        expect(second.status == 200 and isinstance(second.json, dict), "200 JSON", second)
        if second.json["runs"]["ok"] >= first.json["runs"]["ok"] + 1:
            break
        expect(time.monotonic() < deadline, "runs.ok counted the hello world", second)
        time.sleep(0.1)
    expect(second.json["requests"] >= first.json["requests"] + 2,
           "requests counted the run and the status request", second)


@suite.test
def status_in_prometheus_format():
    r = request("GET", "/status?format=prometheus")
    expect(r.status == 200 and r.headers.get("Content-Type", "").startswith("text/plain"),
           "200 text/plain", r)
    text = r.raw.decode()
    expect(re.search(r"^runbox_workers\{state=\"idle\"\} \d+$", text, re.M) is not None,
           "runbox_workers gauge", r)
    expect(re.search(r"^runbox_runs_total\{outcome=\"ok\"\} \d+$", text, re.M) is not None,
           "runbox_runs_total counter", r)


@suite.test
def images_without_token_is_401_access_token():
    expect_error(request("GET", "/images", token=None), 401, "access_token")


@suite.test
def images_lists_allowed_images_with_language_and_limits():
    r = request("GET", "/images")
    expect(r.status == 200 and isinstance(r.json, list), "200 with a JSON array", r)
    by_image = {i["image"]: i for i in r.json}
    expect(sorted(by_image) == sorted(CONF.images()),
           "exactly the [image.*] sections of the test INI", r)
    py = by_image[PYTHON]
    expect(py["language"] == "python" and py["available"] is True,
           "language from the section name; the image is built", r)
    for image in (PYTHON, TINY):
        want = {"execution_time_ms": CONF.execution_ms(image),
                "memory": size_bytes(CONF.limit(image, "memory")),
                "output_size": CONF.output_size(image),
                "pids": int(CONF.limit(image, "pids"))}
        got = {k: by_image[image]["limits"].get(k) for k in want}
        expect(got == want, "%s: its own [image.*] limits, the rest from [limits]: %r"
               % (image, want), r)
    expect(CONF.execution_ms(PYTHON) != CONF.execution_ms(TINY),
           "the INI gives python an execution_time of its own, so both sources are seen")
    expect(by_image[PYTHON].get("aliases") == CONF.aliases(PYTHON) and
           by_image[TINY].get("aliases") == CONF.aliases(TINY),
           "each image lists the aliases of its section", r)


@suite.test
def run_naming_an_alias_runs_its_sections_image_with_its_limits():
    code = "import sys\nprint(sys.version_info[0])\nprint(sys.stdin.read())"
    payload = {"language": "python", "files": files(("main.py", code)), "stdin": "via alias"}
    for alias in CONF.aliases(PYTHON):
        expect_run(run(alias, payload), "3\nvia alias\n")
    slow = {"language": "python",
            "files": files(("main.py", "import time\ntime.sleep(%.1f)\nprint('late')"
                            % ((CONF.execution_ms(TINY) + 500) / 1000)))}
    expect_run(run("glot/python", slow), "late\n")


# --- request validation ------------------------------------------------------

@suite.test
def bad_json_is_400_request_json():
    settle()
    expect_error(request("POST", "/run", b'{"image": "runbox/tiny:latest", '), 400,
                 "request.json")
    expect_error(request("POST", "/run", b"not json at all"), 400, "request.json")
    expect_error(request("POST", "/run", b""), 400, "request.json")
    expect(new_containers() == [], "no container created")


@suite.test
def error_quoting_a_long_non_ascii_name_is_valid_utf8():
    # The message quotes the name cut to 200 bytes, inside a character.
    r = run(TINY, {"language": "bash", "files": files(("\u20ac" * 100, ""))})
    expect_error(r, 400, "request.payload")
    expect(r.raw.decode("utf-8", "strict") is not None, "the body is valid UTF-8", r)


@suite.test
def body_not_an_object_is_400_request_json():
    expect_error(request("POST", "/run", b'[1, 2, 3]'), 400, "request.json")
    expect_error(request("POST", "/run", b'"a string"'), 400, "request.json")
    expect_error(request("POST", "/run", {"image": TINY, "payload": [1]}), 400,
                 "request.json")


@suite.test
def invalid_utf8_in_body_is_400_request_json():
    body = (b'{"image": "runbox/tiny:latest", "payload": {"language": "bash", '
            b'"files": [{"name": "main.sh", "content": "echo \xff"}]}}')
    expect_error(request("POST", "/run", body), 400, "request.json")


@suite.test
def deeply_nested_body_is_400_request_json():
    expect_error(request("POST", "/run", b"[" * 40 + b"]" * 40), 400, "request.json")


@suite.test
def trailing_data_after_the_body_is_400_request_json():
    body = json.dumps({"image": TINY, "payload": HELLO_SH}).encode() + b" {}"
    expect_error(request("POST", "/run", body), 400, "request.json")


@suite.test
def missing_or_bad_image_is_400_request_json():
    expect_error(request("POST", "/run", {"payload": HELLO_SH}), 400, "request.json")
    expect_error(request("POST", "/run", {"image": 7, "payload": HELLO_SH}), 400, "request.json")
    expect_error(request("POST", "/run", {"image": "", "payload": HELLO_SH}), 400, "request.json")


@suite.test
def payload_field_of_wrong_type_is_400_request_payload():
    expect_error(run(TINY, dict(HELLO_SH, stdin=5)), 400, "request.payload")
    expect_error(run(TINY, dict(HELLO_SH, command=["ls"])), 400, "request.payload")
    expect_error(run(TINY, {"language": "bash", "files": [{"name": "main.sh"}]}), 400,
                 "request.payload")
    expect_error(run(TINY, {"language": "bash", "files": "main.sh"}), 400, "request.payload")


@suite.test
def payload_without_language_command_or_instructions_is_400_request_payload():
    expect_error(run(TINY, {"files": files(("main.sh", "echo a"))}), 400, "request.payload")
    expect_error(run(TINY, {"files": files(("main.sh", "echo a")), "command": ""}), 400,
                 "request.payload")


@suite.test
def build_command_with_a_nul_byte_is_400_request_payload():
    # The runner refuses it too, but only once its container exists.
    settle()
    r = run(TINY, {"runInstructions": {"buildCommands": ["echo a\u0000b"],
                                       "runCommand": "true"},
                   "files": files(("main.sh", ""))})
    expect_error(r, 400, "request.payload")
    expect(new_containers() == [], "no container created", r)


@suite.test
def payload_the_runner_is_certain_to_refuse_is_400_request_payload():
    # Each came back as 200 with a runner: error, after a whole container.
    settle()
    main = files(("main.sh", "echo a"))
    for payload, field in (
            ({"language": "zig", "files": main}, "payload.language"),
            ({"language": "", "files": main}, "payload.language"),
            ({"runInstructions": {"runCommand": ""}, "files": main},
             "payload.runInstructions.runCommand")):
        r = run(TINY, payload)
        expect_error(r, 400, "request.payload")
        expect(field in r.json.get("message", ""), "the message names %s" % field, r)
    expect(new_containers() == [], "no container created")


@suite.test
def more_than_1000_files_is_400_request_payload():
    many = [{"name": "f%d" % i, "content": ""} for i in range(1001)]
    expect_error(run(TINY, {"language": "bash", "files": many}), 400, "request.payload")


@suite.test
def payload_without_files_is_400_request_payload():
    expect_error(run(TINY, {"language": "bash"}), 400, "request.payload")
    expect_error(run(TINY, {"language": "bash", "files": []}), 400, "request.payload")


@suite.test
def file_name_escaping_the_work_dir_is_400_request_payload():
    settle()
    for name in ("../x", "a/../../x", "/etc/passwd", "..", "a//b"):
        r = run(TINY, {"language": "bash", "files": files((name, "echo pwned"))})
        expect_error(r, 400, "request.payload")
    expect(new_containers() == [], "no container created")


@suite.test
def text_plain_content_type_is_415_request_content_type():
    r = request("POST", "/run", {"image": TINY, "payload": HELLO_SH},
                headers={"Content-Type": "text/plain"})
    expect_error(r, 415, "request.content_type")


@suite.test
def image_not_in_allowlist_is_400_image_not_allowed():
    settle()
    for image in ("glot/bash:latest", "busybox", "runbox/tiny:other", "runbox/base:bookworm"):
        expect_error(run(image, HELLO_SH), 400, "image.not_allowed")
    expect(new_containers() == [], "no container created")


@suite.test
def body_over_256k_is_413_request_too_large_from_nginx():
    big = "x" * (300 * 1024)
    r = run(TINY, {"language": "bash", "files": files(("main.sh", "echo " + big))})
    expect_error(r, 413, "request.too_large")
    expect(answered_by_nginx(r), "nginx answered, not runboxd", r)


@suite.test
def body_just_under_256k_is_run():
    payload = {"language": "bash", "files": files(("main.sh", "echo big ok\n# " + "x" * (250 * 1024)))}
    size = len(json.dumps({"image": TINY, "payload": payload}))
    expect(240 * 1024 < size < 256 * 1024, "body of %d bytes" % size)
    expect_run(run(TINY, payload), "big ok\n")


# --- runs --------------------------------------------------------------------

@suite.test
def hello_world_in_tiny_bash():
    expect_run(run(TINY, HELLO_SH), "hello world\n")


@suite.test
def hello_world_in_python():
    r = run(PYTHON, {"language": "python", "files": files(("main.py", 'print("Hello World!")'))})
    expect_run(r, "Hello World!\n")


@suite.test
def image_short_name_without_latest_tag_is_accepted():
    expect_run(run("runbox/tiny", HELLO_SH), "hello world\n")


@suite.test
def non_ascii_output_round_trips():
    r = run(PYTHON, {"language": "python",
                     "files": files(("main.py", 'print("h\u00e9llo w\u00f6rld \u2713")'))})
    expect_run(r, "h\u00e9llo w\u00f6rld \u2713\n")
    expect("h\u00e9llo w\u00f6rld \u2713".encode() in r.raw, "the body carries UTF-8, unescaped", r)
    expect(r.headers.get("Content-Type", "").startswith("application/json"), "JSON type", r)


@suite.test
def stdin_is_passed_to_the_program():
    src = 'name = input()\nage = int(input())\nprint("hello %s, next year %d" % (name, age + 1))\n'
    r = run(PYTHON, {"language": "python", "files": files(("main.py", src)),
                     "stdin": "Ada\n36\n"})
    expect_run(r, "hello Ada, next year 37\n")


@suite.test
def program_reading_stdin_without_stdin_gets_eof():
    r = run(TINY, {"language": "bash", "files": files(("main.sh", "cat\necho eof"))})
    expect_run(r, "eof\n")


@suite.test
def stdin_the_program_does_not_read_is_no_error():
    r = run(TINY, dict(HELLO_SH, stdin="x" * 200000))
    expect_run(r, "hello world\n")


@suite.test
def invalid_utf8_output_becomes_replacement_characters():
    r = run(TINY, {"language": "bash", "files": files(("main.sh", r"printf '\377abc\n'"))})
    expect_run(r, "\ufffdabc\n")


@suite.test
def unknown_language_alone_is_refused_with_the_runners_own_table():
    # Every image's runner is built from src/runner: runboxd links its
    # table (languages.c) and refuses before a container exists.
    r = run(TINY, {"language": "klingon", "files": files(("main.sh", "echo a"))})
    expect_error(r, 400, "request.payload")
    expect(r.json["message"] == "payload.language 'klingon' is not supported: "
           "send a command or runInstructions", "the message names the language", r)


@suite.test
def plaintext_is_cat_in_an_image_without_a_toolchain():
    # The one language of the runner's table without an image of its own.
    r = run(TINY, {"language": "plaintext", "files": files(("notes.txt", "as it is\n$HOME\n"))})
    expect_run(r, "as it is\n$HOME\n")


@suite.test
def custom_command_replaces_the_default():
    r = run(TINY, {"language": "bash", "command": "sh main.sh arg1",
                   "files": files(("main.sh", 'echo "first=$1 count=$#"'))})
    expect_run(r, "first=arg1 count=1\n")


@suite.test
def files_in_subfolders_are_written_and_importable():
    r = run(PYTHON, {"language": "python", "files": files(
        ("main.py", "from pkg.util import greet\n"
                    "with open('lib/data/x.txt') as f:\n"
                    "    print(greet(f.read().strip()))\n"),
        ("pkg/__init__.py", ""),
        ("pkg/util.py", "def greet(who):\n    return 'hi ' + who\n"),
        ("lib/data/x.txt", "from a data file\n"))})
    expect_run(r, "hi from a data file\n")


@suite.test
def run_instructions_build_then_run():
    r = run(TINY, {"runInstructions": {
        "buildCommands": ["echo generated > gen.txt", "sh main.sh >> gen.txt"],
        "runCommand": "cat gen.txt"},
        "files": files(("main.sh", "echo from main"))})
    expect_run(r, "generated\nfrom main\n")


@suite.test
def run_instructions_with_no_files_run_in_an_empty_work_dir():
    # glot's web app asks an image for its version this way.
    r = run(TINY, {"runInstructions": {"buildCommands": [],
                                       "runCommand": "ls -A | wc -l; echo v1.2"},
                   "files": [], "stdin": None})
    expect_run(r, "0\nv1.2\n")


@suite.test
def language_wins_over_run_instructions_as_in_glot():
    r = run(TINY, {"language": "bash", "files": files(("main.sh", "echo from language")),
                   "runInstructions": {"buildCommands": [],
                                       "runCommand": "echo from instructions"}})
    expect_run(r, "from language\n")


@suite.test
def language_defaults_with_no_files_is_400_request_payload():
    expect_error(run(TINY, {"language": "bash", "files": [],
                            "runInstructions": {"runCommand": "true"}}),
                 400, "request.payload")


@suite.test
def failing_build_command_stops_before_run_command():
    r = run(TINY, {"runInstructions": {
        "buildCommands": ["echo build broke >&2; exit 2"],
        "runCommand": "echo should not run"},
        "files": files(("main.sh", ""))})
    expect_run(r, "", "build broke\n", "Exit code: 2")


@suite.test
def non_zero_exit_is_200_with_exit_code_and_stderr():
    r = run(TINY, {"language": "bash", "files": files(
        ("main.sh", "echo out; echo something failed >&2; exit 3"))})
    expect_run(r, "out\n", "something failed\n", "Exit code: 3")


@suite.test
def python_exception_is_exit_code_1_with_traceback():
    r = run(PYTHON, {"language": "python", "files": files(("main.py", "raise ValueError('boom')"))})
    expect(r.status == 200 and r.json is not None, "200", r)
    expect(r.json["error"] == "Exit code: 1", "Exit code: 1", r)
    expect(r.json["stderr"].startswith("Traceback") and
           r.json["stderr"].endswith("ValueError: boom\n"), "traceback on stderr", r)


@suite.test
def program_killed_by_signal_is_reported():
    # The runner runs "bash main.sh" via sh -c; the script kills itself.
    # Whichever process the runner waits for, the report must name SIGKILL,
    # not hide it as a plain "Exit code: 137".
    r = run(TINY, {"language": "bash", "files": files(("main.sh", "echo before\nkill -9 $$\necho after"))})
    expect(r.status == 200 and r.json is not None, "200", r)
    expect(r.json["stdout"] == "before\n", "output before the signal kept", r)
    expect(r.json["error"] == "Killed by signal 9 (KILL)", "error names SIGKILL", r)


@suite.test
def program_killed_by_sigsegv_in_python_is_reported():
    r = run(PYTHON, {"language": "python", "files": files(
        ("main.py", "import os, signal\nprint('x', flush=True)\nos.kill(os.getpid(), signal.SIGSEGV)\n"))})
    expect(r.status == 200 and r.json is not None, "200", r)
    expect(r.json["stdout"] == "x\n", "stdout kept", r)
    expect(r.json["error"] == "Killed by signal 11 (SEGV)", "error names SIGSEGV", r)


def glot_readme_body():
    # The exact body of glot docker-run's README example, bytes as a client sends them.
    return (b'{"image": "runbox/tiny:latest", "payload": {"language": "bash", '
            b'"files": [{"name": "main.sh", "content": "echo hello"}]}}')


@suite.test
def glot_client_request_with_content_type_json():
    r = request("POST", "/run", glot_readme_body(),
                headers={"Content-type": "application/json"})
    expect_run(r, "hello\n")


@suite.test
def glot_client_request_with_curl_default_form_content_type():
    r = request("POST", "/run", glot_readme_body(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_run(r, "hello\n")


@suite.test
def json_content_type_with_charset_is_accepted():
    r = request("POST", "/run", glot_readme_body(),
                headers={"Content-Type": "application/json; charset=utf-8"})
    expect_run(r, "hello\n")


@suite.test
def chunked_request_body_is_read_whole():
    # nginx buffers a chunked body and passes its length on (fastcgi_request_buffering).
    u = urllib.parse.urlsplit(URL)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=_ctx, timeout=30)
    try:
        body = glot_readme_body()
        conn.request("POST", "/run", body=iter([body[:40], body[40:]]), encode_chunked=True,
                     headers={"Content-Type": "application/json", "X-Access-Token": TOKEN,
                              "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    expect(resp.status == 200, "200", data)
    expect(json.loads(data)["stdout"] == "hello\n", "stdout hello", data)


@suite.test
def request_id_header_on_answers():
    seen = set()
    for r in (request("GET", "/", token=None), request("GET", "/nope"),
              request("GET", "/version", token=None), run(TINY, HELLO_SH)):
        rid = r.headers.get("X-Request-Id")
        expect(rid is not None and re.fullmatch(r"[0-9a-f]{16}", rid) is not None,
               "X-Request-Id of 16 hex digits", r)
        seen.add(rid)
    expect(len(seen) == 4, "a distinct id per request: %s" % sorted(seen))


@suite.test
def runs_leave_no_container():
    run(TINY, HELLO_SH)
    settle(2.0)


if __name__ == "__main__":
    suite.main()
