"""`modelchip simulate`: request-level serving simulation of one deployment under a workload."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelchip.cli import options as opt
from modelchip.cli.output import console, print_json
from modelchip.deploy.layout import Layout
from modelchip.errors import UserError
from modelchip.perf.build import PrecisionRequest, build_target, speculation_from
from modelchip.perf.target import Target
from modelchip.report import units
from modelchip.serving import PoolSpec, SimulationResult, SimulationSpec, engine_for, offered_load, step_budget_under
from modelchip.serving import simulate as run_simulation
from modelchip.serving.results import STATUS_NAMES, LatencyStats
from modelchip.workload import (
    PRESETS,
    Arrival,
    ClosedLoop,
    Gamma,
    LengthDist,
    Poisson,
    Slo,
    TraceTimes,
    WorkloadSpec,
    load_trace,
    parse_columns,
    parse_duration,
)
from modelchip.workload.lengths import DISTRIBUTIONS

PROGRESS_MIN_REQUESTS = 10_000
PLOT_MAX_POINTS = 20_000
REQUEST_COLUMNS = (
    "id", "arrival_s", "first_token_s", "finish_s", "ttft_s", "tpot_s", "e2e_s", "isl", "osl", "instance",
    "preemptions", "status",
)  # fmt: skip


def simulate(
    model: str = opt.MODEL,
    hardware: str = opt.HARDWARE,
    system: str | None = opt.SYSTEM,
    chips: int | None = opt.CHIPS,
    tp: int = opt.TP,
    pp: int = opt.PP,
    dp: int = opt.DP,
    ep: int = opt.EP,
    moe_tp: int = opt.MOE_TP,
    precision: str | None = opt.PRECISION,
    activations: str | None = opt.ACTIVATIONS,
    kv_cache: str | None = opt.KV_CACHE,
    moe_precision: str | None = opt.MOE_PRECISION,
    attention: str | None = opt.ATTENTION,
    engine: str | None = opt.ENGINE,
    mtp: int = typer.Option(0, "--mtp", help="MTP draft tokens per step"),
    acceptance: float | None = typer.Option(None, "--acceptance", help="per-draft acceptance (default 0.7)"),
    workload: str | None = typer.Option(
        None, "--workload", help=f"preset ({', '.join(PRESETS)}) or trace file (.csv/.jsonl)"
    ),
    trace_columns: str | None = typer.Option(
        None, "--trace-columns", help="arrival=COL,isl=COL,osl=COL[,scale=0.001] for other trace layouts"
    ),
    isl: float = typer.Option(1024, "--isl", help="mean input tokens"),
    osl: float = typer.Option(256, "--osl", help="mean output tokens"),
    isl_dist: str = typer.Option("fixed", "--isl-dist", help=" | ".join(DISTRIBUTIONS)),
    isl_sigma: float = typer.Option(0.0, "--isl-sigma", help="spread (lognormal sigma, std, half-width, zipf a)"),
    osl_dist: str = typer.Option("fixed", "--osl-dist", help=" | ".join(DISTRIBUTIONS)),
    osl_sigma: float = typer.Option(0.0, "--osl-sigma", help="spread of the output length"),
    rate: float | None = typer.Option(None, "--rate", help="Poisson arrivals, requests/s (all instances)"),
    burstiness: float | None = typer.Option(None, "--burstiness", help="gamma arrivals: cv of the gaps (1 = Poisson)"),
    concurrency: int | None = typer.Option(None, "--concurrency", help="closed loop: requests in flight"),
    requests: int | None = typer.Option(None, "--requests", help="requests to simulate (default 1000 or the trace)"),
    seed: int = typer.Option(0, "--seed"),
    prefix_hit: float = typer.Option(0.0, "--prefix-hit", help="share of each prompt in the prefix cache"),
    slo_ttft: str | None = typer.Option(None, "--slo-ttft", help="e.g. 2s"),
    slo_tpot: str | None = typer.Option(None, "--slo-tpot", help="e.g. 50ms"),
    instances: int = typer.Option(1, "--instances", help="identical instances (decode instances if disaggregated)"),
    router: str = typer.Option("least-load", "--router", help="least-load | round-robin"),
    max_batch: int = typer.Option(1024, "--max-batch", help="max running sequences per attention rank"),
    max_batched_tokens: str = typer.Option(
        "8192",
        "--max-batched-tokens",
        help="tokens per step per attention rank, or 'auto': the most whose step fits --slo-tpot",
    ),
    scheduler_steps: int | None = typer.Option(
        None, "--scheduler-steps", help="vLLM V0 multi-step: decode steps per scheduler pass (default: the engine's)"
    ),
    min_queued_prompts: int | None = typer.Option(
        None,
        "--min-queued-prompts",
        help="while sequences decode, start prompts only once this many wait (default: the engine's, 0)",
    ),
    chunked_prefill: bool | None = typer.Option(
        None,
        "--chunked-prefill/--no-chunked-prefill",
        help="prefill chunks share steps with decodes, or prompts run whole and pause them (default: the engine's)",
    ),
    disaggregated: bool = typer.Option(False, "--disaggregated", help="separate prefill and decode pools"),
    prefill_workers: int = typer.Option(1, "--prefill-workers", help="prefill instances (with --disaggregated)"),
    prefill_layout: str | None = typer.Option(
        None, "--prefill-layout", help="prefill instance layout, e.g. tp=4,ep=4 (default: the decode layout)"
    ),
    out: Path | None = typer.Option(None, "--out", help="directory for requests.csv, timeline.csv and PNG plots"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Simulate requests through continuous batching, chunked prefill, a paged KV cache and routing."""
    layout = opt.layout_option(chips, tp, pp, dp, ep, moe_tp)
    prec = PrecisionRequest(precision, activations, kv_cache, moe_precision, attention)
    spec_mtp = speculation_from(mtp, acceptance, None)
    target = build_target(model, hardware, layout, prec, system, engine, spec_mtp)
    arrival = _arrival(rate, burstiness, concurrency)
    wl = _workload(workload, trace_columns, (isl, isl_dist, isl_sigma), (osl, osl_dist, osl_sigma), arrival, requests)
    wl = WorkloadSpec(wl.isl, wl.osl, wl.arrival, wl.requests, prefix_hit, wl.trace)
    slo = Slo(
        parse_duration(slo_ttft, "--slo-ttft") if slo_ttft else None,
        parse_duration(slo_tpot, "--slo-tpot") if slo_tpot else None,
    )
    engine_cfg = engine_for(target, max_batch, _token_budget(max_batched_tokens, target, wl.mean_isl, slo.tpot_s))
    if chunked_prefill is not None:
        engine_cfg = replace(engine_cfg, chunked_prefill=chunked_prefill)
    if scheduler_steps is not None:
        engine_cfg = replace(engine_cfg, scheduler_steps=scheduler_steps)
    if min_queued_prompts is not None:
        engine_cfg = replace(engine_cfg, min_queued_prompts=min_queued_prompts)
    prefill_pool = None
    if disaggregated:
        p_layout = _parse_layout(prefill_layout) if prefill_layout else layout
        p_target = build_target(model, hardware, p_layout, prec, system, engine, spec_mtp)
        prefill_pool = PoolSpec(p_target, prefill_workers, engine_cfg)
    spec = SimulationSpec(PoolSpec(target, instances, engine_cfg), wl, prefill_pool, router, slo, seed)
    result = _run(spec, show_progress=not as_json and wl.requests >= PROGRESS_MIN_REQUESTS)
    if out is not None:
        write_outputs(result, out)
    if as_json:
        print_json(result_dict(spec, result))
    else:
        _print(spec, result, out)


