#!/usr/bin/env python3
"""Alert drills: days of realistic arroyo-exporter series replayed through the shipped
rules with promtool, to measure which alerts fire, how fast, and which fire for nothing.

    python3 deploy/prometheus/drills/generate.py            # rewrite the drill files and docs/alerts.md
    python3 deploy/prometheus/drills/generate.py --check    # exit 1 when they are stale or a goal is missed
    python3 deploy/prometheus/drills/generate.py --rules DIR --report-only
                                                            # measure other rule files, print the table

What it does:
  1. builds every drill of drills.py (series per minute, the incidents it contains and
     the alerts it may set off) and groups drills of the same length into one promtool
     test (every drill has its own `instance`, so they do not see each other);
  2. runs promtool over every group, asking every 16 minutes which alert series fired
     in which of those minutes (a bit mask over `ALERTS{alertstate="firing"}`; promtool
     prints what it got), which gives the timeline of every alert to the minute;
  3. judges each drill: every incident must be caught within the alert's `for` plus two
     evaluation intervals; any alert outside the windows the drill allows is a false
     alert; alerts in a drill's learning window (a job with no history yet) are counted
     apart;
  4. writes the drills as promtool rule tests (deploy/prometheus/drills/*.test.yml) that
     assert the measured behaviour (the firing `ALERTS` series) at the moments that
     matter: the minute before and the minute an alert starts and stops firing, the start
     and goal deadline of each incident, and every 6 hours; and writes the report
     docs/alerts.md. (The alerts' annotations are asserted by the unit tests in
     deploy/prometheus/tests/.)

`promtool test rules deploy/prometheus/drills/*.test.yml` replays them without Python.
Needs PyYAML and promtool (scripts/test-ops.sh installs both).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

import drills as drill_defs  # noqa: E402
import nab  # noqa: E402
import peer  # noqa: E402
from series import D, clock  # noqa: E402

RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
RULE_FILES = ("arroyo-recording.yml", "arroyo-alerts.yml")
DOC = ROOT / "docs" / "alerts.md"
EVAL_INTERVAL = 1  # minutes
GOAL_EXTRA_EVALS = 2
# Alerts whose condition reads a median of the last minutes: a step change shows in it
# this many minutes later (the median of 5 one-minute samples after 3), added to the goal.
SMOOTHING = {"ArroyoThroughputDrop": 3}
CLEAR_GRACE = 30  # minutes an alert may keep firing after its incident ends (+ keep_firing_for)
GRID = 6 * 60  # minutes between the silence checks of the drill files


# ---------------------------------------------------------------- rules

def parse_duration(s) -> int:
    """Prometheus duration ('15m', '1h30m', '1w1d') in minutes (seconds rounded up)."""
    if s in (None, "", 0, "0", "0s"):
        return 0
    total = 0.0
    units = {"y": 525600, "w": 10080, "d": 1440, "h": 60, "m": 1, "s": 1 / 60, "ms": 1 / 60000}
    for num, unit in re.findall(r"(\d+)(ms|[ywdhms])", str(s)):
        total += int(num) * units[unit]
    return int(-(-total // 1))


@dataclass
class AlertRule:
    name: str
    severity: str
    for_: int
    keep_firing_for: int


def load_rules(rules_dir: Path):
    groups, alerts = [], []
    for fname in RULE_FILES:
        doc = yaml.safe_load((rules_dir / fname).read_text(encoding="utf-8"))
        for g in doc["groups"]:
            groups.append(g["name"])
            for r in g["rules"]:
                if "alert" in r:
                    alerts.append(AlertRule(r["alert"], r.get("labels", {}).get("severity", ""),
                                            parse_duration(r.get("for")),
                                            parse_duration(r.get("keep_firing_for"))))
    recording = [g for g in groups if ".recording" in g]
    order = recording + [g for g in groups if g not in recording]
    return order, alerts


def goal_minutes(rules: list[AlertRule], alert: str, severity: str | None) -> int | None:
    fors = [r.for_ for r in rules if r.name == alert and (severity is None or r.severity == severity)]
    if not fors:
        return None
    return max(fors) + GOAL_EXTRA_EVALS * EVAL_INTERVAL + SMOOTHING.get(alert, 0)


def keep_for(rules: list[AlertRule], alert: str) -> int:
    return max([r.keep_firing_for for r in rules if r.name == alert] or [0])


# ---------------------------------------------------------------- promtool files

def q(s: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(s, ensure_ascii=False)


def header_lines(rule_dir_rel: str, order: list[str], files: list[str] | None = None) -> list[str]:
    lines = ["rule_files:"]
    lines += [f"  - {f}" for f in files] if files else \
        [f"  - {rule_dir_rel}/{f}" for f in RULE_FILES]
    lines += [f"evaluation_interval: {EVAL_INTERVAL}m",
              "# Recording rules first, as the alerts read their results.",
              "group_eval_order:"]
    lines += [f"  - {g}" for g in order]
    return lines


def series_lines(group) -> list[str]:
    lines = []
    for drill in group.drills:
        lines.append(f"      # drill {drill.name}: {drill.title}")
        for s in drill.series:
            lines.append(f"      - series: {q(s.selector())}")
            lines.append(f"        values: {q(s.encoded())}")
    return lines


# Which alerts fire, 16 minutes per query: at minute t, every firing alert series gets
# the sum of 2^(m mod 32) over the minutes m of [t-16m, t] it fired in (a subquery one
# step a minute; ALERTS gets a staleness marker the minute an alert stops). promtool
# prints what it got when the expected answer (nothing) differs.
BLOCK = 16
BITMASK = 'sum_over_time((ALERTS{alertstate="firing"} * 2 ^ ((time() / 60) % 32))[16m:1m])'


def probe_times(minutes: int) -> list[int]:
    times = list(range(BLOCK - 1, minutes, BLOCK))
    if not times or times[-1] != minutes - 1:
        times.append(minutes - 1)
    return times


def probe_file(group, order, rules_dir: Path, files: list[str] | None = None) -> str:
    lines = header_lines(str(rules_dir), order, files)
    lines += ["tests:", f"  - name: {q(group.name)}", "    interval: 1m", "    input_series:"]
    lines += series_lines(group)
    lines.append("    promql_expr_test:")
    for t in probe_times(group.minutes):
        lines.append(f"      - {{expr: {q(BITMASK)}, eval_time: {t}m, exp_samples: []}}")
    return "\n".join(lines) + "\n"


_GO_DUR = re.compile(r"(\d+)(ms|[ywdhms])")


def go_minutes(s: str) -> int:
    return parse_duration(s)


_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_labels(s: str) -> dict[str, str]:
    return {k: json.loads('"' + v + '"') for k, v in _LABEL.findall(s)}


def run_promtool(path: Path) -> str:
    r = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True,
                       text=True)
    out = r.stdout + r.stderr
    if r.returncode == 0:
        return out
    if "FAILED:" not in out or re.search(r"(?i)\berror\b.*(parse|load|unmarshal)", out):
        raise SystemExit(f"promtool could not run {path}:\n{out[-3000:]}")
    return out


def parse_probe(out: str) -> dict[int, list[dict[str, str]]]:
    """The probe's answers as {minute: [labels of each firing alert]}."""
    timeline: dict[int, list[dict[str, str]]] = {}
    answered = set()
    for m in re.finditer(r'expr: ".*?", time: (\S+),\n\s+exp: .*\n\s+got: (.*)', out):
        t = go_minutes(m.group(1))
        answered.add(t)
        first = max(0, t - BLOCK + 1)
        for sm in re.finditer(r"\{([^{}]*)\} (\S+?)(?:, |$)", m.group(2)):
            labels = parse_labels(sm.group(1))
            labels.pop("alertstate", None)
            bits = int(float(sm.group(2)))
            for minute in range(first, t + 1):
                # the last query's window overlaps the one before
                if bits >> (minute % 32) & 1 and labels not in timeline.get(minute, []):
                    timeline.setdefault(minute, []).append(labels)
    if "FAILED" in out and not answered:
        raise SystemExit(f"could not read promtool's output:\n{out[-2000:]}")
    # a minute whose query promtool did not complain about had no firing alert
    return timeline


