"""Scraping Arroyo's own metrics (deploy/prometheus/arroyo-metrics/) and the recording
rules over them:

- the PodMonitor and ServiceMonitor are valid prometheus-operator objects and set the
  fallback scrape protocol Prometheus 3 needs for Arroyo's octet-stream answers;
- the plain scrape jobs are a valid Prometheus configuration (checked by promtool 2.x
  without the Prometheus 3 key) and keep only Arroyo's worker pods;
- the worker series the rules read are the ones a real Arroyo worker serves, with the
  labels the rules join on.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ARROYO_METRICS, ROOT, recording_rules

DIR = ROOT / "deploy" / "prometheus" / "arroyo-metrics"
WORKER_CAPTURE = ROOT / "tests" / "fixtures" / "arroyo-main-addb390" / "worker_metrics.txt"
WORKER_HEADERS = WORKER_CAPTURE.with_name("worker_metrics.headers.txt")


def monitors():
    return [d for d in yaml.safe_load_all((DIR / "monitors.yaml").read_text()) if d]


def test_monitors_are_valid_prometheus_operator_objects():
    tool = os.environ.get("OPS_CRD_VALIDATOR")
    if not tool or not shutil.which("node"):
        pytest.fail("OPS_CRD_VALIDATOR not set or node missing (scripts/test-ops.sh installs it)")
    objs = monitors()
    assert {o["kind"] for o in objs} == {"PodMonitor", "ServiceMonitor"}
    payload = json.dumps([{"source": "monitors.yaml", "object": o} for o in objs])
    r = subprocess.run(["node", str(Path(tool) / "validate.mjs")], input=payload,
                       capture_output=True, text=True, cwd=tool)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 checked, 0 failed" in r.stdout, r.stdout


def test_monitors_handle_octet_stream_and_job_id():
    assert "application/octet-stream" in WORKER_HEADERS.read_text().lower()
    for o in monitors():
        assert o["spec"]["fallbackScrapeProtocol"] == "PrometheusText0.0.4", o["kind"]
    pod = next(o for o in monitors() if o["kind"] == "PodMonitor")
    assert {"job_id", "run_id"} <= set(pod["spec"]["podTargetLabels"])
    keys = {e["key"] for e in pod["spec"]["selector"]["matchExpressions"]}
    assert {"job_id", "run_id"} <= keys
    assert [e["port"] for e in pod["spec"]["podMetricsEndpoints"]] == ["admin"]


def test_scrape_configs(tmp_path):
    doc = yaml.safe_load((DIR / "scrape-configs.yml").read_text())
    jobs = doc["scrape_configs"]
    assert {j["job_name"] for j in jobs} == {"arroyo-workers", "arroyo-controller"}
    for j in jobs:
        assert j.pop("fallback_scrape_protocol") == "PrometheusText0.0.4", j["job_name"]
    workers = next(j for j in jobs if j["job_name"] == "arroyo-workers")
    targets = {r.get("target_label") for r in workers["relabel_configs"]}
    assert "job_id" in targets, "worker series need the pod's job_id to join the exporter's"
    # Debian's Prometheus 2.42 is built without Kubernetes service discovery, and does
    # not know the Prometheus 3 key removed above: check the discovery blocks here and
    # everything else (authorization, relabelling) with its promtool.
    for j in jobs:
        (sd,) = j.pop("kubernetes_sd_configs")
        assert set(sd) <= {"role", "namespaces"} and sd["role"] in {"pod", "endpoints"}
        assert isinstance(sd["namespaces"]["names"], list)
        j["static_configs"] = [{"targets": ["localhost:6901"]}]
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({"scrape_configs": jobs}))
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool not installed (scripts/test-ops.sh installs it)")
    r = subprocess.run([promtool, "check", "config", "--syntax-only", str(cfg)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_rules_read_what_a_real_worker_serves():
    text = WORKER_CAPTURE.read_text()
    served = set(re.findall(r"^(arroyo_worker_\w+)\{", text, re.M))
    worker_rules = [r for r in recording_rules() if "arroyo_worker_" in r["expr"]]
    assert worker_rules
    for r in worker_rules:
        used = set(re.findall(r"\barroyo_worker_\w+", r["expr"]))
        assert used <= served, f"{r['record']}: {used - served} not served by a worker"
        assert used <= ARROYO_METRICS
    for name in served:
        labels = re.search(rf"^{name}\{{([^}}]*)\}}", text, re.M).group(1)
        assert 'node_id="' in labels and 'subtask_idx="' in labels, name
