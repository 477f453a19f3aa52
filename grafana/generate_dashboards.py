#!/usr/bin/env python3
"""Writes the Grafana dashboards in grafana/dashboards/ (the JSON files are committed).

    python3 grafana/generate_dashboards.py           # rewrite the three JSON files
    python3 grafana/generate_dashboards.py --check   # exit 1 if a committed file differs

The dashboards follow the conventions checked by tests/ops/test_dashboards.py:
a `datasource` variable and no hard-coded datasource uid, `pipeline`/`job`/`operator`
variables, `$__rate_interval` for every range, a unit and a description on every
panel, stable uids and links between the three dashboards.

Editing a dashboard in Grafana and exporting it is fine for experiments; port the change
here so that the next generation does not undo it (the ops test fails until they agree).
Needs only the Python standard library.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "dashboards"

DS = {"type": "prometheus", "uid": "${datasource}"}
EXPORTER_JOB = 'job="arroyo-exporter"'

# Label filters driven by the template variables.
F_JOB = 'pipeline_name=~"$pipeline", job_id=~"$job"'
F_OP = F_JOB + ', operator_name=~"$operator"'
F_INST = 'instance=~"$instance"'

UP_MAPPING = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]
SUCCESS_MAPPING = [
    {
        "type": "value",
        "options": {
            "0": {"text": "failing", "color": "red", "index": 0},
            "1": {"text": "ok", "color": "green", "index": 1},
        },
    }
]


def thresholds(*steps):
    """steps: (color, value) pairs; the first value is the base (None)."""
    return {
        "mode": "absolute",
        "steps": [{"color": c, "value": v} for c, v in steps],
    }


GREEN = thresholds(("green", None))
BACKPRESSURE_STEPS = thresholds(("green", None), ("yellow", 0.3), ("red", 0.5))


def target(expr, legend="", ref="A", instant=False, table=False):
    t = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if table:
        t["format"] = "table"
    return t


class Layout:
    """Places panels left to right on a 24-column grid and numbers them."""

    def __init__(self):
        self.panels = []
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def _pos(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title):
        if self.x:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "id": self.next_id,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.next_id += 1
        self.y += 1

    def add(self, panel, w, h):
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = self._pos(w, h)
        self.panels.append(panel)
        return panel


def field_config(unit, *, min_=None, max_=None, mappings=None, steps=None,
                 color_mode="palette-classic", custom=None, overrides=None, links=None):
    defaults = {
        "unit": unit,
        "color": {"mode": color_mode},
        "mappings": mappings or [],
        "thresholds": steps or GREEN,
    }
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    if custom is not None:
        defaults["custom"] = custom
    if links:
        defaults["links"] = links
    return {"defaults": defaults, "overrides": overrides or []}


def timeseries(title, description, unit, targets, *, min_=None, max_=None, stack=False,
               steps=None, legend_calcs=("lastNotNull", "max")):
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "axisSoftMin": 0,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "line" if steps else "off"},
    }
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": field_config(unit, min_=min_, max_=max_, custom=custom, steps=steps),
        "options": {
            "legend": {
                "showLegend": True,
                "displayMode": "table",
                "placement": "bottom",
                "calcs": list(legend_calcs),
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
    }


def stat(title, description, unit, targets, *, mappings=None, steps=None,
         text_mode="auto", color_mode="background", overrides=None, graph=False):
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": field_config(unit, mappings=mappings, steps=steps,
                                    color_mode="thresholds", overrides=overrides),
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": color_mode,
            "graphMode": "area" if graph else "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": text_mode,
            "wideLayout": True,
            "showPercentChange": False,
        },
        "targets": targets,
    }


def state_timeline(title, description, unit, targets, *, mappings=None, steps=None,
                   min_=None, max_=None, show_legend=False):
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": field_config(
            unit, min_=min_, max_=max_, mappings=mappings, steps=steps,
            color_mode="thresholds", custom={"fillOpacity": 80, "lineWidth": 0},
        ),
        "options": {
            "mergeValues": True,
            "showValue": "never",
            "alignValue": "left",
            "rowHeight": 0.9,
            "legend": {"showLegend": show_legend, "displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "single", "sort": "none"},
        },
        "targets": targets,
    }


def table(title, description, unit, targets, *, transformations, overrides=None,
          links=None):
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": field_config(
            unit, color_mode="thresholds", overrides=overrides, links=links,
            custom={"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
        ),
        "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False,
                                                                       "reducer": ["sum"],
                                                                       "fields": ""}},
        "targets": targets,
        "transformations": transformations,
    }


def override(name, **props):
    properties = []
    for key, value in props.items():
        properties.append({"id": key.replace("_", "."), "value": value})
    return {"matcher": {"id": "byName", "options": name}, "properties": properties}


def color_override(name, color):
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
    }


# ---------------------------------------------------------------- variables

def datasource_var():
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "current": {},
    }


def query_var(name, label, query, description):
    return {
        "name": name,
        "label": label,
        "description": description,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
        "current": {},
    }


def pipeline_vars(with_operator):
    out = [
        query_var("pipeline", "Pipeline", "label_values(arroyo_job_state, pipeline_name)",
                  "Arroyo pipeline (its name)"),
        query_var("job", "Job",
                  'label_values(arroyo_job_state{pipeline_name=~"$pipeline"}, job_id)',
                  "Arroyo job id of the selected pipelines"),
    ]
    if with_operator:
        out.append(
            query_var("operator", "Operator",
                      'label_values(arroyo_operator_info{pipeline_name=~"$pipeline", '
                      'job_id=~"$job"}, operator_name)',
                      "Operator (graph node description) of the selected jobs"))
    return out


# ---------------------------------------------------------------- links

DASHBOARDS = {
    "arroyo-overview": "Arroyo / Overview",
    "arroyo-pipeline": "Arroyo / Pipeline",
    "arroyo-exporter": "Arroyo / Exporter",
}


def dashboard_links(own_uid):
    links = []
    for uid, title in DASHBOARDS.items():
        if uid == own_uid:
            continue
        links.append(
            {
                "title": title,
                "type": "link",
                "url": f"/d/{uid}",
                "icon": "dashboard",
                "tooltip": f"Open {title} with the same data source, variables and time range",
                "keepTime": True,
                "includeVars": True,
                "targetBlank": False,
                "asDropdown": False,
                "tags": [],
            }
        )
    return links


PIPELINE_DATA_LINK = {
    "title": "Open pipeline ${__data.fields.pipeline_name}",
    "url": "/d/arroyo-pipeline?${datasource:queryparam}"
           "&var-pipeline=${__data.fields.pipeline_name}"
           "&var-job=${__data.fields.job_id}&${__url_time_range}",
    "targetBlank": False,
}


def dashboard(uid, title, description, variables, panels, annotations=()):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["arroyo", "arroyo-exporter"],
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "weekStart": "",
        "id": None,
        "links": dashboard_links(uid),
        "annotations": {"list": list(annotations)},
        "templating": {"list": [datasource_var(), *variables]},
        "panels": panels,
    }


def restart_annotation(filters):
    return {
        "name": "Job restarts",
        "datasource": DS,
        "enable": True,
        "hide": False,
        "iconColor": "orange",
        "expr": f"max by (pipeline_name, job_id) (changes(arroyo_job_run_id{{{filters}}}"
                "[$__rate_interval])) > 0",
        "step": "1m",
        "titleFormat": "Restart of {{pipeline_name}}",
        "textFormat": "job {{job_id}}: run_id changed",
        "useValueForTime": False,
    }


# ---------------------------------------------------------------- overview

def overview():
    lay = Layout()
    lay.row("Health")
    lay.add(stat("Exporter up",
                 "Whether Prometheus scrapes arroyo-exporter (worst of all exporter targets).",
                 "none", [target(f"min(up{{{EXPORTER_JOB}}})", "up", instant=True)],
                 mappings=UP_MAPPING, steps=thresholds(("red", None), ("green", 1))), 4, 4)
    lay.add(stat("Controller reachable",
                 "Whether the exporter got an answer from Arroyo's controller on its last "
                 "scrape (arroyo_up, worst of all exporters).",
                 "none", [target("min(arroyo_up)", "arroyo_up", instant=True)],
                 mappings=UP_MAPPING, steps=thresholds(("red", None), ("green", 1))), 4, 4)
    lay.add(stat("Jobs running",
                 "Number of selected jobs in state Running.",
                 "short",
                 [target('count(max by (job_id) (arroyo_job_state{arroyo_job_state="Running", '
                         f'{F_JOB}}}) == 1) or vector(0)', "running", instant=True)],
                 steps=thresholds(("blue", None)), color_mode="value"), 4, 4)
    lay.add(stat("Wanted but not running",
                 "Jobs whose user wants them running (running_desired) that are not in "
                 "state Running: scheduling, recovering, failing or failed.",
                 "short",
                 [target(f'count(max by (job_id) (arroyo_job_running_desired{{{F_JOB}}}) == 1 '
                         'and on (job_id) max by (job_id) (arroyo_job_state{arroyo_job_state='
                         f'"Running", {F_JOB}}}) == 0) or vector(0)', "not running",
                         instant=True)],
                 steps=thresholds(("green", None), ("orange", 1))), 4, 4)
    lay.add(stat("Jobs failed",
                 "Jobs in Arroyo's terminal Failed state.",
                 "short",
                 [target('count(max by (job_id) (arroyo_job_state{arroyo_job_state="Failed", '
                         f'{F_JOB}}}) == 1) or vector(0)', "failed", instant=True)],
                 steps=thresholds(("green", None), ("red", 1))), 4, 4)
    lay.add(stat("Firing Arroyo alerts",
                 "Alerts of arroyo-alerts.yml firing in this Prometheus (ALERTS series).",
                 "short",
                 [target('count(ALERTS{alertstate="firing", alertname=~"Arroyo.*"}) '
                         'or vector(0)', "firing", instant=True)],
                 steps=thresholds(("green", None), ("red", 1))), 4, 4)

    lay.row("Pipelines")
    table_targets = [
        target(f"max by (pipeline_name, job_id, arroyo_job_state) "
               f"(arroyo_job_state{{{F_JOB}}} == 1)", ref="A", instant=True, table=True),
        target(f"max by (pipeline_name, job_id) "
               f"(arroyo_pipeline:input_messages_per_second:sum{{{F_JOB}}})",
               ref="B", instant=True, table=True),
        target(f"max by (pipeline_name, job_id) "
               f"(arroyo_pipeline:output_messages_per_second:sum{{{F_JOB}}})",
               ref="C", instant=True, table=True),
        target(f"max by (pipeline_name, job_id) "
               f"(arroyo_pipeline:arroyo_operator_backpressure_ratio:max{{{F_JOB}}})",
               ref="D", instant=True, table=True),
        target(f"max by (pipeline_name, job_id) "
               f"(arroyo_pipeline:arroyo_job_run_id:spread1h{{{F_JOB}}})",
               ref="E", instant=True, table=True),
        target(f"max by (pipeline_name, job_id) "
               f"(arroyo_pipeline:last_checkpoint_age_seconds{{{F_JOB}}})",
               ref="F", instant=True, table=True),
    ]
    lay.add(table(
        "Pipelines",
        "One row per job: current state, input and output rate, worst operator "
        "backpressure, restarts in the last hour and the age of the newest completed "
        "checkpoint. Click a pipeline to open its dashboard.",
        "none", table_targets,
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "Value #A": True},
                "indexByName": {"pipeline_name": 0, "job_id": 1, "arroyo_job_state": 2,
                                "Value #B": 3, "Value #C": 4, "Value #D": 5,
                                "Value #E": 6, "Value #F": 7},
                "renameByName": {"pipeline_name": "Pipeline", "job_id": "Job",
                                 "arroyo_job_state": "State",
                                 "Value #B": "Input msg/s", "Value #C": "Output msg/s",
                                 "Value #D": "Worst backpressure",
                                 "Value #E": "Restarts (1h)",
                                 "Value #F": "Checkpoint age"},
            }},
        ],
        overrides=[
            override("Input msg/s", unit="short", decimals=1),
            override("Output msg/s", unit="short", decimals=1),
            override("Worst backpressure", unit="percentunit"),
            override("Restarts (1h)", unit="short", decimals=0),
            override("Checkpoint age", unit="s"),
            {"matcher": {"id": "byName", "options": "Pipeline"},
             "properties": [{"id": "links", "value": [PIPELINE_DATA_LINK]}]},
        ],
    ), 24, 8)

    lay.row("Throughput")
    lay.add(timeseries(
        "Input messages/s",
        "Messages per second read by each pipeline's sources (operators that receive "
        "nothing), from the controller's smoothed rates.",
        "short",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_pipeline:input_messages_per_second:sum{{{F_JOB}}})",
                "{{pipeline_name}}")]), 12, 8)
    lay.add(timeseries(
        "Output messages/s",
        "Messages per second received by each pipeline's sinks (operators that send "
        "nothing).",
        "short",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_pipeline:output_messages_per_second:sum{{{F_JOB}}})",
                "{{pipeline_name}}")]), 12, 8)
    lay.add(timeseries(
        "Worst backpressure",
        "Fill level of the fullest operator output queue of each pipeline (0 = empty, "
        "100% = full). High values mean some operator cannot keep up.",
        "percentunit",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_pipeline:arroyo_operator_backpressure_ratio:max{{{F_JOB}}})",
                "{{pipeline_name}}")],
        min_=0, max_=1, steps=BACKPRESSURE_STEPS), 12, 8)
    lay.add(timeseries(
        "Input bytes/s",
        "Bytes per second read by each pipeline's sources.",
        "Bps",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_pipeline:input_bytes_per_second:sum{{{F_JOB}}})",
                "{{pipeline_name}}")]), 12, 8)

    lay.row("Reliability")
    lay.add(timeseries(
        "Restarts in the last hour",
        "How often the controller restarted each job in the hour before each point "
        "(growth of run_id).",
        "short",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_pipeline:arroyo_job_run_id:spread1h{{{F_JOB}}})",
                "{{pipeline_name}}")],
        steps=thresholds(("green", None), ("red", 3))), 12, 8)
    lay.add(timeseries(
        "Checkpoint age",
        "Time since each job's newest completed checkpoint (or since it started when "
        "it has none yet).",
        "s",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_pipeline:last_checkpoint_age_seconds{{{F_JOB}}})",
                "{{pipeline_name}}")]), 12, 8)
    lay.add(state_timeline(
        "Exporter collectors",
        "Whether each collector of the exporter succeeded (worst of all exporters).",
        "none",
        [target("min by (collector) (arroyo_exporter_collector_success)", "{{collector}}")],
        mappings=SUCCESS_MAPPING, steps=thresholds(("red", None), ("green", 1))), 24, 6)

    return dashboard(
        "arroyo-overview", DASHBOARDS["arroyo-overview"],
        "Every Arroyo pipeline at a glance: state, throughput, backpressure, restarts, "
        "checkpoints and exporter health.",
        pipeline_vars(with_operator=False), lay.panels,
        annotations=[restart_annotation(F_JOB)])


# ---------------------------------------------------------------- pipeline

def op_legend():
    return "{{operator_name}} [{{node_id}}]"


def pipeline():
    lay = Layout()
    by_op = "pipeline_name, job_id, node_id, operator_name"
    by_sub = by_op + ", subtask_idx"

    lay.row("Status")
    lay.add(stat("State",
                 "Current Arroyo state of the selected job(s).",
                 "none",
                 [target(f"max by (arroyo_job_state) (arroyo_job_state{{{F_JOB}}} == 1)",
                         "{{arroyo_job_state}}", instant=True)],
                 text_mode="name", steps=thresholds(("blue", None)),
                 overrides=[color_override("Running", "green"),
                            color_override("Failed", "red"),
                            color_override("Failing", "red"),
                            color_override("Recovering", "orange"),
                            color_override("Restarting", "orange"),
                            color_override("Stopped", "text")]), 4, 4)
    lay.add(stat("Input",
                 "Messages per second read by the sources.",
                 "short",
                 [target(f"sum(max by (job_id) "
                         f"(arroyo_pipeline:input_messages_per_second:sum{{{F_JOB}}}))",
                         "input", instant=True)],
                 steps=thresholds(("blue", None)), color_mode="value"), 4, 4)
    lay.add(stat("Output",
                 "Messages per second received by the sinks.",
                 "short",
                 [target(f"sum(max by (job_id) "
                         f"(arroyo_pipeline:output_messages_per_second:sum{{{F_JOB}}}))",
                         "output", instant=True)],
                 steps=thresholds(("blue", None)), color_mode="value"), 4, 4)
    lay.add(stat("Worst backpressure",
                 "Fill level of the fullest operator output queue.",
                 "percentunit",
                 [target(f"max(arroyo_pipeline:arroyo_operator_backpressure_ratio:max"
                         f"{{{F_JOB}}})", "backpressure", instant=True)],
                 steps=BACKPRESSURE_STEPS), 4, 4)
    lay.add(stat("Restarts (1h)",
                 "Restarts of the job in the last hour (growth of run_id).",
                 "short",
                 [target(f"max(arroyo_pipeline:arroyo_job_run_id:spread1h{{{F_JOB}}})",
                         "restarts", instant=True)],
                 steps=thresholds(("green", None), ("orange", 1), ("red", 3))), 4, 4)
    lay.add(stat("Checkpoint age",
                 "Time since the newest completed checkpoint.",
                 "s",
                 [target(f"max(arroyo_pipeline:last_checkpoint_age_seconds{{{F_JOB}}})",
                         "age", instant=True)],
                 steps=thresholds(("green", None), ("orange", 120), ("red", 300))), 4, 4)

    lay.row("Throughput per operator")
    lay.add(timeseries(
        "Received messages/s",
        "Messages per second each operator receives (sum over its subtasks). Sources "
        "receive nothing.",
        "short",
        [target(f"max by ({by_op}) (arroyo_operator_received_messages_per_second{{{F_OP}}})",
                op_legend())]), 12, 8)
    lay.add(timeseries(
        "Sent messages/s",
        "Messages per second each operator sends downstream (sum over its subtasks). "
        "Sinks send nothing.",
        "short",
        [target(f"max by ({by_op}) (arroyo_operator_sent_messages_per_second{{{F_OP}}})",
                op_legend())]), 12, 8)
    lay.add(timeseries(
        "Received bytes/s",
        "Bytes per second each operator receives.",
        "Bps",
        [target(f"max by ({by_op}) (arroyo_operator_received_bytes_per_second{{{F_OP}}})",
                op_legend())]), 12, 8)
    lay.add(timeseries(
        "Sent bytes/s",
        "Bytes per second each operator sends.",
        "Bps",
        [target(f"max by ({by_op}) (arroyo_operator_sent_bytes_per_second{{{F_OP}}})",
                op_legend())]), 12, 8)
    lay.add(timeseries(
        "Pipeline input and output",
        "Messages per second read by the sources (input) and received by the sinks "
        "(output).",
        "short",
        [target(f"sum(max by (job_id) "
                f"(arroyo_pipeline:input_messages_per_second:sum{{{F_JOB}}}))", "input",
                ref="A"),
         target(f"sum(max by (job_id) "
                f"(arroyo_pipeline:output_messages_per_second:sum{{{F_JOB}}}))", "output",
                ref="B")]), 24, 7)

    lay.row("Backpressure")
    lay.add(timeseries(
        "Backpressure per operator",
        "Fill level of each operator's fullest subtask output queue. A full queue means "
        "the operators downstream of it do not keep up.",
        "percentunit",
        [target(f"max by ({by_op}) (arroyo_operator_backpressure_ratio{{{F_OP}}})",
                op_legend())],
        min_=0, max_=1, steps=BACKPRESSURE_STEPS), 12, 9)
    lay.add(state_timeline(
        "Backpressure per subtask",
        "Output queue fill level of every subtask over time (green < 30%, yellow < 50%, "
        "red above).",
        "percentunit",
        [target(f"max by ({by_sub}) (arroyo_subtask_backpressure_ratio{{{F_OP}}})",
                "{{operator_name}} #{{subtask_idx}}")],
        min_=0, max_=1, steps=BACKPRESSURE_STEPS), 12, 9)

    lay.row("Skew across subtasks")
    lay.add(timeseries(
        "Hottest subtask / mean",
        "Received rate of each operator's busiest subtask divided by the mean of its "
        "subtasks: 1 is an even spread, the parallelism is the maximum (one subtask gets "
        "everything).",
        "suffix:×",
        [target(f"max by ({by_op}) "
                f"(arroyo_operator:arroyo_subtask_received_messages_per_second:max_over_avg"
                f"{{{F_OP}}})", op_legend())],
        min_=1), 12, 8)
    lay.add(timeseries(
        "Received messages/s per subtask",
        "Messages per second received by every subtask; lines of one operator should be "
        "close to each other.",
        "short",
        [target(f"max by ({by_sub}) (arroyo_subtask_received_messages_per_second{{{F_OP}}})",
                "{{operator_name}} #{{subtask_idx}}")]), 12, 8)

    lay.row("Checkpoints")
    lay.add(timeseries(
        "Checkpoint age and interval",
        "Time since the newest completed checkpoint, the pipeline's checkpoint interval, "
        "and how long the checkpoint in progress has been running (0 when none).",
        "s",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_pipeline:last_checkpoint_age_seconds{{{F_JOB}}})",
                "age {{pipeline_name}}", ref="A"),
         target('max by (pipeline_name) (arroyo_pipeline_checkpoint_interval_seconds'
                '{pipeline_name=~"$pipeline"})', "interval {{pipeline_name}}", ref="B"),
         target(f"max by (pipeline_name, job_id) "
                f"(arroyo_job_checkpoint_in_progress_seconds{{{F_JOB}}})",
                "in progress {{pipeline_name}}", ref="C")]), 12, 8)
    lay.add(timeseries(
        "Last checkpoint duration",
        "How long the newest completed checkpoint took from start to finish.",
        "s",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_job_last_checkpoint_duration_seconds{{{F_JOB}}})",
                "{{pipeline_name}}")]), 12, 8)
    lay.add(timeseries(
        "Checkpoints completed",
        "Checkpoints completed per interval (growth of the newest completed epoch).",
        "short",
        [target(f"max by (pipeline_name, job_id) "
                f"(max_over_time(arroyo_job_last_checkpoint_epoch{{{F_JOB}}}[$__rate_interval])"
                f" - min_over_time(arroyo_job_last_checkpoint_epoch{{{F_JOB}}}"
                f"[$__rate_interval]))", "{{pipeline_name}}")]), 12, 7)
    lay.add(timeseries(
        "Newest checkpoint epoch",
        "Epoch number of the newest completed checkpoint.",
        "none",
        [target(f"max by (pipeline_name, job_id) "
                f"(arroyo_job_last_checkpoint_epoch{{{F_JOB}}})", "{{pipeline_name}}")],
        legend_calcs=("lastNotNull",)), 12, 7)

    lay.row("Job")
    lay.add(state_timeline(
        "Job state history",
        "Which Arroyo state the job was in over time (one row per state).",
        "none",
        [target(f"max by (arroyo_job_state) (arroyo_job_state{{{F_JOB}}})",
                "{{arroyo_job_state}}")],
        mappings=[{"type": "value", "options": {
            "0": {"text": " ", "color": "transparent", "index": 0},
            "1": {"text": "current", "color": "green", "index": 1}}}],
        steps=thresholds(("transparent", None), ("green", 1))), 12, 9)
    lay.add(timeseries(
        "Run id",
        "Arroyo's run_id of the job: it grows by one at each restart.",
        "none",
        [target(f"max by (pipeline_name, job_id) (arroyo_job_run_id{{{F_JOB}}})",
                "{{pipeline_name}}")],
        legend_calcs=("lastNotNull",)), 12, 9)
    lay.add(table(
        "Operators",
        "The job's graph nodes: id, kind, description (operator_name) and parallelism.",
        "none",
        [target(f"max by (job_id, node_id, operator_name, operator) "
                f"(arroyo_operator_info{{{F_OP}}})", ref="A", instant=True, table=True),
         target(f"max by (job_id, node_id, operator_name) "
                f"(arroyo_operator_parallelism{{{F_OP}}})", ref="B", instant=True,
                table=True)],
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "Value #A": True},
                "indexByName": {"job_id": 0, "node_id": 1, "operator": 2,
                                "operator_name": 3, "Value #B": 4},
                "renameByName": {"job_id": "Job", "node_id": "Node", "operator": "Kind",
                                 "operator_name": "Operator", "Value #B": "Parallelism"},
            }},
        ],
        overrides=[override("Parallelism", unit="short", decimals=0)]), 24, 8)

    return dashboard(
        "arroyo-pipeline", DASHBOARDS["arroyo-pipeline"],
        "One Arroyo pipeline: throughput per operator, backpressure per operator and "
        "subtask, skew, checkpoints and job state history.",
        pipeline_vars(with_operator=True), lay.panels,
        annotations=[restart_annotation(F_JOB)])


# ---------------------------------------------------------------- exporter

def exporter():
    lay = Layout()
    ex = f"{EXPORTER_JOB}, {F_INST}"
    lay.row("Status")
    lay.add(stat("Exporter up",
                 "Whether Prometheus scrapes the exporter (up).",
                 "none", [target(f"min(up{{{ex}}})", "up", instant=True)],
                 mappings=UP_MAPPING, steps=thresholds(("red", None), ("green", 1))), 4, 4)
    lay.add(stat("Controller reachable",
                 "Whether Arroyo's controller answered the exporter's last scrape (arroyo_up).",
                 "none", [target(f"min(arroyo_up{{{F_INST}}})", "arroyo_up", instant=True)],
                 mappings=UP_MAPPING, steps=thresholds(("red", None), ("green", 1))), 4, 4)
    lay.add(stat("Version",
                 "Version and revision of the running exporter(s).",
                 "none",
                 [target(f"max by (version, revision) "
                         f"(arroyo_exporter_build_info{{{F_INST}}})",
                         "{{version}} ({{revision}})", instant=True)],
                 text_mode="name", steps=thresholds(("blue", None))), 6, 4)
    lay.add(stat("Uptime",
                 "Time since the exporter process started.",
                 "s",
                 [target(f"time() - max(process_start_time_seconds{{{ex}}})", "uptime",
                         instant=True)],
                 steps=thresholds(("blue", None)), color_mode="value"), 5, 4)
    lay.add(stat("Scrapes/s",
                 "Scrapes the exporter serves per second (all Prometheus servers together).",
                 "reqps",
                 [target(f"sum(rate(arroyo_exporter_scrapes_total{{{F_INST}}}"
                         "[$__rate_interval]))", "scrapes", instant=True)],
                 steps=thresholds(("blue", None)), color_mode="value"), 5, 4)

    lay.row("Scrapes")
    lay.add(timeseries(
        "Scrape duration",
        "How long Prometheus' scrapes of the exporter take; keep well under the scrape "
        "timeout.",
        "s",
        [target(f"max by (instance) (scrape_duration_seconds{{{ex}}})", "{{instance}}")]),
        12, 8)
    lay.add(timeseries(
        "Collector duration",
        "Time each collector spent during the last scrape.",
        "s",
        [target(f"max by (collector) "
                f"(arroyo_exporter_collector_duration_seconds{{{F_INST}}})",
                "{{collector}}")]), 12, 8)
    lay.add(state_timeline(
        "Collector success",
        "Whether each collector succeeded on its last scrape.",
        "none",
        [target(f"min by (collector) (arroyo_exporter_collector_success{{{F_INST}}})",
                "{{collector}}")],
        mappings=SUCCESS_MAPPING, steps=thresholds(("red", None), ("green", 1))), 12, 8)
    lay.add(state_timeline(
        "Job scrape success",
        "Whether the exporter got the metrics of each job on its last scrape.",
        "none",
        [target(f"min by (pipeline_name, job_id) (arroyo_exporter_job_scrape_success"
                f"{{{F_INST}, {F_JOB}}})", "{{pipeline_name}} {{job_id}}")],
        mappings=SUCCESS_MAPPING, steps=thresholds(("red", None), ("green", 1))), 12, 8)

    lay.row("Upstreams")
    lay.add(timeseries(
        "Upstream requests/s",
        "Requests the exporter sends to Arroyo per second, by source (controller RPC, "
        "REST API).",
        "reqps",
        [target(f"sum by (source) (rate(arroyo_exporter_upstream_requests_total"
                f"{{{F_INST}}}[$__rate_interval]))", "{{source}}")]), 12, 8)
    lay.add(timeseries(
        "Upstream errors/s",
        "Failed upstream requests per second, by source and kind of error (empty when "
        "everything works).",
        "reqps",
        [target(f"sum by (source, kind) (rate(arroyo_exporter_upstream_errors_total"
                f"{{{F_INST}}}[$__rate_interval]))", "{{source}} {{kind}}")]), 12, 8)
    lay.add(timeseries(
        "Metrics sample age",
        "Age of the controller's newest metrics point for each job, as the exporter last "
        "saw it.",
        "s",
        [target(f"time() - max by (pipeline_name, job_id) "
                f"(arroyo_job_metrics_last_sample_timestamp_seconds{{{F_INST}, {F_JOB}}})",
                "{{pipeline_name}} {{job_id}}")]), 12, 8)
    lay.add(timeseries(
        "Stale series dropped/s",
        "Series dropped per second because their newest point was older than the "
        "configured maximum sample age.",
        "short",
        [target(f"sum by (instance) (rate(arroyo_exporter_stale_series_dropped_total"
                f"{{{F_INST}}}[$__rate_interval]))", "{{instance}}")]), 12, 8)

    lay.row("Process")
    lay.add(timeseries(
        "CPU",
        "CPU used by the exporter process (1 = one full core).",
        "percentunit",
        [target(f"rate(process_cpu_seconds_total{{{ex}}}[$__rate_interval])",
                "{{instance}}")]), 8, 7)
    lay.add(timeseries(
        "Memory",
        "Resident memory of the exporter process.",
        "bytes",
        [target(f"process_resident_memory_bytes{{{ex}}}", "{{instance}}")]), 8, 7)
    lay.add(timeseries(
        "Open file descriptors",
        "File descriptors the exporter process holds open (sockets included).",
        "short",
        [target(f"process_open_fds{{{ex}}}", "{{instance}}")]), 8, 7)

    inst_var = query_var("instance", "Exporter", "label_values(arroyo_exporter_build_info, "
                         "instance)", "arroyo-exporter instance (scrape target)")
    return dashboard(
        "arroyo-exporter", DASHBOARDS["arroyo-exporter"],
        "arroyo-exporter itself: availability, scrape and collector durations, upstream "
        "requests and errors, process resources.",
        [inst_var, *pipeline_vars(with_operator=False)], lay.panels)


BUILDERS = {
    "arroyo-overview.json": overview,
    "arroyo-pipeline.json": pipeline,
    "arroyo-exporter.json": exporter,
}


def render(builder) -> str:
    return json.dumps(builder(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    args = parser.parse_args()
    stale = []
    for name, builder in BUILDERS.items():
        path = OUT_DIR / name
        text = render(builder)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date (run python3 grafana/generate_dashboards.py): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
