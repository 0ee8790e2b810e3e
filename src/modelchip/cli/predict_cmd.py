"""`modelchip predict`: one deployment's latency, throughput, memory, energy and bounds."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import typer
from rich.table import Table

from modelchip.cli import options as opt
from modelchip.cli.output import console, print_json
from modelchip.errors import UserError
from modelchip.perf.build import PrecisionRequest, speculation_from
from modelchip.perf.predict import Mode, Prediction, PredictRequest
from modelchip.perf.predict import predict as run_predict
from modelchip.report import units


def predict(
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
    isl: float = typer.Option(1024, "--isl", help="input tokens per request"),
    osl: float = typer.Option(256, "--osl", help="output tokens per request"),
    osl_cv: float = typer.Option(
        0.0, "--osl-cv", help="output-length spread (std/mean): 0 fixed lengths, ~1 a real dataset"
    ),
    batch: float = typer.Option(64, "--batch", help="requests in flight per instance"),
    mode: str = typer.Option("aggregated", "--mode", help="aggregated | prefill | decode"),
    mtp: int = typer.Option(0, "--mtp", help="MTP draft tokens per step"),
    acceptance: float | None = typer.Option(None, "--acceptance", help="per-draft acceptance (default 0.7)"),
    engine: str | None = opt.ENGINE,
    price: float | None = typer.Option(None, "--price-per-chip-hour", help="USD per chip-hour for cost"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Predict TTFT, TPOT, tokens/s per chip and per user, memory, energy and the bound of each phase."""
    if mode not in ("aggregated", "prefill", "decode"):
        raise UserError(f"--mode must be aggregated, prefill or decode (got '{mode}')")
    layout = opt.layout_option(chips, tp, pp, dp, ep, moe_tp)
    mode_value: Mode = mode  # type: ignore[assignment]
    req = PredictRequest(
        model=model,
        hardware=hardware,
        system=system,
        layout=layout,
        precision=PrecisionRequest(precision, activations, kv_cache, moe_precision, attention),
        isl=isl,
        osl=osl,
        osl_cv=osl_cv,
        batch=batch,
        mode=mode_value,
        speculation=speculation_from(mtp, acceptance, None),
        engine=engine,
        price_per_chip_hour=price,
    )
    result = run_predict(req)
    if as_json:
        print_json(prediction_dict(result))
    else:
        _print(result)


def prediction_dict(p: Prediction) -> dict[str, Any]:
    t = p.target
    return {
        "model": t.model.id,
        "chip": t.chip.id,
        "system": t.system.id if t.system else None,
        "layout": asdict(t.layout),
        "chips": p.chips,
        "mode": p.request.mode,
        "precision": {
            "weights": t.precision.weights,
            "gemm": t.precision.gemm_format,
            "moe_gemm": t.precision.moe_gemm_format,
            "kv_cache": t.precision.kv_cache,
            "attention": t.precision.attention_format,
        },
        "ttft_s": p.ttft_s,
        "tpot_s": p.tpot_s,
        "output_tokens_per_s_per_chip": p.output_tokens_per_s_per_chip,
        "output_tokens_per_s_per_user": p.output_tokens_per_s_per_user,
        "input_tokens_per_s_per_chip": p.input_tokens_per_s_per_chip,
        "memory": asdict(p.memory),
        "energy": asdict(p.energy),
        "prefill": asdict(p.prefill),
        "decode": asdict(p.decode),
        "notes": list(p.notes),
    }


def _print(p: Prediction) -> None:
    t = p.target
    console.print(
        f"[bold]{t.model.id}[/] on {p.chips}x {t.chip.id}"
        f"{' in ' + t.system.id if t.system else ''}: {t.layout.describe()}, "
        f"GEMMs in {t.precision.gemm_format} (MoE {t.precision.moe_gemm_format}), "
        f"KV {t.precision.kv_cache}, attention {t.precision.attention_format}"
    )
    table = Table(title="Prediction")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("TTFT", units.seconds(p.ttft_s)),
        ("TPOT", units.seconds(p.tpot_s)),
        ("output tokens/s per chip", f"{p.output_tokens_per_s_per_chip:,.1f}"),
        ("output tokens/s per user", f"{p.output_tokens_per_s_per_user:,.1f}"),
        ("input tokens/s per chip", f"{p.input_tokens_per_s_per_chip:,.1f}"),
        ("weights per device", units.bytes_(p.memory.weight_bytes)),
        ("KV budget per device", units.bytes_(p.memory.kv_budget_bytes)),
        ("max sequences per rank", f"{p.memory.max_sequences_per_rank:,.0f}"),
        ("power per chip (all-in)", units.watts(p.energy.all_in_power_w_per_chip)),
        ("energy per output token", f"{p.energy.joules_per_token:.3g} J"),
        ("cost per 1M output tokens", units.usd(p.energy.usd_per_million_tokens, digits=3)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for label, phase in (("prefill", p.prefill), ("decode", p.decode)):
        ops = ", ".join(f"{n} {units.seconds(s)} ({b})" for n, s, b in phase.top_ops[:4])
        console.print(f"{label}: step {units.seconds(phase.step_time_s)}, {phase.bound}-bound; top ops: {ops}")
    for note in p.notes:
        console.print(f"[yellow]note:[/] {note}")