# ---------------------------------------------------------------- runs

@dataclass
class Run:
    """One promtool test: the drill groups that share a file."""
    name: str
    file: str
    minutes: int
    groups: list

    @property
    def drills(self):
        return [d for g in self.groups for d in g.drills]


def make_runs(groups) -> list[Run]:
    runs: dict[str, Run] = {}
    for g in groups:
        r = runs.get(g.file)
        if r is None:
            runs[g.file] = Run(Path(g.file).name.removesuffix(".test.yml"), g.file, g.minutes, [g])
        elif r.minutes != g.minutes:
            raise SystemExit(f"{g.name}: not as long as the other groups of {g.file}")
        else:
            r.groups.append(g)
    names = [d.name for r in runs.values() for d in r.drills]
    if len(names) != len(set(names)):
        raise SystemExit("drill names (their instance labels) must be unique")
    for r in runs.values():
        owner: dict[str, str] = {}
        for d in r.drills:
            for sr in d.series:
                jid = sr.labels.get("job_id")
                if jid and owner.setdefault(jid, d.name) != d.name:
                    raise SystemExit(f"{r.name}: drills {owner[jid]} and {d.name} share job_id "
                                     f"{jid} (the job-level rules would merge them)")
    return list(runs.values())


# ---------------------------------------------------------------- judging

@dataclass
class Episode:
    alert: str
    labels: dict
    start: int
    end: int  # last firing minute

    @property
    def severity(self):
        return self.labels.get("severity")


def episodes_of(timeline: dict[int, list[dict]]) -> list[Episode]:
    runs: dict[tuple, list[int]] = {}
    for minute in sorted(timeline):
        for labels in timeline[minute]:
            key = tuple(sorted(labels.items()))
            runs.setdefault(key, []).append(minute)
    eps = []
    for key, minutes in runs.items():
        labels = dict(key)
        start = prev = minutes[0]
        for mm in minutes[1:] + [None]:
            if mm is not None and mm == prev + EVAL_INTERVAL:
                prev = mm
                continue
            eps.append(Episode(labels["alertname"], labels, start, prev))
            if mm is not None:
                start = prev = mm
    eps.sort(key=lambda e: (e.start, e.alert))
    return eps


@dataclass
class IncidentResult:
    drill: str
    alert: str
    severity: str | None
    start: int
    first: int | None
    goal: int | None
    # share of the incident's minutes from the first firing to its end with the alert firing
    held: float | None = None
    # labels the alert must carry (the incident's)
    labels: dict = field(default_factory=dict)

    @property
    def delay(self):
        return None if self.first is None else self.first - self.start

    @property
    def caught(self):
        return self.goal is not None and self.delay is not None and self.delay <= self.goal


