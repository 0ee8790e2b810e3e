"""`modelchip validate`: replay published measurements and report the error."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from modelchip.cli.output import console, print_json
from modelchip.errors import unknown_id
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
from modelchip.validate.cases import Case
from modelchip.validate.explain import CaseExplanation, explain_case
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
    explain: str = typer.Option(
        "", "--explain", help="one case id: the layouts weighed, the path taken, the operating point, top ops"
    ),
) -> None:
    """Predict every case, compare with the measured value, summarise the error."""
    cases = apply_filter(load_cases(files or None), parse_filter(filter_text))
    if explain:
        explanation = explain_case(_case_by_id(cases, explain))
        if as_json:
            print_json(explanation.to_dict())
        else:
            _print_explanation(explanation)
        return
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


def _case_by_id(cases: list[Case], case_id: str) -> Case:
    for case in cases:
        if case.id == case_id:
            return case
    raise unknown_id("case", case_id, (c.id for c in cases), "run `modelchip validate --csv F` to list the ids")


def _number(value: float | None) -> str:
    return "fails" if value is None else f"{value:,.4g}"


def _print_explanation(e: CaseExplanation) -> None:
    verdict = f"unsupported: {e.unsupported}" if e.predicted is None else f"predicted {e.predicted:,.4g}"
    error = "" if e.error is None else f", error {e.error:+.1%}"
    console.print(f"[bold]{e.id}[/]  {e.metric}: measured {e.measured:,.4g}, {verdict}{error}", soft_wrap=True)
    console.print(f"how: {e.how}", soft_wrap=True)
    if e.draws:
        values = " / ".join(f"{v:,.4g}" for v in e.draws)
        spread = (max(e.draws) - min(e.draws)) / e.measured
        console.print(f"request draws: {values} ({spread:.1%} of the measured value from lowest to highest)")
    for engine, engine_value in e.engines:
        console.print(f"  {engine}: {_number(engine_value)}")
    if e.layouts:
        origin = "stated by the case" if e.layout_stated else "not stated: the best-throughput layout that fits"
        table = Table(title=f"layouts ({origin})")
        table.add_column("layout")
        table.add_column(f"predicted {e.metric}", justify="right")
        for option in e.layouts:
            table.add_row(("→ " if option.chosen else "  ") + option.layout, _number(option.value))
        console.print(table)
    if e.precision:
        console.print(f"precision: {e.precision}", soft_wrap=True)
    for note in e.precision_notes:
        console.print(f"  note: {note}", soft_wrap=True)
    if e.max_sequences_per_rank is not None and e.weights_gb_per_device is not None:
        console.print(
            f"memory: weights {e.weights_gb_per_device:.1f} GB per device, KV room for "
            f"{e.max_sequences_per_rank:,.0f} sequences per rank; output-length spread cv {e.output_length_cv:g}"
        )
    p = e.point
    if p is not None:
        latency = "".join(
            f", {name} {value:.1f} ms"
            for name, value in (("TPOT", p.tpot_ms), ("TTFT", p.ttft_ms))
            if value is not None
        )
        console.print(
            f"operating point: {p.batch_per_rank:,.1f} sequences per rank at {p.context_tokens:,.0f} tokens of "
            f"context, step {p.step_ms:.2f} ms{' with its share of prefill' if p.step_includes_prefill else ''} "
            f"(decode {p.bound}-bound){latency}, {p.tokens_per_s_per_chip:,.0f} tokens/s "
            "per chip",
            soft_wrap=True,
        )
    if e.top_ops_ms:
        ops = Table(
            title="top ops of the decode step" if p is not None and p.step_includes_prefill else "top ops per step"
        )
        for col, justify in (("op", "left"), ("ms", "right"), ("bound", "left")):
            ops.add_column(col, justify=justify)  # type: ignore[arg-type]
        for name, ms, bound in e.top_ops_ms:
            ops.add_row(name, f"{ms:.2f}", bound)
        console.print(ops)
