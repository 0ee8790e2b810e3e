"""How the model answered one validation case: the layouts it weighed, the path it took (analytical
pool, offline, best under an SLO, the serving simulator, a dashboard envelope), the operating point,
what bounds the step and which ops take the time. `modelchip validate --explain ID` prints it.

The operating point is the analytical model's for the chosen layout; where the case runs on the
simulator (queueing cases), the reported prediction is the simulator's and the point is its
analytical counterpart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from modelchip.errors import UnknownIdError, UserError
from modelchip.models.hf import load_model
from modelchip.perf import analytic as an
from modelchip.perf.memory import memory_plan
from modelchip.perf.step import StepResult
from modelchip.perf.target import Target
from modelchip.validate import predict_case as pc
from modelchip.validate.cases import Case, Unsupported

TOP_OPS = 6


@dataclass(frozen=True)
class LayoutOption:
    layout: str
    value: float | None
    """the case's metric predicted with this layout (None: the layout fails for this case)"""
    chosen: bool


@dataclass(frozen=True)
class OperatingPoint:
    batch_per_rank: float
    context_tokens: float
    step_ms: float
    tpot_ms: float | None
    ttft_ms: float | None
    tokens_per_s_per_chip: float
    bound: str
    step_includes_prefill: bool
    """aggregated serving: the step carries its share of the prompts' prefill (chunked prefill)"""


@dataclass(frozen=True)
class CaseExplanation:
    id: str
    metric: str
    measured: float
    predicted: float | None
    error: float | None
    unsupported: str | None
    how: str
    layout_stated: bool
    engines: tuple[tuple[str, float | None], ...]
    """a dashboard envelope: each engine's prediction (the rest explains the best one)"""
    layouts: tuple[LayoutOption, ...]
    precision: str
    precision_notes: tuple[str, ...]
    output_length_cv: float
    max_sequences_per_rank: float | None
    weights_gb_per_device: float | None
    point: OperatingPoint | None
    top_ops_ms: tuple[tuple[str, float, str], ...]
    draws: tuple[float, ...] = ()
    """a simulated latency or closed-loop case: each request draw's answer (the prediction is their median)"""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _safe_value(case: Case, t: Target) -> float | None:
    try:
        return pc._value(case, t)
    except (Unsupported, UserError):
        return None


def _engine_value(case: Case, engine: str) -> float | None:
    try:
        return pc._predict_one(case.model_copy(update={"engine": engine}), pc.includes_disaggregated(case))
    except (Unsupported, UserError):
        return None


def _how(case: Case, t: Target) -> str:
    """The prediction path `predict_case` takes for this case, in words."""
    wl = case.workload
    if case.mode == "decode":
        if wl.batch_per_chip is not None:
            batch = f"the stated {wl.batch_per_chip:g} sequences per chip"
        elif wl.concurrency is not None:
            batch = f"{wl.concurrency} clients over the ranks (at most what fits)"
        else:
            batch = "the largest batch whose KV cache fits"
        return f"decode pool at {batch}"
    if case.mode == "prefill":
        return f"prefill pool, {pc.prefill_tokens_per_chip(case):g} prompt tokens per chip per pass"
    ttft, tpot, p99 = pc._slo_limits(case)
    kind = pc.simulator_run(case)
    if kind == "closed_loop":
        path = f"serving simulator: closed loop of {wl.concurrency} clients"
    elif kind == "at_rate":
        path = f"serving simulator: Poisson arrivals at {wl.request_rate:g} requests/s"
    elif kind == "best_rate_under_p99":
        path = "serving simulator: highest Poisson rate whose p99 TTFT/TPOT meet the slo"
    elif ttft is not None or tpot is not None:
        path = "analytical: best throughput whose latency meets the slo"
    else:
        path = "analytical: offline, the best batch that fits"
    if kind in ("at_rate", "best_rate_under_p99") and p99 and tpot is not None:
        budget = pc.simulated_engine(case, t).max_batched_tokens_per_rank
        path += f", {budget:,} tokens per step (the most whose step fits the {tpot * 1e3:g} ms TPOT limit)"
    if kind is not None:
        draws = len(pc.simulation_draws(case, t))
        path += f", the median of {draws} request draws" if draws > 1 else ", one run (nothing in it is random)"
    instances = pc._instances(case, t)
    return path + (f", {instances} instances sharing the load" if instances > 1 else "")


