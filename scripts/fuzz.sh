#!/usr/bin/env bash
# Runs every cargo-fuzz (libFuzzer) target for a bounded time and reports executions
# and findings per target.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   scripts/fuzz.sh              20 s per target (what scripts/test.sh runs)
#   scripts/fuzz.sh 600          10 minutes per target, by hand
#   scripts/fuzz.sh 60 job_metrics
#
# Needs cargo-fuzz (installed here when missing) and a toolchain that accepts -Z flags:
# nightly, or stable with RUSTC_BOOTSTRAP=1 (set here). The corpus (fuzz/corpus/TARGET)
# is seeded from the captured fixtures in tests/fixtures and fuzz/seeds; it grows
# across runs. A crash leaves its input in fuzz/artifacts/TARGET and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-20}
shift || true
all_targets=(job_metrics metric_groups_envelope rest_jobs rest_pipelines rest_checkpoints
    rest_checkpoint_groups rest_job_errors admin_details config_toml web_config
    job_metrics_stream grpc_body)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz (cargo install --locked cargo-fuzz)"
    cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

fixtures="$root/tests/fixtures"
mkdir -p fuzz/corpus fuzz/artifacts .tmp

# Seeds: the fixtures, with long series cut to a few points (a small seed mutates
# faster), and the same documents in the camelCase shapes of older releases.
python3 - "$fixtures" fuzz/corpus <<'PY'
import json, os, sys, glob, hashlib
fixtures, out = sys.argv[1], sys.argv[2]
def put(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
def shrink_ops(ops, points=3):
    for op in ops:
        for g in op.get("metric_groups", op.get("metricGroups", [])):
            for s in g.get("subtasks", [])[:2]:
                s["metrics"] = s["metrics"][-points:]
            g["subtasks"] = g.get("subtasks", [])[:2]
    return ops
def camel(ops, legacy):
    res = []
    for op in ops:
        nid = op["node_id"]
        res.append({("operatorId" if legacy else "nodeId"): (f"op_{nid}" if legacy else nid),
                    "metricGroups": op["metric_groups"]})
    return res
def varint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])
def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except Exception:
        return None
for p in glob.glob(os.path.join(fixtures, "**", "*.json"), recursive=True):
    base = os.path.basename(p)
    doc = load(p)
    if doc is None:
        continue
    if base.startswith("job_metrics_rpc") and isinstance(doc, list):
        if not all(isinstance(op, dict) and "node_id" in op and "metric_groups" in op for op in doc):
            continue
        ops = shrink_ops(doc)
        put("job_metrics", json.dumps(ops, separators=(",", ":")))
        put("job_metrics", json.dumps(camel(ops, False)))
        put("job_metrics", json.dumps(camel(ops, True)))
        compact = json.dumps(ops, separators=(",", ":")).encode()
        # Streamed: a segment every 2nd / 40th byte, pieces of 7 / 1 bytes.
        put("job_metrics_stream", b"\x01\x06" + compact)
        put("job_metrics_stream", b"\x27\x00" + compact)
        # A plain gRPC frame around JobMetricsResp { metrics: compact }.
        message = b"\x0a" + varint(len(compact)) + compact
        put("grpc_body", b"\x00" + b"\x00" + len(message).to_bytes(4, "big") + message)
        put("metric_groups_envelope", json.dumps({"data": ops}))
    elif base.startswith("operator_metric_groups") and isinstance(doc, dict):
        doc["data"] = shrink_ops(doc.get("data", []))
        put("metric_groups_envelope", json.dumps(doc, indent=1))
    elif base.startswith(("jobs", "pipeline_jobs")):
        put("rest_jobs", open(p, "rb").read())
    elif base.startswith("operator_checkpoint_groups"):
        put("rest_checkpoint_groups", open(p, "rb").read())
    elif base.startswith("errors"):
        put("rest_job_errors", open(p, "rb").read())
    elif base.startswith(("pipelines", "pipeline")):
        put("rest_pipelines", open(p, "rb").read())
    elif base.startswith("checkpoints"):
        put("rest_checkpoints", open(p, "rb").read())
PY
for t in config_toml web_config admin_details; do
    mkdir -p "fuzz/corpus/$t"
    cp -f fuzz/seeds/$t/* "fuzz/corpus/$t/"
done
cp -f config/arroyo-exporter.toml fuzz/corpus/config_toml/seed-shipped.toml

# No AddressSanitizer by default: the exporter has no `unsafe` code, so ASan would watch
# only the dependencies' unsafe code, and it makes the build (the longest part of this
# script on a busy machine) about a fifth slower; what libFuzzer finds here are panics,
# overflows (debug assertions stay on) and timeouts. FUZZ_SANITIZER=address restores it.
sanitizer=${FUZZ_SANITIZER:-none}
# FUZZ_OPT_LEVEL (scripts/test.sh sets 1): the optimisation level of the fuzz build. Its
# 15-second smoke run spends most of its time building the whole dependency tree with
# coverage instrumentation; level 1 builds it faster and runs each input more slowly.
# Unset: the release profile's level 3, for long runs by hand.
if [ -n "${FUZZ_OPT_LEVEL:-}" ]; then
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=$FUZZ_OPT_LEVEL
fi
echo "==> building fuzz targets (sanitizer: $sanitizer, opt-level: ${FUZZ_OPT_LEVEL:-3})"
(cd fuzz && cargo fuzz build --release --sanitizer "$sanitizer" >"$root/.tmp/fuzz-build.log" 2>&1) || {
    tail -n 40 .tmp/fuzz-build.log
    exit 1
}

# fuzz_one TARGET: runs one target for $secs seconds; its result line goes to
# .tmp/fuzz-TARGET.result, its output to .tmp/fuzz-TARGET.log.
fuzz_one() {
    local t=$1 rc execs cov corpus log=.tmp/fuzz-$1.log
    local dict=()
    case $t in job_metrics|job_metrics_stream|metric_groups_envelope|rest_*) dict=("-dict=$root/fuzz/json.dict") ;; esac
    set +e
    (cd fuzz && cargo fuzz run --release --sanitizer "$sanitizer" "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${dict[@]}") >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n1 || true)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1 | grep -Eo '[0-9]+' || true)
    corpus=$(find "fuzz/corpus/$t" -type f 2>/dev/null | wc -l || true)
    if [ $rc -ne 0 ]; then
        echo "$t: FAILED (exit $rc) after ${execs:-?} executions; see $log and fuzz/artifacts/$t" >".tmp/fuzz-$t.result"
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -n 5 || true
    else
        echo "$t: ${execs:-?} executions in ${secs}s, coverage ${cov:-?}, corpus $corpus, 0 crashes" >".tmp/fuzz-$t.result"
    fi
    return $rc
}

# FUZZ_JOBS targets at a time (default: one per core). Each target is a single process,
# so on 2 cores two run side by side in the time of one; a target's time is wall time.
jobs=${FUZZ_JOBS:-$(nproc)}
summary=.tmp/fuzz-summary.txt
: >"$summary"
failed=0
running=0
for t in "${targets[@]}"; do
    rm -f ".tmp/fuzz-$t.result"
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
for t in "${targets[@]}"; do
    if [ -f ".tmp/fuzz-$t.result" ]; then
        cat ".tmp/fuzz-$t.result" >>"$summary"
    else
        echo "$t: FAILED (left no result; see .tmp/fuzz-$t.log)" >>"$summary"
        failed=1
    fi
done
echo
cat "$summary"
exit $failed
