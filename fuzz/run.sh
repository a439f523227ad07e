#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [SECONDS]   (default 60 s per target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz relies on nightly-only compiler
# flags (sanitizers, -Z options); on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks them, which
# this script sets unless the caller chose otherwise. Corpora grow in fuzz/corpus/<target>
# (seeded from fuzz/seeds/<target>), crashes land in fuzz/artifacts/<target>/; the script exits
# non-zero if any target found one this run. Turn each crash into a regression test: fix the
# bug, then copy the input into fuzz/regressions/<target>/, where tests/fuzz_regressions.rs (a
# normal `cargo test`) replays it through the same checks (fuzz/checks.rs). See fuzz/README.md.
#
# Environment: FUZZ_TARGETS="a b" to run only some targets; FUZZ_JOBS=N parallel jobs per target
# (default 1); FUZZ_SANITIZER=address|none (default address).
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_PER_TARGET="${1:-60}"
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
SANITIZER="${FUZZ_SANITIZER:-address}"
JOBS="${FUZZ_JOBS:-1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
echo "== building fuzz targets (sanitizer: $SANITIZER)"
cargo fuzz build -s "$SANITIZER" >/dev/null

# -jobs makes libFuzzer fork workers logging to fuzz-<n>.log: only when asked for.
parallel=()
if [ "$JOBS" -gt 1 ]; then
    parallel=(-jobs="$JOBS" -workers="$JOBS")
fi

failed=()
for target in $targets; do
    mkdir -p "corpus/$target" "artifacts/$target"
    marker="artifacts/$target/.run-started"
    touch "$marker"
    if [ -d "seeds/$target" ]; then
        cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
    fi
    log="artifacts/$target/last-run.log"
    echo "== $target: ${SECONDS_PER_TARGET}s"
    status=0
    # -rss_limit_mb bounds memory; -timeout flags any single input slower than 10 s as a hang.
    cargo fuzz run -s "$SANITIZER" "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
        "${parallel[@]}" -print_final_stats=1 >"$log" 2>&1 || status=$?
    # The summary: executions, speed, coverage, corpus size.
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" \
        | sed 's/^/   /' || true
    grep -E '#[0-9]+\s+(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | sed 's/^/   last: /' || true
    echo "   corpus: $(find "corpus/$target" -type f | wc -l) inputs"
    found="$(find "artifacts/$target" -maxdepth 1 -newer "$marker" \( -name 'crash-*' -o -name 'oom-*' \
        -o -name 'timeout-*' -o -name 'leak-*' \) -print)"
    if [ "$status" -ne 0 ] || [ -n "$found" ]; then
        echo "   FOUND A PROBLEM (exit $status); see $log" >&2
        echo "$found" | sed 's/^/   input: /' >&2
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -5 | sed 's/^/   /' >&2 || true
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "targets with findings: ${failed[*]}" >&2
    exit 1
fi
echo "no crash, hang or OOM found"
