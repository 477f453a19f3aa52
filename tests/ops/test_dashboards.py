"""Lint of the Grafana dashboards: the conventions of issue 4.

- a `datasource` variable, and every datasource reference goes through it (no
  hard-coded datasource uid or name);
- template variables for pipeline and job on every dashboard, operator on the pipeline
  dashboard, all backed by the datasource variable;
- `$__rate_interval` for every range in a query;
- a unit and a description on every panel;
- stable uids and links between the three dashboards;
- every metric a query selects exists (an exporter family, a recording rule or a
  Prometheus series).
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import (DASHBOARD_DIR, EXPORTER_METRICS, KAFKA_EXPORTER_METRICS, PROMETHEUS_METRICS, ROOT,
                      metric_names, recording_rules)

EXPECTED = {
    "arroyo-overview.json": "arroyo-overview",
    "arroyo-pipeline.json": "arroyo-pipeline",
    "arroyo-exporter.json": "arroyo-exporter",
}
REQUIRED_VARS = {
    "arroyo-overview.json": {"datasource", "cluster", "pipeline", "job"},
    "arroyo-pipeline.json": {"datasource", "cluster", "pipeline", "job", "operator"},
    "arroyo-exporter.json": {"datasource", "cluster", "instance", "pipeline", "job"},
}
# Annotations every dashboard has (issue 12).
REQUIRED_ANNOTATIONS = {"Job restarts", "Job state changes", "Firing Arroyo alerts"}
DS_UIDS = {"${datasource}", "$datasource"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__url_time_range",
                    "__data", "__value", "__field", "__series"}


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def all_exprs(dash):
    """(where, expr) for every PromQL text in a dashboard."""
    for var in dash["templating"]["list"]:
        q = var.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if var.get("type") == "query":
            yield f"variable {var['name']}", q
    for ann in dash.get("annotations", {}).get("list", []):
        if ann.get("expr"):
            yield f"annotation {ann['name']}", ann["expr"]
    for p in walk_panels(dash["panels"]):
        for t in p.get("targets", []):
            yield f"panel {p['title']!r} {t.get('refId')}", t.get("expr", "")


def find_datasources(node, path="$"):
    """Every `datasource` value anywhere in the JSON, with its path."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "datasource":
                yield f"{path}.{k}", v
            yield from find_datasources(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from find_datasources(v, f"{path}[{i}]")


@pytest.fixture(params=sorted(EXPECTED), scope="module")
def dash(request, dashboards):
    return request.param, dashboards[request.param]


def test_the_three_dashboards_exist(dashboards):
    assert set(dashboards) == set(EXPECTED), sorted(dashboards)


def test_stable_uid_and_basic_fields(dash):
    name, d = dash
    assert d["uid"] == EXPECTED[name]
    assert d["title"].startswith("Arroyo / ")
    assert d.get("id") is None, "exported dashboards must not carry a database id"
    assert "arroyo" in d["tags"]
    assert isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 36
    assert d.get("description")


def test_datasource_variable(dash):
    _, d = dash
    ds = [v for v in d["templating"]["list"] if v["name"] == "datasource"]
    assert len(ds) == 1
    assert ds[0]["type"] == "datasource" and ds[0]["query"] == "prometheus"
    assert not ds[0].get("current"), "no preselected (hard-coded) data source"


def test_no_hard_coded_datasource(dash):
    _, d = dash
    found = list(find_datasources(d))
    assert found, "panels must name their data source (through the variable)"
    for path, ds in found:
        assert isinstance(ds, dict), f"{path}: data source given by name: {ds!r}"
        assert ds.get("uid") in DS_UIDS, f"{path}: hard-coded uid {ds.get('uid')!r}"
        assert ds.get("type") == "prometheus", f"{path}: {ds!r}"


def test_template_variables(dash):
    name, d = dash
    variables = {v["name"]: v for v in d["templating"]["list"]}
    missing = REQUIRED_VARS[name] - set(variables)
    assert not missing, f"missing variables {missing}"
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"]["uid"] in DS_UIDS
            assert v.get("refresh") in (1, 2), f"{v['name']} must refresh on load"
            assert v.get("multi") and v.get("includeAll"), \
                f"{v['name']}: multi-value with All keeps regex escaping on"


def test_cluster_variable_comes_first(dash):
    _, d = dash
    names = [v["name"] for v in d["templating"]["list"]]
    assert names[:2] == ["datasource", "cluster"], names
    assert names.index("cluster") < names.index("pipeline")
    for where, expr in all_exprs(d):
        if where == "variable cluster":
            continue
        for sel in re.findall(r"\b(?:arroyo_\w+|up|process_\w+|scrape_duration_seconds|ALERTS)"
                              r"(\{[^}]*\})", expr):
            assert 'cluster=~"$cluster"' in sel, f"{where}: selector {sel} ignores $cluster"


def test_annotations(dash):
    _, d = dash
    names = {a["name"] for a in d["annotations"]["list"]}
    assert REQUIRED_ANNOTATIONS <= names, REQUIRED_ANNOTATIONS - names
    for a in d["annotations"]["list"]:
        assert a["datasource"]["uid"] in DS_UIDS
        assert a.get("titleFormat") and a.get("expr")


def test_exporter_selector_in_every_query(dash):
    """No hard-coded scrape job besides the mixin's default selector, which every
    selector of the exporter's own series starts with."""
    _, d = dash
    for where, expr in all_exprs(d):
        for name, sel in re.findall(r"\b(arroyo_[a-z_]+|up|process_\w+|scrape_duration_seconds)"
                                    r"(\{[^}]*\})", expr):
            assert sel.startswith('{job="arroyo-exporter"'), f"{where}: {name}{sel}"


def test_variables_used_are_defined(dash):
    _, d = dash
    defined = {v["name"] for v in d["templating"]["list"]}
    text = str(d)
    for m in re.finditer(r"\$\{?([A-Za-z_]\w*)", text):
        name = m.group(1)
        if name in GRAFANA_BUILTINS or name.startswith("__"):
            continue
        assert name in defined, f"unknown variable ${name}"


def test_ranges_use_rate_interval(dash):
    _, d = dash
    for where, expr in all_exprs(d):
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
        for rng in re.findall(r"\[([^\]]*)\]", stripped):
            assert rng.strip() == "$__rate_interval", \
                f"{where}: range [{rng}] must be [$__rate_interval]"


def test_every_panel_has_unit_and_description(dash):
    _, d = dash
    for p in walk_panels(d["panels"]):
        if p["type"] == "row":
            assert p.get("title")
            continue
        assert (p.get("description") or "").strip(), f"panel {p['title']!r}: no description"
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
        assert unit, f"panel {p['title']!r}: no unit"
        assert p.get("targets"), f"panel {p['title']!r}: no query"


def test_panel_ids_unique_and_layout_sane(dash):
    _, d = dash
    panels = list(walk_panels(d["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    boxes = []
    for p in panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, f"{p['title']!r} outside the grid"
        for q, h in boxes:
            overlap = (g["x"] < h["x"] + h["w"] and h["x"] < g["x"] + g["w"]
                       and g["y"] < h["y"] + h["h"] and h["y"] < g["y"] + g["h"])
            assert not overlap, f"{p['title']!r} overlaps {q!r}"
        boxes.append((p["title"], g))
    for p in panels:
        refs = [t["refId"] for t in p.get("targets", [])]
        assert len(refs) == len(set(refs)), f"{p['title']!r}: duplicate refId"


def test_links_between_the_three(dash):
    name, d = dash
    urls = [link.get("url", "") for link in d.get("links", [])]
    for other, uid in EXPECTED.items():
        if other == name:
            continue
        assert any(re.search(rf"/d/{uid}(\b|/|\?|$)", u) for u in urls), \
            f"{name} has no link to {uid}"
    for link in d["links"]:
        assert link.get("keepTime") and link.get("includeVars"), link["title"]


def test_queries_select_known_metrics(dash):
    _, d = dash
    known = EXPORTER_METRICS | PROMETHEUS_METRICS | KAFKA_EXPORTER_METRICS | {r["record"] for r in recording_rules()}
    for where, expr in all_exprs(d):
        expr = re.sub(r"label_values\((.*),\s*\w+\)", r"\1", expr)
        unknown = metric_names(expr) - known
        assert not unknown, f"{where}: unknown metrics {unknown}"


def test_generated_files_are_current():
    r = subprocess.run([sys.executable, str(ROOT / "mixin" / "build.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_provisioning_points_at_the_dashboards():
    from conftest import load_yaml
    prov = load_yaml(ROOT / "grafana" / "provisioning" / "dashboards" / "arroyo.yml")
    path = prov["providers"][0]["options"]["path"]
    compose = load_yaml(ROOT / "deploy" / "compose" / "compose.yml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert any(m.endswith(f":{path}:ro") and "grafana/dashboards" in m for m in mounts), \
        "the compose stack must mount grafana/dashboards where the provider reads"
    ds = load_yaml(ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    assert ds["datasources"][0]["type"] == "prometheus"
    assert DASHBOARD_DIR.is_dir()
