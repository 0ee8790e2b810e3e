"""Evaluate one candidate with the analytical model (`perf.analytic`) along a concurrency grid.

One evaluation serves three uses: aggregated continuous batching (chunked prefill mixed into decode
steps), a decode-only pool and a prefill-only pool (the two halves of a disaggregated deployment).
The aggregated steady state is `perf.analytic.aggregated_point`, computed here from one marginal
prefill cost and one decode step per grid point (the formula of `aggregated_point`, which recomputes
the prefill cost at every call; `tests/unit/test_search.py` checks the two agree to 1e-12).
Results are plain frozen dataclasses of floats and strings, so they pickle (process pools, Ray) and
round-trip through JSON (the SQLite store).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from modelchip.errors import UserError
from modelchip.models.hf import load_model
from modelchip.perf import analytic as an
from modelchip.perf import vector as vec
from modelchip.perf.build import PrecisionRequest, build_target, speculation_from
from modelchip.perf.energy import AMORTISATION_YEARS, ELECTRICITY_USD_PER_KWH, HOURS_PER_YEAR, energy
from modelchip.perf.memory import MemoryPlan, kv_transfer_s, memory_plan
from modelchip.perf.predict import fp8_kv_mla_note
from modelchip.perf.step import StepResult
from modelchip.perf.target import Speculation, Target
from modelchip.search.space import Candidate
from modelchip.serving.spec import EngineConfig

ENGINE_BATCH_CAP = 4096.0  # running sequences per rank an engine schedules (vLLM/SGLang max_num_seqs scale)
# Prefill batches: the serving engine's token budget per step and attention rank (max_num_batched_tokens,
# `serving.spec.EngineConfig`), so that plans and their simulated confirmation batch alike.
PREFILL_TOKENS_PER_RANK = float(EngineConfig().max_batched_tokens_per_rank)
MTP_ACCEPTANCE = 0.7  # CloudMatrix-Infer's planning value for DeepSeek MTP (kernels.md 5.3)
GRID_STEP = math.sqrt(2.0)  # ratio of neighbouring batches on the concurrency grid


@dataclass(frozen=True)
class Breakdown:
    """Seconds of one step by what bounds each op (communication: the part not hidden by overlap)."""

    compute_s: float
    memory_s: float
    communication_s: float
    overhead_s: float
    bound: str

    @staticmethod
    def of(step: StepResult) -> Breakdown:
        by = {"compute": 0.0, "memory": 0.0, "overhead": step.overhead_s}
        for c in step.costs:
            if c.op.kind != "comm":
                by[c.bound] = by.get(c.bound, 0.0) + c.total_s
        return Breakdown(by["compute"], by["memory"], step.exposed_comm_s, by["overhead"], step.bound)


@dataclass(frozen=True)
class CurvePoint:
    """One running batch of a candidate: aggregated and decode-pool steady states."""

    concurrency_per_rank: float
    ttft_s: float
    tpot_s: float
    tokens_per_s_per_chip: float
    """aggregated output tokens/s per chip."""
    power_w_per_chip: float
    """all-in, aggregated (decode and prefill power weighted by their share of the mixed step)."""
    decode_tpot_s: float
    decode_tokens_per_s_per_chip: float
    decode_power_w_per_chip: float
    memory_used_bytes: float
    """per device: weights + runtime reserve + KV of the running batch."""
    decode_bound: str


@dataclass(frozen=True)
class PrefillOption:
    """A prefill-only pool at one batch size."""

    tokens_per_rank: float
    ttft_s: float
    """one prefill pass through all stages plus the KV transfer to the decode pool."""
    prompt_tokens_per_s_per_chip: float
    power_w_per_chip: float
    bound: str


@dataclass(frozen=True)
class Evaluation:
    candidate: Candidate
    fits: bool
    reason: str
    hbm_bytes_per_device: float
    weight_bytes_per_device: float
    reserve_bytes_per_device: float
    shortfall_bytes: float
    """bytes per device missing for weights, reserve and one sequence (0 when it fits)."""
    attention_ranks: int
    devices_per_chip: int
    gemm_format: str
    moe_gemm_format: str
    kv_format: str
    notes: tuple[str, ...]
    price_per_chip_hour_usd: float | None
    price_basis: str
    points: tuple[CurvePoint, ...]
    prefill: tuple[PrefillOption, ...]
    decode_breakdown: Breakdown | None
    prefill_breakdown: Breakdown | None


@dataclass(frozen=True)
class EvalTask:
    """What a worker needs to evaluate one candidate (ids, not objects: cheap to ship to a process)."""

    model: str
    candidate: Candidate
    isl: float
    osl: float
    prefix_hit: float = 0.0
    price_per_chip_hour: float | None = None
    osl_cv: float = 0.0

    @property
    def workload(self) -> an.Workload:
        return an.Workload(self.isl, self.osl, self.prefix_hit, self.osl_cv)


def concurrency_grid(cap: float) -> list[float]:
    """Running batches per rank: the memory cap divided by sqrt(2) down to 1 (and 1 itself)."""
    grid: list[float] = []
    c = cap
    while c >= 1.0:
        grid.append(c)
        c /= GRID_STEP
    if not grid or grid[-1] > 1.0:
        grid.append(1.0)
    return sorted(grid)


def build(task: EvalTask) -> Target:
    c = task.candidate
    spec: Speculation | None = speculation_from(c.mtp, MTP_ACCEPTANCE, None) if c.mtp else None
    precision = PrecisionRequest(weights=c.weights, kv_cache=c.kv_cache)
    return build_target(load_model(task.model), c.system, c.layout, precision, c.system, c.engine, spec)


def _chips_per_rank(t: Target) -> float:
    return t.layout.chips / t.attention_ranks


def _power(t: Target, step: StepResult, per_chip: float, price: float | None) -> tuple[float, float | None]:
    e = energy(t, step, per_chip, price)
    return e.all_in_power_w_per_chip, e.price_per_chip_hour_usd


def price_per_chip_hour(t: Target, all_in_w: float, given: float | None) -> tuple[float | None, str]:
    """(USD per chip-hour, basis): the user's price, else the system's list price per chip (servers,
    network and all) amortised as `perf.energy` does for chips, else the chip's list price; + electricity."""
    if given is not None:
        return given, "price per chip-hour given"
    electricity = all_in_w / 1000.0 * ELECTRICITY_USD_PER_KWH
    hours = AMORTISATION_YEARS * HOURS_PER_YEAR
    sys = t.system
    if sys is not None and sys.list_price_usd is not None:
        return sys.list_price_usd.value / sys.chip_count / hours + electricity, f"{sys.id} list price amortised"
    if t.chip.list_price_usd is not None:
        return t.chip.list_price_usd.value / hours + electricity, f"{t.chip.id} chip list price amortised (no server)"
    return None, "no list price in the catalog: pass --price-per-chip-hour"


