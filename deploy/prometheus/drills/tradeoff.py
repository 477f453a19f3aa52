"""What ArroyoThroughputDrop's knobs trade: each variant of the mixin's `_config` below
is rendered, run through the throughput drills and the NAB traces by the drill runner,
and summed up (false-alert minutes, incidents caught, median delay, the least kept
firing share of an incident of an hour or more).

    python3 deploy/prometheus/drills/tradeoff.py   # measure; write tradeoff-figures.json
                                                   # and its section of docs/alerts.md

`generate.py` renders the same section, and `generate.py --check` fails when
the "defaults" row no longer matches the shipped rules (the figures are then stale: run
this again). About 5 minutes per variant on two cores; the figures are written after
every variant.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "mixin"))

import build  # noqa: E402  (mixin/build.py: renders the mixin)
import drills as drill_defs  # noqa: E402
import generate  # noqa: E402
import nab  # noqa: E402
import peer  # noqa: E402

FIGURES = HERE / "tradeoff-figures.json"

# (name, jsonnet object added to the mixin, what it changes)
VARIANTS = [
    ("defaults", "{}", "as shipped"),
    ("no fall check",
     "{_config+:: {thresholds+: {throughputDropRecentRatio: null}}}",
     "thresholds.throughputDropRecentRatio: null (below the usual shape is enough)"),
    ("no collapse test",
     "{_config+:: {thresholds+: {throughputCollapseRatio: null}}}",
     "thresholds.throughputCollapseRatio: null (every drop waits for the full band)"),
    ("noise band 3",
     "{_config+:: {thresholds+: {throughputDropNoiseBand: 3}}}",
     "thresholds.throughputDropNoiseBand: 3"),
    ("scatter of one hour",
     "{_config+:: {baselines+: {noiseSpan: '1h'}}}",
     "baselines.noiseSpan: '1h' (the last hour's scatter only)"),
    ("for 5m",
     "{_config+:: {alerts+: {ArroyoThroughputDrop+: {'for': '5m'}}}}",
     "alerts.ArroyoThroughputDrop.for: '5m'"),
]


def render(override: str, out: Path) -> None:
    """Writes the two rule files of the mixin plus `override` into `out`."""
    mixin = f'((import "mixin.libsonnet") + {override})'
    for fname, key in (("arroyo-recording.yml", "prometheusRules"),
                       ("arroyo-alerts.yml", "prometheusAlerts")):
        text = build.rules_yaml(build.evaluate(f"{mixin}.{key}"), "trade-off variant", "-")
        (out / fname).write_text(text, encoding="utf-8")


def summary(drill_figs: dict, trace_figs: dict) -> dict:
    """One row: the figures of the drills and of the traces, each summed up."""
    def part(figs, length_of):
        incs = [i for f in figs.values() for i in f["incidents"]]
        delays = [i["delay"] for i in incs if i["delay"] is not None]
        held = [i["held"] for i in incs
                if i["held"] is not None and (length_of(i) or 0) >= peer.SUSTAINED]
        return {"false_minutes": sum(f["false_minutes"] for f in figs.values()),
                "caught": len(delays), "incidents": len(incs),
                "median_delay": statistics.median(delays) if delays else None,
                "least_held": min(held) if held else None}
    return {"drills": part(drill_figs, lambda i: None if i["end"] is None
                           else i["end"] - i["start"]),
            "traces": part(trace_figs, lambda i: 60)}


def measure_variant(override: str, workdir: Path) -> dict:
    rules_dir = workdir / "rules"
    rules_dir.mkdir()
    render(override, rules_dir)
    order, rules = generate.load_rules(rules_dir)
    groups = peer.throughput_groups(drill_defs.groups())
    runs = generate.make_runs(groups)
    keep = generate.keep_for(rules, "ArroyoThroughputDrop")
    results, extra = generate.measure(
        runs, order, rules, rules_dir, workdir,
        extra=(lambda: nab.run(rules_dir, None, workdir, keep)["ours"],))
    incidents, false_alerts = generate.judge_all(results, rules)
    drill_figs = peer.drill_figures([d for g in groups for d in g.drills], incidents,
                                    false_alerts, drill_defs.THROUGHPUT_ALERTS)
    return summary(drill_figs, peer.trace_figures(extra[0]))


def cell(p: dict) -> str:
    delay = "–" if p["median_delay"] is None else f"{p['median_delay']:g} min"
    held = "–" if p["least_held"] is None else f"{p['least_held']:.0%}"
    return f"{p['false_minutes']} / {p['caught']}/{p['incidents']} / {delay} / {held}"


def table(figures: dict) -> list[str]:
    """The markdown table of docs/alerts.md."""
    rows = ["| variant | what changes | drills | NAB traces |", "|---|---|---|---|"]
    for v in figures["variants"]:
        rows.append(f"| {v['name']} | {v['what']} | {cell(v['drills'])} | "
                    f"{cell(v['traces'])} |")
    return rows


def section(figures: dict | None) -> list[str]:
    """The section of docs/alerts.md (empty without figures)."""
    if not figures:
        return []
    return ["## What the knobs trade", "",
            "ArroyoThroughputDrop's settings (`_config` of the mixin, see mixin/README.md)",
            "pull against each other: a faster or more sensitive alert also fires on more",
            "of real traffic's own dips. Each row is the mixin with one change, run through",
            "the same throughput drills and NAB traces by `deploy/prometheus/drills/tradeoff.py`",
            "(`generate.py --check` fails when the defaults row no longer matches the",
            "shipped rules). Per column: false-alert minutes / incidents caught / median",
            "detection delay / least kept-firing share of an incident of an hour or more.",
            "", *table(figures), ""]


def refresh_doc(figures: dict) -> None:
    """Rewrites this section of docs/alerts.md (the rest is generate.py's)."""
    doc = generate.DOC.read_text(encoding="utf-8")
    new = "\n".join(section(figures))
    start = doc.find("## What the knobs trade")
    if start < 0:  # first time: before the section that follows it in generate.py
        at = doc.index("\n" + generate.FLEET_SECTION[0]) + 1
        doc = doc[:at] + new + "\n" + doc[at:]
    else:
        end = doc.find("\n## ", start + 1)
        doc = doc[:start] + new + ("" if end < 0 else doc[end:])
    generate.DOC.write_text(doc, encoding="utf-8")


def load() -> dict | None:
    return json.loads(FIGURES.read_text(encoding="utf-8")) if FIGURES.exists() else None


def main() -> int:
    out = {"variants": []}
    for name, override, what in VARIANTS:
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="tradeoff-") as tmp:
            row = measure_variant(override, Path(tmp))
        out["variants"].append({"name": name, "override": override, "what": what, **row})
        print(f"{name}: drills {cell(row['drills'])}; traces {cell(row['traces'])} "
              f"({time.monotonic() - t0:.0f} s)", file=sys.stderr)
        # After every variant, so an interrupted run keeps what it measured (the rows
        # so far, defaults first, and docs/alerts.md in step with them).
        FIGURES.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        refresh_doc(out)
    print("\n".join(table(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
