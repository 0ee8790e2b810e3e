"""The physics behind `modelchip validate`: run the prediction a published case asks for.

A case names its metric, mode and scenario (SCHEMA.md "What a case asks"); this module maps each onto
the analytical serving model in `perf.analytic`. Where a case leaves the parallel layout out, the
layout is chosen the way a submitter would: the best-throughput layout that fits (`candidate_layouts`).
Nothing here looks at a case id.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from statistics import median
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from modelchip.deploy.layout import Layout
from modelchip.errors import UnknownIdError, UserError
from modelchip.fileio import parse_model, read_structured
from modelchip.models.hf import load_model
from modelchip.models.schema import ModelSpec
from modelchip.perf import analytic as an
from modelchip.perf.build import PrecisionRequest, build_target, speculation_from
from modelchip.perf.efficiency import EngineProfile, engine_table
from modelchip.perf.memory import kv_transfer_s, memory_plan, require_fit
from modelchip.perf.target import Target
from modelchip.serving import EngineConfig
from modelchip.validate import predict_sim as sim
from modelchip.validate.cases import Case, Metric, Pool, Unsupported
from modelchip.validate.runner import CaseResult

DEFAULT_PREFILL_TOKENS_PER_CHIP = 16384.0  # SGLang/DeepSeek prefill batches (kernels.md 6: 16K tokens/GPU)
# Output-length spread of a benchmark that replays a real dataset (MLPerf: OpenOrca, CNN/DailyMail, the
# DeepSeek-R1 reasoning mix), where answers run from a few tokens to the cap: E, an exponential-like
# spread (cv = 1). Synthetic benchmarks (trtllm-bench, SGLang/vLLM random sets, InferenceX) fix the
# lengths: cv = 0. A case may state its own `workload.osl_cv`.
DATASET_OSL_CV = 1.0
AMD_MLPERF_ENGINE = "vllm-v0-multistep"


def _layout_given(case: Case) -> bool:
    return "parallel" in case.model_fields_set and bool(case.parallel.model_fields_set)


def _layout_of(case: Case) -> Layout:
    p = case.parallel
    return Layout(tp=p.tp, pp=p.pp, dp=p.dp, ep=p.ep, moe_tp=p.moe_tp)


def candidate_layouts(model: ModelSpec, chips: int) -> list[Layout]:
    """Layouts an engine would try for `chips` chips per instance (all with tp/dp/ep over the chips)."""
    heads = max(layer.attention.num_heads for layer in model.layers)
    out: list[Layout] = []
    if heads % chips == 0 or chips == 1:
        out.append(Layout(tp=chips))
    if model.is_moe and chips > 1:
        out.append(Layout(dp=chips, ep=chips))
        if heads % chips == 0:
            out.append(Layout(tp=chips, ep=chips))
    for pp in (2, 4, 8):
        if chips % pp == 0 and heads % (chips // pp) == 0 and chips // pp > 1:
            out.append(Layout(tp=chips // pp, pp=pp))
    return out


class HarnessRun(BaseModel):
    """One published harness configuration: the engine settings of one model, chip and MLPerf scenario."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    chip: str
    scenario: str
    scheduler_steps: int | None = Field(default=None, ge=1)
    chunked_prefill: bool | None = None
    min_queued_prompts: int | None = Field(default=None, ge=0)
    source: str = Field(min_length=1)

    def overrides(self) -> dict[str, object]:
        """The engine-profile fields this run sets (those it leaves out keep the harness defaults)."""
        return self.model_dump(exclude={"model", "chip", "scenario", "source"}, exclude_none=True)


@lru_cache(maxsize=1)
def mlperf_harnesses() -> dict[str, tuple[HarnessRun, ...]]:
    """Published MLPerf harness configurations the cases do not carry, by harness
    (validate/data/mlperf_harness.yaml)."""
    path = Path(str(resources.files("modelchip.validate") / "data" / "mlperf_harness.yaml"))
    raw = dict(read_structured(path))
    return {name: tuple(parse_model(HarnessRun, run, f"{path}: {name}") for run in runs) for name, runs in raw.items()}


