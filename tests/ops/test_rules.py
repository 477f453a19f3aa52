"""Checks of the Prometheus rules beyond `promtool check rules` / `promtool test rules`
(which scripts/test-ops.sh runs itself):

- every alert has severity, summary, description, a runbook_url whose section exists in
  docs/runbooks.md, and a `for:`;
- descriptions name the pipeline (and the operator where the alert is about one);
- every alert has a unit test where it fires and one where it must stay silent; every
  recording rule is exercised by a unit test;
- recording rule names follow level:metric:operations;
- every metric a rule selects exists;
- every expression of the dashboards and rules parses (promtool, via extract_queries).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import extract_queries
from conftest import (ARROYO_METRICS, EXPORTER_METRICS, PROMETHEUS_METRICS, RULE_TESTS_DIR,
                      RUNBOOKS,
                      alert_rules, load_yaml, metric_names, recording_rules, rule_groups)

RUNBOOK_BASE = "https://github.com/arroyo-exporter/arroyo-exporter/blob/main/docs/runbooks.md#"
# Alerts about the exporter or the controller as a whole, not about one pipeline.
NOT_PER_PIPELINE = {"ArroyoExporterDown", "ArroyoControllerUnreachable",
                    "ArroyoExporterCollectorFailing", "ArroyoExporterTargetMissing",
                    "ArroyoApiUnreachable"}
PER_OPERATOR = {"ArroyoOperatorBackpressure", "ArroyoSubtaskSkew"}
# The alerts issue 4 asks for (more may exist).
REQUIRED_ALERTS = {
    "ArroyoExporterDown", "ArroyoControllerUnreachable", "ArroyoJobNotRunning",
    "ArroyoJobFailed", "ArroyoJobRestartLoop", "ArroyoThroughputDrop", "ArroyoInputStopped",
    "ArroyoOperatorBackpressure", "ArroyoCheckpointsStalled", "ArroyoMetricsStale",
    "ArroyoSubtaskSkew",
    # issue 12
    "ArroyoExporterTargetMissing", "ArroyoApiUnreachable", "ArroyoCheckpointsSlow",
    # issue 11
    "ArroyoCheckpointStateGrowing", "ArroyoJobErrors",
}


def github_anchor(heading: str) -> str:
    """GitHub's heading slug: lower case, punctuation dropped, spaces to dashes."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def runbook_anchors():
    text = RUNBOOKS.read_text(encoding="utf-8")
    return {github_anchor(m.group(1)): m.group(1)
            for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M)}


def unit_tests():
    tests = []
    for path in sorted(RULE_TESTS_DIR.glob("*.yml")):
        doc = load_yaml(path)
        for t in doc.get("tests", []):
            tests.append((path, doc, t))
    return tests


ALERTS = alert_rules()
RECORDS = recording_rules()


def test_required_alerts_present():
    # one alert name may have one rule per severity (ArroyoInputStopped), no more
    keys = [(a["alert"], a["labels"]["severity"]) for a in ALERTS]
    assert len(keys) == len(set(keys)), "duplicate alert rules"
    assert REQUIRED_ALERTS <= {a["alert"] for a in ALERTS}, \
        REQUIRED_ALERTS - {a["alert"] for a in ALERTS}


def alert_id(rule):
    return f"{rule['alert']}/{rule['labels']['severity']}"


@pytest.mark.parametrize("rule", ALERTS, ids=alert_id)
def test_alert_metadata(rule):
    name = rule["alert"]
    assert re.fullmatch(r"Arroyo[A-Z][A-Za-z]+", name)
    assert rule["labels"]["severity"] in {"critical", "warning"}
    ann = rule["annotations"]
    assert ann["summary"].strip() and "\n" not in ann["summary"].strip()
    desc = ann["description"]
    assert len(desc) > 40
    if name not in NOT_PER_PIPELINE:
        assert "$labels.pipeline_name" in desc and "$labels.pipeline_name" in ann["summary"], \
            f"{name}: summary and description must name the pipeline"
    if name in PER_OPERATOR:
        assert "$labels.operator_name" in desc, f"{name}: description must name the operator"
    for_ = rule.get("for", "")
    assert re.fullmatch(r"\d+[smh]", for_), f"{name}: needs a `for:` against flapping"
    seconds = int(for_[:-1]) * {"s": 1, "m": 60, "h": 3600}[for_[-1]]
    assert seconds >= 60, f"{name}: `for: {for_}` is too short to avoid flapping"
    keep = rule.get("keep_firing_for")
    if keep is not None:
        assert re.fullmatch(r"\d+[smh]", keep), f"{name}: keep_firing_for {keep!r}"


