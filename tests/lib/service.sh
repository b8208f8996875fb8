# shellcheck shell=bash
# Start and stop a private runboxd + nginx for the test suites; source it
# after scripts/lib.sh, do not run it.
#
#   service_start INI_EXTRA   write an INI ([server] from here, then
#                             INI_EXTRA: [limits], [image.*], ...), check it
#                             with runboxd -t, start runboxd and an nginx on
#                             https://127.0.0.1:$port, wait until it answers,
#                             export the RUNBOX_* variables the suites read
#   service_stop              stop runboxd (SIGTERM, as an operator would) and
#                             nginx; returns once runboxd has exited
#   service_check_clean       after service_stop: print "ok NAME" / "FAIL NAME"
#                             for: no container of the instance left, no
#                             sanitizer report in the log, no runboxd left;
#                             counted in scripts/lib.sh's passed / failed
#   service_cleanup           for an EXIT trap: kill what is left, remove the
#                             work dir (service_start installs this trap)
#
# Knobs (environment): RUNBOX_TEST_PORT (18443), RUNBOXD
# ($top/_build/test/runboxd), SERVICE_WORKERS (4), SERVICE_MAX_BODY (256K),
# SERVICE_READ_TIMEOUT (nginx's FastCGI read timeout in seconds, 30).
# After service_start: $service_work (the work dir), $service_log (runboxd's
# log), $service_master (runboxd's pid), $service_instance.

service_port=${RUNBOX_TEST_PORT:-18443}
service_runboxd=${RUNBOXD:-$top/_build/test/runboxd}
service_work='' service_master='' service_instance='' service_log=''

service_cleanup() {
    [ -n "$service_work" ] || return 0
    if [ -f "$service_work/nginx/nginx.pid" ]; then
        kill "$(cat "$service_work/nginx/nginx.pid")" 2>/dev/null || true
    fi
    [ -z "$service_master" ] || kill "$service_master" 2>/dev/null || true
    rm -rf "$service_work"
    service_work=
}

service_start() {
    local extra=$1 max_body=${SERVICE_MAX_BODY:-256K}
    [ -x "$service_runboxd" ] || die "$service_runboxd not built (run make first)"
    need_cmd nginx curl python3 docker
    service_work=$(mktemp -d /tmp/runbox-test.XXXXXX)
    service_instance=test-$$
    service_log=$service_work/runboxd.log
    trap service_cleanup EXIT

    head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$service_work/token"
    chmod 600 "$service_work/token"
    local user_lines=
    if [ "$(id -u)" -eq 0 ]; then
        # runboxd drops root to the user runbox (scripts/setup-host adds it):
        # it must read its token and remove its socket and pid file here.
        id runbox >/dev/null 2>&1 || die "no user runbox (run scripts/setup-host)"
        chown runbox:runbox "$service_work"
        chmod 755 "$service_work"
        chgrp runbox "$service_work/token"
        chmod 640 "$service_work/token"
        user_lines="user = runbox"
    fi
    {
        cat <<INI
[server]
listen = $service_work/runbox.sock
listen_mode = 0666
workers = ${SERVICE_WORKERS:-4}
access_token_file = $service_work/token
max_body_size = $max_body
instance = $service_instance
shutdown_timeout = 20s
; The suites send bursts (20 runs at once) that must all run, not be shed
; as the shipped 5s would on a loaded machine (test_queue.py tests
; shedding), and under nginx's 30 s read timeout.
queue_timeout = 20s
pid_file = $service_work/runboxd.pid
$user_lines

INI
        printf '%s\n' "$extra"
    } >"$service_work/runbox.ini"
    "$service_runboxd" -t -c "$service_work/runbox.ini" >/dev/null
    "$top/scripts/make-cert" "$service_work" 2>/dev/null
    "$top/scripts/render-nginx" "$service_work/nginx" "$service_port" \
        "$service_work/cert.pem" "$service_work/key.pem" \
        "unix:$service_work/runbox.sock" "$(tr 'KMG' 'kmg' <<<"$max_body")" \
        "${SERVICE_READ_TIMEOUT:-30}" 2>/dev/null

    # ASan's leak checker runs when a worker exits; keep its reports in the log.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
    "$service_runboxd" -c "$service_work/runbox.ini" >"$service_log" 2>&1 &
    service_master=$!
    nginx -p "$service_work/nginx" -c "$service_work/nginx/nginx.conf" \
        -e "$service_work/nginx/logs/error.log"
    for _ in $(seq 50); do
        curl -skf "https://127.0.0.1:$service_port/" >/dev/null 2>&1 && break
        sleep 0.2
    done
    if ! curl -skf "https://127.0.0.1:$service_port/" >/dev/null; then
        cat "$service_log" >&2
        die "runboxd did not come up"
    fi

    RUNBOX_TOKEN=$(cat "$service_work/token")
    export RUNBOX_URL="https://127.0.0.1:$service_port" RUNBOX_TOKEN
    export RUNBOX_INSTANCE=$service_instance RUNBOX_CAFILE=$service_work/cert.pem
    export RUNBOX_MASTER_PID=$service_master RUNBOX_LOG=$service_log
    export RUNBOX_CONF=$service_work/runbox.ini
}

service_stop() {
    if [ -n "$service_master" ] && kill -0 "$service_master" 2>/dev/null; then
        kill -TERM "$service_master"
        wait "$service_master" || true
    fi
    service_master=
    if [ -f "$service_work/nginx/nginx.pid" ]; then
        kill "$(cat "$service_work/nginx/nginx.pid")" 2>/dev/null || true
    fi
}

_service_no_containers() {
    [ -z "$(docker ps -aq --filter "label=runbox.instance=$service_instance")" ]
}
_service_no_sanitizer_reports() {
    ! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$service_log"
}
_service_no_runboxd_left() {
    ! pgrep -f "runboxd -c $service_work/runbox.ini" >/dev/null
}

service_check_clean() {
    local before=$failed
    check no_container_left_after_the_suites _service_no_containers
    check no_sanitizer_reports _service_no_sanitizer_reports
    check no_runboxd_process_left _service_no_runboxd_left
    [ "$failed" -eq "$before" ]
}
