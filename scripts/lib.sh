# shellcheck shell=bash
# Common helpers for runbox scripts; source it, do not run it.
# Sets: top (absolute top of the source tree), prog (the calling script,
# relative to top, for messages).
# shellcheck disable=SC2034  # top and prog are for the scripts that source this

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prog=$(realpath -s --relative-to="$top" "$0" 2>/dev/null) || prog=${0##*/}
export DEBIAN_FRONTEND=noninteractive

log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

need_cmd() {
    local c
    for c; do
        command -v "$c" >/dev/null 2>&1 || die "'$c' not found (run scripts/setup-host as root)"
    done
}

# quietly LOGFILE CMD...: run CMD with its output in LOGFILE; on failure show the tail.
quietly() {
    local logfile=$1; shift
    if ! "$@" >"$logfile" 2>&1; then
        tail -n 30 "$logfile" >&2
        die "failed: $* (full log: $logfile)"
    fi
}

docker_up() { docker version >/dev/null 2>&1; }

# is_dynamic FILE: true if FILE is an ELF executable that needs a loader (not static).
is_dynamic() { LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; }

# Test tallies: the runners add to these and end with "NAME: N passed, N failed".
passed=0 failed=0

# check NAME COMMAND...: one more counted test, "ok" or "FAIL".
check() {
    if "${@:2}"; then passed=$((passed + 1)); echo "ok   $1"
    else failed=$((failed + 1)); echo "FAIL $1"; fi
}

# count_result NAME OUTPUT: add the last "NAME: N passed, N failed" line of
# OUTPUT to the tallies (NAME may be a pattern); none counts as one failure.
count_result() {
    local p f
    read -r p f < <(printf '%s\n' "$2" |
        sed -n -E "s/^$1: ([0-9]+) passed, ([0-9]+) failed\$/\\1 \\2/p" | tail -1) || true
    [ -n "${p:-}" ] || log "no '$1: N passed, N failed' line"
    passed=$((passed + ${p:-0})) failed=$((failed + ${f:-1}))
}

# run_suites DIR SUITE...: run each python suite of DIR (all test_*.py when
# none is named), show its output and count its result line.
run_suites() {
    local dir=$1 suite out
    shift
    local suites=("$@")
    [ ${#suites[@]} -gt 0 ] || mapfile -t suites < <(cd "$dir" && ls test_*.py)
    for suite in "${suites[@]}"; do
        log "suite $suite"
        out=$(timeout 900 python3 "$dir/$suite" 2>&1) || true
        printf '%s\n' "$out"
        count_result '[a-z_]+' "$out"
    done
}
