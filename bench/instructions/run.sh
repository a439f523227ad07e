#!/usr/bin/env bash
# Instructions per operation, counted by callgrind: `POST /session`, and `tools/call` echo on the
# Construct path and on the standard 2025-11-25 path, for the daemon and for the ceiling
# (construct-bench's bare actix-web server, which answers sessions and Construct calls). Counts
# are repeatable to ~0.01% whatever else the machine does, so they show a change of 1% that the
# timed benchmark's noise (±10% between runs) hides. They cover user space
# only (the kernel's TCP work is outside), one request at a time (c=1), under valgrind's CPU
# model: a rep-prefixed instruction counts once per repetition, so memset/memcpy weigh more than
# they cost natively. Compare builds with them; quote CPU time from construct-bench.
#
# Usage: bench/instructions/run.sh [daemon-binary] [count]   (needs valgrind and python3)
#   default daemon: target/release/construct-actor; the ceiling is target/release/construct-bench.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
daemon=${1:-$repo/target/release/construct-actor}
count=${2:-1000}
bench=${BENCH:-$repo/target/release/construct-bench}
work=$(mktemp -d)
# The server under measurement, if one is running: ended with the script, however it ends.
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# A key of this run's own: the daemon listens on loopback for minutes.
INSTRUCTIONS_API_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
export INSTRUCTIONS_API_KEY
cat > "$work/daemon.toml" <<TOML
[server]
bind = "127.0.0.1"
port = 0
[discovery]
enabled = false
[security]
api_keys = ["$INSTRUCTIONS_API_KEY"]
[tools]
workspace_roots = ["$work"]
[sessions]
max_sessions = 100000
create_per_minute = 1000000000
[log]
level = "warn"
TOML

# Runs "$@" under callgrind, drives it as $mode, prints "<mode> <dump>: <instructions per op>".
measure() {
    local mode=$1; shift
    # From the work folder, which is the daemon's default workspace (its only root).
    (cd "$work" && exec valgrind --tool=callgrind --callgrind-out-file="$work/$mode.%p" "$@" \
        > "$work/$mode.out" 2> "$work/$mode.err") &
    pid=$!
    local url=""
    for _ in $(seq 1 240); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/$mode.out" | head -1 || true)
        [ -n "$url" ] || ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.5
    done
    [ -n "$url" ] || { cat "$work/$mode.err" >&2; echo "$mode did not start" >&2; exit 1; }
    python3 "$here/drive.py" "$pid" "$url" "$count" "$mode"
    kill "$pid"
    wait "$pid" || true
    pid=""
    for dump in "$work/$mode".*.[0-9]*; do
        local name total
        name=$(sed -n 's/^desc: Trigger: dump //p' "$dump" | head -1)
        total=$(sed -n 's/^\(summary\|totals\): \([0-9]*\).*/\2/p' "$dump" | head -1)
        echo "$mode $name: $((total / count)) instructions per operation"
    done
}

measure daemon "$daemon" --config "$work/daemon.toml"
measure ceiling "$bench" ceiling --queue 256