def _token_budget(text: str, target: Target, mean_isl: float, tpot_limit_s: float | None) -> int:
    """--max-batched-tokens: a positive integer, or 'auto' (the most whose step fits --slo-tpot)."""
    value = text.strip().lower()
    if value == "auto":
        if tpot_limit_s is None:
            raise UserError("--max-batched-tokens auto sizes the step to the TPOT limit: give --slo-tpot too")
        return step_budget_under(target, mean_isl, tpot_limit_s)
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"--max-batched-tokens: cannot read '{text}'; give a positive integer or auto")
    return int(value)


def _parse_layout(text: str) -> Layout:
    """'tp=4,dp=2,ep=8' -> Layout."""
    values: dict[str, int] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if key not in ("tp", "pp", "dp", "ep", "moe_tp") or not value.strip().isdigit():
            raise UserError(f"--prefill-layout: cannot read '{part}'; write e.g. tp=4,dp=2,ep=8")
        values[key] = int(value)
    return Layout(**values)


def _arrival(rate: float | None, burstiness: float | None, concurrency: int | None) -> Arrival | None:
    if rate is not None and concurrency is not None:
        raise UserError("pass either --rate (open loop) or --concurrency (closed loop), not both")
    if rate is not None:
        return Gamma(rate, burstiness) if burstiness is not None else Poisson(rate)
    if burstiness is not None:
        raise UserError("--burstiness needs --rate")
    return ClosedLoop(concurrency) if concurrency is not None else None


