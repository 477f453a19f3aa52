#!/usr/bin/env bash
# Runs every test of arroyo-exporter on a fresh machine. It installs what the tests need
# first (Debian's prometheus package for a real Prometheus and promtool; Python packages
# for the strict OpenMetrics parser and the deployment checks), then runs formatting,
# lints, the Rust test suites, the rules/dashboards/deployment checks and a short
# benchmark run so the benchmarks cannot rot.
#
# Usage: scripts/test.sh            (everything)
#        SKIP_INSTALL=1 scripts/test.sh   (tools already installed)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=never

log() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    log "installing test dependencies"
    if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
    fi
    # The Debian package may start a service in some environments; tests start their own.
    venv="$root/.tmp/venv"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-test.txt
fi
export PATH="$root/.tmp/venv/bin:$PATH"
command -v prometheus >/dev/null || { echo "prometheus not installed" >&2; exit 1; }
command -v promtool >/dev/null || { echo "promtool not installed" >&2; exit 1; }
python3 -c 'import prometheus_client' || { echo "python prometheus_client not installed" >&2; exit 1; }

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The simulator's binary belongs to another package (crates/arroyo-sim): cargo does not
# build it for the exporter's tests, so build it first; tests/ops_live.rs runs it from
# the same target directory as the exporter's binary.
log "cargo build -p arroyo-sim --bin arroyo-exporter-sim"
cargo build --locked -p arroyo-sim --bin arroyo-exporter-sim

log "cargo test --workspace"
cargo test --workspace --all-targets --locked 2>&1 | tee .tmp/cargo-test.log
rust_passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' .tmp/cargo-test.log | awk '{s+=$4} END {print s+0}')

if [ -f scripts/test-ops.sh ]; then
    log "rules, dashboards and deployment files"
    bash scripts/test-ops.sh
fi

log "supply chain: licenses, bans, sources, advisories (cargo deny)"
bash scripts/test-security.sh

log "fuzzing: every target for ${FUZZ_SECONDS:-15} s"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-15}"

if [ -d benches ] && ls benches/*.rs >/dev/null 2>&1; then
    log "benchmarks (short run, so they keep building and running)"
    cargo bench --locked --bench decode_render -- --warm-up-time 0.2 --measurement-time 0.5 --sample-size 10 >.tmp/bench.log 2>&1 \
        || { cat .tmp/bench.log; exit 1; }
    BENCH_SHORT=1 cargo bench --locked --bench scrape_e2e >>.tmp/bench.log 2>&1 \
        || { cat .tmp/bench.log; exit 1; }
    tail -n 40 .tmp/bench.log
fi

log "all tests passed"
echo "rust: ${rust_passed} passed, 0 failed"
