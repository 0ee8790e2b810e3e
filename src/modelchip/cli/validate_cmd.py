"""`modelchip validate`: replay published measurements and report the error."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from modelchip.cli.output import console, print_json
from modelchip.validate import (
    apply_filter,
    load_cases,
    parse_filter,
    run_cases,
    summarize,
    to_json,
    write_csv,
    write_html_report,
)
from modelchip.validate.predict_case import predict_case, with_loads
from modelchip.validate.summary import Stats

NEAR_CAPACITY = 0.9  # offered load above which a latency prediction is a knife edge


def validate(
    files: list[Path] = typer.Argument(None, help="case files (YAML/JSON); default: the bundled public set"),
    filter_text: str = typer.Option("", "--filter", help="e.g. hardware=ascend-910c,metric=tpot_ms"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    csv_path: Path | None = typer.Option(None, "--csv", help="write per-case results as CSV"),
    report: Path | None = typer.Option(None, "--report", help="write a self-contained HTML report"),
    workers: int = typer.Option(
        min(2, os.cpu_count() or 1), "--workers", help="processes replaying cases (results are identical)"
    ),
) -> None:
    """Predict every case, compare with the measured value, summarise the error."""
    cases = apply_filter(load_cases(files or None), parse_filter(filter_text))
    if as_json:
        results = run_cases(cases, predict_case, workers=workers)
    else:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("replaying cases", total=len(cases))
            results = run_cases(
                cases, predict_case, lambda done, total: progress.update(task, completed=done), workers=workers
            )
    results = with_loads(cases, results)
    summary = summarize(results)
    if csv_path is not None:
        write_csv(results, csv_path)
    if report is not None:
        write_html_report(summary, results, report, "modelchip validation")
    if as_json:
        print_json(to_json(summary, results))
        return
    table = Table(title=f"Validation: {summary.n_supported} predicted, {summary.n_unsupported} unsupported")
    table.add_column("group", overflow="fold", min_width=24)
    for col in ("n", "median |err|", "p90 |err|", "within 15%", "within 30%"):
        table.add_column(col, justify="right")
    _add(table, "overall", summary.overall)
    for key in ("hardware", "metric"):
        for name, stats in summary.groups[key].items():
            _add(table, f"{key}={name}", stats)
    console.print(table)
    for item in summary.unsupported:
        console.print(f"[yellow]unsupported[/] {item.id}: {item.reason}")
    near = [r for r in results if r.load is not None and r.load >= NEAR_CAPACITY]
    if near:
        console.print(
            f"{len(near)} Poisson case(s) run at ≥ {NEAR_CAPACITY:.0%} of the model's capacity (column `load`): "
            "their latencies swing with capacity differences of a few percent"
        )
    if report is not None:
        console.print(f"report written to {report}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _add(table: Table, name: str, s: Stats) -> None:
    table.add_row(name, str(s.n), _pct(s.median_abs_error), _pct(s.p90_abs_error), _pct(s.within_15), _pct(s.within_30))