def _workload(
    name: str | None,
    columns: str | None,
    isl: tuple[float, str, float],
    osl: tuple[float, str, float],
    arrival: Arrival | None,
    requests: int | None,
) -> WorkloadSpec:
    """A preset, a trace file, or --isl/--osl distributions; the arrival process from the flags."""
    in_dist = LengthDist(isl[1], isl[0], isl[2])
    out_dist = LengthDist(osl[1], osl[0], osl[2])
    if name is not None and (Path(name).suffix or Path(name).exists()):
        trace = load_trace(Path(name), parse_columns(columns) if columns else None)
        chosen = arrival or TraceTimes()
        return WorkloadSpec(in_dist, out_dist, chosen, requests or len(trace), 0.0, trace)
    if arrival is None:
        raise UserError("pass --rate R (Poisson) or --concurrency C (closed loop); a trace file may use its own times")
    if name is not None:
        if name not in PRESETS:
            raise UserError(
                f"unknown workload '{name}'; presets: {', '.join(sorted(PRESETS))}, or give a .csv/.jsonl trace file"
            )
        preset = PRESETS[name]
        in_dist = LengthDist(isl[1], preset.isl, isl[2])
        out_dist = LengthDist(osl[1], preset.osl, osl[2])
    return WorkloadSpec(in_dist, out_dist, arrival, requests or 1000)


