"""Real traffic for the alert drills: series of the Numenta Anomaly Benchmark (NAB, files
in nab/, see nab/README.md) replayed as the input of one Arroyo pipeline each.

Every trace becomes one exporter target with one Running job whose source reads the
NAB value converted to messages/s, linearly interpolated to one sample every STEP
minutes, with timestamps in UTC. promtool's minute 0 is the UTC midnight before the
trace's first sample (nab_minute() / nab_clock() convert). NAB's labelled anomaly
windows are allowed (an alert there is neither required nor false), and so are the
shorter gaps of the Twitter collector (collection_gaps(): every Twitter file reads 0);
the incidents in REQUIRED must be caught; from JUDGE_FROM_DAY on, any other alert minute
is false.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
NAB_DIR = HERE / "nab"
STEP = 2  # minutes between samples and between rule evaluations
JUDGE_FROM_DAY = 8  # 0-based: judged from the ninth day on (eight days of history)
UTC = dt.timezone.utc


@dataclass
class TraceDef:
    name: str          # drill name (its exporter instance)
    file: str          # CSV in nab/
    nab_key: str       # key of the file in NAB's labels
    tz: str            # time zone of the CSV's timestamps
    per_second: float  # NAB value times this = messages/s
    unit: str


TRACES = [
    TraceDef("nab-nyc-taxi", "nyc_taxi.csv", "realKnownCause/nyc_taxi.csv",
             "America/New_York", 1 / 1800, "taxi passengers per 30 minutes / 1800 s"),
    TraceDef("nab-tweets-aapl", "Twitter_volume_AAPL.csv",
             "realTweets/Twitter_volume_AAPL.csv", "UTC", 1.0,
             "tweets per 5 minutes, read as messages/s"),
    TraceDef("nab-tweets-amzn", "Twitter_volume_AMZN.csv",
             "realTweets/Twitter_volume_AMZN.csv", "UTC", 1.0,
             "tweets per 5 minutes, read as messages/s"),
    TraceDef("nab-tweets-goog", "Twitter_volume_GOOG.csv",
             "realTweets/Twitter_volume_GOOG.csv", "UTC", 1.0,
             "tweets per 5 minutes, read as messages/s"),
    TraceDef("nab-tweets-fb", "Twitter_volume_FB.csv",
             "realTweets/Twitter_volume_FB.csv", "UTC", 1.0,
             "tweets per 5 minutes, read as messages/s"),
]

# Incidents that must be caught: where the data clearly drops. (trace, start, end) in UTC.
# The blizzard of 26-27 January 2015: from 15:00 New York time on the 26th taxi rides
# fall below half of the same hours of the weeks before (the city closed its roads at
# 23:00) and stay far below until about noon of the 27th.
# The Twitter files share a collection outage: from 07:02:53 to 09:07:53 UTC on 11 March
# 2015 every count is 0 (the collector counted nothing for two hours; NAB does not label
# it). For a pipeline that is a source that stops: it must be caught.
OUTAGE = ("2015-03-11 07:00", "2015-03-11 09:10", "the collection outage of 11 March")
REQUIRED = {
    "nab-nyc-taxi": [("2015-01-26 20:00", "2015-01-27 17:00", "the January 2015 blizzard")],
    **{t: [OUTAGE] for t in ("nab-tweets-aapl", "nab-tweets-amzn", "nab-tweets-goog",
                             "nab-tweets-fb")},
}


@dataclass
class Trace:
    d: TraceDef
    origin: dt.datetime            # UTC time of promtool minute 0
    values: list[float | None]     # one per STEP minutes, messages/s
    windows: list[tuple[int, int]] = field(default_factory=list)   # NAB windows, minutes
    required: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.d.name

    @property
    def minutes(self) -> int:
        return (len(self.values) - 1) * STEP + 1

    @property
    def judge_from(self) -> int:
        return JUDGE_FROM_DAY * 1440

    def minute(self, t: dt.datetime) -> int:
        return int((t - self.origin).total_seconds() // 60)

    def clock(self, minute: int) -> str:
        return (self.origin + dt.timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M UTC")


def _to_utc(s: str, tz: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(s.strip().split(".")[0])
    if tz == "UTC":
        return t.replace(tzinfo=UTC)
    # NAB's local times: the repeated hour of the autumn DST change is read as its first
    # occurrence (fold=0); the data has no duplicate timestamps there
    return t.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def load(d: TraceDef, labels: dict | None = None) -> Trace:
    rows = []
    with open(NAB_DIR / d.file, newline="", encoding="utf-8") as f:
        for r in list(csv.reader(f))[1:]:
            rows.append((_to_utc(r[0], d.tz), float(r[1]) * d.per_second))
    rows.sort()
    origin = rows[0][0].replace(hour=0, minute=0, second=0, microsecond=0)
    pts = [((t - origin).total_seconds() / 60, v) for t, v in rows]
    first, last = pts[0][0], pts[-1][0]
    n = int(last // STEP) + 1
    values: list[float | None] = []
    j = 0
    for i in range(n):
        m = i * STEP
        if m < first:
            values.append(None)
            continue
        while j + 1 < len(pts) and pts[j + 1][0] <= m:
            j += 1
        (m0, v0) = pts[j]
        if j + 1 < len(pts):
            m1, v1 = pts[j + 1]
            v = v0 + (v1 - v0) * (m - m0) / (m1 - m0) if m1 > m0 else v0
        else:
            v = v0
        values.append(round(v, 2))
    tr = Trace(d, origin, values)
    labels = labels if labels is not None else json.loads(
        (NAB_DIR / "labels.json").read_text(encoding="utf-8"))
    for a, b in labels.get(d.nab_key, []):
        # NAB's windows are in the file's own time zone
        tr.windows.append((tr.minute(_to_utc(a, d.tz)), tr.minute(_to_utc(b, d.tz))))
    for a, b, why in REQUIRED.get(d.name, []):
        ta = dt.datetime.fromisoformat(a).replace(tzinfo=UTC)
        tb = dt.datetime.fromisoformat(b).replace(tzinfo=UTC)
        tr.required.append((tr.minute(ta), tr.minute(tb), why))
    return tr


def collection_gaps(defs: list[TraceDef]) -> list[tuple[dt.datetime, dt.datetime]]:
    """The times every file of `defs` reads 0 at once (the collector counted nothing, as
    in the outage of 11 March), each sample widened by its 5 minutes on either side and
    merged: the input of a pipeline did stop then, so an alert there is allowed."""
    zeros = None
    for d in defs:
        with open(NAB_DIR / d.file, newline="", encoding="utf-8") as f:
            z = {_to_utc(r[0], d.tz) for r in list(csv.reader(f))[1:] if float(r[1]) == 0}
        zeros = z if zeros is None else zeros & z
    gaps: list[list[dt.datetime]] = []
    for t in sorted(zeros or ()):
        a, b = t - dt.timedelta(minutes=5), t + dt.timedelta(minutes=5)
        if gaps and a <= gaps[-1][1]:
            gaps[-1][1] = b
        else:
            gaps.append([a, b])
    return [(a, b) for a, b in gaps]


def traces() -> list[Trace]:
    labels = json.loads((NAB_DIR / "labels.json").read_text(encoding="utf-8"))
    out = [load(d, labels) for d in TRACES]
    tweets = [d for d in TRACES if d.nab_key.startswith("realTweets/")]
    gaps = collection_gaps(tweets)
    for tr in out:
        if tr.d in tweets:
            for a, b in gaps:
                w = (tr.minute(a), tr.minute(b))
                if not any(s <= w[1] and w[0] <= e for s, e, _ in tr.required):
                    tr.windows.append(w)
    return out


# ---------------------------------------------------------------- replay

# Which alerts fire, 16 evaluations per query: every firing alert series gets the sum of
# 2^(evaluation index mod 32) over the evaluations of the last 16 it fired at (the
# subquery may include a 17th; mod 32 keeps its bit apart).
PROBE_EVALS = 16
PROBE_MOD = 32


def probe_expr(alerts: tuple[str, ...]) -> str:
    sel = "|".join(alerts)
    span = PROBE_EVALS * STEP
    return (f'sum_over_time((ALERTS{{alertstate="firing", alertname=~"{sel}"}} * 2 ^ '
            f'((time() / {STEP * 60}) % {PROBE_MOD}))[{span}m:{STEP}m])')


def trace_series(tr: Trace) -> list[tuple[str, str]]:
    """The series of one trace's exporter target: a Running job and its source."""
    from series import encode
    base = (f'job="arroyo-exporter", instance="{tr.name}", job_id="{job_id(tr.name)}", '
            f'pipeline_id="pl_{job_id(tr.name)[4:]}", pipeline_name="{tr.name}"')
    present = [v is not None for v in tr.values]
    ones = [1.0 if p else None for p in present]
    zeros = [0.0 if p else None for p in present]
    src = base + ', node_id="0", operator_name="source"'
    return [
        (f'arroyo_job_state{{{base}, arroyo_job_state="Running"}}', encode(ones)),
        (f"arroyo_operator_received_messages_per_second{{{src}}}", encode(zeros)),
        (f"arroyo_operator_sent_messages_per_second{{{src}}}", encode(tr.values)),
    ]


