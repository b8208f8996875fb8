#!/usr/bin/env python3
"""Online judges (issue 11): per-request limits within the image's, the
usage every answer carries with its status, and a program built once and
run against many tests.

tests/judge/run starts the service with the INI these tests rely on:
[limits] execution_time 10s, memory 256M, pids 64, run_deadline 30s,
tests_max 8; tiny with execution_time 2s and run_deadline 3s; python
with one warm container.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from runbox_client import expect, expect_error, files, request, Suite  # noqa: E402

TINY = "runbox/tiny:latest"
PYTHON = "runbox/python:latest"
C = "runbox/c:latest"
MIB = 1024 * 1024
USAGE_KEYS = {"status", "exit_code", "signal", "wall_time_ms", "cpu_time_ms",
              "max_rss_bytes", "memory_peak_bytes"}

suite = Suite("judge")


def run(image, payload, limits=None):
    body = {"image": image, "payload": payload}
    if limits is not None:
        body["limits"] = limits
    return request("POST", "/run", body)


def answer(r):
    """The 200 answer's JSON, its usage checked for shape."""
    expect(r.status == 200 and isinstance(r.json, dict), "200 with the runner's JSON", r)
    expect(set(r.json["usage"]) >= USAGE_KEYS, "usage has every key", r)
    return r.json


def py(source, **extra):
    return dict({"language": "python", "files": files(("main.py", source))}, **extra)


def c(source, **extra):
    return dict({"language": "c", "files": files(("main.c", source))}, **extra)


@suite.test
def lower_execution_time_stops_a_loop_the_image_allows():
    r = run(PYTHON, py("while True: pass"), {"execution_time": "200ms"})
    a = answer(r)
    expect(a["usage"]["status"] == "time_limit", "status time_limit", r)
    expect(r.seconds < 5, "stopped long before the image's 10 s", r)
    expect(200 <= a["usage"]["wall_time_ms"] < 2000, "ran about 200 ms", r)


@suite.test
def raising_a_limit_over_the_image_is_400_naming_field_and_cap():
    r = run(PYTHON, py("print(1)"), {"memory": "1G"})
    expect_error(r, 400, "request.limits")
    expect("limits.memory" in r.json["message"] and str(256 * MIB) in r.json["message"],
           "the message names the field and the cap", r)
    r = run(PYTHON, py("print(1)"), {"execution_time": 20000})
    expect_error(r, 400, "request.limits")
    expect("limits.execution_time" in r.json["message"] and "10000" in r.json["message"],
           "the message names the field and the cap", r)


@suite.test
def bad_units_types_and_names_are_400():
    for limits, field in (({"execution_time": "200 parsecs"}, "execution_time"),
                          ({"execution_time": "200"}, "execution_time"),
                          ({"memory": "64Q"}, "memory"),
                          ({"pids": "10"}, "pids"),
                          ({"output_size": True}, "output_size"),
                          ({"cpus": 1}, "cpus")):
        r = run(PYTHON, py("print(1)"), limits)
        expect_error(r, 400, "request.limits")
        expect("limits." + field in r.json["message"], "names limits.%s" % field, r)
    expect_error(run(PYTHON, py("print(1)"), [1]), 400, "request.limits")


@suite.test
def allocating_past_64m_is_memory_limit_with_the_peak_near_it():
    r = run(PYTHON, py("a = []\nwhile True: a.append(bytearray(1 << 20))"), {"memory": "64M"})
    a = answer(r)
    u = a["usage"]
    expect(u["status"] == "memory_limit", "status memory_limit, not a signal", r)
    expect(u["exit_code"] != 137 and "Memory limit" in a["error"], "not exit 137", r)
    expect(48 * MIB <= u["memory_peak_bytes"] <= 64 * MIB, "peak near 64 MiB", r)


@suite.test
def memory_and_pids_limits_are_the_containers_warm_or_not():
    # The program reads its own cgroup's memory and pids limits (v2, else v1).
    src = ("import os\n"
           "for ps in (('memory.max', 'memory/memory.limit_in_bytes'), ('pids.max', 'pids/pids.max')):\n"
           "    for p in ps:\n"
           "        if os.path.exists('/sys/fs/cgroup/' + p):\n"
           "            print(open('/sys/fs/cgroup/' + p).read().strip()); break\n")
    a = answer(run(PYTHON, py(src), {"memory": "64M", "pids": 16}))
    expect(a["stdout"].split() == [str(64 * MIB), "16"], "lower memory and pids are the container's", a)
    a = answer(run(PYTHON, py(src)))
    expect(a["stdout"].split() == [str(256 * MIB), "64"], "without limits, the image's (warm)", a)


@suite.test
def a_small_program_reports_a_small_peak():
    a = answer(run(PYTHON, py("print(42)")))
    u = a["usage"]
    expect(u["status"] == "ok" and u["exit_code"] == 0 and u["signal"] is None, "ok, exit 0", a)
    expect(0 < u["memory_peak_bytes"] < 48 * MIB, "a plausible small peak", a)
    expect(0 < u["max_rss_bytes"] < 48 * MIB, "a plausible small RSS", a)


@suite.test
def cpu_time_of_a_half_second_busy_loop_is_about_half_a_second():
    src = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\n"
    a = answer(run(PYTHON, py(src)))
    cpu = a["usage"]["cpu_time_ms"]
    expect(450 <= cpu <= 1000, "CPU time %.1f ms within [450, 1000]" % cpu, a)
    expect(a["usage"]["wall_time_ms"] >= cpu * 0.9, "wall time at least CPU time", a)