def amd_harness_profile(case: Case) -> EngineProfile:
    """The engine of AMD's MLPerf harness for a case: its published configuration for the case's model,
    chip and scenario where there is one, else the harness defaults (engines.yaml, AMD_MLPERF_ENGINE)."""
    profile = engine_table().profile(AMD_MLPERF_ENGINE)
    scenario = (case.model_extra or {}).get("mlperf_scenario")
    for run in mlperf_harnesses()["amd"]:
        if (run.model, run.chip, run.scenario) == (case.model, case.hardware, scenario):
            return profile.model_copy(update=run.overrides())
    return profile


def _target(case: Case, model: ModelSpec, layout: Layout) -> Target:
    spec = case.speculative
    speculation = speculation_from(spec.draft_tokens, spec.acceptance, spec.accept_length) if spec else None
    prec = case.precision
    request = PrecisionRequest(prec.weights, prec.activations, prec.kv_cache, prec.moe, prec.attention)
    target = build_target(model, case.hardware, layout, request, case.system, case.engine, speculation)
    if case.trust == "mlperf" and target.engine_name == "vllm" and target.chip.vendor == "amd":
        # AMD's MLPerf harness (harness_llm, which partners' vLLM submissions copy) runs vLLM's V0 engine
        # with multi-step scheduling and without chunked prefill (engines.yaml, vllm-v0-multistep), as
        # its published configuration for the run sets it (data/mlperf_harness.yaml). Submitters with
        # their own stack on Instinct (MangoBoost's LLMBoost) name another engine.
        target = replace(target, engine_name=AMD_MLPERF_ENGINE, engine=amd_harness_profile(case))
    if case.trust == "mlperf" and target.engine.kv_reservation != "current":
        # MLPerf harnesses admit by the current length: NVIDIA's (which the other TensorRT-LLM submitters
        # reuse) sets batch_scheduler_policy max_util over TensorRT-LLM's GUARANTEED_NO_EVICT default.
        target = replace(target, engine=target.engine.model_copy(update={"kv_reservation": "current"}))
    return target


def output_length_cv(case: Case) -> float:
    """The spread of the case's output lengths: stated, else by whether it replays a dataset (MLPerf)."""
    if case.workload.osl_cv is not None:
        return case.workload.osl_cv
    return DATASET_OSL_CV if case.trust == "mlperf" else 0.0


def _workload(case: Case) -> an.Workload:
    w = case.workload
    return an.Workload(isl=w.isl, osl=w.osl or 1.0, prefix_hit=w.prefix_cache_hit, osl_cv=output_length_cv(case))


def _fits(t: Target, w: an.Workload) -> bool:
    return memory_plan(t, an.admission_context(t, w)).max_sequences_per_rank >= 1


def _targets(case: Case, model: ModelSpec) -> list[Target]:
    per_instance = case.chips // case.instances
    if case.chips % case.instances:
        raise UserError(f"chips={case.chips} is not a multiple of instances={case.instances}; fix the case")
    if _layout_given(case):
        layout = _layout_of(case)
        if layout.chips != per_instance:
            raise Unsupported(
                f"layout {layout.describe()} uses {layout.chips} chips, case says {per_instance} per instance"
            )
        target = _target(case, model, layout)
        if case.mode != "prefill":
            # Prefill pools may stream expert weights from host memory (SGLang on GB200 over NVLink-C2C):
            # compute-bound prefill hides it; decode cannot, so decoding setups must fit in HBM.
            require_fit(target, memory_plan(target, an.admission_context(target, _workload(case))))
        return [target]
    if per_instance == 1:
        return [_target(case, model, Layout())]
    w = _workload(case)
    targets: list[Target] = []
    for size in _divisors(per_instance):
        for layout in candidate_layouts(model, size):
            try:
                t = _target(case, model, layout)
            except UserError:
                continue
            if _fits(t, w):
                targets.append(t)
    if not targets:
        raise Unsupported(f"no layout of {per_instance} chips fits {model.id}")
    return targets


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _throughput_metric(case: Case, point: an.OperatingPoint) -> float:
    per_chip = point.output_tokens_per_s_per_chip
    if case.metric in (Metric.OUTPUT_TOKENS_PER_S_PER_CHIP, Metric.DECODE_TOKENS_PER_S_PER_CHIP):
        return per_chip
    if case.metric == Metric.OUTPUT_TOKENS_PER_S:
        return per_chip * case.chips
    raise Unsupported(f"metric {case.metric} is not defined for an aggregated deployment")