def job_id(name: str) -> str:
    import drills
    return drills.job_id(name)


def probe_file(traces_: list[Trace], rule_files: list[str], order: list[str],
               alerts: tuple[str, ...]) -> str:
    q = json.dumps
    minutes = max(t.minutes for t in traces_)
    lines = ["rule_files:"] + [f"  - {f}" for f in rule_files]
    lines += [f"evaluation_interval: {STEP}m", "group_eval_order:"]
    lines += [f"  - {g}" for g in order]
    lines += ["tests:", "  - name: nab", f"    interval: {STEP}m", "    input_series:"]
    for tr in traces_:
        for sel, vals in trace_series(tr):
            lines += [f"      - series: {q(sel)}", f"        values: {q(vals)}"]
    lines.append("    promql_expr_test:")
    expr = probe_expr(alerts)
    span = PROBE_EVALS * STEP
    t = span - STEP
    times = []
    while t < minutes:
        times.append(t)
        t += span
    if times[-1] != (minutes - 1) // STEP * STEP:
        times.append((minutes - 1) // STEP * STEP)
    for t in times:
        lines.append(f"      - {{expr: {q(expr)}, eval_time: {t}m, exp_samples: []}}")
    return "\n".join(lines) + "\n"


def parse_probe(out: str) -> dict[str, set[int]]:
    """{instance: evaluation minutes any of the probed alerts fired at}."""
    import re
    from generate import go_minutes, parse_labels
    fired: dict[str, set[int]] = {}
    for m in re.finditer(r'expr: ".*?", time: (\S+),\n\s+exp: .*\n\s+got: (.*)', out):
        t = go_minutes(m.group(1))
        for sm in re.finditer(r"\{([^{}]*)\} (\S+?)(?:, |$)", m.group(2)):
            labels = parse_labels(sm.group(1))
            bits = int(float(sm.group(2)))
            for k in range(PROBE_EVALS):
                minute = t - k * STEP
                if minute >= 0 and bits >> ((minute // STEP) % PROBE_MOD) & 1:
                    fired.setdefault(labels.get("instance", ""), set()).add(minute)
    return fired


# ---------------------------------------------------------------- segments

# promtool's cost is per evaluation step, hardly per series: the traces run side by side
# in one test, and the seven months of nyc_taxi are cut into segments that run side by
# side too. Each segment after the first starts WARMUP_DAYS before the part it judges,
# longer than any look-back of the rules (three weeks of baselines), so it computes what
# one continuous run would.
SEGMENT_DAYS = 56
WARMUP_DAYS = 22


@dataclass
class Segment:
    trace: Trace
    index: int
    offset: int     # trace minute of the segment's minute 0
    judged: tuple[int, int]  # trace minutes [a, b) this segment reports

    @property
    def name(self) -> str:
        return self.trace.name if self.index == 0 else f"{self.trace.name}-{self.index + 1}"

    def values(self) -> list:
        a = self.offset // STEP
        b = (self.judged[1] - 1) // STEP + 1
        return self.trace.values[a:b]


def segments(tr: Trace) -> list[Segment]:
    out = []
    seg_min = SEGMENT_DAYS * 1440
    warm = WARMUP_DAYS * 1440
    end = tr.minutes
    a, k = 0, 0
    while a < end:
        b = min(end, (a - warm if k else 0) + seg_min)
        if end - b < 7 * 1440:  # no segment for a short rest
            b = end
        # never cut through a required incident (plus the time it may keep firing)
        for s, e, _ in tr.required:
            if s - 60 < b < e + 120:
                b = s - 60
        out.append(Segment(tr, k, a - warm if k else 0, (a, b)))
        a, k = b, k + 1
    return out


def segment_series(seg: Segment) -> list[tuple[str, str]]:
    view = Trace(seg.trace.d, seg.trace.origin, seg.values())
    view.d = TraceDef(seg.name, *[getattr(seg.trace.d, f) for f in
                                  ("file", "nab_key", "tz", "per_second", "unit")])
    return trace_series(view)


def replay(traces_: list[Trace], rule_files: list[str], order: list[str],
           alerts: tuple[str, ...], workdir: Path, tag: str) -> dict[str, dict[str, set[int]]]:
    """Runs the traces through the rules: {trace: {alert: firing trace minutes}}."""
    import re
    import generate
    segs = [s for tr in traces_ for s in segments(tr)]

    class _View:  # what probe_file needs of a trace
        def __init__(self, seg):
            self.name = seg.name
            self.values = seg.values()
            self.minutes = (len(self.values) - 1) * STEP + 1
            self.series = segment_series(seg)

    views = [_View(s) for s in segs]
    text = probe_file_series(views, rule_files, order, alerts)
    path = workdir / f"nab-{tag}.yml"
    path.write_text(text, encoding="utf-8")
    out = generate.run_promtool(path)
    fired: dict[str, dict[str, set[int]]] = {tr.name: {} for tr in traces_}
    for m in re.finditer(r'expr: ".*?", time: (\S+),\n\s+exp: .*\n\s+got: (.*)', out):
        t = generate.go_minutes(m.group(1))
        for sm in re.finditer(r"\{([^{}]*)\} (\S+?)(?:, |$)", m.group(2)):
            labels = generate.parse_labels(sm.group(1))
            seg = next(s for s in segs if s.name == labels.get("instance"))
            bits = int(float(sm.group(2)))
            for k in range(PROBE_EVALS):
                minute = t - k * STEP
                if minute < 0 or not bits >> ((minute // STEP) % PROBE_MOD) & 1:
                    continue
                tm = seg.offset + minute
                if seg.judged[0] <= tm < seg.judged[1]:
                    fired[seg.trace.name].setdefault(labels["alertname"], set()).add(tm)
    return fired


def probe_file_series(views, rule_files, order, alerts) -> str:
    q = json.dumps
    minutes = max(v.minutes for v in views)
    lines = ["rule_files:"] + [f"  - {f}" for f in rule_files]
    lines += [f"evaluation_interval: {STEP}m", "group_eval_order:"]
    lines += [f"  - {g}" for g in order]
    lines += ["tests:", "  - name: nab", f"    interval: {STEP}m", "    input_series:"]
    for v in views:
        for sel, vals in v.series:
            lines += [f"      - series: {q(sel)}", f"        values: {q(vals)}"]
    lines.append("    promql_expr_test:")
    expr = probe_expr(alerts)
    span = PROBE_EVALS * STEP
    last = (minutes - 1) // STEP * STEP
    times = list(range(span - STEP, last + 1, span))
    if not times or times[-1] != last:
        times.append(last)
    for t in times:
        lines.append(f"      - {{expr: {q(expr)}, eval_time: {t}m, exp_samples: []}}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- judging

CLEAR_GRACE = 30  # minutes an alert may go on after a window or incident ends


@dataclass
class TraceResult:
    trace: str
    false_minutes: int
    first_false: str | None
    window_minutes: int
    incidents: list[dict]


def judge(tr: Trace, fired: set[int], keep: int = 0) -> TraceResult:
    grace = CLEAR_GRACE + keep
    allowed = [(a, b + grace) for a, b in tr.windows] + \
              [(s, e + grace) for s, e, _ in tr.required]
    judged = sorted(m for m in fired if m >= tr.judge_from)
    false = [m for m in judged if not any(a <= m <= b for a, b in allowed)]
    inside = [m for m in judged if any(a <= m <= b for a, b in tr.windows)]
    incs = []
    for s, e, why in tr.required:
        hits = [m for m in judged if s <= m < e]
        first = hits[0] if hits else None
        held = None
        if first is not None:
            span = range(first, e, STEP)
            held = sum(1 for m in span if m in fired) / len(span)
        incs.append({"what": why, "start": tr.clock(s), "end": tr.clock(e),
                     "first": None if first is None else tr.clock(first),
                     "delay": None if first is None else first - s,
                     "held": None if held is None else round(held, 3)})
    return TraceResult(tr.name, len(false) * STEP,
                       tr.clock(false[0]) if false else None, len(inside) * STEP, incs)


# ---------------------------------------------------------------- rules to replay

OURS = ("ArroyoThroughputDrop", "ArroyoInputStopped")
OUR_GROUPS = ("arroyo.recording.pipeline", "arroyo.recording.baselines", "arroyo.alerts.throughput")
PEER_ALERTS = ("PeerAdaptiveDrop", "PeerRobustDrop")
PEER_FOR = "5m"


def our_rules(rules_dir: Path, workdir: Path) -> tuple[list[str], list[str]]:
    """The throughput groups of our rule files (the others see no series here)."""
    import yaml
    groups = []
    for f in ("arroyo-recording.yml", "arroyo-alerts.yml"):
        doc = yaml.safe_load((rules_dir / f).read_text(encoding="utf-8"))
        groups += [g for g in doc["groups"] if g["name"] in OUR_GROUPS]
    path = workdir / "nab-ours.rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    return [str(path)], [g["name"] for g in groups]


def peer_harness(peer_dir: Path, workdir: Path) -> tuple[list[str], list[str]]:
    """grafana/promql-anomaly-detection's adaptive and robust rule files, read from
    `peer_dir` (never copied here), plus our harness: the pipeline's input (the source
    operators' output) labelled for both strategies, and one drop-only alert per
    strategy on its lower band, for 5 minutes."""
    import yaml
    files, order = [], ["nab.peer.input"]
    for f in ("adaptive.yml", "robust.yml"):
        doc = yaml.safe_load((peer_dir / f).read_text(encoding="utf-8"))
        files.append(str((peer_dir / f).resolve()))
        order += [g["name"] for g in doc["groups"]]
    src = ('label_replace(sum by (instance, job_id) '
           '(arroyo_operator_sent_messages_per_second{operator_name="source"}), '
           '"anomaly_name", "$1", "instance", "(.*)")')
    rules = [{"record": "nab_peer:input_messages_per_second", "expr": src,
              "labels": {"anomaly_type": "requests", "anomaly_strategy": s}}
             for s in ("adaptive", "robust")]
    alerts = [{"alert": name, "for": PEER_FOR,
               "expr": (f'last_over_time(anomaly:level{{anomaly_strategy="{s}"}}[2m]) '
                        f'< last_over_time(anomaly:lower_band{{anomaly_strategy="{s}"}}[2m])'),
               "labels": {"severity": "warning"}}
              for name, s in zip(PEER_ALERTS, ("adaptive", "robust"))]
    h = workdir / "nab-peer-harness.yml"
    h.write_text(yaml.safe_dump({"groups": [{"name": "nab.peer.input", "rules": rules},
                                            {"name": "nab.peer.alerts", "rules": alerts}]},
                                sort_keys=False), encoding="utf-8")
    return [str(h)] + files, order + ["nab.peer.alerts"]


def run(rules_dir: Path | None, peer_dir: Path | None, workdir: Path, keep: int = 0):
    """{who: [TraceResult]} for our rules (who = "ours") and/or each peer strategy."""
    trs = traces()
    out = {}
    if rules_dir is not None:
        files, order = our_rules(rules_dir, workdir)
        fired = replay(trs, files, order, OURS, workdir, "ours")
        out["ours"] = [judge(tr, set().union(*fired[tr.name].values()) if fired[tr.name]
                             else set(), keep) for tr in trs]
    if peer_dir is not None:
        files, order = peer_harness(peer_dir, workdir)
        fired = replay(trs, files, order, PEER_ALERTS, workdir, "peer")
        for a in PEER_ALERTS:
            out[a] = [judge(tr, fired[tr.name].get(a, set())) for tr in trs]
    return out


if __name__ == "__main__":
    import argparse
    import sys
    import tempfile
    import time
    sys.path.insert(0, str(HERE))
    ap = argparse.ArgumentParser(description="replay the NAB traces (prints the figures)")
    ap.add_argument("--rules", type=Path)
    ap.add_argument("--peer-rules", type=Path)
    args = ap.parse_args()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nab-") as tmp:
        res = run(args.rules, args.peer_rules, Path(tmp))
    for who, rs in res.items():
        for r in rs:
            print(who, r.trace, "false min", r.false_minutes, "first", r.first_false,
                  "in windows", r.window_minutes, r.incidents)
    print(f"{time.monotonic() - t0:.0f} s")
