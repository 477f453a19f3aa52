"""The repository stands alone: no tracked file sends readers outside the checkout.

The Arroyo facts the code and the simulator rely on live in docs/arroyo-compat.md. The
team's upstream fact sheet sits beside some checkouts, not in the repository, so only
the README may mention where it lives; every other reference must point to
docs/arroyo-compat.md.
"""
from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT

COMPAT_DOC = ROOT / "docs" / "arroyo-compat.md"

# Spelled in pieces so that this file does not match its own patterns.
UPSTREAM = "COMPAT" + ".md"
OUTSIDE_CHECKOUT = re.compile("|".join([
    re.escape(".." + "/shared"),
    re.escape("shared/arroyo/" + UPSTREAM),
    # The upstream sheet's bare name (upper case); ours is docs/arroyo-compat.md.
    r"(?<![\w/-])" + re.escape(UPSTREAM),
]))

# The only file allowed to mention the upstream fact sheet.
ALLOWED = {"README.md"}


def tracked_files() -> list[str]:
    """Paths of the files git tracks (or, outside a git checkout, every file)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z"],
            check=True, capture_output=True,
        ).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", "target", ".tmp", "node_modules"}
        return [
            str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts)
        ]


def references_outside(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every reference to the fact sheet outside the checkout."""
    return [
        (n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
        if OUTSIDE_CHECKOUT.search(line)
    ]


def test_no_tracked_file_points_outside_the_checkout():
    found = []
    for path in tracked_files():
        if path in ALLOWED:
            continue
        full = ROOT / path
        if not full.is_file():  # deleted in the work tree, not yet committed
            continue
        try:
            text = full.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary data
        found += [f"{path}:{n}: {line}" for n, line in references_outside(text)]
    assert not found, (
        "these lines point outside the repository; point them to docs/arroyo-compat.md:\n"
        + "\n".join(found)
    )


@pytest.mark.parametrize("line, hit", [
    ("from `" + ".." + "/shared/arroyo/" + UPSTREAM + "`, so", True),
    ("(see `shared/arroyo/" + UPSTREAM + "`)", True),
    ("/// Job states (" + UPSTREAM + ", Decisions)", True),
    ("see ../" + "shared/fixtures", True),
    ("/// Job states (docs/arroyo-compat.md, Decisions)", False),
    ("[`docs/arroyo-compat.md`](arroyo-compat.md)", False),
    ("the shared call of concurrent scrapes", False),
])
def test_the_pattern_tells_references_apart(line, hit):
    assert bool(references_outside(line)) is hit


def test_the_compat_doc_stands_alone():
    text = COMPAT_DOC.read_text(encoding="utf-8")
    for heading in (
        "## The JobMetrics RPC", "## The metrics document", "## The REST API",
        "## Job states", "## Checkpoints", "## The error log",
        "## Ports, admin endpoints and the Helm chart",
        "## Arroyo's own Prometheus metrics", "## v0.11 → main at a glance",
        "## Decisions",
    ):
        assert heading in text, f"docs/arroyo-compat.md lost its section {heading!r}"
    for fact in (
        "/arroyo_rpc.ControllerGrpc/JobMetrics", "/arroyo_rpc.JobControllerGrpc/JobMetrics",
        "CheckpointStopping", "operator_checkpoint_groups", "/errors", "5114",
        "controller.service.grpcPort",
    ):
        assert fact in text, f"docs/arroyo-compat.md no longer states {fact!r}"
    # Every repository path it names in backquotes exists.
    for path in re.findall(r"`((?:tests|docs|src|crates)/[\w./-]+)`", text):
        assert (ROOT / path).exists(), f"docs/arroyo-compat.md names a missing {path}"


def test_links_to_the_compat_doc_resolve():
    for md in list((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#\s]*arroyo-compat\.md)", md.read_text(encoding="utf-8")):
            assert (md.parent / target).resolve() == COMPAT_DOC.resolve(), (
                f"{md.relative_to(ROOT)} links {target}, which is not docs/arroyo-compat.md"
            )