@dataclass
class FalseAlert:
    drill: str
    episode: Episode
    minutes: int
    learning: bool


def has_labels(ep, labels: dict) -> bool:
    """Whether the alert episode carries every label of `labels` (an incident's)."""
    return all(ep.labels.get(k) == v for k, v in labels.items())


def judge(group, timeline, rules):
    by_drill = {d.name: [] for d in group.drills}
    for ep in episodes_of(timeline):
        inst = ep.labels.get("instance")
        if len(group.drills) == 1:
            by_drill[group.drills[0].name].append(ep)
        elif inst in by_drill:
            by_drill[inst].append(ep)
        else:
            raise SystemExit(f"{group.name}: cannot tell which drill {ep.labels} belongs to")
    incidents, false_alerts = [], []
    for drill in group.drills:
        eps = by_drill[drill.name]
        windows = []  # (alert, severity, start, end, learning)
        for inc in drill.catch:
            goal = goal_minutes(rules, inc.alert, inc.severity)
            firsts = [max(e.start, inc.start) for e in eps
                      if e.alert == inc.alert and (inc.severity is None or e.severity == inc.severity)
                      and has_labels(e, inc.labels)
                      and e.end >= inc.start and (inc.end is None or e.start <= inc.end)]
            first = min(firsts) if firsts else None
            held = None
            if first is not None:
                last = (inc.end if inc.end is not None else group.minutes) - 1
                firing = set()
                for e in eps:
                    if e.alert == inc.alert and (inc.severity is None or e.severity == inc.severity) \
                            and has_labels(e, inc.labels):
                        firing |= set(range(e.start, e.end + 1))
                span = range(first, max(first, last) + 1)
                held = sum(1 for mm in span if mm in firing) / len(span)
            incidents.append(IncidentResult(drill.name, inc.alert, inc.severity, inc.start,
                                            first, goal, held, dict(inc.labels)))
            end = (inc.end if inc.end is not None else group.minutes) + CLEAR_GRACE \
                + keep_for(rules, inc.alert)
            windows.append((inc.alert, None, inc.start, end, False, inc.labels))
        for a in drill.allow:
            windows.append((a.alert, a.severity, a.start, a.end, a.learning, {}))
        for ep in eps:
            # an alert that starts in a learning window counts as a learning alert
            at_start = [w for w in windows if w[0] == ep.alert and w[2] <= ep.start <= w[3]
                        and (w[1] is None or w[1] == ep.severity) and has_labels(ep, w[5])]
            started_learning = bool(at_start) and all(w[4] for w in at_start)
            if started_learning:
                false_alerts.append(FalseAlert(drill.name, ep, ep.end - ep.start + 1, True))
                continue
            bad, learn = 0, 0
            for mm in range(ep.start, ep.end + 1):
                cover = [w for w in windows if w[0] == ep.alert and w[2] <= mm <= w[3]
                         and (w[1] is None or w[1] == ep.severity) and has_labels(ep, w[5])]
                if not cover:
                    bad += 1
                elif all(w[4] for w in cover):
                    learn += 1
            if bad:
                false_alerts.append(FalseAlert(drill.name, ep, bad, False))
            elif learn:
                false_alerts.append(FalseAlert(drill.name, ep, learn, True))
    return incidents, false_alerts


def keytimes_for(group, timeline, rules) -> list[int]:
    """The minutes the drill file asserts: every 6 hours, the minute before and the
    minute an alert starts and stops firing, each incident's start and goal deadline."""
    times = set(range(0, group.minutes, GRID))
    for ep in episodes_of(timeline):
        times |= {ep.start - 1, ep.start, ep.end, ep.end + 1}
    for drill in group.drills:
        for inc in drill.catch:
            goal = goal_minutes(rules, inc.alert, inc.severity) or 0
            times |= {inc.start, inc.start + goal}
    return sorted(t for t in times if 0 <= t < group.minutes)


# ---------------------------------------------------------------- drill files

def drill_file(group, order, keytimes, timeline) -> str:
    lines = [f"# GENERATED by deploy/prometheus/drills/generate.py: do not edit.",
             f"# promtool test rules {Path(group.file).as_posix()}",
             f"# Drills of {', '.join(g.name for g in group.groups)}: {group.minutes // D} "
             "days of one-minute samples (minute 0 = day 1 00:00).",
             "# The assertions are the behaviour measured when the file was generated; "
             "docs/alerts.md",
             "# says what each drill expects and how the rules did."]
    for drill in group.drills:
        lines.append(f"#   {drill.name}: {drill.title}")
    lines += header_lines("../rules", order)
    lines += ["tests:", f"  - name: {q(group.name)}", "    interval: 1m", "    input_series:"]
    lines += series_lines(group)
    lines.append("    promql_expr_test:")
    for m in keytimes:
        firing = sorted((dict(a) for a in timeline.get(m, [])), key=lambda a: sorted(a.items()))
        lines.append(f"      - expr: 'ALERTS{{alertstate=\"firing\"}}'  # {clock(m)}")
        lines.append(f"        eval_time: {m}m")
        if not firing:
            lines.append("        exp_samples: []")
            continue
        lines.append("        exp_samples:")
        for labels in firing:
            labels = {**labels, "alertstate": "firing"}
            inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
            lines.append(f"          - labels: {q('ALERTS{' + inner + '}')}")
            lines.append("            value: 1")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- report