def _run(spec: SimulationSpec, show_progress: bool) -> SimulationResult:
    if not show_progress:
        return run_simulation(spec)
    columns = (TextColumn("simulating"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("simulate", total=spec.workload.requests)
        return run_simulation(spec, lambda done, total: bar.update(task, completed=done, total=total))


def _stats(s: LatencyStats) -> dict[str, float | int]:
    return asdict(s)


def result_dict(spec: SimulationSpec, r: SimulationResult) -> dict[str, Any]:
    """Everything but the per-request and per-step arrays (those go to --out as CSV)."""
    t = spec.pool.target
    return {
        "model": t.model.id,
        "chip": t.chip.id,
        "system": t.system.id if t.system else None,
        "layout": asdict(t.layout),
        "instances": spec.pool.instances,
        "prefill": None
        if spec.prefill_pool is None
        else {"layout": asdict(spec.prefill_pool.target.layout), "instances": spec.prefill_pool.instances},
        "chips": r.chips,
        "router": spec.router,
        "seed": spec.seed,
        "workload": {
            "requests": spec.workload.requests,
            "mean_isl": spec.workload.mean_isl,
            "mean_osl": spec.workload.mean_osl,
            "arrival": {"kind": type(spec.workload.arrival).__name__, **asdict(spec.workload.arrival)},
            "prefix_hit": spec.workload.prefix_hit,
        },
        "slo": asdict(spec.slo),
        "engine": asdict(spec.pool.engine),
        "ttft": _stats(r.ttft),
        "tpot": _stats(r.tpot),
        "itl": _stats(r.itl),
        "e2e": _stats(r.e2e),
        "throughput": asdict(r.throughput),
        "goodput_requests_per_s": r.goodput_requests_per_s,
        "slo_attainment": r.slo_attainment,
        "completed": r.completed,
        "rejected": r.rejected,
        "unfinished": r.unfinished,
        "preemptions": r.preemptions,
        "duration_s": r.duration_s,
        "kv_mean_fraction": r.kv_mean_fraction,
        "kv_peak_fraction": r.kv_peak_fraction,
        "queue_mean": r.queue_mean,
        "queue_max": r.queue_max,
        "running_mean": r.running_mean,
        "steps": len(r.timeline.time_s),
        "offered_load": offered_load(spec),
    }


def _print(spec: SimulationSpec, r: SimulationResult, out: Path | None) -> None:
    t = spec.pool.target
    mode = "aggregated" if spec.prefill_pool is None else f"disaggregated ({spec.prefill_pool.instances} prefill)"
    console.print(
        f"[bold]{t.model.id}[/] on {r.chips}x {t.chip.id}: {spec.pool.instances} x {t.layout.describe()}, {mode}; "
        f"{r.completed} done, {r.rejected} rejected, {r.preemptions} preemptions in {units.seconds(r.duration_s)}"
    )
    engine = spec.pool.engine
    scheduling = "chunked prefill" if engine.chunked_prefill else "whole prompts in prefill-only steps"
    if engine.scheduler_steps > 1:
        scheduling += f", {engine.scheduler_steps}-step decode runs"
    if engine.min_queued_prompts > 1:
        scheduling += f", prompts start in groups of {engine.min_queued_prompts}"
    console.print(
        f"engine limits per attention rank: {engine.max_running_per_rank:,} running sequences, "
        f"{engine.max_batched_tokens_per_rank:,} tokens per step; {scheduling}"
    )
    _print_load(spec)
    table = Table(title="Latency")
    for col in ("metric", "mean", "p50", "p90", "p99"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for name, s in (("TTFT", r.ttft), ("TPOT", r.tpot), ("ITL", r.itl), ("E2E", r.e2e)):
        values = (s.mean_s, s.p50_s, s.p90_s, s.p99_s)
        table.add_row(name, *(units.seconds(v) if math.isfinite(v) else "-" for v in values))
    console.print(table)
    tp = r.throughput
    rows = [
        ("requests/s", f"{tp.requests_per_s:,.3g}"),
        ("input tokens/s (per chip)", f"{tp.input_tokens_per_s:,.0f} ({tp.input_tokens_per_s_per_chip:,.1f})"),
        ("output tokens/s (per chip)", f"{tp.output_tokens_per_s:,.0f} ({tp.output_tokens_per_s_per_chip:,.1f})"),
        ("output tokens/s per user", f"{tp.output_tokens_per_s_per_user:,.1f}"),
        ("goodput requests/s (SLO met)", f"{r.goodput_requests_per_s:,.3g} ({r.slo_attainment:.0%})"),
        ("KV use mean / peak", f"{r.kv_mean_fraction:.0%} / {r.kv_peak_fraction:.0%}"),
        ("queue mean / max", f"{r.queue_mean:,.1f} / {r.queue_max}"),
        ("running batch mean", f"{r.running_mean:,.1f}"),
    ]
    summary = Table(title="Throughput")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)
    if out is not None:
        console.print(f"wrote {out}/requests.csv, timeline.csv, summary.json, timeline.png, latency_cdf.png")


NEAR_CAPACITY = 0.9  # offered load above which latencies are a knife edge


def _print_load(spec: SimulationSpec) -> None:
    load = offered_load(spec)
    rate = getattr(spec.workload.arrival, "rate_per_s", None)
    if load is None or rate is None:
        return
    capacity = f"the analytical capacity (~{rate / load:,.3g} requests/s)"
    if load >= 1.0:
        console.print(
            f"[yellow]offered load {load:.2f}x {capacity}: past capacity the queue grows for as long as the "
            "run lasts, so TTFT depends on the run length[/]"
        )
    elif load >= NEAR_CAPACITY:
        console.print(
            f"[yellow]offered load {load:.0%} of {capacity}: near capacity the latencies swing with capacity "
            "differences of a few percent[/]"
        )
    else:
        console.print(f"offered load {load:.0%} of {capacity}")


def write_outputs(r: SimulationResult, out: Path) -> None:
    """Per-request and per-step CSV, the summary as JSON, and the two plots."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the directory ({exc.strerror})") from exc
    rec = r.requests
    with (out / "requests.csv").open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow([*REQUEST_COLUMNS])
        cols = (rec.arrival_s, rec.first_token_s, rec.finish_s, rec.ttft_s, rec.tpot_s, rec.e2e_s)
        for i in range(len(rec.isl)):
            w.writerow(
                [
                    i,
                    *(f"{c[i]:.6g}" for c in cols),
                    rec.isl[i],
                    rec.osl[i],
                    rec.instance[i],
                    rec.preemptions[i],
                    STATUS_NAMES[int(rec.status[i])],
                ]
            )
    tl = r.timeline
    with (out / "timeline.csv").open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        names = ["time_s", "instance", "duration_s", "decoding", "prefill_tokens", "running", "queued", "kv_used"]
        w.writerow(names)
        arrays = [
            tl.time_s,
            tl.instance,
            tl.duration_s,
            tl.decoding,
            tl.prefill_tokens,
            tl.running,
            tl.queued,
            tl.kv_used_fraction,
        ]
        w.writerows(zip(*(a.tolist() for a in arrays), strict=True))
    summary = {k: v for k, v in asdict(r).items() if k not in ("requests", "timeline")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    plot_timeline(r, out / "timeline.png")
    plot_cdfs(r, out / "latency_cdf.png")


def _thin(n: int) -> slice:
    return slice(None, None, max(1, n // PLOT_MAX_POINTS))


def plot_timeline(r: SimulationResult, path: Path) -> None:
    """Running batch, queue length and KV use over time, one line per instance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = r.timeline
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    for inst in np.unique(tl.instance):
        sel = np.flatnonzero(tl.instance == inst)[_thin(int((tl.instance == inst).sum()))]
        label = f"instance {inst}"
        axes[0].plot(tl.time_s[sel], tl.running[sel], lw=0.8, label=label)
        axes[1].plot(tl.time_s[sel], tl.queued[sel], lw=0.8, label=label)
        axes[2].plot(tl.time_s[sel], 100 * tl.kv_used_fraction[sel], lw=0.8, label=label)
    for ax, title in zip(axes, ("running batch", "queued requests", "KV blocks in use (%)"), strict=True):
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
    axes[2].set_xlabel("time (s)")
    if len(np.unique(tl.instance)) <= 8:
        axes[0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cdfs(r: SimulationResult, path: Path) -> None:
    """Empirical CDFs of TTFT, TPOT and end-to-end latency of completed requests."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = r.requests
    done = rec.status == 1
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, name, values in zip(axes, ("TTFT", "TPOT", "E2E"), (rec.ttft_s, rec.tpot_s, rec.e2e_s), strict=True):
        v = np.sort(values[done][np.isfinite(values[done])])
        if v.size:
            ax.plot(v * 1e3, np.arange(1, v.size + 1) / v.size)
        ax.set_xlabel(f"{name} (ms)")
        ax.set_ylabel("share of requests")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
