#!/usr/bin/env python3
"""Render the monitoring mixin into the files the repository ships.

    python3 mixin/build.py           # rewrite the generated files
    python3 mixin/build.py --check   # exit 1 when a committed file differs

Generated from mixin/mixin.libsonnet (with its default _config):
  deploy/prometheus/rules/arroyo-recording.yml   prometheusRules
  deploy/prometheus/rules/arroyo-alerts.yml      prometheusAlerts
  grafana/dashboards/<name>.json                 grafanaDashboards
and then, by deploy/kubernetes/generate.py from those files:
  deploy/kubernetes/base/prometheusrule.yaml     (PrometheusRule)
  deploy/kubernetes/base/grafana-dashboards.yaml (dashboards ConfigMap)

Needs the `jsonnet` command (Debian package jsonnet, or PyPI's jsonnet module) and
PyYAML. Uses no jsonnet libraries besides the mixin's own files.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"

RULE_KEYS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")
ANNOTATION_KEYS = ("summary", "description", "runbook_url")

HEADER = """\
# GENERATED from mixin/ by `python3 mixin/build.py`: do not edit, change the mixin.
# {what}
# Load both rule files: the alerts read the recording rules' results.
# The reasoning behind each rule is in the comments of {source}; the alerts' behaviour
# on days of realistic traffic is measured in docs/alerts.md, and each alert has a
# runbook section in docs/runbooks.md.
"""


def evaluate(expr: str) -> object:
    """Evaluates a jsonnet expression with mixin/ as the import path."""
    cmd = shutil.which("jsonnet")
    if cmd:
        r = subprocess.run([cmd, "-J", str(HERE), "-e", expr], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"jsonnet failed:\n{r.stderr}")
        return json.loads(r.stdout)
    try:
        import _jsonnet  # PyPI package "jsonnet"
    except ImportError:
        raise SystemExit("needs the jsonnet command (Debian package jsonnet) or the "
                         "Python module of PyPI package jsonnet")
    return json.loads(_jsonnet.evaluate_snippet("build", expr, jpathdir=[str(HERE)]))


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, data):
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


def ordered(d: dict, keys) -> dict:
    out = {k: d[k] for k in keys if k in d}
    out.update({k: v for k, v in d.items() if k not in out})
    return out


def rules_yaml(doc: dict, what: str, source: str) -> str:
    groups = []
    for g in doc["groups"]:
        rules = []
        for r in g["rules"]:
            r = ordered(r, RULE_KEYS)
            if "annotations" in r:
                r["annotations"] = ordered(r["annotations"], ANNOTATION_KEYS)
            rules.append(r)
        groups.append(ordered({**g, "rules": rules}, ("name", "interval", "rules")))
    body = yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True, width=100)
    return HEADER.format(what=what, source=source) + body


def outputs() -> dict[Path, str]:
    mixin = '(import "mixin.libsonnet")'
    out = {
        RULES_DIR / "arroyo-recording.yml": rules_yaml(
            evaluate(mixin + ".prometheusRules"),
            "Recording rules for the arroyo-exporter dashboards and alerts.",
            "mixin/rules/rules.libsonnet"),
        RULES_DIR / "arroyo-alerts.yml": rules_yaml(
            evaluate(mixin + ".prometheusAlerts"),
            "Alerts for Arroyo pipelines monitored with arroyo-exporter.",
            "mixin/alerts/*.libsonnet"),
    }
    dashboards = evaluate(mixin + ".grafanaDashboards")
    for name, dash in sorted(dashboards.items()):
        out[DASHBOARD_DIR / name] = json.dumps(dash, indent=2, ensure_ascii=False) + "\n"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing them")
    args = ap.parse_args()
    stale = []
    for path, text in outputs().items():
        rel = path.relative_to(ROOT).as_posix()
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(rel)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {rel}")
    k8s = [sys.executable, str(ROOT / "deploy" / "kubernetes" / "generate.py")]
    if args.check:
        k8s.append("--check")
    r = subprocess.run(k8s, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        stale.append("deploy/kubernetes/base (deploy/kubernetes/generate.py)")
    if stale:
        print("out of date, run `python3 mixin/build.py`: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