@suite.test
def a_c_compile_error_is_compile_error_with_the_message():
    a = answer(run(C, c("int main(void) { return x; }\n")))
    expect(a["usage"]["status"] == "compile_error", "status compile_error", a)
    expect("error:" in a["stderr"] and "'x' undeclared" in a["stderr"].replace("\u2018", "'").replace("\u2019", "'"),
           "gcc's message in stderr", a)
    b = a["usage"]["build"]
    expect(b["status"] == "compile_error" and b["exit_code"] == 1, "the build's usage", a)


@suite.test
def a_python_syntax_error_is_compile_error_with_the_message():
    payload = {"runInstructions": {"buildCommands": ["python3 -m py_compile main.py"],
                                   "runCommand": "python3 main.py"},
               "files": files(("main.py", "print(1\n"))}
    a = answer(run(PYTHON, payload))
    expect(a["usage"]["status"] == "compile_error", "status compile_error", a)
    expect("SyntaxError" in a["stderr"], "Python's message in stderr", a)


# Reads "a b", prints a+b; a < 0 loops for ever.  Each run counts the builds
# (a line each in /tmp/builds, outside the restored work dir) on stderr, and
# says LEAK if a file an earlier test wrote is still there.
SUM = r"""
#include <stdio.h>
int main(void) {
    int a, b, builds = 0, ch;
    FILE *f = fopen("/tmp/builds", "r");
    while (f && (ch = fgetc(f)) != EOF) builds += ch == '\n';
    fprintf(stderr, "builds=%d", builds);
    if (fopen("scratch", "r")) puts("LEAK");
    f = fopen("scratch", "w");
    fputs("written by a test", f);
    fclose(f);
    if (scanf("%d %d", &a, &b) != 2) return 2;
    while (a < 0) ;
    printf("%d\n", a + b);
    return 0;
}
"""


@suite.test
def tests_run_against_one_build_with_right_verdicts():
    payload = {"runInstructions": {"buildCommands": ["echo >> /tmp/builds; gcc -o sum main.c"],
                                   "runCommand": "./sum"},
               "files": files(("main.c", SUM)),
               "tests": [{"stdin": "1 2", "expected_stdout": "3\n"},
                         {"stdin": "2 2", "expected_stdout": "5"},      # wrong
                         {"stdin": "-1 0", "expected_stdout": "-1"},    # times out
                         {"stdin": "10 20", "expected_stdout": "30  \n\n"},
                         {"stdin": "5 5", "expected_stdout": "11"},     # wrong
                         {"stdin": "7 8"}]}
    r = run(C, payload, {"execution_time": "1s", "compile_time": "10s"})
    a = answer(r)
    t = a["tests"]
    expect(len(t) == 6, "one result per test", r)
    expect([x["stderr"] for x in t] == ["builds=1"] * 6, "the build ran exactly once", r)
    expect(all("LEAK" not in x["stdout"] for x in t), "no test sees a file an earlier one wrote", r)
    expect([x.get("passed") for x in t] == [True, False, False, True, False, None],
           "per-test verdicts", r)
    expect([x["usage"]["status"] for x in t] == ["ok", "ok", "time_limit", "ok", "ok", "ok"],
           "the timeout is reported and the tests after it still run", r)
    expect(t[5]["stdout"] == "15\n", "a test without expectation has its output", r)
    expect(a["summary"] == {"tests": 6, "passed": 2, "failed": 3, "not_run": 0}, "summary", r)
    expect(a["usage"]["status"] == "time_limit" and a["usage"]["build"]["status"] == "ok",
           "the run's status is its first test not ok", r)


@suite.test
def tests_past_the_run_deadline_are_not_run():
    payload = {"command": "sleep 5", "files": [],
               "tests": [{"stdin": ""}, {"stdin": ""}, {"stdin": ""}, {"stdin": ""}]}
    r = run(TINY, payload, {"execution_time": "1s"})
    a = answer(r)
    statuses = [x["usage"]["status"] for x in a["tests"]]
    expect(statuses[0] == "time_limit" and statuses[-1] == "not_run", "late tests not run", r)
    expect(a["summary"]["not_run"] >= 1 and a["usage"]["status"] == "time_limit", "summary", r)
    expect(r.seconds < 8, "the run ends at the image's run_deadline of 3 s", r)


@suite.test
def tests_over_the_cap_are_400():
    r = run(PYTHON, py("print(1)", tests=[{"stdin": ""}] * 9))
    expect_error(r, 400, "request.payload")
    expect("payload.tests" in r.json["message"] and "8" in r.json["message"], "names the cap", r)
    r = run(PYTHON, py("print(1)", tests=[{"stdin": "x" * 40000}] * 2))
    expect_error(r, 400, "request.payload")
    r = run(PYTHON, py("print(1)", tests=[{"stdin": 1}]))
    expect_error(r, 400, "request.payload")


@suite.test
def without_limits_or_tests_the_answer_has_glots_fields_and_usage():
    a = answer(run(PYTHON, py("print('hi')")))
    expect(set(a) == {"stdout", "stderr", "error", "duration", "usage"}, "glot's fields and usage", a)
    expect(a["stdout"] == "hi\n" and a["error"] == "" and isinstance(a["duration"], int), "glot's values", a)
    expect("build" not in a["usage"], "no build step, no build usage", a)


@suite.test
def limits_inside_the_payload_are_not_the_clients_to_set():
    a = answer(run(PYTHON, py("import time\ntime.sleep(0.5)\nprint('done')",
                              limits={"execution_time": 100})))
    expect(a["usage"]["status"] == "ok" and a["stdout"] == "done\n",
           "payload.limits is dropped without a request's limits", a)


if __name__ == "__main__":
    suite.main()