def fmt_min(m):
    return "–" if m is None else f"{m} min"


def summary_rows(rules, incidents, false_alerts, drills):
    rows = []
    for name in sorted({r.name for r in rules} | {i.alert for i in incidents}):
        sev = "/".join(sorted({r.severity for r in rules if r.name == name})) or "(no rule)"
        fors = sorted({r.for_ for r in rules if r.name == name})
        keeps = sorted({r.keep_firing_for for r in rules if r.name == name} - {0})
        incs = [i for i in incidents if i.alert == name]
        caught = [i for i in incs if i.caught]
        delays = [i.delay for i in incs if i.delay is not None]
        goals = sorted({i.goal for i in incs if i.goal is not None})
        fa = [f for f in false_alerts if f.episode.alert == name and not f.learning]
        la = [f for f in false_alerts if f.episode.alert == name and f.learning]
        silent = [d for d in drills if name not in {c.alert for c in d.catch}]
        rows.append({
            "alert": name, "severity": sev,
            "for": "/".join(f"{f}m" for f in fors) or "–",
            "keep": "/".join(f"{k}m" for k in keeps) or "–",
            "incidents": len(incs), "caught": len(caught),
            "worst": max(delays) if delays else None,
            "held": min([i.held for i in incs if i.held is not None] or [None]) if incs else None,
            "goal": "/".join(f"{g}" for g in goals) if goals else "–",
            "silent_drills": len(silent),
            "false": len(fa), "false_minutes": sum(f.minutes for f in fa),
            "learning": len(la),
        })
    return rows


