#!/usr/bin/env python3
"""Print every PromQL expression of the dashboards and the rules, one JSON object a line.

    python3 tests/ops/extract_queries.py [--var NAME=VALUE ...] [--rate-interval 1m]

Each line is {"source": ..., "expr": ..., "kind": ..., "may_be_empty": ...}:
  source        where the expression lives, e.g.
                "grafana/dashboards/arroyo-pipeline.json#panel=12/Sent bytes/s/A" or
                "deploy/prometheus/rules/arroyo-alerts.yml#alert=ArroyoJobFailed"
  expr          the expression with Grafana variables replaced by concrete values:
                template variables (cluster, pipeline, job, operator, instance) by ".*"
                (all of ours are used with =~), $__rate_interval and $__interval by
                --rate-interval (default 1m), $__range by --range (default 1h)
  kind          panel | annotation | variable | record | alert
  may_be_empty  true where an empty answer is normal for a healthy, steady system:
                every alert expression (they select what is wrong), the panels
                and annotations listed in EMPTY_WHEN_HEALTHY and the recording rules
                listed in EMPTY_RECORDS below

Template variable queries `label_values(SELECTOR, LABEL)` are Grafana functions, not
PromQL; they are printed as `count by (LABEL) (SELECTOR)`, which returns data exactly
when the variable would have values.

Needs PyYAML (the ops venv has it).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"

DEFAULT_VARS = {"cluster": ".*", "pipeline": ".*", "job": ".*", "operator": ".*",
                "instance": ".*"}

# (dashboard file, panel or annotation title): why it is empty when all is well.
EMPTY_WHEN_HEALTHY = {
    ("arroyo-exporter.json", "Upstream errors/s"): "no upstream errors",
    ("arroyo-exporter.json", "Stale series dropped/s"): "no stale series",
    ("arroyo-overview.json", "Job restarts"): "no restart in the window",
    ("arroyo-pipeline.json", "Job restarts"): "no restart in the window",
    ("arroyo-exporter.json", "Job restarts"): "no restart in the window",
    **{(d, "Job state changes"): "no job changed state in the window"
       for d in ("arroyo-overview.json", "arroyo-pipeline.json", "arroyo-exporter.json")},
    **{(d, "Firing Arroyo alerts"): "no alert fires"
       for d in ("arroyo-overview.json", "arroyo-pipeline.json", "arroyo-exporter.json")},
    ("arroyo-pipeline.json", "Kafka source lag"): "needs kafka_exporter, which the tests do not run",
    ("arroyo-pipeline.json", "Bottleneck"): "no operator holds its job back",
    ("arroyo-overview.json", "Top bottlenecks"): "no operator holds its job back",
    **{(d, "Job error rows/min"): "no job writes error rows"
       for d in ("arroyo-overview.json", "arroyo-pipeline.json")},
    ("arroyo-pipeline.json", "Since the last error"): "no job has written an error row",
}

# (record, value of its `baseline` label or None): why it is empty on a system that has
# run for minutes, not days (as the live test's Prometheus has).
EMPTY_RECORDS = {
    ("arroyo_job:input_messages_per_second:baseline", "1d"): "needs a day of history",
    ("arroyo_job:input_messages_per_second:baseline", "1w"): "needs a week of history",
    ("arroyo_job:input_messages_per_second:baseline", "2w"): "needs two weeks of history",
    ("arroyo_job:input_messages_per_second:baseline", "3w"): "needs three weeks of history",
    ("arroyo_job:input_messages_per_second:seasonal", "day"): "needs a day of history",
    ("arroyo_job:input_messages_per_second:seasonal", "week"): "needs a week of history",
    ("arroyo_job:input_messages_per_second:level", None): "scales a seasonal shape: needs a day",
    ("arroyo_job:input_messages_per_second:median_current_change", None):
        "the change over the current window: needs that much history (5 minutes)",
    ("arroyo_job:input_active:baseline", "1d"): "needs a day of history",
    ("arroyo_job:input_active:baseline", "1w"): "needs a week of history",
    **{(r, None): "reads Arroyo's own worker metrics, which the simulator does not serve"
       for r in ("arroyo_subtask:arroyo_worker_messages_recv:rate",
                 "arroyo_subtask:arroyo_worker_messages_sent:rate",
                 "arroyo_operator:arroyo_worker_deserialization_errors:rate",
                 "arroyo_subtask:arroyo_worker_tx_queue:fill_ratio",
                 "arroyo_subtask:arroyo_subtask_received_messages_per_second:over_counter_rate")},
}

_VAR_RE = re.compile(r"\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)")
_LABEL_VALUES_RE = re.compile(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$",
                              re.S)


def substitute(expr: str, variables: dict[str, str], rate_interval: str, range_: str) -> str:
    builtins = {
        "__rate_interval": rate_interval,
        "__interval": rate_interval,
        "__range": range_,
    }

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name in builtins:
            return builtins[name]
        if name in variables:
            return variables[name]
        raise SystemExit(f"unknown Grafana variable ${name} in: {expr}")

    return _VAR_RE.sub(repl, expr)


def variable_query(var: dict) -> str | None:
    query = var.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    if not isinstance(query, str) or not query.strip():
        return None
    m = _LABEL_VALUES_RE.match(query)
    if m:
        return f"count by ({m.group(2)}) ({m.group(1).strip()})"
    return query


def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def dashboard_queries(path: Path, variables, rate_interval, range_):
    rel = path.relative_to(ROOT).as_posix()
    dash = json.loads(path.read_text(encoding="utf-8"))
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = variable_query(var)
        if q:
            yield {
                "source": f"{rel}#variable={var['name']}",
                "expr": substitute(q, variables, rate_interval, range_),
                "kind": "variable",
                "may_be_empty": False,
            }
    for ann in dash.get("annotations", {}).get("list", []):
        if ann.get("expr"):
            yield {
                "source": f"{rel}#annotation={ann['name']}",
                "expr": substitute(ann["expr"], variables, rate_interval, range_),
                "kind": "annotation",
                "may_be_empty": (path.name, ann["name"]) in EMPTY_WHEN_HEALTHY,
            }
    for panel in walk_panels(dash.get("panels", [])):
        for t in panel.get("targets", []):
            if not t.get("expr"):
                continue
            yield {
                "source": f"{rel}#panel={panel['id']}/{panel['title']}/{t['refId']}",
                "expr": substitute(t["expr"], variables, rate_interval, range_),
                "kind": "panel",
                "may_be_empty": (path.name, panel["title"]) in EMPTY_WHEN_HEALTHY,
            }


def rule_queries(path: Path):
    rel = path.relative_to(ROOT).as_posix()
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" in rule:
                yield {
                    "source": f"{rel}#alert={rule['alert']}",
                    "expr": rule["expr"].strip(),
                    "kind": "alert",
                    "may_be_empty": True,
                }
            else:
                baseline = rule.get("labels", {}).get("baseline")
                suffix = f"{{baseline={baseline}}}" if baseline else ""
                yield {
                    "source": f"{rel}#record={rule['record']}{suffix}",
                    "expr": rule["expr"].strip(),
                    "kind": "record",
                    "may_be_empty": (rule["record"], baseline) in EMPTY_RECORDS,
                }


def all_queries(variables=None, rate_interval="1m", range_="1h"):
    merged = dict(DEFAULT_VARS)
    merged.update(variables or {})
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        yield from dashboard_queries(path, merged, rate_interval, range_)
    for path in sorted(RULES_DIR.glob("*.yml")):
        yield from rule_queries(path)


def main() -> int:
    parser = argparse.ArgumentParser(description="Print every PromQL expression as JSON lines.")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="value for a template variable (default: .* for all)")
    parser.add_argument("--rate-interval", default="1m",
                        help="value for $__rate_interval and $__interval (default 1m)")
    parser.add_argument("--range", default="1h", dest="range_",
                        help="value for $__range (default 1h)")
    args = parser.parse_args()
    variables = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--var wants NAME=VALUE, got {item!r}")
        variables[name] = value
    for q in all_queries(variables, args.rate_interval, args.range_):
        print(json.dumps(q, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