def _point(case: Case, t: Target) -> tuple[OperatingPoint, StepResult]:
    w = pc._workload(case)
    if case.mode == "decode":
        batch, context = pc.decode_batch_per_rank(case, t), pc.decode_context(case)
        tpot, per_chip, step = an.decode_pool(t, batch, context)
        return OperatingPoint(batch, context, step.time_s * 1e3, tpot * 1e3, None, per_chip, step.bound, False), step
    if case.mode == "prefill":
        tokens = pc.prefill_tokens_per_chip(case) * t.layout.chips / t.attention_ranks
        per_chip, step = an.prefill_pool(t, tokens, w)
        latency = an.prefill_latency_s(t, step) * 1e3
        batch = tokens / max(w.isl, 1.0)
        return OperatingPoint(batch, w.isl, step.time_s * 1e3, None, latency, per_chip, step.bound, False), step
    p = pc._aggregated_point(case, t)
    point = OperatingPoint(
        p.concurrency_per_rank,
        w.mean_context,
        p.step_time_s * 1e3,
        p.tpot_s * 1e3,
        p.ttft_s * 1e3,
        p.output_tokens_per_s_per_chip,
        p.step.bound,
        True,
    )
    return point, p.step


def explain_case(case: Case) -> CaseExplanation:
    """Why the model predicts what it does for `case` (unknown ids fail loudly, as in `predict_case`)."""
    try:
        predicted: float | None = pc.predict_case(case)
        unsupported = None
    except Unsupported as exc:
        predicted, unsupported = None, str(exc)
    error = (predicted - case.value) / case.value if predicted is not None else None
    base: dict[str, Any] = {
        "id": case.id,
        "metric": str(case.metric),
        "measured": case.value,
        "predicted": predicted,
        "error": error,
        "unsupported": unsupported,
        "layout_stated": pc._layout_given(case),
        "output_length_cv": pc.output_length_cv(case),
    }
    engines = pc.envelope_engines(case)
    per_engine: tuple[tuple[str, float | None], ...] = ()
    envelope = ""
    if engines and case.metric in pc._ENVELOPE_METRICS:
        per_engine = tuple((name, _engine_value(case, name)) for name in engines)
        best = max(per_engine, key=lambda item: -1.0 if item[1] is None else item[1])[0]
        split = ", each also as the best prefill/decode split" if pc.includes_disaggregated(case) else ""
        envelope = f"dashboard envelope: the best of {', '.join(engines)}{split}; {best} wins, aggregated: "
        case = case.model_copy(update={"engine": best})
    base["engines"] = per_engine
    try:
        if case.mode == "disaggregated":
            raise UserError("a disaggregated case runs two pools in series; see its prefill and decode pools")
        targets = pc._targets(case, load_model(case.model))
    except UnknownIdError:
        raise
    except UserError as exc:
        return CaseExplanation(
            **base,
            how=str(exc),
            layouts=(),
            precision="",
            precision_notes=(),
            max_sequences_per_rank=None,
            weights_gb_per_device=None,
            point=None,
            top_ops_ms=(),
        )
    chosen = pc._best_target(case, targets)
    layouts = tuple(LayoutOption(t.layout.describe(), _safe_value(case, t), t is chosen) for t in targets)
    held = pc.decode_context(case) if case.mode == "decode" else an.admission_context(chosen, pc._workload(case))
    plan = memory_plan(chosen, held)
    prec = chosen.precision
    try:
        point, step = _point(case, chosen)
        top = tuple((name, secs * 1e3, bound) for name, secs, bound in step.top_ops(TOP_OPS))
    except (Unsupported, UserError):
        point, top = None, ()
    draws: tuple[float, ...] = ()
    seeds = pc.simulation_draws(case, chosen) if pc.simulator_run(case) in ("at_rate", "closed_loop") else ()
    if len(seeds) > 1:
        # The runs are the ones the prediction simulated (kept per process): no second simulation.
        draws = tuple(pc._simulated_draw(case, chosen, seed) for seed in seeds)
    return CaseExplanation(
        **base,
        how=envelope + _how(case, chosen),
        layouts=layouts,
        precision=(
            f"weights {prec.weights}, activations {prec.activations}, KV {prec.kv_cache}, experts {prec.moe}, "
            f"attention {prec.attention_format}; GEMMs run {prec.gemm_format} (experts {prec.moe_gemm_format})"
        ),
        precision_notes=prec.notes,
        max_sequences_per_rank=plan.max_sequences_per_rank,
        weights_gb_per_device=plan.weight_bytes / 1e9,
        point=point,
        top_ops_ms=top,
        draws=draws,
    )
