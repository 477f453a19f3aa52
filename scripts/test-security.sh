#!/usr/bin/env bash
# Supply-chain checks with cargo-deny: licenses, bans (banned crates, wildcard versions),
# sources (crates.io only) and security advisories (RustSec).
#
# Installs cargo-deny from crates.io when it is missing. The advisory database is fetched
# from GitHub; where only package registries are reachable (this project's CI), the
# advisories check is skipped with a notice and the other three still run. Set
# REQUIRE_ADVISORIES=1 to make an unreachable database a failure.
#
# Usage: scripts/test-security.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deny >/dev/null 2>&1; then
    echo "installing cargo-deny (cargo install --locked cargo-deny)"
    cargo install --locked cargo-deny
fi
cargo deny --version

checks=(licenses bans sources)
if timeout 120 cargo deny fetch >/tmp/cargo-deny-fetch.log 2>&1; then
    checks+=(advisories)
else
    if [ "${REQUIRE_ADVISORIES:-0}" = 1 ]; then
        cat /tmp/cargo-deny-fetch.log >&2
        echo "advisory database unreachable and REQUIRE_ADVISORIES=1" >&2
        exit 1
    fi
    echo "NOTICE: the RustSec advisory database could not be fetched (no network besides"
    echo "        package registries?): advisories NOT checked; licenses, bans and sources are."
fi

# --workspace: every package of the workspace is a root (the exporter and the simulator,
# crates/arroyo-sim, with its own dev-dependencies); fuzz/ is a workspace of its own.
echo "cargo deny --workspace check ${checks[*]}"
cargo deny --workspace --log-level error check --hide-inclusion-graph "${checks[@]}"