@pytest.mark.parametrize("rule", ALERTS, ids=alert_id)
def test_runbook_url_points_at_a_section(rule):
    url = rule["annotations"]["runbook_url"]
    assert url.startswith(RUNBOOK_BASE), url
    anchor = url[len(RUNBOOK_BASE):]
    assert anchor == rule["alert"].lower(), "anchor = alert name in lower case"
    anchors = runbook_anchors()
    assert anchor in anchors, f"docs/runbooks.md has no section #{anchor}"
    assert anchors[anchor] == rule["alert"], "the section heading is the alert name"


def test_every_runbook_section_has_an_alert():
    names = {a["alert"] for a in ALERTS}
    text = RUNBOOKS.read_text(encoding="utf-8")
    for heading in re.findall(r"^## (Arroyo\w+)\s*$", text, re.M):
        assert heading in names, f"runbook section {heading} has no alert"


@pytest.mark.parametrize("rule", ALERTS, ids=alert_id)
def test_alert_fires_and_stays_silent_in_unit_tests(rule):
    fires, silent = [], []
    for path, _doc, t in unit_tests():
        for case in t.get("alert_rule_test", []):
            if case["alertname"] != rule["alert"]:
                continue
            (fires if case.get("exp_alerts") else silent).append(f"{path.name}: {t['name']}")
    assert fires, f"no unit test where {rule['alert']} fires"
    assert silent, f"no unit test where {rule['alert']} must stay silent"


def record_id(rule):
    baseline = rule.get("labels", {}).get("baseline")
    return rule["record"] + (f"/{baseline}" if baseline else "")


@pytest.mark.parametrize("rule", RECORDS, ids=record_id)
def test_recording_rule_is_unit_tested(rule):
    exprs = [case["expr"] for _p, _d, t in unit_tests()
             for case in t.get("promql_expr_test", [])]
    assert any(rule["record"] in e for e in exprs), f"no promql_expr_test for {rule['record']}"


@pytest.mark.parametrize("rule", RECORDS, ids=record_id)
def test_recording_rule_naming(rule):
    # level:metric[:operations], level in the arroyo namespace
    assert re.fullmatch(r"arroyo(_[a-z]+)?:[a-z][a-z0-9_]*(:[a-z0-9_]+)?", rule["record"]), \
        rule["record"]


@pytest.mark.parametrize("rule", RECORDS + ALERTS,
                         ids=lambda r: record_id(r) if "record" in r else alert_id(r))
def test_rules_select_known_metrics(rule):
    known = (EXPORTER_METRICS | PROMETHEUS_METRICS | ARROYO_METRICS
             | {r["record"] for r in RECORDS})
    unknown = metric_names(rule["expr"]) - known
    assert not unknown, f"unknown metrics {unknown}"


def test_unit_tests_evaluate_recording_rules_first():
    names = [g["name"] for g in rule_groups()]
    for path in sorted(RULE_TESTS_DIR.glob("*.yml")):
        doc = load_yaml(path)
        files = [(path.parent / f).resolve() for f in doc["rule_files"]]
        for f in files:
            assert f.exists(), f"{path.name}: missing rule file {f}"
        order = doc.get("group_eval_order")
        if order is None:
            continue
        groups_loaded = [g["name"] for f in files for g in load_yaml(f)["groups"]]
        assert sorted(order) == sorted(groups_loaded), f"{path.name}: group_eval_order"
        recording = [n for n in order if n.startswith("arroyo.recording")]
        assert order[:len(recording)] == recording, f"{path.name}: recording rules first"
    assert len(names) == len(set(names)), "duplicate group names"


def test_all_expressions_parse(tmp_path: Path):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool not installed (scripts/test-ops.sh installs it)")
    queries = list(extract_queries.all_queries())
    assert len(queries) > 50
    for q in queries:
        # ($1 of label_replace is PromQL's, not a Grafana variable)
        assert not re.search(r"\$\{?[A-Za-z_]", q["expr"]), \
            f"{q['source']}: variable left in {q['expr']}"
    rules = [{"record": f"ops_check:expr_{i}", "expr": q["expr"]}
             for i, q in enumerate(queries)]
    path = tmp_path / "all-expressions.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "ops_check", "rules": rules}]}))
    r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        lines = r.stdout + r.stderr
        for m in re.finditer(r"expr_(\d+)", lines):
            print(queries[int(m.group(1))]["source"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_extract_queries_covers_every_source():
    sources = {q["source"].split("#")[0] for q in extract_queries.all_queries()}
    assert {"grafana/dashboards/arroyo-overview.json", "grafana/dashboards/arroyo-pipeline.json",
            "grafana/dashboards/arroyo-exporter.json", "deploy/prometheus/rules/arroyo-alerts.yml",
            "deploy/prometheus/rules/arroyo-recording.yml"} <= sources
    kinds = {q["kind"] for q in extract_queries.all_queries()}
    assert kinds == {"panel", "annotation", "variable", "record", "alert"}
