"""Shared helpers for the operations tests (run by scripts/test-ops.sh)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "deploy" / "prometheus" / "tests"
ALERTS_FILE = RULES_DIR / "arroyo-alerts.yml"
RECORDING_FILE = RULES_DIR / "arroyo-recording.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"

# Families arroyo-exporter exposes (issues 2 and 3), and what Prometheus adds itself.
EXPORTER_METRICS = {
    *(f"arroyo_subtask_{m}_per_second" for m in
      ("received_messages", "sent_messages", "received_bytes", "sent_bytes")),
    "arroyo_subtask_backpressure_ratio",
    *(f"arroyo_operator_{m}_per_second" for m in
      ("received_messages", "sent_messages", "received_bytes", "sent_bytes")),
    "arroyo_operator_backpressure_ratio",
    "arroyo_operator_info",
    "arroyo_operator_edge_info",
    "arroyo_operator_bottleneck",
    "arroyo_operator_parallelism",
    "arroyo_job_state",
    "arroyo_job_running_desired",
    "arroyo_job_run_id",
    "arroyo_job_start_time_seconds",
    "arroyo_job_tasks",
    "arroyo_job_failure_info",
    "arroyo_job_last_checkpoint_epoch",
    "arroyo_job_last_checkpoint_completed_timestamp_seconds",
    "arroyo_job_last_checkpoint_duration_seconds",
    "arroyo_job_checkpoint_in_progress_seconds",
    "arroyo_job_metrics_last_sample_timestamp_seconds",
    "arroyo_pipeline_info",
    "arroyo_pipeline_checkpoint_interval_seconds",
    # issue 11: checkpoint size and phases, job errors, Arroyo's version
    "arroyo_job_last_checkpoint_bytes",
    "arroyo_operator_last_checkpoint_bytes",
    "arroyo_operator_last_checkpoint_phase_seconds",
    "arroyo_job_errors_total",
    "arroyo_job_last_error_timestamp_seconds",
    "arroyo_build_info",
    "arroyo_up",
    "arroyo_exporter_collector_success",
    "arroyo_exporter_collector_duration_seconds",
    "arroyo_exporter_build_info",
    "arroyo_exporter_job_scrape_success",
    "arroyo_exporter_scrapes_total",
    "arroyo_exporter_upstream_errors_total",
    "arroyo_exporter_upstream_requests_total",
    "arroyo_exporter_stale_series_dropped_total",
    # issue 18: when the budgeted collectors read each job, their budgets and periods
    "arroyo_exporter_job_read_timestamp_seconds",
    "arroyo_exporter_read_timestamp_seconds",
    "arroyo_exporter_api_calls_per_second_limit",
    "arroyo_exporter_refresh_period_seconds",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_start_time_seconds",
}
PROMETHEUS_METRICS = {"up", "scrape_duration_seconds", "ALERTS"}
# kafka_exporter (danielqsj), read by the pipeline dashboard's Kafka source lag row.
KAFKA_EXPORTER_METRICS = {"kafka_consumergroup_lag"}
# Arroyo's own worker metrics (deploy/prometheus/arroyo-metrics/), which some recording
# rules read.
ARROYO_METRICS = {
    *(f"arroyo_worker_{m}" for m in
      ("messages_recv", "messages_sent", "bytes_recv", "bytes_sent", "batches_recv",
       "batches_sent", "deserialization_errors", "tx_queue_size", "tx_queue_rem",
       "tx_bytes")),
    "arroyo_controller_jobs",
}

PROMQL_KEYWORDS = {
    # functions and aggregations used (followed by "(") are skipped by the scanner;
    # these are the bare words it may meet
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
    "unless", "offset", "bool", "inf", "nan", "Inf", "NaN",
}


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def recording_rules():
    return [r for g in load_yaml(RECORDING_FILE)["groups"] for r in g["rules"]]


def alert_rules():
    return [r for g in load_yaml(ALERTS_FILE)["groups"] for r in g["rules"]]


def rule_groups():
    return [g for p in sorted(RULES_DIR.glob("*.yml")) for g in load_yaml(p)["groups"]]


_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES_RE = re.compile(r"\{[^{}]*\}")
_GROUPING_RE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT_RE = re.compile(r"(?<![\w:.$])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(\s*\()?")
_DURATION_RE = re.compile(r"\[[^\]]*\]")


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (a scanner good enough for our own rules)."""
    s = _STRING_RE.sub('""', expr)
    s = _BRACES_RE.sub("{}", s)
    s = _GROUPING_RE.sub(" ", s)
    s = _DURATION_RE.sub("[]", s)
    s = re.sub(r"\boffset\s+\w+", " ", s)
    names = set()
    for m in _IDENT_RE.finditer(s):
        word, call = m.group(1), m.group(2)
        if call or word in PROMQL_KEYWORDS or re.fullmatch(r"\d.*", word):
            continue
        names.add(word)
    return names


@pytest.fixture(scope="session")
def dashboards():
    return {p.name: load_json(p) for p in sorted(DASHBOARD_DIR.glob("*.json"))}