def _slo_limits(case: Case) -> tuple[float | None, float | None, bool]:
    slo = case.slo
    if slo is None:
        return None, None, False
    if slo.ttft_ms_p99 or slo.tpot_ms_p99:
        return _s(slo.ttft_ms_p99), _s(slo.tpot_ms_p99), True
    tpot = _s(slo.tpot_ms)
    if slo.tokens_per_s_per_user:
        tpot = min(tpot or 1e9, 1.0 / slo.tokens_per_s_per_user)
    return _s(slo.ttft_ms), tpot, False


def _s(ms: float | None) -> float | None:
    return ms / 1000.0 if ms is not None else None


def _instances(case: Case, t: Target) -> int:
    """Instances serving the case's load: the case's chips over the chips of one instance."""
    return max(1, case.chips // t.layout.chips)


SimulatorRun = Literal["closed_loop", "at_rate", "best_rate_under_p99"]


def simulator_run(case: Case) -> SimulatorRun | None:
    """Which serving-simulator run answers an aggregated case (queueing decides it); None: analytical."""
    wl = case.workload
    if wl.concurrency is not None:
        return "closed_loop"
    if case.metric in (Metric.TTFT_MS, Metric.TPOT_MS) and wl.request_rate is not None:
        return "at_rate"
    if _slo_limits(case)[2] and wl.scenario == "poisson" and case.metric == Metric.OUTPUT_TOKENS_PER_S:
        return "best_rate_under_p99"
    return None


def simulated_engine(case: Case, t: Target) -> EngineConfig:
    """The simulator's engine for a case: the token budget sized to its p99 TPOT limit, if it has one."""
    _, tpot_limit, p99 = _slo_limits(case)
    return sim.engine_under(t, _workload(case), tpot_limit if p99 else None)


_RUN_METRICS: dict[Metric, Callable[[Case, sim.SteadyStats], float]] = {
    Metric.TTFT_MS: lambda case, run: run.ttft_mean_s * 1000.0,
    Metric.TPOT_MS: lambda case, run: run.tpot_mean_s * 1000.0,
    Metric.TOKENS_PER_S_PER_USER: lambda case, run: 1.0 / run.tpot_mean_s,
    Metric.OUTPUT_TOKENS_PER_S: lambda case, run: run.output_tokens_per_s / run.chips * case.chips,
    Metric.OUTPUT_TOKENS_PER_S_PER_CHIP: lambda case, run: run.output_tokens_per_s / run.chips,
}
"""What a simulated run answers, per metric (a latency or closed-loop case of another metric is analytical)."""


_RUNS: dict[tuple[str, str, int], sim.SteadyStats] = {}
"""Simulated runs of this process by (case setup, layout, seed): a run's TTFT and TPOT cases share one."""
_RUNS_KEPT = 256


def _simulated_run(case: Case, t: Target, seed: int) -> sim.SteadyStats:
    key = (case.setup_key(), t.layout.describe(), seed)
    run = _RUNS.get(key)
    if run is not None:
        return run
    w, wl, n = _workload(case), case.workload, _instances(case, t)
    if simulator_run(case) == "closed_loop":
        assert wl.concurrency is not None  # simulator_run's condition
        run = sim.closed_loop(t, n, w, wl.concurrency, seed)
    else:  # "at_rate": a latency metric at the case's request rate
        assert wl.request_rate is not None
        run = sim.at_rate(t, n, w, wl.request_rate, simulated_engine(case, t), seed)
    if len(_RUNS) >= _RUNS_KEPT:
        _RUNS.clear()
    _RUNS[key] = run
    return run


def _simulated_draw(case: Case, t: Target, seed: int) -> float:
    """One request draw's answer to a latency or closed-loop case; +inf for a latency that grows without
    bound (no request finished in the run's steady window)."""
    value = _RUN_METRICS[case.metric](case, _simulated_run(case, t, seed))
    return value if math.isfinite(value) else math.inf


def simulation_draws(case: Case, t: Target) -> tuple[int, ...]:
    """Seeds of the request draws a simulated case runs (`predict_sim.seeds_for`: short runs are repeated).
    A p99 rate search is one draw (`predict_sim.best_rate_under_p99`)."""
    w, wl, n = _workload(case), case.workload, _instances(case, t)
    kind = simulator_run(case)
    if kind == "closed_loop":
        assert wl.concurrency is not None  # simulator_run's condition
        return sim.closed_loop_seeds(n, w, wl.concurrency)
    if kind == "at_rate":
        assert wl.request_rate is not None
        return sim.poisson_seeds(t, n, w, wl.request_rate)
    return sim.SEEDS[:1]


def _simulated_value(case: Case, t: Target) -> float | None:
    """Cases whose answer depends on queueing run on the simulator; None for the others. A p99 rate search
    runs one draw (`predict_sim.best_rate_under_p99`); the other cases take the median of their draws."""
    kind = simulator_run(case)
    if kind == "best_rate_under_p99":
        w, n = _workload(case), _instances(case, t)
        ttft, tpot, _ = _slo_limits(case)
        rate = sim.best_rate_under_p99(t, n, w, ttft, tpot, sim.SEEDS[0])
        return None if rate is None else rate * w.osl
    if kind is None or case.metric not in _RUN_METRICS:
        return None
    value = median(_simulated_draw(case, t, seed) for seed in simulation_draws(case, t))
    if not math.isfinite(value):
        # No request finished in the run's steady window: the load is past what the deployment serves.
        capacity = an.capacity_requests_per_s(t, _workload(case), _instances(case, t))
        raise Unsupported(
            f"the case's load is past this deployment's capacity (~{capacity:.3g} requests/s in the model): "
            "its latencies grow without bound"
        )
    return value


def _aggregated_point(case: Case, t: Target) -> an.OperatingPoint:
    """The operating point a case describes for one instance."""
    w = _workload(case)
    wl = case.workload
    if wl.concurrency is not None:
        return an.closed_loop(t, wl.concurrency / _instances(case, t), w)
    ttft, tpot, p99 = _slo_limits(case)
    is_latency = case.metric in (Metric.TTFT_MS, Metric.TPOT_MS)
    if is_latency and wl.request_rate is not None:
        point = an.at_request_rate(t, wl.request_rate / _instances(case, t), w)
        return point if point is not None else an.offline(t, w)
    if ttft is not None or tpot is not None:
        point = an.best_under_slo(t, w, ttft, tpot, p99)
        return point if point is not None else an.aggregated_point(t, 1.0, w)
    return an.offline(t, w)


def _aggregated_value(case: Case, point: an.OperatingPoint) -> float:
    if case.metric == Metric.TTFT_MS:
        return point.ttft_s * 1000.0
    if case.metric == Metric.TPOT_MS:
        return point.tpot_s * 1000.0
    if case.metric == Metric.TOKENS_PER_S_PER_USER:
        return point.tokens_per_s_per_user
    return _throughput_metric(case, point)


def _fitting_batch_per_rank(t: Target, context: float) -> float:
    """The largest running batch per rank whose KV cache fits, within the engine guard (at least 1)."""
    return max(1.0, min(memory_plan(t, context).max_sequences_per_rank, an.MAX_RUNNING_PER_RANK))


def decode_context(case: Case) -> float:
    """A decode pool's mean KV length: the case's `kv_len`, else the workload's running mean."""
    return case.workload.kv_len or _workload(case).mean_context


def decode_batch_per_rank(case: Case, t: Target) -> float:
    """A decode pool's running batch per rank: the stated batch per chip, else the clients spread over
    the ranks (at most what fits), else the largest batch whose KV cache fits."""
    fits = _fitting_batch_per_rank(t, decode_context(case))
    if case.workload.batch_per_chip is not None:
        return case.workload.batch_per_chip * t.layout.chips / t.attention_ranks
    if case.workload.concurrency is not None:
        return min(case.workload.concurrency / _instances(case, t) / t.attention_ranks, fits)
    return fits


def prefill_tokens_per_chip(case: Case) -> float:
    """A prefill pool's prompt tokens per chip per pass: stated, else a saturating default."""
    return case.workload.tokens_per_chip or max(DEFAULT_PREFILL_TOKENS_PER_CHIP, case.workload.isl)


def _decode_value(case: Case, t: Target) -> float:
    tpot, per_chip, _ = an.decode_pool(t, decode_batch_per_rank(case, t), decode_context(case))
    values = {
        Metric.TPOT_MS: tpot * 1000.0,
        Metric.TOKENS_PER_S_PER_USER: 1.0 / tpot,
        Metric.DECODE_TOKENS_PER_S_PER_CHIP: per_chip,
        Metric.OUTPUT_TOKENS_PER_S_PER_CHIP: per_chip,
        Metric.OUTPUT_TOKENS_PER_S: per_chip * case.chips,
    }
    if case.metric not in values:
        raise Unsupported(f"metric {case.metric} is not defined for a decode pool")
    return values[case.metric]


def _prefill_value(case: Case, t: Target) -> float:
    w = _workload(case)
    chips_per_rank = t.layout.chips / t.attention_ranks
    per_chip, step = an.prefill_pool(t, prefill_tokens_per_chip(case) * chips_per_rank, w)
    if case.metric == Metric.TTFT_MS:
        return an.prefill_latency_s(t, step) * 1000.0
    if case.metric != Metric.PREFILL_TOKENS_PER_S_PER_CHIP:
        raise Unsupported(f"metric {case.metric} is not a prefill-pool quantity")
    return per_chip


def _score(case: Case, t: Target) -> float:
    """What a submitter maximises when choosing a layout: the throughput the case's setup allows."""
    if case.mode != "aggregated":
        return _value(case, t) if case.metric not in (Metric.TTFT_MS, Metric.TPOT_MS) else -_value(case, t)
    w = _workload(case)
    ttft, tpot, p99 = _slo_limits(case)
    point = an.best_under_slo(t, w, ttft, tpot, p99) if (ttft or tpot) else an.offline(t, w)
    return point.output_tokens_per_s_per_chip if point is not None else 0.0


def _pool_target(case: Case, model: ModelSpec, pool: Pool) -> Target:
    layout = Layout(pool.parallel.tp, pool.parallel.pp, pool.parallel.dp, pool.parallel.ep, pool.parallel.moe_tp)
    if layout.chips != pool.chips_per_worker:
        raise Unsupported(f"pool layout {layout.describe()} uses {layout.chips} chips, not {pool.chips_per_worker}")
    return _target(case, model, layout)


def _disaggregated_value(case: Case, model: ModelSpec) -> float:
    """Prefill and decode pools in series: the system serves the lesser of the two pools' request rates;
    TTFT is one prefill step plus the KV transfer over the scale-out NIC (DistServe, OSDI 2024)."""
    if case.prefill is None or case.decode is None:
        raise Unsupported("a disaggregated case needs both prefill and decode pools")
    w = _workload(case)
    tp, td = _pool_target(case, model, case.prefill), _pool_target(case, model, case.decode)
    prompts = float(case.prefill.batch or 1)
    p_rank = prompts * w.new_prompt_tokens / tp.attention_ranks
    p_per_chip, p_step = an.prefill_pool(tp, p_rank, w)
    p_rate = p_per_chip * tp.layout.chips * case.prefill.workers / w.isl
    context = case.workload.kv_len or w.mean_context
    d_batch = case.decode.batch or _fitting_batch_per_rank(td, context)
    d_rank = d_batch / td.attention_ranks if case.decode.batch else d_batch
    tpot, d_per_chip, _ = an.decode_pool(td, d_rank, context)
    d_rate = d_per_chip * td.layout.chips * case.decode.workers / w.osl
    rate = min(p_rate, d_rate)
    transfer = kv_transfer_s(tp, w.isl)
    values = {
        Metric.TTFT_MS: (an.prefill_latency_s(tp, p_step) + transfer) * 1000.0,
        Metric.TPOT_MS: tpot * 1000.0,
        Metric.TOKENS_PER_S_PER_USER: 1.0 / tpot,
        Metric.OUTPUT_TOKENS_PER_S: rate * w.osl,
        Metric.OUTPUT_TOKENS_PER_S_PER_CHIP: rate * w.osl / case.chips,
        Metric.DECODE_TOKENS_PER_S_PER_CHIP: d_per_chip,
        Metric.PREFILL_TOKENS_PER_S_PER_CHIP: p_per_chip,
    }
    return values[case.metric]


def _value(case: Case, t: Target) -> float:
    if case.mode == "prefill":
        return _prefill_value(case, t)
    if case.mode == "decode":
        return _decode_value(case, t)
    if case.mode == "aggregated":
        simulated = _simulated_value(case, t)
        return simulated if simulated is not None else _aggregated_value(case, _aggregated_point(case, t))
    raise Unsupported(f"mode '{case.mode}' is not predicted")


def predict_case(case: Case) -> float:
    """The model's prediction of `case.metric` for the case's setup.

    An unknown id is the case's mistake and fails loudly; a setup the model rejects (a layout that does
    not divide the model, a model that does not fit) is reported as unsupported with that reason.
    """
    try:
        return _predict(case)
    except UnknownIdError:
        raise
    except UserError as exc:
        raise Unsupported(str(exc)) from exc


def includes_disaggregated(case: Case) -> bool:
    """A dashboard envelope over engines that lists disaggregated serving among them ("best-of (sglang/
    trtllm/vllm, +dynamo)": InferenceX runs NVIDIA Dynamo prefill/decode recipes beside the aggregated
    ones and plots the best of all) is the better of an aggregated and a disaggregated deployment."""
    engine = case.engine.lower()
    return engine.startswith("best-of") and ("dynamo" in engine or "disagg" in engine)


def decode_batch_under_tpot(
    t: Target, context: float, tpot_limit_s: float, fit_context: float | None = None
) -> float | None:
    """The largest decode batch per rank (within what fits at `fit_context`, default `context`) whose TPOT
    meets the limit; None if none does."""
    hi = _fitting_batch_per_rank(t, context if fit_context is None else fit_context)
    if an.decode_pool(t, 1.0, context)[0] > tpot_limit_s:
        return None
    if an.decode_pool(t, hi, context)[0] <= tpot_limit_s:
        return hi
    lo = 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if an.decode_pool(t, mid, context)[0] <= tpot_limit_s else (lo, mid)
    return lo


def disaggregated_envelope_per_chip(case: Case, t: Target) -> float:
    """Output tokens/s per chip of prefill and decode pools of layout `t` split in the best ratio (a share
    f of the chips decodes at d tokens/s each, the rest prefill at p prompt tokens/s each, balanced when
    f d = (1 - f) p osl / isl: 1 / (1/d + isl / (osl p))), the decode batch the largest meeting the TPOT
    limit; 0 when no batch meets it or one prefill step misses the TTFT limit."""
    w = _workload(case)
    ttft, tpot, _ = _slo_limits(case)
    held = an.admission_context(t, w)
    batch = decode_batch_under_tpot(t, w.mean_context, tpot, held) if tpot else _fitting_batch_per_rank(t, held)
    if batch is None:
        return 0.0
    _, decode_per_chip, _ = an.decode_pool(t, batch, w.mean_context)
    tokens_rank = max(DEFAULT_PREFILL_TOKENS_PER_CHIP, w.isl) * t.layout.chips / t.attention_ranks
    prefill_per_chip, step = an.prefill_pool(t, tokens_rank, w)
    if ttft is not None and an.prefill_latency_s(t, step) + kv_transfer_s(t, w.isl) > ttft:
        return 0.0
    return 1.0 / (1.0 / decode_per_chip + w.new_prompt_tokens / (w.osl * prefill_per_chip))


_ENVELOPE_METRICS = (Metric.OUTPUT_TOKENS_PER_S_PER_CHIP, Metric.OUTPUT_TOKENS_PER_S)


def _envelope_value(case: Case, targets: list[Target], aggregated: float) -> float:
    """The better of the aggregated prediction and the best disaggregated split, for throughput metrics."""
    if case.metric not in _ENVELOPE_METRICS:
        return aggregated
    per_chip = max(disaggregated_envelope_per_chip(case, t) for t in targets)
    scale = float(case.chips) if case.metric == Metric.OUTPUT_TOKENS_PER_S else 1.0
    return max(aggregated, per_chip * scale)


def envelope_engines(case: Case) -> list[str]:
    """The engines a dashboard envelope covers, as its `engine` lists them ("best-of (sglang/trtllm/vllm,
    +dynamo)" -> sglang, trtllm, vllm); empty for a single engine."""
    engine = case.engine.lower()
    if not engine.startswith("best-of") or "(" not in engine:
        return []
    inside = engine.split("(", 1)[1].split(")", 1)[0]
    names = [n.strip() for part in inside.split(",") for n in part.split("/")]
    return [n for n in names if n and not n.startswith("+")]


def _predict(case: Case) -> float:
    engines = envelope_engines(case)
    if engines and case.metric in _ENVELOPE_METRICS:
        # A dashboard plots the best of its engines: predict each and keep the best.
        return max(_predict_one(case.model_copy(update={"engine": e}), includes_disaggregated(case)) for e in engines)
    return _predict_one(case, includes_disaggregated(case))


def _best_target(case: Case, targets: list[Target]) -> Target:
    return max(targets, key=lambda t: _score(case, t)) if len(targets) > 1 else targets[0]


def _predict_one(case: Case, with_disaggregated: bool) -> float:
    model = load_model(case.model)
    if case.mode == "disaggregated":
        return _disaggregated_value(case, model)
    targets = _targets(case, model)
    value = _value(case, _best_target(case, targets))
    if case.mode == "aggregated" and with_disaggregated:
        value = _envelope_value(case, targets, value)
    if demand_limited(case):
        raise Unsupported(
            f"a {case.metric} under Poisson arrivals with no request_rate, slo or batch is the load the run was "
            f"offered, which the case does not give; the model's capacity for this setup, {value:,.1f}, is an "
            "upper bound (give workload.request_rate, an slo or the batch to compare)"
        )
    return value


_THROUGHPUT_METRICS = frozenset(
    {
        Metric.OUTPUT_TOKENS_PER_S,
        Metric.OUTPUT_TOKENS_PER_S_PER_CHIP,
        Metric.PREFILL_TOKENS_PER_S_PER_CHIP,
        Metric.DECODE_TOKENS_PER_S_PER_CHIP,
    }
)


def demand_limited(case: Case) -> bool:
    """A throughput measured under open-loop (Poisson) arrivals at a rate the case does not give.

    Below capacity an open-loop system serves exactly what arrives, so such a figure (a production
    fleet's daily average, say) measures the demand, not the deployment: nothing in the setup
    determines it. SCHEMA.md defines Poisson cases by their `request_rate`; a throughput with an `slo`
    (the best rate meeting it) or a fixed batch / tokens per pass / concurrency is well defined, and so
    is an MLPerf run's, whose submitter raises the rate to the most the system serves.
    """
    w = case.workload
    return (
        case.trust != "mlperf"
        and case.metric in _THROUGHPUT_METRICS
        and w.scenario == "poisson"
        and w.request_rate is None
        and case.slo is None
        and w.batch_per_chip is None
        and w.tokens_per_chip is None
        and w.concurrency is None
    )


def offered_load(case: Case) -> float | None:
    """A Poisson case's request rate over the model's capacity (the offline request rate) for the layout
    the case is predicted with; None for other cases and for setups the model rejects.

    MLPerf Server runs sit at 0.9-1.0 of their own capacity: there a few percent of capacity error moves
    the batch, and with it TTFT and TPOT, by tens of percent (see the README, "Where it misses")."""
    wl = case.workload
    if case.mode != "aggregated" or wl.scenario != "poisson" or wl.request_rate is None:
        return None
    try:
        t = _best_target(case, _targets(case, load_model(case.model)))
    except (UserError, Unsupported):
        return None
    capacity = an.capacity_requests_per_s(t, _workload(case), _instances(case, t))
    return wl.request_rate / capacity if capacity > 0 else None


def with_loads(cases: Sequence[Case], results: Sequence[CaseResult]) -> list[CaseResult]:
    """`results` (in case order) with each Poisson case's `offered_load` filled in."""
    return [replace(r, load=offered_load(c)) for c, r in zip(cases, results, strict=True)]


PREDICTOR: Callable[[Case], float] = predict_case