@dataclass(frozen=True)
class _Shared:
    """What every grid point of a candidate shares."""

    mem: MemoryPlan
    prefill_s_per_token: float
    prefill_power_w: float


def _point(t: Target, w: an.Workload, c: float, cycle: float, decode: tuple[float, str], shared: _Shared) -> CurvePoint:
    """`perf.analytic.aggregated_point` and `decode_pool` at `c` sequences per rank, from the decode cycle
    time (pp x step) and the decode step's (all-in power per chip, bound)."""
    per_token, mem = shared.prefill_s_per_token, shared.mem
    tps = t.speculation.tokens_per_step()
    prefill_s = c * tps / max(w.osl, 1.0) * w.new_prompt_tokens * per_token
    t_mix = cycle + prefill_s
    cpr = _chips_per_rank(t)
    p_dec, bound = decode
    return CurvePoint(
        concurrency_per_rank=c,
        ttft_s=w.new_prompt_tokens * per_token + t_mix,
        tpot_s=t_mix / tps,
        tokens_per_s_per_chip=c * tps / t_mix / cpr,
        power_w_per_chip=(p_dec * cycle + shared.prefill_power_w * prefill_s) / t_mix,
        decode_tpot_s=cycle / tps,
        decode_tokens_per_s_per_chip=c * tps / cycle / cpr,
        decode_power_w_per_chip=p_dec,
        memory_used_bytes=mem.weight_bytes + mem.reserve_bytes + c * mem.kv_bytes_per_sequence,
        decode_bound=bound,
    )


def curve_point(t: Target, w: an.Workload, c: float, shared: _Shared) -> CurvePoint:
    """One grid point with the scalar step (exact bound and power)."""
    step = an.decode_step(t, c, w.mean_context)
    cycle = step.time_s * t.layout.pp
    p_dec, _ = _power(t, step, c * t.speculation.tokens_per_step() / cycle / _chips_per_rank(t), None)
    return _point(t, w, c, cycle, (p_dec, step.bound), shared)


def curve_points(t: Target, w: an.Workload, grid: list[float], shared: _Shared) -> tuple[CurvePoint, ...]:
    """All grid points: step times from the vectorised path (`perf.vector`, exact); power and bound from
    scalar steps at the two ends of the grid, power interpolated in log(batch) between them (power is
    linear in the compute-bound share of the step, which moves monotonically with the batch)."""
    cycles = vec.decode_step_times(t, np.asarray(grid), w.mean_context) * t.layout.pp
    lo, hi = curve_point(t, w, grid[0], shared), curve_point(t, w, grid[-1], shared)
    if len(grid) == 1:
        return (hi,)
    span = math.log(grid[-1] / grid[0])
    out = [lo]
    for c, cycle in zip(grid[1:-1], cycles[1:-1], strict=True):
        f = math.log(c / grid[0]) / span
        power = lo.decode_power_w_per_chip + f * (hi.decode_power_w_per_chip - lo.decode_power_w_per_chip)
        out.append(_point(t, w, c, float(cycle), (power, hi.decode_bound if f >= 0.5 else lo.decode_bound), shared))
    out.append(hi)
    return tuple(out)


