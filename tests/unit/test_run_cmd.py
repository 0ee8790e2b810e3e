"""`modelchip run` (what `make run` shows) end to end: it calls the other commands' functions directly,
so a parameter added to one of them must not break it (stop 11: `validate --explain`)."""

from __future__ import annotations

from pathlib import Path

from modelchip.cli.app import main


def test_run_writes_both_reports(tmp_path: Path) -> None:
    validation, comparison = tmp_path / "validation.html", tmp_path / "compare.html"
    assert main(["run", "--report", str(validation), "--compare-report", str(comparison)]) == 0
    assert validation.stat().st_size > 10_000 and comparison.stat().st_size > 10_000
