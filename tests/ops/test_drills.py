"""Coverage of the alert drills (deploy/prometheus/drills): every alert has drills it
must catch and drills it must stay silent on, and the committed report covers them.
Whether the drills are current and every alert meets its goal is checked by
`deploy/prometheus/drills/generate.py --check`, which scripts/test-ops.sh runs as a step
of its own (it replays days of series through promtool).
"""
from __future__ import annotations

import sys

from conftest import ROOT, alert_rules

sys.path.insert(0, str(ROOT / "deploy" / "prometheus" / "drills"))

import drills  # noqa: E402

ALERT_NAMES = {a["alert"] for a in alert_rules()}
GROUPS = drills.groups()
ALL = [d for g in GROUPS for d in g.drills]


def test_every_alert_has_a_drill_to_catch():
    caught = {i.alert for d in ALL for i in d.catch}
    assert ALERT_NAMES <= caught, f"alerts without a drill to catch: {ALERT_NAMES - caught}"
    assert caught <= ALERT_NAMES, f"drills expect alerts the rules lack: {caught - ALERT_NAMES}"


def test_every_alert_has_drills_to_stay_silent_on():
    for name in ALERT_NAMES:
        silent = [d for d in ALL if name not in {i.alert for i in d.catch}
                  and name not in {a.alert for a in d.allow}]
        assert len(silent) >= 5, f"{name}: only {len(silent)} drills where it must stay silent"


def test_the_issue_scenarios_are_drilled():
    names = {d.name for d in ALL}
    assert {"business-hours", "business-hours-drop", "quiet-nights", "quiet-nights-stuck",
            "restart-catch-up", "young-restart-catch-up", "young-drop", "bursty",
            "batch-15m", "slow-decline", "steady-stuck", "checkpoints-slowing",
            "restart-loop", "target-vanished", "controller-down", "weekdays"} <= names


def test_drill_files_and_report_are_committed():
    files = {g.file for g in GROUPS}
    on_disk = {p.relative_to(ROOT).as_posix()
               for p in (ROOT / "deploy" / "prometheus" / "drills").glob("*.test.yml")}
    assert files == on_disk
    report = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    for name in ALERT_NAMES:
        assert f"| {name} |" in report, f"docs/alerts.md has no row for {name}"
    for d in ALL:
        assert f"**{d.name}**" in report, f"docs/alerts.md does not describe drill {d.name}"


def test_drill_names_are_unique_instances():
    names = [d.name for d in ALL]
    assert len(names) == len(set(names))


# ---------------------------------------------------------------- real traffic and the peer

import json  # noqa: E402

import nab  # noqa: E402
import peer  # noqa: E402


def test_nab_traces_are_in_the_repo_with_licence_and_source():
    d = ROOT / "deploy" / "prometheus" / "drills" / "nab"
    assert "MIT" in (d / "LICENSE.txt").read_text(encoding="utf-8") or \
        "Permission is hereby granted" in (d / "LICENSE.txt").read_text(encoding="utf-8")
    readme = (d / "README.md").read_text(encoding="utf-8")
    assert "github.com/numenta/NAB" in readme
    assert __import__("re").search(r"\b[0-9a-f]{40}\b", readme), "README names no commit"
    labels = json.loads((d / "labels.json").read_text(encoding="utf-8"))
    names = [t.file for t in nab.TRACES]
    assert "nyc_taxi.csv" in names
    assert sum(1 for n in names if n.startswith("Twitter_volume_")) >= 3
    for t in nab.TRACES:
        assert (d / t.file).exists(), t.file
        assert t.nab_key in labels, f"labels.json lacks {t.nab_key}"
        assert t.file in readme, f"nab/README.md does not describe {t.file}"


def test_the_blizzard_must_be_caught_and_lies_in_a_nab_window():
    tr = nab.load(next(t for t in nab.TRACES if t.file == "nyc_taxi.csv"))
    assert tr.required, "nyc_taxi has no required incident"
    for s, e, _ in tr.required:
        assert any(a <= s and e <= b for a, b in tr.windows)
        assert s >= tr.judge_from
        # the data drops clearly: below half of the same time a week before
        low = [tr.values[m // nab.STEP] / tr.values[(m - 7 * 1440) // nab.STEP]
               for m in range(s, e, 60)]
        assert max(low) < 0.6, low


def test_traces_are_in_utc():
    tr = nab.load(next(t for t in nab.TRACES if t.file == "nyc_taxi.csv"))
    # the first point, 2014-07-01 00:00 in New York (EDT), is 04:00 UTC
    assert tr.values[4 * 60 // nab.STEP - 1] is None
    assert tr.values[4 * 60 // nab.STEP] is not None


def test_peer_figures_cover_every_throughput_drill_and_trace():
    figures = peer.load_figures()
    assert figures, "deploy/prometheus/drills/peer-figures.json is missing"
    assert __import__("re").fullmatch(r"[0-9a-f]{40}", figures["commit"])
    throughput = {d.name for g in peer.throughput_groups(GROUPS) for d in g.drills}
    traces = {t.name for t in nab.TRACES}
    for strat in ("adaptive", "robust"):
        assert set(figures["drills"]["by_strategy"][strat]) == throughput
        assert set(figures["traces"]["by_strategy"][strat]) == traces
    report = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    assert figures["commit"] in report
    for name in throughput | traces:
        assert f"| {name} |" in report, f"docs/alerts.md has no comparison row for {name}"


def test_peer_rules_are_not_in_the_repo():
    for p in [p for d in ("deploy", "mixin", "docs", "tests") for p in (ROOT / d).rglob("*.y*ml")]:
        text = p.read_text(encoding="utf-8", errors="replace")
        assert "anomaly:adaptive:select" not in text and "anomaly:robust:select" not in text, p
