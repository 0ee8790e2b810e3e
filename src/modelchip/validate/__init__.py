"""Validation against published measurements: read cases, run a predictor, summarise, report.

Typical use (the predictor, the physics, lives elsewhere)::

    cases = apply_filter(load_cases(paths), parse_filter("hardware=h100-sxm"))
    results = run_cases(cases, predictor)
    summary = summarize(results)
    write_html_report(summary, results, Path("report.html"), "H100 accuracy")
"""

from modelchip.validate.cases import (
    FILTER_KEYS,
    METRICS,
    PRECISIONS,
    Case,
    CaseFilter,
    Metric,
    Parallel,
    Pool,
    Precision,
    Slo,
    Speculative,
    Unsupported,
    Workload,
    apply_filter,
    bundled_cases_path,
    expand_precision,
    load_cases,
    parse_filter,
)
from modelchip.validate.report_html import render_html, write_html_report
from modelchip.validate.runner import CaseResult, Predictor, run_case, run_cases
from modelchip.validate.summary import (
    Stats,
    UnsupportedCase,
    ValidationSummary,
    compute_stats,
    read_csv,
    summarize,
    to_json,
    write_csv,
)

__all__ = [
    "FILTER_KEYS",
    "METRICS",
    "PRECISIONS",
    "Case",
    "CaseFilter",
    "CaseResult",
    "Metric",
    "Parallel",
    "Pool",
    "Precision",
    "Predictor",
    "Slo",
    "Speculative",
    "Stats",
    "Unsupported",
    "UnsupportedCase",
    "ValidationSummary",
    "Workload",
    "apply_filter",
    "bundled_cases_path",
    "compute_stats",
    "expand_precision",
    "load_cases",
    "parse_filter",
    "read_csv",
    "render_html",
    "run_case",
    "run_cases",
    "summarize",
    "to_json",
    "write_csv",
    "write_html_report",
]
