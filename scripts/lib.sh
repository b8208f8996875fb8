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
