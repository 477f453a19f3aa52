#!/usr/bin/env bash
# Reruns every benchmark of BENCHMARKS.md and writes a report with the machine's details.
#
# Usage: scripts/bench.sh           full run: decode + render up to 10,000 subtasks, the
#                                   end-to-end scrape benchmark at 1,000 subtasks (full:
#                                   the simulator, then the grpcio server with the bare
#                                   fetch, the exporter and the Python baseline, an
#                                   emulated round trip and the HTTP/2 window sweep) and
#                                   at 10,000 subtasks (short, simulator only), and the
#                                   fleet scale benchmark at 1, 100, 1,000 and 5,000 jobs
#                                   (issue 18); about 25 minutes
#        scripts/bench.sh short     the short runs the test command makes (a few minutes)
#
# Needs .tmp/venv with scripts/requirements-test.txt (grpcio, prometheus_client) for the
# end-to-end benchmark's Python parts; it fails with the install hint without them.
#
# Environment: BENCH_PIN=0 leaves decode_render unpinned (by default it runs on the last
# CPU with taskset, when taskset exists, so it measures one core without migrations).
#
# Output: the full log in .tmp/bench-<time>.log and the tables, with the machine, in
# .tmp/bench-<time>.md.
set -euo pipefail

cd "$(dirname "$0")/.."
mode=${1:-full}
case $mode in
full | short) ;;
*)
    echo "usage: scripts/bench.sh [full|short]" >&2
    exit 2
    ;;
esac
export CARGO_TERM_COLOR=never

mkdir -p .tmp
stamp=$(date -u +%Y%m%d-%H%M%S)
log=.tmp/bench-$stamp.log
report=.tmp/bench-$stamp.md

{
    echo "# arroyo-exporter benchmarks ($mode run, $(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- nproc: $(nproc)"
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "- rustc: $(rustc --version)"
    echo "- git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + local changes')"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$report"
cat "$report"

pin=()
if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null; then
    pin=(taskset -c "$(($(nproc) - 1))")
fi

# Build first (on every core), then measure.
cargo bench --bench decode_render --bench scrape_e2e --bench fleet --no-run 2>&1 | tail -n 3

run() {
    echo "\$ $*" | tee -a "$log"
    "$@" 2>&1 | tee -a "$log" \
        | grep -E '^(#|\||Largest |tests/interop/|Loopback:|Through a proxy|Bare fetch by|Real binary, default|Ratios against|bench-target: |$)' \
        | cat -s | tee -a "$report"
}

if [ "$mode" = full ]; then
    run env BENCH_FULL=1 ${pin[@]+"${pin[@]}"} cargo bench --bench decode_render
    run cargo bench --bench scrape_e2e
    # At 10,000 subtasks the Python baseline would need minutes and gigabytes per
    # scrape: the comparison with it runs at 1,000 subtasks only.
    run env E2E_SUBTASKS=10000 BENCH_SHORT=1 E2E_INTEROP=0 E2E_TARGETS=0 cargo bench --bench scrape_e2e
    # Fleet scale (issue 18): the real binary with default settings, 1 to 5,000 jobs.
    run cargo bench --bench fleet
else
    run ${pin[@]+"${pin[@]}"} cargo bench --bench decode_render -- --warm-up-time 0.2 --measurement-time 0.5 --sample-size 10
    run env BENCH_SHORT=1 cargo bench --bench scrape_e2e
fi

echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$report"
echo
echo "report: $report"
echo "log:    $log"