def summary_table(rows) -> list[str]:
    out = ["| alert | severity | `for` | `keep_firing_for` | caught (within goal) | worst delay "
           "(goal) | kept firing (worst incident) | drills it must stay silent on | false alerts "
           "(minutes) | learning-window alerts |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        caught = f"{r['caught']}/{r['incidents']}" if r["incidents"] else "–"
        worst = "–" if r["worst"] is None else f"{r['worst']} min ({r['goal']} min)"
        if r["incidents"] and r["worst"] is None:
            worst = f"never ({r['goal']} min)"
        held = "–" if r["held"] is None else f"{r['held']:.0%}"
        out.append(f"| {r['alert']} | {r['severity']} | {r['for']} | {r['keep']} | {caught} | "
                   f"{worst} | {held} | {r['silent_drills']} | {r['false']} "
                   f"({r['false_minutes']}) | {r['learning']} |")
    return out


def grouped_false(false_alerts, learning: bool):
    """False (or learning-window) alerts by drill, alert and severity, in order."""
    out: dict[tuple, list[FalseAlert]] = {}
    for f in false_alerts:
        if f.learning == learning:
            out.setdefault((f.drill, f.episode.alert, f.episode.severity), []).append(f)
    return out


def describe_episodes(fs: list[FalseAlert]) -> str:
    """'day 2 18:47 – day 2 20:11' or '3 times, 255 min, first day 2 18:47 – 20:11'."""
    e = fs[0].episode
    span = f"{clock(e.start)} – {clock(e.end)}"
    if len(fs) == 1:
        return f"{span} ({e.end - e.start + 1} min)"
    total = sum(f.episode.end - f.episode.start + 1 for f in fs)
    return f"{len(fs)} times, {total} min in all, first {span}"


def goal_failures(incidents, false_alerts) -> list[str]:
    out = []
    for i in incidents:
        if not i.caught:
            why = "alert not in the rules" if i.goal is None else (
                "never fired" if i.first is None else f"fired after {i.delay} min, goal {i.goal} min")
            out.append(f"{i.drill}: {i.alert}{'/' + i.severity if i.severity else ''} "
                       f"from {clock(i.start)}: {why}")
    for (drill, alert, sev), fs in grouped_false(false_alerts, False).items():
        out.append(f"{drill}: false {alert} ({sev}) {describe_episodes(fs)}")
    return out


def render_doc(groups, rules, incidents, false_alerts, runtime_note: str,
               sections: list[str] = ()) -> str:
    drills = [d for g in groups for d in g.drills]
    rows = summary_rows(rules, incidents, false_alerts, drills)
    fails = goal_failures(incidents, false_alerts)
    L = ["<!-- GENERATED by deploy/prometheus/drills/generate.py: do not edit. -->",
         "# Alert drills",
         "",
         "How the alerts of `deploy/prometheus/rules/` behave on days of realistic",
         "arroyo-exporter series: which incidents they catch, how fast, and what they fire",
         "for that is not an incident. `deploy/prometheus/drills/generate.py` builds the",
         "series (`drills.py`), replays them through the rules with promtool (one",
         "evaluation a minute, as if Prometheus scraped and evaluated every minute), and",
         "writes this page and the promtool tests `deploy/prometheus/drills/*.test.yml`.",
         "`bash scripts/test-ops.sh` regenerates both and fails when a committed file is",
         "stale or an alert misses its goal.",
         "",
         "**Goal**: every incident caught within the alert's `for` plus two evaluation",
         "intervals (here 2 minutes) of the moment the incident starts (for",
         "ArroyoThroughputDrop plus 3 minutes: it reads the median of the last 5",
         "minutes, which shows a step after 3), and no alert outside the windows a",
         "drill allows.",
         "An incident starts when the data first shows it: the first minute of a drop, of",
         "a stuck source, of failed scrapes; a restart loop when the third restart within",
         "30 minutes happens; stalled checkpoints when the newest checkpoint is overdue",
         "(older than three intervals, at least 2 minutes); slow checkpoints when every",
         "checkpoint from then on takes more than 80 % of the interval.",
         "An alert may keep firing up to 30 minutes (plus its `keep_firing_for`) after",
         "its incident ends; longer counts as false alert minutes. *Kept firing* is the",
         "share of an incident, from the alert's first firing to the incident's end,",
         "during which it fired: an alert that resolves while the incident goes on",
         "misleads (see Known limits for ArroyoThroughputDrop).",
         "*Learning-window alerts*: in the throughput drills, ArroyoThroughputDrop and",
         "ArroyoInputStopped at severity warning may start firing during the first day of a job",
         "(the rules cannot tell a normal evening from an outage before they have seen",
         "one evening, nor a batch source's pause from a stop before its first hour).",
         "They are listed, not counted as false alerts; a page (critical) there is false.",
         "",
         f"Result: {'**every alert meets the goal**' if not fails else '**goal missed**'}"
         f" ({sum(1 for i in incidents if i.caught)}/{len(incidents)} incidents caught in "
         f"time, {sum(1 for f in false_alerts if not f.learning)} false alerts, "
         f"{len(drills)} drills).",
         ""]
    L += summary_table(rows)
    if fails:
        L += ["", "Missed goals:", ""] + [f"- {f}" for f in fails]
    L += ["", "## Drills", "",
          "Times are clock times of the drill: day 1 starts at minute 0 (promtool's",
          "1970-01-01 00:00 UTC); the weekly drills treat day 1 as a Saturday.",
          "*Must catch*: the incidents, with the delay measured (the first evaluation at",
          "which the alert fired). *Allowed*: alerts that are consequences of the",
          "incident, or fire in a learning window. Every other alert must stay silent.",
          ""]
    for g in groups:
        L += [f"### {g.name} ({g.minutes // D} days, `{Path(g.file).as_posix()}`)", ""]
        for d in g.drills:
            L.append(f"**{d.name}**: {d.title}")
            L.append("")
            if d.description:
                L += [d.description, ""]
            incs = [i for i in incidents if i.drill == d.name]
            for i in incs:
                sev = f" ({i.severity})" if i.severity else ""
                if i.labels:
                    sev += " for " + ", ".join(f"`{k}={v}`" for k, v in sorted(i.labels.items()))
                res = ("not in the rules" if i.goal is None else
                       "**missed**" if i.first is None else
                       f"fired after {i.delay} min" + ("" if i.caught else
                                                       f" (**goal {i.goal} min**)")
                       + f", then fired for {i.held:.0%} of the incident")
                L.append(f"- must catch {i.alert}{sev} from {clock(i.start)}: {res}")
            for a in d.allow:
                if a.learning:
                    continue  # the same for every throughput drill: said above
                sev = f" ({a.severity})" if a.severity else ""
                L.append(f"- allowed: {a.alert}{sev} {clock(a.start)} – {clock(a.end)}: {a.why}")
            fa = [f for f in false_alerts if f.drill == d.name]
            for learn in (False, True):
                tag = "learning-window alert" if learn else "**false alert**"
                for (_d, alert, sev), fs in grouped_false(fa, learn).items():
                    L.append(f"- {tag}: {alert} ({sev}) {describe_episodes(fs)}")
            if not incs and not fa:
                L.append("- must stay silent: no alert")
            elif not [f for f in fa if not f.learning]:
                L.append("- no false alert")
            L.append("")
    L += list(sections)
    L += FLEET_SECTION
    L += ["## Known limits", "",
          "What the rules do not catch, or catch late, by design:",
          "",
          "- A source that stops for good where input is sparse anyway (a batch source",
          "  that feeds a few minutes an hour) fires neither throughput alert: its usual",
          "  share of minutes with input is far below the 90 % ArroyoInputStopped wants,",
          "  and its median rate is 0.",
          "- A job younger than a week whose source stays quiet past its usual start in",
          "  the morning: yesterday's shape scaled to the quiet night expects little.",
          "  With a week of history the weeks' shape catches it.",
          "- A job younger than a week compares a weekend day with the weekday before",
          "  (yesterday is its only shape): its first Saturday can look like a drop.",
          "- A drop that comes slowly over hours (a decline of 30 % over six hours) lowers",
          "  today's level with it and is no drop; a drop to a level seen yesterday at",
          "  this time (a holiday that looks like a Sunday) is none either.",
          "- For a job younger than a day, a drop that lasts longer than about three hours",
          "  becomes its recent past: ArroyoThroughputDrop resolves while the input is",
          "  still low (the *Arroyo / Pipeline* dashboard shows input against the",
          "  expected rate).",
          "- ArroyoExporterTargetMissing uses absent(): in a Prometheus that sees",
          "  several clusters it fires only when the exporter is gone from all of them.",
          "",
          "## Running the drills", "",
          "```sh",
          "python3 deploy/prometheus/drills/generate.py           # regenerate files and this page",
          "python3 deploy/prometheus/drills/generate.py --check   # what the test command runs",
          "promtool test rules deploy/prometheus/drills/*.test.yml",
          "# measure other rules (e.g. an edited copy) without writing anything:",
          "python3 deploy/prometheus/drills/generate.py --rules /path/to/rules --report-only",
          "```",
          "",
          runtime_note,
          ""]
    return "\n".join(L)


# The "1,000 jobs" drill family: run live, not by promtool (tests/fleet_alerts.rs, by
# hand: 8-12 minutes each); its figures as measured (BENCHMARKS.md has the details).
FLEET_SECTION = [
    "## 1,000 jobs (live drills, issue 18)", "",
    "A simulated Arroyo running a fleet (two operators per job, 10 s checkpoint interval,",
    "checkpoints completing in real time), the release binary with default settings, and a",
    "real Prometheus scraping every 15 s with the shipped rules; one job's checkpoints (the",
    "one at 70 % of the job list, not one read first) stop 60 s in. Run by hand:",
    "`FLEET_JOBS=1000 cargo test --release --test fleet_alerts -- --ignored --nocapture`.",
    "With hundreds of jobs the exporter re-reads each job's checkpoints only every few",
    "minutes (`arroyo_exporter_refresh_period_seconds`): ArroyoCheckpointsStalled judges the",
    "checkpoint's age at the exporter's last read, so that delay never pages.",
    "",
    "| drill | healthy jobs with a checkpoint alert (pending or firing) | stall paged after | goal | refresh period | slowest scrape |",
    "|---|---:|---:|---:|---:|---:|",
    "| **fleet-1000** (12 min) | 0 of 999 | 241 s | 600 s | 250 s | 3.5 s |",
    "| **fleet-100** (8 min) | 0 of 99 | 211 s | 300 s | 25 s | 0.5 s |",
    "",
    "Before issue 18 (a per-scrape budget of 20 calls, the rule on \"now - last completed\")",
    "the 1,000-job run paged 998 of 999 healthy jobs, and 249 of 299 at 300 jobs.",
    "",
]


# ---------------------------------------------------------------- main

def measure(runs, order, rules, rules_dir: Path, workdir: Path, files=None, extra=()):
    """Runs every drill file's probe (and the callables of `extra`, e.g. the NAB replay,
    in the same pool of promtool processes)."""
    def probe(run):
        if callable(run):
            return run()
        t0 = time.monotonic()
        p = workdir / f"probe-{run.name}.yml"
        p.write_text(probe_file(run, order, rules_dir, files), encoding="utf-8")
        timeline = parse_probe(run_promtool(p))
        if os.environ.get("DRILL_TIMES"):
            print(f"{run.name}: {time.monotonic() - t0:.1f} s", file=sys.stderr)
        return run, timeline, keytimes_for(run, timeline, rules)

    workers = max(1, min(len(runs) + len(extra), int(os.environ.get("DRILL_JOBS", "2"))))
    with cf.ThreadPoolExecutor(workers) as ex:
        # the longest first: the NAB replay
        out = list(ex.map(probe, [*extra, *runs]))
    return out[len(extra):], out[:len(extra)]


def judge_all(results, rules):
    """(incidents, false alerts) of every run `measure` returned."""
    incidents, false_alerts = [], []
    for group, timeline, _kt in results:
        inc, fa = judge(group, timeline, rules)
        incidents += inc
        false_alerts += fa
    return incidents, false_alerts


def measure_peer(groups, peer_dir: Path, workdir: Path, traces: bool = True) -> None:
    """Runs the peer on the throughput drills and the NAB traces (with traces=False,
    keeps the traces' figures of peer-figures.json); writes its figures."""
    files, porder = nab.peer_harness(peer_dir.resolve(), workdir)
    pgroups = peer.throughput_groups(groups)
    prules = [AlertRule(a, "warning", parse_duration(nab.PEER_FOR), 0) for a in nab.PEER_ALERTS]
    runs = make_runs(pgroups)
    results, extra = measure(runs, porder, prules, peer_dir, workdir, files=files,
                             extra=(lambda: nab.run(None, peer_dir.resolve(), workdir),)
                             if traces else ())
    old = peer.load_figures() or {}
    by_strategy_d, by_strategy_t = {}, {}
    for alert, strat in peer.STRATEGIES.items():
        incs, fas = [], []
        for run, timeline, _kt in results:
            view = Run(run.name, run.file, run.minutes, peer.peer_view(run.groups, alert))
            inc, fa = judge(view, timeline, prules)
            incs += inc
            fas += fa
        by_strategy_d[strat] = peer.drill_figures(
            [d for r in runs for d in r.drills], incs, fas, (alert,))
        by_strategy_t[strat] = peer.trace_figures(extra[0][alert]) if traces else \
            old.get("traces", {}).get("by_strategy", {}).get(strat, {})
    commit = (peer_dir / "COMMIT").read_text(encoding="utf-8").strip() \
        if (peer_dir / "COMMIT").exists() else "unknown"
    data = {"peer": peer.PEER_REPO, "commit": commit,
            "harness": "deploy/prometheus/drills/nab.py peer_harness(): rules/adaptive.yml "
                       "and rules/robust.yml fed the pipeline's input; a drop-only alert "
                       f"on each strategy's lower band, for: {nab.PEER_FOR}",
            "drills": {"by_strategy": by_strategy_d},
            "traces": {"by_strategy": by_strategy_t}}
    if "previous_rules" in old:  # our rules before issue 19, measured once: kept
        data["previous_rules"] = old["previous_rules"]
    peer.FIGURES.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {peer.FIGURES.relative_to(ROOT)}", file=sys.stderr)


def _fig_cells(f) -> list[str]:
    if f is None:
        return ["–", "–", "–", "–"]
    incs = f["incidents"]
    caught = sum(1 for i in incs if i["delay"] is not None)
    delays = [i["delay"] for i in incs if i["delay"] is not None]
    held = [i["held"] for i in incs if i["held"] is not None]
    return [str(f["false_minutes"]),
            f"{caught}/{len(incs)}" if incs else "–",
            f"{peer.median(delays):g} min" if delays else ("missed" if incs else "–"),
            f"{min(held):.0%}" if held else "–"]


def before_note(figures) -> str:
    return figures["previous_rules"]["note"]


def comparison(ours_drills, ours_traces, figures) -> list[str]:
    """The sections of docs/alerts.md on real traffic and on the peer."""
    L = []
    if ours_traces is not None:
        L += ["## Real traffic: NAB traces", "",
              "Five series of the Numenta Anomaly Benchmark (`deploy/prometheus/drills/nab/`,",
              "MIT licence; its README names the commit and the conversion), each the input",
              "of one pipeline, in UTC, one sample and one evaluation every 2 minutes, judged",
              "from the ninth day on. NAB's labelled anomaly windows are allowed (an alert",
              "there, or up to 30 minutes after, is neither required nor false); the January",
              "2015 blizzard in nyc_taxi (26 Jan 20:00 – 27 Jan 17:00 UTC, the hours when",
              "taxi rides were below half of the weeks before) must be caught, and so must",
              "the collection outage in the Twitter files (11 Mar 07:00 – 09:10 UTC, every",
              "count 0: a source that stops; NAB does not label it). The goal: no alert",
              "minute outside the windows and incidents, every incident caught and kept",
              "firing for at least 90 % of it. `generate.py` replays the traces with the drills;",
              "the seven months of nyc_taxi run as six segments side by side (each starting",
              "22 days before the part it judges, longer than any look-back of the rules).",
              "",
              "| trace | false-alert minutes (first) | alert minutes inside NAB windows | required incident: first firing, delay, kept firing |",
              "|---|---|---|---|"]
        before = ((figures or {}).get("previous_rules") or {}).get("traces", {})
        if before:
            L[-2] = L[-2].rstrip("|") + "| before issue 19: false-alert minutes, blizzard delay, kept firing |"
            L[-1] = L[-1] + "---|"
        for name, f in ours_traces.items():
            inc = "; ".join(
                f"{i['what']}: {i['first'] or 'missed'}"
                + (f", {i['delay']} min, {i['held']:.0%}" if i["delay"] is not None else "")
                for i in f["incidents"]) or "–"
            first = f" ({f['first_false']})" if f["first_false"] else ""
            row = f"| {name} | {f['false_minutes']}{first} | {f['window_minutes']} | {inc} |"
            if before:
                b = before.get(name)
                bi = [f", {i['delay']} min, {i['held']:.0%}" for i in (b or {}).get("incidents", [])
                      if i["delay"] is not None]
                row += f" {b['false_minutes'] if b else '–'}{''.join(bi)} |"
            L.append(row)
        if before:
            L += ["", "*Before issue 19*: " + before_note(figures) + "."]
        L.append("")
    if figures:
        strats = list(figures["drills"]["by_strategy"])
        L += [f"## Beside {figures['peer']}", "",
              f"The same drill runner with the adaptive and robust strategies of",
              f"[{figures['peer']}](https://github.com/{figures['peer']}) (Apache-2.0), commit",
              f"`{figures['commit']}`: its rule files fed the pipeline's input (the source",
              f"operators' output) and one drop-only alert per strategy on its lower band,",
              f"`for: {nab.PEER_FOR}` (the harness is `nab.py`, `peer_harness()`; the peer's",
              "rules are read from a folder given to `generate.py --peer-rules`, never copied",
              "here). Its figures are stored in `deploy/prometheus/drills/peer-figures.json`;",
              "`generate.py --check` holds our rules to them: no more false-alert minutes",
              "than either strategy, median detection delay at most 5 minutes slower than",
              "either one's where it caught the incident, every incident caught, and kept",
              "firing at least 90 % of every incident of an hour or more.",
              "Throughput incidents are ArroyoThroughputDrop and ArroyoInputStopped's for us,",
              "the drop alert's for the peer; learning-window alerts are not counted.",
              "",
              "Per drill and trace: false-alert minutes / incidents caught / median delay /",
              "kept firing (worst incident).", "",
              "| drill or trace | ours | " + " | ".join(f"peer {s}" for s in strats) + " |",
              "|---|---|" + "---|" * len(strats)]
        rows = [(n, f, {s: figures["drills"]["by_strategy"][s].get(n) for s in strats})
                for n, f in ours_drills.items()]
        if ours_traces is not None:
            rows += [(n, f, {s: figures["traces"]["by_strategy"][s].get(n) for s in strats})
                     for n, f in ours_traces.items()]
        for n, f, p in rows:
            cells = [" / ".join(_fig_cells(f))] + [" / ".join(_fig_cells(p[s])) for s in strats]
            L.append(f"| {n} | " + " | ".join(cells) + " |")
        L.append("")
    import tradeoff  # here: tradeoff.py imports this module
    L += tradeoff.section(tradeoff.load())
    return L


def tradeoff_stale(ours_drills, ours_traces) -> bool:
    """Whether tradeoff-figures.json's defaults row differs from this run's figures."""
    import tradeoff
    trade = tradeoff.load()
    if not trade or ours_traces is None:
        return False
    now = tradeoff.summary(ours_drills, ours_traces)
    row = next((v for v in trade["variants"] if v["name"] == "defaults"), None)
    return row is None or {k: row.get(k) for k in now} != now


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files; fail when stale or a goal is missed")
    ap.add_argument("--rules", type=Path, default=RULES_DIR,
                    help="directory with arroyo-recording.yml and arroyo-alerts.yml")
    ap.add_argument("--report-only", action="store_true",
                    help="print the summary table and missed goals; write nothing")
    ap.add_argument("--only", help="regular expression: run only the matching drill groups")
    ap.add_argument("--peer-rules", type=Path,
                    help="measure grafana/promql-anomaly-detection from this folder (its "
                         "rules/*.yml and a file COMMIT) on the throughput drills and the "
                         "NAB traces and write peer-figures.json (see peer.py)")
    args = ap.parse_args()
    if not shutil.which("promtool"):
        print("promtool not found (Debian package prometheus)", file=sys.stderr)
        return 2
    started = time.monotonic()
    order, rules = load_rules(args.rules)
    groups = drill_defs.groups()
    if args.only:
        groups = [g for g in groups if re.search(args.only, g.name)]
    runs = make_runs(groups)
    with tempfile.TemporaryDirectory(prefix="drills-") as tmp:
        if args.peer_rules:
            measure_peer(groups, args.peer_rules, Path(tmp),
                         traces=not os.environ.get("PEER_KEEP_TRACES"))
        replay = () if args.only else (
            lambda: nab.run(args.rules.resolve(), None, Path(tmp),
                            keep_for(rules, "ArroyoThroughputDrop"))["ours"],)
        results, extra = measure(runs, order, rules, args.rules.resolve(), Path(tmp),
                                 extra=replay)
    nab_results = extra[0] if extra else None
    incidents, false_alerts = judge_all(results, rules)
    fails = goal_failures(incidents, false_alerts)
    elapsed = time.monotonic() - started
    drills = [d for g in groups for d in g.drills]
    figures = peer.load_figures()
    ours_drills = peer.drill_figures(
        [d for g in peer.throughput_groups(groups) for d in g.drills], incidents,
        false_alerts, drill_defs.THROUGHPUT_ALERTS)
    fails += peer.goal_failures(ours_drills, (figures or {}).get("drills"),
                                lambda i: None if i["end"] is None else i["end"] - i["start"])
    if nab_results is not None:
        ours_traces = peer.trace_figures(nab_results)
        fails += peer.goal_failures(ours_traces, (figures or {}).get("traces"),
                                    lambda i: 60)  # every required NAB incident lasts hours
        for name, f in ours_traces.items():
            if f["false_minutes"]:
                fails.append(f"{name}: {f['false_minutes']} false-alert minutes outside "
                             f"NAB's windows (first {f['first_false']})")
    else:
        ours_traces = None
    if args.report_only:
        print("\n".join(summary_table(summary_rows(rules, incidents, false_alerts, drills))))
        for f in fails:
            print("missed:", f)
        for (drill, alert, sev), fs in grouped_false(false_alerts, True).items():
            print(f"learning: {drill}: {alert} ({sev}) {describe_episodes(fs)}")
        print(f"{len(drills)} drills in {len(runs)} promtool tests, {elapsed:.0f} s")
        return 1 if fails else 0
    if args.only:
        print("--only needs --report-only (the files cover every group)", file=sys.stderr)
        return 2
    outputs = {}
    for group, timeline, kt in results:
        outputs[ROOT / group.file] = drill_file(group, order, kt, timeline)
    note = (f"The drills are {len(drills)} exporter targets in {len(runs)} promtool tests "
            f"covering {sum(r.minutes for r in runs) // D} days of one-minute samples.")
    outputs[DOC] = render_doc(groups, rules, incidents, false_alerts, note,
                              comparison(ours_drills, ours_traces, figures))
    stale = []
    for path, text in outputs.items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if tradeoff_stale(ours_drills, ours_traces):
        stale.append("deploy/prometheus/drills/tradeoff-figures.json (its defaults row "
                     "differs from the shipped rules: run tradeoff.py)")
    if not args.check:
        for old in HERE.glob("*.test.yml"):
            if old not in outputs:
                old.unlink()
    elif {p.name for p in HERE.glob("*.test.yml")} != {p.name for p in outputs if p.suffix == ".yml"}:
        stale.append("deploy/prometheus/drills/*.test.yml (files added or removed)")
    for f in fails:
        print("goal missed:", f, file=sys.stderr)
    if stale:
        print("out of date, run `python3 deploy/prometheus/drills/generate.py`: "
              + ", ".join(stale), file=sys.stderr)
    print(f"drills: {len(drills)} drills, {len(incidents)} incidents, "
          f"{sum(1 for i in incidents if i.caught)} caught in time, "
          f"{sum(1 for f in false_alerts if not f.learning)} false alerts, "
          f"{elapsed:.0f} s", file=sys.stderr)
    return 1 if (fails or stale) else 0


if __name__ == "__main__":
    sys.exit(main())
