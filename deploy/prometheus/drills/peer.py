"""Our throughput alerts beside a peer's: grafana/promql-anomaly-detection (its adaptive
and robust strategies, each with a drop-only alert on its lower band), run by the same
drill runner on the throughput drills and the NAB traces.

The peer's rules are its authors' code and are not in this repository: pass the folder
that holds its rules/adaptive.yml and rules/robust.yml (e.g. a checkout or an extract of
a snapshot) with a file COMMIT naming the commit:

    python3 deploy/prometheus/drills/generate.py --peer-rules DIR

measures the peer and writes its figures to peer-figures.json (our measurements,
the reference that `generate.py --check` holds our rules to: see GOALS below).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import nab
from drills import THROUGHPUT_ALERTS, Allow, Incident

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "peer-figures.json"
PEER_REPO = "grafana/promql-anomaly-detection"
STRATEGIES = {"PeerAdaptiveDrop": "adaptive", "PeerRobustDrop": "robust"}
SUSTAINED = 60  # minutes: an incident at least this long must be kept firing
KEPT_GOAL = 0.9
DELAY_SLACK = 5  # minutes ours may be slower than the peer's (median per drill or trace)


def throughput_groups(groups):
    """The drill groups with throughput incidents (the peer reads only the input)."""
    return [g for g in groups if any(i.alert in THROUGHPUT_ALERTS for d in g.drills
                                     for i in d.catch)]


def peer_view(groups, alert: str):
    """The groups with every throughput incident and allowance renamed to `alert`."""
    out = []
    for g in groups:
        g2 = copy.copy(g)
        g2.drills = []
        for d in g.drills:
            d2 = copy.copy(d)
            d2.catch = [Incident(alert, i.start, i.end) for i in d.catch
                        if i.alert in THROUGHPUT_ALERTS]
            d2.allow = [Allow(alert, a.start, a.end, a.why, a.learning) for a in d.allow
                        if a.alert in THROUGHPUT_ALERTS]
            g2.drills.append(d2)
        out.append(g2)
    return out


def drill_figures(drills, incidents, false_alerts, alerts) -> dict:
    """{drill: {false_minutes, learning_minutes, incidents: [{start, end, delay, held}]}}
    for the alerts named in `alerts`."""
    out = {}
    for d in drills:
        incs = [i for i in incidents if i.drill == d.name and i.alert in alerts]
        fa = [f for f in false_alerts if f.drill == d.name and f.episode.alert in alerts]
        ends = {(c.alert, c.start): c.end for c in d.catch}
        out[d.name] = {
            "false_minutes": sum(f.minutes for f in fa if not f.learning),
            "learning_minutes": sum(f.minutes for f in fa if f.learning),
            "incidents": [{"alert": i.alert, "start": i.start,
                           "end": ends.get((i.alert, i.start)), "delay": i.delay,
                           "held": None if i.held is None else round(i.held, 3)}
                          for i in incs],
        }
    return out


def trace_figures(results) -> dict:
    return {r.trace: {"false_minutes": r.false_minutes, "first_false": r.first_false,
                      "window_minutes": r.window_minutes, "incidents": r.incidents}
            for r in results}


def median(xs):
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def goal_failures(ours: dict, peer: dict | None, minutes_of=None) -> list[str]:
    """The issue's goals for one figure set (drills or traces): no more false-alert
    minutes than the peer (none at all on traces), every incident caught, median delay
    no worse than the peer's + 5 minutes, kept firing >= 90 % of sustained incidents."""
    fails = []
    for name, f in ours.items():
        for strat, pf in ((peer or {}).get("by_strategy", {}).items()):
            p = pf.get(name)
            if p is None:
                continue
            if f["false_minutes"] > p["false_minutes"]:
                fails.append(f"{name}: {f['false_minutes']} false-alert minutes, the peer's "
                             f"{strat} {p['false_minutes']}")
            od = [i["delay"] for i in f["incidents"] if i["delay"] is not None]
            pd = [i["delay"] for i in p["incidents"] if i["delay"] is not None]
            if od and pd and median(od) > median(pd) + DELAY_SLACK:
                fails.append(f"{name}: median delay {median(od)} min, the peer's {strat} "
                             f"{median(pd)} min + {DELAY_SLACK}")
        for i in f["incidents"]:
            if i["delay"] is None:
                fails.append(f"{name}: incident from {i['start']} not caught")
                continue
            length = minutes_of(i) if minutes_of else None
            if length is not None and length >= SUSTAINED and (i["held"] or 0) < KEPT_GOAL:
                fails.append(f"{name}: kept firing {i['held']:.0%} of the incident from "
                             f"{i['start']} (goal {KEPT_GOAL:.0%})")
    return fails


def load_figures() -> dict | None:
    if not FIGURES.exists():
        return None
    return json.loads(FIGURES.read_text(encoding="utf-8"))


def extract(git_dir: Path, out: Path) -> None:
    """Writes the peer's rules/adaptive.yml and rules/robust.yml and a file COMMIT from a
    bare git repository (e.g. a mirror of the peer) into `out`, outside the checkout."""
    import subprocess
    out.mkdir(parents=True, exist_ok=True)
    git = ["git", f"--git-dir={git_dir}"]
    commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    for f in ("adaptive.yml", "robust.yml"):
        text = subprocess.run(git + ["show", f"{commit}:rules/{f}"], capture_output=True,
                              text=True, check=True).stdout
        (out / f).write_text(text, encoding="utf-8")
    (out / "COMMIT").write_text(commit + "\n", encoding="utf-8")


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="extract the peer's rules for --peer-rules")
    ap.add_argument("git_dir", type=Path, help="bare git repository of the peer")
    ap.add_argument("out", type=Path, help="folder to write (outside the repository)")
    a = ap.parse_args()
    extract(a.git_dir, a.out)
    print(f"peer rules in {a.out}; run: python3 deploy/prometheus/drills/generate.py "
          f"--peer-rules {a.out}")
