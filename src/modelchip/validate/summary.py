"""Accuracy statistics over case results: overall and grouped, plus JSON and CSV output.

Per SCHEMA.md ("Error measure"): the median and 90th percentile of |error| and the share of cases
within ±15% and ±30%. Only supported ("ok") cases enter the statistics; unsupported ones are counted
and listed with their reasons.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from modelchip.errors import UserError
from modelchip.validate.runner import CaseResult

# Bands are inclusive; the slack absorbs round-off in (p - m) / m at exactly ±15% or ±30%.
_BAND_SLACK = 1e-9
GROUP_KEYS: tuple[str, ...] = ("hardware", "model", "metric", "trust", "engine")


@dataclass(frozen=True)
class Stats:
    """Error statistics of a set of supported cases; the numbers are None when n == 0.

    Errors are fractions (0.1 = +10%); p90 is numpy's linear-interpolation percentile.
    """

    n: int
    unsupported: int
    median_abs_error: float | None
    p90_abs_error: float | None
    within_15: float | None
    within_30: float | None
    mean_error: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UnsupportedCase:
    id: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ValidationSummary:
    """Overall statistics, statistics grouped by each of GROUP_KEYS, and the unsupported cases."""

    overall: Stats
    groups: dict[str, dict[str, Stats]]
    n_cases: int
    n_supported: int
    n_unsupported: int
    unsupported: tuple[UnsupportedCase, ...]

    @property
    def by_hardware(self) -> dict[str, Stats]:
        return self.groups["hardware"]

    @property
    def by_model(self) -> dict[str, Stats]:
        return self.groups["model"]

    @property
    def by_metric(self) -> dict[str, Stats]:
        return self.groups["metric"]

    @property
    def by_trust(self) -> dict[str, Stats]:
        return self.groups["trust"]

    @property
    def by_engine(self) -> dict[str, Stats]:
        return self.groups["engine"]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_cases": self.n_cases,
            "n_supported": self.n_supported,
            "n_unsupported": self.n_unsupported,
            "overall": self.overall.to_dict(),
        }
        for key, table in self.groups.items():
            out[f"by_{key}"] = {name: s.to_dict() for name, s in table.items()}
        out["unsupported"] = [u.to_dict() for u in self.unsupported]
        return out


def compute_stats(results: Sequence[CaseResult]) -> Stats:
    """Statistics of the supported results in `results`."""
    errors = np.array([r.error for r in results if r.ok and r.error is not None], dtype=float)
    skipped = sum(1 for r in results if not r.ok)
    if errors.size == 0:
        return Stats(0, skipped, None, None, None, None, None)
    abs_err = np.abs(errors)
    return Stats(
        n=int(errors.size),
        unsupported=skipped,
        median_abs_error=float(np.median(abs_err)),
        p90_abs_error=float(np.percentile(abs_err, 90, method="linear")),
        within_15=float(np.mean(abs_err <= 0.15 + _BAND_SLACK)),
        within_30=float(np.mean(abs_err <= 0.30 + _BAND_SLACK)),
        mean_error=float(np.mean(errors)),
    )


def _group(results: Sequence[CaseResult], key: str) -> dict[str, Stats]:
    buckets: dict[str, list[CaseResult]] = {}
    for r in results:
        buckets.setdefault(str(getattr(r, key)), []).append(r)
    return {name: compute_stats(buckets[name]) for name in sorted(buckets)}


def summarize(results: Sequence[CaseResult]) -> ValidationSummary:
    """Overall and grouped statistics (by hardware, model, metric, trust, engine)."""
    groups = {k: _group(results, k) for k in GROUP_KEYS}
    skipped = tuple(UnsupportedCase(r.id, r.reason) for r in results if not r.ok)
    return ValidationSummary(
        overall=compute_stats(results),
        groups=groups,
        n_cases=len(results),
        n_supported=len(results) - len(skipped),
        n_unsupported=len(skipped),
        unsupported=skipped,
    )


def to_json(summary: ValidationSummary, results: Sequence[CaseResult]) -> dict[str, Any]:
    """{"summary": {...}, "cases": [{id, metric, hardware, model, status, predicted, measured, error,
    reason, ...}]}; JSON-serialisable (no NaN: missing numbers are null)."""
    return {"summary": summary.to_dict(), "cases": [r.to_dict() for r in results]}


CSV_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CaseResult))
_FLOAT_COLUMNS = ("predicted", "measured", "error", "load")
_OPTIONAL_COLUMNS = ("load",)  # absent from files written before it existed


def write_csv(results: Sequence[CaseResult], path: Path) -> None:
    """One row per case, columns CSV_COLUMNS; a missing number is an empty cell."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in results:
            row = r.to_dict()
            writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})


def read_csv(path: Path) -> list[CaseResult]:
    """Read back a file written by `write_csv`."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [_row_to_result(row, i, path) for i, row in enumerate(rows)]


def _row_to_result(row: dict[str, str], index: int, path: Path) -> CaseResult:
    missing = [c for c in CSV_COLUMNS if c not in row and c not in _OPTIONAL_COLUMNS]
    if missing:
        raise UserError(f"{path}: row {index + 1}: column '{missing[0]}' is missing; write it with write_csv")
    values: dict[str, Any] = {c: row.get(c, "") for c in CSV_COLUMNS}
    try:
        for col in _FLOAT_COLUMNS:
            values[col] = float(values[col]) if values[col] != "" else None
    except ValueError as exc:
        raise UserError(f"{path}: row {index + 1}: {exc}; fix the number") from exc
    return CaseResult(**values)
