"""The cross-validation benchmark's fold logic (benchmarks/crossval.py) on a hand-made error table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).parents[2] / "benchmarks" / "crossval.py"


@pytest.fixture(scope="module")
def crossval():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("crossval", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_an_alternative_good_on_one_source_only_is_not_picked_for_it(crossval) -> None:  # type: ignore[no-untyped-def]
    """'tuned' is perfect on source s3 and bad elsewhere; held out, s3 is scored with 'general', so the
    cross-validated errors show what the tuned value would not carry over."""
    sources = ["s1", "s1", "s2", "s2", "s3", "s3", "s4", "s4"]
    table = {
        "general": [0.10, 0.12, 0.08, 0.11, 0.50, 0.60, 0.09, 0.10],
        "tuned": [0.40, 0.45, 0.50, 0.42, 0.00, 0.01, 0.44, 0.48],
    }
    held_out, picked = crossval.leave_one_source_out(sources, table)
    assert picked == {"general": 8}
    assert sorted(held_out) == sorted(table["general"])


def test_cases_an_alternative_cannot_predict_are_left_out(crossval) -> None:  # type: ignore[no-untyped-def]
    sources = ["a", "b", "c"]
    table = {"x": [0.1, None, 0.3], "y": [0.2, 0.2, 0.2]}
    held_out, _ = crossval.leave_one_source_out(sources, table)
    assert len(held_out) == 2


def test_p90_matches_validate(crossval) -> None:  # type: ignore[no-untyped-def]
    errors = [i / 100 for i in range(101)]
    assert crossval.p90(errors) == pytest.approx(0.90)


def test_ties_are_counted_as_ties(crossval) -> None:  # type: ignore[no-untyped-def]
    sources = ["a", "b", "c"]
    table = {"x": [0.1, 0.2, 0.3], "y": [0.1, 0.2, 0.3]}
    _, picked = crossval.leave_one_source_out(sources, table)
    assert picked == {"tie": 3}


def test_a_tie_up_to_rounding_keeps_the_shipped_value(crossval) -> None:  # type: ignore[no-untyped-def]
    """An alternative lower by float noise alone is a tie, and the held-out source keeps the first listed."""
    sources = ["a", "b", "c"]
    table = {"shipped": [0.1, 0.2, 0.3], "other": [0.1 - 1e-15, 0.2 - 1e-15, 0.3 - 1e-15]}
    held_out, picked = crossval.leave_one_source_out(sources, table)
    assert picked == {"tie": 3}
    assert held_out == table["shipped"]
