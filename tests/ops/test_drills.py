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
