#!/usr/bin/env python3
"""SIGHUP reloads the INI: under a steady stream of runs no request fails,
a broken file is logged and changes nothing, a changed limit takes effect
for the next run, and a key read at start only is logged and kept."""
import os
import re
import signal
import threading
import time

import service
from service import Service, Suite, TINY, expect, sh, wait_for

suite = Suite("reload")

LOAD_SECONDS = 20
CLIENTS = 3
HUP_AT = (3, 7, 11, 15)  # seconds into the load; the second one is broken


@suite.test
def reload_under_load_fails_no_request():
    with Service({"server": {"workers": "3"}}) as svc:
        results, lock = [], threading.Lock()
        stop = time.monotonic() + LOAD_SECONDS

        def client(n):
            i = 0
            while time.monotonic() < stop:
                i += 1
                word = "c%d-r%d" % (n, i)
                try:
                    r = svc.run(TINY, sh("echo " + word), timeout=30)
                    ok = (r.status == 200 and r.json is not None and
                          r.json.get("stdout") == word + "\n" and r.json.get("error") == "")
                    what = r
                except OSError as e:
                    ok, what = False, e
                with lock:
                    results.append((ok, what))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        start = time.monotonic()
        for t in threads:
            t.start()
        good = [{"server": {"max_requests": "500"}},
                {"server": {"workers": "4"}},
                {"limits": {"output_size": "32K"}}]
        for n, at in enumerate(HUP_AT):
            time.sleep(max(0.0, start + at - time.monotonic()))
            if n == 1:
                # Broken: the reload must be refused and the service go on as it was.
                svc.write_ini(text=svc.ini_text().replace("memory = 128M", "memory = lots"))
                svc.signal(signal.SIGHUP)
                svc.wait_log(r"reload failed, keeping the running configuration", 5)
                svc.write_ini()
            else:
                svc.write_ini(good.pop(0))
                svc.signal(signal.SIGHUP)
        for t in threads:
            t.join(60)
        failures = [what for ok, what in results if not ok]
        print("  %d runs by %d clients in %.1f s across %d SIGHUPs (1 broken): %d failed"
              % (len(results), CLIENTS, time.monotonic() - start, len(HUP_AT), len(failures)))
        expect(not failures, "no run failed: %r" % failures[:5])
        expect(len(results) >= 15, "a steady stream (%d runs)" % len(results))

        log = svc.log()
        failed = re.findall(r"reload failed, keeping the running configuration: (.*)", log)
        expect(len(failed) == 1, "one failed reload logged: %r" % failed)
        expect("[limits] memory: 'lots'" in failed[0], "it names the key: %r" % failed[0])
        expect(len(re.findall(r"reloaded \S+: generation \d+", log)) == 3,
               "three good reloads logged")
        s = svc.settled_status()
        expect(s["config_generation"] == 3 and s["reloads"] == 3,
               "status counts only the good reloads: %r" % s)
        # The old generation's last workers exit once their run is over.
        wait_for("the last good file's 4 workers",
                 lambda: svc.settled_status()["workers"]["total"] == 4, 10, 0.2)


def expect_cut_at(r, execution_ms):
    """The run was stopped by an execution_time of execution_ms: by the
    runner (a 200 with what was printed and the time it allowed, which is
    execution_time or, in the older scheme, up to 1 s less) or by runboxd's
    own deadline (a 400 naming execution_time)."""
    m = re.fullmatch(r"Timeout: killed after (\d+) ms", (r.json or {}).get("error", ""))
    by_runner = (r.status == 200 and r.json["stdout"] == "" and m is not None and
                 execution_ms - 1000 <= int(m.group(1)) <= execution_ms)
    by_service = (r.status == 400 and r.json["error"] == "limits.execution_time" and
                  r.json["message"] == "Max execution time exceeded (%d ms)" % execution_ms)
    expect(by_runner or by_service, "cut at execution_time %d ms" % execution_ms, r)


@suite.test
def broken_reload_keeps_the_running_configuration():
    with Service() as svc:
        before = svc.workers()
        svc.write_ini(text=svc.ini_text() + "\n[server]\nno_such_key = 1\n")
        svc.signal(signal.SIGHUP)
        m = svc.wait_log(r"reload failed, keeping the running configuration: (.*)", 5)
        expect(m.group(1).endswith("[server] no_such_key: unknown key"),
               "names the key: %s" % m.group(1))
        time.sleep(0.5)
        expect(svc.workers() == before, "workers were not replaced")
        s = svc.settled_status()
        expect(s["config_generation"] == 0 and s["reloads"] == 0, "no reload counted: %r" % s)
        r = svc.run(TINY, sh("echo still serving"))
        expect(r.status == 200 and r.json["stdout"] == "still serving\n", "still serving", r)


@suite.test
def lowered_execution_time_takes_effect_after_reload():
    with Service({"limits": {"execution_time": "8s"}}) as svc:
        r = svc.run(TINY, sh("sleep 3; echo slept"))
        expect(r.status == 200 and r.json["stdout"] == "slept\n" and r.json["error"] == "",
               "3 s fit in 8 s", r)
        old = set(svc.workers())
        svc.write_ini({"limits": {"execution_time": "2s"}})
        svc.signal(signal.SIGHUP)
        svc.wait_log(r"reloaded \S+: generation 1", 5)
        wait_for("old workers gone", lambda: not (old & set(svc.workers())), 10)
        svc.wait_workers(svc.worker_count)
        r = svc.run(TINY, sh("sleep 3; echo slept"))
        expect_cut_at(r, 2000)
        expect(r.seconds < 2.0 + 2.0, "answered soon after the new deadline", r)


@suite.test
def restart_only_keys_are_logged_and_kept():
    with Service() as svc:
        running, changed = svc.instance, svc.instance + "-new"
        old = set(svc.workers())
        # The INI's @INSTANCE@ is the running instance: write the new one.
        svc.write_ini({"server": {"instance": changed, "listen": "@WORK@/other.sock"}})
        svc.signal(signal.SIGHUP)
        svc.wait_log(r"reloaded \S+: generation 1", 5)
        log = svc.log()
        expect("reload: [server] instance changed from '%s' to '%s'; it takes effect at "
               "the next start, keeping '%s'" % (running, changed, running) in log,
               "the instance change is logged by name")
        expect(re.search(r"reload: \[server\] listen changed from '\S+/runbox\.sock' to "
                         r"'\S+/other\.sock'; it takes effect at the next start", log),
               "the listen change is logged by name")
        wait_for("old workers gone", lambda: not (old & set(svc.workers())), 10)
        svc.wait_workers(svc.worker_count)

        t, box = service.run_in_background(svc, "sleep 2; echo after")
        cid = svc.wait_running_container()
        label = service.docker("inspect", "--format",
                               '{{index .Config.Labels "runbox.instance"}}', cid).strip()
        expect(label == running, "the new workers' container carries the running "
               "instance label: %r" % label)
        t.join(30)
        r = box.get("reply")
        expect(r is not None and r.status == 200 and r.json["stdout"] == "after\n",
               "a run after the reload works through the running socket", r or box)
        expect(not os.path.exists(os.path.join(svc.work, "other.sock")),
               "the new listen path was not opened")
    left = service.docker("ps", "-aq", "--filter", "label=runbox.instance=" + running)
    left += service.docker("ps", "-aq", "--filter", "label=runbox.instance=" + changed)
    expect(not left.split(), "no container of either instance is left: %r" % left)


if __name__ == "__main__":
    service.main(suite)