def curve_point_at(t: Target, w: an.Workload, c: float, e: Evaluation) -> CurvePoint:
    """A grid point at any batch `c` per rank of an evaluated candidate (for refinement)."""
    shared = _Shared(
        memory_plan(t, an.admission_context(t, w)), an.prefill_cost_per_token(t, w), e.prefill[-1].power_w_per_chip
    )
    return curve_point(t, w, c, shared)


def prefill_options(t: Target, w: an.Workload) -> tuple[tuple[PrefillOption, ...], StepResult]:
    """Prefill pools at one prompt per rank (latency) and at the engine's token budget per rank (throughput)."""
    sizes = sorted({max(w.new_prompt_tokens, 1.0), max(PREFILL_TOKENS_PER_RANK, w.new_prompt_tokens)})
    # KV handed to the decode pool over the scale-out NIC (as the simulator and validate do).
    transfer = kv_transfer_s(t, w.isl)
    out: list[PrefillOption] = []
    last: StepResult | None = None
    for tokens in sizes:
        per_chip, step = an.prefill_pool(t, tokens, w)
        power, _ = _power(t, step, per_chip, None)
        ttft = step.time_s * t.layout.pp + transfer
        out.append(PrefillOption(tokens, ttft, per_chip, power, step.bound))
        last = step
    assert last is not None
    return tuple(out), last


def _shortfall(mem: MemoryPlan) -> float:
    return max(0.0, mem.weight_bytes + mem.reserve_bytes + mem.kv_bytes_per_sequence - mem.hbm_bytes)


def _infeasible(task: EvalTask, reason: str, t: Target | None = None, mem: MemoryPlan | None = None) -> Evaluation:
    p = t.precision if t else None
    return Evaluation(
        candidate=task.candidate,
        fits=False,
        reason=reason,
        hbm_bytes_per_device=mem.hbm_bytes if mem else 0.0,
        weight_bytes_per_device=mem.weight_bytes if mem else 0.0,
        reserve_bytes_per_device=mem.reserve_bytes if mem else 0.0,
        shortfall_bytes=_shortfall(mem) if mem else 0.0,
        attention_ranks=t.attention_ranks if t else 0,
        devices_per_chip=t.devices_per_chip if t else 1,
        gemm_format=p.gemm_format if p else "",
        moe_gemm_format=p.moe_gemm_format if p else "",
        kv_format=p.kv_cache if p else "",
        notes=p.notes if p else (),
        price_per_chip_hour_usd=None,
        price_basis="",
        points=(),
        prefill=(),
        decode_breakdown=None,
        prefill_breakdown=None,
    )


def evaluate(task: EvalTask) -> Evaluation:
    """The candidate's memory fit, aggregated/decode curve over the concurrency grid, and prefill pools."""
    try:
        t = build(task)
    except UserError as exc:
        return _infeasible(task, str(exc))
    w = task.workload
    mem = memory_plan(t, an.admission_context(t, w))
    cap = min(mem.max_sequences_per_rank, ENGINE_BATCH_CAP)
    if cap < 1.0:
        return _infeasible(task, "does not fit in memory", t, mem)
    prefill, p_step = prefill_options(t, w)
    shared = _Shared(mem, an.prefill_cost_per_token(t, w), prefill[-1].power_w_per_chip)
    points = curve_points(t, w, concurrency_grid(cap), shared)
    full = an.decode_step(t, cap, w.mean_context)
    price, basis = price_per_chip_hour(t, points[-1].power_w_per_chip, task.price_per_chip_hour)
    return Evaluation(
        candidate=task.candidate,
        fits=True,
        reason="",
        hbm_bytes_per_device=mem.hbm_bytes,
        weight_bytes_per_device=mem.weight_bytes,
        reserve_bytes_per_device=mem.reserve_bytes,
        shortfall_bytes=0.0,
        attention_ranks=t.attention_ranks,
        devices_per_chip=t.devices_per_chip,
        gemm_format=t.precision.gemm_format,
        moe_gemm_format=t.precision.moe_gemm_format,
        kv_format=t.precision.kv_cache,
        notes=(*t.precision.notes, *fp8_kv_mla_note(t)),
        price_per_chip_hour_usd=price,
        price_basis=basis,
        points=points,
        prefill=prefill,
        decode_breakdown=Breakdown.of(full),
        prefill_breakdown=Breakdown.of(p_step),
    )
