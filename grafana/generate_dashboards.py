#!/usr/bin/env python3
"""The dashboards in grafana/dashboards/ are generated from the monitoring mixin
(mixin/dashboards/*.libsonnet) by mixin/build.py; this script only runs it.

    python3 grafana/generate_dashboards.py           # = python3 mixin/build.py
    python3 grafana/generate_dashboards.py --check   # = python3 mixin/build.py --check

mixin/build.py also writes the rule files and the Kubernetes PrometheusRule and
dashboards ConfigMap from the same sources. Editing a dashboard in Grafana and exporting
it is fine for experiments; port the change to mixin/dashboards/ so that the next build
does not undo it (the ops tests fail until they agree).
"""
import subprocess
import sys
from pathlib import Path

BUILD = Path(__file__).resolve().parents[1] / "mixin" / "build.py"

if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, str(BUILD), *sys.argv[1:]]))
