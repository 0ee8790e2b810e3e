"""Accuracy gate: replay the bundled public cases; fail if the error gets worse than the recorded baseline.

The baseline (baseline.json) is updated deliberately, with the reason in the commit message, so a change
that helps one chip and hurts another shows up here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelchip.validate import load_cases, run_cases, summarize
from modelchip.validate.predict_case import predict_case

BASELINE = json.loads((Path(__file__).parent / "baseline.json").read_text())
TOLERANCE = 0.005  # absolute slack on the error fractions (floating-point and ordering noise)
SRC = Path(__file__).parents[2] / "src" / "modelchip"

pytestmark = pytest.mark.accuracy


@pytest.fixture(scope="module")
def summary():  # type: ignore[no-untyped-def]
    return summarize(run_cases(load_cases(None), predict_case, workers=2))


def test_every_public_case_is_predicted_or_explained(summary) -> None:  # type: ignore[no-untyped-def]
    assert summary.n_cases == BASELINE["cases"]
    assert summary.n_supported >= BASELINE["supported"]
    assert all(u.reason for u in summary.unsupported)
    # Only the cases listed in the baseline, each with why its setup is unknowable, may be unsupported.
    assert {u.id for u in summary.unsupported} <= set(BASELINE["unsupported"])


def test_median_error_not_worse_than_baseline(summary) -> None:  # type: ignore[no-untyped-def]
    assert summary.overall.median_abs_error <= BASELINE["median_abs_error"] + TOLERANCE


def test_p90_error_not_worse_than_baseline(summary) -> None:  # type: ignore[no-untyped-def]
    assert summary.overall.p90_abs_error <= BASELINE["p90_abs_error"] + TOLERANCE


def test_no_parameter_is_keyed_on_a_case_id() -> None:
    """Honesty rule (issue 4): no code or calibration data may mention a validation case id."""
    ids = {c.id for c in load_cases(None)}
    pattern = re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))
    offenders = [
        str(p)
        for p in SRC.rglob("*")
        if p.suffix in {".py", ".yaml", ".json"}
        and "validate/data" not in p.as_posix()
        and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
